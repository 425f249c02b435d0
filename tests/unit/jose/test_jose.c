/* test_jose.c: proves src/jose (keystore.c, jws.c, jwk.c): key generation and encryption at rest, JWS
 * sign/verify for RS256, ES256 and EdDSA with the rejections RFC 8725 §2-3 asks for, the JWKS, rotation,
 * and at_hash. Runs on an in-memory fake store, so it does not depend on any backend. */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <pthread.h>

#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose_internal.h" /* jose_jwk_thumbprint, checked against an independent computation */
#include "store/store.h"

#include "harness.h"

/* ---- an in-memory store that implements only the key calls, with transactions ---- */

#define FAKE_MAX 32

struct fake_key {
    char *kid, *alg, *jwk;
    unsigned char *priv;
    size_t priv_len;
    int64_t created_at, sign_from, retired_at, unpublish_at;
};

static struct fake_key fake_rows[FAKE_MAX], fake_saved[FAKE_MAX];
static size_t fake_n, fake_saved_n;
static int fake_in_tx, fake_commits, fake_puts;

static void fake_key_clear(struct fake_key *k)
{
    free(k->kid);
    free(k->alg);
    free(k->jwk);
    free(k->priv);
    memset(k, 0, sizeof(*k));
}

static void fake_key_copy(struct fake_key *dst, const struct fake_key *src)
{
    *dst = *src;
    dst->kid = strdup(src->kid);
    dst->alg = strdup(src->alg);
    dst->jwk = strdup(src->jwk);
    dst->priv = malloc(src->priv_len);
    memcpy(dst->priv, src->priv, src->priv_len);
}

static void fake_reset(void)
{
    for (size_t i = 0; i < fake_n; i++)
        fake_key_clear(&fake_rows[i]);
    fake_n = 0;
    fake_in_tx = fake_commits = fake_puts = 0;
}

static int fake_begin(struct store_conn *c, struct errbuf *err)
{
    if (fake_in_tx) {
        errbuf_set(err, "fake: nested transaction");
        return ERR_FAIL;
    }
    for (size_t i = 0; i < fake_n; i++)
        fake_key_copy(&fake_saved[i], &fake_rows[i]);
    fake_saved_n = fake_n;
    fake_in_tx = 1;
    return 0;
}

static int fake_commit(struct store_conn *c, struct errbuf *err)
{
    for (size_t i = 0; i < fake_saved_n; i++)
        fake_key_clear(&fake_saved[i]);
    fake_saved_n = 0;
    fake_in_tx = 0;
    fake_commits++;
    return 0;
}

static void fake_rollback(struct store_conn *c)
{
    for (size_t i = 0; i < fake_n; i++)
        fake_key_clear(&fake_rows[i]);
    memcpy(fake_rows, fake_saved, sizeof(fake_saved[0]) * fake_saved_n);
    fake_n = fake_saved_n;
    memset(fake_saved, 0, sizeof(fake_saved));
    fake_saved_n = 0;
    fake_in_tx = 0;
}

static int fake_key_put(struct store_conn *c, const struct store_key *k, struct errbuf *err)
{
    struct fake_key in = {.kid = (char *)k->kid,
                          .alg = (char *)k->alg,
                          .jwk = (char *)k->public_jwk,
                          .priv = (unsigned char *)k->priv_enc,
                          .priv_len = k->priv_enc_len,
                          .created_at = k->created_at,
                          .sign_from = k->sign_from,
                          .retired_at = k->retired_at,
                          .unpublish_at = k->unpublish_at};
    size_t i = 0;
    while (i < fake_n && strcmp(fake_rows[i].kid, k->kid) != 0)
        i++;
    if (i == FAKE_MAX) {
        errbuf_set(err, "fake: full");
        return ERR_FAIL;
    }
    if (i < fake_n)
        fake_key_clear(&fake_rows[i]);
    else
        fake_n++;
    fake_key_copy(&fake_rows[i], &in);
    fake_puts++;
    return 0;
}

