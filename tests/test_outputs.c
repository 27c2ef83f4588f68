/*
 * test_outputs.c: the imager's products as astronomers' tools read them —
 * the beam (BMAJ, BMIN, BPA) against the analytic Gaussian PSF of a store
 * whose uv samples are Gaussian, and against a least-squares Gaussian fit
 * of the PSF cube's main lobe; the CASA BEAMS table (a row per channel and
 * polarisation, beams scaling as 1/frequency); the STOKES axis of Stokes I
 * and of XX,YY; and, where Debian's python3-spectral-cube is installed,
 * spectral-cube reading .beam(s) and the Stokes axis (tests/spectral_cube_check.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fitsio.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imaging/imaging.h"
#include "imaging/plan_internal.h"
#include "tests/testutil.h"

#define C_LIGHT 299792458.0
#define NX 64
#define NCHAN 3
#define CELL_AS 0.25
/* uv samples: a Gaussian of 300 m and 150 m (1 sigma) with its major axis
 * 30 degrees from v (north) towards u (east) */
#define SIG_MAJ 300.0
#define SIG_MIN 150.0
#define THETA_DEG 30.0

static const char *srcdir(void)
{
    const char *d = getenv("IMBENCH_SRCDIR");
    return d && *d ? d : ".";
}

typedef struct fixture {
    char *dir;
    char vis[600], vis_yy[600];
} fixture;

static double freq_of(int c) { return 100e9 + 5e9 * c; }

/* A store of nrow rows with (u, v) from the Gaussian above (w = 0), one
 * field, XX and YY with weight 1, no flags, a 1 Jy point source at the
 * centre (every visibility 1 + 0i: the dirty image is the PSF); YY
 * flagged on the rows of the inner half of uv when yy_inner is set, so
 * that YY's beam is narrower than XX's. */
static int make_gauss_store(const char *dir, int64_t nrow, int yy_inner)
{
    img_vis_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.dataset, sizeof m.dataset, "gauss");
    snprintf(m.telescope, sizeof m.telescope, "ALMA");
    m.nrow = nrow;
    m.nchan = NCHAN;
    m.npol = 2;
    m.nfield = 1;
    m.nant = 2;
    m.corr[0] = -5;
    m.corr[1] = -6;
    m.phase_centre[0] = 1.0;
    m.phase_centre[1] = -0.5;
    m.image_nx = m.image_ny = NX;
    m.cell_arcsec = CELL_AS;
    double freq[NCHAN], fd[2] = {1.0, -0.5}, dish[2] = {12, 12};
    for (int c = 0; c < NCHAN; c++) freq[c] = freq_of(c);
    img_vis_store *st;
    ib_err e;
    ib_err_init(&e);
    if (img_vis_create(&e, dir, &m, freq, fd, dish, &st)) {
        fprintf(stderr, "make_gauss_store: %s\n", e.msg);
        return -1;
    }
    size_t nv = (size_t)nrow * NCHAN * 2;
    double *uvw = calloc((size_t)nrow * 3, sizeof(double)), *tm = calloc((size_t)nrow, 8);
    float *vis = calloc(2 * nv, sizeof(float)), *wt = calloc(nv, sizeof(float));
    uint8_t *fl = calloc(nv, 1);
    int32_t *fld = calloc((size_t)nrow, 4), *a1 = calloc((size_t)nrow, 4),
            *a2 = calloc((size_t)nrow, 4);
    assert_true(uvw && tm && vis && wt && fl && fld && a1 && a2);
    const double th = THETA_DEG * M_PI / 180;
    for (int64_t r = 0; r < nrow; r++) {
        /* Box-Muller from the deterministic hash */
        double u1 = ib_uniform(ib_hash4(11, (uint64_t)r, 0, 0)) + 1e-12;
        double u2 = ib_uniform(ib_hash4(11, (uint64_t)r, 1, 0));
        double g1 = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
        double g2 = sqrt(-2 * log(u1)) * sin(2 * M_PI * u2);
        double a = SIG_MAJ * g1, b = SIG_MIN * g2; /* along the major, minor axes */
        uvw[3 * r] = a * sin(th) + b * cos(th);
        uvw[3 * r + 1] = a * cos(th) - b * sin(th);
        tm[r] = (double)r;
        a2[r] = 1;
        for (size_t k = 0; k < NCHAN * 2; k++) {
            size_t o = (size_t)r * NCHAN * 2 + k;
            vis[2 * o] = 1;
            wt[o] = 1;
            fl[o] = yy_inner && k % 2 == 1 && g1 * g1 + g2 * g2 < 1;
        }
    }
    int rc = img_vis_write_rows(&e, st, 0, nrow, uvw, vis, wt, fl, fld, a1, a2, tm);
    if (rc) img_vis_abort(st);
    else rc = img_vis_close(&e, st);
    if (rc) fprintf(stderr, "make_gauss_store: %s\n", e.msg);
    free(uvw); free(tm); free(vis); free(wt); free(fl); free(fld); free(a1); free(a2);
    return rc ? -1 : 0;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !(f->dir = tu_mkdtemp("outputs"))) {
        free(f);
        return -1;
    }
    snprintf(f->vis, sizeof f->vis, "%s/gauss", f->dir);
    char wisdom[700];
    snprintf(wisdom, sizeof wisdom, "%s/wisdom", f->dir);
    setenv("IMBENCH_FFTW_WISDOM", wisdom, 1);
    snprintf(f->vis_yy, sizeof f->vis_yy, "%s/gauss_yy", f->dir);
    *state = f;
    if (make_gauss_store(f->vis, 20000, 0)) return -1;
    return make_gauss_store(f->vis_yy, 20000, 1);
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

