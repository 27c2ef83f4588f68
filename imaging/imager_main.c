/*
 * imager_main.c: the `imager` program — options (the cell parameters
 * from the parameter table, common/params.h, plus where to read and
 * write), one imaging run, the stats record and a one-screen summary.
 */
#include "common/params.h"
#include "imaging/imaging.h"
#include "profiles/profiles.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- options ----------------------------------------------------------- */

/* Where each parameter lands in img_params (IB_IMG in the table). A word's
 * index is the enum's value, a BOOL is 0/1 in an int. */
typedef struct landing {
    size_t off, size;
    int used;
} landing;

#define LAND_IB_IMG(member) {offsetof(img_params, member), sizeof(((img_params *)0)->member), 1}
#define LAND_IB_NOIMG {0, 0, 0}
static const landing landings[IB_NPARAM] = {
#define IMG_LANDING(id, name, where, ...) [IB_P_##id] = LAND_##where,
    IB_PARAM_MAP(IMG_LANDING)
#undef IMG_LANDING
};
#undef LAND_IB_IMG
#undef LAND_IB_NOIMG

/* The words of the table are the enums' values, in order. */
_Static_assert(IMG_GRIDDER_STANDARD == 0 && IMG_GRIDDER_MOSAIC == 1, "gridder words");
_Static_assert(IMG_MOSAIC_APERTURE == 0 && IMG_MOSAIC_FACET == 1 && IMG_MOSAIC_AUTO == 2,
               "mosaic method words");
_Static_assert(IMG_WEIGHT_NATURAL == 0 && IMG_WEIGHT_UNIFORM == 1 && IMG_WEIGHT_BRIGGS == 2,
               "weight words");
_Static_assert(IMG_SCHED_STATIC == 0 && IMG_SCHED_DYNAMIC == 1 && IMG_SCHED_LOCALITY == 2,
               "schedule words");
_Static_assert(IMG_STOKES_I == 0 && IMG_STOKES_XXYY == 4 && IMG_STOKES_CORR == 10, "stokes words");
_Static_assert(offsetof(img_params, ny) == offsetof(img_params, nx) + sizeof(int),
               "an image lands in nx, ny");

/*
 * Every parameter with a landing into p: the given value, else the
 * table's default (which replaces img_params_default's: the table is the
 * one source of defaults); derived defaults ("auto") stay 0.
 */
static void land(const ib_pval v[IB_NPARAM], img_params *p)
{
    for (int id = 0; id < IB_NPARAM; id++) {
        const landing *l = &landings[id];
        if (!l->used) continue;
        ib_pval x = v[id];
        if (!x.set && ib_param_derived(id)) continue;
        if (!x.set) ib_param_default(id, &x);
        char *at = (char *)p + l->off;
        if (ib_param_get(id)->type == IB_PT_WEIGHT) p->robust = x.d; /* and the index: */
        switch (ib_param_get(id)->type) {
        case IB_PT_REAL:
            IB_ASSERT(l->size == sizeof(double));
            memcpy(at, &x.d, sizeof x.d);
            break;
        case IB_PT_BYTES: {
            uint64_t u = (uint64_t)x.i;
            IB_ASSERT(l->size == sizeof u);
            memcpy(at, &u, sizeof u);
            break;
        }
        case IB_PT_IMAGE: {
            int xy[2] = {(int)x.i, x.j};
            IB_ASSERT(l->size == sizeof(int));
            memcpy(at, xy, sizeof xy);
            break;
        }
        default: {
            int k = (int)x.i;
            IB_ASSERT(l->size == sizeof k);
            memcpy(at, &k, sizeof k);
            break;
        }
        }
    }
}

/* What is not a cell parameter: where to read and write, and how to
 * watch the run. */
typedef struct run_opts {
    double timeout;
    int seed, help, version;
} run_opts;

