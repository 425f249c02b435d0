/* client.c: stored-metadata parsing and writing (the names of its values are in client_names.c),
 * config-declared clients, and client authentication for the token, introspection and revocation
 * endpoints (RFC 6749 §2.3.1). */
#include "oauth/client.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "jose/jose.h"
#include "oauth/client_check.h"
#include "http/fetch.h"
#include "http/http.h"
#include "core/banned.h"

static const char **json_str_array(struct arena *a, json_t *arr, size_t *n)
{
    *n = 0;
    if (!json_is_array(arr))
        return NULL;
    const char **out = arena_alloc(a, sizeof(char *) * (json_array_size(arr) + 1));
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            out[(*n)++] = arena_strdup(a, json_string_value(v));
    }
    return out;
}

int client_from_store(struct arena *a, const struct store_client *sc, struct client *out)
{
    memset(out, 0, sizeof(*out));
    json_t *m = json_loads(sc->metadata, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return -1;
    }
    out->client_id = sc->client_id;
    out->has_secret = sc->has_secret;
    memcpy(out->secret_hash, sc->secret_hash, STORE_HASH_LEN);
    const char *name = json_string_value(json_object_get(m, "client_name"));
    out->client_name = arena_strdup(a, name);
    /* Absent (a client stored before the field existed) or unknown: web, whose redirect URIs are compared
     * as strings, the stricter reading. */
    const char *at = json_string_value(json_object_get(m, "application_type"));
    out->application_type = APP_TYPE_WEB;
    if (at != NULL)
        client_application_type_parse(at, &out->application_type);
    const char *method = json_string_value(json_object_get(m, "token_endpoint_auth_method"));
    out->auth_method = sc->has_secret ? CLIENT_AUTH_SECRET_BASIC : CLIENT_AUTH_NONE;
    if (method != NULL && client_auth_method_parse(method, &out->auth_method) != 0) {
        json_decref(m);
        return -1;
    }
    out->secret_enc = sc->secret_enc;
    out->secret_enc_len = sc->secret_enc_len;
    out->auth_signing_alg = arena_strdup(a, json_string_value(json_object_get(m, "token_endpoint_auth_signing_alg")));
    out->auth_signing_algs = out->auth_method == CLIENT_AUTH_PRIVATE_KEY_JWT ? JOSE_ALGS_ASYMMETRIC
                             : out->auth_method == CLIENT_AUTH_SECRET_JWT    ? JOSE_ALGS_HMAC
                                                                             : 0;
    if (out->auth_signing_alg != NULL) /* checked when stored; an unknown name allows nothing */
        out->auth_signing_algs &= JOSE_ALG_SAME(jose_alg_parse_cstr(out->auth_signing_alg)) & ~1u;
    json_t *jwks = json_object_get(m, "jwks");
    if (json_is_object(jwks)) {
        char *text = json_dumps(jwks, JSON_COMPACT);
        out->jwks = text != NULL ? arena_strdup(a, text) : NULL;
        free(text);
    }
    out->jwks_uri = arena_strdup(a, json_string_value(json_object_get(m, "jwks_uri")));
    size_t n;
    const char **gt = json_str_array(a, json_object_get(m, "grant_types"), &n);
    for (size_t i = 0; i < n; i++) {
        /* Unknown names count for nothing; a known row that is not served is kept (the token endpoint
         * refuses it), so that the metadata written back is what was stored. */
        const struct grant_type *g = grant_by_name(gt[i]);
        out->grant_types |= g != NULL ? g->flag : 0;
    }
    /* Absent (a client stored before the field existed): code for a client with the code grant, as then
     * (RFC 7591 §2's default). Unknown names count for nothing; a known type that is not served is kept
     * (the authorization endpoint refuses it). */
    json_t *rt = json_object_get(m, "response_types");
    if (rt == NULL && (out->grant_types & GRANT_AUTHORIZATION_CODE))
        out->response_types = RESPONSE_TYPE_BIT(RESPONSE_CODE);
    const char **rts = json_str_array(a, rt, &n);
    for (size_t i = 0; i < n; i++) {
        unsigned parts;
        enum response_type_fault f = response_type_parse(rts[i], &parts);
        if (f == RESPONSE_TYPE_OK || f == RESPONSE_TYPE_NOT_SERVED)
            out->response_types |= RESPONSE_TYPE_BIT(parts);
    }
    out->redirect_uris = json_str_array(a, json_object_get(m, "redirect_uris"), &out->n_redirect_uris);
    const char *scope = json_string_value(json_object_get(m, "scope"));
    out->scope = arena_strdup(a, scope != NULL ? scope : "");
    out->resources = json_str_array(a, json_object_get(m, "resources"), &out->n_resources);
    out->resources_listed = json_is_array(json_object_get(m, "resources"));
    out->require_par = json_is_true(json_object_get(m, "require_pushed_authorization_requests"));
    out->post_logout_redirect_uris =
        json_str_array(a, json_object_get(m, "post_logout_redirect_uris"), &out->n_post_logout_redirect_uris);
    const char *idalg = json_string_value(json_object_get(m, "id_token_signed_response_alg"));
    out->id_token_signed_response_alg = arena_strdup(a, idalg); /* NULL: the server's first algorithm */
    const char *rp = json_string_value(json_object_get(m, "refresh_token_policy"));
    out->refresh_policy = REFRESH_OFFLINE_CONSENT;
    if (rp != NULL)
        client_refresh_policy_parse(rp, &out->refresh_policy); /* unknown: the default */
    const char **pm = json_str_array(a, json_object_get(m, "pkce_methods"), &n);
    for (size_t i = 0; i < n; i++)
        out->pkce_methods |= pkce_method_flag(pm[i]);
    if (out->pkce_methods == 0)
        out->pkce_methods = PKCE_S256;
    json_t *rq = json_object_get(m, "require_pkce");
    out->require_pkce = json_is_boolean(rq) ? json_is_true(rq) : true;
    if (out->auth_method == CLIENT_AUTH_NONE)
        out->require_pkce = true; /* RFC 9700 §2.1.1: public clients always use PKCE */
    /* Absent (stored before the field existed): all, as then. An unknown value is refused rather than read
     * as some other, wider, access. */
    const char *ia = json_string_value(json_object_get(m, "introspection_access"));
    out->introspection_access = INTROSPECT_ALL;
    if (ia != NULL && client_introspection_access_parse(ia, &out->introspection_access) != 0) {
        json_decref(m);
        return -1;
    }
    out->introspection_resources =
        json_str_array(a, json_object_get(m, "introspection_resources"), &out->n_introspection_resources);
    /* Absent (stored before the field existed): none, as then; unknown: refused, as above. */
    const char *itc = json_string_value(json_object_get(m, "id_token_claims"));
    out->id_token_claims = ID_TOKEN_CLAIMS_NONE;
    if (itc != NULL && client_id_token_claims_parse(itc, &out->id_token_claims) != 0) {
        json_decref(m);
        return -1;
    }
    out->dpop_bound_access_tokens = json_is_true(json_object_get(m, "dpop_bound_access_tokens"));
    const char *roalg = json_string_value(json_object_get(m, "request_object_signing_alg"));
    out->request_object_signing_alg = arena_strdup(a, roalg);
    out->require_signed_request_object = json_is_true(json_object_get(m, "require_signed_request_object"));
    json_t *ttl = json_object_get(m, "access_token_ttl");
    if (json_is_integer(ttl) && json_integer_value(ttl) > 0 && json_integer_value(ttl) <= 86400 * 366)
        out->access_token_ttl = (uint32_t)json_integer_value(ttl);
    json_decref(m);
    return 0;
}

