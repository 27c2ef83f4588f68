/*
 * gridder.c: the standard gridder and the imaging run. The cube's channels
 * are split into chunks; worker threads take chunks from a shared counter,
 * read the chunk's slab from the store, and for each channel build the
 * weighted sample list, grid it (all pols at once, one kernel evaluation
 * per sample), FFT, apply the grid correction and write the planes. Grids,
 * lists and slabs are allocated once per thread and reused; nothing in the
 * gridding loop allocates, locks or logs.
 */
#define _GNU_SOURCE
#include "imaging/internal.h"
#include "profiles/profiles.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#define IMG_C_LIGHT 299792458.0

typedef struct sample_list_f {
    int64_t n;
    int32_t *row, *iu, *iv;
    float *fu, *fv, *vr, *vi, *w;
} sample_list_f;

typedef struct sample_list_d {
    int64_t n;
    int32_t *row, *iu, *iv;
    double *fu, *fv, *vr, *vi, *w;
} sample_list_d;

typedef struct run_ctx {
    const img_params *p;
    img_vis_store *store;
    const double *freq;
    int64_t nrow, nchan;
    int npol;
    int64_t *perm;       /* rows sorted by baseline, then time */
    double *um, *vm;     /* u, v in metres, in perm order */
    img_kernel k;
    int nx, ny, ngx, ngy;
    double cell;         /* radians */
    double *corr_x, *corr_y; /* 1 / kernel FT per image pixel */
    float *corr_xf;      /* corr_x in float, for the extraction loop */
    int32_t *jx, *jy;    /* c2r output column/row of each image pixel */
    int nchunks;
    int64_t *chunk0;     /* nchunks+1 channel boundaries */
    int64_t max_chunk;
    atomic_int next_chunk;
    atomic_int failed;
    pthread_mutex_t err_lock;
    ib_err err;
    img__fits *cube[IMG_NPROD]; /* products; NULL when not made */
    float *peaks;        /* nchan * npol plane peaks |max| */
    /* The c2r FFT in two passes, pruned to the rows the image needs:
     * plan (c2c along v, every column of the half-spectrum), then planx[0]
     * and planx[1] (c2r along u, only the ny/2 rows at each end of the
     * grid that the image takes). fftwf_plan or fftw_plan, shared by the
     * threads (new-array execute). */
    void *plan, *planx[2];
    int64_t xrow[2];     /* first grid row of each c2r run */
    double plan_seconds;
    double setup_s;      /* img_run's start until the barrier before the workers */
    /* ranks */
    const img_par *par;
    img_par solo;        /* used when the caller gives no par */
    img__comm comm;
    int *my_chunks, nmy; /* static / locality: this rank's chunks */
    atomic_int my_next;
    pthread_t server;
    int server_on;
    double origin;       /* time origin of task events: when every rank left the
                          * start-up barrier (so ranks share one timeline) */
    /* memory budget (0 = none: planes stream straight to the cube) */
    uint64_t budget, base_bytes, plane_bytes;
    pthread_mutex_t mem_lock;
    pthread_cond_t mem_cond;
    uint64_t tracked, peak_tracked; /* under mem_lock */
    int holders;         /* threads holding planes in memory */
    char spill_dir[4096];
    int made_spill_dir;
    /* mosaic */
    int mosaic, aperture, gw, over; /* gw: grid support (W, or W + 2 aperture half) */
    double dish;
    int32_t *field;      /* field of each row, perm order */
    int nfield;
    double *lo, *mo;     /* pointing offsets from the image centre (direction cosines) */
    int nxo, nyo;        /* distinct offsets along x and y */
    double *xo, *yo;
    int *fxi, *fyi;      /* field -> its x / y kernel table */
    int nfft;            /* 1-D FFT size of the kernel tables */
    double *psihat;      /* psi^ on that FFT's grid */
    fftw_plan kplan;     /* forward 1-D, double, new-array execute */
    /* row chunks (--row-chunks M > 1): a channel chunk is imaged by M row
     * tasks whose grids are summed over threads and ranks before its FFT */
    int mrows;           /* M (1: channel chunks only) */
    int64_t *rrow0;      /* M+1 stored-row boundaries */
    int64_t max_rows;    /* rows of the largest row chunk */
    int64_t slab_rows;   /* rows of a task's slab: nrow, or max_rows */
    int64_t *kidx;       /* perm positions grouped by row chunk, ascending within */
    int64_t *kstart;     /* M+1 offsets into kidx */
    int *my_rows, nmyr;  /* static / locality: this rank's row chunks */
    atomic_int *rnext;   /* 2 x nchunks task counters: (density, grid) pass x chunk */
    pthread_barrier_t bar;
    int bar_on;
    int stop;            /* thread 0 writes it between two barriers */
    int nprodg;          /* grids per channel: dirty, and the PSF with --psf */
    size_t gcells;       /* reals per grid: ngx * ngy * npol * 2 */
    size_t wper;         /* doubles per channel of the weight sums: npol (+ nfield*npol) */
    struct worker *ws;   /* the rank's workers (thread 0 holds the rank's sums) */
    int gate;            /* under mem_lock: 0 wait, 1 start, -1 give up */
} run_ctx;

/* A plane a chunk produced, held until the chunk commits. */
typedef struct held_plane {
    int32_t chan, pol, prod;
    float *mem;          /* NULL when spilled */
    off_t off;           /* offset in the worker's spill file */
} held_plane;

/* One phase interval of one task (chunk) on one thread. */
typedef struct img_task_event {
    int32_t rank, thread, chunk, chan;
    int32_t phase, pad;
    double start, end;   /* seconds since the run's origin */
} img_task_event;

enum { TAG_REQ = 11, TAG_DONE = 12, TAG_PLANE = 13, TAG_REPLY = 1000 };

typedef struct worker worker;
struct worker {
    run_ctx *R;
    int id;
    pthread_t tid;
    prof_timer t;
    float *vis, *wt;
    uint8_t *flag;
    void *list;          /* sample_list_f or _d */
    float *density;
    void *grid;          /* ngy x ngx cells of npol complex values */
    int vlo, vhi;        /* grid rows that may be non-zero */
    void *half;          /* Hermitian half-spectrum, c2r in place */
    float *plane;
    float *sendbuf;      /* serial writes: header + plane */
    uint64_t samples, dropped, bytes_read;
    int32_t cur_chunk, cur_chan;
    img_task_event *ev;
    size_t nev, cap_ev;
    uint64_t ev_dropped;
    double sched_s;
    uint64_t ntasks;
    held_plane *held;
    size_t nheld, cap_held;
    uint64_t held_bytes;
    int spill_fd;
    off_t spill_end;
    char spill_path[4200];
    uint64_t spill_bytes, spill_files;
    double spill_write_s, spill_read_s;
    prof_papi_thread pt;
    img__req req;        /* dynamic scheduling: the request in flight */
    int32_t reply[2];    /* dynamic: task from rank 0, tasks left after it */
    int req_pending, started;
    int no_more;         /* dynamic: rank 0 said the chunk it gave was the last */
    double *tx, *ty;     /* mosaic kernel tables of the current channel */
    double *kbuf;        /* FFT buffer for the tables */
    float *gx, *gy;      /* squared beams per field along x and y */
    double *swf;         /* mosaic: weight per field and pol of the channel */
    float *wplane, *aux;
    void *acc;           /* row chunks: nc x nprodg grids summed over this thread's tasks */
    double *accw;        /* ... their weight sums per channel (wper each) */
    float *accd;         /* ... density per channel (uniform / Briggs) */
};

static inline const float *coef_t_f(const img_kernel *k) { return k->coef_tf; }
static inline const double *coef_t_d(const img_kernel *k) { return k->coef_t; }
static inline void table_taps_f(const img_kernel *k, float fr, float *o) { img_kernel_taps_f(k, fr, o); }
static inline void table_taps_d(const img_kernel *k, double fr, double *o) { img_kernel_taps(k, fr, o); }

#define REAL float
#define SUF f
#define FFTW(name) fftwf_##name
#include "imaging/grid_tmpl.h"
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW
#define REAL double
#define SUF d
#define FFTW(name) fftw_##name
#include "imaging/grid_tmpl.h"
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW

void img_params_default(img_params *p)
{
    memset(p, 0, sizeof *p);
    p->gridder = IMG_GRIDDER_STANDARD;
    p->support = 7;
    p->weighting = IMG_WEIGHT_NATURAL;
    p->padding = 1.5;
    p->threads = 1;
    p->chunks = 0;
    p->row_chunks = 1;
    p->seed = 1;
    p->mem_target = 0.85;
    p->mem_spill = 0.92;
    p->mem_pause = 0.95;
    p->pb_limit = 0.2;
    p->fft_plan = 1;
}

static void set_err(run_ctx *R, const ib_err *e)
{
    pthread_mutex_lock(&R->err_lock);
    if (!atomic_load(&R->failed)) R->err = *e;
    atomic_store(&R->failed, 1);
    pthread_mutex_unlock(&R->err_lock);
}

/* ---------- list allocation (element size depends on precision) ---------- */

static void list_free(void *lp, int dbl)
{
    if (!lp) return;
    if (dbl) {
        sample_list_d *L = lp;
        free(L->row); free(L->iu); free(L->iv); free(L->fu); free(L->fv);
        free(L->vr); free(L->vi); free(L->w);
    } else {
        sample_list_f *L = lp;
        free(L->row); free(L->iu); free(L->iv); free(L->fu); free(L->fv);
        free(L->vr); free(L->vi); free(L->w);
    }
    free(lp);
}

static void *list_alloc(int64_t nrow, int npol, int dbl)
{
    size_t r = (size_t)nrow, rp = (size_t)nrow * (size_t)npol, es = dbl ? 8 : 4;
    if (dbl) {
        sample_list_d *L = ib_calloc(1, sizeof *L);
        if (!L) return NULL;
        L->row = ib_malloc(4 * r); L->iu = ib_malloc(4 * r); L->iv = ib_malloc(4 * r);
        L->fu = ib_malloc(es * r); L->fv = ib_malloc(es * r);
        L->vr = ib_malloc(es * rp); L->vi = ib_malloc(es * rp); L->w = ib_malloc(es * rp);
        if (!L->row || !L->iu || !L->iv || !L->fu || !L->fv || !L->vr || !L->vi || !L->w) {
            list_free(L, 1);
            return NULL;
        }
        return L;
    }
    sample_list_f *L = ib_calloc(1, sizeof *L);
    if (!L) return NULL;
    L->row = ib_malloc(4 * r); L->iu = ib_malloc(4 * r); L->iv = ib_malloc(4 * r);
    L->fu = ib_malloc(es * r); L->fv = ib_malloc(es * r);
    L->vr = ib_malloc(es * rp); L->vi = ib_malloc(es * rp); L->w = ib_malloc(es * rp);
    if (!L->row || !L->iu || !L->iv || !L->fu || !L->fv || !L->vr || !L->vi || !L->w) {
        list_free(L, 0);
        return NULL;
    }
    return L;
}

/* ---------- products ---------- */

static int product_made(const img_params *p, int k)
{
    switch (k) {
    case IMG_PROD_DIRTY: return 1;
    case IMG_PROD_PSF: return p->psf;
    default: return p->gridder == IMG_GRIDDER_MOSAIC;
    }
}

