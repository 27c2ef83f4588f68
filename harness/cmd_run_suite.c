/*
 * cmd_run_suite.c: `harness run-suite SUITE` — expand a suite into cells,
 * materialise each dataset once into a cache directory, run every cell
 * (repeats interleaved round-robin) as its own process with a timeout,
 * and record each attempt with what it measured in one transaction before
 * the next starts. --resume continues the latest unfinished run of the
 * suite, skipping (cell, repeat) pairs that already succeeded in it.
 *
 * Per attempt, OUT/run-<id>/<hash:12>/r<repeat>-p<pid>/ holds stdout.log,
 * stderr.log, stats.json and cell.json (the format `harness ingest`
 * reads); FITS products are removed after a successful ingest unless
 * --keep-products.
 */
#define _GNU_SOURCE
#include "harness/harness.h"
#include "results/results.h"
#include "workloads/suite.h"
#include "workloads/workloads.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_TIMEOUT_S 3600.0

typedef struct opts {
    const char *db, *filter, *launcher, *data_dir, *out_dir, *datasets_dir;
    int resume, dry_run, repeat, keep, help;
    double timeout;
} opts;

/* One dataset materialisation (shared by the cells with its key). */
typedef struct dsstate {
    char key[33];
    char dir[2048];
    int state;             /* 0 not tried, 1 ready, -1 failed */
    char why[HX_TAIL_BYTES + 256];
    int exit_code;
} dsstate;

typedef struct runner {
    opts o;
    wl_suite *suite;
    const wl_cell **cells;   /* after --filter */
    size_t ncells;
    int64_t *cell_ids;
    unsigned char *todo;     /* ncells x repeats */
    int repeats;
    double timeout;
    res_db *db;
    int64_t run_id;
    dsstate *ds;
    size_t nds;
    char imager[4096], mpirun[4096], harness[4096];
    int have_mpirun;
    long cores;
    hx_progress prog;
    char command[2048];
    int nfail, nok;
} runner;

/* ---- small helpers ------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int file_exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void join_args(char *out, size_t n, char *const argv[])
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; argv[i] && len < n; i++) {
        int k = snprintf(out + len, n - len, "%s%s", i ? " " : "", argv[i]);
        if (k < 0) break;
        len += (size_t)k;
    }
}

/* ---- datasets ------------------------------------------------------------ */

static dsstate *ds_for(runner *r, const wl_cell *c)
{
    for (size_t i = 0; i < r->nds; i++)
        if (!strcmp(r->ds[i].key, c->dataset_key)) return &r->ds[i];
    return NULL;
}

/* cache.json: what the directory holds; its presence (with vis.h5) says
 * the materialisation completed. */
static int write_cache_json(ib_err *e, const char *dir, const wl_cell *c)
{
    json_t *o = json_pack("{s:s, s:s, s:f, s:I}", "dataset", c->dataset, "key", c->dataset_key,
                          "scale", c->scale, "seed", (json_int_t)c->seed);
    if (!o) return ib_error(e, IB_ENOMEM, "out of memory");
    if (c->chans) json_object_set_new(o, "chans", json_integer(c->chans));
    if (c->times) json_object_set_new(o, "times", json_integer(c->times));
    if (c->image_nx) json_object_set_new(o, "image_nx", json_integer(c->image_nx));
    if (c->image_ny) json_object_set_new(o, "image_ny", json_integer(c->image_ny));
    char path[4096];
    snprintf(path, sizeof path, "%s/cache.json", dir);
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    if (rc) return ib_error(e, IB_EIO, "cannot write '%s'", path);
    return 0;
}

/*
 * Make the dataset of cell c present in the cache: reuse DIR when vis.h5
 * and cache.json are there, else run `harness gen` into DIR.tmp-PID and
 * rename it into place (so a killed generator never leaves a directory
 * that looks complete). Failures are kept in the dsstate for every cell
 * that needs the dataset; only an interrupt is returned.
 */
