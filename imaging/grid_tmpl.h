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

/* Tap values by Horner with the taps innermost (W independent chains). */
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
 * REAL); psf != 0 grids the weights instead of the visibilities. The grid
 * holds all pols of a cell together: g[((v * ngx) + u) * NP + p] complex,
 * so one kernel row update covers 2*NP*W contiguous REALs. Inline with a
 * constant W and NP this becomes a fixed-trip-count kernel.
 *
 * Cost per sample and pol at support W (REAL of s bytes: 4 float, 8
 * double; polynomial degree d, NP pols sharing one kernel evaluation):
 *   row updates   W rows x 2W REALs, one FMA each      2 W^2 FMAs
 *   kernel taps   2 Horner chains of d steps x W taps  2 d W / NP FMAs
 *   kx = ku x vis                                      2 W multiplies
 *   grid          2 W^2 REALs read and written         4 W^2 s bytes
 *   sample list   indices, fractions, vis              (8 + 2s) / NP + 2s bytes
 * At W = 7 (d = 6), 2 pols, float: 98 + 42 + 14 = 154 FMAs or multiplies and
 * 784 bytes of grid per sample and pol, the grid rows staying in L1/L2
 * because consecutive samples follow one baseline's uv track. The row
 * update is one FMA per REAL loaded and stored: bound by the L1 load and
 * store ports, not by arithmetic. (An "FMA" here is a multiply and an add:
 * under -std=c11 gcc does not contract them into fused instructions, so
 * each is a vector multiply and a vector add, and the results do not
 * depend on the machine's FMA unit.)
 */
static inline __attribute__((always_inline)) void
FN(grid_w)(const img_kernel *k, const int W, const int NP, const LIST *L,
           REAL *restrict g, int ngx, int psf, int *vlo, int *vhi)
{
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
        const REAL *vr = (psf ? L->w : L->vr) + (size_t)s * (size_t)NP;
        const REAL *vi = L->vi + (size_t)s * (size_t)NP;
        for (int i = 0; i < W; i++)
            for (int p = 0; p < NP; p++) {
                kx[2 * (i * NP + p)] = ku[i] * vr[p];
                kx[2 * (i * NP + p) + 1] = psf ? 0 : ku[i] * vi[p];
            }
        int iv = L->iv[s];
        lo = iv < lo ? iv : lo;
        hi = iv + W > hi ? iv + W : hi;
        REAL *restrict gp = g + (size_t)iv * rowlen + 2 * (size_t)NP * (size_t)L->iu[s];
        for (int j = 0; j < W; j++) {
            REAL a = kv[j];
            REAL *restrict row = gp + (size_t)j * rowlen;
            /* make analyze: must vectorise in 14 copies (row update; 7 W x 2 precisions) */
            for (int t = 0; t < 2 * NP * W; t++) row[t] += a * kx[t];
        }
    }
    *vlo = lo;
    *vhi = hi;
}

#define GRID_CASE(WW)                                                              \
    case WW:                                                                       \
        if (npol == 2) FN(grid_w)(k, WW, 2, L, g, ngx, psf, vlo, vhi);             \
        else if (npol == 1) FN(grid_w)(k, WW, 1, L, g, ngx, psf, vlo, vhi);        \
        else FN(grid_w)(k, WW, npol, L, g, ngx, psf, vlo, vhi);                    \
        break;

/* Grid list L onto g (see grid_w); [*vlo, *vhi) grows to cover the grid
 * rows written, so the caller can clear just those. */
static void FN(grid_samples)(const img_kernel *k, const LIST *L, int npol,
                             REAL *g, int ngx, int psf, int *vlo, int *vhi)
{
    /* once per list: the stack arrays of grid_w hold npol x W values */
    IB_ASSERT(npol >= 1 && npol <= IMG_MAX_POL && k->W >= 1 && k->W <= IMG_MAX_SUPPORT);
    switch (k->W) {
        GRID_CASE(5)
        GRID_CASE(7)
        GRID_CASE(9)
        GRID_CASE(11)
        GRID_CASE(13)
        GRID_CASE(15)
        GRID_CASE(17)
    default: FN(grid_w)(k, k->W, npol, L, g, ngx, psf, vlo, vhi); break;
    }
}
#undef GRID_CASE

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
            double a = L->vr[(size_t)s * (size_t)NP + (size_t)p];
            double b = L->vi[(size_t)s * (size_t)NP + (size_t)p];
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
