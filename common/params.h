/*
 * params: the one table of cell parameters (and suite settings). Every
 * parameter is declared once below, in IB_PARAM_MAP — name, type, range,
 * default, imager option, export column, label, where the imager reports
 * its effective value and which img_params member it lands in — and
 * every place a parameter travels walks this table: the suite parser
 * (axes, zip, exclude, filters, dataset keys, suite keys), cell labels
 * and content hashes, the imager's options and --help, the launchers'
 * imager command lines, ingest's effective parameters and the export.
 * A value is range-checked by one function, ib_param_parse, wherever it
 * comes from, so a suite refuses exactly what the imager would refuse,
 * with the same words. The model is Redis's config.c (static_configs[]).
 * Prefix ib_param_ / IB_P_. Depends on nothing but libc (common.h).
 *
 * Adding a parameter is one X(...) line in IB_PARAM_MAP: the suite then
 * has an axis of that name, cells carry it (in their hash only when set
 * to a value other than the default), the imager has the option (landing
 * in the img_params member named by IB_IMG(member)), and export and
 * attempt_params have its column. docs/suites.md renders the table.
 */
#ifndef IB_PARAMS_H
#define IB_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/* How a value is written and checked. */
enum ib_ptype {
    IB_PT_INT,    /* integer in [imin, imax]; IB_PF_ODD: odd */
    IB_PT_REAL,   /* number in [min, max]; IB_PF_LO_OPEN / IB_PF_HI_OPEN exclude a bound */
    IB_PT_BYTES,  /* byte count in [imin, imax]: 4096, 64K, 1.5G, 2GiB (ib_parse_bytes) */
    IB_PT_BOOL,   /* true|false (also 1|0); an imager flag without a value */
    IB_PT_WORD,   /* one of `words` ("a|b|c"); the value is the word's index */
    IB_PT_WEIGHT, /* natural|uniform|briggs[:R], R in [min, max]; index, and R in d */
    IB_PT_IMAGE,  /* NX or NXxNY (ib_parse_image), each even and in [imin, imax] */
    IB_PT_NAME,   /* a name: [A-Za-z0-9._-], not starting with '.', < 64 characters;
                   * never a path (the value's text is the caller's to keep) */
};

/* Flags: where a parameter is accepted, how it enters a cell's hash, and
 * range details. */
enum {
    IB_PF_DATA = 1 << 0,     /* a dataset key: suite top level and dataset entries */
    IB_PF_AXIS = 1 << 1,     /* a suite axis (axes:, zip, exclude, --filter) */
    IB_PF_SUITE = 1 << 2,    /* a suite setting, not part of a cell */
    IB_PF_REQUIRED = 1 << 3, /* every cell has it (no default) */
    IB_PF_ALWAYS = 1 << 4,   /* in a cell's params even when not given (its default) */
    IB_PF_KEEP = 1 << 5,     /* in a cell's params whenever given, even equal to the
                              * default (the hash rule of the parameters older than
                              * this table; a new parameter leaves this out, so that
                              * naming its default changes no hash) */
    IB_PF_ODD = 1 << 6,
    IB_PF_LO_OPEN = 1 << 7,  /* min itself is out of range */
    IB_PF_HI_OPEN = 1 << 8,  /* max itself is out of range */
    IB_PF_ZERO_OR = 1 << 9,  /* an integer: 0 (off), or in [imin, imax] */
};

/* A cell parameter: a dataset key or an axis. */
#define IB_PF_CELL (IB_PF_DATA | IB_PF_AXIS)

/*
 * The table. X(ID, NAME, LANDING, fields of ib_param...): LANDING is
 * IB_IMG(member) for a parameter the imager takes as an option (member of
 * img_params; a name only — common/ includes nothing of imaging/, the
 * imager expands this macro with offsetof) or IB_NOIMG. Unset text fields
 * take these defaults: column and label = name, stats = "params.<name>".
 * def is the default as text ("auto": the imager or the generator
 * derives it from the dataset). The order is the order of labels, of
 * --help and of the export's columns.
 */
