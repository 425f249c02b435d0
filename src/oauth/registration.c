/* registration.c: dynamic client registration (RFC 7591 §3; OIDC Dynamic Registration §3) at POST /reg, and
 * each registered client's configuration endpoint (RFC 7592 §2) at /reg/<client_id>: read (GET), replace
 * (PUT) and delete (DELETE) with the registration access token. Off unless registration.enabled; open, or
 * with an initial access token (`ostiary registration token create`, STORE_TOKEN_INITIAL_ACCESS rows).
 * Metadata goes through client_check_registration() (client_check.c): the rules of the file and the CLI
 * plus the registration policy, which says whether private_key_jwt (jwks or jwks_uri) and client_secret_jwt
 * (a secret the server issues and keeps sealed, as for the file's clients) may be registered. Not here:
 * software statements (RFC 7591 §2.3). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/client.h"
#include "oauth/client_check.h"
#include "oauth/endpoints.h"
#include "oauth/frontchannel.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

/* The path of the configuration endpoints, under the issuer (router.c's /reg/ row). */
#define REG_CLIENT_PATH "/reg/"

static struct oauth_error bearer_error(const char *why)
{
    struct oauth_error e = OAUTH_ERROR(INVALID_TOKEN, why);
    e.challenge = "Bearer";
    return e;
}

/* The Bearer token of the request (RFC 6750 §2.1), or an invalid_token error (401, WWW-Authenticate). */
static struct oauth_error bearer_token(struct http_req *req, struct str *token, const char *missing)
{
    size_t n = 0;
    struct str hv = http_req_header(req, "authorization", &n);
    struct auth_header ah;
    if (n == 0)
        return bearer_error(missing);
    if (n > 1 || auth_header_parse(req->arena, hv.p, hv.len, &ah) != 0 || ah.scheme != AUTH_BEARER)
        return bearer_error("the Authorization header must hold one Bearer token");
    *token = ah.token;
    return OAUTH_OK;
}

/* RFC 7591 §3: an initial access token, unless registration is open. Returns its row (for a single-use
 * one, consumed with the registration), or an error. */
static struct oauth_error initial_access(struct http_req *req, struct store_token *t, bool *single_use)
{
    struct str token;
    struct oauth_error e = bearer_token(req, &token, "an initial access token is required (Authorization: Bearer)");
    if (oauth_failed(e))
        return e;
    struct errbuf err;
    store_hash(token.p, token.len, t->hash);
    int rc = store_token_get(req->worker->db, req->arena, t->hash, t, &err);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return oauth_store_failed(req, "iat_get", rc, &err);
    if (rc == ERR_NOTFOUND || t->kind != STORE_TOKEN_INITIAL_ACCESS || t->revoked_at != 0)
        return bearer_error("the initial access token is not valid");
    if (t->consumed_at != 0)
        return bearer_error("the initial access token was already used (it was valid once)");
    if (t->exp <= clock_now())
        return bearer_error("the initial access token has expired");
    json_t *d = json_loads(t->data != NULL ? t->data : "{}", 0, NULL);
    *single_use = json_is_true(json_object_get(d, "single_use"));
    json_decref(d);
    return OAUTH_OK;
}

/* The request body as a JSON object (RFC 7591 §3.1: application/json). */
static struct oauth_error json_body(struct http_req *req, json_t **out)
{
    size_t n = 0;
    struct str ct = http_req_header(req, "content-type", &n);
    size_t l = 0;
    while (l < ct.len && ct.p[l] != ';' && ct.p[l] != ' ')
        l++;
    if (n != 1 || !str_ieq_c((struct str){ct.p, l}, "application/json"))
        return OAUTH_ERROR(INVALID_REQUEST, "the request body must be application/json");
    *out = json_loadb(req->body.p, req->body.len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(*out)) {
        json_decref(*out);
        return OAUTH_ERROR(INVALID_CLIENT_METADATA, "the request body must be a JSON object of client metadata");
    }
    arena_defer(req->arena, (void (*)(void *))json_decref, *out);
    return OAUTH_OK;
}

/* The error of refused metadata (RFC 7591 §3.2.2), naming the member at fault. */
static struct oauth_error problem_error(struct http_req *req, const struct client_problem *p)
{
    char reason[512];
    client_problem_reason(p, NULL, reason, sizeof(reason));
    const char *d = p->field == NULL || p->field[0] == '\0' ? reason
                    : p->index >= 0 ? arena_printf(req->arena, "%s[%d]: %s", p->field, p->index, reason)
                                    : arena_printf(req->arena, "%s: %s", p->field, reason);
    bool redirect = p->error != NULL && strcmp(p->error, "invalid_redirect_uri") == 0;
    return (struct oauth_error){redirect ? OAUTH_ERR_INVALID_REDIRECT_URI : OAUTH_ERR_INVALID_CLIENT_METADATA, d, 0,
                                NULL};
}

