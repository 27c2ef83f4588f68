/*
 * sim_store.c: what `harness simulate` reads from and writes to the
 * results database. It reads a measured cell — the attempt to replay,
 * its metrics, the store's shape from its stats record, its task events —
 * and stores simulations in tables of their own (simulations,
 * simulation_tasks), created here on first use, so that a simulated
 * number never sits among measured ones.
 */
#include "results/res_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


void res_sim_cell_release(res_sim_cell *c)
{
    if (!c) return;
    free(c->ev);
    c->ev = NULL;
    c->nev = 0;
}

/* The successful attempts' wall times of a cell (run_id 0: any run) and
 * the id of the one at the median (the lower middle of an even count). */
static int median_attempt(ib_err *e, res_db *db, res_sim_cell *c, int64_t run_id)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT a.id, m.value FROM attempts a JOIN metrics m"
                         " ON m.attempt_id = a.id AND m.name = 'wall_time'"
                         " WHERE a.cell_id = ?1 AND a.status = 'ok' AND m.value IS NOT NULL"
                         " AND (?2 = 0 OR a.run_id = ?2) ORDER BY m.value, a.id",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, c->cell_id);
    sqlite3_bind_int64(st, 2, run_id);
    int64_t ids[1024];
    double walls[1024];
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 1024) {
        ids[n] = sqlite3_column_int64(st, 0);
        walls[n++] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "reading attempts");
    c->nattempts = n;
    if (!n) {
        c->attempt_id = -1;
        return 0;
    }
    c->attempt_id = ids[(n - 1) / 2];
    c->wall_s = walls[(n - 1) / 2];
    c->median_wall_s = n % 2 ? walls[n / 2] : 0.5 * (walls[n / 2 - 1] + walls[n / 2]);
    return 0;
}

/* Metrics and the store's shape of the chosen attempt. */
static int attempt_facts(ib_err *e, res_db *db, res_sim_cell *c)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT"
                         " (SELECT value FROM metrics WHERE attempt_id = ?1 AND name = 'setup_time'),"
                         " (SELECT value FROM metrics WHERE attempt_id = ?1 AND name = 'bytes_read'),"
                         " (SELECT value FROM metrics WHERE attempt_id = ?1 AND name = 'bytes_written'),"
                         " json_extract(stats, '$.dataset.nrow'), json_extract(stats, '$.dataset.nchan'),"
                         " json_extract(stats, '$.params.image_nx'), json_extract(stats, '$.params.image_ny')"
                         " FROM attempts WHERE id = ?1 AND json_valid(coalesce(stats, '{}'))",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, c->attempt_id);
    int rc = sqlite3_step(st);
    c->nrow = c->nchan = -1;
    if (rc == SQLITE_ROW) {
        c->setup_s = sqlite3_column_double(st, 0);
        c->bytes_read = sqlite3_column_double(st, 1);
        c->bytes_written = sqlite3_column_double(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) c->nrow = sqlite3_column_int64(st, 3);
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) c->nchan = sqlite3_column_int64(st, 4);
        c->image_nx = sqlite3_column_int(st, 5);
        c->image_ny = sqlite3_column_int(st, 6);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "reading an attempt's metrics");
}

/* The attempt's phases: wall and CPU thread-seconds. */
static int load_phases(ib_err *e, res_db *db, res_sim_cell *c)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT phase, sum(wall_s), sum(cpu_s) FROM phases WHERE attempt_id = ?"
                         " AND wall_s IS NOT NULL AND cpu_s IS NOT NULL GROUP BY phase ORDER BY phase",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, c->attempt_id);
    int rc;
    c->nphase = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && c->nphase < 16) {
        const unsigned char *ph = sqlite3_column_text(st, 0);
        snprintf(c->phase[c->nphase], sizeof c->phase[0], "%s", ph ? (const char *)ph : "");
        c->phase_wall[c->nphase] = sqlite3_column_double(st, 1);
        c->phase_cpu[c->nphase++] = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "reading phases");
}

