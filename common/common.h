/*
 * common: the small layer every imbench module stands on — error codes and
 * error messages as values, checked size arithmetic, checked allocation and
 * a few file helpers, option tables, the small parsers every module shares
 * (numbers, byte counts, image sizes) and the messages of YAML readers.
 * Prefix ib_. Depends on libc (and, in yaml.c only, libyaml). The cell
 * parameter table is common/params.h.
 */
#ifndef IB_COMMON_H
#define IB_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* One table generates the enum, ib_err_name() and ib_strerror(). */
#define IB_ERRNO_MAP(X)                                         \
    X(NOMEM, -1, "out of memory")                               \
    X(IO, -2, "input/output error")                             \
    X(PARSE, -3, "parse error")                                 \
    X(INVAL, -4, "invalid argument")                            \
    X(CORRUPT, -5, "corrupt or inconsistent data")              \
    X(NOTFOUND, -6, "not found")                                \
    X(NOSPACE, -7, "no space left on device")                   \
    X(OVERFLOW, -8, "size overflow")                            \
    X(TIMEOUT, -9, "timed out")                                 \
    X(MPI, -10, "MPI failure")                                  \
    X(LOCKED, -11, "resource locked")                           \
    X(UNSUPPORTED, -12, "unsupported")                          \
    X(CHILD, -13, "child process failed")                       \
    X(INTERRUPTED, -14, "interrupted")

enum ib_errno {
    IB_OK = 0,
#define IB_ERR_ENUM(name, val, text) IB_E##name = (val),
    IB_ERRNO_MAP(IB_ERR_ENUM)
#undef IB_ERR_ENUM
};

/* Symbolic name ("IB_EIO") and text of an error code; "unknown" otherwise. */
const char *ib_err_name(int code);
const char *ib_strerror(int code);

/*
 * Error context: the detailed message (file, field, value) of the last
 * failure. Owned by the caller, usually on the stack of main or a thread.
 */
typedef struct ib_err {
    int code;
    char msg[1536];
} ib_err;

void ib_err_init(ib_err *e);

/*
 * Record code and a formatted message in e (e may be NULL) and return code.
 * Library code writes `return ib_error(e, IB_EIO, "file '%s': ...", f);`.
 * Messages are lowercase, no final period, and quote their subject.
 */
