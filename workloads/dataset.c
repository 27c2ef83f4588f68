/*
 * dataset.c: dataset specs. Loads workloads/datasets/NAME.yaml through
 * libyaml's document API and checks it against a schema table: every key
 * known, every value of the right type and range, every required field
 * present, the cross-field facts consistent. Errors quote the file, the
 * line and column of the offending node and the dotted field name. Also
 * finds the datasets directory and lists the specs in it.
 */
#define _GNU_SOURCE
#include "common/params.h"
#include "workloads/workloads.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_SPEC_BYTES (1 << 20)

/* ---- schema ------------------------------------------------------- */

enum fid {
    F_NAME, F_DESC, F_PROJECT, F_MOUS, F_TELESCOPE, F_GRIDDER, F_ROWS, F_EB,
    F_POINTINGS, F_SHAPE, F_TIME, F_BASELINE, F_CHAN, F_POL, F_IMAGE, F_X, F_Y,
    F_VOLUME, F_CHUNKS, F_ASSUMPTIONS, F_A_POINTINGS, F_FREQ, F_WIDTH, F_DISH,
    F_EXTENT, F_LAT, F_RA, F_DEC, F_DURATION, F_CORR, F_COUNT
};

enum ftype {
    T_STR,     /* text */
    T_POSINT,  /* integer > 0 */
    T_DBL,     /* finite number in [lo, hi] */
    T_POSDBL,  /* finite number > 0 and <= hi */
    T_ENUM,    /* one of a list of words */
    T_SIZE,    /* "30 GB" */
    T_INTLIST, /* sequence of positive integers */
    T_CORR,    /* sequence of correlation names */
    T_MAP      /* nested mapping with its own table */
};

typedef struct field {
    const char *key;
    enum ftype type;
    int required;
    enum fid id;
    double lo, hi;                 /* T_DBL range, T_POSDBL/T_POSINT max (0: none) */
    const char *const *words;      /* T_ENUM */
    const struct field *sub;       /* T_MAP */
} field;

static const char *const telescope_words[] = {"alma", "aca", "vla", NULL};
static const char *const gridder_words[] = {"standard", "mosaic", NULL};

static const field shape_fields[] = {
    {"time", T_POSINT, 1, F_TIME, 0, 0, NULL, NULL},
    {"baseline", T_POSINT, 1, F_BASELINE, 0, 0, NULL, NULL},
    {"chan", T_POSINT, 1, F_CHAN, 0, 0, NULL, NULL},
    {"pol", T_POSINT, 1, F_POL, 0, WL_MAX_POL, NULL, NULL},
    {NULL, T_STR, 0, F_COUNT, 0, 0, NULL, NULL},
};

static const field image_fields[] = {
    {"x", T_POSINT, 1, F_X, 0, 1 << 20, NULL, NULL},
    {"y", T_POSINT, 1, F_Y, 0, 1 << 20, NULL, NULL},
    {NULL, T_STR, 0, F_COUNT, 0, 0, NULL, NULL},
};

static const field assumption_fields[] = {
    {"pointings", T_POSINT, 0, F_A_POINTINGS, 0, 100000, NULL, NULL},
    {"freq_start_ghz", T_POSDBL, 1, F_FREQ, 0, 2000, NULL, NULL},
    {"chan_width_khz", T_POSDBL, 1, F_WIDTH, 0, 1e7, NULL, NULL},
    {"dish_diameter_m", T_POSDBL, 1, F_DISH, 0, 1000, NULL, NULL},
    {"array_extent_m", T_POSDBL, 1, F_EXTENT, 0, 1e7, NULL, NULL},
    {"site_latitude_deg", T_DBL, 1, F_LAT, -90, 90, NULL, NULL},
    {"source_ra_deg", T_DBL, 1, F_RA, 0, 360, NULL, NULL},
    {"source_dec_deg", T_DBL, 1, F_DEC, -90, 90, NULL, NULL},
    {"duration_h", T_POSDBL, 1, F_DURATION, 0, 24, NULL, NULL},
    {"corr", T_CORR, 1, F_CORR, 0, 0, NULL, NULL},
    {NULL, T_STR, 0, F_COUNT, 0, 0, NULL, NULL},
};

