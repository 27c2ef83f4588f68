/*
 * workloads: what the benchmark runs on. Seed dataset specifications
 * (workloads/datasets/NAME.yaml, parsed strictly with libyaml into
 * wl_dataset), and the synthetic generator that turns a spec, scaled down
 * by a factor, into a visibility store (DIR/vis.h5 through the img_vis_*
 * API) plus the sky model it was made from (DIR/sky.json). Prefix wl_.
 * Depends on common/ and imaging/ (the store API) only.
 *
 * The generator's physics, in one paragraph: antennas on a deterministic
 * layout per telescope (ALMA/ACA: centrally concentrated random positions
 * in a disk; VLA: a Y of power-law spaced arms), uvw by earth rotation at
 * the site latitude over the assumed duration, rows time-major as in a
 * MeasurementSet; mosaics visit hexagonally spaced pointings in blocks of
 * integrations, each field phased to its own centre; the sky is a seeded
 * list of point and Gaussian sources with a spectral index and a little
 * Stokes Q, transformed by an exact direct Fourier transform
 *   V = sum_s S_s(nu) PB(s,nu) G_s(u,v) exp(-2 pi i (u l + v m + w (n-1)))
 * (u,v,w in wavelengths; the imager uses exp(+2 pi i (u l + v m))), with an
 * Airy primary beam and optional Gaussian noise, weights and flags. Every
 * value is a pure function of (spec, options, seed): the output does not
 * depend on the thread count.
 */
#ifndef WL_WORKLOADS_H
#define WL_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ------------------------------------------------------------------ */
/* Dataset specifications (dataset.c)                                  */
/* ------------------------------------------------------------------ */

#define WL_NAME_MAX 64
#define WL_TEXT_MAX 256
#define WL_PATH_MAX 4096
#define WL_MAX_CHUNKS 32
#define WL_MAX_POL 4

/* Telescope, which fixes the antenna layout model. */
enum wl_telescope {
    WL_TEL_ALMA,  /* ALMA 12 m array: disk layout, store telescope "ALMA" */
    WL_TEL_ACA,   /* Atacama Compact Array (7 m): disk layout, "ACA" */
    WL_TEL_VLA    /* Karl G. Jansky VLA: Y-shaped layout, "VLA" */
};

enum wl_gridder { WL_GRIDDER_STANDARD, WL_GRIDDER_MOSAIC };

/*
 * One dataset spec. Plain data, no heap: copy it freely; nothing to
 * release. Fields marked "fact" are the seed study's; the others come
 * from the file's `assumptions:` mapping and are documented there.
 */
typedef struct wl_dataset {
    char name[WL_NAME_MAX];        /* [a-z0-9._-]+, equals the file's base name */
    char path[WL_PATH_MAX];        /* file it was read from */
    char description[WL_TEXT_MAX]; /* optional */
    char project[WL_NAME_MAX];     /* optional, e.g. "2017.1.00717.S" */
    char mous[WL_NAME_MAX];        /* optional, e.g. "X1273/Xc66" */
    enum wl_telescope telescope;
    enum wl_gridder gridder;
    int64_t rows;                  /* fact: rows of the seed MS (<= time*baseline) */
    int64_t ntime, nbaseline, nchan; /* fact: shape.time, shape.baseline, shape.chan */
    int npol;                      /* fact: shape.pol, 1..4 */
    int image_nx, image_ny;        /* fact: image.x, image.y */
    double volume_bytes;           /* fact: volume (0 when not given) */
    int nchunks;                   /* fact: chunk counts swept (0..WL_MAX_CHUNKS) */
    int64_t chunks[WL_MAX_CHUNKS];
    int execution_blocks;          /* fact when given, else 0 */
    int npointing;                 /* pointings: 1 for standard datasets */
    int npointing_assumed;         /* 1 when npointing came from assumptions */
    /* assumptions */
    double freq_start_hz;          /* centre of the first channel */
    double chan_width_hz;          /* > 0: channels ascend */
    double dish_m;                 /* dish diameter, every antenna */
    double extent_m;               /* largest antenna separation of the layout */
    double latitude_rad;           /* site latitude */
    double ra_rad, dec_rad;        /* phase (mosaic) centre */
    double duration_s;             /* observation length kept under scaling */
    int corr[WL_MAX_POL];          /* AIPS codes, npol of them: -5 XX, -6 YY, ... */
} wl_dataset;

/* "ALMA", "ACA", "VLA"; "standard", "mosaic". */
const char *wl_telescope_name(enum wl_telescope t);
const char *wl_gridder_name(enum wl_gridder g);

