/* jose_internal.h: what the files of src/jose/ share and nothing outside it may use (tests/unit/jose
 * excepted): algorithm ids, keys as OpenSSL objects, and the key store's borrowed keys. Sections follow
 * the module's one-way chain: alg.c, then jwk.c (uses alg.c), then keystore.c (uses both), then jws.c
 * (uses all three). A file never calls one later in the chain; scripts/check-style.sh fails on a circle. */
#ifndef OSTIARY_JOSE_INTERNAL_H
#define OSTIARY_JOSE_INTERNAL_H

#include "jose/jose.h"

struct evp_pkey_st; /* OpenSSL's EVP_PKEY, kept out of this header */
struct evp_md_st;   /* OpenSSL's EVP_MD */

/* ---- alg.c ---- */
/* The algorithms we SIGN with: JOSE_ALG_NONE for anything but the exact names "RS256", "ES256", "EdDSA"
 * (case-sensitive, RFC 7518). jose_alg_from_cstr: the same for a NUL-terminated name; NULL gives
 * JOSE_ALG_NONE. Every alg a foreign token may use is jose_alg_parse's (jose.h). */
enum jose_alg jose_alg_from_name(const char *name, size_t len);
enum jose_alg jose_alg_from_cstr(const char *name);
/* The hash of an RSA, ECDSA or HMAC alg (SHA-256/384/512); NULL for EdDSA and NONE. */
const struct evp_md_st *jose_alg_md(enum jose_alg alg);
/* The coordinate size in bytes of an ES alg's curve (32, 48, 66); 0 for any other alg. */
size_t jose_alg_ec_coord(enum jose_alg alg);

/* ---- jwk.c ---- */
/* A new key for alg (RSA 2048, P-256, Ed25519); NULL with err set on failure. Owner: caller. */
struct evp_pkey_st *jose_key_generate(enum jose_alg alg, struct errbuf *err);
/* True if pkey is of the type and size alg requires: RS* and PS* an RSA key of 2048 to 8192 bits, ES256
 * P-256, ES384 P-384, ES512 P-521, EdDSA Ed25519; never for HS* or NONE. */
bool jose_key_fits_alg(const struct evp_pkey_st *pkey, enum jose_alg alg);
/* A key imported from a foreign JWK (jose_jwk_import), or an HMAC secret (jose_key_hmac): what jws.c
 * verifies with. Exactly one of pkey and secret is set. Arena memory; pkey is freed with the arena. */
struct jose_pubkey {
    struct evp_pkey_st *pkey;
    const unsigned char *secret; /* secret arena memory (wiped at reset) */
    size_t secret_len;
    const char *kid;             /* the JWK's kid, or NULL */
    enum jose_alg alg;           /* the JWK's alg member; JOSE_ALG_NONE when it has none */
};
/* Public JWK of pkey. With kid NULL: only the RFC 7638 §3.2 required members (the thumbprint input);
 * otherwise also kid, alg and use "sig". New reference owned by the caller; NULL on failure. */
json_t *jose_jwk_public(const struct evp_pkey_st *pkey, enum jose_alg alg, const char *kid);
/* RFC 7638 thumbprint (SHA-256, base64url) in arena memory, used as kid; NULL on failure. */
char *jose_jwk_thumbprint(struct arena *a, const struct evp_pkey_st *pkey, enum jose_alg alg);
/* PKCS#8 PrivateKeyInfo DER of pkey in secret arena memory (wiped at reset). -1 on failure. */
int jose_key_to_der(struct arena *a, const struct evp_pkey_st *pkey, unsigned char **der, size_t *len);
/* Parses PKCS#8 DER; NULL on failure. Owner: caller. */
struct evp_pkey_st *jose_key_from_der(const unsigned char *der, size_t len);

/* ---- keystore.c: keys borrowed for jws.c ---- */
/* A key borrowed from the keystore. keystore_signing_key()/keystore_verify_key() return it with the
 * keystore's read lock held; keystore_key_release() drops the lock. Nothing in it outlives the release. */
struct jose_keyref {
    enum jose_alg alg;
    const char *kid;
    struct evp_pkey_st *pkey;
    const char *hdr; /* signing only: base64url protected header, keystore or arena memory */
    size_t hdr_len;
};
/* The key that signs `alg` now, with its protected header for `typ`. 0, or ERR_NOTFOUND (lock not held). */
int keystore_signing_key(struct keystore *ks, struct arena *a, enum jose_alg alg, const char *typ,
                         struct jose_keyref *out, struct errbuf *err);
/* The published key named kid (kid NULL: the only published key of alg). 0, or JOSE_ERR_UNKNOWN_KEY
 * (lock not held). The caller checks that out->alg is the alg it was asked for. */
int keystore_verify_key(struct keystore *ks, const char *kid, size_t kid_len, enum jose_alg alg,
                        struct jose_keyref *out);
void keystore_key_release(struct keystore *ks, struct jose_keyref *ref);

#endif
