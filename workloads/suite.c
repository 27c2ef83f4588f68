/*
 * suite.c: benchmark suites. Reads a suite file with libyaml's document
 * API, validates every key and value against what the imager accepts
 * (each error quoting file, line, column and what was expected), resolves
 * the datasets through their specs and the generator's cache key, and
 * expands the parameter axes into cells: a full matrix over the axes, zip
 * groups varying together, exclude rules dropping cells. Each cell gets a
 * canonical parameter JSON and its SHA-256 as content hash.
 */
#define _GNU_SOURCE
#include "workloads/suite.h"
#include "workloads/workloads.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_SUITE_BYTES (1 << 20)
#define MAX_CELLS 100000
#define MAX_ZIP 16

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------- */

typedef struct sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
} sha256;

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(sha256 *s, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
                      sha_k[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha_update(sha256 *s, const unsigned char *p, size_t n)
{
    s->len += n;
    while (n > 0) {
        size_t take = 64 - s->nbuf < n ? 64 - s->nbuf : n;
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += take;
        p += take;
        n -= take;
        if (s->nbuf == 64) {
            sha_block(s, s->buf);
            s->nbuf = 0;
        }
    }
}

void wl_suite_sha256(const void *data, size_t len, char hex[65])
{
    sha256 s = {.h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                      0x1f83d9ab, 0x5be0cd19}};
    sha_update(&s, data, len);
    uint64_t bits = s.len * 8;
    unsigned char pad = 0x80, zero = 0, lenbuf[8];
    sha_update(&s, &pad, 1);
    while (s.nbuf != 56) sha_update(&s, &zero, 1);
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(&s, lenbuf, 8);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", s.h[i]);
}

/* ---- values ------------------------------------------------------------ */

static const char *const axis_names[WL_NAXIS] = {
#define WL_AXIS_NAME(name, text) text,
    WL_AXIS_MAP(WL_AXIS_NAME)
#undef WL_AXIS_NAME
};

const char *wl_suite_axis_name(int axis)
{
    return axis >= 0 && axis < WL_NAXIS ? axis_names[axis] : NULL;
}

static int axis_find(const char *name)
{
    for (int i = 0; i < WL_NAXIS; i++)
        if (strcmp(axis_names[i], name) == 0) return i;
    return -1;
}

/* One validated axis value: ints (and mem_budget) in i, padding in d,
 * words in s (weight normalised to "briggs:%g"). */
typedef struct axval {
    int64_t i;
    double d;
    char s[32];
} axval;

static int axval_eq(int axis, const axval *a, const axval *b)
{
    switch (axis) {
    case WL_AX_PADDING: return a->d == b->d;
    case WL_AX_GRIDDER:
    case WL_AX_WEIGHT:
    case WL_AX_SCHEDULE:
    case WL_AX_IMAGER:
    case WL_AX_PRECISION: return strcmp(a->s, b->s) == 0;
    default: return a->i == b->i;
    }
}

static int parse_int(const char *t, int64_t *v)
{
    return ib_parse_i64(t, v);
}

/* Bytes with an optional K/M/G/T suffix (powers of 1024, optional B/iB). */
static int parse_bytes(const char *t, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || end == t || v <= 0) return -1;
    int64_t mul = 1;
    if (*end) {
        switch (toupper((unsigned char)*end)) {
        case 'K': mul = 1LL << 10; break;
        case 'M': mul = 1LL << 20; break;
        case 'G': mul = 1LL << 30; break;
        case 'T': mul = 1LL << 40; break;
        default: return -1;
        }
        end++;
        if (*end == 'i') end++;
        if (*end == 'B' || *end == 'b') end++;
        if (*end) return -1;
    }
    if (v > INT64_MAX / mul) return -1;
    *out = (int64_t)v * mul;
    return 0;
}

/*
 * Validate text as a value of axis; 0 and *out, or -1 with why filled
 * ("support must be odd, got 4").
 */
static int axis_value(int axis, const char *t, axval *out, char *why, size_t n)
{
    memset(out, 0, sizeof *out);
    const char *name = axis_names[axis];
    int64_t v;
    double d;
    switch (axis) {
    case WL_AX_CHUNKS:
    case WL_AX_ROW_CHUNKS:
    case WL_AX_NODES:
    case WL_AX_THREADS:
        if (parse_int(t, &v) || v < 1 || v > 1000000) {
            snprintf(why, n, "%s must be an integer >= 1, got '%s'", name, t);
            return -1;
        }
        out->i = v;
        return 0;
    case WL_AX_SUPPORT:
        if (parse_int(t, &v)) {
            snprintf(why, n, "support must be an odd integer in 3..51, got '%s'", t);
            return -1;
        }
        if (v % 2 == 0) {
            snprintf(why, n, "support must be odd, got %lld", (long long)v);
            return -1;
        }
        if (v < 3 || v > 51) {
            snprintf(why, n, "support must be in 3..51, got %lld", (long long)v);
            return -1;
        }
        out->i = v;
        return 0;
    case WL_AX_GRIDDER:
        if (strcmp(t, "standard") && strcmp(t, "mosaic")) {
            snprintf(why, n, "gridder must be standard or mosaic, got '%s'", t);
            return -1;
        }
        snprintf(out->s, sizeof out->s, "%s", t);
        return 0;
    case WL_AX_PRECISION:
        if (strcmp(t, "float") && strcmp(t, "double")) {
            snprintf(why, n, "precision must be float or double, got '%s'", t);
            return -1;
        }
        snprintf(out->s, sizeof out->s, "%s", t);
        return 0;
    case WL_AX_WEIGHT:
        if (!strcmp(t, "natural") || !strcmp(t, "uniform")) {
            snprintf(out->s, sizeof out->s, "%s", t);
            return 0;
        }
        if (strncmp(t, "briggs:", 7) == 0 && !ib_parse_double(t + 7, &d) && d >= -2 &&
            d <= 2) {
            out->d = d;
            snprintf(out->s, sizeof out->s, "briggs:%g", d);
            return 0;
        }
        snprintf(why, n, "weight must be natural, uniform or briggs:R with R in [-2, 2], "
                         "got '%s'", t);
        return -1;
    case WL_AX_MEM_BUDGET:
        if (parse_bytes(t, &v)) {
            snprintf(why, n, "mem_budget must be a positive byte count (suffix K, M, G or T "
                             "allowed), got '%s'", t);
            return -1;
        }
        out->i = v;
        return 0;
    case WL_AX_PADDING:
        if (ib_parse_double(t, &d) || d < 1 || d > 16) {
            snprintf(why, n, "padding must be a number in [1, 16], got '%s'", t);
            return -1;
        }
        out->d = d;
        return 0;
    case WL_AX_SCHEDULE:
        if (strcmp(t, "static") && strcmp(t, "dynamic") && strcmp(t, "locality")) {
            snprintf(why, n, "schedule must be static, dynamic or locality, got '%s'", t);
            return -1;
        }
        snprintf(out->s, sizeof out->s, "%s", t);
        return 0;
    case WL_AX_IMAGER:
        if (strcmp(t, "imbench") && strcmp(t, "wsclean")) {
            snprintf(why, n, "imager must be imbench or wsclean, got '%s'", t);
            return -1;
        }
        snprintf(out->s, sizeof out->s, "%s", t);
        return 0;
    case WL_AX_SERIAL_WRITE:
    case WL_AX_FSYNC:
        if (!strcmp(t, "true") || !strcmp(t, "1")) out->i = 1;
        else if (!strcmp(t, "false") || !strcmp(t, "0")) out->i = 0;
        else {
            snprintf(why, n, "%s must be true or false, got '%s'", wl_suite_axis_name(axis), t);
            return -1;
        }
        return 0;
    }
    snprintf(why, n, "unknown axis %d", axis);
    return -1;
}

