/* rand.c: CSPRNG access and the (injectable) clock. */
#include "core/rand.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/arena.h"
#include "core/str.h"
#include "core/banned.h"

static void draw(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) {
        fputs("ostiary: CSPRNG failure\n", stderr);
        abort();
    }
}

/* Each thread draws RAND_POOL bytes from the CSPRNG at a time and hands them out in order, each byte once:
 * one RAND_bytes call costs ~0.9 us here whatever the size up to a few KiB (OpenSSL 3 looks up the thread's
 * generator and takes its locks on every call), and a token request draws two or three small values. Bytes
 * handed out are wiped from the pool; the bytes not yet handed out are secret state like the generator's own.
 * A forked child must never repeat its parent's bytes: a fork bumps `forks` (pthread_atfork), and a pool
 * filled before it is thrown away. */
#define RAND_POOL 512

static _Atomic unsigned forks;
static pthread_once_t fork_hook = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    forks++;
}

static void hook_fork(void)
{
    if (pthread_atfork(NULL, NULL, on_fork_child) != 0) {
        fputs("ostiary: pthread_atfork failed\n", stderr);
        abort();
    }
}

struct rand_pool {
    unsigned char buf[RAND_POOL];
    size_t used; /* bytes handed out (and wiped) from buf */
    unsigned forks;
    bool filled;
};

static _Thread_local struct rand_pool pool;

void rand_bytes(void *p, size_t n)
{
    if (n > RAND_POOL / 4) { /* keys and other large draws: straight from the generator */
        draw(p, n);
        return;
    }
    pthread_once(&fork_hook, hook_fork);
    if (!pool.filled || pool.forks != forks || RAND_POOL - pool.used < n) {
        pool.forks = forks;
        draw(pool.buf, sizeof(pool.buf));
        pool.used = 0;
        pool.filled = true;
    }
    memcpy(p, pool.buf + pool.used, n);
    OPENSSL_cleanse(pool.buf + pool.used, n);
    pool.used += n;
}

char *rand_token(struct arena *a, size_t bytes)
{
    unsigned char buf[64];
    if (bytes > sizeof(buf))
        bytes = sizeof(buf);
    rand_bytes(buf, bytes);
    return b64url_encode(a, buf, bytes);
}

char *rand_id_ordered(struct arena *a)
{
    unsigned char buf[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    for (int i = 5; i >= 0; i--) {
        buf[i] = (unsigned char)(ms & 0xff);
        ms >>= 8;
    }
    rand_bytes(buf + 6, sizeof(buf) - 6);
    return b64url_encode(a, buf, sizeof(buf));
}

static int64_t fixed_now;

int64_t clock_now(void)
{
    if (fixed_now != 0)
        return fixed_now;
    return (int64_t)time(NULL);
}

void clock_set_fixed(int64_t t)
{
    fixed_now = t;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_tick_ms(void)
{
    if (fixed_now != 0)
        return fixed_now * 1000;
    return clock_mono_us() / 1000;
}
