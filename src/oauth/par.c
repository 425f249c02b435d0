/* par.c: the pushed authorization request endpoint (RFC 9126 §2): an authenticated client posts the
 * parameters of an authorization request; they are validated now, by the authorization endpoint's own
 * validation (authz_validate), and kept under a one-time request_uri that /auth takes (authorize.c).
 * Client authentication is client.c's, as at the token endpoint; public clients identify themselves with
 * client_id. A request object (`request`, RFC 9126 §3, RFC 9101) is verified at the push, with the
 * authenticated client's keys, and its parameters are what is kept; a DPoP proof (RFC 9449 §10.1) binds
 * the code to its key as dpop_jkt does. Not here: an unregistered redirect_uri (§2.4). */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/rand.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/request_object.h"
#include "store/store.h"
#include "core/banned.h"

/* The parameters to validate and keep: the body's without the credentials, client_id the authenticated
 * client's; for a request object (RFC 9126 §3), those it carries, verified now (its jti is spent now), with
 * *from_object set. RFC 9126 §2.1: request_uri is never pushed, and a client_id in the body names the
 * client. */
static struct oauth_error par_params(struct http_req *req, const struct form *body, const struct client *c,
                                     json_t **params, struct form *out, bool *from_object)
{
    struct str v, jws;
    if (form_get(body, "request_uri", &v) != 1)
        return OAUTH_ERROR(INVALID_REQUEST, "request_uri must not be pushed (RFC 9126 section 2.1)");
    int rc = form_get(body, "request", &jws);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "request is repeated (RFC 6749 section 3.1)");
    *from_object = rc == 0;
    if (*from_object) {
        struct form merged;
        struct oauth_error e = request_object_params(req, c, jws, body, &merged);
        if (oauth_failed(e))
            return e;
        *params = authz_pushed_object(&merged, c->client_id);
    } else {
        *params = authz_pushed_params(body, c->client_id);
    }
    arena_defer(req->arena, (void (*)(void *))json_decref, *params);
    json_t *p = *from_object ? json_object_get(*params, "params") : *params;
    out->params = arena_alloc(req->arena, sizeof(struct form_param) * (json_object_size(p) + 1));
    out->n = 0;
    const char *k;
    json_t *val;
    json_object_foreach(p, k, val)
    {
        out->params[out->n++] = (struct form_param){str_c(k), str_c(json_string_value(val))};
    }
    return OAUTH_OK;
}

/* RFC 9449 §10.1: a DPoP proof sent with the push binds the code to its key: the pushed dpop_jkt, if any,
 * must be the proof's, else it becomes the proof's. The proof's jti is spent. */
static struct oauth_error par_dpop(struct http_req *req, json_t *params, bool from_object)
{
    struct dpop_proof proof;
    bool present;
    struct oauth_error e = dpop_check(req, "/request", NULL, &proof, &present);
    if (oauth_failed(e) || !present)
        return e;
    json_t *p = from_object ? json_object_get(params, "params") : params;
    const char *jkt = json_string_value(json_object_get(p, "dpop_jkt"));
    if (jkt != NULL && strcmp(jkt, proof.jkt) != 0)
        return OAUTH_ERROR(INVALID_DPOP_PROOF, "dpop_jkt is not the thumbprint of the DPoP proof's key");
    e = dpop_proof_record(req, &proof, false);
    if (!oauth_failed(e))
        json_object_set_new(p, "dpop_jkt", json_string(proof.jkt));
    return e;
}

/* Keeps the validated parameters under a new request_uri (arena memory in *uri). */
static struct oauth_error par_store(struct http_req *req, const struct client *c, json_t *params, const char **uri)
{
    struct worker *w = req->worker;
    int64_t now = clock_now();
    *uri = arena_printf(req->arena, "%s%s", PAR_URN_PREFIX, rand_token(req->arena, 32));
    char *text = json_dumps(params, JSON_COMPACT);
    if (text == NULL)
        abort();
    struct store_token t = {0};
    store_hash(*uri, strlen(*uri), t.hash);
    t.kind = STORE_TOKEN_PAR;
    t.client_id = c->client_id;
    t.scope = "";
    t.data = text;
    t.iat = now;
    t.exp = now + w->app->cfg->par.request_uri_ttl;
    struct errbuf err;
    int rc = store_token_put(w->db, &t, &err);
    free(text);
    if (rc != 0)
        return oauth_store_failed(req, "par_put", rc, &err);
    return OAUTH_OK;
}

void oauth_par_handle(struct http_req *req)
{
    struct form body, pushed;
    struct client c;
    json_t *params = NULL;
    const char *uri = NULL;
    bool from_object = false;
    struct oauth_error e = backchannel_form(req, &body);
    if (!oauth_failed(e))
        e = client_authenticate(req, &body, true, &c);
    if (!oauth_failed(e))
        e = par_params(req, &body, &c, &params, &pushed, &from_object);
    if (!oauth_failed(e)) {
        /* The same checks as at /auth, in the same order; the client was authenticated above, so its
         * redirect URI errors are answered here as JSON, never redirected. */
        struct authz_validation v;
        if (from_object)
            authz_validate_object(req, &pushed, &v);
        else
            authz_validate(req, &pushed, &v);
        e = v.error;
    }
    if (!oauth_failed(e))
        e = par_dpop(req, params, from_object);
    if (!oauth_failed(e))
        e = par_store(req, &c, params, &uri);
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "request_uri", json_string(uri));
    json_object_set_new(o, "expires_in", json_integer(req->worker->app->cfg->par.request_uri_ttl));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        abort();
    http_res_no_store(req);
    http_res_json(req, 201, text, strlen(text));
    free(text);
}
