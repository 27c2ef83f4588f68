/*
 * test_parallel.c: the imager's MPI ranks ("nodes"), chunk schedulers and
 * write modes, driving the real binary under OpenMPI's mpirun on small
 * analytic stores — cube equality across ranks, threads, chunks and
 * schedulers; serial vs parallel writes byte for byte; the communication
 * counters and task events of the stats; scheduler overhead; and that a
 * killed rank or an error on one rank ends the whole job promptly with a
 * message naming the rank; and row chunks (grids summed over row tasks and
 * ranks) against the same references. Every mpirun runs under `timeout`,
 * so a hang fails a test instead of blocking CI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fitsio.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "profiles/profiles.h"
#include "tests/testutil.h"

/* Every mpirun: quiet and fast on a VM without network (shared memory
 * only, no probing of UCX/OFI; PMIx's native security, not munge, which
 * waits 2 s for a munged that is not there), more ranks than cores allowed, root
 * allowed, the FFTW wisdom file passed on, and a hard time limit. Under
 * `make sanitize` LeakSanitizer would fail every rank for what OpenMPI
 * itself leaks in MPI_Init (in its unloaded plug-ins, so no suppression
 * can name it): leak checking stays on for the plain runs only. */
#define MPIRUN                                                                              \
    "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "                        \
    "PMIX_MCA_psec=\"${PMIX_MCA_psec:-native}\" "                                           \
    "timeout -k 5 120 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader "     \
    "--mca pml ob1 -x IMBENCH_FFTW_WISDOM -x ASAN_OPTIONS"
#define PLAIN "timeout -k 5 120"
/* What a hung job would return from timeout(1). */
#define TIMED_OUT 124

typedef struct fixture {
    char *dir;
    char s16[600], s64[600], wisdom[600];
    char imager[4096];
} fixture;

/* ---------- helpers ---------- */

/* Run the imager on nranks ranks; 0 means one plain process without
 * mpirun. args follow the program name. Output (stdout+stderr) in *out
 * when out is not NULL (caller frees). Returns the exit status. */
static int imager(const fixture *f, int nranks, char **out, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int imager(const fixture *f, int nranks, char **out, const char *fmt, ...)
{
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    /* The store's two correlations as two planes each (--stokes XX,YY):
     * the counts below are of both. */
    if (nranks == 0) return tu_run(out, PLAIN " '%s' %s --stokes XX,YY", f->imager, args);
    return tu_run(out, MPIRUN " -np %d '%s' %s --stokes XX,YY", nranks, f->imager, args);
}


static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static int exists(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* All planes of a FITS cube (x, y, chan, pol); n receives the axes. */
static float *read_cube(const char *dir, const char *name, long n[4])
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fitsfile *fp;
    int status = 0, naxis = 0, anynul = 0;
    fits_open_file(&fp, path, READONLY, &status);
    if (status) print_error("cannot open %s (cfitsio status %d)\n", path, status);
    assert_int_equal(status, 0);
    fits_get_img_dim(fp, &naxis, &status);
    assert_int_equal(naxis, 4);
    fits_get_img_size(fp, 4, n, &status);
    size_t tot = (size_t)(n[0] * n[1] * n[2] * n[3]);
    float *buf = malloc(sizeof(float) * tot);
    assert_non_null(buf);
    long first[4] = {1, 1, 1, 1};
    fits_read_pix(fp, TFLOAT, first, (LONGLONG)tot, NULL, buf, &anynul, &status);
    assert_int_equal(status, 0);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    return buf;
}

/* Every pixel of d within rel * peak|ref| of ref; returns the largest
 * difference relative to the peak. */
static double assert_cube_close(const float *ref, const float *d, size_t n, double rel)
{
    double peak = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        peak = fmax(peak, fabs((double)ref[i]));
        maxd = fmax(maxd, fabs((double)ref[i] - (double)d[i]));
    }
    assert_true(peak > 0.5); /* a real image, not an empty cube */
    if (maxd > rel * peak) print_error("cube differs: max |diff| %.3g, peak %.3g\n", maxd, peak);
    assert_true(maxd <= rel * peak);
    return maxd / peak;
}

static json_t *load_stats(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/stats.json", dir);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) print_error("%s: %s (line %d)\n", path, err.text, err.line);
    assert_non_null(j);
    return j;
}

/* The value of metric name, NAN when the stats have none. */
static double metric(const json_t *st, const char *name)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(st, "metrics"), i, m) {
        if (strcmp(json_string_value(json_object_get(m, "name")), name) == 0)
            return json_number_value(json_object_get(m, "value"));
    }
    return NAN;
}

