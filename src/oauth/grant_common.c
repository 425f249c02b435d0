/* grant_common.c: what the grant handlers (grant_<name>.c) share, declared in grants.h: the success
 * response (RFC 6749 §5.1, OIDC Core §3.1.3.3), the client's allowed APIs (RFC 8707), and for the grants
 * of a user (code, refresh) minting and committing their tokens, the data a refresh token carries and the
 * revocation of a grant's whole family (RFC 6749 §4.1.2, RFC 9700 §4.14.2). It calls no grant handler and
 * nothing of token.c, so that token.c -> grant_<name>.c -> grant_common.c runs one way. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/http.h"
#include "oauth/authz.h"
#include "oauth/claims_request.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/grants.h"
#include "oauth/tokens.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

void token_response_send(struct http_req *req, const struct access_token *at, const char *scope,
                         const char *refresh_token, const char *id_token)
{
    /* Written directly (a jansson object and its dump cost more than the rest of an opaque token's
     * response); strbuf_add_json escapes as jansson would and refuses text that is not UTF-8, and a NULL
     * body makes the response a 500. */
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 65536);
    strbuf_adds(&sb, "{\"access_token\":");
    strbuf_add_json(&sb, at->value);
    strbuf_adds(&sb, at->jkt != NULL ? ",\"token_type\":\"DPoP\",\"expires_in\":" : ",\"token_type\":\"Bearer\",\"expires_in\":");
    strbuf_add_i64(&sb, at->expires_in);
    if (scope != NULL && scope[0] != '\0') {
        strbuf_adds(&sb, ",\"scope\":");
        strbuf_add_json(&sb, scope);
    }
    if (refresh_token != NULL) {
        strbuf_adds(&sb, ",\"refresh_token\":");
        strbuf_add_json(&sb, refresh_token);
    }
    if (id_token != NULL) {
        strbuf_adds(&sb, ",\"id_token\":");
        strbuf_add_json(&sb, id_token);
    }
    strbuf_addc(&sb, '}');
    http_res_no_store(req);
    http_res_json(req, 200, strbuf_str(&sb), sb.len);
}

/* ---- the grants of a user: grant_code.c and grant_refresh.c ---- */

static void json_decref_cb(void *p)
{
    json_decref(p);
}

json_t *grant_data_parse(struct arena *a, const char *text)
{
    if (text == NULL)
        return NULL;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return NULL;
    arena_defer(a, json_decref_cb, o);
    return json_is_object(o) ? o : NULL;
}

json_t *grant_data_claims(json_t *data)
{
    json_t *c = json_object_get(data, "claims");
    return json_is_object(c) ? c : NULL;
}

json_t *grant_id_token_claims(const struct store_user *u, const char *scope, bool scope_claims,
                              json_t *grant_claims)
{
    json_t *named = claims_grant_names(grant_claims, CLAIMS_ID_TOKEN);
    if (!scope_claims && named == NULL)
        return NULL;
    struct arena *a = arena_new(1024);
    struct scope_set set = {0};
    if (scope_claims && scope_parse(a, scope, strlen(scope), &set) != 0)
        set = (struct scope_set){0};
    json_t *claims = user_claims_select(u, set.v, set.n, named);
    arena_free(a);
    return claims;
}

void grant_tokens_set_auth(struct grant_tokens_req *r, json_t *data)
{
    json_t *at = json_object_get(data, "auth_time");
    r->auth_time = json_is_integer(at) ? json_integer_value(at) : 0;
    r->sid = json_string_value(json_object_get(data, "sid"));
    r->acr = json_string_value(json_object_get(data, "acr"));
    json_t *amr = json_object_get(data, "amr");
    r->amr = json_is_array(amr) ? amr : NULL;
}

const char *grant_refresh_data(struct arena *a, json_t *data, const char *jkt)
{
    static const char *const keep[] = {"auth_time", "sid", "acr", "amr", "claims"};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(data, keep[i]);
        if (v != NULL && !json_is_null(v))
            json_object_set(o, keep[i], v);
    }
    if (jkt != NULL)
        json_object_set_new(o, "jkt", json_string(jkt));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    const char *out = arena_strdup(a, text != NULL ? text : "{}");
    free(text);
    return out;
}

