/*
 * wsclean.h: WSClean as a peer imager of a suite cell (imager: wsclean),
 * and the image comparison behind `harness compare-images`
 * (docs/wsclean.md). Prefix hx_ws_ (WSClean) and hx_cmpimg_ (comparison).
 */
#ifndef HX_WSCLEAN_H
#define HX_WSCLEAN_H

#include <stddef.h>

#include "common/common.h"
#include "harness/harness.h"
#include "imaging/imaging.h"
#include "workloads/suite.h"

/* What WSClean is asked to do for a cell: sizes from the cell, else the
 * store's suggestion; the store's channels and correlations. */
typedef struct hx_ws_plan {
    img_vis_meta meta;
    int nx, ny;
    double cell_arcsec;
    double padding;     /* the cell's, else the imager's default 1.5 */
    char pol[16];       /* "xx,yy", "rr,ll", "xx", ... */
    char weight[32];    /* the cell's weight, normalised ("natural" unset) */
} hx_ws_plan;

/*
 * Plan the WSClean run of cell c on the store in store_dir (reads its
 * metadata). IB_EUNSUPPORTED with a message for what WSClean cells do not
 * cover (the mosaic gridder, several ranks, correlations it cannot name).
 */
int hx_ws_plan_cell(ib_err *e, const wl_cell *c, const char *store_dir, hx_ws_plan *p);

/* An argument vector with its own storage. */
typedef struct hx_ws_args {
    char *v[64];
    int n;
    char num[24][64];
    int nnum;
} hx_ws_args;

/*
 * `wsclean -name PREFIX -size NX NY -scale CELLasec -channels-out NCHAN
 * -pol P -weight W [R] -j T -padding P -use-wgridder -niter 0
 * -no-update-model-required -no-small-inversion -temp-dir TMP MS` into a.
 * wsclean is the program's path; prefix, temp_dir and ms are borrowed.
 */
void hx_ws_build_argv(const wl_cell *c, const hx_ws_plan *p, const char *wsclean,
                      const char *prefix, const char *temp_dir, const char *ms, hx_ws_args *a);

/* What WSClean printed on stdout (its log). Times are -1 when absent. */
typedef struct hx_ws_log {
    char version[32];          /* "3.1.0" or "" */
    double inversion_s, prediction_s, deconvolution_s;
    int reordered;             /* "Reordering ..." seen */
    double gridded;            /* sum of "Gridded visibility count: N" */
    int ninversions;           /* images made ("Gridded visibility count" lines) */
} hx_ws_log;

/* Parse WSClean's log text (NULL or "" gives an empty log). */
void hx_ws_parse_log(const char *text, hx_ws_log *out);

/*
 * stats.json (schema imbench-stats/1, program wsclean) for a WSClean run
 * of cell c that took wall_s seconds, written atomically to path.
 * log_path (may be NULL) is WSClean's stdout.
 */
int hx_ws_write_stats(ib_err *e, const char *path, const wl_cell *c, const hx_ws_plan *p,
                      const char *log_path, double wall_s);

/*
 * Make STORE/vis.ms (the store as a MeasurementSet) unless present: runs
 * `harness export-ms STORE STORE/vis-tmp-PID.ms` and renames it into
 * place. harness is the program's path. 0 with *made (1 when exported
 * now); IB_EINTERRUPTED; or another code with the reason in e.
 */
int hx_ws_ensure_ms(ib_err *e, const char *harness, const char *store_dir, double timeout_s,
                    char *ms, size_t msn, int *made);

/* ---- image comparison (cmd_compare_images.c) ---------------------------- */

typedef struct hx_cmpimg_row {
    int chan;            /* channel index in A */
    int stokes;          /* FITS Stokes code (-5 XX, ...) */
    double freq_hz;
    double peak;         /* max |A| of the plane */
    double rms_rel;      /* rms((A - B) / peak) over the region */
    double max_rel;      /* max |A - B| / peak over the region */
    int peak_a_x, peak_a_y, peak_b_x, peak_b_y; /* 0-based pixel of max A, max B */
} hx_cmpimg_row;

/*
 * Compare the planes of FITS image a (a cube x, y, freq, stokes, as the
 * imager writes) with those of the files b[0..nb-1] (cubes or WSClean's
 * one-plane images): planes are matched by Stokes code and frequency
 * (within half a channel), after checking that the images agree in size,
 * cell, reference pixel and unit. inner in (0, 1]: only the central
 * fraction of each axis counts. *rows (ib_free) and *nrows: one per
 * matched plane, in A's order. IB_EPARSE (with the mismatch) when the
 * images do not share a grid, IB_ENOTFOUND when no plane matches.
 */
int hx_cmpimg_run(ib_err *e, const char *a, const char *const *b, int nb, double inner,
                  hx_cmpimg_row **rows, size_t *nrows);

#endif
