/* end_session.c: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2-3): id_token_hint,
 * client_id, post_logout_redirect_uri (exactly one of the client's registered ones), state. A request
 * that cannot be attributed to the session (no hint naming this session's user) is confirmed on a page
 * first, so a third-party site cannot log a person out. Offline grants (refresh tokens) survive. */
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
#include "session/session.h"
#include "core/banned.h"

/* The longest Location this endpoint sends back to the application. */
#define LOGOUT_LOCATION_MAX 16384

struct logout_req {
    const char *id_token_hint, *client_id, *post_logout_redirect_uri, *state;
    const char *hint_sub, *hint_sid;
    struct client client;
    bool have_client;
};

static const char *fget(struct http_req *req, const struct form *f, const char *name, bool *repeated)
{
    struct str v;
    int rc = form_get(f, name, &v);
    if (rc < 0)
        *repeated = true;
    return rc == 0 ? str_dup(req->arena, v) : NULL;
}

/* Where the browser goes back to: the registered URI with state (RP-Initiated Logout §3), or NULL when
 * that would not fit in LOGOUT_LOCATION_MAX. */
static const char *logout_location(struct http_req *req, const char *uri, const char *state)
{
    struct strbuf sb;
    strbuf_init(&sb, req->arena, LOGOUT_LOCATION_MAX);
    strbuf_adds(&sb, uri);
    if (state != NULL) {
        strbuf_addc(&sb, strchr(uri, '?') ? '&' : '?');
        strbuf_adds(&sb, "state=");
        strbuf_add_urlenc(&sb, state, strlen(state));
    }
    return strbuf_str(&sb);
}

static void finish(struct http_req *req, const struct logout_req *lr, bool signed_out)
{
    if (lr->post_logout_redirect_uri != NULL) {
        /* Checked when the request came in (logout_validate); NULL would make the response a 500. */
        redirect_see_other(req, logout_location(req, lr->post_logout_redirect_uri, lr->state));
        return;
    }
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string(signed_out ? "Signed out" : "Still signed in"));
    if (!signed_out)
        json_object_set_new(d, "still_signed_in", json_true());
    if (lr->have_client)
        json_object_set_new(d, "client_name", json_string(lr->client.client_name != NULL ? lr->client.client_name
                                                                                          : lr->client.client_id));
    page_send(req, 200, "logged_out", d);
    json_decref(d);
}

static struct oauth_error logout_validate(struct http_req *req, const struct form *f, struct logout_req *lr)
{
    bool repeated = false;
    memset(lr, 0, sizeof(*lr));
    lr->id_token_hint = fget(req, f, "id_token_hint", &repeated);
    lr->client_id = fget(req, f, "client_id", &repeated);
    lr->post_logout_redirect_uri = fget(req, f, "post_logout_redirect_uri", &repeated);
    lr->state = fget(req, f, "state", &repeated);
    if (repeated)
        return OAUTH_ERROR(INVALID_REQUEST, "a parameter is repeated");
    const char *aud = NULL;
    if (lr->id_token_hint != NULL) {
        /* An expired ID token is still a good hint (RP-Initiated Logout §2); it must be one of ours. */
        json_t *claims;
        if (id_token_hint_verify(req->worker, req->arena, lr->id_token_hint, &claims) != 0)
            return OAUTH_ERROR(INVALID_REQUEST, "id_token_hint is not a valid ID token of this issuer");
        lr->hint_sub = json_string_value(json_object_get(claims, "sub"));
        lr->hint_sid = json_string_value(json_object_get(claims, "sid"));
        aud = json_string_value(json_object_get(claims, "aud"));
        if (lr->client_id != NULL && aud != NULL && strcmp(aud, lr->client_id) != 0)
            return OAUTH_ERROR(INVALID_REQUEST, "client_id does not match the id_token_hint audience");
    }
    const char *cid = lr->client_id != NULL ? lr->client_id : aud;
    if (cid != NULL) {
        int rc = authz_load_client(req, cid, &lr->client);
        if (rc == ERR_NOTFOUND)
            return OAUTH_ERROR(INVALID_REQUEST, "unknown client_id");
        if (rc != 0)
            return oauth_store_error(rc);
        lr->have_client = true;
        req->log_client_id = lr->client.client_id;
    }
    if (lr->post_logout_redirect_uri != NULL) {
        if (!lr->have_client)
            return OAUTH_ERROR(INVALID_REQUEST,
                               "post_logout_redirect_uri needs id_token_hint or client_id to identify the client");
        bool ok = false;
        for (size_t i = 0; i < lr->client.n_post_logout_redirect_uris; i++)
            ok |= strcmp(lr->client.post_logout_redirect_uris[i], lr->post_logout_redirect_uri) == 0;
        if (!ok)
            return OAUTH_ERROR(INVALID_REQUEST, "post_logout_redirect_uri is not registered for this client");
        /* Refused before anything happens, rather than a session ended and a cut-off URL sent. */
        if (logout_location(req, lr->post_logout_redirect_uri, lr->state) == NULL)
            return OAUTH_ERROR(INVALID_REQUEST, "state is too long: the redirect back to the application would "
                                                "exceed 16384 bytes");
    }
    return OAUTH_OK;
}

