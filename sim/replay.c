/*
 * replay.c: a workload replayed on a platform with SimGrid. Each imager
 * thread is an actor on its rank's host; each rank has a main actor (set-up,
 * MPI start-up, barriers, sealing the cubes) and rank 0 a service actor
 * when the imager runs its service thread (dynamic scheduling or serial
 * writes on more than one rank). A task's phases become SimGrid
 * activities: compute as executions (seconds here x SIM_REF_FLOPS flops on
 * hosts of core_speed x SIM_REF_FLOPS), reads and writes as transfers
 * between the node and the file server's disk, pipelined in blocks
 * (disk and network overlap, as a parallel file system's client does),
 * spill as the node's own disk, serial writes and the dynamic scheduler's
 * requests as messages to rank 0, the per-task scheduler overhead as a
 * sleep. SimGrid shares cores, links and disks among whatever runs at once.
 *
 * The simulation runs in a forked child (sim_run): SimGrid's engine is one
 * per process and aborts on internal errors. Inside the child the actors
 * run one at a time (SimGrid schedules them), so the context they share
 * needs no locks.
 */
#define _GNU_SOURCE
#include "sim/sim.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simgrid/actor.h>
#include <simgrid/barrier.h>
#include <simgrid/comm.h>
#include <simgrid/disk.h>
#include <simgrid/engine.h>
#include <simgrid/exec.h>
#include <simgrid/host.h>
#include <simgrid/mailbox.h>
#include <simgrid/mutex.h>
#include <simgrid/version.h>

/* SimGrid's fast actor contexts switch stacks by hand, which the
 * sanitizers cannot follow; sanitized builds run each actor on a thread
 * of its own (slower, same results). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SIM_SANITIZED 1
#endif
#endif
#ifndef SIM_SANITIZED
#define SIM_SANITIZED 0
#endif

#define BLOCK_BYTES (4.0 * 1024 * 1024) /* file system transfers: pipelined blocks */
#define MAX_BLOCKS 16
#define MSG_BYTES 8.0                   /* a scheduler request or reply */

const char *sim_schedule_name(int s)
{
    return s == SIM_DYNAMIC ? "dynamic" : s == SIM_LOCALITY ? "locality" : "static";
}

int sim_schedule_parse(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "static") == 0) return SIM_STATIC;
    if (strcmp(name, "dynamic") == 0) return SIM_DYNAMIC;
    if (strcmp(name, "locality") == 0) return SIM_LOCALITY;
    return -1;
}

void sim_config_init(sim_config *c)
{
    memset(c, 0, sizeof *c);
    c->ranks = c->threads = 1;
    c->schedule = SIM_STATIC;
    c->overhead_s = -1;
    c->mem_spill = 0.92;
    c->keep_events = 1;
}

void sim_result_release(sim_result *r)
{
    if (!r) return;
    free(r->ev);
    memset(r, 0, sizeof *r);
}

#define SIM_STR2(x) #x
#define SIM_STR(x) SIM_STR2(x)
const char *sim_simgrid_version(void)
{
    return SIM_STR(SIMGRID_VERSION_MAJOR) "." SIM_STR(SIMGRID_VERSION_MINOR) "." SIM_STR(
        SIMGRID_VERSION_PATCH);
}

/* ---- the simulation's shared state (child process only) ------------- */

typedef struct simctx simctx;

typedef struct rankst {
    int id, host;
    sg_host_t h;
    sg_disk_t scratch;
    int *mine, nmine, next;  /* static / locality: this rank's chunks */
    double tracked;          /* plane bytes held in memory (budget) */
    sg_bar_t done;           /* its workers (and rank 0's service) end */
} rankst;

struct simctx {
    const sim_platform *p;
    const sim_workload *w;
    const sim_config *c;
    int nchunks;
    int *c0;                 /* chunking in use, nchunks + 1 */
    double overhead;
    int ranks;
    rankst *rk;
    sg_host_t fshost;
    sg_disk_t fsdisk;
    sg_bar_t world;          /* every rank's main actor */
    sg_mutex_t sched;        /* a central scheduler's overhead, one at a time */
    int svc;                 /* rank 0 runs a service actor */
    int next_chunk;          /* dynamic: the counter rank 0 keeps */
    int seq;                 /* unique mailbox names */
    double origin, end;
    int ended;               /* rank 0 sealed the cubes */
    sim_result res;
    size_t cap;
};

