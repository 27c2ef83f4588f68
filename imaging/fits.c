/*
 * fits.c: FITS cubes. cfitsio formats the header (a SIN-projected RA/DEC,
 * FREQ and STOKES WCS); the data unit is pre-sized (fallocate) and planes
 * are written big-endian at their computed offsets with pwrite, so worker
 * threads (and later MPI ranks) write in parallel without a lock — cfitsio
 * offers no concurrent writes to one HDU. Write to a temporary, rename: an
 * interrupted run never leaves a complete-looking cube. Durability is a
 * choice (--fsync), as it is not for CASA or WSClean, which hand their
 * images to the page cache: the disk's flush is one serial step at the end
 * of a run that measures the disk, not the imager. Without it the space is
 * still reserved up front, so writeback cannot run out of disk later.
 * Reading back (for the DFT check and the tests) goes through cfitsio.
 */
#define _GNU_SOURCE
#include "imaging/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fitsio.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

struct img__fits {
    int fd;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    int nx, ny, nchan, npol;
    int durable;     /* write back as planes come, fsync before the rename */
    prof_sde *sde;   /* counts the bytes written (NULL: not counted) */
    const img__beam *beams; /* per plane, written by finish (NULL: none) */
    off_t data_start, file_size;
    int owner;       /* created tmp (rank 0): removes it when not sealed */
    int slot;        /* tmp in the temporaries removed on a signal (ib_tmp_add) */
};

/* A file at X.tmp that a killed imager left: empty, or a FITS header. */
static int fits_tmp_ours(int fd)
{
    char head[10];
    ssize_t n = pread(fd, head, sizeof head, 0);
    return n == 0 || (n == (ssize_t)sizeof head && memcmp(head, "SIMPLE  = ", 10) == 0);
}

static int fits_fail(ib_err *e, const char *path, int status, const char *what)
{
    char txt[FLEN_STATUS];
    fits_get_errstatus(status, txt);
    return ib_error(e, IB_EIO, "fits '%s': %s: %s (cfitsio status %d)", path, what, txt, status);
}

/*
 * The primary header as FITS cards, formatted by cfitsio in a memory file.
 * The memory image is made with one plane and NAXIS3/NAXIS4 are set to the
 * cube's afterwards, so cfitsio never fills a cube-sized data unit we do
 * not want; they are set back before the memory file is deleted.
 * Returns a malloc'd string of ncards*80 characters (the END card last).
 */