const char *img_product_file(int k)
{
    static const char *f[IMG_NPROD] = {"dirty.fits", "psf.fits", "weight.fits", "pb.fits",
                                       "mosaic.fits"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "unknown.fits";
}

const char *img_product_btype(int k)
{
    static const char *f[IMG_NPROD] = {"Intensity", "Beam", "Weight", "Beam response",
                                       "Intensity"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "";
}

const char *img_product_bunit(int k)
{
    static const char *f[IMG_NPROD] = {"Jy/beam", "", "", "", "Jy/beam"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "";
}

/* ---------- per-channel pipeline ---------- */

/* Close the open phase as a task event and open phase p (already in p:
 * nothing to do). The event carries the task and channel labels as they
 * are when it closes, so callers switch phase first, then relabel. The
 * event array grows between phases, never inside the gridding loop; if it
 * cannot grow the event is counted as dropped, the run goes on. */
static void phase(worker *w, int p)
{
    prof_timer *t = &w->t;
    if (p >= 0 && p == t->current) return;
    if (t->current >= 0) {
        if (w->nev == w->cap_ev) {
            size_t nc = w->cap_ev ? 2 * w->cap_ev : 1024;
            img_task_event *ne = realloc(w->ev, nc * sizeof *ne);
            if (ne) {
                w->ev = ne;
                w->cap_ev = nc;
            }
        }
        if (w->nev < w->cap_ev) {
            double now = ib_now();
            w->ev[w->nev++] = (img_task_event){w->R->par->rank, w->id, w->cur_chunk, w->cur_chan,
                                               t->current, 0, t->t0_wall - w->R->origin,
                                               now - w->R->origin};
        } else {
            w->ev_dropped++;
        }
    }
    if (p < 0) prof_timer_stop(t);
    else prof_timer_switch(t, p);
}

/* Write or (serial writes on a rank other than 0) send one plane from buf
 * (clobbered: byte-swapped for FITS). */
static int put_plane(worker *w, int64_t chan, int pol, int prod, float *buf)
{
    run_ctx *R = w->R;
    ib_err e;
    ib_err_init(&e);
    int rc;
    if (R->p->serial_write && R->par->rank != 0) {
        size_t n = (size_t)R->nx * (size_t)R->ny;
        int32_t hdr[4] = {(int32_t)chan, pol, prod, 0};
        memcpy(w->sendbuf, hdr, sizeof hdr);
        memcpy(w->sendbuf + 4, buf, n * sizeof(float));
        rc = img__send(&e, &R->comm, w->sendbuf, (int)((n + 4) * sizeof(float)), 0, TAG_PLANE);
    } else {
        rc = img__fits_write_plane(&e, R->cube[prod], (int)chan, pol, buf);
    }
    if (rc) set_err(R, &e);
    return rc;
}

static int io_all(int fd, void *buf, size_t n, off_t off, int wr)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = wr ? pwrite(fd, p, n, off) : pread(fd, p, n, off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/*
 * With a memory budget a chunk is a task whose output (its planes) is
 * committed when the chunk ends. A finished plane stays in memory while
 * the rank's tracked working set is under the spill fraction, else it goes
 * to this thread's spill file and is read back at commit.
 */
static int hold_plane(worker *w, int64_t chan, int pol, int prod)
{
    run_ctx *R = w->R;
    if (!R->budget) return put_plane(w, chan, pol, prod, w->plane);
    ib_err e;
    ib_err_init(&e);
    if (w->nheld == w->cap_held) {
        size_t nc = w->cap_held ? 2 * w->cap_held : 64;
        held_plane *nh = realloc(w->held, nc * sizeof *nh);
        if (!nh) {
            ib_error(&e, IB_ENOMEM, "rank %d: out of memory holding planes", R->par->rank);
            set_err(R, &e);
            return IB_ENOMEM;
        }
        w->held = nh;
        w->cap_held = nc;
    }
    held_plane *h = &w->held[w->nheld];
    *h = (held_plane){(int32_t)chan, pol, prod, NULL, 0};
    const uint64_t nb = R->plane_bytes;
    pthread_mutex_lock(&R->mem_lock);
    int keep = (double)(R->tracked + nb) <= R->p->mem_spill * (double)R->budget;
    if (keep) {
        R->tracked += nb;
        if (R->tracked > R->peak_tracked) R->peak_tracked = R->tracked;
        if (w->held_bytes == 0) R->holders++;
        w->held_bytes += nb;
    }
    pthread_mutex_unlock(&R->mem_lock);
    if (keep) {
        h->mem = ib_malloc(nb);
        if (!h->mem) {
            ib_error(&e, IB_ENOMEM, "rank %d: out of memory for a held plane", R->par->rank);
            set_err(R, &e);
            return IB_ENOMEM;
        }
        memcpy(h->mem, w->plane, nb);
        w->nheld++;
        return 0;
    }
    phase(w, PROF_SPILL);
    double t0 = ib_now();
    if (w->spill_fd < 0) {
        snprintf(w->spill_path, sizeof w->spill_path, "%s/r%d-t%d-c%d.spill", R->spill_dir,
                 R->par->rank, w->id, w->cur_chunk);
        w->spill_fd = open(w->spill_path, O_CREAT | O_TRUNC | O_RDWR, 0600);
        if (w->spill_fd < 0) {
            ib_error(&e, IB_EIO, "spill file '%s': cannot create: %s", w->spill_path,
                     strerror(errno));
            set_err(R, &e);
            return IB_EIO;
        }
        w->spill_end = 0;
        w->spill_files++;
    }
    if (io_all(w->spill_fd, w->plane, nb, w->spill_end, 1) != 0) {
        int full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG;
        ib_error(&e, full ? IB_ENOSPACE : IB_EIO, "spill file '%s': cannot write %llu bytes: %s",
                 w->spill_path, (unsigned long long)nb, strerror(errno));
        set_err(R, &e);
        return full ? IB_ENOSPACE : IB_EIO;
    }
    h->off = w->spill_end;
    w->spill_end += (off_t)nb;
    w->spill_bytes += nb;
    w->spill_write_s += ib_now() - t0;
    w->nheld++;
    return 0;
}

static void drop_spill(worker *w)
{
    if (w->spill_fd >= 0) {
        close(w->spill_fd);
        unlink(w->spill_path);
        w->spill_fd = -1;
    }
}

/* Release this thread's share of the tracked working set. */
static void release_held(worker *w)
{
    run_ctx *R = w->R;
    if (!R) return; /* a worker that was never set up */
    for (size_t i = 0; i < w->nheld; i++) free(w->held[i].mem);
    w->nheld = 0;
    if (R->budget && w->held_bytes) {
        pthread_mutex_lock(&R->mem_lock);
        R->tracked -= w->held_bytes;
        R->holders--;
        pthread_cond_broadcast(&R->mem_cond);
        pthread_mutex_unlock(&R->mem_lock);
    }
    w->held_bytes = 0;
    drop_spill(w);
}

/* Commit the chunk's held planes to the cube, in production order. */
static int commit_chunk(worker *w)
{
    run_ctx *R = w->R;
    int rc = 0;
    for (size_t i = 0; i < w->nheld && !rc; i++) {
        held_plane *h = &w->held[i];
        float *buf = h->mem;
        if (!buf) {
            phase(w, PROF_SPILL);
            double t0 = ib_now();
            if (io_all(w->spill_fd, w->plane, R->plane_bytes, h->off, 0) != 0) {
                ib_err e;
                ib_error(&e, IB_EIO, "spill file '%s': cannot read back a plane: %s",
                         w->spill_path, strerror(errno));
                set_err(R, &e);
                rc = IB_EIO;
                break;
            }
            w->spill_read_s += ib_now() - t0;
            buf = w->plane;
        }
        phase(w, PROF_WRITE);
        rc = put_plane(w, h->chan, h->pol, h->prod, buf);
    }
    release_held(w);
    return rc;
}

/* A finished plane in w->plane: written now (direct) or held. */
static int emit_plane(worker *w, int direct, int64_t chan, int pol, int prod)
{
    return direct ? put_plane(w, chan, pol, prod, w->plane) : hold_plane(w, chan, pol, prod);
}

/* Past the pause fraction a thread waits before starting another chunk,
 * until others commit theirs (never when it would wait for itself). */
static void wait_for_memory(worker *w)
{
    run_ctx *R = w->R;
    if (!R->budget) return;
    pthread_mutex_lock(&R->mem_lock);
    if ((double)R->tracked > R->p->mem_pause * (double)R->budget && R->holders > 0) {
        phase(w, PROF_WAIT);
        while ((double)R->tracked > R->p->mem_target * (double)R->budget && R->holders > 0 &&
               !atomic_load(&R->failed))
            pthread_cond_wait(&R->mem_cond, &R->mem_lock);
    }
    pthread_mutex_unlock(&R->mem_lock);
}

/*
 * Mosaic products of one pol of channel chan, from the dirty plane in
 * w->plane: the weight (sensitivity) plane W = sum_f (w_f / sum w) PB_f^2,
 * exact in the image plane; pb = sqrt(W / max W); and the normalised
 * mosaic dirty / W where pb >= pb_limit (NaN elsewhere, FITS blank).
 */
static void mosaic_planes(worker *w, int p, double sumw)
{
    const run_ctx *R = w->R;
    const int nx = R->nx, ny = R->ny, npol = R->npol;
    const size_t n = (size_t)nx * (size_t)ny;
    for (size_t i = 0; i < n; i++) w->wplane[i] = 0;
    for (int fi = 0; fi < R->nfield; fi++) {
        float c = sumw > 0 ? (float)(w->swf[(size_t)fi * (size_t)npol + (size_t)p] / sumw) : 0;
        if (c <= 0) continue;
        const float *restrict gx = w->gx + (size_t)fi * (size_t)nx;
        for (int y = 0; y < ny; y++) {
            float gy = c * w->gy[(size_t)fi * (size_t)ny + (size_t)y];
            if (gy < 1e-12f) continue;
            float *restrict row = w->wplane + (size_t)y * (size_t)nx;
            for (int x = 0; x < nx; x++) row[x] += gy * gx[x];
        }
    }
    float wmax = 0;
    for (size_t i = 0; i < n; i++) wmax = w->wplane[i] > wmax ? w->wplane[i] : wmax;
    float lim = (float)(R->p->pb_limit * R->p->pb_limit) * wmax;
    for (size_t i = 0; i < n; i++)
        w->aux[i] = (wmax > 0 && w->wplane[i] >= lim) ? w->plane[i] / w->wplane[i] : NAN;
}

/* Total final weight per field and pol of the channel's sample list. */
static void mosaic_field_weights(worker *w)
{
    const run_ctx *R = w->R;
    const int npol = R->npol;
    memset(w->swf, 0, sizeof(double) * (size_t)R->nfield * (size_t)npol);
    if (R->p->dbl) {
        const sample_list_d *L = w->list;
        for (int64_t s = 0; s < L->n; s++)
            for (int p = 0; p < npol; p++)
                w->swf[(size_t)R->field[L->row[s]] * (size_t)npol + (size_t)p] +=
                    L->w[(size_t)s * (size_t)npol + (size_t)p];
    } else {
        const sample_list_f *L = w->list;
        for (int64_t s = 0; s < L->n; s++)
            for (int p = 0; p < npol; p++)
                w->swf[(size_t)R->field[L->row[s]] * (size_t)npol + (size_t)p] +=
                    L->w[(size_t)s * (size_t)npol + (size_t)p];
    }
}

/* Kernel tables of channel chan for every distinct pointing offset, and
 * the squared beam of every field along x and y for the weight planes. */
static void mosaic_kernels(worker *w, int64_t chan)
{
    const run_ctx *R = w->R;
    size_t ntab = 2 * ((size_t)R->gw * (size_t)R->over + 1);
    double dux = 1.0 / (R->ngx * R->cell), duy = 1.0 / (R->ngy * R->cell), f = R->freq[chan];
    for (int i = 0; i < R->nxo; i++)
        img__akernel_build(&R->k, R->gw, R->over, R->nfft, R->psihat, R->kplan, w->kbuf, f, R->dish,
                           dux, R->xo[i], R->aperture, w->tx + (size_t)i * ntab);
    for (int i = 0; i < R->nyo; i++)
        img__akernel_build(&R->k, R->gw, R->over, R->nfft, R->psihat, R->kplan, w->kbuf, f, R->dish,
                           duy, R->yo[i], R->aperture, w->ty + (size_t)i * ntab);
    double fw = img_pb_fwhm(f, R->dish), a = 8.0 * M_LN2 / (fw * fw);
    for (int fi = 0; fi < R->nfield; fi++) {
        for (int x = 0; x < R->nx; x++) {
            double dl = (R->nx / 2 - x) * R->cell - R->lo[fi];
            w->gx[(size_t)fi * (size_t)R->nx + (size_t)x] = R->aperture ? (float)exp(-a * dl * dl) : 1.0f;
        }
        for (int y = 0; y < R->ny; y++) {
            double dm = (y - R->ny / 2) * R->cell - R->mo[fi];
            w->gy[(size_t)fi * (size_t)R->ny + (size_t)y] = R->aperture ? (float)exp(-a * dm * dm) : 1.0f;
        }
    }
}

/* Add the worker's sample list to grid (one product: dirty or PSF of
 * channel chan); rows *vlo..*vhi of the grid are widened to cover it. */
static void grid_list(worker *w, int64_t chan, int prod, void *grid, int *vlo, int *vhi)
{
    run_ctx *R = w->R;
    const int npol = R->npol, dbl = R->p->dbl;
    const size_t es = dbl ? 8 : 4, cell = 2 * (size_t)npol * es, row = cell * (size_t)R->ngx;
    if (R->mosaic && prod == IMG_PROD_DIRTY) {
        double fl = R->freq[chan] / IMG_C_LIGHT;
        if (dbl) grid_mosaic_d(R, w->list, w->tx, w->ty, fl, grid, vlo, vhi);
        else grid_mosaic_f(R, w->list, w->tx, w->ty, fl, grid, vlo, vhi);
    } else {
        /* The list's tap indices are for the grid support gw; the standard
         * kernel (the mosaic's PSF too) starts (gw - W)/2 cells further. */
        size_t off = (size_t)((R->gw - R->k.W) / 2);
        char *g = (char *)grid + off * row + off * cell;
        if (dbl) grid_samples_d(&R->k, w->list, npol, (double *)(void *)g, R->ngx, prod, vlo, vhi);
        else grid_samples_f(&R->k, w->list, npol, (float *)(void *)g, R->ngx, prod, vlo, vhi);
        *vhi = *vhi + (int)(2 * off) < R->ngy ? *vhi + (int)(2 * off) : R->ngy;
    }
}

static int grid_planes(worker *w, int64_t chan, const double *sumw, int prod, const void *grid,
                       int vlo, int vhi, int direct);

/* Grid -> FFT -> correct one product (dirty or PSF) of one channel and
 * hold or write its planes (and, for the mosaic's dirty product, the
 * weight, pb and normalised planes). */
static int image_product(worker *w, int64_t chan, const double *sumw, int prod)
{
    run_ctx *R = w->R;
    phase(w, PROF_GRID);
    const size_t es = R->p->dbl ? 8 : 4, row = 2 * (size_t)R->npol * es * (size_t)R->ngx;
    if (w->vhi > w->vlo)
        memset((char *)w->grid + (size_t)w->vlo * row, 0, (size_t)(w->vhi - w->vlo) * row);
    w->vlo = R->ngy;
    w->vhi = 0;
    grid_list(w, chan, prod, w->grid, &w->vlo, &w->vhi);
    return grid_planes(w, chan, sumw, prod, w->grid, w->vlo, w->vhi, 0);
}

/* The planes of one product of one channel from its grid (rows vlo..vhi
 * may be non-zero): FFT, correct, normalise by sumw; held under a budget,
 * or written at once when direct. */
static int grid_planes(worker *w, int64_t chan, const double *sumw, int prod, const void *grid,
                       int vlo, int vhi, int direct)
{
    run_ctx *R = w->R;
    const int npol = R->npol, dbl = R->p->dbl;
    for (int p = 0; p < npol; p++) {
        phase(w, PROF_FFT);
        if (dbl) {
            fold_d(grid, w->half, R->ngx, R->ngy, npol, p, vlo, vhi);
            fft_d(R, w->half);
        } else {
            fold_f(grid, w->half, R->ngx, R->ngy, npol, p, vlo, vhi);
            fft_f(R, w->half);
        }
        phase(w, PROF_CORRECT);
        double scale = sumw[p] > 0 ? 0.5 / sumw[p] : 0.0;
        float peak = dbl ? extract_d(w->half, w->plane, R->nx, R->ny, R->ngx, R->jx, R->jy,
                                     R->corr_xf, R->corr_y, scale)
                         : extract_f(w->half, w->plane, R->nx, R->ny, R->ngx, R->jx, R->jy,
                                     R->corr_xf, R->corr_y, scale);
        if (prod == IMG_PROD_DIRTY) R->peaks[(size_t)chan * (size_t)npol + (size_t)p] = peak;
        int mos = R->mosaic && prod == IMG_PROD_DIRTY;
        if (mos) mosaic_planes(w, p, sumw[p]);

        phase(w, PROF_WRITE);
        int rc = emit_plane(w, direct, chan, p, prod);
        if (!rc && mos) {
            size_t n = (size_t)R->nx * (size_t)R->ny;
            memcpy(w->plane, w->wplane, n * sizeof(float));
            rc = emit_plane(w, direct, chan, p, IMG_PROD_WEIGHT);
            float wmax = 0;
            for (size_t i = 0; !rc && i < n; i++) wmax = w->wplane[i] > wmax ? w->wplane[i] : wmax;
            for (size_t i = 0; !rc && i < n; i++)
                w->plane[i] = wmax > 0 ? sqrtf(w->wplane[i] / wmax) : 0.0f;
            if (!rc) rc = emit_plane(w, direct, chan, p, IMG_PROD_PB);
            if (!rc) {
                memcpy(w->plane, w->aux, n * sizeof(float));
                rc = emit_plane(w, direct, chan, p, IMG_PROD_MOSAIC);
            }
        }
        if (rc) return rc;
    }
    return 0;
}

/* Publish a finished chunk's figures as software-defined events: once per
 * chunk, never per visibility. */
static void sde_chunk(worker *w, uint64_t samples0, uint64_t bytes0, uint64_t spill0,
                      uint64_t files0, int64_t nc)
{
    prof_sde *s = w->R->p->sde;
    if (!s) return;
    uint64_t ds = w->samples - samples0;
    prof_sde_add(s, PROF_SDE_SAMPLES_GRIDDED, (long long)ds);
    prof_sde_add(s, PROF_SDE_VIS_GRIDDED, (long long)(ds / (uint64_t)w->R->npol));
    prof_sde_add(s, PROF_SDE_CHUNKS_DONE, 1);
    prof_sde_add(s, PROF_SDE_BYTES_READ, (long long)(w->bytes_read - bytes0));
    prof_sde_add(s, PROF_SDE_SPILL_BYTES, (long long)(w->spill_bytes - spill0));
    prof_sde_add(s, PROF_SDE_SPILL_FILES, (long long)(w->spill_files - files0));
    prof_sde_add(s, PROF_SDE_BYTES_WRITTEN,
                 (long long)((uint64_t)nc * (uint64_t)w->R->npol * w->R->plane_bytes *
                             (w->R->p->psf ? 2u : 1u)));
}

static int process_chunk_body(worker *w, int c);

static int process_chunk(worker *w, int c)
{
    uint64_t s0 = w->samples, b0 = w->bytes_read, sp0 = w->spill_bytes, f0 = w->spill_files;
    int rc = process_chunk_body(w, c);
    if (!rc) sde_chunk(w, s0, b0, sp0, f0, w->R->chunk0[c + 1] - w->R->chunk0[c]);
    return rc;
}

static int process_chunk_body(worker *w, int c)
{
    run_ctx *R = w->R;
    int64_t c0 = R->chunk0[c], nc = R->chunk0[c + 1] - c0;
    ib_err e;
    ib_err_init(&e);
    phase(w, PROF_READ);
    w->cur_chunk = c;
    w->cur_chan = (int32_t)c0;
    int rc = img_vis_read_chans(&e, R->store, 0, R->nrow, c0, nc, w->vis, w->wt, w->flag,
                               &w->bytes_read);
    if (rc) {
        set_err(R, &e);
        return rc;
    }
    for (int64_t cc = 0; cc < nc && !atomic_load(&R->failed); cc++) {
        double sumw[IMG_MAX_POL] = {0};
        phase(w, PROF_WEIGHT);
        w->cur_chan = (int32_t)(c0 + cc);
        int64_t n;
        if (R->p->dbl) {
            build_list_d(R, w->vis, w->wt, w->flag, cc, c0 + cc, w->list, w->density, sumw,
                         &w->dropped);
            n = ((sample_list_d *)w->list)->n;
        } else {
            build_list_f(R, w->vis, w->wt, w->flag, cc, c0 + cc, w->list, w->density, sumw,
                         &w->dropped);
            n = ((sample_list_f *)w->list)->n;
        }
        w->samples += (uint64_t)n * (uint64_t)R->npol;
        if (R->mosaic) {
            phase(w, PROF_KERNEL);
            mosaic_kernels(w, c0 + cc);
            mosaic_field_weights(w);
        }
        if ((rc = image_product(w, c0 + cc, sumw, IMG_PROD_DIRTY))) return rc;
        if (R->p->psf && (rc = image_product(w, c0 + cc, sumw, IMG_PROD_PSF))) return rc;
    }
    return R->budget ? commit_chunk(w) : 0;
}

/* Dynamic schedule: do remote ranks ask for a chunk ahead of need while
 * this many are left to hand out? Only while more than one per thread of
 * every rank remain: near the end a chunk reserved ahead could leave
 * another rank idle while its holder still has two to image. */
static int ask_ahead(const run_ctx *R, int left) { return left > R->par->size * R->p->threads; }

/*
 * The next chunk for worker w, or -1 when there is none. static and
 * locality walk this rank's precomputed list; dynamic asks rank 0, which
 * hands out chunks first come, first served (its own threads take them
 * from the shared counter directly). The time spent here is the
 * scheduler's overhead, recorded per task.
 */
static int next_chunk(worker *w)
{
    run_ctx *R = w->R;
    phase(w, PROF_SCHED);
    w->cur_chunk = -1;
    w->cur_chan = -1;
    double t0 = ib_now();
    int c = -1;
    if (R->p->schedule != IMG_SCHED_DYNAMIC || R->par->size == 1) {
        int i = atomic_fetch_add(&R->my_next, 1);
        c = i < R->nmy ? R->my_chunks[i] : -1;
    } else if (!w->started) {
        /* The first round is dealt without messages: thread t of rank r
         * starts on chunk r*T + t; rank 0's counter starts after them. */
        w->started = 1;
        c = R->par->rank * R->p->threads + w->id;
        if (c >= R->nchunks) c = -1;
        if (c >= 0 && R->par->rank != 0) {
            ib_err e;
            ib_err_init(&e);
            int32_t req[2] = {w->id, 0}; /* thread, task key (row chunks) */
            if (img__send(&e, &R->comm, req, sizeof req, 0, TAG_REQ) ||
                img__irecv(&e, &R->comm, w->reply, sizeof w->reply, 0, TAG_REPLY + w->id,
                           &w->req)) {
                set_err(R, &e);
                return -1;
            }
            w->req_pending = 1;
        }
    } else if (R->par->rank == 0) {
        c = atomic_fetch_add(&R->next_chunk, 1);
        if (c >= R->nchunks) c = -1;
    } else {
        /* A request in flight while many chunks are left: the reply for
         * the next chunk arrives while this one is imaged, so the round
         * trip to rank 0 is hidden behind the work; near the end each
         * chunk is asked for when the last is done. */
        ib_err e;
        ib_err_init(&e);
        int32_t req[2] = {w->id, 0}; /* thread, task key (row chunks) */
        if (w->no_more) {
            w->sched_s += ib_now() - t0;
            return -1; /* told with the last chunk: nothing to ask for */
        }
        if (!w->req_pending &&
            (img__send(&e, &R->comm, req, sizeof req, 0, TAG_REQ) ||
             img__irecv(&e, &R->comm, w->reply, sizeof w->reply, 0, TAG_REPLY + w->id, &w->req))) {
            set_err(R, &e);
            return -1;
        }
        w->req_pending = 0;
        if (img__wait(&e, &R->comm, &w->req)) {
            set_err(R, &e);
            return -1;
        }
        c = w->reply[0];
        if (c >= R->nchunks) {
            ib_error(&e, IB_EMPI, "rank %d: chunk %d from rank 0 is out of range", R->par->rank, c);
            set_err(R, &e);
            return -1;
        }
        w->no_more = c >= 0 && w->reply[1] == 0;
        if (c >= 0 && ask_ahead(R, w->reply[1])) {
            if (img__send(&e, &R->comm, req, sizeof req, 0, TAG_REQ) ||
                img__irecv(&e, &R->comm, w->reply, sizeof w->reply, 0, TAG_REPLY + w->id,
                           &w->req)) {
                set_err(R, &e);
                return -1;
            }
            w->req_pending = 1;
        }
    }
    w->sched_s += ib_now() - t0;
    if (c >= 0) w->ntasks++;
    return c;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    prof_papi *papi = w->R->p->papi;
    prof_timer_init(&w->t);
    prof_papi_thread_init(&w->pt);
    if (papi) prof_papi_thread_start(NULL, papi, &w->pt); /* unavailable: a no-op */
    for (;;) {
        if (atomic_load(&w->R->failed)) break;
        wait_for_memory(w);
        int c = next_chunk(w);
        if (c < 0) break;
        if (process_chunk(w, c)) break;
    }
    phase(w, -1);
    if (papi) {
        prof_papi_thread_stop(NULL, papi, &w->pt, NULL);
        prof_papi_thread_release(papi, &w->pt);
    }
    return NULL;
}

/* ---------- row chunks ---------- */

/*
 * With --row-chunks M a channel chunk is imaged in one round: its M row
 * tasks (rows [rrow0[j], rrow0[j+1]) x the chunk's channels) are spread
 * over the ranks' threads, each thread adds its tasks' samples to its own
 * grids, the threads' grids are summed, the ranks' grids are reduced onto
 * the chunk's owner rank, which FFTs and writes the planes. Uniform and
 * Briggs weights need the density of every row first: a density pass of
 * the same tasks runs before, its sums reduced on every rank.
 */

static int chunk_owner(const run_ctx *R, int c) { return c % R->par->size; }

/* The next row task of (pass, channel chunk c) for w, or -1. */
static int next_row_task(worker *w, int pass, int c)
{
    run_ctx *R = w->R;
    phase(w, PROF_SCHED);
    w->cur_chunk = -1;
    w->cur_chan = -1;
    double t0 = ib_now();
    int key = pass * R->nchunks + c, j;
    if (R->p->schedule != IMG_SCHED_DYNAMIC || R->par->size == 1) {
        int i = atomic_fetch_add(&R->rnext[key], 1);
        j = i < R->nmyr ? R->my_rows[i] : -1;
    } else if (R->par->rank == 0) {
        j = atomic_fetch_add(&R->rnext[key], 1);
        if (j >= R->mrows) j = -1;
    } else {
        ib_err e;
        ib_err_init(&e);
        int32_t req[2] = {w->id, key};
        if (img__send(&e, &R->comm, req, sizeof req, 0, TAG_REQ) ||
            img__recv(&e, &R->comm, w->reply, sizeof w->reply, 0, TAG_REPLY + w->id, NULL,
                      NULL)) {
            set_err(R, &e);
            return -1;
        }
        j = w->reply[0];
        if (j >= R->mrows) {
            ib_error(&e, IB_EMPI, "rank %d: row task %d from rank 0 is out of range",
                     R->par->rank, j);
            set_err(R, &e);
            return -1;
        }
    }
    w->sched_s += ib_now() - t0;
    if (j >= 0) w->ntasks++;
    return j;
}

/* Grid g (0 dirty, 1 PSF) of channel i of the chunk in accumulator acc. */
static void *acc_grid(const run_ctx *R, void *acc, int64_t i, int g)
{
    size_t es = R->p->dbl ? 8 : 4;
    return (char *)acc + ((size_t)i * (size_t)R->nprodg + (size_t)g) * R->gcells * es;
}

/*
 * Row task j of channel chunk c: read its slab; pass 0 adds each channel's
 * density to the thread's sums, pass 1 weights (with the reduced density)
 * and grids each channel into the thread's grids.
 */
static int row_task(worker *w, int pass, int c, int j)
{
    run_ctx *R = w->R;
    const int npol = R->npol;
    const int64_t c0 = R->chunk0[c], nc = R->chunk0[c + 1] - c0;
    const int64_t r0 = R->rrow0[j], nr = R->rrow0[j + 1] - r0;
    const int64_t *ks = R->kidx + R->kstart[j], nk = R->kstart[j + 1] - R->kstart[j];
    const size_t nxy = (size_t)R->nx * (size_t)R->ny;
    ib_err e;
    ib_err_init(&e);
    phase(w, PROF_READ);
    w->cur_chunk = c * R->mrows + j;
    w->cur_chan = (int32_t)c0;
    int rc = img_vis_read_chans(&e, R->store, r0, nr, c0, nc, w->vis, w->wt, w->flag,
                                &w->bytes_read);
    if (rc) {
        set_err(R, &e);
        return rc;
    }
    uint64_t dropped = 0;
    for (int64_t i = 0; i < nc && !atomic_load(&R->failed); i++) {
        const int64_t chan = c0 + i;
        phase(w, PROF_WEIGHT);
        w->cur_chan = (int32_t)chan;
        double sumw[IMG_MAX_POL] = {0};
        const float *dens = R->ws[0].accd ? R->ws[0].accd + (size_t)i * nxy : NULL;
        int64_t n;
        if (R->p->dbl) {
            sample_list_d *L = w->list;
            list_samples_d(R, w->vis, w->wt, w->flag, i, chan, ks, nk, r0, nr, L, &dropped);
            if (pass == 0) density_add_d(R, L, chan, w->accd + (size_t)i * nxy);
            else list_weigh_d(R, L, chan, dens, sumw);
            n = L->n;
        } else {
            sample_list_f *L = w->list;
            list_samples_f(R, w->vis, w->wt, w->flag, i, chan, ks, nk, r0, nr, L, &dropped);
            if (pass == 0) density_add_f(R, L, chan, w->accd + (size_t)i * nxy);
            else list_weigh_f(R, L, chan, dens, sumw);
            n = L->n;
        }
        if (pass == 0) continue;
        w->samples += (uint64_t)n * (uint64_t)npol;
        double *aw = w->accw + (size_t)i * R->wper;
        for (int p = 0; p < npol; p++) aw[p] += sumw[p];
        if (R->mosaic) {
            phase(w, PROF_KERNEL);
            mosaic_kernels(w, chan);
            mosaic_field_weights(w);
            for (size_t q = 0; q < (size_t)R->nfield * (size_t)npol; q++) aw[npol + q] += w->swf[q];
        }
        phase(w, PROF_GRID);
        for (int g = 0; g < R->nprodg; g++) {
            int vlo = R->ngy, vhi = 0;
            grid_list(w, chan, g ? IMG_PROD_PSF : IMG_PROD_DIRTY, acc_grid(R, w->acc, i, g), &vlo,
                      &vhi);
        }
    }
    if (pass == 1) w->dropped += dropped;
    return 0;
}

/* Every thread of the rank meets here (time waiting is the wait phase). */
static void rows_sync(worker *w)
{
    phase(w, PROF_WAIT);
    pthread_barrier_wait(&w->R->bar);
}

/* Thread w's slice of n values: every thread's buffer (the one buf
 * selects) added into thread 0's. */
static void sum_slice(worker *w, size_t n, int dbl, void *(*buf)(worker *))
{
    run_ctx *R = w->R;
    const int T = R->p->threads;
    size_t a = n * (size_t)w->id / (size_t)T, b = n * ((size_t)w->id + 1) / (size_t)T;
    if (dbl) {
        double *dst = buf(&R->ws[0]);
        for (int t = 1; t < T; t++) {
            const double *src = buf(&R->ws[t]);
            for (size_t i = a; i < b; i++) dst[i] += src[i];
        }
    } else {
        float *dst = buf(&R->ws[0]);
        for (int t = 1; t < T; t++) {
            const float *src = buf(&R->ws[t]);
            for (size_t i = a; i < b; i++) dst[i] += src[i];
        }
    }
}

static void *buf_acc(worker *w) { return w->acc; }
static void *buf_accd(worker *w) { return w->accd; }
static void *buf_accw(worker *w) { return w->accw; }

/* Thread 0: the rank's sums onto their destination ranks (root < 0: all). */
static int rows_reduce(worker *w, void *buf, size_t n, int dbl, int root)
{
    run_ctx *R = w->R;
    ib_err e;
    ib_err_init(&e);
    phase(w, PROF_COMM);
    int rc = img__reduce_sum(&e, &R->comm, buf, n, dbl, root);
    if (rc) set_err(R, &e);
    return rc;
}

/* The task loop of one pass over channel chunk c. */
static void rows_pass(worker *w, int pass, int c)
{
    run_ctx *R = w->R;
    while (!atomic_load(&R->failed)) {
        int j = next_row_task(w, pass, c);
        uint64_t s0 = w->samples, b0 = w->bytes_read;
        if (j < 0 || row_task(w, pass, c, j)) break;
        /* the software-defined events: once per task, planes at their write */
        sde_chunk(w, s0, b0, w->spill_bytes, w->spill_files, 0);
    }
}

static void *rows_main(void *arg);

/* A row-chunk thread waits until every thread exists (gate 1) or the
 * start failed (gate -1: it leaves before any barrier). */
static void *rows_gate(void *arg)
{
    worker *w = arg;
    run_ctx *R = w->R;
    pthread_mutex_lock(&R->mem_lock);
    while (R->gate == 0) pthread_cond_wait(&R->mem_cond, &R->mem_lock);
    int go = R->gate > 0;
    pthread_mutex_unlock(&R->mem_lock);
    return go ? rows_main(arg) : NULL;
}

static void *rows_main(void *arg)
{
    worker *w = arg;
    run_ctx *R = w->R;
    prof_papi *papi = R->p->papi;
    const int T = R->p->threads, dbl = R->p->dbl, me = R->par->rank;
    const size_t es = dbl ? 8 : 4, nxy = (size_t)R->nx * (size_t)R->ny;
    prof_timer_init(&w->t);
    prof_papi_thread_init(&w->pt);
    if (papi) prof_papi_thread_start(NULL, papi, &w->pt);
    for (int c = 0; c < R->nchunks; c++) {
        const int64_t c0 = R->chunk0[c], nc = R->chunk0[c + 1] - c0;
        const size_t ngrid = (size_t)nc * (size_t)R->nprodg * R->gcells;
        const int owner = chunk_owner(R, c);
        if (w->accd) {
            memset(w->accd, 0, sizeof(float) * (size_t)nc * nxy);
            rows_pass(w, 0, c);
            rows_sync(w);
            phase(w, PROF_WEIGHT);
            w->cur_chunk = -1;
            if (!atomic_load(&R->failed)) sum_slice(w, (size_t)nc * nxy, 0, buf_accd);
            rows_sync(w);
            if (w->id == 0 && !atomic_load(&R->failed))
                rows_reduce(w, w->accd, (size_t)nc * nxy, 0, -1);
            rows_sync(w);
        }
        memset(w->acc, 0, ngrid * es);
        memset(w->accw, 0, sizeof(double) * (size_t)nc * R->wper);
        rows_pass(w, 1, c);
        rows_sync(w);
        phase(w, PROF_GRID);
        w->cur_chunk = -1;
        if (!atomic_load(&R->failed)) {
            sum_slice(w, ngrid, dbl, buf_acc);
            sum_slice(w, (size_t)nc * R->wper, 1, buf_accw);
        }
        rows_sync(w);
        if (w->id == 0 && !atomic_load(&R->failed) &&
            !rows_reduce(w, w->acc, ngrid, dbl, owner))
            rows_reduce(w, w->accw, (size_t)nc * R->wper, 1, owner);
        rows_sync(w);
        /* The owner's threads share its planes: FFT, correct, write. */
        for (size_t k = (size_t)w->id; me == owner && k < (size_t)nc * (size_t)R->nprodg &&
                                       !atomic_load(&R->failed);
             k += (size_t)T) {
            int64_t i = (int64_t)(k / (size_t)R->nprodg);
            int g = (int)(k % (size_t)R->nprodg);
            const double *aw = R->ws[0].accw + (size_t)i * R->wper;
            phase(w, R->mosaic && g == 0 ? PROF_KERNEL : PROF_FFT);
            w->cur_chunk = -1;
            w->cur_chan = (int32_t)(c0 + i);
            if (R->mosaic && g == 0) {
                mosaic_kernels(w, c0 + i);
                memcpy(w->swf, aw + R->npol, sizeof(double) * (size_t)R->nfield * (size_t)R->npol);
            }
            if (grid_planes(w, c0 + i, aw, g ? IMG_PROD_PSF : IMG_PROD_DIRTY,
                            acc_grid(R, R->ws[0].acc, i, g), 0, R->ngy, 1))
                break;
            if (R->p->sde)
                prof_sde_add(R->p->sde, PROF_SDE_BYTES_WRITTEN,
                             (long long)((uint64_t)R->npol * R->plane_bytes));
        }
        rows_sync(w);
        if (w->id == 0) R->stop = atomic_load(&R->failed);
        rows_sync(w);
        if (R->stop) break;
    }
    phase(w, -1);
    if (papi) {
        prof_papi_thread_stop(NULL, papi, &w->pt, NULL);
        prof_papi_thread_release(papi, &w->pt);
    }
    return NULL;
}

/*
 * Rank 0's service thread (dynamic scheduling or serial writes with more
 * than one rank): answers chunk requests, writes the planes other ranks
 * send, and ends when every other rank has said it is done.
 */
static void *server_main(void *arg)
{
    run_ctx *R = arg;
    ib_err e;
    ib_err_init(&e);
    int done = 0;
    long nap_ns = 0;
    /* Remote worker threads that may still ask for a chunk: each stops
     * after the answer that gives the last chunk or says none is left. */
    int asking = (R->par->size - 1) * R->p->threads;
    size_t n = (size_t)R->nx * (size_t)R->ny;
    float *buf = ib_malloc((n + 4) * sizeof(float));
    if (!buf) {
        ib_error(&e, IB_ENOMEM, "rank 0: out of memory for the plane server");
        set_err(R, &e);
        return NULL;
    }
    while (done < R->par->size - 1) {
        int from, tag, bytes;
        /* Naps of up to 1 ms while chunks are asked for ahead of need and
         * once every remote thread has had its last answer (what is left
         * is "done"); of 50 us while a rank may be idle waiting for its
         * answer: near the end, for row tasks and for each plane a rank
         * sends to be written here. Every wake-up takes the core from one
         * of this rank's workers. */
        int left = R->nchunks - atomic_load(&R->next_chunk);
        long nap = 50000;
        if (R->mrows == 1 && !R->p->serial_write && (ask_ahead(R, left) || asking == 0))
            nap = 1000000;
        if (img__probe(&e, &R->comm, &nap_ns, nap, &from, &tag, &bytes)) break;
        if (tag < 0) continue; /* nothing yet: the nap is chosen again */
        if (tag == TAG_REQ) {
            int32_t rq[2], c;
            if (bytes != (int)sizeof rq) {
                ib_error(&e, IB_EMPI, "rank 0: request of %d bytes from rank %d", bytes, from);
                break;
            }
            if (img__recv(&e, &R->comm, rq, sizeof rq, from, TAG_REQ, NULL, NULL)) break;
            int32_t ntask; /* tasks of the kind asked for */
            if (R->mrows > 1) {
                /* row chunks: the next row task of (pass, channel chunk) rq[1] */
                if (rq[1] < 0 || rq[1] >= 2 * R->nchunks) {
                    ib_error(&e, IB_EMPI, "rank 0: bad task key %d from rank %d", rq[1], from);
                    break;
                }
                c = atomic_fetch_add(&R->rnext[rq[1]], 1);
                ntask = R->mrows;
            } else {
                c = atomic_fetch_add(&R->next_chunk, 1);
                ntask = R->nchunks;
            }
            int32_t rep[2] = {c < ntask ? c : -1, c < ntask ? ntask - c - 1 : 0}; /* task, left */
            if (img__send(&e, &R->comm, rep, sizeof rep, from, TAG_REPLY + rq[0])) break;
            if (R->mrows == 1 && rep[1] == 0) asking--; /* the last chunk or "none": its last answer */
        } else if (tag == TAG_PLANE) {
            if (bytes != (int)((n + 4) * sizeof(float))) {
                ib_error(&e, IB_EMPI, "rank 0: plane message of %d bytes from rank %d", bytes, from);
                break;
            }
            if (img__recv(&e, &R->comm, buf, bytes, from, TAG_PLANE, NULL, NULL)) break;
            int32_t hdr[4];
            memcpy(hdr, buf, sizeof hdr);
            if (hdr[0] < 0 || hdr[0] >= R->nchan || hdr[1] < 0 || hdr[1] >= R->npol) {
                ib_error(&e, IB_EMPI, "rank 0: bad plane header from rank %d", from);
                break;
            }
            if (hdr[2] < 0 || hdr[2] >= IMG_NPROD || !R->cube[hdr[2]]) {
                ib_error(&e, IB_EMPI, "rank 0: bad product %d from rank %d", hdr[2], from);
                break;
            }
            if (img__fits_write_plane(&e, R->cube[hdr[2]], hdr[0], hdr[1], buf + 4))
                break;
        } else if (tag == TAG_DONE) {
            int32_t x;
            if (img__recv(&e, &R->comm, &x, sizeof x, from, TAG_DONE, NULL, NULL)) break;
            done++;
        } else {
            ib_error(&e, IB_EMPI, "rank 0: unexpected message tag %d from rank %d", tag, from);
            break;
        }
    }
    if (e.code) set_err(R, &e);
    free(buf);
    return NULL;
}

static void worker_release(worker *w, int dbl)
{
    ib_free(w->vis);
    ib_free(w->wt);
    ib_free(w->flag);
    list_free(w->list, dbl);
    free(w->density);
    ib_free(w->grid);
    ib_free(w->half);
    release_held(w);
    free(w->tx);
    free(w->ty);
    fftw_free(w->kbuf);
    free(w->gx);
    free(w->gy);
    free(w->swf);
    free(w->wplane);
    free(w->aux);
    free(w->held);
    free(w->plane);
    free(w->sendbuf);
    free(w->ev);
    ib_free(w->acc);
    free(w->accw);
    free(w->accd);
}

static int worker_init(ib_err *e, run_ctx *R, worker *w, int id)
{
    memset(w, 0, sizeof *w);
    w->R = R;
    w->id = id;
    w->spill_fd = -1;
    size_t slab, ng;
    if (ib_mul3_size((size_t)R->slab_rows, (size_t)R->max_chunk, (size_t)R->npol, &slab) ||
        ib_mul_size((size_t)R->ngx, (size_t)R->ngy, &ng) || slab > ((size_t)1 << 40))
        return ib_error(e, IB_EOVERFLOW, "chunk of %lld rows x %lld channels is too large",
                        (long long)R->slab_rows, (long long)R->max_chunk);
    /* The big buffers on huge pages: each rank faults them in once. */
    w->vis = ib_alloc_huge(slab * 8);
    w->wt = ib_alloc_huge(slab * 4);
    w->flag = ib_alloc_huge(slab);
    w->list = list_alloc(R->slab_rows, R->npol, R->p->dbl);
    w->plane = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
    if (R->p->weighting != IMG_WEIGHT_NATURAL)
        w->density = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
    if (R->p->serial_write && R->par->rank != 0)
        w->sendbuf = ib_malloc(sizeof(float) * ((size_t)R->nx * (size_t)R->ny + 4));
    int ok = w->vis && w->wt && w->flag && w->list && w->plane &&
             (R->p->weighting == IMG_WEIGHT_NATURAL || w->density) &&
             (!(R->p->serial_write && R->par->rank != 0) || w->sendbuf);
    if (ok && R->mrows == 1) {
        size_t ngp = ng * (size_t)R->npol;
        w->grid = ib_alloc_huge(ngp * (R->p->dbl ? 16 : 8));
        ok = w->grid != NULL;
        if (ok) memset(w->grid, 0, ngp * (R->p->dbl ? 16 : 8));
        w->vlo = w->vhi = 0;
    } else if (ok) {
        /* Row chunks: the chunk's grids and sums (sizes checked by
         * setup_budget's arithmetic). */
        size_t nc = (size_t)R->max_chunk;
        w->acc = ib_alloc_huge(nc * (size_t)R->nprodg * R->gcells * (R->p->dbl ? 8 : 4));
        w->accw = ib_malloc(sizeof(double) * nc * R->wper);
        if (R->p->weighting != IMG_WEIGHT_NATURAL)
            w->accd = ib_malloc(sizeof(float) * nc * (size_t)R->nx * (size_t)R->ny);
        ok = w->acc && w->accw && (R->p->weighting == IMG_WEIGHT_NATURAL || w->accd);
    }
    size_t nh = (size_t)R->ngy * (size_t)(R->ngx / 2 + 1);
    if (ok) {
        w->half = ib_alloc_huge(nh * (R->p->dbl ? 16 : 8));
        ok = w->half != NULL;
    }
    if (ok && R->mosaic) {
        size_t ntab = 2 * ((size_t)R->gw * (size_t)R->over + 1);
        w->tx = ib_malloc(sizeof(double) * ntab * (size_t)R->nxo);
        w->ty = ib_malloc(sizeof(double) * ntab * (size_t)R->nyo);
        w->swf = ib_malloc(sizeof(double) * (size_t)R->nfield * (size_t)R->npol);
        w->wplane = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
        w->aux = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
        w->kbuf = fftw_malloc(sizeof(double) * 2 * (size_t)R->nfft);
        w->gx = ib_malloc(sizeof(float) * (size_t)R->nfield * (size_t)R->nx);
        w->gy = ib_malloc(sizeof(float) * (size_t)R->nfield * (size_t)R->ny);
        ok = w->tx && w->ty && w->swf && w->wplane && w->aux && w->kbuf && w->gx && w->gy;
    }
    if (!ok)
        return ib_error(e, IB_ENOMEM,
                        "out of memory for thread %d's buffers (slab %zu samples, grid %dx%d)",
                        id, slab, R->ngx, R->ngy);
    return 0;
}

/* ---------- set-up ---------- */

typedef img__row_key row_key;

static int cmp_row(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->a1 != b->a1) return a->a1 < b->a1 ? -1 : 1;
    if (a->a2 != b->a2) return a->a2 < b->a2 ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
}

/*
 * keys sorted by (a1, a2, t, row) as qsort with cmp_row would, in linear
 * time for the usual store: a stable counting sort by baseline, then a
 * check that time ascends within each baseline (rows in time order, as
 * correlators write them); a baseline where it does not is sorted by
 * cmp_row. Antenna numbers outside 0..nant-1 fall back to qsort.
 */
int img__sort_rows(img__row_key *keys, size_t n, int nant)
{
    size_t nb = (size_t)(nant > 0 ? nant : 0) * (size_t)(nant > 0 ? nant : 0);
    for (size_t i = 0; i < n && nb; i++)
        if (keys[i].a1 < 0 || keys[i].a1 >= nant || keys[i].a2 < 0 || keys[i].a2 >= nant) nb = 0;
    if (nb == 0 || nb > ((size_t)1 << 24)) {
        qsort(keys, n, sizeof *keys, cmp_row);
        return 0;
    }
    size_t *start = ib_calloc(nb + 1, sizeof *start);
    row_key *tmp = ib_malloc(sizeof *tmp * (n ? n : 1));
    if (!start || !tmp) {
        free(start);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) start[(size_t)keys[i].a1 * (size_t)nant + (size_t)keys[i].a2 + 1]++;
    for (size_t b = 0; b < nb; b++) start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++) /* keys are in row order: stable by row */
        tmp[start[(size_t)keys[i].a1 * (size_t)nant + (size_t)keys[i].a2]++] = keys[i];
    /* start[b] is now the end of baseline b */
    for (size_t b = 0, lo = 0; b < nb; lo = start[b++]) {
        size_t hi = start[b];
        for (size_t i = lo + 1; i < hi; i++)
            if (tmp[i].t < tmp[i - 1].t) {
                qsort(tmp + lo, hi - lo, sizeof *tmp, cmp_row);
                break;
            }
    }
    memcpy(keys, tmp, sizeof *keys * n);
    free(tmp);
    free(start);
    return 0;
}

/* Rows ordered baseline by baseline so consecutive samples move along one
 * uv track and stay in cache. */
static int load_rows(ib_err *e, run_ctx *R)
{
    size_t n = (size_t)R->nrow;
    double *uvw = ib_malloc(sizeof(double) * 3 * n), *t = ib_malloc(sizeof(double) * n);
    int32_t *a1 = ib_malloc(sizeof(int32_t) * n), *a2 = ib_malloc(sizeof(int32_t) * n);
    row_key *keys = ib_malloc(sizeof(row_key) * n);
    R->perm = ib_malloc(sizeof(int64_t) * n);
    R->um = ib_malloc(sizeof(double) * n);
    R->vm = ib_malloc(sizeof(double) * n);
    R->field = ib_malloc(sizeof(int32_t) * n);
    int32_t *fld = ib_malloc(sizeof(int32_t) * n);
    int rc = 0;
    if (!uvw || !t || !a1 || !a2 || !keys || !R->perm || !R->um || !R->vm || !R->field || !fld) {
        rc = ib_error(e, IB_ENOMEM, "out of memory reading %zu rows", n);
        goto out;
    }
    if ((rc = img_vis_read_rows(e, R->store, 0, R->nrow, uvw, fld, a1, a2, t))) goto out;
    for (size_t i = 0; i < n; i++) {
        keys[i] = (row_key){a1[i], a2[i], t[i], (int64_t)i};
        if (fld[i] < 0 || fld[i] >= R->nfield) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/field' row %zu is %d, outside "
                          "0..%d", img_vis_path(R->store), i, fld[i], R->nfield - 1);
            goto out;
        }
        if (!isfinite(uvw[3 * i]) || !isfinite(uvw[3 * i + 1]) || !isfinite(uvw[3 * i + 2])) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/uvw' row %zu is not finite",
                          img_vis_path(R->store), i);
            goto out;
        }
    }
    if (img__sort_rows(keys, n, img_vis_meta_get(R->store)->nant)) {
        rc = ib_error(e, IB_ENOMEM, "out of memory sorting %zu rows", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t r = keys[i].r;
        R->perm[i] = r;
        R->um[i] = uvw[3 * r];
        R->vm[i] = uvw[3 * r + 1];
        R->field[i] = fld[r];
    }
out:
    free(fld);
    free(uvw);
    free(t);
    free(a1);
    free(a2);
    free(keys);
    return rc;
}

