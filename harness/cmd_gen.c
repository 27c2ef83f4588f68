/*
 * cmd_gen.c: `harness gen` — generate a synthetic visibility set for a
 * seed dataset, scaled by a factor, into DIR/vis.h5 + DIR/sky.json, and
 * print its shape, size and the generation rate.
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msio/msio.h"
#include "workloads/workloads.h"

static void progress(void *ctx, int64_t done, int64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rgen: %5.1f%% (%lld of %lld rows)", 100.0 * (double)done / (double)total,
            (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

static const char *human_bytes(double b, char *buf, size_t n)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (b >= 1000.0 && u < 5) {
        b /= 1000.0;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

/* What was generated, one line per fact. */
static void print_summary(const wl_dataset *ds, const wl_gen_info *info, const char *out,
                          double scale, int no_pb)
{
    const wl_gen_shape *s = &info->shape;
    char b1[32];
    printf("dataset      %s (%s, %s, scale %g)\n", ds->name, wl_telescope_name(ds->telescope),
           wl_gridder_name(ds->gridder), scale);
    printf("shape        times %lld x baselines %lld x channels %lld x pols %d\n",
           (long long)s->ntime, (long long)s->nbaseline, (long long)s->nchan, s->npol);
    printf("rows         %lld (antennas %d, fields %d)\n", (long long)s->nrow, s->nant,
           s->nfield);
    if (s->nrow < s->nrow_full || s->nexec > 1)
        printf("row layout   %lld of the %lld time x baseline pairs (the spec's %lld of %lld at "
               "scale 1: antennas absent in each of %d time segments), %d execution block(s)\n",
               (long long)s->nrow, (long long)s->nrow_full, (long long)ds->rows,
               (long long)(ds->ntime * ds->nbaseline), s->nsegment, s->nexec);
    printf("visibilities %lld (rows x chans)\n", (long long)info->nvis);
    printf("samples      %lld (x pols)\n", (long long)info->nsamples);
    printf("band         %.6f - %.6f GHz, channel width %.6g kHz\n", s->freq0_hz / 1e9,
           (s->freq0_hz + (double)(s->nchan - 1) * s->chan_width_hz) / 1e9,
           s->chan_width_hz / 1e3);
    printf("time         %.3f h, integration %.3f s\n", s->duration_s / 3600.0,
           s->integration_s);
    printf("image        %d x %d, cell %.6g arcsec\n", s->image_nx, s->image_ny,
           info->cell_arcsec);
    printf("sky          %d sources%s\n", info->nsources, no_pb ? ", no primary beam" : "");
    printf("written      %s/vis.h5, %s/sky.json (%s, %llu bytes)\n", out, out,
           human_bytes((double)info->bytes_on_disk, b1, sizeof b1),
           (unsigned long long)info->bytes_on_disk);
    printf("rate         %.2f M samples/s (%.3f s, %d threads)\n", info->rate / 1e6, info->seconds,
           info->threads);
}

/* The store at out also written as the MeasurementSet ms_out (its
 * temporary mtmp removed on a signal). */
static int write_ms(ib_err *e, const char *out, const char *ms_out, int overwrite,
                    const char *mtmp)
{
    ms_export_opts mo;
    ms_export_opts_init(&mo);
    mo.overwrite = overwrite;
    ms_export_info mi;
    int slot = ib_tmp_add(mtmp, IB_TMP_TREE);
    int mr = ms_export(e, out, ms_out, &mo, &mi);
    ib_tmp_drop(slot);
    if (mr) return mr;
    printf("ms           %s (%lld rows, %d scans)\n", ms_out, (long long)mi.nrow, mi.nscan);
    return 0;
}

/* Longer than most: the option table (25 lines) and the temporaries a
 * signal must remove, registered in the order they appear. */
