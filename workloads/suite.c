/*
 * suite.c: benchmark suites. Reads a suite file with libyaml's document
 * API, validates every key and value with the parameter table
 * (common/params.h: each error quoting file, line, column and what was
 * expected, in the imager's words), resolves the datasets through their
 * specs and the generator's cache key, and expands the parameter axes
 * into cells: a full matrix over the axes, zip groups varying together,
 * exclude rules dropping cells. Each cell gets a canonical parameter JSON
 * and its SHA-256 as content hash (cell.c). Every step is linear in the
 * file's size (see suite.h); expansion is bounded by MAX_CELLS and
 * MAX_WORK.
 */
#define _GNU_SOURCE
#include "workloads/suite.h"
#include "workloads/wl_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_SUITE_BYTES (1 << 20)
#define MAX_CELLS 100000
#define MAX_ZIP 16
/* Datasets one suite may list (each holds its spec and axes while the
 * suite is read). */
#define MAX_DATASETS 1024
/* Anchors a suite may define: libyaml looks each new anchor and each
 * alias up in a list, so their number must stay small. */
#define MAX_ANCHORS 256
/* Cell evaluations (combinations of axis values, each against the
 * exclude rules that apply): the expansion's work, bounded whatever the
 * axes multiply to. */
#define MAX_WORK ((uint64_t)1 << 26)
/* Warnings kept for a suite (the rest are counted). */
#define MAX_WARNINGS 20

/* ---- the suite file ------------------------------------------------------ */

typedef struct axis {
    int set;
    size_t n;
    ib_pval *v;
    yaml_node_t *node;
} axis;

typedef struct dsentry {
    wl_cell base;               /* dataset name and dataset keys given here */
    yaml_node_t *where[IB_NPARAM]; /* the node of each dataset key's value */
    wl_dataset spec;
    yaml_node_t *node;
    axis ax[IB_NPARAM];         /* overrides (set = 1) */
    size_t *rules, nrules;      /* exclude rules naming this dataset */
} dsentry;

typedef struct zipgroup {
    int n, members[IB_NPARAM];
    yaml_node_t *node;
} zipgroup;

/* An exclude rule: for each axis it names, a set of values; the datasets
 * it names (none: every dataset). */
typedef struct rule {
    int nax;
    int *ids;
    axis *ax;
} rule;

typedef struct parser {
    ib_err *e;
    const char *file;
    char what[1100];            /* "suite 'FILE'" */
    yaml_document_t doc;
    long budget;                /* items the walk may still visit (aliases repeat) */
    /* suite-level values: dataset keys and settings */
    char name[64];
    ib_pval top[IB_NPARAM];
    yaml_node_t *top_node[IB_NPARAM];
    axis ax[IB_NPARAM];
    int order[IB_NPARAM], norder; /* axes in order of appearance */
    dsentry *ds;
    size_t nds;
    wl__hset ds_names;
    zipgroup zip[MAX_ZIP];
    int nzip;
    rule *rules;
    size_t nrules;
    size_t *rules_all, nrules_all; /* rules that name no dataset */
    const char *datasets_dir;
    const ib_machine *machine;
    uint64_t work;
    char *warn;                 /* warnings so far (heap) */
    size_t nwarn, warn_len;
} parser;

