/*
 * test_rely.c: the reproductions of issue 18 (reliability, round two)
 * that the other test programs do not hold, each failing on main before
 * its fix: spill files behind a planted symbolic link and two imagers in
 * one spill directory; unfinished cubes left by SIGTERM, SIGKILL and
 * --timeout (and by a harness timeout); gen's temporaries after SIGTERM;
 * gen --ms into an existing MS; a dataset name that is a path; cubes of
 * zeros (every sample off the grid, every sample flagged); a thread that
 * cannot start; read commands on a database with a damaged page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/testutil.h"

typedef struct fx {
    char *dir;
    char vis[600], flagged[600], imager[1100], harness[1100];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->dir = tu_mkdtemp("rely");
    if (!f->dir) {
        free(f);
        return -1;
    }
    char abs[1024];
    snprintf(f->imager, sizeof f->imager, "%s", tu_bin("imager"));
    snprintf(f->harness, sizeof f->harness, "%s", tu_bin("harness"));
    if (realpath(f->imager, abs)) snprintf(f->imager, sizeof f->imager, "%s", abs);
    if (realpath(f->harness, abs)) snprintf(f->harness, sizeof f->harness, "%s", abs);
    snprintf(f->vis, sizeof f->vis, "%s/vis", f->dir);
    snprintf(f->flagged, sizeof f->flagged, "%s/flagged", f->dir);
    tu_store t = {.nant = 8, .ntime = 10, .nchan = 8, .npol = 2, .cell_arcsec = 0.25, .nx = 128};
    tu_src s[2] = {{1.0, 0, 0, 0}, {0.5, 4e-6, -3e-6, 0}};
    int bad = tu_make_store(f->vis, &t, s, 2) != 0;
    t.flag_frac = 1.0; /* every sample flagged */
    if (!bad) bad = tu_make_store(f->flagged, &t, s, 1) != 0;
    if (bad) {
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
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Entries of dir whose name ends in suffix (or any entry for ""), not
 * counting "." and "..". */
static int count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t ls = strlen(suffix);
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        size_t l = strlen(de->d_name);
        if (l >= ls && !strcmp(de->d_name + l - ls, suffix)) n++;
    }
    closedir(d);
    return n;
}

/* .tmp files anywhere under dir. */
static int tmp_files_under(const char *dir)
{
    char *o = NULL;
    tu_run(&o, "find '%s' -name '*.tmp' | wc -l", dir);
    int n = o ? atoi(o) : -1;
    free(o);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *g = fopen(path, "w");
    assert_non_null(g);
    fputs(text, g);
    fclose(g);
}

#define SPILL_ARGS "--chunks 4 --mem-budget 8M --mem-target 0.01 --mem-spill 0.01 --mem-pause 0.95"

/* Defect 2: a symbolic link planted at a spill file's predictable name
 * was followed and the file it names overwritten with plane data. */
static void test_spill_symlink(void **state)
{
    fx *f = *state;
    char sp[800], victim[800], link[900], out[800], *o = NULL;
    snprintf(sp, sizeof sp, "%s/sp", f->dir);
    snprintf(victim, sizeof victim, "%s/victim.txt", f->dir);
    snprintf(out, sizeof out, "%s/sym", f->dir);
    assert_int_equal(mkdir(sp, 0755), 0);
    write_text(victim, "a user's file of forty-one bytes, intact\n");
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 4; c++) {
            snprintf(link, sizeof link, "%s/r0-t%d-c%d.spill", sp, t, c);
            assert_int_equal(symlink(victim, link), 0);
        }
    int st = tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64 --threads 2 " SPILL_ARGS
                        " --spill-dir '%s'", f->imager, f->vis, out, sp);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0);
    assert_true(tu_contains(o, "spilled"));
    assert_false(tu_contains(o, "in 0 file(s)")); /* planes did go to spill files */
    free(o);
    size_t len = 0;
    char *text = tu_slurp(victim, &len);
    assert_non_null(text);
    assert_int_equal(len, 41);
    free(text);
    /* the links are left as they were, nothing else is left */
    assert_int_equal(count_entries(sp, ".spill"), 8);
    assert_int_equal(count_entries(sp, ""), 8);
    /* a link planted at the cube's temporary is refused, not followed */
    snprintf(out, sizeof out, "%s/sym2", f->dir);
    assert_int_equal(mkdir(out, 0755), 0);
    snprintf(link, sizeof link, "%s/dirty.fits.tmp", out);
    assert_int_equal(symlink(victim, link), 0);
    st = tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64", f->imager, f->vis, out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "dirty.fits.tmp' exists and is not a temporary an earlier run"));
    free(o);
    text = tu_slurp(victim, &len);
    assert_int_equal(len, 41);
    free(text);
}

