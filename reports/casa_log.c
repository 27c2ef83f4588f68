/*
 * casa_log.c: reads CASA log files (casa-YYYYMMDD-HHMMSS.log) and extracts
 * each tclean task — its call parameters, duration, status and partition
 * notes — for `harness casa-import`. The format and its pitfalls (two
 * clocks, failed tasks that still log "complete", CASA 5 logs without the
 * complete line, mpicasa servers repeating messages) are described in
 * reports.h and shared/seed-study.md.
 *
 * The file is streamed line by line through a fixed buffer, so no input can
 * make the parser allocate more than REP_CASA_MAX_LINE per line plus the
 * capped task, parameter and note arrays.
 */
#include "reports/reports.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BLOCK 65536

typedef struct parser {
    ib_err *e;
    const char *name;
    FILE *f;
    char blk[BLOCK];
    size_t pos, fill;
    char *line; /* current line, NUL-terminated; grows up to REP_CASA_MAX_LINE + 1 */
    size_t len, line_cap;
    long lineno;
    int seen_valid; /* a timestamped line has been read */
    rep_casa_log *log;
    size_t cap_tasks;
    /* The open tclean task (Begin seen, End not yet). */
    int open;
    int64_t open_line_ts; /* Begin line timestamp, seconds */
    int have_call, have_complete;
    /* A tclean( call that continues on the next lines. */
    int call_pending;
    long call_line;
    char *call; /* grows up to REP_CASA_MAX_LINE + 1 bytes */
    size_t call_len, call_cap;
    size_t cap_params, cap_notes;
} parser;

/* One split log line; pointers into parser.line. */
typedef struct logline {
    char ts[32];
    int64_t sec; /* line timestamp, seconds since 1970 (civil, no zone) */
    const char *prio, *origin;
    char *msg;
    int server; /* origin names an mpicasa server */
} logline;

static int perr(parser *P, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(parser *P, long line, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return ib_error(P->e, IB_EPARSE, "casa log '%s' line %ld: %s", P->name, line, detail);
}

static int nomem(parser *P)
{
    return ib_error(P->e, IB_ENOMEM, "casa log '%s' line %ld: out of memory", P->name,
                    P->lineno);
}

/*
 * Make room for one more element in *arr (n used, *cap allocated), doubling
 * from first; through ib_malloc so that allocation failures can be injected.
 */
static int grow(void **arr, size_t n, size_t *cap, size_t elem, size_t first)
{
    if (n < *cap) return 0;
    size_t nc = *cap ? 2 * *cap : first, bytes;
    if (ib_mul_size(nc, elem, &bytes)) return IB_EOVERFLOW;
    void *p = ib_malloc(bytes);
    if (!p) return IB_ENOMEM;
    if (n) memcpy(p, *arr, n * elem);
    ib_free(*arr);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Make buf hold need bytes (need <= REP_CASA_MAX_LINE + 1), keeping len. */
static int reserve(parser *P, char **buf, size_t *cap, size_t len, size_t need)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) nc *= 2;
    if (nc > REP_CASA_MAX_LINE + 1) nc = REP_CASA_MAX_LINE + 1;
    char *p = ib_malloc(nc);
    if (!p) return nomem(P);
    if (len) memcpy(p, *buf, len);
    ib_free(*buf);
    *buf = p;
    *cap = nc;
    return 0;
}

