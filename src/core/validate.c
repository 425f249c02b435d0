/* validate.c: syntax checks shared by the configuration, the metadata checks and the CLI (see validate.h;
 * RFC 6749 §3.3, RFC 3986 §3.1-3.2, RFC 8252 §7.3, OIDC Core §5.1). */
#include "core/validate.h"

#include <string.h>
#include <strings.h>

#include "core/str.h"
#include "core/banned.h"

bool valid_visible_ascii(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    }
    return true;
}

bool valid_scope_token(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

bool valid_scope_list(const char *s)
{
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, " ");
        if (!valid_scope_token(p, n))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

size_t uri_scheme_len(const char *s)
{
    size_t i = 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (i = 1; s[i] != '\0' && s[i] != ':'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '-' || c == '.'))
            return 0;
    }
    return s[i] == ':' ? i : 0;
}

/* 127.0.0.0/8 as a canonical dotted quad. */
static bool is_ipv4_loopback(const char *h, size_t n)
{
    unsigned parts = 0, val = 0, digits = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (digits == 0 || val > 255 || (parts == 0 && val != 127))
                return false;
            parts++;
            val = 0;
            digits = 0;
        } else if (h[i] >= '0' && h[i] <= '9' && digits < 3) {
            val = val * 10 + (unsigned)(h[i] - '0');
            digits++;
        } else {
            return false;
        }
    }
    return parts == 4;
}

bool host_is_loopback(const char *h, size_t n)
{
    return (n == 9 && strncasecmp(h, "localhost", 9) == 0) || (n == 5 && memcmp(h, "[::1]", 5) == 0) ||
           is_ipv4_loopback(h, n);
}

bool valid_claim_text(const char *s, bool multiline)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && !(multiline && (ch == '\n' || ch == '\r'))) || ch == 0x7f)
            return false;
    }
    return true;
}

bool valid_birthdate(const char *s)
{
    size_t n = strlen(s);
    if (n != 4 && n != 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return false;
    }
    if (n == 4)
        return true;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    int day = (s[8] - '0') * 10 + (s[9] - '0');
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool valid_email(const char *s)
{
    const char *at = strrchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return false;
    }
    return true;
}

const char url_userinfo_reason[] = "must not contain userinfo ('user@' or 'user:password@')";

int parse_port(const char *p, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535 ? (int)v : -1;
}

const char *http_url_check(const char *s, struct url_parts *u)
{
    const char *auth;
    if (strncmp(s, "https://", 8) == 0) {
        u->https = true;
        auth = s + 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        u->https = false;
        auth = s + 7;
    } else {
        return "must be an absolute http or https URL";
    }
    if (!valid_visible_ascii(s))
        return "must not contain spaces, control or non-ASCII characters";
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen) != NULL)
        return url_userinfo_reason;
    const char *port = NULL;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL || close == auth + 1)
            return "has an invalid IPv6 host";
        u->host_len = (size_t)(close - auth) + 1;
        if (u->host_len < alen) {
            if (auth[u->host_len] != ':')
                return "has an invalid host";
            port = auth + u->host_len + 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        u->host_len = colon != NULL ? (size_t)(colon - auth) : alen;
        if (colon != NULL)
            port = colon + 1;
    }
    if (u->host_len == 0)
        return "has no host";
    for (size_t i = 0; i < u->host_len; i++) {
        char c = auth[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                  c == '-';
        if (auth[0] == '[')
            ok = ok || c == ':' || c == '[' || c == ']';
        if (!ok)
            return "has an invalid host";
    }
    if (port != NULL && parse_port(port, (size_t)(auth + alen - port)) < 1)
        return "has an invalid port";
    u->host = auth;
    u->path = auth + alen;
    return NULL;
}

int parse_u32(const char *s, uint32_t *out)
{
    int64_t v;
    if (s == NULL || str_to_i64(str_c(s), &v) != 0 || v < 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1"};
    static const char *const no[] = {"false", "no", "0"};
    for (size_t i = 0; s != NULL && i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}
