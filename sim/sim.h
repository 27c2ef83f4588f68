/*
 * sim: a recorded cell replayed on a simulated cluster. SimGrid (3.32, its
 * C API) is the engine; this module only maps what a run recorded — task
 * events per phase, bytes read and written — onto SimGrid hosts, actors
 * and activities: one actor per imager thread, executions (flops) for the
 * compute phases, disk reads and writes on a storage host reached over
 * the network for the file system, messages for serial writes and the
 * dynamic scheduler's requests, sleeps for a per-task scheduler overhead.
 * SimGrid's flow models share the cores, links and disks among them.
 * Prefix sim_. Depends on common/ (and SimGrid, libyaml).
 *
 * Units: seconds, bytes, bytes per second. One core of the machine that
 * recorded the cell is SIM_REF_FLOPS flop/s: a task phase that took s
 * seconds there is s * SIM_REF_FLOPS flops, and a platform's core_speed
 * says how fast its cores are relative to that core.
 *
 * Every simulation runs in a child process (fork): SimGrid keeps one
 * engine per process and aborts on an internal error; the child sends its
 * result back through a pipe, so neither can leak into the caller.
 */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/common.h"

#define SIM_REF_FLOPS 1e9

/* ------------------------------------------------------------------ */
/* Platforms (platform.c)                                              */
/* ------------------------------------------------------------------ */

/* Network topologies: every node's link to one switch (its own
 * bandwidth, a backbone of its own), or every node on one shared link. */
enum sim_topology { SIM_STAR, SIM_BUS };

/*
 * A platform's figures, read from a YAML file (the files in workloads/platforms/;
 * docs/simulate.md lists the fields). Every figure is required and none
 * may be negative; bandwidths and speeds must be > 0.
 */
typedef struct sim_platform {
    char name[64];
    char path[1024];
    int nodes;               /* hosts */
    int cores;               /* cores per host */
    double core_speed;       /* relative to one core of the recording machine */
    double contention;       /* compute slowdown per extra busy core of a host */
    enum sim_topology topology;
    double net_bw, net_lat;  /* each node's link (bytes/s, s) */
    double bb_bw, bb_lat;    /* the switch (star) or the shared link (bus) */
    double lo_bw, lo_lat;    /* between ranks on one host (shared memory) */
    double fs_read_bw, fs_write_bw; /* the shared file system's disks */
    double fs_link_bw, fs_lat;      /* the file system server's network link */
    double scratch_read_bw, scratch_write_bw; /* node-local disk (spill) */
    double rank_startup_s;   /* MPI start-up per rank beyond the first */
    double service_load;     /* share of a core rank 0's service thread takes */
} sim_platform;

/* Read and check a platform file. On failure the message names the file
 * and the field ("platform 'p.yaml': network.bandwidth must be > 0, got
 * -1"); IB_EINVAL for a missing or bad figure, IB_EIO / IB_EPARSE for an
 * unreadable or malformed file. */
int sim_platform_load(ib_err *e, const char *path, sim_platform *p);

/* The same from text (name is the file named in messages). */
int sim_platform_parse(ib_err *e, const char *name, const char *text, size_t len,
                       sim_platform *p);

/* The platform as a JSON object text (every figure), into buf. */
void sim_platform_json(const sim_platform *p, char *buf, size_t n);

/*
 * Write the SimGrid platform XML for `hosts` of p's nodes (1..p->nodes),
 * each host's core speed divided by (1 + contention x (busy - 1)) where
 * busy[h] is the number of threads placed on host h. Hosts are "node-H"
 * with a disk "scratch", the file server "fs" with a disk "fs-disk".
 */
int sim_platform_write_xml(ib_err *e, const sim_platform *p, int hosts, const int *busy,
                           FILE *f);

/* ------------------------------------------------------------------ */
/* Workloads: what a recorded cell costs (workload.c)                  */
/* ------------------------------------------------------------------ */

/* Phases of a task, as the imager records them (profiles/ names). */
#define SIM_PHASE_MAP(X)                                                        \
    X(SCHED, "sched") X(READ, "read") X(WEIGHT, "weight") X(KERNEL, "kernel")    \
    X(GRID, "grid") X(FFT, "fft") X(CORRECT, "correct") X(WRITE, "write")        \
    X(SPILL, "spill") X(OTHER, "other")

enum sim_phase {
#define SIM_PHASE_ENUM(name, text) SIM_##name,
    SIM_PHASE_MAP(SIM_PHASE_ENUM)
#undef SIM_PHASE_ENUM
    SIM_NPHASE
};

/* Name of a phase ("unknown" out of range); phase of a name or -1. */
const char *sim_phase_name(int phase);
int sim_phase_parse(const char *name);

/* One task event: a phase of a task on a rank's thread, seconds from the
 * start of the workers (after set-up), as the imager's tasks.csv. chunk
 * and chan are -1 for scheduling. */
