/*
 * test_launchers.c: `harness run-suite --launcher mpirun|slurm`, without a
 * Slurm cluster (tests/test_slurm.c submits to a real one). The job
 * scripts emitted for a 2-cell suite (#SBATCH lines, ntasks / cpus / time
 * / signal, the imager command line equal to the one run-suite runs
 * locally, `bash -n`, shellcheck when installed); scripts run here with a
 * stand-in `srun`, each run an attempt directory of its own, then
 * `harness ingest` of their cell.json and stats.json; a failing, a
 * cancelled and a timed-out job still leaving cell.json and no temporary
 * files; the partition checks from the text of scontrol, sinfo and srun
 * --mpi=list; --submit with and without sbatch on PATH, against stand-in
 * Slurm commands; --hostfile checks and a run over a one-host hostfile.
 * Skipped (with the reason) only when the programs have not been built.
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

#include "harness/slurm.h"
#include "tests/testutil.h"

/* room for a command line holding a few paths */
#define ARGS_N (4 * PATH_MAX + 256)

typedef struct fx {
    char *dir;
    char bin[PATH_MAX], harness[PATH_MAX + 16], imager[PATH_MAX + 16];
    char suite[PATH_MAX], data[PATH_MAX], emit[PATH_MAX], db[PATH_MAX];
} fx;

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return NULL;
    size_t cap = 1 << 16, len = 0, k;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((k = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
        len += k;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap *= 2);
            assert_non_null(nb);
            buf = nb;
        }
    }
    buf[len] = '\0';
    fclose(fp);
    return buf;
}

static void make_exec(const char *path, const char *text)
{
    write_file(path, text);
    assert_int_equal(chmod(path, 0755), 0);
}

/* Two cells: one rank and two ranks, two threads each. */
static const char suite_text[] = "name: clustertest\n"
                                 "datasets: [alma-xc66]\n"
                                 "scale: 0.0001\n"
                                 "chans: 4\n"
                                 "image: 32x32\n"
                                 "timeout: 90\n"
                                 "axes:\n"
                                 "  nodes: [1, 2]\n"
                                 "  threads: [2]\n"
                                 "  chunks: [2]\n";

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    /* One resolved program directory, given to every harness run as
     * IMBENCH_BIN: local and emitted command lines name the same imager. */
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s", tu_bin(""));
    if (!realpath(rel, f->bin)) snprintf(f->bin, sizeof f->bin, "%s", rel);
    snprintf(f->harness, sizeof f->harness, "%s/harness", f->bin);
    snprintf(f->imager, sizeof f->imager, "%s/imager", f->bin);
    f->dir = tu_mkdtemp("launchers");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->suite, sizeof f->suite, "%s/cluster.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/cache", f->dir);
    snprintf(f->emit, sizeof f->emit, "%s/jobs", f->dir);
    snprintf(f->db, sizeof f->db, "%s/results.db", f->dir);
    FILE *fp = fopen(f->suite, "w");
    if (!fp) {
        tu_rmtree(f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    fputs(suite_text, fp);
    fclose(fp);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int need_programs(fx *f)
{
    if (access(f->imager, X_OK) != 0 || access(f->harness, X_OK) != 0) {
        printf("skip: '%s' or '%s' is not built yet (make programs)\n", f->imager, f->harness);
        return 0;
    }
    return 1;
}

#define NEED_PROGRAMS(f)         \
    do {                         \
        if (!need_programs(f)) { \
            skip();              \
            return;              \
        }                        \
    } while (0)

static int64_t q_int(const char *db, const char *sql)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
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

/* `harness run-suite SUITE --data-dir DATA ARGS` with IMBENCH_BIN set;
 * output in *out, exit status returned. */
static int run_suite(fx *f, char **out, const char *args)
{
    return tu_run(out, "IMBENCH_BIN='%s' '%s' run-suite '%s' --data-dir '%s' %s", f->bin,
                  f->harness, f->suite, f->data, args);
}

/* The same for runs that start mpirun: OpenMPI's own start-up leaks, so
 * leak checks are off there under the sanitizers (as in test_parallel). */
static int run_suite_mpi(fx *f, char **out, const char *args)
{
    return tu_run(out, "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
                       "IMBENCH_BIN='%s' '%s' run-suite '%s' --data-dir '%s' %s",
                  f->bin, f->harness, f->suite, f->data, args);
}

/* The 12-digit hashes of the suite's two cells: [1] the one whose label
 * has marker, [0] the other. */
static void cell_hashes_by(fx *f, const char *marker, char hash[2][13])
{
    char *out = NULL;
    assert_int_equal(run_suite(f, &out, "--dry-run"), 0);
    int found = 0;
    for (char *line = out; line && *line;) {
        char *nl = strchr(line, '\n');
        unsigned idx;
        char h[13], rest[256];
        if (sscanf(line, " %u %12s %255[^\n]", &idx, h, rest) == 3 && idx >= 1 && idx <= 2) {
            int has = strstr(rest, marker) != NULL;
            snprintf(hash[has], 13, "%s", h);
            found |= 1 << has;
        }
        line = nl ? nl + 1 : NULL;
    }
    free(out);
    assert_int_equal(found, 3);
}

/* The number --dry-run gives the cell whose label has marker. */
static int cell_index(fx *f, const char *marker)
{
    char *out = NULL;
    assert_int_equal(run_suite(f, &out, "--dry-run"), 0);
    int found = 0;
    for (char *line = out; line && *line && !found;) {
        char *nl = strchr(line, '\n');
        unsigned idx;
        char h[13], rest[256];
        if (sscanf(line, " %u %12s %255[^\n]", &idx, h, rest) == 3 && strstr(rest, marker))
            found = (int)idx;
        line = nl ? nl + 1 : NULL;
    }
    free(out);
    assert_true(found > 0);
    return found;
}

/* [0] one rank, [1] two. */
static void cell_hashes(fx *f, char hash[2][13]) { cell_hashes_by(f, "nodes=2", hash); }

static char *job_script(const char *emit, const char *hash, int rep)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s-r%d/job.sbatch", emit, hash, rep);
    char *t = read_all(path);
    if (!t) fprintf(stderr, "missing %s\n", path);
    assert_non_null(t);
    return t;
}

/* Does text hold this exact line? */
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return 1;
    return 0;
}

