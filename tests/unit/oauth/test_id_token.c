/* test_id_token.c: proves src/oauth/id_token.c: the claims of an ID token (OIDC Core §2, §3.1.3.6,
 * §3.3.2.11), the signing alg taken from the client, at_hash/c_hash computed with that alg's hash, extra
 * claims merged without overriding the registered ones, the payload written byte for byte as jansson's compact
 * dump of the same claims would be, and failure (not a fallback) when the client's alg
 * has no key. Runs on an in-memory fake store that implements only the key calls. */
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose.h"
#include "oauth/authz.h"
#include "oauth/client.h"
#include "store/store.h"

#include "harness.h"

/* ---- a fake store: keys only, no transactions kept ---- */

#define FAKE_MAX 8
static struct store_key fake_keys[FAKE_MAX];
static size_t fake_n;
static struct arena *fake_arena;

static int fake_begin(struct store_conn *c, struct errbuf *err)
{
    return 0;
}
static int fake_commit(struct store_conn *c, struct errbuf *err)
{
    return 0;
}
static void fake_rollback(struct store_conn *c)
{
}

static int fake_key_put(struct store_conn *c, const struct store_key *k, struct errbuf *err)
{
    size_t i = 0;
    while (i < fake_n && strcmp(fake_keys[i].kid, k->kid) != 0)
        i++;
    if (i == FAKE_MAX) {
        errbuf_set(err, "fake: full");
        return ERR_FAIL;
    }
    if (i == fake_n)
        fake_n++;
    struct store_key *d = &fake_keys[i];
    *d = *k;
    d->kid = arena_strdup(fake_arena, k->kid);
    d->alg = arena_strdup(fake_arena, k->alg);
    d->public_jwk = arena_strdup(fake_arena, k->public_jwk);
    d->priv_enc = arena_memdup(fake_arena, k->priv_enc, k->priv_enc_len);
    return 0;
}

static int fake_key_list(struct store_conn *c, struct arena *a, struct store_key **out, size_t *n,
                         struct errbuf *err)
{
    struct store_key *rows = arena_alloc(a, (fake_n + 1) * sizeof(*rows));
    for (size_t i = 0; i < fake_n; i++) {
        rows[i] = fake_keys[i];
        rows[i].kid = arena_strdup(a, fake_keys[i].kid);
        rows[i].alg = arena_strdup(a, fake_keys[i].alg);
        rows[i].public_jwk = arena_strdup(a, fake_keys[i].public_jwk);
        rows[i].priv_enc = arena_memdup(a, fake_keys[i].priv_enc, fake_keys[i].priv_enc_len);
    }
    *out = rows;
    *n = fake_n;
    return 0;
}

static const struct store_ops fake_ops = {
    .scheme = "fake",
    .begin = fake_begin,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .key_put = fake_key_put,
    .key_list = fake_key_list,
};
static struct store fake_store = {.ops = &fake_ops};
static struct store_conn fake_conn = {.st = &fake_store};

/* ---- a provider: app, worker and keystore ---- */

#define T0 1700000000
#define ISSUER "https://op.example.com/oidc"

static struct config cfg;
static struct app app;
static struct worker worker;

/* Opens a keystore with keys for algs on a fresh fake store. */
static int provider_open(const char *const *algs, size_t n)
{
    fake_n = 0;
    if (fake_arena == NULL)
        fake_arena = arena_new(4096);
    clock_set_fixed(T0);
    memset(&cfg, 0, sizeof(cfg));
    cfg.tokens.id_token_ttl = 3600;
    cfg.keys.algorithms = (char **)algs;
    cfg.keys.n_algorithms = (unsigned)n;
    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    app.issuer = ISSUER;
    struct errbuf err = {{0}};
    if (keystore_open(&fake_conn, "test secret", algs, n, true, &app.keys, &err) != 0) {
        fprintf(stderr, "  keystore_open: %s\n", err.msg);
        return -1;
    }
    worker.app = &app;
    worker.db = &fake_conn;
    return 0;
}

static void provider_close(void)
{
    keystore_free(app.keys);
    app.keys = NULL;
}

