/* client.h: registered clients (RFC 7591 metadata names) as the endpoints see them, parsed from the
 * store's JSON metadata, and client authentication at the back-channel endpoints (RFC 6749 §2.3.1). */
#ifndef OSTIARY_OAUTH_CLIENT_H
#define OSTIARY_OAUTH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/str.h"
#include "oauth/error.h"
#include "oauth/grant_table.h"
#include "store/store.h"

struct arena;
struct http_req;
struct form;
struct config;
struct jose_keyset;

enum client_auth_method {
    CLIENT_AUTH_SECRET_BASIC = 0,
    CLIENT_AUTH_SECRET_POST = 1,
    CLIENT_AUTH_NONE = 2,
    CLIENT_AUTH_PRIVATE_KEY_JWT = 3, /* RFC 7523 §2.2, OIDC Core §9: an assertion signed with its jwks */
    CLIENT_AUTH_SECRET_JWT = 4,      /* the same, HMAC with its client secret (kept encrypted at rest) */
};

/* When the code grant yields a refresh token (the seed providers disagree; OIDC Core §11 is the default). */
enum refresh_policy {
    REFRESH_OFFLINE_CONSENT = 0, /* offline_access scope and prompt=consent (OIDC Core §11) */
    REFRESH_OFFLINE_ACCESS = 1,  /* offline_access scope alone (Auth0 style) */
    REFRESH_ALWAYS = 2,          /* every code exchange (django-oidc-provider style) */
};

enum pkce_flags { PKCE_S256 = 1 << 0, PKCE_PLAIN = 1 << 1 };

/* OIDC Dynamic Client Registration §2 application_type. Only a native client's loopback IP redirect URIs
 * may vary in port (RFC 8252 §7.3); a web client's redirect URIs are compared as strings. */
enum application_type {
    APP_TYPE_WEB = 0,    /* the default */
    APP_TYPE_NATIVE = 1,
};

/* Which access tokens a client may introspect (RFC 7662 §4). Refresh tokens: only its own, always. */
enum introspection_access {
    INTROSPECT_ALL = 0,       /* the default: any access token of this issuer */
    INTROSPECT_OWN = 1,       /* tokens issued to this client */
    INTROSPECT_RESOURCES = 2, /* its own, and tokens whose aud has one of introspection_resources */
};

/* Which of the user's claims the ID tokens of the token endpoint carry besides those the claims parameter
 * names (OIDC Core §5.4 puts the scope claims at userinfo whenever an access token is issued). */
enum id_token_claims {
    ID_TOKEN_CLAIMS_NONE = 0,  /* the default: none (response_type=id_token still has them, §5.4) */
    ID_TOKEN_CLAIMS_SCOPE = 1, /* those of the granted profile, email, address and phone scopes */
};

