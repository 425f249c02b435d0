/* test_jws_foreign.c: proves the verification of tokens of others (src/jose/jwk.c jose_jwk_import,
 * jose_jwks_import, jose_key_hmac, jose_pubkey_thumbprint; src/jose/jws.c jws_verify_keys, jws_peek): the
 * RFC 7515 A.1 (HS256) and A.3 (ES256), RFC 8037 A.3/A.4 (Ed25519) and RFC 7638 §3.1 vectors, round trips
 * for every RS/PS/ES alg with keys made here, and the refusals: alg none, an alg outside the allowed set,
 * an HS256 token "signed" with a public key, an alg that does not fit the key, an unknown kid, private or
 * symmetric JWKs, bad curves and lengths. */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/str.h"
#include "jose/jose_internal.h"

#include "harness.h"

static const struct jose_pubkey *import(struct arena *a, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    const struct jose_pubkey *k = NULL;
    struct errbuf err;
    int rc = jose_jwk_import(a, j, &k, &err);
    json_decref(j);
    return rc == 0 ? k : NULL;
}

static int verify1(struct arena *a, const char *jws, const struct jose_pubkey *k, unsigned allowed)
{
    struct jose_keyset set = {&k, 1};
    struct jws_verified v;
    struct errbuf err;
    return jws_verify_keys(a, jws, strlen(jws), &set, allowed, &v, &err);
}

