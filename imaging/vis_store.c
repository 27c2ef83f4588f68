/*
 * vis_store.c: the HDF5 visibility store. Writers create DIR/vis.h5.tmp,
 * fill row blocks and rename on close; readers validate every dataset's
 * presence and shape on open and then read row metadata or one chunk's
 * channel slab.
 *
 * Format 3 (the compact store, written today): visibilities 8 bytes per
 * sample; weights once per row and pol (/weight_row) unless they vary
 * with channel, when that row's block also has /weight per sample; flags
 * one bit per sample (/flag_bits), stored only for row blocks that have a
 * flag (a chunk never written takes no space and reads as zeros);
 * /row_mask says per row which of the two it has. Format 2 (byte flags
 * and float weights per sample) is still read.
 *
 * Reads of the spectral datasets do not take HDF5's global lock for the
 * data: each chunk's file address is looked up once (under our mutex) and
 * the chunk is read with pread and its fletcher32 checksum verified here,
 * so the threads of one process read in parallel. IMBENCH_STORE_READ=hdf5
 * in the environment reads through H5Dread (serialised) instead, for
 * comparison. Writes and row-metadata reads go through HDF5 under the
 * store's mutex.
 */
#define _GNU_SOURCE
#include "imaging/imaging.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { D_UVW, D_VIS, D_WEIGHT, D_FLAG, D_FIELD, D_ANT1, D_ANT2, D_TIME, D_WROW, D_RMASK,
       D_NROWSETS };

/* Names by format: 2 has per-sample weight and byte flags, 3 the compact
 * layout. NULL: the dataset does not exist in that format. */
static const char *const names_v2[D_NROWSETS] = {
    "uvw", "vis", "weight", "flag", "field", "antenna1", "antenna2", "time", NULL, NULL};
static const char *const names_v3[D_NROWSETS] = {
    "uvw",      "vis",      "weight", "flag_bits",  "field",
    "antenna1", "antenna2", "time",   "weight_row", "row_mask"};

#define RM_WSPEC 1u /* row_mask: this row's weights vary with channel (see /weight) */
#define RM_FLAG 2u  /* row_mask: some sample of this row is flagged (see /flag_bits) */

/* Where each chunk of one spectral dataset lies in the file (looked up
 * once, under the mutex). */
typedef struct chunk_map {
    int ok;                 /* direct reads possible */
    hsize_t k0, k1;         /* chunk extent: channels, second dimension */
    hsize_t n0, n1;         /* dataset extent */
    size_t inner;           /* bytes per element of the second dimension */
    size_t nck1;            /* chunks along the second dimension */
    _Atomic uint64_t *addr; /* per chunk: 0 unknown, 1 not allocated, else address+2 */
    uint32_t *size;
} chunk_map;

struct img_vis_store {
    hid_t file;
    hid_t d[D_NROWSETS];
    int version;
    int writing;
    char path[PATH_MAX];
    char tmppath[PATH_MAX];
    img_vis_meta meta;
    double *freq, *field_dir, *dish;
    pthread_mutex_t lock;
    /* format 3 readers: /weight_row and /row_mask in memory (loaded on
     * the first spectral read) and per-block summaries */
    _Atomic int rows_loaded;
    float *wrow;
    uint8_t *rmask;
    int fd;         /* for direct chunk reads; -1 when not used */
    char *wbuf;     /* writer's transpose buffer, kept across row blocks (a fresh
                     * one per block cost a page fault per 4 KiB) */
    size_t wbuf_n;
    chunk_map cm[D_NROWSETS];
};

static const char *dname(const img_vis_store *s, int i)
{
    return (s->version == 2 ? names_v2 : names_v3)[i];
}

static int is_spectral(int which) { return which == D_VIS || which == D_WEIGHT || which == D_FLAG; }

static hsize_t flag_bytes(const img_vis_meta *m)
{
    return ((hsize_t)m->nrow * (hsize_t)m->npol + 7) / 8;
}

/* Rank and dims of each dataset for a given shape and format. The
 * spectral datasets are channel-major so one channel chunk is contiguous. */
static int row_dims(const img_vis_meta *m, int version, int which, hsize_t dims[4])
{
    dims[0] = (hsize_t)m->nrow;
    switch (which) {
    case D_UVW: dims[1] = 3; return 2;
    case D_WROW: dims[1] = (hsize_t)m->npol; return 2;
    case D_VIS:
        dims[0] = (hsize_t)m->nchan; dims[1] = (hsize_t)m->nrow;
        dims[2] = (hsize_t)m->npol; dims[3] = 2; return 4;
    case D_FLAG:
    case D_WEIGHT:
        if (which == D_FLAG && version >= 3) {
            dims[0] = (hsize_t)m->nchan;
            dims[1] = flag_bytes(m);
            return 2;
        }
        /* format 2 byte flags are shaped like weights */
        dims[0] = (hsize_t)m->nchan; dims[1] = (hsize_t)m->nrow;
        dims[2] = (hsize_t)m->npol; return 3;
    default: return 1;
    }
}

static hid_t row_type(int which)
{
    switch (which) {
    case D_UVW:
    case D_TIME: return H5T_NATIVE_DOUBLE;
    case D_VIS:
    case D_WEIGHT:
    case D_WROW: return H5T_NATIVE_FLOAT;
    case D_FLAG:
    case D_RMASK: return H5T_NATIVE_UINT8;
    default: return H5T_NATIVE_INT32;
    }
}