static int perr(parser *p, yaml_node_t *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(parser *p, yaml_node_t *n, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ib_yaml_error(p->e, p->what, n, "%s", msg);
    if (p->e) p->e->code = code;
    return code;
}

static int nomem(parser *p)
{
    return ib_error(p->e, IB_ENOMEM, "out of memory reading %s", p->what);
}

static yaml_node_t *node(parser *p, yaml_node_item_t i)
{
    return yaml_document_get_node(&p->doc, i);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Count k items against the walk's budget: aliases let a small file name
 * one big list many times, and each time would be walked. */
static int spend(parser *p, yaml_node_t *n, size_t k)
{
    p->budget -= (long)k;
    if (p->budget < 0)
        return perr(p, n, IB_EPARSE, "aliases repeat more values than the file holds "
                                     "(expected each list and mapping to be used a few times)");
    return 0;
}

/* Where keys are read, and which keys each accepts. */
enum keyset { KS_TOP, KS_DATASET, KS_AXES, KS_RULE };

static const char *const top_structure[] = {"name", "description", "datasets", "axes", "zip",
                                            "exclude", NULL};
static const char *const dataset_structure[] = {"name", "axes", NULL};
static const char *const rule_structure[] = {"dataset", NULL};

static const char *const *structure_of(enum keyset ks)
{
    return ks == KS_TOP ? top_structure : ks == KS_DATASET ? dataset_structure
                                      : ks == KS_RULE      ? rule_structure
                                                           : NULL;
}

static unsigned flags_of(enum keyset ks)
{
    return ks == KS_TOP ? IB_PF_DATA | IB_PF_SUITE : ks == KS_DATASET ? IB_PF_DATA : IB_PF_AXIS;
}

/* Is key one of ks's? Its parameter id in *id (-1: a structural key). */
static int known_key(enum keyset ks, const char *key, int *id)
{
    *id = -1;
    const char *const *st = structure_of(ks);
    for (int i = 0; st && st[i]; i++)
        if (!strcmp(st[i], key)) return 1;
    int k = ib_param_find(key);
    /* the dataset is named by 'name' (entries) and 'dataset' (rules) */
    if (k < 0 || k == IB_P_DATASET || !(ib_param_get(k)->flags & flags_of(ks))) return 0;
    *id = k;
    return 1;
}

/* "a, b, ..." of ks's keys into buf. */
static void key_list(enum keyset ks, char *buf, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    const char *const *st = structure_of(ks);
    for (int i = 0; st && st[i] && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "", st[i]);
    for (int id = 0; id < IB_NPARAM && len < n; id++)
        if (id != IB_P_DATASET && (ib_param_get(id)->flags & flags_of(ks)))
            len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? ", " : "",
                                    ib_param_get(id)->name);
}

/* Mapping keys: scalars, known to ks, each once. At most as many pairs
 * as known keys are looked at before an error, so this is short. */
static int check_keys(parser *p, yaml_node_t *map, const char *what, enum keyset ks)
{
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top;
         a++) {
        yaml_node_t *k = node(p, a->key);
        const char *ks_ = scalar(k);
        int id;
        if (!ks_)
            return perr(p, k, IB_EPARSE, "%s keys must be scalars, got %s", what,
                        ib_yaml_kind(k));
        if (!known_key(ks, ks_, &id)) {
            char list[1024];
            key_list(ks, list, sizeof list);
            return perr(p, k, IB_EPARSE, "unknown key '%s' in %s (expected one of: %s)", ks_,
                        what, list);
        }
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(node(p, b->key));
            if (kb && strcmp(kb, ks_) == 0)
                return perr(p, k, IB_EPARSE, "duplicate key '%s' in %s", ks_, what);
        }
    }
    return spend(p, map, (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start));
}

/* One value of parameter id at node n, checked by the table. */
static int get_value(parser *p, yaml_node_t *n, int id, ib_pval *out)
{
    const char *t = scalar(n);
    if (!t)
        return perr(p, n, IB_EPARSE, "'%s' must be a single value, got %s",
                    ib_param_get(id)->name, ib_yaml_kind(n));
    char why[512];
    if (ib_param_parse(id, t, out, why, sizeof why)) return perr(p, n, IB_EPARSE, "%s", why);
    return 0;
}

/* The items of a list, or one scalar as a list of one. */
static int items_of(parser *p, yaml_node_t *n, yaml_node_item_t *one, yaml_node_item_t **start,
                    yaml_node_item_t **top)
{
    if (n->type == YAML_SCALAR_NODE) {
        *one = (yaml_node_item_t)(n - p->doc.nodes.start + 1);
        *start = one;
        *top = one + 1;
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE) return -1;
    *start = n->data.sequence.items.start;
    *top = n->data.sequence.items.top;
    return 0;
}

/* Values of axis id from a list or a single scalar. */
static int parse_axis(parser *p, int id, yaml_node_t *n, axis *out)
{
    const char *name = ib_param_get(id)->name;
    yaml_node_item_t one, *start, *top;
    if (items_of(p, n, &one, &start, &top))
        return perr(p, n, IB_EPARSE, "axis '%s' must be a list of values, got %s", name,
                    ib_yaml_kind(n));
    size_t count = (size_t)(top - start);
    if (count == 0 || (n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0))
        return perr(p, n, IB_EPARSE, "axis '%s' is empty (expected a non-empty list of values)",
                    name);
    int r = spend(p, n, count);
    if (r) return r;
    out->v = ib_calloc(count, sizeof *out->v);
    if (!out->v) return nomem(p);
    out->n = count;
    out->set = 1;
    out->node = n;
    wl__hset seen = {0};
    for (size_t i = 0; i < count && !r; i++) {
        yaml_node_t *v = node(p, start[i]);
        if (!scalar(v)) {
            r = perr(p, v, IB_EPARSE, "axis '%s' values must be scalars, got %s", name,
                     ib_yaml_kind(v));
            break;
        }
        r = get_value(p, v, id, &out->v[i]);
        uint64_t key = wl__pval_key(&out->v[i]);
        size_t pos = SIZE_MAX, j;
        while (!r && (j = wl__hset_next(&seen, key, &pos)) != SIZE_MAX)
            if (ib_param_equal(id, &out->v[i], &out->v[j]))
                r = perr(p, v, IB_EPARSE, "axis '%s' lists '%s' twice", name, scalar(v));
        if (!r && wl__hset_add(&seen, key, i)) r = nomem(p);
    }
    wl__hset_release(&seen);
    return r;
}

