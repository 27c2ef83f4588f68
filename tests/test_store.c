/*
 * test_store.c: the compact visibility store (format 3). Round trip of
 * every sample, weight and flag bit-exact for any slab, through direct
 * chunk reads and through HDF5, with row blocks that share flag bytes and
 * rows whose weights vary with channel; bytes on disk per sample; no flag
 * chunks when nothing is flagged; format 2 stores still read the same; an
 * unknown format refused naming the file and both versions; corrupt chunk
 * data caught by our own checksum; threads reading in parallel; a bad
 * `corr` attribute refused (issue 18 item 12); NaN visibilities refused
 * with the count and the first row and channel (item 13), flagged ones
 * ignored.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "imaging/imaging.h"
#include "tests/testutil.h"

typedef struct data {
    img_vis_meta m;
    double *freq, *fd, *dish, *uvw, *time;
    float *vis, *w;
    uint8_t *flag;
    int32_t *fld, *a1, *a2;
} data;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/* nrow x nchan x npol samples; every spec_every-th row has weights that
 * vary with channel (0: none), a sample is flagged with probability
 * 1/flag_one_in (0: none). */
static void make_data(data *d, int64_t nrow, int64_t nchan, int npol, int spec_every,
                      int flag_one_in)
{
    memset(d, 0, sizeof *d);
    snprintf(d->m.dataset, sizeof d->m.dataset, "store-test");
    snprintf(d->m.telescope, sizeof d->m.telescope, "alma");
    d->m.nrow = nrow;
    d->m.nchan = nchan;
    d->m.npol = npol;
    d->m.nfield = 1;
    d->m.nant = 4;
    for (int p = 0; p < npol; p++) d->m.corr[p] = -5 - p;
    d->m.image_nx = d->m.image_ny = 64;
    d->m.cell_arcsec = 1;
    size_t n = (size_t)nrow * (size_t)nchan * (size_t)npol;
    d->freq = calloc((size_t)nchan, sizeof *d->freq);
    d->fd = calloc(2, sizeof *d->fd);
    d->dish = calloc(4, sizeof *d->dish);
    d->uvw = calloc(3 * (size_t)nrow, sizeof *d->uvw);
    d->time = calloc((size_t)nrow, sizeof *d->time);
    d->fld = calloc((size_t)nrow, sizeof *d->fld);
    d->a1 = calloc((size_t)nrow, sizeof *d->a1);
    d->a2 = calloc((size_t)nrow, sizeof *d->a2);
    d->vis = calloc(2 * n, sizeof *d->vis);
    d->w = calloc(n, sizeof *d->w);
    d->flag = calloc(n, 1);
    assert_non_null(d->flag);
    for (int64_t c = 0; c < nchan; c++) d->freq[c] = 1e11 + 1e6 * (double)c;
    for (int a = 0; a < 4; a++) d->dish[a] = 12;
    for (int64_t r = 0; r < nrow; r++) {
        for (int k = 0; k < 3; k++) d->uvw[3 * r + k] = (double)(mix((uint64_t)r * 3 + k) % 1000);
        d->time[r] = (double)r;
        d->a1[r] = (int32_t)(r % 3);
        d->a2[r] = 3;
        int spec = spec_every && r % spec_every == 1;
        for (int64_t c = 0; c < nchan; c++)
            for (int p = 0; p < npol; p++) {
                size_t k = ((size_t)r * (size_t)nchan + (size_t)c) * (size_t)npol + (size_t)p;
                uint64_t h = mix(k + 12345);
                d->vis[2 * k] = (float)((double)(h & 0xffff) / 3000.0 - 10.0);
                d->vis[2 * k + 1] = (float)((double)((h >> 16) & 0xffff) / 7000.0);
                d->w[k] = spec ? 0.25f + (float)c : 1.0f + 0.5f * (float)p + (float)(r % 5);
                d->flag[k] = flag_one_in && (h >> 40) % (uint64_t)flag_one_in == 0;
            }
    }
}

static void free_data(data *d)
{
    free(d->freq);
    free(d->fd);
    free(d->dish);
    free(d->uvw);
    free(d->time);
    free(d->fld);
    free(d->a1);
    free(d->a2);
    free(d->vis);
    free(d->w);
    free(d->flag);
}

