/*
 * test_report: `harness report`, `harness baselines` and `harness
 * casa-import` against a results database built here with the res_ API.
 * The fixture's cells follow a planted physical law (thread-seconds per
 * phase linear in the cell's sizes, wall = 1 s + 1.1 P / cores): a sweep
 * over cores 1x1, 1x2, 2x1, 4x1 (two layouts on 2 cores), a chunk sweep
 * with spill, a support sweep, schedulers and serial writes on 2 ranks
 * with per-rank loads, a task file, small cells at two scales and
 * "full-size" cells (scale 1, one planted 2x off), a two-point dataset,
 * failed and timed-out attempts, unavailable PAPI counters.
 * Checks: index.html is well-formed (xmllint as HTML and as XML when
 * present, and a tag-balance check always) and holds the expected tables;
 * figure data on cores (no curve holds two layouts of the same cores);
 * the fits' verdicts; the cost model's predictions beside the full-size
 * measurements (stored on request); labelled log ticks on any range;
 * every file written whole (a failing write, a full tmpfs, a killed
 * gnuplot leave the previous files and no partial or empty image);
 * PNGs carry the PNG signature and SVGs parse as XML; baselines import
 * counts and re-import replaces; CASA logs are stored or refused as
 * documented and a failing file leaves nothing behind.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <sys/mount.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/rep_internal.h"
#include "reports/reports.h"
#include "results/results.h"
#include "tests/testutil.h"

/* ---- helpers ----------------------------------------------------------- */

#define CLOSE(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

#define CHECK_OK(expr, err)                               \
    do {                                                  \
        int rc_ = (expr);                                 \
        if (rc_) print_message("%s\n", (err).msg);        \
        assert_int_equal(rc_, 0);                         \
    } while (0)

static const char *srcdir(void)
{
    const char *d = getenv("IMBENCH_SRCDIR");
    return d && *d ? d : ".";
}


static int have(const char *prog)
{
    return tu_run(NULL, "command -v %s >/dev/null", prog) == 0;
}

static int db_count(const char *dbpath, const char *sql)
{
    sqlite3 *h;
    if (sqlite3_open(dbpath, &h) != SQLITE_OK) return -1;
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return n;
}

/*
 * Strict tag balance for the HTML the report writes: every element is
 * closed (or self-closed), in order, and nothing but <!DOCTYPE> and
 * comments sits outside. Returns 0 or the byte offset + 1 of the problem.
 */
static long check_balanced(const char *s)
{
    char stack[256][32];
    int depth = 0;
    const char *p = s;
    while ((p = strchr(p, '<'))) {
        if (!strncmp(p, "<!--", 4)) {
            const char *q = strstr(p, "-->");
            if (!q) return p - s + 1;
            p = q + 3;
            continue;
        }
        if (!strncmp(p, "<!DOCTYPE", 9)) {
            p = strchr(p, '>');
            if (!p) return 1;
            continue;
        }
        const char *end = strchr(p, '>');
        if (!end) return p - s + 1;
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (!len || len >= 32) return p - s + 1;
        int self = end[-1] == '/';
        if (closing) {
            if (!depth || strlen(stack[depth - 1]) != len || strncmp(stack[depth - 1], name, len))
                return p - s + 1;
            depth--;
        } else if (!self) {
            if (depth == 256) return p - s + 1;
            memcpy(stack[depth], name, len);
            stack[depth][len] = '\0';
            depth++;
        }
        p = end + 1;
    }
    return depth ? (long)strlen(s) : 0;
}

/* ---- the fixture database ------------------------------------------------- */

typedef struct fixture {
    char *dir;
    char db[4200];
    int64_t run;
    int64_t gantt_cell; /* the 4x1 cell: it has a tasks.csv */
    int64_t full_ok, full_off; /* full-size cells: on the law, and 2x off it */
} fixture;

static const double noise[3] = {1.00, 1.02, 0.98}; /* median = the planted value */

/* One cell of the fixture. */
typedef struct spec {
    const char *dataset;
    double scale;
    int nodes, threads, chunks, support;
    const char *schedule; /* NULL: not set */
    int serial;
    int nrep, with_tasks;
    const char *status;   /* non-ok status of repeat 0, or NULL */
    double off;           /* wall factor off the law (1: on it) */
} spec;

/* The planted law: the sizes of a cell at scale s and its thread-seconds. */
typedef struct law {
    double nrow, nchan, samples, bytes_read, bytes_written;
    double read, weight, grid, fft, correct, write; /* thread-seconds */
    double P, wall;
} law;

#define LAW_G (256.0 * 1.2 * 256.0 * 1.2)

static law law_of(const spec *c, uint64_t id)
{
    law L;
    L.nrow = c->scale >= 1 ? 100000 : c->scale > 0.002 ? 20000 : 10000;
    L.nchan = c->scale >= 1 ? 1000 : c->scale > 0.002 ? 200 : 100;
    L.samples = L.nrow * L.nchan * 2;
    L.bytes_read = 10 * L.samples;
    L.bytes_written = 256.0 * 256 * L.nchan * 2 * 4;
    /* 2% jitter per cell and phase: the fits get bands, not zero widths */
    double j[6];
    for (int k = 0; k < 6; k++) j[k] = 1 + 0.02 * ib_gauss(77, id, (uint64_t)k, 0);
    double read = 0.01 + 2e-9 * L.bytes_read;
    double fft = 0.002 + 1.5e-9 * L.nchan * 2 * LAW_G * log2(LAW_G);
    L.read = 0.8 * read * j[0];
    L.weight = 0.2 * read * j[1];
    L.grid = 4e-9 * L.samples * c->support * c->support * j[2];
    L.fft = 0.8 * fft * j[3];
    L.correct = 0.2 * fft * j[4];
    L.write = (0.001 + 1e-9 * L.bytes_written) * j[5];
    double P = 0.01 + 2e-9 * L.bytes_read + 4e-9 * L.samples * c->support * c->support + fft +
               0.001 + 1e-9 * L.bytes_written;
    L.P = L.read + L.weight + L.grid + L.fft + L.correct + L.write;
    double chunk = c->chunks == 1 ? 1.6 : c->chunks == 2 ? 1.2 : c->chunks == 8 ? 1.1 : 1.0;
    L.wall = (1.0 + 1.1 * P / (c->nodes * c->threads)) * chunk * c->off;
    return L;
}

static json_t *stats_for(const spec *c, const law *L, double f, int with_tasks)
{
    double spill = c->chunks == 1 ? 1e9 : c->chunks == 2 ? 5e8 : 0, wall = L->wall * f;
    json_t *s = json_pack("{s:s, s:s, s:s}", "schema", "imbench-stats/1", "program", "imager",
                          "version", "0.1.0");
    json_object_set_new(s, "params",
                        json_pack("{s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:b}", "gridder",
                                  "standard", "support", c->support, "image_nx", 256, "image_ny",
                                  256, "padding", 1.2, "threads", c->threads, "chunks", c->chunks,
                                  "ranks", c->nodes, "psf", 0));
    json_object_set_new(s, "dataset", json_pack("{s:s, s:f, s:f, s:i, s:i}", "name", c->dataset,
                                                "nrow", L->nrow, "nchan", L->nchan, "npol", 2,
                                                "nfield", 1));
    json_object_set_new(s, "wall_seconds", json_real(wall));
    double comm = c->nodes > 1 ? 0.05 : 0;
    json_object_set_new(s, "phases",
                        json_pack("[{s:s,s:f},{s:s,s:f},{s:s,s:f},{s:s,s:f},{s:s,s:f},{s:s,s:f},"
                                  "{s:s,s:f}]",
                                  "name", "read", "wall_s", L->read * f, "name", "weight",
                                  "wall_s", L->weight * f, "name", "grid", "wall_s", L->grid * f,
                                  "name", "fft", "wall_s", L->fft * f, "name", "correct",
                                  "wall_s", L->correct * f, "name", "write", "wall_s",
                                  L->write * f, "name", "comm", "wall_s", comm));
    if (c->nodes > 1) {
        json_t *ranks = json_array();
        for (int r = 0; r < c->nodes; r++)
            json_array_append_new(ranks, json_pack("{s:i, s:i, s:f, s:f, s:f}", "rank", r,
                                                   "threads", c->threads, "wall_s", wall,
                                                   "setup_s", 0.02, "busy_s",
                                                   L->P * f / c->nodes * (r ? 0.8 : 1.2)));
        json_object_set_new(s, "per_rank", ranks);
    }
    json_t *m = json_array();
#define MET(n, v, u, b) \
    json_array_append_new(m, json_pack("{s:s, s:f, s:s, s:s}", "name", n, "value", (double)(v), \
                                       "unit", u, "better", b))
    MET("wall_time", wall, "s", "lower");
    MET("samples_gridded", L->samples, "count", "higher");
    MET("grid_rate", L->samples / (0.6 * wall), "samples/s", "higher");
    MET("peak_rss", 2e8, "bytes", "lower");
    MET("bytes_read", L->bytes_read, "bytes", "lower");
    MET("bytes_written", L->bytes_written, "bytes", "lower");
    MET("comm_bytes", c->nodes > 1 ? 1e6 * (c->nodes - 1) : 0, "bytes", "lower");
    MET("comm_time", c->nodes > 1 ? 0.01 * c->nodes : 0, "s", "lower");
    MET("spill_bytes", spill, "bytes", "lower");
    MET("task_events", with_tasks ? 24 : 0, "count", "higher");
    if (c->nodes > 1) {
        MET("load_imbalance", 1.2, "ratio", "lower");
        MET("idle_share", 0.1, "ratio", "lower");
    }
#undef MET
    json_object_set_new(s, "metrics", m);
    json_object_set_new(
        s, "counters",
        json_pack("{s:{s:b, s:s, s:[]}, s:[{s:s, s:f}]}", "papi", "available", 0, "reason",
                  "PAPI_ENOCMP: no hardware counters on this virtual machine", "events", "sde",
                  "name", "vis_gridded", "value", L->samples));
    if (with_tasks) json_object_set_new(s, "tasks_file", json_string("tasks.csv"));
    return s;
}

