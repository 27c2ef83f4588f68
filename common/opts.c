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
#include <getopt.h>
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

/* Whether o takes no value: a flag, or a BOOL parameter. */
static int is_flag(const ib_opt *o)
{
    return o->kind == IB_OPT_FLAG ||
           (o->kind == IB_OPT_PARAM && ib_param_get(ib_param_by_option(o->name))->type == IB_PT_BOOL);
}

/*
 * getopt_long over a struct option array made from the table: option k
 * answers with val 256 + k; "help" also answers to -h. "-" at the head of
 * the option string returns arguments in order (as 1), whatever
 * POSIXLY_CORRECT says; ':' reports a missing value as ':'. getopt_long
 * would take an unambiguous prefix of a name: a prefix is refused here, so
 * that a script's option means one thing in every version.
 */
int ib_parse_opts(ib_err *e, const char *prog, const ib_opt *opts, int argc,
                  char **argv, char **pos, int *npos)
{
    size_t nopt = 0;
    while (opts[nopt].name) nopt++;
    struct option *lo = calloc(nopt + 1, sizeof *lo);
    char **av = calloc((size_t)argc + 2, sizeof *av);
    if (!lo || !av) {
        free(lo);
        free(av);
        return ib_error(e, IB_ENOMEM, "%s: out of memory", prog);
    }
    int has_h = 0;
    for (size_t k = 0; k < nopt; k++) {
        lo[k].name = opts[k].name;
        lo[k].has_arg = is_flag(&opts[k]) ? no_argument : required_argument;
        lo[k].val = 256 + (int)k;
        has_h |= strcmp(opts[k].name, "help") == 0;
    }
    av[0] = (char *)prog;
    for (int i = 0; i < argc; i++) av[i + 1] = argv[i];
    int ac = argc + 1, np = 0, rc = 0;
    const char *optstring = has_h ? "-:h" : "-:";
    int saved_opterr = opterr;
    opterr = 0;
    optind = 0; /* glibc: start afresh */
    for (;;) {
        int at = optind < 1 ? 1 : optind;
        int c = getopt_long(ac, av, optstring, lo, NULL);
        if (c == -1) break;
        if (c == 1) {
            pos[np++] = optarg;
            continue;
        }
        const char *text = at < ac ? av[at] : "";
        if (c == 'h') {
            for (size_t k = 0; k < nopt; k++)
                if (strcmp(opts[k].name, "help") == 0) rc = store(e, prog, &opts[k], NULL);
            if (rc) break;
            continue;
        }
        if (c >= 256) {
            const ib_opt *o = &opts[c - 256];
            int whole = strncmp(text, "--", 2) == 0 && strcspn(text + 2, "=") == strlen(o->name);
            if (!whole) {
                rc = ib_error(e, IB_EINVAL, "%s: unknown option '%.*s' (did you mean '--%s'?)",
                              prog, (int)strcspn(text, "="), text, o->name);
                break;
            }
            rc = store(e, prog, o, is_flag(o) ? NULL : optarg);
            if (rc) break;
            continue;
        }
        /* '?' or ':': which option, and what is wrong with it */
        if (optopt >= 256 && optopt < 256 + (int)nopt) {
            const ib_opt *o = &opts[optopt - 256];
            if (is_flag(o))
                rc = ib_error(e, IB_EINVAL, "%s: option '--%s' takes no value", prog, o->name);
            else
                rc = ib_error(e, IB_EINVAL, "%s: option '--%s' needs a value (%s)", prog,
                              o->name, o->arg ? o->arg : "value");
        } else if (strncmp(text, "--", 2) == 0) {
            size_t len = strcspn(text + 2, "=");
            const ib_opt *o = find_opt(opts, text + 2, len);
            if (o) /* an exact name getopt_long found ambiguous cannot happen; be safe */
                rc = ib_error(e, IB_EINVAL, "%s: bad use of option '--%s'", prog, o->name);
            else
                rc = ib_error(e, IB_EINVAL, "%s: unknown option '--%.*s'", prog,
                              (int)len, text + 2);
        } else {
            rc = ib_error(e, IB_EINVAL, "%s: unknown option '-%c' (options are --long%s)", prog,
                          optopt ? optopt : '?', has_h ? "; -h is --help" : "");
        }
        break;
    }
    if (!rc)
        while (optind < ac) pos[np++] = av[optind++];
    opterr = saved_opterr;
    optind = 1;
    free(lo);
    free(av);
    if (rc) return rc;
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

/* Words of text from column col on, wrapped before column 80 with
 * following lines indented to indent. */
static void put_wrapped(FILE *f, const char *text, int col, int indent)
{
    const char *p = text;
    int first = 1;
    while (*p) {
        size_t w = strcspn(p, " ");
        if (!first && col + 1 + (int)w > 79) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (!first) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", (int)w, p);
        col += (int)w;
        first = 0;
        p += w;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

/* An option's left column ("-h, --help", "--name ARG") and its help,
 * with a parameter's range and default. */
static void opt_text(const ib_opt *o, char *left, size_t nl, char *help, size_t nh)
{
    const char *arg = o->arg, *h = o->help;
    char range[160] = "";
    if (o->kind == IB_OPT_PARAM) {
        int id = ib_param_by_option(o->name);
        const ib_param *p = ib_param_get(id);
        arg = param_arg(p);
        h = p->help;
        ib_param_describe(id, range, sizeof range);
    }
    snprintf(left, nl, "%s--%s%s%s", strcmp(o->name, "help") == 0 ? "-h, " : "", o->name,
             arg ? " " : "", arg ? arg : "");
    snprintf(help, nh, "%s%s%s%s", h ? h : "", range[0] ? " (" : "", range, range[0] ? ")" : "");
}

void ib_print_opts(void *fp, const ib_opt *opts)
{
    FILE *f = fp;
    char left[128], help[1024];
    int width = 0;
    for (const ib_opt *o = opts; o->name; o++) {
        opt_text(o, left, sizeof left, help, sizeof help);
        int w = (int)strlen(left);
        if (w <= 28 && w > width) width = w;
    }
    int col = 2 + width + 2; /* where help texts start */
    for (const ib_opt *o = opts; o->name; o++) {
        opt_text(o, left, sizeof left, help, sizeof help);
        if ((int)strlen(left) > width) fprintf(f, "  %s\n%*s", left, col, "");
        else fprintf(f, "  %-*s  ", width, left);
        put_wrapped(f, help, col, col);
    }
}
