/*
 * cmd_provenance.c: `harness provenance [--out FILE]` — what a run
 * records about where and with what it ran (res_provenance_collect: git
 * commit, compiler and flags, host, CPU, cores, memory, kernel, library
 * versions, environment, machine settings), as one JSON object whose
 * keys are res_provenance's field names. A Slurm job runs it on its
 * compute node and leaves provenance.json in the attempt's directory for
 * `harness ingest`; hx_provenance_read reads such a file back.
 */
#define _GNU_SOURCE
#include "harness/harness.h"
#include "results/results.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The file format is the results module's (docs/results.md,
 * "provenance.json"): these two are its harness-side names. */
json_t *hx_provenance_json(const res_provenance *p) { return res_provenance_json(p); }

int hx_provenance_read(ib_err *e, const char *path, res_provenance *p)
{
    json_t *o = NULL;
    int r = res_json_load(e, path, RES_SIDE_FILE_MAX, &o);
    if (r) return ib_error_wrap(e, "provenance");
    r = res_provenance_from_json(e, o, path, p);
    json_decref(o);
    return r;
}

int hx_cmd_provenance(int argc, char **argv)
{
    const char *out = NULL, *command = NULL;
    int help = 0;
    const ib_opt table[] = {
        {"out", IB_OPT_STR, &out, "FILE",
         "write the JSON to FILE (created: never over an existing file; whole or not at all)"},
        {"command", IB_OPT_STR, &command, "TEXT", "the command to record (default: none)"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("provenance", table, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    int rc;

    res_provenance *p = ib_calloc(1, sizeof *p);
    if (!p) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("provenance", &e);
    }
    res_provenance_collect(p);
    if (command && ib_path_fmt(&e, p->command, sizeof p->command, "%s", command)) {
        ib_free(p);
        return hx_fail("provenance", &e);
    }
    json_t *o = hx_provenance_json(p);
    if (!o) {
        ib_free(p);
        ib_error(&e, IB_ENOMEM, "out of memory describing this machine (%zu bytes)", sizeof *p);
        return hx_fail("provenance", &e);
    }
    if (out) {
        rc = res_provenance_write_file(&e, out, p);
    } else {
        rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                     fputc('\n', stdout) == EOF || fflush(stdout) != 0
                 ? ib_error(&e, IB_EIO, "cannot write to stdout")
                 : 0;
    }
    json_decref(o);
    ib_free(p);
    return rc ? hx_fail("provenance", &e) : 0;
}
