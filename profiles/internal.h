/*
 * internal.h: helpers shared by the files of the profiles module and by no
 * one else (names with a double underscore, as libuv's uv__). Not part of
 * the public interface in profiles.h.
 */
#ifndef PROF_INTERNAL_H
#define PROF_INTERNAL_H

#include <jansson.h>

/*
 * A JSON string for s: json_null() when s is NULL; bytes that are not
 * printable ASCII become '?' so text from the system (CPU model, PAPI
 * messages, program output) never makes jansson reject the string.
 * New reference, or NULL when out of memory.
 */
json_t *prof__json_str(const char *s);

/*
 * Set o[key] = v, taking v's reference. Returns 0, or -1 when v is NULL
 * (an earlier allocation failed) or the set fails; callers OR the results
 * together and report IB_ENOMEM once.
 */
int prof__set(json_t *o, const char *key, json_t *v);
/* Append v to array a, taking v's reference; 0 or -1 as prof__set. */
int prof__append(json_t *a, json_t *v);

/*
 * Index of PAPI's CPU counter component ("perf_event" on Linux, else
 * component 0). PAPI must be initialised.
 */
int prof__papi_cpu_component(void);

#endif