static json_t *logout_to_json(const struct logout_req *lr)
{
    json_t *o = json_object();
    json_object_set_new(o, "logout", json_true());
    if (lr->have_client)
        json_object_set_new(o, "client_id", json_string(lr->client.client_id));
    if (lr->post_logout_redirect_uri != NULL)
        json_object_set_new(o, "post_logout_redirect_uri", json_string(lr->post_logout_redirect_uri));
    if (lr->state != NULL)
        json_object_set_new(o, "state", json_string(lr->state));
    return o;
}

/* POST /session/end/confirm: the answer of the confirmation page. */
static void confirm(struct http_req *req, const struct form *f)
{
    bool repeated = false;
    const char *id = fget(req, f, "logout", &repeated);
    struct interaction ia;
    struct errbuf err;
    if (id == NULL || interaction_load(req, id, &ia, &err) != 0 ||
        !json_is_true(json_object_get(json_object_get(ia.data, "request"), "logout"))) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, "this sign-out request has expired; try again"));
        return;
    }
    if (!interaction_csrf_ok(&ia, fget(req, f, "csrf", &repeated))) {
        struct oauth_error e = OAUTH_ERROR(INVALID_REQUEST, "the form has expired; try again");
        e.http_status = 403;
        page_error(req, e);
        return;
    }
    interaction_finish(req, &ia, &err);
    json_t *r = json_object_get(ia.data, "request");
    struct logout_req lr;
    memset(&lr, 0, sizeof(lr));
    lr.post_logout_redirect_uri = json_string_value(json_object_get(r, "post_logout_redirect_uri"));
    lr.state = json_string_value(json_object_get(r, "state"));
    const char *cid = json_string_value(json_object_get(r, "client_id"));
    if (cid != NULL && authz_load_client(req, cid, &lr.client) == 0)
        lr.have_client = true;
    const char *decision = fget(req, f, "decision", &repeated);
    if (decision != NULL && strcmp(decision, "yes") == 0) {
        struct session s;
        if (session_load(req, &s, &err) == 0) {
            session_end(req, &s, &err);
            log_info("logout", LS("rid", req->rid), LS("sub", s.user_id), NULL);
        }
        finish(req, &lr, true);
        return;
    }
    /* Cancelled: stay signed in; go back to the application if it said where. */
    finish(req, &lr, false);
}

void oauth_end_session_handle(struct http_req *req)
{
    bool post = str_eq_c(req->method, "POST");
    struct form f;
    struct str src = post ? req->body : req->query;
    if (form_parse(req->arena, src.p, src.len, req->worker->app->cfg->limits.max_params, &f) != FORM_OK) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, "malformed parameters"));
        return;
    }
    struct str v;
    if (post && form_get(&f, "logout", &v) == 0) {
        confirm(req, &f);
        return;
    }
    struct logout_req lr;
    struct oauth_error e = logout_validate(req, &f, &lr);
    if (oauth_failed(e)) {
        page_error(req, e);
        return;
    }
    struct session s;
    struct errbuf err;
    if (session_load(req, &s, &err) != 0) {
        finish(req, &lr, true); /* nobody to sign out */
        return;
    }
    /* Attributable: the hint names this session (by sid, or by user when the token has no sid). */
    bool attributable = lr.hint_sub != NULL && strcmp(lr.hint_sub, s.user_id) == 0 &&
                        (lr.hint_sid == NULL || strcmp(lr.hint_sid, s.sid) == 0);
    if (attributable) {
        session_end(req, &s, &err);
        log_info("logout", LS("rid", req->rid), LS("sub", s.user_id), NULL);
        finish(req, &lr, true);
        return;
    }
    json_t *j = logout_to_json(&lr);
    struct interaction ia;
    int rc = interaction_create(req, lr.have_client ? lr.client.client_id : "", "request", j, &ia, &err);
    json_decref(j);
    if (rc != 0) {
        page_error(req, oauth_store_failed(req, "interaction_create", rc, &err));
        return;
    }
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string("Sign out?"));
    json_object_set_new(d, "action", json_string(issuer_url(req, "/session/end")));
    json_object_set_new(d, "logout", json_string(ia.id));
    json_object_set_new(d, "csrf", json_string(ia.csrf));
    if (lr.have_client)
        json_object_set_new(d, "client_name", json_string(lr.client.client_name != NULL ? lr.client.client_name
                                                                                         : lr.client.client_id));
    page_send(req, 200, "logout", d);
    json_decref(d);
}
