/* pkce.h: Proof Key for Code Exchange (RFC 7636): syntax of code_challenge and code_verifier, and the
 * check at the token endpoint (§4.6), both in constant time. Used by authorize.c (challenge syntax) and
 * grant_code.c (verification). Pure functions: no store, no clock, no allocation. */
#ifndef OSTIARY_OAUTH_PKCE_H
#define OSTIARY_OAUTH_PKCE_H

#include <stdbool.h>
#include <stddef.h>

#include "oauth/error.h"

#define PKCE_VERIFIER_MIN 43
#define PKCE_VERIFIER_MAX 128
#define PKCE_S256_CHALLENGE_LEN 43 /* base64url of 32 bytes, no padding */

/* True if s[0..n) is a syntactically valid code_verifier (RFC 7636 §4.1): 43 to 128 characters of
 * [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
bool pkce_verifier_valid(const char *s, size_t n);

/* True if `challenge` is a syntactically valid code_challenge for `method` (RFC 7636 §4.2): for "S256"
 * exactly 43 base64url characters (the encoding of a SHA-256 digest), for "plain" the verifier syntax.
 * Any other method (including NULL) is false: callers check method support first. NULL challenge: false. */
bool pkce_challenge_valid(const char *method, const char *challenge);

/* Checks `verifier` against the stored challenge (RFC 7636 §4.6). The comparison runs in constant time
 * (on the base64url SHA-256 for S256, on the strings for plain; lengths are not secret). Returns
 * OAUTH_OK, or invalid_grant with a fixed description: malformed verifier, unknown method, or mismatch.
 * The descriptions never echo the verifier or the challenge. */
struct oauth_error pkce_verify(const char *method, const char *challenge, const char *verifier);

#endif
