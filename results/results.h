/*
 * results: the SQLite results store. One file (default results/imbench.db)
 * in WAL mode with a bounded busy timeout; a schema_version table with
 * forward migrations; runs with their provenance, run-independent cells,
 * attempts, and what an attempt measured (metrics, phases, counters), plus
 * tables later issues fill (tasks, comm, baselines). Also ingest of the
 * imager's stats JSON, tidy export (CSV/JSON), listings and verification.
 * Prefix res_. Depends on common/ only (and SQLite, jansson).
 *
 * Every write is one IMMEDIATE transaction, so a process killed at any
 * moment leaves the database consistent and loses only the transaction in
 * flight. A writer that cannot get the lock within the busy timeout gets
 * IB_ELOCKED with "database 'x' is locked by another writer".
 */
#ifndef RES_RESULTS_H
#define RES_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/common.h"
#include "common/params.h"

/* Schema version this program writes; older databases are migrated by the
 * commands that write (docs/results.md). */
#define RES_SCHEMA_VERSION 5
#define RES_DEFAULT_DB "results/imbench.db"
#define RES_BUSY_MS_DEFAULT 5000

typedef struct res_db res_db;

/* ------------------------------------------------------------------ */
/* Opening, schema, migrations (db.c)                                  */
/* ------------------------------------------------------------------ */

enum {
    /*
     * Read only: an existing imbench database of this program's schema
     * version, opened SQLITE_OPEN_READONLY with query_only on. Nothing is
     * migrated and the journal mode is not switched, so the file is never
     * changed; a read-only file, directory or file system works. Refused
     * without a change: a missing file (IB_ENOTFOUND); a file that is not
     * an imbench database — 0 bytes, not SQLite, tables but no
     * schema_version (IB_ECORRUPT); a newer schema, and an older one
     * ("migrate it first with 'harness migrate --db F'"), IB_EUNSUPPORTED.
     * Every command that only reads opens this way.
     */
    RES_OPEN_READONLY = 1,
    /* Read-write, but the database must exist already (IB_ENOTFOUND
     * otherwise): for commands that add to a recorded database (simulate). */
    RES_OPEN_EXISTING = 2,
    /* With RES_OPEN_READONLY: the opening's corruption check left out
     * (harness verify, which runs the full integrity_check itself). A
     * read-only opening otherwise runs PRAGMA quick_check on a file of up
     * to RES_QUICK_CHECK_MAX bytes and turns on cell_size_check, so a
     * damaged page is "database 'F' is corrupt: run harness verify"
     * (IB_ECORRUPT), not rows silently missing from a report. */
    RES_OPEN_NOCHECK = 4,
};
#define RES_QUICK_CHECK_MAX ((long long)256 << 20) /* 396 MB took 2.6 s here */

typedef struct res_open_opts {
    int flags;   /* RES_OPEN_* */
    int busy_ms; /* lock wait before IB_ELOCKED; 0 = RES_BUSY_MS_DEFAULT */
} res_open_opts;

/*
 * Open the database at path. Without flags: open or create it (with its
 * directory; an empty file becomes a new database), switch it to WAL,
 * enable foreign keys, set the busy timeout and migrate it forward to
 * RES_SCHEMA_VERSION (each migration one transaction). A file that is not
 * an imbench database (not SQLite, or tables but no schema_version) is
 * refused before anything is written (IB_ECORRUPT), and so is a newer
 * version (IB_EUNSUPPORTED). RES_OPEN_READONLY: see above. o may be NULL
 * for the defaults. On failure *out is NULL and e names the file.
 *
 * Failures of any res_ function on an open database: SQLite's corruption
 * codes (SQLITE_CORRUPT, SQLITE_NOTADB) are IB_ECORRUPT with "database 'F'
 * is corrupt: run harness verify (...)"; a full disk or quota (SQLITE_FULL,
 * or an I/O error whose errno is ENOSPC/EDQUOT) is IB_ENOSPACE with
 * "database 'F': no space left on device while ..."; a writer that waits
 * past the busy timeout IB_ELOCKED.
 */
int res_open(ib_err *e, const char *path, const res_open_opts *o, res_db **out);

/*
 * `harness migrate`: open the existing database at path read-write, which
 * migrates it to RES_SCHEMA_VERSION, and close it. *from and *to are the
 * versions before and after. IB_ENOTFOUND when path does not exist (a
 * migration never creates a database); else as res_open.
 */
int res_migrate(ib_err *e, const char *path, int *from, int *to);

/* Close; NULL does nothing. */
void res_close(res_db *db);

/* Path given to res_open (borrowed). */
const char *res_path(const res_db *db);

/* The SQLite handle, borrowed, for read-only queries of other modules
 * (reports). Writers go through the res_ functions. */
