/* jose.h: signing keys and JWS (RFC 7515 compact serialization) for RS256, ES256 and EdDSA (Ed25519,
 * RFC 8037): the public API of src/jose/. The module is the only user of OpenSSL's EVP signing API; its
 * files form one chain, each using only those before it: alg.c (algorithm names), jwk.c (keys and their
 * JWK form), keystore.c (the key set, at rest and in memory), jws.c (sign and verify). What only they share
 * is in jose_internal.h.
 * cjose is not used: its 0.6 release has no OKP/EdDSA support, and one EVP path serves all three
 * algorithms without a JSON round trip per signature.
 *
 * Key lifecycle (docs/keys.md): keys live in the store with their private part encrypted (libsodium
 * XChaCha20-Poly1305, key = BLAKE2b of the configured key secret). A key signs from `sign_from` until
 * `retired_at`; it stays in the JWKS until `unpublish_at`, which a rotation sets to retired_at plus the
 * longest token lifetime, so every token it signed can still be verified.
 *
 * Threads: a struct keystore is shared by all workers. Reads (sign, verify, jwks) take a read lock;
 * keystore_reload() swaps the key set under the write lock. */
#ifndef OSTIARY_JOSE_H
#define OSTIARY_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

struct arena;
struct store_conn;
struct store_key;
struct keystore;

/* JOSE_ERR_ALG: the token's alg is "none", unknown, not in the caller's allowed set, or not one its key
 * can make (an HS256 header for an RSA key). */
enum {
    JOSE_ERR_BAD_TOKEN = -110,
    JOSE_ERR_BAD_SIGNATURE = -111,
    JOSE_ERR_UNKNOWN_KEY = -112,
    JOSE_ERR_ALG = -113,
};

/* ---- alg.c ---- */

/* Every JWS algorithm the module knows (RFC 7518 §3.1, RFC 8037 §3.1). Values are stable (masks of them
 * are kept); JOSE_ALG_NONE stands for "none" and for every unknown name, and nothing verifies with it. */
enum jose_alg {
    JOSE_ALG_NONE = 0,
    JOSE_ALG_RS256 = 1,
    JOSE_ALG_ES256 = 2,
    JOSE_ALG_EDDSA = 3,
    JOSE_ALG_RS384 = 4,
    JOSE_ALG_RS512 = 5,
    JOSE_ALG_PS256 = 6,
    JOSE_ALG_PS384 = 7,
    JOSE_ALG_PS512 = 8,
    JOSE_ALG_ES384 = 9,
    JOSE_ALG_ES512 = 10,
    JOSE_ALG_HS256 = 11,
    JOSE_ALG_HS384 = 12,
    JOSE_ALG_HS512 = 13,
    /* RFC 9864's fully-specified name of EdDSA with Ed25519 (what oauth4webapi signs with): the same
     * algorithm for the same keys; a client allowed one is allowed both. */
    JOSE_ALG_ED25519 = 14,
    JOSE_ALG__COUNT
};
/* Sets of algorithms as bit masks (unsigned), for the allowed list of jws_verify_keys. */
#define JOSE_ALG_BIT(alg) (1u << (unsigned)(alg))
#define JOSE_ALGS_ASYMMETRIC                                                                                 \
    (JOSE_ALG_BIT(JOSE_ALG_RS256) | JOSE_ALG_BIT(JOSE_ALG_RS384) | JOSE_ALG_BIT(JOSE_ALG_RS512) |           \
     JOSE_ALG_BIT(JOSE_ALG_PS256) | JOSE_ALG_BIT(JOSE_ALG_PS384) | JOSE_ALG_BIT(JOSE_ALG_PS512) |           \
     JOSE_ALG_BIT(JOSE_ALG_ES256) | JOSE_ALG_BIT(JOSE_ALG_ES384) | JOSE_ALG_BIT(JOSE_ALG_ES512) |           \
     JOSE_ALG_BIT(JOSE_ALG_EDDSA) | JOSE_ALG_BIT(JOSE_ALG_ED25519))
/* The algs a registration of alg allows: alg itself, and for EdDSA or Ed25519 both names. */
#define JOSE_ALG_SAME(alg)                                                                                   \
    ((alg) == JOSE_ALG_EDDSA || (alg) == JOSE_ALG_ED25519 ? JOSE_ALG_BIT(JOSE_ALG_EDDSA) | JOSE_ALG_BIT(JOSE_ALG_ED25519) \
                                                          : JOSE_ALG_BIT(alg))
#define JOSE_ALGS_HMAC (JOSE_ALG_BIT(JOSE_ALG_HS256) | JOSE_ALG_BIT(JOSE_ALG_HS384) | JOSE_ALG_BIT(JOSE_ALG_HS512))