static int validate(ib_err *e, const img_params *p)
{
    if (!p->vis_dir || !p->out_dir) return ib_error(e, IB_EINVAL, "--vis and --out are required");
    if (p->gridder != IMG_GRIDDER_STANDARD && p->gridder != IMG_GRIDDER_MOSAIC)
        return ib_error(e, IB_EINVAL, "unknown gridder %d", p->gridder);
    if (p->gridder == IMG_GRIDDER_MOSAIC && !(p->pb_limit > 0 && p->pb_limit < 1))
        return ib_error(e, IB_EINVAL, "--pb-limit must be in (0, 1), got %g", p->pb_limit);
    if (p->threads < 1 || p->threads > 1024)
        return ib_error(e, IB_EINVAL, "--threads must be 1..1024, got %d", p->threads);
    if (p->chunks < 0 || p->chunks > 10000000)
        return ib_error(e, IB_EINVAL, "--chunks must be >= 1, got %d", p->chunks);
    if (p->row_chunks < 0 || p->row_chunks > 1000000)
        return ib_error(e, IB_EINVAL, "--row-chunks must be 1..1000000, got %d", p->row_chunks);
    if (p->nx < 0 || p->ny < 0 || p->nx > 65536 || p->ny > 65536 || p->nx % 2 || p->ny % 2)
        return ib_error(e, IB_EINVAL, "--image must be even and 2..65536 pixels, got %dx%d",
                        p->nx, p->ny);
    if (p->cell_arcsec < 0 || !isfinite(p->cell_arcsec))
        return ib_error(e, IB_EINVAL, "--cell must be > 0 arcsec, got %g", p->cell_arcsec);
    if (p->check_dft < 0 || p->check_dft > 100000)
        return ib_error(e, IB_EINVAL, "--check-dft must be 0..100000, got %d", p->check_dft);
    return 0;
}