sqlite3 *res_sqlite(res_db *db);

/* Schema version stored in the database (after res_open: current). */
int res_schema_version(ib_err *e, res_db *db, int *version);

/*
 * Apply the version-1 schema only (the initial minimal schema) to an empty
 * SQLite file: used by tests to build an old database to migrate. Does not
 * go through res_open.
 */
int res_create_v1(ib_err *e, const char *path);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 32 bytes). */
void res_timestamp(char *buf, size_t n);

/* ------------------------------------------------------------------ */
/* Provenance (provenance.c)                                           */
/* ------------------------------------------------------------------ */

/* Where and with what a run ran. Fields never collected are "" / -1. */
typedef struct res_provenance {
    char git_commit[64];
    int git_dirty;          /* 1 dirty, 0 clean, -1 unknown */
    char compiler[128];     /* e.g. "gcc 12.2.0" */
    char cflags[512];       /* IB_BUILD_FLAGS when the build passes it */
    char host[256];
    char cpu_model[256];
    int cores;              /* online logical CPUs */
    int64_t mem_bytes;      /* physical memory */
    char kernel[256];       /* uname release + version */
    char libs[1024];        /* JSON object: library -> version */
    char env[8192];         /* JSON object of relevant environment variables */
    char tuning[1024];      /* JSON object: settings that move timings (below) */
    char command[2048];     /* the command line, set by the caller */
} res_provenance;

/*
 * Collect provenance of this process and machine. Never fails: what cannot
 * be found stays empty. git runs in the current directory; `mpirun
 * --version` gives the Open MPI version. command is left empty.
 */
void res_provenance_collect(res_provenance *p);

/*
 * The machine's settings that move timings, as a JSON object into out ("" if
 * it cannot be built), read under sysroot (NULL: /sys): transparent huge
 * pages ("thp_enabled", "thp_defrag"), the CPU frequency governor
 * ("cpufreq_governor"), and whether a virtio balloon reports free memory
 * to the host ("free_page_reporting", with "page_reporting_order" when it
 * does: free blocks of 2^order pages go back to the host, and the next
 * touch of such memory costs a host fault). Settings this machine does not
 * have are left out.
 */
void res_tuning_collect(const char *sysroot, char *out, size_t n);

/*
 * Those settings in words, into buf: "huge pages madvise (defrag madvise),
 * CPU governor none, free page reporting on (order 9)"; "?", "none" and
 * "n/a" for what t (an object from res_tuning_collect) does not hold.
 */
void res_tuning_describe(const json_t *t, char *buf, size_t n);

/*
 * Provenance as a file: what a compute node writes for `harness ingest`
 * (docs/results.md, "provenance.json"). The object
 *   {"schema": "imbench-provenance/1", "recorded_at": "...",
 *    "git_commit", "git_dirty" (true/false/null), "compiler", "cflags",
 *    "host", "cpu_model", "cores", "mem_bytes", "kernel", "command",
 *    "libs": {...}, "env": {...}, "tuning": {...}}
 * holds the fields of res_provenance (strings; cores and mem_bytes
 * integers; libs, env and tuning objects); a field not collected is left
 * out.
 *
 * res_provenance_json: p as that object (new reference; NULL when out of
 * memory). res_provenance_write_json: collect this process's provenance
 * (res_provenance_collect; command as given, may be NULL) and write it to
 * path, created exclusively under a temporary name and renamed: 0, or an
 * error naming path (an existing path is IB_EIO "already exists").
 * res_provenance_from_json: fill *p from such an object, source naming it
 * in messages; an object whose schema is another than imbench-provenance/1
 * is IB_EPARSE (an object without "schema", and git_dirty as 0/1, are read
 * as this format); fields of the wrong type are left empty. Strings too
 * long for their res_provenance field are IB_EPARSE (never cut).
 */
json_t *res_provenance_json(const res_provenance *p);
int res_provenance_write_json(ib_err *e, const char *path, const char *command);
/* Write p (as res_provenance_json) to path as res_provenance_write_json does. */
int res_provenance_write_file(ib_err *e, const char *path, const res_provenance *p);
int res_provenance_from_json(ib_err *e, json_t *o, const char *source, res_provenance *p);

/*
 * DIR/emit.json: the identity of a directory of attempts, so that `harness
 * ingest` records one run per such directory and suite however often, and
 * from wherever, it is ingested (docs/results.md):
 *   {"schema": "imbench-emit/1", "id": "<32 hex digits>", "suite": "...",
 *    "suite_hash": "...", "created_at": "..."}
 * res_emit_write creates it exclusively with a fresh random id (suite and
 * suite_hash may be NULL); an existing emit.json is kept as it is (0), so
 * a directory keeps its identity when jobs are emitted or resumed into it
 * again. Errors name the file.
 */