/* rank,thread,chunk,chan,phase,start,end: 2 ranks x 2 threads, read/grid/fft, a spill, comm */
static void write_tasks(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/tasks.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "rank,thread,chunk,chan,phase,start,end\n");
    int chunk = 0;
    for (int r = 0; r < 2; r++)
        for (int t = 0; t < 2; t++) {
            double at = 0.01 * (r + t);
            for (int k = 0; k < 2; k++, chunk++) {
                fprintf(f, "%d,%d,%d,%d,read,%.3f,%.3f\n", r, t, chunk, chunk * 10, at, at + 0.1);
                fprintf(f, "%d,%d,%d,%d,grid,%.3f,%.3f\n", r, t, chunk, chunk * 10, at + 0.1,
                        at + 0.6);
                fprintf(f, "%d,%d,%d,%d,%s,%.3f,%.3f\n", r, t, chunk, chunk * 10,
                        k ? "fft" : "spill", at + 0.6, at + 0.8);
                at += 0.8;
            }
        }
    fprintf(f, "0,0,-1,-1,comm,1.7,1.9\n1,0,-1,-1,comm,1.7,1.95\n");
    fclose(f);
}

static int64_t add_cell(fixture *fx, res_db *db, const spec *c)
{
    ib_err e;
    char hash[160];
    snprintf(hash, sizeof hash, "%s-s%g-n%d-t%d-c%d-w%d-%s-%d-0123456789abcdef", c->dataset,
             c->scale, c->nodes, c->threads, c->chunks, c->support,
             c->schedule ? c->schedule : "-", c->serial);
    json_t *p = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:f, s:i}", "dataset", c->dataset,
                          "nodes", c->nodes, "threads", c->threads, "chunks", c->chunks,
                          "support", c->support, "gridder", "standard", "image", "256x256",
                          "scale", c->scale, "seed", 1);
    if (c->schedule) json_object_set_new(p, "schedule", json_string(c->schedule));
    if (c->serial) json_object_set_new(p, "serial_write", json_true());
    int64_t cell;
    assert_int_equal(res_cell_put(&e, db, hash, p, &cell), 0);
    json_decref(p);
    law L = law_of(c, (uint64_t)cell);
    for (int r = 0; r < c->nrep; r++) {
        char dir[4200], stats[4300];
        snprintf(dir, sizeof dir, "%s/cells/%lld/r%d", fx->dir, (long long)cell, r);
        assert_int_equal(ib_mkdir_p(&e, dir), 0);
        snprintf(stats, sizeof stats, "%s/stats.json", dir);
        int ok = !c->status || r > 0; /* a non-ok status only for repeat 0 */
        json_t *s = ok ? stats_for(c, &L, noise[r % 3], c->with_tasks) : NULL;
        if (s) json_dump_file(s, stats, JSON_COMPACT);
        if (s && c->with_tasks) write_tasks(dir);
        char ts[40];
        snprintf(ts, sizeof ts, "2026-01-01T00:%02lld:%02d.000Z", (long long)(cell % 60), r);
        res_attempt a = {.run_id = fx->run, .cell_id = cell, .repeat = r,
                         .status = ok ? RES_OK : c->status, .exit_code = ok ? 0 : 137,
                         .signal = ok ? 0 : 9,
                         .stderr_tail = ok ? NULL : "imager: reading chunk 3\nkilled: timeout\n",
                         .started_at = ts, .wall_s = L.wall * noise[r % 3],
                         .source = s ? stats : NULL};
        CHECK_OK(res_attempt_record(&e, db, &a, s, NULL, 0, NULL), e);
        json_decref(s);
    }
    return cell;
}

/* The fixture's cells (see the file's opening comment). */
static const spec cells_spec[] = {
    /* cores on alma-xc66, support 7: 1x1, 1x2, 2x1, 4x1 */
    {"alma-xc66", 0.001, 1, 1, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 1, 2, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 2, 1, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 4, 1, 4, 7, NULL, 0, 3, 1, NULL, 1},
    /* support 17 on 1x1, 2x1, 4x1; 31 on 1x1 */
    {"alma-xc66", 0.001, 1, 1, 4, 17, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 2, 1, 4, 17, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 4, 1, 4, 17, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 1, 1, 4, 31, NULL, 0, 3, 0, NULL, 1},
    /* chunks 1, 2, 8 on 1x1 (1 and 2 spill) */
    {"alma-xc66", 0.001, 1, 1, 1, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 1, 1, 2, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 1, 1, 8, 7, NULL, 0, 3, 0, NULL, 1},
    /* schedulers and serial writes on 2 ranks */
    {"alma-xc66", 0.001, 2, 1, 4, 7, "dynamic", 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.001, 2, 1, 4, 7, NULL, 1, 3, 0, NULL, 1.3},
    /* a second small scale, then the full size (scale 1): on the law, and 2x off */
    {"alma-xc66", 0.004, 1, 1, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.004, 1, 2, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.004, 2, 1, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.004, 4, 1, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 0.004, 1, 1, 4, 17, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 1, 1, 2, 4, 7, NULL, 0, 3, 0, NULL, 1},
    {"alma-xc66", 1, 1, 1, 4, 7, NULL, 0, 3, 0, NULL, 2},
    /* two points, one repeat each: nothing identifiable */
    {"alma-x2e3", 0.001, 1, 1, 4, 7, NULL, 0, 1, 0, NULL, 1},
    {"alma-x2e3", 0.001, 1, 2, 4, 7, NULL, 0, 1, 0, NULL, 1},
    /* vla-chiles: a timed-out and a failed attempt, no sweep */
    {"vla-chiles", 0.001, 1, 2, 4, 7, NULL, 0, 3, 0, RES_TIMEOUT, 1},
    {"vla-chiles", 0.001, 2, 2, 8, 7, NULL, 0, 2, 0, RES_FAILED, 1},
};