/* The launch line of a script (after "run_child "), up to the line
 * continuation: a malloc'd string. */
static char *launch_line(const char *script, const char *launcher)
{
    char key[64];
    snprintf(key, sizeof key, "\nrun_child %s ", launcher);
    const char *p = strstr(script, key);
    if (!p) fprintf(stderr, "no '%s' line in:\n%s\n", key + 1, script);
    assert_non_null(p);
    p += strlen("\nrun_child ");
    const char *end = strstr(p, " \\\n");
    assert_non_null(end);
    return strndup(p, (size_t)(end - p));
}

/* s with every occurrence of from replaced by to (malloc'd). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t nf = strlen(from), nt = strlen(to), cap = strlen(s) * (nt + 1) + 1;
    char *out = malloc(cap), *o = out;
    assert_non_null(out);
    while (*s) {
        if (!strncmp(s, from, nf)) {
            memcpy(o, to, nt);
            o += nt;
            s += nf;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static void test_slurm_time(void **state)
{
    (void)state;
    char b[32];
    const struct {
        double s;
        const char *want;
    } cases[] = {{0.5, "00:01:00"}, {1, "00:01:00"},    {60, "00:01:00"},
                 {61, "00:02:00"},  {90, "00:02:00"},   {3600, "01:00:00"},
                 {3601, "01:01:00"}, {90000, "25:00:00"}, {-5, "00:01:00"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hx_slurm_time(cases[i].s, b, sizeof b);
        assert_string_equal(b, cases[i].want);
    }
    assert_true(hx_slurm_plain_path("/scratch/u1/imbench-jobs_2.x"));
    assert_false(hx_slurm_plain_path("/scratch/my jobs"));
    assert_false(hx_slurm_plain_path("/scratch/100%"));
    assert_false(hx_slurm_plain_path("/scratch/'q'"));
    assert_false(hx_slurm_plain_path(""));
}

static void test_emitted_scripts(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char hash[2][13];
    cell_hashes(f, hash);
    char *out = NULL, args[ARGS_N];
    snprintf(args, sizeof args, "--launcher slurm --emit '%s' --repeat 2 --db '%s'", f->emit,
             f->db);
    int st = run_suite(f, &out, args);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "2 cells x 2 repeats = 4 job scripts"));
    assert_true(tu_contains(out, "submit-all.sh"));
    assert_true(tu_contains(out, "harness ingest"));
    free(out);
    /* nothing ran: no dataset, no database */
    char path[PATH_MAX + 64];
    assert_int_not_equal(access(f->db, F_OK), 0);
    assert_int_equal(tu_run(NULL, "[ -z \"$(ls -A '%s')\" ]", f->data), 0);

    for (int two = 0; two < 2; two++)
        for (int rep = 0; rep < 2; rep++) {
            char *s = job_script(f->emit, hash[two], rep), line[PATH_MAX + 128];
            assert_true(!strncmp(s, "#!/bin/bash\n", 12));
            snprintf(line, sizeof line, "#SBATCH --job-name=imbench-clustertest-%s-r%d",
                     hash[two], rep);
            assert_true(has_line(s, line));
            /* no partition asked about: Slurm places the tasks */
            assert_false(tu_contains(s, "#SBATCH --nodes="));
            assert_false(tu_contains(s, "#SBATCH --ntasks-per-node="));
            assert_false(tu_contains(s, "#SBATCH --partition="));
            assert_true(has_line(s, two ? "#SBATCH --ntasks=2" : "#SBATCH --ntasks=1"));
            assert_true(has_line(s, "#SBATCH --cpus-per-task=2"));
            /* 90 s + 2 x 60 s for Slurm's warning, rounded up */
            assert_true(has_line(s, "#SBATCH --time=00:04:00"));
            assert_true(has_line(s, "#SBATCH --signal=B:USR1@60"));
            assert_true(has_line(s, two ? "export SLURM_MPI_TYPE=pmix" : "child_step=1"));
            if (!two) assert_false(tu_contains(s, "SLURM_MPI_TYPE"));
            assert_true(tu_contains(s, " provenance --out \"$attempt/provenance.json\""));
            snprintf(line, sizeof line, "#SBATCH --output=%s/%s-r%d/slurm-%%j.out", f->emit,
                     hash[two], rep);
            assert_true(has_line(s, line));
            snprintf(line, sizeof line, "#SBATCH --error=%s/%s-r%d/slurm-%%j.err", f->emit,
                     hash[two], rep);
            assert_true(has_line(s, line));
            assert_true(has_line(s, "set -euo pipefail"));
            assert_true(tu_contains(s, "/harness gen --dataset alma-xc66 --scale 0.0001"));
            assert_true(tu_contains(s, "flock 9"));
            assert_true(tu_contains(s, "mv -T \"$tmp\" \"$data_dir\""));
            assert_true(tu_contains(s, "\"schema\": \"imbench-cell/1\""));
            snprintf(line, sizeof line, "\"repeat\": %d", rep);
            assert_true(tu_contains(s, line));
            char *l = launch_line(s, "srun");
            snprintf(line, sizeof line, "srun %s --vis ", f->imager);
            assert_true(!strncmp(l, line, strlen(line)));
            free(l);
            free(s);
            snprintf(path, sizeof path, "%s/%s-r%d/job.sbatch", f->emit, hash[two], rep);
            st = tu_run(&out, "bash -n '%s'", path);
            if (st) fprintf(stderr, "%s\n", out);
            assert_int_equal(st, 0);
            free(out);
            if (tu_run(NULL, "command -v shellcheck >/dev/null") == 0) {
                st = tu_run(&out, "shellcheck '%s'", path);
                if (st) fprintf(stderr, "%s\n", out);
                assert_int_equal(st, 0);
                free(out);
            }
        }

    /* submit-all.sh: every script once, repeat 0 of each cell first */
    snprintf(path, sizeof path, "%s/submit-all.sh", f->emit);
    char *sa = read_all(path);
    assert_non_null(sa);
    assert_int_equal(tu_run(NULL, "bash -n '%s'", path), 0);
    if (tu_run(NULL, "command -v shellcheck >/dev/null") == 0)
        assert_int_equal(tu_run(NULL, "shellcheck '%s'", path), 0);
    const char *pos[4];
    for (int k = 0; k < 4; k++) {
        char line[PATH_MAX + 128];
        snprintf(line, sizeof line, "sbatch \"$@\" %s/%s-r%d/job.sbatch", f->emit, hash[k % 2],
                 k / 2);
        pos[k] = strstr(sa, line);
        assert_non_null(pos[k]);
    }
    assert_true(pos[0] < pos[2] && pos[1] < pos[2] && pos[0] < pos[3] && pos[1] < pos[3]);
    free(sa);

    /* the imager command line is the one run-suite runs locally */
    char cells[PATH_MAX + 16];
    snprintf(cells, sizeof cells, "%s/cells", f->dir);
    int have_mpirun = tu_run(NULL, "command -v mpirun >/dev/null") == 0;
    if (!have_mpirun) printf("note: mpirun not in PATH; only the one-rank cell is compared\n");
    snprintf(args, sizeof args, "--db '%s' --out-dir '%s'%s", f->db, cells,
             have_mpirun ? "" : " --filter nodes=1");
    st = run_suite_mpi(f, &out, args);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    assert_int_equal(tu_run(&out, "find '%s' -name cell.json | sort", cells), 0);
    int compared = 0;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *cj = json_load_file(line, 0, &je);
        assert_non_null(cj);
        const char *h = json_string_value(json_object_get(cj, "hash"));
        const char *cmd = json_string_value(json_object_get(cj, "command"));
        assert_non_null(h);
        assert_non_null(cmd);
        int two = !strncmp(h, hash[1], 12);
        *strrchr(line, '/') = '\0'; /* the attempt directory */
        const char *im = strstr(cmd, f->imager);
        assert_non_null(im);
        char *local = replace_all(im, line, "@");
        char *s = job_script(f->emit, hash[two], 0);
        char *l = launch_line(s, "srun");
        char *emitted = replace_all(l + strlen("srun "), "\"$attempt\"", "@");
        if (strcmp(local, emitted))
            fprintf(stderr, "local:   %s\nemitted: %s\n", local, emitted);
        assert_string_equal(local, emitted);
        compared++;
        free(local);
        free(emitted);
        free(l);
        free(s);
        json_decref(cj);
    }
    free(out);
    assert_int_equal(compared, have_mpirun ? 2 : 1);
}

