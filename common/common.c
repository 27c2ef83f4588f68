/*
 * common.c: error values, checked arithmetic and allocation, clocks and the
 * counter-based random generator shared by all modules.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

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
