/*
 * cmd_simulate.c: `harness simulate` — a measured cell replayed on a
 * simulated cluster (sim/, SimGrid). Three modes:
 *   - a sweep: one cell on --nodes N1,N2,... x --threads T of a platform,
 *     printing predicted wall time, speedup and efficiency against the
 *     same cell simulated on 1 x 1, and the simulated task streams;
 *   - --validate: from every 1-core cell of a database (1 rank x 1
 *     thread), the cells that differ only in layout (1x2, 2x1, ...)
 *     predicted on this machine's platform, against their measured
 *     medians;
 *   - --study: the study's effects on the study's platform — serial
 *     writes stagnating past one node, the chunk count's right side with
 *     100 ms per task, the speedup per kernel support — and every seed
 *     dataset on 1-8 nodes x 16 threads, from full-size replays of the
 *     database's cells (labelled RES_SIM_STUDY_*, which the report reads).
 * Simulations are stored in the database's own simulation tables
 * (results/sim_store.c), never among measurements; --no-store skips that.
 * Exit 0 ok, 1 when a simulation or the database fails, 2 for bad input
 * (an option, an unknown cell, a cell without task events, a platform
 * file's figure, a layout the platform cannot hold): then nothing is
 * stored.
 */
#include "harness/harness.h"
#include "results/results.h"
#include "sim/sim.h"
#include "workloads/workloads.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXLAYOUT 32
#define DEFAULT_HERE "workloads/platforms/this-machine.yaml"
#define DEFAULT_STUDY "workloads/platforms/study-cluster.yaml"

/* Everything the options say. */
typedef struct opts {
    const char *db, *platform, *here, *schedule, *tasks_dir, *nodes, *write, *cost;
    int64_t cell, run;
    int threads, chunks, validate, study, no_store, print_tasks, full_size, central, help;
    int cpu;                 /* --cost cpu */
    double overhead, mem_budget, contention;
    char command[2048];
} opts;

/* Exit status of a failure: 2 for bad input, 1 otherwise. */
static int fail(const ib_err *e, int input)
{
    fprintf(stderr, "harness simulate: %s\n", e->msg[0] ? e->msg : ib_strerror(e->code));
    return input ? 2 : 1;
}

static int usage_error(const char *msg)
{
    return hx_usage_error("simulate", "%s", msg);
}

/* ---- a recorded cell as a workload ------------------------------------------ */

typedef struct cellw {
    res_sim_cell rec;
    sim_workload w;
    int schedule, serial_write;
    double mem_budget;
    int support;
    char gridder[32];
} cellw;

static void cellw_release(cellw *c)
{
    res_sim_cell_release(&c->rec);
    sim_workload_release(&c->w);
}

/* The imager settings of a cell's parameters. */
static void cell_settings(cellw *c)
{
    json_t *p = json_loads(c->rec.params, 0, NULL);
    const char *s = json_string_value(json_object_get(p, "schedule"));
    c->schedule = sim_schedule_parse(s ? s : "static");
    if (c->schedule < 0) c->schedule = SIM_STATIC;
    c->serial_write = json_is_true(json_object_get(p, "serial_write"));
    json_t *b = json_object_get(p, "mem_budget");
    c->mem_budget = json_is_number(b) ? json_number_value(b) : 0;
    json_t *w = json_object_get(p, "support");
    c->support = json_is_integer(w) ? (int)json_integer_value(w) : 0;
    const char *g = json_string_value(json_object_get(p, "gridder"));
    snprintf(c->gridder, sizeof c->gridder, "%s", g ? g : "");
    json_decref(p);
}

/*
 * Load a cell and build its workload. *input is set when the failure is
 * the input's (unknown cell, no task events).
 */
static int load_cell(ib_err *e, res_db *db, int64_t id, int64_t run, const sim_platform *here,
                     int cpu, cellw *c, int *input)
{
    memset(c, 0, sizeof *c);
    *input = 1;
    int r = res_sim_cell_load(e, db, id, run, &c->rec);
    if (r) {
        *input = r == IB_ENOTFOUND || r == IB_EINVAL;
        return r;
    }
    sim_event *ev = malloc((c->rec.nev ? c->rec.nev : 1) * sizeof *ev);
    if (!ev) return ib_error(e, IB_ENOMEM, "out of memory");
    /* --cost cpu: each phase's events shrunk to the CPU share the attempt
     * had of them (wall time on a shared machine also holds other
     * tenants' time) */
    double ratio[SIM_NPHASE];
    for (int k = 0; k < SIM_NPHASE; k++) ratio[k] = 1;
    for (int k = 0; cpu && k < c->rec.nphase; k++) {
        int ph = sim_phase_parse(c->rec.phase[k]);
        if (ph >= 0 && c->rec.phase_wall[k] > 0 && c->rec.phase_cpu[k] >= 0)
            ratio[ph] = fmin(1, c->rec.phase_cpu[k] / c->rec.phase_wall[k]);
    }
    size_t n = 0;
    for (size_t i = 0; i < c->rec.nev; i++) {
        const res_task_event *v = &c->rec.ev[i];
        int ph = sim_phase_parse(v->phase);
        if (ph < 0) continue; /* idle, wait, comm: not a task's own work */
        ev[n++] = (sim_event){v->rank, v->thread, v->chunk, v->chan, ph, v->t0,
                              v->t0 + (v->t1 - v->t0) * ratio[ph]};
    }
    sim_recorded rec = {ev,
                        n,
                        c->rec.nodes,
                        c->rec.threads,
                        c->rec.wall_s,
                        c->rec.setup_s,
                        c->rec.bytes_read,
                        c->rec.bytes_written};
    r = sim_workload_build(e, &rec, here, &c->w);
    free(ev);
    if (r) {
        ib_error_wrap(e, "cell %lld (attempt %lld)", (long long)id, (long long)c->rec.attempt_id);
        return r;
    }
    cell_settings(c);
    *input = 0;
    return 0;
}

