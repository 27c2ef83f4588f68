/*
 * cmd_compare_images.c: `harness compare-images A.fits B.fits...` — the
 * planes of an imbench cube A against those of B (another cube, or
 * WSClean's per-channel images ws-0000-XX-image.fits ...), matched by
 * Stokes code and frequency; per plane the peak of A and
 * rms((A - B) / peak). docs/wsclean.md.
 */
#include "harness/harness.h"
#include "harness/wsclean.h"

#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct fimg {
    long n[4];               /* x, y, freq, stokes (missing axes 1) */
    double crpix[4], crval[4], cdelt[4];
    char bunit[72];
    float *data;             /* n0*n1*n2*n3, x fastest */
} fimg;

static int fimg_read(ib_err *e, const char *path, fimg *f)
{
    memset(f, 0, sizeof *f);
    fitsfile *fp = NULL;
    int st = 0, naxis = 0;
    if (fits_open_image(&fp, path, READONLY, &st))
        return ib_error(e, IB_EIO, "cannot open FITS image '%s' (cfitsio status %d)", path, st);
    fits_get_img_dim(fp, &naxis, &st);
    for (int i = 0; i < 4; i++) {
        f->n[i] = 1;
        f->crpix[i] = f->cdelt[i] = 1;
        f->crval[i] = 0;
    }
    if (!st && (naxis < 2 || naxis > 4)) {
        fits_close_file(fp, &st);
        return ib_error(e, IB_EPARSE, "FITS image '%s' has %d axes, expected 2 to 4", path,
                        naxis);
    }
    if (!st) fits_get_img_size(fp, naxis, f->n, &st);
    for (int i = 0; i < naxis && !st; i++) {
        char k[24]; /* "CDELT" + any int */
        int s2 = 0;
        snprintf(k, sizeof k, "CRPIX%d", i + 1);
        fits_read_key_dbl(fp, k, &f->crpix[i], NULL, &s2);
        snprintf(k, sizeof k, "CRVAL%d", i + 1);
        fits_read_key_dbl(fp, k, &f->crval[i], NULL, &s2);
        snprintf(k, sizeof k, "CDELT%d", i + 1);
        fits_read_key_dbl(fp, k, &f->cdelt[i], NULL, &s2);
        if (s2 && i < 2) {
            fits_close_file(fp, &st);
            return ib_error(e, IB_EPARSE, "FITS image '%s' lacks CRPIX/CRVAL/CDELT of axis %d",
                            path, i + 1);
        }
    }
    int s3 = 0;
    if (fits_read_key_str(fp, "BUNIT", f->bunit, NULL, &s3)) f->bunit[0] = '\0';
    size_t np = 0;
    if (!st) {
        np = (size_t)f->n[0] * (size_t)f->n[1] * (size_t)f->n[2] * (size_t)f->n[3];
        f->data = malloc(np * sizeof *f->data);
        if (!f->data) {
            fits_close_file(fp, &st);
            return ib_error(e, IB_ENOMEM, "out of memory reading '%s'", path);
        }
        long fp1[4] = {1, 1, 1, 1};
        int anynul = 0;
        fits_read_pix(fp, TFLOAT, fp1, (LONGLONG)np, NULL, f->data, &anynul, &st);
    }
    int s4 = 0;
    fits_close_file(fp, &s4);
    if (st) {
        free(f->data);
        f->data = NULL;
        return ib_error(e, IB_EIO, "cannot read FITS image '%s' (cfitsio status %d)", path, st);
    }
    return 0;
}

static double axis_value(const fimg *f, int ax, long i)
{
    return f->crval[ax] + ((double)i + 1 - f->crpix[ax]) * f->cdelt[ax];
}

static int near(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b));
}

