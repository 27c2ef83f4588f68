/*
 * test_faults.c: fault injection against the real programs. SIGKILL of
 * `harness run-suite` at deterministic random moments (integrity, nothing
 * reported finished is lost, --resume completes each cell exactly once);
 * SIGKILL of one MPI rank inside a suite (the attempt fails promptly,
 * naming the rank, and the suite goes on); a full disk (a 1 MiB tmpfs)
 * under the FITS cubes, the task events and the statistics, and a file
 * size limit (`ulimit -f`) under the imager and the generator; every
 * allocation failing in turn (IMBENCH_FAIL_ALLOC) in the imager and in
 * run-suite; a second writer on a database another process holds; and
 * bad inputs end to end, each with the message docs/validation.md shows;
 * ingest of hostile sizes (a 50 MB stderr tail, 1.2 M task rows, a 159 MB
 * stats file) in bounded memory, and the results database on a full disk.
 * Parts that need mount or mpirun are skipped, saying why.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "tests/testutil.h"

#define NTRIALS 24    /* SIGKILL trials of run-suite */
#define TINY_CELLS 6  /* 2 datasets x 3 chunk counts */

typedef struct fx {
    char *dir;
    char harness[1024], imager[1024];
    char cache[1100], suite[1100], store[1100], cells[1100];
    double suite_s; /* wall time of one full tiny suite, cache warm */
    int warm;
} fx;

/* ---- helpers ------------------------------------------------------------ */

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static int exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}


/* A file of the source tree: from the current directory (make test runs
 * in the top directory), else beside the programs ($IMBENCH_BIN/../..). */
static void repo_path(char *out, size_t n, const char *rel)
{
    char cwd[512];
    if (getcwd(cwd, sizeof cwd) && access(rel, R_OK) == 0) {
        snprintf(out, n, "%s/%s", cwd, rel);
        return;
    }
    snprintf(out, n, "%s/../../%s", tu_bin(""), rel);
}

/* Open an existing database read-write (so a WAL left by a killed writer
 * is recovered); NULL when there is none. */
static sqlite3 *db_open(const char *path)
{
    if (access(path, F_OK) != 0) return NULL;
    sqlite3 *h = NULL;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_busy_timeout(h, 5000);
    return h;
}

/* First column of the first row as an integer; -1 when the query fails
 * (a database killed before its tables were committed has none). */
static int64_t q_int(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t q_int(const char *db, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *h = db_open(db);
    if (!h) return -1;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return v;
}

/* PRAGMA integrity_check through the C API: 1 ok, 0 not, -1 no database. */
static int integrity_ok(const char *db)
{
    sqlite3 *h = db_open(db);
    if (!h) return -1;
    sqlite3_stmt *st;
    int ok = 0;
    if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            ok = t && strcmp(t, "ok") == 0;
            if (!ok) fprintf(stderr, "integrity_check of '%s': %s\n", db, t ? t : "(null)");
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return ok;
}

static void rm_db(const char *db)
{
    char p[1300];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static void verify_ok(const fx *f, const char *db)
{
    char *out = NULL;
    int st = tu_run(&out, "'%s' verify --db '%s'", f->harness, db);
    if (st != 0 || !tu_contains(out, "0 problems")) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "integrity_check: ok"));
    assert_true(tu_contains(out, "0 problems"));
    free(out);
}

/* No sanitizer report, no crash report, no assertion of ours. */
static void assert_clean_output(const char *out)
{
    static const char *const bad[] = {"Sanitizer", "runtime error:", "internal error",
                                      "Segmentation", "HDF5-DIAG", NULL};
    for (int i = 0; bad[i]; i++) {
        if (tu_contains(out, bad[i])) fprintf(stderr, "unexpected '%s' in:\n%s\n", bad[i], out);
        assert_false(tu_contains(out, bad[i]));
    }
}

/* Run the tiny suite to completion: status, output in *out. */
static int run_tiny(const fx *f, char **out, const char *db, const char *extra)
{
    return tu_run(out, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s' %s",
                  f->harness, f->suite, db, f->cache, f->cells, extra ? extra : "");
}

