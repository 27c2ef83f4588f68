/*
 * params.c: the parameter table of params.h as data, and the one parser,
 * range check, canonical text and description of every parameter; the
 * checks across parameters and against a machine.
 */
#define _GNU_SOURCE
#include "params.h"
#include "common.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

/* The rows: column and label default to the name, stats to
 * "params.<name>"; the row's own fields override these defaults. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
static const ib_param table[IB_NPARAM] = {
#define IB_PARAM_ROW(id, nm, landing, ...)                                                    \
    [IB_P_##id] = {.name = nm, .column = nm, .label = nm, .stats = "params." nm, __VA_ARGS__},
    IB_PARAM_MAP(IB_PARAM_ROW)
#undef IB_PARAM_ROW
};
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

const ib_param *ib_param_get(int id)
{
    IB_ASSERT(id >= 0 && id < IB_NPARAM);
    return &table[id];
}

int ib_param_find(const char *name)
{
    for (int i = 0; name && i < IB_NPARAM; i++)
        if (strcmp(table[i].name, name) == 0) return i;
    return -1;
}

int ib_param_by_option(const char *option)
{
    for (int i = 0; option && i < IB_NPARAM; i++)
        if (table[i].option && strcmp(table[i].option, option) == 0) return i;
    return -1;
}

/* ---- words ----------------------------------------------------------- */

/* Index of t among the '|'-separated words, or -1. */
static int word_index(const char *words, const char *t)
{
    size_t len = strlen(t);
    int k = 0;
    for (const char *w = words; w; k++) {
        const char *bar = strchr(w, '|');
        size_t wl = bar ? (size_t)(bar - w) : strlen(w);
        if (wl == len && strncmp(w, t, len) == 0) return k;
        w = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* Word k into buf ("" when there is none). */
static void word_at(const char *words, int64_t k, char *buf, size_t n)
{
    buf[0] = '\0';
    const char *w = words;
    for (int64_t i = 0; w && i < k; i++) {
        w = strchr(w, '|');
        if (w) w++;
    }
    if (!w) return;
    const char *bar = strchr(w, '|');
    size_t wl = bar ? (size_t)(bar - w) : strlen(w);
    snprintf(buf, n, "%.*s", (int)wl, w);
}

/* "a, b or c" into buf. */
static void word_list(const char *words, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    int count = 1;
    for (const char *w = words; *w; w++) count += *w == '|';
    char one[64];
    for (int k = 0; k < count && len < n; k++) {
        word_at(words, k, one, sizeof one);
        int r = snprintf(buf + len, n - len, "%s%s", k == 0 ? "" : k == count - 1 ? " or " : ", ",
                         one);
        if (r < 0) break;
        len += (size_t)r;
    }
}

static const char weight_words[] = "natural|uniform|briggs";

/* ---- parsing ----------------------------------------------------------- */

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && n) vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return IB_EINVAL;
}

/* "in [0, 1]", "> 1 and <= 4", ... for a REAL row. */
static void real_range(const ib_param *p, char *buf, size_t n)
{
    int lo = !(p->flags & IB_PF_LO_OPEN), hi = !(p->flags & IB_PF_HI_OPEN);
    if (lo && hi) snprintf(buf, n, "in [%g, %g]", p->min, p->max);
    else snprintf(buf, n, "%s %g and %s %g", lo ? ">=" : ">", p->min, hi ? "<=" : "<", p->max);
}

static int in_real_range(const ib_param *p, double d)
{
    int lo = p->flags & IB_PF_LO_OPEN ? d > p->min : d >= p->min;
    int hi = p->flags & IB_PF_HI_OPEN ? d < p->max : d <= p->max;
    return lo && hi;
}

static void int_range(const ib_param *p, char *buf, size_t n)
{
    const char *zero = p->flags & IB_PF_ZERO_OR ? "0 or " : "";
    if (p->imax == INT64_MAX) snprintf(buf, n, "%s>= %lld", zero, (long long)p->imin);
    else snprintf(buf, n, "%sin %lld..%lld", zero, (long long)p->imin, (long long)p->imax);
}

static int valid_name(const char *t)
{
    size_t len = strlen(t);
    if (len == 0 || len >= 64 || t[0] == '.') return 0;
    return strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == len;
}

/* Parse t as a value of p; check its range when check is set (a default
 * such as mem_budget's 0, "none", is outside the range values may take). */