static void build(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = tu_mkdtemp("report");
    assert_non_null(fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/results.db", fx->dir);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    CHECK_OK(res_open(&e, fx->db, NULL, &db), e);
    res_provenance p;
    memset(&p, 0, sizeof p);
    p.git_dirty = 0;
    snprintf(p.git_commit, sizeof p.git_commit, "0123abcd");
    snprintf(p.host, sizeof p.host, "testhost");
    snprintf(p.cpu_model, sizeof p.cpu_model, "Test CPU @ 2 GHz");
    snprintf(p.compiler, sizeof p.compiler, "gcc 12.2.0");
    snprintf(p.libs, sizeof p.libs, "{\"fftw\": \"3.3.10\"}");
    snprintf(p.tuning, sizeof p.tuning, "{\"free_page_reporting\":true,\"page_reporting_order\":9}");
    snprintf(p.command, sizeof p.command, "harness run-suite fixture.yaml");
    p.cores = 8;
    p.mem_bytes = 16000000000LL;
    CHECK_OK(res_run_begin(&e, db, "fixture", "fixture.yaml", "abc", &p, &fx->run), e);
    for (size_t i = 0; i < sizeof cells_spec / sizeof *cells_spec; i++) {
        int64_t c = add_cell(fx, db, &cells_spec[i]);
        if (cells_spec[i].with_tasks) fx->gantt_cell = c;
        if (cells_spec[i].scale >= 1) {
            if (cells_spec[i].off > 1) fx->full_off = c;
            else fx->full_ok = c;
        }
    }
    CHECK_OK(res_run_finish(&e, db, fx->run, "complete"), e);
    res_close(db);
}

/* IMBENCH_KEEP=1 keeps the fixture directory for a look at the report. */
static void destroy(fixture *fx)
{
    const char *keep = getenv("IMBENCH_KEEP");
    if (keep && *keep == '1') print_message("kept %s\n", fx->dir);
    else tu_rmtree(fx->dir);
    free(fx->dir);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx) return -1;
    build(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (fx) {
        destroy(fx);
        free(fx);
    }
    return 0;
}

static const rep_full_shape shapes[] = {
    {"alma-xc66", "standard", 315831, 7635, 2, 256, 256, 248e9, 1}, /* the fixture's image */
    {"vla-chiles", "standard", 727272, 30720, 2, 1000, 1000, 2.5e12, 1},
};

static void write_report_opts(const fixture *fx, const char *out, const char *gnuplot,
                              int store, rep_report_info *info)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = store ? RES_OPEN_EXISTING : RES_OPEN_READONLY};
    CHECK_OK(res_open(&e, fx->db, &oo, &db), e);
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.run_id = fx->run;
    o.out_dir = out;
    o.shapes = shapes;
    o.nshapes = 2;
    o.gnuplot = gnuplot;
    o.boot = 200;
    o.store_predictions = store;
    CHECK_OK(rep_report_write(&e, db, &o, info), e);
    res_close(db);
}

static void write_report(const fixture *fx, const char *out, const char *gnuplot,
                         rep_report_info *info)
{
    write_report_opts(fx, out, gnuplot, 0, info);
}

/* Every NAME.gp in dir: its data exists; a log axis has labelled ticks;
 * PNG signature and IEND; SVG parses. */
static size_t check_figures(const char *dir, int rendered)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    size_t n = 0;
    int xml = have("xmllint");
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        /* nothing half-written is left behind */
        if (strstr(de->d_name, ".rep-")) print_message("temporary left: %s\n", de->d_name);
        assert_null(strstr(de->d_name, ".rep-"));
        if (len < 4 || strcmp(de->d_name + len - 3, ".gp") != 0) continue;
        n++;
        char base[512], path[5000];
        snprintf(base, sizeof base, "%.*s", (int)(len - 3), de->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        char *gp = tu_slurp(path, NULL);
        assert_non_null(gp);
        /* the script names its data file(s), which exist */
        const char *q = strstr(gp, "plot '");
        if (q) {
            char dat[512];
            assert_int_equal(sscanf(q + 6, "%511[^']", dat), 1);
            snprintf(path, sizeof path, "%s/%s", dir, dat);
            if (access(path, R_OK) != 0) print_message("%s: missing data %s\n", base, dat);
            assert_int_equal(access(path, R_OK), 0);
        }
        /* numbers on the y axis: a log axis always comes with labelled ticks */
        if (strstr(gp, "\nset logscale y")) {
            if (!strstr(gp, "set ytics ('")) print_message("%s: log y without ticks\n", base);
            assert_non_null(strstr(gp, "set ytics ('"));
        }
        assert_non_null(strstr(gp, "set title '"));
        assert_non_null(strstr(gp, " ["));
        free(gp);
        if (!rendered) continue;
        snprintf(path, sizeof path, "%s/%s.png", dir, base);
        size_t plen = 0;
        char *png = tu_slurp(path, &plen);
        if (!png) print_message("%s: no PNG\n", base);
        assert_non_null(png);
        assert_true(plen > 20);
        assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
        assert_memory_equal(png + plen - 8, "IEND\xae\x42\x60\x82", 8);
        free(png);
        snprintf(path, sizeof path, "%s/%s.svg", dir, base);
        assert_int_equal(access(path, R_OK), 0);
        if (xml) {
            char *o = NULL;
            int st = tu_run(&o, "xmllint --noout '%s'", path);
            if (st) print_message("%s: %s\n", path, o);
            assert_int_equal(st, 0);
            free(o);
        }
    }
    closedir(d);
    return n;
}

/* A data file's line that starts with prefix, parsed as doubles into v. */
static int data_line(const char *dat, const char *prefix, double *v, int max)
{
    if (*prefix == '\n') prefix++; /* lines start after one */
    size_t lp = strlen(prefix);
    for (const char *l = dat; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, lp) != 0) continue;
        int k = 0;
        const char *p = l + lp;
        char *end;
        while (k < max) {
            double x = strtod(p, &end);
            if (end == p) break;
            v[k++] = x;
            p = end;
        }
        return k;
    }
    return -1;
}

/* The planted wall of a fixture cell, from the law without jitter. */
static double planted_wall(double scale, int nodes, int threads, int chunks, int support)
{
    spec c = {"x", scale, nodes, threads, chunks, support, NULL, 0, 1, 0, NULL, 1};
    double nrow = scale >= 1 ? 100000 : scale > 0.002 ? 20000 : 10000;
    double nchan = scale >= 1 ? 1000 : scale > 0.002 ? 200 : 100, samples = nrow * nchan * 2;
    double P = 0.01 + 2e-8 * samples + 4e-9 * samples * support * support + 0.002 +
               1.5e-9 * nchan * 2 * LAW_G * log2(LAW_G) + 0.001 + 1e-9 * 256.0 * 256 * nchan * 8;
    (void)c;
    double chunk = chunks == 1 ? 1.6 : chunks == 2 ? 1.2 : chunks == 8 ? 1.1 : 1.0;
    return (1.0 + 1.1 * P / (nodes * threads)) * chunk;
}

/* ---- tests ---------------------------------------------------------------- */

static char *slurp_in(const char *dir, const char *name)
{
    char path[9000];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *t = tu_slurp(path, NULL);
    if (!t) print_message("cannot read %s\n", path);
    assert_non_null(t);
    return t;
}

