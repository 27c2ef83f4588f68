/*
 * sky.c: sky models for the generator. Makes the seeded list of point and
 * Gaussian sources, writes it as DIR/sky.json (jansson) next to the
 * visibilities it produced, and reads such a file back (--sky) so a given
 * sky can be reproduced or written by hand.
 */
#define _GNU_SOURCE
#include "workloads/wl_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A sky.json.tmp a killed generator left: empty or a JSON object. */
static int sky_tmp_ours(int fd)
{
    char c;
    ssize_t n = pread(fd, &c, 1, 0);
    return n == 0 || (n == 1 && c == '{');
}

/* Domain tag so the sky's random stream differs from noise and flags. */
#define SKY_TAG 0x536b794d6f64656cULL

static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

int wl__sky_seeded(ib_err *e, uint64_t seed, int n, const wl__sky_geom *g, wl_source **out)
{
    *out = NULL;
    if (n <= 0) return 0;
    wl_source *src = ib_calloc((size_t)n, sizeof *src);
    int *cand = ib_calloc((size_t)(g->nfield > 0 ? g->nfield : 1), sizeof *cand);
    if (!src || !cand) {
        ib_free(src);
        ib_free(cand);
        return ib_error(e, IB_ENOMEM, "out of memory for a sky of %d sources", n);
    }
    double bl = 0.4 * g->half_l, bm = 0.4 * g->half_m;
    /* Pointings inside the central box, in field order (nearest first). */
    int ncand = 0;
    for (int f = 0; f < g->nfield; f++)
        if (fabs(g->field_lm[2 * f]) <= bl && fabs(g->field_lm[2 * f + 1]) <= bm)
            cand[ncand++] = f;
    if (ncand == 0) cand[ncand++] = 0;
    /* Offsets from the chosen pointing: within ~0.6 of the beam's half
     * width, so the primary beam leaves at least ~60% of the flux. */
    double rl = bl, rm = bm;
    if (g->pb_hwhm > 0) {
        rl = fmin(rl, 0.6 * g->pb_hwhm);
        rm = fmin(rm, 0.6 * g->pb_hwhm);
    }
    int ngauss = n / 5;
    for (int s = 0; s < n; s++) {
        double h[9];
        for (int k = 0; k < 9; k++)
            h[k] = ib_uniform(ib_hash4(seed ^ SKY_TAG, (uint64_t)s, (uint64_t)k, 0));
        int f = cand[s % ncand];
        double lf = g->field_lm ? g->field_lm[2 * f] : 0.0;
        double mf = g->field_lm ? g->field_lm[2 * f + 1] : 0.0;
        wl_source *p = &src[s];
        p->kind = s >= n - ngauss ? WL_SRC_GAUSSIAN : WL_SRC_POINT;
        p->l = clampd(lf + (2.0 * h[0] - 1.0) * rl, -bl, bl);
        p->m = clampd(mf + (2.0 * h[1] - 1.0) * rm, -bm, bm);
        p->flux_jy = 0.1 + 0.9 * h[2];
        p->ref_freq_hz = 0.0;
        p->spectral_index = -1.2 + 1.7 * h[3];
        p->q_frac = -0.05 + 0.1 * h[4];
        if (p->kind == WL_SRC_GAUSSIAN) {
            p->major = g->cell * (3.0 + 5.0 * h[5]);
            p->minor = p->major * (0.4 + 0.6 * h[6]);
            p->pa = M_PI * h[7];
        }
    }
    ib_free(cand);
    *out = src;
    return 0;
}

