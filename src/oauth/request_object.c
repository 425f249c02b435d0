/* request_object.c: request objects, the `request` parameter (RFC 9101 §4-6; OIDC Core §6.1, §6.3): the
 * signature by the client's keys (client_auth.c client_keys), the claims (iss, aud, exp, nbf, iat, jti),
 * the jti spent once (store_single_use_put), and the parameters merged over those of the request they
 * came in, the object's winning. The validator of the parameters is authorize.c's, which calls this. */
#include "oauth/request_object.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "store/store.h"
#include "core/banned.h"

#define JTI_MAX 256

static struct oauth_error ro_fail(const char *why)
{
    return OAUTH_ERROR(INVALID_REQUEST_OBJECT, why);
}

/* The JWT claims of the object, which are not authorization parameters. */
static bool is_jwt_claim(const char *k)
{
    static const char *const claims[] = {"iss", "aud", "exp", "nbf", "iat", "jti"};
    for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++)
        if (strcmp(k, claims[i]) == 0)
            return true;
    return false;
}

static bool aud_has(json_t *aud, const char *issuer)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), issuer) == 0;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), issuer) == 0)
            return true;
    }
    return false;
}

struct oauth_error request_object_claims(json_t *payload, const char *client_id, const char *issuer, bool is_signed,
                                         int64_t now, int64_t *exp, const char **jti)
{
    json_t *iss = json_object_get(payload, "iss");
    if ((is_signed || iss != NULL) && (!json_is_string(iss) || strcmp(json_string_value(iss), client_id) != 0))
        return ro_fail("the request object's iss must be the client_id");
    json_t *aud = json_object_get(payload, "aud");
    if ((is_signed || aud != NULL) && !aud_has(aud, issuer))
        return ro_fail("the request object's aud must be this issuer");
    json_t *e = json_object_get(payload, "exp");
    if (!json_is_integer(e))
        return ro_fail("the request object needs an integer exp");
    *exp = json_integer_value(e);
    if (*exp + REQUEST_OBJECT_LEEWAY <= now)
        return ro_fail("the request object has expired (exp)");
    if (*exp > now + REQUEST_OBJECT_MAX_LIFETIME + REQUEST_OBJECT_LEEWAY)
        return ro_fail("the request object's exp is too far ahead (at most 3600 seconds)");
    json_t *nbf = json_object_get(payload, "nbf");
    if (nbf != NULL && (!json_is_integer(nbf) || json_integer_value(nbf) > now + REQUEST_OBJECT_LEEWAY))
        return ro_fail("the request object is not valid yet (nbf)");
    json_t *iat = json_object_get(payload, "iat");
    if (iat != NULL && (!json_is_integer(iat) || json_integer_value(iat) > now + REQUEST_OBJECT_LEEWAY))
        return ro_fail("the request object's iat is in the future");
    *jti = json_string_value(json_object_get(payload, "jti"));
    if (*jti == NULL || (*jti)[0] == '\0' || strlen(*jti) > JTI_MAX)
        return ro_fail("the request object needs a jti (a string of at most 256 characters)");
    json_t *cid = json_object_get(payload, "client_id");
    if (cid != NULL && (!json_is_string(cid) || strcmp(json_string_value(cid), client_id) != 0))
        return ro_fail("the request object's client_id is not the client's");
    if (json_object_get(payload, "request") != NULL || json_object_get(payload, "request_uri") != NULL)
        return ro_fail("a request object must not contain request or request_uri (RFC 9101 section 4)");
    const char *k;
    json_t *v;
    json_object_foreach(payload, k, v)
    {
        if (!is_jwt_claim(k) && !json_is_string(v) && !json_is_integer(v))
            return ro_fail("every authorization parameter of the request object must be a string or an integer");
    }
    return OAUTH_OK;
}

static void decref_cb(void *p)
{
    json_decref(p);
}

/* One base64url part of an unsigned JWT as a JSON object freed with the arena, or NULL. */
static json_t *part_json(struct arena *a, const char *p, size_t n)
{
    unsigned char *raw;
    size_t len;
    if (n == 0 || b64url_decode(a, p, n, &raw, &len) != 0)
        return NULL;
    json_t *o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return NULL;
    arena_defer(a, decref_cb, o);
    return json_is_object(o) ? o : NULL;
}