static void test_emit_variants(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char hash[2][13];
    cell_hashes(f, hash);
    char *out = NULL, args[ARGS_N];
    /* two ranks per node: the 2-rank cell fits one node */
    snprintf(args, sizeof args,
             "--launcher slurm --emit '%s' --tasks-per-node 2 --mpi-launcher mpirun "
             "--timeout 3601 --keep-products",
             f->emit);
    int st = run_suite(f, &out, args);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    /* the 1-rank cell asks for 1 task on its node, never more tasks per
     * node than it has (sbatch refuses that with its cpus per task) */
    char *s = job_script(f->emit, hash[0], 0);
    assert_true(has_line(s, "#SBATCH --ntasks=1"));
    assert_true(has_line(s, "#SBATCH --ntasks-per-node=1"));
    free(s);
    s = job_script(f->emit, hash[1], 0);
    assert_true(has_line(s, "#SBATCH --nodes=1"));
    assert_true(has_line(s, "#SBATCH --ntasks=2"));
    assert_true(has_line(s, "#SBATCH --ntasks-per-node=2"));
    assert_true(has_line(s, "#SBATCH --time=01:03:00"));
    char *l = launch_line(s, "mpirun");
    char want[PATH_MAX + 64];
    assert_true(!strncmp(l, "mpirun -np 2 ", 13));
    snprintf(want, sizeof want, " %s --vis ", f->imager);
    assert_true(tu_contains(l, want));
    assert_false(tu_contains(s, "SRUN_CPUS_PER_TASK"));
    assert_false(tu_contains(s, "*.fits"));
    free(l);
    free(s);
    s = job_script(f->emit, hash[0], 0);
    assert_true(has_line(s, "#SBATCH --nodes=1"));
    assert_true(has_line(s, "#SBATCH --ntasks=1"));
    free(s);

    /* option combinations that make no sense are usage errors (status 2) */
    const char *bad[][2] = {
        {"--launcher slurm", "needs --emit"},
        {"--emit x", "need --launcher slurm"},
        {"--submit", "need --launcher slurm"},
        {"--launcher slurm --emit x --tasks-per-node 0", "--tasks-per-node must be >= 1"},
        {"--launcher slurm --emit x --mpi-launcher aprun", "srun or mpirun"},
        {"--launcher slurm --emit x --resume", "--resume"},
        {"--launcher pbs", "local, mpirun or slurm"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = run_suite(f, &out, bad[i][0]);
        if (st != 2 || !tu_contains(out, bad[i][1]))
            fprintf(stderr, "%s -> %d: %s\n", bad[i][0], st, out);
        assert_int_equal(st, 2);
        assert_true(tu_contains(out, bad[i][1]));
        free(out);
    }
    /* a directory Slurm's #SBATCH lines could not carry */
    snprintf(args, sizeof args, "--launcher slurm --emit '%s/with space'", f->dir);
    st = run_suite(f, &out, args);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "with space"));
    free(out);
}

/* Emit into f->emit, a stand-in srun in DIR/bin-NAME running BODY. */
static void fake_srun(fx *f, const char *name, const char *body, char *bin, size_t n)
{
    snprintf(bin, n, "%s/bin-%s", f->dir, name);
    assert_int_equal(mkdir(bin, 0755), 0);
    char path[PATH_MAX + 64], text[1024];
    snprintf(path, sizeof path, "%s/srun", bin);
    snprintf(text, sizeof text, "#!/bin/sh\n# test stand-in for Slurm's srun\n%s\n", body);
    make_exec(path, text);
}