int res_emit_write(ib_err *e, const char *dir, const char *suite, const char *suite_hash);

/* ------------------------------------------------------------------ */
/* Limits of what one attempt stores (docs/results.md, "Ingest limits") */
/* ------------------------------------------------------------------ */

/* A stats file larger than this is not parsed: the attempt is stored
 * without its stats record, with a warning. */
#define RES_STATS_FILE_MAX ((size_t)8 << 20)
/* The stats record's JSON text kept in attempts.stats: past this, its
 * largest members (per_rank, comm, ...) are left out, with a warning. */
#define RES_STATS_TEXT_MAX ((size_t)1 << 20)
/* The stderr tail kept: its last RES_STDERR_TAIL_MAX bytes. */
#define RES_STDERR_TAIL_MAX ((size_t)64 << 10)
/* Task events stored per attempt; the rest of the file is not read. */
#define RES_TASK_ROWS_MAX 1000000L
/* Rows one stats record may add to each of metrics, phases, counters and
 * comm. */
#define RES_STATS_ROWS_MAX 100000L
/* A JSON file `harness ingest` reads beside a cell (cell.json,
 * provenance.json) larger than this is not parsed. */
#define RES_SIDE_FILE_MAX ((size_t)64 << 20)

/*
 * Read the JSON file at path, at most max bytes: a regular file only (a
 * FIFO or device is refused, not read), opened without blocking. *out is
 * the parsed value (new reference). Errors name path: IB_ENOTFOUND when it
 * does not exist, IB_EOVERFLOW "is N bytes, over the limit of M" when it is
 * larger than max, IB_EPARSE with the line for bad JSON, IB_EIO otherwise.
 */
int res_json_load(ib_err *e, const char *path, size_t max, json_t **out);

/* ------------------------------------------------------------------ */
/* Runs, cells, attempts (store.c)                                     */
/* ------------------------------------------------------------------ */

/*
 * Start a run: status 'running', started now. suite_file and suite_hash may
 * be NULL. *run_id is the new id.
 */
int res_run_begin(ib_err *e, res_db *db, const char *suite, const char *suite_file,
                  const char *suite_hash, const res_provenance *p, int64_t *run_id);

/*
 * The run to continue: the newest run of suite, with or without attempts
 * (one killed before its first attempt is continued too); IB_ENOTFOUND (no
 * message) when there is none.
 * An unfinished one (running, failed or interrupted) is set back to
 * 'running'; a complete one is returned as it is (resuming it runs nothing).
 */
int res_run_resume(ib_err *e, res_db *db, const char *suite, int64_t *run_id);

/* Finish a run: status is "complete", "failed" or "interrupted". */
int res_run_finish(ib_err *e, res_db *db, int64_t run_id, const char *status);

/*
 * The run that holds what was ingested from one directory: key names the
 * directory (docs/results.md: the id in its emit.json, else its real
 * path), suite the suite of its cells. An existing run of that key and
 * suite is continued: *run_id is it, *created 0, and its status goes back
 * to 'running' (a killed ingest's run is continued, never split). Else,
 * only when create is nonzero, a new run ('running', with p as its
 * provenance, may be NULL) is made: *created 1. Without create and
 * without a run: IB_ENOTFOUND, no message.
 */
int res_run_for_source(ib_err *e, res_db *db, const char *key, const char *suite,
                       const char *suite_hash, const res_provenance *p, int create,
                       int64_t *run_id, int *created);

/*
 * How many (cell, repeat) slots of run_id have attempts but none
 * successful (not counting slots whose attempts were all skipped): 0 means
 * the run is complete.
 */
int res_run_open_slots(ib_err *e, res_db *db, int64_t run_id, int *n);

/*
 * Give run_id the provenance p where it has none recorded (its host,
 * compiler, commit, ... columns NULL): ingest fills a run from the first
 * provenance.json it finds. Fields already set are kept.
 */
int res_run_fill_provenance(ib_err *e, res_db *db, int64_t run_id, const res_provenance *p);

/*
 * Run locks (lock.c): the process continuing a run. res_run_lock takes the
 * lock on run_id for this process (pid, host, boot id, start time of the
 * process, command may be NULL) in one transaction:
 *  - free: taken;
 *  - held by this process: 0;
 *  - held by a process of this host that is gone (no such pid, the pid now
 *    names another process, or the host rebooted since): taken over, and
 *    note (n bytes, may be NULL) says "run R: took over the lock of pid P
 *    on host H (since T), which is gone";
 *  - held by a live process, or by one on another host (whose liveness
 *    cannot be told from here): IB_ELOCKED "run R is in use by pid P on
 *    host 'H' since T (COMMAND)"; with force, taken over as above.
 * res_run_unlock drops this process's lock on run_id (nothing if it holds
 * none). A process killed holding a lock leaves its row; the next taker on
 * the same host takes it over.
 */
