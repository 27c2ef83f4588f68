/*
 * test_run_suite.c: `harness run-suite` and the result commands driven as
 * real programs. The smoke suite end to end (verify, list, show, export,
 * ingest of its output directory); SIGKILL of the harness in the middle
 * of a cell, then integrity, then --resume, then every cell successful
 * exactly once; SIGINT recorded as 'interrupted'; and, through a stand-in
 * imager script in a private bin directory, a failing cell, a crashing
 * cell and a cell past its timeout, each recorded while the suite goes on;
 * two concurrent --resume of one run (the second refused, naming the
 * holder), --retries, long --out-dir/--data-dir refused with nothing
 * removed, the read commands as an unprivileged user on a read-only
 * database, and ingest that is idempotent and continues a killed ingest.
 * Skipped (with the reason) only when the imager has not been built.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <utime.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "results/results.h"
#include "tests/testutil.h"

typedef struct fx {
    char *dir;
    char harness[4096], imager[4096];
    char db[4200], data[4200], out[4200];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    snprintf(f->harness, sizeof f->harness, "%s", tu_bin("harness"));
    snprintf(f->imager, sizeof f->imager, "%s", tu_bin("imager"));
    /* absolute paths: run-suite must find them whatever the cwd */
    char abs[4096];
    if (realpath(f->harness, abs)) snprintf(f->harness, sizeof f->harness, "%s", abs);
    if (realpath(f->imager, abs)) snprintf(f->imager, sizeof f->imager, "%s", abs);
    f->dir = tu_mkdtemp("runsuite");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/db/results.db", f->dir);
    snprintf(f->data, sizeof f->data, "%s/cache", f->dir);
    snprintf(f->out, sizeof f->out, "%s/cells", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int need_programs(fx *f)
{
    if (access(f->imager, X_OK) != 0 || access(f->harness, X_OK) != 0) {
        printf("skip: '%s' or '%s' is not built yet (make programs)\n", f->imager, f->harness);
        return 0;
    }
    return 1;
}

#define NEED_PROGRAMS(f)              \
    do {                              \
        if (!need_programs(f)) {      \
            skip();                   \
            return;                   \
        }                             \
    } while (0)

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

/* A file of the source tree: from the current directory (make test runs
 * in the top directory), else beside the programs ($IMBENCH_BIN/../..). */
static void repo_path(char *out, size_t n, const char *rel)
{
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && access(rel, R_OK) == 0) {
        snprintf(out, n, "%s/%s", cwd, rel);
        return;
    }
    snprintf(out, n, "%s/../../%s", tu_bin(""), rel);
}

static void smoke_path(char *out, size_t n)
{
    repo_path(out, n, "workloads/suites/smoke.yaml");
}

/* The first row's first column: as an integer (i), a double (d) or a copy
 * of its text (t, NULL for SQL NULL); any may be NULL. */
static void q_row(const char *db, const char *sql, int64_t *i, double *d, char **t)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc) fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(h));
    assert_int_equal(rc, SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    if (i) *i = sqlite3_column_int64(st, 0);
    if (d) *d = sqlite3_column_double(st, 0);
    if (t) {
        const unsigned char *x = sqlite3_column_text(st, 0);
        *t = x ? strdup((const char *)x) : NULL;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
}

static int64_t q_int(const char *db, const char *sql)
{
    int64_t v;
    q_row(db, sql, &v, NULL, NULL);
    return v;
}

static double q_dbl(const char *db, const char *sql)
{
    double v;
    q_row(db, sql, NULL, &v, NULL);
    return v;
}

/* Same, but -1 when the database or its tables do not exist yet. */
static int64_t q_int_soft(const char *db, const char *sql)
{
    if (access(db, F_OK) != 0) return -1;
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 1000);
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

static void verify_ok(fx *f)
{
    char *out = NULL;
    int st = tu_run(&out, "'%s' verify --db '%s'", f->harness, f->db);
    if (st != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "integrity_check: ok"));
    assert_true(tu_contains(out, "0 problems"));
    free(out);
}

/* Start run-suite in the background (its own process group), output to log. */
static pid_t start_suite(fx *f, const char *suite, const char *log, const char *extra)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        char *argv[16];
        int n = 0;
        argv[n++] = f->harness;
        argv[n++] = "run-suite";
        argv[n++] = (char *)suite;
        argv[n++] = "--db";
        argv[n++] = f->db;
        argv[n++] = "--data-dir";
        argv[n++] = f->data;
        argv[n++] = "--out-dir";
        argv[n++] = f->out;
        if (extra) argv[n++] = (char *)extra;
        argv[n] = NULL;
        execv(f->harness, argv);
        _exit(127);
    }
    return pid;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Wait until the DB holds at least n ok attempts (or the child ends). */