static int ds_materialise(runner *r, dsstate *d, const wl_cell *c)
{
    if (d->state) return 0;
    if (file_exists(d->dir, "vis.h5") && file_exists(d->dir, "cache.json")) {
        d->state = 1;
        return 0;
    }
    ib_err e;
    ib_err_init(&e);
    char tmp[2100];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", d->dir, (long)getpid());
    rm_rf(tmp);
    if (ib_mkdir_p(&e, tmp)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        return 0;
    }
    char scale[64], seed[32], chans[32], times[32], image[64];
    snprintf(scale, sizeof scale, "%.17g", c->scale);
    snprintf(seed, sizeof seed, "%lld", (long long)c->seed);
    char *argv[32];
    int n = 0;
    argv[n++] = r->harness;
    argv[n++] = "gen";
    argv[n++] = "--dataset";
    argv[n++] = (char *)c->dataset;
    argv[n++] = "--scale";
    argv[n++] = scale;
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--out";
    argv[n++] = tmp;
    if (c->chans) {
        snprintf(chans, sizeof chans, "%lld", (long long)c->chans);
        argv[n++] = "--chans";
        argv[n++] = chans;
    }
    if (c->times) {
        snprintf(times, sizeof times, "%lld", (long long)c->times);
        argv[n++] = "--times";
        argv[n++] = times;
    }
    if (c->image_nx) {
        snprintf(image, sizeof image, "%dx%d", c->image_nx, c->image_ny);
        argv[n++] = "--image";
        argv[n++] = image;
    }
    if (r->o.datasets_dir) {
        argv[n++] = "--datasets-dir";
        argv[n++] = (char *)r->o.datasets_dir;
    }
    argv[n] = NULL;
    hx_progress_message(&r->prog, "generating dataset %s (scale %g) into %s", c->dataset,
                        c->scale, d->dir);
    char log[2200];
    snprintf(log, sizeof log, "%s/gen.log", tmp);
    hx_proc pr;
    if (hx_run_process(&e, argv, log, NULL, GEN_TIMEOUT_S, NULL, NULL, &pr)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        rm_rf(tmp);
        return 0;
    }
    if (pr.end == HX_INTERRUPTED) {
        rm_rf(tmp);
        return IB_EINTERRUPTED;
    }
    if (pr.end != HX_EXITED || pr.exit_code != 0) {
        d->state = -1;
        d->exit_code = pr.exit_code;
        snprintf(d->why, sizeof d->why, "harness: generating dataset '%s' failed (%s %d): %s",
                 c->dataset, pr.end == HX_TIMED_OUT ? "timed out, status" : "exit status",
                 pr.exit_code, pr.tail);
        rm_rf(tmp);
        return 0;
    }
    if (write_cache_json(&e, tmp, c)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        rm_rf(tmp);
        return 0;
    }
    if (rename(tmp, d->dir) != 0) {
        /* Someone else finished the same key first: theirs is as good. */
        rm_rf(tmp);
        if (!(file_exists(d->dir, "vis.h5") && file_exists(d->dir, "cache.json"))) {
            d->state = -1;
            snprintf(d->why, sizeof d->why, "dataset '%s': cannot move '%s' to '%s': %s",
                     c->dataset, tmp, d->dir, strerror(errno));
            return 0;
        }
    }
    d->state = 1;
    return 0;
}

/* ---- one attempt ----------------------------------------------------------- */

static int build_argv(runner *r, const wl_cell *c, const char *vis, const char *out,
                      const char *stats, char *spill, char bufs[][64], char **argv)
{
    int n = 0, b = 0;
    int use_mpi = c->nodes > 1 || !strcmp(r->o.launcher, "mpirun");
    if (use_mpi) {
        argv[n++] = r->mpirun;
        argv[n++] = "-np";
        snprintf(bufs[b], 64, "%d", c->nodes);
        argv[n++] = bufs[b++];
        if (c->nodes > r->cores) argv[n++] = "--oversubscribe";
        if (geteuid() == 0) argv[n++] = "--allow-run-as-root";
    }
    argv[n++] = r->imager;
    argv[n++] = "--vis";
    argv[n++] = (char *)vis;
    argv[n++] = "--out";
    argv[n++] = (char *)out;
    argv[n++] = "--stats";
    argv[n++] = (char *)stats;
#define OPT_INT(flag, v)                      \
    if (v) {                                  \
        snprintf(bufs[b], 64, "%lld", (long long)(v)); \
        argv[n++] = flag;                     \
        argv[n++] = bufs[b++];                \
    }
#define OPT_STR(flag, v)        \
    if ((v)[0]) {               \
        argv[n++] = flag;       \
        argv[n++] = (char *)(v); \
    }
    OPT_STR("--gridder", c->gridder);
    OPT_INT("--support", c->support);
    OPT_STR("--weight", c->weight);
    if (c->image_nx) {
        snprintf(bufs[b], 64, "%dx%d", c->image_nx, c->image_ny);
        argv[n++] = "--image";
        argv[n++] = bufs[b++];
    }
    if (c->padding > 0) {
        snprintf(bufs[b], 64, "%.17g", c->padding);
        argv[n++] = "--padding";
        argv[n++] = bufs[b++];
    }
    OPT_INT("--threads", c->threads);
    OPT_INT("--chunks", c->chunks);
    OPT_STR("--precision", c->precision);
    OPT_STR("--schedule", c->schedule);
    if (c->serial_write) argv[n++] = "--serial-write";
    if (c->mem_budget) {
        OPT_INT("--mem-budget", c->mem_budget);
        argv[n++] = "--spill-dir";
        argv[n++] = spill;
    }
#undef OPT_INT
#undef OPT_STR
    argv[n] = NULL;
    return n;
}

