/*
 * fits.c: FITS cubes through cfitsio — a SIN-projected RA/DEC, FREQ and
 * STOKES WCS, planes written from worker threads under a lock, and the
 * write-to-temporary, fsync, rename protocol so that an interrupted run
 * never leaves a complete-looking cube.
 */
#define _GNU_SOURCE
#include "imaging/internal.h"

#include <fcntl.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct img__fits {
    fitsfile *fp;
    pthread_mutex_t lock;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int nx, ny;
};

static int fits_fail(ib_err *e, const char *path, int status, const char *what)
{
    char txt[FLEN_STATUS];
    fits_get_errstatus(status, txt);
    int code = (status == WRITE_ERROR || status == FILE_NOT_CREATED) ? IB_EIO : IB_EIO;
    return ib_error(e, code, "fits '%s': %s: %s (cfitsio status %d)", path, what, txt, status);
}

int img__fits_create(ib_err *e, const char *path, const img__cube_desc *d,
                     const char *const *history, img__fits **out)
{
    *out = NULL;
    img__fits *f = ib_calloc(1, sizeof *f);
    if (!f) return ib_error(e, IB_ENOMEM, "out of memory creating '%s'", path);
    pthread_mutex_init(&f->lock, NULL);
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
    f->nx = d->nx;
    f->ny = d->ny;
    int status = 0;
    char name[PATH_MAX + 16];
    snprintf(name, sizeof name, "!%s", f->tmp); /* '!' overwrites a stale temp */
    long naxes[4] = {d->nx, d->ny, d->nchan, d->npol};
    fits_create_file(&f->fp, name, &status);
    if (status) {
        int rc = fits_fail(e, f->tmp, status, "cannot create file");
        pthread_mutex_destroy(&f->lock);
        free(f);
        return rc;
    }
    fits_create_img(f->fp, FLOAT_IMG, 4, naxes, &status);
    const double deg = 180.0 / M_PI;
    double v;
    char s[80];
    fits_write_key_str(f->fp, "BUNIT", d->bunit, "brightness unit", &status);
    fits_write_key_str(f->fp, "BTYPE", d->btype, "", &status);
    fits_write_key_str(f->fp, "OBJECT", d->object, "dataset", &status);
    fits_write_key_str(f->fp, "TELESCOP", d->telescope, "", &status);
    fits_write_key_str(f->fp, "ORIGIN", "imbench", "", &status);
    fits_write_key_str(f->fp, "RADESYS", "ICRS", "", &status);
    v = 2000.0;
    fits_write_key_dbl(f->fp, "EQUINOX", v, -12, "", &status);
    fits_write_key_str(f->fp, "CTYPE1", "RA---SIN", "", &status);
    v = d->ra * deg;
    if (v < 0) v += 360.0;
    fits_write_key_dbl(f->fp, "CRVAL1", v, -17, "deg", &status);
    v = -d->cell * deg;
    fits_write_key_dbl(f->fp, "CDELT1", v, -17, "deg", &status);
    v = d->nx / 2 + 1;
    fits_write_key_dbl(f->fp, "CRPIX1", v, -17, "", &status);
    fits_write_key_str(f->fp, "CUNIT1", "deg", "", &status);
    fits_write_key_str(f->fp, "CTYPE2", "DEC--SIN", "", &status);
    v = d->dec * deg;
    fits_write_key_dbl(f->fp, "CRVAL2", v, -17, "deg", &status);
    v = d->cell * deg;
    fits_write_key_dbl(f->fp, "CDELT2", v, -17, "deg", &status);
    v = d->ny / 2 + 1;
    fits_write_key_dbl(f->fp, "CRPIX2", v, -17, "", &status);
    fits_write_key_str(f->fp, "CUNIT2", "deg", "", &status);
    fits_write_key_str(f->fp, "CTYPE3", "FREQ", "", &status);
    fits_write_key_dbl(f->fp, "CRVAL3", d->freq0, -17, "Hz", &status);
    fits_write_key_dbl(f->fp, "CDELT3", d->dfreq, -17, "Hz", &status);
    v = 1;
    fits_write_key_dbl(f->fp, "CRPIX3", v, -17, "", &status);
    fits_write_key_str(f->fp, "CUNIT3", "Hz", "", &status);
    fits_write_key_str(f->fp, "SPECSYS", "TOPOCENT", "", &status);
    fits_write_key_str(f->fp, "CTYPE4", "STOKES", "", &status);
    v = d->corr[0];
    fits_write_key_dbl(f->fp, "CRVAL4", v, -17, "", &status);
    v = d->npol > 1 ? d->corr[1] - d->corr[0] : 1;
    fits_write_key_dbl(f->fp, "CDELT4", v, -17, "", &status);
    v = 1;
    fits_write_key_dbl(f->fp, "CRPIX4", v, -17, "", &status);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tmv);
    fits_write_key_str(f->fp, "DATE", s, "file creation (UTC)", &status);
    for (int i = 0; history && history[i]; i++) fits_write_history(f->fp, history[i], &status);
    if (status) {
        int rc = fits_fail(e, f->tmp, status, "cannot write header");
        img__fits_abort(f);
        return rc;
    }
    *out = f;
    return 0;
}

