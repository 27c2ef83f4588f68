/*
 * targets.c: the one-input entry points shared by the libFuzzer targets
 * (tests/fuzz/fuzz_*.c, built by scripts/fuzz.sh with clang) and by the
 * regression test (tests/test_fuzz_regress.c, a plain cmocka program), so
 * that a file found by a fuzzer is replayed through exactly the code that
 * found it. Included as source by both (everything here is static inline):
 * the Makefile's test rule links tests/test_*.c, tests/testutil.o and the
 * module libraries only.
 *
 * Each fz_* function feeds one input to one parser of outside input the
 * way the programs do, and returns what the parser returned: 0, or a
 * negative ib_errno with the message in *e. fz_contract says whether that
 * result keeps the parsers' promise: 0, or a known negative code with a
 * non-empty message naming the input (ctx->name). Nothing is written
 * outside the context's private temporary directory.
 */
#ifndef IMBENCH_FUZZ_TARGETS_C
#define IMBENCH_FUZZ_TARGETS_C

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <jansson.h>
#include <sqlite3.h>

#include "common/common.h"
#include "imaging/imaging.h"
#include "reports/reports.h"
#include "results/results.h"
#include "workloads/suite.h"
#include "workloads/workloads.h"

/* The targets: fz_<name>, tests/fuzz/fuzz_<name>.c and the inputs in
 * tests/fuzz/corpus/<name>/ and tests/fuzz/crashes/<name>/. */
#define FZ_TARGET_MAP(X)                                          \
    X(suite, "workloads/suites: wl_suite_parse")                  \
    X(dataset, "workloads/datasets: wl_dataset_load")             \
    X(casa_log, "CASA logs: rep_casa_parse_buf")                  \
    X(baselines, "baselines YAML: rep_baselines_parse")           \
    X(stats_ingest, "stats JSON (+ tasks.csv): res_attempt_record") \
    X(vis_store, "vis.h5: img_vis_open + reads")

/* Stats inputs may carry the tasks CSV after this line. */
#define FZ_TASKS_SEP "\n--tasks.csv--\n"

/* Files the targets write into the temporary directory. */
static const char *const fz_files[] = {"spec",        "vis.h5",      "stats.json",
                                       "tasks.csv",   "fuzz.db",     "fuzz.db-wal",
                                       "fuzz.db-shm", "fuzz.db-journal", NULL};

typedef struct fz_ctx {
    char srcdir[PATH_MAX];    /* the source tree (workloads/datasets lives there) */
    char datasets[PATH_MAX + 32]; /* srcdir/workloads/datasets */
    char tmp[PATH_MAX];       /* private temporary directory, removed by fz_release */
    char name[PATH_MAX + 32]; /* how the last input is named in messages */
    const char *violation;    /* set by a target when it sees a broken promise */
    res_db *db;               /* stats_ingest: results database in tmp (lazily opened) */
    int64_t run_id, cell_id;
} fz_ctx;

/*
 * Set up ctx: srcdir is the source tree (NULL: $IMBENCH_SRCDIR, else the
 * running binary's ../.., else "."); a fresh directory under $TMPDIR (or
 * /tmp). 0, or -1 with a message on stderr.
 */
static inline int fz_init(fz_ctx *c, const char *srcdir)
{
    memset(c, 0, sizeof *c);
    if (!srcdir || !*srcdir) srcdir = getenv("IMBENCH_SRCDIR");
    char exe[PATH_MAX];
    if (!srcdir || !*srcdir) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 16);
        char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
        if (slash) {
            strcpy(slash, "/../..");
            srcdir = exe;
        } else {
            srcdir = ".";
        }
    }
    snprintf(c->srcdir, sizeof c->srcdir, "%s", srcdir);
    snprintf(c->datasets, sizeof c->datasets, "%s/workloads/datasets", srcdir);
    if (access(c->datasets, R_OK) != 0)
        snprintf(c->datasets, sizeof c->datasets, "workloads/datasets");
    const char *t = getenv("TMPDIR");
    snprintf(c->tmp, sizeof c->tmp, "%s/imbench-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(c->tmp)) {
        fprintf(stderr, "fuzz: cannot make a temporary directory '%s': %s\n", c->tmp,
                strerror(errno));
        return -1;
    }
    /* HDF5 prints its error stack unless told not to; the store's messages
     * say what went wrong. Its free lists would recycle freed blocks from
     * one input to the next, hiding use-after-free from ASan and making
     * findings depend on earlier inputs: keep none. */
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    H5set_free_list_limits(0, 0, 0, 0, 0, 0);
    return 0;
}

