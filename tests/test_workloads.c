/*
 * test_workloads.c: the workloads module — seed dataset specs, the strict
 * spec parser and its messages, scale arithmetic, and the generator
 * checked against closed forms (a point source at the phase centre is
 * 1+0i, an offset one has the DFT phase, uv tracks are ellipses, mosaic
 * pointings are hexagonal), determinism across thread counts, and
 * `harness gen` end to end.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imaging/imaging.h"
#include "tests/testutil.h"
#include "workloads/workloads.h"

#define C_LIGHT 299792458.0
#define ARCSEC (M_PI / (180.0 * 3600.0))

static void load(const char *name, wl_dataset *ds)
{
    ib_err e;
    ib_err_init(&e);
    int rc = wl_dataset_find(&e, name, NULL, ds);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
}

/* ---- seed specs ---------------------------------------------------- */

static void test_seed_specs(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum wl_telescope tel;
        enum wl_gridder grid;
        int64_t rows, time, bl, chan;
        int nx, ny;
        double vol;
        int nchunks;
        int64_t chunk0;
        double dish;
        int corr0;
    } want[] = {
        {"alma-x2e3", WL_TEL_ACA, WL_GRIDDER_MOSAIC, 100284, 2564, 53, 2048, 400, 500, 30e9, 4,
         512, 7, -5},
        {"alma-x1a36", WL_TEL_ACA, WL_GRIDDER_MOSAIC, 31020, 564, 55, 1025, 600, 1000, 31e9, 4,
         205, 7, -5},
        {"alma-xc66", WL_TEL_ALMA, WL_GRIDDER_STANDARD, 315831, 455, 745, 7635, 600, 600, 248e9,
         5, 509, 12, -5},
        {"alma-x3be", WL_TEL_ALMA, WL_GRIDDER_MOSAIC, 646418, 729, 1159, 3853, 1000, 1000,
         304e9, 5, 241, 12, -5},
        {"vla-chiles", WL_TEL_VLA, WL_GRIDDER_STANDARD, 727272, 2072, 351, 30720, 1000, 1000,
         2.5e12, 2, 3840, 25, -1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        wl_dataset ds;
        load(want[i].name, &ds);
        assert_string_equal(ds.name, want[i].name);
        assert_int_equal(ds.telescope, want[i].tel);
        assert_int_equal(ds.gridder, want[i].grid);
        assert_int_equal(ds.rows, want[i].rows);
        assert_int_equal(ds.ntime, want[i].time);
        assert_int_equal(ds.nbaseline, want[i].bl);
        assert_int_equal(ds.nchan, want[i].chan);
        assert_int_equal(ds.npol, 2);
        assert_int_equal(ds.image_nx, want[i].nx);
        assert_int_equal(ds.image_ny, want[i].ny);
        assert_true(fabs(ds.volume_bytes - want[i].vol) < 1);
        assert_int_equal(ds.nchunks, want[i].nchunks);
        assert_int_equal(ds.chunks[0], want[i].chunk0);
        assert_true(ds.dish_m == want[i].dish);
        assert_int_equal(ds.corr[0], want[i].corr0);
        assert_int_equal(ds.corr[1], want[i].corr0 - 1);
        assert_true(ds.freq_start_hz > 0 && ds.chan_width_hz > 0 && ds.duration_s > 0);
        assert_true(ds.rows <= ds.ntime * ds.nbaseline);
        if (ds.gridder == WL_GRIDDER_STANDARD) assert_int_equal(ds.npointing, 1);
        else assert_true(ds.npointing > 1);
    }
    wl_dataset ds;
    load("alma-x1a36", &ds);
    assert_int_equal(ds.npointing, 141);
    assert_int_equal(ds.npointing_assumed, 0);
    load("alma-x2e3", &ds);
    assert_int_equal(ds.execution_blocks, 9);
    assert_int_equal(ds.npointing_assumed, 1);
    load("vla-chiles", &ds);
    assert_true(fabs(ds.freq_start_hz - 0.94e9) < 1);
    assert_int_equal(ds.chunks[1], 256);
}

/* ---- malformed specs ------------------------------------------------ */

static const char *const base_lines[] = {
    "name: x",                   /* 1 */
    "telescope: alma",           /* 2 */
    "gridder: standard",         /* 3 */
    "shape:",                    /* 4 */
    "  time: 10",                /* 5 */
    "  baseline: 6",             /* 6 */
    "  chan: 8",                 /* 7 */
    "  pol: 2",                  /* 8 */
    "image: {x: 64, y: 64}",     /* 9 */
    "assumptions:",              /* 10 */
    "  freq_start_ghz: 100",     /* 11 */
    "  chan_width_khz: 1000",    /* 12 */
    "  dish_diameter_m: 12",     /* 13 */
    "  array_extent_m: 300",     /* 14 */
    "  site_latitude_deg: -23",  /* 15 */
    "  source_ra_deg: 10",       /* 16 */
    "  source_dec_deg: -30",     /* 17 */
    "  duration_h: 1",           /* 18 */
    "  corr: [XX, YY]",          /* 19 */
};

/* Write the base spec with line `line` (1-based) replaced by `repl`
 * (NULL: dropped; line 0: nothing replaced, repl appended) to dir/x.yaml
 * and parse it; returns the code, message in e. */
