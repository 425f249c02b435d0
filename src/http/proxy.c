/* proxy.c: the client address behind trusted reverse proxies (proxy.h): the right-to-left
 * X-Forwarded-For walk over the field lines combined as RFC 9110 §5.3 says, with the entry forms proxies
 * write (bracketed IPv6, an optional port). Addresses and networks are core/ipnet.c's. The RFC 7239
 * Forwarded header is left out: the proxies we document send X-Forwarded-For. */
#include "http/proxy.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "core/validate.h"
#include "http/http.h"
#include "core/banned.h"

/* One X-Forwarded-For entry, whitespace already trimmed (n > 0): an address, a bracketed IPv6 address, or
 * either followed by :port (some proxies add the client's port). */
static int entry_parse(const char *s, size_t n, uint8_t out[16])
{
    const char *host = s, *port = NULL;
    size_t hlen = n, plen = 0;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return -1;
        host = s + 1;
        hlen = (size_t)(close - host);
        size_t after = n - (size_t)(close - s) - 1;
        if (after > 0) {
            if (close[1] != ':')
                return -1;
            port = close + 2;
            plen = after - 1;
        }
        /* Brackets hold an IPv6 address only (RFC 3986 §3.2.2). */
        if (memchr(host, ':', hlen) == NULL)
            return -1;
    } else {
        const char *colon = memchr(s, ':', n);
        /* Exactly one colon: an IPv4 address and a port; IPv6 text has at least two colons, and a bare
         * IPv6 address cannot carry a port without brackets. */
        if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
            plen = n - hlen - 1;
        }
    }
    if (port != NULL && parse_port(port, plen) < 0)
        return -1;
    return ipnet_addr_parse(host, hlen, out);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

enum proxy_from proxy_client_addr(const struct ipnet *nets, size_t n_nets, const char *peer,
                                  const struct http_kv *headers, size_t n_headers, char out[PROXY_ADDR_TEXT])
{
    uint8_t a[16];
    snprintf(out, PROXY_ADDR_TEXT, "%s", peer != NULL ? peer : "");
    if (n_nets == 0 || peer == NULL || ipnet_addr_parse(peer, strlen(peer), a) != 0 ||
        !ipnet_match(nets, n_nets, a))
        return PROXY_FROM_PEER;

    /* The last field line holds the right end of the combined list: walk the lines backwards, and each
     * line from its end. */
    size_t hops = 0;
    for (size_t h = n_headers; h-- > 0;) {
        if (!str_eq_c(headers[h].name, "x-forwarded-for"))
            continue;
        const char *v = headers[h].value.p;
        size_t end = headers[h].value.len;
        for (;;) {
            size_t start = end;
            while (start > 0 && v[start - 1] != ',')
                start--;
            size_t b = start, e = end;
            while (b < e && is_ows(v[b]))
                b++;
            while (e > b && is_ows(v[e - 1]))
                e--;
            if (e > b) {
                /* A long chain of trusted hops is not a real deployment; bounding it bounds the work a
                 * request can ask for. */
                if (++hops > PROXY_MAX_HOPS || entry_parse(v + b, e - b, a) != 0)
                    return PROXY_MALFORMED;
                if (!ipnet_match(nets, n_nets, a)) {
                    ipnet_addr_format(a, out, PROXY_ADDR_TEXT);
                    return PROXY_FROM_HEADER;
                }
            }
            if (start == 0)
                break;
            end = start - 1;
        }
    }
    return hops == 0 ? PROXY_NO_HEADER : PROXY_ALL_TRUSTED;
}
