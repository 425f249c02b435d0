/* test_dpop.c: proves the pure part of src/oauth/dpop.c: htu normalization (RFC 9449 §4.3 check 9 with RFC
 * 3986 §6.2.2-6.2.3), the ath of RFC 9449's own example (§7.1, figure 13), stateless server nonces (§8), and
 * the verdict on each proof of the fuzz corpus fuzz/corpus/dpop_proof/ (made with jose at the fuzz target's
 * fixed time): valid ones with their jkt, and each refusal with the check it names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "oauth/dpop.h"

static struct arena *a;
#define HARNESS_SETUP() (a = arena_new(16384))
#define HARNESS_TEARDOWN() arena_free(a)
#include "harness.h"

#ifndef OSTIARY_SOURCE_DIR
#define OSTIARY_SOURCE_DIR "."
#endif
#define CORPUS OSTIARY_SOURCE_DIR "/fuzz/corpus/dpop_proof/"
#define NOW 1760000000 /* the time the corpus was made for (fuzz/fuzz_dpop_proof.c) */
#define SECRET "fuzz-nonce-secret-of-at-least-32-chars"

static const char *norm(const char *u)
{
    return dpop_htu_normalize(a, u, strlen(u));
}

TEST(dpop_htu_normalize)
{
    ASSERT_STREQ(norm("https://op.example/token"), "https://op.example/token");
    ASSERT_STREQ(norm("HTTPS://OP.Example:443/token?x=1#f"), "https://op.example/token");
    ASSERT_STREQ(norm("http://op.example:80"), "http://op.example/");
    ASSERT_STREQ(norm("http://op.example:/a"), "http://op.example/a");
    ASSERT_STREQ(norm("https://op.example:8443/a"), "https://op.example:8443/a");
    ASSERT_STREQ(norm("http://[::1]:4000/%7euser/%2f%41"), "http://[::1]:4000/~user/%2FA");
    /* Path case is significant; only the scheme and host are case-insensitive. */
    ASSERT(strcmp(norm("https://op.example/Token"), norm("https://op.example/token")) != 0);
    ASSERT(norm("ftp://op.example/token") == NULL);
    ASSERT(norm("https://user@op.example/token") == NULL);
    ASSERT(norm("https://op.example/%zz") == NULL);
    ASSERT(norm("https://op.example/a b") == NULL);
    ASSERT(norm("https://op.example:99999/") == NULL);
    ASSERT(norm("https:///token") == NULL);
    ASSERT(norm("https://[::1/token") == NULL);
    ASSERT(norm("https://[::1]x/token") == NULL);
    ASSERT(norm("") == NULL);
}

TEST(dpop_ath_rfc9449_example)
{
    const char *at = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    ASSERT_STREQ(dpop_ath(a, at, strlen(at)), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
}

TEST(dpop_nonce_slots)
{
    const char *n = dpop_nonce_make(a, SECRET, NOW);
    ASSERT(dpop_nonce_valid(SECRET, n, strlen(n), NOW));
    ASSERT(dpop_nonce_valid(SECRET, n, strlen(n), NOW + DPOP_NONCE_SLOT)); /* the next slot */
    ASSERT(!dpop_nonce_valid(SECRET, n, strlen(n), NOW + 2 * DPOP_NONCE_SLOT));
    ASSERT(!dpop_nonce_valid(SECRET, n, strlen(n), NOW - DPOP_NONCE_SLOT)); /* made in the future */
    ASSERT(!dpop_nonce_valid("another secret of at least 32 chars!", n, strlen(n), NOW));
    char forged[128];
    snprintf(forged, sizeof(forged), "%s", n);
    forged[strlen(forged) - 1] ^= 1;
    ASSERT(!dpop_nonce_valid(SECRET, forged, strlen(forged), NOW));
    ASSERT(!dpop_nonce_valid(SECRET, "", 0, NOW));
    ASSERT(!dpop_nonce_valid(SECRET, ".", 1, NOW));
    ASSERT(!dpop_nonce_valid(SECRET, "99999999999999999999.x", 22, NOW));
}

/* The verdict on a corpus file: "<htu>\n<method>[!]\n<proof>", as fuzz_dpop_proof.c reads it (a GET is a
 * resource request, with an access token). */
static enum dpop_verdict corpus_verdict(const char *name, const char **why, struct dpop_proof *out)
{
    char path[512];
    snprintf(path, sizeof(path), CORPUS "%s", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return (enum dpop_verdict)99;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *htu = buf, *method = strchr(htu, '\n');
    *method++ = '\0';
    char *proof = strchr(method, '\n');
    *proof++ = '\0';
    size_t ml = strlen(method);
    bool nonce = ml > 0 && method[ml - 1] == '!';
    if (nonce)
        method[ml - 1] = '\0';
    struct dpop_expect x = {0};
    x.htm = method;
    x.htu = htu;
    x.access_token = strcmp(method, "GET") == 0 ? "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" : NULL;
    x.nonce_secret = nonce ? SECRET : NULL;
    x.now = NOW;
    x.max_age = 60;
    return dpop_proof_verify(a, proof, strlen(proof), &x, out, why);
}

TEST(dpop_corpus_verdicts)
{
    static const struct {
        const char *file;
        enum dpop_verdict v;
        const char *why; /* a part of the description */
    } rows[] = {
        {"es256_valid", DPOP_VALID, NULL},
        {"eddsa_valid", DPOP_VALID, NULL},
        {"ps256_valid", DPOP_VALID, NULL},
        {"htu_normalized", DPOP_VALID, NULL},
        {"htu_ipv6_port", DPOP_VALID, NULL},
        {"ath_resource", DPOP_VALID, NULL},
        {"htu_mismatch", DPOP_INVALID, "htu"},
        {"htm_mismatch", DPOP_INVALID, "htm"},
        {"ath_wrong", DPOP_INVALID, "ath"},
        {"iat_old", DPOP_INVALID, "too old"},
        {"iat_future", DPOP_INVALID, "future"},
        {"nonce_missing", DPOP_NONCE, "nonce is required"},
        {"nonce_forged", DPOP_NONCE, "not current"},
        {"private_jwk", DPOP_INVALID, "jwk is not a public signature key"},
        {"oct_jwk", DPOP_INVALID, "alg"},
        {"typ_jwt", DPOP_INVALID, "typ"},
        {"alg_none", DPOP_INVALID, "well-formed"}, /* an empty signature is no JWS */
        {"hs256", DPOP_INVALID, "alg"},
        {"no_jwk", DPOP_INVALID, "no jwk"},
        {"truncated", DPOP_INVALID, "well-formed"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *why = NULL;
        struct dpop_proof p;
        enum dpop_verdict v = corpus_verdict(rows[i].file, &why, &p);
        if (v != rows[i].v || (rows[i].why != NULL && (why == NULL || strstr(why, rows[i].why) == NULL)))
            fprintf(stderr, "  %s: verdict %d (%s)\n", rows[i].file, (int)v, why != NULL ? why : "-");
        ASSERT_EQ(v, rows[i].v);
        if (v == DPOP_VALID) {
            ASSERT_EQ(strlen(p.jkt), DPOP_JKT_LEN);
            ASSERT_STREQ(p.jti, "j1");
            ASSERT_EQ(p.iat, NOW);
            ASSERT_EQ(p.replay_exp, NOW + 61);
        } else {
            ASSERT(strstr(why, rows[i].why) != NULL);
        }
    }
}

TESTS(T(dpop_htu_normalize), T(dpop_ath_rfc9449_example), T(dpop_nonce_slots), T(dpop_corpus_verdicts))
