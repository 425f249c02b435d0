/* authorize.c: authorization endpoint (RFC 6749 §3.1, §4.1.1-4.1.2.1; OIDC Core §3.1.2, and the implicit
 * and hybrid flows of §3.2, §3.3; RFC 7636 §4.3; RFC 8707; RFC 8252 §7.3 loopback redirects of native
 * clients; RFC 9207 `iss`). Validates the request, then either answers at once (SSO session and remembered
 * consent, or prompt=none) or parks it as an interaction and sends the browser to the login,
 * account-selection or consent page (interaction.c), which resume it through authz_resume(). The response
 * types are those of grant_table.h, each client limited to those it registered: code, the hybrid ones
 * (code id_token, code token, code id_token token) and id_token, id_token token; those with a token or an ID
 * token answer in the fragment or by form_post, never in the query (Multiple Response Types §2.1, §5). */
#include "oauth/authorize.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/claims_request.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/frontchannel.h"
#include "oauth/pkce.h"
#include "oauth/request_object.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

/* Scopes with an OpenID Connect meaning; every other scope belongs to an API (resource). */
static const char *const oidc_scopes[] = {"openid", "profile", "email", "address", "phone", "offline_access"};

bool scope_is_oidc(const char *s)
{
    for (size_t i = 0; i < sizeof(oidc_scopes) / sizeof(oidc_scopes[0]); i++)
        if (strcmp(s, oidc_scopes[i]) == 0)
            return true;
    return false;
}

/* ---- redirect URI matching ---- */

/* Splits a loopback IP redirect URI, "http://127.0.0.1[:port]REST" or "http://[::1][:port]REST", into its
 * host and REST (path and query, from the first '/' or '?'), the port being 1 to 65535 or absent. False for
 * anything else: another scheme or host (including "localhost", which RFC 8252 §8.3 does not recommend and
 * which gets no port freedom), userinfo, or junk after the host ("http://127.0.0.1.evil.com",
 * "http://[::1]@evil.com"). */
static bool split_loopback_ip(const char *uri, struct str *host, struct str *rest)
{
    static const char *const hosts[] = {"127.0.0.1", "[::1]"};
    if (strncmp(uri, "http://", 7) != 0)
        return false;
    const char *h = uri + 7;
    const char *p = NULL;
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]) && p == NULL; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(h, hosts[i], n) == 0) {
            *host = (struct str){h, n};
            p = h + n;
        }
    }
    if (p == NULL)
        return false;
    if (*p == ':') {
        unsigned port = 0;
        size_t digits = 0;
        for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
            port = port * 10 + (unsigned)(*p - '0');
        if (digits == 0 || digits > 5 || port == 0 || port > 65535)
            return false;
    }
    if (*p != '\0' && *p != '/' && *p != '?')
        return false;
    *rest = str_c(p);
    return true;
}

bool redirect_uri_matches(enum application_type type, const char *registered, const char *given)
{
    /* OIDC Core §3.1.2.1, RFC 9700 §4.1.3: simple string comparison. */
    if (strcmp(registered, given) == 0)
        return true;
    /* RFC 8252 §7.3: a native app listening on a loopback IP address gets a port from the OS at run time,
     * so the port may differ from the registered one; scheme, host, path and query may not. Web clients
     * never get this (RFC 9700 §2.1). */
    if (type != APP_TYPE_NATIVE)
        return false;
    struct str rh, rr, gh, gr;
    if (!split_loopback_ip(registered, &rh, &rr) || !split_loopback_ip(given, &gh, &gr))
        return false;
    return str_eq(rh, gh) && str_eq(rr, gr);
}

/* ---- resource (API) selection ---- */

struct oauth_error authz_select_resource(const struct app *app, const struct client *c, const char *resource,
                                         const struct scope_set *scopes, const struct resource **out)
{
    *out = NULL;
    if (resource != NULL) {
        if (strchr(resource, ':') == NULL || strchr(resource, '#') != NULL)
            return OAUTH_ERROR(INVALID_TARGET, "resource must be an absolute URI without a fragment");
        *out = app_resource(app, resource);
        if (*out == NULL)
            return OAUTH_ERROR(INVALID_TARGET, "unknown resource: no API is registered with that identifier");
        if ((*out)->client_credentials_only)
            return OAUTH_ERROR(INVALID_TARGET,
                               "tokens for that API are issued through client_credentials only");
    } else {
        /* An API scope selects its API by itself (when exactly one API claims the requested scopes). */
        for (size_t i = 0; i < scopes->n; i++) {
            if (scope_is_oidc(scopes->v[i]))
                continue;
            for (size_t r = 0; r < app->n_resources; r++) {
                struct scope_set api = {app->resources[r].scopes, app->resources[r].n_scopes};
                if (app->resources[r].client_credentials_only || !scope_has(&api, scopes->v[i]))
                    continue;
                if (*out != NULL && *out != &app->resources[r])
                    return OAUTH_ERROR(INVALID_TARGET,
                                       "the requested scopes belong to several APIs: name one with resource");
                *out = &app->resources[r];
            }
        }
    }
    if (*out != NULL && !client_may_target(c, (*out)->identifier))
        return OAUTH_ERROR(INVALID_TARGET, "this client may not request tokens for that resource");
    return OAUTH_OK;
}

void authz_allowed_scopes(struct arena *a, const struct app *app, const struct client *c, struct scope_set *out)
{
    if (c->scope != NULL && c->scope[0] != '\0') {
        scope_parse(a, c->scope, strlen(c->scope), out);
        return;
    }
    out->v = arena_alloc(a, sizeof(char *) * (SCOPE_MAX + 1));
    out->n = 0;
    for (size_t i = 0; i < sizeof(oidc_scopes) / sizeof(oidc_scopes[0]); i++)
        out->v[out->n++] = oidc_scopes[i];
    for (size_t r = 0; r < app->n_resources; r++)
        for (size_t k = 0; !app->resources[r].client_credentials_only && k < app->resources[r].n_scopes &&
                           out->n < SCOPE_MAX;
             k++)
            if (!scope_has(out, app->resources[r].scopes[k]))
                out->v[out->n++] = app->resources[r].scopes[k];
}

/* ---- request parsing and validation ---- */

static int param(const struct form *f, const char *name, struct str *v)
{
    return form_get(f, name, v);
}

int authz_load_client(const struct http_req *req, const char *client_id, struct client *out)
{
    struct errbuf err;
    int rc = client_get(req->worker, req->arena, client_id, out, &err);
    if (rc == ERR_NOTFOUND)
        return rc;
    if (rc == ERR_INVALID) {
        log_error("bad_client_metadata", LS("rid", req->rid), LS("client_id", client_id), NULL);
        return ERR_FAIL;
    }
    if (rc != 0) {
        oauth_store_failed(req, "client_get", rc, &err);
        return rc;
    }
    return 0;
}

