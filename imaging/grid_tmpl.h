/*
 * grid_tmpl.h: the gridding loops in the precision REAL, included by
 * gridder.c with REAL = float (SUF f) and REAL = double (SUF d). Each
 * weighted sample is convolved onto the grid (all pols of a cell
 * together) with the separable kernel: the standard kernel's W taps per
 * axis (polynomials, or a table with --oversample), or the mosaic's
 * tabulated complex kernels. The support W is a compile-time constant in
 * the specialised copies so the tap loops vectorise fully; `make analyze`
 * fails when a loop marked "must vectorise" stops vectorising.
 */
#if !defined(REAL) || !defined(SUF)
#error "grid_tmpl.h needs REAL and SUF"
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)
#define LIST CAT(img__list, SUF)

/* The largest support with specialised copies (grid_samples' cases), and
 * the Horner steps they take at most: the kernel's degree at W (for any
 * padding, kernel.c's fit: 5 at W = 3, 7 at 5, 8 at 7, 10 at 9, 12 up to
 * 17), a compile-time trip count so the taps stay in registers. */
#define GRID_MAX_SPECIAL 17
#define GRID_MAX_DEG 12
#define GRID_AHEAD 8 /* samples between a grid prefetch and its use */
#define GRID_DEG(WW) ((WW) <= 3 ? 5 : (WW) <= 5 ? 7 : (WW) <= 7 ? 8 : (WW) <= 9 ? 10 : 12)

/* Tap values by Horner with the taps innermost (W independent chains):
 * the table kernel's fallback and the generic support. */
static inline __attribute__((always_inline)) void
FN(taps)(const REAL *restrict ct, int deg, const int W, REAL frac, REAL *restrict out)
{
    REAL y = 2 * frac - 1;
    for (int i = 0; i < W; i++) out[i] = ct[i];
    for (int j = 1; j <= deg; j++)
        /* make analyze: must vectorise (Horner step over the taps) */
        for (int i = 0; i < W; i++) out[i] = out[i] * y + ct[(size_t)j * (size_t)W + (size_t)i];
}

/*
 * Grid samples [0, n) of list L onto g (ngx columns, interleaved complex
 * REAL) with the polynomial kernel; PSF grids the weights instead of the
 * visibilities. The grid holds all pols of a cell together:
 * g[((v * ngx) + u) * NP + p] complex, so one kernel row update covers
 * NC = 2*NP*WP contiguous REALs. W, WP, NP, D and PSF are compile-time
 * constants in the specialised copies: fixed trip counts, no branch in
 * the loop. The code is written in explicit 64-byte vectors of VL REALs
 * (GCC/clang vector extensions: one AVX-512 register where the target has
 * them, two AVX2 or four SSE registers elsewhere), with the taps, kx and
 * the sample's values in registers.
 *
 * WP is W rounded up so that a row update is whole vectors (GRID_WP:
 * float, 2 pols: W = 7 -> 8, 9 -> 12; double, 2 pols: 7 -> 8): the extra
 * cells' taps are exactly 0, so they add +0 to the cells after the
 * kernel's last (the next row's first cells at the grid's edge; grid
 * buffers have IMG_GRID_SLACK bytes of slack after their end).
 *
 * The u taps are evaluated already spread over the row update's lanes
 * (lane t holds tap t / (2 NP): the coefficients cu are laid out so, once
 * per list), so that kx = ku x (the sample's 2 NP values repeated) is one
 * multiply per vector, with no gather or shuffle; the v taps (NK vectors)
 * by their own Horner chain. D >= deg Horner steps, the first D - deg
 * with zero coefficients (which leave the taps exactly 0 until the
 * kernel's own first).
 *
 * Cost per visibility (all NP pols) at support W (REAL of s bytes: 4
 * float, 8 double):
 *   row updates   W rows x NC REALs, one FMA each        W NC FMAs
 *   u taps        D Horner steps over NC lanes           D NC FMA lanes
 *   v taps        D Horner steps over NK VL lanes        D NK VL FMA lanes
 *   kx            NC multiplies
 *   grid          W x NC REALs read and written          2 W NC s bytes
 *   sample list   iu, iv, fu, fv, weighted vis           8 + 2 s (1 + NP) bytes
 * At W = 7 float, 2 pols (WP = 8, NC = 32, D = 8, VL = 16): 224 FMAs of
 * row update in 14 vector FMAs with 14 vector loads and 14 stores of grid
 * (896 bytes, in L1/L2 because consecutive samples follow one baseline's
 * uv track), 8 x 3 vector FMAs of Horner, 2 vector multiplies: ~40 vector
 * arithmetic instructions, ~20 cycles at 2 FMAs and 2 loads per cycle.
 * Fused multiply-adds where the target has FMA (-ffp-contract=fast for
 * gridder.c): the results differ from an unfused build in the last bit,
 * identically for every thread and rank.
 */