static void usage(FILE *f, const ib_opt *opts)
{
    fprintf(f, "Usage: imager --vis DIR --out DIR [options]\n"
               "  or:  mpirun -np N imager --vis DIR --out DIR [options]\n"
               "  or:  imager --version\n\n"
               "Makes dirty image cubes (and PSF cubes) from an imbench visibility store\n"
               "(made by 'harness gen' or 'harness import-ms'): OUT/dirty.fits, OUT/psf.fits.\n"
               "Under mpirun or srun each rank is a node of the run. The options below the\n"
               "run's own are the cell parameters of a suite (common/params.h).\n\n"
               "Options:\n");
    ib_print_opts(f, opts);
    fprintf(f, "\nExamples:\n"
               "  imager --vis d --out o --threads 2 --image 256 --check-dft 64\n"
               "  imager --vis d --out o2 --image 256 --chunks 8 --schedule dynamic\n"
               "  imager --vis d --out o3 --image 128 --psf --stats o3/stats.json\n"
               "\nExit status:\n"
               "  0  success\n"
               "  1  failure (the message names the file, rank or field)\n"
               "  2  usage error: a bad option or value, or one this machine cannot run\n"
               "\nEnvironment:\n"
               "  IMBENCH_FFTW_WISDOM  FFTW wisdom file (default: $XDG_CACHE_HOME or ~/.cache,\n"
               "                       then imbench/fftw-wisdom-PRECISION)\n");
}

/* The options: the run's, then one per parameter with an imager option. */
static size_t make_opts(ib_opt *opts, img_params *p, ib_pval v[IB_NPARAM], run_opts *ro)
{
    const ib_opt run[] = {
        {"vis", IB_OPT_STR, &p->vis_dir, "DIR", "visibility store (DIR/vis.h5)"},
        {"out", IB_OPT_STR, &p->out_dir, "DIR", "output directory for dirty.fits, psf.fits"},
        {"spill-dir", IB_OPT_STR, &p->spill_dir, "DIR", "spill files (default OUT/spill)"},
        {"stats", IB_OPT_STR, &p->stats_path, "FILE", "write the run's statistics as JSON"},
        {"timeout", IB_OPT_DBL, &ro->timeout, "S",
         "end the whole job with a message naming the rank after S seconds"},
        {"check-dft", IB_OPT_INT, &p->check_dft, "K",
         "compare K pixels with a direct DFT; prints 'dft max_rel_err X' last"},
        {"seed", IB_OPT_INT, &ro->seed, "S", "seed for the choice of --check-dft pixels"},
        {"quiet", IB_OPT_FLAG, &p->quiet, NULL, "print only errors and the DFT line"},
        {"help", IB_OPT_FLAG, &ro->help, NULL, "this help"},
        {"version", IB_OPT_FLAG, &ro->version, NULL, "print the version and exit"},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof run / sizeof *run; i++) opts[n++] = run[i];
    for (int id = 0; id < IB_NPARAM; id++)
        if (ib_param_get(id)->option) opts[n++] = ib_param_opt(id, &v[id]);
    opts[n] = (ib_opt){NULL, 0, NULL, NULL, NULL};
    return n;
}

/*
 * The options into p: each value checked by the table, then together
 * (ib_params_check_set), against the rank count and against this
 * machine (what can never run here). IB_EINVAL with the message.
 */
static int parse_args(ib_err *e, int argc, char **argv, img_params *p, ib_pval v[IB_NPARAM],
                      run_opts *ro, const img_par *par)
{
    ib_opt opts[IB_NPARAM + 16];
    make_opts(opts, p, v, ro);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) {
        ib_nomem(e, "reading the command line", ((double)argc + 1) * sizeof *pos);
        return ib_error_wrap(e, "imager");
    }
    int npos = 0;
    int rc = ib_parse_opts(e, "imager", opts, argc, argv, pos, &npos);
    if (!rc && ro->help) {
        if (par->rank == 0) usage(stdout, opts);
        free(pos);
        return 0;
    }
    if (!rc && npos > 0) rc = ib_error(e, IB_EINVAL, "imager: unexpected argument '%s'", pos[0]);
    free(pos);
    if (rc) return rc;
    if (!p->vis_dir || !p->out_dir)
        return ib_error(e, IB_EINVAL, "imager: --vis DIR and --out DIR are required (see --help)");
    if (ro->timeout < 0 || ro->timeout > 1e7)
        return ib_error(e, IB_EINVAL, "imager: option '--timeout' must be 0..1e7 seconds, got %g",
                        ro->timeout);
    char why[512], ranks[32];
    snprintf(ranks, sizeof ranks, "%d", par->size);
    if (ib_param_parse(IB_P_NODES, ranks, &v[IB_P_NODES], why, sizeof why))
        return ib_error(e, IB_EINVAL, "imager: %s (MPI ranks)", why);
    ib_machine m;
    ib_machine_probe(&m);
    if (ib_params_check_set(v, why, sizeof why) ||
        ib_params_check_machine(v, &m, why, sizeof why, NULL, 0))
        return ib_error(e, IB_EINVAL, "imager: %s", why);
    land(v, p);
    p->seed = (uint64_t)ro->seed;
    return 0;
}