static int wait_ok_attempts(fx *f, pid_t pid, int n, double limit)
{
    double t0 = ib_now();
    while (ib_now() - t0 < limit) {
        if (q_int_soft(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'") >= n)
            return 1;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) return 0;
        sleep_s(0.02);
    }
    return 0;
}

/* Attempt directories OUT/run-N/HASH/rK-pPID: one per started attempt. */
static int count_attempt_dirs(const char *out)
{
    int n = 0;
    DIR *d = opendir(out);
    if (!d) return 0;
    struct dirent *run;
    while ((run = readdir(d))) {
        if (strncmp(run->d_name, "run-", 4)) continue;
        char p1[4600];
        snprintf(p1, sizeof p1, "%s/%s", out, run->d_name);
        DIR *d1 = opendir(p1);
        struct dirent *cell;
        while (d1 && (cell = readdir(d1))) {
            if (cell->d_name[0] == '.') continue;
            char p2[4900];
            snprintf(p2, sizeof p2, "%s/%s", p1, cell->d_name);
            DIR *d2 = opendir(p2);
            struct dirent *att;
            while (d2 && (att = readdir(d2))) n += att->d_name[0] == 'r';
            if (d2) closedir(d2);
        }
        if (d1) closedir(d1);
    }
    closedir(d);
    return n;
}

/* After the first cell succeeded: wait until the second one has started,
 * so that a signal lands in the middle of it. */
static void wait_second_cell(fx *f, pid_t pid)
{
    assert_true(wait_ok_attempts(f, pid, 1, 60));
    double t0 = ib_now();
    while (count_attempt_dirs(f->out) < 2 && ib_now() - t0 < 30) sleep_s(0.005);
    assert_true(count_attempt_dirs(f->out) >= 2);
    sleep_s(0.02);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return strdup("");
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_dry_run_and_usage(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char smoke[4200], *out = NULL;
    smoke_path(smoke, sizeof smoke);
    int st = tu_run(&out, "'%s' run-suite '%s' --dry-run --db '%s'", f->harness, smoke, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "suite smoke"));
    assert_true(tu_contains(out, "4 cells x 1 repeat = 4 attempts"));
    assert_true(tu_contains(out, "alma-xc66 chunks=1"));
    /* each cell's sizes: vla-chiles at 4 times x 351 baselines x 8
     * channels x 2 pols = 22,464 samples; 64 x 64 x 8 x 2 float32 = 262 kB
     * of dirty cube; no database, so no time */
    assert_true(tu_contains(out, "0.0225M"));
    assert_true(tu_contains(out, "262 kB"));
    assert_true(tu_contains(out, "time not estimated"));
    assert_true(tu_contains(out, "no results database"));
    assert_int_equal(access(f->db, F_OK), -1); /* a dry run touches nothing */
    free(out);
    st = tu_run(&out, "'%s' run-suite '%s' --dry-run --filter dataset=vla-chiles,chunks=2",
                f->harness, smoke);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "1 cell x 1 repeat"));
    assert_true(tu_contains(out, "vla-chiles chunks=2"));
    free(out);
    st = tu_run(&out, "'%s' run-suite '%s' --dry-run --filter colour=red", f->harness, smoke);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "unknown key 'colour'"));
    free(out);
    /* a malformed suite is refused before anything runs */
    char bad[4200];
    snprintf(bad, sizeof bad, "%s/bad.yaml", f->dir);
    write_file(bad, "name: bad\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n  support: [4]\n");
    st = tu_run(&out, "'%s' run-suite '%s' --db '%s'", f->harness, bad, f->db);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "line 5 column 13: support must be odd, got 4"));
    assert_int_equal(access(f->db, F_OK), -1);
    free(out);
    st = tu_run(&out, "'%s' run-suite --help", f->harness);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "--resume"));
    free(out);
    st = tu_run(&out, "'%s' list --db '%s'", f->harness, f->db);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "does not exist"));
    free(out);
}

/* Run the suite at path into the fixture's database, data and output
 * directories; it must succeed. Returns its output (the caller frees it). */
static char *run_suite_ok(fx *f, const char *path)
{
    char *out = NULL;
    int st = tu_run(&out, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s'",
                    f->harness, path, f->db, f->data, f->out);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    return out;
}

/* A tiny alma-xc66 suite (32x32 images, 2 repeats) named name with the
 * given extra lines, written to DIR/name.yaml and run (run_suite_ok). */
static char *run_tiny_suite(fx *f, char *path, size_t n, const char *name, const char *extra)
{
    char text[1024];
    snprintf(path, n, "%s/%s.yaml", f->dir, name);
    snprintf(text, sizeof text,
             "name: %s\ndatasets: [alma-xc66]\nscale: 0.0001\nimage: 32x32\nrepeats: 2\n%s",
             name, extra);
    write_file(path, text);
    return run_suite_ok(f, path);
}

static void test_smoke_end_to_end(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char smoke[4200];
    smoke_path(smoke, sizeof smoke);
    char *out = run_suite_ok(f, smoke);
    int st;
    /* not a terminal: one plain line per cell */
    assert_true(tu_contains(out, "cell 1/4 ok"));
    assert_true(tu_contains(out, "cell 4/4 ok"));
    assert_false(tu_contains(out, "\r"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM cells"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
    /* each attempt: phases, imager metrics, counters (available or why
     * not) and the harness's own overhead */
    assert_int_equal(q_int(f->db, "SELECT count(DISTINCT attempt_id) FROM phases"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM metrics WHERE name = 'harness_launch_s'"
                                  " AND value >= 0"),
                     4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM metrics WHERE name = 'harness_ingest_s'"),
                     4);
    assert_true(q_int(f->db, "SELECT count(*) FROM counters WHERE available = 1"
                             " OR reason IS NOT NULL") >= 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE git_commit IS NOT NULL"
                                  " OR host IS NOT NULL"),
                     1);
    /* two datasets, each materialised once into the cache */
    assert_int_equal(q_int(f->db, "SELECT count(DISTINCT dataset_key) FROM cells"), 2);
    verify_ok(f);

    st = tu_run(&out, "'%s' list --db '%s'", f->harness, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "smoke"));
    assert_true(tu_contains(out, "complete"));
    free(out);
    st = tu_run(&out, "'%s' show 1 --db '%s'", f->harness, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "median_wall"));
    assert_true(tu_contains(out, "vla-chiles"));
    assert_true(tu_contains(out, "libs"));
    free(out);
    char csv[4200];
    snprintf(csv, sizeof csv, "%s/out.csv", f->dir);
    st = tu_run(&out, "'%s' export --db '%s' --format csv --out '%s'", f->harness, f->db, csv);
    assert_int_equal(st, 0);
    free(out);
    char *text = read_all(csv);
    size_t lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    assert_int_equal((int64_t)lines - 1, q_int(f->db, "SELECT count(*) FROM metrics"));
    assert_true(tu_contains(text, "run_id,suite,cell_hash,dataset"));
    free(text);

    /* a second run of the same suite reuses the cached datasets and the
     * cells (cells are run-independent) */
    out = run_suite_ok(f, smoke);
    assert_false(tu_contains(out, "generating dataset"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM cells"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 2);

    /* with small cells recorded, --dry-run fits the cost model on them and
     * says what it knows: an estimate, or why the model gives none (four
     * cells of one size do not identify the parallel term) */
    int64_t mtime = q_int(f->db, "SELECT count(*) FROM attempts");
    st = tu_run(&out, "'%s' run-suite '%s' --dry-run --db '%s'", f->harness, smoke, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "times: cost model fitted on 4 small-scale cells"));
    assert_true(tu_contains(out, "estimated time") || tu_contains(out, "no estimate: "));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts"), mtime);

    /* ingest the attempts' directories into a fresh database */
    char db2[4200];
    snprintf(db2, sizeof db2, "%s/ingested.db", f->dir);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, f->out, db2);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 8 attempts, 0 already present"));
    free(out);
    assert_int_equal(q_int(db2, "SELECT count(*) FROM attempts WHERE status = 'ok'"), 8);
    assert_int_equal(q_int(db2, "SELECT count(*) FROM cells"), 4);
    /* the imager's metrics all came along; the launcher's own overhead
     * (harness_wall_s, harness_launch_s) is known only where it ran */
    assert_int_equal(q_int(db2, "SELECT count(*) FROM metrics WHERE name NOT LIKE 'harness%'"),
                     q_int(f->db, "SELECT count(*) FROM metrics WHERE name NOT LIKE 'harness%'"));
    assert_int_equal(q_int(db2, "SELECT count(*) FROM metrics WHERE name = 'harness_ingest_s'"),
                     8);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, f->out, db2);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 0 attempts, 8 already present"));
    free(out);
    st = tu_run(&out, "'%s' verify --db '%s'", f->harness, db2);
    assert_int_equal(st, 0);
    free(out);
}