static void store_free(img_vis_store *s)
{
    if (!s) return;
    for (int i = 0; i < D_NROWSETS; i++) {
        if (s->d[i] > 0) H5Dclose(s->d[i]);
        free((void *)s->cm[i].addr);
        free(s->cm[i].size);
    }
    if (s->file > 0) H5Fclose(s->file);
    if (s->fd >= 0) close(s->fd);
    free(s->freq);
    free(s->field_dir);
    free(s->dish);
    free(s->wrow);
    free(s->rmask);
    ib_free(s->wbuf);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static img_vis_store *store_new(void)
{
    img_vis_store *s = ib_calloc(1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < D_NROWSETS; i++) s->d[i] = H5I_INVALID_HID;
    s->file = H5I_INVALID_HID;
    s->fd = -1;
    s->version = IMG_VIS_FORMAT_VERSION;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

/* AIPS Stokes codes the imager knows: 1..4 I Q U V, -1..-4 RR LL RL LR,
 * -5..-8 XX YY XY YX (imaging/fits.c writes them as the Stokes axis). */
static int corr_code_ok(int c) { return (c >= 1 && c <= 4) || (c <= -1 && c >= -8); }

static int validate_meta(ib_err *e, const char *path, const img_vis_meta *m)
{
    if (m->nrow < 1 || m->nchan < 1)
        return ib_error(e, IB_ECORRUPT, "store '%s': nrow and nchan must be >= 1 (got %lld, %lld)",
                        path, (long long)m->nrow, (long long)m->nchan);
    if (m->npol < 1 || m->npol > IMG_MAX_POL)
        return ib_error(e, IB_ECORRUPT, "store '%s': npol must be 1..%d, got %d", path,
                        IMG_MAX_POL, m->npol);
    if (m->nfield < 1 || m->nfield > 1000000)
        return ib_error(e, IB_ECORRUPT, "store '%s': nfield must be 1..1000000, got %d", path,
                        m->nfield);
    if (m->nant < 1 || m->nant > 100000)
        return ib_error(e, IB_ECORRUPT, "store '%s': nant must be 1..100000, got %d", path,
                        m->nant);
    size_t total;
    if (ib_mul3_size((size_t)m->nrow, (size_t)m->nchan, (size_t)m->npol * 8, &total) ||
        total > ((size_t)1 << 52))
        return ib_error(e, IB_EOVERFLOW, "store '%s': shape %lld x %lld x %d is too large",
                        path, (long long)m->nrow, (long long)m->nchan, m->npol);
    return 0;
}

static int validate_corr(ib_err *e, const char *path, const img_vis_meta *m)
{
    for (int p = 0; p < m->npol; p++)
        if (!corr_code_ok(m->corr[p]))
            return ib_error(e, IB_ECORRUPT,
                            "store '%s': attribute 'corr' value %d (pol %d) is not a Stokes code "
                            "(1..4 for I Q U V, -1..-8 for RR LL RL LR XX YY XY YX)",
                            path, m->corr[p], p);
    return 0;
}

/* ---------- attributes ---------- */

static int put_attr(hid_t obj, const char *name, hid_t type, hsize_t n, const void *v)
{
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return r < 0 ? -1 : 0;
}

static int put_str_attr(hid_t obj, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, t, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    return r < 0 ? -1 : 0;
}

/* Read a numeric attribute of exactly n elements. */
static int get_attr(ib_err *e, const char *path, hid_t obj, const char *name, hid_t type,
                    hsize_t n, void *v)
{
    if (H5Aexists(obj, name) <= 0)
        return ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' is missing", path, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a);
    hssize_t np = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int rc = 0;
    if (np != (hssize_t)n)
        rc = ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' has %lld values, expected %llu",
                      path, name, (long long)np, (unsigned long long)n);
    else if (H5Aread(a, type, v) < 0)
        rc = ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' cannot be read", path, name);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return rc;
}

static int get_str_attr(ib_err *e, const char *path, hid_t obj, const char *name, char *out,
                        size_t n)
{
    out[0] = '\0';
    if (H5Aexists(obj, name) <= 0)
        return ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' is missing", path, name);
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a < 0 ? -1 : H5Aget_type(a);
    int rc = 0;
    if (t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) > 0) {
        rc = ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' is not a fixed string", path,
                      name);
    } else {
        size_t sz = H5Tget_size(t);
        char *buf = ib_calloc(sz + 1, 1);
        if (!buf) rc = ib_error(e, IB_ENOMEM, "out of memory reading '%s'", path);
        else if (H5Aread(a, t, buf) < 0)
            rc = ib_error(e, IB_ECORRUPT, "store '%s': attribute '%s' cannot be read", path, name);
        else
            snprintf(out, n, "%s", buf);
        free(buf);
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* ---------- small whole datasets ---------- */

static int put_small(ib_err *e, img_vis_store *s, const char *name, hsize_t n0, hsize_t n1,
                     const double *v)
{
    hsize_t dims[2] = {n0, n1};
    int rank = n1 ? 2 : 1;
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(s->file, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    herr_t r = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(sp);
    if (r < 0)
        return ib_error(e, IB_EIO, "store '%s': cannot write dataset '/%s'", s->tmppath, name);
    return 0;
}

static int get_small(ib_err *e, img_vis_store *s, const char *name, hsize_t n0, hsize_t n1,
                     double **out)
{
    *out = NULL;
    if (H5Lexists(s->file, name, H5P_DEFAULT) <= 0)
        return ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s' is missing", s->path, name);
    hid_t d = H5Dopen2(s->file, name, H5P_DEFAULT);
    hid_t sp = d < 0 ? -1 : H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
    int rc = 0;
    if (rank == (n1 ? 2 : 1)) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (rank != (n1 ? 2 : 1) || dims[0] != n0 || (n1 && dims[1] != n1)) {
        rc = ib_error(e, IB_ECORRUPT,
                      "store '%s': dataset '/%s' has the wrong shape (expected %llu%s%llu)",
                      s->path, name, (unsigned long long)n0, n1 ? " x " : "",
                      (unsigned long long)(n1 ? n1 : 0));
    } else {
        *out = ib_malloc(sizeof(double) * n0 * (n1 ? n1 : 1));
        if (!*out) rc = ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0)
            rc = ib_error(e, IB_ECORRUPT,
                          "store '%s': dataset '/%s' cannot be read (truncated or checksum "
                          "mismatch)", s->path, name);
    }
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int dup_arrays(ib_err *e, img_vis_store *s, const double *freq, const double *fd,
                      const double *dish)
{
    const img_vis_meta *m = &s->meta;
    s->freq = ib_malloc(sizeof(double) * (size_t)m->nchan);
    s->field_dir = ib_malloc(sizeof(double) * 2 * (size_t)m->nfield);
    s->dish = ib_malloc(sizeof(double) * (size_t)m->nant);
    if (!s->freq || !s->field_dir || !s->dish)
        return ib_error(e, IB_ENOMEM, "out of memory creating store '%s'", s->path);
    memcpy(s->freq, freq, sizeof(double) * (size_t)m->nchan);
    memcpy(s->field_dir, fd, sizeof(double) * 2 * (size_t)m->nfield);
    memcpy(s->dish, dish, sizeof(double) * (size_t)m->nant);
    return 0;
}

/* Errors are ours to report, not HDF5's to print. And no HDF5 clean-up
 * at exit: after a close that failed to flush (disk full, ulimit -f),
 * HDF5 1.10 frees the file but keeps its id, and its exit handler then
 * closes it again and crashes (HDFFV-11052, fixed in 1.14.1). Every file
 * is closed explicitly; H5dont_atexit only takes effect as the first
 * HDF5 call of the process and is harmless otherwise. */
static void silence_hdf5(void)
{
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* ---------- slabs through HDF5 (writes; reads without direct access) ---------- */

/* Select [a0,a0+n0) along the first dimension and, for the spectral
 * datasets, [b0,b0+n1) along the second (rows, or flag bytes); the
 * remaining dimensions whole. */
static int select_slab(img_vis_store *s, int i, int64_t a0, int64_t n0, int64_t b0, int64_t n1,
                       hid_t *fsp, hid_t *msp)
{
    hsize_t dims[4], start[4] = {0, 0, 0, 0}, count[4];
    int rank = row_dims(&s->meta, s->version, i, dims);
    for (int k = 0; k < rank; k++) count[k] = dims[k];
    start[0] = (hsize_t)a0;
    count[0] = (hsize_t)n0;
    if (is_spectral(i)) {
        start[1] = (hsize_t)b0;
        count[1] = (hsize_t)n1;
    }
    *fsp = H5Dget_space(s->d[i]);
    if (*fsp < 0) return -1;
    if (H5Sselect_hyperslab(*fsp, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
        H5Sclose(*fsp);
        return -1;
    }
    *msp = H5Screate_simple(rank, count, NULL);
    return 0;
}

/* Caller holds s->lock. */
static int rw_slab(ib_err *e, img_vis_store *s, int i, int64_t a0, int64_t n0, int64_t b0,
                   int64_t n1, void *buf, int write)
{
    hid_t fsp, msp;
    if (select_slab(s, i, a0, n0, b0, n1, &fsp, &msp) < 0)
        return ib_error(e, IB_EIO, "store '%s': bad selection on '/%s'", s->path, dname(s, i));
    herr_t r = write ? H5Dwrite(s->d[i], row_type(i), msp, fsp, H5P_DEFAULT, buf)
                     : H5Dread(s->d[i], row_type(i), msp, fsp, H5P_DEFAULT, buf);
    H5Sclose(msp);
    H5Sclose(fsp);
    if (r < 0) {
        if (write)
            return ib_error(e, IB_EIO, "store '%s': cannot write dataset '/%s' (disk full?)",
                            s->tmppath, dname(s, i));
        return ib_error(e, IB_ECORRUPT,
                        "store '%s': dataset '/%s' cannot be read (truncated file or checksum "
                        "mismatch)", s->path, dname(s, i));
    }
    return 0;
}

static int rw_rows(ib_err *e, img_vis_store *s, int i, int64_t row0, int64_t n, void *buf,
                   int write)
{
    return rw_slab(e, s, i, row0, n, 0, 0, buf, write);
}

/* ---------- create and write ---------- */

int64_t img_vis_chunk_rows(int64_t nrow)
{
    if (nrow < 1) return 8;
    int64_t nblk = (nrow + IMG_VIS_ROW_CHUNK - 1) / IMG_VIS_ROW_CHUNK;
    int64_t rows = (nrow + nblk - 1) / nblk;
    return (rows + 7) / 8 * 8;
}

static int vis_create(ib_err *e, const char *dir, const img_vis_meta *meta, const double *freq,
                      const double *field_dir, const double *dish, int version,
                      img_vis_store **out)
{
    *out = NULL;
    silence_hdf5();
    if (version != 2 && version != 3)
        return ib_error(e, IB_EINVAL, "store in '%s': cannot write format_version %d (2 or 3)",
                        dir, version);
    int rc = ib_mkdir_p(e, dir);
    if (rc) return rc;
    img_vis_store *s = store_new();
    if (!s) return ib_error(e, IB_ENOMEM, "out of memory creating store in '%s'", dir);
    s->writing = 1;
    s->version = version;
    s->meta = *meta;
    if ((rc = ib_path_join(e, s->path, sizeof s->path, dir, "vis.h5")) ||
        (rc = ib_path_join(e, s->tmppath, sizeof s->tmppath, dir, "vis.h5.tmp")) ||
        (rc = validate_meta(e, s->path, meta)) || (rc = validate_corr(e, s->path, meta)) ||
        (rc = dup_arrays(e, s, freq, field_dir, dish)))
        goto fail;
    s->file = H5Fcreate(s->tmppath, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (s->file < 0) {
        rc = ib_error(e, IB_EIO, "store '%s': cannot create file", s->tmppath);
        goto fail;
    }
    int nxy[2] = {meta->image_nx, meta->image_ny};
    int64_t shape[2] = {meta->nrow, meta->nchan};
    int counts[3] = {meta->npol, meta->nfield, meta->nant};
    if (put_attr(s->file, "format_version", H5T_NATIVE_INT, 1, &version) ||
        put_str_attr(s->file, "dataset", meta->dataset) ||
        put_str_attr(s->file, "telescope", meta->telescope) ||
        put_attr(s->file, "shape", H5T_NATIVE_INT64, 2, shape) ||
        put_attr(s->file, "npol_nfield_nant", H5T_NATIVE_INT, 3, counts) ||
        put_attr(s->file, "corr", H5T_NATIVE_INT, (hsize_t)meta->npol, meta->corr) ||
        put_attr(s->file, "phase_centre", H5T_NATIVE_DOUBLE, 2, meta->phase_centre) ||
        put_attr(s->file, "image_nxy", H5T_NATIVE_INT, 2, nxy) ||
        put_attr(s->file, "cell_arcsec", H5T_NATIVE_DOUBLE, 1, &meta->cell_arcsec)) {
        rc = ib_error(e, IB_EIO, "store '%s': cannot write attributes", s->tmppath);
        goto fail;
    }
    if ((rc = put_small(e, s, "freq", (hsize_t)meta->nchan, 0, freq)) ||
        (rc = put_small(e, s, "field_dir", (hsize_t)meta->nfield, 2, field_dir)) ||
        (rc = put_small(e, s, "dish_diameter", (hsize_t)meta->nant, 0, dish)))
        goto fail;
    for (int i = 0; i < D_NROWSETS; i++) {
        if (!dname(s, i)) continue;
        hsize_t dims[4], chunk[4];
        int rank = row_dims(meta, version, i, dims);
        /* Spectral datasets: 4 channels x img_vis_chunk_rows rows (flag
         * bits: the bytes of those rows); the others 8 x IMG_VIS_ROW_CHUNK
         * rows. Writers that fill whole multiples of img_vis_chunk_rows rows
         * never leave a chunk half written. */
        int rdim = is_spectral(i) ? 1 : 0;
        const hsize_t ck = (hsize_t)img_vis_chunk_rows(meta->nrow);
        for (int k = 0; k < rank; k++) chunk[k] = dims[k];
        if (rdim) chunk[0] = dims[0] < 4 ? dims[0] : 4;
        hsize_t rows = rdim ? ck : 8 * IMG_VIS_ROW_CHUNK;
        if (i == D_FLAG && version >= 3) rows = ck * (hsize_t)meta->npol / 8;
        chunk[rdim] = dims[rdim] < rows ? dims[rdim] : rows;
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, rank, chunk);
        H5Pset_fletcher32(pl);
        s->d[i] = H5Dcreate2(s->file, dname(s, i), row_type(i), sp, H5P_DEFAULT, pl,
                             H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
        if (s->d[i] < 0) {
            rc = ib_error(e, IB_EIO, "store '%s': cannot create dataset '/%s'", s->tmppath,
                          dname(s, i));
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    img_vis_abort(s);
    return rc;
}

int img_vis_create(ib_err *e, const char *dir, const img_vis_meta *meta, const double *freq,
                   const double *field_dir, const double *dish, img_vis_store **out)
{
    return vis_create(e, dir, meta, freq, field_dir, dish, IMG_VIS_FORMAT_VERSION, out);
}

int img_vis_create_format(ib_err *e, const char *dir, const img_vis_meta *meta,
                          const double *freq, const double *field_dir, const double *dish,
                          int version, img_vis_store **out)
{
    return vis_create(e, dir, meta, freq, field_dir, dish, version, out);
}

/* Row-major caller buffer (row, chan, es bytes) -> channel-major (chan, row). */
static void to_chan_major(char *dst, const char *src, size_t nn, size_t nc, size_t es)
{
    if (es == 8) {
        const uint64_t *sv = (const uint64_t *)(const void *)src;
        uint64_t *dv = (uint64_t *)(void *)dst;
        for (size_t r = 0; r < nn; r++)
            for (size_t c = 0; c < nc; c++) dv[c * nn + r] = sv[r * nc + c];
        return;
    }
    for (size_t r = 0; r < nn; r++)
        for (size_t c = 0; c < nc; c++) memcpy(dst + (c * nn + r) * es, src + (r * nc + c) * es, es);
}

/* Format 3: the flags of rows [row0, row0+n) as bits (row*npol + pol) of
 * /flag_bits, one byte column per 8 bits. A byte shared with rows outside
 * the block is read back and only this block's bits changed. */
static int write_flag_bits(ib_err *e, img_vis_store *s, int64_t row0, int64_t n,
                           const uint8_t *flag, uint8_t *tbuf)
{
    const size_t np = (size_t)s->meta.npol, nc = (size_t)s->meta.nchan;
    const uint64_t bit0 = (uint64_t)row0 * np, bit1 = (uint64_t)(row0 + n) * np;
    const uint64_t byte0 = bit0 / 8, byte1 = (bit1 + 7) / 8, nb = byte1 - byte0;
    const unsigned off = (unsigned)(bit0 % 8);
    memset(tbuf, 0, nc * nb);
    int rc = 0;
    uint8_t *col = NULL;
    int edge0 = off != 0, edge1 = (bit1 % 8) != 0 && byte1 < flag_bytes(&s->meta);
    if (edge0 || edge1) {
        col = ib_malloc(nc);
        if (!col) return ib_error(e, IB_ENOMEM, "out of memory writing '%s'", s->tmppath);
        /* keep the other rows' bits of the shared bytes */
        if (edge0 && !(rc = rw_slab(e, s, D_FLAG, 0, (int64_t)nc, (int64_t)byte0, 1, col, 0)))
            for (size_t c = 0; c < nc; c++) tbuf[c * nb] = col[c] & (uint8_t)((1u << off) - 1);
        if (!rc && edge1 &&
            !(rc = rw_slab(e, s, D_FLAG, 0, (int64_t)nc, (int64_t)byte1 - 1, 1, col, 0))) {
            uint8_t keep = (uint8_t)~((1u << (bit1 % 8)) - 1);
            for (size_t c = 0; c < nc; c++) tbuf[c * nb + nb - 1] |= col[c] & keep;
        }
        free(col);
        if (rc) return rc;
    }
    for (size_t r = 0; r < (size_t)n; r++)
        for (size_t c = 0; c < nc; c++) {
            const uint8_t *f = flag + (r * nc + c) * np;
            uint8_t *row = tbuf + c * nb;
            for (size_t p = 0; p < np; p++)
                if (f[p]) {
                    size_t b = off + r * np + p;
                    row[b >> 3] |= (uint8_t)(1u << (b & 7));
                }
        }
    return rw_slab(e, s, D_FLAG, 0, (int64_t)nc, (int64_t)byte0, (int64_t)nb, tbuf, 1);
}

int img_vis_write_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n, const double *uvw,
                       const float *vis, const float *weight, const uint8_t *flag,
                       const int32_t *field, const int32_t *ant1, const int32_t *ant2,
                       const double *time)
{
    if (!s->writing)
        return ib_error(e, IB_EINVAL, "store '%s' is open for reading", s->path);
    if (row0 < 0 || n < 0 || row0 + n > s->meta.nrow)
        return ib_error(e, IB_EINVAL, "store '%s': rows %lld..%lld outside 0..%lld", s->path,
                        (long long)row0, (long long)(row0 + n), (long long)s->meta.nrow);
    if (n == 0) return 0;
    size_t nc = (size_t)s->meta.nchan, np = (size_t)s->meta.npol, nn = (size_t)n;
    size_t want = nn * nc * np * 8;
    if (s->wbuf_n < want) {
        ib_free(s->wbuf);
        s->wbuf = ib_alloc_huge(want);
        s->wbuf_n = s->wbuf ? want : 0;
    }
    char *tbuf = s->wbuf;
    float *wrow = ib_malloc(nn * np * sizeof(float));
    uint8_t *rmask = ib_malloc(nn);
    int rc = 0;
    if (!tbuf || !wrow || !rmask) {
        rc = ib_error(e, IB_ENOMEM, "out of memory writing '%s'", s->tmppath);
        goto out;
    }
    pthread_mutex_lock(&s->lock);
    const void *rowbufs[] = {uvw, field, ant1, ant2, time};
    const int rowids[] = {D_UVW, D_FIELD, D_ANT1, D_ANT2, D_TIME};
    for (int k = 0; k < 5 && !rc; k++) rc = rw_rows(e, s, rowids[k], row0, n, (void *)rowbufs[k], 1);
    if (!rc) {
        to_chan_major(tbuf, (const char *)vis, nn, nc, 8 * np);
        rc = rw_slab(e, s, D_VIS, 0, (int64_t)nc, row0, n, tbuf, 1);
    }
    if (!rc && s->version == 2) {
        to_chan_major(tbuf, (const char *)weight, nn, nc, 4 * np);
        rc = rw_slab(e, s, D_WEIGHT, 0, (int64_t)nc, row0, n, tbuf, 1);
        if (!rc) {
            to_chan_major(tbuf, (const char *)flag, nn, nc, np);
            rc = rw_slab(e, s, D_FLAG, 0, (int64_t)nc, row0, n, tbuf, 1);
        }
    } else if (!rc) {
        int anyspec = 0, anyflag = 0;
        for (size_t r = 0; r < nn; r++) {
            const float *w = weight + r * nc * np;
            const uint8_t *f = flag + r * nc * np;
            unsigned m = 0;
            /* bitwise: a weight is constant when every channel has its bits */
            if (memcmp(w, w + np, (nc - 1) * np * sizeof(float)) != 0) {
                for (size_t c = 1; c < nc && !(m & RM_WSPEC); c++)
                    if (memcmp(w, w + c * np, np * sizeof(float)) != 0) m |= RM_WSPEC;
            }
            for (size_t k = 0; k < nc * np; k++)
                if (f[k]) {
                    m |= RM_FLAG;
                    break;
                }
            memcpy(wrow + r * np, w, np * sizeof(float));
            rmask[r] = (uint8_t)m;
            anyspec |= (m & RM_WSPEC) != 0;
            anyflag |= (m & RM_FLAG) != 0;
        }
        rc = rw_rows(e, s, D_WROW, row0, n, wrow, 1);
        if (!rc) rc = rw_rows(e, s, D_RMASK, row0, n, rmask, 1);
        /* Per-sample weights and flag bits only where a row needs them:
         * chunks never written take no space and read as zero. */
        if (!rc && anyspec) {
            to_chan_major(tbuf, (const char *)weight, nn, nc, 4 * np);
            rc = rw_slab(e, s, D_WEIGHT, 0, (int64_t)nc, row0, n, tbuf, 1);
        }
        if (!rc && anyflag) rc = write_flag_bits(e, s, row0, n, flag, (uint8_t *)tbuf);
    }
    pthread_mutex_unlock(&s->lock);
out:
    free(wrow);
    free(rmask);
    return rc;
}

void img_vis_abort(img_vis_store *s)
{
    if (!s) return;
    int writing = s->writing;
    char tmp[PATH_MAX];
    memcpy(tmp, s->tmppath, sizeof tmp);
    store_free(s);
    if (writing && tmp[0]) unlink(tmp);
}

int img_vis_close(ib_err *e, img_vis_store *s)
{
    if (!s) return 0;
    if (!s->writing) {
        store_free(s);
        return 0;
    }
    int rc = 0;
    for (int i = 0; i < D_NROWSETS; i++) {
        if (s->d[i] > 0 && H5Dclose(s->d[i]) < 0 && !rc)
            rc = ib_error(e, IB_EIO, "store '%s': cannot finish dataset '/%s' (disk full?)",
                          s->tmppath, dname(s, i));
        s->d[i] = H5I_INVALID_HID;
    }
    if (s->file > 0 && H5Fclose(s->file) < 0 && !rc)
        rc = ib_error(e, IB_EIO, "store '%s': cannot close file (disk full?)", s->tmppath);
    s->file = H5I_INVALID_HID;
    if (!rc && rename(s->tmppath, s->path) != 0)
        rc = ib_error(e, IB_EIO, "store '%s': cannot rename into place", s->path);
    if (rc) unlink(s->tmppath);
    s->writing = 0;
    store_free(s);
    return rc;
}

/* ---------- direct chunk reads ---------- */

/* HDF5's fletcher32 (H5_checksum_fletcher32): 16-bit big-endian words. */
static uint32_t fletcher32(const uint8_t *data, size_t nbytes)
{
    size_t len = nbytes / 2;
    uint32_t sum1 = 0, sum2 = 0;
    while (len) {
        size_t tlen = len > 360 ? 360 : len;
        len -= tlen;
        do {
            sum1 += (uint32_t)(((uint32_t)data[0] << 8) | data[1]);
            data += 2;
            sum2 += sum1;
        } while (--tlen);
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    if (nbytes % 2) {
        sum1 += (uint32_t)data[0] << 8;
        sum2 += sum1;
        sum1 = (sum1 & 0xffff) + (sum1 >> 16);
        sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    }
    sum1 = (sum1 & 0xffff) + (sum1 >> 16);
    sum2 = (sum2 & 0xffff) + (sum2 >> 16);
    return (sum2 << 16) | sum1;
}

/* Set up direct reads of spectral dataset i when it is chunked along the
 * first two dimensions only and filtered by fletcher32 alone. */
static void chunk_map_init(img_vis_store *s, int i, haddr_t base)
{
    chunk_map *m = &s->cm[i];
    memset(m, 0, sizeof *m);
    hsize_t dims[4] = {0, 0, 0, 0}, cd[4] = {0, 0, 0, 0};
    int rank = row_dims(&s->meta, s->version, i, dims);
    if (rank < 2) return;
    hid_t pl = H5Dget_create_plist(s->d[i]);
    if (pl < 0) return;
    int ok = H5Pget_layout(pl) == H5D_CHUNKED && H5Pget_chunk(pl, rank, cd) == rank &&
             H5Pget_nfilters(pl) == 1;
    if (ok) {
        unsigned flags = 0;
        size_t ncd = 0;
        unsigned cdv[1];
        char nm[32];
        unsigned fc = 0;
        ok = H5Pget_filter2(pl, 0, &flags, &ncd, cdv, sizeof nm, nm, &fc) == H5Z_FILTER_FLETCHER32;
    }
    H5Pclose(pl);
    size_t inner = H5Tget_size(row_type(i));
    for (int k = 2; ok && k < rank; k++) {
        ok = cd[k] == dims[k];
        inner *= (size_t)dims[k];
    }
    if (!ok || base != 0 || cd[0] < 1 || cd[1] < 1) return;
    m->k0 = cd[0];
    m->k1 = cd[1];
    m->n0 = dims[0];
    m->n1 = dims[1];
    m->inner = inner;
    m->nck1 = (size_t)((dims[1] + cd[1] - 1) / cd[1]);
    size_t nck = (size_t)((dims[0] + cd[0] - 1) / cd[0]) * m->nck1;
    m->addr = calloc(nck, sizeof *m->addr);
    m->size = calloc(nck, sizeof *m->size);
    m->ok = m->addr && m->size;
}

/* Where chunk (ci, cj) of dataset i is: 0 and *addr (0: not allocated,
 * reads as zeros), 1 when it cannot be read directly, or an error. */
static int chunk_where(ib_err *e, img_vis_store *s, int i, size_t ci, size_t cj, uint64_t *addr,
                       size_t *size)
{
    chunk_map *m = &s->cm[i];
    size_t idx = ci * m->nck1 + cj;
    uint64_t a = atomic_load_explicit(&m->addr[idx], memory_order_acquire);
    if (!a) {
        pthread_mutex_lock(&s->lock);
        a = atomic_load_explicit(&m->addr[idx], memory_order_relaxed);
        if (!a) {
            hsize_t off[4] = {(hsize_t)ci * m->k0, (hsize_t)cj * m->k1, 0, 0};
            unsigned mask = 0;
            haddr_t ad = HADDR_UNDEF;
            hsize_t sz = 0;
            size_t want = (size_t)(m->k0 * m->k1) * m->inner + 4;
            if (H5Dget_chunk_info_by_coord(s->d[i], off, &mask, &ad, &sz) < 0) {
                pthread_mutex_unlock(&s->lock);
                return ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s': chunk at channel "
                                "%llu cannot be located (truncated or corrupt file)", s->path,
                                dname(s, i), (unsigned long long)off[0]);
            }
            if (ad == HADDR_UNDEF || sz == 0) {
                a = 1;
            } else if (mask != 0 || sz != want || ad > UINT64_MAX - 2) {
                a = 2; /* stored otherwise: HDF5 reads it */
            } else {
                m->size[idx] = (uint32_t)sz;
                a = (uint64_t)ad + 3;
            }
            atomic_store_explicit(&m->addr[idx], a, memory_order_release);
        }
        pthread_mutex_unlock(&s->lock);
    }
    if (a == 2) return 1;
    *addr = a == 1 ? 0 : a - 3;
    *size = a == 1 ? 0 : m->size[idx];
    return 0;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* [a0,a0+n0) x [b0,b0+n1) of dataset i into out (channel-major, inner
 * bytes per element) by pread of whole chunks: 0, 1 when some chunk must
 * be read through HDF5 instead, or an error. */
static int direct_read(ib_err *e, img_vis_store *s, int i, int64_t a0, int64_t n0, int64_t b0,
                       int64_t n1, void *out)
{
    chunk_map *m = &s->cm[i];
    const size_t inner = m->inner, cbytes = (size_t)(m->k0 * m->k1) * inner;
    uint8_t *buf = ib_malloc(cbytes + 4);
    if (!buf) return ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
    int rc = 0;
    const size_t ci0 = (size_t)a0 / m->k0, ci1 = (size_t)(a0 + n0 - 1) / m->k0;
    const size_t cj0 = (size_t)b0 / m->k1, cj1 = (size_t)(b0 + n1 - 1) / m->k1;
    for (size_t ci = ci0; ci <= ci1 && !rc; ci++)
        for (size_t cj = cj0; cj <= cj1 && !rc; cj++) {
            uint64_t addr = 0;
            size_t size = 0;
            if ((rc = chunk_where(e, s, i, ci, cj, &addr, &size))) break;
            int64_t x0 = (int64_t)(ci * m->k0), x1 = x0 + (int64_t)m->k0;
            int64_t y0 = (int64_t)(cj * m->k1), y1 = y0 + (int64_t)m->k1;
            if (x0 < a0) x0 = a0;
            if (x1 > a0 + n0) x1 = a0 + n0;
            if (y0 < b0) y0 = b0;
            if (y1 > b0 + n1) y1 = b0 + n1;
            size_t len = (size_t)(y1 - y0) * inner;
            if (!addr) {
                for (int64_t x = x0; x < x1; x++)
                    memset((char *)out + ((size_t)(x - a0) * (size_t)n1 + (size_t)(y0 - b0)) * inner,
                           0, len);
                continue;
            }
            if (pread_full(s->fd, buf, size, addr)) {
                rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s' cannot be read at byte "
                              "%llu: %s (truncated file?)", s->path, dname(s, i),
                              (unsigned long long)addr, errno ? strerror(errno) : "short read");
                break;
            }
            uint32_t stored = (uint32_t)buf[cbytes] | (uint32_t)buf[cbytes + 1] << 8 |
                              (uint32_t)buf[cbytes + 2] << 16 | (uint32_t)buf[cbytes + 3] << 24;
            if (fletcher32(buf, cbytes) != stored) {
                rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s': checksum mismatch in "
                              "the chunk at channel %llu (corrupt file)", s->path, dname(s, i),
                              (unsigned long long)(ci * m->k0));
                break;
            }
            for (int64_t x = x0; x < x1; x++)
                memcpy((char *)out + ((size_t)(x - a0) * (size_t)n1 + (size_t)(y0 - b0)) * inner,
                       buf + ((size_t)(x - (int64_t)(ci * m->k0)) * (size_t)m->k1 +
                              (size_t)(y0 - (int64_t)(cj * m->k1))) * inner,
                       len);
        }
    free(buf);
    return rc;
}

/* A spectral slab: directly where possible, else through HDF5 (locked). */
static int read_spec(ib_err *e, img_vis_store *s, int i, int64_t a0, int64_t n0, int64_t b0,
                     int64_t n1, void *out)
{
    if (s->fd >= 0 && s->cm[i].ok) {
        int rc = direct_read(e, s, i, a0, n0, b0, n1, out);
        if (rc != 1) return rc;
    }
    pthread_mutex_lock(&s->lock);
    int rc = rw_slab(e, s, i, a0, n0, b0, n1, out, 0);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---------- open ---------- */

int img_vis_open(ib_err *e, const char *dir, img_vis_store **out)
{
    *out = NULL;
    silence_hdf5();
    img_vis_store *s = store_new();
    if (!s) return ib_error(e, IB_ENOMEM, "out of memory opening store '%s'", dir);
    int rc = ib_path_join(e, s->path, sizeof s->path, dir, "vis.h5");
    if (rc) goto fail;
    if (access(s->path, R_OK) != 0) {
        rc = ib_error(e, IB_ENOTFOUND, "store '%s': no such file (generate it with 'harness gen')",
                      s->path);
        goto fail;
    }
    s->file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0) {
        rc = ib_error(e, IB_ECORRUPT, "store '%s': not a readable HDF5 file (truncated or corrupt)",
                      s->path);
        goto fail;
    }
    img_vis_meta *m = &s->meta;
    int version = 0, nxy[2], counts[3];
    int64_t shape[2];
    if ((rc = get_attr(e, s->path, s->file, "format_version", H5T_NATIVE_INT, 1, &version)))
        goto fail;
    if (version != 2 && version != 3) {
        rc = ib_error(e, IB_EUNSUPPORTED, "store '%s': format_version %d, this imager reads 2 "
                      "and %d (regenerate it with 'harness gen' or 'harness import-ms')",
                      s->path, version, IMG_VIS_FORMAT_VERSION);
        goto fail;
    }
    s->version = version;
    if ((rc = get_str_attr(e, s->path, s->file, "dataset", m->dataset, sizeof m->dataset)) ||
        (rc = get_str_attr(e, s->path, s->file, "telescope", m->telescope, sizeof m->telescope)) ||
        (rc = get_attr(e, s->path, s->file, "shape", H5T_NATIVE_INT64, 2, shape)) ||
        (rc = get_attr(e, s->path, s->file, "npol_nfield_nant", H5T_NATIVE_INT, 3, counts)))
        goto fail;
    m->nrow = shape[0];
    m->nchan = shape[1];
    m->npol = counts[0];
    m->nfield = counts[1];
    m->nant = counts[2];
    if ((rc = validate_meta(e, s->path, m)) ||
        (rc = get_attr(e, s->path, s->file, "corr", H5T_NATIVE_INT, (hsize_t)m->npol, m->corr)) ||
        (rc = validate_corr(e, s->path, m)) ||
        (rc = get_attr(e, s->path, s->file, "phase_centre", H5T_NATIVE_DOUBLE, 2,
                       m->phase_centre)) ||
        (rc = get_attr(e, s->path, s->file, "image_nxy", H5T_NATIVE_INT, 2, nxy)) ||
        (rc = get_attr(e, s->path, s->file, "cell_arcsec", H5T_NATIVE_DOUBLE, 1,
                       &m->cell_arcsec)))
        goto fail;
    m->image_nx = nxy[0];
    m->image_ny = nxy[1];
    if ((rc = get_small(e, s, "freq", (hsize_t)m->nchan, 0, &s->freq)) ||
        (rc = get_small(e, s, "field_dir", (hsize_t)m->nfield, 2, &s->field_dir)) ||
        (rc = get_small(e, s, "dish_diameter", (hsize_t)m->nant, 0, &s->dish)))
        goto fail;
    for (int64_t c = 0; c < m->nchan; c++)
        if (!(s->freq[c] > 0 && s->freq[c] < 1e15)) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/freq' value %lld is %g Hz",
                          s->path, (long long)c, s->freq[c]);
            goto fail;
        }
    for (int i = 0; i < D_NROWSETS; i++) {
        if (!dname(s, i)) continue;
        if (H5Lexists(s->file, dname(s, i), H5P_DEFAULT) <= 0) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s' is missing", s->path,
                          dname(s, i));
            goto fail;
        }
        /* Every chunk of the spectral datasets is read once per run: no
         * chunk cache (its 1 MB per dataset only costs page faults). */
        hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
        if (dapl >= 0 && is_spectral(i))
            H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0,
                               H5D_CHUNK_CACHE_W0_DEFAULT);
        s->d[i] = H5Dopen2(s->file, dname(s, i), dapl >= 0 ? dapl : H5P_DEFAULT);
        if (dapl >= 0) H5Pclose(dapl);
        hsize_t want[4], got[4] = {0, 0, 0, 0};
        int rank = row_dims(m, s->version, i, want);
        hid_t sp = s->d[i] < 0 ? -1 : H5Dget_space(s->d[i]);
        int grank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
        if (grank == rank) H5Sget_simple_extent_dims(sp, got, NULL);
        if (sp >= 0) H5Sclose(sp);
        int ok = grank == rank;
        for (int k = 0; ok && k < rank; k++) ok = got[k] == want[k];
        if (ok && s->d[i] >= 0) {
            hid_t t = H5Dget_type(s->d[i]);
            ok = t >= 0 && H5Tget_class(t) == H5Tget_class(row_type(i)) &&
                 H5Tget_size(t) == H5Tget_size(row_type(i));
            if (t >= 0) H5Tclose(t);
        }
        if (!ok) {
            rc = ib_error(e, IB_ECORRUPT,
                          "store '%s': dataset '/%s' has the wrong shape or type for %lld rows x "
                          "%lld channels x %d pols (format %d)", s->path, dname(s, i),
                          (long long)m->nrow, (long long)m->nchan, m->npol, s->version);
            goto fail;
        }
    }
    /* Direct reads: only when the file has no user block (chunk addresses
     * are then file offsets) and the data types are the machine's. */
    const char *how = getenv("IMBENCH_STORE_READ");
    hid_t fcpl = H5Fget_create_plist(s->file);
    hsize_t ub = 1;
    if (fcpl >= 0) {
        if (H5Pget_userblock(fcpl, &ub) < 0) ub = 1;
        H5Pclose(fcpl);
    }
    if (!(how && strcmp(how, "hdf5") == 0) && ub == 0) {
        s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
        for (int i = 0; i < D_NROWSETS && s->fd >= 0; i++)
            if (is_spectral(i)) chunk_map_init(s, i, (haddr_t)ub);
    }
    *out = s;
    return 0;
fail:
    store_free(s);
    return rc;
}

