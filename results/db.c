/*
 * db.c: opening the results database — read-write (WAL, foreign keys, the
 * bounded busy timeout, migration) or read-only (never changed) — and the
 * schema: version 1 (the initial minimal schema) and the forward
 * migrations to version 2, 3 (the run's timing-relevant machine settings)
 * and 4 (run locks, warnings, ingest's directory key and node provenance:
 * the current one). A new database is
 * built by running every migration from version 0, so the migration path
 * is the only path and is exercised on every fresh file.
 */
#define _GNU_SOURCE
#include "results/res_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- schema ------------------------------------------------------- */

/* Version 1: what the first harness recorded. */
static const char schema_v1[] =
    "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);\n"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, suite TEXT NOT NULL,\n"
    "  started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL);\n"
    "CREATE TABLE cells(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,\n"
    "  params TEXT NOT NULL);\n"
    "CREATE TABLE attempts(id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  cell_id INTEGER NOT NULL REFERENCES cells(id),\n"
    "  repeat_index INTEGER NOT NULL, status TEXT NOT NULL, exit_code INTEGER,\n"
    "  started_at TEXT, ended_at TEXT, wall_s REAL);\n"
    "CREATE TABLE metrics(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  name TEXT NOT NULL, value REAL, unit TEXT);\n";

/*
 * Version 2: provenance on runs, one column per main parameter on cells,
 * stderr tails and raw stats on attempts, direction and refusal reasons on
 * metrics; phases, counters, and the tables later issues fill. Old tables
 * are rebuilt (create new, copy, drop, rename — SQLite's recommended way
 * to add constraints) with foreign keys off, then checked.
 */