/* Defect 3: two imagers sharing one --spill-dir produced wrong cubes. */
static void test_shared_spill_dir(void **state)
{
    fx *f = *state;
    char sp[800], *o = NULL;
    snprintf(sp, sizeof sp, "%s/shared", f->dir);
    /* each alone, then both at once, three times */
    int st = tu_run(&o, "'%s' --vis '%s' --out '%s/a0' --image 64 " SPILL_ARGS " --spill-dir '%s' "
                        "--quiet && '%s' --vis '%s' --out '%s/b0' --image 64 --support 9 "
                        "--weight uniform " SPILL_ARGS " --spill-dir '%s' --quiet",
                    f->imager, f->vis, f->dir, sp, f->imager, f->vis, f->dir, sp);
    assert_int_equal(st, 0);
    free(o);
    for (int trial = 1; trial <= 3; trial++) {
        st = tu_run(&o, "'%s' --vis '%s' --out '%s/a%d' --image 64 --threads 2 " SPILL_ARGS
                        " --spill-dir '%s' --quiet & '%s' --vis '%s' --out '%s/b%d' --image 64 "
                        "--support 9 --weight uniform --threads 2 " SPILL_ARGS " --spill-dir '%s' "
                        "--quiet; a=$?; wait $!; b=$?; "
                        "cmp '%s/a0/dirty.fits' '%s/a%d/dirty.fits' && "
                        "cmp '%s/b0/dirty.fits' '%s/b%d/dirty.fits' && exit $((a + b))",
                        f->imager, f->vis, f->dir, trial, sp, f->imager, f->vis, f->dir, trial,
                        sp, f->dir, f->dir, trial, f->dir, f->dir, trial);
        if (st) fprintf(stderr, "trial %d: %s\n", trial, o);
        assert_int_equal(st, 0);
        free(o);
    }
    assert_int_equal(count_entries(sp, ""), 0); /* every run's directory is gone */
}

/*
 * Start argv (stdout and stderr to /dev/null) with every signal at its
 * default (a shell without job control would start a background job with
 * SIGINT ignored), wait until the file `until` appears, send sig, and
 * return the wait status as a shell gives it (128 + signal), or -1 when
 * `until` never appeared (then the child is killed).
 */
static int kill_when(char *const argv[], const char *until, int sig)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int s = 1; s < 32; s++) signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int seen = 0;
    for (int i = 0; i < 2000 && !seen; i++) {
        seen = file_exists(until);
        if (!seen) usleep(5000);
    }
    kill(pid, seen ? sig : SIGKILL);
    int ws = 0;
    waitpid(pid, &ws, 0);
    if (!seen) return -1;
    return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
}

/* The imager writing a 2048x2048 cube and its PSF into out, sent sig once
 * its psf.fits.tmp is there. */
static int kill_when_writing(const fx *f, const char *out, int sig)
{
    char until[900];
    snprintf(until, sizeof until, "%s/psf.fits.tmp", out);
    char *argv[] = {(char *)f->imager, "--vis", (char *)f->vis, "--out", (char *)out,
                    "--image", "2048", "--psf", "--quiet", NULL};
    return kill_when(argv, until, sig);
}

