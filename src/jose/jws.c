/* jws.c: JWS compact serialization (RFC 7515 §3.1, §5.1, §5.2): our own tokens signed and verified with
 * RS256, ES256 (RFC 7518 §3.3, §3.4; low-s form only) and EdDSA (RFC 8037 §3.1) by the keystore's keys,
 * and tokens of others (client assertions, DPoP proofs, request objects) verified against imported keys
 * with RS/PS/ES 256/384/512, EdDSA and HS256/384/512 (RFC 7518 §3.2-3.5); the OIDC at_hash/c_hash (OIDC
 * Core §3.1.3.6, §3.3.2.11). The last of src/jose/'s chain: borrows keys from keystore.c, imported keys
 * from jwk.c, names from alg.c. JWT claim checks (exp, iss, aud) belong to the caller; JWE and the JSON
 * serializations are not supported. */
#include "jose/jose_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "core/digest.h"
#include "core/arena.h"
#include "core/str.h"

#include "core/banned.h"

/* A token longer than this is rejected before any decoding: a request cannot make us parse more. */
#define JWS_MAX_LEN 16384
#define ES256_COORD 32
#define ES256_SIG_LEN (2 * ES256_COORD)
#define ED25519_SIG_LEN 64

/* ECDSA signatures are malleable: (r, s) and (r, n - s) verify alike. We sign with s <= n/2 and refuse
 * s > n/2 (the "low-s" rule, as in Bitcoin's BIP 62 and libsecp256k1), so a token has exactly one valid
 * signature. OpenSSL leaves s as it comes out. n is the P-256 group order (SEC 2 §2.4.2); keys of another
 * curve never reach this file (jose_key_fits_alg). */
static const unsigned char p256_order[ES256_COORD] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const unsigned char p256_half_order[ES256_COORD] = { /* floor(n / 2) */
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

/* True if the big-endian S of a raw R || S signature is above n/2. Not secret: no constant time needed. */
static bool ecdsa_high_s(const unsigned char raw[ES256_SIG_LEN])
{
    return memcmp(raw + ES256_COORD, p256_half_order, ES256_COORD) > 0;
}

/* RFC 7518 §3.4: the JWS signature is R || S, each left-padded to 32 bytes; OpenSSL speaks DER. S is
 * replaced by n - S when it is high, which is the same signature in its canonical form. */
static int ecdsa_der_to_raw(const unsigned char *der, size_t len, unsigned char raw[ES256_SIG_LEN])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (sig == NULL)
        return -1;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    bool ok = p == der + len && BN_bn2binpad(r, raw, ES256_COORD) == ES256_COORD &&
              BN_bn2binpad(s, raw + ES256_COORD, ES256_COORD) == ES256_COORD;
    ECDSA_SIG_free(sig);
    if (ok && ecdsa_high_s(raw)) {
        /* n - S, big-endian, byte by byte with borrow; S < n, so no borrow is left at the end. */
        unsigned borrow = 0;
        for (size_t i = ES256_COORD; i-- > 0;) {
            unsigned d = (unsigned)p256_order[i] - raw[ES256_COORD + i] - borrow;
            raw[ES256_COORD + i] = (unsigned char)d;
            borrow = (d >> 8) & 1;
        }
    }
    return ok ? 0 : -1;
}

/* R || S of coord bytes each (RFC 7518 §3.4) to the DER form OpenSSL verifies. */
static int ecdsa_raw_to_der(const unsigned char *raw, size_t coord, unsigned char *der, size_t cap, size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)coord, NULL);
    BIGNUM *s = BN_bin2bn(raw + coord, (int)coord, NULL);
    int rc = -1;
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    int n = i2d_ECDSA_SIG(sig, NULL);
    if (n > 0 && (size_t)n <= cap) {
        unsigned char *p = der;
        if (i2d_ECDSA_SIG(sig, &p) == n) {
            *len = (size_t)n;
            rc = 0;
        }
    }
out:
    ECDSA_SIG_free(sig);
    return rc;
}

