/*
 * sysmsg.c: the messages of failures the system reports, with the reason
 * and the sizes that let a user act on them.
 */
#define _GNU_SOURCE
#include "common/common.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int ib_thread_error(ib_err *e, int err, const char *what, int i, int n)
{
    char lim[160] = "";
    struct rlimit rl;
    size_t stack = 0;
    pthread_attr_t a;
    if (pthread_attr_init(&a) == 0) {
        (void)pthread_attr_getstacksize(&a, &stack);
        pthread_attr_destroy(&a);
    }
    if (err == EAGAIN && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        snprintf(lim, sizeof lim, "; processes and threads of this user are limited to %llu "
                 "(ulimit -u)", (unsigned long long)rl.rlim_cur);
    return ib_error(e, err == EAGAIN || err == ENOMEM ? IB_ENOMEM : IB_EIO,
                    "cannot start %s %d of %d: %s (each thread reserves a %.1f MiB stack%s)",
                    what, i, n, strerror(err), (double)stack / 1048576.0, lim);
}

int ib_fail_thread(int i)
{
    const char *s = getenv("IMBENCH_FAIL_THREAD");
    return s && *s && atoi(s) == i + 1;
}

int ib_nomem(ib_err *e, const char *what, double bytes)
{
    long pages = sysconf(_SC_AVPHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    char avail[96] = "", asked[48];
    if (pages > 0 && psize > 0)
        snprintf(avail, sizeof avail, "; %.0f MB of memory free", (double)pages * (double)psize / 1e6);
    if (bytes < 1e6) snprintf(asked, sizeof asked, "%.0f bytes", bytes);
    else snprintf(asked, sizeof asked, "%.1f MB", bytes / 1e6);
    return ib_error(e, IB_ENOMEM, "out of memory %s (%s asked for%s)", what, asked, avail);
}