/* cell.json of attempt N of repeat rep of the cell whose hash starts hash. */
static json_t *load_cell(fx *f, const char *hash, int rep, int attempt)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s-r%d/attempt-%d/cell.json", f->emit, hash, rep, attempt);
    json_error_t je;
    json_t *cj = json_load_file(path, 0, &je);
    if (!cj) fprintf(stderr, "%s: line %d: %s\n", path, je.line, je.text);
    assert_non_null(cj);
    return cj;
}

/* No file named *.tmp under dir (a stopped attempt leaves none). */
static void assert_no_tmp(const char *dir)
{
    char *out = NULL;
    assert_int_equal(tu_run(&out, "find '%s' -name '*.tmp*'", dir), 0);
    if (out[0]) fprintf(stderr, "left behind:\n%s\n", out);
    assert_string_equal(out, "");
    free(out);
}

/* A stand-in srun body that makes an unfinished cube in the attempt (its
 * --out) and then sleeps, as an imager stopped in the middle would. */
#define SLOW_SRUN                                                                    \
    "prev=; for a in \"$@\"; do if [ \"$prev\" = --out ]; then : >\"$a/dirty.fits.tmp\"; fi;" \
    " prev=$a; done\nexec sleep 30"

static void test_job_runs_and_ingests(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char hash[2][13];
    cell_hashes(f, hash);
    char *out = NULL, args[ARGS_N];
    snprintf(args, sizeof args, "--launcher slurm --emit '%s' --repeat 3", f->emit);
    assert_int_equal(run_suite(f, &out, args), 0);
    free(out);

    /* repeat 0 of the one-rank cell, with an srun that runs its arguments */
    char bin[PATH_MAX], cell_dir[PATH_MAX + 32], path[PATH_MAX + 64];
    fake_srun(f, "exec", "exec \"$@\"", bin, sizeof bin);
    snprintf(cell_dir, sizeof cell_dir, "%s/%s-r0", f->emit, hash[0]);
    int st = tu_run(&out, "cd / && PATH='%s':\"$PATH\" SLURM_JOB_ID=77 bash '%s/job.sbatch'",
                    bin, cell_dir);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    const char *expect[] = {"cell.json",  "stats.json", "tasks.csv",
                            "stdout.log", "stderr.log", "provenance.json"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        snprintf(path, sizeof path, "%s/attempt-1/%s", cell_dir, expect[i]);
        assert_int_equal(access(path, R_OK), 0);
    }
    snprintf(path, sizeof path, "%s/attempt-1/dirty.fits", cell_dir);
    assert_int_not_equal(access(path, F_OK), 0); /* products removed after success */
    assert_int_equal(tu_run(NULL, "ls '%s'/*/vis.h5 '%s'/*/cache.json", f->data, f->data), 0);
    json_t *cj = load_cell(f, hash[0], 0, 1);
    assert_string_equal(json_string_value(json_object_get(cj, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(cj, "exit_code")), 0);
    assert_int_equal(json_integer_value(json_object_get(cj, "repeat")), 0);
    assert_string_equal(json_string_value(json_object_get(cj, "slurm_job_id")), "77");
    assert_string_equal(json_string_value(json_object_get(cj, "attempt")), "attempt-1");
    assert_true(json_number_value(json_object_get(cj, "wall_s")) > 0);
    const char *cmd = json_string_value(json_object_get(cj, "command"));
    assert_true(!strncmp(cmd, "srun ", 5));
    snprintf(path, sizeof path, "--stats %s/attempt-1/stats.json", cell_dir);
    assert_true(tu_contains(cmd, path)); /* the attempt's own paths, not a placeholder */
    assert_false(tu_contains(cmd, HX_SLURM_ATTEMPT));
    json_decref(cj);
    /* the node's provenance, with res_provenance's field names as keys */
    snprintf(path, sizeof path, "%s/attempt-1/provenance.json", cell_dir);
    json_error_t je;
    json_t *pj = json_load_file(path, 0, &je);
    assert_non_null(pj);
    assert_true(strlen(json_string_value(json_object_get(pj, "compiler"))) > 0);
    assert_true(strlen(json_string_value(json_object_get(pj, "kernel"))) > 0);
    assert_true(json_integer_value(json_object_get(pj, "cores")) >= 1);
    assert_true(json_is_string(json_object_get(json_object_get(pj, "libs"), "hdf5")));
    json_decref(pj);

    /* the same script again (a resubmission): attempt-2, attempt-1 kept */
    st = tu_run(&out, "PATH='%s':\"$PATH\" SLURM_JOB_ID=78 bash '%s/job.sbatch'", bin, cell_dir);
    assert_int_equal(st, 0);
    free(out);
    cj = load_cell(f, hash[0], 0, 2);
    assert_string_equal(json_string_value(json_object_get(cj, "slurm_job_id")), "78");
    json_decref(cj);
    cj = load_cell(f, hash[0], 0, 1);
    assert_string_equal(json_string_value(json_object_get(cj, "slurm_job_id")), "77");
    json_decref(cj);

    /* repeat 1: the imager fails; cell.json says so, with its exit code */
    char binf[PATH_MAX];
    fake_srun(f, "fail", "echo 'imager: vis store \"x\" is broken' >&2\nexit 3", binf,
              sizeof binf);
    snprintf(cell_dir, sizeof cell_dir, "%s/%s-r1", f->emit, hash[0]);
    st = tu_run(&out, "PATH='%s':\"$PATH\" bash '%s/job.sbatch'", binf, cell_dir);
    assert_int_equal(st, 3);
    free(out);
    cj = load_cell(f, hash[0], 1, 1);
    assert_string_equal(json_string_value(json_object_get(cj, "status")), "failed");
    assert_int_equal(json_integer_value(json_object_get(cj, "exit_code")), 3);
    assert_true(tu_contains(json_string_value(json_object_get(cj, "stderr_tail")),
                            "imager: vis store \"x\" is broken"));
    json_decref(cj);

    /* repeat 2: cancelled (SIGTERM) while the imager runs: recorded as
     * interrupted, its unfinished cube removed */
    char bins[PATH_MAX];
    fake_srun(f, "sleep", SLOW_SRUN, bins, sizeof bins);
    snprintf(cell_dir, sizeof cell_dir, "%s/%s-r2", f->emit, hash[0]);
    double t0 = ib_now();
    st = tu_run(&out, "PATH='%s':\"$PATH\" bash '%s/job.sbatch' & p=$!;"
                      " until [ -e '%s/attempt-1/dirty.fits.tmp' ]; do sleep 0.05; done;"
                      " kill -TERM $p; wait $p",
                bins, cell_dir, cell_dir);
    assert_int_equal(st, 143);
    assert_true(ib_now() - t0 < 15);
    free(out);
    cj = load_cell(f, hash[0], 2, 1);
    assert_string_equal(json_string_value(json_object_get(cj, "status")), "interrupted");
    assert_int_equal(json_integer_value(json_object_get(cj, "signal")), 15);
    assert_true(tu_contains(json_string_value(json_object_get(cj, "stderr_tail")), "cancelled"));
    json_decref(cj);
    /* Slurm's warning before the time limit (SIGUSR1): a timeout */
    t0 = ib_now();
    st = tu_run(&out, "PATH='%s':\"$PATH\" bash '%s/job.sbatch' & p=$!;"
                      " until [ -e '%s/attempt-2/dirty.fits.tmp' ]; do sleep 0.05; done;"
                      " kill -USR1 $p; wait $p",
                bins, cell_dir, cell_dir);
    assert_int_equal(st, 143);
    assert_true(ib_now() - t0 < 15);
    free(out);
    cj = load_cell(f, hash[0], 2, 2);
    assert_string_equal(json_string_value(json_object_get(cj, "status")), "timeout");
    assert_true(tu_contains(json_string_value(json_object_get(cj, "stderr_tail")),
                            "near its time limit of 00:04:00"));
    json_decref(cj);
    assert_no_tmp(f->emit);

    /* ingest: the finished attempts, once; the jobs that never ran are not there */
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, f->emit, f->db);
    if (st != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 5 attempts, 0 already present, 0 skipped"));
    free(out);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE suite = 'clustertest'"), 1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'ok'"
                                  " AND repeat_index = 0 AND stats IS NOT NULL"),
                     2);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'failed'"
                                  " AND exit_code = 3 AND stderr_tail LIKE '%is broken%'"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'interrupted'"
                                  " AND repeat_index = 2"),
                     1);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM attempts WHERE status = 'timeout'"
                                  " AND repeat_index = 2"),
                     1);
    assert_true(q_int(f->db, "SELECT count(*) FROM metrics m JOIN attempts a"
                             " ON a.id = m.attempt_id WHERE a.status = 'ok'") > 3);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM cells WHERE nodes = 1 AND threads = 2"),
                     1);
    /* the run has the provenance the node recorded */
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE compiler <> ''"
                                  " AND kernel <> '' AND cpu_model <> '' AND cores >= 1"
                                  " AND json_extract(libs, '$.hdf5') IS NOT NULL"),
                     1);
    if (tu_run(NULL, "git rev-parse HEAD") == 0)
        assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs WHERE length(git_commit) = 40"),
                         1);
    st = tu_run(&out, "'%s' ingest '%s' --db '%s'", f->harness, f->emit, f->db);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "ingested 0 attempts, 5 already present"));
    free(out);
    /* the job of repeat 0 succeeded twice (resubmitted after it had run):
     * two measurements of one (cell, repeat) slot, which verify reports */
    st = tu_run(&out, "'%s' verify --db '%s'", f->harness, f->db);
    if (st != 1) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "integrity_check: ok"));
    assert_true(tu_contains(out, "repeat 0 has 2 successful attempts"));
    assert_true(tu_contains(out, "\n1 problem\n"));
    free(out);
}

