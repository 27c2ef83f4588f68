/*
 * test_report: `harness report`, `harness baselines` and `harness
 * casa-import` against a results database built here with the res_ API
 * (a run with a node sweep, a chunk sweep with spill, a support sweep, a
 * task file, failed and timed-out attempts, unavailable PAPI counters).
 * Checks: index.html is well-formed (xmllint as HTML and as XML when
 * present, and a tag-balance check always) and holds the expected tables;
 * each figure's data file holds the planted series and its script exists;
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
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reports/reports.h"
#include "results/results.h"
#include "tests/testutil.h"

/* ---- helpers ----------------------------------------------------------- */

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
    int64_t gantt_cell; /* the nodes=4 support=7 cell: it has a tasks.csv */
} fixture;

static const double noise[3] = {1.00, 1.02, 0.98}; /* median = the planted value */

/* Amdahl with s = 0.1, T1 = 10 s (support 7) or 30 s (support 17). */
static double planted_wall(int nodes, int chunks, int support)
{
    double t1 = support == 7 ? 10.0 : support == 17 ? 30.0 : 60.0;
    double t = t1 * (0.1 + 0.9 / nodes);
    if (chunks == 1) t *= 1.6; /* the U-curve: too few chunks spill */
    if (chunks == 2) t *= 1.2;
    if (chunks == 8) t *= 1.1;
    return t;
}

static json_t *stats_for(const char *dataset, int nodes, int threads, int chunks, int support,
                         double wall, int with_tasks)
{
    double samples = 2.0e6, spill = chunks == 1 ? 1e9 : chunks == 2 ? 5e8 : 0;
    json_t *s = json_pack("{s:s, s:s, s:s}", "schema", "imbench-stats/1", "program", "imager",
                          "version", "0.1.0");
    json_object_set_new(s, "params",
                        json_pack("{s:s, s:i, s:i, s:i, s:f, s:i, s:i, s:i, s:b}", "gridder",
                                  "standard", "support", support, "image_nx", 256, "image_ny",
                                  256, "padding", 1.2, "threads", threads, "chunks", chunks,
                                  "ranks", nodes, "psf", 0));
    json_object_set_new(s, "dataset", json_pack("{s:s, s:i, s:i, s:i, s:i}", "name", dataset,
                                                "nrow", 10000, "nchan", 100, "npol", 2,
                                                "nfield", 1));
    json_object_set_new(s, "wall_seconds", json_real(wall));
    double tt = wall * threads * nodes;
    json_object_set_new(s, "phases",
                        json_pack("[{s:s,s:f,s:f},{s:s,s:f,s:f},{s:s,s:f,s:f},{s:s,s:f,s:f},"
                                  "{s:s,s:f,s:f}]",
                                  "name", "read", "wall_s", 0.1 * tt, "cpu_s", 0.1 * tt, "name",
                                  "grid", "wall_s", 0.6 * tt, "cpu_s", 0.6 * tt, "name", "fft",
                                  "wall_s", 0.2 * tt, "cpu_s", 0.2 * tt, "name", "write",
                                  "wall_s", 0.05 * tt, "cpu_s", 0.05 * tt, "name", "comm",
                                  "wall_s", nodes > 1 ? 0.05 * tt : 0.0, "cpu_s", 0.0));
    json_t *m = json_array();
#define MET(n, v, u, b) \
    json_array_append_new(m, json_pack("{s:s, s:f, s:s, s:s}", "name", n, "value", (double)(v), \
                                       "unit", u, "better", b))
    MET("wall_time", wall, "s", "lower");
    MET("samples_gridded", samples, "count", "higher");
    MET("grid_rate", samples / (0.6 * wall), "samples/s", "higher");
    MET("peak_rss", 2e8, "bytes", "lower");
    MET("bytes_written", 256 * 256 * 100 * 2 * 4.0, "bytes", "lower");
    MET("comm_bytes", nodes > 1 ? 1e6 * (nodes - 1) : 0, "bytes", "lower");
    MET("comm_time", nodes > 1 ? 0.01 * nodes : 0, "s", "lower");
    MET("spill_bytes", spill, "bytes", "lower");
    MET("task_events", with_tasks ? 24 : 0, "count", "higher");
#undef MET
    json_object_set_new(s, "metrics", m);
    json_object_set_new(
        s, "counters",
        json_pack("{s:{s:b, s:s, s:[]}, s:[{s:s, s:f}]}", "papi", "available", 0, "reason",
                  "PAPI_ENOCMP: no hardware counters on this virtual machine", "events", "sde",
                  "name", "vis_gridded", "value", samples));
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

static int64_t add_cell(fixture *fx, res_db *db, const char *dataset, int nodes, int threads,
                        int chunks, int support, int nrep, int with_tasks, const char *status)
{
    ib_err e;
    char hash[80];
    snprintf(hash, sizeof hash, "%s-n%d-t%d-c%d-w%d-0123456789abcdef", dataset, nodes, threads,
             chunks, support);
    json_t *p = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:f, s:i}", "dataset", dataset,
                          "nodes", nodes, "threads", threads, "chunks", chunks, "support",
                          support, "gridder", "standard", "image", "256x256", "scale", 0.001,
                          "seed", 1);
    int64_t cell;
    assert_int_equal(res_cell_put(&e, db, hash, p, &cell), 0);
    json_decref(p);
    for (int r = 0; r < nrep; r++) {
        char dir[4200], stats[4300];
        snprintf(dir, sizeof dir, "%s/cells/%lld/r%d", fx->dir, (long long)cell, r);
        assert_int_equal(ib_mkdir_p(&e, dir), 0);
        snprintf(stats, sizeof stats, "%s/stats.json", dir);
        double wall = planted_wall(nodes, chunks, support) * noise[r % 3];
        int ok = !status || r > 0; /* a non-ok status only for repeat 0 */
        json_t *s = ok ? stats_for(dataset, nodes, threads, chunks, support, wall, with_tasks)
                       : NULL;
        if (s) json_dump_file(s, stats, JSON_COMPACT);
        if (s && with_tasks) write_tasks(dir);
        char ts[40];
        snprintf(ts, sizeof ts, "2026-01-01T00:%02lld:%02d.000Z", (long long)(cell % 60), r);
        res_attempt a = {.run_id = fx->run, .cell_id = cell, .repeat = r,
                         .status = ok ? RES_OK : status, .exit_code = ok ? 0 : 137,
                         .signal = ok ? 0 : 9,
                         .stderr_tail = ok ? NULL : "imager: reading chunk 3\nkilled: timeout\n",
                         .started_at = ts, .wall_s = wall, .source = s ? stats : NULL};
        CHECK_OK(res_attempt_record(&e, db, &a, s, NULL, 0, NULL), e);
        json_decref(s);
    }
    return cell;
}

