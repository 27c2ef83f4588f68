/*
 * rundata.c: what every part of the report asks of a loaded run (results'
 * res_report_run_load): a cell's metric or phase, medians, parameters,
 * the one cell label of the module, the run's datasets, and its warnings
 * in words (unavailable counters, failed or timed-out attempts, refused
 * values, thin repeats). Pure: no I/O.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const rep_values *rep__metric(const rep_cell_data *c, const char *name)
{
    for (size_t i = 0; i < c->nmetrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0 && c->metrics[i].n) return &c->metrics[i];
    return NULL;
}

const rep_values *rep__phase(const rep_cell_data *c, const char *name)
{
    for (size_t i = 0; i < c->nphases; i++)
        if (strcmp(c->phases[i].name, name) == 0 && c->phases[i].n) return &c->phases[i];
    return NULL;
}

double rep__vmedian(const rep_values *v)
{
    return v ? rep_median_or_nan(v->v, v->n) : NAN;
}

int rep__mmm_of(const rep_values *v, rep__mmm *s)
{
    s->med = s->lo = s->hi = NAN;
    s->n = 0;
    if (!v || !v->n) return -1;
    s->med = rep_median_or_nan(v->v, v->n);
    s->lo = s->hi = v->v[0];
    for (size_t i = 1; i < v->n; i++) {
        s->lo = fmin(s->lo, v->v[i]);
        s->hi = fmax(s->hi, v->v[i]);
    }
    s->n = v->n;
    return isfinite(s->med) ? 0 : -1;
}

int rep__datasets(const rep_run_data *r, const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r->ncells) return 0;
    const char **d = ib_malloc(r->ncells * sizeof *d);
    if (!d) return IB_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        size_t j = 0;
        while (j < k && strcmp(d[j], r->cells[i].dataset) != 0) j++;
        if (j == k) d[k++] = r->cells[i].dataset;
    }
    *out = d;
    *n = k;
    return 0;
}

const char *rep__param_str(const rep_cell_data *c, const char *key, const char *dflt,
                           char *buf, size_t n)
{
    json_t *p = json_loads(c->params, 0, NULL);
    json_t *v = json_object_get(p, key);
    const char *r = dflt;
    if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
        r = buf;
    }
    json_decref(p);
    return r;
}

double rep__param_num(const rep_cell_data *c, const char *key, double dflt)
{
    json_t *p = json_loads(c->params, 0, NULL);
    json_t *v = json_object_get(p, key);
    double r = json_is_number(v) ? json_number_value(v)
               : json_is_true(v) ? 1
               : json_is_false(v) ? 0
                                  : dflt;
    json_decref(p);
    return r;
}

/* ---- the one cell label ------------------------------------------------------ */

/* A JSON value as label text: strings bare, numbers %g, booleans. */
static void value_text(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%g", json_real_value(v));
    else if (json_is_true(v)) snprintf(buf, n, "true");
    else if (json_is_false(v)) snprintf(buf, n, "false");
    else if (!v) snprintf(buf, n, "-");
    else snprintf(buf, n, "?");
}

static int in_list(const char *const *keys, const char *k)
{
    for (size_t i = 0; keys && keys[i]; i++)
        if (strcmp(keys[i], k) == 0) return 1;
    return 0;
}