/* Checks the metadata of body for the client client_id into *out (and its row's metadata). */
static struct oauth_error check_metadata(struct http_req *req, json_t *body, const char *client_id,
                                         struct client *out)
{
    struct client_meta m;
    struct client_problem p;
    if (client_meta_from_registration(body, req->arena, &m, &p) != 0)
        return problem_error(req, &p);
    m.client_id = client_id;
    if (client_check_registration(req->worker->app->cfg, &m, req->arena, out, &p) != 0)
        return problem_error(req, &p);
    return OAUTH_OK;
}

/* The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the stored metadata, client_id_issued_at,
 * the new secret when there is one (shown this once), and the registration access token with the client's
 * configuration URI. */
static void send_information(struct http_req *req, int status, const struct store_client *sc, const char *secret,
                             const char *reg_token)
{
    json_t *o = client_to_json(sc, false, NULL);
    json_object_set_new(o, "client_id_issued_at", json_integer(sc->created_at));
    if (secret != NULL) {
        json_object_set_new(o, "client_secret", json_string(secret));
        json_object_set_new(o, "client_secret_expires_at", json_integer(0)); /* never */
    }
    json_object_set_new(o, "registration_access_token", json_string(reg_token));
    json_object_set_new(
        o, "registration_client_uri",
        json_string(issuer_url(req, arena_printf(req->arena, "%s%s", REG_CLIENT_PATH, sc->client_id))));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        abort();
    http_res_no_store(req);
    http_res_json(req, status, text, strlen(text));
    free(text);
}

/* The secret of the row sc about to be saved for cl (client_secret_set): a new one when the client has
 * none and needs one (returned, shown once), none for a public or private_key_jwt client; for
 * client_secret_jwt also sealed at rest (client_secret_reseal), and new when the row has only a hash. */