static int parse_image(const char *t, int *nx, int *ny)
{
    char *end;
    errno = 0;
    long x = strtol(t, &end, 10), y;
    if (errno || end == t || x < 1 || x > 65536) return -1;
    if (*end == '\0') y = x;
    else {
        if (*end != 'x' && *end != 'X') return -1;
        const char *s = end + 1;
        y = strtol(s, &end, 10);
        if (errno || end == s || *end || y < 1 || y > 65536) return -1;
    }
    /* what the imager accepts (its --image): even sizes only */
    if (x < 2 || y < 2 || x % 2 || y % 2) return -1;
    *nx = (int)x;
    *ny = (int)y;
    return 0;
}

/* ---- cells -------------------------------------------------------------- */

static void cell_set_axis(wl_cell *c, int axis, const axval *v)
{
    switch (axis) {
    case WL_AX_CHUNKS: c->chunks = (int)v->i; break;
    case WL_AX_ROW_CHUNKS: c->row_chunks = (int)v->i; break;
    case WL_AX_NODES: c->nodes = (int)v->i; break;
    case WL_AX_THREADS: c->threads = (int)v->i; break;
    case WL_AX_SUPPORT: c->support = (int)v->i; break;
    case WL_AX_GRIDDER: snprintf(c->gridder, sizeof c->gridder, "%s", v->s); break;
    case WL_AX_WEIGHT: snprintf(c->weight, sizeof c->weight, "%s", v->s); break;
    case WL_AX_PRECISION: snprintf(c->precision, sizeof c->precision, "%s", v->s); break;
    case WL_AX_MEM_BUDGET: c->mem_budget = v->i; break;
    case WL_AX_PADDING: c->padding = v->d; break;
    case WL_AX_SCHEDULE: snprintf(c->schedule, sizeof c->schedule, "%s", v->s); break;
    case WL_AX_SERIAL_WRITE: c->serial_write = (int)v->i; break;
    case WL_AX_FSYNC: c->fsync = (int)v->i; break;
    case WL_AX_IMAGER:
        /* "imbench" is the default and stays out of params and hash */
        snprintf(c->imager, sizeof c->imager, "%s", strcmp(v->s, "wsclean") ? "" : "wsclean");
        break;
    }
}

json_t *wl_suite_cell_params(const wl_cell *c)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
#define SET(k, v) bad |= json_object_set_new(o, k, v)
    SET("dataset", json_string(c->dataset));
    if (c->dataset_key[0]) SET("dataset_key", json_string(c->dataset_key));
    SET("scale", json_real(c->scale));
    SET("seed", json_integer(c->seed));
    if (c->chans) SET("chans", json_integer(c->chans));
    if (c->times) SET("times", json_integer(c->times));
    if (c->image_nx) {
        char img[32];
        snprintf(img, sizeof img, "%dx%d", c->image_nx, c->image_ny);
        SET("image", json_string(img));
    }
    if (c->chunks) SET("chunks", json_integer(c->chunks));
    /* 1 is the imager's default: out of params, so hashes stay as they were */
    if (c->row_chunks > 1) SET("row_chunks", json_integer(c->row_chunks));
    SET("nodes", json_integer(c->nodes > 0 ? c->nodes : 1));
    if (c->threads) SET("threads", json_integer(c->threads));
    if (c->support) SET("support", json_integer(c->support));
    if (c->gridder[0]) SET("gridder", json_string(c->gridder));
    if (c->weight[0]) SET("weight", json_string(c->weight));
    if (c->precision[0]) SET("precision", json_string(c->precision));
    if (c->mem_budget) SET("mem_budget", json_integer(c->mem_budget));
    if (c->padding > 0) SET("padding", json_real(c->padding));
    if (c->schedule[0]) SET("schedule", json_string(c->schedule));
    if (c->serial_write) SET("serial_write", json_integer(1));
    if (c->fsync) SET("fsync", json_integer(1));
    if (wl_cell_is_wsclean(c)) SET("imager", json_string("wsclean"));
#undef SET
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* params_json and hash from the other fields. */
static int cell_finish(ib_err *e, wl_cell *c)
{
    json_t *o = wl_suite_cell_params(c);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!s) return ib_error(e, IB_ENOMEM, "out of memory encoding a cell");
    size_t n = strlen(s);
    if (n >= sizeof c->params_json) {
        free(s);
        return ib_error(e, IB_EOVERFLOW, "cell parameters too long");
    }
    memcpy(c->params_json, s, n + 1);
    free(s);
    wl_suite_sha256(c->params_json, n, c->hash);
    return 0;
}

int wl_cell_is_wsclean(const wl_cell *c)
{
    return strcmp(c->imager, "wsclean") == 0;
}