typedef REAL FN(vec) __attribute__((vector_size(64)));
typedef REAL FN(vecu) __attribute__((vector_size(64), aligned(sizeof(REAL)), may_alias));

static inline __attribute__((always_inline)) void
FN(grid_vec)(const img_kernel *k, const int W, const int WP, const int NP, const int D,
             const int PSF, const LIST *L, REAL *restrict g, int ngx, int *vlo, int *vhi)
{
    enum { VL = 64 / (int)sizeof(REAL), NVMAX = (4 * GRID_MAX_SPECIAL + 2 * VL) / VL };
    const int NC = 2 * NP * WP, NV = NC / VL, NK = (W + VL - 1) / VL, lead = D - k->deg;
    const REAL *ct = FN(coef_t)(k);
    /* once per list: the padding cells stay within the grid's slack */
    IB_ASSERT((size_t)(WP - W) * 2 * (size_t)NP * sizeof(REAL) <= IMG_GRID_SLACK && NV < NVMAX);
    FN(vec) cu[GRID_MAX_DEG + 1][NVMAX], cv[GRID_MAX_DEG + 1][NVMAX];
    for (int j = 0; j <= D; j++) {
        const REAL *c = ct + (size_t)(j >= lead ? j - lead : 0) * (size_t)W;
        for (int t = 0; t < NV * VL; t++) {
            int i = t / (2 * NP);
            cu[j][t / VL][t % VL] = i < W && j >= lead ? c[i] : 0;
        }
        for (int i = 0; i < NK * VL; i++) cv[j][i / VL][i % VL] = i < W && j >= lead ? c[i] : 0;
    }
    const size_t rowlen = 2 * (size_t)NP * (size_t)ngx;
    int lo = *vlo, hi = *vhi;
    for (int64_t s = 0; s < L->n; s++) {
        FN(vec) ku[NVMAX], kv[NVMAX], vv = {0};
        const REAL yu = 2 * L->fu[s] - 1, yv = 2 * L->fv[s] - 1;
        for (int v = 0; v < NV; v++) ku[v] = cu[0][v];
        for (int v = 0; v < NK; v++) kv[v] = cv[0][v];
        for (int j = 1; j <= D; j++) {
            for (int v = 0; v < NV; v++) ku[v] = ku[v] * yu + cu[j][v];
            for (int v = 0; v < NK; v++) kv[v] = kv[v] * yv + cv[j][v];
        }
        const REAL *vs = L->vc + 2 * (size_t)NP * (size_t)s;
        const REAL *ws = L->w + (size_t)NP * (size_t)s;
        for (int t = 0; t < VL; t++)
            vv[t] = PSF ? (t % 2 ? 0 : ws[(t / 2) % NP]) : vs[t % (2 * NP)];
        for (int v = 0; v < NV; v++) ku[v] *= vv;
        int iv = L->iv[s];
        lo = iv < lo ? iv : lo;
        hi = iv + W > hi ? iv + W : hi;
        REAL *restrict gp = g + (size_t)iv * rowlen + 2 * (size_t)NP * (size_t)L->iu[s];
        {
            int64_t sa = s + GRID_AHEAD < L->n ? s + GRID_AHEAD : L->n - 1;
            const char *pa = (const char *)(g + (size_t)L->iv[sa] * rowlen +
                                            2 * (size_t)NP * (size_t)L->iu[sa]);
            for (int j = 0; j < W; j++) {
                __builtin_prefetch(pa + (size_t)j * rowlen * sizeof(REAL), 1, 3);
                __builtin_prefetch(pa + (size_t)j * rowlen * sizeof(REAL) + (size_t)NC * sizeof(REAL) - 1, 1, 3);
            }
        }
        for (int j = 0; j < W; j++) {
            const REAL a = kv[j / VL][j % VL];
            FN(vecu) *row = (FN(vecu) *)(void *)(gp + (size_t)j * rowlen);
            for (int v = 0; v < NV; v++) row[v] = a * ku[v] + row[v];
        }
    }
    *vlo = lo;
    *vhi = hi;
}

/* The table kernel (--oversample) and supports without a specialised
 * copy: W at run time, the taps per axis. */
