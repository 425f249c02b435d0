/* fuzz_redirect_uri.c: fuzz target for redirect_uri_matches (src/oauth/authorize.c), the check between an
 * authorization code and an open redirect; aborts when a match is anything but string equality or, for a
 * native client, RFC 8252 §7.3 port freedom on a loopback IP literal. Built with libFuzzer (scripts/fuzz.sh)
 * or with fuzz/standalone.c to replay fuzz/corpus/redirect_uri/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/authorize.h"
#include "core/banned.h"

/* A loopback IP redirect URI as read here: host (one of the two literals), port text (may be empty; NULL
 * when there is no ':'), and rest (everything from the end of the authority on). */
struct loopback_uri {
    const char *host;
    size_t host_len;
    const char *port;
    size_t port_len;
    const char *rest;
};

static bool parse_loopback(const char *uri, struct loopback_uri *out)
{
    static const char *const hosts[] = {"127.0.0.1", "[::1]"};
    if (strncmp(uri, "http://", 7) != 0)
        return false;
    const char *auth = uri + 7;
    size_t alen = strcspn(auth, "/?#\\");
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        size_t hl = strlen(hosts[i]);
        if (alen < hl || memcmp(auth, hosts[i], hl) != 0)
            continue;
        if (alen == hl) {
            *out = (struct loopback_uri){auth, hl, NULL, 0, auth + alen};
            return true;
        }
        if (auth[hl] != ':')
            continue;
        for (size_t k = hl + 1; k < alen; k++)
            if (auth[k] < '0' || auth[k] > '9')
                return false;
        *out = (struct loopback_uri){auth, hl, auth + hl + 1, alen - hl - 1, auth + alen};
        return true;
    }
    return false;
}

/* An ordinary port: absent, or 1 to 5 digits of a value from 1 to 65535. */
static bool ordinary_port(const struct loopback_uri *u)
{
    if (u->port == NULL)
        return true;
    if (u->port_len < 1 || u->port_len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < u->port_len; i++)
        v = v * 10 + (unsigned)(u->port[i] - '0');
    return v >= 1 && v <= 65535;
}

/* Invariants (a broken one aborts, so libFuzzer reports it as a crash):
 *   - every URI matches itself, for either application type;
 *   - for a web client, a match is string equality, nothing else (OIDC Core §3.1.2.1);
 *   - for a native client, a match between different strings is only ever port freedom: both URIs parse,
 *     by parse_loopback's own strict reading, as "http://" HOST [":" DIGITS] REST with HOST exactly
 *     127.0.0.1 or [::1] (so no userinfo, no other host, not "localhost", no other scheme), the same HOST
 *     on both sides and byte-identical REST (path, query, fragment). The authority ends at the first '/',
 *     '?', '#' or '\' (browsers read '\' as '/' in http URLs), so "http://[::1]@evil.com/cb" has the
 *     authority "[::1]@evil.com", which a browser sends to evil.com and which is not a loopback host here;
 *   - conversely, for a native client two such loopback URIs that differ only in an ordinary port do match
 *     (when the authority ends at '/', '?' or the end). */
static void check_pair(const char *registered, const char *given)
{
    bool web = redirect_uri_matches(APP_TYPE_WEB, registered, given);
    bool native = redirect_uri_matches(APP_TYPE_NATIVE, registered, given);
    for (int t = APP_TYPE_WEB; t <= APP_TYPE_NATIVE; t++)
        if (!redirect_uri_matches((enum application_type)t, registered, registered) ||
            !redirect_uri_matches((enum application_type)t, given, given))
            abort();
    bool same = strcmp(registered, given) == 0;
    if (web != same)
        abort();
    struct loopback_uri r, g;
    bool rl = parse_loopback(registered, &r), gl = parse_loopback(given, &g);
    if (native && !same) {
        /* Only port freedom may make different strings match: same scheme, host, path, query, fragment. */
        if (!rl || !gl)
            abort();
        if (r.host_len != g.host_len || memcmp(r.host, g.host, r.host_len) != 0)
            abort();
        if (strcmp(r.rest, g.rest) != 0)
            abort();
    }
    /* Port freedom holds for ordinary ports and an authority ended by '/', '?' or the end (not by '#' or
     * '\', which the matcher need not treat as separators). */
    if (rl && gl && r.host_len == g.host_len && memcmp(r.host, g.host, r.host_len) == 0 &&
        strcmp(r.rest, g.rest) == 0 && *r.rest != '\\' && *r.rest != '#' && ordinary_port(&r) &&
        ordinary_port(&g) && !native)
        abort();
}

/* The input is split at the first NUL or newline into (registered, given), checked both ways; without a
 * separator the whole input is the given URI. The given URI is also checked against a few fixed
 * registered URIs, so single-URI inputs reach the loopback code. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fixed[] = {
        "http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://[::1]:99/cb?x", "http://127.0.0.1",
        "http://localhost/cb", "http://localhost:3000/callback?a=1", "https://app.example.com/cb",
        "http://example.org/",
    };
    char *buf = malloc(size + 1);
    if (buf == NULL)
        abort();
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t cut = 0;
    while (cut < size && buf[cut] != '\0' && buf[cut] != '\n')
        cut++;
    const char *given;
    if (cut < size) {
        buf[cut] = '\0';
        given = buf + cut + 1;
        check_pair(buf, given);
        check_pair(given, buf);
    } else {
        given = buf;
    }
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        check_pair(fixed[i], given);
    free(buf);
    return 0;
}