static int parse_value(const ib_param *p, const char *t, int check, ib_pval *out, char *why,
                       size_t n)
{
    memset(out, 0, sizeof *out);
    char range[96];
    int64_t v;
    double d;
    switch (p->type) {
    case IB_PT_INT:
        int_range(p, range, sizeof range);
        if (ib_parse_i64(t, &v))
            return fail(why, n, "%s must be %s integer %s, got '%s'", p->name,
                        p->flags & IB_PF_ODD ? "an odd" : "an", range, t);
        if (check && (p->flags & IB_PF_ODD) && v % 2 == 0)
            return fail(why, n, "%s must be odd, got %lld", p->name, (long long)v);
        if (check && (v < p->imin || v > p->imax) && !(v == 0 && (p->flags & IB_PF_ZERO_OR)))
            return fail(why, n, "%s must be %s, got %lld", p->name, range, (long long)v);
        out->i = v;
        break;
    case IB_PT_BYTES:
        if (ib_parse_bytes(t, &v))
            return fail(why, n, "%s must be a byte count (such as 4096, 64K, 1.5G or 2GiB), "
                                "got '%s'", p->name, t);
        if (check && v < p->imin)
            return fail(why, n, "%s must be at least %lld byte%s, got '%s'", p->name,
                        (long long)p->imin, p->imin == 1 ? "" : "s", t);
        if (check && v > p->imax)
            return fail(why, n, "%s must be at most %lld bytes, got '%s'", p->name,
                        (long long)p->imax, t);
        out->i = v;
        break;
    case IB_PT_REAL:
        real_range(p, range, sizeof range);
        if (ib_parse_double(t, &d) || (check && !in_real_range(p, d)))
            return fail(why, n, "%s must be a number %s, got '%s'", p->name, range, t);
        out->d = d;
        break;
    case IB_PT_BOOL:
        if (!strcmp(t, "true") || !strcmp(t, "1")) out->i = 1;
        else if (!strcmp(t, "false") || !strcmp(t, "0")) out->i = 0;
        else return fail(why, n, "%s must be true or false, got '%s'", p->name, t);
        break;
    case IB_PT_WORD: {
        int k = word_index(p->words, t);
        if (k < 0) {
            word_list(p->words, range, sizeof range);
            return fail(why, n, "%s must be %s, got '%s'", p->name, range, t);
        }
        out->i = k;
        break;
    }
    case IB_PT_WEIGHT: {
        int k = strncmp(t, "briggs:", 7) == 0 ? 2 : word_index(weight_words, t);
        if (k == 2 && t[6] == ':' &&
            (ib_parse_double(t + 7, &d) || (check && !in_real_range(p, d))))
            k = -1;
        if (k < 0)
            return fail(why, n, "%s must be natural, uniform or briggs:R with R in [%g, %g], "
                                "got '%s'", p->name, p->min, p->max, t);
        out->i = k;
        if (k == 2 && t[6] == ':') {
            /* R as the canonical text shows it (%g), so that a value and
             * its text are one */
            char b[32];
            snprintf(b, sizeof b, "%g", d);
            out->d = strtod(b, NULL);
        }
        break;
    }
    case IB_PT_IMAGE: {
        int nx, ny;
        if (ib_parse_image(t, &nx, &ny) ||
            (check && (nx < p->imin || ny < p->imin || nx > p->imax || ny > p->imax ||
                       nx % 2 || ny % 2)))
            return fail(why, n, "%s must be NX or NXxNY, even, %lld..%lld, got '%s'", p->name,
                        (long long)p->imin, (long long)p->imax, t);
        out->i = nx;
        out->j = ny;
        break;
    }
    case IB_PT_NAME:
        if (!valid_name(t))
            return fail(why, n, "%s must be a name of letters, digits, '.', '_' and '-' (not "
                                "a path), got '%s'", p->name, t);
        break;
    }
    out->set = 1;
    return 0;
}

int ib_param_parse(int id, const char *text, ib_pval *out, char *why, size_t n)
{
    const ib_param *p = ib_param_get(id);
    if (!text) text = "";
    return parse_value(p, text, 1, out, why, n);
}

int ib_param_derived(int id)
{
    const char *def = ib_param_get(id)->def;
    return !def || strcmp(def, "auto") == 0;
}

