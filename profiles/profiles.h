/*
 * profiles: measurement primitives used by the imager and the harness —
 * per-phase wall/CPU timers and process resource usage. Prefix prof_.
 * Depends on common/ only.
 */
#ifndef PROF_PROFILES_H
#define PROF_PROFILES_H

#include <stdint.h>

#include "common/common.h"

/* Phases of the major cycle, in the order reports show them. */
#define PROF_PHASE_MAP(X) \
    X(READ, "read")       \
    X(WEIGHT, "weight")   \
    X(GRID, "grid")       \
    X(FFT, "fft")         \
    X(CORRECT, "correct") \
    X(WRITE, "write")     \
    X(COMM, "comm")       \
    X(SPILL, "spill")     \
    X(IDLE, "idle")       \
    X(KERNEL, "kernel")   \
    X(SCHED, "sched")     \
    X(WAIT, "wait")       \
    X(OTHER, "other")

enum prof_phase {
#define PROF_PHASE_ENUM(name, text) PROF_##name,
    PROF_PHASE_MAP(PROF_PHASE_ENUM)
#undef PROF_PHASE_ENUM
    PROF_NPHASE
};

const char *prof_phase_name(int phase);

/*
 * Per-thread phase accumulator: wall and thread-CPU seconds per phase.
 * One per worker thread (no sharing, no locks); merged at the end.
 */
typedef struct prof_timer {
    double wall[PROF_NPHASE];
    double cpu[PROF_NPHASE];
    double t0_wall, t0_cpu;
    int current; /* -1 when no phase is open */
} prof_timer;

void prof_timer_init(prof_timer *t);
/* Close the open phase (if any) and open phase p. */
void prof_timer_switch(prof_timer *t, int p);
/* Close the open phase. */
void prof_timer_stop(prof_timer *t);
/* dst += src, phase by phase. */
void prof_timer_merge(prof_timer *dst, const prof_timer *src);

/* Resource usage of this process (getrusage RUSAGE_SELF). */
typedef struct prof_rusage {
    double max_rss_bytes;
    double minor_faults, major_faults;
    double vol_ctx_switches, invol_ctx_switches;
    double in_blocks, out_blocks;
    double user_s, sys_s;
} prof_rusage;

void prof_rusage_get(prof_rusage *r);

/* ------------------------------------------------------------------ */
/* Counters: PAPI hardware events (papi.c), PAPI software-defined      */
/* events (sde.c) and a description of the machine (sysinfo.c).        */
/* These use PAPI, libsde and jansson; sysinfo also asks MPI, HDF5,     */
/* FFTW, cfitsio, SQLite and libyaml for their versions (all in LDLIBS) */
/* ------------------------------------------------------------------ */

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>

/*
 * PAPI preset (or native) events counted per worker thread and summed over
 * threads. The default list is
 *   PAPI_TOT_CYC PAPI_TOT_INS PAPI_L1_DCM PAPI_L2_DCM PAPI_L3_TCM
 *   PAPI_SP_OPS|PAPI_FP_OPS PAPI_RES_STL
 * where "A|B" means the first of A and B that this machine can count.
 *
 * Many VMs expose no hardware counters. That is not an error: the object
 * records available = 0 with PAPI's reason (the CPU component's disabled
 * reason, or the error of the first event that failed) and every thread
 * call below becomes a no-op returning 0.
 *
 * Typical use (the imager):
 *   main thread:  prof_papi_init(&e, &papi, NULL, 0);        before workers
 *   each worker:  prof_papi_thread t; prof_papi_thread_init(&t);
 *                 prof_papi_thread_start(&e, &papi, &t);     any number of
 *                 ... work ...                               start/stop pairs
 *                 prof_papi_thread_stop(&e, &papi, &t, NULL);
 *                 prof_papi_thread_release(&papi, &t);       before exiting
 *   main thread:  json_t *j = prof_papi_to_json(&papi);      stats "papi"
 *                 prof_papi_release(&papi);                  after workers
 */
#define PROF_PAPI_MAX_EVENTS 16
#define PROF_PAPI_NAME_MAX 64

typedef struct prof_papi_event {
    char name[PROF_PAPI_NAME_MAX]; /* the alternative chosen, else the first */
    int code;                      /* PAPI event code when available */
    int available;                 /* 1: every thread's event set counts it */
    long long total;               /* sum of all merged thread measurements */
    char reason[160];              /* PAPI's error when unavailable, else "" */
} prof_papi_event;

typedef struct prof_papi {
    int available;        /* at least one event can be counted */
    int owns_library;     /* init called PAPI_library_init; release shuts down */
    int num_hw_counters;  /* counters of the CPU component (0 in most VMs) */
    int nevents;          /* entries in ev, in the order requested */
    prof_papi_event ev[PROF_PAPI_MAX_EVENTS];
    int nset;             /* events in each thread's event set ... */
    int set_idx[PROF_PAPI_MAX_EVENTS]; /* ... and their index in ev */
    long long nmerged;    /* thread measurements merged into the totals */
    char version[32];     /* PAPI library version, "7.0.0.0" */
    char component[64];   /* CPU component name, "perf_event" */
    char reason[512];     /* why unavailable; "" when available */
    pthread_mutex_t lock; /* guards ev[].total and nmerged */
} prof_papi;

