/* rand.h: randomness and time, the two inputs tests want to control. rand_bytes() draws from the
 * OpenSSL CSPRNG; clock_now() returns Unix seconds and can be pinned by tests (clock_set_fixed). */
#ifndef OSTIARY_RAND_H
#define OSTIARY_RAND_H

#include <stddef.h>
#include <stdint.h>

struct arena;

/* Fills p with n bytes from the CSPRNG (small draws through a per-thread pool of its output, see rand.c);
 * aborts if the CSPRNG fails (never continue without entropy). */
void rand_bytes(void *p, size_t n);
/* A random token of `bytes` bytes of entropy, base64url-encoded, in arena memory. */
char *rand_token(struct arena *a, size_t bytes);
/* An identifier of 16 bytes, base64url-encoded like rand_token(a, 16): the wall clock in milliseconds (6 bytes,
 * big-endian), then 80 random bits. Ids made close in time share their first characters, so an index over
 * them takes new ones on a few pages instead of a random page each. For ids that are no credential. */
char *rand_id_ordered(struct arena *a);

int64_t clock_now(void);
/* Tests only: make clock_now() return t (0 restores the real clock). */
void clock_set_fixed(int64_t t);
/* Monotonic microseconds, for durations. */
int64_t clock_mono_us(void);
/* Milliseconds for measuring intervals between requests (the device grant's polling): monotonic, so a step
 * of the wall clock never shortens or stretches an interval; while clock_set_fixed pins clock_now() at t,
 * it is pinned at t * 1000, so that tests move both together. Comparable only within one process. */
int64_t clock_tick_ms(void);

#endif
