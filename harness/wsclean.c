/*
 * wsclean.c: a suite cell imaged by WSClean (imager: wsclean). The cell's
 * dataset is exported once as an MS beside the cached store, WSClean is
 * run with the cell's parameters, and what it printed becomes a stats
 * record in our schema (imbench-stats/1, program wsclean) that run-suite
 * ingests like the imager's. See docs/wsclean.md.
 */
#define _GNU_SOURCE
#include "harness/wsclean.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- planning -------------------------------------------------------------- */

static const char *corr_name(int code)
{
    switch (code) {
    case -5: return "xx";
    case -6: return "yy";
    case -7: return "xy";
    case -8: return "yx";
    case -1: return "rr";
    case -2: return "ll";
    case -3: return "rl";
    case -4: return "lr";
    case 1: return "i";
    case 2: return "q";
    case 3: return "u";
    case 4: return "v";
    }
    return NULL;
}

int hx_ws_plan_cell(ib_err *e, const wl_cell *c, const char *store_dir, hx_ws_plan *p)
{
    memset(p, 0, sizeof *p);
    /* the cell's parameters, as the table reads them (defaults where unset) */
    int nodes = (int)wl_cell_int(c, IB_P_NODES);
    int standard = c->v[IB_P_GRIDDER].set && c->v[IB_P_GRIDDER].i == 0;
    if (nodes > 1)
        return ib_error(e, IB_EUNSUPPORTED, "wsclean cells run on one node, this one asks for "
                                            "nodes=%d", nodes);
    if (c->v[IB_P_GRIDDER].set && !standard)
        return ib_error(e, IB_EUNSUPPORTED, "wsclean cells use WSClean's standard gridding; "
                                            "gridder=mosaic has no WSClean counterpart here");
    img_vis_store *s = NULL;
    int rc = img_vis_open(e, store_dir, &s);
    if (rc) return rc;
    p->meta = *img_vis_meta_get(s);
    img_vis_abort(s);
    const img_vis_meta *m = &p->meta;
    if (m->nfield > 1 && !standard)
        return ib_error(e, IB_EUNSUPPORTED, "store '%s' has %d fields (a mosaic): wsclean cells "
                                            "image one phase centre", store_dir, m->nfield);
    p->nx = c->v[IB_P_IMAGE].set ? (int)c->v[IB_P_IMAGE].i : m->image_nx;
    p->ny = c->v[IB_P_IMAGE].set ? c->v[IB_P_IMAGE].j : m->image_ny;
    p->cell_arcsec = m->cell_arcsec;
    if (p->nx < 2 || p->ny < 2)
        return ib_error(e, IB_EINVAL, "store '%s' suggests no image size: set image: in the "
                                      "suite", store_dir);
    if (!(p->cell_arcsec > 0))
        return ib_error(e, IB_EINVAL, "store '%s' suggests no cell size", store_dir);
    p->padding = wl_cell_real(c, IB_P_PADDING);
    size_t len = 0;
    for (int i = 0; i < m->npol; i++) {
        const char *n = corr_name(m->corr[i]);
        if (!n)
            return ib_error(e, IB_EUNSUPPORTED, "store '%s': correlation code %d has no WSClean "
                                                "polarisation name", store_dir, m->corr[i]);
        len += (size_t)snprintf(p->pol + len, sizeof p->pol - len, "%s%s", i ? "," : "", n);
        if (len >= sizeof p->pol) return ib_error(e, IB_EOVERFLOW, "too many correlations");
    }
    /* --stokes: WSClean's -pol of the same planes (i, xx,yy, ...); corr:
     * the store's correlations, as above */
    char st[32];
    wl_cell_text(c, IB_P_STOKES, st, sizeof st);
    if (strcmp(st, "corr") != 0) {
        size_t k = 0;
        for (; st[k] && k + 1 < sizeof p->pol; k++) p->pol[k] = (char)tolower((unsigned char)st[k]);
        p->pol[k] = '\0';
    }
    wl_cell_text(c, IB_P_WEIGHT, p->weight, sizeof p->weight);
    return 0;
}

/* ---- the command line ------------------------------------------------------- */

