/*
 * timer.c: per-thread phase timers (wall + thread CPU) and getrusage.
 */
#include "profiles.h"

#include <string.h>
#include <sys/resource.h>

const char *prof_phase_name(int phase)
{
    static const char *names[] = {
#define PROF_PHASE_NAME(name, text) text,
        PROF_PHASE_MAP(PROF_PHASE_NAME)
#undef PROF_PHASE_NAME
    };
    if (phase < 0 || phase >= PROF_NPHASE) return "unknown";
    return names[phase];
}

void prof_timer_init(prof_timer *t)
{
    memset(t, 0, sizeof *t);
    t->current = -1;
}

void prof_timer_stop(prof_timer *t)
{
    if (t->current < 0) return;
    double w = ib_now(), c = ib_cpu_thread();
    t->wall[t->current] += w - t->t0_wall;
    t->cpu[t->current] += c - t->t0_cpu;
    t->current = -1;
}

void prof_timer_switch(prof_timer *t, int p)
{
    double w = ib_now(), c = ib_cpu_thread();
    if (t->current >= 0) {
        t->wall[t->current] += w - t->t0_wall;
        t->cpu[t->current] += c - t->t0_cpu;
    }
    t->current = p;
    t->t0_wall = w;
    t->t0_cpu = c;
}

void prof_timer_merge(prof_timer *dst, const prof_timer *src)
{
    for (int i = 0; i < PROF_NPHASE; i++) {
        dst->wall[i] += src->wall[i];
        dst->cpu[i] += src->cpu[i];
    }
}

void prof_rusage_get(prof_rusage *r)
{
    struct rusage ru;
    memset(r, 0, sizeof *r);
    if (getrusage(RUSAGE_SELF, &ru) != 0) return;
    r->max_rss_bytes = (double)ru.ru_maxrss * 1024.0;
    r->minor_faults = (double)ru.ru_minflt;
    r->major_faults = (double)ru.ru_majflt;
    r->vol_ctx_switches = (double)ru.ru_nvcsw;
    r->invol_ctx_switches = (double)ru.ru_nivcsw;
    r->in_blocks = (double)ru.ru_inblock;
    r->out_blocks = (double)ru.ru_oublock;
    r->user_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec;
    r->sys_s = (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}
