/*
 * imaging: the imager library. A visibility store in HDF5, gridding kernels,
 * weighting, the standard gridder, FFT, grid correction and FITS cube
 * writing, run over channel chunks by worker threads. Prefix img_.
 * Depends on common/ and profiles/ only; knows nothing of SQLite.
 */
#ifndef IMG_IMAGING_H
#define IMG_IMAGING_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ------------------------------------------------------------------ */
/* Visibility store (vis_store.c)                                      */
/* ------------------------------------------------------------------ */

/*
 * Layout of DIR/vis.h5 (format version IMG_VIS_FORMAT_VERSION):
 *   /uvw     nrow x 3            float64  metres, w towards the field centre
 *   /vis     nrow x nchan x npol x 2 float32  (re, im) Jy
 *   /weight  nrow x nchan x npol float32
 *   /flag    nrow x nchan x npol uint8 (nonzero = flagged)
 *   /field   nrow                int32    index into /field_dir
 *   /antenna1, /antenna2 nrow    int32
 *   /time    nrow                float64  seconds (MJD seconds for real data)
 *   /freq    nchan               float64  Hz
 *   /field_dir nfield x 2        float64  (ra, dec) radians
 *   /dish_diameter nant          float64  metres
 * Attributes on the root group: format_version, dataset, telescope,
 * corr (npol AIPS Stokes codes: -5 XX, -6 YY, -1 RR, -2 LL, 1 I),
 * phase_centre (ra, dec radians), image_nx, image_ny, cell_arcsec
 * (suggested imaging parameters; 0 when unknown).
 * Row-varying datasets are chunked along rows; vis/weight/flag along rows
 * and channels, so a reader of one channel chunk reads only its slab.
 * Every dataset carries a fletcher32 checksum.
 */
#define IMG_VIS_FORMAT_VERSION 1
#define IMG_MAX_POL 4

typedef struct img_vis_meta {
    char dataset[64];
    char telescope[32];
    int64_t nrow, nchan;
    int npol, nfield, nant;
    int corr[IMG_MAX_POL];
    double phase_centre[2];
    int image_nx, image_ny;
    double cell_arcsec;
} img_vis_meta;

typedef struct img_vis_store img_vis_store;

/*
 * Create DIR (and parents) and DIR/vis.h5 for meta's shape. freq has nchan
 * values, field_dir 2*nfield, dish nant. Rows are then written with
 * img_vis_write_rows in any order of row blocks; img_vis_close finishes.
 * The file is written as vis.h5.tmp and renamed on a successful close, so
 * an interrupted writer never leaves a store that looks complete.
 * On failure *out is NULL and e says why.
 */
int img_vis_create(ib_err *e, const char *dir, const img_vis_meta *meta,
                   const double *freq, const double *field_dir,
                   const double *dish, img_vis_store **out);

/* Rows [row0, row0+n) of every row dataset; vis is n*nchan*npol*2 floats,
 * weight n*nchan*npol, flag n*nchan*npol, uvw 3n. Not thread-safe. */
int img_vis_write_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n,
                       const double *uvw, const float *vis, const float *weight,
                       const uint8_t *flag, const int32_t *field,
                       const int32_t *ant1, const int32_t *ant2,
                       const double *time);

/*
 * Open DIR/vis.h5 for reading and validate it: format version, every
 * dataset present with the shape the attributes imply, sizes that fit
 * memory arithmetic. The message names the file and the dataset.
 */
int img_vis_open(ib_err *e, const char *dir, img_vis_store **out);

/* Finish (writer: flush, close, rename into place) or close (reader).
 * Returns the first error; the store is freed either way. NULL is a no-op.
 * img_vis_abort removes a writer's temporary file instead of finishing. */
int img_vis_close(ib_err *e, img_vis_store *s);
void img_vis_abort(img_vis_store *s);

const img_vis_meta *img_vis_meta_get(const img_vis_store *s);
const double *img_vis_freq(const img_vis_store *s);       /* nchan */
const double *img_vis_field_dir(const img_vis_store *s);  /* 2*nfield */
const double *img_vis_dish(const img_vis_store *s);       /* nant */
const char *img_vis_path(const img_vis_store *s);

/* Row metadata for rows [row0, row0+n); any pointer may be NULL to skip. */
int img_vis_read_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n,
                      double *uvw, int32_t *field, int32_t *ant1,
                      int32_t *ant2, double *time);

/*
 * The slab rows [row0,row0+nr) x channels [chan0,chan0+nc) x all pols:
 * vis nr*nc*npol*2 floats, weight and flag nr*nc*npol (NULL to skip).
 * Thread-safe (serialised internally: HDF5 is one library lock anyway).
 * Bytes read are added to *bytes when bytes is not NULL.
 */
int img_vis_read_slab(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr,
                      int64_t chan0, int64_t nc, float *vis, float *weight,
                      uint8_t *flag, uint64_t *bytes);

#endif
