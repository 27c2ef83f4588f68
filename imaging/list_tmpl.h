/*
 * list_tmpl.h: building one channel's sample list (flags, weighting, grid
 * indices) in the precision REAL; included by list.c with SUF f and d;
 * prototypes in plan_internal.h.
 */
#ifndef REAL
#error "list_tmpl.h needs REAL and SUF"
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)
#define LIST CAT(img__list, SUF)
#define LIST_AHEAD 16 /* rows between a slab prefetch and its use */

/*
 * Channel cc of the (channel-major) slab of rows [row0, row0+nr) -> L:
 * every row with a non-zero weight in some pol, its grid indices, raw
 * weights and visibilities. The rows visited are the row_order positions
 * pos[0..npos) (ascending, so samples follow the baseline order), or
 * 0..npos-1 when pos is NULL; their stored rows must lie in the slab.
 * With sumw (natural weighting only: the weights are final) the
 * visibilities are weighted and the weights summed per pol into sumw in
 * the same pass, as img__list_weigh would.
 */
void FN(img__list_samples)(const img_plan *pl, const float *vis, const float *wt,
                           const uint8_t *flag, int64_t cc, int64_t chan, const int64_t *pos,
                           int64_t npos, int64_t row0, int64_t nr, LIST *L, uint64_t *dropped,
                           double *sumw)
{
    /* natural weighting (sumw given): the weights are final, so the
     * visibilities are weighted and summed here, in the one pass */
    const REAL one = 1;
    double sum[IMG_MAX_POL] = {0};
    const int npol = pl->npol, W = pl->grid_support; /* the grid support: W, or W + aperture */
    const int npin = pl->npol_in, id = pl->stokes_identity;
    const double f = pl->freq[chan] / IMG_C_LIGHT;
    const double su = f * pl->ngx * pl->cell, sv = f * pl->ngy * pl->cell;
    const double halfu = 0.5 * pl->ngx - 0.5 * W, halfv = 0.5 * pl->ngy - 0.5 * W;
    const int64_t maxu = pl->ngx - W, maxv = pl->ngy - W;
    int64_t n = 0;
    uint64_t drop = 0;
    for (int64_t i = 0; i < npos; i++) {
        int64_t k = pos ? pos[i] : i;
        int64_t r = pl->row_order[k] - row0;
        size_t base = ((size_t)cc * (size_t)nr + (size_t)r) * (size_t)npin;
        {
            /* rows are visited in baseline order, stored in time order: the
             * slab is read LIST_AHEAD rows ahead so the gather does not wait
             * on memory (the last row repeats at the end: no branch) */
            int64_t ia = i + LIST_AHEAD < npos ? i + LIST_AHEAD : npos - 1;
            int64_t ka = pos ? pos[ia] : ia;
            size_t ba = ((size_t)cc * (size_t)nr + (size_t)(pl->row_order[ka] - row0)) * (size_t)npin;
            __builtin_prefetch(vis + 2 * ba);
            __builtin_prefetch(wt + ba);
            __builtin_prefetch(flag + ba);
        }
        REAL ws[IMG_MAX_POL], vr[IMG_MAX_POL], vi[IMG_MAX_POL];
        int any = 0;
        for (int p = 0; p < npol; p++) {
            if (id) {
                float w = wt[base + (size_t)p];
                if (flag[base + (size_t)p] || !(w > 0) || !isfinite(w)) w = 0;
                ws[p] = w;
                vr[p] = vis[2 * (base + (size_t)p)];
                vi[p] = vis[2 * (base + (size_t)p) + 1];
            } else {
                /* a plane formed from correlations (--stokes): every term
                 * unflagged, weight 1 / sum |coef|^2 / w (its variance) */
                const struct img__stokes_term *t = &pl->stokes[p];
                double inv = 0, re = 0, im = 0;
                int ok = 1;
                for (int q = 0; q < t->n && ok; q++) {
                    size_t c = base + (size_t)t->in[q];
                    float w = wt[c];
                    ok = !flag[c] && w > 0 && isfinite(w);
                    if (!ok) break;
                    inv += (t->ar[q] * t->ar[q] + t->ai[q] * t->ai[q]) / w;
                    re += t->ar[q] * vis[2 * c] - t->ai[q] * vis[2 * c + 1];
                    im += t->ar[q] * vis[2 * c + 1] + t->ai[q] * vis[2 * c];
                }
                ws[p] = ok ? (REAL)(1.0 / inv) : 0;
                vr[p] = (REAL)re;
                vi[p] = (REAL)im;
            }
            any |= ws[p] > 0;
        }
        if (!any) continue;
        double au = halfu + pl->u_m[k] * su, av = halfv + pl->v_m[k] * sv;
        double cu = ceil(au), cv = ceil(av);
        if (cu < 0 || cv < 0 || cu > (double)maxu || cv > (double)maxv) {
            for (int p = 0; p < npol; p++) drop += ws[p] > 0;
            continue;
        }
        L->row[n] = (int32_t)k;
        L->iu[n] = (int32_t)cu;
        L->iv[n] = (int32_t)cv;
        L->fu[n] = (REAL)(cu - au);
        L->fv[n] = (REAL)(cv - av);
        for (int p = 0; p < npol; p++) {
            size_t o = (size_t)n * (size_t)npol + (size_t)p;
            REAL m = sumw ? ws[p] : one;
            sum[p] += ws[p];
            L->w[o] = ws[p];
            L->vc[2 * o] = vr[p] * m;
            L->vc[2 * o + 1] = vi[p] * m;
        }
        n++;
    }
    L->n = n;
    for (int p = 0; sumw && p < npol; p++) sumw[p] = sum[p];
    *dropped += drop;
}

