/*
 * cmd_import_ms.c: `harness import-ms` — read a MeasurementSet (one
 * spectral window, chosen fields and channels, a chosen data column) into
 * the HDF5 visibility store DIR/vis.h5, streaming the main table in row
 * blocks, and print what was imported.
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msio/msio.h"

static void progress(void *ctx, int64_t done, int64_t total)
{
    fprintf(stderr, "\r%s: %5.1f%% (%lld of %lld rows)", (const char *)ctx,
            100.0 * (double)done / (double)total, (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

static const char *corr_name(int c)
{
    switch (c) {
    case -1: return "RR";
    case -2: return "LL";
    case -5: return "XX";
    case -6: return "YY";
    default: return "?";
    }
}

int hx_cmd_import_ms(int argc, char **argv)
{
    const char *out = NULL, *column = "DATA", *fields = NULL, *chans = NULL;
    int spw = -1, image = 0, help = 0;
    int64_t block = 0;
    const ib_opt opts[] = {
        {"out", IB_OPT_STR, &out, "DIR", "output directory (DIR/vis.h5)"},
        {"column", IB_OPT_STR, &column, "C", "DATA (default), CORRECTED_DATA or MODEL_DATA"},
        {"spw", IB_OPT_INT, &spw, "N", "spectral window (required when the MS has several)"},
        {"field", IB_OPT_STR, &fields, "LIST", "fields: ids, ranges A~B or names, comma-separated "
                                               "(default: all; several = mosaic pointings)"},
        {"chans", IB_OPT_STR, &chans, "A~B", "channels A to B of the window (0-based, inclusive)"},
        {"image", IB_OPT_INT, &image, "N", "suggested image size (default 512)"},
        {"block-rows", IB_OPT_I64, &block, "N", "rows per read block (default: ~64 MB)"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("import-ms", opts, argc, argv, &npos, 1, 1);
    if (ps >= 0) return ps;
    const char *ms = argv[0];
    if (!out) return hx_usage_error("import-ms", "missing --out DIR");
    ib_err e;
    ib_err_init(&e);
    ms_import_opts o;
    ms_import_opts_init(&o);
    o.column = column;
    o.fields = fields;
    o.image = image;
    o.block_rows = block;
    if (spw < -1 || image < 0 || block < 0) {
        ib_error(&e, IB_EINVAL, "option '%s' must be >= 0",
                 spw < -1 ? "--spw" : image < 0 ? "--image" : "--block-rows");
        return hx_fail("import-ms", &e);
    }
    o.spw = spw;
    if (strcmp(column, "DATA") && strcmp(column, "CORRECTED_DATA") &&
        strcmp(column, "MODEL_DATA")) {
        ib_error(&e, IB_EINVAL, "option '--column' must be DATA, CORRECTED_DATA or MODEL_DATA, "
                 "got '%s'", column);
        return hx_fail("import-ms", &e);
    }
    if (chans && ms_parse_chans(&e, chans, &o.chan_first, &o.chan_last))
        return hx_fail("import-ms", &e);
    if (isatty(STDERR_FILENO)) {
        o.progress = progress;
        o.progress_ctx = "import-ms";
    }
    /* Killed by SIGINT, SIGTERM or SIGHUP: the store's temporary (and OUT
     * when this run made it) removed before the process dies. */
    char vtmp[4200];
    if (ib_path_fmt(&e, vtmp, sizeof vtmp, "%s/vis.h5.tmp", out)) return hx_fail("import-ms", &e);
    struct stat ost;
    int slot_out = stat(out, &ost) != 0 ? ib_tmp_add(out, IB_TMP_EMPTY_DIR) : -1;
    int slot_tmp = ib_tmp_add(vtmp, IB_TMP_FILE);
    ib_tmp_on_signals();
    ms_import_info info;
    int rc = ms_import(&e, ms, out, &o, &info);
    ib_tmp_drop(slot_tmp);
    ib_tmp_drop(slot_out);
    if (rc) {
        fprintf(stderr, "harness import-ms: %s\n", e.msg[0] ? e.msg : ib_strerror(rc));
        return 1;
    }
    printf("ms           %s (%lld rows, telescope %s)\n", ms, (long long)info.nrow_ms,
           info.telescope);
    printf("imported     %lld rows x %lld channels x %d pols (column %s, spw %d, channels "
           "%lld~%lld)\n", (long long)info.nrow, (long long)info.nchan, info.npol, info.column,
           info.spw, (long long)info.chan0, (long long)(info.chan0 + info.nchan - 1));
    printf("correlations");
    for (int p = 0; p < info.npol; p++) printf(" %s", corr_name(info.corr[p]));
    printf("%s\n", info.reduced ? " (parallel hands of 4 correlations)" : "");
    printf("fields       %d%s\n", info.nfield, info.nfield > 1 ? " (mosaic pointings)" : "");
    printf("antennas     %d\n", info.nant);
    printf("weights      %s\n", info.weight_source);
    printf("image        %d x %d, cell %.6g arcsec%s\n", info.image_nx, info.image_ny,
           info.cell_arcsec, info.restored ? " (as exported by imbench)" : "");
    printf("written      %s/vis.h5 (dataset '%s')\n", out, info.dataset);
    printf("rate         %.2f MB/s read (%.3f s, blocks of %lld rows)\n",
           info.seconds > 0 ? (double)info.bytes_read / 1e6 / info.seconds : 0.0, info.seconds,
           (long long)info.block_rows);
    return 0;
}
