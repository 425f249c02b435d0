/* limiter.h: failure counters with a capped, doubling delay, kept in memory: the machinery of the
 * failed-login limiter (users.h) and of the device page's user-code limiter (oauth/device.c), each of which
 * decides which counters an attempt touches and how many failures each allows.
 *
 * A counter is named by a key (limiter_key: what it counts, e.g. an address or a browser). Once it has
 * counted `max` failures (the caller's number, per counter), every further attempt must wait: lockout_seconds
 * after the max-th failure, doubled for each one after it, capped at 15 minutes. A counter is forgotten 15
 * minutes after its last failure or the end of its wait, whichever is later. Memory is bounded: at most
 * LIMITER_MAX_ENTRIES counters; a full table evicts the counter with the oldest failure, so a flood of keys
 * costs memory up to that bound and no more. Thread-safe (one mutex). */
#ifndef OSTIARY_SESSION_LIMITER_H
#define OSTIARY_SESSION_LIMITER_H

#include <stddef.h>
#include <stdint.h>

#define LIMITER_KEY_LEN 16u
#define LIMITER_MAX_ENTRIES 100000u
#define LIMITER_WINDOW 900    /* seconds after the last failure or the end of the wait: then forgotten */
#define LIMITER_MAX_DELAY 900 /* seconds: the cap of the doubling delay (15 minutes) */

struct limiter;

/* A new limiter whose first delay is lockout_seconds (0 counts as 1). NULL if libsodium cannot start.
 * Owner: the caller (limiter_free). */
struct limiter *limiter_new(uint32_t lockout_seconds);
void limiter_free(struct limiter *l);

/* The key of one counter: a BLAKE2b keyed with a per-process random key (so entries have a fixed size and
 * flooding one hash bucket needs that key) of `kind`, then `a` (at most amax bytes), a NUL, then `b` (at
 * most bmax bytes). NULL parts count as "". The kind comes first, so counters of different kinds never
 * share a key; the NUL keeps "ab"+"c" apart from "a"+"bc". */
void limiter_key(const struct limiter *l, char kind, const char *a, size_t amax, const char *b, size_t bmax,
                 uint8_t out[LIMITER_KEY_LEN]);
/* Seconds the longest wait of the n counters still lasts at `now`, 0 if none makes the caller wait. */
int64_t limiter_wait(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], size_t n, int64_t now);
/* Counts one failure against each of the n counters; counter i allows max[i] failures (0 counts as 1)
 * before its delay. */
void limiter_fail(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], const uint32_t *max, size_t n,
                  int64_t now);
/* Forgets the n counters. */
void limiter_clear(struct limiter *l, const uint8_t (*keys)[LIMITER_KEY_LEN], size_t n);

#endif