void wl_suite_cell_label(const wl_cell *c, char *buf, size_t n)
{
    size_t len = 0;
    int k = snprintf(buf, n, "%s", c->dataset);
#define ADD(...)                                                           \
    do {                                                                   \
        if (k >= 0 && (size_t)k < n - len) {                               \
            len += (size_t)k;                                              \
            k = snprintf(buf + len, n - len, __VA_ARGS__);                 \
        }                                                                  \
    } while (0)
    if (c->chunks) ADD(" chunks=%d", c->chunks);
    if (c->row_chunks > 1) ADD(" row_chunks=%d", c->row_chunks);
    ADD(" nodes=%d", c->nodes);
    if (c->threads) ADD(" threads=%d", c->threads);
    if (c->support) ADD(" support=%d", c->support);
    if (c->gridder[0]) ADD(" gridder=%s", c->gridder);
    if (c->weight[0]) ADD(" weight=%s", c->weight);
    if (c->precision[0]) ADD(" precision=%s", c->precision);
    if (c->mem_budget) ADD(" mem_budget=%lld", (long long)c->mem_budget);
    if (c->padding > 0) ADD(" padding=%g", c->padding);
    if (c->schedule[0]) ADD(" schedule=%s", c->schedule);
    if (c->serial_write) ADD("%s", " serial_write");
    if (c->fsync) ADD("%s", " fsync");
    if (wl_cell_is_wsclean(c)) ADD("%s", " imager=wsclean");
    ADD("%s", "");
#undef ADD
}

/* The generator options a cell's dataset fields stand for. */
static void gen_opts(const wl_cell *c, wl_gen_opts *o)
{
    wl_gen_opts_init(o);
    o->scale = c->scale;
    o->seed = (uint64_t)c->seed;
    if (c->chans) o->chans = c->chans;
    if (c->times) o->times = c->times;
    if (c->image_nx) {
        o->image_nx = c->image_nx;
        o->image_ny = c->image_ny;
    }
}

/* ---- the suite file ------------------------------------------------------ */

typedef struct axis {
    int set;
    size_t n;
    axval *v;
    yaml_node_t *node;
} axis;

typedef struct dsentry {
    wl_cell base;             /* dataset fields filled */
    wl_dataset spec;
    yaml_node_t *node;
    axis ax[WL_NAXIS];        /* overrides (set = 1) */
} dsentry;

typedef struct zipgroup {
    int n, members[WL_NAXIS];
    yaml_node_t *node;
} zipgroup;

/* An exclude rule: for each axis (and the dataset) a set of values. */
typedef struct rule {
    axis ax[WL_NAXIS];
    size_t ndatasets;
    char (*datasets)[64];
} rule;

typedef struct parser {
    ib_err *e;
    const char *file;
    yaml_document_t doc;
    /* global settings */
    char name[64];
    double scale;
    int64_t seed, chans, times;
    int image_nx, image_ny;
    double timeout;
    int repeats, warmup;
    axis ax[WL_NAXIS];
    int order[WL_NAXIS], norder;   /* axes in order of appearance */
    dsentry *ds;
    size_t nds;
    zipgroup zip[MAX_ZIP];
    int nzip;
    rule *rules;
    size_t nrules;
    const char *datasets_dir;
} parser;

static int perr(parser *p, yaml_node_t *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(parser *p, yaml_node_t *n, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!n) return ib_error(p->e, code, "suite '%s': %s", p->file, msg);
    return ib_error(p->e, code, "suite '%s' line %zu column %zu: %s", p->file,
                    n->start_mark.line + 1, n->start_mark.column + 1, msg);
}

static yaml_node_t *node(parser *p, yaml_node_item_t i)
{
    return yaml_document_get_node(&p->doc, i);
}

static const char *kind_name(yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static const char *scalar(yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Mapping walk with duplicate-key and key-type checks. */
static int check_keys(parser *p, yaml_node_t *map, const char *what, const char *const *keys)
{
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
         a++) {
        yaml_node_t *k = node(p, a->key);
        const char *ks = scalar(k);
        if (!ks) return perr(p, k, IB_EPARSE, "%s keys must be scalars, got %s", what,
                             kind_name(k));
        int known = 0;
        for (int i = 0; keys[i]; i++) known |= strcmp(keys[i], ks) == 0;
        if (!known) {
            char list[512] = "";
            for (int i = 0; keys[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, keys[i], sizeof list - strlen(list) - 1);
            }
            return perr(p, k, IB_EPARSE, "unknown key '%s' in %s (expected one of: %s)", ks,
                        what, list);
        }
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(node(p, b->key));
            if (kb && strcmp(kb, ks) == 0)
                return perr(p, k, IB_EPARSE, "duplicate key '%s' in %s", ks, what);
        }
    }
    return 0;
}

static int get_number(parser *p, yaml_node_t *n, const char *key, double lo, double hi,
                      int lo_open, double *out)
{
    const char *t = scalar(n);
    double d;
    if (!t || ib_parse_double(t, &d) || (lo_open ? d <= lo : d < lo) || d > hi) {
        if (!t) return perr(p, n, IB_EPARSE, "'%s' must be a number, got %s", key, kind_name(n));
        if (lo_open)
            return perr(p, n, IB_EPARSE, "'%s' must be a number > %g and <= %g, got '%s'", key,
                        lo, hi, t);
        return perr(p, n, IB_EPARSE, "'%s' must be a number in [%g, %g], got '%s'", key, lo,
                    hi, t);
    }
    *out = d;
    return 0;
}

static int get_int(parser *p, yaml_node_t *n, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    const char *t = scalar(n);
    int64_t v;
    if (!t) return perr(p, n, IB_EPARSE, "'%s' must be an integer, got %s", key, kind_name(n));
    if (ib_parse_i64(t, &v) || v < lo || v > hi)
        return perr(p, n, IB_EPARSE, "'%s' must be an integer in %lld..%lld, got '%s'", key,
                    (long long)lo, (long long)hi, t);
    *out = v;
    return 0;
}

static int get_image(parser *p, yaml_node_t *n, int *nx, int *ny)
{
    const char *t = scalar(n);
    if (!t || parse_image(t, nx, ny))
        return perr(p, n, IB_EPARSE, "'image' must be NX or NXxNY, even, 2..65536, got %s%s%s",
                    t ? "'" : "", t ? t : kind_name(n), t ? "'" : "");
    return 0;
}

/* Values of one axis from a list or a single scalar. */
static int parse_axis(parser *p, int a, yaml_node_t *n, axis *out)
{
    yaml_node_item_t one = 0, *start, *top;
    if (n->type == YAML_SCALAR_NODE) {
        if (n->data.scalar.length == 0)
            return perr(p, n, IB_EPARSE, "axis '%s' is empty (expected a non-empty list of "
                                         "values)", axis_names[a]);
        one = (yaml_node_item_t)(n - p->doc.nodes.start + 1);
        start = &one;
        top = &one + 1;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        start = n->data.sequence.items.start;
        top = n->data.sequence.items.top;
    } else {
        return perr(p, n, IB_EPARSE, "axis '%s' must be a list of values, got %s",
                    axis_names[a], kind_name(n));
    }
    size_t count = (size_t)(top - start);
    if (count == 0)
        return perr(p, n, IB_EPARSE,
                    "axis '%s' is empty (expected a non-empty list of values)", axis_names[a]);
    out->v = ib_calloc(count, sizeof *out->v);
    if (!out->v) return ib_error(p->e, IB_ENOMEM, "out of memory reading suite '%s'", p->file);
    out->n = count;
    out->set = 1;
    out->node = n;
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *v = node(p, start[i]);
        const char *t = scalar(v);
        if (!t)
            return perr(p, v, IB_EPARSE, "axis '%s' values must be scalars, got %s",
                        axis_names[a], kind_name(v));
        char why[256];
        if (axis_value(a, t, &out->v[i], why, sizeof why)) return perr(p, v, IB_EPARSE, "%s", why);
        for (size_t j = 0; j < i; j++)
            if (axval_eq(a, &out->v[i], &out->v[j]))
                return perr(p, v, IB_EPARSE, "axis '%s' lists '%s' twice", axis_names[a], t);
    }
    return 0;
}