static int parse_variant(const char *dir, int line, const char *repl, ib_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/x.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    size_t n = sizeof base_lines / sizeof base_lines[0];
    for (size_t i = 0; i < n; i++) {
        if ((int)i + 1 == line) {
            if (repl) fprintf(f, "%s\n", repl);
        } else {
            fprintf(f, "%s\n", base_lines[i]);
        }
    }
    if (line == 0 && repl) fprintf(f, "%s\n", repl);
    fclose(f);
    wl_dataset ds;
    ib_err_init(e);
    return wl_dataset_load(e, path, &ds);
}

static void expect_msg(const char *dir, int line, const char *repl, const char *a,
                       const char *b)
{
    ib_err e;
    int rc = parse_variant(dir, line, repl, &e);
    if (!tu_contains(e.msg, a) || !tu_contains(e.msg, b))
        fprintf(stderr, "message was: %s\n(wanted '%s' and '%s')\n", e.msg, a, b);
    assert_int_equal(rc, IB_EPARSE);
    assert_true(tu_contains(e.msg, "dataset '"));
    assert_true(tu_contains(e.msg, a));
    assert_true(tu_contains(e.msg, b));
}

static void test_malformed_specs(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-spec");
    assert_non_null(dir);
    ib_err e;
    /* the base itself is valid */
    assert_int_equal(parse_variant(dir, 0, NULL, &e), 0);
    expect_msg(dir, 0, "colour: red", "line 20 column 1", "unknown field 'colour'");
    expect_msg(dir, 7, "  chans: 8", "line 7 column 3", "unknown field 'shape.chans'");
    expect_msg(dir, 7, "  chan: abc", "line 7 column 9",
               "field 'shape.chan' must be a positive integer, got 'abc'");
    expect_msg(dir, 5, "  time: -5", "line 5 column 9",
               "field 'shape.time' must be a positive integer, got '-5'");
    expect_msg(dir, 5, "  time: 0", "line 5", "got '0'");
    expect_msg(dir, 7, "  chan: \"8\"", "line 7", "quoted string");
    expect_msg(dir, 7, NULL, "line 5 column 3", "field 'shape.chan' is required");
    expect_msg(dir, 1, NULL, "line 1 column 1", "field 'name' is required");
    expect_msg(dir, 11, "  freq_start_ghz: [1, 2]", "line 11 column 19",
               "field 'assumptions.freq_start_ghz' must be a positive number, got a list");
    expect_msg(dir, 3, "gridder: fancy", "line 3 column 10",
               "field 'gridder' must be one of standard, mosaic, got 'fancy'");
    expect_msg(dir, 19, "  corr: [XX]", "line 19", "lists 1 correlations but shape.pol is 2");
    expect_msg(dir, 3, "gridder: mosaic", "line 3", "a mosaic needs 'pointings'");
    expect_msg(dir, 1, "name: other", "line 1", "but the file is 'x.yaml'");
    expect_msg(dir, 0, "telescope: vla", "line 20", "field 'telescope' is given twice");
    expect_msg(dir, 0, "rows: 61", "line 20", "more than shape.time x shape.baseline");
    expect_msg(dir, 17, "  source_dec_deg: 80", "line 17", "below the horizon");
    expect_msg(dir, 15, "  site_latitude_deg: 123", "line 15", "must be in [-90, 90]");
    /* not YAML at all */
    expect_msg(dir, 4, "shape: {time: [1, 2", "line 5", "YAML error");
    char path[4096];
    snprintf(path, sizeof path, "%s/x.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("\x01\x02garbage\n", f);
    fclose(f);
    wl_dataset ds;
    ib_err_init(&e);
    assert_int_equal(wl_dataset_load(&e, path, &ds), IB_EPARSE);
    assert_true(tu_contains(e.msg, "line 1 column 1: YAML error"));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("just a sentence\n", f);
    fclose(f);
    assert_int_equal(wl_dataset_load(&e, path, &ds), IB_EPARSE);
    assert_true(tu_contains(e.msg, "line 1 column 1: the document must be a mapping"));
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(wl_dataset_load(&e, path, &ds), IB_EPARSE);
    assert_true(tu_contains(e.msg, "empty file"));
    snprintf(path, sizeof path, "%s/missing.yaml", dir);
    assert_int_equal(wl_dataset_load(&e, path, &ds), IB_ENOTFOUND);
    tu_rmtree(dir);
    free(dir);
}

static void test_unknown_dataset(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    wl_dataset ds;
    assert_int_equal(wl_dataset_find(&e, "alma-nope", NULL, &ds), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "unknown dataset 'alma-nope'"));
    assert_true(tu_contains(e.msg, "alma-x1a36, alma-x2e3, alma-x3be, alma-xc66, vla-chiles"));
    char names[512];
    assert_int_equal(wl_dataset_names(&e, NULL, names, sizeof names), 5);
    assert_int_equal(wl_dataset_find(&e, "../etc/passwd", NULL, &ds), IB_EINVAL);
    assert_true(strstr(e.msg, "(not a path)") != NULL);
    assert_int_equal(wl_dataset_find(&e, "x", "/nonexistent-dir", &ds), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "'/nonexistent-dir' does not exist"));
}

/* ---- scale arithmetic ----------------------------------------------- */

