/* userinfo.c: the UserInfo endpoint (OIDC Core §5.3) at <issuer>/me, GET (and so HEAD) and POST, with
 * bearer token usage per RFC 6750 §2 (header, form body, and the query only when
 * userinfo.allow_query_token is set) and its errors per §3.1; DPoP-bound tokens only with the DPoP scheme
 * and a proof (RFC 9449 §7). Claims are the user's standard claims selected by the token's scope (§5.4,
 * session/users.c) and those the claims request parameter of its grant named for userinfo (§5.5). Not
 * supported: signed or encrypted responses (userinfo_signed_response_alg), aggregated and distributed
 * claims. CORS is open (cors.c). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "oauth/claims_request.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

/* Where the access token came from (RFC 6750 §2.1-2.3; RFC 9449 §7.1). */
struct userinfo_req {
    struct str token;   /* STR_NULL when none was sent */
    bool dpop;          /* sent with the DPoP authorization scheme */
};

/* Syntax only: exactly one of the three ways to send the token (RFC 6750 §2: "Clients MUST NOT use more
 * than one method to transmit the token in each request"). */
static struct oauth_error userinfo_parse(struct http_req *req, bool allow_query, struct userinfo_req *out)
{
    out->token = STR_NULL;
    out->dpop = false;
    unsigned methods = 0;
    size_t max_params = req->worker->app->cfg->limits.max_params;

    size_t nauth = 0;
    struct str hv = http_req_header(req, "authorization", &nauth);
    if (nauth > 1)
        return OAUTH_ERROR(INVALID_REQUEST, "more than one Authorization header");
    if (nauth == 1) {
        struct auth_header ah;
        if (auth_header_parse(req->arena, hv.p, hv.len, &ah) != 0)
            return OAUTH_ERROR(INVALID_REQUEST, "malformed Authorization header");
        /* Another scheme (Basic...) carries no bearer token: as if none was sent (RFC 6750 §3.1). */
        if (ah.scheme == AUTH_BEARER || ah.scheme == AUTH_DPOP) {
            out->token = ah.token;
            out->dpop = ah.scheme == AUTH_DPOP;
            methods++;
        }
    }
    if (str_eq_c(req->method, "POST") && http_req_is_form(req)) {
        struct form f;
        if (form_parse(req->arena, req->body.p, req->body.len, max_params, &f) != FORM_OK)
            return OAUTH_ERROR(INVALID_REQUEST, "malformed form body");
        struct str t;
        int rc = form_get(&f, "access_token", &t);
        if (rc < 0)
            return OAUTH_ERROR(INVALID_REQUEST, "access_token is repeated");
        if (rc == 0) {
            out->token = t;
            methods++;
        }
    }
    if (!str_is_null(req->query)) {
        struct form q;
        if (form_parse(req->arena, req->query.p, req->query.len, max_params, &q) != FORM_OK)
            return OAUTH_ERROR(INVALID_REQUEST, "malformed query string");
        struct str t;
        int rc = form_get(&q, "access_token", &t);
        if (rc < 0)
            return OAUTH_ERROR(INVALID_REQUEST, "access_token is repeated");
        if (rc == 0) {
            if (!allow_query)
                return OAUTH_ERROR(INVALID_REQUEST, "access tokens in the query string are disabled on this "
                                                    "server; send an Authorization: Bearer header");
            out->token = t;
            methods++;
        }
    }
    if (methods > 1)
        return OAUTH_ERROR(INVALID_REQUEST,
                           "the access token must be sent by exactly one method (RFC 6750 section 2)");
    return OAUTH_OK;
}

static struct oauth_error invalid_token(const char *description)
{
    struct oauth_error e = OAUTH_ERROR(INVALID_TOKEN, description);
    e.challenge = "Bearer";
    return e;
}

/* RFC 9449 §7: a DPoP-bound token comes with the DPoP scheme and a proof made with its key, for this
 * request (htm, htu, ath); a bearer token with the Bearer scheme. A bound token sent as a bearer token is
 * refused, or the binding would protect nothing. *proof: the proof to record once the request succeeds
 * (proof->jti NULL when none). */
static struct oauth_error userinfo_binding(struct http_req *req, const struct userinfo_req *ur,
                                           const struct token_info *ti, struct dpop_proof *proof)
{
    memset(proof, 0, sizeof(*proof));
    if (ti->jkt == NULL) {
        if (ur->dpop)
            return dpop_resource_error(req->arena, OAUTH_ERR_INVALID_TOKEN,
                                       "the access token is not DPoP-bound: send it with the Bearer scheme");
        return OAUTH_OK;
    }
    if (!ur->dpop)
        return dpop_resource_error(req->arena, OAUTH_ERR_INVALID_TOKEN,
                                   "the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof "
                                   "(RFC 9449 section 7.1)");
    bool present;
    const char *token = str_dup(req->arena, ur->token);
    struct oauth_error e = dpop_check(req, OAUTH_USERINFO_PATH, token, proof, &present);
    if (oauth_failed(e))
        return e;
    if (!present)
        return dpop_resource_error(req->arena, OAUTH_ERR_INVALID_DPOP_PROOF,
                                   "a DPoP proof is required with a DPoP-bound access token");
    if (strcmp(proof->jkt, ti->jkt) != 0)
        return dpop_resource_error(req->arena, OAUTH_ERR_INVALID_DPOP_PROOF,
                                   "the DPoP proof is not signed with the key the access token is bound to");
    return OAUTH_OK;
}