static int load_events(ib_err *e, res_db *db, res_sim_cell *c)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT rank, thread, chunk, chan, phase, start_s, end_s FROM tasks"
                         " WHERE attempt_id = ? AND start_s IS NOT NULL AND end_s IS NOT NULL"
                         " ORDER BY id",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, c->attempt_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (c->nev == cap) {
            size_t nc = cap ? 2 * cap : 1024;
            res_task_event *ne = realloc(c->ev, nc * sizeof *ne);
            if (!ne) {
                sqlite3_finalize(st);
                return ib_error(e, IB_ENOMEM, "out of memory reading task events");
            }
            c->ev = ne;
            cap = nc;
        }
        res_task_event *v = &c->ev[c->nev++];
        v->rank = sqlite3_column_int(st, 0);
        v->thread = sqlite3_column_int(st, 1);
        v->chunk = sqlite3_column_int(st, 2);
        v->chan = sqlite3_column_int(st, 3);
        const unsigned char *ph = sqlite3_column_text(st, 4);
        snprintf(v->phase, sizeof v->phase, "%s", ph ? (const char *)ph : "");
        v->t0 = sqlite3_column_double(st, 5);
        v->t1 = sqlite3_column_double(st, 6);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "reading task events");
}

/* The cell row: parameters, dataset, layout. IB_ENOTFOUND when absent. */
static int cell_row(ib_err *e, res_db *db, res_sim_cell *c)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT params, coalesce(dataset, ''), coalesce(nodes, 1),"
                         " coalesce(threads, 1), coalesce(chunks, 0) FROM cells WHERE id = ?",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, c->cell_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(c->params, sizeof c->params, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(c->dataset, sizeof c->dataset, "%s", (const char *)sqlite3_column_text(st, 1));
        c->nodes = sqlite3_column_int(st, 2);
        c->threads = sqlite3_column_int(st, 3);
        c->chunks = sqlite3_column_int(st, 4);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ib_error(e, IB_ENOTFOUND, "cell %lld is not in database '%s'",
                        (long long)c->cell_id, db->path);
    return rc == SQLITE_ROW ? 0 : res__sqlerr(e, db, rc, "reading a cell");
}

int res_sim_cell_load(ib_err *e, res_db *db, int64_t cell_id, int64_t run_id, res_sim_cell *c)
{
    memset(c, 0, sizeof *c);
    c->cell_id = cell_id;
    int r = cell_row(e, db, c);
    if (!r) r = median_attempt(e, db, c, run_id);
    if (r) return r;
    if (c->attempt_id < 0)
        return ib_error(e, IB_EINVAL, "cell %lld has no successful attempt%s", (long long)cell_id,
                        run_id ? " in that run" : "");
    r = attempt_facts(e, db, c);
    if (!r) r = load_phases(e, db, c);
    if (!r) r = load_events(e, db, c);
    if (!r && !c->nev)
        r = ib_error(e, IB_EINVAL, "cell %lld (attempt %lld) has no task events",
                     (long long)cell_id, (long long)c->attempt_id);
    return r;
}

int res_sim_cells(ib_err *e, res_db *db, int64_t run_id, res_sim_cell **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT DISTINCT c.id FROM cells c JOIN attempts a ON a.cell_id = c.id"
                         " WHERE a.status = 'ok' AND (?1 = 0 OR a.run_id = ?1) ORDER BY c.id",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t nc = cap ? 2 * cap : 64;
            res_sim_cell *ne = realloc(*out, nc * sizeof *ne);
            if (!ne) {
                r = ib_error(e, IB_ENOMEM, "out of memory listing cells");
                break;
            }
            *out = ne;
            cap = nc;
        }
        res_sim_cell *c = &(*out)[*n];
        memset(c, 0, sizeof *c);
        c->cell_id = sqlite3_column_int64(st, 0);
        r = cell_row(e, db, c);
        if (!r) r = median_attempt(e, db, c, run_id);
        if (!r) r = attempt_facts(e, db, c);
        if (r) break;
        ++*n;
    }
    sqlite3_finalize(st);
    if (!r && rc != SQLITE_DONE) r = res__sqlerr(e, db, rc, "listing cells");
    if (r) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

