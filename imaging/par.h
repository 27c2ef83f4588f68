/*
 * par.h: the imager's MPI layer (included by imaging.h). A rank is a
 * "node"; every MPI call the imager makes goes through these wrappers,
 * which count messages, bytes and seconds per operation class for the
 * communication statistics. Without mpirun the imager runs as one rank and
 * never initialises MPI.
 */
#ifndef IMG_PAR_H
#define IMG_PAR_H

#include <stdint.h>

#include "common/common.h"

#define IMG_COMM_OP_MAP(X) \
    X(P2P, "p2p")          \
    X(REDUCE, "reduce")    \
    X(GATHER, "gather")    \
    X(BARRIER, "barrier")  \
    X(BCAST, "bcast")

enum img_comm_op {
#define IMG_COMM_ENUM(name, text) IMG_COMM_##name,
    IMG_COMM_OP_MAP(IMG_COMM_ENUM)
#undef IMG_COMM_ENUM
    IMG_COMM_NOPS
};

const char *img_comm_op_name(int op);

typedef struct img_comm_stats {
    uint64_t msgs_sent[IMG_COMM_NOPS], msgs_recv[IMG_COMM_NOPS];
    uint64_t bytes_sent[IMG_COMM_NOPS], bytes_recv[IMG_COMM_NOPS];
    double seconds[IMG_COMM_NOPS];
} img_comm_stats;

typedef struct img_par {
    int rank, size;
    int mpi;            /* MPI initialised (launched by mpirun) */
    int thread_level;   /* provided MPI thread level */
} img_par;

/*
 * Initialise MPI when launched by mpirun/srun (OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_RANK in the environment) with MPI_THREAD_MULTIPLE and
 * errors returned, not fatal; otherwise rank 0 of 1 without MPI.
 */
int img_par_init(ib_err *e, img_par *par, int *argc, char ***argv);
/* Finalise (normal end) or abort the whole job with code (after an error
 * on this rank: the other ranks are killed instead of hanging). */
void img_par_finalize(img_par *par);
_Noreturn void img_par_abort(img_par *par, int code);

/*
 * Every rank's n values on rank 0: all[r * n + i] is rank r's mine[i]
 * (all: size * n values on rank 0, unused elsewhere). A collective: every
 * rank calls it. Without MPI a copy. For counters kept per process (the
 * software-defined events, PAPI totals), which rank 0 sums and reports
 * per rank too.
 */
int img_par_gather_counts(ib_err *e, const img_par *par, const int64_t *mine, int n,
                          int64_t *all);

#endif
