/*
 * platform.c: platform files (YAML, our figures) and the SimGrid platform
 * XML made from them. One table lists every figure once — its YAML path,
 * where it lands, whether it may be zero — and the parser, the checks and
 * the JSON dump all walk it.
 */
#include "sim/sim.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum fkind { F_INT, F_DBL, F_TOPO, F_NAME };

typedef struct field {
    const char *path;   /* "network.bandwidth" */
    enum fkind kind;
    size_t off;
    int positive;       /* must be > 0 (else >= 0) */
} field;

#define OFF(m) offsetof(sim_platform, m)
static const field fields[] = {
    {"name", F_NAME, OFF(name), 0},
    {"nodes", F_INT, OFF(nodes), 1},
    {"cores", F_INT, OFF(cores), 1},
    {"core_speed", F_DBL, OFF(core_speed), 1},
    {"contention", F_DBL, OFF(contention), 0},
    {"network.topology", F_TOPO, OFF(topology), 0},
    {"network.bandwidth", F_DBL, OFF(net_bw), 1},
    {"network.latency", F_DBL, OFF(net_lat), 0},
    {"network.backbone_bandwidth", F_DBL, OFF(bb_bw), 1},
    {"network.backbone_latency", F_DBL, OFF(bb_lat), 0},
    {"network.loopback_bandwidth", F_DBL, OFF(lo_bw), 1},
    {"network.loopback_latency", F_DBL, OFF(lo_lat), 0},
    {"storage.read_bandwidth", F_DBL, OFF(fs_read_bw), 1},
    {"storage.write_bandwidth", F_DBL, OFF(fs_write_bw), 1},
    {"storage.link_bandwidth", F_DBL, OFF(fs_link_bw), 1},
    {"storage.latency", F_DBL, OFF(fs_lat), 0},
    {"scratch.read_bandwidth", F_DBL, OFF(scratch_read_bw), 1},
    {"scratch.write_bandwidth", F_DBL, OFF(scratch_write_bw), 1},
    {"mpi.rank_startup", F_DBL, OFF(rank_startup_s), 0},
    {"mpi.service_load", F_DBL, OFF(service_load), 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static const char *const sections[] = {"network", "storage", "scratch", "mpi"};

static int find_field(const char *path)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(fields[i].path, path) == 0) return (int)i;
    return -1;
}

static int is_section(const char *k)
{
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(sections[i], k) == 0) return 1;
    return 0;
}

/* Store one scalar into its field, checked. */
static int set_field(ib_err *e, const char *file, const field *f, const yaml_node_t *v,
                     sim_platform *p)
{
    char *dst = (char *)p + f->off;
    int line = (int)v->start_mark.line + 1;
    if (v->type != YAML_SCALAR_NODE)
        return ib_error(e, IB_EINVAL, "platform '%s' line %d: %s must be a value", file, line,
                        f->path);
    const char *s = (const char *)v->data.scalar.value;
    if (f->kind == F_NAME) {
        if (!*s || strlen(s) >= sizeof p->name)
            return ib_error(e, IB_EINVAL, "platform '%s' line %d: name must be 1 to %zu characters",
                            file, line, sizeof p->name - 1);
        snprintf(p->name, sizeof p->name, "%s", s);
        return 0;
    }
    if (f->kind == F_TOPO) {
        if (strcmp(s, "star") == 0) *(enum sim_topology *)(void *)dst = SIM_STAR;
        else if (strcmp(s, "bus") == 0) *(enum sim_topology *)(void *)dst = SIM_BUS;
        else
            return ib_error(e, IB_EINVAL,
                            "platform '%s' line %d: %s must be star or bus, got '%s'", file, line,
                            f->path, s);
        return 0;
    }
    double d;
    if (ib_parse_double(s, &d) != 0 || !isfinite(d))
        return ib_error(e, IB_EINVAL, "platform '%s' line %d: %s must be a number, got '%s'", file,
                        line, f->path, s);
    if (d < 0 || (f->positive && d == 0))
        return ib_error(e, IB_EINVAL, "platform '%s' line %d: %s must be %s, got %s", file, line,
                        f->path, f->positive ? "> 0" : ">= 0", s);
    if (f->kind == F_INT) {
        if (d != floor(d) || d > 1e6)
            return ib_error(e, IB_EINVAL,
                            "platform '%s' line %d: %s must be a whole number up to 1000000, got %s",
                            file, line, f->path, s);
        *(int *)(void *)dst = (int)d;
    } else {
        *(double *)(void *)dst = d;
    }
    return 0;
}