static void run_imager(const char *vis, const char *out, int stokes)
{
    img_params p;
    img_params_default(&p);
    p.vis_dir = vis;
    p.out_dir = out;
    p.psf = 1;
    p.quiet = 1;
    p.support = 9;
    p.dbl = 1;
    p.stokes = stokes;
    img_result r;
    ib_err e;
    ib_err_init(&e);
    int rc = img_run(&e, &p, &r);
    if (rc) print_error("img_run: %s\n", e.msg);
    assert_int_equal(rc, 0);
    img_result_release(&r);
}

typedef struct hdr_beam {
    double bmaj, bmin, bpa; /* degrees */
    int casambm;
    double crval4, cdelt4;
} hdr_beam;

static hdr_beam read_header(const char *path)
{
    fitsfile *fp;
    int status = 0;
    hdr_beam h;
    fits_open_file(&fp, path, READONLY, &status);
    fits_read_key_dbl(fp, "BMAJ", &h.bmaj, NULL, &status);
    fits_read_key_dbl(fp, "BMIN", &h.bmin, NULL, &status);
    fits_read_key_dbl(fp, "BPA", &h.bpa, NULL, &status);
    fits_read_key_log(fp, "CASAMBM", &h.casambm, NULL, &status);
    fits_read_key_dbl(fp, "CRVAL4", &h.crval4, NULL, &status);
    fits_read_key_dbl(fp, "CDELT4", &h.cdelt4, NULL, &status);
    char unit[FLEN_VALUE] = "";
    fits_read_key_str(fp, "BUNIT", unit, NULL, &status);
    fits_close_file(fp, &status);
    if (status) print_error("%s: cfitsio status %d\n", path, status);
    assert_int_equal(status, 0);
    return h;
}

