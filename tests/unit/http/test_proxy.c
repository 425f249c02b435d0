/* test_proxy.c: proves src/http/proxy.c: the client address taken from X-Forwarded-For behind trusted
 * proxies: untrusted peers and no proxies ignore the header; right-to-left walk with trusted hops skipped
 * and spoofed left entries ignored; absent header and all-trusted chains keep the peer; malformed entries,
 * brackets and ports, whitespace and empty entries; several field lines; very long headers. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/ipnet.h"
#include "core/str.h"
#include "http/http.h"
#include "http/proxy.h"

#include "harness.h"
#include "nets.h"

/* proxy_client_addr with one X-Forwarded-For line (NULL: none); the address lands in got. */
static char got[PROXY_ADDR_TEXT];
static enum proxy_from client1(const struct nets *ns, const char *peer, const char *xff)
{
    struct http_kv h[2] = {
        {STR_LIT("host"), STR_LIT("id.example.com")},
        {STR_LIT("x-forwarded-for"), STR_NULL},
    };
    if (xff != NULL)
        h[1].value = str_c(xff);
    return proxy_client_addr(ns->v, ns->n, peer, h, xff != NULL ? 2 : 1, got);
}

static const char *const LOCAL[] = {"127.0.0.1", "::1", NULL};
static const char *const TIERS[] = {"10.0.0.0/8", "fd00::/8", "192.0.2.10", NULL};

TEST(proxy_client_untrusted_peer_ignores_header)
{
    struct nets ns;
    ASSERT(nets_of(&ns, LOCAL));
    ASSERT_EQ(client1(&ns, "203.0.113.9", "198.51.100.7"), PROXY_FROM_PEER);
    ASSERT_STREQ(got, "203.0.113.9");
    /* No trusted proxies at all (the default): the header is never read. */
    ns.n = 0;
    ASSERT_EQ(client1(&ns, "127.0.0.1", "198.51.100.7"), PROXY_FROM_PEER);
    ASSERT_STREQ(got, "127.0.0.1");
    /* A peer that is not an address (getpeername failed: empty) is not trusted. */
    ASSERT(nets_of(&ns, LOCAL));
    ASSERT_EQ(client1(&ns, "", "198.51.100.7"), PROXY_FROM_PEER);
    ASSERT_STREQ(got, "");
    ASSERT_EQ(proxy_client_addr(ns.v, ns.n, NULL, NULL, 0, got), PROXY_FROM_PEER);
    ASSERT_STREQ(got, "");
}