/* cell.json beside stats.json: the attempt as `harness ingest` reads it. */
static void write_cell_json(runner *r, const wl_cell *c, const char *dir, int repeat,
                            const char *status, const hx_proc *pr, const char *started,
                            const char *ended, const char *command, const char *tail,
                            const res_provenance *prov)
{
    json_t *params = wl_suite_cell_params(c);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:i, s:s, s:i, s:i, s:s, s:s, s:f, "
                          "s:s, s:s, s:s}",
                          "schema", "imbench-cell/1", "suite", r->suite->name, "suite_hash",
                          r->suite->file_hash, "hash", c->hash, "params",
                          params ? params : json_object(), "repeat", repeat, "status", status,
                          "exit_code", pr->exit_code, "signal", pr->signal, "started_at",
                          started, "ended_at", ended, "wall_s", pr->wall_s, "command", command,
                          "stderr_tail", tail, "host", prov->host);
    if (!o) return;
    char path[4200];
    snprintf(path, sizeof path, "%s/cell.json", dir);
    json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
}

static int remove_fits(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (flag == FTW_F && n > 5 && !strcmp(path + n - 5, ".fits")) remove(path);
    return 0;
}

enum st { ST_NONE, ST_OK, ST_FAILED, ST_TIMEOUT, ST_INTERRUPTED, ST_SKIPPED };
static const char *const st_name[] = {"", RES_OK, RES_FAILED, RES_TIMEOUT, RES_INTERRUPTED,
                                       RES_SKIPPED};

static enum st status_of(const hx_proc *pr)
{
    switch (pr->end) {
    case HX_TIMED_OUT: return ST_TIMEOUT;
    case HX_INTERRUPTED: return ST_INTERRUPTED;
    case HX_SIGNALED: return ST_FAILED;
    case HX_EXITED: return pr->exit_code == 0 ? ST_OK : ST_FAILED;
    }
    return ST_FAILED;
}

/*
 * One line saying why an attempt failed: the last stderr line from the
 * imager or the harness (mpirun adds boilerplate after the real message),
 * else the last line.
 */
static void failure_note(const char *tail, char *note, size_t n)
{
    const char *best = NULL, *last = NULL;
    size_t best_len = 0, last_len = 0;
    for (const char *p = tail; *p;) {
        size_t len = strcspn(p, "\n");
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
        if (len > 0) {
            last = s;
            last_len = len;
            if (!strncmp(s, "imager:", 7) || !strncmp(s, "harness:", 8)) {
                best = s;
                best_len = len;
            }
        }
        p += strcspn(p, "\n");
        if (*p) p++;
    }
    if (!best) {
        best = last;
        best_len = last_len;
    }
    if (best) snprintf(note, n, "(%.*s)", (int)(best_len < 200 ? best_len : 200), best);
    else note[0] = '\0';
}

/*
 * Run cell i, repeat rep, and record it. Returns 0 (whatever the cell's
 * outcome), IB_EINTERRUPTED after recording an interrupted attempt, or an
 * error of the results store (which ends the suite).
 */