/* Scale a cell's workload to its dataset's full shape (channels, rows of
 * the full time x baseline grid, image pixels). */
static int to_full_size(ib_err *e, cellw *c, int chunks, double *rows, double *pixels)
{
    wl_dataset ds;
    int r = wl_dataset_find(e, c->rec.dataset, NULL, &ds);
    if (r) return r;
    if (c->rec.nrow <= 0 || c->rec.image_nx <= 0 || c->rec.image_ny <= 0)
        return ib_error(e, IB_EINVAL,
                        "cell %lld: its stats record lacks the store's shape (rows, image): "
                        "cannot scale it to full size",
                        (long long)c->rec.cell_id);
    *rows = (double)ds.ntime * (double)ds.nbaseline / (double)c->rec.nrow;
    *pixels = (double)ds.image_nx * ds.image_ny / ((double)c->rec.image_nx * c->rec.image_ny);
    if (chunks > ds.nchan) chunks = (int)ds.nchan;
    return sim_workload_scale(e, &c->w, (int)ds.nchan, *rows, *pixels, chunks);
}

/* ---- simulations to store ------------------------------------------------------- */

typedef struct store {
    res_simulation *s;
    res_task_event **ev;
    size_t n, cap;
    char figures[4096];
} store;

static void store_release(store *st)
{
    for (size_t i = 0; i < st->n; i++) free(st->ev[i]);
    free(st->ev);
    free(st->s);
    memset(st, 0, sizeof *st);
}

/* Add one simulation (its events copied); the strings must outlive st. */
static int store_add(ib_err *e, store *st, const res_simulation *s, const sim_result *r)
{
    if (st->n == st->cap) {
        size_t nc = st->cap ? 2 * st->cap : 16;
        res_simulation *ns = realloc(st->s, nc * sizeof *ns);
        if (!ns) return ib_error(e, IB_ENOMEM, "out of memory");
        st->s = ns;
        res_task_event **ne = realloc(st->ev, nc * sizeof *ne);
        if (!ne) return ib_error(e, IB_ENOMEM, "out of memory");
        st->ev = ne;
        st->cap = nc;
    }
    res_task_event *ev = malloc((r->nev ? r->nev : 1) * sizeof *ev);
    if (!ev) return ib_error(e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        ev[i] = (res_task_event){v->rank, v->thread, v->chunk, v->chan, "", v->t0, v->t1};
        snprintf(ev[i].phase, sizeof ev[i].phase, "%s", sim_phase_name(v->phase));
    }
    st->s[st->n] = *s;
    st->s[st->n].ev = ev;
    st->s[st->n].nev = r->nev;
    st->s[st->n].wall_s = r->wall_s;
    st->s[st->n].setup_s = r->setup_s;
    st->s[st->n].busy_s = r->busy_s;
    st->s[st->n].tasks = r->tasks;
    st->s[st->n].spill_bytes = r->spill_bytes;
    st->s[st->n].fs_read_bytes = r->fs_read_bytes;
    st->s[st->n].fs_write_bytes = r->fs_write_bytes;
    st->s[st->n].net_bytes = r->net_bytes;
    st->s[st->n].simgrid = sim_simgrid_version();
    st->ev[st->n++] = ev;
    return 0;
}

static int store_commit(ib_err *e, res_db *db, store *st, const opts *o)
{
    if (o->no_store || !st->n) return 0;
    for (size_t i = 0; i < st->n; i++) st->s[i].command = o->command;
    int64_t id;
    int r = res_sim_store(e, db, st->s, st->n, &id);
    if (!r)
        printf("stored: %zu simulation%s in '%s' (table simulations, ids %lld-%lld)\n", st->n,
               st->n == 1 ? "" : "s", o->db, (long long)id, (long long)(id + (int64_t)st->n - 1));
    return r;
}

/* ---- the simulated task stream ---------------------------------------------------- */

/* tasks.csv rows of a simulated layout, written as DIR/sim-cellC-NxT.csv
 * (a new file: an existing one is not replaced). */
static int write_tasks(ib_err *e, const char *dir, int64_t cell, const sim_config *c,
                       const sim_result *r)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/sim-cell%lld-%dx%d.csv", dir, (long long)cell, c->ranks,
             c->threads);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return ib_error(e, IB_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return ib_error(e, IB_EIO, "cannot write '%s'", tmp);
    }
    fprintf(f, "rank,thread,chunk,chan,phase,start,end\n");
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        fprintf(f, "%d,%d,%d,%d,%s,%.9f,%.9f\n", v->rank, v->thread, v->chunk, v->chan,
                sim_phase_name(v->phase), v->t0, v->t1);
    }
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (!bad && link(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return ib_error(e, IB_EIO, "cannot create '%s': %s", path, strerror(err));
    }
    unlink(tmp);
    if (bad) return ib_error(e, IB_EIO, "cannot write '%s'", path);
    printf("tasks: %s (simulated)\n", path);
    return 0;
}

static void print_tasks(const sim_config *c, const sim_result *r)
{
    printf("# simulated task stream, %d x %d (tasks.csv rows)\n", c->ranks, c->threads);
    printf("rank,thread,chunk,chan,phase,start,end\n");
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        printf("%d,%d,%d,%d,%s,%.6f,%.6f\n", v->rank, v->thread, v->chunk, v->chan,
               sim_phase_name(v->phase), v->t0, v->t1);
    }
}

/* ---- a sweep of one cell --------------------------------------------------------- */

