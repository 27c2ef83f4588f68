/*
 * spill.c: where a finished plane goes, and the memory budget. Without a
 * budget a plane is written to its cube at once (or, with serial writes on
 * a rank other than 0, sent to rank 0). With --mem-budget a chunk is a
 * task whose planes are held until it commits: in memory while the rank's
 * tracked working set stays under the spill fraction, else in the thread's
 * spill file, read back at commit; past the pause fraction a thread waits
 * before starting another chunk.
 */
#include "imaging/plan_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The memory model: every thread's fixed buffers (slab of the largest
 * chunk, sample list, grid, half-spectrum, plane) are tracked from the
 * start; with a budget, a chunk's planes are added as they are held. If
 * the fixed part alone passes the pause fraction no schedule can run:
 * that is an error before any work, naming the sizes.
 */
int img__budget_setup(ib_err *e, img_plan *pl)
{
    const img_params *p = pl->p;
    size_t es = p->dbl ? 8 : 4, np = (size_t)pl->npol, nr = (size_t)pl->slab_rows;
    uint64_t slab = (uint64_t)nr * (uint64_t)pl->max_chunk_chans * (uint64_t)pl->npol_in * 13;
    uint64_t list = (uint64_t)nr * (12 + 2 * es + 3 * es * np);
    uint64_t grid = (uint64_t)pl->ngx * (uint64_t)pl->ngy * np * 2 * es;
    uint64_t half = (uint64_t)pl->ngy * (uint64_t)(pl->ngx / 2 + 1) * 2 * es;
    if (pl->facet && !p->psf) grid = half = 0; /* facets: the full grid only for the PSF */
    pl->plane_bytes = (uint64_t)pl->nx * (uint64_t)pl->ny * sizeof(float);
    if (pl->row_chunks > 1) {
        /* Row chunks: no grid of its own, but the chunk's summed grids,
         * weight sums and (uniform / Briggs) densities. Sizes that pass
         * 2^50 bytes cannot be allocated: said here, before any work. */
        double acc = (double)pl->max_chunk_chans * pl->grids_per_chan * (double)grid +
                     (double)pl->max_chunk_chans * (double)pl->wsums_per_chan * 8.0 +
                     (p->weighting != IMG_WEIGHT_NATURAL
                          ? (double)pl->max_chunk_chans * (double)pl->plane_bytes : 0.0);
        if (acc > 0x1p50)
            return ib_error(e, IB_EOVERFLOW,
                            "a chunk of %lld channels needs %.3g bytes of grids per thread with "
                            "row chunks; use more --chunks", (long long)pl->max_chunk_chans, acc);
        grid = (uint64_t)acc;
    }
    uint64_t per_thread = slab + list + grid + half + pl->plane_bytes;
    if (p->weighting != IMG_WEIGHT_NATURAL) per_thread += pl->plane_bytes;
    if (pl->mosaic) {
        uint64_t ktab = 16 * ((uint64_t)pl->grid_support * (uint64_t)pl->ktab_over + 1);
        per_thread += 2 * pl->plane_bytes;
        if (pl->facet) per_thread += img__facet_bytes(pl);
        else per_thread += ktab * (uint64_t)(pl->n_offs_x + pl->n_offs_y);
    }
    pl->base_bytes = per_thread * (uint64_t)p->threads;
    pl->tracked = pl->peak_tracked = pl->base_bytes;
    pl->budget = p->mem_budget;
    if (!pl->budget) return 0;
    if (!(p->mem_target > 0 && p->mem_target <= p->mem_spill && p->mem_spill <= p->mem_pause &&
          p->mem_pause <= 1.0))
        return ib_error(e, IB_EINVAL,
                        "memory fractions must satisfy 0 < target <= spill <= pause <= 1, got "
                        "%g, %g, %g", p->mem_target, p->mem_spill, p->mem_pause);
    if ((double)pl->base_bytes > p->mem_pause * (double)pl->budget)
        return ib_error(e, IB_EINVAL,
                        "--mem-budget %llu bytes cannot hold the minimum working set: %d "
                        "thread(s) x %llu bytes (slab of %lld rows x a %lld-channel chunk %llu, "
                        "grids %llu, sample list %llu, planes %llu) = %llu bytes; use more "
                        "chunks, more row chunks, fewer threads or a larger budget",
                        (unsigned long long)pl->budget, p->threads,
                        (unsigned long long)per_thread, (long long)pl->slab_rows,
                        (long long)pl->max_chunk_chans,
                        (unsigned long long)slab, (unsigned long long)(grid + half),
                        (unsigned long long)list, (unsigned long long)pl->plane_bytes,
                        (unsigned long long)pl->base_bytes);
    /* Spill files go to a directory of this process's own, made by
     * mkdtemp under --spill-dir (default OUT/spill): processes sharing a
     * spill directory (ranks, other imagers) never meet, and a name planted
     * in advance cannot be followed. A killed run's directory is removed by
     * the next run under the same parent (ib_run_dir_create). */
    char *parent = pl->spill_parent;
    if (p->spill_dir) {
        if (ib_path_fmt(e, parent, sizeof pl->spill_parent, "%s", p->spill_dir)) return e->code;
    } else if (ib_path_join(e, parent, sizeof pl->spill_parent, p->out_dir, "spill")) {
        return e->code;
    }
    struct stat st;
    if (stat(parent, &st) != 0) {
        int rc = ib_mkdir_p(e, parent);
        if (rc) return rc;
        pl->made_spill_dir = 1;
        pl->spill_parent_slot = ib_tmp_add(parent, IB_TMP_EMPTY_DIR);
    }
    /* made and registered with no signal in between */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = ib_run_dir_create(e, parent, "imbench-spill", pl->spill_dir, sizeof pl->spill_dir,
                               &pl->spill_lock_fd);
    if (!rc) {
        pl->spill_run_made = 1;
        pl->spill_slot = ib_tmp_add(pl->spill_dir, IB_TMP_TREE);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) return ib_error_wrap(e, "spill directory");
    return 0;
}