static void test_report_contents(void **state)
{
    fixture *fxp = *state, fx = *fxp;
    char out[4300];
    snprintf(out, sizeof out, "%s/report", fx.dir);
    rep_report_info info;
    write_report(&fx, out, NULL, &info);
    int rendered = info.gnuplot_note[0] == '\0';
    if (!rendered) print_message("gnuplot unavailable, image checks skipped: %s\n", info.gnuplot_note);
    assert_int_equal(info.run_id, fx.run);
    assert_true(info.plots >= 12);
    if (rendered) assert_int_equal(info.rendered, info.plots);
    char path[4500];
    snprintf(path, sizeof path, "%s/index.html", out);
    char *html = tu_slurp(path, NULL);
    assert_non_null(html);
    long bad = check_balanced(html);
    if (bad) print_message("unbalanced HTML near byte %ld: %.80s\n", bad, html + bad - 1);
    assert_int_equal(bad, 0);
    if (have("xmllint")) {
        char *o = NULL;
        int st = tu_run(&o, "xmllint --html --noout '%s'", path);
        if (st || (o && *o)) print_message("xmllint --html: %s\n", o);
        assert_int_equal(st, 0);
        assert_string_equal(o ? o : "", "");
        free(o);
        st = tu_run(&o, "xmllint --noout '%s'", path); /* strict: well-formed XML */
        if (st) print_message("xmllint (xml): %s\n", o);
        assert_int_equal(st, 0);
        free(o);
    } else {
        print_message("xmllint not installed: HTML checked by tag balance only\n");
    }
    const char *want[] = {"<table class=\"prov\">", "<table class=\"machine\">",
                          "<table class=\"cells\">", "<table class=\"amdahl\">",
                          "<table class=\"kf\">", "<table class=\"cost\">",
                          "<table class=\"cost2\">", "<table class=\"fullsize\">",
                          "<table class=\"layouts\">", "<table class=\"writes\">",
                          "<table class=\"baselines\">", "testhost", "Test CPU @ 2 GHz",
                          "0123abcd (clean)", "settings that move timings", "; model]",
                          "free page reporting on (order 9)",
                          "free page reporting was on: this VM hands freed memory back",
                          "no hardware counters: PAPI reported",
                          "PAPI_ENOCMP: no hardware counters on this virtual machine",
                          "attempt timeout", "attempt failed", "killed: timeout",
                          "id=\"ds-alma-xc66\"", "id=\"ds-vla-chiles\"",
                          "This run has no sweep along cores", "[measured here on 1-4 cores "
                          "(ranks x threads)]", "not a speedup", NULL};
    for (int i = 0; want[i]; i++) {
        if (!strstr(html, want[i])) print_message("index.html lacks '%s'\n", want[i]);
        assert_non_null(strstr(html, want[i]));
    }
    /* self-contained: no external resources */
    assert_null(strstr(html, "src=\"http"));
    assert_null(strstr(html, "href=\"http"));
    assert_null(strstr(html, "<script"));
    if (rendered) assert_non_null(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgo"));
    free(html);
    char *dat = slurp_in(out, "chunks-alma-xc66.dat");
    double v[8];
    assert_int_equal(data_line(dat, "\n1 ", v, 7), 7);
    CLOSE(v[0], planted_wall(0.001, 1, 1, 1, 7), 1e-6);
    CLOSE(v[4], 1e9, 0);
    assert_int_equal(data_line(dat, "\n8 ", v, 7), 7);
    CLOSE(v[0], planted_wall(0.001, 1, 1, 8, 7), 1e-6);
    free(dat);
    dat = slurp_in(out, "phases-alma-xc66.dat");
    assert_non_null(strstr(dat, "layout read weight grid fft correct write comm\n1x1 "));
    assert_non_null(strstr(dat, "\n2x1 "));
    free(dat);
    dat = slurp_in(out, "comm-alma-xc66.dat");
    assert_non_null(strstr(dat, " 2x1 1000000 1000000 1000000 0.02 "));
    assert_non_null(strstr(dat, " 4x1 3000000 3000000 3000000 0.04 "));
    free(dat);
    dat = slurp_in(out, "writes-alma-xc66.dat");
    assert_non_null(strstr(dat, "\"static, parallel writes\""));
    assert_non_null(strstr(dat, "\"dynamic, parallel writes\""));
    assert_non_null(strstr(dat, "\"static, serial (rank 0) writes\""));
    assert_int_equal(data_line(dat, "2 \"static, serial (rank 0) writes\" ", v, 4), 4);
    CLOSE(v[3], 1.3, 0.01); /* planted 30% slower */
    free(dat);
    dat = slurp_in(out, "imbalance-alma-xc66.dat");
    assert_non_null(strstr(dat, "\"static r0\" 0.02 "));
    assert_non_null(strstr(dat, "\"static serial r1\" 0.02 "));
    free(dat);
    snprintf(path, sizeof path, "gantt-cell%lld.dat", (long long)fx.gantt_cell);
    dat = slurp_in(out, path);
    assert_non_null(strstr(dat, "phase spill"));
    assert_non_null(strstr(dat, "phase comm"));
    free(dat);
    char *md = slurp_in(out, "report.md");
    assert_non_null(strstr(md, "| cell | hash | dataset | scale |"));
    assert_non_null(strstr(md, "[gnuplot script](speedup-alma-xc66.gp)"));
    if (rendered)
        assert_non_null(strstr(md, "![alma-xc66: runtime on cores [measured here on 1-4 cores "
                                   "(ranks x threads)]](runtime-alma-xc66.png)"));
    free(md);
    size_t nfig = check_figures(out, rendered);
    assert_int_equal(nfig, info.plots);
}

/*
 * Scaling on cores: every curve holds one layout per core count (so no
 * speedup between 1x2 and 2x1), speedups are against the one-core cell
 * with the ideal from cores, the two 2-core layouts sit side by side in
 * the layouts figure, and the fits say what they know: the 4x1 ranks
 * curve identifies Amdahl's s, the two-point dataset does not (and gets
 * no model curve).
 */
static void test_report_cores(void **state)
{
    fixture *fx = *state;
    char out[4300];
    snprintf(out, sizeof out, "%s/cores", fx->dir);
    rep_report_info info;
    write_report(fx, out, "/nonexistent/gnuplot", &info);
    char *dat = slurp_in(out, "cores-alma-xc66.dat");
    /* blocks: support 7 threads, support 7 ranks, support 17 ranks */
    assert_non_null(strstr(dat, "support=7: threads (1 rank)"));
    assert_non_null(strstr(dat, "support=7: ranks (1 thread each)"));
    assert_non_null(strstr(dat, "support=17: ranks (1 thread each)"));
    /* no block has two rows on the same cores */
    for (const char *b = strstr(dat, "# block"); b; b = strstr(b + 1, "# block")) {
        const char *end = strstr(b + 1, "# block");
        int prev = 0;
        for (const char *l = strchr(b, '\n') + 1; l && (!end || l < end) && *l;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            if (*l == '#' || *l == '\n') continue;
            int c = atoi(l);
            assert_true(c > prev);
            prev = c;
        }
    }
    double v[16];
    double w1 = planted_wall(0.001, 1, 1, 4, 7), w2 = planted_wall(0.001, 2, 1, 4, 7);
    double w4 = planted_wall(0.001, 4, 1, 4, 7);
    const char *ranks = strstr(dat, "support=7: ranks");
    assert_int_equal(data_line(ranks, "\n4 4 1 ", v, 10), 10);
    CLOSE(v[0], w4, 1e-6);
    CLOSE(v[4], w1 / w4, 1e-6);      /* speedup against 1 core */
    CLOSE(v[7], w1 / w4 / 4, 1e-6);  /* efficiency against the ideal from cores */
    assert_int_equal(data_line(ranks, "\n2 2 1 ", v, 10), 10);
    CLOSE(v[4], w1 / w2, 1e-6);
    free(dat);
    char *gp = slurp_in(out, "speedup-alma-xc66.gp");
    assert_non_null(strstr(gp, "x/1 with lines dt 2"));
    assert_non_null(strstr(gp, "ideal: n / base cores"));
    assert_non_null(strstr(gp, "model: Amdahl on ranks (1 thread each), s = "));
    assert_non_null(strstr(gp, "set xtics (1, 2, 4)"));
    free(gp);
    /* the two 2-core layouts: side by side, against each other */
    dat = slurp_in(out, "layouts-alma-xc66.dat");
    assert_non_null(strstr(dat, "2 cores: 1x2\""));
    assert_non_null(strstr(dat, "2 cores: 2x1\""));
    assert_int_equal(data_line(strstr(dat, "2 cores: 2x1"), "2 cores: 2x1\" ", v, 4), 4);
    CLOSE(v[3], w2 / planted_wall(0.001, 1, 2, 4, 7), 1e-6);
    free(dat);
    /* the two-point dataset: a speedup, no model curve, the table says why */
    gp = slurp_in(out, "speedup-alma-x2e3.gp");
    assert_null(strstr(gp, "model: Amdahl"));
    free(gp);
    char *html = slurp_in(out, "index.html");
    assert_non_null(strstr(html, "not identifiable from these points: as many points as "
                                 "parameters (2)"));
    assert_non_null(strstr(html, "- (not extrapolated)"));
    /* Amdahl on the ranks curve (support 7): s = 1 / T1 of the law */
    double P = (w1 - 1) / 1.1, s = 1 / (1 + 1.1 * P);
    char needle[64];
    snprintf(needle, sizeof needle, "%.3g [", s);
    print_message("planted s %.4f\n", s);
    assert_non_null(strstr(html, needle));
    free(html);
}

/* The cost model beside the full-size cells: fitted on the small ones
 * only, within a few percent of the cell on the law, the 2x-off cell
 * flagged, and the predictions stored (then replaced) on request. */
static void test_report_fullsize(void **state)
{
    fixture *fx = *state;
    char out[4300];
    snprintf(out, sizeof out, "%s/full", fx->dir);
    rep_report_info info;
    write_report_opts(fx, out, "/nonexistent/gnuplot", 1, &info);
    assert_int_equal(info.predictions, 2);
    assert_int_equal(info.stored, 2);
    assert_int_equal(info.off, 1);
    char *dat = slurp_in(out, "fullsize.dat");
    double v[8], want = planted_wall(1, 1, 2, 4, 7);
    const char *l = strstr(dat, "\"alma-xc66 standard 1x2, model ");
    assert_non_null(l);
    assert_int_equal(sscanf(strchr(l + 1, '"') + 1, "%lf %lf %lf %lf %lf %lf", &v[0], &v[1],
                            &v[2], &v[3], &v[4], &v[5]),
                     6);
    print_message("full size 1x2: measured %.4g, model %.4g [%.4g, %.4g], planted %.4g\n", v[0],
                  v[3], v[4], v[5], want);
    CLOSE(v[0], want, 1e-6 * want);
    CLOSE(v[3], want, 0.1 * want);
    l = strstr(dat, "\"alma-xc66 standard 1x1, model ");
    assert_non_null(l);
    assert_non_null(strstr(l, "OFF >25%"));
    /* the model-only full shape of vla-chiles (no full-size cell) */
    free(dat);
    char *html = slurp_in(out, "index.html");
    assert_non_null(strstr(html, "OFF BY MORE THAN 25%"));
    assert_non_null(strstr(html, "small-scale cells (scales 0.001 to 0.004)"));
    assert_non_null(strstr(html, "full shape (no full-size cell; model only)"));
    free(html);
    /* stored beside the measurement: one wall_time row per cell and its terms */
    assert_int_equal(db_count(fx->db, "SELECT count(*) FROM predictions WHERE metric = "
                                      "'wall_time'"),
                     2);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM predictions WHERE cell_id = %lld AND "
                              "metric = 'term:grid' AND measured > 0 AND value > 0",
             (long long)fx->full_ok);
    assert_int_equal(db_count(fx->db, sql), 1);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    CHECK_OK(res_open(&e, fx->db, NULL, &db), e);
    res_prediction *pr;
    size_t np;
    CHECK_OK(res_report_predictions(&e, db, fx->run, &pr, &np), e);
    assert_true(np >= 2);
    int seen = 0;
    for (size_t i = 0; i < np; i++)
        if (pr[i].cell_id == fx->full_ok && !strcmp(pr[i].metric, "wall_time")) {
            seen = 1;
            CLOSE(pr[i].measured, want, 1e-6 * want);
            assert_true(pr[i].lo <= pr[i].value && pr[i].value <= pr[i].hi);
            assert_non_null(strstr(pr[i].fitted_on, "\"scale_max\":0.004"));
            assert_non_null(strstr(pr[i].terms, "\"grid\""));
        }
    assert_true(seen);
    res_predictions_free(pr, np);
    res_close(db);
    /* storing again replaces */
    write_report_opts(fx, out, "/nonexistent/gnuplot", 1, &info);
    assert_int_equal(db_count(fx->db, "SELECT count(*) FROM predictions WHERE metric = "
                                      "'wall_time'"),
                     2);
    /* a later report without --store-predictions shows what is stored */
    write_report_opts(fx, out, "/nonexistent/gnuplot", 0, &info);
    assert_int_equal(info.stored, 0);
    html = slurp_in(out, "index.html");
    assert_int_equal(tu_count(html, "<td>yes: "), 2);
    free(html);
    /* without --store-predictions nothing is written: the stored
     * predictions stay as they were */
    fixture g = *fx;
    snprintf(g.db, sizeof g.db, "%s/copy.db", fx->dir);
    char *o = NULL;
    assert_int_equal(tu_run(&o, "cp '%s' '%s' && sqlite3 '%s' 'DELETE FROM predictions'", fx->db,
                            g.db, g.db),
                     0);
    free(o);
    write_report_opts(&g, out, "/nonexistent/gnuplot", 0, &info);
    assert_int_equal(db_count(g.db, "SELECT count(*) FROM predictions"), 0);
}

