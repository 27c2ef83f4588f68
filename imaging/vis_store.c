/*
 * vis_store.c: the HDF5 visibility store. Writers create DIR/vis.h5.tmp,
 * fill row blocks and rename on close; readers validate every dataset's
 * presence and shape on open and then read row metadata or one chunk's
 * channel slab. All HDF5 calls on one store are serialised by a mutex.
 */
#define _GNU_SOURCE
#include "imaging/imaging.h"

#include <hdf5.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { D_UVW, D_VIS, D_WEIGHT, D_FLAG, D_FIELD, D_ANT1, D_ANT2, D_TIME, D_NROWSETS };

static const char *const row_names[D_NROWSETS] = {
    "uvw", "vis", "weight", "flag", "field", "antenna1", "antenna2", "time"};

struct img_vis_store {
    hid_t file;
    hid_t d[D_NROWSETS];
    int writing;
    char path[PATH_MAX];
    char tmppath[PATH_MAX];
    img_vis_meta meta;
    double *freq, *field_dir, *dish;
    pthread_mutex_t lock;
};

/* Rank and dims of each dataset for a given shape. The spectral datasets
 * are channel-major (chan, row, pol) so one channel chunk is contiguous. */
static int row_dims(const img_vis_meta *m, int which, hsize_t dims[4])
{
    dims[0] = (hsize_t)m->nrow;
    switch (which) {
    case D_UVW: dims[1] = 3; return 2;
    case D_VIS:
        dims[0] = (hsize_t)m->nchan; dims[1] = (hsize_t)m->nrow;
        dims[2] = (hsize_t)m->npol; dims[3] = 2; return 4;
    case D_WEIGHT:
    case D_FLAG:
        dims[0] = (hsize_t)m->nchan; dims[1] = (hsize_t)m->nrow;
        dims[2] = (hsize_t)m->npol; return 3;
    default: return 1;
    }
}

static int is_spectral(int which) { return which == D_VIS || which == D_WEIGHT || which == D_FLAG; }

static hid_t row_type(int which)
{
    switch (which) {
    case D_UVW:
    case D_TIME: return H5T_NATIVE_DOUBLE;
    case D_VIS:
    case D_WEIGHT: return H5T_NATIVE_FLOAT;
    case D_FLAG: return H5T_NATIVE_UINT8;
    default: return H5T_NATIVE_INT32;
    }
}