int ib_error(ib_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int ib_verror(ib_err *e, int code, const char *fmt, va_list ap);
#ifdef __clang_analyzer__
/* For clang's static analyzer (make analyze), which reads one file at a
 * time and would take ib_error's result for any int: it is code, so that
 * `if (!p) return ib_error(e, IB_ENOMEM, ...)` is a failure path, not one
 * on which the caller may get 0 and carry on with p NULL. */
#define ib_error(e, code, ...) ((void)ib_error(e, code, __VA_ARGS__), (code))
#endif

/* Prefix the existing message with "context: " (keeps the code). */
int ib_error_wrap(ib_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Broken invariant: print file:line and abort. Never for bad input. */
#define IB_ASSERT(cond)                                                     \
    do {                                                                    \
        if (!(cond)) ib_assert_fail(#cond, __FILE__, __LINE__);             \
    } while (0)
_Noreturn void ib_assert_fail(const char *what, const char *file, int line);

/* Checked size arithmetic: return 0 and set *out, or IB_EOVERFLOW. */
int ib_mul_size(size_t a, size_t b, size_t *out);
int ib_mul3_size(size_t a, size_t b, size_t c, size_t *out);

/*
 * Allocation. ib_malloc/ib_calloc return NULL on failure (callers report
 * IB_ENOMEM). A test hook can make the Nth allocation fail
 * (IMBENCH_FAIL_ALLOC=N in the environment) so every path that allocates
 * is exercised for its error handling. Memory from ib_aligned_alloc is
 * 64-byte aligned and released with ib_free.
 */
void *ib_malloc(size_t n);
void *ib_calloc(size_t n, size_t size);
void *ib_aligned_alloc(size_t n);
void ib_free(void *p);
/* A large buffer (>= 4 MiB) on transparent huge pages where the kernel
 * offers them: 2 MiB-aligned, its size rounded up to 2 MiB, one page fault
 * per 2 MiB instead of per 4 KiB (on a virtual machine a fault costs tens
 * of microseconds). Smaller ones are ib_aligned_alloc's. 64-byte aligned
 * either way (fit for FFTW's SIMD); released with ib_free. */
void *ib_alloc_huge(size_t n);

/* strdup that reports failure as NULL. */
char *ib_strdup(const char *s);

/* Create dir and its parents (like mkdir -p); 0 or IB_EIO with message. */
int ib_mkdir_p(ib_err *e, const char *dir);

/* Join a and b with one '/': writes into out (size n), IB_EOVERFLOW if long. */
int ib_path_join(ib_err *e, char *out, size_t n, const char *a, const char *b);

/*
 * Format a path into out (size n) as snprintf does, but never cut it: a
 * path that does not fit is IB_EOVERFLOW with "path 'START...' is too long
 * (L bytes, limit N)" and out is "". Every path built into a fixed buffer
 * goes through this (or ib_path_join), so a long --out-dir is an error,
 * never a shorter path that names somebody else's directory.
 */
int ib_path_fmt(ib_err *e, char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Directories a program owns. ib_mkdir_owned creates dir (its parents as
 * ib_mkdir_p does) and the marker file IB_OWNED_MARKER in it; dir must not
 * exist yet (IB_EIO "already exists" otherwise). ib_rm_rf_owned removes
 * dir and everything under it (not following symbolic links, not crossing
 * into other file systems) only when dir holds that marker: a directory
 * without it is refused (IB_EINVAL, "... was not created by imbench ...:
 * not removed") and left untouched. A missing dir is 0. So a mistyped or
 * cut path can never delete a user's directory.
 */
#define IB_OWNED_MARKER ".imbench-owned"
int ib_mkdir_owned(ib_err *e, const char *dir);
int ib_rm_rf_owned(ib_err *e, const char *dir);

/* The median of x[0..n) (sorted in place), NAN when n is 0: the one median
 * of the modules below reports (reports has its own, with intervals). */
double ib_median(double *x, size_t n);

/*
 * Remove path and everything under it, without following symbolic links
 * or crossing file systems; a missing path is 0, else the first failure
 * (IB_EIO naming the entry). Only for temporaries the caller made under
 * a name it chose (NAME.tmp-PID); anything a user may name goes through
 * ib_rm_rf_owned.
 */
int ib_rm_rf(ib_err *e, const char *path);

/*
 * Temporaries a process owns (common/tmpfiles.c). ib_tmp_add registers
 * path (a file, a tree, or a directory removed only when empty) for
 * removal by ib_tmp_remove_all, which the handler ib_tmp_on_signals
 * installs for SIGINT, SIGTERM and SIGHUP calls before the process dies of
 * the signal as it would have; it returns the slot for ib_tmp_drop (when
 * the file is renamed into place or removed), or -1 when the table is full
 * (the path is then not covered). ib_tmp_remove_all is async-signal-safe.
 */
enum { IB_TMP_FILE, IB_TMP_TREE, IB_TMP_EMPTY_DIR };
int ib_tmp_add(const char *path, int kind);
void ib_tmp_drop(int slot);
void ib_tmp_remove_all(void);
void ib_tmp_on_signals(void);

/*
 * Create path exclusively (O_CREAT | O_EXCL | O_NOFOLLOW, read-write) and
 * hold an flock on it for as long as *fd is open. When path exists and is
 * a regular file of this user that nobody holds locked and that ours(fd)
 * accepts (NULL: any), it is what a killed run left: removed, and path
 * created afresh. A locked one is IB_ELOCKED ("being written by another
 * process"); a symbolic link or anything else is refused and left as it
 * is. Messages start "WHAT 'path'". With slot, the file is registered
 * (ib_tmp_add, *slot) as it is made, no signal in between.
 */
int ib_create_excl(ib_err *e, const char *what, const char *path, int mode, int (*ours)(int fd),
                   int *fd, int *slot);
/* path removed when it is such a leftover: 1 removed, -1 locked (in use),
 * 0 absent or not one (left as it is). */
int ib_remove_stale(const char *path, int (*ours)(int fd));

/*
 * A directory of one run: PARENT/PREFIX-XXXXXX from mkdtemp (0700), its
 * .lock held (flock) through *lockfd for as long as the run lives, with
 * IB_OWNED_MARKER. Directories PARENT/PREFIX-* that a killed run left (its
 * lock free, its marker there) are removed first. The path is in out.
 */
int ib_run_dir_create(ib_err *e, const char *parent, const char *prefix, char *out, size_t n,
                      int *lockfd);

/* pthread_create's failure err for thread i of n ("worker thread"): the
 * reason, the stack each thread reserves and the user's process limit
 * (IB_ENOMEM for EAGAIN/ENOMEM, else IB_EIO). */
int ib_thread_error(ib_err *e, int err, const char *what, int i, int n);
/* Test hook: IMBENCH_FAIL_THREAD=N makes the start of the Nth worker
 * thread (i = N - 1) fail as if the system refused it. */
int ib_fail_thread(int i);
/* IB_ENOMEM "out of memory WHAT (X MB asked for; Y MB of memory free)". */
int ib_nomem(ib_err *e, const char *what, double bytes);

/* Wall clock and process/thread CPU clocks in seconds. */
double ib_now(void);
double ib_cpu_process(void);
double ib_cpu_thread(void);

/* Counter-based random numbers: same (seed, a, b, c) -> same value,
 * whatever thread or order asks. */
uint64_t ib_hash4(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
double ib_uniform(uint64_t h);                 /* in [0, 1) */
double ib_gauss(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/*
 * Command-line options from a table (as git's parse-options), parsed by
 * getopt_long: each entry names a long option (--name), its kind, where
 * to store it and a help line; an entry named "help" also answers to -h.
 * "--name=value" and "--name value" both work, options and arguments mix
 * in any order, "--" ends options; a name must be given whole (no
 * abbreviations). Arguments that are not options are left, in order, in
 * pos[0..*npos) (pos has room for argc). On a bad option or value:
 * message naming it, IB_EINVAL.
 */
struct ib_pval;
enum ib_opt_kind { IB_OPT_FLAG, IB_OPT_STR, IB_OPT_INT, IB_OPT_DBL, IB_OPT_I64, IB_OPT_PARAM };

typedef struct ib_opt {
    const char *name;
    enum ib_opt_kind kind;
    void *dst;        /* int* (FLAG, INT), const char** (STR), double*, int64_t*,
                       * ib_pval* (PARAM) */
    const char *arg;  /* placeholder for help, e.g. "N" */
    const char *help;
} ib_opt;
/* IB_OPT_PARAM: the option of the cell parameter (common/params.h) whose
 * imager option is name: its value is parsed and range-checked by
 * ib_param_parse into dst, a BOOL one is a flag, and its help, range and
 * default come from the table. */

/* The option of parameter id (its imager option name, help from the
 * table), storing into *dst. */
ib_opt ib_param_opt(int id, struct ib_pval *dst);

int ib_parse_opts(ib_err *e, const char *prog, const ib_opt *opts, int argc,
                  char **argv, char **pos, int *npos);
/* Print "  --name ARG   help" lines for the table to f (a FILE*): the
 * help texts in one column (past the widest name, at most 30 columns in;
 * a longer name gets a line of its own), wrapped before column 80. */
void ib_print_opts(void *f, const ib_opt *opts);

/* The version of imbench these programs were built from (git describe at
 * build time, "unknown" outside a git clone). */
const char *ib_version(void);

/* Parse a whole string as a number; IB_EINVAL (no message) if it is not. */
int ib_parse_i64(const char *s, int64_t *out);
int ib_parse_double(const char *s, double *out);

/*
 * A byte count: digits with an optional fraction, then an optional K, M,
 * G or T (either case; powers of 1024), optional "i", optional "B":
 * "4096", "64K", "1.5G", "2GiB", "512MB". The result must be a whole
 * number of bytes <= 2^62. IB_EINVAL (no message) otherwise.
 */
int ib_parse_bytes(const char *s, int64_t *out);

/* An image size: "NX" (square) or "NXxNY" (x or X), decimal digits only,
 * each <= INT_MAX. No range check. IB_EINVAL (no message) otherwise. */
int ib_parse_image(const char *s, int *nx, int *ny);

/*
 * Messages of readers of YAML (and other text) files, one form for all:
 * "WHAT line L column C: ..." (line and column as libyaml counts them,
 * from 0; printed from 1). ib_yaml_kind names a node's kind ("a list",
 * "a mapping", "a scalar"); ib_yaml_parser_error reports what libyaml's
 * parser stopped at (IB_ENOMEM for its memory errors, else IB_EPARSE).
 */
struct yaml_node_s;
struct yaml_parser_s;
int ib_error_at(ib_err *e, int code, const char *what, size_t line, size_t column,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
const char *ib_yaml_kind(const struct yaml_node_s *n);
int ib_yaml_error(ib_err *e, const char *what, const struct yaml_node_s *n, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
int ib_yaml_parser_error(ib_err *e, const char *what, const struct yaml_parser_s *p);

#endif