/* Write d into dir in blocks of `block` rows (format version). */
static void write_store(const char *dir, const data *d, int version, int64_t block)
{
    ib_err e;
    ib_err_init(&e);
    img_vis_store *st = NULL;
    int rc = img_vis_create_format(&e, dir, &d->m, d->freq, d->fd, d->dish, version, &st);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    size_t per = (size_t)d->m.nchan * (size_t)d->m.npol;
    for (int64_t r0 = 0; r0 < d->m.nrow; r0 += block) {
        int64_t n = d->m.nrow - r0 < block ? d->m.nrow - r0 : block;
        rc = img_vis_write_rows(&e, st, r0, n, d->uvw + 3 * r0, d->vis + 2 * per * (size_t)r0,
                                d->w + per * (size_t)r0, d->flag + per * (size_t)r0,
                                d->fld + r0, d->a1 + r0, d->a2 + r0, d->time + r0);
        if (rc) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(img_vis_close(&e, st), 0);
}

/* Read the slab [r0,r0+nr) x [c0,c0+nc) and compare with d bit for bit. */
static void check_slab(img_vis_store *s, const data *d, int64_t r0, int64_t nr, int64_t c0,
                       int64_t nc)
{
    ib_err e;
    ib_err_init(&e);
    int np = d->m.npol;
    size_t n = (size_t)nr * (size_t)nc * (size_t)np;
    assert_true(n > 0 && n < ((size_t)1 << 40));
    float *v = malloc(2 * n * sizeof *v), *w = malloc(n * sizeof *w);
    uint8_t *f = calloc(n, 1);
    assert_non_null(f);
    int rc = img_vis_read_chans(&e, s, r0, nr, c0, nc, v, w, f, NULL);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    size_t bad = 0;
    for (int64_t c = 0; c < nc; c++)
        for (int64_t r = 0; r < nr; r++)
            for (int p = 0; p < np; p++) {
                size_t got = ((size_t)c * (size_t)nr + (size_t)r) * (size_t)np + (size_t)p;
                size_t want = ((size_t)(r0 + r) * (size_t)d->m.nchan + (size_t)(c0 + c)) *
                                  (size_t)np + (size_t)p;
                bad += memcmp(v + 2 * got, d->vis + 2 * want, 8) != 0;
                bad += memcmp(w + got, d->w + want, 4) != 0;
                bad += (f[got] != 0) != (d->flag[want] != 0);
            }
    assert_int_equal(bad, 0);
    free(v);
    free(w);
    free(f);
}

static void check_all(const char *dir, const data *d, int want_version, int want_direct)
{
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    int rc = img_vis_open(&e, dir, &s);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(img_vis_format(s), want_version);
    assert_int_equal(img_vis_direct_reads(s), want_direct);
    int64_t R = d->m.nrow, C = d->m.nchan;
    check_slab(s, d, 0, R, 0, C);
    check_slab(s, d, 0, R, 1, C - 2);      /* channels not on chunk edges */
    check_slab(s, d, 4093, 13, 3, 2);       /* rows across a chunk edge */
    check_slab(s, d, 1, R - 3, C - 1, 1);   /* odd bit offsets */
    /* row metadata */
    double *uvw = malloc(3 * (size_t)R * sizeof *uvw), *t = malloc((size_t)R * sizeof *t);
    int32_t *a1 = malloc((size_t)R * sizeof *a1);
    assert_non_null(a1);
    assert_int_equal(img_vis_read_rows(&e, s, 0, R, uvw, NULL, a1, NULL, t), 0);
    assert_memory_equal(uvw, d->uvw, 3 * (size_t)R * sizeof *uvw);
    assert_memory_equal(a1, d->a1, (size_t)R * sizeof *a1);
    assert_memory_equal(t, d->time, (size_t)R * sizeof *t);
    free(uvw);
    free(t);
    free(a1);
    assert_int_equal(img_vis_close(&e, s), 0);
}

static int64_t file_bytes(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/vis.h5", dir);
    struct stat st;
    return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Blocks of 1000 rows (not multiples of 8 bits with 3 pols: shared flag
 * bytes) and rows with spectral weights, read every way. */
static void test_round_trip(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-rt");
    data d;
    make_data(&d, 9000, 21, 3, 97, 50);
    write_store(dir, &d, 3, 1000);
    check_all(dir, &d, 3, 1);
    setenv("IMBENCH_STORE_READ", "hdf5", 1);
    check_all(dir, &d, 3, 0);
    unsetenv("IMBENCH_STORE_READ");
    /* one block, aligned */
    tu_rmtree(dir);
    write_store(dir, &d, 3, 9000);
    check_all(dir, &d, 3, 1);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

/* On disk: <= 8.5 bytes per sample with channel-constant weights and a
 * few flags; the flag and spectral weight datasets take no space when
 * nothing needs them. */
static void test_size_on_disk(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-size");
    data d;
    make_data(&d, 8192, 256, 2, 0, 100); /* 1% flagged */
    write_store(dir, &d, 3, 4096);
    double per = (double)file_bytes(dir) / (8192.0 * 256 * 2);
    printf("  format 3, 1%% flagged: %.3f bytes/sample\n", per);
    assert_true(per <= 8.5);
    check_all(dir, &d, 3, 1);
    tu_rmtree(dir);
    free_data(&d);
    make_data(&d, 8192, 256, 2, 0, 0);
    write_store(dir, &d, 3, 4096);
    double none = (double)file_bytes(dir) / (8192.0 * 256 * 2);
    printf("  format 3, nothing flagged: %.3f bytes/sample\n", none);
    /* vis 8 + per row (weights 8, uvw 24, time 8, field 4, antennas 8,
     * mask 1) over 512 samples + < 0.02 of HDF5 structure */
    assert_true(none <= 8.0 + 53.0 / 512 + 0.02);
    assert_true(per - none > 0.12); /* the flag bits: 1/8 byte per sample */
    char p[4096];
    snprintf(p, sizeof p, "%s/vis.h5", dir);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    const char *sparse[] = {"flag_bits", "weight"};
    for (int k = 0; k < 2; k++) {
        hid_t ds = H5Dopen2(f, sparse[k], H5P_DEFAULT);
        assert_true(ds >= 0);
        assert_int_equal(H5Dget_storage_size(ds), 0);
        H5Dclose(ds);
    }
    H5Fclose(f);
    check_all(dir, &d, 3, 1);
    tu_rmtree(dir);
    /* the old format for comparison: 13 bytes per sample */
    write_store(dir, &d, 2, 4096);
    double old = (double)file_bytes(dir) / (8192.0 * 256 * 2);
    printf("  format 2: %.3f bytes/sample\n", old);
    assert_true(old > 12.9);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

static void set_int_attr(const char *dir, const char *name, const int *v, hsize_t n)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/vis.h5", dir);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Adelete(f, name) >= 0);
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(f, name, H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, H5T_NATIVE_INT, v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
    H5Fclose(f);
}

/* Format 2 stores read the same; an unknown version is refused. */
static void test_old_format(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-old");
    data d;
    make_data(&d, 5000, 9, 2, 7, 30);
    write_store(dir, &d, 2, 4096);
    check_all(dir, &d, 2, 1);
    setenv("IMBENCH_STORE_READ", "hdf5", 1);
    check_all(dir, &d, 2, 0);
    unsetenv("IMBENCH_STORE_READ");
    int v = 7;
    set_int_attr(dir, "format_version", &v, 1);
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    assert_int_equal(img_vis_open(&e, dir, &s), IB_EUNSUPPORTED);
    assert_null(s);
    assert_true(tu_contains(e.msg, "/vis.h5': format_version 7, this imager reads 2 and 3"));
    ib_err_init(&e);
    assert_int_equal(img_vis_create_format(&e, dir, &d.m, d.freq, d.fd, d.dish, 1, &s),
                     IB_EINVAL);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

/* A flipped byte in a vis chunk: our own fletcher32 check reports it. */
static void test_corrupt_chunk(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-corrupt");
    data d;
    make_data(&d, 4096, 8, 2, 0, 0);
    write_store(dir, &d, 3, 4096);
    char p[4096];
    snprintf(p, sizeof p, "%s/vis.h5", dir);
    /* find the first vis chunk and flip a byte in its middle */
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "vis", H5P_DEFAULT);
    hsize_t off[4] = {0, 0, 0, 0}, sz = 0;
    haddr_t addr = 0;
    unsigned mask = 0;
    assert_true(H5Dget_chunk_info_by_coord(ds, off, &mask, &addr, &sz) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    fseek(fp, (long)(addr + sz / 2), SEEK_SET);
    int ch = fgetc(fp);
    fseek(fp, (long)(addr + sz / 2), SEEK_SET);
    fputc(ch ^ 0x5a, fp);
    fclose(fp);
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    assert_int_equal(img_vis_open(&e, dir, &s), 0);
    float *v = malloc(4096 * 8 * 2 * 8);
    assert_non_null(v);
    assert_int_equal(img_vis_read_chans(&e, s, 0, 4096, 0, 4, v, NULL, NULL, NULL), IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "dataset '/vis': checksum mismatch in the chunk at channel 0"));
    /* chunks elsewhere still read */
    ib_err_init(&e);
    assert_int_equal(img_vis_read_chans(&e, s, 0, 4096, 4, 4, v, NULL, NULL, NULL), 0);
    img_vis_close(&e, s);
    free(v);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

typedef struct reader {
    img_vis_store *s;
    const data *d;
    int id, bad;
} reader;

static void *reader_main(void *arg)
{
    reader *R = arg;
    const data *d = R->d;
    int np = d->m.npol;
    int64_t nr = d->m.nrow;
    size_t n = (size_t)nr * 4 * (size_t)np;
    float *v = malloc(2 * n * sizeof *v);
    for (int rep = 0; rep < 3 && v; rep++)
        for (int64_t c0 = R->id * 4; c0 < d->m.nchan; c0 += 8) {
            ib_err e;
            ib_err_init(&e);
            if (img_vis_read_chans(&e, R->s, 0, nr, c0, 4, v, NULL, NULL, NULL)) {
                R->bad++;
                continue;
            }
            for (int64_t c = 0; c < 4; c++)
                for (int64_t r = 0; r < nr; r++) {
                    size_t got = ((size_t)c * (size_t)nr + (size_t)r) * (size_t)np;
                    size_t want = ((size_t)r * (size_t)d->m.nchan + (size_t)(c0 + c)) * (size_t)np;
                    R->bad += memcmp(v + 2 * got, d->vis + 2 * want, 8 * (size_t)np) != 0;
                }
        }
    if (!v) R->bad++;
    free(v);
    return NULL;
}

/* Two threads read disjoint channel chunks at once, both correct. */
static void test_parallel_reads(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-par");
    data d;
    make_data(&d, 8192, 32, 2, 0, 20);
    write_store(dir, &d, 3, 4096);
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    assert_int_equal(img_vis_open(&e, dir, &s), 0);
    assert_int_equal(img_vis_direct_reads(s), 1);
    reader R[2] = {{s, &d, 0, 0}, {s, &d, 1, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, reader_main, &R[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    assert_int_equal(R[0].bad + R[1].bad, 0);
    img_vis_close(&e, s);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

/* Issue 18 item 12: corr [999, INT_MIN] is refused naming file and attribute. */
static void test_bad_corr(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-corr");
    data d;
    make_data(&d, 100, 4, 2, 0, 0);
    write_store(dir, &d, 3, 100);
    int bad[2] = {999, INT_MIN};
    set_int_attr(dir, "corr", bad, 2);
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    assert_int_equal(img_vis_open(&e, dir, &s), IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "/vis.h5': attribute 'corr' value 999 (pol 0) is not a "
                                   "Stokes code"));
    /* and through the imager: exit 1, the same message, no cube */
    char *out = NULL;
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s/img", tu_bin("imager"), dir, dir), 1);
    assert_true(tu_contains(out, "attribute 'corr' value 999"));
    free(out);
    char p[4096];
    snprintf(p, sizeof p, "%s/img/dirty.fits", dir);
    assert_int_equal(access(p, F_OK), -1);
    /* the writer refuses it too */
    d.m.corr[1] = INT_MIN;
    ib_err_init(&e);
    assert_int_equal(img_vis_create(&e, dir, &d.m, d.freq, d.fd, d.dish, &s), IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "attribute 'corr' value -2147483648 (pol 1)"));
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

/* Issue 18 item 13: unflagged NaN/Inf visibilities are refused with the
 * count and the first row and channel; flagged (or zero-weight) ones are
 * not gridded and pass. */
static void test_nonfinite_vis(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-nan");
    data d;
    make_data(&d, 300, 6, 2, 0, 0);
    size_t k1 = ((size_t)17 * 6 + 2) * 2 + 1, k2 = ((size_t)250 * 6 + 4) * 2;
    d.vis[2 * k1] = NAN;
    d.vis[2 * k2 + 1] = INFINITY;
    size_t k3 = ((size_t)5 * 6 + 1) * 2; /* flagged NaN: fine */
    d.vis[2 * k3] = NAN;
    d.flag[k3] = 1;
    write_store(dir, &d, 3, 300);
    ib_err e;
    ib_err_init(&e);
    img_vis_store *s = NULL;
    assert_int_equal(img_vis_open(&e, dir, &s), 0);
    size_t n = 300 * 6 * 2;
    float *v = malloc(2 * n * sizeof *v), *w = malloc(n * sizeof *w);
    uint8_t *f = malloc(n);
    assert_non_null(f);
    assert_int_equal(img_vis_read_chans(&e, s, 0, 300, 0, 6, v, w, f, NULL), IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "2 unflagged visibilities are NaN or infinite"));
    assert_true(tu_contains(e.msg, "the first at row 17, channel 2, pol 1"));
    ib_err_init(&e);
    assert_int_equal(img_vis_read_chans(&e, s, 0, 300, 0, 2, v, w, f, NULL), 0); /* flagged only */
    img_vis_close(&e, s);
    char *out = NULL;
    assert_int_equal(tu_run(&out, "%s --vis %s --out %s/img --image 64", tu_bin("imager"), dir,
                            dir), 1);
    assert_true(tu_contains(out, "NaN or infinite"));
    free(out);
    char p[4096];
    snprintf(p, sizeof p, "%s/img/dirty.fits", dir);
    assert_int_equal(access(p, F_OK), -1);
    free(v);
    free(w);
    free(f);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

/* The imager's stats: bytes of the compact store read (8 per sample and
 * the flag bits, not 13) and the read rate. */
static void test_read_rate_stat(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("store-rate");
    data d;
    make_data(&d, 4096, 16, 2, 0, 50);
    write_store(dir, &d, 3, 4096);
    char *out = NULL;
    int rc = tu_run(&out, "%s --vis %s --out %s/img --image 64 --threads 2 --stats %s/s.json",
                    tu_bin("imager"), dir, dir, dir);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    free(out);
    char p[4096];
    snprintf(p, sizeof p, "%s/s.json", dir);
    json_error_t err;
    json_t *j = json_load_file(p, 0, &err);
    assert_non_null(j);
    double bytes = -1, rate = -1;
    json_t *m;
    size_t i;
    json_array_foreach(json_object_get(j, "metrics"), i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        if (name && !strcmp(name, "bytes_read")) bytes = json_number_value(json_object_get(m, "value"));
        if (name && !strcmp(name, "read_mb_s")) rate = json_number_value(json_object_get(m, "value"));
    }
    json_decref(j);
    double ns = 4096.0 * 16 * 2;
    printf("  bytes_read %.0f (%.3f per sample), read_mb_s %.1f\n", bytes, bytes / ns, rate);
    assert_true(bytes >= ns * 8.125 && bytes <= ns * 8.2);
    assert_true(rate > 0);
    free_data(&d);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_size_on_disk),
        cmocka_unit_test(test_old_format),     cmocka_unit_test(test_corrupt_chunk),
        cmocka_unit_test(test_parallel_reads), cmocka_unit_test(test_bad_corr),
        cmocka_unit_test(test_nonfinite_vis),  cmocka_unit_test(test_read_rate_stat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
