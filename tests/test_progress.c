/*
 * test_progress.c: run-suite's progress display (harness/progress.c). On
 * a pseudo-terminal (openpty) of a given width every line the display
 * writes, live or kept, fits the width, so nothing wraps and clearing to
 * the end of the line leaves no fragments; messages are wrapped word by
 * word without losing one. On a pipe the display writes one plain line
 * per finished cell and messages whole, with no escape sequences. Then
 * `harness run-suite` itself with stderr on an 80-column terminal and on
 * a pipe, and stdout free of progress.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "harness/harness.h"
#include "tests/testutil.h"

/* What is readable on fd until end of file (or a quiet second), appended
 * to a malloc'd string. */
static char *drain(int fd, int wait_eof)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, wait_eof ? 120000 : 200);
        if (r <= 0) break;
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap *= 2);
            assert_non_null(nb);
            buf = nb;
        }
        ssize_t k = read(fd, buf + len, 4096);
        if (k <= 0) break; /* EOF, or EIO once the terminal's other side closed */
        len += (size_t)k;
    }
    buf[len] = '\0';
    return buf;
}

/* The longest line of terminal output: lines end at '\n' or '\r' (where
 * the cursor returns to column 0), escape sequences take no columns. */
static size_t longest_line(const char *s, char *which, size_t n)
{
    size_t best = 0, cur = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == '\033') {
            p++;
            if (*p == '[')
                while (p[1] && !(p[1] >= '@' && p[1] <= '~')) p++;
            if (p[1]) p++;
            continue;
        }
        if (*p == '\n' || *p == '\r' || *p == '\0') {
            if (cur > best) {
                best = cur;
                snprintf(which, n, "%.*s", (int)(p - start), start);
            }
            cur = 0;
            if (!*p) break;
            start = p + 1;
            continue;
        }
        cur++;
    }
    return best;
}

/* A pseudo-terminal of cols columns: *master to read, a FILE on the slave. */
static FILE *open_term(int cols, int *master)
{
    int m, s;
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    assert_int_equal(openpty(&m, &s, NULL, NULL, &ws), 0);
    FILE *f = fdopen(s, "w");
    assert_non_null(f);
    *master = m;
    return f;
}

static const char long_label[] =
    "alma-xc66 chunks=16 nodes=2 threads=2 support=7 gridder=mosaic weight=briggs:0.5 "
    "precision=double mem_budget=536870912 padding=1.5 schedule=dynamic row_chunks=3 r1";
static const char long_message[] =
    "generating dataset alma-xc66 (scale 0.001) into /a/rather/long/path/to/the/cache/"
    "directory/that/is/longer/than/any/terminal/line/0123456789abcdef0123456789abcdef and "
    "then some words after it";

/* Every word of want appears in got, in order (wrapping keeps them all). */
static void assert_words_kept(const char *got, const char *want)
{
    char *g = strdup(got), *w = strdup(want);
    assert_non_null(g);
    assert_non_null(w);
    /* undo the wrapping: line breaks and their indent, then compare with
     * the message's spaces removed (a word cut across lines is rejoined) */
    char *o = g;
    for (const char *p = got; *p; p++)
        if (*p != '\n' && *p != '\r' && *p != ' ') *o++ = *p;
    *o = '\0';
    o = w;
    for (const char *p = want; *p; p++)
        if (*p != ' ') *o++ = *p;
    *o = '\0';
    if (!strstr(g, w)) fprintf(stderr, "lost words:\n%s\n", got);
    assert_non_null(strstr(g, w));
    free(g);
    free(w);
}

static void test_terminal_widths(void **state)
{
    (void)state;
    const int widths[] = {80, 40, 20, 132};
    for (size_t k = 0; k < sizeof widths / sizeof widths[0]; k++) {
        int m;
        FILE *f = open_term(widths[k], &m);
        hx_progress p;
        hx_progress_init(&p, f, 12);
        assert_true(p.tty);
        assert_int_equal(hx_progress_width(&p), widths[k]);
        hx_progress_message(&p, "%s", long_message);
        char *msg = drain(m, 0);
        hx_progress_begin(&p, 2, long_label);
        hx_progress_tick(&p, 1.5);
        hx_progress_end(&p, "ok", 1.25, "(imager: a note that says why, at some length too)");
        hx_progress_begin(&p, 3, "short r0");
        hx_progress_tick(&p, 3700);
        hx_progress_end(&p, "failed", 0.5, NULL);
        fclose(f);
        char *out = drain(m, 1);
        close(m);
        char line[1024];
        size_t lm = longest_line(msg, line, sizeof line);
        if (lm >= (size_t)widths[k]) fprintf(stderr, "%d columns: '%s'\n", widths[k], line);
        assert_true(lm < (size_t)widths[k]);
        size_t lo = longest_line(out, line, sizeof line);
        if (lo >= (size_t)widths[k]) fprintf(stderr, "%d columns: '%s'\n", widths[k], line);
        assert_true(lo < (size_t)widths[k]);
        assert_words_kept(msg, long_message);
        /* the kept line of each cell, cut where it had to be */
        assert_true(tu_contains(out, widths[k] >= 40 ? "cell 3/12 ok 1.250s" : "cell 3/12 o"));
        assert_true(tu_contains(out, widths[k] >= 40 ? "cell 4/12 failed 0.500s short r0"
                                                     : "cell 4/12 faile"));
        if (widths[k] >= 80) assert_true(tu_contains(out, "[3/12] alma-xc66"));
        /* each live line is cleared before the next is written */
        assert_true(tu_contains(out, "\r\033[K"));
        free(msg);
        free(out);
    }
}