static const char migrate_v1_v2[] =
    "CREATE TABLE runs_new(id INTEGER PRIMARY KEY, suite TEXT NOT NULL,\n"
    "  suite_file TEXT, suite_hash TEXT,\n"
    "  started_at TEXT NOT NULL, ended_at TEXT,\n"
    "  status TEXT NOT NULL CHECK(status IN ('running','complete','failed','interrupted')),\n"
    "  command TEXT, git_commit TEXT, git_dirty INTEGER, compiler TEXT, cflags TEXT,\n"
    "  host TEXT, cpu_model TEXT, cores INTEGER, mem_bytes INTEGER, kernel TEXT,\n"
    "  libs TEXT, env TEXT);\n"
    "INSERT INTO runs_new(id, suite, started_at, ended_at, status)\n"
    "  SELECT id, suite, started_at, ended_at,\n"
    "    CASE WHEN status IN ('running','complete','failed','interrupted') THEN status\n"
    "         ELSE 'failed' END FROM runs;\n"
    "CREATE TABLE cells_new(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,\n"
    "  params TEXT NOT NULL, dataset TEXT, dataset_key TEXT, scale REAL, seed INTEGER,\n"
    "  chans INTEGER, times INTEGER, image_nx INTEGER, image_ny INTEGER,\n"
    "  chunks INTEGER, nodes INTEGER, threads INTEGER, support INTEGER,\n"
    "  gridder TEXT, weight TEXT, precision TEXT, mem_budget INTEGER, padding REAL);\n"
    "INSERT INTO cells_new(id, hash, params, dataset, dataset_key, scale, seed, chans,\n"
    "    times, image_nx, image_ny, chunks, nodes, threads, support, gridder, weight,\n"
    "    precision, mem_budget, padding)\n"
    "  SELECT id, hash, params, json_extract(p, '$.dataset'),\n"
    "    json_extract(p, '$.dataset_key'), json_extract(p, '$.scale'),\n"
    "    json_extract(p, '$.seed'), json_extract(p, '$.chans'), json_extract(p, '$.times'),\n"
    "    CASE WHEN instr(img, 'x') > 0 THEN CAST(substr(img, 1, instr(img, 'x') - 1)\n"
    "      AS INTEGER) ELSE CAST(img AS INTEGER) END,\n"
    "    CASE WHEN instr(img, 'x') > 0 THEN CAST(substr(img, instr(img, 'x') + 1)\n"
    "      AS INTEGER) ELSE CAST(img AS INTEGER) END,\n"
    "    json_extract(p, '$.chunks'), json_extract(p, '$.nodes'),\n"
    "    json_extract(p, '$.threads'), json_extract(p, '$.support'),\n"
    "    json_extract(p, '$.gridder'), json_extract(p, '$.weight'),\n"
    "    json_extract(p, '$.precision'), json_extract(p, '$.mem_budget'),\n"
    "    json_extract(p, '$.padding')\n"
    "  FROM (SELECT id, hash, params, p, json_extract(p, '$.image') AS img\n"
    "        FROM (SELECT id, hash, params,\n"
    "                CASE WHEN json_valid(params) THEN params ELSE '{}' END AS p\n"
    "              FROM cells));\n"
    "CREATE TABLE attempts_new(id INTEGER PRIMARY KEY,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  cell_id INTEGER NOT NULL REFERENCES cells(id),\n"
    "  repeat_index INTEGER NOT NULL CHECK(repeat_index >= 0),\n"
    "  status TEXT NOT NULL\n"
    "    CHECK(status IN ('ok','failed','timeout','interrupted','skipped')),\n"
    "  exit_code INTEGER, signal INTEGER, stderr_tail TEXT, command TEXT,\n"
    "  started_at TEXT, ended_at TEXT, wall_s REAL, source TEXT, stats TEXT);\n"
    "INSERT INTO attempts_new(id, run_id, cell_id, repeat_index, status, exit_code,\n"
    "    started_at, ended_at, wall_s)\n"
    "  SELECT id, run_id, cell_id, max(repeat_index, 0),\n"
    "    CASE WHEN status IN ('ok','failed','timeout','interrupted','skipped') THEN status\n"
    "         ELSE 'failed' END, exit_code, started_at, ended_at, wall_s FROM attempts;\n"
    "CREATE TABLE metrics_new(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  name TEXT NOT NULL, value REAL, unit TEXT,\n"
    "  better TEXT CHECK(better IN ('lower','higher')), reason TEXT,\n"
    "  CHECK(value IS NOT NULL OR reason IS NOT NULL));\n"
    "INSERT INTO metrics_new(id, attempt_id, name, value, unit, reason)\n"
    "  SELECT id, attempt_id, name, value, unit,\n"
    "    CASE WHEN value IS NULL THEN 'no value (migrated from schema version 1)' END\n"
    "  FROM metrics;\n"
    "DROP TABLE metrics;\n"
    "DROP TABLE attempts;\n"
    "DROP TABLE cells;\n"
    "DROP TABLE runs;\n"
    "ALTER TABLE runs_new RENAME TO runs;\n"
    "ALTER TABLE cells_new RENAME TO cells;\n"
    "ALTER TABLE attempts_new RENAME TO attempts;\n"
    "ALTER TABLE metrics_new RENAME TO metrics;\n"
    "CREATE INDEX runs_suite ON runs(suite, id);\n"
    "CREATE INDEX cells_dataset ON cells(dataset);\n"
    "CREATE INDEX attempts_run_cell ON attempts(run_id, cell_id, repeat_index);\n"
    "CREATE INDEX attempts_cell ON attempts(cell_id);\n"
    "CREATE INDEX metrics_attempt ON metrics(attempt_id);\n"
    "CREATE TABLE phases(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  phase TEXT NOT NULL, wall_s REAL, cpu_s REAL, reason TEXT);\n"
    "CREATE INDEX phases_attempt ON phases(attempt_id);\n"
    "CREATE TABLE counters(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  source TEXT NOT NULL CHECK(source IN ('papi','sde')),\n"
    "  name TEXT NOT NULL, value REAL,\n"
    "  available INTEGER NOT NULL CHECK(available IN (0, 1)), reason TEXT);\n"
    "CREATE INDEX counters_attempt ON counters(attempt_id);\n"
    "CREATE TABLE tasks(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  rank INTEGER, thread INTEGER, chunk INTEGER, chan INTEGER, phase TEXT,\n"
    "  start_s REAL, end_s REAL);\n"
    "CREATE INDEX tasks_attempt ON tasks(attempt_id);\n"
    "CREATE TABLE comm(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  rank INTEGER, op TEXT, messages INTEGER, bytes INTEGER, seconds REAL);\n"
    "CREATE INDEX comm_attempt ON comm(attempt_id);\n"
    "CREATE TABLE baselines(id INTEGER PRIMARY KEY, dataset TEXT NOT NULL,\n"
    "  system TEXT NOT NULL, nodes INTEGER, cores INTEGER, threads INTEGER,\n"
    "  chunks INTEGER, metric TEXT NOT NULL, value REAL NOT NULL, unit TEXT,\n"
    "  source TEXT CHECK(source IN ('seed-study','casa-log','manual')),\n"
    "  label TEXT, note TEXT);\n";

