/*
 * test_profiles.c: the profiles module — phase timers, rusage, PAPI
 * presets (available or honestly unavailable), per-thread counting merged
 * across threads, software-defined events read back through PAPI, the
 * JSON forms, and `harness sysinfo`.
 *
 * Machines without hardware counters (most VMs) are the normal case: the
 * PAPI tests accept "unavailable" but then demand a reason and no-op
 * thread calls; the thread machinery itself is exercised with SDE events,
 * which PAPI counts on any machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <papi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiles/profiles.h"
#include "tests/testutil.h"

/* Burn sec seconds of this thread's CPU time (bounded by 10 s of wall
 * time). Measured in CPU time, so a loaded machine slows it down but
 * cannot make it burn less. */
static void spin_cpu(double sec)
{
    volatile double x = 1.0;
    double c0 = ib_cpu_thread(), t0 = ib_now();
    while (ib_cpu_thread() - c0 < sec && ib_now() - t0 < 10.0)
        for (int i = 0; i < 10000; i++) x = x * 1.0000001 + 1e-9;
}

static void sleep_s(double sec)
{
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Serialise and parse again: what a reader of the stats file sees. */
static json_t *roundtrip(json_t *j)
{
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_non_null(s);
    json_error_t err;
    json_t *back = json_loads(s, 0, &err);
    if (!back) fail_msg("json does not parse: %s in %s", err.text, s);
    free(s);
    json_decref(j);
    return back;
}

static int sde_component_enabled(char *why, size_t n)
{
    int cidx = PAPI_get_component_index("sde");
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    if (!ci) {
        snprintf(why, n, "this PAPI has no sde component");
        return 0;
    }
    if (ci->disabled) {
        snprintf(why, n, "sde component disabled: %.400s", ci->disabled_reason);
        return 0;
    }
    return 1;
}

/* ---- timers and rusage ------------------------------------------------- */

static void test_rusage_grows(void **state)
{
    (void)state;
    prof_rusage a, b;
    prof_rusage_get(&a);
    size_t n = 50u << 20;
    volatile char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i += 4096) buf[i] = (char)i;
    prof_rusage_get(&b);
    free((void *)buf);
    assert_true(b.max_rss_bytes >= 50e6);
    assert_true(b.max_rss_bytes >= a.max_rss_bytes + 40e6);
    assert_true(b.minor_faults >= a.minor_faults + 0.8 * (double)(n / 4096));
    assert_true(b.user_s + b.sys_s >= a.user_s + a.sys_s);
}

static void test_timer_busy_phase(void **state)
{
    (void)state;
    prof_timer t;
    prof_timer_init(&t);
    assert_int_equal(t.current, -1);
    double w0 = ib_now(), c0 = ib_cpu_thread();
    prof_timer_switch(&t, PROF_GRID);
    spin_cpu(0.15);
    prof_timer_stop(&t);
    double w1 = ib_now(), c1 = ib_cpu_thread();
    assert_int_equal(t.current, -1);
    double w = t.wall[PROF_GRID], c = t.cpu[PROF_GRID];
    /* The phase holds exactly the busy loop: inside the bracketing
     * measurements, short of them by no more than the calls around it. */
    assert_true(c >= 0.15 - 1e-3);
    assert_true(c <= c1 - c0 + 1e-6 && c >= c1 - c0 - 2e-3);
    assert_true(w <= w1 - w0 + 1e-6 && w >= w1 - w0 - 0.05);
    /* Busy: CPU close to wall, and one thread cannot exceed it. On an idle
     * machine c/w is about 1; other processes sharing the cores lower it,
     * which is reported rather than failed. */
    assert_true(c <= w * 1.02 + 5e-3);
    if (c < 0.8 * w) printf("  note: machine busy, busy-loop cpu/wall = %.2f\n", c / w);
    for (int p = 0; p < PROF_NPHASE; p++)
        if (p != PROF_GRID) assert_true(t.wall[p] == 0.0 && t.cpu[p] == 0.0);
    assert_string_equal(prof_phase_name(PROF_GRID), "grid");
    assert_string_equal(prof_phase_name(PROF_NPHASE), "unknown");
}

