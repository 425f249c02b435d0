/* pkce.c: PKCE (RFC 7636 §4.1-4.2 syntax, §4.6 verification). Only S256 and plain exist (§4.2); which
 * of them a client may use is the authorization endpoint's decision (client->pkce_methods). */
#include "oauth/pkce.h"

#include <string.h>

#include <openssl/sha.h>

#include "core/digest.h"
#include "core/str.h"
#include "core/banned.h"

/* RFC 3986 §2.3 unreserved characters, the code_verifier alphabet (RFC 7636 §4.1). */
static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

bool pkce_verifier_valid(const char *s, size_t n)
{
    if (s == NULL || n < PKCE_VERIFIER_MIN || n > PKCE_VERIFIER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!unreserved((unsigned char)s[i]))
            return false;
    return true;
}

bool pkce_challenge_valid(const char *method, const char *challenge)
{
    if (method == NULL || challenge == NULL)
        return false;
    size_t n = strlen(challenge);
    if (strcmp(method, "plain") == 0)
        return pkce_verifier_valid(challenge, n);
    return strcmp(method, "S256") == 0 && n == PKCE_S256_CHALLENGE_LEN && b64url_span(challenge, n) == n;
}

struct oauth_error pkce_verify(const char *method, const char *challenge, const char *verifier)
{
    size_t vlen = verifier != NULL ? strlen(verifier) : 0;
    if (!pkce_verifier_valid(verifier, vlen))
        return OAUTH_ERROR(INVALID_GRANT, "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ "
                                          "(RFC 7636 section 4.1)");
    if (challenge == NULL || method == NULL)
        return OAUTH_ERROR(INVALID_GRANT, "code_verifier does not match the code_challenge");
    bool ok;
    if (strcmp(method, "S256") == 0) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        char enc[PKCE_S256_CHALLENGE_LEN]; /* compared in place: no arena, no NUL */
        sha256(verifier, vlen, md);
        b64url_put(enc, md, sizeof(md));
        ok = ct_eq(enc, PKCE_S256_CHALLENGE_LEN, challenge, strlen(challenge));
    } else if (strcmp(method, "plain") == 0) {
        ok = ct_eq(verifier, vlen, challenge, strlen(challenge));
    } else {
        return OAUTH_ERROR(INVALID_GRANT, "the code_challenge_method of this code is not supported");
    }
    if (!ok)
        return OAUTH_ERROR(INVALID_GRANT, "code_verifier does not match the code_challenge");
    return OAUTH_OK;
}