static int fake_key_list(struct store_conn *c, struct arena *a, struct store_key **out, size_t *n,
                         struct errbuf *err)
{
    struct store_key *rows = arena_alloc(a, (fake_n + 1) * sizeof(*rows));
    /* Newest row first: the keystore must not depend on the order rows come back in. */
    for (size_t j = 0; j < fake_n; j++) {
        const struct fake_key *f = &fake_rows[fake_n - 1 - j];
        rows[j] = (struct store_key){.kid = arena_strdup(a, f->kid),
                                     .alg = arena_strdup(a, f->alg),
                                     .priv_enc = arena_memdup(a, f->priv, f->priv_len),
                                     .priv_enc_len = f->priv_len,
                                     .public_jwk = arena_strdup(a, f->jwk),
                                     .created_at = f->created_at,
                                     .sign_from = f->sign_from,
                                     .retired_at = f->retired_at,
                                     .unpublish_at = f->unpublish_at};
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
#define DB (&fake_conn)

/* ---- helpers ---- */

#define T0 1700000000
static const char *const all_algs[] = {"RS256", "ES256", "EdDSA"};
static const char *const payload = "{\"sub\":\"alice\",\"aud\":\"app\",\"n\":1}";

static struct keystore *open_all(const char *secret)
{
    struct keystore *ks = NULL;
    struct errbuf err = {{0}};
    if (keystore_open(DB, secret, all_algs, 3, true, &ks, &err) != 0) {
        fprintf(stderr, "  keystore_open: %s\n", err.msg);
        return NULL;
    }
    return ks;
}

static char *b64(struct arena *a, const char *s)
{
    return b64url_encode(a, s, strlen(s));
}

/* The kid named in a token's header. */
static const char *token_kid(struct arena *a, const char *tok)
{
    const char *dot = strchr(tok, '.');
    unsigned char *raw;
    size_t n;
    if (dot == NULL || b64url_decode(a, tok, (size_t)(dot - tok), &raw, &n) != 0)
        return NULL;
    json_t *h = json_loadb((const char *)raw, n, 0, NULL);
    const char *kid = arena_strdup(a, json_string_value(json_object_get(h, "kid")));
    json_decref(h);
    return kid;
}

static int verify(struct keystore *ks, struct arena *a, const char *tok)
{
    json_t *claims = NULL;
    struct errbuf err = {{0}};
    return jws_verify(ks, a, tok, strlen(tok), &claims, NULL, &err);
}

/* The published JWK named kid, parsed; NULL if absent. Owner: caller (json_decref). */
static json_t *jwks_find(struct keystore *ks, struct arena *a, const char *kid)
{
    size_t len = 0;
    const char *text = keystore_jwks(ks, a, &len);
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *found = NULL, *k;
    size_t i;
    json_array_foreach(json_object_get(doc, "keys"), i, k)
    {
        if (strcmp(json_string_value(json_object_get(k, "kid")), kid) == 0)
            found = json_incref(k);
    }
    json_decref(doc);
    return found;
}

static int jwk_bytes(struct arena *a, json_t *jwk, const char *name, unsigned char **out, size_t *n)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    return s == NULL ? -1 : b64url_decode(a, s, strlen(s), out, n);
}

/* Builds an OpenSSL public key from a published JWK, without going through src/jose. */
static EVP_PKEY *pkey_from_jwk(struct arena *a, json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    unsigned char *x = NULL, *y = NULL;
    size_t xn = 0, yn = 0;
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    const char *type = NULL;
    BIGNUM *n = NULL, *e = NULL;
    if (strcmp(kty, "OKP") == 0) {
        OSSL_PARAM_BLD_free(bld);
        if (jwk_bytes(a, jwk, "x", &x, &xn) != 0 || xn != 32)
            return NULL;
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xn);
    } else if (strcmp(kty, "EC") == 0) {
        if (jwk_bytes(a, jwk, "x", &x, &xn) != 0 || jwk_bytes(a, jwk, "y", &y, &yn) != 0 || xn != 32 ||
            yn != 32)
            goto out;
        unsigned char *pt = arena_alloc(a, 65);
        pt[0] = 4;
        memcpy(pt + 1, x, 32);
        memcpy(pt + 33, y, 32);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65);
        type = "EC";
    } else if (strcmp(kty, "RSA") == 0) {
        if (jwk_bytes(a, jwk, "n", &x, &xn) != 0 || jwk_bytes(a, jwk, "e", &y, &yn) != 0)
            goto out;
        n = BN_bin2bn(x, (int)xn, NULL);
        e = BN_bin2bn(y, (int)yn, NULL);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        type = "RSA";
    } else {
        goto out;
    }
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
out:
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_BLD_free(bld);
    return pkey;
}

/* Verifies a token of ours with OpenSSL directly and the key from our JWKS: an independent check of
 * the signature encoding (raw R||S for ES256) and of the published key material. */
static int openssl_verify(struct keystore *ks, struct arena *a, const char *tok, const char *alg)
{
    json_t *jwk = jwks_find(ks, a, token_kid(a, tok));
    if (jwk == NULL)
        return -1;
    EVP_PKEY *pkey = pkey_from_jwk(a, jwk);
    json_decref(jwk);
    if (pkey == NULL)
        return -2;
    const char *last = strrchr(tok, '.');
    unsigned char *sig;
    size_t sig_len;
    if (b64url_decode(a, last + 1, strlen(last + 1), &sig, &sig_len) != 0)
        return -3;
    unsigned char der[128];
    if (strcmp(alg, "ES256") == 0) {
        if (sig_len != 64)
            return -4;
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        unsigned char *p = der;
        sig_len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok =
        EVP_DigestVerifyInit(ctx, NULL, strcmp(alg, "EdDSA") == 0 ? NULL : EVP_sha256(), NULL, pkey) == 1 &&
        EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)tok, (size_t)(last - tok)) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -5;
}

/* ---- tests ---- */

TEST(jose_alg_allow_list)
{
    ASSERT(jose_alg_supported("RS256"));
    ASSERT(jose_alg_supported("ES256"));
    ASSERT(jose_alg_supported("EdDSA"));
    ASSERT(!jose_alg_supported("none"));
    ASSERT(!jose_alg_supported("HS256"));
    ASSERT(!jose_alg_supported("rs256"));
    ASSERT(!jose_alg_supported("RS2560"));
    ASSERT(!jose_alg_supported(""));
    ASSERT(!jose_alg_supported(NULL));
}

TEST(jose_sign_verify_round_trip)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    ASSERT_EQ(fake_n, 3);
    struct arena *a = arena_new(4096);
    for (size_t i = 0; i < 3; i++) {
        struct errbuf err = {{0}};
        char *tok = jws_sign(ks, a, all_algs[i], "JWT", payload, strlen(payload), &err);
        ASSERT(tok != NULL);
        json_t *claims = NULL;
        const char *typ = NULL;
        int rc = jws_verify(ks, a, tok, strlen(tok), &claims, &typ, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", all_algs[i], err.msg);
        ASSERT_EQ(rc, 0);
        ASSERT_STREQ(typ, "JWT");
        ASSERT_STREQ(json_string_value(json_object_get(claims, "sub")), "alice");
        ASSERT_EQ(json_integer_value(json_object_get(claims, "n")), 1);
        ASSERT_EQ(openssl_verify(ks, a, tok, all_algs[i]), 0);

        /* Uncached typ, and no typ at all. */
        tok = jws_sign(ks, a, all_algs[i], "token-introspection+jwt", payload, strlen(payload), &err);
        ASSERT(tok != NULL);
        ASSERT_EQ(jws_verify(ks, a, tok, strlen(tok), &claims, &typ, &err), 0);
        ASSERT_STREQ(typ, "token-introspection+jwt");
        tok = jws_sign(ks, a, all_algs[i], NULL, payload, strlen(payload), &err);
        ASSERT(tok != NULL);
        ASSERT_EQ(jws_verify(ks, a, tok, strlen(tok), &claims, &typ, &err), 0);
        ASSERT(typ == NULL);
        /* Payload lengths around the base64 block boundary. */
        for (size_t extra = 0; extra < 4; extra++) {
            const char *p = arena_printf(a, "{\"x\":\"%.*s\"}", (int)extra, "abc");
            tok = jws_sign(ks, a, all_algs[i], NULL, p, strlen(p), &err);
            ASSERT(tok != NULL);
            ASSERT_EQ(verify(ks, a, tok), 0);
        }
    }
    arena_free(a);
    keystore_free(ks);
}

