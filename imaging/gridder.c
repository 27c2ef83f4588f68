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
    int32_t *jx, *jy;    /* c2r output column/row of each image pixel */
    int nchunks;
    int64_t *chunk0;     /* nchunks+1 channel boundaries */
    int64_t max_chunk;
    atomic_int next_chunk;
    atomic_int failed;
    pthread_mutex_t err_lock;
    ib_err err;
    img__fits *dirty, *psf;
    float *peaks;        /* nchan * npol plane peaks |max| */
    void *plan;          /* c2r fftwf_plan or fftw_plan, shared (new-array execute) */
    double plan_seconds;
} run_ctx;

typedef struct worker {
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
    uint64_t samples, dropped, bytes_read;
} worker;

static inline const float *coef_t_f(const img_kernel *k) { return k->coef_tf; }
static inline const double *coef_t_d(const img_kernel *k) { return k->coef_t; }
static inline void table_taps_f(const img_kernel *k, float fr, float *o) { img_kernel_taps_f(k, fr, o); }
static inline void table_taps_d(const img_kernel *k, double fr, double *o) { img_kernel_taps(k, fr, o); }

#define REAL float
#define SUF f
#include "imaging/grid_tmpl.h"
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF
#define REAL double
#define SUF d
#include "imaging/grid_tmpl.h"
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF

void img_params_default(img_params *p)
{
    memset(p, 0, sizeof *p);
    p->gridder = IMG_GRIDDER_STANDARD;
    p->support = 7;
    p->weighting = IMG_WEIGHT_NATURAL;
    p->padding = 1.5;
    p->threads = 1;
    p->chunks = 0;
    p->seed = 1;
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

/* ---------- per-channel pipeline ---------- */

/* Grid -> FFT -> correct one product (dirty or PSF) of one channel and
 * write its planes. Precision-generic through the dbl flag. */
static int image_product(worker *w, int64_t chan, const double *sumw, int psf)
{
    run_ctx *R = w->R;
    const int npol = R->npol, dbl = R->p->dbl;
    ib_err e;
    ib_err_init(&e);

    prof_timer_switch(&w->t, PROF_GRID);
    const size_t cell = 2 * (size_t)npol * (dbl ? 8 : 4), row = cell * (size_t)R->ngx;
    if (w->vhi > w->vlo)
        memset((char *)w->grid + (size_t)w->vlo * row, 0, (size_t)(w->vhi - w->vlo) * row);
    w->vlo = R->ngy;
    w->vhi = 0;
    if (dbl) grid_samples_d(&R->k, w->list, npol, w->grid, R->ngx, psf, &w->vlo, &w->vhi);
    else grid_samples_f(&R->k, w->list, npol, w->grid, R->ngx, psf, &w->vlo, &w->vhi);

    for (int p = 0; p < npol; p++) {
        prof_timer_switch(&w->t, PROF_FFT);
        if (dbl) {
            fold_d(w->grid, w->half, R->ngx, R->ngy, npol, p, w->vlo, w->vhi);
            fftw_execute_dft_c2r(R->plan, w->half, w->half);
        } else {
            fold_f(w->grid, w->half, R->ngx, R->ngy, npol, p, w->vlo, w->vhi);
            fftwf_execute_dft_c2r(R->plan, w->half, w->half);
        }
        prof_timer_switch(&w->t, PROF_CORRECT);
        double scale = sumw[p] > 0 ? 0.5 / sumw[p] : 0.0;
        float peak = dbl ? extract_d(w->half, w->plane, R->nx, R->ny, R->ngx, R->jx, R->jy,
                                     R->corr_x, R->corr_y, scale)
                         : extract_f(w->half, w->plane, R->nx, R->ny, R->ngx, R->jx, R->jy,
                                     R->corr_x, R->corr_y, scale);
        if (!psf) R->peaks[(size_t)chan * (size_t)npol + (size_t)p] = peak;

        prof_timer_switch(&w->t, PROF_WRITE);
        int rc = img__fits_write_plane(&e, psf ? R->psf : R->dirty, (int)chan, p, w->plane);
        if (rc) {
            set_err(R, &e);
            return rc;
        }
    }
    return 0;
}

static int process_chunk(worker *w, int c)
{
    run_ctx *R = w->R;
    int64_t c0 = R->chunk0[c], nc = R->chunk0[c + 1] - c0;
    ib_err e;
    ib_err_init(&e);
    prof_timer_switch(&w->t, PROF_READ);
    int rc = img_vis_read_chans(&e, R->store, 0, R->nrow, c0, nc, w->vis, w->wt, w->flag,
                               &w->bytes_read);
    if (rc) {
        set_err(R, &e);
        return rc;
    }
    for (int64_t cc = 0; cc < nc && !atomic_load(&R->failed); cc++) {
        double sumw[IMG_MAX_POL];
        prof_timer_switch(&w->t, PROF_WEIGHT);
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
        if ((rc = image_product(w, c0 + cc, sumw, 0))) return rc;
        if (R->p->psf && (rc = image_product(w, c0 + cc, sumw, 1))) return rc;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    prof_timer_init(&w->t);
    for (;;) {
        if (atomic_load(&w->R->failed)) break;
        int c = atomic_fetch_add(&w->R->next_chunk, 1);
        if (c >= w->R->nchunks) break;
        if (process_chunk(w, c)) break;
    }
    prof_timer_stop(&w->t);
    return NULL;
}

static void worker_release(worker *w, int dbl)
{
    free(w->vis);
    free(w->wt);
    free(w->flag);
    list_free(w->list, dbl);
    free(w->density);
    if (w->grid) {
        if (dbl) fftw_free(w->grid);
        else fftwf_free(w->grid);
    }
    if (w->half) {
        if (dbl) fftw_free(w->half);
        else fftwf_free(w->half);
    }
    free(w->plane);
}

static int worker_init(ib_err *e, run_ctx *R, worker *w, int id)
{
    memset(w, 0, sizeof *w);
    w->R = R;
    w->id = id;
    size_t slab, ng;
    if (ib_mul3_size((size_t)R->nrow, (size_t)R->max_chunk, (size_t)R->npol, &slab) ||
        ib_mul_size((size_t)R->ngx, (size_t)R->ngy, &ng) || slab > ((size_t)1 << 40))
        return ib_error(e, IB_EOVERFLOW, "chunk of %lld rows x %lld channels is too large",
                        (long long)R->nrow, (long long)R->max_chunk);
    w->vis = ib_malloc(slab * 8);
    w->wt = ib_malloc(slab * 4);
    w->flag = ib_malloc(slab);
    w->list = list_alloc(R->nrow, R->npol, R->p->dbl);
    w->plane = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
    if (R->p->weighting != IMG_WEIGHT_NATURAL)
        w->density = ib_malloc(sizeof(float) * (size_t)R->nx * (size_t)R->ny);
    int ok = w->vis && w->wt && w->flag && w->list && w->plane &&
             (R->p->weighting == IMG_WEIGHT_NATURAL || w->density);
    if (ok) {
        size_t ngp = ng * (size_t)R->npol;
        w->grid = R->p->dbl ? (void *)fftw_alloc_complex(ngp) : (void *)fftwf_alloc_complex(ngp);
        ok = w->grid != NULL;
        if (ok) memset(w->grid, 0, ngp * (R->p->dbl ? 16 : 8));
        w->vlo = w->vhi = 0;
    }
    size_t nh = (size_t)R->ngy * (size_t)(R->ngx / 2 + 1);
    if (ok) {
        w->half = R->p->dbl ? (void *)fftw_alloc_complex(nh) : (void *)fftwf_alloc_complex(nh);
        ok = w->half != NULL;
    }
    if (!ok)
        return ib_error(e, IB_ENOMEM,
                        "out of memory for thread %d's buffers (slab %zu samples, grid %dx%d)",
                        id, slab, R->ngx, R->ngy);
    return 0;
}

/* ---------- set-up ---------- */

typedef struct row_key {
    int32_t a1, a2;
    double t;
    int64_t r;
} row_key;

static int cmp_row(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->a1 != b->a1) return a->a1 < b->a1 ? -1 : 1;
    if (a->a2 != b->a2) return a->a2 < b->a2 ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
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
    int rc = 0;
    if (!uvw || !t || !a1 || !a2 || !keys || !R->perm || !R->um || !R->vm) {
        rc = ib_error(e, IB_ENOMEM, "out of memory reading %zu rows", n);
        goto out;
    }
    if ((rc = img_vis_read_rows(e, R->store, 0, R->nrow, uvw, NULL, a1, a2, t))) goto out;
    for (size_t i = 0; i < n; i++) {
        keys[i] = (row_key){a1[i], a2[i], t[i], (int64_t)i};
        if (!isfinite(uvw[3 * i]) || !isfinite(uvw[3 * i + 1]) || !isfinite(uvw[3 * i + 2])) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/uvw' row %zu is not finite",
                          img_vis_path(R->store), i);
            goto out;
        }
    }
    qsort(keys, n, sizeof *keys, cmp_row);
    for (size_t i = 0; i < n; i++) {
        int64_t r = keys[i].r;
        R->perm[i] = r;
        R->um[i] = uvw[3 * r];
        R->vm[i] = uvw[3 * r + 1];
    }