/* Watchdog: if the run is not done by the deadline, name this rank and end
 * the whole job (MPI_Abort), so that a stuck rank never hangs a suite. */
typedef struct watchdog {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
    double seconds;
    img_par *par;
} watchdog;

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)w->seconds;
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    int fire = !w->done;
    pthread_mutex_unlock(&w->lock);
    if (fire) {
        ib_tmp_remove_all(); /* the unfinished cubes and spill files */
        fprintf(stderr, "imager: rank %d of %d: timed out after %.0f s (--timeout)\n", w->par->rank,
                w->par->size, w->seconds);
        img_par_abort(w->par, 124);
    }
    return NULL;
}

/*
 * The heap on transparent huge pages. On a virtual machine the first touch
 * of a 4 KiB page costs ~15 us (measured here: 64 MiB in 1 s), of a 2 MiB
 * huge page ~120 us, so every rank paid ~75 ms of page faults for the
 * buffers HDF5, FFTW and the sample lists allocate. One arena (the
 * threads allocate rarely: a chunk buffer per HDF5 read), grown by 256 MiB
 * of address space at a time and advised as huge once; blocks up to 256
 * MiB stay on it and it is not trimmed, so freed blocks are reused instead
 * of faulted in again. Pages are still only backed when touched; a kernel
 * without THP leaves the advice unused.
 */
static void heap_on_huge_pages(void)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    mallopt(M_TOP_PAD, 256 << 20);
    void *p = malloc(1 << 20); /* more than the heap's top holds: extends it by the pad */
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1), hi = (uintptr_t)sbrk(0) & ~(huge - 1);
    if (p && hi > lo) (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    free(p);
}


/* The run under the watchdog (--timeout): img_run, then the watchdog
 * stood down. */
static int run_watched(ib_err *e, const img_params *p, double timeout, img_par *par,
                       img_result *res)
{
    watchdog wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, timeout, par};
    pthread_t wdt;
    int wd_on = timeout > 0 && pthread_create(&wdt, NULL, watchdog_main, &wd) == 0;
    int rc = img_run(e, p, res);
    if (wd_on) {
        pthread_mutex_lock(&wd.lock);
        wd.done = 1;
        pthread_cond_signal(&wd.cond);
        pthread_mutex_unlock(&wd.lock);
        pthread_join(wdt, NULL);
    }
    return rc;
}

/* ---- counters over all ranks ------------------------------------------ */

/* What each rank contributes: its software-defined events, whether it
 * has them, its PAPI totals and their count (-1: no PAPI). */
enum { CNT_SDE = 0, CNT_HAVE_SDE = PROF_NSDE, CNT_PAPI = PROF_NSDE + 1,
       CNT_NPAPI = PROF_NSDE + 1 + PROF_PAPI_MAX_EVENTS, CNT_N };

/*
 * Every rank's per-process counters on rank 0 (*all: size x CNT_N values,
 * malloc'd on rank 0, NULL elsewhere). A collective: every rank of a run
 * that succeeded calls it. The worker threads have ended, so the PAPI
 * totals are final.
 */
static int gather_counters(ib_err *e, const img_par *par, prof_papi *papi, prof_sde *sde,
                           int64_t **all)
{
    int64_t mine[CNT_N] = {0};
    for (int i = 0; sde && i < PROF_NSDE; i++) mine[CNT_SDE + i] = prof_sde_get(sde, i);
    mine[CNT_HAVE_SDE] = sde != NULL;
    mine[CNT_NPAPI] = papi ? papi->nevents : -1;
    for (int i = 0; papi && i < papi->nevents && i < PROF_PAPI_MAX_EVENTS; i++)
        mine[CNT_PAPI + i] = papi->ev[i].total;
    *all = NULL;
    if (par->rank == 0 && !(*all = calloc((size_t)par->size * CNT_N, sizeof **all)))
        return ib_error(e, IB_ENOMEM, "imager: out of memory gathering the counters");
    return img_par_gather_counts(e, par, mine, CNT_N, *all);
}

/* events[i]'s value the sum over ranks of all[r * CNT_N + at + i], with
 * the ranks' own values in "per_rank". */
