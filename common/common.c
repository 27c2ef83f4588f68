/*
 * common.c: error values, checked arithmetic and allocation, clocks and the
 * counter-based random generator shared by all modules.
 */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *ib_err_name(int code)
{
    switch (code) {
    case IB_OK: return "IB_OK";
#define IB_ERR_NAME(name, val, text) case val: return "IB_E" #name;
    IB_ERRNO_MAP(IB_ERR_NAME)
#undef IB_ERR_NAME
    default: return "unknown";
    }
}

const char *ib_strerror(int code)
{
    switch (code) {
    case IB_OK: return "success";
#define IB_ERR_TEXT(name, val, text) case val: return text;
    IB_ERRNO_MAP(IB_ERR_TEXT)
#undef IB_ERR_TEXT
    default: return "unknown error";
    }
}

void ib_err_init(ib_err *e)
{
    e->code = 0;
    e->msg[0] = '\0';
}

int ib_verror(ib_err *e, int code, const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

/* The name in parentheses: not the analyzer's macro of the same name. */
int (ib_error)(ib_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ib_verror(e, code, fmt, ap);
    va_end(ap);
    return code;
}

int ib_error_wrap(ib_err *e, const char *fmt, ...)
{
    if (!e) return IB_EINVAL;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t lp = strlen(prefix), lo = strlen(old);
    if (lp + 2 >= sizeof e->msg) lp = sizeof e->msg - 3;
    memcpy(e->msg, prefix, lp);
    memcpy(e->msg + lp, ": ", 2);
    size_t room = sizeof e->msg - lp - 3;
    if (lo > room) lo = room;
    memcpy(e->msg + lp + 2, old, lo);
    e->msg[lp + 2 + lo] = '\0';
    return e->code ? e->code : IB_EINVAL;
}

_Noreturn void ib_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "imbench: internal error: assertion '%s' failed at %s:%d\n",
            what, file, line);
    abort();
}

int ib_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a) return IB_EOVERFLOW;
    *out = a * b;
    return 0;
}

int ib_mul3_size(size_t a, size_t b, size_t c, size_t *out)
{
    size_t t;
    if (ib_mul_size(a, b, &t)) return IB_EOVERFLOW;
    return ib_mul_size(t, c, out);
}

/* Fault injection: IMBENCH_FAIL_ALLOC=N fails the Nth allocation (1-based). */
static atomic_long alloc_count;
static long alloc_fail_at = -1;

static int alloc_should_fail(void)
{
    if (alloc_fail_at < 0) {
        const char *s = getenv("IMBENCH_FAIL_ALLOC");
        alloc_fail_at = s ? atol(s) : 0;
    }
    if (alloc_fail_at <= 0) return 0;
    return atomic_fetch_add(&alloc_count, 1) + 1 == alloc_fail_at;
}

void *ib_malloc(size_t n)
{
    if (alloc_should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *ib_calloc(size_t n, size_t size)
{
    if (alloc_should_fail()) return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *ib_aligned_alloc(size_t n)
{
    if (alloc_should_fail()) return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64)) return NULL;
    return p;
}

void ib_free(void *p) { free(p); }

void *ib_alloc_huge(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < 2 * huge) return ib_aligned_alloc(n);
    if (alloc_should_fail() || n > SIZE_MAX - huge) return NULL;
    size_t m = (n + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, m)) return NULL;
    (void)madvise(p, m, MADV_HUGEPAGE); /* a hint: without it, ordinary pages */
    return p;
}