out:
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
    if (p->gridder != IMG_GRIDDER_STANDARD)
        return ib_error(e, IB_EUNSUPPORTED, "gridder 'mosaic' is not available in this build");
    if (p->threads < 1 || p->threads > 1024)
        return ib_error(e, IB_EINVAL, "--threads must be 1..1024, got %d", p->threads);
    if (p->chunks < 0 || p->chunks > 10000000)
        return ib_error(e, IB_EINVAL, "--chunks must be >= 1, got %d", p->chunks);
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

static void run_release(run_ctx *R)
{
    img_kernel_release(&R->k);
    free(R->perm);
    free(R->um);
    free(R->vm);
    free(R->corr_x);
    free(R->corr_y);
    free(R->jx);
    free(R->jy);
    free(R->chunk0);
    free(R->peaks);
    if (R->plan) {
        if (R->p->dbl) fftw_destroy_plan(R->plan);
        else fftwf_destroy_plan(R->plan);
    }
    img__fits_abort(R->dirty);
    img__fits_abort(R->psf);
    img_vis_close(NULL, R->store);
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
    size_t nh = (size_t)R->ngy * (size_t)(R->ngx / 2 + 1);
    char wpath[4096];
    int have_path = wisdom_path(wpath, sizeof wpath, dbl) == 0;
    double t0 = ib_now();
    pthread_mutex_lock(&plan_lock);
    if (have_path) {
        if (dbl) fftw_import_wisdom_from_filename(wpath);
        else fftwf_import_wisdom_from_filename(wpath);
    }
    /* Planning with MEASURE overwrites its arrays: plan on a scratch one. */
    if (dbl) {
        fftw_complex *tmp = fftw_alloc_complex(nh);
        if (tmp) R->plan = fftw_plan_dft_c2r_2d(R->ngy, R->ngx, tmp, (double *)tmp, flags);
        fftw_free(tmp);
    } else {
        fftwf_complex *tmp = fftwf_alloc_complex(nh);
        if (tmp) R->plan = fftwf_plan_dft_c2r_2d(R->ngy, R->ngx, tmp, (float *)tmp, flags);
        fftwf_free(tmp);
    }
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
    pthread_mutex_init(&R.err_lock, NULL);
    prof_timer main_t;
    prof_timer_init(&main_t);
    prof_timer_switch(&main_t, PROF_READ);
    worker *ws = NULL;
    int nthreads = p->threads;

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
    res->nx = R.nx; res->ny = R.ny; res->ngx = R.ngx; res->ngy = R.ngy;
    res->cell_arcsec = cell_as;

    /* Chunks: near-equal channel ranges; never more chunks than channels. */
    R.nchunks = p->chunks > 0 ? p->chunks : nthreads;
    if (R.nchunks > R.nchan) R.nchunks = (int)R.nchan;
    res->nchunks = R.nchunks;
    R.chunk0 = ib_malloc(sizeof(int64_t) * ((size_t)R.nchunks + 1));
    R.corr_x = ib_malloc(sizeof(double) * (size_t)R.nx);
    R.corr_y = ib_malloc(sizeof(double) * (size_t)R.ny);
    R.jx = ib_malloc(sizeof(int32_t) * (size_t)R.nx);
    R.jy = ib_malloc(sizeof(int32_t) * (size_t)R.ny);
    R.peaks = ib_calloc((size_t)R.nchan * (size_t)R.npol, sizeof(float));
    if (!R.chunk0 || !R.corr_x || !R.corr_y || !R.jx || !R.jy || !R.peaks) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    for (int c = 0; c <= R.nchunks; c++) R.chunk0[c] = (int64_t)c * R.nchan / R.nchunks;
    for (int c = 0; c < R.nchunks; c++)
        if (R.chunk0[c + 1] - R.chunk0[c] > R.max_chunk) R.max_chunk = R.chunk0[c + 1] - R.chunk0[c];

    if ((rc = load_rows(e, &R))) goto out;

    prof_timer_switch(&main_t, PROF_CORRECT);
    /* Grid correction: 1 / FT of the kernel at each pixel's frequency. */
    for (int x = 0; x < R.nx; x++) {
        double c = img_kernel_ft(&R.k, (double)(R.nx / 2 - x) / R.ngx);
        R.corr_x[x] = 1.0 / c;
        R.jx[x] = ((R.nx / 2 - x) % R.ngx + R.ngx) % R.ngx;
    }
    for (int y = 0; y < R.ny; y++) {
        double c = img_kernel_ft(&R.k, (double)(y - R.ny / 2) / R.ngy);
        R.corr_y[y] = 1.0 / c;
        R.jy[y] = ((y - R.ny / 2) % R.ngy + R.ngy) % R.ngy;
    }

    prof_timer_switch(&main_t, PROF_OTHER);
    if ((rc = ib_mkdir_p(e, p->out_dir))) goto out;
    char path[4096], hist[8][80];
    const char *history[9];
    snprintf(hist[0], 80, "imbench imager: gridder standard, support %d, padding %.3g",
             p->support, p->padding);
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
        .btype = "Intensity"};
    memcpy(d.corr, m->corr, sizeof d.corr);
    if ((rc = ib_path_join(e, path, sizeof path, p->out_dir, "dirty.fits")) ||
        (rc = img__fits_create(e, path, &d, history, &R.dirty)))
        goto out;
    if (p->psf) {
        char ppath[4096];
        d.btype = "Beam";
        if ((rc = ib_path_join(e, ppath, sizeof ppath, p->out_dir, "psf.fits")) ||
            (rc = img__fits_create(e, ppath, &d, history, &R.psf)))
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
    int started = 0;
    prof_timer_stop(&main_t); /* waiting for the workers is not a phase */
    for (int i = 0; i < nthreads; i++) {
        if ((rc = worker_init(e, &R, &ws[i], i))) break;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            rc = ib_error(e, IB_ENOMEM, "cannot start thread %d", i);
            worker_release(&ws[i], p->dbl);
            break;
        }
        started++;
    }
    if (rc) atomic_store(&R.failed, 1);
    for (int i = 0; i < started; i++) pthread_join(ws[i].tid, NULL);
    for (int i = 0; i < started; i++) {
        prof_timer_merge(&main_t, &ws[i].t);
        res->samples_gridded += ws[i].samples;
        res->samples_dropped += ws[i].dropped;
        res->bytes_read += ws[i].bytes_read;
        worker_release(&ws[i], p->dbl);
    }
    res->grid_bytes_per_thread =
        ((double)R.ngx * R.ngy * R.npol + (double)R.ngy * (R.ngx / 2 + 1)) * (p->dbl ? 16 : 8);
    /* grid: npol complex per cell; half: one pol's Hermitian spectrum */
    res->plan_seconds = R.plan_seconds;
    if (rc) goto out;
    if (atomic_load(&R.failed)) {
        *e = R.err;
        rc = R.err.code ? R.err.code : IB_EIO;
        goto out;
    }
    prof_timer_switch(&main_t, PROF_WRITE);
    rc = img__fits_finish(e, R.dirty, &res->bytes_written);
    R.dirty = NULL;
    if (!rc && R.psf) rc = img__fits_finish(e, R.psf, &res->bytes_written);
    R.psf = NULL;
    prof_timer_stop(&main_t);
    if (rc) goto out;
    for (size_t i = 0; i < (size_t)R.nchan * (size_t)R.npol; i++)
        if (R.peaks[i] > res->image_peak) res->image_peak = R.peaks[i];
    res->wall_seconds = ib_now() - t0;
    if (p->check_dft > 0) {
        if ((rc = ib_path_join(e, path, sizeof path, p->out_dir, "dirty.fits"))) goto out;
        rc = check_dft(e, &R, path, res);
    }
out:
    for (int i = 0; i < PROF_NPHASE && i < 16; i++) {
        res->phase_wall[i] = main_t.wall[i];
        res->phase_cpu[i] = main_t.cpu[i];
    }
    if (!res->wall_seconds) res->wall_seconds = ib_now() - t0;
    prof_rusage ru;
    prof_rusage_get(&ru);
    res->peak_rss_bytes = ru.max_rss_bytes;
    free(ws);
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
            double ph = 2.0 * M_PI * f * (R->um[k] * l + R->vm[k] * mm);
            size_t o = (size_t)s * (size_t)npol + (size_t)p;
            acc += L->vr[o] * cos(ph) - L->vi[o] * sin(ph);
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