typedef struct worker {
    simctx *x;
    int rank, thread;
} worker;

enum { MSG_REQ, MSG_REPLY, MSG_PLANE, MSG_DONE };

typedef struct msg {
    int type, chunk;
    double bytes, cpu_s;
    sg_mailbox_t reply;
} msg;

/* Out of memory inside the simulation: the child ends (status 3) and
 * sim_run reports it; nothing of the caller's is touched. */
static _Noreturn void oom(void)
{
    static const char m[] = "simulation: out of memory\n";
    ssize_t n = write(2, m, sizeof m - 1);
    (void)n;
    _exit(3);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) oom();
    return p;
}

static void ev_add(simctx *x, int rank, int thread, int chunk, int chan, int phase, double t0,
                   double t1)
{
    if (!x->c->keep_events) return;
    if (x->res.nev == x->cap) {
        size_t nc = x->cap ? 2 * x->cap : 4096;
        sim_event *ne = realloc(x->res.ev, nc * sizeof *ne);
        if (!ne) oom();
        x->res.ev = ne;
        x->cap = nc;
    }
    x->res.ev[x->res.nev++] =
        (sim_event){rank, thread, chunk, chan, phase, t0 - x->origin, t1 - x->origin};
}

static void compute(double seconds)
{
    if (seconds > 0) sg_actor_execute(seconds * SIM_REF_FLOPS);
}

static sg_mailbox_t new_mailbox(simctx *x, const char *what)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%d", what, x->seq++);
    return sg_mailbox_by_name(name);
}

static int nblocks(double bytes)
{
    double n = ceil(bytes / BLOCK_BYTES);
    return n < 1 ? 1 : n > MAX_BLOCKS ? MAX_BLOCKS : (int)n;
}

/* ---- file system transfers ------------------------------------------ */

typedef struct ioreq {
    double bytes;
    int nblk;
    sg_disk_t disk;
    sg_mailbox_t data, ack;
} ioreq;

/* On the file server: read the blocks from its disk, each sent while the
 * next is read. */
static void fs_reader(int argc, char **argv)
{
    (void)argc, (void)argv;
    ioreq *q = sg_actor_self_get_data();
    sg_comm_t prev = NULL;
    for (int i = 0; i < q->nblk; i++) {
        double b = q->bytes / q->nblk;
        sg_disk_read(q->disk, (sg_size_t)b);
        if (prev) sg_comm_wait(prev);
        prev = sg_mailbox_put_async(q->data, q, (long)b);
    }
    if (prev) sg_comm_wait(prev);
    free(q);
}

/* On the file server: receive the blocks, each written while the next
 * arrives, then acknowledge. */
static void fs_writer(int argc, char **argv)
{
    (void)argc, (void)argv;
    ioreq *q = sg_actor_self_get_data();
    void *got;
    sg_comm_t next = sg_mailbox_get_async(q->data, &got);
    for (int i = 0; i < q->nblk; i++) {
        sg_comm_wait(next);
        if (i + 1 < q->nblk) next = sg_mailbox_get_async(q->data, &got);
        sg_disk_write(q->disk, (sg_size_t)(q->bytes / q->nblk));
    }
    sg_mailbox_put(q->ack, q, (long)MSG_BYTES);
    free(q);
}

static void spawn(const char *name, sg_host_t h, void (*fn)(int, char **), void *data)
{
    sg_actor_t a = sg_actor_init(name, h);
    sg_actor_set_data(a, data);
    sg_actor_start(a, fn, 0, NULL);
}