static void store_free(img_vis_store *s)
{
    if (!s) return;
    for (int i = 0; i < D_NROWSETS; i++)
        if (s->d[i] > 0) H5Dclose(s->d[i]);
    if (s->file > 0) H5Fclose(s->file);
    free(s->freq);
    free(s->field_dir);
    free(s->dish);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static img_vis_store *store_new(void)
{
    img_vis_store *s = ib_calloc(1, sizeof *s);
    if (!s) return NULL;
    for (int i = 0; i < D_NROWSETS; i++) s->d[i] = H5I_INVALID_HID;
    s->file = H5I_INVALID_HID;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

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

int img_vis_create(ib_err *e, const char *dir, const img_vis_meta *meta, const double *freq,
                   const double *field_dir, const double *dish, img_vis_store **out)
{
    *out = NULL;
    silence_hdf5();
    int rc = ib_mkdir_p(e, dir);
    if (rc) return rc;
    img_vis_store *s = store_new();
    if (!s) return ib_error(e, IB_ENOMEM, "out of memory creating store in '%s'", dir);
    s->writing = 1;
    s->meta = *meta;
    if ((rc = ib_path_join(e, s->path, sizeof s->path, dir, "vis.h5")) ||
        (rc = ib_path_join(e, s->tmppath, sizeof s->tmppath, dir, "vis.h5.tmp")) ||
        (rc = validate_meta(e, s->path, meta)) ||
        (rc = dup_arrays(e, s, freq, field_dir, dish)))
        goto fail;
    s->file = H5Fcreate(s->tmppath, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (s->file < 0) {
        rc = ib_error(e, IB_EIO, "store '%s': cannot create file", s->tmppath);
        goto fail;
    }
    int version = IMG_VIS_FORMAT_VERSION, nxy[2] = {meta->image_nx, meta->image_ny};
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
        hsize_t dims[4], chunk[4];
        int rank = row_dims(meta, i, dims);
        /* Spectral datasets: 4 channels x IMG_VIS_ROW_CHUNK rows; the others
         * 8 x IMG_VIS_ROW_CHUNK rows. Writers that fill whole multiples of
         * IMG_VIS_ROW_CHUNK rows never leave a chunk half written. */
        int rdim = is_spectral(i) ? 1 : 0;
        for (int k = 0; k < rank; k++) chunk[k] = dims[k];
        if (rdim) chunk[0] = dims[0] < 4 ? dims[0] : 4;
        hsize_t rows = rdim ? IMG_VIS_ROW_CHUNK : 8 * IMG_VIS_ROW_CHUNK;
        chunk[rdim] = dims[rdim] < rows ? dims[rdim] : rows;
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(pl, rank, chunk);
        H5Pset_fletcher32(pl);
        s->d[i] = H5Dcreate2(s->file, row_names[i], row_type(i), sp, H5P_DEFAULT, pl,
                             H5P_DEFAULT);
        H5Pclose(pl);
        H5Sclose(sp);
        if (s->d[i] < 0) {
            rc = ib_error(e, IB_EIO, "store '%s': cannot create dataset '/%s'", s->tmppath,
                          row_names[i]);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    img_vis_abort(s);
    return rc;
}

/* Select rows [row0,row0+n) x channels [c0,c0+nc) of dataset i. */
static int select_slab(img_vis_store *s, int i, int64_t row0, int64_t n, int64_t c0,
                       int64_t nc, hid_t *fsp, hid_t *msp)
{
    hsize_t dims[4], start[4] = {0, 0, 0, 0}, count[4];
    int rank = row_dims(&s->meta, i, dims);
    for (int k = 0; k < rank; k++) count[k] = dims[k];
    if (is_spectral(i)) {
        start[0] = (hsize_t)c0;
        count[0] = (hsize_t)nc;
        start[1] = (hsize_t)row0;
        count[1] = (hsize_t)n;
    } else {
        start[0] = (hsize_t)row0;
        count[0] = (hsize_t)n;
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

static int rw_rows(ib_err *e, img_vis_store *s, int i, int64_t row0, int64_t n, int64_t c0,
                   int64_t nc, void *buf, int write)
{
    hid_t fsp, msp;
    if (select_slab(s, i, row0, n, c0, nc, &fsp, &msp) < 0)
        return ib_error(e, IB_EIO, "store '%s': bad selection on '/%s'", s->path, row_names[i]);
    herr_t r = write ? H5Dwrite(s->d[i], row_type(i), msp, fsp, H5P_DEFAULT, buf)
                     : H5Dread(s->d[i], row_type(i), msp, fsp, H5P_DEFAULT, buf);
    H5Sclose(msp);
    H5Sclose(fsp);
    if (r < 0) {
        if (write)
            return ib_error(e, IB_EIO, "store '%s': cannot write dataset '/%s' (disk full?)",
                            s->tmppath, row_names[i]);
        return ib_error(e, IB_ECORRUPT,
                        "store '%s': dataset '/%s' cannot be read (truncated file or checksum "
                        "mismatch)", s->path, row_names[i]);
    }
    return 0;
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
    const void *bufs[D_NROWSETS] = {uvw, vis, weight, flag, field, ant1, ant2, time};
    const size_t esz[D_NROWSETS] = {0, 8, 4, 1, 0, 0, 0, 0};
    size_t nc = (size_t)s->meta.nchan, np = (size_t)s->meta.npol, nn = (size_t)n;
    char *tbuf = ib_malloc(nn * nc * np * 8);
    if (!tbuf) return ib_error(e, IB_ENOMEM, "out of memory writing '%s'", s->tmppath);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < D_NROWSETS && !rc; i++) {
        if (!is_spectral(i)) {
            rc = rw_rows(e, s, i, row0, n, 0, s->meta.nchan, (void *)bufs[i], 1);
            continue;
        }
        /* Row-major caller buffer -> channel-major file layout. */
        size_t es = esz[i] * np;
        const char *src = bufs[i];
        for (size_t r = 0; r < nn; r++)
            for (size_t c = 0; c < nc; c++)
                memcpy(tbuf + (c * nn + r) * es, src + (r * nc + c) * es, es);
        rc = rw_rows(e, s, i, row0, n, 0, s->meta.nchan, tbuf, 1);
    }
    pthread_mutex_unlock(&s->lock);
    free(tbuf);
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
                          s->tmppath, row_names[i]);
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
    if (version != IMG_VIS_FORMAT_VERSION) {
        rc = ib_error(e, IB_EUNSUPPORTED, "store '%s': format_version %d, this imager reads %d",
                      s->path, version, IMG_VIS_FORMAT_VERSION);
        goto fail;
    }
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
        if (H5Lexists(s->file, row_names[i], H5P_DEFAULT) <= 0) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/%s' is missing", s->path,
                          row_names[i]);
            goto fail;
        }
        /* Every chunk of the spectral datasets is read once per run: no
         * chunk cache (its 1 MB per dataset only costs page faults). */
        hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
        if (dapl >= 0 && is_spectral(i))
            H5Pset_chunk_cache(dapl, H5D_CHUNK_CACHE_NSLOTS_DEFAULT, 0,
                               H5D_CHUNK_CACHE_W0_DEFAULT);
        s->d[i] = H5Dopen2(s->file, row_names[i], dapl >= 0 ? dapl : H5P_DEFAULT);
        if (dapl >= 0) H5Pclose(dapl);
        hsize_t want[4], got[4] = {0, 0, 0, 0};
        int rank = row_dims(m, i, want);
        hid_t sp = s->d[i] < 0 ? -1 : H5Dget_space(s->d[i]);
        int grank = sp < 0 ? -1 : H5Sget_simple_extent_ndims(sp);
        if (grank == rank) H5Sget_simple_extent_dims(sp, got, NULL);
        if (sp >= 0) H5Sclose(sp);
        int ok = grank == rank;
        for (int k = 0; ok && k < rank; k++) ok = got[k] == want[k];
        if (!ok) {
            rc = ib_error(e, IB_ECORRUPT,
                          "store '%s': dataset '/%s' has the wrong shape for %lld rows x %lld "
                          "channels x %d pols", s->path, row_names[i], (long long)m->nrow,
                          (long long)m->nchan, m->npol);
            goto fail;
        }
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

int img_vis_read_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n, double *uvw,
                      int32_t *field, int32_t *ant1, int32_t *ant2, double *time)
{
    if (row0 < 0 || n < 0 || row0 + n > s->meta.nrow)
        return ib_error(e, IB_EINVAL, "store '%s': rows %lld..%lld outside 0..%lld", s->path,
                        (long long)row0, (long long)(row0 + n), (long long)s->meta.nrow);
    void *bufs[D_NROWSETS] = {uvw, NULL, NULL, NULL, field, ant1, ant2, time};
    int rc = 0;
    silence_hdf5();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < D_NROWSETS && !rc; i++)
        if (bufs[i] && n) rc = rw_rows(e, s, i, row0, n, 0, s->meta.nchan, bufs[i], 0);
    pthread_mutex_unlock(&s->lock);
    return rc;
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
    silence_hdf5(); /* per thread in a thread-safe HDF5: our message replaces its trace */
    void *bufs[3] = {vis, weight, flag};
    const int ids[3] = {D_VIS, D_WEIGHT, D_FLAG};
    const size_t per[3] = {8, 4, 1};
    int rc = 0;
    uint64_t nb = 0;
    pthread_mutex_lock(&s->lock);
    for (int k = 0; k < 3 && !rc; k++) {
        if (!bufs[k]) continue;
        rc = rw_rows(e, s, ids[k], row0, nr, chan0, nc, bufs[k], 0);
        nb += (uint64_t)nr * (uint64_t)nc * (uint64_t)s->meta.npol * per[k];
    }
    pthread_mutex_unlock(&s->lock);
    if (bytes && !rc) *bytes += nb;
    return rc;
}

int img_vis_read_slab(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr, int64_t chan0,
                      int64_t nc, float *vis, float *weight, uint8_t *flag, uint64_t *bytes)
{
    size_t np = (size_t)s->meta.npol, n = (size_t)(nr > 0 ? nr : 0) * (size_t)(nc > 0 ? nc : 0);
    void *t = ib_malloc(n * np * 8 + 1); /* raw: floats or flag bytes in turn */
    if (!t) return ib_error(e, IB_ENOMEM, "out of memory reading '%s'", s->path);
    void *bufs[3] = {vis, weight, flag};
    const size_t per[3] = {8, 4, 1};
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        if (!bufs[k]) continue;
        rc = img_vis_read_chans(e, s, row0, nr, chan0, nc, k == 0 ? (float *)t : NULL,
                                k == 1 ? (float *)t : NULL, k == 2 ? (uint8_t *)t : NULL, bytes);
        if (rc) break;
        /* channel-major -> row-major */
        size_t es = per[k] * np;
        for (size_t c = 0; c < (size_t)nc; c++)
            for (size_t r = 0; r < (size_t)nr; r++)
                memcpy((char *)bufs[k] + (r * (size_t)nc + c) * es,
                       (const char *)t + (c * (size_t)nr + r) * es, es);
    }
    free(t);
    return rc;
}
