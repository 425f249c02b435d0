/* client_auth.c: client authentication at the endpoints that authenticate clients (token, introspection,
 * revocation, and any later one such as PAR): the shared secret (RFC 6749 §2.3.1: HTTP Basic or the form
 * body) and JWT client assertions (RFC 7521 §4.2, RFC 7523 §2.2 and §3, OIDC Core §9: private_key_jwt with
 * the client's jwks or jwks_uri, client_secret_jwt with its secret as the HMAC key). Builds on client.c
 * (lookup, stored metadata), never the other way. The keys of a jwks_uri come through http/fetch.h: a
 * request that would have to fetch is sent to the pool threads by the router (client_auth_needs_fetch). */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/fetch.h"
#include "http/http.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "store/store.h"
#include "core/banned.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
/* exp may be at most this far ahead (seconds): an assertion is for one request, and its jti is kept until
 * exp, so a long-lived one would only cost storage. */
#define ASSERTION_MAX_AHEAD 600
/* Clock skew tolerated on exp, iat and nbf (seconds). */
#define ASSERTION_LEEWAY 30
#define ASSERTION_JTI_MAX 256

/* invalid_client naming the failed check (never a key, a secret or the assertion). */
static struct oauth_error assertion_fail(const char *what)
{
    return OAUTH_ERROR(INVALID_CLIENT, what);
}

/* A jwks_uri document's keys (fetch_parse_fn): imported once per fetched body, in the fetch cache's memory,
 * and shared by every request until the document is fetched again. */
static int jwks_parse(struct arena *mem, const char *url, const void *ctx, const char *body, size_t len,
                      const void **value, struct errbuf *err)
{
    struct jose_keyset *set = arena_alloc(mem, sizeof(*set));
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = j != NULL ? jose_jwks_import(mem, j, set, err) : ERR_INVALID;
    json_decref(j);
    if (j == NULL)
        errbuf_set(err, "not JSON");
    *value = set;
    return rc;
}

/* client.h. The keys are prepared beforehand (client_get's snapshot, the fetch cache): nothing is imported
 * here. */
struct oauth_error client_keys(const struct http_req *req, const struct client *c, bool refresh,
                               const struct jose_keyset **set, bool *refreshed)
{
    struct app *app = req->worker->app;
    struct errbuf err;
    *refreshed = false;
    if (c->auth_method == CLIENT_AUTH_SECRET_JWT) {
        if (c->secret_keys == NULL) {
            log_error("client_secret_unreadable", LS("rid", req->rid), LS("client_id", c->client_id),
                      LS("detail", c->secret_error), NULL);
            return OAUTH_ERROR(SERVER_ERROR, "the client's secret cannot be read; set it again");
        }
        *set = c->secret_keys;
        return OAUTH_OK;
    }
    const char *why = c->jwks_error;
    int rc = 0;
    if (c->jwks != NULL) {
        *set = c->jwks_keys;
    } else if (c->jwks_uri != NULL) {
        if (app->fetch == NULL)
            return OAUTH_ERROR(SERVER_ERROR, "fetching client keys is not available");
        const void *v = NULL;
        rc = fetch_get_parsed(app->fetch, req->arena, c->jwks_uri, refresh ? FETCH_REFRESH : 0, jwks_parse, NULL, &v,
                              refreshed, &err);
        if (rc == FETCH_ERR_REFUSED) {
            log_warn("client_jwks_fetch_refused", LS("rid", req->rid), LS("client_id", c->client_id),
                     LS("detail", err.msg), NULL);
            return OAUTH_ERROR(INVALID_CLIENT, "the client's jwks_uri is at an address that is not public "
                                               "(loopback, private, link-local ...), which this server does not "
                                               "fetch from");
        }
        if (rc != 0 && rc != FETCH_ERR_DOCUMENT) {
            log_warn("client_jwks_fetch_failed", LS("rid", req->rid), LS("client_id", c->client_id),
                     LS("detail", err.msg), NULL);
            return OAUTH_ERROR(INVALID_CLIENT, "the client's jwks_uri could not be fetched");
        }
        *set = v;
        why = err.msg;
    } else {
        why = "the client has neither jwks nor jwks_uri";
    }
    if (*set == NULL || rc != 0) {
        log_warn("client_jwks_invalid", LS("rid", req->rid), LS("client_id", c->client_id), LS("detail", why), NULL);
        return OAUTH_ERROR(INVALID_CLIENT, "the client's JWK Set is not valid");
    }
    return OAUTH_OK;
}

