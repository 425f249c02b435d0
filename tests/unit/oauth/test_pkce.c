/* test_pkce.c: proves src/oauth/pkce.c: the RFC 7636 Appendix B vector, S256 and plain verification,
 * verifier syntax (§4.1: 43-128 unreserved characters) and challenge syntax (§4.2), and that every
 * failure is invalid_grant. */
#include <string.h>

#include "oauth/pkce.h"

#include "harness.h"

/* RFC 7636 Appendix B. */
static const char *const rfc_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char *const rfc_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(pkce_rfc7636_appendix_b)
{
    ASSERT(pkce_challenge_valid("S256", rfc_challenge));
    ASSERT(pkce_verifier_valid(rfc_verifier, strlen(rfc_verifier)));
    struct oauth_error e = pkce_verify("S256", rfc_challenge, rfc_verifier);
    ASSERT_EQ(e.code, OAUTH_ERR_NONE);
}

TEST(pkce_s256_mismatch)
{
    /* One character changed in the verifier, then in the challenge. */
    char v[64];
    strncpy(v, rfc_verifier, sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    v[0] = 'e';
    struct oauth_error e = pkce_verify("S256", rfc_challenge, v);
    ASSERT_EQ(e.code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_STREQ(e.description, "code_verifier does not match the code_challenge");
    char c[64];
    strncpy(c, rfc_challenge, sizeof(c) - 1);
    c[sizeof(c) - 1] = '\0';
    c[42] = 'N';
    ASSERT_EQ(pkce_verify("S256", c, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    /* The verifier itself as an S256 challenge (a client that forgot to hash) does not pass. */
    ASSERT_EQ(pkce_verify("S256", rfc_verifier, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    /* A challenge with padding is not the same string. */
    char padded[64];
    strncpy(padded, rfc_challenge, sizeof(padded) - 2);
    padded[43] = '=';
    padded[44] = '\0';
    ASSERT_EQ(pkce_verify("S256", padded, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
}

TEST(pkce_plain)
{
    ASSERT_EQ(pkce_verify("plain", rfc_verifier, rfc_verifier).code, OAUTH_ERR_NONE);
    ASSERT_EQ(pkce_verify("plain", rfc_challenge, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    /* A prefix is not equal. */
    char v[130];
    memset(v, 'a', 60);
    v[60] = '\0';
    ASSERT_EQ(pkce_verify("plain", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", v).code,
              OAUTH_ERR_INVALID_GRANT);
}

TEST(pkce_verifier_syntax)
{
    char v[200];
    memset(v, 'A', sizeof(v));
    ASSERT(!pkce_verifier_valid(v, 42));
    ASSERT(pkce_verifier_valid(v, 43));
    ASSERT(pkce_verifier_valid(v, 128));
    ASSERT(!pkce_verifier_valid(v, 129));
    ASSERT(!pkce_verifier_valid(NULL, 0));
    ASSERT(!pkce_verifier_valid("", 0));
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    ASSERT(pkce_verifier_valid(all, strlen(all)));
    static const char bad[] = {'+', '/', '=', ' ', '%', '!', '*', '\'', '(', ')', ':', '@', '\n', (char)0xc3};
    for (size_t i = 0; i < sizeof(bad); i++) {
        memset(v, 'a', 50);
        v[20] = bad[i];
        ASSERT(!pkce_verifier_valid(v, 50));
    }
}

TEST(pkce_malformed_verifier_is_invalid_grant)
{
    const char *want =
        "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)";
    struct oauth_error e = pkce_verify("S256", rfc_challenge, "short");
    ASSERT_EQ(e.code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_STREQ(e.description, want);
    /* A 43-character verifier with a character outside the alphabet, even if its hash would match. */
    const char *plus = "dBjftJeZ4CVP+mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    e = pkce_verify("plain", plus, plus);
    ASSERT_EQ(e.code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_STREQ(e.description, want);
    char v[200];
    memset(v, 'x', 129);
    v[129] = '\0';
    ASSERT_EQ(pkce_verify("plain", v, v).code, OAUTH_ERR_INVALID_GRANT);
    v[128] = '\0';
    ASSERT_EQ(pkce_verify("plain", v, v).code, OAUTH_ERR_NONE);
    ASSERT_EQ(pkce_verify("S256", rfc_challenge, NULL).code, OAUTH_ERR_INVALID_GRANT);
}

TEST(pkce_unknown_method)
{
    ASSERT_EQ(pkce_verify("S512", rfc_challenge, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_EQ(pkce_verify("s256", rfc_challenge, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_EQ(pkce_verify(NULL, rfc_challenge, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
    ASSERT_EQ(pkce_verify("S256", NULL, rfc_verifier).code, OAUTH_ERR_INVALID_GRANT);
}

TEST(pkce_challenge_syntax)
{
    ASSERT(pkce_challenge_valid("S256", rfc_challenge));
    ASSERT(!pkce_challenge_valid("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));   /* 42 */
    ASSERT(!pkce_challenge_valid("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=")); /* padded */
    ASSERT(!pkce_challenge_valid("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));  /* base64 */
    ASSERT(!pkce_challenge_valid("S256", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw.cM"));  /* not b64url */
    ASSERT(!pkce_challenge_valid("S256", ""));
    ASSERT(!pkce_challenge_valid("S256", NULL));
    /* plain: the verifier syntax. */
    ASSERT(pkce_challenge_valid("plain", rfc_verifier));
    ASSERT(pkce_challenge_valid("plain", "abc.def~ghi_jkl-mno.pqr~stu_vwx-yz0.123~456"));
    ASSERT(!pkce_challenge_valid("plain", "too-short"));
    ASSERT(!pkce_challenge_valid("plain", "abc.def~ghi_jkl-mno.pqr~stu_vwx-yz0.123~45 "));
    /* Unknown methods are never valid. */
    ASSERT(!pkce_challenge_valid("S512", rfc_challenge));
    ASSERT(!pkce_challenge_valid("", rfc_challenge));
    ASSERT(!pkce_challenge_valid(NULL, rfc_challenge));
}

TESTS(T(pkce_rfc7636_appendix_b), T(pkce_s256_mismatch), T(pkce_plain), T(pkce_verifier_syntax),
      T(pkce_malformed_verifier_is_invalid_grant), T(pkce_unknown_method), T(pkce_challenge_syntax))
