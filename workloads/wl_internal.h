/*
 * wl_internal.h: what the workloads files share with each other and with
 * nobody else (libuv's double-underscore convention: wl__). Not part of
 * the module's API; include only from the workloads .c files.
 */
#ifndef WL_INTERNAL_H
#define WL_INTERNAL_H

#include <math.h>

#include "common/params.h"
#include "workloads/workloads.h"

#define WL__C_LIGHT 299792458.0           /* m/s */
#define WL__ARCSEC (M_PI / (180.0 * 3600.0))

/* SIN projection about (ra0, dec0): direction (ra, dec) -> (l, m). */
static inline void wl__radec_to_lm(double ra0, double dec0, double ra, double dec, double *l,
                                   double *m)
{
    double da = ra - ra0;
    *l = cos(dec) * sin(da);
    *m = sin(dec) * cos(dec0) - cos(dec) * sin(dec0) * cos(da);
}

/* Inverse SIN projection: (l, m) about (ra0, dec0) -> (ra, dec), l^2+m^2 < 1. */
static inline void wl__lm_to_radec(double ra0, double dec0, double l, double m, double *ra,
                                   double *dec)
{
    double n = sqrt(1.0 - l * l - m * m);
    *dec = asin(m * cos(dec0) + n * sin(dec0));
    *ra = ra0 + atan2(l, n * cos(dec0) - m * sin(dec0));
}

/* n - 1 without cancellation for small l, m. */
static inline double wl__n_minus_1(double l, double m)
{
    double r2 = l * l + m * m;
    return -r2 / (1.0 + sqrt(1.0 - r2));
}

/* Where a seeded sky may put its sources (all angles in radians). */
typedef struct wl__sky_geom {
    double half_l, half_m;   /* image half-widths about the phase centre */
    double cell;             /* image cell */
    double pb_hwhm;          /* primary-beam half width at band centre; 0: no limit */
    int nfield;
    const double *field_lm;  /* 2*nfield pointing offsets (l, m), field 0 first */
} wl__sky_geom;

/*
 * Seeded sky of n sources (n/5 Gaussians, the rest points), fluxes
 * 0.1-1 Jy, spectral index -1.2..0.5, |Q/I| <= 0.05, positions within
 * the central 40% of the image half-widths and near the pointings (round
 * robin over the pointings inside that box, so a mosaic's sources spread
 * over several). *out is ib_malloc'd (caller frees), NULL when n == 0.
 */
int wl__sky_seeded(ib_err *e, uint64_t seed, int n, const wl__sky_geom *g, wl_source **out);

/* What sky.json records besides the sources. */
typedef struct wl__sky_meta {
    const char *dataset;
    uint64_t seed;
    double ra0, dec0, ref_freq_hz, cell_arcsec, dish_m;
    int pb;
} wl__sky_meta;

/* Write the sky model as JSON to path (via path.tmp + rename). */
int wl__sky_write(ib_err *e, const char *path, const wl__sky_meta *m, const wl_source *src,
                  int n);

/* ---- hash sets (hset.c), for the suite parser ---------------------- */

/* Open addressing over 64-bit keys; a slot holds an index + 1 (0: empty).
 * Equal keys need not be equal items: the caller compares. */
typedef struct wl__hset {
    size_t *slot;
    uint64_t *key;
    size_t nslot, n;
} wl__hset;

void wl__hset_release(wl__hset *h);
/* Add index under key (keys may repeat); IB_ENOMEM. */
int wl__hset_add(wl__hset *h, uint64_t key, size_t index);
/* The indices stored under key, one per call: *pos starts at SIZE_MAX;
 * SIZE_MAX at the end. */
size_t wl__hset_next(const wl__hset *h, uint64_t key, size_t *pos);
/* Keys: FNV-1a of bytes (seeded), of a parameter value, of a name. */
uint64_t wl__hash_bytes(const void *p, size_t n, uint64_t seed);
uint64_t wl__pval_key(const ib_pval *v);
uint64_t wl__name_key(const char *s);

#endif
