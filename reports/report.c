/*
 * report.c: `harness report` — one run of the results database turned into
 * a directory with index.html (self-contained), report.md and, for every
 * figure, its data, its gnuplot script, a PNG and an SVG. The report is
 * the table of figures in figures.c, walked in order: run-scope entries
 * once, dataset-scope entries once per dataset under its heading. This
 * file holds what every entry shares: the labels that say what a figure
 * is (measured here with its cores, model, simulated, the study's), the
 * figure and data-file writers, warnings, and the walk itself.
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rep_report_opts_init(rep_report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->study_nodes = 8;
    o->full_scale = 1.0;
    o->boot = 1000;
    o->seed = 1;
}

void rep__warn(rep__report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(&r->warn, fmt, ap);
    va_end(ap);
    rep__sb_puts(&r->warn, "\n");
}

void rep__kind_words(int kinds, int cores_lo, int cores_hi, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
#define ADD(...)                                                                          \
    do {                                                                                  \
        if (len < n) {                                                                    \
            int k_ = snprintf(buf + len, n - len, __VA_ARGS__);                           \
            if (k_ > 0) len += (size_t)k_;                                                \
        }                                                                                 \
    } while (0)
    if (kinds & REP__K_MEASURED) {
        if (cores_lo > 0 && cores_hi > cores_lo)
            ADD("measured here on %d-%d cores (ranks x threads)", cores_lo, cores_hi);
        else if (cores_lo > 0)
            ADD("measured here on %d core%s (ranks x threads)", cores_lo, cores_lo == 1 ? "" : "s");
        else
            ADD("measured here");
    }
    if (kinds & REP__K_MODEL) ADD("%smodel", len ? "; " : "");
    if (kinds & REP__K_SIMULATED) ADD("%ssimulated", len ? "; " : "");
    if (kinds & REP__K_STUDY) ADD("%sthe study's figures (stated or read from its plots)", len ? "; " : "");
#undef ADD
}

int rep__data_file(rep__report *r, const char *name, rep__sb *b)
{
    if (b->oom) return ib_error(r->e, IB_ENOMEM, "out of memory writing '%s'", name);
    return rep__out_write(r->e, &r->out, name, rep__sb_str(b));
}

int rep__figure(rep__report *r, const char *name, const char *title, int kinds, int cores_lo,
                int cores_hi, const char *caption, const char *datafiles, const char *body)
{
    char words[256], full[800];
    rep__kind_words(kinds, cores_lo, cores_hi, words, sizeof words);
    snprintf(full, sizeof full, "%s [%s]", title, words);
    rep__sb g = {0}, cap = {0};
    rep__sb_puts(&g, "set title ");
    rep__gpq(&g, full);
    rep__sb_printf(&g, "\n%s", body);
    if (words[0] >= 'a' && words[0] <= 'z') words[0] = (char)(words[0] - 'a' + 'A');
    rep__sb_printf(&cap, "%s. %s", words, caption);
    int rc = 0;
    if (g.oom || cap.oom) rc = ib_error(r->e, IB_ENOMEM, "out of memory writing '%s'", name);
    int made = rc ? 0 : rep__plot(r->e, &r->plot, name, rep__sb_str(&g));
    if (!rc && made < 0) rc = made;
    if (!rc) {
        rep__doc_fig(&r->body, name, full, rep__sb_str(&cap), datafiles, made == 1);
        r->nfigs++;
    }
    rep__sb_release(&g);
    rep__sb_release(&cap);
    return rc;
}

void rep__section(rep__report *r, const char *section)
{
    if (!section || (r->section && strcmp(r->section, section) == 0)) return;
    rep__doc_head(&r->body, 3, NULL, "%s", section);
    r->section = section;
}

/* ---- the walk --------------------------------------------------------------------- */

static int run_entry(rep__report *r, const rep__figdef *f, const char *dataset)
{
    void *data = NULL;
    int rc = f->data(r, dataset, &data);
    if (!rc && data) {
        if (f->scope == REP__DATASET) rep__section(r, f->section);
        rc = f->render(r, dataset, data);
    }
    if (data) f->release(data);
    return rc;
}

/* Dataset-scope entries [a, b) for every dataset, each under its heading. */
static int dataset_block(rep__report *r, size_t a, size_t b)
{
    const char **ds;
    size_t nds;
    if (rep__datasets(&r->run, &ds, &nds)) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < nds && !rc; i++) {
        char slug[80], id[100];
        rep__slug(slug, sizeof slug, ds[i][0] ? ds[i] : "unnamed");
        snprintf(id, sizeof id, "ds-%s", slug);
        rep__doc_head(&r->body, 2, id, "Dataset %s", ds[i][0] ? ds[i] : "(unnamed)");
        r->section = NULL;
        if (r->o->log) fprintf(r->o->log, "report: dataset %s\n", ds[i]);
        size_t before = r->nfigs, blocks = r->body.n;
        for (size_t k = a; k < b && !rc; k++) rc = run_entry(r, &rep__figures[k], ds[i]);
        if (!rc && r->nfigs == before && r->body.n == blocks)
            rep__doc_para(&r->body, "This run has no sweep along cores, chunks or support for "
                                    "%s (each needs at least two values with every other "
                                    "parameter fixed): see the cells table.",
                          ds[i]);
    }
    ib_free(ds);
    return rc;
}

