/*
 * slurm.h: internal interface of harness/slurm.c, the text side of
 * `harness run-suite --launcher slurm --emit DIR`: one batch script per
 * (cell, repeat), the submit-all.sh beside them, and sbatch submission.
 * What to run (the `harness gen` and imager argument vectors) is decided
 * by cmd_run_suite.c, with the same code that runs cells locally; this
 * file only renders it as bash and knows Slurm's conventions.
 * Prefix hx_slurm_.
 */
#ifndef HX_SLURM_H
#define HX_SLURM_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* In gen_argv, the element equal to this string stands for the job's
 * temporary dataset directory (it becomes "$tmp" in the script). */
#define HX_SLURM_TMP "@IMBENCH_TMP@"

/* In run_argv and cell_head, this string at the start of an element (or
 * anywhere in cell_head's text) stands for the attempt's directory,
 * CELL_DIR/attempt-N, which the job creates when it starts: each
 * submission of a script is an attempt of its own, so a resubmitted job
 * never overwrites what an earlier attempt left. */
#define HX_SLURM_ATTEMPT "@IMBENCH_ATTEMPT@"

/* Seconds before the time limit at which Slurm warns the job (SIGUSR1 to
 * the batch shell: #SBATCH --signal=B:USR1@HX_SLURM_WARN_S). Slurm may
 * send it up to a minute earlier, so the time limit is the suite's
 * timeout plus twice this. */
#define HX_SLURM_WARN_S 60

/* Seconds the job waits for the imager after SIGTERM before SIGKILL: less
 * than Slurm's default KillWait (30 s), so the job script outlives it
 * and still records the attempt. */
#define HX_SLURM_GRACE_S 20

/* One job: a cell's repeat. Every pointer is borrowed; paths are absolute. */
typedef struct hx_slurm_job {
    const char *name;          /* --job-name, e.g. imbench-smoke-0123456789ab-r0 */
    const char *comment;       /* one line on the cell, for the script's header */
    const char *cell_dir;      /* the script's directory: job.sbatch, slurm-JOBID.out/err,
                                * and one attempt-N/ per submission */
    const char *partition;     /* --partition, or NULL: sbatch's default */
    int nodes;                 /* --nodes, or 0: no line (Slurm places the tasks) */
    int ntasks;                /* --ntasks: the cell's ranks */
    int tasks_per_node;        /* --ntasks-per-node, or 0: no line */
    int cpus_per_task;         /* --cpus-per-task: the cell's threads */
    double timeout_s;          /* the suite's seconds per attempt (the imager's limit) */
    const char *dataset;       /* dataset name, for messages */
    const char *data_dir;      /* the dataset's directory in the cache */
    char *const *gen_argv;     /* harness gen ... --out HX_SLURM_TMP ..., NULL-terminated */
    const char *cache_json;    /* text of the cache.json written beside vis.h5 */
    char *const *run_argv;     /* srun|mpirun ... imager ..., NULL-terminated */
    int srun;                  /* run_argv starts with srun */
    const char *mpi_type;      /* exported as SLURM_MPI_TYPE for srun, or NULL */
    const char *harness;       /* the harness binary: `harness provenance` on the node */
    const char *origin;        /* where run-suite ran: provenance's git runs there */
    const char *cell_head;     /* cell.json's constant fields: a JSON object's
                                * text without its closing brace */
    int keep_products;         /* keep the FITS cubes of a successful cell */
} hx_slurm_job;

/*
 * What the harness knows of a partition (hx_slurm_query): its limits, and
 * its nodes grouped by size. Fields Slurm reports as UNLIMITED are -1.
 */
typedef struct hx_slurm_nodes {
    int count;                 /* nodes of this size that take jobs */
    int cpus;                  /* CPUs per node */
    int64_t mem_mb;            /* RealMemory per node, MB */
} hx_slurm_nodes;

typedef struct hx_slurm_part {
    char name[128];
    char state[32];            /* UP, DOWN, DRAIN or INACTIVE */
    long max_time_min;         /* MaxTime in minutes, -1 unlimited */
    long max_nodes;            /* MaxNodes per job, -1 unlimited */
    int total_nodes;           /* every node of the partition */
    hx_slurm_nodes groups[16]; /* nodes that take jobs, largest first */
    int ngroups;
    char down[256];            /* some nodes that do not take jobs, "vm3 (drained)" */
    char mpi[256];             /* `srun --mpi=list`'s plug-ins, space-separated */
} hx_slurm_part;

/* What a job needs, for hx_slurm_check and hx_slurm_place. */
typedef struct hx_slurm_need {
    int ranks, threads;
    int tasks_per_node;        /* ranks per node asked for, 0: as many as fit */
    double timeout_s;          /* the suite's timeout (the job's limit adds 2 x WARN) */
    int64_t mem_per_rank;      /* bytes (the cell's mem_budget), 0: not checked */
    const char *mpi_type;      /* the MPI plug-in srun will use, NULL: none needed */
} hx_slurm_need;