int res_run_lock(ib_err *e, res_db *db, int64_t run_id, const char *command, int force,
                 char *note, size_t n);
int res_run_unlock(ib_err *e, res_db *db, int64_t run_id);

/*
 * Insert a cell, or find it by hash (cells are shared by runs). params is
 * the cell's parameter object (borrowed); the main parameters (dataset,
 * dataset_key, scale, seed, chans, times, image "NXxNY", chunks, nodes,
 * threads, support, gridder, weight, precision, mem_budget, padding) are
 * also stored one per column.
 */
int res_cell_put(ib_err *e, res_db *db, const char *hash, json_t *params, int64_t *cell_id);

/*
 * For each repeat index r < nrep, ok[r] = 1 when run_id already has a
 * successful attempt of cell_id with that repeat index, else 0.
 */
int res_cell_ok_repeats(ib_err *e, res_db *db, int64_t run_id, int64_t cell_id,
                        int nrep, unsigned char *ok);

/* One number an attempt measured. unit and better may be NULL. */
typedef struct res_metric {
    const char *name;
    double value;
    const char *unit;    /* "s", "bytes", "count", ... */
    const char *better;  /* "lower", "higher" or NULL */
} res_metric;

/* Attempt statuses. */
#define RES_OK "ok"
#define RES_FAILED "failed"
#define RES_TIMEOUT "timeout"
#define RES_INTERRUPTED "interrupted"
#define RES_SKIPPED "skipped"

typedef struct res_attempt {
    int64_t run_id, cell_id;
    int repeat;
    const char *status;       /* RES_OK, ... */
    int exit_code;            /* exit status, 128+signal when killed, -1 none */
    int signal;               /* terminating signal or 0 */
    const char *stderr_tail;  /* may be NULL */
    const char *command;      /* the command line, may be NULL */
    const char *started_at;   /* res_timestamp strings, may be NULL */
    const char *ended_at;
    double wall_s;            /* as measured by the launcher; < 0 unknown */
    const char *source;       /* where the stats came from (path), may be NULL */
    /* If > 0: ib_now() when the caller began ingesting (reading the stats);
     * the time until just before commit is stored as metric ingest_metric. */
    double ingest_t0;
    const char *ingest_metric;
    /* The provenance.json object of the node that ran it (ingest), stored
     * as JSON text when its text is at most RES_STDERR_TAIL_MAX bytes; may
     * be NULL. */
    json_t *provenance;
    /* Warnings of the caller (what it could not read: a stats file over
     * its limit, ...), each stored as a warning row "what: message"; at
     * most 8. */
    const char *warnings[8];
    size_t nwarnings;
} res_attempt;

/*
 * Record one attempt and everything it measured in one transaction
 * (limits: docs/results.md; each limit reached is a warning row and the
 * attempt is stored cut to it: the stderr tail's last RES_STDERR_TAIL_MAX
 * bytes, the stats text without its largest members past
 * RES_STATS_TEXT_MAX, RES_TASK_ROWS_MAX task events, RES_STATS_ROWS_MAX
 * rows per table from the stats):
 * the attempt row; if stats is not NULL, the imager's stats record
 * (docs/interfaces.md: phases, metrics, counters, rusage, check_dft, comm,
 * the task events of its tasks_file — a CSV named relative to a->source —
 * and the raw JSON); then the extra metrics. Values that cannot be durations or
 * numbers (NaN, inf, negative seconds, non-numbers) are not stored as
 * values: the row keeps value NULL and the reason. A stats record without
 * a counters section, or with PAPI unavailable, stores the counters as
 * unavailable with the reason. A stats record that is not imbench-stats/1
 * is refused (IB_EPARSE) and nothing is written. On any failure the
 * transaction is rolled back and nothing is written.
 */
int res_attempt_record(ib_err *e, res_db *db, const res_attempt *a, json_t *stats,
                       const res_metric *extra, size_t nextra, int64_t *attempt_id);

/*
 * Does any run already hold an attempt of cell_id with this repeat index
 * and started_at (the key `harness ingest` uses to skip duplicates)?
 */
int res_attempt_exists(ib_err *e, res_db *db, int64_t cell_id, int repeat,
                       const char *started_at, int *exists);

/*
 * Has run_id an attempt of cell_id with this repeat index and no start
 * time (hand-written cell.json files without started_at: ingest's
 * duplicate key within the run of their directory)?
 */
int res_attempt_exists_unstamped(ib_err *e, res_db *db, int64_t run_id, int64_t cell_id,
                                 int repeat, int *exists);

