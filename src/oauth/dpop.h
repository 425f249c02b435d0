/* dpop.h: DPoP, proof of possession at the application level (RFC 9449): the proof a client sends in the
 * DPoP header at the token endpoint, the userinfo endpoint and introspection, its replay cache, and the
 * server nonces of §8. What binds a token to the proof's key (cnf.jkt, RFC 9449 §6) lives with the tokens
 * (tokens.h); the grants decide what to bind (grants.h). */
#ifndef OSTIARY_OAUTH_DPOP_H
#define OSTIARY_OAUTH_DPOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jose/jose.h"
#include "oauth/error.h"
#include "store/store.h"

struct arena;
struct http_req;

/* The algorithms a proof may be signed with (RFC 9449 §4.3 check 5: asymmetric only, never none or a
 * MAC): every asymmetric alg src/jose/ verifies. dpop_signing_alg_values_supported lists them. */
#define DPOP_ALGS JOSE_ALGS_ASYMMETRIC
/* A proof's iat may be this many seconds ahead of our clock (RFC 9449 §11.1: clock skew). */
#define DPOP_IAT_LEEWAY 10
/* A server nonce is valid in the time slot it was made in and the next one (so 2 to 4 minutes). */
#define DPOP_NONCE_SLOT 120
/* The RFC 7638 SHA-256 thumbprint, base64url: the length of a jkt and of dpop_jkt (RFC 9449 §10). */
#define DPOP_JKT_LEN 43

/* What a proof must match. */
struct dpop_expect {
    const char *htm;          /* the request's method */
    const char *htu;          /* the URL of the endpoint called (without query) */
    const char *access_token; /* a resource request's access token, whose hash ath must be; NULL otherwise */
    const char *nonce_secret; /* NULL: no nonce required; else the proof's nonce must be a current one
                               * dpop_nonce_make() made with this secret */
    int64_t now;
    int64_t max_age;          /* seconds an iat may lie in the past */
};

/* A verified proof. Strings are arena memory. */
struct dpop_proof {
    const char *jkt;          /* RFC 7638 thumbprint of the proof's public key (RFC 9449 §6.1) */
    const char *jti;
    int64_t iat;
    int64_t replay_exp;       /* until when its jti must be remembered: as long as the proof is acceptable */
};

enum dpop_verdict {
    DPOP_VALID = 0,
    DPOP_INVALID = -1,        /* invalid_dpop_proof */
    DPOP_NONCE = -2,          /* use_dpop_nonce: no nonce, or one that is not (any more) ours */
};

/* Checks a DPoP proof (RFC 9449 §4.3, checks 2 to 12 except the jti replay, which needs the store): a
 * compact JWS whose header has typ "dpop+jwt", an alg of DPOP_ALGS and a jwk that is a public key
 * (jose_jwk_import: private members and symmetric keys are refused), signed by that key; claims jti (a
 * string of 1 to 256 characters), htm equal to x->htm, htu equal to x->htu once both are normalized
 * (dpop_htu_normalize: query and fragment dropped), an integer iat within [now - max_age, now +
 * DPOP_IAT_LEEWAY], ath = dpop_ath(access_token) when x->access_token is set, and a current nonce when
 * x->nonce_secret is set. Pure: no store, no clock, no network (x->now is the time). DPOP_VALID with *out
 * filled, else the verdict with *why set to a fixed, client-safe sentence. */
enum dpop_verdict dpop_proof_verify(struct arena *a, const char *jws, size_t len, const struct dpop_expect *x,
                                    struct dpop_proof *out, const char **why);

/* An http or https URL in the form htu comparisons use (RFC 9449 §4.3 check 9 with RFC 3986 §6.2.2 and
 * §6.2.3): scheme and host lower-cased, the scheme's default port dropped, percent-encodings of unreserved
 * characters decoded and the others' hex digits upper-cased, an empty path made "/", query and fragment
 * dropped. NULL for anything else (another scheme, userinfo, a malformed escape, a control character).
 * Arena memory. */
char *dpop_htu_normalize(struct arena *a, const char *url, size_t len);
/* base64url(SHA-256(token)): the ath of a proof for that access token (RFC 9449 §4.2). Arena memory. */
char *dpop_ath(struct arena *a, const char *token, size_t len);

/* Server nonces (RFC 9449 §8): "<slot>.<MAC>", the MAC an HMAC-SHA-256 under `secret` (the key-encryption
 * secret, the same on every instance sharing a store, so that a nonce from one is good at all). No state:
 * valid in the slot of `now` (now / DPOP_NONCE_SLOT) it was made in and the next. Arena memory. */
char *dpop_nonce_make(struct arena *a, const char *secret, int64_t now);
bool dpop_nonce_valid(const char *secret, const char *nonce, size_t len, int64_t now);

/* ---- at the endpoints ---- */

/* Reads and verifies the request's DPoP header for the endpoint at `path` (under the issuer), by
 * dpop.proof_max_age and dpop.nonce. *present says whether there was one; none is OAUTH_OK (the caller
 * decides whether one was required). access_token: for a resource request (ath), else NULL. A resource
 * request's errors are 401 with a DPoP challenge (RFC 9449 §7.1: WWW-Authenticate: DPoP error=...,
 * algs="..."), the token endpoint's 400 (§5). With dpop.nonce on, the response gets a DPoP-Nonce header
 * (a fresh nonce; with use_dpop_nonce errors too). Does not record the jti: dpop_proof_record(). A pushed
 * authorization request endpoint (RFC 9449 §10.1) calls it with its own path: a proof there binds the code
 * as dpop_jkt does (the pushed parameters' dpop_jkt, when given, must then be the proof's jkt). */
struct oauth_error dpop_check(struct http_req *req, const char *path, const char *access_token,
                              struct dpop_proof *out, bool *present);
/* Records the proof's jti (store_single_use_put, keyed by the proof's key and jti) until it expires, so
 * that a second use of the proof, here or at any instance sharing the store, is refused: invalid_dpop_proof.
 * Inside a store group it joins the group (the token endpoint writes it in the transaction of the token it
 * guards: one transaction per request). resource: render as dpop_check's resource errors. */
struct oauth_error dpop_proof_record(struct http_req *req, const struct dpop_proof *p, bool resource);
/* The error of a resource request that fails for a DPoP reason other than the proof's (a bound token
 * sent as Bearer, a key that is not the token's): 401 `code` with the DPoP challenge. */
struct oauth_error dpop_resource_error(struct arena *a, enum oauth_err code, const char *description);

#endif
