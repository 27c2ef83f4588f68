/*
 * plan_internal.h: the imaging run's shared types — the plan (struct
 * img_plan: everything decided and allocated before any work), its
 * workers (one per thread), sample lists, held planes and task events —
 * and the img__ functions the run's files call on one another. Included
 * only by the imaging module's own files, after internal.h.
 */
#ifndef IMG_PLAN_INTERNAL_H
#define IMG_PLAN_INTERNAL_H

#include "imaging/internal.h"
#include "profiles/profiles.h"

#include <fftw3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#define IMG_C_LIGHT 299792458.0

/* MPI tags of the dynamic schedule and of serial writes (par.c counts
 * them as point-to-point messages). A reply goes to IMG__TAG_REPLY + thread. */
enum img__tag { IMG__TAG_REQ = 11, IMG__TAG_DONE = 12, IMG__TAG_PLANE = 13, IMG__TAG_REPLY = 1000 };

/* ---------- types: sample lists ---------- */

/* One channel's weighted samples, structure of arrays: the row_order position
 * (row) and grid cell (iu, iv) of the kernel's first tap, the fractional
 * offsets (fu, fv), and per sample and pol (index o = s * npol + p) the
 * weighted visibility (vc[2o] real, vc[2o+1] imaginary: a sample's pols
 * as the grid holds them, so the gridder loads them as one vector) and
 * weight (w). */
typedef struct img__list_f {
    int64_t n;
    int32_t *row, *iu, *iv;
    float *fu, *fv, *vc, *w;
} img__list_f;

typedef struct img__list_d {
    int64_t n;
    int32_t *row, *iu, *iv;
    double *fu, *fv, *vc, *w;
} img__list_d;

/* ---------- types: the plan, its workers, held planes, task events ---------- */

/* A plane a chunk produced, held until the chunk commits (spill.c). */
typedef struct img__held_plane {
    int32_t chan, pol, prod;
    float *mem;          /* NULL when spilled */
    off_t off;           /* offset in the worker's spill file */
} img__held_plane;

/* One phase interval of one task (chunk) on one thread (tasks.c). */
typedef struct img__task_event {
    int32_t rank, thread, chunk, chan;
    int32_t phase, pad;
    double start, end;   /* seconds since the run's origin */
} img__task_event;

typedef struct img__worker img__worker;

