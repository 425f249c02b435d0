/* grant_refresh.c: the refresh_token grant (RFC 6749 §6) with rotation: every use consumes the refresh
 * token and yields a new one of the same family (grant_id), and a family has at most one live refresh
 * token (RFC 9700 §4.14.2). A used token presented again is reuse, which revokes the whole family, unless
 * refresh.refresh_grace_period (default 0: off) allows one retry of it: then the successor it got, never
 * used, is revoked and another issued in its place. The access token may be narrowed to a subset of the
 * grant's scope; the new refresh token keeps the grant's scope. A new ID token comes with openid (OIDC
 * Core §12.2: same sub and auth_time, no nonce). A refresh token bound to a DPoP key (RFC 9449 §5) is only
 * redeemed with a proof made with it; a proof binds the new access token. The row format is authz.h's. */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/grants.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "store/store.h"
#include "core/banned.h"

#define RT_INVALID "refresh token is invalid, expired or revoked"
#define RT_REUSED "refresh token was already used; every token of its grant has been revoked"

bool refresh_within_grace(int64_t grace, int64_t consumed_at, int64_t now)
{
    /* A grace period of 0 turns retries off: any reuse is a replay, even within the same second. Age is
     * taken as it reads; when the clock has stepped back past the consumption, the age is negative and
     * proves nothing, so it is refused rather than counted as "just now". */
    int64_t age = now - consumed_at;
    return grace > 0 && age >= 0 && age <= grace;
}

/* A rotated token may come back once shortly after (a client retrying a request whose response it lost):
 * within the grace period that is a retry, not a theft, if its successor was never used. Everything else
 * about a used or superseded token is reuse: two parties hold tokens of the family. */
enum refresh_verdict refresh_classify(const struct store_token *rt, const struct store_token *next,
                                      int64_t grace, int64_t now)
{
    if (rt->kind != STORE_TOKEN_REFRESH || rt->exp <= now)
        return REFRESH_INVALID;
    if (rt->revoked_at != 0) {
        /* Superseded: revoked by a retry of its predecessor before it was ever used. Whoever presents
         * it now received the response the retry claimed was lost. */
        return rt->consumed_at == 0 && rt->has_successor ? REFRESH_REUSE : REFRESH_INVALID;
    }
    if (rt->consumed_at == 0)
        return REFRESH_ROTATE;
    if (!refresh_within_grace(grace, rt->consumed_at, now) || rt->retried_at != 0 || !rt->has_successor ||
        next == NULL)
        return REFRESH_REUSE;
    /* The successor was used (or revoked): it reached whoever holds it, so this is no lost response. */
    if (next->consumed_at != 0 || next->revoked_at != 0)
        return REFRESH_REUSE;
    return REFRESH_RETRY;
}

/* The family is revoked: reuse of a rotated refresh token means two parties hold it (RFC 9700 §4.14.2).
 * Called inside the consume's transaction (in_tx), it ends that first: the consume changed nothing, and
 * store.h asks for the group to end before revoking (the lost consume may hold the row's lock, which
 * another loser's revocation would wait for while this one waits for that revocation). */
static struct oauth_error reuse_detected(struct http_req *req, const struct token_req *tr, const struct client *c,
                                         const char *grant_id, bool in_tx)
{
    if (in_tx)
        store_rollback(req->worker->db);
    struct oauth_error e = grant_revoke_family(req, tr, c, grant_id, "refresh_token_reuse");
    if (oauth_failed(e))
        return e;
    metrics_refresh_reuse();
    return OAUTH_ERROR(INVALID_GRANT, RT_REUSED);
}

/* The verdict on the row rt, reading its successor's row when the verdict depends on it. */
static int classify(struct http_req *req, const struct store_token *rt, int64_t now, enum refresh_verdict *out,
                    struct errbuf *err)
{
    int64_t grace = req->worker->app->cfg->refresh.refresh_grace_period;
    struct store_token next;
    bool have_next = false;
    if (rt->kind == STORE_TOKEN_REFRESH && rt->consumed_at != 0 && rt->revoked_at == 0 && rt->has_successor &&
        refresh_within_grace(grace, rt->consumed_at, now)) {
        int rc = store_token_get(req->worker->db, req->arena, rt->successor, &next, err);
        if (rc != 0 && rc != ERR_NOTFOUND)
            return rc;
        have_next = rc == 0;
    }
    *out = refresh_classify(rt, have_next ? &next : NULL, grace, now);
    return 0;
}

