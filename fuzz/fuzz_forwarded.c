/* fuzz_forwarded.c: fuzz target for the trusted-proxy code: address and CIDR parsing (src/core/ipnet.c:
 * ipnet_addr_parse, ipnet_parse) and the X-Forwarded-For walk (src/http/proxy.c: proxy_client_addr).
 * Input: the first line is the TCP peer's text, each further line ('\n'-separated) one request header,
 * every third one named otherwise so that the walk must skip it; the walk runs against each of a few
 * trusted lists. Beyond memory safety it checks the promises of ipnet.h and proxy.h: out is always
 * NUL-terminated; it is the peer unless the answer is PROXY_FROM_HEADER, which needs a trusted peer and
 * yields an untrusted, canonical address; a parsed address formats and parses back to itself; a parsed
 * network has no bits after its prefix and contains its own address. A broken promise aborts. Built with
 * libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/forwarded/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipnet.h"
#include "core/str.h"
#include "http/http.h"
#include "http/proxy.h"
#include "core/banned.h"

#define MAX_LINES 32

static const char *const LISTS[][4] = {
    {"127.0.0.1", "::1", NULL},
    {"10.0.0.0/8", "fd00::/8", "192.0.2.10", NULL},
    {"0.0.0.0/0", NULL},
    {"::/0", NULL},
};
#define N_LISTS (sizeof(LISTS) / sizeof(LISTS[0]))

static void check_addr_roundtrip(const char *s, size_t n)
{
    uint8_t a[16], b[16];
    char text[IPNET_TEXT_MAX];
    if (ipnet_addr_parse(s, n, a) != 0)
        return;
    ipnet_addr_format(a, text, sizeof(text));
    if (memchr(text, '\0', sizeof(text)) == NULL || ipnet_addr_parse(text, strlen(text), b) != 0 ||
        memcmp(a, b, 16) != 0)
        abort();
}

static void check_net(const char *s, size_t n)
{
    struct ipnet net;
    const char *why = NULL;
    int rc = ipnet_parse(s, n, &net, &why);
    if (rc != 0) {
        if (rc != -1 || why == NULL)
            abort();
        return;
    }
    if (net.prefix > 128 || !ipnet_match(&net, 1, net.addr))
        abort();
    for (unsigned bit = net.prefix; bit < 128; bit++) {
        if (net.addr[bit / 8] & (0x80u >> (bit % 8)))
            abort();
    }
}

static void check_walk(const struct ipnet *nets, size_t n_nets, const char *peer,
                       const struct http_kv *headers, size_t n_headers)
{
    char out[PROXY_ADDR_TEXT];
    memset(out, 'x', sizeof(out));
    enum proxy_from r = proxy_client_addr(nets, n_nets, peer, headers, n_headers, out);
    if (memchr(out, '\0', sizeof(out)) == NULL)
        abort();
    uint8_t pa[16], ca[16];
    bool peer_trusted = ipnet_addr_parse(peer, strlen(peer), pa) == 0 && ipnet_match(nets, n_nets, pa);
    switch (r) {
    case PROXY_FROM_HEADER: {
        char again[PROXY_ADDR_TEXT];
        if (!peer_trusted || ipnet_addr_parse(out, strlen(out), ca) != 0 || ipnet_match(nets, n_nets, ca))
            abort();
        ipnet_addr_format(ca, again, sizeof(again));
        if (strcmp(again, out) != 0)
            abort();
        break;
    }
    case PROXY_FROM_PEER:
    case PROXY_NO_HEADER:
    case PROXY_ALL_TRUSTED:
    case PROXY_MALFORMED:
        if (strcmp(out, peer) != 0 || (r == PROXY_FROM_PEER) == peer_trusted)
            abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ipnet nets[N_LISTS][4];
    static size_t n_nets[N_LISTS];
    static bool ready;
    if (!ready) {
        for (size_t l = 0; l < N_LISTS; l++) {
            for (size_t i = 0; LISTS[l][i] != NULL; i++) {
                const char *why;
                if (ipnet_parse(LISTS[l][i], strlen(LISTS[l][i]), &nets[l][i], &why) != 0)
                    abort();
                n_nets[l]++;
            }
        }
        ready = true;
    }
    const char *s = (const char *)data;
    check_net(s, size);
    check_addr_roundtrip(s, size);

    /* Lines: the peer, then headers. */
    struct str lines[MAX_LINES];
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_LINES; i++) {
        if (i == size || data[i] == '\n') {
            lines[n++] = (struct str){s + start, i - start};
            start = i + 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        check_net(lines[i].p, lines[i].len);
        check_addr_roundtrip(lines[i].p, lines[i].len);
    }
    char peer[PROXY_ADDR_TEXT];
    size_t plen = lines[0].len < sizeof(peer) - 1 ? lines[0].len : sizeof(peer) - 1;
    memcpy(peer, lines[0].p, plen);
    peer[plen] = '\0';

    struct http_kv headers[MAX_LINES];
    for (size_t i = 1; i < n; i++) {
        headers[i - 1].name = i % 3 == 0 ? STR_LIT("x-real-ip") : STR_LIT("x-forwarded-for");
        headers[i - 1].value = lines[i];
    }
    for (size_t l = 0; l < N_LISTS; l++)
        check_walk(nets[l], n_nets[l], peer, headers, n - 1);
    /* Without trusted proxies the header is never read. */
    char out[PROXY_ADDR_TEXT];
    if (proxy_client_addr(NULL, 0, peer, headers, n - 1, out) != PROXY_FROM_PEER || strcmp(out, peer) != 0)
        abort();
    return 0;
}