static void bind_pos(sqlite3_stmt *st, int i, int64_t v)
{
    if (v > 0) sqlite3_bind_int64(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* One simulation row and its stream. */
static int store_one(ib_err *e, res_db *db, sqlite3_stmt *ins, sqlite3_stmt *task,
                     const res_simulation *s, const char *now, int64_t *id)
{
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    int i = 1;
    res__bind_text(ins, i++, now);
    res__bind_text(ins, i++, s->purpose);
    res__bind_text(ins, i++, s->label ? s->label : "simulated");
    bind_pos(ins, i++, s->cell_id);
    bind_pos(ins, i++, s->attempt_id);
    res__bind_text(ins, i++, s->platform);
    res__bind_text(ins, i++, s->platform_file);
    res__bind_text(ins, i++, s->platform_figures);
    sqlite3_bind_int(ins, i++, s->nodes);
    sqlite3_bind_int(ins, i++, s->threads);
    res__bind_text(ins, i++, s->schedule);
    sqlite3_bind_int(ins, i++, s->serial_write);
    sqlite3_bind_int(ins, i++, s->chunks);
    sqlite3_bind_int(ins, i++, s->channels);
    sqlite3_bind_int(ins, i++, s->central);
    const double d[] = {s->overhead_s,  s->mem_budget,    s->contention,     s->rows_scale,
                        s->pixels_scale, s->wall_s,       s->setup_s,        s->speedup,
                        s->efficiency,  s->busy_s};
    for (size_t k = 0; k < sizeof d / sizeof d[0]; k++) res__bind_double(ins, i++, d[k]);
    sqlite3_bind_int(ins, i++, s->tasks);
    const double b[] = {s->spill_bytes, s->fs_read_bytes, s->fs_write_bytes, s->net_bytes};
    for (size_t k = 0; k < sizeof b / sizeof b[0]; k++) res__bind_double(ins, i++, b[k]);
    if (s->measured_wall_s >= 0) res__bind_double(ins, i, s->measured_wall_s);
    i++;
    res__bind_text(ins, i++, s->simgrid);
    res__bind_text(ins, i++, s->command);
    int rc = sqlite3_step(ins);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "storing a simulation");
    *id = sqlite3_last_insert_rowid(db->db);
    for (size_t k = 0; k < s->nev; k++) {
        const res_task_event *v = &s->ev[k];
        sqlite3_reset(task);
        sqlite3_bind_int64(task, 1, *id);
        sqlite3_bind_int(task, 2, v->rank);
        sqlite3_bind_int(task, 3, v->thread);
        sqlite3_bind_int(task, 4, v->chunk);
        sqlite3_bind_int(task, 5, v->chan);
        res__bind_text(task, 6, v->phase);
        res__bind_double(task, 7, v->t0);
        res__bind_double(task, 8, v->t1);
        rc = sqlite3_step(task);
        if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "storing a simulated task stream");
    }
    return 0;
}

int res_sim_store(ib_err *e, res_db *db, const res_simulation *s, size_t n, int64_t *first_id)
{
    int r = res__begin(e, db);
    if (r) return r;
    sqlite3_stmt *ins = NULL, *task = NULL;
    r = res__prepare(e, db,
                         "INSERT INTO simulations(created_at, purpose, label, cell_id, attempt_id,"
                         " platform, platform_file, platform_figures, nodes, threads, schedule,"
                         " serial_write, chunks, channels, central, overhead_s, mem_budget, contention,"
                         " rows_scale, pixels_scale, wall_s, setup_s, speedup, efficiency, busy_s,"
                         " tasks, spill_bytes, fs_read_bytes, fs_write_bytes, net_bytes,"
                         " measured_wall_s, simgrid, command) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                         "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         &ins);
    if (!r)
        r = res__prepare(e, db,
                         "INSERT INTO simulation_tasks(simulation_id, rank, thread, chunk, chan,"
                         " phase, start_s, end_s) VALUES(?,?,?,?,?,?,?,?)",
                         &task);
    char now[40];
    res_timestamp(now, sizeof now);
    for (size_t k = 0; !r && k < n; k++) {
        int64_t id = 0;
        r = store_one(e, db, ins, task, &s[k], now, &id);
        if (!r && k == 0 && first_id) *first_id = id;
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(task);
    if (r) {
        res__rollback(db);
        return r;
    }
    return res__commit(e, db);
}
