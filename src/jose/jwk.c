/* jwk.c: key generation, public JWK export (RFC 7517 §4; RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2), the
 * RFC 7638 thumbprint used as kid, PKCS#8 (de)serialization of private keys, and the import of foreign
 * public JWKs and JWK Sets (RFC 7517 §4, §5) that jws.c verifies tokens of others with. Uses alg.c only.
 * Encryption at rest and the key lifecycle are in keystore.c. Symmetric ("oct") and private JWKs are never
 * imported: a shared secret comes from the client registration (jose_key_hmac), not from a JWK. */
#include "jose/jose_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "core/digest.h"
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
    default:
        break; /* we sign with the three above only */
    }
    if (pkey == NULL)
        errbuf_set(err, "cannot generate a %s key (OpenSSL keygen failed)", jose_alg_name(alg));
    return pkey;
}

/* The curve of an EC key as its JWK crv name (RFC 7518 §6.2.1.1) with its coordinate size; NULL if the key
 * is not EC or of another curve. */
static const char *ec_curve(const EVP_PKEY *pkey, size_t *coord)
{
    char group[32];
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1)
        return NULL;
    static const struct {
        const char *ossl, *alias, *crv;
        size_t coord;
    } curves[] = {
        {"prime256v1", "P-256", "P-256", 32},
        {"secp384r1", "P-384", "P-384", 48},
        {"secp521r1", "P-521", "P-521", 66},
    };
    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        if (strcmp(group, curves[i].ossl) == 0 || strcmp(group, curves[i].alias) == 0) {
            *coord = curves[i].coord;
            return curves[i].crv;
        }
    }
    return NULL;
}

bool jose_key_fits_alg(const EVP_PKEY *pkey, enum jose_alg alg)
{
    if (pkey == NULL)
        return false;
    size_t coord = 0;
    switch (alg) {
    case JOSE_ALG_RS256:
    case JOSE_ALG_RS384:
    case JOSE_ALG_RS512:
    case JOSE_ALG_PS256:
    case JOSE_ALG_PS384:
    case JOSE_ALG_PS512:
        /* RFC 7518 §3.3, §3.5: a key of 2048 bits or larger MUST be used. The upper bound caps the cost of
         * a verification a request can ask for. */
        return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= 2048 &&
               EVP_PKEY_get_bits(pkey) <= 8192;
    case JOSE_ALG_ES256:
    case JOSE_ALG_ES384:
    case JOSE_ALG_ES512:
        return ec_curve(pkey, &coord) != NULL && coord == jose_alg_ec_coord(alg);
    case JOSE_ALG_EDDSA:
    case JOSE_ALG_ED25519:
        return EVP_PKEY_is_a(pkey, "ED25519");
    default:
        return false; /* NONE, and HS*: never a public key (the "HS256 with the public key" confusion) */
    }
}

/* Sets obj[name] to the base64url of a big-endian integer parameter, left-padded to pad bytes (0: the
 * minimal length, as RFC 7518 §6.3.1.1 asks for n and e). */
static int set_bn(struct arena *a, json_t *obj, const EVP_PKEY *pkey, const char *param, const char *name,
                  size_t pad)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        return -1;
    size_t n = pad > 0 ? pad : (size_t)BN_num_bytes(bn);
    unsigned char buf[1024];
    int rc = -1;
    if (n > 0 && n <= sizeof(buf) && (size_t)BN_num_bytes(bn) <= n && BN_bn2binpad(bn, buf, (int)n) == (int)n)
        rc = json_object_set_new(obj, name, json_string(b64url_encode(a, buf, n)));
    BN_free(bn);
    return rc;
}

/* The RFC 7638 §3.2 required members of a public key, by its type (RSA, EC P-256/384/521, Ed25519). New
 * reference, or NULL for any other key. */
