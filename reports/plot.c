/*
 * plot.c: drives gnuplot from C. Each figure is a script NAME.gp written
 * beside its data files in the report directory, so a user can edit and
 * re-run it (`gnuplot NAME.gp`); it draws the figure once on the PNG
 * terminal (pngcairo, or png when gnuplot lacks cairo) and replots it on
 * the SVG terminal. gnuplot runs by fork/exec in that directory with a
 * bounded wall time, writing temporary images that become NAME.png and
 * NAME.svg only when its exit status is 0 and both are complete. Also the
 * axes every figure uses: linear from zero, or logarithmic with labelled
 * ticks at any range, so that no axis is left without numbers.
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GNUPLOT_TIMEOUT_S 120.0
#define PNG_SIZE "1000,620"
#define SVG_SIZE "1000,620"

/* Find name in PATH (or take it as a path when it has a '/'). */
static int find_program(const char *name, char *out, size_t n)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) return -1;
        snprintf(out, n, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char cand[4096];
        if (len > 0 && len + strlen(name) + 2 < sizeof cand) {
            memcpy(cand, p, len);
            cand[len] = '/';
            strcpy(cand + len + 1, name);
            if (access(cand, X_OK) == 0) {
                snprintf(out, n, "%s", cand);
                return 0;
            }
        }
        if (!colon) break;
        p = colon + 1;
    }
    return -1;
}

/*
 * Run prog with up to three args (NULL ends them) in dir, stdin from
 * /dev/null, stdout and stderr to errpath (created exclusively, or
 * /dev/null). Returns the exit status, 128+signal, 124 on timeout, or -1
 * when it could not be started.
 */
static int run_in(const char *dir, const char *prog, const char *a1, const char *a2,
                  const char *a3, const char *errpath)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = errpath ? open(errpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644) : -1;
        if (out < 0) out = open("/dev/null", O_WRONLY);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        setpgid(0, 0);
        execl(prog, prog, a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    struct timespec t0, now, nap = {0, 5 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double el = (double)(now.tv_sec - t0.tv_sec) + 1e-9 * (double)(now.tv_nsec - t0.tv_nsec);
        if (el > GNUPLOT_TIMEOUT_S) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return 124;
        }
        nanosleep(&nap, NULL);
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

void rep__plotter_init(rep__plotter *p, rep__out *out, const char *program)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    const char *name = program && *program ? program : "gnuplot";
    if (find_program(name, p->gnuplot, sizeof p->gnuplot) != 0) {
        snprintf(p->why, sizeof p->why,
                 "gnuplot ('%s') not found: install gnuplot-nox; the scripts and data are "
                 "written, run `gnuplot NAME.gp` in the report directory later",
                 name);
        return;
    }
    if (run_in(NULL, p->gnuplot, "-e", "set terminal svg", NULL, NULL) != 0) {
        snprintf(p->why, sizeof p->why, "'%.400s' does not run or has no svg terminal",
                 p->gnuplot);
        return;
    }
    p->available = 1;
    p->pngcairo = run_in(NULL, p->gnuplot, "-e", "set terminal pngcairo", NULL, NULL) == 0;
}

void rep__plotter_release(rep__plotter *p) { rep__sb_release(&p->failures); }

/* The last line(s) of a log, for an error message. */
static void tail_of(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4096];
    size_t got = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz > (long)sizeof buf - 1) fseek(f, sz - (long)sizeof buf + 1, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
        got = fread(buf, 1, sizeof buf - 1, f);
    }
    fclose(f);
    buf[got] = '\0';
    while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' ')) buf[--got] = '\0';
    const char *s = buf;
    if (got > 300) s = buf + got - 300;
    size_t k = 0;
    for (; *s && k + 1 < n; s++) out[k++] = *s == '\n' ? ' ' : *s;
    out[k] = '\0';
}

/* A complete PNG: its signature, and its last chunk is IEND. */
static int png_complete(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    static const unsigned char iend[8] = {'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char head[8], tail[8];
    int ok = fread(head, 1, 8, f) == 8 && memcmp(head, sig, 8) == 0 &&
             fseek(f, -8, SEEK_END) == 0 && fread(tail, 1, 8, f) == 8 &&
             memcmp(tail, iend, 8) == 0;
    fclose(f);
    return ok;
}

/* A complete SVG: it ends with its closing tag. */
static int svg_complete(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char tail[64];
    size_t got = 0;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz > 0 && fseek(f, sz > 63 ? sz - 63 : 0, SEEK_SET) == 0)
            got = fread(tail, 1, sizeof tail - 1, f);
    }
    fclose(f);
    tail[got] = '\0';
    return strstr(tail, "</svg>") != NULL;
}

