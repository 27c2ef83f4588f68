/*
 * tmpfiles.c: the temporaries a process owns. Output is written under a
 * temporary name (or into a fresh directory) and renamed into place; what
 * is not renamed must not outlive the process. On the exit paths a
 * process controls its code removes them; for SIGINT, SIGTERM and SIGHUP
 * (a timeout of the harness, mpirun passing on a kill, a closed terminal)
 * the registry below removes them from the signal handler; after SIGKILL
 * the next run of the same output finds them unlocked and removes them
 * (ib_create_excl, ib_run_dir_create).
 *
 * The handler may only make async-signal-safe calls: unlink, unlinkat,
 * openat, close, getdents64, signal, raise. The registry is a fixed table
 * of slots whose state is atomic, so a handler that runs while a slot is
 * being filled sees it either empty or whole.
 */
#define _GNU_SOURCE
#include "common/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { TMP_SLOTS = 64, TMP_PATH = 4096 };

typedef struct tmp_slot {
    atomic_int state; /* 0 free, 1 being filled, 2 registered */
    int kind;
    char path[TMP_PATH];
} tmp_slot;

static tmp_slot slots[TMP_SLOTS];

int ib_tmp_add(const char *path, int kind)
{
    size_t n = strlen(path);
    if (n == 0 || n >= TMP_PATH) return -1;
    for (int i = 0; i < TMP_SLOTS; i++) {
        int expect = 0;
        if (!atomic_compare_exchange_strong(&slots[i].state, &expect, 1)) continue;
        memcpy(slots[i].path, path, n + 1);
        slots[i].kind = kind;
        atomic_store(&slots[i].state, 2);
        return i;
    }
    return -1;
}

void ib_tmp_drop(int slot)
{
    if (slot >= 0 && slot < TMP_SLOTS) atomic_store(&slots[slot].state, 0);
}

/* getdents64's record (the libc wrapper is not async-signal-safe). */
struct ib_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Remove name (relative to dfd) and, when it is a directory, everything
 * under it, never following a symbolic link. Async-signal-safe. */