static void test_timer_switch_attributes(void **state)
{
    (void)state;
    prof_timer t;
    prof_timer_init(&t);
    double w0 = ib_now();
    prof_timer_switch(&t, PROF_READ);
    spin_cpu(0.03);
    prof_timer_switch(&t, PROF_FFT);
    spin_cpu(0.09);
    prof_timer_switch(&t, PROF_IDLE);
    sleep_s(0.1);
    prof_timer_stop(&t);
    double w1 = ib_now();
    prof_timer_stop(&t); /* closing twice adds nothing */
    assert_true(t.cpu[PROF_READ] >= 0.03 - 1e-3 && t.cpu[PROF_READ] < 0.09);
    assert_true(t.cpu[PROF_FFT] >= 0.09 - 1e-3);
    assert_true(t.cpu[PROF_FFT] > t.cpu[PROF_READ]);
    assert_true(t.wall[PROF_READ] >= t.cpu[PROF_READ] - 5e-3);
    assert_true(t.wall[PROF_FFT] >= t.cpu[PROF_FFT] - 5e-3);
    /* Sleeping is wall time without CPU time. */
    assert_true(t.wall[PROF_IDLE] >= 0.1);
    assert_true(t.cpu[PROF_IDLE] < 0.02);
    assert_true(t.wall[PROF_GRID] == 0.0);
    /* Switching loses no time: the phases add up to the elapsed time. */
    double sum = t.wall[PROF_READ] + t.wall[PROF_FFT] + t.wall[PROF_IDLE];
    assert_true(sum <= w1 - w0 + 1e-6 && sum >= w1 - w0 - 0.05);
}

static void test_timer_merge_adds(void **state)
{
    (void)state;
    prof_timer a, b;
    prof_timer_init(&a);
    prof_timer_init(&b);
    a.wall[PROF_GRID] = 1.5;
    a.cpu[PROF_GRID] = 1.25;
    b.wall[PROF_GRID] = 2.0;
    b.cpu[PROF_GRID] = 1.75;
    b.wall[PROF_WRITE] = 0.5;
    prof_timer_merge(&a, &b);
    assert_true(a.wall[PROF_GRID] == 3.5 && a.cpu[PROF_GRID] == 3.0);
    assert_true(a.wall[PROF_WRITE] == 0.5 && a.cpu[PROF_WRITE] == 0.0);
    assert_true(b.wall[PROF_GRID] == 2.0); /* source unchanged */
}

/* ---- PAPI presets ------------------------------------------------------ */

static void check_papi_json(prof_papi *p)
{
    json_t *j = roundtrip(prof_papi_to_json(p));
    assert_true(json_is_boolean(json_object_get(j, "available")));
    assert_int_equal(json_is_true(json_object_get(j, "available")), p->available);
    assert_true(json_is_string(json_object_get(j, "reason")));
    assert_true(json_is_integer(json_object_get(j, "num_hw_counters")));
    json_t *evs = json_object_get(j, "events");
    assert_true(json_is_array(evs));
    assert_int_equal(json_array_size(evs), (size_t)p->nevents);
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev) {
        assert_string_equal(json_string_value(json_object_get(ev, "name")), p->ev[i].name);
        assert_true(json_is_integer(json_object_get(ev, "value")));
        assert_true(json_is_boolean(json_object_get(ev, "available")));
        assert_true(json_integer_value(json_object_get(ev, "value")) == p->ev[i].total);
        const char *why = json_string_value(json_object_get(ev, "reason"));
        assert_non_null(why);
        if (p->ev[i].available)
            assert_string_equal(why, "");
        else
            assert_true(strlen(why) > 0); /* names the event and PAPI's error */
    }
    json_decref(j);
}

