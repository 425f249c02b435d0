/* device_auth.c: the device authorization endpoint (RFC 8628 §3.1, §3.2): a device's client, authenticated
 * as at the token endpoint (public clients by client_id alone), asks for scopes and an API; the answer is a
 * device code to poll with, a user code for the person, and where to enter it. The rows it writes are
 * described in device.h; polling is grant_device.c's, the verification page device_page.c's. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/device.h"
#include "oauth/endpoints.h"
#include "oauth/frontchannel.h"
#include "oauth/scope.h"
#include "oauth/user_code.h"
#include "store/store.h"
#include "core/banned.h"

/* Tries of a new user code when one collides with a live (or not yet collected) one: with N codes live a
 * collision has the chance N / 20^8, so four tries fail together only in a store of billions of codes. */
#define USER_CODE_TRIES 4

/* A validated device authorization request. */
struct device_auth_req {
    const char *scope;            /* requested (or the client's default), space-separated */
    const struct resource *res;   /* the API, or NULL */
};

/* RFC 8628 §3.1: client_id (read by client authentication), scope, and resource / audience (RFC 8707).
 * The client must be registered for the device grant (RFC 6749 §5.2 unauthorized_client); the scopes must
 * be its to ask for and pick at most one API, as at the authorization endpoint. */
static struct oauth_error device_auth_validate(struct http_req *req, const struct form *f, const struct client *c,
                                               struct device_auth_req *out)
{
    struct arena *a = req->arena;
    struct scope_set want;
    struct str resource;
    struct oauth_error e = scope_resource_parse(a, req->worker->app, f, &want, &resource);
    if (oauth_failed(e))
        return e;
    if (!(c->grant_types & GRANT_DEVICE_CODE))
        return OAUTH_ERROR(UNAUTHORIZED_CLIENT, "this client is not registered for the device authorization grant");
    struct scope_set allowed;
    authz_allowed_scopes(a, req->worker->app, c, &allowed);
    if (want.n == 0)
        want = allowed; /* RFC 6749 §3.3: absent scope means the client's default */
    else if (!scope_subset(&want, &allowed))
        return OAUTH_ERROR(INVALID_SCOPE, "requested scope is not allowed for this client");
    out->scope = scope_join(a, &want);
    return authz_select_resource(req->worker->app, c, str_is_null(resource) ? NULL : str_dup(a, resource), &want,
                                 &out->res);
}

/* The two rows of device.h in one transaction. ERR_CONFLICT: the user code's key exists already. */
static int put_rows(struct http_req *req, const struct client *c, const struct device_auth_req *dr,
                    const char *device_code, const char *user_code, int64_t now, struct errbuf *err)
{
    struct worker *w = req->worker;
    struct arena *a = req->arena;
    struct store_token d = {0}, u = {0};
    store_hash(device_code, strlen(device_code), d.hash);
    d.kind = STORE_TOKEN_DEVICE;
    d.client_id = c->client_id;
    d.scope = dr->scope;
    d.aud = dr->res != NULL ? dr->res->identifier : NULL;
    d.grant_id = rand_id_ordered(a);
    d.data = "{}";
    d.iat = now;
    d.exp = now + w->app->cfg->device.code_ttl;
    user_code_lookup_key(w->app->user_code_key, user_code, u.hash);
    u.kind = STORE_TOKEN_USER_CODE;
    u.client_id = c->client_id;
    u.scope = "";
    u.grant_id = d.grant_id;
    json_t *data = json_object();
    json_object_set_new(data, "device", json_string(b64url_encode(a, d.hash, sizeof(d.hash))));
    char *text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    u.data = arena_strdup(a, text);
    free(text);
    u.iat = d.iat;
    u.exp = d.exp;
    int rc = store_begin(w->db, err);
    if (rc != 0)
        return rc;
    rc = store_token_put(w->db, &d, err);
    if (rc == 0)
        rc = store_token_put(w->db, &u, err);
    if (rc != 0) {
        store_rollback(w->db);
        return rc;
    }
    return store_commit(w->db, err); /* a deferred write's conflict is reported here (store.h) */
}

void oauth_device_auth_handle(struct http_req *req)
{
    struct form f;
    struct client c;
    struct device_auth_req dr = {0};
    struct oauth_error e = backchannel_form(req, &f);
    if (!oauth_failed(e))
        e = client_authenticate(req, &f, true, &c);
    if (!oauth_failed(e))
        e = device_auth_validate(req, &f, &c, &dr);
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    struct app *app = req->worker->app;
    int64_t now = clock_now();
    const char *device_code = NULL;
    char user_code[USER_CODE_LEN + 1];
    struct errbuf err;
    int rc = ERR_CONFLICT;
    for (int i = 0; i < USER_CODE_TRIES && rc == ERR_CONFLICT; i++) {
        device_code = rand_token(req->arena, 32);
        user_code_generate(user_code);
        rc = put_rows(req, &c, &dr, device_code, user_code, now, &err);
    }
    if (rc != 0) {
        oauth_error_send_json(req, oauth_store_failed(req, "device_put", rc, &err));
        return;
    }
    char shown[USER_CODE_SHOWN_LEN + 1];
    user_code_format(user_code, shown);
    const char *page = issuer_url(req, DEVICE_PAGE_PATH);
    json_t *o = json_object();
    json_object_set_new(o, "device_code", json_string(device_code));
    json_object_set_new(o, "user_code", json_string(shown));
    json_object_set_new(o, "verification_uri", json_string(page));
    /* RFC 8628 §3.3.1: the code in the URI, for a QR code or a link; the page still asks to confirm it. */
    json_object_set_new(o, "verification_uri_complete", json_string(arena_printf(req->arena, "%s?user_code=%s",
                                                                                  page, shown)));
    json_object_set_new(o, "expires_in", json_integer(app->cfg->device.code_ttl));
    json_object_set_new(o, "interval", json_integer(app->cfg->device.interval));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    http_res_no_store(req);
    http_res_json(req, 200, text, strlen(text));
    free(text);
}