static struct oauth_error parse_prompt(const char *s, unsigned *out)
{
    *out = 0;
    if (s == NULL)
        return OAUTH_OK;
    const char *p = s;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n == 0)
            break;
        struct str v = {p, n};
        if (str_eq_c(v, "none"))
            *out |= PROMPT_NONE;
        else if (str_eq_c(v, "login"))
            *out |= PROMPT_LOGIN;
        else if (str_eq_c(v, "consent"))
            *out |= PROMPT_CONSENT;
        else if (str_eq_c(v, "select_account"))
            *out |= PROMPT_SELECT_ACCOUNT;
        else
            return OAUTH_ERROR(INVALID_REQUEST, "prompt has an unsupported value");
        p += n;
    }
    /* OIDC Core §3.1.2.1: none must not be combined with any other value. */
    if ((*out & PROMPT_NONE) && *out != PROMPT_NONE)
        return OAUTH_ERROR(INVALID_REQUEST, "prompt=none cannot be combined with other values");
    return OAUTH_OK;
}

/* Everything that decides whether errors may be redirected: client_id names a registered client, and the
 * redirect_uri is one of its registered ones (or omitted, when it has exactly one: RFC 6749 §3.1.2.3). An
 * error here is never redirected (RFC 6749 §4.1.2.1). */
static struct oauth_error check_client_and_redirect(const struct http_req *req, const struct form *f,
                                                    struct client *c, struct authz_request *ar)
{
    struct str v;
    int rc = param(f, "client_id", &v);
    if (rc != 0)
        return OAUTH_ERROR(INVALID_REQUEST, rc < 0 ? "client_id is repeated" : "client_id is missing");
    ar->client_id = str_dup(req->arena, v);
    rc = authz_load_client(req, ar->client_id, c);
    if (rc == ERR_NOTFOUND)
        return OAUTH_ERROR(INVALID_CLIENT, "unknown client_id: no application is registered with it");
    if (rc != 0)
        return oauth_store_error(rc); /* logged by authz_load_client */
    rc = param(f, "redirect_uri", &v);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "redirect_uri is repeated");
    if (rc == 0) {
        ar->redirect_uri = str_dup(req->arena, v);
        ar->redirect_uri_given = true;
        for (size_t i = 0; i < c->n_redirect_uris; i++)
            if (redirect_uri_matches(c->application_type, c->redirect_uris[i], ar->redirect_uri))
                return OAUTH_OK;
        return OAUTH_ERROR(INVALID_REQUEST, "redirect_uri is not registered for this client");
    }
    if (c->n_redirect_uris != 1)
        return OAUTH_ERROR(INVALID_REQUEST, c->n_redirect_uris == 0
                                                ? "this client has no registered redirect_uri"
                                                : "redirect_uri is required: the client registered several");
    ar->redirect_uri = c->redirect_uris[0];
    ar->redirect_uri_given = false;
    return OAUTH_OK;
}

/* Whether the request's response_type has the value token or id_token, whose responses default to the
 * fragment and are never sent in the query (OAuth 2.0 Multiple Response Type Encoding Practices §2.1, §3,
 * §5; RFC 6749 §4.2.2.1). Its errors too, also those of a type that is not served (token alone), which
 * are then delivered where their client reads them, and not where a Referer header would leak them. A
 * missing or repeated response_type, code, none and unknown values: the query. */
static bool response_type_wants_fragment(struct arena *a, const struct form *f)
{
    const char *rt = form_get_dup(a, f, "response_type");
    return rt != NULL && (token_scope_has(rt, "token") || token_scope_has(rt, "id_token"));
}

/* The response mode: the one the request asks for, else the default of its response type. On an error
 * ar->response_mode is the default, where the error goes. */
static struct oauth_error check_response_mode(struct arena *a, const struct form *f, struct authz_request *ar)
{
    ar->response_mode = response_type_wants_fragment(a, f) ? RESPONSE_MODE_FRAGMENT : RESPONSE_MODE_QUERY;
    struct str mode;
    if (form_get(f, "response_mode", &mode) != 0)
        return OAUTH_OK;
    if (str_eq_c(mode, "fragment"))
        ar->response_mode = RESPONSE_MODE_FRAGMENT;
    else if (str_eq_c(mode, "form_post"))
        ar->response_mode = RESPONSE_MODE_FORM_POST;
    else if (!str_eq_c(mode, "query"))
        return OAUTH_ERROR(INVALID_REQUEST, "response_mode must be query, fragment or form_post");
    /* "In no case" are the parameters of such a type query-encoded (Multiple Response Types §2.1): tokens
     * in a query reach logs and Referer headers. The error itself goes to the fragment. */
    else if (ar->response_mode == RESPONSE_MODE_FRAGMENT)
        return OAUTH_ERROR(INVALID_REQUEST, "response_mode=query cannot carry the tokens of this response_type: "
                                            "use fragment (its default) or form_post");
    return OAUTH_OK;
}

/* The response type: one this server serves (else unsupported_response_type), that the client registered
 * (else unauthorized_client: RFC 6749 §4.1.2.1 tells the two apart, the server's support and the client's
 * authorization). ar->response_type becomes its canonical name. */
static struct oauth_error check_response_type(struct arena *a, const struct form *f, const struct client *c,
                                              struct authz_request *ar)
{
    const char *rt = form_get_dup(a, f, "response_type");
    if (rt == NULL)
        return OAUTH_ERROR(INVALID_REQUEST, "response_type is missing");
    enum response_type_fault fault = response_type_parse(rt, &ar->response_parts);
    if (fault == RESPONSE_TYPE_DUPLICATE)
        return OAUTH_ERROR(INVALID_REQUEST, "response_type has a value twice");
    if (fault != RESPONSE_TYPE_OK) {
        const char *served = NULL;
        for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t))
            served = served == NULL ? response_type_name(t)
                                    : arena_printf(a, "%s, %s", served, response_type_name(t));
        return (struct oauth_error){OAUTH_ERR_UNSUPPORTED_RESPONSE_TYPE,
                                    arena_printf(a, "response_type must be one of: %s", served), 0, NULL};
    }
    ar->response_type = response_type_name(ar->response_parts);
    if (!(c->response_types & RESPONSE_TYPE_BIT(ar->response_parts)))
        return (struct oauth_error){OAUTH_ERR_UNAUTHORIZED_CLIENT,
                                    arena_printf(a, "this client is not registered for response_type %s",
                                                 ar->response_type),
                                    0, NULL};
    return OAUTH_OK;
}

/* The claims parameter (OIDC Core §5.5): parsed (claims_request.c), and an essential acr this server cannot
 * meet refused at once: §5.5.1.1 makes it a failed authentication, and no sign-in here gives another acr
 * than SESSION_ACR_PASSWORD. */