static void append(char *buf, size_t n, size_t *len, const char *fmt, const char *a,
                   const char *b)
{
    if (*len >= n) return;
    int k = snprintf(buf + *len, n - *len, fmt, a, b);
    if (k > 0) *len += (size_t)k;
    if (*len >= n) *len = n - 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "alma-xc66 standard W=7 n=1 t=2 ch=4 ..." (harness bench's columns) */
static void short_label(json_t *p, char *buf, size_t n)
{
    json_t *v;
    char ds[96], gr[32], sc[32] = "";
    value_text(json_object_get(p, "dataset"), ds, sizeof ds);
    v = json_object_get(p, "gridder");
    snprintf(gr, sizeof gr, "%s", json_is_string(v) ? json_string_value(v) : "standard");
#define NUM(k, d) (json_is_number(json_object_get(p, k)) ? json_number_value(json_object_get(p, k)) : (d))
    char rows[24] = "";
    if (NUM("row_chunks", 1) > 1) snprintf(rows, sizeof rows, " rc=%d", (int)NUM("row_chunks", 1));
    v = json_object_get(p, "schedule");
    if (json_is_string(v)) snprintf(sc, sizeof sc, " %s", json_string_value(v));
    int serial = json_is_true(json_object_get(p, "serial_write")) || NUM("serial_write", 0) > 0;
    int fsync = json_is_true(json_object_get(p, "fsync")) || NUM("fsync", 0) > 0;
    snprintf(buf, n, "%s %s W=%d n=%d t=%d ch=%d%s%s%s%s%s", ds, gr, (int)NUM("support", 7),
             (int)NUM("nodes", 1), (int)NUM("threads", 1), (int)NUM("chunks", 0), rows, sc,
             serial ? " serial" : "", fsync ? " fsync" : "",
             NUM("mem_budget", 0) > 0 ? " budget" : "");
#undef NUM
}

void rep_cell_label(const char *params, int style, const char *const *keys, char *buf,
                    size_t n)
{
    if (!n) return;
    buf[0] = '\0';
    json_t *p = params ? json_loads(params, 0, NULL) : NULL;
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    size_t len = 0;
    char val[128];
    if (style == REP_LABEL_SHORT) {
        short_label(p, buf, n);
    } else if (style == REP_LABEL_KEYS) {
        for (size_t i = 0; keys && keys[i]; i++) {
            value_text(json_object_get(p, keys[i]), val, sizeof val);
            append(buf, n, &len, len ? " %s=%s" : "%s=%s", keys[i], val);
        }
    } else if (style == REP_LABEL_ALL) {
        value_text(json_object_get(p, "dataset"), val, sizeof val);
        append(buf, n, &len, "%s%s", val, "");
        const char *sorted[128] = {NULL};
        size_t k = 0;
        const char *key;
        json_t *v;
        json_object_foreach(p, key, v) {
            if (k < 128 && strcmp(key, "dataset") != 0 && !in_list(keys, key)) sorted[k++] = key;
        }
        qsort(sorted, k, sizeof *sorted, cmp_str);
        for (size_t i = 0; i < k; i++) {
            value_text(json_object_get(p, sorted[i]), val, sizeof val);
            append(buf, n, &len, " %s=%s", sorted[i], val);
        }
    } else {
        static const char *const main_keys[] = {"nodes", "threads", "chunks", "support"};
        static const char *const extra[] = {"row_chunks", "schedule",  "serial_write", "fsync",
                                            "gridder",    "weight",    "precision",
                                            "mem_budget", "imager"};
        value_text(json_object_get(p, "dataset"), val, sizeof val);
        append(buf, n, &len, "%s%s", val, "");
        for (size_t i = 0; i < 4; i++) {
            value_text(json_object_get(p, main_keys[i]), val, sizeof val);
            append(buf, n, &len, " %s=%s", main_keys[i], val);
        }
        for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
            json_t *v = json_object_get(p, extra[i]);
            if (!v) continue;
            value_text(v, val, sizeof val);
            append(buf, n, &len, " %s=%s", extra[i], val);
        }
    }
    json_decref(p);
}

/* ---- warnings -------------------------------------------------------------------- */

void rep__strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) ib_free(v[i]);
    ib_free(v);
}

typedef struct strv {
    char **v;
    size_t n, cap;
    int oom;
} strv;

static void add(strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(strv *s, const char *fmt, ...)
{
    if (s->oom) return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **nv = ib_malloc(cap * sizeof *nv);
        if (!nv) {
            s->oom = 1;
            return;
        }
        if (s->n) memcpy(nv, s->v, s->n * sizeof *nv);
        ib_free(s->v);
        s->v = nv;
        s->cap = cap;
    }
    rep__sb b = {0};
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        rep__sb_release(&b);
        s->oom = 1;
        return;
    }
    s->v[s->n++] = b.s ? b.s : ib_strdup("");
}

static const rep_cell_data *cell_by_id(const rep_run_data *r, int64_t id)
{
    for (size_t i = 0; i < r->ncells; i++)
        if (r->cells[i].id == id) return &r->cells[i];
    return NULL;
}

