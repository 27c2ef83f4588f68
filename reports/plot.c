/*
 * plot.c: drives gnuplot from C. Each figure is a script NAME.gp written
 * beside its data files in the report directory, so a user can edit and
 * re-run it (`gnuplot NAME.gp`); it draws the figure once on the PNG
 * terminal (pngcairo, or png when gnuplot lacks cairo) and replots it on
 * the SVG terminal. gnuplot runs by fork/exec in that directory with a
 * bounded wall time, and its exit status and outputs are checked.
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <fcntl.h>
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
 * Run prog with args in dir, stdin from /dev/null, stdout and stderr to
 * errpath (or /dev/null). Returns the exit status, 128+signal, 124 on
 * timeout, or -1 when it could not be started.
 */
static int run_in(const char *dir, const char *prog, const char *a1, const char *a2,
                  const char *errpath)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir) != 0) _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = errpath ? open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                          : open("/dev/null", O_WRONLY);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        setpgid(0, 0);
        execl(prog, prog, a1, a2, (char *)NULL);
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

void rep__plotter_init(rep__plotter *p, const char *dir, const char *program)
{
    memset(p, 0, sizeof *p);
    if (ib_path_fmt(NULL, p->dir, sizeof p->dir, "%s", dir)) {
        snprintf(p->why, sizeof p->why, "output directory '%.200s...' is too long", dir);
        return;
    }
    const char *name = program && *program ? program : "gnuplot";
    if (find_program(name, p->gnuplot, sizeof p->gnuplot) != 0) {
        snprintf(p->why, sizeof p->why,
                 "gnuplot ('%s') not found: install gnuplot-nox; the scripts and data are "
                 "written, run `gnuplot NAME.gp` in the report directory later",
                 name);
        return;
    }
    if (run_in(NULL, p->gnuplot, "-e", "set terminal svg", NULL) != 0) {
        snprintf(p->why, sizeof p->why, "'%.400s' does not run or has no svg terminal",
                 p->gnuplot);
        return;
    }
    p->available = 1;
    p->pngcairo = run_in(NULL, p->gnuplot, "-e", "set terminal pngcairo", NULL) == 0;
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

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

int rep__plot(ib_err *e, rep__plotter *p, const char *name, const char *body)
{
    rep__sb s = {0};
    rep__sb_printf(&s,
                   "# %s.gp: written by `harness report`. Edit it and re-run it in this\n"
                   "# directory with `gnuplot %s.gp`: it reads the data file(s) beside it\n"
                   "# and writes %s.png and %s.svg.\n",
                   name, name, name, name);
    if (p->pngcairo || !p->available)
        rep__sb_printf(&s, "set terminal pngcairo size " PNG_SIZE
                           " noenhanced font 'sans,10'\n");
    else
        rep__sb_printf(&s, "set terminal png size " PNG_SIZE " noenhanced\n");
    rep__sb_printf(&s, "set output '%s.png'\nset encoding utf8\n%s\n", name, body);
    rep__sb_printf(&s,
                   "set terminal svg size " SVG_SIZE " noenhanced font 'sans,10' "
                   "background '#ffffff'\nset output '%s.svg'\nreplot\nunset output\n",
                   name);
    if (s.oom) {
        rep__sb_release(&s);
        return ib_error(e, IB_ENOMEM, "out of memory writing plot '%s'", name);
    }
    char file[512];
    if (!p->dir[0] || ib_path_fmt(e, file, sizeof file, "%s.gp", name)) {
        rep__sb_release(&s);
        return p->dir[0] ? e->code : ib_error(e, IB_EOVERFLOW, "plot '%s': %s", name, p->why);
    }
    int rc = rep__write_file(e, p->dir, file, rep__sb_str(&s));
    rep__sb_release(&s);
    if (rc) return rc;
    p->made++;
    if (!p->available) return 0;

    char png[8192], svg[8192], err[8192];
    if (ib_path_fmt(e, png, sizeof png, "%s/%s.png", p->dir, name) ||
        ib_path_fmt(e, svg, sizeof svg, "%s/%s.svg", p->dir, name) ||
        ib_path_fmt(e, err, sizeof err, "%s/%s.gnuplot.log", p->dir, name))
        return e->code;
    unlink(png);
    unlink(svg);
    int st = run_in(p->dir, p->gnuplot, file, NULL, err);
    if (st == 0 && file_size(png) > 0 && file_size(svg) > 0) {
        unlink(err);
        p->rendered++;
        return 1;
    }
    char tail[400];
    tail_of(err, tail, sizeof tail);
    if (st == 0)
        rep__sb_printf(&p->failures, "%s: gnuplot exited 0 but did not write %s.png and "
                                     "%s.svg: %s\n", name, name, name, tail);
    else if (st == 124)
        rep__sb_printf(&p->failures, "%s: gnuplot ran longer than %.0f s and was killed\n",
                       name, GNUPLOT_TIMEOUT_S);
    else
        rep__sb_printf(&p->failures, "%s: gnuplot exited with status %d: %s (log %s)\n",
                       name, st, tail[0] ? tail : "no output", err);
    return 0;
}
