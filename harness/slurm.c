/*
 * slurm.c: batch scripts for `harness run-suite --launcher slurm`. A job
 * script is self-contained bash: it needs the harness and imager binaries
 * on a filesystem the compute nodes share, bash, coreutils, sed and awk
 * (flock when present), and nothing of the harness's state. It writes its
 * cell.json itself, so that a batch system's attempts reach the results
 * database through `harness ingest` exactly as local ones do.
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

void hx_slurm_time(double timeout_s, char *buf, size_t n)
{
    double m = ceil(timeout_s / 60.0);
    long long minutes = isfinite(m) && m >= 1 ? (m > 1e9 ? 1000000000LL : (long long)m) : 1;
    snprintf(buf, n, "%02lld:%02lld:00", minutes / 60, minutes % 60);
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
    "# write_cell STATUS EXIT_CODE SIGNAL: cell.json, as `harness ingest` reads it.\n"
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
    "        if [ -s \"$cell_dir/stderr.log\" ]; then tail -c 4096 \"$cell_dir/stderr.log\"; fi\n"
    "        if [ -n \"$note\" ]; then printf '%s\\n' \"$note\"; fi\n"
    "    } | json_string)\n"
    "    host=$(printf '%s' \"${SLURMD_NODENAME:-$(uname -n)}\" | json_string)\n"
    "    printf '%s, \"status\": \"%s\", \"exit_code\": %d, \"signal\": %d, \"started_at\": \"%s\", "
    "\"ended_at\": \"%s\", \"wall_s\": %s, \"stderr_tail\": %s, \"host\": %s, "
    "\"slurm_job_id\": \"%s\"}\\n' \\\n"
    "        \"$cell_head\" \"$1\" \"$2\" \"$3\" \"$started\" \"$ended\" \"$wall\" \"$tailtext\" "
    "\"$host\" \\\n"
    "        \"${SLURM_JOB_ID:-}\" >\"$cell_dir/cell.json.tmp\"\n"
    "    mv -f \"$cell_dir/cell.json.tmp\" \"$cell_dir/cell.json\"\n"
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
    "# SIGTERM (scancel, or the time limit: Slurm sends it first) or SIGINT.\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "on_signal() {\n"
    "    trap - TERM INT\n"
    "    local status=interrupted\n"
    "    if [ -n \"$child\" ]; then\n"
    "        kill -TERM \"$child\" 2>/dev/null || true\n"
    "        wait \"$child\" 2>/dev/null || true\n"
    "    fi\n"
    "    if [ -n \"$tmp\" ]; then rm -rf \"$tmp\"; fi\n"
    "    if [ -z \"$t0\" ]; then note='harness: interrupted while generating the dataset'; fi\n"
    "    if [ -n \"$t0\" ] && [ $((SECONDS + 30)) -ge \"$limit_s\" ]; then status=timeout; fi\n"
    "    write_cell \"$status\" $((128 + $1)) \"$1\"\n"
    "    exit $((128 + $1))\n"
    "}\n"
    "\n"
    "# Whatever else stops the script (set -e) still leaves a cell.json.\n"
    "# shellcheck disable=SC2317  # runs from a trap\n"
    "on_exit() {\n"
    "    local rc=$?\n"
    "    if [ \"$written\" = 0 ]; then\n"
    "        if [ -n \"$tmp\" ]; then rm -rf \"$tmp\"; fi\n"
    "        note=\"harness: the job script stopped (exit status $rc) before the cell ended\"\n"
    "        write_cell failed \"$rc\" 0 || true\n"
    "    fi\n"
    "}\n"
    "\n"
    "have_data() { [ -f \"$data_dir/vis.h5\" ] && [ -f \"$data_dir/cache.json\" ]; }\n"
    "\n"
    "trap 'on_signal 15' TERM\n"
    "trap 'on_signal 2' INT\n"
    "trap on_exit EXIT\n";

int hx_slurm_write_job(ib_err *e, const hx_slurm_job *j, const char *path)
{
    char tmp[4200], limit[32];
    FILE *f = open_tmp(e, path, tmp, sizeof tmp);
    if (!f) return e->code;
    hx_slurm_time(j->timeout_s, limit, sizeof limit);
    long limit_s = 60 * (long)ceil(j->timeout_s / 60.0);
    if (limit_s < 60) limit_s = 60;

    fprintf(f, "#!/bin/bash\n");
    fprintf(f, "#SBATCH --job-name=%s\n", j->name);
    fprintf(f, "#SBATCH --nodes=%d\n", j->nodes);
    fprintf(f, "#SBATCH --ntasks=%d\n", j->ntasks);
    fprintf(f, "#SBATCH --ntasks-per-node=%d\n", j->tasks_per_node);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", j->cpus_per_task);
    fprintf(f, "#SBATCH --time=%s\n", limit);
    fprintf(f, "#SBATCH --output=%s/slurm-%%j.out\n", j->cell_dir);
    fprintf(f, "#SBATCH --error=%s/slurm-%%j.err\n", j->cell_dir);
    fprintf(f, "#\n# imbench cell: %s\n", j->comment);
    fprintf(f, "# Written by `harness run-suite --launcher slurm`. Generates the dataset if\n"
               "# the cache lacks it, runs the imager, and leaves stats.json, tasks.csv and\n"
               "# cell.json in this directory for `harness ingest`. Options given to sbatch\n"
               "# override the lines above.\n");
    fprintf(f, "set -euo pipefail\n\n");

    fprintf(f, "cell_dir=");
    put_word(f, j->cell_dir);
    fprintf(f, "\ndata_dir=");
    put_word(f, j->data_dir);
    fprintf(f, "\nlimit_s=%ld\ncell_head=", limit_s);
    put_word(f, j->cell_head);
    fprintf(f, "\nwritten=0\ntmp=\nnote=\nt0=\nstarted=\nchild=\n\n");
    fputs(script_functions, f);

    fprintf(f, "\nmkdir -p \"$cell_dir\"\n"
               "cd \"$cell_dir\"\n"
               "rm -f cell.json stats.json tasks.csv stdout.log stderr.log\n\n");

    /* the dataset */
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
    fprintf(f, " \\\n            >\"$tmp/gen.log\" 2>\"$cell_dir/gen.stderr.log\" || rc=$?\n"
               "        if [ \"$rc\" -ne 0 ]; then\n"
               "            note=\"harness: generating dataset '");
    fputs(j->dataset, f);
    fprintf(f, "' failed (exit status $rc): $(tail -c 3000 \"$cell_dir/gen.stderr.log\")\"\n"
               "            rm -rf \"$tmp\"\n"
               "            tmp=\n"
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

    /* the cell */
    fprintf(f, "# The cell: the imager as `harness run-suite` runs it locally.\n");
    if (j->srun)
        fprintf(f, "# srun may not inherit --cpus-per-task from sbatch (Slurm 22.05 stopped).\n"
                   "export SRUN_CPUS_PER_TASK=\"${SLURM_CPUS_PER_TASK:-%d}\"\n",
                j->cpus_per_task);
    fprintf(f, "started=$(stamp)\n"
               "t0=$(date +%%s.%%N)\n"
               "rc=0\n"
               "run_child ");
    put_argv(f, j->run_argv);
    fprintf(f, " \\\n    >\"$cell_dir/stdout.log\" 2>\"$cell_dir/stderr.log\" || rc=$?\n"
               "status=ok\n"
               "if [ \"$rc\" -ne 0 ]; then\n"
               "    status=failed\n"
               "elif [ ! -s \"$cell_dir/stats.json\" ]; then\n"
               "    status=failed\n"
               "    note=\"harness: the imager exited 0 but wrote no stats '$cell_dir/stats.json'\"\n"
               "fi\n"
               "if [ \"$status\" = ok ]; then\n");
    if (!j->keep_products) fprintf(f, "    rm -f \"$cell_dir\"/*.fits\n");
    fprintf(f, "    rm -rf \"$cell_dir/spill\"\n"
               "fi\n"
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
