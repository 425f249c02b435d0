/* fuzz_device_cookie.c: fuzz target for the device-cookie parser (src/session/session.c,
 * device_cookie_verify). The input is a username, a newline, then a cookie value. Beyond memory safety it
 * checks session.h's promises: a value is accepted only if it is exactly the value device_cookie_value()
 * writes for the username, its iat and the id returned, within the lifetime; and the value written for
 * the input's username always verifies. Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c
 * to replay fuzz/corpus/device_cookie/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "session/session.h"
#include "core/banned.h"

/* The seeds in fuzz/corpus/device_cookie/ were made with this secret, at this time. */
#define SECRET "fuzz secret for device cookies, 32+"
#define NOW 1700000000

static struct arena *arena;
static uint8_t key[DEVICE_KEY_LEN];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL) {
        arena = arena_new(16384);
        device_cookie_key(SECRET, key);
    }
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ulen = nl != NULL ? (size_t)(nl - data) : size;
    const char *username = arena_strndup(arena, (const char *)data, ulen);
    struct str value = {nl != NULL ? (const char *)nl + 1 : "", nl != NULL ? size - ulen - 1 : 0};

    const char *id = device_cookie_verify(arena, key, username, value, NOW);
    if (id != NULL) {
        /* Accepted: the value must be the canonical one for some iat in the window and this id. */
        const char *dot = memchr(value.p, '.', value.len);
        if (dot == NULL)
            abort();
        int64_t iat = 0;
        if (str_to_i64((struct str){value.p, (size_t)(dot - value.p)}, &iat) != 0 || iat > NOW + 300 ||
            NOW - iat > DEVICE_COOKIE_TTL)
            abort();
        const char *want = device_cookie_value(arena, key, username, iat, id);
        if (strlen(want) != value.len || memcmp(want, value.p, value.len) != 0)
            abort();
    }
    /* What we write for this username verifies, and gives back its id. */
    const char *mine = device_cookie_value(arena, key, username, NOW, "fuzz-id");
    const char *back = device_cookie_verify(arena, key, username, (struct str){mine, strlen(mine)}, NOW);
    if (strlen(mine) <= 128 && (back == NULL || strcmp(back, "fuzz-id") != 0))
        abort();
    arena_reset(arena);
    return 0;
}
