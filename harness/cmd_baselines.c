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

static const char usage_text[] =
    "usage: harness baselines import FILE.yaml [--db FILE]\n"
    "       harness baselines list [--dataset NAME] [--db FILE]\n"
    "\n"
    "import  load a baselines file (format: the comment at the top of\n"
    "        workloads/baselines/seed-study.yaml) in one transaction; importing\n"
    "        the same file again replaces its records\n"
    "list    print the stored baselines (seed-study, casa-log and manual)\n";

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
    ib_err e;
    ib_err_init(&e);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    if (ib_parse_opts(&e, "baselines", opts, argc, argv, pos, &npos)) {
        free(pos);
        return hx_fail("baselines", &e);
    }
    if (help) {
        printf("%s\noptions:\n", usage_text);
        ib_print_opts(stdout, opts);
        free(pos);
        return 0;
    }
    const char *sub = npos > 0 ? pos[0] : NULL;
    int is_import = sub && strcmp(sub, "import") == 0, is_list = sub && strcmp(sub, "list") == 0;
    if ((!is_import && !is_list) || (is_import && npos != 2) || (is_list && npos != 1)) {
        fputs(usage_text, stderr);
        free(pos);
        return 2;
    }
    const char *file = is_import ? pos[1] : NULL;
    free(pos);
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