static int check_dft(ib_err *e, run_ctx *R, const char *dirty_path, img_result *res);

static void destroy_plans(run_ctx *R)
{
    void *plans[3] = {R->plan, R->planx[0], R->planx[1]};
    for (int i = 0; i < 3; i++) {
        if (!plans[i]) continue;
        if (R->p->dbl) fftw_destroy_plan(plans[i]);
        else fftwf_destroy_plan(plans[i]);
    }
    R->plan = R->planx[0] = R->planx[1] = NULL;
}

static void run_release(run_ctx *R)
{
    img_kernel_release(&R->k);
    free(R->perm);
    free(R->field);
    free(R->lo);
    free(R->mo);
    free(R->xo);
    free(R->yo);
    free(R->fxi);
    free(R->fyi);
    free(R->psihat);
    if (R->kplan) fftw_destroy_plan(R->kplan);
    free(R->um);
    free(R->vm);
    free(R->corr_x);
    free(R->corr_y);
    free(R->corr_xf);
    free(R->jx);
    free(R->jy);
    free(R->chunk0);
    free(R->peaks);
    destroy_plans(R);
    for (int i = 0; i < IMG_NPROD; i++) img__fits_abort(R->cube[i]);
    img_vis_close(NULL, R->store);
    free(R->my_chunks);
    free(R->rrow0);
    free(R->kidx);
    free(R->kstart);
    free(R->my_rows);
    free(R->rnext);
    if (R->bar_on) pthread_barrier_destroy(&R->bar);
    img__comm_release(&R->comm);
    if (R->budget) {
        pthread_mutex_destroy(&R->mem_lock);
        pthread_cond_destroy(&R->mem_cond);
    }
    if (R->made_spill_dir) rmdir(R->spill_dir); /* fails harmlessly if another rank's remain */
    pthread_mutex_destroy(&R->err_lock);
}