static void test_papi_available_or_explained(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    prof_papi p;
    assert_int_equal(prof_papi_init(&e, &p, NULL, 0), 0);
    assert_int_equal(p.nevents, 7);
    assert_string_equal(p.ev[0].name, "PAPI_TOT_CYC");
    assert_true(p.num_hw_counters >= 0);
    long long values[PROF_PAPI_MAX_EVENTS];
    prof_papi_thread t;
    prof_papi_thread_init(&t);
    if (!p.available) {
        printf("  papi unavailable here: %s\n", p.reason);
        assert_true(strlen(p.reason) > 0);
        for (int i = 0; i < p.nevents; i++) assert_false(p.ev[i].available);
        /* Thread calls are no-ops returning 0. */
        assert_int_equal(prof_papi_thread_start(&e, &p, &t), 0);
        spin_cpu(0.01);
        values[0] = 99;
        assert_int_equal(prof_papi_thread_stop(&e, &p, &t, values), 0);
        for (int i = 0; i < p.nevents; i++) assert_true(values[i] == 0);
        long long v;
        assert_int_equal(prof_papi_get(&p, "PAPI_TOT_INS", &v), IB_ENOTFOUND);
    } else {
        printf("  papi available: %d hardware counters\n", p.num_hw_counters);
        assert_string_equal(p.reason, "");
        assert_true(p.nset > 0);
        assert_int_equal(prof_papi_thread_start(&e, &p, &t), 0);
        spin_cpu(0.05);
        assert_int_equal(prof_papi_thread_stop(&e, &p, &t, values), 0);
        int positive = 0;
        for (int i = 0; i < p.nevents; i++) {
            if (!p.ev[i].available) assert_true(values[i] == 0);
            assert_true(values[i] == p.ev[i].total);
            positive += values[i] > 0;
        }
        assert_true(positive > 0);
        long long ins;
        if (prof_papi_get(&p, "PAPI_TOT_INS", &ins) == 0) assert_true(ins > 0);
        assert_true(p.nmerged == 1);
    }
    prof_papi_thread_release(&p, &t);
    check_papi_json(&p);
    prof_papi_release(&p);
}

static void test_papi_bad_arguments(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    prof_papi p;
    const char *many[PROF_PAPI_MAX_EVENTS + 1];
    for (int i = 0; i <= PROF_PAPI_MAX_EVENTS; i++) many[i] = "PAPI_TOT_CYC";
    assert_int_equal(prof_papi_init(&e, &p, many, PROF_PAPI_MAX_EVENTS + 1), IB_EINVAL);
    assert_non_null(strstr(e.msg, "at most"));
    const char *empty_alt[] = {"PAPI_TOT_CYC||PAPI_TOT_INS"};
    assert_int_equal(prof_papi_init(&e, &p, empty_alt, 1), IB_EINVAL);
    assert_non_null(strstr(e.msg, "PAPI_TOT_CYC||PAPI_TOT_INS"));
    char longname[PROF_PAPI_NAME_MAX + 8];
    memset(longname, 'X', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *toolong[] = {longname};
    assert_int_equal(prof_papi_init(&e, &p, toolong, 1), IB_EINVAL);
}

/* ---- per-thread counting, merged (SDE events: countable everywhere) ---- */

typedef struct worker {
    prof_papi *papi;
    prof_sde *sde;
    pthread_barrier_t *bar;
    int id, rc_start, rc_stop;
    long long values[PROF_PAPI_MAX_EVENTS];
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    ib_err e;
    ib_err_init(&e);
    prof_papi_thread t;
    prof_papi_thread_init(&t);
    w->rc_start = prof_papi_thread_start(&e, w->papi, &t);
    pthread_barrier_wait(w->bar); /* every thread counting */
    prof_sde_add(w->sde, PROF_SDE_CHUNKS_DONE, w->id + 1);
    prof_sde_add(w->sde, PROF_SDE_BYTES_READ, 10 * (w->id + 1));
    pthread_barrier_wait(w->bar); /* every add done */
    w->rc_stop = prof_papi_thread_stop(&e, w->papi, &t, w->values);
    prof_papi_thread_release(w->papi, &t);
    return NULL;
}

static void test_papi_threads_merge(void **state)
{
    (void)state;
    enum { NT = 4 };
    ib_err e;
    ib_err_init(&e);
    prof_sde sde;
    assert_int_equal(prof_sde_init(&e, &sde, "imbench_ptest"), 0);
    const char *events[] = {"PAPI_NO_SUCH_EVENT|sde:::imbench_ptest::chunks_done",
                            "sde:::imbench_ptest::bytes_read", "PAPI_NO_SUCH_EVENT"};
    prof_papi p;
    assert_int_equal(prof_papi_init(&e, &p, events, 3), 0);
    char why[512];
    if (!sde_component_enabled(why, sizeof why)) {
        printf("  skipped: %s\n", why);
        prof_papi_release(&p);
        prof_sde_release(&sde);
        skip();
    }
    assert_true(sde.exported);
    assert_true(p.available);
    assert_int_equal(p.nset, 2);
    assert_string_equal(p.ev[0].name, "sde:::imbench_ptest::chunks_done"); /* 2nd alternative */
    assert_false(p.ev[2].available);
    assert_string_equal(p.ev[2].name, "PAPI_NO_SUCH_EVENT");

    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, NT);
    worker w[NT];
    pthread_t th[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (worker){.papi = &p, .sde = &sde, .bar = &bar, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < NT; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);

    /* Each thread counted every add (1+2+3+4) between its start and stop. */
    for (int i = 0; i < NT; i++) {
        assert_int_equal(w[i].rc_start, 0);
        assert_int_equal(w[i].rc_stop, 0);
        assert_true(w[i].values[0] == 10);
        assert_true(w[i].values[1] == 100);
        assert_true(w[i].values[2] == 0);
    }
    assert_true(p.nmerged == NT);
    long long v;
    assert_int_equal(prof_papi_get(&p, "sde:::imbench_ptest::chunks_done", &v), 0);
    assert_true(v == 10 * NT);
    assert_int_equal(prof_papi_get(&p, "sde:::imbench_ptest::bytes_read", &v), 0);
    assert_true(v == 100 * NT);
    assert_int_equal(prof_papi_get(&p, "PAPI_NO_SUCH_EVENT", &v), IB_ENOTFOUND);

    /* Misuse is reported, not crashed on. */
    prof_papi_thread t;
    prof_papi_thread_init(&t);
    assert_int_equal(prof_papi_thread_stop(&e, &p, &t, NULL), IB_EINVAL);
    assert_int_equal(prof_papi_thread_start(&e, &p, &t), 0);
    assert_int_equal(prof_papi_thread_start(&e, &p, &t), IB_EINVAL);
    prof_papi_thread_release(&p, &t); /* stops a running set too */

    json_t *j = roundtrip(prof_papi_to_json(&p));
    assert_true(json_is_true(json_object_get(j, "available")));
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "");
    json_t *ev0 = json_array_get(json_object_get(j, "events"), 0);
    assert_true(json_integer_value(json_object_get(ev0, "value")) == 10 * NT);
    assert_int_equal(json_integer_value(json_object_get(j, "threads_merged")), NT);
    json_decref(j);
    check_papi_json(&p);

    /* The stats "counters" member carries both. */
    j = roundtrip(prof_counters_json(&p, &sde));
    assert_true(json_is_object(json_object_get(j, "papi")));
    json_t *sdej = json_object_get(j, "sde");
    assert_int_equal(json_array_size(sdej), PROF_NSDE);
    json_t *chunks = json_array_get(sdej, PROF_SDE_CHUNKS_DONE);
    assert_string_equal(json_string_value(json_object_get(chunks, "name")), "chunks_done");
    assert_true(json_integer_value(json_object_get(chunks, "value")) == 10);
    json_decref(j);
    j = roundtrip(prof_counters_json(NULL, NULL));
    assert_int_equal(json_object_size(j), 0);
    json_decref(j);

    prof_papi_release(&p);
    prof_sde_release(&sde);
}