static void note_order(parser *p, int a)
{
    for (int i = 0; i < p->norder; i++)
        if (p->order[i] == a) return;
    p->order[p->norder++] = a;
}

static const char *const axis_keys[] = {"chunks",     "row_chunks", "nodes",
                                        "threads",    "support",    "gridder",
                                        "weight",     "precision",  "mem_budget",
                                        "padding",    "schedule",   "serial_write",
                                        "fsync",      "imager",     NULL};

static int parse_axes(parser *p, yaml_node_t *n, axis *ax)
{
    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, IB_EPARSE, "'axes' must be a mapping of axis names to lists, got %s",
                    kind_name(n));
    int r = check_keys(p, n, "'axes'", axis_keys);
    if (r) return r;
    for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
         a++) {
        int k = axis_find(scalar(node(p, a->key)));
        r = parse_axis(p, k, node(p, a->value), &ax[k]);
        if (r) return r;
        note_order(p, k);
    }
    return 0;
}

static const char *const dataset_keys[] = {"name",  "scale", "seed", "chans",
                                           "times", "image", "axes", NULL};

static int parse_dataset(parser *p, yaml_node_t *n, dsentry *d)
{
    yaml_node_t *name = NULL;
    if (n->type == YAML_SCALAR_NODE) {
        name = n;
    } else if (n->type == YAML_MAPPING_NODE) {
        int r = check_keys(p, n, "a dataset entry", dataset_keys);
        if (r) return r;
        for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
             a++) {
            const char *k = scalar(node(p, a->key));
            yaml_node_t *v = node(p, a->value);
            if (!strcmp(k, "name")) name = v;
            else if (!strcmp(k, "scale")) r = get_number(p, v, "scale", 0, 1, 1, &d->base.scale);
            else if (!strcmp(k, "seed")) r = get_int(p, v, "seed", 0, INT64_MAX, &d->base.seed);
            else if (!strcmp(k, "chans")) r = get_int(p, v, "chans", 1, 1 << 24, &d->base.chans);
            else if (!strcmp(k, "times")) r = get_int(p, v, "times", 2, 1 << 24, &d->base.times);
            else if (!strcmp(k, "image"))
                r = get_image(p, v, &d->base.image_nx, &d->base.image_ny);
            else if (!strcmp(k, "axes")) r = parse_axes(p, v, d->ax);
            if (r) return r;
        }
        if (!name) return perr(p, n, IB_EPARSE, "dataset entry needs a 'name'");
    } else {
        return perr(p, n, IB_EPARSE, "dataset entries must be a name or a mapping with 'name', "
                                     "got %s", kind_name(n));
    }
    const char *t = scalar(name);
    if (!t || !*t)
        return perr(p, name, IB_EPARSE, "dataset name must be a non-empty string");
    if (strlen(t) >= sizeof d->base.dataset)
        return perr(p, name, IB_EPARSE, "dataset name '%s' is too long", t);
    snprintf(d->base.dataset, sizeof d->base.dataset, "%s", t);
    d->node = name;
    return 0;
}

static int parse_datasets(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
        return perr(p, n, IB_EPARSE, "'datasets' must be a non-empty list of dataset names, "
                                     "got %s",
                    n->type == YAML_SEQUENCE_NODE ? "an empty list" : kind_name(n));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    p->ds = ib_calloc(count, sizeof *p->ds);
    if (!p->ds) return ib_error(p->e, IB_ENOMEM, "out of memory reading suite '%s'", p->file);
    p->nds = count;
    for (size_t i = 0; i < count; i++) {
        /* -1: inherit the suite's value */
        p->ds[i].base.scale = -1;
        p->ds[i].base.seed = -1;
        p->ds[i].base.chans = -1;
        p->ds[i].base.times = -1;
        p->ds[i].base.image_nx = -1;
        int r = parse_dataset(p, node(p, n->data.sequence.items.start[i]), &p->ds[i]);
        if (r) return r;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p->ds[j].base.dataset, p->ds[i].base.dataset))
                return perr(p, p->ds[i].node, IB_EPARSE, "dataset '%s' is listed twice",
                            p->ds[i].base.dataset);
    }
    return 0;
}

static int parse_zip(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, IB_EPARSE, "'zip' must be a list of lists of axis names, got %s",
                    kind_name(n));
    int used[WL_NAXIS] = {0};
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *g = node(p, *it);
        if (g->type != YAML_SEQUENCE_NODE)
            return perr(p, g, IB_EPARSE, "a zip group must be a list of axis names, got %s",
                        kind_name(g));
        if (p->nzip == MAX_ZIP) return perr(p, g, IB_EPARSE, "more than %d zip groups", MAX_ZIP);
        zipgroup *z = &p->zip[p->nzip++];
        z->node = g;
        for (yaml_node_item_t *m = g->data.sequence.items.start; m < g->data.sequence.items.top;
             m++) {
            yaml_node_t *mn = node(p, *m);
            const char *t = scalar(mn);
            int a = t ? axis_find(t) : -1;
            if (a < 0)
                return perr(p, mn, IB_EPARSE, "zip group member must be an axis name (chunks, "
                                              "row_chunks, nodes, threads, support, gridder, "
                                              "weight, precision, mem_budget, padding, "
                                              "schedule, serial_write, fsync, imager), got %s%s%s",
                            t ? "'" : "", t ? t : kind_name(mn), t ? "'" : "");
            if (used[a])
                return perr(p, mn, IB_EPARSE, "axis '%s' is in more than one zip group or "
                                              "twice in one", t);
            used[a] = 1;
            z->members[z->n++] = a;
        }
        if (z->n < 2)
            return perr(p, g, IB_EPARSE, "a zip group needs at least two axes, got %d", z->n);
    }
    return 0;
}