#define IB_PARAM_MAP(X)                                                                            \
    /* what `harness gen` makes: the dataset a cell images */                                      \
    X(DATASET, "dataset", IB_NOIMG, .type = IB_PT_NAME,                                            \
      .flags = IB_PF_DATA | IB_PF_REQUIRED | IB_PF_ALWAYS, .stats = "dataset.name",                \
      .help = "dataset spec (workloads/datasets/NAME.yaml)")                                       \
    X(SCALE, "scale", IB_NOIMG, .type = IB_PT_REAL,                                                \
      .flags = IB_PF_DATA | IB_PF_REQUIRED | IB_PF_ALWAYS | IB_PF_LO_OPEN, .min = 0, .max = 1,     \
      .stats = "-", .help = "fraction of the full dataset's visibilities")                         \
    X(SEED, "seed", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_DATA | IB_PF_ALWAYS,               \
      .imin = 0, .imax = INT64_MAX, .def = "1", .stats = "-", .help = "generator seed")            \
    X(CHANS, "chans", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_DATA | IB_PF_KEEP,               \
      .imin = 1, .imax = 1 << 24, .def = "auto", .stats = "dataset.nchan",                         \
      .help = "channels; auto: the dataset's, scaled")                                             \
    X(TIMES, "times", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_DATA | IB_PF_KEEP,               \
      .imin = 2, .imax = 1 << 24, .def = "auto", .stats = "-",                                     \
      .help = "integrations; auto: the dataset's, scaled")                                         \
    X(IMAGE, "image", IB_IMG(nx), .type = IB_PT_IMAGE,                                             \
      .flags = IB_PF_DATA | IB_PF_KEEP, .imin = 2, .imax = 65536, .def = "auto",                   \
      .option = "image", .arg = "NX[xNY]", .column = "image_nx", .column2 = "image_ny",            \
      .help = "image size; auto: the store's suggestion")                                          \
    /* the imager's parameters: the suite's axes */                                                \
    X(CHUNKS, "chunks", IB_IMG(chunks), .type = IB_PT_INT,                                         \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .imin = 1, .imax = 1000000, .def = "auto",                 \
      .option = "chunks", .arg = "N",                                                              \
      .help = "channel chunks; auto: 4 channels each, at least threads x ranks")                   \
    X(ROW_CHUNKS, "row_chunks", IB_IMG(row_chunks), .type = IB_PT_INT,                             \
      .flags = IB_PF_AXIS, .imin = 1, .imax = 1000000, .def = "1", .option = "row-chunks",         \
      .arg = "M", .label = "rows",                                                                 \
      .help = "row tasks per channel chunk, their grids summed before the FFT")                    \
    X(NODES, "nodes", IB_NOIMG, .type = IB_PT_INT,                                                 \
      .flags = IB_PF_AXIS | IB_PF_ALWAYS, .imin = 1, .imax = 1024, .def = "1",                     \
      .stats = "params.ranks", .help = "MPI ranks: mpirun -np")                                    \
    X(THREADS, "threads", IB_IMG(threads), .type = IB_PT_INT,                                      \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .imin = 1, .imax = 1024, .def = "1",                       \
      .option = "threads", .arg = "T", .help = "worker threads per rank")                          \
    X(SUPPORT, "support", IB_IMG(support), .type = IB_PT_INT,                                      \
      .flags = IB_PF_AXIS | IB_PF_KEEP | IB_PF_ODD, .imin = 3, .imax = 51, .def = "7",             \
      .option = "support", .arg = "W", .label = "W", .help = "kernel support in grid cells")       \
    X(GRIDDER, "gridder", IB_IMG(gridder), .type = IB_PT_WORD,                                     \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .words = "standard|mosaic", .def = "standard",             \
      .option = "gridder", .help = "gridder; in a suite the dataset's by default")                 \
    X(WEIGHT, "weight", IB_IMG(weighting), .type = IB_PT_WEIGHT,                                   \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .min = -2, .max = 2, .def = "natural",                     \
      .option = "weight", .arg = "natural|uniform|briggs:R", .help = "weighting")                  \
    X(PRECISION, "precision", IB_IMG(dbl), .type = IB_PT_WORD,                                     \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .words = "float|double", .def = "float",                   \
      .option = "precision", .help = "grid and FFT precision")                                     \
    X(MEM_BUDGET, "mem_budget", IB_IMG(mem_budget), .type = IB_PT_BYTES,                           \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .imin = 1, .imax = INT64_C(1) << 60, .def = "0",           \
      .option = "mem-budget", .arg = "BYTES", .label = "budget",                                   \
      .help = "memory budget per rank: chunks hold their planes and spill past it")                \
    X(PADDING, "padding", IB_IMG(padding), .type = IB_PT_REAL,                                     \
      .flags = IB_PF_AXIS | IB_PF_KEEP | IB_PF_LO_OPEN, .min = 1, .max = 4, .def = "1.5",          \
      .option = "padding", .arg = "P", .help = "grid oversampling factor")                         \
    X(SCHEDULE, "schedule", IB_IMG(schedule), .type = IB_PT_WORD,                                  \
      .flags = IB_PF_AXIS | IB_PF_KEEP, .words = "static|dynamic|locality", .def = "static",       \
      .option = "schedule", .help = "chunk to rank assignment")                                    \
    X(SERIAL_WRITE, "serial_write", IB_IMG(serial_write), .type = IB_PT_BOOL,                      \
      .flags = IB_PF_AXIS, .def = "false", .option = "serial-write", .label = "serial",            \
      .help = "funnel every plane through rank 0, as CASA writes images")                          \
    X(FSYNC, "fsync", IB_IMG(fsync), .type = IB_PT_BOOL, .flags = IB_PF_AXIS,                      \
      .def = "false", .option = "fsync",                                                           \
      .help = "durable cubes: write planes back as they come, fsync before the rename")            \
    X(IMAGER, "imager", IB_NOIMG, .type = IB_PT_WORD, .flags = IB_PF_AXIS,                         \
      .words = "imbench|wsclean", .def = "imbench",                                                \
      .help = "who images the cell; wsclean: WSClean on the dataset's MS")                         \
    X(OVERSAMPLE, "oversample", IB_IMG(oversample), .type = IB_PT_INT,                             \
      .flags = IB_PF_AXIS | IB_PF_ZERO_OR, .imin = 2, .imax = 100000, .def = "0",               \
      .option = "oversample",                                                                      \
      .arg = "K", .help = "kernel table with K samples per cell; 0: the exact polynomial")         \
    X(CELL, "cell", IB_IMG(cell_arcsec), .type = IB_PT_REAL,                                       \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN, .min = 0, .max = 648000, .def = "auto",                 \
      .option = "cell", .arg = "ARCSEC", .stats = "params.cell_arcsec",                            \
      .help = "pixel size in arcsec; auto: the store's suggestion")                                \
    X(PSF, "psf", IB_IMG(psf), .type = IB_PT_BOOL, .flags = IB_PF_AXIS, .def = "false",            \
      .option = "psf", .help = "also write the PSF cube")                                          \
    X(STOKES, "stokes", IB_IMG(stokes), .type = IB_PT_WORD, .flags = IB_PF_AXIS,                   \
      .words = "I|Q|U|V|XX,YY|RR,LL|XX|YY|RR|LL|corr", .def = "I", .option = "stokes",             \
      .help = "what each image plane is: Stokes (from the store's correlations), "                 \
              "correlations, or corr: the store's own")                                            \
    X(FFT_PLAN, "fft_plan", IB_IMG(fft_plan), .type = IB_PT_WORD, .flags = IB_PF_AXIS,             \
      .words = "estimate|measure|patient", .def = "measure", .option = "fft-plan",                 \
      .stats = "-", .label = "plan", .help = "FFTW planning effort; wisdom is cached")             \
    X(MEM_TARGET, "mem_target", IB_IMG(mem_target), .type = IB_PT_REAL,                            \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN, .min = 0, .max = 1, .def = "0.85",                      \
      .option = "mem-target", .arg = "F", .stats = "-", .label = "target",                         \
      .help = "with a budget: paused chunks resume below this fraction of it")                     \
    X(MEM_SPILL, "mem_spill", IB_IMG(mem_spill), .type = IB_PT_REAL,                               \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN, .min = 0, .max = 1, .def = "0.92",                      \
      .option = "mem-spill", .arg = "F", .stats = "-", .label = "spill",                           \
      .help = "with a budget: planes spill to disk past this fraction")                            \
    X(MEM_PAUSE, "mem_pause", IB_IMG(mem_pause), .type = IB_PT_REAL,                               \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN, .min = 0, .max = 1, .def = "0.95",                      \
      .option = "mem-pause", .arg = "F", .stats = "-", .label = "pause",                           \
      .help = "with a budget: no new chunk starts past this fraction")                             \
    X(PB_LIMIT, "pb_limit", IB_IMG(pb_limit), .type = IB_PT_REAL,                                  \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN | IB_PF_HI_OPEN, .min = 0, .max = 1, .def = "0.2",       \
      .option = "pb-limit", .arg = "F", .stats = "-", .label = "pb",                               \
      .help = "mosaic: the normalised mosaic where the primary beam >= F")                         \
    X(NO_APERTURE, "no_aperture", IB_IMG(no_aperture), .type = IB_PT_BOOL,                         \
      .flags = IB_PF_AXIS, .def = "false", .option = "no-aperture", .stats = "-",                  \
      .help = "mosaic: switch the primary beam off, PB = 1, for tests")                            \
    X(MOSAIC_METHOD, "mosaic_method", IB_IMG(mosaic_method), .type = IB_PT_WORD,                   \
      .flags = IB_PF_AXIS, .words = "aperture|facet|auto", .def = "auto",                          \
      .option = "mosaic-method", .label = "method",                                                \
      .help = "mosaic: aperture kernels, per-pointing facets, or the cheaper by a cost model")     \
    X(APERTURE_CUT, "aperture_cut", IB_IMG(aperture_cut), .type = IB_PT_REAL,                      \
      .flags = IB_PF_AXIS | IB_PF_LO_OPEN | IB_PF_HI_OPEN, .min = 0, .max = 1, .def = "1e-05",     \
      .option = "aperture-cut", .arg = "C", .label = "cut",                                        \
      .help = "mosaic: beam level (of its peak) where aperture kernels and facets end")            \
    X(APERTURE_OVERSAMPLE, "aperture_oversample", IB_IMG(aperture_oversample),                     \
      .type = IB_PT_INT, .flags = IB_PF_AXIS | IB_PF_ZERO_OR, .imin = 2, .imax = 100000,           \
      .def = "0", .option = "aperture-oversample", .arg = "K", .label = "ap_over",                 \
      .help = "mosaic aperture kernel tables: K samples per cell; 0: --oversample, else 128")      \
    /* suite settings: how a suite runs, not what a cell is */                                     \
    X(TIMEOUT, "timeout", IB_NOIMG, .type = IB_PT_REAL,                                            \
      .flags = IB_PF_SUITE | IB_PF_LO_OPEN, .min = 0, .max = 1e7, .def = "600",                    \
      .help = "seconds per attempt")                                                               \
    X(REPEATS, "repeats", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_SUITE,                       \
      .imin = 1, .imax = 1000, .def = "1", .help = "recorded attempts per cell")                   \
    X(WARMUP, "warmup", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_SUITE, .imin = 0,              \
      .imax = 100, .def = "0", .help = "unrecorded runs per cell before the repeats")              \
    X(RETRIES, "retries", IB_NOIMG, .type = IB_PT_INT, .flags = IB_PF_SUITE,                       \
      .imin = 0, .imax = 100, .def = "0",                                                          \
      .help = "runs again of a failed, timed-out or killed attempt")                               \
    X(CACHE_BUDGET, "cache_budget", IB_NOIMG, .type = IB_PT_BYTES,                                 \
      .flags = IB_PF_SUITE, .imin = 1, .imax = INT64_C(1) << 60, .def = "0",                       \
      .help = "bytes the dataset cache may hold; 0: no limit")

