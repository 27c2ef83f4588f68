/*
 * test_casa_log: the CASA log parser on the example logs in tests/data/casa
 * (task counts, durations to the microsecond, failed tasks, the CASA 5
 * fallback, mpicasa de-duplication, partition notes) and on broken input
 * built in memory (truncated, foreign, overlong, binary, unbalanced).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/reports.h"
#include "tests/testutil.h"

static const char *data(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("IMBENCH_SRCDIR");
    snprintf(buf, sizeof buf, "%s/tests/data/casa/%s", dir && *dir ? dir : ".", name);
    return buf;
}

static void parse_ok(const char *name, rep_casa_log *log)
{
    ib_err e;
    ib_err_init(&e);
    int rc = rep_casa_parse(&e, data(name), log);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
}

/* Parse a file that must fail; the message must name it and contain want. */
static void parse_bad(const char *name, int code, const char *want)
{
    ib_err e;
    ib_err_init(&e);
    rep_casa_log log;
    int rc = rep_casa_parse(&e, data(name), &log);
    if (rc != code || !strstr(e.msg, want)) print_message("rc %d: %s\n", rc, e.msg);
    assert_int_equal(rc, code);
    assert_non_null(strstr(e.msg, name));
    assert_non_null(strstr(e.msg, want));
    rep_casa_log_release(&log);
}

/* The same for text in memory. */
static void buf_bad(const char *text, size_t len, const char *want)
{
    ib_err e;
    ib_err_init(&e);
    rep_casa_log log;
    int rc = rep_casa_parse_buf(&e, "mem.log", text, len, &log);
    if (rc != IB_EPARSE || !strstr(e.msg, want)) print_message("rc %d: %s\n", rc, e.msg);
    assert_int_equal(rc, IB_EPARSE);
    assert_non_null(strstr(e.msg, "casa log 'mem.log' line "));
    assert_non_null(strstr(e.msg, want));
    rep_casa_log_release(&log);
    assert_null(log.tasks);
}

static void test_casa6_cube(void **state)
{
    (void)state;
    rep_casa_log log;
    parse_ok("casa6_cube.log", &log);
    assert_int_equal(log.ntasks, 2); /* listobs is not counted */
    assert_string_equal(log.casa_version, "6.2.1-7");
    assert_string_equal(log.host, "cvpost042");
    assert_string_equal(log.first_ts, "2019-11-22 01:38:41");
    assert_string_equal(log.last_ts, "2019-11-22 02:02:20");
    assert_int_equal(log.nlines, 36);
    assert_int_equal(log.mpi, 0);
    assert_non_null(strstr(log.path, "casa6_cube.log"));

    const rep_casa_task *t = &log.tasks[0];
    assert_int_equal(t->index, 0);
    assert_int_equal(t->status, REP_TASK_OK);
    assert_int_equal(t->clock, REP_CLOCK_MESSAGE);
    /* Message clock (local time); the line stamps are five hours apart. */
    assert_int_equal(t->duration_us, 377966209);
    assert_true(fabs(t->duration_s - 377.966209) < 1e-9);
    assert_string_equal(t->start, "2019-11-21 20:39:05.657779");
    assert_string_equal(t->end, "2019-11-21 20:45:23.623988");
    assert_int_equal(t->begin_line, 14);
    assert_int_equal(t->end_line, 24);
    assert_string_equal(t->imagename, "xc66_cube");
    assert_string_equal(t->gridder, "standard");
    assert_string_equal(t->specmode, "cube");
    assert_string_equal(t->imsize, "[600, 600]");
    assert_string_equal(t->vis, "calibrated_final.ms");
    assert_string_equal(rep_casa_param(t, "field"), "NGC_1068, main");
    assert_string_equal(rep_casa_param(t, "spw"), "0:100~1123,1");
    assert_string_equal(rep_casa_param(t, "cell"), "['0.05arcsec', '0.05arcsec']");
    assert_string_equal(rep_casa_param(t, "phasecenter"), "ICRS 02:42:40.771 -00.00.47.84");
    assert_string_equal(rep_casa_param(t, "restfreq"), "[]");
    assert_string_equal(rep_casa_param(t, "uvtaper"), "['']");
    assert_string_equal(rep_casa_param(t, "robust"), "0.5");
    assert_string_equal(rep_casa_param(t, "timerange"), "");
    assert_string_equal(rep_casa_param(t, "parallel"), "False");
    assert_string_equal(t->params[0].key, "vis");
    assert_string_equal(t->params[t->nparams - 1].key, "parallel");
    assert_int_equal(t->nparams, 87);
    assert_null(rep_casa_param(t, "nosuchparam"));
    assert_int_equal(t->nnotes, 0);
    assert_null(t->failure);

    t = &log.tasks[1];
    assert_int_equal(t->index, 1);
    assert_int_equal(t->duration_us, 972511881);
    assert_true(fabs(t->duration_s - 972.511881) < 1e-9);
    assert_string_equal(t->imagename, "x2e3_mfs_it's");
    assert_string_equal(t->gridder, "mosaic");
    assert_string_equal(t->specmode, "mfs");
    assert_string_equal(t->vis, "['eb1.ms', 'eb2.ms']");
    assert_string_equal(rep_casa_param(t, "phasecenter"), "3");
    assert_int_equal(t->begin_line, 27);
    rep_casa_log_release(&log);
    assert_int_equal(log.ntasks, 0);
    rep_casa_log_release(&log); /* twice is harmless */
}

