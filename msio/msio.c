/*
 * msio.c: the C half of MeasurementSet import and export — options, the
 * visibility store, block sizing, progress and the figures reported.
 * Everything that touches casacore is behind ms_internal.h.
 */
#define _GNU_SOURCE
#include "msio/msio.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imaging/imaging.h"
#include "msio/ms_internal.h"

#define C_LIGHT 299792458.0
#define RAD_ARCSEC (180.0 * 3600.0 / M_PI)
#define BLOCK_BYTES ((int64_t)64 << 20)

_Static_assert((int)MS__ENOMEM == (int)IB_ENOMEM && (int)MS__EIO == (int)IB_EIO &&
                   (int)MS__EINVAL == (int)IB_EINVAL && (int)MS__ECORRUPT == (int)IB_ECORRUPT &&
                   (int)MS__ENOTFOUND == (int)IB_ENOTFOUND &&
                   (int)MS__EUNSUPPORTED == (int)IB_EUNSUPPORTED,
               "ms_internal.h error codes must equal common.h's");

void ms_import_opts_init(ms_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->spw = -1;
    o->chan_first = -1;
    o->chan_last = -1;
}

void ms_export_opts_init(ms_export_opts *o) { memset(o, 0, sizeof *o); }

/* The adapter writes its message straight into e. */
static ms__msg msg_of(ib_err *e)
{
    ms__msg m = {e ? e->msg : NULL, e ? sizeof e->msg : 0};
    return m;
}

static int adapter(ib_err *e, int rc)
{
    if (rc && e) e->code = rc;
    return rc;
}

/*
 * Rows per block: given, or as many as fit BLOCK_BYTES of buffers; a
 * multiple of the store's row chunk when at least one chunk fits, else a
 * power of two dividing it, so blocks never straddle a chunk boundary.
 */
static int64_t block_rows(int64_t given, int64_t nrow, int64_t nchan, int npol)
{
    int64_t b = given;
    if (b <= 0) {
        int64_t per_row = nchan * npol * (8 + 4 + 1 + 8) + 64;
        b = BLOCK_BYTES / per_row;
        const int64_t ck = img_vis_chunk_rows(nrow);
        if (b >= ck) {
            b -= b % ck;
        } else {
            int64_t p = 1;
            while (p * 2 <= b) p *= 2;
            b = p;
        }
    }
    if (b < 1) b = 1;
    if (b > nrow) b = nrow;
    return b;
}

int ms_parse_chans(ib_err *e, const char *text, int64_t *first, int64_t *last)
{
    char buf[64];
    if (!text || strlen(text) >= sizeof buf) goto bad;
    strcpy(buf, text);
    char *t = strchr(buf, '~');
    if (t) *t = '\0';
    int64_t a, b;
    if (ib_parse_i64(buf, &a) || a < 0) goto bad;
    b = a;
    if (t && (ib_parse_i64(t + 1, &b) || b < a)) goto bad;
    *first = a;
    *last = b;
    return 0;
bad:
    return ib_error(e, IB_EINVAL, "option '--chans' expects A~B (first and last channel, "
                    "0-based, A <= B) or A, got '%s'", text ? text : "");
}

/* Dataset name from the MS path: base name without a .ms suffix. */
static void dataset_name(const char *path, char *out, size_t n)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
    const char *base = strrchr(buf, '/');
    base = base ? base + 1 : buf;
    len = strlen(base);
    size_t keep = len;
    if (len > 3 && (strcasecmp(base + len - 3, ".ms") == 0)) keep = len - 3;
    snprintf(out, n, "%.*s", (int)keep, base);
}

typedef struct blockbuf {
    double *uvw, *time;
    float *vis, *weight;
    uint8_t *flag;
    int32_t *field, *ant1, *ant2;
} blockbuf;

static void blockbuf_release(blockbuf *b)
{
    ib_free(b->uvw);
    ib_free(b->time);
    ib_free(b->vis);
    ib_free(b->weight);
    ib_free(b->flag);
    ib_free(b->field);
    ib_free(b->ant1);
    ib_free(b->ant2);
    memset(b, 0, sizeof *b);
}

