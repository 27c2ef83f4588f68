/*
 * plan.c: the plan of an imaging run, made before any work and destroyed
 * after it (FFTW's plan / execute / destroy). img_plan_create checks the
 * parameters, opens the store, sizes the image, grid and kernel, splits
 * the channels into chunks (and the rows into row chunks), assigns them to
 * this rank, sets up the memory budget, reads and orders the rows, builds
 * the grid correction and the FFT plans and allocates every worker's
 * buffers; img_plan_destroy releases all of it on any path.
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    p->mosaic_method = IMG_MOSAIC_AUTO;
    p->aperture_cut = 1e-5;
    p->fft_plan = 1;
}

static int validate(ib_err *e, const img_params *p)
{
    if (!p->vis_dir || !p->out_dir) return ib_error(e, IB_EINVAL, "--vis and --out are required");
    if (p->gridder != IMG_GRIDDER_STANDARD && p->gridder != IMG_GRIDDER_MOSAIC)
        return ib_error(e, IB_EINVAL, "unknown gridder %d", p->gridder);
    if (p->gridder == IMG_GRIDDER_MOSAIC && !(p->pb_limit > 0 && p->pb_limit < 1))
        return ib_error(e, IB_EINVAL, "--pb-limit must be in (0, 1), got %g", p->pb_limit);
    if (p->gridder == IMG_GRIDDER_MOSAIC && !(p->aperture_cut > 0 && p->aperture_cut < 1))
        return ib_error(e, IB_EINVAL, "--aperture-cut must be in (0, 1), got %g", p->aperture_cut);
    if (p->mosaic_method < IMG_MOSAIC_APERTURE || p->mosaic_method > IMG_MOSAIC_AUTO)
        return ib_error(e, IB_EINVAL, "--mosaic-method must be aperture, facet or auto, got %d",
                        p->mosaic_method);
    if (p->aperture_oversample != 0 && (p->aperture_oversample < IMG_MIN_OVERSAMPLE ||
                                        p->aperture_oversample > IMG_MAX_OVERSAMPLE))
        return ib_error(e, IB_EINVAL,
                        "--aperture-oversample must be 0 (--oversample, else 128) or %d..%d "
                        "(table samples per cell), got %d",
                        IMG_MIN_OVERSAMPLE, IMG_MAX_OVERSAMPLE, p->aperture_oversample);
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
    if (p->oversample != 0 &&
        (p->oversample < IMG_MIN_OVERSAMPLE || p->oversample > IMG_MAX_OVERSAMPLE))
        return ib_error(e, IB_EINVAL,
                        "--oversample must be 0 (polynomial kernel) or %d..%d (table samples "
                        "per cell), got %d",
                        IMG_MIN_OVERSAMPLE, IMG_MAX_OVERSAMPLE, p->oversample);
    if (p->check_dft < 0 || p->check_dft > 100000)
        return ib_error(e, IB_EINVAL, "--check-dft must be 0..100000, got %d", p->check_dft);
    return 0;
}

/* Name of an AIPS/FITS Stokes code. */
static const char *stokes_name(int code)
{
    static const char *neg[] = {"", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX"};
    static const char *pos[] = {"", "I", "Q", "U", "V"};
    return code < 0 && code >= -8 ? neg[-code] : code > 0 && code <= 4 ? pos[code] : "?";
}

/* Where correlation code sits in the store (-1: not there). */
static int corr_index(const img_vis_meta *m, int code)
{
    for (int i = 0; i < m->npol; i++)
        if (m->corr[i] == code) return i;
    return -1;
}

/*
 * Plane code from the store's correlations into t: the correlation
 * itself, or a Stokes parameter from two correlations (IAU, AIPS memo
 * 114: XX = I+Q, YY = I-Q, XY = U+iV, YX = U-iV; RR = I+V, LL = I-V,
 * RL = Q+iU, LR = Q-iU). 0, or -1 when the store lacks what it needs.
 */
static int stokes_terms(const img_vis_meta *m, int code, struct img__stokes_term *t)
{
    memset(t, 0, sizeof *t);
    int i = corr_index(m, code);
    if (i >= 0) {
        *t = (struct img__stokes_term){1, {i, 0}, {1, 0}, {0, 0}};
        return 0;
    }
    /* per Stokes code: (a, b, coefficient of a, of b) for linear, then circular */
    static const struct { int a, b; double ar, ai, br, bi; } f[4][2] = {
        {{-5, -6, 0.5, 0, 0.5, 0}, {-1, -2, 0.5, 0, 0.5, 0}},     /* I */
        {{-5, -6, 0.5, 0, -0.5, 0}, {-3, -4, 0.5, 0, 0.5, 0}},    /* Q */
        {{-7, -8, 0.5, 0, 0.5, 0}, {-3, -4, 0, -0.5, 0, 0.5}},    /* U = -i (RL - LR) / 2 */
        {{-7, -8, 0, -0.5, 0, 0.5}, {-1, -2, 0.5, 0, -0.5, 0}},   /* V = -i (XY - YX) / 2 */
    };
    if (code < 1 || code > 4) return -1;
    for (int k = 0; k < 2; k++) {
        int a = corr_index(m, f[code - 1][k].a), b = corr_index(m, f[code - 1][k].b);
        if (a < 0 || b < 0) continue;
        *t = (struct img__stokes_term){2, {a, b}, {f[code - 1][k].ar, f[code - 1][k].br},
                                       {f[code - 1][k].ai, f[code - 1][k].bi}};
        return 0;
    }
    return -1;
}

/*
 * The image planes (--stokes) from the store's correlations: their
 * codes, in an order a FITS STOKES axis (CRVAL + k CDELT) can name, and
 * how each is formed. IB_EINVAL naming the option and what the store
 * holds when it cannot give them.
 */
static int plan_stokes(ib_err *e, img_plan *pl, const img_vis_meta *m)
{
    static const int sel[][2] = {{1, 0}, {2, 0}, {3, 0}, {4, 0}, {-5, -6}, {-1, -2},
                                 {-5, 0}, {-6, 0}, {-1, 0}, {-2, 0}};
    int codes[IMG_MAX_POL], n = 0;
    const int w = pl->p->stokes;
    if (w < 0 || w > IMG_STOKES_CORR)
        return ib_error(e, IB_EINVAL, "--stokes: unknown selection %d", w);
    if (w == IMG_STOKES_CORR) {
        for (int i = 0; i < m->npol; i++) codes[n++] = m->corr[i];
        /* XX, XY, YX, YY as an axis: -5 -6 -7 -8 */
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && codes[j] > codes[j - 1] && codes[j] < 0; j--) {
                int x = codes[j];
                codes[j] = codes[j - 1];
                codes[j - 1] = x;
            }
    } else {
        for (int k = 0; k < 2 && sel[w][k]; k++) codes[n++] = sel[w][k];
    }
    char held[64] = "";
    for (int i = 0; i < m->npol; i++)
        snprintf(held + strlen(held), sizeof held - strlen(held), "%s%s", i ? "," : "",
                 stokes_name(m->corr[i]));
    for (int o = 0; o < n; o++) {
        if (stokes_terms(m, codes[o], &pl->stokes[o]))
            return ib_error(e, IB_EINVAL,
                            "--stokes: store '%s' holds %s, which cannot give %s (use "
                            "--stokes corr for its own correlations)",
                            img_vis_path(pl->store), held, stokes_name(codes[o]));
        pl->stokes_code[o] = codes[o];
    }
    for (int o = 2; o < n; o++)
        if (codes[o] - codes[o - 1] != codes[1] - codes[0])
            return ib_error(e, IB_EINVAL,
                            "--stokes: the store's correlations %s are not evenly spaced codes, "
                            "which one FITS STOKES axis cannot name", held);
    pl->npol_in = m->npol;
    pl->npol = n;
    pl->stokes_identity = n == m->npol;
    for (int o = 0; o < n; o++)
        pl->stokes_identity &= pl->stokes[o].n == 1 && pl->stokes[o].in[0] == o;
    return 0;
}