static int run_attempt(ib_err *e, runner *r, size_t i, int rep, size_t ordinal,
                       const res_provenance *prov)
{
    const wl_cell *c = r->cells[i];
    char label[512], base[400];
    wl_suite_cell_label(c, base, sizeof base);
    snprintf(label, sizeof label, "%s r%d", base, rep);
    hx_progress_begin(&r->prog, ordinal, label);

    char dir[2048], stats[4200], outlog[4200], errlog[4200], spill[4200];
    /* the pid keeps a resumed attempt out of an earlier one's directory */
    snprintf(dir, sizeof dir, "%s/run-%lld/%.12s/r%d-p%ld", r->o.out_dir,
             (long long)r->run_id, c->hash, rep, (long)getpid());
    snprintf(stats, sizeof stats, "%s/stats.json", dir);
    snprintf(outlog, sizeof outlog, "%s/stdout.log", dir);
    snprintf(errlog, sizeof errlog, "%s/stderr.log", dir);
    snprintf(spill, sizeof spill, "%s/spill", dir);

    hx_proc pr;
    memset(&pr, 0, sizeof pr);
    pr.exit_code = -1;
    enum st status = ST_NONE;
    char started[40], ended[40], command[4096] = "";
    char *tail = ib_calloc(1, sizeof pr.tail + 512);
    if (!tail) return ib_error(e, IB_ENOMEM, "out of memory");
    dsstate *d = ds_for(r, c);
    IB_ASSERT(d != NULL);
    int rr = ds_materialise(r, d, c);
    res_timestamp(started, sizeof started); /* generation is not the cell's time */
    if (rr == IB_EINTERRUPTED) {
        status = ST_INTERRUPTED;
        snprintf(tail, sizeof pr.tail, "harness: interrupted while generating the dataset");
    } else if (d->state < 0) {
        status = ST_FAILED;
        pr.exit_code = d->exit_code ? d->exit_code : -1;
        snprintf(tail, sizeof pr.tail + 512, "%s", d->why);
    } else if ((c->nodes > 1 || !strcmp(r->o.launcher, "mpirun")) && !r->have_mpirun) {
        status = ST_SKIPPED;
        snprintf(tail, sizeof pr.tail, "harness: mpirun not found in PATH (the cell needs %d "
                                       "rank%s)", c->nodes, c->nodes == 1 ? "" : "s");
    }
    ib_err sub;
    ib_err_init(&sub);
    if (status == ST_NONE) {
        rm_rf(dir);
        if (ib_mkdir_p(&sub, dir)) {
            status = ST_FAILED;
            snprintf(tail, sizeof pr.tail, "harness: %s", sub.msg);
        }
    }
    if (status == ST_NONE) {
        char bufs[16][64], *argv[64];
        build_argv(r, c, d->dir, dir, stats, spill, bufs, argv);
        join_args(command, sizeof command, argv);
        if (hx_run_process(&sub, argv, outlog, errlog, r->timeout, hx_progress_tick, &r->prog,
                           &pr)) {
            status = ST_FAILED;
            snprintf(tail, sizeof pr.tail, "harness: %s", sub.msg);
        } else {
            status = status_of(&pr);
            snprintf(tail, sizeof pr.tail, "%s", pr.tail);
        }
    }
    res_timestamp(ended, sizeof ended);

    /* ingest: stats (if any) + harness overhead, one transaction */
    double ingest_t0 = ib_now();
    json_t *js = NULL;
    if (status == ST_OK || status == ST_FAILED || status == ST_TIMEOUT) {
        if (access(stats, F_OK) == 0) {
            json_error_t je;
            js = json_load_file(stats, 0, &je);
            if (!js && status == ST_OK) {
                status = ST_FAILED;
                size_t l = strlen(tail);
                snprintf(tail + l, sizeof pr.tail + 512 - l,
                         "\nharness: stats '%s' line %d: %s", stats, je.line, je.text);
            }
        } else if (status == ST_OK) {
            status = ST_FAILED;
            size_t l = strlen(tail);
            snprintf(tail + l, sizeof pr.tail + 512 - l,
                     "\nharness: the imager exited 0 but wrote no stats '%s'", stats);
        }
    }
    res_metric extra[3];
    size_t nextra = 0;
    if (pr.wall_s > 0) {
        extra[nextra++] = (res_metric){"harness_wall_s", pr.wall_s, "s", "lower"};
        json_t *w = json_object_get(js, "wall_seconds");
        if (json_is_number(w))
            extra[nextra++] = (res_metric){"harness_launch_s", pr.wall_s - json_number_value(w),
                                           "s", "lower"};
    }
    res_attempt a = {.run_id = r->run_id,
                     .cell_id = r->cell_ids[i],
                     .repeat = rep,
                     .status = st_name[status],
                     .exit_code = pr.exit_code,
                     .signal = pr.signal,
                     .stderr_tail = tail,
                     .command = command[0] ? command : NULL,
                     .started_at = started,
                     .ended_at = ended,
                     .wall_s = pr.wall_s > 0 ? pr.wall_s : -1,
                     .source = js ? stats : NULL,
                     .ingest_t0 = ingest_t0,
                     .ingest_metric = "harness_ingest_s"};
    if (access(dir, F_OK) == 0)
        write_cell_json(r, c, dir, rep, st_name[status], &pr, started, ended, command, tail, prov);
    int64_t aid;
    int res = res_attempt_record(e, r->db, &a, js, extra, nextra, &aid);
    if (res == IB_EPARSE && js) {
        /* a stats record we cannot take: keep the attempt, say why */
        size_t l = strlen(tail);
        snprintf(tail + l, sizeof pr.tail + 512 - l, "\nharness: %s", e->msg);
        status = ST_FAILED;
        a.status = st_name[status];
        a.source = NULL;
        ib_err_init(e);
        res = res_attempt_record(e, r->db, &a, NULL, extra, nextra, &aid);
    }
    json_decref(js);
    if (res) {
        ib_free(tail);
        return res;
    }
    if (status == ST_OK) {
        r->nok++;
        if (!r->o.keep) nftw(dir, remove_fits, 16, FTW_PHYS);
        rm_rf(spill);
    } else {
        r->nfail++;
    }
    char note[256] = "";
    if (status != ST_OK) failure_note(tail, note, sizeof note);
    hx_progress_end(&r->prog, st_name[status], pr.wall_s, note);
    ib_free(tail);
    return status == ST_INTERRUPTED ? IB_EINTERRUPTED : 0;
}

