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
#include "imaging/plan_internal.h"
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

static inline const float *coef_t_f(const img_kernel *k) { return k->coef_tf; }
static inline const double *coef_t_d(const img_kernel *k) { return k->coef_t; }
static inline void table_taps_f(const img_kernel *k, float fr, float *o) { img_kernel_taps_f(k, fr, o); }
static inline void table_taps_d(const img_kernel *k, double fr, double *o) { img_kernel_taps(k, fr, o); }

#define REAL float
#define SUF f
#define FFTW(name) fftwf_##name
#include "imaging/grid_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW
#define REAL double
#define SUF d
#define FFTW(name) fftw_##name
#include "imaging/grid_tmpl.h"
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

void img__fail(img_plan *pl, const ib_err *e)
{
    pthread_mutex_lock(&pl->err_lock);
    if (!atomic_load(&pl->failed)) pl->err = *e;
    atomic_store(&pl->failed, 1);
    pthread_mutex_unlock(&pl->err_lock);
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

/* Add the worker's sample list to grid (one product: dirty or PSF of
 * channel chan); rows *vlo..*vhi of the grid are widened to cover it. */
void img__grid_list(img__worker *w, int64_t chan, int prod, void *grid, int *vlo, int *vhi)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol, dbl = pl->p->dbl;
    const size_t es = dbl ? 8 : 4, cell = 2 * (size_t)npol * es, row = cell * (size_t)pl->ngx;
    if (pl->mosaic && prod == IMG_PROD_DIRTY) {
        double fl = pl->freq[chan] / IMG_C_LIGHT;
        if (dbl) grid_mosaic_d(pl, w->list, w->ktab_x, w->ktab_y, fl, grid, vlo, vhi);
        else grid_mosaic_f(pl, w->list, w->ktab_x, w->ktab_y, fl, grid, vlo, vhi);
    } else {
        /* The list's tap indices are for the grid support gw; the standard
         * kernel (the mosaic's PSF too) starts (gw - W)/2 cells further. */
        size_t off = (size_t)((pl->grid_support - pl->kernel.W) / 2);
        char *g = (char *)grid + off * row + off * cell;
        if (dbl) grid_samples_d(&pl->kernel, w->list, npol, (double *)(void *)g, pl->ngx, prod, vlo, vhi);
        else grid_samples_f(&pl->kernel, w->list, npol, (float *)(void *)g, pl->ngx, prod, vlo, vhi);
        *vhi = *vhi + (int)(2 * off) < pl->ngy ? *vhi + (int)(2 * off) : pl->ngy;
    }
}

/* Grid -> FFT -> correct one product (dirty or PSF) of one channel and
 * hold or write its planes (and, for the mosaic's dirty product, the
 * weight, pb and normalised planes). */
int img__image_product(img__worker *w, int64_t chan, const double *sumw, int prod)
{
    img_plan *pl = w->plan;
    img__phase(w, PROF_GRID);
    const size_t es = pl->p->dbl ? 8 : 4, row = 2 * (size_t)pl->npol * es * (size_t)pl->ngx;
    if (w->vhi > w->vlo)
        memset((char *)w->grid + (size_t)w->vlo * row, 0, (size_t)(w->vhi - w->vlo) * row);
    w->vlo = pl->ngy;
    w->vhi = 0;
    img__grid_list(w, chan, prod, w->grid, &w->vlo, &w->vhi);
    return img__product_planes(w, chan, sumw, prod, w->grid, w->vlo, w->vhi, 0);
}

/* The planes of one product of one channel from its grid (rows vlo..vhi
 * may be non-zero): FFT, correct, normalise by sumw; held under a budget,
 * or written at once when direct. */