/* The store opened; image size and cell, kernel, grid size, and the
 * mosaic's geometry (which may widen the grid). */
static int plan_geometry(ib_err *e, img_plan *pl)
{
    const img_params *p = pl->p;
    int rc = img_vis_open(e, p->vis_dir, &pl->store);
    if (rc) return rc;
    const img_vis_meta *m = img_vis_meta_get(pl->store);
    pl->head.meta = *m;
    pl->freq = img_vis_freq(pl->store);
    pl->nrow = m->nrow;
    pl->nchan = m->nchan;
    if ((rc = plan_stokes(e, pl, m))) return rc;
    pl->head.npol = pl->npol;
    pl->nx = p->nx ? p->nx : m->image_nx;
    pl->ny = p->ny ? p->ny : (p->nx ? p->nx : m->image_ny);
    double cell_as = p->cell_arcsec > 0 ? p->cell_arcsec : m->cell_arcsec;
    if (pl->nx < 2 || pl->ny < 2 || pl->nx % 2 || pl->ny % 2)
        return ib_error(e, IB_EINVAL, "image size %dx%d must be even and >= 2 (set --image)",
                        pl->nx, pl->ny);
    if (!(cell_as > 0))
        return ib_error(e, IB_EINVAL, "store '%s' suggests no cell size: set --cell ARCSEC",
                        img_vis_path(pl->store));
    pl->cell = cell_as * M_PI / (180.0 * 3600.0);
    if ((rc = img_kernel_init(e, &pl->kernel, p->support, p->padding, p->oversample))) return rc;
    const int W2 = 2 * pl->kernel.W;
    pl->ngx = img_good_fft_size((int)ceil(p->padding * pl->nx));
    pl->ngy = img_good_fft_size((int)ceil(p->padding * pl->ny));
    if (pl->ngx < W2 || pl->ngy < W2) {
        pl->ngx = img_good_fft_size(pl->ngx > W2 ? pl->ngx : W2);
        pl->ngy = img_good_fft_size(pl->ngy > W2 ? pl->ngy : W2);
    }
    pl->nfield = m->nfield;
    if ((rc = img__mosaic_setup(e, pl, m))) return rc;
    pl->head.nx = pl->nx;
    pl->head.ny = pl->ny;
    pl->head.ngx = pl->ngx;
    pl->head.ngy = pl->ngy;
    pl->head.cell_arcsec = cell_as;
    return 0;
}