static json_t *jwk_members(const EVP_PKEY *pkey)
{
    struct arena *a = arena_new(2048);
    json_t *jwk = json_object();
    size_t coord = 0;
    const char *crv = NULL;
    int rc = 0;
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        rc |= json_object_set_new(jwk, "kty", json_string("RSA"));
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_RSA_N, "n", 0);
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_RSA_E, "e", 0);
    } else if ((crv = ec_curve(pkey, &coord)) != NULL) {
        /* RFC 7518 §6.2.1.2: x and y are the full coordinate size, left-padded. */
        rc |= json_object_set_new(jwk, "kty", json_string("EC"));
        rc |= json_object_set_new(jwk, "crv", json_string(crv));
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_X, "x", coord);
        rc |= set_bn(a, jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, "y", coord);
    } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
        unsigned char x[32];
        size_t xlen = sizeof(x);
        rc |= json_object_set_new(jwk, "kty", json_string("OKP"));
        rc |= json_object_set_new(jwk, "crv", json_string("Ed25519"));
        if (EVP_PKEY_get_raw_public_key(pkey, x, &xlen) != 1 || xlen != sizeof(x))
            rc = -1;
        else
            rc |= json_object_set_new(jwk, "x", json_string(b64url_encode(a, x, xlen)));
    } else {
        rc = -1;
    }
    arena_free(a);
    if (rc != 0) {
        json_decref(jwk);
        return NULL;
    }
    return jwk;
}

json_t *jose_jwk_public(const EVP_PKEY *pkey, enum jose_alg alg, const char *kid)
{
    if (!jose_key_fits_alg(pkey, alg))
        return NULL;
    json_t *jwk = jwk_members(pkey);
    if (jwk != NULL && kid != NULL) {
        int rc = json_object_set_new(jwk, "kid", json_string(kid));
        rc |= json_object_set_new(jwk, "alg", json_string(jose_alg_name(alg)));
        rc |= json_object_set_new(jwk, "use", json_string("sig"));
        if (rc != 0) {
            json_decref(jwk);
            return NULL;
        }
    }
    return jwk;
}

/* RFC 7638 §3.3: required members only, sorted by name, no whitespace. Member values are base64url or
 * fixed ASCII names, so jansson's compact output needs no escaping and is canonical. */
static char *thumbprint_of(struct arena *a, json_t *jwk)
{
    if (jwk == NULL)
        return NULL;
    char *text = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(jwk);
    if (text == NULL)
        return NULL;
    unsigned char md[SHA256_DIGEST_LENGTH];
    sha256(text, strlen(text), md);
    free(text);
    return b64url_encode(a, md, sizeof(md));
}

char *jose_jwk_thumbprint(struct arena *a, const EVP_PKEY *pkey, enum jose_alg alg)
{
    return thumbprint_of(a, jose_jwk_public(pkey, alg, NULL));
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

/* ---- foreign public keys ---- */

static void pkey_free_cb(void *p)
{
    EVP_PKEY_free(p);
}

/* Decodes the base64url string member `name` of jwk into exactly `want` bytes (0: 1..max bytes). */
static int member_bytes(struct arena *a, const json_t *jwk, const char *name, size_t want, size_t max,
                        unsigned char **out, size_t *len, struct errbuf *err)
{
    const json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v)) {
        errbuf_set(err, "jwk: member %s missing or not a string", name);
        return ERR_INVALID;
    }
    if (json_string_length(v) > b64url_len(max) ||
        b64url_decode(a, json_string_value(v), json_string_length(v), out, len) != 0) {
        errbuf_set(err, "jwk: member %s is not canonical base64url of at most %zu bytes", name, max);
        return ERR_INVALID;
    }
    if ((want > 0 && *len != want) || *len == 0) {
        errbuf_set(err, "jwk: member %s has %zu bytes, not %zu", name, *len, want);
        return ERR_INVALID;
    }
    return 0;
}

/* Builds an EVP_PKEY of type `type` from params (public part only). NULL on failure. */
static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/* OpenSSL's own quick checks of a public key: for EC that the point is on the curve and not the identity
 * (the curves we accept have cofactor 1, so that is the whole check; the full one multiplies by the order,
 * a second verification's cost per import), for RSA that n and e are sane. */
