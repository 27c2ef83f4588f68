/*
 * progress.c: what run-suite shows while it works, on stderr (so that
 * `> log` keeps it on the screen). On a terminal a live line (cell i/n,
 * parameters, elapsed, ETA) rewritten in place, and every line fitted to
 * the terminal's width (TIOCGWINSZ, asked before each line, so a resized
 * window is followed): a line never wraps, so `\r` and clear-to-end-of-
 * line leave no fragments. Elsewhere (a pipe, a file) one plain,
 * parseable line per finished cell, never cut:
 *   cell 3/12 ok 1.234s 3f2a9c1b7d10 alma-xc66 chunks=4 nodes=1 ...
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void fmt_dur(char *buf, size_t n, double s)
{
    if (s < 0) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void hx_progress_init(hx_progress *p, void *f, size_t total)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->tty = isatty(fileno((FILE *)f));
    p->total = total;
    p->t0 = ib_now();
}

int hx_progress_width(const hx_progress *p)
{
    struct winsize ws;
    if (ioctl(fileno((FILE *)p->f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long v = c ? strtol(c, NULL, 10) : 0;
    return v > 0 && v < 10000 ? (int)v : 80;
}

/* Bytes of s that fit in cols columns, not splitting a UTF-8 character
 * (a multi-byte character is counted as wide as its bytes: never more
 * than the terminal shows). */
static size_t fit_len(const char *s, size_t cols)
{
    size_t n = strlen(s);
    if (n <= cols) return n;
    n = cols;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    return n;
}

/* s on one line of at most cols columns, ending in "..." when cut. */
static void put_fitted(FILE *f, const char *s, size_t cols)
{
    size_t n = strlen(s);
    if (n <= cols) {
        fputs(s, f);
        return;
    }
    if (cols < 4) {
        fprintf(f, "%.*s", (int)fit_len(s, cols), s);
        return;
    }
    fprintf(f, "%.*s...", (int)fit_len(s, cols - 3), s);
}

/* The columns a line may take: one less than the width, so that the
 * cursor never sits in the last column (where terminals differ on when
 * they wrap). */
static size_t line_cols(const hx_progress *p)
{
    int w = hx_progress_width(p);
    return w > 1 ? (size_t)w - 1 : 1;
}

static void live_line(hx_progress *p, double elapsed)
{
    FILE *f = p->f;
    char el[32], eta[32] = "?", total[32], head[48], tail[128];
    fmt_dur(el, sizeof el, elapsed);
    if (p->done > 0) {
        double per = p->busy / (double)p->done;
        fmt_dur(eta, sizeof eta, per * (double)(p->total - p->done) - elapsed);
    }
    fmt_dur(total, sizeof total, ib_now() - p->t0);
    snprintf(head, sizeof head, "[%zu/%zu] ", p->index + 1, p->total);
    snprintf(tail, sizeof tail, "  %s  (total %s, eta %s)", el, total, eta);
    size_t cols = line_cols(p), hl = strlen(head), tl = strlen(tail);
    /* \033[K clears what a longer previous line left */
    fputs("\r\033[K", f);
    if (hl + tl + 8 <= cols) {
        fputs(head, f);
        put_fitted(f, p->label, cols - hl - tl);
        fputs(tail, f);
    } else {
        char line[sizeof head + sizeof p->label + sizeof tail];
        snprintf(line, sizeof line, "%s%s%s", head, p->label, tail);
        put_fitted(f, line, cols);
    }
    fflush(f);
}

void hx_progress_begin(hx_progress *p, size_t index, const char *label)
{
    p->index = index;
    snprintf(p->label, sizeof p->label, "%s", label);
    p->cell_t0 = ib_now();
    if (p->tty) live_line(p, 0);
}

void hx_progress_tick(void *ctx, double elapsed)
{
    hx_progress *p = ctx;
    if (p->tty) live_line(p, elapsed);
}

/* A message on a terminal: words wrapped onto lines of at most cols
 * columns (runs of spaces become one), continuation lines indented by
 * two spaces; a word longer than a line is cut across lines. */
static void put_wrapped(FILE *f, const char *s, size_t cols)
{
    size_t ind = cols > 8 ? 2 : 0, col = 0, start = 0; /* start: column after the indent */
    for (;;) {
        s += strspn(s, " ");
        size_t wl = strcspn(s, " ");
        if (wl == 0) break;
        if (col > start && col + 1 + wl > cols) {
            fprintf(f, "\n%*s", (int)ind, "");
            col = start = ind;
        } else if (col > start) {
            fputc(' ', f);
            col++;
        }
        while (wl > 0) {
            size_t take = fit_len(s, cols > col ? cols - col : 0);
            if (take > wl) take = wl;
            if (take == 0) take = 1; /* narrower than one character: it wraps */
            fprintf(f, "%.*s", (int)take, s);
            col += take;
            s += take;
            wl -= take;
            if (wl > 0) {
                fprintf(f, "\n%*s", (int)ind, "");
                col = start = ind;
            }
        }
    }
    fputc('\n', f);
}

void hx_progress_end(hx_progress *p, const char *status, double wall_s, const char *note)
{
    FILE *f = p->f;
    p->done++;
    p->busy += ib_now() - p->cell_t0;
    char line[1024];
    snprintf(line, sizeof line, "cell %zu/%zu %s %.3fs %s%s%s", p->index + 1, p->total, status,
             wall_s, p->label, note && *note ? "  " : "", note ? note : "");
    if (p->tty) {
        fputs("\r\033[K", f);
        put_fitted(f, line, line_cols(p));
        fputc('\n', f);
    } else {
        fprintf(f, "%s\n", line);
    }
    fflush(f);
}

void hx_progress_message(hx_progress *p, const char *fmt, ...)
{
    FILE *f = p->f;
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (p->tty) {
        fputs("\r\033[K", f);
        put_wrapped(f, buf, line_cols(p));
    } else {
        fprintf(f, "%s\n", buf);
    }
    fflush(f);
}
