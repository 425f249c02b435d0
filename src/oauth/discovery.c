/* discovery.c: OpenID Provider metadata (OpenID Connect Discovery 1.0 §3) and OAuth 2.0 Authorization
 * Server metadata (RFC 8414 §2), built once at start from what is configured and served from memory;
 * also the JWKS (RFC 7517 §5) and /healthz. Advertises only what this build serves end to end, and what
 * registered clients can use: the plain PKCE method only while some client allows it (clients change
 * while the server runs, so both variants are built and worker 0 picks one every few seconds). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "jose/jose.h"
#include "oauth/device.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/error.h"
#include "oauth/grant_table.h"
#include "oauth/scope.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

/* Appends s to the array of strings unless it is there already: every list is a set. */
static void append_unique(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return;
    }
    json_array_append_new(arr, json_string(s));
}

static json_t *str_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        append_unique(a, v[i]);
    return a;
}

static char *url(const struct app *app, const char *path_after_issuer)
{
    size_t n = strlen(app->issuer) + strlen(path_after_issuer) + 1;
    char *s = malloc(n);
    snprintf(s, n, "%s%s", app->issuer, path_after_issuer);
    return s;
}

static void set_url(json_t *o, const char *key, const struct app *app, const char *suffix)
{
    char *u = url(app, suffix);
    json_object_set_new(o, key, json_string(u));
    free(u);
}

/* plain: whether code_challenge_methods_supported lists plain after S256 (RFC 7636 §4.2: S256 is the
 * method every server must support, so it is always there). */
static json_t *metadata(const struct app *app, bool plain)
{
    /* Every method client_authenticate (client_auth.c) accepts; none only where public clients are. */
    static const char *const auth_methods[] = {"client_secret_basic", "client_secret_post", "client_secret_jwt",
                                               "private_key_jwt"};
    static const char *const token_auth_methods[] = {"client_secret_basic", "client_secret_post",
                                                     "client_secret_jwt", "private_key_jwt", "none"};
    static const char *const response_modes[] = {"query", "fragment", "form_post"};
    static const char *const pkce[] = {"S256", "plain"};
    static const char *const prompts[] = {"none", "login", "consent", "select_account"};
    static const char *const oidc_scopes[] = {"openid", "profile", "email", "address", "phone", "offline_access"};
    json_t *o = json_object();
    json_object_set_new(o, "issuer", json_string(app->issuer));
    set_url(o, "authorization_endpoint", app, "/auth");
    set_url(o, "token_endpoint", app, "/token");
    set_url(o, "userinfo_endpoint", app, "/me");
    set_url(o, "jwks_uri", app, "/jwks");
    set_url(o, "introspection_endpoint", app, "/token/introspection");
    set_url(o, "revocation_endpoint", app, "/token/revocation");
    set_url(o, "end_session_endpoint", app, "/session/end");
    /* RFC 8628 §4: the device authorization grant is served (its row of the grant table). */
    if (grant_by_flag(GRANT_DEVICE_CODE)->served)
        set_url(o, "device_authorization_endpoint", app, DEVICE_AUTH_PATH);
    /* The served response types (grant_table.h): each client uses those it registered. */
    json_t *types = json_array();
    for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t))
        json_array_append_new(types, json_string(response_type_name(t)));
    json_object_set_new(o, "response_types_supported", types);
    json_object_set_new(o, "response_modes_supported", str_array(response_modes, 3));
    /* The served rows of the grant table: exactly what the token endpoint dispatches. */
    json_t *grants = json_array();
    for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g))
        json_array_append_new(grants, json_string(g->name));
    json_object_set_new(o, "grant_types_supported", grants);
    json_object_set_new(o, "code_challenge_methods_supported", str_array(pkce, plain ? 2 : 1));
    json_object_set_new(o, "prompt_values_supported", str_array(prompts, 4));
    json_object_set_new(o, "token_endpoint_auth_methods_supported", str_array(token_auth_methods, 5));
    json_object_set_new(o, "introspection_endpoint_auth_methods_supported", str_array(auth_methods, 4));
    json_object_set_new(o, "revocation_endpoint_auth_methods_supported", str_array(token_auth_methods, 5));
    /* The algs a client assertion may be signed with (jws_verify_keys): every one we verify. */
    unsigned assertion_algs = JOSE_ALGS_ASYMMETRIC | JOSE_ALGS_HMAC;
    json_object_set_new(o, "token_endpoint_auth_signing_alg_values_supported", jose_alg_mask_json(assertion_algs));
    json_object_set_new(o, "introspection_endpoint_auth_signing_alg_values_supported",
                        jose_alg_mask_json(assertion_algs));
    json_object_set_new(o, "revocation_endpoint_auth_signing_alg_values_supported",
                        jose_alg_mask_json(assertion_algs));
    /* RFC 9207: every authorization response carries iss. */
    json_object_set_new(o, "authorization_response_iss_parameter_supported", json_true());
    /* RFC 9101: request objects by value, signed with the client's keys (an HMAC alg only with a
     * client_secret_jwt client's secret; none only for a client registered with it). */
    json_object_set_new(o, "request_parameter_supported", json_true());
    json_t *ro_algs = jose_alg_mask_json(JOSE_ALGS_ASYMMETRIC | JOSE_ALGS_HMAC);
    json_array_append_new(ro_algs, json_string("none"));
    json_object_set_new(o, "request_object_signing_alg_values_supported", ro_algs);
    json_object_set_new(o, "dpop_signing_alg_values_supported", jose_alg_mask_json(DPOP_ALGS));
    /* RFC 9126: request_uri is accepted, for the URNs the PAR endpoint issues only. */
    json_object_set_new(o, "request_uri_parameter_supported", json_true());
    json_object_set_new(o, "require_request_uri_registration", json_false());
    set_url(o, "pushed_authorization_request_endpoint", app, "/request");
    json_object_set_new(o, "require_pushed_authorization_requests", json_boolean(app->cfg->par.required));
    if (app->cfg->registration.enabled)
        set_url(o, "registration_endpoint", app, "/reg");
    if (app->cfg->registration.client_id_metadata_documents)
        json_object_set_new(o, "client_id_metadata_document_supported", json_true());
    /* OIDC Core §5.5: for userinfo and the ID token, essential, value and values (claims_request.h). */
    json_object_set_new(o, "claims_parameter_supported", json_true());

    /* scopes_supported: the OpenID scopes, then the scopes of every configured API, once each. */
    json_t *scopes = str_array(oidc_scopes, 6);
    for (size_t i = 0; i < app->n_resources; i++)
        for (size_t k = 0; !app->resources[i].client_credentials_only && k < app->resources[i].n_scopes; k++)
            append_unique(scopes, app->resources[i].scopes[k]);
    json_object_set_new(o, "scopes_supported", scopes);
    /* The ID token's own claims, then the user claims (which start with sub again). */
    static const char *const base_claims[] = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr",
                                              "amr", "azp", "sid"};
    json_t *claims = str_array(base_claims, sizeof(base_claims) / sizeof(base_claims[0]));
    for (size_t i = 0; i < user_claims_supported_count; i++)
        append_unique(claims, user_claims_supported[i]);
    json_object_set_new(o, "claims_supported", claims);
    json_object_set_new(o, "acr_values_supported", str_array((const char *const[]){SESSION_ACR_PASSWORD}, 1));
    /* ID tokens and RFC 9068 JWT access tokens are signed with the configured algorithms. */
    json_object_set_new(o, "id_token_signing_alg_values_supported",
                        str_array((const char *const *)app->cfg->keys.algorithms, app->cfg->keys.n_algorithms));
    json_object_set_new(o, "access_token_signing_alg_values_supported",
                        str_array((const char *const *)app->cfg->keys.algorithms, app->cfg->keys.n_algorithms));
    json_object_set_new(o, "subject_types_supported", str_array((const char *const[]){"public"}, 1));
    return o;
}

