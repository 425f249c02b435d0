/* interaction.c: the pages a person sees during an authorization request: login, account selection and
 * consent (GET renders, POST acts), each bound to a parked interaction (session/session.h) and protected
 * by its CSRF token. After each step the request resumes in authorize.c. Failed logins are rate-limited
 * per account and client address (session/users.h). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/endpoints.h"
#include "oauth/frontchannel.h"
#include "oauth/scope.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "ui/tmpl.h"
#include "core/banned.h"

/* What a page request carries once loaded and checked. */
struct page_ctx {
    struct form form;
    struct interaction ia;
    struct authz_request ar;
    struct client client;
};

static struct oauth_error expired(void)
{
    return OAUTH_ERROR(INVALID_REQUEST, "this sign-in request has expired or is not valid in this browser; "
                                        "return to the application and start again");
}

/* Loads the page's interaction (from the query on GET, the form on POST) and, on POST, checks CSRF. */
static bool page_load(struct http_req *req, struct page_ctx *pc)
{
    bool post = str_eq_c(req->method, "POST");
    struct str src = post ? req->body : req->query;
    if (form_parse(req->arena, src.p, src.len, req->worker->app->cfg->limits.max_params, &pc->form) != FORM_OK) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, "malformed form"));
        return false;
    }
    const char *id = form_get_dup(req->arena, &pc->form, "interaction");
    struct errbuf err;
    int rc = id != NULL ? interaction_load(req, id, &pc->ia, &err) : ERR_NOTFOUND;
    if (rc != 0) {
        page_error(req, rc == ERR_NOTFOUND ? expired() : oauth_store_failed(req, "interaction_load", rc, &err));
        return false;
    }
    struct authz_request parked;
    if (authz_request_from_json(req->arena, json_object_get(pc->ia.data, "request"), &parked) != 0) {
        page_error(req, expired());
        return false;
    }
    req->log_client_id = parked.client_id;
    if (post && !interaction_csrf_ok(&pc->ia, form_get_dup(req->arena, &pc->form, "csrf"))) {
        struct oauth_error e = OAUTH_ERROR(INVALID_REQUEST, "the form has expired; go back and try again");
        e.http_status = 403;
        page_error(req, e);
        return false;
    }
    /* The request is validated again, by the rules of the authorization endpoint, against the client as
     * it is now: a redirect URI, grant or scope withdrawn while the person was signing in ends the request
     * (never a code sent where the client no longer allows it). */
    struct authz_validation v;
    authz_validate_parked(req, &parked, &v);
    bool store_trouble =
        v.error.code == OAUTH_ERR_SERVER_ERROR || v.error.code == OAUTH_ERR_TEMPORARILY_UNAVAILABLE;
    if (oauth_failed(v.error) && store_trouble) {
        page_error(req, v.error); /* logged; the request stays, to be tried again */
        return false;
    }
    if (oauth_failed(v.error)) {
        log_info("interaction_invalid", LS("rid", req->rid), LS("client_id", parked.client_id),
                 LS("error", oauth_err_str(v.error.code)), NULL);
        interaction_finish(req, &pc->ia, &err);
        if (v.error.code == OAUTH_ERR_INVALID_CLIENT && !v.redirectable)
            v.error = expired(); /* the client was deleted since: the request is over */
        authz_send_error(req, &v);
        return false;
    }
    pc->ar = v.ar;
    pc->client = v.client;
    return true;
}

static json_t *page_data(struct http_req *req, const struct page_ctx *pc, const char *title, const char *path)
{
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string(title));
    json_object_set_new(d, "action", json_string(issuer_url(req, path)));
    json_object_set_new(d, "interaction", json_string(pc->ia.id));
    json_object_set_new(d, "csrf", json_string(pc->ia.csrf));
    json_object_set_new(d, "client_id", json_string(pc->client.client_id));
    json_object_set_new(d, "client_name",
                        json_string(pc->client.client_name != NULL ? pc->client.client_name : pc->client.client_id));
    return d;
}

