/*
 * stats.c: the imager's stats record (JSON through jansson) that the
 * harness ingests; its layout is described in docs/interfaces.md.
 */
#include "imaging/imaging.h"
#include "profiles/profiles.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void add_metric(json_t *arr, const char *name, double v, const char *unit,
                       const char *better)
{
    json_array_append_new(arr, json_pack("{s:s, s:f, s:s, s:s}", "name", name, "value", v,
                                         "unit", unit, "better", better));
}

static const char *weight_name(int w)
{
    return w == IMG_WEIGHT_NATURAL ? "natural" : w == IMG_WEIGHT_UNIFORM ? "uniform" : "briggs";
}

/* The run's parameters as the stats record them. */
static json_t *stats_params(const img_params *p, const img_result *r)
{
    json_t *par = json_pack(
        "{s:s, s:s, s:i, s:i, s:s, s:f, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:s, s:b}",
        "vis", p->vis_dir, "gridder", p->gridder == IMG_GRIDDER_MOSAIC ? "mosaic" : "standard",
        "support", p->support, "oversample", p->oversample, "weight", weight_name(p->weighting),
        "robust", p->robust, "image_nx", r->nx, "image_ny", r->ny, "cell_arcsec", r->cell_arcsec,
        "padding", p->padding, "threads", p->threads, "chunks", r->nchunks, "ranks",
        r->nranks > 0 ? r->nranks : 1,
        "precision", p->dbl ? "double" : "float", "psf", p->psf);
    json_object_set_new(par, "schedule",
                        json_string(p->schedule == IMG_SCHED_DYNAMIC    ? "dynamic"
                                    : p->schedule == IMG_SCHED_LOCALITY ? "locality"
                                                                        : "static"));
    json_object_set_new(par, "serial_write", json_boolean(p->serial_write));
    json_object_set_new(par, "fsync", json_boolean(p->fsync));
    static const char *const stokes[] = {"I", "Q", "U", "V", "XX,YY", "RR,LL", "XX", "YY",
                                         "RR", "LL", "corr"};
    if (p->stokes >= 0 && p->stokes <= IMG_STOKES_CORR)
        json_object_set_new(par, "stokes", json_string(stokes[p->stokes]));
    if (r->npol > 0) json_object_set_new(par, "planes", json_integer(r->npol));
    json_object_set_new(par, "row_chunks", json_integer(r->row_chunks > 1 ? r->row_chunks : 1));
    static const char *const methods[] = {"aperture", "facet", "auto"};
    int mm = p->mosaic_method >= 0 && p->mosaic_method <= 2 ? p->mosaic_method : 2;
    json_object_set_new(par, "mosaic_method", json_string(methods[mm]));
    json_object_set_new(par, "aperture_cut", json_real(p->aperture_cut));
    json_object_set_new(par, "aperture_oversample", json_integer(p->aperture_oversample));
    return par;
}

/* The run's own metrics (and the DFT check's record on root). */
static void stats_metrics(json_t *root, json_t *mt, const img_params *p, const img_result *r)
{
    add_metric(mt, "wall_time", r->wall_seconds, "s", "lower");
    add_metric(mt, "samples_gridded", (double)r->samples_gridded, "count", "higher");
    add_metric(mt, "samples_dropped", (double)r->samples_dropped, "count", "lower");
    double grid_s = r->phase_wall[PROF_GRID];
    if (grid_s > 0)
        add_metric(mt, "grid_rate", (double)r->samples_gridded / grid_s * (p->psf ? 2 : 1),
                   "samples/s", "higher");
    if (r->wall_seconds > 0)
        add_metric(mt, "cube_rate", (double)r->samples_gridded / r->wall_seconds, "samples/s",
                   "higher");
    add_metric(mt, "peak_rss", r->peak_rss_bytes, "bytes", "lower");
    add_metric(mt, "grid_bytes_per_thread", r->grid_bytes_per_thread, "bytes", "lower");
    add_metric(mt, "fft_plan_time", r->plan_seconds, "s", "lower");
    add_metric(mt, "bytes_read", (double)r->bytes_read, "bytes", "lower");
    /* The store's read rate while reading: bytes of the spectral datasets
     * over the read phase's thread-seconds shared by every thread of every
     * rank (they read in parallel: vis_store.c). */
    double read_s = r->phase_wall[PROF_READ];
    double readers = (double)(p->threads > 0 ? p->threads : 1) * (r->nranks > 0 ? r->nranks : 1);
    if (read_s > 0 && r->bytes_read > 0)
        add_metric(mt, "read_mb_s", (double)r->bytes_read / 1e6 / (read_s / readers), "MB/s",
                   "higher");
    add_metric(mt, "bytes_written", (double)r->bytes_written, "bytes", "lower");
    if (r->dft_max_rel_err >= 0) {
        add_metric(mt, "dft_max_rel_err", r->dft_max_rel_err, "ratio", "lower");
        json_object_set_new(root, "check_dft",
                            json_pack("{s:i, s:f, s:f}", "k", p->check_dft, "max_rel_err",
                                      r->dft_max_rel_err, "rms_rel_err", r->dft_rms_rel_err));
    }
    if (r->tasks > 0) {
        add_metric(mt, "tasks", (double)r->tasks, "count", "higher");
        add_metric(mt, "sched_time", r->sched_s, "s", "lower");
        add_metric(mt, "sched_per_task", r->sched_s / (double)r->tasks, "s", "lower");
    }
}