bool client_may_target(const struct client *c, const char *identifier)
{
    if (c->n_resources == 0 && !c->resources_listed)
        return true;
    for (size_t i = 0; i < c->n_resources; i++)
        if (strcmp(c->resources[i], identifier) == 0)
            return true;
    return false;
}

/* Sets m[key] to the array of v[0..n); an empty list is written only when `always`. */
static void set_str_array(json_t *m, const char *key, const char *const *v, size_t n, bool always)
{
    if (n == 0 && !always)
        return;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    json_object_set_new(m, key, arr);
}

char *client_metadata_json(const struct client *c)
{
    json_t *m = json_object();
    if (c->client_name != NULL)
        json_object_set_new(m, "client_name", json_string(c->client_name));
    /* The policies below are written even when they are the default, so that `ostiary client show`
     * states them. */
    json_object_set_new(m, "application_type", json_string(client_application_type_str(c->application_type)));
    json_object_set_new(m, "token_endpoint_auth_method", json_string(client_auth_method_str(c->auth_method)));
    if (c->auth_signing_alg != NULL)
        json_object_set_new(m, "token_endpoint_auth_signing_alg", json_string(c->auth_signing_alg));
    if (c->jwks != NULL) /* checked by client_check: a JSON object */
        json_object_set_new(m, "jwks", json_loads(c->jwks, JSON_REJECT_DUPLICATES, NULL));
    if (c->jwks_uri != NULL)
        json_object_set_new(m, "jwks_uri", json_string(c->jwks_uri));
    json_t *gt = json_array();
    for (unsigned bit = 1; bit != 0; bit <<= 1) {
        const struct grant_type *g = (c->grant_types & bit) ? grant_by_flag(bit) : NULL;
        if (g != NULL)
            json_array_append_new(gt, json_string(g->name));
    }
    json_object_set_new(m, "grant_types", gt);
    json_t *rt = json_array();
    for (unsigned parts = 1; parts < 8; parts++)
        if (c->response_types & RESPONSE_TYPE_BIT(parts))
            json_array_append_new(rt, json_string(response_type_name(parts)));
    json_object_set_new(m, "response_types", rt);
    set_str_array(m, "redirect_uris", c->redirect_uris, c->n_redirect_uris, true);
    json_object_set_new(m, "scope", json_string(c->scope != NULL ? c->scope : ""));
    set_str_array(m, "resources", c->resources, c->n_resources, c->resources_listed);
    if (c->access_token_ttl > 0)
        json_object_set_new(m, "access_token_ttl", json_integer(c->access_token_ttl));
    set_str_array(m, "post_logout_redirect_uris", c->post_logout_redirect_uris, c->n_post_logout_redirect_uris,
                  false);
    if (c->id_token_signed_response_alg != NULL)
        json_object_set_new(m, "id_token_signed_response_alg", json_string(c->id_token_signed_response_alg));
    json_object_set_new(m, "id_token_claims", json_string(client_id_token_claims_str(c->id_token_claims)));
    json_object_set_new(m, "refresh_token_policy", json_string(client_refresh_policy_str(c->refresh_policy)));
    if (c->pkce_methods != 0) {
        json_t *pm = json_array();
        if (c->pkce_methods & PKCE_S256)
            json_array_append_new(pm, json_string("S256"));
        if (c->pkce_methods & PKCE_PLAIN)
            json_array_append_new(pm, json_string("plain"));
        json_object_set_new(m, "pkce_methods", pm);
    }
    json_object_set_new(m, "require_pkce", json_boolean(c->require_pkce));
    if (c->require_par)
        json_object_set_new(m, "require_pushed_authorization_requests", json_true());
    json_object_set_new(m, "introspection_access",
                        json_string(client_introspection_access_str(c->introspection_access)));
    set_str_array(m, "introspection_resources", c->introspection_resources, c->n_introspection_resources, false);
    json_object_set_new(m, "dpop_bound_access_tokens", json_boolean(c->dpop_bound_access_tokens));
    if (c->request_object_signing_alg != NULL)
        json_object_set_new(m, "request_object_signing_alg", json_string(c->request_object_signing_alg));
    json_object_set_new(m, "require_signed_request_object", json_boolean(c->require_signed_request_object));
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    return s;
}

