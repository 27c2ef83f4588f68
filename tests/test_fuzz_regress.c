/*
 * test_fuzz_regress: replays every file under tests/fuzz/corpus/<target>/
 * (the seed corpora) and tests/fuzz/crashes/<target>/ (inputs the fuzzers
 * found and that were fixed) through the entry points the libFuzzer
 * targets use (tests/fuzz/targets.c), in the normal build: each must
 * return 0 or a negative error code with a message naming the input, and
 * never crash (run under `make sanitize` for the sanitizers' view).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "tests/fuzz/targets.c"

static const char *srcdir(void)
{
    const char *d = getenv("IMBENCH_SRCDIR");
    return d && *d ? d : ".";
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted regular files of dir (caller frees each and the array); *n may be 0. */
static char **list_files(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    size_t cap = 0;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        char p[PATH_MAX + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof *nv);
            assert_non_null(nv);
            v = nv;
        }
        v[(*n)++] = strdup(p);
        assert_non_null(v[*n - 1]);
    }
    closedir(d);
    if (*n) qsort(v, *n, sizeof *v, cmp_names);
    return v;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            assert_non_null(nb);
            buf = nb;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Feed every file of srcdir/tests/fuzz/<kind>/<target>/ to the target;
 * the number of files. */
static size_t replay(fz_ctx *c, const char *target, const char *kind)
{
    fz_fn fn = fz_target(target);
    assert_non_null(fn);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", srcdir(), kind, target);
    size_t n;
    char **files = list_files(dir, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = read_all(files[i], &len);
        ib_err e;
        ib_err_init(&e);
        int rc = fn(c, &e, data, len);
        const char *why = fz_contract(c, rc, &e);
        if (why)
            print_error("%s: %s (return %d %s): '%s'\n", files[i], why, rc, ib_err_name(rc),
                        e.msg);
        assert_null(why);
        free(data);
        free(files[i]);
    }
    free(files);
    return n;
}

static void run_target(const char *target)
{
    fz_ctx c;
    assert_int_equal(fz_init(&c, srcdir()), 0);
    size_t seeds = replay(&c, target, "corpus");
    size_t found = replay(&c, target, "crashes");
    fz_release(&c);
    print_message("%s: %zu seed inputs, %zu found inputs, all clean\n", target, seeds, found);
    assert_true(seeds > 0); /* every target has a seed corpus */
}

/* A seed corpus must exercise the success path too: at least one seed of
 * each target parses. */
static void seeds_parse(const char *target)
{
    fz_ctx c;
    assert_int_equal(fz_init(&c, srcdir()), 0);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", srcdir(), target);
    size_t n, ok = 0;
    char **files = list_files(dir, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        uint8_t *data = read_all(files[i], &len);
        ib_err e;
        ib_err_init(&e);
        ok += fz_target(target)(&c, &e, data, len) == 0;
        free(data);
        free(files[i]);
    }
    free(files);
    fz_release(&c);
    assert_true(ok > 0);
}