static void test_scale(void **state)
{
    (void)state;
    wl_dataset ds;
    load("alma-xc66", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    wl_gen_shape sh;
    ib_err e;
    ib_err_init(&e);
    o.scale = 0.001;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.ntime, llround(455 * sqrt(0.001)));
    assert_int_equal(sh.ntime, 14);
    assert_int_equal(sh.nchan, llround(7635 * sqrt(0.001)));
    assert_int_equal(sh.nchan, 241);
    assert_int_equal(sh.nbaseline, 745);
    assert_int_equal(sh.nant, 40);
    assert_int_equal(sh.nrow_full, 14 * 745);
    assert_int_equal(sh.nrow, llround(14.0 * 315831 / 455)); /* the stated rows, scaled */
    assert_int_equal(sh.nfield, 1);
    /* band kept: same centre and total bandwidth, wider channels */
    double centre = ds.freq_start_hz + 0.5 * 7634 * ds.chan_width_hz;
    assert_true(fabs(sh.ref_freq_hz - centre) < 1e-3);
    assert_true(fabs(sh.freq0_hz + 0.5 * 240 * sh.chan_width_hz - centre) < 1e-3);
    assert_true(fabs(sh.chan_width_hz * 241 - ds.chan_width_hz * 7635) < 1e-3);
    /* duration kept */
    assert_true(fabs(sh.integration_s * 14 - ds.duration_s) < 1e-9);
    /* at least 2 times and 1 channel */
    o.scale = 1e-12;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.ntime, 2);
    assert_int_equal(sh.nchan, 1);
    /* overrides win */
    o.scale = 0.001;
    o.times = 5;
    o.chans = 3;
    o.antennas = 10;
    o.image_nx = 32;
    o.image_ny = 48;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.ntime, 5);
    assert_int_equal(sh.nchan, 3);
    assert_int_equal(sh.nbaseline, 45);
    assert_int_equal(sh.nant, 10);
    assert_int_equal(sh.image_nx, 32);
    assert_int_equal(sh.image_ny, 48);
    o.antennas = -1;
    o.baselines = 46;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.nant, 11);
    /* impossible values name the option */
    wl_gen_opts_init(&o);
    o.scale = 0;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), IB_EINVAL);
    assert_true(tu_contains(e.msg, "option '--scale' must be positive"));
    wl_gen_opts_init(&o);
    o.chans = 0;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), IB_EINVAL);
    assert_true(tu_contains(e.msg, "option '--chans'"));
    wl_gen_opts_init(&o);
    o.image_nx = 0;
    o.image_ny = 0;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), IB_EINVAL);
    assert_true(tu_contains(e.msg, "option '--image'"));
    wl_gen_opts_init(&o);
    o.flag_frac = 1.5;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), IB_EINVAL);
    assert_true(tu_contains(e.msg, "option '--flag-frac'"));
    wl_gen_opts_init(&o);
    o.scale = 1e30;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), IB_EOVERFLOW);
    /* mosaics: pointing count clamped to the time steps */
    load("alma-x1a36", &ds);
    wl_gen_opts_init(&o);
    o.scale = 0.001;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.ntime, 18);
    assert_int_equal(sh.nchan, 32);
    assert_int_equal(sh.nfield, 18);
    o.scale = 1;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.nfield, 141);
    assert_int_equal(sh.field_block, 1);
}

static void test_cache_key(void **state)
{
    (void)state;
    wl_dataset ds;
    load("alma-xc66", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.scale = 0.001;
    ib_err e;
    ib_err_init(&e);
    char k1[33], k2[33];
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k1), 0);
    assert_int_equal(strlen(k1), 32);
    assert_int_equal(strspn(k1, "0123456789abcdef"), 32);
    o.threads = 7;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_equal(k1, k2);
    /* same shape reached by explicit counts: same data, same key */
    wl_gen_opts_init(&o);
    o.times = 14;
    o.chans = 241;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_equal(k1, k2);
    o.seed = 2;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_not_equal(k1, k2);
    wl_gen_opts_init(&o);
    o.scale = 0.001;
    o.noise = 0.1;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_not_equal(k1, k2);
    wl_gen_opts_init(&o);
    o.scale = 0.001;
    o.no_pb = 1;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_not_equal(k1, k2);
    wl_gen_opts_init(&o);
    o.scale = 0.001;
    ds.dec_rad += 1e-9; /* any spec value counts */
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), 0);
    assert_string_not_equal(k1, k2);
    o.scale = -1;
    assert_int_equal(wl_gen_cache_key(&e, &ds, &o, k2), IB_EINVAL);
}

/* ---- generation, read back ------------------------------------------ */

typedef struct readback {
    img_vis_meta meta;
    double *uvw, *time, *freq, *fdir;
    int32_t *field, *a1, *a2;
    float *vis, *weight;
    uint8_t *flag;
} readback;

static void rb_free(readback *r)
{
    free(r->uvw);
    free(r->time);
    free(r->freq);
    free(r->fdir);
    free(r->field);
    free(r->a1);
    free(r->a2);
    free(r->vis);
    free(r->weight);
    free(r->flag);
    memset(r, 0, sizeof *r);
}