const img_vis_meta *img_vis_meta_get(const img_vis_store *s) { return &s->meta; }
const double *img_vis_freq(const img_vis_store *s) { return s->freq; }
const double *img_vis_field_dir(const img_vis_store *s) { return s->field_dir; }
const double *img_vis_dish(const img_vis_store *s) { return s->dish; }
const char *img_vis_path(const img_vis_store *s) { return s->path; }
int img_vis_format(const img_vis_store *s) { return s->version; }
int img_vis_direct_reads(const img_vis_store *s) { return s->fd >= 0 && s->cm[D_VIS].ok; }

int img_vis_read_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n, double *uvw,
                      int32_t *field, int32_t *ant1, int32_t *ant2, double *time)
{
    if (row0 < 0 || n < 0 || row0 + n > s->meta.nrow)
        return ib_error(e, IB_EINVAL, "store '%s': rows %lld..%lld outside 0..%lld", s->path,
                        (long long)row0, (long long)(row0 + n), (long long)s->meta.nrow);
    void *bufs[D_NROWSETS] = {uvw, NULL, NULL, NULL, field, ant1, ant2, time, NULL, NULL};
    int rc = 0;
    silence_hdf5();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < D_NROWSETS && !rc; i++)
        if (bufs[i] && n) rc = rw_rows(e, s, i, row0, n, bufs[i], 0);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Format 3: /weight_row and /row_mask into memory, once. */