static void sum_events(json_t *events, const int64_t *all, int size, int at)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *per = json_array();
        int64_t sum = 0;
        for (int r = 0; r < size; r++) {
            int64_t v = all[(size_t)r * CNT_N + (size_t)at + i];
            sum += v;
            json_array_append_new(per, json_integer((json_int_t)v));
        }
        json_object_set_new(ev, "value", json_integer((json_int_t)sum));
        json_object_set_new(ev, "per_rank", per);
    }
}

/*
 * The stats "counters" of a run on size ranks (rank 0): every
 * software-defined event and PAPI total summed over the ranks, each
 * rank's own value kept in "per_rank", and "ranks" saying how many were
 * summed. PAPI totals are summed only when every rank counted the same
 * events (else rank 0's, with "summed": false). NULL when out of memory.
 */
static json_t *counters_over_ranks(prof_papi *papi, prof_sde *sde, const int64_t *all, int size)
{
    json_t *c = prof_counters_json(papi, sde);
    if (!c || !all) return c;
    json_object_set_new(c, "ranks", json_integer(size));
    int sde_everywhere = 1, same_papi = 1;
    for (int r = 0; r < size; r++) {
        sde_everywhere &= all[(size_t)r * CNT_N + CNT_HAVE_SDE] != 0;
        same_papi &= all[(size_t)r * CNT_N + CNT_NPAPI] == all[CNT_NPAPI];
    }
    json_t *s = json_object_get(c, "sde");
    if (json_is_array(s) && sde_everywhere)
        sum_events(s, all, size, CNT_SDE);
    json_t *pp = json_object_get(c, "papi");
    if (json_is_object(pp)) {
        if (same_papi) sum_events(json_object_get(pp, "events"), all, size, CNT_PAPI);
        json_object_set_new(pp, "summed", json_boolean(same_papi));
    }
    return c;
}

/*
 * Rank 0: the stats record asked for. It is part of the output: when it
 * cannot be written a run that succeeded has failed, and like any failed
 * run leaves no products. 0, or 1 when it could not be written.
 */
static int write_stats(const img_params *p, const img_result *res, int run_failed,
                       const int64_t *counts, int size)
{
    if (!p->stats_path) return 0;
    ib_err e2;
    ib_err_init(&e2);
    json_t *counters = counters_over_ranks(p->papi, p->sde, counts, size);
    int bad = img_stats_write(&e2, p->stats_path, p, res, res->meta.nrow ? &res->meta : NULL,
                              counters) != 0;
    json_decref(counters);
    if (!bad) return 0;
    fprintf(stderr, "imager: %s\n", e2.msg);
    if (run_failed) return 1;
    for (int k = 0; k < IMG_NPROD; k++) {
        char kpath[4096];
        int made = k == IMG_PROD_DIRTY || (k == IMG_PROD_PSF && p->psf) ||
                   (k > IMG_PROD_PSF && p->gridder == IMG_GRIDDER_MOSAIC);
        if (made && !ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, img_product_file(k)))
            remove(kpath);
    }
    char tpath[4096];
    if (!ib_path_join(NULL, tpath, sizeof tpath, p->out_dir, "tasks.csv")) remove(tpath);
    return 1;
}

/* The one-screen summary of a run that succeeded (rank 0). */
static void summary(const img_params *p, const img_result *res, const img_par *par)
{
    double gw = res->phase_wall[PROF_GRID];
    char rowtxt[48] = "";
    if (res->row_chunks > 1) snprintf(rowtxt, sizeof rowtxt, " x %d row chunks", res->row_chunks);
    printf("imager: %s %lld rows x %lld chans x %d pols -> %dx%d cube (grid %dx%d), "
           "%d rank(s) x %d threads, %d chunks%s\n",
           res->meta.dataset, (long long)res->meta.nrow, (long long)res->meta.nchan,
           res->meta.npol, res->nx, res->ny, res->ngx, res->ngy, par->size, p->threads,
           res->nchunks, rowtxt);
    if (p->gridder == IMG_GRIDDER_MOSAIC && res->mosaic_reason[0])
        printf("imager: mosaic method %s: %s\n",
               res->mosaic_method == IMG_MOSAIC_FACET ? "facet" : "aperture", res->mosaic_reason);
    printf("imager: %.3f s wall, %.3g samples gridded (%.3g dropped outside the grid), "
           "%.1f M samples/s end to end, %.1f M samples/s per gridding thread\n",
           res->wall_seconds, (double)res->samples_gridded, (double)res->samples_dropped,
           res->samples_gridded / res->wall_seconds / 1e6,
           gw > 0 ? res->samples_gridded * (p->psf ? 2.0 : 1.0) / gw / 1e6 : 0.0);
    printf("imager: phases (thread-seconds):");
    for (int i = 0; i < PROF_NPHASE; i++)
        if (res->phase_wall[i] > 0.0005) printf(" %s %.3f", prof_phase_name(i), res->phase_wall[i]);
    if (p->mem_budget)
        printf("\nimager: budget %.1f MB, peak tracked %.1f MB, spilled %.1f MB in %llu "
               "file(s) (write %.3f s, read %.3f s)",
               p->mem_budget / 1e6, res->peak_tracked / 1e6, res->spill_bytes / 1e6,
               (unsigned long long)res->spill_files, res->spill_write_s, res->spill_read_s);
    printf("\nimager: peak RSS %.1f MB, wrote %s/dirty.fits%s\n", res->peak_rss_bytes / 1e6,
           p->out_dir, p->psf ? " and psf.fits" : "");
}