static void test_report_without_gnuplot(void **state)
{
    fixture *fxp = *state, fx = *fxp;
    char out[4300];
    snprintf(out, sizeof out, "%s/nognuplot", fx.dir);
    rep_report_info info;
    write_report(&fx, out, "/nonexistent/gnuplot", &info);
    assert_true(info.plots > 0);
    assert_int_equal(info.rendered, 0);
    assert_non_null(strstr(info.gnuplot_note, "not found"));
    char *html = slurp_in(out, "index.html");
    assert_non_null(strstr(html, "figures not rendered"));
    assert_non_null(strstr(html, "image not rendered"));
    assert_int_equal(check_balanced(html), 0);
    free(html);
    assert_int_equal(check_figures(out, 0), info.plots);
    char path[4500];
    snprintf(path, sizeof path, "%s/runtime-alma-xc66.png", out);
    assert_int_not_equal(access(path, F_OK), 0);
}

static void test_report_cli(void **state)
{
    fixture *fxp = *state, fx = *fxp;
    char *o = NULL;
    int st = tu_run(&o, "cd '%s' && '%s' report --db '%s' --run %lld --boot 100", fx.dir,
                    tu_bin("harness"), fx.db, (long long)fx.run);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "reports/fixture-1/index.html"));
    assert_non_null(strstr(o, "2 full-size cells predicted by the cost model, 1 off by more "
                              "than 25%"));
    free(o);
    char path[4500];
    snprintf(path, sizeof path, "%s/reports/fixture-1/index.html", fx.dir);
    assert_int_equal(access(path, R_OK), 0);
    /* the latest run by default, an explicit Gantt cell, training runs named */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/r2' --gantt-cell %lld --fit-runs 1 --quiet",
                tu_bin("harness"), fx.db, fx.dir, (long long)fx.gantt_cell);
    assert_int_equal(st, 0);
    free(o);
    snprintf(path, sizeof path, "%s/r2/gantt-cell%lld.gp", fx.dir, (long long)fx.gantt_cell);
    assert_int_equal(access(path, R_OK), 0);
    /* --full-scale 0.004: the 0.004 cells stand in for full size, and the
     * 0.001 cells alone (one channel count) do not identify the FFT term:
     * nothing is extrapolated, and the report says why */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/r5' --full-scale 0.004 --gnuplot /none",
                tu_bin("harness"), fx.db, fx.dir);
    assert_int_equal(st, 0);
    assert_null(strstr(o, "predicted by the cost model"));
    free(o);
    snprintf(path, sizeof path, "%s/r5", fx.dir);
    char *html = slurp_in(path, "index.html");
    /* 7 stand-in cells and the full shapes of the 2 other datasets */
    assert_int_equal(tu_count(html, "no prediction: read: not identifiable from these points: "
                                    "bytes read is the same in every fit cell"),
                     9);
    free(html);
    /* errors: unknown cell (usage: 2), bad options (2), missing database (1), unknown run (1) */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/r3' --gantt-cell 9999", tu_bin("harness"),
                fx.db, fx.dir);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--gantt-cell 9999"));
    free(o);
    st = tu_run(&o, "'%s' report --db '%s' --full-scale 0", tu_bin("harness"), fx.db);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--full-scale must be a number > 0"));
    free(o);
    st = tu_run(&o, "'%s' report --db '%s' --fit-runs 1,x", tu_bin("harness"), fx.db);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--fit-runs"));
    free(o);
    st = tu_run(&o, "'%s' report --db '%s/none.db'", tu_bin("harness"), fx.dir);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "does not exist"));
    free(o);
    st = tu_run(&o, "'%s' report --db '%s' --run 77 --out '%s/r4'", tu_bin("harness"), fx.db,
                fx.dir);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "no run 77"));
    free(o);
    st = tu_run(&o, "'%s' report --help", tu_bin("harness"));
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "--gantt-cell"));
    assert_non_null(strstr(o, "--store-predictions"));
    free(o);
}