enum ib_param_id {
#define IB_PARAM_ENUM(id, name, landing, ...) IB_P_##id,
    IB_PARAM_MAP(IB_PARAM_ENUM)
#undef IB_PARAM_ENUM
    IB_NPARAM
};

/* One row of the table. */
typedef struct ib_param {
    const char *name;      /* suite key, cell params key, filter key, attempt_params name */
    enum ib_ptype type;
    unsigned flags;        /* IB_PF_* */
    int64_t imin, imax;    /* INT, BYTES, IMAGE (each side) */
    double min, max;       /* REAL, WEIGHT (Briggs R) */
    const char *words;     /* WORD: "a|b|c" */
    const char *def;       /* default as text; NULL for IB_PF_REQUIRED */
    const char *option;    /* imager option without "--"; NULL: none */
    const char *arg;       /* option placeholder ("W"); NULL: from the type */
    const char *column;    /* export column (IMAGE: the NX column) */
    const char *column2;   /* IMAGE: the NY column */
    const char *label;     /* short name for figure keys and legends */
    const char *stats;     /* "params.x" or "dataset.x": where the imager's stats
                            * JSON holds the effective value; "-": nowhere */
    const char *help;      /* one line, without range or default */
} ib_param;

/* A parsed value. IMAGE: NX in i, NY in j; WEIGHT: the word's index in i,
 * Briggs R in d; NAME: nothing (the caller keeps the text). */
