/* grants.h: what the token endpoint (token.c) shares with its grant handlers, one file per grant type
 * (grant_code.c: RFC 6749 §4.1.3 authorization_code, grant_client_credentials.c: §4.4, grant_refresh.c:
 * §6 refresh_token, grant_device.c: RFC 8628 §3.4 device_code), and what the handlers share
 * (grant_common.c). Internal to src/oauth/: the parsed
 * request, the handlers (which GRANT_TABLE in grant_table.h names) and the shared helpers. Calls run one
 * way: token.c -> grant_<name>.c -> grant_common.c. */
#ifndef OSTIARY_OAUTH_GRANTS_H
#define OSTIARY_OAUTH_GRANTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "core/str.h"
#include "oauth/error.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"

struct arena;
struct http_req;
struct client;
struct resource;
struct dpop_proof;

/* A token request after token_parse(): syntax only, every parameter non-repeated (RFC 6749 §3.1).
 * Views point into the parsed form (NUL-terminated); absent parameters are STR_NULL. */
struct token_req {
    struct str grant_type;
    struct scope_set scope;
    bool scope_given;
    struct str resource;      /* resource or its alias audience (RFC 8707 §2) */
    struct str code, redirect_uri, code_verifier; /* authorization_code */
    struct str refresh_token; /* refresh_token */
    struct str device_code;   /* urn:ietf:params:oauth:grant-type:device_code */
    /* The request's verified DPoP proof (RFC 9449 §5; oauth_token_handle checks it), or NULL: the access
     * token is then bound to its key, and its jti recorded in the transaction of the token's rows. */
    const struct dpop_proof *dpop;
    /* The client assertion's jti when one authenticated the request, not recorded yet (client.h
     * client_authenticate_deferred); never NULL. A grant records it in the transaction of the tokens it
     * commits (grant_begin), or alone before any other write (grant_jti_alone); token.c records it alone
     * after a grant that did neither (an error, nothing written). */
    struct client_jti *jti;
};

/* A grant handler validates what is its own, acts on the store and sends the success response itself;
 * on failure it returns the error (nothing sent, nothing written). The caller (token.c) has authenticated
 * the client and checked, from the grant's row, that it is registered for the grant type and, for a
 * confidential-only grant, that it is not a public client. */
struct oauth_error grant_client_credentials(struct http_req *req, const struct client *c,
                                            const struct token_req *tr);
struct oauth_error grant_authorization_code(struct http_req *req, const struct client *c,
                                            const struct token_req *tr);
struct oauth_error grant_refresh_token(struct http_req *req, const struct client *c,
                                       const struct token_req *tr);
struct oauth_error grant_device_code(struct http_req *req, const struct client *c, const struct token_req *tr);

/* The successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3): access_token, token_type Bearer (DPoP
 * for a DPoP-bound token, RFC 9449 §5), expires_in, scope (when not empty), refresh_token and id_token when not NULL; Cache-Control: no-store. */
void token_response_send(struct http_req *req, const struct access_token *at, const char *scope,
                         const char *refresh_token, const char *id_token);

/* ---- shared by the grants of a user: code and refresh (grant_common.c) ---- */

/* What a code, device or refresh grant issues. Everything is minted first (signing is the slow part, and
 * the store's write lock is not held meanwhile), then the code or refresh token is consumed and the rows
 * written in one store transaction: grant_tokens_redeem() (or, for a refresh retry, the caller's group and
 * grant_tokens_commit()). */
