/*
 * gen.c: the synthetic visibility generator. Resolves a spec and options
 * into a shape, lays out antennas, baselines and mosaic pointings, turns
 * earth rotation into uvw tracks, and fills the store with the exact
 * direct Fourier transform of a sky model, in row blocks made by a pool
 * of threads and written, in row order, by the calling thread while the
 * next block is being made (double buffering). Every sample is a pure
 * function of (spec, options, seed, row, channel, pol), so the result is
 * the same for any thread count.
 */
#define _GNU_SOURCE
#include "workloads/wl_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "imaging/imaging.h"

#define OMEGA_SID (2.0 * M_PI / 86164.0905) /* earth rotation, rad per second */
/* Rows per block are a multiple of this when memory allows: the store
 * chunks vis/weight/flag by img_vis_chunk_rows rows, and a block
 * that fills whole chunks is written once instead of read back and rewritten. */
#define SLOT_BYTES_TARGET (32u << 20)
#define SLOT_BYTES_MAX (256u << 20)
/* Channels between exact phase evaluations; the rotation recurrence in
 * between loses < 1e-14 relative. */
#define RESYNC 512
/* Domain tags of the random streams. */
#define LAYOUT_TAG 0x4c61796f7574ULL
#define FLAG_TAG 0x466c6167ULL
#define NOISE_TAG 0x4e6f697365ULL
#define WEIGHT_TAG 0x576569676874ULL
#define ABSENT_TAG 0x416273656e74ULL
/* Execution blocks' centres spread evenly over hour angles within this
 * span around transit (ALMA schedules a project's blocks on different
 * days, mostly a few hours either side of transit). */
#define EB_SPAN_S (4.0 * 3600.0)
/* Time segments with their own absent antennas when the spec gives one
 * execution block. */
#define SEGMENTS_ONE_EB 4

void wl_gen_opts_init(wl_gen_opts *o)
{
    memset(o, 0, sizeof *o);
    o->scale = 1.0;
    o->times = o->chans = o->baselines = -1;
    o->antennas = o->image_nx = o->image_ny = -1;
    o->cell_arcsec = NAN;
    o->seed = 1;
    o->noise = 0.0;
    o->flag_frac = 0.02;
    o->nsources = 10;
    o->no_pb = 0;
    o->threads = 0;
    o->sky = NULL;
    o->nsky = -1;
}

/* ---- shape ------------------------------------------------------- */

static int64_t ant_for_baselines(int64_t nbl)
{
    int64_t n = (int64_t)ceil((1.0 + sqrt(1.0 + 8.0 * (double)nbl)) / 2.0);
    if (n < 2) n = 2;
    while (n > 2 && (n - 1) * (n - 2) / 2 >= nbl) n--;
    while (n * (n - 1) / 2 < nbl) n++;
    return n;
}

int wl_gen_resolve(ib_err *e, const wl_dataset *ds, const wl_gen_opts *o, wl_gen_shape *out)
{
    memset(out, 0, sizeof *out);
    if (!(o->scale > 0) || !isfinite(o->scale))
        return ib_error(e, IB_EINVAL, "option '--scale' must be positive, got %g", o->scale);
    double f = sqrt(o->scale);
    double tt = round((double)ds->ntime * f), cc = round((double)ds->nchan * f);
    if (tt > 1e15 || cc > 1e15)
        return ib_error(e, IB_EOVERFLOW, "option '--scale' %g makes the dataset too large",
                        o->scale);
    out->ntime = tt < 2 ? 2 : (int64_t)tt;
    out->nchan = cc < 1 ? 1 : (int64_t)cc;
    if (o->times != -1) {
        if (o->times < 1)
            return ib_error(e, IB_EINVAL, "option '--times' must be a positive integer, got %lld",
                            (long long)o->times);
        out->ntime = o->times;
    }
    if (o->chans != -1) {
        if (o->chans < 1)
            return ib_error(e, IB_EINVAL, "option '--chans' must be a positive integer, got %lld",
                            (long long)o->chans);
        out->nchan = o->chans;
    }
    if (o->baselines != -1 && o->antennas != -1)
        return ib_error(e, IB_EINVAL, "options '--baselines' and '--antennas' exclude each other");
    out->nbaseline = ds->nbaseline;
    if (o->antennas != -1) {
        if (o->antennas < 2 || o->antennas > 4000)
            return ib_error(e, IB_EINVAL, "option '--antennas' must be in 2..4000, got %d",
                            o->antennas);
        out->nbaseline = (int64_t)o->antennas * (o->antennas - 1) / 2;
    }
    if (o->baselines != -1) {
        if (o->baselines < 1 || o->baselines > 8000000)
            return ib_error(e, IB_EINVAL, "option '--baselines' must be in 1..8000000, got %lld",
                            (long long)o->baselines);
        out->nbaseline = o->baselines;
    }
    out->nant = (int)ant_for_baselines(out->nbaseline);
    out->npol = ds->npol;
    out->image_nx = ds->image_nx;
    out->image_ny = ds->image_ny;
    if (o->image_nx != -1 || o->image_ny != -1) {
        if (o->image_nx < 1 || o->image_ny < 1 || o->image_nx > (1 << 20) ||
            o->image_ny > (1 << 20))
            return ib_error(e, IB_EINVAL, "option '--image' must be positive (at most %d), got "
                            "%dx%d", 1 << 20, o->image_nx, o->image_ny);
        out->image_nx = o->image_nx;
        out->image_ny = o->image_ny;
    }
    if (!isnan(o->cell_arcsec) && !(o->cell_arcsec > 0 && isfinite(o->cell_arcsec)))
        return ib_error(e, IB_EINVAL, "option '--cell' must be positive, got %g", o->cell_arcsec);
    if (!(o->noise >= 0) || !isfinite(o->noise))
        return ib_error(e, IB_EINVAL, "option '--noise' must be >= 0, got %g", o->noise);
    if (!(o->flag_frac >= 0 && o->flag_frac < 1))
        return ib_error(e, IB_EINVAL, "option '--flag-frac' must be in [0, 1), got %g",
                        o->flag_frac);
    if (o->nsky < 0 && (o->nsources < 0 || o->nsources > 100000))
        return ib_error(e, IB_EINVAL, "option '--sources' must be in 0..100000, got %d",
                        o->nsources);
    if (o->nsky > 0 && !o->sky)
        return ib_error(e, IB_EINVAL, "an explicit sky of %d sources needs the sources",
                        o->nsky);

    size_t nrow, nsamp;
    if (ib_mul_size((size_t)out->ntime, (size_t)out->nbaseline, &nrow) ||
        ib_mul3_size(nrow, (size_t)out->nchan, (size_t)out->npol, &nsamp) ||
        nsamp > (size_t)INT64_MAX / 16)
        return ib_error(e, IB_EOVERFLOW, "dataset '%s': %lld times x %lld baselines x %lld "
                        "channels x %d pols is too large", ds->name, (long long)out->ntime,
                        (long long)out->nbaseline, (long long)out->nchan, out->npol);
    out->nrow = out->nrow_full = (int64_t)nrow;
    /* The stated rows: the seed MS lacks some baselines at some times
     * (antennas absent); keep its fraction of the time x baseline grid. */
    if (o->baselines == -1 && o->antennas == -1 && ds->rows > 0 &&
        ds->rows < ds->ntime * ds->nbaseline) {
        long double frac =
            (long double)ds->rows / ((long double)ds->ntime * (long double)ds->nbaseline);
        int64_t keep = (int64_t)llroundl(frac * (long double)nrow);
        out->nrow = keep < out->ntime ? out->ntime : keep;
    }
    out->nexec = ds->execution_blocks > 1 ? ds->execution_blocks : 1;
    if (out->nexec > out->ntime) out->nexec = (int)out->ntime;
    out->nsegment = out->nexec > 1 ? out->nexec : SEGMENTS_ONE_EB;
    if (out->nsegment > out->ntime) out->nsegment = (int)out->ntime;

    /* Keep the band: same total bandwidth and centre, wider channels. */
    double bandwidth = (double)ds->nchan * ds->chan_width_hz;
    double centre = ds->freq_start_hz + 0.5 * (double)(ds->nchan - 1) * ds->chan_width_hz;
    out->chan_width_hz = bandwidth / (double)out->nchan;
    out->freq0_hz = centre - 0.5 * (double)(out->nchan - 1) * out->chan_width_hz;
    out->ref_freq_hz = centre;
    /* Keep the duration, so the uv tracks keep their shape. */
    out->duration_s = ds->duration_s;
    out->integration_s = ds->duration_s / (double)out->ntime;
    if (ds->gridder == WL_GRIDDER_MOSAIC) {
        int64_t nf = ds->npointing;
        if (nf > out->ntime) nf = out->ntime;
        out->nfield = (int)nf;
        out->pointing_spacing_rad = (WL__C_LIGHT / centre) / (sqrt(3.0) * ds->dish_m);
    } else {
        out->nfield = 1;
        out->pointing_spacing_rad = 0.0;
    }
    /* A field is visited in blocks of integrations, cycling ~3 times. */
    out->field_block = out->ntime / (3 * (int64_t)out->nfield);
    if (out->field_block < 1) out->field_block = 1;
    return 0;
}