static int parse_rule(parser *p, yaml_node_t *n, rule *ru)
{
    static const char *const keys[] = {"dataset",    "chunks",  "row_chunks", "nodes",
                                       "threads",    "support", "gridder",    "weight",
                                       "precision",  "mem_budget", "padding", "schedule",
                                       "serial_write", "fsync", "imager", NULL};
    if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top == n->data.mapping.pairs.start)
        return perr(p, n, IB_EPARSE, "an exclude rule must be a non-empty mapping of parameters "
                                     "to values, got %s", kind_name(n));
    int r = check_keys(p, n, "an exclude rule", keys);
    if (r) return r;
    for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
        const char *k = scalar(node(p, a->key));
        yaml_node_t *v = node(p, a->value);
        if (strcmp(k, "dataset") == 0) {
            yaml_node_item_t *s, *t, one;
            if (v->type == YAML_SCALAR_NODE) {
                one = (yaml_node_item_t)(v - p->doc.nodes.start + 1);
                s = &one;
                t = &one + 1;
            } else if (v->type == YAML_SEQUENCE_NODE && v->data.sequence.items.top >
                                                            v->data.sequence.items.start) {
                s = v->data.sequence.items.start;
                t = v->data.sequence.items.top;
            } else {
                return perr(p, v, IB_EPARSE, "exclude 'dataset' must be a name or a non-empty "
                                             "list of names, got %s", kind_name(v));
            }
            ru->ndatasets = (size_t)(t - s);
            ru->datasets = ib_calloc(ru->ndatasets, sizeof *ru->datasets);
            if (!ru->datasets) return ib_error(p->e, IB_ENOMEM, "out of memory");
            for (size_t i = 0; i < ru->ndatasets; i++) {
                yaml_node_t *dn = node(p, s[i]);
                const char *name = scalar(dn);
                if (!name) return perr(p, dn, IB_EPARSE, "dataset names must be scalars");
                int known = 0;
                for (size_t j = 0; j < p->nds; j++) known |= !strcmp(p->ds[j].base.dataset, name);
                if (!known)
                    return perr(p, dn, IB_EPARSE, "exclude names dataset '%s', which is not in "
                                                  "'datasets'", name);
                snprintf(ru->datasets[i], sizeof ru->datasets[i], "%s", name);
            }
        } else {
            int ax = axis_find(k);
            r = parse_axis(p, ax, v, &ru->ax[ax]);
            if (r) return r;
        }
    }
    return 0;
}

static int parse_exclude(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, IB_EPARSE, "'exclude' must be a list of parameter mappings, got %s",
                    kind_name(n));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    p->rules = ib_calloc(count ? count : 1, sizeof *p->rules);
    if (!p->rules) return ib_error(p->e, IB_ENOMEM, "out of memory");
    p->nrules = count;
    for (size_t i = 0; i < count; i++) {
        int r = parse_rule(p, node(p, n->data.sequence.items.start[i]), &p->rules[i]);
        if (r) return r;
    }
    return 0;
}

static const char *const top_keys[] = {"name",    "description", "datasets", "scale",
                                       "seed",    "chans",       "times",    "image",
                                       "timeout", "repeats",     "warmup",   "axes",     "zip",
                                       "exclude", NULL};

static int parse_top(parser *p, yaml_node_t *root)
{
    if (!root) return perr(p, NULL, IB_EPARSE, "the file is empty (expected a mapping with "
                                               "name, datasets, scale, axes)");
    if (root->type != YAML_MAPPING_NODE)
        return perr(p, root, IB_EPARSE, "a suite must be a mapping (name, datasets, scale, "
                                        "axes, ...), got %s", kind_name(root));
    int r = check_keys(p, root, "the suite", top_keys);
    if (r) return r;
    yaml_node_t *datasets = NULL, *zip = NULL, *exclude = NULL, *name = NULL, *scale = NULL;
    for (yaml_node_pair_t *a = root->data.mapping.pairs.start; a < root->data.mapping.pairs.top;
         a++) {
        const char *k = scalar(node(p, a->key));
        yaml_node_t *v = node(p, a->value);
        int64_t i64 = 0;
        if (!strcmp(k, "name")) name = v;
        else if (!strcmp(k, "description")) {
            if (!scalar(v))
                r = perr(p, v, IB_EPARSE, "'description' must be text, got %s", kind_name(v));
        } else if (!strcmp(k, "datasets")) datasets = v;
        else if (!strcmp(k, "scale")) {
            scale = v;
            r = get_number(p, v, "scale", 0, 1, 1, &p->scale);
        } else if (!strcmp(k, "seed")) r = get_int(p, v, "seed", 0, INT64_MAX, &p->seed);
        else if (!strcmp(k, "chans")) r = get_int(p, v, "chans", 1, 1 << 24, &p->chans);
        else if (!strcmp(k, "times")) r = get_int(p, v, "times", 2, 1 << 24, &p->times);
        else if (!strcmp(k, "image")) r = get_image(p, v, &p->image_nx, &p->image_ny);
        else if (!strcmp(k, "timeout")) r = get_number(p, v, "timeout", 0, 1e7, 1, &p->timeout);
        else if (!strcmp(k, "repeats")) {
            r = get_int(p, v, "repeats", 1, 1000, &i64);
            p->repeats = (int)i64;
        } else if (!strcmp(k, "warmup")) {
            r = get_int(p, v, "warmup", 0, 100, &i64);
            p->warmup = (int)i64;
        } else if (!strcmp(k, "axes")) r = parse_axes(p, v, p->ax);
        else if (!strcmp(k, "zip")) zip = v;
        else if (!strcmp(k, "exclude")) exclude = v;
        if (r) return r;
    }
    if (!name) return perr(p, root, IB_EPARSE, "missing key 'name' (the suite's name)");
    const char *nm = scalar(name);
    size_t len = nm ? strlen(nm) : 0;
    int ok = len > 0 && len < sizeof p->name;
    for (size_t i = 0; ok && i < len; i++)
        ok = islower((unsigned char)nm[i]) || isdigit((unsigned char)nm[i]) ||
             strchr("._-", nm[i]);
    if (!ok)
        return perr(p, name, IB_EPARSE, "'name' must be 1..63 characters of [a-z0-9._-], got "
                                        "%s%s%s", nm ? "'" : "", nm ? nm : kind_name(name),
                    nm ? "'" : "");
    snprintf(p->name, sizeof p->name, "%s", nm);
    if (!datasets)
        return perr(p, root, IB_EPARSE, "missing key 'datasets' (a list of dataset names)");
    r = parse_datasets(p, datasets);
    if (r) return r;
    int need_scale = 0;
    for (size_t i = 0; i < p->nds; i++) need_scale |= p->ds[i].base.scale < 0;
    if (!scale && need_scale)
        return perr(p, root, IB_EPARSE, "missing key 'scale' (a number > 0 and <= 1: the "
                                        "fraction of the full dataset)");
    if (zip) {
        r = parse_zip(p, zip);
        if (r) return r;
    }
    if (exclude) {
        r = parse_exclude(p, exclude);
        if (r) return r;
    }
    return 0;
}