static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;

/* Wisdom file: $IMBENCH_FFTW_WISDOM, else $XDG_CACHE_HOME or ~/.cache,
 * imbench/fftw-wisdom-<precision>. */
static int wisdom_path(char *buf, size_t n, int dbl)
{
    const char *env = getenv("IMBENCH_FFTW_WISDOM");
    const char *suffix = dbl ? "double" : "float";
    if (env && *env) return snprintf(buf, n, "%s-%s", env, suffix) < (int)n ? 0 : -1;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3000];
    if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/imbench", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/imbench", home);
    else return -1;
    if (ib_mkdir_p(NULL, dir)) return -1;
    return snprintf(buf, n, "%s/fftw-wisdom-%s", dir, suffix) < (int)n ? 0 : -1;
}

static int make_plan(ib_err *e, run_ctx *R)
{
    const int dbl = R->p->dbl;
    unsigned flags = R->p->fft_plan == 0 ? FFTW_ESTIMATE
                     : R->p->fft_plan == 2 ? FFTW_PATIENT : FFTW_MEASURE;
    char wpath[4096];
    int have_path = wisdom_path(wpath, sizeof wpath, dbl) == 0;
    double t0 = ib_now();
    pthread_mutex_lock(&plan_lock);
    if (have_path) {
        if (dbl) fftw_import_wisdom_from_filename(wpath);
        else fftwf_import_wisdom_from_filename(wpath);
    }
    R->xrow[0] = 0;
    R->xrow[1] = R->ngy - R->ny / 2;
    if (dbl) plan_fft_d(R, flags);
    else plan_fft_f(R, flags);
    if (!R->planx[0] || !R->planx[1]) destroy_plans(R);
    if (R->plan && have_path && flags != FFTW_ESTIMATE) {
        char tmpw[4200];
        snprintf(tmpw, sizeof tmpw, "%s.%d.tmp", wpath, (int)getpid());
        int ok = dbl ? fftw_export_wisdom_to_filename(tmpw) : fftwf_export_wisdom_to_filename(tmpw);
        if (!ok || rename(tmpw, wpath) != 0) unlink(tmpw);
    }
    pthread_mutex_unlock(&plan_lock);
    R->plan_seconds = ib_now() - t0;
    if (!R->plan) return ib_error(e, IB_ENOMEM, "cannot plan a %dx%d FFT", R->ngx, R->ngy);
    return 0;
}

