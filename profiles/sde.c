/*
 * sde.c: the imager's counters (visibilities gridded, chunks, bytes read,
 * spilled and written) as PAPI software-defined events through libsde, so
 * any PAPI tool in the process reads them as "sde:::imbench::<name>".
 *
 * libsde keeps one process-wide registry and (in 7.0) cannot take a
 * counter out of it again without later reading freed memory. So each
 * library name is registered once per process, with callbacks that read
 * through a slot living as long as the process; a prof_sde borrows a slot
 * between init and release.
 */
#include "profiles.h"
#include "internal.h"

#include <papi.h>
#include <sde_lib.h>
#include <stdio.h>
#include <string.h>

#define NSLOT 8

struct sde_slot;

/* What a registered callback reads: counter idx of a slot. */
typedef struct sde_cell {
    struct sde_slot *slot;
    int idx;
} sde_cell;

typedef struct sde_slot {
    int used;                  /* registered with libsde (for good) */
    int broken;                /* registration failed half way */
    char library[64];
    char reason[160];          /* why broken */
    prof_sde *owner;           /* the live prof_sde, or NULL; owner_lock */
    long long base[PROF_NSDE]; /* final values of earlier owners; owner_lock */
    sde_cell cell[PROF_NSDE];
} sde_slot;

/*
 * Process-wide on purpose (see the file comment): the memory libsde's
 * callbacks read must outlive every prof_sde. reg_lock serialises
 * registration; owner_lock guards owners and bases and is a leaf lock (the
 * callbacks take it inside PAPI_read, under libsde's own lock).
 */
static sde_slot slots[NSLOT];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const names[] = {
#define PROF_SDE_NAME(name, text, help) text,
    PROF_SDE_MAP(PROF_SDE_NAME)
#undef PROF_SDE_NAME
};

const char *prof_sde_name(int c)
{
    if (c < 0 || c >= PROF_NSDE) return "unknown";
    return names[c];
}

static long long read_cell(void *param)
{
    const sde_cell *c = param;
    pthread_mutex_lock(&owner_lock);
    long long v = c->slot->base[c->idx];
    if (c->slot->owner)
        v += atomic_load_explicit(&c->slot->owner->v[c->idx], memory_order_relaxed);
    pthread_mutex_unlock(&owner_lock);
    return v;
}

/* Register slot's counters with libsde; 0, or -1 with slot->reason. */
static int register_slot(sde_slot *slot)
{
    papi_handle_t h = papi_sde_init(slot->library);
    if (!h) {
        snprintf(slot->reason, sizeof slot->reason, "papi_sde_init failed");
        return -1;
    }
    for (int i = 0; i < PROF_NSDE; i++) {
        slot->cell[i].slot = slot;
        slot->cell[i].idx = i;
        /* No papi_sde_describe_counter: in libsde 7.0 it leaks the name it
         * builds, which LeakSanitizer reports from every sanitised run. */
        int r = papi_sde_register_counter_cb(h, names[i], PAPI_SDE_RO | PAPI_SDE_DELTA,
                                             PAPI_SDE_long_long, read_cell, &slot->cell[i]);
        if (r != SDE_OK) {
            snprintf(slot->reason, sizeof slot->reason,
                     "papi_sde_register_counter_cb('%s') failed with %d", names[i], r);
            return -1;
        }
    }
    return 0;
}

static int valid_library(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof ((prof_sde *)0)->library) return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* Make s the owner of slot k, unless another prof_sde is. */
static void take_slot(prof_sde *s, int k)
{
    pthread_mutex_lock(&owner_lock);
    if (slots[k].owner) {
        snprintf(s->reason, sizeof s->reason,
                 "library '%s' is already exported by another live prof_sde", s->library);
    } else {
        slots[k].owner = s;
        s->slot = k;
        s->exported = 1;
    }
    pthread_mutex_unlock(&owner_lock);
}