static struct oauth_error check_claims(struct arena *a, const struct form *f, struct authz_request *ar)
{
    ar->claims = form_get_dup(a, f, "claims");
    if (ar->claims == NULL)
        return OAUTH_OK;
    ar->claims_req = arena_alloc(a, sizeof(*ar->claims_req));
    const char *why;
    if (claims_request_parse(a, ar->claims, strlen(ar->claims), ar->claims_req, &why) != 0)
        return (struct oauth_error){OAUTH_ERR_INVALID_REQUEST, why, 0, NULL};
    for (int t = 0; t < CLAIMS_TARGETS; t++) {
        const struct claim_request *acr = claims_request_find(ar->claims_req, (enum claims_target)t, "acr");
        if (acr != NULL && acr->essential && !claim_request_allows(acr, SESSION_ACR_PASSWORD))
            return OAUTH_ERROR(ACCESS_DENIED, "the essential acr cannot be met: this server signs users in "
                                              "with urn:ostiary:acr:password only (OpenID Connect Core 5.5.1.1)");
    }
    return OAUTH_OK;
}

/* Every other parameter, once errors may be redirected. */
static struct oauth_error validate_rest(const struct http_req *req, const struct form *f, const struct client *c,
                                        struct authz_request *ar)
{
    struct arena *a = req->arena;
    static const char *const single[] = {"response_type", "response_mode", "scope", "state", "nonce",
                                         "code_challenge", "code_challenge_method", "prompt", "max_age",
                                         "login_hint", "id_token_hint", "ui_locales", "acr_values",
                                         "resource", "audience", "request", "request_uri", "display",
                                         "claims", "registration", "dpop_jkt"};
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        struct str v;
        if (param(f, single[i], &v) < 0)
            return (struct oauth_error){OAUTH_ERR_INVALID_REQUEST,
                                        arena_printf(a, "%s is repeated (RFC 6749 section 3.1)", single[i]), 0, NULL};
    }
    struct str v;
    /* RFC 9101 §10.5: such a client's requests come only as (signed) request objects. */
    if (c->require_signed_request_object && !ar->request_object)
        return OAUTH_ERROR(INVALID_REQUEST, "this client must send its authorization requests as signed request "
                                            "objects (the request parameter; require_signed_request_object)");
    /* The authorization endpoint replaces a request_uri by its pushed parameters before validating them
     * (authz_incoming), and the PAR endpoint refuses one: any other caller gets this. */
    if (param(f, "request_uri", &v) == 0)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri is only accepted at the authorization endpoint");
    if (param(f, "registration", &v) == 0)
        return OAUTH_ERROR(REGISTRATION_NOT_SUPPORTED, "the registration parameter is not supported");

    struct oauth_error e = check_response_type(a, f, c, ar);
    if (oauth_failed(e))
        return e;

    ar->nonce = form_get_dup(a, f, "nonce");
    ar->login_hint = form_get_dup(a, f, "login_hint");
    ar->id_token_hint = form_get_dup(a, f, "id_token_hint");
    /* OIDC Core §3.1.2.1: only an ID token we issued is a hint (an access token signed by the same keys is
     * not), whether or not there is a session yet to compare it with. */
    json_t *hint;
    if (ar->id_token_hint != NULL && id_token_hint_verify(req->worker, a, ar->id_token_hint, &hint) != 0)
        return OAUTH_ERROR(INVALID_REQUEST, "id_token_hint is not a valid ID token of this issuer");
    ar->ui_locales = form_get_dup(a, f, "ui_locales");
    ar->acr_values = form_get_dup(a, f, "acr_values");
    struct oauth_error ce = check_claims(a, f, ar);
    if (oauth_failed(ce))
        return ce;

    /* Scope. */
    const char *scope = form_get_dup(a, f, "scope");
    struct scope_set req_scopes = {NULL, 0};
    if (scope != NULL && scope_parse(a, scope, strlen(scope), &req_scopes) != 0)
        return OAUTH_ERROR(INVALID_SCOPE, "scope is malformed (RFC 6749 section 3.3)");
    if (scope == NULL)
        req_scopes.v = arena_alloc(a, sizeof(char *));
    struct scope_set allowed;
    authz_allowed_scopes(a, req->worker->app, c, &allowed);
    if (req_scopes.n == 0) {
        /* RFC 6749 §3.3: absent scope means the client's default (its registered scopes). */
        req_scopes = allowed;
    } else if (!scope_subset(&req_scopes, &allowed)) {
        return OAUTH_ERROR(INVALID_SCOPE, "requested scope is not allowed for this client");
    }
    ar->scope = scope_join(a, &req_scopes);
    /* An ID token from the authorization endpoint: OpenID Connect only, and bound to the request by its
     * nonce, which is what stops the replay of an ID token injected into the response (OIDC Core
     * §3.2.2.1, §3.3.2.11). */
    if ((ar->response_parts & RESPONSE_ID_TOKEN) && !scope_has(&req_scopes, "openid"))
        return OAUTH_ERROR(INVALID_SCOPE, "the openid scope is required for a response_type with id_token");
    if ((ar->response_parts & RESPONSE_ID_TOKEN) && ar->nonce == NULL)
        return OAUTH_ERROR(INVALID_REQUEST,
                           "nonce is required when the response_type has id_token (OpenID Connect Core 3.2.2.1)");

    /* PKCE (RFC 7636 §4.3: method defaults to plain), for the code; a response without one has none to
     * bind. */
    ar->code_challenge = form_get_dup(a, f, "code_challenge");
    ar->code_challenge_method = form_get_dup(a, f, "code_challenge_method");
    if (ar->code_challenge != NULL) {
        if (ar->code_challenge_method == NULL)
            ar->code_challenge_method = "plain";
        unsigned m = strcmp(ar->code_challenge_method, "S256") == 0    ? PKCE_S256
                     : strcmp(ar->code_challenge_method, "plain") == 0 ? PKCE_PLAIN
                                                                        : 0;
        if (m == 0)
            return OAUTH_ERROR(INVALID_REQUEST, "code_challenge_method must be S256 or plain");
        if (!(c->pkce_methods & m))
            return OAUTH_ERROR(INVALID_REQUEST, m == PKCE_PLAIN
                                                    ? "code_challenge_method plain is not allowed for this client; use S256"
                                                    : "code_challenge_method S256 is not allowed for this client");
        if (!pkce_challenge_valid(ar->code_challenge_method, ar->code_challenge))
            return OAUTH_ERROR(INVALID_REQUEST, "code_challenge is malformed (RFC 7636 section 4.2)");
    } else {
        if (ar->code_challenge_method != NULL)
            return OAUTH_ERROR(INVALID_REQUEST, "code_challenge_method without code_challenge");
        if (c->require_pkce && (ar->response_parts & RESPONSE_CODE))
            return OAUTH_ERROR(INVALID_REQUEST, "PKCE is required: send code_challenge and code_challenge_method=S256");
    }

    /* RFC 9449 §10: the thumbprint of the DPoP key the code will be redeemed with (a pushed request carries
     * it the same way: it is one of the parameters this function validates). */
    ar->dpop_jkt = form_get_dup(a, f, "dpop_jkt");
    if (ar->dpop_jkt != NULL &&
        (strlen(ar->dpop_jkt) != DPOP_JKT_LEN || b64url_span(ar->dpop_jkt, DPOP_JKT_LEN) != DPOP_JKT_LEN))
        return OAUTH_ERROR(INVALID_REQUEST,
                           "dpop_jkt must be the base64url SHA-256 JWK thumbprint of a DPoP key (RFC 9449 section 10)");

    e = parse_prompt(form_get_dup(a, f, "prompt"), &ar->prompt);
    if (oauth_failed(e))
        return e;
    ar->max_age = -1;
    const char *max_age = form_get_dup(a, f, "max_age");
    if (max_age != NULL && (str_to_i64(str_c(max_age), &ar->max_age) != 0))
        return OAUTH_ERROR(INVALID_REQUEST, "max_age must be a non-negative integer number of seconds");

    /* Resource indicator or Auth0-style audience (the same thing, RFC 8707). */
    const char *resource = form_get_dup(a, f, "resource");
    const char *audience = form_get_dup(a, f, "audience");
    if (audience != NULL) {
        /* audience= names an API by its identifier or by its audience name: the identifier from here on. */
        const struct resource *named = app_resource_by_audience(req->worker->app, audience);
        if (named == NULL)
            return OAUTH_ERROR(INVALID_TARGET,
                               "unknown audience: no API has that identifier or audience name");
        audience = named->identifier;
    }
    if (resource != NULL && audience != NULL && strcmp(resource, audience) != 0)
        return OAUTH_ERROR(INVALID_REQUEST, "resource and audience name different APIs");
    const struct resource *res;
    e = authz_select_resource(req->worker->app, c, resource != NULL ? resource : audience, &req_scopes, &res);
    if (oauth_failed(e))
        return e;
    if (res != NULL) {
        /* API scopes must be scopes of that API. */
        struct scope_set api = {res->scopes, res->n_scopes};
        for (size_t i = 0; i < req_scopes.n; i++)
            if (!scope_is_oidc(req_scopes.v[i]) && !scope_has(&api, req_scopes.v[i]))
                return OAUTH_ERROR(INVALID_SCOPE, "a requested scope does not belong to the requested resource");
        ar->resource = res->identifier;
    }
    return OAUTH_OK;
}