/* One worker thread's event set. Owned and used by that thread only. */
typedef struct prof_papi_thread {
    int eventset; /* PAPI event set; -1 until the first start */
    int running;
} prof_papi_thread;

/*
 * Initialise PAPI for this process (PAPI_library_init, and
 * PAPI_thread_init(pthread_self) so each thread counts its own events)
 * and find which of events[0..nevents) can be counted together; events ==
 * NULL selects the default list (nevents is then ignored). Call once, from
 * the main thread, before worker threads start. If another part of the
 * process initialised PAPI already, p uses it and leaves it running (so
 * of two live prof_papi, the first initialised is released last).
 * Returns 0 whether or not counters are available (see p->available and
 * p->reason); IB_EINVAL for more than PROF_PAPI_MAX_EVENTS events or a
 * name longer than PROF_PAPI_NAME_MAX - 1. After a failure p needs no
 * release.
 */
int prof_papi_init(ib_err *e, prof_papi *p, const char *const *events, int nevents);

/* Make t ready for prof_papi_thread_start (no PAPI call). */
void prof_papi_thread_init(prof_papi_thread *t);

/*
 * Start counting on the calling thread. The first start on a thread
 * registers it with PAPI and creates its event set (kept until
 * prof_papi_thread_release). No-op returning 0 when !p->available.
 * IB_EINVAL if t is already running; IB_EIO with PAPI's message when PAPI
 * fails (t is then not running).
 */
int prof_papi_thread_start(ib_err *e, prof_papi *p, prof_papi_thread *t);

/*
 * Stop counting on the calling thread and add the counts to p's totals
 * (thread-safe). values, if not NULL, has room for p->nevents entries and
 * receives this measurement in the order of p->ev (0 for unavailable
 * events; all 0 when !p->available, which returns 0 at once). IB_EINVAL
 * if t is not running; IB_EIO with PAPI's message on failure (nothing is
 * merged, t is no longer running).
 */
int prof_papi_thread_stop(ib_err *e, prof_papi *p, prof_papi_thread *t,
                          long long *values);

/* Destroy t's event set and unregister the calling thread from PAPI;
 * call on the same thread before it exits. Safe on a t never started. */
void prof_papi_thread_release(prof_papi *p, prof_papi_thread *t);

/* The merged total of the event called name: 0 and *value, or
 * IB_ENOTFOUND if no such event is available. */
int prof_papi_get(prof_papi *p, const char *name, long long *value);

/*
 * The stats form (docs/interfaces.md "counters.papi"):
 *   {"available": false, "reason": "...", "num_hw_counters": 0,
 *    "version": "7.0.0.0", "component": "perf_event", "threads_merged": 0,
 *    "events": [{"name": "PAPI_TOT_CYC", "value": 0, "available": false,
 *                "reason": "PAPI_TOT_CYC: Component containing event is disabled"}]}
 * "reason" is "" when available. New reference (caller json_decref), or
 * NULL when out of memory. May be called while threads count.
 */
json_t *prof_papi_to_json(prof_papi *p);

/* Release what init acquired (PAPI_shutdown if p initialised PAPI). All
 * threads must have released their prof_papi_thread. */
void prof_papi_release(prof_papi *p);

/*
 * Imager counters exported as PAPI software-defined events: any PAPI tool
 * in the process can read "sde:::<library>::<name>", e.g.
 * "sde:::imbench::vis_gridded". The values live in s->v and are updated
 * with relaxed atomic adds, so any thread may call prof_sde_add; add once
 * per chunk (or from a per-thread sum), not per visibility. Reads through
 * PAPI count from PAPI_start (delta mode), as hardware events do.
 */
#define PROF_SDE_MAP(X)                                                        \
    X(VIS_GRIDDED, "vis_gridded", "visibilities (row x channel) gridded")      \
    X(SAMPLES_GRIDDED, "samples_gridded", "samples (visibility x pol) gridded") \
    X(CHUNKS_DONE, "chunks_done", "work chunks completed")                     \
    X(BYTES_READ, "bytes_read", "bytes read from the visibility store")        \
    X(SPILL_BYTES, "spill_bytes", "bytes written to spill files")              \
    X(SPILL_FILES, "spill_files", "spill files created")                       \
    X(BYTES_WRITTEN, "bytes_written", "bytes of image products written")

enum prof_sde_counter {
#define PROF_SDE_ENUM(name, text, help) PROF_SDE_##name,
    PROF_SDE_MAP(PROF_SDE_ENUM)
#undef PROF_SDE_ENUM
    PROF_NSDE
};