/* An unsecured JWT (RFC 7519 §6: alg none, an empty signature). */
static bool unsigned_parse(struct arena *a, struct str jws, json_t **payload)
{
    const char *d1 = memchr(jws.p, '.', jws.len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', jws.len - (size_t)(d1 + 1 - jws.p)) : NULL;
    if (d2 == NULL || d2 + 1 != jws.p + jws.len)
        return false;
    json_t *h = part_json(a, jws.p, (size_t)(d1 - jws.p));
    *payload = part_json(a, d1 + 1, (size_t)(d2 - d1 - 1));
    const char *alg = json_string_value(json_object_get(h, "alg"));
    return h != NULL && *payload != NULL && alg != NULL && strcmp(alg, "none") == 0 &&
           json_object_get(h, "crit") == NULL;
}

/* The algs the client's signed request objects may use. */
static unsigned allowed_algs(const struct client *c)
{
    const char *alg = c->request_object_signing_alg;
    if (alg != NULL && strcmp(alg, "none") != 0)
        return JOSE_ALG_SAME(jose_alg_parse_cstr(alg));
    return JOSE_ALGS_ASYMMETRIC | (c->auth_method == CLIENT_AUTH_SECRET_JWT ? JOSE_ALGS_HMAC : 0);
}

/* The payload of a signed request object, verified with the client's keys. */
static struct oauth_error verify_signed(const struct http_req *req, const struct client *c, struct str jws,
                                        json_t **payload)
{
    if (c->auth_method != CLIENT_AUTH_SECRET_JWT && c->jwks == NULL && c->jwks_uri == NULL)
        return ro_fail("this client has no registered keys (jwks or jwks_uri) to verify request objects with");
    struct jws_verified v;
    int rc = 0;
    struct oauth_error e = client_jws_verify(req, c, jws, allowed_algs(c), &v, &rc);
    if (oauth_failed(e))
        return e.code == OAUTH_ERR_INVALID_CLIENT ? ro_fail(e.description) : e;
    switch (rc) {
    case 0:
        *payload = v.payload;
        return OAUTH_OK;
    case JOSE_ERR_ALG:
        return ro_fail("the request object's alg is not allowed for this client (request_object_signing_alg)");
    case JOSE_ERR_UNKNOWN_KEY:
        return ro_fail("the request object's kid names no key of the client");
    case JOSE_ERR_BAD_SIGNATURE:
        return ro_fail("the request object's signature is invalid");
    default:
        return ro_fail("the request object is not a well-formed signed JWT");
    }
}

/* OIDC Core §6.1: response_type and client_id sent beside the object must be the object's. */
static struct oauth_error outer_consistent(const struct form *outer, json_t *payload)
{
    static const char *const names[] = {"response_type", "client_id"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct str v;
        const char *inner = json_string_value(json_object_get(payload, names[i]));
        if (inner != NULL && form_get(outer, names[i], &v) == 0 && !str_eq_c(v, inner))
            return ro_fail(i == 0 ? "response_type differs from the request object's"
                                  : "client_id differs from the request object's");
    }
    return OAUTH_OK;
}

/* Spends the jti: one use per client until exp, on every instance sharing the store. */
static struct oauth_error spend_jti(const struct http_req *req, const struct client *c, const char *jti, int64_t exp,
                                    int64_t now)
{
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 1024);
    strbuf_add(&sb, "request_object\0", 15);
    strbuf_adds(&sb, c->client_id);
    strbuf_addc(&sb, '\0');
    strbuf_adds(&sb, jti);
    uint8_t key[STORE_HASH_LEN];
    store_hash(sb.buf, sb.len, key);
    struct errbuf err;
    int rc = store_single_use_put(req->worker->db, key, exp + REQUEST_OBJECT_LEEWAY, now, &err);
    if (rc == ERR_CONFLICT)
        return ro_fail("the request object was already used (its jti was seen)");
    if (rc != 0)
        return oauth_store_failed(req, "request_object_jti", rc, &err);
    return OAUTH_OK;
}