/* warmup: each cell runs unrecorded first (a line per warm-up run), its
 * scratch directory is gone afterwards, and only the repeats are recorded;
 * --warmup 0 overrides the suite. */
static void test_warmup(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char path[4200];
    char *out = run_tiny_suite(f, path, sizeof path, "warm", "warmup: 1\naxes: {chunks: [1, 2]}\n");
    int st;
    int nwarm = tu_count(out, "warm-up alma-xc66"), nok = tu_count(out, ": ok in ");
    assert_int_equal(nwarm, 2);
    assert_int_equal(nok, 2);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'"), 4);
    free(out);
    /* the scratch directories are removed: nothing named warmup-* is left */
    char run1[4300];
    snprintf(run1, sizeof run1, "%s/run-1", f->out);
    DIR *d = opendir(run1);
    assert_non_null(d);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        assert_true(strncmp(de->d_name, "warmup", 6) != 0);
    closedir(d);
    st = tu_run(&out, "'%s' run-suite '%s' --warmup 0 --db '%s' --data-dir '%s' --out-dir '%s'",
                f->harness, path, f->db, f->data, f->out);
    assert_int_equal(st, 0);
    assert_false(tu_contains(out, "warm-up"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts"), 8);
    st = tu_run(&out, "'%s' run-suite '%s' --warmup 101 --db '%s'", f->harness, path, f->db);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "--warmup 0..100"));
    free(out);
}

/* The mean recorded wall time of the 1-chunk cell with this many threads. */
static double mean_wall_1chunk(const char *db, int threads)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT avg(m.value) FROM metrics m JOIN attempts a ON a.id = m.attempt_id "
             "JOIN cells c ON c.id = a.cell_id WHERE m.name = 'wall_time' AND "
             "json_extract(c.params, '$.threads') = %d AND json_extract(c.params, '$.chunks') = 1",
             threads);
    return q_dbl(db, sql);
}

/* `harness bench` on a run of a suite named bench: one thread-efficiency
 * line per pair of cells that differ only in threads, its value the ratio
 * of the recorded median wall times, one chunk sweep per thread count with
 * its optimum, and the single-thread gridding rate. */
static void test_bench_report(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char path[4200];
    char *out = run_tiny_suite(f, path, sizeof path, "bench",
                               "axes: {threads: [1, 2], chunks: [1, 2, 4]}\n");
    free(out);
    int st = tu_run(&out, "'%s' bench --db '%s'", f->harness, f->db);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_int_equal(tu_count(out, "thread efficiency 2 vs 1: "), 3);
    assert_int_equal(tu_count(out, "chunk sweep: "), 2);
    assert_int_equal(tu_count(out, "optimum: "), 2);
    assert_true(tu_contains(out, "gridding rate, 1 thread, standard: "));
    /* the run recorded this machine's settings, and they are printed */
    char *t = NULL;
    q_row(f->db, "SELECT tuning FROM runs ORDER BY id DESC LIMIT 1", NULL, NULL, &t);
    assert_non_null(t);
    assert_true(t[0] == '{');
    assert_true(tu_contains(out, "  machine settings: huge pages "));
    assert_false(tu_contains(out, "machine settings: not recorded"));
    if (tu_contains(t, "\"free_page_reporting\":true"))
        assert_true(tu_contains(out, "free page reporting on"));
    free(t);
    /* 2 repeats: each median is the mean of the two */
    const char *line = strstr(out, "thread efficiency 2 vs 1: alma-xc66 standard W=7 n=1 t=1 ch=1 ");
    assert_non_null(line);
    double eff = strtod(line + strlen("thread efficiency 2 vs 1: alma-xc66 standard W=7 n=1 t=1 ch=1 "),
                        NULL);
    double want = mean_wall_1chunk(f->db, 1) / mean_wall_1chunk(f->db, 2) / 2;
    assert_true(want > 0);
    assert_true(fabs(eff - want) <= 0.0005 + 1e-9);
    free(out);
    /* no run of a suite named bench: said, non-zero */
    st = tu_run(&out, "'%s' bench --db '%s' --suite nosuch", f->harness, f->db);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "has no run of suite 'nosuch'"));
    free(out);
}

/* A suite whose cells take a few tenths of a second each (seconds under
 * the sanitizers). */