/* ---- software-defined events ------------------------------------------- */

/* Read sde:::imbench::chunks_done and ::vis_gridded through a plain PAPI
 * event set while adding to s: PAPI sees exactly what was added. */
static void sde_read_back(prof_sde *s)
{
    int es = PAPI_NULL;
    assert_int_equal(PAPI_create_eventset(&es), PAPI_OK);
    assert_int_equal(PAPI_add_named_event(es, "sde:::imbench::chunks_done"), PAPI_OK);
    assert_int_equal(PAPI_add_named_event(es, "sde:::imbench::vis_gridded"), PAPI_OK);
    long long v[2] = {-1, -1};
    assert_int_equal(PAPI_start(es), PAPI_OK);
    prof_sde_add(s, PROF_SDE_CHUNKS_DONE, 3);
    prof_sde_add(s, PROF_SDE_VIS_GRIDDED, 4800000);
    assert_int_equal(PAPI_read(es, v), PAPI_OK);
    assert_true(v[0] == 3);
    assert_true(v[1] == 4800000);
    prof_sde_add(s, PROF_SDE_CHUNKS_DONE, 4);
    assert_int_equal(PAPI_stop(es, v), PAPI_OK);
    assert_true(v[0] == 7);
    assert_true(v[1] == 4800000);
    assert_int_equal(PAPI_cleanup_eventset(es), PAPI_OK);
    assert_int_equal(PAPI_destroy_eventset(&es), PAPI_OK);
}