static long long param_int(const json_t *st, const char *key)
{
    json_t *v = json_object_get(json_object_get(st, "params"), key);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

typedef struct comm_sum {
    long long sent, recv, bsent, brecv, entries;
} comm_sum;

/* Sum of the "comm" entries for op (NULL: every op) on rank (-1: all). */
static comm_sum comm_of(const json_t *st, int rank, const char *op)
{
    comm_sum s = {0, 0, 0, 0, 0};
    size_t i;
    json_t *c;
    json_t *arr = json_object_get(st, "comm");
    assert_true(json_is_array(arr));
    json_array_foreach(arr, i, c) {
        if (rank >= 0 && json_integer_value(json_object_get(c, "rank")) != rank) continue;
        if (op && strcmp(json_string_value(json_object_get(c, "op")), op) != 0) continue;
        s.sent += (long long)json_integer_value(json_object_get(c, "msgs_sent"));
        s.recv += (long long)json_integer_value(json_object_get(c, "msgs_recv"));
        s.bsent += (long long)json_integer_value(json_object_get(c, "bytes_sent"));
        s.brecv += (long long)json_integer_value(json_object_get(c, "bytes_recv"));
        s.entries++;
    }
    return s;
}

/* per_rank[r].key as an integer. */
static long long rank_int(const json_t *st, int r, const char *key)
{
    json_t *v = json_object_get(json_array_get(json_object_get(st, "per_rank"), (size_t)r), key);
    assert_true(json_is_integer(v));
    return (long long)json_integer_value(v);
}

/* One row of OUT/tasks.csv. */
typedef struct task_ev {
    int rank, thread, chunk, chan;
    char phase[16];
    double start, end;
} task_ev;

static task_ev *read_tasks(const char *dir, size_t *n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/tasks.csv", dir);
    char *txt = tu_slurp(path, NULL);
    if (!txt) print_error("cannot read %s\n", path);
    assert_non_null(txt);
    const char *hdr = "rank,thread,chunk,chan,phase,start,end\n";
    assert_true(strncmp(txt, hdr, strlen(hdr)) == 0);
    size_t lines = (size_t)count_of(txt, "\n"), k = 0;
    task_ev *ev = calloc(lines, sizeof *ev);
    assert_non_null(ev);
    char *save = NULL;
    for (char *ln = strtok_r(txt + strlen(hdr), "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        task_ev *e = &ev[k];
        int used = 0;
        int got = sscanf(ln, "%d,%d,%d,%d,%15[a-z],%lf,%lf%n", &e->rank, &e->thread, &e->chunk,
                         &e->chan, e->phase, &e->start, &e->end, &used);
        if (got != 7 || ln[used] != '\0') print_error("%s: bad line '%s'\n", path, ln);
        assert_int_equal(got, 7);
        assert_int_equal(ln[used], '\0');
        k++;
    }
    free(txt);
    *n = k;
    return ev;
}

/* ---------- fixture ---------- */

static int teardown(void **state);

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = tu_mkdtemp("par"))) {
        free(f);
        return -1;
    }
    *state = f;
    snprintf(f->s16, sizeof f->s16, "%s/s16", f->dir);
    snprintf(f->s64, sizeof f->s64, "%s/s64", f->dir);
    snprintf(f->wisdom, sizeof f->wisdom, "%s/wisdom", f->dir);
    snprintf(f->imager, sizeof f->imager, "%s", tu_bin("imager"));
    /* One wisdom file for every run of this program: after the warm-up
     * run below plans the 96x96 FFT, every rank of every run executes the
     * same FFTW plan, so cubes from different ranks can be equal to the
     * byte. It also keeps ~/.cache out of the tests. */
    setenv("IMBENCH_FFTW_WISDOM", f->wisdom, 1);
    int rc = 0;
    char *out = NULL;
    if (access(f->imager, X_OK) != 0) {
        print_error("no imager at %s (set IMBENCH_BIN)\n", f->imager);
        rc = -1;
    } else if (tu_run(NULL, "command -v mpirun") != 0) {
        print_error("mpirun not found: install openmpi-bin (scripts/deps.sh)\n");
        rc = -1;
    }
    /* 10 antennas, 20 times: 900 rows; a point source at the centre and
     * one off it, 5% flags; 64x64 images of 0.25". */
    tu_store t = {.nant = 10, .ntime = 20, .nchan = 16, .npol = 2, .cell_arcsec = 0.25,
                  .nx = 64, .flag_frac = 0.05};
    double cell = t.cell_arcsec * M_PI / 180 / 3600;
    tu_src s[2] = {{1.0, 0, 0, 0}, {0.5, -9 * cell, 5 * cell, 0}};
    if (!rc) rc = tu_make_store(f->s16, &t, s, 2);
    t.nchan = 64;
    if (!rc) rc = tu_make_store(f->s64, &t, s, 2);
    if (!rc && (rc = imager(f, 0, &out, "--vis '%s' --out '%s/warm' --quiet", f->s16, f->dir)))
        print_error("warm-up run failed (%d): %s\n", rc, out);
    free(out);
    if (rc) {
        teardown(state);
        *state = NULL;
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f) return 0;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---------- 1. cube equality across ranks, threads, chunks, schedulers ---------- */

typedef struct cube_case {
    int nchan;          /* 16 or 64: which store */
    int nranks;         /* 0 = plain process, no mpirun */
    int threads, chunks;
    const char *sched;
    int check_dft;
} cube_case;

static void test_cube_equality(void **state)
{
    fixture *f = *state;
    /* Each value of each axis at least twice; every scheduler with N=3;
     * chunks 64 only on the 64-channel store (clamped otherwise). */
    static const cube_case cases[] = {
        {16, 0, 2, 7, "static", 0},     {16, 0, 1, 64, "dynamic", 0},
        {16, 1, 1, 7, "locality", 0},   {16, 1, 2, 1, "static", 0},
        {16, 2, 1, 1, "dynamic", 0},    {16, 2, 2, 7, "locality", 0},
        {16, 3, 1, 7, "static", 0},     {16, 3, 2, 7, "dynamic", 8},
        {16, 3, 2, 1, "locality", 0},   {64, 2, 2, 64, "static", 0},
        {64, 3, 1, 64, "dynamic", 0},   {64, 3, 2, 64, "locality", 8},
        {64, 1, 1, 64, "dynamic", 0},   {64, 0, 2, 64, "locality", 0},
    };
    char out[700];
    long n[4];
    float *ref[2];
    double ref_samples[2];
    char *txt = NULL;
    /* References: one plain process, one thread, one chunk. */
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/cube_ref%d", f->dir, k);
        int rc = imager(f, 0, &txt, "--vis '%s' --out '%s' --threads 1 --chunks 1 --stats '%s/stats.json'",
                        k ? f->s64 : f->s16, out, out);
        if (rc) print_error("%s\n", txt);
        assert_int_equal(rc, 0);
        free(txt);
        ref[k] = read_cube(out, "dirty.fits", n);
        assert_int_equal(n[2], k ? 64 : 16);
        json_t *st = load_stats(out);
        ref_samples[k] = metric(st, "samples_gridded");
        assert_true(ref_samples[k] > 0);
        json_decref(st);
    }
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cube_case *c = &cases[i];
        int k = c->nchan == 64, N = c->nranks ? c->nranks : 1;
        snprintf(out, sizeof out, "%s/cube%zu", f->dir, i);
        char dft[32] = "";
        if (c->check_dft) snprintf(dft, sizeof dft, "--check-dft %d", c->check_dft);
        int rc = imager(f, c->nranks, &txt,
                        "--vis '%s' --out '%s' --threads %d --chunks %d --schedule %s "
                        "--stats '%s/stats.json' %s",
                        k ? f->s64 : f->s16, out, c->threads, c->chunks, c->sched, out, dft);
        if (rc) print_error("case %zu (N=%d T=%d C=%d %s): status %d\n%s\n", i, c->nranks,
                            c->threads, c->chunks, c->sched, rc, txt);
        assert_int_equal(rc, 0);
        /* Only rank 0 prints the summary, naming the ranks and the
         * (clamped) chunk count. */
        int nchunks = c->chunks < c->nchan ? c->chunks : c->nchan;
        char want[128];
        snprintf(want, sizeof want, "%d rank(s) x %d threads, %d chunks", N, c->threads, nchunks);
        if (count_of(txt, "rank(s) x") != 1 || !tu_contains(txt, want))
            print_error("case %zu: want one '%s' in:\n%s\n", i, want, txt);
        assert_int_equal(count_of(txt, "rank(s) x"), 1);
        assert_true(tu_contains(txt, want));
        if (c->check_dft) {
            /* One DFT line (rank 0's), printed last, and accurate. */
            assert_int_equal(count_of(txt, "dft max_rel_err "), 1);
            const char *last = strstr(txt, "dft max_rel_err ");
            assert_true(strchr(last, '\n') == last + strlen(last) - 1);
            assert_true(atof(last + 16) < 1e-4);
        }
        free(txt);
        long m[4];
        float *d = read_cube(out, "dirty.fits", m);
        assert_int_equal(m[0], 64);
        assert_int_equal(m[1], 64);
        assert_int_equal(m[2], c->nchan);
        assert_int_equal(m[3], 2);
        double rel = assert_cube_close(ref[k], d, (size_t)(m[0] * m[1] * m[2] * m[3]), 1e-6);
        worst = fmax(worst, rel);
        free(d);
        json_t *st = load_stats(out);
        assert_int_equal(param_int(st, "ranks"), N);
        assert_int_equal(param_int(st, "threads"), c->threads);
        assert_int_equal(param_int(st, "chunks"), nchunks);
        assert_string_equal(json_string_value(json_object_get(json_object_get(st, "params"),
                                                              "schedule")),
                            c->sched);
        /* Every sample is gridded once, whoever grids it. */
        assert_true(metric(st, "samples_gridded") == ref_samples[k]);
        assert_true(metric(st, "tasks") == nchunks);
        json_decref(st);
    }
    print_message("  %zu configurations, largest difference %.2e of the peak\n",
                  sizeof cases / sizeof cases[0], worst);
    free(ref[0]);
    free(ref[1]);
}

