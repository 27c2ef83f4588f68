/*
 * cmd_casa_import.c: `harness casa-import LOG... --dataset NAME --nodes N`
 * — record the tclean calls of CASA logs as baselines (metric wall_time,
 * source casa-log). Each log is one transaction: a log that does not parse
 * is refused whole, the others are still imported. Failed tclean calls
 * are reported and not stored (see rep_db_import_casa).
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hx_cmd_casa_import(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *dataset = NULL, *label = NULL;
    int nodes = 0, cores = 0, help = 0;
    const ib_opt opts[] = {
        {"dataset", IB_OPT_STR, &dataset, "NAME", "dataset the logs imaged (required)"},
        {"nodes", IB_OPT_INT, &nodes, "N", "nodes CASA ran on (required)"},
        {"cores", IB_OPT_INT, &cores, "C", "cores CASA used (optional)"},
        {"label", IB_OPT_STR, &label, "L", "label column (default 'measured (casa log)')"},
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("casa-import", opts, argc, argv, &npos, 1, -1);
    if (ps >= 0) return ps;
    char **pos = argv;
    if (!dataset || !*dataset || nodes < 1 || cores < 0)
        return hx_usage_error("casa-import", "%s",
                              (!dataset || !*dataset) ? "--dataset is required"
                              : nodes < 1             ? "--nodes N (N >= 1) is required"
                                                      : "--cores must be >= 0");
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    if (res_open(&e, dbpath, NULL, &db)) {
        return hx_fail("casa-import", &e);
    }
    rep_casa_import_opts o = {dataset, nodes, cores, label, stderr};
    int bad = 0;
    size_t stored = 0;
    for (int i = 0; i < npos; i++) {
        rep_import_stats st;
        ib_err_init(&e);
        if (rep_db_import_casa(&e, db, pos[i], &o, &st)) {
            fprintf(stderr, "harness casa-import: %s (nothing imported from it)\n", e.msg);
            bad = 1;
            continue;
        }
        stored += st.stored;
        printf("casa-import: %s: %zu tclean task%s stored as dataset %s, %d node%s", pos[i],
               st.stored, st.stored == 1 ? "" : "s", dataset, nodes, nodes == 1 ? "" : "s");
        if (st.skipped) printf("; %zu failed task%s skipped", st.skipped,
                               st.skipped == 1 ? "" : "s");
        if (st.replaced) printf("; replaced %zu record%s of an earlier import", st.replaced,
                                st.replaced == 1 ? "" : "s");
        printf("\n");
    }
    res_close(db);
    if (npos > 1) printf("casa-import: %zu record%s stored from %d log%s, %s\n", stored,
                         stored == 1 ? "" : "s", npos, npos == 1 ? "" : "s",
                         bad ? "some refused" : "none refused");
    return bad ? 1 : 0;
}
