/*
 * text.c: the small text tools the report writers share — a growable
 * string, HTML and Markdown escaping, base64 for embedding PNGs in a
 * self-contained HTML page, gnuplot quoting, number formatting with units,
 * the last line of a stderr tail.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rep__sb_vprintf(rep__sb *b, const char *fmt, va_list ap)
{
    if (b->oom) return;
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (need < 0) {
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)need + 1) cap *= 2;
        char *s = ib_malloc(cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        if (b->s) memcpy(s, b->s, b->len + 1);
        ib_free(b->s);
        b->s = s;
        b->cap = cap;
    }
    vsnprintf(b->s + b->len, (size_t)need + 1, fmt, ap);
    b->len += (size_t)need;
}

void rep__sb_printf(rep__sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void rep__sb_puts(rep__sb *b, const char *s) { rep__sb_printf(b, "%s", s); }

const char *rep__sb_str(const rep__sb *b) { return b->s ? b->s : ""; }

void rep__sb_release(rep__sb *b)
{
    ib_free(b->s);
    memset(b, 0, sizeof *b);
}

char *rep__strdupf(const char *fmt, ...)
{
    rep__sb b = {0};
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(&b, fmt, ap);
    va_end(ap);
    if (b.oom) {
        rep__sb_release(&b);
        return NULL;
    }
    if (!b.s) return ib_strdup("");
    return b.s;
}

void rep__html_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* control characters are not allowed in XML text */
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t') fputc(' ', f);
            else fputc(*s, f);
        }
    }
}

void rep__md_cell(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else fputc(*s, f);
    }
}

int rep__base64_file(ib_err *e, FILE *f, const char *path)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *in = fopen(path, "rb");
    if (!in) return ib_error(e, IB_EIO, "cannot read '%s'", path);
    unsigned char buf[3 * 1024];
    size_t got;
    int rc = 0;
    for (;;) {
        got = 0;
        /* fill whole triplets so padding only ever comes at the end */
        while (got < sizeof buf) {
            size_t r = fread(buf + got, 1, sizeof buf - got, in);
            if (r == 0) break;
            got += r;
        }
        for (size_t i = 0; i < got; i += 3) {
            unsigned v = (unsigned)buf[i] << 16;
            size_t left = got - i;
            if (left > 1) v |= (unsigned)buf[i + 1] << 8;
            if (left > 2) v |= buf[i + 2];
            fputc(tab[(v >> 18) & 63], f);
            fputc(tab[(v >> 12) & 63], f);
            fputc(left > 1 ? tab[(v >> 6) & 63] : '=', f);
            fputc(left > 2 ? tab[v & 63] : '=', f);
        }
        if (got < sizeof buf) break;
    }
    if (ferror(in)) rc = ib_error(e, IB_EIO, "cannot read '%s'", path);
    fclose(in);
    return rc;
}

void rep__fmt(char *buf, size_t n, double v, const char *unit)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "-");
        return;
    }
    if (unit && strcmp(unit, "bytes") == 0) {
        static const char *const sfx[] = {"B", "kB", "MB", "GB", "TB", "PB"};
        double a = fabs(v);
        int k = 0;
        while (a >= 1000 && k < 5) {
            a /= 1000;
            v /= 1000;
            k++;
        }
        snprintf(buf, n, k ? "%.3g %s" : "%.0f %s", v, sfx[k]);
        return;
    }
    if (unit && strcmp(unit, "count") == 0) {
        double a = fabs(v);
        if (a >= 1e9) snprintf(buf, n, "%.3g G", v / 1e9);
        else if (a >= 1e6) snprintf(buf, n, "%.3g M", v / 1e6);
        else if (a >= 1e4) snprintf(buf, n, "%.3g k", v / 1e3);
        else snprintf(buf, n, "%.4g", v);
        return;
    }
    if (unit && *unit && strcmp(unit, "ratio") != 0 && strcmp(unit, "x") != 0) {
        double a = fabs(v);
        int dur = strcmp(unit, "s") == 0;
        if (!dur && a >= 1e9) snprintf(buf, n, "%.4g G%s", v / 1e9, unit);
        else if (!dur && a >= 1e6) snprintf(buf, n, "%.4g M%s", v / 1e6, unit);
        else if (!dur && a >= 1e4) snprintf(buf, n, "%.4g k%s", v / 1e3, unit);
        else snprintf(buf, n, "%.4g %s", v, unit);
    }
    else
        snprintf(buf, n, "%.4g", v);
}

void rep__slug(char *out, size_t n, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        out[k++] = ok ? c : '-';
    }
    if (n) out[k] = '\0';
}

void rep__gpq(rep__sb *b, const char *s)
{
    rep__sb_puts(b, "'");
    for (; s && *s; s++) rep__sb_printf(b, *s == '\'' ? "''" : "%c", *s);
    rep__sb_puts(b, "'");
}

void rep__last_line(const char *tail, char *out, size_t n)
{
    out[0] = '\0';
    if (!tail) return;
    size_t len = strlen(tail);
    while (len && (tail[len - 1] == '\n' || tail[len - 1] == ' ' || tail[len - 1] == '\r'))
        len--;
    size_t start = len;
    while (start && tail[start - 1] != '\n') start--;
    size_t k = len - start;
    if (k > 200) {
        start = len - 200;
        k = 200;
    }
    snprintf(out, n, "%.*s", (int)k, tail + start);
}
