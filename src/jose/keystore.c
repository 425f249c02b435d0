/* keystore.c: the signing keys: generation, encryption at rest, loading, rotation and the cached JWKS
 * document (RFC 7517 §5; OIDC Core §10.1.1 key rollover). Private keys reach the store only encrypted
 * (XChaCha20-Poly1305). Builds on alg.c and jwk.c (JWK encoding); lends its keys to jws.c (signing and
 * verification) through jose_internal.h, and never calls it. */
#include "jose/jose_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "store/store.h"

#include "core/banned.h"

/* Encrypted private key: version byte, nonce, then ciphertext and tag of the PKCS#8 DER. The kid is the
 * additional data, so a blob cannot be moved to another row. The key-encryption key is BLAKE2b of the
 * configured secret, keyed with a context string (domain separation from any other use of the secret). */
#define KEY_ENC_VERSION 1
#define KEY_ENC_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KEY_ENC_HDR (1 + KEY_ENC_NONCE)
#define KEY_ENC_OVERHEAD (KEY_ENC_HDR + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define KEK_CONTEXT "ostiary-key-encryption-v1"
#define KEK_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define KEYS_MAX 256 /* published keys at most: lookups are linear scans */

/* Protected headers precomputed per key for the typs signed most often; others are built per call. */
static const char *const cached_typs[] = {NULL, "JWT", "at+jwt", "logout+jwt"};
#define NTYPS (sizeof(cached_typs) / sizeof(cached_typs[0]))

struct ks_key {
    const char *kid;
    size_t kid_len;
    enum jose_alg alg;
    EVP_PKEY *pkey; /* shared read-only by all threads; freed by the set's arena */
    int64_t created_at, sign_from, retired_at, unpublish_at;
    const char *jwk; /* public JWK, compact JSON text */
    const char *hdr[NTYPS];
    size_t hdr_len[NTYPS];
};

/* An immutable key set. Everything lives in its arena, EVP_PKEYs through deferred frees. */
struct keyset {
    struct arena *arena;
    struct ks_key *keys; /* newest sign_from first, so the first eligible key is the signing key */
    size_t n;
    uint8_t digest[32]; /* of the store rows it was built from: keystore_reload skips an unchanged store */
};

struct keystore {
    pthread_rwlock_t lock;     /* readers: sign, verify, jwks; writer: set swap, JWKS rebuild */
    pthread_mutex_t reload_mu; /* one reload at a time; only a reload replaces `set` */
    unsigned char kek[KEK_LEN];
    struct keyset *set;
    char *jwks; /* malloc'd */
    size_t jwks_len;
    int64_t jwks_until; /* the JWKS must be rebuilt once clock_now() reaches this; 0 = never */
};

static bool published_at(int64_t unpublish_at, int64_t now)
{
    return unpublish_at == 0 || unpublish_at > now;
}

static bool signs_at(int64_t sign_from, int64_t retired_at, int64_t unpublish_at, int64_t now)
{
    return sign_from <= now && (retired_at == 0 || retired_at > now) && published_at(unpublish_at, now);
}

static int check_secret(const char *secret, struct errbuf *err)
{
    if (secret == NULL || secret[0] == '\0') {
        errbuf_set(err, "keys: the key secret is empty; set one to encrypt signing keys at rest");
        return ERR_INVALID;
    }
    if (sodium_init() < 0) {
        errbuf_set(err, "keys: libsodium failed to initialize");
        return ERR_FAIL;
    }
    return 0;
}

static void derive_kek(const char *secret, unsigned char kek[KEK_LEN])
{
    crypto_generichash(kek, KEK_LEN, (const unsigned char *)secret, strlen(secret),
                       (const unsigned char *)KEK_CONTEXT, sizeof(KEK_CONTEXT) - 1);
}

static void pkey_free_cb(void *p)
{
    EVP_PKEY_free(p);
}

/* Decrypts and parses the private key of a store row. The DER passes through secret arena memory only. */
static EVP_PKEY *key_decrypt(const unsigned char kek[KEK_LEN], struct arena *tmp, const struct store_key *row,
                             enum jose_alg alg, struct errbuf *err)
{
    if (row->priv_enc == NULL || row->priv_enc_len <= KEY_ENC_OVERHEAD ||
        row->priv_enc[0] != KEY_ENC_VERSION) {
        errbuf_set(err, "key %s (%s): the stored private key has an unknown format", row->kid, row->alg);
        return NULL;
    }
    size_t clen = row->priv_enc_len - KEY_ENC_HDR;
    unsigned char *der = arena_alloc_secret(tmp, clen);
    unsigned long long dlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(der, &dlen, NULL, row->priv_enc + KEY_ENC_HDR, clen,
                                                   (const unsigned char *)row->kid, strlen(row->kid),
                                                   row->priv_enc + 1, kek) != 0) {
        errbuf_set(
            err,
            "key %s (%s): cannot decrypt: the key secret does not match the one this key was encrypted "
            "with, or the stored key was altered; configure the previous key secret (keys are never "
            "regenerated: tokens they signed must stay valid)",
            row->kid, row->alg);
        return NULL;
    }
    EVP_PKEY *pkey = jose_key_from_der(der, (size_t)dlen);
    if (!jose_key_fits_alg(pkey, alg)) {
        EVP_PKEY_free(pkey);
        errbuf_set(err, "key %s: the stored private key is not a valid %s key", row->kid, row->alg);
        return NULL;
    }
    return pkey;
}

