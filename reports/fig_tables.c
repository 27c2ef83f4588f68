/*
 * fig_tables.c: the report's tables that are not figures — its summary,
 * the run's provenance and machine, one row per cell, and the recorded
 * baselines of its datasets. Data functions hand back the run itself (a
 * non-NULL token: there is always something to show) or the rows.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* A token for entries whose data is the run itself. */
static int token(rep__report *r, void **data)
{
    *data = &r->run;
    return 0;
}

static void no_release(void *data) { (void)data; }

/* ---- summary ------------------------------------------------------------------ */

int rep__summary_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__summary_release(void *data) { no_release(data); }

int rep__summary_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    rep__doc *d = &r->head;
    rep_run_data *run = &r->run;
    size_t att = 0, ok = 0;
    int clo = 0, chi = 0;
    for (size_t i = 0; i < run->ncells; i++) {
        const rep_cell_data *c = &run->cells[i];
        att += c->attempts;
        ok += c->ok;
        int cores = (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
        clo = !clo || cores < clo ? cores : clo;
        chi = cores > chi ? cores : chi;
    }
    const char **ds;
    size_t nds = 0;
    rep__sb names = {0};
    if (rep__datasets(run, &ds, &nds) == 0) {
        for (size_t i = 0; i < nds; i++) rep__sb_printf(&names, "%s%s", i ? ", " : "", ds[i]);
        ib_free(ds);
    }
    rep__doc_head(d, 2, "summary", "Summary");
    rep__doc_para(d, "Suite %s, run %lld (%s), started %s%s%s on %s. %zu cells on %d to %d "
                     "cores (ranks x threads), %zu attempts of which %zu succeeded. Datasets: "
                     "%s.",
                  run->suite, (long long)run->id, run->status ? run->status : "?",
                  run->started ? run->started : "?", run->ended ? ", ended " : "",
                  run->ended ? run->ended : "", run->host ? run->host : "an unrecorded host",
                  run->ncells, clo, chi, att, ok, names.len ? rep__sb_str(&names) : "none");
    rep__sb_release(&names);
    rep__doc_para(d, "Every figure and table says what it is: measured here (with the cores "
                     "it used: ranks x threads), model (fits and the cost model, never drawn "
                     "or extrapolated where the points do not identify them), simulated, or "
                     "the study's figures (stated, or read from its plots, about +-10%%). "
                     "Speedups are on total cores with the ideal from cores; layouts on the "
                     "same cores are compared side by side, never as a speedup. Every figure "
                     "has its data file and gnuplot script beside this page (re-run one with "
                     "`gnuplot NAME.gp` in this directory); error bars come from the repeats.");
    return 0;
}

/* ---- provenance ------------------------------------------------------------------- */

int rep__provenance_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__provenance_release(void *data) { no_release(data); }

static void kv(rep__doc *d, size_t t, const char *k, const char *v)
{
    rep__doc_cell(d, t, "%s", k);
    rep__doc_cell(d, t, "%s", v && *v ? v : "(not recorded)");
}

/* runs.tuning in words (res_tuning_describe), the text itself if it is not
 * a JSON object, NULL when not recorded. */
static const char *tuning_text(const char *json, char *buf, size_t n)
{
    if (!json) return NULL;
    json_t *t = json_loads(json, 0, NULL);
    int ok = json_is_object(t);
    if (ok) res_tuning_describe(t, buf, n);
    json_decref(t);
    return ok ? buf : json;
}

int rep__provenance_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    const rep_run_data *run = &r->run;
    rep__doc *d = &r->body;
    rep__doc_head(d, 2, "provenance", "Provenance of the run");
    static const char *const h[] = {"field", "value"};
    size_t t = rep__doc_table(d, "prov", "run", 2, h);
    char buf[256];
    snprintf(buf, sizeof buf, "%lld", (long long)run->id);
    kv(d, t, "run", buf);
    kv(d, t, "suite", run->suite);
    kv(d, t, "suite file", run->suite_file);
    kv(d, t, "suite hash", run->suite_hash);
    kv(d, t, "status", run->status);
    kv(d, t, "started", run->started);
    kv(d, t, "ended", run->ended);
    kv(d, t, "command", run->command);
    snprintf(buf, sizeof buf, "%s%s", run->git_commit ? run->git_commit : "",
             run->git_dirty == 1   ? " (dirty: uncommitted changes)"
             : run->git_dirty == 0 ? " (clean)"
                                   : "");
    kv(d, t, "git commit", run->git_commit ? buf : NULL);
    kv(d, t, "compiler", run->compiler);
    kv(d, t, "flags", run->cflags);
    kv(d, t, "libraries", run->libs);
    kv(d, t, "environment", run->env);
    t = rep__doc_table(d, "machine", "machine", 2, h);
    kv(d, t, "host", run->host);
    kv(d, t, "CPU", run->cpu);
    if (run->cores > 0) snprintf(buf, sizeof buf, "%d", run->cores);
    kv(d, t, "logical CPUs", run->cores > 0 ? buf : NULL);
    if (run->mem_bytes > 0) rep__fmt(buf, sizeof buf, run->mem_bytes, "bytes");
    kv(d, t, "memory", run->mem_bytes > 0 ? buf : NULL);
    kv(d, t, "kernel", run->kernel);
    char tun[512];
    kv(d, t, "settings that move timings", tuning_text(run->tuning, tun, sizeof tun));
    return 0;
}