/*
 * The memory model: every thread's fixed buffers (slab of the largest
 * chunk, sample list, grid, half-spectrum, plane) are tracked from the
 * start; with a budget, a chunk's planes are added as they are held. If
 * the fixed part alone passes the pause fraction no schedule can run:
 * that is an error before any work, naming the sizes.
 */
static int setup_budget(ib_err *e, run_ctx *R)
{
    const img_params *p = R->p;
    size_t es = p->dbl ? 8 : 4, np = (size_t)R->npol, nr = (size_t)R->slab_rows;
    uint64_t slab = (uint64_t)nr * (uint64_t)R->max_chunk * np * 13;
    uint64_t list = (uint64_t)nr * (12 + 2 * es + 3 * es * np);
    uint64_t grid = (uint64_t)R->ngx * (uint64_t)R->ngy * np * 2 * es;
    uint64_t half = (uint64_t)R->ngy * (uint64_t)(R->ngx / 2 + 1) * 2 * es;
    R->plane_bytes = (uint64_t)R->nx * (uint64_t)R->ny * sizeof(float);
    if (R->mrows > 1) {
        /* Row chunks: no grid of its own, but the chunk's summed grids,
         * weight sums and (uniform / Briggs) densities. Sizes that pass
         * 2^50 bytes cannot be allocated: said here, before any work. */
        double acc = (double)R->max_chunk * R->nprodg * (double)grid +
                     (double)R->max_chunk * (double)R->wper * 8.0 +
                     (p->weighting != IMG_WEIGHT_NATURAL
                          ? (double)R->max_chunk * (double)R->plane_bytes : 0.0);
        if (acc > 0x1p50)
            return ib_error(e, IB_EOVERFLOW,
                            "a chunk of %lld channels needs %.3g bytes of grids per thread with "
                            "row chunks; use more --chunks", (long long)R->max_chunk, acc);
        grid = (uint64_t)acc;
    }
    uint64_t per_thread = slab + list + grid + half + R->plane_bytes;
    if (p->weighting != IMG_WEIGHT_NATURAL) per_thread += R->plane_bytes;
    if (R->mosaic)
        per_thread += 2 * R->plane_bytes + 16 * ((uint64_t)R->gw * (uint64_t)R->over + 1) *
                                               (uint64_t)(R->nxo + R->nyo);
    R->base_bytes = per_thread * (uint64_t)p->threads;
    R->tracked = R->peak_tracked = R->base_bytes;
    R->budget = p->mem_budget;
    pthread_mutex_init(&R->mem_lock, NULL);
    pthread_cond_init(&R->mem_cond, NULL);
    if (!R->budget) return 0;
    if (!(p->mem_target > 0 && p->mem_target <= p->mem_spill && p->mem_spill <= p->mem_pause &&
          p->mem_pause <= 1.0))
        return ib_error(e, IB_EINVAL,
                        "memory fractions must satisfy 0 < target <= spill <= pause <= 1, got "
                        "%g, %g, %g", p->mem_target, p->mem_spill, p->mem_pause);
    if ((double)R->base_bytes > p->mem_pause * (double)R->budget)
        return ib_error(e, IB_EINVAL,
                        "--mem-budget %llu bytes cannot hold the minimum working set: %d "
                        "thread(s) x %llu bytes (slab of %lld rows x a %lld-channel chunk %llu, "
                        "grids %llu, sample list %llu, planes %llu) = %llu bytes; use more "
                        "chunks, more row chunks, fewer threads or a larger budget",
                        (unsigned long long)R->budget, p->threads,
                        (unsigned long long)per_thread, (long long)R->slab_rows,
                        (long long)R->max_chunk,
                        (unsigned long long)slab, (unsigned long long)(grid + half),
                        (unsigned long long)list, (unsigned long long)R->plane_bytes,
                        (unsigned long long)R->base_bytes);
    if (p->spill_dir) snprintf(R->spill_dir, sizeof R->spill_dir, "%s", p->spill_dir);
    else if (ib_path_join(e, R->spill_dir, sizeof R->spill_dir, p->out_dir, "spill"))
        return e->code;
    struct stat st;
    if (stat(R->spill_dir, &st) != 0) {
        int rc = ib_mkdir_p(e, R->spill_dir);
        if (rc) return rc;
        R->made_spill_dir = 1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Distinct values of v[0..n) (to 1e-12) into *u, and each v's index. */
static int distinct(const double *v, int n, double **u, int *nu, int **idx)
{
    double *t = ib_malloc(sizeof(double) * (size_t)n);
    *u = ib_malloc(sizeof(double) * (size_t)n);
    *idx = ib_malloc(sizeof(int) * (size_t)n);
    if (!t || !*u || !*idx) {
        free(t);
        return IB_ENOMEM;
    }
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || t[i] - (*u)[k - 1] > 1e-12) (*u)[k++] = t[i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            if (fabs(v[i] - (*u)[j]) <= 1e-12) {
                (*idx)[i] = j;
                break;
            }
    *nu = k;
    free(t);
    return 0;
}

/*
 * Mosaic set-up: pointing offsets (SIN projection about the phase centre),
 * the dish, the total support W + 2 x the aperture kernel's half-width at
 * the highest frequency, and the distinct offsets whose kernels are built
 * per channel. Bad geometry is an error naming the field or dataset.
 */
static int setup_mosaic(ib_err *e, run_ctx *R, const img_vis_meta *m)
{
    const img_params *p = R->p;
    R->gw = R->k.W;
    if (p->gridder != IMG_GRIDDER_MOSAIC) return 0;
    R->mosaic = 1;
    R->aperture = !p->no_aperture;
    /* Table oversampling: linear interpolation errs ~ (1/over)^2; the
     * beam-free kernel is cheap to tabulate finely. */
    R->over = R->aperture ? 128 : 1024;
    const double *dish = img_vis_dish(R->store), *fd = img_vis_field_dir(R->store);
    double sum = 0;
    for (int a = 0; a < m->nant; a++) {
        if (!(dish[a] > 0) || !isfinite(dish[a]))
            return ib_error(e, IB_EINVAL,
                            "store '%s': dataset '/dish_diameter' antenna %d is %g m; the mosaic "
                            "gridder needs dish diameters > 0", img_vis_path(R->store), a, dish[a]);
        sum += dish[a];
    }
    R->dish = sum / m->nant; /* homogeneous arrays; a mixed array uses the mean */
    R->lo = ib_malloc(sizeof(double) * (size_t)R->nfield);
    R->mo = ib_malloc(sizeof(double) * (size_t)R->nfield);
    if (!R->lo || !R->mo) return ib_error(e, IB_ENOMEM, "out of memory");
    double a0 = m->phase_centre[0], d0 = m->phase_centre[1];
    double fmin = R->freq[0], fmax = R->freq[0];
    for (int64_t c = 1; c < R->nchan; c++) {
        fmin = R->freq[c] < fmin ? R->freq[c] : fmin;
        fmax = R->freq[c] > fmax ? R->freq[c] : fmax;
    }
    double beam = R->aperture ? img_pb_fwhm(fmin, R->dish) : 0;
    double hx = 0.5 * R->nx * R->cell + beam, hy = 0.5 * R->ny * R->cell + beam;
    for (int f = 0; f < R->nfield; f++) {
        double a = fd[2 * f], d = fd[2 * f + 1];
        R->lo[f] = cos(d) * sin(a - a0);
        R->mo[f] = sin(d) * cos(d0) - cos(d) * sin(d0) * cos(a - a0);
        if (fabs(R->lo[f]) > hx || fabs(R->mo[f]) > hy)
            return ib_error(e, IB_EINVAL,
                            "store '%s': dataset '/field_dir' field %d lies at (%.1f, %.1f) "
                            "arcsec from the phase centre, outside the %dx%d image and its beam "
                            "(half-size %.1f x %.1f arcsec)", img_vis_path(R->store), f,
                            R->lo[f] * 206264.806, R->mo[f] * 206264.806, R->nx, R->ny,
                            hx * 206264.806, hy * 206264.806);
    }
    if (R->aperture) {
        double dux = 1.0 / (R->ngx * R->cell), duy = 1.0 / (R->ngy * R->cell);
        int hxk = img__akernel_half(fmax, R->dish, dux), hyk = img__akernel_half(fmax, R->dish, duy);
        int h = hxk > hyk ? hxk : hyk;
        R->gw = R->k.W + 2 * h;
    }
    if (R->gw > IMG_MAX_MOSAIC_SUPPORT)
        return ib_error(e, IB_EINVAL,
                        "mosaic support %d cells (W %d + aperture kernel of a %.1f m dish) "
                        "exceeds %d: the beam is narrower than a few pixels; use a finer cell "
                        "or a smaller image", R->gw, R->k.W, R->dish, IMG_MAX_MOSAIC_SUPPORT);
    if (R->ngx < 2 * R->gw || R->ngy < 2 * R->gw) {
        R->ngx = img_good_fft_size(R->ngx > 2 * R->gw ? R->ngx : 2 * R->gw);
        R->ngy = img_good_fft_size(R->ngy > 2 * R->gw ? R->ngy : 2 * R->gw);
    }
    if (distinct(R->lo, R->nfield, &R->xo, &R->nxo, &R->fxi) ||
        distinct(R->mo, R->nfield, &R->yo, &R->nyo, &R->fyi))
        return ib_error(e, IB_ENOMEM, "out of memory");
    R->nfft = img__akernel_fft_size(R->gw, R->k.W, R->over);
    R->psihat = ib_malloc(sizeof(double) * (size_t)R->nfft);
    fftw_complex *tmp = fftw_alloc_complex((size_t)R->nfft);
    if (!R->psihat || !tmp) {
        fftw_free(tmp);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    img__akernel_psihat(&R->k, R->nfft, R->over, R->psihat);
    pthread_mutex_lock(&plan_lock);
    R->kplan = fftw_plan_dft_1d(R->nfft, tmp, tmp, FFTW_FORWARD, FFTW_ESTIMATE);
    pthread_mutex_unlock(&plan_lock);
    fftw_free(tmp);
    if (!R->kplan) return ib_error(e, IB_ENOMEM, "cannot plan the kernel FFT");
    return 0;
}

/* Which chunks this rank takes under static (cyclic) and locality
 * (contiguous channel ownership) scheduling. */
static int assign_chunks(ib_err *e, run_ctx *R)
{
    int N = R->par->size, r = R->par->rank;
    R->my_chunks = ib_malloc(sizeof(int) * (size_t)R->nchunks);
    if (!R->my_chunks) return ib_error(e, IB_ENOMEM, "out of memory");
    R->nmy = 0;
    for (int c = 0; c < R->nchunks; c++) {
        int owner;
        if (N == 1) owner = 0;
        else if (R->p->schedule == IMG_SCHED_LOCALITY)
            /* The rank whose share of the channel axis holds the chunk's
             * first channel: no messages, but uneven loads when the chunk
             * boundaries do not fall on the shares' (the auto-restrictor's
             * trade-off). */
            owner = (int)(R->chunk0[c] * N / R->nchan);
        else
            owner = c % N;
        if (owner == r) R->my_chunks[R->nmy++] = c;
    }
    return 0;
}

/*
 * Row chunks: M near-equal ranges of stored rows, this rank's share of
 * them (static: cyclic; locality: the rank's contiguous part of the rows,
 * where its data lives; dynamic: rank 0 hands them out), the task
 * counters, and the sizes of a chunk's summed grids.
 */
static int setup_rows(ib_err *e, run_ctx *R)
{
    const int N = R->par->size, r = R->par->rank, M = R->mrows;
    R->rrow0 = ib_malloc(sizeof(int64_t) * ((size_t)M + 1));
    R->my_rows = ib_malloc(sizeof(int) * (size_t)M);
    R->rnext = ib_calloc(2 * (size_t)R->nchunks, sizeof(atomic_int));
    if (!R->rrow0 || !R->my_rows || !R->rnext) return ib_error(e, IB_ENOMEM, "out of memory");
    if (R->nrow > INT64_MAX / (M > N ? M : N))
        return ib_error(e, IB_EOVERFLOW, "%lld rows x %d row chunks overflow", (long long)R->nrow, M);
    for (int j = 0; j <= M; j++) R->rrow0[j] = j * R->nrow / M;
    R->max_rows = 0;
    for (int j = 0; j < M; j++)
        if (R->rrow0[j + 1] - R->rrow0[j] > R->max_rows) R->max_rows = R->rrow0[j + 1] - R->rrow0[j];
    R->slab_rows = R->max_rows;
    R->nmyr = 0;
    for (int j = 0; j < M; j++) {
        int owner = N == 1 ? 0
                    : R->p->schedule == IMG_SCHED_LOCALITY
                        ? (int)(R->rrow0[j] * N / R->nrow)
                        : j % N;
        if (owner == r) R->my_rows[R->nmyr++] = j;
    }
    for (size_t i = 0; i < 2 * (size_t)R->nchunks; i++) atomic_init(&R->rnext[i], 0);
    R->nprodg = R->p->psf ? 2 : 1;
    R->gcells = (size_t)R->ngx * (size_t)R->ngy * (size_t)R->npol * 2;
    R->wper = (size_t)R->npol * (R->mosaic ? 1 + (size_t)R->nfield : 1);
    return 0;
}

/* The perm positions (baseline order) of each row chunk's rows, so a row
 * task grids its samples in the same cache-friendly order. */
static int group_rows(ib_err *e, run_ctx *R)
{
    const int M = R->mrows;
    R->kidx = ib_malloc(sizeof(int64_t) * (size_t)R->nrow);
    R->kstart = ib_calloc((size_t)M + 1, sizeof(int64_t));
    int *of = ib_malloc(sizeof(int) * (size_t)R->nrow);
    if (!R->kidx || !R->kstart || !of) {
        free(of);
        return ib_error(e, IB_ENOMEM, "out of memory grouping %lld rows", (long long)R->nrow);
    }
    for (int64_t k = 0; k < R->nrow; k++) {
        int64_t row = R->perm[k];
        int j = (int)(row * M / R->nrow);
        while (j > 0 && row < R->rrow0[j]) j--;
        while (j < M - 1 && row >= R->rrow0[j + 1]) j++;
        of[k] = j;
        R->kstart[j + 1]++;
    }
    for (int j = 0; j < M; j++) R->kstart[j + 1] += R->kstart[j];
    int64_t *fill = ib_malloc(sizeof(int64_t) * (size_t)M);
    if (!fill) {
        free(of);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    memcpy(fill, R->kstart, sizeof(int64_t) * (size_t)M);
    for (int64_t k = 0; k < R->nrow; k++) R->kidx[fill[of[k]]++] = k;
    free(fill);
    free(of);
    return 0;
}

static void fill_rank_stats(img_rank_stats *rs, const run_ctx *R, const worker *ws, int n,
                            const prof_timer *main_t, double wall)
{
    memset(rs, 0, sizeof *rs);
    rs->rank = R->par->rank;
    rs->threads = R->p->threads;
    for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
        rs->phase_wall[i] = main_t->wall[i];
        rs->phase_cpu[i] = main_t->cpu[i];
    }
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
            rs->phase_wall[i] += ws[t].t.wall[i];
            rs->phase_cpu[i] += ws[t].t.cpu[i];
            if (i != PROF_SCHED && i != PROF_WAIT) rs->busy_s += ws[t].t.wall[i];
        }
        rs->samples += ws[t].samples;
        rs->dropped += ws[t].dropped;
        rs->bytes_read += ws[t].bytes_read;
        rs->sched_s += ws[t].sched_s;
        rs->tasks += ws[t].ntasks;
        rs->events += ws[t].nev;
        rs->events_dropped += ws[t].ev_dropped;
        rs->spill_bytes += ws[t].spill_bytes;
        rs->spill_files += ws[t].spill_files;
        rs->spill_write_s += ws[t].spill_write_s;
        rs->spill_read_s += ws[t].spill_read_s;
    }
    rs->peak_tracked = R->peak_tracked;
    rs->budget = R->budget;
    rs->comm = R->comm.st;
    rs->wall_s = wall;
    rs->setup_s = R->setup_s;
    prof_rusage ru;
    prof_rusage_get(&ru);
    rs->peak_rss = ru.max_rss_bytes;
}

/* Gather every thread's task events on rank 0 and write OUT/tasks.csv
 * (rank,thread,chunk,chan,phase,start,end), atomically. */
static int write_tasks(ib_err *e, run_ctx *R, const worker *ws, int n, img_result *res)
{
    size_t mine = 0;
    for (int t = 0; t < n; t++) mine += ws[t].nev;
    if (mine > (size_t)(INT32_MAX / sizeof(img_task_event)))
        return ib_error(e, IB_EOVERFLOW, "rank %d: too many task events (%zu)", R->par->rank, mine);
    img_task_event *buf = ib_malloc((mine + 1) * sizeof *buf);
    if (!buf) return ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    size_t k = 0;
    for (int t = 0; t < n; t++) {
        memcpy(buf + k, ws[t].ev, ws[t].nev * sizeof *buf);
        k += ws[t].nev;
    }
    int N = R->par->size, bytes = (int)(mine * sizeof *buf), rc = 0;
    int *counts = ib_calloc((size_t)N, sizeof(int)), *displs = ib_calloc((size_t)N, sizeof(int));
    img_task_event *all = NULL;
    size_t total = 0;
    if (!counts || !displs) rc = ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    if (!rc) rc = img__gather(e, &R->comm, &bytes, sizeof bytes, counts);
    if (!rc && R->par->rank == 0) {
        for (int r = 0; r < N; r++) {
            displs[r] = (int)(total * sizeof *buf);
            total += (size_t)counts[r] / sizeof *buf;
        }
        if (total * sizeof *buf > (size_t)INT32_MAX)
            rc = ib_error(e, IB_EOVERFLOW, "too many task events (%zu)", total);
        else if (!(all = ib_malloc((total + 1) * sizeof *all)))
            rc = ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    }
    if (N > 1) {
        /* Every rank must enter the collective, even after a local error. */
        int bad = rc != 0;
        if (img__allreduce_max_int(e, &R->comm, &bad)) bad = 1;
        if (bad) {
            free(buf); free(counts); free(displs); free(all);
            return rc ? rc : ib_error(e, IB_EMPI, "rank %d: task gathering failed elsewhere",
                                      R->par->rank);
        }
    }
    if (!rc) rc = img__gatherv(e, &R->comm, buf, bytes, all, counts, displs);
    if (!rc && R->par->rank == 0) {
        char path[4096], tmp[4200];
        if (!(rc = ib_path_join(e, path, sizeof path, R->p->out_dir, "tasks.csv"))) {
            snprintf(tmp, sizeof tmp, "%s.tmp", path);
            FILE *f = fopen(tmp, "w");
            if (!f) rc = ib_error(e, IB_EIO, "tasks '%s': cannot create: %s", tmp, strerror(errno));
            else {
                fprintf(f, "rank,thread,chunk,chan,phase,start,end\n");
                for (size_t i = 0; i < total; i++)
                    fprintf(f, "%d,%d,%d,%d,%s,%.9f,%.9f\n", all[i].rank, all[i].thread,
                            all[i].chunk, all[i].chan, prof_phase_name(all[i].phase),
                            all[i].start, all[i].end);
                int err = 0;
                if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) err = errno ? errno : EIO;
                if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
                if (err)
                    rc = ib_error(e, err == ENOSPC ? IB_ENOSPACE : IB_EIO,
                                  "tasks '%s': cannot write: %s", tmp, strerror(err));
                else if (rename(tmp, path) != 0)
                    rc = ib_error(e, IB_EIO, "tasks '%s': cannot rename into place", path);
                if (rc) unlink(tmp);
            }
        }
        /* Derived figures: per thread busy time and the span of the run. */
        double span = 0;
        for (size_t i = 0; i < total; i++) span = all[i].end > span ? all[i].end : span;
        res->task_events = total;
        res->task_span_s = span;
    }
    free(buf);
    free(counts);
    free(displs);
    free(all);
    return rc;
}

