/* session.c: login sessions, interactions (parked authorization requests), the browser-binding cookie
 * and device cookies (see session.h). Session and browser cookie values are 256-bit random strings; only
 * their SHA-256 is stored. Device cookies are stored nowhere: their HMAC is their proof. */
#include "session/session.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/cookie.h"
#include "http/http.h"
#include "core/banned.h"

#define BROWSER_COOKIE "ostiary_browser"
#define INTERACTION_TTL 600

/* Cookie attributes shared by session, browser and device cookies. */
static bool session_cookie_secure(const struct http_req *req)
{
    return strncmp(req->worker->app->issuer, "https://", 8) == 0;
}

static const char *session_cookie_path(const struct http_req *req)
{
    const char *p = req->worker->app->cfg->issuer_path;
    return p[0] != '\0' ? p : "/";
}

static void set_cookie(struct http_req *req, const char *name, const char *value, int64_t max_age)
{
    struct cookie_opts o = {
        .path = session_cookie_path(req),
        .max_age = max_age,
        .secure = session_cookie_secure(req),
        .http_only = true,
        .same_site = "Lax",
    };
    cookie_set(req, name, value, &o);
}

static json_t *parse_data(struct arena *a, const char *text)
{
    if (text == NULL)
        return NULL;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL)
        return NULL;
    arena_defer(a, (void (*)(void *))json_decref, j);
    return j;
}

int session_load(struct http_req *req, struct session *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    struct str v;
    if (http_req_cookie(req, req->worker->app->cfg->sessions.cookie_name, &v) != 0 || v.len == 0 || v.len > 128)
        return ERR_NOTFOUND;
    store_hash(v.p, v.len, out->hash);
    struct store_token t;
    int rc = store_token_get(req->worker->db, req->arena, out->hash, &t, err);
    if (rc != 0)
        return rc;
    int64_t now = clock_now();
    if (t.kind != STORE_TOKEN_SESSION || t.revoked_at != 0 || t.exp <= now || t.sub == NULL)
        return ERR_NOTFOUND;
    json_t *d = parse_data(req->arena, t.data);
    out->user_id = t.sub;
    out->exp = t.exp;
    out->sid = json_string_value(json_object_get(d, "sid"));
    out->auth_time = json_integer_value(json_object_get(d, "auth_time"));
    out->acr = json_string_value(json_object_get(d, "acr"));
    out->amr = json_object_get(d, "amr");
    if (out->sid == NULL)
        return ERR_NOTFOUND;
    return 0;
}

json_t *session_row_json(const struct store_token *t)
{
    json_t *d = json_loads(t->data != NULL ? t->data : "{}", JSON_REJECT_DUPLICATES, NULL);
    json_t *o = json_object();
    static const char *const keep[] = {"sid", "auth_time", "acr", "amr"};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_is_object(d) ? json_object_get(d, keep[i]) : NULL;
        json_object_set(o, keep[i], v != NULL ? v : json_null());
    }
    json_decref(d);
    json_object_set_new(o, "created_at", json_integer(t->iat));
    json_object_set_new(o, "expires_at", json_integer(t->exp));
    return o;
}

int session_create(struct http_req *req, const char *user_id, const char *amr, const struct session *previous,
                   struct session *out, struct errbuf *err)
{
    struct worker *w = req->worker;
    int64_t now = clock_now();
    if (previous != NULL && previous->sid != NULL)
        store_token_revoke(w->db, previous->hash, now, err);
    memset(out, 0, sizeof(*out));
    const char *value = rand_token(req->arena, 32);
    store_hash(value, strlen(value), out->hash);
    out->sid = rand_token(req->arena, 16);
    out->user_id = arena_strdup(req->arena, user_id);
    out->auth_time = now;
    out->acr = SESSION_ACR_PASSWORD;
    out->exp = now + w->app->cfg->sessions.ttl;
    json_t *d = json_object();
    json_object_set_new(d, "sid", json_string(out->sid));
    json_object_set_new(d, "auth_time", json_integer(now));
    json_object_set_new(d, "acr", json_string(out->acr));
    json_t *amr_arr = json_array();
    json_array_append_new(amr_arr, json_string(amr));
    json_object_set_new(d, "amr", amr_arr);
    out->amr = amr_arr;
    arena_defer(req->arena, (void (*)(void *))json_decref, d);
    char *text = json_dumps(d, JSON_COMPACT);
    struct store_token t = {0};
    memcpy(t.hash, out->hash, STORE_HASH_LEN);
    t.kind = STORE_TOKEN_SESSION;
    t.client_id = "";
    t.sub = user_id;
    t.scope = "";
    t.data = text;
    t.iat = now;
    t.exp = out->exp;
    int rc = store_token_put(w->db, &t, err);
    free(text);
    if (rc != 0)
        return rc;
    set_cookie(req, w->app->cfg->sessions.cookie_name, value, w->app->cfg->sessions.ttl);
    return 0;
}