/* Close the database and remove the temporary directory. */
static inline void fz_release(fz_ctx *c)
{
    res_close(c->db);
    c->db = NULL;
    if (!c->tmp[0]) return;
    char p[PATH_MAX + 32];
    for (int i = 0; fz_files[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", c->tmp, fz_files[i]);
        unlink(p);
    }
    rmdir(c->tmp);
    c->tmp[0] = '\0';
}

/* Write bytes to tmp/file; the path into c->name. 0 or IB_EIO. */
static inline int fz_write(fz_ctx *c, ib_err *e, const char *file, const void *data,
                           size_t size)
{
    snprintf(c->name, sizeof c->name, "%s/%s", c->tmp, file);
    FILE *f = fopen(c->name, "wb");
    if (!f) return ib_error(e, IB_EIO, "fuzz: cannot write '%s': %s", c->name, strerror(errno));
    size_t n = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || n != size)
        return ib_error(e, IB_EIO, "fuzz: cannot write '%s'", c->name);
    return 0;
}

/* Does the result keep the contract? NULL if so, else what is wrong. */
static inline const char *fz_contract(const fz_ctx *c, int rc, const ib_err *e)
{
    if (c->violation) return c->violation;
    if (rc == 0) return NULL;
    if (rc > 0) return "positive return code";
    if (strcmp(ib_err_name(rc), "unknown") == 0) return "unknown error code";
    if (!e->msg[0]) return "error without a message";
    if (!strstr(e->msg, c->name)) return "error message does not name the input";
    return NULL;
}

/* ---- suite: wl_suite_parse on the bytes ------------------------------- */

static inline int fz_suite(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    snprintf(c->name, sizeof c->name, "fuzz-suite.yaml");
    wl_suite_opts o = {.datasets_dir = c->datasets};
    wl_suite *s = NULL;
    int rc = wl_suite_parse(e, c->name, (const char *)data, size, &o, &s);
    if (!rc) {
        /* Touch what the harness uses of every cell; a cell's parameters
         * must rebuild the same cell (as ingest rebuilds it), and its
         * label, read as a filter, must match it. */
        for (size_t i = 0; i < s->ncells && i < 256; i++) {
            const wl_cell *cell = &s->cells[i];
            char label[512], filter[600];
            wl_suite_cell_label(cell, label, sizeof label);
            json_t *p = wl_suite_cell_params(cell);
            wl_cell back;
            ib_err sub;
            ib_err_init(&sub);
            if (p && wl_suite_cell_from_params(&sub, p, &o, &back) == 0 &&
                strcmp(back.hash, cell->hash) != 0)
                abort();
            json_decref(p);
            int match = 0;
            snprintf(filter, sizeof filter, "hash=%.12s,dataset=%s", cell->hash, cell->dataset);
            if (wl_suite_filter(&sub, cell, filter, &match) == 0 && !match) abort();
        }
    }
    wl_suite_destroy(s);
    return rc;
}

/* ---- dataset: the bytes as a spec file, wl_dataset_load --------------- */

static inline int fz_dataset(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    /* Named without ".yaml" so that any 'name:' is accepted, as for a spec
     * given by path. */
    int rc = fz_write(c, e, "spec", data, size);
    if (rc) return rc;
    wl_dataset *d = ib_malloc(sizeof *d);
    if (!d) return ib_error(e, IB_ENOMEM, "fuzz: out of memory for '%s'", c->name);
    rc = wl_dataset_load(e, c->name, d);
    ib_free(d);
    return rc;
}