/* "1,2,4,8" into out (at most MAXLAYOUT values >= 1). */
static int parse_list(ib_err *e, const char *s, int *out, int *n)
{
    *n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t v;
        if (ib_parse_i64(t, &v) != 0 || v < 1 || v > 100000 || *n == MAXLAYOUT)
            return ib_error(e, IB_EINVAL,
                            "--nodes: '%s' is not a list of up to %d counts >= 1 (e.g. 1,2,4,8)",
                            s, MAXLAYOUT);
        out[(*n)++] = (int)v;
    }
    if (!*n) return ib_error(e, IB_EINVAL, "--nodes: empty list");
    return 0;
}

/* The replay's settings: the options where given, else the cell's. */
static int base_config(ib_err *e, const opts *o, const cellw *c, sim_config *sc)
{
    sim_config_init(sc);
    sc->schedule = c->schedule;
    sc->serial_write = c->serial_write;
    sc->mem_budget = c->mem_budget;
    if (o->schedule) {
        sc->schedule = sim_schedule_parse(o->schedule);
        if (sc->schedule < 0)
            return ib_error(e, IB_EINVAL, "--schedule must be static, dynamic or locality, got '%s'",
                            o->schedule);
    }
    if (o->write) {
        if (strcmp(o->write, "serial") && strcmp(o->write, "parallel"))
            return ib_error(e, IB_EINVAL, "--write must be parallel or serial, got '%s'", o->write);
        sc->serial_write = strcmp(o->write, "serial") == 0;
    }
    if (o->mem_budget >= 0) sc->mem_budget = o->mem_budget;
    sc->chunks = o->chunks;
    sc->overhead_s = o->overhead;
    sc->central = o->central;
    sc->keep_events = 1;
    return 0;
}

static void print_cell(const cellw *c)
{
    printf("cell %lld: %s, recorded on %d x %d, attempt %lld (median of %d: %.3f s measured)\n",
           (long long)c->rec.cell_id, c->rec.params, c->rec.nodes, c->rec.threads,
           (long long)c->rec.attempt_id, c->rec.nattempts, c->rec.median_wall_s);
}

static void print_platform(const sim_platform *p)
{
    printf("platform %s ('%s'): %d nodes x %d cores at %g x this machine's core, contention "
           "%g per busy core, %s network %.3g B/s, file system %.3g/%.3g B/s (read/write)\n",
           p->name, p->path, p->nodes, p->cores, p->core_speed, p->contention,
           p->topology == SIM_BUS ? "bus" : "star", p->net_bw, p->fs_read_bw, p->fs_write_bw);
}

/* Simulate; on success print the row "nodes threads cores wall speedup
 * efficiency ..." (speedup against base_wall when > 0). */
static int run_row(ib_err *e, const sim_platform *p, const sim_workload *w, const sim_config *sc,
                   double base_wall, sim_result *r)
{
    int rc = sim_run(e, p, w, sc, r);
    if (rc || !(base_wall > 0)) return rc; /* the 1 x 1 baseline: not a row */
    int cores = sc->ranks * sc->threads;
    double sp = base_wall > 0 ? base_wall / r->wall_s : NAN;
    printf("  %5d %7d %5d %10.3f %8.2f %10.3f %8.3f %10.2f %9.3f %9.3f %8.3f  simulated\n",
           sc->ranks, sc->threads, cores, r->wall_s, sp, sp / cores, r->setup_s, r->busy_s,
           r->fs_read_bytes / 1e9, r->fs_write_bytes / 1e9, r->spill_bytes / 1e9);
    return 0;
}

static void row_header(void)
{
    printf("  %5s %7s %5s %10s %8s %10s %8s %10s %9s %9s %8s\n", "nodes", "threads", "cores",
           "wall_s", "speedup", "efficiency", "setup_s", "busy_s", "read_GB", "write_GB",
           "spill_GB");
}

/* Fill the stored fields of a simulation that every mode shares. */
static void sim_row(res_simulation *s, const char *purpose, const cellw *c, const sim_platform *p,
                    const char *figures, const sim_config *sc, const sim_workload *w)
{
    memset(s, 0, sizeof *s);
    s->purpose = purpose;
    s->label = "simulated";
    s->cell_id = c->rec.cell_id;
    s->attempt_id = c->rec.attempt_id;
    s->platform = p->name;
    s->platform_file = p->path;
    s->platform_figures = figures;
    s->nodes = sc->ranks;
    s->threads = sc->threads;
    s->schedule = sim_schedule_name(sc->schedule);
    s->serial_write = sc->serial_write;
    s->chunks = sc->chunks ? sc->chunks : w->nchunks;
    s->channels = w->nchan;
    s->overhead_s = sc->overhead_s >= 0 ? sc->overhead_s : w->sched_s;
    s->central = sc->central;
    s->mem_budget = sc->mem_budget;
    s->contention = p->contention;
    s->rows_scale = s->pixels_scale = 1;
    s->measured_wall_s = -1;
}