/* ---- the command ------------------------------------------------------------ */

static int prepare(ib_err *e, runner *r)
{
    r->cell_ids = ib_calloc(r->ncells, sizeof *r->cell_ids);
    size_t nt;
    if (ib_mul_size(r->ncells, (size_t)r->repeats, &nt))
        return ib_error(e, IB_EOVERFLOW, "too many attempts");
    r->todo = ib_calloc(nt, 1);
    r->ds = ib_calloc(r->ncells, sizeof *r->ds);
    if (!r->cell_ids || !r->todo || !r->ds) return ib_error(e, IB_ENOMEM, "out of memory");
    unsigned char *ok = ib_calloc((size_t)r->repeats, 1);
    if (!ok) return ib_error(e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->ncells; i++) {
        const wl_cell *c = r->cells[i];
        json_t *params = wl_suite_cell_params(c);
        if (!params) {
            ib_free(ok);
            return ib_error(e, IB_ENOMEM, "out of memory");
        }
        int rc = res_cell_put(e, r->db, c->hash, params, &r->cell_ids[i]);
        json_decref(params);
        if (!rc) rc = res_cell_ok_repeats(e, r->db, r->run_id, r->cell_ids[i], r->repeats, ok);
        if (rc) {
            ib_free(ok);
            return rc;
        }
        for (int k = 0; k < r->repeats; k++) r->todo[i * (size_t)r->repeats + k] = !ok[k];
        if (!ds_for(r, c)) {
            dsstate *d = &r->ds[r->nds++];
            memcpy(d->key, c->dataset_key, sizeof d->key);
            snprintf(d->dir, sizeof d->dir, "%s/%s", r->o.data_dir, c->dataset_key);
        }
    }
    ib_free(ok);
    return 0;
}

static void usage(FILE *f, const ib_opt *o)
{
    fprintf(f, "usage: harness run-suite SUITE.yaml [options]\n\n"
               "Run every cell of a suite and record the results.\n\noptions:\n");
    ib_print_opts(f, o);
}

