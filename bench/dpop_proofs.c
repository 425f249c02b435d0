/* dpop_proofs.c: writes N DPoP proofs (RFC 9449 §4.2), one per line, for the cc_es256_dpop scenario of
 * bench/run.sh: one P-256 key, header {"typ":"dpop+jwt","alg":"ES256","jwk":{...}}, claims htm POST, htu the
 * URL given, iat now and a unique jti each, so that every request of the run carries a fresh proof (the
 * server spends each jti once). Made before the run, so wrk's client side does no signing while measuring.
 *   cc -O2 -o dpop_proofs bench/dpop_proofs.c -lcrypto
 *   ./dpop_proofs http://127.0.0.1:4310/token 100000 > proofs.txt */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t b64url(char *out, const unsigned char *in, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = t[v & 63];
    }
    out[o] = '\0';
    return o;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s HTU COUNT\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char pub[65];
    size_t publen = 0;
    if (k == NULL ||
        !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &publen) || publen != 65)
        return 1;
    char x[64], y[64], hdr[256], hdr64[400], pay[512], pay64[700], sig64[100], jti[24];
    b64url(x, pub + 1, 32);
    b64url(y, pub + 33, 32);
    snprintf(hdr, sizeof(hdr),
             "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\","
             "\"x\":\"%s\",\"y\":\"%s\"}}",
             x, y);
    b64url(hdr64, (const unsigned char *)hdr, strlen(hdr));
    long now = (long)time(NULL);
    for (long i = 0; i < count; i++) {
        unsigned char r[12];
        RAND_bytes(r, sizeof(r));
        b64url(jti, r, sizeof(r));
        int n = snprintf(pay, sizeof(pay), "{\"htm\":\"POST\",\"htu\":\"%s\",\"iat\":%ld,\"jti\":\"%s\"}",
                         argv[1], now, jti);
        b64url(pay64, (const unsigned char *)pay, (size_t)n);
        char input[1200];
        int in = snprintf(input, sizeof(input), "%s.%s", hdr64, pay64);
        unsigned char der[80], raw[64];
        size_t derlen = sizeof(der);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
            EVP_DigestSign(md, der, &derlen, (const unsigned char *)input, (size_t)in) != 1)
            return 1;
        EVP_MD_CTX_free(md);
        /* DER ECDSA-Sig-Value to JWS's raw R || S (RFC 7518 §3.4). */
        const unsigned char *dp = der;
        ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &dp, (long)derlen);
        if (s == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 32, 32) != 32)
            return 1;
        ECDSA_SIG_free(s);
        b64url(sig64, raw, 64);
        printf("%s.%s\n", input, sig64);
    }
    EVP_PKEY_free(k);
    return 0;
}