/*
 * Chunks: near-equal channel ranges; never more chunks than channels.
 * The default is 4 channels a chunk (the store's chunking along channels,
 * so a slab is whole HDF5 chunks) and at least one chunk per thread of
 * every rank; with row chunks the rows give the parallelism. Small chunks
 * keep the working set in cache and leave a short tail: on the bench cube
 * 32 chunks image faster than 8, on one rank or two. Then this rank's
 * share of them (and of the row chunks), and the memory budget.
 */
static int plan_chunks(ib_err *e, img_plan *pl)
{
    const img_params *p = pl->p;
    const int tasks_at_once = p->threads * pl->par->size;
    pl->row_chunks =
        p->row_chunks > 1 ? (p->row_chunks < pl->nrow ? p->row_chunks : (int)pl->nrow) : 1;
    pl->nchunks = p->chunks > 0 ? p->chunks : (int)((pl->nchan + 3) / 4);
    if (p->chunks <= 0 && pl->row_chunks == 1 && pl->nchunks < tasks_at_once)
        pl->nchunks = tasks_at_once;
    if (pl->nchunks > pl->nchan) pl->nchunks = (int)pl->nchan;
    if (pl->nchunks < 1) pl->nchunks = 1; /* a store without channels: one empty chunk */
    pl->head.nchunks = pl->nchunks;
    pl->chunk_chan0 = ib_malloc(sizeof(int64_t) * ((size_t)pl->nchunks + 1));
    pl->corr_x = ib_malloc(sizeof(double) * (size_t)pl->nx);
    pl->corr_y = ib_malloc(sizeof(double) * (size_t)pl->ny);
    pl->pix_col = ib_malloc(sizeof(int32_t) * (size_t)pl->nx);
    pl->corr_xf = ib_malloc(sizeof(float) * (size_t)pl->nx);
    pl->pix_row = ib_malloc(sizeof(int32_t) * (size_t)pl->ny);
    pl->plane_peaks = ib_calloc((size_t)pl->nchan * (size_t)pl->npol, sizeof(float));
    pl->beam_mom = ib_calloc(4 * (size_t)pl->nchan * (size_t)pl->npol + 1, sizeof(double));
    if (!pl->chunk_chan0 || !pl->corr_x || !pl->corr_xf || !pl->corr_y || !pl->pix_col ||
        !pl->pix_row || !pl->plane_peaks || !pl->beam_mom)
        return ib_nomem(e, "for the plan's per-channel and per-pixel tables",
                        (double)(pl->nchunks + 1) * sizeof(int64_t) +
                            (double)(pl->nx + pl->ny) * (2 * sizeof(double) + sizeof(int32_t)) +
                            (double)pl->nchan * pl->npol * (sizeof(float) + 4 * sizeof(double)));
    for (int c = 0; c <= pl->nchunks; c++)
        pl->chunk_chan0[c] = (int64_t)c * pl->nchan / pl->nchunks;
    for (int c = 0; c < pl->nchunks; c++) {
        int64_t chans = pl->chunk_chan0[c + 1] - pl->chunk_chan0[c];
        if (chans > pl->max_chunk_chans) pl->max_chunk_chans = chans;
    }
    int rc = img__sched_assign(e, pl);
    if (rc) return rc;
    pl->slab_rows = pl->nrow;
    if (pl->row_chunks > 1) {
        /* Row chunks: M near-equal ranges of stored rows, this rank's
         * share, and the sizes of a chunk's summed grids. */
        if ((rc = img__rows_split(e, pl)) || (rc = img__sched_assign_rows(e, pl))) return rc;
        pl->grids_per_chan = p->psf ? 2 : 1;
        pl->grid_reals = (size_t)pl->ngx * (size_t)pl->ngy * (size_t)pl->npol * 2;
        pl->wsums_per_chan = (size_t)pl->npol * (pl->mosaic ? 1 + (size_t)pl->nfield : 1);
    }
    pl->head.row_chunks = pl->row_chunks;
    return img__budget_setup(e, pl);
}

