/* grant_code.c: the authorization_code grant (RFC 6749 §4.1.3; OIDC Core §3.1.3): code redemption bound
 * to the client, the redirect_uri and the PKCE challenge (RFC 7636 §4.6), single use with replay
 * revocation (RFC 6749 §4.1.2, §10.5), then the access token, the refresh token (per the client's
 * refresh_token_policy) and the ID token; with a DPoP proof (RFC 9449 §5, §10) the access token, and a public
 * client's refresh token, are bound to its key. The code row format is authz.h's. */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/authz.h"
#include "oauth/claims_request.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/grants.h"
#include "oauth/pkce.h"
#include "oauth/tokens.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

#define CODE_INVALID "authorization code is invalid, expired or already used"
#define REDIRECT_MISMATCH "redirect_uri does not match the one of the authorization request"

/* RFC 6749 §4.1.3: redirect_uri is required, and must be identical, when the authorization request had
 * one. When it was omitted (one registered URI), the request may omit it or repeat a registered one. */
static struct oauth_error check_redirect_uri(const struct client *c, const struct token_req *tr, json_t *data)
{
    const char *want = json_string_value(json_object_get(data, "redirect_uri"));
    if (want != NULL && want[0] != '\0') {
        if (str_is_null(tr->redirect_uri))
            return OAUTH_ERROR(INVALID_GRANT, "redirect_uri is required: the authorization request "
                                              "included one (RFC 6749 section 4.1.3)");
        if (!str_eq_c(tr->redirect_uri, want))
            return OAUTH_ERROR(INVALID_GRANT, REDIRECT_MISMATCH);
        return OAUTH_OK;
    }
    if (str_is_null(tr->redirect_uri))
        return OAUTH_OK;
    for (size_t i = 0; i < c->n_redirect_uris; i++)
        if (str_eq_c(tr->redirect_uri, c->redirect_uris[i]))
            return OAUTH_OK;
    return OAUTH_ERROR(INVALID_GRANT, REDIRECT_MISMATCH);
}

/* RFC 7636 §4.6, and RFC 9700 §2.1.1: a verifier without a challenge is a downgrade attempt (the
 * attacker's code injected into a PKCE-less session must not be redeemable by a verifier-sending
 * client, and vice versa). */
static struct oauth_error check_pkce(struct http_req *req, const struct client *c, const struct token_req *tr,
                                     json_t *data)
{
    const char *challenge = json_string_value(json_object_get(data, "code_challenge"));
    if (challenge != NULL && challenge[0] == '\0')
        challenge = NULL;
    if (challenge == NULL) {
        if (!str_is_null(tr->code_verifier))
            return OAUTH_ERROR(INVALID_GRANT,
                               "code_verifier was sent but the authorization request had no code_challenge");
        /* The authorization endpoint enforces require_pkce; this is its backstop. */
        if (c->require_pkce)
            return OAUTH_ERROR(INVALID_GRANT, "this client must use PKCE (RFC 7636)");
        return OAUTH_OK;
    }
    if (str_is_null(tr->code_verifier))
        return OAUTH_ERROR(INVALID_GRANT, "code_verifier is required: the authorization request had a "
                                          "code_challenge (RFC 7636 section 4.5)");
    const char *method = json_string_value(json_object_get(data, "code_challenge_method"));
    if (method == NULL)
        method = "plain"; /* RFC 7636 §4.3: the default when the request named none */
    return pkce_verify(method, challenge, tr->code_verifier.p);
}

/* The claims the ID token carries beyond its own (grants.h grant_id_token_claims): those the claims request
 * parameter named for it, and the scope's for a client with id_token_claims: scope. NULL claims when there
 * are none; an error when the user (u, read with the code; NULL when there is none) is gone. */
static struct oauth_error id_token_claims(const struct client *c, const struct store_user *u, const char *scope,
                                          json_t *grant_claims, json_t **claims)
{
    *claims = NULL;
    bool scope_claims = c->id_token_claims == ID_TOKEN_CLAIMS_SCOPE;
    if (!scope_claims && claims_grant_names(grant_claims, CLAIMS_ID_TOKEN) == NULL)
        return OAUTH_OK;
    if (u == NULL || u->disabled)
        return OAUTH_ERROR(INVALID_GRANT,
                           "the user of this authorization code no longer exists or is disabled");
    *claims = grant_id_token_claims(u, scope, scope_claims, grant_claims);
    return OAUTH_OK;
}