/* ---- casa_log: rep_casa_parse_buf ------------------------------------- */

static inline int fz_casa_log(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    snprintf(c->name, sizeof c->name, "fuzz-casa.log");
    rep_casa_log log;
    int rc = rep_casa_parse_buf(e, c->name, (const char *)data, size, &log);
    if (!rc) {
        for (size_t i = 0; i < log.ntasks; i++) (void)rep_casa_param(&log.tasks[i], "vis");
    }
    rep_casa_log_release(&log);
    return rc;
}

/* ---- baselines: rep_baselines_parse ----------------------------------- */

static inline int fz_baselines(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    snprintf(c->name, sizeof c->name, "fuzz-baselines.yaml");
    rep_baseline *b = NULL;
    size_t n = 0;
    int rc = rep_baselines_parse(e, c->name, (const char *)data, size, &b, &n);
    rep_baselines_destroy(b, n);
    return rc;
}

/* ---- stats_ingest: JSON as `harness ingest` reads it, then recorded --- */

static inline int fz_stats_db(fz_ctx *c, ib_err *e)
{
    if (c->db) return 0;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/fuzz.db", c->tmp);
    int rc = res_open(e, path, NULL, &c->db);
    /* Durability is not what is tested: no fsync per input. */
    if (!rc) sqlite3_exec(res_sqlite(c->db), "PRAGMA synchronous=OFF", NULL, NULL, NULL);
    if (!rc) rc = res_run_begin(e, c->db, "fuzz", NULL, NULL, NULL, &c->run_id);
    json_t *params = rc ? NULL : json_pack("{s:s, s:f, s:i}", "dataset", "alma-xc66",
                                           "scale", 0.001, "nodes", 1);
    if (!rc && !params) rc = ib_error(e, IB_ENOMEM, "fuzz: out of memory");
    if (!rc) rc = res_cell_put(e, c->db, "fuzz-cell", params, &c->cell_id);
    json_decref(params);
    if (rc) {
        res_close(c->db);
        c->db = NULL;
    }
    return rc;
}

/* Remove attempt id and its rows so that the database stays small. */
static inline void fz_stats_forget(fz_ctx *c, int64_t id)
{
    static const char *const tables[] = {"metrics", "phases", "counters", "comm", "tasks",
                                         "warnings", NULL};
    sqlite3 *db = res_sqlite(c->db);
    char sql[128];
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (int i = 0; tables[i]; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE attempt_id = %lld", tables[i],
                 (long long)id);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    snprintf(sql, sizeof sql, "DELETE FROM attempts WHERE id = %lld", (long long)id);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}

/*
 * The input is a stats JSON, optionally followed by FZ_TASKS_SEP and the
 * tasks CSV that a "tasks_file": "tasks.csv" member names (written beside
 * the stats file; without the separator there is no tasks file).
 */
static inline int fz_stats_ingest(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    snprintf(c->name, sizeof c->name, "%s/stats.json", c->tmp);
    int rc = fz_stats_db(c, e);
    if (rc) return rc;
    size_t jlen = size;
    const uint8_t *csv = NULL;
    size_t seplen = strlen(FZ_TASKS_SEP);
    for (size_t i = 0; size >= seplen && i <= size - seplen; i++)
        if (data[i] == '\n' && memcmp(data + i, FZ_TASKS_SEP, seplen) == 0) {
            jlen = i;
            csv = data + i + seplen;
            break;
        }
    char tasks[PATH_MAX + 32];
    snprintf(tasks, sizeof tasks, "%s/tasks.csv", c->tmp);
    if (csv) {
        rc = fz_write(c, e, "tasks.csv", csv, size - (size_t)(csv - data));
        if (rc) return rc;
    } else {
        unlink(tasks);
    }
    snprintf(c->name, sizeof c->name, "%s/stats.json", c->tmp);
    json_error_t je;
    json_t *stats = json_loadb((const char *)data, jlen, 0, &je);
    if (!stats) /* the message cmd_ingest gives */
        return ib_error(e, IB_EPARSE, "'%s' line %d: %s", c->name, je.line, je.text);
    res_attempt a = {.run_id = c->run_id,
                     .cell_id = c->cell_id,
                     .repeat = 0,
                     .status = RES_OK,
                     .exit_code = 0,
                     .wall_s = 1.0,
                     .source = c->name};
    int64_t id = 0;
    rc = res_attempt_record(e, c->db, &a, stats, NULL, 0, &id);
    json_decref(stats);
    if (!rc) fz_stats_forget(c, id);
    return rc;
}