static void test_casa6_failed(void **state)
{
    (void)state;
    rep_casa_log log;
    parse_ok("casa6_failed.log", &log);
    assert_int_equal(log.ntasks, 2);
    assert_string_equal(log.host, "node17.cluster.local");
    const rep_casa_task *t = &log.tasks[0];
    /* Failed although it logs "complete"; the duration is still recorded. */
    assert_int_equal(t->status, REP_TASK_FAILED);
    assert_string_equal(rep_task_status_name(t->status), "failed");
    assert_non_null(t->failure);
    assert_non_null(strstr(t->failure, "No space left on device"));
    assert_int_equal(t->clock, REP_CLOCK_MESSAGE);
    assert_int_equal(t->duration_us, 147291114);
    /* A SEVERE line that is not the task's exception does not fail it. */
    t = &log.tasks[1];
    assert_int_equal(t->status, REP_TASK_OK);
    assert_null(t->failure);
    assert_int_equal(t->duration_us, 5137750000);
    assert_string_equal(t->imagename, "x3be_cube_retry");
    rep_casa_log_release(&log);
}

static void test_casa5_nocomplete(void **state)
{
    (void)state;
    rep_casa_log log;
    parse_ok("casa5_nocomplete.log", &log);
    assert_int_equal(log.ntasks, 1);
    assert_string_equal(log.casa_version, "5.6.1-8");
    assert_string_equal(log.host, "lustre-login2");
    const rep_casa_task *t = &log.tasks[0];
    assert_int_equal(t->clock, REP_CLOCK_LINE);
    assert_string_equal(rep_clock_name(t->clock), "line");
    assert_int_equal(t->duration_us, 1235000000); /* 10:00:12 -> 10:20:47 */
    assert_true(fabs(t->duration_s - 1235.0) < 1e-9);
    assert_string_equal(t->start, "2019-03-04 10:00:12");
    assert_string_equal(t->end, "2019-03-04 10:20:47");
    assert_int_equal(t->status, REP_TASK_OK);
    /* The call is wrapped onto a continuation line; double quotes. */
    assert_string_equal(t->imagename, "chiles_cube");
    assert_string_equal(t->gridder, "standard");
    assert_string_equal(t->imsize, "[1000, 1000]");
    assert_string_equal(rep_casa_param(t, "phasecenter"), "J2000 10h01m24 +02d21m00");
    assert_string_equal(rep_casa_param(t, "parallel"), "True");
    assert_int_equal(t->begin_line, 4);
    assert_int_equal(t->end_line, 10);
    rep_casa_log_release(&log);
}