TEST(proxy_client_right_to_left)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    /* One proxy: the entry it appended. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "198.51.100.7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    /* Spoofed entries on the left (the client's own X-Forwarded-For, kept by the proxy) change nothing. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "1.1.1.1, 127.0.0.1, 198.51.100.7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    /* Two tiers of our proxies: the walk skips them to the first untrusted entry. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "6.6.6.6, 198.51.100.8, 192.0.2.10, 10.9.9.9"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.8");
    ASSERT_EQ(client1(&ns, "fd00::1", "2001:db8::42, fd00::2"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "2001:db8::42");
    /* A trusted IPv4 peer seen through a dual-stack socket. */
    ASSERT_EQ(client1(&ns, "::ffff:10.0.0.1", "198.51.100.9"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.9");
    /* The answer is canonical text, whatever the proxy wrote. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "2001:DB8:0::7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "2001:db8::7");
    ASSERT_EQ(client1(&ns, "10.1.2.3", "::ffff:198.51.100.7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
}

TEST(proxy_client_absent_or_all_trusted)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    ASSERT_EQ(client1(&ns, "10.1.2.3", NULL), PROXY_NO_HEADER);
    ASSERT_STREQ(got, "10.1.2.3");
    ASSERT_EQ(client1(&ns, "10.1.2.3", ""), PROXY_NO_HEADER);
    ASSERT_STREQ(got, "10.1.2.3");
    ASSERT_EQ(client1(&ns, "10.1.2.3", " , ,"), PROXY_NO_HEADER);
    ASSERT_EQ(client1(&ns, "10.1.2.3", "10.0.0.5, 192.0.2.10"), PROXY_ALL_TRUSTED);
    ASSERT_STREQ(got, "10.1.2.3");
}

TEST(proxy_client_malformed_keeps_peer)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    static const char *const bad[] = {
        "unknown", "198.51.100.7 x", "198.51.100.7;proto=https", "[198.51.100.7]", "[::1", "[::1]80",
        "[::1]:", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:123456", "1.2.3.4:8a", "for=198.51.100.7",
        "\"198.51.100.7\"", "fe80::1%eth0", "::1:80x", "198.51.100.7\r",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum proxy_from r = client1(&ns, "10.1.2.3", bad[i]);
        if (r != PROXY_MALFORMED || strcmp(got, "10.1.2.3") != 0) {
            fprintf(stderr, "  '%s': %d %s\n", bad[i], (int)r, got);
            ASSERT(false);
        }
    }
    /* A malformed entry right of the client stops the walk; one left of it is never looked at. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "198.51.100.7, garbage"), PROXY_MALFORMED);
    ASSERT_EQ(client1(&ns, "10.1.2.3", "garbage, 198.51.100.7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    ASSERT_EQ(client1(&ns, "10.1.2.3", "garbage, 198.51.100.7, 10.0.0.1"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
}

TEST(proxy_client_brackets_ports_whitespace_empty)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    ASSERT_EQ(client1(&ns, "10.1.2.3", "198.51.100.7:5678"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    ASSERT_EQ(client1(&ns, "10.1.2.3", "[2001:db8::1]:443"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "2001:db8::1");
    ASSERT_EQ(client1(&ns, "10.1.2.3", "[2001:db8::1]"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "2001:db8::1");
    ASSERT_EQ(client1(&ns, "10.1.2.3", "[::ffff:198.51.100.7]:0"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    /* Trusted hops with ports are skipped like any other. */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "198.51.100.7, [fd00::9]:8080, 10.0.0.1:65535"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    /* Optional whitespace (spaces and tabs) and empty list elements (RFC 9110 §5.6.1). */
    ASSERT_EQ(client1(&ns, "10.1.2.3", "\t 198.51.100.7 \t,,  ,10.0.0.1 ,"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
    ASSERT_EQ(client1(&ns, "10.1.2.3", ",198.51.100.7"), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");
}

/* Several X-Forwarded-For lines are one list, in order (RFC 9110 §5.3): the last line is the right end. */
TEST(proxy_client_several_lines)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    struct http_kv h[] = {
        {STR_LIT("x-forwarded-for"), STR_LIT("6.6.6.6, 198.51.100.1")},
        {STR_LIT("accept"), STR_LIT("1.1.1.1")},
        {STR_LIT("x-forwarded-for"), STR_LIT("198.51.100.2")},
        {STR_LIT("x-forwarded-for"), STR_LIT("10.0.0.7, ")},
        {STR_LIT("x-forwarded-for-not"), STR_LIT("198.51.100.3")},
    };
    ASSERT_EQ(proxy_client_addr(ns.v, ns.n, "10.1.2.3", h, 5, got), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.2");
    /* Without the middle line, the walk crosses into the first one. */
    h[2].value = STR_LIT("192.0.2.10");
    ASSERT_EQ(proxy_client_addr(ns.v, ns.n, "10.1.2.3", h, 5, got), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.1");
    /* A different header that merely looks like an address is never read. */
    h[0].value = STR_LIT("10.0.0.1");
    ASSERT_EQ(proxy_client_addr(ns.v, ns.n, "10.1.2.3", h, 5, got), PROXY_ALL_TRUSTED);
    ASSERT_STREQ(got, "10.1.2.3");
}

/* A very long header: the walk looks at PROXY_MAX_HOPS entries at most, and a long header with the
 * client at its right end is answered as usual. */
TEST(proxy_client_long_header)
{
    struct nets ns;
    ASSERT(nets_of(&ns, TIERS));
    static char buf[200000];
    size_t n = 0;
    /* Thousands of spoofed entries left of the real client. */
    while (n + 32 < sizeof(buf) - 64)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "203.0.113.%zu, ", n % 250);
    snprintf(buf + n, sizeof(buf) - n, "198.51.100.7, 10.0.0.1");
    ASSERT_EQ(client1(&ns, "10.1.2.3", buf), PROXY_FROM_HEADER);
    ASSERT_STREQ(got, "198.51.100.7");

    /* Exactly PROXY_MAX_HOPS trusted entries: all trusted. One more: malformed (too long a chain). */
    n = 0;
    for (int i = 0; i < PROXY_MAX_HOPS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s10.0.0.%d", i > 0 ? "," : "", i);
    ASSERT_EQ(client1(&ns, "10.1.2.3", buf), PROXY_ALL_TRUSTED);
    snprintf(buf + n, sizeof(buf) - n, ",10.0.0.99");
    ASSERT_EQ(client1(&ns, "10.1.2.3", buf), PROXY_MALFORMED);
    ASSERT_STREQ(got, "10.1.2.3");
    /* Empty elements do not count as hops. */
    memset(buf, ',', 100000);
    snprintf(buf + 100000, sizeof(buf) - 100000, "198.51.100.7");
    ASSERT_EQ(client1(&ns, "10.1.2.3", buf), PROXY_FROM_HEADER);
    /* One entry longer than any address. */
    memset(buf, '1', 5000);
    buf[5000] = '\0';
    ASSERT_EQ(client1(&ns, "10.1.2.3", buf), PROXY_MALFORMED);
}

TESTS(T(proxy_client_untrusted_peer_ignores_header), T(proxy_client_right_to_left),
      T(proxy_client_absent_or_all_trusted), T(proxy_client_malformed_keeps_peer),
      T(proxy_client_brackets_ports_whitespace_empty), T(proxy_client_several_lines),
      T(proxy_client_long_header))
