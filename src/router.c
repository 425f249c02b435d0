/* router.c: the one entry point the HTTP server calls (app.h), above both things it serves: the admin
 * listener's requests go to the admin API (admin/), the others to the OAuth endpoints (oauth/). It maps a
 * request path under the issuer to its endpoint, once per request, by the routes table: exact paths, the
 * methods each endpoint serves (405 with Allow for the others, RFC 9110 §15.5.6), CORS for the endpoints
 * browser clients call, and which requests run on the login pool. Unknown paths get a JSON 404. Once the
 * store is lost (app_store_ok), the endpoints that need it answer 503 and only what is served from memory
 * still works. */
#include <pthread.h>
#include <string.h>

#include "admin/admin.h"
#include "app.h"
#include "core/arena.h"
#include "core/metrics.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/device.h"
#include "oauth/endpoints.h"
#include "oauth/error.h"
#include "oauth/frontchannel.h"
#include "oauth/request_object.h"
#include "oauth/tokens.h"
#include "core/banned.h"

/* What a route needs, and how it answers when the store is lost. */
enum route_kind {
    ROUTE_MEMORY, /* served from memory (or reports health): always served */
    ROUTE_API,    /* needs the store; errors are JSON */
    ROUTE_PAGE,   /* needs the store; errors are HTML pages */
};

/* Request methods, as route masks. GET implies HEAD (RFC 9110 §9.3.2); OPTIONS is the CORS preflight. */
enum route_methods {
    M_GET = 1 << 0,
    M_HEAD = 1 << 1,
    M_POST = 1 << 2,
    M_OPTIONS = 1 << 3,
    M_PUT = 1 << 4,
    M_DELETE = 1 << 5,
};
static const char *const method_names[] = {"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"};

/* Where a route's path is, besides under the issuer. */
enum route_place {
    UNDER_ISSUER = 0,
    ALSO_AT_ROOT,          /* /healthz, for probes that do not know the issuer */
    ALSO_BEFORE_ISSUER,    /* RFC 8414 §3: /.well-known/oauth-authorization-server + the issuer's path */
    PREFIX,                /* the suffix and one more path segment after it (RFC 7592's client URIs) */
};

struct app_route {
    const char *suffix;                /* the path after the issuer's, exactly */
    void (*fn)(struct http_req *req);
    enum route_kind kind;
    unsigned methods;                  /* enum route_methods it serves; any other gets 405 with Allow */
    unsigned pool;                     /* of those, the ones served on the login pool (app_offload) */
    void (*busy)(struct http_req *req, unsigned retry_after_s); /* with pool: a refused request's answer */
    /* Also on the pool, for the methods of `methods`, when this says so: a request that must wait for the
     * network (a client assertion whose jwks_uri is not cached, oauth/client_auth.c). Asked on the loop. */
    bool (*pool_if)(struct http_req *req);
    bool cors;                         /* called by browser clients: CORS headers and preflight (cors.c) */
    enum route_place place;
};

/* A push waits on the pool when its client assertion or its request object needs a jwks_uri fetched. */
static bool par_needs_fetch(struct http_req *req)
{
    return client_auth_needs_fetch(req) || request_object_needs_fetch(req);
}

/* /auth's pool question: its request object or its client's metadata document must be fetched first. */
static bool authorize_needs_fetch(struct http_req *req)
{
    return request_object_needs_fetch(req) || client_id_needs_fetch(req);
}

