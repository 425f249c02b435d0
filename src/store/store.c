/* store.c: what every backend shares: the hashing of secrets and of JWT row keys (see store.h). Below
 * the backends; choosing one by DSN is backends.c's job. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include "core/banned.h"

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
