/*
 * facet_tmpl.h: the facet method's steps in the precision REAL, included
 * by facet.c with REAL = float (SUF f, FFTW(x) fftwf_x) and REAL = double
 * (SUF d, FFTW(x) fftw_x): the channel's samples sorted by pointing onto
 * the facet grid (rephased to the facet's centre pixel), the fold of a
 * facet grid's Hermitian part, its c2r FFT and plan, and the facet's
 * pixels added into the mosaic.
 */
#if !defined(REAL) || !defined(SUF) || !defined(FFTW)
#error "facet_tmpl.h needs REAL, SUF and FFTW"
#endif

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)
#define LIST CAT(img__list, SUF)

/*
 * The channel's weighted list L -> FL, grouped by field (start[f] ..
 * start[f+1]), each sample's grid position on the facet grid (ng cells
 * of 1/(ng cell) wavelengths, the standard kernel's W taps) and its
 * visibility rephased from its pointing to its facet's centre pixel:
 * V exp(2 pi i (u dl + v dm)), (dl, dm) = centre pixel - pointing. A sample
 * whose taps leave the facet grid is dropped (counted per pol with a
 * weight). start has 2 (nfield + 1) values: the second half are cursors.
 */
static void FN(facet_list)(const img_plan *pl, const LIST *L, int64_t chan, LIST *FL,
                           int64_t *start, uint64_t *dropped)
{
    const int nfield = pl->nfield, npol = pl->npol, W = pl->kernel.W, ng = pl->facet_ng;
    const double fl = pl->freq[chan] / IMG_C_LIGHT, su = fl * ng * pl->cell;
    const double half = 0.5 * ng - 0.5 * W, maxc = (double)(ng - W);
    int64_t *cur = start + nfield + 1;
    memset(start, 0, sizeof(int64_t) * (size_t)(nfield + 1));
    for (int64_t s = 0; s < L->n; s++) {
        int64_t k = L->row[s];
        double cu = ceil(half + pl->u_m[k] * su), cv = ceil(half + pl->v_m[k] * su);
        if (cu < 0 || cv < 0 || cu > maxc || cv > maxc) continue;
        start[pl->row_field[k] + 1]++;
    }
    for (int f = 0; f < nfield; f++) start[f + 1] += start[f];
    memcpy(cur, start, sizeof(int64_t) * (size_t)nfield);
    uint64_t drop = 0;
    for (int64_t s = 0; s < L->n; s++) {
        int64_t k = L->row[s];
        const int f = pl->row_field[k];
        double au = half + pl->u_m[k] * su, av = half + pl->v_m[k] * su;
        double cu = ceil(au), cv = ceil(av);
        const REAL *vc = L->vc + 2 * (size_t)s * (size_t)npol;
        const REAL *wt = L->w + (size_t)s * (size_t)npol;
        if (cu < 0 || cv < 0 || cu > maxc || cv > maxc) {
            for (int p = 0; p < npol; p++) drop += wt[p] > 0;
            continue;
        }
        int64_t o = cur[f]++;
        double ph = 2.0 * M_PI * fl * (pl->u_m[k] * pl->facet_dl[f] + pl->v_m[k] * pl->facet_dm[f]);
        double c = cos(ph), sn = sin(ph);
        FL->row[o] = (int32_t)k;
        FL->iu[o] = (int32_t)cu;
        FL->iv[o] = (int32_t)cv;
        FL->fu[o] = (REAL)(cu - au);
        FL->fv[o] = (REAL)(cv - av);
        for (int p = 0; p < npol; p++) {
            size_t q = (size_t)o * (size_t)npol + (size_t)p;
            const REAL re = vc[2 * p], im = vc[2 * p + 1];
            FL->vc[2 * q] = (REAL)(re * c - im * sn);
            FL->vc[2 * q + 1] = (REAL)(re * sn + im * c);
            FL->w[q] = wt[p];
        }
    }
    FL->n = start[nfield];
    *dropped += drop;
}

/* The samples of field f of FL as a list of their own (no copy). */
static LIST FN(facet_view)(const LIST *FL, const int64_t *start, int f, int npol)
{
    const int64_t a = start[f];
    const size_t ap = (size_t)a * (size_t)npol;
    LIST v = {start[f + 1] - a, FL->row + a, FL->iu + a, FL->iv + a, FL->fu + a, FL->fv + a,
              FL->vc + 2 * ap, FL->w + ap};
    return v;
}