json_t *client_to_json(const struct store_client *sc, bool state, bool *unreadable)
{
    json_t *out = json_object();
    json_object_set_new(out, "client_id", json_string(sc->client_id));
    json_t *m = json_loads(sc->metadata != NULL ? sc->metadata : "{}", JSON_REJECT_DUPLICATES, NULL);
    bool bad = !json_is_object(m);
    if (!bad) {
        /* A stored secret would be a bug elsewhere; it is dropped here all the same, so nothing shows one. */
        json_object_del(m, "client_secret");
        json_object_del(m, "client_secret_sha256");
        json_object_del(m, "client_id");
        json_object_update(out, m);
    }
    json_decref(m);
    if (state) {
        json_object_set_new(out, "has_secret", json_boolean(sc->has_secret));
        json_object_set_new(out, "from_config", json_boolean(sc->from_config));
        json_object_set_new(out, "origin", json_string(store_client_origin(sc)));
        json_object_set_new(out, "created_at", json_integer(sc->created_at));
        json_object_set_new(out, "updated_at", json_integer(sc->updated_at));
    }
    if (unreadable != NULL)
        *unreadable = bad;
    return out;
}

bool client_secret_given(const char *secret, const char *sha256_b64, struct arena *a,
                         uint8_t out[STORE_HASH_LEN])
{
    unsigned char *raw;
    size_t rawlen;
    if (secret != NULL) {
        store_hash(secret, strlen(secret), out);
        return true;
    }
    if (sha256_b64 == NULL || b64_decode(a, sha256_b64, strlen(sha256_b64), &raw, &rawlen) != 0 ||
        rawlen != STORE_HASH_LEN)
        return false;
    memcpy(out, raw, STORE_HASH_LEN);
    return true;
}