/* The tiny suite once, so every test finds its datasets in the cache. */
static void warm_up(fx *f)
{
    if (f->warm) return;
    char db[1200], *out = NULL;
    snprintf(db, sizeof db, "%s/warm.db", f->dir);
    int st = run_tiny(f, &out, db, NULL);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    double t0 = ib_now();
    st = run_tiny(f, &out, db, NULL);
    f->suite_s = ib_now() - t0;
    assert_int_equal(st, 0);
    assert_false(tu_contains(out, "generating dataset"));
    free(out);
    f->warm = 1;
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    char abs[1024];
    snprintf(f->harness, sizeof f->harness, "%s", tu_bin("harness"));
    snprintf(f->imager, sizeof f->imager, "%s", tu_bin("imager"));
    if (realpath(f->harness, abs)) snprintf(f->harness, sizeof f->harness, "%s", abs);
    if (realpath(f->imager, abs)) snprintf(f->imager, sizeof f->imager, "%s", abs);
    if (access(f->harness, X_OK) || access(f->imager, X_OK)) {
        fprintf(stderr, "'%s' or '%s' is not built (make programs)\n", f->harness, f->imager);
        free(f);
        return -1;
    }
    f->dir = tu_mkdtemp("faults");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    snprintf(f->cells, sizeof f->cells, "%s/cells", f->dir);
    snprintf(f->suite, sizeof f->suite, "%s/tiny.yaml", f->dir);
    snprintf(f->store, sizeof f->store, "%s/store", f->dir);
    write_file(f->suite, "name: tiny\n"
                         "datasets:\n"
                         "  - alma-xc66\n"
                         "  - {name: vla-chiles, times: 4}\n"
                         "scale: 0.0001\n"
                         "chans: 4\n"
                         "image: 32x32\n"
                         "timeout: 30\n"
                         "axes:\n"
                         "  chunks: [1, 2, 4]\n"
                         "  threads: [1]\n"
                         "  support: [7]\n");
    tu_store t = {.nant = 6, .ntime = 8, .nchan = 4, .npol = 2, .cell_arcsec = 0.5, .nx = 64};
    tu_src s[1] = {{1.0, 0, 0, 0}};
    if (tu_make_store(f->store, &t, s, 1)) {
        tu_rmtree(f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char *out = NULL;
    /* a test that failed half-way may leave its tmpfs mounted */
    tu_run(&out, "grep -q ' %s/' /proc/mounts && umount -l %s/small", f->dir, f->dir);
    free(out);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int glob_exists(const char *pattern)
{
    glob_t g;
    int n = glob(pattern, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    if (n) globfree(&g);
    return n;
}

/* ---- (a) SIGKILL of run-suite at random moments ---------------------------- */

/* Start argv with stderr (where run-suite's progress goes) on a pipe
 * (*out_fd) and stdout into errlog. */
static pid_t spawn_piped(char *const argv[], int *out_fd, const char *errlog)
{
    int fd[2];
    assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (e < 0) _exit(126);
        dup2(e, 1);
        dup2(fd[1], 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fd[1]);
    *out_fd = fd[0];
    return pid;
}

/* Append what the pipe has to *buf until the deadline (absolute, ib_now)
 * or end of file; returns 1 at end of file. */
static int read_until(int fd, char **buf, size_t *len, size_t *cap, double deadline)
{
    for (;;) {
        double left = deadline - ib_now();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        if (*len + 4096 > *cap) {
            *cap = *cap * 2 + 8192;
            *buf = realloc(*buf, *cap);
            assert_non_null(*buf);
        }
        ssize_t k = read(fd, *buf + *len, *cap - *len - 1);
        if (k <= 0) return 1;
        *len += (size_t)k;
        (*buf)[*len] = '\0';
    }
}

static void test_kill_trials(void **state)
{
    fx *f = *state;
    warm_up(f);
    print_message("  tiny suite: %d cells in %.2f s (cache warm)\n", TINY_CELLS, f->suite_s);
    int killed = 0, lost = 0, reported_total = 0;
    double t_start = ib_now(), span = f->suite_s;
    int t;
    /* at least NTRIALS trials, and more while fewer than 20 landed mid-suite */
    for (t = 0; t < NTRIALS || (killed < 20 && t < NTRIALS + 12); t++) {
        char tdir[1200], db[1300], out[1300], errlog[1300];
        snprintf(tdir, sizeof tdir, "%s/kill/t%02d", f->dir, t);
        snprintf(db, sizeof db, "%s/db/results.db", tdir);
        snprintf(out, sizeof out, "%s/cells", tdir);
        snprintf(errlog, sizeof errlog, "%s.err", tdir);
        ib_err e;
        assert_int_equal(ib_mkdir_p(&e, tdir), 0);
        /* deterministic moments spread over the whole suite, start-up and
         * database creation included */
        double delay = 0.01 + 0.7 * span * ib_uniform(ib_hash4(20240611, (uint64_t)t, 0, 0));
        char *argv[] = {f->harness, "run-suite", f->suite, "--db", db, "--data-dir", f->cache,
                        "--out-dir", out, NULL};
        int fd;
        double t0 = ib_now();
        pid_t pid = spawn_piped(argv, &fd, errlog);
        size_t len = 0, cap = 0;
        char *text = NULL;
        int eof = 0;
        if (t % 2 == 0) {
            eof = read_until(fd, &text, &len, &cap, t0 + delay);
        } else {
            /* aimed at the window between the end of cell k's imager (its
             * stats.json appears) and the commit of its attempt */
            int k = 1 + (t / 2) % (TINY_CELLS - 1);
            char pattern[1400];
            snprintf(pattern, sizeof pattern, "%s/run-*/*/r0-p*/stats.json", out);
            while (glob_exists(pattern) < k && waitpid(pid, NULL, WNOHANG) == 0 &&
                   ib_now() - t0 < 60)
                nap(0.001);
            nap(0.06 * ib_uniform(ib_hash4(20240611, (uint64_t)t, 1, 0)));
            delay = ib_now() - t0; /* when it lands, for the log */
        }
        int st = 0, was_killed = 0;
        if (waitpid(pid, &st, WNOHANG) == 0) {
            assert_int_equal(kill(pid, SIGKILL), 0);
            assert_int_equal(waitpid(pid, &st, 0), pid);
            was_killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
        }
        /* whatever the harness wrote before it died */
        if (!eof) read_until(fd, &text, &len, &cap, ib_now() + 5);
        close(fd);

        /* 1. consistent */
        int integ = integrity_ok(db);
        assert_true(integ != 0); /* ok, or no database yet */
        /* 2. every cell reported finished is in the database */
        int reported = 0;
        for (const char *p = text; p && (p = strstr(p, "cell ")) != NULL; p++) {
            char status[32], ds[64];
            double wall;
            int i, n;
            if (sscanf(p, "cell %d/%d %31s %lfs %63s", &i, &n, status, &wall, ds) != 5 ||
                strcmp(status, "ok"))
                continue;
            const char *ch = strstr(p, " chunks=");
            const char *nl = strchr(p, '\n');
            if (!ch || (nl && ch > nl)) continue;
            reported++;
            int64_t have = q_int(db,
                                 "SELECT count(*) FROM attempts a JOIN cells c ON c.id = a.cell_id"
                                 " WHERE a.status = 'ok' AND c.dataset = '%s' AND c.chunks = %d",
                                 ds, atoi(ch + 8));
            if (have < 1) {
                fprintf(stderr, "trial %d: reported '%.*s' but not in the database\n", t,
                        (int)(nl ? nl - p : 80), p);
                lost++;
            }
        }
        reported_total += reported;
        int64_t ok_before = q_int(db, "SELECT count(*) FROM attempts WHERE status = 'ok'");
        if (ok_before < 0) ok_before = 0;
        assert_true(ok_before >= reported);
        free(text);

        /* 3. --resume completes the suite, each cell once (a run that
         * completed before the kill landed is not resumed: nothing to do) */
        int complete = q_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'") == 1;
        killed += was_killed && !complete;
        if (complete) {
            assert_int_equal(ok_before, TINY_CELLS);
            assert_int_equal(q_int(db, "SELECT count(*) FROM (SELECT cell_id FROM attempts"
                                       " WHERE status = 'ok' GROUP BY cell_id HAVING count(*) = 1)"),
                             TINY_CELLS);
            verify_ok(f, db);
            print_message("  trial %d: the suite had completed after %.2f s\n", t, delay);
            if (t % 2 == 0 && delay < span) span = delay; /* a quicker suite than measured */
            tu_rmtree(tdir);
            continue;
        }
        char *o = NULL;
        int rs = tu_run(&o, "'%s' run-suite '%s' --resume --db '%s' --data-dir '%s' --out-dir '%s'",
                        f->harness, f->suite, db, f->cache, out);
        if (rs) fprintf(stderr, "trial %d resume:\n%s\n", t, o);
        assert_int_equal(rs, 0);
        char want[64];
        snprintf(want, sizeof want, "%lld to run", (long long)(TINY_CELLS - ok_before));
        if (!tu_contains(o, want)) fprintf(stderr, "trial %d: expected '%s' in:\n%s\n", t, want, o);
        assert_true(tu_contains(o, want));
        free(o);
        assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 1);
        assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE status = 'complete'"), 1);
        assert_int_equal(q_int(db, "SELECT count(*) FROM attempts WHERE status = 'ok'"), TINY_CELLS);
        assert_int_equal(q_int(db, "SELECT count(*) FROM (SELECT cell_id FROM attempts"
                                   " WHERE status = 'ok' GROUP BY cell_id HAVING count(*) = 1)"),
                         TINY_CELLS);
        assert_int_equal(integrity_ok(db), 1);
        verify_ok(f, db);
        if (t < 4 || t % 8 == 7)
            print_message("  trial %d: killed after %.3f s (%s%s), %d reported ok, %lld in the "
                          "database, resumed\n",
                          t, delay, t % 2 ? "aimed at a commit, " : "", was_killed ? "SIGKILL" :
                          "had finished", reported, (long long)ok_before);
        tu_rmtree(tdir);
    }
    print_message("trials %d, results lost %d (%d killed mid-suite, %d cells reported ok "
                  "before a kill; %.0f s)\n", t, lost, killed, reported_total,
                  ib_now() - t_start);
    assert_int_equal(lost, 0);
    assert_true(killed >= 20);
}

/* ---- (b) one MPI rank killed inside run-suite ------------------------------------ */



static void test_rank_killed_in_suite(void **state)
{
    fx *f = *state;
    char *o = NULL;
    if (tu_run(&o, "command -v mpirun") != 0) {
        free(o);
        print_message("  skip: mpirun is not installed\n");
        skip();
    }
    free(o);
    char suite[1200], db[1200], out[1200], log[1200], cache[1200];
    snprintf(suite, sizeof suite, "%s/rankkill.yaml", f->dir);
    snprintf(db, sizeof db, "%s/rankkill.db", f->dir);
    snprintf(out, sizeof out, "%s/rankkill-cells", f->dir);
    snprintf(log, sizeof log, "%s/rankkill.log", f->dir);
    snprintf(cache, sizeof cache, "%s/rankkill-cache", f->dir);
    /* 256 channels of 1024^2 double-precision FFTs (Stokes I: one plane
     * each) on two ranks: a few seconds of imaging; then a one-node cell
     * that must still run */
    write_file(suite, "name: rankkill\n"
                      "datasets:\n"
                      "  - {name: alma-xc66, times: 4}\n"
                      "scale: 0.0001\n"
                      "chans: 256\n"
                      "image: 256x256\n"
                      "timeout: 60\n"
                      "axes:\n"
                      "  nodes: [2, 1]\n"
                      "  threads: [1]\n"
                      "  chunks: [64]\n"
                      "  padding: [4]\n"
                      "  precision: [double]\n");
    /* generate the dataset first: the kill must land in the imaging */
    int st = tu_run(&o, "'%s' run-suite '%s' --db '%s/gen.db' --data-dir '%s' --out-dir '%s'"
                        " --filter nodes=1", f->harness, suite, f->dir, cache, out);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0);
    free(o);

    fflush(NULL);
    double t0 = ib_now();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(f->harness, f->harness, "run-suite", suite, "--db", db, "--data-dir", cache,
              "--out-dir", out, (char *)NULL);
        _exit(127);
    }
    /* rank 1 exists and rank 0 has created the cube: both are imaging */
    char tmp_glob[1300];
    snprintf(tmp_glob, sizeof tmp_glob, "%s/run-1/*/r0-p*/dirty.fits.tmp", out);
    pid_t victim = 0;
    int status = 0, ended = 0, cube = 0;
    while (ib_now() - t0 < 60) {
        if (waitpid(child, &status, WNOHANG) == child) {
            ended = 1;
            break;
        }
        if (!victim) victim = tu_find_rank("imager", out, 1);
        cube = cube || glob_exists(tmp_glob);
        if (victim && cube) break;
        nap(0.01);
    }
    assert_true(victim > 0);
    assert_true(cube);
    nap(0.2);
    double t_kill = ib_now();
    assert_int_equal(kill(victim, SIGKILL), 0);
    while (!ended && ib_now() - t0 < 150) {
        if (waitpid(child, &status, WNOHANG) == child) ended = 1;
        else nap(0.05);
    }
    if (!ended) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    double t_end = ib_now();
    char *text = tu_slurp(log, NULL);
    print_message("  killed rank 1 (pid %d) %.2f s after the start; the suite ended %.2f s "
                  "later\n", (int)victim, t_kill - t0, t_end - t_kill);
    assert_true(ended);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 1 || !tu_contains(text, "cell 2/2 ok"))
        fprintf(stderr, "%s\n", text);
    assert_int_equal(WEXITSTATUS(status), 1); /* one cell failed, the suite went on */
    assert_true(tu_contains(text, "cell 1/2 failed"));
    assert_true(tu_contains(text, "cell 2/2 ok"));
    /* the progress line gives the reason, not mpirun's frame of dashes */
    const char *line = strstr(text, "cell 1/2 failed"), *nl = line ? strchr(line, '\n') : NULL;
    const char *why = line ? strstr(line, "rank 1") : NULL;
    if (!why || (nl && why > nl)) fprintf(stderr, "no rank in the failure note:\n%s\n", text);
    assert_true(why && (!nl || why < nl));
    free(text);
    /* recorded: failed (not timed out) within the timeout, the tail names
     * the rank; the next cell succeeded */
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts a JOIN cells c ON c.id = a.cell_id"
                               " WHERE c.nodes = 2 AND a.status = 'failed' AND a.wall_s < 60"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts a JOIN cells c ON c.id = a.cell_id"
                               " WHERE c.nodes = 2 AND a.stderr_tail LIKE '%%rank 1%%'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts a JOIN cells c ON c.id = a.cell_id"
                               " WHERE c.nodes = 1 AND a.status = 'ok'"),
                     1);
    assert_true(t_end - t_kill < 40);
    /* no complete-looking cube from the killed attempt, no rank left */
    char fits_glob[1300];
    snprintf(fits_glob, sizeof fits_glob, "%s/run-1/*/r0-p*/dirty.fits", out);
    int left = 1;
    for (int i = 0; i < 100 && left; i++) {
        left = tu_find_rank("imager", out, 0) || tu_find_rank("imager", out, 1);
        if (left) nap(0.05);
    }
    assert_false(left);
    assert_false(glob_exists(fits_glob));
    verify_ok(f, db);
    tu_rmtree(out);
}

