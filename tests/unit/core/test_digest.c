/* test_digest.c: proves src/core/digest.c against the FIPS 180-2 test vectors (SHA-256 and SHA-512 of
 * "abc" and of the empty string, the two-block SHA-256 message), that sha256_2 is the digest of the two
 * pieces joined, that the method fetched is SHA-256, and that threads hashing at once (each with its context,
 * freed when it ends: the sanitizer build would report a leak) get the same digests. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/digest.h"

#include "harness.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

TEST(sha256_vectors)
{
    unsigned char md[SHA256_LEN];
    char h[2 * SHA256_LEN + 1];
    sha256("abc", 3, md);
    hex(md, sizeof(md), h);
    ASSERT_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256("", 0, md);
    hex(md, sizeof(md), h);
    ASSERT_STREQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256(two, strlen(two), md);
    hex(md, sizeof(md), h);
    ASSERT_STREQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_2_is_the_joined_digest)
{
    unsigned char a[SHA256_LEN], b[SHA256_LEN];
    sha256_2("jti:", 4, "abc", 3, a);
    sha256("jti:abc", 7, b);
    ASSERT(memcmp(a, b, sizeof(a)) == 0);
    sha256_2("abc", 3, "", 0, a);
    sha256("abc", 3, b);
    ASSERT(memcmp(a, b, sizeof(a)) == 0);
}

TEST(sha512_vectors)
{
    unsigned char md[SHA512_LEN];
    char h[2 * SHA512_LEN + 1];
    sha512("abc", 3, md);
    hex(md, sizeof(md), h);
    ASSERT_STREQ(h, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(sha256_md_is_sha256)
{
    ASSERT_EQ(EVP_MD_get_size(sha256_md()), SHA256_LEN);
    ASSERT_STREQ(EVP_MD_get0_name(sha256_md()), "SHA2-256");
}

static void *hash_many(void *arg)
{
    (void)arg;
    static const unsigned char want[SHA256_LEN] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    unsigned char md[SHA256_LEN];
    for (int i = 0; i < 2000; i++) {
        if (i % 2)
            sha256("abc", 3, md);
        else
            sha256_2("a", 1, "bc", 2, md);
        if (memcmp(md, want, sizeof(md)) != 0)
            return (void *)1;
    }
    return NULL;
}

TEST(threads_hash_alike)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, hash_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        ASSERT(bad == NULL);
    }
}

TESTS(T(sha256_vectors), T(sha256_2_is_the_joined_digest), T(sha512_vectors), T(sha256_md_is_sha256), T(threads_hash_alike))
