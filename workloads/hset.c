/*
 * hset.c: hash sets over 64-bit keys (open addressing), with which the
 * suite parser finds duplicate values, datasets and cells in linear time.
 */
#include "workloads/wl_internal.h"

#include <string.h>

void wl__hset_release(wl__hset *h)
{
    ib_free(h->slot);
    ib_free(h->key);
    memset(h, 0, sizeof *h);
}

uint64_t wl__hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL ^ seed; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* Make room for one more; IB_ENOMEM. */
static int hset_grow(wl__hset *h)
{
    if (2 * (h->n + 1) <= h->nslot) return 0;
    size_t ns = h->nslot ? 2 * h->nslot : 64;
    size_t *slot = ib_calloc(ns, sizeof *slot);
    uint64_t *key = ib_calloc(ns, sizeof *key);
    if (!slot || !key) {
        ib_free(slot);
        ib_free(key);
        return IB_ENOMEM;
    }
    for (size_t i = 0; i < h->nslot; i++) {
        if (!h->slot[i]) continue;
        size_t s = (size_t)h->key[i] & (ns - 1);
        while (slot[s]) s = (s + 1) & (ns - 1);
        slot[s] = h->slot[i];
        key[s] = h->key[i];
    }
    ib_free(h->slot);
    ib_free(h->key);
    h->slot = slot;
    h->key = key;
    h->nslot = ns;
    return 0;
}

/* Walk the items stored under key: *pos starts at SIZE_MAX; returns the
 * next item's index, or SIZE_MAX at the end. */
size_t wl__hset_next(const wl__hset *h, uint64_t key, size_t *pos)
{
    if (!h->nslot) return SIZE_MAX;
    size_t s = *pos == SIZE_MAX ? (size_t)key & (h->nslot - 1) : (*pos + 1) & (h->nslot - 1);
    for (; h->slot[s]; s = (s + 1) & (h->nslot - 1))
        if (h->key[s] == key) {
            *pos = s;
            return h->slot[s] - 1;
        }
    return SIZE_MAX;
}

int wl__hset_add(wl__hset *h, uint64_t key, size_t index)
{
    if (hset_grow(h)) return IB_ENOMEM;
    size_t s = (size_t)key & (h->nslot - 1);
    while (h->slot[s]) s = (s + 1) & (h->nslot - 1);
    h->slot[s] = index + 1;
    h->key[s] = key;
    h->n++;
    return 0;
}

uint64_t wl__pval_key(const ib_pval *v)
{
    uint64_t k[3];
    memcpy(&k[0], &v->i, 8);
    memcpy(&k[1], &v->d, 8);
    k[2] = (uint64_t)(uint32_t)v->j;
    if (v->d == 0) k[1] = 0; /* -0.0 == 0.0 */
    return wl__hash_bytes(k, sizeof k, 0);
}

uint64_t wl__name_key(const char *s)
{
    return wl__hash_bytes(s, strlen(s), 1);
}
