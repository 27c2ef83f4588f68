/*
 * rowchunk.c: channel chunks imaged in rounds of row tasks (--row-chunks
 * M > 1). A chunk's M row tasks (rows [row_chunk0[j], row_chunk0[j+1]) x
 * the chunk's channels) are spread over the ranks' threads; each thread
 * adds its tasks' samples to its own grids, the threads' grids are summed,
 * the ranks' grids are reduced onto the chunk's owner rank, whose threads
 * FFT and write the planes. Uniform and Briggs weights need the density of
 * every row first: a density pass of the same tasks runs before, its sums
 * reduced on every rank.
 */
#include "imaging/plan_internal.h"

#include <string.h>

/* Grid g (0 dirty, 1 PSF) of channel i of the chunk in accumulator acc. */
static void *acc_grid(const img_plan *pl, void *acc, int64_t i, int g)
{
    size_t es = pl->p->dbl ? 8 : 4;
    size_t grid = (size_t)i * (size_t)pl->grids_per_chan + (size_t)g;
    return (char *)acc + grid * pl->grid_reals * es;
}

/*
 * Row task j of channel chunk c: read its slab; pass 0 adds each channel's
 * density to the thread's sums, pass 1 weights (with the reduced density)
 * and grids each channel into the thread's grids.
 */
static int row_task(img__worker *w, int pass, int c, int j)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol;
    const int64_t c0 = pl->chunk_chan0[c], nc = pl->chunk_chan0[c + 1] - c0;
    const int64_t r0 = pl->row_chunk0[j], nr = pl->row_chunk0[j + 1] - r0;
    const int64_t *pos = pl->rows_by_chunk + pl->rows_by_chunk_start[j];
    const int64_t npos = pl->rows_by_chunk_start[j + 1] - pl->rows_by_chunk_start[j];
    const size_t nxy = (size_t)pl->nx * (size_t)pl->ny;
    const int natural = pl->p->weighting == IMG_WEIGHT_NATURAL;
    ib_err e;
    ib_err_init(&e);
    img__phase(w, PROF_READ);
    w->cur_chunk = c * pl->row_chunks + j;
    w->cur_chan = (int32_t)c0;
    int rc = img_vis_read_chans(&e, pl->store, r0, nr, c0, nc, w->vis, w->weight, w->flag,
                                &w->bytes_read);
    if (rc) {
        img__fail(pl, &e);
        return rc;
    }
    uint64_t dropped = 0;
    for (int64_t i = 0; i < nc && !atomic_load(&pl->failed); i++) {
        const int64_t chan = c0 + i;
        img__phase(w, PROF_WEIGHT);
        w->cur_chan = (int32_t)chan;
        double sumw[IMG_MAX_POL] = {0};
        const float *rank_density = pl->workers[0].acc_density; /* reduced over the ranks */
        const float *dens = rank_density ? rank_density + (size_t)i * nxy : NULL;
        int64_t n;
        if (pl->p->dbl) {
            img__list_d *L = w->list;
            img__list_samples_d(pl, w->vis, w->weight, w->flag, i, chan, pos, npos, r0, nr, L,
                                &dropped, pass == 1 && natural ? sumw : NULL);
            if (pass == 0) img__density_add_d(pl, L, chan, w->acc_density + (size_t)i * nxy);
            else if (!natural) img__list_weigh_d(pl, L, chan, dens, sumw);
            n = L->n;
        } else {
            img__list_f *L = w->list;
            img__list_samples_f(pl, w->vis, w->weight, w->flag, i, chan, pos, npos, r0, nr, L,
                                &dropped, pass == 1 && natural ? sumw : NULL);
            if (pass == 0) img__density_add_f(pl, L, chan, w->acc_density + (size_t)i * nxy);
            else if (!natural) img__list_weigh_f(pl, L, chan, dens, sumw);
            n = L->n;
        }
        if (pass == 0) continue;
        w->samples += (uint64_t)n * (uint64_t)npol;
        img__beam_add(pl, w->list, chan);
        double *aw = w->acc_wsum + (size_t)i * pl->wsums_per_chan;
        for (int p = 0; p < npol; p++) aw[p] += sumw[p];
        if (pl->mosaic) {
            img__phase(w, PROF_KERNEL);
            img__mosaic_kernels(w, chan);
            img__mosaic_field_weights(w);
            for (size_t q = 0; q < (size_t)pl->nfield * (size_t)npol; q++)
                aw[npol + q] += w->field_wsum[q];
        }
        img__phase(w, PROF_GRID);
        for (int g = 0; g < pl->grids_per_chan; g++) {
            int vlo = pl->ngy, vhi = 0;
            img__grid_list(w, chan, g ? IMG_PROD_PSF : IMG_PROD_DIRTY,
                           acc_grid(pl, w->acc_grids, i, g), &vlo, &vhi);
        }
    }
    if (pass == 1) w->dropped += dropped;
    return 0;
}