/* EdDSA tokens are signed with libsodium: RFC 8032 signatures are deterministic, so OpenSSL's signature of the
 * same input with the same key must be the very same bytes. */
TEST(jose_eddsa_matches_openssl)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(4096);
    struct errbuf err = {{0}};
    for (int round = 0; round < 3; round++) { /* the second and third use this thread's cached key */
        char *tok = jws_sign(ks, a, "EdDSA", "at+jwt", payload, strlen(payload), &err);
        ASSERT(tok != NULL);
        const char *last = strrchr(tok, '.');
        unsigned char *sig;
        size_t sig_len;
        ASSERT_EQ(b64url_decode(a, last + 1, strlen(last + 1), &sig, &sig_len), 0);
        ASSERT_EQ(sig_len, 64);
        struct jose_keyref key;
        ASSERT_EQ(keystore_signing_key(ks, a, jose_alg_from_cstr("EdDSA"), "at+jwt", &key, &err), 0);
        unsigned char ref[64];
        size_t ref_len = sizeof(ref);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        ASSERT(EVP_DigestSignInit(ctx, NULL, NULL, NULL, key.pkey) == 1);
        ASSERT(EVP_DigestSign(ctx, ref, &ref_len, (const unsigned char *)tok, (size_t)(last - tok)) == 1);
        EVP_MD_CTX_free(ctx);
        keystore_key_release(ks, &key);
        ASSERT_EQ(ref_len, 64);
        ASSERT(memcmp(ref, sig, 64) == 0);
        ASSERT_EQ(openssl_verify(ks, a, tok, "EdDSA"), 0);
    }
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_reopen_keeps_keys)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(4096);
    struct errbuf err = {{0}};
    char *tok = jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err);
    keystore_free(ks);
    ks = open_all("s3cret");
    ASSERT(ks != NULL);
    ASSERT_EQ(fake_n, 3); /* nothing regenerated */
    ASSERT_EQ(verify(ks, a, tok), 0);
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_wrong_secret_fails)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("right secret");
    ASSERT(ks != NULL);
    keystore_free(ks);
    ks = NULL;
    struct errbuf err = {{0}};
    int rc = keystore_open(DB, "wrong secret", all_algs, 3, true, &ks, &err);
    ASSERT(rc != 0);
    ASSERT(ks == NULL);
    ASSERT(strstr(err.msg, "key secret does not match") != NULL);
    ASSERT_EQ(fake_n, 3);
    ASSERT_EQ(fake_in_tx, 0);
    /* Rotation refuses too, before writing anything. */
    char *kid = NULL;
    rc = keystore_rotate(DB, "wrong secret", "ES256", T0, 0, 3600, &kid, &err);
    ASSERT(rc != 0);
    ASSERT(kid == NULL);
    ASSERT_EQ(fake_n, 3);
    ASSERT_EQ(fake_in_tx, 0);
    /* An empty secret is refused outright. */
    ASSERT(keystore_open(DB, "", all_algs, 3, true, &ks, &err) != 0);

    /* The kid is bound to the ciphertext: a blob moved to another row, or altered, does not decrypt.
     * (A failed open rolls back, which replaces the fake's rows: always go through fake_rows.) */
    size_t saved_len = fake_rows[1].priv_len;
    unsigned char *saved = malloc(saved_len);
    memcpy(saved, fake_rows[1].priv, saved_len);
    free(fake_rows[1].priv);
    fake_rows[1].priv = malloc(fake_rows[0].priv_len);
    memcpy(fake_rows[1].priv, fake_rows[0].priv, fake_rows[0].priv_len);
    fake_rows[1].priv_len = fake_rows[0].priv_len;
    ASSERT(keystore_open(DB, "right secret", all_algs, 3, true, &ks, &err) != 0);
    ASSERT(strstr(err.msg, fake_rows[1].kid) != NULL);
    free(fake_rows[1].priv);
    fake_rows[1].priv = saved;
    fake_rows[1].priv_len = saved_len;
    fake_rows[1].priv[saved_len / 2] ^= 1;
    ASSERT(keystore_open(DB, "right secret", all_algs, 3, true, &ks, &err) != 0);
    fake_rows[1].priv[saved_len / 2] ^= 1;
    ASSERT_EQ(keystore_open(DB, "right secret", all_algs, 3, true, &ks, &err), 0);
    ASSERT_EQ(fake_n, 3);
    keystore_free(ks);
}