/* Version 3: what a run records of the machine's settings that move
 * timings (huge pages, the CPU governor, a balloon's free page reporting:
 * res_tuning_collect), as JSON; NULL for runs recorded before. */
static const char migrate_v2_v3[] = "ALTER TABLE runs ADD COLUMN tuning TEXT;\n";

/*
 * Version 4: reliability. runs.source_key names the directory an ingested
 * run came from (one run per directory and suite: re-ingesting continues
 * it); attempts.provenance keeps the provenance.json of the node that ran
 * an ingested attempt; run_locks holds the process continuing a run (one
 * row per locked run: run-suite and ingest take it, --resume refuses a
 * run locked by a live process); warnings says what ingest cut to its
 * limits (docs/results.md).
 */
static const char migrate_v3_v4[] =
    "ALTER TABLE runs ADD COLUMN source_key TEXT;\n"
    "CREATE UNIQUE INDEX runs_source_key ON runs(source_key, suite)\n"
    "  WHERE source_key IS NOT NULL;\n"
    "ALTER TABLE attempts ADD COLUMN provenance TEXT;\n"
    "CREATE TABLE run_locks(run_id INTEGER PRIMARY KEY REFERENCES runs(id),\n"
    "  pid INTEGER NOT NULL, host TEXT NOT NULL, boot_id TEXT, proc_start INTEGER,\n"
    "  since TEXT NOT NULL, command TEXT);\n"
    "CREATE TABLE warnings(id INTEGER PRIMARY KEY,\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  what TEXT NOT NULL, message TEXT NOT NULL);\n"
    "CREATE INDEX warnings_attempt ON warnings(attempt_id);\n";

/*
 * Version 5: what the imager ran with, what was predicted and what was
 * simulated. attempt_params holds each attempt's effective parameters
 * (one row per parameter of common/params.h: the imager's reported value,
 * else the cell's, else the default; params_store.c); predictions the cost
 * model's predictions of full-size cells beside their measurements
 * (report_predictions.c); simulations and simulation_tasks what `harness
 * simulate` predicted, never mixed with measurements (sim_store.c).
 */