/* ---- resolution and expansion -------------------------------------------- */

/* Dataset fields: the entry's, else the suite's; then the spec and key. */
static int resolve_dataset(parser *p, dsentry *d)
{
    wl_cell *c = &d->base;
    if (c->scale < 0) c->scale = p->scale;
    if (c->seed < 0) c->seed = p->seed;
    if (c->chans < 0) c->chans = p->chans;
    if (c->times < 0) c->times = p->times;
    if (c->image_nx < 0) {
        c->image_nx = p->image_nx;
        c->image_ny = p->image_ny;
    }
    ib_err sub;
    ib_err_init(&sub);
    int r = wl_dataset_find(&sub, c->dataset, p->datasets_dir, &d->spec);
    if (r == IB_ENOTFOUND)
        return perr(p, d->node, IB_ENOTFOUND, "%s", sub.msg); /* names the dataset */
    if (r) return perr(p, d->node, r, "dataset '%s': %s", c->dataset, sub.msg);
    wl_gen_opts go;
    gen_opts(c, &go);
    r = wl_gen_cache_key(&sub, &d->spec, &go, c->dataset_key);
    if (r) return perr(p, d->node, IB_EPARSE, "dataset '%s': %s", c->dataset, sub.msg);
    return 0;
}

/* Does cell c (with axis values cur[]) match rule ru? */
static int rule_matches(const rule *ru, const wl_cell *c, const axval *cur, const int *has)
{
    if (ru->ndatasets) {
        int any = 0;
        for (size_t i = 0; i < ru->ndatasets; i++) any |= !strcmp(ru->datasets[i], c->dataset);
        if (!any) return 0;
    }
    for (int a = 0; a < WL_NAXIS; a++) {
        if (!ru->ax[a].set) continue;
        if (!has[a]) return 0;
        int any = 0;
        for (size_t i = 0; i < ru->ax[a].n; i++) any |= axval_eq(a, &ru->ax[a].v[i], &cur[a]);
        if (!any) return 0;
    }
    return 1;
}

/* The cells so far, with a hash set over their content hashes: a linear
 * duplicate search made a 500-byte suite of 100000 cells take minutes. */
typedef struct cellvec {
    wl_cell *v;
    size_t n, cap;
    size_t *slot;   /* open addressing: index into v plus 1, 0 = empty */
    size_t nslot;   /* a power of two above 2n, or 0 */
} cellvec;

/* Home slot of a hash: its first 16 hex digits (SHA-256: already uniform). */
static size_t slot_home(const char *hash, size_t nslot)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && hash[i]; i++)
        k = k << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
    return (size_t)k & (nslot - 1);
}

/* The slot holding hash, or the empty slot where it belongs. */
static size_t slot_find(const cellvec *cv, const char *hash)
{
    size_t s = slot_home(hash, cv->nslot);
    while (cv->slot[s] && strcmp(cv->v[cv->slot[s] - 1].hash, hash) != 0)
        s = (s + 1) & (cv->nslot - 1);
    return s;
}

static int push_cell(parser *p, cellvec *cv, const wl_cell *c)
{
    if (cv->n == MAX_CELLS)
        return perr(p, NULL, IB_EPARSE, "the suite expands to more than %d cells", MAX_CELLS);
    if (2 * (cv->n + 1) > cv->nslot) {
        size_t ns = cv->nslot ? 2 * cv->nslot : 128;
        size_t *slot = calloc(ns, sizeof *slot);
        if (!slot)
            return ib_error(p->e, IB_ENOMEM, "out of memory expanding suite '%s'", p->file);
        free(cv->slot);
        cv->slot = slot;
        cv->nslot = ns;
        for (size_t i = 0; i < cv->n; i++) cv->slot[slot_find(cv, cv->v[i].hash)] = i + 1;
    }
    size_t s = slot_find(cv, c->hash);
    if (cv->slot[s]) return 0; /* same parameters twice: once */
    if (cv->n == cv->cap) {
        size_t cap = cv->cap ? 2 * cv->cap : 64;
        wl_cell *nv = realloc(cv->v, cap * sizeof *nv);
        if (!nv) return ib_error(p->e, IB_ENOMEM, "out of memory expanding suite '%s'", p->file);
        cv->v = nv;
        cv->cap = cap;
    }
    cv->v[cv->n++] = *c;
    cv->slot[s] = cv->n;
    return 0;
}

/* The cells of one dataset: an odometer over units (zip groups or single
 * axes) in order of appearance, the last varying fastest. */
