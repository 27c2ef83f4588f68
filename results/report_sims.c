/*
 * report_sims.c: the stored simulations as `harness report` reads them —
 * the simulations of a run's cells (newest of each kind of layout) and a
 * simulation's task stream. Read only: a database older than the
 * simulation tables has no simulations, and reading never creates them.
 */
#include "results/res_internal.h"

#include <math.h>
#include <string.h>

static void colcpy(sqlite3_stmt *st, int i, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

static double coldbl(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Does the database have the simulations tables? */
static int has_sim_tables(ib_err *e, res_db *db, int *yes)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                          " ('simulations', 'simulation_tasks')",
                          &st);
    if (rc) return rc;
    int s = sqlite3_step(st);
    *yes = s == SQLITE_ROW && sqlite3_column_int(st, 0) == 2;
    sqlite3_finalize(st);
    return s == SQLITE_ROW ? 0 : res__sqlerr(e, db, s, "looking for the simulation tables");
}

/* Append one element of size sz to *arr (ib_malloc'd). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16, bytes;
    if (ib_mul_size(c, sz, &bytes)) return IB_EOVERFLOW;
    char *na = ib_malloc(bytes);
    if (!na) return IB_ENOMEM;
    if (n) memcpy(na, *arr, n * sz);
    ib_free(*arr);
    *arr = na;
    *cap = c;
    return 0;
}

int res_report_simulations(ib_err *e, res_db *db, int64_t run_id, res_sim_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int yes;
    int rc = has_sim_tables(e, db, &yes);
    if (rc || !yes) return rc;
    sqlite3_stmt *st;
    rc = res__prepare(
        e, db,
        "SELECT s.id, coalesce(s.cell_id, 0), coalesce(s.attempt_id, 0), s.purpose, s.label,"
        " s.platform, coalesce(s.schedule, ''), s.created_at, coalesce(c.dataset, ''),"
        " coalesce(c.support, json_extract(c.params, '$.support'), 0),"
        " coalesce(c.nodes, 1), coalesce(c.threads, 1), s.nodes, s.threads,"
        " coalesce(s.serial_write, 0), coalesce(s.chunks, 0), coalesce(s.channels, 0),"
        " coalesce(s.central, 0), coalesce(s.tasks, 0), s.overhead_s, s.contention,"
        " s.rows_scale, s.pixels_scale, s.wall_s, s.speedup, s.efficiency, s.measured_wall_s,"
        " (SELECT count(*) FROM simulation_tasks t WHERE t.simulation_id = s.id)"
        " FROM simulations s LEFT JOIN cells c ON c.id = s.cell_id"
        " WHERE s.cell_id IN (SELECT cell_id FROM attempts WHERE run_id = ?1)"
        " AND s.id IN (SELECT max(id) FROM simulations GROUP BY purpose, label, cell_id,"
        " platform, nodes, threads, schedule, serial_write, chunks, central, overhead_s,"
        " rows_scale, pixels_scale)"
        " ORDER BY s.purpose, c.dataset, s.label, s.id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    res_sim_row *v = NULL;
    size_t cap = 0, k = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = v;
        if (grow(&arr, k, &cap, sizeof *v)) {
            sqlite3_finalize(st);
            ib_free(v);
            return ib_error(e, IB_ENOMEM, "out of memory reading simulations");
        }
        v = arr;
        res_sim_row *x = &v[k++];
        memset(x, 0, sizeof *x);
        int i = 0;
        x->id = sqlite3_column_int64(st, i++);
        x->cell_id = sqlite3_column_int64(st, i++);
        x->attempt_id = sqlite3_column_int64(st, i++);
        colcpy(st, i++, x->purpose, sizeof x->purpose);
        colcpy(st, i++, x->label, sizeof x->label);
        colcpy(st, i++, x->platform, sizeof x->platform);
        colcpy(st, i++, x->schedule, sizeof x->schedule);
        colcpy(st, i++, x->created_at, sizeof x->created_at);
        colcpy(st, i++, x->dataset, sizeof x->dataset);
        x->support = sqlite3_column_int(st, i++);
        x->cell_nodes = sqlite3_column_int(st, i++);
        x->cell_threads = sqlite3_column_int(st, i++);
        x->nodes = sqlite3_column_int(st, i++);
        x->threads = sqlite3_column_int(st, i++);
        x->serial_write = sqlite3_column_int(st, i++);
        x->chunks = sqlite3_column_int(st, i++);
        x->channels = sqlite3_column_int(st, i++);
        x->central = sqlite3_column_int(st, i++);
        x->tasks = sqlite3_column_int(st, i++);
        x->overhead_s = coldbl(st, i++);
        x->contention = coldbl(st, i++);
        x->rows_scale = coldbl(st, i++);
        x->pixels_scale = coldbl(st, i++);
        x->wall_s = coldbl(st, i++);
        x->speedup = coldbl(st, i++);
        x->efficiency = coldbl(st, i++);
        x->measured_wall_s = coldbl(st, i++);
        x->nstream = (size_t)sqlite3_column_int64(st, i++);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
        ib_free(v);
        return res__sqlerr(e, db, s, "reading simulations");
    }
    *out = v;
    *n = k;
    return 0;
}

int res_report_sim_tasks(ib_err *e, res_db *db, int64_t sim_id, size_t max, res_task **out,
                         size_t *n, int *truncated)
{
    *out = NULL;
    *n = 0;
    *truncated = 0;
    int yes;
    int rc = has_sim_tables(e, db, &yes);
    if (rc || !yes) return rc;
    sqlite3_stmt *st;
    rc = res__prepare(e, db,
                      "SELECT coalesce(rank, 0), coalesce(thread, 0), coalesce(chunk, -1),"
                      " coalesce(chan, -1), coalesce(phase, 'other'), start_s, end_s"
                      " FROM simulation_tasks WHERE simulation_id = ? AND start_s IS NOT NULL"
                      " AND end_s IS NOT NULL ORDER BY start_s, id",
                      &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, sim_id);
    return res__read_tasks(e, db, st, max, out, n, truncated, "a simulated task stream");
}