/* Fold pol p of the centred facet grid g (ng x ng, rows vlo..vhi may be
 * non-zero) into the half spectrum h (ng x (ng/2+1)) of its Hermitian
 * part, uv cell q at index q mod ng (as fft_tmpl.h's fold). */
static void FN(facet_fold)(const REAL *restrict g, REAL *restrict h, int ng, int npol, int p,
                           int vlo, int vhi)
{
    const int hx = ng / 2 + 1;
    const size_t cs = 2 * (size_t)npol;
    for (int qv = 0; qv < ng; qv++) {
        int va = (qv + ng / 2) % ng, vb = (ng / 2 - qv + ng) % ng;
        REAL *o = h + 2 * (size_t)qv * (size_t)hx;
        int za = va < vlo || va >= vhi, zb = vb < vlo || vb >= vhi;
        if (za && zb) {
            memset(o, 0, sizeof(REAL) * 2 * (size_t)hx);
            continue;
        }
        const REAL *a = g + cs * (size_t)va * (size_t)ng + 2 * (size_t)p;
        const REAL *b = g + cs * (size_t)vb * (size_t)ng + 2 * (size_t)p;
        const REAL *ar = a + cs * (size_t)(ng / 2);
        for (int qu = 0; qu < ng / 2; qu++) {
            size_t ia = cs * (size_t)qu, ib = cs * (size_t)(ng / 2 - qu);
            o[2 * qu] = ar[ia] + b[ib];
            o[2 * qu + 1] = ar[ia + 1] - b[ib + 1];
        }
        o[2 * (hx - 1)] = a[0] + b[0];
        o[2 * (hx - 1) + 1] = a[1] - b[1];
    }
}

/* The facet's 2-D c2r plan (ng x ng, out of place), made on scratch arrays
 * of the runs' alignment; NULL when FFTW cannot plan it. */
static void *FN(facet_plan)(int ng, unsigned flags)
{
    const size_t hx = (size_t)(ng / 2 + 1);
    FFTW(complex) *h = FFTW(alloc_complex)((size_t)ng * hx);
    REAL *r = FFTW(alloc_real)((size_t)ng * (size_t)ng);
    void *plan = NULL;
    if (h && r) plan = FFTW(plan_dft_c2r_2d)(ng, ng, h, r, flags);
    FFTW(free)(h);
    FFTW(free)(r);
    return plan;
}

static void FN(facet_fft)(void *plan, void *half, void *out)
{
    FFTW(execute_dft_c2r)(plan, half, out);
}

/*
 * The c2r output r (ng x ng: twice the real part of the facet's dirty
 * image, local pixel offset (lx, ly) at column lx mod ng, row ly mod ng)
 * -> plane: facet pixel (xl, yl) is image pixel (x0 + xl, y0 + yl), at
 * offset (nf/2 - xl, yl - nf/2) from the facet's centre; it is added times
 * cx[xl] cy[yl] (grid correction x beam) x scale, where it lies inside the
 * image.
 */
static void FN(facet_add)(const REAL *restrict r, float *restrict plane, int nx, int ny, int nf,
                          int ng, int x0, int y0, const double *cx, const double *cy,
                          double scale)
{
    int xa = x0 < 0 ? -x0 : 0, xb = x0 + nf > nx ? nx - x0 : nf;
    for (int yl = 0; yl < nf; yl++) {
        int y = y0 + yl;
        if (y < 0 || y >= ny) continue;
        const REAL *restrict row = r + (size_t)(((yl - nf / 2) % ng + ng) % ng) * (size_t)ng;
        const double fy = scale * cy[yl];
        float *restrict o = plane + (size_t)y * (size_t)nx;
        /* column (nf/2 - xl) mod ng: nf/2 - xl for xl <= nf/2, then
         * ng + nf/2 - xl (nf < ng) */
        const int xm = xb < nf / 2 + 1 ? xb : nf / 2 + 1;
        for (int xl = xa; xl < xm; xl++) o[x0 + xl] += (float)(row[nf / 2 - xl] * fy * cx[xl]);
        for (int xl = xm > xa ? xm : xa; xl < xb; xl++)
            o[x0 + xl] += (float)(row[ng + nf / 2 - xl] * fy * cx[xl]);
    }
}

#undef FN
#undef LIST
#undef CAT
#undef CAT2