/* ------------------------------------------------------------------ */
/* Queries, export, verification (query.c)                             */
/* ------------------------------------------------------------------ */

/*
 * The latest run: the highest id among the runs that hold at least one
 * attempt (a run that recorded nothing is never "the latest"), of suite
 * when suite is not NULL. The one definition every command's default
 * --run uses. IB_ENOTFOUND with "database 'F' has no runs" (or "no run of
 * suite 'S'") when there is none.
 */
int res_latest_run(ib_err *e, res_db *db, const char *suite, int64_t *run_id);

/* The version of the SQLite library linked, e.g. "3.40.1" (static). */
const char *res_sqlite_version(void);

/* Print the runs, newest last, with cell, attempt, ok and failed counts. */
int res_print_runs(ib_err *e, res_db *db, FILE *f);

/* Print one run: provenance, then each cell with its parameters, attempts,
 * retries (attempts past the first of each repeat), status and median wall
 * of the successful attempts, then the warnings of its attempts (what
 * ingest cut to its limits). IB_ENOTFOUND if no such run. */
int res_print_run(ib_err *e, res_db *db, int64_t run_id, FILE *f);

enum res_format { RES_CSV, RES_JSON };

/*
 * Tidy export: one row per (attempt, metric) with run id, suite, cell hash,
 * a column per cell parameter of the table (common/params.h: its export
 * column; an image as image_nx and image_ny) holding the value the
 * attempt ran with (attempt_params, res_params_read: never empty, the
 * default written where nothing else was given), repeat, attempt id and
 * status, retry (0 for the first attempt of its (cell, repeat) in the run,
 * k for the k-th retry) and retries (how many retries that (cell, repeat)
 * took in the run), metric name, value, unit and better. run_id 0 exports every
 * run. CSV has a header line and RFC 4180 quoting; JSON is an array of
 * flat objects (pandas.read_json(orient="records")), parameters typed as
 * the table types them ("auto" stays text). *nrows (may be NULL) counts
 * rows.
 */
int res_export(ib_err *e, res_db *db, int64_t run_id, enum res_format fmt, FILE *f,
               size_t *nrows);

/* Name of the export's column i (from 0), NULL past the last. */
const char *res_export_column(size_t i);

/*
 * Check the database: schema version, PRAGMA integrity_check (a corrupt
 * file is a problem, not an error), foreign keys and orphans, at most one
 * successful attempt per (run, cell, repeat), every successful attempt
 * having metrics and (when it came with a stats record: not those migrated
 * from schema 1) phases, refused values having reasons. Runs still marked
 * running, run locks and attempts with warnings are noted, not counted.
 * Prints one line per finding to f; *problems counts them (0: healthy).
 * Returns nonzero only if the checks could not be run.
 */
int res_verify(ib_err *e, res_db *db, FILE *f, int *problems);

/* ------------------------------------------------------------------ */
/* Simulations (sim_store.c): `harness simulate`'s inputs and results  */
/* ------------------------------------------------------------------ */

/*
 * Simulated runs are their own kind: tables `simulations` (one row per
 * simulated layout) and `simulation_tasks` (its simulated task stream),
 * schema version 5, referring to the
 * measured cell and attempt they replayed; never rows of runs, attempts,
 * metrics or tasks.
 */

/* One task event (the imager's tasks.csv row). */
typedef struct res_task_event {
    int rank, thread, chunk, chan;
    char phase[16];
    double t0, t1;
} res_task_event;

/* A recorded cell as `harness simulate` replays it: the successful
 * attempt with the median wall time (of run_id, or of any run when 0)
 * and what it measured. */
typedef struct res_sim_cell {
    int64_t cell_id, attempt_id;
    char params[4096];       /* the cell's parameter JSON */
    char dataset[64];
    int nodes, threads, chunks, nattempts;
    double wall_s;           /* metric wall_time of that attempt */
    double median_wall_s;    /* median over the successful attempts */
    double setup_s, bytes_read, bytes_written;
    int64_t nrow, nchan;     /* the store's shape (stats "dataset"), -1 unknown */
    int image_nx, image_ny;
    int nphase;              /* the attempt's phases (thread-seconds) */
    char phase[16][16];
    double phase_wall[16], phase_cpu[16];
    res_task_event *ev;      /* owned, nev */
    size_t nev;
} res_sim_cell;

/*
 * Load cell_id for replay. IB_ENOTFOUND "cell N is not in database 'F'"
 * for an unknown cell; IB_EINVAL "cell N has no successful attempt" or
 * "cell N (attempt M) has no task events". Release with
 * res_sim_cell_release (also after a failure).
 */
int res_sim_cell_load(ib_err *e, res_db *db, int64_t cell_id, int64_t run_id, res_sim_cell *c);
void res_sim_cell_release(res_sim_cell *c);