static int load_rows(ib_err *e, img_vis_store *s)
{
    if (atomic_load_explicit(&s->rows_loaded, memory_order_acquire)) return 0;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load_explicit(&s->rows_loaded, memory_order_relaxed)) {
        size_t nr = (size_t)s->meta.nrow, np = (size_t)s->meta.npol;
        float *w = ib_malloc(nr * np * sizeof *w);
        uint8_t *m = ib_malloc(nr);
        if (!w || !m)
            rc = ib_error(e, IB_ENOMEM, "out of memory reading '%s' (%zu MB of row weights)",
                          s->path, nr * (np * 4 + 1) >> 20);
        if (!rc) rc = rw_rows(e, s, D_WROW, 0, s->meta.nrow, w, 0);
        if (!rc) rc = rw_rows(e, s, D_RMASK, 0, s->meta.nrow, m, 0);
        if (rc) {
            free(w);
            free(m);
        } else {
            s->wrow = w;
            s->rmask = m;
            atomic_store_explicit(&s->rows_loaded, 1, memory_order_release);
        }
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* bits8[b]: the 8 bits of b as 8 bytes of 0 or 1, least significant first. */
static uint64_t bits8[256];
static pthread_once_t bits8_once = PTHREAD_ONCE_INIT;
static void bits8_init(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint8_t v[8];
        for (unsigned k = 0; k < 8; k++) v[k] = (uint8_t)((b >> k) & 1u);
        memcpy(&bits8[b], v, 8);
    }
}