static int sweep(res_db *db, const opts *o, const sim_platform *p, const sim_platform *here)
{
    ib_err e;
    ib_err_init(&e);
    cellw c;
    int input, nn = 0, nodes[MAXLAYOUT];
    double rows = 1, pixels = 1;
    int rc = load_cell(&e, db, o->cell, o->run, here, o->cpu, &c, &input);
    if (!rc && o->full_size) rc = to_full_size(&e, &c, o->chunks, &rows, &pixels);
    if (rc) {
        cellw_release(&c);
        return fail(&e, input || o->full_size);
    }
    sim_config base;
    rc = base_config(&e, o, &c, &base);
    if (!rc && o->nodes) rc = parse_list(&e, o->nodes, nodes, &nn);
    if (!o->nodes) nodes[nn++] = c.rec.nodes > 0 ? c.rec.nodes : 1;
    int threads = o->threads > 0 ? o->threads : c.rec.threads > 0 ? c.rec.threads : 1;
    sim_config one = base;
    one.ranks = one.threads = 1;
    one.keep_events = 0;
    if (!rc) rc = sim_check(&e, p, &c.w, &one);
    for (int i = 0; !rc && i < nn; i++) {
        sim_config sc = base;
        sc.ranks = nodes[i];
        sc.threads = threads;
        rc = sim_check(&e, p, &c.w, &sc);
    }
    if (rc) {
        cellw_release(&c);
        return fail(&e, 1);
    }
    print_cell(&c);
    print_platform(p);
    printf("replay: %d channels in %d chunks%s, %s schedule, %s writes, overhead %.6g s per task "
           "(%s%s), memory budget %.4g bytes\n",
           c.w.nchan, base.chunks ? base.chunks : c.w.nchunks,
           o->full_size ? " (full size)" : "", sim_schedule_name(base.schedule),
           base.serial_write ? "serial (rank 0)" : "parallel",
           base.overhead_s >= 0 ? base.overhead_s : c.w.sched_s,
           base.overhead_s >= 0 ? "given" : "recorded", base.central ? ", central" : "",
           base.mem_budget);
    store st = {0};
    sim_platform_json(p, st.figures, sizeof st.figures);
    row_header();
    sim_result r1, r;
    rc = run_row(&e, p, &c.w, &one, 0, &r1);
    for (int i = 0; !rc && i < nn; i++) {
        sim_config sc = base;
        sc.ranks = nodes[i];
        sc.threads = threads;
        rc = run_row(&e, p, &c.w, &sc, r1.wall_s, &r);
        if (rc) break;
        res_simulation s;
        sim_row(&s, "sweep", &c, p, st.figures, &sc, &c.w);
        s.rows_scale = rows;
        s.pixels_scale = pixels;
        s.speedup = r1.wall_s / r.wall_s;
        s.efficiency = s.speedup / (sc.ranks * sc.threads);
        if (sc.ranks == c.rec.nodes && sc.threads == c.rec.threads && !o->full_size)
            s.measured_wall_s = c.rec.median_wall_s;
        rc = store_add(&e, &st, &s, &r);
        if (!rc && o->tasks_dir) rc = write_tasks(&e, o->tasks_dir, o->cell, &sc, &r);
        if (!rc && o->print_tasks) print_tasks(&sc, &r);
        sim_result_release(&r);
    }
    if (!rc) {
        printf("  (speedup and efficiency against the same replay on 1 x 1: %.3f s)\n",
               r1.wall_s);
        rc = store_commit(&e, db, &st, o);
    }
    sim_result_release(&r1);
    store_release(&st);
    cellw_release(&c);
    return rc ? fail(&e, 0) : 0;
}

/* ---- --validate -------------------------------------------------------------------- */

/* A cell's parameters without its layout (nodes, threads): cells with the
 * same key differ only in layout. */
static void layout_key(const char *params, char *key, size_t n)
{
    key[0] = '\0';
    json_t *p = json_loads(params, 0, NULL);
    if (!p) return;
    json_object_del(p, "nodes");
    json_object_del(p, "threads");
    char *s = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
    if (s) snprintf(key, n, "%s", s);
    free(s);
    json_decref(p);
}

/* Thread-seconds of a workload's compute phases. */
static double compute_s(const sim_workload *w)
{
    static const int ph[] = {SIM_WEIGHT, SIM_KERNEL, SIM_GRID, SIM_FFT, SIM_CORRECT, SIM_OTHER};
    double s = 0;
    for (int c = 0; c < w->nchan; c++)
        for (size_t i = 0; i < sizeof ph / sizeof ph[0]; i++) s += w->chan[c].cost[ph[i]];
    return s;
}

typedef struct vcell {
    cellw c;
    char key[4096];
    int ok;          /* loaded, with a workload */
    double comp;     /* compute thread-seconds, contention not divided out */
} vcell;


static int is_one(const vcell *v) { return v->c.rec.nodes == 1 && v->c.rec.threads == 1; }

/* The 1x1 cell with key, or -1. */
static int base_of(const vcell *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].ok && is_one(&v[i]) && strcmp(v[i].key, key) == 0) return (int)i;
    return -1;
}

/*
 * From the other groups (keys other than skip) with a 1x1 cell and a cell
 * of layout N x T: the median slowdown of the compute per busy core beyond
 * the first (contention) and the median extra set-up (MPI start-up per
 * rank beyond the first). NAN when no other group has that layout.
 */
static void leave_one_out(const vcell *v, size_t n, const char *skip, int N, int T, int cores,
                          double *cont, double *startup)
{
    double c[256], s[256];
    int nc = 0;
    for (size_t i = 0; i < n && nc < 256; i++) {
        if (!v[i].ok || v[i].c.rec.nodes != N || v[i].c.rec.threads != T) continue;
        if (strcmp(v[i].key, skip) == 0) continue;
        int b = base_of(v, n, v[i].key);
        if (b < 0 || !(v[b].comp > 0)) continue;
        int busy = N * T < cores ? N * T : cores;
        c[nc] = busy > 1 ? fmax(0, (v[i].comp / v[b].comp - 1) / (busy - 1)) : 0;
        s[nc++] = N > 1 ? fmax(0, (v[i].c.rec.setup_s - v[b].c.rec.setup_s) / (N - 1)) : 0;
    }
    *cont = ib_median(c, (size_t)nc);
    *startup = ib_median(s, (size_t)nc);
}