/* Inside the transaction, after the consume: for a retry, the successor the token got is revoked and
 * marked superseded by the new token, and the token records its spent retry; for a rotation, the token
 * records its successor. */
static int link_successor(struct store_conn *db, const uint8_t hash[STORE_HASH_LEN], const struct store_token *rt,
                          const struct grant_tokens *t, enum refresh_verdict v, int64_t now, struct errbuf *err)
{
    const uint8_t *next = t->refresh_row.hash;
    int rc = 0;
    if (v == REFRESH_RETRY) {
        rc = store_token_revoke(db, rt->successor, now, err);
        if (rc == 0)
            rc = store_token_set_successor(db, rt->successor, next, 0, err);
    }
    if (rc == 0)
        rc = store_token_set_successor(db, hash, next, v == REFRESH_RETRY ? now : 0, err);
    return rc;
}

static struct oauth_error refresh_done(struct http_req *req, const struct grant_tokens *t, const char *at_scope)
{
    if (!req->held) /* else counted by the group commit */
        metrics_tokens_issued(METRICS_GRANT_REFRESH_TOKEN, t->at.jwt, t->refresh_token != NULL,
                              t->id_token != NULL);
    token_response_send(req, &t->at, at_scope, t->refresh_token, t->id_token);
    return OAUTH_OK;
}

