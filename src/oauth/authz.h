/* authz.h: what the front channel (authorize.c, the login/consent pages) hands to the back channel
 * (the authorization_code and refresh_token grants, the ID token): the validated authorization request
 * and the grant it produced. The authorization code row (store kind STORE_TOKEN_CODE) carries:
 *   client_id, sub (user id), scope (granted, space-separated), aud (API identifier or NULL),
 *   grant_id (new random id: the code and every token it yields share it), exp = now + tokens.code_ttl,
 *   data = JSON object {
 *     "redirect_uri": string (as sent in the request; "" when the request omitted it),
 *     "code_challenge": string or absent, "code_challenge_method": "S256"|"plain" or absent,
 *     "nonce": string or absent, "auth_time": int, "sid": string (session id for the `sid` claim),
 *     "acr": string or absent, "amr": ["pwd"], "offline": bool (a refresh token may be issued),
 *     "claims_in_id_token": bool (response_type had no access token: put scope claims in the ID token),
 *     "claims": GRANT_CLAIMS or absent,
 *     "dpop_jkt": string or absent (RFC 9449 §10: the code is redeemed only with a proof of that key)
 *   }
 * A refresh token row (STORE_TOKEN_REFRESH): client_id, sub, scope, aud, grant_id (the family), exp =
 *   now + tokens.refresh_token_ttl, data = {"auth_time": int, "sid": string, "acr"?, "amr": [...],
 *   "claims": GRANT_CLAIMS or absent, "jkt"?: the DPoP key a public client's refresh tokens are bound to
 *   (RFC 9449 §5)}
 * An access token row of a user's grant (STORE_TOKEN_ACCESS: the opaque token's, or a JWT's keyed by its
 *   jti): data = {"claims": GRANT_CLAIMS} when the grant has them, and for an opaque DPoP-bound token
 *   "cnf": {"jkt": ...} (RFC 9449 §6); else none.
 * GRANT_CLAIMS: what the claims request parameter (OIDC Core §5.5) asked for and userinfo and the ID tokens
 *   of the grant release beside the claims of its scopes: {"userinfo": [claim names], "id_token": [claim
 *   names]}, each present when not empty, only standard claims (claims_request_user_claims). The access
 *   token keeps them in its row, which userinfo reads; a JWT never carries them. */
#ifndef OSTIARY_OAUTH_AUTHZ_H
#define OSTIARY_OAUTH_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

struct arena;
struct worker;
struct client;
struct resource;
struct store_user;
struct claims_request;

enum response_mode { RESPONSE_MODE_QUERY = 0, RESPONSE_MODE_FRAGMENT, RESPONSE_MODE_FORM_POST };

enum prompt_flags {
    PROMPT_NONE = 1 << 0,
    PROMPT_LOGIN = 1 << 1,
    PROMPT_CONSENT = 1 << 2,
    PROMPT_SELECT_ACCOUNT = 1 << 3,
};

/* A validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636, RFC 8707). */
struct authz_request {
    const char *client_id;
    const char *redirect_uri;        /* the URI responses go to (the registered one when omitted) */
    bool redirect_uri_given;         /* false when the request omitted it (RFC 6749 §3.1.2.3) */
    const char *response_type;       /* canonical: "code", "code id_token", ... (grant_table.h) */
    unsigned response_parts;         /* enum response_part flags of response_type */
    enum response_mode response_mode;
    const char *scope;               /* requested, space-separated */
    const char *state, *nonce;
    const char *code_challenge, *code_challenge_method;
    unsigned prompt;                 /* enum prompt_flags */
    int64_t max_age;                 /* -1 when absent */
    const char *login_hint, *id_token_hint, *ui_locales, *acr_values;
    const char *resource;            /* API identifier (resource= / audience= / API scopes), or NULL */
    const char *claims;              /* the claims parameter (OIDC Core §5.5), its text as sent, or NULL */
    struct claims_request *claims_req; /* ...parsed (claims_request.h), or NULL; not serialized */
    const char *dpop_jkt;            /* RFC 9449 §10: the DPoP key the code is bound to, or NULL */
    bool request_object;             /* its parameters came from a verified request object (RFC 9101) */
};

/* The ID token (OIDC Core §2, §3.1.3.6), signed with the client's id_token_signed_response_alg.
 * claims (optional) are extra claims merged in (scope claims when no access token is issued). */
struct id_token_req {
    const struct client *client;
    const char *sub, *nonce, *sid, *acr;
    json_t *amr;                     /* array or NULL */
    int64_t auth_time, now;
    const char *access_token;        /* for at_hash, or NULL */
    const char *code;                /* for c_hash, or NULL */
    const char *state;               /* for s_hash (FAPI 1.0 Advanced §5.2.2.1), or NULL */
    json_t *claims;                  /* borrowed, or NULL */
};
/* Returns the compact JWS in arena memory, or NULL with err set. */
char *id_token_issue(struct worker *w, struct arena *a, const struct id_token_req *r, struct errbuf *err);

/* An id_token_hint (OIDC Core §3.1.2.1; RP-Initiated Logout §2): only an ID token this issuer issued is
 * one. It must carry our signature, the header typ "JWT" that id_token_issue() writes (or none), iss =
 * our issuer, aud a client id (one string, as issued; azp, if present, the same), a string sub and
 * integer iat and exp. Not checked: exp (an expired ID token is still a hint) and whether the client
 * still exists (the caller's business). Anything else, an access token (typ at+jwt) in particular, is
 * refused. 0 with *claims (freed with the arena), or -1. */
int id_token_hint_verify(struct worker *w, struct arena *a, const char *hint, json_t **claims);

#endif
