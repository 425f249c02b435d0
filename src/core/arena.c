/* arena.c: bump allocator with chunk list, deferred cleanups and secret wiping (see arena.h). */
#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include "core/banned.h"

struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct defer {
    struct defer *next;
    void (*fn)(void *);
    void *ptr;
};

struct secret {
    struct secret *next;
    void *p;
    size_t n;
};

struct arena {
    struct chunk *head;  /* current chunk; the first one allocated is last in the list */
    size_t chunk_size;
    struct defer *defers;
    struct secret *secrets;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fputs("ostiary: out of memory\n", stderr);
        abort();
    }
    return p;
}

static struct chunk *chunk_new(size_t size)
{
    struct chunk *c = xmalloc(sizeof(*c) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

struct arena *arena_new(size_t chunk_size)
{
    struct arena *a = xmalloc(sizeof(*a));
    if (chunk_size < 1024)
        chunk_size = 1024;
    a->chunk_size = chunk_size;
    a->head = chunk_new(chunk_size);
    a->defers = NULL;
    a->secrets = NULL;
    return a;
}

static void run_cleanups(struct arena *a)
{
    /* Defers may use memory of the arena, so they run before anything is wiped or released. */
    while (a->defers != NULL) {
        struct defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->ptr);
    }
    for (struct secret *s = a->secrets; s != NULL; s = s->next)
        OPENSSL_cleanse(s->p, s->n);
    a->secrets = NULL;
}

void arena_reset(struct arena *a)
{
    run_cleanups(a);
    struct chunk *c = a->head;
    while (c->next != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

void arena_free(struct arena *a)
{
    if (a == NULL)
        return;
    arena_reset(a);
    free(a->head);
    free(a);
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    struct chunk *c = a->head;
    if (c->size - c->used < n) {
        size_t size = n > a->chunk_size ? n : a->chunk_size;
        struct chunk *nc = chunk_new(size);
        nc->next = c;
        a->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

void *arena_alloc_secret(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    struct secret *s = arena_alloc(a, sizeof(*s));
    s->p = p;
    s->n = n;
    s->next = a->secrets;
    a->secrets = s;
    return p;
}

void arena_defer(struct arena *a, void (*fn)(void *), void *ptr)
{
    struct defer *d = arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->ptr = ptr;
    d->next = a->defers;
    a->defers = d;
}

void *arena_memdup(struct arena *a, const void *p, size_t n)
{
    void *q = arena_alloc(a, n + 1);
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    return arena_memdup(a, s, n);
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