/* Format 3 weights and flags of the slab, expanded to one per sample. */
static int read_compact(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr, int64_t chan0,
                        int64_t nc, float *weight, uint8_t *flag, uint64_t *nb)
{
    int rc = load_rows(e, s);
    if (rc) return rc;
    pthread_once(&bits8_once, bits8_init);
    const size_t np = (size_t)s->meta.npol, snr = (size_t)nr, snc = (size_t)nc;
    unsigned any = 0;
    for (int64_t r = row0; r < row0 + nr; r++) any |= s->rmask[r];
    if (weight) {
        const float *wr = s->wrow + (size_t)row0 * np;
        for (size_t c = 0; c < snc; c++) memcpy(weight + c * snr * np, wr, snr * np * sizeof *wr);
        if (any & RM_WSPEC) {
            float *t = ib_malloc(snc * snr * np * sizeof *t);
            if (!t) return ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
            rc = read_spec(e, s, D_WEIGHT, chan0, nc, row0, nr, t);
            if (!rc)
                for (size_t r = 0; r < snr; r++)
                    if (s->rmask[(size_t)row0 + r] & RM_WSPEC)
                        for (size_t c = 0; c < snc; c++)
                            memcpy(weight + (c * snr + r) * np, t + (c * snr + r) * np,
                                   np * sizeof *t);
            free(t);
            if (rc) return rc;
            *nb += (uint64_t)snc * snr * np * 4;
        }
    }
    if (flag) {
        if (!(any & RM_FLAG)) {
            memset(flag, 0, snc * snr * np);
            return 0;
        }
        const uint64_t bit0 = (uint64_t)row0 * np, bit1 = (uint64_t)(row0 + nr) * np;
        const uint64_t byte0 = bit0 / 8, nbyte = (bit1 + 7) / 8 - byte0;
        const unsigned off = (unsigned)(bit0 % 8);
        uint8_t *t = ib_malloc(snc * nbyte);
        if (!t) return ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
        rc = read_spec(e, s, D_FLAG, chan0, nc, (int64_t)byte0, (int64_t)nbyte, t);
        /* whole bytes to 8 flag bytes each by table; a slab that starts
         * inside a byte is unpacked into u and shifted */
        uint8_t *u = off ? ib_malloc(nbyte * 8) : NULL;
        if (!rc && off && !u) rc = ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
        if (!rc) {
            const size_t nbit = snr * np;
            for (size_t c = 0; c < snc; c++) {
                const uint8_t *src = t + c * nbyte;
                uint8_t *dst = flag + c * nbit;
                uint8_t *to = off ? u : dst;
                size_t full = off ? nbyte : nbit / 8;
                for (size_t j = 0; j < full; j++) memcpy(to + 8 * j, &bits8[src[j]], 8);
                if (off) {
                    memcpy(dst, u + off, nbit);
                } else {
                    for (size_t k = full * 8; k < nbit; k++)
                        dst[k] = (uint8_t)((src[k >> 3] >> (k & 7)) & 1u);
                }
            }
            *nb += (uint64_t)snc * nbyte;
        }
        free(u);
        free(t);
    }
    return rc;
}