/* aud (RFC 7523 §3 item 3): the issuer, the token endpoint or the endpoint called; a string or an array
 * holding one of them. */
static bool aud_ok(const struct http_req *req, json_t *aud)
{
    const struct app *app = req->worker->app;
    const char *ip = app->cfg->issuer_path;
    struct str called = req->path;
    size_t iplen = strlen(ip);
    if (called.len >= iplen && memcmp(called.p, ip, iplen) == 0)
        called = (struct str){called.p + iplen, called.len - iplen};
    const char *ok[3] = {app->issuer, arena_printf(req->arena, "%s/token", app->issuer),
                         arena_printf(req->arena, "%s%.*s", app->issuer, (int)called.len, called.p)};
    size_t n = json_is_array(aud) ? json_array_size(aud) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_array(aud) ? json_array_get(aud, i) : aud;
        for (size_t k = 0; json_is_string(v) && k < 3; k++)
            if (strcmp(json_string_value(v), ok[k]) == 0)
                return true;
    }
    return false;
}

static bool number_claim(json_t *payload, const char *name, int64_t *out)
{
    json_t *v = json_object_get(payload, name);
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (d < 0 || d > 1e12)
        return false;
    *out = (int64_t)d;
    return true;
}

/* The claims of RFC 7523 §3 and OIDC Core §9. *exp gets exp for the jti's record. */
static struct oauth_error assertion_claims(struct http_req *req, const struct client *c, json_t *payload,
                                           int64_t now, int64_t *exp, const char **jti)
{
    const char *iss = json_string_value(json_object_get(payload, "iss"));
    const char *sub = json_string_value(json_object_get(payload, "sub"));
    if (iss == NULL || strcmp(iss, c->client_id) != 0)
        return assertion_fail("client assertion iss must be the client_id");
    if (sub == NULL || strcmp(sub, c->client_id) != 0)
        return assertion_fail("client assertion sub must be the client_id");
    json_t *aud = json_object_get(payload, "aud");
    if (aud == NULL)
        return assertion_fail("client assertion has no aud");
    if (!aud_ok(req, aud))
        return assertion_fail("client assertion aud must be the issuer or the endpoint URL");
    if (!number_claim(payload, "exp", exp))
        return assertion_fail("client assertion exp is missing or not a number");
    if (*exp + ASSERTION_LEEWAY <= now)
        return assertion_fail("client assertion has expired (exp)");
    if (*exp > now + ASSERTION_MAX_AHEAD + ASSERTION_LEEWAY)
        return assertion_fail("client assertion exp is more than 10 minutes ahead");
    int64_t t;
    if (json_object_get(payload, "iat") != NULL &&
        (!number_claim(payload, "iat", &t) || t > now + ASSERTION_LEEWAY))
        return assertion_fail("client assertion iat is not a number or in the future");
    if (json_object_get(payload, "nbf") != NULL &&
        (!number_claim(payload, "nbf", &t) || t > now + ASSERTION_LEEWAY))
        return assertion_fail("client assertion is not valid yet (nbf)");
    json_t *j = json_object_get(payload, "jti");
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > ASSERTION_JTI_MAX)
        return assertion_fail("client assertion jti is missing or longer than 256 characters");
    *jti = json_string_value(j);
    return OAUTH_OK;
}

/* RFC 7523 §3 item 7: the jti is used once. Its key, recorded until exp (plus the leeway, which could still
 * accept it): "client_assertion" NUL client_id NUL jti, its own namespace among single-use values, per
 * client. */
static void assertion_jti_key(struct http_req *req, const struct client *c, const char *jti, int64_t exp,
                              struct client_jti *out)
{
    static const char ns[] = "client_assertion";
    size_t idlen = strlen(c->client_id) + 1, jlen = strlen(jti);
    char *key = arena_alloc(req->arena, sizeof(ns) + idlen + jlen);
    memcpy(key, ns, sizeof(ns));
    memcpy(key + sizeof(ns), c->client_id, idlen);
    memcpy(key + sizeof(ns) + idlen, jti, jlen);
    store_hash(key, sizeof(ns) + idlen + jlen, out->key);
    out->exp = exp + ASSERTION_LEEWAY;
    out->pending = true;
}