static void note_order(parser *p, int id)
{
    for (int i = 0; i < p->norder; i++)
        if (p->order[i] == id) return;
    p->order[p->norder++] = id;
}

static int parse_axes(parser *p, yaml_node_t *n, axis *ax)
{
    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, IB_EPARSE, "'axes' must be a mapping of axis names to lists, got %s",
                    ib_yaml_kind(n));
    int r = check_keys(p, n, "'axes'", KS_AXES);
    if (r) return r;
    for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
         a++) {
        int id = ib_param_find(scalar(node(p, a->key)));
        r = parse_axis(p, id, node(p, a->value), &ax[id]);
        if (r) return r;
        note_order(p, id);
    }
    return 0;
}

static int parse_dataset(parser *p, yaml_node_t *n, dsentry *d)
{
    yaml_node_t *name = NULL;
    if (n->type == YAML_SCALAR_NODE) {
        name = n;
    } else if (n->type == YAML_MAPPING_NODE) {
        int r = check_keys(p, n, "a dataset entry", KS_DATASET);
        if (r) return r;
        for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
             a++) {
            const char *k = scalar(node(p, a->key));
            yaml_node_t *v = node(p, a->value);
            int id = ib_param_find(k);
            if (!strcmp(k, "name")) name = v;
            else if (!strcmp(k, "axes")) r = parse_axes(p, v, d->ax);
            else {
                r = get_value(p, v, id, &d->base.v[id]);
                d->where[id] = v;
            }
            if (r) return r;
        }
        if (!name) return perr(p, n, IB_EPARSE, "dataset entry needs a 'name'");
    } else {
        return perr(p, n, IB_EPARSE, "dataset entries must be a name or a mapping with 'name', "
                                     "got %s", ib_yaml_kind(n));
    }
    const char *t = scalar(name);
    if (!t || !*t) return perr(p, name, IB_EPARSE, "dataset name must be a non-empty string");
    char why[512];
    ib_pval unused;
    if (ib_param_parse(IB_P_DATASET, t, &unused, why, sizeof why))
        return perr(p, name, IB_EPARSE, "%s", why);
    snprintf(d->base.dataset, sizeof d->base.dataset, "%s", t);
    d->base.v[IB_P_DATASET].set = 1;
    d->node = name;
    d->where[IB_P_DATASET] = name;
    return 0;
}

/* The index of the dataset named name, or SIZE_MAX. */
static size_t dataset_index(const parser *p, const char *name)
{
    size_t pos = SIZE_MAX, j;
    while ((j = wl__hset_next(&p->ds_names, wl__name_key(name), &pos)) != SIZE_MAX)
        if (!strcmp(p->ds[j].base.dataset, name)) return j;
    return SIZE_MAX;
}

static int parse_datasets(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
        return perr(p, n, IB_EPARSE, "'datasets' must be a non-empty list of dataset names, "
                                     "got %s",
                    n->type == YAML_SEQUENCE_NODE ? "an empty list" : ib_yaml_kind(n));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > MAX_DATASETS)
        return perr(p, n, IB_EPARSE, "more than %d datasets (got %zu)", MAX_DATASETS, count);
    int r = spend(p, n, count);
    if (r) return r;
    p->ds = ib_calloc(count, sizeof *p->ds);
    if (!p->ds) return nomem(p);
    p->nds = count;
    for (size_t i = 0; i < count; i++) {
        r = parse_dataset(p, node(p, n->data.sequence.items.start[i]), &p->ds[i]);
        if (r) return r;
        if (dataset_index(p, p->ds[i].base.dataset) != SIZE_MAX)
            return perr(p, p->ds[i].node, IB_EPARSE, "dataset '%s' is listed twice",
                        p->ds[i].base.dataset);
        if (wl__hset_add(&p->ds_names, wl__name_key(p->ds[i].base.dataset), i)) return nomem(p);
    }
    return 0;
}

static int parse_zip(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, IB_EPARSE, "'zip' must be a list of lists of axis names, got %s",
                    ib_yaml_kind(n));
    int used[IB_NPARAM] = {0};
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *g = node(p, *it);
        if (g->type != YAML_SEQUENCE_NODE)
            return perr(p, g, IB_EPARSE, "a zip group must be a list of axis names, got %s",
                        ib_yaml_kind(g));
        if (p->nzip == MAX_ZIP) return perr(p, g, IB_EPARSE, "more than %d zip groups", MAX_ZIP);
        zipgroup *z = &p->zip[p->nzip++];
        z->node = g;
        for (yaml_node_item_t *m = g->data.sequence.items.start; m < g->data.sequence.items.top;
             m++) {
            yaml_node_t *mn = node(p, *m);
            const char *t = scalar(mn);
            int id = t ? ib_param_find(t) : -1;
            if (id < 0 || !(ib_param_get(id)->flags & IB_PF_AXIS)) {
                char list[1024];
                key_list(KS_AXES, list, sizeof list);
                return perr(p, mn, IB_EPARSE, "zip group member must be an axis name (%s), "
                                              "got %s%s%s", list, t ? "'" : "",
                            t ? t : ib_yaml_kind(mn), t ? "'" : "");
            }
            if (used[id])
                return perr(p, mn, IB_EPARSE, "axis '%s' is in more than one zip group or "
                                              "twice in one", t);
            used[id] = 1;
            z->members[z->n++] = id;
        }
        if (z->n < 2)
            return perr(p, g, IB_EPARSE, "a zip group needs at least two axes, got %d", z->n);
    }
    return 0;
}

