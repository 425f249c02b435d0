/* auth_header.c: Authorization header parsing: Basic (RFC 7617, with the RFC 6749 §2.3.1 rule that
 * client id and secret are form-encoded before base64), Bearer (RFC 6750 §2.1) and DPoP (RFC 9449 §7.1,
 * the same token68 syntax). */
#include "http/http.h"

#include <string.h>

#include "core/arena.h"
#include "core/banned.h"

static bool is_b64token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
}

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool is_b64token(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_b64token_char(s[i]))
        i++;
    if (i == 0)
        return false;
    while (i < n && s[i] == '=')
        i++;
    return i == n;
}

int auth_header_parse(struct arena *a, const char *v, size_t n, struct auth_header *out)
{
    memset(out, 0, sizeof(*out));
    size_t sp = 0;
    while (sp < n && v[sp] != ' ')
        sp++;
    struct str scheme = {v, sp};
    size_t i = sp;
    while (i < n && v[i] == ' ')
        i++;
    const char *cred = v + i;
    size_t clen = n - i;
    while (clen > 0 && (cred[clen - 1] == ' ' || cred[clen - 1] == '\t'))
        clen--;

    if (str_ieq_c(scheme, "basic")) {
        out->scheme = AUTH_BASIC;
        unsigned char *raw;
        size_t rawlen;
        if (clen == 0 || b64_decode(a, cred, clen, &raw, &rawlen) != 0)
            return -1;
        const unsigned char *colon = memchr(raw, ':', rawlen);
        if (colon == NULL)
            return -1;
        size_t ulen = (size_t)(colon - raw);
        /* RFC 6749 §2.3.1: both parts are application/x-www-form-urlencoded before base64. */
        if (url_decode(a, (const char *)raw, ulen, true, &out->user) != FORM_OK)
            return -1;
        if (url_decode(a, (const char *)colon + 1, rawlen - ulen - 1, true, &out->pass) != FORM_OK)
            return -1;
        return 0;
    }
    bool dpop = str_ieq_c(scheme, "dpop");
    if (dpop || str_ieq_c(scheme, "bearer")) {
        out->scheme = dpop ? AUTH_DPOP : AUTH_BEARER;
        if (clen == 0)
            return -1;
        if (!is_b64token(cred, clen))
            return -1;
        out->token = (struct str){arena_strndup(a, cred, clen), clen};
        return 0;
    }
    out->scheme = n == 0 ? AUTH_NONE : AUTH_OTHER;
    return 0;
}
