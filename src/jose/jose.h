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

enum { JOSE_ERR_BAD_TOKEN = -110, JOSE_ERR_BAD_SIGNATURE = -111, JOSE_ERR_UNKNOWN_KEY = -112 };

/* ---- alg.c ---- */

/* True for "RS256", "ES256", "EdDSA" (case-sensitive); false for NULL and anything else. */
bool jose_alg_supported(const char *alg);

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

/* Left half of the SHA-2 digest matching alg, base64url (OIDC Core §3.1.3.6 at_hash / c_hash).
 * For EdDSA with Ed25519 the hash is SHA-512. */
char *jose_half_hash(struct arena *a, const char *alg, const char *value, size_t len);

#endif