/* The cells with a successful attempt (of run_id, or any run when 0),
 * by id, without their events: what --validate groups into layouts.
 * *out is malloc'd (free it); events are not loaded. */
int res_sim_cells(ib_err *e, res_db *db, int64_t run_id, res_sim_cell **out, size_t *n);

/* One simulated layout and its stream (borrowed). */
typedef struct res_simulation {
    const char *purpose;     /* "sweep", "validate" or "study" */
    const char *label;       /* shown in tables and figures: "simulated" */
    int64_t cell_id, attempt_id;
    const char *platform, *platform_file, *platform_figures; /* figures: JSON */
    int nodes, threads;
    const char *schedule;
    int serial_write, chunks, channels;
    int central;             /* the overhead is one scheduler's, serial */
    double overhead_s, mem_budget, contention, rows_scale, pixels_scale;
    double wall_s, setup_s, speedup, efficiency, busy_s;
    int tasks;
    double spill_bytes, fs_read_bytes, fs_write_bytes, net_bytes;
    double measured_wall_s;  /* the measured median of the same layout, < 0 none */
    const char *simgrid, *command;
    const res_task_event *ev;
    size_t nev;
} res_simulation;

/* Store n simulations in one transaction (all or none); *first_id (may
 * be NULL) is the id of the first. */
int res_sim_store(ib_err *e, res_db *db, const res_simulation *s, size_t n, int64_t *first_id);

/* The labels of `harness simulate --study`'s simulations: which of the
 * study's effects each reproduces (the report's section reads them). */
#define RES_SIM_STUDY_WRITES "simulated (study: writes)"
#define RES_SIM_STUDY_CHUNKS "simulated (study: chunks)"
#define RES_SIM_STUDY_SUPPORT "simulated (study: support)"
#define RES_SIM_STUDY_NODES "simulated (study: nodes)"

/* One stored simulation as the report reads it (report_sims.c). */
typedef struct res_sim_row {
    int64_t id, cell_id, attempt_id;
    char purpose[16];        /* sweep, validate, study */
    char label[64];          /* "simulated", "simulated (study: writes)", ... */
    char platform[64], schedule[16], created_at[40];
    char dataset[64];        /* of the replayed cell, "" unknown */
    int support;             /* the replayed cell's kernel support, 0 not recorded */
    int cell_nodes, cell_threads; /* the replayed cell's layout */
    int nodes, threads, serial_write, chunks, channels, central, tasks;
    double overhead_s, contention, rows_scale, pixels_scale;
    double wall_s, speedup, efficiency;
    double measured_wall_s;  /* the measured median of the same layout; NAN none */
    size_t nstream;          /* rows of its simulated task stream */
} res_sim_row;

/*
 * The simulations that replayed cells of run_id (a cell with an attempt
 * in that run), the newest of each (purpose, label, cell, platform,
 * layout and settings), ordered by purpose, dataset, label and id: *out
 * (ib_free) gets *n rows. A database without the simulations table (older
 * than schema version 5) has none; reading never creates it.
 */
int res_report_simulations(ib_err *e, res_db *db, int64_t run_id, res_sim_row **out, size_t *n);

struct res_task;
/* The simulated task stream of simulation sim_id (ordered by start), at
 * most max events, as res_report_tasks does for a measured attempt. */
int res_report_sim_tasks(ib_err *e, res_db *db, int64_t sim_id, size_t max,
                         struct res_task **out, size_t *n, int *truncated);

/* ------------------------------------------------------------------ */
/* Effective parameters of attempts (params_store.c)                   */
/* ------------------------------------------------------------------ */

/* Room for one parameter's text. */
#define RES_PARAM_TEXT 96

/*
 * What attempt attempt_id ran with, for every cell parameter of the table
 * (common/params.h), into attempt_params(attempt_id, name, value, source)
 * (created here when missing): the imager's own report in stats (its
 * stats record, may be NULL) where it makes one (source 'imager'), else
 * the value in the cell's parameters ('cell'), else the table's default
 * ('default'; "auto" for a value the imager derives from the dataset).
 * Values are the table's canonical text. Runs inside the caller's
 * transaction (res_attempt_record calls it); on failure nothing of it
 * is kept once the caller rolls back.
 */
int res_params_record(ib_err *e, res_db *db, int64_t attempt_id, int64_t cell_id, json_t *stats);

/*
 * The same values from a cell's parameter object and a stats record
 * (either may be NULL), without a database: value[id] (IB_NPARAM rows of
 * RES_PARAM_TEXT) and source[id] ("imager", "cell", "default"; NULL and
 * "" for what is not a cell parameter).
 */
