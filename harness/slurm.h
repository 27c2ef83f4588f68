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

#include "common/common.h"

/* In gen_argv, the element equal to this string stands for the job's
 * temporary dataset directory (it becomes "$tmp" in the script). */
#define HX_SLURM_TMP "@IMBENCH_TMP@"

/* One job: a cell's repeat. Every pointer is borrowed; paths are absolute. */
typedef struct hx_slurm_job {
    const char *name;          /* --job-name, e.g. imbench-smoke-0123456789ab-r0 */
    const char *comment;       /* one line on the cell, for the script's header */
    const char *cell_dir;      /* the script's directory: logs, outputs, cell.json */
    int nodes, ntasks, tasks_per_node, cpus_per_task;
    double timeout_s;          /* the suite's seconds per attempt: --time */
    const char *dataset;       /* dataset name, for messages */
    const char *data_dir;      /* the dataset's directory in the cache */
    char *const *gen_argv;     /* harness gen ... --out HX_SLURM_TMP ..., NULL-terminated */
    const char *cache_json;    /* text of the cache.json written beside vis.h5 */
    char *const *run_argv;     /* srun|mpirun ... imager ..., NULL-terminated */
    int srun;                  /* run_argv starts with srun */
    const char *cell_head;     /* cell.json's constant fields: a JSON object's
                                * text without its closing brace */
    int keep_products;         /* keep the FITS cubes of a successful cell */
} hx_slurm_job;

/*
 * Slurm time limit for timeout_s seconds: whole minutes, rounded up, at
 * least one, as "HH:MM:SS" (hours may pass 24) into buf (>= 16 bytes).
 */
void hx_slurm_time(double timeout_s, char *buf, size_t n);

/*
 * Write the batch script of job j to path (written as path.tmp, then
 * renamed; mode 0755). The script (bash, `set -euo pipefail`) generates
 * the dataset when the cache lacks it (under a flock on DATA.lock, into
 * DATA.tmp-JOB-PID renamed into place), runs run_argv with stdout.log and
 * stderr.log in cell_dir, and always leaves cell_dir/cell.json in the
 * format `harness ingest` reads: status ok, failed (with the exit code),
 * timeout or interrupted (SIGTERM/SIGINT, e.g. scancel or the time limit).
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
