/* grant_device.c: the device_code grant (RFC 8628 §3.4, §3.5): a device polls the token endpoint with its
 * device code until the person has approved or denied it on the verification page (device_page.c). A
 * pending poll is one store read and no write (the pace of polls is kept in memory: device.h); an
 * approved code is redeemed once, in one transaction with the tokens it yields (access token, refresh token
 * per the client's refresh_token_policy, ID token when openid was granted). The rows are device.h's. */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/device.h"
#include "oauth/dpop.h"
#include "oauth/grants.h"
#include "oauth/tokens.h"
#include "store/store.h"
#include "core/banned.h"

#define DEVICE_CODE_INVALID "device_code is not valid"
#define DEVICE_CODE_USED "device_code was already used; the tokens issued for it are revoked"

/* RFC 8628 §3.5's answers while the code is not approved: the person denied it (access_denied, with the
 * token endpoint's status, 400), it expired, or it is pending (authorization_pending, or slow_down for a
 * poll sooner than the code's interval). */
static struct oauth_error not_approved(struct http_req *req, const struct token_req *tr,
                                       const struct store_token *row, const uint8_t *key, int64_t now)
{
    if (row->revoked_at != 0) {
        struct oauth_error e = OAUTH_ERROR(ACCESS_DENIED, "the user denied the authorization request");
        e.http_status = 400;
        return e;
    }
    if (row->exp <= now)
        return OAUTH_ERROR(EXPIRED_TOKEN, "the device_code has expired; start again with a new device code");
    /* The pace below is state: a replayed assertion must not touch it (and a slow_down is not an answer
     * to one). */
    struct oauth_error e = grant_jti_alone(req, tr);
    if (oauth_failed(e))
        return e;
    const struct app *app = req->worker->app;
    if (!device_pace_poll(app->device_pace, key, clock_tick_ms(), app->cfg->device.interval, row->exp, now))
        return OAUTH_ERROR(SLOW_DOWN, "polling too fast: wait 5 seconds more between polls (RFC 8628 section 3.5)");
    return OAUTH_ERROR(AUTHORIZATION_PENDING, "the user has not yet approved or denied the request");
}

/* A second redemption revokes what the first one produced, as for authorization codes (RFC 6749 §4.1.2):
 * of a device code stolen from the back channel and the device itself, whichever polls second finds the
 * code used, and the tokens of whichever came first are then of no use. */
static struct oauth_error replayed(struct http_req *req, const struct token_req *tr, const struct client *c,
                                   const char *grant_id)
{
    struct oauth_error e = grant_revoke_family(req, tr, c, grant_id, "device_code_replay");
    return oauth_failed(e) ? e : OAUTH_ERROR(INVALID_GRANT, DEVICE_CODE_USED);
}

struct oauth_error grant_device_code(struct http_req *req, const struct client *c, const struct token_req *tr)
{
    struct worker *w = req->worker;
    struct store_conn *db = w->db;
    struct errbuf err;
    if (str_is_null(tr->device_code))
        return OAUTH_ERROR(INVALID_REQUEST, "device_code is required");
    if (tr->device_code.len > 512)
        return OAUTH_ERROR(INVALID_GRANT, DEVICE_CODE_INVALID);
    int64_t now = clock_now();
    uint8_t key[STORE_HASH_LEN];
    store_hash(tr->device_code.p, tr->device_code.len, key);

    /* The row with its approver, in one read; then one call consumes it and writes the tokens. */
    struct store_token row;
    struct store_user u;
    bool has_user;
    int rc = store_token_get_user(db, req->arena, key, &row, &u, &has_user, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && row.kind != STORE_TOKEN_DEVICE))
        return OAUTH_ERROR(INVALID_GRANT, DEVICE_CODE_INVALID);
    if (rc != 0)
        return oauth_store_failed(req, "device_get", rc, &err);
    if (row.client_id == NULL || strcmp(row.client_id, c->client_id) != 0)
        return OAUTH_ERROR(INVALID_GRANT, "the device_code was not issued to this client");
    if (row.consumed_at != 0)
        return replayed(req, tr, c, row.grant_id);
    if (row.sub == NULL || row.revoked_at != 0 || row.exp <= now)
        return not_approved(req, tr, &row, key, now);

    /* Approved. As at the code grant: everything is checked and signed before the transaction, which
     * consumes the code and writes the tokens, or does nothing. */
    json_t *data = grant_data_parse(req->arena, row.data);
    if (data == NULL || row.grant_id == NULL) {
        log_error("bad_device_row", LS("rid", req->rid), LS("client_id", c->client_id), NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the device_code could not be read");
    }
    /* RFC 8707 §2.2: a resource at the token endpoint may only repeat what was authorized. */
    if (!str_is_null(tr->resource) && (row.aud == NULL || !str_eq_c(tr->resource, row.aud)))
        return OAUTH_ERROR(INVALID_TARGET, "resource does not match the one of the device authorization request");
    const struct resource *res = NULL;
    if (row.aud != NULL && row.aud[0] != '\0') {
        res = app_resource(w->app, row.aud);
        if (res == NULL)
            return OAUTH_ERROR(INVALID_GRANT, "the API this device_code was issued for is no longer configured");
    }
    /* The approver must still be a user who may sign in: approval and redemption may be minutes apart. */
    if (!has_user || u.disabled)
        return OAUTH_ERROR(INVALID_GRANT, "the user who approved this device_code no longer exists or is disabled");

    struct grant_tokens_req g;
    grant_tokens_req_from_row(req, c, tr, &row, res, now, data, &g);
    /* No claims request at /device/auth: the scope's claims, for a client with id_token_claims: scope. */
    bool scope_claims = c->id_token_claims == ID_TOKEN_CLAIMS_SCOPE;
    json_t *claims = g.id_token ? grant_id_token_claims(&u, g.grant_scope, scope_claims, NULL) : NULL;
    g.claims = claims;
    struct grant_tokens t;
    struct oauth_error e = grant_tokens_mint(req, &g, &t);
    json_decref(claims);
    if (oauth_failed(e))
        return e;

    e = grant_redeem(req, tr, key, STORE_TOKEN_DEVICE, now, &t, &rc);
    if (oauth_failed(e))
        return e;
    if (rc == ERR_CONFLICT) /* a concurrent poll redeemed it first */
        return replayed(req, tr, c, row.grant_id);
    if (rc == ERR_NOTFOUND) /* expired or revoked since the read */
        return OAUTH_ERROR(EXPIRED_TOKEN, "the device_code has expired; start again with a new device code");
    if (!req->held) /* else counted by the group commit */
        metrics_tokens_issued(METRICS_GRANT_DEVICE_CODE, t.at.jwt, t.refresh_token != NULL, t.id_token != NULL);
    token_response_send(req, &t.at, g.at_scope, t.refresh_token, t.id_token);
    return OAUTH_OK;
}