/* The tasks table, when filled, wins over the tasks file. */
static void test_gantt_from_tasks_table(void **state)
{
    fixture *fx = *state;
    sqlite3 *h;
    assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
    char sql[1024];
    /* Ingest filled the table from the cell's tasks.csv; replace those rows
     * with two that the file does not have. */
    snprintf(sql, sizeof sql,
             "DELETE FROM tasks WHERE attempt_id IN (SELECT id FROM attempts WHERE cell_id = %lld);"
             "INSERT INTO tasks(attempt_id, rank, thread, chunk, phase, start_s, end_s)"
             " SELECT min(id), 0, 0, 0, 'kernel', 0.0, 0.5 FROM attempts WHERE cell_id = %lld"
             " AND status = 'ok';"
             "INSERT INTO tasks(attempt_id, rank, thread, chunk, phase, start_s, end_s)"
             " SELECT min(id), 1, 0, 1, 'grid', 0.1, 0.7 FROM attempts WHERE cell_id = %lld"
             " AND status = 'ok';",
             (long long)fx->gantt_cell, (long long)fx->gantt_cell, (long long)fx->gantt_cell);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    char out[4300], name[128];
    snprintf(out, sizeof out, "%s/tasks-table", fx->dir);
    rep_report_info info;
    write_report(fx, out, "/nonexistent/gnuplot", &info);
    snprintf(name, sizeof name, "gantt-cell%lld.dat", (long long)fx->gantt_cell);
    char *dat = slurp_in(out, name);
    assert_non_null(strstr(dat, "from tasks table"));
    assert_non_null(strstr(dat, "phase kernel"));
    assert_null(strstr(dat, "phase spill")); /* not the file's tasks */
    assert_non_null(strstr(dat, "\n0.1 0.7 1 1 0 1 -1\n")); /* rank 1 thread 0: row 1 */
    free(dat);
}

/* A query of the run's warnings that fails part-way fails the report and
 * names what it read. The counters table is replaced by a view whose rows
 * raise an SQL error when read (abs() of the smallest integer overflows). */
static void test_report_query_fails(void **state)
{
    fixture *fx = *state;
    sqlite3 *h;
    assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "DROP TABLE counters;"
                                  "CREATE VIEW counters(id, attempt_id, source, name, value,"
                                  " available, reason) AS SELECT id, id, 'papi', 'PAPI_TOT_CYC',"
                                  " NULL, 0, abs(-9223372036854775807 - 1) FROM attempts;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    char *o = NULL;
    int st = tu_run(&o, "'%s' report --db '%s' --out '%s/broken' --quiet", tu_bin("harness"),
                    fx->db, fx->dir);
    if (st != 1) print_message("%s\n", o);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "reading counters failed: integer overflow"));
    free(o);
}

/*
 * Log axes carry labelled ticks at any range: under a decade the 1-2-5
 * steps are too coarse, so finer steps (and at the narrowest, plain
 * decimal steps) label it; a figure drawn on a log axis over 3.1-3.9 has
 * those numbers in its SVG.
 */
static void test_report_log_ticks(void **state)
{
    (void)state;
    double v[64];
    size_t n;
    rep__log_ticks(0.8, 3, v, 64, &n);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) assert_true(v[i] >= 0.8 && v[i] <= 3);
    rep__log_ticks(3.1, 3.9, v, 64, &n);
    print_message("ticks on [3.1, 3.9]: %zu\n", n);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) assert_true(v[i] >= 3.1 && v[i] <= 3.9);
    rep__log_ticks(0.5, 5000, v, 64, &n);
    assert_true(n >= 4 && n <= 20);
    rep__sb b = {0};
    rep__axis(&b, "y", 3.1, 3.9, 2, 0); /* forced log: still numbers */
    assert_non_null(strstr(rep__sb_str(&b), "set logscale y"));
    assert_non_null(strstr(rep__sb_str(&b), "set ytics ('3.2' 3.2"));
    rep__sb_release(&b);
    rep__axis(&b, "y", 1, 4, 1, 1); /* under a decade: linear from 0 */
    assert_non_null(strstr(rep__sb_str(&b), "unset logscale y"));
    assert_non_null(strstr(rep__sb_str(&b), "set yrange [0:"));
    rep__sb_release(&b);
    if (!have("gnuplot")) {
        print_message("gnuplot not installed: SVG check skipped\n");
        return;
    }
    char *dir = tu_mkdtemp("ticks");
    char path[4300];
    snprintf(path, sizeof path, "%s/d.dat", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "1 3.15\n2 3.5\n3 3.85\n");
    fclose(f);
    rep__out out;
    rep__out_init(&out, dir);
    rep__plotter p;
    rep__plotter_init(&p, &out, NULL);
    rep__axis(&b, "y", 3.15, 3.85, 2, 0);
    rep__sb_puts(&b, "plot 'd.dat' using 1:2 with linespoints title 'narrow'\n");
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(rep__plot(&e, &p, "narrow", rep__sb_str(&b)), 1);
    rep__sb_release(&b);
    rep__plotter_release(&p);
    snprintf(path, sizeof path, "%s/narrow.svg", dir);
    char *svg = tu_slurp(path, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, ">3.4<"));
    assert_non_null(strstr(svg, ">3.6<"));
    free(svg);
    tu_rmtree(dir);
    free(dir);
}

/* Names in dir that look like our temporaries (".X.rep-PID..."). */
static int temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(d));) n += strstr(de->d_name, ".rep-") != NULL;
    closedir(d);
    return n;
}

/*
 * A write that fails (injected: IMBENCH_REPORT_FAIL_WRITE=N fails the Nth
 * file as a full disk would) stops the report with the cause and exit 1,
 * and leaves the previous report's files exactly as they were: nothing
 * half-written, no temporary.
 */
static void test_report_write_fails(void **state)
{
    fixture *fx = *state;
    char out[4300], *o = NULL;
    snprintf(out, sizeof out, "%s/atomic", fx->dir);
    int st = tu_run(&o, "'%s' report --db '%s' --out '%s' --quiet --boot 50", tu_bin("harness"),
                    fx->db, out);
    assert_int_equal(st, 0);
    free(o);
    char *before = slurp_in(out, "index.html"), *md = slurp_in(out, "report.md");
    static const int at[] = {1, 4, 17, 40, 0};
    for (int k = 0; at[k]; k++) {
        st = tu_run(&o, "IMBENCH_REPORT_FAIL_WRITE=%d '%s' report --db '%s' --out '%s' --quiet "
                        "--boot 50",
                    at[k], tu_bin("harness"), fx->db, out);
        if (st != 1) print_message("fail at %d: %s\n", at[k], o);
        assert_int_equal(st, 1);
        assert_non_null(strstr(o, "no space left on device"));
        assert_non_null(strstr(o, "cannot write '"));
        free(o);
        char *after = slurp_in(out, "index.html"), *md2 = slurp_in(out, "report.md");
        assert_string_equal(after, before);
        assert_string_equal(md2, md);
        free(after);
        free(md2);
        assert_int_equal(temporaries(out), 0);
    }
    /* failing the page itself: the write just before it succeeds, then index.html fails */
    free(before);
    free(md);
    check_figures(out, have("gnuplot"));
}

/*
 * The same on a real full disk (a 1 MiB tmpfs, as root): the report fails
 * with the cause, the previous page stays whole, and no image is left
 * empty or cut short. Skipped where tmpfs cannot be mounted.
 */
static void test_report_full_disk(void **state)
{
    fixture *fx = *state;
    char mnt[4300], *o = NULL;
    snprintf(mnt, sizeof mnt, "%s/tmpfs", fx->dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        print_message("skipped: cannot mount a tmpfs here (%s)\n", strerror(errno));
        rmdir(mnt);
        skip();
    }
    /* a report without images first (scripts, data, pages: small) */
    int st = tu_run(&o, "'%s' report --db '%s' --out '%s/r' --quiet --gnuplot /nonexistent",
                    tu_bin("harness"), fx->db, mnt);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    free(o);
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/r", mnt);
    char *before = slurp_in(dir, "index.html");
    /* then with images: they do not fit */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s' --quiet", tu_bin("harness"), fx->db, dir);
    print_message("full disk: exit %d: %s\n", st, o);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "no space left on device"));
    free(o);
    char *after = slurp_in(dir, "index.html");
    assert_string_equal(after, before);
    free(after);
    free(before);
    assert_int_equal(temporaries(dir), 0);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".png")) continue;
        char path[4700];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t plen = 0;
        char *png = tu_slurp(path, &plen);
        assert_non_null(png);
        assert_true(plen > 20); /* no empty image */
        assert_memory_equal(png + plen - 8, "IEND\xae\x42\x60\x82", 8);
        free(png);
    }
    closedir(d);
    assert_int_equal(umount(mnt), 0);
    rmdir(mnt);
}