TEST(jose_open_without_generate)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = NULL;
    struct errbuf err = {{0}};
    ASSERT(keystore_open(DB, "s", all_algs, 3, false, &ks, &err) != 0);
    ASSERT(ks == NULL);
    ASSERT_EQ(fake_n, 0);
    const char *bad[] = {"HS256"};
    ASSERT_EQ(keystore_open(DB, "s", bad, 1, true, &ks, &err), ERR_INVALID);
    /* Only ES256 asked for: only ES256 generated; signing RS256 then fails cleanly. */
    const char *es[] = {"ES256", "ES256"};
    ASSERT_EQ(keystore_open(DB, "s", es, 2, true, &ks, &err), 0);
    ASSERT_EQ(fake_n, 1);
    struct arena *a = arena_new(4096);
    ASSERT(jws_sign(ks, a, "RS256", NULL, payload, strlen(payload), &err) == NULL);
    ASSERT(jws_sign(ks, a, "none", NULL, payload, strlen(payload), &err) == NULL);
    ASSERT(jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err) != NULL);
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_verify_rejects)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(4096);
    struct errbuf err = {{0}};
    char *es = jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err);
    char *rs = jws_sign(ks, a, "RS256", NULL, payload, strlen(payload), &err);
    ASSERT(es != NULL && rs != NULL);
    const char *es_kid = token_kid(a, es);
    const char *body = strchr(es, '.') + 1;
    const char *es_sig = strrchr(es, '.') + 1;
    const char *pl = b64(a, payload);

    /* alg none, with and without a signature, with our kid. */
    const char *none =
        arena_printf(a, "%s.%s.", b64(a, arena_printf(a, "{\"alg\":\"none\",\"kid\":\"%s\"}", es_kid)), pl);
    ASSERT_EQ(verify(ks, a, none), JOSE_ERR_BAD_TOKEN);
    none = arena_printf(a, "%s.%s.%s", b64(a, arena_printf(a, "{\"alg\":\"none\",\"kid\":\"%s\"}", es_kid)),
                        pl, es_sig);
    ASSERT_EQ(verify(ks, a, none), JOSE_ERR_BAD_TOKEN);
    none = arena_printf(a, "%s.%s.%s", b64(a, "{\"alg\":\"none\"}"), pl, es_sig);
    ASSERT_EQ(verify(ks, a, none), JOSE_ERR_BAD_TOKEN);
    /* Case variants and HMAC (the classic RS256 -> HS256 confusion) are not on the list either. */
    const char *hs = arena_printf(
        a, "%s.%s.%s", b64(a, arena_printf(a, "{\"alg\":\"HS256\",\"kid\":\"%s\"}", es_kid)), pl, es_sig);
    ASSERT_EQ(verify(ks, a, hs), JOSE_ERR_BAD_TOKEN);
    const char *lower = arena_printf(
        a, "%s.%s.%s", b64(a, arena_printf(a, "{\"alg\":\"es256\",\"kid\":\"%s\"}", es_kid)), pl, es_sig);
    ASSERT_EQ(verify(ks, a, lower), JOSE_ERR_BAD_TOKEN);

    /* alg mismatch: an RS256 header naming the ES256 key. */
    const char *mix =
        arena_printf(a, "%s.%s.%s", b64(a, arena_printf(a, "{\"alg\":\"RS256\",\"kid\":\"%s\"}", es_kid)), pl,
                     strrchr(rs, '.') + 1);
    ASSERT_EQ(verify(ks, a, mix), JOSE_ERR_BAD_TOKEN);

    /* Unknown kid; kid of the wrong type. */
    const char *unk = arena_printf(a, "%s.%s.%s", b64(a, "{\"alg\":\"ES256\",\"kid\":\"nope\"}"), pl, es_sig);
    ASSERT_EQ(verify(ks, a, unk), JOSE_ERR_UNKNOWN_KEY);
    const char *numkid = arena_printf(a, "%s.%s.%s", b64(a, "{\"alg\":\"ES256\",\"kid\":1}"), pl, es_sig);
    ASSERT_EQ(verify(ks, a, numkid), JOSE_ERR_BAD_TOKEN);
    /* No kid: the only ES256 key is used, so a signature by it verifies. */
    const char *hdr_nokid = b64(a, "{\"alg\":\"ES256\"}");
    struct strbuf sb;
    strbuf_init(&sb, a, 65536);
    strbuf_addf(&sb, "%s.%.*s", hdr_nokid, (int)(es_sig - body - 1), body);
    ASSERT_EQ(verify(ks, a, arena_printf(a, "%s.%s", sb.buf, es_sig)), JOSE_ERR_BAD_SIGNATURE);

    /* Tampered payload and signature. */
    char *t = arena_strdup(a, es);
    t[body - es + 3] = t[body - es + 3] == 'A' ? 'B' : 'A';
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_SIGNATURE);
    t = arena_strdup(a, es);
    t[es_sig - es + 5] = t[es_sig - es + 5] == 'A' ? 'B' : 'A';
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_SIGNATURE);
    /* Signature one byte short and one byte long (ES256 must be exactly 64 bytes); not base64url. */
    unsigned char *raw;
    size_t raw_len;
    ASSERT_EQ(b64url_decode(a, es_sig, strlen(es_sig), &raw, &raw_len), 0);
    ASSERT_EQ(raw_len, 64);
    int prefix = (int)(es_sig - es);
    t = arena_printf(a, "%.*s%s", prefix, es, b64url_encode(a, raw, 63));
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_SIGNATURE);
    unsigned char longer[65] = {0};
    memcpy(longer, raw, 64);
    t = arena_printf(a, "%.*s%s", prefix, es, b64url_encode(a, longer, 65));
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_SIGNATURE);
    t = arena_printf(a, "%sAAA", es);
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_TOKEN);
    /* The same ES256 signature in DER form (what OpenSSL produces) is not a JWS signature. */
    ECDSA_SIG *ds = ECDSA_SIG_new();
    ECDSA_SIG_set0(ds, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char der[80], *dp = der;
    int der_len = i2d_ECDSA_SIG(ds, &dp);
    ECDSA_SIG_free(ds);
    t = arena_printf(a, "%.*s%s", prefix, es, b64url_encode(a, der, (size_t)der_len));
    ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_SIGNATURE);
    /* A 64-byte signature on an RSA key: wrong length for the key. */
    t = arena_strdup(a, rs);
    *strrchr(t, '.') = '\0';
    ASSERT_EQ(verify(ks, a, arena_printf(a, "%s.%s", t, es_sig)), JOSE_ERR_BAD_SIGNATURE);

    /* Truncated and malformed segments. */
    size_t es_len = strlen(es);
    ASSERT_EQ(verify(ks, a, arena_strndup(a, es, (size_t)(es_sig - es - 1))),
              JOSE_ERR_BAD_TOKEN);                                                             /* 2 segs */
    ASSERT_EQ(verify(ks, a, arena_strndup(a, es, (size_t)(es_sig - es))), JOSE_ERR_BAD_TOKEN); /* empty sig */
    ASSERT_EQ(verify(ks, a, arena_strndup(a, es, (size_t)(body - es - 1))), JOSE_ERR_BAD_TOKEN); /* 1 seg */
    ASSERT_EQ(verify(ks, a, arena_printf(a, "%s.", es)), JOSE_ERR_BAD_TOKEN);                    /* 4 segs */
    ASSERT_EQ(verify(ks, a, arena_printf(a, "%s.xx", es)), JOSE_ERR_BAD_TOKEN);
    ASSERT_EQ(verify(ks, a, arena_printf(a, "%s=", es)), JOSE_ERR_BAD_TOKEN); /* padding */
    ASSERT_EQ(verify(ks, a, arena_printf(a, " %s", es)), JOSE_ERR_BAD_TOKEN); /* whitespace */
    ASSERT_EQ(verify(ks, a, ""), JOSE_ERR_BAD_TOKEN);
    ASSERT_EQ(verify(ks, a, ".."), JOSE_ERR_BAD_TOKEN);
    ASSERT_EQ(verify(ks, a, arena_printf(a, ".%s", body)), JOSE_ERR_BAD_TOKEN);
    json_t *claims = NULL;
    ASSERT_EQ(jws_verify(ks, a, es, es_len - 1, &claims, NULL, &err), JOSE_ERR_BAD_TOKEN); /* len respected */
    ASSERT_EQ(jws_verify(ks, a, NULL, 0, &claims, NULL, &err), JOSE_ERR_BAD_TOKEN);
    ASSERT(claims == NULL);

    /* Header problems: not JSON, not an object, duplicate members, no alg, crit. */
    const char *bad_hdrs[] = {"not json",
                              "[\"ES256\"]",
                              "\"ES256\"",
                              "{\"alg\":\"ES256\",\"alg\":\"ES256\"}",
                              "{\"kid\":\"x\"}",
                              "{\"alg\":1}",
                              "{\"alg\":\"ES256\",\"crit\":[\"b64\"],\"b64\":false}",
                              "{\"alg\":\"ES256\",\"typ\":7}"};
    for (size_t i = 0; i < sizeof(bad_hdrs) / sizeof(bad_hdrs[0]); i++) {
        t = arena_printf(a, "%s.%s.%s", b64(a, bad_hdrs[i]), pl, es_sig);
        ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_TOKEN);
    }
    /* Too long: refused before decoding. */
    char *big = arena_alloc(a, 20001);
    memset(big, 'A', 20000);
    big[100] = big[200] = '.';
    ASSERT_EQ(verify(ks, a, big), JOSE_ERR_BAD_TOKEN);

    /* Validly signed, but the payload is not a JSON object. */
    const char *not_obj[] = {"[1,2]", "\"str\"", "{\"a\":1,\"a\":2}", "{\"a\":", ""};
    for (size_t i = 0; i < sizeof(not_obj) / sizeof(not_obj[0]); i++) {
        t = jws_sign(ks, a, "EdDSA", NULL, not_obj[i], strlen(not_obj[i]), &err);
        ASSERT(t != NULL);
        ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_TOKEN);
    }
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_jwks_fields)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(4096);
    size_t len = 0;
    const char *text = keystore_jwks(ks, a, &len);
    ASSERT(text != NULL);
    ASSERT_EQ(strlen(text), len);
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    ASSERT(doc != NULL);
    json_t *keys = json_object_get(doc, "keys");
    ASSERT_EQ(json_array_size(keys), 3);
    int seen = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *k = json_array_get(keys, i);
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *alg = json_string_value(json_object_get(k, "alg"));
        const char *kid = json_string_value(json_object_get(k, "kid"));
        ASSERT(kty != NULL && alg != NULL && kid != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(k, "use")), "sig");
        ASSERT_EQ(strlen(kid), 43); /* base64url SHA-256 thumbprint */
        ASSERT(json_object_get(k, "d") == NULL && json_object_get(k, "p") == NULL);
        unsigned char *b;
        size_t n;
        if (strcmp(alg, "RS256") == 0) {
            ASSERT_STREQ(kty, "RSA");
            ASSERT_EQ(jwk_bytes(a, k, "n", &b, &n), 0);
            ASSERT_EQ(n, 256);
            ASSERT(b[0] != 0);
            ASSERT_STREQ(json_string_value(json_object_get(k, "e")), "AQAB");
            ASSERT_EQ(json_object_size(k), 6);
            seen |= 1;
        } else if (strcmp(alg, "ES256") == 0) {
            ASSERT_STREQ(kty, "EC");
            ASSERT_STREQ(json_string_value(json_object_get(k, "crv")), "P-256");
            ASSERT_EQ(jwk_bytes(a, k, "x", &b, &n), 0);
            ASSERT_EQ(n, 32);
            ASSERT_EQ(jwk_bytes(a, k, "y", &b, &n), 0);
            ASSERT_EQ(n, 32);
            ASSERT_EQ(json_object_size(k), 7);
            seen |= 2;
        } else {
            ASSERT_STREQ(alg, "EdDSA");
            ASSERT_STREQ(kty, "OKP");
            ASSERT_STREQ(json_string_value(json_object_get(k, "crv")), "Ed25519");
            ASSERT_EQ(jwk_bytes(a, k, "x", &b, &n), 0);
            ASSERT_EQ(n, 32);
            ASSERT_EQ(json_object_size(k), 6);
            seen |= 4;
        }
        /* kid is the RFC 7638 thumbprint of the published members. */
        json_t *req = json_object();
        const char *members[] = {"crv", "e", "kty", "n", "x", "y"};
        for (size_t m = 0; m < 6; m++) {
            if (json_object_get(k, members[m]) != NULL)
                json_object_set(req, members[m], json_object_get(k, members[m]));
        }
        char *canon = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
        unsigned char md[32];
        SHA256((const unsigned char *)canon, strlen(canon), md);
        free(canon);
        json_decref(req);
        ASSERT_STREQ(b64url_encode(a, md, 32), kid);
    }
    ASSERT_EQ(seen, 7);
    json_decref(doc);
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_thumbprint_rfc7638_vector)
{
    /* RFC 7638 §3.1: the example RSA key and its thumbprint. */
    static const char n_b64[] = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxu"
                                "hDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjh"
                                "Mstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
                                "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQv"
                                "RL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
                                "xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKn"
                                "qDKgw";
    struct arena *a = arena_new(4096);
    unsigned char *nb;
    size_t nn;
    ASSERT_EQ(b64url_decode(a, n_b64, strlen(n_b64), &nb, &nn), 0);
    BIGNUM *n = BN_bin2bn(nb, (int)nn, NULL), *e = BN_new();
    BN_set_word(e, 65537);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_fromdata_init(ctx);
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    ASSERT(pkey != NULL);
    const char *tp = jose_jwk_thumbprint(a, pkey, JOSE_ALG_RS256);
    EVP_PKEY_free(pkey);
    ASSERT_STREQ(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    arena_free(a);
}

TEST(jose_rotation)
{
    fake_reset();
    clock_set_fixed(T0);
    const char *es[] = {"ES256"};
    struct keystore *ks = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(keystore_open(DB, "s3cret", es, 1, true, &ks, &err), 0);
    struct arena *a = arena_new(4096);
    char *old_tok = jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err);
    const char *old_kid = token_kid(a, old_tok);

    char *new_kid = NULL;
    ASSERT_EQ(keystore_rotate(DB, "s3cret", "ES256", T0, 100, 1000, &new_kid, &err), 0);
    ASSERT(new_kid != NULL);
    ASSERT(strcmp(new_kid, old_kid) != 0);
    ASSERT_EQ(keystore_reload(ks, DB, &err), 0);
    ASSERT_EQ(keystore_reload(ks, DB, &err), 0); /* unchanged: a no-op */

    struct keystore_info *info;
    size_t n;
    ASSERT_EQ(keystore_list(DB, a, T0, &info, &n, &err), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(info[0].kid, old_kid);
    ASSERT_STREQ(info[0].state, "current");
    ASSERT_EQ(info[0].retired_at, T0 + 100);
    ASSERT_EQ(info[0].unpublish_at, T0 + 1100);
    ASSERT_STREQ(info[1].kid, new_kid);
    ASSERT_STREQ(info[1].state, "next");

    /* Before sign_from: the old key still signs, the new one is already published. */
    json_t *j = jwks_find(ks, a, new_kid);
    ASSERT(j != NULL);
    json_decref(j);
    ASSERT_STREQ(token_kid(a, jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err)), old_kid);

    /* After: the new key signs; the old one still verifies and is still published. */
    clock_set_fixed(T0 + 100);
    char *new_tok = jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err);
    ASSERT_STREQ(token_kid(a, new_tok), new_kid);
    ASSERT_EQ(verify(ks, a, new_tok), 0);
    ASSERT_EQ(verify(ks, a, old_tok), 0);
    j = jwks_find(ks, a, old_kid);
    ASSERT(j != NULL);
    json_decref(j);
    ASSERT_EQ(keystore_list(DB, a, T0 + 100, &info, &n, &err), 0);
    ASSERT_STREQ(info[0].state, "retired");
    ASSERT_STREQ(info[1].state, "current");
    /* Two ES256 keys published: a token without kid is ambiguous. */
    const char *nokid = arena_printf(a, "%s%s", b64(a, "{\"alg\":\"ES256\"}"), strchr(new_tok, '.'));
    ASSERT_EQ(verify(ks, a, nokid), JOSE_ERR_UNKNOWN_KEY);

    /* After unpublish_at: the old key is gone from the JWKS and its tokens no longer verify. */
    clock_set_fixed(T0 + 1100);
    ASSERT(jwks_find(ks, a, old_kid) == NULL);
    j = jwks_find(ks, a, new_kid);
    ASSERT(j != NULL);
    json_decref(j);
    ASSERT_EQ(verify(ks, a, old_tok), JOSE_ERR_UNKNOWN_KEY);
    ASSERT_EQ(verify(ks, a, new_tok), 0);
    ASSERT_EQ(keystore_list(DB, a, T0 + 1100, &info, &n, &err), 0);
    ASSERT_STREQ(info[0].state, "unpublished");
    /* With one ES256 key left, a token without kid finds it (then fails on the swapped header). */
    ASSERT_EQ(verify(ks, a, nokid), JOSE_ERR_BAD_SIGNATURE);

    /* An unchanged store makes reload a no-op; a fresh open agrees and generates nothing. */
    ASSERT_EQ(keystore_reload(ks, DB, &err), 0);
    ASSERT_EQ(verify(ks, a, new_tok), 0);
    keystore_free(ks);
    ASSERT_EQ(keystore_open(DB, "s3cret", es, 1, true, &ks, &err), 0);
    ASSERT_EQ(fake_n, 2);
    ASSERT_EQ(verify(ks, a, new_tok), 0);
    free(new_kid);

    /* Rotation with no delay: the new key signs immediately. */
    ASSERT_EQ(keystore_rotate(DB, "s3cret", "ES256", T0 + 1100, 0, 1000, &new_kid, &err), 0);
    ASSERT_EQ(keystore_reload(ks, DB, &err), 0);
    ASSERT_STREQ(token_kid(a, jws_sign(ks, a, "ES256", NULL, payload, strlen(payload), &err)), new_kid);
    ASSERT_EQ(verify(ks, a, new_tok), 0);
    free(new_kid);
    ASSERT_EQ(keystore_rotate(DB, "s3cret", "HS256", T0, 0, 1000, &new_kid, &err), ERR_INVALID);
    arena_free(a);
    keystore_free(ks);
}

