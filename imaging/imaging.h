/*
 * imaging: the imager library. A visibility store in HDF5, gridding kernels,
 * weighting, the standard gridder, FFT, grid correction and FITS cube
 * writing, run over channel chunks by worker threads. Prefix img_.
 * Depends on common/ and profiles/ only; knows nothing of SQLite.
 */
#ifndef IMG_IMAGING_H
#define IMG_IMAGING_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "imaging/par.h"
#include "profiles/profiles.h"

/* ------------------------------------------------------------------ */
/* Visibility store (vis_store.c)                                      */
/* ------------------------------------------------------------------ */

/*
 * Layout of DIR/vis.h5, format version 3 (IMG_VIS_FORMAT_VERSION, the
 * compact store; docs/datasets.md):
 *   /uvw     nrow x 3            float64  metres, w towards the field centre
 *   /vis     nchan x nrow x npol x 2 float32  (re, im) Jy
 *   /weight_row nrow x npol      float32  the weight of each row and pol
 *   /row_mask nrow               uint8    bit 0: this row's weights vary with
 *            channel (then /weight holds them); bit 1: some sample is flagged
 *   /weight  nchan x nrow x npol float32  only the row blocks that have a
 *            row with bit 0 are written (unwritten chunks take no space)
 *   /flag_bits nchan x ceil(nrow*npol/8) uint8: bit (row*npol + pol) of a
 *            channel, LSB first, set = flagged; only row blocks with a flag
 *            are written (unwritten chunks read as 0)
 *   /field   nrow                int32    index into /field_dir
 *   /antenna1, /antenna2 nrow    int32
 *   /time    nrow                float64  seconds (MJD seconds for real data)
 *   /freq    nchan               float64  Hz
 *   /field_dir nfield x 2        float64  (ra, dec) radians
 *   /dish_diameter nant          float64  metres
 * Format 2 (still read, written only on request): /weight nchan x nrow x
 * npol float32 and /flag nchan x nrow x npol uint8 for every sample, no
 * /weight_row, /row_mask or /flag_bits.
 * Attributes on the root group: format_version, dataset, telescope,
 * corr (npol AIPS Stokes codes: -5 XX, -6 YY, -1 RR, -2 LL, 1 I; a code
 * outside 1..4 and -1..-8 is refused), phase_centre (ra, dec radians),
 * image_nx, image_ny, cell_arcsec (suggested imaging parameters; 0 when
 * unknown).
 * The spectral datasets (vis, weight, flag) are channel-major and chunked
 * by 4 channels x IMG_VIS_ROW_CHUNK rows, so a reader of one channel chunk
 * reads one contiguous slab; the others are chunked along rows.
 * Every dataset carries a fletcher32 checksum.
 */
#define IMG_VIS_FORMAT_VERSION 3 /* 3: compact weights and flags; 2: channel-major */
#define IMG_VIS_ROW_CHUNK 4096 /* at most this many rows per spectral chunk */
/* Rows per spectral chunk of a store of nrow rows: nrow split evenly into
 * chunks of at most IMG_VIS_ROW_CHUNK rows, rounded up to a multiple of 8
 * (so flag bits of a chunk fill whole bytes). HDF5 stores an edge chunk at
 * full size: an even split keeps that waste under 8 rows per chunk instead
 * of up to a whole chunk. Writers write blocks of whole multiples. */
int64_t img_vis_chunk_rows(int64_t nrow);
#define IMG_MAX_POL 4

typedef struct img_vis_meta {
    char dataset[64];
    char telescope[32];
    int64_t nrow, nchan;
    int npol, nfield, nant;
    int corr[IMG_MAX_POL];
    double phase_centre[2];
    int image_nx, image_ny;
    double cell_arcsec;
} img_vis_meta;

typedef struct img_vis_store img_vis_store;

/*
 * Create DIR (and parents) and DIR/vis.h5 for meta's shape. freq has nchan
 * values, field_dir 2*nfield, dish nant. Rows are then written with
 * img_vis_write_rows in any order of row blocks; img_vis_close finishes.
 * The file is written as vis.h5.tmp and renamed on a successful close, so
 * an interrupted writer never leaves a store that looks complete.
 * On failure *out is NULL and e says why.
 */
