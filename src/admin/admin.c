/* admin.c: the admin listener's entry point (admin.h): the route table, authorization by this server's own
 * access tokens (RFC 6750 §2.1, §3, §3.1: the built-in API <issuer>/admin as audience, a scope per part)
 * and the JSON bodies and path parameters of a call. The routes themselves are in clients.c, users.c,
 * keys.c and metrics.c (docs/admin-api.yaml describes them); what they answer with is in call.c, which
 * neither they nor call.c call back here for. */
#include "admin/admin.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin_internal.h"
#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "oauth/tokens.h"
#include "core/banned.h"

#define ADMIN_SCOPE_NAME(s) "ostiary:" #s,
static const char *const admin_scopes[] = {ADMIN_SCOPES(ADMIN_SCOPE_NAME)};
#define N_ADMIN_SCOPES (sizeof(admin_scopes) / sizeof(admin_scopes[0]))
#define SCOPE_ALL "ostiary:admin"

/* The realm of the WWW-Authenticate challenges (RFC 6750 §3). */
#define REALM "ostiary-admin"

void admin_api_resource(const struct config *cfg, struct arena *a, struct resource *out)
{
    memset(out, 0, sizeof(*out));
    out->identifier = arena_printf(a, "%s%s", cfg->issuer, ADMIN_API_PATH);
    out->audience = out->identifier;
    out->scopes = (const char **)admin_scopes;
    out->n_scopes = N_ADMIN_SCOPES;
    out->format = TOKEN_FORMAT_JWT;
    /* As an API of the file without signing_alg (config_check.c): RS256 when configured, else the first. */
    out->signing_alg = cfg->keys.algorithms[0];
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++)
        if (strcmp(cfg->keys.algorithms[i], "RS256") == 0)
            out->signing_alg = cfg->keys.algorithms[i];
    out->client_credentials_only = true;
}

/* ---- routes ---- */

enum route_flags {
    ROUTE_BODY = 1 << 0,     /* takes a JSON object body (required unless ROUTE_BODY_OPT) */
    ROUTE_BODY_OPT = 1 << 1, /* the body may be absent */
    ROUTE_OFFLOAD = 1 << 2,  /* hashes a password or makes keys: served off the event loop */
    ROUTE_METRICS = 1 << 3,  /* /metrics: without a token when admin.metrics_public is set */
};

static const struct route {
    const char *method;
    const char *path;  /* "{...}" a parameter segment; also the metrics label */
    const char *scope; /* the finer scope; SCOPE_ALL grants every route */
    void (*fn)(struct admin_call *c);
    unsigned flags;
} routes[] = {
    {"GET", "/admin/clients", "ostiary:clients", admin_clients_list, 0},
    {"POST", "/admin/clients", "ostiary:clients", admin_clients_create, ROUTE_BODY},
    {"GET", "/admin/clients/{client_id}", "ostiary:clients", admin_clients_show, 0},
    {"PATCH", "/admin/clients/{client_id}", "ostiary:clients", admin_clients_update, ROUTE_BODY},
    {"DELETE", "/admin/clients/{client_id}", "ostiary:clients", admin_clients_delete, 0},
    {"POST", "/admin/clients/{client_id}/secret", "ostiary:clients", admin_clients_rotate_secret, 0},
    {"DELETE", "/admin/clients/{client_id}/grants", "ostiary:grants", admin_clients_revoke_grants, 0},
    {"GET", "/admin/users", "ostiary:users", admin_users_list, 0},
    {"POST", "/admin/users", "ostiary:users", admin_users_create, ROUTE_BODY | ROUTE_OFFLOAD},
    {"GET", "/admin/users/{id}", "ostiary:users", admin_users_show, 0},
    {"PATCH", "/admin/users/{id}", "ostiary:users", admin_users_update, ROUTE_BODY},
    {"DELETE", "/admin/users/{id}", "ostiary:users", admin_users_delete, 0},
    {"PUT", "/admin/users/{id}/password", "ostiary:users", admin_users_set_password,
     ROUTE_BODY | ROUTE_OFFLOAD},
    {"DELETE", "/admin/users/{id}/grants", "ostiary:grants", admin_users_revoke_grants, 0},
    {"GET", "/admin/users/{id}/consents", "ostiary:consents", admin_consents_list, 0},
    {"DELETE", "/admin/users/{id}/consents", "ostiary:consents", admin_consents_revoke_all, 0},
    {"DELETE", "/admin/users/{id}/consents/{client_id}", "ostiary:consents", admin_consents_revoke, 0},
    {"GET", "/admin/users/{id}/sessions", "ostiary:sessions", admin_sessions_list, 0},
    {"DELETE", "/admin/users/{id}/sessions", "ostiary:sessions", admin_sessions_revoke_all, 0},
    {"GET", "/admin/keys", "ostiary:keys", admin_keys_list, 0},
    {"POST", "/admin/keys/rotate", "ostiary:keys", admin_keys_rotate,
     ROUTE_BODY | ROUTE_BODY_OPT | ROUTE_OFFLOAD},
    {"GET", "/metrics", "ostiary:metrics", admin_metrics, ROUTE_METRICS},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))
