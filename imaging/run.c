/*
 * run.c: executing a plan. img_plan_execute resets the plan's per-run
 * state, has rank 0 create the cubes (the other ranks open them after a
 * barrier, which is the run's time origin), starts rank 0's service thread
 * when the schedule needs one and the worker threads, which stream the
 * chunks through the plan's buffers, then seals the cubes, writes
 * tasks.csv, gathers every rank's figures on rank 0 and runs the DFT
 * check. img_run is plan, execute and destroy in one call.
 */
#include "imaging/plan_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void img__fail(img_plan *pl, const ib_err *e)
{
    pthread_mutex_lock(&pl->err_lock);
    if (!atomic_load(&pl->failed)) pl->err = *e;
    atomic_store(&pl->failed, 1);
    pthread_mutex_unlock(&pl->err_lock);
}

/* The state one execution changes, back to where the plan left it. */
static void exec_reset(img_plan *pl)
{
    const int N = pl->par->size;
    atomic_store(&pl->failed, 0);
    ib_err_init(&pl->err);
    /* dynamic: the first round is dealt without messages */
    int first = pl->p->schedule == IMG_SCHED_DYNAMIC && N > 1 ? N * pl->p->threads : 0;
    atomic_store(&pl->next_chunk, first);
    atomic_store(&pl->my_next_chunk, 0);
    for (int i = 0; pl->row_task_next && i < 2 * pl->nchunks; i++)
        atomic_store(&pl->row_task_next[i], 0);
    pl->stop = 0;
    pl->gate = 0;
    pl->tracked = pl->peak_tracked = pl->base_bytes;
    pl->holders = 0;
    memset(pl->plane_peaks, 0, sizeof(float) * (size_t)pl->nchan * (size_t)pl->npol);
    memset(pl->beam_mom, 0, sizeof(double) * 4 * (size_t)pl->nchan * (size_t)pl->npol);
    memset(&pl->comm.st, 0, sizeof pl->comm.st);
    for (int i = 0; i < pl->nworkers; i++) {
        img__worker *w = &pl->workers[i];
        w->samples = w->dropped = w->bytes_read = 0;
        w->cur_chunk = w->cur_chan = 0;
        w->nevents = 0;
        w->events_dropped = 0;
        w->sched_s = 0;
        w->ntasks = 0;
        w->spill_bytes = w->spill_files = 0;
        w->spill_write_s = w->spill_read_s = 0;
        w->req_pending = w->started = w->no_more = 0;
    }
}

/* Start the threads (rank 0's service thread when the schedule needs it),
 * wait for the workers, and with the service thread tell rank 0 this rank
 * is done and wait for it. *started: worker threads that ran. */
static int exec_threads(ib_err *e, img_plan *pl, int *started)
{
    const img_params *p = pl->p;
    const int root = pl->par->rank == 0, N = pl->par->size, nthreads = pl->nworkers;
    const int service = N > 1 && (p->schedule == IMG_SCHED_DYNAMIC || p->serial_write);
    int rc = 0;
    *started = 0;
    if (root && service) {
        int err = pthread_create(&pl->server, NULL, img__sched_serve, pl);
        if (err) return ib_thread_error(e, err, "rank 0's service thread", 1, 1);
        pl->server_on = 1;
    }
    /* Row chunks: the threads meet at barriers, so all of them start (or
     * none work): they wait at the gate until all exist. */
    void *(*thread_main)(void *) = pl->row_chunks > 1 ? img__rows_thread : img__chunk_thread;
    for (int i = 0; i < nthreads; i++) {
        int err = ib_fail_thread(i) ? EAGAIN
                  : pthread_create(&pl->workers[i].tid, NULL, thread_main, &pl->workers[i]);
        if (err) {
            rc = ib_thread_error(e, err, "worker thread", i + 1, nthreads);
            break;
        }
        ++*started;
    }
    if (pl->row_chunks > 1) {
        pthread_mutex_lock(&pl->mem_lock);
        pl->gate = rc ? -1 : 1;
        pthread_cond_broadcast(&pl->mem_cond);
        pthread_mutex_unlock(&pl->mem_lock);
    }
    if (rc) atomic_store(&pl->failed, 1);
    for (int i = 0; i < *started; i++) pthread_join(pl->workers[i].tid, NULL);
    if (!rc && atomic_load(&pl->failed)) {
        *e = pl->err;
        rc = pl->err.code ? pl->err.code : IB_EIO;
    }
    if (rc) return rc; /* multi-rank callers abort the job on any error */
    if (service && !root) {
        int32_t x = 0;
        if ((rc = img__send(e, &pl->comm, &x, sizeof x, 0, IMG__TAG_DONE))) return rc;
    }
    if (pl->server_on) {
        pthread_join(pl->server, NULL);
        pl->server_on = 0;
        if (atomic_load(&pl->failed)) {
            *e = pl->err;
            return pl->err.code ? pl->err.code : IB_EMPI;
        }
    }
    return 0;
}