/* True for the algorithms Ostiary signs with: "RS256", "ES256", "EdDSA" (case-sensitive); false for NULL
 * and anything else. */
bool jose_alg_supported(const char *alg);
/* Any alg of enum jose_alg by its exact, case-sensitive name; JOSE_ALG_NONE for "none", NULL and anything
 * unknown. jose_alg_parse_cstr: the same for a NUL-terminated name. */
enum jose_alg jose_alg_parse(const char *name, size_t len);
enum jose_alg jose_alg_parse_cstr(const char *name);
/* The JWS name of alg; "none" for JOSE_ALG_NONE. Static memory. */
const char *jose_alg_name(enum jose_alg alg);
/* The names of the algs in mask, in enum order (RS256 first), as a new JSON array (discovery). */
json_t *jose_alg_mask_json(unsigned mask);

/* ---- jwk.c: foreign public keys (client JWKS, DPoP proofs, request objects) ---- */

/* A key to verify with: a public key imported from a JWK, or an HMAC secret. Arena memory, opaque. */
struct jose_pubkey;
/* A set of them, e.g. a client's JWKS. keys is arena memory. */
struct jose_keyset {
    const struct jose_pubkey **keys;
    size_t n;
};
/* Caps on what a foreign JWKS may hold: a request cannot make us import more. */
#define JOSE_JWKS_MAX_KEYS 32

/* Imports one public JWK (RFC 7517 §4): kty "RSA" (n, e; 2048 to 8192 bits, RFC 7518 §6.3.1), "EC" (crv
 * P-256, P-384 or P-521, x and y of the exact coordinate size, a point on the curve, §6.2.1), or "OKP" (crv
 * Ed25519, x of 32 bytes, RFC 8037 §2). Refused: any other kty or curve (symmetric "oct" keys included),
 * private members (d, p, q, dp, dq, qi, oth, k), a `use` other than "sig", `key_ops` without "verify", an
 * `alg` that is unknown or does not fit the key, non-canonical base64url, members of the wrong JSON type.
 * *out lives in arena a (its OpenSSL key is freed with it). 0, or ERR_INVALID with the reason in err
 * (which never contains key material). Pure: no clock, store or network. */
int jose_jwk_import(struct arena *a, const json_t *jwk, const struct jose_pubkey **out, struct errbuf *err);
/* Imports a JWK Set ({"keys": [...]}, RFC 7517 §5). Members of "keys" whose kty is unknown or whose use is
 * "enc" are skipped (§5: a set may hold keys for other purposes); any other member that does not import is
 * an error naming its index. At most JOSE_JWKS_MAX_KEYS usable keys; two keys with the same kid are
 * refused (kid selection must be unambiguous). An empty result is not an error (out->n == 0). */
int jose_jwks_import(struct arena *a, const json_t *jwks, struct jose_keyset *out, struct errbuf *err);
/* An HMAC key (for HS256/384/512: client_secret_jwt, RFC 7523 §2.2 with OIDC Core §9), a copy of secret in
 * secret arena memory. RFC 7518 §3.2: it verifies an HS alg only if it is at least as long as the hash. */
const struct jose_pubkey *jose_key_hmac(struct arena *a, const void *secret, size_t len);
/* The JWK's kid, or NULL. */
const char *jose_pubkey_kid(const struct jose_pubkey *k);
/* RFC 7638 thumbprint (SHA-256, base64url, 43 characters) of an imported public key, in arena memory;
 * NULL for an HMAC key. The DPoP `jkt` (RFC 9449 §6.1) is this value. */
char *jose_pubkey_thumbprint(struct arena *a, const struct jose_pubkey *k);

/* ---- keystore.c ---- */

/* Loads keys from the store and decrypts them with `secret`. When `generate` is set, an algorithm of
 * `algs` without a current key gets a new one (RS256: RSA 2048; ES256: P-256; EdDSA: Ed25519), stored
 * encrypted. Fails if a stored key cannot be decrypted (wrong secret) — never silently regenerates.
 * Key generation runs in one store transaction (store_begin/commit), after every stored key has been
 * decrypted. Without `generate`, an alg of `algs` lacking a current key is an error (ERR_NOTFOUND).
 * kid is the RFC 7638 thumbprint. Owner of *out: the caller (keystore_free). Blocks on the store. */
int keystore_open(struct store_conn *db, const char *secret, const char *const *algs, size_t nalgs, bool generate,
                  struct keystore **out, struct errbuf *err);
void keystore_free(struct keystore *ks);
/* Re-reads keys from the store (other instances or the CLI may have rotated); cheap when unchanged (one
 * key_list and a hash; nothing is decrypted or locked). Safe to call from any thread while others sign;
 * db must be the calling thread's connection. On failure the previous keys stay in use. */