struct client {
    const char *client_id;
    const char *client_name;
    enum application_type application_type;
    bool has_secret;
    uint8_t secret_hash[STORE_HASH_LEN];
    enum client_auth_method auth_method;
    /* The algs its client assertions may use: token_endpoint_auth_signing_alg, else every asymmetric one
     * (private_key_jwt) or every HMAC one (client_secret_jwt); a mask of JOSE_ALG_BIT (jose/jose.h). */
    const char *auth_signing_alg; /* as registered, NULL when unset */
    unsigned auth_signing_algs;
    const char *jwks;             /* RFC 7591 jwks: the JSON text of a JWK Set, or NULL */
    const char *jwks_uri;         /* RFC 7591 jwks_uri (https), or NULL */
    const unsigned char *secret_enc; /* client_secret_jwt: the secret sealed by jose_secret_seal */
    size_t secret_enc_len;
    /* Prepared once per cached snapshot (client_get), so that verifying an assertion imports nothing: the
     * jwks imported (NULL without jwks, or when it does not import: jwks_error says why), and for a
     * client_secret_jwt client its secret opened as an HMAC key (NULL with secret_error when it cannot
     * be). A jwks_uri's keys are cached with the fetched document instead (client_auth.c). NULL from
     * client_from_store. */
    const struct jose_keyset *jwks_keys;
    const char *jwks_error;
    const struct jose_keyset *secret_keys;
    const char *secret_error;
    unsigned grant_types;         /* enum grant_flags (grant_table.h) */
    unsigned response_types;      /* RESPONSE_TYPE_BIT(parts) of each registered response type */
    const char **redirect_uris;
    size_t n_redirect_uris;
    const char *scope;            /* space-separated allowed scopes ("" = none) */
    const char **resources;       /* APIs it may target; none = any configured API, unless resources_listed */
    size_t n_resources;
    bool resources_listed;        /* resources was stated, as an empty list too: only those (a registered
                                   * client's, from registration.resources) */
    uint32_t access_token_ttl;    /* 0 = API/global default */
    /* Interactive flows. */
    const char **post_logout_redirect_uris;
    size_t n_post_logout_redirect_uris;
    const char *id_token_signed_response_alg; /* RS256 when unset */
    enum id_token_claims id_token_claims;
    enum refresh_policy refresh_policy;
    unsigned pkce_methods;        /* enum pkce_flags; S256 only when unset */
    bool require_pkce;            /* always true for public clients */
    bool require_par;             /* require_pushed_authorization_requests (RFC 9126 §6) */
    enum introspection_access introspection_access;
    const char **introspection_resources; /* API identifiers, with INTROSPECT_RESOURCES */
    size_t n_introspection_resources;
    /* RFC 9449 §5.2: every token request must carry a DPoP proof (its access tokens are all DPoP-bound). */
    bool dpop_bound_access_tokens;
    /* Request objects (RFC 9101; OIDC Registration §2): the one alg they may use, as registered (NULL: any
     * asymmetric alg, and HS256/384/512 for a client_secret_jwt client; "none": unsigned ones too), and
     * whether every authorization request must come as a signed request object (RFC 9101 §10.5). */
    const char *request_object_signing_alg;
    bool require_signed_request_object;
};

const char *client_auth_method_str(enum client_auth_method m);
int client_auth_method_parse(const char *s, enum client_auth_method *out);
/* refresh_token_policy name (offline_consent, offline_access, always) <-> value; parse returns -1 for an
 * unknown name and leaves *out untouched. */
const char *client_refresh_policy_str(enum refresh_policy p);
int client_refresh_policy_parse(const char *s, enum refresh_policy *out);
/* application_type name (web, native) <-> value; parse returns -1 for an unknown name and leaves *out
 * untouched. */
const char *client_application_type_str(enum application_type t);
int client_application_type_parse(const char *s, enum application_type *out);
/* introspection_access name (all, own, resources) <-> value; parse as above. */
const char *client_introspection_access_str(enum introspection_access v);
int client_introspection_access_parse(const char *s, enum introspection_access *out);
/* id_token_claims name (none, scope) <-> value; parse as above. */
const char *client_id_token_claims_str(enum id_token_claims v);
int client_id_token_claims_parse(const char *s, enum id_token_claims *out);
/* PKCE method name (RFC 7636 §4.2: "S256", "plain", case-sensitive) -> flag; 0 for an unknown name. */
unsigned pkce_method_flag(const char *name);

/* Parses a stored client. 0, or -1 if its metadata is not valid (reported as server_error). */
int client_from_store(struct arena *a, const struct store_client *sc, struct client *out);

/* True if c may ask tokens for the API `identifier`: one of its resources, or any API when it has none
 * and did not state an empty list (resources_listed). */
bool client_may_target(const struct client *c, const char *identifier);

/* Builds the RFC 7591 metadata JSON text stored for a client (malloc'd; caller frees). */
char *client_metadata_json(const struct client *c);

/* ---- client_auth.c ---- */

/* Authenticates the calling client, the one function of every endpoint that authenticates clients (token,
 * introspection, revocation, PAR ...): HTTP Basic or client_id/client_secret in the form body (RFC 6749
 * §2.3.1), or a JWT client assertion (client_assertion_type urn:ietf:params:oauth:client-assertion-type:
 * jwt-bearer, RFC 7523 §2.2) for private_key_jwt and client_secret_jwt clients; exactly one method, the one
 * registered. Secrets are compared as SHA-256 hashes in constant time. An assertion must be signed with an
 * alg the client allows (token_endpoint_auth_signing_alg) by a key of its jwks/jwks_uri (or HMAC with its
 * secret), carry iss = sub = client_id, an aud that is the issuer, the token endpoint or the endpoint
 * called, an exp at most 10 minutes ahead, no iat or nbf in the future (30 s of leeway), and a jti never
 * seen before: it is recorded (store_single_use_put, its own write) until exp. A public client (auth
 * method none) is identified by client_id alone when allow_public is set. On failure returns
 * invalid_client (401, with a Basic challenge when Basic was tried; the description names the failed
 * check) or invalid_request (malformed or multiple methods). May fetch the client's jwks_uri (blocking):
 * the router sends such requests to the pool first (client_auth_needs_fetch). */