/* B on A's grid? IB_EPARSE naming the difference otherwise. */
static int same_grid(ib_err *e, const char *pa, const fimg *a, const char *pb, const fimg *b)
{
    if (a->n[0] != b->n[0] || a->n[1] != b->n[1])
        return ib_error(e, IB_EPARSE, "'%s' is %ldx%ld pixels, '%s' %ldx%ld", pa, a->n[0],
                        a->n[1], pb, b->n[0], b->n[1]);
    for (int i = 0; i < 2; i++) {
        if (!near(a->cdelt[i], b->cdelt[i], 1e-6))
            return ib_error(e, IB_EPARSE, "axis %d: CDELT %.10g in '%s', %.10g in '%s' (cells "
                                          "differ)", i + 1, a->cdelt[i], pa, b->cdelt[i], pb);
        if (fabs(a->crpix[i] - b->crpix[i]) > 1e-6)
            return ib_error(e, IB_EPARSE, "axis %d: reference pixel CRPIX %.10g in '%s', %.10g "
                                          "in '%s' (pixel conventions differ)",
                            i + 1, a->crpix[i], pa, b->crpix[i], pb);
        if (fabs(a->crval[i] - b->crval[i]) > 1e-3 * fabs(a->cdelt[i]))
            return ib_error(e, IB_EPARSE, "axis %d: phase centre CRVAL %.12g in '%s', %.12g in "
                                          "'%s'", i + 1, a->crval[i], pa, b->crval[i], pb);
    }
    /* units: Jy/beam in either spelling (WSClean writes "JY/BEAM") */
    if (a->bunit[0] && b->bunit[0] && strcasecmp(a->bunit, b->bunit))
        return ib_error(e, IB_EPARSE, "units differ: BUNIT '%s' in '%s', '%s' in '%s'", a->bunit,
                        pa, b->bunit, pb);
    return 0;
}

static void compare_plane(const float *pa, const float *pb, long nx, long ny, double inner,
                          hx_cmpimg_row *r)
{
    long x0 = (long)floor(nx * (1 - inner) / 2), x1 = nx - x0;
    long y0 = (long)floor(ny * (1 - inner) / 2), y1 = ny - y0;
    double peak = 0, pbk = -INFINITY, pak = -INFINITY;
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) {
            double va = pa[y * nx + x], vb = pb[y * nx + x];
            if (fabs(va) > peak) peak = fabs(va);
            if (va > pak) pak = va, r->peak_a_x = (int)x, r->peak_a_y = (int)y;
            if (vb > pbk) pbk = vb, r->peak_b_x = (int)x, r->peak_b_y = (int)y;
        }
    double ss = 0, mx = 0;
    long n = 0;
    for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++) {
            double d = (double)pa[y * nx + x] - (double)pb[y * nx + x];
            ss += d * d;
            if (fabs(d) > mx) mx = fabs(d);
            n++;
        }
    r->peak = peak;
    double norm = peak > 0 ? peak : 1;
    r->rms_rel = n ? sqrt(ss / (double)n) / norm : 0;
    r->max_rel = mx / norm;
}

