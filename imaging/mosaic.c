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
 * The tables are made in the image plane: psi^ times the beam sampled on a
 * fine grid and one 1-D FFT per table (instead of a quadrature per table
 * entry). A is cut where it falls below 1e-5 of its peak; that half-width
 * adds to the anti-aliasing support W on each side.
 */
#include "imaging/internal.h"

#include <fftw3.h>
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

int img__akernel_fft_size(int wt, int W, int over)
{
    return img_good_fft_size(over * (wt + W + 2));
}

void img__akernel_psihat(const img_kernel *k, int n, int over, double *psihat)
{
    /* psi^ is concentrated within |x| < 1/2 and falls below exp(-beta)
     * soon after; past |x| = 2 it is set to 0 (the quadrature behind
     * img_kernel_ft would only add noise there). */
    double dx = (double)over / n;
    for (int j = 0; j < n; j++) {
        double x = (j - n / 2) * dx;
        psihat[j] = fabs(x) <= 2.0 ? img_kernel_ft(k, x) : 0.0;
    }
}

void img__akernel_build(const img_kernel *k, int wt, int over, int n, const double *psihat,
                        void *plan, double *buf, double freq_hz, double dish_m, double du,
                        double off, int aperture, double *tab)
{
    if (!aperture) { /* the beam switched off: psi itself, exactly */
        for (int t = 0; t <= wt * over; t++) {
            tab[2 * t] = img_kernel_psi(k, (-0.5 * wt + (double)t / over) / (0.5 * k->W));
            tab[2 * t + 1] = 0;
        }
        return;
    }
    /* The kernel's image-plane transform, psi^(x) PB(l - off) at x = du l
     * (cycles per cell) on n points spaced over/n, times (-1)^j so that the
     * FFT's output is centred; the FFT then gives the kernel at offsets
     * (m - n/2)/over cells, of which the table keeps |offset| <= wt/2. */
    const double dx = (double)over / n;
    const double fw = img_pb_fwhm(freq_hz, dish_m), a = 4.0 * M_LN2 / (fw * fw);
    for (int j = 0; j < n; j++) {
        double l = (j - n / 2) * dx / du, g = psihat[j] * exp(-a * (l - off) * (l - off));
        double sgn = (j & 1) ? -dx : dx;
        buf[2 * j] = g * sgn;
        buf[2 * j + 1] = 0;
    }
    fftw_execute_dft(plan, (fftw_complex *)buf, (fftw_complex *)buf);
    const int m0 = n / 2 - wt * over / 2, nt = wt * over + 1;
    const double s0 = ((n / 2) & 1) ? -1.0 : 1.0;
    for (int t = 0; t < nt; t++) {
        int m = m0 + t;
        double sgn = ((m & 1) ? -s0 : s0);
        tab[2 * t] = buf[2 * m] * sgn;
        tab[2 * t + 1] = buf[2 * m + 1] * sgn;
    }
}
