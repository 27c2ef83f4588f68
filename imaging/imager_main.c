/*
 * imager_main.c: the `imager` program — options, one imaging run, the
 * stats record and a one-screen summary.
 */
#include "imaging/imaging.h"
#include "profiles/profiles.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void usage(FILE *f, const ib_opt *opts)
{
    fprintf(f, "usage: imager --vis DIR --out DIR [options]\n\n"
               "Makes dirty image cubes (and PSF cubes) from an imbench visibility store.\n\n"
               "options:\n");
    ib_print_opts(f, opts);
}

static int parse_weight(ib_err *e, const char *s, img_params *p)
{
    if (strcmp(s, "natural") == 0) p->weighting = IMG_WEIGHT_NATURAL;
    else if (strcmp(s, "uniform") == 0) p->weighting = IMG_WEIGHT_UNIFORM;
    else if (strncmp(s, "briggs", 6) == 0) {
        p->weighting = IMG_WEIGHT_BRIGGS;
        p->robust = 0;
        if (s[6] == ':' && ib_parse_double(s + 7, &p->robust) == 0 && p->robust >= -2 &&
            p->robust <= 2)
            return 0;
        if (s[6] == '\0') return 0;
        return ib_error(e, IB_EINVAL, "imager: option '--weight': robust must be -2..2, got '%s'", s);
    } else
        return ib_error(e, IB_EINVAL,
                        "imager: option '--weight' must be natural, uniform or briggs[:R], got '%s'", s);
    return 0;
}

static int parse_image(ib_err *e, const char *s, img_params *p)
{
    char *end;
    long nx = strtol(s, &end, 10), ny = nx;
    if (*end == 'x') ny = strtol(end + 1, &end, 10);
    if (*end || nx < 2 || ny < 2 || nx > 65536 || ny > 65536 || nx % 2 || ny % 2)
        return ib_error(e, IB_EINVAL,
                        "imager: option '--image' must be NX or NXxNY, even, 2..65536, got '%s'", s);
    p->nx = (int)nx;
    p->ny = (int)ny;
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
        fprintf(stderr, "imager: rank %d of %d: timed out after %.0f s (--timeout)\n", w->par->rank,
                w->par->size, w->seconds);
        img_par_abort(w->par, 124);
    }
    return NULL;
}

/* "123", "64M", "1.5G" -> bytes (binary multiples). */
static int parse_bytes(const char *s, uint64_t *out)
{
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm') mul = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g') mul = 1024.0 * 1024 * 1024, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (end == s || *end || !(v > 0) || v * mul > 1e18) return -1;
    *out = (uint64_t)(v * mul);
    return 0;
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