static int load_vcells(ib_err *e, res_db *db, const opts *o, const sim_platform *raw,
                       vcell **out, size_t *nout)
{
    res_sim_cell *list;
    size_t n;
    int r = res_sim_cells(e, db, o->run, &list, &n);
    if (r) return r;
    vcell *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        free(list);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        ib_err e2;
        ib_err_init(&e2);
        int input;
        if (load_cell(&e2, db, list[i].cell_id, o->run, raw, o->cpu, &v[i].c, &input)) {
            fprintf(stderr, "harness simulate: skipped: %s\n", e2.msg);
            cellw_release(&v[i].c);
            continue;
        }
        layout_key(v[i].c.rec.params, v[i].key, sizeof v[i].key);
        v[i].comp = compute_s(&v[i].c.w);
        v[i].ok = 1;
    }
    free(list);
    *out = v;
    *nout = n;
    return 0;
}

/* Predict target t from its 1x1 cell b; print the row; keep it to store. */
static int predict(ib_err *e, const opts *o, const sim_platform *p, store *st, vcell *v,
                   size_t n, int b, int t, double *err)
{
    const cellw *tc = &v[t].c;
    sim_platform q = *p;
    double cont, startup;
    leave_one_out(v, n, v[b].key, tc->rec.nodes, tc->rec.threads, p->cores, &cont, &startup);
    const char *src = b == t ? "(the cell itself)" : "other datasets";
    if (b == t) { /* one busy core: neither figure plays a part */
        cont = 0;
        startup = 0;
    } else if (o->contention >= 0 || isnan(cont)) {
        cont = o->contention >= 0 ? o->contention : p->contention;
        startup = p->rank_startup_s;
        src = o->contention >= 0 ? "given" : "platform";
    }
    q.contention = cont;
    q.rank_startup_s = startup;
    sim_config sc;
    int rc = base_config(e, o, tc, &sc);
    if (rc) return rc;
    sc.ranks = tc->rec.nodes;
    sc.threads = tc->rec.threads;
    sc.keep_events = 1;
    sim_result r;
    if ((rc = sim_run(e, &q, &v[b].c.w, &sc, &r))) return rc;
    *err = r.wall_s / tc->rec.median_wall_s - 1;
    printf("  %-12s %3dx%-3d %10.3f %10.3f %10.3f %+8.1f%% %8.3f %8.3f  %s\n", tc->rec.dataset,
           sc.ranks, sc.threads, v[b].c.rec.median_wall_s, r.wall_s, tc->rec.median_wall_s,
           100 * *err, cont, startup, src);
    res_simulation s;
    /* names from p: q is gone when the batch is stored */
    sim_row(&s, "validate", &v[b].c, p, st->figures, &sc, &v[b].c.w);
    s.measured_wall_s = tc->rec.median_wall_s;
    s.contention = cont;
    s.speedup = v[b].c.rec.median_wall_s / r.wall_s;
    s.efficiency = s.speedup / (sc.ranks * sc.threads);
    rc = store_add(e, st, &s, &r);
    sim_result_release(&r);
    return rc;
}

static int validate(res_db *db, const opts *o, const sim_platform *p, const sim_platform *here)
{
    ib_err e;
    ib_err_init(&e);
    /* Costs as recorded: the contention of the 2-core cells is what the
     * comparison measures, so none is divided out when they are loaded. */
    sim_platform raw = *here;
    raw.contention = 0;
    vcell *v = NULL;
    size_t n = 0;
    int rc = load_vcells(&e, db, o, &raw, &v, &n);
    if (rc) return fail(&e, 0);
    store st = {0};
    sim_platform_json(p, st.figures, sizeof st.figures);
    printf("validation: predicted from each 1 rank x 1 thread cell, the cells of other layouts\n"
           "with the same parameters, on platform %s ('%s'); measured = median wall_time of the\n"
           "successful attempts (database '%s'). Contention and MPI start-up per rank are\n"
           "measured from the other datasets' cells of the same layout (leave one out).\n",
           p->name, p->path, o->db);
    printf("  %-12s %7s %10s %10s %10s %9s %8s %8s  %s\n", "dataset", "layout", "1x1_s",
           "predicted", "measured", "error", "content.", "startup", "figures from");
    int count = 0, within = 0;
    double worst = 0;
    for (size_t b = 0; b < n && !rc; b++) {
        if (!v[b].ok || !is_one(&v[b])) continue;
        int others = 0;
        for (size_t t = 0; t < n; t++)
            others += v[t].ok && !is_one(&v[t]) && strcmp(v[t].key, v[b].key) == 0;
        if (!others) continue; /* nothing to predict from this one */
        int self = 1; /* first the 1x1 cell replayed as itself */
        for (size_t t = 0; t < n && !rc; t++) {
            if (!v[t].ok || strcmp(v[t].key, v[b].key) != 0 || (is_one(&v[t]) && t != b))
                continue;
            if (t == b && !self) continue;
            double err;
            rc = predict(&e, o, p, &st, v, n, (int)b, (int)t, &err);
            if (rc || t == b) {
                self = 0;
                continue;
            }
            count++;
            within += fabs(err) <= 0.15;
            if (fabs(err) > fabs(worst)) worst = err;
        }
    }
    if (!rc && !count)
        printf("  (no 1x1 cell with cells of other layouts and the same parameters)\n");
    else if (!rc)
        printf("%d of %d predictions within 15%% of the measured median; largest error %+.1f%%\n",
               within, count, 100 * worst);
    if (!rc) rc = store_commit(&e, db, &st, o);
    store_release(&st);
    for (size_t i = 0; i < n; i++) cellw_release(&v[i].c);
    free(v);
    return rc ? fail(&e, 0) : 0;
}

/* ---- --study ------------------------------------------------------------------------ */

/* The cell of dataset (with kernel support, 0: any) to replay: a 1x1
 * cell when there is one, else the one on fewest cores; -1 if none. */