/* authz_validate() of parameters that came from a verified request object, or not. */
static void validate(const struct http_req *req, const struct form *f, bool from_object, struct authz_validation *out)
{
    memset(out, 0, sizeof(*out));
    out->ar.request_object = from_object;
    out->error = check_client_and_redirect(req, f, &out->client, &out->ar);
    if (oauth_failed(out->error))
        return;
    /* Every response from here on carries state back to the redirect URI. One that could not hold it is
     * refused now, on the error page (a redirect without the state would mislead the client), before
     * anything is stored or issued. */
    out->ar.state = form_get_dup(req->arena, f, "state");
    if (!authz_response_fits(req, out->ar.redirect_uri, out->ar.state)) {
        out->error = OAUTH_ERROR(INVALID_REQUEST, out->ar.state != NULL
                                                      ? "state is too long for the authorization response"
                                                      : "redirect_uri is too long for an authorization response");
        return;
    }
    /* From here on errors go back to the client (RFC 6749 §4.1.2.1), with its state, in the response mode
     * of the request. */
    out->redirectable = true;
    out->error = check_response_mode(req->arena, f, &out->ar);
    if (!oauth_failed(out->error))
        out->error = validate_rest(req, f, &out->client, &out->ar);
}

/* RFC 9101 §5: the client_id beside the request object names the client whose keys verify it. Errors here
 * are never redirected: the redirect URI is not verified yet (it may be the object's). */
static struct oauth_error request_object_form(const struct http_req *req, const struct form *f, struct str jws,
                                              struct client *c, struct form *out)
{
    struct str cid;
    int rc = param(f, "client_id", &cid);
    if (rc != 0)
        return OAUTH_ERROR(INVALID_REQUEST, rc < 0 ? "client_id is repeated"
                                                   : "client_id is required beside request (RFC 9101 section 5)");
    rc = authz_load_client(req, str_dup(req->arena, cid), c);
    if (rc == ERR_NOTFOUND)
        return OAUTH_ERROR(INVALID_CLIENT, "unknown client_id: no application is registered with it");
    if (rc != 0)
        return oauth_store_error(rc); /* logged by authz_load_client */
    return request_object_params(req, c, jws, f, out);
}

void authz_validate(const struct http_req *req, const struct form *f, struct authz_validation *out)
{
    struct str jws;
    int rc = param(f, "request", &jws);
    if (rc == 1) {
        validate(req, f, false, out);
        return;
    }
    memset(out, 0, sizeof(*out));
    struct form merged;
    out->error = rc < 0 ? OAUTH_ERROR(INVALID_REQUEST, "request is repeated (RFC 6749 section 3.1)")
                        : request_object_form(req, f, jws, &out->client, &merged);
    if (oauth_failed(out->error))
        return;
    authz_validate_object(req, &merged, out);
}

void authz_validate_object(const struct http_req *req, const struct form *params, struct authz_validation *out)
{
    validate(req, params, true, out);
}

void authz_send_error(struct http_req *req, const struct authz_validation *v)
{
    if (v->redirectable)
        authz_respond_error(req, v->ar.redirect_uri, v->ar.response_mode, v->error, v->ar.state);
    else
        page_error(req, v->error);
}

static void add_param(struct form *f, const char *name, const char *value)
{
    if (value != NULL)
        f->params[f->n++] = (struct form_param){str_c(name), str_c(value)};
}

/* The parameters of a validated request, as a form authz_validate() reads back to the same request
 * (every default made explicit except the omitted redirect_uri, which stays omitted). */
static void request_params(struct arena *a, const struct authz_request *ar, struct form *out)
{
    static const char *const modes[] = {"query", "fragment", "form_post"};
    static const struct {
        unsigned flag;
        const char *name;
    } prompts[] = {{PROMPT_NONE, "none"}, {PROMPT_LOGIN, "login"}, {PROMPT_CONSENT, "consent"},
                   {PROMPT_SELECT_ACCOUNT, "select_account"}};
    out->params = arena_alloc(a, sizeof(struct form_param) * 20);
    out->n = 0;
    add_param(out, "client_id", ar->client_id);
    add_param(out, "redirect_uri", ar->redirect_uri_given ? ar->redirect_uri : NULL);
    add_param(out, "response_type", ar->response_type);
    add_param(out, "response_mode", (unsigned)ar->response_mode < 3 ? modes[ar->response_mode] : "invalid");
    add_param(out, "scope", ar->scope);
    add_param(out, "state", ar->state);
    add_param(out, "nonce", ar->nonce);
    add_param(out, "code_challenge", ar->code_challenge);
    add_param(out, "code_challenge_method", ar->code_challenge != NULL ? ar->code_challenge_method : NULL);
    const char *prompt = NULL;
    for (size_t i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++)
        if (ar->prompt & prompts[i].flag)
            prompt = prompt == NULL ? prompts[i].name : arena_printf(a, "%s %s", prompt, prompts[i].name);
    add_param(out, "prompt", prompt);
    add_param(out, "max_age", ar->max_age >= 0 ? arena_printf(a, "%lld", (long long)ar->max_age) : NULL);
    add_param(out, "login_hint", ar->login_hint);
    add_param(out, "id_token_hint", ar->id_token_hint);
    add_param(out, "ui_locales", ar->ui_locales);
    add_param(out, "acr_values", ar->acr_values);
    add_param(out, "resource", ar->resource);
    add_param(out, "claims", ar->claims);
    add_param(out, "dpop_jkt", ar->dpop_jkt);
}