static bool pkey_public_ok(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx != NULL && EVP_PKEY_public_check_quick(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *import_rsa(struct arena *a, const json_t *jwk, struct errbuf *err)
{
    unsigned char *n = NULL, *e = NULL;
    size_t n_len = 0, e_len = 0;
    if (member_bytes(a, jwk, "n", 0, 1024, &n, &n_len, err) != 0 ||
        member_bytes(a, jwk, "e", 0, 8, &e, &e_len, err) != 0)
        return NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)n_len, NULL), *be = BN_bin2bn(e, (int)e_len, NULL);
    EVP_PKEY *pkey = NULL;
    if (bld != NULL && bn != NULL && be != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
        pkey = pkey_fromdata("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    if (pkey != NULL && (EVP_PKEY_get_bits(pkey) < 2048 || EVP_PKEY_get_bits(pkey) > 8192)) {
        errbuf_set(err, "jwk: RSA key of %d bits (2048 to 8192 accepted)", EVP_PKEY_get_bits(pkey));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (pkey == NULL)
        errbuf_set(err, "jwk: not a valid RSA public key");
    return pkey;
}

static EVP_PKEY *import_ec(struct arena *a, const json_t *jwk, struct errbuf *err)
{
    static const struct {
        const char *crv, *group;
        size_t coord;
    } curves[] = {{"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}};
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    size_t i = 0;
    while (crv != NULL && i < sizeof(curves) / sizeof(curves[0]) && strcmp(crv, curves[i].crv) != 0)
        i++;
    if (crv == NULL || i == sizeof(curves) / sizeof(curves[0])) {
        errbuf_set(err, "jwk: EC crv missing or not P-256, P-384 or P-521");
        return NULL;
    }
    size_t coord = curves[i].coord, x_len = 0, y_len = 0;
    unsigned char *x = NULL, *y = NULL;
    if (member_bytes(a, jwk, "x", coord, coord, &x, &x_len, err) != 0 ||
        member_bytes(a, jwk, "y", coord, coord, &y, &y_len, err) != 0)
        return NULL;
    /* SEC 1 §2.3.3 uncompressed point: 0x04 || x || y. */
    unsigned char *pt = arena_alloc(a, 1 + 2 * coord);
    pt[0] = 0x04;
    memcpy(pt + 1, x, coord);
    memcpy(pt + 1 + coord, y, coord);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;
    if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[i].group, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * coord) == 1)
        pkey = pkey_fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    if (pkey != NULL && !pkey_public_ok(pkey)) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    if (pkey == NULL)
        errbuf_set(err, "jwk: x and y are not a point of %s", crv);
    return pkey;
}

static EVP_PKEY *import_okp(struct arena *a, const json_t *jwk, struct errbuf *err)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
        errbuf_set(err, "jwk: OKP crv missing or not Ed25519");
        return NULL;
    }
    unsigned char *x = NULL;
    size_t x_len = 0;
    if (member_bytes(a, jwk, "x", 32, 32, &x, &x_len, err) != 0)
        return NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, x_len);
    if (pkey == NULL)
        errbuf_set(err, "jwk: not an Ed25519 public key");
    return pkey;
}

/* The optional members use, key_ops and alg (RFC 7517 §4.2-4.4): a key for signatures, or nothing. */
static int check_usage(const json_t *jwk, enum jose_alg *alg, struct errbuf *err)
{
    const json_t *use = json_object_get(jwk, "use");
    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)) {
        errbuf_set(err, "jwk: use is not \"sig\"");
        return ERR_INVALID;
    }
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        bool verify = false;
        size_t i;
        const json_t *v;
        if (!json_is_array(ops)) {
            errbuf_set(err, "jwk: key_ops is not an array");
            return ERR_INVALID;
        }
        json_array_foreach(ops, i, v)
        {
            if (!json_is_string(v)) {
                errbuf_set(err, "jwk: key_ops holds a non-string");
                return ERR_INVALID;
            }
            verify = verify || strcmp(json_string_value(v), "verify") == 0;
        }
        if (!verify) {
            errbuf_set(err, "jwk: key_ops does not allow \"verify\"");
            return ERR_INVALID;
        }
    }
    const json_t *jalg = json_object_get(jwk, "alg");
    *alg = JOSE_ALG_NONE;
    if (jalg != NULL) {
        if (!json_is_string(jalg) ||
            (*alg = jose_alg_parse(json_string_value(jalg), json_string_length(jalg))) == JOSE_ALG_NONE) {
            errbuf_set(err, "jwk: alg is not a supported JWS algorithm");
            return ERR_INVALID;
        }
    }
    const json_t *kid = json_object_get(jwk, "kid");
    if (kid != NULL && (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > 256)) {
        errbuf_set(err, "jwk: kid is not a string of 1 to 256 characters");
        return ERR_INVALID;
    }
    return 0;
}

