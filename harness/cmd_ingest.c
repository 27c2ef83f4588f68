/*
 * cmd_ingest.c: `harness ingest DIR` — record cells that ran elsewhere
 * (a batch system, another machine). Every directory under DIR holding a
 * cell.json is one attempt; the stats.json beside it, if any, is what the
 * imager measured, and a provenance.json beside it (or in DIR) where it ran.
 * The attempts of one suite go into one run per directory (keyed by DIR's
 * emit.json id, else its real path: docs/results.md): ingesting DIR again
 * adds only attempts not recorded yet (same cell, repeat and start time)
 * to that same run, and nothing at all when nothing is new; a killed
 * ingest's run is continued, not split. Each attempt is one transaction;
 * the run is locked while ingest adds to it. Files are read within the
 * limits of results.h (RES_*_MAX); what is cut is a warning row.
 *
 * cell.json (written by run-suite for every attempt, or by hand):
 *   {"schema": "imbench-cell/1",           required
 *    "params": {"dataset": ..., "scale": ..., ...},   required: the cell
 *    "suite": "smoke",                     run's suite name (default "ingest")
 *    "suite_hash": "...",                  recorded on a new run
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
#include <limits.h>
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
        ib_err too_long;
        if (ib_path_fmt(&too_long, path, sizeof path, "%s/%s", dir, de->d_name)) {
            fprintf(stderr, "harness ingest: not read: %s\n", too_long.msg);
            continue;
        }
        struct stat st;
        if (lstat(path, &st) != 0) continue;
        if (S_ISDIR(st.st_mode) && depth < 16) r = walk(e, path, l, depth + 1);
        else if (S_ISREG(st.st_mode) && !strcmp(de->d_name, "cell.json")) {
            if (list_add(l, dir))
                r = ib_error(e, IB_ENOMEM, "out of memory listing cell directories (%zu found "
                                           "under '%s')", l->n, dir);
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
    char key[4200];        /* the identity of the attempts' directory (docs/results.md) */
    char suite[64];
    int64_t run_id;
    int created;
    int added;             /* attempts this ingest added to it */
} suite_run;

typedef struct ingester {
    res_db *db;
    const char *suite_opt, *datasets_dir, *dir;
    json_t *root_prov;     /* DIR/provenance.json, for attempts without their own */
    char command[2048];
    suite_run runs[32];
    int nruns;
    int added, dup, bad;
} ingester;

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The identity emit.json in dir gives: 1 with key set, 0 when dir has no
 * emit.json, < 0 for a bad one. */
static int emit_key(ib_err *e, const char *dir, char *key, size_t n)
{
    char path[4200];
    int r = ib_path_fmt(e, path, sizeof path, "%s/emit.json", dir);
    if (r) return r;
    json_t *emit = NULL;
    ib_err sub;
    ib_err_init(&sub);
    r = res_json_load(&sub, path, RES_SIDE_FILE_MAX, &emit);
    if (r == IB_ENOTFOUND) return 0;
    if (r) {
        *e = sub;
        return r;
    }
    const char *id = jstr(emit, "id");
    if (!id || !*id || strlen(id) > 256) {
        json_decref(emit);
        return ib_error(e, IB_EPARSE, "'%s': \"id\" must be a string of 1 to 256 characters",
                        path);
    }
    r = ib_path_fmt(e, key, n, "emit:%s", id);
    json_decref(emit);
    return r ? r : 1;
}

/*
 * The identity of the directory an attempt (in dir, under the ingest
 * root g->dir) belongs to: "emit:<id>" from the nearest emit.json from dir
 * up to the root (written when its jobs were emitted, or by run-suite in
 * OUT/run-N: the directory may move), else "dir:<real path of the root>".
 */
