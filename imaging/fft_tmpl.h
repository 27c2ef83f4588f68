/*
 * fft_tmpl.h: from a grid to an image plane in the precision REAL —
 * fold the grid's Hermitian part into a half spectrum, the pruned c2r FFT
 * and its plans, and the extraction of the image's pixels with the grid
 * correction; included by fft.c with REAL = float (SUF f, FFTW(x)
 * fftwf_x) and REAL = double (SUF d, FFTW(x) fftw_x).
 */
#if !defined(REAL) || !defined(SUF) || !defined(FFTW)
#error "fft_tmpl.h needs REAL, SUF and FFTW"
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)

/*
 * Fold the centred complex grid g (ngy rows x ngx) into the half-spectrum
 * h (ngy x (ngx/2+1)) of its Hermitian part, shifted so that uv cell q sits
 * at index q mod n: h[q] = g[q + n/2] + conj(g[-q + n/2]). A complex-to-
 * real FFT of h then gives twice the real part of the dirty image directly
 * (half the work of a complex FFT, and no checkerboard sign pass).
 */
static void FN(fold_row)(const REAL *restrict g, REAL *restrict h, int ngx, int ngy, int npol,
                         int p, int vlo, int vhi, int qv)
{
    const int hx = ngx / 2 + 1;
    const size_t cs = 2 * (size_t)npol; /* REALs per grid cell */
    int va = (qv + ngy / 2) % ngy, vb = (ngy / 2 - qv + ngy) % ngy;
    REAL *o = h + 2 * (size_t)qv * (size_t)hx;
    int za = va < vlo || va >= vhi, zb = vb < vlo || vb >= vhi;
    if (za && zb) { /* both rows empty: nothing was gridded there */
        memset(o, 0, sizeof(REAL) * 2 * (size_t)hx);
        return;
    }
    const REAL *a = g + cs * (size_t)va * (size_t)ngx + 2 * (size_t)p;
    const REAL *b = g + cs * (size_t)vb * (size_t)ngx + 2 * (size_t)p;
    /* qu in [0, ngx/2): a at column ngx/2 + qu, b at ngx/2 - qu. */
    const REAL *ar = a + cs * (size_t)(ngx / 2);
    for (int qu = 0; qu < ngx / 2; qu++) {
        size_t ia = cs * (size_t)qu, ib = cs * (size_t)(ngx / 2 - qu);
        o[2 * qu] = ar[ia] + b[ib];
        o[2 * qu + 1] = ar[ia + 1] - b[ib + 1];
    }
    /* qu = ngx/2: both at column 0 (mod ngx). */
    o[2 * (hx - 1)] = a[0] + b[0];
    o[2 * (hx - 1) + 1] = a[1] - b[1];
}

/*
 * Fold the centred complex grid g (ngy rows x ngx) into the half-spectrum
 * h (ngy x (ngx/2+1)) of its Hermitian part, shifted so that uv cell q sits
 * at index q mod n: h[q] = g[q + n/2] + conj(g[-q + n/2]). A complex-to-
 * real FFT of h then gives twice the real part of the dirty image directly
 * (half the work of a complex FFT, and no checkerboard sign pass). Output
 * rows qv and ngy - qv read the same two grid rows (ngy/2 +- qv), so they
 * are folded together; with clear those rows (every pol) are then zeroed
 * while still in cache, instead of a pass of their own before the next
 * gridding.
 */
static void FN(fold)(REAL *restrict g, REAL *restrict h, int ngx, int ngy, int npol, int p,
                     int vlo, int vhi, int clear)
{
    const size_t row = 2 * (size_t)npol * (size_t)ngx; /* REALs per grid row */
    for (int q = 0; q <= ngy / 2; q++) {
        FN(fold_row)(g, h, ngx, ngy, npol, p, vlo, vhi, q);
        if (q > 0 && q < ngy / 2) FN(fold_row)(g, h, ngx, ngy, npol, p, vlo, vhi, ngy - q);
        if (!clear) continue;
        int va = (q + ngy / 2) % ngy, vb = (ngy / 2 - q + ngy) % ngy;
        if (va >= vlo && va < vhi) memset(g + (size_t)va * row, 0, sizeof(REAL) * row);
        if (vb != va && vb >= vlo && vb < vhi) memset(g + (size_t)vb * row, 0, sizeof(REAL) * row);
    }
}