bool grant_wants_refresh(const struct client *c, const char *scope, json_t *data)
{
    if (!(c->grant_types & GRANT_REFRESH_TOKEN))
        return false;
    bool offline = json_is_true(json_object_get(data, "offline"));
    switch (c->refresh_policy) {
    case REFRESH_OFFLINE_CONSENT:
        return offline; /* set where offline_access was consented to explicitly (authz.h, device.h) */
    case REFRESH_OFFLINE_ACCESS:
        return offline || token_scope_has(scope, "offline_access");
    case REFRESH_ALWAYS:
        return true;
    }
    return false;
}

struct oauth_error grant_tokens_mint(struct http_req *req, const struct grant_tokens_req *r,
                                     struct grant_tokens *out)
{
    memset(out, 0, sizeof(*out));
    out->dpop = r->dpop;
    struct worker *w = req->worker;
    struct errbuf err;
    struct access_token_req ar = {0};
    ar.client = r->client;
    ar.sub = r->sub;
    ar.scope = r->at_scope;
    ar.res = r->res;
    ar.grant_id = r->grant_id;
    ar.data = token_access_data(req->arena, r->grant_claims);
    ar.jkt = r->dpop != NULL ? r->dpop->jkt : NULL;
    ar.now = r->now;
    if (token_mint_access(w, req->arena, &ar, &out->at, &err) != 0) {
        log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", r->client->client_id),
                  LS("what", "access_token"), LS("detail", err.msg), NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the token could not be issued");
    }
    if (r->refresh) {
        struct refresh_token_req rr = {r->client, r->sub,           r->grant_scope, r->aud,
                                       r->grant_id, r->refresh_data, r->now};
        token_mint_refresh(w, req->arena, &rr, &out->refresh_token, &out->refresh_row);
    }
    if (r->id_token) {
        struct id_token_req ir = {0};
        ir.client = r->client;
        ir.sub = r->sub;
        ir.nonce = r->nonce;
        ir.sid = r->sid;
        ir.acr = r->acr;
        ir.amr = r->amr;
        ir.auth_time = r->auth_time;
        ir.now = r->now;
        ir.access_token = out->at.value;
        ir.claims = r->claims;
        out->id_token = id_token_issue(w, req->arena, &ir, &err);
        if (out->id_token == NULL) {
            log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", r->client->client_id),
                      LS("what", "id_token"), LS("detail", err.msg), NULL);
            return OAUTH_ERROR(SERVER_ERROR, "the ID token could not be signed");
        }
    }
    return OAUTH_OK;
}

struct oauth_error grant_begin(struct http_req *req, const struct token_req *tr)
{
    struct store_conn *db = req->worker->db;
    struct errbuf err;
    int rc = store_begin(db, &err);
    if (rc != 0)
        return oauth_store_failed(req, "begin", rc, &err);
    struct oauth_error e = client_jti_put(req, tr->jti);
    if (oauth_failed(e))
        store_rollback(db);
    return e;
}

struct oauth_error grant_jti_alone(struct http_req *req, const struct token_req *tr)
{
    struct oauth_error e = client_jti_put(req, tr->jti);
    if (!oauth_failed(e) && tr->jti != NULL)
        tr->jti->pending = false;
    return e;
}

struct oauth_error grant_tokens_commit(struct http_req *req, const struct token_req *tr, const struct grant_tokens *t)
{
    struct store_conn *db = req->worker->db;
    struct errbuf err;
    int rc = 0;
    if (t->dpop != NULL) {
        struct oauth_error e = dpop_proof_record(req, t->dpop, false);
        if (oauth_failed(e)) {
            store_rollback(db);
            return e;
        }
    }
    if (t->at.has_row)
        rc = store_token_put(db, &t->at.row, &err);
    if (rc == 0 && t->refresh_token != NULL)
        rc = store_token_put(db, &t->refresh_row, &err);
    if (rc == 0)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    if (rc != 0)
        return oauth_store_failed(req, "grant_commit", rc, &err);
    if (tr->jti != NULL)
        tr->jti->pending = false; /* committed with the tokens (grant_begin) */
    return OAUTH_OK;
}

int grant_tokens_redeem(struct http_req *req, const uint8_t hash[STORE_HASH_LEN], int kind, int64_t now,
                        const uint8_t *successor, const struct grant_tokens *t, struct store_token *consumed,
                        struct errbuf *err)
{
    struct store_token rows[2];
    size_t n = 0;
    if (t->at.has_row)
        rows[n++] = t->at.row;
    if (t->refresh_token != NULL)
        rows[n++] = t->refresh_row;
    if (tokens_hold_redeem(req, hash, kind, now, successor, rows, n, t->at.jwt, t->refresh_token != NULL,
                           t->id_token != NULL)) {
        memset(consumed, 0, sizeof(*consumed));
        return 0;
    }
    return store_token_redeem(req->worker->db, req->arena, hash, kind, now, successor, rows, n, consumed, err);
}

