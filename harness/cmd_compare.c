/*
 * cmd_compare.c: `harness compare --run A --against B|casa|wsclean` — per
 * matching cell and metric, is run A faster, slower or unchanged against
 * run B (bootstrap CI of the ratio of medians, Mann–Whitney,
 * Benjamini–Hochberg); or how run A's scaling compares with the recorded
 * CASA baselines (normalised speedups, model extrapolations); or, within
 * run A, imbench against WSClean on cells that differ only in `imager`
 * (ratio of medians with its bootstrap CI per pair). Exit status: 1 when a
 * regression beyond --threshold is significant (run against run only), 0
 * otherwise, 2 for usage errors and anything that stops the comparison (so
 * a CI job never takes a missing database for a regression).
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"
#include "workloads/workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail2(const ib_err *e)
{
    fprintf(stderr, "harness compare: %s\n", e->msg[0] ? e->msg : ib_strerror(e->code));
    return 2;
}

/* "0.05" or "5%" into a fraction. */
static int parse_fraction(const char *s, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (!n || n >= sizeof buf) return -1;
    memcpy(buf, s, n + 1);
    double div = 1;
    if (buf[n - 1] == '%') {
        buf[n - 1] = '\0';
        div = 100;
    }
    double v;
    if (ib_parse_double(buf, &v) || v < 0) return -1;
    *out = v / div;
    return 0;
}

int hx_cmd_compare(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *against = NULL, *metric = NULL, *thr = NULL;
    int64_t run = 0;
    double alpha = 0.05;
    int help = 0, boot = 2000;
    const ib_opt opts[] = {
        {"run", IB_OPT_I64, &run, "A", "candidate run (default: the latest)"},
        {"against", IB_OPT_STR, &against, "B|casa|wsclean",
         "base run id, casa, or wsclean: run A's WSClean cells (required)"},
        {"metric", IB_OPT_STR, &metric, "M", "metric(s), comma-separated, or all (wall_time)"},
        {"threshold", IB_OPT_STR, &thr, "X", "regression threshold: 0.05 or 5% (default 5%)"},
        {"alpha", IB_OPT_DBL, &alpha, "P", "significance level after BH (default 0.05)"},
        {"boot", IB_OPT_INT, &boot, "B", "bootstrap resamples (default 2000)"},
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("compare", opts, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    rep_cmp_opts o;
    memset(&o, 0, sizeof o);
    rep_compare_opts_init(&o.c);
    const char *bad = NULL;
    if (!against) bad = "--against B|casa|wsclean is required";
    else if (run < 0) bad = "--run must be a positive run id";
    else if (!(alpha > 0 && alpha < 1)) bad = "--alpha must be in (0, 1)";
    else if (boot < 10) bad = "--boot must be >= 10";
    else if (thr && parse_fraction(thr, &o.c.threshold)) bad = "--threshold must be >= 0 (0.05 or 5%)";
    int64_t base = 0;
    int casa = against && strcmp(against, "casa") == 0;
    int wsclean = against && strcmp(against, "wsclean") == 0;
    if (!bad && !casa && !wsclean && (ib_parse_i64(against, &base) || base < 1))
        bad = "--against must be a run id, casa or wsclean";
    if (bad) {
        return hx_usage_error("compare", "%s", bad);
    }
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_READONLY};
    if (res_open(&e, dbpath, &oo, &db)) return fail2(&e);
    if (run == 0 && res_latest_run(&e, db, NULL, &run)) {
        res_close(db);
        return fail2(&e);
    }
    int rc, status = 0;
    if (wsclean) {
        rep_peer_opts po;
        rep_peer_opts_init(&po);
        po.run = run;
        po.peer = "wsclean";
        if (metric) po.metrics = metric;
        po.boot = (size_t)boot;
        po.out = stdout;
        rc = rep_compare_peer(&e, db, &po, NULL);
    } else if (casa) {
        rep_full_shape shapes[64];
        char dir[4096], why[1600];
        size_t ns = wl_datasets_dir(&e, NULL, dir, sizeof dir)
                        ? 0
                        : hx_full_shapes(dir, shapes, 64, why, sizeof why);
        ib_err_init(&e); /* no specs: the comparison says so, it does not fail */
        size_t n = 0;
        rc = rep_compare_casa(&e, db, run, shapes, ns, 8, stdout, &n);
        if (!rc && !n)
            printf("\nno dataset of run %lld has CASA baselines: `harness baselines import "
                   "workloads/baselines/seed-study.yaml` or `harness casa-import`\n",
                   (long long)run);
    } else {
        o.run_a = run;
        o.run_b = base;
        o.metrics = metric;
        o.c.alpha = alpha;
        o.c.boot = (size_t)boot;
        o.out = stdout;
        rep_cmp_result r;
        rc = rep_compare_runs(&e, db, &o, &r);
        if (!rc && r.regressions) status = 1;
    }
    res_close(db);
    if (rc) return fail2(&e);
    return status;
}