static int walk(rep__report *r)
{
    int rc = 0;
    for (size_t k = 0; k < rep__nfigures && !rc;) {
        if (rep__figures[k].scope == REP__DATASET) {
            size_t b = k;
            while (b < rep__nfigures && rep__figures[b].scope == REP__DATASET) b++;
            rc = dataset_block(r, k, b);
            k = b;
        } else {
            rc = run_entry(r, &rep__figures[k], NULL);
            k++;
        }
    }
    return rc;
}

static void warnings(rep__report *r)
{
    rep__doc *d = &r->head;
    rep__doc_head(d, 2, "warnings", "Warnings");
    size_t n = 0;
    if (!r->plot.available) {
        rep__doc_item(d, "figures not rendered: %s", r->plot.why);
        n++;
    }
    char **w = NULL;
    size_t nw = 0;
    if (rep__run_warnings(&r->run, &w, &nw) == 0)
        for (size_t i = 0; i < nw; i++, n++) rep__doc_item(d, "%s", w[i]);
    else
        rep__doc_item(d, "out of memory listing the run's warnings"), n++;
    rep__strv_free(w, nw);
    const char *srcs[2] = {rep__sb_str(&r->plot.failures), rep__sb_str(&r->warn)};
    for (int k = 0; k < 2; k++) {
        const char *p = srcs[k];
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            if (len) {
                rep__doc_item(d, "%.*s", (int)len, p);
                n++;
            }
            p += len + (nl ? 1 : 0);
        }
    }
    if (!n) rep__doc_para(d, "None.");
    r->nwarn = n;
}

/* The run (latest when run_id is 0), checked options, the directory. */
static int prepare(rep__report *r, int64_t *run)
{
    const rep_report_opts *o = r->o;
    int rc = *run > 0 ? 0 : res_report_latest_run(r->e, r->db, NULL, run);
    if (!rc) rc = res_report_run_load(r->e, r->db, *run, &r->run);
    if (rc) return rc;
    if (o->gantt_cell > 0) { /* a bad cell is a usage error: check before writing */
        size_t i = 0;
        while (i < r->run.ncells && r->run.cells[i].id != o->gantt_cell) i++;
        if (i == r->run.ncells)
            return ib_error(r->e, IB_EINVAL, "--gantt-cell %lld: run %lld has no such cell "
                                             "(see `harness show %lld`)",
                            (long long)o->gantt_cell, (long long)*run, (long long)*run);
    }
    if (!(o->full_scale > 0))
        return ib_error(r->e, IB_EINVAL, "--full-scale must be > 0, got %g", o->full_scale);
    char dir[4096];
    if (o->out_dir && *o->out_dir) {
        snprintf(dir, sizeof dir, "%s", o->out_dir);
    } else {
        char slug[128];
        rep__slug(slug, sizeof slug, r->run.suite);
        snprintf(dir, sizeof dir, "reports/%s-%lld", slug, (long long)*run);
    }
    rc = ib_mkdir_p(r->e, dir);
    if (rc) return rc;
    rep__out_init(&r->out, dir);
    return res_report_baselines(r->e, r->db, NULL, *run, &r->baselines, &r->nbaselines);
}

static void fill_info(const rep__report *r, rep_report_info *info)
{
    memset(info, 0, sizeof *info);
    info->run_id = r->run.id;
    snprintf(info->out_dir, sizeof info->out_dir, "%s", r->out.dir);
    info->plots = r->plot.made;
    info->rendered = r->plot.rendered;
    info->warnings = r->nwarn;
    snprintf(info->gnuplot_note, sizeof info->gnuplot_note, "%s",
             r->plot.available ? "" : r->plot.why);
    for (size_t i = 0; r->model && i < r->model->npred; i++) {
        const rep__pred *p = &r->model->pred[i];
        info->predictions += p->p.ok;
        info->stored += (size_t)(p->stored && r->o->store_predictions);
        info->off += p->p.ok && isfinite(p->err) && fabs(p->err) > 0.25;
    }
}

int rep_report_write(ib_err *e, res_db *db, const rep_report_opts *o, rep_report_info *info)
{
    rep_report_opts def;
    if (!o) {
        rep_report_opts_init(&def);
        o = &def;
    }
    rep__report r;
    memset(&r, 0, sizeof r);
    r.e = e;
    r.db = db;
    r.o = o;
    rep_amdahl_opts_init(&r.ao);
    r.ao.boot = o->boot >= 10 ? o->boot : 1000;
    r.ao.seed = o->seed;
    int64_t run = o->run_id;
    int rc = prepare(&r, &run);
    if (!rc) {
        rep__plotter_init(&r.plot, &r.out, o->gnuplot);
        char title[512];
        snprintf(title, sizeof title, "imbench report: %s, run %lld", r.run.suite,
                 (long long)run);
        rep__doc_init(&r.head, title);
        rep__doc_init(&r.body, title);
        rc = rep__model_build(&r);
        if (!rc) rc = walk(&r);
        if (!rc) {
            warnings(&r);
            rep__doc_append(&r.head, &r.body);
            rc = rep__doc_write_md(e, &r.head, &r.out);
        }
        /* the page last: it embeds the images just written */
        if (!rc) rc = rep__doc_write_html(e, &r.head, &r.out);
        if (!rc && info) fill_info(&r, info);
        rep__doc_release(&r.head);
        rep__doc_release(&r.body);
        rep__plotter_release(&r.plot);
    }
    ib_free(r.fits);
    ib_free(r.kf);
    rep__model_free(r.model);
    ib_free(r.sims);
    res_baseline_rows_free(r.baselines, r.nbaselines);
    rep__sb_release(&r.warn);
    res_report_run_release(&r.run);
    return rc;
}