static int make_header(ib_err *e, const char *path, const img__cube_desc *d,
                       const char *const *history, char **out, int *ncards)
{
    fitsfile *fp = NULL;
    int status = 0;
    long naxes[4] = {d->nx, d->ny, 1, 1};
    fits_create_file(&fp, "mem://", &status);
    fits_create_img(fp, FLOAT_IMG, 4, naxes, &status);
    if (status) return fits_fail(e, path, status, "cannot format header");
    const double deg = 180.0 / M_PI;
    double v;
    fits_write_key_str(fp, "BUNIT", d->bunit, "brightness unit", &status);
    /* The beam's cards, filled in when the cube is sealed (the beams are
     * known once every sample is gridded), so the header never grows. */
    v = 0;
    fits_write_key_dbl(fp, "BMAJ", v, -8, "deg: beam major axis FWHM", &status);
    fits_write_key_dbl(fp, "BMIN", v, -8, "deg: beam minor axis FWHM", &status);
    fits_write_key_dbl(fp, "BPA", v, -8, "deg: beam position angle", &status);
    fits_write_key_log(fp, "CASAMBM", 0, "per-plane beams in the BEAMS table", &status);
    fits_write_key_str(fp, "BTYPE", d->btype, "", &status);
    fits_write_key_str(fp, "OBJECT", d->object, "dataset", &status);
    fits_write_key_str(fp, "TELESCOP", d->telescope, "", &status);
    fits_write_key_str(fp, "ORIGIN", "imbench", "", &status);
    fits_write_key_str(fp, "RADESYS", "ICRS", "", &status);
    v = 2000.0;
    fits_write_key_dbl(fp, "EQUINOX", v, -12, "", &status);
    fits_write_key_str(fp, "CTYPE1", "RA---SIN", "", &status);
    v = d->ra * deg;
    if (v < 0) v += 360.0;
    fits_write_key_dbl(fp, "CRVAL1", v, -17, "deg", &status);
    v = -d->cell * deg;
    fits_write_key_dbl(fp, "CDELT1", v, -17, "deg", &status);
    v = d->nx / 2 + 1;
    fits_write_key_dbl(fp, "CRPIX1", v, -17, "", &status);
    fits_write_key_str(fp, "CUNIT1", "deg", "", &status);
    fits_write_key_str(fp, "CTYPE2", "DEC--SIN", "", &status);
    v = d->dec * deg;
    fits_write_key_dbl(fp, "CRVAL2", v, -17, "deg", &status);
    v = d->cell * deg;
    fits_write_key_dbl(fp, "CDELT2", v, -17, "deg", &status);
    v = d->ny / 2 + 1;
    fits_write_key_dbl(fp, "CRPIX2", v, -17, "", &status);
    fits_write_key_str(fp, "CUNIT2", "deg", "", &status);
    fits_write_key_str(fp, "CTYPE3", "FREQ", "", &status);
    fits_write_key_dbl(fp, "CRVAL3", d->freq0, -17, "Hz", &status);
    fits_write_key_dbl(fp, "CDELT3", d->dfreq, -17, "Hz", &status);
    v = 1;
    fits_write_key_dbl(fp, "CRPIX3", v, -17, "", &status);
    fits_write_key_str(fp, "CUNIT3", "Hz", "", &status);
    fits_write_key_str(fp, "SPECSYS", "TOPOCENT", "", &status);
    fits_write_key_str(fp, "CTYPE4", "STOKES", "", &status);
    v = d->corr[0];
    fits_write_key_dbl(fp, "CRVAL4", v, -17, "", &status);
    v = d->npol > 1 ? d->corr[1] - d->corr[0] : 1;
    fits_write_key_dbl(fp, "CDELT4", v, -17, "", &status);
    v = 1;
    fits_write_key_dbl(fp, "CRPIX4", v, -17, "", &status);
    /* No DATE card: the same inputs give byte-identical cubes, whichever
     * rank or write mode produced them. */
    for (int i = 0; history && history[i]; i++) fits_write_history(fp, history[i], &status);
    fits_modify_key_lng(fp, "NAXIS3", d->nchan, "&", &status);
    fits_modify_key_lng(fp, "NAXIS4", d->npol, "&", &status);
    char *hdr = NULL;
    if (!status) fits_hdr2str(fp, 0, NULL, 0, &hdr, ncards, &status);
    int st2 = 0;
    fits_modify_key_lng(fp, "NAXIS3", 1, "&", &st2);
    fits_modify_key_lng(fp, "NAXIS4", 1, "&", &st2);
    fits_delete_file(fp, &st2);
    if (status) {
        if (hdr) fits_free_memory(hdr, &st2);
        return fits_fail(e, path, status, "cannot format header");
    }
    *out = ib_strdup(hdr);
    fits_free_memory(hdr, &st2);
    if (!*out) return ib_error(e, IB_ENOMEM, "out of memory formatting '%s'", path);
    return 0;
}