void res_params_effective(json_t *cell_params, json_t *stats, char value[][RES_PARAM_TEXT],
                          const char **source);

/*
 * The values stored for attempt_id (value[id], "" for what is not a cell
 * parameter); for an attempt recorded before attempt_params existed they
 * are computed from its cell and stats record as ingest would have stored
 * them. Reads only. IB_ENOTFOUND for no such attempt.
 */
int res_params_read(ib_err *e, res_db *db, int64_t attempt_id, char value[][RES_PARAM_TEXT]);

/* ==================================================================== */
/* What the reports module reads and writes (report_data.c,             */
/* report_baselines.c, report_predictions.c). The reports module holds  */
/* no SQL: every query it needs is one of these functions, and every    */
/* one of them but res_report_baselines_replace and                     */
/* res_report_predictions_store only reads.                             */
/* ==================================================================== */

/* One metric or phase of one cell over its successful attempts, in
 * attempt order (repeat index, then attempt id). Phases are wall seconds
 * summed over the attempt's threads (thread-seconds). */
typedef struct res_values {
    char *name;
    char *unit;          /* NULL when unknown */
    int higher_better;   /* 1: higher is better; 0: lower */
    int better_known;    /* 0: direction not recorded (lower assumed) */
    double *v;
    size_t n, cap;
} res_values;

/* One rank of one successful attempt, from the stats' per_rank section
 * (written by MPI runs). */
typedef struct res_rank_load {
    size_t attempt;      /* index of the attempt among the cell's successful ones */
    int rank, threads;
    double wall_s;       /* the rank's elapsed time */
    double setup_s;      /* before its workers started */
    double busy_s;       /* thread-seconds its workers worked */
} res_rank_load;

/* One cell of a run with everything its successful attempts recorded. */
typedef struct res_cell_data {
    int64_t id;
    char hash[80];
    char *params;        /* the cell's parameter object, JSON text */
    char dataset[64], gridder[32], weight[32];
    int nodes, threads, chunks, support; /* 0 when not recorded */
    int times, chans;    /* generator cuts of the dataset; 0: none (full extent) */
    double scale;        /* fraction of the full visibility count; NAN unknown */
    size_t attempts, ok, failed;
    res_values *metrics;
    size_t nmetrics;
    res_values *phases;
    size_t nphases;
    res_rank_load *ranks; /* every rank of every successful attempt */
    size_t nranks;
    /* From the stats record of the first successful attempt (NAN unknown). */
    int64_t first_ok;    /* its attempt id; 0 when none */
    char *source;        /* its stats path, NULL when unknown */
    char *tasks_file;    /* the stats' tasks_file (relative to the stats directory) */
    double nrow, nchan, npol, nfield, nx, ny, padding;
    double planes;       /* image planes per channel ($.params.planes, --stokes); NAN: not
                          * recorded (older stats: one per correlation, npol) */
    double mosaic_support; /* the mosaic's effective support ($.mosaic.support); NAN none */
    int psf;
} res_cell_data;

/* Counters the run could not read: one row per source and reason. */
typedef struct res_counter_note {
    char *source;        /* "papi", "sde" */
    char *reason;
    char *names;         /* the events, comma separated; "" when none named */
    long long attempts;  /* successful attempts with this reason */
    long long available; /* counters of this source the run did read */
} res_counter_note;

/* An attempt that did not succeed. */
typedef struct res_bad_attempt {
    int64_t cell_id;
    int repeat;
    char *status;        /* failed, timeout, interrupted, skipped */
    int has_exit;        /* exit_code recorded */
    int exit_code, signal;
    char *stderr_tail;   /* may be NULL */
} res_bad_attempt;

/* Metrics stored without a value, grouped by name and reason. */
typedef struct res_refused {
    char *name, *reason;
    long long count;
} res_refused;

/* One run as the report reads it. */
typedef struct res_run_data {
    int64_t id;
    char *suite, *suite_file, *suite_hash, *started, *ended, *status, *command;
    char *git_commit, *compiler, *cflags, *host, *cpu, *kernel, *libs, *env;
    char *tuning;        /* JSON (runs.tuning) or NULL */
    int git_dirty;       /* -1 unknown */
    int cores;           /* 0 unknown */
    double mem_bytes;    /* 0 unknown */
    res_cell_data *cells; /* ascending id */
    size_t ncells;
    res_counter_note *counters;
    size_t ncounters;
    res_bad_attempt *bad; /* ordered by cell, repeat, attempt */
    size_t nbad;
    res_refused *refused;
    size_t nrefused;
} res_run_data;

/*
 * The newest run (of suite, or of any suite when suite is NULL) into
 * *run_id. IB_ENOTFOUND with "database 'F' has no runs" (or "has no run of
 * suite 'S'") when there is none.
 */
