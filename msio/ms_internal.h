/*
 * ms_internal.h: the boundary between msio's C code (msio.c: options,
 * the visibility store, progress) and its one C++ file (ms_casacore.cc:
 * everything that touches casacore). Plain C types only, so that both
 * languages include it; the C++ side never sees common.h or imaging.h.
 * Errors are negative codes equal to the IB_E* values (msio.c checks the
 * correspondence at compile time) with the message in a caller buffer.
 */
#ifndef MS_INTERNAL_H
#define MS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MS__ENOMEM = -1,
    MS__EIO = -2,
    MS__EINVAL = -4,
    MS__ECORRUPT = -5,
    MS__ENOTFOUND = -6,
    MS__EUNSUPPORTED = -12,
};

/* Message buffer handed across: text (lowercase, names the MS and the
 * table or column) written into msg, at most n bytes with the NUL. */
typedef struct ms__msg {
    char *msg;
    size_t n;
} ms__msg;

/* ------------------------------------------------------------------ */
/* Reading an MS                                                       */
/* ------------------------------------------------------------------ */

typedef struct ms__reader ms__reader;

/* What a selection resolved to. Arrays belong to the reader. */
typedef struct ms__sel {
    int64_t nrow_ms;          /* rows of the main table */
    int64_t nrow;             /* rows selected */
    int64_t nchan;            /* channels selected */
    int64_t chan0;            /* first selected channel of the SPW */
    int64_t nchan_spw;        /* channels of the SPW */
    int spw;                  /* spectral window imported */
    int ncorr;                /* correlations in the MS */
    int npol;                 /* kept: parallel hands */
    int corr[4];              /* AIPS codes of the kept ones */
    int reduced;              /* 1: 4 correlations reduced to 2 */
    int nfield;               /* fields kept; store index = position here */
    int *field_ids;           /* MS FIELD ids, nfield */
    double *field_dir;        /* (ra, dec) radians, 2 * nfield */
    int nant;
    double *dish;             /* nant metres */
    double *freq;             /* nchan Hz */
    double umax_m;            /* max sqrt(u^2 + v^2) over selected rows, metres */
    char telescope[32];
    char weight_source[48];   /* "WEIGHT_SPECTRUM", "WEIGHT" or "SIGMA" */
    /* Keywords written by imbench's exporter (has_keys = 1 when found). */
    int has_keys;
    char dataset[64];
    double phase_centre[2];
    int image_nx, image_ny;
    double cell_arcsec;
} ms__sel;

/* Open the MS at path (a casacore table with the subtables we read). */
int ms__reader_open(ms__msg m, const char *path, ms__reader **out);

/*
 * Select rows and channels: column = DATA, CORRECTED_DATA or MODEL_DATA;
 * spw = -1 for the only spectral window in use; fields = NULL for every
 * field with selected rows, else a comma-separated list of ids, ranges
 * A~B or names, kept in the order given; chan_first..chan_last inclusive
 * (-1: all). Reads the scalar columns once (in blocks) to find the rows.
 * *out stays valid until the reader is closed.
 */
int ms__reader_select(ms__msg m, ms__reader *r, const char *column, int spw,
                      const char *fields, int64_t chan_first, int64_t chan_last,
                      const ms__sel **out);

/*
 * Selected rows [i0, i0+n) in store layout: uvw 3n, vis n*nchan*npol*2
 * floats, weight and flag n*nchan*npol (FLAG_ROW or'ed in), field (store
 * index), ant1, ant2, time n. Bytes read from the table are added to
 * *bytes.
 */
int ms__reader_read(ms__msg m, ms__reader *r, int64_t i0, int64_t n, double *uvw,
                    float *vis, float *weight, uint8_t *flag, int32_t *field,
                    int32_t *ant1, int32_t *ant2, double *time, uint64_t *bytes);

/* Close; NULL is a no-op. */
void ms__reader_close(ms__reader *r);

/* ------------------------------------------------------------------ */
/* Writing an MS                                                       */
/* ------------------------------------------------------------------ */

typedef struct ms__writer ms__writer;

/* What the MS will hold; arrays are borrowed for the call. */
typedef struct ms__wdesc {
    const char *dataset, *telescope;
    int64_t nrow, nchan;
    int npol;
    const int *corr;          /* AIPS codes */
    int nfield;
    const double *field_dir;  /* 2 * nfield */
    int nant;
    const double *dish;       /* nant */
    const double *freq;       /* nchan */
    double interval;          /* seconds, INTERVAL and EXPOSURE */
    double time_first, time_last;
    double phase_centre[2];
    int image_nx, image_ny;
    double cell_arcsec;
    int overwrite;            /* replace an existing table at path */
} ms__wdesc;

/*
 * Create the MS at path (written at path.imbench-tmp and renamed by
 * close): main table with nrow rows, every MS subtable, and the
 * ANTENNA, FEED, SPECTRAL_WINDOW, POLARIZATION, DATA_DESCRIPTION, FIELD,
 * OBSERVATION and PROCESSOR rows filled from d.
 */
int ms__writer_create(ms__msg m, const char *path, const ms__wdesc *d, ms__writer **out);

/* Rows [row0, row0+n) from store-layout buffers (as ms__reader_read).
 * Rows must be written in increasing order (scan numbers follow fields). */
int ms__writer_write(ms__msg m, ms__writer *w, int64_t row0, int64_t n, const double *uvw,
                     const float *vis, const float *weight, const uint8_t *flag,
                     const int32_t *field, const int32_t *ant1, const int32_t *ant2,
                     const double *time);

/* Flush, close and rename into place; the writer is freed either way and
 * a failure removes the temporary table. */
int ms__writer_close(ms__msg m, ms__writer *w, int *nscan);

/* Drop the temporary table; NULL is a no-op. */
void ms__writer_abort(ms__writer *w);

#ifdef __cplusplus
}
#endif

#endif
