/*
 * fig_runs.c: where a run's time goes — the share of thread time per phase
 * for each layout of a dataset's main cores group, communication between
 * ranks per layout, and the task stream (Gantt chart) of one cell, read
 * from the tasks table (res_report_tasks) or the cell's tasks.csv.
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GANTT_TASKS 50000

/* ---- phases per layout ------------------------------------------------------------- */

typedef struct layouts_of {
    rep__cores_group *g;
    size_t ng;
} layouts_of;

void rep__phases_release(void *data)
{
    layouts_of *d = data;
    rep__cores_groups_free(d->g, d->ng);
    ib_free(d);
}

void rep__comm_release(void *data) { rep__phases_release(data); }

/* The dataset's main group when it has two layouts or more (and, for
 * comm, a multi-rank layout with communication recorded). */
static int main_group(rep__report *r, const char *ds, int comm, void **out)
{
    *out = NULL;
    layouts_of *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = rep__cores_groups(r->e, &r->run, ds, &d->g, &d->ng);
    int ok = !rc && d->ng && d->g[0].n >= 2;
    if (ok && comm) {
        ok = 0;
        for (size_t i = 0; i < d->g[0].n; i++) {
            const rep_cell_data *c = &r->run.cells[d->g[0].l[i].cell];
            ok |= d->g[0].l[i].ranks > 1 && (rep__metric(c, "comm_bytes") || rep__metric(c, "comm_time"));
        }
    }
    if (!ok) {
        rep__phases_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

int rep__phases_data(rep__report *r, const char *ds, void **out)
{
    return main_group(r, ds, 0, out);
}

int rep__comm_data(rep__report *r, const char *ds, void **out)
{
    return main_group(r, ds, 1, out);
}

static const char *const phase_order[] = {"read", "weight", "kernel", "grid", "fft", "correct",
                                          "write", "comm", "spill", "sched", "wait", "idle",
                                          "other", NULL};

int rep__phases_render(rep__report *r, const char *ds, const void *data)
{
    const rep__cores_group *g = &((const layouts_of *)data)->g[0];
    const char *names[64];
    size_t nn = 0;
    for (int k = 0; phase_order[k]; k++)
        for (size_t i = 0; i < g->n; i++)
            if (rep__phase(&r->run.cells[g->l[i].cell], phase_order[k])) {
                names[nn++] = phase_order[k];
                break;
            }
    for (size_t i = 0; i < g->n && nn < 64; i++) {
        const rep_cell_data *cl = &r->run.cells[g->l[i].cell];
        for (size_t p = 0; p < cl->nphases && nn < 64; p++) {
            size_t q = 0;
            while (q < nn && strcmp(names[q], cl->phases[p].name) != 0) q++;
            if (q == nn) names[nn++] = cl->phases[p].name;
        }
    }
    if (!nn) return 0;
    rep__sb d = {0}, p = {0};
    rep__sb_printf(&d, "# %s, group: %s\n# share of the summed thread time per phase (median "
                       "per phase over the repeats, normalised to their sum), per layout\n"
                       "layout",
                   ds, g->label);
    for (size_t q = 0; q < nn; q++) rep__sb_printf(&d, " %s", names[q]);
    rep__sb_puts(&d, "\n");
    size_t rows = 0;
    for (size_t i = 0; i < g->n; i++) {
        const rep_cell_data *cl = &r->run.cells[g->l[i].cell];
        double med[64], sum = 0;
        for (size_t q = 0; q < nn; q++) {
            med[q] = rep__vmedian(rep__phase(cl, names[q]));
            if (!isfinite(med[q]) || med[q] < 0) med[q] = 0;
            sum += med[q];
        }
        if (!(sum > 0)) continue;
        rows++;
        rep__sb_printf(&d, "%dx%d", g->l[i].ranks, g->l[i].threads);
        for (size_t q = 0; q < nn; q++) rep__sb_printf(&d, " %.6f", med[q] / sum);
        rep__sb_puts(&d, "\n");
    }
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "phases-%s.dat", slug);
    snprintf(name, sizeof name, "phases-%s", slug);
    snprintf(title, sizeof title, "%s: share of thread time per phase, per layout", ds);
    int rc = rows ? rep__data_file(r, file, &d) : 0;
    if (!rc && rows) {
        rep__sb_puts(&p, "set xlabel 'layout (ranks x threads)'\nset ylabel 'share of thread "
                         "time'\nset style data histograms\nset style histogram rowstacked\n"
                         "set style fill solid 0.85 border -1\nset boxwidth 0.7\n"
                         "set yrange [0:1]\nset ytics 0.2\nset key below Left reverse\n"
                         "set grid ytics\nplot ");
        for (size_t q = 0; q < nn; q++)
            rep__sb_printf(&p, "%s'%s' using %zu%s lc rgb '%s' title columnhead",
                           q ? ", \\\n     " : "", file, q + 2, q ? "" : ":xtic(1)",
                           rep__phase_colour(names[q]));
        rep__sb_puts(&p, "\n");
        char cap[600];
        snprintf(cap, sizeof cap,
                 "Stacked share of the summed thread time per phase for each layout of group "
                 "%s. Each phase is the median over the repeats; shares are normalised to the "
                 "sum of those medians.",
                 g->label);
        rc = p.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, g->l[0].cores,
                                 g->l[g->n - 1].cores, cap, file, rep__sb_str(&p));
    }
    rep__sb_release(&d);
    rep__sb_release(&p);
    return rc;
}