static int write_all(int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

/* A handle for the cube at path with its header formatted (the cards in
 * *hdr, malloc'd); the file is not touched yet. */
static int fits_new(ib_err *e, const char *path, const img__cube_desc *d,
                    const char *const *history, img__fits **out, char **hdr, int *ncards)
{
    *out = NULL;
    img__fits *f = ib_calloc(1, sizeof *f);
    if (!f) return ib_error(e, IB_ENOMEM, "out of memory for '%s'", path);
    f->fd = -1;
    f->slot = -1;
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
    f->nx = d->nx;
    f->ny = d->ny;
    f->nchan = d->nchan;
    f->npol = d->npol;
    f->durable = d->durable;
    f->sde = d->sde;
    int rc = make_header(e, path, d, history, hdr, ncards);
    if (rc) {
        free(f);
        return rc;
    }
    f->data_start = (off_t)(((size_t)*ncards * 80 + 2879) / 2880 * 2880);
    *out = f;
    return 0;
}

int img__fits_create(ib_err *e, const char *path, const img__cube_desc *d,
                     const char *const *history, img__fits **out)
{
    *out = NULL;
    img__fits *f;
    char *hdr = NULL;
    int ncards = 0;
    int rc = fits_new(e, path, d, history, &f, &hdr, &ncards);
    if (rc) return rc;
    size_t hlen = (size_t)ncards * 80, hpad = (hlen + 2879) / 2880 * 2880;
    size_t data;
    if (ib_mul3_size((size_t)d->nx * (size_t)d->ny, (size_t)d->nchan, (size_t)d->npol * 4, &data)) {
        free(hdr);
        free(f);
        return ib_error(e, IB_EOVERFLOW, "fits '%s': cube too large", path);
    }
    f->file_size = (off_t)(hpad + (data + 2879) / 2880 * 2880);
    char *block = ib_malloc(hpad);
    if (!block) {
        free(hdr);
        free(f);
        return ib_error(e, IB_ENOMEM, "out of memory creating '%s'", path);
    }
    memset(block, ' ', hpad);
    memcpy(block, hdr, hlen);
    free(hdr);
    /* Exclusively (a planted link is not followed, a concurrent imager's
     * cube is not truncated); one a killed imager left is replaced. */
    rc = ib_create_excl(e, "fits", f->tmp, 0644, fits_tmp_ours, &f->fd, &f->slot);
    if (!rc) f->owner = 1;
    if (!rc && write_all(f->fd, block, hpad, 0) != 0) {
        rc = ib_error(e, errno == ENOSPC ? IB_ENOSPACE : IB_EIO, "fits '%s': cannot write header: %s",
                      f->tmp, strerror(errno));
    } else if (!rc) {
        if (f->sde) prof_sde_add(f->sde, PROF_SDE_BYTES_WRITTEN, (long long)hpad);
        /* Reserve the whole cube now, so a full disk shows before any work
         * (falls back to a sparse file where fallocate is unsupported). */
        int fr = posix_fallocate(f->fd, 0, f->file_size);
        if (fr == ENOSPC || fr == EFBIG)
            rc = ib_error(e, IB_ENOSPACE, "fits '%s': no space for a %lld-byte cube: %s", f->tmp,
                          (long long)f->file_size, strerror(fr));
        else if (fr != 0 && ftruncate(f->fd, f->file_size) != 0)
            rc = ib_error(e, IB_EIO, "fits '%s': cannot size the cube: %s", f->tmp, strerror(errno));
        else if (fr != 0)
            f->durable = 1; /* unreserved: only an fsync would report a full disk */
    }
    free(block);
    if (rc) {
        img__fits_abort(f);
        return rc;
    }
    *out = f;
    return 0;
}

int img__fits_write_plane(ib_err *e, img__fits *f, int chan, int pol, float *plane)
{
    size_t n = (size_t)f->nx * (size_t)f->ny;
    /* FITS data are big-endian IEEE floats. */
    uint32_t *u = (uint32_t *)(void *)plane;
    for (size_t i = 0; i < n; i++) u[i] = __builtin_bswap32(u[i]);
    off_t off = f->data_start + (off_t)(((size_t)pol * (size_t)f->nchan + (size_t)chan) * n * 4);
    if (write_all(f->fd, plane, n * 4, off) != 0)
        return ib_error(e, errno == ENOSPC ? IB_ENOSPACE : IB_EIO,
                        "fits '%s': cannot write plane chan %d pol %d: %s", f->tmp, chan, pol,
                        strerror(errno));
    if (f->sde) prof_sde_add(f->sde, PROF_SDE_BYTES_WRITTEN, (long long)(n * 4));
    /* Durable cubes: start writing the plane back now, without waiting, and
     * wait for the plane of the same pol two channels back (the one this
     * thread, or a neighbour, wrote a while ago) to reach the disk:
     * writeback keeps pace with the imaging, overlapped with it, so the
     * fsync that seals the cube has only the last planes left. The waits
     * are hints; the fsync is what guarantees. */
    if (!f->durable) return 0;
    sync_file_range(f->fd, off, (off_t)(n * 4), SYNC_FILE_RANGE_WRITE);
    if (chan >= 2)
        sync_file_range(f->fd, off - (off_t)(2 * n * 4), (off_t)(n * 4),
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
    return 0;
}

void img__fits_set_beams(img__fits *f, const img__beam *b) { f->beams = b; }

/*
 * The beams into the sealed-to-be file (f->tmp, its data all written):
 * the header's BMAJ, BMIN, BPA from the middle channel of the first
 * plane (or the first plane with a beam), and when the planes' beams
 * differ, a CASA BEAMS binary table after the data (columns BMAJ, BMIN
 * in arcsec, BPA in degrees, CHAN, POL; a row per plane, pol-major, or a
 * row per channel when every pol has the same beams) with CASAMBM = T. Values to 8 digits, so that the order in which threads and
 * ranks summed the samples never shows in the bytes.
 */
static int beams_differ(const img__beam *a, const img__beam *b)
{
    return fabs(a->bmaj - b->bmaj) > 1e-6 * b->bmaj || fabs(a->bmin - b->bmin) > 1e-6 * b->bmin ||
           fabs(a->bpa - b->bpa) > 1e-4;
}

static int write_beams(ib_err *e, img__fits *f)
{
    const img__beam *b = f->beams;
    const long n = (long)f->nchan * f->npol;
    if (n == 0) return 0;
    long ref = f->nchan / 2;
    for (long i = 0; i < n && !(b[ref].bmaj > 0); i++) ref = i;
    int vary = 0, pols_differ = 0;
    for (long i = 0; i < n; i++) {
        vary |= beams_differ(&b[i], &b[ref]);
        pols_differ |= beams_differ(&b[i], &b[i % f->nchan]);
    }
    /* the same beams in every pol: a row per channel (NPOL 1), as CASA
     * allows and as spectral-cube reads a Stokes cube's table */
    const long rows = pols_differ ? n : f->nchan;
    fitsfile *fp = NULL;
    int status = 0;
    fits_open_diskfile(&fp, f->tmp, READWRITE, &status);
    if (status) return fits_fail(e, f->tmp, status, "cannot open to write the beam");
    double v = b[ref].bmaj;
    fits_update_key_dbl(fp, "BMAJ", v, -8, "&", &status);
    v = b[ref].bmin;
    fits_update_key_dbl(fp, "BMIN", v, -8, "&", &status);
    v = b[ref].bpa;
    fits_update_key_dbl(fp, "BPA", v, -8, "&", &status);
    fits_update_key_log(fp, "CASAMBM", vary, "&", &status);
    if (vary && !status) {
        char *ttype[] = {"BMAJ", "BMIN", "BPA", "CHAN", "POL"};
        char *tform[] = {"1E", "1E", "1E", "1J", "1J"};
        char *tunit[] = {"arcsec", "arcsec", "deg", "", ""};
        fits_create_tbl(fp, BINARY_TBL, rows, 5, ttype, tform, tunit, "BEAMS", &status);
        fits_write_key_lng(fp, "EXTVER", 1, "", &status);
        fits_write_key_lng(fp, "NCHAN", f->nchan, "channels", &status);
        fits_write_key_lng(fp, "NPOL", pols_differ ? f->npol : 1, "polarisations", &status);
        float *col = malloc(sizeof(float) * (size_t)n);
        int *ci = malloc(sizeof(int) * (size_t)n);
        if (!col || !ci) {
            free(col);
            free(ci);
            int st2 = 0;
            fits_close_file(fp, &st2);
            return ib_error(e, IB_ENOMEM, "out of memory writing the beams of '%s'", f->path);
        }
        for (int c = 0; c < 5 && !status; c++) {
            for (long i = 0; i < rows; i++) {
                double x = c == 0 ? b[i].bmaj * 3600 : c == 1 ? b[i].bmin * 3600 : b[i].bpa;
                col[i] = (float)x;
                ci[i] = (int)(c == 3 ? i % f->nchan : i / f->nchan);
            }
            if (c < 3) fits_write_col(fp, TFLOAT, c + 1, 1, 1, rows, col, &status);
            else fits_write_col(fp, TINT, c + 1, 1, 1, rows, ci, &status);
        }
        free(col);
        free(ci);
    }
    int st2 = 0;
    fits_close_file(fp, &st2);
    if (!status) status = st2;
    if (status) return fits_fail(e, f->tmp, status, "cannot write the beam");
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return ib_error(e, IB_EIO, "fits '%s': cannot stat: %s", f->tmp, strerror(errno));
    if (f->sde && st.st_size > f->file_size)
        prof_sde_add(f->sde, PROF_SDE_BYTES_WRITTEN, (long long)(st.st_size - f->file_size));
    f->file_size = st.st_size;
    return 0;
}

int img__fits_finish(ib_err *e, img__fits *f, uint64_t *bytes)
{
    int rc = 0;
    if (f->beams) rc = write_beams(e, f);
    if (!rc && f->durable && fsync(f->fd) != 0)
        rc = ib_error(e, IB_EIO, "fits '%s': cannot sync to disk: %s", f->tmp, strerror(errno));
    if (close(f->fd) != 0 && !rc)
        rc = ib_error(e, IB_EIO, "fits '%s': cannot close: %s", f->tmp, strerror(errno));
    f->fd = -1;
    if (!rc && rename(f->tmp, f->path) != 0)
        rc = ib_error(e, IB_EIO, "fits '%s': cannot rename into place: %s", f->path, strerror(errno));
    if (rc) unlink(f->tmp);
    else if (bytes) *bytes += (uint64_t)f->file_size;
    ib_tmp_drop(f->slot);
    free(f);
    return rc;
}

int img__fits_open(ib_err *e, const char *path, const img__cube_desc *d,
                   const char *const *history, img__fits **out)
{
    *out = NULL;
    img__fits *f;
    char *hdr = NULL;
    int ncards = 0;
    int rc = fits_new(e, path, d, history, &f, &hdr, &ncards);
    free(hdr);
    if (rc) return rc;
    f->fd = open(f->tmp, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (f->fd < 0) {
        rc = ib_error(e, IB_EIO, "fits '%s': cannot open for writing: %s", f->tmp, strerror(errno));
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void img__fits_remove_stale(const char *path)
{
    char tmp[PATH_MAX + 8];
    if (ib_path_fmt(NULL, tmp, sizeof tmp, "%s.tmp", path) == 0)
        (void)ib_remove_stale(tmp, fits_tmp_ours);
}

void img__fits_close(img__fits *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    free(f);
}

void img__fits_abort(img__fits *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    if (f->owner || f->fd >= 0) unlink(f->tmp);
    ib_tmp_drop(f->slot);
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