/* The BEAMS table: n rows of bmaj, bmin (arcsec), bpa (deg), chan, pol. */
static int read_beams(const char *path, float *bmaj, float *bmin, float *bpa, int *chan,
                      int *pol, int max)
{
    fitsfile *fp;
    int status = 0, anynul = 0;
    long n = 0;
    fits_open_file(&fp, path, READONLY, &status);
    fits_movnam_hdu(fp, BINARY_TBL, "BEAMS", 0, &status);
    fits_get_num_rows(fp, &n, &status);
    assert_int_equal(status, 0);
    assert_true(n <= max);
    long nchan = 0, npol = 0;
    fits_read_key_lng(fp, "NCHAN", &nchan, NULL, &status);
    fits_read_key_lng(fp, "NPOL", &npol, NULL, &status);
    assert_int_equal(nchan * npol, n);
    fits_read_col(fp, TFLOAT, 1, 1, 1, n, NULL, bmaj, &anynul, &status);
    fits_read_col(fp, TFLOAT, 2, 1, 1, n, NULL, bmin, &anynul, &status);
    fits_read_col(fp, TFLOAT, 3, 1, 1, n, NULL, bpa, &anynul, &status);
    fits_read_col(fp, TINT, 4, 1, 1, n, NULL, chan, &anynul, &status);
    fits_read_col(fp, TINT, 5, 1, 1, n, NULL, pol, &anynul, &status);
    char unit[FLEN_VALUE] = "";
    fits_read_key_str(fp, "TUNIT1", unit, NULL, &status);
    assert_string_equal(unit, "arcsec");
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    return (int)n;
}

/* Angle difference modulo 180 degrees. */
static double pa_diff(double a, double b)
{
    double d = fmod(fabs(a - b), 180.0);
    return d > 90 ? 180 - d : d;
}

/*
 * Least-squares Gaussian fit of a PSF plane's main lobe: ln P over the
 * pixels near the centre where P > 0.35 as a quadratic form of (l east,
 * m north), solved from its normal equations; the beam through
 * img__beam_of (exp(-2 pi^2 x^T M x)).
 */
static img__beam fit_main_lobe(const float *plane, int nx, int ny, double cell_rad)
{
    double A[3][3] = {{0}}, y[3] = {0};
    for (int j = ny / 2 - 12; j <= ny / 2 + 12; j++)
        for (int i = nx / 2 - 12; i <= nx / 2 + 12; i++) {
            double P = plane[(size_t)j * (size_t)nx + (size_t)i];
            if (!(P > 0.35)) continue;
            double l = (nx / 2 - i) * cell_rad, m = (j - ny / 2) * cell_rad;
            double x[3] = {l * l, 2 * l * m, m * m}, t = -log(P);
            for (int a = 0; a < 3; a++) {
                y[a] += x[a] * t;
                for (int b = 0; b < 3; b++) A[a][b] += x[a] * x[b];
            }
        }
    /* Cramer's rule on the 3 x 3 system */
    double det = A[0][0] * (A[1][1] * A[2][2] - A[1][2] * A[2][1]) -
                 A[0][1] * (A[1][0] * A[2][2] - A[1][2] * A[2][0]) +
                 A[0][2] * (A[1][0] * A[2][1] - A[1][1] * A[2][0]);
    double s[3];
    for (int k = 0; k < 3; k++) {
        double B[3][3];
        memcpy(B, A, sizeof B);
        for (int a = 0; a < 3; a++) B[a][k] = y[a];
        s[k] = (B[0][0] * (B[1][1] * B[2][2] - B[1][2] * B[2][1]) -
                B[0][1] * (B[1][0] * B[2][2] - B[1][2] * B[2][0]) +
                B[0][2] * (B[1][0] * B[2][1] - B[1][1] * B[2][0])) / det;
    }
    /* -ln P = 2 pi^2 (Muu l^2 + 2 Muv l m + Mvv m^2) */
    const double k = 2 * M_PI * M_PI;
    double sums[4] = {1, s[0] / k, s[2] / k, s[1] / k};
    return img__beam_of(sums);
}

/* The analytic beam of channel c: the PSF of Gaussian uv samples is the
 * Gaussian whose sigma along the uv minor axis is 1 / (2 pi sigma_min). */
