/*
 * test_opts.c: the option parser every command uses (ib_parse_opts in
 * common/opts.c, getopt_long underneath; hx_parse in harness/cli.c). Values
 * land where the table says; "--name=value" and "--name value" agree;
 * options and arguments mix and keep their order, "--" ends options; -h
 * is --help; an abbreviation, an unknown option, a missing value, a value
 * given to a flag and a bad number are each refused with a message naming
 * the option; parsing twice in one process starts afresh. hx_parse answers
 * --help with 0, bad usage with 2, and leaves the arguments in argv.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "harness/harness.h"

typedef struct vals {
    const char *out;
    int n, flag, help;
    double x;
    int64_t big;
} vals;

#define TABLE(v)                                                                          \
    {                                                                                     \
        {"out", IB_OPT_STR, &(v).out, "DIR", "output"},                                   \
            {"threads", IB_OPT_INT, &(v).n, "N", "threads"},                              \
            {"threshold", IB_OPT_DBL, &(v).x, "X", "threshold"},                          \
            {"big", IB_OPT_I64, &(v).big, "N", "a big one"},                              \
            {"quiet", IB_OPT_FLAG, &(v).flag, NULL, "quiet"},                             \
            {"help", IB_OPT_FLAG, &(v).help, NULL, "help"}, {NULL, 0, NULL, NULL, NULL}, \
    }

/* Parse the words of line (at most 16) into v; the positionals into pos. */
static int parse(const char *line, vals *v, char *pos[16], int *npos, ib_err *e)
{
    static char buf[512];
    static char *argv[17];
    snprintf(buf, sizeof buf, "%s", line);
    int argc = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && argc < 16; t = strtok_r(NULL, " ", &save))
        argv[argc++] = t;
    memset(v, 0, sizeof *v);
    const ib_opt opts[] = TABLE(*v);
    ib_err_init(e);
    *npos = -1;
    return ib_parse_opts(e, "prog", opts, argc, argv, pos, npos);
}

static void test_values_and_order(void **state)
{
    (void)state;
    vals v;
    char *pos[16];
    int np;
    ib_err e;
    assert_int_equal(parse("a --out=o1 b --threads 4 --threshold -0.5 --big 9000000000 --quiet c",
                           &v, pos, &np, &e), 0);
    assert_string_equal(v.out, "o1");
    assert_int_equal(v.n, 4);
    assert_true(v.x == -0.5);
    assert_true(v.big == INT64_C(9000000000));
    assert_int_equal(v.flag, 1);
    assert_int_equal(np, 3);
    assert_string_equal(pos[0], "a");
    assert_string_equal(pos[1], "b");
    assert_string_equal(pos[2], "c");
    /* "--" ends options; "-" is an argument; twice in a process: afresh */
    assert_int_equal(parse("--threads=2 - -- --quiet -h", &v, pos, &np, &e), 0);
    assert_int_equal(v.n, 2);
    assert_int_equal(v.flag, 0);
    assert_int_equal(np, 3);
    assert_string_equal(pos[0], "-");
    assert_string_equal(pos[1], "--quiet");
    assert_string_equal(pos[2], "-h");
    assert_int_equal(parse("-h", &v, pos, &np, &e), 0);
    assert_int_equal(v.help, 1);
    assert_int_equal(np, 0);
}

static void test_refusals(void **state)
{
    (void)state;
    struct {
        const char *line, *msg;
    } bad[] = {
        {"--thread 2", "prog: unknown option '--thread' (did you mean '--threads'?)"},
        {"--nope", "prog: unknown option '--nope'"},
        {"--t 2", "prog: unknown option '--t'"}, /* ambiguous */
        {"-x", "prog: unknown option '-x' (options are --long; -h is --help)"},
        {"a --out", "prog: option '--out' needs a value (DIR)"},
        {"--quiet=yes", "prog: option '--quiet' takes no value"},
        {"--threads four", "prog: option '--threads' expects an integer, got 'four'"},
        {"--threshold 1x", "prog: option '--threshold' expects a number, got '1x'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vals v;
        char *pos[16];
        int np;
        ib_err e;
        assert_int_equal(parse(bad[i].line, &v, pos, &np, &e), IB_EINVAL);
        if (strcmp(e.msg, bad[i].msg)) fprintf(stderr, "for '%s' got '%s'\n", bad[i].line, e.msg);
        assert_string_equal(e.msg, bad[i].msg);
    }
}

static void test_hx_parse(void **state)
{
    (void)state;
    vals v;
    memset(&v, 0, sizeof v);
    const ib_opt opts[] = TABLE(v);
    char a0[] = "x", a1[] = "--threads", a2[] = "3", a3[] = "y";
    char *argv[] = {a0, a1, a2, a3, NULL};
    int np = -1;
    assert_int_equal(hx_parse("show", opts, 4, argv, &np, 1, 2), -1);
    assert_int_equal(np, 2);
    assert_string_equal(argv[0], "x");
    assert_string_equal(argv[1], "y");
    assert_int_equal(v.n, 3);
    /* too many, too few, a bad option: 2; --help: 0 */
    char *argv2[] = {a0, a3, a0, NULL};
    assert_int_equal(hx_parse("show", opts, 3, argv2, &np, 1, 2), 2);
    assert_int_equal(hx_parse("show", opts, 0, argv2, &np, 1, 2), 2);
    char h[] = "--help", q[] = "--quiet=1";
    char *argv3[] = {q, NULL};
    assert_int_equal(hx_parse("show", opts, 1, argv3, &np, 0, 0), 2);
    char *argv4[] = {h, NULL};
    assert_int_equal(hx_parse("show", opts, 1, argv4, &np, 1, 1), 0);
    /* every command of the table has usage, help and examples */
    for (const hx_cmd *c = hx_commands(); c->name; c++) {
        assert_non_null(c->usage);
        assert_non_null(c->help);
        assert_non_null(c->examples);
        assert_ptr_equal(hx_cmd_find(c->name), c);
    }
    assert_null(hx_cmd_find("nope"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_order),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_hx_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