#define MAX_SEGMENTS 8

static unsigned route_ids[N_ROUTES];
static pthread_once_t route_ids_once = PTHREAD_ONCE_INIT;

static void route_ids_register(void)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        route_ids[i] = metrics_route_register(routes[i].path);
}

/* Splits p (after its leading '/') into segments; false when there are too many or one is empty. */
static bool split_path(struct str p, struct str *seg, size_t *n)
{
    *n = 0;
    if (p.len == 0 || p.p[0] != '/')
        return false;
    size_t i = 1;
    while (i <= p.len) {
        size_t j = i;
        while (j < p.len && p.p[j] != '/')
            j++;
        if (j == i || *n == MAX_SEGMENTS)
            return false;
        seg[(*n)++] = (struct str){p.p + i, j - i};
        i = j + 1;
    }
    return true;
}

/* Whether the request path matches route r; its parameter segments go to params (undecoded). */
static bool path_matches(const struct route *r, const struct str *seg, size_t n, struct str *params)
{
    struct str pat[MAX_SEGMENTS];
    size_t np = 0, k = 0;
    if (!split_path(str_c(r->path), pat, &np) || np != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (pat[i].len > 0 && pat[i].p[0] == '{') {
            if (k < 2)
                params[k++] = seg[i];
            continue;
        }
        if (!str_eq(pat[i], seg[i]))
            return false;
    }
    return true;
}

static bool method_is(const struct http_req *req, const char *m)
{
    /* Every resource that answers GET answers HEAD (RFC 9110 §9.3.2). */
    return str_eq_c(req->method, m) || (strcmp(m, "GET") == 0 && str_eq_c(req->method, "HEAD"));
}

/* The route of req: *r the one for its method, or NULL with *path_known telling whether another method
 * has that path (405) or not (404). */
static const struct route *route_find(const struct http_req *req, struct str *params, bool *path_known)
{
    struct str seg[MAX_SEGMENTS];
    size_t n = 0;
    *path_known = false;
    if (!split_path(req->path, seg, &n))
        return NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!path_matches(&routes[i], seg, n, params))
            continue;
        *path_known = true;
        if (method_is(req, routes[i].method))
            return &routes[i];
    }
    return NULL;
}

/* ---- authorization (RFC 6750) ---- */

