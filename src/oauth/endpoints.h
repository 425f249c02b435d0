/* endpoints.h: one handler per endpoint file, each oauth_<endpoint>_handle(req), plus the helpers
 * the back-channel endpoints share (method and content-type checks, form body parsing). */
#ifndef OSTIARY_OAUTH_ENDPOINTS_H
#define OSTIARY_OAUTH_ENDPOINTS_H

#include "http/http.h"
#include "oauth/error.h"

void oauth_discovery_handle(struct http_req *req);
void oauth_metadata_handle(struct http_req *req);
void oauth_jwks_handle(struct http_req *req);
void oauth_token_handle(struct http_req *req);
void oauth_introspect_handle(struct http_req *req);
void oauth_revoke_handle(struct http_req *req);
void oauth_healthz_handle(struct http_req *req);
void oauth_userinfo_handle(struct http_req *req);

/* The userinfo endpoint's path under the issuer (the README's Endpoints table); also an audience of access
 * tokens granted with openid (tokens.h). */
#define OAUTH_USERINFO_PATH "/me"
/* The token and introspection endpoints' paths under the issuer (DPoP proofs name their URLs, RFC 9449
 * §4.2 htu). */
#define OAUTH_TOKEN_PATH "/token"
#define OAUTH_INTROSPECTION_PATH "/token/introspection"
void oauth_login_handle(struct http_req *req);
/* A login post that will not be served now (too many waiting, or the server stops): the login page again,
 * 503 with Retry-After: retry_after_s, asking the person to try again. */
void oauth_login_busy(struct http_req *req, unsigned retry_after_s);
void oauth_resume_handle(struct http_req *req);
void oauth_select_account_handle(struct http_req *req);
void oauth_consent_handle(struct http_req *req);
void oauth_assets_handle(struct http_req *req);
void oauth_end_session_handle(struct http_req *req);
void oauth_par_handle(struct http_req *req);
void oauth_registration_handle(struct http_req *req);
void oauth_registration_client_handle(struct http_req *req);
/* The device authorization grant (RFC 8628, oauth/device.h): the device authorization endpoint and the
 * verification page. */
void oauth_device_auth_handle(struct http_req *req);
void oauth_device_page_handle(struct http_req *req);

/* Every handler here is called by the router (router.c) with a method its route serves: the methods,
 * 405s, CORS headers and preflights are the routes table's, not the handlers'. */

/* For POST back-channel endpoints: checks the form content type (RFC 6749 §3.2) and parses the body into
 * *form. Returns OAUTH_OK or the error to send. */
struct oauth_error backchannel_form(struct http_req *req, struct form *form);
/* The `token` parameter of introspection (RFC 7662 §2.1) and revocation (RFC 7009 §2.1): required, not
 * repeated; token_type_hint, when sent, not repeated (it is only a hint). */
struct oauth_error token_param_parse(const struct form *f, struct str *token);
struct scope_set;
struct arena;
struct app;
/* `scope` (RFC 6749 §3.3: not repeated, well formed; absent or empty gives the empty set) and `resource` or
 * its alias `audience` (RFC 8707 §2: one, an absolute URI without a fragment; audience= may also name an API
 * by its audience name, which becomes its identifier; both must then name the same API; STR_NULL when
 * absent), for the token and device authorization endpoints. */
struct oauth_error scope_resource_parse(struct arena *a, const struct app *app, const struct form *f,
                                        struct scope_set *scope, struct str *resource);

/* CORS for the endpoints browser-based public clients call directly (the routes marked cors: token,
 * revocation, userinfo; cors.c). None of them reads cookies, so any origin may call them ("*", never with
 * credentials). oauth_cors_preflight(): answers an OPTIONS preflight (204 with the allowed methods and the
 * Authorization, Content-Type and DPoP request headers, cached 600 s). oauth_cors_allow(): adds
 * Access-Control-Allow-Origin: * (and exposes WWW-Authenticate and DPoP-Nonce) to the response being built,
 * success or error. The router calls both. */
void oauth_cors_preflight(struct http_req *req, const char *methods);
void oauth_cors_allow(struct http_req *req);

#endif