/* Append x to the list *v of *n indices (capacity: the next power of two). */
static int push_index(size_t **v, size_t *n, size_t x)
{
    if ((*n & (*n - 1)) == 0) {
        size_t *nv = realloc(*v, (*n ? 2 * *n : 1) * sizeof *nv);
        if (!nv) return IB_ENOMEM;
        *v = nv;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* The datasets of an exclude rule: each is told it is named (so that
 * expansion looks only at the rules of its dataset). */
static int rule_datasets(parser *p, yaml_node_t *v, size_t ri)
{
    yaml_node_item_t one, *s, *t;
    if (items_of(p, v, &one, &s, &t) || s == t)
        return perr(p, v, IB_EPARSE, "exclude 'dataset' must be a name or a non-empty list of "
                                     "names, got %s", ib_yaml_kind(v));
    int r = spend(p, v, (size_t)(t - s));
    for (yaml_node_item_t *it = s; !r && it < t; it++) {
        yaml_node_t *dn = node(p, *it);
        const char *name = scalar(dn);
        if (!name) return perr(p, dn, IB_EPARSE, "dataset names must be scalars");
        size_t k = dataset_index(p, name);
        if (k == SIZE_MAX)
            return perr(p, dn, IB_EPARSE, "exclude names dataset '%s', which is not in "
                                          "'datasets'", name);
        dsentry *d = &p->ds[k];
        if (d->nrules && d->rules[d->nrules - 1] == ri) continue; /* named twice */
        if (push_index(&d->rules, &d->nrules, ri)) return nomem(p);
    }
    return r;
}

static int parse_rule(parser *p, yaml_node_t *n, size_t ri)
{
    rule *ru = &p->rules[ri];
    if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top == n->data.mapping.pairs.start)
        return perr(p, n, IB_EPARSE, "an exclude rule must be a non-empty mapping of parameters "
                                     "to values, got %s", ib_yaml_kind(n));
    int r = check_keys(p, n, "an exclude rule", KS_RULE);
    if (r) return r;
    size_t npairs = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    ru->ids = ib_calloc(npairs, sizeof *ru->ids);
    ru->ax = ib_calloc(npairs, sizeof *ru->ax);
    if (!ru->ids || !ru->ax) return nomem(p);
    int named = 0;
    for (yaml_node_pair_t *a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top; a++) {
        const char *k = scalar(node(p, a->key));
        yaml_node_t *v = node(p, a->value);
        if (strcmp(k, "dataset") == 0) {
            r = rule_datasets(p, v, ri);
            named = 1;
        } else {
            int id = ib_param_find(k);
            ru->ids[ru->nax] = id;
            r = parse_axis(p, id, v, &ru->ax[ru->nax++]);
        }
        if (r) return r;
    }
    if (!named && push_index(&p->rules_all, &p->nrules_all, ri)) return nomem(p);
    return 0;
}

static int parse_exclude(parser *p, yaml_node_t *n)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, IB_EPARSE, "'exclude' must be a list of parameter mappings, got %s",
                    ib_yaml_kind(n));
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    int r = spend(p, n, count);
    if (r) return r;
    p->rules = ib_calloc(count ? count : 1, sizeof *p->rules);
    if (!p->rules) return nomem(p);
    for (size_t i = 0; i < count; i++) {
        p->nrules = i + 1;
        r = parse_rule(p, node(p, n->data.sequence.items.start[i]), i);
        if (r) return r;
    }
    return 0;
}

static int parse_name(parser *p, yaml_node_t *root, yaml_node_t *name)
{
    if (!name) return perr(p, root, IB_EPARSE, "missing key 'name' (the suite's name)");
    const char *nm = scalar(name);
    size_t len = nm ? strlen(nm) : 0;
    int ok = len > 0 && len < sizeof p->name;
    for (size_t i = 0; ok && i < len; i++)
        ok = islower((unsigned char)nm[i]) || isdigit((unsigned char)nm[i]) ||
             strchr("._-", nm[i]);
    if (!ok)
        return perr(p, name, IB_EPARSE, "'name' must be 1..63 characters of [a-z0-9._-], got "
                                        "%s%s%s", nm ? "'" : "", nm ? nm : ib_yaml_kind(name),
                    nm ? "'" : "");
    snprintf(p->name, sizeof p->name, "%s", nm);
    return 0;
}