static json_t *source_json(const wl__sky_meta *m, const wl_source *s)
{
    double ra, dec;
    wl__lm_to_radec(m->ra0, m->dec0, s->l, s->m, &ra, &dec);
    ra = fmod(ra + 2.0 * M_PI, 2.0 * M_PI);
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "kind", json_string(s->kind == WL_SRC_GAUSSIAN ? "gaussian"
                                                                                 : "point"));
    bad |= json_object_set_new(o, "l_arcsec", json_real(s->l / WL__ARCSEC));
    bad |= json_object_set_new(o, "m_arcsec", json_real(s->m / WL__ARCSEC));
    bad |= json_object_set_new(o, "ra_deg", json_real(ra * 180.0 / M_PI));
    bad |= json_object_set_new(o, "dec_deg", json_real(dec * 180.0 / M_PI));
    bad |= json_object_set_new(o, "flux_jy", json_real(s->flux_jy));
    bad |= json_object_set_new(o, "ref_freq_hz",
                               json_real(s->ref_freq_hz > 0 ? s->ref_freq_hz : m->ref_freq_hz));
    bad |= json_object_set_new(o, "spectral_index", json_real(s->spectral_index));
    bad |= json_object_set_new(o, "q_frac", json_real(s->q_frac));
    if (s->kind == WL_SRC_GAUSSIAN) {
        bad |= json_object_set_new(o, "major_arcsec", json_real(s->major / WL__ARCSEC));
        bad |= json_object_set_new(o, "minor_arcsec", json_real(s->minor / WL__ARCSEC));
        bad |= json_object_set_new(o, "pa_deg", json_real(s->pa * 180.0 / M_PI));
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int wl__sky_write(ib_err *e, const char *path, const wl__sky_meta *m, const wl_source *src,
                  int n)
{
    json_t *root = json_object(), *list = json_array(), *pb = json_object();
    int bad = !root || !list || !pb;
    if (!bad) {
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)m->seed);
        bad |= json_object_set_new(root, "schema", json_string("imbench-sky/1"));
        bad |= json_object_set_new(root, "dataset", json_string(m->dataset));
        /* as a string: JSON integers are signed 64-bit in jansson */
        bad |= json_object_set_new(root, "seed", json_string(seed));
        bad |= json_object_set_new(root, "phase_centre_deg",
                                   json_pack("[f,f]", m->ra0 * 180.0 / M_PI,
                                             m->dec0 * 180.0 / M_PI));
        bad |= json_object_set_new(root, "ref_freq_hz", json_real(m->ref_freq_hz));
        bad |= json_object_set_new(root, "cell_arcsec", json_real(m->cell_arcsec));
        bad |= json_object_set_new(pb, "applied", json_boolean(m->pb));
        bad |= json_object_set_new(pb, "model", json_string("airy (2 J1(x)/x)^2"));
        bad |= json_object_set_new(pb, "dish_diameter_m", json_real(m->dish_m));
        bad |= json_object_set_new(root, "primary_beam", pb);
        pb = NULL;
        bad |= json_object_set_new(root, "convention",
                                   json_string("V = sum S PB G exp(-2 pi i (u l + v m + w (n-1)))"
                                               "; l east, m north (SIN) about phase_centre"));
        for (int i = 0; i < n && !bad; i++) {
            json_t *o = source_json(m, &src[i]);
            bad |= !o || json_array_append_new(list, o);
        }
        bad |= json_object_set_new(root, "sources", list);
        list = NULL;
    }
    json_decref(pb);
    json_decref(list);
    if (bad) {
        json_decref(root);
        return ib_error(e, IB_ENOMEM, "sky '%s': out of memory building JSON", path);
    }
    /* created exclusively: a link planted at the name is not followed */
    char tmp[WL_PATH_MAX + 8];
    int fd = -1, slot = -1;
    int rc = ib_path_fmt(e, tmp, sizeof tmp, "%s.tmp", path);
    if (!rc) rc = ib_create_excl(e, "sky", tmp, 0644, sky_tmp_ours, &fd, &slot);
    if (rc) {
        json_decref(root);
        return rc;
    }
    errno = 0;
    int err = json_dumpfd(root, fd, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) != 0
                  ? (errno ? errno : EIO) : 0;
    json_decref(root);
    if (close(fd) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0) err = errno ? errno : EIO;
    if (err) remove(tmp);
    ib_tmp_drop(slot);
    if (err)
        return ib_error(e, err == ENOSPC || err == EDQUOT ? IB_ENOSPACE : IB_EIO,
                        "sky '%s': cannot write: %s", path, strerror(err));
    return 0;
}

/* A number field of source i; required or defaulted. */
static int num_field(ib_err *e, const char *path, int i, json_t *o, const char *key,
                     int required, double def, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return ib_error(e, IB_EPARSE, "sky '%s' source %d: field '%s' is required", path, i,
                            key);
        *out = def;
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return ib_error(e, IB_EPARSE, "sky '%s' source %d: field '%s' must be a number", path,
                        i, key);
    *out = json_number_value(v);
    return 0;
}

