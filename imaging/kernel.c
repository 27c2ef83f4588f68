/*
 * kernel.c: the exponential-of-semicircle gridding kernel, its per-tap
 * polynomial evaluation (fitted once at init, evaluated by Horner in the
 * hot loop), an optional oversampled lookup table, and the kernel's
 * Fourier transform for grid correction. A table kernel is built in
 * full (polynomials fitted, table filled) before k->oversample says the
 * table is there.
 */
#include "imaging/imaging.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIT_DEG 40 /* degree of the Chebyshev interpolant we truncate from */

double img_kernel_psi(const img_kernel *k, double x)
{
    double x2 = x * x;
    if (x2 >= 1.0) return x2 == 1.0 ? exp(-k->beta) : 0.0;
    return exp(k->beta * (sqrt(1.0 - x2) - 1.0));
}

/* Tap i as a function of y in [-1,1] (frac = (y+1)/2). */
static double tap_fn(const img_kernel *k, int i, double y)
{
    double half = 0.5 * k->W;
    double t = (double)i - half + 0.5 * (y + 1.0);
    return img_kernel_psi(k, t / half);
}

/* Chebyshev coefficients c[0..n] of f on [-1,1] from n+1 Chebyshev nodes. */
static void cheb_fit(const img_kernel *k, int tap, int n, double *c)
{
    double f[FIT_DEG + 1];
    for (int j = 0; j <= n; j++) f[j] = tap_fn(k, tap, cos(M_PI * (j + 0.5) / (n + 1)));
    for (int m = 0; m <= n; m++) {
        double s = 0;
        for (int j = 0; j <= n; j++) s += f[j] * cos(M_PI * m * (j + 0.5) / (n + 1));
        c[m] = s * (m == 0 ? 1.0 : 2.0) / (n + 1);
    }
}

/* Convert Chebyshev coefficients c[0..d] to monomials a[0..d] (a[j] y^j). */
static void cheb_to_mono(const double *c, int d, double *a)
{
    double tprev[FIT_DEG + 1], tcur[FIT_DEG + 1], tnext[FIT_DEG + 1];
    memset(a, 0, sizeof(double) * (size_t)(d + 1));
    memset(tprev, 0, sizeof tprev);
    memset(tcur, 0, sizeof tcur);
    tprev[0] = 1;          /* T0 */
    tcur[1] = 1;           /* T1 */
    a[0] += c[0];
    if (d >= 1) a[1] += c[1];
    for (int n = 2; n <= d; n++) {
        memset(tnext, 0, sizeof tnext);
        for (int j = 0; j <= n; j++) {
            double v = -tprev[j];
            if (j > 0) v += 2 * tcur[j - 1];
            tnext[j] = v;
        }
        for (int j = 0; j <= n; j++) a[j] += c[n] * tnext[j];
        memcpy(tprev, tcur, sizeof tcur);
        memcpy(tcur, tnext, sizeof tnext);
    }
}

/* The W taps from the per-tap polynomials (k->coef, degree k->deg), the
 * table never consulted: what the degree search measures. */
static void poly_taps(const img_kernel *k, double frac, double *out)
{
    const int d = k->deg;
    double y = 2.0 * frac - 1.0;
    for (int i = 0; i < k->W; i++) {
        const double *c = k->coef + (size_t)i * (size_t)(d + 1);
        double v = c[0];
        for (int j = 1; j <= d; j++) v = v * y + c[j];
        out[i] = v;
    }
}