/* The c2r output r (rows of 2*(ngx/2+1) REALs) -> image plane: pixel
 * (x, y) is at offset (cx - x, y - cy), scaled by the grid correction,
 * 1/2 for the Hermitian doubling and the weight normalisation. */
static float FN(extract)(const REAL *restrict r, float *restrict out, int nx, int ny, int ngx,
                         const int32_t *jx, const int32_t *jy, const float *restrict cx_corr,
                         const double *cy_corr, double scale)
{
    (void)jx;
    const size_t stride = 2 * (size_t)(ngx / 2 + 1);
    const int cx = nx / 2;
    float peak = 0;
    for (int y = 0; y < ny; y++) {
        const REAL *restrict row = r + (size_t)jy[y] * stride;
        const float fy = (float)(scale * cy_corr[y]);
        float *restrict o = out + (size_t)y * (size_t)nx;
        /* x <= cx reads columns cx..0; x > cx reads ngx-1 down to ngx+cx-nx+1:
         * two reversed contiguous runs, no modulo per pixel. */
        for (int x = 0; x <= cx; x++) o[x] = (float)row[cx - x] * fy * cx_corr[x];
        const REAL *restrict hi = row + ngx + cx;
        for (int x = cx + 1; x < nx; x++) o[x] = (float)hi[-x] * fy * cx_corr[x];
        for (int x = 0; x < nx; x++) {
            float av = o[x] < 0 ? -o[x] : o[x];
            peak = av > peak ? av : peak;
        }
    }
    return peak;
}

/*
 * The c2r FFT pruned to the image's rows (img_plan's plan, planx, xrow):
 * the image takes grid rows [0, ny/2) and [ngy - ny/2, ngy) (extract's jy),
 * so only those get the c2r along u, a third less of that pass at padding
 * 1.5. In place, the rows keep the stride of 2 (ngx/2 + 1) reals. Planning
 * with MEASURE overwrites its arrays: plan on a scratch one, at the same
 * offsets (so the same alignment) as the runs. A plan FFTW cannot make is
 * left NULL.
 */
static void FN(plan_fft)(img_plan *pl, unsigned flags)
{
    const int ngx = pl->ngx, ngy = pl->ngy, hx = ngx / 2 + 1, nrun = pl->ny / 2;
    FFTW(complex) *tmp = FFTW(alloc_complex)((size_t)ngy * (size_t)hx);
    if (tmp) {
        pl->fft_cols = FFTW(plan_many_dft)(1, &ngy, hx, tmp, NULL, hx, 1, tmp, NULL, hx, 1,
                                           FFTW_BACKWARD, flags);
        for (int k = 0; k < 2; k++) {
            FFTW(complex) *r = tmp + (size_t)pl->fft_row0[k] * (size_t)hx;
            pl->fft_rows[k] = FFTW(plan_many_dft_c2r)(1, &ngx, nrun, r, NULL, 1, hx, (REAL *)r,
                                                      NULL, 1, 2 * hx, flags);
        }
    }
    FFTW(free)(tmp);
}

/* The half spectrum (folded) -> the image's rows of the real plane, in place. */
static void FN(fft)(const img_plan *pl, void *half)
{
    FFTW(complex) *h = half;
    const size_t hx = (size_t)(pl->ngx / 2 + 1);
    FFTW(execute_dft)(pl->fft_cols, h, h);
    for (int k = 0; k < 2; k++) {
        FFTW(complex) *r = h + (size_t)pl->fft_row0[k] * hx;
        FFTW(execute_dft_c2r)(pl->fft_rows[k], r, (REAL *)r);
    }
}

#undef FN
#undef CAT
#undef CAT2
