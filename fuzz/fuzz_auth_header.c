/* fuzz_auth_header.c: fuzz target for Authorization header parsing (src/http/auth_header.c): Basic with
 * form-encoded credentials (RFC 6749 §2.3.1) and Bearer (RFC 6750 §2.1). Checks the promises of
 * http.h besides memory safety: on success, Basic user and password are NUL-free valid UTF-8, and a
 * Bearer token matches the b64token grammar. A broken promise aborts.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/auth_header/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "http/http.h"
#include "core/banned.h"

static struct arena *arena;

static bool is_b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
}

static void check_decoded(struct str s)
{
    if (s.p == NULL || s.p[s.len] != '\0' || memchr(s.p, '\0', s.len) != NULL || !utf8_valid(s.p, s.len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    /* The header value as the server sees it: a private copy, not NUL-terminated past `size`. */
    char *v = malloc(size > 0 ? size : 1);
    if (v == NULL)
        abort();
    memcpy(v, data, size);
    struct auth_header ah;
    int rc = auth_header_parse(arena, v, size, &ah);
    if (rc != 0 && rc != -1)
        abort();
    if (rc == 0) {
        switch (ah.scheme) {
        case AUTH_BASIC:
            check_decoded(ah.user);
            check_decoded(ah.pass);
            break;
        case AUTH_BEARER:
        case AUTH_DPOP: /* RFC 9449 §7.1: the same token68 form as Bearer */
            if (ah.token.p == NULL || ah.token.len == 0 || ah.token.len > size)
                abort();
            /* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
            {
                size_t i = 0;
                while (i < ah.token.len && is_b64token_char(ah.token.p[i]))
                    i++;
                if (i == 0)
                    abort();
                while (i < ah.token.len && ah.token.p[i] == '=')
                    i++;
                if (i != ah.token.len)
                    abort();
            }
            break;
        case AUTH_NONE:
            if (size != 0)
                abort();
            break;
        case AUTH_OTHER:
            break;
        }
    }
    free(v);
    arena_reset(arena);
    return 0;
}
