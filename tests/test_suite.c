/*
 * test_suite.c: suite files and their expansion into cells — the full
 * matrix, zip groups, exclude rules and per-dataset overrides against
 * hand-computed cell lists; content hashes; --filter; every kind of
 * malformed suite, whose message must name the file, line, column and
 * what was expected; and the shipped suites.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "workloads/suite.h"
#include "workloads/workloads.h"

/* A cell's integer parameter, 0 when the suite left it unset (nodes: its
 * default 1, as every cell has it). */
#define CI(c, ID) ((c)->v[IB_P_##ID].set || IB_P_##ID == IB_P_NODES ? wl_cell_int((c), IB_P_##ID) : 0)

/* A cell's parameter as text, "" when unset. */
static const char *cs(const wl_cell *c, int id)
{
    static char buf[8][96];
    static int k;
    char *b = buf[k++ % 8];
    b[0] = '\0';
    if (c->v[id].set) wl_cell_text(c, id, b, sizeof buf[0]);
    return b;
}

static wl_suite *parse_ok(const char *text)
{
    ib_err e;
    ib_err_init(&e);
    wl_suite *s = NULL;
    int r = wl_suite_parse(&e, "t.yaml", text, strlen(text), NULL, &s);
    if (r) fprintf(stderr, "unexpected error: %s\n", e.msg);
    assert_int_equal(r, 0);
    assert_non_null(s);
    return s;
}

/* Expected cell: dataset and the axes the test sets (-1: not checked). */
typedef struct want {
    const char *dataset;
    int chunks, nodes, threads, support;
} want;

static void check_cells(const wl_suite *s, const want *w, size_t n)
{
    if (s->ncells != n) {
        for (size_t i = 0; i < s->ncells; i++) {
            char l[512];
            wl_suite_cell_label(&s->cells[i], l, sizeof l);
            fprintf(stderr, "  got %s\n", l);
        }
    }
    assert_int_equal(s->ncells, n);
    for (size_t i = 0; i < n; i++) {
        const wl_cell *c = &s->cells[i];
        assert_string_equal(c->dataset, w[i].dataset);
        if (w[i].chunks >= 0) assert_int_equal(CI(c, CHUNKS), w[i].chunks);
        if (w[i].nodes >= 0) assert_int_equal(CI(c, NODES), w[i].nodes);
        if (w[i].threads >= 0) assert_int_equal(CI(c, THREADS), w[i].threads);
        if (w[i].support >= 0) assert_int_equal(CI(c, SUPPORT), w[i].support);
        assert_int_equal(strlen(c->hash), 64);
        assert_int_equal(strlen(c->dataset_key), 32);
        for (size_t j = 0; j < i; j++) assert_string_not_equal(c->hash, s->cells[j].hash);
    }
}

/* ---- expansion ------------------------------------------------------------ */

static void test_matrix(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: m\n"
                           "datasets: [alma-xc66]\n"
                           "scale: 0.0001\n"
                           "axes:\n"
                           "  chunks: [1, 2, 4]\n"
                           "  threads: [1, 2]\n");
    /* chunks outer (first under axes), threads fastest */
    const want w[] = {{"alma-xc66", 1, 1, 1, -1}, {"alma-xc66", 1, 1, 2, -1},
                      {"alma-xc66", 2, 1, 1, -1}, {"alma-xc66", 2, 1, 2, -1},
                      {"alma-xc66", 4, 1, 1, -1}, {"alma-xc66", 4, 1, 2, -1}};
    check_cells(s, w, 6);
    assert_string_equal(s->name, "m");
    assert_int_equal(s->repeats, 1);
    assert_int_equal(s->warmup, 0);
    assert_true(s->timeout == 600);
    /* unset axes stay unset; nodes and gridder get their defaults */
    assert_int_equal(CI(&s->cells[0], SUPPORT), 0);
    assert_string_equal(cs(&s->cells[0], IB_P_GRIDDER), "standard");
    assert_string_equal(cs(&s->cells[0], IB_P_WEIGHT), "");
    assert_int_equal(strlen(s->file_hash), 64);
    wl_suite_destroy(s);

    /* the order under axes decides: threads first now */
    s = parse_ok("name: m\n"
                 "datasets: [alma-xc66, vla-chiles]\n"
                 "scale: 0.0001\n"
                 "repeats: 3\n"
                 "warmup: 2\n"
                 "timeout: 12.5\n"
                 "axes: {threads: [1, 2], chunks: [8, 16], support: 7}\n");
    const want w2[] = {{"alma-xc66", 8, 1, 1, 7},  {"alma-xc66", 16, 1, 1, 7},
                       {"alma-xc66", 8, 1, 2, 7},  {"alma-xc66", 16, 1, 2, 7},
                       {"vla-chiles", 8, 1, 1, 7}, {"vla-chiles", 16, 1, 1, 7},
                       {"vla-chiles", 8, 1, 2, 7}, {"vla-chiles", 16, 1, 2, 7}};
    check_cells(s, w2, 8);
    assert_int_equal(s->repeats, 3);
    assert_int_equal(s->warmup, 2);
    assert_true(s->timeout == 12.5);
    wl_suite_destroy(s);
}