/* Meaning: the token is ours, live, a user's, meant for this endpoint and carries openid; a DPoP-bound one
 * comes with its proof. */
static struct oauth_error userinfo_validate(struct http_req *req, const struct userinfo_req *ur,
                                            struct token_info *ti, struct store_user *user)
{
    struct worker *w = req->worker;
    struct errbuf err;
    int rc = token_lookup(w, req->arena, ur->token.p, ur->token.len, clock_now(), ti, &err);
    if (rc != 0)
        return oauth_store_failed(req, "userinfo_lookup", rc, &err);
    if (!ti->active || ti->kind == NULL || strcmp(ti->kind, "access_token") != 0)
        return invalid_token("the access token is invalid, expired or revoked");
    struct dpop_proof proof;
    struct oauth_error e = userinfo_binding(req, ur, ti, &proof);
    if (oauth_failed(e))
        return e;
    if (ti->sub == NULL || ti->sub[0] == '\0')
        return invalid_token("the access token was not issued for a user");
    if (ti->jwt) {
        /* A JWT's sub is the client for client_credentials tokens: only a user token has the userinfo
         * audience (tokens.h). */
        if (!token_scope_has(ti->aud, token_userinfo_url(req->arena, w->app)))
            return invalid_token("the access token is not intended for the userinfo endpoint");
    }
    if (!token_scope_has(ti->scope, "openid")) {
        http_res_header(req, "WWW-Authenticate", "Bearer error=\"insufficient_scope\", scope=\"openid\"");
        return OAUTH_ERROR(INSUFFICIENT_SCOPE, "the access token does not have the openid scope");
    }
    rc = store_user_get(w->db, req->arena, ti->sub, user, &err);
    if (rc == ERR_NOTFOUND || (rc == 0 && user->disabled))
        return invalid_token("the user of this access token no longer exists or is disabled");
    if (rc != 0)
        return oauth_store_failed(req, "user_get", rc, &err);
    /* Last, so that only a request about to succeed spends the proof (RFC 9449 §11.1: single use). */
    if (proof.jti != NULL)
        return dpop_proof_record(req, &proof, true);
    return OAUTH_OK;
}

static void userinfo_send(struct http_req *req, const struct token_info *ti, const struct store_user *user)
{
    struct scope_set scopes;
    const char *scope = ti->scope != NULL ? ti->scope : "";
    if (scope_parse(req->arena, scope, strlen(scope), &scopes) != 0)
        scopes = (struct scope_set){0};
    /* The claims request parameter (OIDC Core §5.5) of the token's grant names claims for userinfo beyond
     * those of its scope: the access token's row keeps them (oauth/authz.h). */
    json_t *data = ti->data != NULL ? json_loads(ti->data, 0, NULL) : NULL;
    json_t *claims = user_claims_select(user, scopes.v, scopes.n,
                                        claims_grant_names(json_object_get(data, "claims"), CLAIMS_USERINFO));
    json_decref(data);
    char *text = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    http_res_no_store(req);
    http_res_json(req, 200, text, strlen(text));
    free(text);
}

void oauth_userinfo_handle(struct http_req *req)
{
    /* HEAD is GET without the body (RFC 9110 §9.3.2): the same checks, status and headers. */
    struct userinfo_req ur;
    struct token_info ti;
    struct store_user user;
    struct oauth_error e = userinfo_parse(req, req->worker->app->cfg->userinfo.allow_query_token, &ur);
    if (!oauth_failed(e) && str_is_null(ur.token)) {
        /* RFC 6750 §3.1: a request without a token gets the challenge and no error code. */
        req->log_error = "no_token";
        http_res_header(req, "WWW-Authenticate", "Bearer realm=\"ostiary\"");
        http_res_header(req, "WWW-Authenticate", dpop_resource_error(req->arena, OAUTH_ERR_NONE, NULL).challenge);
        http_res_no_store(req);
        http_res_body(req, 401, NULL, "", 0);
        return;
    }
    if (!oauth_failed(e))
        e = userinfo_validate(req, &ur, &ti, &user);
    if (oauth_failed(e)) {
        if (e.code == OAUTH_ERR_INVALID_REQUEST && e.http_status == 0)
            http_res_header(req, "WWW-Authenticate", "Bearer error=\"invalid_request\"");
        oauth_error_send_json(req, e);
        return;
    }
    userinfo_send(req, &ti, &user);
}