struct img_plan {
    const img_params *p;
    img_vis_store *store;
    const double *freq;
    int64_t nrow, nchan;
    int npol;            /* image planes per channel (--stokes) */
    int npol_in;         /* correlations per visibility in the store */
    /* image plane o = sum of stokes[o].n terms coef * correlation in[t]
     * (complex coef ar + i ai); weight 1 / sum |coef|^2 / w; a sample
     * with any of its terms flagged is left out. Identity: planes are
     * the store's correlations. */
    struct img__stokes_term {
        int n, in[2];
        double ar[2], ai[2];
    } stokes[IMG_MAX_POL];
    int stokes_code[IMG_MAX_POL]; /* AIPS/FITS code of each plane: 1 I .. -8 YX */
    int stokes_identity;
    /* rows (rows.c) */
    int64_t *row_order;  /* stored rows sorted by baseline, then time */
    double *u_m, *v_m;   /* u, v in metres, in row_order order */
    int32_t *row_field;  /* field of each row, row_order order */
    /* kernel, grid and image */
    img_kernel kernel;
    int nx, ny, ngx, ngy;
    double cell;         /* radians */
    double *corr_x, *corr_y; /* 1 / kernel FT per image pixel */
    float *corr_xf;      /* corr_x in float, for the extraction loop */
    int32_t *pix_col, *pix_row; /* c2r output column/row of each image pixel */
    int grid_support;    /* cells a sample touches: W, or W + 2 aperture half-widths */
    /* channel chunks and the schedule (sched.c) */
    int nchunks;
    int64_t *chunk_chan0; /* nchunks+1 channel boundaries */
    int64_t max_chunk_chans;
    atomic_int next_chunk;
    int *my_chunks, n_my_chunks; /* static / locality: this rank's chunks */
    atomic_int my_next_chunk;
    /* errors: the first one any thread meets (img__fail) */
    atomic_int failed;
    pthread_mutex_t err_lock;
    ib_err err;
    /* products */
    img__fits *cube[IMG_NPROD]; /* products; NULL when not made */
    float *plane_peaks;  /* nchan * npol plane peaks |max| */
    /* the beam (beam.c): per plane (pol * nchan + chan) the sums over its
     * gridded samples of w, w u^2, w v^2, w u v (u, v in wavelengths),
     * summed over the ranks at the end; from them rank 0's beams */
    double *beam_mom;    /* 4 per plane */
    img__beam *beams;    /* rank 0, after img__beams_finish */
    pthread_mutex_t beam_lock;
    /* The c2r FFT in two passes, pruned to the rows the image needs:
     * fft_cols (c2c along v, every column of the half-spectrum), then
     * fft_rows[0] and fft_rows[1] (c2r along u, only the ny/2 rows at each
     * end of the grid that the image takes). fftwf_plan or fftw_plan,
     * shared by the threads (new-array execute); fftplan.c. */
    void *fft_cols, *fft_rows[2];
    int64_t fft_row0[2]; /* first grid row of each c2r run */
    double plan_seconds;
    /* ranks */
    const img_par *par;
    img_par solo;        /* used when the caller gives no par */
    img__comm comm;
    pthread_t server;
    int server_on;
    /* memory budget (0 = none: planes stream straight to the cube); spill.c */
    uint64_t budget, base_bytes, plane_bytes;
    pthread_mutex_t mem_lock;
    pthread_cond_t mem_cond;
    uint64_t tracked, peak_tracked; /* under mem_lock */
    int holders;         /* threads holding planes in memory */
    char spill_dir[4096];    /* this process's own: PARENT/imbench-spill-XXXXXX */
    char spill_parent[4096]; /* --spill-dir, or OUT/spill */
    int made_spill_dir;      /* spill_parent made by this run */
    int spill_run_made, spill_lock_fd, spill_slot, spill_parent_slot;
    /* mosaic (mosaic.c) */
    int mosaic, aperture;
    int ktab_over;       /* samples per cell of the mosaic kernel tables */
    double dish_m;
    int nfield;
    double *field_l, *field_m; /* pointing offsets from the image centre (direction cosines) */
    int n_offs_x, n_offs_y;    /* distinct offsets along x and y */
    double *offs_x, *offs_y;
    int *field_offs_x, *field_offs_y; /* field -> its x / y kernel table */
    int ktab_fft_size;   /* 1-D FFT size of the kernel tables */
    double *psihat;      /* psi^ on that FFT's grid */
    fftw_plan ktab_fft;  /* forward 1-D, double, new-array execute */
    /* the facet method (facet.c): each pointing's samples gridded on a
     * facet_ng^2 grid, transformed, its facet_nf^2 pixels around the
     * pixel nearest the pointing (facet_x0, facet_y0: the facet's first
     * pixel in the image, per field) weighed by the beam and added */
    int facet;           /* 1: the facet method (else aperture kernels) */
    int facet_nf, facet_ng;
    int *facet_x0, *facet_y0;
    double *facet_dl, *facet_dm; /* rephasing: facet centre minus pointing (direction cosines) */
    double *facet_corr;  /* 1 / kernel FT at each facet pixel (facet_nf) */
    void *facet_fft;     /* 2-D c2r facet_ng^2, fftwf_plan or fftw_plan, new-array execute */
    /* row chunks (--row-chunks M > 1): a channel chunk is imaged by M row
     * tasks whose grids are summed over threads and ranks before its FFT
     * (rows.c, rowchunk.c) */
    int row_chunks;      /* M (1: channel chunks only) */
    int64_t *row_chunk0; /* M+1 stored-row boundaries */
    int64_t max_row_chunk_rows;
    int64_t slab_rows;   /* rows of a task's slab: nrow, or max_row_chunk_rows */
    int64_t *rows_by_chunk; /* row_order positions grouped by row chunk, ascending within */
    int64_t *rows_by_chunk_start; /* M+1 offsets into rows_by_chunk */
    int *my_row_chunks, n_my_row_chunks; /* static / locality: this rank's row chunks */
    atomic_int *row_task_next; /* 2 x nchunks task counters: (density, grid) pass x chunk */
    pthread_barrier_t barrier;
    int barrier_on;
    int stop;            /* thread 0 writes it between two barriers */
    int grids_per_chan;  /* dirty, and the PSF with --psf */
    size_t grid_reals;   /* reals per grid: ngx * ngy * npol * 2 */
    size_t wsums_per_chan; /* doubles per channel of the weight sums: npol (+ nfield*npol) */
    /* threads */
    img__worker *workers; /* the rank's workers (thread 0 holds the rank's sums) */
    int nworkers;         /* workers allocated (their buffers may be partly made) */
    int gate;            /* under mem_lock: 0 wait, 1 start, -1 give up */
    /* the plan's own figures, and the current execution's */
    img_result head;     /* what the plan decided: store, sizes, chunks */
    prof_timer setup_timer; /* the plan's phases (stopped) */
    double create_s;     /* wall seconds the plan took to make */
    double origin;       /* time origin of task events: when every rank left the
                          * start-up barrier (so ranks share one timeline) */
    double setup_s;      /* the plan's making until the barrier before the workers */
};

