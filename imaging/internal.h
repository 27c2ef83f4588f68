/*
 * internal.h: declarations shared between the imaging module's files
 * (prefix img__); not part of the public API in imaging.h.
 */
#ifndef IMG_INTERNAL_H
#define IMG_INTERNAL_H

#include "imaging/imaging.h"

#include <mpi.h>
#include <pthread.h>

/* ---------- row order (rows.c) ---------- */

/* A row's sort key: baseline (a1, a2), time, row index. */
typedef struct img__row_key {
    int32_t a1, a2;
    double t;
    int64_t r;
} img__row_key;

/* Sort keys by (a1, a2, t, r): a stable counting sort by baseline when
 * antennas are 0..nant-1, then only the baselines whose times do not
 * already ascend are sorted; otherwise qsort. -1 when out of memory. */
int img__sort_rows(img__row_key *keys, size_t n, int nant);

/* ---------- mosaic aperture kernels (mosaic.c) ---------- */

/* Half-width in cells of the aperture kernel for a dish at a frequency on
 * a grid of uv cell du (wavelengths), cut where the beam's transform falls
 * to cut of its peak: the mosaic support is W + 2 half. */
int img__akernel_half(double freq_hz, double dish_m, double du, double cut);
/* Radius (direction cosine) where the beam falls to cut of its peak. */
double img__pb_radius(double freq_hz, double dish_m, double cut);
/*
 * The 1-D mosaic kernel of one axis, tabulated at offsets -wt/2 + j/over
 * (j = 0..wt*over) as interleaved (re, im) doubles in tab: the anti-
 * aliasing kernel convolved with the aperture kernel times the phase
 * gradient of a pointing offset off (direction cosine along this axis);
 * aperture = 0 gives psi alone (the beam switched off). Made by one FFT of
 * size n = img__akernel_fft_size(...) with a forward 1-D complex double
 * plan (new-array execute on buf, 2n doubles, 16-byte aligned); psihat
 * holds psi^ on the FFT's grid (img__akernel_psihat, once per run).
 */
int img__akernel_fft_size(int wt, int W, int over);
void img__akernel_psihat(const img_kernel *k, int n, int over, double *psihat);
void img__akernel_build(const img_kernel *k, int wt, int over, int n, const double *psihat,
                        void *plan, double *buf, double freq_hz, double dish_m, double du,
                        double off, int aperture, double *tab);

/* ---------- MPI wrappers (par.c) ---------- */

/* Communication context of one rank: its counters and their lock. */
typedef struct img__comm {
    const img_par *par;
    img_comm_stats st;
    pthread_mutex_t lock;
} img__comm;

void img__comm_init(img__comm *c, const img_par *par);
void img__comm_release(img__comm *c);
/* Counted MPI calls on MPI_COMM_WORLD; 0 or IB_EMPI with "rank r: ...".
 * src/tag < 0 mean any. The collectives are no-ops without MPI. */
int img__send(ib_err *e, img__comm *c, const void *buf, int bytes, int dest, int tag);
int img__recv(ib_err *e, img__comm *c, void *buf, int bytes, int src, int tag, int *from,
              int *got_tag);
int img__probe(ib_err *e, img__comm *c, long *nap_ns, long max_nap_ns, int *from, int *tag,
               int *bytes);
/* A receive in flight (img__irecv) and its completion (img__wait, which
 * counts the message and the seconds spent waiting). */
typedef struct img__req {
    MPI_Request r;
    int bytes;
} img__req;
int img__irecv(ib_err *e, img__comm *c, void *buf, int bytes, int src, int tag, img__req *q);
int img__wait(ib_err *e, img__comm *c, img__req *q);
int img__barrier(ib_err *e, img__comm *c);
int img__allreduce_max_int(ib_err *e, img__comm *c, int *v);
int img__reduce_max_float(ib_err *e, img__comm *c, float *v, int n);
/* Sum n floats (dbl: doubles) of v over the ranks into root's v (root < 0:
 * every rank's), in pieces that fit MPI's int counts. */
int img__reduce_sum(ib_err *e, img__comm *c, void *v, size_t n, int dbl, int root);
int img__gather(ib_err *e, img__comm *c, const void *send, int bytes, void *recv);
int img__gatherv(ib_err *e, img__comm *c, const void *send, int bytes, void *recv,
                 const int *counts, const int *displs);

/* Axes and WCS of a cube written as FITS (x, y, chan, pol). */
typedef struct img__cube_desc {
    int nx, ny, nchan, npol;
    double ra, dec;          /* image centre, radians */
    double cell;             /* radians per pixel */
    double freq0, dfreq;     /* Hz: first channel and step */
    int corr[IMG_MAX_POL];   /* FITS Stokes codes */
    const char *bunit, *object, *telescope, *btype;
    int durable;             /* fsync before the rename (--fsync) */
    prof_sde *sde;           /* bytes written to the file counted in its bytes_written
                              * (header and planes, by the process writing them) */
} img__cube_desc;

typedef struct img__fits img__fits;

/* A restoring beam: the Gaussian of the PSF's main lobe (beam.c), FWHM
 * major and minor axes and position angle (north through east), degrees;
 * bmaj 0: no beam (a plane without samples). */
typedef struct img__beam {
    double bmaj, bmin, bpa;
} img__beam;

/* The beams of every plane (b[pol * nchan + chan], kept by the caller
 * until img__fits_finish), which finish writes as BMAJ, BMIN, BPA of the
 * header (the middle channel's) and, when they differ between planes, as
 * a CASA BEAMS table (CASAMBM = T). */
void img__fits_set_beams(img__fits *f, const img__beam *b);

/*
 * Create a FITS cube at path, written as path.tmp until img__fits_finish
 * renames it; the whole file is reserved up front (IB_ENOSPACE when the
 * disk cannot hold it). With d->durable (or where the space could not be
 * reserved) the planes are written back as they come and the cube is
 * fsynced before the rename. Planes may then be written in any order from
 * any thread. On failure nothing is left at path or path.tmp.
 */
int img__fits_create(ib_err *e, const char *path, const img__cube_desc *d,
                     const char *const *history, img__fits **out);
/* Thread-safe (pwrite at the plane's offset). plane (nx*ny floats) is
 * byte-swapped in place to FITS order: its contents are clobbered. */
int img__fits_write_plane(ib_err *e, img__fits *f, int chan, int pol, float *plane);
int img__fits_finish(ib_err *e, img__fits *f, uint64_t *bytes);
/* The path.tmp a killed imager left (unlocked, a FITS header or empty)
 * removed; anything else is left as it is. */
void img__fits_remove_stale(const char *path);
/* Another rank's handle on a cube rank 0 created (its path.tmp), for
 * writing planes; img__fits_close drops it without sealing the file. */
int img__fits_open(ib_err *e, const char *path, const img__cube_desc *d,
                   const char *const *history, img__fits **out);
void img__fits_close(img__fits *f);
void img__fits_abort(img__fits *f);

/* Read one pixel (0-based x, y, chan, pol) of a finished FITS cube. */
int img__fits_read_pixels(ib_err *e, const char *path, int n, const int (*xycp)[4],
                          double *values);

#endif