typedef struct prof_sde {
    atomic_llong v[PROF_NSDE]; /* counts since prof_sde_init */
    int exported;              /* readable through PAPI's sde component */
    int slot;                  /* internal: export slot, -1 if none */
    char library[64];          /* the <library> part of the event names */
    char reason[256];          /* why not exported; "" when exported */
} prof_sde;

/* Name of counter c ("vis_gridded"), "unknown" when out of range. */
const char *prof_sde_name(int c);

/*
 * Zero the counters and register them with libsde under library_name
 * (NULL: "imbench"). s must not move until prof_sde_release. Exporting can
 * fail without failing init: s->exported = 0 and s->reason says why (for
 * example another live prof_sde already exports library_name); the
 * counters still count. IB_EINVAL for a name that is empty, too long or
 * holds characters other than [A-Za-z0-9_].
 *
 * libsde 7.0 cannot unregister counters (re-registering after
 * papi_sde_unregister_counter or papi_sde_shutdown reads freed memory), so
 * each library name stays registered for the life of the process and is
 * read through a small slot that outlives s: after release, a later
 * prof_sde with the same name takes the slot over, and the SDE values keep
 * increasing across owners.
 */
int prof_sde_init(ib_err *e, prof_sde *s, const char *library_name);

/* Add n to counter c (relaxed atomic; safe from any thread). */
static inline void prof_sde_add(prof_sde *s, int c, long long n)
{
    atomic_fetch_add_explicit(&s->v[c], n, memory_order_relaxed);
}

/* Current value of counter c. */
static inline long long prof_sde_get(prof_sde *s, int c)
{
    return atomic_load_explicit(&s->v[c], memory_order_relaxed);
}

/* [{"name": "vis_gridded", "value": 4800000}, ...] in PROF_SDE_MAP order.
 * New reference (caller json_decref), or NULL when out of memory. */
json_t *prof_sde_to_json(prof_sde *s);

/* Stop exporting s (its final values stay in the process-wide SDE values);
 * no thread may add to s afterwards. */
void prof_sde_release(prof_sde *s);

/*
 * The stats "counters" object: {"papi": prof_papi_to_json(p),
 * "sde": prof_sde_to_json(s)}; a NULL p or s leaves its member out (the
 * harness then records it as missing). New reference, or NULL when out of
 * memory.
 */
json_t *prof_counters_json(prof_papi *p, prof_sde *s);

/*
 * Can a software-defined event be read back through PAPI in this process?
 * Registers a probe counter (library "imbench_probe"), reads it through a
 * PAPI event set and compares. PAPI must be initialised. Returns 1, or 0
 * with the reason (PAPI's sde component disabled_reason, or the failing
 * call) in why[0..n).
 */
int prof_sde_probe(char *why, size_t n);

/*
 * What this machine offers, for `harness sysinfo` and run provenance:
 *   {"schema": "imbench-sysinfo/1", "host", "os", "kernel", "machine",
 *    "cpu": {"model", "hypervisor"},
 *    "cores": {"online", "configured", "usable", "physical", "sockets"},
 *    "memory_bytes": {"total", "available", "cgroup_limit"},
 *    "disk": {"path", "free_bytes", "total_bytes"},
 *    "mpi": {"found", "implementation", "version", "launcher", "version_line",
 *            "library_version", "standard", "running_as_root",
 *            "needs_allow_run_as_root"},
 *    "papi": {"version", "available", "reason", "num_hw_counters",
 *             "components": [{"name", "description", "enabled",
 *                             "disabled_reason", "num_counters"}],
 *             "presets_available": [...], "default_events": [...],
 *             "sde": {"available", "reason"}},
 *    "libraries": {"hdf5", "fftw", "cfitsio", "libyaml", "jansson",
 *                  "papi", "mpi"},   (SQLite's is the results module's to
 *                  tell: `harness sysinfo` adds "sqlite", res_sqlite_version)
 *    "build": {"compiler", "c_standard"}}
 * Values the system does not tell (physical cores in some VMs, no MPI)
 * are null. disk_dir is the directory whose file system is measured (NULL:
 * the working directory). Asks the linked MPI library for its version
 * (no MPI_Init) and runs `mpirun --version`; initialises PAPI for the
 * call if nothing in the process has (and shuts it down again); the calling
 * thread must not be counting (prof_papi_thread_start) at the time.
 * New reference, or NULL with e set (IB_ENOMEM).
 */
json_t *prof_sysinfo_json(ib_err *e, const char *disk_dir);

/*
 * One core's single-precision multiply-add rate in GFLOP/s (2 flops per
 * multiply-add), the best of short slices over about `seconds` (so a
 * busy moment of the machine does not lower it) on 256 independent
 * accumulators: fused, vector FMAs where this build's target has them
 * (-march=native: AVX-512 here), the peak the gridder's arithmetic can
 * reach. In the sysinfo JSON as "fma_peak_gflops" (0.05 s).
 */
double prof_fma_peak_gflops(double seconds);

#endif