int rep__comm_render(rep__report *r, const char *ds, const void *data)
{
    const rep__cores_group *g = &((const layouts_of *)data)->g[0];
    rep__sb d = {0}, p = {0};
    rep__sb_printf(&d, "# %s, group: %s\n# x layout bytes_median bytes_min bytes_max "
                       "time_median_s time_min_s time_max_s messages_median\n",
                   ds, g->label);
    double bhi = 0, thi = 0;
    size_t rows = 0;
    for (size_t i = 0; i < g->n; i++) {
        const rep_cell_data *cl = &r->run.cells[g->l[i].cell];
        if (g->l[i].ranks < 2) continue;
        rep__mmm b, t;
        rep__mmm_of(rep__metric(cl, "comm_bytes"), &b);
        rep__mmm_of(rep__metric(cl, "comm_time"), &t);
        double m = rep__vmedian(rep__metric(cl, "comm_messages"));
        if (!b.n && !t.n) continue;
        rep__sb_printf(&d, "%zu %dx%d %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", rows++,
                       g->l[i].ranks, g->l[i].threads, b.n ? b.med : 0, b.n ? b.lo : 0,
                       b.n ? b.hi : 0, t.n ? t.med : 0, t.n ? t.lo : 0, t.n ? t.hi : 0,
                       isfinite(m) ? m : 0);
        bhi = fmax(bhi, b.n ? b.hi : 0);
        thi = fmax(thi, t.n ? t.hi : 0);
    }
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "comm-%s.dat", slug);
    snprintf(name, sizeof name, "comm-%s", slug);
    snprintf(title, sizeof title, "%s: communication between ranks, per layout", ds);
    int rc = rep__data_file(r, file, &d);
    if (!rc) {
        rep__sb_printf(&p, "set xlabel 'layout (ranks x threads)'\nset ylabel 'bytes sent "
                           "(median, min-max)'\nset y2label 'communication time (s)'\n"
                           "set ytics nomirror\nset xrange [-0.6:%zu.6]\nset grid\n"
                           "set key top left\n",
                       rows - 1);
        rep__axis(&p, "y", 0, bhi, 0, 1);
        rep__axis(&p, "y2", 0, thi, 0, 1);
        rep__sb_printf(&p, "plot '%s' using 1:3:4:5:xtic(2) with yerrorbars pt 7 ps 1.5 lc rgb "
                           "'%s' title 'bytes sent', \\\n     '' using 1:6:7:8 axes x1y2 with "
                           "yerrorbars pt 5 ps 1.5 lc rgb '%s' title 'time (s, right axis)'\n",
                       file, rep__palette[0], rep__palette[1]);
        char cap[512];
        snprintf(cap, sizeof cap,
                 "Bytes sent between ranks (left) and time spent communicating (right) for "
                 "each multi-rank layout of group %s; median with min-max over the repeats.",
                 g->label);
        rc = p.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, g->l[0].cores,
                                 g->l[g->n - 1].cores, cap, file, rep__sb_str(&p));
    }
    rep__sb_release(&d);
    rep__sb_release(&p);
    return rc;
}

