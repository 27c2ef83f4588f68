/*
 * mosaic.c: the mosaic gridder's primary-beam model and aperture kernels,
 * its set-up (pointing offsets, support, kernel FFT) and its per-channel
 * work (kernel tables, per-field weights, weight, pb and mosaic planes);
 * the gridding loop itself is grid_mosaic in grid_tmpl.h.
 *
 * The beam is a Gaussian power pattern of FWHM 1.13 lambda / D, separable
 * in (l, m): each pointing's convolution function is the outer product of
 * two 1-D complex kernels, psi convolved with the aperture kernel (the
 * beam's transform, cut at 1e-5 of its peak) times the pointing's phase
 * gradient, whose image-plane transform is psi^(l) PB(l - l_p). A table is
 * made in the image plane, psi^ times the beam, by one 1-D FFT
 * (docs/imager.md). The aperture kernel ends where the beam's transform
 * falls to --aperture-cut of its peak (1e-5). The set-up also sizes the
 * facet method (facet.c) and chooses between the two by a cost model.
 */
#include "imaging/plan_internal.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define C_LIGHT 299792458.0

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

int img__akernel_half(double freq_hz, double dish_m, double du, double cut)
{
    double s = pb_sigma(freq_hz, dish_m) * du;
    /* exp(-2 pi^2 s^2 nu^2) = cut */
    double h = sqrt(log(1.0 / cut) / (2.0 * M_PI * M_PI * s * s));
    return (int)ceil(h);
}

double img__pb_radius(double freq_hz, double dish_m, double cut)
{
    /* exp(-4 ln2 r^2 / F^2) = cut */
    return img_pb_fwhm(freq_hz, dish_m) * sqrt(log(1.0 / cut) / (4.0 * M_LN2));
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

/* ---------- the mosaic run: set-up and per-channel work ---------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Distinct values of v[0..n) (to 1e-12) into *u, and each v's index. */
static int distinct(const double *v, int n, double **u, int *nu, int **idx)
{
    double *t = ib_malloc(sizeof(double) * (size_t)n);
    *u = ib_malloc(sizeof(double) * (size_t)n);
    *idx = ib_malloc(sizeof(int) * (size_t)n);
    if (!t || !*u || !*idx) {
        free(t);
        return IB_ENOMEM;
    }
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || t[i] - (*u)[k - 1] > 1e-12) (*u)[k++] = t[i];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            if (fabs(v[i] - (*u)[j]) <= 1e-12) {
                (*idx)[i] = j;
                break;
            }
    *nu = k;
    free(t);
    return 0;
}

/*
 * Mosaic set-up: pointing offsets (SIN projection about the phase centre),
 * the dish, the total support W + 2 x the aperture kernel's half-width at
 * the highest frequency, and the distinct offsets whose kernels are built
 * per channel. Bad geometry is an error naming the field or dataset.
 */
/* The mean dish diameter (every one must be > 0), and each field's
 * pointing offset from the phase centre (SIN projection), which must lie
 * within the image and its beam. */
