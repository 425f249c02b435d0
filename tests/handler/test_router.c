/* test_router.c: the routes table in-process (src/router.c): one match per request (app_offload
 * records the route, app_handle reuses it), the login post on the pool, 405 with Allow from the table
 * (RFC 9110 §15.5.6) as JSON or as a page, CORS headers and preflights for the routes browser clients
 * call, the paths outside the issuer's (RFC 8414 §3 metadata, /healthz at the root), 404, the admin
 * listener, and the 503 of a lost store. */
#include <stdio.h>
#include <string.h>

#include "harness_http.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

static struct hx *h;  /* issuer at the root */
static struct hx *hp; /* issuer with a path */

static void setup(void)
{
    h = hx_open("keys:\n  algorithms: [ES256]\n");
    hp = hx_open("issuer: https://op.example.com/oidc\nkeys:\n  algorithms: [ES256]\n");
}

static void teardown(void)
{
    hx_close(h);
    hx_close(hp);
}

static struct http_req *run(struct hx *x, const char *method, const char *target)
{
    struct http_req *req = hx_request(x, method, target);
    hx_run(req);
    return req;
}

static bool content_type_is(struct http_req *req, const char *prefix)
{
    const char *v = hx_res_header(req, "content-type");
    return v != NULL && strncmp(v, prefix, strlen(prefix)) == 0;
}

/* One row: a method and path, the status, and the Allow header of a 405 (NULL: none expected). */
struct route_case {
    const char *method, *path;
    int status;
    const char *allow;
};

static bool run_cases(struct hx *x, const struct route_case *rows, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        struct http_req *req = run(x, rows[i].method, rows[i].path);
        const char *allow = hx_res_header(req, "allow");
        if (req->res.status != rows[i].status || (rows[i].allow == NULL) != (allow == NULL) ||
            (allow != NULL && strcmp(allow, rows[i].allow) != 0)) {
            fprintf(stderr, "  %s %s: got %d Allow %s, want %d Allow %s\n", rows[i].method, rows[i].path,
                    req->res.status, allow ? allow : "-", rows[i].status, rows[i].allow ? rows[i].allow : "-");
            ok = false;
        }
    }
    return ok;
}
#define RUN_CASES(x, rows) ASSERT(run_cases((x), (rows), sizeof(rows) / sizeof((rows)[0])))

TEST(router_methods_from_the_table)
{
    static const struct route_case rows[] = {
        {"GET", "/token", 405, "POST, OPTIONS"},
        {"PUT", "/token", 405, "POST, OPTIONS"},
        {"GET", "/token/introspection", 405, "POST"},
        {"OPTIONS", "/token/introspection", 405, "POST"},
        {"DELETE", "/token/revocation", 405, "POST, OPTIONS"},
        {"DELETE", "/me", 405, "GET, HEAD, POST, OPTIONS"},
        {"POST", "/jwks", 405, "GET, HEAD"},
        {"POST", "/.well-known/openid-configuration", 405, "GET, HEAD"},
        {"PUT", "/healthz", 405, "GET, HEAD"},
        {"POST", "/assets/style.css", 405, "GET, HEAD"},
        {"PUT", "/auth", 405, "GET, HEAD, POST"},
        {"OPTIONS", "/auth", 405, "GET, HEAD, POST"},
        {"PATCH", "/interaction/login", 405, "GET, HEAD, POST"},
        {"DELETE", "/session/end", 405, "GET, HEAD, POST"},
        {"POST", "/interaction/resume", 405, "GET, HEAD"},
        {"GET", "/jwks", 200, NULL},
        {"HEAD", "/jwks", 200, NULL},
        {"GET", "/healthz", 200, NULL},
        {"GET", "/nowhere", 404, NULL},
        {"PUT", "/nowhere", 404, NULL},
        {"GET", "/token/", 404, NULL},
    };
    RUN_CASES(h, rows);
}

TEST(router_405_rendering)
{
    /* Back-channel and memory routes: JSON, with the description naming the methods. */
    struct http_req *req = run(h, "GET", "/token");
    ASSERT_OAUTH_ERROR(req, 405, "invalid_request");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "this endpoint accepts POST and OPTIONS");
    ASSERT_STREQ(hx_res_header(req, "access-control-allow-origin"), "*"); /* a CORS route, errors too */
    req = run(h, "POST", "/jwks");
    ASSERT(content_type_is(req, "application/json"));
    ASSERT_STREQ(hx_json_str(req, "error_description"), "this endpoint accepts GET and HEAD");
    /* Pages: the HTML error page. */
    req = run(h, "PUT", "/auth");
    ASSERT_EQ(req->res.status, 405);
    ASSERT(content_type_is(req, "text/html"));
    ASSERT(strstr(req->res.body.p, "this endpoint accepts GET, HEAD and POST") != NULL);
    ASSERT(hx_res_header(req, "access-control-allow-origin") == NULL); /* never CORS on pages */
}