/* RFC 7515 A.1: HS256 with the example key (the JWK's k, decoded). */
static const char rfc7515_a1[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc7515_a1_k[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

TEST(jws_foreign_rfc7515_hs256)
{
    struct arena *a = arena_new(4096);
    unsigned char *k;
    size_t klen;
    ASSERT_EQ(b64url_decode(a, rfc7515_a1_k, strlen(rfc7515_a1_k), &k, &klen), 0);
    const struct jose_pubkey *key = jose_key_hmac(a, k, klen);
    struct jose_keyset set = {&key, 1};
    struct jws_verified v;
    struct errbuf err;
    ASSERT_EQ(jws_verify_keys(a, rfc7515_a1, strlen(rfc7515_a1), &set, JOSE_ALGS_HMAC, &v, &err), 0);
    ASSERT_EQ(v.alg, JOSE_ALG_HS256);
    ASSERT_STREQ(json_string_value(json_object_get(v.payload, "iss")), "joe");
    ASSERT(v.key == key);
    /* The same token where HMAC is not allowed (a private_key_jwt client): refused by alg. */
    ASSERT_EQ(verify1(a, rfc7515_a1, key, JOSE_ALGS_ASYMMETRIC), JOSE_ERR_ALG);
    /* Another secret: bad signature. A secret shorter than the hash (RFC 7518 §3.2): no key fits. */
    ASSERT_EQ(verify1(a, rfc7515_a1, jose_key_hmac(a, "0123456789abcdef0123456789abcdef", 32), JOSE_ALGS_HMAC),
              JOSE_ERR_BAD_SIGNATURE);
    ASSERT_EQ(verify1(a, rfc7515_a1, jose_key_hmac(a, k, 31), JOSE_ALGS_HMAC), JOSE_ERR_UNKNOWN_KEY);
    ASSERT(jose_pubkey_thumbprint(a, key) == NULL);
    arena_free(a);
}

/* RFC 7515 A.3: ES256 with the example P-256 key. */
static const char rfc7515_a3_jwk[] = "{\"kty\":\"EC\",\"crv\":\"P-256\","
                                     "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char rfc7515_a3[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

TEST(jws_foreign_rfc7515_es256)
{
    struct arena *a = arena_new(4096);
    const struct jose_pubkey *k = import(a, rfc7515_a3_jwk);
    ASSERT(k != NULL);
    ASSERT_EQ(verify1(a, rfc7515_a3, k, JOSE_ALGS_ASYMMETRIC), 0);
    ASSERT_EQ(verify1(a, rfc7515_a3, k, JOSE_ALG_BIT(JOSE_ALG_RS256)), JOSE_ERR_ALG);
    /* One bit flipped in S. */
    char *bad = arena_strdup(a, rfc7515_a3);
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'A' ? 'B' : 'A';
    ASSERT_EQ(verify1(a, bad, k, JOSE_ALGS_ASYMMETRIC), JOSE_ERR_BAD_SIGNATURE);
    /* A signature one byte short of 2 x 32 (RFC 7518 §3.4: exactly R || S). */
    char *shortsig = arena_strndup(a, rfc7515_a3, strlen(rfc7515_a3) - 2);
    ASSERT(verify1(a, shortsig, k, JOSE_ALGS_ASYMMETRIC) != 0);
    arena_free(a);
}

/* RFC 8037 A.2-A.4: the Ed25519 key, its thumbprint, and a signature over a text payload (not a JSON
 * object: the signature verifies, then the payload is refused, so BAD_TOKEN rather than BAD_SIGNATURE). */
static const char rfc8037_jwk[] = "{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                                  "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}";
static const char rfc8037_a4[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
                                 "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

TEST(jws_foreign_rfc8037_ed25519)
{
    struct arena *a = arena_new(4096);
    const struct jose_pubkey *k = import(a, rfc8037_jwk);
    ASSERT(k != NULL);
    ASSERT_STREQ(jose_pubkey_thumbprint(a, k), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    ASSERT_EQ(verify1(a, rfc8037_a4, k, JOSE_ALGS_ASYMMETRIC), JOSE_ERR_BAD_TOKEN);
    char *bad = arena_strdup(a, rfc8037_a4);
    bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
    ASSERT_EQ(verify1(a, bad, k, JOSE_ALGS_ASYMMETRIC), JOSE_ERR_BAD_SIGNATURE);
    arena_free(a);
}

TEST(jws_foreign_rfc7638_thumbprint)
{
    struct arena *a = arena_new(4096);
    const struct jose_pubkey *k = import(
        a, "{\"kty\":\"RSA\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\",\"e\":\"AQAB\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nn"
           "drQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4H"
           "c5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91C"
           "bOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\"}");
    ASSERT(k != NULL);
    ASSERT_STREQ(jose_pubkey_kid(k), "2011-04-29");
    ASSERT_STREQ(jose_pubkey_thumbprint(a, k), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    arena_free(a);
}

/* Signs header.payload with pkey the way a client's library would (raw R || S for ECDSA, PSS for PS*). */
static char *sign_token(struct arena *a, EVP_PKEY *pkey, enum jose_alg alg, const char *kid)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), kid ? "{\"alg\":\"%s\",\"kid\":\"%s\"}" : "{\"alg\":\"%s\"}", jose_alg_name(alg),
             kid ? kid : "");
    const char *payload = "{\"iss\":\"c1\",\"sub\":\"c1\"}";
    char *in = arena_printf(a, "%s.%s", b64url_encode(a, hdr, strlen(hdr)), b64url_encode(a, payload, strlen(payload)));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char sig[1200];
    size_t n = sizeof(sig);
    EVP_DigestSignInit(ctx, &pctx, jose_alg_md(alg), NULL, pkey);
    if (alg >= JOSE_ALG_PS256 && alg <= JOSE_ALG_PS512) {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    if (EVP_DigestSign(ctx, sig, &n, (const unsigned char *)in, strlen(in)) != 1)
        n = 0;
    EVP_MD_CTX_free(ctx);
    size_t coord = jose_alg_ec_coord(alg);
    if (coord > 0) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        unsigned char raw[132];
        BN_bn2binpad(r, raw, (int)coord);
        BN_bn2binpad(s, raw + coord, (int)coord);
        ECDSA_SIG_free(es);
        memcpy(sig, raw, 2 * coord);
        n = 2 * coord;
    }
    return arena_printf(a, "%s.%s", in, b64url_encode(a, sig, n));
}

static void pkey_free_cb(void *p)
{
    EVP_PKEY_free(p);
}

/* A key of alg's kind, and its public JWK (as a client would publish it) imported with kid. */
static EVP_PKEY *make_key(struct arena *a, enum jose_alg alg, const char *kid, const struct jose_pubkey **out)
{
    EVP_PKEY *pkey = NULL;
    if (alg <= JOSE_ALG_EDDSA || (alg >= JOSE_ALG_RS384 && alg <= JOSE_ALG_PS512))
        pkey = alg == JOSE_ALG_ES256 ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
               : alg == JOSE_ALG_EDDSA ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                       : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg == JOSE_ALG_ES384 ? "P-384" : "P-521");
    arena_defer(a, pkey_free_cb, pkey);
    json_t *jwk = jose_jwk_public(pkey, alg, NULL);
    json_object_set_new(jwk, "kid", json_string(kid));
    struct errbuf err;
    *out = NULL;
    jose_jwk_import(a, jwk, out, &err);
    json_decref(jwk);
    return pkey;
}

