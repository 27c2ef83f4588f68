/*
 * par.c: MPI start-up and the counted wrappers around every MPI call the
 * imager makes (see par.h and internal.h). Counters are per call site
 * class, kept with relaxed atomics since worker threads send and receive
 * concurrently (MPI_THREAD_MULTIPLE).
 */
#include "imaging/internal.h"

#include <mpi.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *img_comm_op_name(int op)
{
    static const char *names[] = {
#define IMG_COMM_NAME(name, text) text,
        IMG_COMM_OP_MAP(IMG_COMM_NAME)
#undef IMG_COMM_NAME
    };
    return op >= 0 && op < IMG_COMM_NOPS ? names[op] : "unknown";
}

static int launched_by_mpi(void)
{
    const char *v[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (getenv(v[i])) return 1;
    return 0;
}

int img_par_init(ib_err *e, img_par *par, int *argc, char ***argv)
{
    memset(par, 0, sizeof *par);
    par->size = 1;
    if (!launched_by_mpi()) {
        /* srun without an MPI plug-in starts N independent processes: each
         * would image the whole cube as rank 0 of 1 and write the same files.
         * That is an error, never N silently duplicated runs. */
        const char *st = getenv("SLURM_STEP_NUM_TASKS");
        long nt = st ? strtol(st, NULL, 10) : 0;
        if (nt > 1)
            return ib_error(e, IB_EMPI,
                            "started by srun as one of %ld tasks without MPI wire-up (no PMIx "
                            "or PMI variables): every task would image the whole cube alone; "
                            "use srun --mpi=pmix, or export SLURM_MPI_TYPE=pmix before sbatch",
                            nt);
        return 0;
    }
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return ib_error(e, IB_EMPI, "cannot initialise MPI");
    par->mpi = 1;
    par->thread_level = provided;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &par->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &par->size);
    if (provided < MPI_THREAD_MULTIPLE && par->size > 1)
        return ib_error(e, IB_EMPI, "rank %d: MPI provides thread level %d, the imager needs "
                        "MPI_THREAD_MULTIPLE", par->rank, provided);
    return 0;
}

void img_par_finalize(img_par *par)
{
    if (par->mpi) MPI_Finalize();
    par->mpi = 0;
}

