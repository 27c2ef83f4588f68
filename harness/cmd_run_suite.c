/*
 * cmd_run_suite.c: `harness run-suite SUITE` — expand a suite into cells,
 * materialise each dataset once into a cache directory, run every cell
 * (repeats interleaved round-robin) as its own process with a timeout,
 * and record each attempt with what it measured in one transaction before
 * the next starts. --resume continues the latest run of the suite,
 * skipping (cell, repeat) pairs that already succeeded in it; the run is
 * locked while this process runs it (a second run-suite --resume of it is
 * refused with the holder's pid and host). --retries N runs a failed,
 * timed-out or killed attempt again, up to N times, each attempt kept.
 * Attempt directories are created owned (ib_mkdir_owned) and only owned
 * ones are ever removed; every path is checked, never cut.
 *
 * Per attempt, OUT/run-<id>/<hash:12>/r<repeat>[-t<retry>]-p<pid>/ holds
 * stdout.log, stderr.log, stats.json and cell.json (the format `harness
 * ingest` reads), and OUT/run-<id>/emit.json names the run's directory for
 * ingest; FITS products are removed after a successful ingest unless
 * --keep-products.
 *
 * Launchers: local (mpirun only for cells with several ranks), mpirun
 * (for every cell, optionally over a --hostfile), and slurm, which runs
 * nothing: it writes a batch script per (cell, repeat) that does what a
 * local attempt does (slurm.c renders them) and leaves cell.json for
 * `harness ingest`. The dataset and imager command lines come from the
 * same functions (add_gen, add_mpirun, add_imager) for every launcher.
 */
#define _GNU_SOURCE
#include "harness/harness.h"
#include "harness/slurm.h"
#include "harness/wsclean.h"
#include "imaging/imaging.h"
#include "results/results.h"
#include "workloads/suite.h"
#include "workloads/workloads.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define GEN_TIMEOUT_S 3600.0

typedef struct opts {
    const char *db, *filter, *launcher, *data_dir, *out_dir, *datasets_dir;
    int resume, dry_run, repeat, keep, help;
    int warmup;                /* unrecorded runs per cell (-1: the suite's) */
    double timeout;
    const char *hostfile;      /* --launcher mpirun: hosts for the ranks */
    const char *emit;          /* --launcher slurm: where the job scripts go */
    const char *mpi_launcher;  /* slurm: srun (default) or mpirun inside the job */
    int tasks_per_node;        /* slurm: ranks per node (default: as many as fit) */
    int submit;                /* slurm: sbatch every script */
    const char *partition;     /* slurm: #SBATCH --partition, checked before emitting */
    int retries;               /* runs again of a failed, timed-out or killed attempt
                                * (-1: the suite's) */
    int take_lock;             /* --resume: take over another host's lock on the run */
    const char *cache_budget;  /* bytes the dataset cache may hold (NULL: the suite's) */
} opts;

/* One dataset materialisation (shared by the cells with its key). */
typedef struct dsstate {
    char key[33];
    char dir[2048];
    int state;             /* 0 not tried, 1 ready, -1 failed */
    char why[HX_TAIL_BYTES + 256];
    int exit_code;
    int ms_state;          /* vis.ms for wsclean cells: 0 not tried, 1 ready, -1 failed */
    char ms[2100];
    char ms_why[HX_TAIL_BYTES + 256];
    int lock_fd;           /* DIR/in-use.lock held shared while cells use it */
    int locked;
} dsstate;

typedef struct runner {
    opts o;
    wl_suite *suite;
    const wl_cell **cells;   /* after --filter */
    size_t ncells;
    int64_t *cell_ids;
    unsigned char *todo;     /* ncells x repeats */
    int repeats;
    double timeout;
    res_db *db;
    int64_t run_id;
    dsstate *ds;
    size_t nds;
    char imager[4096], mpirun[4096], harness[4096], sbatch[4096];
    char hostfile[PATH_MAX];   /* --hostfile made absolute */
    int have_mpirun;
    char wsclean[4096];        /* imager: wsclean cells; "" when not on PATH */
    long cores;
    hx_progress prog;
    hx_slurm_part *part;       /* slurm: the partition asked about, or NULL */
    char command[2048];
    int nfail, nok;
    int retries;               /* per (cell, repeat) slot */
    int nretries;              /* retries run */
    int64_t cache_budget;      /* --cache-budget or the suite's; 0: no limit */
} runner;

/* ---- small helpers ------------------------------------------------------ */

/* Flush the file system that holds dir (syncfs), outside every timed run:
 * the previous attempt's cubes are written back now instead of during the
 * next attempt, whose time they would otherwise inflate. A hint: a file
 * system that cannot be flushed is left as it is. */
static void quiesce(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)syncfs(fd);
    close(fd);
}

static int file_exists(const char *dir, const char *name)
{
    char p[4096];
    return ib_path_fmt(NULL, p, sizeof p, "%s/%s", dir, name) == 0 && access(p, F_OK) == 0;
}

/* A fresh directory for the run to own: one left by an earlier process of
 * the same name is removed only when it carries imbench's marker
 * (ib_rm_rf_owned); a directory of the user's is never touched. */
static int fresh_owned_dir(ib_err *e, const char *dir)
{
    int r = ib_rm_rf_owned(e, dir);
    return r ? r : ib_mkdir_owned(e, dir);
}

static void join_args(char *out, size_t n, char *const argv[])
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; argv[i] && len < n; i++) {
        int k = snprintf(out + len, n - len, "%s%s", i ? " " : "", argv[i]);
        if (k < 0) break;
        len += (size_t)k;
    }
}

/* ---- what a cell runs: one definition for every launcher ---------------- */

/* An argument vector being built; numbers are formatted into num[]. */
typedef struct argv_buf {
    char *v[128];
    int n;
    char num[64][96];
    int nnum;
} argv_buf;

static void av_add(argv_buf *a, const char *s)
{
    IB_ASSERT(a->n < 127);
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void av_addf(argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void av_addf(argv_buf *a, const char *fmt, ...)
{
    IB_ASSERT(a->nnum < 64);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->num[a->nnum], sizeof a->num[0], fmt, ap);
    va_end(ap);
    av_add(a, a->num[a->nnum++]);
}

/* Parameter id of cell c as its canonical text (the table's). */
static void av_param(argv_buf *a, const wl_cell *c, int id)
{
    IB_ASSERT(a->nnum < 64);
    wl_cell_text(c, id, a->num[a->nnum], sizeof a->num[0]);
    av_add(a, a->num[a->nnum++]);
}

/*
 * `harness gen` for the dataset of cell c into out: what run-suite runs
 * before a cell whose dataset the cache lacks, and what a Slurm job runs.
 * Every dataset key of the cell's hash is passed as --NAME VALUE (gen's
 * options are named as the parameter table names them).
 */
static void add_gen(argv_buf *a, const wl_cell *c, const char *harness, const char *out,
                    const char *datasets_dir)
{
    a->n = a->nnum = 0;
    av_add(a, harness);
    av_add(a, "gen");
    for (int id = 0; id < IB_NPARAM; id++) {
        if (!(ib_param_get(id)->flags & IB_PF_DATA) || !wl_cell_has(c, id)) continue;
        av_addf(a, "--%s", ib_param_get(id)->name);
        av_param(a, c, id);
    }
    av_add(a, "--out");
    av_add(a, out);
    if (datasets_dir) {
        av_add(a, "--datasets-dir");
        av_add(a, datasets_dir);
    }
}

/*
 * mpirun in front of the imager: np ranks; with a hostfile, ranks are
 * placed round-robin over its hosts (--map-by node: one rank per node
 * before any node gets a second, as nodes = ranks in the study).
 */
static void add_mpirun(argv_buf *a, const char *mpirun, int np, const char *hostfile,
                       int oversubscribe)
{
    av_add(a, mpirun);
    av_add(a, "-np");
    av_addf(a, "%d", np);
    if (hostfile) {
        av_add(a, "--hostfile");
        av_add(a, hostfile);
        av_add(a, "--map-by");
        av_add(a, "node");
    }
    if (oversubscribe) av_add(a, "--oversubscribe");
    /* Ranks unbound: a rank runs its T worker threads besides MPI's own
     * threads, and OpenMPI's default (each of up to two ranks bound to one
     * core) kept them all on that core; on the 2-core VMs here a bound
     * rank gridded 10-15% slower than an unbound one. */
    av_add(a, "--bind-to");
    av_add(a, "none");
    if (geteuid() == 0) av_add(a, "--allow-run-as-root");
}

/*
 * The imager and its arguments for cell c, appended to a: the dataset in
 * vis, products in out, statistics in stats, spill files (with a memory
 * budget) in spill. Every parameter of the cell's hash that the imager
 * takes as an option is passed (a flag when true), so cells of one hash
 * run one command line and a parameter left out is the imager's default.
 */
static void add_imager(argv_buf *a, const wl_cell *c, const char *imager, const char *vis,
                       const char *out, const char *stats, const char *spill)
{
    av_add(a, imager);
    av_add(a, "--vis");
    av_add(a, vis);
    av_add(a, "--out");
    av_add(a, out);
    av_add(a, "--stats");
    av_add(a, stats);
    for (int id = 0; id < IB_NPARAM; id++) {
        const ib_param *p = ib_param_get(id);
        if (!p->option || !wl_cell_has(c, id)) continue;
        if (p->type == IB_PT_BOOL) {
            if (wl_cell_int(c, id)) av_addf(a, "--%s", p->option);
            continue;
        }
        av_addf(a, "--%s", p->option);
        av_param(a, c, id);
    }
    if (wl_cell_has(c, IB_P_MEM_BUDGET)) {
        av_add(a, "--spill-dir");
        av_add(a, spill);
    }
}

/* cache.json: what a dataset directory holds; its presence (with vis.h5)
 * says the materialisation completed. NULL when out of memory. */
static json_t *cache_json(const wl_cell *c)
{
    json_t *o = json_pack("{s:s, s:s, s:f, s:I}", "dataset", c->dataset, "key", c->dataset_key,
                          "scale", wl_cell_real(c, IB_P_SCALE), "seed",
                          (json_int_t)wl_cell_int(c, IB_P_SEED));
    if (!o) return NULL;
    if (c->v[IB_P_CHANS].set) json_object_set_new(o, "chans", json_integer(c->v[IB_P_CHANS].i));
    if (c->v[IB_P_TIMES].set) json_object_set_new(o, "times", json_integer(c->v[IB_P_TIMES].i));
    if (c->v[IB_P_IMAGE].set) {
        json_object_set_new(o, "image_nx", json_integer(c->v[IB_P_IMAGE].i));
        json_object_set_new(o, "image_ny", json_integer(c->v[IB_P_IMAGE].j));
    }
    return o;
}

#define CACHE_JSON_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS)

/* The fields of cell.json that do not depend on how the attempt went.
 * NULL when out of memory. */
static json_t *cell_json_head(const runner *r, const wl_cell *c, int repeat)
{
    json_t *params = wl_suite_cell_params(c);
    if (!params) return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:i}", "schema", "imbench-cell/1", "suite",
                     r->suite->name, "suite_hash", r->suite->file_hash, "hash", c->hash,
                     "params", params, "repeat", repeat);
}

