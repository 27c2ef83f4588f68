/*
 * grid_tmpl.h: the precision-dependent hot loops of the standard gridder,
 * included twice by gridder.c with REAL = float (SUF f) and REAL = double
 * (SUF d). Gridding convolves each weighted sample onto the per-pol grids
 * with the separable kernel; the support W is a compile-time constant in
 * the specialised copies so the tap loops vectorise fully.
 */
#ifndef REAL
#error "grid_tmpl.h needs REAL and SUF"
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)

/*
 * Grid samples [0, n) of list L onto grids g[p] (ngx columns, interleaved
 * complex REAL). psf != 0 grids the weights instead of the visibilities.
 * Inline with a constant W this becomes a fixed-trip-count kernel.
 */
/* Tap values by Horner with the taps innermost (W independent chains). */
static inline __attribute__((always_inline)) void
FN(taps)(const REAL *restrict ct, int deg, const int W, REAL frac, REAL *restrict out)
{
    REAL y = 2 * frac - 1;
    for (int i = 0; i < W; i++) out[i] = ct[i];
    for (int j = 1; j <= deg; j++)
        for (int i = 0; i < W; i++) out[i] = out[i] * y + ct[(size_t)j * (size_t)W + (size_t)i];
}

static inline __attribute__((always_inline)) void
FN(grid_w)(const img_kernel *k, const int W, const FN(sample_list) *L, int npol,
           REAL *const *g, int ngx, int psf)
{
    REAL ku[IMG_MAX_SUPPORT], kv[IMG_MAX_SUPPORT];
    REAL kx[IMG_MAX_POL][2 * IMG_MAX_SUPPORT];
    const size_t rowlen = 2 * (size_t)ngx;
    const REAL *ct = FN(coef_t)(k);
    const int deg = k->deg, table = k->oversample > 0;
    for (int64_t s = 0; s < L->n; s++) {
        if (table) {
            FN(table_taps)(k, L->fu[s], ku);
            FN(table_taps)(k, L->fv[s], kv);
        } else {
            FN(taps)(ct, deg, W, L->fu[s], ku);
            FN(taps)(ct, deg, W, L->fv[s], kv);
        }
        size_t base = (size_t)L->iv[s] * rowlen + 2 * (size_t)L->iu[s];
        for (int p = 0; p < npol; p++) {
            REAL vr, vi;
            if (psf) {
                vr = L->w[(size_t)s * (size_t)npol + (size_t)p];
                vi = 0;
            } else {
                vr = L->vr[(size_t)s * (size_t)npol + (size_t)p];
                vi = L->vi[(size_t)s * (size_t)npol + (size_t)p];
            }
            for (int i = 0; i < W; i++) {
                kx[p][2 * i] = ku[i] * vr;
                kx[p][2 * i + 1] = ku[i] * vi;
            }
        }
        for (int p = 0; p < npol; p++) {
            REAL *restrict gp = g[p] + base;
            const REAL *restrict kxp = kx[p];
            for (int j = 0; j < W; j++) {
                REAL a = kv[j];
                REAL *restrict row = gp + (size_t)j * rowlen;
                for (int t = 0; t < 2 * W; t++) row[t] += a * kxp[t];
            }
        }
    }
}

static void FN(grid_samples)(const img_kernel *k, const FN(sample_list) *L, int npol,
                             REAL *const *g, int ngx, int psf)
{
    switch (k->W) {
    case 5: FN(grid_w)(k, 5, L, npol, g, ngx, psf); break;
    case 7: FN(grid_w)(k, 7, L, npol, g, ngx, psf); break;
    case 9: FN(grid_w)(k, 9, L, npol, g, ngx, psf); break;
    case 11: FN(grid_w)(k, 11, L, npol, g, ngx, psf); break;
    case 13: FN(grid_w)(k, 13, L, npol, g, ngx, psf); break;
    case 15: FN(grid_w)(k, 15, L, npol, g, ngx, psf); break;
    case 17: FN(grid_w)(k, 17, L, npol, g, ngx, psf); break;
    default: FN(grid_w)(k, k->W, L, npol, g, ngx, psf); break;
    }
}

#undef FN
#undef CAT
#undef CAT2