static void test_pipe_lines(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    FILE *f = fdopen(fd[1], "w");
    assert_non_null(f);
    hx_progress p;
    hx_progress_init(&p, f, 2);
    assert_false(p.tty);
    hx_progress_message(&p, "%s", long_message);
    hx_progress_begin(&p, 0, long_label);
    hx_progress_tick(&p, 1.5);
    hx_progress_end(&p, "ok", 1.25, NULL);
    hx_progress_begin(&p, 1, "short r0");
    hx_progress_end(&p, "timeout", 2, "(harness: stopped)");
    fclose(f);
    char *out = drain(fd[0], 1);
    close(fd[0]);
    char want[1024];
    snprintf(want, sizeof want, "%s\ncell 1/2 ok 1.250s %s\ncell 2/2 timeout 2.000s short r0  "
                                "(harness: stopped)\n",
             long_message, long_label);
    assert_string_equal(out, want); /* whole lines, nothing cut, no escapes */
    free(out);
}

typedef struct fx {
    char *dir;
    char suite[PATH_MAX], data[PATH_MAX];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->dir = tu_mkdtemp("progress");
    if (!f->dir) {
        free(f);
        return -1;
    }
    snprintf(f->suite, sizeof f->suite, "%s/p.yaml", f->dir);
    snprintf(f->data, sizeof f->data, "%s/cache", f->dir);
    FILE *fp = fopen(f->suite, "w");
    if (!fp) {
        tu_rmtree(f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    fputs("name: progress-suite-with-a-name-long-enough-to-wrap-80-columns\n"
          "datasets: [alma-xc66]\n"
          "scale: 0.0001\n"
          "chans: 2\n"
          "image: 32x32\n"
          "timeout: 60\n"
          "axes:\n"
          "  chunks: [1, 2]\n"
          "  support: [5]\n"
          "  padding: [1.25]\n"
          "  weight: [briggs:0.5]\n",
          fp);
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

/* Start harness run-suite with stdout into DIR/TAG.stdout and stderr on
 * errfd (closed here). */
static pid_t run_suite(fx *f, const char *tag, int errfd)
{
    char db[PATH_MAX + 16], cells[PATH_MAX + 16], outlog[PATH_MAX + 16];
    snprintf(db, sizeof db, "%s/%s.db", f->dir, tag);
    snprintf(cells, sizeof cells, "%s/%s-cells", f->dir, tag);
    snprintf(outlog, sizeof outlog, "%s/%s.stdout", f->dir, tag);
    const char *harness = tu_bin("harness");
    char *argv[] = {(char *)harness, "run-suite", f->suite,  "--db",      db, "--data-dir",
                    f->data,         "--out-dir", cells,     NULL};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(outlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0) _exit(126);
        dup2(o, 1);
        dup2(errfd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    close(errfd);
    return pid;
}

static void test_run_suite_terminal_and_pipe(void **state)
{
    fx *f = *state;
    if (access(tu_bin("harness"), X_OK) != 0 || access(tu_bin("imager"), X_OK) != 0) {
        printf("skip: the programs are not built (make programs)\n");
        skip();
        return;
    }
    /* stderr on an 80-column terminal */
    int m, s;
    struct winsize ws = {.ws_row = 24, .ws_col = 80};
    assert_int_equal(openpty(&m, &s, NULL, NULL, &ws), 0);
    pid_t pid = run_suite(f, "tty", s);
    char *term = drain(m, 1);
    close(m);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fprintf(stderr, "%s\n", term);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char line[1024];
    size_t longest = longest_line(term, line, sizeof line);
    if (longest >= 80) fprintf(stderr, "longer than 79 columns: '%s'\n", line);
    assert_true(longest < 80);
    assert_true(tu_contains(term, "cell 1/2 ok"));
    assert_true(tu_contains(term, "cell 2/2 ok"));
    assert_true(tu_contains(term, "run 1 complete"));
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tty.stdout", f->dir);
    char *so = tu_slurp(path, NULL);
    assert_non_null(so);
    assert_false(tu_contains(so, "cell 1/2")); /* `> log` keeps the progress on screen */
    free(so);
    free(term);

    /* stderr on a pipe: one plain line per cell */
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid = run_suite(f, "pipe", fd[1]);
    char *text = drain(fd[0], 1);
    close(fd[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_false(tu_contains(text, "\r"));
    assert_false(tu_contains(text, "\033"));
    assert_int_equal(tu_count(text, "\ncell "), 2);
    assert_true(tu_contains(text, "\ncell 1/2 ok "));
    assert_true(tu_contains(text, "\ncell 2/2 ok "));
    assert_true(tu_contains(text, "weight=briggs:0.5")); /* not cut */
    free(text);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terminal_widths),
        cmocka_unit_test(test_pipe_lines),
        cmocka_unit_test_setup_teardown(test_run_suite_terminal_and_pipe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
