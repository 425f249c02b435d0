/* test_token_jti.c: the jti of a client assertion at the token endpoint (src/oauth/token.c, grant_*.c,
 * client_auth.c; RFC 7523 §3 item 7). A grant records it in the transaction of the tokens it commits (one
 * write transaction per token request), before any other write it makes (a replayed assertion revokes
 * nothing), and token.c records it alone on every path where nothing was committed. Proven path by path:
 * after each answer, success or error, the same assertion is refused; the store calls of each request are
 * counted (core/metrics.h) to show the jti costs no transaction of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "store/store.h"

#include "harness_http.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

#define SECRET "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TYPE "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
#define DEVICE "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
static const char *const yaml = "keys:\n"
                                "  algorithms: [ES256]\n"
                                "clients:\n"
                                "  - client_id: sjwt\n"
                                "    client_secret: " SECRET "\n"
                                "    token_endpoint_auth_method: client_secret_jwt\n"
                                "    redirect_uris: ['https://rp.example.com/cb']\n"
                                "    grant_types: [authorization_code, client_credentials, refresh_token,\n"
                                "                  'urn:ietf:params:oauth:grant-type:device_code']\n"
                                "    refresh_token_policy: always\n"
                                "    scope: read\n"
                                "users:\n"
                                "  - username: alice\n"
                                "    password: alice-password-1\n";

static struct hx *h;
static struct arena *ta; /* the test's strings: a request's arena is reset by the next hx_request */
static struct metrics_snapshot *m0, *m1;
static unsigned seq;

static void setup(void)
{
    h = hx_open(yaml);
    ta = arena_new(4096);
    m0 = calloc(1, sizeof(*m0));
    m1 = calloc(1, sizeof(*m1));
}

static void teardown(void)
{
    hx_close(h);
    arena_free(ta);
    free(m0);
    free(m1);
}

/* A new client_secret_jwt assertion of sjwt (HS256), with a jti never used before. Arena memory. */
static const char *assertion(void)
{
    char payload[256];
    snprintf(payload, sizeof(payload), "{\"iss\":\"sjwt\",\"sub\":\"sjwt\",\"aud\":\"%s\",\"jti\":\"j%u-%ld\",\"exp\":%ld}",
             HX_ISSUER, ++seq, (long)clock_now(), (long)clock_now() + 60);
    const char *hdr = "{\"alg\":\"HS256\"}";
    const char *input = arena_printf(ta, "%s.%s", b64url_encode(ta, hdr, strlen(hdr)),
                                     b64url_encode(ta, payload, strlen(payload)));
    unsigned char mac[32];
    unsigned len = 0;
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)input, strlen(input), mac, &len);
    return arena_printf(ta, "%s.%s", input, b64url_encode(ta, mac, len));
}

/* The store calls of one request: POST `path` with `body` and the assertion jwt. */
static struct http_req *post(const char *path, const char *jwt, const char *body)
{
    char *form = arena_printf(ta, "%s&client_assertion_type=%s&client_assertion=%s", body, TYPE, jwt);
    struct http_req *req = hx_request(h, "POST", path);
    hx_form(req, form);
    metrics_snapshot(m0);
    hx_run(req);
    metrics_snapshot(m1);
    return req;
}

static uint64_t calls(unsigned op)
{
    return m1->store[op].count - m0->store[op].count;
}

/* The jti of jwt is recorded: the assertion is refused, here with a request that would succeed. */
static int refused_again(const char *jwt)
{
    struct http_req *req = post("/token", jwt, "grant_type=client_credentials");
    const char *d = hx_json_str(req, "error_description");
    return req->res.status == 401 && d != NULL && strstr(d, "jti was already used") != NULL;
}

/* One write transaction: one group holding the jti and the tokens, no write outside it. */
static int one_transaction(void)
{
    return calls(STORE_OP_begin) == 1 && calls(STORE_OP_commit) == 1 && calls(STORE_OP_single_use_put) == 1;
}

TEST(jti_client_credentials_one_transaction)
{
    const char *jwt = assertion();
    struct http_req *req = post("/token", jwt, "grant_type=client_credentials");
    ASSERT_EQ(req->res.status, 200);
    ASSERT(one_transaction());
    ASSERT_EQ(calls(STORE_OP_token_put), 1); /* an opaque token: its row, in the same group */
    ASSERT(refused_again(jwt));
}