int main(int argc, char **argv)
{
    /* Past `ulimit -f` a write fails with EFBIG and we say which file,
     * instead of dying of SIGXFSZ with a half-written temporary. */
    signal(SIGXFSZ, SIG_IGN);
    /* Killed by SIGINT, SIGTERM or SIGHUP (a harness timeout, mpirun passing
     * a kill on): the unfinished cubes and spill files are removed first. */
    ib_tmp_on_signals();
    heap_on_huge_pages();
    img_params p;
    img_params_default(&p);
    ib_pval v[IB_NPARAM] = {{0}};
    run_opts ro = {.seed = 1};
    ib_err e;
    ib_err_init(&e);
    /* --version answers before MPI starts (help2man, scripts) */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf("imager (imbench) %s\n", ib_version());
            return 0;
        }
    img_par par;
    if (img_par_init(&e, &par, &argc, &argv)) {
        fprintf(stderr, "imager: %s\n", e.msg);
        return 1;
    }
    p.par = &par;
    int rc = parse_args(&e, argc - 1, argv + 1, &p, v, &ro, &par);
    if (rc || ro.help) {
        if (rc && par.rank == 0)
            fprintf(stderr, "%s\n%s", e.msg,
                    rc == IB_EINVAL ? "Usage: imager --vis DIR --out DIR [options]\n"
                                      "('imager --help' for more)\n"
                                    : "");
        img_par_finalize(&par);
        return rc ? 2 : 0;
    }
    /* Counters: PAPI presets per thread where the machine has them (none on
     * most VMs: recorded as unavailable with PAPI's reason), and our own
     * counters as PAPI software-defined events. */
    prof_papi papi;
    prof_sde sde;
    ib_err ce;
    ib_err_init(&ce);
    int have_papi = prof_papi_init(&ce, &papi, NULL, 0) == 0;
    int have_sde = prof_sde_init(&ce, &sde, NULL) == 0;
    p.papi = have_papi ? &papi : NULL;
    p.sde = have_sde ? &sde : NULL;
    img_result res;
    rc = run_watched(&e, &p, ro.timeout, &par, &res);
    if (rc && par.size > 1) {
        /* One rank failed: name it and end the whole job, never a hang. */
        fprintf(stderr, "imager: rank %d of %d: %s\n", par.rank, par.size, e.msg);
        img_par_abort(&par, 1);
    }
    int failed = rc != 0;
    /* The counters of every rank of a run that succeeded, on rank 0 (a
     * failed multi-rank run has ended the job above). */
    int64_t *counts = NULL;
    if (!rc && gather_counters(&e, &par, p.papi, p.sde, &counts) && par.size > 1) {
        fprintf(stderr, "imager: %s\n", e.msg);
        img_par_abort(&par, 1);
    } /* one rank: its counters are the totals, summed or not */
    if (par.rank == 0) {
        failed |= write_stats(&p, &res, rc != 0, counts, par.size);
        if (rc) fprintf(stderr, "imager: %s\n", e.msg);
        else if (!failed && !p.quiet) summary(&p, &res, &par);
        if (!failed && p.check_dft > 0) printf("dft max_rel_err %.3e\n", res.dft_max_rel_err);
    }
    free(counts);
    if (have_papi) prof_papi_release(&papi);
    if (have_sde) prof_sde_release(&sde);
    img_result_release(&res);
    img_par_finalize(&par);
    return par.rank == 0 && failed ? 1 : 0;
}