static void wa_add(hx_ws_args *a, const char *s)
{
    IB_ASSERT(a->n < 63);
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void wa_addf(hx_ws_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wa_addf(hx_ws_args *a, const char *fmt, ...)
{
    IB_ASSERT(a->nnum < 24);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->num[a->nnum], sizeof a->num[0], fmt, ap);
    va_end(ap);
    wa_add(a, a->num[a->nnum++]);
}

void hx_ws_build_argv(const wl_cell *c, const hx_ws_plan *p, const char *wsclean,
                      const char *prefix, const char *temp_dir, const char *ms, hx_ws_args *a)
{
    a->n = a->nnum = 0;
    wa_add(a, wsclean);
    wa_add(a, "-name");
    wa_add(a, prefix);
    wa_add(a, "-size");
    wa_addf(a, "%d", p->nx);
    wa_addf(a, "%d", p->ny);
    wa_add(a, "-scale");
    wa_addf(a, "%.17gasec", p->cell_arcsec);
    wa_add(a, "-channels-out");
    wa_addf(a, "%lld", (long long)p->meta.nchan);
    wa_add(a, "-pol");
    wa_add(a, p->pol);
    wa_add(a, "-weight");
    if (!strncmp(p->weight, "briggs:", 7)) {
        wa_add(a, "briggs");
        wa_add(a, p->weight + 7);
    } else {
        wa_add(a, p->weight);
    }
    if (c->v[IB_P_THREADS].set) {
        wa_add(a, "-j");
        wa_addf(a, "%lld", (long long)c->v[IB_P_THREADS].i);
    }
    wa_add(a, "-padding");
    wa_addf(a, "%.17g", p->padding);
    wa_add(a, "-use-wgridder");
    wa_add(a, "-niter");
    wa_add(a, "0");
    wa_add(a, "-no-update-model-required");
    wa_add(a, "-no-small-inversion");
    wa_add(a, "-temp-dir");
    wa_add(a, temp_dir);
    wa_add(a, ms);
}

/* ---- the log ---------------------------------------------------------------- */

/* "HH:MM:SS.frac" (WSClean's durations) in seconds; -1 if not one. */
static double hms(const char *s)
{
    int h, m;
    double sec;
    if (sscanf(s, "%d:%d:%lf", &h, &m, &sec) != 3 || h < 0 || m < 0 || sec < 0) return -1;
    return h * 3600.0 + m * 60.0 + sec;
}

void hx_ws_parse_log(const char *text, hx_ws_log *out)
{
    memset(out, 0, sizeof *out);
    out->inversion_s = out->prediction_s = out->deconvolution_s = -1;
    if (!text) return;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        const char *q;
        if (!strncmp(line, "WSClean version ", 16)) {
            snprintf(out->version, sizeof out->version, "%.*s", (int)strcspn(line + 16, " "),
                     line + 16);
        } else if (!strncmp(line, "Inversion: ", 11)) {
            /* cumulative: the last such line holds the totals */
            out->inversion_s = hms(line + 11);
            if ((q = strstr(line, "prediction: "))) out->prediction_s = hms(q + 12);
            if ((q = strstr(line, "deconvolution: "))) out->deconvolution_s = hms(q + 15);
        } else if (!strncmp(line, "Reordering ", 11)) {
            out->reordered = 1;
        } else if (!strncmp(line, "Gridded visibility count: ", 26)) {
            out->gridded += strtod(line + 26, NULL);
            out->ninversions++;
        }
        p += len;
        if (*p) p++;
    }
}