/* Unflagged samples with a positive weight whose visibility is NaN or
 * infinite would make every plane of their channel NaN: refuse them. */
static int check_finite(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr, int64_t chan0,
                        int64_t nc, const float *vis, const float *weight, const uint8_t *flag)
{
    const size_t n = (size_t)nr * (size_t)nc * (size_t)s->meta.npol;
    int bad = 0;
    for (size_t k = 0; k < 2 * n; k++) bad |= !(fabsf(vis[k]) <= 3.4e38f);
    if (!bad) return 0;
    uint64_t count = 0;
    size_t first = 0;
    for (size_t k = 0; k < n; k++) {
        if (fabsf(vis[2 * k]) <= 3.4e38f && fabsf(vis[2 * k + 1]) <= 3.4e38f) continue;
        if (flag && flag[k]) continue;
        if (weight && !(weight[k] > 0 && isfinite(weight[k]))) continue;
        if (!count) first = k;
        count++;
    }
    if (!count) return 0;
    const size_t np = (size_t)s->meta.npol, snr = (size_t)nr;
    size_t p = first % np, r = (first / np) % snr, c = first / np / snr;
    return ib_error(e, IB_ECORRUPT,
                    "store '%s': %llu unflagged visibilities are NaN or infinite in rows "
                    "%lld..%lld x channels %lld..%lld, the first at row %lld, channel %lld, pol "
                    "%zu (flag them, or fix the data)", s->path, (unsigned long long)count,
                    (long long)row0, (long long)(row0 + nr - 1), (long long)chan0,
                    (long long)(chan0 + nc - 1), (long long)(row0 + (int64_t)r),
                    (long long)(chan0 + (int64_t)c), p);
}