struct grant_tokens_req {
    const struct client *client;
    const char *sub;
    const char *grant_id;
    const char *at_scope;          /* the access token's scope (a refresh request may narrow it) */
    const char *grant_scope;       /* the refresh token's scope: the grant's, never narrowed */
    const char *aud;               /* the grant's API identifier, or NULL */
    const struct resource *res;    /* the API the access token is for (app_resource(aud)), or NULL */
    bool refresh;                  /* issue a refresh token */
    const char *refresh_data;      /* its data object (JSON text, authz.h) */
    bool id_token;                 /* issue an ID token */
    const char *nonce;             /* ID token nonce (code grant only) */
    const char *sid, *acr;
    json_t *amr;                   /* borrowed array, or NULL */
    int64_t auth_time;
    json_t *claims;                /* extra ID token claims (borrowed), or NULL */
    json_t *grant_claims;          /* the grant's claims request (authz.h GRANT_CLAIMS, borrowed), or NULL */
    const struct dpop_proof *dpop; /* the request's DPoP proof: binds the access token; or NULL */
    int64_t now;
};
struct grant_tokens {
    struct access_token at;
    const char *refresh_token;     /* NULL when none */
    struct store_token refresh_row;
    const char *id_token;          /* NULL when none */
    const struct dpop_proof *dpop; /* recorded by grant_tokens_commit (its jti, single use), or NULL */
};
/* Mints the tokens (no store access). server_error (logged) if a signature fails. */
struct oauth_error grant_tokens_mint(struct http_req *req, const struct grant_tokens_req *r,
                                     struct grant_tokens *out);
/* Opens the transaction of a grant's tokens (store_begin) and records the client assertion's jti in it
 * first, so that a replayed assertion changes nothing (then the group is rolled back and invalid_client
 * returned), and the jti costs no transaction of its own. */
struct oauth_error grant_begin(struct http_req *req, const struct token_req *tr);
/* Inside the transaction of grant_begin (in which the caller consumed the code or refresh token): records
 * the DPoP proof's jti (a replayed proof: invalid_dpop_proof), writes the rows of t and commits, which
 * records the client assertion's jti for good. On failure rolls back and returns the error (a store failure
 * logged). */
struct oauth_error grant_tokens_commit(struct http_req *req, const struct token_req *tr, const struct grant_tokens *t);
/* Records the client assertion's jti alone (its own transaction) unless done: for a grant about to write
 * outside its tokens' transaction (revoking a family, a device poll's pace), which must not happen for a
 * replayed assertion. invalid_client when it is one. */
struct oauth_error grant_jti_alone(struct http_req *req, const struct token_req *tr);
/* store_token_redeem() of the row `hash` of `kind` for the rows of t (outside any group): the store's
 * answer, *consumed and err as that call leaves them. successor: the row's new successor, or NULL.
 * Where the store groups writes and the request may wait, the redemption is queued for the loop's group
 * commit instead (tokens_hold_redeem): 0 with the request held and *consumed zeroed; the caller answers
 * as if it had won, and the server serves the request again if it lost. The tokens-issued metric is then
 * counted by the commit: the caller counts it only when the request is not held. */
int grant_tokens_redeem(struct http_req *req, const uint8_t hash[STORE_HASH_LEN], int kind, int64_t now,
                        const uint8_t *successor, const struct grant_tokens *t, struct store_token *consumed,
                        struct errbuf *err);
/* Whether the grant may redeem with grant_tokens_redeem (one round trip on PostgreSQL): no single-use value
 * (a client assertion's jti, a DPoP proof's jti) must be recorded in the same transaction. Otherwise the
 * grant takes grant_begin, the consume and grant_tokens_commit. */
bool grant_redeem_in_one(const struct token_req *tr, const struct grant_tokens *t);
/* Consumes the row `hash` of `kind` (a code, a device code) and commits the rows of t with the request's
 * single-use values: in one call when it may (grant_redeem_in_one), else in grant_begin's transaction.
 * OAUTH_OK with *rc 0 (done), ERR_CONFLICT (a concurrent redemption won: a replay; nothing written and no
 * transaction open) or ERR_NOTFOUND (expired or revoked since the caller's read); or the error already
 * decided (a replayed jti, a store failure, logged). */
struct oauth_error grant_redeem(struct http_req *req, const struct token_req *tr, const uint8_t hash[STORE_HASH_LEN],
                                int kind, int64_t now, const struct grant_tokens *t, int *rc);

/* Parses a row's data (JSON object text) into an object freed with the arena; NULL if absent or not an
 * object. */