/* Grid correction: 1 / FT of the kernel at each pixel's frequency, and the
 * FFT output column and row each pixel is read from. */
static void plan_correction(img_plan *pl)
{
    for (int x = 0; x < pl->nx; x++) {
        double c = img_kernel_ft(&pl->kernel, (double)(pl->nx / 2 - x) / pl->ngx);
        pl->corr_x[x] = 1.0 / c;
        pl->corr_xf[x] = (float)(1.0 / c);
        pl->pix_col[x] = ((pl->nx / 2 - x) % pl->ngx + pl->ngx) % pl->ngx;
    }
    for (int y = 0; y < pl->ny; y++) {
        double c = img_kernel_ft(&pl->kernel, (double)(y - pl->ny / 2) / pl->ngy);
        pl->corr_y[y] = 1.0 / c;
        pl->pix_row[y] = ((y - pl->ny / 2) % pl->ngy + pl->ngy) % pl->ngy;
    }
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
    free(w->mos_scratch);
    img__facet_worker_release(w);
    free(w->held);
    free(w->plane);
    free(w->sendbuf);
    free(w->events);
    ib_free(w->acc_grids);
    free(w->acc_wsum);
    free(w->acc_density);
}

/* The mosaic's per-thread buffers: kernel tables, field weights, beams,
 * the weight and mosaic planes. */
static int worker_init_mosaic(img_plan *pl, img__worker *w)
{
    const size_t nxy = (size_t)pl->nx * (size_t)pl->ny;
    w->field_wsum = ib_malloc(sizeof(double) * (size_t)pl->nfield * (size_t)pl->npol);
    w->weight_plane = ib_malloc(sizeof(float) * nxy);
    w->mosaic_plane = ib_malloc(sizeof(float) * nxy);
    w->beam2_x = ib_malloc(sizeof(float) * (size_t)pl->nfield * (size_t)pl->nx);
    w->beam2_y = ib_malloc(sizeof(float) * (size_t)pl->nfield * (size_t)pl->ny);
    int ok = w->field_wsum && w->weight_plane && w->mosaic_plane && w->beam2_x && w->beam2_y;
    if (ok && pl->facet) return img__facet_worker_init(w);
    if (ok) {
        /* aperture kernels: the tables of every distinct offset, the FFT
         * that makes them and the gridding loop's taps, all sized from the
         * support */
        const size_t ntab = 2 * ((size_t)pl->grid_support * (size_t)pl->ktab_over + 1);
        const size_t wt = (size_t)pl->grid_support;
        w->ktab_x = ib_malloc(sizeof(double) * ntab * (size_t)pl->n_offs_x);
        w->ktab_y = ib_malloc(sizeof(double) * ntab * (size_t)pl->n_offs_y);
        w->ktab_buf = fftw_malloc(sizeof(double) * 2 * (size_t)pl->ktab_fft_size);
        w->mos_scratch = ib_malloc(sizeof(double) * (4 * (size_t)pl->npol * wt + 2 * wt));
        ok = w->ktab_x && w->ktab_y && w->ktab_buf && w->mos_scratch;
    }
    return ok;
}