static int pick(const vcell *v, size_t n, const char *dataset, int support)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].ok || strcmp(v[i].c.rec.dataset, dataset) != 0) continue;
        if (support && v[i].c.support != support) continue;
        if (support == 0 && v[i].c.support != 7 && v[i].c.support != 0) continue;
        int cores = v[i].c.rec.nodes * v[i].c.rec.threads;
        if (best < 0 || cores < v[best].c.rec.nodes * v[best].c.rec.threads) best = (int)i;
    }
    return best;
}

/* One full-size study simulation of cell v[i]: printed, kept to store;
 * *wall is its predicted wall time. */
static int study_run(ib_err *e, res_db *db, const opts *o, const sim_platform *p,
                     const sim_platform *here, store *st, int64_t cell, const sim_config *sc,
                     const char *label, double *wall)
{
    cellw c;
    int input;
    double rows, pixels;
    int rc = load_cell(e, db, cell, o->run, here, o->cpu, &c, &input);
    if (!rc) rc = to_full_size(e, &c, sc->chunks, &rows, &pixels);
    sim_result r;
    memset(&r, 0, sizeof r);
    if (!rc) rc = sim_run(e, p, &c.w, sc, &r);
    if (!rc) {
        res_simulation s;
        sim_row(&s, "study", &c, p, st->figures, sc, &c.w);
        s.label = label; /* which of the study's effects: the report's section reads it */
        s.rows_scale = rows;
        s.pixels_scale = pixels;
        *wall = r.wall_s;
        rc = store_add(e, st, &s, &r);
    }
    sim_result_release(&r);
    cellw_release(&c);
    return rc;
}

static void study_config(sim_config *sc, int ranks, int threads, int schedule, int serial,
                         int chunks, double overhead)
{
    sim_config_init(sc);
    sc->ranks = ranks;
    sc->threads = threads;
    sc->schedule = schedule;
    sc->serial_write = serial;
    sc->chunks = chunks;
    sc->overhead_s = overhead;
    /* full-size streams would be tens of MB per table: the rows only */
    sc->keep_events = 0;
}

/* Serial (rank 0) writes against parallel ones, 1-8 nodes x 16 threads. */
static int study_writes(ib_err *e, res_db *db, const opts *o, const sim_platform *p,
                        const sim_platform *here, store *st, const vcell *v, size_t n)
{
    int i = pick(v, n, "alma-xc66", 0);
    printf("\n1. Serial writes (CASA-like: rank 0 writes every plane) against parallel writes,\n"
           "   alma-xc66 at full size (7635 channels, 128 chunks), nodes x 16 threads.\n");
    if (i < 0) {
        printf("   no alma-xc66 cell in the database: skipped\n");
        return 0;
    }
    printf("   replaying cell %lld (%s); the study (plot): CASA 6.2 ~2350 s on 1 node, 2100-2400 s\n"
           "   flat from 16 to 128 cores; prototype ~1200 s (16 threads), ~230 s (128 threads)\n",
           (long long)v[i].c.rec.cell_id, v[i].c.rec.params);
    printf("   %5s %12s %8s %12s %8s %14s %8s\n", "nodes", "parallel_s", "speedup", "serial_s",
           "speedup", "dask-like_s", "speedup");
    static const int nodes[] = {1, 2, 4, 8};
    double w1[3] = {0, 0, 0};
    for (int k = 0; k < 4; k++) {
        double w[3];
        sim_config sc;
        for (int m = 0; m < 3; m++) {
            /* our imager (parallel, then serial writes), then Dask-like:
             * dynamic, parallel writes, 100 ms per task */
            study_config(&sc, nodes[k], 16, m == 2 ? SIM_DYNAMIC : SIM_STATIC, m == 1, 128,
                         m == 2 ? 0.1 : -1);
            int rc = study_run(e, db, o, p, here, st, v[i].c.rec.cell_id, &sc,
                               RES_SIM_STUDY_WRITES, &w[m]);
            if (rc) return rc;
            if (k == 0) w1[m] = w[m];
        }
        printf("   %5d %12.1f %8.2f %12.1f %8.2f %14.1f %8.2f\n", nodes[k], w[0], w1[0] / w[0],
               w[1], w1[1] / w[1], w[2], w1[2] / w[2]);
    }
    return 0;
}

/* The chunk count's right side: 1 node x 16 threads, 100 ms per task. */
static int study_chunks(ib_err *e, res_db *db, const opts *o, const sim_platform *p,
                        const sim_platform *here, store *st, const vcell *v, size_t n)
{
    int i = pick(v, n, "alma-x2e3", 0);
    printf("\n2. Chunk count with 100 ms of scheduler overhead per task (Dask-like: dynamic),\n"
           "   alma-x2e3 at full size (2048 channels), 1 node x 16 threads.\n");
    if (i < 0) {
        printf("   no alma-x2e3 cell in the database: skipped\n");
        return 0;
    }
    printf("   replaying cell %lld (%s); the study (plot): ~400 s with 64 chunks, ~2280 s with 512\n",
           (long long)v[i].c.rec.cell_id, v[i].c.rec.params);
    printf("   per-thread: each thread pays 100 ms before a task; central: one scheduler pays\n"
           "   100 ms per task, one task at a time\n");
    printf("   %6s %14s %12s %14s\n", "chunks", "per-thread_s", "central_s", "no-overhead_s");
    static const int chunks[] = {16, 32, 64, 128, 256, 512, 1024, 2048};
    for (int k = 0; k < 8; k++) {
        double w[3];
        for (int m = 0; m < 3; m++) {
            sim_config sc;
            study_config(&sc, 1, 16, SIM_DYNAMIC, 0, chunks[k], m < 2 ? 0.1 : 0);
            sc.central = m == 1;
            int rc = study_run(e, db, o, p, here, st, v[i].c.rec.cell_id, &sc,
                               RES_SIM_STUDY_CHUNKS, &w[m]);
            if (rc) return rc;
        }
        printf("   %6d %14.1f %12.1f %14.1f\n", chunks[k], w[0], w[1], w[2]);
    }
    return 0;
}