/* Walk one mapping; prefix is "" at the top or "section.". */
static int walk(ib_err *e, const char *file, yaml_document_t *doc, yaml_node_t *map,
                const char *prefix, sim_platform *p, unsigned char *seen)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(doc, pr->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return ib_error(e, IB_EPARSE, "platform '%s': keys must be names", file);
        const char *ks = (const char *)k->data.scalar.value;
        int line = (int)k->start_mark.line + 1;
        if (!*prefix && is_section(ks)) {
            if (v->type != YAML_MAPPING_NODE)
                return ib_error(e, IB_EINVAL, "platform '%s' line %d: %s must be a mapping", file,
                                line, ks);
            char pre[32];
            snprintf(pre, sizeof pre, "%s.", ks);
            int r = walk(e, file, doc, v, pre, p, seen);
            if (r) return r;
            continue;
        }
        char path[128];
        snprintf(path, sizeof path, "%s%s", prefix, ks);
        int i = find_field(path);
        if (i < 0)
            return ib_error(e, IB_EINVAL, "platform '%s' line %d: unknown field '%s'", file, line,
                            path);
        if (seen[i])
            return ib_error(e, IB_EINVAL, "platform '%s' line %d: field '%s' given twice", file,
                            line, path);
        seen[i] = 1;
        int r = set_field(e, file, &fields[i], v, p);
        if (r) return r;
    }
    return 0;
}