TEST(router_cors_preflight)
{
    struct http_req *req = run(h, "OPTIONS", "/token");
    ASSERT_EQ(req->res.status, 204);
    ASSERT_STREQ(hx_res_header(req, "access-control-allow-methods"), "POST");
    ASSERT_STREQ(hx_res_header(req, "access-control-allow-origin"), "*");
    req = run(h, "OPTIONS", "/me");
    ASSERT_EQ(req->res.status, 204);
    ASSERT_STREQ(hx_res_header(req, "access-control-allow-methods"), "GET, HEAD, POST");
    /* Not a CORS route: no preflight, and no CORS header on its answers. */
    req = run(h, "OPTIONS", "/token/introspection");
    ASSERT_EQ(req->res.status, 405);
    ASSERT(hx_res_header(req, "access-control-allow-origin") == NULL);
    req = run(h, "POST", "/token/introspection");
    ASSERT(hx_res_header(req, "access-control-allow-origin") == NULL);
}

TEST(router_offload_matches_once)
{
    struct http_req *req = hx_request(h, "POST", "/interaction/login");
    ASSERT(app_offload(req));
    ASSERT(req->route != NULL);
    req = hx_request(h, "GET", "/interaction/login");
    ASSERT(!app_offload(req));
    req = hx_request(h, "POST", "/token");
    ASSERT(!app_offload(req));
    req = hx_request(h, "PUT", "/interaction/login"); /* not served at all: 405 on the loop */
    ASSERT(!app_offload(req));
    /* The handler hook reuses the recorded route: it does not match the path again. */
    req = hx_request(h, "GET", "/jwks");
    ASSERT(!app_offload(req));
    req->path = str_c("/nowhere");
    app_handle(req);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(content_type_is(req, "application/jwk-set+json"));
}

/* Issuer https://op.example.com/oidc: routes are under /oidc, except the RFC 8414 §3 metadata, which also
 * lives before the issuer's path, and /healthz, also at the root. */
TEST(router_paths_outside_the_issuer)
{
    static const struct route_case rows[] = {
        {"GET", "/oidc/.well-known/openid-configuration", 200, NULL},
        {"GET", "/.well-known/openid-configuration", 404, NULL},
        {"GET", "/token", 404, NULL},
        {"GET", "/.well-known/oauth-authorization-server/oidc", 200, NULL},
        {"GET", "/oidc/.well-known/oauth-authorization-server", 200, NULL},
        {"GET", "/.well-known/oauth-authorization-server/other", 404, NULL},
        {"GET", "/.well-known/oauth-authorization-server", 404, NULL},
        {"GET", "/healthz", 200, NULL},
        {"GET", "/oidc/healthz", 200, NULL},
        {"POST", "/healthz", 405, "GET, HEAD"},
    };
    RUN_CASES(hp, rows);
}

/* The admin listener serves the admin API only: none of the OAuth routes, nothing offloaded. */
TEST(router_admin_listener)
{
    struct http_req *req = hx_request(h, "POST", "/interaction/login");
    req->listener = HTTP_LISTENER_ADMIN;
    ASSERT(!app_offload(req));
    app_handle(req);
    ASSERT_EQ(req->res.status, 404);
    ASSERT(content_type_is(req, "application/problem+json"));
    req = hx_request(h, "GET", "/jwks");
    req->listener = HTTP_LISTENER_ADMIN;
    hx_run(req);
    ASSERT_EQ(req->res.status, 404);
    ASSERT(content_type_is(req, "application/problem+json"));
}

TEST(router_store_lost)
{
    atomic_store(&hp->state.store_lost, true);
    struct http_req *req = run(hp, "POST", "/oidc/token");
    ASSERT_OAUTH_ERROR(req, 503, "temporarily_unavailable");
    req = run(hp, "GET", "/oidc/auth?client_id=x");
    ASSERT_EQ(req->res.status, 503);
    ASSERT(content_type_is(req, "text/html"));
    req = run(hp, "GET", "/oidc/jwks"); /* from memory */
    ASSERT_EQ(req->res.status, 200);
    req = run(hp, "PUT", "/oidc/token"); /* the method is refused first */
    ASSERT_EQ(req->res.status, 405);
    atomic_store(&hp->state.store_lost, false);
}

TESTS(T(router_methods_from_the_table), T(router_405_rendering), T(router_cors_preflight),
      T(router_offload_matches_once), T(router_paths_outside_the_issuer), T(router_admin_listener),
      T(router_store_lost))