/* ---- datasets ------------------------------------------------------------ */

static dsstate *ds_for(runner *r, const wl_cell *c)
{
    for (size_t i = 0; i < r->nds; i++)
        if (!strcmp(r->ds[i].key, c->dataset_key)) return &r->ds[i];
    return NULL;
}

static int write_cache_json(ib_err *e, const char *dir, const wl_cell *c)
{
    json_t *o = cache_json(c);
    if (!o) return ib_error(e, IB_ENOMEM, "out of memory describing dataset '%s'", c->dataset);
    char path[4096];
    if (ib_path_fmt(e, path, sizeof path, "%s/cache.json", dir)) {
        json_decref(o);
        return e->code;
    }
    int rc = json_dump_file(o, path, CACHE_JSON_FLAGS);
    json_decref(o);
    if (rc) return ib_error(e, IB_EIO, "cannot write '%s'", path);
    return 0;
}

/* ---- disk space and the cache budget ------------------------------------ */

/* Free bytes for an unprivileged writer under dir, or -1 when unknown. */
static double free_bytes(const char *dir)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0) return -1;
    return (double)v.f_bavail * (double)v.f_frsize;
}

static int64_t du_total;
static int du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)flag;
    (void)ftw;
    du_total += (int64_t)st->st_blocks * 512;
    return 0;
}

/* Bytes a directory takes on disk (allocated blocks, all files under it). */
static int64_t dir_bytes(const char *dir)
{
    du_total = 0;
    if (nftw(dir, du_add, 16, FTW_PHYS | FTW_MOUNT) != 0) return du_total;
    return du_total;
}

/* Mark d in use: a shared lock on DIR/in-use.lock (the budget's eviction
 * takes it exclusively, so it never removes a dataset a cell is using, in
 * this process or another), its time stamp the last use. Other datasets
 * of this run are released: one is in use at a time. */
static void ds_use(runner *r, dsstate *d)
{
    for (size_t i = 0; i < r->nds; i++)
        if (&r->ds[i] != d && r->ds[i].locked) {
            close(r->ds[i].lock_fd);
            r->ds[i].locked = 0;
        }
    if (d->locked) return;
    char path[2200];
    if (ib_path_fmt(NULL, path, sizeof path, "%s/in-use.lock", d->dir)) return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (flock(fd, LOCK_SH) != 0) {
        close(fd);
        return;
    }
    (void)futimens(fd, NULL);
    d->lock_fd = fd;
    d->locked = 1;
}

static void ds_release_all(runner *r)
{
    for (size_t i = 0; i < r->nds; i++)
        if (r->ds[i].locked) {
            close(r->ds[i].lock_fd);
            r->ds[i].locked = 0;
        }
}

typedef struct cache_entry {
    char dir[2100];
    char key[33];
    int64_t bytes;
    double used;  /* last use (seconds since the epoch) */
} cache_entry;

static int by_use(const void *a, const void *b)
{
    const cache_entry *x = a, *y = b;
    if (x->used != y->used) return x->used < y->used ? -1 : 1;
    return strcmp(x->key, y->key);
}

static double mtime_of(const char *dir, const char *name)
{
    char p[2200];
    struct stat st;
    if (ib_path_fmt(NULL, p, sizeof p, "%s/%s", dir, name) || stat(p, &st) != 0) return -1;
    return (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
}

/* The complete datasets in data_dir (a 32-hex-digit directory with
 * cache.json), their sizes and last use. *out is malloc'd. */
static int cache_scan(ib_err *e, const char *data_dir, cache_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    DIR *dh = opendir(data_dir);
    if (!dh) return errno == ENOENT ? 0 : ib_error(e, IB_EIO, "dataset cache '%s': %s", data_dir,
                                                   strerror(errno));
    size_t cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(dh)) != NULL) {
        if (strlen(de->d_name) != 32 || strspn(de->d_name, "0123456789abcdef") != 32) continue;
        cache_entry ce;
        memset(&ce, 0, sizeof ce);
        memcpy(ce.key, de->d_name, 33);
        if (ib_path_fmt(NULL, ce.dir, sizeof ce.dir, "%s/%s", data_dir, de->d_name)) continue;
        double used = mtime_of(ce.dir, "in-use.lock"), made = mtime_of(ce.dir, "cache.json");
        if (made < 0) continue; /* not complete: another process is generating it */
        ce.used = used > made ? used : made;
        ce.bytes = dir_bytes(ce.dir);
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            cache_entry *t = realloc(*out, cap * sizeof *t);
            if (!t) {
                rc = ib_error(e, IB_ENOMEM, "out of memory listing the dataset cache");
                break;
            }
            *out = t;
        }
        (*out)[(*n)++] = ce;
    }
    closedir(dh);
    if (!rc && *n) qsort(*out, *n, sizeof **out, by_use);
    return rc;
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    snprintf(buf, n, "%.3f GB (%.0f bytes)", b / 1e9, b);
}

/*
 * Room for a new dataset of `need` bytes under the cache budget: evict
 * the least recently used complete datasets that no cell is using (an
 * exclusive lock on their in-use.lock must be free) until the cache and
 * the new one fit. A budget below the dataset itself, or datasets in use
 * that leave no room, are errors with the sizes.
 */
static int cache_make_room(ib_err *e, runner *r, const dsstate *d, const wl_cell *c,
                           double need)
{
    char b1[64], b2[64], b3[64];
    const double budget = (double)r->cache_budget;
    if (need > budget) {
        fmt_bytes(b1, sizeof b1, need);
        fmt_bytes(b2, sizeof b2, budget);
        return ib_error(e, IB_ENOSPACE, "needs %s, more than the whole cache budget "
                        "of %s (--cache-budget or the suite's cache_budget)", b1, b2);
    }
    cache_entry *ce;
    size_t n;
    int rc = cache_scan(e, r->o.data_dir, &ce, &n);
    if (rc) return rc;
    double total = 0;
    for (size_t i = 0; i < n; i++) total += (double)ce[i].bytes;
    for (size_t i = 0; i < n && total + need > budget; i++) {
        if (!strcmp(ce[i].key, d->key)) continue;
        char lock[2200];
        if (ib_path_fmt(NULL, lock, sizeof lock, "%s/in-use.lock", ce[i].dir)) continue;
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* in use */
            close(fd);
            continue;
        }
        ib_err sub;
        ib_err_init(&sub);
        if (ib_rm_rf_owned(&sub, ce[i].dir) == 0) {
            total -= (double)ce[i].bytes;
            fmt_bytes(b1, sizeof b1, (double)ce[i].bytes);
            hx_progress_message(&r->prog, "cache budget: evicted dataset %s (%s, least recently "
                                "used) for dataset %s", ce[i].key, b1, c->dataset);
        }
        close(fd);
    }
    if (total + need > budget) {
        fmt_bytes(b1, sizeof b1, need);
        fmt_bytes(b2, sizeof b2, budget);
        fmt_bytes(b3, sizeof b3, total);
        rc = ib_error(e, IB_ENOSPACE, "needs %s but the cache budget of %s already "
                      "holds %s of datasets in use (--cache-budget or the suite's cache_budget)",
                      b1, b2, b3);
    }
    free(ce);
    return rc;
}

/* Bytes the cubes of cell c on the store in vis take (float32 FITS):
 * dirty, psf when asked, and weight, pb and mosaic for the mosaic
 * gridder; 0 when the store cannot be opened (the imager then says why). */
static double cube_need(const wl_cell *c, const char *vis)
{
    ib_err e;
    ib_err_init(&e);
    img_vis_store *st = NULL;
    if (img_vis_open(&e, vis, &st)) return 0;
    const img_vis_meta *m = img_vis_meta_get(st);
    double nx = m->image_nx, ny = m->image_ny;
    if (wl_cell_has(c, IB_P_IMAGE) && c->v[IB_P_IMAGE].i > 0) {
        nx = (double)c->v[IB_P_IMAGE].i;
        ny = c->v[IB_P_IMAGE].j > 0 ? (double)c->v[IB_P_IMAGE].j : nx;
    }
    char g[32] = "";
    if (wl_cell_has(c, IB_P_GRIDDER)) wl_cell_text(c, IB_P_GRIDDER, g, sizeof g);
    int nprod = 1 + (wl_cell_has(c, IB_P_PSF) && wl_cell_int(c, IB_P_PSF)) +
                (!strcmp(g, "mosaic") ? 3 : 0);
    double b = nx * ny * (double)m->nchan * (double)m->npol * 4.0 * nprod;
    img_vis_close(NULL, st);
    return b * 1.01 + 1e6;
}

/* Bytes the dataset of cell c will take (0 when its shape cannot be
 * resolved: the generator then says why). */
static double ds_need(const runner *r, const wl_cell *c)
{
    ib_err e;
    ib_err_init(&e);
    wl_dataset ds;
    wl_gen_opts go;
    wl_gen_shape sh;
    wl_cell_gen_opts(c, &go);
    if (wl_dataset_find(&e, c->dataset, r->o.datasets_dir, &ds) ||
        wl_gen_resolve(&e, &ds, &go, &sh))
        return 0;
    return wl_gen_store_bytes(&sh, &go);
}

/*
 * Make the dataset of cell c present in the cache: reuse DIR when vis.h5
 * and cache.json are there, else run `harness gen` into DIR.tmp-PID and
 * rename it into place (so a killed generator never leaves a directory
 * that looks complete). Failures are kept in the dsstate for every cell
 * that needs the dataset; only an interrupt is returned.
 */