/* One worker thread: its buffers (allocated by the plan, reused by every
 * task) and its figures (reset by each execution). */
struct img__worker {
    img_plan *plan;
    int id;
    pthread_t tid;
    prof_timer timer;
    float *vis, *weight;
    uint8_t *flag;
    void *list;          /* img__list_f or _d */
    float *density;
    void *grid;          /* ngy x ngx cells of npol complex values */
    int vlo, vhi;        /* grid rows that may be non-zero */
    void *half;          /* Hermitian half-spectrum, c2r in place */
    float *plane;
    float *sendbuf;      /* serial writes: header + plane */
    uint64_t samples, dropped, bytes_read;
    int32_t cur_chunk, cur_chan;
    img__task_event *events;
    size_t nevents, cap_events;
    uint64_t events_dropped;
    double sched_s;
    uint64_t ntasks;
    img__held_plane *held;
    size_t nheld, cap_held;
    uint64_t held_bytes;
    int spill_fd;
    off_t spill_end;
    char spill_path[4200];
    uint64_t spill_bytes, spill_files;
    double spill_write_s, spill_read_s;
    prof_papi_thread papi_thread;
    img__req req;        /* dynamic scheduling: the request in flight */
    int32_t reply[2];    /* dynamic: task from rank 0, tasks left after it */
    int req_pending, started;
    int no_more;         /* dynamic: rank 0 said the chunk it gave was the last */
    double *ktab_x, *ktab_y; /* mosaic kernel tables of the current channel */
    double *ktab_buf;    /* FFT buffer for the tables */
    float *beam2_x, *beam2_y; /* squared beams per field along x and y */
    double *field_wsum;  /* mosaic: weight per field and pol of the channel */
    float *weight_plane, *mosaic_plane;
    double *mos_scratch; /* aperture: the gridding loop's per-sample taps (support-sized) */
    void *facet_list;    /* facet: the channel's samples by field, on the facet grid */
    int64_t *facet_start; /* nfield + 1 offsets into facet_list */
    void *facet_grid;    /* facet_ng^2 cells x npol complex */
    int facet_vlo, facet_vhi;
    void *facet_half, *facet_out; /* the folded half spectrum and the c2r output */
    float *facet_planes; /* npol dirty planes of the channel */
    double *facet_pb;    /* 2 x facet_nf: the field's beam along x and y */
    void *acc_grids;     /* row chunks: nc x grids_per_chan grids summed over this thread's tasks */
    double *acc_wsum;    /* ... their weight sums per channel (wsums_per_chan each) */
    float *acc_density;  /* ... density per channel (uniform / Briggs) */
};