static void write_slow_suite(fx *f, char *path, size_t n, const char *name)
{
    snprintf(path, n, "%s/%s.yaml", f->dir, name);
    char text[512];
    snprintf(text, sizeof text,
             "name: %s\n"
             "datasets: [alma-xc66]\n"
             "scale: 0.0002\n"
             "image: 64x64\n"
             "timeout: 120\n"
             "axes:\n"
             "  chunks: [1, 2, 3, 4]\n"
             "  threads: [2]\n"
             "  support: [15]\n",
             name);
    write_file(path, text);
}

static void test_kill_and_resume(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char suite[4200], log[4200];
    write_slow_suite(f, suite, sizeof suite, "killtest");
    snprintf(log, sizeof log, "%s/run1.log", f->dir);
    pid_t pid = start_suite(f, suite, log, NULL);
    wait_second_cell(f, pid);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

    /* consistent, and nothing finished was lost */
    verify_ok(f);
    int64_t ok = q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'");
    assert_true(ok >= 1);
    assert_true(ok < 4); /* killed mid-suite */
    char *t = read_all(log);
    int printed = 0;
    for (char *p = t; (p = strstr(p, " ok ")) != NULL; p++) printed++;
    free(t);
    assert_true(ok >= printed); /* every cell reported done is in the DB */
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);

    /* resume: the same run, only what is missing */
    char *out = NULL;
    int rs = tu_run(&out, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                    f->harness, suite, f->db, f->data, f->out);
    if (rs) fprintf(stderr, "%s\n", out);
    assert_int_equal(rs, 0);
    char want[64];
    snprintf(want, sizeof want, "%lld to run", (long long)(4 - ok));
    assert_true(tu_contains(out, want));
    assert_true(tu_contains(out, "run 1:"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM cells"), 4);
    /* every cell exactly once successful */
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM (SELECT cell_id FROM attempts"
                                  " WHERE status = 'ok' GROUP BY cell_id HAVING count(*) = 1)"),
                     4);
    verify_ok(f);

    /* resuming a complete run runs nothing (the "done when") */
    rs = tu_run(&out, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                f->harness, suite, f->db, f->data, f->out);
    assert_int_equal(rs, 0);
    assert_true(tu_contains(out, "run 1:"));
    assert_true(tu_contains(out, "0 to run"));
    assert_false(tu_contains(out, "run 2:"));
    free(out);
}

static void test_sigint(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char suite[4200], log[4200];
    write_slow_suite(f, suite, sizeof suite, "inttest");
    snprintf(log, sizeof log, "%s/int.log", f->dir);
    pid_t pid = start_suite(f, suite, log, NULL);
    wait_second_cell(f, pid);
    assert_int_equal(kill(pid, SIGINT), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    char *t = read_all(log);
    assert_true(tu_contains(t, "interrupted"));
    free(t);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'interrupted'"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'interrupted'"),
                     1);
    verify_ok(f);
    char *out = NULL;
    int rs = tu_run(&out, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                    f->harness, suite, f->db, f->data, f->out);
    assert_int_equal(rs, 0);
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(DISTINCT cell_id) FROM attempts"
                                  " WHERE status = 'ok'"),
                     4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
}

/* A private bin dir: the real harness, and an "imager" that fails, crashes
 * or hangs as FAKE_MODE says, otherwise runs the real one. */
static void fake_bin(fx *f, char *bin, size_t n)
{
    snprintf(bin, n, "%s/bin", f->dir);
    assert_int_equal(mkdir(bin, 0755), 0);
    char path[4300], text[8192];
    snprintf(path, sizeof path, "%s/harness", bin);
    assert_int_equal(symlink(f->harness, path), 0);
    snprintf(path, sizeof path, "%s/imager", bin);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "# test stand-in: misbehaves on request, else the real imager\n"
             "for a in \"$@\"; do case \"$a\" in --chunks) next=c;; *) [ \"$next\" = c ] && "
             "chunks=$a; next=;; esac; done\n"
             "case \"$chunks\" in\n"
             "  1) echo 'imager: vis store is broken: dataset /vis missing' >&2; exit 3;;\n"
             "  2) kill -SEGV $$;;\n"
             "  3) sleep 30; exit 0;;\n"
             "esac\n"
             "exec '%s' \"$@\"\n",
             f->imager);
    write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_failures_recorded(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char bin[4200], suite[4200];
    fake_bin(f, bin, sizeof bin);
    snprintf(suite, sizeof suite, "%s/fail.yaml", f->dir);
    write_file(suite, "name: failtest\n"
                      "datasets: [alma-xc66]\n"
                      "scale: 0.0001\n"
                      "chans: 4\n"
                      "image: 32x32\n"
                      "timeout: 1.5\n"
                      "axes:\n"
                      "  chunks: [1, 2, 3, 4]\n");
    char *out = NULL;
    double t0 = ib_now();
    int st = tu_run(&out, "IMBENCH_BIN='%s' '%s' run-suite '%s' --db '%s' --data-dir '%s'"
                          " --out-dir '%s'",
                    bin, f->harness, suite, f->db, f->data, f->out);
    double took = ib_now() - t0;
    if (st != 1) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 1); /* some cells failed: non-zero, but it went on */
    assert_true(tu_contains(out, "cell 1/4 failed"));
    assert_true(tu_contains(out, "vis store is broken"));
    assert_true(tu_contains(out, "cell 2/4 failed"));
    assert_true(tu_contains(out, "cell 3/4 timeout"));
    assert_true(tu_contains(out, "cell 4/4 ok"));
    free(out);
    assert_true(took < 20);
    assert_int_equal(q_int(f->db, "SELECT exit_code FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 1"),
                     3);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 1"
                                  " AND a.stderr_tail LIKE '%vis store is broken%'"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT signal FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 2"),
                     SIGSEGV);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 3"
                                  " AND a.status = 'timeout' AND a.wall_s < 6"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
    verify_ok(f);
    /* --resume retries only the failed cells */
    st = tu_run(&out, "IMBENCH_BIN='%s' '%s' run-suite '%s' --resume --db '%s' --data-dir '%s'"
                      " --out-dir '%s' --filter chunks=1",
                bin, f->harness, suite, f->db, f->data, f->out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "1 to run"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts"), 5);
}

