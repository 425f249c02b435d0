/* test_ipnet.c: proves src/core/ipnet.c: address parsing (dotted-quad IPv4, IPv6, IPv4-mapped IPv6,
 * refused legacy and decorated forms), CIDR parsing (prefix bounds, /0, /32, /128, host bits), matching
 * (IPv4-mapped addresses match IPv4 networks, other IPv4-in-IPv6 forms do not) and canonical text. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/ipnet.h"

#include "harness.h"
#include "nets.h"

/* Parses a NUL-terminated network; *why gets the reason on failure. */
static int net(const char *s, struct ipnet *out, const char **why)
{
    *why = NULL;
    return ipnet_parse(s, strlen(s), out, why);
}

static int addr(const char *s, uint8_t out[16])
{
    return ipnet_addr_parse(s, strlen(s), out);
}

static bool matches(const struct nets *ns, const char *a)
{
    uint8_t b[16];
    return addr(a, b) == 0 && ipnet_match(ns->v, ns->n, b);
}

TEST(ipnet_addr_parse_forms)
{
    uint8_t a[16];
    static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    ASSERT_EQ(addr("192.0.2.1", a), 0);
    ASSERT(memcmp(a, v4, 16) == 0);
    /* The IPv4-mapped IPv6 text is the same address. */
    memset(a, 0, sizeof(a));
    ASSERT_EQ(addr("::ffff:192.0.2.1", a), 0);
    ASSERT(memcmp(a, v4, 16) == 0);
    ASSERT_EQ(addr("2001:db8::1", a), 0);
    ASSERT_EQ(a[0], 0x20);
    ASSERT_EQ(a[1], 0x01);
    ASSERT_EQ(a[15], 1);
    ASSERT_EQ(addr("::", a), 0);
    ASSERT_EQ(addr("0.0.0.0", a), 0);
    ASSERT_EQ(addr("ABCD::ef01", a), 0);

    /* Not addresses: short and octal IPv4 forms, out-of-range parts, zones, brackets, ports, blanks. */
    static const char *const bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "0x1.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ",
        "fe80::1%eth0", "[::1]", "1.2.3.4:80", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::1", "localhost",
        "::ffff:1.2.3", "g::1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (addr(bad[i], a) != -1) {
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
            ASSERT(false);
        }
    }
    /* An embedded NUL does not cut the input short. The longest address text (45 bytes) parses; longer
     * input is refused before inet_pton sees it. */
    ASSERT_EQ(ipnet_addr_parse("1.2.3.4\0junk", 12, a), -1);
    ASSERT_EQ(ipnet_addr_parse(NULL, 0, a), -1);
    ASSERT_EQ(addr("1111:2222:3333:4444:5555:6666:123.123.123.123", a), 0);
    ASSERT_EQ(addr("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000", a), -1);
}

TEST(ipnet_parse_valid)
{
    struct ipnet n;
    const char *why;
    ASSERT_EQ(net("10.0.0.0/8", &n, &why), 0);
    ASSERT_EQ(n.prefix, 96 + 8);
    ASSERT_EQ(n.addr[10], 0xff);
    ASSERT_EQ(n.addr[12], 10);
    ASSERT_EQ(net("127.0.0.1", &n, &why), 0); /* a bare address is a /32 */
    ASSERT_EQ(n.prefix, 128);
    ASSERT_EQ(net("192.0.2.7/32", &n, &why), 0);
    ASSERT_EQ(n.prefix, 128);
    ASSERT_EQ(net("0.0.0.0/0", &n, &why), 0); /* every IPv4 address, and nothing else */
    ASSERT_EQ(n.prefix, 96);
    ASSERT_EQ(net("::1", &n, &why), 0);
    ASSERT_EQ(n.prefix, 128);
    ASSERT_EQ(net("fd00::/8", &n, &why), 0);
    ASSERT_EQ(n.prefix, 8);
    ASSERT_EQ(net("2001:db8::/128", &n, &why), 0);
    ASSERT_EQ(n.prefix, 128);
    ASSERT_EQ(net("::/0", &n, &why), 0);
    ASSERT_EQ(n.prefix, 0);
    /* IPv4-mapped text with an IPv6 prefix: the same network as 10.0.0.0/8. */
    ASSERT_EQ(net("::ffff:10.0.0.0/104", &n, &why), 0);
    ASSERT_EQ(n.prefix, 104);
    ASSERT_EQ(n.addr[12], 10);
}

TEST(ipnet_parse_invalid)
{
    struct ipnet n;
    const char *why;
    ASSERT_EQ(net("10.0.0.0/33", &n, &why), -1);
    ASSERT_STREQ(why, "invalid prefix length (expected /0 to /32 after an IPv4 address)");
    ASSERT_EQ(net("fd00::/129", &n, &why), -1);
    ASSERT_STREQ(why, "invalid prefix length (expected /0 to /128 after an IPv6 address)");
    static const char *const bad_prefix[] = {"10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/+8",
                                             "10.0.0.0/8 ", "10.0.0.0/1000", "10.0.0.0/8/8", "::/0x10",
                                             "10.0.0.0/ 8"};
    for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
        why = NULL;
        if (net(bad_prefix[i], &n, &why) != -1 || why == NULL || strstr(why, "prefix length") == NULL) {
            fprintf(stderr, "  '%s': %s\n", bad_prefix[i], why ? why : "accepted");
            ASSERT(false);
        }
    }
    static const char *const bad_addr[] = {"", "/8", "10.0.0/8", "localhost", "10.0.0.0.0/8", "[::1]",
                                           "[::1]/128", "::1%lo", " 10.0.0.0/8", "1.2.3.4:80"};
    for (size_t i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
        why = NULL;
        if (net(bad_addr[i], &n, &why) != -1 || why == NULL || strstr(why, "not an IPv4 or IPv6") == NULL) {
            fprintf(stderr, "  '%s': %s\n", bad_addr[i], why ? why : "accepted");
            ASSERT(false);
        }
    }
    /* Host bits after the prefix: a typo we do not guess at. */
    ASSERT_EQ(net("10.0.0.1/8", &n, &why), -1);
    ASSERT_STREQ(why, "address has bits set after the prefix length (write the network's first address)");
    ASSERT_EQ(net("fd00::1/8", &n, &why), -1);
    ASSERT_EQ(net("192.0.2.128/24", &n, &why), -1);
    ASSERT_EQ(net("192.0.2.128/25", &n, &why), 0);
}

