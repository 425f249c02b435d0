/* test_device.c: the device authorization grant in-process (RFC 8628; src/oauth/device_auth.c,
 * grant_device.c, device_page.c, device_state.c): the device authorization endpoint's answers and error
 * table (§3.1-3.2, RFC 6749 §5.2), polling (§3.4-3.5: authorization_pending, slow_down and the interval
 * that grows by 5 s, access_denied, expired_token, invalid_grant, tokens once, a replay revoking them), on a
 * pinned clock; and the verification page's code entry: CSRF, what is counted as a guess, the throttle.
 * Approvals here go through the store (store_token_settle), as the page would; the page's whole flow with a
 * browser is tests/integration/device.test.mjs. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "oauth/device.h"
#include "store/store.h"

#include "harness_http.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define T0 1800000000 /* the pinned clock's start */

static const char *const yaml = "keys:\n"
                                "  algorithms: [ES256]\n"
                                "device:\n"
                                "  code_ttl: 600\n"
                                "  interval: 5\n"
                                "  max_failures: 3\n"
                                "  lockout_seconds: 60\n"
                                "resources:\n"
                                "  - identifier: https://api.example.com/\n"
                                "    scopes: [read, write]\n"
                                "clients:\n"
                                "  - client_id: tv\n"
                                "    token_endpoint_auth_method: none\n"
                                "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]\n"
                                "    refresh_token_policy: offline_consent\n"
                                "    scope: openid profile offline_access read\n"
                                "  - client_id: stb\n"
                                "    token_endpoint_auth_method: none\n"
                                "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]\n"
                                "    refresh_token_policy: always\n"
                                "    scope: openid\n"
                                "  - client_id: box\n"
                                "    token_endpoint_auth_method: none\n"
                                "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]\n"
                                "    refresh_token_policy: offline_access\n"
                                "    scope: openid offline_access\n"
                                "  - client_id: panel\n"
                                "    token_endpoint_auth_method: none\n"
                                "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code']\n"
                                "    scope: openid profile\n"
                                "    id_token_claims: scope\n"
                                "  - client_id: console\n"
                                "    client_secret: console-secret\n"
                                "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code']\n"
                                "    scope: openid read\n"
                                "  - client_id: cc\n"
                                "    client_secret: cc-secret\n"
                                "    grant_types: [client_credentials]\n"
                                "    scope: read\n"
                                "users:\n"
                                "  - username: alice\n"
                                "    password: alice-password-1\n"
                                "    name: Alice\n";

static struct hx *h;
static int64_t now_s = T0;

static void setup(void)
{
    clock_set_fixed(now_s);
    h = hx_open(yaml);
}

static void teardown(void)
{
    hx_close(h);
    clock_set_fixed(0);
}

static void advance(int64_t seconds)
{
    now_s += seconds;
    clock_set_fixed(now_s);
}

/* POST /device/auth with body; Basic when secret is not NULL. */
static struct http_req *device_auth(const char *id, const char *secret, const char *body)
{
    struct http_req *req = hx_request(h, "POST", "/device/auth");
    if (secret != NULL)
        hx_basic(req, id, secret);
    hx_form(req, body);
    hx_run(req);
    return req;
}

/* A device authorization for `client` (a public one, or console with its secret); the device code is
 * copied into out (64 bytes). */
static int start(const char *client, const char *scope, char out[64])
{
    /* Not in h->arena: the next request releases it. */
    char body[256];
    bool console = strcmp(client, "console") == 0;
    snprintf(body, sizeof(body), console ? "scope=%s%s" : "client_id=%s&scope=%s", console ? "" : client, scope);
    struct http_req *req = console ? device_auth("console", "console-secret", body) : device_auth(NULL, NULL, body);
    const char *dc = hx_json_str(req, "device_code");
    if (req->res.status != 200 || dc == NULL || strlen(dc) >= 64)
        return -1;
    snprintf(out, 64, "%s", dc);
    return 0;
}