static const char migrate_v4_v5[] =
    "CREATE TABLE attempt_params(\n"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),\n"
    "  name TEXT NOT NULL, value TEXT NOT NULL,\n"
    "  source TEXT NOT NULL CHECK(source IN ('imager','cell','default')),\n"
    "  PRIMARY KEY(attempt_id, name));\n"
    "CREATE TABLE predictions(id INTEGER PRIMARY KEY,\n"
    "  cell_id INTEGER NOT NULL REFERENCES cells(id),\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  model TEXT NOT NULL, metric TEXT NOT NULL,\n"
    "  value REAL NOT NULL, lo REAL, hi REAL, measured REAL,\n"
    "  fitted_on TEXT NOT NULL, terms TEXT, created_at TEXT NOT NULL,\n"
    "  UNIQUE(cell_id, run_id, model, metric));\n"
    "CREATE INDEX predictions_run ON predictions(run_id, cell_id);\n"
    "CREATE TABLE simulations(id INTEGER PRIMARY KEY,\n"
    "  created_at TEXT NOT NULL,\n"
    "  purpose TEXT NOT NULL CHECK(purpose IN ('sweep','validate','study')),\n"
    "  label TEXT NOT NULL,\n"
    "  cell_id INTEGER REFERENCES cells(id), attempt_id INTEGER REFERENCES attempts(id),\n"
    "  platform TEXT NOT NULL, platform_file TEXT, platform_figures TEXT,\n"
    "  nodes INTEGER NOT NULL, threads INTEGER NOT NULL, schedule TEXT,\n"
    "  serial_write INTEGER, chunks INTEGER, channels INTEGER, central INTEGER,\n"
    "  overhead_s REAL,\n"
    "  mem_budget REAL, contention REAL, rows_scale REAL, pixels_scale REAL,\n"
    "  wall_s REAL NOT NULL, setup_s REAL, speedup REAL, efficiency REAL, busy_s REAL,\n"
    "  tasks INTEGER, spill_bytes REAL, fs_read_bytes REAL, fs_write_bytes REAL,\n"
    "  net_bytes REAL, measured_wall_s REAL, simgrid TEXT, command TEXT);\n"
    "CREATE INDEX simulations_cell ON simulations(cell_id);\n"
    "CREATE TABLE simulation_tasks(id INTEGER PRIMARY KEY,\n"
    "  simulation_id INTEGER NOT NULL REFERENCES simulations(id),\n"
    "  rank INTEGER, thread INTEGER, chunk INTEGER, chan INTEGER, phase TEXT,\n"
    "  start_s REAL, end_s REAL);\n"
    "CREATE INDEX simulation_tasks_sim ON simulation_tasks(simulation_id);\n";

/* migrations[v] takes a database from version v to v + 1. */
static const char *const migrations[RES_SCHEMA_VERSION] = {schema_v1, migrate_v1_v2,
                                                           migrate_v2_v3, migrate_v3_v4,
                                                           migrate_v4_v5};

/* ---- helpers shared by the module ---------------------------------- */

/* Did the last failure of db come from a full disk (or quota)? SQLite
 * reports ENOSPC as SQLITE_FULL on most writes but as a plain I/O error
 * on some (the WAL index, a sync): its saved errno says which. */
static int disk_full(res_db *db, int prim)
{
    if (prim == SQLITE_FULL) return 1;
    if (prim != SQLITE_IOERR || !db->db) return 0;
    int err = sqlite3_system_errno(db->db);
    return err == ENOSPC || err == EDQUOT;
}

int res__sqlerr(ib_err *e, res_db *db, int rc, const char *what)
{
    int prim = rc & 0xff;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return ib_error(e, IB_ELOCKED,
                        "database '%s' is locked by another writer (waited %d ms while %s)",
                        db->path, db->busy_ms, what);
    if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT)
        return ib_error(e, IB_ECORRUPT,
                        "database '%s' is corrupt: run harness verify (SQLite: %s, while %s)",
                        db->path, db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc), what);
    if (disk_full(db, prim))
        return ib_error(e, IB_ENOSPACE, "database '%s': no space left on device while %s",
                        db->path, what);
    if (prim == SQLITE_READONLY)
        return ib_error(e, IB_EIO, "database '%s' cannot be written (read-only file, directory "
                                   "or file system) while %s", db->path, what);
    if (prim == SQLITE_CONSTRAINT)
        return ib_error(e, IB_EINVAL, "database '%s': constraint failed while %s: %s",
                        db->path, what, db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    return ib_error(e, IB_EIO, "database '%s': %s failed: %s", db->path, what,
                    db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
}

int res__exec(ib_err *e, res_db *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int prim = rc & 0xff;
        int r;
        if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED || prim == SQLITE_NOTADB ||
            prim == SQLITE_CORRUPT || prim == SQLITE_READONLY || disk_full(db, prim))
            r = res__sqlerr(e, db, rc, "executing SQL");
        else
            r = ib_error(e, IB_EIO, "database '%s': SQL failed: %s", db->path,
                         msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

int res__prepare(ib_err *e, res_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return res__sqlerr(e, db, rc, "preparing a query");
    }
    return 0;
}

int res__begin(ib_err *e, res_db *db)
{
    int rc = sqlite3_exec(db->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : res__sqlerr(e, db, rc, "waiting to write");
}

int res__commit(ib_err *e, res_db *db)
{
    int rc = sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        int r = res__sqlerr(e, db, rc, "committing");
        res__rollback(db);
        return r;
    }
    return 0;
}

void res__rollback(res_db *db)
{
    if (!sqlite3_get_autocommit(db->db)) sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
}

void res__bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

void res__bind_double(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) sqlite3_bind_double(st, i, v);
    else sqlite3_bind_null(st, i);
}

