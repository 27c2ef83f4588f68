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

/* A field holding JSON text (libs, env, tuning) as the object itself;
 * text that does not parse stays a string. */
static json_t *json_field(const char *text)
{
    if (!text[0]) return json_object();
    json_t *o = json_loads(text, 0, NULL);
    return o ? o : json_string(text);
}

json_t *hx_provenance_json(const res_provenance *p)
{
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:I, s:s, s:o, s:o, s:o, s:s}",
                          "git_commit", p->git_commit, "git_dirty", p->git_dirty, "compiler",
                          p->compiler, "cflags", p->cflags, "host", p->host, "cpu_model",
                          p->cpu_model, "cores", p->cores, "mem_bytes", (json_int_t)p->mem_bytes,
                          "kernel", p->kernel, "libs", json_field(p->libs), "env",
                          json_field(p->env), "tuning", json_field(p->tuning), "command",
                          p->command);
    return o;
}

/* Copy string field key of o into out (n bytes); an object or array is
 * kept as its compact JSON text. */
static void get_text(json_t *o, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) {
        snprintf(out, n, "%s", json_string_value(v));
    } else if (json_is_object(v) || json_is_array(v)) {
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        if (s && strlen(s) < n) snprintf(out, n, "%s", s);
        free(s);
    }
}

static int64_t get_int(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int hx_provenance_read(ib_err *e, const char *path, res_provenance *p)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) return ib_error(e, IB_EPARSE, "provenance '%s' line %d: %s", path, je.line, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return ib_error(e, IB_EPARSE, "provenance '%s': not a JSON object", path);
    }
    memset(p, 0, sizeof *p);
    get_text(o, "git_commit", p->git_commit, sizeof p->git_commit);
    p->git_dirty = (int)get_int(o, "git_dirty", -1);
    get_text(o, "compiler", p->compiler, sizeof p->compiler);
    get_text(o, "cflags", p->cflags, sizeof p->cflags);
    get_text(o, "host", p->host, sizeof p->host);
    get_text(o, "cpu_model", p->cpu_model, sizeof p->cpu_model);
    p->cores = (int)get_int(o, "cores", -1);
    p->mem_bytes = get_int(o, "mem_bytes", -1);
    get_text(o, "kernel", p->kernel, sizeof p->kernel);
    get_text(o, "libs", p->libs, sizeof p->libs);
    get_text(o, "env", p->env, sizeof p->env);
    get_text(o, "tuning", p->tuning, sizeof p->tuning);
    get_text(o, "command", p->command, sizeof p->command);
    json_decref(o);
    return 0;
}

/* o as indented JSON into path: path.tmp-PID written whole, then renamed. */
static int write_json(ib_err *e, json_t *o, const char *path)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ib_error(e, IB_EINVAL, "path '%s' is too long", path);
    FILE *f = fopen(tmp, "wx");
    if (!f) return ib_error(e, IB_EIO, "cannot write '%s': %s", path, strerror(errno));
    int bad = json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF;
    bad |= ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    if (bad) {
        int err = errno;
        remove(tmp);
        return ib_error(e, IB_EIO, "cannot write '%s': %s", path, strerror(err));
    }
    return 0;
}

static void usage(FILE *f, const ib_opt *o)
{
    fprintf(f, "usage: harness provenance [--out FILE] [--command TEXT]\n\n"
               "Print what a run records about this machine and build (git commit, compiler,\n"
               "CPU, kernel, libraries, environment) as JSON, or write it to FILE.\n\n"
               "options:\n");
    ib_print_opts(f, o);
}

int hx_cmd_provenance(int argc, char **argv)
{
    const char *out = NULL, *command = NULL;
    int help = 0;
    const ib_opt table[] = {
        {"out", IB_OPT_STR, &out, "FILE", "write the JSON to FILE (whole or not at all)"},
        {"command", IB_OPT_STR, &command, "TEXT", "the command to record (default: none)"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    int npos = 0;
    char **posv = ib_calloc((size_t)argc + 1, sizeof *posv);
    if (!posv) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("provenance", &e);
    }
    int rc = ib_parse_opts(&e, "provenance", table, argc, argv, posv, &npos);
    if (!rc && help) {
        ib_free(posv);
        usage(stdout, table);
        return 0;
    }
    if (!rc && npos > 0)
        rc = ib_error(&e, IB_EINVAL, "unexpected argument '%s' (see --help)", posv[0]);
    ib_free(posv);
    if (rc) return hx_fail("provenance", &e);

    res_provenance *p = ib_calloc(1, sizeof *p);
    if (!p) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("provenance", &e);
    }
    res_provenance_collect(p);
    if (command) snprintf(p->command, sizeof p->command, "%s", command);
    json_t *o = hx_provenance_json(p);
    ib_free(p);
    if (!o) {
        ib_error(&e, IB_ENOMEM, "out of memory");
        return hx_fail("provenance", &e);
    }
    if (out) {
        rc = write_json(&e, o, out);
    } else {
        rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                     fputc('\n', stdout) == EOF || fflush(stdout) != 0
                 ? ib_error(&e, IB_EIO, "cannot write to stdout")
                 : 0;
    }
    json_decref(o);
    return rc ? hx_fail("provenance", &e) : 0;
}
