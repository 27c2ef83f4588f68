/*
 * tasks.c: what a run records about its own work. Each thread closes one
 * task event per phase interval (img__phase: rank, thread, task, channel,
 * phase, start, end); at the end rank 0 gathers every rank's events into
 * OUT/tasks.csv, and each rank sums its threads' counters and timings into
 * its img_rank_stats.
 */
#include "imaging/plan_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Close the open phase as a task event and open phase p (already in p:
 * nothing to do). The event carries the task and channel labels as they
 * are when it closes, so callers switch phase first, then relabel. The
 * event array grows between phases, never inside the gridding loop; if it
 * cannot grow the event is counted as dropped, the run goes on. */
void img__phase(img__worker *w, int p)
{
    prof_timer *t = &w->timer;
    if (p >= 0 && p == t->current) return;
    if (t->current >= 0) {
        if (w->nevents == w->cap_events) {
            size_t nc = w->cap_events ? 2 * w->cap_events : 1024;
            img__task_event *ne = realloc(w->events, nc * sizeof *ne);
            if (ne) {
                w->events = ne;
                w->cap_events = nc;
            }
        }
        if (w->nevents < w->cap_events) {
            double now = ib_now();
            const double origin = w->plan->origin;
            w->events[w->nevents++] =
                (img__task_event){w->plan->par->rank, w->id, w->cur_chunk, w->cur_chan, t->current,
                                  0, t->t0_wall - origin, now - origin};
        } else {
            w->events_dropped++;
        }
    }
    if (p < 0) prof_timer_stop(t);
    else prof_timer_switch(t, p);
}

/* This rank's figures from its n workers, the main thread's timer and
 * the run's wall time. */
static void rank_stats(img_rank_stats *rs, const img_plan *pl, const img__worker *ws, int n,
                       const prof_timer *main_t, double wall)
{
    memset(rs, 0, sizeof *rs);
    rs->rank = pl->par->rank;
    rs->threads = pl->p->threads;
    for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
        rs->phase_wall[i] = main_t->wall[i];
        rs->phase_cpu[i] = main_t->cpu[i];
    }
    for (int t = 0; t < n; t++) {
        for (int i = 0; i < PROF_NPHASE && i < IMG_MAX_PHASES; i++) {
            rs->phase_wall[i] += ws[t].timer.wall[i];
            rs->phase_cpu[i] += ws[t].timer.cpu[i];
            if (i != PROF_SCHED && i != PROF_WAIT) rs->busy_s += ws[t].timer.wall[i];
        }
        rs->samples += ws[t].samples;
        rs->dropped += ws[t].dropped;
        rs->bytes_read += ws[t].bytes_read;
        rs->sched_s += ws[t].sched_s;
        rs->tasks += ws[t].ntasks;
        rs->events += ws[t].nevents;
        rs->events_dropped += ws[t].events_dropped;
        rs->spill_bytes += ws[t].spill_bytes;
        rs->spill_files += ws[t].spill_files;
        rs->spill_write_s += ws[t].spill_write_s;
        rs->spill_read_s += ws[t].spill_read_s;
    }
    rs->peak_tracked = pl->peak_tracked;
    rs->budget = pl->budget;
    rs->comm = pl->comm.st;
    rs->wall_s = wall;
    rs->setup_s = pl->setup_s;
    prof_rusage ru;
    prof_rusage_get(&ru);
    rs->peak_rss = ru.max_rss_bytes;
}

int img__stats_gather(ib_err *e, img_plan *pl, const prof_timer *main_t, img_result *res)
{
    const int root = pl->par->rank == 0, N = pl->par->size;
    img_rank_stats mine, scratch;
    rank_stats(&mine, pl, pl->workers, pl->nworkers, main_t, res->wall_seconds);
    res->nranks = N;
    res->ranks = root ? ib_calloc((size_t)N, sizeof *res->ranks) : NULL;
    if (root && !res->ranks)
        return ib_nomem(e, "gathering the ranks' statistics", (double)N * sizeof *res->ranks);
    int rc = img__gather(e, &pl->comm, &mine, sizeof mine, root ? (void *)res->ranks : &scratch);
    if (rc || !root) return rc;
    for (int r = 0; r < N; r++) {
        const img_rank_stats *rs = &res->ranks[r];
        for (int i = 0; i < IMG_MAX_PHASES; i++) {
            res->phase_wall[i] += rs->phase_wall[i];
            res->phase_cpu[i] += rs->phase_cpu[i];
        }
        if (r > 0) { /* rank 0's own are in res already */
            res->samples_gridded += rs->samples;
            res->samples_dropped += rs->dropped;
            res->bytes_read += rs->bytes_read;
        }
        res->sched_s += rs->sched_s;
        res->spill_bytes += rs->spill_bytes;
        res->spill_files += rs->spill_files;
        res->spill_write_s += rs->spill_write_s;
        res->spill_read_s += rs->spill_read_s;
        if (rs->peak_tracked > res->peak_tracked) res->peak_tracked = rs->peak_tracked;
        res->tasks += rs->tasks;
        if (rs->peak_rss > res->peak_rss_bytes) res->peak_rss_bytes = rs->peak_rss;
    }
    return 0;
}

/* Gather every thread's task events on rank 0 and write OUT/tasks.csv
 * (rank,thread,chunk,chan,phase,start,end), atomically. */
/* A tasks.csv.tmp a killed imager left: empty or our header. */
static int tasks_tmp_ours(int fd)
{
    char head[5];
    ssize_t n = pread(fd, head, sizeof head, 0);
    return n == 0 || (n == (ssize_t)sizeof head && memcmp(head, "rank,", 5) == 0);
}