/* The run's spill directory removed (and --spill-dir's default OUT/spill
 * when this run made it and nothing else is in it). */
void img__spill_dir_remove(img_plan *pl)
{
    if (pl->spill_run_made) {
        ib_rm_rf(NULL, pl->spill_dir);
        close(pl->spill_lock_fd);
        ib_tmp_drop(pl->spill_slot);
        pl->spill_run_made = 0;
    }
    if (pl->made_spill_dir) {
        rmdir(pl->spill_parent); /* fails harmlessly while another process's remain */
        ib_tmp_drop(pl->spill_parent_slot);
        pl->made_spill_dir = 0;
    }
}

/* Write or (serial writes on a rank other than 0) send one plane from buf
 * (clobbered: byte-swapped for FITS). */
static int plane_put(img__worker *w, int64_t chan, int pol, int prod, float *buf)
{
    img_plan *pl = w->plan;
    ib_err e;
    ib_err_init(&e);
    int rc;
    if (pl->p->serial_write && pl->par->rank != 0) {
        size_t n = (size_t)pl->nx * (size_t)pl->ny;
        int32_t hdr[4] = {(int32_t)chan, pol, prod, 0};
        memcpy(w->sendbuf, hdr, sizeof hdr);
        memcpy(w->sendbuf + 4, buf, n * sizeof(float));
        rc = img__send(&e, &pl->comm, w->sendbuf, (int)((n + 4) * sizeof(float)), 0,
                       IMG__TAG_PLANE);
    } else {
        rc = img__fits_write_plane(&e, pl->cube[prod], (int)chan, pol, buf);
    }
    if (rc) img__fail(pl, &e);
    return rc;
}