int img_vis_create(ib_err *e, const char *dir, const img_vis_meta *meta,
                   const double *freq, const double *field_dir,
                   const double *dish, img_vis_store **out);
/* The same in an older format (2 or 3): for tests of old-store reading. */
int img_vis_create_format(ib_err *e, const char *dir, const img_vis_meta *meta,
                          const double *freq, const double *field_dir,
                          const double *dish, int version, img_vis_store **out);

/* Rows [row0, row0+n) of every row dataset; vis is n*nchan*npol*2 floats,
 * weight n*nchan*npol, flag n*nchan*npol, uvw 3n. Not thread-safe. */
int img_vis_write_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n,
                       const double *uvw, const float *vis, const float *weight,
                       const uint8_t *flag, const int32_t *field,
                       const int32_t *ant1, const int32_t *ant2,
                       const double *time);

/*
 * Open DIR/vis.h5 for reading and validate it: format version, every
 * dataset present with the shape the attributes imply, sizes that fit
 * memory arithmetic. The message names the file and the dataset.
 */
int img_vis_open(ib_err *e, const char *dir, img_vis_store **out);

/* Finish (writer: flush, close, rename into place) or close (reader).
 * Returns the first error; the store is freed either way. NULL is a no-op.
 * img_vis_abort removes a writer's temporary file instead of finishing. */
int img_vis_close(ib_err *e, img_vis_store *s);
void img_vis_abort(img_vis_store *s);

const img_vis_meta *img_vis_meta_get(const img_vis_store *s);
const double *img_vis_freq(const img_vis_store *s);       /* nchan */
const double *img_vis_field_dir(const img_vis_store *s);  /* 2*nfield */
const double *img_vis_dish(const img_vis_store *s);       /* nant */
const char *img_vis_path(const img_vis_store *s);
int img_vis_format(const img_vis_store *s);        /* format_version of the file */
/* 1 when the spectral datasets are read by pread of whole chunks (checksum
 * verified here) without HDF5's global lock; 0 when through H5Dread
 * (IMBENCH_STORE_READ=hdf5, or a file laid out otherwise). */
int img_vis_direct_reads(const img_vis_store *s);

/* Row metadata for rows [row0, row0+n); any pointer may be NULL to skip. */
int img_vis_read_rows(ib_err *e, img_vis_store *s, int64_t row0, int64_t n,
                      double *uvw, int32_t *field, int32_t *ant1,
                      int32_t *ant2, double *time);

/*
 * The slab rows [row0,row0+nr) x channels [chan0,chan0+nc) x all pols,
 * channel-major as stored: vis[(c*nr + r)*npol + p] (x2 floats), weight
 * and flag likewise (NULL to skip; weights and flags are expanded to one per
 * sample whatever the format). Thread-safe, and threads read in parallel
 * (see img_vis_direct_reads). Bytes of the spectral datasets read from the
 * file are added to *bytes when bytes is not NULL. An unflagged sample of
 * positive weight whose visibility is NaN or infinite is an error
 * (IB_ECORRUPT naming the count, first row, channel and pol).
 */
int img_vis_read_chans(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr,
                       int64_t chan0, int64_t nc, float *vis, float *weight,
                       uint8_t *flag, uint64_t *bytes);

/*
 * The same slab row-major: vis[(r*nc + c)*npol + p] (x2 floats), weight
 * and flag nr*nc*npol (NULL to skip); a transposing convenience.
 */
int img_vis_read_slab(ib_err *e, img_vis_store *s, int64_t row0, int64_t nr,
                      int64_t chan0, int64_t nc, float *vis, float *weight,
                      uint8_t *flag, uint64_t *bytes);


/* ------------------------------------------------------------------ */
/* Gridding kernel (kernel.c)                                          */
/* ------------------------------------------------------------------ */

/*
 * Exponential-of-semicircle kernel psi(x) = exp(beta (sqrt(1 - x^2) - 1)),
 * |x| <= 1, x = t / (W/2) for an offset of t grid cells, with
 * beta = 0.97 pi (1 - 1/(2 sigma)) W for grid oversampling (padding) sigma
 * (the FINUFFT choice). Each of the W taps is evaluated by a polynomial in
 * the sample's fractional position (Chebyshev fit, degree IMG_KERNEL_MAXDEG
 * at most), exact to ~1e-13 relative for the supports we use; a lookup
 * table of K samples per cell (oversample K >= 2; each tap the nearest
 * node, as table-based gridders read theirs) is available to reproduce
 * table-based gridders. The grid correction is the kernel's continuous
 * Fourier transform, computed by Gauss-Legendre quadrature.
 */