char *client_secret_set(struct store_client *sc, enum client_auth_method m, const uint8_t *given,
                        bool renew, struct arena *a)
{
    if (m == CLIENT_AUTH_NONE || m == CLIENT_AUTH_PRIVATE_KEY_JWT) {
        /* A public client authenticates with nothing, a private_key_jwt one with its keys: keeping an old
         * hash around would only mislead. */
        sc->has_secret = false;
        memset(sc->secret_hash, 0, sizeof(sc->secret_hash));
        return NULL;
    }
    if (given != NULL) {
        sc->has_secret = true;
        memcpy(sc->secret_hash, given, STORE_HASH_LEN);
        return NULL;
    }
    if (sc->has_secret && !renew)
        return NULL;
    /* 256 bits, so a fast hash is enough at rest (client secrets are stored as SHA-256). A client_secret_jwt
     * secret is also an HMAC key: 512 bits, long enough for HS512 (RFC 7518 §3.2). */
    char *secret = rand_token(a, m == CLIENT_AUTH_SECRET_JWT ? 64 : 32);
    store_hash(secret, strlen(secret), sc->secret_hash);
    sc->has_secret = true;
    return secret;
}

static int client_row_cmp(const void *x, const void *y)
{
    return strcmp((*(const struct store_client *const *)x)->client_id,
                  (*(const struct store_client *const *)y)->client_id);
}

/* The stored row of client_id among the sorted rows, or NULL. */
static const struct store_client *old_row(const struct store_client **by_id, size_t n, const char *client_id)
{
    struct store_client key = {.client_id = client_id};
    const struct store_client *kp = &key, **hit = n > 0 ? bsearch(&kp, by_id, n, sizeof(*by_id), client_row_cmp) : NULL;
    return hit != NULL ? *hit : NULL;
}

int client_secret_seal(struct store_client *sc, const struct store_client *old, const char *key_secret,
                       const char *secret, struct arena *a, struct errbuf *err)
{
    const unsigned char *plain;
    size_t plain_len;
    struct errbuf ignored;
    /* Unchanged: the stored blob is kept (a new nonce would rewrite the row at every start). */
    if (old != NULL && old->secret_enc_len > 0 &&
        jose_secret_open(key_secret, sc->client_id, old->secret_enc, old->secret_enc_len, a, &plain, &plain_len,
                         &ignored) == 0 &&
        ct_eq(plain, plain_len, secret, strlen(secret))) {
        sc->secret_enc = old->secret_enc;
        sc->secret_enc_len = old->secret_enc_len;
        return 0;
    }
    if (jose_secret_seal(key_secret, sc->client_id, secret, strlen(secret), a, &sc->secret_enc, &sc->secret_enc_len,
                         err) != 0) {
        errbuf_set(err, "client %s: its client_secret_jwt secret cannot be sealed: %s", sc->client_id, err->msg);
        return ERR_INVALID;
    }
    return 0;
}

int client_secret_reseal(struct store_client *sc, enum client_auth_method m, const char *plain,
                         const char *key_secret, struct arena *a, char **generated, struct errbuf *err)
{
    *generated = NULL;
    if (m != CLIENT_AUTH_SECRET_JWT) {
        sc->secret_enc = NULL;
        sc->secret_enc_len = 0;
        return 0;
    }
    if (plain == NULL && sc->secret_enc_len > 0)
        return 0;
    if (plain == NULL)
        plain = *generated = client_secret_set(sc, m, NULL, true, a);
    return client_secret_seal(sc, NULL, key_secret, plain, a, err);
}