static const field top_fields[] = {
    {"name", T_STR, 1, F_NAME, 0, 0, NULL, NULL},
    {"description", T_STR, 0, F_DESC, 0, 0, NULL, NULL},
    {"project", T_STR, 0, F_PROJECT, 0, 0, NULL, NULL},
    {"mous", T_STR, 0, F_MOUS, 0, 0, NULL, NULL},
    {"telescope", T_ENUM, 1, F_TELESCOPE, 0, 0, telescope_words, NULL},
    {"gridder", T_ENUM, 1, F_GRIDDER, 0, 0, gridder_words, NULL},
    {"rows", T_POSINT, 0, F_ROWS, 0, 0, NULL, NULL},
    {"execution_blocks", T_POSINT, 0, F_EB, 0, 100000, NULL, NULL},
    {"pointings", T_POSINT, 0, F_POINTINGS, 0, 100000, NULL, NULL},
    {"shape", T_MAP, 1, F_SHAPE, 0, 0, NULL, shape_fields},
    {"image", T_MAP, 1, F_IMAGE, 0, 0, NULL, image_fields},
    {"volume", T_SIZE, 0, F_VOLUME, 0, 0, NULL, NULL},
    {"chunks", T_INTLIST, 0, F_CHUNKS, 0, 0, NULL, NULL},
    {"assumptions", T_MAP, 1, F_ASSUMPTIONS, 0, 0, NULL, assumption_fields},
    {NULL, T_STR, 0, F_COUNT, 0, 0, NULL, NULL},
};

/* Correlation names and their AIPS Stokes codes. */
static const struct { const char *name; int code; } corr_names[] = {
    {"I", 1}, {"Q", 2}, {"U", 3}, {"V", 4}, {"RR", -1}, {"LL", -2}, {"RL", -3},
    {"LR", -4}, {"XX", -5}, {"YY", -6}, {"XY", -7}, {"YX", -8},
};

/* ---- parse state -------------------------------------------------- */

typedef struct value {
    int seen;
    yaml_mark_t mark;
    char path[64];
    int64_t i;
    double d;
    const char *s;               /* points into the YAML document */
    int list_n;
    int64_t list[WL_MAX_CHUNKS];
    int corr[WL_MAX_POL];
} value;

typedef struct pctx {
    ib_err *e;
    const char *file;
    yaml_document_t *doc;
    value v[F_COUNT];
} pctx;