void grant_tokens_req_from_row(struct http_req *req, const struct client *c, const struct token_req *tr,
                               const struct store_token *row, const struct resource *res, int64_t now,
                               json_t *data, struct grant_tokens_req *g)
{
    *g = (struct grant_tokens_req){0};
    g->client = c;
    g->sub = row->sub;
    g->grant_id = row->grant_id;
    g->at_scope = g->grant_scope = row->scope != NULL ? row->scope : "";
    g->aud = res != NULL ? res->identifier : NULL;
    g->res = res;
    g->now = now;
    g->refresh = grant_wants_refresh(c, g->grant_scope, data);
    g->dpop = tr->dpop;
    if (g->refresh)
        g->refresh_data = grant_refresh_data(req->arena, data,
                                             c->auth_method == CLIENT_AUTH_NONE && tr->dpop != NULL ? tr->dpop->jkt
                                                                                                     : NULL);
    g->id_token = token_scope_has(g->grant_scope, "openid");
    grant_tokens_set_auth(g, data);
}

bool grant_redeem_in_one(const struct token_req *tr, const struct grant_tokens *t)
{
    return t->dpop == NULL && (tr->jti == NULL || !tr->jti->pending);
}

struct oauth_error grant_redeem(struct http_req *req, const struct token_req *tr, const uint8_t hash[STORE_HASH_LEN],
                                int kind, int64_t now, const struct grant_tokens *t, int *rc)
{
    struct store_conn *db = req->worker->db;
    struct store_token consumed;
    struct errbuf err;
    if (grant_redeem_in_one(tr, t)) {
        /* One call: the row is consumed and every new row written, or nothing is. */
        *rc = grant_tokens_redeem(req, hash, kind, now, NULL, t, &consumed, &err);
        if (*rc == 0 || *rc == ERR_CONFLICT || *rc == ERR_NOTFOUND)
            return OAUTH_OK;
        return oauth_store_failed(req, "grant_redeem", *rc, &err);
    }
    /* One transaction: the single-use values recorded, the row consumed and every new row written, or
     * nothing. */
    struct oauth_error e = grant_begin(req, tr);
    if (oauth_failed(e))
        return e;
    *rc = store_token_consume(db, req->arena, hash, kind, now, &consumed, &err);
    if (*rc != 0) {
        /* A lost race (ERR_CONFLICT) changed nothing: its transaction ends before the caller revokes, as
         * store.h asks (the lost consume may hold the row's lock). */
        store_rollback(db);
        if (*rc == ERR_CONFLICT || *rc == ERR_NOTFOUND)
            return OAUTH_OK;
        return oauth_store_failed(req, "grant_consume", *rc, &err);
    }
    return grant_tokens_commit(req, tr, t);
}

struct oauth_error grant_dpop_binding(const struct token_req *tr, const char *bound, const char *what)
{
    if (bound == NULL)
        return OAUTH_OK;
    if (tr->dpop == NULL)
        return OAUTH_ERROR(INVALID_DPOP_PROOF, what);
    if (strcmp(tr->dpop->jkt, bound) != 0)
        return OAUTH_ERROR(INVALID_DPOP_PROOF, "the DPoP proof is not signed with the key this grant is bound to");
    return OAUTH_OK;
}

struct oauth_error grant_revoke_family(struct http_req *req, const struct token_req *tr, const struct client *c,
                                       const char *grant_id, const char *why)
{
    struct oauth_error e = grant_jti_alone(req, tr);
    if (oauth_failed(e) || grant_id == NULL)
        return e;
    /* grant_id is a random identifier, not a credential: safe to log for incident response. */
    log_warn("grant_revoked", LS("rid", req->rid), LS("client_id", c->client_id), LS("grant_id", grant_id),
             LS("reason", why), NULL);
    struct errbuf err;
    int rc = store_grant_revoke(req->worker->db, grant_id, clock_now(), &err);
    if (rc != 0)
        return oauth_store_failed(req, "grant_revoke", rc, &err);
    return OAUTH_OK;
}
