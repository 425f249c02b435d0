/* test_fetch.c: proves src/http/fetch.c without a network: the Cache-Control max-age parser, the refusal
 * of anything but https, that a failed fetch is remembered for refetch_seconds (a dead URL is not
 * tried again by every request), and the refusal of addresses that are not public (SSRF): which ones, and
 * that the check holds on the address connected to unless fetch.allow_private_addresses. The fetches themselves, TLS and caching are exercised by
 * tests/integration/client_auth_jwt.test.mjs against a local HTTPS server. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
    struct fetch_opts o = {NULL, 2000, 65536, 60, 3600, 30, true};
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

/* Sleeps until the wall clock is `ms` milliseconds into a second. */
static void until_ms_of_second(long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long now_ms = ts.tv_nsec / 1000000;
    long wait_ms = now_ms < ms ? ms - now_ms : 1000 - now_ms + ms;
    struct timespec d = {0, wait_ms * 1000000L};
    nanosleep(&d, NULL);
}

/* refetch_seconds runs from the attempt, not from the start of its second: an attempt made 60 ms before a
 * second ends is still remembered 150 ms later, in the next second (timed in whole seconds, it was not),
 * and forgotten once the window has passed. */
TEST(fetch_refetch_window_is_not_cut_at_a_second)
{
    struct fetch_opts o = {NULL, 2000, 65536, 60, 3600, 1, true};
    struct fetch_cache *fc = fetch_cache_new(&o);
    struct arena *a = arena_new(4096);
    const char *body;
    size_t len;
    bool refreshed;
    struct errbuf err;
    until_ms_of_second(940);
    ASSERT_EQ(fetch_get(fc, a, "https://127.0.0.1:1/jwks", 0, &body, &len, &refreshed, &err), ERR_UNAVAILABLE);
    struct timespec d = {0, 150 * 1000000L};
    nanosleep(&d, NULL);
    ASSERT(fetch_cached(fc, "https://127.0.0.1:1/jwks", FETCH_REFRESH));
    d = (struct timespec){1, 0};
    nanosleep(&d, NULL);
    ASSERT(!fetch_cached(fc, "https://127.0.0.1:1/jwks", FETCH_REFRESH));
    arena_free(a);
    fetch_cache_free(fc);
}

/* The phrase fetch_addr_refused gives for the text address s (IPv4 or IPv6), NULL for a public one. */
static const char *refused(const char *s)
{
    struct sockaddr_storage ss = {0};
    if (strchr(s, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        if (inet_pton(AF_INET6, s, &in6->sin6_addr) != 1)
            return "bad test address";
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        if (inet_pton(AF_INET, s, &in->sin_addr) != 1)
            return "bad test address";
    }
    return fetch_addr_refused((const struct sockaddr *)&ss);
}

TEST(fetch_addresses_refused)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (refused(bad[i]) == NULL)
            printf("  not refused: %s\n", bad[i]);
        ASSERT(refused(bad[i]) != NULL);
    }
    static const char *const good[] = {
        "93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "11.0.0.1",
        "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "fe00::1",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (refused(good[i]) != NULL)
            printf("  refused: %s (%s)\n", good[i], refused(good[i]));
        ASSERT(refused(good[i]) == NULL);
    }
    ASSERT_STREQ(refused("127.0.0.1"), "loopback (127.0.0.0/8)");
    ASSERT_STREQ(refused("::ffff:192.168.0.1"), "private (192.168.0.0/16)");
}

/* By default a loopback URL is not connected to: FETCH_ERR_REFUSED naming the address, remembered like a
 * failure (so that a client cannot make every request try it). Port 1 would refuse the connection too:
 * ERR_UNAVAILABLE, as with the switch on above, tells the two apart. */
TEST(fetch_refuses_loopback_by_default)
{
    struct fetch_opts o = {NULL, 2000, 65536, 60, 3600, 30, false};
    struct fetch_cache *fc = fetch_cache_new(&o);
    struct arena *a = arena_new(4096);
    const char *body;
    size_t len;
    bool refreshed;
    struct errbuf err = {{0}};
    ASSERT_EQ(fetch_get(fc, a, "https://127.0.0.1:1/jwks", 0, &body, &len, &refreshed, &err), FETCH_ERR_REFUSED);
    ASSERT(strstr(err.msg, "127.0.0.1 is loopback") != NULL);
    ASSERT_EQ(fetch_get(fc, a, "https://[::1]:1/jwks", 0, &body, &len, &refreshed, &err), FETCH_ERR_REFUSED);
    ASSERT(strstr(err.msg, "::1 is loopback") != NULL);
    ASSERT_EQ(fetch_get(fc, a, "https://localhost:1/jwks", 0, &body, &len, &refreshed, &err), FETCH_ERR_REFUSED);
    ASSERT_EQ(fetch_get(fc, a, "https://127.0.0.1:1/jwks", 0, &body, &len, &refreshed, &err), FETCH_ERR_REFUSED);
    ASSERT(!refreshed);
    arena_free(a);
    fetch_cache_free(fc);
}

TESTS(T(fetch_max_age_parses), T(fetch_refuses_and_remembers_failures), T(fetch_refetch_window_is_not_cut_at_a_second),
      T(fetch_addresses_refused),
      T(fetch_refuses_loopback_by_default))