int session_end(struct http_req *req, const struct session *s, struct errbuf *err)
{
    set_cookie(req, req->worker->app->cfg->sessions.cookie_name, "", -1);
    return store_token_revoke(req->worker->db, s->hash, clock_now(), err);
}

/* The browser-binding value: read from the cookie, or created (and set) when absent. Returns its hash
 * in hex. */
static const char *browser_binding(struct http_req *req, bool create)
{
    struct str v;
    uint8_t h[STORE_HASH_LEN];
    if (http_req_cookie(req, BROWSER_COOKIE, &v) == 0 && v.len >= 16 && v.len <= 128) {
        store_hash(v.p, v.len, h);
        return hex_encode(req->arena, h, sizeof(h));
    }
    if (!create)
        return NULL;
    const char *value = rand_token(req->arena, 32);
    /* Lives as long as a session may, so parallel tabs and a later login share it. */
    set_cookie(req, BROWSER_COOKIE, value, req->worker->app->cfg->sessions.ttl);
    store_hash(value, strlen(value), h);
    return hex_encode(req->arena, h, sizeof(h));
}

int interaction_create(struct http_req *req, const char *client_id, json_t *request, struct interaction *out,
                       struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    int64_t now = clock_now();
    out->id = rand_token(req->arena, 32);
    out->csrf = rand_token(req->arena, 32);
    out->client_id = client_id;
    out->iat = now;
    out->exp = now + INTERACTION_TTL;
    store_hash(out->id, strlen(out->id), out->hash);
    json_t *d = json_object();
    json_object_set(d, "request", request);
    json_object_set_new(d, "csrf", json_string(out->csrf));
    json_object_set_new(d, "browser", json_string(browser_binding(req, true)));
    arena_defer(req->arena, (void (*)(void *))json_decref, d);
    out->data = d;
    char *text = json_dumps(d, JSON_COMPACT);
    struct store_token t = {0};
    memcpy(t.hash, out->hash, STORE_HASH_LEN);
    t.kind = STORE_TOKEN_INTERACTION;
    t.client_id = client_id;
    t.scope = "";
    t.data = text;
    t.iat = now;
    t.exp = out->exp;
    int rc = store_token_put(req->worker->db, &t, err);
    free(text);
    return rc;
}

int interaction_load(struct http_req *req, const char *id, struct interaction *out, struct errbuf *err)
{
    memset(out, 0, sizeof(*out));
    if (id == NULL || strlen(id) > 128)
        return ERR_NOTFOUND;
    store_hash(id, strlen(id), out->hash);
    struct store_token t;
    int rc = store_token_get(req->worker->db, req->arena, out->hash, &t, err);
    if (rc != 0)
        return rc;
    int64_t now = clock_now();
    if (t.kind != STORE_TOKEN_INTERACTION || t.revoked_at != 0 || t.consumed_at != 0 || t.exp <= now)
        return ERR_NOTFOUND;
    out->data = parse_data(req->arena, t.data);
    const char *bound = json_string_value(json_object_get(out->data, "browser"));
    const char *mine = browser_binding(req, false);
    if (bound == NULL || mine == NULL || !ct_eq(bound, strlen(bound), mine, strlen(mine)))
        return ERR_NOTFOUND;
    out->id = id;
    out->client_id = t.client_id;
    out->csrf = json_string_value(json_object_get(out->data, "csrf"));
    out->iat = t.iat;
    out->exp = t.exp;
    return 0;
}

