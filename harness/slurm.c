/*
 * slurm.c: batch scripts for `harness run-suite --launcher slurm`, and
 * what the harness asks a cluster before it submits them. A job script
 * is self-contained bash: it needs the harness and imager binaries on a
 * filesystem the compute nodes share, bash, coreutils, sed and awk
 * (flock and scancel when present), and nothing of the harness's state.
 * Each submission makes an attempt directory of its own and writes its
 * cell.json and provenance.json there itself, so that a batch system's
 * attempts reach the results database through `harness ingest` exactly
 * as local ones do.
 */
#define _GNU_SOURCE
#include "harness/slurm.h"
#include "harness/harness.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hx_slurm_time(double timeout_s, char *buf, size_t n)
{
    double m = ceil(timeout_s / 60.0);
    long long minutes = isfinite(m) && m >= 1 ? (m > 1e9 ? 1000000000LL : (long long)m) : 1;
    snprintf(buf, n, "%02lld:%02lld:00", minutes / 60, minutes % 60);
}

long hx_slurm_limit_min(double timeout_s)
{
    double m = ceil((timeout_s + 2.0 * HX_SLURM_WARN_S) / 60.0);
    return isfinite(m) && m >= 1 ? (m > 1e9 ? 1000000000L : (long)m) : 1;
}

int hx_slurm_plain_path(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"'%$\\`;&|<>()*?[]{}#!~", *p)) return 0;
    return *s != '\0';
}

/* s as one shell word: verbatim when it is made of safe characters, else
 * in single quotes (a quote inside as '\''). */
static void put_word(FILE *f, const char *s)
{
    if (!strcmp(s, HX_SLURM_TMP)) {
        fputs("\"$tmp\"", f);
        return;
    }
    size_t na = strlen(HX_SLURM_ATTEMPT);
    if (!strncmp(s, HX_SLURM_ATTEMPT, na)) {
        fputs("\"$attempt\"", f);
        s += na;
        if (!*s) return;
    }
    size_t safe = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789_@%+=:,./-");
    if (*s && s[safe] == '\0') {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = s; *p; p++) {
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    }
    fputc('\'', f);
}

static void put_argv(FILE *f, char *const *argv)
{
    for (int i = 0; argv[i]; i++) {
        if (i) fputc(' ', f);
        put_word(f, argv[i]);
    }
}

