/*
 * opts.c: table-driven long-option parsing shared by the harness and the
 * imager, so that --help is generated from the same table that parses;
 * options of cell parameters are parsed by the parameter table
 * (params.c); and the small parsers of numbers, byte counts and image
 * sizes that every module shares.
 */
#include "common.h"
#include "params.h"

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

int ib_parse_bytes(const char *s, int64_t *out)
{
    if (!s || !(*s >= '0' && *s <= '9')) return IB_EINVAL;
    size_t ndig = strspn(s, "0123456789");
    const char *p = s + ndig;
    int whole = *p != '.';
    if (!whole) {
        size_t nfrac = strspn(p + 1, "0123456789");
        if (nfrac == 0) return IB_EINVAL;
        p += 1 + nfrac;
    }
    int shift = 0;
    switch (*p) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
    }
    const char *q = p + (shift != 0);
    if (shift && *q == 'i') q++;
    if (*q == 'B' || *q == 'b') q++;
    if (*q) return IB_EINVAL;
    const int64_t limit = INT64_C(1) << 62;
    if (whole) {
        /* exact: digits, then the multiple */
        char digits[32];
        if (ndig >= sizeof digits) return IB_EINVAL;
        memcpy(digits, s, ndig);
        digits[ndig] = '\0';
        int64_t v;
        if (ib_parse_i64(digits, &v) || v > (limit >> shift)) return IB_EINVAL;
        *out = v << shift;
        return 0;
    }
    char num[64];
    size_t len = (size_t)(p - s);
    if (len >= sizeof num) return IB_EINVAL;
    memcpy(num, s, len);
    num[len] = '\0';
    double v = strtod(num, NULL) * (double)(INT64_C(1) << shift);
    if (!(v <= (double)limit) || v != floor(v)) return IB_EINVAL;
    *out = (int64_t)v;
    return 0;
}

int ib_parse_image(const char *s, int *nx, int *ny)
{
    if (!s) return IB_EINVAL;
    int64_t v[2];
    const char *p = s;
    for (int k = 0; k < 2; k++) {
        size_t nd = strspn(p, "0123456789");
        char digits[16];
        if (nd == 0 || nd >= sizeof digits) return IB_EINVAL;
        memcpy(digits, p, nd);
        digits[nd] = '\0';
        if (ib_parse_i64(digits, &v[k]) || v[k] > INT_MAX) return IB_EINVAL;
        p += nd;
        if (k == 0) {
            if (*p == '\0') {
                v[1] = v[0];
                break;
            }
            if (*p != 'x' && *p != 'X') return IB_EINVAL;
            p++;
        } else if (*p) {
            return IB_EINVAL;
        }
    }
    *nx = (int)v[0];
    *ny = (int)v[1];
    return 0;
}

ib_opt ib_param_opt(int id, ib_pval *dst)
{
    const ib_param *p = ib_param_get(id);
    ib_opt o = {.name = p->option, .kind = IB_OPT_PARAM, .dst = dst, .arg = p->arg,
                .help = p->help};
    return o;
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
    case IB_OPT_PARAM: {
        char why[512];
        int id = ib_param_by_option(o->name);
        IB_ASSERT(id >= 0);
        if (ib_param_get(id)->type == IB_PT_BOOL) val = "true";
        if (ib_param_parse(id, val, o->dst, why, sizeof why))
            return ib_error(e, IB_EINVAL, "%s: option '--%s': %s", prog, o->name, why);
        return 0;
    }
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
        if (o->kind == IB_OPT_FLAG || (o->kind == IB_OPT_PARAM &&
                                       ib_param_get(ib_param_by_option(o->name))->type ==
                                           IB_PT_BOOL)) {
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

/* The placeholder of a parameter's option: its own, else its words, else
 * one from its type; NULL for a flag. */
static const char *param_arg(const ib_param *p)
{
    if (p->arg) return p->arg;
    switch (p->type) {
    case IB_PT_BOOL: return NULL;
    case IB_PT_WORD: return p->words;
    case IB_PT_REAL: return "X";
    case IB_PT_BYTES: return "BYTES";
    default: return "N";
    }
}

void ib_print_opts(void *fp, const ib_opt *opts)
{
    FILE *f = fp;
    for (const ib_opt *o = opts; o->name; o++) {
        char left[96], range[160] = "";
        const char *arg = o->arg, *help = o->help;
        if (o->kind == IB_OPT_PARAM) {
            int id = ib_param_by_option(o->name);
            const ib_param *p = ib_param_get(id);
            arg = param_arg(p);
            help = p->help;
            ib_param_describe(id, range, sizeof range);
        }
        snprintf(left, sizeof left, "--%s%s%s", o->name, arg ? " " : "", arg ? arg : "");
        if (strlen(left) > 26) fprintf(f, "  %s\n  %-26s %s", left, "", help);
        else fprintf(f, "  %-26s %s", left, help);
        fprintf(f, "%s%s%s\n", range[0] ? " (" : "", range, range[0] ? ")" : "");
    }
}
