/* test_token.c: the token endpoint in-process (src/oauth/token.c, client.c, grant_table.c): the dispatch
 * by grant type through the grant table (RFC 6749 §5.2: unsupported_grant_type for what is not served,
 * unauthorized_client for what the client is not registered for or, being public, may not use), that
 * discovery's grant_types_supported is exactly what the dispatch serves, and client authentication (RFC
 * 6749 §2.3.1: HTTP Basic, the body, none; one method only, the registered one). */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/rand.h"
#include "oauth/client.h"
#include "oauth/grant_table.h"
#include "store/store.h"

#include "harness_http.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

#define DEVICE "urn:ietf:params:oauth:grant-type:device_code"

static const char *const yaml = "keys:\n"
                                "  algorithms: [ES256]\n"
                                "resources:\n"
                                "  - identifier: https://api.example.com/\n"
                                "    scopes: [read, write]\n"
                                "clients:\n"
                                "  - client_id: cc\n"
                                "    client_secret: cc-secret\n"
                                "    grant_types: [client_credentials]\n"
                                "    scope: read\n"
                                "  - client_id: post\n"
                                "    client_secret: post-secret\n"
                                "    token_endpoint_auth_method: client_secret_post\n"
                                "    grant_types: [client_credentials]\n"
                                "    scope: read\n"
                                "  - client_id: code\n"
                                "    client_secret: code-secret\n"
                                "    redirect_uris: ['https://rp.example.com/cb']\n"
                                "  - client_id: spa\n"
                                "    redirect_uris: ['https://spa.example.com/cb']\n"
                                "  - client_id: all\n"
                                "    client_secret: all-secret\n"
                                "    redirect_uris: ['https://rp.example.com/cb']\n"
                                "    grant_types: [authorization_code, client_credentials, refresh_token,\n"
                                "                  '" DEVICE "']\n"
                                "    scope: read\n";

static struct hx *h;

static void setup(void)
{
    h = hx_open(yaml);
}

static void teardown(void)
{
    hx_close(h);
}

/* POST /token with `body`, authenticated with Basic when id is not NULL. */
static struct http_req *post_token(const char *id, const char *secret, const char *body)
{
    struct http_req *req = hx_request(h, "POST", "/token");
    if (id != NULL)
        hx_basic(req, id, secret);
    hx_form(req, body);
    hx_run(req);
    return req;
}

static const char *grant_body(const char *grant_type)
{
    return arena_printf(h->arena, "grant_type=%s&code=nope&refresh_token=nope&device_code=nope",
                        strcmp(grant_type, DEVICE) == 0 ? "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
                                                        : grant_type);
}

TEST(token_client_credentials_served)
{
    struct http_req *req = post_token("cc", "cc-secret", "grant_type=client_credentials");
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "access_token") != NULL);
    ASSERT_STREQ(hx_json_str(req, "token_type"), "Bearer");
    ASSERT_STREQ(hx_res_header(req, "cache-control"), "no-store");
}

/* Every served row redeemed at the token endpoint is dispatched (its handler answers: never
 * unsupported_grant_type), for a client registered for all of them. implicit, served at the authorization
 * endpoint only, is not. */
TEST(token_every_served_grant_is_dispatched)
{
    size_t n = 0;
    for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g)) {
        if (!g->token_endpoint)
            continue;
        n++;
        struct http_req *req = post_token("all", "all-secret", grant_body(g->name));
        const char *error = hx_json_str(req, "error");
        if (error != NULL && strcmp(error, "unsupported_grant_type") == 0)
            fprintf(stderr, "  %s: %s\n", g->name, req->res.body.p);
        ASSERT(req->res.status == 200 || (error != NULL && strcmp(error, "invalid_grant") == 0));
    }
    ASSERT_EQ(n, 4);
}

/* Discovery's grant_types_supported is the set of grant types the dispatch serves (the served rows, and no
 * name outside the table), and implicit, whose tokens come from the authorization endpoint: at the token
 * endpoint it is unsupported_grant_type, saying so. */
TEST(token_discovery_equals_dispatch)
{
    struct http_req *req = hx_request(h, "GET", "/.well-known/openid-configuration");
    hx_run(req);
    ASSERT_EQ(req->res.status, 200);
    json_t *adv = json_object_get(hx_json(req), "grant_types_supported");
    ASSERT(json_is_array(adv));
    json_incref(adv);
    const char *const names[] = {"authorization_code", "client_credentials", "refresh_token", DEVICE,
                                 "password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"};
    size_t served = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        bool advertised = false;
        size_t k;
        json_t *v;
        json_array_foreach(adv, k, v) advertised |= strcmp(json_string_value(v), names[i]) == 0;
        req = post_token("all", "all-secret", grant_body(names[i]));
        const char *error = hx_json_str(req, "error");
        bool unsupported = error != NULL && strcmp(error, "unsupported_grant_type") == 0;
        if (strcmp(names[i], "implicit") == 0) {
            ASSERT(advertised && unsupported);
            ASSERT(strstr(hx_json_str(req, "error_description"), "authorization endpoint") != NULL);
            served++;
            continue;
        }
        if (advertised == unsupported) {
            fprintf(stderr, "  %s: advertised %d, answer %s\n", names[i], advertised, req->res.body.p);
            json_decref(adv);
            ASSERT(advertised != unsupported);
        }
        served += advertised;
    }
    ASSERT_EQ(served, json_array_size(adv));
    json_decref(adv);
}