/* ---------- 2. serial vs parallel writes, byte for byte ---------- */

static void assert_same_file(const char *a_dir, const char *b_dir, const char *name)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/%s", a_dir, name);
    snprintf(b, sizeof b, "%s/%s", b_dir, name);
    size_t na = 0, nb = 0;
    char *x = tu_slurp(a, &na), *y = tu_slurp(b, &nb);
    assert_non_null(x);
    assert_non_null(y);
    assert_true(na > 2880);
    assert_int_equal(na, nb);
    if (memcmp(x, y, na) != 0) {
        size_t i = 0;
        while (x[i] == y[i]) i++;
        print_error("%s and %s differ first at byte %zu\n", a, b, i);
    }
    assert_memory_equal(x, y, na);
    free(x);
    free(y);
}

static void test_serial_vs_parallel_writes(void **state)
{
    fixture *f = *state;
    static const struct {
        int nranks, threads, chunks;
        const char *sched;
    } cases[] = {{2, 1, 7, "static"}, {2, 2, 16, "dynamic"}, {3, 2, 7, "static"},
                 {3, 1, 5, "dynamic"}, {3, 2, 4, "locality"}};
    char par[700], ser[700];
    char *txt = NULL;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int serial = 0; serial < 2; serial++) {
            char *out = serial ? ser : par;
            snprintf(out, 700, "%s/write%zu%s", f->dir, i, serial ? "s" : "p");
            /* Durable writes (--fsync: writeback as planes come, fsync
             * before the rename) give the same bytes as well. */
            int rc = imager(f, cases[i].nranks, &txt,
                            "--vis '%s' --out '%s' --threads %d --chunks %d --schedule %s --psf "
                            "--quiet %s %s",
                            f->s16, out, cases[i].threads, cases[i].chunks, cases[i].sched,
                            serial ? "--serial-write" : "", serial && i % 2 ? "--fsync" : "");
            if (rc) print_error("%s\n", txt);
            assert_int_equal(rc, 0);
            free(txt);
            assert_false(exists(out, "dirty.fits.tmp"));
            assert_false(exists(out, "psf.fits.tmp"));
        }
        assert_same_file(par, ser, "dirty.fits");
        assert_same_file(par, ser, "psf.fits");
    }
    /* And both equal a plain single process's cubes. */
    snprintf(ser, sizeof ser, "%s/write_plain", f->dir);
    assert_int_equal(imager(f, 0, NULL,
                            "--vis '%s' --out '%s' --psf --quiet --fsync --stats '%s/stats.json'",
                            f->s16, ser, ser),
                     0);
    assert_same_file(par, ser, "dirty.fits");
    assert_same_file(par, ser, "psf.fits");
    char sp[800];
    snprintf(sp, sizeof sp, "%s/stats.json", ser);
    json_t *st = json_load_file(sp, 0, NULL);
    assert_non_null(st);
    assert_true(json_is_true(json_object_get(json_object_get(st, "params"), "fsync")));
    json_decref(st);
}

/* ---------- 3. communication counters ---------- */

/* Point-to-point traffic balances: everything sent was received. */
static void assert_p2p_balanced(const json_t *st)
{
    comm_sum all = comm_of(st, -1, "p2p");
    assert_int_equal(all.sent, all.recv);
    assert_int_equal(all.bsent, all.brecv);
}

/* Planes rank r imaged (so, with serial writes, sent to rank 0): nplanes
 * per channel of each chunk it read, by OUT/tasks.csv. */
static long long planes_of_rank(const char *out, int r, int nchan, int nchunks, int nplanes)
{
    size_t nev = 0;
    task_ev *ev = read_tasks(out, &nev);
    long long planes = 0;
    for (size_t k = 0; k < nev; k++)
        if (ev[k].rank == r && strcmp(ev[k].phase, "read") == 0)
            planes += nplanes * ((long long)(ev[k].chunk + 1) * nchan / nchunks -
                                 (long long)ev[k].chunk * nchan / nchunks);
    free(ev);
    return planes;
}