/* ---- (c) full disk and file size limit -------------------------------------------- */

static int64_t file_size(const char *dir, const char *name)
{
    char p[4096];
    struct stat s;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &s) == 0 ? (int64_t)s.st_size : -1;
}

static int64_t pages(int64_t bytes) { return (bytes + 4095) / 4096; }

/* Leave exactly `keep` pages free on the tmpfs at mnt. */
static void fill_to(const char *mnt, int64_t keep)
{
    char fill[1300];
    snprintf(fill, sizeof fill, "%s/fill", mnt);
    unlink(fill);
    struct statvfs v;
    assert_int_equal(statvfs(mnt, &v), 0);
    int64_t free_pages = (int64_t)v.f_bavail * (int64_t)v.f_frsize / 4096;
    assert_true(free_pages >= keep);
    char *o = NULL;
    int st = tu_run(&o, "head -c %lld /dev/zero > '%s'", (long long)((free_pages - keep) * 4096),
                    fill);
    assert_int_equal(st, 0);
    free(o);
}

static void test_full_disk(void **state)
{
    fx *f = *state;
    char mnt[1200], ref[1200], *o = NULL;
    snprintf(mnt, sizeof mnt, "%s/small", f->dir);
    if (tu_run(&o, "mkdir -p '%s' && mount -t tmpfs -o size=1m tmpfs '%s'", mnt, mnt) != 0) {
        print_message("  skip: cannot mount a 1 MiB tmpfs (%s)\n", o ? o : "");
        free(o);
        skip();
    }
    free(o);
    /* two planes a channel (--stokes XX,YY): the sizes below are of both */
    const char *cmd = "'%s' --vis '%s' --out '%s/%s' --quiet --fft-plan estimate --stokes XX,YY %s";
    struct {
        const char *out, *args, *file;
    } cubes[] = {
        /* a 2 MB cube: its space is reserved up front and refused */
        {"o1", "--image 256", "dirty.fits"},
        /* the dirty cube fits, the PSF cube does not: neither stays */
        {"o2", "--image 160 --psf", "psf.fits"},
    };
    for (size_t i = 0; i < sizeof cubes / sizeof cubes[0]; i++) {
        int st = tu_run(&o, cmd, f->imager, f->store, mnt, cubes[i].out, cubes[i].args);
        print_message("  %s: %s", cubes[i].args, o);
        char want[4096], dir[1300];
        snprintf(want, sizeof want, "imager: fits '%s/%s/%s.tmp': no space for a ", mnt,
                 cubes[i].out, cubes[i].file);
        assert_int_equal(st, 1);
        assert_true(tu_contains(o, want));
        assert_true(tu_contains(o, "No space left on device"));
        free(o);
        snprintf(dir, sizeof dir, "%s/%s", mnt, cubes[i].out);
        assert_false(exists(dir, "dirty.fits"));
        assert_false(exists(dir, "dirty.fits.tmp"));
        assert_false(exists(dir, "psf.fits"));
        assert_false(exists(dir, "psf.fits.tmp"));
    }

    /* The cube fits exactly; then the task events, then the statistics do
     * not: the run fails and leaves no cube that looks finished. Sizes
     * from the same run elsewhere. */
    snprintf(ref, sizeof ref, "%s/ref", f->dir);
    assert_int_equal(tu_run(&o, "'%s' --vis '%s' --out '%s' --quiet --image 64 --stats '%s/s.json'",
                            f->imager, f->store, ref, ref),
                     0);
    free(o);
    int64_t cube_pages = pages(file_size(ref, "dirty.fits"));
    int64_t task_pages = pages(file_size(ref, "tasks.csv"));
    assert_true(cube_pages > 0 && task_pages > 0);
    assert_true(file_size(ref, "s.json") > 0);

    fill_to(mnt, cube_pages);
    int st = tu_run(&o, "'%s' --vis '%s' --out '%s/o3' --quiet --image 64", f->imager, f->store,
                    mnt);
    print_message("  task events on a full disk: %s", o);
    char want[4096], dir[1300];
    snprintf(want, sizeof want, "imager: tasks '%s/o3/tasks.csv.tmp': cannot write: No space left "
                                "on device", mnt);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, want));
    free(o);
    snprintf(dir, sizeof dir, "%s/o3", mnt);
    assert_false(exists(dir, "dirty.fits"));
    assert_false(exists(dir, "dirty.fits.tmp"));
    assert_false(exists(dir, "tasks.csv"));
    assert_false(exists(dir, "tasks.csv.tmp"));

    fill_to(mnt, cube_pages + task_pages);
    st = tu_run(&o, "'%s' --vis '%s' --out '%s/o4' --quiet --image 64 --stats '%s/o4/stats.json'",
                f->imager, f->store, mnt, mnt);
    print_message("  statistics on a full disk: %s", o);
    snprintf(want, sizeof want, "imager: stats '%s/o4/stats.json': cannot write: No space left "
                                "on device", mnt);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, want));
    free(o);
    snprintf(dir, sizeof dir, "%s/o4", mnt);
    assert_false(exists(dir, "dirty.fits"));
    assert_false(exists(dir, "tasks.csv"));
    assert_false(exists(dir, "stats.json"));
    assert_false(exists(dir, "stats.json.tmp"));

    /* the generator checks the free space before it starts */
    st = tu_run(&o, "'%s' gen --dataset alma-xc66 --scale 0.001 --out '%s/gen'", f->harness, mnt);
    print_message("  generator on a full disk: %s", o);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "harness gen: output '"));
    assert_true(tu_contains(o, "are free"));
    free(o);
    assert_false(exists(mnt, "gen/vis.h5"));
    assert_false(exists(mnt, "gen/vis.h5.tmp"));
    assert_int_equal(tu_run(&o, "umount '%s'", mnt), 0);
    free(o);
}