static int ds_materialise(runner *r, dsstate *d, const wl_cell *c)
{
    if (d->state) {
        if (d->state > 0) ds_use(r, d);
        return 0;
    }
    if (file_exists(d->dir, "vis.h5") && file_exists(d->dir, "cache.json")) {
        d->state = 1;
        ds_use(r, d);
        return 0;
    }
    ib_err e;
    ib_err_init(&e);
    char tmp[2100], log[2200];
    if (ib_path_fmt(&e, tmp, sizeof tmp, "%s.tmp-%ld", d->dir, (long)getpid()) ||
        ib_path_fmt(&e, log, sizeof log, "%s/gen.log", tmp) || fresh_owned_dir(&e, tmp)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        return 0;
    }
    /* Room: the cache budget (evicting what is least recently used), then
     * the disk, before anything is written. */
    double need = ds_need(r, c), avail;
    int room = 0;
    if (need > 0 && r->cache_budget > 0) room = cache_make_room(&e, r, d, c, need);
    if (!room && need > 0 && (avail = free_bytes(tmp)) >= 0 && need > avail) {
        char b1[64], b2[64];
        fmt_bytes(b1, sizeof b1, need);
        fmt_bytes(b2, sizeof b2, avail);
        room = ib_error(&e, IB_ENOSPACE, "needs %s on disk but only %s are free under '%s'", b1,
                        b2, r->o.data_dir);
    }
    if (room) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        ib_rm_rf_owned(NULL, tmp);
        return 0;
    }
    argv_buf av;
    add_gen(&av, c, r->harness, tmp, r->o.datasets_dir);
    hx_progress_message(&r->prog, "generating dataset %s (scale %g) into %s", c->dataset,
                        wl_cell_real(c, IB_P_SCALE), d->dir);
    hx_proc pr;
    if (hx_run_process(&e, av.v, log, NULL, GEN_TIMEOUT_S, NULL, NULL, &pr)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        ib_rm_rf_owned(NULL, tmp);
        return 0;
    }
    if (pr.end == HX_INTERRUPTED) {
        ib_rm_rf_owned(NULL, tmp);
        return IB_EINTERRUPTED;
    }
    if (pr.end != HX_EXITED || pr.exit_code != 0) {
        d->state = -1;
        d->exit_code = pr.exit_code;
        snprintf(d->why, sizeof d->why, "harness: generating dataset '%s' failed (%s %d): %s",
                 c->dataset, pr.end == HX_TIMED_OUT ? "timed out, status" : "exit status",
                 pr.exit_code, pr.tail);
        ib_rm_rf_owned(NULL, tmp);
        return 0;
    }
    if (write_cache_json(&e, tmp, c)) {
        d->state = -1;
        snprintf(d->why, sizeof d->why, "dataset '%s': %s", c->dataset, e.msg);
        ib_rm_rf_owned(NULL, tmp);
        return 0;
    }
    if (rename(tmp, d->dir) != 0) {
        /* Someone else finished the same key first: theirs is as good. */
        ib_rm_rf_owned(NULL, tmp);
        if (!(file_exists(d->dir, "vis.h5") && file_exists(d->dir, "cache.json"))) {
            d->state = -1;
            snprintf(d->why, sizeof d->why, "dataset '%s': cannot move '%s' to '%s': %s",
                     c->dataset, tmp, d->dir, strerror(errno));
            return 0;
        }
    }
    d->state = 1;
    ds_use(r, d);
    return 0;
}

/* ---- one attempt ----------------------------------------------------------- */

/* Does cell c start mpirun locally: several ranks, or --launcher mpirun? */
static int uses_mpirun(const runner *r, const wl_cell *c)
{
    return wl_cell_int(c, IB_P_NODES) > 1 || !strcmp(r->o.launcher, "mpirun");
}

/* An attempt's directory and the files in it. */
typedef struct attempt_paths {
    char dir[2048], stats[4200], outlog[4200], errlog[4200], spill[4200];
} attempt_paths;

/* The paths of an attempt in RUN-DIR/sub (sub names the cell, the repeat or
 * warm-up, the retry and the pid, which keeps a resumed attempt out of an
 * earlier one's directory); IB_EOVERFLOW when --out-dir makes them too
 * long (never a cut path). */
static int attempt_paths_of(ib_err *e, const runner *r, const char *sub, attempt_paths *ap)
{
    int rc = ib_path_fmt(e, ap->dir, sizeof ap->dir, "%s/run-%lld/%s", r->o.out_dir,
                         (long long)r->run_id, sub);
    if (!rc) rc = ib_path_fmt(e, ap->stats, sizeof ap->stats, "%s/stats.json", ap->dir);
    if (!rc) rc = ib_path_fmt(e, ap->outlog, sizeof ap->outlog, "%s/stdout.log", ap->dir);
    if (!rc) rc = ib_path_fmt(e, ap->errlog, sizeof ap->errlog, "%s/stderr.log", ap->dir);
    if (!rc) rc = ib_path_fmt(e, ap->spill, sizeof ap->spill, "%s/spill", ap->dir);
    return rc;
}

/* The local command of cell c: mpirun in front for several ranks or
 * --launcher mpirun, else the imager alone. */
static void build_argv(const runner *r, const wl_cell *c, const char *vis, const char *out,
                       const char *stats, const char *spill, argv_buf *a)
{
    a->n = a->nnum = 0;
    int nodes = (int)wl_cell_int(c, IB_P_NODES);
    if (uses_mpirun(r, c))
        add_mpirun(a, r->mpirun, nodes, r->o.hostfile, !r->o.hostfile && nodes > r->cores);
    add_imager(a, c, r->imager, vis, out, stats, spill);
}

/* cell.json beside stats.json: the attempt as `harness ingest` reads it. */
static void write_cell_json(runner *r, const wl_cell *c, const char *dir, int repeat,
                            const char *status, const hx_proc *pr, const char *started,
                            const char *ended, const char *command, const char *tail,
                            const res_provenance *prov)
{
    json_t *o = cell_json_head(r, c, repeat);
    if (o && json_object_update_new(o, json_pack("{s:s, s:i, s:i, s:s, s:s, s:f, s:s, s:s, s:s}",
                                                  "status", status, "exit_code", pr->exit_code,
                                                  "signal", pr->signal, "started_at", started,
                                                  "ended_at", ended, "wall_s", pr->wall_s,
                                                  "command", command, "stderr_tail", tail,
                                                  "host", prov->host))) {
        json_decref(o);
        o = NULL;
    }
    if (!o) return;
    char path[4200];
    if (!ib_path_fmt(NULL, path, sizeof path, "%s/cell.json", dir))
        json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
}

static int remove_fits(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (flag == FTW_F && n > 5 && !strcmp(path + n - 5, ".fits")) remove(path);
    return 0;
}

/* An imager's unfinished product (X.tmp) in an attempt's directory. */
static int remove_tmp(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    size_t n = strlen(path);
    if (flag == FTW_F && n > 4 && !strcmp(path + n - 4, ".tmp")) remove(path);
    return 0;
}

enum st { ST_NONE, ST_OK, ST_FAILED, ST_TIMEOUT, ST_INTERRUPTED, ST_SKIPPED };
static const char *const st_name[] = {"", RES_OK, RES_FAILED, RES_TIMEOUT, RES_INTERRUPTED,
                                       RES_SKIPPED};

static enum st status_of(const hx_proc *pr)
{
    switch (pr->end) {
    case HX_TIMED_OUT: return ST_TIMEOUT;
    case HX_INTERRUPTED: return ST_INTERRUPTED;
    case HX_SIGNALED: return ST_FAILED;
    case HX_EXITED: return pr->exit_code == 0 ? ST_OK : ST_FAILED;
    }
    return ST_FAILED;
}

/*
 * One line saying why an attempt failed: the last stderr line from the
 * imager or the harness (mpirun adds boilerplate after the real message),
 * else the last line.
 */
static void failure_note(const char *tail, char *note, size_t n)
{
    const char *best = NULL, *last = NULL;
    size_t best_len = 0, last_len = 0;
    for (const char *p = tail; *p;) {
        size_t len = strcspn(p, "\n");
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) s++, len--;
        /* mpirun frames its messages with lines of dashes: not a reason */
        if (len > 0 && strspn(s, "-=") < len) {
            last = s;
            last_len = len;
            if (!strncmp(s, "imager:", 7) || !strncmp(s, "harness:", 8)) {
                best = s;
                best_len = len;
            }
        }
        p += strcspn(p, "\n");
        if (*p) p++;
    }
    if (!best) {
        best = last;
        best_len = last_len;
    }
    if (best) snprintf(note, n, "(%.*s)", (int)(best_len < 200 ? best_len : 200), best);
    else note[0] = '\0';
}

/*
 * A wsclean cell (docs/wsclean.md): the dataset's MS made once beside the
 * store, WSClean run with the cell's parameters (products DIR/ws-*.fits,
 * its stdout in outlog) and a stats record written from its wall time and
 * log. Returns the attempt's status (tail says why when not ok); *skip is
 * set for cells WSClean does not cover, which are not failures.
 */