static int parse_top(parser *p, yaml_node_t *root)
{
    if (!root) return perr(p, NULL, IB_EPARSE, "the file is empty (expected a mapping with "
                                               "name, datasets, scale, axes)");
    if (root->type != YAML_MAPPING_NODE)
        return perr(p, root, IB_EPARSE, "a suite must be a mapping (name, datasets, scale, "
                                        "axes, ...), got %s", ib_yaml_kind(root));
    int r = check_keys(p, root, "the suite", KS_TOP);
    if (r) return r;
    yaml_node_t *datasets = NULL, *zip = NULL, *exclude = NULL, *name = NULL;
    for (yaml_node_pair_t *a = root->data.mapping.pairs.start; a < root->data.mapping.pairs.top;
         a++) {
        const char *k = scalar(node(p, a->key));
        yaml_node_t *v = node(p, a->value);
        int id = ib_param_find(k);
        if (!strcmp(k, "name")) name = v;
        else if (!strcmp(k, "description")) {
            if (!scalar(v))
                r = perr(p, v, IB_EPARSE, "'description' must be text, got %s", ib_yaml_kind(v));
        } else if (!strcmp(k, "datasets")) datasets = v;
        else if (!strcmp(k, "axes")) r = parse_axes(p, v, p->ax);
        else if (!strcmp(k, "zip")) zip = v;
        else if (!strcmp(k, "exclude")) exclude = v;
        else {
            r = get_value(p, v, id, &p->top[id]);
            p->top_node[id] = v;
        }
        if (r) return r;
    }
    if ((r = parse_name(p, root, name))) return r;
    if (!datasets)
        return perr(p, root, IB_EPARSE, "missing key 'datasets' (a list of dataset names)");
    if ((r = parse_datasets(p, datasets))) return r;
    int need_scale = 0;
    for (size_t i = 0; i < p->nds; i++) need_scale |= !p->ds[i].base.v[IB_P_SCALE].set;
    if (!p->top[IB_P_SCALE].set && need_scale)
        return perr(p, root, IB_EPARSE, "missing key 'scale' (a number > 0 and <= 1: the "
                                        "fraction of the full dataset)");
    if (zip && (r = parse_zip(p, zip))) return r;
    if (exclude && (r = parse_exclude(p, exclude))) return r;
    return 0;
}

/* ---- resolution and expansion -------------------------------------------- */

/* Dataset keys: the entry's, else the suite's; then the spec and key. */
static int resolve_dataset(parser *p, dsentry *d)
{
    wl_cell *c = &d->base;
    for (int id = 0; id < IB_NPARAM; id++)
        if ((ib_param_get(id)->flags & IB_PF_DATA) && !c->v[id].set && p->top[id].set) {
            c->v[id] = p->top[id];
            d->where[id] = p->top_node[id];
        }
    ib_err sub;
    ib_err_init(&sub);
    int r = wl_dataset_find(&sub, c->dataset, p->datasets_dir, &d->spec);
    if (r == IB_ENOTFOUND)
        return perr(p, d->node, IB_ENOTFOUND, "%s", sub.msg); /* names the dataset */
    if (r) return perr(p, d->node, r, "dataset '%s': %s", c->dataset, sub.msg);
    wl_gen_opts go;
    wl_cell_gen_opts(c, &go);
    r = wl_gen_cache_key(&sub, &d->spec, &go, c->dataset_key);
    if (r) return perr(p, d->node, IB_EPARSE, "dataset '%s': %s", c->dataset, sub.msg);
    return 0;
}

/* Does rule ru exclude a cell whose axis values are cur[] (has[id]: the
 * axis is set for the dataset)? */
static int rule_matches(const rule *ru, const ib_pval *cur, const int *has)
{
    for (int k = 0; k < ru->nax; k++) {
        int id = ru->ids[k];
        if (!has[id]) return 0;
        int any = 0;
        for (size_t i = 0; i < ru->ax[k].n && !any; i++)
            any = ib_param_equal(id, &ru->ax[k].v[i], &cur[id]);
        if (!any) return 0;
    }
    return 1;
}

/* The cells so far, with a hash set over their content hashes. */
typedef struct cellvec {
    wl_cell *v;
    size_t n, cap;
    wl__hset seen;
} cellvec;

static uint64_t hex_key(const char *hash)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && hash[i]; i++)
        k = k << 4 | (uint64_t)(hash[i] <= '9' ? hash[i] - '0' : (hash[i] | 0x20) - 'a' + 10);
    return k;
}