/* ---- signing contexts, per thread ----
 * OpenSSL 3's EVP_DigestSignInit fetches the signature method and exports the key to its provider on every
 * call, under the library's global locks: about a third of an ES256 signature's time here, and the two
 * workers serialise on those locks. Each thread keeps, per signing key, one EVP_PKEY_CTX initialised once
 * for RSA or ECDSA (the digest is computed here with SHA-256 and signed with EVP_PKEY_sign, which OpenSSL
 * allows on the same initialised context again and again), and for Ed25519 the key in libsodium's form:
 * its crypto_sign_detached signs in about half the time of OpenSSL 3.0's Ed25519, with the same bytes
 * (RFC 8032 signatures are deterministic; test_jose checks that both agree).
 *
 * An entry holds a reference to its EVP_PKEY, so the key cannot be freed (and its address reused by
 * another key) while an entry names it: the pointer is a safe cache key. A key set reload keeps the
 * EVP_PKEY of an unchanged key, so the entries stay valid across reloads; a retired key's entry is
 * replaced when the slot is needed. Entries are freed when their thread exits. */
#define SIGN_SLOTS 8

struct sign_slot {
    EVP_PKEY *pkey;    /* referenced; NULL: empty */
    EVP_PKEY_CTX *ctx; /* RS256, ES256 */
    unsigned char ed_sk[crypto_sign_SECRETKEYBYTES]; /* EdDSA: seed || public key */
};

struct sign_cache {
    struct sign_slot slot[SIGN_SLOTS];
    unsigned next; /* round-robin replacement */
};

static pthread_key_t sign_key;
static pthread_once_t sign_key_once = PTHREAD_ONCE_INIT;

static void sign_slot_clear(struct sign_slot *s)
{
    EVP_PKEY_CTX_free(s->ctx);
    EVP_PKEY_free(s->pkey);
    sodium_memzero(s->ed_sk, sizeof(s->ed_sk));
    s->ctx = NULL;
    s->pkey = NULL;
}

static void sign_cache_free(void *p)
{
    struct sign_cache *c = p;
    for (size_t i = 0; i < SIGN_SLOTS; i++)
        sign_slot_clear(&c->slot[i]);
    free(c);
}

static void sign_key_create(void)
{
    if (pthread_key_create(&sign_key, sign_cache_free) != 0)
        abort();
}

/* Fills an empty slot for pkey. -1 if the key cannot be set up (the slot stays empty). */
static int sign_slot_fill(struct sign_slot *s, EVP_PKEY *pkey, enum jose_alg alg)
{
    if (alg == JOSE_ALG_EDDSA) {
        unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
        size_t n = sizeof(seed);
        int ok = EVP_PKEY_get_raw_private_key(pkey, seed, &n) == 1 && n == sizeof(seed) &&
                 crypto_sign_seed_keypair(pk, s->ed_sk, seed) == 0;
        sodium_memzero(seed, sizeof(seed));
        if (!ok)
            return -1;
    } else {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        /* RSA defaults to PKCS#1 v1.5 padding, which is what RS256 is (RFC 7518 §3.3); set all the same. */
        if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_CTX_set_signature_md(ctx, jose_alg_md(alg)) != 1 ||
            (alg == JOSE_ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)) {
            EVP_PKEY_CTX_free(ctx);
            return -1;
        }
        s->ctx = ctx;
    }
    if (EVP_PKEY_up_ref(pkey) != 1) {
        sign_slot_clear(s);
        return -1;
    }
    s->pkey = pkey;
    return 0;
}

/* This thread's slot for pkey, set up on first use; NULL on failure. */
static struct sign_slot *sign_slot_get(EVP_PKEY *pkey, enum jose_alg alg)
{
    pthread_once(&sign_key_once, sign_key_create);
    struct sign_cache *c = pthread_getspecific(sign_key);
    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL || pthread_setspecific(sign_key, c) != 0)
            abort();
    }
    for (size_t i = 0; i < SIGN_SLOTS; i++)
        if (c->slot[i].pkey == pkey)
            return &c->slot[i];
    struct sign_slot *s = &c->slot[c->next];
    c->next = (c->next + 1) % SIGN_SLOTS;
    sign_slot_clear(s);
    return sign_slot_fill(s, pkey, alg) == 0 ? s : NULL;
}