/*
 * A gnuplot that dies (killed, or exiting non-zero after writing an empty
 * image) leaves no empty PNG and keeps the previous image; the report says
 * so in its warnings.
 */
static void test_report_killed_gnuplot(void **state)
{
    fixture *fx = *state;
    if (!have("gnuplot")) {
        print_message("skipped: gnuplot not installed\n");
        skip();
    }
    char out[4300], fake[4300], *o = NULL;
    snprintf(out, sizeof out, "%s/killed", fx->dir);
    snprintf(fake, sizeof fake, "%s/fake-gnuplot", fx->dir);
    FILE *f = fopen(fake, "w");
    assert_non_null(f);
    /* probes ("-e 'set terminal ...'") pass; drawing writes empty images and dies */
    fprintf(f, "#!/bin/sh\ncase \"$2\" in\n  set\\ terminal*) exit 0 ;;\nesac\n"
               "stem=$(printf '%%s' \"$2\" | sed \"s/^outstem='\\(.*\\)'$/\\1/\")\n"
               ": > \"$stem.png\"\n: > \"$stem.svg\"\nkill -9 $$\n");
    fclose(f);
    assert_int_equal(chmod(fake, 0755), 0);
    int st = tu_run(&o, "'%s' report --db '%s' --out '%s' --quiet --boot 50", tu_bin("harness"),
                    fx->db, out);
    assert_int_equal(st, 0);
    free(o);
    size_t n0 = 0;
    char *good = slurp_in(out, "runtime-alma-xc66.png");
    {
        char path[4500];
        snprintf(path, sizeof path, "%s/runtime-alma-xc66.png", out);
        free(tu_slurp(path, &n0));
    }
    st = tu_run(&o, "'%s' report --db '%s' --out '%s' --quiet --boot 50 --gnuplot '%s'",
                tu_bin("harness"), fx->db, out, fake);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    free(o);
    size_t n1 = 0;
    char path[4500];
    snprintf(path, sizeof path, "%s/runtime-alma-xc66.png", out);
    char *now = tu_slurp(path, &n1);
    assert_int_equal(n1, n0); /* the previous image, whole */
    assert_memory_equal(now, good, n0);
    free(now);
    free(good);
    assert_int_equal(temporaries(out), 0);
    char *html = slurp_in(out, "index.html");
    assert_non_null(strstr(html, "gnuplot was killed by signal 9"));
    free(html);
}

/* Bytes of a file, or -1. */
static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/*
 * A headless chromium loads the page: the DOM it builds holds every table
 * and figure of the file (nothing lost to a parse error), and its
 * screenshot is far richer than one of an empty page of the same size.
 * Skipped where chromium is absent (CI installs it; `make deps` does not).
 */
static void test_report_browser(void **state)
{
    const char *browser = have("chromium") ? "chromium"
                          : have("chromium-browser") ? "chromium-browser"
                                                     : NULL;
    if (!browser) {
        print_message("skipped: no headless chromium installed (not installed by the tests)\n");
        skip();
    }
    fixture *fxp = *state, fx = *fxp;
    char out[4300];
    snprintf(out, sizeof out, "%s/browser", fx.dir);
    rep_report_info info;
    write_report(&fx, out, NULL, &info);
    /* flags: no sandbox as root, no GPU, and none of the background
     * connections this closed network would refuse */
    static const char flags[] = "--headless --no-sandbox --disable-gpu --no-first-run "
                                "--disable-background-networking --disable-component-update "
                                "--disable-sync --window-size=1200,3000";
    char *o = NULL;
    int st = tu_run(&o, "cd '%s' && timeout 50 %s %s --user-data-dir='%s/profile' "
                        "--dump-dom 'file://%s/index.html' 2>/dev/null",
                    out, browser, flags, out, out);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    char *html = slurp_in(out, "index.html");
    int tables = tu_count(html, "<table"), imgs = tu_count(html, "<img");
    assert_true(tables >= 8);
    assert_true(imgs >= 4);
    assert_int_equal(tu_count(o, "<table"), tables);
    assert_int_equal(tu_count(o, "<img"), imgs);
    assert_non_null(strstr(o, "Provenance of the run"));
    free(html);
    free(o);
    char path[4500];
    snprintf(path, sizeof path, "%s/blank.html", out);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>\n", f);
    fclose(f);
    static const char *const pages[2] = {"index", "blank"};
    long size[2];
    for (int k = 0; k < 2; k++) {
        st = tu_run(&o, "cd '%s' && timeout 50 %s %s --user-data-dir='%s/profile' "
                        "--screenshot='%s/%s.png' 'file://%s/%s.html'",
                    out, browser, flags, out, out, pages[k], out, pages[k]);
        if (st) print_message("%s\n", o);
        free(o);
        assert_int_equal(st, 0);
        snprintf(path, sizeof path, "%s/%s.png", out, pages[k]);
        size[k] = file_size(path);
        assert_true(size[k] > 0);
    }
    print_message("screenshots: report %ld bytes, empty page %ld bytes\n", size[0], size[1]);
    assert_true(size[0] > 4 * size[1]);
}

/* ---- baselines and CASA logs ------------------------------------------------ */

static void test_baselines_import(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("baselines");
    char db[4300], yaml[4300];
    snprintf(db, sizeof db, "%s/b.db", dir);
    snprintf(yaml, sizeof yaml, "%s/workloads/baselines/seed-study.yaml", srcdir());
    ib_err e;
    rep_baseline *b;
    size_t n;
    CHECK_OK(rep_baselines_load(&e, yaml, &b, &n), e);
    rep_baselines_destroy(b, n);
    assert_int_equal(n, 32);
    char *o = NULL;
    int st = tu_run(&o, "'%s' baselines import '%s' --db '%s'", tu_bin("harness"), yaml, db);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "32 records"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines"), (int)n);
    /* re-import (through a different path to the same file) replaces */
    st = tu_run(&o, "cd '%s' && '%s' baselines import ./workloads/../workloads/baselines/"
                    "seed-study.yaml --db '%s'",
                srcdir(), tu_bin("harness"), db);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "replacing"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines"), (int)n);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE source = 'seed-study'"),
                     (int)n);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE dataset = 'vla-chiles'"
                                  " AND system = 'casa-6.2' AND nodes = 8 AND value = 18000"),
                     1);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE"
                                  " json_extract(note, '$.bound') = 'low'"),
                     3);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE"
                                  " json_extract(note, '$.support') = 51"),
                     1);
    st = tu_run(&o, "'%s' baselines list --db '%s'", tu_bin("harness"), db);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "32 baselines"));
    assert_non_null(strstr(o, "seed-study.yaml:"));
    free(o);
    /* a bad file changes nothing */
    char bad[4400];
    snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
    FILE *f = fopen(bad, "w");
    fprintf(f, "format: imbench-baselines/1\nbaselines:\n  - dataset: x\n    system: casa\n"
               "    metric: wall_time\n    value: 1\n    unit: s\n    label: guessed\n");
    fclose(f);
    st = tu_run(&o, "'%s' baselines import '%s' --db '%s'", tu_bin("harness"), bad, db);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "bad.yaml' line 8"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines"), (int)n);
    st = tu_run(&o, "'%s' baselines frobnicate --db '%s'", tu_bin("harness"), db);
    assert_int_equal(st, 2);
    free(o);
    tu_rmtree(dir);
    free(dir);
}