typedef struct ib_pval {
    int64_t i;   /* INT, BYTES, BOOL (0/1), WORD (index), WEIGHT (index), IMAGE (NX) */
    double d;    /* REAL, WEIGHT (R) */
    int32_t j;   /* IMAGE (NY) */
    int32_t set; /* 0: not given, the default applies */
} ib_pval;

/* The row of id (0 <= id < IB_NPARAM), with the defaults of its unset
 * text fields filled in. */
const ib_param *ib_param_get(int id);

/* The id of the parameter named name (or whose imager option is name,
 * for ib_param_by_option); -1 when there is none. */
int ib_param_find(const char *name);
int ib_param_by_option(const char *option);

/*
 * Parse and range-check text as a value of parameter id: the one check
 * of every parameter, wherever its value comes from. 0 with *out set (set
 * = 1), or IB_EINVAL with why (n bytes) saying what was expected, in the
 * words every caller prefixes with its own place ("suite 'x.yaml' line 3
 * column 7: ", "imager: option '--threads': "):
 *   "threads must be an integer in 1..1024, got '10000'"
 *   "support must be odd, got 4"
 */
int ib_param_parse(int id, const char *text, ib_pval *out, char *why, size_t n);

/* The default of id as a value (set = 0). "auto" and required parameters
 * give zeros. */
