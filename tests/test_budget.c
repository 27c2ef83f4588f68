/*
 * test_budget.c: the imager's memory budget — a small budget makes chunks
 * spill planes to disk and the cube is unchanged byte for byte; spill
 * files are gone afterwards; peak RSS stays within budget + 5% + the
 * runtime's own baseline (measured here on a minimal run); an impossible
 * budget fails before any work, naming the sizes; a full disk under the
 * spill directory is a clear error and leaves no spill file behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testutil.h"

typedef struct fx {
    char *dir;
    char vis[600], tiny[600];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    f->dir = tu_mkdtemp("budget");
    snprintf(f->vis, sizeof f->vis, "%s/vis", f->dir);
    snprintf(f->tiny, sizeof f->tiny, "%s/tiny", f->dir);
    tu_store t = {.nant = 10, .ntime = 20, .nchan = 32, .npol = 2, .cell_arcsec = 0.25,
                  .nx = 512, .flag_frac = 0.0};
    tu_src s[2] = {{1.0, 0, 0, 0}, {0.5, 4e-6, -3e-6, 0}};
    assert_int_equal(tu_make_store(f->vis, &t, s, 2), 0);
    tu_store tt = {.nant = 4, .ntime = 2, .nchan = 1, .npol = 2, .cell_arcsec = 0.25, .nx = 512};
    assert_int_equal(tu_make_store(f->tiny, &tt, s, 1), 0);
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

static double metric(const char *stats, const char *name)
{
    json_error_t je;
    json_t *root = json_load_file(stats, 0, &je);
    assert_non_null(root);
    double v = -1;
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(root, "metrics"), i, m)
        if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
            v = json_number_value(json_object_get(m, "value"));
    json_decref(root);
    return v;
}

static int files_equal(const char *a, const char *b)
{
    char *o = NULL;
    int rc = tu_run(&o, "cmp '%s' '%s'", a, b);
    free(o);
    return rc == 0;
}

static void test_spill_keeps_the_cube(void **state)
{
    fx *f = *state;
    char *o = NULL;
    const char *im = tu_bin("imager");
    /* Reference: no budget, planes stream to the cube. */
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/ref --chunks 2 --threads 2 --quiet "
                                "--stokes XX,YY", im, f->vis, f->dir), 0);
    free(o);
    /* The fixed baseline: libraries, FFT plans, HDF5 caches and one
     * thread's buffers at the same image size, from a one-channel run. */
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/tiny-out --quiet --stokes XX,YY "
                                "--stats %s/tiny.json", im, f->tiny, f->dir, f->dir), 0);
    free(o);
    char path[800];
    snprintf(path, sizeof path, "%s/tiny.json", f->dir);
    double base = metric(path, "peak_rss");
    /* 2 chunks of 16 channels x 2 planes (XX, YY) x 1 MiB do not fit 48 MiB. */
    const double budget = 48.0 * 1024 * 1024;
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/spill --chunks 2 --threads 2 --quiet "
                                "--mem-budget 48M --stokes XX,YY --stats %s/spill.json",
                            im, f->vis, f->dir, f->dir),
                     0);
    free(o);
    snprintf(path, sizeof path, "%s/spill.json", f->dir);
    double spilled = metric(path, "spill_bytes"), files = metric(path, "spill_files");
    double rss = metric(path, "peak_rss"), tracked = metric(path, "peak_tracked");
    print_message("  spilled %.1f MB in %.0f files; peak tracked %.1f MB, peak RSS %.1f MB "
                  "(budget %.1f MB + 5%% + baseline %.1f MB = %.1f MB)\n", spilled / 1e6, files,
                  tracked / 1e6, rss / 1e6, budget / 1e6, base / 1e6, (1.05 * budget + base) / 1e6);
    assert_true(spilled > 0);
    assert_true(files >= 1);
    assert_true(tracked <= 0.95 * budget);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* Sanitizer shadow memory and quarantine dwarf the budget: the RSS
     * bound is checked in the plain build only. */
    (void)rss;
#else
    assert_true(rss <= 1.05 * budget + base);
#endif
    char a[800], b[800];
    snprintf(a, sizeof a, "%s/ref/dirty.fits", f->dir);
    snprintf(b, sizeof b, "%s/spill/dirty.fits", f->dir);
    assert_true(files_equal(a, b));
    snprintf(path, sizeof path, "%s/spill/spill", f->dir);
    assert_int_equal(access(path, F_OK), -1); /* spill files and their directory are gone */
    /* A generous budget spills nothing and gives the same cube. */
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/big --chunks 2 --threads 2 --quiet "
                                "--mem-budget 1G --stokes XX,YY --stats %s/big.json",
                            im, f->vis, f->dir, f->dir),
                     0);
    free(o);
    snprintf(path, sizeof path, "%s/big.json", f->dir);
    assert_true(metric(path, "spill_bytes") == 0);
    snprintf(b, sizeof b, "%s/big/dirty.fits", f->dir);
    assert_true(files_equal(a, b));
}

static void test_impossible_budget(void **state)
{
    fx *f = *state;
    char *o = NULL;
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/imp --chunks 1 --threads 2 --mem-budget 4M",
                            tu_bin("imager"), f->vis, f->dir), 1);
    assert_true(tu_contains(o, "--mem-budget 4194304 bytes cannot hold the minimum working set"));
    assert_true(tu_contains(o, "rows x a 32-channel chunk"));
    free(o);
    char path[800];
    snprintf(path, sizeof path, "%s/imp/dirty.fits", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(tu_run(&o, "%s --vis %s --out %s/imp --mem-budget lots", tu_bin("imager"),
                            f->vis, f->dir), 2);
    assert_true(tu_contains(o, "'--mem-budget'"));
    free(o);
}

/* Spill into a 2 MiB tmpfs: the write fails, the error says so, nothing of
 * the spill stays behind, no cube appears. Needs mount (root). */
static void test_spill_disk_full(void **state)
{
    fx *f = *state;
    char *o = NULL, mnt[800];
    snprintf(mnt, sizeof mnt, "%s/small", f->dir);
    if (tu_run(&o, "mkdir -p %s && mount -t tmpfs -o size=2m tmpfs %s", mnt, mnt) != 0) {
        free(o);
        skip(); /* not root or no tmpfs: reported by cmocka as skipped */
    }
    free(o);
    int rc = tu_run(&o, "%s --vis %s --out %s/full --chunks 2 --threads 2 --mem-budget 48M "
                        "--stokes XX,YY --spill-dir %s", tu_bin("imager"), f->vis, f->dir, mnt);
    print_message("  %s", o);
    assert_int_equal(rc, 1);
    assert_true(tu_contains(o, "spill file '"));
    assert_true(tu_contains(o, "No space left on device"));
    free(o);
    assert_int_equal(tu_run(&o, "ls -A %s | wc -l", mnt), 0);
    assert_true(tu_contains(o, "0"));
    free(o);
    char path[800];
    snprintf(path, sizeof path, "%s/full/dirty.fits", f->dir);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(tu_run(&o, "umount %s", mnt), 0);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spill_keeps_the_cube),
        cmocka_unit_test(test_impossible_budget),
        cmocka_unit_test(test_spill_disk_full),
    };
    return cmocka_run_group_tests_name("budget", tests, setup, teardown);
}
