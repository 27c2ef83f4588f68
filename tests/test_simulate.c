/*
 * test_simulate.c: the SimGrid replay (sim/) against schedules computed
 * by hand — equal tasks on two cores, serial writes through one link,
 * dynamic against static scheduling of unequal tasks, a per-task
 * overhead, core contention, spill to the node's disk — the workload
 * built from recorded task events, platform file errors, simulations
 * stored apart from measurements, and `harness simulate` end to end: a
 * sweep, bad input (exit 2, nothing stored) and --validate on a tiny
 * recorded suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "results/results.h"
#include "sim/sim.h"
#include "tests/testutil.h"

/* A platform of `nodes` x `cores` at this machine's speed, no contention,
 * every link and disk at `bw` bytes/s with no latency, unless changed. */
static const char platform_text[] =
    "name: test\n"
    "nodes: 2\n"
    "cores: 2\n"
    "core_speed: 1\n"
    "contention: 0\n"
    "network:\n"
    "  topology: star\n"
    "  bandwidth: 1e12\n"
    "  latency: 0\n"
    "  backbone_bandwidth: 1e12\n"
    "  backbone_latency: 0\n"
    "  loopback_bandwidth: 1e12\n"
    "  loopback_latency: 0\n"
    "storage:\n"
    "  read_bandwidth: 1e12\n"
    "  write_bandwidth: 1e12\n"
    "  link_bandwidth: 1e12\n"
    "  latency: 0\n"
    "scratch:\n"
    "  read_bandwidth: 1e12\n"
    "  write_bandwidth: 1e12\n"
    "mpi:\n"
    "  rank_startup: 0\n"
    "  service_load: 0\n";

static void platform(sim_platform *p)
{
    ib_err e;
    ib_err_init(&e);
    int r = sim_platform_parse(&e, "test.yaml", platform_text, strlen(platform_text), p);
    if (r) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(r, 0);
}

/* n channels, one per chunk, each costing grid[i] seconds and writing
 * wbytes bytes; nothing else. */
static void workload(sim_workload *w, int n, const double *grid, double wbytes)
{
    memset(w, 0, sizeof *w);
    w->nchan = w->nchunks = n;
    w->chan = calloc((size_t)n, sizeof *w->chan);
    w->chunk0 = calloc((size_t)n + 1, sizeof(int));
    assert_non_null(w->chan);
    assert_non_null(w->chunk0);
    for (int i = 0; i < n; i++) {
        w->chan[i].cost[SIM_GRID] = grid ? grid[i] : 0;
        w->chan[i].write_bytes = wbytes;
        w->chunk0[i + 1] = i + 1;
    }
}

static double run(const sim_platform *p, const sim_workload *w, const sim_config *c,
                  sim_result *res)
{
    ib_err e;
    ib_err_init(&e);
    int r = sim_run(&e, p, w, c, res);
    if (r) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(r, 0);
    return res->wall_s;
}

static void config(sim_config *c, int ranks, int threads)
{
    sim_config_init(c);
    c->ranks = ranks;
    c->threads = threads;
    c->overhead_s = 0;
}

/* ---- schedules by hand ----------------------------------------------------- */

/* 4 tasks of 1 s on 1 rank x 2 threads: 2 s; the stream has 4 grid
 * events, two per thread, back to back. */