static void test_zip(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: z\n"
                           "datasets: [alma-xc66]\n"
                           "scale: 0.0001\n"
                           "axes:\n"
                           "  chunks: [1, 2, 4]\n"
                           "  support: [7, 9]\n"
                           "  threads: [1, 2, 4]\n"
                           "zip:\n"
                           "  - [chunks, threads]\n");
    /* the zip group sits where chunks (its first member) is */
    const want w[] = {{"alma-xc66", 1, 1, 1, 7}, {"alma-xc66", 1, 1, 1, 9},
                      {"alma-xc66", 2, 1, 2, 7}, {"alma-xc66", 2, 1, 2, 9},
                      {"alma-xc66", 4, 1, 4, 7}, {"alma-xc66", 4, 1, 4, 9}};
    check_cells(s, w, 6);
    wl_suite_destroy(s);
}

static void test_exclude(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: x\n"
                           "datasets: [alma-xc66, vla-chiles]\n"
                           "scale: 0.0001\n"
                           "axes:\n"
                           "  chunks: [1, 2]\n"
                           "  nodes: [1, 2]\n"
                           "exclude:\n"
                           "  - {nodes: 2, chunks: 1}\n"
                           "  - {dataset: vla-chiles, chunks: [2]}\n");
    const want w[] = {{"alma-xc66", 1, 1, -1, -1},
                      {"alma-xc66", 2, 1, -1, -1},
                      {"alma-xc66", 2, 2, -1, -1},
                      {"vla-chiles", 1, 1, -1, -1}};
    check_cells(s, w, 4);
    wl_suite_destroy(s);

    /* a rule naming an axis the cell does not set never matches; values
     * compare by meaning (briggs:0.50 is briggs:0.5, 1M is 1048576) */
    s = parse_ok("name: x\n"
                 "datasets: [alma-xc66]\n"
                 "scale: 0.0001\n"
                 "axes:\n"
                 "  weight: [natural, 'briggs:0.5']\n"
                 "  mem_budget: [1M, 2M]\n"
                 "exclude:\n"
                 "  - {weight: 'briggs:0.50', mem_budget: 1048576}\n"
                 "  - {support: 7}\n");
    assert_int_equal(s->ncells, 3);
    assert_string_equal(cs(&s->cells[0], IB_P_WEIGHT), "natural");
    assert_int_equal(CI(&s->cells[0], MEM_BUDGET), 1 << 20);
    assert_string_equal(cs(&s->cells[2], IB_P_WEIGHT), "briggs:0.5");
    assert_int_equal(CI(&s->cells[2], MEM_BUDGET), 2 << 20);
    wl_suite_destroy(s);
}

