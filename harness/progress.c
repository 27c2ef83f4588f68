/*
 * progress.c: what run-suite shows while it works. On a terminal a live
 * line (cell i/n, parameters, elapsed, ETA) rewritten in place; on a pipe
 * or file one plain, parseable line per finished cell:
 *   cell 3/12 ok 1.234s 3f2a9c1b7d10 alma-xc66 chunks=4 nodes=1 ...
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

static void live_line(hx_progress *p, double elapsed)
{
    FILE *f = p->f;
    char el[32], eta[32] = "?";
    fmt_dur(el, sizeof el, elapsed);
    if (p->done > 0) {
        double per = p->busy / (double)p->done;
        fmt_dur(eta, sizeof eta, per * (double)(p->total - p->done) - elapsed);
    }
    char total[32];
    fmt_dur(total, sizeof total, ib_now() - p->t0);
    /* \033[K clears what a longer previous line left */
    fprintf(f, "\r\033[K[%zu/%zu] %.80s  %s  (total %s, eta %s)", p->index + 1, p->total,
            p->label, el, total, eta);
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

void hx_progress_end(hx_progress *p, const char *status, double wall_s, const char *note)
{
    FILE *f = p->f;
    p->done++;
    p->busy += ib_now() - p->cell_t0;
    if (p->tty) fprintf(f, "\r\033[K");
    fprintf(f, "cell %zu/%zu %s %.3fs %s%s%s\n", p->index + 1, p->total, status, wall_s,
            p->label, note && *note ? "  " : "", note ? note : "");
    fflush(f);
}

void hx_progress_message(hx_progress *p, const char *fmt, ...)
{
    FILE *f = p->f;
    if (p->tty) fprintf(f, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}