void authz_validate_parked(const struct http_req *req, const struct authz_request *parked,
                           struct authz_validation *out)
{
    struct form f;
    request_params(req->arena, parked, &f);
    validate(req, &f, parked->request_object, out);
    /* An omitted redirect_uri means the client's only one: still one, but another than the request's
     * responses were meant for, it is not the request's destination any more. */
    if (!oauth_failed(out->error) && strcmp(out->ar.redirect_uri, parked->redirect_uri) != 0) {
        out->error = OAUTH_ERROR(INVALID_REQUEST, "redirect_uri is not registered for this client");
        out->redirectable = false;
    }
}

/* ---- serialization of a parked request ---- */

static void set_opt(json_t *o, const char *k, const char *v)
{
    if (v != NULL)
        json_object_set_new(o, k, json_string(v));
}

json_t *authz_request_to_json(const struct authz_request *ar)
{
    json_t *o = json_object();
    set_opt(o, "client_id", ar->client_id);
    set_opt(o, "redirect_uri", ar->redirect_uri);
    json_object_set_new(o, "redirect_uri_given", json_boolean(ar->redirect_uri_given));
    set_opt(o, "response_type", ar->response_type);
    json_object_set_new(o, "response_mode", json_integer(ar->response_mode));
    set_opt(o, "scope", ar->scope);
    set_opt(o, "state", ar->state);
    set_opt(o, "nonce", ar->nonce);
    set_opt(o, "code_challenge", ar->code_challenge);
    set_opt(o, "code_challenge_method", ar->code_challenge_method);
    json_object_set_new(o, "prompt", json_integer(ar->prompt));
    json_object_set_new(o, "max_age", json_integer(ar->max_age));
    set_opt(o, "login_hint", ar->login_hint);
    set_opt(o, "id_token_hint", ar->id_token_hint);
    set_opt(o, "ui_locales", ar->ui_locales);
    set_opt(o, "acr_values", ar->acr_values);
    set_opt(o, "resource", ar->resource);
    set_opt(o, "claims", ar->claims);
    set_opt(o, "dpop_jkt", ar->dpop_jkt);
    json_object_set_new(o, "request_object", json_boolean(ar->request_object));
    return o;
}

static const char *jstr(struct arena *a, json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v != NULL ? arena_strdup(a, v) : NULL;
}

int authz_request_from_json(struct arena *a, json_t *o, struct authz_request *ar)
{
    memset(ar, 0, sizeof(*ar));
    if (!json_is_object(o))
        return -1;
    ar->client_id = jstr(a, o, "client_id");
    ar->redirect_uri = jstr(a, o, "redirect_uri");
    ar->redirect_uri_given = json_is_true(json_object_get(o, "redirect_uri_given"));
    ar->response_type = jstr(a, o, "response_type");
    ar->response_mode = (enum response_mode)json_integer_value(json_object_get(o, "response_mode"));
    ar->scope = jstr(a, o, "scope");
    ar->state = jstr(a, o, "state");
    ar->nonce = jstr(a, o, "nonce");
    ar->code_challenge = jstr(a, o, "code_challenge");
    ar->code_challenge_method = jstr(a, o, "code_challenge_method");
    ar->prompt = (unsigned)json_integer_value(json_object_get(o, "prompt"));
    ar->max_age = json_integer_value(json_object_get(o, "max_age"));
    ar->login_hint = jstr(a, o, "login_hint");
    ar->id_token_hint = jstr(a, o, "id_token_hint");
    ar->ui_locales = jstr(a, o, "ui_locales");
    ar->acr_values = jstr(a, o, "acr_values");
    ar->resource = jstr(a, o, "resource");
    ar->claims = jstr(a, o, "claims"); /* parsed again by authz_validate_parked */
    ar->dpop_jkt = jstr(a, o, "dpop_jkt");
    ar->request_object = json_is_true(json_object_get(o, "request_object"));
    return ar->client_id != NULL && ar->redirect_uri != NULL && ar->scope != NULL ? 0 : -1;
}

/* ---- deciding and answering ---- */

/* The subject of a (possibly expired) ID token we issued, or NULL if it is not one (id_token.c). */
static const char *id_token_hint_sub(struct http_req *req, const char *hint)
{
    json_t *claims;
    if (id_token_hint_verify(req->worker, req->arena, hint, &claims) != 0)
        return NULL;
    return json_string_value(json_object_get(claims, "sub"));
}

json_t *authz_claims_beyond_scope(struct arena *a, const struct authz_request *ar)
{
    json_t *out = json_array();
    json_t *grant = claims_request_grant(ar->claims_req);
    struct scope_set scopes;
    if (scope_parse(a, ar->scope, strlen(ar->scope), &scopes) != 0)
        scopes = (struct scope_set){0};
    for (int t = 0; t < CLAIMS_TARGETS; t++) {
        size_t i;
        json_t *v;
        json_array_foreach(claims_grant_names(grant, (enum claims_target)t), i, v)
        {
            const char *name = json_string_value(v);
            const char *scope = user_claim_scope(name);
            bool listed = false;
            size_t k;
            json_t *w;
            json_array_foreach(out, k, w) listed |= strcmp(json_string_value(w), name) == 0;
            if (!listed && (scope == NULL || !scope_has(&scopes, scope)))
                json_array_append_new(out, json_string(name));
        }
    }
    json_decref(grant);
    return out;
}

/* Remembered consent covers the request? It remembers scopes and APIs: claims named one by one beyond the
 * requested scopes (the claims parameter) are asked every time. */
static bool consent_covers(struct http_req *req, const char *user_id, const struct authz_request *ar)
{
    struct store_consent cs;
    struct errbuf err;
    json_t *beyond = authz_claims_beyond_scope(req->arena, ar);
    bool more = json_array_size(beyond) > 0;
    json_decref(beyond);
    if (more || store_consent_get(req->worker->db, req->arena, user_id, ar->client_id, &cs, &err) != 0)
        return false;
    struct scope_set have, want;
    if (scope_parse(req->arena, cs.scope, strlen(cs.scope), &have) != 0 ||
        scope_parse(req->arena, ar->scope, strlen(ar->scope), &want) != 0)
        return false;
    if (!scope_subset(&want, &have))
        return false;
    if (ar->resource != NULL) {
        struct scope_set res;
        if (scope_parse(req->arena, cs.resources, strlen(cs.resources), &res) != 0 || !scope_has(&res, ar->resource))
            return false;
    }
    return true;
}