int img__product_planes(img__worker *w, int64_t chan, const double *sumw, int prod, const void *grid,
                       int vlo, int vhi, int direct)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol;
    for (int p = 0; p < npol; p++) {
        img__phase(w, PROF_FFT);
        img__fft_grid(pl, grid, w->half, p, vlo, vhi);
        img__phase(w, PROF_CORRECT);
        double scale = sumw[p] > 0 ? 0.5 / sumw[p] : 0.0;
        float peak = img__fft_extract(pl, w->half, w->plane, scale);
        if (prod == IMG_PROD_DIRTY) pl->plane_peaks[(size_t)chan * (size_t)npol + (size_t)p] = peak;
        int mos = pl->mosaic && prod == IMG_PROD_DIRTY;
        if (mos) img__mosaic_planes(w, p, sumw[p]);

        img__phase(w, PROF_WRITE);
        int rc = img__plane_emit(w, direct, chan, p, prod);
        if (!rc && mos) rc = img__mosaic_emit(w, direct, chan, p);
        if (rc) return rc;
    }
    return 0;
}


static void worker_release(img__worker *w, int dbl)
{
    ib_free(w->vis);
    ib_free(w->weight);
    ib_free(w->flag);
    img__list_free(w->list, dbl);
    free(w->density);
    ib_free(w->grid);
    ib_free(w->half);
    img__held_release(w);
    free(w->ktab_x);
    free(w->ktab_y);
    fftw_free(w->ktab_buf);
    free(w->beam2_x);
    free(w->beam2_y);
    free(w->field_wsum);
    free(w->weight_plane);
    free(w->mosaic_plane);
    free(w->held);
    free(w->plane);
    free(w->sendbuf);
    free(w->events);
    ib_free(w->acc_grids);
    free(w->acc_wsum);
    free(w->acc_density);
}

static int worker_init(ib_err *e, img_plan *pl, img__worker *w, int id)
{
    memset(w, 0, sizeof *w);
    w->plan = pl;
    w->id = id;
    w->spill_fd = -1;
    size_t slab, ng;
    if (ib_mul3_size((size_t)pl->slab_rows, (size_t)pl->max_chunk_chans, (size_t)pl->npol, &slab) ||
        ib_mul_size((size_t)pl->ngx, (size_t)pl->ngy, &ng) || slab > ((size_t)1 << 40))
        return ib_error(e, IB_EOVERFLOW, "chunk of %lld rows x %lld channels is too large",
                        (long long)pl->slab_rows, (long long)pl->max_chunk_chans);
    /* The big buffers on huge pages: each rank faults them in once. */
    w->vis = ib_alloc_huge(slab * 8);
    w->weight = ib_alloc_huge(slab * 4);
    w->flag = ib_alloc_huge(slab);
    w->list = img__list_alloc(pl->slab_rows, pl->npol, pl->p->dbl);
    w->plane = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
    if (pl->p->weighting != IMG_WEIGHT_NATURAL)
        w->density = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
    if (pl->p->serial_write && pl->par->rank != 0)
        w->sendbuf = ib_malloc(sizeof(float) * ((size_t)pl->nx * (size_t)pl->ny + 4));
    int ok = w->vis && w->weight && w->flag && w->list && w->plane &&
             (pl->p->weighting == IMG_WEIGHT_NATURAL || w->density) &&
             (!(pl->p->serial_write && pl->par->rank != 0) || w->sendbuf);
    if (ok && pl->row_chunks == 1) {
        size_t ngp = ng * (size_t)pl->npol;
        w->grid = ib_alloc_huge(ngp * (pl->p->dbl ? 16 : 8));
        ok = w->grid != NULL;
        if (ok) memset(w->grid, 0, ngp * (pl->p->dbl ? 16 : 8));
        w->vlo = w->vhi = 0;
    } else if (ok) {
        /* Row chunks: the chunk's grids and sums (sizes checked by
         * setup_budget's arithmetic). */
        size_t nc = (size_t)pl->max_chunk_chans;
        w->acc_grids = ib_alloc_huge(nc * (size_t)pl->grids_per_chan * pl->grid_reals * (pl->p->dbl ? 8 : 4));
        w->acc_wsum = ib_malloc(sizeof(double) * nc * pl->wsums_per_chan);
        if (pl->p->weighting != IMG_WEIGHT_NATURAL)
            w->acc_density = ib_malloc(sizeof(float) * nc * (size_t)pl->nx * (size_t)pl->ny);
        ok = w->acc_grids && w->acc_wsum && (pl->p->weighting == IMG_WEIGHT_NATURAL || w->acc_density);
    }
    size_t nh = (size_t)pl->ngy * (size_t)(pl->ngx / 2 + 1);
    if (ok) {
        w->half = ib_alloc_huge(nh * (pl->p->dbl ? 16 : 8));
        ok = w->half != NULL;
    }
    if (ok && pl->mosaic) {
        size_t ntab = 2 * ((size_t)pl->grid_support * (size_t)pl->ktab_over + 1);
        w->ktab_x = ib_malloc(sizeof(double) * ntab * (size_t)pl->n_offs_x);
        w->ktab_y = ib_malloc(sizeof(double) * ntab * (size_t)pl->n_offs_y);
        w->field_wsum = ib_malloc(sizeof(double) * (size_t)pl->nfield * (size_t)pl->npol);
        w->weight_plane = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
        w->mosaic_plane = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
        w->ktab_buf = fftw_malloc(sizeof(double) * 2 * (size_t)pl->ktab_fft_size);
        w->beam2_x = ib_malloc(sizeof(float) * (size_t)pl->nfield * (size_t)pl->nx);
        w->beam2_y = ib_malloc(sizeof(float) * (size_t)pl->nfield * (size_t)pl->ny);
        ok = w->ktab_x && w->ktab_y && w->field_wsum && w->weight_plane && w->mosaic_plane && w->ktab_buf && w->beam2_x && w->beam2_y;
    }
    if (!ok)
        return ib_error(e, IB_ENOMEM,
                        "out of memory for thread %d's buffers (slab %zu samples, grid %dx%d)",
                        id, slab, pl->ngx, pl->ngy);
    return 0;
}