static enum st run_wsclean(runner *r, const wl_cell *c, dsstate *d, const char *dir,
                           const char *stats, const char *outlog, const char *errlog,
                           hx_proc *pr, char *command, size_t ncommand, char *tail,
                           size_t ntail, int *skip)
{
    ib_err sub;
    ib_err_init(&sub);
    hx_ws_plan plan;
    int rc = hx_ws_plan_cell(&sub, c, d->dir, &plan);
    if (rc == IB_EUNSUPPORTED) {
        *skip = 1;
        snprintf(tail, ntail, "skipped: %s", sub.msg);
        return ST_SKIPPED;
    }
    if (rc) {
        snprintf(tail, ntail, "harness: %s", sub.msg);
        return ST_FAILED;
    }
    if (d->ms_state == 0) {
        int made = 0;
        if (!file_exists(d->dir, "vis.ms/table.dat"))
            hx_progress_message(&r->prog, "exporting dataset %s as an MS into %s/vis.ms",
                                c->dataset, d->dir);
        rc = hx_ws_ensure_ms(&sub, r->harness, d->dir, GEN_TIMEOUT_S, d->ms, sizeof d->ms,
                             &made);
        if (rc == IB_EINTERRUPTED) {
            snprintf(tail, ntail, "harness: interrupted while exporting the dataset as an MS");
            return ST_INTERRUPTED;
        }
        d->ms_state = rc ? -1 : 1;
        if (rc) snprintf(d->ms_why, sizeof d->ms_why, "%s", sub.msg);
    }
    if (d->ms_state < 0) {
        snprintf(tail, ntail, "%s", d->ms_why);
        return ST_FAILED;
    }
    char prefix[4200];
    if (ib_path_fmt(&sub, prefix, sizeof prefix, "%s/ws", dir)) {
        snprintf(tail, ntail, "harness: %s", sub.msg);
        return ST_FAILED;
    }
    hx_ws_args av;
    hx_ws_build_argv(c, &plan, r->wsclean, prefix, dir, d->ms, &av);
    join_args(command, ncommand, av.v);
    if (hx_run_process(&sub, av.v, outlog, errlog, r->timeout, hx_progress_tick, &r->prog, pr)) {
        snprintf(tail, ntail, "harness: %s", sub.msg);
        return ST_FAILED;
    }
    snprintf(tail, ntail, "%s", pr->tail);
    enum st status = status_of(pr);
    if (status == ST_OK && hx_ws_write_stats(&sub, stats, c, &plan, outlog, pr->wall_s)) {
        size_t l = strlen(tail);
        snprintf(tail + l, ntail - l, "\nharness: %s", sub.msg);
        return ST_FAILED;
    }
    return status;
}

/*
 * Warm-up: run cell i once as an attempt would, unrecorded, in a scratch
 * directory removed afterwards. It loads the dataset into the page cache
 * and FFTW's wisdom for the cell's sizes, so the recorded repeats measure
 * the imager and not a cold start. WSClean cells and cells that cannot
 * run (no dataset, no mpirun) are left to their recorded attempts.
 */
static int warm_up(runner *r, size_t i)
{
    const wl_cell *c = r->cells[i];
    dsstate *d = ds_for(r, c);
    IB_ASSERT(d != NULL);
    if (wl_cell_is_wsclean(c)) return 0;
    if (uses_mpirun(r, c) && !r->have_mpirun) return 0;
    int rr = ds_materialise(r, d, c);
    if (rr == IB_EINTERRUPTED) return rr;
    if (d->state < 0) return 0;
    char name[64], label[400];
    attempt_paths ap;
    snprintf(name, sizeof name, "warmup-%.12s-p%ld", c->hash, (long)getpid());
    ib_err sub;
    ib_err_init(&sub);
    if (attempt_paths_of(&sub, r, name, &ap) || fresh_owned_dir(&sub, ap.dir)) {
        hx_progress_message(&r->prog, "warm-up skipped: %s", sub.msg);
        return 0;
    }
    argv_buf av;
    build_argv(r, c, d->dir, ap.dir, ap.stats, ap.spill, &av);
    hx_proc pr;
    memset(&pr, 0, sizeof pr);
    wl_suite_cell_label(c, label, sizeof label);
    double t0 = ib_now();
    int failed = hx_run_process(&sub, av.v, ap.outlog, ap.errlog, r->timeout, NULL, NULL, &pr) ||
                 pr.exit_code != 0 || pr.signal != 0;
    hx_progress_message(&r->prog, "warm-up %s: %s in %.3fs", label, failed ? "not ok" : "ok",
                        ib_now() - t0);
    ib_rm_rf_owned(NULL, ap.dir);
    return hx_interrupted() ? IB_EINTERRUPTED : 0;
}

/*
 * Run cell i, repeat rep (its try-th retry when try > 0), and record it.
 * Returns 0 (whatever the cell's outcome: *outcome is its status, and
 * *retryable says whether the imager itself failed, timed out or was
 * killed, which --retries runs again), IB_EINTERRUPTED after recording an
 * interrupted attempt, or an error of the results store (which ends the
 * suite).
 */
static int run_attempt(ib_err *e, runner *r, size_t i, int rep, int try, size_t ordinal,
                       const res_provenance *prov, enum st *outcome, int *retryable)
{
    const wl_cell *c = r->cells[i];
    char label[512], base[400];
    wl_suite_cell_label(c, base, sizeof base);
    if (try) snprintf(label, sizeof label, "%s r%d (retry %d of %d)", base, rep, try, r->retries);
    else snprintf(label, sizeof label, "%s r%d", base, rep);
    hx_progress_begin(&r->prog, ordinal, label);
    *outcome = ST_FAILED;
    *retryable = 0;

    char name[80];
    attempt_paths ap;
    if (try) snprintf(name, sizeof name, "%.12s/r%d-t%d-p%ld", c->hash, rep, try, (long)getpid());
    else snprintf(name, sizeof name, "%.12s/r%d-p%ld", c->hash, rep, (long)getpid());
    ib_err path_err;
    ib_err_init(&path_err);
    int bad_path = attempt_paths_of(&path_err, r, name, &ap);
    const char *dir = ap.dir, *stats = ap.stats, *outlog = ap.outlog, *errlog = ap.errlog,
               *spill = ap.spill;

    hx_proc pr;
    memset(&pr, 0, sizeof pr);
    pr.exit_code = -1;
    enum st status = ST_NONE;
    char started[40], ended[40], command[4096] = "";
    char *tail = ib_calloc(1, sizeof pr.tail + 512);
    if (!tail)
        return ib_error(e, IB_ENOMEM, "out of memory for an attempt's stderr tail (%zu bytes)",
                        sizeof pr.tail + 512);
    dsstate *d = ds_for(r, c);
    IB_ASSERT(d != NULL);
    int ws = wl_cell_is_wsclean(c), ws_skip = 0;
    int rr = bad_path ? 0 : ds_materialise(r, d, c);
    res_timestamp(started, sizeof started); /* generation is not the cell's time */
    if (bad_path) {
        status = ST_FAILED;
        snprintf(tail, sizeof pr.tail, "harness: %s", path_err.msg);
    } else if (rr == IB_EINTERRUPTED) {
        status = ST_INTERRUPTED;
        snprintf(tail, sizeof pr.tail, "harness: interrupted while generating the dataset");
    } else if (d->state < 0) {
        status = ST_FAILED;
        pr.exit_code = d->exit_code ? d->exit_code : -1;
        snprintf(tail, sizeof pr.tail + 512, "%s", d->why);
    } else if (ws && !r->wsclean[0]) {
        /* not a failure: the peer is optional (Debian package wsclean) */
        status = ST_SKIPPED;
        ws_skip = 1;
        snprintf(tail, sizeof pr.tail, "skipped: wsclean not installed");
    } else if (!ws && uses_mpirun(r, c) && !r->have_mpirun) {
        status = ST_SKIPPED;
        int nodes = (int)wl_cell_int(c, IB_P_NODES);
        snprintf(tail, sizeof pr.tail, "harness: mpirun not found in PATH (the cell needs %d "
                                       "rank%s)", nodes, nodes == 1 ? "" : "s");
    }
    ib_err sub;
    ib_err_init(&sub);
    if (status == ST_NONE) {
        if (fresh_owned_dir(&sub, dir)) {
            status = ST_FAILED;
            snprintf(tail, sizeof pr.tail, "harness: %s", sub.msg);
        } else {
            quiesce(dir);
            /* the cubes must fit the disk: refuse before the imager runs */
            double need = ws ? 0 : cube_need(c, d->dir), avail = free_bytes(dir);
            if (need > 0 && avail >= 0 && need > avail) {
                char b1[64], b2[64];
                fmt_bytes(b1, sizeof b1, need);
                fmt_bytes(b2, sizeof b2, avail);
                status = ST_FAILED;
                snprintf(tail, sizeof pr.tail, "harness: the cubes need %s on disk but only %s are "
                         "free under '%s'", b1, b2, dir);
            }
        }
    }
    /* the imager (or WSClean) ran: its failures are what --retries repeats */
    int ran = status == ST_NONE;
    if (status == ST_NONE && ws) {
        status = run_wsclean(r, c, d, dir, stats, outlog, errlog, &pr, command, sizeof command,
                             tail, sizeof pr.tail + 512, &ws_skip);
    } else if (status == ST_NONE) {
        argv_buf av;
        build_argv(r, c, d->dir, dir, stats, spill, &av);
        join_args(command, sizeof command, av.v);
        if (hx_run_process(&sub, av.v, outlog, errlog, r->timeout, hx_progress_tick, &r->prog,
                           &pr)) {
            status = ST_FAILED;
            snprintf(tail, sizeof pr.tail, "harness: %s", sub.msg);
        } else {
            status = status_of(&pr);
            snprintf(tail, sizeof pr.tail, "%s", pr.tail);
        }
    }
    res_timestamp(ended, sizeof ended);

    /* ingest: stats (if any) + harness overhead, one transaction */
    double ingest_t0 = ib_now();
    json_t *js = NULL;
    char stats_warn[600] = "";
    if (!bad_path && (status == ST_OK || status == ST_FAILED || status == ST_TIMEOUT)) {
        if (access(stats, F_OK) == 0) {
            ib_err se;
            ib_err_init(&se);
            int sr = res_json_load(&se, stats, RES_STATS_FILE_MAX, &js);
            if (sr == IB_EOVERFLOW)
                snprintf(stats_warn, sizeof stats_warn, "stats not ingested: %.500s", se.msg);
            if (sr && status == ST_OK) {
                status = ST_FAILED;
                size_t l = strlen(tail);
                snprintf(tail + l, sizeof pr.tail + 512 - l, "\nharness: stats %s", se.msg);
            }
        } else if (status == ST_OK) {
            status = ST_FAILED;
            size_t l = strlen(tail);
            snprintf(tail + l, sizeof pr.tail + 512 - l,
                     "\nharness: the imager exited 0 but wrote no stats '%s'", stats);
        }
    }
    res_metric extra[3];
    size_t nextra = 0;
    if (pr.wall_s > 0) {
        extra[nextra++] = (res_metric){"harness_wall_s", pr.wall_s, "s", "lower"};
        json_t *w = json_object_get(js, "wall_seconds");
        if (json_is_number(w))
            extra[nextra++] = (res_metric){"harness_launch_s", pr.wall_s - json_number_value(w),
                                           "s", "lower"};
    }
    res_attempt a = {.run_id = r->run_id,
                     .cell_id = r->cell_ids[i],
                     .repeat = rep,
                     .status = st_name[status],
                     .exit_code = pr.exit_code,
                     .signal = pr.signal,
                     .stderr_tail = tail,
                     .command = command[0] ? command : NULL,
                     .started_at = started,
                     .ended_at = ended,
                     .wall_s = pr.wall_s > 0 ? pr.wall_s : -1,
                     .source = js ? stats : NULL,
                     .ingest_t0 = ingest_t0,
                     .ingest_metric = "harness_ingest_s"};
    if (stats_warn[0]) a.warnings[a.nwarnings++] = stats_warn;
    if (!bad_path && access(dir, F_OK) == 0)
        write_cell_json(r, c, dir, rep, st_name[status], &pr, started, ended, command, tail, prov);
    int64_t aid;
    int res = res_attempt_record(e, r->db, &a, js, extra, nextra, &aid);
    if (res == IB_EPARSE && js) {
        /* a stats record we cannot take: keep the attempt, say why */
        size_t l = strlen(tail);
        snprintf(tail + l, sizeof pr.tail + 512 - l, "\nharness: %s", e->msg);
        status = ST_FAILED;
        a.status = st_name[status];
        a.source = NULL;
        ib_err_init(e);
        res = res_attempt_record(e, r->db, &a, NULL, extra, nextra, &aid);
    }
    json_decref(js);
    if (res) {
        ib_free(tail);
        return res;
    }
    if (status == ST_OK && !r->o.keep) nftw(dir, remove_fits, 16, FTW_PHYS);
    /* Whatever the imager left unfinished (a timed-out or killed one has no
     * chance to): its temporaries and spill files, inside the attempt's own
     * directory. */
    if (!bad_path && access(dir, F_OK) == 0) nftw(dir, remove_tmp, 16, FTW_PHYS);
    ib_rm_rf(NULL, spill);
    /* a WSClean cell WSClean cannot run is not a failure of the suite */
    *outcome = ws_skip ? ST_NONE : status;
    *retryable = ran && (status == ST_FAILED || status == ST_TIMEOUT);
    char note[256] = "";
    if (status != ST_OK) failure_note(tail, note, sizeof note);
    hx_progress_end(&r->prog, st_name[status], pr.wall_s, note);
    ib_free(tail);
    return status == ST_INTERRUPTED ? IB_EINTERRUPTED : 0;
}