int prof_sde_init(ib_err *e, prof_sde *s, const char *library_name)
{
    if (!library_name) library_name = "imbench";
    for (int i = 0; i < PROF_NSDE; i++) atomic_init(&s->v[i], 0);
    s->exported = 0;
    s->slot = -1;
    s->library[0] = '\0';
    s->reason[0] = '\0';
    if (!valid_library(library_name))
        return ib_error(e, IB_EINVAL,
                        "sde: library name '%s' must be 1 to %zu characters of [A-Za-z0-9_]",
                        library_name, sizeof s->library - 1);
    snprintf(s->library, sizeof s->library, "%s", library_name);

    pthread_mutex_lock(&reg_lock);
    int k, found = -1, free_slot = -1;
    for (k = 0; k < NSLOT; k++) {
        if (slots[k].used && strcmp(slots[k].library, s->library) == 0) found = k;
        if (!slots[k].used && free_slot < 0) free_slot = k;
    }
    if (found >= 0) {
        if (slots[found].broken)
            snprintf(s->reason, sizeof s->reason, "%s", slots[found].reason);
        else
            take_slot(s, found);
    } else if (free_slot < 0) {
        snprintf(s->reason, sizeof s->reason,
                 "more than %d SDE libraries in one process; '%s' is not exported", NSLOT,
                 s->library);
    } else {
        sde_slot *slot = &slots[free_slot];
        slot->used = 1;
        snprintf(slot->library, sizeof slot->library, "%s", s->library);
        if (register_slot(slot) != 0) {
            slot->broken = 1;
            snprintf(s->reason, sizeof s->reason, "%s", slot->reason);
        } else {
            take_slot(s, free_slot);
        }
    }
    pthread_mutex_unlock(&reg_lock);
    return 0;
}

json_t *prof_sde_to_json(prof_sde *s)
{
    json_t *a = json_array();
    int bad = !a;
    for (int i = 0; i < PROF_NSDE && !bad; i++) {
        json_t *o = json_object();
        bad |= !o;
        if (bad) break;
        bad |= prof__set(o, "name", json_string(names[i]));
        bad |= prof__set(o, "value", json_integer(prof_sde_get(s, i)));
        bad |= prof__append(a, o);
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

void prof_sde_release(prof_sde *s)
{
    if (s->slot < 0) return;
    pthread_mutex_lock(&owner_lock);
    sde_slot *slot = &slots[s->slot];
    for (int i = 0; i < PROF_NSDE; i++)
        slot->base[i] += atomic_load_explicit(&s->v[i], memory_order_relaxed);
    slot->owner = NULL;
    pthread_mutex_unlock(&owner_lock);
    s->slot = -1;
    s->exported = 0;
}

int prof_sde_probe(char *why, size_t n)
{
    if (n) why[0] = '\0';
    if (PAPI_is_initialized() == PAPI_NOT_INITED) {
        snprintf(why, n, "PAPI is not initialised");
        return 0;
    }
    int cidx = PAPI_get_component_index("sde");
    const PAPI_component_info_t *ci = cidx >= 0 ? PAPI_get_component_info(cidx) : NULL;
    if (!ci) {
        snprintf(why, n, "this PAPI has no sde component");
        return 0;
    }
    if (ci->disabled) {
        snprintf(why, n, "sde component disabled: %s",
                 ci->disabled_reason[0] ? ci->disabled_reason : PAPI_strerror(ci->disabled));
        return 0;
    }
    prof_sde s;
    prof_sde_init(NULL, &s, "imbench_probe");
    if (!s.exported) {
        snprintf(why, n, "%s", s.reason);
        return 0;
    }
    int ok = 0, es = PAPI_NULL;
    long long v = -1;
    const char *call = "PAPI_create_eventset";
    int r = PAPI_create_eventset(&es);
    if (r == PAPI_OK) {
        call = "PAPI_add_named_event('sde:::imbench_probe::chunks_done')";
        r = PAPI_add_named_event(es, "sde:::imbench_probe::chunks_done");
    }
    if (r == PAPI_OK) {
        call = "PAPI_start";
        r = PAPI_start(es);
        if (r == PAPI_OK) {
            prof_sde_add(&s, PROF_SDE_CHUNKS_DONE, 7);
            call = "PAPI_read";
            r = PAPI_read(es, &v);
            long long scratch;
            PAPI_stop(es, &scratch);
        }
    }
    if (r != PAPI_OK)
        snprintf(why, n, "%s: %s", call, PAPI_strerror(r));
    else if (v != 7)
        snprintf(why, n, "read back %lld through PAPI after adding 7", v);
    else
        ok = 1;
    if (es != PAPI_NULL) {
        PAPI_cleanup_eventset(es);
        PAPI_destroy_eventset(&es);
    }
    prof_sde_release(&s);
    return ok;
}