/* Counters: one line per source and reason, naming the events. */
static void counter_warnings(const rep_run_data *r, strv *w)
{
    for (size_t i = 0; i < r->ncounters; i++) {
        const res_counter_note *c = &r->counters[i];
        char names[700] = "";
        for (size_t k = 0, o = 0; c->names && c->names[k] && o + 3 < sizeof names; k++) {
            names[o++] = c->names[k]; /* group_concat's "," as ", " */
            if (c->names[k] == ',') names[o++] = ' ';
            names[o] = '\0';
        }
        if (strcmp(c->source, "papi") == 0)
            add(w, "no hardware counters%s: PAPI reported '%s'%s%s (%lld attempt%s)",
                c->available ? " for some events" : "", c->reason, names[0] ? " for " : "",
                names, c->attempts, c->attempts == 1 ? "" : "s");
        else
            add(w, "software-defined counters unavailable: '%s'%s%s (%lld attempt%s)",
                c->reason, names[0] ? " for " : "", names, c->attempts,
                c->attempts == 1 ? "" : "s");
    }
}

static void attempt_warnings(const rep_run_data *r, strv *w)
{
    for (size_t i = 0; i < r->nbad && i < 40; i++) {
        const res_bad_attempt *b = &r->bad[i];
        const rep_cell_data *c = cell_by_id(r, b->cell_id);
        char label[256] = "?", line[256], code[64] = "";
        if (c) rep_cell_label(c->params, REP_LABEL_MAIN, NULL, label, sizeof label);
        rep__last_line(b->stderr_tail, line, sizeof line);
        if (b->signal > 0) snprintf(code, sizeof code, ", signal %d", b->signal);
        else if (b->has_exit) snprintf(code, sizeof code, ", exit %d", b->exit_code);
        add(w, "attempt %s (cell %lld: %s) repeat %d%s%s%s", b->status,
            (long long)b->cell_id, label, b->repeat, code, line[0] ? ": " : "", line);
    }
    if (r->nbad > 40) add(w, "... and %zu more unsuccessful attempts", r->nbad - 40);
    for (size_t i = 0; i < r->nrefused; i++)
        add(w, "metric '%s' not stored in %lld attempt(s): %s", r->refused[i].name,
            r->refused[i].count, r->refused[i].reason);
}

/* Cells without a success one by one, those with few repeats in one line. */
static void repeat_warnings(const rep_run_data *r, strv *w)
{
    rep__sb thin = {0};
    size_t nthin = 0, minok = (size_t)-1;
    for (size_t i = 0; i < r->ncells; i++) {
        const rep_cell_data *c = &r->cells[i];
        char label[256];
        rep_cell_label(c->params, REP_LABEL_MAIN, NULL, label, sizeof label);
        if (c->ok == 0) {
            add(w, "cell %lld (%s): no successful attempt, left out of every figure",
                (long long)c->id, label);
        } else if (c->ok < 3) {
            rep__sb_printf(&thin, "%s%lld", nthin ? ", " : "", (long long)c->id);
            nthin++;
            minok = c->ok < minok ? c->ok : minok;
        }
    }
    if (nthin)
        add(w, "%zu cell%s with fewer than 3 successful repeats (as few as %zu): their error "
               "bars and tests are not meaningful (cell%s %.800s)",
            nthin, nthin == 1 ? "" : "s", minok, nthin == 1 ? "" : "s", rep__sb_str(&thin));
    if (thin.oom) w->oom = 1;
    rep__sb_release(&thin);
}

int rep__run_warnings(const rep_run_data *r, char ***out, size_t *n)
{
    strv w = {0};
    if (r->status && strcmp(r->status, "complete") != 0)
        add(&w, "run %lld has status '%s': its results may be partial", (long long)r->id,
            r->status);
    /* the machine handed freed memory back to its host while the run ran:
     * every process's first touch of memory may have been slow */
    json_t *tun = r->tuning ? json_loads(r->tuning, 0, NULL) : NULL;
    if (json_is_true(json_object_get(tun, "free_page_reporting")))
        add(&w, "free page reporting was on: this VM hands freed memory back to its host, so "
                "a process's first touch of memory can cost a host fault per page; MPI ranks, "
                "which start after mpirun and MPI_Init, pay it most (README, \"Measured on "
                "this machine\")");
    json_decref(tun);
    counter_warnings(r, &w);
    attempt_warnings(r, &w);
    repeat_warnings(r, &w);
    if (w.oom) {
        rep__strv_free(w.v, w.n);
        *out = NULL;
        *n = 0;
        return IB_ENOMEM;
    }
    *out = w.v;
    *n = w.n;
    return 0;
}
