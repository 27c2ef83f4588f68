/*
 * suite: benchmark suites (workloads/suites/NAME.yaml, read with libyaml)
 * and their expansion into cells — one imager run's parameters each.
 * Prefix wl_suite_ (the cell type is wl_cell). Depends on common/ and workloads.h
 * (dataset specs, the generator's cache key).
 *
 * A suite file:
 *
 *   name: smoke                  # [a-z0-9._-]+
 *   description: ...             # optional
 *   datasets:                    # non-empty; a name or a map with overrides
 *     - alma-xc66
 *     - {name: alma-x2e3, chans: 8, image: 64x64, axes: {chunks: [2, 4]}}
 *   scale: 0.001                 # > 0, fraction of the full visibility count
 *   seed: 1                      # generator seed (default 1)
 *   chans: 16                    # optional generator overrides
 *   times: 8
 *   image: 64x64                 # NX or NXxNY
 *   timeout: 120                 # seconds per cell (default 600)
 *   repeats: 3                   # attempts per cell (default 1)
 *   warmup: 1                    # unrecorded runs per cell first (default 0)
 *   axes:                        # each a non-empty list (or one scalar)
 *     chunks: [1, 2, 4]          # >= 1
 *     row_chunks: [1, 2, 4, 8]   # row-range tasks per channel chunk, >= 1
 *                                # (grids summed before the FFT; 1 = none)
 *     nodes: [1, 2]              # MPI ranks, >= 1 (default 1)
 *     threads: [2]               # >= 1
 *     support: [7, 17, 51]       # odd, 3..51
 *     gridder: [standard]        # standard|mosaic (default: the dataset's)
 *     weight: [natural, briggs:0.5]  # natural|uniform|briggs:R, R in [-2, 2]
 *     precision: [float]         # float|double
 *     mem_budget: [512M]         # bytes, K/M/G/T suffixes (powers of 1024)
 *     padding: [1.5]             # >= 1
 *     schedule: [static, dynamic, locality]  # chunk to rank assignment
 *     serial_write: [false, true]  # funnel planes through rank 0 (CASA-like)
 *     fsync: [false, true]         # durable cubes: fsync before the rename
 *     imager: [imbench, wsclean]   # who images the cell (default imbench;
 *                                  # wsclean: the dataset's MS, see docs/wsclean.md)
 *   zip:                         # groups of axes that vary together
 *     - [chunks, threads]        # (same length; each axis in one group)
 *   exclude:                     # cells matching every key of a rule go
 *     - {nodes: 2, chunks: 1}    # a value may be a list: any of them
 *
 * A dataset entry may override scale, seed, chans, times and image, and
 * replace axes (its `axes:` map replaces those axes' values for that
 * dataset; zip lengths are checked per dataset). Expansion order: datasets
 * in file order; then the axes in the order they appear under `axes:`
 * (a zip group at its first member's place), the last one varying
 * fastest; excluded cells are dropped.
 *
 * Every error names the file, line and column and what was expected:
 *   suite 'x.yaml' line 12 column 14: support must be odd, got 4
 * and nothing runs: a suite is validated completely before it expands.
 */
#ifndef WL_SUITE_H
#define WL_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/common.h"

/* The parameter axes, in canonical order. */
#define WL_AXIS_MAP(X)   \
    X(CHUNKS, "chunks")       \
    X(ROW_CHUNKS, "row_chunks") \
    X(NODES, "nodes")         \
    X(THREADS, "threads")     \
    X(SUPPORT, "support")     \
    X(GRIDDER, "gridder")     \
    X(WEIGHT, "weight")       \
    X(PRECISION, "precision") \
    X(MEM_BUDGET, "mem_budget") \
    X(PADDING, "padding")     \
    X(SCHEDULE, "schedule")   \
    X(SERIAL_WRITE, "serial_write") \
    X(FSYNC, "fsync") \
    X(IMAGER, "imager")

enum wl_axis {
#define WL_AXIS_ENUM(name, text) WL_AX_##name,
    WL_AXIS_MAP(WL_AXIS_ENUM)
#undef WL_AXIS_ENUM
    WL_NAXIS
};