static struct client test_client(const char *alg)
{
    struct client c = {0};
    c.client_id = "spa";
    c.id_token_signed_response_alg = alg;
    return c;
}

/* Verifies the token with the provider's keys and returns its claims (arena memory) and header alg. */
static json_t *decode(struct arena *a, const char *tok, const char **typ)
{
    json_t *claims = NULL;
    struct errbuf err = {{0}};
    if (jws_verify(app.keys, a, tok, strlen(tok), &claims, typ, &err) != 0) {
        fprintf(stderr, "  jws_verify: %s\n", err.msg);
        return NULL;
    }
    return claims;
}

static const char *header_alg(struct arena *a, const char *tok)
{
    const char *dot = strchr(tok, '.');
    unsigned char *raw;
    size_t n;
    if (dot == NULL || b64url_decode(a, tok, (size_t)(dot - tok), &raw, &n) != 0)
        return NULL;
    json_t *h = json_loadb((const char *)raw, n, 0, NULL);
    const char *alg = arena_strdup(a, json_string_value(json_object_get(h, "alg")));
    json_decref(h);
    return alg;
}

static const char *cstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static long long cint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* ---- tests ---- */

TEST(id_token_claims)
{
    static const char *const algs[] = {"RS256"};
    ASSERT_EQ(provider_open(algs, 1), 0);
    struct arena *a = arena_new(4096);
    struct client c = test_client("RS256");
    json_t *amr = json_pack("[s]", "pwd");
    struct id_token_req r = {0};
    r.client = &c;
    r.sub = "user-1";
    r.nonce = "n-0S6_WzA2Mj";
    r.sid = "sid-42";
    r.acr = "urn:acr:pwd";
    r.amr = amr;
    r.auth_time = T0 - 100;
    r.now = T0;
    r.access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    r.code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    struct errbuf err = {{0}};
    char *tok = id_token_issue(&worker, a, &r, &err);
    json_decref(amr);
    ASSERT(tok != NULL);
    const char *typ = NULL;
    json_t *cl = decode(a, tok, &typ);
    ASSERT(cl != NULL);
    ASSERT_STREQ(typ, "JWT");
    ASSERT_STREQ(header_alg(a, tok), "RS256");
    ASSERT_STREQ(cstr(cl, "iss"), ISSUER);
    ASSERT_STREQ(cstr(cl, "sub"), "user-1");
    ASSERT_STREQ(cstr(cl, "aud"), "spa");
    ASSERT_STREQ(cstr(cl, "azp"), "spa");
    ASSERT_EQ(cint(cl, "iat"), T0);
    ASSERT_EQ(cint(cl, "exp"), T0 + 3600);
    ASSERT_EQ(cint(cl, "auth_time"), T0 - 100);
    ASSERT_STREQ(cstr(cl, "nonce"), "n-0S6_WzA2Mj");
    ASSERT_STREQ(cstr(cl, "sid"), "sid-42");
    ASSERT_STREQ(cstr(cl, "acr"), "urn:acr:pwd");
    json_t *amr_out = json_object_get(cl, "amr");
    ASSERT(json_is_array(amr_out) && json_array_size(amr_out) == 1);
    ASSERT_STREQ(json_string_value(json_array_get(amr_out, 0)), "pwd");
    ASSERT_STREQ(cstr(cl, "at_hash"), jose_half_hash(a, "RS256", r.access_token, strlen(r.access_token)));
    ASSERT_STREQ(cstr(cl, "c_hash"), jose_half_hash(a, "RS256", r.code, strlen(r.code)));
    /* OIDC Core §3.3.2.11 example pair: code "Qcb0Orv1..." has c_hash "LDktKdoQak3Pk0cnXxCltA". */
    ASSERT_STREQ(cstr(cl, "c_hash"), "LDktKdoQak3Pk0cnXxCltA");
    arena_free(a);
    provider_close();
}

/* The payload's bytes: the middle segment, decoded. */
static char *payload_of(struct arena *a, const char *tok)
{
    const char *d1 = strchr(tok, '.');
    const char *d2 = d1 != NULL ? strchr(d1 + 1, '.') : NULL;
    unsigned char *raw;
    size_t n;
    if (d2 == NULL || b64url_decode(a, d1 + 1, (size_t)(d2 - d1 - 1), &raw, &n) != 0)
        return NULL;
    return arena_strndup(a, (const char *)raw, n);
}