void res_timestamp(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0) base[0] = '\0';
    snprintf(buf, n, "%.20s.%03dZ", base, (int)((ts.tv_nsec / 1000000L) % 1000));
}

/* ---- versions and migrations ---------------------------------------- */

/* Stored version: 0 for an empty database, -1 when the file has tables
 * but no schema_version (not ours). */
static int read_version(ib_err *e, res_db *db, int *version)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT (SELECT count(*) FROM sqlite_master WHERE type='table'),"
                         " (SELECT count(*) FROM sqlite_master"
                         "  WHERE type='table' AND name='schema_version')",
                         &st);
    if (r) return r;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return res__sqlerr(e, db, rc, "reading the schema");
    }
    int ntables = sqlite3_column_int(st, 0), has_version = sqlite3_column_int(st, 1);
    sqlite3_finalize(st);
    if (!has_version) {
        *version = ntables ? -1 : 0;
        return 0;
    }
    r = res__prepare(e, db, "SELECT coalesce(max(version), 0) FROM schema_version", &st);
    if (r) return r;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return res__sqlerr(e, db, rc, "reading the schema version");
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* After a migration: any row whose foreign key points nowhere fails it. */
static int check_foreign_keys(ib_err *e, res_db *db, int to)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db, "PRAGMA foreign_key_check", &st);
    if (r) return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        r = ib_error(e, IB_ECORRUPT,
                     "database '%s': migration to schema version %d found a row of table "
                     "'%s' (rowid %lld) referring to a missing row of '%s'",
                     db->path, to, (const char *)sqlite3_column_text(st, 0),
                     (long long)sqlite3_column_int64(st, 1),
                     (const char *)sqlite3_column_text(st, 2));
    } else if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "checking foreign keys");
    }
    sqlite3_finalize(st);
    return r;
}

/* One migration from version v, in its own transaction; re-reads the
 * version under the write lock so two processes never both migrate. */
static int migrate_one(ib_err *e, res_db *db, int v)
{
    int r = res__exec(e, db, "PRAGMA foreign_keys=OFF");
    if (r) return r;
    r = res__begin(e, db);
    if (r) goto out;
    int now;
    r = read_version(e, db, &now);
    if (r) goto fail;
    /* read_version sets now when it returns 0; clang's analyzer stops
     * inlining it (max-times-inline-large) and takes now for unset.
     * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
    if (now != v) { /* somebody else migrated meanwhile */
        r = res__commit(e, db);
        goto out;
    }
    r = res__exec(e, db, migrations[v]);
    if (r) {
        ib_error_wrap(e, "migrating database '%s' from schema version %d to %d", db->path,
                      v, v + 1);
        goto fail;
    }
    char ts[40], sql[128];
    res_timestamp(ts, sizeof ts);
    snprintf(sql, sizeof sql, "INSERT INTO schema_version(version, applied_at) VALUES(%d, '%s')",
             v + 1, ts);
    r = res__exec(e, db, sql);
    if (r) goto fail;
    r = check_foreign_keys(e, db, v + 1);
    if (r) goto fail;
    r = res__commit(e, db);
    goto out;
fail:
    res__rollback(db);
out:;
    ib_err ignore;
    res__exec(&ignore, db, "PRAGMA foreign_keys=ON");
    return r;
}

