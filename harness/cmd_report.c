/*
 * cmd_report.c: `harness report` — render one run (default: the latest)
 * as index.html + report.md + figures (gnuplot) into reports/<suite>-<run>/
 * (reports/report.c; docs/reports.md). The full shapes of the seed
 * datasets (for the cost model's full-shape predictions) come from the
 * workloads module's dataset specs; reports itself does not depend on
 * workloads. --store-predictions is the one option that writes the
 * database: it stores the full-size predictions beside the measurements.
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"
#include "workloads/workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "3,5,7" into ids (at most max); -1 when a value is not a positive id. */
static int parse_runs(const char *s, int64_t *ids, size_t max, size_t *n)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        int64_t v;
        if (*n == max || ib_parse_i64(tok, &v) || v < 1) return -1;
        ids[(*n)++] = v;
    }
    return *n ? 0 : -1;
}

size_t hx_full_shapes(const char *dir, rep_full_shape *shapes, size_t max, char *why,
                      size_t nwhy)
{
    ib_err e;
    ib_err_init(&e);
    char names[4096];
    int n = wl_dataset_names(&e, dir, names, sizeof names);
    if (n <= 0) {
        snprintf(why, nwhy, "%s", n < 0 ? e.msg : "no dataset specs found");
        return 0;
    }
    size_t k = 0;
    for (char *save = NULL, *tok = strtok_r(names, ", ", &save); tok && k < max;
         tok = strtok_r(NULL, ", ", &save)) {
        if (strcmp(tok, "...") == 0) break;
        wl_dataset ds;
        if (wl_dataset_find(&e, tok, dir, &ds)) {
            fprintf(stderr, "harness: warning: %s (no full-size figures for it)\n", e.msg);
            continue;
        }
        rep_full_shape *s = &shapes[k++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", ds.name);
        snprintf(s->gridder, sizeof s->gridder, "%s", wl_gridder_name(ds.gridder));
        s->rows = (double)ds.rows;
        s->nchan = (double)ds.nchan;
        s->npol = ds.npol;
        s->nx = ds.image_nx;
        s->ny = ds.image_ny;
        s->volume_bytes = ds.volume_bytes;
        s->npointing = ds.npointing;
    }
    return k;
}

int hx_cmd_report(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *out = NULL, *dsdir = NULL, *gnuplot = NULL;
    const char *fit_runs = NULL, *full_scale = NULL;
    int64_t run = 0, gantt = 0;
    int study_nodes = 8, boot = 1000, help = 0, quiet = 0, store = 0;
    const ib_opt opts[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"run", IB_OPT_I64, &run, "ID", "run to report (default: the latest)"},
        {"out", IB_OPT_STR, &out, "DIR", "output directory (default reports/<suite>-<run>)"},
        {"gantt-cell", IB_OPT_I64, &gantt, "ID",
         "cell of the task-stream chart (default: the multi-rank cell with most tasks)"},
        {"study-nodes", IB_OPT_INT, &study_nodes, "N",
         "the study's node count, 16 cores each (default 8)"},
        {"full-scale", IB_OPT_STR, &full_scale, "S",
         "cells at this scale or more without times/chans cuts are full size (default 1)"},
        {"fit-runs", IB_OPT_STR, &fit_runs, "ID,...",
         "runs whose small-scale cells fit the cost model (default: every run)"},
        {"store-predictions", IB_OPT_FLAG, &store, NULL,
         "store the full-size predictions in the database (writes it)"},
        {"datasets-dir", IB_OPT_STR, &dsdir, "DIR", "dataset specs (full shapes)"},
        {"gnuplot", IB_OPT_STR, &gnuplot, "PROG", "gnuplot program (default: from PATH)"},
        {"boot", IB_OPT_INT, &boot, "B", "bootstrap resamples (default 1000)"},
        {"quiet", IB_OPT_FLAG, &quiet, NULL, "print only the output directory"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("report", opts, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    double fscale = 1.0;
    int64_t runs[64];
    size_t nruns = 0;
    const char *bad = NULL;
    if (run < 0 || gantt < 0 || study_nodes < 1 || boot < 10)
        bad = "--run, --gantt-cell >= 1, --study-nodes >= 1, --boot >= 10";
    else if (full_scale && (ib_parse_double(full_scale, &fscale) || !(fscale > 0)))
        bad = "--full-scale must be a number > 0";
    else if (fit_runs && parse_runs(fit_runs, runs, 64, &nruns))
        bad = "--fit-runs must be run ids, comma-separated (at most 64)";
    if (bad) {
        return hx_usage_error("report", "%s", bad);
    }
    /* the report's files are named under --out in buffers of 4 KiB and
     * more: a longer directory is refused here, never cut */
    if (out && strlen(out) > 3072) {
        ib_error(&e, IB_EINVAL, "--out '%.200s...' is too long (%zu bytes, limit 3072)", out,
                 strlen(out));
        return hx_fail("report", &e);
    }
    rep_full_shape shapes[64];
    char why[1600] = "";
    char dirbuf[4096];
    size_t nshapes = 0;
    if (wl_datasets_dir(&e, dsdir, dirbuf, sizeof dirbuf) == 0)
        nshapes = hx_full_shapes(dirbuf, shapes, 64, why, sizeof why);
    else
        snprintf(why, sizeof why, "%s", e.msg);
    if (!nshapes)
        fprintf(stderr, "harness report: warning: no full dataset shapes (%s): no "
                        "extrapolation\n", why);
    res_db *db;
    /* read only, but for --store-predictions, which adds to the database */
    res_open_opts oo = {.flags = store ? RES_OPEN_EXISTING : RES_OPEN_READONLY};
    ib_err_init(&e);
    if (res_open(&e, dbpath, &oo, &db)) return hx_fail("report", &e);
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.run_id = run;
    o.out_dir = out;
    o.gantt_cell = gantt;
    o.shapes = shapes;
    o.nshapes = nshapes;
    o.study_nodes = study_nodes;
    o.full_scale = fscale;
    o.fit_runs = nruns ? runs : NULL;
    o.nfit_runs = nruns;
    o.store_predictions = store;
    o.gnuplot = gnuplot;
    o.boot = (size_t)boot;
    rep_report_info info;
    int rc = rep_report_write(&e, db, &o, &info);
    res_close(db);
    if (rc) return hx_fail("report", &e);
    if (quiet) {
        printf("%s\n", info.out_dir);
        return 0;
    }
    printf("report: run %lld -> %s/index.html and report.md\n", (long long)info.run_id,
           info.out_dir);
    printf("report: %zu figure%s scripted, %zu rendered (PNG + SVG); %zu warning%s in the "
           "report\n",
           info.plots, info.plots == 1 ? "" : "s", info.rendered, info.warnings,
           info.warnings == 1 ? "" : "s");
    if (info.predictions)
        printf("report: %zu full-size cell%s predicted by the cost model, %zu off by more than "
               "25%%%s\n",
               info.predictions, info.predictions == 1 ? "" : "s", info.off,
               store ? "; predictions stored in the database" : "");
    if (info.gnuplot_note[0]) printf("report: %s\n", info.gnuplot_note);
    else if (info.rendered < info.plots)
        printf("report: some figures failed to render: see the report's warnings\n");
    return 0;
}