TEST(token_unknown_grant_is_unsupported)
{
    struct http_req *req = post_token("cc", "cc-secret", "grant_type=password&username=u&password=p");
    ASSERT_OAUTH_ERROR(req, 400, "unsupported_grant_type");
    req = post_token("cc", "cc-secret", "grant_type=implicit");
    ASSERT_OAUTH_ERROR(req, 400, "unsupported_grant_type");
}

TEST(token_grant_not_registered_is_unauthorized_client)
{
    struct http_req *req = post_token("cc", "cc-secret", "grant_type=authorization_code&code=x");
    ASSERT_OAUTH_ERROR(req, 400, "unauthorized_client");
    req = post_token("code", "code-secret", "grant_type=client_credentials");
    ASSERT_STREQ(hx_json_str(req, "error"), "unauthorized_client");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "this client is not registered for that grant_type");
}

TEST(token_public_client_and_client_credentials)
{
    /* The file and the CLI refuse this registration; one stored before the rule is refused here. */
    hx_client_put(h, "public-cc", NULL,
                  "{\"token_endpoint_auth_method\":\"none\",\"grant_types\":[\"client_credentials\"],\"scope\":\"read\"}");
    struct http_req *req = hx_request(h, "POST", "/token");
    hx_form(req, "grant_type=client_credentials&client_id=public-cc");
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "unauthorized_client");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "public clients cannot use client_credentials");
    /* A public client of the file: not registered for it in the first place. */
    req = hx_request(h, "POST", "/token");
    hx_form(req, "grant_type=client_credentials&client_id=spa");
    hx_run(req);
    ASSERT_STREQ(hx_json_str(req, "error"), "unauthorized_client");
}

TEST(token_grant_type_missing_or_repeated)
{
    struct http_req *req = post_token("cc", "cc-secret", "scope=read");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "grant_type is required");
    req = post_token("cc", "cc-secret", "grant_type=client_credentials&grant_type=client_credentials");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "grant_type is repeated");
}

/* ---- client authentication (RFC 6749 §2.3.1) ---- */

/* A 401 after Basic was tried carries the Basic challenge (RFC 6749 §5.2). */
static bool basic_challenge(struct http_req *req)
{
    const char *v = hx_res_header(req, "www-authenticate");
    return v != NULL && strncmp(v, "Basic ", 6) == 0;
}

TEST(auth_basic)
{
    struct http_req *req = post_token("cc", "cc-secret", "grant_type=client_credentials");
    ASSERT_EQ(req->res.status, 200);
    req = post_token("cc", "wrong", "grant_type=client_credentials");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT(basic_challenge(req));
    /* A client registered for client_secret_post may not use Basic (the registered method only). */
    req = post_token("post", "post-secret", "grant_type=client_credentials");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
}

TEST(auth_post)
{
    struct http_req *req = post_token(NULL, NULL, "grant_type=client_credentials&client_id=post&client_secret=post-secret");
    ASSERT_EQ(req->res.status, 200);
    req = post_token(NULL, NULL, "grant_type=client_credentials&client_id=post&client_secret=nope");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT(hx_res_header(req, "www-authenticate") == NULL); /* no challenge: Basic was not tried */
    /* A client_secret_basic client may not authenticate in the body. */
    req = post_token(NULL, NULL, "grant_type=client_credentials&client_id=cc&client_secret=cc-secret");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
}

TEST(auth_none)
{
    /* A public client is identified by client_id alone; the grant then decides. */
    struct http_req *req = post_token(NULL, NULL, "grant_type=authorization_code&code=nope&client_id=spa");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    /* ...and may not send a secret, in the body or by Basic. */
    req = post_token(NULL, NULL, "grant_type=authorization_code&code=nope&client_id=spa&client_secret=x");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    req = post_token("spa", "x", "grant_type=authorization_code&code=nope");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    /* No credentials at all. */
    req = post_token(NULL, NULL, "grant_type=client_credentials");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
}

TEST(auth_both_methods)
{
    struct http_req *req = post_token("cc", "cc-secret", "grant_type=client_credentials&client_secret=cc-secret");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
    ASSERT_STREQ(hx_json_str(req, "error_description"),
                 "client authenticated by more than one method (RFC 6749 section 2.3)");
    /* Basic and a different client_id in the body. */
    req = post_token("cc", "cc-secret", "grant_type=client_credentials&client_id=post");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
    /* The same client_id in the body is allowed with Basic. */
    req = post_token("cc", "cc-secret", "grant_type=client_credentials&client_id=cc");
    ASSERT_EQ(req->res.status, 200);
    /* Two Authorization headers. */
    req = hx_request(h, "POST", "/token");
    hx_basic(req, "cc", "cc-secret");
    hx_basic(req, "cc", "cc-secret");
    hx_form(req, "grant_type=client_credentials");
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
}