/* The suite's own timeout, kept by the job script: the imager is stopped
 * after it (SIGTERM), the attempt recorded as a timeout, nothing left. */
static void test_job_timeout(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char hash[2][13];
    cell_hashes(f, hash);
    char *out = NULL, args[ARGS_N];
    snprintf(args, sizeof args, "--launcher slurm --emit '%s' --timeout 1", f->emit);
    assert_int_equal(run_suite(f, &out, args), 0);
    free(out);
    /* the dataset first, so that only the imager's time counts */
    snprintf(args, sizeof args, "--db '%s' --out-dir '%s/cells' --filter nodes=1", f->db, f->dir);
    assert_int_equal(run_suite(f, &out, args), 0);
    free(out);
    char bins[PATH_MAX], cell_dir[PATH_MAX + 32];
    fake_srun(f, "sleep", SLOW_SRUN, bins, sizeof bins);
    snprintf(cell_dir, sizeof cell_dir, "%s/%s-r0", f->emit, hash[0]);
    double t0 = ib_now();
    int st = tu_run(&out, "PATH='%s':\"$PATH\" bash '%s/job.sbatch'", bins, cell_dir);
    double took = ib_now() - t0;
    if (st != 143) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 143);
    assert_true(took >= 1 && took < 15);
    free(out);
    json_t *cj = load_cell(f, hash[0], 0, 1);
    assert_string_equal(json_string_value(json_object_get(cj, "status")), "timeout");
    assert_int_equal(json_integer_value(json_object_get(cj, "signal")), 15);
    assert_true(tu_contains(json_string_value(json_object_get(cj, "stderr_tail")),
                            "ran past the suite timeout of 1 s"));
    json_decref(cj);
    assert_no_tmp(f->emit);
}

/* What a Slurm 22.05 prints for a cluster of one partition "debug" (and
 * one "big" that is down). */
