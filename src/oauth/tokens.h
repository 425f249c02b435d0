/* tokens.h: minting and reading access and refresh tokens. JWT access tokens follow RFC 9068 (typ
 * "at+jwt"; iss, sub, aud, exp, iat, jti, client_id, scope); opaque ones are 256-bit random strings stored
 * by SHA-256 hash; refresh tokens are opaque and stored by hash. All are introspectable (RFC 7662) and
 * revocable (RFC 7009): opaque ones by the row of their hash; either kind may be bound to a DPoP key (RFC
 * 9449 §6: a JWT's cnf.jkt claim, an opaque token's row data {"cnf":{"jkt":...}}); a JWT, once its signature and claims check
 * out, by its jti only, never by its bytes: by the row keyed by its jti (store_jti_key) when it was issued
 * within a grant (so revoking the grant revokes it), else by the jti revocation list.
 *
 * Minting and storing are separate steps so a grant can sign outside its store transaction and write
 * every row inside it: token_mint_*() never touch the store; the caller writes out->row with
 * store_token_put(). token_issue_access() does both for grants that need no transaction; where the store groups
 * writes (store_ops.group_commit) and the request may wait (http_req's can_hold), its row joins the worker's
 * batch, which tokens_flush() commits with the other rows of the loop's turn before the response leaves.
 * A grant's redemption (a code, device code or refresh token consumed with its new rows) can wait in the
 * same batch: tokens_hold_redeem(). */
#ifndef OSTIARY_OAUTH_TOKENS_H
#define OSTIARY_OAUTH_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "store/store.h"

struct arena;
struct app;
struct http_req;
struct worker;
struct client;
struct resource;

struct access_token_req {
    const struct client *client;
    const char *sub;              /* NULL: the client itself (client_credentials) */
    const char *scope;            /* granted scope, space-separated */
    const struct resource *res;   /* target API, or NULL */
    const char *grant_id;         /* family, or NULL */
    const char *data;             /* the row's data (JSON object text, authz.h), or NULL */
    const char *jkt;              /* DPoP: the thumbprint of the key the token is bound to (RFC 9449 §6), or
                                   * NULL for a bearer token */
    int64_t now;
};

struct access_token {
    const char *value;
    const char *jti;
    const char *jkt;              /* as the request's: set, the token is DPoP-bound (token_type DPoP) */
    int64_t expires_in;
    bool jwt;
    /* The row to store (opaque tokens always, keyed by the value's hash; JWTs when issued within a grant,
     * so store_grant_revoke reaches them, keyed by store_jti_key). Strings are arena memory. */
    bool has_row;
    struct store_token row;
};

/* True if the space-separated scope string (NULL: empty) has the scope-token tok. */
bool token_scope_has(const char *scope, const char *tok);

/* The userinfo endpoint URL (<issuer>/me, OIDC Core §5.3), in arena memory. An access token for a user
 * (sub set) whose scope has "openid" gets it as an audience, next to the API's identifier: for a JWT
 * "aud" is then [api, userinfo] (or the userinfo URL alone without an API); an opaque token stores them
 * space-separated. */
char *token_userinfo_url(struct arena *a, const struct app *app);

/* The row data of an access token of a user's grant (authz.h): {"claims": grant_claims} (borrowed), as JSON
 * text in arena memory; NULL when grant_claims is NULL (no claims request). */
const char *token_access_data(struct arena *a, json_t *grant_claims);

/* Mints an access token: signs the JWT (the resource's format) or draws the opaque value, and fills
 * out->row when a row is needed. Does not touch the store. <0 with err set if signing fails (no key for
 * the resource's alg). Strings are arena memory. */
int token_mint_access(struct worker *w, struct arena *a, const struct access_token_req *r,
                      struct access_token *out, struct errbuf *err);
/* token_mint_access() and, when out->has_row, the row's write: store_token_put() at once, or queued in the
 * worker's batch with the request held (see above; a write error is then held_failed's to answer). */
int token_issue_access(struct http_req *req, const struct access_token_req *r, struct access_token *out,
                       struct errbuf *err);