int keystore_reload(struct keystore *ks, struct store_conn *db, struct errbuf *err);

/* The longest publish delay a rotation takes (seconds): a year. */
#define KEY_PUBLISH_DELAY_MAX (366 * 86400)
/* Rotation (CLI): creates a new key for alg that signs from now + publish_delay; the current key of that
 * alg retires at that time and is unpublished max_token_ttl seconds later. Writes *new_kid (malloc'd). */
int keystore_rotate(struct store_conn *db, const char *secret, const char *alg, int64_t now, int64_t publish_delay,
                    int64_t max_token_ttl, char **new_kid, struct errbuf *err);

/* Automatic rotation (keys.rotation_period, docs/keys.md). The head of an alg's chain is its newest
 * published key that nothing has replaced (retired_at 0). A new key is due `period` seconds after the
 * head's sign_from, announced `ahead` seconds before: due once now >= head.sign_from + period - ahead, and
 * it then signs from max(head.sign_from + period, now + ahead). Pure: store rows in, no clock. */
enum key_rotation {
    KEY_ROTATION_OFF,            /* period 0 */
    KEY_ROTATION_NO_KEY,         /* alg has no head (keystore_open generates the first key) */
    KEY_ROTATION_NOT_DUE,
    KEY_ROTATION_DUE,            /* *sign_from set */
    KEY_ROTATION_TOO_MANY_KEYS,  /* due, but KEY_ROTATION_PUBLISHED_MAX keys are published: refused */
};
/* Published keys (all algs) past which automatic rotation adds no more: retired keys stay published for
 * the longest token lifetime, so a period much shorter than it piles them up. */
#define KEY_ROTATION_PUBLISHED_MAX 64
enum key_rotation keystore_rotation_plan(const struct store_key *rows, size_t n, const char *alg, int64_t now,
                                         int64_t period, int64_t ahead, int64_t *sign_from);
/* Whether the plan says some alg of algs is due (one store read, no lock): the cheap question asked every
 * keys.reload_interval before the work of keystore_auto_rotate. */
int keystore_rotation_pending(struct store_conn *db, const char *const *algs, size_t nalgs, int64_t now,
                              int64_t period, int64_t ahead, bool *pending, struct errbuf *err);
/* Rotates every alg of algs that the plan says is due, in one store group whose key listing locks the key
 * set (store.h), so that of several instances sharing a store exactly one rotates: the plan is made
 * again under the lock, and the others find the new key. The keys it replaces retire at the new key's
 * sign_from and stay published max_token_ttl seconds longer (as keystore_rotate). *rotated gets how many
 * keys were created; the caller reloads ks to publish them. Blocks on the store. */
int keystore_auto_rotate(struct keystore *ks, struct store_conn *db, const char *const *algs, size_t nalgs,
                         int64_t now, int64_t period, int64_t ahead, int64_t max_token_ttl, size_t *rotated,
                         struct errbuf *err);

/* The JWKS document ({"keys":[...]}, public parts: kty, kid, alg, use "sig", and n/e, crv/x/y or crv/x)
 * of every published key, rebuilt on load/reload and once a key passes its unpublish_at. Copied into the
 * arena with its length. */
const char *keystore_jwks(struct keystore *ks, struct arena *a, size_t *len);

/* For `ostiary keys list`: every stored key with its state at `now`, sorted by alg then sign_from. Strings
 * are arena memory. "retired" also covers a key that could still sign but is superseded by a newer one. */
struct keystore_info {
    const char *kid, *alg, *state; /* state: "next", "current", "retired", "unpublished" */
    int64_t created_at, sign_from, retired_at, unpublish_at;
};
int keystore_list(struct store_conn *db, struct arena *a, int64_t now, struct keystore_info **out, size_t *n,
                  struct errbuf *err);
/* One key of keystore_list as JSON (`ostiary keys list`, the admin API): kid, alg, state, created_at,
 * sign_from, retired_at and unpublish_at (null when not set). New reference. */
json_t *keystore_info_json(const struct keystore_info *k);
/* The keys that sign at `now` as this keystore has them loaded (one per alg, state "current"), without a
 * store read: for the metrics. Returns how many; *out is arena memory. */
size_t keystore_signing(struct keystore *ks, struct arena *a, int64_t now, struct keystore_info **out);