static void read_all(const char *dir, readback *r)
{
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    int rc = img_vis_open(&e, dir, &s);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    r->meta = *img_vis_meta_get(s);
    size_t nr = (size_t)r->meta.nrow, ns = nr * (size_t)r->meta.nchan * (size_t)r->meta.npol;
    r->uvw = malloc(3 * nr * sizeof(double));
    r->time = malloc(nr * sizeof(double));
    r->field = malloc(nr * sizeof(int32_t));
    r->a1 = malloc(nr * sizeof(int32_t));
    r->a2 = malloc(nr * sizeof(int32_t));
    r->vis = malloc(2 * ns * sizeof(float));
    r->weight = malloc(ns * sizeof(float));
    r->flag = malloc(ns);
    r->freq = malloc((size_t)r->meta.nchan * sizeof(double));
    r->fdir = malloc(2 * (size_t)r->meta.nfield * sizeof(double));
    assert_non_null(r->flag);
    memcpy(r->freq, img_vis_freq(s), (size_t)r->meta.nchan * sizeof(double));
    memcpy(r->fdir, img_vis_field_dir(s), 2 * (size_t)r->meta.nfield * sizeof(double));
    assert_int_equal(img_vis_read_rows(&e, s, 0, r->meta.nrow, r->uvw, r->field, r->a1, r->a2,
                                       r->time), 0);
    uint64_t bytes = 0;
    assert_int_equal(img_vis_read_slab(&e, s, 0, r->meta.nrow, 0, r->meta.nchan, r->vis,
                                       r->weight, r->flag, &bytes), 0);
    assert_true(bytes > 0);
    assert_int_equal(img_vis_close(&e, s), 0);
}

static void gen_into(const wl_dataset *ds, const wl_gen_opts *o, const char *dir,
                     wl_gen_info *info)
{
    ib_err e;
    ib_err_init(&e);
    int rc = wl_generate(&e, ds, o, dir, info);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
}

/* The stated rows at scale 1 for every seed dataset (computed, nothing
 * written), and alma-x2e3 written small: 9 execution blocks, each with
 * absent antennas of its own, rows time-major without duplicates. */