static int dir_key(ib_err *e, const ingester *g, const char *dir, char *key, size_t n)
{
    char cur[4200], real[PATH_MAX];
    int r = ib_path_fmt(e, cur, sizeof cur, "%s", dir);
    size_t root = strlen(g->dir);
    while (!r) {
        r = emit_key(e, cur, key, n);
        if (r) return r < 0 ? r : 0;
        char *slash = strrchr(cur, '/');
        if (strlen(cur) <= root || !slash || (size_t)(slash - cur) < root) break;
        *slash = '\0';
    }
    if (r) return r;
    if (!realpath(g->dir, real))
        return ib_error(e, IB_EIO, "directory '%s': %s", g->dir, strerror(errno));
    return ib_path_fmt(e, key, n, "dir:%s", real);
}

/* The run of suite for this directory: the existing one (continued) or,
 * when create, a new one; locked for this process either way. *out NULL
 * (and 0) when it does not exist and create is 0. */
static int run_for(ib_err *e, ingester *g, const char *key, const char *suite,
                   const char *suite_hash, const char *host, json_t *prov, int create,
                   suite_run **out)
{
    *out = NULL;
    for (int i = 0; i < g->nruns; i++)
        if (!strcmp(g->runs[i].suite, suite) && !strcmp(g->runs[i].key, key)) {
            *out = &g->runs[i];
            return 0;
        }
    if (g->nruns == (int)(sizeof g->runs / sizeof g->runs[0]))
        return ib_error(e, IB_EINVAL, "more than %d runs (directories x suites) in one ingest",
                        g->nruns);
    suite_run *s = &g->runs[g->nruns];
    memset(s, 0, sizeof *s);
    if (ib_path_fmt(e, s->suite, sizeof s->suite, "%s", suite) ||
        ib_path_fmt(e, s->key, sizeof s->key, "%s", key))
        return e->code;
    res_provenance *p = ib_calloc(1, sizeof *p);
    if (!p) return ib_error(e, IB_ENOMEM, "out of memory for a run's provenance (%zu bytes)",
                            sizeof *p);
    /* The cells ran elsewhere: what their provenance.json says, else only
     * what cell.json says about that place. */
    ib_err quiet;
    ib_err_init(&quiet);
    if (!prov || res_provenance_from_json(&quiet, prov, "provenance.json", p)) {
        memset(p, 0, sizeof *p);
        p->git_dirty = -1;
        snprintf(p->host, sizeof p->host, "%.255s", host ? host : "");
    }
    snprintf(p->command, sizeof p->command, "%s", g->command);
    int r = res_run_for_source(e, g->db, key, suite, suite_hash, p, create, &s->run_id,
                               &s->created);
    ib_free(p);
    if (r == IB_ENOTFOUND && !create) return 0;
    if (r) return r;
    char note[600];
    r = res_run_lock(e, g->db, s->run_id, g->command, 0, note, sizeof note);
    if (r) return r;
    if (note[0]) fprintf(stderr, "harness ingest: %s\n", note);
    g->nruns++;
    *out = s;
    return 0;
}

/* A JSON side file of an attempt directory (provenance.json): NULL when
 * absent; a bad one leaves a warning for the attempt. */
static json_t *side_json(const char *dir, const char *name, char *warn, size_t n)
{
    char path[4200];
    json_t *j = NULL;
    ib_err sub;
    ib_err_init(&sub);
    if (ib_path_fmt(&sub, path, sizeof path, "%s/%s", dir, name) ||
        (res_json_load(&sub, path, RES_SIDE_FILE_MAX, &j) && sub.code != IB_ENOTFOUND))
        snprintf(warn, n, "%s: not used: %s", name, sub.msg);
    return j;
}

/* A time stamp field of cell.json: absent, or a string of at most 40 bytes. */
static int bad_stamp(json_t *cj, const char *key)
{
    json_t *v = json_object_get(cj, key);
    return v && (!json_is_string(v) || strlen(json_string_value(v)) > 40);
}

/* One attempt directory. Returns an error only for database failures;
 * a bad entry is reported on stderr and counted. Long because each file of
 * the directory (cell.json, stats.json, tasks.csv, the stderr tail) is
 * read, checked and capped in turn before the one transaction. */