void ib_param_default(int id, ib_pval *out);

/* Is the default of id a value the imager or generator derives ("auto",
 * or required)? */
int ib_param_derived(int id);

/*
 * Canonical text of v (or of the default when v is NULL or not set) into
 * buf: what labels, filters, command lines, attempt_params and the export
 * show. INT and BYTES in decimal, REAL the shortest text that reads back
 * as the same double, BOOL true/false, IMAGE NXxNY, WEIGHT
 * briggs:%g. NAME gives "" (the caller keeps names).
 */
void ib_param_text(int id, const ib_pval *v, char *buf, size_t n);

/* Do a and b hold the same value of id (both given or not)? */
int ib_param_equal(int id, const ib_pval *a, const ib_pval *b);

/* Is v given and different from id's default? */
int ib_param_differs(int id, const ib_pval *v);

/* Range and default of id in words: "odd integer 3..51, default 7". */
void ib_param_describe(int id, char *buf, size_t n);

/*
 * Checks across parameters of one cell or imager run (v: IB_NPARAM
 * values, unset ones at their defaults): mem_target <= mem_spill <=
 * mem_pause, and with a budget, the smallest working set the imager's
 * memory model can have for the given image (ib_param_min_bytes) within
 * mem_pause x mem_budget. 0, or IB_EINVAL with why.
 */
int ib_params_check_set(const ib_pval v[IB_NPARAM], char *why, size_t n);

/*
 * A lower bound of the memory one rank of the imager holds at once for
 * an image of v's size (0 when the image is not given): per thread a
 * padded grid and its half spectrum for one polarisation and one plane
 * (imaging/gridder.c's setup_budget counts these and more).
 */
double ib_param_min_bytes(const ib_pval v[IB_NPARAM]);

/* The machine a cell would run on. */
typedef struct ib_machine {
    long cores;          /* online logical CPUs */
    double mem_bytes;    /* physical memory plus swap */
} ib_machine;

/* This machine (sysconf, sysinfo); unknown figures are 0. */
void ib_machine_probe(ib_machine *m);

/*
 * What a run of v (all its ranks on machine m) cannot do or would do
 * badly there. IB_EINVAL with why when it can never run there (one rank's
 * smallest working set is more memory than m has); else 0, with warn (wn
 * bytes; "" when none) naming what oversubscribes m: ranks x threads past
 * its cores, all ranks' working sets past its memory.
 */
int ib_params_check_machine(const ib_pval v[IB_NPARAM], const ib_machine *m, char *why,
                            size_t n, char *warn, size_t wn);

#endif