/* The script of figure name: its images go to `outstem`.png / .svg, NAME
 * unless the caller (the report) points them at temporaries. */
static int write_script(ib_err *e, rep__plotter *p, const char *name, const char *body)
{
    rep__sb s = {0};
    rep__sb_printf(&s,
                   "# %s.gp: written by `harness report`. Edit it and re-run it in this\n"
                   "# directory with `gnuplot %s.gp`: it reads the data file(s) beside it\n"
                   "# and writes %s.png and %s.svg.\n"
                   "if (!exists(\"outstem\")) outstem = '%s'\n",
                   name, name, name, name, name);
    if (p->pngcairo || !p->available)
        rep__sb_printf(&s, "set terminal pngcairo size " PNG_SIZE
                           " noenhanced font 'sans,10'\n");
    else
        rep__sb_printf(&s, "set terminal png size " PNG_SIZE " noenhanced\n");
    rep__sb_printf(&s, "set output outstem.'.png'\nset encoding utf8\n%s\n", body);
    rep__sb_puts(&s, "set terminal svg size " SVG_SIZE " noenhanced font 'sans,10' "
                     "background '#ffffff'\nset output outstem.'.svg'\nreplot\nunset output\n");
    if (s.oom) {
        rep__sb_release(&s);
        return ib_error(e, IB_ENOMEM, "out of memory writing plot '%s'", name);
    }
    char file[512];
    snprintf(file, sizeof file, "%s.gp", name);
    int rc = rep__out_write(e, p->out, file, rep__sb_str(&s));
    rep__sb_release(&s);
    return rc;
}

int rep__plot(ib_err *e, rep__plotter *p, const char *name, const char *body)
{
    int rc = write_script(e, p, name, body);
    if (rc) return rc;
    p->made++;
    if (!p->available) return 0;
    const char *dir = p->out->dir;
    char stem[600], def[700], file[512], png[8192], svg[8192], err[8192];
    rep__out_stem(p->out, name, stem, sizeof stem);
    snprintf(def, sizeof def, "outstem='%s'", stem);
    snprintf(file, sizeof file, "%s.gp", name);
    snprintf(png, sizeof png, "%s/%s.png", dir, stem);
    snprintf(svg, sizeof svg, "%s/%s.svg", dir, stem);
    snprintf(err, sizeof err, "%s/%s.gnuplot.log", dir, stem);
    unlink(png); /* leftovers of this very process: gnuplot must write afresh */
    unlink(svg);
    unlink(err);
    int st = run_in(dir, p->gnuplot, "-e", def, file, err);
    int complete = st == 0 && png_complete(png) && svg_complete(svg);
    char tail[400] = "";
    if (!complete) tail_of(err, tail, sizeof tail);
    unlink(err);
    if (complete) {
        char a[700], b[700];
        snprintf(a, sizeof a, "%s.png", stem);
        snprintf(b, sizeof b, "%s.png", name);
        rc = rep__out_adopt(e, p->out, a, b);
        snprintf(a, sizeof a, "%s.svg", stem);
        snprintf(b, sizeof b, "%s.svg", name);
        if (!rc) rc = rep__out_adopt(e, p->out, a, b);
        else unlink(svg);
        if (rc) return rc;
        p->rendered++;
        return 1;
    }
    unlink(png);
    unlink(svg);
    if (st == 0)
        rep__sb_printf(&p->failures, "%s: gnuplot exited 0 but did not write complete images "
                                     "(%s): the previous images, if any, are kept\n",
                       name, tail[0] ? tail : "no message");
    else if (st == 124)
        rep__sb_printf(&p->failures, "%s: gnuplot ran longer than %.0f s and was killed\n",
                       name, GNUPLOT_TIMEOUT_S);
    else if (st > 128)
        rep__sb_printf(&p->failures, "%s: gnuplot was killed by signal %d\n", name, st - 128);
    else
        rep__sb_printf(&p->failures, "%s: gnuplot exited with status %d: %s\n", name, st,
                       tail[0] ? tail : "no output");
    return 0;
}