static struct http_req *poll_as(const char *client, const char *device_code)
{
    struct http_req *req = hx_request(h, "POST", "/token");
    if (strcmp(client, "console") == 0) {
        hx_basic(req, "console", "console-secret");
        hx_form(req, arena_printf(h->arena, "grant_type=" DEVICE_GRANT "&device_code=%s", device_code));
    } else {
        hx_form(req, arena_printf(h->arena, "grant_type=" DEVICE_GRANT "&device_code=%s&client_id=%s", device_code,
                                  client));
    }
    hx_run(req);
    return req;
}

/* What the verification page does on "allow" (device_page.c approve), or on "deny" with sub NULL. */
static int settle(const char *device_code, const char *sub, bool offline)
{
    uint8_t key[STORE_HASH_LEN];
    store_hash(device_code, strlen(device_code), key);
    struct store_token row;
    struct errbuf err;
    int rc = store_token_get(h->worker.db, h->arena, key, &row, &err);
    if (rc != 0)
        return rc;
    const char *data = arena_printf(h->arena,
                                    "{\"auth_time\":%lld,\"sid\":\"sid-1\",\"acr\":\"urn:ostiary:acr:password\","
                                    "\"amr\":[\"pwd\"],\"offline\":%s}",
                                    (long long)now_s, offline ? "true" : "false");
    return store_token_settle(h->worker.db, key, STORE_TOKEN_DEVICE, sub, sub != NULL ? row.scope : NULL,
                              sub != NULL ? data : NULL, now_s, &err);
}

static const char *alice(void)
{
    struct store_user u;
    struct errbuf err;
    if (store_user_get_by_name(h->worker.db, h->arena, "alice", &u, &err) != 0)
        return NULL;
    return u.id;
}

/* ---- the device authorization endpoint ---- */

TEST(device_auth_answers)
{
    struct http_req *req = device_auth(NULL, NULL, "client_id=tv&scope=openid%20profile");
    ASSERT_EQ(req->res.status, 200);
    ASSERT_STREQ(hx_res_header(req, "cache-control"), "no-store");
    const char *dc = hx_json_str(req, "device_code");
    ASSERT(dc != NULL && strlen(dc) == 43); /* 32 random bytes, base64url */
    const char *uc = hx_json_str(req, "user_code");
    ASSERT(uc != NULL && strlen(uc) == 9 && uc[4] == '-');
    for (int i = 0; i < 9; i++)
        ASSERT(i == 4 || strchr("BCDFGHJKLMNPQRSTVWXZ", uc[i]) != NULL);
    ASSERT_STREQ(hx_json_str(req, "verification_uri"), HX_ISSUER "/device");
    ASSERT_STREQ(hx_json_str(req, "verification_uri_complete"),
                 arena_printf(h->arena, "%s/device?user_code=%s", HX_ISSUER, uc));
    json_t *o = hx_json(req);
    ASSERT_EQ(json_integer_value(json_object_get(o, "expires_in")), 600);
    ASSERT_EQ(json_integer_value(json_object_get(o, "interval")), 5);
    /* The device code is stored hashed, never in clear; the user code under its keyed lookup key. */
    uint8_t key[STORE_HASH_LEN];
    store_hash(dc, strlen(dc), key);
    struct store_token row;
    struct errbuf err;
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &row, &err), 0);
    ASSERT_EQ(row.kind, STORE_TOKEN_DEVICE);
    ASSERT_STREQ(row.client_id, "tv");
    ASSERT_STREQ(row.scope, "openid profile");
    ASSERT(row.sub == NULL && row.aud == NULL);
    ASSERT_EQ(row.exp, now_s + 600);
    ASSERT(strstr(row.data, dc) == NULL);
    /* An API scope picks its API; the confidential client authenticates as at /token. */
    req = device_auth("console", "console-secret", "scope=openid%20read");
    ASSERT_EQ(req->res.status, 200);
    store_hash(hx_json_str(req, "device_code"), 43, key);
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &row, &err), 0);
    ASSERT_STREQ(row.aud, "https://api.example.com/");
    /* audience= is resource='s alias (RFC 8707 §2). */
    req = device_auth(NULL, NULL, "client_id=tv&scope=read&audience=https://api.example.com/");
    ASSERT_EQ(req->res.status, 200);
    store_hash(hx_json_str(req, "device_code"), 43, key);
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &row, &err), 0);
    ASSERT_STREQ(row.aud, "https://api.example.com/");
    /* No scope: the client's registered scope (RFC 6749 §3.3). */
    req = device_auth(NULL, NULL, "client_id=tv");
    ASSERT_EQ(req->res.status, 200);
    store_hash(hx_json_str(req, "device_code"), 43, key);
    ASSERT_EQ(store_token_get(h->worker.db, h->arena, key, &row, &err), 0);
    ASSERT_STREQ(row.scope, "openid profile offline_access read");
}