TEST(ipnet_match_ranges)
{
    struct nets ns;
    static const char *const list[] = {"10.0.0.0/8", "192.0.2.128/25", "fd00::/8", "2001:db8::5", NULL};
    ASSERT(nets_of(&ns, list));
    ASSERT(matches(&ns, "10.0.0.1"));
    ASSERT(matches(&ns, "10.255.255.255"));
    ASSERT(!matches(&ns, "11.0.0.0"));
    ASSERT(!matches(&ns, "9.255.255.255"));
    ASSERT(matches(&ns, "192.0.2.128"));
    ASSERT(matches(&ns, "192.0.2.255"));
    ASSERT(!matches(&ns, "192.0.2.127"));
    ASSERT(matches(&ns, "fd12:3456::1"));
    ASSERT(!matches(&ns, "fe00::1"));
    ASSERT(matches(&ns, "2001:db8::5"));
    ASSERT(!matches(&ns, "2001:db8::6"));
    /* IPv4-mapped IPv6 (how a dual-stack socket shows an IPv4 peer) matches the IPv4 range. */
    ASSERT(matches(&ns, "::ffff:10.0.0.1"));
    ASSERT(!matches(&ns, "::ffff:11.0.0.1"));
    /* ...but an IPv4-compatible or NAT64 address is another address. */
    ASSERT(!matches(&ns, "::10.0.0.1"));
    ASSERT(!matches(&ns, "64:ff9b::10.0.0.1"));

    /* /0 and /32, /128 edges. */
    static const char *const all4[] = {"0.0.0.0/0", NULL};
    ASSERT(nets_of(&ns, all4));
    ASSERT(matches(&ns, "203.0.113.9"));
    ASSERT(matches(&ns, "::ffff:203.0.113.9"));
    ASSERT(!matches(&ns, "2001:db8::1"));
    static const char *const all[] = {"::/0", NULL};
    ASSERT(nets_of(&ns, all));
    ASSERT(matches(&ns, "2001:db8::1"));
    ASSERT(matches(&ns, "203.0.113.9"));
    static const char *const one[] = {"203.0.113.9/32", "2001:db8::9/128", NULL};
    ASSERT(nets_of(&ns, one));
    ASSERT(matches(&ns, "203.0.113.9"));
    ASSERT(!matches(&ns, "203.0.113.8"));
    ASSERT(matches(&ns, "2001:db8:0:0::9"));
    ASSERT(!matches(&ns, "2001:db8::8"));
    /* An empty list matches nothing. */
    uint8_t a[16];
    ASSERT_EQ(addr("127.0.0.1", a), 0);
    ASSERT(!ipnet_match(NULL, 0, a));
}

TEST(ipnet_addr_format_canonical)
{
    uint8_t a[16];
    char out[IPNET_TEXT_MAX];
    ASSERT_EQ(addr("::ffff:198.51.100.7", a), 0);
    ipnet_addr_format(a, out, sizeof(out));
    ASSERT_STREQ(out, "198.51.100.7");
    ASSERT_EQ(addr("2001:DB8:0:0:0:0:0:1", a), 0);
    ipnet_addr_format(a, out, sizeof(out));
    ASSERT_STREQ(out, "2001:db8::1");
    /* The longest forms fit. */
    ASSERT_EQ(addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", a), 0);
    ipnet_addr_format(a, out, sizeof(out));
    ASSERT_STREQ(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
    ASSERT_EQ(addr("255.255.255.255", a), 0);
    ipnet_addr_format(a, out, sizeof(out));
    ASSERT_STREQ(out, "255.255.255.255");
}

/* The dotted quad matches inet_ntop's for every value of every byte, and for addresses of every length. */
TEST(ipnet_v4_format_matches_inet_ntop)
{
    char ours[16], libc[INET_ADDRSTRLEN];
    uint8_t a[4];
    for (int pos = 0; pos < 4; pos++) {
        for (int v = 0; v < 256; v++) {
            a[0] = 10, a[1] = 200, a[2] = 7, a[3] = 99;
            a[pos] = (uint8_t)v;
            size_t n = ipnet_v4_format(a, ours);
            ASSERT(inet_ntop(AF_INET, a, libc, sizeof(libc)) != NULL);
            ASSERT_STREQ(ours, libc);
            ASSERT_EQ(n, strlen(libc));
        }
    }
    static const uint8_t edges[][4] = {{0, 0, 0, 0}, {255, 255, 255, 255}, {1, 10, 100, 255}, {127, 0, 0, 1}};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        ASSERT(inet_ntop(AF_INET, edges[i], libc, sizeof(libc)) != NULL);
        ipnet_v4_format(edges[i], ours);
        ASSERT_STREQ(ours, libc);
    }
}

TESTS(T(ipnet_addr_parse_forms), T(ipnet_parse_valid), T(ipnet_parse_invalid), T(ipnet_match_ranges), T(ipnet_v4_format_matches_inet_ntop),
      T(ipnet_addr_format_canonical))