/* Read bytes from the shared file system into this actor's host. */
static void fs_read(simctx *x, double bytes)
{
    if (!(bytes > 0)) return;
    ioreq *q = xcalloc(1, sizeof *q);
    *q = (ioreq){bytes, nblocks(bytes), x->fsdisk, new_mailbox(x, "rd"), NULL};
    int n = q->nblk;
    sg_mailbox_t mb = q->data;
    spawn("fs-read", x->fshost, fs_reader, q);
    for (int i = 0; i < n; i++) sg_mailbox_get(mb);
    x->res.fs_read_bytes += bytes;
}

/* Write bytes from this actor's host to the shared file system. */
static void fs_write(simctx *x, double bytes)
{
    if (!(bytes > 0)) return;
    ioreq *q = xcalloc(1, sizeof *q);
    *q = (ioreq){bytes, nblocks(bytes), x->fsdisk, new_mailbox(x, "wr"), new_mailbox(x, "ack")};
    int n = q->nblk;
    sg_mailbox_t mb = q->data, ack = q->ack;
    spawn("fs-write", x->fshost, fs_writer, q);
    for (int i = 0; i < n; i++) sg_mailbox_put(mb, x, (long)(bytes / n));
    sg_mailbox_get(ack);
    x->res.fs_write_bytes += bytes;
}

/* ---- scheduling --------------------------------------------------------- */

static sg_mailbox_t svc_box(void) { return sg_mailbox_by_name("rank0-service"); }

/* The next chunk for a worker, or -1: the per-task overhead, then the
 * schedule's rule (the imager's next_chunk). */
static int next_chunk(worker *wk, sg_mailbox_t reply, int *first)
{
    simctx *x = wk->x;
    rankst *r = &x->rk[wk->rank];
    double t0 = simgrid_get_clock();
    int c;
    if (x->c->schedule != SIM_DYNAMIC || x->ranks == 1) {
        c = r->next < r->nmine ? r->mine[r->next++] : -1;
    } else if (*first) {
        /* the first round is dealt without messages */
        *first = 0;
        c = wk->rank * x->c->threads + wk->thread;
        if (c >= x->nchunks) c = -1;
        if (wk->rank == 0 && x->next_chunk < x->ranks * x->c->threads)
            x->next_chunk = x->ranks * x->c->threads;
    } else if (wk->rank == 0) {
        c = x->next_chunk < x->nchunks ? x->next_chunk++ : -1;
    } else {
        msg *m = xcalloc(1, sizeof *m);
        *m = (msg){MSG_REQ, -1, MSG_BYTES, 0, reply};
        sg_mailbox_put(svc_box(), m, (long)MSG_BYTES);
        msg *a = sg_mailbox_get(reply);
        c = a->chunk;
        free(a);
        x->res.net_bytes += 2 * MSG_BYTES;
    }
    if (c >= 0 && x->overhead > 0) {
        if (x->c->central) sg_mutex_lock(x->sched);
        sg_actor_sleep_for(x->overhead);
        if (x->c->central) sg_mutex_unlock(x->sched);
    }
    if (c >= 0 || simgrid_get_clock() > t0)
        ev_add(x, wk->rank, wk->thread, -1, -1, SIM_SCHED, t0, simgrid_get_clock());
    return c;
}

/* ---- the task ------------------------------------------------------------ */

/* Hand bytes of planes (cpu_s of formatting) to the cube: written here,
 * or sent to rank 0 under serial writes. */
static void put_planes(worker *wk, double bytes, double cpu_s)
{
    simctx *x = wk->x;
    if (x->c->serial_write && wk->rank != 0) {
        msg *m = xcalloc(1, sizeof *m);
        *m = (msg){MSG_PLANE, -1, bytes, cpu_s, NULL};
        sg_mailbox_put(svc_box(), m, (long)(bytes > MSG_BYTES ? bytes : MSG_BYTES));
        x->res.net_bytes += bytes;
        return;
    }
    compute(cpu_s);
    fs_write(x, bytes);
}

