/*
 * fig_bench.c: what `harness bench` prints, drawn — image writes in
 * parallel (every rank its own planes) against serial (funnelled through
 * rank 0, as CASA writes), and the three schedulers (static, dynamic,
 * locality), side by side per dataset, with each rank's busy, idle and
 * set-up time: the load imbalance the study blames for CASA's stagnation
 * beyond one node, measured. Cells that differ only in schedule and
 * serial_write form a group; absent parameters take the imager's defaults
 * (static, parallel writes).
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 3
#define MAX_CONF 12
#define MAX_RANKS 16

typedef struct conf {
    size_t cell;
    char schedule[16];
    int serial;
    rep__mmm w;
    rep_ci ratio;             /* wall / the reference configuration's */
    int has_ratio;
    int nranks;               /* ranks with per-rank loads (0: none recorded) */
    double busy[MAX_RANKS], idle[MAX_RANKS], setup[MAX_RANKS]; /* medians, wall seconds */
} conf;

typedef struct wgroup {
    char label[256];
    char layout[32];          /* "2x1" */
    conf c[MAX_CONF];
    size_t n, ref;
} wgroup;

typedef struct writes_data {
    wgroup g[MAX_GROUPS];
    size_t ng;
} writes_data;

void rep__writes_release(void *data) { ib_free(data); }

/* Per-rank medians over the attempts: busy per thread, idle, set-up. */
static void rank_loads(const rep_cell_data *c, conf *f)
{
    double b[64], i[64], s[64];
    for (int rank = 0; rank < MAX_RANKS; rank++) {
        size_t n = 0;
        for (size_t k = 0; k < c->nranks && n < 64; k++) {
            const res_rank_load *l = &c->ranks[k];
            if (l->rank != rank || !(l->wall_s > 0) || !isfinite(l->busy_s)) continue;
            double th = l->threads > 0 ? l->threads : 1;
            double setup = isfinite(l->setup_s) ? l->setup_s : 0;
            b[n] = l->busy_s / th;
            s[n] = setup;
            i[n] = fmax(0, l->wall_s - setup - b[n]);
            n++;
        }
        if (!n) break;
        f->busy[rank] = rep_median_or_nan(b, n);
        f->idle[rank] = rep_median_or_nan(i, n);
        f->setup[rank] = rep_median_or_nan(s, n);
        f->nranks = rank + 1;
    }
}

static void fill(rep__report *r, const rep__group *gr, wgroup *w)
{
    for (size_t k = 0; k < gr->n && w->n < MAX_CONF; k++) {
        const rep_cell_data *c = &r->run.cells[gr->cell[k]];
        conf *f = &w->c[w->n++];
        memset(f, 0, sizeof *f);
        f->cell = gr->cell[k];
        char buf[16];
        snprintf(f->schedule, sizeof f->schedule, "%s",
                 rep__param_str(c, "schedule", "static", buf, sizeof buf));
        f->serial = rep__param_num(c, "serial_write", 0) > 0;
        rep__mmm_of(rep__metric(c, "wall_time"), &f->w);
        rank_loads(c, f);
    }
    /* the reference: static with parallel writes, else the first */
    w->ref = 0;
    for (size_t k = 0; k < w->n; k++)
        if (!strcmp(w->c[k].schedule, "static") && !w->c[k].serial) w->ref = k;
    const rep_values *b = rep__metric(&r->run.cells[w->c[w->ref].cell], "wall_time");
    for (size_t k = 0; k < w->n; k++) {
        const rep_values *v = rep__metric(&r->run.cells[w->c[k].cell], "wall_time");
        w->c[k].has_ratio = k != w->ref && v && b &&
                            rep_boot_ratio_ci(NULL, v->v, v->n, b->v, b->n, 0.95, r->o->boot,
                                              r->o->seed + k, &w->c[k].ratio) == 0;
    }
}