/* Other secrets at rest, with the scheme of the private keys (XChaCha20-Poly1305 under the key derived from
 * the key-encryption secret), bound to `label` (additional data, e.g. the client_id: a sealed blob cannot
 * be moved to another row): the client secret of a client_secret_jwt client, whose HMAC key it is.
 * seal: *out is arena memory. open: *plain is secret arena memory (wiped at reset), NUL-terminated.
 * 0, or ERR_INVALID (bad key secret; open: wrong secret, other label, damaged blob) with err set. */
int jose_secret_seal(const char *key_secret, const char *label, const void *plain, size_t len, struct arena *a,
                     const unsigned char **out, size_t *out_len, struct errbuf *err);
int jose_secret_open(const char *key_secret, const char *label, const unsigned char *enc, size_t len,
                     struct arena *a, const unsigned char **plain, size_t *plain_len, struct errbuf *err);

/* ---- jws.c ---- */

/* Signs a compact JWS with the current key for `alg`. Header: {"alg","kid","typ"} (typ omitted when NULL).
 * payload is a JSON text. ES256 signatures are emitted in their low-s form (s <= n/2). Returns the token
 * in arena memory, or NULL (err set) when alg has no key. The current key is the newest (largest
 * sign_from) with sign_from <= clock_now() < retired_at. */
char *jws_sign(struct keystore *ks, struct arena *a, const char *alg, const char *typ, const char *payload,
               size_t payload_len, struct errbuf *err);

/* Verifies a compact JWS against the published keys: kid must name one of them (or, without kid, the
 * only published key of the header's alg), the header alg must equal the key's alg (never "none", never an
 * alg from a different key type). On success *payload is the parsed claims (freed with the arena) and
 * *typ the header typ (or NULL). Does not check claims (exp, iss, aud): that is the caller's job.
 * Errors: JOSE_ERR_BAD_TOKEN (malformed, over 16 KiB, alg not allowed or not the key's, crit header,
 * payload not a JSON object, duplicate JSON member names), JOSE_ERR_UNKNOWN_KEY, JOSE_ERR_BAD_SIGNATURE
 * (also for any second encoding of a valid signature: an ES256 s > n/2, an RS256 value >= n, an Ed25519
 * S >= L, non-zero trailing bits in the base64url). So a token we signed has exactly one accepted form;
 * still, callers key state on claims (jti), never on the token's bytes. */
int jws_verify(struct keystore *ks, struct arena *a, const char *jws, size_t len, json_t **payload,
               const char **typ, struct errbuf *err);

/* A JWS verified by jws_verify_keys. header and payload are JSON objects freed with the arena; key is the
 * key of the set that verified it. */
struct jws_verified {
    json_t *header;
    json_t *payload;
    enum jose_alg alg;
    const struct jose_pubkey *key;
};
/* Verifies a compact JWS (RFC 7515 §5.2) made by someone else (a client assertion, a DPoP proof, a request
 * object) against a key set. The header's alg must be in `allowed` (a mask of JOSE_ALG_BIT; "none" is
 * never accepted, whatever the mask) and fit the key's type and size (jose_key_fits_alg; an HS alg only an
 * HMAC key of at least the hash's length) and the JWK's own alg when it has one. With a kid in the header
 * only the keys with that kid are tried; without one, every key that fits the alg. ECDSA signatures are raw
 * R || S of exactly twice the curve's coordinate size (RFC 7518 §3.4); both low and high S are accepted (a
 * client's library need not normalize, so callers must key replay state on claims such as jti, never on the
 * token's bytes). A `crit` header is refused. Claims (exp, aud, iss ...) are not checked: the caller's job.
 * Returns 0 with *out set, or JOSE_ERR_BAD_TOKEN (malformed, over 16 KiB, header or payload not a JSON
 * object, duplicate member names), JOSE_ERR_ALG, JOSE_ERR_UNKNOWN_KEY (no key has the kid, or none fits
 * the alg), JOSE_ERR_BAD_SIGNATURE; err says which part failed (never key material). */
int jws_verify_keys(struct arena *a, const char *jws, size_t len, const struct jose_keyset *keys, unsigned allowed,
                    struct jws_verified *out, struct errbuf *err);
/* Decodes a compact JWS's header and payload WITHOUT verifying anything, to learn which keys to verify it
 * with (the iss of a client assertion, the kid). Nothing in them may be trusted before jws_verify_keys.
 * Same form checks and errors as jws_verify_keys' JOSE_ERR_BAD_TOKEN. */
int jws_peek(struct arena *a, const char *jws, size_t len, json_t **header, json_t **payload, struct errbuf *err);

/* Left half of the SHA-2 digest matching alg, base64url (OIDC Core §3.1.3.6 at_hash / c_hash).
 * For EdDSA with Ed25519 the hash is SHA-512. */
char *jose_half_hash(struct arena *a, const char *alg, const char *value, size_t len);

#endif
