/*
 * beam.c: the restoring beam of every image plane, for the BMAJ, BMIN and
 * BPA of the cubes (fits.c) — what CASA and WSClean write and what
 * astropy's spectral-cube needs for .beam and Jy/beam -> K.
 *
 * The beam is the Gaussian of the PSF's main lobe. The PSF of a plane is
 * P(l, m) = sum_k w_k cos 2 pi (u_k l + v_k m) / sum_k w_k over its gridded
 * samples (final weights, u and v in wavelengths); near its peak
 * P = 1 - 2 pi^2 x^T M x + ..., with M the weighted second moments of
 * (u, v). The beam is the Gaussian exp(-2 pi^2 x^T M x) with that
 * curvature: exact for a Gaussian PSF, and the limit of a least-squares
 * fit over a shrinking region of the main lobe. It costs four sums per
 * sample while the lists are built, with or without --psf, so the dirty
 * cube has the same beam whether or not the PSF is imaged. For a filled
 * disc of uv coverage (an Airy PSF) it is ~6% wider than the PSF's
 * half-power width; tests/test_gridder.c measures it against the PSF
 * cube's main lobe and against an analytic Gaussian PSF.
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void img__beam_add(img_plan *pl, const void *list, int64_t chan)
{
    double sums[4 * IMG_MAX_POL];
    if (pl->p->dbl) img__beam_sums_d(pl, list, chan, sums);
    else img__beam_sums_f(pl, list, chan, sums);
    pthread_mutex_lock(&pl->beam_lock);
    for (int p = 0; p < pl->npol; p++)
        for (int k = 0; k < 4; k++)
            pl->beam_mom[((size_t)p * (size_t)pl->nchan + (size_t)chan) * 4 + (size_t)k] +=
                sums[4 * p + k];
    pthread_mutex_unlock(&pl->beam_lock);
}

img__beam img__beam_of(const double sums[4])
{
    img__beam b = {0, 0, 0};
    if (!(sums[0] > 0)) return b;
    const double a = sums[1] / sums[0], c = sums[2] / sums[0], h = sums[3] / sums[0];
    const double mid = 0.5 * (a + c), disc = sqrt(0.25 * (a - c) * (a - c) + h * h);
    const double big = mid + disc, small = mid - disc; /* eigenvalues of M */
    if (!(small > 0) || !isfinite(big)) return b; /* samples on a line: no 2-d beam */
    const double fwhm = 2.0 * sqrt(2.0 * log(2.0)), deg = 180.0 / M_PI;
    b.bmaj = fwhm / (2.0 * M_PI * sqrt(small)) * deg;
    b.bmin = fwhm / (2.0 * M_PI * sqrt(big)) * deg;
    /* The major axis is M's eigenvector of the small eigenvalue, (l, m)
     * with l east and m north; the angle from north through east. */
    double l, m;
    if (fabs(h) > 1e-300) {
        l = h;
        m = small - a;
    } else {
        l = a <= c ? 1 : 0;
        m = a <= c ? 0 : 1;
    }
    double pa = atan2(l, m) * deg;
    while (pa > 90) pa -= 180;
    while (pa <= -90) pa += 180;
    b.bpa = pa;
    return b;
}

int img__beams_finish(ib_err *e, img_plan *pl)
{
    const size_t nplanes = (size_t)pl->nchan * (size_t)pl->npol;
    int rc = img__reduce_sum(e, &pl->comm, pl->beam_mom, 4 * nplanes, 1, 0);
    if (rc || pl->par->rank != 0) return rc;
    free(pl->beams);
    pl->beams = ib_malloc(sizeof *pl->beams * (nplanes ? nplanes : 1));
    if (!pl->beams) return ib_error(e, IB_ENOMEM, "out of memory for the beams");
    for (size_t i = 0; i < nplanes; i++) pl->beams[i] = img__beam_of(pl->beam_mom + 4 * i);
    return 0;
}
