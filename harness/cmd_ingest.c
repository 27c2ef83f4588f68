/*
 * cmd_ingest.c: `harness ingest DIR` — record cells that ran elsewhere
 * (a batch system, another machine). Every directory under DIR holding a
 * cell.json is one attempt; the stats.json beside it, if any, is what the
 * imager measured. Each attempt is one transaction; an attempt already in
 * the database (same cell, repeat and start time) is skipped, so ingesting
 * a directory twice records it once.
 *
 * cell.json (written by run-suite for every attempt, or by hand):
 *   {"schema": "imbench-cell/1",           required
 *    "params": {"dataset": ..., "scale": ..., ...},   required: the cell
 *    "suite": "smoke",                     run's suite name (default "ingest")
 *    "hash": "<sha256>",                   checked against params if given
 *    "repeat": 0, "status": "ok", "exit_code": 0, "signal": 0,
 *    "started_at": "...", "ended_at": "...", "wall_s": 1.5,
 *    "command": "...", "stderr_tail": "...", "host": "..."}   optional
 */
#define _GNU_SOURCE
#include "harness/harness.h"
#include "results/results.h"
#include "workloads/suite.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct pathlist {
    char **v;
    size_t n, cap;
} pathlist;

static int list_add(pathlist *l, const char *dir)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) return IB_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = ib_strdup(dir))) return IB_ENOMEM;
    l->n++;
    return 0;
}

/* Directories under dir (and dir itself) holding a cell.json, without
 * following symbolic links, at most 16 levels deep. */
static int walk(ib_err *e, const char *dir, pathlist *l, int depth)
{
    DIR *d = opendir(dir);
    if (!d) return ib_error(e, IB_EIO, "cannot read directory '%s': %s", dir, strerror(errno));
    int r = 0;
    struct dirent *de;
    while (!r && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && depth < 16) r = walk(e, path, l, depth + 1);
        else if (S_ISREG(st.st_mode) && !strcmp(de->d_name, "cell.json")) {
            if (list_add(l, dir)) r = ib_error(e, IB_ENOMEM, "out of memory");
        }
    }
    closedir(d);
    return r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct suite_run {
    char suite[64];
    int64_t run_id;
    int nfail;
} suite_run;

typedef struct ingester {
    res_db *db;
    const char *suite_opt, *datasets_dir, *dir;
    suite_run runs[32];
    int nruns;
    int added, dup, bad;
} ingester;