/* 401 or 403 with its Bearer challenge. error NULL: the request had no token (§3.1: no error code then). */
static void challenge(struct admin_call *c, int status, const char *error, const char *desc,
                      const char *scope)
{
    const char *h = error == NULL ? "Bearer realm=\"" REALM "\""
                                  : arena_printf(c->a,
                                                 "Bearer realm=\"" REALM "\", error=\"%s\", "
                                                 "error_description=\"%s\"%s%s%s",
                                                 error, desc, scope != NULL ? ", scope=\"" : "",
                                                 scope != NULL ? scope : "", scope != NULL ? "\"" : "");
    http_res_header(c->req, "WWW-Authenticate", h);
    const char *type = status == 403                    ? ADMIN_PROBLEM_INSUFFICIENT_SCOPE
                       : status == 401 && error != NULL ? ADMIN_PROBLEM_INVALID_TOKEN
                       : status == 400                  ? ADMIN_PROBLEM_INVALID_REQUEST
                                                        : NULL;
    admin_problem(c, status, type, desc);
}

/* Checks the bearer token: this server's active access token, issued to a client for itself
 * (client_credentials), for the admin API, with `scope` or ostiary:admin. Sets c->who. False when refused
 * (the response is sent). */
static bool authorize(struct admin_call *c, const char *scope)
{
    struct http_req *req = c->req;
    size_t count = 0;
    struct str h = http_req_header(req, "authorization", &count);
    struct auth_header ah;
    if (count > 1) {
        challenge(c, 400, "invalid_request", "more than one Authorization header", NULL);
        return false;
    }
    if (count == 0 || auth_header_parse(c->a, h.p, h.len, &ah) != 0 || ah.scheme != AUTH_BEARER) {
        /* No bearer token (absent, another scheme, or one this server cannot read): a plain challenge. */
        challenge(c, 401, NULL, "a bearer access token for the admin API is required", NULL);
        return false;
    }
    struct token_info ti;
    struct errbuf err = {{0}};
    if (token_lookup(req->worker, c->a, ah.token.p, ah.token.len, clock_now(), &ti, &err) != 0) {
        admin_store_failed(c, "token_lookup", &err);
        return false;
    }
    const char *aud = arena_printf(c->a, "%s%s", c->app->issuer, ADMIN_API_PATH);
    if (!ti.active || ti.kind == NULL || strcmp(ti.kind, "access_token") != 0) {
        challenge(c, 401, "invalid_token", "the access token is invalid, expired or revoked", NULL);
        return false;
    }
    /* The admin API takes bearer tokens only: a DPoP-bound one (RFC 9449 §7.2) used as a bearer token here
     * would make its binding worthless. */
    if (ti.jkt != NULL) {
        challenge(c, 401, "invalid_token",
                  "the access token is DPoP-bound; the admin API accepts bearer tokens only", NULL);
        return false;
    }
    /* Only client_credentials tokens (no grant) are for the admin API; the resource is cc-only as well. */
    if (!token_scope_has(ti.aud, aud) || ti.grant_id != NULL) {
        challenge(c, 401, "invalid_token", "the access token is not for the admin API (its audience)", NULL);
        return false;
    }
    if (!token_scope_has(ti.scope, scope) && !token_scope_has(ti.scope, SCOPE_ALL)) {
        challenge(c, 403, "insufficient_scope", arena_printf(c->a, "this request needs the scope %s", scope),
                  scope);
        return false;
    }
    c->who = ti.client_id;
    req->log_client_id = ti.client_id;
    return true;
}

/* ---- requests ---- */

static bool is_json(const struct http_req *req, bool merge_patch)
{
    size_t count = 0;
    struct str ct = http_req_header(req, "content-type", &count);
    if (count != 1)
        return false;
    size_t n = 0;
    while (n < ct.len && ct.p[n] != ';' && ct.p[n] != ' ')
        n++;
    struct str type = {ct.p, n};
    return str_ieq_c(type, "application/json") ||
           (merge_patch && str_ieq_c(type, "application/merge-patch+json"));
}

