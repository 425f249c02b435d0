/* cookie.c: reading the Cookie request header (RFC 6265 §4.2.1 cookie-string, parsed leniently as in
 * §5.4 user agents send it) and building Set-Cookie (RFC 6265 §4.1; SameSite from RFC 6265bis §4.1.2.7).
 * No Domain attribute is ever set (host-only cookies), and no Expires: Max-Age is enough. */
#include "http/cookie.h"

#include <inttypes.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "http/http.h"
#include "core/banned.h"

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

static struct str trim(const char *p, size_t n)
{
    while (n > 0 && is_wsp(p[0])) {
        p++;
        n--;
    }
    while (n > 0 && is_wsp(p[n - 1]))
        n--;
    return (struct str){p, n};
}

/* Counts the occurrences of `name` in one header value, keeping the first value in *value. Returns -1
 * if the header holds a control character (no user agent sends one; RFC 6265bis §5.6 refuses to
 * store such cookies), else the count. */
static int count_in(struct str header, const char *name, size_t nlen, struct str *value)
{
    if (header.p == NULL)
        return 0;
    for (size_t i = 0; i < header.len; i++) {
        if (is_ctl((unsigned char)header.p[i]))
            return -1;
    }
    int found = 0;
    size_t pos = 0;
    while (pos <= header.len) {
        const char *semi = memchr(header.p + pos, ';', header.len - pos);
        size_t end = semi != NULL ? (size_t)(semi - header.p) : header.len;
        struct str pair = trim(header.p + pos, end - pos);
        pos = end + 1;
        /* Empty pairs ("a=1;;b=2", a trailing ';') and pairs without '=' (a cookie with an empty name,
         * which browsers send as its bare value) cannot be the one we look for: skip them. */
        const char *eq = pair.len > 0 ? memchr(pair.p, '=', pair.len) : NULL;
        if (eq == NULL)
            continue;
        struct str n = trim(pair.p, (size_t)(eq - pair.p));
        if (n.len != nlen || memcmp(n.p, name, nlen) != 0)
            continue;
        struct str v = trim(eq + 1, pair.len - (size_t)(eq + 1 - pair.p));
        /* cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ): the quotes are not part of the
         * value. A lone or unbalanced quote is kept as is. */
        if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"') {
            v.p++;
            v.len -= 2;
        }
        if (found == 0)
            *value = v;
        if (found < 2)
            found++;
    }
    return found;
}

int cookie_get(struct str header, const char *name, struct str *value)
{
    *value = STR_NULL;
    if (name == NULL || name[0] == '\0')
        return 1;
    struct str v = STR_NULL;
    int n = count_in(header, name, strlen(name), &v);
    /* Two cookies of the same name mean someone (a sibling subdomain, a script on plain HTTP) tossed a
     * cookie next to ours; we cannot tell which is ours, so neither is trusted. */
    if (n < 0 || n > 1)
        return -1;
    if (n == 0)
        return 1;
    *value = v;
    return 0;
}

int http_req_cookie(const struct http_req *req, const char *name, struct str *value)
{
    *value = STR_NULL;
    if (name == NULL || name[0] == '\0')
        return 1;
    size_t nlen = strlen(name);
    struct str v = STR_NULL;
    int total = 0;
    /* HTTP/2 and HTTP/3 may split the cookie-string into one header field per pair (RFC 9113 §8.2.3). */
    for (size_t i = 0; i < req->n_headers; i++) {
        if (!str_eq_c(req->headers[i].name, "cookie"))
            continue;
        struct str hv = STR_NULL;
        int n = count_in(req->headers[i].value, name, nlen, &hv);
        if (n < 0)
            return -1;
        if (n > 0 && total == 0)
            v = hv;
        total += n;
        if (total > 1)
            return -1;
    }
    if (total == 0)
        return 1;
    *value = v;
    return 0;
}

/* RFC 6265 §4.1.1: cookie-name is an RFC 2616 token. */
static bool is_token(const char *s)
{
    if (s == NULL || s[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p) != NULL)
            return false;
    }
    return true;
}

/* RFC 6265 §4.1.1 cookie-octet: no CTLs, whitespace, DQUOTE, comma, semicolon or backslash. */
static bool is_cookie_value(const char *s)
{
    if (s == NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == ',' || *p == ';' || *p == '\\')
            return false;
    }
    return true;
}

/* RFC 6265 §4.1.1 path-value: any CHAR except CTLs or ';'. */
static bool is_path_value(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == ';')
            return false;
    }
    return true;
}

void cookie_set(struct http_req *req, const char *name, const char *value, const struct cookie_opts *o)
{
    const char *path = o->path != NULL && o->path[0] != '\0' ? o->path : "/";
    /* Names and values come from our own code, but a bad one would let a header be split or an
     * attribute be injected: refuse to send it (a bug, logged) rather than send it mangled. */
    if (!is_token(name) || !is_cookie_value(value) || path[0] != '/' || !is_path_value(path)) {
        log_error("bug", LS("what", "cookie_set: unsafe cookie name, value or path"), LS("cookie", name),
                  NULL);
        return;
    }
    const char *same_site = "Lax";
    if (o->same_site != NULL && (strcmp(o->same_site, "Strict") == 0 || strcmp(o->same_site, "None") == 0))
        same_site = o->same_site;

    struct strbuf sb;
    strbuf_init(&sb, req->arena, 8192);
    strbuf_adds(&sb, name);
    strbuf_addc(&sb, '=');
    strbuf_adds(&sb, value);
    strbuf_adds(&sb, "; Path=");
    strbuf_adds(&sb, path);
    /* Max-Age=0 makes the user agent expire the cookie at once (RFC 6265 §5.2.2); 0 in the options means
     * a session cookie, which has no Max-Age at all. */
    if (o->max_age < 0)
        strbuf_adds(&sb, "; Max-Age=0");
    else if (o->max_age > 0)
        strbuf_addf(&sb, "; Max-Age=%" PRId64, o->max_age);
    if (o->http_only)
        strbuf_adds(&sb, "; HttpOnly");
    if (o->secure)
        strbuf_adds(&sb, "; Secure");
    strbuf_adds(&sb, "; SameSite=");
    strbuf_adds(&sb, same_site);
    /* NULL (too large for the buffer): the response becomes a 500 rather than lose the cookie. */
    http_res_header(req, "Set-Cookie", strbuf_str(&sb));
}