int clients_apply_config(struct store_conn *db, const struct config *cfg, struct errbuf *err)
{
    struct arena *a = arena_new(8192);
    /* The stored clients, read once (one query instead of one per client), by client_id. */
    struct store_client *all = NULL;
    size_t n_all = 0;
    int rc = store_client_list(db, a, &all, &n_all, err);
    const struct store_client **by_id = arena_alloc(a, (n_all + 1) * sizeof(*by_id));
    for (size_t k = 0; k < n_all; k++)
        by_id[k] = &all[k];
    qsort(by_id, n_all, sizeof(*by_id), client_row_cmp);
    for (unsigned i = 0; rc == 0 && i < cfg->n_clients; i++) {
        const struct cfg_client *cc = &cfg->clients[i];
        struct client c;
        struct client_problem p;
        /* The configuration was checked (oauth_config_validate): this only applies the same defaults. */
        if (client_check_entry(cfg, i, a, &c, &p) != 0) {
            errbuf_set(err, "clients[%u].%s: invalid (the configuration was not validated)", i, p.field);
            rc = ERR_INVALID;
            break;
        }

        struct store_client sc = {0};
        sc.client_id = cc->client_id;
        sc.from_config = true;
        sc.created_at = sc.updated_at = clock_now();
        if (cc->client_secret != NULL) {
            sc.has_secret = true;
            store_hash(cc->client_secret, strlen(cc->client_secret), sc.secret_hash);
        } else if (cc->client_secret_sha256 != NULL) {
            unsigned char *raw;
            size_t rawlen;
            if (b64_decode(a, cc->client_secret_sha256, strlen(cc->client_secret_sha256), &raw, &rawlen) != 0 ||
                rawlen != STORE_HASH_LEN) {
                errbuf_set(err, "clients[%u].client_secret_sha256: not base64 of 32 bytes", i);
                rc = ERR_INVALID;
                break;
            }
            sc.has_secret = true;
            memcpy(sc.secret_hash, raw, STORE_HASH_LEN);
        }
        if (c.auth_method == CLIENT_AUTH_SECRET_JWT) {
            rc = client_secret_seal(&sc, old_row(by_id, n_all, cc->client_id), cfg->key_secret, cc->client_secret,
                                    a, err);
            if (rc != 0)
                break;
        }
        char *meta = client_metadata_json(&c);
        sc.metadata = meta;
        /* Unchanged since the last start or reload: no write (a start with many clients only reads). */
        const struct store_client *kp = &sc, **hit = n_all > 0 ? bsearch(&kp, by_id, n_all, sizeof(*by_id),
                                                                          client_row_cmp)
                                                               : NULL;
        const struct store_client *old = hit != NULL ? *hit : NULL;
        if (old == NULL || !old->from_config || old->has_secret != sc.has_secret ||
            (sc.has_secret && memcmp(old->secret_hash, sc.secret_hash, STORE_HASH_LEN) != 0) ||
            old->secret_enc_len != sc.secret_enc_len ||
            (sc.secret_enc_len > 0 && memcmp(old->secret_enc, sc.secret_enc, sc.secret_enc_len) != 0) ||
            strcmp(old->metadata, meta) != 0)
            rc = store_client_put(db, &sc, err);
        free(meta);
    }
    /* A client an earlier start took from the file but that the file no longer declares is removed, so
     * deleting it from the file ends it (its tokens die with it: token_lookup checks the client). */
    const char **declared = arena_alloc(a, (cfg->n_clients + 1) * sizeof(*declared));
    for (unsigned k = 0; k < cfg->n_clients; k++)
        declared[k] = cfg->clients[k].client_id;
    str_sort(declared, cfg->n_clients);
    for (size_t i = 0; rc == 0 && i < n_all; i++) {
        if (!all[i].from_config || str_sorted_has(declared, cfg->n_clients, all[i].client_id))
            continue;
        rc = store_client_delete(db, all[i].client_id, err);
        if (rc == 0)
            log_info("client_removed", LS("client_id", all[i].client_id), LS("why", "no longer in the file"),
                     NULL);
    }
    arena_free(a);
    return rc;
}

/* ---- per-worker cache of client rows ----
 * Every token, introspection and revocation request looks its client up; a small direct-mapped cache per
 * worker thread saves the store read, and keeps the row parsed (client_get), which saves parsing its JSON
 * metadata per request. Entries live CLIENT_CACHE_TTL seconds, so a change made with the CLI or by another
 * instance (new secret, deletion) takes effect within that time; one made through this process's admin
 * API at once (app_state's clients_generation). No locking on the slots: each worker owns its cache.
 * The parsed client is a snapshot in its own arena, counted: the cache holds one reference and every
 * request it is handed to holds one until its arena is reset. A request served on the login pool is
 * answered (and its arena freed) on a loop thread, possibly after its pool thread has replaced the entry,
 * so the count is atomic and whoever drops the last reference frees the snapshot. */