/* Speedup 80 vs 16 threads per kernel support. */
static int study_support(ib_err *e, res_db *db, const opts *o, const sim_platform *p,
                         const sim_platform *here, store *st, const vcell *v, size_t n)
{
    printf("\n3. Speedup of 80 threads (5 nodes x 16) over 16 (1 node) per kernel support,\n"
           "   alma-x3be at full size (3853 channels, 241 chunks, dynamic, 100 ms per task).\n"
           "   The study (plot): 4.45 with 51x51, 3.43 with 17x17 (ideal 5).\n");
    printf("   per-thread: each thread pays the 100 ms; central: one scheduler, one task at a time\n");
    printf("   %7s %6s %10s %10s %8s %10s %10s %8s\n", "support", "cell", "16thr_s", "80thr_s",
           "speedup", "central16", "central80", "speedup");
    static const int supports[] = {7, 17, 51};
    for (int k = 0; k < 3; k++) {
        int i = pick(v, n, "alma-x3be", supports[k]);
        if (i < 0) {
            printf("   %7d   no alma-x3be cell with this support in the database: skipped\n",
                   supports[k]);
            continue;
        }
        double w[4];
        for (int m = 0; m < 4; m++) {
            sim_config sc;
            study_config(&sc, m % 2 ? 5 : 1, 16, SIM_DYNAMIC, 0, 241, 0.1);
            sc.central = m >= 2;
            int rc = study_run(e, db, o, p, here, st, v[i].c.rec.cell_id, &sc,
                               RES_SIM_STUDY_SUPPORT, &w[m]);
            if (rc) return rc;
        }
        printf("   %7d %6lld %10.1f %10.1f %8.2f %10.1f %10.1f %8.2f\n", supports[k],
               (long long)v[i].c.rec.cell_id, w[0], w[1], w[0] / w[1], w[2], w[3], w[2] / w[3]);
    }
    return 0;
}

/* Every seed dataset at full size on 1-8 nodes x 16 threads (our imager:
 * static, parallel writes, 128 chunks): the curves the report sets beside
 * the study's CASA and prototype figures. */
static int study_nodes(ib_err *e, res_db *db, const opts *o, const sim_platform *p,
                       const sim_platform *here, store *st, const vcell *v, size_t n)
{
    static const char *const datasets[] = {"alma-x2e3", "alma-x1a36", "alma-xc66", "alma-x3be",
                                           "vla-chiles"};
    static const int nodes[] = {1, 2, 4, 8};
    printf("\n4. Every seed dataset at full size (128 chunks, static, parallel writes) on\n"
           "   1-8 nodes x 16 threads; the study's CASA and prototype figures are in the report.\n");
    printf("   %-12s %6s %10s %10s %10s %10s  %s\n", "dataset", "cell", "1 node_s", "2 nodes_s",
           "4 nodes_s", "8 nodes_s", "speedup 8/1");
    for (size_t d = 0; d < sizeof datasets / sizeof *datasets; d++) {
        int i = pick(v, n, datasets[d], 0);
        if (i < 0) {
            printf("   %-12s no cell in the database: skipped\n", datasets[d]);
            continue;
        }
        double w[4];
        for (int k = 0; k < 4; k++) {
            sim_config sc;
            study_config(&sc, nodes[k], 16, SIM_STATIC, 0, 128, -1);
            int rc = study_run(e, db, o, p, here, st, v[i].c.rec.cell_id, &sc,
                               RES_SIM_STUDY_NODES, &w[k]);
            if (rc) return rc;
        }
        printf("   %-12s %6lld %10.1f %10.1f %10.1f %10.1f  %.2f\n", datasets[d],
               (long long)v[i].c.rec.cell_id, w[0], w[1], w[2], w[3], w[0] / w[3]);
    }
    return 0;
}

static int study(res_db *db, const opts *o, const sim_platform *p, const sim_platform *here)
{
    ib_err e;
    ib_err_init(&e);
    vcell *v = NULL;
    size_t n = 0;
    int rc = load_vcells(&e, db, o, here, &v, &n);
    if (rc) return fail(&e, 0);
    store st = {0};
    sim_platform_json(p, st.figures, sizeof st.figures);
    printf("The study's effects, simulated (SimGrid %s): cells of database '%s' replayed at\n"
           "their datasets' full size (compute and bytes read x rows, image work and bytes\n"
           "written x pixels) on platform %s ('%s'); task costs: recorded %s.\n",
           sim_simgrid_version(), o->db, p->name, p->path,
           o->cpu ? "CPU time (each phase's CPU share of its wall time)" : "wall time");
    print_platform(p);
    rc = study_writes(&e, db, o, p, here, &st, v, n);
    if (!rc) rc = study_chunks(&e, db, o, p, here, &st, v, n);
    if (!rc) rc = study_support(&e, db, o, p, here, &st, v, n);
    if (!rc) rc = study_nodes(&e, db, o, p, here, &st, v, n);
    if (!rc) rc = store_commit(&e, db, &st, o);
    store_release(&st);
    for (size_t i = 0; i < n; i++) cellw_release(&v[i].c);
    free(v);
    return rc ? fail(&e, 0) : 0;
}

/* ---- the command --------------------------------------------------------------------- */

/* A default platform file: as given when it exists from here, else beside
 * the dataset specs (workloads/platforms next to workloads/datasets, found
 * from the binary as wl_datasets_dir finds them). */