static void test_stated_rows(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t rows;
        int nexec;
    } want[] = {{"alma-x2e3", 100284, 9}, {"alma-x1a36", 31020, 1}, {"alma-xc66", 315831, 1},
                {"alma-x3be", 646418, 1}, {"vla-chiles", 727272, 1}};
    ib_err e;
    ib_err_init(&e);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        wl_dataset ds;
        load(want[i].name, &ds);
        wl_gen_opts o;
        wl_gen_opts_init(&o);
        wl_gen_shape sh;
        assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
        printf("  %-11s scale 1: %lld rows of %lld x %lld = %lld, %d block(s)\n", want[i].name,
               (long long)sh.nrow, (long long)sh.ntime, (long long)sh.nbaseline,
               (long long)sh.nrow_full, sh.nexec);
        assert_int_equal(sh.nrow, want[i].rows);
        assert_int_equal(sh.nrow_full, ds.ntime * ds.nbaseline);
        assert_int_equal(sh.nexec, want[i].nexec);
        /* the baselines overridden: the full grid of the new array */
        o.baselines = 10;
        o.times = 3;
        assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
        assert_int_equal(sh.nrow, 30);
    }
    char *dir = tu_mkdtemp("wl-rows");
    wl_dataset ds;
    load("alma-x2e3", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.scale = 0.002;
    o.chans = 4;
    o.threads = 2;
    wl_gen_shape sh;
    assert_int_equal(wl_gen_resolve(&e, &ds, &o, &sh), 0);
    assert_int_equal(sh.nrow, llround((double)sh.ntime * 100284 / 2564));
    wl_gen_info info;
    gen_into(&ds, &o, dir, &info);
    readback r;
    read_all(dir, &r);
    assert_int_equal(r.meta.nrow, sh.nrow);
    /* times ascend; no (time, baseline) twice */
    for (int64_t i = 1; i < r.meta.nrow; i++) {
        assert_true(r.time[i] >= r.time[i - 1]);
        if (r.time[i] == r.time[i - 1])
            assert_true(r.a1[i] > r.a1[i - 1] ||
                        (r.a1[i] == r.a1[i - 1] && r.a2[i] > r.a2[i - 1]));
    }
    /* per execution block: some antenna has no row at all, and not the
     * same one in every block */
    int nant = r.meta.nant, first_absent[9];
    for (int k = 0; k < 9; k++) {
        int64_t t0 = (k * sh.ntime + 8) / 9, t1 = ((k + 1) * sh.ntime + 8) / 9;
        int seen[64] = {0};
        assert_true(nant <= 64);
        for (int64_t i = 0; i < r.meta.nrow; i++) {
            int64_t t = (int64_t)floor(r.time[i] / sh.integration_s);
            if (t < t0 || t >= t1) continue;
            seen[r.a1[i]] = seen[r.a2[i]] = 1;
        }
        first_absent[k] = -1;
        for (int a = 0; a < nant && first_absent[k] < 0; a++)
            if (!seen[a]) first_absent[k] = a;
        assert_true(first_absent[k] >= 0);
    }
    int differ = 0;
    for (int k = 1; k < 9; k++) differ |= first_absent[k] != first_absent[0];
    assert_true(differ);
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

static void test_generate_shapes(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-gen");
    wl_dataset ds;
    load("alma-xc66", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 4;
    o.chans = 20;
    o.baselines = 12;
    o.image_nx = 128;
    o.image_ny = 96;
    o.threads = 2;
    wl_gen_info info;
    gen_into(&ds, &o, dir, &info);
    assert_int_equal(info.shape.nrow, 48);
    assert_int_equal(info.nvis, 48 * 20);
    assert_int_equal(info.nsamples, 48 * 20 * 2);
    assert_int_equal(info.nsources, 10);
    assert_true(info.bytes_on_disk > 48 * 20 * 2 * 8);
    assert_true(info.rate > 0);
    readback r;
    read_all(dir, &r);
    assert_string_equal(r.meta.dataset, "alma-xc66");
    assert_string_equal(r.meta.telescope, "ALMA");
    assert_int_equal(r.meta.nrow, 48);
    assert_int_equal(r.meta.nchan, 20);
    assert_int_equal(r.meta.npol, 2);
    assert_int_equal(r.meta.nfield, 1);
    assert_int_equal(r.meta.nant, 6);
    assert_int_equal(r.meta.corr[0], -5);
    assert_int_equal(r.meta.corr[1], -6);
    assert_int_equal(r.meta.image_nx, 128);
    assert_int_equal(r.meta.image_ny, 96);
    assert_true(fabs(r.meta.cell_arcsec - info.cell_arcsec) < 1e-12);
    assert_true(fabs(info.cell_arcsec * ARCSEC - 1.0 / (3.0 * info.umax_lambda)) < 1e-15);
    assert_true(fabs(r.meta.phase_centre[1] - ds.dec_rad) < 1e-15);
    /* channels: uniform, band centre kept */
    for (int c = 1; c < 20; c++)
        assert_true(fabs(r.freq[c] - r.freq[c - 1] - info.shape.chan_width_hz) < 1e-3);
    assert_true(fabs(0.5 * (r.freq[0] + r.freq[19]) - info.shape.ref_freq_hz) < 1e-3);
    /* time-major rows; baselines in (0,1), (0,2), ... order; the longest
     * projected baseline sets u_max */
    double umax = 0;
    for (int i = 0; i < 48; i++) {
        int t = i / 12, b = i % 12;
        assert_true(fabs(r.time[i] - (t + 0.5) * info.shape.integration_s) < 1e-9);
        assert_int_equal(r.field[i], 0);
        assert_true(r.a1[i] < r.a2[i]);
        if (b > 0) assert_true(r.a1[i] > r.a1[i - 1] || r.a2[i] > r.a2[i - 1]);
        umax = fmax(umax, hypot(r.uvw[3 * i], r.uvw[3 * i + 1]));
    }
    assert_int_equal(r.a1[0], 0);
    assert_int_equal(r.a2[0], 1);
    assert_true(fabs(umax * r.freq[19] / C_LIGHT - info.umax_lambda) < 1e-6 * info.umax_lambda);
    /* weights: a per-baseline factor in [0.5, 1.5], same for all channels */
    size_t ns = 48 * 20 * 2, nflag = 0;
    for (size_t k = 0; k < ns; k++) {
        assert_true(r.weight[k] >= 0.5f && r.weight[k] <= 1.5f);
        assert_true(r.weight[k] == r.weight[(k / 40) * 40]);
        nflag += r.flag[k] != 0;
        assert_true(isfinite(r.vis[2 * k]) && isfinite(r.vis[2 * k + 1]));
    }
    assert_true(nflag < ns / 10);
    /* the sky model was written and reads back */
    char path[4096];
    snprintf(path, sizeof path, "%s/sky.json", dir);
    wl_source *src = NULL;
    int n = 0;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(wl_sky_load(&e, path, &src, &n), 0);
    assert_int_equal(n, 10);
    int ngauss = 0;
    for (int i = 0; i < n; i++) {
        ngauss += src[i].kind == WL_SRC_GAUSSIAN;
        assert_true(src[i].flux_jy >= 0.1 && src[i].flux_jy <= 1.0);
        /* inside the image */
        assert_true(fabs(src[i].l) < 64 * info.cell_arcsec * ARCSEC);
        assert_true(fabs(src[i].m) < 48 * info.cell_arcsec * ARCSEC);
    }
    assert_int_equal(ngauss, 2);
    ib_free(src);
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

static void test_deterministic_threads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-det");
    char d1[4096], d2[4096], d3[4096];
    snprintf(d1, sizeof d1, "%s/t1", dir);
    snprintf(d2, sizeof d2, "%s/t2", dir);
    snprintf(d3, sizeof d3, "%s/t3", dir);
    wl_dataset ds;
    load("alma-xc66", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    /* several row blocks through the double buffer, of different sizes */
    o.times = 13;
    o.chans = 5;
    o.noise = 0.5;
    o.threads = 1;
    o.block_rows = 1000;
    wl_gen_info i1, i2, i3;
    gen_into(&ds, &o, d1, &i1);
    o.threads = 2;
    o.block_rows = 777;
    gen_into(&ds, &o, d2, &i2);
    o.threads = 3;
    o.block_rows = 0;
    gen_into(&ds, &o, d3, &i3);
    readback a, b, c;
    read_all(d1, &a);
    read_all(d2, &b);
    read_all(d3, &c);
    size_t nr = (size_t)a.meta.nrow, ns = nr * 5 * 2;
    assert_int_equal(nr, llround(13.0 * 315831 / 455));
    assert_memory_equal(a.vis, b.vis, 2 * ns * sizeof(float));
    assert_memory_equal(a.vis, c.vis, 2 * ns * sizeof(float));
    assert_memory_equal(a.weight, b.weight, ns * sizeof(float));
    assert_memory_equal(a.flag, c.flag, ns);
    assert_memory_equal(a.uvw, c.uvw, 3 * nr * sizeof(double));
    /* noise: weights are 1/sigma^2 x [0.5, 1.5] */
    for (size_t k = 0; k < ns; k += 97) assert_true(a.weight[k] >= 2.0f && a.weight[k] <= 6.0f);
    rb_free(&a);
    rb_free(&b);
    rb_free(&c);
    tu_rmtree(dir);
    free(dir);
}

/* One source, exact values: at the phase centre V = 1+0i for every
 * unflagged sample (with the primary beam on); with Q, XX = I+Q, YY = I-Q. */
static void test_point_at_centre(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-centre");
    wl_dataset ds;
    load("alma-x3be", &ds);
    wl_source src = {WL_SRC_POINT, 0, 0, 1.0, 0, 0, 0, 0, 0, 0};
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 3;
    o.chans = 150;
    o.baselines = 30;
    o.flag_frac = 0.1;
    o.sky = &src;
    o.nsky = 1;
    o.nsources = 0;
    /* a standard view of the data: one field */
    ds.gridder = WL_GRIDDER_STANDARD;
    ds.npointing = 1;
    wl_gen_info info;
    gen_into(&ds, &o, dir, &info);
    readback r;
    read_all(dir, &r);
    size_t ns = (size_t)r.meta.nrow * 150 * 2, unflagged = 0;
    for (size_t k = 0; k < ns; k++) {
        if (r.flag[k]) continue;
        unflagged++;
        assert_true(r.vis[2 * k] == 1.0f);
        assert_true(r.vis[2 * k + 1] == 0.0f);
    }
    /* ~10% flagged */
    assert_true(unflagged > ns * 85 / 100 && unflagged < ns * 95 / 100);
    rb_free(&r);
    tu_rmtree(dir);

    src.q_frac = 0.1;
    src.spectral_index = -0.7;
    src.ref_freq_hz = 98e9;
    o.flag_frac = 0;
    gen_into(&ds, &o, dir, &info);
    read_all(dir, &r);
    for (size_t i = 0; i < (size_t)r.meta.nrow; i++)
        for (size_t c = 0; c < 150; c++) {
            double s = pow(r.freq[c] / 98e9, -0.7);
            size_t k = (i * 150 + c) * 2;
            assert_true(fabs(r.vis[2 * k] - 1.1 * s) < 1e-6);
            assert_true(fabs(r.vis[2 * (k + 1)] - 0.9 * s) < 1e-6);
            assert_true(r.vis[2 * k + 1] == 0.0f);
        }
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

/* The beam model written out independently of imaging/mosaic.c: a
 * Gaussian power pattern of FWHM 1.13 lambda / D at offset r (direction
 * cosine). */
static double beam(double d, double r, double nu)
{
    double fwhm = 1.13 * (C_LIGHT / nu) / d;
    return exp(-4.0 * log(2.0) * r * r / (fwhm * fwhm));
}

/* An offset point and an offset Gaussian against the closed form, across
 * several resync blocks of channels (the phase recurrence). */
static void test_offset_sources(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-offset");
    wl_dataset ds;
    load("vla-chiles", &ds);
    const double l = 40 * ARCSEC, m = -25 * ARCSEC;
    wl_source src[2] = {
        {WL_SRC_POINT, l, m, 1.0, 0, 0, 0, 0, 0, 0},
        {WL_SRC_GAUSSIAN, -l, m, 0.5, 0, 0, 0, 30 * ARCSEC, 12 * ARCSEC, 0.6},
    };
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 5;
    o.chans = 700;
    o.antennas = 9;
    o.flag_frac = 0;
    o.sky = src;
    for (int which = 0; which < 2; which++) {
        o.sky = &src[which];
        o.nsky = 1;
        gen_into(&ds, &o, dir, NULL);
        readback r;
        read_all(dir, &r);
        double n1 = sqrt(1 - l * l - m * m) - 1, maxerr = 0;
        const wl_source *s = &src[which];
        double smaj = s->major / (2 * sqrt(2 * log(2))), smin = s->minor / (2 * sqrt(2 * log(2)));
        double rr = sqrt(l * l + m * m);
        for (size_t i = 0; i < (size_t)r.meta.nrow; i++)
            for (size_t c = 0; c < 700; c++) {
                double k = r.freq[c] / C_LIGHT;
                double u = r.uvw[3 * i] * k, v = r.uvw[3 * i + 1] * k, w = r.uvw[3 * i + 2] * k;
                double ph = -2 * M_PI * (u * s->l + v * s->m + w * n1);
                double amp = s->flux_jy * beam(25.0, rr, r.freq[c]);
                if (s->kind == WL_SRC_GAUSSIAN) {
                    double umaj = u * sin(s->pa) + v * cos(s->pa);
                    double umin = u * cos(s->pa) - v * sin(s->pa);
                    amp *= exp(-2 * M_PI * M_PI * (smaj * smaj * umaj * umaj +
                                                   smin * smin * umin * umin));
                }
                for (int p = 0; p < 2; p++) {
                    size_t kk = ((i * 700 + c) * 2 + (size_t)p) * 2;
                    maxerr = fmax(maxerr, fabs(r.vis[kk] - amp * cos(ph)));
                    maxerr = fmax(maxerr, fabs(r.vis[kk + 1] - amp * sin(ph)));
                }
            }
        if (maxerr >= 2e-6) fprintf(stderr, "source %d: max error %g\n", which, maxerr);
        assert_true(maxerr < 2e-6);
        rb_free(&r);
        tu_rmtree(dir);
    }
    free(dir);
}

/* For one baseline, u^2 + ((v - v0)/sin d)^2 is constant over time, with
 * v0 = cos d Lz and Lz = v cos d + w sin d. */
static void test_uv_ellipses(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-ellipse");
    wl_dataset ds;
    load("alma-xc66", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 40;
    o.chans = 1;
    o.baselines = 20;
    gen_into(&ds, &o, dir, NULL);
    readback r;
    read_all(dir, &r);
    double d = r.fdir[1], sd = sin(d), cd = cos(d);
    assert_true(fabs(d - ds.dec_rad) < 1e-15);
    for (int b = 0; b < 20; b++) {
        double lz0 = 0, rr0 = 0, umin = 1e30, umax = -1e30;
        for (int t = 0; t < 40; t++) {
            const double *x = r.uvw + 3 * (t * 20 + b);
            double lz = x[1] * cd + x[2] * sd, v0 = cd * lz;
            double rr = x[0] * x[0] + pow((x[1] - v0) / sd, 2);
            if (t == 0) {
                lz0 = lz;
                rr0 = rr;
            }
            assert_true(fabs(lz - lz0) < 1e-9 * (1 + fabs(lz0)));
            assert_true(fabs(rr - rr0) < 1e-9 * rr0);
            umin = fmin(umin, x[0]);
            umax = fmax(umax, x[0]);
        }
        /* the track moves: 0.765 h of earth rotation */
        assert_true(umax - umin > 1e-3 * sqrt(rr0));
    }
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

/* Mosaic: the expected number of fields, hexagonally spaced at
 * lambda/(sqrt 3 D), visited in blocks, each phased to its own centre. */
static void test_mosaic(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-mosaic");
    wl_dataset ds;
    load("alma-x1a36", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 300;
    o.chans = 2;
    o.baselines = 3;
    o.flag_frac = 0;
    wl_gen_info info;
    gen_into(&ds, &o, dir, &info);
    assert_int_equal(info.shape.nfield, 141);
    readback r;
    read_all(dir, &r);
    assert_string_equal(r.meta.telescope, "ACA");
    assert_int_equal(r.meta.nfield, 141);
    double s = (C_LIGHT / info.shape.ref_freq_hz) / (sqrt(3.0) * 7.0);
    assert_true(fabs(s - info.shape.pointing_spacing_rad) < 1e-15);
    /* field 0 at the mosaic centre; every field's nearest neighbour at the
     * spacing; interior fields have six neighbours */
    assert_true(fabs(r.fdir[0] - ds.ra_rad) < 1e-12 && fabs(r.fdir[1] - ds.dec_rad) < 1e-12);
    int six = 0;
    for (int f = 0; f < 141; f++) {
        double nn = 1e9;
        int near = 0;
        for (int g = 0; g < 141; g++) {
            if (g == f) continue;
            double d1 = r.fdir[2 * f + 1], d2 = r.fdir[2 * g + 1];
            double hav = pow(sin(0.5 * (d2 - d1)), 2) +
                         cos(d1) * cos(d2) * pow(sin(0.5 * (r.fdir[2 * g] - r.fdir[2 * f])), 2);
            double dist = 2 * asin(sqrt(hav));
            nn = fmin(nn, dist);
            near += fabs(dist - s) < 1e-3 * s;
        }
        assert_true(fabs(nn - s) < 1e-3 * s);
        six += near == 6;
    }
    assert_true(six > 80);
    /* the mosaic follows the image's 600 x 1000 aspect: taller than wide */
    double lmax = 0, mmax = 0;
    for (int f = 0; f < 141; f++) {
        lmax = fmax(lmax, fabs(cos(r.fdir[2 * f + 1]) * sin(r.fdir[2 * f] - ds.ra_rad)));
        mmax = fmax(mmax, fabs(r.fdir[2 * f + 1] - ds.dec_rad));
    }
    assert_true(mmax > 1.3 * lmax);
    /* times visit fields in blocks; every field gets time */
    int seen[141] = {0};
    for (int t = 0; t < 300; t++) {
        int f = r.field[t * 3];
        for (int b = 1; b < 3; b++) assert_int_equal(r.field[t * 3 + b], f);
        seen[f]++;
    }
    for (int f = 0; f < 141; f++) assert_true(seen[f] >= 2);
    /* pointing 5's offset (SIN about the mosaic centre) */
    double ra5 = r.fdir[10], dec5 = r.fdir[11];
    double l5 = cos(dec5) * sin(ra5 - ds.ra_rad);
    double m5 = sin(dec5) * cos(ds.dec_rad) - cos(dec5) * sin(ds.dec_rad) * cos(ra5 - ds.ra_rad);
    rb_free(&r);
    tu_rmtree(dir);

    /* A point at pointing 5's centre: 1 in field 5's rows (its own phase
     * centre, primary beam 1), attenuated by the beam elsewhere. */
    wl_source src = {WL_SRC_POINT, l5, m5, 1.0, 0, 0, 0, 0, 0, 0};
    o.sky = &src;
    o.nsky = 1;
    gen_into(&ds, &o, dir, NULL);
    read_all(dir, &r);
    int n5 = 0;
    for (int i = 0; i < 900; i++) {
        for (int c = 0; c < 2; c++) {
            float re = r.vis[((i * 2 + c) * 2) * 2], im = r.vis[((i * 2 + c) * 2) * 2 + 1];
            if (r.field[i] == 5) {
                assert_true(fabs(re - 1.0) < 1e-6 && fabs(im) < 1e-6);
                n5++;
            } else {
                assert_true(hypot(re, im) < 0.99);
            }
        }
    }
    assert_true(n5 > 0);
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

static void test_vla_layout(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-vla");
    wl_dataset ds;
    load("vla-chiles", &ds);
    wl_gen_opts o;
    wl_gen_opts_init(&o);
    o.times = 2;
    o.chans = 1;
    gen_into(&ds, &o, dir, NULL);
    readback r;
    read_all(dir, &r);
    assert_string_equal(r.meta.telescope, "VLA");
    assert_int_equal(r.meta.nant, 27);
    assert_int_equal(r.meta.nrow, 2 * 351);
    assert_int_equal(r.meta.corr[0], -1);
    assert_int_equal(r.meta.corr[1], -2);
    /* B configuration: the longest baseline close to the 11.1 km extent */
    double lmax = 0;
    for (int i = 0; i < 351; i++) {
        const double *x = r.uvw + 3 * i;
        lmax = fmax(lmax, sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]));
    }
    assert_true(lmax > 0.9 * 11100 && lmax <= 11100 * 1.0001);
    rb_free(&r);
    tu_rmtree(dir);
    free(dir);
}

/* ---- the command -------------------------------------------------- */

static void test_cli_gen(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("wl-cli");
    char *out = NULL;
    int rc = tu_run(&out, "%s gen --dataset alma-x2e3 --scale 0.0005 --chans 8 --out %s/g "
                    "--threads 2 --seed 3", tu_bin("harness"), dir);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_true(tu_contains(out, "times 57 x baselines 53 x channels 8 x pols 2"));
    assert_true(tu_contains(out, "rows         2229 (antennas 11, fields 57)"));
    assert_true(tu_contains(out, "row layout   2229 of the 3021 time x baseline pairs (the spec's "
                                 "100284 of 135892 at scale 1: antennas absent in each of 9 time "
                                 "segments), 9 execution block(s)"));
    assert_true(tu_contains(out, "visibilities 17832 (rows x chans)"));
    assert_true(tu_contains(out, "samples      35664 (x pols)"));
    assert_true(tu_contains(out, "image        400 x 500, cell"));
    assert_true(tu_contains(out, "M samples/s"));
    free(out);
    char path[4096];
    snprintf(path, sizeof path, "%s/g/vis.h5", dir);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/g/sky.json", dir);
    assert_int_equal(access(path, F_OK), 0);

    rc = tu_run(&out, "%s gen --dataset alma-x2e3 --scale 0.001 --out %s/g --sky %s/g/sky.json "
                "--image 300x400 --cell 0.5", tu_bin("harness"), dir, dir);
    assert_int_equal(rc, 0);
    assert_true(tu_contains(out, "image        300 x 400, cell 0.5 arcsec"));
    free(out);

    rc = tu_run(&out, "%s gen --dataset nope --scale 0.1 --out %s/n", tu_bin("harness"), dir);
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "unknown dataset 'nope'"));
    assert_true(tu_contains(out, "alma-xc66"));
    free(out);
    rc = tu_run(&out, "%s gen --dataset alma-xc66 --scale 0 --out %s/n", tu_bin("harness"), dir);
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "option '--scale' must be positive"));
    free(out);
    rc = tu_run(&out, "%s gen --dataset alma-xc66 --scale 0.01 --image 0 --out %s/n",
                tu_bin("harness"), dir);
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "option '--image'"));
    free(out);
    rc = tu_run(&out, "%s gen --dataset alma-xc66 --scale 0.01 --chans abc --out %s/n",
                tu_bin("harness"), dir);
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "harness gen: option '--chans' expects an integer, got 'abc'"));
    free(out);
    rc = tu_run(&out, "%s gen --dataset alma-xc66 --out %s/n", tu_bin("harness"), dir);
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "missing --scale"));
    free(out);
    rc = tu_run(&out, "%s gen --help", tu_bin("harness"));
    assert_int_equal(rc, 0);
    assert_true(tu_contains(out, "--flag-frac F"));
    assert_true(tu_contains(out, "--datasets-dir D"));
    free(out);
    snprintf(path, sizeof path, "%s/n/vis.h5", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_specs),
        cmocka_unit_test(test_malformed_specs),
        cmocka_unit_test(test_unknown_dataset),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_cache_key),
        cmocka_unit_test(test_stated_rows),
        cmocka_unit_test(test_generate_shapes),
        cmocka_unit_test(test_deterministic_threads),
        cmocka_unit_test(test_point_at_centre),
        cmocka_unit_test(test_offset_sources),
        cmocka_unit_test(test_uv_ellipses),
        cmocka_unit_test(test_mosaic),
        cmocka_unit_test(test_vla_layout),
        cmocka_unit_test(test_cli_gen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
