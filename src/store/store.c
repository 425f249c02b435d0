/* store.c: backend selection by DSN scheme and the shared hashing helpers (secrets, JWT row keys; see
 * store.h). */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/metrics.h"
#include "core/banned.h"

static const struct store_ops *const backends[] = {&store_sqlite_ops};

int store_open(const char *dsn, struct store **out, struct errbuf *err)
{
    return store_open_flags(dsn, 0, out, err);
}

int store_open_flags(const char *dsn, unsigned flags, struct store **out, struct errbuf *err)
{
    const char *colon = strchr(dsn, ':');
    if (colon == NULL) {
        errbuf_set(err, "storage '%s': expected <scheme>:<location>, e.g. sqlite:./var/ostiary.db", dsn);
        return ERR_INVALID;
    }
    size_t n = (size_t)(colon - dsn);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i]->scheme) == n && memcmp(backends[i]->scheme, dsn, n) == 0)
            return backends[i]->open(colon + 1, flags, out, err);
    }
    errbuf_set(err, "storage: unsupported scheme '%.*s' (supported: sqlite)", (int)n, dsn);
    return ERR_INVALID;
}

#define STORE_OP_NAME_(name) #name,
const char *const store_op_names[STORE_OP__COUNT] = {STORE_OPS(STORE_OP_NAME_)};
#undef STORE_OP_NAME_
_Static_assert(STORE_OP__COUNT <= METRICS_STORE_OPS_MAX, "core/metrics.h counts every store op");

int store_observe_(enum store_op op, int64_t t0, int rc)
{
    metrics_store_call(op, clock_mono_us() - t0, rc < 0 && rc != ERR_NOTFOUND && rc != ERR_CONFLICT);
    return rc;
}

void store_hash(const void *secret, size_t n, uint8_t out[STORE_HASH_LEN])
{
    SHA256(secret, n, out);
}

void store_jti_key(const char *jti, uint8_t out[STORE_HASH_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, "jti:", 4) != 1 ||
        EVP_DigestUpdate(ctx, jti, strlen(jti)) != 1 || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        abort(); /* only on allocation failure: the project's policy (core/arena.h) */
    EVP_MD_CTX_free(ctx);
}