static int ingest_one(ib_err *e, ingester *g, const char *dir)
{
    char path[4200], stats_path[4200], warn_stats[1600] = "", warn_prov[1600] = "";
    ib_err sub;
    ib_err_init(&sub);
    wl_cell cell;
    json_t *stats = NULL, *cj = NULL, *prov = NULL;
    int r = 0;
    if (ib_path_fmt(&sub, path, sizeof path, "%s/cell.json", dir) ||
        ib_path_fmt(&sub, stats_path, sizeof stats_path, "%s/stats.json", dir))
        goto bad;
    if (res_json_load(&sub, path, RES_SIDE_FILE_MAX, &cj)) goto bad;
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
    int repeat = json_is_integer(rep) && json_integer_value(rep) <= 1000000
                     ? (int)json_integer_value(rep) : (rep ? -1 : 0);
    if (repeat < 0) {
        ib_error(&sub, IB_EPARSE, "'%s': repeat must be an integer in [0, 1000000]", path);
        goto bad;
    }
    if (bad_stamp(cj, "started_at") || bad_stamp(cj, "ended_at")) {
        ib_error(&sub, IB_EPARSE, "'%s': started_at and ended_at must be time stamps (strings "
                                  "of at most 40 characters)", path);
        goto bad;
    }
    const char *suite = g->suite_opt ? g->suite_opt : jstr(cj, "suite");
    if (!suite) suite = "ingest";
    if (strlen(suite) >= sizeof g->runs[0].suite) {
        ib_error(&sub, IB_EPARSE, "'%s': suite name is longer than %zu bytes", path,
                 sizeof g->runs[0].suite - 1);
        goto bad;
    }
    double t0 = ib_now();
    int sr_ = res_json_load(&sub, stats_path, RES_STATS_FILE_MAX, &stats);
    if (sr_ == IB_EOVERFLOW) {
        snprintf(warn_stats, sizeof warn_stats, "stats not ingested: %s", sub.msg);
    } else if (sr_ && sr_ != IB_ENOTFOUND) {
        goto bad;
    }
    ib_err_init(&sub);
    prov = side_json(dir, "provenance.json", warn_prov, sizeof warn_prov);
    if (!prov && g->root_prov) prov = json_incref(g->root_prov);
    const char *status = jstr(cj, "status");
    if (!status) status = stats ? RES_OK : RES_FAILED;

    int64_t cell_id = 0;
    json_t *params = wl_suite_cell_params(&cell);
    r = params ? res_cell_put(e, g->db, cell.hash, params, &cell_id)
               : ib_error(e, IB_ENOMEM, "out of memory encoding the parameters of '%s'", path);
    json_decref(params);
    if (r) goto out;
    /* seen before? by its start time anywhere; without one, within the run
     * of this directory */
    int exists = 0;
    const char *started = jstr(cj, "started_at");
    suite_run *sr = NULL;
    char key[4200];
    r = dir_key(&sub, g, dir, key, sizeof key);
    if (r) {
        r = 0;
        goto bad;
    }
    if (started) {
        r = res_attempt_exists(e, g->db, cell_id, repeat, started, &exists);
    } else {
        r = run_for(e, g, key, suite, jstr(cj, "suite_hash"), jstr(cj, "host"), prov, 0, &sr);
        if (!r && sr) r = res_attempt_exists_unstamped(e, g->db, sr->run_id, cell_id, repeat,
                                                       &exists);
    }
    if (r) goto out;
    if (exists) {
        g->dup++;
        goto out;
    }
    r = run_for(e, g, key, suite, jstr(cj, "suite_hash"), jstr(cj, "host"), prov, 1, &sr);
    if (r) goto out;
    if (prov) { /* a run made by an attempt without provenance gets the first one's */
        res_provenance *p = ib_calloc(1, sizeof *p);
        ib_err quiet;
        ib_err_init(&quiet);
        if (p && !res_provenance_from_json(&quiet, prov, "provenance.json", p))
            r = res_run_fill_provenance(e, g->db, sr->run_id, p);
        ib_free(p);
        if (r) goto out;
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
                     .source = stats ? stats_path : NULL,
                     .ingest_t0 = t0,
                     .ingest_metric = "harness_ingest_s",
                     .provenance = prov};
    if (warn_stats[0]) a.warnings[a.nwarnings++] = warn_stats;
    if (warn_prov[0]) a.warnings[a.nwarnings++] = warn_prov;
    r = res_attempt_record(&sub, g->db, &a, stats, NULL, 0, NULL);
    if (r == IB_ELOCKED || r == IB_EIO || r == IB_ENOSPACE || r == IB_ECORRUPT ||
        r == IB_ENOMEM) {
        *e = sub;
        goto out;
    }
    if (r) {
        r = 0;
        goto bad;
    }
    g->added++;
    sr->added++;
    goto out;
bad:
    fprintf(stderr, "harness ingest: skipped %s: %s\n", dir, sub.msg);
    g->bad++;
out:
    json_decref(prov);
    json_decref(stats);
    json_decref(cj);
    return r;
}