char *ib_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ib_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int ib_mkdir_p(ib_err *e, const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof buf)
        return ib_error(e, IB_EINVAL, "directory name '%s' is empty or too long", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return ib_error(e, IB_EIO, "cannot create directory '%s': %s", buf,
                                strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ib_error(e, IB_EIO, "'%s' is not a directory", dir);
    return 0;
}

int ib_path_join(ib_err *e, char *out, size_t n, const char *a, const char *b)
{
    size_t la = strlen(a);
    int r = snprintf(out, n, "%s%s%s", a, (la && a[la - 1] == '/') ? "" : "/", b);
    if (r < 0 || (size_t)r >= n)
        return ib_error(e, IB_EOVERFLOW, "path '%s/%s' is too long", a, b);
    return 0;
}

int ib_path_fmt(ib_err *e, char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (r >= 0 && (size_t)r < n) return 0;
    /* say what the path was going to be, without its (long) middle */
    char start[160];
    size_t keep = n < sizeof start ? n : sizeof start;
    snprintf(start, keep, "%s", out);
    if (n) out[0] = '\0';
    if (r < 0) return ib_error(e, IB_EOVERFLOW, "path '%s...' cannot be formatted", start);
    return ib_error(e, IB_EOVERFLOW, "path '%s...' is too long (%d bytes, limit %zu)", start, r,
                    n ? n - 1 : 0);
}

/* Remove what the open directory fd (taken: closed here) holds, depth
 * first; path names it in messages. Never leaves dev (the file system of
 * the top directory) and never follows a symbolic link. */
static int rm_children(ib_err *e, int fd, const char *path, dev_t dev, int depth)
{
    if (depth > 128) {
        close(fd);
        return ib_error(e, IB_EIO, "cannot remove '%s': directories nested too deep", path);
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        int err = errno;
        close(fd);
        return ib_error(e, IB_EIO, "cannot read directory '%s': %s", path, strerror(err));
    }
    int r = 0;
    struct dirent *de;
    while (!r && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            r = ib_error(e, IB_EIO, "cannot remove '%s/%s': %s", path, name, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                r = ib_error(e, IB_EIO, "'%s/%s' is on another file system: not removed", path,
                             name);
                break;
            }
            int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char *child = NULL;
            if (sub < 0) {
                r = ib_error(e, IB_EIO, "cannot open '%s/%s': %s", path, name, strerror(errno));
            } else if (asprintf(&child, "%s/%s", path, name) < 0) {
                close(sub);
                r = ib_error(e, IB_ENOMEM, "out of memory removing '%s'", path);
            } else {
                r = rm_children(e, sub, child, dev, depth + 1);
                free(child);
            }
            if (!r && unlinkat(dirfd(d), name, AT_REMOVEDIR) != 0 && errno != ENOENT)
                r = ib_error(e, IB_EIO, "cannot remove '%s/%s': %s", path, name, strerror(errno));
        } else if (unlinkat(dirfd(d), name, 0) != 0 && errno != ENOENT) {
            r = ib_error(e, IB_EIO, "cannot remove '%s/%s': %s", path, name, strerror(errno));
        }
    }
    closedir(d);
    return r;
}

/* Remove the directory (or file) path; owned: only a directory holding
 * IB_OWNED_MARKER. */
static int rm_tree(ib_err *e, const char *path, int owned)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return ib_error(e, IB_EIO, "cannot remove '%s': %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        if (owned)
            return ib_error(e, IB_EINVAL, "'%s' is not a directory created by imbench: not "
                                          "removed", path);
        if (unlink(path) != 0 && errno != ENOENT)
            return ib_error(e, IB_EIO, "cannot remove '%s': %s", path, strerror(errno));
        return 0;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ib_error(e, IB_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat m;
    if (owned && (fstatat(fd, IB_OWNED_MARKER, &m, AT_SYMLINK_NOFOLLOW) != 0 ||
                  !S_ISREG(m.st_mode))) {
        close(fd);
        return ib_error(e, IB_EINVAL, "directory '%s' was not created by imbench (it has no "
                                      "%s): not removed", path, IB_OWNED_MARKER);
    }
    int r = rm_children(e, fd, path, st.st_dev, 0);
    if (!r && rmdir(path) != 0 && errno != ENOENT)
        r = ib_error(e, IB_EIO, "cannot remove '%s': %s", path, strerror(errno));
    return r;
}

int ib_rm_rf(ib_err *e, const char *path) { return rm_tree(e, path, 0); }

int ib_rm_rf_owned(ib_err *e, const char *dir) { return rm_tree(e, dir, 1); }

int ib_mkdir_owned(ib_err *e, const char *dir)
{
    char parent[4096], marker[4200];
    int r = ib_path_fmt(e, parent, sizeof parent, "%s", dir);
    if (r) return r;
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        r = ib_mkdir_p(e, parent);
        if (r) return r;
    }
    r = ib_path_fmt(e, marker, sizeof marker, "%s/%s", dir, IB_OWNED_MARKER);
    if (r) return r;
    if (mkdir(dir, 0777) != 0) {
        if (errno == EEXIST)
            return ib_error(e, IB_EIO, "directory '%s' already exists", dir);
        return ib_error(e, IB_EIO, "cannot create directory '%s': %s", dir, strerror(errno));
    }
    int fd = open(marker, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = errno;
        rmdir(dir);
        return ib_error(e, IB_EIO, "cannot create '%s': %s", marker, strerror(err));
    }
    close(fd);
    return 0;
}

static double ts_sec(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ib_now(void) { return ts_sec(CLOCK_MONOTONIC); }
double ib_cpu_process(void) { return ts_sec(CLOCK_PROCESS_CPUTIME_ID); }
double ib_cpu_thread(void) { return ts_sec(CLOCK_THREAD_CPUTIME_ID); }

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ib_hash4(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    return mix64(mix64(mix64(mix64(seed) ^ a) ^ b) ^ c);
}

double ib_uniform(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

double ib_gauss(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h1 = ib_hash4(seed, a, b, c);
    uint64_t h2 = mix64(h1 ^ 0x5851f42d4c957f2dULL);
    double u1 = ib_uniform(h1), u2 = ib_uniform(h2);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ib_median(double *x, size_t n)
{
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, cmp_dbl);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}
