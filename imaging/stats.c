/*
 * stats.c: the imager's stats record (JSON through jansson) that the
 * harness ingests; its layout is described in docs/interfaces.md.
 */
#include "imaging/imaging.h"
#include "profiles/profiles.h"

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

int img_stats_write(ib_err *e, const char *path, const img_params *p, const img_result *r,
                    const img_vis_meta *m, json_t *extra_counters)
{
    json_t *root = json_object();
    json_object_set_new(root, "schema", json_string("imbench-stats/1"));
    json_object_set_new(root, "program", json_string("imager"));
    json_object_set_new(root, "version", json_string(IMG_VERSION));
    json_t *par = json_pack(
        "{s:s, s:s, s:i, s:i, s:s, s:f, s:i, s:i, s:f, s:f, s:i, s:i, s:i, s:s, s:b}",
        "vis", p->vis_dir, "gridder", p->gridder == IMG_GRIDDER_MOSAIC ? "mosaic" : "standard",
        "support", p->support, "oversample", p->oversample, "weight", weight_name(p->weighting),
        "robust", p->robust, "image_nx", r->nx, "image_ny", r->ny, "cell_arcsec", r->cell_arcsec,
        "padding", p->padding, "threads", p->threads, "chunks", r->nchunks, "ranks", 1,
        "precision", p->dbl ? "double" : "float", "psf", p->psf);
    json_object_set_new(root, "params", par);
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
    add_metric(mt, "wall_time", r->wall_seconds, "s", "lower");
    add_metric(mt, "samples_gridded", (double)r->samples_gridded, "count", "higher");
    add_metric(mt, "samples_dropped", (double)r->samples_dropped, "count", "lower");
    double gw = r->phase_wall[PROF_GRID];
    if (gw > 0)
        add_metric(mt, "grid_rate", (double)r->samples_gridded / gw * (p->psf ? 2 : 1),
                   "samples/s", "higher");
    if (r->wall_seconds > 0)
        add_metric(mt, "cube_rate", (double)r->samples_gridded / r->wall_seconds, "samples/s",
                   "higher");
    add_metric(mt, "peak_rss", r->peak_rss_bytes, "bytes", "lower");
    add_metric(mt, "grid_bytes_per_thread", r->grid_bytes_per_thread, "bytes", "lower");
    add_metric(mt, "fft_plan_time", r->plan_seconds, "s", "lower");
    add_metric(mt, "bytes_read", (double)r->bytes_read, "bytes", "lower");
    add_metric(mt, "bytes_written", (double)r->bytes_written, "bytes", "lower");
    if (r->dft_max_rel_err >= 0) {
        add_metric(mt, "dft_max_rel_err", r->dft_max_rel_err, "ratio", "lower");
        json_object_set_new(root, "check_dft",
                            json_pack("{s:i, s:f, s:f}", "k", p->check_dft, "max_rel_err",
                                      r->dft_max_rel_err, "rms_rel_err", r->dft_rms_rel_err));
    }
    json_object_set_new(root, "metrics", mt);
    prof_rusage ru;
    prof_rusage_get(&ru);
    json_object_set_new(root, "rusage",
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                                  "max_rss_bytes", ru.max_rss_bytes, "minor_faults",
                                  ru.minor_faults, "major_faults", ru.major_faults,
                                  "vol_ctx_switches", ru.vol_ctx_switches,
                                  "invol_ctx_switches", ru.invol_ctx_switches, "in_blocks",
                                  ru.in_blocks, "out_blocks", ru.out_blocks, "user_s", ru.user_s,
                                  "sys_s", ru.sys_s));
    if (extra_counters) json_object_set(root, "counters", extra_counters);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int rc = 0;
    if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(12)) != 0 ||
        rename(tmp, path) != 0) {
        unlink(tmp);
        rc = ib_error(e, IB_EIO, "stats '%s': cannot write", path);
    }
    json_decref(root);
    return rc;
}