/* Build the fixture: alma-xc66 with node sweeps at support 7 and 17, a
 * chunk sweep with spill, a support point at 31; vla-chiles with one cell,
 * a timed-out and a failed attempt. */
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
    for (int w = 7; w <= 17; w += 10)
        for (int n = 1; n <= 4; n *= 2) {
            int64_t c = add_cell(fx, db, "alma-xc66", n, 2, 4, w, 3, n == 4 && w == 7, NULL);
            if (n == 4 && w == 7) fx->gantt_cell = c;
        }
    for (int ch = 1; ch <= 8; ch *= 2)
        if (ch != 4) add_cell(fx, db, "alma-xc66", 1, 2, ch, 7, 3, 0, NULL);
    add_cell(fx, db, "alma-xc66", 1, 2, 4, 31, 3, 0, NULL);
    add_cell(fx, db, "vla-chiles", 1, 2, 4, 7, 3, 0, RES_TIMEOUT);
    add_cell(fx, db, "vla-chiles", 2, 2, 8, 7, 2, 0, RES_FAILED);
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
    {"alma-xc66", "standard", 315831, 7635, 2, 600, 600, 248e9},
    {"vla-chiles", "standard", 727272, 30720, 2, 1000, 1000, 2.5e12},
};

static void write_report(const fixture *fx, const char *out, const char *gnuplot,
                         rep_report_info *info)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_MUST_EXIST};
    CHECK_OK(res_open(&e, fx->db, &oo, &db), e);
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.run_id = fx->run;
    o.out_dir = out;
    o.shapes = shapes;
    o.nshapes = 2;
    o.gnuplot = gnuplot;
    o.boot = 200;
    CHECK_OK(rep_report_write(&e, db, &o, info), e);
    res_close(db);
}