/* The object's parameters, then those of `outer` it does not have (never `request`). */
static void merge(struct arena *a, json_t *payload, const struct form *outer, struct form *out)
{
    size_t n = json_object_size(payload) + outer->n;
    out->params = arena_alloc(a, (n > 0 ? n : 1) * sizeof(*out->params));
    out->n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(payload, k, v)
    {
        if (is_jwt_claim(k))
            continue;
        const char *val = json_is_string(v) ? arena_strdup(a, json_string_value(v))
                                            : arena_printf(a, "%lld", (long long)json_integer_value(v));
        out->params[out->n++] = (struct form_param){str_c(arena_strdup(a, k)), str_c(val)};
    }
    for (size_t i = 0; i < outer->n; i++) {
        const char *name = outer->params[i].name.p;
        if (strcmp(name, "request") == 0 || json_object_get(payload, name) != NULL)
            continue;
        out->params[out->n++] = outer->params[i];
    }
}

struct oauth_error request_object_params(const struct http_req *req, const struct client *c, struct str jws,
                                         const struct form *outer, struct form *out)
{
    memset(out, 0, sizeof(*out));
    struct app *app = req->worker->app;
    if (jws.len == 0 || jws.len > 16384)
        return ro_fail("the request object is empty or larger than 16 KiB");
    json_t *header, *payload = NULL;
    struct errbuf err;
    bool is_signed = true;
    if (jws_peek(req->arena, jws.p, jws.len, &header, &payload, &err) == 0) {
        const char *alg = json_string_value(json_object_get(header, "alg"));
        is_signed = alg == NULL || strcmp(alg, "none") != 0;
    } else if (unsigned_parse(req->arena, jws, &payload)) {
        is_signed = false;
    } else {
        return ro_fail("the request object is not a well-formed JWT");
    }
    struct oauth_error e;
    if (is_signed) {
        e = verify_signed(req, c, jws, &payload);
    } else {
        bool allowed = c->request_object_signing_alg != NULL && strcmp(c->request_object_signing_alg, "none") == 0 &&
                       !c->require_signed_request_object;
        e = allowed ? OAUTH_OK
                    : ro_fail("unsigned request objects (alg none) are not allowed for this client; sign it with a "
                              "key of the client");
        if (allowed && !unsigned_parse(req->arena, jws, &payload))
            e = ro_fail("an unsigned request object must have an empty signature");
    }
    if (oauth_failed(e))
        return e;
    int64_t now = clock_now(), exp = 0;
    const char *jti = NULL;
    e = request_object_claims(payload, c->client_id, app->issuer, is_signed, now, &exp, &jti);
    if (!oauth_failed(e))
        e = outer_consistent(outer, payload);
    if (!oauth_failed(e))
        e = spend_jti(req, c, jti, exp, now);
    if (oauth_failed(e))
        return e;
    merge(req->arena, payload, outer, out);
    return OAUTH_OK;
}

bool request_object_needs_fetch(struct http_req *req)
{
    struct app *app = req->worker->app;
    struct form f;
    struct str jws, cid;
    struct str src = str_eq_c(req->method, "POST") ? req->body : req->query;
    if (app->fetch == NULL || str_is_null(src) ||
        form_parse(req->arena, src.p, src.len, app->cfg->limits.max_params, &f) != FORM_OK ||
        form_get(&f, "request", &jws) != 0)
        return false;
    /* The client: client_id beside the object, else (a pushed request) the HTTP Basic user. */
    if (form_get(&f, "client_id", &cid) != 0) {
        size_t n = 0;
        struct str hv = http_req_header(req, "authorization", &n);
        struct auth_header ah;
        if (n != 1 || auth_header_parse(req->arena, hv.p, hv.len, &ah) != 0 || ah.scheme != AUTH_BASIC)
            return false;
        cid = ah.user;
    }
    struct store_client sc;
    struct client c;
    struct errbuf err;
    if (client_lookup(req->worker, req->arena, str_dup(req->arena, cid), &sc, &err) != 0 ||
        client_from_store(req->arena, &sc, &c) != 0)
        return false;
    json_t *header, *payload;
    const char *kid = NULL;
    if (jws_peek(req->arena, jws.p, jws.len, &header, &payload, &err) == 0)
        kid = json_string_value(json_object_get(header, "kid"));
    return client_keys_would_fetch(req, &c, kid);
}