TEST(jose_half_hash_vectors)
{
    struct arena *a = arena_new(4096);
    /* c_hash of the OIDC Core Appendix A code example (RS256). */
    const char *code = "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk";
    ASSERT_STREQ(jose_half_hash(a, "RS256", code, strlen(code)), "LDktKdoQak3Pk0cnXxCltA");
    /* Expected value computed independently (Python hashlib: left 16 bytes of SHA-256, base64url). */
    const char *at = "jHkWEdUXMU1BwAsC4vtUsZwnrIZNAyrAVnk6Tb5lA4M";
    ASSERT_STREQ(jose_half_hash(a, "RS256", at, strlen(at)), "xu4I5heMBB_Yt78UTOkJLQ");
    ASSERT_STREQ(jose_half_hash(a, "ES256", at, strlen(at)), "xu4I5heMBB_Yt78UTOkJLQ");
    /* EdDSA: left half of SHA-512. */
    unsigned char md[64];
    SHA512((const unsigned char *)at, strlen(at), md);
    const char *h = jose_half_hash(a, "EdDSA", at, strlen(at));
    ASSERT_STREQ(h, b64url_encode(a, md, 32));
    ASSERT_EQ(strlen(h), 43);
    ASSERT(jose_half_hash(a, "none", at, strlen(at)) == NULL);
    ASSERT(jose_half_hash(a, "HS256", at, strlen(at)) == NULL);
    arena_free(a);
}

