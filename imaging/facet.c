/*
 * facet.c: the mosaic gridder's facet method. The dirty mosaic is
 * sum over pointings f of PB_f(l) x dirty_f(l) / sum w (dirty_f: the image
 * of pointing f's weighted samples, rephased to the image centre). A
 * pointing's samples only see the sky inside its beam, so each pointing's
 * dirty image is made only on a facet: the image's pixels out to where
 * the beam falls to --aperture-cut of its peak, centred on the image pixel
 * nearest the pointing (the samples rephased to that pixel's direction,
 * so a fractional-pixel offset is exact). Per channel, each pointing's
 * samples are gridded with the standard anti-aliasing kernel (W x W taps)
 * on a small grid (the facet padded by --padding), transformed by one c2r
 * FFT per pol, grid-corrected, weighed by the pointing's beam and added
 * into the mosaic plane. The weight, pb and mosaic planes follow as in the
 * aperture method (mosaic.c). Cost: 2 W^2 multiply-adds per sample plus
 * pointings x channels x pols small FFTs, whatever the image's width in
 * beams (docs/imager.md).
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REAL float
#define SUF f
#define FFTW(name) fftwf_##name
#include "imaging/facet_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW
#define REAL double
#define SUF d
#define FFTW(name) fftw_##name
#include "imaging/facet_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW

int img__facet_setup(ib_err *e, img_plan *pl)
{
    const int nf = pl->facet_nf, ng = pl->facet_ng, nx = pl->nx, ny = pl->ny;
    const size_t nfl = (size_t)pl->nfield;
    pl->facet_x0 = ib_malloc(sizeof(int) * nfl);
    pl->facet_y0 = ib_malloc(sizeof(int) * nfl);
    pl->facet_dl = ib_malloc(sizeof(double) * nfl);
    pl->facet_dm = ib_malloc(sizeof(double) * nfl);
    pl->facet_corr = ib_malloc(sizeof(double) * (size_t)nf);
    if (!pl->facet_x0 || !pl->facet_y0 || !pl->facet_dl || !pl->facet_dm || !pl->facet_corr)
        return ib_error(e, IB_ENOMEM, "out of memory for the facets");
    for (int f = 0; f < pl->nfield; f++) {
        /* the image pixel nearest the pointing: l = (nx/2 - x) cell,
         * m = (y - ny/2) cell */
        int xc = nx / 2 - (int)lround(pl->field_l[f] / pl->cell);
        int yc = ny / 2 + (int)lround(pl->field_m[f] / pl->cell);
        pl->facet_dl[f] = (nx / 2 - xc) * pl->cell - pl->field_l[f];
        pl->facet_dm[f] = (yc - ny / 2) * pl->cell - pl->field_m[f];
        pl->facet_x0[f] = xc - nf / 2;
        pl->facet_y0[f] = yc - nf / 2;
    }
    for (int i = 0; i < nf; i++)
        pl->facet_corr[i] = 1.0 / img_kernel_ft(&pl->kernel, (double)(nf / 2 - i) / ng);
    return 0;
}

int img__facet_plan(img_plan *pl, unsigned flags)
{
    pl->facet_fft = pl->p->dbl ? facet_plan_d(pl->facet_ng, flags)
                               : facet_plan_f(pl->facet_ng, flags);
    return pl->facet_fft ? 0 : -1;
}

void img__facet_destroy(img_plan *pl)
{
    if (pl->facet_fft) {
        if (pl->p->dbl) fftw_destroy_plan(pl->facet_fft);
        else fftwf_destroy_plan(pl->facet_fft);
    }
    pl->facet_fft = NULL;
    free(pl->facet_x0);
    free(pl->facet_y0);
    free(pl->facet_dl);
    free(pl->facet_dm);
    free(pl->facet_corr);
}

uint64_t img__facet_bytes(const img_plan *pl)
{
    const uint64_t es = pl->p->dbl ? 8 : 4, ng = (uint64_t)pl->facet_ng, np = (uint64_t)pl->npol;
    return ng * ng * np * 2 * es + IMG_GRID_SLACK + ng * (ng / 2 + 1) * 2 * es + ng * ng * es +
           (uint64_t)pl->nx * (uint64_t)pl->ny * np * 4 +
           (uint64_t)pl->nrow * (12 + 2 * es + 3 * es * np) +
           16 * ((uint64_t)pl->nfield + 1) + 16 * (uint64_t)pl->facet_nf;
}

int img__facet_worker_init(img__worker *w)
{
    const img_plan *pl = w->plan;
    const size_t es = pl->p->dbl ? 8 : 4, ng = (size_t)pl->facet_ng, np = (size_t)pl->npol;
    w->facet_list = img__list_alloc(pl->nrow, pl->npol, pl->p->dbl);
    w->facet_start = ib_malloc(sizeof(int64_t) * 2 * ((size_t)pl->nfield + 1));
    /* IMG_GRID_SLACK: the gridder's row update is rounded up to whole
     * vectors and may add +0 past the last cell */
    w->facet_grid = ib_calloc(ng * ng * np * 2 * es + IMG_GRID_SLACK, 1);
    w->facet_half = fftw_malloc(ng * (ng / 2 + 1) * 2 * es);
    w->facet_out = fftw_malloc(ng * ng * es);
    w->facet_planes = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny * np);
    w->facet_pb = ib_malloc(sizeof(double) * 2 * (size_t)pl->facet_nf);
    w->facet_vlo = w->facet_vhi = 0;
    return w->facet_list && w->facet_start && w->facet_grid && w->facet_half && w->facet_out &&
           w->facet_planes && w->facet_pb;
}