static int expand_dataset(parser *p, dsentry *d, cellvec *cv)
{
    const axis *ax[WL_NAXIS];
    int has[WL_NAXIS];
    for (int a = 0; a < WL_NAXIS; a++) {
        ax[a] = d->ax[a].set ? &d->ax[a] : &p->ax[a];
        has[a] = ax[a]->set;
    }
    /* units: each a list of axes sharing one index */
    int unit_of[WL_NAXIS], nunit = 0, members[WL_NAXIS][WL_NAXIS], nmem[WL_NAXIS];
    size_t len[WL_NAXIS];
    for (int a = 0; a < WL_NAXIS; a++) unit_of[a] = -1;
    for (int z = 0; z < p->nzip; z++)
        for (int m = 0; m < p->zip[z].n; m++) {
            int a = p->zip[z].members[m];
            if (!has[a])
                return perr(p, p->zip[z].node, IB_EPARSE,
                            "zip group names axis '%s', which is not set%s%s", axis_names[a],
                            p->nds > 1 ? " for dataset " : "", p->nds > 1 ? d->base.dataset : "");
        }
    for (int i = 0; i < p->norder; i++) {
        int a = p->order[i];
        if (!has[a] || unit_of[a] >= 0) continue;
        int z = -1;
        for (int g = 0; g < p->nzip && z < 0; g++)
            for (int m = 0; m < p->zip[g].n; m++)
                if (p->zip[g].members[m] == a) z = g;
        int u = nunit++;
        nmem[u] = 0;
        if (z < 0) {
            members[u][nmem[u]++] = a;
            unit_of[a] = u;
            len[u] = ax[a]->n;
            continue;
        }
        len[u] = ax[a]->n;
        for (int m = 0; m < p->zip[z].n; m++) {
            int b = p->zip[z].members[m];
            if (ax[b]->n != len[u])
                return perr(p, d->ax[b].set ? d->ax[b].node : p->zip[z].node, IB_EPARSE,
                            "zip group axes must have the same length: '%s' has %zu values, "
                            "'%s' has %zu%s%s",
                            axis_names[a], len[u], axis_names[b], ax[b]->n,
                            p->nds > 1 ? " for dataset " : "",
                            p->nds > 1 ? d->base.dataset : "");
            members[u][nmem[u]++] = b;
            unit_of[b] = u;
        }
    }
    size_t idx[WL_NAXIS] = {0};
    axval cur[WL_NAXIS];
    memset(cur, 0, sizeof cur);
    for (;;) {
        wl_cell c = d->base;
        c.nodes = 1;
        snprintf(c.gridder, sizeof c.gridder, "%s", wl_gridder_name(d->spec.gridder));
        for (int u = 0; u < nunit; u++)
            for (int m = 0; m < nmem[u]; m++) {
                int a = members[u][m];
                cur[a] = ax[a]->v[idx[u]];
                cell_set_axis(&c, a, &cur[a]);
            }
        int excluded = 0;
        for (size_t i = 0; i < p->nrules && !excluded; i++)
            excluded = rule_matches(&p->rules[i], &c, cur, has);
        if (!excluded) {
            int r = cell_finish(p->e, &c);
            if (!r) r = push_cell(p, cv, &c);
            if (r) return r;
        }
        int u = nunit - 1;
        while (u >= 0 && ++idx[u] == len[u]) idx[u--] = 0;
        if (u < 0) break;
    }
    return 0;
}

static void parser_release(parser *p)
{
    for (int a = 0; a < WL_NAXIS; a++) ib_free(p->ax[a].v);
    for (size_t i = 0; i < p->nds; i++)
        for (int a = 0; a < WL_NAXIS; a++) ib_free(p->ds[i].ax[a].v);
    ib_free(p->ds);
    for (size_t i = 0; i < p->nrules; i++) {
        for (int a = 0; a < WL_NAXIS; a++) ib_free(p->rules[i].ax[a].v);
        ib_free(p->rules[i].datasets);
    }
    ib_free(p->rules);
    yaml_document_delete(&p->doc);
}

int wl_suite_parse(ib_err *e, const char *name, const char *text, size_t len,
                   const wl_suite_opts *o, wl_suite **out)
{
    *out = NULL;
    parser p;
    memset(&p, 0, sizeof p);
    p.e = e;
    p.file = name;
    p.seed = 1;
    p.timeout = 600;
    p.repeats = 1;
    p.datasets_dir = o ? o->datasets_dir : NULL;
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) return ib_error(e, IB_ENOMEM, "out of memory (libyaml)");
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &p.doc)) {
        int r = ib_error(e, IB_EPARSE, "suite '%s' line %zu column %zu: YAML error: %s%s%s",
                         name, yp.problem_mark.line + 1, yp.problem_mark.column + 1,
                         yp.problem ? yp.problem : "malformed",
                         yp.context ? " " : "", yp.context ? yp.context : "");
        yaml_parser_delete(&yp);
        return r;
    }
    /* One document per file: a second one is a mistake. */
    yaml_document_t extra;
    int more = 0;
    if (yaml_parser_load(&yp, &extra)) {
        more = yaml_document_get_root_node(&extra) != NULL;
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&yp);
    int r = 0;
    if (more) r = perr(&p, NULL, IB_EPARSE, "more than one YAML document (expected one suite)");
    if (!r) r = parse_top(&p, yaml_document_get_root_node(&p.doc));
    for (size_t i = 0; !r && i < p.nds; i++) r = resolve_dataset(&p, &p.ds[i]);
    cellvec cv = {0};
    for (size_t i = 0; !r && i < p.nds; i++) r = expand_dataset(&p, &p.ds[i], &cv);
    free(cv.slot);
    if (!r && cv.n == 0)
        r = perr(&p, NULL, IB_EPARSE, "every cell is excluded (expected at least one cell)");
    wl_suite *s = NULL;
    if (!r) {
        s = ib_calloc(1, sizeof *s);
        if (!s) r = ib_error(e, IB_ENOMEM, "out of memory");
    }
    if (r) {
        free(cv.v);
        parser_release(&p);
        return r;
    }
    snprintf(s->name, sizeof s->name, "%s", p.name);
    snprintf(s->path, sizeof s->path, "%s", name);
    wl_suite_sha256(text, len, s->file_hash);
    s->timeout = p.timeout;
    s->repeats = p.repeats;
    s->warmup = p.warmup;
    s->cells = cv.v;
    s->ncells = cv.n;
    parser_release(&p);
    *out = s;
    return 0;
}