/* One channel chunk, phase by phase as the imager runs it. */
static void run_task(worker *wk, int c)
{
    simctx *x = wk->x;
    const sim_workload *w = x->w;
    rankst *r = &x->rk[wk->rank];
    int lo = x->c0[c], hi = x->c0[c + 1];
    double rb = 0, rcpu = 0;
    for (int ch = lo; ch < hi; ch++) {
        rb += w->chan[ch].read_bytes;
        rcpu += w->chan[ch].cost[SIM_READ];
    }
    double t = simgrid_get_clock();
    fs_read(x, rb);
    compute(rcpu);
    ev_add(x, wk->rank, wk->thread, c, lo, SIM_READ, t, simgrid_get_clock());
    double budget = x->c->mem_budget, held = 0, spilled = 0, wcpu = 0, wbytes = 0;
    static const int compute_phases[] = {SIM_WEIGHT, SIM_KERNEL, SIM_GRID, SIM_FFT, SIM_CORRECT,
                                         SIM_OTHER};
    for (int ch = lo; ch < hi; ch++) {
        const sim_chan *cc = &w->chan[ch];
        for (size_t i = 0; i < sizeof compute_phases / sizeof compute_phases[0]; i++) {
            int ph = compute_phases[i];
            if (!(cc->cost[ph] > 0)) continue;
            t = simgrid_get_clock();
            compute(cc->cost[ph]);
            ev_add(x, wk->rank, wk->thread, c, ch, ph, t, simgrid_get_clock());
        }
        t = simgrid_get_clock();
        if (!(budget > 0)) {
            put_planes(wk, cc->write_bytes, cc->cost[SIM_WRITE]);
            ev_add(x, wk->rank, wk->thread, c, ch, SIM_WRITE, t, simgrid_get_clock());
            continue;
        }
        /* Under a budget the planes are held until the chunk commits; past
         * the spill fraction they go to the node's disk. */
        wcpu += cc->cost[SIM_WRITE];
        wbytes += cc->write_bytes;
        if (r->tracked + cc->write_bytes <= x->c->mem_spill * budget) {
            r->tracked += cc->write_bytes;
            held += cc->write_bytes;
        } else {
            sg_disk_write(r->scratch, (sg_size_t)cc->write_bytes);
            spilled += cc->write_bytes;
            ev_add(x, wk->rank, wk->thread, c, ch, SIM_SPILL, t, simgrid_get_clock());
        }
    }
    if (budget > 0) {
        t = simgrid_get_clock();
        if (spilled > 0) {
            sg_disk_read(r->scratch, (sg_size_t)spilled);
            ev_add(x, wk->rank, wk->thread, c, lo, SIM_SPILL, t, simgrid_get_clock());
            x->res.spill_bytes += spilled;
            t = simgrid_get_clock();
        }
        put_planes(wk, wbytes, wcpu);
        r->tracked -= held;
        ev_add(x, wk->rank, wk->thread, c, lo, SIM_WRITE, t, simgrid_get_clock());
    }
    x->res.tasks++;
}

static void worker_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    worker *wk = sg_actor_self_get_data();
    simctx *x = wk->x;
    sg_mailbox_t reply = new_mailbox(x, "reply");
    int first = 1;
    compute(x->w->start_s);
    for (;;) {
        int c = next_chunk(wk, reply, &first);
        if (c < 0) break;
        run_task(wk, c);
    }
    sg_barrier_wait(x->rk[wk->rank].done);
    free(wk);
}

/* Rank 0's service thread: chunk requests, remote planes, "done"s. Its
 * polling takes service_load of a core from rank 0's workers meanwhile. */
static void service_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    simctx *x = sg_actor_self_get_data();
    sg_exec_t poll = NULL;
    if (x->p->service_load > 0) {
        poll = sg_actor_exec_init(1e18);
        sg_exec_set_bound(poll, x->p->service_load * sg_host_get_speed(sg_host_self()));
        sg_exec_start(poll);
    }
    int done = 0;
    while (done < x->ranks - 1) {
        msg *m = sg_mailbox_get(svc_box());
        if (m->type == MSG_REQ) {
            /* the request travels back as the reply; the worker frees it */
            m->type = MSG_REPLY;
            m->chunk = x->next_chunk < x->nchunks ? x->next_chunk++ : -1;
            sg_mailbox_put(m->reply, m, (long)MSG_BYTES);
            continue;
        } else if (m->type == MSG_PLANE) {
            compute(m->cpu_s);
            fs_write(x, m->bytes);
        } else {
            done++;
        }
        free(m);
    }
    if (poll) sg_exec_cancel(poll);
    sg_barrier_wait(x->rk[0].done);
}

