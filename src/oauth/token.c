/* token.c: token endpoint (RFC 6749 §3.2, §5; RFC 8707 resource indicators with the `audience` alias):
 * parses the request, authenticates the client and dispatches by grant_type, through the grant table
 * (grant_table.h), to the grant's handler in grant_<name>.c (authorization_code §4.1.3,
 * client_credentials §4.4, refresh_token §6, the device code of RFC 8628 §3.4), which sends the success
 * response. Client authentication is in client.c, what the grants share (minting, the success response)
 * in grant_common.c. Every failure is one struct oauth_error rendered by error.c. A grant type not served
 * here (implicit, RFC 6749 §4.2, whose tokens come from the authorization endpoint) is
 * unsupported_grant_type. A DPoP proof (RFC 9449 §5) is checked here, before the grant. */
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/grant_table.h"
#include "oauth/grants.h"
#include "oauth/scope.h"
#include "core/banned.h"

/* One optional, non-repeated parameter (RFC 6749 §3.1). */
static struct oauth_error get_one(const struct form *f, const char *name, struct str *out,
                                  const char *repeated)
{
    if (form_get(f, name, out) < 0)
        return OAUTH_ERROR(INVALID_REQUEST, repeated);
    return OAUTH_OK;
}

static struct oauth_error token_parse(struct http_req *req, const struct form *f, struct token_req *out)
{
    memset(out, 0, sizeof(*out));
    int rc = form_get(f, "grant_type", &out->grant_type);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "grant_type is repeated");
    if (rc > 0)
        return OAUTH_ERROR(INVALID_REQUEST, "grant_type is required");
    struct oauth_error e = scope_resource_parse(req->arena, req->worker->app, f, &out->scope, &out->resource);
    if (oauth_failed(e))
        return e;
    out->scope_given = out->scope.n > 0;
    e = get_one(f, "code", &out->code, "code is repeated");
    if (!oauth_failed(e))
        e = get_one(f, "redirect_uri", &out->redirect_uri, "redirect_uri is repeated");
    if (!oauth_failed(e))
        e = get_one(f, "code_verifier", &out->code_verifier, "code_verifier is repeated");
    if (!oauth_failed(e))
        e = get_one(f, "refresh_token", &out->refresh_token, "refresh_token is repeated");
    if (!oauth_failed(e))
        e = get_one(f, "device_code", &out->device_code, "device_code is repeated");
    return e;
}

/* The handlers of GRANT_TABLE's rows (grants.h), by flag; NULL for a row not served yet. */
static const struct {
    unsigned flag;
    struct oauth_error (*handle)(struct http_req *req, const struct client *c, const struct token_req *tr);
} handlers[] = {
#define GRANT_HANDLER(id, bit, name, handler, conf, yields_rt, redirect, token_ep, served) {GRANT_##id, handler},
    GRANT_TABLE(GRANT_HANDLER)
#undef GRANT_HANDLER
};

/* Picks the grant handler from the grant table: grant types that are unknown or not served are
 * unsupported_grant_type, served ones the client is not registered for (or, for a confidential-only
 * grant, a public client) unauthorized_client (RFC 6749 §5.2). */
static struct oauth_error token_dispatch(struct http_req *req, const struct client *c,
                                         const struct token_req *tr)
{
    const struct grant_type *g = grant_by_name(tr->grant_type.p);
    size_t h = 0;
    while (g != NULL && h < sizeof(handlers) / sizeof(handlers[0]) && handlers[h].flag != g->flag)
        h++;
    if (g == NULL || !g->served || h == sizeof(handlers) / sizeof(handlers[0]) || handlers[h].handle == NULL)
        return OAUTH_ERROR(UNSUPPORTED_GRANT_TYPE, g != NULL && g->served && !g->token_endpoint
                                                       ? "the implicit grant is not used at the token endpoint: "
                                                         "its tokens come from the authorization endpoint"
                                                       : "grant_type is not supported by this server");
    if (!(c->grant_types & g->flag))
        return OAUTH_ERROR(UNAUTHORIZED_CLIENT, "this client is not registered for that grant_type");
    /* RFC 6749 §4.4: a client registered before the rule, or whose method changed since, is refused here. */
    if (g->confidential && c->auth_method == CLIENT_AUTH_NONE)
        return OAUTH_ERROR(UNAUTHORIZED_CLIENT,
                           arena_printf(req->arena, "public clients cannot use %s", g->name));
    return handlers[h].handle(req, c, tr);
}

/* The request's DPoP proof (RFC 9449 §4.3, §5): verified here, its jti recorded by the grant with the
 * token's rows. Required from a client registered with dpop_bound_access_tokens (§5.2). */
static struct oauth_error token_dpop(struct http_req *req, const struct client *c, struct dpop_proof *proof,
                                     struct token_req *tr)
{
    bool present;
    struct oauth_error e = dpop_check(req, OAUTH_TOKEN_PATH, NULL, proof, &present);
    if (oauth_failed(e))
        return e;
    if (!present && c->dpop_bound_access_tokens)
        return OAUTH_ERROR(INVALID_DPOP_PROOF, "this client must send a DPoP proof with every token request "
                                               "(dpop_bound_access_tokens)");
    tr->dpop = present ? proof : NULL;
    return OAUTH_OK;
}

void oauth_token_handle(struct http_req *req)
{
    struct form f;
    struct token_req tr;
    struct client c;
    struct dpop_proof proof;
    struct client_jti jti = {0};
    struct oauth_error e = backchannel_form(req, &f);
    if (!oauth_failed(e))
        e = client_authenticate_deferred(req, &f, true, &c, &jti);
    if (!oauth_failed(e))
        e = token_parse(req, &f, &tr);
    tr.jti = &jti;
    if (!oauth_failed(e))
        e = token_dpop(req, &c, &proof, &tr);
    if (!oauth_failed(e))
        e = token_dispatch(req, &c, &tr);
    /* A client assertion's jti is recorded by the grant with the tokens it commits (one transaction per
     * token request); on every other path (nothing issued: an error) it is recorded here, alone, so that
     * the assertion cannot be used again. A replay found here is the answer, whatever the grant said. */
    if (jti.pending) {
        struct oauth_error je = client_jti_put(req, &jti);
        if (oauth_failed(je))
            e = je;
    }
    if (oauth_failed(e))
        oauth_error_send_json(req, e);
}