static void test_dataset_overrides(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: o\n"
                           "datasets:\n"
                           "  - alma-xc66\n"
                           "  - {name: vla-chiles, scale: 0.0002, chans: 8, times: 4,\n"
                           "     image: 32x48, axes: {chunks: [3, 5, 7]}}\n"
                           "scale: 0.0001\n"
                           "image: 64\n"
                           "axes:\n"
                           "  chunks: [1, 2]\n"
                           "  precision: [double]\n");
    const want w[] = {{"alma-xc66", 1, 1, -1, -1},
                      {"alma-xc66", 2, 1, -1, -1},
                      {"vla-chiles", 3, 1, -1, -1},
                      {"vla-chiles", 5, 1, -1, -1},
                      {"vla-chiles", 7, 1, -1, -1}};
    check_cells(s, w, 5);
    assert_true(s->cells[0].v[IB_P_SCALE].d == 0.0001);
    assert_string_equal(cs(&s->cells[0], IB_P_IMAGE), "64x64");
    assert_int_equal(CI(&s->cells[0], CHANS), 0);
    assert_true(s->cells[2].v[IB_P_SCALE].d == 0.0002);
    assert_int_equal(CI(&s->cells[2], CHANS), 8);
    assert_int_equal(CI(&s->cells[2], TIMES), 4);
    assert_string_equal(cs(&s->cells[2], IB_P_IMAGE), "32x48");
    assert_string_equal(cs(&s->cells[4], IB_P_PRECISION), "double");
    /* one dataset key per dataset materialisation */
    assert_string_equal(s->cells[0].dataset_key, s->cells[1].dataset_key);
    assert_string_not_equal(s->cells[0].dataset_key, s->cells[2].dataset_key);
    wl_suite_destroy(s);
}

static void test_hash_and_params(void **state)
{
    (void)state;
    wl_suite *a = parse_ok("name: a\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                           "axes: {chunks: [4], support: [9], padding: [1.5]}\n");
    wl_suite *b = parse_ok("# another suite, same cell\nname: b\ndescription: other\n"
                           "datasets: [{name: alma-xc66}]\nscale: 1e-4\nrepeats: 5\n"
                           "axes: {support: 9, padding: 1.50, chunks: [4]}\n");
    /* cells are run-independent: same parameters, same hash */
    assert_string_equal(a->cells[0].hash, b->cells[0].hash);
    assert_string_equal(a->cells[0].params_json, b->cells[0].params_json);
    assert_string_not_equal(a->file_hash, b->file_hash);
    /* the canonical JSON rebuilds the same cell */
    json_error_t je;
    json_t *p = json_loads(a->cells[0].params_json, 0, &je);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "chunks")), 4);
    assert_string_equal(json_string_value(json_object_get(p, "dataset")), "alma-xc66");
    wl_cell c;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), 0);
    assert_string_equal(c.hash, a->cells[0].hash);
    /* without the dataset key it is recomputed from the spec */
    json_object_del(p, "dataset_key");
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), 0);
    assert_string_equal(c.hash, a->cells[0].hash);
    /* invalid values are refused as the parser refuses them */
    json_object_set_new(p, "support", json_integer(8));
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), IB_EPARSE);
    assert_true(tu_contains(e.msg, "support must be odd, got 8"));
    json_object_set_new(p, "support", json_integer(9));
    json_object_set_new(p, "bogus", json_integer(1));
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), IB_EPARSE);
    assert_true(tu_contains(e.msg, "bogus"));
    json_decref(p);
    /* different parameters, different hash */
    wl_suite *d = parse_ok("name: d\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                           "axes: {chunks: [4], support: [11], padding: [1.5]}\n");
    assert_string_not_equal(a->cells[0].hash, d->cells[0].hash);
    /* SHA-256 known answer ("abc", FIPS 180-2) */
    char hex[65];
    wl_suite_sha256("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    wl_suite_sha256("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    wl_suite_destroy(a);
    wl_suite_destroy(b);
    wl_suite_destroy(d);
}

static void test_filter(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: f\ndatasets: [alma-xc66, vla-chiles]\nscale: 0.0001\n"
                           "axes: {chunks: [1, 2], weight: [natural, 'briggs:0.5']}\n");
    ib_err e;
    ib_err_init(&e);
    int n = 0, m;
    for (size_t i = 0; i < s->ncells; i++) {
        assert_int_equal(wl_suite_filter(&e, &s->cells[i], "dataset=vla-chiles,chunks=2", &m),
                         0);
        n += m;
    }
    assert_int_equal(n, 2);
    n = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        assert_int_equal(wl_suite_filter(&e, &s->cells[i], "weight=briggs:0.5,scale=1e-4", &m),
                         0);
        n += m;
    }
    assert_int_equal(n, 4);
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%.6s", s->cells[3].hash);
    char expr[32];
    snprintf(expr, sizeof expr, "hash=%s", prefix);
    assert_int_equal(wl_suite_filter(&e, &s->cells[3], expr, &m), 0);
    assert_int_equal(m, 1);
    assert_int_equal(wl_suite_filter(&e, &s->cells[0], NULL, &m), 0);
    assert_int_equal(m, 1);
    assert_int_equal(wl_suite_filter(&e, &s->cells[0], "colour=red", &m), IB_EINVAL);
    assert_true(tu_contains(e.msg, "unknown key 'colour'"));
    assert_int_equal(wl_suite_filter(&e, &s->cells[0], "chunks", &m), IB_EINVAL);
    assert_true(tu_contains(e.msg, "key=value"));
    wl_suite_destroy(s);

    /* A value with a comma (stokes=XX,YY); Stokes I, the default, keeps
     * the hash of a cell that does not name it. */
    s = parse_ok("name: f\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                 "axes: {chunks: [1, 2], stokes: [I, 'XX,YY']}\n");
    wl_suite *plain = parse_ok("name: f\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                               "axes: {chunks: [1, 2]}\n");
    assert_int_equal(s->ncells, 4);
    n = 0;
    int plain_hashes = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        assert_int_equal(wl_suite_filter(&e, &s->cells[i], "stokes=XX,YY,chunks=2", &m), 0);
        n += m;
        assert_int_equal(wl_suite_filter(&e, &s->cells[i], "stokes=I", &m), 0);
        for (size_t j = 0; m && j < plain->ncells; j++)
            plain_hashes += strcmp(s->cells[i].hash, plain->cells[j].hash) == 0;
    }
    assert_int_equal(n, 1);
    assert_int_equal(plain_hashes, 2);
    wl_suite_destroy(plain);
    wl_suite_destroy(s);
}