/* Thread id's buffers, sized for the largest task: slab, sample list,
 * grid (or, with row chunks, a chunk's summed grids and sums), half
 * spectrum, planes. */
static int worker_init(ib_err *e, img_plan *pl, img__worker *w, int id)
{
    const img_params *p = pl->p;
    const int weighted = p->weighting != IMG_WEIGHT_NATURAL;
    const int sends = p->serial_write && pl->par->rank != 0;
    const size_t real = p->dbl ? 8 : 4, cplx = 2 * real, nxy = (size_t)pl->nx * (size_t)pl->ny;
    memset(w, 0, sizeof *w);
    w->plan = pl;
    w->id = id;
    w->spill_fd = -1;
    size_t slab, ng;
    if (ib_mul3_size((size_t)pl->slab_rows, (size_t)pl->max_chunk_chans, (size_t)pl->npol_in, &slab) ||
        ib_mul_size((size_t)pl->ngx, (size_t)pl->ngy, &ng) || slab > ((size_t)1 << 40))
        return ib_error(e, IB_EOVERFLOW, "chunk of %lld rows x %lld channels is too large",
                        (long long)pl->slab_rows, (long long)pl->max_chunk_chans);
    /* The big buffers on huge pages: each rank faults them in once. */
    w->vis = ib_alloc_huge(slab * 8);
    w->weight = ib_alloc_huge(slab * 4);
    w->flag = ib_alloc_huge(slab);
    w->list = img__list_alloc(pl->slab_rows, pl->npol, p->dbl);
    w->plane = ib_malloc(sizeof(float) * nxy);
    if (weighted) w->density = ib_malloc(sizeof(float) * nxy);
    if (sends) w->sendbuf = ib_malloc(sizeof(float) * (nxy + 4));
    int ok = w->vis && w->weight && w->flag && w->list && w->plane && (!weighted || w->density) &&
             (!sends || w->sendbuf);
    /* The facet method grids on its facets: the full grid, its half
     * spectrum and FFT serve only the PSF. */
    const int full_grid = !pl->facet || p->psf;
    if (ok && pl->row_chunks == 1 && full_grid) {
        size_t ngp = ng * (size_t)pl->npol;
        w->grid = ib_alloc_huge(ngp * cplx + IMG_GRID_SLACK);
        ok = w->grid != NULL;
        if (ok) memset(w->grid, 0, ngp * cplx + IMG_GRID_SLACK);
        w->vlo = w->vhi = 0;
    } else if (ok && pl->row_chunks > 1) {
        /* Row chunks: the chunk's grids and sums (sizes checked by
         * img__budget_setup's arithmetic). */
        size_t nc = (size_t)pl->max_chunk_chans;
        size_t acc = nc * (size_t)pl->grids_per_chan * pl->grid_reals * real;
        w->acc_grids = ib_alloc_huge(acc + IMG_GRID_SLACK);
        if (w->acc_grids) memset((char *)w->acc_grids + acc, 0, IMG_GRID_SLACK);
        w->acc_wsum = ib_malloc(sizeof(double) * nc * pl->wsums_per_chan);
        if (weighted) w->acc_density = ib_malloc(sizeof(float) * nc * nxy);
        ok = w->acc_grids && w->acc_wsum && (!weighted || w->acc_density);
    }
    if (ok && full_grid) {
        w->half = ib_alloc_huge((size_t)pl->ngy * (size_t)(pl->ngx / 2 + 1) * cplx);
        ok = w->half != NULL;
    }
    if (ok && pl->mosaic) ok = worker_init_mosaic(pl, w);
    if (!ok)
        return ib_error(e, IB_ENOMEM,
                        "out of memory for thread %d's buffers (slab %zu samples, grid %dx%d)",
                        id, slab, pl->ngx, pl->ngy);
    return 0;
}