#define CLIENT_CACHE_SLOTS 64
#define CLIENT_CACHE_TTL 5

struct client_snapshot {
    atomic_uint refs;
    struct arena *mem;    /* holds this struct and the parsed client's strings and lists */
    struct client parsed; /* valid when parsed_ok */
    bool parsed_ok;       /* the metadata parsed (client_from_store) */
};

struct client_cache_entry {
    char *client_id;
    char *metadata;
    unsigned char *secret_enc;
    size_t secret_enc_len;
    bool has_secret;
    bool from_config;
    uint8_t secret_hash[STORE_HASH_LEN];
    int64_t fetched_at;
    unsigned generation; /* app_state's clients_generation when fetched */
    struct client_snapshot *snap;
};

struct client_cache {
    struct client_cache_entry slots[CLIENT_CACHE_SLOTS];
};

static unsigned slot_of(const char *id)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % CLIENT_CACHE_SLOTS;
}

static void snapshot_release(void *p)
{
    struct client_snapshot *s = p;
    if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        arena_free(s->mem);
}

void client_cache_free(struct client_cache *cc)
{
    if (cc == NULL)
        return;
    for (size_t i = 0; i < CLIENT_CACHE_SLOTS; i++) {
        free(cc->slots[i].client_id);
        free(cc->slots[i].metadata);
        free(cc->slots[i].secret_enc);
        snapshot_release(cc->slots[i].snap);
    }
    free(cc);
}

static unsigned clients_generation(const struct worker *w)
{
    return atomic_load_explicit(&w->app->state->clients_generation, memory_order_relaxed);
}

/* The cache entry of client_id, fresh, or NULL (not cached, too old, or fetched before the admin API's
 * last change of a client). */
static struct client_cache_entry *cache_hit(struct worker *w, const char *client_id, int64_t now, unsigned gen)
{
    if (w->clients == NULL) {
        w->clients = calloc(1, sizeof(struct client_cache));
        if (w->clients == NULL)
            abort();
    }
    struct client_cache_entry *e = &w->clients->slots[slot_of(client_id)];
    if (e->client_id != NULL && strcmp(e->client_id, client_id) == 0 && now - e->fetched_at < CLIENT_CACHE_TTL &&
        now >= e->fetched_at && e->generation == gen)
        return e;
    return NULL;
}

/* The keys of c prepared in mem (client.h: jwks_keys, secret_keys), once per snapshot rather than once
 * per client assertion: the jwks imported, a client_secret_jwt secret unsealed with the key secret. */
static void keys_prepare(struct arena *mem, const char *key_secret, struct client *c)
{
    struct errbuf err;
    if (c->jwks != NULL) {
        struct jose_keyset *set = arena_alloc(mem, sizeof(*set));
        json_t *j = json_loads(c->jwks, JSON_REJECT_DUPLICATES, NULL);
        int rc = j != NULL ? jose_jwks_import(mem, j, set, &err) : ERR_INVALID;
        json_decref(j);
        if (rc == 0)
            c->jwks_keys = set;
        else
            c->jwks_error = j != NULL ? arena_strdup(mem, err.msg) : "not JSON";
    }
    if (c->auth_method == CLIENT_AUTH_SECRET_JWT) {
        const unsigned char *secret;
        size_t len;
        if (c->secret_enc_len == 0) {
            c->secret_error = "no sealed secret stored";
        } else if (jose_secret_open(key_secret, c->client_id, c->secret_enc, c->secret_enc_len, mem, &secret, &len,
                                    &err) != 0) {
            c->secret_error = arena_strdup(mem, err.msg);
        } else {
            const struct jose_pubkey **k = arena_alloc(mem, sizeof(*k));
            k[0] = jose_key_hmac(mem, secret, len);
            struct jose_keyset *set = arena_alloc(mem, sizeof(*set));
            *set = (struct jose_keyset){k, 1};
            c->secret_keys = set;
        }
    }
}

/* Replaces the slot of sc's client with sc, parsed into a new snapshot; the old snapshot lives on while a
 * request still holds it. */