static void test_casa_import(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("casa");
    char db[4300];
    snprintf(db, sizeof db, "%s/c.db", dir);
    const char *H = tu_bin("harness");
    char *o = NULL;
    /* good: two tclean calls, both stored, with the log's provenance */
    int st = tu_run(&o, "cd '%s' && '%s' casa-import tests/data/casa/casa6_cube.log --dataset "
                        "alma-xc66 --nodes 1 --cores 16 --db '%s'",
                    srcdir(), H, db);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE source = 'casa-log'"
                                  " AND system = 'casa-6.2.1-7' AND metric = 'wall_time'"
                                  " AND nodes = 1 AND cores = 16"),
                     2);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE"
                                  " abs(value - 377.966209) < 1e-6 AND"
                                  " json_extract(note, '$.host') = 'cvpost042' AND"
                                  " json_extract(note, '$.params.gridder') = 'standard' AND"
                                  " json_extract(note, '$.line') = 14"),
                     1);
    /* re-import replaces */
    st = tu_run(&o, "cd '%s' && '%s' casa-import tests/data/casa/casa6_cube.log --dataset "
                    "alma-xc66 --nodes 1 --db '%s'",
                srcdir(), H, db);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "replaced 2"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines"), 2);
    /* failed: the failed call is reported and skipped, the retry stored */
    st = tu_run(&o, "cd '%s' && '%s' casa-import tests/data/casa/casa6_failed.log --dataset "
                    "alma-x3be --nodes 2 --db '%s'",
                srcdir(), H, db);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "casa6_failed.log' line 4: skipped failed tclean task #0"));
    assert_non_null(strstr(o, "1 failed task skipped"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE dataset = 'alma-x3be'"
                                  " AND nodes = 2 AND json_extract(note, '$.status') = 'ok'"
                                  " AND json_extract(note, '$.params.imagename') ="
                                  " 'x3be_cube_retry'"),
                     1);
    /* truncated and foreign logs are refused whole, naming file and line;
     * the good log given with them is still imported (own transaction) */
    st = tu_run(&o, "cd '%s' && '%s' casa-import tests/data/casa/truncated.log "
                    "tests/data/casa/partition.log tests/data/casa/foreign.log --dataset "
                    "alma-xc66 --nodes 4 --db '%s'",
                srcdir(), H, db);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "truncated.log' line 3"));
    assert_non_null(strstr(o, "foreign.log' line 1"));
    assert_non_null(strstr(o, "partition.log: 1 tclean task stored"));
    free(o);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE nodes = 4"), 1);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines WHERE"
                                  " json_extract(note, '$.subcubes') = 7"),
                     1);
    assert_int_equal(db_count(db, "SELECT count(*) FROM baselines"), 4);
    /* usage */
    st = tu_run(&o, "'%s' casa-import x.log --nodes 1 --db '%s'", H, db);
    assert_int_equal(st, 2);
    free(o);
    st = tu_run(&o, "'%s' casa-import x.log --dataset d --db '%s'", H, db);
    assert_int_equal(st, 2);
    free(o);
    tu_rmtree(dir);
    free(dir);
}

/* A store failing mid-file leaves nothing of that file behind. */
static void test_casa_import_atomic(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("casa-atomic");
    char db[4300], log[4300];
    snprintf(db, sizeof db, "%s/c.db", dir);
    snprintf(log, sizeof log, "%s/tests/data/casa/casa6_cube.log", srcdir());
    ib_err e;
    ib_err_init(&e);
    res_db *h;
    CHECK_OK(res_open(&e, db, NULL, &h), e);
    /* the second row of any import fails */
    assert_int_equal(sqlite3_exec(res_sqlite(h),
                                  "CREATE TRIGGER second_fails BEFORE INSERT ON baselines"
                                  " WHEN (SELECT count(*) FROM baselines) >= 1"
                                  " BEGIN SELECT RAISE(ABORT, 'planted failure'); END",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    rep_casa_import_opts o = {"alma-xc66", 1, 0, NULL, NULL};
    rep_import_stats st;
    int rc = rep_db_import_casa(&e, h, log, &o, &st);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(e.msg, "casa6_cube.log' line 27"));
    assert_non_null(strstr(e.msg, "planted failure"));
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(h), "SELECT count(*) FROM baselines", -1, &q,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    /* the same for a baselines file */
    char yaml[4300];
    snprintf(yaml, sizeof yaml, "%s/workloads/baselines/seed-study.yaml", srcdir());
    rc = rep_db_import_baselines(&e, h, yaml, NULL);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(e.msg, "seed-study.yaml' line"));
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(h), "SELECT count(*) FROM baselines", -1, &q,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    res_close(h);
    tu_rmtree(dir);
    free(dir);
}

/* Baselines drawn in the report: normalised curves on relative cores, and
 * the study's absolute times beside the full-size cells only. */
static void test_report_with_baselines(void **state)
{
    fixture *fxp = *state, fx = *fxp;
    char yaml[4300], *o = NULL;
    snprintf(yaml, sizeof yaml, "%s/workloads/baselines/seed-study.yaml", srcdir());
    assert_int_equal(tu_run(&o, "'%s' baselines import '%s' --db '%s'", tu_bin("harness"), yaml,
                            fx.db),
                     0);
    free(o);
    /* a CASA log imported at 1 and 2 nodes gives a measured curve */
    assert_int_equal(tu_run(&o, "cd '%s' && '%s' casa-import tests/data/casa/partition.log "
                                "--dataset alma-xc66 --nodes 1 --db '%s' && cp "
                                "tests/data/casa/casa6_cube.log '%s/two.log' && '%s' "
                                "casa-import '%s/two.log' --dataset alma-xc66 --nodes 2 --db '%s'",
                            srcdir(), tu_bin("harness"), fx.db, fx.dir, tu_bin("harness"),
                            fx.dir, fx.db),
                     0);
    free(o);
    char out[4300];
    snprintf(out, sizeof out, "%s/withbl", fx.dir);
    rep_report_info info;
    write_report(&fx, out, NULL, &info);
    char *dat = slurp_in(out, "scaling-study-alma-xc66.dat");
    /* the imported logs: 2345 s at one node, best 377.97 s at two */
    assert_non_null(strstr(dat, "casa-6.2.1-7 (casa-log"));
    assert_non_null(strstr(dat, "\n2 6.2042"));
    assert_non_null(strstr(dat, "measured here, ranks (1 thread each)"));
    free(dat);
    char *html = slurp_in(out, "index.html");
    /* full size: the study's CASA and prototype beside the full-size cell */
    assert_non_null(strstr(html, "speedup beside the study's, normalised [measured here on "));
    assert_non_null(strstr(html, "the study's figures (stated or read from its plots)"));
    free(html);
    dat = slurp_in(out, "fullsize.dat");
    assert_non_null(strstr(dat, "study0"));
    assert_non_null(strstr(dat, " 2350"));
    free(dat);
    char *gp = slurp_in(out, "fullsize.gp");
    assert_non_null(strstr(gp, "CASA 6.2, 1 node, 15 MPI procs (study, read from plot)"));
    free(gp);
    /* compare --against casa prints normalised and model figures */
    int st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against casa", tu_bin("harness"),
                    fx.db, (long long)fx.run);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "NORMALISED"));
    assert_non_null(strstr(o, "MODEL: the cost model"));
    assert_non_null(strstr(o, "== alma-xc66"));
    assert_non_null(strstr(o, "full-size cell: prediction beside its measurement"));
    free(o);
    /* with the real dataset specs the fixture's 256x256 image is not the
     * study's 600x600: no study bar beside it, and the table says why */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/specs' --quiet --gnuplot /none",
                tu_bin("harness"), fx.db, fx.dir);
    assert_int_equal(st, 0);
    free(o);
    snprintf(out, sizeof out, "%s/specs", fx.dir);
    html = slurp_in(out, "index.html");
    assert_non_null(strstr(html, "the study's image is 600x600, this cell's 256x256"));
    free(html);
    dat = slurp_in(out, "fullsize.dat");
    assert_null(strstr(dat, "study0"));
    free(dat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_cores, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_fullsize, setup, teardown),
        cmocka_unit_test(test_report_log_ticks),
        cmocka_unit_test_setup_teardown(test_report_write_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_killed_gnuplot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_without_gnuplot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_cli, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_with_baselines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gantt_from_tasks_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_query_fails, setup, teardown),
        cmocka_unit_test(test_baselines_import),
        cmocka_unit_test(test_casa_import),
        cmocka_unit_test(test_casa_import_atomic),
        cmocka_unit_test_setup_teardown(test_report_browser, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
