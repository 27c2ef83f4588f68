/*
 * internal.h: declarations shared between the imaging module's files
 * (prefix img__); not part of the public API in imaging.h.
 */
#ifndef IMG_INTERNAL_H
#define IMG_INTERNAL_H

#include "imaging/imaging.h"

/* Axes and WCS of a cube written as FITS (x, y, chan, pol). */
typedef struct img__cube_desc {
    int nx, ny, nchan, npol;
    double ra, dec;          /* image centre, radians */
    double cell;             /* radians per pixel */
    double freq0, dfreq;     /* Hz: first channel and step */
    int corr[IMG_MAX_POL];   /* FITS Stokes codes */
    const char *bunit, *object, *telescope, *btype;
} img__cube_desc;

typedef struct img__fits img__fits;

/*
 * Create a FITS cube at path, written as path.tmp until img__fits_finish
 * fsyncs and renames it; the whole file is reserved up front (IB_ENOSPACE
 * when the disk cannot hold it). Planes may then be written in any order
 * from any thread. On failure nothing is left at path or path.tmp.
 */
int img__fits_create(ib_err *e, const char *path, const img__cube_desc *d,
                     const char *const *history, img__fits **out);
/* Thread-safe (pwrite at the plane's offset). plane (nx*ny floats) is
 * byte-swapped in place to FITS order: its contents are clobbered. */
int img__fits_write_plane(ib_err *e, img__fits *f, int chan, int pol, float *plane);
int img__fits_finish(ib_err *e, img__fits *f, uint64_t *bytes);
void img__fits_abort(img__fits *f);

/* Read one pixel (0-based x, y, chan, pol) of a finished FITS cube. */
int img__fits_read_pixels(ib_err *e, const char *path, int n, const int (*xycp)[4],
                          double *values);

#endif
