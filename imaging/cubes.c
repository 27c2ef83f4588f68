/*
 * cubes.c: the products of a run as FITS cubes in OUT. Rank 0 creates and
 * sizes every cube the run makes (dirty always, psf with --psf, weight, pb
 * and mosaic with the mosaic gridder) under temporary names; with parallel
 * writes the other ranks then open them and write their own planes. At
 * the end every rank lets go of its handles and rank 0 seals the cubes
 * (renamed into place); a run that fails after sealing removes them again.
 */
#include "imaging/plan_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int img__product_made(const img_params *p, int k)
{
    switch (k) {
    case IMG_PROD_DIRTY: return 1;
    case IMG_PROD_PSF: return p->psf;
    default: return p->gridder == IMG_GRIDDER_MOSAIC;
    }
}

const char *img_product_file(int k)
{
    static const char *f[IMG_NPROD] = {"dirty.fits", "psf.fits", "weight.fits", "pb.fits",
                                       "mosaic.fits"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "unknown.fits";
}

const char *img_product_btype(int k)
{
    static const char *f[IMG_NPROD] = {"Intensity", "Beam", "Weight", "Beam response",
                                       "Intensity"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "";
}

const char *img_product_bunit(int k)
{
    static const char *f[IMG_NPROD] = {"Jy/beam", "", "", "", "Jy/beam"};
    return k >= 0 && k < IMG_NPROD ? f[k] : "";
}

/* The HISTORY cards of every cube (hist holds their text; history[3] is
 * the terminating NULL). */
static void cube_history(const img_plan *pl, char hist[3][80], const char *history[4])
{
    const img_params *p = pl->p;
    snprintf(hist[0], 80, "imbench imager: gridder %s, support %d (grid %d), padding %.3g",
             pl->mosaic ? "mosaic" : "standard", p->support, pl->grid_support, p->padding);
    snprintf(hist[1], 80, "weighting %s robust %.3g, precision %s",
             p->weighting == IMG_WEIGHT_NATURAL   ? "natural"
             : p->weighting == IMG_WEIGHT_UNIFORM ? "uniform"
                                                  : "briggs",
             p->robust, p->dbl ? "double" : "float");
    snprintf(hist[2], 80, "grid %dx%d, kernel ES beta %.4g, poly degree %d", pl->ngx, pl->ngy,
             pl->kernel.beta, pl->kernel.deg);
    for (int i = 0; i < 3; i++) history[i] = hist[i];
    history[3] = NULL;
}

/* Axes and WCS of product k's cube. */
static img__cube_desc cube_desc(const img_plan *pl, int k)
{
    const img_vis_meta *m = img_vis_meta_get(pl->store);
    img__cube_desc d = {
        .nx = pl->nx, .ny = pl->ny, .nchan = (int)pl->nchan, .npol = pl->npol,
        .ra = m->phase_centre[0], .dec = m->phase_centre[1], .cell = pl->cell,
        .freq0 = pl->freq[0], .dfreq = pl->nchan > 1 ? pl->freq[1] - pl->freq[0] : 1.0,
        .bunit = img_product_bunit(k), .object = m->dataset, .telescope = m->telescope,
        .btype = img_product_btype(k), .durable = pl->p->fsync, .sde = pl->p->sde};
    memcpy(d.corr, pl->stokes_code, sizeof d.corr);
    return d;
}

enum { CUBES_PATHS, CUBES_CREATE, CUBES_OPEN };

/* Every product's cube created (rank 0), opened (another rank) or only its
 * path checked. */
static int cubes_make(ib_err *e, img_plan *pl, int how)
{
    const img_params *p = pl->p;
    char hist[3][80];
    const char *history[4];
    cube_history(pl, hist, history);
    for (int k = 0; k < IMG_NPROD; k++) {
        char kpath[4096];
        int made = img__product_made(p, k);
        /* a killed run's unfinished cube of a product this run does not make */
        if (!made && how == CUBES_CREATE &&
            !ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, img_product_file(k)))
            img__fits_remove_stale(kpath);
        if (!made) continue;
        img__cube_desc d = cube_desc(pl, k);
        int rc = ib_path_join(e, kpath, sizeof kpath, p->out_dir, img_product_file(k));
        if (!rc && how == CUBES_CREATE) rc = img__fits_create(e, kpath, &d, history, &pl->cube[k]);
        if (!rc && how == CUBES_OPEN) rc = img__fits_open(e, kpath, &d, history, &pl->cube[k]);
        if (rc) return rc;
    }
    return 0;
}

int img__cubes_create(ib_err *e, img_plan *pl)
{
    char path[4096];
    int rc = ib_path_join(e, path, sizeof path, pl->p->out_dir, "dirty.fits");
    if (rc) return rc;
    if (pl->par->rank != 0) return cubes_make(e, pl, CUBES_PATHS);
    if ((rc = ib_mkdir_p(e, pl->p->out_dir))) return rc;
    return cubes_make(e, pl, CUBES_CREATE);
}

int img__cubes_open(ib_err *e, img_plan *pl)
{
    if (pl->par->rank == 0 || pl->p->serial_write) return 0;
    return cubes_make(e, pl, CUBES_OPEN);
}

int img__cubes_seal(ib_err *e, img_plan *pl, uint64_t *bytes_written, int *sealed)
{
    const int root = pl->par->rank == 0;
    *sealed = 0;
    if (!root)
        for (int k = 0; k < IMG_NPROD; k++) {
            img__fits_close(pl->cube[k]);
            pl->cube[k] = NULL;
        }
    int rc = img__barrier(e, &pl->comm);
    if (rc) return rc;
    *sealed = root;
    for (int k = 0; root && k < IMG_NPROD; k++) {
        if (pl->cube[k] && pl->beams) img__fits_set_beams(pl->cube[k], pl->beams);
        if (pl->cube[k] && !rc) rc = img__fits_finish(e, pl->cube[k], bytes_written);
        else img__fits_abort(pl->cube[k]);
        pl->cube[k] = NULL;
    }
    return rc;
}

void img__cubes_abort(img_plan *pl)
{
    for (int k = 0; k < IMG_NPROD; k++) {
        img__fits_abort(pl->cube[k]);
        pl->cube[k] = NULL;
    }
}

void img__cubes_remove(const img_plan *pl)
{
    const img_params *p = pl->p;
    char kpath[4096];
    for (int k = 0; k < IMG_NPROD; k++)
        if (img__product_made(p, k) &&
            !ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, img_product_file(k)))
            unlink(kpath);
    if (!ib_path_join(NULL, kpath, sizeof kpath, p->out_dir, "tasks.csv")) unlink(kpath);
}