static void test_mpicasa(void **state)
{
    (void)state;
    rep_casa_log log;
    parse_ok("mpicasa.log", &log);
    /* Servers repeat Begin, the call, complete and End: counted once. */
    assert_int_equal(log.ntasks, 1);
    assert_int_equal(log.mpi, 1);
    const rep_casa_task *t = &log.tasks[0];
    assert_string_equal(t->imagename, "x1a36_cube");
    assert_int_equal(t->duration_us, 547123445);
    assert_string_equal(t->start, "2020-02-10 09:00:05.012345");
    assert_int_equal(t->begin_line, 5);
    assert_int_equal(t->end_line, 18);
    rep_casa_log_release(&log);
}

static void test_partition(void **state)
{
    (void)state;
    rep_casa_log log;
    parse_ok("partition.log", &log);
    assert_int_equal(log.ntasks, 1);
    const rep_casa_task *t = &log.tasks[0];
    assert_int_equal(t->nnotes, 1);
    assert_non_null(strstr(t->notes[0], "Required memory: 196.1 GB"));
    assert_non_null(strstr(t->notes[0], "Subcubes: 7."));
    assert_true(fabs(t->required_gb - 196.1) < 1e-9);
    assert_true(fabs(t->available_gb - 48) < 1e-9);
    assert_int_equal(t->subcubes, 7);
    assert_int_equal(t->duration_us, 2344999999);
    rep_casa_log_release(&log);
}

static void test_bad_files(void **state)
{
    (void)state;
    parse_bad("truncated.log", IB_EPARSE,
              "truncated.log' line 3: Begin Task: tclean has no End Task before end of file "
              "at line 6 (truncated log?)");
    parse_bad("foreign.log", IB_EPARSE, "foreign.log' line 1: not a CASA log line");
    parse_bad("no-such-file.log", IB_EIO, "no-such-file.log");
}

#define L(ts, prio, origin, msg) ts "\t" prio "\t" origin "\t" msg "\n"
#define BEGIN(ts) L(ts, "INFO", "tclean::::casa", "##### Begin Task: tclean #####")
#define END(ts) L(ts, "INFO", "tclean::::casa", "##### End Task: tclean #####")
#define CALL(ts) L(ts, "INFO", "tclean::::casa", "tclean( vis='a.ms', imagename='a' )")
#define TS "2020-01-01 00:00:00"