/* cell.json + stats.json written elsewhere (tests/data/db/ingest: as a
 * batch system would leave them) */
static void test_ingest_fixtures(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char dir[4200], *out = NULL;
    repo_path(dir, sizeof dir, "tests/data/db/ingest");
    int st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, dir, f->db);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 3 attempts, 0 already present, 0 skipped"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE suite = 'batch'"
                                  " AND status = 'failed' AND host = 'node017'"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM cells WHERE length(dataset_key) = 32"
                                  " AND nodes = 2 AND support = 17"),
                     3);
    assert_int_equal(q_int(f->db, "SELECT value FROM counters WHERE name = 'PAPI_TOT_CYC'"
                                  " AND available = 1"),
                     32000000000LL);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM counters WHERE source = 'papi'"
                                  " AND available = 0 AND reason = 'perf_event_paranoid is 3'"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'timeout'"
                                  " AND signal = 15 AND exit_code = 143 AND stats IS NULL"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM phases"), 5);
    verify_ok(f);

    /* a broken entry is reported and skipped; the rest still goes in */
    char bad[4300], path[4400];
    snprintf(bad, sizeof bad, "%s/bad/x", f->dir);
    st = tu_run(NULL, "mkdir -p '%s' && cp -r '%s/slurm-1' '%s/../'", bad, dir, bad);
    assert_int_equal(st, 0);
    snprintf(path, sizeof path, "%s/cell.json", bad);
    write_file(path, "{\"schema\": \"imbench-cell/1\", \"params\": {\"dataset\": \"nope\","
                     " \"scale\": 0.1}}");
    st = tu_run(&out, "'%s' ingest '%s/bad' --db '%s'", f->harness, f->dir, f->db);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "nope"));
    assert_true(tu_contains(out, "ingested 0 attempts, 1 already present, 1 skipped"));
    free(out);
}


/* Two run-suite --resume of one run: the second refuses, naming the
 * holder's pid and host; once the holder is killed its lock is taken over
 * and every (cell, repeat) ends with exactly one successful attempt. */
static void test_concurrent_resume(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char suite[4200], log[4200];
    write_slow_suite(f, suite, sizeof suite, "locktest");
    snprintf(log, sizeof log, "%s/a.log", f->dir);
    pid_t a = start_suite(f, suite, log, NULL);
    assert_true(wait_ok_attempts(f, a, 1, 60));
    char *out = NULL;
    int st = tu_run(&out, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                    f->harness, suite, f->db, f->data, f->out);
    char want[400], host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(want, sizeof want, "run 1 is in use by pid %ld on host '%s'", (long)a, host);
    if (!tu_contains(out, want)) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, want));
    free(out);
    assert_int_equal(kill(a, SIGKILL), 0);
    int ws;
    assert_int_equal(waitpid(a, &ws, 0), a);
    st = tu_run(&out, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                f->harness, suite, f->db, f->data, f->out);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    snprintf(want, sizeof want, "took over the lock of pid %ld", (long)a);
    assert_true(tu_contains(out, want));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM run_locks"), 0);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM (SELECT cell_id FROM attempts"
                                  " WHERE status = 'ok' GROUP BY cell_id, repeat_index"
                                  " HAVING count(*) = 1)"),
                     4);
    verify_ok(f);
}

/* --retries: a cell that fails once then succeeds is run twice and counts
 * as ok; one that always crashes is run 1 + N times; every attempt kept;
 * show and export count them. */
static void test_retries(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char bin[4200], suite[4200], path[4400], text[8192];
    snprintf(bin, sizeof bin, "%s/bin", f->dir);
    assert_int_equal(mkdir(bin, 0755), 0);
    snprintf(path, sizeof path, "%s/harness", bin);
    assert_int_equal(symlink(f->harness, path), 0);
    snprintf(path, sizeof path, "%s/imager", bin);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "# test stand-in: chunks=1 fails on its first run, chunks=2 always crashes\n"
             "for a in \"$@\"; do case \"$a\" in --chunks) next=c;; *) [ \"$next\" = c ] && "
             "chunks=$a; next=;; esac; done\n"
             "case \"$chunks\" in\n"
             "  1) [ -e '%s/once' ] || { : > '%s/once'; echo 'imager: lost a worker' >&2;"
             " exit 3; };;\n"
             "  2) kill -SEGV $$;;\n"
             "esac\n"
             "exec '%s' \"$@\"\n",
             f->dir, f->dir, f->imager);
    write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
    snprintf(suite, sizeof suite, "%s/retry.yaml", f->dir);
    write_file(suite, "name: retrytest\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\n"
                      "image: 32x32\naxes:\n  chunks: [1, 2]\n");
    char *out = NULL;
    int st = tu_run(&out, "IMBENCH_BIN='%s' '%s' run-suite '%s' --db '%s' --data-dir '%s'"
                          " --out-dir '%s' --retries 2",
                    bin, f->harness, suite, f->db, f->data, f->out);
    if (st != 1) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 1); /* chunks=2 never succeeded */
    assert_true(tu_contains(out, "(retry 1 of 2)"));
    assert_true(tu_contains(out, "(retry 2 of 2)"));
    assert_true(tu_contains(out, "1 ok, 1 not ok, 3 retries"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 1"),
                     2);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 1 AND a.status = 'ok'"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts a JOIN cells c"
                                  " ON c.id = a.cell_id WHERE c.chunks = 2 AND a.signal = 11"),
                     3);
    st = tu_run(&out, "'%s' show 1 --db '%s'", f->harness, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "retries"));
    assert_true(tu_contains(out, "ok               2       1    1"));
    assert_true(tu_contains(out, "failed           3       2    0"));
    free(out);
    st = tu_run(&out, "'%s' export --db '%s' --format csv", f->harness, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, ",status,retry,retries,metric,"));
    assert_true(tu_contains(out, ",ok,1,1,"));
    free(out);
    verify_ok(f);
    /* a bad count is a usage error */
    st = tu_run(&out, "'%s' run-suite '%s' --db '%s' --retries -3", f->harness, suite, f->db);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "--retries must be 0..100"));
    free(out);
}