/* The routes: one match per request (app_offload, else app_handle), methods and pool from the row. */
static const struct app_route routes[] = {
    {.suffix = "/.well-known/openid-configuration", .fn = oauth_discovery_handle, .kind = ROUTE_MEMORY,
     .methods = M_GET},
    {.suffix = "/.well-known/oauth-authorization-server", .fn = oauth_metadata_handle, .kind = ROUTE_MEMORY,
     .methods = M_GET, .place = ALSO_BEFORE_ISSUER},
    {.suffix = "/jwks", .fn = oauth_jwks_handle, .kind = ROUTE_MEMORY, .methods = M_GET},
    /* Client authentication may fetch a jwks_uri (seconds at worst, fetch.timeout_ms): such requests wait
     * on the pool, never on the loop (here and at /device/auth and /request, which authenticate clients
     * the same way). */
    {.suffix = OAUTH_TOKEN_PATH, .fn = oauth_token_handle, .kind = ROUTE_API, .methods = M_POST, .cors = true,
     .pool_if = client_auth_needs_fetch, .busy = client_auth_busy},
    {.suffix = OAUTH_INTROSPECTION_PATH, .fn = oauth_introspect_handle, .kind = ROUTE_API, .methods = M_POST,
     .pool_if = client_auth_needs_fetch, .busy = client_auth_busy},
    {.suffix = "/token/revocation", .fn = oauth_revoke_handle, .kind = ROUTE_API, .methods = M_POST, .cors = true,
     .pool_if = client_auth_needs_fetch, .busy = client_auth_busy},
    {.suffix = OAUTH_USERINFO_PATH, .fn = oauth_userinfo_handle, .kind = ROUTE_API, .methods = M_GET | M_POST,
     .cors = true},
    {.suffix = "/healthz", .fn = oauth_healthz_handle, .kind = ROUTE_MEMORY, .methods = M_GET,
     .place = ALSO_AT_ROOT},
    /* A request object whose client's jwks_uri is not cached, or a client_id that names a metadata document
     * not cached yet, waits for the fetch on the pool. */
    {.suffix = "/auth", .fn = oauth_authorize_handle, .kind = ROUTE_PAGE, .methods = M_GET | M_POST,
     .pool_if = authorize_needs_fetch, .busy = oauth_authorize_busy},
    /* The login post verifies an argon2id hash: tens of milliseconds of CPU that must not stall the event
     * loop's other connections. */
    {.suffix = "/interaction/login", .fn = oauth_login_handle, .kind = ROUTE_PAGE, .methods = M_GET | M_POST,
     .pool = M_POST, .busy = oauth_login_busy},
    /* Reached by the 303 after a login; nothing posts to it (README's endpoint table). */
    {.suffix = "/interaction/resume", .fn = oauth_resume_handle, .kind = ROUTE_PAGE, .methods = M_GET},
    {.suffix = "/interaction/select_account", .fn = oauth_select_account_handle, .kind = ROUTE_PAGE,
     .methods = M_GET | M_POST},
    {.suffix = "/interaction/consent", .fn = oauth_consent_handle, .kind = ROUTE_PAGE, .methods = M_GET | M_POST},
    {.suffix = "/session/end", .fn = oauth_end_session_handle, .kind = ROUTE_PAGE, .methods = M_GET | M_POST},
    /* RFC 8628: reads no cookie, so open to any origin like /token (a device's app may be a web page). */
    {.suffix = DEVICE_AUTH_PATH, .fn = oauth_device_auth_handle, .kind = ROUTE_API, .methods = M_POST, .cors = true,
     .pool_if = client_auth_needs_fetch, .busy = client_auth_busy},
    {.suffix = DEVICE_PAGE_PATH, .fn = oauth_device_page_handle, .kind = ROUTE_PAGE, .methods = M_GET | M_POST},
    {.suffix = "/assets/style.css", .fn = oauth_assets_handle, .kind = ROUTE_MEMORY, .methods = M_GET},
    {.suffix = "/request", .fn = oauth_par_handle, .kind = ROUTE_API, .methods = M_POST,
     .pool_if = par_needs_fetch, .busy = client_auth_busy},
    {.suffix = "/reg", .fn = oauth_registration_handle, .kind = ROUTE_API, .methods = M_POST},
    /* RFC 7592: a registered client's configuration endpoint, /reg/<client_id>. */
    {.suffix = "/reg/", .fn = oauth_registration_client_handle, .kind = ROUTE_API,
     .methods = M_GET | M_PUT | M_DELETE, .place = PREFIX},
};

static void send_not_found(struct http_req *req)
{
    oauth_error_send_json(req, OAUTH_ERROR(NOT_FOUND, "no such endpoint"));
}

/* Any path no row matches, with any method. */
static const struct app_route not_found = {.suffix = "", .fn = send_not_found, .kind = ROUTE_MEMORY};
/* Whatever comes on the admin listener: the admin API, which has its own paths and methods
 * (admin/admin.h). The main listener never serves it. */
static const struct app_route admin_api = {.suffix = "", .fn = admin_handle, .kind = ROUTE_MEMORY};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* The metrics label of each row of routes[] (its suffix), registered once; not_found is 0, "unmatched". */
static unsigned route_ids[N_ROUTES];
static pthread_once_t route_ids_once = PTHREAD_ONCE_INIT;

static void route_ids_register(void)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        route_ids[i] = metrics_route_register(routes[i].suffix);
}

/* Tags req with the metrics label of its route (core/metrics.h: requests by route). */
static void route_tag(struct http_req *req, const struct app_route *r)
{
    if (r < routes || r >= routes + N_ROUTES)
        return;
    pthread_once(&route_ids_once, route_ids_register);
    req->route_id = route_ids[r - routes];
}