/* The payload is written without a jansson object: byte for byte what jansson's compact dump of the same
 * claims, in the same order, gave (escapes, non-ASCII text, nested values of extra claims included). */
TEST(id_token_payload_is_janssons_bytes)
{
    static const char *const algs[] = {"ES256"};
    ASSERT_EQ(provider_open(algs, 1), 0);
    struct arena *a = arena_new(4096);
    struct client c = test_client("ES256");
    json_t *amr = json_pack("[ss]", "pwd", "otp");
    json_t *claims = json_pack("{s:s, s:s, s:b, s:{s:s, s:i}, s:[i, n, f], s:s}", "name", "Zoë \"Q\" \\ O'Brien\n",
                               "iss", "https://evil.example", "email_verified", 1, "address", "locality", "Köln",
                               "zip", 50667, "list", 1, 2.5, "sub", "not me");
    struct id_token_req r = {0};
    r.client = &c;
    r.sub = "user-\u00e9\t1";
    r.nonce = "n</script>";
    r.sid = "sid-42";
    r.acr = "urn:acr:pwd";
    r.amr = amr;
    r.claims = claims;
    r.auth_time = T0 - 100;
    r.now = T0;
    r.access_token = "2YotnFZFEjr1zCsicMWpAA";
    r.code = "SplxlOBeZQQYbYS6WxSbIA";
    r.state = "af0ifjsldkj";
    struct errbuf err = {{0}};
    char *tok = id_token_issue(&worker, a, &r, &err);
    ASSERT(tok != NULL);
    json_t *o = json_object();
    json_object_set_new(o, "iss", json_string(ISSUER));
    json_object_set_new(o, "sub", json_string(r.sub));
    json_object_set_new(o, "aud", json_string("spa"));
    json_object_set_new(o, "exp", json_integer(T0 + 3600));
    json_object_set_new(o, "iat", json_integer(T0));
    json_object_set_new(o, "auth_time", json_integer(T0 - 100));
    json_object_set_new(o, "nonce", json_string(r.nonce));
    json_object_set_new(o, "at_hash", json_string(jose_half_hash(a, "ES256", r.access_token, strlen(r.access_token))));
    json_object_set_new(o, "c_hash", json_string(jose_half_hash(a, "ES256", r.code, strlen(r.code))));
    json_object_set_new(o, "s_hash", json_string(jose_half_hash(a, "ES256", r.state, strlen(r.state))));
    json_object_set_new(o, "sid", json_string("sid-42"));
    json_object_set_new(o, "azp", json_string("spa"));
    json_object_set_new(o, "acr", json_string("urn:acr:pwd"));
    json_object_set(o, "amr", amr);
    json_object_set(o, "name", json_object_get(claims, "name"));
    json_object_set(o, "email_verified", json_object_get(claims, "email_verified"));
    json_object_set(o, "address", json_object_get(claims, "address"));
    json_object_set(o, "list", json_object_get(claims, "list"));
    char *want = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *got = payload_of(a, tok);
    ASSERT(got != NULL && want != NULL);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "  got  %s\n  want %s\n", got, want);
    ASSERT_STREQ(got, want);
    free(want);

    /* A string that is not UTF-8 is refused, as jansson refused it: no token. */
    r.claims = NULL;
    r.nonce = "bad \xff nonce";
    ASSERT(id_token_issue(&worker, a, &r, &err) == NULL);
    json_decref(amr);
    json_decref(claims);
    arena_free(a);
    provider_close();
}

