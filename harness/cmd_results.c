/*
 * cmd_results.c: the commands that read the results store —
 * `harness list`, `harness show ID`, `harness export --format csv|json`
 * and `harness verify` (exit status 1 when it finds a problem), each
 * opening the database read-only (RES_OPEN_READONLY: never migrated or
 * changed) — and `harness migrate`, the one that only brings an older
 * database to this program's schema.
 */
#include "harness/harness.h"
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int open_db(const char *cmd, const char *path, res_db **db)
{
    ib_err e;
    ib_err_init(&e);
    /* verify reports corruption itself, problem by problem */
    res_open_opts oo = {.flags = RES_OPEN_READONLY | (strcmp(cmd, "verify") ? 0 : RES_OPEN_NOCHECK)};
    if (res_open(&e, path, &oo, db)) return hx_fail(cmd, &e);
    return -1;
}

/* The commands whose only option is --db: parse it and open the
 * database. Returns -1 with *db open, else an exit status. */
static int db_only(const char *cmd, int argc, char **argv, res_db **db)
{
    const char *dbpath = RES_DEFAULT_DB;
    int help = 0;
    ib_opt table[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, st = hx_parse(cmd, table, argc, argv, &npos, 0, 0);
    if (st >= 0) return st;
    return open_db(cmd, dbpath, db);
}

int hx_cmd_list(int argc, char **argv)
{
    res_db *db;
    int st = db_only("list", argc, argv, &db);
    if (st >= 0) return st;
    ib_err e;
    ib_err_init(&e);
    int rc = res_print_runs(&e, db, stdout);
    res_close(db);
    return rc ? hx_fail("list", &e) : 0;
}

int hx_cmd_show(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB;
    int help = 0;
    ib_opt table[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, st = hx_parse("show", table, argc, argv, &npos, 1, 1);
    if (st >= 0) return st;
    ib_err e;
    ib_err_init(&e);
    int64_t id;
    if (ib_parse_i64(argv[0], &id) || id < 1)
        return hx_usage_error("show", "run id must be a positive integer, got '%s'", argv[0]);
    res_db *db;
    if ((st = open_db("show", dbpath, &db)) >= 0) return st;
    int rc = res_print_run(&e, db, id, stdout);
    res_close(db);
    return rc ? hx_fail("show", &e) : 0;
}

int hx_cmd_export(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *format = NULL, *out = NULL;
    int64_t run = 0;
    int help = 0;
    ib_opt table[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"run", IB_OPT_I64, &run, "ID", "only this run (default: all)"},
        {"format", IB_OPT_STR, &format, "csv|json", "output format (required)"},
        {"out", IB_OPT_STR, &out, "FILE", "write here instead of standard output"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, st = hx_parse("export", table, argc, argv, &npos, 0, 0);
    if (st >= 0) return st;
    ib_err e;
    ib_err_init(&e);
    enum res_format fmt;
    if (format && !strcmp(format, "csv")) fmt = RES_CSV;
    else if (format && !strcmp(format, "json")) fmt = RES_JSON;
    else {
        ib_error(&e, IB_EINVAL, "--format must be csv or json, got '%s'",
                 format ? format : "(none)");
        return hx_fail("export", &e);
    }
    if (run < 0) {
        ib_error(&e, IB_EINVAL, "--run must be a positive run id");
        return hx_fail("export", &e);
    }
    res_db *db;
    if ((st = open_db("export", dbpath, &db)) >= 0) return st;
    FILE *f = stdout;
    if (out && !(f = fopen(out, "w"))) {
        res_close(db);
        ib_error(&e, IB_EIO, "cannot write '%s'", out);
        return hx_fail("export", &e);
    }
    size_t n;
    int rc = res_export(&e, db, run, fmt, f, &n);
    if (f != stdout && fclose(f) != 0 && !rc) rc = ib_error(&e, IB_EIO, "cannot write '%s'", out);
    res_close(db);
    if (rc) return hx_fail("export", &e);
    if (out) fprintf(stderr, "harness export: %zu rows to %s\n", n, out);
    return 0;
}

int hx_cmd_verify(int argc, char **argv)
{
    res_db *db;
    int st = db_only("verify", argc, argv, &db);
    if (st >= 0) return st;
    ib_err e;
    ib_err_init(&e);
    int problems = 0;
    printf("database %s\n", res_path(db));
    int rc = res_verify(&e, db, stdout, &problems);
    res_close(db);
    if (rc) return hx_fail("verify", &e);
    return problems ? 1 : 0;
}

int hx_cmd_migrate(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB;
    int help = 0;
    ib_opt table[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, st = hx_parse("migrate", table, argc, argv, &npos, 0, 0);
    if (st >= 0) return st;
    ib_err e;
    ib_err_init(&e);
    int before, after;
    if (res_migrate(&e, dbpath, &before, &after)) return hx_fail("migrate", &e);
    if (before == after) printf("database %s: schema version %d, nothing to do\n", dbpath, after);
    else printf("database %s: schema version %d -> %d\n", dbpath, before, after);
    return 0;
}