static void rm_tree_at(int dfd, const char *name, int depth)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT) return;
    if (depth > 24) return;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    /* Entries removed while the directory is read may make getdents skip
     * some: read it again until a pass finds nothing left. */
    for (int pass = 0; pass < 8; pass++) {
        int seen = 0;
        if (lseek(fd, 0, SEEK_SET) != 0) break;
        for (;;) {
            char buf[1024] __attribute__((aligned(8)));
            long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
            if (n <= 0) break;
            for (long off = 0; off < n;) {
                struct ib_dirent64 *d = (struct ib_dirent64 *)(void *)(buf + off);
                off += d->d_reclen;
                if (d->d_name[0] == '.' &&
                    (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
                    continue;
                seen = 1;
                rm_tree_at(fd, d->d_name, depth + 1);
            }
        }
        if (!seen) break;
    }
    close(fd);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

void ib_tmp_remove_all(void)
{
    for (int i = TMP_SLOTS - 1; i >= 0; i--) {
        if (atomic_load(&slots[i].state) != 2) continue;
        const char *p = slots[i].path;
        switch (slots[i].kind) {
        case IB_TMP_FILE: unlink(p); break;
        case IB_TMP_EMPTY_DIR: rmdir(p); break;
        default: rm_tree_at(AT_FDCWD, p, 0); break;
        }
        atomic_store(&slots[i].state, 0);
    }
}

static void on_fatal_signal(int sig)
{
    ib_tmp_remove_all();
    signal(sig, SIG_DFL);
    raise(sig);
}

void ib_tmp_on_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        /* a signal the parent set to be ignored stays ignored (nohup) */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

/* ---- exclusive creation, and what a killed run left ------------------- */

/* fd (open on path) is a temporary a killed process of ours left: a
 * regular file of this user that nobody holds locked, still the file at
 * path, that ours() accepts. It is left locked by us on 1. */
static int stale_and_ours(int fd, const char *path, int (*ours)(int fd))
{
    struct stat st, now;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) return errno == EWOULDBLOCK ? -1 : 0; /* in use */
    if (lstat(path, &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) return 0;
    return !ours || ours(fd) ? 1 : 0;
}

int ib_remove_stale(const char *path, int (*ours)(int fd))
{
    int old = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (old < 0) return 0;
    int st = stale_and_ours(old, path, ours);
    if (st == 1 && unlink(path) != 0) st = 0;
    close(old);
    return st;
}

/* The file made and registered with no signal in between (blocked in
 * this thread), so a signal never leaves it unregistered. */
static int open_registered(const char *path, int mode, int *slot)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    int err = errno;
    if (fd >= 0 && slot) *slot = ib_tmp_add(path, IB_TMP_FILE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return fd;
}

int ib_create_excl(ib_err *e, const char *what, const char *path, int mode, int (*ours)(int fd),
                   int *fdp, int *slot)
{
    *fdp = -1;
    if (slot) *slot = -1;
    for (int tries = 0; tries < 2; tries++) {
        int fd = open_registered(path, mode, slot);
        if (fd >= 0) {
            /* held while fd is open: the next run knows the file is in use.
             * A file system without locks (some NFS mounts) leaves it
             * unlocked; nobody can then prove it stale, so nobody removes it. */
            if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno != ENOLCK && errno != EOPNOTSUPP &&
                errno != EINVAL) {
                int err = errno;
                close(fd);
                unlink(path);
                if (slot) ib_tmp_drop(*slot);
                return ib_error(e, IB_EIO, "%s '%s': cannot lock: %s", what, path, strerror(err));
            }
            *fdp = fd;
            return 0;
        }
        int err = errno;
        if (err != EEXIST || tries > 0)
            return ib_error(e, err == ENOSPC || err == EDQUOT ? IB_ENOSPACE : IB_EIO,
                            "%s '%s': cannot create: %s", what, path,
                            err == ELOOP ? "it is a symbolic link (not followed)"
                                         : strerror(err));
        int st = ib_remove_stale(path, ours);
        if (st < 0)
            return ib_error(e, IB_ELOCKED,
                            "%s '%s' is being written by another process now (it holds the "
                            "file's lock): use another output", what, path);
        if (st == 0)
            return ib_error(e, IB_EIO,
                            "%s '%s' exists and is not a temporary an earlier run of ours "
                            "left (a symbolic link, another user's or another kind of file): "
                            "not removed; remove it or use another output", what, path);
    }
    return ib_error(e, IB_EIO, "%s '%s': cannot create", what, path);
}

/*
 * A run directory: DIR/PREFIX-XXXXXX made by mkdtemp (0700, a name nobody
 * can predict), holding .lock (flock'ed while the run lives) and then the
 * marker IB_OWNED_MARKER. Directories of the same prefix whose lock is free
 * and that have the marker were left by a killed run: removed first.
 */
int ib_run_dir_create(ib_err *e, const char *parent, const char *prefix, char *out, size_t n,
                      int *lockfd)
{
    *lockfd = -1;
    out[0] = '\0';
    size_t plen = strlen(prefix);
    DIR *d = opendir(parent);
    while (d) {
        struct dirent *de = readdir(d);
        if (!de) break;
        if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] != '-') continue;
        char dir[TMP_PATH], lock[TMP_PATH + 16], marker[TMP_PATH + 32];
        if (ib_path_join(NULL, dir, sizeof dir, parent, de->d_name) ||
            ib_path_join(NULL, lock, sizeof lock, dir, ".lock") ||
            ib_path_join(NULL, marker, sizeof marker, dir, IB_OWNED_MARKER))
            continue;
        struct stat st;
        if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) continue;
        int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        /* the lock is taken before the marker is made: free lock and a
         * marker mean the run that made it is gone */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && lstat(marker, &st) == 0 && S_ISREG(st.st_mode))
            ib_rm_rf(NULL, dir);
        close(fd);
    }
    if (d) closedir(d);
    int r = ib_path_fmt(e, out, n, "%s/%s-XXXXXX", parent, prefix);
    if (r) return r;
    if (!mkdtemp(out)) {
        int err = errno;
        r = ib_error(e, err == ENOSPC || err == EDQUOT ? IB_ENOSPACE : IB_EIO,
                     "cannot create a directory in '%s': %s", parent, strerror(err));
        out[0] = '\0';
        return r;
    }
    char lock[TMP_PATH + 16], marker[TMP_PATH + 32];
    r = ib_path_join(e, lock, sizeof lock, out, ".lock");
    if (!r) r = ib_path_join(e, marker, sizeof marker, out, IB_OWNED_MARKER);
    int fd = r ? -1 : open(lock, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (!r && fd < 0)
        r = ib_error(e, IB_EIO, "'%s': cannot create: %s", lock, strerror(errno));
    if (!r && flock(fd, LOCK_EX) != 0 && errno != ENOLCK && errno != EOPNOTSUPP && errno != EINVAL)
        r = ib_error(e, IB_EIO, "'%s': cannot lock: %s", lock, strerror(errno));
    if (!r) {
        int m = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (m < 0) r = ib_error(e, IB_EIO, "'%s': cannot create: %s", marker, strerror(errno));
        else close(m);
    }
    if (r) {
        if (fd >= 0) close(fd);
        ib_rm_rf(NULL, out);
        out[0] = '\0';
        return r;
    }
    *lockfd = fd;
    return 0;
}