/* Every thread's buffers; with row chunks the barrier the threads meet at. */
static int plan_workers(ib_err *e, img_plan *pl)
{
    const int nthreads = pl->p->threads;
    pl->workers = ib_calloc((size_t)nthreads, sizeof *pl->workers);
    if (!pl->workers)
        return ib_nomem(e, "for the workers' records", (double)nthreads * sizeof *pl->workers);
    pl->nworkers = nthreads;
    for (int i = 0; i < nthreads; i++) {
        int rc = worker_init(e, pl, &pl->workers[i], i);
        if (rc) return rc;
    }
    if (pl->row_chunks > 1) {
        if (pthread_barrier_init(&pl->barrier, NULL, (unsigned)nthreads) != 0)
            return ib_error(e, IB_ENOMEM, "cannot create the threads' barrier");
        pl->barrier_on = 1;
    }
    return 0;
}

/* The plan's steps, timed by phase on the plan's own timer. */
static int plan_steps(ib_err *e, img_plan *pl)
{
    prof_timer *t = &pl->setup_timer;
    prof_timer_switch(t, PROF_READ);
    int rc = plan_geometry(e, pl);
    if (!rc) rc = plan_chunks(e, pl);
    if (!rc) rc = img__rows_load(e, pl);
    if (!rc && pl->row_chunks > 1) rc = img__rows_group(e, pl);
    if (rc) return rc;
    prof_timer_switch(t, PROF_CORRECT);
    plan_correction(pl);
    /* One c2r plan for every thread's buffers (FFTW's new-array execute),
     * measured once and remembered in the wisdom file. */
    prof_timer_switch(t, PROF_FFT);
    if ((rc = img__fft_plan(e, pl))) return rc;
    prof_timer_switch(t, PROF_OTHER);
    return plan_workers(e, pl);
}

int img__plan_build(ib_err *e, const img_params *p, img_plan **out)
{
    *out = NULL;
    int rc = validate(e, p);
    if (rc) return rc;
    double t0 = ib_now();
    img_plan *pl = ib_calloc(1, sizeof *pl);
    if (!pl) return ib_error(e, IB_ENOMEM, "out of memory for the plan");
    *out = pl;
    pl->p = p;
    pl->solo.size = 1;
    pl->par = p->par ? p->par : &pl->solo;
    img__comm_init(&pl->comm, pl->par);
    pthread_mutex_init(&pl->err_lock, NULL);
    pthread_mutex_init(&pl->mem_lock, NULL);
    pthread_mutex_init(&pl->beam_lock, NULL);
    pthread_cond_init(&pl->mem_cond, NULL);
    pl->head.dft_max_rel_err = pl->head.dft_rms_rel_err = -1;
    prof_timer_init(&pl->setup_timer);
    rc = plan_steps(e, pl);
    prof_timer_stop(&pl->setup_timer);
    pl->create_s = ib_now() - t0;
    return rc;
}

int img_plan_create(ib_err *e, const img_params *p, img_plan **out)
{
    int rc = img__plan_build(e, p, out);
    if (rc) {
        img_plan_destroy(*out);
        *out = NULL;
    }
    return rc;
}

void img_plan_destroy(img_plan *pl)
{
    if (!pl) return;
    for (int i = 0; i < pl->nworkers; i++) worker_release(&pl->workers[i], pl->p->dbl);
    free(pl->workers);
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
    img__facet_destroy(pl);
    free(pl->u_m);
    free(pl->v_m);
    free(pl->corr_x);
    free(pl->corr_y);
    free(pl->corr_xf);
    free(pl->pix_col);
    free(pl->pix_row);
    free(pl->chunk_chan0);
    free(pl->plane_peaks);
    free(pl->beam_mom);
    free(pl->beams);
    pthread_mutex_destroy(&pl->beam_lock);
    img__fft_destroy(pl);
    img__cubes_abort(pl);
    img_vis_close(NULL, pl->store);
    free(pl->my_chunks);
    free(pl->row_chunk0);
    free(pl->rows_by_chunk);
    free(pl->rows_by_chunk_start);
    free(pl->my_row_chunks);
    free(pl->row_task_next);
    if (pl->barrier_on) pthread_barrier_destroy(&pl->barrier);
    img__comm_release(&pl->comm);
    pthread_mutex_destroy(&pl->mem_lock);
    pthread_cond_destroy(&pl->mem_cond);
    img__spill_dir_remove(pl);
    pthread_mutex_destroy(&pl->err_lock);
    free(pl);
}
