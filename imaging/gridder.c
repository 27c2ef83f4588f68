/*
 * gridder.c: one channel's products. The gridding loops of grid_tmpl.h
 * are instantiated here for float and double (standard kernel with the
 * support a compile-time constant in the common cases; the mosaic's
 * kernel tables); a channel's sample list goes onto a grid (all pols at
 * once, one kernel evaluation per sample), then through the FFT and the
 * grid correction to planes that are written or held. Nothing in the
 * gridding loop allocates, locks or logs.
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <string.h>

/* What grid_tmpl.h asks of the kernel, by precision: the power-major
 * polynomial coefficients, and the table's taps (--oversample K). */
static inline const float *coef_t_f(const img_kernel *k) { return k->coef_tf; }
static inline const double *coef_t_d(const img_kernel *k) { return k->coef_t; }
static inline void table_taps_f(const img_kernel *k, float fr, float *o)
{
    img_kernel_taps_f(k, fr, o);
}
static inline void table_taps_d(const img_kernel *k, double fr, double *o)
{
    img_kernel_taps(k, fr, o);
}

/* A fused multiply-add where the target has one (gcc and clang inline
 * and vectorise fma/fmaf there); elsewhere a multiply and an add. */
#ifdef __FMA__
#define FMA_F(a, b, c) fmaf(a, b, c)
#define FMA_D(a, b, c) fma(a, b, c)
#else
#define FMA_F(a, b, c) ((a) * (b) + (c))
#define FMA_D(a, b, c) ((a) * (b) + (c))
#endif

#define REAL float
#define SUF f
#define FMA FMA_F
#include "imaging/grid_tmpl.h"
#undef REAL
#undef SUF
#undef FMA
#define REAL double
#define SUF d
#define FMA FMA_D
#include "imaging/grid_tmpl.h"
#undef REAL
#undef SUF
#undef FMA

void img__grid_std(const img_plan *pl, const void *L, void *g, int ngx, int *vlo, int *vhi)
{
    if (pl->p->dbl) grid_samples_d(&pl->kernel, L, pl->npol, g, ngx, 0, vlo, vhi);
    else grid_samples_f(&pl->kernel, L, pl->npol, g, ngx, 0, vlo, vhi);
}

void img__grid_list(img__worker *w, int64_t chan, int prod, void *grid, int *vlo, int *vhi)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol, dbl = pl->p->dbl;
    const size_t es = dbl ? 8 : 4, cell = 2 * (size_t)npol * es, row = cell * (size_t)pl->ngx;
    if (pl->mosaic && prod == IMG_PROD_DIRTY) {
        double fl = pl->freq[chan] / IMG_C_LIGHT;
        if (dbl) grid_mosaic_d(pl, w->list, w->ktab_x, w->ktab_y, fl, grid, vlo, vhi, w->mos_scratch);
        else grid_mosaic_f(pl, w->list, w->ktab_x, w->ktab_y, fl, grid, vlo, vhi, w->mos_scratch);
    } else {
        /* The list's tap indices are for the grid support; the standard
         * kernel (the mosaic's PSF too) starts (support - W)/2 cells further. */
        size_t off = (size_t)((pl->grid_support - pl->kernel.W) / 2);
        char *g = (char *)grid + off * row + off * cell;
        if (dbl)
            grid_samples_d(&pl->kernel, w->list, npol, (double *)(void *)g, pl->ngx, prod, vlo, vhi);
        else
            grid_samples_f(&pl->kernel, w->list, npol, (float *)(void *)g, pl->ngx, prod, vlo, vhi);
        *vhi = *vhi + (int)(2 * off) < pl->ngy ? *vhi + (int)(2 * off) : pl->ngy;
    }
}

int img__image_product(img__worker *w, int64_t chan, const double *sumw, int prod)
{
    img_plan *pl = w->plan;
    img__phase(w, PROF_GRID);
    /* the grid is all zero: the previous product's fold cleared it */
    w->vlo = pl->ngy;
    w->vhi = 0;
    img__grid_list(w, chan, prod, w->grid, &w->vlo, &w->vhi);
    return img__product_planes(w, chan, sumw, prod, w->grid, w->vlo, w->vhi, 0, 1);
}

int img__product_planes(img__worker *w, int64_t chan, const double *sumw, int prod, void *grid,
                        int vlo, int vhi, int direct, int clear)
{
    img_plan *pl = w->plan;
    const int npol = pl->npol;
    for (int p = 0; p < npol; p++) {
        img__phase(w, PROF_FFT);
        img__fft_grid(pl, grid, w->half, p, vlo, vhi, clear && p == npol - 1);
        img__phase(w, PROF_CORRECT);
        double scale = sumw[p] > 0 ? 0.5 / sumw[p] : 0.0;
        float peak = img__fft_extract(pl, w->half, w->plane, scale);
        if (prod == IMG_PROD_DIRTY) pl->plane_peaks[(size_t)chan * (size_t)npol + (size_t)p] = peak;
        int mos = pl->mosaic && prod == IMG_PROD_DIRTY;
        if (mos) img__mosaic_planes(w, p, sumw[p]);

        img__phase(w, PROF_WRITE);
        int rc = img__plane_emit(w, direct, chan, p, prod);
        if (!rc && mos) rc = img__mosaic_emit(w, direct, chan, p);
        if (rc) return rc;
    }
    return 0;
}

