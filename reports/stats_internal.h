/*
 * stats_internal.h: what the pure statistics files of the reports module
 * (stats.c, fit.c, costmodel.c) share and nobody else sees — sample checks,
 * allocation, the bootstrap's index draws and percentile intervals. No
 * I/O, no database: these files depend on common/ only.
 */
#ifndef REP_STATS_INTERNAL_H
#define REP_STATS_INTERNAL_H

#include "reports/reports.h"

/* Streams of the counter-based generator, so resamples never overlap. */
enum {
    REP__STREAM_MEDIAN = 1,
    REP__STREAM_NUM,
    REP__STREAM_DEN,
    REP__STREAM_AMDAHL,
    REP__STREAM_NNLS,
    REP__STREAM_KF_NUM,
    REP__STREAM_KF_DEN
};

/* qsort comparison of doubles, ascending. */
int rep__cmp_double(const void *a, const void *b);
/* IB_EINVAL naming what when n == 0, x is NULL or a value is not finite. */
int rep__check_sample(ib_err *e, const double *x, size_t n, const char *what);
/* n doubles (ib_free), NULL with IB_ENOMEM in e on failure. */
double *rep__alloc_doubles(ib_err *e, size_t n, const char *what);
/* Index in [0, n) of draw i of resample b (counter-based, reproducible). */
size_t rep__draw_index(uint64_t seed, uint64_t stream, uint64_t b, uint64_t i, size_t n);
/* IB_EINVAL unless level is in (0, 1) and B >= 10. */
int rep__check_boot_args(ib_err *e, double level, size_t B, const char *what);
/* Percentile interval of B estimates at level (sorts est in place). */
void rep__percentile_ci(double *est, size_t B, double level, double *lo, double *hi);

#endif
