/* authorize.h: the authorization endpoint and what the interaction pages need from it to resume a parked
 * request. */
#ifndef OSTIARY_OAUTH_AUTHORIZE_H
#define OSTIARY_OAUTH_AUTHORIZE_H

#include <stdbool.h>

#include <jansson.h>

#include "oauth/authz.h"
#include "oauth/client.h"
#include "oauth/error.h"

struct http_req;
struct client;
struct app;
struct resource;
struct scope_set;
struct interaction;

void oauth_authorize_handle(struct http_req *req);

/* Continues a validated request: login page, account selection, consent page, or the code. `ia` is the
 * parked interaction when resuming from a page (NULL from the endpoint); `satisfied` has the prompt_flags
 * the person has just answered (PROMPT_CONSENT after the consent page, PROMPT_SELECT_ACCOUNT after the
 * account page). */
void authz_resume(struct http_req *req, const struct client *c, const struct authz_request *ar,
                  const struct interaction *ia, unsigned satisfied);

json_t *authz_request_to_json(const struct authz_request *ar);
int authz_request_from_json(struct arena *a, json_t *o, struct authz_request *ar);
/* 0, ERR_NOTFOUND, or <0 on store/metadata failure (logged; oauth_store_error(rc) is the answer). */
int authz_load_client(struct http_req *req, const char *client_id, struct client *out);

/* Whether the redirect_uri of a request (`given`) is the `registered` one: simple string comparison (OIDC
 * Core §3.1.2.1), except that for a native client an http redirect URI on a loopback IP literal
 * (127.0.0.1 or [::1]) matches with any port, or none, when scheme, host, path and query are identical
 * (RFC 8252 §7.3). "localhost" is compared as a string for every client. Pure: no store, no clock. */
bool redirect_uri_matches(enum application_type type, const char *registered, const char *given);
/* The API a request targets: `resource` (or audience) when given, else the one API its scopes belong to. */
struct oauth_error authz_select_resource(const struct app *app, const struct client *c, const char *resource,
                                         const struct scope_set *scopes, const struct resource **out);
/* openid, profile, email, address, phone, offline_access. */
bool scope_is_oidc(const char *s);

#endif