/* Generates a key for alg and fills *row (arena memory) with it, private part encrypted. */
static int key_new_row(const unsigned char kek[KEK_LEN], struct arena *a, enum jose_alg alg, int64_t now,
                       int64_t sign_from, struct store_key *row, struct errbuf *err)
{
    EVP_PKEY *pkey = jose_key_generate(alg, err);
    if (pkey == NULL)
        return ERR_FAIL;
    int rc = ERR_FAIL;
    json_t *jwk = NULL;
    char *text = NULL;
    unsigned char *der = NULL;
    size_t der_len = 0;
    /* RFC 7638 §1: the thumbprint is a stable, collision-resistant kid. */
    char *kid = jose_jwk_thumbprint(a, pkey, alg);
    if (kid != NULL)
        jwk = jose_jwk_public(pkey, alg, kid);
    if (jwk != NULL)
        text = json_dumps(jwk, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL || jose_key_to_der(a, pkey, &der, &der_len) != 0) {
        errbuf_set(err, "cannot encode the new %s key", jose_alg_name(alg));
        goto out;
    }
    size_t enc_len = KEY_ENC_OVERHEAD + der_len;
    unsigned char *enc = arena_alloc(a, enc_len);
    unsigned long long clen = 0;
    enc[0] = KEY_ENC_VERSION;
    rand_bytes(enc + 1, KEY_ENC_NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(enc + KEY_ENC_HDR, &clen, der, der_len,
                                               (const unsigned char *)kid, strlen(kid), NULL, enc + 1, kek);
    *row = (struct store_key){
        .kid = kid,
        .alg = jose_alg_name(alg),
        .priv_enc = enc,
        .priv_enc_len = enc_len,
        .public_jwk = arena_strdup(a, text),
        .created_at = now,
        .sign_from = sign_from,
    };
    rc = 0;
out:
    free(text);
    json_decref(jwk);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Base64url protected header {"alg","kid"[,"typ"]} in arena memory. -1 if typ is not valid UTF-8. */
static int make_hdr(struct arena *a, enum jose_alg alg, const char *kid, const char *typ, const char **hdr,
                    size_t *len)
{
    json_t *h = json_object();
    int rc = json_object_set_new(h, "alg", json_string(jose_alg_name(alg)));
    rc |= json_object_set_new(h, "kid", json_string(kid));
    if (typ != NULL)
        rc |= json_object_set_new(h, "typ", json_string(typ));
    char *text = rc == 0 ? json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(h);
    if (text == NULL)
        return -1;
    *hdr = b64url_encode(a, text, strlen(text));
    *len = strlen(*hdr);
    free(text);
    return 0;
}

static int row_cmp_kid(const void *x, const void *y)
{
    const struct store_key *const *a = x, *const *b = y;
    return strcmp((*a)->kid, (*b)->kid);
}

/* A digest of everything a key set is built from, independent of the order the store returns rows in. */
static void rows_digest(struct arena *tmp, const struct store_key *rows, size_t n, uint8_t out[32])
{
    const struct store_key **sorted = arena_alloc(tmp, (n + 1) * sizeof(*sorted));
    for (size_t i = 0; i < n; i++)
        sorted[i] = &rows[i];
    qsort(sorted, n, sizeof(*sorted), row_cmp_kid);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (size_t i = 0; i < n; i++) {
        const struct store_key *r = sorted[i];
        int64_t t[4] = {r->created_at, r->sign_from, r->retired_at, r->unpublish_at};
        uint64_t enc_len = r->priv_enc_len;
        crypto_generichash_update(&st, (const unsigned char *)r->kid, strlen(r->kid) + 1);
        crypto_generichash_update(&st, (const unsigned char *)r->alg, strlen(r->alg) + 1);
        crypto_generichash_update(&st, (const unsigned char *)t, sizeof(t));
        crypto_generichash_update(&st, (const unsigned char *)&enc_len, sizeof(enc_len));
        if (r->priv_enc != NULL)
            crypto_generichash_update(&st, r->priv_enc, r->priv_enc_len);
    }
    crypto_generichash_final(&st, out, 32);
}

static void keyset_free(struct keyset *set)
{
    if (set == NULL)
        return;
    arena_free(set->arena);
    free(set);
}

/* The signing order: the latest sign_from wins, then the latest created_at, then the smaller kid. */
static bool key_newer(int64_t a_from, int64_t a_created, const char *a_kid, int64_t b_from, int64_t b_created,
                      const char *b_kid)
{
    if (a_from != b_from)
        return a_from > b_from;
    if (a_created != b_created)
        return a_created > b_created;
    return strcmp(a_kid, b_kid) < 0;
}

static int key_cmp_newest(const void *x, const void *y)
{
    const struct ks_key *a = x, *b = y;
    if (strcmp(a->kid, b->kid) == 0)
        return 0;
    return key_newer(a->sign_from, a->created_at, a->kid, b->sign_from, b->created_at, b->kid) ? -1 : 1;
}

/* Builds a key set from store rows. Keys already in `old` (same kid and alg) are shared, not decrypted
 * again. Rows already unpublished at `now` are skipped: they can neither sign nor verify. */
static int keyset_build(const unsigned char kek[KEK_LEN], const struct keyset *old,
                        const struct store_key *rows, size_t n, int64_t now, struct keyset **out,
                        struct errbuf *err)
{
    struct keyset *set = calloc(1, sizeof(*set));
    if (set == NULL)
        abort();
    set->arena = arena_new(16384);
    set->keys = arena_alloc(set->arena, (n + 1) * sizeof(*set->keys));
    struct arena *tmp = arena_new(8192);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct store_key *r = &rows[i];
        enum jose_alg alg = jose_alg_from_cstr(r->alg);
        if (r->kid == NULL || alg == JOSE_ALG_NONE) {
            log_warn("jose.key_skipped", LS("kid", r->kid ? r->kid : ""), LS("alg", r->alg ? r->alg : ""),
                     LS("reason", "unsupported alg"), NULL);
            continue;
        }
        if (!published_at(r->unpublish_at, now))
            continue;
        if (set->n == KEYS_MAX) {
            errbuf_set(err, "keys: more than %d published keys; signing and JWKS stay bounded", KEYS_MAX);
            rc = ERR_FAIL;
            break;
        }
        EVP_PKEY *pkey = NULL;
        for (size_t j = 0; old != NULL && j < old->n; j++) {
            if (old->keys[j].alg == alg && strcmp(old->keys[j].kid, r->kid) == 0) {
                pkey = old->keys[j].pkey;
                EVP_PKEY_up_ref(pkey);
                break;
            }
        }
        if (pkey == NULL)
            pkey = key_decrypt(kek, tmp, r, alg, err);
        if (pkey == NULL) {
            rc = ERR_FAIL;
            break;
        }
        arena_defer(set->arena, pkey_free_cb, pkey);
        struct ks_key *k = &set->keys[set->n];
        k->kid = arena_strdup(set->arena, r->kid);
        k->kid_len = strlen(k->kid);
        k->alg = alg;
        k->pkey = pkey;
        k->created_at = r->created_at;
        k->sign_from = r->sign_from;
        k->retired_at = r->retired_at;
        k->unpublish_at = r->unpublish_at;
        /* The JWK is derived from the private key, not copied from the row: what we publish is what we sign
         * with, whatever the public_jwk column holds. */
        json_t *jwk = jose_jwk_public(pkey, alg, k->kid);
        char *text = jwk != NULL ? json_dumps(jwk, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(jwk);
        if (text == NULL) {
            errbuf_set(err, "key %s: cannot encode its public JWK", r->kid);
            rc = ERR_FAIL;
            break;
        }
        k->jwk = arena_strdup(set->arena, text);
        free(text);
        for (size_t t = 0; t < NTYPS; t++) {
            if (make_hdr(set->arena, alg, k->kid, cached_typs[t], &k->hdr[t], &k->hdr_len[t]) != 0) {
                errbuf_set(err, "key %s: cannot encode its JWS header", r->kid);
                rc = ERR_FAIL;
                break;
            }
        }
        set->n++;
    }
    if (rc == 0) {
        qsort(set->keys, set->n, sizeof(*set->keys), key_cmp_newest);
        rows_digest(tmp, rows, n, set->digest);
        *out = set;
    } else {
        keyset_free(set);
    }
    arena_free(tmp);
    return rc;
}

/* The JWKS of the keys published at `now`, and the time it becomes stale (the next unpublish_at). */
static int jwks_build(const struct keyset *set, int64_t now, char **text, size_t *len, int64_t *until)
{
    json_t *keys = json_array();
    int64_t next = 0;
    for (size_t i = 0; i < set->n; i++) {
        const struct ks_key *k = &set->keys[i];
        if (!published_at(k->unpublish_at, now))
            continue;
        if (k->unpublish_at != 0 && (next == 0 || k->unpublish_at < next))
            next = k->unpublish_at;
        json_array_append_new(keys, json_loads(k->jwk, 0, NULL));
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "keys", keys);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (s == NULL)
        return ERR_FAIL;
    *text = s;
    *len = strlen(s);
    *until = next;
    return 0;
}

static bool has_signing_key(const struct keyset *set, enum jose_alg alg, int64_t now)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct ks_key *k = &set->keys[i];
        if (k->alg == alg && signs_at(k->sign_from, k->retired_at, k->unpublish_at, now))
            return true;
    }
    return false;
}

