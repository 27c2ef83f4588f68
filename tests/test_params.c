/*
 * test_params.c: the parameter table (common/params.h) and everything that
 * walks it — every row well formed and reachable as a suite key, an imager
 * option and an export column; the one parser and range check of each
 * type (with the shared byte-count and image-size parsers); the checks
 * across parameters and against a machine; a suite refusing at --dry-run
 * exactly what the imager refuses, with the imager's words; suite parsing
 * linear in the input (1 MiB of nesting); cell hashes unchanged against a
 * database and cell lists recorded with main's binaries before the table
 * (tests/data/hashes); and the effective parameters stored at ingest and
 * exported with no empty value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/params.h"
#include "results/results.h"
#include "tests/testutil.h"
#include "workloads/suite.h"

static const char *srcdir(void)
{
    const char *d = getenv("IMBENCH_SRCDIR");
    return d && *d ? d : ".";
}

/* The datasets of the shipped specs. */
static const char *datasets_dir(void)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/workloads/datasets", srcdir());
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* ---- the table ------------------------------------------------------------ */

static void test_table_rows(void **state)
{
    (void)state;
    for (int id = 0; id < IB_NPARAM; id++) {
        const ib_param *p = ib_param_get(id);
        assert_non_null(p->name);
        assert_non_null(p->help);
        assert_non_null(p->label);
        assert_non_null(p->stats);
        assert_int_equal(ib_param_find(p->name), id);
        if (p->option) assert_int_equal(ib_param_by_option(p->option), id);
        /* exactly one of: dataset key, axis, suite setting */
        unsigned kind = p->flags & (IB_PF_DATA | IB_PF_AXIS | IB_PF_SUITE);
        assert_true(kind == IB_PF_DATA || kind == IB_PF_AXIS || kind == IB_PF_SUITE);
        if (p->flags & IB_PF_CELL) assert_non_null(p->column);
        if (p->type == IB_PT_IMAGE) assert_non_null(p->column2);
        if (p->type == IB_PT_WORD) assert_non_null(p->words);
        /* the default parses (or is derived), and its text reads back */
        if (!(p->flags & IB_PF_REQUIRED)) assert_non_null(p->def);
        if (!ib_param_derived(id)) {
            ib_pval d, back;
            char text[96], why[256];
            ib_param_default(id, &d);
            ib_param_text(id, &d, text, sizeof text);
            assert_string_equal(text, p->def);
            if (p->type != IB_PT_BYTES || d.i != 0) { /* 0: "none", not a value */
                assert_int_equal(ib_param_parse(id, text, &back, why, sizeof why), 0);
                d.set = 1;
                assert_true(ib_param_equal(id, &d, &back));
                assert_false(ib_param_differs(id, &back));
            }
        }
        char desc[256];
        ib_param_describe(id, desc, sizeof desc);
        if (p->def && p->type != IB_PT_BOOL) assert_true(tu_contains(desc, "default "));
    }
    /* docs/suites.md renders every row */
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/suites.md", srcdir());
    char *doc = tu_slurp(path, NULL);
    assert_non_null(doc);
    for (int id = 0; id < IB_NPARAM; id++) {
        char row[96];
        snprintf(row, sizeof row, "| `%s` |", ib_param_get(id)->name);
        if (!tu_contains(doc, row)) fprintf(stderr, "docs/suites.md has no row %s\n", row);
        assert_true(tu_contains(doc, row));
    }
    free(doc);
    assert_int_equal(ib_param_find("kernel"), -1);
    assert_int_equal(ib_param_by_option("row_chunks"), -1); /* options use '-' */
}

/* Every axis of the table is a suite axis, enters labels, params and
 * filters; every imager option is in --help; every cell parameter is an
 * export column. */