static void go_to_page(struct http_req *req, const char *page, const struct authz_request *ar,
                       const struct interaction *existing)
{
    struct interaction ia;
    struct errbuf err;
    const char *id;
    if (existing != NULL && existing->id != NULL) {
        id = existing->id;
    } else {
        json_t *j = authz_request_to_json(ar);
        int rc = interaction_create(req, ar->client_id, "request", j, &ia, &err);
        json_decref(j);
        if (rc != 0) {
            authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                                oauth_store_failed(req, "interaction_create", rc, &err), ar->state);
            return;
        }
        id = ia.id;
    }
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 4096);
    strbuf_adds(&sb, issuer_url(req, page));
    strbuf_adds(&sb, "?interaction=");
    strbuf_add_urlenc(&sb, id, strlen(id));
    redirect_see_other(req, strbuf_str(&sb));
}

/* The granted scope: the requested one, less offline_access when no refresh token can follow. OIDC Core
 * §11: offline access needs prompt=consent unless the client's policy says otherwise; without a code there
 * is no refresh token at all (none from the front channel). The scope is dropped, not an error. */
static void granted_scope(struct arena *a, const struct client *c, const struct authz_request *ar,
                          struct scope_set *granted, bool *offline)
{
    scope_parse(a, ar->scope, strlen(ar->scope), granted);
    *offline = scope_has(granted, "offline_access");
    if (*offline && (!(ar->response_parts & RESPONSE_CODE) ||
                     (c->refresh_policy == REFRESH_OFFLINE_CONSENT && !(ar->prompt & PROMPT_CONSENT)))) {
        struct scope_set kept = {arena_alloc(a, sizeof(char *) * (granted->n + 1)), 0};
        for (size_t i = 0; i < granted->n; i++)
            if (strcmp(granted->v[i], "offline_access") != 0)
                kept.v[kept.n++] = granted->v[i];
        *granted = kept;
        *offline = false;
    }
}

/* The row of a new authorization code (authz.h), its data JSON text in arena memory. */
static void code_row(struct http_req *req, const struct client *c, const struct authz_request *ar,
                     const struct session *s, const char *code, const char *scope, const char *grant_id, bool offline,
                     int64_t now, struct store_token *t)
{
    json_t *d = json_object();
    json_object_set_new(d, "redirect_uri", json_string(ar->redirect_uri_given ? ar->redirect_uri : ""));
    set_opt(d, "code_challenge", ar->code_challenge);
    set_opt(d, "code_challenge_method", ar->code_challenge ? ar->code_challenge_method : NULL);
    set_opt(d, "nonce", ar->nonce);
    json_object_set_new(d, "auth_time", json_integer(s->auth_time));
    set_opt(d, "sid", s->sid);
    set_opt(d, "acr", s->acr);
    json_object_set(d, "amr", s->amr != NULL ? s->amr : json_array());
    json_object_set_new(d, "offline", json_boolean(offline));
    json_t *claims = claims_request_grant(ar->claims_req);
    if (claims != NULL)
        json_object_set_new(d, "claims", claims);
    set_opt(d, "dpop_jkt", ar->dpop_jkt);
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    memset(t, 0, sizeof(*t));
    store_hash(code, strlen(code), t->hash);
    t->kind = STORE_TOKEN_CODE;
    t->client_id = c->client_id;
    t->sub = s->user_id;
    t->scope = scope;
    t->aud = ar->resource;
    t->grant_id = grant_id;
    t->data = arena_strdup(req->arena, text);
    t->iat = now;
    t->exp = now + req->worker->app->cfg->tokens.code_ttl;
    free(text);
}

/* The ID token of the authorization endpoint (OIDC Core §3.2.2.10, §3.3.2.11): nonce, c_hash with a code,
 * at_hash with an access token, s_hash with a state. When no access token is issued at all (response_type
 * id_token), or the client has id_token_claims: scope, it carries the claims of the granted scopes (§5.4);
 * always those the claims parameter names for the ID token (§5.5). NULL after sending nothing: *e says
 * why. */
static const char *front_id_token(struct http_req *req, const struct client *c, const struct authz_request *ar,
                                  const struct session *s, const struct scope_set *granted, const char *code,
                                  const char *access_token, int64_t now, struct oauth_error *e)
{
    struct worker *w = req->worker;
    struct errbuf err;
    json_t *claims = NULL;
    bool scope_claims =
        !(ar->response_parts & (RESPONSE_CODE | RESPONSE_TOKEN)) || c->id_token_claims == ID_TOKEN_CLAIMS_SCOPE;
    json_t *grant = claims_request_grant(ar->claims_req);
    json_t *named = claims_grant_names(grant, CLAIMS_ID_TOKEN);
    if (scope_claims || named != NULL) {
        struct store_user u;
        int rc = store_user_get(w->db, req->arena, s->user_id, &u, &err);
        if (rc == ERR_NOTFOUND || (rc == 0 && u.disabled)) {
            json_decref(grant);
            *e = OAUTH_ERROR(ACCESS_DENIED, "the signed-in user no longer exists or is disabled");
            return NULL;
        }
        if (rc != 0) {
            json_decref(grant);
            *e = oauth_store_failed(req, "user_get", rc, &err);
            return NULL;
        }
        claims =
            user_claims_select(&u, scope_claims ? granted->v : NULL, scope_claims ? granted->n : 0, named);
    }
    json_decref(grant);
    struct id_token_req ir = {0};
    ir.client = c;
    ir.sub = s->user_id;
    ir.nonce = ar->nonce;
    ir.sid = s->sid;
    ir.acr = s->acr;
    ir.amr = s->amr;
    ir.auth_time = s->auth_time;
    ir.now = now;
    ir.code = code;
    ir.access_token = access_token;
    ir.state = ar->state;
    ir.claims = claims;
    const char *jws = id_token_issue(w, req->arena, &ir, &err);
    json_decref(claims);
    if (jws == NULL) {
        log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", c->client_id), LS("what", "id_token"),
                  LS("detail", err.msg), NULL);
        *e = OAUTH_ERROR(SERVER_ERROR, "the ID token could not be signed");
    }
    return jws;
}

/* The rows of the response, in one transaction: the code and the access token, or neither. */
static int store_rows(struct store_conn *db, const struct store_token *code, const struct access_token *at,
                      struct errbuf *err)
{
    int rc = store_begin(db, err);
    if (rc != 0)
        return rc;
    if (code != NULL)
        rc = store_token_put(db, code, err);
    if (rc == 0 && at != NULL && at->has_row)
        rc = store_token_put(db, &at->row, err);
    if (rc == 0)
        return store_commit(db, err);
    store_rollback(db);
    return rc;
}

/* Issues what the response type asks for and sends it (RFC 6749 §4.1.2; OIDC Core §3.2.2.5, §3.3.2.5):
 * the code, the access token (token_type Bearer, expires_in, scope; never a refresh token from the front
 * channel, RFC 6749 §4.2.2) and the ID token. They share one grant id, so that a replay of the code revokes
 * the access token issued beside it. Everything is minted and the response built before anything is
 * stored: a response that could not be sent (too large for its buffer) stores nothing. */
