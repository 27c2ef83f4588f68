/*
 * doc.c: a report as a flat list of blocks (headings, paragraphs, list
 * items, preformatted text, tables, figures) built once and rendered twice:
 * to a self-contained index.html and to a GitHub Markdown report.md. The
 * HTML uses only HTML 4 elements and closes every element, so it is
 * well-formed XML too and strict parsers (xmllint --html, xmllint as XML)
 * accept it; figures are PNGs embedded as data: URIs, so the page opens
 * from file:// with no network and nothing external.
 */
#include "reports/rep_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char css[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:72em;color:#222;line-height:1.4}\n"
    "h1{border-bottom:2px solid #446}\n"
    "h2{border-bottom:1px solid #aab;margin-top:2em}\n"
    "table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}\n"
    "caption{text-align:left;font-weight:bold;padding:0.3em 0}\n"
    "th,td{border:1px solid #ccd;padding:0.2em 0.5em;vertical-align:top}\n"
    "th{background:#eef}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr:nth-child(even) td{background:#f8f8fc}\n"
    "div.fig{margin:1.2em 0;padding:0.5em;border:1px solid #dde}\n"
    "div.fig img{max-width:100%;height:auto}\n"
    "p.figtitle{font-weight:bold;margin:0.2em 0}\n"
    "p.cap{font-size:0.85em;color:#444}\n"
    "p.missing{color:#a40}\n"
    "pre{background:#f4f4f8;padding:0.5em;overflow-x:auto;font-size:0.85em}\n";

/* ---- building ----------------------------------------------------------- */

void rep__doc_init(rep__doc *d, const char *title)
{
    memset(d, 0, sizeof *d);
    d->title = ib_strdup(title ? title : "report");
    if (!d->title) d->oom = 1;
}

void rep__doc_release(rep__doc *d)
{
    for (size_t i = 0; i < d->n; i++) {
        rep__block *b = &d->b[i];
        ib_free(b->id);
        ib_free(b->text);
        ib_free(b->name);
        ib_free(b->title);
        ib_free(b->files);
        for (size_t k = 0; k < b->ncells; k++) ib_free(b->cells[k]);
        ib_free(b->cells);
    }
    ib_free(d->b);
    ib_free(d->title);
    memset(d, 0, sizeof *d);
}

static rep__block *push(rep__doc *d, int kind)
{
    if (d->oom) return NULL;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        rep__block *nb = ib_malloc(cap * sizeof *nb);
        if (!nb) {
            d->oom = 1;
            return NULL;
        }
        if (d->b) memcpy(nb, d->b, d->n * sizeof *nb);
        ib_free(d->b);
        d->b = nb;
        d->cap = cap;
    }
    rep__block *b = &d->b[d->n++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    return b;
}

static char *vdup(rep__doc *d, const char *fmt, va_list ap)
{
    rep__sb s = {0};
    rep__sb_vprintf(&s, fmt, ap);
    if (s.oom) {
        rep__sb_release(&s);
        d->oom = 1;
        return NULL;
    }
    if (!s.s) {
        char *z = ib_strdup("");
        if (!z) d->oom = 1;
        return z;
    }
    return s.s;
}

static char *dup(rep__doc *d, const char *s)
{
    if (!s) return NULL;
    char *c = ib_strdup(s);
    if (!c) d->oom = 1;
    return c;
}

void rep__doc_head(rep__doc *d, int level, const char *id, const char *fmt, ...)
{
    rep__block *b = push(d, REP__HEAD);
    if (!b) return;
    b->level = level < 1 ? 1 : level > 3 ? 3 : level;
    b->id = dup(d, id);
    va_list ap;
    va_start(ap, fmt);
    b->text = vdup(d, fmt, ap);
    va_end(ap);
}

void rep__doc_para(rep__doc *d, const char *fmt, ...)
{
    rep__block *b = push(d, REP__PARA);
    if (!b) return;
    va_list ap;
    va_start(ap, fmt);
    b->text = vdup(d, fmt, ap);
    va_end(ap);
}