struct oauth_error grant_authorization_code(struct http_req *req, const struct client *c,
                                            const struct token_req *tr)
{
    struct worker *w = req->worker;
    struct store_conn *db = w->db;
    struct errbuf err;
    if (str_is_null(tr->code))
        return OAUTH_ERROR(INVALID_REQUEST, "code is required");
    if (tr->code.len > 512)
        return OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    int64_t now = clock_now();
    uint8_t hash[STORE_HASH_LEN];
    store_hash(tr->code.p, tr->code.len, hash);

    /* Validate against a plain read first (the code with its user), and consume only once everything
     * checks out: a failed attempt (wrong client, redirect_uri or verifier) leaves the code to its rightful
     * client, and no signature is computed while the store's write lock is held. Then one call consumes the
     * code and writes the tokens: two round trips on PostgreSQL. */
    struct store_token code;
    struct store_user user;
    bool has_user;
    int rc = store_token_get_user(db, req->arena, hash, &code, &user, &has_user, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && code.kind != STORE_TOKEN_CODE))
        return OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    if (rc != 0) {
        return oauth_store_failed(req, "code_get", rc, &err);
    }
    if (code.client_id == NULL || strcmp(code.client_id, c->client_id) != 0)
        return OAUTH_ERROR(INVALID_GRANT, "the authorization code was not issued to this client");
    if (code.consumed_at != 0) {
        /* RFC 6749 §4.1.2: a second use revokes every token issued from the code. */
        struct oauth_error re = grant_revoke_family(req, tr, c, code.grant_id, "code_replay");
        return oauth_failed(re) ? re : OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    }
    if (code.revoked_at != 0 || code.exp <= now)
        return OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    json_t *data = grant_data_parse(req->arena, code.data);
    if (data == NULL || code.sub == NULL || code.grant_id == NULL) {
        log_error("bad_code_row", LS("rid", req->rid), LS("client_id", c->client_id), NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the authorization code could not be read");
    }
    struct oauth_error e = check_redirect_uri(c, tr, data);
    if (!oauth_failed(e))
        e = check_pkce(req, c, tr, data);
    if (!oauth_failed(e))
        e = grant_dpop_binding(tr, json_string_value(json_object_get(data, "dpop_jkt")),
                               "the authorization request named dpop_jkt: send a DPoP proof made with that key "
                               "(RFC 9449 section 10)");
    if (oauth_failed(e))
        return e;
    /* RFC 8707 §2.2: at the token endpoint a resource may only repeat (narrow to) what was authorized. */
    if (!str_is_null(tr->resource) && (code.aud == NULL || !str_eq_c(tr->resource, code.aud)))
        return OAUTH_ERROR(INVALID_TARGET, "resource does not match the one of the authorization request");
    const struct resource *res = NULL;
    if (code.aud != NULL && code.aud[0] != '\0') {
        res = app_resource(w->app, code.aud);
        if (res == NULL)
            return OAUTH_ERROR(INVALID_GRANT, "the API this code was issued for is no longer configured");
    }

    struct grant_tokens_req g;
    grant_tokens_req_from_row(req, c, tr, &code, res, now, data, &g);
    g.nonce = json_string_value(json_object_get(data, "nonce"));
    g.grant_claims = grant_data_claims(data);
    json_t *claims = NULL;
    if (g.id_token) {
        e = id_token_claims(c, has_user ? &user : NULL, g.grant_scope, g.grant_claims, &claims);
        if (oauth_failed(e))
            return e;
        g.claims = claims;
    }
    struct grant_tokens t;
    e = grant_tokens_mint(req, &g, &t);
    json_decref(claims);
    if (oauth_failed(e))
        return e;

    e = grant_redeem(req, tr, hash, STORE_TOKEN_CODE, now, &t, &rc);
    if (oauth_failed(e))
        return e;
    if (rc == ERR_CONFLICT) { /* lost the race to a concurrent redemption: a replay all the same */
        e = grant_revoke_family(req, tr, c, code.grant_id, "code_replay");
        return oauth_failed(e) ? e : OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    }
    if (rc == ERR_NOTFOUND) /* expired or revoked since the read */
        return OAUTH_ERROR(INVALID_GRANT, CODE_INVALID);
    if (!req->held) /* else counted by the group commit */
        metrics_tokens_issued(METRICS_GRANT_AUTHORIZATION_CODE, t.at.jwt, t.refresh_token != NULL,
                              t.id_token != NULL);
    token_response_send(req, &t.at, g.at_scope, t.refresh_token, t.id_token);
    return OAUTH_OK;
}