static void test_comm_counters(void **state)
{
    fixture *f = *state;
    char out[700];
    char *txt = NULL;

    /* One plain process: MPI never initialised, nothing communicated. */
    snprintf(out, sizeof out, "%s/comm_plain", f->dir);
    assert_int_equal(imager(f, 0, NULL, "--vis '%s' --out '%s' --threads 2 --chunks 7 --quiet "
                                        "--schedule dynamic --stats '%s/stats.json'",
                            f->s16, out, out), 0);
    json_t *st = load_stats(out);
    assert_int_equal(param_int(st, "ranks"), 1);
    assert_int_equal(json_array_size(json_object_get(st, "per_rank")), 1);
    comm_sum s = comm_of(st, -1, NULL);
    assert_int_equal(s.sent + s.recv + s.bsent + s.brecv, 0);
    assert_true(metric(st, "comm_messages") == 0);
    assert_true(metric(st, "comm_bytes") == 0);
    json_decref(st);

    /* mpirun -np 1: collectives with itself only, no point-to-point. */
    snprintf(out, sizeof out, "%s/comm_np1", f->dir);
    assert_int_equal(imager(f, 1, NULL, "--vis '%s' --out '%s' --threads 2 --chunks 7 --quiet "
                                        "--schedule dynamic --serial-write --stats '%s/stats.json'",
                            f->s16, out, out), 0);
    st = load_stats(out);
    assert_int_equal(param_int(st, "ranks"), 1);
    assert_int_equal(json_array_size(json_object_get(st, "per_rank")), 1);
    s = comm_of(st, -1, "p2p");
    assert_int_equal(s.sent + s.recv, 0);
    json_decref(st);

    static const struct {
        int nranks, threads, chunks;
        const char *sched;
        int serial;
    } cases[] = {{2, 1, 7, "static", 0},   {2, 2, 7, "dynamic", 0}, {3, 2, 16, "dynamic", 0},
                 {3, 1, 7, "static", 1},   {3, 2, 7, "locality", 0}, {2, 2, 5, "dynamic", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int N = cases[i].nranks, T = cases[i].threads;
        const int dyn = strcmp(cases[i].sched, "dynamic") == 0, ser = cases[i].serial;
        snprintf(out, sizeof out, "%s/comm%zu", f->dir, i);
        int rc = imager(f, N, &txt,
                        "--vis '%s' --out '%s' --threads %d --chunks %d --schedule %s --psf "
                        "--quiet --stats '%s/stats.json' %s",
                        f->s16, out, T, cases[i].chunks, cases[i].sched, out,
                        ser ? "--serial-write" : "");
        if (rc) print_error("%s\n", txt);
        assert_int_equal(rc, 0);
        free(txt);
        st = load_stats(out);
        assert_int_equal(param_int(st, "ranks"), N);
        json_t *pr = json_object_get(st, "per_rank");
        assert_int_equal(json_array_size(pr), N);
        long long tasks = 0;
        for (int r = 0; r < N; r++) {
            assert_int_equal(rank_int(st, r, "rank"), r);
            assert_int_equal(rank_int(st, r, "threads"), T);
            tasks += rank_int(st, r, "tasks");
            /* Collectives on every rank, whatever the scheduler. */
            comm_sum col = comm_of(st, r, "barrier");
            assert_true(col.sent > 0);
            col = comm_of(st, r, "reduce");
            assert_true(col.sent > 0 && col.bsent > 0);
        }
        assert_int_equal(tasks, cases[i].chunks);
        assert_true(metric(st, "comm_messages") > 0);
        assert_true(metric(st, "comm_bytes") > 0);
        assert_p2p_balanced(st);
        comm_sum p2p = comm_of(st, -1, "p2p");
        if (!dyn && !ser) {
            /* static and locality without serial writes: no messages. */
            assert_int_equal(p2p.sent + p2p.recv, 0);
        } else {
            assert_true(p2p.sent > 0 && p2p.bsent > 0);
            /* Rank 0 receives requests, planes and one "done" from each
             * other rank, and sends only the answers to requests. */
            comm_sum r0 = comm_of(st, 0, "p2p");
            long long want_sent0 = 0, want_recv0 = 0, want_brecv0 = 0, told_last = 0;
            for (int r = 1; r < N; r++) {
                comm_sum rr = comm_of(st, r, "p2p");
                /* Dynamic: the first round is dealt without messages;
                 * then a request per further chunk and one per thread
                 * answered "none left" — one per chunk the rank imaged;
                 * 8 bytes (thread, task key) there, 8 (the chunk, chunks
                 * left after it) back. The thread whose answer gave the
                 * very last chunk (if a remote one got it) knows none is
                 * left and does not ask again: one request fewer. */
                long long reqs = dyn ? rank_int(st, r, "tasks") : 0;
                if (dyn && rr.recv == reqs - 1) {
                    reqs--;
                    told_last++;
                }
                /* Serial writes: every plane it imaged, 2 pols x (dirty
                 * + psf) per channel, with a 16-byte header. */
                long long planes = ser ? planes_of_rank(out, r, 16, cases[i].chunks, 2 * 2) : 0;
                assert_int_equal(rr.sent, reqs + planes + 1); /* + "done" */
                assert_int_equal(rr.recv, reqs);
                assert_int_equal(rr.bsent, 8 * reqs + planes * (64 * 64 + 4) * 4 + 4);
                assert_int_equal(rr.brecv, 8 * reqs);
                want_sent0 += reqs;
                want_recv0 += reqs + planes + 1;
                want_brecv0 += rr.bsent;
            }
            assert_true(told_last <= 1);
            assert_int_equal(r0.sent, want_sent0);
            assert_int_equal(r0.recv, want_recv0);
            assert_int_equal(r0.brecv, want_brecv0);
        }
        json_decref(st);
    }
}

/* ---------- 4. task events ---------- */

static void check_tasks(const fixture *f, int N, int T, int nchan, int chunks, const char *sched,
                        int psf)
{
    char out[700];
    char *txt = NULL;
    snprintf(out, sizeof out, "%s/tasks_%d_%d_%d_%s_%d", f->dir, N, T, chunks, sched, psf);
    int rc = imager(f, N, &txt,
                    "--vis '%s' --out '%s' --threads %d --chunks %d --schedule %s --quiet "
                    "--stats '%s/stats.json' %s",
                    nchan == 64 ? f->s64 : f->s16, out, T, chunks, sched, out, psf ? "--psf" : "");
    if (rc) print_error("%s\n", txt);
    assert_int_equal(rc, 0);
    free(txt);
    const int nchunks = chunks < nchan ? chunks : nchan, nprod = psf ? 2 : 1;
    size_t nev = 0;
    task_ev *ev = read_tasks(out, &nev);
    assert_true(nev > 0);
    int *reads = calloc((size_t)nchunks, sizeof(int)), *read_rank = calloc((size_t)nchunks, sizeof(int));
    int *grids = calloc((size_t)nchan, sizeof(int));
    assert_true(reads && read_rank && grids);
    for (size_t k = 0; k < nev; k++) {
        const task_ev *e = &ev[k];
        assert_in_range(e->rank, 0, N - 1);
        assert_in_range(e->thread, 0, T - 1);
        assert_true(e->start >= 0);
        assert_true(e->start <= e->end);
        int known = 0;
        for (int p = 0; p < PROF_NPHASE; p++) known |= !strcmp(e->phase, prof_phase_name(p));
        if (!known) print_error("unexpected phase '%s'\n", e->phase);
        assert_true(known);
        if (strcmp(e->phase, "read") == 0) {
            assert_in_range(e->chunk, 0, nchunks - 1);
            /* A chunk's read starts at its first channel. */
            assert_int_equal(e->chan, (int)((long)e->chunk * nchan / nchunks));
            reads[e->chunk]++;
            read_rank[e->chunk] = e->rank;
        } else if (strcmp(e->phase, "grid") == 0) {
            assert_in_range(e->chan, 0, nchan - 1);
            assert_in_range(e->chunk, 0, nchunks - 1);
            /* The channel lies in its chunk. */
            assert_true(e->chan >= (int)((long)e->chunk * nchan / nchunks) &&
                        e->chan < (int)((long)(e->chunk + 1) * nchan / nchunks));
            grids[e->chan]++;
        }
    }
    for (int c = 0; c < nchunks; c++) {
        if (reads[c] != 1) print_error("chunk %d read %d times\n", c, reads[c]);
        assert_int_equal(reads[c], 1);
        if (strcmp(sched, "static") == 0) assert_int_equal(read_rank[c], c % N); /* cyclic */
        if (strcmp(sched, "locality") == 0 && c > 0)
            assert_true(read_rank[c] >= read_rank[c - 1]); /* contiguous ownership */
    }
    for (int c = 0; c < nchan; c++) {
        if (grids[c] != nprod) print_error("channel %d gridded %d times\n", c, grids[c]);
        assert_int_equal(grids[c], nprod);
    }
    if (strcmp(sched, "locality") == 0 && nchunks >= N) {
        assert_int_equal(read_rank[0], 0);
        assert_int_equal(read_rank[nchunks - 1], N - 1);
    }
    json_t *st = load_stats(out);
    assert_true(metric(st, "tasks") == nchunks);
    assert_true(metric(st, "task_events") == (double)nev);
    assert_string_equal(json_string_value(json_object_get(st, "tasks_file")), "tasks.csv");
    long long per_rank = 0;
    for (int r = 0; r < N; r++) {
        long long mine = 0;
        for (int c = 0; c < nchunks; c++) mine += read_rank[c] == r;
        assert_int_equal(rank_int(st, r, "tasks"), mine);
        per_rank += rank_int(st, r, "tasks");
    }
    assert_int_equal(per_rank, nchunks);
    json_decref(st);
    free(reads);
    free(read_rank);
    free(grids);
    free(ev);
}

static void test_task_events(void **state)
{
    fixture *f = *state;
    check_tasks(f, 3, 2, 16, 7, "dynamic", 1);
    check_tasks(f, 3, 1, 16, 7, "static", 0);
    check_tasks(f, 2, 2, 64, 64, "locality", 1);
    check_tasks(f, 3, 1, 64, 10, "locality", 0);
    check_tasks(f, 1, 2, 16, 64, "static", 1); /* clamped to 16 chunks */
}

/* ---------- 5. scheduler overhead ---------- */

static void test_sched_overhead(void **state)
{
    fixture *f = *state;
    char out[700];
    snprintf(out, sizeof out, "%s/sched_static", f->dir);
    assert_int_equal(imager(f, 0, NULL, "--vis '%s' --out '%s' --threads 1 --chunks 64 --quiet "
                                        "--schedule static --stats '%s/stats.json'",
                            f->s64, out, out), 0);
    json_t *st = load_stats(out);
    double v = metric(st, "sched_per_task");
    print_message("  sched_per_task static N=1: %.3g s (%g tasks)\n", v, metric(st, "tasks"));
    assert_false(isnan(v));
    assert_true(v >= 0 && v < 50e-6);
    json_decref(st);

    snprintf(out, sizeof out, "%s/sched_dynamic", f->dir);
    assert_int_equal(imager(f, 2, NULL, "--vis '%s' --out '%s' --threads 1 --chunks 64 --quiet "
                                        "--schedule dynamic --stats '%s/stats.json'",
                            f->s64, out, out), 0);
    st = load_stats(out);
    v = metric(st, "sched_per_task");
    print_message("  sched_per_task dynamic N=2: %.3g s (messages to rank 0 and back)\n", v);
    assert_true(isfinite(v) && v > 0);
    json_decref(st);
}

/* ---------- 6. a killed rank ---------- */


/* Any imager process (of any rank) left with tag in its command line? */
static int leftovers(const char *imager_path, const char *tag)
{
    int n = 0;
    for (int r = 0; r < 8; r++) n += tu_find_rank(imager_path, tag, r) != 0;
    return n;
}

/* Start a 2-rank job, SIGKILL rank `victim` once it is imaging, and
 * check that the whole job ends promptly, naming the rank, with nothing
 * that looks like a finished product. */
static void kill_rank(const fixture *f, int victim_rank, const char *sched, const char *extra)
{
    char out[700], log[800], cmd[8192], tmp[800];
    snprintf(out, sizeof out, "%s/killed%d", f->dir, victim_rank);
    snprintf(log, sizeof log, "%s.log", out);
    snprintf(tmp, sizeof tmp, "%s/dirty.fits.tmp", out);
    /* Padding 4 (1024x1024 double-precision FFTs for 256x256 planes),
     * dirty and PSF for 64 channels: ~3 s of work on two ranks from the
     * small store, with 65 MB of cubes. ESTIMATE planning: no measuring
     * of a new FFT size before the work starts. */
    snprintf(cmd, sizeof cmd,
             MPIRUN " -np 2 '%s' --vis '%s' --out '%s' --threads 1 --chunks 64 --image 256 "
                    "--padding 4 --precision double --psf --fft-plan estimate --schedule %s %s "
                    "--quiet > '%s' 2>&1",
             f->imager, f->s64, out, sched, extra, log);
    fflush(NULL);
    double t0 = ib_now();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Wait for the victim to exist and rank 0 to have created the cube:
     * the ranks are then past start-up, in the imaging itself, and rank 0
     * cannot seal the cube without rank 1 (a barrier comes first). */
    pid_t victim = 0;
    int status = 0, ended = 0, cube_seen = 0;
    while (ib_now() - t0 < 60) {
        if (waitpid(child, &status, WNOHANG) == child) {
            ended = 1;
            break;
        }
        if (!victim) victim = tu_find_rank(f->imager, out, victim_rank);
        cube_seen = cube_seen || access(tmp, F_OK) == 0;
        if (victim && cube_seen) break;
        nap(0.01);
    }
    double t_kill = 0;
    if (!ended && victim) {
        nap(0.1);
        t_kill = ib_now();
        kill(victim, SIGKILL);
    }
    /* The job must end by itself; timeout(1) in the command is the
     * backstop against a hang (exit 124). */
    while (!ended && ib_now() - t0 < 150) {
        if (waitpid(child, &status, WNOHANG) == child) ended = 1;
        else nap(0.02);
    }
    if (!ended) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
    }
    double t_end = ib_now();
    char *txt = tu_slurp(log, NULL);
    if (!victim || !cube_seen)
        print_error("did not catch rank %d imaging (pid %d, cube %d): the run was too quick?\n%s\n",
                    victim_rank, (int)victim, cube_seen, txt ? txt : "");
    assert_true(victim > 0);
    assert_true(cube_seen);
    assert_true(ended);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    print_message("  %s: killed rank %d (pid %d) %.2f s after start; job ended %.2f s later, "
                  "status %d\n", sched, victim_rank, (int)victim, t_kill - t0, t_end - t_kill, rc);
    assert_true(rc != 0);
    assert_true(rc != TIMED_OUT);
    assert_true(t_end - t_kill < 30);
    /* OpenMPI names the rank that died ("process rank 1 with PID ...
     * exited on signal 9 (Killed)"). */
    char want[32];
    snprintf(want, sizeof want, "rank %d", victim_rank);
    if (!tu_contains(txt, want) || !tu_contains(txt, "signal 9"))
        print_error("output does not name the killed rank:\n%s\n", txt ? txt : "");
    assert_true(tu_contains(txt, want));
    assert_true(tu_contains(txt, "signal 9"));
    free(txt);
    /* No finished-looking products (the temporaries may stay), and no
     * rank left running. */
    assert_false(exists(out, "dirty.fits"));
    assert_false(exists(out, "psf.fits"));
    assert_false(exists(out, "tasks.csv"));
    int left = leftovers(f->imager, out);
    for (int i = 0; i < 100 && left; i++) {
        nap(0.05);
        left = leftovers(f->imager, out);
    }
    assert_int_equal(left, 0);
    tu_rmtree(out); /* 65 MB of pre-sized cubes */
}