static struct oauth_error set_secret(struct http_req *req, struct store_client *sc, const struct client *cl,
                                     const char **secret)
{
    *secret = client_secret_set(sc, cl->auth_method, NULL, false, req->arena);
    char *fresh;
    struct errbuf err;
    if (client_secret_reseal(sc, cl->auth_method, *secret, req->worker->app->key_secret, req->arena, &fresh,
                             &err) != 0) {
        log_error("client_secret_unsealable", LS("rid", req->rid), LS("client_id", sc->client_id),
                  LS("detail", err.msg), NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the client secret could not be stored");
    }
    if (fresh != NULL)
        *secret = fresh;
    return OAUTH_OK;
}

/* Writes the row with cl's metadata (and, with iat, consumes the single-use initial access token in the
 * same transaction: both or neither). */
static struct oauth_error save(struct http_req *req, struct store_client *sc, const struct client *cl,
                               const struct store_token *iat)
{
    struct store_conn *db = req->worker->db;
    char *meta = client_metadata_json(cl);
    if (meta == NULL)
        abort();
    sc->metadata = arena_strdup(req->arena, meta);
    free(meta);
    struct errbuf err;
    struct store_token used;
    int rc = store_begin(db, &err);
    if (rc == 0 && iat != NULL)
        rc = store_token_consume(db, req->arena, iat->hash, STORE_TOKEN_INITIAL_ACCESS, clock_now(), &used, &err);
    if (rc == 0)
        rc = store_client_put(db, sc, &err);
    if (rc == 0)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    if (rc == ERR_CONFLICT || rc == ERR_NOTFOUND)
        return bearer_error("the initial access token was already used (it was valid once)");
    if (rc != 0)
        return oauth_store_failed(req, "client_put", rc, &err);
    atomic_fetch_add(&req->worker->app->state->clients_generation, 1);
    return OAUTH_OK;
}

static bool registration_on(struct http_req *req)
{
    if (req->worker->app->cfg->registration.enabled)
        return true;
    oauth_error_send_json(req, OAUTH_ERROR(NOT_FOUND, "dynamic client registration is not enabled"));
    return false;
}

void oauth_registration_handle(struct http_req *req)
{
    if (!registration_on(req))
        return;
    const struct config *cfg = req->worker->app->cfg;
    /* Every attempt counts, so that the limit also slows down guessing initial access tokens. */
    int64_t wait = login_limiter_take(req->worker->app->reg_limiter, req->peer, clock_now());
    if (wait > 0) {
        struct oauth_error e = OAUTH_ERROR(TEMPORARILY_UNAVAILABLE,
                                           "too many registrations from this address: try again later");
        e.http_status = 429;
        http_res_header(req, "Retry-After", arena_printf(req->arena, "%lld", (long long)wait));
        oauth_error_send_json(req, e);
        return;
    }
    struct store_token iat;
    bool single_use = false;
    json_t *body = NULL;
    struct client cl;
    struct oauth_error e = cfg->registration.open ? OAUTH_OK : initial_access(req, &iat, &single_use);
    const char *client_id = rand_token(req->arena, 16);
    if (!oauth_failed(e))
        e = json_body(req, &body);
    if (!oauth_failed(e))
        e = check_metadata(req, body, client_id, &cl);
    struct store_client sc = {0};
    const char *secret = NULL, *reg_token = NULL;
    if (!oauth_failed(e)) {
        sc.client_id = client_id;
        sc.origin = "registration";
        sc.created_at = sc.updated_at = clock_now();
        reg_token = rand_token(req->arena, 32);
        store_hash(reg_token, strlen(reg_token), sc.reg_token_hash);
        sc.has_reg_token = true;
        e = set_secret(req, &sc, &cl, &secret);
    }
    if (!oauth_failed(e)) {
        e = save(req, &sc, &cl, single_use ? &iat : NULL);
    }
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    req->log_client_id = sc.client_id;
    log_info("client_registered", LS("rid", req->rid), LS("client_id", sc.client_id), LS("addr", req->peer),
             NULL);
    send_information(req, 201, &sc, secret, reg_token);
}

/* The client a configuration request names (the path's last segment), if the Bearer token is its
 * registration access token. RFC 7592 §2: an unknown client and a wrong token get the same 401. */
static struct oauth_error load_registered(struct http_req *req, struct store_client *sc, struct str *token)
{
    struct oauth_error e = bearer_token(req, token, "the registration access token is required (Authorization: Bearer)");
    if (oauth_failed(e))
        return e;
    size_t pl = strlen(req->worker->app->cfg->issuer_path) + strlen(REG_CLIENT_PATH);
    struct str id;
    if (req->path.len <= pl || url_decode(req->arena, req->path.p + pl, req->path.len - pl, false, &id) != 0)
        return bearer_error("the registration access token is not valid for this client");
    struct errbuf err;
    int rc = store_client_get(req->worker->db, req->arena, id.p, sc, &err);
    if (rc != 0 && rc != ERR_NOTFOUND)
        return oauth_store_failed(req, "client_get", rc, &err);
    uint8_t h[STORE_HASH_LEN];
    store_hash(token->p, token->len, h);
    if (rc == ERR_NOTFOUND || !sc->has_reg_token || !ct_eq(h, sizeof(h), sc->reg_token_hash, STORE_HASH_LEN))
        return bearer_error("the registration access token is not valid for this client");
    req->log_client_id = sc->client_id;
    return OAUTH_OK;
}

/* RFC 7592 §2.2: the request replaces the metadata; it names the client, and a client_secret in it is the
 * current one (a client never picks its secret). The secret stays, unless the client turns public (it
 * is dropped) or confidential (a new one, returned this once); the registration access token stays. */
static struct oauth_error update(struct http_req *req, struct store_client *sc, const char **secret)
{
    json_t *body;
    struct client cl;
    struct oauth_error e = json_body(req, &body);
    if (oauth_failed(e))
        return e;
    const char *id = json_string_value(json_object_get(body, "client_id"));
    if (id == NULL || strcmp(id, sc->client_id) != 0)
        return OAUTH_ERROR(INVALID_CLIENT_METADATA, "client_id must be the client's own (RFC 7592 section 2.2)");
    json_t *given = json_object_get(body, "client_secret");
    if (given != NULL) {
        uint8_t h[STORE_HASH_LEN];
        const char *s = json_string_value(given);
        if (s != NULL)
            store_hash(s, strlen(s), h);
        if (s == NULL || !sc->has_secret || !ct_eq(h, sizeof(h), sc->secret_hash, STORE_HASH_LEN))
            return OAUTH_ERROR(INVALID_CLIENT_METADATA, "client_secret is not the client's current secret");
    }
    e = check_metadata(req, body, sc->client_id, &cl);
    if (oauth_failed(e))
        return e;
    e = set_secret(req, sc, &cl, secret);
    if (oauth_failed(e))
        return e;
    sc->updated_at = clock_now();
    return save(req, sc, &cl, NULL);
}

static struct oauth_error delete_client(struct http_req *req, const struct store_client *sc)
{
    struct store_conn *db = req->worker->db;
    struct errbuf err;
    /* Its grants go with it (the codes and refresh tokens it holds, and their access tokens). */
    int rc = store_begin(db, &err);
    if (rc == 0)
        rc = store_token_revoke_client(db, sc->client_id, clock_now(), &err);
    if (rc == 0)
        rc = store_client_delete(db, sc->client_id, &err);
    if (rc == 0)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    if (rc != 0)
        return oauth_store_failed(req, "client_delete", rc, &err);
    atomic_fetch_add(&req->worker->app->state->clients_generation, 1);
    log_info("client_unregistered", LS("rid", req->rid), LS("client_id", sc->client_id), NULL);
    return OAUTH_OK;
}

void oauth_registration_client_handle(struct http_req *req)
{
    if (!registration_on(req))
        return;
    struct store_client sc;
    struct str token;
    const char *secret = NULL;
    struct oauth_error e = load_registered(req, &sc, &token);
    if (!oauth_failed(e) && str_eq_c(req->method, "PUT"))
        e = update(req, &sc, &secret);
    else if (!oauth_failed(e) && str_eq_c(req->method, "DELETE"))
        e = delete_client(req, &sc);
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    if (str_eq_c(req->method, "DELETE")) {
        http_res_no_store(req);
        http_res_body(req, 204, NULL, "", 0);
        return;
    }
    send_information(req, 200, &sc, secret, str_dup(req->arena, token));
}