#define IMG_MIN_SUPPORT 3
#define IMG_MAX_SUPPORT 51
#define IMG_KERNEL_MAXDEG 23
/* Bytes after the end of a grid buffer that the gridder may add +0 to
 * (its row update is rounded up to whole vectors: one cell of 4 pols of
 * complex doubles at most). */
#define IMG_GRID_SLACK 64
#define IMG_MIN_OVERSAMPLE 2      /* table samples per cell, when a table is used */
#define IMG_MAX_OVERSAMPLE 100000

typedef struct img_kernel {
    int W;           /* support in grid cells (odd, 3..51) */
    int deg;         /* polynomial degree per tap */
    double poly_err; /* max |polynomial - psi| over the taps, measured at init */
    double beta, sigma;
    int oversample;  /* 0: polynomial evaluation; K: table with K samples per cell */
    double *coef;    /* W * (deg+1): tap i coefficients, highest power first */
    float *coef_f;   /* the same in float */
    double *coef_t;  /* (deg+1) * W: transposed, power-major, highest first */
    float *coef_tf;  /* the same in float */
    double *table;   /* (W+1) * oversample + 1 samples when oversample > 0 */
} img_kernel;

/* Build the kernel for support W and padding sigma (> 1): polynomial taps
 * (oversample 0) or a table of oversample samples per cell (2..100000).
 * IB_EINVAL with a message for even or out-of-range W, sigma <= 1 or an
 * oversampling out of range; then *k needs no release. */
int img_kernel_init(ib_err *e, img_kernel *k, int W, double sigma, int oversample);
void img_kernel_release(img_kernel *k);

/* psi at normalised position x in [-1, 1] (0 outside). */
double img_kernel_psi(const img_kernel *k, double x);

/*
 * Tap values for a sample whose leftmost tap lies frac in [0,1) cells to
 * the right of the sample's position minus W/2: tap i is
 * psi((i - W/2 + frac) / (W/2)). out has W values.
 */
void img_kernel_taps(const img_kernel *k, double frac, double *out);
void img_kernel_taps_f(const img_kernel *k, float frac, float *out);

/* Continuous Fourier transform of the kernel (t in cells) at frequency nu
 * in cycles per cell: integral psi(2t/W) cos(2 pi nu t) dt. */
double img_kernel_ft(const img_kernel *k, double nu);

/* ------------------------------------------------------------------ */
/* Imager (plan.c, run.c)                                              */
/* ------------------------------------------------------------------ */

enum img_weighting { IMG_WEIGHT_NATURAL, IMG_WEIGHT_UNIFORM, IMG_WEIGHT_BRIGGS };
/* Chunk to rank assignment: static = cyclic; dynamic = rank 0 hands out
 * chunks on request; locality = contiguous channel ownership, no messages. */
enum img_schedule { IMG_SCHED_STATIC, IMG_SCHED_DYNAMIC, IMG_SCHED_LOCALITY };
enum img_gridder { IMG_GRIDDER_STANDARD, IMG_GRIDDER_MOSAIC };
/* How the mosaic gridder makes its dirty mosaic (docs/imager.md): aperture
 * kernels on the full grid, per-pointing facets, or the cheaper of the two
 * by the cost model. */
enum img_mosaic_method { IMG_MOSAIC_APERTURE, IMG_MOSAIC_FACET, IMG_MOSAIC_AUTO };
/* The image planes (--stokes; the words of the parameter table, in order):
 * Stokes parameters formed from the store's correlations, correlations, or
 * IMG_STOKES_CORR, the store's correlations as stored. */
enum img_stokes { IMG_STOKES_I, IMG_STOKES_Q, IMG_STOKES_U, IMG_STOKES_V, IMG_STOKES_XXYY,
                  IMG_STOKES_RRLL, IMG_STOKES_XX, IMG_STOKES_YY, IMG_STOKES_RR, IMG_STOKES_LL,
                  IMG_STOKES_CORR };

