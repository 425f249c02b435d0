/* message.c: checks of an HTTP/1.x request message that the server adapter applies before any endpoint
 * sees the request: unambiguous body framing (RFC 9112 §6.1, §6.3, and §5.2 on obsolete line folding) and
 * the request target's form (RFC 9112 §3.2). Pure functions over header views; the parsing itself is
 * libh2o's (picohttpparser). */
#include "http/http.h"

#include <string.h>

#include "core/banned.h"

/* RFC 9110 §5.6.3: optional whitespace. */
static struct str trim_ows(struct str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

const char *http1_framing_error(const struct http_kv *headers, size_t n, int minor_version)
{
    size_t n_cl = 0, n_te = 0;
    struct str te = STR_NULL;
    for (size_t i = 0; i < n; i++) {
        struct str name = headers[i].name;
        /* A line that starts with whitespace continues the previous field (obs-fold): the parser hands it
         * over without a name. RFC 9112 §5.2 lets a server reject it; accepting it would let a folded
         * "Content-Length" or "Transfer-Encoding" value mean one thing here and another to a proxy. */
        if (name.len == 0)
            return "obsolete line folding is not accepted (RFC 9112 section 5.2)";
        if (str_ieq_c(name, "content-length")) {
            n_cl++;
        } else if (str_ieq_c(name, "transfer-encoding")) {
            n_te++;
            te = headers[i].value;
        }
    }
    if (n_te > 0) {
        /* RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing. */
        if (minor_version == 0)
            return "Transfer-Encoding is not allowed in an HTTP/1.0 request (RFC 9112 section 6.1)";
        /* RFC 9112 §6.1: both headers is a smuggling attempt or a broken intermediary; either way the
         * server must not guess. */
        if (n_cl > 0)
            return "a request must not carry both Content-Length and Transfer-Encoding (RFC 9112 section 6.1)";
        /* Several Transfer-Encoding fields form one list (RFC 9110 §5.3); only "chunked" alone is served. */
        if (n_te > 1 || !str_ieq_c(trim_ows(te), "chunked"))
            return "the only transfer coding accepted is a single chunked (RFC 9112 section 6.1)";
    }
    /* RFC 9112 §6.3 point 5 allows identical repeats to be merged; different readings of repeated
     * lengths are how requests are smuggled, so any repeat is refused. */
    if (n_cl > 1)
        return "more than one Content-Length header (RFC 9112 section 6.3)";
    return NULL;
}

bool http_target_origin_form(struct str target, struct str *out)
{
    if (target.p == NULL || target.len == 0)
        return false;
    if (target.p[0] == '/') {
        *out = target;
        return true;
    }
    /* absolute-form (RFC 9112 §3.2.2): scheme "://" authority [path-abempty] [ "?" query ]. Only the
     * schemes this server speaks; the authority is not checked against the issuer (neither is Host). */
    size_t skip;
    if (target.len >= 7 && str_ieq_c((struct str){target.p, 7}, "http://"))
        skip = 7;
    else if (target.len >= 8 && str_ieq_c((struct str){target.p, 8}, "https://"))
        skip = 8;
    else
        return false;
    size_t i = skip;
    while (i < target.len && target.p[i] != '/' && target.p[i] != '?' && target.p[i] != '#')
        i++;
    /* An empty authority is not a URI with a host (RFC 3986 §3.2); userinfo has no place in HTTP(S) URIs
     * (RFC 9110 §4.2.4). */
    if (i == skip || memchr(target.p + skip, '@', i - skip) != NULL)
        return false;
    if (i == target.len || target.p[i] == '?') {
        /* RFC 9112 §3.2.1: an empty path is sent as "/"; keep the query after it. */
        if (i == target.len) {
            *out = STR_LIT("/");
            return true;
        }
        return false; /* "http://host?q" cannot become origin-form without copying: refused */
    }
    if (target.p[i] == '#')
        return false;
    *out = (struct str){target.p + i, target.len - i};
    return true;
}

/* RFC 9110 §5.6.2: tchar. Letters, digits and '-' (every name we send is made of them) first. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           (c != 0 && strchr("!#$%&'*+.^_`|~", c) != NULL);
}

#define OWNED(s) {s, sizeof(s) - 1}

/* Runs on every response: names are compared only where their lengths match. */
const char *http_res_problem(const struct http_res *res)
{
    static const struct str owned[] = {OWNED("connection"),        OWNED("keep-alive"), OWNED("proxy-connection"),
                                       OWNED("transfer-encoding"), OWNED("upgrade"),    OWNED("te"),
                                       OWNED("content-length")};
    for (size_t i = 0; i < res->n_headers; i++) {
        const struct http_header *h = &res->headers[i];
        struct str name = str_c(h->name);
        if (name.len == 0)
            return "empty header name";
        for (size_t k = 0; k < name.len; k++)
            if (!is_tchar((unsigned char)name.p[k]))
                return "header name is not a token";
        for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++)
            if (name.len == owned[k].len && str_ieq_c(name, owned[k].p))
                return "header is the server's own (connection-specific or Content-Length)";
        for (size_t k = 0; k < h->value.len; k++) {
            char c = h->value.p[k];
            if (c == '\r' || c == '\n' || c == '\0')
                return "header value contains CR, LF or NUL";
        }
    }
    return NULL;
}