static img__beam analytic(int c)
{
    const double lam = C_LIGHT / freq_of(c), deg = 180 / M_PI, fw = 2 * sqrt(2 * log(2.0));
    img__beam b = {fw / (2 * M_PI * SIG_MIN / lam) * deg, fw / (2 * M_PI * SIG_MAJ / lam) * deg,
                   THETA_DEG - 90};
    return b;
}

/* BMAJ, BMIN, BPA of every product equal the analytic Gaussian within the
 * sampling error of 20000 uv points (2%), and the least-squares fit of
 * the PSF cube's main lobe within 4%; the BEAMS table has one row per
 * channel, scaling as 1/frequency; STOKES is I (1). */
static void test_beam_gaussian_psf(void **state)
{
    fixture *f = *state;
    char out[700], path[800];
    snprintf(out, sizeof out, "%s/out_i", f->dir);
    run_imager(f->vis, out, IMG_STOKES_I);
    static const char *const prods[] = {"dirty.fits", "psf.fits"};
    hdr_beam h0 = {0};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", out, prods[k]);
        hdr_beam h = read_header(path);
        if (k == 0) h0 = h;
        assert_true(h.bmaj == h0.bmaj && h.bmin == h0.bmin && h.bpa == h0.bpa);
        assert_int_equal(h.casambm, 1);
        assert_true(h.crval4 == 1); /* Stokes I */
    }
    /* the header's beam: the middle channel's */
    img__beam a = analytic(NCHAN / 2);
    print_message("  header beam %.4f\" x %.4f\" PA %.2f; analytic %.4f\" x %.4f\" PA %.2f\n",
                  h0.bmaj * 3600, h0.bmin * 3600, h0.bpa, a.bmaj * 3600, a.bmin * 3600, a.bpa);
    assert_true(fabs(h0.bmaj / a.bmaj - 1) < 0.02);
    assert_true(fabs(h0.bmin / a.bmin - 1) < 0.02);
    assert_true(pa_diff(h0.bpa, a.bpa) < 2);

    float bmaj[16], bmin[16], bpa[16];
    int chan[16], pol[16];
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    int n = read_beams(path, bmaj, bmin, bpa, chan, pol, 16);
    assert_int_equal(n, NCHAN);
    for (int i = 0; i < n; i++) {
        assert_int_equal(chan[i], i);
        assert_int_equal(pol[i], 0);
        img__beam ai = analytic(i);
        assert_true(fabs(bmaj[i] / 3600 / ai.bmaj - 1) < 0.02);
        assert_true(fabs(bmin[i] / 3600 / ai.bmin - 1) < 0.02);
        /* the same uv points at another frequency: the beam scales as 1/f */
        assert_true(fabs(bmaj[i] / bmaj[0] - freq_of(0) / freq_of(i)) < 1e-4);
        assert_true(pa_diff(bpa[i], bpa[0]) < 0.05); /* a few samples leave the grid */
    }
    assert_true(fabs(bmaj[NCHAN / 2] / 3600 - h0.bmaj) < 1e-6 * h0.bmaj);

    /* the PSF cube's main lobe, fitted by least squares */
    long nn[4];
    snprintf(path, sizeof path, "%s/psf.fits", out);
    float *psf = tu_read_cube(path, nn);
    assert_non_null(psf);
    assert_int_equal(nn[3], 1);
    for (int c = 0; c < NCHAN; c++) {
        img__beam fit = fit_main_lobe(psf + (size_t)c * NX * NX, NX, NX,
                                      CELL_AS * M_PI / 180 / 3600);
        print_message("  chan %d: fitted main lobe %.4f\" x %.4f\" PA %.2f, header %.4f\" x "
                      "%.4f\" PA %.2f\n", c, fit.bmaj * 3600, fit.bmin * 3600, fit.bpa,
                      (double)bmaj[c], (double)bmin[c], (double)bpa[c]);
        assert_true(fabs(fit.bmaj * 3600 / bmaj[c] - 1) < 0.04);
        assert_true(fabs(fit.bmin * 3600 / bmin[c] - 1) < 0.04);
        assert_true(pa_diff(fit.bpa, bpa[c]) < 3);
    }
    free(psf);
}