struct oauth_error client_jti_put(struct http_req *req, const struct client_jti *jti)
{
    if (jti == NULL || !jti->pending)
        return OAUTH_OK;
    struct errbuf err;
    int rc = store_single_use_put(req->worker->db, jti->key, jti->exp, clock_now(), &err);
    if (rc == ERR_CONFLICT)
        return assertion_fail("client assertion jti was already used");
    if (rc != 0)
        return oauth_store_failed(req, "single_use_put", rc, &err);
    return OAUTH_OK;
}

struct oauth_error client_jws_verify(const struct http_req *req, const struct client *c, struct str jws,
                                     unsigned allowed, struct jws_verified *v, int *rc)
{
    const struct jose_keyset *set = NULL;
    bool refreshed = false;
    struct oauth_error e = client_keys(req, c, false, &set, &refreshed);
    if (oauth_failed(e))
        return e;
    struct errbuf err;
    *rc = jws_verify_keys(req->arena, jws.p, jws.len, set, allowed, v, &err);
    /* A kid the cached jwks_uri document lacks: the client may have rotated its keys; fetch again, once. */
    if (*rc == JOSE_ERR_UNKNOWN_KEY && c->jwks == NULL && c->jwks_uri != NULL && !refreshed) {
        e = client_keys(req, c, true, &set, &refreshed);
        if (oauth_failed(e))
            return e;
        if (refreshed)
            *rc = jws_verify_keys(req->arena, jws.p, jws.len, set, allowed, v, &err);
    }
    return OAUTH_OK;
}

static struct oauth_error assertion_verify(struct http_req *req, const struct client *c, struct str assertion,
                                           struct client_jti *jti_out)
{
    if (c->auth_method != CLIENT_AUTH_PRIVATE_KEY_JWT && c->auth_method != CLIENT_AUTH_SECRET_JWT)
        return assertion_fail("this client is not registered for JWT client authentication");
    struct jws_verified v;
    int rc = 0;
    struct oauth_error e = client_jws_verify(req, c, assertion, c->auth_signing_algs, &v, &rc);
    if (oauth_failed(e))
        return e;
    switch (rc) {
    case 0:
        break;
    case JOSE_ERR_ALG:
        return assertion_fail("client assertion alg is not allowed for this client");
    case JOSE_ERR_UNKNOWN_KEY:
        return assertion_fail("client assertion kid names no key of the client");
    case JOSE_ERR_BAD_SIGNATURE:
        return assertion_fail("client assertion signature is invalid");
    default:
        return assertion_fail("client assertion is not a well-formed signed JWT");
    }
    int64_t now = clock_now(), exp = 0;
    const char *jti = NULL;
    e = assertion_claims(req, c, v.payload, now, &exp, &jti);
    if (oauth_failed(e))
        return e;
    assertion_jti_key(req, c, jti, exp, jti_out);
    return OAUTH_OK;
}

/* The client_id an assertion names (its sub, RFC 7523 §3 item 2), read before anything is verified: it only
 * picks the keys. NULL when the assertion is not a JWS with a string sub. */
static const char *assertion_subject(struct http_req *req, struct str assertion, const char **kid)
{
    json_t *hdr, *payload;
    struct errbuf err;
    if (jws_peek(req->arena, assertion.p, assertion.len, &hdr, &payload, &err) != 0)
        return NULL;
    if (kid != NULL)
        *kid = json_string_value(json_object_get(hdr, "kid"));
    json_t *sub = json_object_get(payload, "sub");
    return json_is_string(sub) && json_string_length(sub) > 0 && json_string_length(sub) <= 255
               ? json_string_value(sub)
               : NULL;
}

/* The client of id, parsed (the worker's cache, client_get); fail when unknown. */
static struct oauth_error load_client(struct http_req *req, const char *cid, struct oauth_error fail,
                                      struct client *out)
{
    struct errbuf err;
    int rc = client_get(req->worker, req->arena, cid, out, &err);
    if (rc == ERR_NOTFOUND)
        return fail;
    if (rc == ERR_INVALID) {
        log_error("bad_client_metadata", LS("rid", req->rid), LS("client_id", cid), NULL);
        return OAUTH_ERROR(SERVER_ERROR, "client registration is invalid");
    }
    if (rc != 0)
        return oauth_store_failed(req, "client_get", rc, &err);
    req->log_client_id = out->client_id;
    return OAUTH_OK;
}