/* Every NAME.gp in dir: its data exists; PNG signature; SVG parses. */
static size_t check_figures(const char *dir, int rendered)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    size_t n = 0;
    int xml = have("xmllint");
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
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
        free(gp);
        if (!rendered) continue;
        snprintf(path, sizeof path, "%s/%s.png", dir, base);
        FILE *f = fopen(path, "rb");
        if (!f) print_message("%s: no PNG\n", base);
        assert_non_null(f);
        unsigned char sig[8];
        assert_int_equal(fread(sig, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
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

/* ---- tests ---------------------------------------------------------------- */

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
    assert_true(info.plots >= 10);
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
    /* tables and sections */
    const char *want[] = {"<table class=\"prov\">", "<table class=\"machine\">",
                          "<table class=\"cells\">", "<table class=\"amdahl\">",
                          "<table class=\"kf\">", "<table class=\"cost\">",
                          "<table class=\"extrap\">", "<table class=\"baselines\">",
                          "testhost", "Test CPU @ 2 GHz", "0123abcd (clean)",
                          "settings that move timings", "free page reporting on (order 9)",
                          "free page reporting was on: this VM hands freed memory back",
                          "no hardware counters: PAPI reported",
                          "PAPI_ENOCMP: no hardware counters on this virtual machine",
                          "attempt timeout", "attempt failed", "killed: timeout",
                          "id=\"ds-alma-xc66\"", "id=\"ds-vla-chiles\"",
                          "This run has no sweep along nodes", "model", NULL};
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

    /* planted series values */
    snprintf(path, sizeof path, "%s/runtime-alma-xc66.dat", out);
    char *dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "\n1 10 9.8 10.2 3\n"));
    assert_non_null(strstr(dat, "\n2 5.5 5.39 5.61 3\n"));
    assert_non_null(strstr(dat, "\n4 3.25 3.185 3.315 3\n"));
    assert_non_null(strstr(dat, "\n1 30 29.4 30.6 3\n")); /* the support-17 series */
    free(dat);
    snprintf(path, sizeof path, "%s/speedup-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    double sp = 0;
    const char *l = strstr(dat, "\n4 ");
    assert_non_null(l);
    assert_int_equal(sscanf(l + 3, "%lf", &sp), 1);
    assert_true(fabs(sp - 10.0 / 3.25) < 1e-6);
    free(dat);
    snprintf(path, sizeof path, "%s/chunks-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "\n1 16 15.68 16.32 3 1e+09 "));
    assert_non_null(strstr(dat, "\n2 12 11.76 12.24 3 500000000 "));
    assert_non_null(strstr(dat, "\n4 10 9.8 10.2 3 0 "));
    free(dat);
    snprintf(path, sizeof path, "%s/amdahl-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    double s = -1;
    l = strstr(dat, "s = ");
    assert_non_null(l);
    assert_int_equal(sscanf(l + 4, "%lf", &s), 1);
    assert_true(fabs(s - 0.1) < 0.01); /* planted serial fraction */
    free(dat);
    snprintf(path, sizeof path, "%s/support-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "support 7"));
    assert_non_null(strstr(dat, "support 17"));
    free(dat);
    snprintf(path, sizeof path, "%s/comm-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "\n4 3000000 3000000 3000000 0.04 "));
    free(dat);
    snprintf(path, sizeof path, "%s/phases-alma-xc66.dat", out);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "nodes read grid fft write comm\n1 0.105263 0.631579 0.210526 "
                                "0.052632 0.000000\n"));
    free(dat);
    snprintf(path, sizeof path, "%s/gantt-cell%lld.dat", out, (long long)fx.gantt_cell);
    dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "phase spill"));
    assert_non_null(strstr(dat, "phase comm"));
    assert_non_null(strstr(dat, "phase grid"));
    free(dat);
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = tu_slurp(path, NULL);
    assert_non_null(md);
    assert_non_null(strstr(md, "| cell | hash | dataset |"));
    if (rendered) assert_non_null(strstr(md, "![alma-xc66: runtime vs nodes](runtime-alma-xc66.png)"));
    assert_non_null(strstr(md, "[gnuplot script](speedup-alma-xc66.gp)"));
    free(md);
    size_t nfig = check_figures(out, rendered);
    assert_int_equal(nfig, info.plots);
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
    char path[4500];
    snprintf(path, sizeof path, "%s/index.html", out);
    char *html = tu_slurp(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "figures not rendered"));
    assert_non_null(strstr(html, "image not rendered"));
    assert_int_equal(check_balanced(html), 0);
    free(html);
    assert_int_equal(check_figures(out, 0), info.plots);
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
    free(o);
    char path[4500];
    snprintf(path, sizeof path, "%s/reports/fixture-1/index.html", fx.dir);
    assert_int_equal(access(path, R_OK), 0);
    /* the latest run by default, an explicit Gantt cell */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/r2' --gantt-cell %lld --quiet",
                tu_bin("harness"), fx.db, fx.dir, (long long)fx.gantt_cell);
    assert_int_equal(st, 0);
    free(o);
    snprintf(path, sizeof path, "%s/r2/gantt-cell%lld.gp", fx.dir, (long long)fx.gantt_cell);
    assert_int_equal(access(path, R_OK), 0);
    /* errors: unknown cell (usage: 2), missing database (1), unknown run (1) */
    st = tu_run(&o, "'%s' report --db '%s' --out '%s/r3' --gantt-cell 9999", tu_bin("harness"),
                fx.db, fx.dir);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--gantt-cell 9999"));
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
    char out[4300], path[4500];
    snprintf(out, sizeof out, "%s/tasks-table", fx->dir);
    rep_report_info info;
    write_report(fx, out, "/nonexistent/gnuplot", &info);
    snprintf(path, sizeof path, "%s/gantt-cell%lld.dat", out, (long long)fx->gantt_cell);
    char *dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    assert_non_null(strstr(dat, "from tasks table"));
    assert_non_null(strstr(dat, "phase kernel"));
    assert_null(strstr(dat, "phase spill")); /* not the file's tasks */
    assert_non_null(strstr(dat, "\n0.1 0.7 1 1 0 1 -1\n")); /* rank 1 thread 0: row 1 */
    free(dat);
}

