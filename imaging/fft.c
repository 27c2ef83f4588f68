/*
 * fft.c: from a channel's grid to its image plane. The grid's Hermitian
 * part is folded into a half spectrum and transformed complex-to-real,
 * pruned to the grid rows the image takes; the image's pixels are then
 * read out with the grid correction and the weight normalisation. The FFT
 * plans are made once per plan (FFTW's new-array execute lets every thread
 * use them on its own buffers) and remembered in a wisdom file.
 */
#include "imaging/plan_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FFTW's planner is not thread-safe: every plan in the process is made
 * under this lock (the one mutable global of the module). */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

void img__fftw_lock(void) { pthread_mutex_lock(&fftw_planner_lock); }
void img__fftw_unlock(void) { pthread_mutex_unlock(&fftw_planner_lock); }

#define REAL float
#define SUF f
#define FFTW(name) fftwf_##name
#include "imaging/fft_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW
#define REAL double
#define SUF d
#define FFTW(name) fftw_##name
#include "imaging/fft_tmpl.h"
#undef REAL
#undef SUF
#undef FFTW

void img__fft_grid(const img_plan *pl, void *grid, void *half, int pol, int vlo, int vhi,
                   int clear)
{
    if (pl->p->dbl) {
        fold_d(grid, half, pl->ngx, pl->ngy, pl->npol, pol, vlo, vhi, clear);
        fft_d(pl, half);
    } else {
        fold_f(grid, half, pl->ngx, pl->ngy, pl->npol, pol, vlo, vhi, clear);
        fft_f(pl, half);
    }
}

float img__fft_extract(const img_plan *pl, const void *half, float *plane, double scale)
{
    if (pl->p->dbl)
        return extract_d(half, plane, pl->nx, pl->ny, pl->ngx, pl->pix_col, pl->pix_row,
                         pl->corr_xf, pl->corr_y, scale);
    return extract_f(half, plane, pl->nx, pl->ny, pl->ngx, pl->pix_col, pl->pix_row, pl->corr_xf,
                     pl->corr_y, scale);
}

void img__fft_destroy(img_plan *pl)
{
    void *plans[3] = {pl->fft_cols, pl->fft_rows[0], pl->fft_rows[1]};
    for (int i = 0; i < 3; i++) {
        if (!plans[i]) continue;
        if (pl->p->dbl) fftw_destroy_plan(plans[i]);
        else fftwf_destroy_plan(plans[i]);
    }
    pl->fft_cols = pl->fft_rows[0] = pl->fft_rows[1] = NULL;
}

/* Wisdom file: $IMBENCH_FFTW_WISDOM, else $XDG_CACHE_HOME or ~/.cache,
 * imbench/fftw-wisdom-<precision>. */
static int wisdom_path(char *buf, size_t n, int dbl)
{
    const char *env = getenv("IMBENCH_FFTW_WISDOM");
    const char *suffix = dbl ? "double" : "float";
    if (env && *env) return snprintf(buf, n, "%s-%s", env, suffix) < (int)n ? 0 : -1;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char dir[3000];
    if (xdg && *xdg) snprintf(dir, sizeof dir, "%s/imbench", xdg);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.cache/imbench", home);
    else return -1;
    if (ib_mkdir_p(NULL, dir)) return -1;
    return snprintf(buf, n, "%s/fftw-wisdom-%s", dir, suffix) < (int)n ? 0 : -1;
}

int img__fft_plan(ib_err *e, img_plan *pl)
{
    const int dbl = pl->p->dbl;
    unsigned flags = pl->p->fft_plan == 0 ? FFTW_ESTIMATE
                     : pl->p->fft_plan == 2 ? FFTW_PATIENT : FFTW_MEASURE;
    char wpath[4096];
    int have_path = wisdom_path(wpath, sizeof wpath, dbl) == 0;
    double t0 = ib_now();
    img__fftw_lock();
    if (have_path) {
        if (dbl) fftw_import_wisdom_from_filename(wpath);
        else fftwf_import_wisdom_from_filename(wpath);
    }
    pl->fft_row0[0] = 0;
    pl->fft_row0[1] = pl->ngy - pl->ny / 2;
    /* the facet method needs the full grid's FFT only for the PSF */
    const int full = !pl->facet || pl->p->psf;
    if (full && dbl) plan_fft_d(pl, flags);
    else if (full) plan_fft_f(pl, flags);
    if (!pl->fft_rows[0] || !pl->fft_rows[1]) img__fft_destroy(pl);
    int facet_ok = !pl->facet || img__facet_plan(pl, flags) == 0;
    if ((pl->fft_cols || pl->facet_fft) && have_path && flags != FFTW_ESTIMATE) {
        char tmpw[4200];
        snprintf(tmpw, sizeof tmpw, "%s.%d.tmp", wpath, (int)getpid());
        int ok = dbl ? fftw_export_wisdom_to_filename(tmpw) : fftwf_export_wisdom_to_filename(tmpw);
        if (!ok || rename(tmpw, wpath) != 0) unlink(tmpw);
    }
    img__fftw_unlock();
    pl->plan_seconds = ib_now() - t0;
    if (full && !pl->fft_cols)
        return ib_error(e, IB_ENOMEM, "cannot plan a %dx%d FFT", pl->ngx, pl->ngy);
    if (!facet_ok)
        return ib_error(e, IB_ENOMEM, "cannot plan the %dx%d facet FFT", pl->facet_ng,
                        pl->facet_ng);
    return 0;
}