/* The decoded signature of a token (0), or -1. */
static int sig_bytes(struct arena *a, const char *tok, unsigned char **raw, size_t *n)
{
    const char *sig = strrchr(tok, '.') + 1;
    return b64url_decode(a, sig, strlen(sig), raw, n);
}

/* The token with its signature replaced by sig[0..n). */
static char *with_sig(struct arena *a, const char *tok, const unsigned char *sig, size_t n)
{
    const char *last = strrchr(tok, '.');
    return arena_printf(a, "%.*s%s", (int)(last + 1 - tok), tok, b64url_encode(a, sig, n));
}

/* sig[off..off+n) = the big-endian v, left-padded; false if it does not fit. */
static bool put_bn(unsigned char *sig, size_t off, size_t n, const BIGNUM *v)
{
    return BN_bn2binpad(v, sig + off, (int)n) == (int)n;
}

/* ECDSA malleability: (r, s) and (r, n - s) both verify under plain OpenSSL; we sign with s <= n/2 and
 * refuse the high-s twin, so a token has one valid encoding. */
TEST(jose_es256_low_s_only)
{
    static const char *const order_hex = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(8192);
    struct errbuf err = {{0}};
    BIGNUM *n = NULL, *half = BN_new(), *s = BN_new(), *twin = BN_new();
    ASSERT(BN_hex2bn(&n, order_hex) > 0);
    ASSERT(BN_rshift1(half, n) == 1);
    /* 64 signatures: with s uniform, a signer that does not normalize emits a high s with probability
     * 1 - 2^-64. */
    for (int i = 0; i < 64; i++) {
        const char *p = arena_printf(a, "{\"sub\":\"alice\",\"i\":%d}", i);
        char *tok = jws_sign(ks, a, "ES256", "at+jwt", p, strlen(p), &err);
        ASSERT(tok != NULL);
        unsigned char *raw;
        size_t raw_len;
        ASSERT_EQ(sig_bytes(a, tok, &raw, &raw_len), 0);
        ASSERT_EQ(raw_len, 64);
        ASSERT(BN_bin2bn(raw + 32, 32, s) != NULL);
        ASSERT(BN_cmp(s, half) <= 0);
        ASSERT_EQ(verify(ks, a, tok), 0);
        /* The twin: (r, n - s) is a valid ECDSA signature (OpenSSL alone accepts it), refused by us. */
        ASSERT(BN_sub(twin, n, s) == 1 && put_bn(raw, 32, 32, twin));
        char *high = with_sig(a, tok, raw, 64);
        ASSERT_EQ(openssl_verify(ks, a, high, "ES256"), 0);
        ASSERT_EQ(verify(ks, a, high), JOSE_ERR_BAD_SIGNATURE);
        arena_reset(a);
    }
    BN_free(n);
    BN_free(half);
    BN_free(s);
    BN_free(twin);
    arena_free(a);
    keystore_free(ks);
}