static const char *default_platform(const char *rel, char *buf, size_t n)
{
    if (access(rel, R_OK) == 0) return rel;
    char dir[4096];
    ib_err e;
    ib_err_init(&e);
    if (wl_datasets_dir(&e, NULL, dir, sizeof dir) != 0) return rel;
    char *slash = strrchr(dir, '/');
    if (!slash) return rel;
    *slash = '\0';
    snprintf(buf, n, "%s/platforms/%s", dir, strrchr(rel, '/') + 1);
    return access(buf, R_OK) == 0 ? buf : rel;
}

int hx_cmd_simulate(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.db = RES_DEFAULT_DB;
    o.here = DEFAULT_HERE;
    o.overhead = -1;
    o.mem_budget = -1;
    o.contention = -1;
    const ib_opt table[] = {
        {"db", IB_OPT_STR, &o.db, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"cell", IB_OPT_I64, &o.cell, "ID", "the measured cell to replay"},
        {"run", IB_OPT_I64, &o.run, "ID", "take the cell's attempts from this run only"},
        {"platform", IB_OPT_STR, &o.platform, "FILE",
         "platform figures (default " DEFAULT_HERE "; --study: " DEFAULT_STUDY ")"},
        {"here", IB_OPT_STR, &o.here, "FILE",
         "the platform the cell was recorded on (default " DEFAULT_HERE ")"},
        {"nodes", IB_OPT_STR, &o.nodes, "N1,N2,..", "ranks to sweep (default: the cell's)"},
        {"threads", IB_OPT_INT, &o.threads, "T", "threads per rank (default: the cell's)"},
        {"schedule", IB_OPT_STR, &o.schedule, "S", "static, dynamic or locality (default: the cell's)"},
        {"write", IB_OPT_STR, &o.write, "MODE", "parallel or serial (default: the cell's)"},
        {"chunks", IB_OPT_INT, &o.chunks, "N", "re-cut the channels into N chunks"},
        {"overhead", IB_OPT_DBL, &o.overhead, "S",
         "scheduler overhead per task in seconds (default: the cell's, measured; 0.1 models Dask)"},
        {"central", IB_OPT_FLAG, &o.central, NULL,
         "the overhead is one central scheduler's, one task at a time (Dask's)"},
        {"mem-budget", IB_OPT_DBL, &o.mem_budget, "BYTES", "memory budget per rank (default: the cell's)"},
        {"contention", IB_OPT_DBL, &o.contention, "X",
         "slowdown per extra busy core (default: the platform's; --validate: measured)"},
        {"cost", IB_OPT_STR, &o.cost, "wall|cpu",
         "task costs: recorded wall time, or its CPU share (default wall; --study: cpu)"},
        {"full-size", IB_OPT_FLAG, &o.full_size, NULL,
         "scale the cell to its dataset's full shape (channels, rows, image)"},
        {"tasks-dir", IB_OPT_STR, &o.tasks_dir, "DIR",
         "write each layout's simulated task stream as DIR/sim-cellC-NxT.csv"},
        {"print-tasks", IB_OPT_FLAG, &o.print_tasks, NULL, "print the simulated task streams"},
        {"validate", IB_OPT_FLAG, &o.validate, NULL,
         "predict every cell from the 1x1 cell with its parameters; print the errors"},
        {"study", IB_OPT_FLAG, &o.study, NULL, "the study's effects on the study's platform"},
        {"no-store", IB_OPT_FLAG, &o.no_store, NULL, "do not store the simulations"},
        {"help", IB_OPT_FLAG, &o.help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    size_t at = 0;
    for (int i = -1; i < argc && at < sizeof o.command; i++)
        at += (size_t)snprintf(o.command + at, sizeof o.command - at, "%s%s", i < 0 ? "" : " ",
                               i < 0 ? "harness simulate" : argv[i]);
    int npos, ps = hx_parse("simulate", table, argc, argv, &npos, 0, 0);
    if (ps >= 0) return ps;
    ib_err e;
    ib_err_init(&e);
    if (o.validate + o.study + (o.cell != 0) != 1)
        return usage_error("give one of --cell ID, --validate, --study");
    if (o.cell < 0 || o.run < 0 || o.threads < 0 || o.chunks < 0)
        return usage_error("--cell, --run, --threads and --chunks must be >= 1");
    if (!o.cost) o.cost = o.study ? "cpu" : "wall";
    if (strcmp(o.cost, "wall") != 0 && strcmp(o.cost, "cpu") != 0)
        return usage_error("--cost must be wall or cpu");
    o.cpu = strcmp(o.cost, "cpu") == 0;
    char pbuf[4200], hbuf[4200];
    if (o.platform && hx_data_file("platforms", o.platform, pbuf, sizeof pbuf)) o.platform = pbuf;
    if (!o.platform)
        o.platform = default_platform(o.study ? DEFAULT_STUDY : DEFAULT_HERE, pbuf, sizeof pbuf);
    if (strcmp(o.here, DEFAULT_HERE) == 0) o.here = default_platform(DEFAULT_HERE, hbuf, sizeof hbuf);
    sim_platform p, here;
    if (sim_platform_load(&e, o.platform, &p) || sim_platform_load(&e, o.here, &here))
        return fail(&e, 1);
    if (o.contention >= 0) p.contention = o.contention;
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_EXISTING};
    if (res_open(&e, o.db, &oo, &db)) return fail(&e, e.code == IB_ENOTFOUND);
    int rc = o.validate ? validate(db, &o, &p, &here)
             : o.study  ? study(db, &o, &p, &here)
                        : sweep(db, &o, &p, &here);
    res_close(db);
    return rc;
}