int img_vis_read_chans(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr, int64_t chan0,
                       int64_t nc, float *vis, float *weight, uint8_t *flag, uint64_t *bytes)
{
    if (row0 < 0 || nr < 0 || row0 + nr > s->meta.nrow || chan0 < 0 || nc < 0 ||
        chan0 + nc > s->meta.nchan)
        return ib_error(e, IB_EINVAL, "store '%s': slab rows %lld+%lld chans %lld+%lld outside "
                        "the store", s->path, (long long)row0, (long long)nr, (long long)chan0,
                        (long long)nc);
    if (nr == 0 || nc == 0) return 0;
    if (s->writing) return ib_error(e, IB_EINVAL, "store '%s' is open for writing", s->tmppath);
    silence_hdf5(); /* per thread in a thread-safe HDF5: our message replaces its trace */
    const uint64_t ns = (uint64_t)nr * (uint64_t)nc * (uint64_t)s->meta.npol;
    uint64_t nb = 0;
    int rc = 0;
    if (vis) {
        rc = read_spec(e, s, D_VIS, chan0, nc, row0, nr, vis);
        nb += ns * 8;
    }
    if (!rc && s->version == 2) {
        if (weight && !(rc = read_spec(e, s, D_WEIGHT, chan0, nc, row0, nr, weight))) nb += ns * 4;
        if (!rc && flag && !(rc = read_spec(e, s, D_FLAG, chan0, nc, row0, nr, flag))) nb += ns;
    } else if (!rc) {
        rc = read_compact(e, s, row0, nr, chan0, nc, weight, flag, &nb);
    }
    if (!rc && vis) rc = check_finite(e, s, row0, nr, chan0, nc, vis, weight, flag);
    if (bytes && !rc) *bytes += nb;
    return rc;
}