static void test_file_size_limit(void **state)
{
    fx *f = *state;
    char dir[1200], *o = NULL;
    snprintf(dir, sizeof dir, "%s/fsize", f->dir);
    /* a 2 MB cube past a 100-block limit: EFBIG, not death by SIGXFSZ */
    int st = tu_run(&o, "ulimit -f 100; '%s' --vis '%s' --out '%s' --quiet --image 256",
                    f->imager, f->store, dir);
    print_message("  imager under ulimit -f: %s", o);
    assert_int_equal(st, 1);
    char want[4096];
    snprintf(want, sizeof want, "imager: fits '%s/dirty.fits.tmp': no space for a ", dir);
    assert_true(tu_contains(o, want));
    assert_true(tu_contains(o, "File too large"));
    free(o);
    assert_false(exists(dir, "dirty.fits"));
    assert_false(exists(dir, "dirty.fits.tmp"));

    /* the generator: an HDF5 write fails; the error, and no crash in
     * HDF5's clean-up at exit */
    snprintf(dir, sizeof dir, "%s/fsize-gen", f->dir);
    st = tu_run(&o, "ulimit -f 100; '%s' gen --dataset alma-xc66 --scale 0.0001 --chans 4 "
                    "--out '%s'", f->harness, dir);
    print_message("  generator under ulimit -f: %s", o);
    assert_int_equal(st, 1);
    snprintf(want, sizeof want, "harness gen: store '%s/vis.h5.tmp': cannot ", dir);
    assert_true(tu_contains(o, want));
    assert_clean_output(o);
    free(o);
    assert_false(exists(dir, "vis.h5"));
    assert_false(exists(dir, "vis.h5.tmp"));
}

