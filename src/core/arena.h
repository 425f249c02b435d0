/* arena.h: request-lifetime memory. One arena per request (and per CLI command); nothing is freed
 * piecemeal. arena_reset() runs deferred cleanups in reverse order, wipes secret blocks and keeps the
 * first chunk for reuse, so a worker serves requests without touching malloc in the common case.
 * Allocation failure aborts the process (as h2o does): every input is size-capped before it gets here. */
#ifndef OSTIARY_ARENA_H
#define OSTIARY_ARENA_H

#include <stddef.h>
#include <stdarg.h>

struct arena;

/* Creates an arena whose chunks are at least chunk_size bytes. Owner: the caller (arena_free). */
struct arena *arena_new(size_t chunk_size);
void arena_free(struct arena *a);
/* Runs deferred cleanups (last registered first), wipes secrets, releases all but the first chunk. */
void arena_reset(struct arena *a);

/* Zero-filled, 16-byte aligned memory valid until the next reset. Never returns NULL. */
void *arena_alloc(struct arena *a, size_t n);
/* Like arena_alloc, but wiped with OPENSSL_cleanse when the arena is reset or freed. */
void *arena_alloc_secret(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void *arena_memdup(struct arena *a, const void *p, size_t n);
/* Registers fn(ptr) to run at reset/free: for anything that is not arena memory (jansson, EVP_PKEY). */
void arena_defer(struct arena *a, void (*fn)(void *), void *ptr);

#endif
