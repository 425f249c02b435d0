/* frontchannel.h: what the browser-facing endpoints share: rendering a page template with the security
 * headers every page carries, the HTML error page (for requests that cannot be redirected), and
 * delivering an authorization response (success or error) to a verified redirect URI in the requested
 * response mode (RFC 6749 §4.1.2, OAuth 2.0 Multiple Response Types §2, Form Post Response Mode, RFC 9207
 * `iss`). */
#ifndef OSTIARY_OAUTH_FRONTCHANNEL_H
#define OSTIARY_OAUTH_FRONTCHANNEL_H

#include <stdbool.h>

#include <jansson.h>

#include "oauth/authz.h"
#include "oauth/error.h"

struct http_req;

/* Renders page `name` with `data` (borrowed; common variables are added) and the page security headers
 * (CSP, frame-ancestors 'none', X-Frame-Options DENY, Referrer-Policy no-referrer, nosniff, no-store). */
void page_send(struct http_req *req, int status, const char *name, json_t *data);
/* The HTML error page: never redirects. */
void page_error(struct http_req *req, struct oauth_error e);
/* 303 See Other to `location` (used after form posts and to move between pages). */
void redirect_see_other(struct http_req *req, const char *location);

/* Parameters of an authorization response, in order. */
struct authz_param {
    const char *name, *value;
};
/* True when an authorization response to redirect_uri carrying state fits its buffer in every response mode
 * (the Location of a query or fragment redirect, the form_post page). Checked before anything is done for
 * the request, so that none is acted on whose response could not be sent. */
bool authz_response_fits(const struct http_req *req, const char *redirect_uri, const char *state);
/* Sends the response to redirect_uri per mode, with `iss` appended (RFC 9207) and `state` if given. A
 * response that does not fit (see authz_response_fits) becomes a 500, never a truncated URL or page. */
void authz_respond(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                   const struct authz_param *params, size_t n, const char *state);
/* authz_respond() in two steps, for a response whose size is only known once its tokens are minted: build
 * it (the Location, or the form_post page; arena memory) and know whether it fits before anything is
 * stored, then send it. */
struct authz_response {
    enum response_mode mode;
    const char *text;         /* the Location or the page; NULL when it did not fit */
    size_t len;
    const char *script_nonce; /* form_post: the CSP nonce of its script */
};
/* False when the response does not fit its buffer (out->text NULL; sending it gives a 500). */
bool authz_response_build(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                          const struct authz_param *params, size_t n, const char *state, struct authz_response *out);
void authz_response_send(struct http_req *req, const struct authz_response *r);
/* An error response to a verified redirect URI (RFC 6749 §4.1.2.1). */
void authz_respond_error(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                         struct oauth_error e, const char *state);

/* URL of a path under the issuer (arena memory). */
const char *issuer_url(struct http_req *req, const char *path);

#endif