struct oauth_error client_authenticate(struct http_req *req, const struct form *body, bool allow_public,
                                       struct client *out);
/* The keys that verify what client c signs (its client assertions, its request objects): the HMAC key of
 * its secret for a client_secret_jwt client, else its jwks or the document of its jwks_uri (fetched through
 * http/fetch.h, blocking, when not cached fresh). With `refresh`, a jwks_uri is fetched again (at most once
 * per fetch.refetch_seconds) because the cached JWKS lacks a kid; *refreshed says whether it was. Arena
 * memory of the client's snapshot or of the fetch cache, valid for the request. Errors: invalid_client (a
 * jwks_uri that cannot be fetched or is refused, a JWK Set that does not import; the description says
 * which), server_error (a sealed secret that cannot be opened; logged). */
struct jose_keyset;
struct oauth_error client_keys(const struct http_req *req, const struct client *c, bool refresh,
                               const struct jose_keyset **set, bool *refreshed);
/* Verifies the compact JWS jws, signed by client c with an alg of `allowed` (a mask of JOSE_ALG_BIT), with
 * client_keys(), fetching a jwks_uri again once when the cached set lacks the JWS's kid. OAUTH_OK with *rc
 * the result of jws_verify_keys (0 with *v filled, or a JOSE_ERR_*), or client_keys()'s error. */
struct jws_verified;
struct oauth_error client_jws_verify(const struct http_req *req, const struct client *c, struct str jws,
                                     unsigned allowed, struct jws_verified *v, int *rc);
/* Whether client_keys() for a token naming `kid` (or none) would fetch c's jwks_uri now: not cached fresh,
 * or cached without that kid and due for a refetch. Never blocks on the network. */
bool client_keys_would_fetch(const struct http_req *req, const struct client *c, const char *kid);
/* The jti of a verified client assertion (RFC 7523 §3 item 7), to be recorded as used until exp: the key
 * of its single-use record and that exp. pending until recorded. */
struct client_jti {
    bool pending;
    uint8_t key[STORE_HASH_LEN];
    int64_t exp;
};
/* client_authenticate without the jti's write: *jti is pending when a client assertion authenticated the
 * request (else not), and the caller must record it with client_jti_put on every path, in the transaction
 * of its own write when it has one (the token endpoint: grants.h), so that a token request costs one
 * transaction. Nothing may be answered, and nothing written, for an assertion whose jti is not recorded. */
struct oauth_error client_authenticate_deferred(struct http_req *req, const struct form *body, bool allow_public,
                                                struct client *out, struct client_jti *jti);
/* Records a pending jti (nothing for NULL or one not pending): inside the caller's store group it is part
 * of the group (undone by its rollback; the caller clears `pending` once the group is committed), outside
 * one it is its own transaction. invalid_client ("client assertion jti was already used") when it was
 * recorded before: inside a group, roll the group back. */
struct oauth_error client_jti_put(struct http_req *req, const struct client_jti *jti);
/* Whether authenticating req would fetch a jwks_uri now (its JWKS is not cached fresh, or lacks the
 * assertion's kid and may be fetched again): the router's question, on the event loop, before it runs the
 * endpoint there or on the pool. Never blocks on the network (one cached client lookup at most). */
bool client_auth_needs_fetch(struct http_req *req);
/* Whether looking up the client_id a request names (its query's or form body's client_id, or HTTP Basic's
 * user) would fetch a client ID metadata document now: the router's question for /auth. Never blocks. */
bool client_id_needs_fetch(struct http_req *req);
/* The answer to such a request when the pool is full: 503 temporarily_unavailable with Retry-After. */
void client_auth_busy(struct http_req *req, unsigned retry_after_s);

