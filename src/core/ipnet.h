/* ipnet.h: IP addresses and CIDR networks: parsing (RFC 4291 §2.2-2.3 text forms, dotted-quad IPv4),
 * matching and canonical text (RFC 5952). Used by the configuration (trusted_proxies) and by the HTTP
 * layer's client-address logic (http/proxy.h). Pure functions: no allocation, no I/O.
 *
 * An address is 16 bytes in network order; an IPv4 address is stored IPv4-mapped (::ffff:a.b.c.d,
 * RFC 4291 §2.5.5.2) and an IPv4 network a.b.c.d/n as ::ffff:a.b.c.d/(96 + n). So ::ffff:10.0.0.1, which is
 * how a dual-stack socket reports an IPv4 peer, matches 10.0.0.0/8: one address, one answer, whichever way
 * it was written. Other IPv4-in-IPv6 forms (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96) are IPv6
 * addresses of their own. */
#ifndef OSTIARY_IPNET_H
#define OSTIARY_IPNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPNET_TEXT_MAX 46 /* the longest address text, NUL included (INET6_ADDRSTRLEN) */

/* A network. */
struct ipnet {
    uint8_t addr[16];     /* network order; IPv4 as ::ffff:a.b.c.d; the bits after prefix are zero */
    uint8_t prefix;       /* 0..128 leading bits that must match; an IPv4 /n is 96 + n */
};

/* Parses exactly one IP address: dotted-quad IPv4 (four decimal parts, no leading zeros, no short or
 * octal forms) or IPv6 text, without brackets, port or zone. Returns 0 with the address in out, or -1
 * (out untouched). */
int ipnet_addr_parse(const char *s, size_t n, uint8_t out[16]);

/* Parses "address" or "address/prefix" (a bare address is a /32 or /128). The prefix is decimal without
 * leading zeros, at most 32 after an IPv4 address and 128 after an IPv6 one; the address must be the
 * network's first (no bits set after the prefix), so that a typo such as 10.0.0.1/8 is caught rather than
 * silently widened. Returns 0, or -1 with *why set to a fixed sentence (static storage) saying what is
 * wrong; out is then unspecified. */
int ipnet_parse(const char *s, size_t n, struct ipnet *out, const char **why);

/* True when addr lies in one of the n networks (none when n is 0). */
bool ipnet_match(const struct ipnet *nets, size_t n, const uint8_t addr[16]);

/* What addr is when it is not a public Internet address, as a fixed phrase (static storage: "loopback
 * (127.0.0.0/8)", "private (10.0.0.0/8)", ...), or NULL for a public one. Not public: unspecified,
 * loopback, private (RFC 1918), shared CGNAT (RFC 6598), link-local, IETF protocol assignments,
 * benchmarking, multicast, reserved and broadcast IPv4; unspecified, loopback, unique local (fc00::/7),
 * link-local, site-local and multicast IPv6; and IPv4-mapped, IPv4-compatible or NAT64 (64:ff9b::/96)
 * forms of those IPv4 addresses. */
const char *ipnet_special(const uint8_t addr[16]);

/* Writes the canonical text of addr into out (size >= IPNET_TEXT_MAX, NUL-terminated): an IPv4-mapped
 * address as a dotted quad, any other as RFC 5952 IPv6 text. */
void ipnet_addr_format(const uint8_t addr[16], char *out, size_t size);

/* Writes the dotted quad of the IPv4 address a (network order) into out, NUL-terminated; returns its length
 * (7 to 15). Without printf: the server formats every request's peer with it. */
size_t ipnet_v4_format(const uint8_t a[4], char out[16]);

#endif