int img_run(ib_err *e, const img_params *p, img_result *res)
{
    memset(res, 0, sizeof *res);
    res->dft_max_rel_err = res->dft_rms_rel_err = -1;
    int rc = validate(e, p);
    if (rc) return rc;
    double t0 = ib_now();
    run_ctx R;
    memset(&R, 0, sizeof R);
    R.p = p;
    R.solo.size = 1;
    R.par = p->par ? p->par : &R.solo;
    img__comm_init(&R.comm, R.par);
    R.origin = t0;
    pthread_mutex_init(&R.err_lock, NULL);
    prof_timer main_t;
    prof_timer_init(&main_t);
    prof_timer_switch(&main_t, PROF_READ);
    worker *ws = NULL;
    int nthreads = p->threads, started = 0, sealed = 0;
    const int root = R.par->rank == 0, N = R.par->size;
    char path[4096];

    if ((rc = img_vis_open(e, p->vis_dir, &R.store))) goto out;
    const img_vis_meta *m = img_vis_meta_get(R.store);
    res->meta = *m;
    R.freq = img_vis_freq(R.store);
    R.nrow = m->nrow;
    R.nchan = m->nchan;
    R.npol = m->npol;
    R.nx = p->nx ? p->nx : m->image_nx;
    R.ny = p->ny ? p->ny : (p->nx ? p->nx : m->image_ny);
    double cell_as = p->cell_arcsec > 0 ? p->cell_arcsec : m->cell_arcsec;
    if (R.nx < 2 || R.ny < 2 || R.nx % 2 || R.ny % 2) {
        rc = ib_error(e, IB_EINVAL, "image size %dx%d must be even and >= 2 (set --image)", R.nx,
                      R.ny);
        goto out;
    }
    if (!(cell_as > 0)) {
        rc = ib_error(e, IB_EINVAL, "store '%s' suggests no cell size: set --cell ARCSEC",
                      img_vis_path(R.store));
        goto out;
    }
    R.cell = cell_as * M_PI / (180.0 * 3600.0);
    if ((rc = img_kernel_init(e, &R.k, p->support, p->padding, p->oversample))) goto out;
    R.ngx = img_good_fft_size((int)ceil(p->padding * R.nx));
    R.ngy = img_good_fft_size((int)ceil(p->padding * R.ny));
    if (R.ngx < 2 * R.k.W || R.ngy < 2 * R.k.W) {
        R.ngx = img_good_fft_size(R.ngx > 2 * R.k.W ? R.ngx : 2 * R.k.W);
        R.ngy = img_good_fft_size(R.ngy > 2 * R.k.W ? R.ngy : 2 * R.k.W);
    }
    R.nfield = m->nfield;
    if ((rc = setup_mosaic(e, &R, m))) goto out;
    res->nx = R.nx; res->ny = R.ny; res->ngx = R.ngx; res->ngy = R.ngy;
    res->cell_arcsec = cell_as;

    /* Chunks: near-equal channel ranges; never more chunks than channels.
     * The default is 4 channels a chunk (the store's chunking along
     * channels, so a slab is whole HDF5 chunks) and at least one chunk per
     * thread of every rank; with row chunks the rows give the parallelism.
     * Small chunks keep the working set in cache and leave a short tail:
     * on the bench cube 32 chunks image faster than 8, on one rank or two. */
    R.mrows = p->row_chunks > 1 ? (p->row_chunks < R.nrow ? p->row_chunks : (int)R.nrow) : 1;
    R.nchunks = p->chunks > 0 ? p->chunks : (int)((R.nchan + 3) / 4);
    if (p->chunks <= 0 && R.mrows == 1 && R.nchunks < nthreads * N) R.nchunks = nthreads * N;
    if (R.nchunks > R.nchan) R.nchunks = (int)R.nchan;
    if (R.nchunks < 1) R.nchunks = 1; /* a store without channels: one empty chunk */
    res->nchunks = R.nchunks;
    R.chunk0 = ib_malloc(sizeof(int64_t) * ((size_t)R.nchunks + 1));
    R.corr_x = ib_malloc(sizeof(double) * (size_t)R.nx);
    R.corr_y = ib_malloc(sizeof(double) * (size_t)R.ny);
    R.jx = ib_malloc(sizeof(int32_t) * (size_t)R.nx);
    R.corr_xf = ib_malloc(sizeof(float) * (size_t)R.nx);
    R.jy = ib_malloc(sizeof(int32_t) * (size_t)R.ny);
    R.peaks = ib_calloc((size_t)R.nchan * (size_t)R.npol, sizeof(float));
    if (!R.chunk0 || !R.corr_x || !R.corr_xf || !R.corr_y || !R.jx || !R.jy || !R.peaks) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    for (int c = 0; c <= R.nchunks; c++) R.chunk0[c] = (int64_t)c * R.nchan / R.nchunks;
    for (int c = 0; c < R.nchunks; c++)
        if (R.chunk0[c + 1] - R.chunk0[c] > R.max_chunk) R.max_chunk = R.chunk0[c + 1] - R.chunk0[c];
    if ((rc = assign_chunks(e, &R))) goto out;
    R.slab_rows = R.nrow;
    if (R.mrows > 1 && (rc = setup_rows(e, &R))) goto out;
    res->row_chunks = R.mrows;
    if (p->schedule == IMG_SCHED_DYNAMIC && N > 1)
        atomic_store(&R.next_chunk, N * nthreads); /* after the first round */
    if ((rc = setup_budget(e, &R))) goto out;

    if ((rc = load_rows(e, &R))) goto out;
    if (R.mrows > 1 && (rc = group_rows(e, &R))) goto out;

    prof_timer_switch(&main_t, PROF_CORRECT);
    /* Grid correction: 1 / FT of the kernel at each pixel's frequency. */
    for (int x = 0; x < R.nx; x++) {
        double c = img_kernel_ft(&R.k, (double)(R.nx / 2 - x) / R.ngx);
        R.corr_x[x] = 1.0 / c;
        R.corr_xf[x] = (float)(1.0 / c);
        R.jx[x] = ((R.nx / 2 - x) % R.ngx + R.ngx) % R.ngx;
    }
    for (int y = 0; y < R.ny; y++) {
        double c = img_kernel_ft(&R.k, (double)(y - R.ny / 2) / R.ngy);
        R.corr_y[y] = 1.0 / c;
        R.jy[y] = ((y - R.ny / 2) % R.ngy + R.ngy) % R.ngy;
    }

    prof_timer_switch(&main_t, PROF_WRITE);
    char hist[4][80];
    const char *history[5];
    snprintf(hist[0], 80, "imbench imager: gridder %s, support %d (grid %d), padding %.3g",
             R.mosaic ? "mosaic" : "standard", p->support, R.gw, p->padding);
    snprintf(hist[1], 80, "weighting %s robust %.3g, precision %s",
             p->weighting == IMG_WEIGHT_NATURAL ? "natural"
             : p->weighting == IMG_WEIGHT_UNIFORM ? "uniform" : "briggs",
             p->robust, p->dbl ? "double" : "float");
    snprintf(hist[2], 80, "grid %dx%d, kernel ES beta %.4g, poly degree %d", R.ngx, R.ngy,
             R.k.beta, R.k.deg);
    for (int i = 0; i < 3; i++) history[i] = hist[i];
    history[3] = NULL;
    img__cube_desc d = {
        .nx = R.nx, .ny = R.ny, .nchan = (int)R.nchan, .npol = R.npol,
        .ra = m->phase_centre[0], .dec = m->phase_centre[1], .cell = R.cell,
        .freq0 = R.freq[0], .dfreq = R.nchan > 1 ? R.freq[1] - R.freq[0] : 1.0,
        .bunit = "Jy/beam", .object = m->dataset, .telescope = m->telescope,
        .btype = "Intensity", .durable = p->fsync};
    memcpy(d.corr, m->corr, sizeof d.corr);
    if ((rc = ib_path_join(e, path, sizeof path, p->out_dir, "dirty.fits"))) goto out;
    /* Rank 0 creates and sizes the cubes; with parallel writes the other
     * ranks then open them and write their own planes. */
    if (root && (rc = ib_mkdir_p(e, p->out_dir))) goto out;
    for (int k = 0; k < IMG_NPROD; k++) {
        if (!product_made(p, k)) continue;
        char kpath[4096];
        img__cube_desc dk = d;
        dk.btype = img_product_btype(k);
        dk.bunit = img_product_bunit(k);
        if ((rc = ib_path_join(e, kpath, sizeof kpath, p->out_dir, img_product_file(k)))) goto out;
        if (root && (rc = img__fits_create(e, kpath, &dk, history, &R.cube[k]))) goto out;
    }
    if ((rc = img__barrier(e, &R.comm))) goto out;
    R.origin = ib_now();
    R.setup_s = R.origin - t0;
    for (int k = 0; k < IMG_NPROD && !root && !p->serial_write; k++) {
        if (!product_made(p, k)) continue;
        char kpath[4096];
        img__cube_desc dk = d;
        dk.btype = img_product_btype(k);
        dk.bunit = img_product_bunit(k);
        if ((rc = ib_path_join(e, kpath, sizeof kpath, p->out_dir, img_product_file(k))) ||
            (rc = img__fits_open(e, kpath, &dk, history, &R.cube[k])))
            goto out;
    }

    /* One c2r plan for every thread's buffers (FFTW's new-array execute),
     * measured once and remembered in the wisdom file. */
    prof_timer_switch(&main_t, PROF_FFT);
    if ((rc = make_plan(e, &R))) goto out;

    prof_timer_switch(&main_t, PROF_OTHER);
    ws = ib_calloc((size_t)nthreads, sizeof *ws);
    if (!ws) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    prof_timer_stop(&main_t); /* waiting for the workers is not a phase */
    if (root && N > 1 && (p->schedule == IMG_SCHED_DYNAMIC || p->serial_write)) {
        if (pthread_create(&R.server, NULL, server_main, &R) != 0) {
            rc = ib_error(e, IB_ENOMEM, "rank 0: cannot start the service thread");
            goto out;
        }
        R.server_on = 1;
    }
    R.ws = ws;
    if (R.mrows > 1) {
        /* Row chunks: the threads meet at barriers, so all of them start
         * (or none work): every buffer first, then the threads, which wait
         * at the gate until all exist. */
        for (int i = 0; i < nthreads && !rc; i++) rc = worker_init(e, &R, &ws[i], i);
        if (!rc && pthread_barrier_init(&R.bar, NULL, (unsigned)nthreads) != 0)
            rc = ib_error(e, IB_ENOMEM, "cannot create the threads' barrier");
        R.bar_on = !rc;
        for (int i = 0; i < nthreads && !rc; i++) {
            if (pthread_create(&ws[i].tid, NULL, rows_gate, &ws[i]) != 0) {
                rc = ib_error(e, IB_ENOMEM, "cannot start thread %d", i);
                break;
            }
            started++;
        }
        pthread_mutex_lock(&R.mem_lock);
        R.gate = rc ? -1 : 1;
        pthread_cond_broadcast(&R.mem_cond);
        pthread_mutex_unlock(&R.mem_lock);
    } else {
        for (int i = 0; i < nthreads; i++) {
            if ((rc = worker_init(e, &R, &ws[i], i))) break;
            if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
                rc = ib_error(e, IB_ENOMEM, "cannot start thread %d", i);
                break;
            }
            started++;
        }
    }
    if (rc) atomic_store(&R.failed, 1);
    for (int i = 0; i < started; i++) pthread_join(ws[i].tid, NULL);
    if (!rc && atomic_load(&R.failed)) {
        *e = R.err;
        rc = R.err.code ? R.err.code : IB_EIO;
    }
    if (rc) goto out; /* multi-rank callers abort the job on any error */
    if (N > 1 && !root && (p->schedule == IMG_SCHED_DYNAMIC || p->serial_write)) {
        int32_t x = 0;
        if ((rc = img__send(e, &R.comm, &x, sizeof x, 0, TAG_DONE))) goto out;
    }
    if (R.server_on) {
        pthread_join(R.server, NULL);
        R.server_on = 0;
        if (atomic_load(&R.failed)) {
            *e = R.err;
            rc = R.err.code ? R.err.code : IB_EMPI;
            goto out;
        }
    }
    for (int i = 0; i < started; i++) {
        res->samples_gridded += ws[i].samples;
        res->samples_dropped += ws[i].dropped;
        res->bytes_read += ws[i].bytes_read;
    }
    res->grid_bytes_per_thread =
        ((double)R.ngx * R.ngy * R.npol + (double)R.ngy * (R.ngx / 2 + 1)) * (p->dbl ? 16 : 8);
    /* grid: npol complex per cell; half: one pol's Hermitian spectrum */
    res->plan_seconds = R.plan_seconds;

    /* Every rank's planes are on disk before rank 0 seals the cubes. */
    prof_timer_switch(&main_t, PROF_WRITE);
    if (!root)
        for (int k = 0; k < IMG_NPROD; k++) {
            img__fits_close(R.cube[k]);
            R.cube[k] = NULL;
        }
    if ((rc = img__barrier(e, &R.comm))) goto out;
    for (int k = 0; root && k < IMG_NPROD; k++) {
        if (R.cube[k] && !rc) rc = img__fits_finish(e, R.cube[k], &res->bytes_written);
        else img__fits_abort(R.cube[k]);
        R.cube[k] = NULL;
    }
    sealed = root;
    prof_timer_stop(&main_t);
    if (rc) goto out;
    if ((rc = img__reduce_max_float(e, &R.comm, R.peaks, (int)(R.nchan * R.npol)))) goto out;
    for (size_t i = 0; i < (size_t)R.nchan * (size_t)R.npol; i++)
        if (R.peaks[i] > res->image_peak) res->image_peak = R.peaks[i];
    res->wall_seconds = ib_now() - t0;

    /* Task events, then statistics of every rank, on rank 0 (the counters
     * include the event gathering; the statistics gather itself is the one
     * collective they cannot count). */
    if ((rc = write_tasks(e, &R, ws, started, res))) goto out;
    img_rank_stats mine;
    fill_rank_stats(&mine, &R, ws, started, &main_t, res->wall_seconds);
    res->nranks = N;
    res->ranks = root ? ib_calloc((size_t)N, sizeof *res->ranks) : NULL;
    if (root && !res->ranks) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    img_rank_stats scratch;
    if ((rc = img__gather(e, &R.comm, &mine, sizeof mine, root ? (void *)res->ranks : &scratch)))
        goto out;
    if (root) {
        for (int r = 0; r < N; r++) {
            const img_rank_stats *rs = &res->ranks[r];
            for (int i = 0; i < IMG_MAX_PHASES; i++) {
                res->phase_wall[i] += rs->phase_wall[i];
                res->phase_cpu[i] += rs->phase_cpu[i];
            }
            if (r > 0) {
                res->samples_gridded += rs->samples;
                res->samples_dropped += rs->dropped;
                res->bytes_read += rs->bytes_read;
            }
            res->sched_s += rs->sched_s;
            res->spill_bytes += rs->spill_bytes;
            res->spill_files += rs->spill_files;
            res->spill_write_s += rs->spill_write_s;
            res->spill_read_s += rs->spill_read_s;
            if (rs->peak_tracked > res->peak_tracked) res->peak_tracked = rs->peak_tracked;
            res->tasks += rs->tasks;
            if (rs->peak_rss > res->peak_rss_bytes) res->peak_rss_bytes = rs->peak_rss;
        }
        if (p->check_dft > 0) rc = check_dft(e, &R, path, res);
    }
