/*
 * baselines.c: loads recorded baseline figures (the seed study's CASA and
 * prototype runtimes, speedups, overheads, or a user's own) from YAML with
 * libyaml's event parser. Strict by design: every key, type and label is
 * checked and reported with its file, line and column, because a silently
 * misread baseline would quietly skew every comparison drawn against it.
 * The format is documented at the top of workloads/baselines/seed-study.yaml.
 */
#include "reports/reports.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define FORMAT_ID "imbench-baselines/1"
#define MAX_RECORDS 100000
#define MAX_SCALAR 4096

static const char *const label_names[] = {"stated", "read from plot, approx."};
static const char *const bound_names[] = {"point", "low", "high"};

const char *rep_label_name(int label)
{
    return label >= 0 && label < 2 ? label_names[label] : "unknown";
}

const char *rep_bound_name(int bound)
{
    return bound >= 0 && bound < 3 ? bound_names[bound] : "unknown";
}

typedef struct yp {
    ib_err *e;
    const char *name;
    yaml_parser_t parser;
    yaml_event_t ev;
    int have_ev;
    rep_baseline *recs;
    size_t n, cap;
} yp;

static int yerr_at(yp *Y, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int yerr_at(yp *Y, yaml_mark_t m, const char *fmt, ...)
{
    char detail[1024], what[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(what, sizeof what, "baselines '%s'", Y->name);
    return ib_error_at(Y->e, IB_EPARSE, what, m.line, m.column, "%s", detail);
}

/* Error at the current event. */
#define YERR(Y, ...) yerr_at((Y), (Y)->ev.start_mark, __VA_ARGS__)

static const char *event_kind(yaml_event_type_t t)
{
    switch (t) {
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_SEQUENCE_END_EVENT: return "the end of a list";
    case YAML_MAPPING_END_EVENT: return "the end of a mapping";
    case YAML_ALIAS_EVENT: return "an alias";
    case YAML_DOCUMENT_START_EVENT: return "a new document";
    case YAML_DOCUMENT_END_EVENT: return "the end of the document";
    case YAML_STREAM_END_EVENT: return "the end of the file";
    default: return "an unexpected item";
    }
}

/* Advance to the next event; anchors, aliases and tags are refused here. */
static int next(yp *Y)
{
    if (Y->have_ev) yaml_event_delete(&Y->ev);
    Y->have_ev = 0;
    if (!yaml_parser_parse(&Y->parser, &Y->ev)) {
        char what[1100];
        snprintf(what, sizeof what, "baselines '%s'", Y->name);
        return ib_yaml_parser_error(Y->e, what, &Y->parser);
    }
    Y->have_ev = 1;
    const yaml_event_t *ev = &Y->ev;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT: return YERR(Y, "aliases are not supported");
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    default: break;
    }
    if (anchor) return YERR(Y, "anchors are not supported");
    if (tag) return YERR(Y, "tags are not supported");
    return 0;
}

static int expect(yp *Y, yaml_event_type_t t, const char *what)
{
    int rc = next(Y);
    if (rc) return rc;
    if (Y->ev.type != t) return YERR(Y, "expected %s, got %s", what, event_kind(Y->ev.type));
    return 0;
}

static const char *sval(const yp *Y) { return (const char *)Y->ev.data.scalar.value; }

static int is_plain(const yp *Y) { return Y->ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static int is_null(const yp *Y)
{
    const char *v = sval(Y);
    return is_plain(Y) && (!*v || !strcmp(v, "~") || !strcmp(v, "null") ||
                           !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

/* Next event must be a non-null scalar: the value of key. */
static int value_scalar(yp *Y, const char *key)
{
    int rc = next(Y);
    if (rc) return rc;
    if (Y->ev.type != YAML_SCALAR_EVENT)
        return YERR(Y, "'%s': wrong type, expected a single value, got %s", key,
                    event_kind(Y->ev.type));
    if (is_null(Y)) return YERR(Y, "'%s': missing value", key);
    if (Y->ev.data.scalar.length > MAX_SCALAR)
        return YERR(Y, "'%s': value longer than %d bytes", key, MAX_SCALAR);
    if (strlen(sval(Y)) != Y->ev.data.scalar.length)
        return YERR(Y, "'%s': value contains a NUL character", key);
    return 0;
}

static int get_str(yp *Y, const char *key, char **dst)
{
    int rc = value_scalar(Y, key);
    if (rc) return rc;
    char *s = ib_strdup(sval(Y));
    if (!s) return ib_error(Y->e, IB_ENOMEM, "baselines '%s': out of memory", Y->name);
    ib_free(*dst);
    *dst = s;
    return 0;
}

static int get_int(yp *Y, const char *key, int *dst)
{
    int rc = value_scalar(Y, key);
    if (rc) return rc;
    int64_t v;
    if (!is_plain(Y))
        return YERR(Y, "'%s': wrong type, expected an integer, got the string '%s'", key,
                    sval(Y));
    if (ib_parse_i64(sval(Y), &v))
        return YERR(Y, "'%s': wrong type, expected an integer, got '%s'", key, sval(Y));
    if (v < 1 || v > 1000000000)
        return YERR(Y, "'%s': %lld is out of range (1 to 1000000000)", key, (long long)v);
    *dst = (int)v;
    return 0;
}

static int get_num(yp *Y, const char *key, double *dst)
{
    int rc = value_scalar(Y, key);
    if (rc) return rc;
    double v;
    if (!is_plain(Y))
        return YERR(Y, "'%s': wrong type, expected a number, got the string '%s'", key,
                    sval(Y));
    if (ib_parse_double(sval(Y), &v) || !isfinite(v))
        return YERR(Y, "'%s': wrong type, expected a number, got '%s'", key, sval(Y));
    if (v < 0) return YERR(Y, "'%s': %g is negative", key, v);
    *dst = v;
    return 0;
}

static int get_enum(yp *Y, const char *key, const char *const *names, int count, int *dst)
{
    int rc = value_scalar(Y, key);
    if (rc) return rc;
    for (int i = 0; i < count; i++)
        if (strcmp(sval(Y), names[i]) == 0) {
            *dst = i;
            return 0;
        }
    char expected[256] = "";
    for (int i = 0; i < count; i++) {
        size_t l = strlen(expected);
        snprintf(expected + l, sizeof expected - l, "%s'%s'", i ? (i + 1 == count ? " or " : ", ")
                                                                 : "", names[i]);
    }
    return YERR(Y, "unknown %s '%s' (expected %s)", key, sval(Y), expected);
}

enum fkind { F_STR, F_INT, F_NUM, F_LABEL, F_BOUND };

typedef struct field {
    const char *key;
    enum fkind kind;
    int required;
    size_t off;
} field;

#define OFF(m) offsetof(rep_baseline, m)
static const field fields[] = {
    {"dataset", F_STR, 0, OFF(dataset)},  {"system", F_STR, 1, OFF(system)},
    {"nodes", F_INT, 0, OFF(nodes)},      {"cores", F_INT, 0, OFF(cores)},
    {"threads", F_INT, 0, OFF(threads)},  {"chunks", F_INT, 0, OFF(chunks)},
    {"support", F_INT, 0, OFF(support)},  {"metric", F_STR, 1, OFF(metric)},
    {"value", F_NUM, 1, OFF(value)},      {"unit", F_STR, 1, OFF(unit)},
    {"label", F_LABEL, 1, OFF(label)},    {"bound", F_BOUND, 0, OFF(bound)},
    {"note", F_STR, 0, OFF(note)},
};
#define NFIELDS (sizeof fields / sizeof *fields)

static void free_record(rep_baseline *b)
{
    ib_free(b->dataset);
    ib_free(b->system);
    ib_free(b->metric);
    ib_free(b->unit);
    ib_free(b->note);
    ib_free(b->source);
}

static int is_identifier(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Checks that need the whole record, reported at its first line. */
static int check_record(yp *Y, const rep_baseline *b, yaml_mark_t at)
{
    if (!is_identifier(b->metric))
        return yerr_at(Y, at, "metric '%s' must be lowercase letters, digits and '_'",
                       b->metric);
    static const struct {
        const char *metric, *unit;
        int needs_dataset;
    } known[] = {{"wall_time", "s", 1}, {"speedup", "x", 1}, {"overhead_per_task", "s", 0}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strcmp(b->metric, known[i].metric) != 0) continue;
        if (strcmp(b->unit, known[i].unit) != 0)
            return yerr_at(Y, at, "metric '%s' needs unit '%s', got '%s'", b->metric,
                           known[i].unit, b->unit);
        if (known[i].needs_dataset && !b->dataset)
            return yerr_at(Y, at, "metric '%s' needs a 'dataset'", b->metric);
    }
    return 0;
}

/* One record; the MAPPING_START event is current. */
static int parse_record(yp *Y, rep_baseline *b)
{
    memset(b, 0, sizeof *b);
    yaml_mark_t at = Y->ev.start_mark;
    b->line = (long)at.line + 1;
    b->bound = REP_BOUND_POINT;
    int seen[NFIELDS] = {0};
    int rc;
    for (;;) {
        if ((rc = next(Y))) return rc;
        if (Y->ev.type == YAML_MAPPING_END_EVENT) break;
        if (Y->ev.type != YAML_SCALAR_EVENT)
            return YERR(Y, "expected a key, got %s", event_kind(Y->ev.type));
        size_t f = 0;
        while (f < NFIELDS && strcmp(fields[f].key, sval(Y)) != 0) f++;
        if (f == NFIELDS)
            return YERR(Y, "unknown key '%s' (expected dataset, system, nodes, cores, threads, "
                           "chunks, support, metric, value, unit, label, bound, note)",
                        sval(Y));
        if (seen[f]) return YERR(Y, "duplicate key '%s'", fields[f].key);
        seen[f] = 1;
        char *base = (char *)b + fields[f].off;
        const char *key = fields[f].key;
        switch (fields[f].kind) {
        case F_STR: rc = get_str(Y, key, (char **)(void *)base); break;
        case F_INT: rc = get_int(Y, key, (int *)(void *)base); break;
        case F_NUM: rc = get_num(Y, key, (double *)(void *)base); break;
        case F_LABEL: rc = get_enum(Y, key, label_names, 2, (int *)(void *)base); break;
        case F_BOUND: rc = get_enum(Y, key, bound_names, 3, (int *)(void *)base); break;
        }
        if (rc) return rc;
    }
    for (size_t f = 0; f < NFIELDS; f++)
        if (fields[f].required && !seen[f])
            return yerr_at(Y, at, "record is missing '%s'", fields[f].key);
    return check_record(Y, b, at);
}

static int parse_list(yp *Y)
{
    int rc = expect(Y, YAML_SEQUENCE_START_EVENT, "a list of records under 'baselines'");
    if (rc) return rc;
    for (;;) {
        if ((rc = next(Y))) return rc;
        if (Y->ev.type == YAML_SEQUENCE_END_EVENT) return 0;
        if (Y->ev.type != YAML_MAPPING_START_EVENT)
            return YERR(Y, "wrong type: a record must be a mapping, got %s",
                        event_kind(Y->ev.type));
        if (Y->n >= MAX_RECORDS) return YERR(Y, "more than %d records", MAX_RECORDS);
        if (Y->n == Y->cap) {
            size_t nc = Y->cap ? 2 * Y->cap : 32;
            rep_baseline *r = ib_malloc(nc * sizeof *r);
            if (!r) return ib_error(Y->e, IB_ENOMEM, "baselines '%s': out of memory", Y->name);
            if (Y->n) memcpy(r, Y->recs, Y->n * sizeof *r);
            ib_free(Y->recs);
            Y->recs = r;
            Y->cap = nc;
        }
        rc = parse_record(Y, &Y->recs[Y->n]);
        Y->n++; /* counted even on failure so that its strings are freed */
        if (rc) return rc;
    }
}

static int parse_doc(yp *Y)
{
    int rc = expect(Y, YAML_STREAM_START_EVENT, "the start of the file");
    if (rc) return rc;
    if ((rc = next(Y))) return rc;
    if (Y->ev.type == YAML_STREAM_END_EVENT)
        return ib_error(Y->e, IB_EPARSE, "baselines '%s' line 1 column 1: empty file", Y->name);
    if (Y->ev.type != YAML_DOCUMENT_START_EVENT)
        return YERR(Y, "expected a document, got %s", event_kind(Y->ev.type));
    if ((rc = expect(Y, YAML_MAPPING_START_EVENT,
                     "a mapping with 'format', 'source' and 'baselines'")))
        return rc;
    yaml_mark_t top = Y->ev.start_mark;
    int have_format = 0, have_list = 0;
    char *source = NULL;
    for (;;) {
        if ((rc = next(Y))) goto out;
        if (Y->ev.type == YAML_MAPPING_END_EVENT) break;
        if (Y->ev.type != YAML_SCALAR_EVENT) {
            rc = YERR(Y, "expected a key, got %s", event_kind(Y->ev.type));
            goto out;
        }
        const char *k = sval(Y);
        if (strcmp(k, "format") == 0) {
            if (have_format) {
                rc = YERR(Y, "duplicate key 'format'");
                goto out;
            }
            have_format = 1;
            if ((rc = value_scalar(Y, "format"))) goto out;
            if (strcmp(sval(Y), FORMAT_ID) != 0) {
                rc = YERR(Y, "unsupported format '%s' (expected '%s')", sval(Y), FORMAT_ID);
                goto out;
            }
        } else if (strcmp(k, "source") == 0) {
            if (source) {
                rc = YERR(Y, "duplicate key 'source'");
                goto out;
            }
            if ((rc = get_str(Y, "source", &source))) goto out;
        } else if (strcmp(k, "baselines") == 0) {
            if (have_list) {
                rc = YERR(Y, "duplicate key 'baselines'");
                goto out;
            }
            have_list = 1;
            if ((rc = parse_list(Y))) goto out;
        } else {
            rc = YERR(Y, "unknown key '%s' (expected format, source, baselines)", k);
            goto out;
        }
    }
    if (!have_format) {
        rc = yerr_at(Y, top, "missing 'format: %s'", FORMAT_ID);
        goto out;
    }
    if (!have_list) {
        rc = yerr_at(Y, top, "missing 'baselines' (a list of records)");
        goto out;
    }
    if ((rc = expect(Y, YAML_DOCUMENT_END_EVENT, "the end of the document"))) goto out;
    if ((rc = next(Y))) goto out;
    if (Y->ev.type != YAML_STREAM_END_EVENT) {
        rc = YERR(Y, "only one document is allowed");
        goto out;
    }
    for (size_t i = 0; source && i < Y->n; i++) {
        if (!(Y->recs[i].source = ib_strdup(source))) {
            rc = ib_error(Y->e, IB_ENOMEM, "baselines '%s': out of memory", Y->name);
            goto out;
        }
    }
out:
    ib_free(source);
    return rc;
}

/* Parse from an initialised parser (input set); fills out/n. */
static int run(ib_err *e, const char *name, yp *Y, rep_baseline **out, size_t *n)
{
    Y->e = e;
    Y->name = name;
    int rc = parse_doc(Y);
    if (Y->have_ev) yaml_event_delete(&Y->ev);
    yaml_parser_delete(&Y->parser);
    if (rc) {
        rep_baselines_destroy(Y->recs, Y->n);
        return rc;
    }
    *out = Y->recs;
    *n = Y->n;
    return 0;
}

int rep_baselines_load(ib_err *e, const char *path, rep_baseline **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return ib_error(e, IB_EIO, "baselines '%s': %s", path, strerror(errno));
    yp Y;
    memset(&Y, 0, sizeof Y);
    if (!yaml_parser_initialize(&Y.parser)) {
        fclose(f);
        return ib_error(e, IB_ENOMEM, "baselines '%s': out of memory", path);
    }
    yaml_parser_set_input_file(&Y.parser, f);
    int rc = run(e, path, &Y, out, n);
    fclose(f);
    return rc;
}

int rep_baselines_parse(ib_err *e, const char *name, const char *text, size_t len,
                        rep_baseline **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    yp Y;
    memset(&Y, 0, sizeof Y);
    if (!yaml_parser_initialize(&Y.parser))
        return ib_error(e, IB_ENOMEM, "baselines '%s': out of memory", name);
    yaml_parser_set_input_string(&Y.parser, (const unsigned char *)text, len);
    return run(e, name, &Y, out, n);
}

void rep_baselines_destroy(rep_baseline *b, size_t n)
{
    if (!b) return;
    for (size_t i = 0; i < n; i++) free_record(&b[i]);
    ib_free(b);
}