/* Every thread of the rank meets here (time waiting is the wait phase). */
static void rows_sync(img__worker *w)
{
    img__phase(w, PROF_WAIT);
    pthread_barrier_wait(&w->plan->barrier);
}

/* Thread w's slice of n values: every thread's buffer (the one buf
 * selects) added into thread 0's. */
static void sum_slice(img__worker *w, size_t n, int dbl, void *(*buf)(img__worker *))
{
    img_plan *pl = w->plan;
    const int T = pl->p->threads;
    size_t a = n * (size_t)w->id / (size_t)T, b = n * ((size_t)w->id + 1) / (size_t)T;
    if (dbl) {
        double *dst = buf(&pl->workers[0]);
        for (int t = 1; t < T; t++) {
            const double *src = buf(&pl->workers[t]);
            for (size_t i = a; i < b; i++) dst[i] += src[i];
        }
    } else {
        float *dst = buf(&pl->workers[0]);
        for (int t = 1; t < T; t++) {
            const float *src = buf(&pl->workers[t]);
            for (size_t i = a; i < b; i++) dst[i] += src[i];
        }
    }
}

static void *buf_acc(img__worker *w) { return w->acc_grids; }

static void *buf_accd(img__worker *w) { return w->acc_density; }

static void *buf_accw(img__worker *w) { return w->acc_wsum; }

/* Thread 0: the rank's sums onto their destination ranks (root < 0: all). */
static int rows_reduce(img__worker *w, void *buf, size_t n, int dbl, int root)
{
    img_plan *pl = w->plan;
    ib_err e;
    ib_err_init(&e);
    img__phase(w, PROF_COMM);
    int rc = img__reduce_sum(&e, &pl->comm, buf, n, dbl, root);
    if (rc) img__fail(pl, &e);
    return rc;
}

/* The task loop of one pass over channel chunk c. */
static void rows_pass(img__worker *w, int pass, int c)
{
    img_plan *pl = w->plan;
    while (!atomic_load(&pl->failed)) {
        int j = img__next_row_task(w, pass, c);
        uint64_t s0 = w->samples, b0 = w->bytes_read;
        if (j < 0 || row_task(w, pass, c, j)) break;
        /* the software-defined events: once per task, planes at their write */
        img__sde_task(w, s0, b0, w->spill_bytes, w->spill_files, 0);
    }
}