/* ---- axes with numbers ------------------------------------------------------ */

const char *const rep__palette[8] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b", "#e377c2", "#17becf"};

const char *rep__phase_colour(const char *p)
{
    static const struct {
        const char *name, *rgb;
    } tab[] = {{"grid", "#1f77b4"},  {"fft", "#ff7f0e"},   {"read", "#2ca02c"},
               {"weight", "#bcbd22"}, {"correct", "#9467bd"}, {"write", "#8c564b"},
               {"comm", "#d62728"},  {"spill", "#000000"}, {"idle", "#c7c7c7"},
               {"kernel", "#17becf"}, {"sched", "#e377c2"}, {"wait", "#dddddd"},
               {"other", "#7f7f7f"},  {"busy", "#1f77b4"},  {"setup", "#ff7f0e"}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (strcmp(tab[i].name, p) == 0) return tab[i].rgb;
    return "#555555";
}

void rep__log_ticks(double lo, double hi, double *v, size_t max, size_t *n)
{
    static const double coarse[] = {1, 2, 5}, fine[] = {1, 1.5, 2, 3, 4, 5, 6, 8};
    *n = 0;
    if (!(lo > 0) || !(hi > lo) || !max) return;
    for (int pass = 0; pass < 2; pass++) {
        const double *m = pass ? fine : coarse;
        size_t nm = pass ? sizeof fine / sizeof *fine : sizeof coarse / sizeof *coarse;
        size_t k = 0;
        for (int d = (int)floor(log10(lo)) - 1; d <= (int)ceil(log10(hi)) && k < max; d++)
            for (size_t q = 0; q < nm && k < max; q++) {
                double t = m[q] * pow(10.0, d);
                if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) v[k++] = t;
            }
        *n = k;
        if (k >= 3) return;
    }
    /* narrower than 1-1.5-2-3-4-5-6-8: plain decimal steps, 3 to 8 of them
     * (the smallest 1-2-5 step that gives at most 8; values computed as
     * i / 10^k so that 3.9 is 3.9, not 39 * 0.1) */
    double span = hi - lo;
    int e10 = (int)floor(log10(span)) - 1;
    static const double mult[] = {1, 2, 5, 10, 20, 50};
    double step = 0, scale = 0;
    for (size_t q = 0; q < sizeof mult / sizeof *mult; q++) {
        step = mult[q] * pow(10.0, e10);
        if (span / step <= 8) break;
    }
    scale = step < 1 ? round(1 / step) : 0;
    size_t k = 0;
    for (double i = ceil(lo / step - 1e-9); k < max; i++) {
        double t = scale > 0 ? i / scale : i * step;
        if (t > hi) break;
        if (t >= lo) v[k++] = t;
    }
    *n = k;
}

void rep__axis(rep__sb *b, const char *axis, double lo, double hi, int log, int from_zero)
{
    if (!isfinite(lo) || !isfinite(hi)) {
        rep__sb_printf(b, "set %srange [0:*]\nset %stics\n", axis, axis);
        return;
    }
    if (hi < lo) {
        double t = hi;
        hi = lo;
        lo = t;
    }
    if (lo > 0 && (log == 2 || (log == 1 && hi / lo > 10))) {
        double pad = log == 2 && hi / lo < 2 ? 1.02 : 1.15, a = lo / pad, z = hi * pad, v[64];
        size_t n;
        rep__log_ticks(a, z, v, 64, &n);
        rep__sb_printf(b, "set logscale %s\nset %srange [%.6g:%.6g]\nset %stics (", axis, axis,
                       a, z, axis);
        for (size_t i = 0; i < n; i++) rep__sb_printf(b, "%s'%g' %.9g", i ? ", " : "", v[i], v[i]);
        rep__sb_puts(b, ")\n");
        return;
    }
    double top = hi > 0 ? hi * 1.12 : 1;
    double bottom = from_zero || lo >= 0 ? 0 : lo * 1.12;
    if (!from_zero && lo > 0) bottom = lo - 0.12 * (hi - lo > 0 ? hi - lo : hi);
    if (bottom < 0 && lo >= 0) bottom = 0;
    if (top <= bottom) top = bottom + 1;
    rep__sb_printf(b, "unset logscale %s\nset %srange [%.6g:%.6g]\nset %stics\n", axis, axis,
                   bottom, top, axis);
}