static int io_all(int fd, void *buf, size_t n, off_t off, int wr)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = wr ? pwrite(fd, p, n, off) : pread(fd, p, n, off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/*
 * With a memory budget a chunk is a task whose output (its planes) is
 * committed when the chunk ends. A finished plane stays in memory while
 * the rank's tracked working set is under the spill fraction, else it goes
 * to this thread's spill file and is read back at commit.
 */
static int hold_plane(img__worker *w, int64_t chan, int pol, int prod)
{
    img_plan *pl = w->plan;
    if (!pl->budget) return plane_put(w, chan, pol, prod, w->plane);
    ib_err e;
    ib_err_init(&e);
    if (w->nheld == w->cap_held) {
        size_t nc = w->cap_held ? 2 * w->cap_held : 64;
        img__held_plane *nh = realloc(w->held, nc * sizeof *nh);
        if (!nh) {
            ib_error(&e, IB_ENOMEM, "rank %d: out of memory holding planes", pl->par->rank);
            img__fail(pl, &e);
            return IB_ENOMEM;
        }
        w->held = nh;
        w->cap_held = nc;
    }
    img__held_plane *h = &w->held[w->nheld];
    *h = (img__held_plane){(int32_t)chan, pol, prod, NULL, 0};
    const uint64_t nb = pl->plane_bytes;
    pthread_mutex_lock(&pl->mem_lock);
    int keep = (double)(pl->tracked + nb) <= pl->p->mem_spill * (double)pl->budget;
    if (keep) {
        pl->tracked += nb;
        if (pl->tracked > pl->peak_tracked) pl->peak_tracked = pl->tracked;
        if (w->held_bytes == 0) pl->holders++;
        w->held_bytes += nb;
    }
    pthread_mutex_unlock(&pl->mem_lock);
    if (keep) {
        h->mem = ib_malloc(nb);
        if (!h->mem) {
            ib_error(&e, IB_ENOMEM, "rank %d: out of memory for a held plane", pl->par->rank);
            img__fail(pl, &e);
            return IB_ENOMEM;
        }
        memcpy(h->mem, w->plane, nb);
        w->nheld++;
        return 0;
    }
    img__phase(w, PROF_SPILL);
    double t0 = ib_now();
    if (w->spill_fd < 0) {
        int rc = ib_path_fmt(&e, w->spill_path, sizeof w->spill_path, "%s/r%d-t%d-c%d.spill",
                             pl->spill_dir, pl->par->rank, w->id, w->cur_chunk);
        if (!rc) rc = ib_create_excl(&e, "spill file", w->spill_path, 0600, NULL, &w->spill_fd, NULL);
        if (rc) {
            img__fail(pl, &e);
            return rc;
        }
        w->spill_end = 0;
        w->spill_files++;
    }
    if (io_all(w->spill_fd, w->plane, nb, w->spill_end, 1) != 0) {
        int full = errno == ENOSPC || errno == EDQUOT || errno == EFBIG;
        ib_error(&e, full ? IB_ENOSPACE : IB_EIO, "spill file '%s': cannot write %llu bytes: %s",
                 w->spill_path, (unsigned long long)nb, strerror(errno));
        img__fail(pl, &e);
        return full ? IB_ENOSPACE : IB_EIO;
    }
    h->off = w->spill_end;
    w->spill_end += (off_t)nb;
    w->spill_bytes += nb;
    w->spill_write_s += ib_now() - t0;
    w->nheld++;
    return 0;
}

/* A finished plane in w->plane: written now (direct) or held. */
int img__plane_emit(img__worker *w, int direct, int64_t chan, int pol, int prod)
{
    return direct ? plane_put(w, chan, pol, prod, w->plane) : hold_plane(w, chan, pol, prod);
}

static void drop_spill(img__worker *w)
{
    if (w->spill_fd >= 0) {
        close(w->spill_fd);
        unlink(w->spill_path);
        w->spill_fd = -1;
    }
}

/* Release this thread's share of the tracked working set. */
void img__held_release(img__worker *w)
{
    img_plan *pl = w->plan;
    if (!pl) return; /* a worker that was never set up */
    for (size_t i = 0; i < w->nheld; i++) free(w->held[i].mem);
    w->nheld = 0;
    if (pl->budget && w->held_bytes) {
        pthread_mutex_lock(&pl->mem_lock);
        pl->tracked -= w->held_bytes;
        pl->holders--;
        pthread_cond_broadcast(&pl->mem_cond);
        pthread_mutex_unlock(&pl->mem_lock);
    }
    w->held_bytes = 0;
    drop_spill(w);
}

/* Commit the chunk's held planes to the cube, in production order. */
int img__chunk_commit(img__worker *w)
{
    img_plan *pl = w->plan;
    int rc = 0;
    for (size_t i = 0; i < w->nheld && !rc; i++) {
        img__held_plane *h = &w->held[i];
        float *buf = h->mem;
        if (!buf) {
            img__phase(w, PROF_SPILL);
            double t0 = ib_now();
            if (io_all(w->spill_fd, w->plane, pl->plane_bytes, h->off, 0) != 0) {
                ib_err e;
                ib_error(&e, IB_EIO, "spill file '%s': cannot read back a plane: %s",
                         w->spill_path, strerror(errno));
                img__fail(pl, &e);
                rc = IB_EIO;
                break;
            }
            w->spill_read_s += ib_now() - t0;
            buf = w->plane;
        }
        img__phase(w, PROF_WRITE);
        rc = plane_put(w, h->chan, h->pol, h->prod, buf);
    }
    img__held_release(w);
    return rc;
}

/* Past the pause fraction a thread waits before starting another chunk,
 * until others commit theirs (never when it would wait for itself). */
void img__wait_for_memory(img__worker *w)
{
    img_plan *pl = w->plan;
    if (!pl->budget) return;
    pthread_mutex_lock(&pl->mem_lock);
    if ((double)pl->tracked > pl->p->mem_pause * (double)pl->budget && pl->holders > 0) {
        img__phase(w, PROF_WAIT);
        while ((double)pl->tracked > pl->p->mem_target * (double)pl->budget && pl->holders > 0 &&
               !atomic_load(&pl->failed))
            pthread_cond_wait(&pl->mem_cond, &pl->mem_lock);
    }
    pthread_mutex_unlock(&pl->mem_lock);
}
