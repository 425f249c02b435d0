/* grant_refresh.c: the refresh_token grant (RFC 6749 §6) with rotation: every use consumes the refresh
 * token and yields a new one of the same family (grant_id); a rotated token presented again after the
 * retry grace period revokes the whole family (RFC 9700 §4.14.2). The access token may be narrowed to a
 * subset of the grant's scope; the new refresh token keeps the grant's scope. A new ID token comes with
 * openid (OIDC Core §12.2: same sub and auth_time, no nonce). The row format is authz.h's. */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
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

/* A rotated token may come back once more shortly after (a client retrying a request whose response it
 * lost, or two tabs refreshing at once): within refresh.refresh_grace_period seconds that is a retry, not
 * a theft. */
static bool within_grace(const struct worker *w, int64_t consumed_at, int64_t now)
{
    /* A grace period of 0 turns retries off: any reuse is a replay, even within the same second. */
    int64_t grace = w->app->cfg->refresh.refresh_grace_period;
    return grace > 0 && now - consumed_at <= grace;
}

/* The family is revoked: reuse of a rotated refresh token means two parties hold it (RFC 9700 §4.14.2).
 * Called inside the consume's transaction (in_tx), it ends that first: the consume changed nothing, and
 * store.h asks for the group to end before revoking (the lost consume may hold the row's lock, which
 * another loser's revocation would wait for while this one waits for that revocation). */
static struct oauth_error reuse_detected(struct http_req *req, const struct client *c, const char *grant_id,
                                         bool in_tx)
{
    struct errbuf err;
    if (in_tx)
        store_rollback(req->worker->db);
    int rc = grant_revoke_family(req, c, grant_id, "refresh_token_reuse", &err);
    if (rc != 0)
        return oauth_store_failed(req, "grant_revoke", rc, &err);
    return OAUTH_ERROR(INVALID_GRANT, RT_REUSED);
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

    /* Validate on a plain read, sign, then consume and write in one transaction (as grant_code.c). */
    struct store_token rt;
    int rc = store_token_get(db, req->arena, hash, &rt, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && rt.kind != STORE_TOKEN_REFRESH))
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    if (rc != 0)
        return oauth_store_failed(req, "refresh_get", rc, &err);
    if (rt.client_id == NULL || strcmp(rt.client_id, c->client_id) != 0)
        return OAUTH_ERROR(INVALID_GRANT, "the refresh token was not issued to this client");
    if (rt.revoked_at != 0 || rt.exp <= now)
        return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
    if (rt.consumed_at != 0 && !within_grace(w, rt.consumed_at, now))
        return reuse_detected(req, c, rt.grant_id, false);

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
    struct store_user u;
    rc = store_user_get(db, req->arena, rt.sub, &u, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && u.disabled))
        return OAUTH_ERROR(INVALID_GRANT, "the user of this grant no longer exists or is disabled");
    if (rc != 0)
        return oauth_store_failed(req, "user_get", rc, &err);

    json_t *data = grant_data_parse(req->arena, rt.data);
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
    g.refresh_data = rt.data != NULL ? rt.data : "{}";
    g.id_token = token_scope_has(at_scope, "openid");
    grant_tokens_set_auth(&g, data);
    struct grant_tokens t;
    struct oauth_error e = grant_tokens_mint(req, &g, &t);
    if (oauth_failed(e))
        return e;

    rc = store_begin(db, &err);
    if (rc != 0)
        return oauth_store_failed(req, "begin", rc, &err);
    struct store_token consumed;
    rc = store_token_consume(db, req->arena, hash, STORE_TOKEN_REFRESH, now, &consumed, &err);
    if (rc == ERR_CONFLICT) {
        /* Already rotated: a retry inside the grace period gets a new pair of the same family; anything
         * later is reuse. A revoked or expired token never reaches here as a retry (checked above, and a
         * revocation since then shows in the returned row). */
        if (consumed.revoked_at != 0 || !within_grace(w, consumed.consumed_at, now)) {
            if (consumed.revoked_at != 0) {
                store_rollback(db);
                return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
            }
            return reuse_detected(req, c, rt.grant_id, true);
        }
        log_info("refresh_retry", LS("rid", req->rid), LS("client_id", c->client_id),
                 LS("grant_id", rt.grant_id), NULL);
    } else if (rc != 0) {
        store_rollback(db);
        if (rc == ERR_NOTFOUND) /* expired or revoked since the read */
            return OAUTH_ERROR(INVALID_GRANT, RT_INVALID);
        return oauth_store_failed(req, "refresh_consume", rc, &err);
    }
    e = grant_tokens_commit(req, &t);
    if (oauth_failed(e))
        return e;
    token_response_send(req, &t.at, at_scope, t.refresh_token, t.id_token);
    return OAUTH_OK;
}