/* "chunks", ...; NULL for an out-of-range axis. */
const char *wl_suite_axis_name(int axis);

/*
 * One cell: a dataset materialisation plus the imager's parameters.
 * Values not set by the suite are 0 / "" and are left to the imager's
 * defaults (and out of params and hash), except nodes (default 1) and
 * gridder (default: the dataset's).
 */
typedef struct wl_cell {
    /* dataset materialisation (what `harness gen` gets) */
    char dataset[64];
    double scale;
    int64_t seed;
    int64_t chans, times;       /* 0: from the scale */
    int image_nx, image_ny;     /* 0: the dataset's */
    char dataset_key[33];       /* wl_gen_cache_key of the above */
    /* imager parameters */
    int chunks, nodes, threads, support;
    int row_chunks;             /* 0 unset; 1 (the imager's default) stays out
                                 * of params and hash like 0 */
    char gridder[32], weight[32], precision[32];
    int64_t mem_budget;         /* bytes; 0 unset */
    double padding;             /* 0 unset */
    char schedule[32];          /* "" unset */
    int serial_write;           /* 0 unset (parallel writes) */
    int fsync;                  /* 0 unset (cubes left to the page cache) */
    char imager[16];            /* "" or "imbench": ours; "wsclean": WSClean */
    /* identity */
    char hash[65];              /* SHA-256 (hex) of params_json */
    char params_json[1024];     /* canonical: sorted keys, compact */
} wl_cell;

typedef struct wl_suite {
    char name[64];
    char path[1024];
    char file_hash[65];         /* SHA-256 of the file's bytes */
    double timeout;             /* seconds per attempt */
    int repeats;
    int warmup;                 /* unrecorded runs per cell before the repeats */
    size_t ncells;
    wl_cell *cells;             /* owned */
} wl_suite;

typedef struct wl_suite_opts {
    const char *datasets_dir;   /* NULL: see wl_datasets_dir */
} wl_suite_opts;

/*
 * Read, validate and expand the suite file at path. o may be NULL. On
 * success *out is a heap suite (wl_suite_destroy); on failure *out is NULL
 * and e says where and what was expected (IB_EIO unreadable, IB_EPARSE
 * bad YAML or value, IB_ENOTFOUND unknown dataset, IB_ENOMEM).
 */
int wl_suite_load(ib_err *e, const char *path, const wl_suite_opts *o, wl_suite **out);

/* Same from text in memory; name is used in messages as the file name. */
int wl_suite_parse(ib_err *e, const char *name, const char *text, size_t len,
                   const wl_suite_opts *o, wl_suite **out);

void wl_suite_destroy(wl_suite *s);

/*
 * --filter: "key=value[,key=value...]" where key is dataset, scale, seed,
 * chans, times, image, an axis name, or hash (a prefix of the cell hash).
 * A cell matches when every pair matches (numbers compare as numbers).
 * imager and row_chunks compare with their defaults (imbench, 1) when unset.
 * IB_EINVAL with a message for an unknown key or a pair without '='.
 */
int wl_suite_filter(ib_err *e, const wl_cell *c, const char *expr, int *match);

/*
 * The cell's parameters as a new JSON object (caller json_decref's), the
 * same object whose canonical text is params_json.
 */
json_t *wl_suite_cell_params(const wl_cell *c);

/*
 * Rebuild a cell from a parameters object (as in a cell.json beside a
 * stats.json run elsewhere): validates each value as the suite parser
 * does and recomputes params_json and hash. dataset_key is taken from the
 * object when present, else computed (which needs the dataset spec).
 */
int wl_suite_cell_from_params(ib_err *e, json_t *params, const wl_suite_opts *o, wl_cell *out);

/* 1 when the cell is imaged by WSClean (imager axis "wsclean"). */
int wl_cell_is_wsclean(const wl_cell *c);

/* "dataset chunks=4 nodes=1 ..." (the set parameters) into buf. */
void wl_suite_cell_label(const wl_cell *c, char *buf, size_t n);

/* SHA-256 of data as 64 hex digits and a NUL. */
void wl_suite_sha256(const void *data, size_t len, char hex[65]);

#endif