int img_kernel_init(ib_err *e, img_kernel *k, int W, double sigma, int oversample)
{
    memset(k, 0, sizeof *k);
    if (W < IMG_MIN_SUPPORT || W > IMG_MAX_SUPPORT || W % 2 == 0)
        return ib_error(e, IB_EINVAL, "support must be odd and %d..%d, got %d", IMG_MIN_SUPPORT,
                        IMG_MAX_SUPPORT, W);
    if (!(sigma > 1.0 && sigma <= 4.0))
        return ib_error(e, IB_EINVAL, "padding must be > 1 and <= 4, got %g", sigma);
    if (oversample != 0 && (oversample < IMG_MIN_OVERSAMPLE || oversample > IMG_MAX_OVERSAMPLE))
        return ib_error(e, IB_EINVAL,
                        "oversample must be 0 (polynomial taps) or %d..%d table samples per "
                        "cell, got %d",
                        IMG_MIN_OVERSAMPLE, IMG_MAX_OVERSAMPLE, oversample);
    k->W = W;
    k->sigma = sigma;
    k->beta = 0.97 * M_PI * (1.0 - 1.0 / (2.0 * sigma)) * W;
    /* k->oversample stays 0 until the table exists: img_kernel_taps reads
     * the table whenever it is set. */

    /* Degree: the smallest whose worst error over the taps is below
     * exp(-beta) (the kernel's own edge value, ~25x under its aliasing
     * error) or 1e-13, truncating a degree-FIT_DEG Chebyshev interpolant. */
    double *cc = ib_malloc(sizeof(double) * (size_t)W * (FIT_DEG + 1));
    /* 64-byte aligned: the gridder's Horner loop reads the power-major
     * coefficients as vectors, at a speed that depends on their alignment
     * (which the heap would otherwise leave to chance). */
    k->coef = ib_aligned_alloc(sizeof(double) * (size_t)W * (IMG_KERNEL_MAXDEG + 1));
    k->coef_f = ib_aligned_alloc(sizeof(float) * (size_t)W * (IMG_KERNEL_MAXDEG + 1));
    k->coef_t = ib_aligned_alloc(sizeof(double) * (size_t)W * (IMG_KERNEL_MAXDEG + 1));
    k->coef_tf = ib_aligned_alloc(sizeof(float) * (size_t)W * (IMG_KERNEL_MAXDEG + 1));
    if (!cc || !k->coef || !k->coef_f || !k->coef_t || !k->coef_tf) {
        free(cc);
        img_kernel_release(k);
        return ib_error(e, IB_ENOMEM, "out of memory building the kernel");
    }
    for (int i = 0; i < W; i++) cheb_fit(k, i, FIT_DEG, cc + (size_t)i * (FIT_DEG + 1));
    double tol = fmax(exp(-k->beta), 1e-13);
    for (int deg = 4; deg <= IMG_KERNEL_MAXDEG; deg++) {
        k->deg = deg;
        for (int i = 0; i < W; i++) {
            double a[FIT_DEG + 1];
            cheb_to_mono(cc + (size_t)i * (FIT_DEG + 1), deg, a);
            for (int j = 0; j <= deg; j++) { /* highest power first, for Horner */
                k->coef[(size_t)i * (size_t)(deg + 1) + (size_t)j] = a[deg - j];
                k->coef_f[(size_t)i * (size_t)(deg + 1) + (size_t)j] = (float)a[deg - j];
                k->coef_t[(size_t)j * (size_t)W + (size_t)i] = a[deg - j];
                k->coef_tf[(size_t)j * (size_t)W + (size_t)i] = (float)a[deg - j];
            }
        }
        double err = 0, taps[IMG_MAX_SUPPORT];
        for (int s = 0; s < 257; s++) {
            double fr = s / 257.0;
            poly_taps(k, fr, taps);
            for (int i = 0; i < W; i++)
                err = fmax(err, fabs(taps[i] - img_kernel_psi(k, (i - 0.5 * W + fr) / (0.5 * W))));
        }
        k->poly_err = err;
        if (err <= tol) break;
    }
    free(cc);
    if (oversample > 0) {
        size_t n = (size_t)(W + 1) * (size_t)oversample + 1;
        k->table = ib_malloc(sizeof(double) * n);
        if (!k->table) {
            img_kernel_release(k);
            return ib_error(e, IB_ENOMEM, "out of memory building the kernel table");
        }
        /* table[j] = psi at offset t = -W/2 + j/K cells. */
        for (size_t j = 0; j < n; j++)
            k->table[j] = img_kernel_psi(k, (-0.5 * W + (double)j / oversample) / (0.5 * W));
        k->oversample = oversample;
    }
    return 0;
}

