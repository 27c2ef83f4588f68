/*
 * papi.c: PAPI preset events per worker thread, summed into per-process
 * totals, and an honest "unavailable, because ..." where the machine has
 * no counters (most VMs). Also the small JSON helpers the module shares.
 */
#include "profiles.h"
#include "internal.h"

#include <papi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_events[] = {
    "PAPI_TOT_CYC", "PAPI_TOT_INS", "PAPI_L1_DCM", "PAPI_L2_DCM",
    "PAPI_L3_TCM", "PAPI_SP_OPS|PAPI_FP_OPS", "PAPI_RES_STL",
};
#define NDEFAULT ((int)(sizeof default_events / sizeof default_events[0]))

json_t *prof__json_str(const char *s)
{
    if (!s) return json_null();
    size_t n = strlen(s);
    char *c = ib_malloc(n + 1);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        c[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    c[n] = '\0';
    json_t *j = json_string(c);
    ib_free(c);
    return j;
}

int prof__set(json_t *o, const char *key, json_t *v)
{
    if (!v) return -1;
    return json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

int prof__append(json_t *a, json_t *v)
{
    if (!v) return -1;
    return json_array_append_new(a, v) == 0 ? 0 : -1;
}

int prof__papi_cpu_component(void)
{
    int cidx = PAPI_get_component_index("perf_event");
    return cidx >= 0 ? cidx : 0;
}

/* Copy the alternative number k (0-based) of "A|B|C" into out; 0 if it
 * exists and fits, -1 otherwise. */
static int alternative(const char *spec, int k, char *out, size_t n)
{
    const char *s = spec;
    for (int i = 0; i < k; i++) {
        s = strchr(s, '|');
        if (!s) return -1;
        s++;
    }
    size_t len = strcspn(s, "|");
    if (len == 0 || len >= n) return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

static int check_spec(ib_err *e, const char *spec)
{
    char name[PROF_PAPI_NAME_MAX];
    if (!spec) return ib_error(e, IB_EINVAL, "papi: event name is NULL");
    int nalt = 1;
    for (const char *s = spec; *s; s++) nalt += *s == '|';
    for (int k = 0; k < nalt; k++)
        if (alternative(spec, k, name, sizeof name) != 0)
            return ib_error(e, IB_EINVAL, "papi: event '%s': empty or longer than %d characters",
                            spec, PROF_PAPI_NAME_MAX - 1);
    return 0;
}

/* Why nothing could be counted, in PAPI's words. */
static void explain_unavailable(prof_papi *p, int cidx, const char *first_err)
{
    const PAPI_component_info_t *ci = PAPI_get_component_info(cidx);
    if (ci && ci->disabled)
        snprintf(p->reason, sizeof p->reason, "%.100s component disabled: %.380s", ci->name,
                 ci->disabled_reason[0] ? ci->disabled_reason : PAPI_strerror(ci->disabled));
    else if (first_err && *first_err)
        snprintf(p->reason, sizeof p->reason, "no requested event can be counted (%.400s)", first_err);
    else if (p->num_hw_counters <= 0)
        snprintf(p->reason, sizeof p->reason, "%.100s reports no hardware counters",
                 ci ? ci->name : "PAPI");
    else
        snprintf(p->reason, sizeof p->reason, "no requested event can be counted");
}

/* Add each requested event (first alternative that works) to a probe event
 * set, so the events kept can be counted together; then check that the set
 * really starts (perf_event_paranoid or a container can refuse). */
static void select_events(prof_papi *p, const char *const *specs, int cidx)
{
    char first_err[256] = "";
    int es = PAPI_NULL;
    int r = PAPI_create_eventset(&es);
    if (r != PAPI_OK) {
        snprintf(p->reason, sizeof p->reason, "PAPI_create_eventset: %s", PAPI_strerror(r));
        return;
    }
    for (int i = 0; i < p->nevents; i++) {
        char name[PROF_PAPI_NAME_MAX];
        for (int k = 0; alternative(specs[i], k, name, sizeof name) == 0; k++) {
            int code;
            r = PAPI_event_name_to_code(name, &code);
            if (r == PAPI_OK) r = PAPI_add_event(es, code);
            if (r == PAPI_OK) {
                p->ev[i].reason[0] = '\0';
                snprintf(p->ev[i].name, sizeof p->ev[i].name, "%s", name);
                p->ev[i].code = code;
                p->ev[i].available = 1;
                p->set_idx[p->nset++] = i;
                break;
            }
            if (!p->ev[i].reason[0]) /* the first alternative's error, as its name */
                snprintf(p->ev[i].reason, sizeof p->ev[i].reason, "%.63s: %.90s", name,
                         PAPI_strerror(r));
            if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", p->ev[i].reason);
        }
    }
    if (p->nset > 0) {
        long long scratch[PROF_PAPI_MAX_EVENTS];
        r = PAPI_start(es);
        if (r == PAPI_OK) {
            PAPI_stop(es, scratch);
            p->available = 1;
        } else {
            snprintf(p->reason, sizeof p->reason,
                     "PAPI_start: %.300s (see /proc/sys/kernel/perf_event_paranoid)",
                     PAPI_strerror(r));
            for (int j = 0; j < p->nset; j++) {
                prof_papi_event *ev = &p->ev[p->set_idx[j]];
                ev->available = 0;
                snprintf(ev->reason, sizeof ev->reason, "PAPI_start: %.100s", PAPI_strerror(r));
            }
            p->nset = 0;
        }
    } else {
        explain_unavailable(p, cidx, first_err);
    }
    PAPI_cleanup_eventset(es);
    PAPI_destroy_eventset(&es);
}

int prof_papi_init(ib_err *e, prof_papi *p, const char *const *events, int nevents)
{
    memset(p, 0, sizeof *p);
    if (!events) {
        events = default_events;
        nevents = NDEFAULT;
    }
    if (nevents < 0 || nevents > PROF_PAPI_MAX_EVENTS)
        return ib_error(e, IB_EINVAL, "papi: %d events requested, at most %d", nevents,
                        PROF_PAPI_MAX_EVENTS);
    for (int i = 0; i < nevents; i++) {
        int rc = check_spec(e, events[i]);
        if (rc) return rc;
    }
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return ib_error(e, IB_ENOMEM, "papi: cannot create a mutex");
    p->nevents = nevents;
    for (int i = 0; i < nevents; i++) {
        alternative(events[i], 0, p->ev[i].name, sizeof p->ev[i].name);
        p->ev[i].code = PAPI_NULL;
    }
    snprintf(p->version, sizeof p->version, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(PAPI_VERSION),
             PAPI_VERSION_MINOR(PAPI_VERSION), PAPI_VERSION_REVISION(PAPI_VERSION),
             PAPI_VERSION_INCREMENT(PAPI_VERSION));

    if (PAPI_is_initialized() == PAPI_NOT_INITED) {
        int r = PAPI_library_init(PAPI_VER_CURRENT);
        if (r != PAPI_VER_CURRENT) {
            if (r > 0)
                snprintf(p->reason, sizeof p->reason,
                         "PAPI_library_init: library version %d.%d does not match header %d.%d",
                         PAPI_VERSION_MAJOR(r), PAPI_VERSION_MINOR(r),
                         PAPI_VERSION_MAJOR(PAPI_VERSION), PAPI_VERSION_MINOR(PAPI_VERSION));
            else
                snprintf(p->reason, sizeof p->reason, "PAPI_library_init: %s", PAPI_strerror(r));
            return 0;
        }
        p->owns_library = 1;
        r = PAPI_thread_init(pthread_self);
        if (r != PAPI_OK) {
            snprintf(p->reason, sizeof p->reason, "PAPI_thread_init: %s", PAPI_strerror(r));
            PAPI_shutdown();
            p->owns_library = 0;
            return 0;
        }
    }
    int v = PAPI_get_opt(PAPI_LIB_VERSION, NULL);
    if (v > 0)
        snprintf(p->version, sizeof p->version, "%d.%d.%d.%d", PAPI_VERSION_MAJOR(v),
                 PAPI_VERSION_MINOR(v), PAPI_VERSION_REVISION(v), PAPI_VERSION_INCREMENT(v));
    int cidx = prof__papi_cpu_component();
    const PAPI_component_info_t *ci = PAPI_get_component_info(cidx);
    if (ci) snprintf(p->component, sizeof p->component, "%.63s", ci->name);
    int hw = PAPI_num_cmp_hwctrs(cidx);
    p->num_hw_counters = hw > 0 ? hw : 0;
    select_events(p, events, cidx);
    return 0;
}

void prof_papi_thread_init(prof_papi_thread *t)
{
    t->eventset = PAPI_NULL;
    t->running = 0;
}

/* First start on a thread: register it and build its event set. */
static int thread_setup(ib_err *e, prof_papi *p, prof_papi_thread *t)
{
    int r = PAPI_register_thread();
    if (r != PAPI_OK) return ib_error(e, IB_EIO, "papi: PAPI_register_thread: %s", PAPI_strerror(r));
    int es = PAPI_NULL;
    r = PAPI_create_eventset(&es);
    if (r != PAPI_OK) return ib_error(e, IB_EIO, "papi: PAPI_create_eventset: %s", PAPI_strerror(r));
    for (int j = 0; j < p->nset; j++) {
        const prof_papi_event *ev = &p->ev[p->set_idx[j]];
        r = PAPI_add_event(es, ev->code);
        if (r != PAPI_OK) {
            PAPI_cleanup_eventset(es);
            PAPI_destroy_eventset(&es);
            return ib_error(e, IB_EIO, "papi: adding '%s' on a worker thread: %s", ev->name,
                            PAPI_strerror(r));
        }
    }
    t->eventset = es;
    return 0;
}

int prof_papi_thread_start(ib_err *e, prof_papi *p, prof_papi_thread *t)
{
    if (!p->available) return 0;
    if (t->running) return ib_error(e, IB_EINVAL, "papi: thread counters already running");
    if (t->eventset == PAPI_NULL) {
        int rc = thread_setup(e, p, t);
        if (rc) return rc;
    }
    int r = PAPI_start(t->eventset);
    if (r != PAPI_OK) return ib_error(e, IB_EIO, "papi: PAPI_start: %s", PAPI_strerror(r));
    t->running = 1;
    return 0;
}

int prof_papi_thread_stop(ib_err *e, prof_papi *p, prof_papi_thread *t, long long *values)
{
    if (values)
        for (int i = 0; i < p->nevents; i++) values[i] = 0;
    if (!p->available) return 0;
    if (!t->running) return ib_error(e, IB_EINVAL, "papi: thread counters are not running");
    long long v[PROF_PAPI_MAX_EVENTS] = {0};
    int r = PAPI_stop(t->eventset, v);
    t->running = 0;
    if (r != PAPI_OK) return ib_error(e, IB_EIO, "papi: PAPI_stop: %s", PAPI_strerror(r));
    pthread_mutex_lock(&p->lock);
    for (int j = 0; j < p->nset; j++) p->ev[p->set_idx[j]].total += v[j];
    p->nmerged++;
    pthread_mutex_unlock(&p->lock);
    if (values)
        for (int j = 0; j < p->nset; j++) values[p->set_idx[j]] = v[j];
    return 0;
}

void prof_papi_thread_release(prof_papi *p, prof_papi_thread *t)
{
    (void)p;
    if (t->eventset == PAPI_NULL) return;
    if (t->running) {
        long long v[PROF_PAPI_MAX_EVENTS];
        PAPI_stop(t->eventset, v);
        t->running = 0;
    }
    PAPI_cleanup_eventset(t->eventset);
    PAPI_destroy_eventset(&t->eventset);
    PAPI_unregister_thread();
    t->eventset = PAPI_NULL;
}

int prof_papi_get(prof_papi *p, const char *name, long long *value)
{
    int rc = IB_ENOTFOUND;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nevents; i++) {
        if (p->ev[i].available && strcmp(p->ev[i].name, name) == 0) {
            *value = p->ev[i].total;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

json_t *prof_papi_to_json(prof_papi *p)
{
    json_t *o = json_object(), *evs = json_array();
    int bad = !o || !evs;
    if (!bad) {
        pthread_mutex_lock(&p->lock);
        for (int i = 0; i < p->nevents && !bad; i++) {
            json_t *ev = json_object();
            bad |= !ev;
            if (bad) break;
            bad |= prof__set(ev, "name", prof__json_str(p->ev[i].name));
            bad |= prof__set(ev, "value", json_integer(p->ev[i].total));
            bad |= prof__set(ev, "available", json_boolean(p->ev[i].available));
            bad |= prof__set(ev, "reason", prof__json_str(p->ev[i].reason));
            bad |= prof__append(evs, ev);
        }
        long long merged = p->nmerged;
        pthread_mutex_unlock(&p->lock);
        bad |= prof__set(o, "available", json_boolean(p->available));
        bad |= prof__set(o, "reason", prof__json_str(p->available ? "" : p->reason));
        bad |= prof__set(o, "num_hw_counters", json_integer(p->num_hw_counters));
        bad |= prof__set(o, "version", prof__json_str(p->version));
        bad |= prof__set(o, "component", prof__json_str(p->component));
        bad |= prof__set(o, "threads_merged", json_integer(merged));
        bad |= prof__set(o, "events", evs);
        evs = NULL;
    }
    json_decref(evs);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *prof_counters_json(prof_papi *p, prof_sde *s)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (p) bad |= prof__set(o, "papi", prof_papi_to_json(p));
    if (s) bad |= prof__set(o, "sde", prof_sde_to_json(s));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void prof_papi_release(prof_papi *p)
{
    if (p->owns_library) PAPI_shutdown();
    p->owns_library = 0;
    p->available = 0;
    p->nset = 0;
    pthread_mutex_destroy(&p->lock);
}