/* ---------- set-up ---------- */

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

static void run_release(img_plan *pl)
{
    img_kernel_release(&pl->kernel);
    free(pl->row_order);
    free(pl->row_field);
    free(pl->field_l);
    free(pl->field_m);
    free(pl->offs_x);
    free(pl->offs_y);
    free(pl->field_offs_x);
    free(pl->field_offs_y);
    free(pl->psihat);
    if (pl->ktab_fft) fftw_destroy_plan(pl->ktab_fft);
    free(pl->u_m);
    free(pl->v_m);
    free(pl->corr_x);
    free(pl->corr_y);
    free(pl->corr_xf);
    free(pl->pix_col);
    free(pl->pix_row);
    free(pl->chunk_chan0);
    free(pl->plane_peaks);
    img__fft_destroy(pl);
    for (int i = 0; i < IMG_NPROD; i++) img__fits_abort(pl->cube[i]);
    img_vis_close(NULL, pl->store);
    free(pl->my_chunks);
    free(pl->row_chunk0);
    free(pl->rows_by_chunk);
    free(pl->rows_by_chunk_start);
    free(pl->my_row_chunks);
    free(pl->row_task_next);
    if (pl->barrier_on) pthread_barrier_destroy(&pl->barrier);
    img__comm_release(&pl->comm);
    if (pl->budget) {
        pthread_mutex_destroy(&pl->mem_lock);
        pthread_cond_destroy(&pl->mem_cond);
    }
    if (pl->made_spill_dir) rmdir(pl->spill_dir); /* fails harmlessly if another rank's remain */
    pthread_mutex_destroy(&pl->err_lock);
}

/*
 * Row chunks: M near-equal ranges of stored rows, this rank's share of
 * them (static: cyclic; locality: the rank's contiguous part of the rows,
 * where its data lives; dynamic: rank 0 hands them out), the task
 * counters, and the sizes of a chunk's summed grids.
 */