struct oauth_error grant_refresh_token(struct http_req *req, const struct client *c,
                                       const struct token_req *tr)
{
    struct worker *w = req->worker;
    struct store_conn *db = w->db;
    struct errbuf err;
    if (str_is_null(tr->refresh_token))
        return OAUTH_ERROR(INVALID_REQUEST, "refresh_token is required");
    if (tr->refresh_token.len > 512)
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    int64_t now = clock_now();
    uint8_t hash[STORE_HASH_LEN];
    store_hash(tr->refresh_token.p, tr->refresh_token.len, hash);

    /* Validate on a plain read (the token with its user), sign, then decide again and write in one
     * transaction (as grant_code.c): a rotation is two round trips on PostgreSQL. */
    struct store_token rt;
    struct store_user u;
    bool has_user;
    int rc = store_token_get_user(db, req->arena, hash, &rt, &u, &has_user, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && rt.kind != STORE_TOKEN_REFRESH))
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    if (rc != 0)
        return oauth_store_failed(req, "refresh_get", rc, &err);
    if (rt.client_id == NULL || strcmp(rt.client_id, c->client_id) != 0)
        return OAUTH_ERROR(INVALID_GRANT, "the refresh token was not issued to this client");
    json_t *data = grant_data_parse(req->arena, rt.data);
    /* RFC 9449 §5: a refresh token bound to a DPoP key (a public client's) needs a proof made with it. */
    struct oauth_error e = grant_dpop_binding(tr, json_string_value(json_object_get(data, "jkt")),
                                              "this refresh token is bound to a DPoP key: send a DPoP proof made "
                                              "with it (RFC 9449 section 5)");
    if (oauth_failed(e))
        return e;
    enum refresh_verdict verdict;
    rc = classify(req, &rt, now, &verdict, &err);
    if (rc != 0)
        return oauth_store_failed(req, "refresh_successor_get", rc, &err);
    if (verdict == REFRESH_INVALID)
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    if (verdict == REFRESH_REUSE)
        return reuse_detected(req, tr, c, rt.grant_id, false);

    const char *grant_scope = rt.scope != NULL ? rt.scope : "";
    struct scope_set granted;
    if (scope_parse(req->arena, grant_scope, strlen(grant_scope), &granted) != 0)
        granted = (struct scope_set){0};
    const char *at_scope = grant_scope;
    if (tr->scope_given) {
        /* RFC 6749 §6: the scope may only shrink; the grant itself keeps its scope. */
        if (!scope_subset(&tr->scope, &granted))
            return OAUTH_ERROR(INVALID_SCOPE, "requested scope exceeds the scope originally granted");
        at_scope = scope_join(req->arena, &tr->scope);
    }
    if (!str_is_null(tr->resource) && (rt.aud == NULL || !str_eq_c(tr->resource, rt.aud)))
        return OAUTH_ERROR(INVALID_TARGET, "resource does not match the API this grant was issued for");
    const struct resource *res = NULL;
    if (rt.aud != NULL && rt.aud[0] != '\0') {
        res = app_resource(w->app, rt.aud);
        if (res == NULL)
            return OAUTH_ERROR(INVALID_GRANT, "the API this grant was issued for is no longer configured");
    }
    if (rt.sub == NULL)
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    if (!has_user || u.disabled)
        return OAUTH_ERROR(INVALID_GRANT, "the user of this grant no longer exists or is disabled");

    struct grant_tokens_req g = {0};
    g.client = c;
    g.sub = rt.sub;
    g.grant_id = rt.grant_id;
    g.at_scope = at_scope;
    g.grant_scope = grant_scope;
    g.aud = res != NULL ? res->identifier : NULL;
    g.res = res;
    g.now = now;
    g.refresh = true;
    g.refresh_data = rt.data != NULL ? rt.data : "{}"; /* a binding (jkt) stays with the family */
    g.dpop = tr->dpop;
    g.id_token = token_scope_has(at_scope, "openid");
    grant_tokens_set_auth(&g, data);
    g.grant_claims = grant_data_claims(data);
    bool scope_claims = c->id_token_claims == ID_TOKEN_CLAIMS_SCOPE;
    json_t *claims = g.id_token ? grant_id_token_claims(&u, at_scope, scope_claims, g.grant_claims) : NULL;
    g.claims = claims;
    struct grant_tokens t;
    e = grant_tokens_mint(req, &g, &t);
    json_decref(claims);
    if (oauth_failed(e))
        return e;

    struct store_token cur;
    if (verdict == REFRESH_ROTATE && grant_redeem_in_one(tr, &t)) {
        /* The usual case, in one call: consumed, linked to its successor, the new rows written. Exactly one
         * of concurrent presentations consumes an unused token; the others decide again below. */
        rc = grant_tokens_redeem(req, hash, STORE_TOKEN_REFRESH, now, t.refresh_row.hash, &t, &cur, &err);
        if (rc == 0)
            return refresh_done(req, &t, at_scope);
        if (rc != ERR_CONFLICT && rc != ERR_NOTFOUND)
            return oauth_store_failed(req, "refresh_redeem", rc, &err);
    }

    e = grant_begin(req, tr);
    if (oauth_failed(e))
        return e;
    /* Inside the transaction the row is read again: a concurrent rotation, retry or revocation since the
     * read above decides now (a retry within the grace period, a reuse, or nothing left to do). */
    rc = store_token_consume(db, req->arena, hash, STORE_TOKEN_REFRESH, now, &cur, &err);
    if (rc == 0) {
        verdict = REFRESH_ROTATE;
    } else if (rc == ERR_CONFLICT || rc == ERR_NOTFOUND) {
        rc = store_token_get(db, req->arena, hash, &cur, &err);
        if (rc == 0)
            rc = classify(req, &cur, now, &verdict, &err);
        else if (rc == ERR_NOTFOUND) {
            rc = 0;
            verdict = REFRESH_INVALID;
        }
        if (rc == 0 && verdict == REFRESH_ROTATE)
            verdict = REFRESH_INVALID; /* not consumable (expired meanwhile) */
    }
    if (rc != 0) {
        store_rollback(db);
        return oauth_store_failed(req, "refresh_consume", rc, &err);
    }
    if (verdict == REFRESH_REUSE)
        return reuse_detected(req, tr, c, rt.grant_id, true);
    if (verdict == REFRESH_INVALID) {
        store_rollback(db);
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    }
    if (verdict == REFRESH_RETRY)
        log_info("refresh_retry", LS("rid", req->rid), LS("client_id", c->client_id), LS("grant_id", rt.grant_id),
                 NULL);
    rc = link_successor(db, hash, &cur, &t, verdict, now, &err);
    if (rc != 0) {
        store_rollback(db);
        return oauth_store_failed(req, "refresh_link", rc, &err);
    }
    e = grant_tokens_commit(req, tr, &t);
    if (oauth_failed(e))
        return e;
    return refresh_done(req, &t, at_scope);
}