double wl_gen_store_bytes(const wl_gen_shape *sh, const wl_gen_opts *o)
{
    /* vis 8 per sample, flag bits 1/8 when anything is flagged (every row
     * block at the generator's flag rates), per row: weights 4 per pol,
     * uvw 24, time 8, field 4, antennas 8, mask 1; sky.json is small */
    double ns = (double)sh->nrow * (double)sh->nchan * (double)sh->npol;
    double b = ns * (8.0 + (o->flag_frac > 0 ? 0.125 : 0.0)) +
               (double)sh->nrow * (4.0 * sh->npol + 45.0);
    return b * 1.01 + 1e6;
}

/* ---- geometry ---------------------------------------------------- */

typedef struct geom {
    int nant;
    double *en;          /* 2*nant: east, north (m) */
    int32_t *a1, *a2;    /* nbl */
    double *bl;          /* 3*nbl: Lx, Ly, Lz (m), ant2 - ant1 */
    int nfield;
    double *fdir;        /* 2*nfield: ra, dec */
    double *flm;         /* 2*nfield: l, m offsets from the phase centre */
    double *fsin, *fcos; /* sin/cos of each field's dec */
    double *fdra;        /* ra_f - ra_0 */
} geom;

static void geom_release(geom *g)
{
    ib_free(g->en);
    ib_free(g->a1);
    ib_free(g->a2);
    ib_free(g->bl);
    ib_free(g->fdir);
    ib_free(g->flm);
    ib_free(g->fsin);
    ib_free(g->fcos);
    ib_free(g->fdra);
    memset(g, 0, sizeof *g);
}

/* ALMA and ACA: random positions in a disk of diameter `extent`, denser
 * towards the centre (radius ~ uniform, so density ~ 1/r), no two closer
 * than 1.5 dishes (relaxed if the disk is too crowded). */
static void layout_disk(uint64_t key, int nant, double extent, double dish, double *en)
{
    double radius = 0.5 * extent, minsep = 1.5 * dish;
    for (int i = 0; i < nant; i++) {
        double x = 0, y = 0;
        for (uint64_t k = 0;; k++) {
            if (k && k % 200 == 0) minsep *= 0.8;
            double r = radius * ib_uniform(ib_hash4(key, (uint64_t)i, k, 0));
            double phi = 2.0 * M_PI * ib_uniform(ib_hash4(key, (uint64_t)i, k, 1));
            x = r * sin(phi);
            y = r * cos(phi);
            int ok = 1;
            for (int j = 0; j < i && ok; j++)
                ok = hypot(x - en[2 * j], y - en[2 * j + 1]) >= minsep;
            if (ok) break;
        }
        en[2 * i] = x;
        en[2 * i + 1] = y;
    }
}

/* VLA: a Y of three arms (north, south-east, south-west, rotated ~5 deg)
 * with pads at power-law distances d_j = L ((j+1)/n)^1.716 like the real
 * array; the arm length L = extent / sqrt(3) makes the tips `extent`
 * apart. Antenna k sits on arm k % 3. */
static void layout_y(int nant, double extent, double *en)
{
    static const double az_deg[3] = {-5.0, 115.0, 235.0};
    int per_arm = (nant + 2) / 3;
    double arm = extent / sqrt(3.0);
    for (int k = 0; k < nant; k++) {
        double az = az_deg[k % 3] * M_PI / 180.0;
        double d = arm * pow((double)(k / 3 + 1) / per_arm, 1.716);
        en[2 * k] = d * sin(az);
        en[2 * k + 1] = d * cos(az);
    }
}

typedef struct hexpt {
    double key, ang;
    int i, j;
} hexpt;