/* Create path.tmp; the caller finishes with finish_file. */
static FILE *open_tmp(ib_err *e, const char *path, char *tmp, size_t n)
{
    if (snprintf(tmp, n, "%s.tmp", path) >= (int)n) {
        ib_error(e, IB_EINVAL, "path '%s' is too long", path);
        return NULL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) ib_error(e, IB_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    return f;
}

static int finish_file(ib_err *e, FILE *f, const char *tmp, const char *path)
{
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (!bad && chmod(tmp, 0755) != 0) bad = 1;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    if (bad) {
        int err = errno;
        remove(tmp);
        return ib_error(e, IB_EIO, "cannot write '%s': %s", path, strerror(err));
    }
    return 0;
}

/* The script's functions: the same for every job. */
static const char script_functions[] =
    "stamp() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }\n"
    "\n"
    "# stdin as a JSON string: printable ASCII kept, tabs and CRs as spaces.\n"
    "json_string() {\n"
    "    LC_ALL=C tr '\\t\\r' '  ' | LC_ALL=C tr -d '\\000-\\011\\013-\\037\\177-\\377' |\n"
    "        sed -e 's/\\\\/\\\\\\\\/g' -e 's/\"/\\\\\"/g' |\n"
    "        awk 'BEGIN { printf \"%s\", \"\\\"\" }\n"
    "             { if (NR > 1) printf \"%s\", \"\\\\n\"; printf \"%s\", $0 }\n"
    "             END { printf \"%s\", \"\\\"\" }'\n"
    "}\n"
    "\n"
    "# write_cell STATUS EXIT_CODE SIGNAL: the attempt's cell.json, as\n"
    "# `harness ingest` reads it (written whole, then renamed).\n"
    "write_cell() {\n"
    "    local ended wall tailtext host\n"
    "    ended=$(stamp)\n"
    "    if [ -n \"$t0\" ]; then\n"
    "        wall=$(awk -v a=\"$t0\" -v b=\"$(date +%s.%N)\" 'BEGIN { printf \"%.6f\", b - a }')\n"
    "    else\n"
    "        wall=null\n"
    "        started=$ended\n"
    "    fi\n"
    "    tailtext=$({\n"
    "        if [ -s \"$attempt/stderr.log\" ]; then tail -c 4096 \"$attempt/stderr.log\"; fi\n"
    "        if [ -n \"$note\" ]; then printf '%s\\n' \"$note\"; fi\n"
    "    } | json_string)\n"
    "    host=$(printf '%s' \"${SLURMD_NODENAME:-$(uname -n)}\" | json_string)\n"
    "    printf '%s, \"status\": \"%s\", \"exit_code\": %d, \"signal\": %d, \"started_at\": \"%s\", "
    "\"ended_at\": \"%s\", \"wall_s\": %s, \"stderr_tail\": %s, \"host\": %s, "
    "\"slurm_job_id\": \"%s\", \"attempt\": \"%s\"}\\n' \\\n"
    "        \"$cell_head\" \"$1\" \"$2\" \"$3\" \"$started\" \"$ended\" \"$wall\" \"$tailtext\" "
    "\"$host\" \\\n"
    "        \"${SLURM_JOB_ID:-}\" \"${attempt##*/}\" >\"$attempt/cell.json.tmp\"\n"
    "    mv -f \"$attempt/cell.json.tmp\" \"$attempt/cell.json\"\n"
    "    written=1\n"
    "}\n"
    "\n"
    "# run_child COMMAND...: in the background, waited for, so that a signal to\n"
    "# this shell reaches the trap at once (bash runs traps between commands).\n"
    "run_child() {\n"
    "    local r=0\n"
    "    \"$@\" &\n"
    "    child=$!\n"
    "    wait \"$child\" || r=$?\n"
    "    child=\n"
    "    return \"$r\"\n"
    "}\n"
    "\n"
    "# stop_child: SIGTERM to the ranks, SIGKILL to the child when it is still\n"
    "# there after grace_s seconds. srun answers SIGTERM with SIGKILL to its\n"
    "# tasks, so srun's ranks get SIGTERM from scancel (job steps only, not this\n"
    "# script), and can remove their temporaries; mpirun passes SIGTERM on.\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "stop_child() {\n"
    "    if [ -z \"$child\" ]; then return 0; fi\n"
    "    if [ \"$child_step\" = 1 ] && [ -n \"${SLURM_JOB_ID:-}\" ] &&\n"
    "        scancel -s TERM \"$SLURM_JOB_ID\" 2>/dev/null; then\n"
    "        :\n"
    "    else\n"
    "        kill -TERM \"$child\" 2>/dev/null || true\n"
    "    fi\n"
    "    local n=0\n"
    "    while kill -0 \"$child\" 2>/dev/null && [ \"$n\" -lt $((grace_s * 10)) ]; do\n"
    "        sleep 0.1\n"
    "        n=$((n + 1))\n"
    "    done\n"
    "    kill -KILL \"$child\" 2>/dev/null || true\n"
    "    wait \"$child\" 2>/dev/null || true\n"
    "    child=\n"
    "}\n"
    "\n"
    "# clean: what a stopped attempt leaves behind: the dataset being generated,\n"
    "# the imager's unfinished products (*.tmp) and its spill files.\n"
    "clean() {\n"
    "    if [ -n \"$tmp\" ]; then rm -rf \"$tmp\"; fi\n"
    "    tmp=\n"
    "    rm -f \"$attempt\"/*.tmp\n"
    "    rm -rf \"$attempt/spill\"\n"
    "}\n"
    "\n"
    "# on_signal STATUS SIGNAL WHY: scancel and node shutdown send SIGTERM,\n"
    "# Slurm's warning before the time limit SIGUSR1 (#SBATCH --signal).\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "on_signal() {\n"
    "    trap - TERM INT USR1 USR2\n"
    "    if [ -n \"$wd\" ]; then kill \"$wd\" 2>/dev/null || true; fi\n"
    "    stop_child\n"
    "    clean\n"
    "    note=\"harness: $3\"\n"
    "    if [ -z \"$t0\" ]; then note=\"$note while generating the dataset\"; fi\n"
    "    write_cell \"$1\" $((128 + $2)) \"$2\"\n"
    "    exit $((128 + $2))\n"
    "}\n"
    "\n"
    "# Whatever else stops the script (set -e) still leaves a cell.json.\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "on_exit() {\n"
    "    local rc=$?\n"
    "    if [ \"$written\" = 0 ]; then\n"
    "        clean\n"
    "        note=\"harness: the job script stopped (exit status $rc) before the cell ended\"\n"
    "        write_cell failed \"$rc\" 0 || true\n"
    "    fi\n"
    "}\n"
    "\n"
    "# watchdog SECONDS: SIGUSR2 to this script after SECONDS, unless stopped\n"
    "# (SIGTERM) first.\n"
    "# shellcheck disable=SC2317  # runs in the background\n"
    "watchdog() {\n"
    "    local s\n"
    "    sleep \"$1\" &\n"
    "    s=$!\n"
    "    trap 'kill \"$s\" 2>/dev/null; exit 0' TERM\n"
    "    if wait \"$s\"; then kill -USR2 \"$$\" 2>/dev/null || true; fi\n"
    "}\n"
    "\n"
    "# the job's time limit as Slurm has it (sbatch options may change it)\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "job_limit() {\n"
    "    local l=\n"
    "    if [ -n \"${SLURM_JOB_ID:-}\" ]; then\n"
    "        l=$(squeue -h -o %l -j \"$SLURM_JOB_ID\" 2>/dev/null || true)\n"
    "    fi\n"
    "    printf '%s' \"${l:-$limit}\"\n"
    "}\n"
    "\n"
    "have_data() { [ -f \"$data_dir/vis.h5\" ] && [ -f \"$data_dir/cache.json\" ]; }\n";

/* The attempt's directory: the first free attempt-N, made with mkdir (atomic
 * on shared filesystems too), then the traps that record the attempt. */
static const char script_attempt[] =
    "# This submission's attempt: the first free attempt-N. A resubmitted job\n"
    "# gets a directory of its own, so no earlier attempt is overwritten.\n"
    "mkdir -p \"$cell_dir\"\n"
    "n=1\n"
    "until mkdir \"$cell_dir/attempt-$n\" 2>/dev/null; do\n"
    "    n=$((n + 1))\n"
    "    if [ \"$n\" -gt 100000 ]; then\n"
    "        echo \"harness: no free attempt directory in $cell_dir\" >&2\n"
    "        exit 1\n"
    "    fi\n"
    "done\n"
    "attempt=$cell_dir/attempt-$n\n"
    "cell_head=${cell_head//@IMBENCH_ATTEMPT@/$attempt}\n"
    "cd \"$attempt\"\n"
    "\n"
    "trap 'on_signal interrupted 15 \"cancelled (SIGTERM: scancel, or the node is going "
    "down)\"' TERM\n"
    "trap 'on_signal interrupted 2 \"interrupted (SIGINT)\"' INT\n"
    "trap 'on_signal timeout 15 \"the job is near its time limit of $(job_limit)\"' USR1\n"
    "trap 'on_signal timeout 15 \"the imager ran past the suite timeout of $timeout_s s\"' USR2\n"
    "trap on_exit EXIT\n";

/* #SBATCH lines and the script's variables. */
static void put_head(FILE *f, const hx_slurm_job *j)
{
    char limit[32];
    hx_slurm_time(60.0 * (double)hx_slurm_limit_min(j->timeout_s), limit, sizeof limit);
    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "#SBATCH --job-name=%s\n", j->name);
    if (j->partition) fprintf(f, "#SBATCH --partition=%s\n", j->partition);
    if (j->nodes > 0) fprintf(f, "#SBATCH --nodes=%d\n", j->nodes);
    fprintf(f, "#SBATCH --ntasks=%d\n", j->ntasks);
    if (j->tasks_per_node > 0) fprintf(f, "#SBATCH --ntasks-per-node=%d\n", j->tasks_per_node);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", j->cpus_per_task);
    fprintf(f, "#SBATCH --time=%s\n", limit);
    fprintf(f, "#SBATCH --signal=B:USR1@%d\n", HX_SLURM_WARN_S);
    fprintf(f, "#SBATCH --output=%s/slurm-%%j.out\n", j->cell_dir);
    fprintf(f, "#SBATCH --error=%s/slurm-%%j.err\n", j->cell_dir);
    fprintf(f, "#\n# imbench cell: %s\n", j->comment);
    fprintf(f, "# Written by `harness run-suite --launcher slurm`. Each submission is an\n"
               "# attempt in attempt-N/ beside this script: it generates the dataset if the\n"
               "# cache lacks it, records this node's provenance.json, runs the imager\n"
               "# (stopped after the suite's timeout of %g s), and leaves stats.json,\n"
               "# tasks.csv and cell.json for `harness ingest`. Options given to sbatch\n"
               "# override the lines above.\n",
            j->timeout_s);
    fprintf(f, "set -euo pipefail\n\n");
    fprintf(f, "cell_dir=");
    put_word(f, j->cell_dir);
    fprintf(f, "\ndata_dir=");
    put_word(f, j->data_dir);
    fprintf(f, "\nharness=");
    put_word(f, j->harness);
    fprintf(f, "\norigin=");
    put_word(f, j->origin);
    fprintf(f, "\ntimeout_s=%.0f\ngrace_s=%d\nlimit=%s\ncell_head=",
            ceil(j->timeout_s > 1 ? j->timeout_s : 1), HX_SLURM_GRACE_S, limit);
    put_word(f, j->cell_head);
    fprintf(f, "\nwritten=0\ntmp=\nnote=\nt0=\nstarted=\nchild=\nchild_step=0\nwd=\nattempt=\n\n");
}

/* The dataset: generated once per cache key. */
static void put_dataset(FILE *f, const hx_slurm_job *j)
{
    fprintf(f, "# The dataset, generated once per cache key: a lock makes jobs that need\n"
               "# the same one wait for each other, and the rename of a temporary directory\n"
               "# means a killed generator never leaves one that looks complete.\n");
    fprintf(f, "if ! have_data; then\n"
               "    mkdir -p \"${data_dir%%/*}\"\n"
               "    exec 9>>\"$data_dir.lock\"\n"
               "    if command -v flock >/dev/null 2>&1; then flock 9; fi\n"
               "    if ! have_data; then\n"
               "        tmp=\"$data_dir.tmp-${SLURM_JOB_ID:-0}-$$\"\n"
               "        rm -rf \"$tmp\"\n"
               "        mkdir -p \"$tmp\"\n"
               "        rc=0\n"
               "        run_child ");
    put_argv(f, j->gen_argv);
    fprintf(f, " \\\n            >\"$tmp/gen.log\" 2>\"$attempt/gen.stderr.log\" || rc=$?\n"
               "        if [ \"$rc\" -ne 0 ]; then\n"
               "            note=\"harness: generating dataset '");
    fputs(j->dataset, f);
    fprintf(f, "' failed (exit status $rc): $(tail -c 3000 \"$attempt/gen.stderr.log\")\"\n"
               "            clean\n"
               "            write_cell failed \"$rc\" 0\n"
               "            exit \"$rc\"\n"
               "        fi\n"
               "        printf '%%s' ");
    put_word(f, j->cache_json);
    fprintf(f, " >\"$tmp/cache.json\"\n"
               "        # another job may have finished the same key first: theirs is as good\n"
               "        mv -T \"$tmp\" \"$data_dir\" 2>/dev/null || rm -rf \"$tmp\"\n"
               "        tmp=\n"
               "    fi\n"
               "    exec 9>&-\n"
               "    if ! have_data; then\n"
               "        note=\"harness: dataset directory '$data_dir' is incomplete\"\n"
               "        write_cell failed 1 0\n"
               "        exit 1\n"
               "    fi\n"
               "fi\n\n");
}

int hx_slurm_write_job(ib_err *e, const hx_slurm_job *j, const char *path)
{
    char tmp[4200];
    FILE *f = open_tmp(e, path, tmp, sizeof tmp);
    if (!f) return e->code;
    put_head(f, j);
    fputs(script_functions, f);
    fputc('\n', f);
    fputs(script_attempt, f);
    fputc('\n', f);
    put_dataset(f, j);

    fprintf(f, "# This node's provenance, recorded as a local run records its own (git\n"
               "# runs where run-suite ran); an attempt runs on without it.\n"
               "if ! (cd \"$origin\" 2>/dev/null || cd /\n"
               "      \"$harness\" provenance --out \"$attempt/provenance.json\" \\\n"
               "          --command \"sbatch $cell_dir/job.sbatch (job ${SLURM_JOB_ID:-none})\") \\\n"
               "    >\"$attempt/provenance.log\" 2>&1; then\n"
               "    echo \"harness: provenance not recorded: $(tail -c 500 "
               "\"$attempt/provenance.log\")\" >&2\n"
               "fi\n\n");

    fprintf(f, "# The cell: the imager as `harness run-suite` runs it locally, stopped\n"
               "# (SIGTERM, then SIGKILL after grace_s) past the suite's timeout.\n");
    if (j->srun) {
        fprintf(f, "child_step=1\n"
                   "# srun may not inherit --cpus-per-task from sbatch (Slurm 22.05 stopped).\n"
                   "export SRUN_CPUS_PER_TASK=\"${SLURM_CPUS_PER_TASK:-%d}\"\n",
                j->cpus_per_task);
        if (j->mpi_type)
            fprintf(f, "# the PMI plug-in the ranks need (checked against srun --mpi=list)\n"
                       "export SLURM_MPI_TYPE=%s\n",
                    j->mpi_type);
    }
    fprintf(f, "started=$(stamp)\n"
               "t0=$(date +%%s.%%N)\n"
               "rc=0\n"
               "watchdog \"$timeout_s\" &\n"
               "wd=$!\n"
               "run_child ");
    put_argv(f, j->run_argv);
    fprintf(f, " \\\n    >\"$attempt/stdout.log\" 2>\"$attempt/stderr.log\" || rc=$?\n"
               "kill \"$wd\" 2>/dev/null || true\n"
               "wait \"$wd\" 2>/dev/null || true\n"
               "wd=\n"
               "status=ok\n"
               "if [ \"$rc\" -ne 0 ]; then\n"
               "    status=failed\n"
               "    clean\n"
               "elif [ ! -s \"$attempt/stats.json\" ]; then\n"
               "    status=failed\n"
               "    note=\"harness: the imager exited 0 but wrote no stats '$attempt/stats.json'\"\n"
               "fi\n"
               "if [ \"$status\" = ok ]; then\n");
    if (!j->keep_products) fprintf(f, "    rm -f \"$attempt\"/*.fits\n");
    fprintf(f, "    rm -rf \"$attempt/spill\"\n"
               "fi\n"
               "# recorded as it ended: a signal now no longer changes the status\n"
               "trap '' TERM INT USR1 USR2\n"
               "write_cell \"$status\" \"$rc\" 0\n"
               "if [ \"$status\" != ok ] && [ \"$rc\" -eq 0 ]; then rc=1; fi\n"
               "exit \"$rc\"\n");
    return finish_file(e, f, tmp, path);
}

int hx_slurm_write_submit_all(ib_err *e, const char *dir, char *const *scripts, size_t n)
{
    char path[4200], tmp[4300];
    if (ib_path_fmt(e, path, sizeof path, "%s/submit-all.sh", dir)) return e->code;
    FILE *f = open_tmp(e, path, tmp, sizeof tmp);
    if (!f) return e->code;
    fprintf(f, "#!/bin/bash\n"
               "# Submit the %zu job%s written by `harness run-suite --launcher slurm`.\n"
               "# Options pass through to every sbatch call, e.g.\n"
               "#   %s --partition=short --account=proj --exclusive\n"
               "# When they have run: harness ingest %s --db FILE\n"
               "set -euo pipefail\n",
            n, n == 1 ? "" : "s", path, dir);
    for (size_t i = 0; i < n; i++) {
        fputs("sbatch \"$@\" ", f);
        put_word(f, scripts[i]);
        fputc('\n', f);
    }
    return finish_file(e, f, tmp, path);
}

int hx_slurm_submit(ib_err *e, const char *sbatch, const char *script, const char *out_path,
                    char *jobid, size_t n)
{
    char *argv[] = {(char *)sbatch, "--parsable", (char *)script, NULL};
    hx_proc pr;
    ib_err sub;
    ib_err_init(&sub);
    if (hx_run_process(&sub, argv, out_path, NULL, 120, NULL, NULL, &pr))
        return ib_error(e, IB_ECHILD, "sbatch '%s': %s", script, sub.msg);
    if (pr.end != HX_EXITED || pr.exit_code != 0)
        return ib_error(e, IB_ECHILD, "sbatch '%s' failed (exit status %d): %s", script,
                        pr.exit_code, pr.tail);
    jobid[0] = '\0';
    FILE *f = fopen(out_path, "r");
    if (f) {
        if (fgets(jobid, (int)n, f)) jobid[strcspn(jobid, ";\r\n")] = '\0';
        fclose(f);
    }
    if (!jobid[0])
        return ib_error(e, IB_ECHILD, "sbatch '%s' printed no job id (see '%s')", script,
                        out_path);
    return 0;
}

/* ---- the cluster: partition, nodes, MPI plug-ins ------------------------- */

/* The value of KEY=VALUE in a `scontrol -o` line (up to the next space)
 * into out; 0 when the key is there. */
static int kv(const char *line, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p != line && p[-1] != ' ') || p[kl] != '=') continue;
        const char *v = p + kl + 1;
        size_t len = strcspn(v, " \n");
        snprintf(out, n, "%.*s", (int)len, v);
        return 0;
    }
    out[0] = '\0';
    return -1;
}

/* Slurm's time ("UNLIMITED", "MM", "H:MM:SS", "D-HH:MM:SS") in minutes,
 * rounded up; -1 unlimited, -2 unreadable. */
static long parse_minutes(const char *s)
{
    if (!strcmp(s, "UNLIMITED") || !strcmp(s, "INFINITE") || !strcmp(s, "NONE")) return -1;
    long d = 0, f[3] = {0, 0, 0};
    int nf = 0;
    const char *p = s;
    const char *dash = strchr(s, '-');
    char *end;
    if (dash) {
        d = strtol(s, &end, 10);
        if (end != dash) return -2;
        p = dash + 1;
    }
    while (nf < 3) {
        f[nf++] = strtol(p, &end, 10);
        if (end == p) return -2;
        if (*end != ':') break;
        p = end + 1;
    }
    if (*end) return -2;
    long h = 0, m = 0, sec = 0;
    if (nf == 1 && !dash) m = f[0];         /* minutes */
    else if (nf == 1) h = f[0];             /* D-HH */
    else if (nf == 2 && !dash) m = f[0], sec = f[1]; /* MM:SS */
    else if (nf == 2) h = f[0], m = f[1];   /* D-HH:MM */
    else h = f[0], m = f[1], sec = f[2];
    return d * 1440 + h * 60 + m + (sec > 0);
}

/* Does a node in sinfo's long state take new jobs? Flags: '*' not
 * responding, '$' maintenance; drained, down, failing and the like do not. */
static int usable_state(const char *st)
{
    if (strpbrk(st, "*$")) return 0;
    static const char *const ok[] = {"idle", "mixed", "allocated", "completing", "planned",
                                     "powered_down", "powering_up", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strncmp(st, ok[i], strlen(ok[i]))) return 1;
    return 0;
}

static void add_group(hx_slurm_part *p, int count, int cpus, int64_t mem_mb)
{
    for (int i = 0; i < p->ngroups; i++)
        if (p->groups[i].cpus == cpus && p->groups[i].mem_mb == mem_mb) {
            p->groups[i].count += count;
            return;
        }
    int cap = (int)(sizeof p->groups / sizeof p->groups[0]);
    int at = p->ngroups < cap ? p->ngroups++ : cap - 1;
    if (at == cap - 1 && p->groups[at].cpus > cpus) return; /* keep the larger nodes */
    p->groups[at] = (hx_slurm_nodes){count, cpus, mem_mb};
    /* largest first: by CPUs, then memory */
    for (int i = at; i > 0; i--) {
        hx_slurm_nodes *a = &p->groups[i - 1], *b = &p->groups[i];
        if (a->cpus > b->cpus || (a->cpus == b->cpus && a->mem_mb >= b->mem_mb)) break;
        hx_slurm_nodes t = *a;
        *a = *b;
        *b = t;
    }
}

static int parse_partition(ib_err *e, const char *name, const char *text, hx_slurm_part *p)
{
    const char *want = name && *name ? name : NULL;
    char v[256];
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *l = strndup(line, len);
        if (!l) return ib_error(e, IB_ENOMEM, "out of memory");
        int hit = 0;
        if (kv(l, "PartitionName", v, sizeof v) == 0) {
            if (want) hit = !strcmp(v, want);
            else {
                char d[16];
                hit = kv(l, "Default", d, sizeof d) == 0 && !strcmp(d, "YES");
            }
        }
        if (hit) {
            snprintf(p->name, sizeof p->name, "%.127s", v);
            kv(l, "State", p->state, sizeof p->state);
            kv(l, "MaxTime", v, sizeof v);
            p->max_time_min = parse_minutes(v);
            if (p->max_time_min == -2) p->max_time_min = -1; /* unreadable: not checked */
            kv(l, "MaxNodes", v, sizeof v);
            p->max_nodes = strcmp(v, "UNLIMITED") && *v ? strtol(v, NULL, 10) : -1;
            kv(l, "TotalNodes", v, sizeof v);
            p->total_nodes = (int)strtol(v, NULL, 10);
            free(l);
            return 0;
        }
        free(l);
        line = nl ? nl + 1 : NULL;
    }
    if (want)
        return ib_error(e, IB_EINVAL, "Slurm has no partition '%s' (scontrol show partition)",
                        want);
    return ib_error(e, IB_EINVAL, "Slurm has no default partition: name one with --partition "
                                  "or SBATCH_PARTITION");
}