int sim_platform_parse(ib_err *e, const char *name, const char *text, size_t len,
                       sim_platform *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", name);
    yaml_parser_t ps;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&ps)) return ib_error(e, IB_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    if (!yaml_parser_load(&ps, &doc)) {
        int r = ib_error(e, IB_EPARSE, "platform '%s' line %d: %s", name,
                         (int)ps.problem_mark.line + 1, ps.problem ? ps.problem : "bad YAML");
        yaml_parser_delete(&ps);
        return r;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    unsigned char seen[NFIELDS] = {0};
    int r;
    if (!root || root->type != YAML_MAPPING_NODE)
        r = ib_error(e, IB_EINVAL, "platform '%s': expected a mapping of figures", name);
    else
        r = walk(e, name, &doc, root, "", p, seen);
    for (size_t i = 0; !r && i < NFIELDS; i++)
        if (!seen[i])
            r = ib_error(e, IB_EINVAL, "platform '%s': missing field '%s'", name, fields[i].path);
    yaml_document_delete(&doc);
    yaml_parser_delete(&ps);
    return r;
}

int sim_platform_load(ib_err *e, const char *path, sim_platform *p)
{
    FILE *f = fopen(path, "rb");
    if (!f) return ib_error(e, IB_EIO, "platform '%s': cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)1 << 20) {
                fclose(f);
                free(buf);
                return ib_error(e, IB_EINVAL, "platform '%s': larger than 1 MiB", path);
            }
            cap = cap ? 2 * cap : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                return ib_error(e, IB_ENOMEM, "out of memory reading platform '%s'", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ib_error(e, IB_EIO, "platform '%s': read error", path);
    }
    int r = sim_platform_parse(e, path, buf ? buf : "", n, p);
    free(buf);
    return r;
}

void sim_platform_json(const sim_platform *p, char *buf, size_t n)
{
    size_t at = 0;
    at += (size_t)snprintf(buf, n, "{\"name\":\"%s\"", p->name);
    for (size_t i = 1; i < NFIELDS && at < n; i++) {
        const char *dst = (const char *)p + fields[i].off;
        if (fields[i].kind == F_INT)
            at += (size_t)snprintf(buf + at, n - at, ",\"%s\":%d", fields[i].path,
                                   *(const int *)(const void *)dst);
        else if (fields[i].kind == F_TOPO)
            at += (size_t)snprintf(buf + at, n - at, ",\"%s\":\"%s\"", fields[i].path,
                                   p->topology == SIM_BUS ? "bus" : "star");
        else
            at += (size_t)snprintf(buf + at, n - at, ",\"%s\":%.9g", fields[i].path,
                                   *(const double *)(const void *)dst);
    }
    if (at < n) snprintf(buf + at, n - at, "}");
}

/* ---- SimGrid XML ---------------------------------------------------- */

/* A link's route entry; a split-duplex link names its direction. */
static void link_ctn(FILE *f, const char *id, const char *dir)
{
    if (dir) fprintf(f, "<link_ctn id=\"%s\" direction=\"%s\"/>", id, dir);
    else fprintf(f, "<link_ctn id=\"%s\"/>", id);
}

/* Route from host a to host b (b < 0: the file server), both ways. */
static void route(FILE *f, const sim_platform *p, int a, int b)
{
    char ha[32], hb[32], la[32], lb[32];
    snprintf(ha, sizeof ha, "node-%d", a);
    snprintf(la, sizeof la, "up-%d", a);
    if (b < 0) {
        snprintf(hb, sizeof hb, "fs");
        snprintf(lb, sizeof lb, "fs-link");
    } else {
        snprintf(hb, sizeof hb, "node-%d", b);
        snprintf(lb, sizeof lb, "up-%d", b);
    }
    for (int back = 0; back < 2; back++) {
        const char *src = back ? hb : ha, *dst = back ? ha : hb;
        const char *lsrc = back ? lb : la, *ldst = back ? la : lb;
        fprintf(f, "    <route src=\"%s\" dst=\"%s\" symmetrical=\"NO\">", src, dst);
        /* On a bus the nodes have no link of their own; the file server
         * keeps its link either way. */
        if (p->topology == SIM_STAR || strcmp(lsrc, "fs-link") == 0) link_ctn(f, lsrc, "UP");
        link_ctn(f, "backbone", NULL);
        if (p->topology == SIM_STAR || strcmp(ldst, "fs-link") == 0) link_ctn(f, ldst, "DOWN");
        fprintf(f, "</route>\n");
    }
}

int sim_platform_write_xml(ib_err *e, const sim_platform *p, int hosts, const int *busy, FILE *f)
{
    if (hosts < 1 || hosts > p->nodes)
        return ib_error(e, IB_EINVAL, "platform '%s': %d hosts asked, it has %d nodes", p->path,
                        hosts, p->nodes);
    fprintf(f, "<?xml version='1.0'?>\n"
               "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
               "<platform version=\"4.1\">\n  <zone id=\"%s\" routing=\"Full\">\n",
            "world");
    for (int h = 0; h < hosts; h++) {
        int b = busy && busy[h] > 1 ? busy[h] : 1;
        double speed = p->core_speed * SIM_REF_FLOPS / (1.0 + p->contention * (b - 1));
        fprintf(f,
                "    <host id=\"node-%d\" speed=\"%.9gf\" core=\"%d\">\n"
                "      <disk id=\"scratch\" read_bw=\"%.9gBps\" write_bw=\"%.9gBps\"/>\n"
                "    </host>\n",
                h, speed, p->cores, p->scratch_read_bw, p->scratch_write_bw);
    }
    fprintf(f,
            "    <host id=\"fs\" speed=\"%.9gf\">\n"
            "      <disk id=\"fs-disk\" read_bw=\"%.9gBps\" write_bw=\"%.9gBps\"/>\n"
            "    </host>\n",
            SIM_REF_FLOPS, p->fs_read_bw, p->fs_write_bw);
    for (int h = 0; h < hosts; h++) {
        if (p->topology == SIM_STAR)
            fprintf(f,
                    "    <link id=\"up-%d\" bandwidth=\"%.9gBps\" latency=\"%.9gs\" "
                    "sharing_policy=\"SPLITDUPLEX\"/>\n",
                    h, p->net_bw, p->net_lat);
        fprintf(f,
                "    <link id=\"lo-%d\" bandwidth=\"%.9gBps\" latency=\"%.9gs\" "
                "sharing_policy=\"SHARED\"/>\n",
                h, p->lo_bw, p->lo_lat);
    }
    fprintf(f, "    <link id=\"backbone\" bandwidth=\"%.9gBps\" latency=\"%.9gs\"/>\n", p->bb_bw,
            p->bb_lat);
    fprintf(f,
            "    <link id=\"fs-link\" bandwidth=\"%.9gBps\" latency=\"%.9gs\" "
            "sharing_policy=\"SPLITDUPLEX\"/>\n",
            p->fs_link_bw, p->fs_lat);
    for (int h = 0; h < hosts; h++) {
        fprintf(f, "    <route src=\"node-%d\" dst=\"node-%d\"><link_ctn id=\"lo-%d\"/></route>\n",
                h, h, h);
        route(f, p, h, -1);
        for (int g = h + 1; g < hosts; g++) route(f, p, h, g);
    }
    fprintf(f, "  </zone>\n</platform>\n");
    if (ferror(f)) return ib_error(e, IB_EIO, "cannot write the SimGrid platform");
    return 0;
}