static void test_equal_tasks_two_cores(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    const double g[4] = {1, 1, 1, 1};
    sim_workload w;
    workload(&w, 4, g, 0);
    sim_config c;
    config(&c, 1, 2);
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 2.0) < 1e-6);
    assert_int_equal(res.tasks, 4);
    int grid = 0, per_thread[2] = {0, 0};
    for (size_t i = 0; i < res.nev; i++)
        if (res.ev[i].phase == SIM_GRID) {
            grid++;
            per_thread[res.ev[i].thread]++;
            assert_true(fabs(res.ev[i].t1 - res.ev[i].t0 - 1.0) < 1e-6);
        }
    assert_int_equal(grid, 4);
    assert_int_equal(per_thread[0], 2);
    assert_int_equal(per_thread[1], 2);
    sim_result_release(&res);
    /* the same on one core: 4 s */
    config(&c, 1, 1);
    assert_true(fabs(run(&p, &w, &c, &res) - 4.0) < 1e-6);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* Writes of 8 planes of 1 MB from 2 ranks x 1 thread.
 * One link in the way (the file server's, 1e6 B/s; all else unlimited):
 * parallel or serial, 8 MB through it = bytes / bandwidth = 8 s.
 * Node links of 1e6 B/s instead: parallel writes take 4 s (each rank's
 * 4 MB through its own link). Serial writes: rank 0's service receives
 * a plane (1 s, rank 1's link and rank 0's link in), then writes it
 * through rank 0's link out, which rank 0's worker writes through too:
 * t 0-1 receive 1 | worker's plane 1; 1-3 service's plane 1 and worker's
 * plane 2 share the link; 3-4 receive 2 | worker's plane 3; 4-6 shared
 * (plane 2, worker's 4); 6-7 receive 3; 7-8 write it; 8-9 receive 4;
 * 9-10 write it: 10 s. */
static void test_serial_writes_one_link(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    p.fs_link_bw = 1e6;
    sim_workload w;
    workload(&w, 8, NULL, 1e6);
    sim_config c;
    config(&c, 2, 1);
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 8.0) < 1e-3);
    assert_true(fabs(res.fs_write_bytes - 8e6) < 1);
    sim_result_release(&res);
    c.serial_write = 1;
    assert_true(fabs(run(&p, &w, &c, &res) - 8.0) < 1e-3);
    sim_result_release(&res);
    p.fs_link_bw = 1e12;
    p.net_bw = 1e6;
    c.serial_write = 0;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.0) < 1e-3);
    sim_result_release(&res);
    c.serial_write = 1;
    assert_true(fabs(run(&p, &w, &c, &res) - 10.0) < 1e-3);
    assert_true(fabs(res.net_bytes - 4e6) < 100); /* rank 1's planes */
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* Unequal tasks 3, 1, 1, 1 on 2 ranks x 1 thread: static (cyclic) gives
 * rank 0 chunks 0 and 2 (4 s) and rank 1 chunks 1 and 3 (2 s): 4 s.
 * Dynamic deals 0 and 1 first, then rank 1 asks for 2 and 3: 3 s. */
static void test_dynamic_vs_static(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    const double g[4] = {3, 1, 1, 1};
    sim_workload w;
    workload(&w, 4, g, 0);
    sim_config c;
    config(&c, 2, 1);
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.0) < 1e-6);
    sim_result_release(&res);
    c.schedule = SIM_DYNAMIC;
    assert_true(fabs(run(&p, &w, &c, &res) - 3.0) < 1e-6);
    int rank1 = 0;
    for (size_t i = 0; i < res.nev; i++) rank1 += res.ev[i].phase == SIM_GRID && res.ev[i].rank == 1;
    assert_int_equal(rank1, 3);
    sim_result_release(&res);
    /* locality: rank 0 owns channels 0-1 (4 s), rank 1 channels 2-3 (2 s) */
    c.schedule = SIM_LOCALITY;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.0) < 1e-6);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* A per-task overhead of 0.1 s on 8 tasks of 1 s over 2 cores adds
 * 8 x 0.1 / 2 = 0.4 s to the 4 s. */
static void test_overhead_per_task(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    const double g[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    sim_workload w;
    workload(&w, 8, g, 0);
    sim_config c;
    config(&c, 1, 2);
    c.overhead_s = 0.1;
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.4) < 1e-6);
    int sched = 0;
    for (size_t i = 0; i < res.nev; i++) sched += res.ev[i].phase == SIM_SCHED;
    assert_true(sched >= 8);
    sim_result_release(&res);
    /* re-cut into 4 chunks of 2 channels: 4 x 0.1 / 2 = 0.2 s */
    c.chunks = 4;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.2) < 1e-6);
    assert_int_equal(res.tasks, 4);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* One central scheduler (Dask's): 0.5 s per task, one task at a time,
 * over 4 threads and 8 tasks of 1 s: the scheduler is busy from 0 to
 * 8 x 0.5 = 4 s, the last task ends 1 s later: 5 s. Each thread's own
 * overhead instead: 2 x (0.5 + 1) = 3 s. */
static void test_central_overhead(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    p.cores = 4;
    const double g[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    sim_workload w;
    workload(&w, 8, g, 0);
    sim_config c;
    config(&c, 1, 4);
    c.overhead_s = 0.5;
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 3.0) < 1e-6);
    sim_result_release(&res);
    c.central = 1;
    assert_true(fabs(run(&p, &w, &c, &res) - 5.0) < 1e-6);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* Contention 0.25 per extra busy core: two busy cores run at 1/1.25, so
 * 4 tasks of 1 s on 2 threads take 2.5 s; on 2 nodes x 1 thread, 2 s. */
static void test_contention(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    p.contention = 0.25;
    const double g[4] = {1, 1, 1, 1};
    sim_workload w;
    workload(&w, 4, g, 0);
    sim_config c;
    config(&c, 1, 2);
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 2.5) < 1e-6);
    sim_result_release(&res);
    config(&c, 2, 1);
    assert_true(fabs(run(&p, &w, &c, &res) - 2.0) < 1e-6);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* A 4 MB budget spilling at 0.5: one chunk of 4 channels of 1 MB planes
 * holds 2 MB and spills 2 MB to a 1e6 B/s scratch disk (2 s written, 2 s
 * read back). */
