/*
 * test_slurm.c: the Slurm launcher on a real cluster (scripts/slurm-local.sh
 * start: Debian's Slurm 22.05 as one node of this machine; CI starts it).
 * A suite of a 1-rank and a 2-rank cell goes through `harness run-suite
 * --launcher slurm --submit` (the partition checked first, sbatch, srun
 * with SLURM_MPI_TYPE=pmix), the jobs are waited for with squeue and
 * ingested: every attempt ok, with its rank count and the compute node's
 * provenance. A cell the node cannot hold is refused with the reason.
 * Then, with a stand-in imager that leaves an unfinished cube and waits:
 * a job cancelled with scancel (interrupted), one that reaches Slurm's
 * time limit (sbatch --time=1: timeout) and one past the suite's timeout
 * (timeout), none leaving a *.tmp behind; the cancelled job resubmitted
 * runs as attempt-2 and both attempts are ingested.
 *
 * Skipped when no cluster answers `scontrol ping` (SLURM_CONF names the
 * configuration), except with IMBENCH_REQUIRE_SLURM=1 (.ci/run), where
 * that fails the test.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/common.h"
#include "tests/testutil.h"

/* Environment for everything that starts the imager on more than one
 * rank: Open MPI's own start-up leaks, so no leak check there under the
 * sanitizers (as test_parallel). Jobs inherit it through sbatch. */
#define ENV "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "

/* Longest wait for the jobs of one step. */
#define JOB_WAIT_S 300

typedef struct fx {
    char *dir;
    char bin[PATH_MAX], harness[PATH_MAX + 16], stub[PATH_MAX + 16];
    char suite[PATH_MAX + 16], data[PATH_MAX + 16];
    char ids[4096];   /* job ids submitted, comma-separated: cancelled at the end */
} fx;

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s", tu_bin(""));
    if (!realpath(rel, f->bin)) snprintf(f->bin, sizeof f->bin, "%s", rel);
    snprintf(f->harness, sizeof f->harness, "%s/harness", f->bin);
    f->dir = tu_mkdtemp("slurm");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->suite, sizeof f->suite, "%s/slurm.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/cache", f->dir);
    snprintf(f->stub, sizeof f->stub, "%s/stubbin", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->ids[0]) tu_run(NULL, "scancel %s", f->ids); /* a failed test leaves no job */
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Does a cluster answer? Skips (or fails, under IMBENCH_REQUIRE_SLURM=1)
 * when not. */
static int cluster_answers(void)
{
    char *out = NULL;
    int st = tu_run(&out, "scontrol ping");
    int up = st == 0 && out && tu_contains(out, "is UP");
    if (!up) {
        const char *req = getenv("IMBENCH_REQUIRE_SLURM");
        const char *conf = getenv("SLURM_CONF");
        fprintf(stderr, "%s: no Slurm cluster answers `scontrol ping` (SLURM_CONF=%s): %s"
                        "start one with scripts/slurm-local.sh start\n",
                req && !strcmp(req, "1") ? "error" : "skip", conf ? conf : "(unset)",
                out ? out : "");
        free(out);
        if (req && !strcmp(req, "1")) fail_msg("IMBENCH_REQUIRE_SLURM=1 and no cluster");
        return 0;
    }
    free(out);
    return 1;
}

/* One value from sinfo about the default partition (a format like "%c"). */
static char *sinfo(const char *fmt)
{
    char *out = NULL;
    assert_int_equal(tu_run(&out, "sinfo -h -o '%s' | head -1", fmt), 0);
    out[strcspn(out, "\n")] = '\0';
    return out;
}

static void add_id(fx *f, const char *id)
{
    size_t l = strlen(f->ids);
    snprintf(f->ids + l, sizeof f->ids - l, "%s%s", l ? "," : "", id);
}

/* sbatch [OPTS] SCRIPT with env prefix; the job id (static buffer). */
static const char *sbatch(fx *f, const char *env, const char *opts, const char *script)
{
    static char id[64];
    char *out = NULL;
    int st = tu_run(&out, ENV "%s sbatch --parsable %s '%s'", env, opts, script);
    if (st) fprintf(stderr, "sbatch: %s\n", out);
    assert_int_equal(st, 0);
    snprintf(id, sizeof id, "%.*s", (int)strcspn(out, ";\n"), out);
    free(out);
    add_id(f, id);
    return id;
}

/* Wait until none of the jobs ids (comma-separated) is pending or running. */
static void wait_jobs(const char *ids)
{
    double t0 = ib_now();
    for (;;) {
        char *out = NULL;
        int st = tu_run(&out, "squeue -h -o '%%i %%T %%r' -j '%s'", ids);
        int left = st == 0 && out[0] != '\0';
        if (!left || ib_now() - t0 > JOB_WAIT_S) {
            if (left) {
                fprintf(stderr, "jobs still queued after %d s:\n%s\n", JOB_WAIT_S, out);
                free(out);
                fail();
            }
            free(out);
            return;
        }
        free(out);
        usleep(500 * 1000);
    }
}