/* Defect 14: a killed or timed-out run left its fallocated cubes. */
static void test_killed_run_leaves_no_cubes(void **state)
{
    fx *f = *state;
    char out[800], *o = NULL;
    snprintf(out, sizeof out, "%s/killed", f->dir);
    /* SIGTERM (a harness timeout, mpirun passing a kill on), SIGINT, SIGHUP */
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    for (int i = 0; i < 3; i++) {
        tu_rmtree(out);
        assert_int_equal(kill_when_writing(f, out, sigs[i]), 128 + sigs[i]);
        assert_int_equal(count_entries(out, ".tmp"), 0);
        assert_int_equal(count_entries(out, ""), 0);
    }
    /* SIGKILL: nothing can run; the next run of the same output removes
     * what it can prove a killed imager left (unlocked, a FITS header),
     * the PSF cube too although it makes none */
    tu_rmtree(out);
    assert_int_equal(kill_when_writing(f, out, SIGKILL), 128 + SIGKILL);
    assert_int_equal(count_entries(out, ".tmp"), 2);
    assert_int_equal(tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64 --quiet", f->imager,
                            f->vis, out),
                     0);
    free(o);
    assert_int_equal(count_entries(out, ".tmp"), 0);
    assert_int_equal(count_entries(out, "dirty.fits"), 1);
    /* a file there that is not ours is refused and kept; one another
     * process holds locked is "being written by another process" */
    char tmp[900];
    snprintf(tmp, sizeof tmp, "%s/dirty.fits.tmp", out);
    write_text(tmp, "notes of the user\n");
    assert_int_equal(tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64", f->imager, f->vis, out),
                     1);
    assert_true(tu_contains(o, "exists and is not a temporary an earlier run of ours left"));
    free(o);
    assert_true(file_exists(tmp));
    unlink(tmp);
    int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    assert_int_equal(tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64", f->imager, f->vis, out),
                     1);
    assert_true(tu_contains(o, "is being written by another process now"));
    free(o);
    close(fd);
    unlink(tmp);
    /* --timeout: the watchdog removes the cubes before it ends the job */
    tu_rmtree(out);
    int st = tu_run(&o, "'%s' --vis '%s' --out '%s' --image 4096 --psf --timeout 1", f->imager,
                    f->vis, out);
    assert_int_equal(st, 124);
    assert_true(tu_contains(o, "timed out after 1 s (--timeout)"));
    free(o);
    assert_int_equal(count_entries(out, ".tmp"), 0);
}

/* Defect 14 through the harness: a timed-out attempt leaves no *.tmp
 * under the attempt directories. */
static void test_suite_timeout_leaves_no_tmp(void **state)
{
    fx *f = *state;
    char suite[800], *o = NULL;
    snprintf(suite, sizeof suite, "%s/to.yaml", f->dir);
    write_text(suite, "name: to\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 16\n"
                      "image: 4096\ntimeout: 1\naxes:\n  psf: [true]\n");
    int st = tu_run(&o, "'%s' run-suite '%s' --db '%s/to.db' --data-dir '%s/cache' "
                        "--out-dir '%s/cells'", f->harness, suite, f->dir, f->dir, f->dir);
    assert_int_equal(st, 1);
    if (!tu_contains(o, "timeout")) fprintf(stderr, "%s\n", o);
    assert_true(tu_contains(o, "timeout"));
    free(o);
    char cells[800];
    snprintf(cells, sizeof cells, "%s/cells", f->dir);
    assert_int_equal(tmp_files_under(cells), 0);
}

/* Weak behaviours: gen's temporaries after SIGTERM; gen --ms advising an
 * --overwrite it did not have; a dataset name that is a path. */