void img_kernel_release(img_kernel *k)
{
    ib_free(k->coef);
    ib_free(k->coef_f);
    free(k->table);
    ib_free(k->coef_t);
    ib_free(k->coef_tf);
    k->coef_t = NULL;
    k->coef_tf = NULL;
    k->coef = NULL;
    k->coef_f = NULL;
    k->table = NULL;
}

void img_kernel_taps(const img_kernel *k, double frac, double *out)
{
    if (k->oversample > 0) {
        /* Nearest table sample, as table-based gridders do. */
        for (int i = 0; i < k->W; i++) {
            long j = lround(((double)i + frac) * k->oversample);
            out[i] = k->table[j];
        }
        return;
    }
    poly_taps(k, frac, out);
}

void img_kernel_taps_f(const img_kernel *k, float frac, float *out)
{
    const int W = k->W, d = k->deg;
    if (k->oversample > 0) {
        for (int i = 0; i < W; i++) {
            long j = lround(((double)i + frac) * k->oversample);
            out[i] = (float)k->table[j];
        }
        return;
    }
    float y = 2.0f * frac - 1.0f;
    /* Taps outer, powers inner would serialise on Horner's chain; with
     * taps inner the W independent chains vectorise. */
    for (int i = 0; i < W; i++) out[i] = k->coef_f[(size_t)i * (size_t)(d + 1)];
    for (int j = 1; j <= d; j++)
        for (int i = 0; i < W; i++)
            out[i] = out[i] * y + k->coef_f[(size_t)i * (size_t)(d + 1) + (size_t)j];
}

/* Gauss-Legendre nodes and weights on [-1,1] (Newton on P_n). */
static void gauss_legendre(int n, double *x, double *w)
{
    for (int i = 0; i < (n + 1) / 2; i++) {
        double z = cos(M_PI * (i + 0.75) / (n + 0.5)), pp = 0;
        for (int it = 0; it < 100; it++) {
            double p1 = 1, p2 = 0;
            for (int j = 1; j <= n; j++) {
                double p3 = p2;
                p2 = p1;
                p1 = ((2.0 * j - 1.0) * z * p2 - (j - 1.0) * p3) / j;
            }
            pp = n * (z * p1 - p2) / (z * z - 1.0);
            double z1 = z;
            z = z1 - p1 / pp;
            if (fabs(z - z1) < 1e-15) break;
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = w[n - 1 - i] = 2.0 / ((1.0 - z * z) * pp * pp);
    }
}

double img_kernel_ft(const img_kernel *k, double nu)
{
    enum { NQ = 160 };
    static _Thread_local double qx[NQ], qw[NQ];
    static _Thread_local int ready;
    if (!ready) {
        gauss_legendre(NQ, qx, qw);
        ready = 1;
    }
    /* integral over t in [-W/2, W/2] of psi(2t/W) cos(2 pi nu t) dt;
     * substitute t = (W/2) x. */
    double half = 0.5 * k->W, s = 0;
    for (int i = 0; i < NQ; i++)
        s += qw[i] * img_kernel_psi(k, qx[i]) * cos(2.0 * M_PI * nu * half * qx[i]);
    return s * half;
}

int img_good_fft_size(int want)
{
    if (want < 2) want = 2;
    for (int n = want + (want & 1);; n += 2) {
        int m = n;
        while (m % 2 == 0) m /= 2;
        while (m % 3 == 0) m /= 3;
        while (m % 5 == 0) m /= 5;
        while (m % 7 == 0) m /= 7;
        if (m == 1) return n;
    }
}