/* A long --out-dir or --data-dir is refused before anything runs: no
 * path is cut, and nothing of the user's is removed. */
static void test_long_dirs(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char longdir[3000];
    int n = snprintf(longdir, sizeof longdir, "%s", f->dir);
    while (n < 2300) n += snprintf(longdir + n, sizeof longdir - (size_t)n, "/%0200d", 7);
    char *out = NULL;
    assert_int_equal(tu_run(&out, "mkdir -p '%s'", longdir), 0);
    free(out);
    /* a user's file in every directory along the way */
    char cmd[8000];
    snprintf(cmd, sizeof cmd, "d='%s'; while [ ${#d} -gt %zu ]; do echo mine > \"$d/keep.txt\";"
                              " d=${d%%/*}; done", longdir, strlen(f->dir));
    assert_int_equal(tu_run(&out, "%s", cmd), 0);
    free(out);
    char suite[4200];
    write_slow_suite(f, suite, sizeof suite, "longtest");
    int st = tu_run(&out, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s'",
                    f->harness, suite, f->db, f->data, longdir);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "--out-dir '"));
    assert_true(tu_contains(out, "is too long"));
    free(out);
    st = tu_run(&out, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s'",
                f->harness, suite, f->db, longdir, f->out);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "--data-dir '"));
    free(out);
    assert_int_equal(access(f->db, F_OK), -1);
    snprintf(cmd, sizeof cmd, "find '%s' -name keep.txt | wc -l", f->dir);
    assert_int_equal(tu_run(&out, "%s", cmd), 0);
    assert_true(atoi(out) >= 10);
    int before = atoi(out);
    free(out);
    assert_int_equal(tu_run(&out, "find '%s' -name keep.txt -exec cat {} + | grep -c mine",
                            f->dir), 0);
    assert_int_equal(atoi(out), before);
    free(out);
}

/* The read commands on a database nobody may write: as an unprivileged
 * user on a 0444 file in a 0555 directory, each works and the file is
 * byte for byte unchanged; files that are not imbench databases are
 * refused unchanged; an older schema is refused until `harness migrate`. */
static void test_readonly_commands(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char suite[4200], *out = NULL;
    out = run_tiny_suite(f, suite, sizeof suite, "rotest", "");
    free(out);
    char dbdir[4300];
    snprintf(dbdir, sizeof dbdir, "%s/db", f->dir);
    assert_int_equal(tu_run(&out, "sha256sum '%s' > '%s/sum' && chmod 444 '%s' && chmod 555 '%s'"
                                  " && chmod 755 '%s'",
                            f->db, f->dir, f->db, dbdir, f->dir),
                     0);
    free(out);
    char rep[4300];
    snprintf(rep, sizeof rep, "%s/rep", f->dir);
    assert_int_equal(mkdir(rep, 0777), 0);
    assert_int_equal(chmod(rep, 0777), 0);
    int have_nobody = tu_run(&out, "setpriv --reuid=65534 --regid=65534 --clear-groups true") == 0;
    free(out);
    const char *as = have_nobody ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    if (!have_nobody) print_message("  note: setpriv to uid 65534 failed: run as this user\n");
    static const char *const cmds[] = {"list", "show 1", "verify", "export --format csv",
                                       "export --format json", "compare --run 1 --against 1",
                                       NULL};
    for (int i = 0; cmds[i]; i++) {
        int st = tu_run(&out, "%s'%s' %s --db '%s'", as, f->harness, cmds[i], f->db);
        if (st) fprintf(stderr, "%s: %s\n", cmds[i], out);
        assert_int_equal(st, 0);
        assert_false(tu_contains(out, "readonly database"));
        free(out);
    }
    int st = tu_run(&out, "%s'%s' report --db '%s' --out '%s/r1' --quiet", as, f->harness, f->db,
                    rep);
    if (st) fprintf(stderr, "report: %s\n", out);
    assert_int_equal(st, 0);
    free(out);
    assert_int_equal(tu_run(&out, "sha256sum -c '%s/sum'", f->dir), 0);
    free(out);
    assert_int_equal(tu_run(&out, "chmod 755 '%s' && chmod 644 '%s'", dbdir, f->db), 0);
    free(out);

    /* not imbench databases: refused, unchanged */
    char path[4300];
    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    write_file(path, "");
    st = tu_run(&out, "'%s' list --db '%s'", f->harness, path);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "not an imbench results database"));
    free(out);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    snprintf(path, sizeof path, "%s/notes.txt", f->dir);
    write_file(path, "my notes, not a database\n");
    st = tu_run(&out, "'%s' verify --db '%s'", f->harness, path);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "not an imbench results database"));
    free(out);
    char *t = read_all(path);
    assert_string_equal(t, "my notes, not a database\n");
    free(t);

    /* an older schema: refused by readers until migrated */
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    st = tu_run(&out, "sqlite3 '%s' \"CREATE TABLE schema_version(version INTEGER PRIMARY KEY,"
                      " applied_at TEXT NOT NULL); INSERT INTO schema_version VALUES(1, 'x');"
                      " CREATE TABLE runs(id INTEGER PRIMARY KEY, suite TEXT NOT NULL,"
                      " started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL);"
                      " CREATE TABLE cells(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
                      " params TEXT NOT NULL); CREATE TABLE attempts(id INTEGER PRIMARY KEY,"
                      " run_id INTEGER NOT NULL, cell_id INTEGER NOT NULL, repeat_index INTEGER"
                      " NOT NULL, status TEXT NOT NULL, exit_code INTEGER, started_at TEXT,"
                      " ended_at TEXT, wall_s REAL); CREATE TABLE metrics(id INTEGER PRIMARY KEY,"
                      " attempt_id INTEGER NOT NULL, name TEXT NOT NULL, value REAL, unit TEXT);\"",
                path);
    if (st) {
        print_message("  skip of the old-schema case: no sqlite3 program (%s)\n", out);
        free(out);
        return;
    }
    free(out);
    st = tu_run(&out, "'%s' list --db '%s'", f->harness, path);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "older than this program's"));
    assert_true(tu_contains(out, "harness migrate --db"));
    free(out);
    st = tu_run(&out, "'%s' migrate --db '%s'", f->harness, path);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "schema version 1 -> "));
    free(out);
    st = tu_run(&out, "'%s' list --db '%s'", f->harness, path);
    assert_int_equal(st, 0);
    free(out);
}