/* The scheduler and write-mode axes (serial_write, fsync) reach the cells,
 * their parameters and filters. */
static void test_schedule_axes(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: s\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                           "axes: {nodes: [2], schedule: [static, dynamic, locality],\n"
                           "       serial_write: [false, true], fsync: [true]}\n");
    assert_int_equal(s->ncells, 6);
    const char *sched[3] = {"static", "dynamic", "locality"};
    for (size_t i = 0; i < 6; i++) {
        const wl_cell *c = &s->cells[i];
        assert_string_equal(cs(c, IB_P_SCHEDULE), sched[i / 2]);
        assert_int_equal(CI(c, SERIAL_WRITE), (int)(i % 2));
        assert_true(tu_contains(c->params_json, sched[i / 2]));
        assert_int_equal(tu_contains(c->params_json, "\"serial_write\":1"), (int)(i % 2));
        assert_int_equal(CI(c, FSYNC), 1);
        assert_true(tu_contains(c->params_json, "\"fsync\":1"));
        char label[512];
        wl_suite_cell_label(c, label, sizeof label);
        assert_true(tu_contains(label, " fsync"));
    }
    ib_err e;
    int m, n = 0;
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(
            wl_suite_filter(&e, &s->cells[i], "schedule=dynamic,serial_write=1,fsync=1", &m), 0);
        n += m;
    }
    assert_int_equal(n, 1);
    wl_suite_destroy(s);
}

/* row_chunks: an axis like chunks. 1 (the imager's default) stays out of the
 * parameters, so a cell without the axis keeps its hash; > 1 is in the
 * parameters, the label, filters, zip groups and exclude rules. */
