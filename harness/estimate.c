/*
 * estimate.c: what a suite's cells need before anything runs — the
 * dataset each generates (samples, bytes on disk), the cubes it writes,
 * and its wall time as the report's cost model predicts it from the
 * small-scale cells already in the results database (`run-suite
 * --dry-run`). Sizes are arithmetic on the resolved shapes; times are
 * model predictions, and say so, or say why there is none.
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"
#include "workloads/suite.h"
#include "workloads/workloads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The cubes a cell writes: the dirty cube, the PSF when asked, and for
 * mosaics the weight, primary-beam and mosaic products; float32 each. */
static double cube_bytes(const wl_cell *c, const wl_gen_shape *s, int mosaic, int npol)
{
    double plane = (double)s->image_nx * s->image_ny * 4;
    double products = 1 + (wl_cell_int(c, IB_P_PSF) ? 1 : 0) + (mosaic ? 3 : 0);
    return plane * (double)s->nchan * npol * products;
}

/* Image planes per channel of a cell (--stokes): one Stokes parameter or
 * correlation, two for XX,YY or RR,LL, the store's npol for corr. */
static int cell_planes(const wl_cell *c, int npol)
{
    char st[32];
    wl_cell_text(c, IB_P_STOKES, st, sizeof st);
    if (!strcmp(st, "corr")) return npol;
    return strchr(st, ',') ? 2 : 1;
}

int hx_estimate_cells(ib_err *e, const char *dbpath, const char *datasets_dir,
                      const wl_cell *const *cells, size_t n, hx_estimate *out, char *about,
                      size_t nabout)
{
    memset(out, 0, n * sizeof *out);
    rep_cost_model m;
    int fitted = 0;
    struct stat st;
    res_db *db = NULL;
    if (stat(dbpath, &st) != 0) {
        snprintf(about, nabout, "no estimate of time: no results database '%s' (`make run` "
                                "records the small cells the cost model is fitted on)", dbpath);
    } else {
        res_open_opts oo = {.flags = RES_OPEN_READONLY};
        ib_err de;
        ib_err_init(&de);
        if (res_open(&de, dbpath, &oo, &db)) {
            snprintf(about, nabout, "no estimate of time: %.400s", de.msg);
        } else {
            int rc = rep_cost_model_from_db(e, db, 1.0, &m, &fitted, about, nabout);
            res_close(db);
            if (rc) return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const wl_cell *c = cells[i];
        hx_estimate *x = &out[i];
        x->wall = x->lo = x->hi = NAN;
        wl_dataset ds;
        wl_gen_opts go;
        wl_gen_shape sh;
        int rc = wl_dataset_find(e, c->dataset, datasets_dir, &ds);
        if (!rc) {
            wl_cell_gen_opts(c, &go);
            rc = wl_gen_resolve(e, &ds, &go, &sh);
        }
        if (rc) {
            if (fitted) rep_cost_model_release(&m);
            return rc;
        }
        char gname[32];
        wl_cell_text(c, IB_P_GRIDDER, gname, sizeof gname);
        int mosaic = !strcmp(gname, "mosaic");
        x->samples = (double)sh.nrow * (double)sh.nchan * sh.npol;
        /* the compact store's bytes (docs/datasets.md), as gen and the
         * dataset cache count them */
        x->store_bytes = wl_gen_store_bytes(&sh, &go);
        const int planes = cell_planes(c, sh.npol);
        x->cube_bytes = cube_bytes(c, &sh, mosaic, planes);
        x->cores = (double)wl_cell_int(c, IB_P_NODES) * (double)wl_cell_int(c, IB_P_THREADS);
        if (!fitted) {
            snprintf(x->why, sizeof x->why, "no model");
            continue;
        }
        rep_cost_cell cc;
        memset(&cc, 0, sizeof cc);
        snprintf(cc.gridder, sizeof cc.gridder, "%s", gname);
        double pad = wl_cell_real(c, IB_P_PADDING);
        if (!(pad >= 1)) pad = 1;
        double S = (double)wl_cell_int(c, IB_P_SUPPORT), psf = wl_cell_int(c, IB_P_PSF) ? 2 : 1;
        double G = sh.image_nx * pad * sh.image_ny * pad;
        cc.x[REP_TERM_READ] = x->store_bytes;
        /* samples gridded and FFTs: one per image plane (--stokes) */
        cc.x[REP_TERM_GRID] = x->samples / sh.npol * planes * S * S * psf;
        cc.x[REP_TERM_FFT] = (double)sh.nchan * planes * psf * G * log2(G);
        cc.x[REP_TERM_WRITE] = x->cube_bytes;
        cc.x[REP_TERM_POINTING] = mosaic ? (double)sh.nfield * (double)sh.nchan * psf : 0;
        cc.cores = x->cores;
        cc.wall = NAN;
        rep_cost_prediction p;
        rep_cost_predict(&m, &cc, &p);
        if (p.ok) {
            x->wall = p.wall;
            x->lo = p.wall_lo;
            x->hi = p.wall_hi;
        } else {
            snprintf(x->why, sizeof x->why, "%.250s", p.why);
        }
    }
    if (fitted) rep_cost_model_release(&m);
    return 0;
}