static struct keystore *keystore_new(const char *secret)
{
    struct keystore *ks = calloc(1, sizeof(*ks));
    if (ks == NULL)
        abort();
    /* Writers first: a reload must not starve behind a steady stream of signing readers. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ks->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&ks->reload_mu, NULL);
    derive_kek(secret, ks->kek);
    return ks;
}

/* Lists the rows and builds a set; inside the caller's transaction if it has one. */
static int load_set(const unsigned char kek[KEK_LEN], struct store_conn *db, const struct keyset *old,
                    int64_t now, struct keyset **out, struct errbuf *err)
{
    struct arena *tmp = arena_new(16384);
    struct store_key *rows = NULL;
    size_t n = 0;
    int rc = store_key_list(db, tmp, &rows, &n, err);
    if (rc == 0)
        rc = keyset_build(kek, old, rows, n, now, out, err);
    arena_free(tmp);
    return rc;
}

/* Generates, in one transaction, a key for every alg of algs that has no signing key now. */
static int generate_missing(struct keystore *ks, struct store_conn *db, const char *const *algs, size_t nalgs,
                            int64_t now, struct keyset **set_out, struct errbuf *err)
{
    int rc = store_begin(db, err);
    if (rc != 0)
        return rc;
    struct keyset *set = NULL;
    struct arena *tmp = arena_new(16384);
    /* Decrypt what exists first: with a wrong secret we must fail before adding keys nobody can read. */
    rc = load_set(ks->kek, db, NULL, now, &set, err);
    for (size_t i = 0; i < nalgs && rc == 0; i++) {
        enum jose_alg alg = jose_alg_from_cstr(algs[i]);
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup = dup || strcmp(algs[j], algs[i]) == 0;
        if (dup || has_signing_key(set, alg, now))
            continue;
        struct store_key row;
        rc = key_new_row(ks->kek, tmp, alg, now, now, &row, err);
        if (rc == 0)
            rc = store_key_put(db, &row, err);
        if (rc == 0)
            log_info("jose.key_generated", LS("kid", row.kid), LS("alg", row.alg), NULL);
    }
    if (rc == 0)
        rc = store_commit(db, err);
    else
        store_rollback(db);
    if (rc == 0)
        *set_out = set; /* the keys it decrypted, reused by the caller's final load */
    else
        keyset_free(set);
    arena_free(tmp);
    return rc;
}

int keystore_open(struct store_conn *db, const char *secret, const char *const *algs, size_t nalgs,
                  bool generate, struct keystore **out, struct errbuf *err)
{
    int rc = check_secret(secret, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < nalgs; i++) {
        if (!jose_alg_supported(algs[i])) {
            errbuf_set(err, "keys: unsupported signing alg '%s' (supported: RS256, ES256, EdDSA)",
                       algs[i] ? algs[i] : "");
            return ERR_INVALID;
        }
    }
    struct keystore *ks = keystore_new(secret);
    int64_t now = clock_now();
    struct keyset *pre = NULL;
    if (generate)
        rc = generate_missing(ks, db, algs, nalgs, now, &pre, err);
    if (rc == 0)
        rc = load_set(ks->kek, db, pre, now, &ks->set, err);
    keyset_free(pre);
    for (size_t i = 0; i < nalgs && rc == 0; i++) {
        if (!has_signing_key(ks->set, jose_alg_from_cstr(algs[i]), now)) {
            errbuf_set(err,
                       "keys: no current %s signing key; run `ostiary keys rotate --alg %s` or enable key "
                       "generation",
                       algs[i], algs[i]);
            rc = ERR_NOTFOUND;
        }
    }
    if (rc == 0 && jwks_build(ks->set, now, &ks->jwks, &ks->jwks_len, &ks->jwks_until) != 0) {
        errbuf_set(err, "keys: cannot encode the JWKS");
        rc = ERR_FAIL;
    }
    if (rc != 0) {
        keystore_free(ks);
        return rc;
    }
    *out = ks;
    return 0;
}

void keystore_free(struct keystore *ks)
{
    if (ks == NULL)
        return;
    keyset_free(ks->set);
    free(ks->jwks);
    sodium_memzero(ks->kek, sizeof(ks->kek));
    pthread_rwlock_destroy(&ks->lock);
    pthread_mutex_destroy(&ks->reload_mu);
    free(ks);
}

int keystore_reload(struct keystore *ks, struct store_conn *db, struct errbuf *err)
{
    pthread_mutex_lock(&ks->reload_mu);
    int64_t now = clock_now();
    struct arena *tmp = arena_new(16384);
    struct store_key *rows = NULL;
    size_t n = 0;
    struct keyset *set = NULL;
    char *jwks = NULL;
    size_t jwks_len = 0;
    int64_t jwks_until = 0;
    int rc = store_key_list(db, tmp, &rows, &n, err);
    if (rc == 0) {
        uint8_t digest[32];
        rows_digest(tmp, rows, n, digest);
        if (memcmp(digest, ks->set->digest, sizeof(digest)) == 0)
            goto out; /* unchanged: no decryption, no lock */
        rc = keyset_build(ks->kek, ks->set, rows, n, now, &set, err);
    }
    if (rc == 0 && jwks_build(set, now, &jwks, &jwks_len, &jwks_until) != 0) {
        errbuf_set(err, "keys: cannot encode the JWKS");
        rc = ERR_FAIL;
    }
    if (rc == 0) {
        pthread_rwlock_wrlock(&ks->lock);
        struct keyset *old_set = ks->set;
        char *old_jwks = ks->jwks;
        ks->set = set;
        ks->jwks = jwks;
        ks->jwks_len = jwks_len;
        ks->jwks_until = jwks_until;
        pthread_rwlock_unlock(&ks->lock);
        keyset_free(old_set);
        free(old_jwks);
        set = NULL;
        log_info("jose.keys_reloaded", LI("keys", ks->set->n), NULL);
    }
out:
    keyset_free(set);
    arena_free(tmp);
    pthread_mutex_unlock(&ks->reload_mu);
    return rc;
}

const char *keystore_jwks(struct keystore *ks, struct arena *a, size_t *len)
{
    int64_t now = clock_now();
    pthread_rwlock_rdlock(&ks->lock);
    if (ks->jwks_until != 0 && now >= ks->jwks_until) {
        /* A key reached its unpublish_at since the last build: rebuild under the write lock. */
        pthread_rwlock_unlock(&ks->lock);
        pthread_rwlock_wrlock(&ks->lock);
        char *text = NULL;
        size_t n = 0;
        int64_t until = 0;
        if (ks->jwks_until != 0 && now >= ks->jwks_until &&
            jwks_build(ks->set, now, &text, &n, &until) == 0) {
            free(ks->jwks);
            ks->jwks = text;
            ks->jwks_len = n;
            ks->jwks_until = until;
        }
    }
    char *copy = arena_memdup(a, ks->jwks, ks->jwks_len);
    if (len != NULL)
        *len = ks->jwks_len;
    pthread_rwlock_unlock(&ks->lock);
    return copy;
}

int keystore_signing_key(struct keystore *ks, struct arena *a, enum jose_alg alg, const char *typ,
                         struct jose_keyref *out, struct errbuf *err)
{
    int64_t now = clock_now();
    pthread_rwlock_rdlock(&ks->lock);
    const struct ks_key *k = NULL;
    for (size_t i = 0; i < ks->set->n && k == NULL; i++) {
        const struct ks_key *c = &ks->set->keys[i];
        if (c->alg == alg && signs_at(c->sign_from, c->retired_at, c->unpublish_at, now))
            k = c; /* keys are sorted newest first */
    }
    if (k == NULL) {
        pthread_rwlock_unlock(&ks->lock);
        errbuf_set(err, "keys: no current %s signing key", jose_alg_name(alg));
        return ERR_NOTFOUND;
    }
    *out = (struct jose_keyref){.alg = k->alg, .kid = k->kid, .pkey = k->pkey};
    for (size_t t = 0; t < NTYPS; t++) {
        const char *c = cached_typs[t];
        if ((c == NULL && typ == NULL) || (c != NULL && typ != NULL && strcmp(c, typ) == 0)) {
            out->hdr = k->hdr[t];
            out->hdr_len = k->hdr_len[t];
            return 0;
        }
    }
    if (make_hdr(a, k->alg, k->kid, typ, &out->hdr, &out->hdr_len) != 0) {
        pthread_rwlock_unlock(&ks->lock);
        errbuf_set(err, "jws: typ is not valid UTF-8");
        return ERR_INVALID;
    }
    return 0;
}

int keystore_verify_key(struct keystore *ks, const char *kid, size_t kid_len, enum jose_alg alg,
                        struct jose_keyref *out)
{
    int64_t now = clock_now();
    pthread_rwlock_rdlock(&ks->lock);
    const struct ks_key *k = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < ks->set->n; i++) {
        const struct ks_key *c = &ks->set->keys[i];
        if (!published_at(c->unpublish_at, now))
            continue;
        if (kid != NULL) {
            if (c->kid_len == kid_len && memcmp(c->kid, kid, kid_len) == 0) {
                k = c;
                matches = 1;
                break;
            }
        } else if (c->alg == alg) {
            k = c;
            matches++;
        }
    }
    /* Without kid, guessing among several keys of the alg would make verification order-dependent. */
    if (k == NULL || matches != 1) {
        pthread_rwlock_unlock(&ks->lock);
        return JOSE_ERR_UNKNOWN_KEY;
    }
    *out = (struct jose_keyref){.alg = k->alg, .kid = k->kid, .pkey = k->pkey};
    return 0;
}

