/*
 * cmd_baselines.c: `harness baselines import FILE.yaml` (store a baselines
 * file's records in the results database, replacing an earlier import of
 * the same file) and `harness baselines list` (print what is stored).
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hx_cmd_baselines(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *dataset = NULL;
    int help = 0;
    const ib_opt opts[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"dataset", IB_OPT_STR, &dataset, "NAME", "list: only this dataset"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("baselines", opts, argc, argv, &npos, 1, 2);
    if (ps >= 0) return ps;
    const char *sub = argv[0];
    int is_import = strcmp(sub, "import") == 0, is_list = strcmp(sub, "list") == 0;
    if (!is_import && !is_list)
        return hx_usage_error("baselines", "unknown subcommand '%s' (import or list)", sub);
    if (is_import && npos != 2) return hx_usage_error("baselines", "import needs one FILE.yaml");
    if (is_list && npos != 1) return hx_usage_error("baselines", "unexpected argument '%s'", argv[1]);
    char shipped[4096];
    const char *file = !is_import ? NULL
                       : hx_data_file("baselines", argv[1], shipped, sizeof shipped) ? shipped
                                                                                     : argv[1];
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = is_list ? RES_OPEN_READONLY : 0};
    if (res_open(&e, dbpath, &oo, &db)) return hx_fail("baselines", &e);
    int rc;
    if (is_import) {
        rep_import_stats st;
        rc = rep_db_import_baselines(&e, db, file, &st);
        if (!rc)
            printf("baselines: %zu record%s from %s stored in %s%s\n", st.stored,
                   st.stored == 1 ? "" : "s", file, dbpath,
                   st.replaced ? " (replacing the earlier import)" : "");
    } else {
        rc = rep_db_print_baselines(&e, db, dataset, stdout, NULL);
    }
    res_close(db);
    return rc ? hx_fail("baselines", &e) : 0;
}