TEST(auth_repeated_client_id)
{
    struct http_req *req =
        post_token(NULL, NULL, "grant_type=client_credentials&client_id=post&client_id=post&client_secret=post-secret");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "client_id or client_secret repeated");
}

TEST(auth_unknown_client_and_malformed_basic)
{
    struct http_req *req = post_token("nobody", "x", "grant_type=client_credentials");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "client authentication failed");
    req = post_token(NULL, NULL, "grant_type=client_credentials&client_id=nobody&client_secret=x");
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    req = hx_request(h, "POST", "/token");
    hx_header(req, "Authorization", "Basic !!!");
    hx_form(req, "grant_type=client_credentials");
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT(basic_challenge(req));
}

/* The per-worker client cache (client.c) hands out parsed clients: one handed to a request stays valid
 * until that request's arena is reset, even when the cache replaces its entry meanwhile (as a login pool
 * thread does while the loop thread has not yet answered the earlier request); a change is seen once the
 * entry is older than the cache's 5 seconds. Under ASan a snapshot freed too early is a use after free. */
TEST(client_cache_snapshot_outlives_its_entry)
{
    int64_t t0 = clock_now();
    clock_set_fixed(t0);
    struct arena *first = arena_new(1024);
    struct client c1;
    struct errbuf err = {{0}};
    ASSERT_EQ(client_get(&h->worker, first, "cc", &c1, &err), 0);
    ASSERT_STREQ(c1.scope, "read");
    hx_client_put(h, "cc", "cc-secret",
                  "{\"token_endpoint_auth_method\":\"client_secret_basic\",\"grant_types\":[\"client_credentials\"],"
                  "\"scope\":\"read write\"}");
    struct arena *second = arena_new(1024);
    struct client c2;
    ASSERT_EQ(client_get(&h->worker, second, "cc", &c2, &err), 0);
    ASSERT_STREQ(c2.scope, "read"); /* cached */
    arena_free(second);
    clock_set_fixed(t0 + 6);
    struct arena *third = arena_new(1024);
    struct client c3;
    ASSERT_EQ(client_get(&h->worker, third, "cc", &c3, &err), 0); /* replaces the entry */
    ASSERT_STREQ(c3.scope, "read write");
    arena_free(third);
    ASSERT_STREQ(c1.client_id, "cc"); /* the first request's snapshot, after the entry and a later user went */
    ASSERT_STREQ(c1.scope, "read");
    ASSERT_EQ(c1.auth_method, CLIENT_AUTH_SECRET_BASIC);
    arena_free(first);
    clock_set_fixed(0);
}

/* Group commit: a request that may wait (can_hold, as on a server loop whose store groups writes) gets its
 * opaque token minted and its response built, but its row is only queued and the request held; the row is
 * in the store once app_flush has committed the batch, and not before. A held request whose commit failed
 * gets the store error instead (held_failed). */
TEST(token_group_commit_holds_until_flush)
{
    struct http_req *req = hx_request(h, "POST", "/token");
    hx_basic(req, "cc", "cc-secret");
    hx_form(req, "grant_type=client_credentials");
    req->can_hold = true;
    hx_run(req);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(req->held);
    const char *tok = hx_json_str(req, "access_token");
    ASSERT(tok != NULL);
    uint8_t key[STORE_HASH_LEN];
    store_hash(tok, strlen(tok), key);
    struct store_token t;
    struct errbuf err;
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &t, &err), ERR_NOTFOUND);
    ASSERT_EQ(app_flush(&h->worker), 0);
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &t, &err), 0);
    ASSERT_STREQ(t.client_id, "cc");
    ASSERT_EQ(app_flush(&h->worker), 0); /* nothing left to commit */

    /* Without can_hold (a pool thread, the harness by default): written at once, not held. */
    req = post_token("cc", "cc-secret", "grant_type=client_credentials");
    ASSERT_EQ(req->res.status, 200);
    ASSERT(!req->held);
    store_hash(hx_json_str(req, "access_token"), strlen(hx_json_str(req, "access_token")), key);
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &t, &err), 0);

    req = hx_request(h, "POST", "/token");
    app_held_failed(req, ERR_UNAVAILABLE);
    ASSERT_OAUTH_ERROR(req, 503, "temporarily_unavailable");
    req = hx_request(h, "POST", "/token");
    app_held_failed(req, ERR_FAIL);
    ASSERT_OAUTH_ERROR(req, 500, "server_error");
}

TESTS(T(token_client_credentials_served), T(token_every_served_grant_is_dispatched),
      T(token_discovery_equals_dispatch), T(token_unknown_grant_is_unsupported),
      T(token_grant_not_registered_is_unauthorized_client), T(token_public_client_and_client_credentials),
      T(token_grant_type_missing_or_repeated), T(auth_basic), T(auth_post), T(auth_none), T(auth_both_methods),
      T(auth_repeated_client_id), T(auth_unknown_client_and_malformed_basic),
      T(client_cache_snapshot_outlives_its_entry), T(token_group_commit_holds_until_flush))