/* XX,YY: two planes on the STOKES axis -5, -6. Equal weights and flags
 * in both: one BEAMS row per channel (NPOL 1, what spectral-cube reads);
 * YY flagged on short baselines: a row per channel and pol, pol-major,
 * YY's beam the narrower. */
static void test_beams_table_pols(void **state)
{
    fixture *f = *state;
    char out[700], path[800];
    snprintf(out, sizeof out, "%s/out_xxyy", f->dir);
    run_imager(f->vis, out, IMG_STOKES_XXYY);
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    hdr_beam h = read_header(path);
    assert_true(h.crval4 == -5 && h.cdelt4 == -1);
    float bmaj[16], bmin[16], bpa[16];
    int chan[16], pol[16];
    int n = read_beams(path, bmaj, bmin, bpa, chan, pol, 16);
    assert_int_equal(n, NCHAN);
    for (int i = 0; i < n; i++) {
        assert_int_equal(chan[i], i);
        assert_int_equal(pol[i], 0);
    }
    snprintf(out, sizeof out, "%s/out_yy", f->dir);
    run_imager(f->vis_yy, out, IMG_STOKES_XXYY);
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    n = read_beams(path, bmaj, bmin, bpa, chan, pol, 16);
    assert_int_equal(n, 2 * NCHAN);
    for (int i = 0; i < n; i++) {
        assert_int_equal(chan[i], i % NCHAN);
        assert_int_equal(pol[i], i / NCHAN);
        if (i >= NCHAN) assert_true(bmaj[i] < 0.95f * bmaj[i - NCHAN]);
    }
    print_message("  XX %.4f\" x %.4f\", YY flagged on short baselines %.4f\" x %.4f\"\n",
                  (double)bmaj[0], (double)bmin[0], (double)bmaj[NCHAN], (double)bmin[NCHAN]);
    /* Stokes I needs both: only the rows where YY is unflagged */
    snprintf(out, sizeof out, "%s/out_yy_i", f->dir);
    run_imager(f->vis_yy, out, IMG_STOKES_I);
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    n = read_beams(path, bmaj + 8, bmin + 8, bpa + 8, chan, pol, 8);
    assert_int_equal(n, NCHAN);
    assert_true(fabs(bmaj[8] / bmaj[NCHAN] - 1) < 1e-5);
    /* Q = (XX - YY) / 2 of a source with XX = YY: an empty image, with a beam */
    snprintf(out, sizeof out, "%s/out_q", f->dir);
    run_imager(f->vis, out, IMG_STOKES_Q);
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    h = read_header(path);
    assert_true(h.crval4 == 2 && h.bmaj > 0);
}

/* spectral-cube (Debian's python3-spectral-cube) opens the cubes with a
 * beam and the Stokes axis; skipped, saying so, where it is not installed. */
static void test_spectral_cube(void **state)
{
    fixture *f = *state;
    if (tu_run(NULL, "/usr/bin/python3 -c 'import spectral_cube' 2>/dev/null") != 0) {
        print_message("  SKIPPED: python3-spectral-cube is not installed "
                      "(apt-get install python3-spectral-cube)\n");
        skip();
    }
    char script[4096], *txt = NULL;
    snprintf(script, sizeof script, "%s/tests/spectral_cube_check.py", srcdir());
    int rc = tu_run(&txt, "/usr/bin/python3 '%s' '%s/out_i' '%s/out_xxyy' 2>&1", script,
                    f->dir, f->dir);
    if (rc) print_error("%s\n", txt);
    assert_int_equal(rc, 0);
    print_message("%s", txt);
    assert_true(tu_contains(txt, "ok"));
    free(txt);
}