/* ---- (d) every allocation failing in turn ------------------------------------------ */

static void test_oom_imager(void **state)
{
    fx *f = *state;
    char out[1200];
    snprintf(out, sizeof out, "%s/oom", f->dir);
    int n, streak = 0, failed = 0;
    double t_start = ib_now();
    for (n = 1; n <= 600 && streak < 5; n++) {
        char *o = NULL;
        tu_rmtree(out);
        int st = tu_run(&o, "IMBENCH_FAIL_ALLOC=%d '%s' --vis '%s' --out '%s' --threads 2 "
                            "--chunks 2 --image 32 --psf --weight briggs:0.5 --quiet "
                            "--fft-plan estimate --check-dft 4 --stats '%s.json'",
                        n, f->imager, f->store, out, out);
        if (st != 0 && st != 1 && st != 2) fprintf(stderr, "allocation %d: status %d\n%s\n", n, st, o);
        assert_true(st == 0 || st == 1 || st == 2);
        assert_clean_output(o);
        if (st) {
            if (!tu_contains(o, "imager: ")) fprintf(stderr, "allocation %d: no message\n%s\n", n, o);
            assert_true(tu_contains(o, "imager: "));
            assert_false(exists(out, "dirty.fits")); /* a failed run leaves no products */
            assert_false(exists(out, "psf.fits"));
            failed++;
        }
        streak = st == 0 ? streak + 1 : 0;
        free(o);
    }
    print_message("  imager: allocations 1..%d failed in turn, %d runs failed cleanly, the "
                  "rest succeeded (%.0f s)\n", n - 1, failed, ib_now() - t_start);
    assert_true(streak >= 5); /* got past the last allocation */
    assert_true(failed > 10);
}

static void test_oom_run_suite(void **state)
{
    fx *f = *state;
    warm_up(f);
    char db[1200];
    snprintf(db, sizeof db, "%s/oom.db", f->dir);
    int n, streak = 0, failed = 0;
    double t_start = ib_now();
    for (n = 1; n <= 600 && streak < 5; n++) {
        char *o = NULL;
        rm_db(db);
        /* the imager inherits the variable and fails at its own Nth
         * allocation: both programs' error paths are taken */
        int st = tu_run(&o, "IMBENCH_FAIL_ALLOC=%d '%s' run-suite '%s' --db '%s' --data-dir '%s'"
                            " --out-dir '%s' --filter dataset=alma-xc66,chunks=2",
                        n, f->harness, f->suite, db, f->cache, f->cells);
        if (st != 0 && st != 1 && st != 2) fprintf(stderr, "allocation %d: status %d\n%s\n", n, st, o);
        assert_true(st == 0 || st == 1 || st == 2);
        assert_clean_output(o);
        if (st) {
            int said = tu_contains(o, "harness run-suite: ") || tu_contains(o, "failed");
            if (!said) fprintf(stderr, "allocation %d: no message\n%s\n", n, o);
            assert_true(said);
            failed++;
        }
        /* a failed cell says why ("... r0  (imager: out of memory ...)") */
        const char *fl = strstr(o, "cell 1/1 failed");
        if (fl) {
            const char *nl = strchr(fl, '\n'), *why = strstr(fl, "  (");
            if (!why || (nl && why > nl)) fprintf(stderr, "allocation %d: no reason\n%s\n", n, o);
            assert_true(why && (!nl || why < nl));
        }
        if (access(db, F_OK) == 0) {
            assert_int_equal(integrity_ok(db), 1);
            /* no child crashed either */
            int64_t sig = q_int(db, "SELECT count(*) FROM attempts WHERE signal IS NOT NULL");
            if (sig > 0) fprintf(stderr, "allocation %d: a child died of a signal\n%s\n", n, o);
            assert_true(sig <= 0);
            if (n % 4 == 0) verify_ok(f, db); /* orphans, phases of ok attempts */
        }
        streak = st == 0 ? streak + 1 : 0;
        free(o);
    }
    print_message("  run-suite: allocations 1..%d failed in turn, %d runs failed cleanly, "
                  "database consistent after each (%.0f s)\n", n - 1, failed, ib_now() - t_start);
    assert_true(streak >= 5);
    assert_true(failed > 10);
}

