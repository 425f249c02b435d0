/* tokens.c: access token minting (RFC 9068 JWT or opaque), refresh token minting (RFC 6749 §6), and
 * lookup for introspection, revocation and userinfo (RFC 7662, RFC 7009, RFC 6750). Codes are minted by
 * the authorization endpoint and redeemed in grant_code.c. */
#include "oauth/tokens.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "oauth/endpoints.h"
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

bool token_scope_has(const char *scope, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = scope; p != NULL && *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (len == n && memcmp(p, tok, n) == 0)
            return true;
        p += len;
    }
    return false;
}

char *token_userinfo_url(struct arena *a, const struct app *app)
{
    return arena_printf(a, "%s%s", app->issuer, OAUTH_USERINFO_PATH);
}

const char *token_access_data(struct arena *a, json_t *grant_claims)
{
    if (grant_claims == NULL)
        return NULL;
    json_t *d = json_object();
    json_object_set(d, "claims", grant_claims);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    const char *out = arena_strdup(a, text);
    free(text);
    return out;
}

/* An opaque access token's row data: `data` (authz.h) with its DPoP binding added, {"cnf":{"jkt":...}}
 * (RFC 9449 §6.2's form); `data` itself when it has none. */
static const char *with_cnf(struct arena *a, const char *data, const char *jkt)
{
    if (jkt == NULL)
        return data;
    json_t *d = data != NULL ? json_loads(data, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    json_object_set_new(d, "cnf", json_pack("{s:s}", "jkt", jkt));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    const char *out = arena_strdup(a, text);
    free(text);
    return out;
}

/* The jkt of a cnf object ({"jkt": ...}), or NULL. */
static const char *cnf_jkt(json_t *cnf)
{
    return json_string_value(json_object_get(cnf, "jkt"));
}

int token_mint_access(struct worker *w, struct arena *a, const struct access_token_req *r,
                      struct access_token *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    int64_t ttl = access_ttl(w, r);
    const char *sub = r->sub != NULL ? r->sub : r->client->client_id;
    /* OIDC Core §5.3: the token a client got with openid is also for the userinfo endpoint. */
    const char *userinfo = NULL;
    if (r->sub != NULL && token_scope_has(r->scope, "openid"))
        userinfo = token_userinfo_url(a, w->app);
    out->jti = rand_token(a, 16);
    out->jkt = r->jkt;
    out->expires_in = ttl;
    out->jwt = r->res != NULL && r->res->format == TOKEN_FORMAT_JWT;

    struct store_token *t = &out->row;
    t->kind = STORE_TOKEN_ACCESS;
    t->client_id = r->client->client_id;
    t->sub = r->sub;
    t->scope = r->scope != NULL ? r->scope : "";
    t->jti = out->jti;
    t->grant_id = r->grant_id;
    t->data = r->data;
    t->iat = r->now;
    t->exp = r->now + ttl;
    if (r->res != NULL && userinfo != NULL)
        t->aud = arena_printf(a, "%s %s", r->res->audience, userinfo);
    else if (r->res != NULL)
        t->aud = r->res->audience;
    else
        t->aud = userinfo;

    if (out->jwt) {
        /* RFC 9068 §2.2 claims, written straight into the payload (the members and their order as a jansson
         * object of them would have given, at a fraction of the cost): every value but the numbers is a
         * JSON string, escaped by strbuf_add_json, which refuses text that is not UTF-8. */
        struct strbuf p;
        strbuf_init(&p, a, 65536);
        strbuf_adds(&p, "{\"iss\":");
        strbuf_add_json(&p, w->app->issuer);
        strbuf_adds(&p, ",\"sub\":");
        strbuf_add_json(&p, sub);
        strbuf_adds(&p, ",\"aud\":");
        if (userinfo != NULL) {
            strbuf_addc(&p, '[');
            strbuf_add_json(&p, r->res->audience);
            strbuf_addc(&p, ',');
            strbuf_add_json(&p, userinfo);
            strbuf_addc(&p, ']');
        } else {
            strbuf_add_json(&p, r->res->audience);
        }
        strbuf_adds(&p, ",\"exp\":");
        strbuf_add_i64(&p, r->now + ttl);
        strbuf_adds(&p, ",\"iat\":");
        strbuf_add_i64(&p, r->now);
        strbuf_adds(&p, ",\"jti\":");
        strbuf_add_json(&p, out->jti);
        strbuf_adds(&p, ",\"client_id\":");
        strbuf_add_json(&p, r->client->client_id);
        if (r->scope != NULL && r->scope[0] != '\0') {
            strbuf_adds(&p, ",\"scope\":");
            strbuf_add_json(&p, r->scope);
        }
        if (r->jkt != NULL) { /* RFC 9449 §6.1: the DPoP key the token is bound to */
            strbuf_adds(&p, ",\"cnf\":{\"jkt\":");
            strbuf_add_json(&p, r->jkt);
            strbuf_addc(&p, '}');
        }
        strbuf_addc(&p, '}');
        const char *payload = strbuf_str(&p);
        if (payload == NULL) {
            errbuf_set(err, "access token: a claim is not UTF-8 or the claims are too long");
            return ERR_FAIL;
        }
        out->value = jws_sign(w->app->keys, a, r->res->signing_alg, "at+jwt", payload, p.len, err);
        if (out->value == NULL)
            return ERR_FAIL;
        /* Self-contained, but a token of a grant must die with the grant (code replay, refresh reuse,
         * RFC 7009 §2.1): its row is what store_grant_revoke reaches. It is keyed by the jti, which the
         * signature covers, never by the token's bytes: an ECDSA signature has a second valid encoding,
         * and a copy re-encoded so must find the same row. */
        out->has_row = r->grant_id != NULL;
        if (out->has_row)
            store_jti_key(out->jti, t->hash);
    } else {
        out->value = rand_token(a, 32);
        out->has_row = true;
        store_hash(out->value, strlen(out->value), t->hash);
        t->data = with_cnf(a, r->data, r->jkt);
    }
    return 0;
}

/* ---- group commit ----
 * The writes of the requests one turn of a worker's loop serves, committed together (http_req's `held`):
 * the pages they share (the end of the table, the end of the exp index) are written once per turn instead
 * of once per request, and the write lock is taken once. Two kinds of write wait in the batch: rows to
 * insert (a client_credentials token), and redemptions (a code, device code or refresh token consumed, its
 * successor linked, the new rows inserted), each of which may lose to a concurrent redemption of the same
 * row: a lost one changes nothing, and its request is served again without holding (tokens_held_retry),
 * which then decides as if it had come second (a replay, a retry within the grace period, ...). */
struct batch_redeem {
    char rid[sizeof(((struct http_req *)0)->rid)]; /* the held request's id: its outcome is asked by it */
    uint8_t hash[STORE_HASH_LEN];
    int kind;
    int64_t now;
    bool has_successor;
    uint8_t successor[STORE_HASH_LEN];
    size_t row0, nrows;          /* its new rows: rrows[row0 .. row0 + nrows) */
    bool jwt, refresh, id_token; /* the tokens-issued metric, counted once committed */
    bool lost;                   /* set by the flush: the row was no longer to be redeemed */
};

struct token_batch {
    struct arena *a; /* the rows' strings */
    struct store_token *rows; /* inserts */
    size_t n, cap;
    struct store_token *rrows; /* the redemptions' new rows */
    size_t nr, capr;
    struct batch_redeem *red;
    size_t nred, capred;
    char (*retry)[sizeof(((struct http_req *)0)->rid)]; /* the last flush's lost redemptions */
    size_t nretry, capretry;
    char (*own)[sizeof(((struct http_req *)0)->rid)]; /* requests that answer a failed flush themselves */
    size_t nown, capown;
    bool failed; /* the last flush failed */
};

static const char *batch_str(struct arena *a, const char *s)
{
    return s != NULL ? arena_strdup(a, s) : NULL;
}

static struct token_batch *batch_of(struct worker *w)
{
    if (w->batch == NULL) {
        w->batch = calloc(1, sizeof(*w->batch));
        if (w->batch == NULL)
            abort();
        w->batch->a = arena_new(16384);
    }
    return w->batch;
}

/* Room for one more element in a growing array. */
static void *grow(void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    *cap = *cap > 0 ? 2 * *cap : 64;
    v = realloc(v, *cap * size);
    if (v == NULL)
        abort();
    return v;
}

/* A copy of row t in the batch, its strings in the batch's arena. */
static void batch_copy(struct token_batch *b, struct store_token *c, const struct store_token *t)
{
    *c = *t;
    c->client_id = batch_str(b->a, t->client_id);
    c->sub = batch_str(b->a, t->sub);
    c->scope = batch_str(b->a, t->scope);
    c->aud = batch_str(b->a, t->aud);
    c->jti = batch_str(b->a, t->jti);
    c->grant_id = batch_str(b->a, t->grant_id);
    c->data = batch_str(b->a, t->data);
}

/* Whether the request's writes may wait for its loop's group commit: on a server loop (can_hold) whose store
 * groups writes. */
static bool can_batch(const struct http_req *req)
{
    return req->can_hold && req->worker->db->st->ops->group_commit;
}

static void batch_add(struct worker *w, const struct store_token *t)
{
    struct token_batch *b = batch_of(w);
    b->rows = grow(b->rows, b->n, &b->cap, sizeof(*b->rows));
    batch_copy(b, &b->rows[b->n++], t);
}

bool tokens_hold_rows(struct http_req *req, const struct store_token *rows, size_t n)
{
    struct worker *w = req->worker;
    if (!can_batch(req))
        return false;
    struct token_batch *b = batch_of(w);
    if (b->failed) { /* the requests of the failed flush have been served again: a new list */
        b->nown = 0;
        b->failed = false;
    }
    for (size_t i = 0; i < n; i++)
        batch_add(w, &rows[i]);
    b->own = grow(b->own, b->nown, &b->capown, sizeof(*b->own));
    memcpy(b->own[b->nown++], req->rid, sizeof(*b->own));
    req->held = true;
    return true;
}

bool tokens_hold_redeem(struct http_req *req, const uint8_t hash[STORE_HASH_LEN], int kind, int64_t now,
                        const uint8_t *successor, const struct store_token *puts, size_t n, bool jwt,
                        bool refresh, bool id_token)
{
    if (!can_batch(req))
        return false;
    struct token_batch *b = batch_of(req->worker);
    b->red = grow(b->red, b->nred, &b->capred, sizeof(*b->red));
    struct batch_redeem *r = &b->red[b->nred++];
    memset(r, 0, sizeof(*r));
    memcpy(r->rid, req->rid, sizeof(r->rid));
    memcpy(r->hash, hash, STORE_HASH_LEN);
    r->kind = kind;
    r->now = now;
    if (successor != NULL) {
        r->has_successor = true;
        memcpy(r->successor, successor, STORE_HASH_LEN);
    }
    r->row0 = b->nr;
    r->nrows = n;
    for (size_t i = 0; i < n; i++) {
        b->rrows = grow(b->rrows, b->nr, &b->capr, sizeof(*b->rrows));
        batch_copy(b, &b->rrows[b->nr++], &puts[i]);
    }
    r->jwt = jwt;
    r->refresh = refresh;
    r->id_token = id_token;
    req->held = true;
    return true;
}

static enum metrics_grant grant_of_kind(int kind)
{
    switch (kind) {
    case STORE_TOKEN_DEVICE:
        return METRICS_GRANT_DEVICE_CODE;
    case STORE_TOKEN_REFRESH:
        return METRICS_GRANT_REFRESH_TOKEN;
    default:
        return METRICS_GRANT_AUTHORIZATION_CODE;
    }
}

/* One redemption inside the flush's transaction: 0 (done), 1 (lost: nothing changed), or a store error. */
static int redeem_one(struct worker *w, struct token_batch *b, const struct batch_redeem *r, struct errbuf *err)
{
    struct store_token cur;
    int rc = store_token_consume(w->db, b->a, r->hash, r->kind, r->now, &cur, err);
    if (rc == ERR_CONFLICT || rc == ERR_NOTFOUND)
        return 1;
    if (rc == 0 && r->has_successor)
        rc = store_token_set_successor(w->db, r->hash, r->successor, 0, err);
    for (size_t i = 0; rc == 0 && i < r->nrows; i++) {
        rc = store_token_put(w->db, &b->rrows[r->row0 + i], err);
        if (rc == ERR_CONFLICT)
            rc = ERR_FAIL; /* a duplicate new row, not a lost race */
    }
    return rc;
}

int tokens_flush(struct worker *w)
{
    struct token_batch *b = w->batch;
    if (b == NULL)
        return 0;
    b->nretry = 0;
    b->failed = false;
    if (b->n == 0 && b->nred == 0) {
        b->nown = 0;
        return 0;
    }
    struct errbuf err = {{0}};
    int rc = store_begin(w->db, &err);
    for (size_t i = 0; rc == 0 && i < b->n; i++)
        rc = store_token_put(w->db, &b->rows[i], &err);
    for (size_t i = 0; rc == 0 && i < b->nred; i++) {
        rc = redeem_one(w, b, &b->red[i], &err);
        b->red[i].lost = rc == 1;
        if (rc == 1) {
            b->retry = grow(b->retry, b->nretry, &b->capretry, sizeof(*b->retry));
            memcpy(b->retry[b->nretry++], b->red[i].rid, sizeof(*b->retry));
            rc = 0;
        }
    }
    if (rc == 0)
        rc = store_commit(w->db, &err); /* rolls back itself on failure */
    else
        store_rollback(w->db);
    if (rc != 0) {
        log_warn("store_error", LS("op", "token_put_batch"), LI("rows", (long long)(b->n + b->nr)),
                 LI("redemptions", (long long)b->nred), LI("rc", rc), LS("detail", err.msg), NULL);
        b->nretry = 0; /* every held request is answered as failed, or by its endpoint (own) */
        b->failed = true;
    } else {
        for (size_t i = 0; i < b->nred; i++)
            if (!b->red[i].lost)
                metrics_tokens_issued(grant_of_kind(b->red[i].kind), b->red[i].jwt, b->red[i].refresh,
                                      b->red[i].id_token);
    }
    b->n = b->nr = b->nred = 0;
    if (!b->failed)
        b->nown = 0; /* kept until the next flush when they are to be served again */
    arena_reset(b->a);
    return rc;
}

bool tokens_held_retry(struct worker *w, const char *rid)
{
    struct token_batch *b = w->batch;
    if (b == NULL)
        return false;
    for (size_t i = 0; i < b->nretry; i++)
        if (strcmp(b->retry[i], rid) == 0)
            return true;
    for (size_t i = 0; b->failed && i < b->nown; i++)
        if (strcmp(b->own[i], rid) == 0)
            return true;
    return false;
}

void tokens_batch_free(struct worker *w)
{
    if (w->batch == NULL)
        return;
    free(w->batch->rows);
    free(w->batch->rrows);
    free(w->batch->red);
    free(w->batch->retry);
    free(w->batch->own);
    arena_free(w->batch->a);
    free(w->batch);
    w->batch = NULL;
}

int token_issue_access(struct http_req *req, const struct access_token_req *r, struct access_token *out,
                       struct errbuf *err)
{
    struct worker *w = req->worker;
    int rc = token_mint_access(w, req->arena, r, out, err);
    if (rc != 0 || !out->has_row)
        return rc;
    if (can_batch(req)) {
        batch_add(w, &out->row);
        req->held = true;
        return 0;
    }
    return store_token_put(w->db, &out->row, err);
}

void token_mint_refresh(struct worker *w, struct arena *a, const struct refresh_token_req *r,
                        const char **value, struct store_token *row)
{
    char *v = rand_token(a, 32);
    memset(row, 0, sizeof(*row));
    store_hash(v, strlen(v), row->hash);
    row->kind = STORE_TOKEN_REFRESH;
    row->client_id = r->client->client_id;
    row->sub = r->sub;
    row->scope = r->scope != NULL ? r->scope : "";
    row->aud = r->aud;
    row->jti = rand_token(a, 16);
    row->grant_id = r->grant_id;
    row->data = r->data;
    row->iat = r->now;
    row->exp = r->now + w->app->cfg->tokens.refresh_token_ttl;
    *value = v;
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
    info->jkt = cnf_jkt(json_object_get(claims, "cnf"));
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
        /* Our own signed claims: an audience list this long was never issued here. */
        info->aud = strbuf_str(&sb);
        if (info->aud == NULL)
            return 0;
    }
    if (info->exp <= now)
        return 0;
    /* A token issued within a grant has a row (revoked with the grant), keyed by its jti; a
     * client_credentials token has none and is revoked by jti too, on the revocation list. The row decides
     * when it exists: one indexed read for a grant's token. Nothing here depends on the token's bytes
     * beyond the signature check, so a re-encoded copy of a token has the state of the token. */
    struct store_token t;
    store_jti_key(jti, info->row_key);
    int rc = store_token_get(w->db, a, info->row_key, &t, err);
    if (rc == 0) {
        if (t.kind != STORE_TOKEN_ACCESS || t.jti == NULL || strcmp(t.jti, jti) != 0)
            return 0;
        info->has_row = true;
        info->grant_id = t.grant_id;
        info->data = t.data;
        info->active = t.revoked_at == 0;
        return 0;
    }
    if (rc != ERR_NOTFOUND)
        return rc;
    int revoked = store_jti_is_revoked(w->db, jti, err);
    if (revoked < 0)
        return revoked;
    info->active = revoked == 0;
    return 0;
}