/* Signs `in`; sig has room for *sig_len bytes and receives the JWS form (raw R||S for ES256). */
static int sign_raw(EVP_PKEY *pkey, enum jose_alg alg, const void *in, size_t in_len, unsigned char *sig,
                    size_t *sig_len)
{
    struct sign_slot *s = sign_slot_get(pkey, alg);
    if (s == NULL)
        return -1;
    if (alg == JOSE_ALG_EDDSA) {
        if (*sig_len < crypto_sign_BYTES ||
            crypto_sign_detached(sig, NULL, (const unsigned char *)in, in_len, s->ed_sk) != 0)
            return -1;
        *sig_len = crypto_sign_BYTES;
        return 0;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    sha256(in, in_len, digest);
    unsigned char der[128];
    unsigned char *dst = alg == JOSE_ALG_ES256 ? der : sig;
    size_t n = alg == JOSE_ALG_ES256 ? sizeof(der) : *sig_len;
    if (EVP_PKEY_sign(s->ctx, dst, &n, digest, sizeof(digest)) != 1)
        return -1;
    if (alg != JOSE_ALG_ES256) {
        *sig_len = n;
        return 0;
    }
    if (*sig_len < ES256_SIG_LEN || ecdsa_der_to_raw(der, n, sig) != 0)
        return -1;
    *sig_len = ES256_SIG_LEN;
    return 0;
}

/* True if sig is a valid JWS signature of `in` by pkey (HMAC: by the secret) with alg. Signature lengths
 * are checked exactly per alg. With low_s (our own ES256 tokens), a high ECDSA S is refused. */
static bool verify_raw(EVP_PKEY *pkey, const unsigned char *secret, size_t secret_len, enum jose_alg alg,
                       const void *in, size_t in_len, const unsigned char *sig, size_t sig_len, bool low_s)
{
    unsigned char der[160];
    const EVP_MD *md = jose_alg_md(alg);
    size_t coord = jose_alg_ec_coord(alg);
    switch (alg) {
    case JOSE_ALG_HS256:
    case JOSE_ALG_HS384:
    case JOSE_ALG_HS512: {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned mac_len = 0;
        /* RFC 7518 §3.2: the key is at least as long as the hash output. */
        if (secret == NULL || secret_len < (size_t)EVP_MD_get_size(md) ||
            HMAC(md, secret, (int)secret_len, in, in_len, mac, &mac_len) == NULL)
            return false;
        bool ok = ct_eq(mac, mac_len, sig, sig_len);
        OPENSSL_cleanse(mac, sizeof(mac));
        return ok;
    }
    case JOSE_ALG_RS256:
    case JOSE_ALG_RS384:
    case JOSE_ALG_RS512:
    case JOSE_ALG_PS256:
    case JOSE_ALG_PS384:
    case JOSE_ALG_PS512:
        /* Exactly the modulus length; OpenSSL refuses a value >= n (RFC 8017 §5.2.2), so s + n is no
         * second encoding of s. */
        if (pkey == NULL || sig_len != (size_t)EVP_PKEY_get_size(pkey))
            return false;
        break;
    case JOSE_ALG_ES256:
    case JOSE_ALG_ES384:
    case JOSE_ALG_ES512:
        if (pkey == NULL || sig_len != 2 * coord || (low_s && ecdsa_high_s(sig)) ||
            ecdsa_raw_to_der(sig, coord, der, sizeof(der), &sig_len) != 0)
            return false;
        sig = der;
        break;
    case JOSE_ALG_EDDSA:
    case JOSE_ALG_ED25519:
        /* OpenSSL refuses S >= L and a non-canonical R (RFC 8032 §5.1.7), so Ed25519 is not malleable. */
        if (pkey == NULL || sig_len != ED25519_SIG_LEN)
            return false;
        break;
    default:
        return false;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return false;
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) == 1;
    if (ok && alg >= JOSE_ALG_PS256 && alg <= JOSE_ALG_PS512) {
        /* RFC 7518 §3.5: RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash. */
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    }
    ok = ok && EVP_DigestVerify(ctx, sig, sig_len, in, in_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

char *jws_sign(struct keystore *ks, struct arena *a, const char *alg, const char *typ, const char *payload,
               size_t payload_len, struct errbuf *err)
{
    enum jose_alg id = jose_alg_from_cstr(alg);
    if (id == JOSE_ALG_NONE) {
        errbuf_set(err, "jws: unsupported signing alg '%s'", alg != NULL ? alg : "");
        return NULL;
    }
    if (payload == NULL) {
        errbuf_set(err, "jws: no payload");
        return NULL;
    }
    struct jose_keyref key;
    if (keystore_signing_key(ks, a, id, typ, &key, err) != 0)
        return NULL;
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    size_t max_sig = (size_t)EVP_PKEY_get_size(key.pkey);
    if (max_sig > sizeof(sig)) {
        errbuf_set(err, "jws: key %s: signature too large", key.kid);
        keystore_key_release(ks, &key);
        return NULL;
    }
    /* One allocation for the whole token; the signing input is its prefix (RFC 7515 §5.1 step 8). */
    size_t input_len = key.hdr_len + 1 + b64url_len(payload_len);
    char *out = arena_alloc(a, input_len + 1 + b64url_len(max_sig) + 1);
    memcpy(out, key.hdr, key.hdr_len);
    out[key.hdr_len] = '.';
    b64url_put(out + key.hdr_len + 1, (const unsigned char *)payload, payload_len);
    if (sign_raw(key.pkey, id, out, input_len, sig, &sig_len) != 0) {
        errbuf_set(err, "jws: signing with key %s (%s) failed", key.kid, alg);
        keystore_key_release(ks, &key);
        return NULL;
    }
    keystore_key_release(ks, &key);
    out[input_len] = '.';
    b64url_put(out + input_len + 1, sig, sig_len);
    out[input_len + 1 + b64url_len(sig_len)] = '\0';
    return out;
}

static void json_decref_cb(void *p)
{
    json_decref(p);
}

/* Decodes a base64url segment holding a JSON object; NULL unless it is exactly one object without
 * duplicate member names (RFC 7515 §5.2 step 4: reject or use the last; we reject). */
static json_t *decode_object(struct arena *a, const char *s, size_t n)
{
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    if (b64url_decode(a, s, n, &raw, &raw_len) != 0)
        return NULL;
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, &jerr);
    if (obj == NULL)
        return NULL;
    arena_defer(a, json_decref_cb, obj);
    return json_is_object(obj) ? obj : NULL;
}

/* A compact JWS taken apart: the signing input is jws[0, dot2), the header parsed, the signature decoded. */
struct jws_parts {
    size_t dot1, dot2;
    json_t *hdr;
    unsigned char *sig;
    size_t sig_len;
};

/* The form checks every verification shares (RFC 7515 §5.2 steps 1-4, 7): at most JWS_MAX_LEN bytes,
 * exactly three non-empty base64url segments, the header a JSON object with a string alg and, when present,
 * string kid and typ, no crit, the signature canonical base64url. Alg names are the caller's business. */
static int jws_split(struct arena *a, const char *jws, size_t len, struct jws_parts *p, struct errbuf *err)
{
    if (jws == NULL || len == 0 || len > JWS_MAX_LEN) {
        errbuf_set(err, "jws: token empty or longer than %d bytes", JWS_MAX_LEN);
        return JOSE_ERR_BAD_TOKEN;
    }
    /* RFC 7515 §7.1: exactly three base64url segments; no padding, whitespace or other bytes. */
    size_t dot[2] = {0, 0}, ndots = 0;
    for (size_t i = b64url_span(jws, len); i < len; i += 1 + b64url_span(jws + i + 1, len - i - 1)) {
        if (jws[i] != '.') {
            errbuf_set(err, "jws: byte %zu is not base64url", i);
            return JOSE_ERR_BAD_TOKEN;
        }
        if (ndots == 2) {
            ndots = 3;
            break;
        }
        dot[ndots++] = i;
    }
    if (ndots != 2 || dot[0] == 0 || dot[1] == dot[0] + 1 || dot[1] == len - 1) {
        errbuf_set(err, "jws: not a compact JWS (three non-empty segments)");
        return JOSE_ERR_BAD_TOKEN;
    }
    p->dot1 = dot[0];
    p->dot2 = dot[1];
    p->hdr = decode_object(a, jws, dot[0]);
    if (p->hdr == NULL) {
        errbuf_set(err, "jws: header is not a base64url JSON object");
        return JOSE_ERR_BAD_TOKEN;
    }
    json_t *jalg = json_object_get(p->hdr, "alg");
    json_t *jkid = json_object_get(p->hdr, "kid");
    json_t *jtyp = json_object_get(p->hdr, "typ");
    if (!json_is_string(jalg) || (jkid != NULL && !json_is_string(jkid)) ||
        (jtyp != NULL && !json_is_string(jtyp))) {
        errbuf_set(err, "jws: header alg missing, or alg, kid or typ not a string");
        return JOSE_ERR_BAD_TOKEN;
    }
    /* RFC 7515 §4.1.11: a crit header names extensions we would have to understand; we know none. */
    if (json_object_get(p->hdr, "crit") != NULL) {
        errbuf_set(err, "jws: crit header parameter not supported");
        return JOSE_ERR_BAD_TOKEN;
    }
    if (b64url_decode(a, jws + dot[1] + 1, len - dot[1] - 1, &p->sig, &p->sig_len) != 0) {
        errbuf_set(err, "jws: signature is not canonical base64url");
        return JOSE_ERR_BAD_TOKEN;
    }
    return 0;
}

static json_t *jws_payload(struct arena *a, const char *jws, const struct jws_parts *p, struct errbuf *err)
{
    json_t *claims = decode_object(a, jws + p->dot1 + 1, p->dot2 - p->dot1 - 1);
    if (claims == NULL)
        errbuf_set(err, "jws: payload is not a JSON object");
    return claims;
}

int jws_verify(struct keystore *ks, struct arena *a, const char *jws, size_t len, json_t **payload,
               const char **typ, struct errbuf *err)
{
    *payload = NULL;
    if (typ != NULL)
        *typ = NULL;
    struct jws_parts p;
    int rc = jws_split(a, jws, len, &p, err);
    if (rc != 0)
        return rc;
    json_t *jalg = json_object_get(p.hdr, "alg");
    json_t *jkid = json_object_get(p.hdr, "kid");
    json_t *jtyp = json_object_get(p.hdr, "typ");
    /* Allow-list: "none" and every alg we do not sign with are refused before any key is looked at. */
    enum jose_alg alg = jose_alg_from_name(json_string_value(jalg), json_string_length(jalg));
    if (alg == JOSE_ALG_NONE) {
        errbuf_set(err, "jws: alg not accepted (RS256, ES256, EdDSA only)");
        return JOSE_ERR_BAD_TOKEN;
    }
    struct jose_keyref key;
    if (keystore_verify_key(ks, jkid ? json_string_value(jkid) : NULL, jkid ? json_string_length(jkid) : 0,
                            alg, &key) != 0) {
        if (jkid != NULL)
            errbuf_set(err, "jws: kid names no published key");
        else
            errbuf_set(err, "jws: no kid, and not exactly one published %s key", jose_alg_name(alg));
        return JOSE_ERR_UNKNOWN_KEY;
    }
    /* The key decides the alg, not the token: an RS256 header on an ES256 key is refused outright. */
    if (key.alg != alg) {
        errbuf_set(err, "jws: header alg %s does not match key %s (%s)", jose_alg_name(alg), key.kid,
                   jose_alg_name(key.alg));
        keystore_key_release(ks, &key);
        return JOSE_ERR_BAD_TOKEN;
    }
    bool ok = verify_raw(key.pkey, NULL, 0, alg, jws, p.dot2, p.sig, p.sig_len, true);
    keystore_key_release(ks, &key);
    if (!ok) {
        errbuf_set(err, "jws: bad signature");
        return JOSE_ERR_BAD_SIGNATURE;
    }
    json_t *claims = jws_payload(a, jws, &p, err);
    if (claims == NULL)
        return JOSE_ERR_BAD_TOKEN;
    *payload = claims;
    if (typ != NULL && jtyp != NULL)
        *typ = arena_strndup(a, json_string_value(jtyp), json_string_length(jtyp));
    return 0;
}

int jws_peek(struct arena *a, const char *jws, size_t len, json_t **header, json_t **payload, struct errbuf *err)
{
    *header = *payload = NULL;
    struct jws_parts p;
    int rc = jws_split(a, jws, len, &p, err);
    if (rc != 0)
        return rc;
    json_t *claims = jws_payload(a, jws, &p, err);
    if (claims == NULL)
        return JOSE_ERR_BAD_TOKEN;
    *header = p.hdr;
    *payload = claims;
    return 0;
}

/* Whether key k can have made a token of alg: the key's type and size, and the JWK's own alg. */
static bool key_fits(const struct jose_pubkey *k, enum jose_alg alg)
{
    if (k->alg != JOSE_ALG_NONE && (JOSE_ALG_SAME(k->alg) & JOSE_ALG_BIT(alg)) == 0)
        return false;
    if (k->pkey == NULL) /* an HMAC secret: only the HS algs, with a key as long as the hash (RFC 7518 §3.2) */
        return (JOSE_ALG_BIT(alg) & JOSE_ALGS_HMAC) != 0 && k->secret_len >= (size_t)EVP_MD_get_size(jose_alg_md(alg));
    return jose_key_fits_alg(k->pkey, alg);
}

int jws_verify_keys(struct arena *a, const char *jws, size_t len, const struct jose_keyset *keys, unsigned allowed,
                    struct jws_verified *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct jws_parts p;
    int rc = jws_split(a, jws, len, &p, err);
    if (rc != 0)
        return rc;
    json_t *jalg = json_object_get(p.hdr, "alg");
    json_t *jkid = json_object_get(p.hdr, "kid");
    enum jose_alg alg = jose_alg_parse(json_string_value(jalg), json_string_length(jalg));
    /* RFC 8725 §3.1: the caller's allow-list, never "none" (JOSE_ALG_NONE is bit 0 and always refused). */
    if (alg == JOSE_ALG_NONE || (allowed & JOSE_ALG_BIT(alg)) == 0) {
        errbuf_set(err, "jws: alg %s not allowed here", alg == JOSE_ALG_NONE ? "(none or unknown)" : jose_alg_name(alg));
        return JOSE_ERR_ALG;
    }
    bool kid_matched = false, fit = false;
    for (size_t i = 0; keys != NULL && i < keys->n; i++) {
        const struct jose_pubkey *k = keys->keys[i];
        if (jkid != NULL && (k->kid == NULL || strlen(k->kid) != json_string_length(jkid) ||
                             memcmp(k->kid, json_string_value(jkid), json_string_length(jkid)) != 0))
            continue;
        kid_matched = true;
        /* The key decides which algs are possible (RFC 8725 §3.1): an HS256 header never meets a public key. */
        if (!key_fits(k, alg))
            continue;
        fit = true;
        if (verify_raw(k->pkey, k->secret, k->secret_len, alg, jws, p.dot2, p.sig, p.sig_len, false)) {
            json_t *claims = jws_payload(a, jws, &p, err);
            if (claims == NULL)
                return JOSE_ERR_BAD_TOKEN;
            out->header = p.hdr;
            out->payload = claims;
            out->alg = alg;
            out->key = k;
            return 0;
        }
    }
    if (jkid != NULL && !kid_matched) {
        errbuf_set(err, "jws: kid names no key of the set");
        return JOSE_ERR_UNKNOWN_KEY;
    }
    if (!fit) {
        if (jkid != NULL) {
            errbuf_set(err, "jws: alg %s does not fit the key the kid names", jose_alg_name(alg));
            return JOSE_ERR_ALG;
        }
        errbuf_set(err, "jws: no key of the set fits alg %s", jose_alg_name(alg));
        return JOSE_ERR_UNKNOWN_KEY;
    }
    errbuf_set(err, "jws: bad signature");
    return JOSE_ERR_BAD_SIGNATURE;
}

char *jose_half_hash(struct arena *a, const char *alg, const char *value, size_t len)
{
    enum jose_alg id = jose_alg_from_cstr(alg);
    unsigned char md[SHA512_DIGEST_LENGTH];
    switch (id) {
    case JOSE_ALG_RS256:
    case JOSE_ALG_ES256:
        sha256(value, len, md);
        return b64url_encode(a, md, SHA256_DIGEST_LENGTH / 2);
    case JOSE_ALG_EDDSA:
        /* Ed25519 uses SHA-512 internally (RFC 8032 §5.1), so OIDC takes the left half of SHA-512. */
        sha512(value, len, md);
        return b64url_encode(a, md, SHA512_DIGEST_LENGTH / 2);
    default:
        break;
    }
    return NULL;
}