json_t *grant_data_parse(struct arena *a, const char *text);
/* Whether a code or device grant yields a refresh token: the client must be registered for the
 * refresh_token grant (it could not use one otherwise); then its refresh_token_policy decides (client.h),
 * `offline` of the row's data telling that offline_access was consented to explicitly (the authorization
 * endpoint: with prompt=consent; the device page: always, its approval is an explicit consent). */
bool grant_wants_refresh(const struct client *c, const char *scope, json_t *data);
/* The grant's claims request of a code's or refresh token's data (authz.h GRANT_CLAIMS, borrowed), or
 * NULL. */
json_t *grant_data_claims(json_t *data);
/* The claims of user u an ID token of the grant carries beyond its own (a new object, or NULL when none):
 * those its claims request names for the ID token (OIDC Core §5.5), and with scope_claims those of the
 * granted scope (§5.4 returns them at userinfo; a client may want them in the ID token as well). */
json_t *grant_id_token_claims(const struct store_user *u, const char *scope, bool scope_claims,
                              json_t *grant_claims);
/* Copies auth_time, sid, acr and amr of a code's or refresh token's data into r. */
void grant_tokens_set_auth(struct grant_tokens_req *r, json_t *data);
/* The data object of a refresh token (authz.h: auth_time, sid, acr?, amr, jkt?) from a code's data, as
 * JSON text in arena memory. jkt: the DPoP key a public client's refresh tokens are bound to (RFC 9449 §5),
 * or NULL. */
const char *grant_refresh_data(struct arena *a, json_t *data, const char *jkt);
/* The tokens a code's or a device code's row (consumed next) yields, into *g: its user, grant, scope and
 * API (res), a refresh token per the client's policy, bound to the DPoP key of a public client (RFC 9449
 * §5; a confidential client's are bound to its authentication already), an ID token when openid was
 * granted, and the authentication facts of data (grant_tokens_set_auth). The caller adds what is its own
 * (nonce, claims). */
void grant_tokens_req_from_row(struct http_req *req, const struct client *c, const struct token_req *tr,
                               const struct store_token *row, const struct resource *res, int64_t now,
                               json_t *data, struct grant_tokens_req *g);
/* RFC 9449 §5, §10: a code whose request named dpop_jkt, or a refresh token bound to a key (its data's
 * jkt), is only redeemed with a DPoP proof made with that key: invalid_dpop_proof otherwise. bound: that
 * jkt, or NULL (no binding). */
struct oauth_error grant_dpop_binding(const struct token_req *tr, const char *bound, const char *what);
/* Revokes every token of the grant (code replay, refresh token reuse: RFC 6749 §4.1.2, RFC 9700
 * §4.14.2) and logs it, outside any transaction, after recording the client assertion's jti
 * (grant_jti_alone: a replayed assertion revokes nothing). OAUTH_OK, invalid_client for a replayed
 * assertion, or the store's failure. */
struct oauth_error grant_revoke_family(struct http_req *req, const struct token_req *tr, const struct client *c,
                                       const char *grant_id, const char *why);

/* ---- refresh-token rotation (grant_refresh.c), pure so that unit tests reach it ---- */

/* What presenting a refresh token is (RFC 9700 §4.14.2). A family has at most one live refresh token. */
enum refresh_verdict {
    REFRESH_ROTATE,  /* unused and live: consume it and issue its successor */
    REFRESH_RETRY,   /* used, within the grace period, its one retry unspent and its successor never used:
                      * revoke that successor and issue another in its place */
    REFRESH_REUSE,   /* a replay (used and not a retry, or superseded by a retry): revoke the family */
    REFRESH_INVALID, /* expired, or revoked with its family */
};
/* True if a token consumed at consumed_at may be retried at now: grace > 0 and 0 <= now - consumed_at <=
 * grace. A negative age (the clock stepped back since) is outside the window, so a clock step back never
 * widens it. */
bool refresh_within_grace(int64_t grace, int64_t consumed_at, int64_t now);
/* The verdict on the refresh token row rt, given the row of its successor (next; NULL when rt has none
 * or it is gone) and the grace period in seconds. */
enum refresh_verdict refresh_classify(const struct store_token *rt, const struct store_token *next,
                                      int64_t grace, int64_t now);

#endif