/* The person said no, or cancelled: access_denied to the client (RFC 6749 §4.1.2.1). */
static void deny(struct http_req *req, struct page_ctx *pc, const char *why)
{
    struct errbuf err;
    interaction_finish(req, &pc->ia, &err);
    authz_respond_error(req, pc->ar.redirect_uri, pc->ar.response_mode, OAUTH_ERROR(ACCESS_DENIED, why),
                        pc->ar.state);
}

static const char *display_name(struct http_req *req, const char *user_id)
{
    struct store_user u;
    struct errbuf err;
    if (store_user_get(req->worker->db, req->arena, user_id, &u, &err) != 0)
        return user_id;
    json_t *claims = json_loads(u.claims != NULL ? u.claims : "{}", 0, NULL);
    const char *name = json_string_value(json_object_get(claims, "name"));
    const char *out = arena_strdup(req->arena, name != NULL ? name : u.username);
    json_decref(claims);
    return out;
}

static void login_page(struct http_req *req, struct page_ctx *pc, int status, const char *error,
                       const char *username)
{
    json_t *d = page_data(req, pc, "Sign in", "/interaction/login");
    const char *hint = username != NULL ? username : pc->ar.login_hint;
    if (hint != NULL)
        json_object_set_new(d, "login_hint", json_string(hint));
    if (error != NULL)
        json_object_set_new(d, "error", json_string(error));
    page_send(req, status, "login", d);
    json_decref(d);
}

/* The login page again, with 503 (and Retry-After) while the database is unreachable, else 500. */
static void login_store_failed(struct http_req *req, struct page_ctx *pc, const char *op, int rc,
                               const struct errbuf *err, const char *username)
{
    struct oauth_error e = oauth_store_failed(req, op, rc, err);
    int status = oauth_err_status(&e);
    oauth_error_record(req, e);
    if (status == 503)
        http_res_header(req, "Retry-After", OAUTH_RETRY_AFTER);
    login_page(req, pc, status, "Sign-in is unavailable right now. Try again in a moment.", username);
}

void oauth_login_handle(struct http_req *req)
{
    struct page_ctx pc;
    if (!page_load(req, &pc))
        return;
    if (!str_eq_c(req->method, "POST")) {
        login_page(req, &pc, 200, NULL, NULL);
        return;
    }
    const char *action = form_get_dup(req->arena, &pc.form, "action");
    if (action != NULL && strcmp(action, "cancel") == 0) {
        deny(req, &pc, "the user cancelled the sign-in");
        return;
    }
    const char *username = form_get_dup(req->arena, &pc.form, "username");
    struct str password = STR_NULL;
    form_get(&pc.form, "password", &password);
    if (username == NULL || str_is_null(password)) {
        login_page(req, &pc, 400, "Enter your username and password.", username);
        return;
    }
    struct app *app = req->worker->app;
    int64_t now = clock_now();
    /* A browser that signed in as this user before counts its failures apart from the account's, which
     * strangers share with any attacker (session/users.h). */
    const char *device = device_cookie_check(req, username);
    int64_t wait = login_limiter_check(app->limiter, username, req->peer, device, now);
    if (wait > 0) {
        log_warn("login_throttled", LS("rid", req->rid), LS("peer", req->peer), LS("tcp_peer", req->tcp_peer),
                 LI("wait_s", wait), LI("known_device", device != NULL), NULL);
        login_page(req, &pc, 429,
                   arena_printf(req->arena, "Too many failed attempts. Try again in %lld seconds.", (long long)wait),
                   username);
        return;
    }
    struct store_user u;
    struct errbuf err;
    int rc = user_authenticate(req->worker->db, req->arena, username, password.p, password.len, &u, &err);
    if (rc == ERR_NOTFOUND) {
        login_limiter_failure(app->limiter, username, req->peer, device, now);
        log_info("login_failed", LS("rid", req->rid), LS("client_id", pc.client.client_id), LS("peer", req->peer),
                 LS("tcp_peer", req->tcp_peer), LI("known_device", device != NULL), NULL);
        login_page(req, &pc, 401, "Wrong username or password.", username);
        return;
    }
    if (rc != 0) {
        login_store_failed(req, &pc, "user_authenticate", rc, &err, username);
        return;
    }
    login_limiter_success(app->limiter, username, req->peer, device);
    struct session prev, s;
    bool had = session_load(req, &prev, &err) == 0;
    rc = session_create(req, u.id, "pwd", had ? &prev : NULL, &s, &err);
    if (rc != 0) {
        login_store_failed(req, &pc, "session_create", rc, &err, username);
        return;
    }
    device_cookie_set(req, username);
    log_info("login", LS("rid", req->rid), LS("client_id", pc.client.client_id), LS("sub", u.id), NULL);
    /* The new cookie is only sent by the browser on the next request, so resume through a redirect. */
    redirect_see_other(req, arena_printf(req->arena, "%s?interaction=%s", issuer_url(req, "/interaction/resume"),
                                         pc.ia.id));
}