static int perr(pctx *c, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int perr(pctx *c, yaml_mark_t m, const char *fmt, ...)
{
    char msg[1024], what[WL_PATH_MAX + 16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(what, sizeof what, "dataset '%s'", c->file);
    return ib_error_at(c->e, IB_EPARSE, what, m.line, m.column, "%s", msg);
}

static int quoted(const yaml_node_t *n)
{
    return n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
           n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
}

/* Shortened copy of a scalar for messages. */
static const char *shown(const yaml_node_t *n, char *buf, size_t size)
{
    snprintf(buf, size, "%s", (const char *)n->data.scalar.value);
    size_t len = strlen(buf);
    if (len + 1 == size && size > 4) memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* A plain (unquoted) scalar that is an integer: [+-]?[0-9]+. */
static int scalar_int(const yaml_node_t *n, int64_t *out)
{
    if (n->type != YAML_SCALAR_NODE || quoted(n)) return -1;
    const char *s = (const char *)n->data.scalar.value;
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p) return -1;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    return ib_parse_i64(s, out) ? -1 : 0;
}

static int scalar_dbl(const yaml_node_t *n, double *out)
{
    if (n->type != YAML_SCALAR_NODE || quoted(n)) return -1;
    const char *s = (const char *)n->data.scalar.value;
    if (!*s || *s == ' ' || *s == '\t') return -1;
    return ib_parse_double(s, out) ? -1 : 0;
}

static int want_pos_int(pctx *c, const yaml_node_t *n, const char *path, double max,
                        int64_t *out)
{
    char b[64];
    if (n->type != YAML_SCALAR_NODE)
        return perr(c, n->start_mark, "field '%s' must be a positive integer, got %s", path,
                    ib_yaml_kind(n));
    if (scalar_int(n, out) || *out <= 0)
        return perr(c, n->start_mark, "field '%s' must be a positive integer, got '%s'%s",
                    path, shown(n, b, sizeof b), quoted(n) ? " (a quoted string)" : "");
    if (max > 0 && (double)*out > max)
        return perr(c, n->start_mark, "field '%s' must be at most %.0f, got %lld", path, max,
                    (long long)*out);
    return 0;
}

/* "30 GB", "2.5 TB", "512 MiB" -> bytes. */
static int parse_size(const char *s, double *out)
{
    static const struct { const char *unit; double mult; } units[] = {
        {"B", 1}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
        {"PB", 1e15}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
        {"TiB", 1099511627776.0},
    };
    char num[64];
    const char *sp = strchr(s, ' ');
    if (!sp || (size_t)(sp - s) >= sizeof num) return -1;
    memcpy(num, s, (size_t)(sp - s));
    num[sp - s] = '\0';
    double v;
    if (ib_parse_double(num, &v) || !(v > 0)) return -1;
    while (*sp == ' ') sp++;
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++)
        if (strcmp(sp, units[k].unit) == 0) {
            *out = v * units[k].mult;
            return 0;
        }
    return -1;
}

static int parse_value(pctx *c, const field *f, const yaml_node_t *n, value *v);

/* Walk mapping node n against table fields; prefix is the dotted path. */
static int parse_map(pctx *c, const field *fields, const yaml_node_t *n, const char *prefix)
{
    char expected[256] = "";
    for (const field *f = fields; f->key; f++) {
        size_t len = strlen(expected);
        snprintf(expected + len, sizeof expected - len, "%s%s", len ? ", " : "", f->key);
    }
    if (n->type != YAML_MAPPING_NODE)
        return perr(c, n->start_mark, "%s%s%s must be a mapping (%s), got %s",
                    *prefix ? "field '" : "the document", prefix, *prefix ? "'" : "",
                    expected, ib_yaml_kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
        if (!k || !val) return perr(c, n->start_mark, "broken YAML node");
        if (k->type != YAML_SCALAR_NODE)
            return perr(c, k->start_mark, "keys must be plain words, got %s", ib_yaml_kind(k));
        const char *key = (const char *)k->data.scalar.value;
        const field *f = fields;
        while (f->key && strcmp(f->key, key) != 0) f++;
        char path[64];
        snprintf(path, sizeof path, "%s%s%.40s", prefix, *prefix ? "." : "", key);
        if (!f->key)
            return perr(c, k->start_mark, "unknown field '%s' (expected one of %s)", path,
                        expected);
        value *v = &c->v[f->id];
        if (v->seen)
            return perr(c, k->start_mark, "field '%s' is given twice (first at line %zu)",
                        path, v->mark.line + 1);
        v->seen = 1;
        v->mark = val->start_mark;
        snprintf(v->path, sizeof v->path, "%s", path);
        int rc = parse_value(c, f, val, v);
        if (rc) return rc;
    }
    for (const field *f = fields; f->key; f++)
        if (f->required && !c->v[f->id].seen)
            return perr(c, n->start_mark, "field '%s%s%s' is required", prefix,
                        *prefix ? "." : "", f->key);
    return 0;
}

static int parse_value(pctx *c, const field *f, const yaml_node_t *n, value *v)
{
    char b[64];
    const char *path = v->path;
    switch (f->type) {
    case T_MAP:
        return parse_map(c, f->sub, n, path);
    case T_STR:
        if (n->type != YAML_SCALAR_NODE)
            return perr(c, n->start_mark, "field '%s' must be text, got %s", path,
                        ib_yaml_kind(n));
        v->s = (const char *)n->data.scalar.value;
        return 0;
    case T_ENUM: {
        if (n->type == YAML_SCALAR_NODE)
            for (const char *const *w = f->words; *w; w++)
                if (strcmp(*w, (const char *)n->data.scalar.value) == 0) {
                    v->i = w - f->words;
                    return 0;
                }
        char list[128] = "";
        for (const char *const *w = f->words; *w; w++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", *w);
        }
        if (n->type != YAML_SCALAR_NODE)
            return perr(c, n->start_mark, "field '%s' must be one of %s, got %s", path, list,
                        ib_yaml_kind(n));
        return perr(c, n->start_mark, "field '%s' must be one of %s, got '%s'", path, list,
                    shown(n, b, sizeof b));
    }
    case T_POSINT:
        return want_pos_int(c, n, path, f->hi, &v->i);
    case T_DBL:
    case T_POSDBL: {
        const char *what = f->type == T_DBL ? "a number" : "a positive number";
        if (n->type != YAML_SCALAR_NODE)
            return perr(c, n->start_mark, "field '%s' must be %s, got %s", path, what,
                        ib_yaml_kind(n));
        if (scalar_dbl(n, &v->d))
            return perr(c, n->start_mark, "field '%s' must be %s, got '%s'%s", path, what,
                        shown(n, b, sizeof b), quoted(n) ? " (a quoted string)" : "");
        if (f->type == T_POSDBL && !(v->d > 0))
            return perr(c, n->start_mark, "field '%s' must be a positive number, got '%s'",
                        path, shown(n, b, sizeof b));
        if (f->type == T_POSDBL && f->hi > 0 && v->d > f->hi)
            return perr(c, n->start_mark, "field '%s' must be at most %g, got %g", path, f->hi,
                        v->d);
        if (f->type == T_DBL && (v->d < f->lo || v->d > f->hi))
            return perr(c, n->start_mark, "field '%s' must be in [%g, %g], got %g", path,
                        f->lo, f->hi, v->d);
        return 0;
    }
    case T_SIZE:
        if (n->type != YAML_SCALAR_NODE || parse_size((const char *)n->data.scalar.value,
                                                      &v->d))
            return perr(c, n->start_mark,
                        "field '%s' must be a size such as '30 GB' or '2.5 TB', got %s%s%s",
                        path, n->type == YAML_SCALAR_NODE ? "'" : "",
                        n->type == YAML_SCALAR_NODE ? shown(n, b, sizeof b) : ib_yaml_kind(n),
                        n->type == YAML_SCALAR_NODE ? "'" : "");
        return 0;
    case T_INTLIST:
    case T_CORR: {
        int max = f->type == T_INTLIST ? WL_MAX_CHUNKS : WL_MAX_POL;
        if (n->type != YAML_SEQUENCE_NODE)
            return perr(c, n->start_mark, "field '%s' must be a sequence such as %s, got %s",
                        path, f->type == T_INTLIST ? "[512, 256]" : "[XX, YY]",
                        ib_yaml_kind(n));
        v->list_n = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             it < n->data.sequence.items.top; it++) {
            yaml_node_t *item = yaml_document_get_node(c->doc, *it);
            char ipath[80];
            snprintf(ipath, sizeof ipath, "%s[%d]", path, v->list_n);
            if (!item) return perr(c, n->start_mark, "broken YAML node");
            if (v->list_n >= max)
                return perr(c, item->start_mark, "field '%s' has more than %d entries", path,
                            max);
            if (f->type == T_INTLIST) {
                int rc = want_pos_int(c, item, ipath, 0, &v->list[v->list_n]);
                if (rc) return rc;
            } else {
                int code = 0;
                if (item->type == YAML_SCALAR_NODE)
                    for (size_t k = 0; k < sizeof corr_names / sizeof corr_names[0]; k++)
                        if (strcmp(corr_names[k].name, (const char *)item->data.scalar.value) == 0)
                            code = corr_names[k].code;
                if (!code)
                    return perr(c, item->start_mark,
                                "field '%s' must be a correlation (XX, YY, XY, YX, RR, LL, RL, "
                                "LR, I, Q, U, V), got %s%s%s", ipath,
                                item->type == YAML_SCALAR_NODE ? "'" : "",
                                item->type == YAML_SCALAR_NODE ? shown(item, b, sizeof b)
                                                               : ib_yaml_kind(item),
                                item->type == YAML_SCALAR_NODE ? "'" : "");
                for (int k = 0; k < v->list_n; k++)
                    if (v->corr[k] == code)
                        return perr(c, item->start_mark, "field '%s' repeats '%s'", path,
                                    (const char *)item->data.scalar.value);
                v->corr[v->list_n] = code;
            }
            v->list_n++;
        }
        if (v->list_n == 0)
            return perr(c, n->start_mark, "field '%s' must not be empty", path);
        return 0;
    }
    }
    return perr(c, n->start_mark, "field '%s': internal schema error", path);
}

