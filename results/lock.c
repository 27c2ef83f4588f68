/*
 * lock.c: run locks — which process is continuing a run. A row of
 * run_locks per locked run (pid, host, boot id, the process's start time
 * in clock ticks since boot, since, command), taken and dropped in IMMEDIATE
 * transactions, so two processes never both believe they hold one run.
 * A lock whose process is gone (same host: no such pid, a pid reused by a
 * later process, or a reboot since) is taken over; a lock of another host
 * cannot be judged from here and is refused unless forced.
 */
#define _GNU_SOURCE
#include "results/res_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* Who we are, as a lock row records it. */
typedef struct holder {
    long long pid;
    char host[256];
    char boot_id[64];
    long long proc_start; /* -1 unknown */
    char since[40];
    char command[512];
} holder;

static void read_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)n, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
 * since boot; -1 when there is no such process (or no /proc). */
static long long proc_start(long long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%lld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the command name (field 2) may hold spaces and ')': skip to the last ')' */
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    p++;
    for (int field = 3; field < 22 && p; field++) p = strchr(p + 1, ' ');
    if (!p) return -1;
    char *end;
    long long v = strtoll(p + 1, &end, 10);
    return end == p + 1 ? -1 : v;
}

static void me(holder *h, const char *command)
{
    memset(h, 0, sizeof *h);
    h->pid = (long long)getpid();
    if (gethostname(h->host, sizeof h->host - 1) != 0) snprintf(h->host, sizeof h->host, "?");
    read_line("/proc/sys/kernel/random/boot_id", h->boot_id, sizeof h->boot_id);
    h->proc_start = proc_start(h->pid);
    res_timestamp(h->since, sizeof h->since);
    snprintf(h->command, sizeof h->command, "%s", command ? command : "");
}

/* Is the holder h (of this host) gone? */
static int gone(const holder *h, const holder *self)
{
    if (h->boot_id[0] && self->boot_id[0] && strcmp(h->boot_id, self->boot_id)) return 1;
    if (h->pid <= 0) return 1;
    if (kill((pid_t)h->pid, 0) != 0 && errno == ESRCH) return 1;
    if (h->proc_start >= 0) {
        long long now = proc_start(h->pid);
        if (now >= 0 && now != h->proc_start) return 1; /* the pid names a later process */
    }
    return 0;
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t n)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    snprintf(out, n, "%s", s ? s : "");
}

/* The lock row of run_id into *h: 1 found, 0 none, < 0 error. */
static int read_lock(ib_err *e, res_db *db, int64_t run_id, holder *h)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT pid, host, coalesce(boot_id, ''), coalesce(proc_start, -1),"
                         " since, coalesce(command, '') FROM run_locks WHERE run_id = ?",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(h, 0, sizeof *h);
        h->pid = sqlite3_column_int64(st, 0);
        col_copy(st, 1, h->host, sizeof h->host);
        col_copy(st, 2, h->boot_id, sizeof h->boot_id);
        h->proc_start = sqlite3_column_int64(st, 3);
        col_copy(st, 4, h->since, sizeof h->since);
        col_copy(st, 5, h->command, sizeof h->command);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "reading a run lock");
}

static int write_lock(ib_err *e, res_db *db, int64_t run_id, const holder *h)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "INSERT OR REPLACE INTO run_locks(run_id, pid, host, boot_id,"
                         " proc_start, since, command) VALUES(?,?,?,?,?,?,?)",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, h->pid);
    res__bind_text(st, 3, h->host);
    res__bind_text(st, 4, h->boot_id[0] ? h->boot_id : NULL);
    if (h->proc_start >= 0) sqlite3_bind_int64(st, 5, h->proc_start);
    res__bind_text(st, 6, h->since);
    res__bind_text(st, 7, h->command[0] ? h->command : NULL);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "taking a run lock");
}

int res_run_lock(ib_err *e, res_db *db, int64_t run_id, const char *command, int force,
                 char *note, size_t n)
{
    if (note && n) note[0] = '\0';
    holder self, old;
    memset(&old, 0, sizeof old);
    me(&self, command);
    int r = res__begin(e, db);
    if (r) return r;
    int found = read_lock(e, db, run_id, &old);
    if (found < 0) {
        r = found;
        goto fail;
    }
    if (found) {
        int same_host = strcmp(old.host, self.host) == 0;
        if (same_host && old.pid == self.pid && old.proc_start == self.proc_start) {
            res__rollback(db); /* ours already */
            return 0;
        }
        if (!force && !(same_host && gone(&old, &self))) {
            r = ib_error(e, IB_ELOCKED,
                         "run %lld is in use by pid %lld on host '%s' since %s%s%s%s: wait "
                         "for it to finish%s",
                         (long long)run_id, old.pid, old.host, old.since,
                         old.command[0] ? " (" : "", old.command, old.command[0] ? ")" : "",
                         same_host ? "" : " (a lock of another host is taken over only with "
                                          "--take-lock, once that process is known to be gone)");
            goto fail;
        }
        if (note && n)
            snprintf(note, n, "run %lld: took over the lock of pid %lld on host '%s' (since %s), "
                              "which is %s", (long long)run_id, old.pid, old.host, old.since,
                     same_host && gone(&old, &self) ? "gone" : "overridden (--take-lock)");
    }
    r = write_lock(e, db, run_id, &self);
    if (r) goto fail;
    return res__commit(e, db);
fail:
    res__rollback(db);
    return r;
}

int res_run_unlock(ib_err *e, res_db *db, int64_t run_id)
{
    holder self;
    me(&self, NULL);
    sqlite3_stmt *st;
    int r = res__begin(e, db);
    if (r) return r;
    r = res__prepare(e, db, "DELETE FROM run_locks WHERE run_id = ? AND pid = ? AND host = ?",
                     &st);
    if (r) {
        res__rollback(db);
        return r;
    }
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, self.pid);
    res__bind_text(st, 3, self.host);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "dropping a run lock");
        res__rollback(db);
        return r;
    }
    return res__commit(e, db);
}