static void test_sde_read_back_through_papi(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    prof_papi p; /* brings PAPI up, as the imager does */
    assert_int_equal(prof_papi_init(&e, &p, NULL, 0), 0);
    char why[512];
    if (!sde_component_enabled(why, sizeof why)) {
        printf("  skipped: %s\n", why);
        prof_papi_release(&p);
        skip();
    }
    prof_sde s;
    assert_int_equal(prof_sde_init(&e, &s, NULL), 0);
    assert_true(s.exported);
    assert_string_equal(s.library, "imbench");
    for (int c = 0; c < PROF_NSDE; c++) assert_true(prof_sde_get(&s, c) == 0);
    sde_read_back(&s);
    assert_true(prof_sde_get(&s, PROF_SDE_CHUNKS_DONE) == 7);
    assert_true(prof_sde_get(&s, PROF_SDE_VIS_GRIDDED) == 4800000);

    /* A second live exporter of the same name is refused, not confused. */
    prof_sde twin;
    assert_int_equal(prof_sde_init(&e, &twin, "imbench"), 0);
    assert_false(twin.exported);
    assert_non_null(strstr(twin.reason, "already exported"));
    prof_sde_add(&twin, PROF_SDE_CHUNKS_DONE, 1); /* counts locally all the same */
    assert_true(prof_sde_get(&twin, PROF_SDE_CHUNKS_DONE) == 1);
    prof_sde_release(&twin);

    /* JSON: every counter, in order, with its value. */
    json_t *j = roundtrip(prof_sde_to_json(&s));
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), PROF_NSDE);
    for (int c = 0; c < PROF_NSDE; c++) {
        json_t *o = json_array_get(j, (size_t)c);
        assert_string_equal(json_string_value(json_object_get(o, "name")), prof_sde_name(c));
        assert_true(json_integer_value(json_object_get(o, "value")) == prof_sde_get(&s, c));
    }
    assert_string_equal(prof_sde_name(PROF_SDE_SPILL_BYTES), "spill_bytes");
    json_decref(j);
    prof_sde_release(&s);
    assert_false(s.exported);

    /* After release the name can be exported again (libsde keeps the old
     * registration; the new owner is read through it), also across a PAPI
     * shutdown and re-initialisation. */
    prof_papi_release(&p);
    assert_int_equal(prof_papi_init(&e, &p, NULL, 0), 0);
    prof_sde again;
    assert_int_equal(prof_sde_init(&e, &again, "imbench"), 0);
    assert_true(again.exported);
    assert_true(prof_sde_get(&again, PROF_SDE_CHUNKS_DONE) == 0);
    sde_read_back(&again);
    prof_sde_release(&again);

    assert_int_equal(prof_sde_probe(why, sizeof why), 1);
    prof_papi_release(&p);
    assert_int_equal(prof_sde_probe(why, sizeof why), 0); /* PAPI is down now */
    assert_true(strlen(why) > 0);
}

static void test_sde_bad_names(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    prof_sde s;
    assert_int_equal(prof_sde_init(&e, &s, "bad name"), IB_EINVAL);
    assert_non_null(strstr(e.msg, "bad name"));
    assert_int_equal(prof_sde_init(&e, &s, ""), IB_EINVAL);
    assert_int_equal(prof_sde_init(&e, &s, "a:b"), IB_EINVAL);
    assert_false(s.exported);
    prof_sde_release(&s); /* harmless after a failed init */
}

/* ---- sysinfo ----------------------------------------------------------- */