static void test_row_chunks_axis(void **state)
{
    (void)state;
    wl_suite *s = parse_ok("name: r\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\n"
                           "axes: {row_chunks: [1, 2, 4, 8], nodes: [1, 2]}\n");
    assert_int_equal(s->ncells, 8);
    const int rc[4] = {1, 2, 4, 8};
    for (size_t i = 0; i < 8; i++) {
        const wl_cell *c = &s->cells[i];
        assert_int_equal(CI(c, ROW_CHUNKS), rc[i / 2]);
        assert_int_equal(CI(c, NODES), (int)(i % 2) + 1);
        char frag[32], label[512];
        snprintf(frag, sizeof frag, "\"row_chunks\":%d", rc[i / 2]);
        assert_int_equal(tu_contains(c->params_json, frag), rc[i / 2] > 1);
        assert_int_equal(tu_contains(c->params_json, "row_chunks"), rc[i / 2] > 1);
        wl_suite_cell_label(c, label, sizeof label);
        snprintf(frag, sizeof frag, " row_chunks=%d", rc[i / 2]);
        assert_int_equal(tu_contains(label, frag), rc[i / 2] > 1);
    }
    /* row_chunks 1 is the cell without the axis: same hash as before */
    wl_suite *plain = parse_ok("name: p\ndatasets: [alma-xc66]\nscale: 0.0001\nchans: 4\n"
                               "axes: {nodes: [1, 2]}\n");
    assert_string_equal(s->cells[0].hash, plain->cells[0].hash);
    assert_string_equal(s->cells[1].hash, plain->cells[1].hash);
    assert_string_not_equal(s->cells[2].hash, plain->cells[0].hash);
    /* filters: unset compares as 1 */
    ib_err e;
    ib_err_init(&e);
    int m, n = 0;
    for (size_t i = 0; i < s->ncells; i++) {
        assert_int_equal(wl_suite_filter(&e, &s->cells[i], "row_chunks=4,nodes=2", &m), 0);
        n += m;
    }
    assert_int_equal(n, 1);
    assert_int_equal(wl_suite_filter(&e, &plain->cells[0], "row_chunks=1", &m), 0);
    assert_int_equal(m, 1);
    /* the parameters rebuild the same cell, and refuse a bad value */
    json_t *p = json_loads(s->cells[5].params_json, 0, NULL);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "row_chunks")), 4);
    wl_cell c;
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), 0);
    assert_string_equal(c.hash, s->cells[5].hash);
    assert_int_equal(CI(&c, ROW_CHUNKS), 4);
    json_object_set_new(p, "row_chunks", json_integer(0));
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &c), IB_EPARSE);
    assert_true(tu_contains(e.msg, "row_chunks must be in 1..1000000, got 0"));
    json_decref(p);
    wl_suite_destroy(plain);
    wl_suite_destroy(s);
    /* zip and exclude know the axis */
    s = parse_ok("name: z\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                 "axes: {row_chunks: [1, 2, 4], threads: [1, 2, 3]}\n"
                 "zip: [[row_chunks, threads]]\nexclude: [{row_chunks: 4}]\n");
    assert_int_equal(s->ncells, 2);
    assert_int_equal(CI(&s->cells[1], ROW_CHUNKS), 2);
    assert_int_equal(CI(&s->cells[1], THREADS), 2);
    wl_suite_destroy(s);
}

/* ---- malformed suites -------------------------------------------------------- */

typedef struct bad {
    const char *yaml;
    int line, column;        /* 0: the message has no position */
    const char *expect;      /* substring of the message */
} bad;

#define HEAD "name: b\ndatasets: [alma-xc66]\nscale: 0.0001\n"

