/*
 * testutil: helpers shared by the cmocka test programs — temporary
 * directories, running the real programs and capturing their output.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

#ifdef __clang_analyzer__
/*
 * For clang's static analyzer (make analyze) only. cmocka 1.1.5 ends a
 * test whose check fails with a longjmp back to its runner, but does not
 * say so to the compiler: the analyzer would follow a test past a failed
 * assert_non_null(p) with p NULL and report what happens next. Here a
 * failed check, fail() and skip() end the path as they end the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
void _fail(const char *const file, const int line) __attribute__((noreturn));
void _skip(const char *const file, const int line) __attribute__((noreturn));
#undef assert_true
#define assert_true(c) ((c) ? (void)0 : abort())
#undef assert_false
#define assert_false(c) ((c) ? abort() : (void)0)
#undef assert_non_null
#define assert_non_null(c) ((c) ? (void)0 : abort())
#undef assert_null
#define assert_null(c) ((c) ? abort() : (void)0)
#undef assert_int_equal
#define assert_int_equal(a, b) ((a) == (b) ? (void)0 : abort())
#undef assert_int_not_equal
#define assert_int_not_equal(a, b) ((a) != (b) ? (void)0 : abort())
#endif

/* Make a fresh temporary directory; returns a malloc'd path (caller frees
 * with tu_rmtree + free). */
char *tu_mkdtemp(const char *tag);
/* rm -rf path. */
void tu_rmtree(const char *path);
/* Path of a built program ("imager", "harness"): $IMBENCH_BIN/name, or
 * build/bin/name. Static buffer. */
const char *tu_bin(const char *name);
/*
 * Run a shell command; stdout+stderr captured into a malloc'd string in
 * *out (may be NULL to discard). Returns the exit status (or 128+signal).
 */
int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Does haystack contain needle? */
int tu_contains(const char *haystack, const char *needle);
/* How many times needle occurs in haystack (occurrences do not overlap). */
int tu_count(const char *haystack, const char *needle);
/* A whole file in a malloc'd, NUL-terminated buffer (NULL if unreadable);
 * its length in *len when len is not NULL. */
char *tu_slurp(const char *path, size_t *len);
/* Pid of the process of MPI rank `rank` (OMPI_COMM_WORLD_RANK in its
 * environment) running prog (a path or a basename; argv[0]'s basename is
 * compared) whose command line contains tag, or 0. */
int tu_find_rank(const char *prog, const char *tag, int rank);

/* A point or Gaussian source at direction cosines (l, m). */
typedef struct tu_src {
    double flux, l, m, sigma; /* sigma: Gaussian width (radians), 0 = point */
} tu_src;

/* Shape of a small test store: nant antennas with earth-rotation tracks
 * over ntime steps, nchan channels from 100 GHz in 50 MHz steps. */
typedef struct tu_store {
    int nant, ntime, nchan, npol;
    double cell_arcsec;
    int nx;
    double flag_frac;
} tu_store;

/*
 * Write DIR/vis.h5 with exactly computed 2-D visibilities of the sources
 * (pol p carries (1 + 0.1 p) times the flux), weights in [0.5, 1.5] and
 * flags at flag_frac, all deterministic. 0 or -1 (message on stderr; also
 * for a shape without rows: fewer than 2 antennas, or no times, channels
 * or pols).
 */
int tu_make_store(const char *dir, const tu_store *t, const tu_src *s, int ns);

/* A 4-axis FITS cube (x, y, chan, pol) as floats (caller frees), its axis
 * lengths in n; NULL if the file cannot be read as such. */
float *tu_read_cube(const char *path, long n[4]);
/* max |a - b| over max |a|, for n values. */
double tu_max_rel_diff(const float *a, const float *b, size_t n);

#endif