static void test_table_reaches_everywhere(void **state)
{
    (void)state;
    char *help = NULL;
    assert_int_equal(tu_run(&help, "'%s' --help", tu_bin("imager")), 0);
    for (int id = 0; id < IB_NPARAM; id++) {
        const ib_param *p = ib_param_get(id);
        if (p->option) {
            char opt[96];
            snprintf(opt, sizeof opt, "  --%s", p->option);
            assert_true(tu_contains(help, opt));
        }
        if (p->flags & IB_PF_CELL) {
            int found = 0;
            for (size_t i = 0; res_export_column(i); i++)
                found |= !strcmp(res_export_column(i), p->column);
            assert_true(found);
        }
        if (!(p->flags & IB_PF_AXIS) || id == IB_P_IMAGER) continue;
        /* a value other than the default: the first word, 1, the top of a range */
        char value[96], text[512];
        switch (p->type) {
        case IB_PT_BOOL: snprintf(value, sizeof value, "true"); break;
        case IB_PT_WORD: /* a word that is not the default */
            for (const char *w = p->words; w; w = strchr(w, '|') ? strchr(w, '|') + 1 : NULL) {
                snprintf(value, sizeof value, "%.*s", (int)strcspn(w, "|"), w);
                if (strcmp(value, p->def)) break;
            }
            break;
        case IB_PT_WEIGHT: snprintf(value, sizeof value, "briggs:0.5"); break;
        case IB_PT_REAL: snprintf(value, sizeof value, "%g", p->max * 0.99); break;
        case IB_PT_BYTES: snprintf(value, sizeof value, "1G"); break;
        default: snprintf(value, sizeof value, "%lld", (long long)p->imin + 2); break;
        }
        if (id == IB_P_NODES || id == IB_P_THREADS) snprintf(value, sizeof value, "2");
        if (id == IB_P_MEM_TARGET) snprintf(value, sizeof value, "0.5");
        if (id == IB_P_MEM_SPILL) snprintf(value, sizeof value, "0.9");
        snprintf(text, sizeof text, "name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                                    "axes:\n  %s: ['%s']\n", p->name, value);
        ib_err e;
        ib_err_init(&e);
        wl_suite *s = NULL;
        wl_suite_opts o = {.datasets_dir = datasets_dir()};
        int r = wl_suite_parse(&e, "t.yaml", text, strlen(text), &o, &s);
        if (r) fprintf(stderr, "%s: %s\n", p->name, e.msg);
        assert_int_equal(r, 0);
        assert_int_equal(s->ncells, 1);
        const wl_cell *c = &s->cells[0];
        if (!wl_cell_has(c, id)) fprintf(stderr, "%s not in %s\n", p->name, c->params_json);
        assert_true(wl_cell_has(c, id));
        char key[96], label[512], filter[200];
        snprintf(key, sizeof key, "\"%s\":", p->name);
        assert_true(tu_contains(c->params_json, key));
        wl_suite_cell_label(c, label, sizeof label);
        snprintf(key, sizeof key, " %s%s", p->name, p->type == IB_PT_BOOL ? "" : "=");
        assert_true(tu_contains(label, key));
        int m = 0;
        snprintf(filter, sizeof filter, "%s=%s", p->name, value);
        assert_int_equal(wl_suite_filter(&e, c, filter, &m), 0);
        assert_int_equal(m, 1);
        /* the cell's parameters rebuild the same cell */
        json_t *params = json_loads(c->params_json, 0, NULL);
        wl_cell back;
        assert_int_equal(wl_suite_cell_from_params(&e, params, &o, &back), 0);
        assert_string_equal(back.hash, c->hash);
        json_decref(params);
        wl_suite_destroy(s);
    }
    free(help);
}

/* ---- parsing ----------------------------------------------------------------- */

static void test_parse_bytes_and_image(void **state)
{
    (void)state;
    struct { const char *s; int64_t v; } ok[] = {
        {"4096", 4096}, {"64K", 65536}, {"64k", 65536}, {"1.5G", 1610612736},
        {"2GiB", 2147483648LL}, {"512MB", 536870912}, {"1T", 1099511627776LL},
        {"0", 0}, {"3B", 3}, {"0.5K", 512},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int64_t v = -1;
        assert_int_equal(ib_parse_bytes(ok[i].s, &v), 0);
        assert_int_equal(v, ok[i].v);
    }
    const char *bad[] = {"", "K", "-1", "1.5", "1.1K", "12Q", "64 K", " 64K", "1e9", "0x10",
                         "64KiBB", "9999999999999999999", "5T5", "8E"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t v = -1;
        assert_int_equal(ib_parse_bytes(bad[i], &v), IB_EINVAL);
    }
    int nx = 0, ny = 0;
    assert_int_equal(ib_parse_image("512", &nx, &ny), 0);
    assert_true(nx == 512 && ny == 512);
    assert_int_equal(ib_parse_image("512x256", &nx, &ny), 0);
    assert_true(nx == 512 && ny == 256);
    assert_int_equal(ib_parse_image("64X32", &nx, &ny), 0);
    assert_true(nx == 64 && ny == 32);
    const char *badimg[] = {"", "x", "x64", "64x", "-2", "64x-2", "64x64x64", "6 4", "99999999999"};
    for (size_t i = 0; i < sizeof badimg / sizeof *badimg; i++)
        assert_int_equal(ib_parse_image(badimg[i], &nx, &ny), IB_EINVAL);
}

static void expect_refused(int id, const char *text, const char *why_expected)
{
    ib_pval v;
    char why[512] = "";
    int r = ib_param_parse(id, text, &v, why, sizeof why);
    if (r != IB_EINVAL || !tu_contains(why, why_expected))
        fprintf(stderr, "%s '%s': %d '%s'\n", ib_param_get(id)->name, text, r, why);
    assert_int_equal(r, IB_EINVAL);
    assert_true(tu_contains(why, why_expected));
}

static void test_parse_types(void **state)
{
    (void)state;
    ib_pval v;
    char text[96];
    /* each type, good */
    assert_int_equal(ib_param_parse(IB_P_SUPPORT, "51", &v, NULL, 0), 0);
    assert_int_equal(v.i, 51);
    assert_int_equal(ib_param_parse(IB_P_PADDING, "1.25", &v, NULL, 0), 0);
    assert_true(v.d == 1.25 && v.set);
    assert_int_equal(ib_param_parse(IB_P_MEM_BUDGET, "1.5G", &v, NULL, 0), 0);
    ib_param_text(IB_P_MEM_BUDGET, &v, text, sizeof text);
    assert_string_equal(text, "1610612736");
    assert_int_equal(ib_param_parse(IB_P_FSYNC, "1", &v, NULL, 0), 0);
    ib_param_text(IB_P_FSYNC, &v, text, sizeof text);
    assert_string_equal(text, "true");
    assert_int_equal(ib_param_parse(IB_P_SCHEDULE, "locality", &v, NULL, 0), 0);
    assert_int_equal(v.i, 2);
    assert_int_equal(ib_param_parse(IB_P_WEIGHT, "briggs:-0.25", &v, NULL, 0), 0);
    ib_param_text(IB_P_WEIGHT, &v, text, sizeof text);
    assert_string_equal(text, "briggs:-0.25");
    assert_int_equal(ib_param_parse(IB_P_WEIGHT, "briggs", &v, NULL, 0), 0);
    ib_param_text(IB_P_WEIGHT, &v, text, sizeof text);
    assert_string_equal(text, "briggs:0");
    assert_int_equal(ib_param_parse(IB_P_IMAGE, "64", &v, NULL, 0), 0);
    ib_param_text(IB_P_IMAGE, &v, text, sizeof text);
    assert_string_equal(text, "64x64");
    assert_int_equal(ib_param_parse(IB_P_PADDING, "1.10", &v, NULL, 0), 0);
    ib_param_text(IB_P_PADDING, &v, text, sizeof text);
    assert_string_equal(text, "1.1");
    /* defect 11's values and the imager's limits, in the one set of words */
    expect_refused(IB_P_THREADS, "10000", "threads must be in 1..1024, got 10000");
    expect_refused(IB_P_NODES, "100000", "nodes must be in 1..1024, got 100000");
    expect_refused(IB_P_PADDING, "8", "padding must be a number > 1 and <= 4, got '8'");
    expect_refused(IB_P_PADDING, "1", "padding must be a number > 1 and <= 4, got '1'");
    expect_refused(IB_P_MEM_TARGET, "5", "mem_target must be a number > 0 and <= 1, got '5'");
    expect_refused(IB_P_PB_LIMIT, "-1", "pb_limit must be a number > 0 and < 1, got '-1'");
    expect_refused(IB_P_PB_LIMIT, "1", "pb_limit must be a number > 0 and < 1");
    expect_refused(IB_P_SUPPORT, "4", "support must be odd, got 4");
    expect_refused(IB_P_SUPPORT, "x", "support must be an odd integer in 3..51, got 'x'");
    expect_refused(IB_P_IMAGE, "65538", "image must be NX or NXxNY, even, 2..65536");
    expect_refused(IB_P_IMAGE, "63x64", "image must be NX or NXxNY, even");
    expect_refused(IB_P_WEIGHT, "briggs:3", "weight must be natural, uniform or briggs:R");
    expect_refused(IB_P_WEIGHT, "briggs:", "weight must be natural, uniform or briggs:R");
    expect_refused(IB_P_GRIDDER, "wide", "gridder must be standard or mosaic, got 'wide'");
    expect_refused(IB_P_SCHEDULE, "x", "schedule must be static, dynamic or locality");
    expect_refused(IB_P_SERIAL_WRITE, "yes", "serial_write must be true or false");
    expect_refused(IB_P_MEM_BUDGET, "0", "mem_budget must be at least 1 byte");
    expect_refused(IB_P_MEM_BUDGET, "lots", "mem_budget must be a byte count");
    expect_refused(IB_P_OVERSAMPLE, "-1", "oversample must be 0 or in 2..100000, got -1");
    expect_refused(IB_P_OVERSAMPLE, "1", "oversample must be 0 or in 2..100000, got 1");
    expect_refused(IB_P_CHUNKS, "0", "chunks must be in 1..1000000, got 0");
    expect_refused(IB_P_RETRIES, "-1", "retries must be in 0..100, got -1");
    expect_refused(IB_P_CACHE_BUDGET, "1.5", "cache_budget must be a byte count");
    /* a dataset is a name, never a path */
    expect_refused(IB_P_DATASET, "/etc/passwd", "dataset must be a name");
    expect_refused(IB_P_DATASET, "../x", "(not a path)");
    expect_refused(IB_P_DATASET, ".hidden", "dataset must be a name");
    assert_int_equal(ib_param_parse(IB_P_DATASET, "alma-xc66", &v, NULL, 0), 0);
}

/* ---- checks across parameters and against a machine ------------------------- */

static void set(ib_pval *v, int id, const char *text)
{
    assert_int_equal(ib_param_parse(id, text, &v[id], NULL, 0), 0);
}

static void test_checks(void **state)
{
    (void)state;
    ib_pval v[IB_NPARAM];
    char why[512], warn[512];
    memset(v, 0, sizeof v);
    assert_int_equal(ib_params_check_set(v, why, sizeof why), 0);
    set(v, IB_P_MEM_TARGET, "0.99");
    assert_int_equal(ib_params_check_set(v, why, sizeof why), IB_EINVAL);
    assert_true(tu_contains(why, "mem_target <= mem_spill <= mem_pause, got 0.99, 0.92, 0.95"));
    memset(v, 0, sizeof v);
    /* the smallest working set against the budget: 512x512 at padding 1.5
     * is a 768x768 grid: 4.7 MB of grid, 2.4 MB of half spectrum, 1 MB plane */
    set(v, IB_P_IMAGE, "512");
    double need = ib_param_min_bytes(v);
    assert_true(need == 768.0 * 768 * 8 + 768.0 * 385 * 8 + 512.0 * 512 * 4);
    set(v, IB_P_THREADS, "2");
    assert_true(ib_param_min_bytes(v) == 2 * need);
    set(v, IB_P_MEM_BUDGET, "8M");
    assert_int_equal(ib_params_check_set(v, why, sizeof why), IB_EINVAL);
    assert_true(tu_contains(why, "image 512x512 at padding 1.5 needs at least 16.3 MB per rank "
                                 "(2 threads, each with a 768x768 grid), more than its budget "
                                 "allows"));
    set(v, IB_P_MEM_BUDGET, "64M");
    assert_int_equal(ib_params_check_set(v, why, sizeof why), 0);
    /* a machine of 2 cores and 1 GB */
    ib_machine m = {.cores = 2, .mem_bytes = 1e9};
    assert_int_equal(ib_params_check_machine(v, &m, why, sizeof why, warn, sizeof warn), 0);
    assert_string_equal(warn, "");
    set(v, IB_P_NODES, "2");
    assert_int_equal(ib_params_check_machine(v, &m, why, sizeof why, warn, sizeof warn), 0);
    assert_true(tu_contains(warn, "2 ranks x 2 threads oversubscribe this machine's 2 cores"));
    memset(v, 0, sizeof v);
    set(v, IB_P_IMAGE, "65536x65536");
    assert_int_equal(ib_params_check_machine(v, &m, why, sizeof why, warn, sizeof warn),
                     IB_EINVAL);
    assert_true(tu_contains(why, "image 65536x65536 at padding 1.5 needs at least 133 GB per "
                                 "rank (1 thread, each with a 98304x98304 grid), more than this "
                                 "machine's 1 GB of memory and swap"));
    memset(v, 0, sizeof v);
    set(v, IB_P_IMAGE, "4096");
    set(v, IB_P_NODES, "4");
    assert_int_equal(ib_params_check_machine(v, &m, why, sizeof why, warn, sizeof warn), 0);
    assert_true(tu_contains(warn, "4 ranks need at least"));
    /* the machine probe finds this one */
    ib_machine here;
    ib_machine_probe(&here);
    assert_true(here.cores >= 1 && here.mem_bytes > 1e8);
}

/* ---- the suite refuses what the imager refuses --------------------------------- */

/* The imager's message for args, from "imager: " on ("" when it ran). */
static char *imager_says(const char *args)
{
    char *out = NULL;
    int st = tu_run(&out, "'%s' --vis /nonexistent --out /nonexistent %s", tu_bin("imager"),
                    args);
    assert_int_equal(st, 2);
    return out;
}

static void test_suite_refuses_what_imager_refuses(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("params");
    assert_non_null(dir);
    struct {
        const char *name, *axes, *imager, *why;
        int line, column;
    } cases[] = {
        {"threads", "axes:\n  threads: [2, 10000]\n", "--threads 10000",
         "threads must be in 1..1024, got 10000", 5, 16},
        {"padding", "axes:\n  padding: [8]\n", "--padding 8",
         "padding must be a number > 1 and <= 4, got '8'", 5, 13},
        {"nodes", "axes:\n  nodes: [100000]\n", NULL, "nodes must be in 1..1024, got 100000",
         5, 11},
        {"mem-target", "axes:\n  mem_target: [5]\n", "--mem-target 5",
         "mem_target must be a number > 0 and <= 1, got '5'", 5, 16},
        {"pb-limit", "axes:\n  pb_limit: [-1]\n", "--pb-limit -1",
         "pb_limit must be a number > 0 and < 1, got '-1'", 5, 14},
        {"support", "axes:\n  support: [4]\n", "--support 4", "support must be odd, got 4", 5,
         13},
        {"fractions", "axes:\n  mem_target: [0.99]\n", "--mem-target 0.99",
         "memory fractions must satisfy mem_target <= mem_spill <= mem_pause, got 0.99, 0.92, "
         "0.95", 2, 12},
        {"image", "image: 65536x65536\naxes:\n  chunks: [1]\n", "--image 65536x65536",
         "image 65536x65536 at padding 1.5 needs at least 133 GB per rank (1 thread, each with "
         "a 98304x98304 grid), more than", 4, 8},
        {"budget", "image: 512\naxes:\n  mem_budget: [4M]\n", "--image 512 --mem-budget 4M",
         "image 512x512 at padding 1.5 needs at least 8.13 MB per rank (1 thread, each with a "
         "768x768 grid), more than its budget allows (mem_pause x mem_budget = 3.98 MB)", 4, 8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[4200], text[1024], *out = NULL, where[4400];
        snprintf(path, sizeof path, "%s/%s.yaml", dir, cases[i].name);
        snprintf(text, sizeof text, "name: d11\ndatasets: [alma-xc66]\nscale: 0.001\n%s",
                 cases[i].axes);
        write_file(path, text);
        int st = tu_run(&out, "'%s' run-suite '%s' --dry-run --datasets-dir '%s'",
                        tu_bin("harness"), path, datasets_dir());
        snprintf(where, sizeof where, "harness run-suite: suite '%s' line %d column %d: ", path,
                 cases[i].line, cases[i].column);
        if (st != 1 || !tu_contains(out, where) || !tu_contains(out, cases[i].why))
            fprintf(stderr, "%s: status %d: %s\n  want %s...%s\n", cases[i].name, st, out,
                    where, cases[i].why);
        assert_int_equal(st, 1);
        assert_true(tu_contains(out, where));
        assert_true(tu_contains(out, cases[i].why));
        free(out);
        if (!cases[i].imager) continue;
        out = imager_says(cases[i].imager);
        if (!tu_contains(out, cases[i].why)) fprintf(stderr, "imager: %s\n", out);
        assert_true(tu_contains(out, "imager: "));
        assert_true(tu_contains(out, cases[i].why));
        free(out);
    }
    /* what would only oversubscribe this machine is run, with a warning */
    char path[4200], *out = NULL;
    snprintf(path, sizeof path, "%s/busy.yaml", dir);
    write_file(path, "name: busy\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n"
                     "  threads: [1, 1024]\n");
    assert_int_equal(tu_run(&out, "'%s' run-suite '%s' --dry-run --datasets-dir '%s'",
                            tu_bin("harness"), path, datasets_dir()),
                     0);
    assert_true(tu_contains(out, "harness run-suite: warning: suite '"));
    assert_true(tu_contains(out, "1 rank x 1024 threads oversubscribe this machine's"));
    assert_int_equal(tu_count(out, "oversubscribe"), 1);
    assert_true(tu_contains(out, "2 cells x 1 repeat"));
    free(out);
    /* Slurm: the cells run elsewhere, so this machine's memory is no limit */
    snprintf(path, sizeof path, "%s/big.yaml", dir);
    write_file(path, "name: big\ndatasets: [alma-xc66]\nscale: 0.001\nimage: 65536\n"
                     "axes:\n  chunks: [64]\n");
    assert_int_equal(tu_run(&out, "'%s' run-suite '%s' --dry-run --launcher slurm --emit '%s/e' "
                                  "--datasets-dir '%s'",
                            tu_bin("harness"), path, dir, datasets_dir()),
                     0);
    free(out);
    /* a dataset name is never a path */
    snprintf(path, sizeof path, "%s/path.yaml", dir);
    write_file(path, "name: p\ndatasets: [/etc/passwd]\nscale: 0.001\n");
    assert_int_equal(tu_run(&out, "'%s' run-suite '%s' --dry-run", tu_bin("harness"), path), 1);
    assert_true(tu_contains(out, "line 2 column 12: dataset must be a name of letters, digits, "
                                 "'.', '_' and '-' (not a path), got '/etc/passwd'"));
    assert_false(tu_contains(out, "root:"));
    free(out);
    tu_rmtree(dir);
    free(dir);
}

/* ---- the parser is linear ----------------------------------------------------- */

static int parse_text(const char *text, size_t len, ib_err *e)
{
    wl_suite *s = NULL;
    wl_suite_opts o = {.datasets_dir = datasets_dir()};
    int r = wl_suite_parse(e, "hostile.yaml", text, len, &o, &s);
    wl_suite_destroy(s);
    return r;
}

static void test_linear_parser(void **state)
{
    (void)state;
    /* 1 MiB of nesting (defect 10: 320 KB took 73 s of CPU). The bound is
     * generous on purpose: it catches the quadratic case, not a slow
     * machine (measured: docs/suites.md). */
    size_t len = (size_t)1 << 20;
    char *text = malloc(len + 1);
    assert_non_null(text);
    const char *head = "name: x\ndatasets: [alma-xc66]\nscale: 0.001\naxes: {chunks: ";
    size_t hl = strlen(head);
    memcpy(text, head, hl);
    memset(text + hl, '[', len - hl);
    text[len] = '\0';
    ib_err e;
    ib_err_init(&e);
    clock_t t0 = clock();
    int r = parse_text(text, len, &e);
    double cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("  1 MiB of nesting refused in %.3f s of CPU\n", cpu);
    assert_int_equal(r, IB_EPARSE);
    assert_true(tu_contains(e.msg, "suite 'hostile.yaml' line 4 column "));
    assert_true(tu_contains(e.msg, "nesting deeper than 64 levels of lists and mappings"));
    assert_true(cpu < 5.0);
    /* the same of mappings, and a deep block structure that stays under the limit */
    memset(text + hl, '{', len - hl);
    assert_int_equal(parse_text(text, len, &e), IB_EPARSE);
    assert_true(tu_contains(e.msg, "nesting deeper than 64"));
    /* anchors: libyaml looks each up in a list */
    size_t n = 0;
    n += (size_t)snprintf(text + n, len - n, "name: x\ndescription: [");
    for (int i = 0; n < len - 64; i++) n += (size_t)snprintf(text + n, len - n, "&a%d 1, ", i);
    n += (size_t)snprintf(text + n, len - n, "1]\n");
    t0 = clock();
    assert_int_equal(parse_text(text, n, &e), IB_EPARSE);
    assert_true(tu_contains(e.msg, "more than 256 anchors"));
    /* an alias used many times walks its list each time: bounded */
    n = (size_t)snprintf(text, len, "name: x\ndatasets: [alma-xc66]\nscale: 0.001\n"
                                    "axes: {chunks: [1]}\nexclude:\n  - &r {chunks: [");
    for (int i = 1; i <= 5000; i++) n += (size_t)snprintf(text + n, len - n, "%d,", i);
    n += (size_t)snprintf(text + n, len - n, "5001]}\n");
    while (n < len - 16) n += (size_t)snprintf(text + n, len - n, "  - *r\n");
    assert_int_equal(parse_text(text, n, &e), IB_EPARSE);
    assert_true(tu_contains(e.msg, "aliases repeat more values than the file holds"));
    /* axes x exclude rules: the expansion's work is bounded before it starts */
    n = (size_t)snprintf(text, len, "name: x\ndatasets: [alma-xc66]\nscale: 0.001\naxes:\n"
                                    "  chunks: [");
    for (int i = 1; i < 1000; i++) n += (size_t)snprintf(text + n, len - n, "%d,", i);
    n += (size_t)snprintf(text + n, len - n, "1000]\n  support: [3, 5, 7, 9, 11, 13, 15, 17, "
                                             "19, 21]\nexclude:\n");
    for (int i = 1; n < len - 32; i++) n += (size_t)snprintf(text + n, len - n,
                                                             "  - {chunks: %d}\n", i);
    assert_int_equal(parse_text(text, n, &e), IB_EPARSE);
    assert_true(tu_contains(e.msg, "cell evaluations"));
    cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_true(cpu < 5.0);
    free(text);
}

/* ---- cell hashes recorded before the table ---------------------------------- */

/* Recompute the hash of each recorded cell from its parameters: the table
 * must write the same canonical JSON. */
static void test_recorded_db_hashes(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "file:%s/tests/data/hashes/record.db?immutable=1", srcdir());
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT hash, params FROM cells", -1, &st, NULL),
                     SQLITE_OK);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 0),
                   *params = (const char *)sqlite3_column_text(st, 1);
        json_t *p = json_loads(params, 0, NULL);
        assert_non_null(p);
        ib_err e;
        ib_err_init(&e);
        wl_cell c;
        int r = wl_suite_cell_from_params(&e, p, NULL, &c);
        if (r) fprintf(stderr, "%s: %s\n", params, e.msg);
        assert_int_equal(r, 0);
        assert_string_equal(c.params_json, params);
        assert_string_equal(c.hash, hash);
        json_decref(p);
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(n, 20);
}