int rep__writes_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    size_t *idx = ib_malloc((r->run.ncells ? r->run.ncells : 1) * sizeof *idx), m = 0;
    writes_data *d = ib_calloc(1, sizeof *d);
    if (!idx || !d) {
        ib_free(idx);
        ib_free(d);
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->run.ncells; i++) {
        const rep_cell_data *c = &r->run.cells[i];
        if (!strcmp(c->dataset, ds) && c->ok && rep__metric(c, "wall_time")) idx[m++] = i;
    }
    static const char *const drop[] = {"schedule", "serial_write", "dataset_key", NULL};
    rep__group *g = NULL;
    size_t ng = 0;
    int rc = rep__group_cells(&r->run, idx, m, drop, &g, &ng);
    ib_free(idx);
    for (size_t k = 0; !rc && k < ng && d->ng < MAX_GROUPS; k++) {
        if (g[k].n < 2) continue;
        wgroup *w = &d->g[d->ng++];
        const rep_cell_data *c0 = &r->run.cells[g[k].cell[0]];
        rep_cell_label(c0->params, REP_LABEL_MAIN, NULL, w->label, sizeof w->label);
        snprintf(w->layout, sizeof w->layout, "%dx%d", c0->nodes > 0 ? c0->nodes : 1,
                 c0->threads > 0 ? c0->threads : 1);
        fill(r, &g[k], w);
    }
    rep__groups_free(g, ng);
    if (rc) rc = ib_error(r->e, IB_ENOMEM, "out of memory");
    if (rc || !d->ng) {
        ib_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static void conf_name(const conf *f, char *buf, size_t n)
{
    snprintf(buf, n, "%s, %s writes", f->schedule, f->serial ? "serial (rank 0)" : "parallel");
}

static int wall_figure(rep__report *r, const char *ds, const char *stem, const wgroup *w,
                       int cores)
{
    rep__sb b = {0}, p = {0};
    double hi = 0;
    rep__sb_puts(&b, "# x configuration median_s min_s max_s ratio ci_lo ci_hi serial\n");
    for (size_t k = 0; k < w->n; k++) {
        const conf *f = &w->c[k];
        char nm[64];
        conf_name(f, nm, sizeof nm);
        rep__sb_printf(&b, "%zu \"%s\" %.9g %.9g %.9g %.9g %.9g %.9g %d\n", k, nm, f->w.med,
                       f->w.lo, f->w.hi, f->has_ratio ? f->ratio.est : 1.0,
                       f->has_ratio ? f->ratio.lo : 1.0, f->has_ratio ? f->ratio.hi : 1.0,
                       f->serial);
        hi = fmax(hi, f->w.hi);
    }
    char file[160], name[160], title[400];
    snprintf(file, sizeof file, "writes-%s.dat", stem);
    snprintf(name, sizeof name, "writes-%s", stem);
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&p, "set ylabel 'wall time (s): median, min-max of repeats'\n"
                           "set style fill solid 0.75 border -1\nset boxwidth 0.6\n"
                           "set xrange [-0.7:%zu.7]\nset xtics rotate by -15\nset grid ytics\n"
                           "unset key\n",
                       w->n - 1);
        rep__axis(&p, "y", 0, hi, 0, 1);
        rep__sb_printf(&p, "plot '%s' using 1:3:($9 > 0 ? 0xd62728 : 0x1f77b4):xtic(2) with boxes "
                           "lc rgb variable, \\\n     '' using 1:3:4:5 with yerrorbars pt 0 lc "
                           "rgb 'black'\n",
                       file);
        snprintf(title, sizeof title, "%s: image writes and schedulers, %s", ds, w->layout);
        char cap[900];
        snprintf(cap, sizeof cap,
                 "Wall time per configuration of the same cells (%s): schedule (static, "
                 "dynamic, locality) and image writes (blue: every rank writes its own "
                 "planes; red: serial, funnelled through rank 0 as CASA writes). Bars: median; "
                 "whiskers: min-max of the repeats. The table gives each configuration "
                 "against static scheduling with parallel writes (ratio of medians, 95%% "
                 "bootstrap CI).",
                 w->label);
        rc = p.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, cores, cores, cap, file,
                                 rep__sb_str(&p));
    }
    rep__sb_release(&b);
    rep__sb_release(&p);
    return rc;
}