/* The functions, file by file in the order a run meets them. */

/* ---------- the plan (plan.c) ---------- */

/* img_plan_create's work, leaving *out set (possibly half made) on failure
 * when the plan could be allocated, so that img_run can report what it
 * had decided; *out NULL when the parameters are invalid. */
int img__plan_build(ib_err *e, const img_params *p, img_plan **out);

/* ---------- errors of a run (run.c) ---------- */

/* Record e as the run's error if it is the first, and mark the run failed
 * (every thread stops at its next check). Thread-safe. */
void img__fail(img_plan *pl, const ib_err *e);

/* ---------- output cubes (cubes.c) ---------- */

/* Does the run make product k (enum img_product)? */
int img__product_made(const img_params *p, int k);
/* Rank 0: OUT made and every product's cube created (as path.tmp); the
 * other ranks check the paths. */
int img__cubes_create(ib_err *e, img_plan *pl);
/* After the barrier that follows img__cubes_create: the other ranks open
 * the cubes for parallel writes (nothing under serial writes). */
int img__cubes_open(ib_err *e, img_plan *pl);
/* Every rank lets go of its cubes; after a barrier rank 0 seals them
 * (*sealed = 1: they are in place, or were removed after a failure) and
 * adds the bytes written. Collective. */
int img__cubes_seal(ib_err *e, img_plan *pl, uint64_t *bytes_written, int *sealed);
/* Cubes still open are dropped (their temporaries removed on rank 0). */
void img__cubes_abort(img_plan *pl);
/* The sealed products and tasks.csv removed (a run that failed after
 * sealing leaves no complete-looking products). */
void img__cubes_remove(const img_plan *pl);

/* ---------- rows (rows.c) ---------- */

/* Read every row's uvw, field, antennas and time; fill row_order (sorted
 * by baseline, then time), u_m, v_m and row_field. IB_ECORRUPT naming the
 * store for a field index out of range or a uvw that is not finite. */
int img__rows_load(ib_err *e, img_plan *pl);
/* Row chunks: row_chunk0 (row_chunks + 1 near-equal stored-row
 * boundaries), max_row_chunk_rows and slab_rows. */
int img__rows_split(ib_err *e, img_plan *pl);
/* rows_by_chunk / rows_by_chunk_start: the row_order positions of each
 * row chunk's rows, ascending (needs img__rows_load and _split). */
int img__rows_group(ib_err *e, img_plan *pl);

/* ---------- schedule (sched.c) ---------- */

/* This rank's channel chunks under static (cyclic) and locality
 * (contiguous channel ownership) scheduling, into my_chunks. */
int img__sched_assign(ib_err *e, img_plan *pl);
/* This rank's row chunks into my_row_chunks, and the row task counters. */
int img__sched_assign_rows(ib_err *e, img_plan *pl);
/* The next channel chunk for worker w, or -1 when there is none (or the
 * run failed: the error is recorded). Time spent is w's scheduler time. */
int img__next_chunk(img__worker *w);
/* The next row task of (pass, channel chunk c) for w, or -1. */
int img__next_row_task(img__worker *w, int pass, int c);
/* The rank that FFTs and writes channel chunk c's planes under row chunks. */
int img__chunk_owner(const img_plan *pl, int c);
/* Rank 0's service thread (arg: the plan), for the dynamic schedule or
 * serial writes with more than one rank: answers task requests, writes the
 * planes other ranks send, and ends when every other rank has said it is
 * done (IMG__TAG_DONE). An error is recorded with img__fail. */