/* The other algorithms have no second encoding either: an RSA value >= n (s + n encodes the same residue),
 * an Ed25519 S + L, and base64url with non-zero trailing bits or padding are refused. */
TEST(jose_no_second_signature_encoding)
{
    static const char *const ed_l_hex = "1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED";
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(8192);
    struct errbuf err = {{0}};
    for (size_t i = 0; i < 3; i++) {
        char *tok = jws_sign(ks, a, all_algs[i], "at+jwt", payload, strlen(payload), &err);
        ASSERT(tok != NULL);
        ASSERT_EQ(verify(ks, a, tok), 0);
        /* The last character of the signature carries 2 bits and 4 unused ones (256 and 64 bytes are
         * both 1 mod 3): flipping an unused bit changes the string, not the decoded bytes. */
        char *t = arena_strdup(a, tok);
        char *lastc = t + strlen(t) - 1;
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        size_t v = (size_t)(strchr(tbl, *lastc) - tbl);
        ASSERT_EQ(v & 15, 0);
        *lastc = tbl[v | 1];
        ASSERT_EQ(verify(ks, a, t), JOSE_ERR_BAD_TOKEN);
        ASSERT_EQ(verify(ks, a, arena_printf(a, "%s==", tok)), JOSE_ERR_BAD_TOKEN);
    }

    /* Ed25519: S is little-endian in the second half; S + L < 2^256 since S < L < 2^253. */
    char *ed = jws_sign(ks, a, "EdDSA", "at+jwt", payload, strlen(payload), &err);
    ASSERT(ed != NULL);
    unsigned char *raw;
    size_t raw_len;
    ASSERT_EQ(sig_bytes(a, ed, &raw, &raw_len), 0);
    ASSERT_EQ(raw_len, 64);
    unsigned char be[32];
    for (size_t k = 0; k < 32; k++)
        be[k] = raw[63 - k];
    BIGNUM *bs = BN_bin2bn(be, 32, NULL), *l = NULL;
    ASSERT(BN_hex2bn(&l, ed_l_hex) > 0);
    ASSERT(BN_add(bs, bs, l) == 1 && put_bn(be, 0, 32, bs));
    for (size_t k = 0; k < 32; k++)
        raw[32 + k] = be[31 - k];
    char *ed2 = with_sig(a, ed, raw, 64);
    ASSERT_EQ(verify(ks, a, ed2), JOSE_ERR_BAD_SIGNATURE);
    ASSERT(openssl_verify(ks, a, ed2, "EdDSA") != 0); /* OpenSSL itself refuses S >= L */
    BN_free(bs);
    BN_free(l);

    /* RS256: the modulus itself, and s + n whenever it still fits the modulus length. */
    char *rs = jws_sign(ks, a, "RS256", "at+jwt", payload, strlen(payload), &err);
    ASSERT(rs != NULL);
    json_t *jwk = jwks_find(ks, a, token_kid(a, rs));
    ASSERT(jwk != NULL);
    unsigned char *nb;
    size_t nn;
    ASSERT_EQ(jwk_bytes(a, jwk, "n", &nb, &nn), 0);
    json_decref(jwk);
    BIGNUM *n = BN_bin2bn(nb, (int)nn, NULL), *sv = BN_new();
    ASSERT_EQ(verify(ks, a, with_sig(a, rs, nb, nn)), JOSE_ERR_BAD_SIGNATURE);
    bool tried = false;
    for (int i = 0; i < 64 && !tried; i++) {
        const char *p = arena_printf(a, "{\"i\":%d}", i);
        rs = jws_sign(ks, a, "RS256", NULL, p, strlen(p), &err);
        ASSERT(rs != NULL);
        ASSERT_EQ(sig_bytes(a, rs, &raw, &raw_len), 0);
        ASSERT(raw_len == nn && BN_bin2bn(raw, (int)raw_len, sv) != NULL && BN_add(sv, sv, n) == 1);
        if (!put_bn(raw, 0, nn, sv))
            continue; /* s + n needs one more byte than the modulus: no such encoding of this one */
        ASSERT_EQ(verify(ks, a, with_sig(a, rs, raw, nn)), JOSE_ERR_BAD_SIGNATURE);
        tried = true;
    }
    BN_free(n);
    BN_free(sv);
    arena_free(a);
    keystore_free(ks);
}