/*
 * One (cell, repeat) slot: its attempt and, while it fails, times out or
 * is killed, up to r->retries more (each recorded as its own attempt of
 * the same slot). Counts the slot once, by how it ended.
 */
static int run_slot(ib_err *e, runner *r, size_t i, int rep, size_t ordinal,
                    const res_provenance *prov)
{
    enum st outcome = ST_NONE;
    int retryable = 0, rc = 0;
    for (int try = 0; try <= r->retries; try++) {
        if (try) {
            if (hx_interrupted()) return IB_EINTERRUPTED;
            r->nretries++;
        }
        rc = run_attempt(e, r, i, rep, try, ordinal, prov, &outcome, &retryable);
        if (rc || !retryable) break;
    }
    if (outcome == ST_OK) r->nok++;
    else if (outcome != ST_NONE) r->nfail++;
    return rc;
}

/* ---- Slurm: job scripts instead of runs ------------------------------------ */

/* path made absolute into out (PATH_MAX bytes; created first when mk), and
 * checked to be writable verbatim into #SBATCH lines and the script. */
static int abs_plain(ib_err *e, const char *what, const char *path, int mk, char *out)
{
    if (!hx_slurm_plain_path(path))
        return ib_error(e, IB_EINVAL, "%s '%s' holds a space, quote, '%%' or another character "
                                      "that #SBATCH lines and job scripts cannot carry",
                        what, path);
    if (mk && ib_mkdir_p(e, path)) return e->code;
    if (!realpath(path, out)) return ib_error(e, IB_EIO, "%s '%s': %s", what, path, strerror(errno));
    if (!hx_slurm_plain_path(out))
        return ib_error(e, IB_EINVAL, "%s '%s' holds a space, quote, '%%' or another character "
                                      "that #SBATCH lines and job scripts cannot carry",
                        what, out);
    return 0;
}

/* Render job j of cell c, repeat k; its script's path into path. */
static int emit_job(ib_err *e, runner *r, const wl_cell *c, int k, const char *dirs[5],
                    char *path, size_t pathn)
{
    const opts *o = &r->o;
    enum { EMIT, DATA, DSDIR, BIN, ORIGIN };
    char cell_dir[PATH_MAX + 64], vis[PATH_MAX + 64], stats[PATH_MAX + 96],
        spill[PATH_MAX + 96], imager[PATH_MAX + 16], harness[PATH_MAX + 16];
    snprintf(cell_dir, sizeof cell_dir, "%s/%.12s-r%d", dirs[EMIT], c->hash, k);
    snprintf(vis, sizeof vis, "%s/%s", dirs[DATA], c->dataset_key);
    /* products, stats and spill go to the attempt's directory, made by the job */
    snprintf(stats, sizeof stats, "%s/stats.json", HX_SLURM_ATTEMPT);
    snprintf(spill, sizeof spill, "%s/spill", HX_SLURM_ATTEMPT);
    snprintf(imager, sizeof imager, "%s/imager", dirs[BIN]);
    snprintf(harness, sizeof harness, "%s/harness", dirs[BIN]);
    snprintf(path, pathn, "%s/job.sbatch", cell_dir);
    if (ib_mkdir_p(e, cell_dir)) return e->code;

    int srun = !o->mpi_launcher || !strcmp(o->mpi_launcher, "srun");
    argv_buf gen, run;
    add_gen(&gen, c, harness, HX_SLURM_TMP, dirs[DSDIR]);
    run.n = run.nnum = 0;
    if (srun) av_add(&run, "srun");
    else add_mpirun(&run, "mpirun", (int)wl_cell_int(c, IB_P_NODES), NULL, 0);
    add_imager(&run, c, imager, vis, HX_SLURM_ATTEMPT, stats, spill);
    char command[8192];
    join_args(command, sizeof command, run.v);

    json_t *head = cell_json_head(r, c, k);
    json_t *cache = cache_json(c);
    char *head_text = NULL, *cache_text = NULL;
    if (head && !json_object_set_new(head, "command", json_string(command)))
        head_text = json_dumps(head, JSON_PRESERVE_ORDER);
    if (cache) cache_text = json_dumps(cache, CACHE_JSON_FLAGS);
    json_decref(head);
    json_decref(cache);
    int rc = 0;
    size_t hl = head_text ? strlen(head_text) : 0;
    if (!head_text || !cache_text || hl < 2 || head_text[hl - 1] != '}') {
        rc = ib_error(e, IB_ENOMEM, "cell %.12s: cannot render cell.json (out of memory, or a "
                                    "path that is not UTF-8)", c->hash);
        goto out;
    }
    head_text[hl - 1] = '\0'; /* the script appends the attempt's fields and the brace */

    char name[256], label[400], comment[600];
    snprintf(name, sizeof name, "imbench-%s-%.12s-r%d", r->suite->name, c->hash, k);
    wl_suite_cell_label(c, label, sizeof label);
    snprintf(comment, sizeof comment, "%s (suite %s, repeat %d of %d)", label, r->suite->name,
             k, r->repeats);
    hx_slurm_need need = {.ranks = (int)wl_cell_int(c, IB_P_NODES), .threads = (int)wl_cell_int(c, IB_P_THREADS),
                          .tasks_per_node = o->tasks_per_node};
    hx_slurm_shape sh;
    hx_slurm_place(r->part, &need, &sh);
    hx_slurm_job j = {
        .name = name,
        .comment = comment,
        .cell_dir = cell_dir,
        .partition = r->part ? r->part->name : NULL,
        .nodes = sh.nodes,
        .ntasks = (int)wl_cell_int(c, IB_P_NODES),
        .tasks_per_node = sh.tasks_per_node,
        .cpus_per_task = (int)wl_cell_int(c, IB_P_THREADS),
        .timeout_s = r->timeout,
        .dataset = c->dataset,
        .data_dir = vis,
        .gen_argv = gen.v,
        .cache_json = cache_text,
        .run_argv = run.v,
        .srun = srun,
        .mpi_type = srun && (int)wl_cell_int(c, IB_P_NODES) > 1 ? hx_slurm_mpi_type() : NULL,
        .harness = harness,
        .origin = dirs[ORIGIN],
        .cell_head = head_text,
        .keep_products = o->keep,
    };
    rc = hx_slurm_write_job(e, &j, path);
out:
    free(head_text);
    free(cache_text);
    return rc;
}

/*
 * Before anything is written for --submit or --partition: ask Slurm about
 * the partition (r->part) and check every cell's job against it and srun's
 * MPI plug-ins. A job that cannot run is refused with the reason, one
 * line per cell on stderr, and nothing is emitted.
 */
static int check_jobs(ib_err *e, runner *r)
{
    r->part = ib_calloc(1, sizeof *r->part);
    if (!r->part) return ib_error(e, IB_ENOMEM, "out of memory");
    int rc = hx_slurm_query(e, r->o.partition, r->part);
    if (rc) return rc;
    int srun = !r->o.mpi_launcher || !strcmp(r->o.mpi_launcher, "srun");
    size_t bad = 0, jobs = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        const wl_cell *c = r->cells[i];
        if (wl_cell_is_wsclean(c)) continue;
        jobs++;
        hx_slurm_need need = {.ranks = (int)wl_cell_int(c, IB_P_NODES), .threads = (int)wl_cell_int(c, IB_P_THREADS),
                              .tasks_per_node = r->o.tasks_per_node, .timeout_s = r->timeout,
                              .mem_per_rank = wl_cell_int(c, IB_P_MEM_BUDGET),
                              .mpi_type = srun ? hx_slurm_mpi_type() : NULL};
        hx_slurm_shape sh;
        char why[768];
        if (hx_slurm_check(r->part, &need, &sh, why, sizeof why)) {
            fprintf(stderr, "harness run-suite: cell %zu: %s\n", i + 1, why);
            bad++;
        }
    }
    if (bad)
        return ib_error(e, IB_EUNSUPPORTED,
                        "%zu of %zu cells cannot run on partition '%s'; nothing written or "
                        "submitted (--dry-run numbers the cells, --filter leaves cells out)",
                        bad, jobs, r->part->name);
    return 0;
}