static void test_bad_buffers(void **state)
{
    (void)state;
    const char *s;
    s = END(TS);
    buf_bad(s, strlen(s), "line 1: End Task: tclean without Begin Task");
    s = BEGIN(TS) END(TS);
    buf_bad(s, strlen(s), "line 1: task tclean (lines 1-2) has no 'tclean( ... )' call line");
    s = BEGIN(TS) CALL(TS) BEGIN(TS);
    buf_bad(s, strlen(s), "line 3: Begin Task: tclean while the task begun at line 1");
    s = L(TS, "INFO", "::casa", "CASA Version 6.2.1-7") L(TS, "INFO", "::casa", "hello");
    buf_bad(s, strlen(s), "line 2: end of file: no tclean task");
    s = BEGIN(TS) L(TS, "INFO", "tclean::::casa", "tclean( vis='a.ms', imsize=[1, 2 )") END(TS);
    buf_bad(s, strlen(s), "line 2: tclean call: unbalanced brackets");
    s = BEGIN(TS) L(TS, "INFO", "tclean::::casa", "tclean( vis='a.ms', imsize=[1,") END(TS);
    buf_bad(s, strlen(s), "line 2: tclean call is not closed by ')'");
    s = BEGIN(TS) L(TS, "INFO", "tclean::::casa", "tclean( vis='a.ms', 7 )") END(TS);
    buf_bad(s, strlen(s), "line 2: tclean call: expected key=value at '7 )'");
    s = BEGIN(TS) CALL(TS)
        L(TS, "INFO", "tclean::::casa", "Task tclean complete. Start time: yesterday");
    buf_bad(s, strlen(s), "line 3: complete line without 'Start time:' and 'End time:'");
    s = BEGIN(TS) CALL(TS)
        L(TS, "INFO", "tclean::::casa",
          "Task tclean complete. Start time: 2020-01-01 00:00:05.0 End time: 2020-01-01 "
          "00:00:01.0");
    buf_bad(s, strlen(s), "line 3: complete line: end time");
    s = "\n\n  \nhello\n";
    buf_bad(s, strlen(s), "line 4: not a CASA log line");
    buf_bad("", 0, "line 1: empty file");
    s = "\n\n";
    buf_bad(s, strlen(s), "line 3: empty file");
    static const char nul[] = TS "\tINFO\t::casa\tok\n" TS "\tINFO\t::casa\tbad\0byte\n";
    buf_bad(nul, sizeof nul - 1, "line 2: NUL byte");
    /* Timestamp with a bad month is not a log line. */
    s = "2020-13-01 00:00:00\tINFO\t::casa\tx\n";
    buf_bad(s, strlen(s), "line 1: not a CASA log line");

    /* A line longer than the cap fails instead of growing without bound. */
    size_t n = REP_CASA_MAX_LINE + 100;
    char *big = malloc(n);
    assert_non_null(big);
    const char *head = BEGIN(TS) TS "\tINFO\t::casa\t";
    size_t hl = strlen(head);
    memcpy(big, head, hl);
    memset(big + hl, 'x', n - hl);
    buf_bad(big, n, "line 2: line longer than");
    free(big);
}

static void test_buffers_ok(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_casa_log log;
    /* CRLF line ends, leading blank lines, padded priority, a foreign task
     * bracket inside, continuation lines, nested quotes and dicts. */
    const char *s =
        "\r\n"
        "2020-01-01 00:00:00\tINFO \t::casa\tCASA Version 6.5.0.15\r\n"
        "2020-01-01 00:00:01\tINFO\ttclean::::casa\t##### Begin Task: tclean #####\r\n"
        "2020-01-01 00:00:01\tINFO\ttclean::::casa\ttclean (vis='a.ms', imagename='q\\'x', "
        "outlierfile={'a': [1, (2, 3)], 'b': 'c,d'}, mask=\"(1,2)\" )\r\n"
        "a continuation line that belongs to nothing\r\n"
        "2020-01-01 00:00:02\tINFO\timstat::::casa\t##### Begin Task: imstat #####\r\n"
        "2020-01-01 00:00:02\tINFO\timstat::::casa\t##### End Task: imstat #####\r\n"
        "2020-01-01 00:00:03\tINFO\ttclean::::casa\tTask tclean complete. Start time: "
        "2020-01-01 01:00:00.5 End time: 2020-01-01 01:00:02.75\r\n"
        "2020-01-01 00:00:03\tINFO\ttclean::::casa\t##### End Task: tclean #####\r\n";
    int rc = rep_casa_parse_buf(&e, "ok.log", s, strlen(s), &log);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(log.ntasks, 1);
    assert_string_equal(log.casa_version, "6.5.0.15");
    const rep_casa_task *t = &log.tasks[0];
    assert_int_equal(t->duration_us, 2250000);
    assert_string_equal(t->imagename, "q'x");
    assert_string_equal(rep_casa_param(t, "outlierfile"), "{'a': [1, (2, 3)], 'b': 'c,d'}");
    assert_string_equal(rep_casa_param(t, "mask"), "(1,2)");
    assert_int_equal(t->nparams, 4);
    assert_null(t->gridder);
    assert_int_equal(t->begin_line, 3);
    rep_casa_log_release(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_casa6_cube),     cmocka_unit_test(test_casa6_failed),
        cmocka_unit_test(test_casa5_nocomplete), cmocka_unit_test(test_mpicasa),
        cmocka_unit_test(test_partition),      cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_buffers),    cmocka_unit_test(test_buffers_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