/* ---- task stream (Gantt) --------------------------------------------------------------- */

typedef struct gantt_data {
    const rep_cell_data *cell;
    res_task *t;
    size_t n;
    int truncated;
    char from[4200];     /* "tasks table" or the CSV's path */
    char why[600];       /* why there is no chart, when t is NULL */
} gantt_data;

void rep__gantt_release(void *data)
{
    gantt_data *d = data;
    ib_free(d->t);
    ib_free(d);
}

static int tasks_push(gantt_data *d, size_t *cap, const res_task *t)
{
    if (d->n >= MAX_GANTT_TASKS) {
        d->truncated = 1;
        return 0;
    }
    if (d->n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        res_task *nt = ib_malloc(c * sizeof *nt);
        if (!nt) return IB_ENOMEM;
        if (d->n) memcpy(nt, d->t, d->n * sizeof *nt);
        ib_free(d->t);
        d->t = nt;
        *cap = c;
    }
    d->t[d->n++] = *t;
    return 0;
}

/* OUT/tasks.csv: rank,thread,chunk,chan,phase,start,end. Errors go to why. */
static int tasks_from_csv(const char *path, gantt_data *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(d->why, sizeof d->why, "tasks file '%.300s' cannot be read: %s", path,
                 strerror(errno));
        return -1;
    }
    char line[512];
    long ln = 0;
    size_t cap = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        if ((ln == 1 && strncmp(line, "rank,", 5) == 0) || line[0] == '\n' || line[0] == '#')
            continue;
        res_task t;
        char ph[32];
        if (sscanf(line, "%d,%d,%d,%d,%31[^,],%lf,%lf", &t.rank, &t.thread, &t.chunk, &t.chan,
                   ph, &t.start, &t.end) != 7 ||
            !isfinite(t.start) || !isfinite(t.end) || t.end < t.start || t.rank < 0 ||
            t.thread < 0) {
            snprintf(d->why, sizeof d->why, "tasks file '%.300s' line %ld: expected rank,"
                                            "thread,chunk,chan,phase,start,end with end >= start",
                     path, ln);
            rc = -1;
            break;
        }
        snprintf(t.phase, sizeof t.phase, "%.15s", ph);
        if (tasks_push(d, &cap, &t)) {
            snprintf(d->why, sizeof d->why, "out of memory reading '%.300s'", path);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Path of a cell's tasks.csv: beside its stats file. */
static int tasks_csv_path(const rep_cell_data *cl, char *out, size_t n)
{
    if (!cl->source || !cl->tasks_file) return -1;
    if (cl->tasks_file[0] == '/') {
        snprintf(out, n, "%s", cl->tasks_file);
    } else {
        const char *slash = strrchr(cl->source, '/');
        if (slash) snprintf(out, n, "%.*s/%s", (int)(slash - cl->source), cl->source,
                            cl->tasks_file);
        else snprintf(out, n, "%s", cl->tasks_file);
    }
    return 0;
}

/* Number of tasks a cell recorded (for choosing the Gantt cell). */
static double cell_tasks(rep__report *r, const rep_cell_data *cl)
{
    double n = rep__vmedian(rep__metric(cl, "task_events"));
    if (!isfinite(n)) n = rep__vmedian(rep__metric(cl, "tasks"));
    size_t k;
    if (!isfinite(n) && cl->first_ok && res_report_task_count(NULL, r->db, cl->first_ok, &k) == 0)
        n = (double)k;
    return isfinite(n) ? n : 0;
}

const rep_cell_data *rep__gantt_cell(rep__report *r)
{
    const rep_cell_data *pick = NULL;
    if (r->o->gantt_cell > 0) {
        for (size_t i = 0; i < r->run.ncells; i++)
            if (r->run.cells[i].id == r->o->gantt_cell) pick = &r->run.cells[i];
        return pick;
    }
    double best = 0;
    int best_multi = 0;
    for (size_t i = 0; i < r->run.ncells; i++) {
        const rep_cell_data *cl = &r->run.cells[i];
        if (!cl->first_ok) continue;
        double n = cell_tasks(r, cl);
        int multi = cl->nodes > 1;
        if (n <= 0) continue;
        if (!pick || multi > best_multi || (multi == best_multi && n > best)) {
            pick = cl;
            best = n;
            best_multi = multi;
        }
    }
    return pick;
}

int rep__gantt_data(rep__report *r, const char *dataset, void **out)
{
    (void)dataset;
    gantt_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    *out = d;
    d->cell = rep__gantt_cell(r);
    snprintf(d->from, sizeof d->from, "tasks table");
    if (!d->cell || !d->cell->first_ok) return 0;
    int rc = res_report_tasks(r->e, r->db, d->cell->first_ok, MAX_GANTT_TASKS, &d->t, &d->n,
                              &d->truncated);
    if (rc || d->n) return rc;
    char path[4200];
    if (tasks_csv_path(d->cell, path, sizeof path) == 0) {
        snprintf(d->from, sizeof d->from, "%s", path);
        if (tasks_from_csv(path, d)) d->n = 0;
    } else {
        snprintf(d->why, sizeof d->why, "no task events recorded for attempt %lld",
                 (long long)d->cell->first_ok);
    }
    return 0;
}

int rep__gantt_plot(rep__report *r, const res_task *t, size_t n, const char *file,
                    const char *what, const char *key_prefix, rep__sb *g)
{
    int maxr = 0, maxt = 0;
    double t0 = t[0].start;
    for (size_t i = 0; i < n; i++) {
        maxr = t[i].rank > maxr ? t[i].rank : maxr;
        maxt = t[i].thread > maxt ? t[i].thread : maxt;
        t0 = t[i].start < t0 ? t[i].start : t0;
    }
    const char *phases[32];
    size_t nph = 0;
    for (size_t i = 0; i < n; i++) {
        size_t q = 0;
        /* cppcheck-suppress uninitvar ; phases[q] is set for every q < nph */
        while (q < nph && strcmp(phases[q], t[i].phase) != 0) q++;
        if (q == nph && nph < 32) phases[nph++] = t[i].phase;
    }
    rep__sb dat = {0};
    rep__sb_printf(&dat, "# %s\n# one block per phase; row = rank * %d + thread\n", what,
                   maxt + 1);
    for (size_t q = 0; q < nph; q++) {
        rep__sb_printf(&dat, "# block %zu: phase %s\n# start_s end_s row rank thread chunk "
                             "chan\n",
                       q, phases[q]);
        for (size_t i = 0; i < n; i++)
            if (strcmp(t[i].phase, phases[q]) == 0)
                rep__sb_printf(&dat, "%.9g %.9g %d %d %d %d %d\n", t[i].start - t0,
                               t[i].end - t0, t[i].rank * (maxt + 1) + t[i].thread, t[i].rank,
                               t[i].thread, t[i].chunk, t[i].chan);
        rep__sb_puts(&dat, "\n\n");
    }
    int rc = rep__data_file(r, file, &dat);
    rep__sb_release(&dat);
    int rows = (maxr + 1) * (maxt + 1);
    rep__sb_printf(g, "set xlabel 'time since the first task (s)'\nset ylabel 'rank / thread'\n"
                      "set yrange [%g:%g]\nset xrange [0:*]\nset xtics\nset grid xtics\n"
                      "set key outside right top\nset style fill solid 0.9 noborder\n"
                      "set ytics (",
                   rows - 0.4, -0.6);
    int step = rows > 48 ? (rows + 47) / 48 : 1;
    for (int row = 0, first = 1; row < rows; row += step, first = 0)
        rep__sb_printf(g, "%s'r%d t%d' %d", first ? "" : ", ", row / (maxt + 1),
                       row % (maxt + 1), row);
    rep__sb_puts(g, ")\nplot ");
    for (size_t q = 0; q < nph; q++) {
        char key[64];
        snprintf(key, sizeof key, "%s%s", key_prefix, phases[q]);
        rep__sb_printf(g, "%s'%s' index %zu using (($1+$2)/2):3:(($2-$1)/2):(0.4) with "
                          "boxxyerror lc rgb '%s' title ",
                       q ? ", \\\n     " : "", file, q, rep__phase_colour(phases[q]));
        rep__gpq(g, key);
    }
    rep__sb_puts(g, "\n");
    return rc;
}

/* The measured stream's files and plot. */
static int gantt_files(rep__report *r, const gantt_data *d, const char *label, char *file,
                       size_t nfile, rep__sb *g)
{
    char what[5000];
    snprintf(what, sizeof what, "task stream of cell %lld (%s), attempt %lld, from %s",
             (long long)d->cell->id, label, (long long)d->cell->first_ok, d->from);
    snprintf(file, nfile, "gantt-cell%lld.dat", (long long)d->cell->id);
    return rep__gantt_plot(r, d->t, d->n, file, what, "", g);
}

int rep__gantt_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    const gantt_data *d = data;
    rep__doc *doc = &r->body;
    rep__doc_head(doc, 2, "gantt", "Task stream");
    if (!d->cell) {
        rep__doc_para(doc, "No cell of this run recorded task events (neither the tasks table "
                           "nor a tasks file): no task-stream chart.");
        return 0;
    }
    char label[256];
    rep_cell_label(d->cell->params, REP_LABEL_MAIN, NULL, label, sizeof label);
    if (!d->cell->first_ok) {
        rep__doc_para(doc, "Cell %lld (%s) has no successful attempt: no task-stream chart.",
                      (long long)d->cell->id, label);
        return 0;
    }
    if (!d->n) {
        rep__doc_para(doc, "Cell %lld (%s): no task-stream chart: %s.", (long long)d->cell->id,
                      label, d->why[0] ? d->why : "no tasks");
        if (d->why[0]) rep__warn(r, "task stream of cell %lld: %s", (long long)d->cell->id, d->why);
        return 0;
    }
    rep__sb g = {0};
    char file[128], name[128], title[400];
    int rc = gantt_files(r, d, label, file, sizeof file, &g);
    snprintf(name, sizeof name, "gantt-cell%lld", (long long)d->cell->id);
    snprintf(title, sizeof title, "task stream: cell %lld (%s)", (long long)d->cell->id, label);
    if (!rc) {
        char cap[5200];
        snprintf(cap, sizeof cap,
                 "Every task of attempt %lld of cell %lld (%zu tasks%s), one row per rank and "
                 "thread, coloured by phase; spill (black) and comm (red) tasks show where the "
                 "imager waited on disk or on other ranks. Source: %s. Another cell: "
                 "--gantt-cell ID.",
                 (long long)d->cell->first_ok, (long long)d->cell->id, d->n,
                 d->truncated ? ", truncated" : "", d->from);
        int cores = (d->cell->nodes > 0 ? d->cell->nodes : 1) *
                    (d->cell->threads > 0 ? d->cell->threads : 1);
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, cores, cores, cap, file,
                                 rep__sb_str(&g));
    }
    if (d->truncated)
        rep__warn(r, "task stream of cell %lld: more than %d tasks, only the first drawn",
                  (long long)d->cell->id, MAX_GANTT_TASKS);
    rep__sb_release(&g);
    return rc;
}