/*
 * --launcher slurm --emit DIR: DIR/<hash12>-r<K>/job.sbatch for every
 * cell and repeat (repeat k of every cell before repeat k+1 of any, as
 * locally), DIR/submit-all.sh, and with --submit an sbatch of each.
 * Nothing runs here and the results database is not touched: the jobs
 * leave cell.json files for `harness ingest DIR`.
 */
static int emit_slurm(ib_err *e, runner *r)
{
    const opts *o = &r->o;
    char emit[PATH_MAX], data[PATH_MAX], dsdir[PATH_MAX], bin[PATH_MAX], origin[PATH_MAX];
    if (!getcwd(origin, sizeof origin)) snprintf(origin, sizeof origin, "/");
    int rc = (o->submit || o->partition) ? check_jobs(e, r) : 0;
    if (!rc) rc = abs_plain(e, "emit directory", o->emit, 1, emit);
    if (!rc) rc = abs_plain(e, "data directory", o->data_dir, 1, data);
    if (!rc && o->datasets_dir) rc = abs_plain(e, "datasets directory", o->datasets_dir, 0, dsdir);
    if (!rc) rc = abs_plain(e, "program directory", hx_bin_dir(), 0, bin);
    /* the directory's identity: one run however often it is ingested */
    if (!rc) rc = res_emit_write(e, emit, r->suite->name, r->suite->file_hash);
    if (rc) return rc;
    const char *dirs[5] = {emit, data, o->datasets_dir ? dsdir : NULL, bin, origin};

    size_t njobs = r->ncells * (size_t)r->repeats, ns = 0;
    char **scripts = ib_calloc(njobs, sizeof *scripts);
    if (!scripts) return ib_error(e, IB_ENOMEM, "out of memory");
    size_t nws = 0;
    for (int k = 0; !rc && k < r->repeats; k++)
        for (size_t i = 0; !rc && i < r->ncells; i++) {
            char path[PATH_MAX + 128];
            if (wl_cell_is_wsclean(r->cells[i])) {
                nws++; /* WSClean runs with the local launcher only */
                continue;
            }
            rc = emit_job(e, r, r->cells[i], k, dirs, path, sizeof path);
            if (!rc && !(scripts[ns++] = ib_strdup(path)))
                rc = ib_error(e, IB_ENOMEM, "out of memory");
        }
    if (!rc && nws)
        fprintf(stderr, "harness run-suite: %zu wsclean job%s not emitted (imager: wsclean runs "
                        "with the local launcher only)\n", nws, nws == 1 ? "" : "s");
    if (!rc) rc = hx_slurm_write_submit_all(e, emit, scripts, ns);
    if (!rc) {
        printf("suite %s: %zu cell%s x %d repeat%s = %zu job script%s in %s\n", r->suite->name,
               r->ncells, r->ncells == 1 ? "" : "s", r->repeats, r->repeats == 1 ? "" : "s",
               ns, ns == 1 ? "" : "s", emit);
        if (!o->submit) printf("submit: %s/submit-all.sh [sbatch options]\n", emit);
    }
    if (!rc && o->submit) {
        char jobs[PATH_MAX + 16];
        snprintf(jobs, sizeof jobs, "%s/jobs.txt", emit);
        FILE *jf = fopen(jobs, "w");
        if (!jf) rc = ib_error(e, IB_EIO, "cannot create '%s': %s", jobs, strerror(errno));
        for (size_t i = 0; !rc && i < ns; i++) {
            char out[PATH_MAX + 128], id[64];
            snprintf(out, sizeof out, "%s", scripts[i]);
            char *slash = strrchr(out, '/');
            snprintf(slash + 1, sizeof out - (size_t)(slash + 1 - out), "sbatch.out");
            rc = hx_slurm_submit(e, r->sbatch, scripts[i], out, id, sizeof id);
            if (!rc) {
                printf("submitted job %s: %s\n", id, scripts[i]);
                fprintf(jf, "%s %s\n", id, scripts[i]);
                fflush(stdout);
            }
        }
        if (jf && fclose(jf) != 0 && !rc)
            rc = ib_error(e, IB_EIO, "cannot write '%s'", jobs);
        if (!rc) printf("%zu job%s submitted (ids in %s)\n", ns, ns == 1 ? "" : "s", jobs);
    }
    if (!rc) printf("when they have run: harness ingest %s --db %s\n", emit, o->db);
    for (size_t i = 0; i < ns; i++) ib_free(scripts[i]);
    ib_free(scripts);
    return rc;
}

/* ---- the command ------------------------------------------------------------ */

static int prepare(ib_err *e, runner *r)
{
    r->cell_ids = ib_calloc(r->ncells, sizeof *r->cell_ids);
    size_t nt;
    if (ib_mul_size(r->ncells, (size_t)r->repeats, &nt))
        return ib_error(e, IB_EOVERFLOW, "too many attempts");
    r->todo = ib_calloc(nt, 1);
    r->ds = ib_calloc(r->ncells, sizeof *r->ds);
    if (!r->cell_ids || !r->todo || !r->ds)
        return ib_error(e, IB_ENOMEM, "out of memory for %zu cells x %d repeats", r->ncells,
                        r->repeats);
    unsigned char *ok = ib_calloc((size_t)r->repeats, 1);
    if (!ok) return ib_error(e, IB_ENOMEM, "out of memory for %d repeats", r->repeats);
    for (size_t i = 0; i < r->ncells; i++) {
        const wl_cell *c = r->cells[i];
        json_t *params = wl_suite_cell_params(c);
        if (!params) {
            ib_free(ok);
            return ib_error(e, IB_ENOMEM, "out of memory encoding cell %.12s", c->hash);
        }
        int rc = res_cell_put(e, r->db, c->hash, params, &r->cell_ids[i]);
        json_decref(params);
        if (!rc) rc = res_cell_ok_repeats(e, r->db, r->run_id, r->cell_ids[i], r->repeats, ok);
        if (rc) {
            ib_free(ok);
            return rc;
        }
        for (int k = 0; k < r->repeats; k++) r->todo[i * (size_t)r->repeats + k] = !ok[k];
        if (!ds_for(r, c)) {
            dsstate *d = &r->ds[r->nds++];
            memcpy(d->key, c->dataset_key, sizeof d->key);
            int pr = ib_path_fmt(e, d->dir, sizeof d->dir, "%s/%s", r->o.data_dir,
                                 c->dataset_key);
            if (pr) {
                ib_free(ok);
                return pr;
            }
        }
    }
    ib_free(ok);
    return 0;
}

/* Bytes as "1.4 GB" (decimal units, as df -H and the study). */
static const char *gbytes(double b, char *buf, size_t n)
{
    if (b >= 1e9) snprintf(buf, n, "%.1f GB", b / 1e9);
    else if (b >= 1e6) snprintf(buf, n, "%.1f MB", b / 1e6);
    else snprintf(buf, n, "%.0f kB", b / 1e3);
    return buf;
}

/*
 * The cells, each with the dataset it generates (samples, bytes on disk),
 * the cubes it writes and its wall time as the cost model fitted on the
 * database's small-scale cells predicts it; then the totals: the datasets
 * counted once each, the cubes once per attempt (the run keeps them only
 * with --keep), the time over every attempt.
 */
static int dry_run(ib_err *e, runner *r)
{
    printf("suite %s (%s): %zu cell%s x %d repeat%s = %zu attempts, timeout %g s\n",
           r->suite->name, r->suite->path, r->ncells, r->ncells == 1 ? "" : "s", r->repeats,
           r->repeats == 1 ? "" : "s", r->ncells * (size_t)r->repeats, r->timeout);
    hx_estimate *x = ib_calloc(r->ncells, sizeof *x);
    if (!x) return ib_error(e, IB_ENOMEM, "out of memory");
    char about[512];
    int rc = hx_estimate_cells(e, r->o.db, r->o.datasets_dir, r->cells, r->ncells, x, about,
                               sizeof about);
    if (rc) {
        ib_free(x);
        return rc;
    }
    printf("%4s  %-12s  %9s  %9s  %9s  %14s  %s\n", "#", "hash", "samples", "dataset", "cubes",
           "est. time (s)", "cell");
    double data = 0, cubes = 0, time = 0, peak = 0;
    size_t unknown = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        char label[512], b1[32], b2[32], t[48];
        wl_suite_cell_label(r->cells[i], label, sizeof label);
        int first = 1; /* the first cell of its dataset key counts its dataset */
        for (size_t j = 0; j < i; j++)
            first &= strcmp(r->cells[j]->dataset_key, r->cells[i]->dataset_key) != 0;
        if (first) data += x[i].store_bytes;
        cubes += x[i].cube_bytes * r->repeats;
        peak = fmax(peak, x[i].cube_bytes);
        if (isfinite(x[i].wall)) {
            snprintf(t, sizeof t, "%.3g (%.3g-%.3g)", x[i].wall, x[i].lo, x[i].hi);
            time += x[i].wall * r->repeats;
        } else {
            snprintf(t, sizeof t, "?");
            unknown++;
        }
        printf("%4zu  %.12s  %8.3gM  %9s  %9s  %14s  %s\n", i + 1, r->cells[i]->hash,
               x[i].samples / 1e6, gbytes(x[i].store_bytes, b1, sizeof b1),
               gbytes(x[i].cube_bytes, b2, sizeof b2), t, label);
    }
    char b1[32], b2[32], b3[32];
    printf("total: datasets %s (each generated once, cached), cubes %s written over %zu attempts "
           "(largest cell %s), ",
           gbytes(data, b1, sizeof b1), gbytes(cubes, b2, sizeof b2),
           r->ncells * (size_t)r->repeats, gbytes(peak, b3, sizeof b3));
    if (unknown == r->ncells) printf("time not estimated\n");
    else if (unknown)
        printf("estimated time %.0f s for the %zu cells estimated, %zu not\n", time,
               r->ncells - unknown, unknown);
    else printf("estimated time %.0f s (model; warm-up runs and dataset generation not counted)\n", time);
    printf("times: %s\n", about);
    if (unknown) {
        for (size_t i = 0; i < r->ncells; i++)
            if (!isfinite(x[i].wall) && strcmp(x[i].why, "no model")) {
                printf("cell %zu: no estimate: %s\n", i + 1, x[i].why);
                break;
            }
    }
    ib_free(x);
    return 0;
}