static int cmp_hex(const void *pa, const void *pb)
{
    const hexpt *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    if (a->ang != b->ang) return a->ang < b->ang ? -1 : 1;
    if (a->j != b->j) return a->j < b->j ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* The nfield hexagonal lattice points (spacing s) nearest the centre in
 * an ellipse with the image's aspect ratio, field 0 at the centre. */
static int layout_hex(ib_err *e, int nfield, double s, double ax, double ay, double *lm)
{
    double amax = fmax(ax, ay);
    ax /= amax;
    ay /= amax;
    int k = (int)ceil(sqrt((double)nfield) / fmin(ax, ay)) + 2;
    size_t side = 2 * (size_t)k + 1, n;
    if (ib_mul_size(side, side, &n)) return ib_error(e, IB_EOVERFLOW, "too many pointings");
    hexpt *p = ib_malloc(n * sizeof *p);
    if (!p) return ib_error(e, IB_ENOMEM, "out of memory laying out %d pointings", nfield);
    size_t c = 0;
    for (int j = -k; j <= k; j++)
        for (int i = -k; i <= k; i++) {
            double x = i + 0.5 * j, y = j * (sqrt(3.0) / 2.0);
            double q = (x / ax) * (x / ax) + (y / ay) * (y / ay);
            /* quantise so that ties in exact arithmetic stay ties */
            p[c].key = nearbyint(q * 1e9);
            p[c].ang = nearbyint(atan2(y, x) * 1e9);
            p[c].i = i;
            p[c].j = j;
            c++;
        }
    qsort(p, c, sizeof *p, cmp_hex);
    for (int f = 0; f < nfield; f++) {
        lm[2 * f] = s * (p[f].i + 0.5 * p[f].j);
        lm[2 * f + 1] = s * (p[f].j * (sqrt(3.0) / 2.0));
    }
    ib_free(p);
    return 0;
}

static int geom_build(ib_err *e, const wl_dataset *ds, const wl_gen_shape *sh, geom *g)
{
    memset(g, 0, sizeof *g);
    g->nant = sh->nant;
    g->nfield = sh->nfield;
    size_t nbl = (size_t)sh->nbaseline, nf = (size_t)sh->nfield;
    g->en = ib_calloc(2 * (size_t)sh->nant, sizeof *g->en);
    g->a1 = ib_calloc(nbl, sizeof *g->a1);
    g->a2 = ib_calloc(nbl, sizeof *g->a2);
    g->bl = ib_calloc(3 * nbl, sizeof *g->bl);
    g->fdir = ib_calloc(2 * nf, sizeof *g->fdir);
    g->flm = ib_calloc(2 * nf, sizeof *g->flm);
    g->fsin = ib_calloc(nf, sizeof *g->fsin);
    g->fcos = ib_calloc(nf, sizeof *g->fcos);
    g->fdra = ib_calloc(nf, sizeof *g->fdra);
    if (!g->en || !g->a1 || !g->a2 || !g->bl || !g->fdir || !g->flm || !g->fsin || !g->fcos ||
        !g->fdra) {
        geom_release(g);
        return ib_error(e, IB_ENOMEM, "out of memory for the array layout");
    }
    if (ds->telescope == WL_TEL_VLA)
        layout_y(g->nant, ds->extent_m, g->en);
    else
        layout_disk(ib_hash4(LAYOUT_TAG, (uint64_t)ds->telescope, 0, 0), g->nant, ds->extent_m,
                    ds->dish_m, g->en);
    double sl = sin(ds->latitude_rad), cl = cos(ds->latitude_rad);
    size_t b = 0;
    for (int i = 0; i < g->nant && b < nbl; i++)
        for (int j = i + 1; j < g->nant && b < nbl; j++, b++) {
            double de = g->en[2 * j] - g->en[2 * i], dn = g->en[2 * j + 1] - g->en[2 * i + 1];
            g->a1[b] = i;
            g->a2[b] = j;
            /* ENU (up = 0) to equatorial: X to H=0, Y to H=-6h (east), Z to the pole */
            g->bl[3 * b] = -sl * dn;
            g->bl[3 * b + 1] = de;
            g->bl[3 * b + 2] = cl * dn;
        }
    IB_ASSERT(b == nbl);
    if (g->nfield > 1) {
        int rc = layout_hex(e, g->nfield, sh->pointing_spacing_rad, ds->image_nx, ds->image_ny,
                            g->flm);
        if (rc) {
            geom_release(g);
            return rc;
        }
    }
    for (size_t f = 0; f < nf; f++) {
        double ra, dec;
        wl__lm_to_radec(ds->ra_rad, ds->dec_rad, g->flm[2 * f], g->flm[2 * f + 1], &ra, &dec);
        if (f == 0 && g->flm[0] == 0 && g->flm[1] == 0) {
            ra = ds->ra_rad;
            dec = ds->dec_rad;
        }
        g->fdra[f] = ra - ds->ra_rad;
        g->fdir[2 * f] = fmod(ra + 2.0 * M_PI, 2.0 * M_PI);
        g->fdir[2 * f + 1] = dec;
        g->fsin[f] = sin(dec);
        g->fcos[f] = cos(dec);
    }
    return 0;
}

/* First time index of part k of n equal parts of ntime. */
static inline int64_t part_start(int64_t ntime, int n, int64_t k)
{
    return (k * ntime + n - 1) / n;
}

static inline int part_of(int64_t ntime, int n, int64_t t) { return (int)(t * n / ntime); }

/* Hour angle of the phase centre at the middle of integration t: one
 * track centred on transit, or per execution block its own track of its
 * own length centred at its own hour angle (EB_SPAN_S). */
static double hour_angle(const wl_gen_shape *sh, int64_t t)
{
    if (sh->nexec <= 1)
        return OMEGA_SID * (((double)t + 0.5) * sh->integration_s - 0.5 * sh->duration_s);
    int k = part_of(sh->ntime, sh->nexec, t);
    int64_t t0 = part_start(sh->ntime, sh->nexec, k), t1 = part_start(sh->ntime, sh->nexec, k + 1);
    double len = (double)(t1 - t0) * sh->integration_s;
    double span = fmin(EB_SPAN_S, fmax(0.0, sh->duration_s - len));
    double centre = -0.5 * span + span * (double)k / (double)(sh->nexec - 1);
    return OMEGA_SID * (centre + ((double)(t - t0) + 0.5) * sh->integration_s - 0.5 * len);
}

/* uvw (m) of baseline b at the phase centre's hour angle ha for field f. */
static inline void row_uvw(const geom *g, double ha, int64_t b, int f, double *uvw)
{
    double h = ha - g->fdra[f];
    double sh_ = sin(h), ch = cos(h), sd = g->fsin[f], cd = g->fcos[f];
    const double *L = g->bl + 3 * b;
    uvw[0] = sh_ * L[0] + ch * L[1];
    uvw[1] = -sd * ch * L[0] + sd * sh_ * L[1] + cd * L[2];
    uvw[2] = cd * ch * L[0] - cd * sh_ * L[1] + sd * L[2];
}

static inline int field_of(const wl_gen_shape *sh, int64_t t)
{
    return (int)((t / sh->field_block) % sh->nfield);
}

/* ---- the generator context ------------------------------------------ */

typedef struct gen {
    const wl_dataset *ds;
    const wl_gen_opts *o;
    wl_gen_shape sh;
    geom g;
    int32_t *row_t, *row_b; /* nrow: time index and baseline of each row */
    int nsrc;
    const wl_source *src;   /* nsrc */
    wl_source *own_src;     /* seeded sky (freed at the end) */
    double *lmn;            /* 3*(nfield*nsrc): l, m, n-1 of each source per field */
    double *amp;            /* nfield*nsrc*nchan: S(nu) PB(nu) */
    double *q;              /* nsrc: Q/I */
    double *gk;             /* 3*nsrc: Gaussian sigma_maj^2, sigma_min^2 (m^2 scaled), pa */
    double cI[WL_MAX_POL], cQ[WL_MAX_POL];
    int use_q;
    float *wfac;            /* nbl: per-baseline weight factor x base weight */
    double cell;            /* rad */
    double umax_lambda;
} gen;

static void gen_release(gen *G)
{
    geom_release(&G->g);
    ib_free(G->own_src);
    ib_free(G->lmn);
    ib_free(G->amp);
    ib_free(G->q);
    ib_free(G->gk);
    ib_free(G->wfac);
    ib_free(G->row_t);
    ib_free(G->row_b);
}

/*
 * The rows: nrow of the ntime x nbaseline grid, time-major. The rows to
 * drop, D = nrow_full - nrow, are spread evenly over the times (time t
 * drops floor((t+1)D/T) - floor(tD/T)). Each time segment (execution
 * block) has its own order of antennas (a seeded shuffle, fixed by the
 * spec); at each time the antennas are absent in that order while a whole
 * antenna's remaining baselines fit the count, and the rest of the count
 * are the lowest-numbered baselines of the next antenna in the order.
 */
static int rows_build(ib_err *e, gen *G)
{
    const wl_gen_shape *sh = &G->sh;
    const int64_t T = sh->ntime, B = sh->nbaseline, D = sh->nrow_full - sh->nrow;
    const int nant = sh->nant;
    if (D < 0 || (D > 0 && T > INT64_MAX / D) || T > INT32_MAX || B > INT32_MAX)
        return ib_error(e, IB_EOVERFLOW, "dataset '%s': %lld rows are too many", G->ds->name,
                        (long long)sh->nrow);
    G->row_t = ib_malloc((size_t)sh->nrow * sizeof *G->row_t);
    G->row_b = ib_malloc((size_t)sh->nrow * sizeof *G->row_b);
    uint8_t *gone = ib_malloc((size_t)B);
    int32_t *order = ib_malloc((size_t)nant * sizeof *order);
    if (!G->row_t || !G->row_b || !gone || !order) {
        ib_free(gone);
        ib_free(order);
        return ib_error(e, IB_ENOMEM, "out of memory for the row table (%lld rows)",
                        (long long)sh->nrow);
    }
    int seg = -1;
    int64_t r = 0;
    for (int64_t t = 0; t < T; t++) {
        int k = part_of(T, sh->nsegment, t);
        if (k != seg) {
            seg = k;
            for (int a = 0; a < nant; a++) order[a] = a;
            for (int a = nant - 1; a > 0; a--) {
                int j = (int)(ib_hash4(ABSENT_TAG, (uint64_t)k, (uint64_t)a, 0) % (uint64_t)(a + 1));
                int32_t x = order[a];
                order[a] = order[j];
                order[j] = x;
            }
        }
        int64_t rem = D ? (t + 1) * D / T - t * D / T : 0;
        memset(gone, 0, (size_t)B);
        for (int q = 0; q < nant && rem > 0; q++) {
            int32_t a = order[q];
            for (int64_t b = 0; b < B && rem > 0; b++)
                if (!gone[b] && (G->g.a1[b] == a || G->g.a2[b] == a)) {
                    gone[b] = 1;
                    rem--;
                }
        }
        for (int64_t b = 0; b < B; b++)
            if (!gone[b] && r < sh->nrow) {
                G->row_t[r] = (int32_t)t;
                G->row_b[r] = (int32_t)b;
                r++;
            }
    }
    ib_free(gone);
    ib_free(order);
    IB_ASSERT(r == sh->nrow);
    return 0;
}


/* Coefficients of I and Q in each correlation (U = V = 0). */
static void corr_coeffs(int code, double *ci, double *cq)
{
    switch (code) {
    case -5: *ci = 1; *cq = 1; break;    /* XX = I + Q */
    case -6: *ci = 1; *cq = -1; break;   /* YY = I - Q */
    case -1: case -2: case 1: *ci = 1; *cq = 0; break; /* RR, LL, I */
    case -3: case -4: case 2: *ci = 0; *cq = 1; break; /* RL, LR = Q (U = 0), Q */
    default: *ci = 0; *cq = 0; break;    /* XY, YX, U, V */
    }
}

static int sky_tables(ib_err *e, gen *G)
{
    const wl_gen_shape *sh = &G->sh;
    size_t nf = (size_t)sh->nfield, ns = (size_t)G->nsrc, nc = (size_t)sh->nchan, n;
    if (ib_mul3_size(nf, ns ? ns : 1, nc, &n) || n > SIZE_MAX / sizeof(double))
        return ib_error(e, IB_EOVERFLOW, "sky table of %zu fields x %zu sources x %zu channels "
                        "is too large", nf, ns, nc);
    G->amp = ib_malloc(n * sizeof *G->amp);
    G->lmn = ib_malloc(3 * nf * (ns ? ns : 1) * sizeof *G->lmn);
    G->q = ib_calloc(ns ? ns : 1, sizeof *G->q);
    G->gk = ib_calloc(3 * (ns ? ns : 1), sizeof *G->gk);
    if (!G->amp || !G->lmn || !G->q || !G->gk)
        return ib_error(e, IB_ENOMEM, "out of memory for the sky tables (%zu MB)",
                        n * sizeof(double) >> 20);
    const double fwhm_to_sigma = 1.0 / (2.0 * sqrt(2.0 * log(2.0)));
    for (size_t s = 0; s < ns; s++) {
        const wl_source *p = &G->src[s];
        double ref = p->ref_freq_hz > 0 ? p->ref_freq_hz : sh->ref_freq_hz;
        double ra, dec;
        wl__lm_to_radec(G->ds->ra_rad, G->ds->dec_rad, p->l, p->m, &ra, &dec);
        G->q[s] = p->q_frac;
        if (p->q_frac != 0) G->use_q = 1;
        if (p->kind == WL_SRC_GAUSSIAN) {
            /* Taper exp(-2 pi^2 (s_maj^2 u_maj^2 + s_min^2 u_min^2)) with u in
             * wavelengths = metres * nu / c; the c^-2 is folded in here. */
            double smaj = p->major * fwhm_to_sigma, smin = p->minor * fwhm_to_sigma;
            double k = 2.0 * M_PI * M_PI / (WL__C_LIGHT * WL__C_LIGHT);
            G->gk[3 * s] = k * smaj * smaj;
            G->gk[3 * s + 1] = k * smin * smin;
            G->gk[3 * s + 2] = p->pa;
        }
        for (size_t f = 0; f < nf; f++) {
            double fra = G->g.fdir[2 * f], fdec = G->g.fdir[2 * f + 1], l, m;
            if (f == 0 && G->g.nfield == 1) {
                l = p->l;   /* exactly as given, for the single pointing */
                m = p->m;
            } else {
                wl__radec_to_lm(fra, fdec, ra, dec, &l, &m);
            }
            double *t = G->lmn + 3 * (f * ns + s);
            t[0] = l;
            t[1] = m;
            t[2] = wl__n_minus_1(l, m);
            double *a = G->amp + (f * ns + s) * nc;
            for (size_t c = 0; c < nc; c++) {
                double nu = sh->freq0_hz + (double)c * sh->chan_width_hz;
                double sflux = p->spectral_index == 0
                                   ? p->flux_jy
                                   : p->flux_jy * pow(nu / ref, p->spectral_index);
                /* The imager's beam model (imaging.h), so that simulated and
                 * imaged mosaics agree. */
                a[c] = G->o->no_pb ? sflux : sflux * img_pb(l, m, nu, G->ds->dish_m);
            }
        }
    }
    for (int k = 0; k < sh->npol; k++) corr_coeffs(G->ds->corr[k], &G->cI[k], &G->cQ[k]);
    int any_q = 0;
    for (int k = 0; k < sh->npol; k++) any_q |= G->cQ[k] != 0;
    G->use_q &= any_q;
    return 0;
}

/* ---- per-row synthesis ------------------------------------------- */

typedef struct scratch {
    double *ir, *ii, *qr, *qi; /* nchan each */
} scratch;

/*
 * One resync block of n <= RESYNC channels of one source: add amp[c] *
 * taper(c) * phase(c) to the accumulators. The phase advances by the
 * rotation (dr, di) per channel. To keep the loops free of a serial
 * dependency the first LANES channels are stepped one by one and every
 * later channel is the one LANES before it times (dr, di)^LANES: a
 * dependence distance the compiler vectorises. The Gaussian taper
 * exp(-K nu^2) is stepped the same way (see row_sky); taper == NULL is a
 * point source.
 */
#define LANES 8

static void block_add(int64_t n, const double *restrict a, double pr0, double pi0, double dr,
                      double di, const double *taper, double qk, int use_q,
                      double *restrict ir, double *restrict ii, double *restrict qr,
                      double *restrict qi)
{
    double phr[RESYNC], phi[RESYNC], gw[RESYNC], g8[RESYNC];
    phr[0] = pr0;
    phi[0] = pi0;
    for (int j = 1; j < LANES; j++) {
        phr[j] = phr[j - 1] * dr - phi[j - 1] * di;
        phi[j] = phr[j - 1] * di + phi[j - 1] * dr;
    }
    double r8r = dr, r8i = di;
    for (int k = 1; k < LANES; k *= 2) {
        double t = r8r * r8r - r8i * r8i;
        r8i = 2.0 * r8r * r8i;
        r8r = t;
    }
    for (int64_t c = LANES; c < n; c++) {
        phr[c] = phr[c - LANES] * r8r - phi[c - LANES] * r8i;
        phi[c] = phr[c - LANES] * r8i + phi[c - LANES] * r8r;
    }
    if (taper) {
        /* taper[0..4]: G at the first channel, its ratio r to the next, the
         * ratio's own factor q per channel, q^28, q^64. Over LANES channels
         * from c the taper changes by r(c)^8 q^28, and that by q^64. */
        double r = taper[1];
        gw[0] = taper[0];
        for (int j = 0; j < LANES; j++) {
            if (j) gw[j] = gw[j - 1] * (r / taper[2]);
            double t = r * r;
            t *= t;
            t *= t;
            g8[j] = t * taper[3];
            r *= taper[2];
        }
        for (int64_t c = LANES; c < n; c++) {
            gw[c] = gw[c - LANES] * g8[c - LANES];
            g8[c] = g8[c - LANES] * taper[4];
        }
        if (use_q) {
            for (int64_t c = 0; c < n; c++) {
                double ag = a[c] * gw[c];
                double ar = ag * phr[c], ai = ag * phi[c];
                ir[c] += ar;
                ii[c] += ai;
                qr[c] += qk * ar;
                qi[c] += qk * ai;
            }
        } else {
            for (int64_t c = 0; c < n; c++) {
                double ag = a[c] * gw[c];
                ir[c] += ag * phr[c];
                ii[c] += ag * phi[c];
            }
        }
    } else if (use_q) {
        for (int64_t c = 0; c < n; c++) {
            double ar = a[c] * phr[c], ai = a[c] * phi[c];
            ir[c] += ar;
            ii[c] += ai;
            qr[c] += qk * ar;
            qi[c] += qk * ai;
        }
    } else {
        for (int64_t c = 0; c < n; c++) {
            ir[c] += a[c] * phr[c];
            ii[c] += a[c] * phi[c];
        }
    }
}

/* Accumulate the sky for one row into s (I and, if used, Q). */
static void row_sky(const gen *G, int f, const double *uvw, scratch *s)
{
    const int64_t nc = G->sh.nchan;
    const double nu0 = G->sh.freq0_hz, dnu = G->sh.chan_width_hz;
    memset(s->ir, 0, (size_t)nc * sizeof *s->ir);
    memset(s->ii, 0, (size_t)nc * sizeof *s->ii);
    if (G->use_q) {
        memset(s->qr, 0, (size_t)nc * sizeof *s->qr);
        memset(s->qi, 0, (size_t)nc * sizeof *s->qi);
    }
    for (int k = 0; k < G->nsrc; k++) {
        const double *t = G->lmn + 3 * ((size_t)f * G->nsrc + k);
        const double *a = G->amp + ((size_t)f * G->nsrc + k) * nc;
        /* phase per Hz: -2 pi (u l + v m + w (n-1)) / c */
        double kph = -2.0 * M_PI * (uvw[0] * t[0] + uvw[1] * t[1] + uvw[2] * t[2]) / WL__C_LIGHT;
        double dr = cos(kph * dnu), di = sin(kph * dnu);
        int gauss = G->src[k].kind == WL_SRC_GAUSSIAN;
        double gK = 0, taper[5], q = 1, q28 = 1, q64 = 1;
        if (gauss) {
            /* G(nu) = exp(-K nu^2): G(c+1) = G(c) r(c), r(c+1) = r(c) q */
            double sp = sin(G->gk[3 * k + 2]), cp = cos(G->gk[3 * k + 2]);
            double umaj = uvw[0] * sp + uvw[1] * cp, umin = uvw[0] * cp - uvw[1] * sp;
            gK = G->gk[3 * k] * umaj * umaj + G->gk[3 * k + 1] * umin * umin;
            q = exp(-2.0 * gK * dnu * dnu);
            q28 = exp(-56.0 * gK * dnu * dnu);
            q64 = exp(-128.0 * gK * dnu * dnu);
        }
        for (int64_t c0 = 0; c0 < nc; c0 += RESYNC) {
            int64_t c1 = c0 + RESYNC < nc ? c0 + RESYNC : nc;
            double nu = nu0 + (double)c0 * dnu;
            double ph = kph * nu;
            if (gauss) {
                taper[0] = exp(-gK * nu * nu);
                /* the taper only falls with frequency: once negligible, done */
                if (taper[0] < 1e-30) break;
                taper[1] = exp(-gK * (2.0 * nu * dnu + dnu * dnu));
                taper[2] = q;
                taper[3] = q28;
                taper[4] = q64;
            }
            block_add(c1 - c0, a + c0, cos(ph), sin(ph), dr, di, gauss ? taper : NULL, G->q[k],
                      G->use_q, s->ir + c0, s->ii + c0, s->qr + c0, s->qi + c0);
        }
    }
}

typedef struct slot {
    double *uvw, *time;
    float *vis, *weight;
    uint8_t *flag;
    int32_t *field, *a1, *a2;
} slot;

/* Fill rows [r0, r1) into slot s at offset (r - base). */
static void gen_rows(const gen *G, int64_t base, int64_t r0, int64_t r1, slot *s, scratch *sc)
{
    const wl_gen_shape *sh = &G->sh;
    const int64_t nc = sh->nchan;
    const int np = sh->npol;
    const uint64_t seed = G->o->seed;
    const double sigma = G->o->noise;
    /* a sample is flagged when its 16 random bits are below the fraction
     * times 2^16 (rounded: the fraction is kept to 1/65536) */
    const uint64_t fthr = (uint64_t)llround(G->o->flag_frac * 65536.0);
    for (int64_t r = r0; r < r1; r++) {
        int64_t i = r - base, t = G->row_t[r], b = G->row_b[r];
        int f = field_of(sh, t);
        double *uvw = s->uvw + 3 * i;
        row_uvw(&G->g, hour_angle(sh, t), b, f, uvw);
        s->time[i] = ((double)t + 0.5) * sh->integration_s;
        s->field[i] = f;
        s->a1[i] = G->g.a1[b];
        s->a2[i] = G->g.a2[b];
        row_sky(G, f, uvw, sc);
        float *v = s->vis + (size_t)i * (size_t)nc * (size_t)np * 2;
        float *w = s->weight + (size_t)i * (size_t)nc * (size_t)np;
        uint8_t *fl = s->flag + (size_t)i * (size_t)nc * (size_t)np;
        const float wv = G->wfac[b];
        for (int64_t c = 0; c < nc; c++) {
            /* flags: one hash per (row, channel), 16 bits per pol */
            const uint64_t fh = fthr ? ib_hash4(seed ^ FLAG_TAG, (uint64_t)r, (uint64_t)c, 0) : 0;
            for (int p = 0; p < np; p++) {
                double re = G->cI[p] * sc->ir[c], im = G->cI[p] * sc->ii[c];
                if (G->use_q) {
                    re += G->cQ[p] * sc->qr[c];
                    im += G->cQ[p] * sc->qi[c];
                }
                if (sigma > 0) {
                    double u1 = ib_uniform(ib_hash4(seed ^ NOISE_TAG, (uint64_t)r, (uint64_t)c,
                                                    (uint64_t)p));
                    double u2 = ib_uniform(ib_hash4(seed ^ (NOISE_TAG << 1), (uint64_t)r,
                                                    (uint64_t)c, (uint64_t)p));
                    double rad = sigma * sqrt(-2.0 * log(1.0 - u1));
                    re += rad * cos(2.0 * M_PI * u2);
                    im += rad * sin(2.0 * M_PI * u2);
                }
                size_t k = (size_t)c * (size_t)np + (size_t)p;
                v[2 * k] = (float)re;
                v[2 * k + 1] = (float)im;
                w[k] = wv;
                fl[k] = ((fh >> (16 * p)) & 0xffffu) < fthr;
            }
        }
    }
}

/* ---- the pipeline -------------------------------------------------- */

typedef struct pipeline {
    const gen *G;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nthreads;
    int64_t nblock, block_rows, nrow;
    int64_t written;           /* blocks written so far */
    int64_t ready_block[2];    /* block held in each slot */
    int ready_count[2];        /* workers done with it */
    int stop;
    slot slots[2];
} pipeline;

typedef struct worker {
    pipeline *P;
    int id;
    scratch sc;
    pthread_t th;
} worker;

static void *worker_main(void *arg)
{
    worker *W = arg;
    pipeline *P = W->P;
    for (int64_t k = 0; k < P->nblock; k++) {
        pthread_mutex_lock(&P->mu);
        /* slot k%2 is free once block k-2 has been written */
        while (!P->stop && P->written < k - 1) pthread_cond_wait(&P->cv, &P->mu);
        int stop = P->stop;
        pthread_mutex_unlock(&P->mu);
        if (stop) break;
        int64_t b0 = k * P->block_rows, b1 = b0 + P->block_rows;
        if (b1 > P->nrow) b1 = P->nrow;
        int64_t n = b1 - b0;
        int64_t r0 = b0 + n * W->id / P->nthreads, r1 = b0 + n * (W->id + 1) / P->nthreads;
        gen_rows(P->G, b0, r0, r1, &P->slots[k % 2], &W->sc);
        pthread_mutex_lock(&P->mu);
        int s = (int)(k % 2);
        if (P->ready_block[s] != k) {
            P->ready_block[s] = k;
            P->ready_count[s] = 0;
        }
        if (++P->ready_count[s] == P->nthreads) pthread_cond_broadcast(&P->cv);
        pthread_mutex_unlock(&P->mu);
    }
    return NULL;
}

static void slot_release(slot *s)
{
    ib_free(s->uvw);
    ib_free(s->time);
    ib_free(s->vis);
    ib_free(s->weight);
    ib_free(s->flag);
    ib_free(s->field);
    ib_free(s->a1);
    ib_free(s->a2);
    memset(s, 0, sizeof *s);
}

/* Ask for transparent huge pages on a large buffer: first touch of fresh
 * memory is slow on our VMs (~0.4 GB/s), and huge pages fault 512x less. */
static void advise_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), b = ((uintptr_t)p + n) & ~(huge - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static int slot_alloc(slot *s, size_t rows, size_t per_row_samples)
{
    size_t ns = rows * per_row_samples;
    s->uvw = ib_malloc(3 * rows * sizeof(double));
    s->time = ib_malloc(rows * sizeof(double));
    s->vis = ib_aligned_alloc(2 * ns * sizeof(float));
    s->weight = ib_aligned_alloc(ns * sizeof(float));
    s->flag = ib_aligned_alloc(ns);
    s->field = ib_malloc(rows * sizeof(int32_t));
    s->a1 = ib_malloc(rows * sizeof(int32_t));
    s->a2 = ib_malloc(rows * sizeof(int32_t));
    if (s->vis) advise_huge(s->vis, 2 * ns * sizeof(float));
    if (s->weight) advise_huge(s->weight, ns * sizeof(float));
    if (s->flag) advise_huge(s->flag, ns);
    return s->uvw && s->time && s->vis && s->weight && s->flag && s->field && s->a1 && s->a2
               ? 0
               : -1;
}

static int64_t choose_block_rows(const wl_gen_shape *sh, size_t per_row_bytes)
{
    const int64_t align = img_vis_chunk_rows(sh->nrow);
    int64_t rows;
    if ((double)align * (double)per_row_bytes <= SLOT_BYTES_MAX) {
        rows = align * (int64_t)(SLOT_BYTES_TARGET / (align * per_row_bytes));
        if (rows < align) rows = align;
    } else {
        rows = align;
        while (rows > 1 && (double)rows * (double)per_row_bytes > SLOT_BYTES_MAX) rows /= 2;
    }
    return rows < sh->nrow ? rows : sh->nrow;
}

static int run_pipeline(ib_err *e, gen *G, img_vis_store *st, int nthreads)
{
    const wl_gen_shape *sh = &G->sh;
    size_t per_row_samples = (size_t)sh->nchan * (size_t)sh->npol;
    size_t per_row_bytes = per_row_samples * (2 * sizeof(float) + sizeof(float) + 1) + 48;
    pipeline P;
    memset(&P, 0, sizeof P);
    P.G = G;
    P.nthreads = nthreads;
    P.nrow = sh->nrow;
    P.block_rows = G->o->block_rows > 0 ? (G->o->block_rows < sh->nrow ? G->o->block_rows
                                                                         : sh->nrow)
                                        : choose_block_rows(sh, per_row_bytes);
    P.nblock = (sh->nrow + P.block_rows - 1) / P.block_rows;
    P.ready_block[0] = P.ready_block[1] = -1;
    int rc = 0;
    worker *W = ib_calloc((size_t)nthreads, sizeof *W);
    if (!W || slot_alloc(&P.slots[0], (size_t)P.block_rows, per_row_samples) ||
        slot_alloc(&P.slots[1], (size_t)P.block_rows, per_row_samples)) {
        rc = ib_error(e, IB_ENOMEM, "out of memory for row blocks of %lld rows (%zu MB each)",
                      (long long)P.block_rows, (size_t)P.block_rows * per_row_bytes >> 20);
        goto out;
    }
    for (int i = 0; i < nthreads; i++) {
        size_t nc = (size_t)sh->nchan;
        W[i].sc.ir = ib_aligned_alloc(nc * sizeof(double));
        W[i].sc.ii = ib_aligned_alloc(nc * sizeof(double));
        W[i].sc.qr = ib_aligned_alloc(nc * sizeof(double));
        W[i].sc.qi = ib_aligned_alloc(nc * sizeof(double));
        if (!W[i].sc.ir || !W[i].sc.ii || !W[i].sc.qr || !W[i].sc.qi) {
            rc = ib_error(e, IB_ENOMEM, "out of memory for thread scratch");
            goto out;
        }
    }
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    int started = 0;
    for (; started < nthreads; started++) {
        W[started].P = &P;
        W[started].id = started;
        int err = pthread_create(&W[started].th, NULL, worker_main, &W[started]);
        if (err) {
            rc = ib_thread_error(e, err, "generator thread", started + 1, nthreads);
            break;
        }
    }
    if (started < nthreads) {
        /* the workers split each block by nthreads: without all of them no
         * block completes, so stop the ones that did start */
        pthread_mutex_lock(&P.mu);
        P.stop = 1;
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
    }
    for (int64_t k = 0; k < P.nblock && !rc; k++) {
        int s = (int)(k % 2);
        pthread_mutex_lock(&P.mu);
        while (!(P.ready_block[s] == k && P.ready_count[s] == nthreads))
            pthread_cond_wait(&P.cv, &P.mu);
        pthread_mutex_unlock(&P.mu);
        int64_t row0 = k * P.block_rows, n = P.block_rows;
        if (row0 + n > P.nrow) n = P.nrow - row0;
        slot *sl = &P.slots[s];
        rc = img_vis_write_rows(e, st, row0, n, sl->uvw, sl->vis, sl->weight, sl->flag,
                                sl->field, sl->a1, sl->a2, sl->time);
        pthread_mutex_lock(&P.mu);
        if (rc) P.stop = 1;
        P.written = k + 1;
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
        if (!rc && G->o->progress) G->o->progress(G->o->progress_ctx, row0 + n, P.nrow);
    }
    for (int i = 0; i < started; i++) pthread_join(W[i].th, NULL);
    pthread_cond_destroy(&P.cv);
    pthread_mutex_destroy(&P.mu);
out:
    if (W)
        for (int i = 0; i < nthreads; i++) {
            ib_free(W[i].sc.ir);
            ib_free(W[i].sc.ii);
            ib_free(W[i].sc.qr);
            ib_free(W[i].sc.qi);
        }
    ib_free(W);
    slot_release(&P.slots[0]);
    slot_release(&P.slots[1]);
    return rc;
}

/* ---- driver ----------------------------------------------------- */

static double max_uv_metres(const gen *G)
{
    const wl_gen_shape *sh = &G->sh;
    double m2 = 0;
    for (int64_t r = 0; r < sh->nrow; r++) {
        int64_t t = G->row_t[r];
        double uvw[3];
        row_uvw(&G->g, hour_angle(sh, t), G->row_b[r], field_of(sh, t), uvw);
        double r2 = uvw[0] * uvw[0] + uvw[1] * uvw[1];
        if (r2 > m2) m2 = r2;
    }
    return sqrt(m2);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int check_sources(ib_err *e, const gen *G, double half_l, double half_m)
{
    for (int s = 0; s < G->nsrc; s++) {
        const wl_source *p = &G->src[s];
        if (!isfinite(p->flux_jy) || !isfinite(p->l) || !isfinite(p->m) ||
            !isfinite(p->spectral_index) || !isfinite(p->q_frac))
            return ib_error(e, IB_EINVAL, "sky source %d has a non-finite value", s);
        if (fabs(p->l) > half_l || fabs(p->m) > half_m)
            return ib_error(e, IB_EINVAL,
                            "sky source %d at (%.3f, %.3f) arcsec lies outside the %dx%d image "
                            "of cell %.4g arcsec", s, p->l / WL__ARCSEC, p->m / WL__ARCSEC,
                            G->sh.image_nx, G->sh.image_ny, G->cell / WL__ARCSEC);
    }
    return 0;
}

int wl_generate(ib_err *e, const wl_dataset *ds, const wl_gen_opts *opts, const char *outdir,
                wl_gen_info *info)
{
    double t_start = ib_now();
    gen G;
    memset(&G, 0, sizeof G);
    G.ds = ds;
    G.o = opts;
    int rc = wl_gen_resolve(e, ds, opts, &G.sh);
    if (rc) return rc;
    const wl_gen_shape *sh = &G.sh;
    if ((rc = geom_build(e, ds, sh, &G.g))) return rc;
    if ((rc = rows_build(e, &G))) goto fail;

    /* Suggested cell: 1/(3 u_max), u_max in wavelengths at the top frequency. */
    double fmax = sh->freq0_hz + (double)(sh->nchan - 1) * sh->chan_width_hz;
    G.umax_lambda = max_uv_metres(&G) * fmax / WL__C_LIGHT;
    if (!isnan(opts->cell_arcsec))
        G.cell = opts->cell_arcsec * WL__ARCSEC;
    else if (G.umax_lambda > 0)
        G.cell = 1.0 / (3.0 * G.umax_lambda);
    else
        G.cell = 1.0 * WL__ARCSEC;
    double half_l = 0.5 * sh->image_nx * G.cell, half_m = 0.5 * sh->image_ny * G.cell;

    if (opts->nsky >= 0) {
        G.src = opts->sky;
        G.nsrc = opts->nsky;
    } else {
        wl__sky_geom sg = {half_l, half_m, G.cell, 0.0, sh->nfield, G.g.flm};
        if (!opts->no_pb) sg.pb_hwhm = 0.5 * img_pb_fwhm(sh->ref_freq_hz, ds->dish_m);
        if ((rc = wl__sky_seeded(e, opts->seed, opts->nsources, &sg, &G.own_src))) goto fail;
        G.src = G.own_src;
        G.nsrc = opts->nsources;
    }
    if ((rc = check_sources(e, &G, half_l, half_m)) || (rc = sky_tables(e, &G))) goto fail;

    G.wfac = ib_malloc((size_t)sh->nbaseline * sizeof *G.wfac);
    if (!G.wfac) {
        rc = ib_error(e, IB_ENOMEM, "out of memory for weights");
        goto fail;
    }
    double wbase = opts->noise > 0 ? 1.0 / (opts->noise * opts->noise) : 1.0;
    for (int64_t b = 0; b < sh->nbaseline; b++)
        G.wfac[b] = (float)(wbase * (0.5 + ib_uniform(ib_hash4(opts->seed ^ WEIGHT_TAG,
                                                              (uint64_t)G.g.a1[b],
                                                              (uint64_t)G.g.a2[b], 0))));

    /* Room on disk for the compact store. */
    double need = wl_gen_store_bytes(sh, opts);
    if ((rc = ib_mkdir_p(e, outdir))) goto fail;
    struct statvfs vfs;
    if (statvfs(outdir, &vfs) == 0) {
        double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
        if (need > avail) {
            rc = ib_error(e, IB_ENOSPACE, "output '%s': the dataset needs %.3f GB (%.0f bytes) "
                          "but only %.3f GB (%.0f bytes) are free", outdir, need / 1e9, need,
                          avail / 1e9, avail);
            goto fail;
        }
    }

    char sky_path[WL_PATH_MAX], vis_path[WL_PATH_MAX];
    if ((rc = ib_path_join(e, sky_path, sizeof sky_path, outdir, "sky.json")) ||
        (rc = ib_path_join(e, vis_path, sizeof vis_path, outdir, "vis.h5")))
        goto fail;
    /* A stale store must not sit next to the new sky while we write. */
    if (unlink(vis_path) != 0 && errno != ENOENT) {
        rc = ib_error(e, IB_EIO, "output '%s': cannot remove the old store: %s", vis_path,
                      strerror(errno));
        goto fail;
    }
    wl__sky_meta sm = {ds->name, opts->seed, ds->ra_rad, ds->dec_rad, sh->ref_freq_hz,
                       G.cell / WL__ARCSEC, ds->dish_m, !opts->no_pb};
    if ((rc = wl__sky_write(e, sky_path, &sm, G.src, G.nsrc))) goto fail;

    img_vis_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.dataset, sizeof meta.dataset, "%s", ds->name);
    snprintf(meta.telescope, sizeof meta.telescope, "%s", wl_telescope_name(ds->telescope));
    meta.nrow = sh->nrow;
    meta.nchan = sh->nchan;
    meta.npol = sh->npol;
    meta.nfield = sh->nfield;
    meta.nant = sh->nant;
    for (int k = 0; k < sh->npol; k++) meta.corr[k] = ds->corr[k];
    meta.phase_centre[0] = ds->ra_rad;
    meta.phase_centre[1] = ds->dec_rad;
    meta.image_nx = sh->image_nx;
    meta.image_ny = sh->image_ny;
    meta.cell_arcsec = G.cell / WL__ARCSEC;
    double *freq = ib_malloc((size_t)sh->nchan * sizeof *freq);
    double *dish = ib_malloc((size_t)sh->nant * sizeof *dish);
    if (!freq || !dish) {
        ib_free(freq);
        ib_free(dish);
        rc = ib_error(e, IB_ENOMEM, "out of memory for the channel table");
        goto fail;
    }
    for (int64_t c = 0; c < sh->nchan; c++) freq[c] = sh->freq0_hz + (double)c * sh->chan_width_hz;
    for (int a = 0; a < sh->nant; a++) dish[a] = ds->dish_m;
    img_vis_store *st = NULL;
    rc = img_vis_create(e, outdir, &meta, freq, G.g.fdir, dish, &st);
    ib_free(freq);
    ib_free(dish);
    if (rc) goto fail;

    int nthreads = opts->threads;
    if (nthreads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = n > 0 ? (int)n : 1;
    }
    if (nthreads > 256) nthreads = 256;
    rc = run_pipeline(e, &G, st, nthreads);
    if (rc) {
        img_vis_abort(st);
        goto fail;
    }
    if ((rc = img_vis_close(e, st))) goto fail;

    if (info) {
        memset(info, 0, sizeof *info);
        info->shape = *sh;
        info->cell_arcsec = G.cell / WL__ARCSEC;
        info->umax_lambda = G.umax_lambda;
        info->nsources = G.nsrc;
        info->nvis = sh->nrow * sh->nchan;
        info->nsamples = info->nvis * sh->npol;
        info->bytes_on_disk = file_size(vis_path) + file_size(sky_path);
        info->seconds = ib_now() - t_start;
        info->rate = info->seconds > 0 ? (double)info->nsamples / info->seconds : 0;
        info->threads = nthreads;
    }
    gen_release(&G);
    return 0;
fail:
    gen_release(&G);
    return rc;
}

/* ---- cache key --------------------------------------------------- */

typedef struct hasher {
    uint64_t h1, h2, n;
} hasher;

static void hash_bytes(hasher *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        size_t k = n - i < 8 ? n - i : 8;
        for (size_t j = 0; j < k; j++) w |= (uint64_t)b[i + j] << (8 * j);
        h->h1 = ib_hash4(h->h1, w, h->n, 0x6831);
        h->h2 = ib_hash4(h->h2 ^ 0x9e3779b97f4a7c15ULL, w, h->n, 0x6832);
        h->n++;
    }
}

