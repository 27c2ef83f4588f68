/*
 * list.c: one channel's sample list — the structure-of-arrays buffers
 * (img__list_alloc, sized once per thread) and the precision-dependent
 * builders of list_tmpl.h (flags, uniform/Briggs density, weights, grid
 * indices), instantiated here for float and double.
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void img__list_free(void *lp, int dbl)
{
    if (!lp) return;
    if (dbl) {
        img__list_d *L = lp;
        free(L->row); free(L->iu); free(L->iv); free(L->fu); free(L->fv);
        free(L->vc); free(L->w);
    } else {
        img__list_f *L = lp;
        free(L->row); free(L->iu); free(L->iv); free(L->fu); free(L->fv);
        free(L->vc); free(L->w);
    }
    free(lp);
}

void *img__list_alloc(int64_t nrow, int npol, int dbl)
{
    size_t r = (size_t)nrow, rp = (size_t)nrow * (size_t)npol, es = dbl ? 8 : 4;
    if (dbl) {
        img__list_d *L = ib_calloc(1, sizeof *L);
        if (!L) return NULL;
        L->row = ib_malloc(4 * r); L->iu = ib_malloc(4 * r); L->iv = ib_malloc(4 * r);
        L->fu = ib_malloc(es * r); L->fv = ib_malloc(es * r);
        L->vc = ib_malloc(2 * es * rp); L->w = ib_malloc(es * rp);
        if (!L->row || !L->iu || !L->iv || !L->fu || !L->fv || !L->vc || !L->w) {
            img__list_free(L, 1);
            return NULL;
        }
        return L;
    }
    img__list_f *L = ib_calloc(1, sizeof *L);
    if (!L) return NULL;
    L->row = ib_malloc(4 * r); L->iu = ib_malloc(4 * r); L->iv = ib_malloc(4 * r);
    L->fu = ib_malloc(es * r); L->fv = ib_malloc(es * r);
    L->vc = ib_malloc(2 * es * rp); L->w = ib_malloc(es * rp);
    if (!L->row || !L->iu || !L->iv || !L->fu || !L->fv || !L->vc || !L->w) {
        img__list_free(L, 0);
        return NULL;
    }
    return L;
}

#define REAL float
#define SUF f
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF
#define REAL double
#define SUF d
#include "imaging/list_tmpl.h"
#undef REAL
#undef SUF