/* ---- cells ---------------------------------------------------------------------- */

int rep__cells_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__cells_release(void *data) { no_release(data); }

static void metric_cell(rep__doc *d, size_t t, const rep_cell_data *cl, const char *name)
{
    const rep_values *v = rep__metric(cl, name);
    char buf[64];
    rep__fmt(buf, sizeof buf, rep__vmedian(v), v ? v->unit : NULL);
    rep__doc_cell(d, t, "%s", buf);
}

int rep__cells_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    rep__doc *d = &r->body;
    rep__doc_head(d, 2, "cells", "Cells");
    rep__doc_para(d, "One row per cell of the run, measured here: cores = ranks (MPI "
                     "processes, the study's nodes) x threads. Wall time: median over the "
                     "successful repeats, their min-max range, and the robust spread "
                     "MAD*1.4826/median. Other columns are medians. A dash: not recorded.");
    static const char *const h[] = {"cell", "hash", "dataset", "scale", "gridder", "ranks x threads",
                                    "cores", "chunks", "support", "ok/attempts", "wall median",
                                    "wall min-max", "spread", "grid rate", "peak RSS",
                                    "spilled", "comm bytes"};
    size_t t = rep__doc_table(d, "cells", "cells of the run (measured here)", 17, h);
    for (size_t i = 0; i < r->run.ncells; i++) {
        const rep_cell_data *cl = &r->run.cells[i];
        int ranks = cl->nodes > 0 ? cl->nodes : 1, threads = cl->threads > 0 ? cl->threads : 1;
        rep__doc_cell(d, t, "%lld", (long long)cl->id);
        rep__doc_cell(d, t, "%.12s", cl->hash);
        rep__doc_cell(d, t, "%s", cl->dataset);
        if (isfinite(cl->scale)) rep__doc_cell(d, t, "%g%s", cl->scale,
                                              cl->times || cl->chans ? " (cut)" : "");
        else rep__doc_cell(d, t, "-");
        rep__doc_cell(d, t, "%s", cl->gridder[0] ? cl->gridder : "-");
        rep__doc_cell(d, t, "%dx%d", ranks, threads);
        rep__doc_cell(d, t, "%d", ranks * threads);
        rep__doc_cell(d, t, "%d", cl->chunks);
        rep__doc_cell(d, t, "%d", cl->support);
        rep__doc_cell(d, t, "%zu/%zu", cl->ok, cl->attempts);
        const rep_values *w = rep__metric(cl, "wall_time");
        rep_summary sm;
        char a[64], b[64], s[64];
        if (w && rep_summarize(NULL, w->v, w->n, &sm) == 0) {
            rep__fmt(a, sizeof a, sm.median, "s");
            rep__fmt(b, sizeof b, sm.min, NULL);
            rep__fmt(s, sizeof s, sm.max, "s");
            rep__doc_cell(d, t, "%s", a);
            rep__doc_cell(d, t, "%s-%s", b, s);
            if (sm.median > 0 && sm.n > 1)
                rep__doc_cell(d, t, "%.1f%%", 100.0 * 1.4826 * sm.mad / sm.median);
            else
                rep__doc_cell(d, t, "-");
        } else {
            for (int k = 0; k < 3; k++) rep__doc_cell(d, t, "-");
        }
        metric_cell(d, t, cl, "grid_rate");
        metric_cell(d, t, cl, "peak_rss");
        metric_cell(d, t, cl, "spill_bytes");
        metric_cell(d, t, cl, "comm_bytes");
    }
    return 0;
}

/* ---- baselines ------------------------------------------------------------------------ */

int rep__baselines_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__baselines_release(void *data) { no_release(data); }

int rep__baselines_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    rep__doc *d = &r->body;
    rep__doc_head(d, 2, "baselines", "Recorded baselines for these datasets (the study's and "
                                     "imported)");
    static const char *const h[] = {"dataset", "system", "nodes", "cores", "threads", "chunks",
                                    "metric", "value", "bound", "source", "label", "note"};
    size_t t = rep__doc_table(d, "baselines", NULL, 12, h);
    for (size_t i = 0; i < r->nbaselines; i++) {
        const res_baseline_row *b = &r->baselines[i];
        rep__bnote nt;
        rep__bnote_parse(b, &nt);
        rep__doc_cell(d, t, "%s", b->dataset[0] ? b->dataset : "(any)");
        rep__doc_cell(d, t, "%s", b->system);
        const int nums[4] = {b->nodes, b->cores, b->threads, b->chunks};
        for (int k = 0; k < 4; k++) {
            if (nums[k] > 0) rep__doc_cell(d, t, "%d", nums[k]);
            else rep__doc_cell(d, t, "-");
        }
        rep__doc_cell(d, t, "%s", b->metric);
        rep__doc_cell(d, t, "%.6g %s", b->value, b->unit ? b->unit : "");
        rep__doc_cell(d, t, "%s", rep_bound_name(nt.bound));
        rep__doc_cell(d, t, "%s", b->source ? b->source : "");
        rep__doc_cell(d, t, "%s", b->label ? b->label : "");
        rep__doc_cell(d, t, "%s", nt.text);
    }
    if (!rep__doc_rows(d, t))
        rep__doc_para(d, "No baselines recorded for these datasets: `harness baselines import "
                         "workloads/baselines/seed-study.yaml` adds the seed study's, "
                         "`harness casa-import` your own CASA logs.");
    return 0;
}