/*
 * Add the list's weight density per uv cell of the image (not the padded
 * grid) to density (nx*ny floats), counting each sample and its Hermitian
 * twin, from the mean weight over pols; the same factor then applies to
 * every pol. Density is additive, so row chunks add their parts.
 */
void FN(img__density_add)(const img_plan *pl, const LIST *L, int64_t chan, float *density)
{
    const int npol = pl->npol, nx = pl->nx, ny = pl->ny;
    const double f = pl->freq[chan] / IMG_C_LIGHT;
    const double du = f * nx * pl->cell, dv = f * ny * pl->cell;
    for (int64_t s = 0; s < L->n; s++) {
        double wm = 0;
        for (int p = 0; p < npol; p++) wm += L->w[(size_t)s * (size_t)npol + (size_t)p];
        wm /= npol;
        int64_t k = L->row[s];
        long iu = lround(pl->u_m[k] * du), iv = lround(pl->v_m[k] * dv);
        long a = nx / 2 + iu, b = ny / 2 + iv, a2 = nx / 2 - iu, b2 = ny / 2 - iv;
        if (a >= 0 && a < nx && b >= 0 && b < ny)
            density[(size_t)b * (size_t)nx + (size_t)a] += (float)wm;
        if (a2 >= 0 && a2 < nx && b2 >= 0 && b2 < ny)
            density[(size_t)b2 * (size_t)nx + (size_t)a2] += (float)wm;
    }
}

/*
 * Final weights: uniform or Briggs factors from the channel's whole
 * density (all rows), then the total weight per pol into sumw and the
 * visibilities multiplied by their weights.
 */