static void issue_response(struct http_req *req, const struct client *c, const struct authz_request *ar,
                           const struct session *s)
{
    struct worker *w = req->worker;
    struct arena *a = req->arena;
    int64_t now = clock_now();
    struct scope_set granted;
    bool offline;
    granted_scope(a, c, ar, &granted, &offline);
    const char *scope = scope_join(a, &granted);
    const char *grant_id = rand_id_ordered(a);
    struct authz_param p[6];
    size_t n = 0;
    struct oauth_error e = OAUTH_OK;
    struct errbuf err;

    const char *code = NULL;
    struct store_token code_t;
    if (ar->response_parts & RESPONSE_CODE) {
        code = rand_token(a, 32);
        code_row(req, c, ar, s, code, scope, grant_id, offline, now, &code_t);
        p[n++] = (struct authz_param){"code", code};
    }
    struct access_token at = {0};
    if (ar->response_parts & RESPONSE_TOKEN) {
        struct access_token_req r = {0};
        r.client = c;
        r.sub = s->user_id;
        r.scope = scope;
        r.res = ar->resource != NULL ? app_resource(w->app, ar->resource) : NULL;
        r.grant_id = grant_id;
        json_t *grant = claims_request_grant(ar->claims_req);
        r.data = token_access_data(a, grant);
        json_decref(grant);
        r.now = now;
        if (token_mint_access(w, a, &r, &at, &err) != 0) {
            log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", c->client_id),
                      LS("what", "access_token"), LS("detail", err.msg), NULL);
            e = OAUTH_ERROR(SERVER_ERROR, "the token could not be issued");
        }
    }
    const char *id_token = NULL;
    if (!oauth_failed(e) && (ar->response_parts & RESPONSE_ID_TOKEN)) {
        id_token = front_id_token(req, c, ar, s, &granted, code, at.value, now, &e);
        if (id_token != NULL)
            p[n++] = (struct authz_param){"id_token", id_token};
    }
    if (oauth_failed(e)) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode, e, ar->state);
        return;
    }
    if (at.value != NULL) {
        p[n++] = (struct authz_param){"access_token", at.value};
        p[n++] = (struct authz_param){"token_type", "Bearer"};
        p[n++] = (struct authz_param){"expires_in", arena_printf(a, "%lld", (long long)at.expires_in)};
        if (scope[0] != '\0')
            p[n++] = (struct authz_param){"scope", scope};
    }
    struct authz_response res;
    if (!authz_response_build(req, ar->redirect_uri, ar->response_mode, p, n, ar->state, &res)) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                            OAUTH_ERROR(SERVER_ERROR, "the authorization response is too large for its response "
                                                      "mode; request fewer scopes or claims"),
                            ar->state);
        return;
    }
    /* On a server loop whose store groups writes, the rows wait for the loop's commit and the response
     * with them; should that commit fail, this request is served again and answers here. */
    struct store_token rows[2];
    size_t nrows = 0;
    if (code != NULL)
        rows[nrows++] = code_t;
    if (at.value != NULL && at.has_row)
        rows[nrows++] = at.row;
    int rc = nrows > 0 && tokens_hold_rows(req, rows, nrows) ? 0
                                                 : store_rows(w->db, code != NULL ? &code_t : NULL,
                                                              at.value != NULL ? &at : NULL, &err);
    if (rc != 0) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                            oauth_store_failed(req, "authz_response_put", rc, &err), ar->state);
        return;
    }
    authz_response_send(req, &res);
}

void authz_resume(struct http_req *req, const struct client *c, const struct authz_request *ar,
                  const struct interaction *ia, unsigned satisfied)
{
    struct session s;
    struct errbuf err;
    int rc = session_load(req, &s, &err);
    if (rc != 0 && rc != ERR_NOTFOUND) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                            oauth_store_failed(req, "session_load", rc, &err), ar->state);
        return;
    }
    bool have_session = rc == 0;
    int64_t now = clock_now();
    /* A login that happened while this request was parked satisfies prompt=login and max_age. */
    bool fresh = have_session && ia != NULL && s.auth_time >= ia->iat;
    bool need_login = !have_session;
    /* OIDC Core §3.1.2.2, §5.5.1: a sub requested with a value gets a positive answer only for that user;
     * another one signed in must sign in again, and one who has just done so is refused. */
    const struct claim_request *want_sub = claims_request_find(ar->claims_req, CLAIMS_ID_TOKEN, "sub");
    if (want_sub == NULL)
        want_sub = claims_request_find(ar->claims_req, CLAIMS_USERINFO, "sub");
    if (want_sub != NULL && (want_sub->value == NULL && want_sub->values == NULL))
        want_sub = NULL;
    bool wrong_user = have_session && want_sub != NULL && !claim_request_allows(want_sub, s.user_id);
    if (wrong_user && fresh) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                            OAUTH_ERROR(ACCESS_DENIED,
                                        "the signed-in user is not the one the claims parameter names (sub)"),
                            ar->state);
        return;
    }
    if (have_session && !fresh) {
        if (wrong_user)
            need_login = true;
        if (ar->prompt & PROMPT_LOGIN)
            need_login = true;
        if (ar->max_age >= 0 && now - s.auth_time > ar->max_age)
            need_login = true;
        if (ar->id_token_hint != NULL) {
            const char *sub = id_token_hint_sub(req, ar->id_token_hint);
            if (sub == NULL) {
                authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                                    OAUTH_ERROR(INVALID_REQUEST, "id_token_hint is not a valid ID token of this issuer"),
                                    ar->state);
                return;
            }
            if (strcmp(sub, s.user_id) != 0)
                need_login = true;
        }
    }
    if (need_login) {
        if (ar->prompt & PROMPT_NONE) {
            authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                                OAUTH_ERROR(LOGIN_REQUIRED, "the user is not logged in"), ar->state);
            return;
        }
        go_to_page(req, "/interaction/login", ar, ia);
        return;
    }
    if ((ar->prompt & PROMPT_SELECT_ACCOUNT) && !fresh && !(satisfied & PROMPT_SELECT_ACCOUNT)) {
        go_to_page(req, "/interaction/select_account", ar, ia);
        return;
    }
    /* Consent given on this interaction's page covers it, even where it is not remembered (claims named
     * beyond the scopes). */
    bool need_consent = !(satisfied & PROMPT_CONSENT) &&
                        ((ar->prompt & PROMPT_CONSENT) || !consent_covers(req, s.user_id, ar));
    if (need_consent) {
        if (ar->prompt & PROMPT_NONE) {
            authz_respond_error(req, ar->redirect_uri, ar->response_mode,
                                OAUTH_ERROR(CONSENT_REQUIRED, "the user has not consented to this request"),
                                ar->state);
            return;
        }
        go_to_page(req, "/interaction/consent", ar, ia);
        return;
    }
    if (ia != NULL && interaction_finish(req, ia, &err) != 0) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, "this sign-in request was already completed"));
        return;
    }
    issue_response(req, c, ar, &s);
}

void oauth_authorize_busy(struct http_req *req, unsigned retry_after_s)
{
    http_res_header(req, "Retry-After", arena_printf(req->arena, "%u", retry_after_s > 0 ? retry_after_s : 1));
    page_error(req, OAUTH_ERROR(TEMPORARILY_UNAVAILABLE, "the server is busy; try again in a few seconds"));
}