/* A query of the run's warnings that fails part-way fails the report and
 * names what it read; it used to end that list of warnings early, quietly.
 * The counters table is replaced by a view whose rows raise an SQL error
 * when read (abs() of the smallest integer overflows). */
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
    char path[4500];
    snprintf(path, sizeof path, "%s/index.html", out);
    char *html = tu_slurp(path, NULL);
    assert_non_null(html);
    int tables = tu_count(html, "<table"), imgs = tu_count(html, "<img");
    assert_true(tables >= 8);
    assert_true(imgs >= 4);
    assert_int_equal(tu_count(o, "<table"), tables);
    assert_int_equal(tu_count(o, "<img"), imgs);
    assert_non_null(strstr(o, "Provenance of the run"));
    free(html);
    free(o);
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

/* Baselines drawn in the report: normalised curves and the seed-study figures. */
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
    char path[4500];
    snprintf(path, sizeof path, "%s/baselines-alma-xc66.dat", out);
    char *dat = tu_slurp(path, NULL);
    assert_non_null(dat);
    if (!strstr(dat, "\n2 6.2042")) print_message("%s\n", dat);
    /* seed-study CASA: one-node 2350 s, range 2100-2400 s over nodes: a band */
    assert_non_null(strstr(dat, "casa-6.2 (seed-study) range"));
    assert_non_null(strstr(dat, "0.979166667 1.11904762"));
    /* the imported logs: 2345 s at one node, best 377.97 s at two */
    assert_non_null(strstr(dat, "casa-6.2.1-7 (casa-log"));
    assert_non_null(strstr(dat, "\n2 6.2042"));
    free(dat);
    snprintf(path, sizeof path, "%s/index.html", out);
    char *html = tu_slurp(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "2350 s")); /* CASA 6.2 one node, in the extrapolation table */
    assert_non_null(strstr(html, "2100-2400 s (range, 1-8 nodes)"));
    free(html);
    /* compare --against casa prints normalised and model figures */
    int st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against casa", tu_bin("harness"),
                    fx.db, (long long)fx.run);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "NORMALISED"));
    assert_non_null(strstr(o, "MODEL: full-size"));
    assert_non_null(strstr(o, "== alma-xc66"));
    assert_non_null(strstr(o, "0.979-1.119 range (casa-6.2, seed-study)"));
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_report_contents, setup, teardown),
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