void *img__sched_serve(void *arg);

/* ---------- worker threads (chunk.c, rowchunk.c) ---------- */

/* Thread mains (arg: the img__worker): channel chunks as tasks, and
 * rounds of row tasks (which first wait at the plan's gate). */
void *img__chunk_thread(void *arg);
void *img__rows_thread(void *arg);

/* ---------- the beam (beam.c) ---------- */

/* Add the weighted list of channel chan (after img__list_weigh) to the
 * plane's beam sums; any thread. */
void img__beam_add(img_plan *pl, const void *list, int64_t chan);
void img__beam_sums_f(const img_plan *pl, const img__list_f *L, int64_t chan, double *sums);
void img__beam_sums_d(const img_plan *pl, const img__list_d *L, int64_t chan, double *sums);
/* The beam of one plane from its sums (w, w u^2, w v^2, w u v): the
 * Gaussian with the PSF's curvature at its peak. */
img__beam img__beam_of(const double sums[4]);
/* Every rank's sums on rank 0 (a collective), and rank 0's beams. */
int img__beams_finish(ib_err *e, img_plan *pl);

/* ---------- sample lists (list.c, list_tmpl.h) ---------- */

/* Lists for nrow rows of npol pols in float (dbl 0) or double; NULL when
 * out of memory. img__list_free(NULL, ...) does nothing. */
void *img__list_alloc(int64_t nrow, int npol, int dbl);
void img__list_free(void *list, int dbl);

/*
 * Channel cc of the (channel-major) slab of rows [row0, row0+nr) -> L:
 * every row with a non-zero weight in some pol, its grid indices (for the
 * plan's grid support), raw weights and visibilities. The rows visited are
 * the row_order positions pos[0..npos) (ascending), or 0..npos-1 when pos is
 * NULL; their stored rows must lie in the slab. Samples that fall off the
 * grid are counted in *dropped (per pol with a weight). With sumw
 * (natural weighting only) the visibilities are weighted and the weights
 * summed into sumw here, and img__list_weigh is not needed.
 */
void img__list_samples_f(const img_plan *pl, const float *vis, const float *wt,
                         const uint8_t *flag, int64_t cc, int64_t chan, const int64_t *pos,
                         int64_t npos, int64_t row0, int64_t nr, img__list_f *L, uint64_t *dropped,
                         double *sumw);
void img__list_samples_d(const img_plan *pl, const float *vis, const float *wt,
                         const uint8_t *flag, int64_t cc, int64_t chan, const int64_t *pos,
                         int64_t npos, int64_t row0, int64_t nr, img__list_d *L, uint64_t *dropped,
                         double *sumw);
/* Add the list's weight density per uv cell of the image to density
 * (nx*ny floats, additive over row chunks). */
void img__density_add_f(const img_plan *pl, const img__list_f *L, int64_t chan, float *density);
void img__density_add_d(const img_plan *pl, const img__list_d *L, int64_t chan, float *density);
/* Final weights (uniform / Briggs from the channel's whole density, which
 * natural weighting ignores and may be NULL), their sum per pol into sumw,
 * and the visibilities multiplied by them. */
void img__list_weigh_f(const img_plan *pl, img__list_f *L, int64_t chan, const float *density,
                       double *sumw);
void img__list_weigh_d(const img_plan *pl, img__list_d *L, int64_t chan, const float *density,
                       double *sumw);
/* The whole channel cc of a full-row slab, weighted (density is nx*ny
 * floats of scratch, unused for natural weighting). */
void img__list_build_f(const img_plan *pl, const float *vis, const float *wt, const uint8_t *flag,
                       int64_t cc, int64_t chan, img__list_f *L, float *density, double *sumw,
                       uint64_t *dropped);
void img__list_build_d(const img_plan *pl, const float *vis, const float *wt, const uint8_t *flag,
                       int64_t cc, int64_t chan, img__list_d *L, float *density, double *sumw,
                       uint64_t *dropped);