/* ---- where the parameters come from: the request itself, or a pushed request (RFC 9126) ---- */

json_t *authz_pushed_params(const struct form *f, const char *client_id)
{
    static const char *const credentials[] = {"client_secret", "client_assertion", "client_assertion_type"};
    json_t *o = json_object();
    for (size_t i = 0; i < f->n; i++) {
        bool skip = false;
        for (size_t k = 0; k < sizeof(credentials) / sizeof(credentials[0]); k++)
            skip |= str_eq_c(f->params[i].name, credentials[k]);
        /* The parser never gives an empty name, and a repeated parameter was refused by authz_validate()
         * for every name it reads; of any other, the last is kept. */
        if (!skip)
            json_object_setn_new_nocheck(o, f->params[i].name.p, f->params[i].name.len,
                                         json_stringn(f->params[i].value.p, f->params[i].value.len));
    }
    json_object_set_new(o, "client_id", json_string(client_id));
    return o;
}

json_t *authz_pushed_object(const struct form *params, const char *client_id)
{
    return json_pack("{s:b, s:o}", "request_object", 1, "params", authz_pushed_params(params, client_id));
}

/* The parameters pushed under the request_uri of f (RFC 9126 §4), taken once: only by the client that
 * pushed them (client_id must name it), unused and unexpired. Every other parameter of f is ignored. The
 * errors are not redirected: no redirect URI is proven while the request_uri is not. */
static struct oauth_error par_take(struct http_req *req, const struct form *f, const char **client_id,
                                   struct form *out, bool *from_object)
{
    struct str cid, uri;
    int rc = form_get(f, "client_id", &cid);
    if (rc != 0)
        return OAUTH_ERROR(INVALID_REQUEST, rc < 0 ? "client_id is repeated"
                                                   : "client_id is required with request_uri (RFC 9126 section 4)");
    *client_id = str_dup(req->arena, cid);
    if (form_get(f, "request_uri", &uri) != 0)
        return OAUTH_ERROR(INVALID_REQUEST, "request_uri is repeated");
    size_t pl = strlen(PAR_URN_PREFIX);
    if (uri.len <= pl || memcmp(uri.p, PAR_URN_PREFIX, pl) != 0)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "only a request_uri issued by the pushed authorization request "
                                                "endpoint (urn:ietf:params:oauth:request_uri:...) is accepted");
    struct store_token t;
    struct errbuf err;
    uint8_t h[STORE_HASH_LEN];
    store_hash(uri.p, uri.len, h);
    int64_t now = clock_now();
    rc = store_token_get(req->worker->db, req->arena, h, &t, &err);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return oauth_store_failed(req, "par_get", rc, &err);
    if (rc == ERR_NOTFOUND || t.kind != STORE_TOKEN_PAR || t.revoked_at != 0)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri is unknown");
    /* Not consumed for another client: the pushing client can still use it. */
    if (strcmp(t.client_id, *client_id) != 0)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri was issued to another client");
    if (t.consumed_at != 0)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri was already used (it is valid once)");
    if (t.exp <= now)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri has expired");
    rc = store_token_consume(req->worker->db, req->arena, h, STORE_TOKEN_PAR, now, &t, &err);
    if (rc == ERR_CONFLICT)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri was already used (it is valid once)");
    if (rc == ERR_NOTFOUND)
        return OAUTH_ERROR(INVALID_REQUEST_URI, "request_uri has expired");
    if (rc != 0)
        return oauth_store_failed(req, "par_consume", rc, &err);
    json_t *row = json_loads(t.data != NULL ? t.data : "", JSON_REJECT_DUPLICATES, NULL);
    /* A pushed request object's parameters come wrapped (authz_pushed_object); plain ones are the row. */
    *from_object =
        json_is_true(json_object_get(row, "request_object")) && json_is_object(json_object_get(row, "params"));
    json_t *o = *from_object ? json_object_get(row, "params") : row;
    if (!json_is_object(o)) {
        log_error("bad_par_row", LS("rid", req->rid), LS("client_id", *client_id), NULL);
        json_decref(row);
        return OAUTH_ERROR(SERVER_ERROR, "the pushed request could not be read");
    }
    out->params = arena_alloc(req->arena, sizeof(struct form_param) * (json_object_size(o) + 1));
    out->n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (json_is_string(v))
            out->params[out->n++] = (struct form_param){str_c(arena_strdup(req->arena, k)),
                                                        str_c(arena_strdup(req->arena, json_string_value(v)))};
    }
    json_decref(row);
    return OAUTH_OK;
}

/* The one place that turns the parameters an authorization request arrived with into a validated
 * request: a request_uri is replaced by the parameters pushed under it (RFC 9126 §4; those of a pushed
 * request object are validated as such), then authz_validate() (which resolves a `request` object, RFC
 * 9101), then the rule that this client's requests (or every request: par.required) must have been pushed
 * (RFC 9126 §5, §6). */
static void authz_incoming(struct http_req *req, const struct form *sent, struct authz_validation *v)
{
    struct form pushed;
    const struct form *f = sent;
    struct str ru;
    bool from_object = false;
    if (form_get(sent, "request_uri", &ru) != 1) {
        memset(v, 0, sizeof(*v));
        v->error = par_take(req, sent, &v->ar.client_id, &pushed, &from_object);
        if (oauth_failed(v->error))
            return;
        f = &pushed;
    }
    if (from_object)
        authz_validate_object(req, f, v);
    else
        authz_validate(req, f, v);
    if (!oauth_failed(v->error) && f == sent && (req->worker->app->cfg->par.required || v->client.require_par))
        v->error = OAUTH_ERROR(INVALID_REQUEST, "this client must push its authorization request first (RFC 9126): "
                                                "POST it to the pushed authorization request endpoint and send "
                                                "only client_id and the request_uri it returns");
}

void oauth_authorize_handle(struct http_req *req)
{
    struct form f;
    int rc;
    if (!str_eq_c(req->method, "POST")) {
        rc = form_parse(req->arena, req->query.p, req->query.len, req->worker->app->cfg->limits.max_params, &f);
    } else {
        if (!http_req_is_form(req)) {
            page_error(req, OAUTH_ERROR(INVALID_REQUEST, "the request body must be application/x-www-form-urlencoded"));
            return;
        }
        rc = form_parse(req->arena, req->body.p, req->body.len, req->worker->app->cfg->limits.max_params, &f);
    }
    if (rc != FORM_OK) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, rc == FORM_ERR_TOO_MANY ? "too many parameters"
                                                                              : "malformed or non-UTF-8 parameters"));
        return;
    }
    /* Validate, then render here: an error to the verified redirect URI, or the error page. */
    struct authz_validation v;
    authz_incoming(req, &f, &v);
    req->log_client_id = v.ar.client_id;
    if (oauth_failed(v.error)) {
        authz_send_error(req, &v);
        return;
    }
    authz_resume(req, &v.client, &v.ar, NULL, 0);
}