/* Opaque tokens are what rand_token() draws: base64url text. Only such strings are looked up by their
 * hash: the rows of JWTs are keyed by SHA-256("jti:" + jti) (store_jti_key), and a jti is no secret
 * (introspection returns it, resource servers log it), so "jti:<jti>" must never reach that row as if it
 * were an opaque token. */
static bool is_opaque_text(const char *t, size_t len)
{
    return b64url_span(t, len) == len;
}

static int token_lookup_row(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                 struct token_info *info, struct errbuf *err)
{
    memset(info, 0, sizeof(*info));
    if (len == 0 || len > 8192)
        return 0;
    if (looks_like_jwt(token, len))
        return jwt_lookup(w, a, token, len, now, info, err);
    if (!is_opaque_text(token, len))
        return 0;
    struct store_token t;
    store_hash(token, len, info->row_key);
    int rc = store_token_get(w->db, a, info->row_key, &t, err);
    if (rc == ERR_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (t.kind == STORE_TOKEN_ACCESS)
        info->kind = "access_token";
    else if (t.kind == STORE_TOKEN_REFRESH)
        info->kind = "refresh_token";
    else
        return 0; /* codes, device codes, sessions are not introspectable */
    info->client_id = t.client_id;
    info->sub = t.sub;
    info->scope = t.scope;
    info->aud = t.aud;
    info->jti = t.jti;
    info->grant_id = t.grant_id;
    info->iat = t.iat;
    info->exp = t.exp;
    info->has_row = true;
    info->data = t.data;
    if (t.kind == STORE_TOKEN_ACCESS && t.data != NULL) {
        json_t *d = json_loads(t.data, JSON_REJECT_DUPLICATES, NULL);
        const char *jkt = cnf_jkt(json_object_get(d, "cnf"));
        info->jkt = jkt != NULL ? arena_strdup(a, jkt) : NULL;
        json_decref(d);
    }
    /* A rotated (consumed) refresh token is inactive, even inside the retry grace period. */
    info->active = t.revoked_at == 0 && t.consumed_at == 0 && t.exp > now;
    return 0;
}

/* A token of a client that has since been deleted is inactive: deleting a client ends its tokens. */
int token_lookup(struct worker *w, struct arena *a, const char *token, size_t len, int64_t now,
                 struct token_info *info, struct errbuf *err)
{
    int rc = token_lookup_row(w, a, token, len, now, info, err);
    if (rc != 0 || !info->active || info->client_id == NULL)
        return rc;
    /* A client of a metadata document has no row to delete: its tokens live out their own lifetimes (and
     * end together when the switch is turned off, below). */
    if (client_id_is_document(w->app, info->client_id))
        return 0;
    struct store_client sc;
    rc = client_lookup(w, a, info->client_id, &sc, err);
    if (rc == ERR_NOTFOUND) {
        info->active = false;
        return 0;
    }
    return rc;
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
    /* RFC 7009 §2.1: revoking a refresh token SHOULD also revoke the access tokens of the same grant. */
    if (strcmp(info.kind, "refresh_token") == 0 && info.grant_id != NULL)
        return store_grant_revoke(w->db, info.grant_id, now, err);
    if (!info.has_row)
        return store_jti_revoke(w->db, info.jti, info.exp, err);
    return store_token_revoke(w->db, info.row_key, now, err);
}