/* Where the store groups writes and the request may wait: queues the redemption of the row `hash` of
 * `kind` (consumed if still unused, unrevoked and unexpired; then linked to `successor` unless NULL, and
 * the n rows of puts inserted) in the worker's batch, marks the request held and returns true; its
 * tokens-issued metric (jwt, refresh, id_token) is counted once committed. false (nothing queued) where it
 * cannot: the caller redeems at once. */
bool tokens_hold_redeem(struct http_req *req, const uint8_t hash[STORE_HASH_LEN], int kind, int64_t now,
                        const uint8_t *successor, const struct store_token *puts, size_t n, bool jwt,
                        bool refresh, bool id_token);
/* Where the store groups writes and the request may wait: queues the n rows for the loop's group commit,
 * marks the request held and returns true; should that commit fail, the request is served again without
 * holding (tokens_held_retry), so that its endpoint answers the store failure in its own way (an
 * authorization response's error redirect). false (nothing queued) where it cannot. */
bool tokens_hold_rows(struct http_req *req, const struct store_token *rows, size_t n);
/* Commits the worker's batch (the writes of the requests held in this turn of its loop) in one transaction.
 * 0, or the store's error code (nothing of the batch is written; the error is logged). A redemption that
 * lost (its row was consumed, revoked or expired meanwhile) changes nothing and is recorded for
 * tokens_held_retry. The batch is empty afterwards. */
int tokens_flush(struct worker *w);
/* After a tokens_flush: whether the held request `rid` must be served again without holding: it lost its
 * redemption (the flush returned 0), or it queued rows with tokens_hold_rows and the flush failed. */
bool tokens_held_retry(struct worker *w, const char *rid);
/* Frees the worker's batch (its thread ends). */
void tokens_batch_free(struct worker *w);

/* A refresh token (RFC 6749 §1.5, §6): 32 random bytes base64url, stored by hash as kind
 * STORE_TOKEN_REFRESH with the family's grant_id and the authz.h data object
 * ({"auth_time","sid","acr"?,"amr"}). exp = now + tokens.refresh_token_ttl. */
struct refresh_token_req {
    const struct client *client;
    const char *sub;
    const char *scope;            /* the scope of the grant (never narrowed by a refresh request) */
    const char *aud;              /* the grant's API identifier, or NULL */
    const char *grant_id;         /* the family */
    const char *data;             /* JSON object text */
    int64_t now;
};
/* Fills *value (arena memory) and *row (to be written with store_token_put). Never fails. */
void token_mint_refresh(struct worker *w, struct arena *a, const struct refresh_token_req *r,
                        const char **value, struct store_token *row);

/* What introspection knows about a token (RFC 7662 §2.2). */
struct token_info {
    bool active;
    const char *kind;             /* "access_token" or "refresh_token" */
    const char *client_id, *sub, *scope, *aud, *jti;
    const char *grant_id;         /* the family, or NULL (client_credentials, or a JWT without a row) */
    int64_t iat, exp;
    bool jwt;
    const char *jkt;              /* an access token's DPoP binding (cnf.jkt, RFC 9449 §6), or NULL */
    bool has_row;                 /* a store row exists (opaque tokens; JWTs issued within a grant) */
    const char *data;             /* its row's data (authz.h), or NULL */
    uint8_t row_key[STORE_HASH_LEN]; /* its key, when has_row: the value's hash, or a JWT's jti key */
};

/* Looks a token up: opaque by hash; a JWT by signature and claims, then by its jti: the row keyed by it
 * if it has one (issued within a grant: revoked with the grant), else the jti revocation list. One
 * indexed read for a grant's token. Never fails for a foreign, unknown, expired, consumed or revoked
 * token: info->active is false. <0 only on a storage failure. */
int token_lookup(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                 struct token_info *info, struct errbuf *err);

/* Revokes the token (RFC 7009 §2.1). A refresh token revokes its whole grant (the refresh family, the
 * code and every access token issued from it); an access token only itself (by its row, a JWT's being
 * keyed by its jti; else by jti on the revocation list until its exp). Only tokens of `client_id` are
 * revoked; *foreign is set when the token is active and belongs to another client. Inactive tokens are
 * left alone (0). */
int token_revoke(struct worker *w, struct arena *a, const char *token, size_t len, const char *client_id,
                 int64_t now, bool *foreign, struct errbuf *err);

#endif