/* The figures a failed run still reports: what the plan decided, the
 * phases timed so far, the wall time and the peak RSS. */
static void result_partial(img_result *res, const prof_timer *main_t, double wall)
{
    if (!res->ranks)
        for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
            res->phase_wall[i] = main_t->wall[i];
            res->phase_cpu[i] = main_t->cpu[i];
        }
    if (!res->wall_seconds) res->wall_seconds = wall;
    if (!res->peak_rss_bytes) {
        prof_rusage ru;
        prof_rusage_get(&ru);
        res->peak_rss_bytes = ru.max_rss_bytes;
    }
}

/* Rank 0, every rank's counts summed: cubes of zeros because no sample
 * reached a grid (all off the grid, or all flagged or of weight <= 0) are
 * an error naming the counts, not a result. */
static int nothing_gridded(ib_err *e, const img_plan *pl, const img_result *res)
{
    if (res->samples_gridded > 0) return 0;
    const uint64_t total = (uint64_t)pl->nrow * (uint64_t)pl->nchan * (uint64_t)pl->npol;
    const uint64_t off = res->samples_dropped, unweighted = total > off ? total - off : 0;
    return ib_error(e, IB_EINVAL,
                    "no sample reached the grid, the cubes would be all zeros: of %llu samples "
                    "(%lld rows x %lld channels x %d image planes), %llu fall outside the "
                    "%dx%d grid at cell %.4g arcsec (a smaller --cell keeps them) and %llu are "
                    "flagged or have weight <= 0",
                    (unsigned long long)total, (long long)pl->nrow, (long long)pl->nchan,
                    pl->npol, (unsigned long long)off, pl->ngx, pl->ngy,
                    pl->cell * 180.0 / 3.14159265358979323846 * 3600.0,
                    (unsigned long long)unweighted);
}

/* After the workers: the cubes sealed, plane peaks reduced, tasks.csv
 * written, every rank's figures on rank 0 and the DFT check there.
 * *sealed: rank 0 has sealed the cubes (they are in place). */
static int exec_finish(ib_err *e, img_plan *pl, prof_timer *main_t, double t0, img_result *res,
                       int *sealed)
{
    const size_t nplanes = (size_t)pl->nchan * (size_t)pl->npol;
    /* The beams (every rank's sums on rank 0) go into the cubes' headers;
     * every rank's planes are on disk before rank 0 seals the cubes. */
    prof_timer_switch(main_t, PROF_WRITE);
    int rc = img__beams_finish(e, pl);
    if (!rc) rc = img__cubes_seal(e, pl, &res->bytes_written, sealed);
    prof_timer_stop(main_t);
    if (rc) return rc;
    if ((rc = img__reduce_max_float(e, &pl->comm, pl->plane_peaks, (int)nplanes))) return rc;
    for (size_t i = 0; i < nplanes; i++)
        if (pl->plane_peaks[i] > res->image_peak) res->image_peak = pl->plane_peaks[i];
    res->wall_seconds = pl->create_s + (ib_now() - t0);
    /* Task events, then statistics of every rank, on rank 0 (the counters
     * include the event gathering; the statistics gather itself is the one
     * collective they cannot count). */
    if ((rc = img__tasks_write(e, pl, pl->workers, pl->nworkers, res))) return rc;
    if ((rc = img__stats_gather(e, pl, main_t, res))) return rc;
    if (pl->par->rank == 0 && (rc = nothing_gridded(e, pl, res))) return rc;
    if (pl->par->rank == 0 && pl->p->check_dft > 0) {
        char path[4096];
        if (!(rc = ib_path_join(e, path, sizeof path, pl->p->out_dir, "dirty.fits")))
            rc = img__check_dft(e, pl, path, res);
    }
    return rc;
}

