/*
 * test_gridder.c: the imager against analytic answers and a direct DFT —
 * kernel values and grid correction, a point source at and off the phase
 * centre, dirty cubes vs DFT in float and double, PSF peak, invariance
 * under threads and chunks, weighting schemes, FITS headers, every bad
 * input the foundation issue names, table kernels (--oversample) within
 * their derived bounds, and the plan / execute / destroy lifecycle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fitsio.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imaging/imaging.h"
#include "imaging/internal.h"
#include "tests/testutil.h"

#define C_LIGHT 299792458.0

/* Cell such that the longest baseline at the top frequency is ~3 pixels
 * per fringe: computed like the generator does. */
static double cell_for(void) { return 0.25; }

static float *read_cube(const char *path, long n[4])
{
    float *c = tu_read_cube(path, n);
    assert_non_null(c);
    return c;
}

static int run_imager(img_params *p, img_result *r)
{
    ib_err e;
    ib_err_init(&e);
    p->quiet = 1;
    int rc = img_run(&e, p, r);
    if (rc) fprintf(stderr, "img_run: %s\n", e.msg);
    img_result_release(r);
    return rc;
}

typedef struct fixture {
    char *dir;
    char vis[512], out[512];
} fixture;

static int setup_point(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_mkdtemp("grid");
    snprintf(f->vis, sizeof f->vis, "%s/vis", f->dir);
    snprintf(f->out, sizeof f->out, "%s/out", f->dir);
    tu_store t = {.nant = 12, .ntime = 40, .nchan = 6, .npol = 2, .cell_arcsec = cell_for(),
                .nx = 128, .flag_frac = 0.0};
    double cell = t.cell_arcsec * M_PI / 180 / 3600;
    tu_src s[3] = {{1.0, 0, 0, 0}, {0.5, -9 * cell, 5 * cell, 0}, {0.3, 20.3 * cell, -14.6 * cell, 2.5 * cell}};
    assert_int_equal(tu_make_store(f->vis, &t, s, 1), 0);
    char vis2[600];
    snprintf(vis2, sizeof vis2, "%s/vis3", f->dir);
    t.flag_frac = 0.05;
    assert_int_equal(tu_make_store(vis2, &t, s, 3), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void test_kernel_values(void **state)
{
    (void)state;
    img_kernel k;
    ib_err e;
    assert_int_equal(img_kernel_init(&e, &k, 7, 1.5, 0), 0);
    assert_true(fabs(img_kernel_psi(&k, 0) - 1.0) < 1e-15);
    assert_true(fabs(img_kernel_psi(&k, 0.3) - img_kernel_psi(&k, -0.3)) < 1e-15);
    assert_true(fabs(img_kernel_psi(&k, 0.5) - exp(k.beta * (sqrt(0.75) - 1))) < 1e-15);
    assert_true(img_kernel_psi(&k, 1.2) == 0.0);
    double taps[IMG_MAX_SUPPORT];
    float tf[IMG_MAX_SUPPORT];
    double maxe = 0;
    for (int s = 0; s < 1000; s++) {
        double fr = s / 1000.0;
        img_kernel_taps(&k, fr, taps);
        img_kernel_taps_f(&k, (float)fr, tf);
        for (int i = 0; i < 7; i++) {
            double ex = img_kernel_psi(&k, (i - 3.5 + fr) / 3.5);
            maxe = fmax(maxe, fabs(taps[i] - ex));
            assert_true(fabs(tf[i] - ex) < 2e-6);
        }
    }
    assert_true(maxe <= exp(-k.beta) * 1.01);
    /* Kernel FT at 0 is the integral of psi over [-W/2, W/2]: midpoint rule. */
    double integ = 0;
    int N = 200000;
    for (int i = 0; i < N; i++) integ += img_kernel_psi(&k, -1 + (i + 0.5) * 2.0 / N);
    integ *= 7.0 / N;
    assert_true(fabs(img_kernel_ft(&k, 0) - integ) < 1e-9);
    /* And at nu = 0.2: cos-weighted. */
    double integ2 = 0;
    for (int i = 0; i < N; i++) {
        double x = -1 + (i + 0.5) * 2.0 / N;
        integ2 += img_kernel_psi(&k, x) * cos(2 * M_PI * 0.2 * 3.5 * x);
    }
    integ2 *= 7.0 / N;
    assert_true(fabs(img_kernel_ft(&k, 0.2) - integ2) < 1e-9);
    img_kernel_release(&k);
    /* Large support is exact to round-off. */
    assert_int_equal(img_kernel_init(&e, &k, 51, 2.0, 0), 0);
    img_kernel_taps(&k, 0.37, taps);
    for (int i = 0; i < 51; i++)
        assert_true(fabs(taps[i] - img_kernel_psi(&k, (i - 25.5 + 0.37) / 25.5)) < 1e-12);
    img_kernel_release(&k);
    assert_int_equal(img_kernel_init(&e, &k, 4, 1.5, 0), IB_EINVAL);
    assert_true(tu_contains(e.msg, "support must be odd"));
    assert_int_equal(img_kernel_init(&e, &k, 53, 1.5, 0), IB_EINVAL);
    assert_int_equal(img_kernel_init(&e, &k, 7, 1.0, 0), IB_EINVAL);
    assert_true(tu_contains(e.msg, "padding"));
}

static void test_fft_sizes(void **state)
{
    (void)state;
    assert_int_equal(img_good_fft_size(190), 192);
    assert_int_equal(img_good_fft_size(901), 960);
    assert_int_equal(img_good_fft_size(1023), 1024);
    assert_int_equal(img_good_fft_size(11), 12);
}

static void test_point_source_centre(void **state)
{
    fixture *f = *state;
    img_params p;
    img_params_default(&p);
    p.vis_dir = f->vis;
    p.out_dir = f->out;
    p.psf = 1;
    p.stokes = IMG_STOKES_XXYY; /* the correlations, each its own plane */
    img_result r;
    assert_int_equal(run_imager(&p, &r), 0);
    char path[700];
    long n[4];
    snprintf(path, sizeof path, "%s/dirty.fits", f->out);
    float *d = read_cube(path, n);
    assert_int_equal(n[0], 128);
    assert_int_equal(n[1], 128);
    assert_int_equal(n[2], 6);
    assert_int_equal(n[3], 2);
    for (int c = 0; c < 6; c++)
        for (int pol = 0; pol < 2; pol++) {
            float *pl = d + ((size_t)pol * 6 + c) * 128 * 128;
            float v = pl[64 * 128 + 64];
            /* 1 Jy at the centre peaks at 1.0 (pol 1 carries 1.1). */
            assert_true(fabs(v - (pol ? 1.1 : 1.0)) < 2e-5);
            for (int i = 0; i < 128 * 128; i++) assert_true(pl[i] <= v + 1e-6);
        }
    free(d);
    snprintf(path, sizeof path, "%s/psf.fits", f->out);
    d = read_cube(path, n);
    for (int c = 0; c < 6 * 2; c++) assert_true(fabs(d[(size_t)c * 128 * 128 + 64 * 128 + 64] - 1.0) < 2e-5);
    free(d);
    assert_int_equal(r.samples_dropped, 0);
    assert_int_equal(r.samples_gridded, 66ull * 40 * 6 * 2);

    /* Stokes I (the default): (XX + YY) / 2 = 1.05 at the centre, one
     * plane, a sample per visibility; Q = (XX - YY) / 2 = -0.05. */
    const int sel[] = {IMG_STOKES_I, IMG_STOKES_Q, IMG_STOKES_YY};
    const double peak[] = {1.05, -0.05, 1.1};
    for (int k = 0; k < 3; k++) {
        img_params_default(&p);
        p.vis_dir = f->vis;
        p.out_dir = f->out;
        p.stokes = sel[k];
        assert_int_equal(run_imager(&p, &r), 0);
        snprintf(path, sizeof path, "%s/dirty.fits", f->out);
        d = read_cube(path, n);
        assert_int_equal(n[3], 1);
        for (int c = 0; c < 6; c++)
            assert_true(fabs(d[(size_t)c * 128 * 128 + 64 * 128 + 64] - peak[k]) < 2e-5);
        free(d);
        assert_int_equal(r.samples_gridded, 66ull * 40 * 6);
    }
    /* What the store cannot give is refused, naming the option and what it holds. */
    img_params_default(&p);
    p.vis_dir = f->vis;
    p.out_dir = f->out;
    p.stokes = IMG_STOKES_V;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(img_run(&e, &p, &r), IB_EINVAL);
    assert_true(tu_contains(e.msg, "--stokes: store"));
    assert_true(tu_contains(e.msg, "holds XX,YY, which cannot give V"));
    img_result_release(&r);
}

static void test_off_centre_source(void **state)
{
    fixture *f = *state;
    char vis[700];
    snprintf(vis, sizeof vis, "%s/vis_off", f->dir);
    tu_store t = {.nant = 10, .ntime = 30, .nchan = 2, .npol = 2, .cell_arcsec = cell_for(), .nx = 64};
    double cell = t.cell_arcsec * M_PI / 180 / 3600;
    /* +l is east = towards smaller x: 5 pixels east, 7 north. */
    tu_src s = {1.0, 5 * cell, 7 * cell, 0};
    assert_int_equal(tu_make_store(vis, &t, &s, 1), 0);
    img_params p;
    img_params_default(&p);
    p.vis_dir = vis;
    p.out_dir = f->out;
    p.dbl = 1;
    p.support = 11;
    img_result r;
    assert_int_equal(run_imager(&p, &r), 0);
    char path[700];
    long n[4];
    snprintf(path, sizeof path, "%s/dirty.fits", f->out);
    float *d = read_cube(path, n);
    int px = 32 - 5, py = 32 + 7;
    for (int c = 0; c < 2; c++) {
        float *pl = d + (size_t)c * 64 * 64;
        assert_true(fabs(pl[py * 64 + px] - 1.05) < 1e-6); /* I = (XX + YY) / 2 */
        int arg = 0;
        for (int i = 0; i < 64 * 64; i++)
            if (pl[i] > pl[arg]) arg = i;
        assert_int_equal(arg, py * 64 + px);
    }
    free(d);
}

static void check_dft_case(fixture *f, int support, int dbl, int weighting, double tol)
{
    char vis[700];
    snprintf(vis, sizeof vis, "%s/vis3", f->dir);
    img_params p;
    img_params_default(&p);
    p.vis_dir = vis;
    p.out_dir = f->out;
    p.support = support;
    p.dbl = dbl;
    p.weighting = weighting;
    p.robust = 0.5;
    p.check_dft = 60;
    p.threads = 2;
    img_result r;
    assert_int_equal(run_imager(&p, &r), 0);
    fprintf(stderr, "  W=%d %s weighting %d: dft max_rel_err %.2e rms %.2e\n", support,
            dbl ? "double" : "float", weighting, r.dft_max_rel_err, r.dft_rms_rel_err);
    assert_true(r.dft_max_rel_err >= 0);
    assert_true(r.dft_max_rel_err <= tol);
}

static void test_dft_float_w7(void **state) { check_dft_case(*state, 7, 0, IMG_WEIGHT_NATURAL, 1e-4); }
static void test_dft_double_w11(void **state) { check_dft_case(*state, 11, 1, IMG_WEIGHT_NATURAL, 1e-6); }
static void test_dft_double_w15(void **state) { check_dft_case(*state, 15, 1, IMG_WEIGHT_NATURAL, 1e-6); }
static void test_dft_uniform(void **state) { check_dft_case(*state, 7, 0, IMG_WEIGHT_UNIFORM, 1e-4); }
static void test_dft_briggs(void **state) { check_dft_case(*state, 9, 1, IMG_WEIGHT_BRIGGS, 1e-5); }

static void test_invariance(void **state)
{
    fixture *f = *state;
    char vis[700], out[700], path[800];
    snprintf(vis, sizeof vis, "%s/vis3", f->dir);
    const int th[] = {1, 2, 2, 1}, ch[] = {1, 3, 6, 4};
    float *ref = NULL;
    long n[4];
    for (int k = 0; k < 4; k++) {
        snprintf(out, sizeof out, "%s/inv%d", f->dir, k);
        img_params p;
        img_params_default(&p);
        p.vis_dir = vis;
        p.out_dir = out;
        p.threads = th[k];
        p.chunks = ch[k];
        img_result r;
        assert_int_equal(run_imager(&p, &r), 0);
        snprintf(path, sizeof path, "%s/dirty.fits", out);
        float *d = read_cube(path, n);
        if (!ref) {
            ref = d;
            continue;
        }
        assert_true(tu_max_rel_diff(ref, d, (size_t)(n[0] * n[1] * n[2] * n[3])) <= 1e-6);
        free(d);
    }
    free(ref);
}

static void test_fits_header(void **state)
{
    fixture *f = *state;
    img_params p;
    img_params_default(&p);
    p.vis_dir = f->vis;
    p.out_dir = f->out;
    img_result r;
    assert_int_equal(run_imager(&p, &r), 0);
    char path[700], val[FLEN_VALUE];
    snprintf(path, sizeof path, "%s/dirty.fits", f->out);
    fitsfile *fp;
    int status = 0;
    fits_open_file(&fp, path, READONLY, &status);
    const char *keys[] = {"CTYPE1", "CTYPE2", "CTYPE3", "CTYPE4", "BUNIT"};
    const char *want[] = {"'RA---SIN'", "'DEC--SIN'", "'FREQ    '", "'STOKES  '", "'Jy/beam '"};
    for (int i = 0; i < 5; i++) {
        fits_read_keyword(fp, keys[i], val, NULL, &status);
        assert_int_equal(status, 0);
        assert_string_equal(val, want[i]);
    }
    double d;
    fits_read_key_dbl(fp, "CDELT1", &d, NULL, &status);
    assert_true(fabs(d + cell_for() / 3600) < 1e-12);
    fits_read_key_dbl(fp, "CRVAL3", &d, NULL, &status);
    assert_true(fabs(d - 100e9) < 1);
    fits_read_key_dbl(fp, "CRVAL4", &d, NULL, &status);
    assert_true(d == 1); /* Stokes I */
    fits_read_key_dbl(fp, "CRPIX1", &d, NULL, &status);
    assert_true(d == 65);
    fits_close_file(fp, &status);
    assert_int_equal(status, 0);
    /* No temporary left behind. */
    snprintf(path, sizeof path, "%s/dirty.fits.tmp", f->out);
    assert_int_equal(access(path, F_OK), -1);
    /* astropy reads it with the right axes and the peak at the centre. */
    char *out = NULL;
    int rc = tu_run(&out,
                    "/usr/bin/python3 -c \"from astropy.io import fits; from astropy.wcs import WCS; "
                    "h=fits.open('%s/dirty.fits'); w=WCS(h[0].header); "
                    "print(h[0].data.shape, w.wcs.ctype[0], w.wcs.ctype[3], round(float(h[0].data[0,0,64,64]),4))\"",
                    f->out);
    assert_int_equal(rc, 0);
    assert_true(tu_contains(out, "(1, 6, 128, 128) RA---SIN STOKES 1.05"));
    free(out);
}

static void test_bad_inputs(void **state)
{
    fixture *f = *state;
    char path[700], cmd[4000];
    char *out = NULL;
    const char *imager = tu_bin("imager");
    /* Missing store. */
    assert_int_equal(tu_run(&out, "%s --vis %s/nothere --out %s", imager, f->dir, f->out), 1);
    assert_true(tu_contains(out, "nothere/vis.h5': no such file"));
    free(out);
    /* Not HDF5 at all. */
    snprintf(path, sizeof path, "%s/junk", f->dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && echo hello > %s/vis.h5", path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s", imager, path, f->out), 1);
    assert_true(tu_contains(out, "junk/vis.h5': not a readable HDF5 file"));
    free(out);
    /* Truncated. */
    snprintf(path, sizeof path, "%s/trunc", f->dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && head -c 20000 %s/vis.h5 > %s/vis.h5", path, f->vis, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s", imager, path, f->out), 1);
    assert_true(tu_contains(out, "trunc/vis.h5'"));
    free(out);
    /* Corrupt bytes inside the visibility data: the checksum catches it. */
    snprintf(path, sizeof path, "%s/corrupt", f->dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && cp %s/vis.h5 %s/vis.h5 && sz=$(stat -c %%s %s/vis.h5) && "
             "printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of=%s/vis.h5 bs=1 seek=$((sz*2/3)) conv=notrunc 2>/dev/null",
             path, f->vis, path, path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s", imager, path, f->out), 1);
    assert_true(tu_contains(out, "corrupt/vis.h5': dataset '/"));
    free(out);
    /* Wrong shape: /flag_bits replaced by a dataset of another size. */
    snprintf(path, sizeof path, "%s/shape", f->dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s/vis.h5 %s/vis.h5", path, f->vis, path);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/vis.h5", path);
    hid_t fid = H5Fopen(cmd, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(fid >= 0);
    H5Ldelete(fid, "flag_bits", H5P_DEFAULT);
    hsize_t dims[1] = {5};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(fid, "flag_bits", H5T_NATIVE_UINT8, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Fclose(fid);
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s", imager, path, f->out), 1);
    assert_true(tu_contains(out, "shape/vis.h5': dataset '/flag_bits' has the wrong shape"));
    free(out);
    /* Bad parameters: exit 2, option named. */
    struct { const char *args, *msg; } bad[] = {
        {"--support 4", "option '--support': support must be odd, got 4"},
        {"--support 53", "option '--support': support must be in 3..51, got 53"},
        {"--image 0", "'--image'"},
        {"--image 101x100", "'--image'"},
        {"--weight fancy", "'--weight'"},
        {"--weight briggs:9", "briggs:R with R in [-2, 2], got 'briggs:9'"},
        {"--threads 0", "'--threads'"},
        {"--padding 0.9", "'--padding'"},
        {"--precision half", "'--precision'"},
        {"--gridder wide", "'--gridder'"},
        {"--bogus 1", "unknown option '--bogus'"},
        {"--support seven", "support must be an odd integer in 3..51, got 'seven'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tu_run(&out, "%s --vis %s --out %s %s", imager, f->vis, f->out, bad[i].args), 2);
        if (!tu_contains(out, bad[i].msg)) fprintf(stderr, "for %s got: %s\n", bad[i].args, out);
        assert_true(tu_contains(out, bad[i].msg));
        free(out);
    }
    /* The CLI check prints the DFT line last. */
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s --threads 2 --check-dft 16", imager, f->vis, f->out), 0);
    const char *last = strstr(out, "dft max_rel_err ");
    assert_non_null(last);
    assert_true(strchr(last, '\n') == last + strlen(last) - 1);
    assert_true(atof(last + 16) < 1e-4);
    free(out);
}

/*
 * Table kernels (--oversample K). Tap i of a sample at fraction frac reads
 * psi at the table node nearest its position, round((i + frac) K) / K:
 * the taps are the exact kernel's for a sample moved by at most half a
 * node, 1/(2K) cells, along each axis (all taps by the same amount, but
 * at exact ties). Each tap is then within max|psi'| / (2K) of psi, and
 * the float taps are the nodes of the float position, rounded.
 */
static void test_kernel_table(void **state)
{
    (void)state;
    const int K[3] = {2, 10, 100}, W = 7;
    for (int n = 0; n < 3; n++) {
        img_kernel k;
        ib_err e;
        assert_int_equal(img_kernel_init(&e, &k, W, 1.5, K[n]), 0);
        assert_int_equal(k.oversample, K[n]);
        assert_non_null(k.table);
        /* max |dpsi/dt| in cells, by central differences on a fine grid */
        double slope = 0, h = 1e-5;
        for (int i = 1; i < 100000; i++) {
            double t = -0.5 * W + W * i / 100000.0;
            double d = (img_kernel_psi(&k, (t + h) / (0.5 * W)) -
                        img_kernel_psi(&k, (t - h) / (0.5 * W))) / (2 * h);
            slope = fmax(slope, fabs(d));
        }
        double taps[IMG_MAX_SUPPORT];
        float tf[IMG_MAX_SUPPORT];
        for (int s = 0; s <= 1000; s++) {
            double fr = s < 1000 ? s / 1000.0 : 0.99999; /* up to the last node */
            img_kernel_taps(&k, fr, taps);
            img_kernel_taps_f(&k, (float)fr, tf);
            for (int i = 0; i < W; i++) {
                /* the table node nearest the tap, for the double and the
                 * float position: psi there, to the last bit */
                double q = (double)lround((i + fr) * K[n]) / K[n];
                double qf = (double)lround((i + (double)(float)fr) * K[n]) / K[n];
                assert_true(fabs(q - (i + fr)) <= 0.5 / K[n] + 1e-12);
                double node = img_kernel_psi(&k, (q - 0.5 * W) / (0.5 * W));
                double node_f = img_kernel_psi(&k, (qf - 0.5 * W) / (0.5 * W));
                double exact = img_kernel_psi(&k, (i - 0.5 * W + fr) / (0.5 * W));
                assert_true(fabs(taps[i] - node) <= 1e-15);
                assert_true(fabs(taps[i] - exact) <= slope * 1.001 / (2 * K[n]) + 1e-15);
                assert_true(fabs(tf[i] - node_f) <= 1e-7 * node_f + 1e-30);
            }
        }
        img_kernel_release(&k);
    }
    /* A table needs two samples per cell at least: 1 is refused, as is
     * anything negative or past the limit; the message names the range. */
    img_kernel k;
    ib_err e;
    const int bad[4] = {1, -1, -100, IMG_MAX_OVERSAMPLE + 1};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(img_kernel_init(&e, &k, W, 1.5, bad[i]), IB_EINVAL);
        assert_true(tu_contains(e.msg, "oversample must be 0 (polynomial taps) or 2..100000"));
    }
}

/*
 * A table kernel against the direct DFT, and the bound it must meet. By
 * the displacement above, a sample gridded with table taps is a sample
 * gridded exactly at a position off by |du|, |dv| <= 1/(2K) cells, so at
 * a pixel nu = (nu_x, nu_y) cycles per cell from the image centre its
 * term is off in phase by 2 pi (du nu_x + dv nu_y), at most
 * pi (|nu_x| + |nu_y|) / K in magnitude per unit of visibility. Summed
 * over the weighted samples the pixel's error is at most that times
 * sum w |V| / sum w; for one point source at the phase centre |V| is the
 * same for every sample and equals the plane's peak. Relative to the peak
 * the error is thus at most pi (nx/2/ngx + ny/2/ngy) / K, plus the exact
 * kernel's own error (1e-4 in float at W = 7, as test_dft_float_w7). The
 * bound is the worst case, every sample's phase error in step; the errors
 * are in fact pseudo-random across samples and the measured ones are
 * about 100 times smaller, and they shrink as 1/K, which the test also
 * asserts (a factor 5 of the 10 expected from K = 10 to 100).
 */
static double table_bound(const img_result *r, int K)
{
    double nux = 0.5 * r->nx / r->ngx, nuy = 0.5 * r->ny / r->ngy;
    return M_PI * (nux + nuy) / K + 1e-4;
}

static double dft_err(fixture *f, int K, int dbl, img_result *r)
{
    img_params p;
    img_params_default(&p);
    p.vis_dir = f->vis; /* one 1 Jy point source at the phase centre */
    p.out_dir = f->out;
    p.oversample = K;
    p.dbl = dbl;
    p.check_dft = 60;
    p.threads = 2;
    p.psf = 1;
    assert_int_equal(run_imager(&p, r), 0);
    fprintf(stderr, "  oversample %d %s: dft max_rel_err %.2e (bound %.2e)\n", K,
            dbl ? "double" : "float", r->dft_max_rel_err, K ? table_bound(r, K) : 0.0);
    /* The PSF's centre pixel is the weights' sum over itself: 1 with any
     * kernel, the displacement having no effect at nu = 0. */
    char path[700];
    long n[4];
    snprintf(path, sizeof path, "%s/psf.fits", f->out);
    float *d = read_cube(path, n);
    for (long c = 0; c < n[2] * n[3]; c++)
        assert_true(fabs(d[(size_t)c * (size_t)(n[0] * n[1]) + (size_t)(n[1] / 2 * n[0] + n[0] / 2)] -
                         1.0) < 2e-5);
    free(d);
    return r->dft_max_rel_err;
}

static void test_dft_table(void **state)
{
    fixture *f = *state;
    img_result r0, r10, r100, r100d;
    double e0 = dft_err(f, 0, 0, &r0), e10 = dft_err(f, 10, 0, &r10);
    double e100 = dft_err(f, 100, 0, &r100), e100d = dft_err(f, 100, 1, &r100d);
    assert_true(e10 <= table_bound(&r10, 10));
    assert_true(e100 <= table_bound(&r100, 100));
    assert_true(e100d <= table_bound(&r100d, 100));
    /* the table is in use and converges as 1/K */
    assert_true(e100 > e0);
    assert_true(e10 >= 5 * e100);
    assert_true(fabs(e100d - e100) < 0.1 * e100); /* the table's error, not float's */
}

/* The same through the imager program: --oversample 100 meets its bound,
 * --oversample 1 is refused naming the option and the range. */
static void test_imager_oversample(void **state)
{
    fixture *f = *state;
    const char *imager = tu_bin("imager");
    char *out = NULL;
    const int K[2] = {10, 100};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tu_run(&out, "%s --vis %s --out %s --threads 2 --oversample %d "
                                "--check-dft 60", imager, f->vis, f->out, K[i]), 0);
        const char *last = strstr(out, "dft max_rel_err ");
        assert_non_null(last);
        /* 128 x 128 image on a 192 x 192 grid */
        assert_true(atof(last + 16) <= M_PI * (64.0 / 192 + 64.0 / 192) / K[i] + 1e-4);
        assert_true(atof(last + 16) > 1e-5); /* the table, not the polynomials */
        free(out);
    }
    const char *bad[3] = {"1", "-3", "100001"};
    for (int i = 0; i < 3; i++) {
        /* a usage error (exit 2), in the parameter table's words */
        assert_int_equal(tu_run(&out, "%s --vis %s --out %s --oversample %s", imager, f->vis,
                                f->out, bad[i]), 2);
        if (!tu_contains(out, "oversample must be 0 or in 2..100000"))
            fprintf(stderr, "for --oversample %s got: %s\n", bad[i], out);
        assert_true(tu_contains(out, "oversample must be 0 or in 2..100000"));
        free(out);
    }
}

/* Is dir missing or empty? */
static int dir_empty(const char *dir)
{
    char *out = NULL;
    int rc = tu_run(&out, "ls -A '%s' 2>/dev/null | wc -l", dir);
    int empty = rc == 0 && atoi(out) == 0;
    free(out);
    return empty;
}

/*
 * Plan, execute, destroy: a plan is made before any output exists and
 * leaves nothing when destroyed unexecuted (its spill directory removed);
 * it can be executed twice, each time writing the cube img_run writes;
 * a plan that cannot be made is NULL with the reason; destroying NULL is
 * a no-op.
 */
static void test_plan_lifecycle(void **state)
{
    fixture *f = *state;
    char out[700], path[800];
    snprintf(out, sizeof out, "%s/plan", f->dir);
    img_plan_destroy(NULL);
    img_params p;
    img_params_default(&p);
    p.vis_dir = f->vis;
    p.out_dir = out;
    p.threads = 2;
    p.psf = 1;
    p.mem_budget = 64u << 20; /* a spill directory, made by the plan */
    p.quiet = 1;
    ib_err e;
    ib_err_init(&e);
    img_plan *pl = NULL;
    assert_int_equal(img_plan_create(&e, &p, &pl), 0);
    assert_non_null(pl);
    snprintf(path, sizeof path, "%s/spill", out);
    assert_int_equal(access(path, F_OK), 0);
    img_plan_destroy(pl);
    assert_true(dir_empty(out));
    /* the same run through img_run, then a plan executed twice */
    img_result r;
    assert_int_equal(img_run(&e, &p, &r), 0);
    snprintf(path, sizeof path, "%s/dirty.fits", out);
    size_t n0, n1, n2;
    char *c0 = tu_slurp(path, &n0);
    assert_non_null(c0);
    uint64_t samples = r.samples_gridded;
    img_result_release(&r);
    assert_int_equal(img_plan_create(&e, &p, &pl), 0);
    assert_int_equal(img_plan_execute(&e, pl, &r), 0);
    assert_int_equal(r.samples_gridded, samples);
    img_result_release(&r);
    char *c1 = tu_slurp(path, &n1);
    assert_int_equal(img_plan_execute(&e, pl, &r), 0);
    assert_int_equal(r.samples_gridded, samples);
    assert_int_equal(r.nranks, 1);
    img_result_release(&r);
    char *c2 = tu_slurp(path, &n2);
    img_plan_destroy(pl);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_true(n0 == n1 && n1 == n2);
    assert_memory_equal(c0, c1, n0);
    assert_memory_equal(c0, c2, n0);
    free(c0);
    free(c1);
    free(c2);
    /* a budget that cannot hold the working set: no plan, nothing left */
    snprintf(out, sizeof out, "%s/plan-small", f->dir);
    p.out_dir = out;
    p.mem_budget = 1000;
    pl = (img_plan *)&p; /* must be reset */
    assert_int_equal(img_plan_create(&e, &p, &pl), IB_EINVAL);
    assert_null(pl);
    assert_true(tu_contains(e.msg, "cannot hold the minimum working set"));
    assert_true(dir_empty(out));
    p.mem_budget = 0;
    p.threads = 0;
    assert_int_equal(img_plan_create(&e, &p, &pl), IB_EINVAL);
    assert_null(pl);
    assert_true(tu_contains(e.msg, "--threads must be 1..1024"));
}

/* The imager's row order (baseline, then time, then row) from the linear
 * sort equals qsort's: rows in time order, a baseline whose times go back,
 * equal times, antenna numbers past nant (qsort fallback), no rows. */
static int cmp_key(const void *pa, const void *pb)
{
    const img__row_key *a = pa, *b = pb;
    if (a->a1 != b->a1) return a->a1 < b->a1 ? -1 : 1;
    if (a->a2 != b->a2) return a->a2 < b->a2 ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
}

static void test_row_order(void **state)
{
    (void)state;
    enum { NANT = 7, NT = 300 };
    const size_t n = (size_t)NT * NANT * (NANT - 1) / 2;
    img__row_key *k = malloc(sizeof *k * n), *want = malloc(sizeof *k * n);
    assert_non_null(k);
    assert_non_null(want);
    for (int variant = 0; variant < 3; variant++) {
        size_t i = 0;
        for (int t = 0; t < NT; t++)
            for (int a = 0; a < NANT; a++)
                for (int b = a + 1; b < NANT; b++, i++) {
                    double tt = (double)(t / 2); /* pairs of equal times */
                    if (variant >= 1 && a == 2 && b == 5) tt = (double)((t * 37) % NT); /* not in order */
                    k[i] = (img__row_key){a, b, tt, (int64_t)i};
                }
        memcpy(want, k, sizeof *k * n);
        qsort(want, n, sizeof *want, cmp_key);
        /* variant 2: antennas numbered past the nant given: qsort's path */
        assert_int_equal(img__sort_rows(k, n, variant == 2 ? NANT - 2 : NANT), 0);
        for (size_t j = 0; j < n; j++) assert_int_equal(k[j].r, want[j].r);
    }
    assert_int_equal(img__sort_rows(k, 0, NANT), 0);
    free(k);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_values),
        cmocka_unit_test(test_row_order),
        cmocka_unit_test(test_fft_sizes),
        cmocka_unit_test(test_point_source_centre),
        cmocka_unit_test(test_off_centre_source),
        cmocka_unit_test(test_dft_float_w7),
        cmocka_unit_test(test_dft_double_w11),
        cmocka_unit_test(test_dft_double_w15),
        cmocka_unit_test(test_dft_uniform),
        cmocka_unit_test(test_dft_briggs),
        cmocka_unit_test(test_invariance),
        cmocka_unit_test(test_fits_header),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_kernel_table),
        cmocka_unit_test(test_dft_table),
        cmocka_unit_test(test_imager_oversample),
        cmocka_unit_test(test_plan_lifecycle),
    };
    return cmocka_run_group_tests_name("gridder", tests, setup_point, teardown);
}