int hx_cmd_gen(int argc, char **argv)
{
    const char *dataset = NULL, *out = NULL, *image = NULL, *dsdir = NULL, *skyfile = NULL;
    const char *ms_out = NULL;
    double scale = NAN, cell = NAN, noise = 0.0, flag_frac = 0.02;
    int64_t times = -1, chans = -1, baselines = -1, seed = 1;
    int antennas = -1, sources = 10, no_pb = 0, threads = 0, help = 0, overwrite = 0;
    const ib_opt opts[] = {
        {"dataset", IB_OPT_STR, &dataset, "NAME", "seed dataset (workloads/datasets/NAME.yaml)"},
        {"scale", IB_OPT_DBL, &scale, "S", "visibility count x ~S (times, chans x sqrt(S))"},
        {"out", IB_OPT_STR, &out, "DIR", "output directory (vis.h5, sky.json)"},
        {"times", IB_OPT_I64, &times, "N", "time steps (overrides the scale)"},
        {"chans", IB_OPT_I64, &chans, "N", "channels (overrides the scale; band kept)"},
        {"baselines", IB_OPT_I64, &baselines, "N", "baselines (default: the dataset's)"},
        {"antennas", IB_OPT_INT, &antennas, "N", "antennas: N(N-1)/2 baselines"},
        {"image", IB_OPT_STR, &image, "NX[xNY]", "suggested image size"},
        {"cell", IB_OPT_DBL, &cell, "ARCSEC", "suggested cell (default 1/(3 u_max))"},
        {"seed", IB_OPT_I64, &seed, "N", "seed of sky, noise and flags (default 1)"},
        {"noise", IB_OPT_DBL, &noise, "SIGMA", "Gaussian noise, Jy per real/imag part (0)"},
        {"flag-frac", IB_OPT_DBL, &flag_frac, "F", "fraction of samples flagged (0.02)"},
        {"sources", IB_OPT_INT, &sources, "N", "sources in the seeded sky (10)"},
        {"sky", IB_OPT_STR, &skyfile, "FILE", "sky model JSON instead of a seeded sky"},
        {"no-pb", IB_OPT_FLAG, &no_pb, NULL, "no primary beam attenuation"},
        {"threads", IB_OPT_INT, &threads, "T", "generator threads (default: online CPUs)"},
        {"datasets-dir", IB_OPT_STR, &dsdir, "D", "where dataset specs live"},
        {"ms", IB_OPT_STR, &ms_out, "OUT.ms", "also write the set as a MeasurementSet"},
        {"overwrite", IB_OPT_FLAG, &overwrite, NULL,
         "with --ms: replace OUT.ms if it is a casacore table"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("gen", opts, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    if (!dataset || !out || isnan(scale))
        return hx_usage_error("gen", "missing %s",
                              !dataset ? "--dataset NAME" : !out ? "--out DIR" : "--scale S");
    wl_gen_opts go;
    wl_gen_opts_init(&go);
    go.scale = scale;
    go.times = times;
    go.chans = chans;
    go.baselines = baselines;
    go.antennas = antennas;
    go.cell_arcsec = cell;
    go.seed = (uint64_t)seed;
    go.noise = noise;
    go.flag_frac = flag_frac;
    go.nsources = sources;
    go.no_pb = no_pb;
    go.threads = threads;
    if (threads < 0) {
        ib_error(&e, IB_EINVAL, "option '--threads' must be >= 0, got %d", threads);
        return hx_fail("gen", &e);
    }
    if (image && ib_parse_image(image, &go.image_nx, &go.image_ny)) {
        ib_error(&e, IB_EINVAL, "option '--image' expects NX or NXxNY, got '%s'", image);
        return hx_fail("gen", &e);
    }
    if (overwrite && !ms_out) {
        ib_error(&e, IB_EINVAL, "option '--overwrite' needs --ms OUT.ms (a store is never "
                                "replaced: use a new --out)");
        hx_fail("gen", &e);
        return 2;
    }
    /* An existing MS is refused before anything is generated. */
    struct stat mst;
    if (ms_out && !overwrite && lstat(ms_out, &mst) == 0) {
        ib_error(&e, IB_EINVAL, "ms '%s' exists (--overwrite replaces it when it is a "
                                "casacore table)", ms_out);
        hx_fail("gen", &e);
        return 2;
    }
    wl_dataset ds;
    int rc;
    if ((rc = wl_dataset_find(&e, dataset, dsdir, &ds))) {
        hx_fail("gen", &e);
        return rc == IB_ENOTFOUND || rc == IB_EINVAL ? 2 : 1;
    }
    wl_source *sky = NULL;
    if (skyfile) {
        if (wl_sky_load(&e, skyfile, &sky, &go.nsky)) {
            hx_fail("gen", &e);
            return 2;
        }
        go.sky = sky;
    }
    wl_gen_shape sh;
    if (wl_gen_resolve(&e, &ds, &go, &sh)) {
        ib_free(sky);
        hx_fail("gen", &e);
        return 2; /* impossible options or sizes: bad usage */
    }
    if (isatty(STDERR_FILENO)) go.progress = progress;
    /* Killed by SIGINT, SIGTERM or SIGHUP: the store's temporaries (and
     * OUT with all in it when this run made it) are removed before the
     * process dies. */
    char vtmp[4200], stmp[4200], mtmp[4200], skyp[4200];
    struct stat ost;
    int made_out = stat(out, &ost) != 0, slots[5] = {-1, -1, -1, -1, -1};
    if (ib_path_fmt(&e, vtmp, sizeof vtmp, "%s/vis.h5.tmp", out) ||
        ib_path_fmt(&e, stmp, sizeof stmp, "%s/sky.json.tmp", out) ||
        ib_path_fmt(&e, skyp, sizeof skyp, "%s/sky.json", out) ||
        (ms_out && ib_path_fmt(&e, mtmp, sizeof mtmp, "%s.imbench-tmp", ms_out))) {
        ib_free(sky);
        hx_fail("gen", &e);
        return 2;
    }
    if (made_out) slots[0] = ib_tmp_add(out, IB_TMP_TREE); /* all of it this run's */
    slots[1] = ib_tmp_add(vtmp, IB_TMP_FILE);
    slots[2] = ib_tmp_add(stmp, IB_TMP_FILE);
    /* sky.json is in place before the store is: a new one goes with it */
    if (!made_out && stat(skyp, &ost) != 0) slots[4] = ib_tmp_add(skyp, IB_TMP_FILE);
    ib_tmp_on_signals();
    wl_gen_info info;
    rc = wl_generate(&e, &ds, &go, out, &info);
    ib_free(sky);
    for (int i = 0; i < 5; i++) ib_tmp_drop(slots[i]);
    if (rc) return hx_fail("gen", &e);

    print_summary(&ds, &info, out, scale, no_pb);
    if (ms_out && write_ms(&e, out, ms_out, overwrite, mtmp)) {
        hx_fail("gen", &e);
        return 1; /* the store is written; the MS is not */
    }
    return 0;
}