struct thread_arg {
    struct keystore *ks;
    const char *alg;
    int failures;
};

static void *sign_verify_loop(void *p)
{
    struct thread_arg *t = p;
    struct arena *a = arena_new(8192);
    struct errbuf err;
    for (int i = 0; i < 200; i++) {
        char *tok = jws_sign(t->ks, a, t->alg, "at+jwt", payload, strlen(payload), &err);
        if (tok == NULL || verify(t->ks, a, tok) != 0)
            t->failures++;
        arena_reset(a);
    }
    arena_free(a);
    return NULL;
}

TEST(jose_threads_with_reload)
{
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct thread_arg args[4] = {{ks, "ES256", 0}, {ks, "EdDSA", 0}, {ks, "ES256", 0}, {ks, "RS256", 0}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, sign_verify_loop, &args[i]);
    struct errbuf err;
    /* Reloads with changes while the workers sign: publish-delayed rotations keep every alg signing. */
    for (int i = 0; i < 3; i++) {
        char *kid = NULL;
        ASSERT_EQ(keystore_rotate(DB, "s3cret", "EdDSA", T0, 1000, 1000, &kid, &err), 0);
        free(kid);
        ASSERT_EQ(keystore_reload(ks, DB, &err), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(args[i].failures, 0);
    keystore_free(ks);
}

TEST(jose_sign_speed)
{
    /* Not a benchmark gate, just a report: signatures per second per thread for each alg. */
    fake_reset();
    clock_set_fixed(T0);
    struct keystore *ks = open_all("s3cret");
    ASSERT(ks != NULL);
    struct arena *a = arena_new(8192);
    struct errbuf err;
    for (size_t i = 0; i < 3; i++) {
        int count = 0;
        int64_t start = clock_mono_us(), el = 0;
        while ((el = clock_mono_us() - start) < 200000) {
            ASSERT(jws_sign(ks, a, all_algs[i], "at+jwt", payload, strlen(payload), &err) != NULL);
            arena_reset(a);
            count++;
        }
        int vcount = 0;
        char *tok = strdup(jws_sign(ks, a, all_algs[i], "at+jwt", payload, strlen(payload), &err));
        start = clock_mono_us();
        int64_t vel = 0;
        while ((vel = clock_mono_us() - start) < 200000) {
            int rc = verify(ks, a, tok);
            arena_reset(a);
            ASSERT_EQ(rc, 0);
            vcount++;
        }
        free(tok);
        printf("  %-6s sign %8.0f/s  verify %8.0f/s\n", all_algs[i], count * 1e6 / (double)el,
               vcount * 1e6 / (double)vel);
    }
    arena_free(a);
    keystore_free(ks);
}

TESTS(T(jose_alg_allow_list), T(jose_sign_verify_round_trip), T(jose_eddsa_matches_openssl),
      T(jose_reopen_keeps_keys),
      T(jose_wrong_secret_fails), T(jose_open_without_generate), T(jose_verify_rejects), T(jose_jwks_fields),
      T(jose_thumbprint_rfc7638_vector), T(jose_rotation), T(jose_half_hash_vectors), T(jose_es256_low_s_only),
      T(jose_no_second_signature_encoding),
      T(jose_threads_with_reload), T(jose_sign_speed))