static void dry_run(runner *r)
{
    printf("suite %s (%s): %zu cell%s x %d repeat%s = %zu attempts, timeout %g s\n",
           r->suite->name, r->suite->path, r->ncells, r->ncells == 1 ? "" : "s", r->repeats,
           r->repeats == 1 ? "" : "s", r->ncells * (size_t)r->repeats, r->timeout);
    for (size_t i = 0; i < r->ncells; i++) {
        char label[512];
        wl_suite_cell_label(r->cells[i], label, sizeof label);
        printf("%4zu  %.12s  %s\n", i + 1, r->cells[i]->hash, label);
    }
}

static void runner_release(runner *r)
{
    ib_free(r->cells);
    ib_free(r->cell_ids);
    ib_free(r->todo);
    ib_free(r->ds);
    res_close(r->db);
    wl_suite_destroy(r->suite);
}

int hx_cmd_run_suite(int argc, char **argv)
{
    runner r;
    memset(&r, 0, sizeof r);
    opts *o = &r.o;
    o->db = RES_DEFAULT_DB;
    o->launcher = "local";
    o->data_dir = "data/cache";
    o->out_dir = "results/cells";
    o->timeout = -1;
    const ib_opt table[] = {
        {"db", IB_OPT_STR, &o->db, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"resume", IB_OPT_FLAG, &o->resume, NULL,
         "continue the latest unfinished run of this suite"},
        {"dry-run", IB_OPT_FLAG, &o->dry_run, NULL, "print the cells and exit"},
        {"repeat", IB_OPT_INT, &o->repeat, "N", "attempts per cell (default: the suite's)"},
        {"timeout", IB_OPT_DBL, &o->timeout, "S", "seconds per attempt (default: the suite's)"},
        {"filter", IB_OPT_STR, &o->filter, "EXPR", "only cells matching key=value[,key=value]"},
        {"launcher", IB_OPT_STR, &o->launcher, "local|mpirun",
         "mpirun for every cell (default: only when nodes > 1)"},
        {"data-dir", IB_OPT_STR, &o->data_dir, "DIR", "dataset cache (default data/cache)"},
        {"out-dir", IB_OPT_STR, &o->out_dir, "DIR", "attempt outputs (default results/cells)"},
        {"datasets-dir", IB_OPT_STR, &o->datasets_dir, "DIR", "where dataset specs live"},
        {"keep-products", IB_OPT_FLAG, &o->keep, NULL, "keep FITS products of successful cells"},
        {"help", IB_OPT_FLAG, &o->help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    char **pos = ib_calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("run-suite", &e);
    }
    if (ib_parse_opts(&e, "run-suite", table, argc, argv, pos, &npos)) {
        ib_free(pos);
        return hx_fail("run-suite", &e);
    }
    if (o->help) {
        ib_free(pos);
        usage(stdout, table);
        return 0;
    }
    int status = 1;
    int rc = 0;
    if (npos != 1) {
        rc = ib_error(&e, IB_EINVAL, "expected one suite file, got %d (see --help)", npos);
        goto out;
    }
    if (strcmp(o->launcher, "local") && strcmp(o->launcher, "mpirun")) {
        rc = ib_error(&e, IB_EINVAL, "--launcher must be local or mpirun, got '%s'",
                      o->launcher);
        goto out;
    }
    if (o->repeat < 0 || (o->timeout != -1 && o->timeout <= 0)) {
        rc = ib_error(&e, IB_EINVAL, "--repeat must be >= 1 and --timeout > 0");
        goto out;
    }
    wl_suite_opts so = {.datasets_dir = o->datasets_dir};
    rc = wl_suite_load(&e, pos[0], &so, &r.suite);
    if (rc) goto out;
    r.repeats = o->repeat > 0 ? o->repeat : r.suite->repeats;
    r.timeout = o->timeout > 0 ? o->timeout : r.suite->timeout;
    r.cells = ib_calloc(r.suite->ncells, sizeof *r.cells);
    if (!r.cells) {
        rc = ib_error(&e, IB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r.suite->ncells; i++) {
        int m;
        rc = wl_suite_filter(&e, &r.suite->cells[i], o->filter, &m);
        if (rc) goto out;
        if (m) r.cells[r.ncells++] = &r.suite->cells[i];
    }
    if (r.ncells == 0) {
        rc = ib_error(&e, IB_EINVAL, "filter '%s' matches none of the %zu cells of suite '%s'",
                      o->filter, r.suite->ncells, r.suite->path);
        goto out;
    }
    if (o->dry_run) {
        dry_run(&r);
        status = 0;
        goto out;
    }

    snprintf(r.imager, sizeof r.imager, "%s/imager", hx_bin_dir());
    snprintf(r.harness, sizeof r.harness, "%s/harness", hx_bin_dir());
    if (access(r.imager, X_OK) != 0) {
        rc = ib_error(&e, IB_ENOTFOUND, "imager '%s' not found (build it: make programs)",
                      r.imager);
        goto out;
    }
    r.have_mpirun = hx_which("mpirun", r.mpirun, sizeof r.mpirun) == 0;
    r.cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (r.cores < 1) r.cores = 1;

    res_provenance *prov = ib_calloc(1, sizeof *prov);
    if (!prov) {
        rc = ib_error(&e, IB_ENOMEM, "out of memory");
        goto out;
    }
    res_provenance_collect(prov);
    size_t len = (size_t)snprintf(prov->command, sizeof prov->command, "harness run-suite");
    for (int i = 0; i < argc && len < sizeof prov->command; i++)
        len += (size_t)snprintf(prov->command + len, sizeof prov->command - len, " %s", argv[i]);

    rc = res_open(&e, o->db, NULL, &r.db);
    if (!rc && o->resume) {
        rc = res_run_resume(&e, r.db, r.suite->name, &r.run_id);
        if (rc == IB_ENOTFOUND) rc = 0, r.run_id = 0;
    }
    if (!rc && !r.run_id)
        rc = res_run_begin(&e, r.db, r.suite->name, r.suite->path, r.suite->file_hash, prov,
                           &r.run_id);
    if (rc) {
        ib_free(prov);
        goto out;
    }
    rc = prepare(&e, &r);
    size_t total = 0;
    for (size_t k = 0; !rc && k < r.ncells * (size_t)r.repeats; k++) total += r.todo[k];
    hx_progress_init(&r.prog, stdout, total);
    if (!rc)
        hx_progress_message(&r.prog, "run %lld: suite %s, %zu cell%s x %d repeat%s, %zu to run%s",
                            (long long)r.run_id, r.suite->name, r.ncells,
                            r.ncells == 1 ? "" : "s", r.repeats, r.repeats == 1 ? "" : "s",
                            total,
                            o->resume && total < r.ncells * (size_t)r.repeats
                                ? " (resumed: the others already succeeded)"
                                : "");
    hx_signals_install();
    size_t ordinal = 0;
    /* round-robin: repeat k of every cell before repeat k+1 of any */
    for (int k = 0; !rc && k < r.repeats; k++)
        for (size_t i = 0; !rc && i < r.ncells; i++) {
            if (!r.todo[i * (size_t)r.repeats + k]) continue;
            if (hx_interrupted()) {
                rc = IB_EINTERRUPTED;
                break;
            }
            rc = run_attempt(&e, &r, i, k, ordinal++, prov);
        }
    hx_signals_restore();
    ib_free(prov);
    const char *run_status = rc == IB_EINTERRUPTED ? "interrupted"
                             : rc ? "failed"
                             : r.nfail ? "failed" : "complete";
    ib_err fe;
    ib_err_init(&fe);
    if (res_run_finish(&fe, r.db, r.run_id, run_status) && !rc) {
        rc = fe.code;
        e = fe;
    }
    if (rc == IB_EINTERRUPTED) {
        fprintf(stderr, "harness run-suite: interrupted; run %lld recorded as interrupted "
                        "(continue with --resume)\n", (long long)r.run_id);
        status = 130;
        rc = 0;
        goto out;
    }
    if (rc) goto out;
    hx_progress_message(&r.prog, "run %lld %s: %d ok, %d not ok (harness show %lld --db %s)",
                        (long long)r.run_id, run_status, r.nok, r.nfail, (long long)r.run_id,
                        o->db);
    status = r.nfail ? 1 : 0;
out:
    ib_free(pos);
    runner_release(&r);
    if (rc) return hx_fail("run-suite", &e);
    return status;
}