int img__fits_write_plane(ib_err *e, img__fits *f, int chan, int pol, const float *plane)
{
    int status = 0;
    long fpixel[4] = {1, 1, chan + 1, pol + 1};
    pthread_mutex_lock(&f->lock);
    fits_write_pix(f->fp, TFLOAT, fpixel, (LONGLONG)f->nx * f->ny, (void *)plane, &status);
    pthread_mutex_unlock(&f->lock);
    if (status) return fits_fail(e, f->tmp, status, "cannot write plane (disk full?)");
    return 0;
}

int img__fits_finish(ib_err *e, img__fits *f, uint64_t *bytes)
{
    int status = 0, rc = 0;
    fits_close_file(f->fp, &status);
    f->fp = NULL;
    if (status) rc = fits_fail(e, f->tmp, status, "cannot finish file (disk full?)");
    if (!rc) {
        int fd = open(f->tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            rc = ib_error(e, IB_EIO, "fits '%s': cannot sync to disk", f->tmp);
        if (fd >= 0) {
            off_t sz = lseek(fd, 0, SEEK_END);
            if (bytes && sz > 0) *bytes += (uint64_t)sz;
            close(fd);
        }
    }
    if (!rc && rename(f->tmp, f->path) != 0)
        rc = ib_error(e, IB_EIO, "fits '%s': cannot rename into place", f->path);
    if (rc) unlink(f->tmp);
    pthread_mutex_destroy(&f->lock);
    free(f);
    return rc;
}

void img__fits_abort(img__fits *f)
{
    if (!f) return;
    int status = 0;
    if (f->fp) fits_close_file(f->fp, &status);
    unlink(f->tmp);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int img__fits_read_pixels(ib_err *e, const char *path, int n, const int (*xycp)[4],
                          double *values)
{
    fitsfile *fp = NULL;
    int status = 0, rc = 0;
    fits_open_file(&fp, path, READONLY, &status);
    if (status) return fits_fail(e, path, status, "cannot open");
    for (int i = 0; i < n && !rc; i++) {
        long fpixel[4] = {xycp[i][0] + 1, xycp[i][1] + 1, xycp[i][2] + 1, xycp[i][3] + 1};
        double v = 0;
        int anynul = 0;
        fits_read_pix(fp, TDOUBLE, fpixel, 1, NULL, &v, &anynul, &status);
        if (status) rc = fits_fail(e, path, status, "cannot read pixel");
        values[i] = v;
    }
    status = 0;
    fits_close_file(fp, &status);
    return rc;
}
