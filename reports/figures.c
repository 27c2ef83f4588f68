/*
 * figures.c: the table of figures — the report is these entries, in this
 * order (report.c walks it). Each entry names its files, its scope (once,
 * or once per dataset under the dataset's heading), what it shows (the
 * kind bits that make its title, key and caption say "measured here",
 * "model", "simulated" or "the study's"), the heading it sits under, and
 * its data, render and release functions. Adding a figure is one line
 * here and those three functions (docs/reports.md, "Adding a figure").
 */
#include "reports/rep_internal.h"

#define ENTRY(id, scope, kinds, section, fn)                                      \
    {id, scope, kinds, section, rep__##fn##_data, rep__##fn##_render, rep__##fn##_release}

const rep__figdef rep__figures[] = {
    ENTRY("summary", REP__RUN, REP__K_MEASURED, NULL, summary),
    ENTRY("provenance", REP__RUN, REP__K_MEASURED, NULL, provenance),
    ENTRY("cells", REP__RUN, REP__K_MEASURED, NULL, cells),
    /* per dataset */
    ENTRY("runtime", REP__DATASET, REP__K_MEASURED | REP__K_MODEL, "Scaling on cores", cores),
    ENTRY("layouts", REP__DATASET, REP__K_MEASURED, "Layouts: ranks against threads on the "
          "same cores", layouts),
    ENTRY("scaling-study", REP__DATASET, REP__K_MEASURED | REP__K_STUDY,
          "Scaling beside the study's (normalised)", study),
    ENTRY("phases", REP__DATASET, REP__K_MEASURED, "Where the time goes", phases),
    ENTRY("comm", REP__DATASET, REP__K_MEASURED, "Where the time goes", comm),
    ENTRY("writes", REP__DATASET, REP__K_MEASURED, "Image writes, schedulers and load balance",
          writes),
    ENTRY("chunks", REP__DATASET, REP__K_MEASURED, "Chunk count", chunks),
    ENTRY("support", REP__DATASET, REP__K_MEASURED | REP__K_STUDY, "Kernel support", support),
    ENTRY("sim-scaling", REP__DATASET, REP__K_SIMULATED | REP__K_STUDY,
          "Simulated on a cluster (harness simulate)", simscaling),
    /* once more for the run */
    ENTRY("gantt", REP__RUN, REP__K_MEASURED, NULL, gantt),
    ENTRY("sim-gantt", REP__RUN, REP__K_SIMULATED, NULL, simgantt),
    ENTRY("fits", REP__RUN, REP__K_MODEL, NULL, fits),
    ENTRY("costmodel", REP__RUN, REP__K_MODEL, NULL, costmodel),
    ENTRY("fullsize", REP__RUN, REP__K_MEASURED | REP__K_MODEL | REP__K_STUDY, NULL, fullsize),
    ENTRY("sim-validation", REP__RUN, REP__K_MEASURED | REP__K_SIMULATED, NULL, simvalidate),
    ENTRY("sim-study", REP__RUN, REP__K_SIMULATED | REP__K_STUDY, NULL, simstudy),
    ENTRY("baselines", REP__RUN, REP__K_STUDY, NULL, baselines),
};

const size_t rep__nfigures = sizeof rep__figures / sizeof *rep__figures;
