/* tokens.c: access token minting (RFC 9068 JWT or opaque) and lookup for introspection/revocation
 * (RFC 7662, RFC 7009). Refresh tokens and codes come with the interactive flows. */
#include "oauth/tokens.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "store/store.h"
#include "core/banned.h"

static int64_t access_ttl(const struct worker *w, const struct access_token_req *r)
{
    if (r->client->access_token_ttl > 0)
        return r->client->access_token_ttl;
    if (r->res != NULL && r->res->access_token_ttl > 0)
        return r->res->access_token_ttl;
    return w->app->cfg->tokens.access_token_ttl;
}

int token_issue_access(struct worker *w, struct arena *a, const struct access_token_req *r,
                       struct access_token *out, struct errbuf *err)
{
    int64_t ttl = access_ttl(w, r);
    const char *sub = r->sub != NULL ? r->sub : r->client->client_id;
    out->jti = rand_token(a, 16);
    out->expires_in = ttl;
    out->jwt = r->res != NULL && r->res->format == TOKEN_FORMAT_JWT;

    if (out->jwt) {
        json_t *c = json_object();
        json_object_set_new(c, "iss", json_string(w->app->issuer));
        json_object_set_new(c, "sub", json_string(sub));
        json_object_set_new(c, "aud", json_string(r->res->identifier));
        json_object_set_new(c, "exp", json_integer(r->now + ttl));
        json_object_set_new(c, "iat", json_integer(r->now));
        json_object_set_new(c, "jti", json_string(out->jti));
        json_object_set_new(c, "client_id", json_string(r->client->client_id));
        if (r->scope != NULL && r->scope[0] != '\0')
            json_object_set_new(c, "scope", json_string(r->scope));
        char *payload = json_dumps(c, JSON_COMPACT);
        json_decref(c);
        out->value = jws_sign(w->app->keys, a, r->res->signing_alg, "at+jwt", payload, strlen(payload), err);
        free(payload);
        return out->value != NULL ? 0 : ERR_FAIL;
    }

    char *value = rand_token(a, 32);
    struct store_token t = {0};
    store_hash(value, strlen(value), t.hash);
    t.kind = STORE_TOKEN_ACCESS;
    t.client_id = r->client->client_id;
    t.sub = r->sub;
    t.scope = r->scope != NULL ? r->scope : "";
    t.aud = r->res != NULL ? r->res->identifier : NULL;
    t.jti = out->jti;
    t.grant_id = r->grant_id;
    t.iat = r->now;
    t.exp = r->now + ttl;
    int rc = store_token_put(w->db, &t, err);
    if (rc != 0)
        return rc;
    out->value = value;
    return 0;
}

static bool looks_like_jwt(const char *t, size_t len)
{
    size_t dots = 0;
    for (size_t i = 0; i < len; i++)
        if (t[i] == '.')
            dots++;
    return dots == 2;
}

/* Reads our own JWT access token. Returns 0 with info filled (active or not), or <0 on store failure. */
static int jwt_lookup(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                      struct token_info *info, struct errbuf *err)
{
    json_t *claims = NULL;
    const char *typ = NULL;
    struct errbuf jerr;
    if (jws_verify(w->app->keys, a, token, len, &claims, &typ, &jerr) != 0)
        return 0;
    if (typ == NULL || (strcmp(typ, "at+jwt") != 0 && strcmp(typ, "application/at+jwt") != 0))
        return 0;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    json_t *exp = json_object_get(claims, "exp");
    json_t *iat = json_object_get(claims, "iat");
    const char *jti = json_string_value(json_object_get(claims, "jti"));
    if (iss == NULL || strcmp(iss, w->app->issuer) != 0 || !json_is_integer(exp) || jti == NULL)
        return 0;
    info->jwt = true;
    info->kind = "access_token";
    info->exp = json_integer_value(exp);
    info->iat = json_is_integer(iat) ? json_integer_value(iat) : 0;
    info->jti = jti;
    info->client_id = json_string_value(json_object_get(claims, "client_id"));
    info->sub = json_string_value(json_object_get(claims, "sub"));
    info->scope = json_string_value(json_object_get(claims, "scope"));
    json_t *aud = json_object_get(claims, "aud");
    if (json_is_string(aud)) {
        info->aud = json_string_value(aud);
    } else if (json_is_array(aud)) {
        struct strbuf sb;
        strbuf_init(&sb, a, 4096);
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (!json_is_string(v))
                continue;
            if (sb.len > 0)
                strbuf_addc(&sb, ' ');
            strbuf_adds(&sb, json_string_value(v));
        }
        info->aud = sb.buf;
    }
    if (info->exp <= now)
        return 0;
    int revoked = store_jti_is_revoked(w->db, jti, err);
    if (revoked < 0)
        return revoked;
    info->active = revoked == 0;
    return 0;
}

int token_lookup(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                 struct token_info *info, struct errbuf *err)
{
    memset(info, 0, sizeof(*info));
    if (len == 0 || len > 8192)
        return 0;
    if (looks_like_jwt(token, len))
        return jwt_lookup(w, a, token, len, now, info, err);
    struct store_token t;
    uint8_t h[STORE_HASH_LEN];
    store_hash(token, len, h);
    int rc = store_token_get(w->db, a, h, &t, err);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (t.kind == STORE_TOKEN_ACCESS)
        info->kind = "access_token";
    else if (t.kind == STORE_TOKEN_REFRESH)
        info->kind = "refresh_token";
    else
        return 0; /* codes and device codes are not introspectable */
    info->client_id = t.client_id;
    info->sub = t.sub;
    info->scope = t.scope;
    info->aud = t.aud;
    info->jti = t.jti;
    info->iat = t.iat;
    info->exp = t.exp;
    info->active = t.revoked_at == 0 && t.consumed_at == 0 && t.exp > now;
    return 0;
}

int token_revoke(struct worker *w, struct arena *a, const char *token, size_t len, const char *client_id,
                 int64_t now, bool *foreign, struct errbuf *err)
{
    *foreign = false;
    struct token_info info;
    int rc = token_lookup(w, a, token, len, now, &info, err);
    if (rc != 0 || !info.active)
        return rc;
    if (info.client_id == NULL || strcmp(info.client_id, client_id) != 0) {
        *foreign = true;
        return 0;
    }
    if (info.jwt)
        return store_jti_revoke(w->db, info.jti, info.exp, err);
    uint8_t h[STORE_HASH_LEN];
    store_hash(token, len, h);
    return store_token_revoke(w->db, h, now, err);
}