void rep__doc_item(rep__doc *d, const char *fmt, ...)
{
    rep__block *b = push(d, REP__ITEM);
    if (!b) return;
    va_list ap;
    va_start(ap, fmt);
    b->text = vdup(d, fmt, ap);
    va_end(ap);
}

void rep__doc_pre(rep__doc *d, const char *text)
{
    rep__block *b = push(d, REP__PRE);
    if (b) b->text = dup(d, text ? text : "");
}

size_t rep__doc_table(rep__doc *d, const char *cls, const char *caption, size_t ncols,
                      const char *const *head)
{
    rep__block *b = push(d, REP__TABLE);
    if (!b) return (size_t)-1;
    b->id = dup(d, cls);
    b->text = dup(d, caption);
    b->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) rep__doc_cell(d, d->n - 1, "%s", head[i]);
    return d->n - 1;
}

void rep__doc_cell(rep__doc *d, size_t t, const char *fmt, ...)
{
    if (d->oom || t >= d->n || d->b[t].kind != REP__TABLE) return;
    rep__block *b = &d->b[t];
    if ((b->ncells & 63) == 0) { /* grow in steps of 64 cells */
        char **nc = ib_malloc((b->ncells + 64) * sizeof *nc);
        if (!nc) {
            d->oom = 1;
            return;
        }
        if (b->cells) memcpy(nc, b->cells, b->ncells * sizeof *nc);
        ib_free(b->cells);
        b->cells = nc;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = vdup(d, fmt, ap);
    va_end(ap);
    if (s) b->cells[b->ncells++] = s;
}

size_t rep__doc_rows(const rep__doc *d, size_t t)
{
    if (t >= d->n || d->b[t].kind != REP__TABLE || !d->b[t].ncols) return 0;
    return d->b[t].ncells / d->b[t].ncols - 1;
}

void rep__doc_fig(rep__doc *d, const char *name, const char *title, const char *caption,
                  const char *files, int rendered)
{
    rep__block *b = push(d, REP__FIG);
    if (!b) return;
    b->name = dup(d, name);
    b->title = dup(d, title);
    b->text = dup(d, caption ? caption : "");
    b->files = dup(d, files ? files : "");
    b->rendered = rendered;
}

void rep__doc_append(rep__doc *dst, rep__doc *src)
{
    if (src->oom) dst->oom = 1;
    size_t i = 0;
    for (; i < src->n; i++) {
        rep__block *b = push(dst, src->b[i].kind);
        if (!b) break;
        *b = src->b[i];
    }
    /* blocks not moved (out of memory) stay in src for its release */
    if (i && i < src->n) memmove(src->b, src->b + i, (src->n - i) * sizeof *src->b);
    src->n -= i;
}

/* ---- rendering ---------------------------------------------------------- */

/* A cell that reads as a number ("12.3 s", "-0.5", "1.2e+09") is right-aligned. */
static int numeric(const char *s)
{
    if (*s == '-' || *s == '+') s++;
    return isdigit((unsigned char)*s) || (s[0] == '.' && isdigit((unsigned char)s[1]));
}

static void html_files(FILE *f, const rep__block *b)
{
    fputs(" Files:", f);
    if (b->rendered) {
        fprintf(f, " <a href=\"");
        rep__html_esc(f, b->name);
        fputs(".svg\">SVG</a> <a href=\"", f);
        rep__html_esc(f, b->name);
        fputs(".png\">PNG</a>", f);
    }
    fputs(" <a href=\"", f);
    rep__html_esc(f, b->name);
    fputs(".gp\">gnuplot script</a>", f);
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", b->files);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
         tok = strtok_r(NULL, " ", &save)) {
        fputs(" <a href=\"", f);
        rep__html_esc(f, tok);
        fputs("\">", f);
        rep__html_esc(f, tok);
        fputs("</a>", f);
    }
}

