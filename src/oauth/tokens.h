/* tokens.h: minting and reading access tokens. JWT access tokens follow RFC 9068 (typ "at+jwt"; iss, sub,
 * aud, exp, iat, jti, client_id, scope); opaque ones are 256-bit random strings stored by SHA-256 hash.
 * Both are introspectable (RFC 7662) and revocable (RFC 7009): opaque by hash, JWT by jti. */
#ifndef OSTIARY_OAUTH_TOKENS_H
#define OSTIARY_OAUTH_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

struct arena;
struct worker;
struct client;
struct resource;

struct access_token_req {
    const struct client *client;
    const char *sub;              /* NULL: the client itself (client_credentials) */
    const char *scope;            /* granted scope, space-separated */
    const struct resource *res;   /* target API, or NULL */
    const char *grant_id;         /* family, or NULL */
    int64_t now;
};

struct access_token {
    const char *value;
    const char *jti;
    int64_t expires_in;
    bool jwt;
};

int token_issue_access(struct worker *w, struct arena *a, const struct access_token_req *r,
                       struct access_token *out, struct errbuf *err);

/* What introspection knows about a token (RFC 7662 §2.2). */
struct token_info {
    bool active;
    const char *kind;             /* "access_token" or "refresh_token" */
    const char *client_id, *sub, *scope, *aud, *jti;
    int64_t iat, exp;
    bool jwt;
};

/* Looks a token up (JWT by signature and revocation list, opaque by hash). Never fails for a foreign,
 * unknown, expired or revoked token: info->active is false. <0 only on a storage failure. */
int token_lookup(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                 struct token_info *info, struct errbuf *err);

/* Revokes the token: opaque by hash, JWT by jti until its exp. Only tokens of `client_id` are revoked;
 * *foreign is set when the token is active and belongs to another client. */
int token_revoke(struct worker *w, struct arena *a, const char *token, size_t len, const char *client_id,
                 int64_t now, bool *foreign, struct errbuf *err);

#endif