TEST(id_token_optional_claims_absent)
{
    static const char *const algs[] = {"RS256"};
    ASSERT_EQ(provider_open(algs, 1), 0);
    struct arena *a = arena_new(4096);
    struct client c = test_client(NULL); /* unset: RS256 */
    struct id_token_req r = {0};
    r.client = &c;
    r.sub = "user-1";
    r.now = T0;
    struct errbuf err = {{0}};
    char *tok = id_token_issue(&worker, a, &r, &err);
    ASSERT(tok != NULL);
    ASSERT_STREQ(header_alg(a, tok), "RS256");
    json_t *cl = decode(a, tok, NULL);
    ASSERT(cl != NULL);
    static const char *const absent[] = {"nonce", "at_hash", "c_hash", "sid", "acr", "amr", "auth_time"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        if (json_object_get(cl, absent[i]) != NULL)
            fprintf(stderr, "  unexpected claim %s\n", absent[i]);
        ASSERT(json_object_get(cl, absent[i]) == NULL);
    }
    ASSERT_EQ(json_object_size(cl), 6); /* iss sub aud exp iat azp */
    arena_free(a);
    provider_close();
}

TEST(id_token_alg_per_client)
{
    static const char *const algs[] = {"RS256", "ES256", "EdDSA"};
    ASSERT_EQ(provider_open(algs, 3), 0);
    struct arena *a = arena_new(4096);
    for (size_t i = 0; i < 3; i++) {
        struct client c = test_client(algs[i]);
        struct id_token_req r = {0};
        r.client = &c;
        r.sub = "user-1";
        r.now = T0;
        r.access_token = "2YotnFZFEjr1zCsicMWpAA";
        struct errbuf err = {{0}};
        char *tok = id_token_issue(&worker, a, &r, &err);
        ASSERT(tok != NULL);
        ASSERT_STREQ(header_alg(a, tok), algs[i]);
        json_t *cl = decode(a, tok, NULL);
        ASSERT(cl != NULL);
        /* at_hash uses the alg's hash: SHA-256 for RS256/ES256, SHA-512 for EdDSA (Ed25519). */
        const char *h = cstr(cl, "at_hash");
        ASSERT_STREQ(h, jose_half_hash(a, algs[i], r.access_token, strlen(r.access_token)));
        ASSERT_EQ(strlen(h), i == 2 ? 43 : 22);
    }
    arena_free(a);
    provider_close();
}

TEST(id_token_alg_without_key_fails)
{
    static const char *const algs[] = {"RS256"};
    ASSERT_EQ(provider_open(algs, 1), 0);
    struct arena *a = arena_new(4096);
    static const char *const bad[] = {"ES256", "HS256", "none"};
    for (size_t i = 0; i < 3; i++) {
        struct client c = test_client(bad[i]);
        struct id_token_req r = {0};
        r.client = &c;
        r.sub = "user-1";
        r.now = T0;
        struct errbuf err = {{0}};
        ASSERT(id_token_issue(&worker, a, &r, &err) == NULL);
        ASSERT(err.msg[0] != '\0');
    }
    arena_free(a);
    provider_close();
}

TEST(id_token_extra_claims_do_not_override)
{
    static const char *const algs[] = {"ES256"};
    ASSERT_EQ(provider_open(algs, 1), 0);
    struct arena *a = arena_new(4096);
    struct client c = test_client("ES256");
    json_t *extra = json_pack("{s:s, s:s, s:b, s:s, s:s, s:s, s:I}", "sub", "mallory", "email",
                              "alice@example.com", "email_verified", 1, "iss", "https://evil.example", "aud",
                              "other", "nonce", "forged", "exp", (json_int_t)4102444800LL);
    struct id_token_req r = {0};
    r.client = &c;
    r.sub = "alice";
    r.now = T0;
    r.claims = extra;
    struct errbuf err = {{0}};
    char *tok = id_token_issue(&worker, a, &r, &err);
    json_decref(extra);
    ASSERT(tok != NULL);
    json_t *cl = decode(a, tok, NULL);
    ASSERT(cl != NULL);
    ASSERT_STREQ(cstr(cl, "sub"), "alice");
    ASSERT_STREQ(cstr(cl, "iss"), ISSUER);
    ASSERT_STREQ(cstr(cl, "aud"), "spa");
    ASSERT_EQ(cint(cl, "exp"), T0 + 3600);
    ASSERT(json_object_get(cl, "nonce") == NULL); /* registered even when we set none */
    ASSERT_STREQ(cstr(cl, "email"), "alice@example.com");
    ASSERT(json_is_true(json_object_get(cl, "email_verified")));
    arena_free(a);
    provider_close();
}

