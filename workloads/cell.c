/*
 * cell.c: cells — one imager run's parameters, a value per row of the
 * parameter table (common/params.h) — and what is done with one: its
 * canonical parameter JSON and SHA-256 content hash (the table's flags
 * say which values enter them), its label, --filter, the generator
 * options its dataset keys stand for, and a cell rebuilt from its JSON
 * (as ingest rebuilds one from a cell.json).
 */
#define _GNU_SOURCE
#include "workloads/suite.h"
#include "workloads/workloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- cells -------------------------------------------------------------- */

/* v's value of id, else the default. */
static ib_pval eff(const wl_cell *c, int id)
{
    ib_pval d;
    if (c->v[id].set) return c->v[id];
    ib_param_default(id, &d);
    return d;
}

int64_t wl_cell_int(const wl_cell *c, int id)
{
    return eff(c, id).i;
}

double wl_cell_real(const wl_cell *c, int id)
{
    return eff(c, id).d;
}

void wl_cell_text(const wl_cell *c, int id, char *buf, size_t n)
{
    if (id == IB_P_DATASET) snprintf(buf, n, "%s", c->dataset);
    else ib_param_text(id, &c->v[id], buf, n);
}

int wl_cell_has(const wl_cell *c, int id)
{
    unsigned f = ib_param_get(id)->flags;
    if (!(f & IB_PF_CELL)) return 0;
    if (f & IB_PF_ALWAYS) return 1;
    if (!c->v[id].set) return 0;
    return (f & IB_PF_KEEP) || ib_param_differs(id, &c->v[id]);
}

int wl_cell_is_wsclean(const wl_cell *c)
{
    return c->v[IB_P_IMAGER].set && c->v[IB_P_IMAGER].i == 1;
}

/* The JSON of c's value of id: numbers as numbers, the rest as text. */
static json_t *cell_json_value(const wl_cell *c, int id)
{
    ib_pval v = eff(c, id);
    char text[96];
    switch (ib_param_get(id)->type) {
    case IB_PT_INT:
    case IB_PT_BYTES:
    case IB_PT_BOOL: return json_integer(v.i);
    case IB_PT_REAL: return json_real(v.d);
    default: wl_cell_text(c, id, text, sizeof text); return json_string(text);
    }
}