/* The cell directory (DIR/<hash12>-r<rep>) of the only cell of emit dir
 * emit whose job script has marker (e.g. "--ntasks=2"), into out. */
static void cell_dir(const char *emit, const char *marker, int rep, char *out, size_t n)
{
    char *o = NULL;
    assert_int_equal(tu_run(&o, "grep -l -x -F -e '#SBATCH %s' '%s'/*-r%d/job.sbatch", marker,
                            emit, rep),
                     0);
    char *nl = strchr(o, '\n');
    assert_non_null(nl);
    assert_true(nl[1] == '\0'); /* one match */
    *nl = '\0';
    *strrchr(o, '/') = '\0';
    snprintf(out, n, "%s", o);
    free(o);
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) fprintf(stderr, "%s: line %d: %s\n", path, je.line, je.text);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    assert_non_null(s);
    return s;
}

static int64_t q_int(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int64_t q_int(const char *db, const char *fmt, ...)
{
    char sql[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
    if (rc) fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(h));
    assert_int_equal(rc, SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

/* Attempt a of cell dir cd: its status, and the tail of its stderr
 * holding want (NULL: not checked). */
static void expect_attempt(const char *cd, int a, const char *status, const char *want,
                           const char *jobid)
{
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/attempt-%d", cd, a);
    json_t *cj = load_json(dir, "cell.json");
    const char *tail = jstr(cj, "stderr_tail");
    if (strcmp(jstr(cj, "status"), status) || (want && !tu_contains(tail, want)))
        fprintf(stderr, "%s: status %s, expected %s (%s):\n%s\n", dir, jstr(cj, "status"),
                status, want ? want : "", tail);
    assert_string_equal(jstr(cj, "status"), status);
    if (want) assert_true(tu_contains(tail, want));
    if (jobid) assert_string_equal(jstr(cj, "slurm_job_id"), jobid);
    json_decref(cj);
    /* the node recorded its provenance before the imager ran */
    json_t *pj = load_json(dir, "provenance.json");
    assert_true(strlen(jstr(pj, "compiler")) > 0);
    json_decref(pj);
}

/* Provenance of every run of db as the compute node recorded it. */
static void expect_provenance(const char *db)
{
    int64_t runs = q_int(db, "SELECT count(*) FROM runs");
    assert_true(runs >= 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE compiler <> '' AND kernel <> ''"
                               " AND cpu_model <> '' AND cores >= 1 AND mem_bytes > 0"
                               " AND json_extract(libs, '$.hdf5') IS NOT NULL"
                               " AND json_extract(libs, '$.fftw') IS NOT NULL"),
                     runs);
    if (tu_run(NULL, "git rev-parse HEAD") == 0)
        assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE length(git_commit) = 40"),
                         runs);
}

static void test_real_cluster(void **state)
{
    fx *f = *state;
    if (access(f->harness, X_OK) != 0) {
        printf("skip: '%s' is not built yet (make programs)\n", f->harness);
        skip();
        return;
    }
    if (!cluster_answers()) {
        skip();
        return;
    }
    double t_start = ib_now();
    char *cores_s = sinfo("%c"), *nodes_s = sinfo("%D"), *node = sinfo("%N"),
         *part = sinfo("%R");
    int cores = atoi(cores_s);
    print_message("cluster: partition %s, %s node(s) of %d cores (%s)\n", part, nodes_s, cores,
                  node);
    assert_true(cores >= 2); /* the 2-rank cell needs two */

    /* a cell of 2 ranks x (cores) threads does not fit a node: refused, with
     * the reason, before anything is written or submitted */
    char text[PATH_MAX + 1024], args[4 * PATH_MAX], emit0[PATH_MAX + 16], *out = NULL;
    snprintf(text, sizeof text,
             "name: slurmbig\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\nimage: 32x32\n"
             "timeout: 60\naxes:\n  nodes: [2]\n  threads: [%d]\n",
             cores);
    char big[PATH_MAX + 16];
    snprintf(big, sizeof big, "%s/big.yaml", f->dir);
    write_file(big, text);
    snprintf(emit0, sizeof emit0, "%s/jobs-big", f->dir);
    int st = tu_run(&out, "'%s' run-suite '%s' --launcher slurm --emit '%s' --data-dir '%s'"
                          " --submit",
                    f->harness, big, emit0, f->data);
    if (st != 1) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 1);
    if (!strcmp(nodes_s, "1")) {
        snprintf(text, sizeof text, "cell 1: 2 ranks x %d threads need %d cores, partition '%s' "
                                    "has 1 node of %d cores",
                 cores, 2 * cores, part, cores);
        if (!tu_contains(out, text)) fprintf(stderr, "expected '%s' in:\n%s\n", text, out);
        assert_true(tu_contains(out, text));
    }
    free(out);
    assert_int_not_equal(access(emit0, F_OK), 0);

    /* 1 and 2 ranks through run-suite --submit */
    write_file(f->suite, "name: slurmtest\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\n"
                         "image: 32x32\ntimeout: 60\naxes:\n  nodes: [1, 2]\n  threads: [1]\n"
                         "  chunks: [2]\n");
    char emit1[PATH_MAX + 16];
    snprintf(emit1, sizeof emit1, "%s/jobs", f->dir);
    st = tu_run(&out, ENV "'%s' run-suite '%s' --launcher slurm --emit '%s' --data-dir '%s'"
                          " --submit",
                f->harness, f->suite, emit1, f->data);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "2 jobs submitted"));
    free(out);
    char path[PATH_MAX + 256], ids1[256] = "", jobid[2][32];
    snprintf(path, sizeof path, "%s/jobs.txt", emit1);
    char *jobs = tu_slurp(path, NULL);
    assert_non_null(jobs);
    char c1[PATH_MAX + 64], c2[PATH_MAX + 64];
    cell_dir(emit1, "--ntasks=1", 0, c1, sizeof c1);
    cell_dir(emit1, "--ntasks=2", 0, c2, sizeof c2);
    for (int k = 0; k < 2; k++) {
        const char *cd = k ? c2 : c1;
        /* "ID SCRIPT" lines: the id of this cell's job */
        for (char *l = jobs; l && *l;) {
            char id[32], script[PATH_MAX + 64];
            if (sscanf(l, "%31s %4159s", id, script) == 2 && !strncmp(script, cd, strlen(cd)))
                snprintf(jobid[k], sizeof jobid[k], "%s", id);
            l = strchr(l, '\n');
            if (l) l++;
        }
        add_id(f, jobid[k]);
        size_t il = strlen(ids1);
        snprintf(ids1 + il, sizeof ids1 - il, "%s%s", il ? "," : "", jobid[k]);
    }
    free(jobs);

    /* the stand-in imager: an unfinished cube, then it waits to be stopped
     * (and goes on SIGTERM, as the imager does, its cube left behind) */
    assert_int_equal(mkdir(f->stub, 0755), 0);
    snprintf(path, sizeof path, "%s/harness", f->stub);
    assert_int_equal(symlink(f->harness, path), 0);
    snprintf(path, sizeof path, "%s/imager", f->stub);
    snprintf(text, sizeof text,
             "#!/bin/bash\n"
             "if [ -n \"${IMBENCH_TEST_SLOW:-}\" ]; then\n"
             "    out=.\n"
             "    while [ $# -gt 0 ]; do [ \"$1\" = --out ] && out=$2; shift; done\n"
             "    : >\"$out/dirty.fits.tmp\"\n"
             "    trap 'exit 143' TERM\n"
             "    while :; do sleep 0.2; done\n"
             "fi\n"
             "exec '%s/imager' \"$@\"\n",
             f->bin);
    write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
    char emit2[PATH_MAX + 16], emit3[PATH_MAX + 16];
    snprintf(emit2, sizeof emit2, "%s/slow/jobs", f->dir);
    snprintf(emit3, sizeof emit3, "%s/slow/jobs-timeout", f->dir);
    snprintf(args, sizeof args, "--launcher slurm --data-dir '%s' --filter nodes=1", f->data);
    st = tu_run(&out, "IMBENCH_BIN='%s' '%s' run-suite '%s' %s --emit '%s' --repeat 2",
                f->stub, f->harness, f->suite, args, emit2);
    assert_int_equal(st, 0);
    free(out);
    st = tu_run(&out, "IMBENCH_BIN='%s' '%s' run-suite '%s' %s --emit '%s' --timeout 3",
                f->stub, f->harness, f->suite, args, emit3);
    assert_int_equal(st, 0);
    free(out);
    char cc[PATH_MAX + 64], cl[PATH_MAX + 64], ct[PATH_MAX + 64], script[PATH_MAX + 96];
    cell_dir(emit2, "--ntasks=1", 0, cc, sizeof cc); /* to cancel */
    cell_dir(emit2, "--ntasks=1", 1, cl, sizeof cl); /* Slurm's time limit */
    cell_dir(emit3, "--ntasks=1", 0, ct, sizeof ct); /* the suite's timeout */
    char ids2[256], idc[32];
    snprintf(script, sizeof script, "%s/job.sbatch", cc);
    snprintf(idc, sizeof idc, "%s", sbatch(f, "IMBENCH_TEST_SLOW=1", "", script));
    snprintf(script, sizeof script, "%s/job.sbatch", cl);
    const char *idl = sbatch(f, "IMBENCH_TEST_SLOW=1", "--time=1", script);
    snprintf(ids2, sizeof ids2, "%s,%s", idc, idl);
    snprintf(script, sizeof script, "%s/job.sbatch", ct);
    char idt[32];
    snprintf(idt, sizeof idt, "%s", sbatch(f, "IMBENCH_TEST_SLOW=1", "", script));
    size_t il = strlen(ids2);
    snprintf(ids2 + il, sizeof ids2 - il, ",%s", idt);

    /* cancel the first once its imager has begun */
    snprintf(path, sizeof path, "%s/attempt-1/dirty.fits.tmp", cc);
    double t0 = ib_now();
    while (access(path, F_OK) != 0 && ib_now() - t0 < JOB_WAIT_S) usleep(200 * 1000);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(tu_run(NULL, "scancel %s", idc), 0);

    wait_jobs(ids1);
    print_message("1- and 2-rank jobs done %.0f s after the start\n", ib_now() - t_start);
    wait_jobs(ids2);
    print_message("cancelled and timed-out jobs done %.0f s after the start\n",
                  ib_now() - t_start);
    /* the cancelled job again: a new attempt, the interrupted one kept */
    snprintf(script, sizeof script, "%s/job.sbatch", cc);
    char idr[32];
    snprintf(idr, sizeof idr, "%s", sbatch(f, "", "", script));
    wait_jobs(idr);
    print_message("resubmitted job done %.0f s after the start\n", ib_now() - t_start);

    /* every attempt, as the jobs recorded it */
    for (int k = 0; k < 2; k++) {
        const char *cd = k ? c2 : c1;
        expect_attempt(cd, 1, "ok", NULL, jobid[k]);
        snprintf(path, sizeof path, "%s/attempt-1", cd);
        json_t *cj = load_json(path, "cell.json");
        assert_string_equal(jstr(cj, "host"), node);
        assert_true(!strncmp(jstr(cj, "command"), "srun ", 5));
        json_decref(cj);
        json_t *sj = load_json(path, "stats.json");
        json_t *ranks = json_object_get(json_object_get(sj, "params"), "ranks");
        assert_int_equal(json_integer_value(ranks), k + 1); /* srun started k + 1 ranks */
        json_decref(sj);
        snprintf(path, sizeof path, "%s/attempt-2", cd);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    expect_attempt(cc, 1, "interrupted", "cancelled (SIGTERM", idc);
    expect_attempt(cc, 2, "ok", NULL, idr);
    expect_attempt(cl, 1, "timeout", "near its time limit of 1:00", NULL);
    expect_attempt(ct, 1, "timeout", "ran past the suite timeout of 3 s", idt);
    assert_int_equal(tu_run(&out, "find '%s/slow' -name '*.tmp*'", f->dir), 0);
    if (out[0]) fprintf(stderr, "left behind:\n%s\n", out);
    assert_string_equal(out, "");
    free(out);

    /* ingested: every attempt once, with the node's provenance */
    char db1[PATH_MAX + 16], db2[PATH_MAX + 16];
    snprintf(db1, sizeof db1, "%s/slurm.db", f->dir);
    snprintf(db2, sizeof db2, "%s/slow.db", f->dir);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, emit1, db1);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 2 attempts, 0 already present, 0 skipped"));
    free(out);
    assert_int_equal(q_int(db1, "SELECT count(*) FROM attempts a JOIN cells c"
                                " ON c.id = a.cell_id WHERE a.status = 'ok'"
                                " AND json_extract(a.stats, '$.params.ranks') = c.nodes"),
                     2);
    assert_int_equal(q_int(db1, "SELECT count(DISTINCT c.nodes) FROM attempts a JOIN cells c"
                                " ON c.id = a.cell_id"),
                     2);
    expect_provenance(db1);
    snprintf(path, sizeof path, "%s/slow", f->dir);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, path, db2);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 4 attempts, 0 already present, 0 skipped"));
    free(out);
    assert_int_equal(q_int(db2, "SELECT count(*) FROM attempts WHERE status = 'ok'"), 1);
    assert_int_equal(q_int(db2, "SELECT count(*) FROM attempts WHERE status = 'interrupted'"
                                " AND repeat_index = 0"),
                     1);
    assert_int_equal(q_int(db2, "SELECT count(*) FROM attempts WHERE status = 'timeout'"), 2);
    expect_provenance(db2);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, path, db2);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 0 attempts, 4 already present"));
    free(out);
    print_message("real-Slurm test: %.0f s\n", ib_now() - t_start);
    free(cores_s);
    free(nodes_s);
    free(node);
    free(part);
    f->ids[0] = '\0';
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_real_cluster, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