void ib_param_default(int id, ib_pval *out)
{
    memset(out, 0, sizeof *out);
    if (ib_param_derived(id)) return;
    int r = parse_value(ib_param_get(id), ib_param_get(id)->def, 0, out, NULL, 0);
    IB_ASSERT(r == 0); /* the table's defaults parse */
    out->set = 0;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void shortest(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void ib_param_text(int id, const ib_pval *v, char *buf, size_t n)
{
    const ib_param *p = ib_param_get(id);
    ib_pval def;
    if (!v || !v->set) {
        if (ib_param_derived(id)) {
            snprintf(buf, n, "%s", p->def ? p->def : "");
            return;
        }
        ib_param_default(id, &def);
        v = &def;
    }
    switch (p->type) {
    case IB_PT_INT:
    case IB_PT_BYTES: snprintf(buf, n, "%lld", (long long)v->i); break;
    case IB_PT_REAL: shortest(buf, n, v->d); break;
    case IB_PT_BOOL: snprintf(buf, n, "%s", v->i ? "true" : "false"); break;
    case IB_PT_WORD: word_at(p->words, v->i, buf, n); break;
    case IB_PT_WEIGHT:
        if (v->i == 2) snprintf(buf, n, "briggs:%g", v->d);
        else word_at(weight_words, v->i, buf, n);
        break;
    case IB_PT_IMAGE: snprintf(buf, n, "%lldx%d", (long long)v->i, v->j); break;
    case IB_PT_NAME: snprintf(buf, n, "%s", ""); break;
    }
}

int ib_param_equal(int id, const ib_pval *a, const ib_pval *b)
{
    if (a->set != b->set) return 0;
    switch (ib_param_get(id)->type) {
    case IB_PT_REAL: return a->d == b->d;
    case IB_PT_WEIGHT: return a->i == b->i && (a->i != 2 || a->d == b->d);
    case IB_PT_IMAGE: return a->i == b->i && a->j == b->j;
    default: return a->i == b->i;
    }
}

int ib_param_differs(int id, const ib_pval *v)
{
    if (!v->set) return 0;
    if (ib_param_derived(id)) return 1;
    ib_pval def;
    ib_param_default(id, &def);
    def.set = 1;
    return !ib_param_equal(id, v, &def);
}

void ib_param_describe(int id, char *buf, size_t n)
{
    const ib_param *p = ib_param_get(id);
    char range[128] = "";
    switch (p->type) {
    case IB_PT_INT: {
        char r[96];
        int_range(p, r, sizeof r);
        snprintf(range, sizeof range, "%sinteger %s", p->flags & IB_PF_ODD ? "odd " : "", r);
        break;
    }
    case IB_PT_BYTES: snprintf(range, sizeof range, "bytes: 4096, 64K, 1.5G, 2GiB"); break;
    case IB_PT_REAL: real_range(p, range, sizeof range); break;
    case IB_PT_WEIGHT: snprintf(range, sizeof range, "R in [%g, %g]", p->min, p->max); break;
    case IB_PT_IMAGE:
        snprintf(range, sizeof range, "even, %lld..%lld", (long long)p->imin,
                 (long long)p->imax);
        break;
    default: break;
    }
    const char *def = p->def;
    if (p->type == IB_PT_BOOL) def = NULL; /* a flag: off unless given */
    if (p->type == IB_PT_BYTES && def && !strcmp(def, "0")) def = "0, none";
    snprintf(buf, n, "%s%s%s%s", range, range[0] && def ? "; " : "", def ? "default " : "",
             def ? def : "");
}

/* ---- checks across parameters ------------------------------------------ */

/* v[id] if given, else the default. */
static ib_pval eff(const ib_pval v[IB_NPARAM], int id)
{
    ib_pval d;
    if (v[id].set) return v[id];
    ib_param_default(id, &d);
    return d;
}

/* Smallest even size >= want (a good FFT size is at least this). */
static double padded(double n, double padding)
{
    double g = ceil(padding * n);
    return g + fmod(g, 2.0);
}

double ib_param_min_bytes(const ib_pval v[IB_NPARAM])
{
    if (!v[IB_P_IMAGE].set) return 0;
    double nx = (double)v[IB_P_IMAGE].i, ny = (double)v[IB_P_IMAGE].j;
    double pad = eff(v, IB_P_PADDING).d, es = eff(v, IB_P_PRECISION).i ? 8 : 4;
    double gx = padded(nx, pad), gy = padded(ny, pad);
    double grid = gx * gy * 2 * es, half = gy * (floor(gx / 2) + 1) * 2 * es;
    double plane = nx * ny * 4;
    return (double)eff(v, IB_P_THREADS).i * (grid + half + plane);
}

/* "1.5 GB" */
static void human(double b, char *buf, size_t n)
{
    if (b >= 1e9) snprintf(buf, n, "%.3g GB", b / 1e9);
    else if (b >= 1e6) snprintf(buf, n, "%.3g MB", b / 1e6);
    else snprintf(buf, n, "%.0f bytes", b);
}

/* "image 65536x65536 at padding 1.5 needs at least 77.3 GB per rank (2 threads x a
 * 98304x98304 grid)" into buf. */
static void need_text(const ib_pval v[IB_NPARAM], double need, char *buf, size_t n)
{
    char img[48], pad[32], h[32];
    ib_param_text(IB_P_IMAGE, &v[IB_P_IMAGE], img, sizeof img);
    ib_pval p = eff(v, IB_P_PADDING);
    ib_param_text(IB_P_PADDING, &p, pad, sizeof pad);
    human(need, h, sizeof h);
    long long th = (long long)eff(v, IB_P_THREADS).i;
    snprintf(buf, n, "image %s at padding %s needs at least %s per rank (%lld thread%s, each "
             "with a %.0fx%.0f grid)", img, pad, h, th, th == 1 ? "" : "s",
             padded((double)v[IB_P_IMAGE].i, p.d), padded((double)v[IB_P_IMAGE].j, p.d));
}

int ib_params_check_set(const ib_pval v[IB_NPARAM], char *why, size_t n)
{
    double t = eff(v, IB_P_MEM_TARGET).d, s = eff(v, IB_P_MEM_SPILL).d,
           pz = eff(v, IB_P_MEM_PAUSE).d;
    if (!(t <= s && s <= pz))
        return fail(why, n, "memory fractions must satisfy mem_target <= mem_spill <= "
                            "mem_pause, got %g, %g, %g", t, s, pz);
    if (v[IB_P_MEM_BUDGET].set) {
        double need = ib_param_min_bytes(v), allow = pz * (double)v[IB_P_MEM_BUDGET].i;
        if (need > allow) {
            char text[256], h[32];
            need_text(v, need, text, sizeof text);
            human(allow, h, sizeof h);
            return fail(why, n, "%s, more than its budget allows (mem_pause x mem_budget = %s)",
                        text, h);
        }
    }
    return 0;
}

void ib_machine_probe(ib_machine *m)
{
    memset(m, 0, sizeof *m);
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    m->cores = c > 0 ? c : 0;
    struct sysinfo si;
    if (sysinfo(&si) == 0)
        m->mem_bytes = ((double)si.totalram + (double)si.totalswap) * (double)si.mem_unit;
}

int ib_params_check_machine(const ib_pval v[IB_NPARAM], const ib_machine *m, char *why,
                            size_t n, char *warn, size_t wn)
{
    if (warn && wn) warn[0] = '\0';
    double need = ib_param_min_bytes(v), mem = m->mem_bytes;
    char text[256], h[32];
    if (mem > 0 && need > mem) {
        need_text(v, need, text, sizeof text);
        human(mem, h, sizeof h);
        return fail(why, n, "%s, more than this machine's %s of memory and swap", text, h);
    }
    long long ranks = (long long)eff(v, IB_P_NODES).i, threads = (long long)eff(v, IB_P_THREADS).i;
    size_t len = 0;
    if (warn && wn && m->cores > 0 && ranks * threads > m->cores) {
        int r = snprintf(warn, wn, "%lld rank%s x %lld thread%s oversubscribe this machine's "
                         "%ld core%s", ranks, ranks == 1 ? "" : "s", threads,
                         threads == 1 ? "" : "s", m->cores, m->cores == 1 ? "" : "s");
        len = r > 0 ? (size_t)r : 0;
    }
    if (warn && len < wn && mem > 0 && need * (double)ranks > mem) {
        human(need * (double)ranks, text, sizeof text);
        human(mem, h, sizeof h);
        snprintf(warn + len, wn - len, "%s%lld ranks need at least %s, more than this "
                 "machine's %s of memory and swap", len ? "; " : "", ranks, text, h);
    }
    return 0;
}
