/*
 * testutil.c: temporary directories and program runs for the tests.
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <math.h>
#include <stdint.h>

#include <fitsio.h>

#include "imaging/imaging.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char *p;
    if (asprintf(&p, "%s/imbench-%s-XXXXXX", base && *base ? base : "/tmp", tag) < 0)
        return NULL;
    if (!mkdtemp(p)) {
        free(p);
        return NULL;
    }
    return p;
}

void tu_rmtree(const char *path)
{
    if (!path || !*path || strcmp(path, "/") == 0) return;
    char *cmd;
    if (asprintf(&cmd, "rm -rf '%s'", path) < 0) return;
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
    free(cmd);
}

const char *tu_bin(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("IMBENCH_BIN");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : "build/bin", name);
    return buf;
}

int tu_run(char **out, const char *fmt, ...)
{
    char *cmd, *full;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&cmd, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    if (asprintf(&full, "( %s ) 2>&1", cmd) < 0) {
        free(cmd);
        return -1;
    }
    free(cmd);
    FILE *p = popen(full, "r");
    free(full);
    if (!p) return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += r;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[len] = '\0';
    int st = pclose(p);
    if (out) *out = buf;
    else free(buf);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

int tu_contains(const char *haystack, const char *needle)
{
    return haystack && needle && strstr(haystack, needle) != NULL;
}

int tu_count(const char *haystack, const char *needle)
{
    int n = 0;
    if (!haystack || !needle || !*needle) return 0;
    for (const char *q = haystack; (q = strstr(q, needle)) != NULL; q += strlen(needle)) n++;
    return n;
}

#define C_LIGHT 299792458.0

/* A store with real earth-rotation tracks and exactly computed (2-D)
 * visibilities of the given sources; XX = YY = I + pol*0.1*I for a check
 * that pols are kept apart. */
int tu_make_store(const char *dir, const tu_store *t, const tu_src *s, int ns)
{
    if (t->nant < 2 || t->ntime < 1 || t->nchan < 1 || t->npol < 1) {
        fprintf(stderr, "tu_make_store: no visibilities in %d antennas x %d times x %d "
                        "channels x %d pols\n", t->nant, t->ntime, t->nchan, t->npol);
        return -1;
    }
    int nbl = t->nant * (t->nant - 1) / 2;
    int64_t nrow = (int64_t)nbl * t->ntime;
    img_vis_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.dataset, sizeof m.dataset, "test");
    snprintf(m.telescope, sizeof m.telescope, "ALMA");
    m.nrow = nrow;
    m.nchan = t->nchan;
    m.npol = t->npol;
    m.nfield = 1;
    m.nant = t->nant;
    m.corr[0] = -5;
    m.corr[1] = -6;
    m.phase_centre[0] = 1.0;
    m.phase_centre[1] = -0.5;
    m.image_nx = m.image_ny = t->nx;
    m.cell_arcsec = t->cell_arcsec;
    double *freq = malloc(sizeof(double) * t->nchan), fd[2] = {1.0, -0.5};
    double *dish = malloc(sizeof(double) * t->nant);
    for (int c = 0; c < t->nchan; c++) freq[c] = 100e9 + 50e6 * c;
    for (int a = 0; a < t->nant; a++) dish[a] = 12;
    img_vis_store *st;
    ib_err e;
    if (img_vis_create(&e, dir, &m, freq, fd, dish, &st)) {
        fprintf(stderr, "tu_make_store: %s\n", e.msg);
        free(freq);
        free(dish);
        return -1;
    }
    double *L = malloc(sizeof(double) * 3 * t->nant);
    for (int a = 0; a < t->nant; a++)
        for (int k = 0; k < 3; k++)
            L[3 * a + k] = (ib_uniform(ib_hash4(7, (uint64_t)a, (uint64_t)k, 0)) - 0.5) * 600.0;
    size_t nv = (size_t)nrow * t->nchan * t->npol;
    double *uvw = malloc(sizeof(double) * 3 * nrow), *tm = malloc(sizeof(double) * nrow);
    float *vis = malloc(sizeof(float) * 2 * nv), *wt = malloc(sizeof(float) * nv);
    uint8_t *fl = malloc(nv);
    int32_t *fld = calloc(nrow, 4), *a1 = malloc(4 * nrow), *a2 = malloc(4 * nrow);
    double dec = -0.5;
    int64_t r = 0;
    for (int it = 0; it < t->ntime; it++) {
        double H = (it / (double)(t->ntime > 1 ? t->ntime - 1 : 1) - 0.5) * 1.5;
        for (int i = 0; i < t->nant; i++)
            for (int j = i + 1; j < t->nant; j++, r++) {
                double Lx = L[3 * j] - L[3 * i], Ly = L[3 * j + 1] - L[3 * i + 1],
                       Lz = L[3 * j + 2] - L[3 * i + 2];
                double u = sin(H) * Lx + cos(H) * Ly;
                double v = -sin(dec) * cos(H) * Lx + sin(dec) * sin(H) * Ly + cos(dec) * Lz;
                double w = cos(dec) * cos(H) * Lx - cos(dec) * sin(H) * Ly + sin(dec) * Lz;
                uvw[3 * r] = u; uvw[3 * r + 1] = v; uvw[3 * r + 2] = w;
                tm[r] = it * 10.0; a1[r] = i; a2[r] = j;
                for (int c = 0; c < t->nchan; c++) {
                    double f = freq[c] / C_LIGHT;
                    double re = 0, im = 0;
                    for (int k = 0; k < ns; k++) {
                        double ph = -2 * M_PI * f * (u * s[k].l + v * s[k].m);
                        double amp = s[k].flux *
                                     exp(-2 * M_PI * M_PI * s[k].sigma * s[k].sigma * f * f * (u * u + v * v));
                        re += amp * cos(ph);
                        im += amp * sin(ph);
                    }
                    for (int p = 0; p < t->npol; p++) {
                        size_t o = ((size_t)r * t->nchan + c) * t->npol + p;
                        double sc = 1.0 + 0.1 * p;
                        vis[2 * o] = (float)(re * sc);
                        vis[2 * o + 1] = (float)(im * sc);
                        wt[o] = (float)(0.5 + ib_uniform(ib_hash4(3, (uint64_t)r, 0, 0)));
                        fl[o] = ib_uniform(ib_hash4(5, (uint64_t)r, (uint64_t)c, (uint64_t)p)) < t->flag_frac;
                    }
                }
            }
    }
    int rc = img_vis_write_rows(&e, st, 0, nrow, uvw, vis, wt, fl, fld, a1, a2, tm);
    if (rc) img_vis_abort(st);
    else rc = img_vis_close(&e, st);
    if (rc) fprintf(stderr, "tu_make_store: %s\n", e.msg);
    free(freq); free(dish); free(L); free(uvw); free(tm); free(vis); free(wt); free(fl);
    free(fld); free(a1); free(a2);
    return rc;
}