void oauth_login_busy(struct http_req *req, unsigned retry_after_s)
{
    struct page_ctx pc;
    if (!page_load(req, &pc))
        return;
    http_res_header(req, "Retry-After", arena_printf(req->arena, "%u", retry_after_s));
    login_page(req, &pc, 503, "Too many sign-ins are in progress. Try again in a few seconds.",
               form_get_dup(req->arena, &pc.form, "username"));
}

/* GET /interaction/resume: continue after login, once the browser carries the new session cookie. */
void oauth_resume_handle(struct http_req *req)
{
    struct page_ctx pc;
    if (!page_load(req, &pc))
        return;
    authz_resume(req, &pc.client, &pc.ar, &pc.ia, 0);
}

void oauth_select_account_handle(struct http_req *req)
{
    struct page_ctx pc;
    if (!page_load(req, &pc))
        return;
    struct session s;
    struct errbuf err;
    if (session_load(req, &s, &err) != 0) {
        authz_resume(req, &pc.client, &pc.ar, &pc.ia, 0); /* no session any more: back to login */
        return;
    }
    if (!str_eq_c(req->method, "POST")) {
        json_t *d = page_data(req, &pc, "Choose an account", "/interaction/select_account");
        json_object_set_new(d, "user", json_string(display_name(req, s.user_id)));
        page_send(req, 200, "select_account", d);
        json_decref(d);
        return;
    }
    const char *decision = form_get_dup(req->arena, &pc.form, "decision");
    if (decision != NULL && strcmp(decision, "other") == 0) {
        login_page(req, &pc, 200, NULL, NULL);
        return;
    }
    authz_resume(req, &pc.client, &pc.ar, &pc.ia, PROMPT_SELECT_ACCOUNT);
}

static const char *scope_description(const char *s)
{
    static const struct {
        const char *scope, *text;
    } known[] = {
        {"openid", "Sign you in with your account"},
        {"profile", "See your name and basic profile (name, username, picture, locale)"},
        {"email", "See your email address"},
        {"address", "See your postal address"},
        {"phone", "See your phone number"},
        {"offline_access", "Keep access when you are not using the application"},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].scope, s) == 0)
            return known[i].text;
    return NULL;
}