static int mosaic_pointings(ib_err *e, img_plan *pl, const img_vis_meta *m, double fmin)
{
    const double *dish = img_vis_dish(pl->store), *fd = img_vis_field_dir(pl->store);
    const double as = 206264.806; /* arcsec per radian */
    double sum = 0;
    for (int a = 0; a < m->nant; a++) {
        if (!(dish[a] > 0) || !isfinite(dish[a]))
            return ib_error(e, IB_EINVAL,
                            "store '%s': dataset '/dish_diameter' antenna %d is %g m; the mosaic "
                            "gridder needs dish diameters > 0",
                            img_vis_path(pl->store), a, dish[a]);
        sum += dish[a];
    }
    pl->dish_m = sum / m->nant; /* homogeneous arrays; a mixed array uses the mean */
    pl->field_l = ib_malloc(sizeof(double) * (size_t)pl->nfield);
    pl->field_m = ib_malloc(sizeof(double) * (size_t)pl->nfield);
    if (!pl->field_l || !pl->field_m) return ib_error(e, IB_ENOMEM, "out of memory");
    double a0 = m->phase_centre[0], d0 = m->phase_centre[1];
    double beam = pl->aperture ? img_pb_fwhm(fmin, pl->dish_m) : 0;
    double hx = 0.5 * pl->nx * pl->cell + beam, hy = 0.5 * pl->ny * pl->cell + beam;
    for (int f = 0; f < pl->nfield; f++) {
        double a = fd[2 * f], d = fd[2 * f + 1];
        pl->field_l[f] = cos(d) * sin(a - a0);
        pl->field_m[f] = sin(d) * cos(d0) - cos(d) * sin(d0) * cos(a - a0);
        if (fabs(pl->field_l[f]) > hx || fabs(pl->field_m[f]) > hy)
            return ib_error(e, IB_EINVAL,
                            "store '%s': dataset '/field_dir' field %d lies at (%.1f, %.1f) "
                            "arcsec from the phase centre, outside the %dx%d image and its beam "
                            "(half-size %.1f x %.1f arcsec)",
                            img_vis_path(pl->store), f, pl->field_l[f] * as, pl->field_m[f] * as,
                            pl->nx, pl->ny, hx * as, hy * as);
    }
    return 0;
}