/* Per rank: phases, communication, load (per_rank and comm on root, their
 * metrics in mt). */
static void stats_ranks(json_t *root, json_t *mt, const img_result *r)
{
    json_t *ranks = json_array(), *comm = json_array();
    double maxb = 0, sumb = 0, maxw = 0, busy = 0, avail = 0, setup = 0;
    uint64_t msgs = 0, bytes = 0;
    double csec = 0;
    for (int i = 0; i < r->nranks; i++) {
        const img_rank_stats *rs = &r->ranks[i];
        json_t *ph2 = json_array();
        for (int k = 0; k < PROF_NPHASE && k < IMG_MAX_PHASES; k++)
            if (rs->phase_wall[k] > 0)
                json_array_append_new(ph2, json_pack("{s:s, s:f, s:f}", "name",
                                                     prof_phase_name(k), "wall_s",
                                                     rs->phase_wall[k], "cpu_s",
                                                     rs->phase_cpu[k]));
        json_array_append_new(
            ranks, json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:I, s:f, s:I, s:o}", "rank",
                             rs->rank, "threads", rs->threads, "wall_s", rs->wall_s, "setup_s",
                             rs->setup_s, "busy_s", rs->busy_s,
                             "sched_s", rs->sched_s, "tasks", (json_int_t)rs->tasks,
                             "peak_rss_bytes", rs->peak_rss, "samples",
                             (json_int_t)rs->samples, "phases", ph2));
        for (int op = 0; op < IMG_COMM_NOPS; op++) {
            const img_comm_stats *c = &rs->comm;
            if (!c->msgs_sent[op] && !c->msgs_recv[op] && c->seconds[op] == 0) continue;
            json_array_append_new(
                comm, json_pack("{s:i, s:s, s:I, s:I, s:I, s:I, s:f}", "rank", rs->rank, "op",
                                img_comm_op_name(op), "msgs_sent", (json_int_t)c->msgs_sent[op],
                                "msgs_recv", (json_int_t)c->msgs_recv[op], "bytes_sent",
                                (json_int_t)c->bytes_sent[op], "bytes_recv",
                                (json_int_t)c->bytes_recv[op], "seconds", c->seconds[op]));
            msgs += c->msgs_sent[op];
            bytes += c->bytes_sent[op];
            csec += c->seconds[op];
        }
        maxb = rs->busy_s > maxb ? rs->busy_s : maxb;
        sumb += rs->busy_s;
        maxw = rs->wall_s > maxw ? rs->wall_s : maxw;
        setup = rs->setup_s > setup ? rs->setup_s : setup;
        busy += rs->busy_s;
        avail += rs->wall_s * rs->threads;
    }
    json_object_set_new(root, "per_rank", ranks);
    json_object_set_new(root, "comm", comm);
    add_metric(mt, "comm_messages", (double)msgs, "count", "lower");
    add_metric(mt, "comm_bytes", (double)bytes, "bytes", "lower");
    add_metric(mt, "comm_time", csec, "s", "lower");
    add_metric(mt, "setup_time", setup, "s", "lower");
    if (sumb > 0) add_metric(mt, "load_imbalance", maxb / (sumb / r->nranks), "ratio", "lower");
    if (avail > 0) add_metric(mt, "idle_share", 1.0 - busy / avail, "ratio", "lower");
    add_metric(mt, "critical_path", maxb / (r->ranks[0].threads > 0 ? r->ranks[0].threads : 1),
               "s", "lower");
}