void img__facet_worker_release(img__worker *w)
{
    img__list_free(w->facet_list, w->plan ? w->plan->p->dbl : 0);
    free(w->facet_start);
    free(w->facet_grid);
    fftw_free(w->facet_half);
    fftw_free(w->facet_out);
    free(w->facet_planes);
    free(w->facet_pb);
    w->facet_list = w->facet_grid = w->facet_half = w->facet_out = NULL;
    w->facet_start = NULL;
    w->facet_planes = NULL;
    w->facet_pb = NULL;
}

/* Field f's beam at channel frequency freq along the facet's pixels, times
 * the facet grid correction: cx (nf values) and cy (nf values). */
static void facet_beam(const img_plan *pl, int f, double freq, double *cx, double *cy)
{
    const int nf = pl->facet_nf, nx = pl->nx, ny = pl->ny;
    const double fw = img_pb_fwhm(freq, pl->dish_m), a = 4.0 * M_LN2 / (fw * fw);
    for (int i = 0; i < nf; i++) {
        double dl = (nx / 2 - (pl->facet_x0[f] + i)) * pl->cell - pl->field_l[f];
        double dm = ((pl->facet_y0[f] + i) - ny / 2) * pl->cell - pl->field_m[f];
        cx[i] = pl->facet_corr[i] * exp(-a * dl * dl);
        cy[i] = pl->facet_corr[i] * exp(-a * dm * dm);
    }
}

int img__facet_product(img__worker *w, int64_t chan, const double *sumw)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol, dbl = pl->p->dbl, ng = pl->facet_ng, nf = pl->facet_nf;
    const size_t nxy = (size_t)pl->nx * (size_t)pl->ny, es = dbl ? 8 : 4;
    const size_t row = 2 * (size_t)npol * es * (size_t)ng;
    double *cx = w->facet_pb, *cy = w->facet_pb + nf;
    img__phase(w, PROF_GRID);
    if (dbl) facet_list_d(pl, w->list, chan, w->facet_list, w->facet_start, &w->dropped);
    else facet_list_f(pl, w->list, chan, w->facet_list, w->facet_start, &w->dropped);
    memset(w->facet_planes, 0, sizeof(float) * nxy * (size_t)npol);
    for (int f = 0; f < pl->nfield && !atomic_load(&pl->failed); f++) {
        if (w->facet_start[f + 1] == w->facet_start[f]) continue;
        img__phase(w, PROF_GRID);
        if (w->facet_vhi > w->facet_vlo)
            memset((char *)w->facet_grid + (size_t)w->facet_vlo * row, 0,
                   (size_t)(w->facet_vhi - w->facet_vlo) * row);
        int vlo = ng, vhi = 0;
        if (dbl) {
            img__list_d v = facet_view_d(w->facet_list, w->facet_start, f, npol);
            img__grid_std(pl, &v, w->facet_grid, ng, &vlo, &vhi);
        } else {
            img__list_f v = facet_view_f(w->facet_list, w->facet_start, f, npol);
            img__grid_std(pl, &v, w->facet_grid, ng, &vlo, &vhi);
        }
        w->facet_vlo = vlo;
        w->facet_vhi = vhi;
        img__phase(w, PROF_CORRECT);
        facet_beam(pl, f, pl->freq[chan], cx, cy);
        for (int p = 0; p < npol; p++) {
            double scale = sumw[p] > 0 ? 0.5 / sumw[p] : 0.0;
            float *plane = w->facet_planes + (size_t)p * nxy;
            img__phase(w, PROF_FFT);
            if (dbl) {
                facet_fold_d(w->facet_grid, w->facet_half, ng, npol, p, vlo, vhi);
                facet_fft_d(pl->facet_fft, w->facet_half, w->facet_out);
                img__phase(w, PROF_CORRECT);
                facet_add_d(w->facet_out, plane, pl->nx, pl->ny, nf, ng, pl->facet_x0[f],
                            pl->facet_y0[f], cx, cy, scale);
            } else {
                facet_fold_f(w->facet_grid, w->facet_half, ng, npol, p, vlo, vhi);
                facet_fft_f(pl->facet_fft, w->facet_half, w->facet_out);
                img__phase(w, PROF_CORRECT);
                facet_add_f(w->facet_out, plane, pl->nx, pl->ny, nf, ng, pl->facet_x0[f],
                            pl->facet_y0[f], cx, cy, scale);
            }
        }
    }
    /* The channel's planes: the dirty mosaic, then as the aperture method
     * (img__product_planes) its weight, pb and normalised mosaic. */
    for (int p = 0; p < npol; p++) {
        img__phase(w, PROF_CORRECT);
        memcpy(w->plane, w->facet_planes + (size_t)p * nxy, sizeof(float) * nxy);
        float peak = 0;
        for (size_t i = 0; i < nxy; i++) peak = fabsf(w->plane[i]) > peak ? fabsf(w->plane[i]) : peak;
        pl->plane_peaks[(size_t)chan * (size_t)npol + (size_t)p] = peak;
        img__mosaic_planes(w, p, sumw[p]);
        img__phase(w, PROF_WRITE);
        int rc = img__plane_emit(w, 0, chan, p, IMG_PROD_DIRTY);
        if (!rc) rc = img__mosaic_emit(w, 0, chan, p);
        if (rc) return rc;
    }
    return 0;
}
