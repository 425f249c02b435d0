/* proxy.h: the client address behind trusted reverse proxies: the X-Forwarded-For walk (the de facto
 * header that nginx, HAProxy and Envoy append to) over the request headers, given the TCP peer and the
 * trusted_proxies networks (core/ipnet.h). The RFC 7239 Forwarded header is not read. Pure: no
 * allocation, no I/O. */
#ifndef OSTIARY_HTTP_PROXY_H
#define OSTIARY_HTTP_PROXY_H

#include <stddef.h>

#include "core/ipnet.h"

struct http_kv;

#define PROXY_MAX_HOPS 32   /* X-Forwarded-For entries walked before the header counts as malformed */
#define PROXY_ADDR_TEXT 64  /* the out buffer of proxy_client_addr, NUL included: the size of http_req.peer */

/* Where proxy_client_addr() took the client address from. Only PROXY_FROM_HEADER changes it. */
enum proxy_from {
    PROXY_FROM_PEER = 0,     /* no trusted proxies, or the peer is not one of them: the peer is the client */
    PROXY_FROM_HEADER = 1,   /* the first X-Forwarded-For entry from the right that is not a trusted proxy */
    PROXY_NO_HEADER = 2,     /* trusted peer, but no X-Forwarded-For (or only empty entries): the peer */
    PROXY_ALL_TRUSTED = 3,   /* every entry is a trusted proxy: the peer */
    PROXY_MALFORMED = 4,     /* the walk reached an entry that is not an address, or more than
                              * PROXY_MAX_HOPS entries: the peer */
};

/* The client address of a request whose TCP peer is `peer` (text, as inet_ntop wrote it) and whose
 * request headers are headers[0..n_headers) (names lower-case, as struct http_kv promises).
 *
 * When the peer lies in nets, the X-Forwarded-For field lines are read as one list, in order (RFC 9110
 * §5.3), and walked from the right: each proxy appends the address it received the request from, so the
 * right end is written by our own proxies and the left end by whoever sent the request, who may lie. The
 * walk skips entries that are trusted proxies themselves and stops at the first that is not: that is the
 * client. Entries may carry optional whitespace; empty entries are skipped (RFC 9110 §5.6.1); an IPv6
 * entry may be bracketed; a port (1.2.3.4:5678, [::1]:80) is dropped. Entries left of the client are never
 * looked at, so spoofed ones there change nothing.
 *
 * out (PROXY_ADDR_TEXT bytes, must not overlap peer) gets the canonical text (ipnet_addr_format) of the
 * header entry for PROXY_FROM_HEADER, else a copy of peer. Never fails: a bad header only means the peer
 * is kept. */
enum proxy_from proxy_client_addr(const struct ipnet *nets, size_t n_nets, const char *peer,
                                  const struct http_kv *headers, size_t n_headers, char out[PROXY_ADDR_TEXT]);

#endif