/* Ingest is idempotent: the same directory again adds nothing and no run;
 * a killed ingest's run is continued; a moved directory with emit.json is
 * still the same run; provenance.json from the node is recorded. */
static void test_ingest_idempotent(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char src[4200], jobs[4300], *out = NULL;
    repo_path(src, sizeof src, "tests/data/db/ingest");
    snprintf(jobs, sizeof jobs, "%s/jobs", f->dir);
    assert_int_equal(tu_run(&out, "cp -r '%s' '%s'", src, jobs), 0);
    free(out);
    char emit[4400];
    snprintf(emit, sizeof emit, "%s/emit.json", jobs);
    write_file(emit, "{\"schema\": \"imbench-emit/1\", \"id\": \"0123abcd\"}\n");
    int st = tu_run(&out, "'%s' provenance --out '%s/slurm-1/provenance.json' --command job-1",
                    f->harness, jobs);
    assert_int_equal(st, 0);
    free(out);
    st = tu_run(&out, "'%s' provenance --out '%s/slurm-1/provenance.json'", f->harness, jobs);
    assert_int_equal(st, 1); /* never over an existing file */
    assert_true(tu_contains(out, "already exists"));
    free(out);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, jobs, f->db);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "run 1 (batch): new, 3 attempts added"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE compiler IS NOT NULL"
                                  " AND kernel IS NOT NULL AND libs IS NOT NULL"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE"
                                  " json_extract(provenance, '$.command') = 'job-1'"),
                     1);
    /* again: nothing new, no run */
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, jobs, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "nothing new"));
    assert_true(tu_contains(out, "ingested 0 attempts, 3 already present"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 1);
    /* an ingest killed midway: its run left running, its lock held by a
     * process that is gone; the rest arrives in the same run */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    st = tu_run(&out, "sqlite3 '%s' \"UPDATE runs SET status = 'running';"
                      " INSERT INTO run_locks(run_id, pid, host, since) VALUES(1, %ld, '%s',"
                      " 'then')\" && mkdir '%s/slurm-4' && sed 's/\"repeat\": 0/\"repeat\": 1/;"
                      " s/10:00:00.000Z/11:00:00.000Z/' '%s/slurm-1/cell.json' >"
                      " '%s/slurm-4/cell.json' && cp '%s/slurm-1/stats.json' '%s/slurm-4/'",
                f->db, (long)child, host, jobs, jobs, jobs, jobs, jobs);
    if (st) {
        print_message("  skip of the killed-ingest case: %s\n", out);
        free(out);
        return;
    }
    free(out);
    /* moved: emit.json keeps its identity */
    char moved[4300];
    snprintf(moved, sizeof moved, "%s/moved", f->dir);
    assert_int_equal(rename(jobs, moved), 0);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, moved, f->db);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    char want[128];
    snprintf(want, sizeof want, "took over the lock of pid %ld", (long)child);
    assert_true(tu_contains(out, want));
    assert_true(tu_contains(out, "run 1 (batch): continued, 1 attempt added"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE run_id = 1"), 4);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE status = 'running'"), 0);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM run_locks"), 0);
    verify_ok(f);
}

/* ---- the dataset cache budget and disk checks ---------------------------- */

/* The cache's dataset directories (32 hex digits), sorted; n of them. */
static int cache_keys(const char *data, char keys[][33], int max)
{
    char *out = NULL;
    tu_run(&out, "ls '%s' 2>/dev/null | grep -E '^[0-9a-f]{32}$' | sort", data);
    int n = 0;
    for (char *p = out; p && *p && n < max;) {
        size_t l = strcspn(p, "\n");
        if (l == 32) {
            memcpy(keys[n], p, 32);
            keys[n++][32] = '\0';
        }
        p += l + (p[l] == '\n');
    }
    free(out);
    return n;
}

/* The key in now[] that is not in before[]. */
static const char *new_key(char before[][33], int nb, char now[][33], int nn)
{
    for (int i = 0; i < nn; i++) {
        int seen = 0;
        for (int j = 0; j < nb; j++) seen |= !strcmp(now[i], before[j]);
        if (!seen) return now[i];
    }
    return NULL;
}

static int has_key(char keys[][33], int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], k)) return 1;
    return 0;
}

/* One alma-xc66 cell at `scale`, with extra run-suite options; its exit
 * status, the output in *out. */
static int run_scale(fx *f, const char *scale, const char *extra, char **out)
{
    char path[4200], text[512];
    snprintf(path, sizeof path, "%s/cache-%s.yaml", f->dir, scale);
    snprintf(text, sizeof text,
             "name: cache\ndatasets: [alma-xc66]\nscale: %s\nimage: 32x32\nrepeats: 1\n", scale);
    write_file(path, text);
    return tu_run(out, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s' %s",
                  f->harness, path, f->db, f->data, f->out, extra);
}

/* Least recently used datasets are evicted to fit the budget, never one
 * in use (a shared lock on its in-use.lock, as a running cell holds); a
 * budget below one dataset is refused with the sizes. */