/* ---- from parsed values to wl_dataset ------------------------------ */

static int copy_text(pctx *c, enum fid id, char *dst, size_t n)
{
    value *v = &c->v[id];
    if (!v->seen) {
        dst[0] = '\0';
        return 0;
    }
    if (strlen(v->s) >= n)
        return perr(c, v->mark, "field '%s' is longer than %zu characters", v->path, n - 1);
    memcpy(dst, v->s, strlen(v->s) + 1);
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int fill(pctx *c, wl_dataset *d)
{
    value *v = c->v;
    int rc;
    if ((rc = copy_text(c, F_NAME, d->name, sizeof d->name)) ||
        (rc = copy_text(c, F_DESC, d->description, sizeof d->description)) ||
        (rc = copy_text(c, F_PROJECT, d->project, sizeof d->project)) ||
        (rc = copy_text(c, F_MOUS, d->mous, sizeof d->mous)))
        return rc;
    if (!valid_name(d->name) || d->name[0] == '.')
        return perr(c, v[F_NAME].mark,
                    "field 'name' must be lowercase letters, digits, '-', '_' or '.', got '%s'",
                    d->name);
    /* The name keys the cache and the file lookup: it must match the file. */
    const char *base = strrchr(c->file, '/');
    base = base ? base + 1 : c->file;
    size_t bl = strlen(base);
    if (bl > 5 && strcmp(base + bl - 5, ".yaml") == 0 &&
        (bl - 5 != strlen(d->name) || strncmp(base, d->name, bl - 5) != 0))
        return perr(c, v[F_NAME].mark, "field 'name' is '%s' but the file is '%s'", d->name,
                    base);
    d->telescope = (enum wl_telescope)v[F_TELESCOPE].i;
    d->gridder = (enum wl_gridder)v[F_GRIDDER].i;
    d->ntime = v[F_TIME].i;
    d->nbaseline = v[F_BASELINE].i;
    d->nchan = v[F_CHAN].i;
    d->npol = (int)v[F_POL].i;
    d->image_nx = (int)v[F_X].i;
    d->image_ny = (int)v[F_Y].i;
    if (d->ntime > INT64_MAX / d->nbaseline)
        return perr(c, v[F_BASELINE].mark, "shape time x baseline overflows");
    d->rows = v[F_ROWS].seen ? v[F_ROWS].i : d->ntime * d->nbaseline;
    if (d->rows > d->ntime * d->nbaseline)
        return perr(c, v[F_ROWS].mark,
                    "field 'rows' is %lld, more than shape.time x shape.baseline = %lld",
                    (long long)d->rows, (long long)(d->ntime * d->nbaseline));
    d->volume_bytes = v[F_VOLUME].seen ? v[F_VOLUME].d : 0;
    d->nchunks = v[F_CHUNKS].seen ? v[F_CHUNKS].list_n : 0;
    for (int k = 0; k < d->nchunks; k++) d->chunks[k] = v[F_CHUNKS].list[k];
    d->execution_blocks = v[F_EB].seen ? (int)v[F_EB].i : 0;

    /* Pointings: a fact (top level) or an assumption, never both. */
    if (v[F_POINTINGS].seen && v[F_A_POINTINGS].seen)
        return perr(c, v[F_A_POINTINGS].mark,
                    "field 'assumptions.pointings' repeats the stated 'pointings' (line %zu)",
                    v[F_POINTINGS].mark.line + 1);
    const value *pv = v[F_POINTINGS].seen ? &v[F_POINTINGS] : &v[F_A_POINTINGS];
    if (d->gridder == WL_GRIDDER_MOSAIC) {
        if (!pv->seen)
            return perr(c, v[F_GRIDDER].mark,
                        "a mosaic needs 'pointings' (stated) or 'assumptions.pointings'");
        d->npointing = (int)pv->i;
        d->npointing_assumed = pv == &v[F_A_POINTINGS];
    } else {
        if (pv->seen && pv->i != 1)
            return perr(c, pv->mark, "field '%s' must be 1 for a standard (single-pointing) "
                        "dataset, got %lld", pv->path, (long long)pv->i);
        d->npointing = 1;
        d->npointing_assumed = 0;
    }

    const double deg = M_PI / 180.0;
    d->freq_start_hz = v[F_FREQ].d * 1e9;
    d->chan_width_hz = v[F_WIDTH].d * 1e3;
    d->dish_m = v[F_DISH].d;
    d->extent_m = v[F_EXTENT].d;
    d->latitude_rad = v[F_LAT].d * deg;
    d->ra_rad = v[F_RA].d * deg;
    d->dec_rad = v[F_DEC].d * deg;
    d->duration_s = v[F_DURATION].d * 3600.0;
    if (v[F_RA].d >= 360.0)
        return perr(c, v[F_RA].mark, "field 'assumptions.source_ra_deg' must be below 360");
    if (d->extent_m < 2.0 * d->dish_m)
        return perr(c, v[F_EXTENT].mark,
                    "field 'assumptions.array_extent_m' (%g) must be at least twice the dish "
                    "diameter (%g)", d->extent_m, d->dish_m);
    if (v[F_CORR].list_n != d->npol)
        return perr(c, v[F_CORR].mark,
                    "field 'assumptions.corr' lists %d correlations but shape.pol is %d",
                    v[F_CORR].list_n, d->npol);
    for (int k = 0; k < d->npol; k++) d->corr[k] = v[F_CORR].corr[k];

    /* The source must stay above the horizon for the whole track (centred
     * on transit), or the uv tracks would be fiction. */
    double h = 0.5 * d->duration_s * (2.0 * M_PI / 86164.0905);
    double sin_el = sin(d->latitude_rad) * sin(d->dec_rad) +
                    cos(d->latitude_rad) * cos(d->dec_rad) * cos(h);
    if (sin_el <= 0.0)
        return perr(c, v[F_DEC].mark,
                    "a source at declination %g deg is below the horizon at latitude %g deg "
                    "%.2f h from transit (duration_h %g)", v[F_DEC].d, v[F_LAT].d,
                    0.5 * v[F_DURATION].d, v[F_DURATION].d);
    return 0;
}

/* Line and column of a byte offset, for libyaml reader errors. */
static void offset_mark(const char *buf, size_t off, yaml_mark_t *m)
{
    m->line = 0;
    m->column = 0;
    for (size_t i = 0; i < off && buf[i]; i++) {
        if (buf[i] == '\n') {
            m->line++;
            m->column = 0;
        } else {
            m->column++;
        }
    }
}

static int read_file(ib_err *e, const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ib_error(e, errno == ENOENT ? IB_ENOTFOUND : IB_EIO,
                        "dataset '%s': cannot open: %s", path, strerror(errno));
    char *buf = ib_malloc(MAX_SPEC_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ib_error(e, IB_ENOMEM, "dataset '%s': out of memory", path);
    }
    size_t n = fread(buf, 1, MAX_SPEC_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        ib_free(buf);
        return ib_error(e, IB_EIO, "dataset '%s': read error", path);
    }
    if (n > MAX_SPEC_BYTES) {
        ib_free(buf);
        return ib_error(e, IB_EPARSE, "dataset '%s': larger than %d bytes", path,
                        MAX_SPEC_BYTES);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int wl_dataset_load(ib_err *e, const char *path, wl_dataset *out)
{
    char *buf;
    size_t len = 0;
    int rc = read_file(e, path, &buf, &len);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    if (strlen(path) >= sizeof out->path) {
        ib_free(buf);
        return ib_error(e, IB_EOVERFLOW, "dataset path '%s' is too long", path);
    }
    memcpy(out->path, path, strlen(path) + 1);

    pctx *c = ib_calloc(1, sizeof *c);
    if (!c) {
        ib_free(buf);
        return ib_error(e, IB_ENOMEM, "dataset '%s': out of memory", path);
    }
    c->e = e;
    c->file = path;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        ib_free(c);
        ib_free(buf);
        return ib_error(e, IB_ENOMEM, "dataset '%s': cannot initialise libyaml", path);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t m = parser.problem_mark;
        if (parser.error == YAML_READER_ERROR) offset_mark(buf, parser.problem_offset, &m);
        rc = perr(c, m, "YAML error: %s%s%s", parser.problem ? parser.problem : "malformed",
                  parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        ib_free(c);
        ib_free(buf);
        return rc;
    }
    c->doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = ib_error(e, IB_EPARSE, "dataset '%s': empty file, expected a mapping of dataset "
                      "fields", path);
    } else {
        rc = parse_map(c, top_fields, root, "");
        if (!rc) {
            /* One document per file: a second one is almost surely a mistake. */
            yaml_document_t extra;
            if (!yaml_parser_load(&parser, &extra)) {
                rc = perr(c, parser.problem_mark, "YAML error: %s",
                          parser.problem ? parser.problem : "malformed");
            } else {
                yaml_node_t *r2 = yaml_document_get_root_node(&extra);
                if (r2) rc = perr(c, r2->start_mark, "more than one YAML document");
                yaml_document_delete(&extra);
            }
        }
        if (!rc) rc = fill(c, out);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    ib_free(c);
    ib_free(buf);
    return rc;
}

const char *wl_telescope_name(enum wl_telescope t)
{
    switch (t) {
    case WL_TEL_ALMA: return "ALMA";
    case WL_TEL_ACA: return "ACA";
    case WL_TEL_VLA: return "VLA";
    }
    return "unknown";
}

const char *wl_gridder_name(enum wl_gridder g)
{
    return g == WL_GRIDDER_MOSAIC ? "mosaic" : "standard";
}

/* ---- finding specs ------------------------------------------------- */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int set_dir(ib_err *e, char *out, size_t n, const char *dir)
{
    char real[PATH_MAX];
    const char *use = realpath(dir, real) ? real : dir;
    if (strlen(use) >= n)
        return ib_error(e, IB_EOVERFLOW, "datasets directory '%s' is too long", use);
    memcpy(out, use, strlen(use) + 1);
    return 0;
}

int wl_datasets_dir(ib_err *e, const char *dir, char *out, size_t n)
{
    if (dir && *dir) {
        if (!is_dir(dir))
            return ib_error(e, IB_ENOTFOUND, "datasets directory '%s' does not exist", dir);
        return set_dir(e, out, n, dir);
    }
    const char *env = getenv("IMBENCH_DATASETS");
    if (env && *env) {
        if (!is_dir(env))
            return ib_error(e, IB_ENOTFOUND,
                            "datasets directory '%s' (from IMBENCH_DATASETS) does not exist",
                            env);
        return set_dir(e, out, n, env);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        /* build/bin, or build/<sanitizer>/bin one level deeper, or an
         * installed PREFIX/bin beside PREFIX/share/imbench (make install) */
        static const char *const rel[] = {"/../../workloads/datasets",
                                          "/../../../workloads/datasets",
                                          "/../share/imbench/datasets"};
        for (size_t k = 0; k < sizeof rel / sizeof *rel; k++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s%s", exe, rel[k]);
            if (is_dir(cand)) return set_dir(e, out, n, cand);
        }
    }
#ifdef IB_DATADIR
    /* the datadir compiled in (the Makefile's PREFIX/share/imbench) */
    if (is_dir(IB_DATADIR "/datasets")) return set_dir(e, out, n, IB_DATADIR "/datasets");
#endif
    return ib_error(e, IB_ENOTFOUND,
                    "no datasets directory: pass --datasets-dir or set IMBENCH_DATASETS");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int wl_dataset_names(ib_err *e, const char *dir, char *out, size_t n)
{
    char d[WL_PATH_MAX];
    int rc = wl_datasets_dir(e, dir, d, sizeof d);
    if (rc) return rc;
    DIR *dp = opendir(d);
    if (!dp) return ib_error(e, IB_EIO, "cannot list datasets directory '%s': %s", d,
                             strerror(errno));
    enum { MAXN = 512 };
    char *names[MAXN];
    int count = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && count < MAXN) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".yaml") != 0)
            continue;
        names[count] = ib_strdup(de->d_name);
        if (!names[count]) break;
        names[count][len - 5] = '\0';
        count++;
    }
    closedir(dp);
    /* cppcheck-suppress uninitvar ; qsort reads names[0..count), all set */
    qsort(names, (size_t)count, sizeof names[0], cmp_str);
    if (n) out[0] = '\0';
    size_t used = 0;
    for (int k = 0; k < count; k++) {
        size_t len = strlen(names[k]) + (k ? 2 : 0);
        if (n && used + len + 4 < n) {
            used += (size_t)snprintf(out + used, n - used, "%s%s", k ? ", " : "", names[k]);
        } else if (n && used + 4 < n) {
            used += (size_t)snprintf(out + used, n - used, "...");
            n = 0; /* stop appending */
        }
        ib_free(names[k]);
    }
    return count;
}