static void test_gen(void **state)
{
    fx *f = *state;
    char out[800], *o = NULL;
    snprintf(out, sizeof out, "%s/gen", f->dir);
    /* killed while the store is written: nothing of OUT left (it made it) */
    char until[900];
    snprintf(until, sizeof until, "%s/vis.h5.tmp", out);
    char *argv[] = {(char *)f->harness, "gen", "--dataset", "alma-xc66", "--scale", "0.002",
                    "--chans", "32", "--out", out, NULL};
    assert_int_equal(kill_when(argv, until, SIGTERM), 128 + SIGTERM);
    assert_false(file_exists(out));
    /* into a directory that was there: only the temporaries go */
    assert_int_equal(mkdir(out, 0755), 0);
    char keep[900];
    snprintf(keep, sizeof keep, "%s/keep.txt", out);
    write_text(keep, "kept\n");
    assert_int_equal(kill_when(argv, until, SIGINT), 128 + SIGINT);
    assert_true(file_exists(keep));
    assert_int_equal(count_entries(out, ""), 1);
    /* an existing MS: refused before anything is generated, with the
     * option it names */
    char ms[800], out2[800];
    snprintf(ms, sizeof ms, "%s/x.ms", f->dir);
    snprintf(out2, sizeof out2, "%s/gen2", f->dir);
    assert_int_equal(mkdir(ms, 0755), 0);
    assert_int_equal(tu_run(&o, "'%s' gen --dataset alma-xc66 --scale 0.0001 --out '%s' --ms '%s'",
                            f->harness, out2, ms),
                     2);
    assert_true(tu_contains(o, "exists (--overwrite replaces it when it is a casacore table)"));
    free(o);
    assert_false(file_exists(out2));
    assert_int_equal(tu_run(&o, "'%s' gen --help", f->harness), 0);
    assert_true(tu_contains(o, "--overwrite"));
    free(o);
    /* a dataset is a name, never a path: no file is opened */
    assert_int_equal(tu_run(&o, "'%s' gen --dataset /etc/passwd --scale 0.001 --out '%s'",
                            f->harness, out2),
                     2);
    assert_true(tu_contains(o, "harness gen: dataset must be a name of letters, digits, '.', "
                               "'_' and '-' (not a path), got '/etc/passwd'"));
    assert_false(tu_contains(o, "line 1 column 1"));
    free(o);
    assert_int_equal(tu_run(&o, "'%s' gen --dataset ../workloads/datasets/alma-xc66 --scale 0.001 "
                                "--out '%s'", f->harness, out2),
                     2);
    assert_true(tu_contains(o, "(not a path)"));
    free(o);
    assert_false(file_exists(out2));
}

/* Weak behaviour: cubes of zeros with exit 0 and nothing said. */
static void test_nothing_gridded(void **state)
{
    fx *f = *state;
    char out[800], *o = NULL;
    snprintf(out, sizeof out, "%s/zero", f->dir);
    /* every sample off the grid: 8 antennas (28 baselines) x 10 times,
     * both correlations imaged */
    int st = tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64 --cell 3600 --stokes XX,YY",
                    f->imager, f->vis, out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "imager: no sample reached the grid, the cubes would be all "
                               "zeros: of 4480 samples (280 rows x 8 channels x 2 image planes), 4480 "
                               "fall outside the 96x96 grid at cell 3600 arcsec (a smaller "
                               "--cell keeps them) and 0 are flagged or have weight <= 0"));
    free(o);
    assert_int_equal(count_entries(out, ".fits"), 0);
    /* every sample flagged */
    st = tu_run(&o, "'%s' --vis '%s' --out '%s' --image 64 --threads 2 --stokes XX,YY",
                f->imager, f->flagged, out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "of 4480 samples (280 rows x 8 channels x 2 image planes), "
                               "0 fall outside the 96x96 grid"));
    assert_true(tu_contains(o, "and 4480 are flagged or have weight <= 0"));
    free(o);
    assert_int_equal(count_entries(out, ".fits"), 0);
}

/* Weak behaviour: "cannot start thread N" without a reason; fractions out
 * of range accepted. */
static void test_thread_and_fractions(void **state)
{
    fx *f = *state;
    char out[800], *o = NULL;
    snprintf(out, sizeof out, "%s/thr", f->dir);
    int st = tu_run(&o, "IMBENCH_FAIL_THREAD=2 '%s' --vis '%s' --out '%s' --image 64 --threads 2",
                    f->imager, f->vis, out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "imager: cannot start worker thread 2 of 2: Resource temporarily "
                               "unavailable (each thread reserves a "));
    assert_true(tu_contains(o, " MiB stack"));
    free(o);
    assert_int_equal(count_entries(out, ".fits"), 0);
    assert_int_equal(count_entries(out, ".tmp"), 0);
    st = tu_run(&o, "'%s' --vis '%s' --out '%s' --mem-target 5", f->imager, f->vis, out);
    assert_int_equal(st, 2);
    assert_true(tu_contains(o, "mem_target must be a number > 0 and <= 1, got '5'"));
    free(o);
    st = tu_run(&o, "'%s' --vis '%s' --out '%s' --pb-limit -1", f->imager, f->vis, out);
    assert_int_equal(st, 2);
    assert_true(tu_contains(o, "pb_limit must be a number > 0 and < 1, got '-1'"));
    free(o);
}

