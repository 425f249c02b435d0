/* cookie.h: the Cookie request header (RFC 6265 §5.4 cookie-string) and Set-Cookie building. */
#ifndef OSTIARY_HTTP_COOKIE_H
#define OSTIARY_HTTP_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/str.h"

struct arena;
struct http_req;

/* Finds cookie `name` in a Cookie header value ("a=1; b=2"). Returns 0 and the value (quotes stripped,
 * not decoded, borrowed from `header`), 1 if absent, -1 if the header is malformed or the name appears
 * more than once (a cookie-tossing attempt: treat as absent). Pure. */
int cookie_get(struct str header, const char *name, struct str *value);

struct cookie_opts {
    const char *path;     /* e.g. the issuer path or "/" */
    int64_t max_age;      /* seconds; 0 = session cookie; <0 = delete (Max-Age=0) */
    bool secure;          /* Secure attribute (false only for plain-HTTP dev issuers) */
    bool http_only;
    const char *same_site; /* "Lax", "Strict" or "None" */
};
/* Adds a Set-Cookie response header. name and value must be cookie-safe tokens (we only set random
 * base64url values). */
void cookie_set(struct http_req *req, const char *name, const char *value, const struct cookie_opts *o);
/* Looks the request's Cookie headers up (all of them) for `name`; same return values as cookie_get. */
int http_req_cookie(const struct http_req *req, const char *name, struct str *value);

#endif