/* The stats: metric name's value, and software-defined event name's. */
static double stat_of(const char *stats, const char *metric, const char *sde, int *ranks)
{
    json_error_t err;
    json_t *st = json_load_file(stats, 0, &err);
    if (!st) print_error("%s: %s\n", stats, err.text);
    assert_non_null(st);
    double v = -1;
    size_t i;
    json_t *m;
    if (metric)
        json_array_foreach(json_object_get(st, "metrics"), i, m)
            if (!strcmp(json_string_value(json_object_get(m, "name")), metric))
                v = json_number_value(json_object_get(m, "value"));
    if (sde)
        json_array_foreach(json_object_get(json_object_get(st, "counters"), "sde"), i, m)
            if (!strcmp(json_string_value(json_object_get(m, "name")), sde))
                v = json_number_value(json_object_get(m, "value"));
    if (ranks) *ranks = (int)json_integer_value(json_object_get(json_object_get(st, "counters"),
                                                               "ranks"));
    json_decref(st);
    return v;
}

/* A mosaic (the imager binary, on a generated ALMA mosaic, 1 and 2
 * ranks): bytes_written counts all four products, and each has a beam. */
static void test_mosaic_products(void **state)
{
    fixture *f = *state;
    char *txt = NULL;
    int rc = tu_run(&txt, "'%s' gen --dataset alma-x2e3 --scale 0.0005 --chans 4 --image 64 "
                    "--out '%s/mos' --datasets-dir '%s/workloads/datasets'", tu_bin("harness"),
                    f->dir, srcdir());
    if (rc) print_error("%s\n", txt);
    assert_int_equal(rc, 0);
    free(txt);
    static const char *const prods[] = {"dirty.fits", "weight.fits", "pb.fits", "mosaic.fits"};
    double ref = -1;
    for (int np = 1; np <= 2; np++) {
        char out[700], path[800];
        snprintf(out, sizeof out, "%s/mos_out%d", f->dir, np);
        /* as test_parallel.c runs mpirun (see its MPIRUN) */
        rc = tu_run(&txt, "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
                    "PMIX_MCA_psec=\"${PMIX_MCA_psec:-native}\" timeout -k 5 120 mpirun "
                    "--allow-run-as-root --oversubscribe --mca btl self,vader --mca pml ob1 "
                    "-x IMBENCH_FFTW_WISDOM -x ASAN_OPTIONS -np %d '%s' --vis '%s/mos' "
                    "--out '%s' --gridder mosaic --stats '%s/stats.json' --quiet",
                    np, tu_bin("imager"), f->dir, out, out);
        if (rc) print_error("%s\n", txt);
        assert_int_equal(rc, 0);
        free(txt);
        snprintf(path, sizeof path, "%s/stats.json", out);
        int ranks = 0;
        double files = stat_of(path, "bytes_written", NULL, NULL);
        double bw = stat_of(path, NULL, "bytes_written", &ranks);
        assert_int_equal(ranks, np);
        double data = 4.0 * 64 * 64 * 4 * 4; /* 4 products of 64 x 64 x 4 chans x I */
        print_message("  mosaic on %d rank(s): bytes_written %.0f (files %.0f)\n", np, bw, files);
        assert_true(bw > data && bw <= files && files - bw < 4 * 2880);
        if (ref < 0) ref = bw;
        assert_true(bw == ref);
        for (int k = 0; k < 4; k++) {
            snprintf(path, sizeof path, "%s/%s", out, prods[k]);
            hdr_beam h = read_header(path);
            assert_true(h.bmaj > 0 && h.bmin > 0 && h.bmin <= h.bmaj && h.crval4 == 1);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beam_gaussian_psf),
        cmocka_unit_test(test_beams_table_pols),
        cmocka_unit_test(test_spectral_cube),
        cmocka_unit_test(test_mosaic_products),
    };
    return cmocka_run_group_tests_name("outputs", tests, setup, teardown);
}