static struct client_cache_entry *cache_put(struct worker *w, const struct store_client *sc, int64_t now,
                                            unsigned gen)
{
    struct client_cache_entry *e = &w->clients->slots[slot_of(sc->client_id)];
    free(e->client_id);
    free(e->metadata);
    snapshot_release(e->snap);
    free(e->secret_enc);
    e->client_id = strdup(sc->client_id);
    e->metadata = strdup(sc->metadata);
    if (e->client_id == NULL || e->metadata == NULL)
        abort();
    e->secret_enc = NULL;
    e->secret_enc_len = sc->secret_enc_len;
    if (sc->secret_enc_len > 0) {
        e->secret_enc = malloc(sc->secret_enc_len);
        if (e->secret_enc == NULL)
            abort();
        memcpy(e->secret_enc, sc->secret_enc, sc->secret_enc_len);
    }
    e->has_secret = sc->has_secret;
    e->from_config = sc->from_config;
    memcpy(e->secret_hash, sc->secret_hash, STORE_HASH_LEN);
    e->fetched_at = now;
    e->generation = gen;
    struct arena *mem = arena_new(1024);
    struct client_snapshot *s = arena_alloc(mem, sizeof(*s));
    s->mem = mem;
    atomic_init(&s->refs, 1);
    s->parsed_ok = client_from_store(mem, sc, &s->parsed) == 0;
    if (s->parsed_ok) { /* client_from_store points at sc's client_id and secret_enc: copies of its own */
        s->parsed.client_id = arena_strdup(mem, sc->client_id);
        s->parsed.secret_enc = sc->secret_enc_len > 0 ? arena_memdup(mem, sc->secret_enc, sc->secret_enc_len) : NULL;
        keys_prepare(mem, w->app->key_secret, &s->parsed);
    }
    e->snap = s;
    return e;
}

int client_lookup(struct worker *w, struct arena *a, const char *client_id, struct store_client *out,
                  struct errbuf *err)
{
    int64_t now = clock_now();
    unsigned gen = clients_generation(w);
    struct client_cache_entry *e = cache_hit(w, client_id, now, gen);
    if (e != NULL) {
        memset(out, 0, sizeof(*out));
        out->client_id = arena_strdup(a, e->client_id);
        out->metadata = arena_strdup(a, e->metadata);
        out->has_secret = e->has_secret;
        out->from_config = e->from_config;
        memcpy(out->secret_hash, e->secret_hash, STORE_HASH_LEN);
        if (e->secret_enc_len > 0) {
            out->secret_enc = arena_memdup(a, e->secret_enc, e->secret_enc_len);
            out->secret_enc_len = e->secret_enc_len;
        }
        return 0;
    }
    int rc = store_client_get(w->db, a, client_id, out, err);
    if (rc != 0)
        return rc; /* unknown clients are not cached: a new registration is seen at once */
    cache_put(w, out, now, gen);
    return 0;
}

/* ---- OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document) ----
 * A client_id that is an https URL names the JSON document of the client's metadata, fetched there (the
 * fetcher's rules: https, no redirects, size cap, public addresses only) and cached by its Cache-Control
 * with the fetched body, parsed once (fetch_get_parsed). The document is checked as a registration is
 * (client_check_registration: the file's rules and the registration.* policy), and further: its
 * client_id must be the URL (§4.1), it holds no secret and authenticates with none or private_key_jwt
 * (§4.1: a document is public, no shared secret can be in it), and it lists its redirect_uris. */

/* §3: an https URL with a path, without a fragment, credentials, or dot segments. */
static bool document_url_ok(const char *id)
{
    size_t n = strlen(id);
    const char *host = id + 8, *path = strchr(host, '/');
    if (n > 2048 || path == NULL || path == host || memchr(host, '@', (size_t)(path - host)) != NULL ||
        strchr(id, '#') != NULL)
        return false;
    for (const char *p = path; p != NULL; p = strchr(p + 1, '/')) {
        size_t seg = strcspn(p + 1, "/?");
        if ((seg == 1 && p[1] == '.') || (seg == 2 && p[1] == '.' && p[2] == '.'))
            return false;
        if (p[1 + seg] == '?')
            break;
    }
    return true;
}