static const bad bad_suites[] = {
    {HEAD "bogus: 1\n", 4, 1, "unknown key 'bogus' in the suite (expected one of: name,"},
    {HEAD "axes: {kernel: [7]}\n", 4, 8, "unknown key 'kernel' in 'axes' (expected one of"},
    {HEAD "axes: {schedule: [random]}\n", 4, 19, "schedule must be static, dynamic or locality"},
    {HEAD "axes: {serial_write: [maybe]}\n", 4, 23, "serial_write must be true or false"},
    {HEAD "axes: {fsync: [yes]}\n", 4, 16, "fsync must be true or false"},
    {HEAD "warmup: -1\n", 4, 9, "warmup"},
    {"name: b\ndatasets: [alma-xc66]\nscale: abc\n", 3, 8, "scale must be a number > 0 and <= 1, got '"},
    {"name: b\ndatasets: [alma-xc66]\nscale: 0\n", 3, 8, "scale must be a number > 0 and <= 1, got '"},
    {"name: b\ndatasets: [alma-xc66]\nscale: -0.5\n", 3, 8, "scale must be a number > 0 and <= 1, got '"},
    {"name: b\ndatasets: [alma-xc66]\nscale: [1]\n", 3, 8, "'scale' must be a single value, got a list"},
    {"name: b\ndatasets: alma-xc66\nscale: 0.1\n", 2, 11, "'datasets' must be a non-empty list"},
    {"name: b\ndatasets: []\nscale: 0.1\n", 2, 11, "got an empty list"},
    {"name: b\nscale: 0.1\n", 1, 1, "missing key 'datasets'"},
    {"datasets: [alma-xc66]\nscale: 0.1\n", 1, 1, "missing key 'name'"},
    {"name: B A D\ndatasets: [alma-xc66]\nscale: 0.1\n", 1, 7, "'name' must be"},
    {"name: b\ndatasets: [alma-xc66]\n", 1, 1, "missing key 'scale'"},
    {HEAD "axes:\n  chunks: []\n", 5, 11, "axis 'chunks' is empty (expected a non-empty list"},
    {HEAD "axes:\n  chunks: {a: 1}\n", 5, 11, "axis 'chunks' must be a list of values, got a mapping"},
    {HEAD "axes:\n  support: [7, 4]\n", 5, 16, "support must be odd, got 4"},
    {HEAD "axes:\n  support: [53]\n", 5, 13, "support must be in 3..51, got 53"},
    {HEAD "axes:\n  support: [1]\n", 5, 13, "support must be in 3..51, got 1"},
    {HEAD "axes:\n  support: [seven]\n", 5, 13, "support must be an odd integer in 3..51"},
    {HEAD "axes:\n  nodes: [0]\n", 5, 11, "nodes must be in 1..1024, got 0"},
    {HEAD "axes:\n  threads: [2, -1]\n", 5, 16, "threads must be in 1..1024, got -1"},
    {HEAD "axes:\n  chunks: [0]\n", 5, 12, "chunks must be in 1..1000000, got 0"},
    {HEAD "axes:\n  chunks: [1.5]\n", 5, 12, "chunks must be an integer in 1..1000000, got '1.5'"},
    {HEAD "axes:\n  row_chunks: [2, 0]\n", 5, 19, "row_chunks must be in 1..1000000, got 0"},
    {HEAD "axes:\n  row_chunks: [many]\n", 5, 16,
     "row_chunks must be an integer in 1..1000000, got 'many'"},
    {HEAD "axes:\n  row_chunks: [2, 2]\n", 5, 19, "axis 'row_chunks' lists '2' twice"},
    {HEAD "axes:\n  row_chunks: []\n", 5, 15, "axis 'row_chunks' is empty"},
    {HEAD "exclude:\n  - {row_chunks: -2}\n", 5, 18, "row_chunks must be in 1..1000000, got -2"},
    {HEAD "axes:\n  gridder: [awproject]\n", 5, 13, "gridder must be standard or mosaic, got 'awproject'"},
    {HEAD "axes:\n  weight: [robust]\n", 5, 12, "weight must be natural, uniform or briggs:R"},
    {HEAD "axes:\n  weight: ['briggs:3']\n", 5, 12, "weight must be natural, uniform or briggs:R"},
    {HEAD "axes:\n  precision: [half]\n", 5, 15, "precision must be float or double"},
    {HEAD "axes:\n  padding: [0.5]\n", 5, 13, "padding must be a number > 1 and <= 4, got '0.5'"},
    {HEAD "axes:\n  mem_budget: [lots]\n", 5, 16, "mem_budget must be a byte count (such as 4096"},
    {HEAD "axes:\n  chunks: [2, 2]\n", 5, 15, "axis 'chunks' lists '2' twice"},
    {HEAD "axes:\n  chunks: [1, 2]\n  threads: [1, 2, 4]\nzip: [[chunks, threads]]\n", 7, 7,
     "zip group axes must have the same length: 'chunks' has 2 values, 'threads' has 3"},
    {HEAD "axes:\n  chunks: [1, 2]\nzip: [[chunks, nodes]]\n", 6, 7,
     "zip group names axis 'nodes', which is not set"},
    {HEAD "axes:\n  chunks: [1, 2]\nzip: [[chunks, colour]]\n", 6, 16,
     "zip group member must be an axis name"},
    {HEAD "axes:\n  chunks: [1, 2]\nzip: [[chunks]]\n", 6, 7, "a zip group needs at least two axes"},
    {HEAD "axes:\n  chunks: [1, 2]\n  nodes: [1, 2]\nzip: [[chunks, nodes], [nodes, chunks]]\n",
     7, 25, "in more than one zip group"},
    {HEAD "exclude:\n  - {colour: red}\n", 5, 6, "unknown key 'colour' in an exclude rule"},
    {HEAD "exclude:\n  - {dataset: vla-chiles}\n", 5, 15, "not in 'datasets'"},
    {HEAD "exclude:\n  - {support: 4}\n", 5, 15, "support must be odd, got 4"},
    {HEAD "exclude: {chunks: 1}\n", 4, 10, "'exclude' must be a list"},
    {HEAD "axes:\n  chunks: [1, 2]\nexclude:\n  - {chunks: [1, 2]}\n", 0, 0,
     "every cell is excluded"},
    {"name: b\ndatasets: [alma-xc66, nope]\nscale: 0.1\n", 2, 23, "unknown dataset 'nope'"},
    {"name: b\ndatasets: [alma-xc66, alma-xc66]\nscale: 0.1\n", 2, 23, "listed twice"},
    {"name: b\ndatasets:\n  - {name: alma-xc66, colour: red}\nscale: 0.1\n", 3, 23,
     "unknown key 'colour' in a dataset entry"},
    {"name: b\ndatasets:\n  - {scale: 0.1}\nscale: 0.1\n", 3, 5, "dataset entry needs a 'name'"},
    {"name: b\ndatasets:\n  - {name: alma-xc66, chans: 0}\nscale: 0.1\n", 3, 30,
     "chans must be in 1..16777216, got 0"},
    {"name: b\ndatasets:\n  - [alma-xc66]\nscale: 0.1\n", 3, 5, "dataset entries must be a name"},
    {HEAD "image: 64y64\n", 4, 8, "image must be NX or NXxNY, even, 2..65536, got '64y64'"},
    {HEAD "repeats: 0\n", 4, 10, "repeats must be in 1..1000, got 0"},
    {HEAD "timeout: -1\n", 4, 10, "timeout must be a number > 0 and <= 1e+07"},
    {HEAD "seed: x\n", 4, 7, "seed must be an integer >= 0, got 'x'"},
    {HEAD "scale: 0.2\n", 4, 1, "duplicate key 'scale' in the suite"},
    {HEAD "axes: [chunks]\n", 4, 7, "'axes' must be a mapping of axis names to lists"},
    {"name: b\ndatasets: [alma-xc66\nscale: 0.1\n", 3, 6, "YAML error"},
    {"", 0, 0, "the file is empty"},
    {"- a\n- b\n", 1, 1, "a suite must be a mapping"},
    {HEAD "---\nname: c\n", 0, 0, "more than one YAML document"},
};

