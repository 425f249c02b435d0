/* router.c: maps a request path under the issuer to its endpoint (DESIGN "Endpoint layout"). Exact
 * matches only; unknown paths get a JSON 404. */
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "oauth/authorize.h"
#include "oauth/endpoints.h"
#include "core/banned.h"

static const struct {
    const char *suffix;
    void (*fn)(struct http_req *req);
} routes[] = {
    {"/.well-known/openid-configuration", oauth_discovery_handle},
    {"/.well-known/oauth-authorization-server", oauth_metadata_handle},
    {"/jwks", oauth_jwks_handle},
    {"/token", oauth_token_handle},
    {"/token/introspection", oauth_introspect_handle},
    {"/token/revocation", oauth_revoke_handle},
    {OAUTH_USERINFO_PATH, oauth_userinfo_handle},
    {"/healthz", oauth_healthz_handle},
    {"/auth", oauth_authorize_handle},
    {"/interaction/login", oauth_login_handle},
    {"/interaction/resume", oauth_resume_handle},
    {"/interaction/select_account", oauth_select_account_handle},
    {"/interaction/consent", oauth_consent_handle},
    {"/session/end", oauth_end_session_handle},
    {"/assets/style.css", oauth_assets_handle},
};

void app_handle(struct http_req *req)
{
    const struct app *app = req->worker->app;
    const char *ip = app->cfg->issuer_path;
    size_t iplen = strlen(ip);
    struct str p = req->path;
    /* RFC 8414 §3: for an issuer with a path, the metadata lives at /.well-known/... + issuer path. */
    if (iplen > 0 && str_has_prefix(p, "/.well-known/oauth-authorization-server") &&
        p.len == strlen("/.well-known/oauth-authorization-server") + iplen &&
        memcmp(p.p + strlen("/.well-known/oauth-authorization-server"), ip, iplen) == 0) {
        oauth_metadata_handle(req);
        return;
    }
    if (str_eq_c(p, "/healthz")) {
        oauth_healthz_handle(req);
        return;
    }
    if (p.len >= iplen && memcmp(p.p, ip, iplen) == 0) {
        struct str rest = {p.p + iplen, p.len - iplen};
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            if (str_eq_c(rest, routes[i].suffix)) {
                routes[i].fn(req);
                return;
            }
        }
    }
    oauth_error_send_json(req, OAUTH_ERROR(NOT_FOUND, "no such endpoint"));
}

bool app_offload(const struct http_req *req)
{
    /* The login form post verifies an argon2id hash: tens of milliseconds of CPU that must not stall the
     * event loop's other connections. */
    const char *ip = req->worker->app->cfg->issuer_path;
    size_t iplen = strlen(ip);
    return str_eq_c(req->method, "POST") && req->path.len == iplen + strlen("/interaction/login") &&
           memcmp(req->path.p, ip, iplen) == 0 && str_eq_c((struct str){req->path.p + iplen, req->path.len - iplen},
                                                          "/interaction/login");
}

void app_busy(struct http_req *req, unsigned retry_after_s)
{
    /* The only offloaded request is the login post. */
    oauth_login_busy(req, retry_after_s);
}

const struct resource *app_resource(const struct app *app, const char *identifier)
{
    for (size_t i = 0; i < app->n_resources; i++)
        if (strcmp(app->resources[i].identifier, identifier) == 0)
            return &app->resources[i];
    return NULL;
}