static void FN(grid_any)(const img_kernel *k, const int NP, const LIST *L, REAL *restrict g,
                         int ngx, int psf, int *vlo, int *vhi)
{
    const int W = k->W;
    REAL ku[IMG_MAX_SUPPORT], kv[IMG_MAX_SUPPORT];
    REAL kx[2 * IMG_MAX_POL * IMG_MAX_SUPPORT];
    const size_t rowlen = 2 * (size_t)NP * (size_t)ngx;
    const REAL *ct = FN(coef_t)(k);
    const int deg = k->deg, table = k->oversample > 0;
    int lo = *vlo, hi = *vhi;
    for (int64_t s = 0; s < L->n; s++) {
        if (table) {
            FN(table_taps)(k, L->fu[s], ku);
            FN(table_taps)(k, L->fv[s], kv);
        } else {
            FN(taps)(ct, deg, W, L->fu[s], ku);
            FN(taps)(ct, deg, W, L->fv[s], kv);
        }
        const REAL *vw = L->w + (size_t)s * (size_t)NP;
        const REAL *vc = L->vc + 2 * (size_t)s * (size_t)NP;
        for (int i = 0; i < W; i++)
            for (int p = 0; p < NP; p++) {
                kx[2 * (i * NP + p)] = ku[i] * (psf ? vw[p] : vc[2 * p]);
                kx[2 * (i * NP + p) + 1] = psf ? 0 : ku[i] * vc[2 * p + 1];
            }
        int iv = L->iv[s];
        lo = iv < lo ? iv : lo;
        hi = iv + W > hi ? iv + W : hi;
        REAL *restrict gp = g + (size_t)iv * rowlen + 2 * (size_t)NP * (size_t)L->iu[s];
        for (int j = 0; j < W; j++) {
            REAL a = kv[j];
            REAL *restrict row = gp + (size_t)j * rowlen;
            /* make analyze: must vectorise (row update at a support without its own copy) */
            for (int t = 0; t < 2 * NP * W; t++) row[t] = FMA(a, kx[t], row[t]);
        }
    }
    *vlo = lo;
    *vhi = hi;
}

/* WP for support W and NP pols: W + 1 when that makes the row update
 * whole 64-byte vectors, else W. */
#define GRID_VL (64 / (int)sizeof(REAL))
#define GRID_WP(WW, NPP) ((2 * (NPP) * (WW) + GRID_VL - 1) / GRID_VL * GRID_VL / (2 * (NPP)))
#define GRID_NP(WW, NPP)                                                                  \
    (psf ? FN(grid_vec)(k, WW, GRID_WP(WW, NPP), NPP, GRID_DEG(WW), 1, L, g, ngx, vlo, vhi)  \
         : FN(grid_vec)(k, WW, GRID_WP(WW, NPP), NPP, GRID_DEG(WW), 0, L, g, ngx, vlo, vhi))
#define GRID_CASE(WW)                                                                    \
    case WW:                                                                             \
        if (k->deg > GRID_DEG(WW)) FN(grid_any)(k, npol, L, g, ngx, psf, vlo, vhi);      \
        else if (npol == 2) GRID_NP(WW, 2);                                              \
        else if (npol == 1) GRID_NP(WW, 1);                                              \
        else FN(grid_any)(k, npol, L, g, ngx, psf, vlo, vhi);                            \
        break;

/* Grid list L onto g (see grid_vec); [*vlo, *vhi) grows to cover the grid
 * rows written, so the caller can clear just those. */
static void FN(grid_samples)(const img_kernel *k, const LIST *L, int npol,
                             REAL *g, int ngx, int psf, int *vlo, int *vhi)
{
    /* once per list: the stack arrays of grid_any hold npol x W values */
    IB_ASSERT(npol >= 1 && npol <= IMG_MAX_POL && k->W >= 1 && k->W <= IMG_MAX_SUPPORT);
    if (k->oversample > 0) {
        FN(grid_any)(k, npol, L, g, ngx, psf, vlo, vhi);
        return;
    }
    switch (k->W) {
        GRID_CASE(3)
        GRID_CASE(5)
        GRID_CASE(7)
        GRID_CASE(9)
        GRID_CASE(11)
        GRID_CASE(13)
        GRID_CASE(15)
        GRID_CASE(17)
    default: FN(grid_any)(k, npol, L, g, ngx, psf, vlo, vhi); break;
    }
}
#undef GRID_CASE
#undef GRID_NP
#undef GRID_VL
#undef GRID_WP
#undef GRID_MAX_SPECIAL
#undef GRID_MAX_DEG
#undef GRID_AHEAD
#undef GRID_DEG