/* A version read_version gave, checked for this program: 0 when it can be
 * used as it is or migrated forward. */
static int check_version(ib_err *e, res_db *db, int v)
{
    if (v < 0)
        return ib_error(e, IB_ECORRUPT,
                        "database '%s' has tables but no schema_version table: it is not "
                        "an imbench results database",
                        db->path);
    if (v > RES_SCHEMA_VERSION)
        return ib_error(e, IB_EUNSUPPORTED,
                        "database '%s' has schema version %d, newer than this program "
                        "(version %d): use a newer imbench",
                        db->path, v, RES_SCHEMA_VERSION);
    return 0;
}

static int migrate(ib_err *e, res_db *db)
{
    for (;;) {
        int v = 0;
        int r = read_version(e, db, &v);
        if (r) return r;
        /* as in migrate_one: v is set
         * NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
        r = check_version(e, db, v);
        if (r) return r;
        if (v == RES_SCHEMA_VERSION) return 0;
        r = migrate_one(e, db, v);
        if (r) return r;
    }
}

/* ---- open / close --------------------------------------------------- */

static int make_parent_dir(ib_err *e, const char *path)
{
    char dir[1024];
    int r = ib_path_fmt(e, dir, sizeof dir, "%s", path);
    if (r) return r;
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    return ib_mkdir_p(e, dir);
}

/* "file:PATH?immutable=1" with PATH percent-encoded as RFC 3986 asks (SQLite
 * reads %HH in URI filenames). */
static int immutable_uri(ib_err *e, const char *path, char *out, size_t n)
{
    size_t len = 0;
    int r = ib_path_fmt(e, out, n, "file:");
    if (r) return r;
    len = 5;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("/-._~", *p);
        if (len + 4 >= n) return ib_error(e, IB_EOVERFLOW, "database path '%s' is too long", path);
        if (plain) out[len++] = (char)*p;
        else len += (size_t)snprintf(out + len, n - len, "%%%02X", *p);
    }
    out[len] = '\0';
    return ib_path_fmt(e, out + len, n - len, "?immutable=1");
}

/* The first read of a file failed (in first): a file SQLite does not take
 * for a database at all is named as such; other failures as they are. */
static int not_sqlite(ib_err *e, res_db *db, const ib_err *first)
{
    if (first->code == IB_ECORRUPT && (sqlite3_errcode(db->db) & 0xff) == SQLITE_NOTADB)
        return ib_error(e, IB_ECORRUPT, "database '%s' is not an SQLite database: not an "
                                        "imbench results database (or one whose header is "
                                        "corrupt)", db->path);
    *e = *first;
    return first->code;
}

/* PRAGMA quick_check: a damaged page is IB_ECORRUPT before any command
 * reads rows from it (SQLite may otherwise read past it quietly). */
static int quick_check(ib_err *e, res_db *db)
{
    sqlite3_stmt *st = NULL;
    int r = res__prepare(e, db, "PRAGMA quick_check(1)", &st);
    if (r) return r;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (!v || strcmp(v, "ok") != 0) {
            /* its first finding, on one line */
            static const char head[] = "*** in database main ***\n";
            char first[256];
            if (v && !strncmp(v, head, sizeof head - 1)) v += sizeof head - 1;
            snprintf(first, sizeof first, "%s", v ? v : "no answer");
            first[strcspn(first, "\n")] = '\0';
            r = ib_error(e, IB_ECORRUPT,
                         "database '%s' is corrupt: run harness verify (SQLite's quick_check: "
                         "%s)", db->path, first);
        }
    } else {
        r = res__sqlerr(e, db, rc, "checking the database (quick_check)");
    }
    sqlite3_finalize(st);
    return r;
}

/*
 * The read-only opening: an existing regular file that SQLite reads as an
 * imbench database of this program's version, opened SQLITE_OPEN_READONLY
 * with query_only on; nothing is migrated or switched (journal mode), so
 * the file is never changed. A database in WAL mode whose directory cannot
 * take the shared-memory index (a read-only directory or file system) and
 * that has no write-ahead log to replay is opened immutable: nobody can be
 * writing it there.
 */
