/* test_fetch.c: proves src/http/fetch.c without a network: the Cache-Control max-age parser, the refusal
 * of anything but https, and that a failed fetch is remembered for refetch_seconds (a dead URL is not
 * tried again by every request). The fetches themselves, TLS and caching are exercised by
 * tests/integration/client_auth_jwt.test.mjs against a local HTTPS server. */
#include "core/arena.h"
#include "http/fetch.h"

#include "harness.h"

TEST(fetch_max_age_parses)
{
#define AGE(s) fetch_max_age(s, strlen(s))
    ASSERT_EQ(AGE("max-age=300"), 300);
    ASSERT_EQ(AGE("public, max-age=60, must-revalidate"), 60);
    ASSERT_EQ(AGE(" MAX-AGE=\"42\" "), 42);
    ASSERT_EQ(AGE("no-store"), 0);
    ASSERT_EQ(AGE("max-age=300, no-cache"), 0);
    ASSERT_EQ(AGE("public"), -1);
    ASSERT_EQ(AGE("max-age="), -1);
    ASSERT_EQ(AGE("max-age=12x"), -1);
    ASSERT_EQ(AGE("max-age=-5"), -1);
    ASSERT_EQ(AGE("max-age=99999999999999999999"), INT32_MAX);
    ASSERT_EQ(AGE(""), -1);
#undef AGE
}

TEST(fetch_refuses_and_remembers_failures)
{
    struct fetch_opts o = {NULL, 2000, 65536, 60, 3600, 30};
    struct fetch_cache *fc = fetch_cache_new(&o);
    struct arena *a = arena_new(4096);
    const char *body;
    size_t len;
    bool refreshed;
    struct errbuf err;
    ASSERT_EQ(fetch_get(fc, a, "http://127.0.0.1:1/jwks", 0, &body, &len, &refreshed, &err), ERR_INVALID);
    ASSERT_EQ(fetch_get(fc, a, "file:///etc/passwd", 0, &body, &len, &refreshed, &err), ERR_INVALID);
    ASSERT(!fetch_cached(fc, "https://127.0.0.1:1/jwks", 0));
    /* Port 1 on loopback: refused at once. */
    ASSERT_EQ(fetch_get(fc, a, "https://127.0.0.1:1/jwks", 0, &body, &len, &refreshed, &err), ERR_UNAVAILABLE);
    ASSERT(refreshed);
    ASSERT(body == NULL);
    /* Remembered: answered from memory, without a second attempt, even when a refresh is asked. */
    ASSERT(fetch_cached(fc, "https://127.0.0.1:1/jwks", 0));
    ASSERT(fetch_cached(fc, "https://127.0.0.1:1/jwks", FETCH_REFRESH));
    ASSERT_EQ(fetch_get(fc, a, "https://127.0.0.1:1/jwks", FETCH_REFRESH, &body, &len, &refreshed, &err),
              ERR_UNAVAILABLE);
    ASSERT(!refreshed);
    arena_free(a);
    fetch_cache_free(fc);
}

TESTS(T(fetch_max_age_parses), T(fetch_refuses_and_remembers_failures))
