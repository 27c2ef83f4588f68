/*
 * rows.c: the rows of the store as the gridder visits them. Row metadata
 * is read once and sorted by baseline, then time (img__rows_load), so
 * consecutive samples move along one uv track and their grid writes stay
 * in cache; with row chunks the rows are split into near-equal stored-row
 * ranges (img__rows_split) and each range's rows are listed in that same
 * order (img__rows_group).
 */
#include "imaging/plan_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_row(const void *pa, const void *pb)
{
    const img__row_key *a = pa, *b = pb;
    if (a->a1 != b->a1) return a->a1 < b->a1 ? -1 : 1;
    if (a->a2 != b->a2) return a->a2 < b->a2 ? -1 : 1;
    if (a->t != b->t) return a->t < b->t ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
}

/*
 * keys sorted by (a1, a2, t, row) as qsort with cmp_row would, in linear
 * time for the usual store: a stable counting sort by baseline, then a
 * check that time ascends within each baseline (rows in time order, as
 * correlators write them); a baseline where it does not is sorted by
 * cmp_row. Antenna numbers outside 0..nant-1 fall back to qsort.
 */
int img__sort_rows(img__row_key *keys, size_t n, int nant)
{
    size_t nb = (size_t)(nant > 0 ? nant : 0) * (size_t)(nant > 0 ? nant : 0);
    for (size_t i = 0; i < n && nb; i++)
        if (keys[i].a1 < 0 || keys[i].a1 >= nant || keys[i].a2 < 0 || keys[i].a2 >= nant) nb = 0;
    if (nb == 0 || nb > ((size_t)1 << 24)) {
        qsort(keys, n, sizeof *keys, cmp_row);
        return 0;
    }
    size_t *start = ib_calloc(nb + 1, sizeof *start);
    img__row_key *tmp = ib_malloc(sizeof *tmp * (n ? n : 1));
    if (!start || !tmp) {
        free(start);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        start[(size_t)keys[i].a1 * (size_t)nant + (size_t)keys[i].a2 + 1]++;
    for (size_t b = 0; b < nb; b++) start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++) /* keys are in row order: stable by row */
        tmp[start[(size_t)keys[i].a1 * (size_t)nant + (size_t)keys[i].a2]++] = keys[i];
    /* start[b] is now the end of baseline b */
    for (size_t b = 0, lo = 0; b < nb; lo = start[b++]) {
        size_t hi = start[b];
        for (size_t i = lo + 1; i < hi; i++)
            if (tmp[i].t < tmp[i - 1].t) {
                qsort(tmp + lo, hi - lo, sizeof *tmp, cmp_row);
                break;
            }
    }
    memcpy(keys, tmp, sizeof *keys * n);
    free(tmp);
    free(start);
    return 0;
}

/* Rows ordered baseline by baseline so consecutive samples move along one
 * uv track and stay in cache. */
int img__rows_load(ib_err *e, img_plan *pl)
{
    size_t n = (size_t)pl->nrow;
    double *uvw = ib_malloc(sizeof(double) * 3 * n), *t = ib_malloc(sizeof(double) * n);
    int32_t *a1 = ib_malloc(sizeof(int32_t) * n), *a2 = ib_malloc(sizeof(int32_t) * n);
    img__row_key *keys = ib_malloc(sizeof(img__row_key) * n);
    pl->row_order = ib_malloc(sizeof(int64_t) * n);
    pl->u_m = ib_malloc(sizeof(double) * n);
    pl->v_m = ib_malloc(sizeof(double) * n);
    pl->row_field = ib_malloc(sizeof(int32_t) * n);
    int32_t *fld = ib_malloc(sizeof(int32_t) * n);
    int rc = 0;
    if (!uvw || !t || !a1 || !a2 || !keys || !pl->row_order || !pl->u_m || !pl->v_m ||
        !pl->row_field || !fld) {
        rc = ib_error(e, IB_ENOMEM, "out of memory reading %zu rows", n);
        goto out;
    }
    if ((rc = img_vis_read_rows(e, pl->store, 0, pl->nrow, uvw, fld, a1, a2, t))) goto out;
    for (size_t i = 0; i < n; i++) {
        keys[i] = (img__row_key){a1[i], a2[i], t[i], (int64_t)i};
        if (fld[i] < 0 || fld[i] >= pl->nfield) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/field' row %zu is %d, outside "
                          "0..%d", img_vis_path(pl->store), i, fld[i], pl->nfield - 1);
            goto out;
        }
        if (!isfinite(uvw[3 * i]) || !isfinite(uvw[3 * i + 1]) || !isfinite(uvw[3 * i + 2])) {
            rc = ib_error(e, IB_ECORRUPT, "store '%s': dataset '/uvw' row %zu is not finite",
                          img_vis_path(pl->store), i);
            goto out;
        }
    }
    if (img__sort_rows(keys, n, img_vis_meta_get(pl->store)->nant)) {
        rc = ib_error(e, IB_ENOMEM, "out of memory sorting %zu rows", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t r = keys[i].r;
        pl->row_order[i] = r;
        pl->u_m[i] = uvw[3 * r];
        pl->v_m[i] = uvw[3 * r + 1];
        pl->row_field[i] = fld[r];
    }
out:
    free(fld);
    free(uvw);
    free(t);
    free(a1);
    free(a2);
    free(keys);
    return rc;
}