static void runner_release(runner *r)
{
    if (r->ds) ds_release_all(r);
    ib_free(r->cells);
    ib_free(r->cell_ids);
    ib_free(r->todo);
    ib_free(r->ds);
    ib_free(r->part);
    res_close(r->db);
    wl_suite_destroy(r->suite);
}

/*
 * The suite, checked as the imager checks its options; the cells that
 * run on this machine (launcher local, or mpirun without a hostfile) are
 * also checked against it: one that can never run here is refused, one
 * that would oversubscribe it is named on stderr.
 */
static int load_suite(ib_err *e, runner *r, const char *path)
{
    ib_machine here;
    ib_machine_probe(&here);
    int local = strcmp(r->o.launcher, "slurm") && !r->o.hostfile;
    wl_suite_opts so = {.datasets_dir = r->o.datasets_dir, .machine = local ? &here : NULL};
    int rc = wl_suite_load(e, path, &so, &r->suite);
    for (const char *w = rc ? "" : r->suite->warnings; *w;) {
        size_t len = strcspn(w, "\n");
        fprintf(stderr, "harness run-suite: warning: %.*s\n", (int)len, w);
        w += len + (w[len] == '\n');
    }
    return rc;
}

/*
 * The launcher options agree with each other; --hostfile is a readable
 * file (made absolute in r->hostfile); with --submit, sbatch is on PATH
 * (r->sbatch). IB_EINVAL (exit status 2) with the reason otherwise.
 */
static int check_launcher(ib_err *e, runner *r)
{
    opts *o = &r->o;
    int slurm = !strcmp(o->launcher, "slurm");
    if (strcmp(o->launcher, "local") && strcmp(o->launcher, "mpirun") && !slurm)
        return ib_error(e, IB_EINVAL, "--launcher must be local, mpirun or slurm, got '%s'",
                        o->launcher);
    if (o->hostfile && strcmp(o->launcher, "mpirun"))
        return ib_error(e, IB_EINVAL, "--hostfile needs --launcher mpirun (under Slurm the "
                                      "allocation decides the hosts)");
    if (o->hostfile) {
        struct stat st;
        FILE *f = fopen(o->hostfile, "r");
        if (!f)
            return ib_error(e, IB_EINVAL, "hostfile '%s' cannot be read: %s", o->hostfile,
                            strerror(errno));
        int isdir = fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode);
        fclose(f);
        if (isdir) return ib_error(e, IB_EINVAL, "hostfile '%s' is a directory", o->hostfile);
        if (!realpath(o->hostfile, r->hostfile))
            return ib_error(e, IB_EINVAL, "hostfile '%s': %s", o->hostfile, strerror(errno));
        o->hostfile = r->hostfile;
    }
    if (!slurm && (o->emit || o->submit || o->mpi_launcher || o->tasks_per_node != -1 ||
                   o->partition))
        return ib_error(e, IB_EINVAL, "--emit, --submit, --partition, --tasks-per-node and "
                                      "--mpi-launcher need --launcher slurm");
    if (!slurm) return 0;
    if (!o->emit)
        return ib_error(e, IB_EINVAL, "--launcher slurm needs --emit DIR (job scripts are "
                                      "written there; nothing runs here)");
    if (o->resume)
        return ib_error(e, IB_EINVAL, "--resume does not apply to --launcher slurm (resubmit "
                                      "the jobs that failed; ingest skips attempts it has)");
    if (o->tasks_per_node == -1) o->tasks_per_node = 0;
    else if (o->tasks_per_node < 1)
        return ib_error(e, IB_EINVAL, "--tasks-per-node must be >= 1, got %d",
                        o->tasks_per_node);
    if (o->mpi_launcher && strcmp(o->mpi_launcher, "srun") && strcmp(o->mpi_launcher, "mpirun"))
        return ib_error(e, IB_EINVAL, "--mpi-launcher must be srun or mpirun, got '%s'",
                        o->mpi_launcher);
    if (o->submit && hx_which("sbatch", r->sbatch, sizeof r->sbatch))
        return ib_error(e, IB_EINVAL, "sbatch not found in PATH: --submit needs Slurm's sbatch "
                                      "(run without --submit to only write the scripts, then "
                                      "DIR/submit-all.sh on a login node)");
    return 0;
}

/* The suite's retries per slot: the suite key `retries`. */
static int suite_retries(const wl_suite *s) { return s->retries > 0 ? s->retries : 0; }

/*
 * --retries, --take-lock, --out-dir and --data-dir: in range, and every
 * path the run will build under the two directories fits its buffer (the
 * longest attempt directory and dataset temporary checked here, so a long
 * directory is refused before anything runs, never cut).
 */
static int check_run_options(ib_err *e, const opts *o)
{
    if (o->retries < -1 || o->retries > 100)
        return ib_error(e, IB_EINVAL, "--retries must be 0..100, got %d", o->retries);
    if (o->take_lock && !o->resume)
        return ib_error(e, IB_EINVAL, "--take-lock needs --resume");
    attempt_paths ap;
    dsstate *d = NULL;
    char probe[2200];
    ib_err sub;
    ib_err_init(&sub);
    /* the longest names: run id, hash, repeat, retry and pid at their widest */
    int r = ib_path_fmt(&sub, ap.dir, sizeof ap.dir, "%s/run-%lld/%.12s/r%d-t%d-p%ld/spill",
                        o->out_dir, (long long)INT64_MAX, "0123456789ab", 1000000, 100,
                        (long)INT_MAX);
    if (!r) r = ib_path_fmt(&sub, ap.stats, sizeof ap.stats, "%s/stats.json", ap.dir);
    if (r) return ib_error(e, IB_EINVAL, "--out-dir '%.200s' is too long: %s", o->out_dir, sub.msg);
    r = ib_path_fmt(&sub, probe, sizeof d->dir, "%s/%032d", o->data_dir, 0);
    if (!r) r = ib_path_fmt(&sub, probe, sizeof probe, "%s/%032d.tmp-%ld/gen.log", o->data_dir,
                            0, (long)INT_MAX);
    if (!r) r = ib_path_fmt(&sub, probe, sizeof d->ms, "%s/%032d/vis.ms", o->data_dir, 0);
    if (r) return ib_error(e, IB_EINVAL, "--data-dir '%.200s' is too long: %s", o->data_dir,
                           sub.msg);
    return 0;
}

/*
 * Open the database, start the run or (--resume) find the one to continue,
 * and take its lock: a run another live process is running is refused
 * with that process's pid and host; a dead one's lock (this host) is taken
 * over, said on the progress output.
 */
static int open_and_lock(ib_err *e, runner *r, const res_provenance *prov)
{
    const opts *o = &r->o;
    int rc = res_open(e, o->db, NULL, &r->db);
    if (!rc && o->resume) {
        rc = res_run_resume(e, r->db, r->suite->name, &r->run_id);
        if (rc == IB_ENOTFOUND) rc = 0, r->run_id = 0;
    }
    if (!rc && !r->run_id)
        rc = res_run_begin(e, r->db, r->suite->name, r->suite->path, r->suite->file_hash, prov,
                           &r->run_id);
    if (rc) return rc;
    char note[600];
    rc = res_run_lock(e, r->db, r->run_id, prov->command, o->take_lock, note, sizeof note);
    if (rc) {
        r->run_id = 0; /* not ours: never finished or unlocked by this process */
        return rc;
    }
    if (note[0]) fprintf(stderr, "harness run-suite: %s\n", note);
    /* OUT/run-N/emit.json: ingesting OUT elsewhere makes one run of each */
    char run_dir[2048];
    rc = ib_path_fmt(e, run_dir, sizeof run_dir, "%s/run-%lld", o->out_dir,
                     (long long)r->run_id);
    if (!rc) rc = ib_mkdir_p(e, run_dir);
    if (!rc) rc = res_emit_write(e, run_dir, r->suite->name, r->suite->file_hash);
    if (rc) {
        ib_err quiet;
        res_run_unlock(&quiet, r->db, r->run_id);
        r->run_id = 0;
    }
    return rc;
}

/* The command line into r->o: -1 to go on (the suite in argv[0]), else
 * the exit status (help printed, or a usage error). */