/* Re-expand the suites recorded in cells.txt (frozen copies, with the
 * dataset specs of the day) and find every recorded hash and parameter
 * text. A dataset key that differs (a generator or spec changed since)
 * is set back to the recorded one before the hash is compared: the test
 * is of the parameter table, not of the generator. */
static void test_recorded_suite_hashes(void **state)
{
    (void)state;
    char path[4096], dsdir[4096];
    snprintf(path, sizeof path, "%s/tests/data/hashes/cells.txt", srcdir());
    snprintf(dsdir, sizeof dsdir, "%s/tests/data/hashes/datasets", srcdir());
    char *all = tu_slurp(path, NULL);
    assert_non_null(all);
    wl_suite *s = NULL;
    char current[256] = "";
    int lines = 0, rekeyed = 0;
    char *save = NULL;
    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char file[256], hash[65], params[1024];
        size_t index;
        assert_int_equal(sscanf(line, "%255s %zu %64s %1023s", file, &index, hash, params), 4);
        if (strcmp(file, current)) {
            wl_suite_destroy(s);
            s = NULL;
            char spath[4400];
            snprintf(spath, sizeof spath, "%s/tests/data/hashes/%s", srcdir(), file);
            ib_err e;
            ib_err_init(&e);
            wl_suite_opts o = {.datasets_dir = dsdir};
            int r = wl_suite_load(&e, spath, &o, &s);
            if (r) fprintf(stderr, "%s\n", e.msg);
            assert_int_equal(r, 0);
            snprintf(current, sizeof current, "%s", file);
        }
        assert_non_null(s);
        assert_true(index < s->ncells);
        const wl_cell *c = &s->cells[index];
        if (strcmp(c->hash, hash)) {
            /* the same cell but for its dataset key? */
            json_t *mine = json_loads(c->params_json, 0, NULL), *rec = json_loads(params, 0, NULL);
            json_object_set(mine, "dataset_key", json_object_get(rec, "dataset_key"));
            ib_err e;
            ib_err_init(&e);
            wl_cell back;
            assert_int_equal(wl_suite_cell_from_params(&e, mine, NULL, &back), 0);
            if (strcmp(back.hash, hash))
                fprintf(stderr, "%s cell %zu:\n  recorded %s\n  now      %s\n", file, index,
                        params, c->params_json);
            assert_string_equal(back.hash, hash);
            assert_string_equal(back.params_json, params);
            json_decref(mine);
            json_decref(rec);
            rekeyed++;
        } else {
            assert_string_equal(c->params_json, params);
        }
        lines++;
    }
    wl_suite_destroy(s);
    free(all);
    printf("  %d recorded cells, %d with a dataset key of another day\n", lines, rekeyed);
    assert_int_equal(lines, 333);
}