int img__rows_split(ib_err *e, img_plan *pl)
{
    const int N = pl->par->size, M = pl->row_chunks;
    pl->row_chunk0 = ib_malloc(sizeof(int64_t) * ((size_t)M + 1));
    if (!pl->row_chunk0)
        return ib_nomem(e, "for the row chunks", (double)sizeof(int64_t) * ((double)M + 1));
    if (pl->nrow > INT64_MAX / (M > N ? M : N))
        return ib_error(e, IB_EOVERFLOW, "%lld rows x %d row chunks overflow", (long long)pl->nrow,
                        M);
    for (int j = 0; j <= M; j++) pl->row_chunk0[j] = j * pl->nrow / M;
    pl->max_row_chunk_rows = 0;
    for (int j = 0; j < M; j++) {
        int64_t rows = pl->row_chunk0[j + 1] - pl->row_chunk0[j];
        if (rows > pl->max_row_chunk_rows) pl->max_row_chunk_rows = rows;
    }
    pl->slab_rows = pl->max_row_chunk_rows;
    return 0;
}

/* The row_order positions (baseline order) of each row chunk's rows, so a row
 * task grids its samples in the same cache-friendly order. */
int img__rows_group(ib_err *e, img_plan *pl)
{
    const int M = pl->row_chunks;
    pl->rows_by_chunk = ib_malloc(sizeof(int64_t) * (size_t)pl->nrow);
    pl->rows_by_chunk_start = ib_calloc((size_t)M + 1, sizeof(int64_t));
    int *of = ib_malloc(sizeof(int) * (size_t)pl->nrow);
    if (!pl->rows_by_chunk || !pl->rows_by_chunk_start || !of) {
        free(of);
        return ib_error(e, IB_ENOMEM, "out of memory grouping %lld rows", (long long)pl->nrow);
    }
    for (int64_t k = 0; k < pl->nrow; k++) {
        int64_t row = pl->row_order[k];
        int j = (int)(row * M / pl->nrow);
        while (j > 0 && row < pl->row_chunk0[j]) j--;
        while (j < M - 1 && row >= pl->row_chunk0[j + 1]) j++;
        of[k] = j;
        pl->rows_by_chunk_start[j + 1]++;
    }
    for (int j = 0; j < M; j++) pl->rows_by_chunk_start[j + 1] += pl->rows_by_chunk_start[j];
    int64_t *fill = ib_malloc(sizeof(int64_t) * (size_t)M);
    if (!fill) {
        free(of);
        return ib_nomem(e, "grouping rows by row chunk", (double)sizeof(int64_t) * M);
    }
    memcpy(fill, pl->rows_by_chunk_start, sizeof(int64_t) * (size_t)M);
    for (int64_t k = 0; k < pl->nrow; k++) pl->rows_by_chunk[fill[of[k]]++] = k;
    free(fill);
    free(of);
    return 0;
}