int hx_cmpimg_run(ib_err *e, const char *a, const char *const *b, int nb, double inner,
                  hx_cmpimg_row **rows, size_t *nrows)
{
    *rows = NULL;
    *nrows = 0;
    if (!(inner > 0 && inner <= 1))
        return ib_error(e, IB_EINVAL, "--inner must be in (0, 1], got %g", inner);
    fimg A;
    int rc = fimg_read(e, a, &A);
    if (rc) return rc;
    size_t nplanes = (size_t)A.n[2] * (size_t)A.n[3], plane = (size_t)A.n[0] * (size_t)A.n[1];
    hx_cmpimg_row *out = ib_calloc(nplanes, sizeof *out);
    unsigned char *have = ib_calloc(nplanes ? nplanes : 1, 1);
    if (!out || !have) {
        free(A.data);
        ib_free(out);
        ib_free(have);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    double half = fabs(A.cdelt[2]) > 0 && A.n[2] > 1 ? fabs(A.cdelt[2]) / 2 : 1.0;
    for (int k = 0; !rc && k < nb; k++) {
        fimg B;
        rc = fimg_read(e, b[k], &B);
        if (rc) break;
        rc = same_grid(e, a, &A, b[k], &B);
        for (long q = 0; !rc && q < B.n[3]; q++)
            for (long c = 0; c < B.n[2]; c++) {
                double fb = axis_value(&B, 2, c);
                int sb = (int)lround(axis_value(&B, 3, q));
                long ca = -1, qa = -1;
                for (long cq = 0; cq < A.n[3] && qa < 0; cq++)
                    if ((int)lround(axis_value(&A, 3, cq)) == sb) qa = cq;
                for (long cc = 0; cc < A.n[2] && ca < 0; cc++)
                    if (fabs(axis_value(&A, 2, cc) - fb) <= half) ca = cc;
                if (qa < 0 || ca < 0) continue;
                size_t ia = (size_t)qa * (size_t)A.n[2] + (size_t)ca;
                hx_cmpimg_row *r = &out[ia];
                compare_plane(A.data + ia * plane, B.data + ((size_t)q * B.n[2] + c) * plane,
                              A.n[0], A.n[1], inner, r);
                r->chan = (int)ca;
                r->stokes = sb;
                r->freq_hz = axis_value(&A, 2, ca);
                have[ia] = 1;
            }
        free(B.data);
    }
    free(A.data);
    size_t n = 0;
    for (size_t i = 0; !rc && i < nplanes; i++)
        if (have[i]) out[n++] = out[i];
    ib_free(have);
    if (!rc && n == 0)
        rc = ib_error(e, IB_ENOTFOUND, "no plane of the other image%s has the Stokes code and "
                                       "frequency of a plane of '%s'", nb == 1 ? "" : "s", a);
    if (rc) {
        ib_free(out);
        return rc;
    }
    *rows = out;
    *nrows = n;
    return 0;
}

static const char *stokes_name(int s)
{
    static const char *const neg[] = {"", "RR", "LL", "RL", "LR", "XX", "YY", "XY", "YX"};
    static const char *const pos[] = {"", "I", "Q", "U", "V"};
    if (s < 0 && s >= -8) return neg[-s];
    if (s > 0 && s <= 4) return pos[s];
    return "?";
}

/* Errors: message on stderr, exit status 2 (hx_fail lives in main.c, which
 * the tests calling hx_cmpimg_run do not link). */
static int fail(const ib_err *e)
{
    fprintf(stderr, "harness compare-images: %s\n", e->msg[0] ? e->msg : ib_strerror(e->code));
    return 2;
}

int hx_cmd_compare_images(int argc, char **argv)
{
    double inner = 1, tol = -1;
    int help = 0;
    const ib_opt table[] = {
        {"inner", IB_OPT_DBL, &inner, "F", "compare only the central fraction F of each axis "
                                           "(default 1: the whole image)"},
        {"tol", IB_OPT_DBL, &tol, "X", "exit 1 when a plane's rms((A - B) / peak) exceeds X"},
        {"help", IB_OPT_FLAG, &help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos, ps = hx_parse("compare-images", table, argc, argv, &npos, 2, -1);
    if (ps >= 0) return ps;
    char **pos = argv;
    ib_err e;
    ib_err_init(&e);
    hx_cmpimg_row *rows = NULL;
    size_t n = 0;
    int rc = hx_cmpimg_run(&e, pos[0], (const char *const *)(pos + 1), npos - 1, inner, &rows,
                           &n);
    if (rc) return fail(&e);
    printf("%-5s %-6s %-14s %-12s %-12s %-12s %s\n", "chan", "stokes", "freq_hz", "peak",
           "rms_rel", "max_rel", "peak pixel A / B");
    int over = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        const hx_cmpimg_row *r = &rows[i];
        printf("%-5d %-6s %-14.6f %-12.6g %-12.4e %-12.4e (%d,%d) / (%d,%d)\n", r->chan,
               stokes_name(r->stokes), r->freq_hz, r->peak, r->rms_rel, r->max_rel, r->peak_a_x,
               r->peak_a_y, r->peak_b_x, r->peak_b_y);
        if (r->rms_rel > worst) worst = r->rms_rel;
        if (tol >= 0 && r->rms_rel > tol) over++;
    }
    printf("%zu plane%s compared, worst rms_rel %.4e%s\n", n, n == 1 ? "" : "s", worst,
           tol >= 0 ? (over ? " (over --tol)" : " (within --tol)") : "");
    ib_free(rows);
    return over ? 1 : 0;
}