/* RFC 8628 §3.2: errors as at the token endpoint (RFC 6749 §5.2). */
TEST(device_auth_errors)
{
    static const struct {
        const char *id, *secret, *body;
        int status;
        const char *error;
    } cases[] = {
        {NULL, NULL, "scope=openid", 401, "invalid_client"},                       /* no client at all */
        {NULL, NULL, "client_id=nobody", 401, "invalid_client"},                   /* unknown */
        {NULL, NULL, "client_id=console", 401, "invalid_client"},                  /* confidential, no secret */
        {"console", "wrong", "scope=openid", 401, "invalid_client"},               /* wrong secret */
        {"cc", "cc-secret", "scope=read", 400, "unauthorized_client"},             /* not registered for it */
        {NULL, NULL, "client_id=tv&scope=openid%20email", 400, "invalid_scope"},   /* not its scope */
        {NULL, NULL, "client_id=tv&scope=open%22id", 400, "invalid_scope"},        /* malformed */
        {NULL, NULL, "client_id=tv&scope=openid&scope=profile", 400, "invalid_request"},
        {NULL, NULL, "client_id=tv&client_id=tv", 400, "invalid_request"},
        {NULL, NULL, "client_id=tv&resource=https://other.example/", 400, "invalid_target"},
        {NULL, NULL, "client_id=tv&resource=not-absolute", 400, "invalid_target"},
        {NULL, NULL, "client_id=tv&audience=NoSuchApi", 400, "invalid_target"}, /* no API of that name */
        {NULL, NULL, "client_id=tv&resource=https://api.example.com/&audience=https://x.example/", 400,
         "invalid_target"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct http_req *req = device_auth(cases[i].id, cases[i].secret, cases[i].body);
        if (req->res.status != cases[i].status || hx_json_str(req, "error") == NULL ||
            strcmp(hx_json_str(req, "error"), cases[i].error) != 0)
            fprintf(stderr, "  case %zu (%s): %d %.*s\n", i, cases[i].body, req->res.status, (int)req->res.body.len,
                    req->res.body.p);
        ASSERT_OAUTH_ERROR(req, cases[i].status, cases[i].error);
        ASSERT(hx_json_str(req, "error_description") != NULL);
    }
    /* A body that is not a form, and a GET. */
    struct http_req *req = hx_request(h, "POST", "/device/auth");
    hx_header(req, "content-type", "application/json");
    req->body = str_c("{\"client_id\":\"tv\"}");
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request");
    req = hx_request(h, "GET", "/device/auth?client_id=tv");
    hx_run(req);
    ASSERT_EQ(req->res.status, 405);
}

/* ---- polling ---- */

TEST(device_poll_pending_slow_down_and_the_interval)
{
    char dc[64];
    ASSERT_EQ(start("tv", "openid", dc), 0);
    struct http_req *req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
    ASSERT_STREQ(hx_res_header(req, "cache-control"), "no-store");
    /* Sooner than the interval: slow_down, and the interval of this code is 10 s from now on. */
    advance(2);
    req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "slow_down");
    advance(5);
    req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "slow_down"); /* 5 s is no longer enough: 15 s now */
    advance(15);
    req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
    advance(15);
    req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
    /* Another device code keeps its own pace. */
    char other[64];
    ASSERT_EQ(start("tv", "openid", other), 0);
    req = poll_as("tv", other);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
    advance(5);
    req = poll_as("tv", other);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
}