float *tu_read_cube(const char *path, long n[4])
{
    fitsfile *fp;
    int status = 0, naxis = 0, anynul;
    n[0] = n[1] = n[2] = n[3] = 1;
    fits_open_file(&fp, path, READONLY, &status);
    if (status) return NULL;
    fits_get_img_dim(fp, &naxis, &status);
    if (naxis != 4) status = BAD_NAXIS;
    fits_get_img_size(fp, 4, n, &status);
    size_t tot = (size_t)(n[0] * n[1] * n[2] * n[3]);
    float *buf = status ? NULL : malloc(sizeof(float) * tot);
    long fp1[4] = {1, 1, 1, 1};
    if (buf) fits_read_pix(fp, TFLOAT, fp1, (LONGLONG)tot, NULL, buf, &anynul, &status);
    int st2 = 0;
    fits_close_file(fp, &st2);
    if (status) {
        free(buf);
        return NULL;
    }
    return buf;
}

double tu_max_rel_diff(const float *a, const float *b, size_t n)
{
    float peak = 0, maxd = 0;
    for (size_t i = 0; i < n; i++) {
        float pa = a[i] < 0 ? -a[i] : a[i], d = a[i] - b[i];
        peak = pa > peak ? pa : peak;
        d = d < 0 ? -d : d;
        maxd = d > maxd ? d : maxd;
    }
    return peak > 0 ? maxd / peak : maxd;
}

char *tu_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int tu_find_rank(const char *prog, const char *tag, int rank)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    const char *prog_base = strrchr(prog, '/');
    prog_base = prog_base ? prog_base + 1 : prog;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        char path[64];
        size_t n = 0;
        snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
        char *cmd = tu_slurp(path, &n);
        if (!cmd) continue;
        const char *base = strrchr(cmd, '/'); /* argv[0], as mpirun gives it */
        int match = n > 0 && strcmp(base ? base + 1 : cmd, prog_base) == 0;
        for (size_t i = 0; i < n; i++)
            if (cmd[i] == '\0') cmd[i] = ' ';
        match = match && strstr(cmd, tag) != NULL;
        free(cmd);
        if (!match) continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        char *env = tu_slurp(path, &n);
        if (!env) continue;
        for (size_t i = 0; i < n; i += strlen(env + i) + 1)
            if (strcmp(env + i, want) == 0) found = (int)pid;
        free(env);
    }
    closedir(d);
    return found;
}