int main(int argc, char **argv)
{
    /* Past `ulimit -f` a write fails with EFBIG and we say which file,
     * instead of dying of SIGXFSZ with a half-written temporary. */
    signal(SIGXFSZ, SIG_IGN);
    heap_on_huge_pages();
    img_params p;
    img_params_default(&p);
    const char *gridder = "standard", *weight = "natural", *image = NULL, *precision = "float",
               *fftplan = "measure", *schedule = "static",
               *budget = NULL;
    int help = 0, seed = 1;
    double timeout = 0;
    ib_opt opts[] = {
        {"vis", IB_OPT_STR, &p.vis_dir, "DIR", "visibility store (DIR/vis.h5)"},
        {"out", IB_OPT_STR, &p.out_dir, "DIR", "output directory for dirty.fits, psf.fits"},
        {"gridder", IB_OPT_STR, &gridder, "standard|mosaic", "gridder (default standard)"},
        {"support", IB_OPT_INT, &p.support, "W", "kernel support, odd 3..51 (default 7)"},
        {"oversample", IB_OPT_INT, &p.oversample, "K",
         "use a kernel table with K samples per cell (default 0: exact polynomial)"},
        {"weight", IB_OPT_STR, &weight, "natural|uniform|briggs:R", "weighting (default natural)"},
        {"image", IB_OPT_STR, &image, "NX[xNY]", "image size (default: the store's suggestion)"},
        {"cell", IB_OPT_DBL, &p.cell_arcsec, "ARCSEC", "pixel size (default: the store's)"},
        {"padding", IB_OPT_DBL, &p.padding, "P", "grid oversampling factor (default 1.5)"},
        {"threads", IB_OPT_INT, &p.threads, "T", "worker threads (default 1)"},
        {"chunks", IB_OPT_INT, &p.chunks, "N",
         "channel chunks (default: 4 channels each, at least threads x ranks)"},
        {"row-chunks", IB_OPT_INT, &p.row_chunks, "M",
         "split each channel chunk's rows into M tasks whose grids are summed (default 1)"},
        {"psf", IB_OPT_FLAG, &p.psf, NULL, "also write the PSF cube"},
        {"precision", IB_OPT_STR, &precision, "float|double", "grid/FFT precision (default float)"},
        {"fft-plan", IB_OPT_STR, &fftplan, "estimate|measure|patient",
         "FFTW planning effort (default measure; wisdom is cached)"},
        {"no-aperture", IB_OPT_FLAG, &p.no_aperture, NULL,
         "mosaic: switch the primary beam off (PB = 1; for tests)"},
        {"pb-limit", IB_OPT_DBL, &p.pb_limit, "F",
         "mosaic: normalised mosaic where pb >= F (default 0.2)"},
        {"schedule", IB_OPT_STR, &schedule, "static|dynamic|locality",
         "chunk to rank assignment (default static)"},
        {"serial-write", IB_OPT_FLAG, &p.serial_write, NULL,
         "funnel every plane through rank 0 (reproduces CASA's serial image writes)"},
        {"fsync", IB_OPT_FLAG, &p.fsync, NULL,
         "make the cubes durable: write planes back as they come, fsync before the rename"},
        {"mem-budget", IB_OPT_STR, &budget, "BYTES",
         "memory budget per rank (K/M/G suffixes); chunks hold their planes and spill past it"},
        {"mem-target", IB_OPT_DBL, &p.mem_target, "F", "target fraction of the budget (0.85)"},
        {"mem-spill", IB_OPT_DBL, &p.mem_spill, "F", "spill past this fraction (0.92)"},
        {"mem-pause", IB_OPT_DBL, &p.mem_pause, "F", "pause new chunks past this fraction (0.95)"},
        {"spill-dir", IB_OPT_STR, &p.spill_dir, "DIR", "spill files (default OUT/spill)"},
        {"timeout", IB_OPT_DBL, &timeout, "S",
         "end the whole job with a message naming the rank after S seconds"},
        {"stats", IB_OPT_STR, &p.stats_path, "FILE", "write the run's statistics as JSON"},
        {"check-dft", IB_OPT_INT, &p.check_dft, "K",
         "compare K pixels with a direct DFT; prints 'dft max_rel_err X' last"},
        {"seed", IB_OPT_INT, &seed, "S", "seed for the choice of --check-dft pixels"},
        {"quiet", IB_OPT_FLAG, &p.quiet, NULL, "print only errors and the DFT line"},
        {"help", IB_OPT_FLAG, &help, NULL, "this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    img_par par;
    if (img_par_init(&e, &par, &argc, &argv)) {
        fprintf(stderr, "imager: %s\n", e.msg);
        return 1;
    }
    p.par = &par;
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) return 1;
    int rc = ib_parse_opts(&e, "imager", opts, argc - 1, argv + 1, pos, &npos);
    if (!rc && help) {
        usage(stdout, opts);
        free(pos);
        return 0;
    }
    if (!rc && npos > 0) rc = ib_error(&e, IB_EINVAL, "imager: unexpected argument '%s'", pos[0]);
    free(pos);
    if (!rc && strcmp(gridder, "standard") == 0) p.gridder = IMG_GRIDDER_STANDARD;
    else if (!rc && strcmp(gridder, "mosaic") == 0) p.gridder = IMG_GRIDDER_MOSAIC;
    else if (!rc)
        rc = ib_error(&e, IB_EINVAL, "imager: option '--gridder' must be standard or mosaic, got '%s'",
                      gridder);
    if (!rc) rc = parse_weight(&e, weight, &p);
    if (!rc && image) rc = parse_image(&e, image, &p);
    if (!rc && strcmp(precision, "float") == 0) p.dbl = 0;
    else if (!rc && strcmp(precision, "double") == 0) p.dbl = 1;
    else if (!rc)
        rc = ib_error(&e, IB_EINVAL, "imager: option '--precision' must be float or double, got '%s'",
                      precision);
    if (!rc) {
        if (strcmp(fftplan, "estimate") == 0) p.fft_plan = 0;
        else if (strcmp(fftplan, "measure") == 0) p.fft_plan = 1;
        else if (strcmp(fftplan, "patient") == 0) p.fft_plan = 2;
        else rc = ib_error(&e, IB_EINVAL,
                           "imager: option '--fft-plan' must be estimate, measure or patient, got '%s'",
                           fftplan);
    }
    if (!rc) {
        if (strcmp(schedule, "static") == 0) p.schedule = IMG_SCHED_STATIC;
        else if (strcmp(schedule, "dynamic") == 0) p.schedule = IMG_SCHED_DYNAMIC;
        else if (strcmp(schedule, "locality") == 0) p.schedule = IMG_SCHED_LOCALITY;
        else rc = ib_error(&e, IB_EINVAL,
                           "imager: option '--schedule' must be static, dynamic or locality, got '%s'",
                           schedule);
    }
    if (!rc && budget && parse_bytes(budget, &p.mem_budget))
        rc = ib_error(&e, IB_EINVAL,
                      "imager: option '--mem-budget' must be bytes with an optional K, M or G "
                      "suffix, got '%s'", budget);
    if (!rc && (!p.vis_dir || !p.out_dir))
        rc = ib_error(&e, IB_EINVAL, "imager: --vis DIR and --out DIR are required (see --help)");
    if (!rc && (p.support < IMG_MIN_SUPPORT || p.support > IMG_MAX_SUPPORT || p.support % 2 == 0))
        rc = ib_error(&e, IB_EINVAL, "imager: option '--support' must be odd and %d..%d, got %d",
                      IMG_MIN_SUPPORT, IMG_MAX_SUPPORT, p.support);
    if (!rc && !(p.padding > 1.0 && p.padding <= 4.0))
        rc = ib_error(&e, IB_EINVAL, "imager: option '--padding' must be > 1 and <= 4, got %g",
                      p.padding);
    if (!rc && (p.threads < 1 || p.threads > 1024))
        rc = ib_error(&e, IB_EINVAL, "imager: option '--threads' must be 1..1024, got %d", p.threads);
    if (!rc && (timeout < 0 || timeout > 1e7))
        rc = ib_error(&e, IB_EINVAL, "imager: option '--timeout' must be 0..1e7 seconds, got %g", timeout);
    if (!rc && p.chunks < 0)
        rc = ib_error(&e, IB_EINVAL, "imager: option '--chunks' must be >= 1, got %d", p.chunks);
    if (!rc && (p.row_chunks < 1 || p.row_chunks > 1000000))
        rc = ib_error(&e, IB_EINVAL, "imager: option '--row-chunks' must be 1..1000000, got %d",
                      p.row_chunks);
    if (rc) {
        if (par.rank == 0) fprintf(stderr, "%s\n", e.msg);
        img_par_finalize(&par);
        return 2;
    }
    p.seed = (uint64_t)seed;

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
    watchdog wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, timeout, &par};
    pthread_t wdt;
    int wd_on = timeout > 0 && pthread_create(&wdt, NULL, watchdog_main, &wd) == 0;
    img_result res;
    rc = img_run(&e, &p, &res);
    if (wd_on) {
        pthread_mutex_lock(&wd.lock);
        wd.done = 1;
        pthread_cond_signal(&wd.cond);
        pthread_mutex_unlock(&wd.lock);
        pthread_join(wdt, NULL);
    }
    if (rc && par.size > 1) {
        /* One rank failed: name it and end the whole job, never a hang. */
        fprintf(stderr, "imager: rank %d of %d: %s\n", par.rank, par.size, e.msg);
        img_par_abort(&par, 1);
    }
    if (par.rank != 0) {
        if (have_papi) prof_papi_release(&papi);
        if (have_sde) prof_sde_release(&sde);
        img_result_release(&res);
        img_par_finalize(&par);
        return 0;
    }
    int stats_failed = 0;
    if (p.stats_path) {
        ib_err e2;
        ib_err_init(&e2);
        json_t *counters = prof_counters_json(p.papi, p.sde);
        if (img_stats_write(&e2, p.stats_path, &p, &res, res.meta.nrow ? &res.meta : NULL,
                            counters)) {
            fprintf(stderr, "imager: %s\n", e2.msg);
            if (!rc) {
                /* The statistics asked for are part of the output: the run
                 * failed, and like any failed run leaves no products. */
                stats_failed = 1;
                for (int k = 0; k < IMG_NPROD; k++) {
                    char kpath[4096];
                    int made = k == IMG_PROD_DIRTY || (k == IMG_PROD_PSF && p.psf) ||
                               (k > IMG_PROD_PSF && p.gridder == IMG_GRIDDER_MOSAIC);
                    if (made && !ib_path_join(NULL, kpath, sizeof kpath, p.out_dir,
                                              img_product_file(k)))
                        remove(kpath);
                }
                char tpath[4096];
                if (!ib_path_join(NULL, tpath, sizeof tpath, p.out_dir, "tasks.csv"))
                    remove(tpath);
            }
        }
        json_decref(counters);
    }
    if (have_papi) prof_papi_release(&papi);
    if (have_sde) prof_sde_release(&sde);
    if (rc || stats_failed) {
        if (rc) fprintf(stderr, "imager: %s\n", e.msg);
        img_result_release(&res);
        img_par_finalize(&par);
        return 1;
    }
    if (!p.quiet) {
        double gw = res.phase_wall[PROF_GRID];
        char rowtxt[48] = "";
        if (res.row_chunks > 1)
            snprintf(rowtxt, sizeof rowtxt, " x %d row chunks", res.row_chunks);
        printf("imager: %s %lld rows x %lld chans x %d pols -> %dx%d cube (grid %dx%d), "
               "%d rank(s) x %d threads, %d chunks%s\n",
               res.meta.dataset, (long long)res.meta.nrow, (long long)res.meta.nchan,
               res.meta.npol, res.nx, res.ny, res.ngx, res.ngy, par.size, p.threads, res.nchunks,
               rowtxt);
        printf("imager: %.3f s wall, %.3g samples gridded (%.3g dropped outside the grid), "
               "%.1f M samples/s end to end, %.1f M samples/s per gridding thread\n",
               res.wall_seconds, (double)res.samples_gridded, (double)res.samples_dropped,
               res.samples_gridded / res.wall_seconds / 1e6,
               gw > 0 ? res.samples_gridded * (p.psf ? 2.0 : 1.0) / gw / 1e6 : 0.0);
        printf("imager: phases (thread-seconds):");
        for (int i = 0; i < PROF_NPHASE; i++)
            if (res.phase_wall[i] > 0.0005) printf(" %s %.3f", prof_phase_name(i), res.phase_wall[i]);
        if (p.mem_budget)
            printf("\nimager: budget %.1f MB, peak tracked %.1f MB, spilled %.1f MB in %llu "
                   "file(s) (write %.3f s, read %.3f s)",
                   p.mem_budget / 1e6, res.peak_tracked / 1e6, res.spill_bytes / 1e6,
                   (unsigned long long)res.spill_files, res.spill_write_s, res.spill_read_s);
        printf("\nimager: peak RSS %.1f MB, wrote %s/dirty.fits%s\n", res.peak_rss_bytes / 1e6,
               p.out_dir, p.psf ? " and psf.fits" : "");
    }
    if (p.check_dft > 0)
        printf("dft max_rel_err %.3e\n", res.dft_max_rel_err);
    img_result_release(&res);
    img_par_finalize(&par);
    return 0;
}
