/*
 * yaml.c: the messages of every YAML reader (suites, dataset specs,
 * baselines) in one form — "WHAT line L column C: ..." — and the names
 * they give to what they found. The only file of common/ that sees
 * libyaml.
 */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <yaml.h>

int ib_error_at(ib_err *e, int code, const char *what, size_t line, size_t column,
                const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ib_error(e, code, "%s line %zu column %zu: %s", what, line + 1, column + 1, msg);
}

const char *ib_yaml_kind(const yaml_node_t *n)
{
    switch (n ? n->type : YAML_NO_NODE) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

int ib_yaml_error(ib_err *e, const char *what, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!n) return ib_error(e, IB_EPARSE, "%s: %s", what, msg);
    return ib_error_at(e, IB_EPARSE, what, n->start_mark.line, n->start_mark.column, "%s", msg);
}

int ib_yaml_parser_error(ib_err *e, const char *what, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR) return ib_error(e, IB_ENOMEM, "%s: out of memory", what);
    if (p->error == YAML_READER_ERROR)
        return ib_error(e, IB_EPARSE, "%s byte %zu: %s", what, p->problem_offset,
                        p->problem ? p->problem : "unreadable input");
    return ib_error_at(e, IB_EPARSE, what, p->problem_mark.line, p->problem_mark.column,
                       "YAML error: %s%s%s", p->problem ? p->problem : "malformed",
                       p->context ? " " : "", p->context ? p->context : "");
}
