/* router.c: maps a request path under the issuer to its endpoint (DESIGN "Endpoint layout"). Exact
 * matches only; unknown paths get a JSON 404. Once the store is lost (app_store_ok), the endpoints that
 * need it answer 503 and only what is served from memory still works. */
#include <string.h>

#include "admin/admin.h"
#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/endpoints.h"
#include "oauth/frontchannel.h"
#include "store/store.h"
#include "core/banned.h"

/* What a route needs, and how it answers when the store is lost. */
enum route_kind {
    ROUTE_MEMORY, /* served from memory (or reports health): always served */
    ROUTE_API,    /* needs the store; errors are JSON */
    ROUTE_PAGE,   /* needs the store; errors are HTML pages */
};

static const struct {
    const char *suffix;
    void (*fn)(struct http_req *req);
    enum route_kind kind;
} routes[] = {
    {"/.well-known/openid-configuration", oauth_discovery_handle, ROUTE_MEMORY},
    {"/.well-known/oauth-authorization-server", oauth_metadata_handle, ROUTE_MEMORY},
    {"/jwks", oauth_jwks_handle, ROUTE_MEMORY},
    {"/token", oauth_token_handle, ROUTE_API},
    {"/token/introspection", oauth_introspect_handle, ROUTE_API},
    {"/token/revocation", oauth_revoke_handle, ROUTE_API},
    {OAUTH_USERINFO_PATH, oauth_userinfo_handle, ROUTE_API},
    {"/healthz", oauth_healthz_handle, ROUTE_MEMORY},
    {"/auth", oauth_authorize_handle, ROUTE_PAGE},
    {"/interaction/login", oauth_login_handle, ROUTE_PAGE},
    {"/interaction/resume", oauth_resume_handle, ROUTE_PAGE},
    {"/interaction/select_account", oauth_select_account_handle, ROUTE_PAGE},
    {"/interaction/consent", oauth_consent_handle, ROUTE_PAGE},
    {"/session/end", oauth_end_session_handle, ROUTE_PAGE},
    {"/assets/style.css", oauth_assets_handle, ROUTE_MEMORY},
};

void app_enter(struct worker *w)
{
    struct app *cur = atomic_load_explicit(&w->state->current, memory_order_acquire);
    if (cur == w->app)
        return;
    w->app = cur;
    /* Rows cached under the previous configuration (a client the reload changed) are read again. */
    client_cache_free(w->clients);
    w->clients = NULL;
}

bool app_store_ok(struct worker *w)
{
    struct app *app = w->app;
    if (atomic_load(&app->state->store_lost))
        return false;
    struct errbuf err = {{0}};
    if (store_check(w->db, &err) == 0)
        return true;
    if (!atomic_exchange(&app->state->store_lost, true))
        log_error("store_lost", LS("detail", err.msg),
                  LS("effect", "endpoints that need the store answer 503 and /healthz reports an error until the "
                               "store is restored and the server restarted"),
                  NULL);
    return false;
}

/* What was written from now on would vanish with the unlinked file (or land in a stranger's store): no
 * token, code or session is issued into it. */
static void refuse_store_lost(struct http_req *req, enum route_kind kind)
{
    struct oauth_error e = OAUTH_ERROR(TEMPORARILY_UNAVAILABLE, "the server's storage is unavailable");
    e.http_status = 503;
    if (kind == ROUTE_PAGE)
        page_error(req, e);
    else
        oauth_error_send_json(req, e);
}

void app_handle(struct http_req *req)
{
    app_enter(req->worker);
    /* The admin listener serves the admin API only, and the main listener never serves it. */
    if (req->listener == HTTP_LISTENER_ADMIN) {
        admin_handle(req);
        return;
    }
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
                if (routes[i].kind != ROUTE_MEMORY && atomic_load(&app->state->store_lost))
                    refuse_store_lost(req, routes[i].kind);
                else
                    routes[i].fn(req);
                return;
            }
        }
    }
    oauth_error_send_json(req, OAUTH_ERROR(NOT_FOUND, "no such endpoint"));
}

bool app_offload(const struct http_req *req)
{
    app_enter(req->worker);
    /* The login form post verifies an argon2id hash: tens of milliseconds of CPU that must not stall the
     * event loop's other connections. */
    const char *ip = req->worker->app->cfg->issuer_path;
    size_t iplen = strlen(ip);
    return req->listener == HTTP_LISTENER_MAIN && str_eq_c(req->method, "POST") && req->path.len == iplen + strlen("/interaction/login") &&
           memcmp(req->path.p, ip, iplen) == 0 && str_eq_c((struct str){req->path.p + iplen, req->path.len - iplen},
                                                          "/interaction/login");
}

void app_busy(struct http_req *req, unsigned retry_after_s)
{
    app_enter(req->worker);
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