static int push_cell(parser *p, cellvec *cv, const wl_cell *c)
{
    uint64_t key = hex_key(c->hash);
    size_t pos = SIZE_MAX, j;
    while ((j = wl__hset_next(&cv->seen, key, &pos)) != SIZE_MAX)
        if (!strcmp(cv->v[j].hash, c->hash)) return 0; /* same parameters twice: once */
    if (cv->n == MAX_CELLS)
        return perr(p, NULL, IB_EPARSE, "the suite expands to more than %d cells", MAX_CELLS);
    if (cv->n == cv->cap) {
        size_t cap = cv->cap ? 2 * cv->cap : 64;
        wl_cell *nv = realloc(cv->v, cap * sizeof *nv);
        if (!nv) return nomem(p);
        cv->v = nv;
        cv->cap = cap;
    }
    cv->v[cv->n] = *c;
    if (wl__hset_add(&cv->seen, key, cv->n)) return nomem(p);
    cv->n++;
    return 0;
}

/* A warning for the suite's list (the first MAX_WARNINGS kept, the rest
 * counted). */
static int add_warning(parser *p, const char *text)
{
    if (p->nwarn++ >= MAX_WARNINGS) return 0;
    size_t len = strlen(text);
    char *w = realloc(p->warn, p->warn_len + len + 2);
    if (!w) return nomem(p);
    memcpy(w + p->warn_len, text, len);
    w[p->warn_len + len] = '\n';
    w[p->warn_len + len + 1] = '\0';
    p->warn = w;
    p->warn_len += len + 1;
    return 0;
}

/* What the imager would refuse of cell c (its values together), and with
 * a machine, what can never run there (refused) or would oversubscribe it
 * (a warning). Messages name the dataset entry (or the image's line). */
static int check_cell(parser *p, dsentry *d, const wl_cell *c)
{
    char why[512], warn[512], label[400];
    yaml_node_t *at = d->where[IB_P_IMAGE] ? d->where[IB_P_IMAGE] : d->node;
    if (ib_params_check_set(c->v, why, sizeof why) ||
        (p->machine && ib_params_check_machine(c->v, p->machine, why, sizeof why, warn,
                                               sizeof warn))) {
        wl_suite_cell_label(c, label, sizeof label);
        return perr(p, at, IB_EPARSE, "cell '%s': %s", label, why);
    }
    if (!p->machine || !warn[0]) return 0;
    wl_suite_cell_label(c, label, sizeof label);
    char line[2200];
    snprintf(line, sizeof line, "%s line %zu: cell '%s': %s", p->what,
             at ? at->start_mark.line + 1 : 0, label, warn);
    return add_warning(p, line);
}

/* Units of one dataset: each a list of axes sharing one index (a zip
 * group, or one axis), in order of appearance. */
typedef struct units {
    int n, members[IB_NPARAM][IB_NPARAM], nmem[IB_NPARAM];
    size_t len[IB_NPARAM];
} units;

static int make_units(parser *p, dsentry *d, axis *const *ax, const int *has, units *u)
{
    int unit_of[IB_NPARAM];
    for (int a = 0; a < IB_NPARAM; a++) unit_of[a] = -1;
    const char *for_ds = p->nds > 1 ? " for dataset " : "", *ds = p->nds > 1 ? d->base.dataset : "";
    for (int z = 0; z < p->nzip; z++)
        for (int m = 0; m < p->zip[z].n; m++)
            if (!has[p->zip[z].members[m]])
                return perr(p, p->zip[z].node, IB_EPARSE,
                            "zip group names axis '%s', which is not set%s%s",
                            ib_param_get(p->zip[z].members[m])->name, for_ds, ds);
    u->n = 0;
    for (int i = 0; i < p->norder; i++) {
        int a = p->order[i];
        if (!has[a] || unit_of[a] >= 0) continue;
        int z = -1;
        for (int g = 0; g < p->nzip && z < 0; g++)
            for (int m = 0; m < p->zip[g].n; m++)
                if (p->zip[g].members[m] == a) z = g;
        int k = u->n++;
        u->nmem[k] = 0;
        u->len[k] = ax[a]->n;
        if (z < 0) {
            u->members[k][u->nmem[k]++] = a;
            unit_of[a] = k;
            continue;
        }
        for (int m = 0; m < p->zip[z].n; m++) {
            int b = p->zip[z].members[m];
            if (ax[b]->n != u->len[k])
                return perr(p, d->ax[b].set ? d->ax[b].node : p->zip[z].node, IB_EPARSE,
                            "zip group axes must have the same length: '%s' has %zu values, "
                            "'%s' has %zu%s%s", ib_param_get(a)->name, u->len[k],
                            ib_param_get(b)->name, ax[b]->n, for_ds, ds);
            u->members[k][u->nmem[k]++] = b;
            unit_of[b] = k;
        }
    }
    return 0;
}

/* The cells of one dataset: an odometer over its units, the last varying
 * fastest. */
