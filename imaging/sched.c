/*
 * sched.c: which task runs where. Channel chunks (and row chunks) go to
 * ranks by the schedule: static deals them cyclically, locality gives each
 * rank a contiguous share of the channels (or rows), both without
 * messages; dynamic has rank 0 hand them out first come, first served,
 * answered by its service thread (img__sched_serve), which also writes the
 * planes other ranks send under --serial-write. Inside a rank threads take
 * the rank's tasks from an atomic counter.
 */
#include "imaging/plan_internal.h"

#include <stdlib.h>
#include <string.h>

/* Which chunks this rank takes under static (cyclic) and locality
 * (contiguous channel ownership) scheduling. */
int img__sched_assign(ib_err *e, img_plan *pl)
{
    int N = pl->par->size, r = pl->par->rank;
    pl->my_chunks = ib_malloc(sizeof(int) * (size_t)pl->nchunks);
    if (!pl->my_chunks)
        return ib_nomem(e, "for the chunk assignment", (double)sizeof(int) * pl->nchunks);
    pl->n_my_chunks = 0;
    for (int c = 0; c < pl->nchunks; c++) {
        int owner;
        if (N == 1) owner = 0;
        else if (pl->p->schedule == IMG_SCHED_LOCALITY)
            /* The rank whose share of the channel axis holds the chunk's
             * first channel: no messages, but uneven loads when the chunk
             * boundaries do not fall on the shares' (the auto-restrictor's
             * trade-off). */
            owner = (int)(pl->chunk_chan0[c] * N / pl->nchan);
        else
            owner = c % N;
        if (owner == r) pl->my_chunks[pl->n_my_chunks++] = c;
    }
    return 0;
}

/* Row chunks: this rank's share of them (static: cyclic; locality: the
 * rank's contiguous part of the rows, where its data lives; dynamic: rank
 * 0 hands them out) and the task counters of each (pass, chunk). */
int img__sched_assign_rows(ib_err *e, img_plan *pl)
{
    const int N = pl->par->size, r = pl->par->rank, M = pl->row_chunks;
    pl->my_row_chunks = ib_malloc(sizeof(int) * (size_t)M);
    pl->row_task_next = ib_calloc(2 * (size_t)pl->nchunks, sizeof(atomic_int));
    if (!pl->my_row_chunks || !pl->row_task_next)
        return ib_nomem(e, "for the row-chunk assignment",
                        (double)sizeof(int) * M + 2.0 * pl->nchunks * sizeof(atomic_int));
    pl->n_my_row_chunks = 0;
    for (int j = 0; j < M; j++) {
        int owner = N == 1 ? 0
                    : pl->p->schedule == IMG_SCHED_LOCALITY
                        ? (int)(pl->row_chunk0[j] * N / pl->nrow)
                        : j % N;
        if (owner == r) pl->my_row_chunks[pl->n_my_row_chunks++] = j;
    }
    for (size_t i = 0; i < 2 * (size_t)pl->nchunks; i++) atomic_init(&pl->row_task_next[i], 0);
    return 0;
}

/* Dynamic schedule: do remote ranks ask for a chunk ahead of need while
 * this many are left to hand out? Only while more than one per thread of
 * every rank remain: near the end a chunk reserved ahead could leave
 * another rank idle while its holder still has two to image. */
static int ask_ahead(const img_plan *pl, int left)
{
    return left > pl->par->size * pl->p->threads;
}

/* Ask rank 0 for a chunk: the request sent and its reply posted
 * (w->req), waited for by remote_chunk. */
static int request_chunk(img__worker *w)
{
    img_plan *pl = w->plan;
    ib_err e;
    ib_err_init(&e);
    int32_t req[2] = {w->id, 0}; /* thread, task key (row chunks) */
    if (img__send(&e, &pl->comm, req, sizeof req, 0, IMG__TAG_REQ) ||
        img__irecv(&e, &pl->comm, w->reply, sizeof w->reply, 0, IMG__TAG_REPLY + w->id,
                   &w->req)) {
        img__fail(pl, &e);
        return -1;
    }
    w->req_pending = 1;
    return 0;
}

/*
 * The dynamic schedule on a rank other than 0, after the first round. A
 * request stays in flight while many chunks are left: the reply for the
 * next chunk arrives while this one is imaged, so the round trip to rank
 * 0 is hidden behind the work; near the end each chunk is asked for when
 * the last is done.
 */