out:
    /* A run that fails after sealing its cubes (task events, statistics,
     * the DFT check) leaves no complete-looking products either. */
    for (int k = 0; rc && sealed && k < IMG_NPROD; k++) {
        char kpath[4096];
        if (product_made(p, k) &&
            !ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, img_product_file(k)))
            unlink(kpath);
        if (k == 0 && !ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, "tasks.csv"))
            unlink(kpath);
    }
    if (!res->ranks)
        for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
            res->phase_wall[i] = main_t.wall[i];
            res->phase_cpu[i] = main_t.cpu[i];
        }
    if (!res->wall_seconds) res->wall_seconds = ib_now() - t0;
    if (!res->peak_rss_bytes) {
        prof_rusage ru;
        prof_rusage_get(&ru);
        res->peak_rss_bytes = ru.max_rss_bytes;
    }
    if (R.server_on) {
        /* Only reached on an error: the caller aborts the MPI job, which
         * ends the service thread's blocking probe. */
        pthread_detach(R.server);
    }
    if (ws) {
        for (int i = 0; i < nthreads; i++) worker_release(&ws[i], p->dbl);
        free(ws);
    }
    run_release(&R);
    return rc;
}

/* ---------- accuracy check against a direct Fourier transform ---------- */

static int check_dft(ib_err *e, run_ctx *R, const char *dirty_path, img_result *res)
{
    const int K = R->p->check_dft, npol = R->npol;
    int (*pix)[4] = ib_malloc(sizeof(int[4]) * (size_t)K);
    double *img = ib_malloc(sizeof(double) * (size_t)K);
    size_t slab = (size_t)R->nrow * (size_t)npol;
    float *vis = ib_malloc(slab * 8), *wt = ib_malloc(slab * 4);
    uint8_t *flag = ib_malloc(slab);
    sample_list_d *L = list_alloc(R->nrow, npol, 1);
    float *density = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
    int rc = 0;
    if (!pix || !img || !vis || !wt || !flag || !L || !density) {
        rc = ib_error(e, IB_ENOMEM, "out of memory for --check-dft");
        goto out;
    }
    /* Pixels spread over the channels, random position and pol. */
    for (int i = 0; i < K; i++) {
        uint64_t h = ib_hash4(R->p->seed, 0xd1f7, (uint64_t)i, 0);
        pix[i][0] = (int)(ib_uniform(h) * R->nx);
        pix[i][1] = (int)(ib_uniform(ib_hash4(h, 1, 0, 0)) * R->ny);
        pix[i][2] = (int)(((int64_t)i * R->nchan) / K);
        pix[i][3] = (int)(ib_uniform(ib_hash4(h, 2, 0, 0)) * npol);
    }
    /* Every third pixel is its plane's brightest region: the centre. */
    for (int i = 0; i < K; i += 3) {
        pix[i][0] = R->nx / 2;
        pix[i][1] = R->ny / 2;
    }
    if ((rc = img__fits_read_pixels(e, dirty_path, K, (const int(*)[4])pix, img))) goto out;
    double maxerr = 0, sum2 = 0;
    int64_t cur = -1;
    double sumw[IMG_MAX_POL];
    uint64_t dropped = 0;
    for (int i = 0; i < K; i++) {
        int64_t chan = pix[i][2];
        if (chan != cur) {
            if ((rc = img_vis_read_chans(e, R->store, 0, R->nrow, chan, 1, vis, wt, flag, NULL)))
                goto out;
            build_list_d(R, vis, wt, flag, 0, chan, L, density, sumw, &dropped);
            cur = chan;
        }
        int p = pix[i][3];
        double l = (R->nx / 2 - pix[i][0]) * R->cell, mm = (pix[i][1] - R->ny / 2) * R->cell;
        double f = R->freq[chan] / IMG_C_LIGHT, acc = 0;
        for (int64_t s = 0; s < L->n; s++) {
            int64_t k = L->row[s];
            size_t o = (size_t)s * (size_t)npol + (size_t)p;
            if (R->mosaic) {
                /* Rephased to the image centre, seen through its pointing's beam. */
                int fi = R->field[k];
                double dl = l - R->lo[fi], dm = mm - R->mo[fi];
                double ph = 2.0 * M_PI * f * (R->um[k] * dl + R->vm[k] * dm);
                double pb = R->aperture ? img_pb(dl, dm, R->freq[chan], R->dish) : 1.0;
                acc += pb * (L->vr[o] * cos(ph) - L->vi[o] * sin(ph));
            } else {
                double ph = 2.0 * M_PI * f * (R->um[k] * l + R->vm[k] * mm);
                acc += L->vr[o] * cos(ph) - L->vi[o] * sin(ph);
            }
        }
        double dft = sumw[p] > 0 ? acc / sumw[p] : 0;
        double peak = R->peaks[(size_t)chan * (size_t)npol + (size_t)p];
        double err = peak > 0 ? fabs(img[i] - dft) / peak : fabs(img[i] - dft);
        if (err > maxerr) maxerr = err;
        sum2 += err * err;
    }
    res->dft_max_rel_err = maxerr;
    res->dft_rms_rel_err = sqrt(sum2 / K);
out:
    free(pix);
    free(img);
    free(vis);
    free(wt);
    free(flag);
    list_free(L, 1);
    free(density);
    return rc;
}

void img_result_release(img_result *r)
{
    free(r->ranks);
    r->ranks = NULL;
}
