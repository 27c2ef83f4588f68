/*
 * cmd_bench.c: `harness bench` — the analysis half of `make bench`: option
 * parsing, then reports' rep_bench_print on the latest run of the bench
 * suite (or --run ID), which prints every ratio measured side by side in
 * that run with its bootstrap 95% interval (reports/bench.c).
 */
#include "harness/harness.h"
#include "profiles/profiles.h"
#include "reports/reports.h"
#include "results/results.h"

#include <stdio.h>

int hx_cmd_bench(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *suite = "bench";
    int64_t run = 0;
    int help = 0;
    ib_opt opts[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"run", IB_OPT_I64, &run, "ID", "run to analyse (default: the latest run of --suite)"},
        {"suite", IB_OPT_STR, &suite, "NAME", "suite name (default bench)"},
        {"help", IB_OPT_FLAG, &help, NULL, "this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("bench", opts, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    if (run < 0) return hx_usage_error("bench", "--run must be a positive run id");
    ib_err e;
    ib_err_init(&e);
    res_open_opts oo = {RES_OPEN_READONLY, 0};
    res_db *db;
    if (res_open(&e, dbpath, &oo, &db)) return hx_fail("bench", &e);
    /* measured here, now: the support curve's fraction of peak */
    rep_bench_opts bo = {run, suite, stdout, prof_fma_peak_gflops(0.2)};
    int rc = rep_bench_print(&e, db, &bo);
    res_close(db);
    return rc ? hx_fail("bench", &e) : 0;
}