static int open_readonly(ib_err *e, res_db *db)
{
    struct stat st;
    if (stat(db->path, &st) != 0)
        return ib_error(e, IB_ENOTFOUND, "database '%s' does not exist", db->path);
    if (!S_ISREG(st.st_mode))
        return ib_error(e, IB_EINVAL, "database '%s' is not a regular file", db->path);
    if (st.st_size == 0)
        return ib_error(e, IB_ECORRUPT, "database '%s' is empty (0 bytes): not an imbench "
                                        "results database", db->path);
    int rc = sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        return ib_error(e, IB_EIO, "cannot open database '%s': %s", db->path,
                        db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(db->db, db->busy_ms);
    sqlite3_extended_result_codes(db->db, 0);
    int v = 0;
    ib_err first;
    ib_err_init(&first);
    int r = read_version(&first, db, &v);
    int why = sqlite3_errcode(db->db) & 0xff;
    if (r && (why == SQLITE_CANTOPEN || why == SQLITE_READONLY)) {
        char wal[1100], uri[3300];
        struct stat ws;
        r = ib_path_fmt(e, wal, sizeof wal, "%s-wal", db->path);
        if (!r && stat(wal, &ws) == 0 && ws.st_size > 0)
            return ib_error(e, IB_EIO, "database '%s' has a write-ahead log ('%s') that cannot "
                                       "be read from a read-only directory: open it once "
                                       "where it can be written", db->path, wal);
        if (!r) r = immutable_uri(e, db->path, uri, sizeof uri);
        if (r) return r;
        sqlite3_close(db->db);
        db->db = NULL;
        rc = sqlite3_open_v2(uri, &db->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
        if (rc != SQLITE_OK)
            return ib_error(e, IB_EIO, "cannot open database '%s': %s", db->path,
                            db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
        r = read_version(&first, db, &v);
    }
    if (r) return not_sqlite(e, db, &first);
    if (v == 0)
        return ib_error(e, IB_ECORRUPT, "database '%s' has no tables: not an imbench results "
                                        "database", db->path);
    r = check_version(e, db, v);
    if (r) return r;
    if (v < RES_SCHEMA_VERSION)
        return ib_error(e, IB_EUNSUPPORTED,
                        "database '%s' has schema version %d, older than this program's %d: "
                        "migrate it first with 'harness migrate --db %s' (read commands never "
                        "change a database)",
                        db->path, v, RES_SCHEMA_VERSION, db->path);
    r = res__exec(e, db, "PRAGMA query_only=ON; PRAGMA cell_size_check=ON");
    if (!r && !db->nocheck && (long long)st.st_size <= RES_QUICK_CHECK_MAX) r = quick_check(e, db);
    return r;
}

/* The read-write opening: create the file (and its directory) when missing,
 * WAL, foreign keys, migration. */
static int open_readwrite(ib_err *e, res_db *db)
{
    struct stat stbuf;
    int exists = stat(db->path, &stbuf) == 0;
    if (exists && !S_ISREG(stbuf.st_mode))
        return ib_error(e, IB_EINVAL, "database '%s' is not a regular file", db->path);
    if (!exists) {
        int r = make_parent_dir(e, db->path);
        if (r) return r;
    }
    int rc = sqlite3_open_v2(db->path, &db->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK)
        return ib_error(e, IB_EIO, "cannot open database '%s': %s", db->path,
                        db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc));
    sqlite3_busy_timeout(db->db, db->busy_ms);
    sqlite3_extended_result_codes(db->db, 0);
    /* Not ours, or not SQLite at all: refused before anything is written
     * (an empty file is a new database). */
    int v = 0;
    ib_err first;
    ib_err_init(&first);
    int r = exists && stbuf.st_size > 0 ? read_version(&first, db, &v) : 0;
    if (r) return not_sqlite(e, db, &first);
    r = check_version(e, db, v);
    if (r) return r;
    /* WAL: readers never block the writer; a killed writer leaves the
     * database consistent. synchronous=FULL keeps a committed cell even
     * when the machine (not only the process) stops. */
    r = res__exec(e, db, "PRAGMA journal_mode=WAL");
    if (!r) r = res__exec(e, db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
    if (!r) r = migrate(e, db);
    return r;
}

int res_open(ib_err *e, const char *path, const res_open_opts *o, res_db **out)
{
    *out = NULL;
    int flags = o ? o->flags : 0;
    int busy = o && o->busy_ms > 0 ? o->busy_ms : RES_BUSY_MS_DEFAULT;
    if (!path || !*path) path = RES_DEFAULT_DB;
    res_db *db = ib_calloc(1, sizeof *db);
    if (!db) return ib_error(e, IB_ENOMEM, "out of memory opening database '%s'", path);
    int r = ib_path_fmt(e, db->path, sizeof db->path, "%s", path);
    db->busy_ms = busy;
    db->readonly = (flags & RES_OPEN_READONLY) != 0;
    db->nocheck = (flags & RES_OPEN_NOCHECK) != 0;
    struct stat st;
    if (!r && (flags & RES_OPEN_EXISTING) && stat(db->path, &st) != 0)
        r = ib_error(e, IB_ENOTFOUND, "database '%s' does not exist", db->path);
    if (!r) r = db->readonly ? open_readonly(e, db) : open_readwrite(e, db);
    if (r) {
        sqlite3_close(db->db);
        ib_free(db);
        return r;
    }
    *out = db;
    return 0;
}

int res_migrate(ib_err *e, const char *path, int *from, int *to)
{
    *from = *to = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return ib_error(e, IB_ENOTFOUND, "database '%s' does not exist", path);
    res_db *db = ib_calloc(1, sizeof *db);
    if (!db) return ib_error(e, IB_ENOMEM, "out of memory opening database '%s'", path);
    db->busy_ms = RES_BUSY_MS_DEFAULT;
    int r = ib_path_fmt(e, db->path, sizeof db->path, "%s", path);
    if (!r && sqlite3_open_v2(path, &db->db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        ib_err quiet;
        ib_err_init(&quiet);
        if (read_version(&quiet, db, from) != 0) *from = -1;
    }
    sqlite3_close(db->db);
    ib_free(db);
    if (r) return r;
    r = res_open(e, path, NULL, &db);
    if (r) return r;
    r = read_version(e, db, to);
    res_close(db);
    return r;
}

void res_close(res_db *db)
{
    if (!db) return;
    sqlite3_close(db->db);
    ib_free(db);
}

const char *res_path(const res_db *db) { return db->path; }

sqlite3 *res_sqlite(res_db *db) { return db->db; }

int res_schema_version(ib_err *e, res_db *db, int *version)
{
    return read_version(e, db, version);
}

int res_create_v1(ib_err *e, const char *path)
{
    res_db tmp = {.db = NULL, .busy_ms = RES_BUSY_MS_DEFAULT};
    if (ib_path_fmt(e, tmp.path, sizeof tmp.path, "%s", path)) return e->code;
    int rc = sqlite3_open_v2(path, &tmp.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        int r = ib_error(e, IB_EIO, "cannot create database '%s': %s", path,
                         tmp.db ? sqlite3_errmsg(tmp.db) : sqlite3_errstr(rc));
        sqlite3_close(tmp.db);
        return r;
    }
    sqlite3_busy_timeout(tmp.db, tmp.busy_ms);
    int v, r = read_version(e, &tmp, &v);
    if (!r && v != 0)
        r = ib_error(e, IB_EINVAL, "database '%s' is not empty", path);
    if (!r) r = res__begin(e, &tmp);
    if (!r) {
        r = res__exec(e, &tmp, schema_v1);
        if (!r)
            r = res__exec(e, &tmp, "INSERT INTO schema_version VALUES(1, "
                                   "strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))");
        if (!r) r = res__commit(e, &tmp);
        else res__rollback(&tmp);
    }
    sqlite3_close(tmp.db);
    return r;
}