TEST(device_poll_errors)
{
    char dc[64];
    ASSERT_EQ(start("tv", "openid", dc), 0);
    struct http_req *req = hx_request(h, "POST", "/token");
    hx_form(req, "grant_type=" DEVICE_GRANT "&client_id=tv");
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request"); /* no device_code */
    req = hx_request(h, "POST", "/token");
    hx_form(req, arena_printf(h->arena, "grant_type=" DEVICE_GRANT "&client_id=tv&device_code=%s&device_code=%s",
                              dc, dc));
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_request"); /* repeated */
    req = poll_as("tv", "no-such-device-code");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    /* Another client's device code. */
    req = poll_as("console", dc);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    ASSERT_STREQ(hx_json_str(req, "error_description"), "the device_code was not issued to this client");
    /* A client not registered for the grant. */
    req = hx_request(h, "POST", "/token");
    hx_basic(req, "cc", "cc-secret");
    hx_form(req, arena_printf(h->arena, "grant_type=" DEVICE_GRANT "&device_code=%s", dc));
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "unauthorized_client");
    /* An authorization code, a session or a user code is not a device code. */
    req = poll_as("tv", "x");
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
}

TEST(device_poll_denied_and_expired)
{
    char denied[64], late[64];
    ASSERT_EQ(start("tv", "openid", denied), 0);
    ASSERT_EQ(start("tv", "openid", late), 0);
    ASSERT_EQ(settle(denied, NULL, false), 0);
    struct http_req *req = poll_as("tv", denied);
    ASSERT_OAUTH_ERROR(req, 400, "access_denied"); /* the token endpoint's status, RFC 6749 §5.2 */
    advance(601);
    req = poll_as("tv", late);
    ASSERT_OAUTH_ERROR(req, 400, "expired_token");
    req = poll_as("tv", denied);
    ASSERT_OAUTH_ERROR(req, 400, "access_denied");
    /* Too late to approve it too. */
    ASSERT_EQ(settle(late, alice(), false), ERR_NOTFOUND);
}