int img_plan_execute(ib_err *e, img_plan *pl, img_result *res)
{
    const double t0 = ib_now();
    *res = pl->head;
    prof_timer main_t = pl->setup_timer; /* the plan's phases, then this run's */
    int started = 0, sealed = 0;
    exec_reset(pl);
    prof_timer_switch(&main_t, PROF_WRITE);
    /* Rank 0 creates and sizes the cubes; with parallel writes the other
     * ranks then open them and write their own planes. */
    int rc = img__cubes_create(e, pl);
    if (!rc) rc = img__barrier(e, &pl->comm);
    if (!rc) {
        pl->origin = ib_now();
        pl->setup_s = pl->create_s + (pl->origin - t0);
        rc = img__cubes_open(e, pl);
    }
    prof_timer_stop(&main_t); /* waiting for the workers is not a phase */
    if (!rc) rc = exec_threads(e, pl, &started);
    if (!rc) {
        for (int i = 0; i < started; i++) {
            res->samples_gridded += pl->workers[i].samples;
            res->samples_dropped += pl->workers[i].dropped;
            res->bytes_read += pl->workers[i].bytes_read;
        }
        /* grid: npol complex per cell; half: one pol's Hermitian spectrum */
        res->grid_bytes_per_thread =
            ((double)pl->ngx * pl->ngy * pl->npol + (double)pl->ngy * (pl->ngx / 2 + 1)) *
            (pl->p->dbl ? 16 : 8);
        if (pl->facet) /* a facet grid, its half spectrum (and the full grid for the PSF) */
            res->grid_bytes_per_thread =
                (pl->p->psf ? res->grid_bytes_per_thread : 0) +
                ((double)pl->facet_ng * pl->facet_ng * pl->npol +
                 (double)pl->facet_ng * (pl->facet_ng / 2 + 1)) * (pl->p->dbl ? 16 : 8);
        res->plan_seconds = pl->plan_seconds;
        rc = exec_finish(e, pl, &main_t, t0, res, &sealed);
    }
    /* A run that fails after sealing its cubes (task events, statistics,
     * the DFT check) leaves no complete-looking products either. */
    if (rc && sealed) img__cubes_remove(pl);
    img__cubes_abort(pl);
    result_partial(res, &main_t, pl->create_s + (ib_now() - t0));
    if (pl->server_on) {
        /* Only reached on an error: the caller aborts the MPI job, which
         * ends the service thread's blocking probe. */
        pthread_detach(pl->server);
        pl->server_on = 0;
    }
    for (int i = 0; i < pl->nworkers; i++) img__held_release(&pl->workers[i]);
    return rc;
}

int img_run(ib_err *e, const img_params *p, img_result *res)
{
    img_plan *pl = NULL;
    int rc = img__plan_build(e, p, &pl);
    if (!rc) {
        rc = img_plan_execute(e, pl, res);
    } else {
        memset(res, 0, sizeof *res);
        res->dft_max_rel_err = res->dft_rms_rel_err = -1;
        if (pl) {
            *res = pl->head;
            result_partial(res, &pl->setup_timer, pl->create_s);
        }
    }
    img_plan_destroy(pl);
    return rc;
}

void img_result_release(img_result *r)
{
    free(r->ranks);
    r->ranks = NULL;
}
