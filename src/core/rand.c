/* rand.c: CSPRNG access and the (injectable) clock. */
#include "core/rand.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/arena.h"
#include "core/str.h"
#include "core/banned.h"

void rand_bytes(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) {
        fputs("ostiary: CSPRNG failure\n", stderr);
        abort();
    }
}

char *rand_token(struct arena *a, size_t bytes)
{
    unsigned char buf[64];
    if (bytes > sizeof(buf))
        bytes = sizeof(buf);
    rand_bytes(buf, bytes);
    return b64url_encode(a, buf, bytes);
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