/* ---- (e) a second writer ------------------------------------------------------------ */

static void test_second_writer(void **state)
{
    fx *f = *state;
    warm_up(f);
    char db[1200], baselines[1200], *o = NULL;
    snprintf(db, sizeof db, "%s/locked.db", f->dir);
    repo_path(baselines, sizeof baselines, "workloads/baselines/seed-study.yaml");
    int st = run_tiny(f, &o, db, "--filter dataset=alma-xc66,chunks=1");
    assert_int_equal(st, 0);
    free(o);

    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "BEGIN IMMEDIATE; INSERT INTO runs(suite, started_at, status)"
                                     " VALUES('holder', 'now', 'running')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    char want[4096];
    snprintf(want, sizeof want, "database '%s' is locked by another writer", db);
    struct {
        const char *what;
        char cmd[8192];
    } writers[2];
    writers[0].what = "run-suite";
    snprintf(writers[0].cmd, sizeof writers[0].cmd,
             "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s' --filter chunks=1",
             f->harness, f->suite, db, f->cache, f->cells);
    writers[1].what = "baselines import";
    snprintf(writers[1].cmd, sizeof writers[1].cmd, "'%s' baselines import '%s' --db '%s'",
             f->harness, baselines, db);
    for (int i = 0; i < 2; i++) {
        double t0 = ib_now();
        st = tu_run(&o, "%s", writers[i].cmd);
        double waited = ib_now() - t0;
        print_message("  %s against a held write lock: status %d after %.1f s: %s", writers[i].what,
                      st, waited, o);
        assert_int_equal(st, 1);
        assert_true(tu_contains(o, want));
        assert_true(waited >= 4.5); /* the bounded busy wait (5 s) ... */
        assert_true(waited < 20);   /* ... and not much more */
        free(o);
    }
    assert_int_equal(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    /* nothing half-written by the refused writers; the holder's row is in */
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM baselines"), 0);
    verify_ok(f, db);
    /* and writing works again */
    st = tu_run(&o, "%s", writers[1].cmd);
    assert_int_equal(st, 0);
    free(o);
    assert_true(q_int(db, "SELECT count(*) FROM baselines") > 0);
    verify_ok(f, db);
}

/* ---- bad inputs end to end (docs/validation.md) --------------------------------------- */

static void test_bad_suites(void **state)
{
    fx *f = *state;
    /* Malformed suites through the program: status 1, the message with
     * file, line and column, and no database created. (Odd support is in
     * test_run_suite; each rule's unit test is in test_suite.) */
    static const struct {
        const char *name, *text, *msg;
    } cases[] = {
        {"unknown-key", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\ncolour: red\n",
         "line 4 column 1: unknown key 'colour' in the suite (expected one of: name, "},
        {"wrong-type", "name: b\ndatasets: [alma-xc66]\nscale: lots\n",
         "line 3 column 8: scale must be a number > 0 and <= 1, got 'lots'"},
        {"empty-axis", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n  chunks: []\n",
         "line 5 column 11: axis 'chunks' is empty (expected a non-empty list of values)"},
        {"zip", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n  nodes: [1, 2]\n"
                "  threads: [1]\nzip:\n  - [nodes, threads]\n",
         "line 8 column 5: zip group axes must have the same length: 'nodes' has 2 values, "
         "'threads' has 1"},
        {"unknown-dataset", "name: b\ndatasets: [alma-nope]\nscale: 0.001\n",
         "line 2 column 12: unknown dataset 'alma-nope' (known in '"},
        {"nodes-0", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n  nodes: [0]\n",
         "line 5 column 11: nodes must be in 1..1024, got 0"},
        {"odd-image", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\nimage: 63x64\n",
         "line 4 column 8: image must be NX or NXxNY, even, 2..65536, got '63x64'"},
        {"yaml-syntax", "name: b\ndatasets: [alma-xc66\nscale: 0.001\n",
         "line 3 column 6: YAML error: did not find expected ',' or ']'"},
        {"a-list", "- a\n- b\n",
         "line 1 column 1: a suite must be a mapping (name, datasets, scale, axes, ...), got a "
         "list"},
        {"all-excluded", "name: b\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n  chunks: [1]\n"
                         "exclude:\n  - {chunks: 1}\n",
         "': every cell is excluded (expected at least one cell)"},
    };
    char db[1200];
    snprintf(db, sizeof db, "%s/bad-suites.db", f->dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1200], *o = NULL, want[4096];
        snprintf(path, sizeof path, "%s/%s.yaml", f->dir, cases[i].name);
        write_file(path, cases[i].text);
        int st = tu_run(&o, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s'",
                        f->harness, path, db, f->cache, f->cells);
        snprintf(want, sizeof want, "harness run-suite: suite '%s", path);
        if (st != 1 || !tu_contains(o, cases[i].msg) || !tu_contains(o, want))
            fprintf(stderr, "%s: status %d: %s\n", cases[i].name, st, o);
        assert_int_equal(st, 1);
        assert_true(tu_contains(o, want));
        assert_true(tu_contains(o, cases[i].msg));
        assert_false(tu_contains(o, "unknown dataset 'alma-nope': unknown dataset"));
        free(o);
        assert_int_equal(access(db, F_OK), -1);
    }
    char *o = NULL;
    int st = tu_run(&o, "'%s' run-suite '%s/missing.yaml'", f->harness, f->dir);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "missing.yaml': No such file or directory"));
    free(o);
    st = tu_run(&o, "'%s' run-suite '%s' --timeout 0 --db '%s'", f->harness, f->suite, db);
    assert_int_equal(st, 2);
    assert_true(tu_contains(
        o, "harness run-suite: --repeat must be >= 1, --warmup 0..100 and --timeout > 0"));
    free(o);
    assert_int_equal(access(db, F_OK), -1);
}

/* A cached dataset whose vis.h5 was truncated afterwards: every cell of
 * it fails naming the file; the suite records them and ends with 1. */