static void test_spill(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    p.scratch_read_bw = p.scratch_write_bw = 1e6;
    sim_workload w;
    workload(&w, 4, NULL, 1e6);
    w.nchunks = 1;
    w.chunk0[1] = 4;
    sim_config c;
    config(&c, 1, 1);
    c.mem_budget = 4e6;
    c.mem_spill = 0.5;
    sim_result res;
    assert_true(fabs(run(&p, &w, &c, &res) - 4.0) < 1e-3);
    assert_true(fabs(res.spill_bytes - 2e6) < 1);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* Layouts beyond the platform: named, nothing run. */
static void test_layout_errors(void **state)
{
    (void)state;
    sim_platform p;
    platform(&p);
    sim_workload w;
    workload(&w, 4, NULL, 0);
    sim_config c;
    ib_err e;
    sim_result res;
    config(&c, 1, 3);
    ib_err_init(&e);
    assert_int_equal(sim_run(&e, &p, &w, &c, &res), IB_EINVAL);
    assert_true(tu_contains(e.msg, "threads: 3 per rank"));
    config(&c, 3, 2);
    ib_err_init(&e);
    assert_int_equal(sim_run(&e, &p, &w, &c, &res), IB_EINVAL);
    assert_true(tu_contains(e.msg, "nodes x threads: 3 x 2"));
    config(&c, 3, 1); /* 3 ranks on 2 nodes: two share one */
    assert_true(run(&p, &w, &c, &res) >= 0);
    sim_result_release(&res);
    sim_workload_release(&w);
}

/* ---- workloads from events ---------------------------------------------------- */

/* Two chunks of two channels, one rank, one thread: the read is shared by
 * its chunk's channels, its transfer (bytes / the machine's bandwidth)
 * taken off; scheduling becomes the per-task overhead. */
static void test_workload_from_events(void **state)
{
    (void)state;
    sim_platform here;
    platform(&here);
    here.fs_read_bw = 1e6;
    here.fs_write_bw = 1e6;
    const sim_event ev[] = {
        {0, 0, -1, -1, SIM_SCHED, 0.10, 0.11},   {0, 0, 0, 0, SIM_READ, 0.11, 0.51},
        {0, 0, 0, 0, SIM_GRID, 0.51, 1.51},      {0, 0, 0, 0, SIM_WRITE, 1.51, 1.61},
        {0, 0, 0, 1, SIM_GRID, 1.61, 2.61},      {0, 0, 0, 1, SIM_WRITE, 2.61, 2.71},
        {0, 0, -1, -1, SIM_SCHED, 2.71, 2.72},   {0, 0, 1, 2, SIM_READ, 2.72, 3.12},
        {0, 0, 1, 2, SIM_FFT, 3.12, 3.62},       {0, 0, 1, 2, SIM_WRITE, 3.62, 3.72},
        {0, 0, 1, 3, SIM_FFT, 3.72, 4.22},       {0, 0, 1, 3, SIM_WRITE, 4.22, 4.32},
        {0, 0, -1, -1, SIM_SCHED, 4.32, 4.33},
    };
    sim_recorded rec = {ev, sizeof ev / sizeof ev[0], 1, 1, 5.0, 0.5, 4e5, 2e5};
    sim_workload w;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(sim_workload_build(&e, &rec, &here, &w), 0);
    assert_int_equal(w.nchan, 4);
    assert_int_equal(w.nchunks, 2);
    assert_int_equal(w.chunk0[1], 2);
    /* read 0.4 s per chunk, 0.2 s per channel, less 1e5 B / 1e6 B/s */
    assert_true(fabs(w.chan[0].cost[SIM_READ] - 0.1) < 1e-9);
    assert_true(fabs(w.chan[0].read_bytes - 1e5) < 1e-6);
    assert_true(fabs(w.chan[1].cost[SIM_GRID] - 1.0) < 1e-9);
    assert_true(fabs(w.chan[3].cost[SIM_FFT] - 0.5) < 1e-9);
    /* write 0.1 s less 5e4 B / 1e6 B/s */
    assert_true(fabs(w.chan[2].cost[SIM_WRITE] - 0.05) < 1e-9);
    assert_true(fabs(w.sched_s - 0.015) < 1e-9); /* 0.03 s over 2 tasks */
    assert_true(fabs(w.setup_s - 0.5) < 1e-9);
    assert_true(fabs(w.start_s - 0.1) < 1e-9);
    assert_true(fabs(w.tail_s - (5.0 - 0.5 - 4.33)) < 1e-9);
    /* replayed on the machine that recorded it: its own wall time */
    sim_config c;
    sim_config_init(&c);
    sim_result res;
    double wall = run(&here, &w, &c, &res);
    assert_true(fabs(wall - 5.0) < 1e-3);
    sim_result_release(&res);
    sim_workload_release(&w);
    /* no events, or none naming a chunk */
    rec.nev = 0;
    ib_err_init(&e);
    assert_int_equal(sim_workload_build(&e, &rec, &here, &w), IB_EINVAL);
    assert_true(tu_contains(e.msg, "no task events"));
    rec.nev = 1;
    ib_err_init(&e);
    assert_int_equal(sim_workload_build(&e, &rec, &here, &w), IB_EINVAL);
    assert_true(tu_contains(e.msg, "no task events"));
}

/* ---- platform files ------------------------------------------------------------- */

/* Replace the first line starting with `key` in the test platform by
 * `line` (NULL: drop it) and parse; returns the message. */
static int parse_with(const char *key, const char *line, char *msg, size_t n)
{
    char text[sizeof platform_text + 256] = "";
    const char *s = platform_text;
    int done = 0;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = (size_t)(nl - s) + 1;
        if (!done && strncmp(s, key, strlen(key)) == 0) {
            done = 1;
            if (line) strcat(text, line);
        } else {
            strncat(text, s, len);
        }
        s += len;
    }
    sim_platform p;
    ib_err e;
    ib_err_init(&e);
    int r = sim_platform_parse(&e, "p.yaml", text, strlen(text), &p);
    snprintf(msg, n, "%s", e.msg);
    return r;
}