static const char partitions_text[] =
    "PartitionName=big AllowGroups=ALL Default=NO MaxNodes=4 MaxTime=2-00:00:00 MinNodes=0 "
    "Nodes=n[1-8] State=DOWN TotalCPUs=512 TotalNodes=8 DefMemPerNode=UNLIMITED\n"
    "PartitionName=debug AllowGroups=ALL AllowAccounts=ALL AllowQos=ALL AllocNodes=ALL "
    "Default=YES QoS=N/A DefaultTime=NONE DisableRootJobs=NO ExclusiveUser=NO GraceTime=0 "
    "Hidden=NO MaxNodes=UNLIMITED MaxTime=UNLIMITED MinNodes=0 LLN=NO "
    "MaxCPUsPerNode=UNLIMITED Nodes=vm PriorityJobFactor=1 PriorityTier=1 RootOnly=NO "
    "ReqResv=NO OverSubscribe=NO OverTimeLimit=NONE PreemptMode=OFF State=UP TotalCPUs=2 "
    "TotalNodes=1 SelectTypeParameters=NONE JobDefaults=(null) DefMemPerNode=UNLIMITED "
    "MaxMemPerNode=UNLIMITED TRES=cpu=2,mem=24105M,node=1,billing=2\n";
static const char mpi_text[] = "MPI plugin types are...\n\tpmix\n\tnone\n\tcray_shasta\n\tpmi2\n"
                               "specific pmix plugin versions available: pmix_v4\n";

static void test_partition_checks(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    hx_slurm_part p;
    assert_int_equal(hx_slurm_parse(&e, NULL, partitions_text, "1|2|24105|idle|vm\n", mpi_text,
                                    &p),
                     0);
    assert_string_equal(p.name, "debug"); /* the default partition */
    assert_string_equal(p.state, "UP");
    assert_int_equal(p.max_time_min, -1);
    assert_int_equal(p.max_nodes, -1);
    assert_int_equal(p.ngroups, 1);
    assert_int_equal(p.groups[0].cpus, 2);
    assert_int_equal(p.groups[0].count, 1);
    assert_true(p.groups[0].mem_mb == 24105);
    assert_string_equal(p.mpi, "pmix none cray_shasta pmi2 pmix_v4");

    hx_slurm_shape sh;
    char why[512];
    hx_slurm_need n = {.ranks = 2, .threads = 1, .timeout_s = 60, .mpi_type = "pmix"};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 0);
    assert_int_equal(sh.nodes, 1); /* both ranks on the one node, not --nodes=2 */
    assert_int_equal(sh.tasks_per_node, 0);
    n.threads = 2;
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "2 ranks x 2 threads need 4 cores, partition 'debug' has 1 node "
                             "of 2 cores");
    n = (hx_slurm_need){.ranks = 1, .threads = 4, .timeout_s = 60};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_true(tu_contains(why, "4 threads per rank need 4 cores on one node"));
    n = (hx_slurm_need){.ranks = 2, .threads = 1, .timeout_s = 60, .mpi_type = "pmi3"};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_true(tu_contains(why, "MPI plug-in 'pmi3'"));
    assert_true(tu_contains(why, "offers: pmix none cray_shasta pmi2 pmix_v4"));
    n.ranks = 1; /* one rank needs no plug-in */
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 0);
    n = (hx_slurm_need){.ranks = 2, .threads = 1, .mem_per_rank = (int64_t)16 << 30};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_true(tu_contains(why, "2 ranks per node x mem_budget 16384 MiB need 32768 MiB"));

    /* several nodes, packed by cores; an explicit count per node; limits */
    assert_int_equal(hx_slurm_parse(&e, "big", partitions_text,
                                    "6|64|256000|idle|n[1-6]\n1|64|256000|down*|n7\n"
                                    "1|64|256000|drained|n8\n",
                                    mpi_text, &p),
                     0);
    assert_string_equal(p.state, "DOWN");
    assert_int_equal(p.max_nodes, 4);
    assert_int_equal(p.max_time_min, 2 * 1440);
    assert_int_equal(p.groups[0].count, 6);
    assert_true(tu_contains(p.down, "n7 (down*)"));
    assert_true(tu_contains(p.down, "n8 (drained)"));
    n = (hx_slurm_need){.ranks = 4, .threads = 16, .timeout_s = 60};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "partition 'big' is DOWN: no job starts there");
    snprintf(p.state, sizeof p.state, "UP");
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 0);
    assert_int_equal(sh.nodes, 1);
    n.ranks = 8;
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 0);
    assert_int_equal(sh.nodes, 2);
    n.tasks_per_node = 1; /* one rank per node, as in the study */
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "8 ranks at 1 per node x 16 threads need 8 nodes, partition 'big' "
                             "has 6 nodes of 64 cores");
    n.ranks = 5;
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "5 ranks x 16 threads need 5 nodes, partition 'big' allows 4 "
                             "per job");
    n.ranks = 3;
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 0);
    assert_int_equal(sh.nodes, 3);
    assert_int_equal(sh.tasks_per_node, 1);
    n.ranks = 7;
    n.tasks_per_node = 0;
    n.timeout_s = 3 * 86400.0;
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "time limit 72:02:00 (timeout 259200 s + 120 s for Slurm's "
                             "warning) is over the MaxTime of partition 'big' (48:00:00)");

    /* what Slurm says when there is no such partition */
    assert_int_equal(hx_slurm_parse(&e, "gpu", partitions_text, "", mpi_text, &p), IB_EINVAL);
    assert_true(tu_contains(e.msg, "no partition 'gpu'"));
    ib_err_init(&e);
    assert_int_equal(hx_slurm_parse(&e, NULL, "PartitionName=a Default=NO State=UP\n", "", "",
                                    &p),
                     IB_EINVAL);
    assert_true(tu_contains(e.msg, "no default partition"));
    /* no node that takes jobs */
    ib_err_init(&e);
    assert_int_equal(hx_slurm_parse(&e, NULL, partitions_text, "1|2|24105|drained|vm\n",
                                    mpi_text, &p),
                     0);
    n = (hx_slurm_need){.ranks = 1, .threads = 1, .timeout_s = 60};
    assert_int_equal(hx_slurm_check(&p, &n, &sh, why, sizeof why), 1);
    assert_string_equal(why, "partition 'debug' has no node that takes jobs (vm (drained))");
}