/* Finish and unlock the runs this ingest touched; the first error wins. */
static int finish_runs(ib_err *e, ingester *g, int rc)
{
    for (int i = 0; i < g->nruns && g->db; i++) {
        suite_run *s = &g->runs[i];
        ib_err fe;
        ib_err_init(&fe);
        int open_slots = 0;
        int fr = rc ? 0 : res_run_open_slots(&fe, g->db, s->run_id, &open_slots);
        if (!fr)
            fr = res_run_finish(&fe, g->db, s->run_id,
                                rc ? "interrupted" : open_slots ? "failed" : "complete");
        if (!fr) fr = res_run_unlock(&fe, g->db, s->run_id);
        if (fr && !rc) {
            rc = fr;
            *e = fe;
        }
        if (s->added)
            printf("run %lld (%s): %s, %d attempt%s added\n", (long long)s->run_id, s->suite,
                   s->created ? "new" : "continued", s->added, s->added == 1 ? "" : "s");
    }
    return rc;
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
    int npos, ps = hx_parse("ingest", table, argc, argv, &npos, 1, 1);
    if (ps >= 0) return ps;
    char **pos = argv;
    ib_err e;
    ib_err_init(&e);
    ingester *g = ib_calloc(1, sizeof *g);
    if (!g) {
        ib_error(&e, IB_ENOMEM, "out of memory starting ingest (%zu bytes)", sizeof *g);
        return hx_fail("ingest", &e);
    }
    g->dir = pos[0];
    g->suite_opt = suite;
    g->datasets_dir = dsdir;
    snprintf(g->command, sizeof g->command, "harness ingest %.2000s", g->dir);
    pathlist list = {0};
    int rc = walk(&e, g->dir, &list, 0);
    if (!rc && list.n == 0)
        rc = ib_error(&e, IB_ENOTFOUND, "no cell.json under '%s' (expected DIR/*/cell.json "
                                        "with stats.json beside it)", g->dir);
    char root_warn[1600] = "";
    if (!rc) g->root_prov = side_json(g->dir, "provenance.json", root_warn, sizeof root_warn);
    if (root_warn[0]) fprintf(stderr, "harness ingest: %s\n", root_warn);
    if (!rc) {
        qsort(list.v, list.n, sizeof *list.v, cmp_str);
        rc = res_open(&e, dbpath, NULL, &g->db);
    }
    for (size_t i = 0; !rc && i < list.n; i++) rc = ingest_one(&e, g, list.v[i]);
    rc = finish_runs(&e, g, rc);
    res_close(g->db);
    json_decref(g->root_prov);
    for (size_t i = 0; i < list.n; i++) ib_free(list.v[i]);
    free(list.v);
    int added = g->added, dup = g->dup, bad = g->bad;
    ib_free(g);
    if (rc) return hx_fail("ingest", &e);
    if (!added) printf("nothing new: no run changed\n");
    printf("ingested %d attempt%s, %d already present, %d skipped as invalid\n", added,
           added == 1 ? "" : "s", dup, bad);
    return bad ? 1 : 0;
}