static int setup_rows(ib_err *e, img_plan *pl)
{
    int rc = img__rows_split(e, pl);
    if (!rc) rc = img__sched_assign_rows(e, pl);
    if (rc) return rc;
    pl->grids_per_chan = pl->p->psf ? 2 : 1;
    pl->grid_reals = (size_t)pl->ngx * (size_t)pl->ngy * (size_t)pl->npol * 2;
    pl->wsums_per_chan = (size_t)pl->npol * (pl->mosaic ? 1 + (size_t)pl->nfield : 1);
    return 0;
}

int img_run(ib_err *e, const img_params *p, img_result *res)
{
    memset(res, 0, sizeof *res);
    res->dft_max_rel_err = res->dft_rms_rel_err = -1;
    int rc = validate(e, p);
    if (rc) return rc;
    double t0 = ib_now();
    struct img_plan pl;
    memset(&pl, 0, sizeof pl);
    pl.p = p;
    pl.solo.size = 1;
    pl.par = p->par ? p->par : &pl.solo;
    img__comm_init(&pl.comm, pl.par);
    pl.origin = t0;
    pthread_mutex_init(&pl.err_lock, NULL);
    prof_timer main_t;
    prof_timer_init(&main_t);
    prof_timer_switch(&main_t, PROF_READ);
    img__worker *ws = NULL;
    int nthreads = p->threads, started = 0, sealed = 0;
    const int root = pl.par->rank == 0, N = pl.par->size;
    char path[4096];

    if ((rc = img_vis_open(e, p->vis_dir, &pl.store))) goto out;
    const img_vis_meta *m = img_vis_meta_get(pl.store);
    res->meta = *m;
    pl.freq = img_vis_freq(pl.store);
    pl.nrow = m->nrow;
    pl.nchan = m->nchan;
    pl.npol = m->npol;
    pl.nx = p->nx ? p->nx : m->image_nx;
    pl.ny = p->ny ? p->ny : (p->nx ? p->nx : m->image_ny);
    double cell_as = p->cell_arcsec > 0 ? p->cell_arcsec : m->cell_arcsec;
    if (pl.nx < 2 || pl.ny < 2 || pl.nx % 2 || pl.ny % 2) {
        rc = ib_error(e, IB_EINVAL, "image size %dx%d must be even and >= 2 (set --image)", pl.nx,
                      pl.ny);
        goto out;
    }
    if (!(cell_as > 0)) {
        rc = ib_error(e, IB_EINVAL, "store '%s' suggests no cell size: set --cell ARCSEC",
                      img_vis_path(pl.store));
        goto out;
    }
    pl.cell = cell_as * M_PI / (180.0 * 3600.0);
    if ((rc = img_kernel_init(e, &pl.kernel, p->support, p->padding, p->oversample))) goto out;
    pl.ngx = img_good_fft_size((int)ceil(p->padding * pl.nx));
    pl.ngy = img_good_fft_size((int)ceil(p->padding * pl.ny));
    if (pl.ngx < 2 * pl.kernel.W || pl.ngy < 2 * pl.kernel.W) {
        pl.ngx = img_good_fft_size(pl.ngx > 2 * pl.kernel.W ? pl.ngx : 2 * pl.kernel.W);
        pl.ngy = img_good_fft_size(pl.ngy > 2 * pl.kernel.W ? pl.ngy : 2 * pl.kernel.W);
    }
    pl.nfield = m->nfield;
    if ((rc = img__mosaic_setup(e, &pl, m))) goto out;
    res->nx = pl.nx; res->ny = pl.ny; res->ngx = pl.ngx; res->ngy = pl.ngy;
    res->cell_arcsec = cell_as;

    /* Chunks: near-equal channel ranges; never more chunks than channels.
     * The default is 4 channels a chunk (the store's chunking along
     * channels, so a slab is whole HDF5 chunks) and at least one chunk per
     * thread of every rank; with row chunks the rows give the parallelism.
     * Small chunks keep the working set in cache and leave a short tail:
     * on the bench cube 32 chunks image faster than 8, on one rank or two. */
    pl.row_chunks = p->row_chunks > 1 ? (p->row_chunks < pl.nrow ? p->row_chunks : (int)pl.nrow) : 1;
    pl.nchunks = p->chunks > 0 ? p->chunks : (int)((pl.nchan + 3) / 4);
    if (p->chunks <= 0 && pl.row_chunks == 1 && pl.nchunks < nthreads * N) pl.nchunks = nthreads * N;
    if (pl.nchunks > pl.nchan) pl.nchunks = (int)pl.nchan;
    if (pl.nchunks < 1) pl.nchunks = 1; /* a store without channels: one empty chunk */
    res->nchunks = pl.nchunks;
    pl.chunk_chan0 = ib_malloc(sizeof(int64_t) * ((size_t)pl.nchunks + 1));
    pl.corr_x = ib_malloc(sizeof(double) * (size_t)pl.nx);
    pl.corr_y = ib_malloc(sizeof(double) * (size_t)pl.ny);
    pl.pix_col = ib_malloc(sizeof(int32_t) * (size_t)pl.nx);
    pl.corr_xf = ib_malloc(sizeof(float) * (size_t)pl.nx);
    pl.pix_row = ib_malloc(sizeof(int32_t) * (size_t)pl.ny);
    pl.plane_peaks = ib_calloc((size_t)pl.nchan * (size_t)pl.npol, sizeof(float));
    if (!pl.chunk_chan0 || !pl.corr_x || !pl.corr_xf || !pl.corr_y || !pl.pix_col || !pl.pix_row || !pl.plane_peaks) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    for (int c = 0; c <= pl.nchunks; c++) pl.chunk_chan0[c] = (int64_t)c * pl.nchan / pl.nchunks;
    for (int c = 0; c < pl.nchunks; c++)
        if (pl.chunk_chan0[c + 1] - pl.chunk_chan0[c] > pl.max_chunk_chans) pl.max_chunk_chans = pl.chunk_chan0[c + 1] - pl.chunk_chan0[c];
    if ((rc = img__sched_assign(e, &pl))) goto out;
    pl.slab_rows = pl.nrow;
    if (pl.row_chunks > 1 && (rc = setup_rows(e, &pl))) goto out;
    res->row_chunks = pl.row_chunks;
    if (p->schedule == IMG_SCHED_DYNAMIC && N > 1)
        atomic_store(&pl.next_chunk, N * nthreads); /* after the first round */
    if ((rc = img__budget_setup(e, &pl))) goto out;

    if ((rc = img__rows_load(e, &pl))) goto out;
    if (pl.row_chunks > 1 && (rc = img__rows_group(e, &pl))) goto out;

    prof_timer_switch(&main_t, PROF_CORRECT);
    /* Grid correction: 1 / FT of the kernel at each pixel's frequency. */
    for (int x = 0; x < pl.nx; x++) {
        double c = img_kernel_ft(&pl.kernel, (double)(pl.nx / 2 - x) / pl.ngx);
        pl.corr_x[x] = 1.0 / c;
        pl.corr_xf[x] = (float)(1.0 / c);
        pl.pix_col[x] = ((pl.nx / 2 - x) % pl.ngx + pl.ngx) % pl.ngx;
    }
    for (int y = 0; y < pl.ny; y++) {
        double c = img_kernel_ft(&pl.kernel, (double)(y - pl.ny / 2) / pl.ngy);
        pl.corr_y[y] = 1.0 / c;
        pl.pix_row[y] = ((y - pl.ny / 2) % pl.ngy + pl.ngy) % pl.ngy;
    }

    prof_timer_switch(&main_t, PROF_WRITE);
    char hist[4][80];
    const char *history[5];
    snprintf(hist[0], 80, "imbench imager: gridder %s, support %d (grid %d), padding %.3g",
             pl.mosaic ? "mosaic" : "standard", p->support, pl.grid_support, p->padding);
    snprintf(hist[1], 80, "weighting %s robust %.3g, precision %s",
             p->weighting == IMG_WEIGHT_NATURAL ? "natural"
             : p->weighting == IMG_WEIGHT_UNIFORM ? "uniform" : "briggs",
             p->robust, p->dbl ? "double" : "float");
    snprintf(hist[2], 80, "grid %dx%d, kernel ES beta %.4g, poly degree %d", pl.ngx, pl.ngy,
             pl.kernel.beta, pl.kernel.deg);
    for (int i = 0; i < 3; i++) history[i] = hist[i];
    history[3] = NULL;
    img__cube_desc d = {
        .nx = pl.nx, .ny = pl.ny, .nchan = (int)pl.nchan, .npol = pl.npol,
        .ra = m->phase_centre[0], .dec = m->phase_centre[1], .cell = pl.cell,
        .freq0 = pl.freq[0], .dfreq = pl.nchan > 1 ? pl.freq[1] - pl.freq[0] : 1.0,
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
        if (root && (rc = img__fits_create(e, kpath, &dk, history, &pl.cube[k]))) goto out;
    }
    if ((rc = img__barrier(e, &pl.comm))) goto out;
    pl.origin = ib_now();
    pl.setup_s = pl.origin - t0;
    for (int k = 0; k < IMG_NPROD && !root && !p->serial_write; k++) {
        if (!product_made(p, k)) continue;
        char kpath[4096];
        img__cube_desc dk = d;
        dk.btype = img_product_btype(k);
        dk.bunit = img_product_bunit(k);
        if ((rc = ib_path_join(e, kpath, sizeof kpath, p->out_dir, img_product_file(k))) ||
            (rc = img__fits_open(e, kpath, &dk, history, &pl.cube[k])))
            goto out;
    }

    /* One c2r plan for every thread's buffers (FFTW's new-array execute),
     * measured once and remembered in the wisdom file. */
    prof_timer_switch(&main_t, PROF_FFT);
    if ((rc = img__fft_plan(e, &pl))) goto out;

    prof_timer_switch(&main_t, PROF_OTHER);
    ws = ib_calloc((size_t)nthreads, sizeof *ws);
    if (!ws) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    prof_timer_stop(&main_t); /* waiting for the workers is not a phase */
    if (root && N > 1 && (p->schedule == IMG_SCHED_DYNAMIC || p->serial_write)) {
        if (pthread_create(&pl.server, NULL, img__sched_serve, &pl) != 0) {
            rc = ib_error(e, IB_ENOMEM, "rank 0: cannot start the service thread");
            goto out;
        }
        pl.server_on = 1;
    }
    pl.workers = ws;
    if (pl.row_chunks > 1) {
        /* Row chunks: the threads meet at barriers, so all of them start
         * (or none work): every buffer first, then the threads, which wait
         * at the gate until all exist. */
        for (int i = 0; i < nthreads && !rc; i++) rc = worker_init(e, &pl, &ws[i], i);
        if (!rc && pthread_barrier_init(&pl.barrier, NULL, (unsigned)nthreads) != 0)
            rc = ib_error(e, IB_ENOMEM, "cannot create the threads' barrier");
        pl.barrier_on = !rc;
        for (int i = 0; i < nthreads && !rc; i++) {
            if (pthread_create(&ws[i].tid, NULL, img__rows_thread, &ws[i]) != 0) {
                rc = ib_error(e, IB_ENOMEM, "cannot start thread %d", i);
                break;
            }
            started++;
        }
        pthread_mutex_lock(&pl.mem_lock);
        pl.gate = rc ? -1 : 1;
        pthread_cond_broadcast(&pl.mem_cond);
        pthread_mutex_unlock(&pl.mem_lock);
    } else {
        for (int i = 0; i < nthreads; i++) {
            if ((rc = worker_init(e, &pl, &ws[i], i))) break;
            if (pthread_create(&ws[i].tid, NULL, img__chunk_thread, &ws[i]) != 0) {
                rc = ib_error(e, IB_ENOMEM, "cannot start thread %d", i);
                break;
            }
            started++;
        }
    }
    if (rc) atomic_store(&pl.failed, 1);
    for (int i = 0; i < started; i++) pthread_join(ws[i].tid, NULL);
    if (!rc && atomic_load(&pl.failed)) {
        *e = pl.err;
        rc = pl.err.code ? pl.err.code : IB_EIO;
    }
    if (rc) goto out; /* multi-rank callers abort the job on any error */
    if (N > 1 && !root && (p->schedule == IMG_SCHED_DYNAMIC || p->serial_write)) {
        int32_t x = 0;
        if ((rc = img__send(e, &pl.comm, &x, sizeof x, 0, IMG__TAG_DONE))) goto out;
    }
    if (pl.server_on) {
        pthread_join(pl.server, NULL);
        pl.server_on = 0;
        if (atomic_load(&pl.failed)) {
            *e = pl.err;
            rc = pl.err.code ? pl.err.code : IB_EMPI;
            goto out;
        }
    }
    for (int i = 0; i < started; i++) {
        res->samples_gridded += ws[i].samples;
        res->samples_dropped += ws[i].dropped;
        res->bytes_read += ws[i].bytes_read;
    }
    res->grid_bytes_per_thread =
        ((double)pl.ngx * pl.ngy * pl.npol + (double)pl.ngy * (pl.ngx / 2 + 1)) * (p->dbl ? 16 : 8);
    /* grid: npol complex per cell; half: one pol's Hermitian spectrum */
    res->plan_seconds = pl.plan_seconds;

    /* Every rank's planes are on disk before rank 0 seals the cubes. */
    prof_timer_switch(&main_t, PROF_WRITE);
    if (!root)
        for (int k = 0; k < IMG_NPROD; k++) {
            img__fits_close(pl.cube[k]);
            pl.cube[k] = NULL;
        }
    if ((rc = img__barrier(e, &pl.comm))) goto out;
    for (int k = 0; root && k < IMG_NPROD; k++) {
        if (pl.cube[k] && !rc) rc = img__fits_finish(e, pl.cube[k], &res->bytes_written);
        else img__fits_abort(pl.cube[k]);
        pl.cube[k] = NULL;
    }
    sealed = root;
    prof_timer_stop(&main_t);
    if (rc) goto out;
    if ((rc = img__reduce_max_float(e, &pl.comm, pl.plane_peaks, (int)(pl.nchan * pl.npol)))) goto out;
    for (size_t i = 0; i < (size_t)pl.nchan * (size_t)pl.npol; i++)
        if (pl.plane_peaks[i] > res->image_peak) res->image_peak = pl.plane_peaks[i];
    res->wall_seconds = ib_now() - t0;

    /* Task events, then statistics of every rank, on rank 0 (the counters
     * include the event gathering; the statistics gather itself is the one
     * collective they cannot count). */
    if ((rc = img__tasks_write(e, &pl, ws, started, res))) goto out;
    img_rank_stats mine;
    img__rank_stats(&mine, &pl, ws, started, &main_t, res->wall_seconds);
    res->nranks = N;
    res->ranks = root ? ib_calloc((size_t)N, sizeof *res->ranks) : NULL;
    if (root && !res->ranks) {
        rc = ib_error(e, IB_ENOMEM, "out of memory");
        goto out;
    }
    img_rank_stats scratch;
    if ((rc = img__gather(e, &pl.comm, &mine, sizeof mine, root ? (void *)res->ranks : &scratch)))
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
        if (p->check_dft > 0) rc = img__check_dft(e, &pl, path, res);
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
    if (pl.server_on) {
        /* Only reached on an error: the caller aborts the MPI job, which
         * ends the service thread's blocking probe. */
        pthread_detach(pl.server);
    }
    if (ws) {
        for (int i = 0; i < nthreads; i++) worker_release(&ws[i], p->dbl);
        free(ws);
    }
    run_release(&pl);
    return rc;
}

void img_result_release(img_result *r)
{
    free(r->ranks);
    r->ranks = NULL;
}