static int expand_dataset(parser *p, dsentry *d, cellvec *cv)
{
    axis *ax[IB_NPARAM];
    int has[IB_NPARAM];
    for (int a = 0; a < IB_NPARAM; a++) {
        ax[a] = d->ax[a].set ? &d->ax[a] : &p->ax[a];
        has[a] = ax[a]->set;
    }
    units *u = ib_calloc(1, sizeof *u);
    if (!u) return nomem(p);
    int r = make_units(p, d, ax, has, u);
    /* the work: combinations x (1 + the rules that apply), bounded first */
    uint64_t combos = 1, nrules = 1 + p->nrules_all + d->nrules;
    for (int k = 0; !r && k < u->n; k++) {
        combos *= u->len[k];
        if (combos > MAX_WORK) break;
    }
    if (!r && (combos > MAX_WORK || (p->work += combos * nrules) > MAX_WORK))
        r = perr(p, d->node, IB_EPARSE, "the axes and exclude rules ask for more than %llu cell "
                                        "evaluations (at most %d cells are run)",
                 (unsigned long long)MAX_WORK, MAX_CELLS);
    size_t idx[IB_NPARAM] = {0};
    ib_pval cur[IB_NPARAM];
    memset(cur, 0, sizeof cur);
    while (!r) {
        wl_cell c = d->base;
        if (!has[IB_P_GRIDDER])
            ib_param_parse(IB_P_GRIDDER, wl_gridder_name(d->spec.gridder), &c.v[IB_P_GRIDDER],
                           NULL, 0);
        for (int k = 0; k < u->n; k++)
            for (int m = 0; m < u->nmem[k]; m++) {
                int a = u->members[k][m];
                c.v[a] = cur[a] = ax[a]->v[idx[k]];
            }
        int excluded = 0;
        for (size_t i = 0; i < p->nrules_all && !excluded; i++)
            excluded = rule_matches(&p->rules[p->rules_all[i]], cur, has);
        for (size_t i = 0; i < d->nrules && !excluded; i++)
            excluded = rule_matches(&p->rules[d->rules[i]], cur, has);
        if (!excluded) {
            r = check_cell(p, d, &c);
            if (!r) r = wl_cell_finish(p->e, &c);
            if (!r) r = push_cell(p, cv, &c);
        }
        int k = u->n - 1;
        while (k >= 0 && ++idx[k] == u->len[k]) idx[k--] = 0;
        if (k < 0) break;
    }
    ib_free(u);
    return r;
}

static void axes_release(axis *ax, size_t n)
{
    for (size_t a = 0; a < n; a++) ib_free(ax[a].v);
}

static void parser_release(parser *p)
{
    axes_release(p->ax, IB_NPARAM);
    for (size_t i = 0; i < p->nds; i++) {
        axes_release(p->ds[i].ax, IB_NPARAM);
        free(p->ds[i].rules);
    }
    ib_free(p->ds);
    for (size_t i = 0; i < p->nrules; i++) {
        axes_release(p->rules[i].ax, (size_t)p->rules[i].nax);
        ib_free(p->rules[i].ax);
        ib_free(p->rules[i].ids);
    }
    ib_free(p->rules);
    free(p->rules_all);
    wl__hset_release(&p->ds_names);
    free(p->warn);
    yaml_document_delete(&p->doc);
}

/*
 * Before libyaml builds the document: walk its events once, refusing
 * nesting deeper than WL_SUITE_MAX_DEPTH and more than MAX_ANCHORS
 * anchors. libyaml's scanner does work proportional to the flow nesting
 * for every token, and its loader looks every anchor and alias up in a
 * list: unchecked, 320 KB of '[' took 73 s of CPU. Events come one at a
 * time, so the walk stops at the first level too deep, having scanned a
 * bounded distance past it. *nevents counts the events (the document's
 * size, for the walk's budget).
 */
static int prescan(parser *p, const char *text, size_t len, size_t *nevents)
{
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) return nomem(p);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    int depth = 0, anchors = 0, r = 0;
    *nevents = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&yp, &ev)) {
            r = ib_yaml_parser_error(p->e, p->what, &yp);
            break;
        }
        (*nevents)++;
        const yaml_char_t *anchor = ev.type == YAML_SCALAR_EVENT ? ev.data.scalar.anchor
                                    : ev.type == YAML_SEQUENCE_START_EVENT
                                        ? ev.data.sequence_start.anchor
                                    : ev.type == YAML_MAPPING_START_EVENT
                                        ? ev.data.mapping_start.anchor
                                        : NULL;
        if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) depth++;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) depth--;
        if (depth > WL_SUITE_MAX_DEPTH)
            r = ib_error_at(p->e, IB_EPARSE, p->what, ev.start_mark.line, ev.start_mark.column,
                            "nesting deeper than %d levels of lists and mappings (a suite "
                            "needs 4)", WL_SUITE_MAX_DEPTH);
        else if (anchor && ++anchors > MAX_ANCHORS)
            r = ib_error_at(p->e, IB_EPARSE, p->what, ev.start_mark.line, ev.start_mark.column,
                            "more than %d anchors", MAX_ANCHORS);
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (r || end) break;
    }
    yaml_parser_delete(&yp);
    return r;
}

