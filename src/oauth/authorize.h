/* authorize.h: the authorization endpoint and what the interaction pages need from it to resume a parked
 * request. */
#ifndef OSTIARY_OAUTH_AUTHORIZE_H
#define OSTIARY_OAUTH_AUTHORIZE_H

#include <stdbool.h>

#include <jansson.h>

#include "oauth/authz.h"
#include "oauth/client.h"
#include "oauth/error.h"

struct arena;
struct form;
struct http_req;
struct client;
struct app;
struct resource;
struct scope_set;
struct interaction;

void oauth_authorize_handle(struct http_req *req);
/* An authorization request that will not be served now (the pool is full): the error page, 503
 * temporarily_unavailable with Retry-After. */
void oauth_authorize_busy(struct http_req *req, unsigned retry_after_s);

/* The request_uri of a pushed authorization request (RFC 9126 §2.2) is this prefix and 256 random bits
 * (base64url); the store keys the pushed parameters by the SHA-256 of the whole URN. */
#define PAR_URN_PREFIX "urn:ietf:params:oauth:request_uri:"
/* The parameters a pushed request keeps (PAR's store row, kind STORE_TOKEN_PAR: data is a JSON object of
 * them, client_id the pushing client): every parameter of f but the client's credentials (client_secret,
 * client_assertion, client_assertion_type), with client_id. A JSON object, new reference. */
json_t *authz_pushed_params(const struct form *f, const char *client_id);
/* What a pushed request object keeps (RFC 9126 §3): {"request_object": true, "params": the parameters
 * request_object_params() gave, as authz_pushed_params() keeps them}, so that /auth validates them as a
 * request object's (authz_validate_object: require_signed_request_object holds) without verifying the
 * object, whose jti was spent at the push, again. A plain push never has these types (its values are
 * strings). New reference. */
json_t *authz_pushed_object(const struct form *params, const char *client_id);

/* The outcome of validating an authorization request. */
struct authz_validation {
    struct oauth_error error;  /* OAUTH_OK: the request is valid */
    /* The client and the redirect URI are verified: an error goes to ar.redirect_uri, in ar.response_mode,
     * with ar.state (RFC 6749 §4.1.2.1). False: it must not be redirected (the HTML error page). */
    bool redirectable;
    struct client client;      /* the client, once client_id named a registered one */
    struct authz_request ar;   /* the validated request (complete when error is OAUTH_OK) */
};
/* Validates the parameters of an authorization request (RFC 6749 §3.1, §4.1.1; OIDC Core §3.1.2.1-2;
 * RFC 7636 §4.3; RFC 8707; RFC 8252 §7.3): client and redirect_uri first (errors not redirectable), then
 * response_mode, the repeated and unsupported parameters, response_type, scope, PKCE, prompt, max_age,
 * id_token_hint and the resource. A `request` parameter (RFC 9101, OIDC Core §6.1) is verified first
 * (request_object.h: its errors are not redirectable) and its parameters validated instead, the object's
 * winning over the query's. Renders nothing and writes nothing (req is const) but a request object's jti,
 * spent once: it reads the client
 * through the worker's cache (a store read when not cached), the configuration, and the worker's keys for
 * an id_token_hint; memory comes from req->arena. The callers render: the authorization endpoint and the interaction pages (a parked
 * request is validated again when it resumes, against the client as it is then) with authz_send_error(),
 * a pushed authorization request endpoint (RFC 9126) as JSON. */
void authz_validate(const struct http_req *req, const struct form *f, struct authz_validation *out);
/* The same for the parameters a verified request object gave (request_object_params, RFC 9101): what a
 * pushed authorization request endpoint (RFC 9126) calls for a `request` in its body, after verifying it
 * with its authenticated client, so that require_signed_request_object holds for pushed requests too. */
void authz_validate_object(const struct http_req *req, const struct form *params, struct authz_validation *out);
/* Renders a failed validation for the front channel: a redirect to the verified redirect URI, or the
 * error page. */
void authz_send_error(struct http_req *req, const struct authz_validation *v);
/* Validates a parked request again (the interaction pages, before they act on it), with the parameters
 * of the validated request `parked` and against the client as it is now, by authz_validate()'s rules;
 * besides, its responses must still go to the same redirect URI. Same contract as authz_validate(). */
void authz_validate_parked(const struct http_req *req, const struct authz_request *parked,
                           struct authz_validation *out);

/* Continues a validated request: login page, account selection, consent page, or the code. `ia` is the
 * parked interaction when resuming from a page (NULL from the endpoint); `satisfied` has the prompt_flags
 * the person has just answered (PROMPT_CONSENT after the consent page, PROMPT_SELECT_ACCOUNT after the
 * account page). */
void authz_resume(struct http_req *req, const struct client *c, const struct authz_request *ar,
                  const struct interaction *ia, unsigned satisfied);

/* The standard claims the request's claims parameter names (OIDC Core §5.5) that its scopes do not release
 * (§5.4): what the consent page must name one by one. A new JSON array of names (empty when none). */
json_t *authz_claims_beyond_scope(struct arena *a, const struct authz_request *ar);

json_t *authz_request_to_json(const struct authz_request *ar);
int authz_request_from_json(struct arena *a, json_t *o, struct authz_request *ar);
/* 0, ERR_NOTFOUND, or <0 on store/metadata failure (logged; oauth_store_error(rc) is the answer). */
int authz_load_client(const struct http_req *req, const char *client_id, struct client *out);

/* Whether the redirect_uri of a request (`given`) is the `registered` one: simple string comparison (OIDC
 * Core §3.1.2.1), except that for a native client an http redirect URI on a loopback IP literal
 * (127.0.0.1 or [::1]) matches with any port, or none, when scheme, host, path and query are identical
 * (RFC 8252 §7.3). "localhost" is compared as a string for every client. Pure: no store, no clock. */
bool redirect_uri_matches(enum application_type type, const char *registered, const char *given);
/* The API a request targets: `resource` (or audience) when given, else the one API its scopes belong to. */
struct oauth_error authz_select_resource(const struct app *app, const struct client *c, const char *resource,
                                         const struct scope_set *scopes, const struct resource **out);
/* The scopes a client may request (here, at the device authorization endpoint): its registered scope, or,
 * when it registered none, the OpenID scopes plus the scopes of the APIs it may target. Arena memory. */
void authz_allowed_scopes(struct arena *a, const struct app *app, const struct client *c, struct scope_set *out);
/* openid, profile, email, address, phone, offline_access. */
bool scope_is_oidc(const char *s);

#endif
