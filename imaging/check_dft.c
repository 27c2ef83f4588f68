/*
 * check_dft.c: the accuracy check (--check-dft K). K pixels spread over
 * the channels (every third one its plane's centre) are read back from the
 * finished dirty cube and compared with a direct Fourier transform of the
 * same weighted visibilities (for the mosaic, rephased to the image centre
 * and seen through each pointing's beam), relative to each plane's peak.
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>

int img__check_dft(ib_err *e, img_plan *pl, const char *dirty_path, img_result *res)
{
    const int K = pl->p->check_dft, npol = pl->npol;
    int (*pix)[4] = ib_malloc(sizeof(int[4]) * (size_t)K);
    double *img = ib_malloc(sizeof(double) * (size_t)K);
    size_t slab = (size_t)pl->nrow * (size_t)pl->npol_in;
    float *vis = ib_malloc(slab * 8), *wt = ib_malloc(slab * 4);
    uint8_t *flag = ib_malloc(slab);
    img__list_d *L = img__list_alloc(pl->nrow, npol, 1);
    float *density = ib_malloc(sizeof(float) * (size_t)pl->nx * (size_t)pl->ny);
    int rc = 0;
    if (!pix || !img || !vis || !wt || !flag || !L || !density) {
        rc = ib_error(e, IB_ENOMEM, "out of memory for --check-dft");
        goto out;
    }
    /* Pixels spread over the channels, random position and pol. */
    for (int i = 0; i < K; i++) {
        uint64_t h = ib_hash4(pl->p->seed, 0xd1f7, (uint64_t)i, 0);
        pix[i][0] = (int)(ib_uniform(h) * pl->nx);
        pix[i][1] = (int)(ib_uniform(ib_hash4(h, 1, 0, 0)) * pl->ny);
        pix[i][2] = (int)(((int64_t)i * pl->nchan) / K);
        pix[i][3] = (int)(ib_uniform(ib_hash4(h, 2, 0, 0)) * npol);
    }
    /* Every third pixel is its plane's brightest region: the centre. */
    for (int i = 0; i < K; i += 3) {
        pix[i][0] = pl->nx / 2;
        pix[i][1] = pl->ny / 2;
    }
    if ((rc = img__fits_read_pixels(e, dirty_path, K, (const int(*)[4])pix, img))) goto out;
    double maxerr = 0, sum2 = 0;
    int64_t cur = -1;
    double sumw[IMG_MAX_POL];
    uint64_t dropped = 0;
    for (int i = 0; i < K; i++) {
        int64_t chan = pix[i][2];
        if (chan != cur) {
            if ((rc = img_vis_read_chans(e, pl->store, 0, pl->nrow, chan, 1, vis, wt, flag, NULL)))
                goto out;
            img__list_build_d(pl, vis, wt, flag, 0, chan, L, density, sumw, &dropped);
            cur = chan;
        }
        int p = pix[i][3];
        double l = (pl->nx / 2 - pix[i][0]) * pl->cell, mm = (pix[i][1] - pl->ny / 2) * pl->cell;
        double f = pl->freq[chan] / IMG_C_LIGHT, acc = 0;
        for (int64_t s = 0; s < L->n; s++) {
            int64_t k = L->row[s];
            size_t o = (size_t)s * (size_t)npol + (size_t)p;
            if (pl->mosaic) {
                /* Rephased to the image centre, seen through its pointing's beam. */
                int fi = pl->row_field[k];
                double dl = l - pl->field_l[fi], dm = mm - pl->field_m[fi];
                double ph = 2.0 * M_PI * f * (pl->u_m[k] * dl + pl->v_m[k] * dm);
                double pb = pl->aperture ? img_pb(dl, dm, pl->freq[chan], pl->dish_m) : 1.0;
                acc += pb * (L->vc[2 * o] * cos(ph) - L->vc[2 * o + 1] * sin(ph));
            } else {
                double ph = 2.0 * M_PI * f * (pl->u_m[k] * l + pl->v_m[k] * mm);
                acc += L->vc[2 * o] * cos(ph) - L->vc[2 * o + 1] * sin(ph);
            }
        }
        double dft = sumw[p] > 0 ? acc / sumw[p] : 0;
        double peak = pl->plane_peaks[(size_t)chan * (size_t)npol + (size_t)p];
        double err = peak > 0 ? fabs(img[i] - dft) / peak : fabs(img[i] - dft);
        if (err > maxerr) maxerr = err;
        sum2 += err * err;
    }
    res->dft_max_rel_err = maxerr;
    res->dft_rms_rel_err = sqrt(sum2 / K);
out:
    free(pix);
    free(img);
    free(vis);
    free(wt);
    free(flag);
    img__list_free(L, 1);
    free(density);
    return rc;
}