/* The document: one, built by libyaml after the prescan. */
static int load(parser *p, const char *text, size_t len)
{
    size_t nevents = 0;
    int r = prescan(p, text, len, &nevents);
    if (r) return r;
    p->budget = 2 * (long)nevents + 64;
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) return nomem(p);
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    if (!yaml_parser_load(&yp, &p->doc)) {
        r = ib_yaml_parser_error(p->e, p->what, &yp);
        memset(&p->doc, 0, sizeof p->doc);
        yaml_parser_delete(&yp);
        return r;
    }
    /* One document per file: a second one is a mistake. */
    yaml_document_t extra;
    int more = 0;
    if (yaml_parser_load(&yp, &extra)) {
        more = yaml_document_get_root_node(&extra) != NULL;
        yaml_document_delete(&extra);
    }
    yaml_parser_delete(&yp);
    if (more) return perr(p, NULL, IB_EPARSE, "more than one YAML document (expected one suite)");
    return 0;
}

/* The suite's settings: the file's, else the table's defaults. */
static void settings(const parser *p, wl_suite *s)
{
    ib_pval v[IB_NPARAM];
    for (int id = 0; id < IB_NPARAM; id++)
        if (p->top[id].set) v[id] = p->top[id];
        else ib_param_default(id, &v[id]);
    s->timeout = v[IB_P_TIMEOUT].d;
    s->repeats = (int)v[IB_P_REPEATS].i;
    s->warmup = (int)v[IB_P_WARMUP].i;
    s->retries = (int)v[IB_P_RETRIES].i;
    s->cache_budget = v[IB_P_CACHE_BUDGET].i;
}

int wl_suite_parse(ib_err *e, const char *name, const char *text, size_t len,
                   const wl_suite_opts *o, wl_suite **out)
{
    *out = NULL;
    parser *p = ib_calloc(1, sizeof *p);
    if (!p) return ib_error(e, IB_ENOMEM, "out of memory reading suite '%s'", name);
    p->e = e;
    p->file = name;
    snprintf(p->what, sizeof p->what, "suite '%s'", name);
    p->datasets_dir = o ? o->datasets_dir : NULL;
    p->machine = o ? o->machine : NULL;
    cellvec cv = {0};
    int r = load(p, text, len);
    if (!r) r = parse_top(p, yaml_document_get_root_node(&p->doc));
    for (size_t i = 0; !r && i < p->nds; i++) r = resolve_dataset(p, &p->ds[i]);
    for (size_t i = 0; !r && i < p->nds; i++) r = expand_dataset(p, &p->ds[i], &cv);
    wl__hset_release(&cv.seen);
    if (!r && cv.n == 0)
        r = perr(p, NULL, IB_EPARSE, "every cell is excluded (expected at least one cell)");
    wl_suite *s = NULL;
    if (!r && p->nwarn > MAX_WARNINGS) {
        char more[1200];
        snprintf(more, sizeof more, "%s: and %zu more cells like these", p->what,
                 p->nwarn - MAX_WARNINGS);
        p->nwarn = 0;
        r = add_warning(p, more);
    }
    if (!r) {
        s = ib_calloc(1, sizeof *s);
        if (!s) r = ib_error(e, IB_ENOMEM, "out of memory");
    }
    if (!r) {
        s->warnings = p->warn ? p->warn : strdup("");
        p->warn = NULL;
        if (!s->warnings) r = ib_error(e, IB_ENOMEM, "out of memory");
    }
    if (r) {
        if (s) ib_free(s);
        free(cv.v);
        parser_release(p);
        ib_free(p);
        return r;
    }
    snprintf(s->name, sizeof s->name, "%s", p->name);
    snprintf(s->path, sizeof s->path, "%s", name);
    wl_suite_sha256(text, len, s->file_hash);
    settings(p, s);
    s->cells = cv.v;
    s->ncells = cv.n;
    parser_release(p);
    ib_free(p);
    *out = s;
    return 0;
}

int wl_suite_load(ib_err *e, const char *path, const wl_suite_opts *o, wl_suite **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return ib_error(e, IB_EIO, "cannot open suite '%s': %s", path, strerror(errno));
    char *buf = ib_malloc(MAX_SUITE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return ib_error(e, IB_ENOMEM, "out of memory reading suite '%s'", path);
    }
    size_t n = fread(buf, 1, MAX_SUITE_BYTES + 1, f);
    int bad = ferror(f);
    fclose(f);
    int r;
    if (bad) r = ib_error(e, IB_EIO, "cannot read suite '%s'", path);
    else if (n > MAX_SUITE_BYTES)
        r = ib_error(e, IB_EPARSE, "suite '%s' is larger than %d bytes", path, MAX_SUITE_BYTES);
    else r = wl_suite_parse(e, path, buf, n, o, out);
    ib_free(buf);
    return r;
}

void wl_suite_destroy(wl_suite *s)
{
    if (!s) return;
    free(s->cells);
    free(s->warnings);
    ib_free(s);
}