typedef struct rankarg {
    simctx *x;
    int rank;
} rankarg;

static void rank_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    rankarg *ra = sg_actor_self_get_data();
    simctx *x = ra->x;
    int id = ra->rank;
    free(ra);
    rankst *r = &x->rk[id];
    compute(x->w->setup_s);
    if (x->ranks > 1) sg_actor_sleep_for(x->p->rank_startup_s * (x->ranks - 1));
    sg_barrier_wait(x->world);
    if (id == 0) {
        x->origin = simgrid_get_clock();
        x->res.setup_s = x->origin;
        if (x->svc) spawn("service", r->h, service_main, x);
    }
    for (int t = 0; t < x->c->threads; t++) {
        worker *wk = xcalloc(1, sizeof *wk);
        *wk = (worker){x, id, t};
        char name[32];
        snprintf(name, sizeof name, "r%d-t%d", id, t);
        spawn(name, r->h, worker_main, wk);
    }
    sg_barrier_wait(r->done);
    if (id != 0 && x->svc) {
        msg *m = xcalloc(1, sizeof *m);
        *m = (msg){MSG_DONE, -1, MSG_BYTES, 0, NULL};
        sg_mailbox_put(svc_box(), m, (long)MSG_BYTES);
    }
    sg_barrier_wait(x->world);
    if (id == 0) {
        compute(x->w->tail_s);
        x->end = simgrid_get_clock();
        x->ended = 1;
    }
}

/* ---- placement and checks (parent) ------------------------------------ */

/* Ranks per host: one per node while they fit, else packed evenly; the
 * threads of a host never exceed its cores. */
static int place(ib_err *e, const sim_platform *p, const sim_config *c, int *per_host,
                 int *hosts)
{
    if (c->ranks < 1 || c->threads < 1)
        return ib_error(e, IB_EINVAL, "nodes and threads must be >= 1, got %d x %d", c->ranks,
                        c->threads);
    if (c->threads > p->cores)
        return ib_error(e, IB_EINVAL,
                        "threads: %d per rank, but platform '%s' has %d cores per node",
                        c->threads, p->path, p->cores);
    if ((int64_t)c->ranks * c->threads > (int64_t)p->nodes * p->cores)
        return ib_error(e, IB_EINVAL,
                        "nodes x threads: %d x %d needs %lld cores, platform '%s' has %d nodes "
                        "x %d cores",
                        c->ranks, c->threads, (long long)c->ranks * c->threads, p->path,
                        p->nodes, p->cores);
    int rph = (c->ranks + p->nodes - 1) / p->nodes;
    if (rph * c->threads > p->cores)
        return ib_error(e, IB_EINVAL,
                        "nodes: %d ranks of %d threads do not fit platform '%s' (%d nodes x %d "
                        "cores: %d ranks per node would need %d cores)",
                        c->ranks, c->threads, p->path, p->nodes, p->cores, rph, rph * c->threads);
    *per_host = rph;
    *hosts = (c->ranks + rph - 1) / rph;
    return 0;
}

static int check_config(ib_err *e, const sim_workload *w, const sim_config *c)
{
    if (c->schedule < SIM_STATIC || c->schedule > SIM_LOCALITY)
        return ib_error(e, IB_EINVAL, "unknown schedule %d", c->schedule);
    if (c->chunks < 0 || c->chunks > w->nchan)
        return ib_error(e, IB_EINVAL, "chunks must be 1 to the workload's %d channels, got %d",
                        w->nchan, c->chunks);
    if (!(c->mem_budget >= 0) || !(c->mem_spill > 0 && c->mem_spill <= 1))
        return ib_error(e, IB_EINVAL, "memory budget %g / spill fraction %g out of range",
                        c->mem_budget, c->mem_spill);
    if (!(c->overhead_s < 3600))
        return ib_error(e, IB_EINVAL, "overhead must be under an hour per task, got %g",
                        c->overhead_s);
    if (w->nchan < 1 || w->nchunks < 1 || !w->chan || !w->chunk0)
        return ib_error(e, IB_EINVAL, "the workload is empty");
    return 0;
}