/* Every error path of the endpoint and of each grant: nothing committed, the jti recorded alone. */
TEST(jti_recorded_on_every_error_path)
{
    static const char *const bodies[] = {
        "grant_type=client_credentials&scope=write",          /* invalid_scope */
        "grant_type=client_credentials&resource=urn%3Anone",  /* invalid_target */
        "grant_type=password&username=a&password=b",          /* unsupported_grant_type */
        "grant_type=implicit",                                /* unsupported_grant_type */
        "scope=read",                                         /* grant_type missing */
        "grant_type=authorization_code",                      /* code missing */
        "grant_type=authorization_code&code=nope",            /* invalid_grant */
        "grant_type=refresh_token&refresh_token=nope",        /* invalid_grant */
        "grant_type=refresh_token",                           /* refresh_token missing */
        "grant_type=" DEVICE "&device_code=nope",             /* invalid_grant */
        "grant_type=" DEVICE,                                 /* device_code missing */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        const char *jwt = assertion();
        struct http_req *req = post("/token", jwt, bodies[i]);
        if (req->res.status < 400)
            printf("  %s: status %d\n", bodies[i], req->res.status);
        ASSERT(req->res.status >= 400);
        ASSERT_EQ(calls(STORE_OP_begin), 0);
        ASSERT_EQ(calls(STORE_OP_single_use_put), 1);
        if (!refused_again(jwt))
            printf("  not recorded after: %s\n", bodies[i]);
        ASSERT(refused_again(jwt));
    }
    /* A code whose PKCE verifier is wrong: checked before the transaction. */
    const char *code = hx_put_code(h, ta, "sjwt", "alice", "read");
    ASSERT(code != NULL);
    const char *jwt = assertion();
    struct http_req *req = post("/token", jwt, arena_printf(ta, "grant_type=authorization_code&code=%s"
                                                                      "&redirect_uri=https%%3A%%2F%%2Frp.example.com"
                                                                      "%%2Fcb&code_verifier=%s",
                                                            code, "x" HX_VERIFIER));
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    ASSERT(refused_again(jwt));
}

/* The code and refresh grants: one transaction each; a replay of the code or of the rotated refresh token
 * (which revoke the family) with a used assertion revokes nothing; with a new one it does. */
TEST(jti_code_and_refresh_grants)
{
    const char *code = hx_put_code(h, ta, "sjwt", "alice", "read");
    ASSERT(code != NULL);
    const char *jwt = assertion();
    struct http_req *req = post("/token", jwt, hx_code_body(ta, code));
    ASSERT_EQ(req->res.status, 200);
    ASSERT(one_transaction());
    const char *rt = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    ASSERT(rt != NULL);
    ASSERT(refused_again(jwt));

    /* The code again, with the used assertion: refused as a replayed assertion, and nothing revoked. */
    req = post("/token", jwt, hx_code_body(ta, code));
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT_EQ(calls(STORE_OP_grant_revoke), 0);

    /* Refresh: one transaction; then the old refresh token with a used assertion revokes nothing. */
    const char *jwt2 = assertion();
    req = post("/token", jwt2, arena_printf(ta, "grant_type=refresh_token&refresh_token=%s", rt));
    ASSERT_EQ(req->res.status, 200);
    ASSERT(one_transaction());
    const char *rt2 = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    req = post("/token", jwt2, arena_printf(ta, "grant_type=refresh_token&refresh_token=%s", rt));
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
    ASSERT_EQ(calls(STORE_OP_grant_revoke), 0);
    /* The family is intact: its current refresh token works. */
    req = post("/token", assertion(), arena_printf(ta, "grant_type=refresh_token&refresh_token=%s", rt2));
    ASSERT_EQ(req->res.status, 200);
    const char *rt3 = arena_strdup(ta, hx_json_str(req, "refresh_token"));

    /* The code replayed with a new assertion: the family is revoked, and that assertion is used up. */
    const char *jwt3 = assertion();
    req = post("/token", jwt3, hx_code_body(ta, code));
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    ASSERT_EQ(calls(STORE_OP_grant_revoke), 1);
    ASSERT(refused_again(jwt3));
    req = post("/token", assertion(), arena_printf(ta, "grant_type=refresh_token&refresh_token=%s", rt3));
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
}

/* A pending device code's poll: the jti is recorded before the poll's pace is touched, so a replayed
 * assertion gets invalid_client, not slow_down. */
TEST(jti_device_poll)
{
    struct http_req *req = post("/device/auth", assertion(), "scope=read");
    ASSERT_EQ(req->res.status, 200);
    const char *dc = arena_strdup(ta, hx_json_str(req, "device_code"));
    const char *body = arena_printf(ta, "grant_type=%s&device_code=%s", DEVICE, dc);
    const char *jwt = assertion();
    req = post("/token", jwt, body);
    ASSERT_OAUTH_ERROR(req, 400, "authorization_pending");
    req = post("/token", jwt, body);
    ASSERT_OAUTH_ERROR(req, 401, "invalid_client");
}

TESTS(T(jti_client_credentials_one_transaction), T(jti_recorded_on_every_error_path), T(jti_code_and_refresh_grants),
      T(jti_device_poll))
