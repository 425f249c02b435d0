/* introspect.c: token introspection (RFC 7662). Requires client authentication (§2.1); answers
 * active:false for unknown, expired, revoked and consumed tokens without saying which (§2.2). Which access
 * tokens a client may introspect is its introspection_access (§4: the server may limit it, against token
 * scanning): any (all, the default), its own, or its own and those for the APIs it lists (resources). A
 * refresh token only by the client it was issued to, since nobody else has a use for it. A token the
 * client may not introspect gets the same answer as an unknown one. A DPoP-bound access token is shown with
 * token_type DPoP and its cnf.jkt (RFC 9449 §6.2); a DPoP proof sent with the request is checked. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "oauth/client.h"
#include "oauth/dpop.h"
#include "oauth/endpoints.h"
#include "oauth/tokens.h"
#include "core/banned.h"

static void add_int(struct strbuf *sb, const char *k, int64_t v)
{
    strbuf_addc(sb, ',');
    strbuf_add_json(sb, k);
    strbuf_addc(sb, ':');
    strbuf_add_i64(sb, v);
}

/* The response, written directly (the members and their order of the jansson object it replaced); a value
 * that is not UTF-8 makes strbuf_str NULL and the response a 500. */
static void send_info(struct http_req *req, const struct token_info *ti)
{
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 65536);
    strbuf_adds(&sb, ti->active ? "{\"active\":true" : "{\"active\":false");
    if (ti->active) {
        strbuf_add_json_member(&sb, "scope", ti->scope);
        strbuf_add_json_member(&sb, "client_id", ti->client_id);
        strbuf_add_json_member(&sb, "sub", ti->sub != NULL ? ti->sub : ti->client_id);
        strbuf_add_json_member(&sb, "iss", req->worker->app->issuer);
        strbuf_add_json_member(&sb, "jti", ti->jti);
        /* RFC 9449 §6.2: a DPoP-bound token's type and key, for the resource server to check proofs. */
        bool access = strcmp(ti->kind, "access_token") == 0;
        strbuf_add_json_member(&sb, "token_type", !access ? "refresh_token" : ti->jkt != NULL ? "DPoP" : "Bearer");
        add_int(&sb, "exp", ti->exp);
        add_int(&sb, "iat", ti->iat);
        add_int(&sb, "nbf", ti->iat);
        if (access && ti->jkt != NULL) {
            strbuf_adds(&sb, ",\"cnf\":{\"jkt\":");
            strbuf_add_json(&sb, ti->jkt);
            strbuf_addc(&sb, '}');
        }
        if (ti->aud != NULL && ti->aud[0] != '\0') {
            /* A single audience as a string, several as an array (RFC 7519 §4.1.3). */
            if (strchr(ti->aud, ' ') == NULL) {
                strbuf_add_json_member(&sb, "aud", ti->aud);
            } else {
                strbuf_adds(&sb, ",\"aud\":[");
                const char *p = ti->aud;
                bool first = true;
                while (*p) {
                    const char *e = strchr(p, ' ');
                    size_t n = e ? (size_t)(e - p) : strlen(p);
                    if (n > 0) {
                        if (!first)
                            strbuf_addc(&sb, ',');
                        strbuf_add_json(&sb, arena_strndup(req->arena, p, n));
                        first = false;
                    }
                    p += n;
                    while (*p == ' ')
                        p++;
                }
                strbuf_addc(&sb, ']');
            }
        }
    }
    strbuf_addc(&sb, '}');
    http_res_no_store(req);
    http_res_json(req, 200, strbuf_str(&sb), sb.len);
}

/* Whether client c may learn about the (active) token ti. */
static bool may_introspect(const struct app *app, const struct client *c, const struct token_info *ti)
{
    bool own = ti->client_id != NULL && strcmp(ti->client_id, c->client_id) == 0;
    if (strcmp(ti->kind, "refresh_token") == 0)
        return own;
    switch (c->introspection_access) {
    case INTROSPECT_ALL:
        return true;
    case INTROSPECT_OWN:
        return own;
    case INTROSPECT_RESOURCES:
        if (own)
            return true;
        for (size_t i = 0; i < c->n_introspection_resources; i++) {
            /* The token's aud names the API by its audience (its identifier unless it has a name). */
            const struct resource *r = app_resource(app, c->introspection_resources[i]);
            if (r != NULL && token_scope_has(ti->aud, r->audience)) /* aud is space-separated too */
                return true;
        }
        return false;
    }
    return false;
}

void oauth_introspect_handle(struct http_req *req)
{
    struct form f;
    struct client c;
    struct str token;
    struct oauth_error e = backchannel_form(req, &f);
    if (!oauth_failed(e))
        e = client_authenticate(req, &f, false, &c);
    if (!oauth_failed(e))
        e = token_param_parse(&f, &token);
    /* A client that sends a DPoP proof here too gets it checked like at the token endpoint (RFC 9449 §4.3). */
    struct dpop_proof proof;
    bool has_proof = false;
    if (!oauth_failed(e))
        e = dpop_check(req, OAUTH_INTROSPECTION_PATH, NULL, &proof, &has_proof);
    if (!oauth_failed(e) && has_proof)
        e = dpop_proof_record(req, &proof, false);
    if (oauth_failed(e)) {
        oauth_error_send_json(req, e);
        return;
    }
    struct token_info ti;
    struct errbuf err;
    int rc = token_lookup(req->worker, req->arena, token.p, token.len, clock_now(), &ti, &err);
    if (rc != 0) {
        oauth_error_send_json(req, oauth_store_failed(req, "introspect", rc, &err));
        return;
    }
    if (ti.active && !may_introspect(req->worker->app, &c, &ti))
        ti.active = false;
    send_info(req, &ti);
}