/* One table block as HTML. */
static void html_table(FILE *f, const rep__block *b)
{
    fputs("<table class=\"", f);
    rep__html_esc(f, b->id ? b->id : "data");
    fputs("\">\n", f);
    if (b->text && *b->text) {
        fputs("<caption>", f);
        rep__html_esc(f, b->text);
        fputs("</caption>\n", f);
    }
    size_t nrows = b->ncols ? b->ncells / b->ncols : 0;
    for (size_t r = 0; r < nrows; r++) {
        if (r == 0) fputs("<thead>\n", f);
        if (r == 1) fputs("<tbody>\n", f);
        fputs("<tr>", f);
        for (size_t c = 0; c < b->ncols; c++) {
            const char *s = b->cells[r * b->ncols + c];
            fputs(r == 0 ? "<th>" : numeric(s) ? "<td class=\"num\">" : "<td>", f);
            rep__html_esc(f, s);
            fputs(r == 0 ? "</th>" : "</td>", f);
        }
        fputs("</tr>\n", f);
        if (r == 0) fputs("</thead>\n", f);
    }
    if (nrows > 1) fputs("</tbody>\n", f);
    fputs("</table>\n", f);
}

/* One figure block as HTML, its PNG (in dir) embedded. */
static int html_fig(ib_err *e, FILE *f, const rep__block *b, const char *dir)
{
    int rc = 0;
    fputs("<div class=\"fig\" id=\"fig-", f);
    rep__html_esc(f, b->name);
    fputs("\">\n<p class=\"figtitle\">", f);
    rep__html_esc(f, b->title);
    fputs("</p>\n", f);
    if (b->rendered) {
        char png[8192];
        snprintf(png, sizeof png, "%s/%s.png", dir, b->name);
        fputs("<img alt=\"", f);
        rep__html_esc(f, b->title);
        fputs("\" src=\"data:image/png;base64,", f);
        rc = rep__base64_file(e, f, png);
        fputs("\"/>\n", f);
    } else {
        fputs("<p class=\"missing\">image not rendered (see the warnings); the data "
              "and the gnuplot script are kept beside this page</p>\n",
              f);
    }
    fputs("<p class=\"cap\">", f);
    rep__html_esc(f, b->text);
    html_files(f, b);
    fputs("</p>\n</div>\n", f);
    return rc;
}

int rep__doc_write_html(ib_err *e, const rep__doc *d, rep__out *o)
{
    if (d->oom) return ib_error(e, IB_ENOMEM, "out of memory building the report");
    rep__file out;
    int rc = rep__out_open(e, o, "index.html", &out);
    if (rc) return rc;
    FILE *f = out.f;
    const char *dir = o->dir;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>", f);
    rep__html_esc(f, d->title);
    fprintf(f, "</title>\n<style type=\"text/css\">\n%s</style>\n</head>\n<body>\n<h1>", css);
    rep__html_esc(f, d->title);
    fputs("</h1>\n", f);
    /* table of contents from the level-2 headings */
    int any = 0;
    for (size_t i = 0; i < d->n; i++) {
        const rep__block *b = &d->b[i];
        if (b->kind != REP__HEAD || b->level != 2 || !b->id) continue;
        if (!any) fputs("<ul class=\"toc\">\n", f);
        any = 1;
        fputs("<li><a href=\"#", f);
        rep__html_esc(f, b->id);
        fputs("\">", f);
        rep__html_esc(f, b->text);
        fputs("</a></li>\n", f);
    }
    if (any) fputs("</ul>\n", f);
    int in_list = 0;
    for (size_t i = 0; i < d->n && !rc; i++) {
        const rep__block *b = &d->b[i];
        if (in_list && b->kind != REP__ITEM) {
            fputs("</ul>\n", f);
            in_list = 0;
        }
        switch (b->kind) {
        case REP__HEAD:
            fprintf(f, "<h%d", b->level);
            if (b->id) {
                fputs(" id=\"", f);
                rep__html_esc(f, b->id);
                fputs("\"", f);
            }
            fputs(">", f);
            rep__html_esc(f, b->text);
            fprintf(f, "</h%d>\n", b->level);
            break;
        case REP__PARA:
            fputs("<p>", f);
            rep__html_esc(f, b->text);
            fputs("</p>\n", f);
            break;
        case REP__PRE:
            fputs("<pre>", f);
            rep__html_esc(f, b->text);
            fputs("</pre>\n", f);
            break;
        case REP__ITEM:
            if (!in_list) fputs("<ul>\n", f);
            in_list = 1;
            fputs("<li>", f);
            rep__html_esc(f, b->text);
            fputs("</li>\n", f);
            break;
        case REP__TABLE:
            html_table(f, b);
            break;
        case REP__FIG:
            rc = html_fig(e, f, b, dir);
            break;
        }
    }
    if (in_list) fputs("</ul>\n", f);
    fputs("</body>\n</html>\n", f);
    if (rc) {
        rep__out_abort(&out);
        return rc;
    }
    return rep__out_commit(e, o, &out);
}