static void test_killed_rank(void **state)
{
    fixture *f = *state;
    /* A worker rank dies; rank 0 is imaging its share or waiting. */
    kill_rank(f, 1, "static", "");
    /* Rank 0 dies while serving chunks and planes: rank 1 is blocked on
     * a request or a send to it. */
    kill_rank(f, 0, "dynamic", "--serial-write");
}

/* ---------- 7. an error on one rank, and on every rank ---------- */

/* Run a failing job; checks status 1 (the imager's runtime failure,
 * passed on by MPI_Abort and mpirun), promptness and no products. */
static char *failing_job(const fixture *f, const char *out, const char *cmd)
{
    char *txt = NULL;
    double t0 = ib_now();
    int rc = tu_run(&txt, "%s", cmd);
    double dt = ib_now() - t0;
    print_message("  failed as expected in %.2f s, status %d\n", dt, rc);
    if (rc != 1) print_error("status %d, output:\n%s\n", rc, txt);
    assert_int_equal(rc, 1);
    assert_true(dt < 60);
    assert_false(exists(out, "dirty.fits"));
    assert_false(exists(out, "tasks.csv"));
    assert_int_equal(leftovers(f->imager, out), 0);
    return txt;
}

static void test_rank_errors(void **state)
{
    fixture *f = *state;
    char out[700], bad[700], cmd[8000], wrap[700];

    /* Rank 1 alone is given a store that does not exist; rank 0 has
     * created the cube and waits for it. */
    snprintf(wrap, sizeof wrap, "%s/rankvis.sh", f->dir);
    FILE *fp = fopen(wrap, "w");
    assert_non_null(fp);
    fprintf(fp, "#!/bin/sh\n"
                "# rankvis.sh RANK GOOD BAD IMAGER ARGS...: rank RANK images BAD, the others GOOD\n"
                "if [ \"$OMPI_COMM_WORLD_RANK\" = \"$1\" ]; then v=$3; else v=$2; fi\n"
                "prog=$4; shift 4\n"
                "exec \"$prog\" --vis \"$v\" \"$@\"\n");
    assert_int_equal(fclose(fp), 0);
    snprintf(out, sizeof out, "%s/err_one", f->dir);
    snprintf(bad, sizeof bad, "%s/no_such_store", f->dir);
    snprintf(cmd, sizeof cmd, MPIRUN " -np 2 sh '%s' 1 '%s' '%s' '%s' --out '%s' --quiet", wrap,
             f->s64, bad, f->imager, out);
    char *txt = failing_job(f, out, cmd);
    if (!tu_contains(txt, "imager: rank 1 of 2: store '") || !tu_contains(txt, "no_such_store/vis.h5"))
        print_error("output:\n%s\n", txt);
    assert_true(tu_contains(txt, "imager: rank 1 of 2: store '"));
    assert_true(tu_contains(txt, "no_such_store/vis.h5"));
    assert_false(tu_contains(txt, "imager: rank 0 of 2"));
    free(txt);

    /* A checksum error inside the visibility data: only the rank that
     * reads the damaged chunk fails, in the middle of the imaging while
     * the others go on. */
    snprintf(bad, sizeof bad, "%s/corrupt", f->dir);
    assert_int_equal(tu_run(NULL,
                            "mkdir -p '%s' && cp '%s/vis.h5' '%s/vis.h5' && sz=$(stat -c %%s '%s/vis.h5') && "
                            "printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | "
                            "dd of='%s/vis.h5' bs=1 seek=$((sz*2/3)) conv=notrunc 2>/dev/null",
                            bad, f->s64, bad, bad, bad),
                     0);
    snprintf(out, sizeof out, "%s/err_chunk", f->dir);
    snprintf(cmd, sizeof cmd, MPIRUN " -np 3 '%s' --vis '%s' --out '%s' --chunks 16 --quiet",
             f->imager, bad, out);
    txt = failing_job(f, out, cmd);
    if (!tu_contains(txt, "corrupt/vis.h5': dataset '/") || count_of(txt, "imager: rank ") < 1)
        print_error("output:\n%s\n", txt);
    assert_true(tu_contains(txt, "corrupt/vis.h5': dataset '/"));
    assert_true(count_of(txt, "imager: rank ") >= 1);
    assert_true(tu_contains(txt, " of 3: store '"));
    free(txt);

    /* A usage error: every rank sees it, rank 0 alone says so, status 2. */
    snprintf(out, sizeof out, "%s/err_usage", f->dir);
    txt = NULL;
    int rc = imager(f, 3, &txt, "--vis '%s' --out '%s' --threads 0", f->s16, out);
    if (rc != 2 || count_of(txt, "imager: option '--threads': threads must be in 1..1024, got 0") != 1)
        print_error("status %d, output:\n%s\n", rc, txt);
    assert_int_equal(rc, 2);
    assert_int_equal(count_of(txt, "imager: option '--threads': threads must be in 1..1024, got 0"), 1);
    assert_false(exists(out, "."));
    free(txt);

    /* Every rank fails opening a store that is not HDF5. */
    snprintf(bad, sizeof bad, "%s/junk", f->dir);
    assert_int_equal(tu_run(NULL, "mkdir -p '%s' && echo hello > '%s/vis.h5'", bad, bad), 0);
    snprintf(out, sizeof out, "%s/err_all", f->dir);
    snprintf(cmd, sizeof cmd, MPIRUN " -np 3 '%s' --vis '%s' --out '%s' --quiet", f->imager, bad,
             out);
    txt = failing_job(f, out, cmd);
    if (!tu_contains(txt, "junk/vis.h5': not a readable HDF5 file")) print_error("output:\n%s\n", txt);
    assert_true(tu_contains(txt, "junk/vis.h5': not a readable HDF5 file"));
    assert_true(count_of(txt, "imager: rank ") >= 1);
    free(txt);

    /* srun without an MPI plug-in: each task would be a whole run of its
     * own; the imager refuses before writing anything. */
    snprintf(out, sizeof out, "%s/err_srun", f->dir);
    rc = tu_run(&txt, "env -u OMPI_COMM_WORLD_SIZE -u PMIX_RANK -u PMI_RANK -u PMI_SIZE "
                "SLURM_STEP_NUM_TASKS=2 SLURM_PROCID=1 " PLAIN " '%s' --vis '%s' --out '%s'",
                f->imager, f->s16, out);
    assert_int_equal(rc, 1);
    assert_true(tu_contains(txt, "started by srun as one of 2 tasks without MPI wire-up"));
    assert_true(tu_contains(txt, "srun --mpi=pmix"));
    assert_false(exists(out, "dirty.fits"));
    free(txt);
}

