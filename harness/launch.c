/*
 * launch.c: running a child (the imager, mpirun, `harness gen`) with
 * fork/exec in its own process group, a wall-time limit, the tail of its
 * stderr kept in memory, and SIGINT/SIGTERM of the harness turned into a
 * clean kill of the child's group.
 *
 * The one piece of mutable static state in the harness lives here: the
 * flag the signal handler sets. A handler can only talk to the program
 * through such a variable (volatile sig_atomic_t), so it cannot be a
 * context argument as everything else is.
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

void hx_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    interrupted = 0;
}

void hx_signals_restore(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

int hx_interrupted(void) { return interrupted != 0; }

int hx_which(const char *name, char *out, size_t n)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) return IB_ENOTFOUND;
        return ib_path_fmt(NULL, out, n, "%s", name) ? IB_ENOTFOUND : 0;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t len = strcspn(path, ":");
        char cand[4096];
        if (len > 0 && ib_path_fmt(NULL, cand, sizeof cand, "%.*s/%s", (int)len, path, name) == 0 &&
            access(cand, X_OK) == 0)
            return ib_path_fmt(NULL, out, n, "%s", cand) ? IB_ENOTFOUND : 0;
        path += len;
        if (*path == ':') path++;
    }
    return IB_ENOTFOUND;
}

/* Keep the last HX_TAIL_BYTES of the stream in r->tail. */
typedef struct tailbuf {
    char buf[2 * HX_TAIL_BYTES];
    size_t len;
    int cut;
} tailbuf;

static void tail_add(tailbuf *t, const char *p, size_t n)
{
    if (n >= HX_TAIL_BYTES) {
        p += n - HX_TAIL_BYTES;
        n = HX_TAIL_BYTES;
        t->cut = 1;
        t->len = 0;
    }
    if (t->len + n > sizeof t->buf) {
        size_t drop = t->len + n - HX_TAIL_BYTES;
        memmove(t->buf, t->buf + drop, t->len - drop);
        t->len -= drop;
        t->cut = 1;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static void tail_finish(tailbuf *t, char *out, size_t n)
{
    size_t len = t->len, off = 0;
    if (len > HX_TAIL_BYTES) {
        off = len - HX_TAIL_BYTES;
        len = HX_TAIL_BYTES;
        t->cut = 1;
    }
    snprintf(out, n, "%s%.*s", t->cut ? "..." : "", (int)len, t->buf + off);
}

static void kill_group(pid_t pid, int sig)
{
    if (kill(-pid, sig) != 0) kill(pid, sig);
}

/* Child side: never returns. */
static void child(char *const argv[], const char *out_path, int errfd, pid_t parent)
{
    setpgid(0, 0);
    /* If the harness dies (even by SIGKILL) the child gets SIGTERM, so no
     * orphan keeps writing into an attempt directory; mpirun passes it on
     * to its ranks. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL); /* main ignores it; exec keeps ignored signals */
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0) {
        dprintf(errfd, "harness: cannot open '%s' for the child's output: %s\n",
                out_path ? out_path : "/dev/null", strerror(errno));
        _exit(127);
    }
    dup2(in, 0);
    dup2(out, 1);
    dup2(errfd, 2);
    if (in > 2) close(in);
    if (out > 2) close(out);
    if (errfd > 2) close(errfd);
    execvp(argv[0], argv);
    dprintf(2, "harness: cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
}

int hx_run_process(ib_err *e, char *const argv[], const char *out_path, const char *err_path,
                   double timeout_s, void (*tick)(void *ctx, double elapsed), void *ctx,
                   hx_proc *res)
{
    memset(res, 0, sizeof *res);
    res->exit_code = -1;
    int errfile = -1;
    if (err_path) {
        errfile = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (errfile < 0)
            return ib_error(e, IB_EIO, "cannot create '%s': %s", err_path, strerror(errno));
    }
    /* The stderr tail is how a failure is explained: no child without it. */
    tailbuf *tb = ib_calloc(1, sizeof *tb);
    if (!tb) {
        if (errfile >= 0) close(errfile);
        return ib_error(e, IB_ENOMEM, "out of memory starting '%s'", argv[0]);
    }
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) {
        if (errfile >= 0) close(errfile);
        ib_free(tb);
        return ib_error(e, IB_ECHILD, "cannot make a pipe for '%s': %s", argv[0],
                        strerror(errno));
    }
    double t0 = ib_now();
    fflush(NULL);
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fd[0]);
        close(fd[1]);
        if (errfile >= 0) close(errfile);
        ib_free(tb);
        return ib_error(e, IB_ECHILD, "cannot start '%s': fork: %s", argv[0], strerror(err));
    }
    if (pid == 0) {
        close(fd[0]);
        child(argv, out_path, fd[1], self); /* dup2 onto 2 drops close-on-exec */
    }
    setpgid(pid, pid); /* also done by the child; whichever runs first */
    close(fd[1]);
    fcntl(fd[0], F_SETFL, fcntl(fd[0], F_GETFL) | O_NONBLOCK);

    int pipe_open = 1, exited = 0, status = 0;
    double killed_at = 0, exited_at = 0, last_tick = t0;
    enum hx_end why = HX_EXITED;
    for (;;) {
        double now = ib_now();
        if (!killed_at) {
            if (timeout_s > 0 && now - t0 > timeout_s) why = HX_TIMED_OUT;
            else if (hx_interrupted()) why = HX_INTERRUPTED;
            if (why != HX_EXITED) {
                kill_group(pid, SIGTERM);
                killed_at = now;
            }
        } else if (now - killed_at > 2.0) {
            kill_group(pid, SIGKILL);
        }
        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                exited = 1;
                exited_at = now;
                if (killed_at) kill_group(pid, SIGKILL); /* stragglers of the group */
            }
        }
        /* Grandchildren may keep the pipe open after the child exits:
         * wait for them a short while only. */
        if (exited && (!pipe_open || now - exited_at > 0.5)) break;
        if (tick && now - last_tick >= 0.5) {
            tick(ctx, now - t0);
            last_tick = now;
        }
        if (pipe_open) {
            struct pollfd pfd = {.fd = fd[0], .events = POLLIN};
            int pr = poll(&pfd, 1, 100);
            if (pr > 0) {
                char buf[8192];
                ssize_t k = read(fd[0], buf, sizeof buf);
                if (k > 0) {
                    tail_add(tb, buf, (size_t)k);
                    if (errfile >= 0 && write(errfile, buf, (size_t)k) < 0) {
                        close(errfile);
                        errfile = -1;
                    }
                } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
                    pipe_open = 0;
                }
            }
        } else {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    close(fd[0]);
    if (errfile >= 0) close(errfile);
    res->wall_s = (exited_at > 0 ? exited_at : ib_now()) - t0;
    tail_finish(tb, res->tail, sizeof res->tail);
    ib_free(tb);
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
        res->end = HX_EXITED;
    } else if (WIFSIGNALED(status)) {
        res->signal = WTERMSIG(status);
        res->exit_code = 128 + res->signal;
        res->end = HX_SIGNALED;
    }
    if (why != HX_EXITED) res->end = why;
    return 0;
}