static void test_corrupt_cached_store(void **state)
{
    fx *f = *state;
    warm_up(f);
    char cache[1200], db[1200], *o = NULL;
    snprintf(cache, sizeof cache, "%s/cache-corrupt", f->dir);
    snprintf(db, sizeof db, "%s/corrupt.db", f->dir);
    int st = tu_run(&o, "cp -r '%s' '%s' && for v in '%s'/*/vis.h5; do head -c 20000 \"$v\" > "
                        "\"$v.cut\" && mv \"$v.cut\" \"$v\"; done",
                    f->cache, cache, cache);
    assert_int_equal(st, 0);
    free(o);
    st = tu_run(&o, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s' "
                    "--filter chunks=1", f->harness, f->suite, db, cache, f->cells);
    print_message("  %s", o);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "cell 1/2 failed"));
    assert_true(tu_contains(o, "cell 2/2 failed"));
    assert_true(tu_contains(o, "/vis.h5': not a readable HDF5 file (truncated or corrupt)"));
    free(o);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts WHERE status = 'failed' AND "
                               "exit_code = 1 AND stderr_tail LIKE '%%not a readable HDF5 file%%'"),
                     2);
    verify_ok(f, db);
}

/* Stats records with NaN (not JSON: the entry is skipped, naming file and
 * line) and with negative durations (stored as NULL with the reason). */
static void test_bad_stats_ingest(void **state)
{
    fx *f = *state;
    char dir[1200], path[1300], db[1200], *o = NULL;
    snprintf(dir, sizeof dir, "%s/ingest", f->dir);
    snprintf(db, sizeof db, "%s/ingest.db", f->dir);
    static const char cell[] =
        "{\"schema\": \"imbench-cell/1\", \"params\": {\"dataset\": \"alma-xc66\", \"scale\": "
        "0.0001, \"chans\": 4, \"image\": \"32x32\", \"chunks\": %d}, \"repeat\": 0, \"status\": "
        "\"ok\", \"started_at\": \"2026-01-01T00:00:0%dZ\"}\n";
    char text[1024];
    ib_err e;
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/a%d", dir, i);
        assert_int_equal(ib_mkdir_p(&e, path), 0);
        snprintf(path, sizeof path, "%s/a%d/cell.json", dir, i);
        snprintf(text, sizeof text, cell, i, i);
        write_file(path, text);
    }
    snprintf(path, sizeof path, "%s/a1/stats.json", dir);
    write_file(path, "{\"schema\": \"imbench-stats/1\",\n \"wall_seconds\": NaN, \"phases\": [],"
                     " \"metrics\": []}\n");
    snprintf(path, sizeof path, "%s/a2/stats.json", dir);
    write_file(path, "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": -1.5,\n"
                     " \"phases\": [{\"name\": \"grid\", \"wall_s\": -0.25, \"cpu_s\": 0.1}],\n"
                     " \"metrics\": [{\"name\": \"fft_s\", \"value\": -2, \"unit\": \"s\"}]}\n");
    int st = tu_run(&o, "'%s' ingest '%s' --db '%s'", f->harness, dir, db);
    print_message("  %s", o);
    assert_int_equal(st, 1); /* one entry skipped */
    char want[4096];
    snprintf(want, sizeof want, "harness ingest: skipped %s/a1: '%s/a1/stats.json' line 2: "
                                "invalid token near 'NaN'", dir, dir);
    assert_true(tu_contains(o, want));
    assert_true(tu_contains(o, "ingested 1 attempt, 0 already present, 1 skipped as invalid"));
    free(o);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'fft_s' AND value IS NULL"
                               " AND reason = 'refused: negative duration -2 s'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'wall_time' AND value IS"
                               " NULL AND reason = 'refused: negative duration -1.5 s'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM phases WHERE wall_s IS NULL AND reason ="
                               " 'wall_s refused: negative duration -0.25 s'"),
                     1);
    /* the export shows the reason */
    st = tu_run(&o, "'%s' export --db '%s' --format csv", f->harness, db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(o, ",fft_s,,s,,refused: negative duration -2 s"));
    free(o);
}

/* A database written by a newer imbench is refused, untouched. */
static void test_newer_schema(void **state)
{
    fx *f = *state;
    char db[1200], baselines[1200], *o = NULL, want[4096];
    snprintf(db, sizeof db, "%s/newer.db", f->dir);
    repo_path(baselines, sizeof baselines, "workloads/baselines/seed-study.yaml");
    assert_int_equal(tu_run(&o, "'%s' baselines import '%s' --db '%s'", f->harness, baselines, db),
                     0);
    free(o);
    sqlite3 *h = NULL;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "INSERT INTO schema_version VALUES(6, 'future')", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    snprintf(want, sizeof want, "database '%s' has schema version 6, newer than this program "
                                "(version 5): use a newer imbench", db);
    int st = tu_run(&o, "'%s' list --db '%s'", f->harness, db);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "harness list: "));
    assert_true(tu_contains(o, want));
    free(o);
    st = tu_run(&o, "'%s' run-suite '%s' --db '%s' --data-dir '%s' --out-dir '%s'", f->harness,
                f->suite, db, f->cache, f->cells);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, want));
    assert_false(tu_contains(o, "cell 1/"));
    free(o);
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 0);
    assert_int_equal(q_int(db, "SELECT max(version) FROM schema_version"), 6);
}


/* ---- hostile sizes in ingested files (docs/results.md, "Ingest limits") ------------- */

/* Write n bytes of c to fp. */
static void put_bytes(FILE *fp, int c, size_t n)
{
    char buf[65536];
    memset(buf, c, sizeof buf);
    while (n) {
        size_t k = n < sizeof buf ? n : sizeof buf;
        assert_int_equal(fwrite(buf, 1, k, fp), k);
        n -= k;
    }
}

/*
 * A 50 MB stderr tail in cell.json, 1.2 M task events, and a 159 MB
 * stats.json: ingest keeps the last 64 KiB of the tail, the first 1 M task
 * rows and no stats for the oversized file, each with a warning row that
 * `show` prints, in bounded memory (its peak resident size is measured in
 * a child that ran nothing else) and bounded time.
 */
