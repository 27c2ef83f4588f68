/*
 * workload.c: what a recorded cell costs, per channel — the task events of
 * one attempt folded onto the channels they worked on, with the transfer
 * part of reads and writes taken out (the replay puts it back as I/O on
 * the simulated platform) and the recording's core contention divided
 * out — and the same resized and re-chunked for other cube shapes.
 */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *sim_phase_name(int phase)
{
    static const char *const names[] = {
#define SIM_PHASE_NAME(name, text) text,
        SIM_PHASE_MAP(SIM_PHASE_NAME)
#undef SIM_PHASE_NAME
    };
    return phase >= 0 && phase < SIM_NPHASE ? names[phase] : "unknown";
}

int sim_phase_parse(const char *name)
{
    for (int i = 0; i < SIM_NPHASE; i++)
        if (strcmp(sim_phase_name(i), name) == 0) return i;
    return -1;
}

void sim_workload_release(sim_workload *w)
{
    if (!w) return;
    free(w->chan);
    free(w->chunk0);
    memset(w, 0, sizeof *w);
}

/* First and last channel (exclusive) of every chunk seen in the events;
 * chunk numbers are 0..nchunks-1. */
typedef struct span {
    int lo, hi;
} span;

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Channels and chunks named by the events: nchan = 1 + the largest
 * channel, the chunking from each chunk's channels. */
static int shape(ib_err *e, const sim_recorded *r, sim_workload *w, span **spans_out)
{
    int maxchunk = -1, maxchan = -1;
    for (size_t i = 0; i < r->nev; i++) {
        if (r->ev[i].chunk > maxchunk) maxchunk = r->ev[i].chunk;
        if (r->ev[i].chan > maxchan) maxchan = r->ev[i].chan;
    }
    if (maxchunk < 0 || maxchan < 0)
        return ib_error(e, IB_EINVAL, "the attempt has no task events that name a chunk");
    if (maxchunk >= 10000000 || maxchan >= 100000000)
        return ib_error(e, IB_EINVAL, "task events name chunk %d or channel %d: too many",
                        maxchunk, maxchan);
    span *sp = calloc((size_t)maxchunk + 1, sizeof *sp);
    if (!sp) return ib_error(e, IB_ENOMEM, "out of memory");
    for (int c = 0; c <= maxchunk; c++) sp[c] = (span){maxchan + 1, -1};
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        if (v->chunk < 0 || v->chunk > maxchunk || v->chan < 0) continue;
        if (v->chan < sp[v->chunk].lo) sp[v->chunk].lo = v->chan;
        if (v->chan + 1 > sp[v->chunk].hi) sp[v->chunk].hi = v->chan + 1;
    }
    int n = 0;
    for (int c = 0; c <= maxchunk; c++)
        if (sp[c].hi > sp[c].lo) sp[n++] = sp[c];
    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    w->nchan = maxchan + 1;
    w->nchunks = n;
    w->chan = calloc((size_t)w->nchan, sizeof *w->chan);
    w->chunk0 = malloc(sizeof(int) * ((size_t)n + 1));
    if (!w->chan || !w->chunk0) {
        free(sp);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    /* A chunk runs to the next one's first channel, so every channel is
     * in exactly one chunk even where a channel had no events. */
    for (int c = 0; c < n; c++) w->chunk0[c] = c == 0 ? 0 : sp[c].lo;
    w->chunk0[n] = w->nchan;
    *spans_out = sp;
    return 0;
}

