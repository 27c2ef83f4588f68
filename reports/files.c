/*
 * files.c: the files a report writes, whole or not at all. Each is written
 * to a temporary in the report directory (".NAME.rep-PID.XXXXXX", created
 * exclusively by mkstemp, so nothing is followed or overwritten), checked
 * (every write, the flush and the close), and renamed over NAME only when
 * complete; any failure removes the temporary and leaves NAME as it was,
 * with the cause in the message ("no space left on device"). Temporaries
 * of a killed report are recognised by their PID and removed by the next
 * report into the same directory. IMBENCH_REPORT_FAIL_WRITE=N makes the
 * Nth commit fail as a full disk would, for the tests.
 */
#define _GNU_SOURCE
#include "reports/rep_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rep__file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* strerror with a lowercase first letter, as our messages are. */
static const char *cause(int err, char *buf, size_t n)
{
    snprintf(buf, n, "%s", strerror(err));
    if (buf[0]) buf[0] = (char)tolower((unsigned char)buf[0]);
    return buf;
}

static int fail(ib_err *e, int err, const char *what, const char *path)
{
    char c[128];
    return ib_error(e, err == ENOSPC || err == EDQUOT ? IB_ENOSPACE : IB_EIO,
                    "cannot %s '%s': %s", what, path, cause(err, c, sizeof c));
}

/* The PID in a temporary's name ".NAME.rep-PID.XXXXXX" (or ".out.png"),
 * 0 when the name is not one of ours. */
static long temp_pid(const char *name)
{
    if (name[0] != '.') return 0;
    const char *p = strstr(name, ".rep-");
    if (!p) return 0;
    p += 5;
    char *end;
    long pid = strtol(p, &end, 10);
    return end != p && *end == '.' && pid > 0 ? pid : 0;
}

void rep__out_init(rep__out *o, const char *dir)
{
    memset(o, 0, sizeof *o);
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    const char *hook = getenv("IMBENCH_REPORT_FAIL_WRITE");
    o->fail_at = hook ? atol(hook) : 0;
    DIR *d = opendir(dir);
    if (!d) return;
    long self = (long)getpid();
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        long pid = temp_pid(de->d_name);
        /* a temporary of ours whose writer is gone (or is us, from an
         * earlier report in this process that failed to remove it) */
        if (!pid || (pid != self && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))) continue;
        char path[8192];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
}

int rep__out_open(ib_err *e, rep__out *o, const char *name, rep__file *f)
{
    memset(f, 0, sizeof *f);
    if ((size_t)snprintf(f->path, sizeof f->path, "%s/%s", o->dir, name) >= sizeof f->path ||
        (size_t)snprintf(f->tmp, sizeof f->tmp, "%s/.%s.rep-%ld.XXXXXX", o->dir, name,
                         (long)getpid()) >= sizeof f->tmp)
        return ib_error(e, IB_EOVERFLOW, "report file name too long: '%s/%s'", o->dir, name);
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        int err = errno;
        f->tmp[0] = '\0';
        return fail(e, err, "create", f->path);
    }
    fchmod(fd, 0644);
    f->f = fdopen(fd, "w");
    if (!f->f) {
        int err = errno;
        close(fd);
        unlink(f->tmp);
        f->tmp[0] = '\0';
        return fail(e, err, "create", f->path);
    }
    return 0;
}

void rep__out_abort(rep__file *f)
{
    if (f->f) fclose(f->f);
    f->f = NULL;
    if (f->tmp[0]) unlink(f->tmp);
    f->tmp[0] = '\0';
}

/* Does the injected failure fire for this commit? */
static int injected(rep__out *o)
{
    return ++o->commits == o->fail_at;
}

int rep__out_commit(ib_err *e, rep__out *o, rep__file *f)
{
    int err = 0;
    if (ferror(f->f)) err = errno ? errno : EIO;
    if (!err && fflush(f->f) != 0) err = errno;
    if (!err && injected(o)) err = ENOSPC;
    int cr = fclose(f->f);
    f->f = NULL;
    if (!err && cr != 0) err = errno;
    if (!err && rename(f->tmp, f->path) != 0) err = errno;
    if (err) {
        unlink(f->tmp);
        f->tmp[0] = '\0';
        return fail(e, err, "write", f->path);
    }
    f->tmp[0] = '\0';
    return 0;
}

int rep__out_write(ib_err *e, rep__out *o, const char *name, const char *text)
{
    rep__file f;
    int rc = rep__out_open(e, o, name, &f);
    if (rc) return rc;
    size_t len = strlen(text);
    errno = 0;
    if (fwrite(text, 1, len, f.f) != len) {
        int err = errno ? errno : EIO;
        rep__out_abort(&f);
        return fail(e, err, "write", f.path);
    }
    return rep__out_commit(e, o, &f);
}

void rep__out_stem(const rep__out *o, const char *name, char *stem, size_t n)
{
    (void)o;
    snprintf(stem, n, ".%s.rep-%ld.out", name, (long)getpid());
}

int rep__out_adopt(ib_err *e, rep__out *o, const char *tmp, const char *name)
{
    char from[8192], to[8192];
    snprintf(from, sizeof from, "%s/%s", o->dir, tmp);
    snprintf(to, sizeof to, "%s/%s", o->dir, name);
    int err = injected(o) ? ENOSPC : 0;
    if (!err && rename(from, to) != 0) err = errno;
    if (err) {
        unlink(from);
        return fail(e, err, "write", to);
    }
    return 0;
}