static void *rows_main(void *arg)
{
    img__worker *w = arg;
    img_plan *pl = w->plan;
    prof_papi *papi = pl->p->papi;
    const int T = pl->p->threads, dbl = pl->p->dbl, me = pl->par->rank;
    const size_t es = dbl ? 8 : 4, nxy = (size_t)pl->nx * (size_t)pl->ny;
    prof_timer_init(&w->timer);
    prof_papi_thread_init(&w->papi_thread);
    if (papi) prof_papi_thread_start(NULL, papi, &w->papi_thread);
    for (int c = 0; c < pl->nchunks; c++) {
        const int64_t c0 = pl->chunk_chan0[c], nc = pl->chunk_chan0[c + 1] - c0;
        const size_t ngrid = (size_t)nc * (size_t)pl->grids_per_chan * pl->grid_reals;
        const int owner = img__chunk_owner(pl, c);
        if (w->acc_density) {
            memset(w->acc_density, 0, sizeof(float) * (size_t)nc * nxy);
            rows_pass(w, 0, c);
            rows_sync(w);
            img__phase(w, PROF_WEIGHT);
            w->cur_chunk = -1;
            if (!atomic_load(&pl->failed)) sum_slice(w, (size_t)nc * nxy, 0, buf_accd);
            rows_sync(w);
            if (w->id == 0 && !atomic_load(&pl->failed))
                rows_reduce(w, w->acc_density, (size_t)nc * nxy, 0, -1);
            rows_sync(w);
        }
        memset(w->acc_grids, 0, ngrid * es);
        memset(w->acc_wsum, 0, sizeof(double) * (size_t)nc * pl->wsums_per_chan);
        rows_pass(w, 1, c);
        rows_sync(w);
        img__phase(w, PROF_GRID);
        w->cur_chunk = -1;
        if (!atomic_load(&pl->failed)) {
            sum_slice(w, ngrid, dbl, buf_acc);
            sum_slice(w, (size_t)nc * pl->wsums_per_chan, 1, buf_accw);
        }
        rows_sync(w);
        if (w->id == 0 && !atomic_load(&pl->failed) &&
            !rows_reduce(w, w->acc_grids, ngrid, dbl, owner))
            rows_reduce(w, w->acc_wsum, (size_t)nc * pl->wsums_per_chan, 1, owner);
        rows_sync(w);
        /* The owner's threads share its planes: FFT, correct, write. */
        for (size_t k = (size_t)w->id; me == owner && k < (size_t)nc * (size_t)pl->grids_per_chan &&
                                       !atomic_load(&pl->failed);
             k += (size_t)T) {
            int64_t i = (int64_t)(k / (size_t)pl->grids_per_chan);
            int g = (int)(k % (size_t)pl->grids_per_chan);
            const double *aw = pl->workers[0].acc_wsum + (size_t)i * pl->wsums_per_chan;
            img__phase(w, pl->mosaic && g == 0 ? PROF_KERNEL : PROF_FFT);
            w->cur_chunk = -1;
            w->cur_chan = (int32_t)(c0 + i);
            if (pl->mosaic && g == 0) {
                img__mosaic_kernels(w, c0 + i);
                memcpy(w->field_wsum, aw + pl->npol,
                       sizeof(double) * (size_t)pl->nfield * (size_t)pl->npol);
            }
            if (img__product_planes(w, c0 + i, aw, g ? IMG_PROD_PSF : IMG_PROD_DIRTY,
                            acc_grid(pl, pl->workers[0].acc_grids, i, g), 0, pl->ngy, 1, 0))
                break;
        }
        rows_sync(w);
        if (w->id == 0) pl->stop = atomic_load(&pl->failed);
        rows_sync(w);
        if (pl->stop) break;
    }
    img__phase(w, -1);
    if (papi) {
        prof_papi_thread_stop(NULL, papi, &w->papi_thread, NULL);
        prof_papi_thread_release(papi, &w->papi_thread);
    }
    return NULL;
}

/* A row-chunk thread waits until every thread exists (gate 1) or the
 * start failed (gate -1: it leaves before any barrier). */
void *img__rows_thread(void *arg)
{
    img__worker *w = arg;
    img_plan *pl = w->plan;
    pthread_mutex_lock(&pl->mem_lock);
    while (pl->gate == 0) pthread_cond_wait(&pl->mem_cond, &pl->mem_lock);
    int go = pl->gate > 0;
    pthread_mutex_unlock(&pl->mem_lock);
    return go ? rows_main(arg) : NULL;
}
