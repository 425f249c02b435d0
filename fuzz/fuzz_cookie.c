/* fuzz_cookie.c: fuzz target for the Cookie header parser (src/http/cookie.c): cookie_get with a few
 * names, and http_req_cookie with the input split into several Cookie headers at '\n' (as HTTP/2
 * sends them). Beyond memory safety it checks cookie.h's promises: return values are 0, 1 or -1; a
 * found value lies inside the header and holds no control character or unstripped quote pair; a
 * header with a control character never yields a value; and one header gives the same answer through
 * both functions. Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay
 * fuzz/corpus/cookie/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "http/cookie.h"
#include "http/http.h"
#include "core/banned.h"

static struct arena *arena;

static const char *const NAMES[] = {"sid", "ostiary_session", "__Host-sid", "a", "csrf", "=", ""};
#define N_NAMES (sizeof(NAMES) / sizeof(NAMES[0]))

static void check_value(struct str h, int rc, struct str v)
{
    if (rc != 0 && rc != 1 && rc != -1)
        abort();
    if (rc != 0) {
        if (v.p != NULL || v.len != 0)
            abort();
        return;
    }
    if (v.p < h.p || v.p + v.len > h.p + h.len)
        abort();
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            abort();
    }
    if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"' && (v.p[-1] != '"' || v.p[v.len] != '"'))
        abort(); /* quotes are stripped unless the value was itself quoted twice ("\"x\"") */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    struct str h = {(const char *)data, size};
    int first[N_NAMES];
    for (size_t i = 0; i < N_NAMES; i++) {
        struct str v;
        int rc = cookie_get(h, NAMES[i], &v);
        check_value(h, rc, v);
        first[i] = rc;
    }

    /* The same bytes as one Cookie header in a request: same answers. */
    struct http_kv one = {STR_LIT("cookie"), h};
    struct http_req req = {.arena = arena, .headers = &one, .n_headers = 1};
    for (size_t i = 0; i < N_NAMES; i++) {
        struct str v;
        int rc = http_req_cookie(&req, NAMES[i], &v);
        check_value(h, rc, v);
        if (rc != first[i])
            abort();
    }

    /* Split at '\n' into several headers (HTTP/2 crumbs); each piece has no '\n' of its own. */
    struct http_kv hs[32];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 32; i++) {
        if (i == size || data[i] == '\n') {
            hs[n].name = n % 3 == 2 ? STR_LIT("x-other") : STR_LIT("cookie");
            hs[n].value = (struct str){(const char *)data + start, i - start};
            n++;
            start = i + 1;
        }
    }
    req.headers = hs;
    req.n_headers = n;
    for (size_t i = 0; i < N_NAMES; i++) {
        struct str v;
        int rc = http_req_cookie(&req, NAMES[i], &v);
        check_value(h, rc, v);
    }
    arena_reset(arena);
    return 0;
}
