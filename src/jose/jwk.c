/* jwk.c: key generation, public JWK export (RFC 7517 §4; RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2), the
 * RFC 7638 thumbprint used as kid, and PKCS#8 (de)serialization of private keys. Uses alg.c only.
 * Encryption at rest and the key lifecycle are in keystore.c; parsing of foreign JWKs is not supported (we
 * only publish). */
#include "jose/jose_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/arena.h"
#include "core/str.h"

#include "core/banned.h"

EVP_PKEY *jose_key_generate(enum jose_alg alg, struct errbuf *err)
{
    EVP_PKEY *pkey = NULL;
    switch (alg) {
    case JOSE_ALG_RS256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        break;
    case JOSE_ALG_ES256:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        break;
    case JOSE_ALG_EDDSA:
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case JOSE_ALG_NONE:
        break;
    }
    if (pkey == NULL)
        errbuf_set(err, "cannot generate a %s key (OpenSSL keygen failed)", jose_alg_name(alg));
    return pkey;
}

bool jose_key_fits_alg(const EVP_PKEY *pkey, enum jose_alg alg)
{
    if (pkey == NULL)
        return false;
    switch (alg) {
    case JOSE_ALG_RS256:
        /* RFC 7518 §3.3: a key of 2048 bits or larger MUST be used. */
        return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= 2048 &&
               EVP_PKEY_get_bits(pkey) <= 8192;
    case JOSE_ALG_ES256: {
        char group[32];
        size_t glen = 0;
        if (!EVP_PKEY_is_a(pkey, "EC"))
            return false;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) !=
            1)
            return false;
        return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
    }
    case JOSE_ALG_EDDSA:
        return EVP_PKEY_is_a(pkey, "ED25519");
    case JOSE_ALG_NONE:
        break;
    }
    return false;
}

/* Sets obj[name] to the base64url of a big-endian integer parameter, left-padded to pad bytes (0: the
 * minimal length, as RFC 7518 §6.3.1.1 asks for n and e). */
static int set_bn(struct arena *a, json_t *obj, const EVP_PKEY *pkey, const char *param, const char *name,
                  int pad)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        return -1;
    int n = pad > 0 ? pad : BN_num_bytes(bn);
    unsigned char buf[1024];
    int rc = -1;
    if (n > 0 && (size_t)n <= sizeof(buf) && BN_num_bytes(bn) <= n && BN_bn2binpad(bn, buf, n) == n)
        rc = json_object_set_new(obj, name, json_string(b64url_encode(a, buf, (size_t)n)));
    BN_free(bn);
    return rc;
}

json_t *jose_jwk_public(const EVP_PKEY *pkey, enum jose_alg alg, const char *kid)
{
    if (!jose_key_fits_alg(pkey, alg))
        return NULL;
    struct arena *a = arena_new(2048);
    json_t *jwk = json_object();
    int rc = 0;
    switch (alg) {
    case JOSE_ALG_RS256:
        rc |= json_object_set_new(jwk, "kty", json_string("RSA"));
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_RSA_N, "n", 0);
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_RSA_E, "e", 0);
        break;
    case JOSE_ALG_ES256:
        /* RFC 7518 §6.2.1.2: x and y are the full coordinate size (32 bytes for P-256), left-padded. */
        rc |= json_object_set_new(jwk, "kty", json_string("EC"));
        rc |= json_object_set_new(jwk, "crv", json_string("P-256"));
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_X, "x", 32);
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, "y", 32);
        break;
    case JOSE_ALG_EDDSA: {
        unsigned char x[32];
        size_t xlen = sizeof(x);
        rc |= json_object_set_new(jwk, "kty", json_string("OKP"));
        rc |= json_object_set_new(jwk, "crv", json_string("Ed25519"));
        if (EVP_PKEY_get_raw_public_key(pkey, x, &xlen) != 1 || xlen != sizeof(x)) {
            rc = -1;
            break;
        }
        rc |= json_object_set_new(jwk, "x", json_string(b64url_encode(a, x, xlen)));
        break;
    }
    case JOSE_ALG_NONE:
        rc = -1;
        break;
    }
    if (rc == 0 && kid != NULL) {
        rc |= json_object_set_new(jwk, "kid", json_string(kid));
        rc |= json_object_set_new(jwk, "alg", json_string(jose_alg_name(alg)));
        rc |= json_object_set_new(jwk, "use", json_string("sig"));
    }
    arena_free(a);
    if (rc != 0) {
        json_decref(jwk);
        return NULL;
    }
    return jwk;
}

char *jose_jwk_thumbprint(struct arena *a, const EVP_PKEY *pkey, enum jose_alg alg)
{
    /* RFC 7638 §3.3: required members only, sorted by name, no whitespace. Our member values are
     * base64url or fixed ASCII names, so jansson's compact output needs no escaping and is canonical. */
    json_t *jwk = jose_jwk_public(pkey, alg, NULL);
    if (jwk == NULL)
        return NULL;
    char *text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (text == NULL)
        return NULL;
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    free(text);
    return b64url_encode(a, md, sizeof(md));
}

int jose_key_to_der(struct arena *a, const EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    if (p8 == NULL)
        return -1;
    unsigned char *buf = NULL;
    int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return -1;
    *der = arena_alloc_secret(a, (size_t)n);
    memcpy(*der, buf, (size_t)n);
    *len = (size_t)n;
    OPENSSL_clear_free(buf, (size_t)n);
    return 0;
}

EVP_PKEY *jose_key_from_der(const unsigned char *der, size_t len)
{
    if (len > 16384)
        return NULL;
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    if (p8 == NULL)
        return NULL;
    EVP_PKEY *pkey = NULL;
    if (p == der + len) /* no trailing bytes */
        pkey = EVP_PKCS82PKEY(p8);
    PKCS8_PRIV_KEY_INFO_free(p8);
    return pkey;
}