TEST(device_poll_tokens_once_then_replay_revokes)
{
    char dc[64];
    ASSERT_EQ(start("tv", "openid%20profile%20offline_access", dc), 0);
    ASSERT_EQ(settle(dc, alice(), true), 0);
    /* Approved: no pacing any more (a poll right after the approval is served). */
    struct http_req *req = poll_as("tv", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT_STREQ(hx_json_str(req, "scope"), "openid profile offline_access");
    ASSERT(hx_json_str(req, "access_token") != NULL);
    ASSERT(hx_json_str(req, "id_token") != NULL);
    const char *rt = hx_json_str(req, "refresh_token");
    ASSERT(rt != NULL);
    char refresh[128];
    snprintf(refresh, sizeof(refresh), "%s", rt);
    /* The refresh token works... */
    req = hx_request(h, "POST", "/token");
    hx_form(req, arena_printf(h->arena, "grant_type=refresh_token&client_id=tv&refresh_token=%s", refresh));
    hx_run(req);
    ASSERT_EQ(req->res.status, 200);
    char rotated[128];
    snprintf(rotated, sizeof(rotated), "%s", hx_json_str(req, "refresh_token"));
    /* ...until the device code is presented again: invalid_grant, and the grant's tokens are revoked. */
    req = poll_as("tv", dc);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    req = hx_request(h, "POST", "/token");
    hx_form(req, arena_printf(h->arena, "grant_type=refresh_token&client_id=tv&refresh_token=%s", rotated));
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
}

static void json_put(void *p)
{
    json_decref(p);
}

/* The payload of a JWS in compact form (not verified: only its claims are looked at), freed with the
 * request's arena; NULL if it is not one. */
static json_t *id_token_payload(const char *jws)
{
    const char *dot1 = jws != NULL ? strchr(jws, '.') : NULL;
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    unsigned char *raw;
    size_t n;
    if (dot2 == NULL || b64url_decode(h->arena, dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &n) != 0)
        return NULL;
    json_t *o = json_loadb((const char *)raw, n, 0, NULL);
    if (o != NULL)
        arena_defer(h->arena, json_put, o);
    return o;
}

/* offline_access without the explicit consent of the page gives no refresh token (offline_consent), and a
 * client not registered for refresh_token never gets one; openid absent: no ID token. */
TEST(device_poll_refresh_and_id_token_rules)
{
    char dc[64];
    ASSERT_EQ(start("tv", "openid%20offline_access", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    struct http_req *req = poll_as("tv", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "refresh_token") == NULL);
    ASSERT_EQ(start("console", "read", dc), 0);
    ASSERT_EQ(settle(dc, alice(), true), 0);
    req = poll_as("console", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "refresh_token") == NULL);
    ASSERT(hx_json_str(req, "id_token") == NULL);
    ASSERT_STREQ(hx_json_str(req, "scope"), "read");
    /* The client's refresh_token_policy decides: always, without offline_access; offline_access, on the
     * scope alone. */
    ASSERT_EQ(start("stb", "openid", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = poll_as("stb", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "refresh_token") != NULL);
    ASSERT(hx_json_str(req, "id_token") != NULL);
    ASSERT_EQ(start("box", "openid%20offline_access", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = poll_as("box", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "refresh_token") != NULL);
    ASSERT_EQ(start("box", "openid", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = poll_as("box", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(hx_json_str(req, "refresh_token") == NULL);
    /* id_token_claims: scope puts the granted scope's claims in the device's ID token too; without it, the
     * ID token has none of them (they are at userinfo). */
    ASSERT_EQ(start("panel", "openid%20profile", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = poll_as("panel", dc);
    ASSERT_EQ(req->res.status, 200);
    ASSERT_STREQ(json_string_value(json_object_get(id_token_payload(hx_json_str(req, "id_token")), "name")),
                 "Alice");
    ASSERT_EQ(start("tv", "openid%20profile", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = poll_as("tv", dc);
    ASSERT_EQ(req->res.status, 200);
    json_t *plain = id_token_payload(hx_json_str(req, "id_token"));
    ASSERT(plain != NULL && json_object_get(plain, "name") == NULL);
    /* A resource at the token endpoint may only repeat the one authorized. */
    ASSERT_EQ(start("console", "read", dc), 0);
    ASSERT_EQ(settle(dc, alice(), false), 0);
    req = hx_request(h, "POST", "/token");
    hx_basic(req, "console", "console-secret");
    hx_form(req, arena_printf(h->arena, "grant_type=" DEVICE_GRANT "&device_code=%s&resource=urn:other", dc));
    hx_run(req);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_target");
}

/* ---- the verification page: code entry ---- */

/* The value of the response's first Set-Cookie, as a Cookie header ("name=value"), in the arena. */
static const char *cookie_of(struct http_req *req)
{
    const char *sc = hx_res_header(req, "set-cookie");
    if (sc == NULL)
        return NULL;
    return arena_strndup(h->arena, sc, strcspn(sc, ";"));
}

/* The value of the hidden input `name` of the response's page, in the arena. */
static const char *hidden(struct http_req *req, const char *name)
{
    const char *needle = arena_printf(h->arena, "name=\"%s\" value=\"", name);
    const char *body = arena_strndup(h->arena, req->res.body.p, req->res.body.len);
    const char *p = strstr(body, needle);
    if (p == NULL)
        return NULL;
    p += strlen(needle);
    return arena_strndup(h->arena, p, strcspn(p, "\""));
}

static bool body_has(struct http_req *req, const char *s)
{
    return strstr(arena_strndup(h->arena, req->res.body.p, req->res.body.len), s) != NULL;
}

struct browser {
    char cookie[256];
    char csrf[128];
};

/* A browser opening the page: its binding cookie and the entry form's CSRF token. */
static int open_page(struct browser *b, const char *query)
{
    char target[64];
    snprintf(target, sizeof(target), "/device%s", query);
    struct http_req *req = hx_request(h, "GET", target);
    hx_run(req);
    const char *c = cookie_of(req), *t = hidden(req, "csrf");
    if (req->res.status != 200 || c == NULL || t == NULL)
        return -1;
    snprintf(b->cookie, sizeof(b->cookie), "%s", c);
    snprintf(b->csrf, sizeof(b->csrf), "%s", t);
    return 0;
}

static struct http_req *enter_from(const char *peer, const struct browser *b, const char *csrf, const char *code)
{
    struct http_req *req = hx_request(h, "POST", "/device");
    snprintf(req->peer, sizeof(req->peer), "%s", peer);
    if (b != NULL)
        hx_header(req, "cookie", b->cookie);
    hx_form(req, arena_printf(h->arena, "csrf=%s&user_code=%s", csrf, code));
    hx_run(req);
    return req;
}

static struct http_req *enter(const struct browser *b, const char *csrf, const char *code)
{
    return enter_from("127.0.0.1", b, csrf, code);
}

TEST(device_page_prefill_and_entry)
{
    struct http_req *req = device_auth(NULL, NULL, "client_id=tv&scope=openid");
    char uc[16];
    snprintf(uc, sizeof(uc), "%s", hx_json_str(req, "user_code"));
    /* verification_uri_complete prefills the code, which the person still submits. */
    char target[64];
    snprintf(target, sizeof(target), "/device?user_code=%s", uc);
    req = hx_request(h, "GET", target);
    hx_run(req);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(body_has(req, arena_printf(h->arena, "value=\"%s\"", uc)));
    ASSERT(body_has(req, "id=\"device-prefilled\""));
    ASSERT(strstr(hx_res_header(req, "content-security-policy"), "frame-ancestors 'none'") != NULL);
    struct browser b;
    ASSERT_EQ(open_page(&b, ""), 0);
    /* Lower case, no dash: the same code. Then on to the decision, through an interaction. */
    char typed[16];
    snprintf(typed, sizeof(typed), "%.4s%s", uc, uc + 5);
    for (char *p = typed; *p; p++)
        *p = (char)(*p - 'A' + 'a');
    req = enter(&b, b.csrf, typed);
    ASSERT_EQ(req->res.status, 303);
    ASSERT(strncmp(hx_res_header(req, "location"), HX_ISSUER "/device?interaction=", 39) == 0);
    /* The decision needs a session: without one, the login page, for this interaction. */
    char next[256];
    snprintf(next, sizeof(next), "%s", hx_res_header(req, "location") + strlen(HX_ISSUER));
    req = hx_request(h, "GET", next);
    hx_header(req, "cookie", b.cookie);
    hx_run(req);
    ASSERT_EQ(req->res.status, 303);
    ASSERT(strncmp(hx_res_header(req, "location"), HX_ISSUER "/interaction/login?interaction=", 51) == 0);
}

TEST(device_page_csrf)
{
    struct http_req *req = device_auth(NULL, NULL, "client_id=tv&scope=openid");
    char uc[16];
    snprintf(uc, sizeof(uc), "%s", hx_json_str(req, "user_code"));
    struct browser b, other;
    ASSERT_EQ(open_page(&b, ""), 0);
    ASSERT_EQ(open_page(&other, ""), 0);
    ASSERT(strcmp(b.csrf, other.csrf) != 0);
    ASSERT_EQ(enter(&b, other.csrf, uc)->res.status, 403); /* another browser's token */
    ASSERT_EQ(enter(&b, "", uc)->res.status, 403);
    ASSERT_EQ(enter(NULL, b.csrf, uc)->res.status, 403); /* no cookie at all */
    ASSERT_EQ(enter(&b, b.csrf, uc)->res.status, 303);
}

TEST(device_page_wrong_codes_are_throttled)
{
    struct http_req *req = device_auth(NULL, NULL, "client_id=tv&scope=openid");
    char uc[16];
    snprintf(uc, sizeof(uc), "%s", hx_json_str(req, "user_code"));
    struct browser b;
    ASSERT_EQ(open_page(&b, ""), 0);
    /* Not a code at all: refused, not counted (nothing was looked up). */
    for (int i = 0; i < 5; i++) {
        req = enter(&b, b.csrf, "HELLO");
        ASSERT_EQ(req->res.status, 400);
        ASSERT(body_has(req, "id=\"device-error\""));
    }
    /* Wrong codes: max_failures (3) of them, then a wait, for this address, whichever the code. */
    const char *wrong = strcmp(uc, "BBBB-BBBB") == 0 ? "CCCC-CCCC" : "BBBB-BBBB";
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(enter(&b, b.csrf, wrong)->res.status, 400);
    req = enter(&b, b.csrf, uc);
    ASSERT_EQ(req->res.status, 429);
    ASSERT_STREQ(hx_res_header(req, "retry-after"), "60");
    /* Another browser from the same address waits too; later the right code goes through. */
    struct browser b2;
    ASSERT_EQ(open_page(&b2, ""), 0);
    ASSERT_EQ(enter(&b2, b2.csrf, uc)->res.status, 429);
    advance(61);
    ASSERT_EQ(enter(&b2, b2.csrf, uc)->res.status, 303);
    /* The next wrong one doubles the wait (120 s); a right code never clears the count. */
    ASSERT_EQ(enter(&b2, b2.csrf, wrong)->res.status, 400);
    req = enter(&b2, b2.csrf, uc);
    ASSERT_EQ(req->res.status, 429);
    ASSERT_STREQ(hx_res_header(req, "retry-after"), "120");
}

/* The browser counts too (per session: its binding cookie): wrong codes from ever new addresses, each under
 * its own address limit, still run out in one browser. */
TEST(device_page_wrong_codes_per_browser)
{
    struct browser b;
    ASSERT_EQ(open_page(&b, ""), 0);
    static const char *const peers[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"};
    for (size_t i = 0; i < 3; i++)
        ASSERT_EQ(enter_from(peers[i], &b, b.csrf, "BBBB-BBBC")->res.status, 400);
    struct http_req *req = enter_from(peers[3], &b, b.csrf, "BBBB-BBBC");
    ASSERT_EQ(req->res.status, 429);
    ASSERT_STREQ(hx_res_header(req, "retry-after"), "60");
    /* A new browser from that fourth address is not held back. */
    struct browser fresh;
    ASSERT_EQ(open_page(&fresh, ""), 0);
    ASSERT_EQ(enter_from(peers[3], &fresh, fresh.csrf, "BBBB-BBBC")->res.status, 400);
}

/* An IPv6 address counts by its /64: its 2^64 addresses belong to one guesser. Each guess from a new
 * browser, so that only the address counter can be what throttles. */
TEST(device_page_ipv6_counts_by_64)
{
    static const char *const same[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"};
    struct browser b;
    for (size_t i = 0; i < 3; i++) {
        ASSERT_EQ(open_page(&b, ""), 0);
        ASSERT_EQ(enter_from(same[i], &b, b.csrf, "BBBB-BBBC")->res.status, 400);
    }
    ASSERT_EQ(open_page(&b, ""), 0);
    ASSERT_EQ(enter_from("2001:db8:1:2::99", &b, b.csrf, "BBBB-BBBC")->res.status, 429);
    ASSERT_EQ(open_page(&b, ""), 0);
    ASSERT_EQ(enter_from("2001:db8:1:3::1", &b, b.csrf, "BBBB-BBBC")->res.status, 400); /* another /64 */
    ASSERT_EQ(open_page(&b, ""), 0);
    ASSERT_EQ(enter_from("192.0.2.7", &b, b.csrf, "BBBB-BBBC")->res.status, 400);
}

TESTS(T(device_auth_answers), T(device_auth_errors), T(device_poll_pending_slow_down_and_the_interval),
      T(device_poll_errors), T(device_poll_denied_and_expired), T(device_poll_tokens_once_then_replay_revokes),
      T(device_poll_refresh_and_id_token_rules), T(device_page_prefill_and_entry), T(device_page_csrf), T(device_page_wrong_codes_per_browser),
      T(device_page_wrong_codes_are_throttled), T(device_page_ipv6_counts_by_64))