/* ---------- 8. row chunks: grids summed over row tasks and ranks ---------- */

typedef struct row_case {
    int nranks, threads, chunks, rows;
    const char *sched, *weight;
} row_case;

/* The cube of every case equals a plain one-chunk run with the same
 * weighting; every task is read once per pass, every channel gridded once
 * per row task; the summed grids travel as reductions only when there is
 * more than one rank. */
static void test_row_chunks(void **state)
{
    fixture *f = *state;
    static const char *const weights[] = {"natural", "briggs:0", "uniform"};
    static const row_case cases[] = {
        {0, 2, 1, 5, "static", "natural"},     {0, 1, 3, 16, "static", "briggs:0"},
        {2, 2, 2, 7, "dynamic", "natural"},    {3, 1, 4, 7, "locality", "briggs:0"},
        {3, 2, 1, 3, "static", "uniform"},     {2, 1, 16, 64, "dynamic", "uniform"},
        {3, 2, 5, 2, "dynamic", "briggs:0"},   {2, 2, 0, 4, "locality", "natural"},
    };
    char out[700];
    char *txt = NULL;
    long n[4];
    float *ref[3];
    double ref_samples[3];
    for (int k = 0; k < 3; k++) {
        snprintf(out, sizeof out, "%s/rows_ref%d", f->dir, k);
        int rc = imager(f, 0, &txt, "--vis '%s' --out '%s' --chunks 1 --psf --weight %s "
                        "--stats '%s/stats.json' --quiet", f->s16, out, weights[k], out);
        if (rc) print_error("%s\n", txt);
        assert_int_equal(rc, 0);
        free(txt);
        ref[k] = read_cube(out, "psf.fits", n);
        free(ref[k]);
        ref[k] = read_cube(out, "dirty.fits", n);
        json_t *st = load_stats(out);
        ref_samples[k] = metric(st, "samples_gridded");
        assert_int_equal(param_int(st, "row_chunks"), 1);
        json_decref(st);
    }
    double worst = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const row_case *c = &cases[i];
        int k = !strcmp(c->weight, "natural") ? 0 : !strcmp(c->weight, "briggs:0") ? 1 : 2;
        int N = c->nranks ? c->nranks : 1, passes = k ? 2 : 1;
        snprintf(out, sizeof out, "%s/rows%zu", f->dir, i);
        char chunks[32] = "";
        if (c->chunks) snprintf(chunks, sizeof chunks, "--chunks %d", c->chunks);
        int rc = imager(f, c->nranks, &txt,
                        "--vis '%s' --out '%s' --threads %d %s --row-chunks %d --schedule %s "
                        "--weight %s --psf --stats '%s/stats.json'",
                        f->s16, out, c->threads, chunks, c->rows, c->sched, c->weight, out);
        if (rc) print_error("case %zu: status %d\n%s\n", i, rc, txt);
        assert_int_equal(rc, 0);
        /* default with row chunks: 4 channels a chunk */
        int nchunks = c->chunks ? c->chunks : 4;
        char want[128];
        snprintf(want, sizeof want, "%d rank(s) x %d threads, %d chunks x %d row chunks", N,
                 c->threads, nchunks, c->rows);
        if (!tu_contains(txt, want)) print_error("case %zu: want '%s' in:\n%s\n", i, want, txt);
        assert_true(tu_contains(txt, want));
        free(txt);
        long m[4];
        float *d = read_cube(out, "dirty.fits", m);
        assert_int_equal(m[2], 16);
        worst = fmax(worst, assert_cube_close(ref[k], d, (size_t)(m[0] * m[1] * m[2] * m[3]), 1e-6));
        free(d);

        json_t *st = load_stats(out);
        assert_int_equal(param_int(st, "row_chunks"), c->rows);
        assert_int_equal(param_int(st, "chunks"), nchunks);
        assert_true(metric(st, "samples_gridded") == ref_samples[k]);
        assert_true(metric(st, "tasks") == (double)(nchunks * c->rows * passes));
        {
            /* the software-defined events count the same samples and tasks,
             * summed over the ranks */
            size_t q;
            json_t *ev;
            double sde_samples = -1, sde_tasks = -1;
            json_array_foreach(json_object_get(json_object_get(st, "counters"), "sde"), q, ev) {
                const char *nm = json_string_value(json_object_get(ev, "name"));
                double v = json_number_value(json_object_get(ev, "value"));
                if (nm && !strcmp(nm, "samples_gridded")) sde_samples = v;
                if (nm && !strcmp(nm, "chunks_done")) sde_tasks = v;
            }
            assert_true(sde_samples == ref_samples[k]);
            assert_true(sde_tasks == (double)(nchunks * c->rows * passes));
        }
        comm_sum red = comm_of(st, -1, "reduce");
        if (N > 1) {
            /* at least the grids of every chunk from every rank but the owner */
            long long grids = (long long)(N - 1) * 16 * 2 * 96 * 96 * 2 * 2 * 4;
            assert_true(red.bsent >= grids);
        } else {
            assert_int_equal(red.bsent, 0);
        }
        json_decref(st);

        /* Task events: each (chunk, row chunk) task read once per pass, at
         * its chunk's first channel; each channel gridded once per row task. */
        size_t nev = 0;
        task_ev *ev = read_tasks(out, &nev);
        int ntask = nchunks * c->rows;
        int *reads = calloc((size_t)ntask, sizeof(int)), grids[16] = {0};
        assert_non_null(reads);
        for (size_t e = 0; e < nev; e++) {
            if (!strcmp(ev[e].phase, "read")) {
                assert_in_range(ev[e].chunk, 0, ntask - 1);
                assert_int_equal(ev[e].chan, (int)((long)(ev[e].chunk / c->rows) * 16 / nchunks));
                reads[ev[e].chunk]++;
            } else if (!strcmp(ev[e].phase, "grid") && ev[e].chunk >= 0) {
                assert_in_range(ev[e].chan, 0, 15);
                grids[ev[e].chan]++;
            }
        }
        for (int t = 0; t < ntask; t++) assert_int_equal(reads[t], passes);
        for (int ch = 0; ch < 16; ch++) assert_int_equal(grids[ch], c->rows);
        free(reads);
        free(ev);
    }
    print_message("  %zu row-chunk configurations, largest difference %.2e of the peak\n",
                  sizeof cases / sizeof cases[0], worst);
    for (int k = 0; k < 3; k++) free(ref[k]);

    /* Serial and parallel writes give the same bytes with row chunks too
     * (one thread a rank, one schedule: the same order of summation). */
    char ser[700];
    snprintf(out, sizeof out, "%s/rows_par", f->dir);
    snprintf(ser, sizeof ser, "%s/rows_ser", f->dir);
    assert_int_equal(imager(f, 3, NULL, "--vis '%s' --out '%s' --row-chunks 5 --chunks 4 --psf "
                            "--quiet", f->s16, out), 0);
    assert_int_equal(imager(f, 3, NULL, "--vis '%s' --out '%s' --row-chunks 5 --chunks 4 --psf "
                            "--quiet --serial-write", f->s16, ser), 0);
    assert_same_file(out, ser, "dirty.fits");
    assert_same_file(out, ser, "psf.fits");

    /* Impossible values are refused before any work, naming the option. */
    assert_int_not_equal(imager(f, 0, &txt, "--vis '%s' --out '%s/rows_bad' --row-chunks 0",
                                f->s16, f->dir), 0);
    assert_true(tu_contains(txt, "option '--row-chunks': row_chunks must be in 1..1000000, got 0"));
    free(txt);
    assert_int_not_equal(imager(f, 0, &txt, "--vis '%s' --out '%s/rows_bad' --row-chunks 4 "
                                "--chunks 1 --mem-budget 64K", f->s16, f->dir), 0);
    assert_true(tu_contains(txt, "cannot hold the minimum working set"));
    assert_true(tu_contains(txt, "row chunks"));
    assert_false(exists(out, "rows_bad/dirty.fits"));
    free(txt);
}