/* ---- the child ------------------------------------------------------------ */

/* Chunking and each rank's share of the chunks (static: cyclic;
 * locality: the rank whose share of the channels holds the chunk's
 * first channel). */
static void assign(simctx *x)
{
    const sim_workload *w = x->w;
    if (x->c->chunks > 0 && x->c->chunks != w->nchunks) {
        x->nchunks = x->c->chunks;
        x->c0 = xcalloc((size_t)x->nchunks + 1, sizeof(int));
        for (int c = 0; c <= x->nchunks; c++)
            x->c0[c] = (int)((int64_t)c * w->nchan / x->nchunks);
    } else {
        x->nchunks = w->nchunks;
        x->c0 = xcalloc((size_t)x->nchunks + 1, sizeof(int));
        memcpy(x->c0, w->chunk0, sizeof(int) * ((size_t)x->nchunks + 1));
    }
    int N = x->ranks;
    for (int r = 0; r < N; r++) x->rk[r].mine = xcalloc((size_t)x->nchunks, sizeof(int));
    for (int c = 0; c < x->nchunks; c++) {
        int owner = N == 1 ? 0
                    : x->c->schedule == SIM_LOCALITY
                        ? (int)((int64_t)x->c0[c] * N / w->nchan)
                        : c % N;
        IB_ASSERT(owner >= 0 && owner < N && x->rk[owner].mine);
        rankst *r = &x->rk[owner];
        r->mine[r->nmine++] = c;
    }
}

/* Write all of buf to fd; 0 or -1. */
static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static _Noreturn void child(const char *xml, const sim_platform *p, const sim_workload *w,
                            const sim_config *c, int per_host, int fd)
{
    /* SimGrid's own log says nothing below critical unless asked
     * (IMBENCH_SIMGRID_LOG=info, ...); flows as the platform states them:
     * no TCP factors, no cross-traffic of acknowledgements. */
    char lvl[64];
    const char *want = getenv("IMBENCH_SIMGRID_LOG");
    snprintf(lvl, sizeof lvl, "--log=root.thres:%s", want && *want ? want : "critical");
    char a0[] = "imbench-sim", a2[] = "--cfg=network/model:CM02",
         a3[] = "--cfg=network/crosstraffic:0";
    char *argv[6] = {a0, lvl, a2, a3, NULL, NULL};
    int argc = 4;
#if SIM_SANITIZED
    char a4[] = "--cfg=contexts/factory:thread";
    argv[argc++] = a4;
#endif
    simgrid_init(&argc, argv);
    simgrid_load_platform(xml);
    simctx x;
    memset(&x, 0, sizeof x);
    x.p = p;
    x.w = w;
    x.c = c;
    x.ranks = c->ranks;
    x.overhead = c->overhead_s >= 0 ? c->overhead_s : w->sched_s;
    x.svc = c->ranks > 1 && (c->schedule == SIM_DYNAMIC || c->serial_write);
    x.rk = xcalloc((size_t)c->ranks, sizeof *x.rk);
    x.fshost = sg_host_by_name("fs");
    unsigned nd = 0;
    sg_disk_t *disks = NULL;
    sg_host_get_disks(x.fshost, &nd, &disks);
    x.fsdisk = nd ? disks[0] : NULL;
    free(disks);
    assign(&x);
    x.world = sg_barrier_init((unsigned)c->ranks);
    x.sched = sg_mutex_init();
    for (int r = 0; r < c->ranks; r++) {
        rankst *rk = &x.rk[r];
        char name[32];
        rk->id = r;
        rk->host = r / per_host;
        snprintf(name, sizeof name, "node-%d", rk->host);
        rk->h = sg_host_by_name(name);
        sg_host_get_disks(rk->h, &nd, &disks);
        rk->scratch = nd ? disks[0] : NULL;
        free(disks);
        rk->done = sg_barrier_init((unsigned)c->threads + 1 + (r == 0 && x.svc));
        rankarg *ra = xcalloc(1, sizeof *ra);
        *ra = (rankarg){&x, r};
        snprintf(name, sizeof name, "rank-%d", r);
        spawn(name, rk->h, rank_main, ra);
    }
    simgrid_run();
    x.res.wall_s = x.end;
    for (size_t i = 0; i < x.res.nev; i++)
        if (x.res.ev[i].phase != SIM_SCHED) x.res.busy_s += x.res.ev[i].t1 - x.res.ev[i].t0;
    if (!c->keep_events) x.res.busy_s = NAN; /* unknown without the stream */
    int bad = !x.ended || x.res.tasks != x.nchunks;
    sim_result head = x.res;
    head.ev = NULL;
    int status = bad ? 4 : 0;
    if (write_all(fd, &head, sizeof head) ||
        (x.res.nev && write_all(fd, x.res.ev, x.res.nev * sizeof *x.res.ev)))
        status = 5;
    close(fd);
    /* SimGrid's engine is torn down with the process: _exit, no atexit
     * handlers of the caller run twice. */
    _exit(status);
}