typedef struct img_params {
    const char *vis_dir;
    const char *out_dir;
    int gridder;          /* enum img_gridder */
    int support;          /* W, odd, 3..51 (default 7) */
    int oversample;       /* 0 = polynomial kernel (default) */
    int weighting;        /* enum img_weighting */
    double robust;        /* Briggs R */
    int nx, ny;           /* image size; 0 = the store's suggestion */
    double cell_arcsec;   /* 0 = the store's suggestion */
    double padding;       /* grid oversampling factor sigma (default 1.5) */
    int threads;          /* worker threads per rank (default 1) */
    int chunks;           /* channel chunks (default: 4 channels each, >= threads x ranks) */
    int row_chunks;       /* row tasks per channel chunk, grids summed (default 1) */
    int psf;              /* also write the PSF cube */
    int stokes;           /* enum img_stokes (default I) */
    int dbl;              /* double precision grids and FFTs */
    int check_dft;        /* compare K pixels with a direct DFT (0 = off) */
    int fft_plan;         /* 0 estimate, 1 measure (default), 2 patient */
    uint64_t seed;        /* for the choice of check pixels */
    const char *stats_path; /* JSON stats file, NULL = none */
    const img_par *par;   /* MPI ranks (NULL: one rank) */
    int schedule;         /* enum img_schedule */
    int serial_write;     /* funnel every plane through rank 0 (CASA-like) */
    int fsync;            /* cubes reach the disk (fsync) before they are renamed */
    uint64_t mem_budget;  /* bytes per rank; 0 = none (planes stream out) */
    double mem_target, mem_spill, mem_pause; /* fractions (0.85, 0.92, 0.95) */
    const char *spill_dir; /* default OUT/spill */
    prof_papi *papi;      /* hardware counters per thread (NULL: none) */
    prof_sde *sde;        /* software-defined events (NULL: none) */
    int no_aperture;      /* mosaic: primary beam switched off (PB = 1) */
    double pb_limit;      /* mosaic: normalised mosaic where pb >= this (0.2) */
    int mosaic_method;    /* mosaic: enum img_mosaic_method (auto) */
    double aperture_cut;  /* mosaic: beam level where kernels and facets end, (0, 1) (1e-5) */
    int aperture_oversample; /* mosaic aperture tables: samples per cell; 0: --oversample or 128 */
    int quiet;
} img_params;

/* Defaults for every field (vis_dir and out_dir NULL). The imager's
 * options land in these fields from the parameter table
 * (common/params.h, IB_IMG(member)), whose defaults it writes over these. */
void img_params_default(img_params *p);

#define IMG_MAX_PHASES 16

/* One rank's figures, gathered on rank 0 (fixed size: sent as bytes). */
typedef struct img_rank_stats {
    int32_t rank, threads;
    double phase_wall[IMG_MAX_PHASES], phase_cpu[IMG_MAX_PHASES];
    uint64_t samples, dropped, bytes_read, tasks, events, events_dropped;
    double sched_s;      /* time in the chunk scheduler (all threads) */
    double busy_s;       /* thread-seconds in work phases */
    double wall_s, peak_rss;
    double setup_s;      /* start of the run until the workers start (per-rank fixed cost) */
    uint64_t spill_bytes, spill_files, peak_tracked, budget;
    double spill_write_s, spill_read_s;
    img_comm_stats comm;
} img_rank_stats;

/* Result figures of one imaging run, also written to the stats JSON. On
 * ranks other than 0 only this rank's part is filled. */