static int parse_source(ib_err *e, const char *path, int i, json_t *o, wl_source *s)
{
    static const char *const known[] = {"kind", "l_arcsec", "m_arcsec", "ra_deg", "dec_deg",
                                        "flux_jy", "ref_freq_hz", "spectral_index", "q_frac",
                                        "major_arcsec", "minor_arcsec", "pa_deg", NULL};
    if (!json_is_object(o))
        return ib_error(e, IB_EPARSE, "sky '%s' source %d: must be an object", path, i);
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        const char *const *k = known;
        while (*k && strcmp(*k, key) != 0) k++;
        if (!*k)
            return ib_error(e, IB_EPARSE, "sky '%s' source %d: unknown field '%s'", path, i,
                            key);
    }
    memset(s, 0, sizeof *s);
    json_t *kind = json_object_get(o, "kind");
    s->kind = WL_SRC_POINT;
    if (kind) {
        const char *k = json_string_value(kind);
        if (k && strcmp(k, "gaussian") == 0) s->kind = WL_SRC_GAUSSIAN;
        else if (!k || strcmp(k, "point") != 0)
            return ib_error(e, IB_EPARSE,
                            "sky '%s' source %d: field 'kind' must be \"point\" or \"gaussian\"",
                            path, i);
    }
    double l = 0, m = 0, maj = 0, min = 0, pa = 0;
    int rc;
    if ((rc = num_field(e, path, i, o, "l_arcsec", 1, 0, &l)) ||
        (rc = num_field(e, path, i, o, "m_arcsec", 1, 0, &m)) ||
        (rc = num_field(e, path, i, o, "flux_jy", 1, 0, &s->flux_jy)) ||
        (rc = num_field(e, path, i, o, "ref_freq_hz", 0, 0, &s->ref_freq_hz)) ||
        (rc = num_field(e, path, i, o, "spectral_index", 0, 0, &s->spectral_index)) ||
        (rc = num_field(e, path, i, o, "q_frac", 0, 0, &s->q_frac)) ||
        (rc = num_field(e, path, i, o, "major_arcsec", s->kind == WL_SRC_GAUSSIAN, 0, &maj)) ||
        (rc = num_field(e, path, i, o, "minor_arcsec", s->kind == WL_SRC_GAUSSIAN, 0, &min)) ||
        (rc = num_field(e, path, i, o, "pa_deg", 0, 0, &pa)))
        return rc;
    s->l = l * WL__ARCSEC;
    s->m = m * WL__ARCSEC;
    s->major = maj * WL__ARCSEC;
    s->minor = min * WL__ARCSEC;
    s->pa = pa * M_PI / 180.0;
    if (s->l * s->l + s->m * s->m >= 0.25)
        return ib_error(e, IB_EPARSE, "sky '%s' source %d: offset (%g, %g) arcsec is too far "
                        "from the phase centre", path, i, l, m);
    if (s->ref_freq_hz < 0 || s->major < 0 || s->minor < 0 || s->minor > s->major)
        return ib_error(e, IB_EPARSE, "sky '%s' source %d: need ref_freq_hz >= 0 and "
                        "major_arcsec >= minor_arcsec >= 0", path, i);
    return 0;
}

int wl_sky_load(ib_err *e, const char *path, wl_source **out, int *n)
{
    *out = NULL;
    *n = 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return ib_error(e, IB_EPARSE, "sky '%s' line %d column %d: %s", path, je.line,
                        je.column, je.text);
    json_t *list = json_is_array(root) ? root : json_object_get(root, "sources");
    if (!json_is_array(list)) {
        json_decref(root);
        return ib_error(e, IB_EPARSE, "sky '%s': expected an object with a \"sources\" array",
                        path);
    }
    size_t count = json_array_size(list);
    if (count > 1000000) {
        json_decref(root);
        return ib_error(e, IB_EPARSE, "sky '%s': %zu sources is too many", path, count);
    }
    wl_source *src = ib_calloc(count ? count : 1, sizeof *src);
    if (!src) {
        json_decref(root);
        return ib_error(e, IB_ENOMEM, "sky '%s': out of memory", path);
    }
    for (size_t i = 0; i < count; i++) {
        int rc = parse_source(e, path, (int)i, json_array_get(list, i), &src[i]);
        if (rc) {
            ib_free(src);
            json_decref(root);
            return rc;
        }
    }
    json_decref(root);
    *out = src;
    *n = (int)count;
    return 0;
}