/* sinfo -h -p NAME -o '%D|%c|%m|%T|%N': node groups. */
static void parse_nodes(const char *text, hx_slurm_part *p)
{
    size_t dl = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        long count = 0, cpus = 0;
        long long mem = 0;
        char state[64] = "", names[256] = "";
        if (sscanf(line, "%ld|%ld|%lld|%63[^|]|%255[^\n]", &count, &cpus, &mem, state, names) >=
                4 &&
            count > 0 && cpus > 0) {
            if (usable_state(state)) {
                add_group(p, (int)count, (int)cpus, (int64_t)mem);
            } else if (dl + 8 < sizeof p->down) {
                int k = snprintf(p->down + dl, sizeof p->down - dl, "%s%s (%s)", dl ? ", " : "",
                                 names[0] ? names : "?", state);
                dl = k < 0 ? dl : dl + (size_t)k;
                if (dl >= sizeof p->down) dl = sizeof p->down - 1;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
}

/* srun --mpi=list: "MPI plugin types are...", then one per line (indented),
 * then "specific pmix plugin versions available: pmix_v4". */
static void parse_mpi(const char *text, hx_slurm_part *p)
{
    size_t len = 0;
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *w = line;
        size_t wn = 0;
        if (*line == ' ' || *line == '\t') {
            while (n > 0 && (*w == ' ' || *w == '\t')) w++, n--;
            wn = strcspn(w, " \t\n");
        } else {
            const char *colon = memchr(line, ':', n);
            if (colon && !strncmp(line, "specific", 8)) {
                w = colon + 1;
                while (*w == ' ') w++;
                wn = strcspn(w, " ,\n");
            }
        }
        if (wn > 0 && len + wn + 2 < sizeof p->mpi) {
            len += (size_t)snprintf(p->mpi + len, sizeof p->mpi - len, "%s%.*s", len ? " " : "",
                                    (int)wn, w);
        }
        line = nl ? nl + 1 : NULL;
    }
}

int hx_slurm_parse(ib_err *e, const char *name, const char *partitions, const char *nodes,
                   const char *mpi_list, hx_slurm_part *p)
{
    memset(p, 0, sizeof *p);
    int rc = parse_partition(e, name, partitions ? partitions : "", p);
    if (rc) return rc;
    parse_nodes(nodes ? nodes : "", p);
    parse_mpi(mpi_list ? mpi_list : "", p);
    return 0;
}

/* The whole file at path, NUL-terminated, in a malloc'd buffer; NULL (errno
 * set) when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, len = 0, k;
    char *buf = malloc(cap);
    while (buf && (k = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += k;
        if (cap - len < 512) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[len] = '\0';
    fclose(f);
    return buf;
}

/* Run argv, its stdout into a malloc'd *out. IB_ENOTFOUND with what it
 * said when it cannot be run or fails. */
static int capture(ib_err *e, char *const argv[], char **out)
{
    *out = NULL;
    char path[] = "/tmp/imbench-slurm-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return ib_error(e, IB_EIO, "cannot create a file in /tmp: %s", strerror(errno));
    close(fd);
    hx_proc pr;
    ib_err sub;
    ib_err_init(&sub);
    int rc = hx_run_process(&sub, argv, path, NULL, 60, NULL, NULL, &pr);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s %s", argv[0], argv[1] ? argv[1] : "");
    if (rc) {
        remove(path);
        return ib_error(e, IB_ENOTFOUND, "'%s': %s", cmd, sub.msg);
    }
    if (pr.end != HX_EXITED || pr.exit_code != 0) {
        remove(path);
        size_t n = strlen(pr.tail);
        while (n > 0 && pr.tail[n - 1] == '\n') pr.tail[--n] = '\0';
        return ib_error(e, IB_ENOTFOUND, "'%s' failed (exit status %d): %s", cmd, pr.exit_code,
                        pr.exit_code == 127 ? "not found in PATH" : pr.tail);
    }
    char *buf = slurp(path);
    remove(path);
    if (!buf) return ib_error(e, IB_EIO, "cannot read what '%s' printed: %s", cmd, strerror(errno));
    *out = buf;
    return 0;
}

int hx_slurm_query(ib_err *e, const char *name, hx_slurm_part *p)
{
    if (!name || !*name) name = getenv("SBATCH_PARTITION");
    if (name && *name && !hx_slurm_plain_path(name))
        return ib_error(e, IB_EINVAL, "partition name '%s' is not a plain word", name);
    char *parts = NULL, *nodes = NULL, *mpi = NULL;
    char *a1[] = {"scontrol", "show", "partition", "-o", NULL};
    int rc = capture(e, a1, &parts);
    if (rc) {
        ib_error_wrap(e, "cannot ask Slurm about its partitions");
        return rc;
    }
    rc = parse_partition(e, name, parts, p);
    if (!rc) {
        char fmt[] = "%D|%c|%m|%T|%N";
        char *a2[] = {"sinfo", "-h", "-p", p->name, "-o", fmt, NULL};
        rc = capture(e, a2, &nodes);
        if (rc) ib_error_wrap(e, "cannot ask Slurm about the nodes of partition '%s'", p->name);
    }
    if (!rc) {
        char *a3[] = {"srun", "--mpi=list", NULL};
        rc = capture(e, a3, &mpi);
        if (rc) ib_error_wrap(e, "cannot ask srun for its MPI plug-ins");
    }
    char found[sizeof p->name];
    snprintf(found, sizeof found, "%s", p->name);
    if (!rc) rc = hx_slurm_parse(e, found, parts, nodes, mpi, p);
    free(parts);
    free(nodes);
    free(mpi);
    return rc;
}

/* Is word one of the space-separated words of list? */
static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static const char *plural(long n) { return n == 1 ? "" : "s"; }

/* The partition's usable nodes in words: "1 node of 2 cores", "3 nodes of
 * 16 to 64 cores". */
static void describe_nodes(const hx_slurm_part *p, char *buf, size_t n)
{
    long count = 0;
    int lo = 0, hi = 0;
    for (int i = 0; i < p->ngroups; i++) {
        count += p->groups[i].count;
        if (!lo || p->groups[i].cpus < lo) lo = p->groups[i].cpus;
        if (p->groups[i].cpus > hi) hi = p->groups[i].cpus;
    }
    if (lo == hi) snprintf(buf, n, "%ld node%s of %d cores", count, plural(count), hi);
    else snprintf(buf, n, "%ld nodes of %d to %d cores", count, lo, hi);
}

int hx_slurm_check(const hx_slurm_part *p, const hx_slurm_need *n, hx_slurm_shape *s,
                   char *why, size_t nwhy)
{
    memset(s, 0, sizeof *s);
    why[0] = '\0';
    int R = n->ranks > 0 ? n->ranks : 1, T = n->threads > 0 ? n->threads : 1;
    char nodes[96];
    describe_nodes(p, nodes, sizeof nodes);
    if (strcmp(p->state, "UP")) {
        snprintf(why, nwhy, "partition '%s' is %s: no job starts there", p->name,
                 p->state[0] ? p->state : "in an unknown state");
        return 1;
    }
    if (p->ngroups == 0) {
        snprintf(why, nwhy, "partition '%s' has no node that takes jobs%s%s%s", p->name,
                 p->down[0] ? " (" : "", p->down, p->down[0] ? ")" : "");
        return 1;
    }
    if (T > p->groups[0].cpus) {
        snprintf(why, nwhy, "%d thread%s per rank need %d cores on one node, partition '%s' has "
                            "%s", T, plural(T), T, p->name, nodes);
        return 1;
    }
    /* pack the ranks onto the largest nodes first */
    long left = R, used = 0, per_first = 0;
    int64_t mem_first = 0;
    for (int i = 0; i < p->ngroups && left > 0; i++) {
        long per = p->groups[i].cpus / T;
        if (n->tasks_per_node > 0 && per > n->tasks_per_node) per = n->tasks_per_node;
        if (per <= 0) continue;
        long take = (left + per - 1) / per;
        if (take > p->groups[i].count) take = p->groups[i].count;
        if (!used) per_first = per < left ? per : left, mem_first = p->groups[i].mem_mb;
        used += take;
        left -= take * per;
    }
    if (left > 0) {
        if (n->tasks_per_node > 0)
            snprintf(why, nwhy, "%d rank%s at %d per node x %d thread%s need %ld nodes, partition "
                                "'%s' has %s", R, plural(R), n->tasks_per_node, T, plural(T),
                     ((long)R + n->tasks_per_node - 1) / n->tasks_per_node, p->name, nodes);
        else
            snprintf(why, nwhy, "%d rank%s x %d thread%s need %lld cores, partition '%s' has %s",
                     R, plural(R), T, plural(T), (long long)R * T, p->name, nodes);
        return 1;
    }
    if (p->max_nodes >= 0 && used > p->max_nodes) {
        snprintf(why, nwhy, "%d ranks x %d thread%s need %ld nodes, partition '%s' allows %ld "
                            "per job", R, T, plural(T), used, p->name, p->max_nodes);
        return 1;
    }
    long lim = hx_slurm_limit_min(n->timeout_s);
    if (p->max_time_min >= 0 && lim > p->max_time_min) {
        char a[32], b[32];
        hx_slurm_time(60.0 * (double)lim, a, sizeof a);
        hx_slurm_time(60.0 * (double)p->max_time_min, b, sizeof b);
        snprintf(why, nwhy, "time limit %s (timeout %g s + %d s for Slurm's warning) is over "
                            "the MaxTime of partition '%s' (%s)", a, n->timeout_s,
                 2 * HX_SLURM_WARN_S, p->name, b);
        return 1;
    }
    if (n->mem_per_rank > 0 && mem_first > 0 &&
        (double)per_first * (double)n->mem_per_rank > (double)mem_first * 1048576.0) {
        snprintf(why, nwhy, "%ld rank%s per node x mem_budget %.0f MiB need %.0f MiB, partition "
                            "'%s' has nodes of %lld MiB", per_first, plural(per_first),
                 (double)n->mem_per_rank / 1048576.0,
                 (double)per_first * (double)n->mem_per_rank / 1048576.0, p->name,
                 (long long)mem_first);
        return 1;
    }
    if (R > 1 && n->mpi_type && !has_word(p->mpi, n->mpi_type)) {
        snprintf(why, nwhy, "%d ranks need srun's MPI plug-in '%s', which `srun --mpi=list` does "
                            "not offer (it offers: %s); export SLURM_MPI_TYPE as one of them, or "
                            "use --mpi-launcher mpirun", R, n->mpi_type,
                 p->mpi[0] ? p->mpi : "none");
        return 1;
    }
    s->nodes = (int)used;
    s->tasks_per_node = n->tasks_per_node > 0 ? (n->tasks_per_node < R ? n->tasks_per_node : R)
                                              : 0;
    return 0;
}

void hx_slurm_place(const hx_slurm_part *p, const hx_slurm_need *n, hx_slurm_shape *s)
{
    char why[512];
    if (p && hx_slurm_check(p, n, s, why, sizeof why) == 0) return;
    int R = n->ranks > 0 ? n->ranks : 1;
    memset(s, 0, sizeof *s);
    if (n->tasks_per_node > 0) {
        s->tasks_per_node = n->tasks_per_node < R ? n->tasks_per_node : R;
        s->nodes = (R + s->tasks_per_node - 1) / s->tasks_per_node;
    }
}

const char *hx_slurm_mpi_type(void)
{
    const char *t = getenv("SLURM_MPI_TYPE");
    return t && *t && hx_slurm_plain_path(t) ? t : "pmix";
}