static int remote_chunk(img__worker *w)
{
    img_plan *pl = w->plan;
    if (w->no_more) return -1; /* told with the last chunk: nothing to ask for */
    if (!w->req_pending && request_chunk(w)) return -1;
    w->req_pending = 0;
    ib_err e;
    ib_err_init(&e);
    if (img__wait(&e, &pl->comm, &w->req)) {
        img__fail(pl, &e);
        return -1;
    }
    int c = w->reply[0];
    if (c >= pl->nchunks) {
        ib_error(&e, IB_EMPI, "rank %d: chunk %d from rank 0 is out of range", pl->par->rank, c);
        img__fail(pl, &e);
        return -1;
    }
    w->no_more = c >= 0 && w->reply[1] == 0;
    if (c >= 0 && ask_ahead(pl, w->reply[1]) && request_chunk(w)) return -1;
    return c;
}

/*
 * The next chunk for worker w, or -1 when there is none. static and
 * locality walk this rank's precomputed list; dynamic asks rank 0, which
 * hands out chunks first come, first served (its own threads take them
 * from the shared counter directly). The time spent here is the
 * scheduler's overhead, recorded per task.
 */
int img__next_chunk(img__worker *w)
{
    img_plan *pl = w->plan;
    img__phase(w, PROF_SCHED);
    w->cur_chunk = -1;
    w->cur_chan = -1;
    double t0 = ib_now();
    int c = -1;
    if (pl->p->schedule != IMG_SCHED_DYNAMIC || pl->par->size == 1) {
        int i = atomic_fetch_add(&pl->my_next_chunk, 1);
        c = i < pl->n_my_chunks ? pl->my_chunks[i] : -1;
    } else if (!w->started) {
        /* The first round is dealt without messages: thread t of rank r
         * starts on chunk r*T + t; rank 0's counter starts after them. */
        w->started = 1;
        c = pl->par->rank * pl->p->threads + w->id;
        if (c >= pl->nchunks) c = -1;
        if (c >= 0 && pl->par->rank != 0 && request_chunk(w)) return -1;
    } else if (pl->par->rank == 0) {
        c = atomic_fetch_add(&pl->next_chunk, 1);
        if (c >= pl->nchunks) c = -1;
    } else {
        c = remote_chunk(w);
    }
    w->sched_s += ib_now() - t0;
    if (c >= 0) w->ntasks++;
    return c;
}

int img__chunk_owner(const img_plan *pl, int c) { return c % pl->par->size; }

/* The next row task of (pass, channel chunk c) for w, or -1. */
int img__next_row_task(img__worker *w, int pass, int c)
{
    img_plan *pl = w->plan;
    img__phase(w, PROF_SCHED);
    w->cur_chunk = -1;
    w->cur_chan = -1;
    double t0 = ib_now();
    int key = pass * pl->nchunks + c, j;
    if (pl->p->schedule != IMG_SCHED_DYNAMIC || pl->par->size == 1) {
        int i = atomic_fetch_add(&pl->row_task_next[key], 1);
        j = i < pl->n_my_row_chunks ? pl->my_row_chunks[i] : -1;
    } else if (pl->par->rank == 0) {
        j = atomic_fetch_add(&pl->row_task_next[key], 1);
        if (j >= pl->row_chunks) j = -1;
    } else {
        ib_err e;
        ib_err_init(&e);
        int32_t req[2] = {w->id, key};
        if (img__send(&e, &pl->comm, req, sizeof req, 0, IMG__TAG_REQ) ||
            img__recv(&e, &pl->comm, w->reply, sizeof w->reply, 0, IMG__TAG_REPLY + w->id, NULL,
                      NULL)) {
            img__fail(pl, &e);
            return -1;
        }
        j = w->reply[0];
        if (j >= pl->row_chunks) {
            ib_error(&e, IB_EMPI, "rank %d: row task %d from rank 0 is out of range",
                     pl->par->rank, j);
            img__fail(pl, &e);
            return -1;
        }
    }
    w->sched_s += ib_now() - t0;
    if (j >= 0) w->ntasks++;
    return j;
}

/*
 * Rank 0's service thread (dynamic scheduling or serial writes with more
 * than one rank): answers chunk requests, writes the planes other ranks
 * send, and ends when every other rank has said it is done.
 */