static json_t *stats_rusage(void)
{
    prof_rusage ru;
    prof_rusage_get(&ru);
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "max_rss_bytes",
                     ru.max_rss_bytes, "minor_faults", ru.minor_faults, "major_faults",
                     ru.major_faults, "vol_ctx_switches", ru.vol_ctx_switches,
                     "invol_ctx_switches", ru.invol_ctx_switches, "in_blocks", ru.in_blocks,
                     "out_blocks", ru.out_blocks, "user_s", ru.user_s, "sys_s", ru.sys_s);
}

/* A stats.json.tmp a killed imager left: empty or a JSON object. */
static int stats_tmp_ours(int fd)
{
    char c;
    ssize_t n = pread(fd, &c, 1, 0);
    return n == 0 || (n == 1 && c == '{');
}

/* root written to path atomically (path.tmp, created exclusively, then
 * renamed). */
static int stats_dump(ib_err *e, json_t *root, const char *path)
{
    char tmp[4200];
    int fd = -1;
    int rc = ib_path_fmt(e, tmp, sizeof tmp, "%s.tmp", path);
    int slot = -1;
    if (!rc) rc = ib_create_excl(e, "stats", tmp, 0644, stats_tmp_ours, &fd, &slot);
    if (rc) return rc;
    errno = 0;
    int bad = json_dumpfd(root, fd, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) != 0;
    int err = bad ? (errno ? errno : EIO) : 0;
    if (close(fd) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno ? errno : EIO;
    if (err) {
        unlink(tmp);
        rc = ib_error(e, err == ENOSPC || err == EDQUOT ? IB_ENOSPACE : IB_EIO,
                      "stats '%s': cannot write: %s", path, strerror(err));
    }
    ib_tmp_drop(slot);
    return rc;
}

int img_stats_write(ib_err *e, const char *path, const img_params *p, const img_result *r,
                    const img_vis_meta *m, json_t *extra_counters)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string("imbench-stats/1"));
    json_object_set_new(root, "program", json_string("imager"));
    json_object_set_new(root, "version", json_string(IMG_VERSION));
    json_object_set_new(root, "params", stats_params(p, r));
    if (p->gridder == IMG_GRIDDER_MOSAIC && r->mosaic_reason[0])
        /* the method used and why (the cost model's figures in multiply-adds) */
        json_object_set_new(
            root, "mosaic",
            json_pack("{s:s, s:s, s:i, s:i, s:i, s:f, s:f}", "method",
                      r->mosaic_method == IMG_MOSAIC_FACET ? "facet" : "aperture", "reason",
                      r->mosaic_reason, "support", r->mosaic_support, "facet_nx", r->facet_nx,
                      "facet_ngx", r->facet_ngx, "cost_aperture", r->cost_aperture,
                      "cost_facet", r->cost_facet));
    if (m)
        json_object_set_new(root, "dataset",
                            json_pack("{s:s, s:I, s:I, s:i, s:i}", "name", m->dataset, "nrow",
                                      (json_int_t)m->nrow, "nchan", (json_int_t)m->nchan, "npol",
                                      m->npol, "nfield", m->nfield));
    json_object_set_new(root, "wall_seconds", json_real(r->wall_seconds));
    json_t *ph = json_array();
    for (int i = 0; i < PROF_NPHASE; i++)
        if (r->phase_wall[i] > 0 || r->phase_cpu[i] > 0)
            json_array_append_new(ph, json_pack("{s:s, s:f, s:f}", "name", prof_phase_name(i),
                                                "wall_s", r->phase_wall[i], "cpu_s",
                                                r->phase_cpu[i]));
    json_object_set_new(root, "phases", ph);
    json_t *mt = json_array();
    stats_metrics(root, mt, p, r);
    if (r->ranks && r->nranks > 0) stats_ranks(root, mt, r);
    if (p->mem_budget) {
        add_metric(mt, "mem_budget", (double)p->mem_budget, "bytes", "higher");
        add_metric(mt, "peak_tracked", (double)r->peak_tracked, "bytes", "lower");
        add_metric(mt, "spill_bytes", (double)r->spill_bytes, "bytes", "lower");
        add_metric(mt, "spill_files", (double)r->spill_files, "count", "lower");
        add_metric(mt, "spill_write_time", r->spill_write_s, "s", "lower");
        add_metric(mt, "spill_read_time", r->spill_read_s, "s", "lower");
    }
    if (r->task_events > 0) {
        json_object_set_new(root, "tasks_file", json_string("tasks.csv"));
        add_metric(mt, "task_events", (double)r->task_events, "count", "higher");
    }
    json_object_set_new(root, "metrics", mt);
    json_object_set_new(root, "rusage", stats_rusage());
    if (extra_counters) json_object_set(root, "counters", extra_counters);
    int rc = stats_dump(e, root, path);
    json_decref(root);
    return rc;
}