/* Stand-in Slurm commands in DIR/slurmbin: sbatch records its arguments
 * and prints a job id; scontrol, sinfo and srun --mpi=list print the
 * files partitions.txt, nodes.txt and mpi.txt of DIR. */
static void fake_slurm(fx *f, char *bin, size_t n)
{
    char path[PATH_MAX + 32], text[4 * PATH_MAX];
    snprintf(bin, n, "%s/slurmbin", f->dir);
    assert_int_equal(mkdir(bin, 0755), 0);
    snprintf(path, sizeof path, "%s/sbatch", bin);
    snprintf(text, sizeof text,
             "#!/bin/sh\n"
             "echo \"$*\" >> '%s/sbatch.log'\n"
             "n=$(wc -l < '%s/sbatch.log')\n"
             "echo \"$((4240 + n));testcluster\"\n",
             f->dir, f->dir);
    make_exec(path, text);
    const char *cmds[][2] = {{"scontrol", "partitions.txt"}, {"sinfo", "nodes.txt"},
                             {"srun", "mpi.txt"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", bin, cmds[i][0]);
        snprintf(text, sizeof text, "#!/bin/sh\necho \"$*\" >> '%s/%s.log'\ncat '%s/%s'\n",
                 f->dir, cmds[i][0], f->dir, cmds[i][1]);
        make_exec(path, text);
    }
    snprintf(path, sizeof path, "%s/partitions.txt", f->dir);
    write_file(path, partitions_text);
    snprintf(path, sizeof path, "%s/nodes.txt", f->dir);
    write_file(path, "2|4|16000|idle|n[1-2]\n");
    snprintf(path, sizeof path, "%s/mpi.txt", f->dir);
    write_file(path, mpi_text);
}

static int submit(fx *f, const char *bin, char **out, const char *extra)
{
    return tu_run(out, "PATH='%s':\"$PATH\" IMBENCH_BIN='%s' '%s' run-suite '%s' --data-dir '%s'"
                       " --launcher slurm --emit '%s' --submit %s",
                  bin, f->bin, f->harness, f->suite, f->data, f->emit, extra);
}

static void test_submit(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    /* no sbatch on PATH: a clear error, status 2, nothing written */
    char empty[PATH_MAX], *out = NULL;
    snprintf(empty, sizeof empty, "%s/emptybin", f->dir);
    assert_int_equal(mkdir(empty, 0755), 0);
    int st = tu_run(&out, "PATH='%s' IMBENCH_BIN='%s' '%s' run-suite '%s' --data-dir '%s'"
                          " --launcher slurm --emit '%s' --submit",
                    empty, f->bin, f->harness, f->suite, f->data, f->emit);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "sbatch not found"));
    free(out);
    assert_int_not_equal(access(f->emit, F_OK), 0);

    /* the partition is asked about first: 1 and 2 ranks x 2 threads fit a
     * node of 4 cores */
    char bin[PATH_MAX], path[PATH_MAX + 32];
    fake_slurm(f, bin, sizeof bin);
    st = submit(f, bin, &out, "");
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    assert_true(tu_contains(out, "submitted job 4241"));
    assert_true(tu_contains(out, "submitted job 4242"));
    assert_true(tu_contains(out, "2 jobs submitted"));
    free(out);
    snprintf(path, sizeof path, "%s/sbatch.log", f->dir);
    char *log = read_all(path);
    assert_non_null(log);
    assert_true(tu_contains(log, "--parsable "));
    assert_true(tu_contains(log, "/job.sbatch"));
    free(log);
    snprintf(path, sizeof path, "%s/jobs.txt", f->emit);
    char *jobs = read_all(path);
    assert_non_null(jobs);
    assert_true(tu_contains(jobs, "4241 "));
    assert_true(tu_contains(jobs, "4242 "));
    free(jobs);
    char hash[2][13];
    cell_hashes(f, hash);
    char *s = job_script(f->emit, hash[1], 0);
    assert_true(has_line(s, "#SBATCH --partition=debug"));
    assert_true(has_line(s, "#SBATCH --nodes=1"));
    assert_true(has_line(s, "#SBATCH --ntasks=2"));
    assert_false(tu_contains(s, "--ntasks-per-node"));
    assert_true(has_line(s, "export SLURM_MPI_TYPE=pmix"));
    free(s);

    /* refused with the reason, one line per cell, nothing written: too few
     * cores, no such partition, a plug-in srun lacks, a partition down */
    tu_rmtree(f->emit);
    snprintf(path, sizeof path, "%s/nodes.txt", f->dir);
    write_file(path, "1|2|16000|idle|vm\n");
    st = submit(f, bin, &out, "");
    assert_int_equal(st, 1);
    char want[160];
    snprintf(want, sizeof want, "harness run-suite: cell %d: 2 ranks x 2 threads need 4 cores, "
                                "partition 'debug' has 1 node of 2 cores\n",
             cell_index(f, "nodes=2"));
    assert_true(tu_contains(out, want));
    assert_true(tu_contains(out, "1 of 2 cells cannot run on partition 'debug'"));
    free(out);
    assert_int_not_equal(access(f->emit, F_OK), 0);
    write_file(path, "2|4|16000|idle|n[1-2]\n");
    st = submit(f, bin, &out, "--partition gpu");
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "no partition 'gpu'"));
    free(out);
    st = tu_run(&out, "SLURM_MPI_TYPE=pmi2 PATH='%s':\"$PATH\" IMBENCH_BIN='%s' '%s' run-suite"
                      " '%s' --data-dir '%s' --launcher slurm --emit '%s' --submit",
                bin, f->bin, f->harness, f->suite, f->data, f->emit);
    assert_int_equal(st, 0); /* pmi2 is on the list */
    free(out);
    tu_rmtree(f->emit);
    st = tu_run(&out, "SLURM_MPI_TYPE=pmi3 PATH='%s':\"$PATH\" IMBENCH_BIN='%s' '%s' run-suite"
                      " '%s' --data-dir '%s' --launcher slurm --emit '%s' --submit",
                bin, f->bin, f->harness, f->suite, f->data, f->emit);
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "2 ranks need srun's MPI plug-in 'pmi3'"));
    free(out);
    st = submit(f, bin, &out, "--mpi-launcher mpirun"); /* mpirun needs no plug-in */
    assert_int_equal(st, 0);
    free(out);
    tu_rmtree(f->emit);
    st = submit(f, bin, &out, "--partition big");
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "partition 'big' is DOWN"));
    free(out);
    /* no controller answers */
    snprintf(path, sizeof path, "%s/scontrol", bin);
    make_exec(path, "#!/bin/sh\necho 'slurm_load_partitions: Unable to contact slurm controller"
                    " (connect failure)' >&2\nexit 1\n");
    st = submit(f, bin, &out, "");
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "cannot ask Slurm about its partitions"));
    assert_true(tu_contains(out, "Unable to contact slurm controller"));
    free(out);
    assert_int_not_equal(access(f->emit, F_OK), 0);

    /* --partition without --submit checks too, and names the partition */
    char text[PATH_MAX + 64];
    snprintf(text, sizeof text, "#!/bin/sh\ncat '%s/partitions.txt'\n", f->dir);
    make_exec(path, text);
    st = tu_run(&out, "PATH='%s':\"$PATH\" IMBENCH_BIN='%s' '%s' run-suite '%s' --data-dir '%s'"
                      " --launcher slurm --emit '%s' --partition debug",
                bin, f->bin, f->harness, f->suite, f->data, f->emit);
    assert_int_equal(st, 0);
    free(out);
    s = job_script(f->emit, hash[0], 0);
    assert_true(has_line(s, "#SBATCH --partition=debug"));
    assert_true(has_line(s, "#SBATCH --nodes=1"));
    free(s);

    /* sbatch refusing a job stops the submission with its message */
    snprintf(path, sizeof path, "%s/sbatch", bin);
    make_exec(path, "#!/bin/sh\necho 'sbatch: error: invalid partition specified: x' >&2\n"
                    "exit 1\n");
    st = submit(f, bin, &out, "");
    assert_int_equal(st, 1);
    assert_true(tu_contains(out, "invalid partition"));
    free(out);
}