int wl_dataset_find(ib_err *e, const char *name, const char *dir, wl_dataset *out)
{
    size_t len = strlen(name);
    /* A name, never a path: a dataset named in a suite, a record or on
     * the command line opens no file but NAME.yaml in the datasets
     * directory (a spec of one's own goes there, or in --datasets-dir). */
    char why[512];
    ib_pval unused;
    if (ib_param_parse(IB_P_DATASET, name, &unused, why, sizeof why))
        return ib_error(e, IB_EINVAL, "%s", why);
    char d[WL_PATH_MAX], path[WL_PATH_MAX];
    int rc = wl_datasets_dir(e, dir, d, sizeof d);
    if (rc) return rc;
    char file[WL_NAME_MAX + 8];
    if (len == 0 || len >= WL_NAME_MAX || !valid_name(name) || name[0] == '.') {
        path[0] = '\0';
    } else {
        snprintf(file, sizeof file, "%s.yaml", name);
        if ((rc = ib_path_join(e, path, sizeof path, d, file))) return rc;
    }
    if (!path[0] || access(path, F_OK) != 0) {
        char known[1024];
        ib_err tmp;
        ib_err_init(&tmp);
        int nk = wl_dataset_names(&tmp, d, known, sizeof known);
        return ib_error(e, IB_ENOTFOUND, "unknown dataset '%s' (known in '%s': %s)", name, d,
                        nk > 0 ? known : "none");
    }
    return wl_dataset_load(e, path, out);
}
