/* authorize.c: authorization endpoint (RFC 6749 §3.1, §4.1.1-4.1.2.1; OIDC Core §3.1.2; RFC 7636 §4.3;
 * RFC 8707; RFC 8252 §7.3 loopback redirects of native clients; RFC 9207 `iss`). Validates the request,
 * then either answers at once (SSO session and remembered consent, or prompt=none) or parks it as an
 * interaction and sends the browser to the login, account-selection or consent page (interaction.c),
 * which resume it through authz_resume(). Implicit and hybrid response types are not served; their
 * errors go in the fragment (Multiple Response Types §5). */
#include "oauth/authorize.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/frontchannel.h"
#include "oauth/pkce.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "session/session.h"
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

/* The API a request targets: `resource` (or audience) when given, else the one API its scopes belong to. */
static struct oauth_error authz_select_resource(const struct app *app, const struct client *c,
                                                const char *resource, const struct scope_set *scopes,
                                                const struct resource **out)
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
    if (*out != NULL && c->n_resources > 0) {
        bool ok = false;
        for (size_t i = 0; i < c->n_resources; i++)
            ok |= strcmp(c->resources[i], (*out)->identifier) == 0;
        if (!ok)
            return OAUTH_ERROR(INVALID_TARGET, "this client may not request tokens for that resource");
    }
    return OAUTH_OK;
}

/* The scopes a client may request: its registered scope, or, when it registered none, the OpenID scopes
 * plus the scopes of the APIs it may target. */
static void allowed_scopes(struct arena *a, const struct app *app, const struct client *c, struct scope_set *out)
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
    int rc = client_lookup_parsed(req->worker, req->arena, client_id, out, &err);
    if (rc == ERR_NOTFOUND)
        return rc;
    if (rc == ERR_INVALID)
        return ERR_FAIL;
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
 * §5; RFC 6749 §4.2.2.1). Only code is served, but the unsupported_response_type error for the others is
 * then delivered where their client reads it, and not where a Referer header would leak it. A missing or
 * repeated response_type, code, none and unknown values: the query. */
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
    /* response_mode=query stays the fragment for such a type: "in no case" are its response parameters
     * query-encoded (Multiple Response Types §2.1), and the request is refused anyway. */
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
                                         "claims", "registration"};
    for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
        struct str v;
        if (param(f, single[i], &v) < 0)
            return (struct oauth_error){OAUTH_ERR_INVALID_REQUEST,
                                        arena_printf(a, "%s is repeated (RFC 6749 section 3.1)", single[i]), 0, NULL};
    }
    struct str v;
    if (param(f, "request", &v) == 0)
        return OAUTH_ERROR(REQUEST_NOT_SUPPORTED, "request objects are not supported");
    if (param(f, "request_uri", &v) == 0)
        return OAUTH_ERROR(REQUEST_URI_NOT_SUPPORTED, "request_uri is not supported");
    if (param(f, "registration", &v) == 0)
        return OAUTH_ERROR(REGISTRATION_NOT_SUPPORTED, "the registration parameter is not supported");

    if (!(c->grant_types & GRANT_AUTHORIZATION_CODE))
        return OAUTH_ERROR(UNAUTHORIZED_CLIENT, "this client is not registered for the authorization code flow");
    ar->response_type = form_get_dup(a, f, "response_type");
    if (ar->response_type == NULL)
        return OAUTH_ERROR(INVALID_REQUEST, "response_type is missing");
    if (strcmp(ar->response_type, "code") != 0)
        return OAUTH_ERROR(UNSUPPORTED_RESPONSE_TYPE, "only response_type=code is supported");

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

    /* Scope. */
    const char *scope = form_get_dup(a, f, "scope");
    struct scope_set req_scopes = {NULL, 0};
    if (scope != NULL && scope_parse(a, scope, strlen(scope), &req_scopes) != 0)
        return OAUTH_ERROR(INVALID_SCOPE, "scope is malformed (RFC 6749 section 3.3)");
    if (scope == NULL)
        req_scopes.v = arena_alloc(a, sizeof(char *));
    struct scope_set allowed;
    allowed_scopes(a, req->worker->app, c, &allowed);
    if (req_scopes.n == 0) {
        /* RFC 6749 §3.3: absent scope means the client's default (its registered scopes). */
        req_scopes = allowed;
    } else if (!scope_subset(&req_scopes, &allowed)) {
        return OAUTH_ERROR(INVALID_SCOPE, "requested scope is not allowed for this client");
    }
    ar->scope = scope_join(a, &req_scopes);

    /* PKCE (RFC 7636 §4.3: method defaults to plain). */
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
        if (c->require_pkce)
            return OAUTH_ERROR(INVALID_REQUEST, "PKCE is required: send code_challenge and code_challenge_method=S256");
    }

    struct oauth_error e = parse_prompt(form_get_dup(a, f, "prompt"), &ar->prompt);
    if (oauth_failed(e))
        return e;
    ar->max_age = -1;
    const char *max_age = form_get_dup(a, f, "max_age");
    if (max_age != NULL && (str_to_i64(str_c(max_age), &ar->max_age) != 0))
        return OAUTH_ERROR(INVALID_REQUEST, "max_age must be a non-negative integer number of seconds");

    /* Resource indicator or Auth0-style audience (the same thing, RFC 8707). */
    const char *resource = form_get_dup(a, f, "resource");
    const char *audience = form_get_dup(a, f, "audience");
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