static struct oauth_error authenticate_assertion(struct http_req *req, const struct form *body, struct str body_id,
                                                 struct client *out, struct client_jti *jti)
{
    struct str type, assertion;
    if (form_get(body, "client_assertion_type", &type) < 0 || form_get(body, "client_assertion", &assertion) < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "client_assertion or client_assertion_type repeated");
    if (str_is_null(type) || !str_eq(type, str_c(ASSERTION_TYPE)))
        return OAUTH_ERROR(INVALID_CLIENT, "client_assertion_type must be " ASSERTION_TYPE);
    const char *cid = assertion_subject(req, assertion, NULL);
    if (cid == NULL)
        return assertion_fail("client assertion is not a well-formed signed JWT with a sub");
    /* RFC 7521 §4.2: a client_id given beside the assertion must be the one it names. */
    if (!str_is_null(body_id) && !str_eq(body_id, str_c(cid)))
        return assertion_fail("client_id differs from the client assertion's sub");
    struct oauth_error e = load_client(req, cid, assertion_fail("client assertion names an unknown client"), out);
    if (oauth_failed(e))
        return e;
    return assertion_verify(req, out, assertion, jti);
}

struct oauth_error client_authenticate(struct http_req *req, const struct form *body, bool allow_public,
                                       struct client *out)
{
    struct client_jti jti = {0};
    struct oauth_error e = client_authenticate_deferred(req, body, allow_public, out, &jti);
    if (!oauth_failed(e))
        e = client_jti_put(req, &jti);
    return e;
}

struct oauth_error client_authenticate_deferred(struct http_req *req, const struct form *body, bool allow_public,
                                                struct client *out, struct client_jti *jti)
{
    memset(jti, 0, sizeof(*jti));
    size_t nauth = 0;
    struct str hv = http_req_header(req, "authorization", &nauth);
    struct auth_header ah = {0};
    bool basic = false;
    if (nauth > 1)
        return OAUTH_ERROR(INVALID_REQUEST, "more than one Authorization header");
    if (nauth == 1) {
        if (auth_header_parse(req->arena, hv.p, hv.len, &ah) != 0) {
            struct oauth_error e = OAUTH_ERROR(INVALID_CLIENT, "malformed HTTP Basic credentials");
            e.challenge = "Basic";
            return e;
        }
        basic = ah.scheme == AUTH_BASIC;
    }
    struct str body_id, body_secret, assertion;
    int rid = form_get(body, "client_id", &body_id);
    int rsec = form_get(body, "client_secret", &body_secret);
    int rass = form_get(body, "client_assertion", &assertion);
    if (rid < 0 || rsec < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "client_id or client_secret repeated");
    if ((basic && rsec == 0) || (rass != 1 && (basic || rsec == 0)))
        return OAUTH_ERROR(INVALID_REQUEST, "client authenticated by more than one method (RFC 6749 section 2.3)");
    if (rass != 1) {
        memset(out, 0, sizeof(*out));
        return authenticate_assertion(req, body, body_id, out, jti);
    }

    struct str id = basic ? ah.user : body_id;
    if (basic && rid == 0 && !str_eq(body_id, ah.user))
        return OAUTH_ERROR(INVALID_REQUEST, "client_id in the body differs from the HTTP Basic user");
    struct oauth_error fail = OAUTH_ERROR(INVALID_CLIENT, "client authentication failed");
    if (basic)
        fail.challenge = "Basic";
    if (str_is_null(id) || id.len == 0) {
        if (basic)
            return fail;
        return OAUTH_ERROR(INVALID_CLIENT, "no client authentication included (use HTTP Basic or client_id)");
    }
    if (id.len > 255)
        return fail;
    struct oauth_error e = load_client(req, str_dup(req->arena, id), fail, out);
    if (oauth_failed(e))
        return e;

    struct str secret = basic ? ah.pass : body_secret;
    switch (out->auth_method) {
    case CLIENT_AUTH_NONE:
        if (!allow_public || !str_is_null(secret) || basic)
            return fail;
        return OAUTH_OK;
    case CLIENT_AUTH_SECRET_BASIC:
        if (!basic)
            return fail;
        break;
    case CLIENT_AUTH_SECRET_POST:
        if (basic || str_is_null(secret))
            return fail;
        break;
    case CLIENT_AUTH_PRIVATE_KEY_JWT:
    case CLIENT_AUTH_SECRET_JWT:
        /* Registered for assertions: a shared secret sent in clear is not its method (OIDC Core §9). */
        fail.description = "this client authenticates with a client assertion (client_assertion)";
        return fail;
    }
    if (!out->has_secret || str_is_null(secret))
        return fail;
    uint8_t h[STORE_HASH_LEN];
    store_hash(secret.p, secret.len, h);
    if (!ct_eq(h, sizeof(h), out->secret_hash, sizeof(out->secret_hash)))
        return fail;
    return OAUTH_OK;
}