TEST(jws_foreign_every_alg_round_trip)
{
    static const enum jose_alg algs[] = {JOSE_ALG_RS256, JOSE_ALG_RS384, JOSE_ALG_RS512, JOSE_ALG_PS256,
                                         JOSE_ALG_PS384, JOSE_ALG_PS512, JOSE_ALG_ES256, JOSE_ALG_ES384,
                                         JOSE_ALG_ES512, JOSE_ALG_EDDSA};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        struct arena *a = arena_new(8192);
        const struct jose_pubkey *k;
        EVP_PKEY *pkey = make_key(a, algs[i], "k1", &k);
        ASSERT(k != NULL);
        char *tok = sign_token(a, pkey, algs[i], "k1");
        ASSERT_EQ(verify1(a, tok, k, JOSE_ALGS_ASYMMETRIC), 0);
        ASSERT_EQ(verify1(a, tok, k, JOSE_ALGS_ASYMMETRIC & ~JOSE_ALG_BIT(algs[i])), JOSE_ERR_ALG);
        /* Without a kid: every key that fits is tried. */
        ASSERT_EQ(verify1(a, sign_token(a, pkey, algs[i], NULL), k, JOSE_ALGS_ASYMMETRIC), 0);
        /* An unknown kid. */
        ASSERT_EQ(verify1(a, sign_token(a, pkey, algs[i], "other"), k, JOSE_ALGS_ASYMMETRIC),
                  JOSE_ERR_UNKNOWN_KEY);
        json_t *hdr, *pl;
        struct errbuf err;
        ASSERT_EQ(jws_peek(a, tok, strlen(tok), &hdr, &pl, &err), 0);
        ASSERT_STREQ(json_string_value(json_object_get(pl, "iss")), "c1");
        arena_free(a);
    }
}