int jose_jwk_import(struct arena *a, const json_t *jwk, const struct jose_pubkey **out, struct errbuf *err)
{
    *out = NULL;
    if (!json_is_object(jwk)) {
        errbuf_set(err, "jwk: not a JSON object");
        return ERR_INVALID;
    }
    /* A private key published by mistake is refused rather than used: its owner must replace it. */
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        if (json_object_get(jwk, private_members[i]) != NULL) {
            errbuf_set(err, "jwk: has the private or symmetric member \"%s\" (publish public keys only)",
                       private_members[i]);
            return ERR_INVALID;
        }
    }
    enum jose_alg alg;
    if (check_usage(jwk, &alg, err) != 0)
        return ERR_INVALID;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    EVP_PKEY *pkey = NULL;
    if (kty == NULL) {
        errbuf_set(err, "jwk: kty missing or not a string");
        return ERR_INVALID;
    } else if (strcmp(kty, "RSA") == 0) {
        pkey = import_rsa(a, jwk, err);
    } else if (strcmp(kty, "EC") == 0) {
        pkey = import_ec(a, jwk, err);
    } else if (strcmp(kty, "OKP") == 0) {
        pkey = import_okp(a, jwk, err);
    } else {
        errbuf_set(err, "jwk: kty is not RSA, EC or OKP");
        return ERR_INVALID;
    }
    if (pkey == NULL)
        return ERR_INVALID;
    arena_defer(a, pkey_free_cb, pkey);
    if (alg != JOSE_ALG_NONE && !jose_key_fits_alg(pkey, alg)) {
        errbuf_set(err, "jwk: alg %s does not fit this %s key", jose_alg_name(alg), kty);
        return ERR_INVALID;
    }
    struct jose_pubkey *k = arena_alloc(a, sizeof(*k));
    memset(k, 0, sizeof(*k));
    k->pkey = pkey;
    k->alg = alg;
    const json_t *kid = json_object_get(jwk, "kid");
    k->kid = kid != NULL ? arena_strndup(a, json_string_value(kid), json_string_length(kid)) : NULL;
    *out = k;
    return 0;
}

int jose_jwks_import(struct arena *a, const json_t *jwks, struct jose_keyset *out, struct errbuf *err)
{
    out->keys = NULL;
    out->n = 0;
    const json_t *keys = json_object_get(jwks, "keys");
    if (!json_is_object(jwks) || !json_is_array(keys)) {
        errbuf_set(err, "jwks: not a JSON object with a \"keys\" array");
        return ERR_INVALID;
    }
    const struct jose_pubkey **set = arena_alloc(a, (JOSE_JWKS_MAX_KEYS + 1) * sizeof(*set));
    size_t n = 0, i;
    const json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        const char *kty = json_string_value(json_object_get(jwk, "kty"));
        const char *use = json_string_value(json_object_get(jwk, "use"));
        /* RFC 7517 §5: keys of a type we do not know, and encryption keys, are not ours to use. */
        if (json_is_object(jwk) && kty != NULL && strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0 &&
            strcmp(kty, "OKP") != 0 && strcmp(kty, "oct") != 0)
            continue;
        if (use != NULL && strcmp(use, "enc") == 0)
            continue;
        if (n == JOSE_JWKS_MAX_KEYS) {
            errbuf_set(err, "jwks: more than %d signature keys", JOSE_JWKS_MAX_KEYS);
            return ERR_INVALID;
        }
        struct errbuf kerr;
        if (jose_jwk_import(a, jwk, &set[n], &kerr) != 0) {
            errbuf_set(err, "jwks: keys[%zu]: %s", i, kerr.msg);
            return ERR_INVALID;
        }
        for (size_t j = 0; set[n]->kid != NULL && j < n; j++) {
            if (set[j]->kid != NULL && strcmp(set[j]->kid, set[n]->kid) == 0) {
                errbuf_set(err, "jwks: keys[%zu]: kid used by another key of the set", i);
                return ERR_INVALID;
            }
        }
        n++;
    }
    out->keys = set;
    out->n = n;
    return 0;
}

const struct jose_pubkey *jose_key_hmac(struct arena *a, const void *secret, size_t len)
{
    struct jose_pubkey *k = arena_alloc(a, sizeof(*k));
    memset(k, 0, sizeof(*k));
    unsigned char *copy = arena_alloc_secret(a, len > 0 ? len : 1);
    if (len > 0)
        memcpy(copy, secret, len);
    k->secret = copy;
    k->secret_len = len;
    return k;
}

const char *jose_pubkey_kid(const struct jose_pubkey *k)
{
    return k->kid;
}

char *jose_pubkey_thumbprint(struct arena *a, const struct jose_pubkey *k)
{
    return k->pkey != NULL ? thumbprint_of(a, jwk_members(k->pkey)) : NULL;
}