void discovery_build(struct app *app)
{
    for (int plain = 0; plain <= 1; plain++) {
        json_t *o = metadata(app, plain == 1);
        app->metadata_json[plain] = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (app->metadata_json[plain] == NULL)
            abort();
        app->metadata_len[plain] = strlen(app->metadata_json[plain]);
        json_decref(o);
    }
}

int discovery_refresh(struct app *app, struct store_conn *db, struct errbuf *err)
{
    bool plain = false;
    int rc = store_client_meta_has(db, "pkce_methods", "plain", &plain, err);
    if (rc == 0)
        atomic_store_explicit(&app->state->pkce_plain_allowed, plain, memory_order_relaxed);
    return rc;
}

static void send_public_json(struct http_req *req, const char *json, size_t len)
{
    /* Public documents: cacheable, and readable from browser clients (CORS). */
    http_res_header(req, "Cache-Control", "public, max-age=300");
    http_res_header(req, "Access-Control-Allow-Origin", "*");
    http_res_json(req, 200, json, len);
}

/* The same document for OpenID Connect Discovery and RFC 8414; no store read. */
static void send_metadata(struct http_req *req)
{
    struct app *app = req->worker->app;
    int v = atomic_load_explicit(&app->state->pkce_plain_allowed, memory_order_relaxed) ? 1 : 0;
    send_public_json(req, app->metadata_json[v], app->metadata_len[v]);
}

void oauth_discovery_handle(struct http_req *req)
{
    send_metadata(req);
}

void oauth_metadata_handle(struct http_req *req)
{
    send_metadata(req);
}

void oauth_jwks_handle(struct http_req *req)
{
    size_t len;
    const char *jwks = keystore_jwks(req->worker->app->keys, req->arena, &len);
    http_res_header(req, "Cache-Control", "public, max-age=300");
    http_res_header(req, "Access-Control-Allow-Origin", "*");
    http_res_body(req, 200, "application/jwk-set+json", jwks, len);
}

/* 200 while this instance can serve: its database answers (a round trip on PostgreSQL, nothing on
 * SQLite). 503 while it cannot, so that a load balancer sends requests to the other instances. The body
 * also counts the round trips to the database since the start (bench/pg.sh divides them by requests). */
void oauth_healthz_handle(struct http_req *req)
{
    http_res_header(req, "Cache-Control", "no-store");
    if (!app_store_ok(req->worker)) {
        static const char lost[] = "{\"status\":\"error\",\"error\":\"storage_unavailable\","
                                   "\"error_description\":\"the database was deleted or replaced\"}";
        req->log_error = "storage_unavailable";
        http_res_json(req, 503, lost, sizeof(lost) - 1);
        return;
    }
    struct errbuf err;
    int rc = store_ping(req->worker->db, &err);
    if (rc != 0) {
        log_warn("healthz_storage", LS("rid", req->rid), LI("rc", rc), LS("detail", err.msg), NULL);
        http_res_header(req, "Retry-After", OAUTH_RETRY_AFTER);
        static const char body[] = "{\"status\":\"unavailable\",\"storage\":\"unreachable\"}";
        http_res_json(req, 503, body, sizeof(body) - 1);
        return;
    }
    json_t *o = json_pack("{s:s, s:I}", "status", "ok", "store_round_trips",
                          (json_int_t)store_round_trips(req->worker->app->store));
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (body == NULL)
        abort();
    http_res_json(req, 200, body, strlen(body));
    free(body);
}
