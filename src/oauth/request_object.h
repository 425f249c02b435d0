/* request_object.h: signed authorization requests, the `request` parameter (RFC 9101 JAR; OIDC Core §6.1,
 * §6.3). One function turns a request object into the authorization parameters the validator of
 * authorize.c reads: the authorization endpoint calls it for `request`, a pushed authorization request
 * endpoint (RFC 9126 §3) calls it for a `request` in its body. request_uri by reference to external URLs
 * is not fetched: only a pushed request's URN is a request_uri. */
#ifndef OSTIARY_OAUTH_REQUEST_OBJECT_H
#define OSTIARY_OAUTH_REQUEST_OBJECT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/str.h"
#include "oauth/error.h"

struct arena;
struct client;
struct form;
struct http_req;

/* exp may be at most this far ahead (seconds): a request object is for one authorization request, and its
 * jti is kept until exp (FAPI 2.0 Message Signing bounds exp - nbf to 60 minutes as well). */
#define REQUEST_OBJECT_MAX_LIFETIME 3600
/* Clock skew tolerated on exp, nbf and iat (seconds). */
#define REQUEST_OBJECT_LEEWAY 30

/* The claims of a request object, checked without keys or store: iss = client_id (RFC 9101 §4; required
 * for a signed object, OIDC Core §6.1), aud = issuer (a string, or an array holding it), exp required,
 * after now and at most REQUEST_OBJECT_MAX_LIFETIME ahead, nbf and iat not in the future, a jti (a string
 * of 1 to 256 characters, to be spent once), client_id (if present) the client's, no request or
 * request_uri inside (RFC 9101 §4), and every other member a string or an integer (an authorization
 * parameter). Pure. OAUTH_OK with *exp and *jti set, or invalid_request_object naming the failed check. */
struct oauth_error request_object_claims(json_t *payload, const char *client_id, const char *issuer, bool is_signed,
                                         int64_t now, int64_t *exp, const char **jti);

/* Verifies the request object `jws` of client c (RFC 9101 §6): signed with one of the client's keys
 * (client_keys(): jwks, jwks_uri, or the secret of a client_secret_jwt client) with an alg allowed by its
 * request_object_signing_alg (any asymmetric alg, and HS* for client_secret_jwt, when unset); unsigned
 * ("alg":"none", an empty signature) only when the client registered request_object_signing_alg none and
 * does not require signed request objects. Then request_object_claims(), the response_type and client_id
 * of `outer` (the query or form the object came in) must equal the object's when both have them (OIDC Core
 * §6.1), and the jti is spent (store_single_use_put, per client, until exp): a replayed object is refused.
 * *out gets the authorization parameters: the object's members (JWT claims iss, aud, exp, nbf, iat and jti
 * left out) and those of `outer` the object does not have, the object's winning (RFC 9101 §6.3, OIDC Core
 * §6.3.3); `request` itself is dropped. Arena memory. Errors: invalid_request_object (the description names
 * the check), server_error or temporarily_unavailable (store; logged). May fetch the client's jwks_uri
 * (blocking): request_object_needs_fetch() lets the router send such requests to the pool. */
struct oauth_error request_object_params(const struct http_req *req, const struct client *c, struct str jws,
                                         const struct form *outer, struct form *out);

/* Whether verifying the request object of req (an authorization request, or a pushed one: its client named
 * by client_id, or by HTTP Basic) would fetch its client's jwks_uri now (not cached fresh): the router's
 * question, on the event loop. Never blocks on the network. */
bool request_object_needs_fetch(struct http_req *req);

#endif