int img__tasks_write(ib_err *e, img_plan *pl, const img__worker *ws, int n, img_result *res)
{
    size_t mine = 0;
    for (int t = 0; t < n; t++) mine += ws[t].nevents;
    if (mine > (size_t)(INT32_MAX / sizeof(img__task_event)))
        return ib_error(e, IB_EOVERFLOW, "rank %d: too many task events (%zu)", pl->par->rank,
                        mine);
    img__task_event *buf = ib_malloc((mine + 1) * sizeof *buf);
    if (!buf) return ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    size_t k = 0;
    for (int t = 0; t < n; t++) {
        memcpy(buf + k, ws[t].events, ws[t].nevents * sizeof *buf);
        k += ws[t].nevents;
    }
    int N = pl->par->size, bytes = (int)(mine * sizeof *buf), rc = 0;
    int *counts = ib_calloc((size_t)N, sizeof(int)), *displs = ib_calloc((size_t)N, sizeof(int));
    img__task_event *all = NULL;
    size_t total = 0;
    if (!counts || !displs) rc = ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    if (!rc) rc = img__gather(e, &pl->comm, &bytes, sizeof bytes, counts);
    if (!rc && pl->par->rank == 0) {
        for (int r = 0; r < N; r++) {
            displs[r] = (int)(total * sizeof *buf);
            total += (size_t)counts[r] / sizeof *buf;
        }
        if (total * sizeof *buf > (size_t)INT32_MAX)
            rc = ib_error(e, IB_EOVERFLOW, "too many task events (%zu)", total);
        else if (!(all = ib_malloc((total + 1) * sizeof *all)))
            rc = ib_error(e, IB_ENOMEM, "out of memory gathering task events");
    }
    if (N > 1) {
        /* Every rank must enter the collective, even after a local error. */
        int bad = rc != 0;
        if (img__allreduce_max_int(e, &pl->comm, &bad)) bad = 1;
        if (bad) {
            free(buf); free(counts); free(displs); free(all);
            return rc ? rc : ib_error(e, IB_EMPI, "rank %d: task gathering failed elsewhere",
                                      pl->par->rank);
        }
    }
    if (!rc) rc = img__gatherv(e, &pl->comm, buf, bytes, all, counts, displs);
    if (!rc && pl->par->rank == 0) {
        char path[4096], tmp[4200];
        if (!(rc = ib_path_join(e, path, sizeof path, pl->p->out_dir, "tasks.csv"))) {
            int fd = -1, slot = -1;
            FILE *f = NULL;
            rc = ib_path_fmt(e, tmp, sizeof tmp, "%s.tmp", path);
            if (!rc) rc = ib_create_excl(e, "tasks", tmp, 0644, tasks_tmp_ours, &fd, &slot);
            if (!rc) {
                f = fdopen(fd, "w");
                if (!f) {
                    rc = ib_error(e, IB_ENOMEM, "tasks '%s': cannot open a stream: %s", tmp,
                                  strerror(errno));
                    close(fd);
                    unlink(tmp);
                }
            }
            if (f) {
                fprintf(f, "rank,thread,chunk,chan,phase,start,end\n");
                for (size_t i = 0; i < total; i++)
                    fprintf(f, "%d,%d,%d,%d,%s,%.9f,%.9f\n", all[i].rank, all[i].thread,
                            all[i].chunk, all[i].chan, prof_phase_name(all[i].phase),
                            all[i].start, all[i].end);
                int err = 0;
                if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0) err = errno ? errno : EIO;
                if (fclose(f) != 0 && !err) err = errno ? errno : EIO;
                if (err)
                    rc = ib_error(e, err == ENOSPC ? IB_ENOSPACE : IB_EIO,
                                  "tasks '%s': cannot write: %s", tmp, strerror(err));
                else if (rename(tmp, path) != 0)
                    rc = ib_error(e, IB_EIO, "tasks '%s': cannot rename into place", path);
                if (rc) unlink(tmp);
            }
            ib_tmp_drop(slot);
        }
        /* Derived figures: per thread busy time and the span of the run. */
        double span = 0;
        for (size_t i = 0; i < total; i++) span = all[i].end > span ? all[i].end : span;
        res->task_events = total;
        res->task_span_s = span;
    }
    free(buf);
    free(counts);
    free(displs);
    free(all);
    return rc;
}

/* Publish a finished chunk's figures as software-defined events: once per
 * chunk, never per visibility. */
void img__sde_task(img__worker *w, uint64_t samples0, uint64_t bytes0, uint64_t spill0,
                   uint64_t files0, int64_t nc)
{
    prof_sde *s = w->plan->p->sde;
    if (!s) return;
    uint64_t ds = w->samples - samples0;
    prof_sde_add(s, PROF_SDE_SAMPLES_GRIDDED, (long long)ds);
    prof_sde_add(s, PROF_SDE_VIS_GRIDDED, (long long)(ds / (uint64_t)w->plan->npol));
    prof_sde_add(s, PROF_SDE_CHUNKS_DONE, 1);
    prof_sde_add(s, PROF_SDE_BYTES_READ, (long long)(w->bytes_read - bytes0));
    prof_sde_add(s, PROF_SDE_SPILL_BYTES, (long long)(w->spill_bytes - spill0));
    prof_sde_add(s, PROF_SDE_SPILL_FILES, (long long)(w->spill_files - files0));
    (void)nc; /* bytes_written: counted by fits.c as each plane of every product is written */
}