/* The row_chunks axis reaches the imager's command line as --row-chunks M
 * (M > 1; 1 is the imager's default and the cell without the axis). The
 * emitted job runs the same command line as a local attempt (above), so
 * this checks both without needing an imager that already has the option. */
static void test_row_chunks_command(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    write_file(f->suite, "name: rowchunks\n"
                         "datasets: [alma-xc66]\n"
                         "scale: 0.0001\n"
                         "chans: 2\n"
                         "axes:\n"
                         "  threads: [2]\n"
                         "  row_chunks: [1, 4]\n");
    char *out = NULL, args[ARGS_N];
    char hash[2][13];
    cell_hashes_by(f, "row_chunks=4", hash);
    snprintf(args, sizeof args, "--launcher slurm --emit '%s'", f->emit);
    int st = run_suite(f, &out, args);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    for (int four = 0; four < 2; four++) {
        char *s = job_script(f->emit, hash[four], 0);
        char *l = launch_line(s, "srun");
        if (four) {
            assert_true(tu_contains(l, " --row-chunks 4"));
        } else {
            assert_false(tu_contains(l, "--row-chunks"));
        }
        free(l);
        free(s);
    }
}

static void test_hostfile(void **state)
{
    fx *f = *state;
    NEED_PROGRAMS(f);
    char *out = NULL, args[ARGS_N], hf[PATH_MAX + 16];
    snprintf(hf, sizeof hf, "%s/hosts", f->dir);
    snprintf(args, sizeof args, "--launcher mpirun --hostfile '%s' --db '%s'", hf, f->db);
    int st = run_suite(f, &out, args);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "hostfile"));
    assert_true(tu_contains(out, hf));
    assert_true(tu_contains(out, "No such file"));
    free(out);
    snprintf(args, sizeof args, "--launcher mpirun --hostfile '%s' --db '%s'", f->dir, f->db);
    st = run_suite(f, &out, args);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "is a directory"));
    free(out);
    write_file(hf, "localhost slots=2\n");
    char hf_abs[PATH_MAX];
    assert_non_null(realpath(hf, hf_abs));
    if (geteuid() != 0) {
        assert_int_equal(chmod(hf, 0), 0);
        snprintf(args, sizeof args, "--launcher mpirun --hostfile '%s' --db '%s'", hf, f->db);
        st = run_suite(f, &out, args);
        assert_int_equal(st, 2);
        assert_true(tu_contains(out, "cannot be read"));
        free(out);
        assert_int_equal(chmod(hf, 0644), 0);
    }
    snprintf(args, sizeof args, "--hostfile '%s' --db '%s'", hf, f->db);
    st = run_suite(f, &out, args);
    assert_int_equal(st, 2);
    assert_true(tu_contains(out, "--hostfile needs --launcher mpirun"));
    free(out);
    assert_int_not_equal(access(f->db, F_OK), 0); /* nothing ran */

    /* over a one-host hostfile, both cells run and the command says how */
    if (tu_run(NULL, "command -v mpirun >/dev/null") != 0) {
        printf("note: mpirun not in PATH; the hostfile run is not tried\n");
        return;
    }
    char cells[PATH_MAX + 16];
    snprintf(cells, sizeof cells, "%s/cells", f->dir);
    snprintf(args, sizeof args, "--launcher mpirun --hostfile '%s' --db '%s' --out-dir '%s'",
             hf, f->db, cells);
    st = run_suite_mpi(f, &out, args);
    if (st) fprintf(stderr, "%s\n", out);
    assert_int_equal(st, 0);
    free(out);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof want, "%%-np _ --hostfile %s --map-by node %%", hf_abs);
    char sql[PATH_MAX + 256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM attempts WHERE status = 'ok'"
                              " AND command LIKE '%s'", want);
    assert_int_equal(q_int(f->db, sql), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slurm_time),
        cmocka_unit_test(test_partition_checks),
        cmocka_unit_test_setup_teardown(test_emitted_scripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_emit_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_runs_and_ingests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_job_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_row_chunks_command, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