/* ---------- one channel's products (gridder.c) ---------- */

/* Add w's sample list to grid (product prod of channel chan: the dirty
 * grid with the standard or mosaic kernel, or the PSF's weights); grid
 * rows *vlo..*vhi are widened to cover what was written. */
void img__grid_list(img__worker *w, int64_t chan, int prod, void *grid, int *vlo, int *vhi);
/* Grid, FFT and correct product prod of channel chan in w's own grid and
 * hold or write its planes (for the mosaic's dirty product also the
 * weight, pb and mosaic planes). sumw: the total weight per pol. */
int img__image_product(img__worker *w, int64_t chan, const double *sumw, int prod);
/* The planes of product prod of channel chan from grid (rows vlo..vhi may
 * be non-zero): FFT, correct, normalise by sumw; written at once when
 * direct, else as img__plane_emit decides. With clear the grid is all
 * zero again afterwards (the last pol's fold clears each row pair it
 * has read: no separate pass over the grid). */
int img__product_planes(img__worker *w, int64_t chan, const double *sumw, int prod, void *grid,
                        int vlo, int vhi, int direct, int clear);

/* ---------- grid to image plane, FFT plans (fft.c, fft_tmpl.h) ---------- */

/* Every FFTW plan of the process is made between these (FFTW's planner is
 * not thread-safe). */
void img__fftw_lock(void);
void img__fftw_unlock(void);
/* fft_cols and fft_rows for the plan's grid and precision, with the
 * planning effort asked for, wisdom read from and written back to the
 * wisdom file; plan_seconds. IB_ENOMEM when FFTW cannot plan. */
int img__fft_plan(ib_err *e, img_plan *pl);
void img__fft_destroy(img_plan *pl);
/* Pol pol of grid (rows vlo..vhi may be non-zero) -> the c2r transform of
 * its Hermitian part in half (ngy x (ngx/2+1) complex). clear: rows
 * vlo..vhi (every pol) are zeroed once read, for the grid's next use. */
void img__fft_grid(const img_plan *pl, void *grid, void *half, int pol, int vlo, int vhi,
                   int clear);
/* The image plane (nx*ny floats) from half, grid-corrected and scaled by
 * scale; returns its peak |value|. */
float img__fft_extract(const img_plan *pl, const void *half, float *plane, double scale);

/* ---------- the mosaic run (mosaic.c) ---------- */

/* Mosaic set-up (a no-op for the standard gridder, which only sets
 * grid_support = W): pointing offsets, dish, total support, distinct
 * offsets, psi^ and the kernel FFT; the grid is widened to twice the
 * support when smaller. Bad geometry is IB_EINVAL naming the field or
 * dataset. */
int img__mosaic_setup(ib_err *e, img_plan *pl, const img_vis_meta *m);
/* w's kernel tables of channel chan for every distinct pointing offset,
 * and the squared beam of every field along x and y. */
void img__mosaic_kernels(img__worker *w, int64_t chan);
/* w->field_wsum: total final weight per field and pol of w's sample list. */
void img__mosaic_field_weights(img__worker *w);
/* From the dirty plane of pol p in w->plane: w->weight_plane and the
 * normalised mosaic in w->mosaic_plane (sumw: the pol's total weight). */
void img__mosaic_planes(img__worker *w, int p, double sumw);
/* The weight, pb and mosaic planes of pol p of channel chan, written or
 * held like the dirty plane (img__plane_emit). */
int img__mosaic_emit(img__worker *w, int direct, int64_t chan, int p);

/* ---------- the facet method (facet.c) ---------- */

/* Facet set-up after the method is chosen: each field's facet origin and
 * rephasing, the facet grid correction. */
int img__facet_setup(ib_err *e, img_plan *pl);
/* The facet FFT plan (called by img__fft_plan under the planner lock with
 * its flags); 0, or -1 when FFTW cannot plan it. */