int wl_suite_load(ib_err *e, const char *path, const wl_suite_opts *o, wl_suite **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ib_error(e, IB_EIO, "cannot open suite '%s': %s", path, strerror(errno));
    char *buf = ib_malloc(MAX_SUITE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ib_error(e, IB_ENOMEM, "out of memory reading suite '%s'", path);
    }
    size_t n = fread(buf, 1, MAX_SUITE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int r;
    if (bad) r = ib_error(e, IB_EIO, "cannot read suite '%s'", path);
    else if (n > MAX_SUITE_BYTES)
        r = ib_error(e, IB_EPARSE, "suite '%s' is larger than %d bytes", path, MAX_SUITE_BYTES);
    else r = wl_suite_parse(e, path, buf, n, o, out);
    ib_free(buf);
    return r;
}

void wl_suite_destroy(wl_suite *s)
{
    if (!s) return;
    free(s->cells);
    ib_free(s);
}

/* ---- filters and cells from JSON ------------------------------------------ */

/* The cell's value for key as text; 0 if the key is known, -1 if not.
 * Unset values give "". */
static int cell_value(const wl_cell *c, const char *key, char *buf, size_t n)
{
    buf[0] = '\0';
#define INT_FIELD(k, v) \
    if (!strcmp(key, k)) { if (v) snprintf(buf, n, "%lld", (long long)(v)); return 0; }
    if (!strcmp(key, "dataset")) { snprintf(buf, n, "%s", c->dataset); return 0; }
    if (!strcmp(key, "scale")) { snprintf(buf, n, "%.17g", c->scale); return 0; }
    if (!strcmp(key, "seed")) { snprintf(buf, n, "%lld", (long long)c->seed); return 0; }
    INT_FIELD("chans", c->chans)
    INT_FIELD("times", c->times)
    if (!strcmp(key, "image")) {
        if (c->image_nx) snprintf(buf, n, "%dx%d", c->image_nx, c->image_ny);
        return 0;
    }
    INT_FIELD("chunks", c->chunks)
    if (!strcmp(key, "row_chunks")) { /* unset is the imager's default, 1 */
        snprintf(buf, n, "%d", c->row_chunks > 1 ? c->row_chunks : 1);
        return 0;
    }
    INT_FIELD("nodes", c->nodes)
    INT_FIELD("threads", c->threads)
    INT_FIELD("support", c->support)
    INT_FIELD("mem_budget", c->mem_budget)
#undef INT_FIELD
    if (!strcmp(key, "gridder")) { snprintf(buf, n, "%s", c->gridder); return 0; }
    if (!strcmp(key, "weight")) { snprintf(buf, n, "%s", c->weight); return 0; }
    if (!strcmp(key, "precision")) { snprintf(buf, n, "%s", c->precision); return 0; }
    if (!strcmp(key, "padding")) {
        if (c->padding > 0) snprintf(buf, n, "%.17g", c->padding);
        return 0;
    }
    if (!strcmp(key, "schedule")) { snprintf(buf, n, "%s", c->schedule); return 0; }
    if (!strcmp(key, "serial_write")) { snprintf(buf, n, "%d", c->serial_write); return 0; }
    if (!strcmp(key, "fsync")) { snprintf(buf, n, "%d", c->fsync); return 0; }
    if (!strcmp(key, "imager")) {
        snprintf(buf, n, "%s", wl_cell_is_wsclean(c) ? "wsclean" : "imbench");
        return 0;
    }
    if (!strcmp(key, "hash")) { snprintf(buf, n, "%s", c->hash); return 0; }
    return -1;
}

int wl_suite_filter(ib_err *e, const wl_cell *c, const char *expr, int *match)
{
    *match = 1;
    if (!expr || !*expr) return 0;
    char *copy = ib_strdup(expr);
    if (!copy) return ib_error(e, IB_ENOMEM, "out of memory");
    int r = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            r = ib_error(e, IB_EINVAL, "filter '%s': expected key=value[,key=value], got '%s'",
                         expr, tok);
            break;
        }
        *eq = '\0';
        const char *key = tok, *want = eq + 1;
        char have[128];
        if (cell_value(c, key, have, sizeof have)) {
            r = ib_error(e, IB_EINVAL,
                         "filter '%s': unknown key '%s' (expected dataset, scale, seed, chans, "
                         "times, image, chunks, row_chunks, nodes, threads, support, gridder, "
                         "weight, precision, mem_budget, padding, schedule, serial_write, "
                         "fsync, imager or hash)",
                         expr, key);
            break;
        }
        int ok;
        double a, b;
        if (!strcmp(key, "hash")) ok = have[0] && !strncmp(have, want, strlen(want));
        else if (!ib_parse_double(have, &a) && !ib_parse_double(want, &b)) ok = a == b;
        else ok = !strcmp(have, want);
        if (!ok) *match = 0;
    }
    ib_free(copy);
    return r;
}

/* JSON scalar as text for the validators. */
static int json_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%.17g", json_real_value(v));
    else return -1;
    return 0;
}

int wl_suite_cell_from_params(ib_err *e, json_t *params, const wl_suite_opts *o, wl_cell *out)
{
    memset(out, 0, sizeof *out);
    out->nodes = 1;
    if (!json_is_object(params))
        return ib_error(e, IB_EPARSE, "cell parameters must be a JSON object");
    const char *key;
    json_t *v;
    int have_dataset = 0, have_scale = 0;
    json_object_foreach(params, key, v) {
        char t[256];
        if (json_text(v, t, sizeof t))
            return ib_error(e, IB_EPARSE, "cell parameter '%s' must be a number or text", key);
        int a = axis_find(key);
        int64_t i64;
        double d;
        if (a >= 0) {
            axval av;
            char why[256];
            if (axis_value(a, t, &av, why, sizeof why))
                return ib_error(e, IB_EPARSE, "cell parameters: %s", why);
            cell_set_axis(out, a, &av);
        } else if (!strcmp(key, "dataset")) {
            if (!json_is_string(v) || !*t || strlen(t) >= sizeof out->dataset)
                return ib_error(e, IB_EPARSE, "cell parameter 'dataset' must be a name");
            memcpy(out->dataset, t, strlen(t) + 1);
            have_dataset = 1;
        } else if (!strcmp(key, "dataset_key")) {
            if (strlen(t) != 32)
                return ib_error(e, IB_EPARSE, "cell parameter 'dataset_key' must be 32 hex "
                                              "digits, got '%s'", t);
            memcpy(out->dataset_key, t, 33);
        } else if (!strcmp(key, "scale")) {
            if (ib_parse_double(t, &d) || d <= 0 || d > 1)
                return ib_error(e, IB_EPARSE, "cell parameter 'scale' must be > 0 and <= 1, "
                                              "got '%s'", t);
            out->scale = d;
            have_scale = 1;
        } else if (!strcmp(key, "seed") || !strcmp(key, "chans") || !strcmp(key, "times")) {
            if (ib_parse_i64(t, &i64) || i64 < 0)
                return ib_error(e, IB_EPARSE, "cell parameter '%s' must be an integer >= 0, "
                                              "got '%s'", key, t);
            if (key[0] == 's') out->seed = i64;
            else if (key[0] == 'c') out->chans = i64;
            else out->times = i64;
        } else if (!strcmp(key, "image")) {
            if (parse_image(t, &out->image_nx, &out->image_ny))
                return ib_error(e, IB_EPARSE, "cell parameter 'image' must be NXxNY, got '%s'",
                                t);
        } else {
            return ib_error(e, IB_EPARSE, "unknown cell parameter '%s'", key);
        }
    }
    if (!have_dataset || !have_scale)
        return ib_error(e, IB_EPARSE, "cell parameters need 'dataset' and 'scale'");
    if (!out->dataset_key[0]) {
        wl_dataset ds;
        int r = wl_dataset_find(e, out->dataset, o ? o->datasets_dir : NULL, &ds);
        if (r) return r;
        wl_gen_opts go;
        gen_opts(out, &go);
        r = wl_gen_cache_key(e, &ds, &go, out->dataset_key);
        if (r) return r;
        if (!out->gridder[0])
            snprintf(out->gridder, sizeof out->gridder, "%s", wl_gridder_name(ds.gridder));
    }
    return cell_finish(e, out);
}
