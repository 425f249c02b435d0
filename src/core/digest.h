/* digest.h: SHA-256 (and SHA-512) on the hot paths (token hashes, PKCE, JWS signing input, key thumbprints).
 * OpenSSL 3's one-shot SHA256() fetches the algorithm by name on every call, under the library's global
 * lock: 0.8 µs for a 43-byte token on one thread, and the workers serialise on that lock. Here the
 * algorithm is fetched once per process, and each thread digests with one context of its own. */
#ifndef OSTIARY_DIGEST_H
#define OSTIARY_DIGEST_H

#include <stddef.h>

#include <openssl/evp.h>

#define SHA256_LEN 32
#define SHA512_LEN 64

/* out = SHA-256 of the n bytes at in. Aborts only if OpenSSL cannot hash at all (allocation failure). */
void sha256(const void *in, size_t n, unsigned char out[SHA256_LEN]);
/* out = SHA-512 of the n bytes at in (EdDSA's at_hash and c_hash). */
void sha512(const void *in, size_t n, unsigned char out[SHA512_LEN]);
/* The same over two pieces, a || b, without joining them first. */
void sha256_2(const void *a, size_t na, const void *b, size_t nb, unsigned char out[SHA256_LEN]);
/* The SHA-256 method fetched once, for OpenSSL calls that take one (signing contexts, HMAC). */
const EVP_MD *sha256_md(void);

#endif