/* A leaf page of table name in the database at path, or 0. */
static long leaf_page(const char *path, const char *name)
{
    sqlite3 *db = NULL;
    long page = 0;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT pageno FROM dbstat WHERE name = '%s' AND pagetype = "
                                  "'leaf' ORDER BY pageno LIMIT 1", name);
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
            page = (long)sqlite3_column_int64(q, 0);
        if (!page) {
            /* a table of one page: its root */
            sqlite3_finalize(q);
            snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_master WHERE name = '%s'",
                     name);
            if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
                sqlite3_step(q) == SQLITE_ROW)
                page = (long)sqlite3_column_int64(q, 0);
        }
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    return page;
}

/* Weak behaviour: read commands exited 0 on a database whose cells page is
 * damaged (SQLite read the damaged cells as NULLs, the run showed none). */
static void test_corrupt_db_read_commands(void **state)
{
    fx *f = *state;
    char suite[800], db[800], bad[800], *o = NULL;
    snprintf(suite, sizeof suite, "%s/tiny.yaml", f->dir);
    snprintf(db, sizeof db, "%s/r.db", f->dir);
    snprintf(bad, sizeof bad, "%s/bad.db", f->dir);
    write_text(suite, "name: tiny\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\n"
                      "image: 32\naxes:\n  chunks: [1, 2]\n");
    int st = tu_run(&o, "'%s' run-suite '%s' --db '%s' --data-dir '%s/cache' --out-dir "
                        "'%s/tcells' && sqlite3 '%s' 'PRAGMA wal_checkpoint(TRUNCATE)' && "
                        "cp '%s' '%s'",
                    f->harness, suite, db, f->dir, f->dir, db, db, bad);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0);
    free(o);
    long page = leaf_page(bad, "cells");
    assert_true(page > 1);
    FILE *g = fopen(bad, "r+b");
    assert_non_null(g);
    assert_int_equal(fseek(g, (page - 1) * 4096 + 8, SEEK_SET), 0);
    for (int k = 0; k < 200; k++) fputc(0x55, g);
    fclose(g);
    const char *cmds[] = {"list", "show 1", "export --format csv", "report --out '%s/rep'",
                          "baselines list"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        char cmd[900];
        snprintf(cmd, sizeof cmd, cmds[i], f->dir);
        st = tu_run(&o, "'%s' %s --db '%s'", f->harness, cmd, bad);
        if (st != 1 || !tu_contains(o, "is corrupt: run harness verify"))
            fprintf(stderr, "harness %s: status %d\n%s\n", cmd, st, o);
        assert_int_equal(st, 1);
        assert_true(tu_contains(o, "is corrupt: run harness verify (SQLite's quick_check: "));
        assert_int_equal(tu_count(o, "\n"), 1); /* one line */
        free(o);
    }
    st = tu_run(&o, "'%s' verify --db '%s'", f->harness, bad);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "problem: integrity_check"));
    free(o);
    /* the intact database still reads, and a duplicate attempt for one
     * (cell, repeat) slot is a problem verify reports */
    assert_int_equal(tu_run(&o, "'%s' list --db '%s'", f->harness, db), 0);
    free(o);
    st = tu_run(&o, "sqlite3 '%s' \"INSERT INTO attempts(run_id, cell_id, repeat_index, status, "
                    "exit_code) SELECT run_id, cell_id, repeat_index, status, exit_code FROM "
                    "attempts WHERE id = 1\" && '%s' verify --db '%s'",
                db, f->harness, db);
    assert_int_equal(st, 1);
    assert_true(tu_contains(o, "one (cell, repeat) slot ran more than once"));
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_symlink),
        cmocka_unit_test(test_shared_spill_dir),
        cmocka_unit_test(test_killed_run_leaves_no_cubes),
        cmocka_unit_test(test_suite_timeout_leaves_no_tmp),
        cmocka_unit_test(test_gen),
        cmocka_unit_test(test_nothing_gridded),
        cmocka_unit_test(test_thread_and_fractions),
        cmocka_unit_test(test_corrupt_db_read_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