static void test_malformed(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < sizeof bad_suites / sizeof bad_suites[0]; i++) {
        const bad *b = &bad_suites[i];
        ib_err e;
        ib_err_init(&e);
        wl_suite *s = NULL;
        int r = wl_suite_parse(&e, "bad.yaml", b->yaml, strlen(b->yaml), NULL, &s);
        char where[96];
        if (b->line)
            snprintf(where, sizeof where, "suite 'bad.yaml' line %d column %d: ", b->line,
                     b->column);
        else
            snprintf(where, sizeof where, "suite 'bad.yaml'");
        if (r == 0 || s || !tu_contains(e.msg, where) || !tu_contains(e.msg, b->expect)) {
            fprintf(stderr, "case %zu:\n%s\n  want: %s ... %s\n  got (%d): %s\n", i, b->yaml,
                    where, b->expect, r, e.msg);
            failures++;
        }
        wl_suite_destroy(s);
    }
    assert_int_equal(failures, 0);
}

static void test_load_file(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    wl_suite *s = NULL;
    assert_int_equal(wl_suite_load(&e, "/nonexistent/x.yaml", NULL, &s), IB_EIO);
    assert_true(tu_contains(e.msg, "/nonexistent/x.yaml"));
    char *dir = tu_mkdtemp("suite");
    assert_non_null(dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/s.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: s\ndatasets: [alma-xc66]\nscale: 0.0001\naxes:\n  support: [8]\n", f);
    fclose(f);
    assert_int_equal(wl_suite_load(&e, path, NULL, &s), IB_EPARSE);
    char expect[4400];
    snprintf(expect, sizeof expect, "suite '%s' line 5 column 13: support must be odd, got 8", path);
    assert_string_equal(e.msg, expect);
    wl_suite_opts o = {.datasets_dir = dir}; /* no specs there */
    f = fopen(path, "w");
    fputs("name: s\ndatasets: [alma-xc66]\nscale: 0.0001\n", f);
    fclose(f);
    assert_int_equal(wl_suite_load(&e, path, &o, &s), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "line 2 column 12: unknown dataset 'alma-xc66'"));
    tu_rmtree(dir);
    free(dir);
}