/* The client_id of a request, unauthenticated, for the router's question: the form's or the query's
 * client_id, else HTTP Basic's user. NULL when none. */
static const char *claimed_client_id(struct http_req *req, const struct form *f)
{
    struct str id;
    if (f != NULL && form_get(f, "client_id", &id) == 0)
        return id.p;
    size_t n = 0;
    struct str hv = http_req_header(req, "authorization", &n);
    struct auth_header ah;
    if (n == 1 && auth_header_parse(req->arena, hv.p, hv.len, &ah) == 0 && ah.scheme == AUTH_BASIC)
        return str_dup(req->arena, ah.user);
    return NULL;
}

/* Whether the request names (unauthenticated) a client ID metadata document that is not cached yet. Where
 * documents are off (the default) no client can be one: the name is not even looked for. */
static bool claimed_document_needs_fetch(struct http_req *req, const struct form *f)
{
    return req->worker->app->cfg->registration.client_id_metadata_documents &&
           client_document_needs_fetch(req->worker, claimed_client_id(req, f));
}

bool client_id_needs_fetch(struct http_req *req)
{
    struct app *app = req->worker->app;
    struct form f;
    bool post = str_eq_c(req->method, "POST");
    struct str src = post ? req->body : req->query;
    if (app->fetch == NULL || str_is_null(src) || (post && !http_req_is_form(req)) ||
        (post ? http_req_body_form(req, app->cfg->limits.max_params, &f)
              : form_parse(req->arena, src.p, src.len, app->cfg->limits.max_params, &f)) != FORM_OK)
        return false;
    return claimed_document_needs_fetch(req, &f);
}

bool client_auth_needs_fetch(struct http_req *req)
{
    struct app *app = req->worker->app;
    struct form f;
    struct str assertion;
    if (app->fetch == NULL || !http_req_is_form(req) ||
        http_req_body_form(req, app->cfg->limits.max_params, &f) != FORM_OK)
        return false;
    if (form_get(&f, "client_assertion", &assertion) != 0)
        return claimed_document_needs_fetch(req, &f);
    const char *kid = NULL;
    const char *cid = assertion_subject(req, assertion, &kid);
    if (cid != NULL && client_document_needs_fetch(req->worker, cid))
        return true;
    struct client c;
    if (cid == NULL || oauth_failed(load_client(req, cid, OAUTH_ERROR(INVALID_CLIENT, ""), &c)) ||
        c.auth_method != CLIENT_AUTH_PRIVATE_KEY_JWT)
        return false;
    return client_keys_would_fetch(req, &c, kid);
}

bool client_keys_would_fetch(const struct http_req *req, const struct client *c, const char *kid)
{
    struct app *app = req->worker->app;
    if (app->fetch == NULL || c->jwks != NULL || c->jwks_uri == NULL)
        return false;
    if (!fetch_cached(app->fetch, c->jwks_uri, 0))
        return true;
    if (kid == NULL || fetch_cached(app->fetch, c->jwks_uri, FETCH_REFRESH))
        return false;
    /* Cached, but a refresh could be due: only if the cached set lacks the kid. */
    const void *v;
    struct errbuf err;
    if (fetch_get_parsed(app->fetch, req->arena, c->jwks_uri, 0, jwks_parse, NULL, &v, NULL, &err) != 0)
        return false;
    const struct jose_keyset *set = v;
    for (size_t i = 0; i < set->n; i++) {
        const char *k = jose_pubkey_kid(set->keys[i]);
        if (k != NULL && strcmp(k, kid) == 0)
            return false;
    }
    return true;
}

void client_auth_busy(struct http_req *req, unsigned retry_after_s)
{
    char v[16];
    snprintf(v, sizeof(v), "%u", retry_after_s > 0 ? retry_after_s : 1);
    http_res_header(req, "retry-after", v);
    oauth_error_send_json(req, OAUTH_ERROR(TEMPORARILY_UNAVAILABLE, "the server is busy; retry later"));
}