/* ---------- 9. counters summed over ranks ---------- */

/* The software-defined event name of the stats' counters (and its
 * per_rank array in *per when per is not NULL); -1 when absent. */
static double sde_of(const json_t *st, const char *name, json_t **per)
{
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(json_object_get(st, "counters"), "sde"), i, ev) {
        if (strcmp(json_string_value(json_object_get(ev, "name")), name) != 0) continue;
        if (per) *per = json_object_get(ev, "per_rank");
        return json_number_value(json_object_get(ev, "value"));
    }
    return -1;
}

/* A run's counters do not depend on how many ranks made it: every
 * software-defined event summed over 1, 2 and 3 ranks (static, dynamic,
 * serial writes) equals a plain run's, each rank's own values are kept
 * and add up to the sum, and bytes_written counts the header and every
 * plane of every product (the stats' metric: the sealed files, with their
 * FITS padding). */
static void test_counters_over_ranks(void **state)
{
    fixture *f = *state;
    static const struct {
        int nranks;
        const char *extra;
    } cases[] = {{0, ""}, {1, ""}, {2, ""}, {3, ""}, {2, "--schedule dynamic"},
                 {3, "--serial-write"}, {3, "--row-chunks 3"}};
    static const char *const names[] = {"vis_gridded", "samples_gridded", "chunks_done",
                                        "bytes_read", "bytes_written", "spill_bytes"};
    enum { NN = sizeof names / sizeof names[0] };
    double ref[NN], ref_bw = 0;
    char out[700];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *txt = NULL;
        snprintf(out, sizeof out, "%s/cnt%zu", f->dir, i);
        int rc = imager(f, cases[i].nranks, &txt, "--vis '%s' --out '%s' --chunks 4 --psf %s "
                        "--stats '%s/stats.json' --quiet", f->s16, out, cases[i].extra, out);
        if (rc) print_error("case %zu: status %d\n%s\n", i, rc, txt);
        assert_int_equal(rc, 0);
        free(txt);
        json_t *st = load_stats(out);
        int N = cases[i].nranks ? cases[i].nranks : 1;
        json_t *c = json_object_get(st, "counters");
        assert_int_equal(json_integer_value(json_object_get(c, "ranks")), N);
        for (int k = 0; k < NN; k++) {
            json_t *per = NULL;
            double v = sde_of(st, names[k], &per);
            assert_true(v >= 0);
            assert_int_equal(json_array_size(per), (size_t)N);
            double sum = 0;
            for (int r = 0; r < N; r++) sum += json_number_value(json_array_get(per, (size_t)r));
            assert_true(sum == v);
            if (i == 0) ref[k] = v;
            if (k == 2 && strstr(cases[i].extra, "row-chunks")) continue; /* tasks, below */
            if (v != ref[k])
                print_error("case %zu: %s %.0f, a plain run's %.0f\n", i, names[k], v, ref[k]);
            assert_true(v == ref[k]);
        }
        /* the stats' sums agree; chunks_done counts tasks: a chunk per row chunk */
        assert_true(sde_of(st, "samples_gridded", NULL) == metric(st, "samples_gridded"));
        assert_true(sde_of(st, "bytes_read", NULL) == metric(st, "bytes_read"));
        assert_true(sde_of(st, "chunks_done", NULL) ==
                    4.0 * (strstr(cases[i].extra, "row-chunks") ? 3 : 1));
        /* two cubes of 64 x 64 x 16 x 2 floats; the file sizes add the
         * padding of the header and data units, less than 2880 bytes each */
        double bw = sde_of(st, "bytes_written", NULL), planes = 2.0 * 64 * 64 * 16 * 2 * 4;
        double files = metric(st, "bytes_written");
        assert_true(bw > planes && bw <= files && files - bw < 2 * 2880);
        if (i == 0) ref_bw = files;
        assert_true(files == ref_bw);
        json_decref(st);
    }
    print_message("  counters equal on 1, 2 and 3 ranks: %.0f samples, %.0f bytes written\n",
                  ref[1], ref[4]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cube_equality),
        cmocka_unit_test(test_serial_vs_parallel_writes),
        cmocka_unit_test(test_comm_counters),
        cmocka_unit_test(test_task_events),
        cmocka_unit_test(test_sched_overhead),
        cmocka_unit_test(test_killed_rank),
        cmocka_unit_test(test_rank_errors),
        cmocka_unit_test(test_row_chunks),
        cmocka_unit_test(test_counters_over_ranks),
    };
    return cmocka_run_group_tests_name("parallel", tests, setup, teardown);
}
