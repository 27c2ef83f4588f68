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

#endif