void authz_validate(const struct http_req *req, const struct form *f, struct authz_validation *out)
{
    memset(out, 0, sizeof(*out));
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
}

void authz_validate_parked(const struct http_req *req, const struct authz_request *parked,
                           struct authz_validation *out)
{
    struct form f;
    request_params(req->arena, parked, &f);
    authz_validate(req, &f, out);
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

/* Remembered consent covers the request? */
static bool consent_covers(struct http_req *req, const char *user_id, const struct authz_request *ar)
{
    struct store_consent cs;
    struct errbuf err;
    if (store_consent_get(req->worker->db, req->arena, user_id, ar->client_id, &cs, &err) != 0)
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
        int rc = interaction_create(req, ar->client_id, j, &ia, &err);
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

/* Issues the authorization code and sends it (RFC 6749 §4.1.2). */
static void issue_code(struct http_req *req, const struct client *c, const struct authz_request *ar,
                       const struct session *s)
{
    struct worker *w = req->worker;
    struct arena *a = req->arena;
    int64_t now = clock_now();
    struct scope_set granted;
    scope_parse(a, ar->scope, strlen(ar->scope), &granted);
    bool offline = scope_has(&granted, "offline_access");
    /* OIDC Core §11: offline access needs prompt=consent unless the client's policy says otherwise; the
     * scope is dropped (not an error) when the condition is not met. */
    if (offline && c->refresh_policy == REFRESH_OFFLINE_CONSENT && !(ar->prompt & PROMPT_CONSENT)) {
        struct scope_set kept = {arena_alloc(a, sizeof(char *) * (granted.n + 1)), 0};
        for (size_t i = 0; i < granted.n; i++)
            if (strcmp(granted.v[i], "offline_access") != 0)
                kept.v[kept.n++] = granted.v[i];
        granted = kept;
        offline = false;
    }
    const char *code = rand_token(a, 32);
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
    json_object_set_new(d, "claims_in_id_token", json_false());
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);

    struct store_token t = {0};
    store_hash(code, strlen(code), t.hash);
    t.kind = STORE_TOKEN_CODE;
    t.client_id = c->client_id;
    t.sub = s->user_id;
    t.scope = scope_join(a, &granted);
    t.aud = ar->resource;
    t.grant_id = rand_token(a, 16);
    t.data = text;
    t.iat = now;
    t.exp = now + w->app->cfg->tokens.code_ttl;
    struct errbuf err;
    int rc = store_token_put(w->db, &t, &err);
    free(text);
    if (rc != 0) {
        authz_respond_error(req, ar->redirect_uri, ar->response_mode, oauth_store_failed(req, "code_put", rc, &err),
                            ar->state);
        return;
    }
    struct authz_param p = {"code", code};
    authz_respond(req, ar->redirect_uri, ar->response_mode, &p, 1, ar->state);
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
    if (have_session && !fresh) {
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
    bool need_consent = (ar->prompt & PROMPT_CONSENT) ? !(satisfied & PROMPT_CONSENT)
                                                       : !consent_covers(req, s.user_id, ar);
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
    issue_code(req, c, ar, &s);
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
    authz_validate(req, &f, &v);
    req->log_client_id = v.ar.client_id;
    if (oauth_failed(v.error)) {
        authz_send_error(req, &v);
        return;
    }
    authz_resume(req, &v.client, &v.ar, NULL, 0);
}