/* Where a job's ranks go: the #SBATCH numbers of hx_slurm_job. */
typedef struct hx_slurm_shape {
    int nodes, tasks_per_node; /* 0: no line */
} hx_slurm_shape;

/*
 * The job's time limit in minutes for a suite timeout of timeout_s: the
 * imager's timeout plus 2 x HX_SLURM_WARN_S, whole minutes rounded up,
 * at least one.
 */
long hx_slurm_limit_min(double timeout_s);

/*
 * Ask the cluster about partition name (NULL: $SBATCH_PARTITION, else the
 * default partition) with scontrol and sinfo, and srun for its MPI
 * plug-ins. IB_ENOTFOUND when Slurm's commands are not on PATH or no
 * controller answers, IB_EINVAL when there is no such partition, with
 * the command's message; *p is filled on success.
 */
int hx_slurm_query(ib_err *e, const char *name, hx_slurm_part *p);

/*
 * The same from the commands' text: `scontrol show partition -o`
 * (one line per partition), `sinfo -h -p NAME -o '%D|%c|%m|%T|%N'`
 * (node groups) and `srun --mpi=list`. For the tests; errors as above.
 */
int hx_slurm_parse(ib_err *e, const char *name, const char *partitions, const char *nodes,
                   const char *mpi_list, hx_slurm_part *p);

/*
 * Can a job needing n run on partition p? 0 when it can, with its shape
 * in *s; 1 when it cannot, with the reason in why (n bytes), e.g.
 * "2 ranks x 2 threads need 4 cores, partition 'debug' has 1 node of 2
 * cores".
 */
int hx_slurm_check(const hx_slurm_part *p, const hx_slurm_need *n, hx_slurm_shape *s,
                   char *why, size_t nwhy);

/*
 * The shape of a job when the partition is not known (p NULL): with
 * tasks_per_node, ceil(ranks / it) nodes of that many tasks; else no
 * --nodes line (Slurm packs the tasks). With p, what hx_slurm_check
 * gives.
 */
void hx_slurm_place(const hx_slurm_part *p, const hx_slurm_need *n, hx_slurm_shape *s);

/*
 * timeout_s seconds as a Slurm time: whole minutes, rounded up, at least
 * one, as "HH:MM:SS" (hours may pass 24) into buf (>= 16 bytes).
 */
void hx_slurm_time(double timeout_s, char *buf, size_t n);

/*
 * The MPI plug-in a multi-rank srun job is given (SLURM_MPI_TYPE in its
 * script): $SLURM_MPI_TYPE when set to a plain word, else "pmix", which
 * Debian's Open MPI needs.
 */
const char *hx_slurm_mpi_type(void);

/*
 * Write the batch script of job j to path (written as path.tmp, then
 * renamed; mode 0755). The script (bash, `set -euo pipefail`) makes its
 * attempt directory, cell_dir/attempt-N with the first free N; generates
 * the dataset when the cache lacks it (under a flock on DATA.lock, into
 * DATA.tmp-JOB-PID renamed into place); writes the node's provenance.json
 * (`harness provenance`, git run in origin); runs run_argv, stopped
 * after the suite's timeout (SIGTERM to the ranks, SIGKILL
 * HX_SLURM_GRACE_S later), with stdout.log and stderr.log in the
 * attempt; and always leaves
 * attempt-N/cell.json in the format `harness ingest` reads: status ok,
 * failed (with the exit code), timeout (the suite's timeout, or Slurm's
 * SIGUSR1 before the time limit) or interrupted (SIGTERM: scancel; SIGINT).
 * A stopped attempt's temporaries (*.tmp, spill/) are removed.
 * IB_EIO with the path on failure; nothing is left at path then.
 */
int hx_slurm_write_job(ib_err *e, const hx_slurm_job *j, const char *path);

/*
 * Write dir/submit-all.sh: `sbatch "$@" SCRIPT` for each of the n
 * scripts, in order (extra sbatch options pass through). IB_EIO on
 * failure.
 */
int hx_slurm_write_submit_all(ib_err *e, const char *dir, char *const *scripts, size_t n);

/*
 * Submit script with `sbatch --parsable` (sbatch: its path). The job id is
 * put in jobid (n bytes); sbatch's stdout goes to out_path. IB_ECHILD with
 * sbatch's message when it fails or cannot be run.
 */
int hx_slurm_submit(ib_err *e, const char *sbatch, const char *script, const char *out_path,
                    char *jobid, size_t n);

/*
 * Can s be written verbatim into an #SBATCH line and a script (no
 * whitespace, quotes, '%', '$', '\\', '`' or control characters)? Paths
 * given to Slurm directives must be.
 */
int hx_slurm_plain_path(const char *s);

#endif