/* Next line into P->line; 1 when read, 0 at end of file, < 0 on error. */
static int next_line(parser *P)
{
    size_t len = 0;
    int got = 0;
    for (;;) {
        if (P->pos == P->fill) {
            P->fill = fread(P->blk, 1, sizeof P->blk, P->f);
            P->pos = 0;
            if (P->fill == 0) {
                if (ferror(P->f))
                    return ib_error(P->e, IB_EIO, "casa log '%s' line %ld: read error",
                                    P->name, P->lineno + 1);
                break;
            }
        }
        /* Copy up to the newline in one go. */
        char *start = P->blk + P->pos;
        size_t avail = P->fill - P->pos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        got = 1;
        if (memchr(start, '\0', take))
            return perr(P, P->lineno + 1, "NUL byte: binary data, not a CASA log");
        if (len + take > REP_CASA_MAX_LINE)
            return perr(P, P->lineno + 1, "line longer than %u bytes", REP_CASA_MAX_LINE);
        int rc = reserve(P, &P->line, &P->line_cap, len, len + take + 1);
        if (rc) return rc;
        memcpy(P->line + len, start, take);
        len += take;
        P->pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!got) return 0;
    if (reserve(P, &P->line, &P->line_cap, len, len + 1)) return IB_ENOMEM;
    P->lineno++;
    if (len && P->line[len - 1] == '\r') len--;
    P->line[len] = '\0';
    P->len = len;
    return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * Parse "YYYY-MM-DD HH:MM:SS[.f...]" at s into microseconds; returns the
 * characters consumed, 0 if s does not start with such a stamp.
 */
static size_t parse_stamp(const char *s, int64_t *us)
{
    int Y, M, D, h, m, sec;
    if (digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || s[10] != ' ' || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
        return 0;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60) return 0;
    size_t n = 19;
    int64_t frac = 0;
    if (s[n] == '.' && isdigit((unsigned char)s[n + 1])) {
        int nd = 0;
        for (n++; isdigit((unsigned char)s[n]); n++, nd++)
            if (nd < 6) frac = frac * 10 + (s[n] - '0');
        for (; nd < 6; nd++) frac *= 10;
    }
    int64_t t = ((days_from_civil(Y, M, D) * 24 + h) * 60 + m) * 60 + sec;
    *us = t * 1000000 + frac;
    return n;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/*
 * Split P->line as "stamp<TAB>PRIORITY<TAB>origin<TAB>message" in place.
 * 1 on success, 0 when the line is not a CASA log line.
 */
static int split_line(parser *P, logline *L)
{
    char *s = P->line;
    int64_t us;
    size_t n = parse_stamp(s, &us);
    if (!n || n >= sizeof L->ts || s[n] != '\t') return 0;
    memcpy(L->ts, s, n);
    L->ts[n] = '\0';
    L->sec = us / 1000000;
    char *prio = s + n + 1;
    char *tab = strchr(prio, '\t');
    if (!tab) return 0;
    *tab = '\0';
    /* Some writers pad the priority with spaces. */
    for (char *q = tab; q > prio && q[-1] == ' ';) *--q = '\0';
    if (!isupper((unsigned char)prio[0]) || strlen(prio) > 16) return 0;
    for (const char *q = prio; *q; q++)
        if (!isupper((unsigned char)*q) && !isdigit((unsigned char)*q)) return 0;
    char *origin = tab + 1;
    tab = strchr(origin, '\t');
    if (tab) {
        *tab = '\0';
        L->msg = tab + 1;
    } else {
        L->msg = origin + strlen(origin); /* empty message, no final tab */
    }
    L->prio = prio;
    L->origin = origin;
    L->server = strstr(origin, "MPIServer-") != NULL;
    return 1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/*
 * "##### Begin Task: tclean    #####" -> kind 'B', name "tclean" (copied
 * into name). Returns 'B', 'E' or 0.
 */
static int task_banner(const char *msg, char *name, size_t cap)
{
    const char *s = msg;
    if (*s != '#') return 0;
    while (*s == '#') s++;
    while (*s == ' ') s++;
    int kind;
    if (strncmp(s, "Begin Task:", 11) == 0) kind = 'B';
    else if (strncmp(s, "End Task:", 9) == 0) kind = 'E';
    else return 0;
    s += kind == 'B' ? 11 : 9;
    while (*s == ' ') s++;
    size_t n = 0;
    while (s[n] && s[n] != ' ' && s[n] != '#') n++;
    if (n == 0 || n >= cap) return 0;
    memcpy(name, s, n);
    name[n] = '\0';
    return kind;
}

static rep_casa_task *cur(parser *P) { return &P->log->tasks[P->log->ntasks - 1]; }

static int begin_task(parser *P, const logline *L)
{
    rep_casa_log *log = P->log;
    if (P->open)
        return perr(P, P->lineno,
                    "Begin Task: tclean while the task begun at line %ld has no End Task",
                    cur(P)->begin_line);
    if (log->ntasks >= REP_CASA_MAX_TASKS)
        return perr(P, P->lineno, "more than %d tclean tasks", REP_CASA_MAX_TASKS);
    if (grow((void **)&log->tasks, log->ntasks, &P->cap_tasks, sizeof *log->tasks, 8))
        return nomem(P);
    rep_casa_task *t = &log->tasks[log->ntasks++];
    memset(t, 0, sizeof *t);
    t->index = log->ntasks - 1;
    t->status = REP_TASK_OK;
    t->begin_line = P->lineno;
    t->required_gb = t->available_gb = -1;
    t->subcubes = -1;
    snprintf(t->start, sizeof t->start, "%s", L->ts);
    P->open = 1;
    P->open_line_ts = L->sec;
    P->have_call = P->have_complete = 0;
    P->cap_params = P->cap_notes = 0;
    return 0;
}

static int end_task(parser *P, const logline *L)
{
    if (!P->open) return perr(P, P->lineno, "End Task: tclean without Begin Task");
    rep_casa_task *t = cur(P);
    if (!P->have_call)
        return perr(P, t->begin_line,
                    "task tclean (lines %ld-%ld) has no 'tclean( ... )' call line",
                    t->begin_line, P->lineno);
    t->end_line = P->lineno;
    if (!P->have_complete) {
        /* CASA 5: only the Begin/End line stamps, whole seconds. */
        int64_t d = L->sec - P->open_line_ts;
        if (d < 0)
            return perr(P, P->lineno, "End Task stamp %s is before the Begin Task stamp %s",
                        L->ts, t->start);
        t->clock = REP_CLOCK_LINE;
        t->duration_us = d * 1000000;
        t->duration_s = (double)d;
        snprintf(t->end, sizeof t->end, "%s", L->ts);
    }
    P->open = 0;
    return 0;
}

/* Add key/value to the open task, taking ownership of both strings. */
static int add_param(parser *P, char *key, char *val)
{
    rep_casa_task *t = cur(P);
    if (t->nparams >= REP_CASA_MAX_PARAMS) {
        ib_free(key);
        ib_free(val);
        return perr(P, P->call_line, "tclean call has more than %d parameters",
                    REP_CASA_MAX_PARAMS);
    }
    if (grow((void **)&t->params, t->nparams, &P->cap_params, sizeof *t->params, 64)) {
        ib_free(key);
        ib_free(val);
        return nomem(P);
    }
    t->params[t->nparams++] = (rep_kv){key, val};
    return 0;
}

enum { SCAN_OK, SCAN_MORE, SCAN_BAD };

/*
 * End of the top-level value starting at s: the first ',' or ')' outside
 * quotes and brackets (*why = SCAN_OK). NULL when the text ends first
 * (SCAN_MORE: the call may continue on the next line) or a bracket closes
 * that was not opened (SCAN_BAD).
 */
static const char *value_end(const char *s, int *why)
{
    char stack[64];
    int depth = 0;
    char q = 0;
    *why = SCAN_OK;
    for (; *s; s++) {
        if (q) {
            if (*s == '\\' && s[1]) s++;
            else if (*s == q) q = 0;
        } else if (*s == '\'' || *s == '"') {
            q = *s;
        } else if (*s == '(' || *s == '[' || *s == '{') {
            if (depth == (int)sizeof stack) break;
            stack[depth++] = *s == '(' ? ')' : *s == '[' ? ']' : '}';
        } else if (*s == ')' || *s == ']' || *s == '}') {
            if (depth == 0) {
                if (*s == ')') return s;
                break;
            }
            if (stack[--depth] != *s) break;
        } else if (*s == ',' && depth == 0) {
            return s;
        }
    }
    *why = *s ? SCAN_BAD : SCAN_MORE;
    return NULL;
}

/* Copy [s, s+n) trimmed; a value that is one quoted string is unquoted. */
static char *make_value(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *v = ib_malloc(n + 1);
    if (!v) return NULL;
    if (n >= 2 && (s[0] == '\'' || s[0] == '"') && s[n - 1] == s[0]) {
        /* One string only if the opening quote closes at the very end. */
        size_t i = 1, k = 0;
        int whole = 1;
        for (; i < n - 1; i++) {
            if (s[i] == '\\' && i + 2 < n &&
                (s[i + 1] == '\\' || s[i + 1] == '\'' || s[i + 1] == '"')) {
                v[k++] = s[++i];
                continue;
            }
            if (s[i] == s[0]) {
                whole = 0;
                break;
            }
            v[k++] = s[i];
        }
        if (whole) {
            v[k] = '\0';
            return v;
        }
    }
    memcpy(v, s, n);
    v[n] = '\0';
    return v;
}

/*
 * Parse "tclean( k=v, k2=[..], ... )" (the text from "tclean") into the
 * open task's params. Returns 1 when the call is incomplete (its closing
 * parenthesis is on a later line), 0 when parsed, < 0 on error.
 */
static int parse_call(parser *P, const char *text)
{
    const char *s = text + 6; /* after "tclean" */
    while (*s == ' ') s++;
    if (*s != '(') return perr(P, P->call_line, "tclean call without '('");
    s++;
    /* Complete only if the parenthesis closes: scan ahead first. */
    for (const char *q = s;;) {
        int why;
        const char *end = value_end(q, &why);
        if (why == SCAN_MORE) return 1;
        if (why == SCAN_BAD)
            return perr(P, P->call_line, "tclean call: unbalanced brackets or quotes");
        if (*end == ')') break;
        q = end + 1;
    }
    for (;;) {
        while (isspace((unsigned char)*s) || *s == ',') s++;
        if (*s == ')') break;
        const char *k = s;
        while (isalnum((unsigned char)*s) || *s == '_') s++;
        size_t klen = (size_t)(s - k);
        while (*s == ' ') s++;
        if (klen == 0 || *s != '=') {
            char snip[48];
            snprintf(snip, sizeof snip, "%.40s", k);
            return perr(P, P->call_line, "tclean call: expected key=value at '%s'", snip);
        }
        s++;
        int why;
        const char *end = value_end(s, &why);
        IB_ASSERT(end != NULL); /* balance was checked above */
        char *key = ib_malloc(klen + 1);
        if (!key) return nomem(P);
        memcpy(key, k, klen);
        key[klen] = '\0';
        char *val = make_value(s, (size_t)(end - s));
        if (!val) {
            ib_free(key);
            return nomem(P);
        }
        int rc = add_param(P, key, val);
        if (rc) return rc;
        s = end;
    }
    rep_casa_task *t = cur(P);
    t->imagename = rep_casa_param(t, "imagename");
    t->gridder = rep_casa_param(t, "gridder");
    t->specmode = rep_casa_param(t, "specmode");
    t->imsize = rep_casa_param(t, "imsize");
    t->vis = rep_casa_param(t, "vis");
    P->have_call = 1;
    return 0;
}

/* Does msg start a tclean call: "tclean(" or "tclean (" ? */
static int is_call(const char *msg)
{
    if (strncmp(msg, "tclean", 6) != 0) return 0;
    msg += 6;
    while (*msg == ' ') msg++;
    return *msg == '(';
}

static int call_text(parser *P, const char *text)
{
    size_t n = strlen(text);
    if (P->call_len + n > REP_CASA_MAX_LINE)
        return perr(P, P->call_line, "tclean call longer than %u bytes", REP_CASA_MAX_LINE);
    int rc = reserve(P, &P->call, &P->call_cap, P->call_len, P->call_len + n + 1);
    if (rc) return rc;
    memcpy(P->call + P->call_len, text, n + 1);
    P->call_len += n;
    rc = parse_call(P, P->call);
    if (rc < 0) return rc;
    P->call_pending = rc == 1;
    return 0;
}

/* "Task tclean complete. Start time: X End time: Y" */
static int complete_line(parser *P, const char *msg)
{
    rep_casa_task *t = cur(P);
    const char *a = strstr(msg, "Start time:");
    const char *b = a ? strstr(a, "End time:") : NULL;
    if (!a || !b) return perr(P, P->lineno, "complete line without 'Start time:' and 'End time:'");
    a += 11;
    b += 9;
    while (*a == ' ') a++;
    while (*b == ' ') b++;
    int64_t ua, ub;
    size_t na = parse_stamp(a, &ua), nb = parse_stamp(b, &ub);
    if (!na || !nb || na >= sizeof t->start || nb >= sizeof t->end)
        return perr(P, P->lineno,
                    "complete line: start/end time is not 'YYYY-MM-DD HH:MM:SS.ffffff'");
    if (ub < ua)
        return perr(P, P->lineno, "complete line: end time %.*s is before start time %.*s",
                    (int)nb, b, (int)na, a);
    memcpy(t->start, a, na);
    t->start[na] = '\0';
    memcpy(t->end, b, nb);
    t->end[nb] = '\0';
    t->clock = REP_CLOCK_MESSAGE;
    t->duration_us = ub - ua;
    t->duration_s = (double)t->duration_us / 1e6;
    P->have_complete = 1;
    return 0;
}

/* Gigabytes from "<number> <unit>" at s; -1 if none. */
static double size_gb(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno) return -1;
    while (*end == ' ') end++;
    switch (toupper((unsigned char)*end)) {
    case 'K': return v / 1e6;
    case 'M': return v / 1e3;
    case 'T': return v * 1e3;
    case 'P': return v * 1e6;
    default: return v; /* GB, or no unit */
    }
}

static int partition_line(parser *P, const char *msg)
{
    rep_casa_task *t = cur(P);
    const char *r = strstr(msg, "Required memory:");
    const char *a = strstr(msg, "Available mem");
    const char *s = strstr(msg, "Subcubes:");
    if (r) t->required_gb = size_gb(r + 16);
    if (a && (a = strchr(a, ':')) != NULL) t->available_gb = size_gb(a + 1);
    if (s) {
        char *end;
        long v = strtol(s + 9, &end, 10);
        t->subcubes = (end != s + 9 && v >= 0 && v < 1000000000) ? (int)v : -1;
    }
    if (t->nnotes >= REP_CASA_MAX_NOTES) return 0;
    if (grow((void **)&t->notes, t->nnotes, &P->cap_notes, sizeof *t->notes, 4))
        return nomem(P);
    char *copy = ib_strdup(msg);
    if (!copy) return nomem(P);
    t->notes[t->nnotes++] = copy;
    return 0;
}

static void copy_token(char *dst, size_t cap, const char *s)
{
    while (*s == ' ') s++;
    size_t n = 0;
    while (s[n] && !isspace((unsigned char)s[n]) && n + 1 < cap) n++;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void provenance(parser *P, const char *msg)
{
    rep_casa_log *log = P->log;
    const char *v = strstr(msg, "CASA Version ");
    if (v && !log->casa_version[0]) copy_token(log->casa_version, sizeof log->casa_version, v + 13);
    if (!log->host[0]) {
        static const char *const keys[] = {"Host:", "Hostname:", "Host name:"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            size_t k = strlen(keys[i]);
            if (strncasecmp(msg, keys[i], k) == 0) {
                copy_token(log->host, sizeof log->host, msg + k);
                break;
            }
        }
    }
}

static int handle_line(parser *P, logline *L)
{
    rep_casa_log *log = P->log;
    if (!log->first_ts[0]) snprintf(log->first_ts, sizeof log->first_ts, "%s", L->ts);
    snprintf(log->last_ts, sizeof log->last_ts, "%s", L->ts);
    char *msg = trim(L->msg);
    provenance(P, msg);
    if (L->server) {
        /* mpicasa servers repeat the client's messages: provenance only. */
        log->mpi = 1;
        return 0;
    }
    if (P->call_pending)
        return perr(P, P->call_line, "tclean call is not closed by ')'");
    char name[64];
    int kind = task_banner(msg, name, sizeof name);
    if (kind && strcmp(name, "tclean") == 0)
        return kind == 'B' ? begin_task(P, L) : end_task(P, L);
    if (!P->open) return 0;
    rep_casa_task *t = cur(P);
    if (!P->have_call && is_call(msg)) {
        P->call_line = P->lineno;
        P->call_len = 0;
        return call_text(P, msg);
    }
    if (strcmp(L->prio, "SEVERE") == 0 && strstr(msg, "Task tclean raised an exception")) {
        if (t->status != REP_TASK_FAILED) {
            t->status = REP_TASK_FAILED;
            t->failure = ib_strdup(msg);
            if (!t->failure) return nomem(P);
        }
        return 0;
    }
    if (strncmp(msg, "Task tclean complete.", 21) == 0) return complete_line(P, msg);
    if (strstr(msg, "Required memory:") && strstr(msg, "Subcubes:"))
        return partition_line(P, msg);
    return 0;
}

static int parse_stream(parser *P)
{
    int rc;
    while ((rc = next_line(P)) == 1) {
        logline L;
        if (!P->seen_valid && is_blank(P->line)) continue;
        if (!split_line(P, &L)) {
            if (!P->seen_valid)
                return perr(P, P->lineno,
                            "not a CASA log line (expected 'YYYY-MM-DD HH:MM:SS<TAB>PRIORITY"
                            "<TAB>origin<TAB>message')");
            /* Continuation of a multi-line message. */
            if (P->call_pending) {
                rc = call_text(P, P->line);
                if (rc) return rc;
            }
            continue;
        }
        P->seen_valid = 1;
        rc = handle_line(P, &L);
        if (rc) return rc;
    }
    if (rc < 0) return rc;
    rep_casa_log *log = P->log;
    log->nlines = (size_t)P->lineno;
    if (!P->seen_valid)
        return ib_error(P->e, IB_EPARSE, "casa log '%s' line %ld: empty file, not a CASA log",
                        P->name, P->lineno + 1);
    if (P->call_pending)
        return perr(P, P->call_line, "tclean call is not closed by ')' before end of file");
    if (P->open)
        return perr(P, cur(P)->begin_line,
                    "Begin Task: tclean has no End Task before end of file at line %ld "
                    "(truncated log?)",
                    P->lineno);
    if (log->ntasks == 0)
        return perr(P, P->lineno, "end of file: no tclean task (Begin Task: tclean .. End Task) "
                                  "in this log");
    return 0;
}

static int parse_file(ib_err *e, const char *name, FILE *f, rep_casa_log *out)
{
    memset(out, 0, sizeof *out);
    out->path = ib_strdup(name);
    parser *P = ib_calloc(1, sizeof *P);
    if (!out->path || !P) {
        ib_free(P);
        return ib_error(e, IB_ENOMEM, "casa log '%s': out of memory", name);
    }
    P->e = e;
    P->name = name;
    P->f = f;
    P->log = out;
    int rc = parse_stream(P);
    ib_free(P->call);
    ib_free(P->line);
    ib_free(P);
    return rc;
}

int rep_casa_parse(ib_err *e, const char *path, rep_casa_log *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return ib_error(e, IB_EIO, "casa log '%s': %s", path, strerror(errno));
    int rc = parse_file(e, path, f, out);
    fclose(f);
    return rc;
}

int rep_casa_parse_buf(ib_err *e, const char *name, const char *buf, size_t len,
                       rep_casa_log *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return ib_error(e, IB_EPARSE, "casa log '%s' line 1: empty file, not a CASA log", name);
    FILE *f = fmemopen((void *)buf, len, "rb");
    if (!f) return ib_error(e, IB_EIO, "casa log '%s': %s", name, strerror(errno));
    int rc = parse_file(e, name, f, out);
    fclose(f);
    return rc;
}

void rep_casa_log_release(rep_casa_log *log)
{
    if (!log) return;
    for (size_t i = 0; i < log->ntasks; i++) {
        rep_casa_task *t = &log->tasks[i];
        for (size_t k = 0; k < t->nparams; k++) {
            ib_free(t->params[k].key);
            ib_free(t->params[k].value);
        }
        ib_free(t->params);
        for (size_t k = 0; k < t->nnotes; k++) ib_free(t->notes[k]);
        ib_free(t->notes);
        ib_free(t->failure);
    }
    ib_free(log->tasks);
    ib_free(log->path);
    memset(log, 0, sizeof *log);
}

const char *rep_casa_param(const rep_casa_task *t, const char *key)
{
    for (size_t i = 0; i < t->nparams; i++)
        if (strcmp(t->params[i].key, key) == 0) return t->params[i].value;
    return NULL;
}

const char *rep_task_status_name(int status)
{
    return status == REP_TASK_FAILED ? "failed" : status == REP_TASK_OK ? "ok" : "unknown";
}

const char *rep_clock_name(int clock)
{
    return clock == REP_CLOCK_LINE ? "line" : clock == REP_CLOCK_MESSAGE ? "message" : "unknown";
}