bool client_id_is_document(const struct app *app, const char *client_id)
{
    return app->cfg->registration.client_id_metadata_documents && client_id != NULL &&
           strncmp(client_id, "https://", 8) == 0 && app->fetch != NULL && document_url_ok(client_id);
}

static void json_decref_cb(void *p)
{
    json_decref(p);
}

/* fetch_parse_fn: the document at url as a client (a struct client in mem); ctx is the configuration. */
static int document_parse(struct arena *mem, const char *url, const void *ctx, const char *body, size_t len,
                          const void **value, struct errbuf *err)
{
    const struct config *cfg = ctx;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        errbuf_set(err, "the document is not a JSON object");
        return ERR_INVALID;
    }
    arena_defer(mem, json_decref_cb, o);
    const char *id = json_string_value(json_object_get(o, "client_id"));
    if (id == NULL || strcmp(id, url) != 0) {
        errbuf_set(err, "the document's client_id is not the URL it was fetched from");
        return ERR_INVALID;
    }
    if (json_object_get(o, "client_secret") != NULL || json_object_get(o, "client_secret_expires_at") != NULL) {
        errbuf_set(err, "the document holds a client_secret: a published document cannot keep one");
        return ERR_INVALID;
    }
    struct client_meta m;
    struct client_problem p;
    struct client *c = arena_alloc(mem, sizeof(*c));
    char reason[512];
    if (client_meta_from_registration(o, mem, &m, &p) == 0) {
        m.client_id = arena_strdup(mem, url);
        if (m.token_endpoint_auth_method == NULL)
            m.token_endpoint_auth_method = "none"; /* no secret can be issued: a public client */
        if (strcmp(m.token_endpoint_auth_method, "none") != 0 &&
            strcmp(m.token_endpoint_auth_method, "private_key_jwt") != 0) {
            errbuf_set(err, "token_endpoint_auth_method must be none or private_key_jwt in a document");
            return ERR_INVALID;
        }
        if (m.redirect_uris.n == 0) {
            errbuf_set(err, "redirect_uris is required");
            return ERR_INVALID;
        }
        if (client_check_registration(cfg, &m, mem, c, &p) == 0) {
            c->has_secret = false;
            keys_prepare(mem, NULL, c);
            *value = c;
            return 0;
        }
    }
    errbuf_set(err, "%s: %s", p.field != NULL ? p.field : "", client_problem_reason(&p, NULL, reason, sizeof(reason)));
    return ERR_INVALID;
}

bool client_document_needs_fetch(struct worker *w, const char *client_id)
{
    return client_id_is_document(w->app, client_id) && !fetch_cached(w->app->fetch, client_id, 0);
}

int client_get(struct worker *w, struct arena *a, const char *client_id, struct client *out, struct errbuf *err)
{
    int64_t now = clock_now();
    unsigned gen = clients_generation(w);
    struct client_cache_entry *e = cache_hit(w, client_id, now, gen);
    if (e == NULL) {
        struct store_client sc;
        int rc = store_client_get(w->db, a, client_id, &sc, err);
        if (rc == ERR_NOTFOUND && client_id_is_document(w->app, client_id)) {
            /* The routes that may fetch run on the pool when the document is not cached (the router asks
             * client_document_needs_fetch); any other lookup on an event loop (a page of an interaction
             * that outlived the cached copy) must not wait on the network: unknown until fetched again. */
            if (!w->may_block && !fetch_cached(w->app->fetch, client_id, 0)) {
                log_warn("client_document_refused", LS("client_id", client_id),
                         LS("detail", "not cached, and not fetched on an event loop"), NULL);
                return ERR_NOTFOUND;
            }
            const void *v;
            rc = fetch_get_parsed(w->app->fetch, a, client_id, 0, document_parse, w->app->cfg, &v, NULL, err);
            if (rc != 0) {
                log_warn("client_document_refused", LS("client_id", client_id), LS("detail", err->msg), NULL);
                return ERR_NOTFOUND;
            }
            *out = *(const struct client *)v;
            return 0;
        }
        if (rc != 0)
            return rc; /* unknown clients are not cached: a new registration is seen at once */
        e = cache_put(w, &sc, now, gen);
    }
    struct client_snapshot *s = e->snap;
    if (!s->parsed_ok) {
        errbuf_set(err, "client %s: its stored metadata is not valid", client_id);
        return ERR_INVALID;
    }
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    arena_defer(a, snapshot_release, s);
    *out = s->parsed;
    return 0;
}
