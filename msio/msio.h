/*
 * msio: MeasurementSet import and export. Reads a casacore
 * MeasurementSet (one spectral window, chosen fields and channels) into
 * the HDF5 visibility store, and writes a store out as a complete MS that
 * WSClean, CASA and python-casacore read. Prefix ms_. A C interface over
 * one C++ file (ms_casacore.cc, the only code that sees casacore); the
 * rest is C. Depends on common/ and imaging/ (the store API).
 *
 * Import, in one paragraph: the main table is streamed in row blocks
 * (never whole); UVW, the chosen data column (DATA, CORRECTED_DATA or
 * MODEL_DATA), FLAG or'ed with FLAG_ROW, WEIGHT_SPECTRUM when its cells
 * are filled else WEIGHT broadcast over channels else 1/SIGMA^2, TIME,
 * ANTENNA1/2 and FIELD_ID go to the store's row datasets; DATA_DESC_ID
 * picks the spectral window (CHAN_FREQ -> /freq), FIELD PHASE_DIR gives
 * one pointing per selected field (/field_dir; the phase centre is the
 * first selected field's), ANTENNA DISH_DIAMETER gives /dish_diameter,
 * OBSERVATION TELESCOPE_NAME the telescope. Correlations XX/YY or RR/LL
 * (one or both) are kept; a full-polarisation set (XX XY YX YY or RR RL
 * LR LL) keeps its two parallel hands; anything else is refused.
 * casacore's Stokes enum (XX = 9, YY = 12, RR = 5, LL = 8) becomes the
 * store's AIPS codes (-5, -6, -1, -2). The suggested image is 512 x 512
 * with cell 1/(3 u_max) at the top frequency, u_max the longest
 * projected baseline sqrt(u^2 + v^2) of the selected rows.
 *
 * Export writes every store value into the MS, so that store -> MS ->
 * store is lossless.
 *
 * Phase sign: the store follows the Fourier convention of the generator
 * and the imager, V = sum I exp(-2 pi i (ul + vm + w(n-1))) with uvw =
 * X(antenna2) - X(antenna1); a MeasurementSet follows CASA's, the same
 * uvw with exp(+2 pi i ...). DATA is therefore the conjugate of the
 * store's vis both ways (an exact sign flip of the imaginary part); UVW
 * is copied. WSClean imaging an exported MS puts every source where the
 * generator's sky model does (docs/ms.md). What the MS has no column for (dataset name, phase
 * centre, suggested image and cell) goes into a main-table keyword record
 * IMBENCH, which the importer restores when it imports the whole MS
 * (no --field, no --chans). WEIGHT is the channel mean of
 * WEIGHT_SPECTRUM, SIGMA = 1/sqrt(WEIGHT), FLAG_ROW is set where every
 * sample of the row is flagged, SCAN_NUMBER increases when the field
 * changes, INTERVAL = EXPOSURE = the smallest step between times.
 */
#ifndef MS_MSIO_H
#define MS_MSIO_H

#include <stdint.h>

#include "common/common.h"

/* Default suggested image size of an import (pixels per side). */
#define MS_DEFAULT_IMAGE 512

/* Progress callback: rows done of total, called after each row block. */
typedef void (*ms_progress_fn)(void *ctx, int64_t done, int64_t total);

typedef struct ms_import_opts {
    const char *column;     /* "DATA" (NULL), "CORRECTED_DATA" or "MODEL_DATA" */
    int spw;                /* spectral window; -1: the only one in use */
    const char *fields;     /* NULL: every field with rows; else "0,2,4~6,NAME" */
    int64_t chan_first;     /* first channel kept (-1: 0) */
    int64_t chan_last;      /* last channel kept, inclusive (-1: the last) */
    int64_t block_rows;     /* rows per block; 0: automatic (~64 MB of buffers) */
    int image;              /* suggested image size; 0: MS_DEFAULT_IMAGE */
    ms_progress_fn progress;
    void *progress_ctx;
} ms_import_opts;

void ms_import_opts_init(ms_import_opts *o);

/* What an import did. */
typedef struct ms_import_info {
    int64_t nrow_ms;          /* rows of the MS main table */
    int64_t nrow, nchan;      /* rows and channels imported */
    int64_t chan0;            /* first channel of the spectral window kept */
    int npol, ncorr;          /* kept / in the MS */
    int reduced;              /* 1: full polarisation reduced to parallel hands */
    int spw, nfield, nant;
    int restored;             /* 1: dataset, phase centre, image, cell from IMBENCH keywords */
    int corr[4];              /* AIPS codes stored */
    char column[32];
    char weight_source[48];
    char telescope[32];
    char dataset[64];
    double umax_lambda;       /* at the top frequency */
    int image_nx, image_ny;
    double cell_arcsec;
    int64_t block_rows;
    uint64_t bytes_read;      /* from the MS's columns */
    double seconds;
} ms_import_info;

/*
 * Import the MS at ms_path into out_dir/vis.h5 (out_dir and parents are
 * created; the store appears only when complete). info may be NULL.
 * Errors name the MS and the table or column: a path that is not a
 * casacore table, a missing subtable or column (IB_ENOTFOUND for the data
 * column, IB_ECORRUPT otherwise), several spectral windows without
 * opts->spw (IB_EINVAL, listing them), an unsupported correlation setup
 * (IB_EUNSUPPORTED). On failure no store is left behind.
 */
int ms_import(ib_err *e, const char *ms_path, const char *out_dir, const ms_import_opts *o,
              ms_import_info *info);

typedef struct ms_export_opts {
    int overwrite;          /* replace an existing MS (only if it is a casacore table) */
    int64_t block_rows;     /* 0: automatic */
    ms_progress_fn progress;
    void *progress_ctx;
} ms_export_opts;

void ms_export_opts_init(ms_export_opts *o);

typedef struct ms_export_info {
    int64_t nrow, nchan;
    int npol, nfield, nant, nscan;
    double interval;          /* seconds, INTERVAL and EXPOSURE */
    int64_t block_rows;
    double seconds;
} ms_export_info;

/*
 * Write the store in store_dir as a MeasurementSet at ms_path. The MS is
 * built at ms_path.imbench-tmp and renamed when complete; an existing
 * ms_path is an error unless opts->overwrite (and it is a casacore
 * table). On failure nothing is left at ms_path. info may be NULL.
 */
int ms_export(ib_err *e, const char *store_dir, const char *ms_path, const ms_export_opts *o,
              ms_export_info *info);

/*
 * Parse a channel range "A~B" (inclusive, A <= B) or "A" into *first and
 * *last; IB_EINVAL naming the text otherwise.
 */
int ms_parse_chans(ib_err *e, const char *text, int64_t *first, int64_t *last);

#endif