int sim_workload_build(ib_err *e, const sim_recorded *r, const sim_platform *here,
                       sim_workload *w)
{
    memset(w, 0, sizeof *w);
    if (!r->nev) return ib_error(e, IB_EINVAL, "the attempt has no task events");
    span *sp = NULL;
    int rc = shape(e, r, w, &sp);
    if (rc) {
        sim_workload_release(w);
        return rc;
    }
    /* chunk number -> its first channel and width, for reads */
    int maxchunk = w->nchunks - 1; /* shape() found chunks 0..maxchunk */
    for (size_t i = 0; i < r->nev; i++)
        if (r->ev[i].chunk > maxchunk) maxchunk = r->ev[i].chunk;
    int *lo = maxchunk < 0 ? NULL : malloc(sizeof(int) * ((size_t)maxchunk + 1) * 2);
    if (!lo) {
        free(sp);
        sim_workload_release(w);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    int *hi = lo + maxchunk + 1;
    for (int c = 0; c <= maxchunk; c++) lo[c] = hi[c] = -1;
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        if (v->chunk < 0 || v->chunk > maxchunk || v->chan < 0) continue;
        if (lo[v->chunk] < 0 || v->chan < lo[v->chunk]) lo[v->chunk] = v->chan;
        if (v->chan + 1 > hi[v->chunk]) hi[v->chunk] = v->chan + 1;
    }
    free(sp);
    int busy = r->ranks * r->threads;
    if (busy > here->cores) busy = here->cores;
    double slow = 1.0 + here->contention * (busy > 1 ? busy - 1 : 0);
    double sched = 0, first = INFINITY, last = 0;
    int ntasks = 0;
    for (size_t i = 0; i < r->nev; i++) {
        const sim_event *v = &r->ev[i];
        double d = v->t1 - v->t0;
        if (v->t0 < first) first = v->t0;
        if (v->t1 > last) last = v->t1;
        if (!(d > 0)) continue;
        if (v->phase == SIM_SCHED) {
            sched += d;
            continue;
        }
        if (v->chunk < 0 || v->chunk > maxchunk || v->chan < 0 || v->chan >= w->nchan ||
            v->phase < 0 || v->phase >= SIM_NPHASE)
            continue;
        if (v->phase == SIM_READ) {
            int n = hi[v->chunk] - lo[v->chunk];
            for (int ch = lo[v->chunk]; ch < hi[v->chunk]; ch++)
                w->chan[ch].cost[SIM_READ] += d / slow / n;
        } else {
            w->chan[v->chan].cost[v->phase] += d / slow;
        }
    }
    for (int c = 0; c <= maxchunk; c++) ntasks += lo[c] >= 0;
    free(lo);
    /* Bytes: spread evenly over the channels (every channel of a cube
     * has the same rows and the same planes); their transfer at the
     * recording machine's bandwidths comes off the phase's seconds. */
    double rb = r->bytes_read > 0 ? r->bytes_read / w->nchan : 0;
    double wb = r->bytes_written > 0 ? r->bytes_written / w->nchan : 0;
    for (int ch = 0; ch < w->nchan; ch++) {
        sim_chan *c = &w->chan[ch];
        c->read_bytes = rb;
        c->write_bytes = wb;
        c->cost[SIM_READ] = fmax(0, c->cost[SIM_READ] - rb / here->fs_read_bw);
        c->cost[SIM_WRITE] = fmax(0, c->cost[SIM_WRITE] - wb / here->fs_write_bw);
    }
    w->sched_s = ntasks ? sched / ntasks : 0;
    w->setup_s = r->setup_s > 0 ? r->setup_s : 0;
    w->start_s = isfinite(first) && first > 0 ? first : 0;
    w->tail_s = fmax(0, r->wall_s - w->setup_s - last);
    w->rec_ranks = r->ranks;
    w->rec_threads = r->threads;
    w->rec_wall_s = r->wall_s;
    return 0;
}

/* What grows with the samples (1) or with the image (0). */
static int with_rows(int phase)
{
    return phase == SIM_READ || phase == SIM_WEIGHT || phase == SIM_KERNEL || phase == SIM_GRID;
}

int sim_workload_scale(ib_err *e, sim_workload *w, int nchan, double rows, double pixels,
                       int nchunks)
{
    if (nchan < 1 || !(rows > 0) || !(pixels > 0) || nchunks < 0)
        return ib_error(e, IB_EINVAL, "cannot scale a workload to %d channels (x%g rows, x%g "
                        "pixels, %d chunks)", nchan, rows, pixels, nchunks);
    if (!nchunks) nchunks = w->nchunks;
    if (nchunks > nchan)
        return ib_error(e, IB_EINVAL, "chunks must be at most the %d channels, got %d", nchan,
                        nchunks);
    sim_chan *ch = calloc((size_t)nchan, sizeof *ch);
    int *c0 = malloc(sizeof(int) * ((size_t)nchunks + 1));
    if (!ch || !c0) {
        free(ch);
        free(c0);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    for (int i = 0; i < nchan; i++) {
        ch[i] = w->chan[i % w->nchan];
        for (int p = 0; p < SIM_NPHASE; p++) ch[i].cost[p] *= with_rows(p) ? rows : pixels;
        ch[i].read_bytes *= rows;
        ch[i].write_bytes *= pixels;
    }
    /* even chunks, as the imager cuts them: chunk c starts at c*nchan/n */
    for (int c = 0; c <= nchunks; c++) c0[c] = (int)((int64_t)c * nchan / nchunks);
    free(w->chan);
    free(w->chunk0);
    w->chan = ch;
    w->chunk0 = c0;
    w->nchan = nchan;
    w->nchunks = nchunks;
    return 0;
}