#define FZ_TESTS(t, what)                                          \
    static void test_replay_##t(void **state)                      \
    {                                                              \
        (void)state;                                               \
        run_target(#t);                                            \
        seeds_parse(#t);                                           \
    }
FZ_TARGET_MAP(FZ_TESTS)
#undef FZ_TESTS

/*
 * crashes/stats_ingest/comm-bytes-6e30.json: a comm count outside int64 was
 * converted to an integer (undefined; INT64_MIN on x86). Now such a count
 * is stored as NULL, and an integer count is stored exactly.
 */
static void test_stats_comm_counts(void **state)
{
    (void)state;
    fz_ctx c;
    assert_int_equal(fz_init(&c, srcdir()), 0);
    static const char text[] =
        "{\"schema\": \"imbench-stats/1\", \"comm\": [{\"rank\": 0, \"op\": \"p2p\","
        " \"msgs_sent\": 9007199254740993, \"bytes_sent\": 6e30, \"seconds\": 0.5}]}";
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(fz_stats_db(&c, &e), 0);
    json_t *stats = json_loads(text, 0, NULL);
    assert_non_null(stats);
    res_attempt a = {.run_id = c.run_id, .cell_id = c.cell_id, .status = RES_OK,
                     .exit_code = 0, .wall_s = 1, .source = "comm.json"};
    int64_t id = 0;
    int rc = res_attempt_record(&e, c.db, &a, stats, NULL, 0, &id);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    json_decref(stats);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(c.db),
                                        "SELECT messages, bytes IS NULL, seconds FROM comm"
                                        " WHERE attempt_id = ?", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_int64(st, 0) == 9007199254740993LL);
    assert_int_equal(sqlite3_column_int(st, 1), 1);
    assert_true(sqlite3_column_double(st, 2) == 0.5);
    sqlite3_finalize(st);
    fz_release(&c);
}

/*
 * crashes/stats_ingest/tasks-file-dev-zero.json: a "tasks_file" naming
 * /dev/zero was read for ever; a FIFO would block in open. Both now count
 * as no tasks file.
 */
static void test_stats_tasks_file_special(void **state)
{
    (void)state;
    fz_ctx c;
    assert_int_equal(fz_init(&c, srcdir()), 0);
    char fifo[PATH_MAX + 32], text[2 * PATH_MAX];
    snprintf(fifo, sizeof fifo, "%s/fifo", c.tmp);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    const char *files[] = {"/dev/zero", fifo};
    for (int i = 0; i < 2; i++) {
        int n = snprintf(text, sizeof text,
                         "{\"schema\": \"imbench-stats/1\", \"tasks_file\": \"%s\"}", files[i]);
        ib_err e;
        ib_err_init(&e);
        int rc = fz_stats_ingest(&c, &e, (const uint8_t *)text, (size_t)n);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, 0);
    }
    unlink(fifo);
    fz_release(&c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
 * crashes/suite/hang-100000-cells.yaml: 480 bytes that expand to the
 * maximum of 100000 cells; the duplicate search per cell was linear (51 s
 * optimised, 13 min under ASan). Now a hash set: well under the bound. Cells
 * whose parameters print the same (paddings equal to 15 digits) still
 * collapse into one.
 */
static void test_suite_cells(void **state)
{
    (void)state;
    fz_ctx c;
    assert_int_equal(fz_init(&c, srcdir()), 0);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tests/fuzz/crashes/suite/hang-100000-cells.yaml",
             srcdir());
    size_t len;
    uint8_t *text = read_all(path, &len);
    wl_suite_opts o = {.datasets_dir = c.datasets};
    wl_suite *s = NULL;
    ib_err e;
    ib_err_init(&e);
    double t0 = now_s();
    int rc = wl_suite_parse(&e, "hang.yaml", (const char *)text, len, &o, &s);
    double t = now_s() - t0;
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s->ncells, 100000);
    print_message("100000 cells in %.2f s\n", t);
    assert_true(t < 30);
    wl_suite_destroy(s);
    free(text);

    static const char twice[] = "name: twice\ndatasets: [alma-xc66]\nscale: 0.001\n"
                                "axes:\n  padding: [1.5, 1.5000000000000002, 2]\n";
    rc = wl_suite_parse(&e, "twice.yaml", twice, strlen(twice), &o, &s);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(s->ncells, 2);
    assert_string_not_equal(s->cells[0].hash, s->cells[1].hash);
    wl_suite_destroy(s);
    fz_release(&c);
}

/* The contract check itself: a message that does not name the input is
 * caught, as is a positive code. */
static void test_contract(void **state)
{
    (void)state;
    fz_ctx c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "in.yaml");
    ib_err e;
    ib_err_init(&e);
    assert_null(fz_contract(&c, 0, &e));
    assert_non_null(fz_contract(&c, 1, &e));
    assert_non_null(fz_contract(&c, IB_EPARSE, &e));
    ib_error(&e, IB_EPARSE, "suite 'other.yaml' line 1: bad");
    assert_non_null(fz_contract(&c, IB_EPARSE, &e));
    ib_error(&e, IB_EPARSE, "suite 'in.yaml' line 1: bad");
    assert_null(fz_contract(&c, IB_EPARSE, &e));
    assert_non_null(fz_contract(&c, -1000, &e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_stats_comm_counts),
        cmocka_unit_test(test_stats_tasks_file_special),
        cmocka_unit_test(test_suite_cells),
#define FZ_ENTRY(t, what) cmocka_unit_test(test_replay_##t),
        FZ_TARGET_MAP(FZ_ENTRY)
#undef FZ_ENTRY
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
