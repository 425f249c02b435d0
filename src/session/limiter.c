/* limiter.c: in-memory failure counters with a capped, doubling delay (limiter.h), shared by the
 * failed-login limiter (users.c) and the user-code limiter of the device page (oauth/device.c). Entries live
 * in a chained hash table keyed by a keyed BLAKE2b of what they count, and on a list ordered oldest failure
 * first, so that stale entries are dropped from its old end and a full table evicts the oldest. */
#include "session/limiter.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/banned.h"

#define LIMITER_BUCKETS 65536u /* power of two */

struct lim_entry {
    uint8_t key[LIMITER_KEY_LEN];
    struct lim_entry *hnext;         /* bucket chain */
    struct lim_entry *older, *newer; /* age list, by last failure */
    uint32_t failures;
    int64_t last_failure;
    int64_t locked_until;
};

struct limiter {
    pthread_mutex_t mu;
    uint32_t lockout_seconds;
    uint8_t hash_key[crypto_generichash_KEYBYTES];
    struct lim_entry **buckets;
    struct lim_entry *oldest, *newest;
    size_t count;
};

struct limiter *limiter_new(uint32_t lockout_seconds)
{
    if (sodium_init() < 0)
        return NULL;
    struct limiter *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->buckets = calloc(LIMITER_BUCKETS, sizeof(*l->buckets));
    if (l->buckets == NULL)
        abort();
    pthread_mutex_init(&l->mu, NULL);
    l->lockout_seconds = lockout_seconds > 0 ? lockout_seconds : 1;
    randombytes_buf(l->hash_key, sizeof(l->hash_key));
    return l;
}

void limiter_free(struct limiter *l)
{
    if (l == NULL)
        return;
    for (struct lim_entry *e = l->oldest; e != NULL;) {
        struct lim_entry *next = e->newer;
        free(e);
        e = next;
    }
    free(l->buckets);
    pthread_mutex_destroy(&l->mu);
    sodium_memzero(l->hash_key, sizeof(l->hash_key));
    free(l);
}

void limiter_key(const struct limiter *l, char kind, const char *a, size_t amax, const char *b, size_t bmax,
                 uint8_t out[LIMITER_KEY_LEN])
{
    static const unsigned char nul = 0;
    const unsigned char tag = (unsigned char)kind;
    const char *pa = a != NULL ? a : "";
    const char *pb = b != NULL ? b : "";
    crypto_generichash_state st;
    crypto_generichash_init(&st, l->hash_key, sizeof(l->hash_key), LIMITER_KEY_LEN);
    crypto_generichash_update(&st, &tag, 1);
    crypto_generichash_update(&st, (const unsigned char *)pa, strnlen(pa, amax));
    crypto_generichash_update(&st, &nul, 1);
    crypto_generichash_update(&st, (const unsigned char *)pb, strnlen(pb, bmax));
    crypto_generichash_final(&st, out, LIMITER_KEY_LEN);
}

static size_t lim_bucket(const uint8_t key[LIMITER_KEY_LEN])
{
    size_t b = 0;
    memcpy(&b, key, sizeof(b) < LIMITER_KEY_LEN ? sizeof(b) : LIMITER_KEY_LEN);
    return b & (LIMITER_BUCKETS - 1);
}

static struct lim_entry *lim_find(struct limiter *l, const uint8_t key[LIMITER_KEY_LEN])
{
    for (struct lim_entry *e = l->buckets[lim_bucket(key)]; e != NULL; e = e->hnext)
        if (memcmp(e->key, key, LIMITER_KEY_LEN) == 0)
            return e;
    return NULL;
}

static void lim_unlink_age(struct limiter *l, struct lim_entry *e)
{
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        l->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        l->newest = e->older;
    e->older = e->newer = NULL;
}

static void lim_push_newest(struct limiter *l, struct lim_entry *e)
{
    e->older = l->newest;
    e->newer = NULL;
    if (l->newest != NULL)
        l->newest->newer = e;
    else
        l->oldest = e;
    l->newest = e;
}

static void lim_remove(struct limiter *l, struct lim_entry *e)
{
    struct lim_entry **pp = &l->buckets[lim_bucket(e->key)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lim_unlink_age(l, e);
    l->count--;
    free(e);
}

/* Forgotten LIMITER_WINDOW after its last failure or the end of its wait, whichever is later. Counting
 * from the last failure alone, a counter at the delay cap (as long as the window) was forgotten the moment
 * its wait ended, and one failure per wait bought an attacker a fresh budget of failures every time. */
static bool lim_stale(const struct lim_entry *e, int64_t now)
{
    int64_t since = e->locked_until > e->last_failure ? e->locked_until : e->last_failure;
    return now >= e->locked_until && now - since >= LIMITER_WINDOW;
}

/* Seconds this counter still makes the caller wait. */
static int64_t lim_wait(const struct lim_entry *e, int64_t now)
{
    if (e == NULL || lim_stale(e, now) || e->locked_until <= now)
        return 0;
    return e->locked_until - now;
}

/* Counts one failure against the counter `key`, which allows `max` failures before a delay. */
static void lim_fail(struct limiter *l, const uint8_t key[LIMITER_KEY_LEN], uint32_t max, int64_t now)
{
    /* The age list is ordered by last failure, so stale entries gather at its old end. */
    while (l->oldest != NULL && lim_stale(l->oldest, now))
        lim_remove(l, l->oldest);
    struct lim_entry *e = lim_find(l, key);
    if (e != NULL && lim_stale(e, now)) {
        e->failures = 0;
        e->locked_until = 0;
    }
    if (e == NULL) {
        if (l->count >= LIMITER_MAX_ENTRIES)
            lim_remove(l, l->oldest);
        e = calloc(1, sizeof(*e));
        if (e == NULL)
            abort();
        memcpy(e->key, key, LIMITER_KEY_LEN);
        size_t b = lim_bucket(key);
        e->hnext = l->buckets[b];
        l->buckets[b] = e;
        l->count++;
    } else {
        lim_unlink_age(l, e);
    }
    lim_push_newest(l, e);
    if (e->failures < UINT32_MAX)
        e->failures++;
    e->last_failure = now;
    if (max == 0)
        max = 1;
    if (e->failures >= max) {
        /* lockout_seconds after the max-th failure, doubled for each one after it, capped. */
        int64_t delay = l->lockout_seconds;
        for (uint32_t extra = e->failures - max; extra > 0 && delay < LIMITER_MAX_DELAY; extra--)
            delay *= 2;
        if (delay > LIMITER_MAX_DELAY)
            delay = LIMITER_MAX_DELAY;
        e->locked_until = now + delay;
    }
}

int64_t limiter_wait(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], size_t n, int64_t now)
{
    int64_t w = 0;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        int64_t one = lim_wait(lim_find(l, keys[i]), now);
        if (one > w)
            w = one;
    }
    pthread_mutex_unlock(&l->mu);
    return w;
}

void limiter_fail(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], const uint32_t *max, size_t n,
                  int64_t now)
{
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++)
        lim_fail(l, keys[i], max[i], now);
    pthread_mutex_unlock(&l->mu);
}

void limiter_clear(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], size_t n)
{
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < n; i++) {
        struct lim_entry *e = lim_find(l, keys[i]);
        if (e != NULL)
            lim_remove(l, e);
    }
    pthread_mutex_unlock(&l->mu);
}
