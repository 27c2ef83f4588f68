/*
 * suite: benchmark suites (workloads/suites/NAME.yaml, read with libyaml)
 * and their expansion into cells — one imager run's parameters each.
 * Prefix wl_suite_ (the cell type is wl_cell). Depends on common/ (the
 * parameter table, common/params.h, which holds every key's type, range
 * and default) and workloads.h (dataset specs, the generator's cache key).
 * The grammar, with every key, is docs/suites.md; in short:
 *
 *   name: smoke                  # [a-z0-9._-]+
 *   description: ...             # optional
 *   datasets:                    # non-empty; a name or a map with overrides
 *     - alma-xc66
 *     - {name: alma-x2e3, chans: 8, image: 64x64, axes: {chunks: [2, 4]}}
 *   scale: 0.001                 # dataset keys (table rows flagged DATA):
 *   seed: 1                      #   scale, seed, chans, times, image
 *   image: 64x64
 *   timeout: 120                 # suite settings (flagged SUITE): timeout,
 *   repeats: 3                   #   repeats, warmup, retries, cache_budget
 *   axes:                        # each a non-empty list (or one scalar) of
 *     chunks: [1, 2, 4]          #   values of an axis (flagged AXIS)
 *     support: [7, 17, 51]
 *   zip:                         # groups of axes that vary together
 *     - [chunks, threads]        # (same length; each axis in one group)
 *   exclude:                     # cells matching every key of a rule go
 *     - {nodes: 2, chunks: 1}    # a value may be a list: any of them
 *
 * A dataset entry may override the dataset keys and replace axes (its
 * `axes:` map replaces those axes' values for that dataset; zip lengths
 * are checked per dataset). Expansion order: datasets in file order; then
 * the axes in the order they appear under `axes:` (a zip group at its
 * first member's place), the last one varying fastest; excluded cells
 * are dropped.
 *
 * Every error names the file, line and column and what was expected, in
 * the words the imager uses for the same value:
 *   suite 'x.yaml' line 12 column 14: support must be odd, got 4
 * and nothing runs: a suite is validated completely before it expands.
 * Parsing is linear in the file's size (at most 1 MiB): nesting deeper
 * than WL_SUITE_MAX_DEPTH is refused before libyaml's scanner (quadratic
 * in flow nesting) sees it, duplicates are found with hash sets, aliases
 * may not repeat more values than the file holds, and expansion (cells x
 * exclude rules) is bounded.
 */
#ifndef WL_SUITE_H
#define WL_SUITE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/common.h"

#include "common/params.h"

/* Nesting deeper than this (lists and mappings in one another) is refused. */
#define WL_SUITE_MAX_DEPTH 64

/*
 * One cell: a dataset materialisation plus the imager's parameters, one
 * value per row of the parameter table (v[IB_P_CHUNKS], ...; v[k].set = 0:
 * not given, the default applies). The dataset's name is kept in dataset
 * (the table's NAME values hold no text). Which values enter params_json
 * and hash follows the table's flags (IB_PF_ALWAYS, IB_PF_KEEP, else only
 * a value other than the default).
 */
typedef struct wl_cell {
    char dataset[64];
    ib_pval v[IB_NPARAM];
    char dataset_key[33];       /* wl_gen_cache_key of the dataset fields */
    /* identity */
    char hash[65];              /* SHA-256 (hex) of params_json */
    char params_json[1024];     /* canonical: sorted keys, compact */
} wl_cell;

/* The value of parameter id in c: the given one, else the default (0 for
 * a derived default such as chunks' "auto"). */
int64_t wl_cell_int(const wl_cell *c, int id);
double wl_cell_real(const wl_cell *c, int id);

/* Canonical text of parameter id in c (the default's when not given) into
 * buf; the dataset's name for IB_P_DATASET. */
void wl_cell_text(const wl_cell *c, int id, char *buf, size_t n);

/* Is parameter id part of c's params and hash (given, and by the table's
 * rule kept)? These are what the launchers pass to the imager. */
int wl_cell_has(const wl_cell *c, int id);

/* params_json and hash from c's values (and dataset_key): 0, or IB_ENOMEM
 * / IB_EOVERFLOW with e set. */
int wl_cell_finish(ib_err *e, wl_cell *c);

/* The generator options c's dataset keys stand for (what `harness gen`
 * makes for it, and what its dataset_key is computed from). */
struct wl_gen_opts;
void wl_cell_gen_opts(const wl_cell *c, struct wl_gen_opts *o);

typedef struct wl_suite {
    char name[64];
    char path[1024];
    char file_hash[65];         /* SHA-256 of the file's bytes */
    double timeout;             /* seconds per attempt */
    int repeats;
    int warmup;                 /* unrecorded runs per cell before the repeats */
    int retries;                /* runs again of a failed attempt (suite key retries) */
    int64_t cache_budget;       /* bytes the dataset cache may hold; 0: no limit */
    size_t ncells;
    wl_cell *cells;             /* owned */
    char *warnings;             /* owned; "" or lines naming cells that would
                                 * oversubscribe the machine (wl_suite_opts.machine) */
} wl_suite;

typedef struct wl_suite_opts {
    const char *datasets_dir;   /* NULL: see wl_datasets_dir */
    /* The machine the cells will run on, or NULL when unknown (cells run
     * elsewhere): a cell that can never run there is refused, one that
     * would oversubscribe it is named in the suite's warnings. */
    const ib_machine *machine;
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
 * --filter: "key=value[,key=value...]" where key is a cell parameter (a
 * dataset key or an axis) or hash (a prefix of the cell hash). A cell
 * matches when every pair matches: the value is read as the parameter's
 * (so 1.50 matches 1.5, true matches 1, 64 matches 64x64) and compared
 * with the cell's, or its default when the cell leaves it unset (chunks=auto
 * matches cells without chunks). IB_EINVAL with a message for an unknown
 * key or a pair without '='.
 */
int wl_suite_filter(ib_err *e, const wl_cell *c, const char *expr, int *match);

/*
 * The cell's parameters as a new JSON object (caller json_decref's), the
 * same object whose canonical text is params_json.
 */
json_t *wl_suite_cell_params(const wl_cell *c);

/*
 * Rebuild a cell from a parameters object (as in a cell.json beside a
 * stats.json run elsewhere): validates each value with the parameter
 * table, as the suite parser does, and recomputes params_json and hash.
 * dataset_key is taken from the object when present, else computed
 * (which needs the dataset spec).
 */
int wl_suite_cell_from_params(ib_err *e, json_t *params, const wl_suite_opts *o, wl_cell *out);

/* 1 when the cell is imaged by WSClean (imager axis "wsclean"). */
int wl_cell_is_wsclean(const wl_cell *c);

/* "dataset chunks=4 nodes=1 ..." (the parameters in the cell's hash, in
 * the table's order; a true flag as its bare name) into buf. */
void wl_suite_cell_label(const wl_cell *c, char *buf, size_t n);

/* SHA-256 of data as 64 hex digits and a NUL. */
void wl_suite_sha256(const void *data, size_t len, char hex[65]);

#endif