/*
 * Parse the dataset spec in file `path` into *out (filled on success,
 * unspecified on failure). Strict: unknown keys, duplicate keys, wrong
 * types, missing required fields, non-positive sizes and inconsistent
 * values are errors whose message names the file, line, column and field,
 * e.g. "dataset 'x.yaml' line 4 column 7: field 'shape.chan' must be a
 * positive integer, got 'abc'". Returns 0, IB_EIO (unreadable file),
 * IB_EPARSE (not YAML, wrong shape or value) or IB_ENOMEM.
 */
int wl_dataset_load(ib_err *e, const char *path, wl_dataset *out);

/*
 * Directory holding the dataset specs: `dir` when not NULL/empty, else
 * $IMBENCH_DATASETS, else <dir of the running binary>/../../workloads/
 * datasets (binaries live in build/bin; sanitizer builds one level deeper
 * are also found), else <dir of the binary>/../share/imbench/datasets (an
 * installed PREFIX/bin), else IB_DATADIR/datasets (the datadir compiled
 * in, make install's). Writes it into out (size n). IB_ENOTFOUND when
 * none of these exists, IB_EOVERFLOW when out is too small.
 */
int wl_datasets_dir(ib_err *e, const char *dir, char *out, size_t n);

/*
 * Names of the specs in the datasets directory (see wl_datasets_dir),
 * sorted, joined with ", " into out (size n; truncated with "..." when
 * long). Returns the number of names, or a negative error.
 */
int wl_dataset_names(ib_err *e, const char *dir, char *out, size_t n);

/*
 * Find dataset `name` and load it into *out. name is a spec name, never
 * a path: NAME.yaml is looked up in the datasets directory (see
 * wl_datasets_dir); a name the parameter table refuses (a '/', say) is
 * IB_EINVAL in its words and no file is opened. An unknown name gives
 * IB_ENOTFOUND with a message listing the known datasets; parse errors
 * are those of wl_dataset_load.
 */
int wl_dataset_find(ib_err *e, const char *name, const char *dir, wl_dataset *out);

/* ------------------------------------------------------------------ */
/* Sky models (sky.c)                                                   */
/* ------------------------------------------------------------------ */

enum wl_source_kind { WL_SRC_POINT, WL_SRC_GAUSSIAN };

/*
 * One source. Position as SIN-projected offsets (radians) from the phase
 * (mosaic) centre: l towards east, m towards north. Flux density at
 * ref_freq_hz (0 = the band centre) scales as (nu/ref)^spectral_index;
 * q_frac = Q/I (XX = I+Q, YY = I-Q; circular feeds see only I). Gaussians
 * have FWHM axes (radians) and a position angle (radians, north through
 * east); flux is the integrated flux.
 */
typedef struct wl_source {
    enum wl_source_kind kind;
    double l, m;
    double flux_jy, ref_freq_hz, spectral_index, q_frac;
    double major, minor, pa;
} wl_source;

/*
 * Read a sky model JSON (the "sources" array of a sky.json written by the
 * generator, or one written by hand: l_arcsec, m_arcsec and flux_jy are
 * required; kind "point"|"gaussian", spectral_index, q_frac, ref_freq_hz,
 * major_arcsec, minor_arcsec, pa_deg optional; ra_deg/dec_deg ignored).
 * On success *out is a heap array the caller frees with ib_free and *n its
 * length; on failure *out is NULL and e names the file and source index.
 */
int wl_sky_load(ib_err *e, const char *path, wl_source **out, int *n);

/* ------------------------------------------------------------------ */
/* Synthetic generator (gen.c)                                          */
/* ------------------------------------------------------------------ */

/* Bump when any generated value changes for the same spec and options:
 * it is part of the cache key. */
#define WL_GEN_VERSION 3 /* 3: the stated rows, execution blocks; 2: the imager's beam model */

/*
 * Generator options. wl_gen_opts_init sets the defaults; -1 (or NaN for
 * cell_arcsec) means "not given". Overrides win over the scale: --times,
 * --chans, --baselines or --antennas, --image.
 */
typedef struct wl_gen_opts {
    double scale;          /* visibility count x ~scale (default 1) */
    int64_t times;         /* time steps (-1: from scale) */
    int64_t chans;         /* channels (-1: from scale) */
    int64_t baselines;     /* baselines (-1: the spec's) */
    int antennas;          /* n antennas: n(n-1)/2 baselines (-1: unset) */
    int image_nx, image_ny; /* suggested image (-1: the spec's) */
    double cell_arcsec;    /* suggested cell (NaN: 1/(3 u_max)) */
    uint64_t seed;         /* sky, noise and flags (default 1) */
    double noise;          /* Jy per real/imag part (default 0) */
    double flag_frac;      /* fraction of samples flagged (default 0.02) */
    int nsources;          /* seeded sky size (default 10: 8 points, 2 Gaussians) */
    int no_pb;             /* 1: no primary beam attenuation */
    int threads;           /* worker threads (<= 0: online CPUs); not in the key */
    int64_t block_rows;    /* rows per write block (<= 0: automatic, a multiple
                            * of the store's row chunks); not in the key */
    const wl_source *sky;  /* explicit sky (borrowed), used when nsky >= 0 */
    int nsky;              /* -1: seeded sky of nsources */
    /* Progress: called by the writing thread after each row block. */
    void (*progress)(void *ctx, int64_t rows_done, int64_t nrow);
    void *progress_ctx;
} wl_gen_opts;