/* The suites we ship parse and have the shape their comments promise. */
static void test_shipped_suites(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t cells;
        int repeats;
    } shipped[] = {{"smoke", 4, 1}, {"default", 43, 3}, {"seed-study", 140, 3},
                   {"parallel", 25, 3}, {"slurm", 6, 2}};
    char dsdir[4096];
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(wl_datasets_dir(&e, NULL, dsdir, sizeof dsdir), 0);
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/../suites/%s.yaml", dsdir, shipped[i].name);
        wl_suite *s = NULL;
        int r = wl_suite_load(&e, path, NULL, &s);
        if (r) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(r, 0);
        assert_string_equal(s->name, shipped[i].name);
        assert_int_equal(s->ncells, shipped[i].cells);
        assert_int_equal(s->repeats, shipped[i].repeats);
        if (!strcmp(shipped[i].name, "default")) {
            /* every seed dataset, nodes 1..2, support 7..51 */
            const char *ds[] = {"alma-x2e3", "alma-x1a36", "alma-xc66", "alma-x3be",
                                "vla-chiles"};
            for (int k = 0; k < 5; k++) {
                int found = 0;
                for (size_t c = 0; c < s->ncells; c++) found |= !strcmp(s->cells[c].dataset, ds[k]);
                assert_true(found);
                /* cores 1 -> 2 both ways: 1x1, 1x2 and 2x1 (ranks x threads) */
                int layout[3] = {0, 0, 0};
                for (size_t c = 0; c < s->ncells; c++) {
                    const wl_cell *cc = &s->cells[c];
                    if (strcmp(cc->dataset, ds[k])) continue;
                    layout[0] |= CI(cc, NODES) == 1 && CI(cc, THREADS) == 1;
                    layout[1] |= CI(cc, NODES) == 1 && CI(cc, THREADS) == 2;
                    layout[2] |= CI(cc, NODES) == 2 && CI(cc, THREADS) == 1;
                }
                assert_true(layout[0] && layout[1] && layout[2]);
            }
            int maxn = 0, mins = 99, maxs = 0;
            for (size_t c = 0; c < s->ncells; c++) {
                const wl_cell *cc = &s->cells[c];
                if (CI(cc, NODES) > maxn) maxn = CI(cc, NODES);
                if (CI(cc, SUPPORT) < mins) mins = CI(cc, SUPPORT);
                if (CI(cc, SUPPORT) > maxs) maxs = CI(cc, SUPPORT);
                assert_true(CI(cc, NODES) * CI(cc, THREADS) <= 2); /* two cores */
            }
            assert_int_equal(maxn, 2);
            assert_int_equal(mins, 7);
            assert_int_equal(maxs, 51);
        }
        if (!strcmp(shipped[i].name, "parallel")) {
            /* the row-chunk sweep: 1, 2, 4, 8 on 1 and 2 ranks, one channel chunk */
            int seen[2][9] = {{0}};
            for (size_t c = 0; c < s->ncells; c++) {
                const wl_cell *cc = &s->cells[c];
                if (!CI(cc, ROW_CHUNKS)) continue;
                assert_string_equal(cc->dataset, "alma-x3be");
                assert_int_equal(CI(cc, CHUNKS), 1);
                assert_true(CI(cc, NODES) >= 1 && CI(cc, NODES) <= 2 && CI(cc, ROW_CHUNKS) <= 8);
                seen[CI(cc, NODES) - 1][CI(cc, ROW_CHUNKS)]++;
            }
            for (int nd = 0; nd < 2; nd++)
                for (int rc = 1; rc <= 8; rc *= 2) assert_int_equal(seen[nd][rc], 1);
        }
        wl_suite_destroy(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),          cmocka_unit_test(test_zip),
        cmocka_unit_test(test_exclude),         cmocka_unit_test(test_dataset_overrides),
        cmocka_unit_test(test_hash_and_params), cmocka_unit_test(test_filter),
        cmocka_unit_test(test_schedule_axes),   cmocka_unit_test(test_row_chunks_axis),
        cmocka_unit_test(test_malformed),       cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_shipped_suites),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