/* psi^ on the kernel tables' FFT grid and the 1-D FFT that makes them. */
static int mosaic_kernel_fft(ib_err *e, img_plan *pl)
{
    pl->ktab_fft_size = img__akernel_fft_size(pl->grid_support, pl->kernel.W, pl->ktab_over);
    pl->psihat = ib_malloc(sizeof(double) * (size_t)pl->ktab_fft_size);
    fftw_complex *tmp = fftw_alloc_complex((size_t)pl->ktab_fft_size);
    if (!pl->psihat || !tmp) {
        fftw_free(tmp);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    img__akernel_psihat(&pl->kernel, pl->ktab_fft_size, pl->ktab_over, pl->psihat);
    img__fftw_lock();
    pl->ktab_fft = fftw_plan_dft_1d(pl->ktab_fft_size, tmp, tmp, FFTW_FORWARD, FFTW_ESTIMATE);
    img__fftw_unlock();
    fftw_free(tmp);
    if (!pl->ktab_fft) return ib_error(e, IB_ENOMEM, "cannot plan the kernel FFT");
    return 0;
}

/* Memory the run may use: --mem-budget, else the machine's memory. */
static double memory_limit(const img_params *p, const char **what)
{
    if (p->mem_budget) {
        *what = "--mem-budget";
        return (double)p->mem_budget;
    }
    *what = "the machine's memory";
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (double)pages * (double)psz : 0x1p62;
}

/* Multiply-adds of a c2r FFT of n points (2.5 n log2 n, FFTW's count of a
 * complex FFT of n/2 points, split radix). */
static double fft_cost(double n) { return n > 1 ? 2.5 * n * log2(n) : 0; }

/* The aperture method's size: support, grid, and bytes per thread of its
 * kernel tables, grid and half spectrum. */
static void aperture_size(const img_plan *pl, double fmax, int *wt, int *ngx, int *ngy,
                          double *bytes)
{
    const img_params *p = pl->p;
    double dux = 1.0 / (pl->ngx * pl->cell), duy = 1.0 / (pl->ngy * pl->cell);
    int hxk = img__akernel_half(fmax, pl->dish_m, dux, p->aperture_cut);
    int hyk = img__akernel_half(fmax, pl->dish_m, duy, p->aperture_cut);
    *wt = pl->kernel.W + 2 * (hxk > hyk ? hxk : hyk);
    const int S2 = 2 * *wt;
    *ngx = pl->ngx;
    *ngy = pl->ngy;
    if (*ngx < S2 || *ngy < S2) {
        *ngx = img_good_fft_size(*ngx > S2 ? *ngx : S2);
        *ngy = img_good_fft_size(*ngy > S2 ? *ngy : S2);
    }
    double es = p->dbl ? 8 : 4;
    double ntab = (double)*wt * pl->ktab_over + 1;
    *bytes = 16.0 * ntab * (double)(pl->n_offs_x + pl->n_offs_y) +
             (double)*ngx * *ngy * pl->npol * 2 * es + (double)*ngy * (*ngx / 2 + 1) * 2 * es +
             16.0 * img_good_fft_size(pl->ktab_over * (*wt + pl->kernel.W + 2));
}

/* The facet method's size: facet pixels and grid across (at the lowest
 * frequency, the widest beam), bytes per thread. */
static void facet_size(const img_plan *pl, double fmin, int *nf, int *ngf, double *bytes)
{
    const img_params *p = pl->p;
    double r = img__pb_radius(fmin, pl->dish_m, p->aperture_cut);
    int half = (int)ceil(r / pl->cell) + 1;
    *nf = 2 * half;
    int want = (int)ceil(p->padding * *nf);
    if (want < 2 * pl->kernel.W) want = 2 * pl->kernel.W;
    *ngf = img_good_fft_size(want);
    double es = p->dbl ? 8 : 4, g = (double)*ngf;
    *bytes = g * g * pl->npol * 2 * es + g * (g / 2 + 1) * 2 * es + g * g * es +
             (double)pl->nx * pl->ny * pl->npol * 4 +
             (double)pl->nrow * (12 + 2 * es + 3 * es * pl->npol);
}

/*
 * The method: the one asked for, or (auto) the cheaper by the cost model,
 * in multiply-adds per run (samples = rows x channels x pols, every one
 * taken as unflagged):
 *   aperture  4 Wt^2 per sample (complex kernel, two FMAs per grid REAL)
 *             + a c2r FFT of the full grid per channel and pol
 *             + the kernel tables: one 1-D FFT per distinct offset and channel
 *   facet     2 W^2 per sample (the real anti-aliasing kernel)
 *             + per pointing, channel and pol a c2r FFT of the facet grid,
 *               its fold, and the facet's pixels weighed by the beam.
 * A method whose buffers cannot fit the memory limit is not chosen; asked
 * for, it is an error naming the sizes.
 */
static int mosaic_choose(ib_err *e, img_plan *pl, double fmin, double fmax)
{
    const img_params *p = pl->p;
    const double samples = (double)pl->nrow * (double)pl->nchan * pl->npol;
    const double nch = (double)pl->nchan, np = pl->npol, W = pl->kernel.W;
    const int T = p->threads;
    const char *limw;
    const double lim = memory_limit(p, &limw);
    int wt, ngx, ngy, nf, ngf;
    double ap_bytes, fa_bytes;
    aperture_size(pl, fmax, &wt, &ngx, &ngy, &ap_bytes);
    facet_size(pl, fmin, &nf, &ngf, &fa_bytes);
    const int ntabfft = img_good_fft_size(pl->ktab_over * (wt + pl->kernel.W + 2));
    double c_ap = samples * 4.0 * wt * wt + nch * np * fft_cost((double)ngx * ngy) +
                  nch * (pl->n_offs_x + pl->n_offs_y) * fft_cost(2.0 * ntabfft);
    double c_fa = samples * 2.0 * W * W +
                  nch * pl->nfield * np *
                      (fft_cost((double)ngf * ngf) + (double)ngf * ngf + 4.0 * nf * nf);
    pl->head.mosaic_support = wt;
    pl->head.facet_nx = nf;
    pl->head.facet_ngx = ngf;
    pl->head.cost_aperture = c_ap;
    pl->head.cost_facet = c_fa;
    const int ap_fits = ap_bytes * T <= lim, fa_fits = fa_bytes * T <= lim;
    const int rows = p->row_chunks > 1 && pl->nrow > 1;
    char costs[300];
    snprintf(costs, sizeof costs,
             "aperture %.3g multiply-adds (support %d, grid %dx%d), facet %.3g (%d pointings, "
             "facet %d px on a %d grid)",
             c_ap, wt, ngx, ngy, c_fa, pl->nfield, nf, ngf);
    int method = p->mosaic_method;
    char *why = pl->head.mosaic_reason;
    const size_t wn = sizeof pl->head.mosaic_reason;
    if (method == IMG_MOSAIC_FACET && !pl->aperture)
        return ib_error(e, IB_EINVAL,
                        "--mosaic-method facet needs the primary beam: drop --no-aperture or use "
                        "--mosaic-method aperture");
    if (method == IMG_MOSAIC_FACET && rows)
        return ib_error(e, IB_EINVAL,
                        "--mosaic-method facet images whole channel chunks: use --row-chunks 1 "
                        "or --mosaic-method aperture");
    if (method == IMG_MOSAIC_AUTO) {
        if (!pl->aperture) {
            method = IMG_MOSAIC_APERTURE;
            snprintf(why, wn, "auto: aperture (no primary beam: --no-aperture)");
        } else if (rows) {
            method = IMG_MOSAIC_APERTURE;
            snprintf(why, wn, "auto: aperture (row chunks: only the aperture method sums grids); %s",
                     costs);
        } else if (!ap_fits && fa_fits) {
            method = IMG_MOSAIC_FACET;
            snprintf(why, wn, "auto: facet (the aperture method's %.3g bytes per thread do not fit "
                     "%s); %s", ap_bytes, limw, costs);
        } else {
            method = c_fa < c_ap && fa_fits ? IMG_MOSAIC_FACET : IMG_MOSAIC_APERTURE;
            snprintf(why, wn, "auto: %s (cheaper by the cost model); %s",
                     method == IMG_MOSAIC_FACET ? "facet" : "aperture", costs);
        }
    } else {
        snprintf(why, wn, "asked for (--mosaic-method %s); %s",
                 method == IMG_MOSAIC_FACET ? "facet" : "aperture", costs);
    }
    if (method == IMG_MOSAIC_APERTURE && !ap_fits)
        return ib_error(e, IB_EINVAL,
                        "mosaic aperture method: support %d cells (W %d + 2 x the aperture kernel "
                        "of a %.1f m dish to --aperture-cut %g) with %d table samples per cell, "
                        "%d + %d distinct pointing offsets and a %dx%d grid need %.3g bytes per "
                        "thread x %d thread(s) = %.3g bytes, more than %s (%.3g bytes); use "
                        "--mosaic-method facet, a larger --aperture-cut, a smaller "
                        "--aperture-oversample or fewer threads",
                        wt, pl->kernel.W, pl->dish_m, p->aperture_cut, pl->ktab_over,
                        pl->n_offs_x, pl->n_offs_y, ngx, ngy, ap_bytes, T, ap_bytes * T, limw,
                        lim);
    if (method == IMG_MOSAIC_FACET && !fa_fits)
        return ib_error(e, IB_EINVAL,
                        "mosaic facet method: facets of %d pixels on %dx%d grids (beam of a %.1f m "
                        "dish to --aperture-cut %g) and %d rows need %.3g bytes per thread x %d "
                        "thread(s) = %.3g bytes, more than %s (%.3g bytes); use a larger "
                        "--aperture-cut or fewer threads",
                        nf, ngf, ngf, pl->dish_m, p->aperture_cut, (int)pl->nrow, fa_bytes, T,
                        fa_bytes * T, limw, lim);
    pl->head.mosaic_method = method;
    if (method == IMG_MOSAIC_FACET) {
        pl->facet = 1;
        pl->facet_nf = nf;
        pl->facet_ng = ngf;
    } else {
        pl->grid_support = wt;
        pl->ngx = ngx;
        pl->ngy = ngy;
    }
    return 0;
}

int img__mosaic_setup(ib_err *e, img_plan *pl, const img_vis_meta *m)
{
    const img_params *p = pl->p;
    pl->grid_support = pl->kernel.W;
    if (p->gridder != IMG_GRIDDER_MOSAIC) return 0;
    pl->mosaic = 1;
    pl->aperture = !p->no_aperture;
    /* Table oversampling: linear interpolation errs ~ (1/over)^2; the
     * beam-free kernel is cheap to tabulate finely. --aperture-oversample
     * K (else --oversample K) sets it, as table-based mosaic gridders
     * choose theirs (the study's prototype: 10). */
    pl->ktab_over = p->aperture_oversample > 0 ? p->aperture_oversample
                    : p->oversample > 0        ? p->oversample
                    : pl->aperture             ? 128
                                               : 1024;
    double fmin = pl->freq[0], fmax = pl->freq[0];
    for (int64_t c = 1; c < pl->nchan; c++) {
        fmin = pl->freq[c] < fmin ? pl->freq[c] : fmin;
        fmax = pl->freq[c] > fmax ? pl->freq[c] : fmax;
    }
    int rc = mosaic_pointings(e, pl, m, fmin);
    if (rc) return rc;
    if (distinct(pl->field_l, pl->nfield, &pl->offs_x, &pl->n_offs_x, &pl->field_offs_x) ||
        distinct(pl->field_m, pl->nfield, &pl->offs_y, &pl->n_offs_y, &pl->field_offs_y))
        return ib_error(e, IB_ENOMEM, "out of memory");
    if (!pl->aperture) {
        pl->head.mosaic_support = pl->kernel.W;
        pl->head.mosaic_method = IMG_MOSAIC_APERTURE;
        if (p->mosaic_method == IMG_MOSAIC_FACET)
            return ib_error(e, IB_EINVAL,
                            "--mosaic-method facet needs the primary beam: drop --no-aperture or "
                            "use --mosaic-method aperture");
        snprintf(pl->head.mosaic_reason, sizeof pl->head.mosaic_reason,
                 "%s (no primary beam: --no-aperture)",
                 p->mosaic_method == IMG_MOSAIC_AUTO ? "auto: aperture" : "asked for");
    } else if ((rc = mosaic_choose(e, pl, fmin, fmax))) {
        return rc;
    }
    if (pl->facet) return img__facet_setup(e, pl);
    return mosaic_kernel_fft(e, pl);
}

/* Kernel tables of channel chan for every distinct pointing offset, and
 * the squared beam of every field along x and y for the weight planes. */
void img__mosaic_kernels(img__worker *w, int64_t chan)
{
    const img_plan *pl = w->plan;
    size_t ntab = 2 * ((size_t)pl->grid_support * (size_t)pl->ktab_over + 1);
    double dux = 1.0 / (pl->ngx * pl->cell), duy = 1.0 / (pl->ngy * pl->cell), f = pl->freq[chan];
    for (int i = 0; !pl->facet && i < pl->n_offs_x; i++)
        img__akernel_build(&pl->kernel, pl->grid_support, pl->ktab_over, pl->ktab_fft_size,
                           pl->psihat, pl->ktab_fft, w->ktab_buf, f, pl->dish_m, dux,
                           pl->offs_x[i], pl->aperture, w->ktab_x + (size_t)i * ntab);
    for (int i = 0; !pl->facet && i < pl->n_offs_y; i++)
        img__akernel_build(&pl->kernel, pl->grid_support, pl->ktab_over, pl->ktab_fft_size,
                           pl->psihat, pl->ktab_fft, w->ktab_buf, f, pl->dish_m, duy,
                           pl->offs_y[i], pl->aperture, w->ktab_y + (size_t)i * ntab);
    double fw = img_pb_fwhm(f, pl->dish_m), a = 8.0 * M_LN2 / (fw * fw);
    for (int fi = 0; fi < pl->nfield; fi++) {
        float *bx = w->beam2_x + (size_t)fi * (size_t)pl->nx;
        float *by = w->beam2_y + (size_t)fi * (size_t)pl->ny;
        for (int x = 0; x < pl->nx; x++) {
            double dl = (pl->nx / 2 - x) * pl->cell - pl->field_l[fi];
            bx[x] = pl->aperture ? (float)exp(-a * dl * dl) : 1.0f;
        }
        for (int y = 0; y < pl->ny; y++) {
            double dm = (y - pl->ny / 2) * pl->cell - pl->field_m[fi];
            by[y] = pl->aperture ? (float)exp(-a * dm * dm) : 1.0f;
        }
    }
}

/* Total final weight per field and pol of the channel's sample list. */
void img__mosaic_field_weights(img__worker *w)
{
    const img_plan *pl = w->plan;
    const int npol = pl->npol;
    memset(w->field_wsum, 0, sizeof(double) * (size_t)pl->nfield * (size_t)npol);
    if (pl->p->dbl) {
        const img__list_d *L = w->list;
        for (int64_t s = 0; s < L->n; s++)
            for (int p = 0; p < npol; p++)
                w->field_wsum[(size_t)pl->row_field[L->row[s]] * (size_t)npol + (size_t)p] +=
                    L->w[(size_t)s * (size_t)npol + (size_t)p];
    } else {
        const img__list_f *L = w->list;
        for (int64_t s = 0; s < L->n; s++)
            for (int p = 0; p < npol; p++)
                w->field_wsum[(size_t)pl->row_field[L->row[s]] * (size_t)npol + (size_t)p] +=
                    L->w[(size_t)s * (size_t)npol + (size_t)p];
    }
}

/*
 * Mosaic products of one pol of channel chan, from the dirty plane in
 * w->plane: the weight (sensitivity) plane W = sum_f (w_f / sum w) PB_f^2,
 * exact in the image plane; pb = sqrt(W / max W); and the normalised
 * mosaic dirty / W where pb >= pb_limit (NaN elsewhere, FITS blank).
 */
void img__mosaic_planes(img__worker *w, int p, double sumw)
{
    const img_plan *pl = w->plan;
    const int nx = pl->nx, ny = pl->ny, npol = pl->npol;
    const size_t n = (size_t)nx * (size_t)ny;
    for (size_t i = 0; i < n; i++) w->weight_plane[i] = 0;
    for (int fi = 0; fi < pl->nfield; fi++) {
        double wf = w->field_wsum[(size_t)fi * (size_t)npol + (size_t)p];
        float c = sumw > 0 ? (float)(wf / sumw) : 0;
        if (c <= 0) continue;
        const float *restrict gx = w->beam2_x + (size_t)fi * (size_t)nx;
        /* the columns where the field's beam is not negligible (a wide
         * mosaic's fields each cover a few beams of the image) */
        int xa = 0, xb = nx;
        while (xa < xb && gx[xa] < 1e-12f) xa++;
        while (xb > xa && gx[xb - 1] < 1e-12f) xb--;
        for (int y = 0; y < ny && xa < xb; y++) {
            float gy = c * w->beam2_y[(size_t)fi * (size_t)ny + (size_t)y];
            if (gy < 1e-12f) continue;
            float *restrict row = w->weight_plane + (size_t)y * (size_t)nx;
            for (int x = xa; x < xb; x++) row[x] += gy * gx[x];
        }
    }
    float wmax = 0;
    for (size_t i = 0; i < n; i++) wmax = w->weight_plane[i] > wmax ? w->weight_plane[i] : wmax;
    float lim = (float)(pl->p->pb_limit * pl->p->pb_limit) * wmax;
    for (size_t i = 0; i < n; i++)
        w->mosaic_plane[i] =
            (wmax > 0 && w->weight_plane[i] >= lim) ? w->plane[i] / w->weight_plane[i] : NAN;
}

int img__mosaic_emit(img__worker *w, int direct, int64_t chan, int p)
{
    const img_plan *pl = w->plan;
    size_t n = (size_t)pl->nx * (size_t)pl->ny;
    memcpy(w->plane, w->weight_plane, n * sizeof(float));
    int rc = img__plane_emit(w, direct, chan, p, IMG_PROD_WEIGHT);
    float wmax = 0;
    for (size_t i = 0; !rc && i < n; i++)
        wmax = w->weight_plane[i] > wmax ? w->weight_plane[i] : wmax;
    for (size_t i = 0; !rc && i < n; i++)
        w->plane[i] = wmax > 0 ? sqrtf(w->weight_plane[i] / wmax) : 0.0f;
    if (!rc) rc = img__plane_emit(w, direct, chan, p, IMG_PROD_PB);
    if (!rc) {
        memcpy(w->plane, w->mosaic_plane, n * sizeof(float));
        rc = img__plane_emit(w, direct, chan, p, IMG_PROD_MOSAIC);
    }
    return rc;
}
