/* digest.c: SHA-256 and SHA-512 with the methods fetched once (see digest.h). */
#include "core/digest.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/banned.h"

static EVP_MD *md, *md512;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
    md512 = EVP_MD_fetch(NULL, "SHA512", NULL);
}

const EVP_MD *sha256_md(void)
{
    pthread_once(&md_once, md_fetch);
    /* Without the explicit fetch (it cannot fail with the default provider loaded), the implicit one. */
    return md != NULL ? md : EVP_sha256();
}

void sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[SHA256_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex2(ctx, sha256_md(), NULL) != 1 || EVP_DigestUpdate(ctx, a, na) != 1 ||
        EVP_DigestUpdate(ctx, b, nb) != 1 || EVP_DigestFinal_ex(ctx, out, NULL) != 1)
        abort(); /* only on allocation failure: the project's policy (core/arena.h) */
    EVP_MD_CTX_free(ctx);
}

void sha256(const void *in, size_t n, unsigned char out[SHA256_LEN])
{
    if (EVP_Digest(in, n, out, NULL, sha256_md(), NULL) != 1)
        abort(); /* only on allocation failure */
}

void sha512(const void *in, size_t n, unsigned char out[SHA512_LEN])
{
    pthread_once(&md_once, md_fetch);
    if (EVP_Digest(in, n, out, NULL, md512 != NULL ? md512 : EVP_sha512(), NULL) != 1)
        abort(); /* only on allocation failure */
}