static void hash_printf(hasher *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void hash_printf(hasher *h, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    hash_bytes(h, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    hash_bytes(h, "\n", 1);
}

int wl_gen_cache_key(ib_err *e, const wl_dataset *ds, const wl_gen_opts *o, char out[33])
{
    wl_gen_shape sh;
    int rc = wl_gen_resolve(e, ds, o, &sh);
    if (rc) return rc;
    hasher h = {0x696d62656e636831ULL, 0x776c67656e6b6579ULL, 0};
    hash_printf(&h, "wl-gen %d store %d", WL_GEN_VERSION, IMG_VIS_FORMAT_VERSION);
    /* the spec's canonical values (what the generator reads) */
    hash_printf(&h, "name %s tel %d grid %d pointings %d", ds->name, (int)ds->telescope,
                (int)ds->gridder, ds->npointing);
    hash_printf(&h, "spec %lld %lld %lld %d image %d %d", (long long)ds->ntime,
                (long long)ds->nbaseline, (long long)ds->nchan, ds->npol, ds->image_nx,
                ds->image_ny);
    hash_printf(&h, "freq %.17g %.17g dish %.17g extent %.17g", ds->freq_start_hz,
                ds->chan_width_hz, ds->dish_m, ds->extent_m);
    hash_printf(&h, "site %.17g dir %.17g %.17g duration %.17g", ds->latitude_rad, ds->ra_rad,
                ds->dec_rad, ds->duration_s);
    for (int k = 0; k < ds->npol; k++) hash_printf(&h, "corr %d", ds->corr[k]);
    /* the resolved shape and every option that changes the data */
    hash_printf(&h, "shape %lld %lld %lld %d %d image %d %d", (long long)sh.ntime,
                (long long)sh.nbaseline, (long long)sh.nchan, sh.npol, sh.nfield, sh.image_nx,
                sh.image_ny);
    hash_printf(&h, "rows %lld of %lld, stated %lld, blocks %d segments %d", (long long)sh.nrow,
                (long long)sh.nrow_full, (long long)ds->rows, sh.nexec, sh.nsegment);
    hash_printf(&h, "cell %.17g seed %llu noise %.17g flag %.17g pb %d",
                isnan(o->cell_arcsec) ? 0.0 : o->cell_arcsec, (unsigned long long)o->seed,
                o->noise, o->flag_frac, !o->no_pb);
    if (o->nsky >= 0) {
        hash_printf(&h, "sky %d", o->nsky);
        for (int s = 0; s < o->nsky; s++) {
            const wl_source *p = &o->sky[s];
            hash_printf(&h, "src %d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g %.17g",
                        (int)p->kind, p->l, p->m, p->flux_jy, p->ref_freq_hz, p->spectral_index,
                        p->q_frac, p->major, p->minor, p->pa);
        }
    } else {
        hash_printf(&h, "sources %d", o->nsources);
    }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.h1, (unsigned long long)h.h2);
    return 0;
}
