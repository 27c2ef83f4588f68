/*
 * chunk.c: a channel chunk as one task (the default, --row-chunks 1).
 * A worker thread takes chunks from the schedule; for each it reads the
 * chunk's slab of every row, and for each channel builds the weighted
 * sample list, then grids, transforms and writes (or holds) the dirty and
 * PSF planes; under a memory budget the chunk's planes commit at its end.
 */
#include "imaging/plan_internal.h"

/* Channel chunk c: its slab of every row, then channel by channel the
 * sample list, the dirty (and PSF) planes; under a budget the commit. */
static int chunk_task_body(img__worker *w, int c)
{
    img_plan *pl = w->plan;
    int64_t c0 = pl->chunk_chan0[c], nc = pl->chunk_chan0[c + 1] - c0;
    ib_err e;
    ib_err_init(&e);
    img__phase(w, PROF_READ);
    w->cur_chunk = c;
    w->cur_chan = (int32_t)c0;
    int rc = img_vis_read_chans(&e, pl->store, 0, pl->nrow, c0, nc, w->vis, w->weight, w->flag,
                               &w->bytes_read);
    if (rc) {
        img__fail(pl, &e);
        return rc;
    }
    for (int64_t cc = 0; cc < nc && !atomic_load(&pl->failed); cc++) {
        double sumw[IMG_MAX_POL] = {0};
        img__phase(w, PROF_WEIGHT);
        w->cur_chan = (int32_t)(c0 + cc);
        int64_t n;
        if (pl->p->dbl) {
            img__list_build_d(pl, w->vis, w->weight, w->flag, cc, c0 + cc, w->list, w->density,
                              sumw, &w->dropped);
            n = ((img__list_d *)w->list)->n;
        } else {
            img__list_build_f(pl, w->vis, w->weight, w->flag, cc, c0 + cc, w->list, w->density,
                              sumw, &w->dropped);
            n = ((img__list_f *)w->list)->n;
        }
        w->samples += (uint64_t)n * (uint64_t)pl->npol;
        img__beam_add(pl, w->list, c0 + cc);
        if (pl->mosaic) {
            img__phase(w, PROF_KERNEL);
            img__mosaic_kernels(w, c0 + cc);
            img__mosaic_field_weights(w);
        }
        if (pl->facet) rc = img__facet_product(w, c0 + cc, sumw);
        else rc = img__image_product(w, c0 + cc, sumw, IMG_PROD_DIRTY);
        if (rc) return rc;
        if (pl->p->psf && (rc = img__image_product(w, c0 + cc, sumw, IMG_PROD_PSF))) return rc;
    }
    return pl->budget ? img__chunk_commit(w) : 0;
}

/* Channel chunk c, and its figures published as software-defined events. */
static int chunk_task(img__worker *w, int c)
{
    const int64_t nc = w->plan->chunk_chan0[c + 1] - w->plan->chunk_chan0[c];
    uint64_t s0 = w->samples, b0 = w->bytes_read, sp0 = w->spill_bytes, f0 = w->spill_files;
    int rc = chunk_task_body(w, c);
    if (!rc) img__sde_task(w, s0, b0, sp0, f0, nc);
    return rc;
}

void *img__chunk_thread(void *arg)
{
    img__worker *w = arg;
    prof_papi *papi = w->plan->p->papi;
    prof_timer_init(&w->timer);
    prof_papi_thread_init(&w->papi_thread);
    if (papi) prof_papi_thread_start(NULL, papi, &w->papi_thread); /* unavailable: a no-op */
    for (;;) {
        if (atomic_load(&w->plan->failed)) break;
        img__wait_for_memory(w);
        int c = img__next_chunk(w);
        if (c < 0) break;
        if (chunk_task(w, c)) break;
    }
    img__phase(w, -1);
    if (papi) {
        prof_papi_thread_stop(NULL, papi, &w->papi_thread, NULL);
        prof_papi_thread_release(papi, &w->papi_thread);
    }
    return NULL;
}