json_t *wl_suite_cell_params(const wl_cell *c)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    for (int id = 0; id < IB_NPARAM && !bad; id++) {
        if (!wl_cell_has(c, id)) continue;
        bad |= json_object_set_new(o, ib_param_get(id)->name, cell_json_value(c, id));
        if (id == IB_P_DATASET && c->dataset_key[0])
            bad |= json_object_set_new(o, "dataset_key", json_string(c->dataset_key));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int wl_cell_finish(ib_err *e, wl_cell *c)
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

void wl_suite_cell_label(const wl_cell *c, char *buf, size_t n)
{
    size_t len = 0;
    int k = snprintf(buf, n, "%s", c->dataset);
    for (int id = 0; id < IB_NPARAM; id++) {
        const ib_param *p = ib_param_get(id);
        if (!(p->flags & IB_PF_AXIS) || !wl_cell_has(c, id)) continue;
        if (k < 0 || (size_t)k >= n - len) break;
        len += (size_t)k;
        char text[96];
        wl_cell_text(c, id, text, sizeof text);
        if (p->type != IB_PT_BOOL) k = snprintf(buf + len, n - len, " %s=%s", p->name, text);
        else k = c->v[id].i ? snprintf(buf + len, n - len, " %s", p->name) : 0; /* a flag */
    }
}

void wl_cell_gen_opts(const wl_cell *c, wl_gen_opts *o)
{
    wl_gen_opts_init(o);
    o->scale = c->v[IB_P_SCALE].d;
    o->seed = (uint64_t)wl_cell_int(c, IB_P_SEED);
    if (c->v[IB_P_CHANS].set) o->chans = c->v[IB_P_CHANS].i;
    if (c->v[IB_P_TIMES].set) o->times = c->v[IB_P_TIMES].i;
    if (c->v[IB_P_IMAGE].set) {
        o->image_nx = (int)c->v[IB_P_IMAGE].i;
        o->image_ny = c->v[IB_P_IMAGE].j;
    }
}

/* ---- filters and cells from JSON ------------------------------------------ */

/* Does c's value of id (its default when unset) match the text want? */
static int value_matches(const wl_cell *c, int id, const char *want)
{
    char have[96];
    wl_cell_text(c, id, have, sizeof have);
    if (id == IB_P_DATASET) return strcmp(have, want) == 0;
    ib_pval w, v = c->v[id];
    if (!v.set && ib_param_derived(id)) return strcmp(have, want) == 0; /* "auto" */
    if (ib_param_parse(id, want, &w, NULL, 0)) return strcmp(have, want) == 0;
    if (!v.set) ib_param_default(id, &v);
    v.set = w.set = 1;
    return ib_param_equal(id, &v, &w);
}

int wl_suite_filter(ib_err *e, const wl_cell *c, const char *expr, int *match)
{
    *match = 1;
    if (!expr || !*expr) return 0;
    char *copy = ib_strdup(expr);
    if (!copy) return ib_error(e, IB_ENOMEM, "out of memory");
    int r = 0;
    char *save = NULL;
    /* A comma followed by no '=' before the next one is inside a value
     * (stokes=XX,YY): kept as \1 while splitting. */
    for (char *q = strchr(copy, ','); q; q = strchr(q + 1, ',')) {
        const char *next = strchr(q + 1, ','), *eq = strchr(q + 1, '=');
        if (q > copy && strchr(copy, '=') && strchr(copy, '=') < q && (!eq || (next && eq > next)))
            *q = '\1';
    }
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        for (char *q = tok; (q = strchr(q, '\1')); q++) *q = ',';
        while (*tok == ' ') tok++;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            r = ib_error(e, IB_EINVAL, "filter '%s': expected key=value[,key=value], got '%s'",
                         expr, tok);
            break;
        }
        *eq = '\0';
        const char *key = tok, *want = eq + 1;
        int id = ib_param_find(key);
        if (!strcmp(key, "hash")) {
            if (strncmp(c->hash, want, strlen(want))) *match = 0;
        } else if (id >= 0 && (ib_param_get(id)->flags & IB_PF_CELL)) {
            if (!value_matches(c, id, want)) *match = 0;
        } else {
            char list[1024];
            size_t len = 0;
            for (int k = 0; k < IB_NPARAM && len < sizeof list; k++)
                if (ib_param_get(k)->flags & IB_PF_CELL)
                    len += (size_t)snprintf(list + len, sizeof list - len, "%s, ",
                                            ib_param_get(k)->name);
            r = ib_error(e, IB_EINVAL, "filter '%s': unknown key '%s' (expected %sor hash)",
                         expr, key, list);
            break;
        }
    }
    ib_free(copy);
    return r;
}

/* JSON scalar as text for the parsers. */
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
    if (!json_is_object(params))
        return ib_error(e, IB_EPARSE, "cell parameters must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v) {
        char t[256], why[512];
        if (json_text(v, t, sizeof t))
            return ib_error(e, IB_EPARSE, "cell parameter '%s' must be a number or text", key);
        int id = ib_param_find(key);
        if (!strcmp(key, "dataset_key")) {
            if (strlen(t) != 32 || strspn(t, "0123456789abcdef") != 32)
                return ib_error(e, IB_EPARSE, "cell parameter 'dataset_key' must be 32 hex "
                                              "digits, got '%s'", t);
            memcpy(out->dataset_key, t, 33);
        } else if (id < 0 || !(ib_param_get(id)->flags & IB_PF_CELL)) {
            return ib_error(e, IB_EPARSE, "unknown cell parameter '%s'", key);
        } else if (ib_param_parse(id, t, &out->v[id], why, sizeof why)) {
            return ib_error(e, IB_EPARSE, "cell parameters: %s", why);
        } else if (id == IB_P_DATASET) {
            if (!json_is_string(v)) return ib_error(e, IB_EPARSE, "cell parameter 'dataset' "
                                                                  "must be a name");
            snprintf(out->dataset, sizeof out->dataset, "%.63s", t); /* < 64: checked */
        }
    }
    if (!out->v[IB_P_DATASET].set || !out->v[IB_P_SCALE].set)
        return ib_error(e, IB_EPARSE, "cell parameters need 'dataset' and 'scale'");
    if (!out->dataset_key[0]) {
        wl_dataset ds;
        int r = wl_dataset_find(e, out->dataset, o ? o->datasets_dir : NULL, &ds);
        if (r) return r;
        wl_gen_opts go;
        wl_cell_gen_opts(out, &go);
        r = wl_gen_cache_key(e, &ds, &go, out->dataset_key);
        if (r) return r;
        if (!out->v[IB_P_GRIDDER].set)
            ib_param_parse(IB_P_GRIDDER, wl_gridder_name(ds.gridder), &out->v[IB_P_GRIDDER],
                           NULL, 0);
    }
    return wl_cell_finish(e, out);
}
