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
    int npos, ps = hx_parse("export-ms", opts, argc, argv, &npos, 2, 2);
    if (ps >= 0) return ps;
    const char *dir = argv[0], *ms = argv[1];
    if (block < 0) return hx_usage_error("export-ms", "--block-rows must be >= 0");
    ib_err e;
    ib_err_init(&e);
    ms_export_opts o;
    ms_export_opts_init(&o);
    o.overwrite = overwrite;
    o.block_rows = block;
    if (isatty(STDERR_FILENO)) {
        o.progress = progress;
        o.progress_ctx = "export-ms";
    }
    ms_export_info info;
    int rc;
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
