/* grant_client_credentials.c: the client_credentials grant (RFC 6749 §4.4) with resource indicators
 * (RFC 8707): the client acts for itself, so there is no sub, no refresh token and no ID token. With a DPoP
 * proof (RFC 9449 §5) the token is bound to its key. */
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/grants.h"
#include "oauth/tokens.h"
#include "store/store.h"
#include "core/banned.h"

/* Picks the API and the granted scope for a client_credentials request. */
static struct oauth_error cc_validate(struct http_req *req, const struct client *c, const struct token_req *tr,
                                      const struct resource **res, struct scope_set *granted)
{
    struct app *app = req->worker->app;
    struct scope_set allowed;
    scope_parse(req->arena, c->scope, strlen(c->scope), &allowed);
    *res = NULL;
    if (!str_is_null(tr->resource)) {
        char *id = str_dup(req->arena, tr->resource);
        *res = app_resource(app, id);
        if (*res == NULL)
            return OAUTH_ERROR(INVALID_TARGET, "unknown resource: no API is registered with that identifier");
        if (!client_may_target(c, id))
            return OAUTH_ERROR(INVALID_TARGET, "this client may not request tokens for that resource");
        struct scope_set api = {(*res)->scopes, (*res)->n_scopes};
        allowed = scope_intersect(req->arena, &allowed, &api);
    }
    if (tr->scope_given) {
        if (!scope_subset(&tr->scope, &allowed))
            return OAUTH_ERROR(INVALID_SCOPE, *res != NULL
                                                  ? "requested scope is not allowed for this client and resource"
                                                  : "requested scope is not allowed for this client");
        *granted = tr->scope;
    } else {
        *granted = allowed; /* RFC 6749 §3.3: absent scope means the pre-defined default */
    }
    return OAUTH_OK;
}

struct oauth_error grant_client_credentials(struct http_req *req, const struct client *c,
                                            const struct token_req *tr)
{
    const struct resource *res;
    struct scope_set granted;
    struct oauth_error e = cc_validate(req, c, tr, &res, &granted);
    if (oauth_failed(e))
        return e;
    struct access_token_req ar = {0};
    ar.client = c;
    ar.scope = scope_join(req->arena, &granted);
    ar.res = res;
    ar.jkt = tr->dpop != NULL ? tr->dpop->jkt : NULL;
    ar.now = clock_now();
    struct access_token at;
    struct errbuf err;
    int rc;
    /* A DPoP proof's jti and a client assertion's jti are recorded with the token's row (opaque tokens) in
     * one transaction: a replay leaves no token behind and costs this request only, and neither jti costs
     * a transaction of its own. Such requests take no part in the worker's group commit
     * (token_issue_access), where a replay would fail the other requests' rows. */
    bool own_txn = tr->dpop != NULL || (tr->jti != NULL && tr->jti->pending);
    if (!own_txn) {
        rc = token_issue_access(req, &ar, &at, &err);
        if (rc == ERR_UNAVAILABLE) /* the store's write; a signature never says this */
            return oauth_store_failed(req, "token_put", rc, &err);
    } else {
        rc = token_mint_access(req->worker, req->arena, &ar, &at, &err);
    }
    if (rc != 0) {
        log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", c->client_id), LS("detail", err.msg),
                  NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the token could not be issued");
    }
    if (own_txn) {
        struct grant_tokens t = {0};
        t.at = at;
        t.dpop = tr->dpop;
        e = grant_begin(req, tr);
        if (!oauth_failed(e))
            e = grant_tokens_commit(req, tr, &t);
        if (oauth_failed(e))
            return e;
    }
    metrics_tokens_issued(METRICS_GRANT_CLIENT_CREDENTIALS, at.jwt, false, false);
    token_response_send(req, &at, ar.scope, NULL, NULL);
    return OAUTH_OK;
}