static void check_sysinfo(json_t *j)
{
    json_t *cores = json_object_get(j, "cores");
    assert_true(json_is_object(cores));
    assert_true(json_integer_value(json_object_get(cores, "online")) >= 1);
    json_t *mem = json_object_get(j, "memory_bytes");
    assert_true(json_is_object(mem));
    assert_true(json_integer_value(json_object_get(mem, "total")) > (1 << 20));
    json_t *papi = json_object_get(j, "papi");
    assert_true(json_is_object(papi));
    assert_true(json_is_boolean(json_object_get(papi, "available")));
    assert_true(json_is_integer(json_object_get(papi, "num_hw_counters")));
    assert_true(json_is_array(json_object_get(papi, "components")));
    assert_true(json_is_array(json_object_get(papi, "presets_available")));
    assert_true(json_is_object(json_object_get(papi, "sde")));
    if (!json_is_true(json_object_get(papi, "available")))
        assert_true(strlen(json_string_value(json_object_get(papi, "reason"))) > 0);
    json_t *mpi = json_object_get(j, "mpi");
    assert_true(json_is_object(mpi));
    assert_true(json_is_boolean(json_object_get(mpi, "found")));
    json_t *libs = json_object_get(j, "libraries");
    assert_true(json_is_object(libs));
    static const char *const names[] = {"hdf5", "fftw", "cfitsio", "libyaml", "jansson",
                                        "papi"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_true(json_is_string(json_object_get(libs, names[i])));
    assert_string_equal(json_string_value(json_object_get(libs, "jansson")), JANSSON_VERSION);
    assert_true(json_is_integer(json_object_get(json_object_get(j, "disk"), "free_bytes")));
}

static void test_sysinfo_json(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    json_t *j = roundtrip(prof_sysinfo_json(&e, NULL));
    check_sysinfo(j);
    assert_int_equal(PAPI_is_initialized(), PAPI_NOT_INITED); /* left as found */
    json_decref(j);
}

static void test_harness_sysinfo(void **state)
{
    (void)state;
    char *out = NULL;
    int rc = tu_run(&out, "%s sysinfo", tu_bin("harness"));
    if (rc != 0) {
        printf("%s\n", out ? out : "");
        free(out);
        fail_msg("harness sysinfo exited %d", rc);
    }
    assert_true(tu_contains(out, "cores"));
    assert_true(tu_contains(out, "papi"));
    assert_true(tu_contains(out, "libraries"));
    assert_true(tu_contains(out, "settings         huge pages "));
    free(out);

    rc = tu_run(&out, "%s sysinfo --json 2>/dev/null", tu_bin("harness"));
    assert_int_equal(rc, 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    free(out);
    if (!j) fail_msg("sysinfo --json does not parse: %s", err.text);
    check_sysinfo(j);
    /* SQLite's version from the results module */
    assert_true(json_is_string(json_object_get(json_object_get(j, "libraries"), "sqlite")));
    /* the settings every run records (res_tuning_collect), as that parses */
    json_t *t = json_object_get(j, "tuning");
    assert_true(json_is_object(t));
    json_t *rep = json_object_get(t, "free_page_reporting");
    json_t *order = json_object_get(t, "page_reporting_order");
    if (!json_is_true(rep)) assert_null(order); /* an order only where reporting runs */
    else if (order) assert_true(json_integer_value(order) >= 0);
    json_decref(j);

    rc = tu_run(&out, "%s sysinfo --bogus", tu_bin("harness"));
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "--bogus"));
    free(out);

    /* the disk's sequential read, measured once on request (8 MiB file
     * under a temporary directory, removed afterwards) */
    char *dir = tu_mkdtemp("sysinfo-read");
    rc = tu_run(&out, "%s sysinfo --dir %s --read-speed 8 --json 2>&1", tu_bin("harness"), dir);
    assert_int_equal(rc, 0);
    j = json_loads(out, 0, &err);
    free(out);
    assert_non_null(j);
    json_t *disk = json_object_get(j, "disk");
    assert_true(json_number_value(json_object_get(disk, "seq_read_mb_s")) > 0);
    assert_int_equal(json_integer_value(json_object_get(disk, "seq_read_test_mib")), 8);
    json_decref(j);
    rc = tu_run(&out, "ls -A %s | wc -l", dir);
    assert_int_equal(rc, 0);
    assert_int_equal(atoi(out), 0); /* the test file is gone */
    free(out);
    rc = tu_run(&out, "%s sysinfo --dir %s --read-speed 8", tu_bin("harness"), dir);
    assert_int_equal(rc, 0);
    assert_true(tu_contains(out, "MB/s sequential read (8 MiB file, page cache dropped)"));
    free(out);
    rc = tu_run(&out, "%s sysinfo --read-speed -1", tu_bin("harness"));
    assert_int_equal(rc, 2);
    assert_true(tu_contains(out, "option '--read-speed' must be 0..65536 MiB, got -1"));
    free(out);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rusage_grows), /* first: max RSS is a high-water mark */
        cmocka_unit_test(test_timer_busy_phase),
        cmocka_unit_test(test_timer_switch_attributes),
        cmocka_unit_test(test_timer_merge_adds),
        cmocka_unit_test(test_papi_available_or_explained),
        cmocka_unit_test(test_papi_bad_arguments),
        cmocka_unit_test(test_papi_threads_merge),
        cmocka_unit_test(test_sde_read_back_through_papi),
        cmocka_unit_test(test_sde_bad_names),
        cmocka_unit_test(test_sysinfo_json),
        cmocka_unit_test(test_harness_sysinfo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