int res_report_latest_run(ib_err *e, res_db *db, const char *suite, int64_t *run_id);

/* Every run id of the database, newest first (*ids ib_free, *n of them). */
int res_report_runs(ib_err *e, res_db *db, int64_t **ids, size_t *n);

/*
 * Read run run_id into *out (zeroed first; release with
 * res_report_run_release, also after a failure): its provenance, its
 * cells (the cells with an attempt in the run) with the metrics, phase
 * thread-seconds and per-rank loads of every successful attempt, what the
 * first successful stats record says of the data, the counters it could
 * not read, its unsuccessful attempts and refused values. Metrics come
 * from the metrics table, comm_bytes / comm_time from the comm table when
 * the stats had none. IB_ENOTFOUND naming the run when it does not exist;
 * database errors; IB_ENOMEM. Nothing is written.
 */
int res_report_run_load(ib_err *e, res_db *db, int64_t run_id, res_run_data *out);
void res_report_run_release(res_run_data *r);

/* One task event of an attempt (the tasks table). */
typedef struct res_task {
    int rank, thread, chunk, chan; /* chan -1: not recorded */
    char phase[16];
    double start, end;   /* seconds */
} res_task;

/*
 * The task events of attempt (ordered by start), at most max of them:
 * *out (ib_free) gets *n events, *truncated = 1 when there were more.
 * None is not an error (*n = 0).
 */
int res_report_tasks(ib_err *e, res_db *db, int64_t attempt, size_t max, res_task **out,
                     size_t *n, int *truncated);

/* Number of task events attempt has in the tasks table. */
int res_report_task_count(ib_err *e, res_db *db, int64_t attempt, size_t *n);

/* One row of the baselines table. Integers are 0 for NULL. */
typedef struct res_baseline_row {
    int64_t id;
    char *dataset;       /* "" for figures that hold for any dataset */
    char *system;
    int nodes, cores, threads, chunks;
    char *metric;
    double value;
    char *unit, *source, *label; /* NULL when NULL */
    char *note;          /* the note column: JSON object text (see reports.h) or NULL */
    long line;           /* the record's line in its file, for messages; not stored */
} res_baseline_row;

/*
 * Baselines ordered by dataset, system, metric, id: of dataset (NULL:
 * every dataset) and, when run > 0, only those of the run's datasets and
 * those for any dataset (''). *out (res_baseline_rows_free) gets *n rows.
 */
int res_report_baselines(ib_err *e, res_db *db, const char *dataset, int64_t run,
                         res_baseline_row **out, size_t *n);
void res_baseline_rows_free(res_baseline_row *rows, size_t n);

/*
 * Replace the baselines of an earlier import of origin (rows whose note
 * is a JSON object with "origin" = origin) by rows[0..n) in one IMMEDIATE
 * transaction (a row's id and line are not stored; a NULL dataset is
 * stored as ''). *replaced (may be NULL) counts the rows deleted. On any
 * failure nothing is written and e says "WHAT line L: ..." for the row
 * that failed (what names the file for messages, e.g. "casa log 'x.log'").
 */
int res_report_baselines_replace(ib_err *e, res_db *db, const char *origin, const char *what,
                                 const res_baseline_row *rows, size_t n, size_t *replaced);

/*
 * Predictions of a cost model stored beside the measurement they predict
 * (table predictions, created by the first res_report_predictions_store:
 * an additive forward migration of the schema, idempotent, one
 * transaction). One row per (cell, run, model, metric): storing again
 * replaces it.
 */
typedef struct res_prediction {
    int64_t cell_id;     /* the predicted cell */
    int64_t run_id;      /* the run whose measurement it sits beside */
    char model[32];      /* e.g. "cost-phases/1" */
    char metric[48];     /* "wall_time" or "phase:<name>" (thread-seconds) */
    double value, lo, hi; /* prediction and its band (NAN: none) */
    double measured;     /* median measurement when stored (NAN: none) */
    char *fitted_on;     /* JSON: what the model was fitted on (cells, scales) */
    char *terms;         /* JSON: coefficients with their bands */
    char created_at[32];
} res_prediction;

/* Store p[0..n) in one IMMEDIATE transaction (creating the table when the
 * database has none). On failure nothing is written. */
int res_report_predictions_store(ib_err *e, res_db *db, const res_prediction *p, size_t n);

/*
 * The stored predictions of run_id's cells (*out, res_predictions_free;
 * *n of them, ordered by cell, model, metric). A database without the
 * table has none (*n = 0): reading never creates it.
 */
int res_report_predictions(ib_err *e, res_db *db, int64_t run_id, res_prediction **out,
                           size_t *n);
void res_predictions_free(res_prediction *p, size_t n);

#endif