int img_vis_read_slab(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr, int64_t chan0,
                      int64_t nc, float *vis, float *weight, uint8_t *flag, uint64_t *bytes)
{
    size_t np = (size_t)s->meta.npol, n = (size_t)(nr > 0 ? nr : 0) * (size_t)(nc > 0 ? nc : 0);
    float *tv = vis ? ib_malloc(n * np * 8 + 1) : NULL;
    float *tw = weight ? ib_malloc(n * np * 4 + 1) : NULL;
    uint8_t *tf = flag ? ib_malloc(n * np + 1) : NULL;
    int rc = 0;
    if ((vis && !tv) || (weight && !tw) || (flag && !tf))
        rc = ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
    if (!rc) rc = img_vis_read_chans(e, s, row0, nr, chan0, nc, tv, tw, tf, bytes);
    void *bufs[3] = {vis, weight, flag};
    const void *tmp[3] = {tv, tw, tf};
    const size_t per[3] = {8, 4, 1};
    for (int k = 0; k < 3 && !rc; k++) {
        if (!bufs[k]) continue;
        /* channel-major -> row-major */
        size_t es = per[k] * np;
        for (size_t c = 0; c < (size_t)nc; c++)
            for (size_t r = 0; r < (size_t)nr; r++)
                memcpy((char *)bufs[k] + (r * (size_t)nc + c) * es,
                       (const char *)tmp[k] + (c * (size_t)nr + r) * es, es);
    }
    free(tv);
    free(tw);
    free(tf);
    return rc;
}