void oauth_consent_handle(struct http_req *req)
{
    struct page_ctx pc;
    if (!page_load(req, &pc))
        return;
    struct session s;
    struct errbuf err;
    if (session_load(req, &s, &err) != 0) {
        authz_resume(req, &pc.client, &pc.ar, &pc.ia, 0);
        return;
    }
    struct scope_set want;
    scope_parse(req->arena, pc.ar.scope, strlen(pc.ar.scope), &want);
    if (!str_eq_c(req->method, "POST")) {
        json_t *d = page_data(req, &pc, "Allow access?", "/interaction/consent");
        json_object_set_new(d, "user", json_string(display_name(req, s.user_id)));
        json_t *scopes = json_array();
        bool offline = false;
        /* offline_access is granted only where issue_code() keeps it (OIDC Core §11): do not ask for it
         * when it will be dropped. */
        bool offline_kept = pc.client.refresh_policy != REFRESH_OFFLINE_CONSENT || (pc.ar.prompt & PROMPT_CONSENT);
        for (size_t i = 0; i < want.n; i++) {
            const char *desc = scope_description(want.v[i]);
            if (strcmp(want.v[i], "offline_access") == 0) {
                if (!offline_kept)
                    continue;
                offline = true;
            }
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(want.v[i]));
            json_object_set_new(o, "description",
                                json_string(desc != NULL ? desc
                                                         : arena_printf(req->arena, "Use the API permission \"%s\"",
                                                                        want.v[i])));
            json_array_append_new(scopes, o);
        }
        json_object_set_new(d, "scopes", scopes);
        /* Claims the claims parameter names beyond those of the scopes (OIDC Core §5.5), one by one. */
        json_t *claims = json_array();
        size_t k;
        json_t *name;
        json_t *beyond = authz_claims_beyond_scope(req->arena, &pc.ar);
        json_array_foreach(beyond, k, name)
        {
            json_t *o = json_object();
            json_object_set(o, "name", name);
            json_array_append_new(claims, o);
        }
        json_decref(beyond);
        json_object_set_new(d, "claims", claims);
        json_t *resources = json_array();
        if (pc.ar.resource != NULL) {
            json_t *o = json_object();
            json_object_set_new(o, "identifier", json_string(pc.ar.resource));
            json_array_append_new(resources, o);
        }
        json_object_set_new(d, "resources", resources);
        json_object_set_new(d, "offline", json_boolean(offline));
        page_send(req, 200, "consent", d);
        json_decref(d);
        return;
    }
    const char *decision = form_get_dup(req->arena, &pc.form, "decision");
    if (decision == NULL || strcmp(decision, "allow") != 0) {
        deny(req, &pc, "the user denied the request");
        return;
    }
    /* Remember the consent, widening what was granted before (revocable: ostiary consent revoke). */
    struct store_consent old, cs = {0};
    struct scope_set have = {NULL, 0}, res = {NULL, 0};
    if (store_consent_get(req->worker->db, req->arena, s.user_id, pc.client.client_id, &old, &err) == 0) {
        scope_parse(req->arena, old.scope, strlen(old.scope), &have);
        scope_parse(req->arena, old.resources, strlen(old.resources), &res);
    }
    struct scope_set merged = {arena_alloc(req->arena, sizeof(char *) * (have.n + want.n + 1)), 0};
    for (size_t i = 0; i < have.n; i++)
        merged.v[merged.n++] = have.v[i];
    for (size_t i = 0; i < want.n; i++)
        if (!scope_has(&merged, want.v[i]))
            merged.v[merged.n++] = want.v[i];
    struct scope_set rmerged = {arena_alloc(req->arena, sizeof(char *) * (res.n + 2)), 0};
    for (size_t i = 0; i < res.n; i++)
        rmerged.v[rmerged.n++] = res.v[i];
    if (pc.ar.resource != NULL && !scope_has(&rmerged, pc.ar.resource))
        rmerged.v[rmerged.n++] = pc.ar.resource;
    cs.user_id = s.user_id;
    cs.client_id = pc.client.client_id;
    cs.scope = scope_join(req->arena, &merged);
    cs.resources = scope_join(req->arena, &rmerged);
    cs.created_at = cs.updated_at = clock_now();
    int rc = store_consent_put(req->worker->db, &cs, &err);
    if (rc != 0) /* not fatal: the consent is asked again next time */
        oauth_store_failed(req, "consent_put", rc, &err);
    authz_resume(req, &pc.client, &pc.ar, &pc.ia, PROMPT_CONSENT | PROMPT_SELECT_ACCOUNT);
}

void oauth_assets_handle(struct http_req *req)
{
    size_t len;
    const char *css = tmpl_set_css(req->worker->app->pages, &len);
    http_res_header(req, "Cache-Control", "public, max-age=3600");
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_res_body(req, 200, "text/css; charset=utf-8", css, len);
}