void FN(img__list_weigh)(const img_plan *pl, LIST *L, int64_t chan, const float *density,
                         double *sumw)
{
    const int npol = pl->npol;
    const int64_t n = L->n;
    for (int p = 0; p < npol; p++) sumw[p] = 0;
    if (pl->p->weighting != IMG_WEIGHT_NATURAL) {
        IB_ASSERT(density != NULL); /* callers pass one for uniform and Briggs */
        const int nx = pl->nx, ny = pl->ny;
        const double f = pl->freq[chan] / IMG_C_LIGHT;
        const double du = f * nx * pl->cell, dv = f * ny * pl->cell;
        double f2 = 0;
        if (pl->p->weighting == IMG_WEIGHT_BRIGGS) {
            double s1 = 0, s2 = 0;
            for (size_t i = 0; i < (size_t)nx * (size_t)ny; i++) {
                s1 += density[i];
                s2 += (double)density[i] * density[i];
            }
            double t = 5.0 * pow(10.0, -pl->p->robust);
            f2 = s2 > 0 ? t * t * s1 / s2 : 0;
        }
        for (int64_t s = 0; s < n; s++) {
            int64_t k = L->row[s];
            long a = nx / 2 + lround(pl->u_m[k] * du), b = ny / 2 + lround(pl->v_m[k] * dv);
            double d = (a >= 0 && a < nx && b >= 0 && b < ny)
                           ? density[(size_t)b * (size_t)nx + (size_t)a] : 0;
            double fac;
            if (pl->p->weighting == IMG_WEIGHT_UNIFORM) fac = d > 0 ? 1.0 / d : 0;
            else fac = 1.0 / (1.0 + d * f2);
            /* the factor, the sums and the weighted visibilities in this
             * one pass over the list */
            for (int p = 0; p < npol; p++) {
                size_t o = (size_t)s * (size_t)npol + (size_t)p;
                REAL w = L->w[o] *= (REAL)fac;
                sumw[p] += w;
                L->vc[2 * o] *= w;
                L->vc[2 * o + 1] *= w;
            }
        }
        return;
    }
    for (int64_t s = 0; s < n; s++)
        for (int p = 0; p < npol; p++) {
            size_t o = (size_t)s * (size_t)npol + (size_t)p;
            REAL w = L->w[o];
            sumw[p] += w;
            L->vc[2 * o] *= w;
            L->vc[2 * o + 1] *= w;
        }
}

/* The list's sums for the beam: per pol w, w u^2, w v^2, w u v with u, v
 * in wavelengths (sums[4 * pol + k]). */
void FN(img__beam_sums)(const img_plan *pl, const LIST *L, int64_t chan, double *sums)
{
    const int npol = pl->npol;
    const double f = pl->freq[chan] / IMG_C_LIGHT;
    for (int k = 0; k < 4 * npol; k++) sums[k] = 0;
    for (int64_t s = 0; s < L->n; s++) {
        int64_t k = L->row[s];
        double u = pl->u_m[k] * f, v = pl->v_m[k] * f;
        double uu = u * u, vv = v * v, uv = u * v;
        for (int p = 0; p < npol; p++) {
            double w = L->w[(size_t)s * (size_t)npol + (size_t)p];
            sums[4 * p] += w;
            sums[4 * p + 1] += w * uu;
            sums[4 * p + 2] += w * vv;
            sums[4 * p + 3] += w * uv;
        }
    }
}

/* The whole channel cc of a full-row slab, weighted (density is scratch,
 * unused for natural weighting). */
void FN(img__list_build)(const img_plan *pl, const float *vis, const float *wt,
                         const uint8_t *flag, int64_t cc, int64_t chan, LIST *L, float *density,
                         double *sumw, uint64_t *dropped)
{
    const int natural = pl->p->weighting == IMG_WEIGHT_NATURAL;
    FN(img__list_samples)(pl, vis, wt, flag, cc, chan, NULL, pl->nrow, 0, pl->nrow, L, dropped,
                          natural ? sumw : NULL);
    if (natural) return;
    memset(density, 0, sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
    FN(img__density_add)(pl, L, chan, density);
    FN(img__list_weigh)(pl, L, chan, density, sumw);
}

#undef FN
#undef LIST
#undef LIST_AHEAD
#undef CAT
#undef CAT2