static const struct app_route *route_match(const struct http_req *req)
{
    if (req->listener == HTTP_LISTENER_ADMIN)
        return &admin_api;
    const char *ip = req->worker->app->cfg->issuer_path;
    size_t iplen = strlen(ip);
    struct str p = req->path;
    bool under = p.len >= iplen && memcmp(p.p, ip, iplen) == 0;
    struct str rest = {p.p + (under ? iplen : 0), under ? p.len - iplen : 0};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct app_route *r = &routes[i];
        size_t n = strlen(r->suffix);
        if (r->place == PREFIX) {
            /* One non-empty segment after the prefix. */
            if (under && rest.len > n && memcmp(rest.p, r->suffix, n) == 0 &&
                memchr(rest.p + n, '/', rest.len - n) == NULL)
                return r;
            continue;
        }
        if (under && str_eq_c(rest, r->suffix))
            return r;
        if (r->place == ALSO_AT_ROOT && str_eq_c(p, r->suffix))
            return r;
        if (r->place == ALSO_BEFORE_ISSUER && iplen > 0 && p.len == n + iplen && memcmp(p.p, r->suffix, n) == 0 &&
            memcmp(p.p + n, ip, iplen) == 0)
            return r;
    }
    return &not_found;
}

static unsigned method_bit(struct str m)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (str_eq_c(m, method_names[i]))
            return 1u << i;
    return 0;
}

/* Every method the route answers: its own, HEAD with GET, OPTIONS when it is open to CORS. */
static unsigned route_allows(const struct app_route *r)
{
    return r->methods | ((r->methods & M_GET) ? M_HEAD : 0) | (r->cors ? M_OPTIONS : 0);
}

/* "GET, HEAD, POST", or with last_sep " and ": "GET, HEAD and POST" (arena memory). */
static const char *methods_text(struct arena *a, unsigned methods, const char *last_sep)
{
    const char *out = "";
    unsigned left = methods;
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
        if (!(left & (1u << i)))
            continue;
        left &= ~(1u << i);
        out = out[0] == '\0' ? method_names[i]
                             : arena_printf(a, "%s%s%s", out, left != 0 ? ", " : last_sep, method_names[i]);
    }
    return out;
}

/* RFC 9110 §15.5.6: 405 with the methods the route serves, as JSON or a page like its other errors. */
static void method_not_allowed(struct http_req *req, const struct app_route *r)
{
    unsigned allows = route_allows(r);
    http_res_header(req, "Allow", methods_text(req->arena, allows, ", "));
    struct oauth_error e = OAUTH_ERROR(
        INVALID_REQUEST, arena_printf(req->arena, "this endpoint accepts %s", methods_text(req->arena, allows, " and ")));
    e.http_status = 405;
    if (r->kind == ROUTE_PAGE)
        page_error(req, e);
    else
        oauth_error_send_json(req, e);
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

void app_handle(struct http_req *req)
{
    app_enter(req->worker);
    const struct app_route *r = req->route != NULL ? req->route : route_match(req);
    req->route = r;
    route_tag(req, r);
    if (r == &not_found || r == &admin_api) {
        r->fn(req);
        return;
    }
    unsigned m = method_bit(req->method);
    if (r->cors && m == M_OPTIONS) {
        oauth_cors_preflight(req, methods_text(req->arena, route_allows(r) & ~M_OPTIONS, ", "));
        return;
    }
    if (r->cors)
        oauth_cors_allow(req); /* on every answer, errors included */
    if (!(route_allows(r) & m)) {
        method_not_allowed(req, r);
        return;
    }
    if (r->kind != ROUTE_MEMORY && atomic_load(&req->worker->app->state->store_lost)) {
        refuse_store_lost(req, r->kind);
        return;
    }
    r->fn(req);
}

bool app_offload(struct http_req *req)
{
    app_enter(req->worker);
    req->route = route_match(req);
    /* The admin API's password and key routes: its own table says which (admin.h). */
    if (req->route == &admin_api)
        return admin_offload(req);
    if ((req->route->pool & method_bit(req->method)) != 0)
        return true;
    return req->route->pool_if != NULL && (req->route->methods & method_bit(req->method)) != 0 &&
           !atomic_load(&req->worker->app->state->store_lost) && req->route->pool_if(req);
}

int app_flush(struct worker *w)
{
    return tokens_flush(w);
}

void app_held_failed(struct http_req *req, int rc)
{
    oauth_error_send_json(req, oauth_store_error(rc));
}

bool app_held_retry(struct worker *w, const struct http_req *req)
{
    return tokens_held_retry(w, req->rid);
}

void app_busy(struct http_req *req, unsigned retry_after_s)
{
    app_enter(req->worker);
    /* Only requests of a route with a pool are offloaded, and each such route says how to refuse. */
    if (req->route == &admin_api)
        admin_busy(req, retry_after_s);
    else
        req->route->busy(req, retry_after_s);
}