static void test_hostile_ingest(void **state)
{
    fx *f = *state;
    char dir[1200], path[1300], db[1200], *o = NULL;
    snprintf(dir, sizeof dir, "%s/hostile", f->dir);
    snprintf(db, sizeof db, "%s/hostile.db", f->dir);
    ib_err e;
    static const char head[] =
        "{\"schema\": \"imbench-cell/1\", \"params\": {\"dataset\": \"alma-xc66\", \"scale\": "
        "0.0001, \"chans\": 4, \"image\": \"32x32\", \"chunks\": %d}, \"repeat\": 0, \"status\": "
        "\"ok\", \"started_at\": \"2026-02-01T00:00:0%dZ\", \"stderr_tail\": \"";
    for (int i = 1; i <= 2; i++) {
        snprintf(path, sizeof path, "%s/h%d", dir, i);
        assert_int_equal(ib_mkdir_p(&e, path), 0);
        snprintf(path, sizeof path, "%s/h%d/cell.json", dir, i);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fprintf(fp, head, i, i);
        put_bytes(fp, 'e', i == 1 ? (size_t)50 << 20 : 10);
        fputs("END\"}\n", fp);
        assert_int_equal(fclose(fp), 0);
    }
    snprintf(path, sizeof path, "%s/h1/stats.json", dir);
    write_file(path, "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": 1.0,"
                     " \"phases\": [{\"name\": \"grid\", \"wall_s\": 1.0, \"cpu_s\": 1.0}],"
                     " \"metrics\": [{\"name\": \"wall_time\", \"value\": 1.0, \"unit\": \"s\"}],"
                     " \"tasks_file\": \"tasks.csv\"}\n");
    snprintf(path, sizeof path, "%s/h1/tasks.csv", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (long i = 0; i < 1200000; i++) fprintf(fp, "0,%ld,%ld,0,grid,0.5,0.75\n", i % 8, i);
    assert_int_equal(fclose(fp), 0);
    snprintf(path, sizeof path, "%s/h2/stats.json", dir);
    assert_int_equal(tu_run(&o, "truncate -s 159M '%s'", path), 0);
    free(o);

    /* in a child of its own, so that its children's peak is this ingest's */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    double t0 = ib_now();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        char *out = NULL;
        int st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, dir, db);
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        dprintf(fds[1], "%d %ld\n%s", st, ru.ru_maxrss, out ? out : "");
        _exit(0);
    }
    close(fds[1]);
    char buf[65536];
    size_t len = 0;
    ssize_t k;
    while (len < sizeof buf - 1 && (k = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)k;
    buf[len] = '\0';
    close(fds[0]);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    double took = ib_now() - t0;
    int st = -1;
    long maxrss_kb = -1;
    assert_int_equal(sscanf(buf, "%d %ld", &st, &maxrss_kb), 2);
    print_message("  hostile ingest: exit %d, peak %ld MiB, %.1f s\n%s", st, maxrss_kb >> 10,
                  took, strchr(buf, '\n') + 1);
    assert_int_equal(st, 0);
    /* the 50 MB document itself must be parsed once: a few copies of it at
     * most, never one per task row or per byte */
    assert_true(maxrss_kb < 700L * 1024);
    assert_true(took < 300);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts"), 2);
    assert_int_equal(q_int(db, "SELECT max(length(stderr_tail)) FROM attempts"), 65536);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts WHERE stderr_tail LIKE '%%END'"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tasks"), 1000000);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'stderr'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'tasks'"
                               " AND message LIKE '%%more than 1000000 lines%%'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'ingest'"
                               " AND message LIKE 'stats not ingested: %%over the limit of%%'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts WHERE stats IS NULL"), 1);
    assert_int_equal(tu_run(&o, "'%s' show 1 --db '%s'", f->harness, db), 0);
    assert_true(tu_contains(o, "warning: attempt"));
    assert_true(tu_contains(o, "the stderr tail is 52428"));
    free(o);
    tu_rmtree(dir);
    unlink(db);
}

/* The results database on a full disk: the message says so and names the
 * database, not "disk I/O error". */
static void test_db_full_disk(void **state)
{
    fx *f = *state;
    char mnt[1200], db[1300], src[1200], *o = NULL;
    snprintf(mnt, sizeof mnt, "%s/small", f->dir);
    if (tu_run(&o, "mkdir -p '%s' && mount -t tmpfs -o size=1m tmpfs '%s'", mnt, mnt) != 0) {
        print_message("  skip: cannot mount a 1 MiB tmpfs (%s)\n", o ? o : "");
        free(o);
        skip();
    }
    free(o);
    snprintf(db, sizeof db, "%s/r.db", mnt);
    repo_path(src, sizeof src, "tests/data/db/ingest");
    int st = tu_run(&o, "'%s' ingest '%s' --db '%s'", f->harness, src, db);
    assert_int_equal(st, 0);
    free(o);
    /* more attempts, with the disk full */
    char more[1300];
    snprintf(more, sizeof more, "%s/more", f->dir);
    assert_int_equal(tu_run(&o, "cp -r '%s' '%s' && sed -i 's/2025-03-01/2025-04-01/'"
                                " '%s'/*/cell.json",
                            src, more, more),
                     0);
    free(o);
    fill_to(mnt, 0);
    st = tu_run(&o, "'%s' ingest '%s' --db '%s'", f->harness, more, db);
    print_message("  ingest on a full disk: %s", o);
    assert_int_equal(st, 1);
    char want[1600];
    snprintf(want, sizeof want, "database '%s': no space left on device while", db);
    assert_true(tu_contains(o, want));
    assert_false(tu_contains(o, "disk I/O error"));
    free(o);
    assert_int_equal(tu_run(&o, "umount '%s'", mnt), 0);
    free(o);
}

int main(void)
{
    /* mpirun as root, as the README says */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_trials),
        cmocka_unit_test(test_rank_killed_in_suite),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_oom_imager),
        cmocka_unit_test(test_oom_run_suite),
        cmocka_unit_test(test_second_writer),
        cmocka_unit_test(test_bad_suites),
        cmocka_unit_test(test_corrupt_cached_store),
        cmocka_unit_test(test_bad_stats_ingest),
        cmocka_unit_test(test_newer_schema),
        cmocka_unit_test(test_hostile_ingest),
        cmocka_unit_test(test_db_full_disk),
    };
    return cmocka_run_group_tests_name("faults", tests, setup, teardown);
}
