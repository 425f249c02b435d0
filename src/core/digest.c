/* digest.c: SHA-256 and SHA-512 with the methods fetched once (see digest.h). */
#include "core/digest.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/banned.h"

static EVP_MD *md, *md512;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
/* Each thread hashes with one context of its own, initialised again for every digest: a context made and
 * freed per digest (EVP_Digest) took 170 ns for a token's hash, a reused one 105 ns. Freed with the thread
 * (the key's destructor); the main thread's lives as long as the process. */
static pthread_key_t ctx_key;
static __thread EVP_MD_CTX *thread_ctx;

static void ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void md_fetch(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
    md512 = EVP_MD_fetch(NULL, "SHA512", NULL);
    if (pthread_key_create(&ctx_key, ctx_free) != 0)
        abort();
}

/* This thread's context, set up for SHA-256. */
static EVP_MD_CTX *sha256_begin(void)
{
    const EVP_MD *m = sha256_md();
    EVP_MD_CTX *ctx = thread_ctx;
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        if (ctx == NULL || pthread_setspecific(ctx_key, ctx) != 0)
            abort(); /* only on allocation failure: the project's policy (core/arena.h) */
        thread_ctx = ctx;
    }
    if (EVP_DigestInit_ex2(ctx, m, NULL) != 1)
        abort();
    return ctx;
}

const EVP_MD *sha256_md(void)
{
    pthread_once(&md_once, md_fetch);
    /* Without the explicit fetch (it cannot fail with the default provider loaded), the implicit one. */
    return md != NULL ? md : EVP_sha256();
}

void sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[SHA256_LEN])
{
    EVP_MD_CTX *ctx = sha256_begin();
    if (EVP_DigestUpdate(ctx, a, na) != 1 || EVP_DigestUpdate(ctx, b, nb) != 1 ||
        EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        abort(); /* only on allocation failure: the project's policy (core/arena.h) */
}

void sha256(const void *in, size_t n, unsigned char out[SHA256_LEN])
{
    EVP_MD_CTX *ctx = sha256_begin();
    if (EVP_DigestUpdate(ctx, in, n) != 1 || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        abort(); /* only on allocation failure */
}

void sha512(const void *in, size_t n, unsigned char out[SHA512_LEN])
{
    pthread_once(&md_once, md_fetch);
    if (EVP_Digest(in, n, out, NULL, md512 != NULL ? md512 : EVP_sha512(), NULL) != 1)
        abort(); /* only on allocation failure */
}