static int imbalance_figure(rep__report *r, const char *ds, const char *stem, const wgroup *w,
                            int cores)
{
    rep__sb b = {0}, p = {0};
    rep__sb_puts(&b, "# configuration/rank setup_s busy_s idle_s (medians over the repeats; "
                     "busy: the rank's thread-seconds of work / its threads)\n");
    size_t rows = 0;
    for (size_t k = 0; k < w->n; k++) {
        const conf *f = &w->c[k];
        for (int q = 0; q < f->nranks; q++) {
            rep__sb_printf(&b, "\"%s%s r%d\" %.9g %.9g %.9g\n", f->schedule,
                           f->serial ? " serial" : "", q, f->setup[q], f->busy[q], f->idle[q]);
            rows++;
        }
    }
    if (!rows) {
        rep__sb_release(&b);
        return 0;
    }
    char file[160], name[160], title[400];
    snprintf(file, sizeof file, "imbalance-%s.dat", stem);
    snprintf(name, sizeof name, "imbalance-%s", stem);
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        double hi = 0;
        for (size_t k = 0; k < w->n; k++)
            for (int q = 0; q < w->c[k].nranks; q++)
                hi = fmax(hi, w->c[k].setup[q] + w->c[k].busy[q] + w->c[k].idle[q]);
        rep__sb_puts(&p, "set xlabel 'configuration and rank'\nset ylabel 'seconds of wall time, "
                         "per rank'\nset style data histograms\nset style histogram "
                         "rowstacked\nset style fill solid 0.85 border -1\nset boxwidth 0.7\n"
                         "set xtics rotate by -25\nset key below Left reverse\nset grid ytics\n");
        rep__axis(&p, "y", 0, hi, 0, 1);
        rep__sb_printf(&p, "plot '%s' using 2:xtic(1) lc rgb '%s' title 'set-up', '' using 3 lc "
                           "rgb '%s' title 'busy (per thread)', '' using 4 lc rgb '%s' title "
                           "'idle'\n",
                       file, rep__phase_colour("setup"), rep__phase_colour("busy"),
                       rep__phase_colour("idle"));
        snprintf(title, sizeof title, "%s: busy and idle time per rank, %s", ds, w->layout);
        char cap[900];
        snprintf(cap, sizeof cap,
                 "Each rank's wall time split into set-up (before its workers start), busy "
                 "(its workers' thread-seconds of work divided by its threads) and idle (the "
                 "rest: waiting for chunks, for other ranks, for rank 0's writes), median over "
                 "the repeats, from the stats' per-rank records (%s). Uneven busy time is load "
                 "imbalance; idle time under serial writes is the cost of funnelling the cube "
                 "through rank 0.",
                 w->label);
        rc = p.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, cores, cores, cap, file,
                                 rep__sb_str(&p));
    }
    rep__sb_release(&b);
    rep__sb_release(&p);
    return rc;
}

static void writes_table(rep__report *r, const wgroup *w)
{
    static const char *const h[] = {"configuration", "wall median", "min-max",
                                    "against static, parallel writes [95% CI]",
                                    "load imbalance (max/mean busy)", "idle share"};
    size_t t = rep__doc_table(&r->body, "writes", w->label, 6, h);
    for (size_t k = 0; k < w->n; k++) {
        const conf *f = &w->c[k];
        const rep_cell_data *c = &r->run.cells[f->cell];
        char nm[64], a[48], lo[48], hi[48];
        conf_name(f, nm, sizeof nm);
        rep__fmt(a, sizeof a, f->w.med, "s");
        rep__fmt(lo, sizeof lo, f->w.lo, NULL);
        rep__fmt(hi, sizeof hi, f->w.hi, "s");
        rep__doc_cell(&r->body, t, "%s", nm);
        rep__doc_cell(&r->body, t, "%s", a);
        rep__doc_cell(&r->body, t, "%s-%s", lo, hi);
        if (k == w->ref) rep__doc_cell(&r->body, t, "1 (reference)");
        else if (f->has_ratio)
            rep__doc_cell(&r->body, t, "%.3f [%.3f, %.3f]", f->ratio.est, f->ratio.lo,
                          f->ratio.hi);
        else rep__doc_cell(&r->body, t, "-");
        double li = rep__vmedian(rep__metric(c, "load_imbalance"));
        double is = rep__vmedian(rep__metric(c, "idle_share"));
        if (isfinite(li)) rep__doc_cell(&r->body, t, "%.3f", li);
        else rep__doc_cell(&r->body, t, "-");
        if (isfinite(is)) rep__doc_cell(&r->body, t, "%.1f%%", 100 * is);
        else rep__doc_cell(&r->body, t, "-");
    }
}

int rep__writes_render(rep__report *r, const char *ds, const void *data)
{
    const writes_data *d = data;
    int rc = 0;
    for (size_t k = 0; k < d->ng && !rc; k++) {
        const wgroup *w = &d->g[k];
        const rep_cell_data *c0 = &r->run.cells[w->c[0].cell];
        int cores = (c0->nodes > 0 ? c0->nodes : 1) * (c0->threads > 0 ? c0->threads : 1);
        char slug[80], stem[120];
        rep__slug(slug, sizeof slug, ds);
        if (d->ng > 1) snprintf(stem, sizeof stem, "%s-%zu", slug, k + 1);
        else snprintf(stem, sizeof stem, "%s", slug);
        writes_table(r, w);
        rc = wall_figure(r, ds, stem, w, cores);
        if (!rc) rc = imbalance_figure(r, ds, stem, w, cores);
    }
    return rc;
}