static char *read_text(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
        if (n + 1 == cap) {
            char *nb = cap < ((size_t)64 << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) break; /* keep what we have: the log is only parsed */
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    return buf;
}

/* ---- stats.json ------------------------------------------------------------- */

static int add_metric(json_t *a, const char *name, double v, const char *unit, const char *better)
{
    return json_array_append_new(a, json_pack("{s:s, s:f, s:s, s:s}", "name", name, "value", v,
                                              "unit", unit, "better", better));
}

static int add_phase(json_t *a, const char *name, double wall)
{
    return json_array_append_new(a, json_pack("{s:s, s:f}", "name", name, "wall_s", wall));
}

int hx_ws_write_stats(ib_err *e, const char *path, const wl_cell *c, const hx_ws_plan *p,
                      const char *log_path, double wall_s)
{
    char *text = read_text(log_path);
    hx_ws_log lg;
    hx_ws_parse_log(text, &lg);
    free(text);
    const img_vis_meta *m = &p->meta;
    json_t *params = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:s, s:i, s:b}", "imager",
                               "wsclean", "weight", p->weight, "image_nx", p->nx, "image_ny",
                               p->ny, "cell_arcsec", p->cell_arcsec, "padding", p->padding,
                               "pol", p->pol, "threads",
                               c->v[IB_P_THREADS].set ? (int)c->v[IB_P_THREADS].i : 0,
                               "wgridder", 1);
    json_t *ds = json_pack("{s:s, s:I, s:I, s:i, s:i}", "name", m->dataset, "nrow",
                           (json_int_t)m->nrow, "nchan", (json_int_t)m->nchan, "npol", m->npol,
                           "nfield", m->nfield);
    json_t *phases = json_array(), *metrics = json_array();
    int bad = !params || !ds || !phases || !metrics;
    if (!bad && lg.inversion_s >= 0) bad |= add_phase(phases, "inversion", lg.inversion_s);
    if (!bad && lg.prediction_s > 0) bad |= add_phase(phases, "prediction", lg.prediction_s);
    if (!bad && lg.deconvolution_s > 0)
        bad |= add_phase(phases, "deconvolution", lg.deconvolution_s);
    if (!bad && lg.inversion_s >= 0 && wall_s >= lg.inversion_s)
        /* reading, reordering, weights, writing: everything outside the inversions */
        bad |= add_phase(phases, "other", wall_s - lg.inversion_s);
    if (!bad) bad |= add_metric(metrics, "wall_time", wall_s, "s", "lower");
    if (!bad && lg.ninversions) {
        bad |= add_metric(metrics, "samples_gridded", lg.gridded, "count", "higher");
        if (lg.inversion_s > 0)
            bad |= add_metric(metrics, "grid_rate", lg.gridded / lg.inversion_s, "samples/s",
                              "higher");
    }
    if (!bad && wall_s > 0) {
        double samples = (double)m->nrow * (double)m->nchan * m->npol;
        bad |= add_metric(metrics, "vis_rate", samples / wall_s, "samples/s", "higher");
    }
    json_t *o = NULL;
    if (!bad)
        o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:f, s:o, s:o, s:{s:{s:b, s:s}}}", "schema",
                      "imbench-stats/1", "program", "wsclean", "version",
                      lg.version[0] ? lg.version : "unknown", "params", params, "dataset", ds,
                      "wall_seconds", wall_s, "phases", phases, "metrics", metrics, "counters",
                      "papi", "available", 0, "reason", "WSClean runs without PAPI counters");
    else {
        json_decref(params);
        json_decref(ds);
        json_decref(phases);
        json_decref(metrics);
    }
    if (!o) return ib_error(e, IB_ENOMEM, "out of memory writing '%s'", path);
    char tmp[4200];
    if (ib_path_fmt(e, tmp, sizeof tmp, "%s.tmp", path)) {
        json_decref(o);
        return e->code;
    }
    int rc = json_dump_file(o, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (rc || rename(tmp, path) != 0) {
        remove(tmp);
        return ib_error(e, IB_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    return 0;
}

/* ---- the MS beside the store ------------------------------------------------ */

/* The temporary MS this process named (vis-tmp-PID.ms) and its children. */
static void rm_tree(const char *path) { ib_rm_rf(NULL, path); }

static int is_ms(const char *ms)
{
    char p[4200];
    return ib_path_fmt(NULL, p, sizeof p, "%s/table.dat", ms) == 0 && access(p, F_OK) == 0;
}

int hx_ws_ensure_ms(ib_err *e, const char *harness, const char *store_dir, double timeout_s,
                    char *ms, size_t msn, int *made)
{
    *made = 0;
    char tmp[4200], log[4300];
    if (ib_path_fmt(e, ms, msn, "%s/vis.ms", store_dir)) return e->code;
    if (is_ms(ms)) return 0;
    if (ib_path_fmt(e, tmp, sizeof tmp, "%s/vis-tmp-%ld.ms", store_dir, (long)getpid()) ||
        ib_path_fmt(e, log, sizeof log, "%s/export-ms-%ld.log", store_dir, (long)getpid()))
        return e->code;
    rm_tree(tmp);
    char *argv[] = {(char *)harness, "export-ms", (char *)store_dir, tmp, NULL};
    hx_proc pr;
    int rc = hx_run_process(e, argv, log, NULL, timeout_s, NULL, NULL, &pr);
    remove(log);
    if (rc) {
        rm_tree(tmp);
        return rc;
    }
    if (pr.end == HX_INTERRUPTED) {
        rm_tree(tmp);
        return IB_EINTERRUPTED;
    }
    if (pr.end != HX_EXITED || pr.exit_code != 0) {
        rm_tree(tmp);
        return ib_error(e, IB_EIO, "harness: exporting '%s' as an MS failed (%s %d): %s",
                        store_dir, pr.end == HX_TIMED_OUT ? "timed out, status" : "exit status",
                        pr.exit_code, pr.tail);
    }
    if (rename(tmp, ms) != 0) {
        /* another run-suite finished the same MS first: theirs is as good */
        int err = errno;
        rm_tree(tmp);
        if (!is_ms(ms))
            return ib_error(e, IB_EIO, "cannot move '%s' to '%s': %s", tmp, ms, strerror(err));
        return 0;
    }
    *made = 1;
    return 0;
}