static void test_cache_budget(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char k0[8][33], k1[8][33];
    char *out = NULL;
    /* A, then B (no budget), then A again: B is now the least recent */
    assert_int_equal(run_scale(f, "0.0001", "", &out), 0);
    free(out);
    int n0 = cache_keys(f->data, k0, 8);
    assert_int_equal(n0, 1);
    char A[33], B[33], C[33];
    memcpy(A, k0[0], 33);
    assert_int_equal(run_scale(f, "0.00011", "", &out), 0);
    free(out);
    int n1 = cache_keys(f->data, k1, 8);
    assert_int_equal(n1, 2);
    memcpy(B, new_key(k0, n0, k1, n1), 33);
    sleep(1); /* distinct use times even on coarse clocks */
    assert_int_equal(run_scale(f, "0.0001", "", &out), 0);
    free(out);
    /* C under a 12 MB budget: A ~4.5 + B ~4.7 + C ~5.9 (estimated) do not
     * fit; evicting B (least recent) is enough */
    assert_int_equal(run_scale(f, "0.00012", "--cache-budget 12M", &out), 0);
    assert_true(tu_contains(out, "cache budget: evicted dataset "));
    assert_true(tu_contains(out, B));
    assert_false(tu_contains(out, A));
    free(out);
    n0 = cache_keys(f->data, k0, 8);
    assert_int_equal(n0, 2);
    assert_true(has_key(k0, n0, A));
    assert_false(has_key(k0, n0, B));
    memcpy(C, has_key(k0, n0, A) && strcmp(k0[0], A) ? k0[0] : k0[1], 33);
    /* A is now the least recent, but in use: D evicts C instead */
    sleep(1);
    char lock[4400];
    snprintf(lock, sizeof lock, "%s/%s/in-use.lock", f->data, C);
    assert_int_equal(utime(lock, NULL), 0); /* C used after A */
    snprintf(lock, sizeof lock, "%s/%s/in-use.lock", f->data, A);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_SH), 0);
    assert_int_equal(run_scale(f, "0.00013", "--cache-budget 12M", &out), 0);
    assert_true(tu_contains(out, C));
    free(out);
    n1 = cache_keys(f->data, k1, 8);
    assert_int_equal(n1, 2);
    assert_true(has_key(k1, n1, A));
    assert_false(has_key(k1, n1, C));
    /* nothing evictable: every other dataset in use */
    char lock2[4400];
    const char *D = strcmp(k1[0], A) ? k1[0] : k1[1];
    snprintf(lock2, sizeof lock2, "%s/%s/in-use.lock", f->data, D);
    int fd2 = open(lock2, O_RDWR | O_CREAT, 0644);
    assert_true(fd2 >= 0);
    assert_int_equal(flock(fd2, LOCK_SH), 0);
    assert_int_equal(run_scale(f, "0.00014", "--cache-budget 12M", &out), 1);
    assert_true(tu_contains(out, "needs 0.00"));
    assert_true(tu_contains(out, "but the cache budget of 0.013 GB (12582912 bytes) already "
                                 "holds"));
    free(out);
    close(fd2);
    close(fd);
    assert_int_equal(cache_keys(f->data, k1, 8), 2);
    /* a budget below the dataset itself */
    assert_int_equal(run_scale(f, "0.00015", "--cache-budget 1M", &out), 1);
    assert_true(tu_contains(out, "dataset 'alma-xc66': needs 0.00"));
    assert_true(tu_contains(out, "more than the whole cache budget of 0.001 GB (1048576 bytes)"));
    free(out);
    /* a bad budget is a usage error naming the option */
    assert_int_equal(run_scale(f, "0.0001", "--cache-budget lots", &out), 2);
    assert_true(tu_contains(out, "option '--cache-budget' must be a byte count"));
    free(out);
}

/* A small real file system (tmpfs, 8 MiB; skipped where mounting is not
 * allowed): gen and run-suite refuse a dataset that does not fit, with the
 * size needed and the free size, and leave nothing behind. */
static void test_disk_full(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char mnt[4200];
    snprintf(mnt, sizeof mnt, "%s/small", f->dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (tu_run(NULL, "mount -t tmpfs -o size=8m tmpfs '%s' 2>/dev/null", mnt) != 0) {
        printf("skip: cannot mount a tmpfs here (not root, or no permission)\n");
        rmdir(mnt);
        skip();
        return;
    }
    char *out = NULL;
    int st = tu_run(&out, "'%s' gen --dataset alma-xc66 --scale 0.001 --out '%s/g'", f->harness,
                    mnt);
    assert_int_not_equal(st, 0);
    assert_true(tu_contains(out, "the dataset needs 0.0"));
    assert_true(tu_contains(out, "GB are free") || tu_contains(out, "bytes) are free"));
    free(out);
    char p[4400];
    snprintf(p, sizeof p, "%s/g/vis.h5", mnt);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/g/vis.h5.tmp", mnt);
    assert_int_equal(access(p, F_OK), -1);
    /* run-suite with its dataset cache there */
    char suite[4200];
    snprintf(suite, sizeof suite, "%s/big.yaml", f->dir);
    write_file(suite, "name: big\ndatasets: [alma-xc66]\nscale: 0.001\nimage: 32x32\n"
                      "repeats: 1\n");
    st = tu_run(&out, "'%s' run-suite '%s' --db '%s' --data-dir '%s/cache' --out-dir '%s'",
                f->harness, suite, f->db, mnt, f->out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "dataset 'alma-xc66': needs 0.0"));
    assert_true(tu_contains(out, "on disk but only 0.00"));
    free(out);
    int n = tu_run(&out, "ls -A '%s/cache' | wc -l", mnt);
    assert_int_equal(n, 0);
    assert_int_equal(atoi(out), 0);
    free(out);
    tu_run(NULL, "umount '%s'", mnt);
    rmdir(mnt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dry_run_and_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smoke_end_to_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_warmup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bench_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_and_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_fixtures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
    };
    /* TEST_FILTER=pattern runs the matching tests only (while developing) */
    if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