TEST(jws_foreign_refusals)
{
    struct arena *a = arena_new(16384);
    const struct jose_pubkey *rsa, *ec;
    EVP_PKEY *rsa_pkey = make_key(a, JOSE_ALG_RS256, "r", &rsa);
    make_key(a, JOSE_ALG_ES256, "e", &ec);
    ASSERT(rsa != NULL && ec != NULL);
    const struct jose_pubkey *both[] = {rsa, ec};
    struct jose_keyset set = {both, 2};
    struct jws_verified v;
    struct errbuf err;

    /* alg none, whatever the mask says. */
    char *none = arena_printf(a, "%s.%s.", b64url_encode(a, "{\"alg\":\"none\"}", 14), b64url_encode(a, "{}", 2));
    ASSERT(jws_verify_keys(a, none, strlen(none), &set, ~0u, &v, &err) != 0);
    char *none_sig = arena_printf(a, "%sAAAA", none);
    ASSERT_EQ(jws_verify_keys(a, none_sig, strlen(none_sig), &set, ~0u, &v, &err), JOSE_ERR_ALG);

    /* RFC 8725 §2.1 key confusion: HS256 keyed with the RSA public key's JWK text (what a naive verifier
     * would use as the secret). The key is public, so the attacker can compute this MAC. */
    json_t *pub = jose_jwk_public(rsa_pkey, JOSE_ALG_RS256, NULL);
    char *pub_text = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(pub);
    const char *hs_hdr = "{\"alg\":\"HS256\",\"kid\":\"r\"}";
    char *in = arena_printf(a, "%s.%s", b64url_encode(a, hs_hdr, strlen(hs_hdr)), b64url_encode(a, "{}", 2));
    unsigned char mac[32];
    unsigned mac_len = 0;
    HMAC(EVP_sha256(), pub_text, (int)strlen(pub_text), (const unsigned char *)in, strlen(in), mac, &mac_len);
    free(pub_text);
    char *hs = arena_printf(a, "%s.%s", in, b64url_encode(a, mac, mac_len));
    ASSERT_EQ(jws_verify_keys(a, hs, strlen(hs), &set, ~0u, &v, &err), JOSE_ERR_ALG);

    /* An alg that does not fit the kid's key: ES256 header naming the RSA key. */
    char *es_on_rsa = sign_token(a, rsa_pkey, JOSE_ALG_RS256, "r");
    ASSERT_EQ(jws_verify_keys(a, es_on_rsa, strlen(es_on_rsa), &set, ~0u, &v, &err), 0);
    const char *es_hdr = "{\"alg\":\"ES256\",\"kid\":\"r\"}";
    char *mismatch = arena_printf(a, "%s%s", b64url_encode(a, es_hdr, strlen(es_hdr)), strchr(es_on_rsa, '.'));
    ASSERT_EQ(jws_verify_keys(a, mismatch, strlen(mismatch), &set, ~0u, &v, &err), JOSE_ERR_ALG);

    /* Malformed forms. */
    ASSERT_EQ(jws_verify_keys(a, "a.b", 3, &set, ~0u, &v, &err), JOSE_ERR_BAD_TOKEN);
    ASSERT_EQ(jws_verify_keys(a, "", 0, &set, ~0u, &v, &err), JOSE_ERR_BAD_TOKEN);
    char *crit = arena_printf(a, "%s.%s.AAAA", b64url_encode(a, "{\"alg\":\"RS256\",\"crit\":[\"b64\"]}", 30),
                              b64url_encode(a, "{}", 2));
    ASSERT_EQ(jws_verify_keys(a, crit, strlen(crit), &set, ~0u, &v, &err), JOSE_ERR_BAD_TOKEN);
    arena_free(a);
}

TEST(jws_foreign_jwk_import_refusals)
{
    struct arena *a = arena_new(8192);
    /* Private and symmetric members. */
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\","
                     "\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"oct\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ\"}") == NULL);
    /* Wrong curve, lengths, types. */
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed448\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1\"}") == NULL); /* not canonical */
    ASSERT(import(a, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                     "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5aA\"}") == NULL); /* not on the curve */
    ASSERT(import(a, "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}") == NULL);                 /* tiny */
    ASSERT(import(a, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":1,\"y\":2}") == NULL);
    ASSERT(import(a, "[]") == NULL);
    /* use, key_ops and alg. */
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"key_ops\":[\"sign\"],"
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"ES256\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}") == NULL);
    ASSERT(import(a, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"alg\":\"EdDSA\",\"key_ops\":[\"verify\"],\"use\":\"sig\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}") != NULL);
    /* A JWKS: encryption and unknown key types skipped; duplicate kids refused. */
    struct jose_keyset set;
    struct errbuf err;
    json_t *j = json_loads("{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"x\",\"e\":\"y\"},{\"kty\":\"XYZ\"},"
                           "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
                           "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}",
                           0, NULL);
    ASSERT_EQ(jose_jwks_import(a, j, &set, &err), 0);
    ASSERT_EQ(set.n, 1);
    json_decref(j);
    j = json_loads("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
                   "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"},{\"kty\":\"EC\",\"crv\":\"P-256\","
                   "\"kid\":\"a\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                   "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}",
                   0, NULL);
    ASSERT_EQ(jose_jwks_import(a, j, &set, &err), ERR_INVALID);
    json_decref(j);
    j = json_loads("{\"keys\":{}}", 0, NULL);
    ASSERT_EQ(jose_jwks_import(a, j, &set, &err), ERR_INVALID);
    json_decref(j);
    arena_free(a);
}

TESTS(T(jws_foreign_rfc7515_hs256), T(jws_foreign_rfc7515_es256), T(jws_foreign_rfc8037_ed25519),
      T(jws_foreign_rfc7638_thumbprint), T(jws_foreign_every_alg_round_trip), T(jws_foreign_refusals),
      T(jws_foreign_jwk_import_refusals))