typedef struct img_result {
    double wall_seconds;
    double phase_wall[IMG_MAX_PHASES], phase_cpu[IMG_MAX_PHASES]; /* enum prof_phase, all ranks */
    uint64_t samples_gridded;   /* (row, chan, pol) samples put on grids */
    uint64_t samples_dropped;   /* outside the uv grid (reported) */
    uint64_t bytes_read;
    uint64_t bytes_written;
    double peak_rss_bytes;
    double grid_bytes_per_thread;
    double plan_seconds;        /* FFT planning (with wisdom: near 0) */
    int nx, ny, ngx, ngy;
    int npol;             /* image planes per channel (--stokes) */
    double cell_arcsec;
    double dft_max_rel_err;     /* -1 when not checked */
    double dft_rms_rel_err;
    double image_peak;          /* max |dirty| over the cube */
    img_vis_meta meta;          /* of the store imaged (zero if not opened) */
    int nchunks;
    int row_chunks;             /* row tasks per channel chunk (1: none) */
    int nranks;
    img_rank_stats *ranks;      /* rank 0: nranks entries (free with img_result_release) */
    double sched_s;             /* scheduler time, all ranks and threads */
    uint64_t tasks;             /* chunks processed */
    uint64_t task_events;       /* rows of OUT/tasks.csv */
    uint64_t spill_bytes, spill_files, peak_tracked;
    double spill_write_s, spill_read_s;
    double task_span_s;
    /* mosaic: the method used (enum img_mosaic_method, never auto), why,
     * and the cost model's figures (multiply-adds per run) */
    int mosaic_method;
    char mosaic_reason[512];
    int mosaic_support;         /* aperture: W + 2 aperture half-widths, cells */
    int facet_nx, facet_ngx;    /* facet: pixels and grid cells across */
    double cost_aperture, cost_facet;
} img_result;

/*
 * Image the store at p->vis_dir into p->out_dir: dirty.fits (and psf.fits)
 * cubes (x, y, chan, pol) in Jy/beam, written under temporary names and
 * renamed when complete. Fills *res. On failure no final-named product is
 * left behind, e says why (naming the file and field), res is partial.
 */
int img_run(ib_err *e, const img_params *p, img_result *res);

/*
 * The same run as plan, execute and destroy (FFTW's lifecycle). A plan
 * checks the parameters and sizes everything before any work: it opens
 * the store, reads and orders the rows, builds the kernel, grid
 * correction, FFT plans, chunks and schedule, sets up the memory budget
 * (an error when it cannot hold the working set) and allocates every
 * thread's buffers. p (and what it points to) is borrowed and must outlive
 * the plan. On failure *out is NULL and e says why.
 */
typedef struct img_plan img_plan;
int img_plan_create(ib_err *e, const img_params *p, img_plan **out);
/*
 * Stream every chunk through the plan: create the cubes, run the threads
 * (and on rank 0 the service thread where the schedule needs one), seal
 * the cubes, write tasks.csv and the statistics into *res (res as for
 * img_run; the plan's own set-up time and phases are part of its figures).
 * A plan may be executed again: each execution rewrites the products. With
 * several ranks every rank executes its plan; after a failure the caller
 * aborts the job.
 */
int img_plan_execute(ib_err *e, img_plan *plan, img_result *res);
/* Release everything the plan holds (buffers, store, FFT plans, spill
 * directory it made). NULL does nothing. */
void img_plan_destroy(img_plan *plan);

#define IMG_VERSION "0.1.0"

/*
 * Write the stats JSON of a run (docs/interfaces.md) to path, atomically
 * (path.tmp + rename). m may be NULL when the store could not be opened.
 * extra_counters (a jansson json_t*, borrowed, may be NULL) becomes the
 * "counters" member.
 */
struct json_t;
int img_stats_write(ib_err *e, const char *path, const img_params *p, const img_result *r,
                    const img_vis_meta *m, struct json_t *extra_counters);

/* Products: the cubes a run writes into OUT (dirty always, psf with --psf,
 * weight, pb and the normalised mosaic with the mosaic gridder). */
enum img_product { IMG_PROD_DIRTY, IMG_PROD_PSF, IMG_PROD_WEIGHT, IMG_PROD_PB, IMG_PROD_MOSAIC,
                   IMG_NPROD };
const char *img_product_file(int k);   /* "dirty.fits", ... */
const char *img_product_btype(int k);  /* FITS BTYPE */
const char *img_product_bunit(int k);  /* FITS BUNIT */

/* Primary beam of the mosaic gridder: a Gaussian power pattern with FWHM
 * 1.13 lambda/D (radians), evaluated at offsets (dl, dm) from the
 * pointing centre, in direction cosines. */
double img_pb_fwhm(double freq_hz, double dish_m);
double img_pb(double dl, double dm, double freq_hz, double dish_m);

/* Free what img_run allocated in *r (the per-rank array). */
void img_result_release(img_result *r);

/* Smallest even n >= want whose only prime factors are 2, 3, 5, 7. */
int img_good_fft_size(int want);

#endif