int img__facet_plan(img_plan *pl, unsigned flags);
void img__facet_destroy(img_plan *pl);
/* w's facet buffers (1: made, 0: out of memory) and their release. */
int img__facet_worker_init(img__worker *w);
void img__facet_worker_release(img__worker *w);
/* Bytes per thread of the facet buffers (for the memory model). */
uint64_t img__facet_bytes(const img_plan *pl);
/* The dirty mosaic of channel chan from w's weighted sample list by
 * facets, its weight, pb and mosaic planes, written or held like the
 * aperture method's (sumw: the total weight per pol). */
int img__facet_product(img__worker *w, int64_t chan, const double *sumw);

/* Grid list L (img__list_f or _d, n samples) with the standard kernel onto
 * g (ngx columns); rows *vlo..*vhi widened to cover what was written
 * (gridder.c). */
void img__grid_std(const img_plan *pl, const void *L, void *g, int ngx, int *vlo, int *vhi);

/* ---------- planes out, memory budget and spill (spill.c) ---------- */

/* The memory model: every thread's fixed buffers tracked from the start
 * (base_bytes, plane_bytes), the budget's lock, and with a budget the
 * fractions checked, the minimum working set checked against it (an error
 * naming the sizes, before any work) and the spill directory made. */
int img__budget_setup(ib_err *e, img_plan *pl);
/* The run's own spill directory removed (and the default OUT/spill when
 * this run made it and it is empty). */
void img__spill_dir_remove(img_plan *pl);
/* The finished plane in w->plane: written now (direct, or no budget) or
 * held until the chunk commits (in memory or in the spill file). */
int img__plane_emit(img__worker *w, int direct, int64_t chan, int pol, int prod);
/* Write the chunk's held planes to the cubes in production order, then
 * release them. */
int img__chunk_commit(img__worker *w);
/* Free w's held planes, return its share of the tracked working set and
 * remove its spill file. A worker never set up is left alone. */
void img__held_release(img__worker *w);
/* Past the pause fraction, wait (phase wait) until other threads commit
 * enough to fall to the target fraction, never for w's own planes. */
void img__wait_for_memory(img__worker *w);

/* ---------- task events and rank statistics (tasks.c) ---------- */

/* Close w's open phase as a task event (labelled with w's current task and
 * channel) and open phase p (p < 0: stop the timer). The event array grows
 * between phases, never inside the gridding loop; when it cannot grow the
 * event is counted as dropped and the run goes on. */
void img__phase(img__worker *w, int p);
/* Every rank's figures (its workers', main_t's phases, res->wall_seconds)
 * gathered into rank 0's res->ranks and summed into res. Collective. */
int img__stats_gather(ib_err *e, img_plan *pl, const prof_timer *main_t, img_result *res);
/* Gather every rank's task events on rank 0 and write OUT/tasks.csv
 * (rank,thread,chunk,chan,phase,start,end) atomically; rank 0 sets
 * res->task_events and res->task_span_s. Collective: every rank calls it,
 * and an error on any rank fails it on all. */
int img__tasks_write(ib_err *e, img_plan *pl, const img__worker *ws, int n, img_result *res);
/* A finished task's figures as software-defined events: once per
 * task, never per visibility; nc channels' planes counted as written. */
void img__sde_task(img__worker *w, uint64_t samples0, uint64_t bytes0, uint64_t spill0,
                   uint64_t files0, int64_t nc);

/* ---------- the direct-DFT check (check_dft.c) ---------- */

/* Compare pl->p->check_dft pixels of the sealed cube at dirty_path with a
 * direct DFT: res->dft_max_rel_err and dft_rms_rel_err, relative to each
 * plane's peak (plane_peaks, reduced over the ranks). Rank 0 only. */
int img__check_dft(ib_err *e, img_plan *pl, const char *dirty_path, img_result *res);

#endif