_Noreturn void img_par_abort(img_par *par, int code)
{
    fflush(stdout);
    fflush(stderr);
    if (par->mpi && par->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    if (par->mpi) MPI_Finalize();
    exit(code);
}

int img_par_gather_counts(ib_err *e, const img_par *par, const int64_t *mine, int n,
                          int64_t *all)
{
    if (!par->mpi || par->size == 1) {
        memcpy(all, mine, sizeof *mine * (size_t)n);
        return 0;
    }
    int rc = MPI_Gather(mine, n, MPI_INT64_T, all, n, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (rc == MPI_SUCCESS) return 0;
    char txt[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, txt, &len);
    return ib_error(e, IB_EMPI, "rank %d: gathering the counters failed: %s", par->rank, txt);
}

/* ---------- counted wrappers ---------- */

static void count(img__comm *c, int op, int sent, uint64_t bytes, double secs)
{
    img_comm_stats *s = &c->st;
    pthread_mutex_lock(&c->lock);
    if (sent) {
        s->msgs_sent[op]++;
        s->bytes_sent[op] += bytes;
    } else {
        s->msgs_recv[op]++;
        s->bytes_recv[op] += bytes;
    }
    s->seconds[op] += secs;
    pthread_mutex_unlock(&c->lock);
}

static int mpi_fail(ib_err *e, const img__comm *c, int rc, const char *what, int peer)
{
    char txt[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, txt, &len);
    return ib_error(e, IB_EMPI, "rank %d: %s with rank %d failed: %s", c->par->rank, what, peer,
                    txt);
}

void img__comm_init(img__comm *c, const img_par *par)
{
    memset(c, 0, sizeof *c);
    c->par = par;
    pthread_mutex_init(&c->lock, NULL);
}

void img__comm_release(img__comm *c) { pthread_mutex_destroy(&c->lock); }

int img__send(ib_err *e, img__comm *c, const void *buf, int bytes, int dest, int tag)
{
    double t0 = ib_now();
    int rc = MPI_Send(buf, bytes, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    count(c, IMG_COMM_P2P, 1, (uint64_t)bytes, ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "send", dest);
}

int img__recv(ib_err *e, img__comm *c, void *buf, int bytes, int src, int tag, int *from,
              int *got_tag)
{
    MPI_Status st;
    double t0 = ib_now();
    int rc = MPI_Recv(buf, bytes, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src,
                      tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &st);
    int n = 0;
    if (rc == MPI_SUCCESS) MPI_Get_count(&st, MPI_BYTE, &n);
    count(c, IMG_COMM_P2P, 0, (uint64_t)n, ib_now() - t0);
    if (rc != MPI_SUCCESS) return mpi_fail(e, c, rc, "receive", src);
    if (from) *from = st.MPI_SOURCE;
    if (got_tag) *got_tag = st.MPI_TAG;
    return 0;
}

int img__irecv(ib_err *e, img__comm *c, void *buf, int bytes, int src, int tag, img__req *q)
{
    q->bytes = bytes;
    int rc = MPI_Irecv(buf, bytes, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src,
                       tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &q->r);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "receive", src);
}

int img__wait(ib_err *e, img__comm *c, img__req *q)
{
    MPI_Status st;
    double t0 = ib_now();
    int rc = MPI_Wait(&q->r, &st);
    int n = 0;
    if (rc == MPI_SUCCESS) MPI_Get_count(&st, MPI_BYTE, &n);
    count(c, IMG_COMM_P2P, 0, (uint64_t)n, ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "wait for", st.MPI_SOURCE);
}

int img__probe(ib_err *e, img__comm *c, long *nap_ns, long max_nap_ns, int *from, int *tag,
               int *bytes)
{
    MPI_Status st;
    double t0 = ib_now();
    /* Poll with a sleep rather than MPI_Probe, which spins: rank 0's
     * service thread must not take a core from the rank's workers. The
     * caller keeps the nap: it starts at 20 us after a message (a burst of
     * requests or planes is served at once) and doubles while nothing
     * comes, up to max_nap_ns, which the caller may change between polls
     * (long while requests come ahead of need: a VM's timer wake-ups are
     * not cheap; short while a rank waits for the answer). */
    int flag = 0;
    int rc = MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
    *tag = -1;
    if (rc == MPI_SUCCESS && !flag) {
        long n = *nap_ns < 20000 ? 20000 : *nap_ns > max_nap_ns ? max_nap_ns : *nap_ns;
        struct timespec nap = {n / 1000000000L, n % 1000000000L};
        nanosleep(&nap, NULL);
        *nap_ns = 2 * n;
    } else if (rc == MPI_SUCCESS) {
        *nap_ns = 20000;
    }
    pthread_mutex_lock(&c->lock);
    c->st.seconds[IMG_COMM_P2P] += ib_now() - t0;
    pthread_mutex_unlock(&c->lock);
    if (rc != MPI_SUCCESS) return mpi_fail(e, c, rc, "probe", -1);
    if (!flag) return 0;
    MPI_Get_count(&st, MPI_BYTE, bytes);
    *from = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return 0;
}

int img__barrier(ib_err *e, img__comm *c)
{
    if (!c->par->mpi) return 0;
    double t0 = ib_now();
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    count(c, IMG_COMM_BARRIER, 1, 0, ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "barrier", -1);
}

int img__allreduce_max_int(ib_err *e, img__comm *c, int *v)
{
    if (!c->par->mpi) return 0;
    int in = *v;
    double t0 = ib_now();
    int rc = MPI_Allreduce(&in, v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    count(c, IMG_COMM_REDUCE, 1, sizeof(int), ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "allreduce", -1);
}

int img__reduce_max_float(ib_err *e, img__comm *c, float *v, int n)
{
    if (!c->par->mpi) return 0;
    double t0 = ib_now();
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    count(c, IMG_COMM_REDUCE, 1, (uint64_t)n * sizeof(float), ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "allreduce", -1);
}

int img__reduce_sum(ib_err *e, img__comm *c, void *v, size_t n, int dbl, int root)
{
    if (!c->par->mpi || c->par->size == 1) return 0;
    const size_t piece = (size_t)1 << 28, es = dbl ? 8 : 4;
    MPI_Datatype t = dbl ? MPI_DOUBLE : MPI_FLOAT;
    for (size_t o = 0; o < n; o += piece) {
        int k = (int)(n - o < piece ? n - o : piece);
        void *p = (char *)v + o * es;
        double t0 = ib_now();
        int rc = root < 0 ? MPI_Allreduce(MPI_IN_PLACE, p, k, t, MPI_SUM, MPI_COMM_WORLD)
                 : c->par->rank == root
                     ? MPI_Reduce(MPI_IN_PLACE, p, k, t, MPI_SUM, root, MPI_COMM_WORLD)
                     : MPI_Reduce(p, NULL, k, t, MPI_SUM, root, MPI_COMM_WORLD);
        count(c, IMG_COMM_REDUCE, 1, (uint64_t)k * es, ib_now() - t0);
        if (rc != MPI_SUCCESS) return mpi_fail(e, c, rc, root < 0 ? "allreduce" : "reduce", root);
    }
    return 0;
}

int img__gather(ib_err *e, img__comm *c, const void *send, int bytes, void *recv)
{
    if (!c->par->mpi) {
        memcpy(recv, send, (size_t)bytes);
        return 0;
    }
    double t0 = ib_now();
    int rc = MPI_Gather(send, bytes, MPI_BYTE, recv, bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    count(c, IMG_COMM_GATHER, 1, (uint64_t)bytes, ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "gather", 0);
}

int img__gatherv(ib_err *e, img__comm *c, const void *send, int bytes, void *recv,
                 const int *counts, const int *displs)
{
    if (!c->par->mpi) {
        memcpy(recv, send, (size_t)bytes);
        return 0;
    }
    double t0 = ib_now();
    int rc = MPI_Gatherv(send, bytes, MPI_BYTE, recv, counts, displs, MPI_BYTE, 0,
                         MPI_COMM_WORLD);
    count(c, IMG_COMM_GATHER, 1, (uint64_t)bytes, ib_now() - t0);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(e, c, rc, "gatherv", 0);
}