static int run_for(ib_err *e, ingester *g, const char *suite, const char *host,
                   const char *dir, suite_run **out)
{
    for (int i = 0; i < g->nruns; i++)
        if (!strcmp(g->runs[i].suite, suite)) {
            *out = &g->runs[i];
            return 0;
        }
    if (g->nruns == (int)(sizeof g->runs / sizeof g->runs[0]))
        return ib_error(e, IB_EINVAL, "more than %d suites in one ingest", g->nruns);
    suite_run *s = &g->runs[g->nruns];
    snprintf(s->suite, sizeof s->suite, "%s", suite);
    res_provenance *p = ib_calloc(1, sizeof *p);
    if (!p) return ib_error(e, IB_ENOMEM, "out of memory");
    p->git_dirty = -1;
    /* The cells ran elsewhere: what the attempt's provenance.json (written
     * on the node, e.g. by a Slurm job) and cell.json say about that place. */
    char pp[4200];
    snprintf(pp, sizeof pp, "%s/provenance.json", dir);
    ib_err pe;
    ib_err_init(&pe);
    if (access(pp, F_OK) == 0 && hx_provenance_read(&pe, pp, p))
        fprintf(stderr, "harness ingest: %s (not recorded)\n", pe.msg);
    if (!p->host[0]) snprintf(p->host, sizeof p->host, "%s", host ? host : "");
    snprintf(p->command, sizeof p->command, "harness ingest %s", g->dir);
    int r = res_run_begin(e, g->db, suite, NULL, NULL, p, &s->run_id);
    ib_free(p);
    if (r) return r;
    g->nruns++;
    *out = s;
    return 0;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* One attempt directory. Returns an error only for database failures;
 * a bad entry is reported on stderr and counted. */
static int ingest_one(ib_err *e, ingester *g, const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/cell.json", dir);
    json_error_t je;
    json_t *cj = json_load_file(path, 0, &je);
    ib_err sub;
    ib_err_init(&sub);
    wl_cell cell;
    json_t *stats = NULL;
    int r = 0;
    if (!cj) {
        ib_error(&sub, IB_EPARSE, "'%s' line %d: %s", path, je.line, je.text);
        goto bad;
    }
    const char *schema = jstr(cj, "schema");
    if (!schema || strcmp(schema, "imbench-cell/1")) {
        ib_error(&sub, IB_EPARSE, "'%s': schema is '%s', expected 'imbench-cell/1'", path,
                 schema ? schema : "(missing)");
        goto bad;
    }
    wl_suite_opts so = {.datasets_dir = g->datasets_dir};
    if (wl_suite_cell_from_params(&sub, json_object_get(cj, "params"), &so, &cell)) {
        ib_error_wrap(&sub, "'%s'", path);
        goto bad;
    }
    const char *hash = jstr(cj, "hash");
    if (hash && strcmp(hash, cell.hash)) {
        ib_error(&sub, IB_EPARSE, "'%s': hash %.12s does not match its params (%.12s)", path,
                 hash, cell.hash);
        goto bad;
    }
    json_t *rep = json_object_get(cj, "repeat");
    int repeat = json_is_integer(rep) ? (int)json_integer_value(rep) : 0;
    if (repeat < 0) {
        ib_error(&sub, IB_EPARSE, "'%s': repeat must be >= 0", path);
        goto bad;
    }
    snprintf(path, sizeof path, "%s/stats.json", dir);
    double t0 = ib_now();
    FILE *probe = fopen(path, "r");
    if (probe) {
        fclose(probe);
        stats = json_load_file(path, 0, &je);
        if (!stats) {
            ib_error(&sub, IB_EPARSE, "'%s' line %d: %s", path, je.line, je.text);
            goto bad;
        }
    }
    const char *status = jstr(cj, "status");
    if (!status) status = stats ? RES_OK : RES_FAILED;
    const char *suite = g->suite_opt ? g->suite_opt : jstr(cj, "suite");
    suite_run *sr = NULL;
    r = run_for(e, g, suite ? suite : "ingest", jstr(cj, "host"), dir, &sr);
    int64_t cell_id = 0;
    json_t *params = wl_suite_cell_params(&cell);
    if (!r) r = res_cell_put(e, g->db, cell.hash, params, &cell_id);
    json_decref(params);
    int exists = 0;
    const char *started = jstr(cj, "started_at");
    if (!r && started) r = res_attempt_exists(e, g->db, cell_id, repeat, started, &exists);
    if (r) goto out;
    if (exists) {
        g->dup++;
        goto out;
    }
    json_t *ec = json_object_get(cj, "exit_code"), *sg = json_object_get(cj, "signal");
    json_t *w = json_object_get(cj, "wall_s");
    res_attempt a = {.run_id = sr->run_id,
                     .cell_id = cell_id,
                     .repeat = repeat,
                     .status = status,
                     .exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : -1,
                     .signal = json_is_integer(sg) ? (int)json_integer_value(sg) : 0,
                     .stderr_tail = jstr(cj, "stderr_tail"),
                     .command = jstr(cj, "command"),
                     .started_at = started,
                     .ended_at = jstr(cj, "ended_at"),
                     .wall_s = json_is_number(w) ? json_number_value(w) : -1,
                     .source = stats ? path : NULL,
                     .ingest_t0 = t0,
                     .ingest_metric = "harness_ingest_s"};
    r = res_attempt_record(&sub, g->db, &a, stats, NULL, 0, NULL);
    if (r == IB_ELOCKED || r == IB_EIO || r == IB_ENOSPACE || r == IB_ECORRUPT) {
        *e = sub;
        goto out;
    }
    if (r) {
        r = 0;
        goto bad;
    }
    g->added++;
    if (strcmp(status, RES_OK)) sr->nfail++;
    goto out;
bad:
    fprintf(stderr, "harness ingest: skipped %s: %s\n", dir, sub.msg);
    g->bad++;
out:
    json_decref(stats);
    json_decref(cj);
    return r;
}

int hx_cmd_ingest(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *suite = NULL, *dsdir = NULL;
    int help = 0;
    ib_opt table[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"suite", IB_OPT_STR, &suite, "NAME", "record under this suite name"},
        {"datasets-dir", IB_OPT_STR, &dsdir, "DIR", "where dataset specs live"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    if (ib_parse_opts(&e, "ingest", table, argc, argv, pos, &npos)) {
        free(pos);
        return hx_fail("ingest", &e);
    }
    if (help) {
        free(pos);
        printf("usage: harness ingest DIR [options]\n\n"
               "Record attempts run elsewhere: every DIR/.../cell.json with the stats.json\n"
               "beside it.\n\noptions:\n");
        ib_print_opts(stdout, table);
        return 0;
    }
    if (npos != 1) {
        free(pos);
        ib_error(&e, IB_EINVAL, "expected one directory, got %d", npos);
        return hx_fail("ingest", &e);
    }
    ingester g;
    memset(&g, 0, sizeof g);
    g.dir = pos[0];
    g.suite_opt = suite;
    g.datasets_dir = dsdir;
    pathlist list = {0};
    int rc = walk(&e, g.dir, &list, 0);
    if (!rc && list.n == 0)
        rc = ib_error(&e, IB_ENOTFOUND, "no cell.json under '%s' (expected DIR/*/cell.json "
                                        "with stats.json beside it)", g.dir);
    if (!rc) {
        qsort(list.v, list.n, sizeof *list.v, cmp_str);
        rc = res_open(&e, dbpath, NULL, &g.db);
    }
    for (size_t i = 0; !rc && i < list.n; i++) rc = ingest_one(&e, &g, list.v[i]);
    for (int i = 0; i < g.nruns && g.db; i++) {
        ib_err fe;
        ib_err_init(&fe);
        int fr = res_run_finish(&fe, g.db, g.runs[i].run_id,
                                g.runs[i].nfail || rc ? "failed" : "complete");
        if (fr && !rc) {
            rc = fr;
            e = fe;
        }
        printf("run %lld (%s)\n", (long long)g.runs[i].run_id, g.runs[i].suite);
    }
    res_close(g.db);
    for (size_t i = 0; i < list.n; i++) ib_free(list.v[i]);
    free(list.v);
    free(pos);
    if (rc) return hx_fail("ingest", &e);
    printf("ingested %d attempt%s, %d already present, %d skipped as invalid\n", g.added,
           g.added == 1 ? "" : "s", g.dup, g.bad);
    return g.bad ? 1 : 0;
}