/*
 * The mosaic gridder's loop: each sample is rephased from its pointing to
 * the image centre and convolved with its pointing's separable complex
 * kernel (tables tx, ty of the channel: ntab = Wt*over+1 complex values
 * per distinct pointing offset, linearly interpolated). A holds the x taps
 * times the visibility, B = i*A, so a row update is two FMAs per REAL.
 *
 * Cost per sample and pol at total support Wt = W + 2 aperture half-widths:
 *   row updates   Wt rows x 2Wt REALs, two FMAs each   4 Wt^2 FMAs
 *   x taps        interpolation + complex product      (4 / NP + 4) Wt
 *   y taps        interpolation                        4 Wt / NP
 *   grid          2 Wt^2 REALs read and written        4 Wt^2 s bytes
 *   tables        2 x 2 complex doubles per tap        64 Wt / NP bytes
 */
static void FN(grid_mosaic)(const img_plan *pl, const LIST *L, const double *tx,
                            const double *ty, double fl, REAL *restrict g, int *vlo, int *vhi,
                            double *scratch)
{
    const int Wt = pl->grid_support, O = pl->ktab_over, NP = pl->npol;
    IB_ASSERT(NP >= 1 && NP <= IMG_MAX_POL && Wt >= 1);
    const size_t ntab = 2 * ((size_t)Wt * (size_t)O + 1);
    const size_t rowlen = 2 * (size_t)NP * (size_t)pl->ngx;
    /* the per-sample taps in the worker's scratch (sized from the support
     * by the plan: 4 NP Wt + 2 Wt REALs) */
    REAL *restrict A = (REAL *)(void *)scratch;
    REAL *restrict B = A + 2 * (size_t)NP * (size_t)Wt;
    REAL *restrict kyr = B + 2 * (size_t)NP * (size_t)Wt;
    REAL *restrict kyi = kyr + Wt;
    int lo = *vlo, hi = *vhi;
    for (int64_t s = 0; s < L->n; s++) {
        int64_t k = L->row[s];
        int f = pl->row_field[k];
        const double *ttx = tx + (size_t)pl->field_offs_x[f] * ntab;
        const double *tty = ty + (size_t)pl->field_offs_y[f] * ntab;
        double ph = -2.0 * M_PI * fl * (pl->u_m[k] * pl->field_l[f] + pl->v_m[k] * pl->field_m[f]);
        double c = cos(ph), sn = sin(ph);
        REAL vr[IMG_MAX_POL], vi[IMG_MAX_POL];
        for (int p = 0; p < NP; p++) {
            double a = L->vc[2 * ((size_t)s * (size_t)NP + (size_t)p)];
            double b = L->vc[2 * ((size_t)s * (size_t)NP + (size_t)p) + 1];
            vr[p] = (REAL)(a * c - b * sn);
            vi[p] = (REAL)(a * sn + b * c);
        }
        double fu = L->fu[s], fv = L->fv[s];
        for (int i = 0; i < Wt; i++) {
            double pos = (i + fu) * O;
            int j0 = (int)pos;
            double t = pos - j0;
            const double *q = ttx + 2 * (size_t)j0;
            REAL kr = (REAL)(q[0] + t * (q[2] - q[0])), ki = (REAL)(q[1] + t * (q[3] - q[1]));
            for (int p = 0; p < NP; p++) {
                REAL xr = kr * vr[p] - ki * vi[p], xi = kr * vi[p] + ki * vr[p];
                size_t o = 2 * ((size_t)i * (size_t)NP + (size_t)p);
                A[o] = xr;
                A[o + 1] = xi;
                B[o] = -xi;
                B[o + 1] = xr;
            }
        }
        for (int j = 0; j < Wt; j++) {
            double pos = (j + fv) * O;
            int j0 = (int)pos;
            double t = pos - j0;
            const double *q = tty + 2 * (size_t)j0;
            kyr[j] = (REAL)(q[0] + t * (q[2] - q[0]));
            kyi[j] = (REAL)(q[1] + t * (q[3] - q[1]));
        }
        int iv = L->iv[s];
        lo = iv < lo ? iv : lo;
        hi = iv + Wt > hi ? iv + Wt : hi;
        REAL *restrict gp = g + (size_t)iv * rowlen + 2 * (size_t)NP * (size_t)L->iu[s];
        const int n = 2 * NP * Wt;
        for (int j = 0; j < Wt; j++) {
            REAL a = kyr[j], b = kyi[j];
            REAL *restrict row = gp + (size_t)j * rowlen;
            /* make analyze: must vectorise (the mosaic row update) */
            for (int t = 0; t < n; t++) row[t] += a * A[t] + b * B[t];
        }
    }
    *vlo = lo;
    *vhi = hi;
}

#undef FN
#undef LIST
#undef CAT
#undef CAT2