static void test_platform_errors(void **state)
{
    (void)state;
    char msg[1600];
    assert_int_equal(parse_with("cores:", NULL, msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "platform 'p.yaml': missing field 'cores'"));
    assert_int_equal(parse_with("  bandwidth:", "  bandwidth: -1\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "network.bandwidth must be > 0, got -1"));
    assert_int_equal(parse_with("  latency:", "  latency: -0.5\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "network.latency must be >= 0, got -0.5"));
    assert_int_equal(parse_with("  read_bandwidth:", NULL, msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "missing field 'storage.read_bandwidth'"));
    assert_int_equal(parse_with("nodes:", "nodes: 1.5\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "nodes must be a whole number"));
    assert_int_equal(parse_with("nodes:", "nodes: 0\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "nodes must be > 0"));
    assert_int_equal(parse_with("  topology:", "  topology: ring\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "network.topology must be star or bus, got 'ring'"));
    assert_int_equal(parse_with("core_speed:", "core_speed: fast\n", msg, sizeof msg), IB_EINVAL);
    assert_true(tu_contains(msg, "core_speed must be a number, got 'fast'"));
    assert_int_equal(parse_with("contention:", "contention: 0\ncolour: red\n", msg, sizeof msg),
                     IB_EINVAL);
    assert_true(tu_contains(msg, "unknown field 'colour'"));
    assert_int_equal(parse_with("scratch:", "scratch: 3\nscratch_x:\n", msg, sizeof msg),
                     IB_EINVAL);
    assert_true(tu_contains(msg, "scratch must be a mapping"));
    assert_int_equal(parse_with("nodes:", "nodes: [1\n", msg, sizeof msg), IB_EPARSE);
    assert_true(tu_contains(msg, "platform 'p.yaml' line"));
    /* the shipped platforms load */
    static const char *const shipped[] = {"workloads/platforms/this-machine.yaml",
                                          "workloads/platforms/study-cluster.yaml"};
    for (size_t i = 0; i < 2; i++) {
        sim_platform p;
        ib_err e;
        ib_err_init(&e);
        int r = sim_platform_load(&e, shipped[i], &p);
        if (r) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(r, 0);
    }
    sim_platform p;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(sim_platform_load(&e, "/nonexistent/p.yaml", &p), IB_EIO);
    assert_true(tu_contains(e.msg, "platform '/nonexistent/p.yaml': cannot open"));
}

/* ---- storage ------------------------------------------------------------------------ */

/* One integer from an SQL query on the database at path (-1 on error). */
static int64_t q_int(const char *path, const char *sql)
{
    sqlite3 *h;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return v;
}

/* Measured rows: runs, attempts, metrics, phases, tasks together. */
static int64_t measured_rows(const char *path)
{
    return q_int(path, "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM attempts)"
                       " + (SELECT count(*) FROM metrics) + (SELECT count(*) FROM phases)"
                       " + (SELECT count(*) FROM tasks)");
}

/* Simulations land in their own tables, all or none; measurement tables
 * are untouched. */
static void test_store_apart(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("simstore");
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/r.db", dir);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    assert_int_equal(res_open(&e, path, NULL, &db), 0);
    int64_t before = measured_rows(path);
    assert_true(before == 0);
    res_task_event ev[2] = {{0, 0, 0, 0, "grid", 0, 1}, {0, 1, 1, 1, "fft", 0, 2}};
    res_simulation s[2];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 2; i++) {
        s[i].purpose = "sweep";
        s[i].platform = "test";
        s[i].nodes = i + 1;
        s[i].threads = 2;
        s[i].wall_s = 2.0 / (i + 1);
        s[i].measured_wall_s = -1;
        s[i].ev = ev;
        s[i].nev = 2;
    }
    int64_t id = 0;
    assert_int_equal(res_sim_store(&e, db, s, 2, &id), 0);
    assert_true(id >= 1);
    assert_int_equal(q_int(path, "SELECT count(*) FROM simulations"), 2);
    assert_int_equal(q_int(path, "SELECT count(*) FROM simulation_tasks"), 4);
    assert_int_equal(q_int(path, "SELECT count(*) FROM simulations WHERE label = 'simulated'"), 2);
    assert_int_equal(measured_rows(path), before);
    /* a bad row: nothing of the batch is stored */
    s[1].purpose = "measured";
    ib_err_init(&e);
    assert_int_not_equal(res_sim_store(&e, db, s, 2, NULL), 0);
    assert_int_equal(q_int(path, "SELECT count(*) FROM simulations"), 2);
    assert_int_equal(q_int(path, "SELECT count(*) FROM simulation_tasks"), 4);
    /* the database still verifies */
    int problems = -1;
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    assert_int_equal(res_verify(&e, db, devnull, &problems), 0);
    fclose(devnull);
    assert_int_equal(problems, 0);
    /* an unknown cell */
    res_sim_cell c;
    ib_err_init(&e);
    assert_int_equal(res_sim_cell_load(&e, db, 42, 0, &c), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "cell 42 is not in database"));
    res_sim_cell_release(&c);
    res_close(db);
    tu_rmtree(dir);
    free(dir);
}

/* ---- harness simulate on a tiny recorded suite -------------------------------------------- */

static const char tiny_suite[] =
    "name: simtiny\n"
    "datasets:\n"
    "  - {name: alma-xc66, scale: 0.0001, chans: 8}\n"
    "image: 64x64\n"
    "timeout: 120\n"
    "repeats: 1\n"
    "axes:\n"
    "  chunks: [4]\n"
    "  support: [7]\n"
    "  nodes: [1, 2]\n"
    "  threads: [1, 2]\n"
    "exclude:\n"
    "  - {nodes: 2, threads: 2}\n";

static void test_harness_simulate(void **state)
{
    (void)state;
    char harness[4096];
    snprintf(harness, sizeof harness, "%s", tu_bin("harness"));
    if (access(harness, X_OK) != 0) {
        printf("skip: '%s' is not built yet (make programs)\n", harness);
        return;
    }
    char *dir = tu_mkdtemp("simharness");
    assert_non_null(dir);
    char suite[4200], db[4200], bad[4200], tasks[4200], csv[4400];
    snprintf(suite, sizeof suite, "%s/simtiny.yaml", dir);
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
    snprintf(tasks, sizeof tasks, "%s/tasks", dir);
    FILE *f = fopen(suite, "w");
    assert_non_null(f);
    fputs(tiny_suite, f);
    fclose(f);
    char *out = NULL;
    /* Open MPI's own allocations outlive a rank: no leak check for the
     * imager's MPI run (as test_parallel) */
    int st = tu_run(&out,
                    "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" '%s' run-suite "
                    "'%s' --db '%s' --data-dir '%s/cache' --out-dir '%s/cells'",
                    harness, suite, db, dir, dir);
    if (st != 0) fprintf(stderr, "%s\n", out);
    free(out);
    assert_int_equal(st, 0);
    int64_t measured = measured_rows(db);
    int64_t one = q_int(db, "SELECT id FROM cells WHERE nodes = 1 AND threads = 1");
    assert_true(one >= 1);

    /* --validate: the 1x1 cell replayed as itself, then a row per other
     * layout; exit 0 */
    st = tu_run(&out, "'%s' simulate --validate --db '%s'", harness, db);
    if (st != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_non_null(out);
    assert_int_equal(tu_count(out, "alma-xc66"), 3);
    assert_true(tu_contains(out, "1x1"));
    assert_true(tu_contains(out, "1x2"));
    assert_true(tu_contains(out, "2x1"));
    assert_true(tu_contains(out, "of 2 predictions within 15%"));
    free(out);
    assert_int_equal(q_int(db, "SELECT count(*) FROM simulations WHERE purpose = 'validate'"
                               " AND measured_wall_s > 0"),
                     3);

    /* a sweep with its simulated task streams */
    assert_int_equal(tu_run(NULL, "mkdir -p '%s'", tasks), 0);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --nodes 1,2 --threads 1 --tasks-dir '%s'",
                harness, db, (long long)one, tasks);
    if (st != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_int_equal(tu_count(out, "  simulated"), 2);
    free(out);
    snprintf(csv, sizeof csv, "%s/sim-cell%lld-2x1.csv", tasks, (long long)one);
    char *text = tu_slurp(csv, NULL);
    assert_non_null(text);
    assert_true(strncmp(text, "rank,thread,chunk,chan,phase,start,end\n", 39) == 0);
    assert_true(tu_contains(text, ",grid,"));
    assert_true(tu_contains(text, "\n1,0,")); /* rank 1 worked */
    free(text);
    /* the same file is not replaced */
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --nodes 2 --threads 1 --tasks-dir '%s'",
                harness, db, (long long)one, tasks);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "File exists"));
    free(out);
    /* costs from the CPU share of the recorded phases */
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --cost cpu --no-store", harness, db,
                (long long)one);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "  simulated"));
    free(out);
    int64_t sims = q_int(db, "SELECT count(*) FROM simulations");
    assert_int_equal(sims, 5);
    assert_int_equal(measured_rows(db), measured);

    /* bad input: exit 2, the field named, nothing stored */
    st = tu_run(&out, "'%s' simulate --db '%s' --cell 999", harness, db);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "cell 999 is not in database"));
    free(out);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --nodes 1,4 --threads 1", harness, db,
                (long long)one);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "nodes x threads: 4 x 1"));
    free(out);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --threads 3", harness, db,
                (long long)one);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "threads: 3 per rank"));
    free(out);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs(platform_text, f);
    fputs("extra: 1\n", f);
    fclose(f);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --platform '%s'", harness, db,
                (long long)one, bad);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "unknown field 'extra'"));
    free(out);
    assert_int_equal(tu_run(NULL, "sed -i 's/  bandwidth: 1e12/  bandwidth: -5/; /extra/d' '%s'",
                            bad), 0);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld --platform '%s'", harness, db,
                (long long)one, bad);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "network.bandwidth must be > 0, got -5"));
    free(out);
    /* a cell whose attempt has no task events */
    assert_int_equal(tu_run(NULL, "sqlite3 '%s' 'DELETE FROM tasks WHERE attempt_id IN "
                                  "(SELECT id FROM attempts WHERE cell_id = %lld)'",
                            db, (long long)one), 0);
    st = tu_run(&out, "'%s' simulate --db '%s' --cell %lld", harness, db, (long long)one);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "has no task events"));
    free(out);
    assert_int_equal(q_int(db, "SELECT count(*) FROM simulations"), sims);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_tasks_two_cores),
        cmocka_unit_test(test_serial_writes_one_link),
        cmocka_unit_test(test_dynamic_vs_static),
        cmocka_unit_test(test_overhead_per_task),
        cmocka_unit_test(test_central_overhead),
        cmocka_unit_test(test_contention),
        cmocka_unit_test(test_spill),
        cmocka_unit_test(test_layout_errors),
        cmocka_unit_test(test_workload_from_events),
        cmocka_unit_test(test_platform_errors),
        cmocka_unit_test(test_store_apart),
        cmocka_unit_test(test_harness_simulate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
