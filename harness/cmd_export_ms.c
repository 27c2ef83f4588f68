/*
 * cmd_export_ms.c: `harness export-ms` — write a visibility store out as
 * a MeasurementSet (main table and every subtable) that WSClean, CASA and
 * python-casacore read, streaming the store in row blocks.
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msio/msio.h"

static const char usage_line[] = "usage: harness export-ms DIR OUT.ms [--overwrite]\n";

static void progress(void *ctx, int64_t done, int64_t total)
{
    fprintf(stderr, "\r%s: %5.1f%% (%lld of %lld rows)", (const char *)ctx,
            100.0 * (double)done / (double)total, (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

int hx_cmd_export_ms(int argc, char **argv)
{
    int overwrite = 0, help = 0;
    int64_t block = 0;
    const ib_opt opts[] = {
        {"overwrite", IB_OPT_FLAG, &overwrite, NULL, "replace OUT.ms if it is a casacore table"},
        {"block-rows", IB_OPT_I64, &block, "N", "rows per write block (default: ~64 MB)"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    char **pos = ib_calloc((size_t)argc + 1, sizeof *pos);
    int npos = 0;
    if (!pos) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("export-ms", &e);
    }
    int rc = ib_parse_opts(&e, "harness export-ms", opts, argc, argv, pos, &npos);
    const char *dir = npos > 0 ? pos[0] : NULL, *ms = npos > 1 ? pos[1] : NULL;
    if (!rc && npos > 2)
        rc = ib_error(&e, IB_EINVAL, "harness export-ms: unexpected argument '%s'", pos[2]);
    ib_free(pos);
    if (rc) {
        fprintf(stderr, "%s\n%s", e.msg, usage_line);
        return 2;
    }
    if (help) {
        fputs(usage_line, stdout);
        puts("\nWrite the visibility store DIR/vis.h5 as a MeasurementSet OUT.ms: main table\n"
             "(UVW, DATA, FLAG, FLAG_ROW, WEIGHT, SIGMA, WEIGHT_SPECTRUM, TIME, ...) and\n"
             "the ANTENNA, FEED, SPECTRAL_WINDOW, POLARIZATION, DATA_DESCRIPTION, FIELD,\n"
             "OBSERVATION and PROCESSOR rows. 'harness import-ms' reads it back unchanged.\n\n"
             "options:");
        ib_print_opts(stdout, opts);
        return 0;
    }
    if (!dir || !ms || block < 0) {
        ib_error(&e, IB_EINVAL, "%s (see --help)",
                 !dir ? "missing DIR" : !ms ? "missing OUT.ms" : "--block-rows must be >= 0");
        hx_fail("export-ms", &e);
        fputs(usage_line, stderr);
        return 2;
    }
    ms_export_opts o;
    ms_export_opts_init(&o);
    o.overwrite = overwrite;
    o.block_rows = block;
    if (isatty(STDERR_FILENO)) {
        o.progress = progress;
        o.progress_ctx = "export-ms";
    }
    ms_export_info info;
    if ((rc = ms_export(&e, dir, ms, &o, &info))) {
        fprintf(stderr, "harness export-ms: %s\n", e.msg[0] ? e.msg : ib_strerror(rc));
        return 1;
    }
    printf("store        %s/vis.h5\n", dir);
    printf("written      %s: %lld rows x %lld channels x %d pols, %d fields, %d antennas, "
           "%d scans\n", ms, (long long)info.nrow, (long long)info.nchan, info.npol,
           info.nfield, info.nant, info.nscan);
    printf("interval     %.6g s\n", info.interval);
    printf("time         %.3f s (blocks of %lld rows)\n", info.seconds,
           (long long)info.block_rows);
    return 0;
}