int rep__doc_write_md(ib_err *e, const rep__doc *d, rep__out *o)
{
    if (d->oom) return ib_error(e, IB_ENOMEM, "out of memory building the report");
    rep__file out;
    int rc = rep__out_open(e, o, "report.md", &out);
    if (rc) return rc;
    FILE *f = out.f;
    fprintf(f, "# %s\n\n", d->title);
    int in_list = 0;
    for (size_t i = 0; i < d->n; i++) {
        const rep__block *b = &d->b[i];
        if (in_list && b->kind != REP__ITEM) {
            fputs("\n", f);
            in_list = 0;
        }
        switch (b->kind) {
        case REP__HEAD:
            fprintf(f, "%.*s %s\n\n", b->level, "###", b->text);
            break;
        case REP__PARA:
            fprintf(f, "%s\n\n", b->text);
            break;
        case REP__PRE:
            fprintf(f, "```\n%s\n```\n\n", b->text);
            break;
        case REP__ITEM:
            in_list = 1;
            fputs("- ", f);
            rep__md_cell(f, b->text);
            fputs("\n", f);
            break;
        case REP__TABLE: {
            if (b->text && *b->text) fprintf(f, "**%s**\n\n", b->text);
            size_t nrows = b->ncols ? b->ncells / b->ncols : 0;
            for (size_t r = 0; r < nrows; r++) {
                fputs("|", f);
                for (size_t c = 0; c < b->ncols; c++) {
                    fputs(" ", f);
                    rep__md_cell(f, b->cells[r * b->ncols + c]);
                    fputs(" |", f);
                }
                fputs("\n", f);
                if (r == 0) {
                    fputs("|", f);
                    for (size_t c = 0; c < b->ncols; c++) {
                        /* right-align a column whose cells are mostly numbers */
                        size_t nnum = 0;
                        for (size_t q = 1; q < nrows; q++)
                            nnum += (size_t)numeric(b->cells[q * b->ncols + c]);
                        int num = nrows > 1 && 2 * nnum > nrows - 1;
                        fputs(num ? "---:|" : "---|", f);
                    }
                    fputs("\n", f);
                }
            }
            fputs("\n", f);
            break;
        }
        case REP__FIG:
            fprintf(f, "**%s**\n\n", b->title);
            if (b->rendered) fprintf(f, "![%s](%s.png)\n\n", b->title, b->name);
            else fputs("*(image not rendered; see the warnings)*\n\n", f);
            fprintf(f, "%s", b->text);
            fputs(" Files:", f);
            if (b->rendered) fprintf(f, " [SVG](%s.svg)", b->name);
            fprintf(f, " [gnuplot script](%s.gp)", b->name);
            {
                char buf[4096];
                snprintf(buf, sizeof buf, "%s", b->files);
                for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok;
                     tok = strtok_r(NULL, " ", &save))
                    fprintf(f, " [%s](%s)", tok, tok);
            }
            fputs("\n\n", f);
            break;
        }
    }
    return rep__out_commit(e, o, &out);
}