/* ---- sim_run (parent) ---------------------------------------------------- */

int sim_check(ib_err *e, const sim_platform *p, const sim_workload *w, const sim_config *c)
{
    int per_host, hosts;
    int r = check_config(e, w, c);
    return r ? r : place(e, p, c, &per_host, &hosts);
}

static int read_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The platform XML for this layout, in a temporary file. */
static int write_xml(ib_err *e, const sim_platform *p, const sim_config *c, int per_host,
                     int hosts, char *path, size_t n)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, n, "%s/imbench-sim-XXXXXX.xml", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 4);
    if (fd < 0) return ib_error(e, IB_EIO, "cannot create '%s': %s", path, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(path);
        return ib_error(e, IB_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    int *busy = calloc((size_t)hosts, sizeof *busy);
    int r = busy ? 0 : ib_error(e, IB_ENOMEM, "out of memory");
    for (int k = 0; busy && k < c->ranks; k++) busy[k / per_host] += c->threads;
    if (!r) r = sim_platform_write_xml(e, p, hosts, busy, f);
    free(busy);
    if (fclose(f) != 0 && !r) r = ib_error(e, IB_EIO, "cannot write '%s'", path);
    if (r) unlink(path);
    return r;
}

int sim_run(ib_err *e, const sim_platform *p, const sim_workload *w, const sim_config *c,
            sim_result *out)
{
    memset(out, 0, sizeof *out);
    int per_host = 1, hosts = 1;
    int r = check_config(e, w, c);
    if (!r) r = place(e, p, c, &per_host, &hosts);
    if (r) return r;
    char xml[4096];
    if ((r = write_xml(e, p, c, per_host, hosts, xml, sizeof xml))) return r;
    int pfd[2];
    if (pipe(pfd) != 0) {
        unlink(xml);
        return ib_error(e, IB_EIO, "cannot make a pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        unlink(xml);
        return ib_error(e, IB_EIO, "cannot fork the simulation: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pfd[0]);
        child(xml, p, w, c, per_host, pfd[1]);
    }
    close(pfd[1]);
    sim_result head;
    int got = read_all(pfd[0], &head, sizeof head) == 0;
    sim_event *ev = NULL;
    if (got && head.nev) {
        ev = malloc(head.nev * sizeof *ev);
        got = ev && read_all(pfd[0], ev, head.nev * sizeof *ev) == 0;
    }
    close(pfd[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    unlink(xml);
    if (WIFSIGNALED(st) || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !got) {
        free(ev);
        if (WIFSIGNALED(st))
            return ib_error(e, IB_EIO, "the simulation died of signal %d (SimGrid aborted: see "
                            "its message above)", WTERMSIG(st));
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        return ib_error(e, IB_EIO, "the simulation failed (status %d: %s)", code,
                        code == 3   ? "out of memory"
                        : code == 4 ? "not every task ran"
                                    : "no result");
    }
    *out = head;
    out->ev = ev;
    return 0;
}