/* Reads a client row through the worker's cache (entries live 5 seconds; see client.c). Same return
 * values as store_client_get. A client of a metadata document has no row (ERR_NOTFOUND). */
struct worker;
struct client_cache;
int client_lookup(struct worker *w, struct arena *a, const char *client_id, struct store_client *out,
                  struct errbuf *err);
/* The same client parsed (client_from_store), from the same cache, which keeps it parsed: 0 with *out,
 * whose strings live until the end of the request of arena `a` (or as long as the cache keeps the entry);
 * ERR_NOTFOUND; the store's error; ERR_INVALID (err set) when the stored metadata is not valid. Callers
 * must not change *out's lists. May fetch a client ID metadata document (blocking: see
 * client_document_needs_fetch). */
int client_get(struct worker *w, struct arena *a, const char *client_id, struct client *out, struct errbuf *err);
void client_cache_free(struct client_cache *cc);
/* Whether client_id names an OAuth Client ID Metadata Document (registration.client_id_metadata_documents
 * is on and it is an https URL): client_get then reads a client the store does not hold from the document
 * at that URL (fetched, checked, cached with the fetched body; a document that cannot be fetched or is
 * not valid is an unknown client, logged). */
struct app;
bool client_id_is_document(const struct app *app, const char *client_id);
/* Whether client_get(client_id) could fetch now (a document not cached fresh): the router's question for
 * the pool. Never blocks. */
bool client_document_needs_fetch(struct worker *w, const char *client_id);

/* A stored client as JSON, for the CLI and the admin API: client_id, then its metadata (RFC 7591 names;
 * never a secret), and with `state` also has_secret, from_config, created_at and updated_at. Metadata that
 * is not a JSON object is left out and *unreadable (optional) says so. New reference owned by the
 * caller. */
json_t *client_to_json(const struct store_client *sc, bool state, bool *unreadable);

/* The hash of the secret an operator gave: SHA-256 of `secret`, or `sha256_b64` decoded (base64 of the 32
 * bytes, as client_check accepts it). False when neither is given (or the hash does not decode). */
bool client_secret_given(const char *secret, const char *sha256_b64, struct arena *a,
                         uint8_t out[STORE_HASH_LEN]);

/* Sets the secret of the client row sc, about to be written for a client with auth method m: none for a
 * public or private_key_jwt client (its hash cleared: it has no secret); the hash `given` (the SHA-256 of an operator's secret) when not NULL;
 * else, when the row has no secret yet or `renew` is set, a new one of 256 bits, which is returned (arena
 * memory, to be shown once and never stored); else the row keeps its secret. Returns the generated secret
 * or NULL. */
char *client_secret_set(struct store_client *sc, enum client_auth_method m, const uint8_t *given,
                        bool renew, struct arena *a);

/* For a client_secret_jwt client: sets sc->secret_enc to `secret` sealed with the key-encryption secret
 * (jose_secret_seal, bound to the client_id), reusing old's blob when it holds the same secret. Arena
 * memory. 0, or ERR_INVALID (no usable key secret) with err set. */
int client_secret_seal(struct store_client *sc, const struct store_client *old, const char *key_secret,
                       const char *secret, struct arena *a, struct errbuf *err);

/* After client_secret_set, the sealed secret of a row about to be written for a client with method m:
 * for client_secret_jwt, `plain` (the secret just given or generated, in clear) sealed; without one, the
 * sealed secret the row has is kept, and a row without one gets a new secret (*generated, to be shown
 * once: a hash cannot be turned back into the HMAC key). Any other method drops a sealed secret. 0, or
 * ERR_INVALID (err set) when it cannot be sealed. */
int client_secret_reseal(struct store_client *sc, enum client_auth_method m, const char *plain,
                         const char *key_secret, struct arena *a, char **generated, struct errbuf *err);

/* Applies the clients of the YAML file to the store: created, updated, and those an earlier start took
 * from the file but that it no longer declares, deleted. Runs inside the caller's transaction
 * (store_begin ... store_commit, rolled back by the caller on failure), so that the file's clients and
 * users change together or not at all. */
int clients_apply_config(struct store_conn *db, const struct config *cfg, struct errbuf *err);

#endif
