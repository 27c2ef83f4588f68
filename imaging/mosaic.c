/*
 * mosaic.c: the primary-beam model and the aperture kernels of the mosaic
 * gridder.
 *
 * Beam model: a Gaussian power pattern PB(theta) = exp(-4 ln2 theta^2 /
 * F^2) with F = 1.13 lambda / D, the FWHM of a dish with a tapered
 * illumination (ALMA quotes 1.13 lambda/D for its 12 m antennas). It is
 * separable in (l, m), so its aperture kernel — the beam's Fourier
 * transform, a Gaussian in uv — and the pointing's phase gradient are
 * separable too: the mosaic convolution function is the outer product of
 * two 1-D complex kernels per pointing, each the convolution of the
 * anti-aliasing kernel psi with the aperture kernel times the gradient:
 *     k(D) = integral A(nu) exp(-2 pi i nu du l_p) psi(D - nu) dnu
 * (cells; du is the uv cell in wavelengths, l_p the pointing offset). Its
 * image-plane transform is psi^(l) PB(l - l_p), so the usual grid
 * correction by psi^ leaves the beam of each pointing in the image.
 * A is cut where it falls below 1e-5 of its peak; that half-width adds to
 * the anti-aliasing support W on each side.
 */
#include "imaging/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C_LIGHT 299792458.0
#define AK_CUT 1e-5

double img_pb_fwhm(double freq_hz, double dish_m)
{
    return 1.13 * (C_LIGHT / freq_hz) / dish_m;
}

double img_pb(double dl, double dm, double freq_hz, double dish_m)
{
    double f = img_pb_fwhm(freq_hz, dish_m);
    return exp(-4.0 * M_LN2 * (dl * dl + dm * dm) / (f * f));
}

/* Standard deviation of the beam in direction cosine. */
static double pb_sigma(double freq_hz, double dish_m)
{
    return img_pb_fwhm(freq_hz, dish_m) / (2.0 * sqrt(2.0 * M_LN2));
}

int img__akernel_half(double freq_hz, double dish_m, double du)
{
    double s = pb_sigma(freq_hz, dish_m) * du;
    /* exp(-2 pi^2 s^2 nu^2) = AK_CUT */
    double h = sqrt(log(1.0 / AK_CUT) / (2.0 * M_PI * M_PI * s * s));
    return (int)ceil(h);
}

/* Gauss-Legendre nodes on [-1, 1]. */
static void gl_nodes(int n, double *x, double *w)
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

void img__akernel_build(const img_kernel *k, int wt, int over, double freq_hz, double dish_m,
                        double du, double off, int aperture, double *tab)
{
    enum { NQ = 48 };
    double qx[NQ], qw[NQ];
    gl_nodes(NQ, qx, qw);
    const double halfw = 0.5 * k->W;
    const double s = pb_sigma(freq_hz, dish_m) * du; /* beam sigma x du */
    const double norm = s * sqrt(2.0 * M_PI);       /* so that sum over nu of A = 1 */
    const double ha = aperture ? (double)img__akernel_half(freq_hz, dish_m, du) : 0;
    const int n = wt * over + 1;
    for (int j = 0; j < n; j++) {
        double d = -0.5 * wt + (double)j / over;
        double re = 0, im = 0;
        if (!aperture) {
            re = img_kernel_psi(k, d / halfw);
        } else {
            double a = fmax(d - halfw, -ha), b = fmin(d + halfw, ha);
            if (b > a) {
                double c = 0.5 * (a + b), h = 0.5 * (b - a);
                for (int q = 0; q < NQ; q++) {
                    double nu = c + h * qx[q];
                    double amp = norm * exp(-2.0 * M_PI * M_PI * s * s * nu * nu) *
                                 img_kernel_psi(k, (d - nu) / halfw) * qw[q] * h;
                    double ph = -2.0 * M_PI * nu * du * off;
                    re += amp * cos(ph);
                    im += amp * sin(ph);
                }
            }
        }
        tab[2 * j] = re;
        tab[2 * j + 1] = im;
    }
}