void keystore_key_release(struct keystore *ks, struct jose_keyref *ref)
{
    ref->pkey = NULL;
    ref->kid = NULL;
    ref->hdr = NULL;
    pthread_rwlock_unlock(&ks->lock);
}

/* Fails unless every published key of rows decrypts with kek: a key encrypted under a different secret than
 * the others would stop the server at its next start. */
static int check_decryptable(const unsigned char kek[KEK_LEN], struct arena *tmp,
                             const struct store_key *rows, size_t n, int64_t now, struct errbuf *err)
{
    for (size_t i = 0; i < n; i++) {
        enum jose_alg a = jose_alg_from_name(rows[i].alg, strlen(rows[i].alg));
        if (a == JOSE_ALG_NONE || !published_at(rows[i].unpublish_at, now))
            continue;
        EVP_PKEY *pkey = key_decrypt(kek, tmp, &rows[i], a, err);
        if (pkey == NULL)
            return ERR_FAIL;
        EVP_PKEY_free(pkey);
    }
    return 0;
}

/* Inside the caller's group, after store_key_list gave rows: creates a key for alg signing from sign_from
 * and retires the keys of alg that would still sign then (their rows in `rows` are updated too). */
static int rotate_in_group(const unsigned char kek[KEK_LEN], struct store_conn *db, struct arena *tmp,
                           struct store_key *rows, size_t n, enum jose_alg alg, int64_t now,
                           int64_t sign_from, int64_t max_token_ttl, struct store_key *row,
                           struct errbuf *err)
{
    int rc = key_new_row(kek, tmp, alg, now, sign_from, row, err);
    /* Publish before sign: the new key is in the JWKS now and signs from sign_from; the keys it replaces
     * sign until then and stay published long enough to verify every token they signed. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct store_key *r = &rows[i];
        if (strcmp(r->alg, jose_alg_name(alg)) != 0 || !published_at(r->unpublish_at, now))
            continue;
        if (r->retired_at != 0 && r->retired_at <= sign_from)
            continue;
        r->retired_at = sign_from;
        r->unpublish_at = sign_from + max_token_ttl;
        rc = store_key_put(db, r, err);
    }
    if (rc == 0)
        rc = store_key_put(db, row, err);
    return rc;
}

/* Opens a group and lists the keys in it, which locks the key set until the group ends (store.h): every
 * rotation, here or in another process, is a read-modify-write of that set. */
static int keys_lock(struct store_conn *db, struct arena *tmp, struct store_key **rows, size_t *n,
                     struct errbuf *err)
{
    int rc = store_begin(db, err);
    if (rc != 0)
        return rc;
    rc = store_key_list(db, tmp, rows, n, err);
    if (rc != 0)
        store_rollback(db);
    return rc;
}

static int keys_unlock(struct store_conn *db, int rc, struct errbuf *err)
{
    if (rc == 0)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

int keystore_rotate(struct store_conn *db, const char *secret, const char *alg, int64_t now,
                    int64_t publish_delay, int64_t max_token_ttl, char **new_kid, struct errbuf *err)
{
    int rc = check_secret(secret, err);
    if (rc != 0)
        return rc;
    enum jose_alg id = jose_alg_from_cstr(alg);
    if (id == JOSE_ALG_NONE) {
        errbuf_set(err, "keys: unsupported signing alg '%s' (supported: RS256, ES256, EdDSA)",
                   alg ? alg : "");
        return ERR_INVALID;
    }
    if (publish_delay < 0 || max_token_ttl < 0) {
        errbuf_set(err, "keys: publish delay and token lifetime must not be negative");
        return ERR_INVALID;
    }
    unsigned char kek[KEK_LEN];
    derive_kek(secret, kek);
    struct arena *tmp = arena_new(16384);
    struct store_key *rows = NULL;
    size_t n = 0;
    struct store_key row;
    rc = keys_lock(db, tmp, &rows, &n, err);
    if (rc == 0) {
        rc = check_decryptable(kek, tmp, rows, n, now, err);
        if (rc == 0)
            rc = rotate_in_group(kek, db, tmp, rows, n, id, now, now + publish_delay, max_token_ttl, &row,
                                 err);
        rc = keys_unlock(db, rc, err);
    }
    if (rc == 0) {
        log_info("jose.key_rotated", LS("kid", row.kid), LS("alg", row.alg), LI("sign_from", row.sign_from),
                 NULL);
        *new_kid = strdup(row.kid);
        if (*new_kid == NULL)
            abort();
    }
    arena_free(tmp);
    sodium_memzero(kek, sizeof(kek));
    return rc;
}

enum key_rotation keystore_rotation_plan(const struct store_key *rows, size_t n, const char *alg, int64_t now,
                                         int64_t period, int64_t ahead, int64_t *sign_from)
{
    if (period <= 0)
        return KEY_ROTATION_OFF;
    const struct store_key *head = NULL;
    size_t published = 0;
    for (size_t i = 0; i < n; i++) {
        const struct store_key *r = &rows[i];
        if (!published_at(r->unpublish_at, now))
            continue;
        published++;
        /* The head of the chain: the newest key of alg nothing has replaced yet (a rotation sets the
         * retired_at of what it replaces). It may not sign yet (next). */
        if (r->retired_at != 0 || r->alg == NULL || strcmp(r->alg, alg) != 0)
            continue;
        if (head == NULL || key_newer(r->sign_from, r->created_at, r->kid, head->sign_from, head->created_at,
                                      head->kid))
            head = r;
    }
    if (head == NULL)
        return KEY_ROTATION_NO_KEY;
    int64_t next = head->sign_from + period;
    if (now < next - ahead)
        return KEY_ROTATION_NOT_DUE;
    if (published >= KEY_ROTATION_PUBLISHED_MAX)
        return KEY_ROTATION_TOO_MANY_KEYS;
    /* Late (the servers were down at the due time): still announced `ahead` before it signs, so the
     * relying parties' caches have it. */
    *sign_from = next > now + ahead ? next : now + ahead;
    return KEY_ROTATION_DUE;
}

/* Which algs of algs are due now, by the plan, as a bit mask; too many keys is logged. */
static unsigned rotation_due_mask(const struct store_key *rows, size_t n, const char *const *algs,
                                  size_t nalgs, int64_t now, int64_t period, int64_t ahead,
                                  int64_t *sign_from)
{
    unsigned due = 0;
    for (size_t i = 0; i < nalgs && i < 8 * sizeof(due); i++) {
        enum key_rotation r = keystore_rotation_plan(rows, n, algs[i], now, period, ahead, &sign_from[i]);
        if (r == KEY_ROTATION_DUE)
            due |= 1u << i;
        else if (r == KEY_ROTATION_TOO_MANY_KEYS)
            log_warn("jose.key_rotation_skipped", LS("alg", algs[i]),
                     LS("reason", "too many published keys: keys.rotation_period is short for the token "
                                  "lifetimes, which keep retired keys published"),
                     NULL);
    }
    return due;
}

int keystore_rotation_pending(struct store_conn *db, const char *const *algs, size_t nalgs, int64_t now,
                              int64_t period, int64_t ahead, bool *pending, struct errbuf *err)
{
    *pending = false;
    if (period <= 0 || nalgs == 0)
        return 0;
    struct arena *tmp = arena_new(8192);
    struct store_key *rows = NULL;
    size_t n = 0;
    int64_t *from = arena_alloc(tmp, nalgs * sizeof(*from));
    int rc = store_key_list(db, tmp, &rows, &n, err);
    if (rc == 0)
        *pending = rotation_due_mask(rows, n, algs, nalgs, now, period, ahead, from) != 0;
    arena_free(tmp);
    return rc;
}

int keystore_auto_rotate(struct keystore *ks, struct store_conn *db, const char *const *algs, size_t nalgs,
                         int64_t now, int64_t period, int64_t ahead, int64_t max_token_ttl, size_t *rotated,
                         struct errbuf *err)
{
    *rotated = 0;
    if (period <= 0 || nalgs == 0)
        return 0;
    struct arena *tmp = arena_new(16384);
    struct store_key *rows = NULL;
    size_t n = 0;
    int64_t *from = arena_alloc(tmp, nalgs * sizeof(*from));
    struct store_key *made = arena_alloc(tmp, nalgs * sizeof(*made));
    /* The plan is made again under the lock: of instances that all found it due, the first to get the
     * lock rotates, and the others find the key it added and do nothing. */
    int rc = keys_lock(db, tmp, &rows, &n, err);
    if (rc == 0) {
        unsigned due = rotation_due_mask(rows, n, algs, nalgs, now, period, ahead, from);
        if (due != 0)
            rc = check_decryptable(ks->kek, tmp, rows, n, now, err);
        for (size_t i = 0; i < nalgs && rc == 0; i++) {
            if (!(due & (1u << i)))
                continue;
            rc = rotate_in_group(ks->kek, db, tmp, rows, n, jose_alg_from_name(algs[i], strlen(algs[i])), now,
                                 from[i], max_token_ttl, &made[*rotated], err);
            if (rc == 0)
                (*rotated)++;
        }
        rc = keys_unlock(db, rc, err);
    }
    for (size_t i = 0; i < *rotated && rc == 0; i++)
        log_info("jose.key_rotated", LS("kid", made[i].kid), LS("alg", made[i].alg),
                 LI("sign_from", made[i].sign_from), LS("by", "keys.rotation_period"), NULL);
    if (rc != 0)
        *rotated = 0;
    arena_free(tmp);
    return rc;
}

size_t keystore_signing(struct keystore *ks, struct arena *a, int64_t now, struct keystore_info **out)
{
    pthread_rwlock_rdlock(&ks->lock);
    struct keystore_info *v = arena_alloc(a, (ks->set->n + 1) * sizeof(*v));
    size_t n = 0;
    unsigned seen = 0; /* algs done: keys are sorted newest first, so the first eligible one signs */
    for (size_t i = 0; i < ks->set->n; i++) {
        const struct ks_key *k = &ks->set->keys[i];
        if ((seen & (1u << k->alg)) || !signs_at(k->sign_from, k->retired_at, k->unpublish_at, now))
            continue;
        seen |= 1u << k->alg;
        v[n++] = (struct keystore_info){.kid = arena_strdup(a, k->kid),
                                        .alg = jose_alg_name(k->alg),
                                        .state = "current",
                                        .created_at = k->created_at,
                                        .sign_from = k->sign_from,
                                        .retired_at = k->retired_at,
                                        .unpublish_at = k->unpublish_at};
    }
    pthread_rwlock_unlock(&ks->lock);
    *out = v;
    return n;
}

/* 0 stands for "not set" in the store; null says so in JSON. */
static json_t *time_or_null(int64_t t)
{
    return t != 0 ? json_integer(t) : json_null();
}

json_t *keystore_info_json(const struct keystore_info *k)
{
    json_t *o = json_object();
    json_object_set_new(o, "kid", json_string(k->kid));
    json_object_set_new(o, "alg", json_string(k->alg));
    json_object_set_new(o, "state", json_string(k->state));
    json_object_set_new(o, "created_at", json_integer(k->created_at));
    json_object_set_new(o, "sign_from", json_integer(k->sign_from));
    json_object_set_new(o, "retired_at", time_or_null(k->retired_at));
    json_object_set_new(o, "unpublish_at", time_or_null(k->unpublish_at));
    return o;
}

static int info_cmp(const void *x, const void *y)
{
    const struct keystore_info *a = x, *b = y;
    int c = strcmp(a->alg, b->alg);
    if (c != 0)
        return c;
    if (a->sign_from != b->sign_from)
        return a->sign_from < b->sign_from ? -1 : 1;
    return strcmp(a->kid, b->kid);
}

int keystore_list(struct store_conn *db, struct arena *a, int64_t now, struct keystore_info **out, size_t *n,
                  struct errbuf *err)
{
    struct store_key *rows = NULL;
    size_t nrows = 0;
    int rc = store_key_list(db, a, &rows, &nrows, err);
    if (rc != 0)
        return rc;
    struct keystore_info *info = arena_alloc(a, (nrows + 1) * sizeof(*info));
    for (size_t i = 0; i < nrows; i++) {
        const struct store_key *r = &rows[i];
        info[i] = (struct keystore_info){.kid = r->kid,
                                         .alg = r->alg,
                                         .created_at = r->created_at,
                                         .sign_from = r->sign_from,
                                         .retired_at = r->retired_at,
                                         .unpublish_at = r->unpublish_at};
        if (!published_at(r->unpublish_at, now)) {
            info[i].state = "unpublished";
        } else if (r->sign_from > now) {
            info[i].state = "next";
        } else if (!signs_at(r->sign_from, r->retired_at, r->unpublish_at, now)) {
            info[i].state = "retired";
        } else {
            /* Current only if no newer key of the alg signs now; an older eligible key is superseded. */
            info[i].state = "current";
            for (size_t j = 0; j < nrows; j++) {
                const struct store_key *o = &rows[j];
                if (j != i && strcmp(o->alg, r->alg) == 0 &&
                    signs_at(o->sign_from, o->retired_at, o->unpublish_at, now) &&
                    key_newer(o->sign_from, o->created_at, o->kid, r->sign_from, r->created_at, r->kid))
                    info[i].state = "retired";
            }
        }
    }
    qsort(info, nrows, sizeof(*info), info_cmp);
    *out = info;
    *n = nrows;
    return 0;
}

/* ---- other secrets at rest (client secrets of client_secret_jwt) ---- */

int jose_secret_seal(const char *key_secret, const char *label, const void *plain, size_t len, struct arena *a,
                     const unsigned char **out, size_t *out_len, struct errbuf *err)
{
    if (check_secret(key_secret, err) != 0)
        return ERR_INVALID;
    unsigned char kek[KEK_LEN];
    derive_kek(key_secret, kek);
    unsigned char *enc = arena_alloc(a, len + KEY_ENC_OVERHEAD);
    enc[0] = KEY_ENC_VERSION;
    randombytes_buf(enc + 1, KEY_ENC_NONCE);
    unsigned long long clen = 0;
    /* The label (e.g. the client_id) is the additional data: a blob cannot be moved to another row. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(enc + KEY_ENC_HDR, &clen, plain, len, (const unsigned char *)label,
                                               strlen(label), NULL, enc + 1, kek);
    sodium_memzero(kek, sizeof(kek));
    *out = enc;
    *out_len = KEY_ENC_HDR + (size_t)clen;
    return 0;
}

int jose_secret_open(const char *key_secret, const char *label, const unsigned char *enc, size_t len,
                     struct arena *a, const unsigned char **plain, size_t *plain_len, struct errbuf *err)
{
    if (check_secret(key_secret, err) != 0)
        return ERR_INVALID;
    if (enc == NULL || len < KEY_ENC_OVERHEAD || enc[0] != KEY_ENC_VERSION) {
        errbuf_set(err, "sealed secret: unknown format");
        return ERR_INVALID;
    }
    unsigned char kek[KEK_LEN];
    derive_kek(key_secret, kek);
    unsigned char *p = arena_alloc_secret(a, len - KEY_ENC_OVERHEAD + 1);
    unsigned long long plen = 0;
    int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(p, &plen, NULL, enc + KEY_ENC_HDR, len - KEY_ENC_HDR,
                                                        (const unsigned char *)label, strlen(label), enc + 1, kek);
    sodium_memzero(kek, sizeof(kek));
    if (rc != 0) {
        errbuf_set(err, "sealed secret: cannot be decrypted (wrong keys.secret, or moved from another row)");
        return ERR_INVALID;
    }
    p[plen] = '\0';
    *plain = p;
    *plain_len = (size_t)plen;
    return 0;
}