bool interaction_csrf_ok(const struct interaction *ia, const char *csrf)
{
    return ia->csrf != NULL && csrf != NULL && ct_eq(ia->csrf, strlen(ia->csrf), csrf, strlen(csrf));
}

int interaction_finish(struct http_req *req, const struct interaction *ia, struct errbuf *err)
{
    struct store_token t;
    return store_token_consume(req->worker->db, req->arena, ia->hash, STORE_TOKEN_INTERACTION, clock_now(), &t,
                               err);
}

/* ---- device cookies ---- */

#define DEVICE_KEY_CONTEXT "ostiary-device-cookie-v1"
#define DEVICE_TAG_CHARS 16
#define DEVICE_SKEW 300 /* seconds an iat may lie in the future (another instance's clock) */

void device_cookie_key(const char *secret, uint8_t key[DEVICE_KEY_LEN])
{
    crypto_generichash(key, DEVICE_KEY_LEN, (const unsigned char *)secret, strlen(secret),
                       (const unsigned char *)DEVICE_KEY_CONTEXT, sizeof(DEVICE_KEY_CONTEXT) - 1);
}

/* HMAC-SHA256(key, label NUL username NUL rest): the label keeps the name tag and the cookie MAC apart. */
static void device_mac(const uint8_t key[DEVICE_KEY_LEN], const char *label, const char *username, const char *rest,
                       unsigned char out[crypto_auth_hmacsha256_BYTES])
{
    static const unsigned char nul = 0;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, DEVICE_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, strlen(label));
    crypto_auth_hmacsha256_update(&st, &nul, 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)username, strlen(username));
    crypto_auth_hmacsha256_update(&st, &nul, 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)rest, strlen(rest));
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

char *device_cookie_name(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    device_mac(key, "name", username, "", mac);
    char *tag = b64url_encode(a, mac, sizeof(mac));
    return arena_printf(a, "%s%.*s", DEVICE_COOKIE_PREFIX, DEVICE_TAG_CHARS, tag);
}

char *device_cookie_value(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username, int64_t iat,
                          const char *id)
{
    char *signed_part = arena_printf(a, "%" PRId64 ".%s", iat, id);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    device_mac(key, "device", username, signed_part, mac);
    return arena_printf(a, "%s.%s", signed_part, b64url_encode(a, mac, sizeof(mac)));
}

const char *device_cookie_verify(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username,
                                 struct str value, int64_t now)
{
    /* "<iat>.<id>.<mac>": the MAC is what follows the last dot; iat must be a plain decimal number. */
    if (value.len == 0 || value.len > 128)
        return NULL;
    const char *v = arena_strndup(a, value.p, value.len);
    const char *dot1 = strchr(v, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot1 == NULL || dot2 == NULL || dot2 == dot1 + 1 || strchr(dot2 + 1, '.') != NULL)
        return NULL;
    int64_t iat;
    if (str_to_i64((struct str){v, (size_t)(dot1 - v)}, &iat) != 0 || iat > now + DEVICE_SKEW ||
        now - iat > DEVICE_COOKIE_TTL)
        return NULL;
    const char *id = arena_strndup(a, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const char *want = device_cookie_value(a, key, username, iat, id);
    /* The value we would have written for this iat and id, compared whole: a different spelling of the
     * same iat (leading zeros) does not compare equal either. */
    if (!ct_eq(want, strlen(want), value.p, value.len))
        return NULL;
    return id;
}

const char *device_cookie_check(struct http_req *req, const char *username)
{
    const struct app *app = req->worker->app;
    struct str v;
    if (username == NULL ||
        http_req_cookie(req, device_cookie_name(req->arena, app->device_key, username), &v) != 0)
        return NULL;
    return device_cookie_verify(req->arena, app->device_key, username, v, clock_now());
}

void device_cookie_set(struct http_req *req, const char *username)
{
    const struct app *app = req->worker->app;
    const char *value = device_cookie_value(req->arena, app->device_key, username, clock_now(),
                                            rand_token(req->arena, 16));
    set_cookie(req, device_cookie_name(req->arena, app->device_key, username), value, DEVICE_COOKIE_TTL);
}