/* ---- effective parameters at ingest, and the export ------------------------- */

/* Column index of name in a CSV header line. */
static int csv_col(const char *header, const char *name)
{
    int k = 0;
    const char *p = header;
    size_t len = strlen(name);
    for (;;) {
        const char *end = strpbrk(p, ",\n");
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == len && !strncmp(p, name, len)) return k;
        if (!end || *end == '\n') return -1;
        p = end + 1;
        k++;
    }
}

/* Field k of a CSV line without quoted fields. */
static void csv_field(const char *line, int k, char *out, size_t n)
{
    for (int i = 0; i < k; i++) line = strchr(line, ',') + 1;
    size_t l = strcspn(line, ",\n");
    snprintf(out, n, "%.*s", (int)l, line);
}

static void test_export_effective(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("params-export");
    assert_non_null(dir);
    char *out = NULL;
    char db[4200];
    snprintf(db, sizeof db, "%s/record.db", dir);
    assert_int_equal(tu_run(NULL, "cp '%s/tests/data/hashes/record.db' '%s'", srcdir(), db), 0);
    /* a database from before attempt_params: read commands refuse an older
     * schema until it is migrated; then the values are computed from the
     * cells and stats, as ingest stores them */
    assert_int_not_equal(tu_run(&out, "'%s' export --db '%s' --format csv", tu_bin("harness"), db),
                         0);
    assert_true(tu_contains(out, "harness migrate"));
    free(out);
    out = NULL;
    assert_int_equal(tu_run(NULL, "'%s' migrate --db '%s'", tu_bin("harness"), db), 0);
    assert_int_equal(tu_run(&out, "'%s' export --db '%s' --format csv", tu_bin("harness"), db),
                     0);
    const char *header = out, *row = strchr(out, '\n') + 1;
    const char *must[] = {"schedule", "row_chunks", "imager",   "serial_write", "fsync",
                          "oversample", "chunks",   "image_nx", "mem_target",   "pb_limit"};
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        assert_true(csv_col(header, must[i]) >= 0);
    int rows = 0;
    for (const char *line = row; *line; line = strchr(line, '\n') + 1, rows++) {
        for (int id = 0; id < IB_NPARAM; id++) {
            const ib_param *p = ib_param_get(id);
            if (!(p->flags & IB_PF_CELL)) continue;
            char v[128];
            csv_field(line, csv_col(header, p->column), v, sizeof v);
            if (!v[0]) fprintf(stderr, "empty %s in: %.200s\n", p->column, line);
            assert_true(v[0] != '\0');
        }
    }
    assert_true(rows > 100);
    /* cell 1 of the recorded suite: chunks 1, no row chunks, the imager's
     * own 32x32 and the defaults of what the suite did not set */
    char v[128];
    csv_field(row, csv_col(header, "oversample"), v, sizeof v);
    assert_string_equal(v, "0");
    csv_field(row, csv_col(header, "serial_write"), v, sizeof v);
    assert_true(!strcmp(v, "false") || !strcmp(v, "true"));
    csv_field(row, csv_col(header, "image_nx"), v, sizeof v);
    assert_string_equal(v, "32");
    csv_field(row, csv_col(header, "fft_plan"), v, sizeof v);
    assert_string_equal(v, "measure");
    free(out);

    /* an attempt recorded now stores its parameters (source: the imager's
     * stats where it reports them, else the cell, else the default) */
    res_db *rdb = NULL;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(res_open(&e, db, NULL, &rdb), 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(rdb),
                                        "SELECT a.cell_id, a.stats, a.run_id FROM attempts a"
                                        " JOIN cells c ON c.id = a.cell_id"
                                        " WHERE c.params LIKE '%\"row_chunks\":2%' LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t cell = sqlite3_column_int64(st, 0), run = sqlite3_column_int64(st, 2);
    json_t *stats = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    sqlite3_finalize(st);
    assert_non_null(stats);
    json_object_set_new(json_object_get(stats, "params"), "chunks", json_integer(6));
    res_attempt a = {.run_id = run, .cell_id = cell, .repeat = 7, .status = RES_OK,
                     .exit_code = 0, .wall_s = 1};
    int64_t aid = 0;
    assert_int_equal(res_attempt_record(&e, rdb, &a, stats, NULL, 0, &aid), 0);
    json_decref(stats);
    char value[IB_NPARAM][RES_PARAM_TEXT];
    assert_int_equal(res_params_read(&e, rdb, aid, value), 0);
    assert_string_equal(value[IB_P_CHUNKS], "6");        /* the imager said so */
    assert_string_equal(value[IB_P_ROW_CHUNKS], "2");    /* the imager's too */
    assert_string_equal(value[IB_P_SERIAL_WRITE], "true");
    assert_string_equal(value[IB_P_MEM_TARGET], "0.85"); /* the default */
    assert_string_equal(value[IB_P_DATASET], "alma-xc66");
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(rdb),
                                        "SELECT name, source FROM attempt_params"
                                        " WHERE attempt_id = ? ORDER BY name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, aid);
    int nrows = 0, imager = 0, cellsrc = 0, defaults = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *src = (const char *)sqlite3_column_text(st, 1);
        imager += !strcmp(src, "imager");
        cellsrc += !strcmp(src, "cell");
        defaults += !strcmp(src, "default");
        nrows++;
    }
    sqlite3_finalize(st);
    int ncell = 0;
    for (int id = 0; id < IB_NPARAM; id++) ncell += !!(ib_param_get(id)->flags & IB_PF_CELL);
    assert_int_equal(nrows, ncell);
    assert_true(imager > 5 && cellsrc > 0 && defaults > 0);
    res_close(rdb);
    tu_rmtree(dir);
    free(dir);
}