void wl_gen_opts_init(wl_gen_opts *o);

/*
 * The shape a (spec, options) pair resolves to.
 * Scaling: with f = sqrt(scale), time and channel counts are each
 * multiplied by f and rounded (at least 2 times, at least 1 channel);
 * baselines are kept. The observation's duration is kept (integrations
 * get longer: integration = duration / ntime) and so is the band: the
 * total bandwidth nchan*width and its centre stay, channels get wider
 * (width' = width * nchan / nchan'). Mosaics keep the spec's pointing
 * count, clamped so that every field gets at least one time step.
 */
typedef struct wl_gen_shape {
    int64_t ntime, nbaseline, nchan, nrow;   /* nrow: rows written (see nrow_full) */
    int nant, npol, nfield;
    int image_nx, image_ny;
    double freq0_hz, chan_width_hz;          /* channel c: freq0 + c * width */
    double ref_freq_hz;                      /* band centre */
    double duration_s, integration_s;
    double pointing_spacing_rad;             /* hexagonal spacing; 0 if one field */
    int64_t field_block;                     /* integrations per visit of a field */
    int64_t nrow_full;                       /* ntime * nbaseline */
    /* nrow = nrow_full x rows / (time x baseline) of the spec when the
     * baselines are the dataset's own (no --baselines/--antennas), else
     * nrow_full: the stated row count at scale 1, scaled with the times. */
    int nexec;       /* execution blocks (the spec's; 1 when not given) */
    int nsegment;    /* time segments with their own absent antennas:
                      * the execution blocks, or 4 for one block */
} wl_gen_shape;

/*
 * Resolve the shape for ds and opts without generating anything. Invalid
 * options (scale <= 0, zero channels, image 0, ...) give IB_EINVAL naming
 * the option, e.g. "option '--scale' must be positive, got 0".
 */
int wl_gen_resolve(ib_err *e, const wl_dataset *ds, const wl_gen_opts *opts,
                   wl_gen_shape *out);

/* Bytes the store of shape sh (made with opts) takes on disk in the
 * compact format (docs/datasets.md), with a 1% margin and 1 MB of HDF5
 * structure: what `harness gen` and the dataset cache check free space
 * and the cache budget against. */
double wl_gen_store_bytes(const wl_gen_shape *sh, const wl_gen_opts *opts);

/* What wl_generate made. */
typedef struct wl_gen_info {
    wl_gen_shape shape;
    double cell_arcsec;       /* suggested cell stored in the store */
    double umax_lambda;       /* longest projected baseline at the top frequency */
    int nsources;
    int64_t nvis;             /* rows x channels */
    int64_t nsamples;         /* rows x channels x pols */
    uint64_t bytes_on_disk;   /* vis.h5 + sky.json */
    double seconds;           /* wall time of generation and writing */
    double rate;              /* samples per second */
    int threads;
} wl_gen_info;

/*
 * Generate the dataset: OUTDIR/sky.json (the sky model, written first)
 * and OUTDIR/vis.h5 (appearing only when complete: the store is written
 * as vis.h5.tmp and renamed). OUTDIR and its parents are created. The
 * suggested image is the spec's (or --image), the cell
 * 1/(3 u_max) rad with u_max the longest projected baseline in
 * wavelengths at the highest frequency (or --cell). On failure the
 * temporary store is removed, e says why, *info is unspecified.
 * info may be NULL.
 */
int wl_generate(ib_err *e, const wl_dataset *ds, const wl_gen_opts *opts,
                const char *outdir, wl_gen_info *info);

/*
 * Content key of the data wl_generate would write for (ds, opts): 32 hex
 * digits and a NUL in out. It hashes the spec's canonical values, every
 * option that changes the data (after resolution: equal shapes reached
 * through different options give equal keys; threads and progress do
 * not count) and WL_GEN_VERSION. Returns 0 or the wl_gen_resolve error.
 */
int wl_gen_cache_key(ib_err *e, const wl_dataset *ds, const wl_gen_opts *opts,
                     char out[33]);

#endif
