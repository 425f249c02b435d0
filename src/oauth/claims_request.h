/* claims_request.h: the claims request parameter of the authorization request (OIDC Core §5.5): a JSON
 * object naming, for the userinfo response and for the ID token, individual claims to return, each with
 * null or a request object of essential, value and values (§5.5.1); acr among them (§5.5.1.1). A pure
 * parser (no store, no clock), fuzzed by fuzz/fuzz_claims.c.
 *
 * What it accepts, and where. At the top level `userinfo` and `id_token`, each an object; inside them claim
 * names, each null or an object; inside those `essential` (true or false), `value` (a string, number or
 * boolean) and `values` (a non-empty array of such), not both value and values. Members the parser does not
 * know are ignored where they stand, as §5.5 and §5.5.1 require ("not understood MUST be ignored"); a
 * member it knows at another level is invalid_request: a claim name at the top level (the target was
 * forgotten), `userinfo` or `id_token` inside a target or a claim request, `essential`, `value` or `values`
 * beside the claims instead of inside one's request, a claim name inside a claim's request. So are
 * malformed JSON, a member twice, the wrong types, more than CLAIMS_REQUEST_MAX_CLAIMS claims in one target,
 * and a text longer than CLAIMS_REQUEST_MAX_BYTES. The description says which member, by its path
 * (claims.id_token.acr.values), in RFC 6749 §5.2's character set. */
#ifndef OSTIARY_OAUTH_CLAIMS_REQUEST_H
#define OSTIARY_OAUTH_CLAIMS_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

struct arena;

#define CLAIMS_REQUEST_MAX_BYTES 8192
#define CLAIMS_REQUEST_MAX_CLAIMS 64

enum claims_target { CLAIMS_USERINFO = 0, CLAIMS_ID_TOKEN = 1, CLAIMS_TARGETS = 2 };

/* One requested claim (§5.5.1). */
struct claim_request {
    const char *name;
    bool essential;
    json_t *value;  /* a string, number or boolean, or NULL */
    json_t *values; /* a non-empty array of such, or NULL */
};

struct claims_request {
    struct claim_request *claims[CLAIMS_TARGETS]; /* in the order of the text */
    size_t n[CLAIMS_TARGETS];
};

/* Parses text[0..len) (NUL-terminated or not). 0 with *out, whose members and JSON values live as long as
 * the arena; or -1 with *why, a description in arena memory. */
int claims_request_parse(struct arena *a, const char *text, size_t len, struct claims_request *out,
                         const char **why);

/* The request of claim `name` in `target`, or NULL. */
const struct claim_request *claims_request_find(const struct claims_request *r, enum claims_target target,
                                                const char *name);
/* Whether value or values of c allow the string s (true when c asks for no particular value). */
bool claim_request_allows(const struct claim_request *c, const char *s);

/* The standard claims (OIDC Core §5.1, core/claims.h) requested for `target`, the ones a user has, as a JSON
 * array of their names in the order of the request (a new reference; empty when none). sub, acr and the
 * other claims of the ID token itself are not in it: they are always there. */
json_t *claims_request_user_claims(const struct claims_request *r, enum claims_target target);

/* What a grant remembers of the request (GRANT_CLAIMS of oauth/authz.h): {"userinfo": [...], "id_token":
 * [...]} of claims_request_user_claims(), each member only when not empty; NULL (no reference) when both
 * are, or r is NULL. A new reference. */
json_t *claims_request_grant(const struct claims_request *r);
/* The names of `target` in such an object (borrowed), or NULL. */
json_t *claims_grant_names(json_t *grant, enum claims_target target);

#endif