static int blockbuf_init(ib_err *e, blockbuf *b, int64_t rows, int64_t nchan, int npol)
{
    memset(b, 0, sizeof *b);
    size_t nr = (size_t)rows, ns;
    if (ib_mul3_size(nr, (size_t)nchan, (size_t)npol, &ns) || ns > ((size_t)1 << 40))
        return ib_error(e, IB_EOVERFLOW, "block of %lld rows x %lld channels is too large",
                        (long long)rows, (long long)nchan);
    b->uvw = ib_malloc(sizeof(double) * 3 * nr);
    b->time = ib_malloc(sizeof(double) * nr);
    b->vis = ib_malloc(sizeof(float) * 2 * ns);
    b->weight = ib_malloc(sizeof(float) * ns);
    b->flag = ib_malloc(ns);
    b->field = ib_malloc(sizeof(int32_t) * nr);
    b->ant1 = ib_malloc(sizeof(int32_t) * nr);
    b->ant2 = ib_malloc(sizeof(int32_t) * nr);
    if (!b->uvw || !b->time || !b->vis || !b->weight || !b->flag || !b->field || !b->ant1 ||
        !b->ant2) {
        blockbuf_release(b);
        return ib_error(e, IB_ENOMEM, "out of memory for a block of %lld rows x %lld channels",
                        (long long)rows, (long long)nchan);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Import                                                              */
/* ------------------------------------------------------------------ */

int ms_import(ib_err *e, const char *ms_path, const char *out_dir, const ms_import_opts *o,
              ms_import_info *info)
{
    ms_import_opts def;
    if (!o) {
        ms_import_opts_init(&def);
        o = &def;
    }
    double t0 = ib_now();
    ms__reader *r = NULL;
    const ms__sel *s = NULL;
    img_vis_store *st = NULL;
    blockbuf bb;
    memset(&bb, 0, sizeof bb);
    ms_import_info inf;
    memset(&inf, 0, sizeof inf);
    const char *column = o->column ? o->column : "DATA";
    int rc;
    if (strcmp(column, "DATA") && strcmp(column, "CORRECTED_DATA") && strcmp(column, "MODEL_DATA"))
        return ib_error(e, IB_EINVAL, "option '--column' must be DATA, CORRECTED_DATA or "
                        "MODEL_DATA, got '%s'", column);
    if ((rc = adapter(e, ms__reader_open(msg_of(e), ms_path, &r))))
        return rc;
    if ((rc = adapter(e, ms__reader_select(msg_of(e), r, column, o->spw, o->fields,
                                           o->chan_first, o->chan_last, &s))))
        goto out;

    img_vis_meta meta;
    memset(&meta, 0, sizeof meta);
    int whole = !o->fields && o->chan_first < 0 && o->chan_last < 0;
    inf.restored = s->has_keys && whole;
    double fmax = 0;
    for (int64_t c = 0; c < s->nchan; c++)
        if (s->freq[c] > fmax) fmax = s->freq[c];
    inf.umax_lambda = s->umax_m * fmax / C_LIGHT;
    if (inf.restored) {
        snprintf(meta.dataset, sizeof meta.dataset, "%s", s->dataset);
        meta.phase_centre[0] = s->phase_centre[0];
        meta.phase_centre[1] = s->phase_centre[1];
        meta.image_nx = s->image_nx;
        meta.image_ny = s->image_ny;
        meta.cell_arcsec = s->cell_arcsec;
    } else {
        dataset_name(ms_path, meta.dataset, sizeof meta.dataset);
        meta.phase_centre[0] = s->field_dir[0];
        meta.phase_centre[1] = s->field_dir[1];
        meta.image_nx = meta.image_ny = o->image > 0 ? o->image : MS_DEFAULT_IMAGE;
        meta.cell_arcsec = inf.umax_lambda > 0 ? RAD_ARCSEC / (3.0 * inf.umax_lambda) : 1.0;
    }
    snprintf(meta.telescope, sizeof meta.telescope, "%s", s->telescope);
    meta.nrow = s->nrow;
    meta.nchan = s->nchan;
    meta.npol = s->npol;
    meta.nfield = s->nfield;
    meta.nant = s->nant;
    for (int p = 0; p < s->npol; p++) meta.corr[p] = s->corr[p];

    int64_t B = block_rows(o->block_rows, s->nrow, s->nchan, s->npol);
    if ((rc = blockbuf_init(e, &bb, B, s->nchan, s->npol))) goto out;
    if ((rc = img_vis_create(e, out_dir, &meta, s->freq, s->field_dir, s->dish, &st))) goto out;
    for (int64_t i0 = 0; i0 < s->nrow; i0 += B) {
        int64_t n = s->nrow - i0 < B ? s->nrow - i0 : B;
        if ((rc = adapter(e, ms__reader_read(msg_of(e), r, i0, n, bb.uvw, bb.vis, bb.weight,
                                             bb.flag, bb.field, bb.ant1, bb.ant2, bb.time,
                                             &inf.bytes_read))))
            goto out;
        if ((rc = img_vis_write_rows(e, st, i0, n, bb.uvw, bb.vis, bb.weight, bb.flag, bb.field,
                                     bb.ant1, bb.ant2, bb.time)))
            goto out;
        if (o->progress) o->progress(o->progress_ctx, i0 + n, s->nrow);
    }
    rc = img_vis_close(e, st);
    st = NULL;
    if (rc) goto out;

    inf.nrow_ms = s->nrow_ms;
    inf.nrow = s->nrow;
    inf.nchan = s->nchan;
    inf.chan0 = s->chan0;
    inf.npol = s->npol;
    inf.ncorr = s->ncorr;
    inf.reduced = s->reduced;
    inf.spw = s->spw;
    inf.nfield = s->nfield;
    inf.nant = s->nant;
    memcpy(inf.corr, s->corr, sizeof inf.corr);
    snprintf(inf.column, sizeof inf.column, "%s", column);
    snprintf(inf.weight_source, sizeof inf.weight_source, "%s", s->weight_source);
    snprintf(inf.telescope, sizeof inf.telescope, "%s", meta.telescope);
    snprintf(inf.dataset, sizeof inf.dataset, "%s", meta.dataset);
    inf.image_nx = meta.image_nx;
    inf.image_ny = meta.image_ny;
    inf.cell_arcsec = meta.cell_arcsec;
    inf.block_rows = B;
    inf.seconds = ib_now() - t0;
    if (info) *info = inf;
out:
    img_vis_abort(st);
    blockbuf_release(&bb);
    ms__reader_close(r);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Export                                                              */
/* ------------------------------------------------------------------ */

/* First and last time, and the smallest step between consecutive
 * distinct times (1 s when there is one time only). */
static int time_range(ib_err *e, img_vis_store *st, int64_t B, double *first, double *last,
                      double *interval)
{
    const img_vis_meta *m = img_vis_meta_get(st);
    double *t = ib_malloc(sizeof(double) * (size_t)B);
    if (!t) return ib_error(e, IB_ENOMEM, "out of memory reading times");
    double lo = INFINITY, hi = -INFINITY, step = INFINITY, prev = NAN;
    int rc = 0;
    for (int64_t i0 = 0; i0 < m->nrow && !rc; i0 += B) {
        int64_t n = m->nrow - i0 < B ? m->nrow - i0 : B;
        if ((rc = img_vis_read_rows(e, st, i0, n, NULL, NULL, NULL, NULL, t))) break;
        for (int64_t k = 0; k < n; k++) {
            if (t[k] < lo) lo = t[k];
            if (t[k] > hi) hi = t[k];
            double d = fabs(t[k] - prev);
            if (d > 0 && d < step) step = d;
            prev = t[k];
        }
    }
    ib_free(t);
    *first = lo;
    *last = hi;
    *interval = isfinite(step) ? step : 1.0;
    return rc;
}

int ms_export(ib_err *e, const char *store_dir, const char *ms_path, const ms_export_opts *o,
              ms_export_info *info)
{
    ms_export_opts def;
    if (!o) {
        ms_export_opts_init(&def);
        o = &def;
    }
    double t0 = ib_now();
    img_vis_store *st = NULL;
    ms__writer *w = NULL;
    blockbuf bb;
    memset(&bb, 0, sizeof bb);
    ms_export_info inf;
    memset(&inf, 0, sizeof inf);
    int rc = img_vis_open(e, store_dir, &st);
    if (rc) return rc;
    const img_vis_meta *m = img_vis_meta_get(st);
    int64_t B = block_rows(o->block_rows, m->nrow, m->nchan, m->npol);
    double tf = 0, tl = 0, ivl = 1;
    if ((rc = blockbuf_init(e, &bb, B, m->nchan, m->npol)) ||
        (rc = time_range(e, st, B, &tf, &tl, &ivl)))
        goto out;
    ms__wdesc d;
    memset(&d, 0, sizeof d);
    d.dataset = m->dataset;
    d.telescope = m->telescope;
    d.nrow = m->nrow;
    d.nchan = m->nchan;
    d.npol = m->npol;
    d.corr = m->corr;
    d.nfield = m->nfield;
    d.field_dir = img_vis_field_dir(st);
    d.nant = m->nant;
    d.dish = img_vis_dish(st);
    d.freq = img_vis_freq(st);
    d.interval = ivl;
    d.time_first = tf;
    d.time_last = tl;
    d.phase_centre[0] = m->phase_centre[0];
    d.phase_centre[1] = m->phase_centre[1];
    d.image_nx = m->image_nx;
    d.image_ny = m->image_ny;
    d.cell_arcsec = m->cell_arcsec;
    d.overwrite = o->overwrite;
    if ((rc = adapter(e, ms__writer_create(msg_of(e), ms_path, &d, &w)))) goto out;
    for (int64_t i0 = 0; i0 < m->nrow; i0 += B) {
        int64_t n = m->nrow - i0 < B ? m->nrow - i0 : B;
        if ((rc = img_vis_read_rows(e, st, i0, n, bb.uvw, bb.field, bb.ant1, bb.ant2,
                                    bb.time)) ||
            (rc = img_vis_read_slab(e, st, i0, n, 0, m->nchan, bb.vis, bb.weight, bb.flag,
                                    NULL)))
            goto out;
        if ((rc = adapter(e, ms__writer_write(msg_of(e), w, i0, n, bb.uvw, bb.vis, bb.weight,
                                              bb.flag, bb.field, bb.ant1, bb.ant2, bb.time))))
            goto out;
        if (o->progress) o->progress(o->progress_ctx, i0 + n, m->nrow);
    }
    inf.nrow = m->nrow;
    inf.nchan = m->nchan;
    inf.npol = m->npol;
    inf.nfield = m->nfield;
    inf.nant = m->nant;
    inf.interval = ivl;
    inf.block_rows = B;
    rc = adapter(e, ms__writer_close(msg_of(e), w, &inf.nscan));
    w = NULL;
    if (rc) goto out;
    inf.seconds = ib_now() - t0;
    if (info) *info = inf;
out:
    ms__writer_abort(w);
    blockbuf_release(&bb);
    img_vis_close(NULL, st);
    return rc;
}