/* Reads the JSON object body of a route that takes one. False when it is refused (the problem is sent). */
static bool read_body(struct admin_call *c, const struct route *r)
{
    struct http_req *req = c->req;
    if (req->body.len == 0 && (r->flags & ROUTE_BODY_OPT))
        return true;
    if (!is_json(req, strcmp(r->method, "PATCH") == 0)) {
        admin_problem(c, 415, NULL,
                      strcmp(r->method, "PATCH") == 0
                          ? "the body must be JSON (application/json or application/merge-patch+json)"
                          : "the body must be JSON (application/json)");
        return false;
    }
    json_error_t jerr;
    json_t *o = json_loadb(req->body.p, req->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(o)) {
        json_decref(o);
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                      o == NULL ? "the body is not valid JSON (or repeats a member)"
                                : "the body must be a JSON object");
        return false;
    }
    arena_defer(c->a, (void (*)(void *))json_decref, o);
    c->body = o;
    return true;
}

static bool decode_params(struct admin_call *c, const struct str *raw, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct str v;
        if (url_decode(c->a, raw[i].p, raw[i].len, false, &v) != 0 || v.len == 0 ||
            memchr(v.p, '\0', v.len)) {
            admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST, "a path segment is not a valid identifier");
            return false;
        }
        c->param[i] = v.p;
    }
    return true;
}

static void allow_header(struct http_req *req)
{
    struct str seg[MAX_SEGMENTS], params[2];
    size_t n = 0;
    char allow[64] = "";
    split_path(req->path, seg, &n);
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!path_matches(&routes[i], seg, n, params))
            continue;
        size_t l = strlen(allow);
        snprintf(allow + l, sizeof(allow) - l, "%s%s%s", l > 0 ? ", " : "", routes[i].method,
                 strcmp(routes[i].method, "GET") == 0 ? ", HEAD" : "");
    }
    http_res_header(req, "Allow", allow);
}

void admin_handle(struct http_req *req)
{
    struct admin_call c = {.req = req, .app = req->worker->app, .db = req->worker->db, .a = req->arena};
    struct str raw[2] = {STR_NULL, STR_NULL};
    bool path_known = false;
    const struct route *r = route_find(req, raw, &path_known);
    if (r == NULL) {
        if (path_known) {
            allow_header(req);
            admin_problem(&c, 405, NULL, "the resource does not take this method");
        } else {
            admin_problem(&c, 404, NULL, "no such admin resource");
        }
        return;
    }
    pthread_once(&route_ids_once, route_ids_register);
    req->route_id = route_ids[r - routes];
    if (atomic_load(&c.app->state->store_lost)) {
        admin_problem(&c, 503, NULL, "the server's storage is unavailable");
        return;
    }
    bool open = (r->flags & ROUTE_METRICS) && c.app->cfg->admin.metrics_public;
    if (open)
        c.who = "-";
    else if (!authorize(&c, r->scope))
        return;
    if (form_parse(c.a, req->query.p != NULL ? req->query.p : "", req->query.p != NULL ? req->query.len : 0,
                   c.app->cfg->limits.max_params, &c.query) != FORM_OK) {
        admin_problem(&c, 400, ADMIN_PROBLEM_INVALID_REQUEST, "the query string is malformed");
        return;
    }
    if (!decode_params(&c, raw, raw[1].p != NULL ? 2 : raw[0].p != NULL ? 1 : 0))
        return;
    if ((r->flags & ROUTE_BODY) && !read_body(&c, r))
        return;
    r->fn(&c);
}

bool admin_offload(const struct http_req *req)
{
    struct str params[2];
    bool path_known;
    const struct route *r = route_find(req, params, &path_known);
    return r != NULL && (r->flags & ROUTE_OFFLOAD);
}

void admin_busy(struct http_req *req, unsigned retry_after_s)
{
    struct admin_call c = {.req = req, .a = req->arena};
    http_res_header(req, "Retry-After", arena_printf(req->arena, "%u", retry_after_s));
    admin_problem(&c, 503, NULL, "the server is busy; try again later");
}