/* ---- suite settings ---------------------------------------------------------- */

static void test_suite_settings(void **state)
{
    (void)state;
    const char *text = "name: k\ndatasets: [alma-xc66]\nscale: 0.001\nretries: 3\n"
                       "cache_budget: 2GiB\nwarmup: 1\n";
    ib_err e;
    ib_err_init(&e);
    wl_suite *s = NULL;
    wl_suite_opts o = {.datasets_dir = datasets_dir()};
    assert_int_equal(wl_suite_parse(&e, "k.yaml", text, strlen(text), &o, &s), 0);
    assert_int_equal(s->retries, 3);
    assert_int_equal(s->cache_budget, INT64_C(2) << 30);
    assert_int_equal(s->warmup, 1);
    assert_int_equal(s->repeats, 1);
    assert_true(s->timeout == 600);
    wl_suite_destroy(s);
    text = "name: k\ndatasets: [alma-xc66]\nscale: 0.001\nretries: -1\n";
    assert_int_equal(wl_suite_parse(&e, "k.yaml", text, strlen(text), &o, &s), IB_EPARSE);
    assert_true(tu_contains(e.msg, "suite 'k.yaml' line 4 column 10: retries must be in 0..100, "
                                   "got -1"));
    /* suite settings are not axes, axes are not suite settings */
    text = "name: k\ndatasets: [alma-xc66]\nscale: 0.001\naxes: {retries: [1]}\n";
    assert_int_equal(wl_suite_parse(&e, "k.yaml", text, strlen(text), &o, &s), IB_EPARSE);
    assert_true(tu_contains(e.msg, "unknown key 'retries' in 'axes'"));
    text = "name: k\ndatasets: [alma-xc66]\nscale: 0.001\nthreads: 2\n";
    assert_int_equal(wl_suite_parse(&e, "k.yaml", text, strlen(text), &o, &s), IB_EPARSE);
    assert_true(tu_contains(e.msg, "unknown key 'threads' in the suite"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_table_reaches_everywhere),
        cmocka_unit_test(test_parse_bytes_and_image),
        cmocka_unit_test(test_parse_types),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_suite_refuses_what_imager_refuses),
        cmocka_unit_test(test_linear_parser),
        cmocka_unit_test(test_recorded_db_hashes),
        cmocka_unit_test(test_recorded_suite_hashes),
        cmocka_unit_test(test_export_effective),
        cmocka_unit_test(test_suite_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