void *img__sched_serve(void *arg)
{
    img_plan *pl = arg;
    ib_err e;
    ib_err_init(&e);
    int done = 0;
    long nap_ns = 0;
    /* Remote worker threads that may still ask for a chunk: each stops
     * after the answer that gives the last chunk or says none is left. */
    int asking = (pl->par->size - 1) * pl->p->threads;
    size_t n = (size_t)pl->nx * (size_t)pl->ny;
    float *buf = ib_malloc((n + 4) * sizeof(float));
    if (!buf) {
        ib_error(&e, IB_ENOMEM, "rank 0: out of memory for the plane server");
        img__fail(pl, &e);
        return NULL;
    }
    while (done < pl->par->size - 1) {
        int from, tag, bytes;
        /* Naps of up to 1 ms while chunks are asked for ahead of need and
         * once every remote thread has had its last answer (what is left
         * is "done"); of 50 us while a rank may be idle waiting for its
         * answer: near the end, for row tasks and for each plane a rank
         * sends to be written here. Every wake-up takes the core from one
         * of this rank's workers. */
        int left = pl->nchunks - atomic_load(&pl->next_chunk);
        long nap = 50000;
        if (pl->row_chunks == 1 && !pl->p->serial_write && (ask_ahead(pl, left) || asking == 0))
            nap = 1000000;
        if (img__probe(&e, &pl->comm, &nap_ns, nap, &from, &tag, &bytes)) break;
        if (tag < 0) continue; /* nothing yet: the nap is chosen again */
        if (tag == IMG__TAG_REQ) {
            int32_t rq[2], c;
            if (bytes != (int)sizeof rq) {
                ib_error(&e, IB_EMPI, "rank 0: request of %d bytes from rank %d", bytes, from);
                break;
            }
            if (img__recv(&e, &pl->comm, rq, sizeof rq, from, IMG__TAG_REQ, NULL, NULL)) break;
            int32_t ntask; /* tasks of the kind asked for */
            if (pl->row_chunks > 1) {
                /* row chunks: the next row task of (pass, channel chunk) rq[1] */
                if (rq[1] < 0 || rq[1] >= 2 * pl->nchunks) {
                    ib_error(&e, IB_EMPI, "rank 0: bad task key %d from rank %d", rq[1], from);
                    break;
                }
                c = atomic_fetch_add(&pl->row_task_next[rq[1]], 1);
                ntask = pl->row_chunks;
            } else {
                c = atomic_fetch_add(&pl->next_chunk, 1);
                ntask = pl->nchunks;
            }
            int32_t rep[2] = {c < ntask ? c : -1, c < ntask ? ntask - c - 1 : 0}; /* task, left */
            if (img__send(&e, &pl->comm, rep, sizeof rep, from, IMG__TAG_REPLY + rq[0])) break;
            /* the last chunk or "none": that thread's last answer */
            if (pl->row_chunks == 1 && rep[1] == 0) asking--;
        } else if (tag == IMG__TAG_PLANE) {
            if (bytes != (int)((n + 4) * sizeof(float))) {
                ib_error(&e, IB_EMPI, "rank 0: plane message of %d bytes from rank %d", bytes,
                         from);
                break;
            }
            if (img__recv(&e, &pl->comm, buf, bytes, from, IMG__TAG_PLANE, NULL, NULL)) break;
            int32_t hdr[4];
            memcpy(hdr, buf, sizeof hdr);
            if (hdr[0] < 0 || hdr[0] >= pl->nchan || hdr[1] < 0 || hdr[1] >= pl->npol) {
                ib_error(&e, IB_EMPI, "rank 0: bad plane header from rank %d", from);
                break;
            }
            if (hdr[2] < 0 || hdr[2] >= IMG_NPROD || !pl->cube[hdr[2]]) {
                ib_error(&e, IB_EMPI, "rank 0: bad product %d from rank %d", hdr[2], from);
                break;
            }
            if (img__fits_write_plane(&e, pl->cube[hdr[2]], hdr[0], hdr[1], buf + 4))
                break;
        } else if (tag == IMG__TAG_DONE) {
            int32_t x;
            if (img__recv(&e, &pl->comm, &x, sizeof x, from, IMG__TAG_DONE, NULL, NULL)) break;
            done++;
        } else {
            ib_error(&e, IB_EMPI, "rank 0: unexpected message tag %d from rank %d", tag, from);
            break;
        }
    }
    if (e.code) img__fail(pl, &e);
    free(buf);
    return NULL;
}