typedef struct sim_event {
    int rank, thread, chunk, chan, phase;
    double t0, t1;
} sim_event;

/* What one recorded attempt holds (borrowed by sim_workload_build). */
typedef struct sim_recorded {
    const sim_event *ev;
    size_t nev;
    int ranks, threads;      /* the layout it ran on */
    double wall_s;           /* the imager's wall time */
    double setup_s;          /* the slowest rank's set-up before the workers */
    double bytes_read, bytes_written;
} sim_recorded;

/* The recorded cost of one channel: CPU seconds per phase on the
 * recording machine with one busy core (read and write without their
 * transfer), and the bytes it reads and writes. */
typedef struct sim_chan {
    double cost[SIM_NPHASE];
    double read_bytes, write_bytes;
} sim_chan;

typedef struct sim_workload {
    int nchan;
    sim_chan *chan;          /* owned, nchan */
    int nchunks;
    int *chunk0;             /* owned, nchunks + 1: the recorded chunking */
    double setup_s;          /* per rank, before the workers */
    double start_s;          /* from the workers' start to their first task */
    double tail_s;           /* after the workers: sealing the cubes */
    double sched_s;          /* the recorded scheduler time per task */
    int rec_ranks, rec_threads;
    double rec_wall_s;
} sim_workload;

/*
 * Build the workload of a recorded attempt: each event's seconds go to its
 * channel (a read is shared by its chunk's channels), divided by the
 * recording layout's contention (here->contention, busy cores = ranks x
 * threads up to here->cores); reads and writes lose their transfer at
 * here's file-system bandwidths (bytes / bandwidth), which the replay puts
 * back as I/O on the simulated platform. IB_EINVAL "no task events" when
 * r has none, or none that name a chunk.
 */
int sim_workload_build(ib_err *e, const sim_recorded *r, const sim_platform *here,
                       sim_workload *w);

/*
 * Resize a workload to nchan channels (taking the recorded channels in
 * turn) and scale it: `rows` multiplies what grows with the samples (read,
 * weight, kernel, grid and the bytes read), `pixels` what grows with the
 * image (fft, correct, write and the bytes written). The recorded chunking
 * becomes nchunks even chunks (recorded count when nchunks = 0).
 */
int sim_workload_scale(ib_err *e, sim_workload *w, int nchan, double rows, double pixels,
                       int nchunks);

void sim_workload_release(sim_workload *w);

/* ------------------------------------------------------------------ */
/* Replay (replay.c)                                                   */
/* ------------------------------------------------------------------ */

enum sim_schedule { SIM_STATIC, SIM_DYNAMIC, SIM_LOCALITY };
const char *sim_schedule_name(int s);
int sim_schedule_parse(const char *name); /* -1 unknown */

typedef struct sim_config {
    int ranks, threads;      /* MPI ranks ("nodes" in a suite) and threads each */
    int schedule;            /* enum sim_schedule */
    int serial_write;        /* ranks other than 0 send their planes to rank 0 */
    int chunks;              /* 0: as recorded; else channels re-cut evenly */
    double overhead_s;       /* scheduler overhead per task; < 0: recorded */
    int central;             /* the overhead is one scheduler's, serial over
                                every thread (Dask's), not each thread's own */
    double mem_budget;       /* bytes per rank, 0 none: planes past */
    double mem_spill;        /*   mem_spill x budget go to the scratch disk */
    int keep_events;         /* return the simulated task stream */
} sim_config;

/* Defaults: 1 x 1, static, parallel writes, recorded chunks and
 * overhead, no budget, spill at 0.92, events kept. */
void sim_config_init(sim_config *c);

typedef struct sim_result {
    double wall_s;           /* predicted wall time (set-up to sealed cubes) */
    double setup_s;          /* of it: set-up and MPI start-up */
    double busy_s;           /* thread-seconds in task phases (NAN without events) */
    double spill_bytes, fs_read_bytes, fs_write_bytes, net_bytes;
    int tasks;
    sim_event *ev;           /* owned: the simulated task stream */
    size_t nev;
} sim_result;

/*
 * Replay w on p as c says. Checks first (IB_EINVAL, message naming the
 * field): ranks x threads must fit p (ranks share a host only when they
 * outnumber its nodes, and a host's threads never exceed its cores).
 * Then runs SimGrid in a child process; IB_EIO when the simulation could
 * not run (the message says why). On failure *out is zeroed.
 */
int sim_run(ib_err *e, const sim_platform *p, const sim_workload *w, const sim_config *c,
            sim_result *out);

void sim_result_release(sim_result *r);

/* The checks sim_run makes before it simulates (the layout against the
 * platform, the configuration against the workload), alone. */
int sim_check(ib_err *e, const sim_platform *p, const sim_workload *w, const sim_config *c);

/* SimGrid's version, "3.32.0". */
const char *sim_simgrid_version(void);

#endif