/* id_token_hint: our ID tokens (expired ones included) are hints; an access token signed by the same
 * key, a foreign issuer, a token without typ JWT or without the claims an ID token has are not. */
TEST(id_token_hint_only_our_id_tokens)
{
    static const char *const algs[] = {"RS256", "ES256"};
    ASSERT_EQ(provider_open(algs, 2), 0);
    struct arena *a = arena_new(8192);
    struct client c = test_client("ES256");
    struct id_token_req r = {0};
    r.client = &c;
    r.sub = "alice";
    r.sid = "sid-1";
    r.now = T0 - 86400; /* long expired: still a hint */
    struct errbuf err = {{0}};
    char *tok = id_token_issue(&worker, a, &r, &err);
    ASSERT(tok != NULL);
    json_t *cl = NULL;
    ASSERT_EQ(id_token_hint_verify(&worker, a, tok, &cl), 0);
    ASSERT_STREQ(cstr(cl, "sub"), "alice");
    ASSERT_STREQ(cstr(cl, "sid"), "sid-1");

    /* The same claims under other headers and payloads, all signed with our keys. */
    static const struct {
        const char *typ, *payload;
    } bad[] = {
        /* an RFC 9068 access token: typ at+jwt (and its claims) */
        {"at+jwt", "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"iat\":1,\"exp\":2,"
                   "\"jti\":\"j\",\"client_id\":\"spa\",\"scope\":\"openid\"}"},
        {"application/at+jwt",
         "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"iat\":1,\"exp\":2}"},
        {"JWT", "{\"iss\":\"https://other.example\",\"sub\":\"alice\",\"aud\":\"spa\",\"iat\":1,\"exp\":2}"},
        {"JWT", "{\"sub\":\"alice\",\"aud\":\"spa\",\"iat\":1,\"exp\":2}"},
        {"JWT", "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":[\"spa\",\"api\"],\"iat\":1,\"exp\":2}"},
        {"JWT",
         "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"azp\":\"x\",\"iat\":1,\"exp\":2}"},
        {"JWT", "{\"iss\":\"" ISSUER "\",\"aud\":\"spa\",\"iat\":1,\"exp\":2}"},
        {"JWT", "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"exp\":2}"},
        {"JWT", "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"iat\":1}"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *t = jws_sign(app.keys, a, "RS256", bad[i].typ, bad[i].payload, strlen(bad[i].payload), &err);
        ASSERT(t != NULL);
        if (id_token_hint_verify(&worker, a, t, &cl) == 0)
            fprintf(stderr, "  accepted as a hint: typ %s, %s\n", bad[i].typ, bad[i].payload);
        ASSERT_EQ(id_token_hint_verify(&worker, a, t, &cl), -1);
    }
    /* A well-formed ID token payload without typ is one of ours from before typ was written. */
    const char *ok =
        "{\"iss\":\"" ISSUER "\",\"sub\":\"alice\",\"aud\":\"spa\",\"azp\":\"spa\",\"iat\":1,\"exp\":2}";
    char *t = jws_sign(app.keys, a, "RS256", NULL, ok, strlen(ok), &err);
    ASSERT_EQ(id_token_hint_verify(&worker, a, t, &cl), 0);
    /* Not ours at all: tampered, or not a JWS. */
    char *tampered = arena_strdup(a, tok);
    tampered[strlen(tampered) - 3] = tampered[strlen(tampered) - 3] == 'A' ? 'B' : 'A';
    ASSERT_EQ(id_token_hint_verify(&worker, a, tampered, &cl), -1);
    ASSERT_EQ(id_token_hint_verify(&worker, a, "not-a-jwt", &cl), -1);
    ASSERT_EQ(id_token_hint_verify(&worker, a, NULL, &cl), -1);
    arena_free(a);
    provider_close();
}

TESTS(T(id_token_claims), T(id_token_payload_is_janssons_bytes), T(id_token_optional_claims_absent),
      T(id_token_alg_per_client), T(id_token_alg_without_key_fails), T(id_token_extra_claims_do_not_override),
      T(id_token_hint_only_our_id_tokens))
