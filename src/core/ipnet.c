/* ipnet.c: IP addresses and CIDR networks (ipnet.h): parsing (RFC 4291 §2.2-2.3, IPv4-mapped addresses
 * §2.5.5.2), matching and canonical text (RFC 5952, through inet_ntop). No zone identifiers (RFC 6874)
 * and no legacy IPv4 forms. */
#include "core/ipnet.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/banned.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int ipnet_addr_parse(const char *s, size_t n, uint8_t out[16])
{
    /* inet_pton wants a C string. The longest address text is 45 bytes; anything longer is not an
     * address, and an embedded NUL would otherwise cut the input short. */
    char buf[IPNET_TEXT_MAX + 2];
    uint8_t a[16];
    if (s == NULL || n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (memchr(buf, ':', n) == NULL) {
        /* glibc's inet_pton takes only the four-part dotted decimal form, without leading zeros, so
         * "010.1.1.1" (octal to inet_aton) and "10.1" are refused rather than read some other way. */
        memcpy(a, v4_mapped, sizeof(v4_mapped));
        if (inet_pton(AF_INET, buf, a + 12) != 1)
            return -1;
    } else if (inet_pton(AF_INET6, buf, a) != 1) {
        return -1;
    }
    memcpy(out, a, sizeof(a));
    return 0;
}

/* True when every bit of a from bit `prefix` on is zero. */
static bool host_bits_zero(const uint8_t a[16], unsigned prefix)
{
    for (unsigned bit = prefix; bit < 128; bit++) {
        if (a[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    }
    return true;
}

int ipnet_parse(const char *s, size_t n, struct ipnet *out, const char **why)
{
    const char *slash = s != NULL ? memchr(s, '/', n) : NULL;
    size_t alen = slash != NULL ? (size_t)(slash - s) : n;
    if (ipnet_addr_parse(s, alen, out->addr) != 0) {
        *why = "not an IPv4 or IPv6 address (CIDR ranges are written address/prefix, e.g. 10.0.0.0/8)";
        return -1;
    }
    bool v4 = memchr(s, ':', alen) == NULL;
    unsigned max = v4 ? 32 : 128, prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        bool ok = plen >= 1 && plen <= 3 && !(plen > 1 && p[0] == '0');
        prefix = 0;
        for (size_t i = 0; ok && i < plen; i++) {
            ok = p[i] >= '0' && p[i] <= '9';
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (!ok || prefix > max) {
            *why = v4 ? "invalid prefix length (expected /0 to /32 after an IPv4 address)"
                      : "invalid prefix length (expected /0 to /128 after an IPv6 address)";
            return -1;
        }
    }
    out->prefix = (uint8_t)(v4 ? 96 + prefix : prefix);
    if (!host_bits_zero(out->addr, out->prefix)) {
        /* 10.0.0.1/8: a typo for 10.0.0.0/8 or for 10.0.0.1? Either way, not ours to guess. */
        *why = "address has bits set after the prefix length (write the network's first address)";
        return -1;
    }
    return 0;
}

static bool in_net(const struct ipnet *net, const uint8_t a[16])
{
    unsigned full = net->prefix / 8u, rest = net->prefix % 8u;
    if (memcmp(net->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return (a[full] & mask) == net->addr[full];
}

bool ipnet_match(const struct ipnet *nets, size_t n, const uint8_t addr[16])
{
    for (size_t i = 0; i < n; i++) {
        if (in_net(&nets[i], addr))
            return true;
    }
    return false;
}

size_t ipnet_v4_format(const uint8_t a[4], char out[16])
{
    char *p = out;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        if (i < 3)
            *p++ = '.';
    }
    *p = '\0';
    return (size_t)(p - out);
}

void ipnet_addr_format(const uint8_t addr[16], char *out, size_t size)
{
    char v4[16];
    if (memcmp(addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        ipnet_v4_format(addr + 12, v4);
        snprintf(out, size, "%s", v4);
    } else if (inet_ntop(AF_INET6, addr, out, (socklen_t)size) == NULL && size > 0)
        out[0] = '\0';
}

/* The ranges that are not the public Internet's. IPv4 ones are written as IPv4-mapped networks (::ffff:
 * prefix, 96 + n bits). */
static const struct {
    uint8_t addr[16];
    uint8_t prefix;
    const char *what;
} special[] = {
#define V4(a, b, n) {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, 0, 0}, 96 + (n)
    {V4(0, 0, 8), "unspecified (0.0.0.0/8)"},
    {V4(10, 0, 8), "private (10.0.0.0/8)"},
    {V4(100, 64, 10), "shared CGNAT (100.64.0.0/10)"},
    {V4(127, 0, 8), "loopback (127.0.0.0/8)"},
    {V4(169, 254, 16), "link-local (169.254.0.0/16)"},
    {V4(172, 16, 12), "private (172.16.0.0/12)"},
    {V4(192, 0, 24), "IETF protocol assignments (192.0.0.0/24)"},
    {V4(192, 168, 16), "private (192.168.0.0/16)"},
    {V4(198, 18, 15), "benchmarking (198.18.0.0/15)"},
    {V4(224, 0, 4), "multicast (224.0.0.0/4)"},
    {V4(240, 0, 4), "reserved or broadcast (240.0.0.0/4)"},
#undef V4
    {{0}, 128, "unspecified (::)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback (::1)"},
    {{0xfc}, 7, "unique local (fc00::/7)"},
    {{0xfe, 0x80}, 10, "link-local (fe80::/10)"},
    {{0xfe, 0xc0}, 10, "site-local (fec0::/10)"},
    {{0xff}, 8, "multicast (ff00::/8)"},
};

const char *ipnet_special(const uint8_t addr[16])
{
    /* IPv4 inside IPv6 other than the mapped form, which the table covers: IPv4-compatible ::a.b.c.d
     * (RFC 4291 §2.5.5.1, deprecated) and the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) reach the
     * IPv4 address they carry, so they are judged by it. */
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const uint8_t compat[12] = {0};
    uint8_t v4[16];
    if ((memcmp(addr, nat64, 12) == 0 || memcmp(addr, compat, 12) == 0) &&
        !(memcmp(addr, compat, 12) == 0 && addr[12] == 0 && addr[13] == 0 && addr[14] == 0 && addr[15] <= 1)) {
        memcpy(v4, v4_mapped, sizeof(v4_mapped));
        memcpy(v4 + 12, addr + 12, 4);
        addr = v4;
    }
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        struct ipnet n;
        memcpy(n.addr, special[i].addr, 16);
        n.prefix = special[i].prefix;
        if (in_net(&n, addr))
            return special[i].what;
    }
    return NULL;
}
