/*
 * opts.c: table-driven long-option parsing shared by the harness and the
 * imager, so that --help is generated from the same table that parses.
 */
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ib_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return IB_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return IB_EINVAL;
    *out = (int64_t)v;
    return 0;
}

int ib_parse_double(const char *s, double *out)
{
    if (!s || !*s) return IB_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return IB_EINVAL;
    *out = v;
    return 0;
}

static const ib_opt *find_opt(const ib_opt *opts, const char *name, size_t len)
{
    for (const ib_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static int store(ib_err *e, const char *prog, const ib_opt *o, const char *val)
{
    int64_t i;
    double d;
    switch (o->kind) {
    case IB_OPT_FLAG: *(int *)o->dst = 1; return 0;
    case IB_OPT_STR: *(const char **)o->dst = val; return 0;
    case IB_OPT_INT:
        if (ib_parse_i64(val, &i) || i < INT_MIN || i > INT_MAX)
            return ib_error(e, IB_EINVAL, "%s: option '--%s' expects an integer, got '%s'",
                            prog, o->name, val);
        *(int *)o->dst = (int)i;
        return 0;
    case IB_OPT_I64:
        if (ib_parse_i64(val, &i))
            return ib_error(e, IB_EINVAL, "%s: option '--%s' expects an integer, got '%s'",
                            prog, o->name, val);
        *(int64_t *)o->dst = i;
        return 0;
    case IB_OPT_DBL:
        if (ib_parse_double(val, &d))
            return ib_error(e, IB_EINVAL, "%s: option '--%s' expects a number, got '%s'",
                            prog, o->name, val);
        *(double *)o->dst = d;
        return 0;
    }
    return ib_error(e, IB_EINVAL, "%s: bad option table entry '%s'", prog, o->name);
}

int ib_parse_opts(ib_err *e, const char *prog, const ib_opt *opts, int argc,
                  char **argv, char **pos, int *npos)
{
    int np = 0, only_pos = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            if (!only_pos && strcmp(a, "--") == 0) { only_pos = 1; continue; }
            if (!only_pos && a[0] == '-' && a[1] != '\0' && a[1] != '-' &&
                !(a[1] >= '0' && a[1] <= '9'))
                return ib_error(e, IB_EINVAL, "%s: unknown option '%s' (options are --long)",
                                prog, a);
            pos[np++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const ib_opt *o = find_opt(opts, name, len);
        if (!o)
            return ib_error(e, IB_EINVAL, "%s: unknown option '--%.*s' (see --help)", prog,
                            (int)len, name);
        const char *val = NULL;
        if (o->kind == IB_OPT_FLAG) {
            if (eq)
                return ib_error(e, IB_EINVAL, "%s: option '--%s' takes no value", prog,
                                o->name);
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return ib_error(e, IB_EINVAL, "%s: option '--%s' needs a value (%s)", prog,
                            o->name, o->arg ? o->arg : "value");
        }
        int r = store(e, prog, o, val);
        if (r) return r;
    }
    *npos = np;
    return 0;
}

void ib_print_opts(void *fp, const ib_opt *opts)
{
    FILE *f = fp;
    for (const ib_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
}