/* ---- vis_store: the bytes as DIR/vis.h5, opened and read ---------------- */

static inline int fz_vis_store(fz_ctx *c, ib_err *e, const uint8_t *data, size_t size)
{
    c->violation = NULL;
    int rc = fz_write(c, e, "vis.h5", data, size);
    if (rc) return rc;
    img_vis_store *s = NULL;
    rc = img_vis_open(e, c->tmp, &s);
    if (rc) {
        c->violation = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) > 0
                           ? "HDF5 identifiers left open after a failed img_vis_open"
                           : NULL;
        return rc;
    }
    /* What the imager reads first: row metadata and one channel slab. */
    const img_vis_meta *m = img_vis_meta_get(s);
    int64_t nr = m->nrow < 16 ? m->nrow : 16, nc = m->nchan < 4 ? m->nchan : 4;
    size_t n = (size_t)nr * (size_t)nc * (size_t)m->npol;
    double *uvw = ib_malloc(sizeof(double) * 3 * (size_t)nr);
    double *time = ib_malloc(sizeof(double) * (size_t)nr);
    int32_t *ids = ib_malloc(sizeof(int32_t) * 3 * (size_t)nr);
    float *vis = ib_malloc(sizeof(float) * 2 * n), *wt = ib_malloc(sizeof(float) * n);
    uint8_t *flag = ib_malloc(n);
    if (!uvw || !time || !ids || !vis || !wt || !flag)
        rc = ib_error(e, IB_ENOMEM, "fuzz: out of memory reading '%s'", c->name);
    if (!rc)
        rc = img_vis_read_rows(e, s, 0, nr, uvw, ids, ids + nr, ids + 2 * nr, time);
    uint64_t bytes = 0;
    if (!rc) rc = img_vis_read_slab(e, s, 0, nr, 0, nc, vis, wt, flag, &bytes);
    if (!rc) rc = img_vis_read_chans(e, s, 0, nr, m->nchan - nc, nc, vis, wt, flag, &bytes);
    ib_free(uvw);
    ib_free(time);
    ib_free(ids);
    ib_free(vis);
    ib_free(wt);
    ib_free(flag);
    int rc2 = img_vis_close(e, s);
    /* Whatever happened, the store must leave no HDF5 object open (a
     * leaked identifier keeps the file and its caches alive). */
    c->violation = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) > 0
                       ? "HDF5 identifiers left open after img_vis_close"
                       : NULL;
    return rc ? rc : rc2;
}

/* Dispatch by target name ("suite", ...); IB_ENOTFOUND (no message) if unknown. */
typedef int (*fz_fn)(fz_ctx *, ib_err *, const uint8_t *, size_t);

static inline fz_fn fz_target(const char *name)
{
#define FZ_FIND(t, what) \
    if (strcmp(name, #t) == 0) return fz_##t;
    FZ_TARGET_MAP(FZ_FIND)
#undef FZ_FIND
    return NULL;
}

/*
 * One libFuzzer iteration: run target fn on the input and abort (which the
 * fuzzer records as a crash, with the input) when the contract is broken.
 */
static inline void fz_fuzz_one(fz_ctx *c, fz_fn fn, const char *target, const uint8_t *data,
                               size_t size)
{
    ib_err e;
    ib_err_init(&e);
    int rc = fn(c, &e, data, size);
    const char *why = fz_contract(c, rc, &e);
    if (why) {
        fprintf(stderr, "fuzz_%s: %s (return %d, %s): '%s'\n", target, why, rc,
                ib_err_name(rc), e.msg);
        abort();
    }
}

#endif