static int parse_options(runner *r, int argc, char **argv)
{
    opts *o = &r->o;
    o->db = RES_DEFAULT_DB;
    o->launcher = "local";
    o->data_dir = "data/cache";
    o->out_dir = "results/cells";
    o->timeout = -1;
    o->tasks_per_node = -1;
    o->warmup = -1;
    o->retries = -1;
    const ib_opt table[] = {
        {"db", IB_OPT_STR, &o->db, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"resume", IB_OPT_FLAG, &o->resume, NULL,
         "continue the latest unfinished run of this suite"},
        {"dry-run", IB_OPT_FLAG, &o->dry_run, NULL, "print the cells and exit"},
        {"repeat", IB_OPT_INT, &o->repeat, "N", "attempts per cell (default: the suite's)"},
        {"warmup", IB_OPT_INT, &o->warmup, "N",
         "unrecorded runs per cell before the repeats (default: the suite's, else 0)"},
        {"timeout", IB_OPT_DBL, &o->timeout, "S", "seconds per attempt (default: the suite's)"},
        {"filter", IB_OPT_STR, &o->filter, "EXPR", "only cells matching key=value[,key=value]"},
        {"launcher", IB_OPT_STR, &o->launcher, "local|mpirun|slurm",
         "local: mpirun only when nodes > 1 (default); mpirun: for every cell; slurm: write "
         "job scripts (--emit)"},
        {"hostfile", IB_OPT_STR, &o->hostfile, "FILE",
         "with --launcher mpirun: spread ranks over these hosts (--hostfile F --map-by node)"},
        {"emit", IB_OPT_STR, &o->emit, "DIR",
         "with --launcher slurm: write DIR/<hash12>-r<K>/job.sbatch and DIR/submit-all.sh, "
         "run nothing"},
        {"submit", IB_OPT_FLAG, &o->submit, NULL, "with --launcher slurm: sbatch every script"},
        {"tasks-per-node", IB_OPT_INT, &o->tasks_per_node, "T",
         "with --launcher slurm: MPI ranks per node (default: packed by cores; 1: nodes = "
         "ranks, as in the study)"},
        {"partition", IB_OPT_STR, &o->partition, "NAME",
         "with --launcher slurm: submit there; check every job against it first (as --submit "
         "does with the default partition)"},
        {"mpi-launcher", IB_OPT_STR, &o->mpi_launcher, "srun|mpirun",
         "with --launcher slurm: what starts the ranks in the job (default srun)"},
        {"data-dir", IB_OPT_STR, &o->data_dir, "DIR", "dataset cache (default data/cache)"},
        {"out-dir", IB_OPT_STR, &o->out_dir, "DIR", "attempt outputs (default results/cells)"},
        {"datasets-dir", IB_OPT_STR, &o->datasets_dir, "DIR", "where dataset specs live"},
        {"keep-products", IB_OPT_FLAG, &o->keep, NULL, "keep FITS products of successful cells"},
        {"retries", IB_OPT_INT, &o->retries, "N",
         "run a failed, timed-out or killed attempt again, up to N times, keeping every "
         "attempt (default: the suite's, else 0)"},
        {"cache-budget", IB_OPT_STR, &o->cache_budget, "BYTES",
         "bytes the dataset cache may hold (4G, 500M, ...); the least recently used datasets "
         "not in use are evicted to make room (default: the suite's cache_budget, else no "
         "limit)"},
        {"take-lock", IB_OPT_FLAG, &o->take_lock, NULL,
         "with --resume: take over the run's lock held by a process on another host (once "
         "it is known to be gone)"},
        {"help", IB_OPT_FLAG, &o->help, NULL, "show this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    int npos;
    return hx_parse("run-suite", table, argc, argv, &npos, 1, 1);
}

/* The suite loaded, its run settings resolved and the cells --filter keeps
 * in r->cells. */
static int select_cells(ib_err *e, runner *r, const char *suite_arg)
{
    const opts *o = &r->o;
    int rc = load_suite(e, r, suite_arg);
    if (rc) return rc;
    r->repeats = o->repeat > 0 ? o->repeat : r->suite->repeats;
    r->retries = o->retries >= 0 ? o->retries : suite_retries(r->suite);
    r->timeout = o->timeout > 0 ? o->timeout : r->suite->timeout;
    r->cache_budget = r->suite->cache_budget;
    if (o->cache_budget && (ib_parse_bytes(o->cache_budget, &r->cache_budget) != 0 ||
                            r->cache_budget < 0))
        return ib_error(e, IB_EINVAL, "option '--cache-budget' must be a byte count (4096, "
                        "500M, 4G; 0: no limit), got '%s'", o->cache_budget);
    r->cells = ib_calloc(r->suite->ncells, sizeof *r->cells);
    if (!r->cells)
        return ib_error(e, IB_ENOMEM, "out of memory for the %zu cells of suite '%s'",
                        r->suite->ncells, r->suite->path);
    for (size_t i = 0; i < r->suite->ncells; i++) {
        int m;
        rc = wl_suite_filter(e, &r->suite->cells[i], o->filter, &m);
        if (rc) return rc;
        if (m) r->cells[r->ncells++] = &r->suite->cells[i];
    }
    if (r->ncells == 0)
        return ib_error(e, IB_EINVAL, "filter '%s' matches none of the %zu cells of suite '%s'",
                        o->filter, r->suite->ncells, r->suite->path);
    return 0;
}

/* Run every selected cell's attempts (warm-up rounds first, then the
 * repeats round-robin) under the run's lock, and record the run's end.
 * *status: 0, 1 when a cell failed, 130 when interrupted. */
static int execute(ib_err *e, runner *r, int argc, char **argv, int *status)
{
    const opts *o = &r->o;
    res_provenance *prov = ib_calloc(1, sizeof *prov);
    if (!prov)
        return ib_error(e, IB_ENOMEM, "out of memory for the run's provenance (%zu bytes)",
                        sizeof *prov);
    res_provenance_collect(prov);
    size_t len = (size_t)snprintf(prov->command, sizeof prov->command, "harness run-suite");
    for (int i = 0; i < argc && len < sizeof prov->command; i++)
        len += (size_t)snprintf(prov->command + len, sizeof prov->command - len, " %s", argv[i]);

    int rc = open_and_lock(e, r, prov);
    if (rc) {
        ib_free(prov);
        return rc;
    }
    rc = prepare(e, r);
    size_t total = 0;
    for (size_t k = 0; !rc && k < r->ncells * (size_t)r->repeats; k++) total += r->todo[k];
    hx_progress_init(&r->prog, stderr, total);
    if (!rc)
        hx_progress_message(&r->prog, "run %lld: suite %s, %zu cell%s x %d repeat%s, %zu to run%s",
                            (long long)r->run_id, r->suite->name, r->ncells,
                            r->ncells == 1 ? "" : "s", r->repeats, r->repeats == 1 ? "" : "s",
                            total,
                            o->resume && total < r->ncells * (size_t)r->repeats
                                ? " (resumed: the others already succeeded)"
                                : "");
    hx_signals_install();
    size_t ordinal = 0;
    /* warm-up rounds, unrecorded, for the cells that still have attempts */
    int nwarm = o->warmup >= 0 ? o->warmup : r->suite->warmup;
    for (int k = 0; !rc && k < nwarm; k++)
        for (size_t i = 0; !rc && i < r->ncells; i++) {
            int left = 0;
            for (int j = 0; j < r->repeats; j++) left |= r->todo[i * (size_t)r->repeats + j];
            if (left) rc = warm_up(r, i);
        }
    /* round-robin: repeat k of every cell before repeat k+1 of any */
    for (int k = 0; !rc && k < r->repeats; k++)
        for (size_t i = 0; !rc && i < r->ncells; i++) {
            if (!r->todo[i * (size_t)r->repeats + k]) continue;
            if (hx_interrupted()) {
                rc = IB_EINTERRUPTED;
                break;
            }
            rc = run_slot(e, r, i, k, ordinal++, prov);
        }
    hx_signals_restore();
    ib_free(prov);
    const char *run_status = rc == IB_EINTERRUPTED ? "interrupted"
                             : rc ? "failed"
                             : r->nfail ? "failed" : "complete";
    ib_err fe;
    ib_err_init(&fe);
    if ((res_run_finish(&fe, r->db, r->run_id, run_status) ||
         res_run_unlock(&fe, r->db, r->run_id)) && !rc) {
        rc = fe.code;
        *e = fe;
    }
    if (rc == IB_EINTERRUPTED) {
        fprintf(stderr, "harness run-suite: interrupted; run %lld recorded as interrupted "
                        "(continue with --resume)\n", (long long)r->run_id);
        *status = 130;
        return 0;
    }
    if (rc) return rc;
    char retried[64] = "";
    if (r->nretries)
        snprintf(retried, sizeof retried, ", %d retr%s", r->nretries,
                 r->nretries == 1 ? "y" : "ies");
    hx_progress_message(&r->prog, "run %lld %s: %d ok, %d not ok%s (harness show %lld --db %s)",
                        (long long)r->run_id, run_status, r->nok, r->nfail, retried,
                        (long long)r->run_id, o->db);
    *status = r->nfail ? 1 : 0;
    return 0;
}

int hx_cmd_run_suite(int argc, char **argv)
{
    runner r;
    memset(&r, 0, sizeof r);
    opts *o = &r.o;
    int ps = parse_options(&r, argc, argv);
    if (ps >= 0) return ps;
    char suite_path[4096];
    const char *suite_arg =
        hx_data_file("suites", argv[0], suite_path, sizeof suite_path) ? suite_path : argv[0];
    ib_err e;
    ib_err_init(&e);
    int status = 1;
    int rc = 0;
    rc = check_launcher(&e, &r);
    if (rc) goto out;
    if (o->repeat < 0 || (o->timeout != -1 && o->timeout <= 0) || o->warmup < -1 ||
        o->warmup > 100) {
        rc = ib_error(&e, IB_EINVAL, "--repeat must be >= 1, --warmup 0..100 and --timeout > 0");
        goto out;
    }
    rc = check_run_options(&e, o);
    if (!rc) rc = select_cells(&e, &r, suite_arg);
    if (rc) goto out;
    if (o->dry_run) {
        rc = dry_run(&e, &r);
        if (!rc) status = 0;
        goto out;
    }

    rc = ib_path_fmt(&e, r.imager, sizeof r.imager, "%s/imager", hx_bin_dir());
    if (!rc) rc = ib_path_fmt(&e, r.harness, sizeof r.harness, "%s/harness", hx_bin_dir());
    if (rc) goto out;
    if (access(r.imager, X_OK) != 0) {
        rc = ib_error(&e, IB_ENOTFOUND, "imager '%s' not found (build it: make programs)",
                      r.imager);
        goto out;
    }
    if (!strcmp(o->launcher, "slurm")) {
        if (access(r.harness, X_OK) != 0) {
            rc = ib_error(&e, IB_ENOTFOUND, "harness '%s' not found (the jobs run it to "
                                            "generate datasets)", r.harness);
            goto out;
        }
        rc = emit_slurm(&e, &r);
        if (!rc) status = 0;
        goto out;
    }
    r.have_mpirun = hx_which("mpirun", r.mpirun, sizeof r.mpirun) == 0;
    /* PMIx takes its munge security plug-in whenever it is installed (as
     * Debian's is) and, with no munged running, retries munged's socket
     * for 2.1 s before it falls back: every mpirun paid that here, 2.4 s
     * against 0.12 s. The ranks of our mpirun lines are this user's own,
     * so PMIx's native check of the peer's uid is enough; a choice the user
     * made in the environment stands. */
    if (r.have_mpirun) setenv("PMIX_MCA_psec", "native", 0);
    if (hx_which("wsclean", r.wsclean, sizeof r.wsclean)) r.wsclean[0] = '\0';
    r.cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (r.cores < 1) r.cores = 1;

    rc = execute(&e, &r, argc, argv, &status);
out:
    runner_release(&r);
    if (rc) return hx_fail("run-suite", &e);
    return status;
}
