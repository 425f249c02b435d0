/* token.c: token endpoint (RFC 6749 §3.2, §4.4, §5; RFC 8707 resource indicators with the `audience`
 * alias). Grants served today: client_credentials. Client authentication is in client.c, token minting
 * in tokens.c. Every failure is one struct oauth_error rendered by error.c. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "oauth/client.h"
#include "oauth/endpoints.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "core/banned.h"

struct token_req {
    struct str grant_type;
    struct scope_set scope;
    bool scope_given;
    struct str resource; /* resource or audience */
};

static struct oauth_error token_parse(struct http_req *req, const struct form *f, struct token_req *out)
{
    memset(out, 0, sizeof(*out));
    int rc = form_get(f, "grant_type", &out->grant_type);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "grant_type is repeated");
    if (rc > 0)
        return OAUTH_ERROR(INVALID_REQUEST, "grant_type is required");
    struct str scope;
    rc = form_get(f, "scope", &scope);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "scope is repeated");
    if (rc == 0) {
        if (scope_parse(req->arena, scope.p, scope.len, &out->scope) != 0)
            return OAUTH_ERROR(INVALID_SCOPE, "scope is malformed (RFC 6749 §3.3)");
        out->scope_given = out->scope.n > 0;
    }
    struct str resource, audience;
    int rr = form_get(f, "resource", &resource);
    int ra = form_get(f, "audience", &audience);
    if (rr < 0 || ra < 0)
        return OAUTH_ERROR(INVALID_TARGET, "only one resource (or audience) per token request is supported");
    if (rr == 0 && ra == 0 && !str_eq(resource, audience))
        return OAUTH_ERROR(INVALID_REQUEST, "resource and audience name different APIs");
    out->resource = rr == 0 ? resource : audience;
    if (!str_is_null(out->resource)) {
        /* RFC 8707 §2: an absolute URI without a fragment. */
        if (memchr(out->resource.p, ':', out->resource.len) == NULL ||
            memchr(out->resource.p, '#', out->resource.len) != NULL)
            return OAUTH_ERROR(INVALID_TARGET, "resource must be an absolute URI without a fragment");
    }
    return OAUTH_OK;
}

static bool client_may_target(const struct client *c, const char *identifier)
{
    if (c->n_resources == 0)
        return true;
    for (size_t i = 0; i < c->n_resources; i++)
        if (strcmp(c->resources[i], identifier) == 0)
            return true;
    return false;
}

/* Picks the API and the granted scope for a client_credentials request. */
static struct oauth_error cc_validate(struct http_req *req, const struct client *c, const struct token_req *tr,
                                      const struct resource **res, struct scope_set *granted)
{
    struct app *app = req->worker->app;
    struct scope_set allowed;
    scope_parse(req->arena, c->scope, strlen(c->scope), &allowed);
    *res = NULL;
    if (!str_is_null(tr->resource)) {
        char *id = str_dup(req->arena, tr->resource);
        *res = app_resource(app, id);
        if (*res == NULL)
            return OAUTH_ERROR(INVALID_TARGET, "unknown resource: no API is registered with that identifier");
        if (!client_may_target(c, id))
            return OAUTH_ERROR(INVALID_TARGET, "this client may not request tokens for that resource");
        struct scope_set api = {(*res)->scopes, (*res)->n_scopes};
        allowed = scope_intersect(req->arena, &allowed, &api);
    }
    if (tr->scope_given) {
        if (!scope_subset(&tr->scope, &allowed))
            return OAUTH_ERROR(INVALID_SCOPE, *res != NULL
                                                  ? "requested scope is not allowed for this client and resource"
                                                  : "requested scope is not allowed for this client");
        *granted = tr->scope;
    } else {
        *granted = allowed; /* RFC 6749 §3.3: absent scope means the pre-defined default */
    }
    return OAUTH_OK;
}

static void send_token_response(struct http_req *req, const struct access_token *at, const char *scope)
{
    json_t *o = json_object();
    json_object_set_new(o, "access_token", json_string(at->value));
    json_object_set_new(o, "token_type", json_string("Bearer"));
    json_object_set_new(o, "expires_in", json_integer(at->expires_in));
    if (scope != NULL && scope[0] != '\0')
        json_object_set_new(o, "scope", json_string(scope));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    http_res_no_store(req);
    http_res_json(req, 200, text, strlen(text));
    free(text);
}

static struct oauth_error grant_client_credentials(struct http_req *req, const struct client *c,
                                                   const struct token_req *tr)
{
    const struct resource *res;
    struct scope_set granted;
    struct oauth_error e = cc_validate(req, c, tr, &res, &granted);
    if (oauth_failed(e))
        return e;
    struct access_token_req ar = {0};
    ar.client = c;
    ar.scope = scope_join(req->arena, &granted);
    ar.res = res;
    ar.now = clock_now();
    struct access_token at;
    struct errbuf err;
    if (token_issue_access(req->worker, req->arena, &ar, &at, &err) != 0) {
        log_error("token_issue_failed", LS("rid", req->rid), LS("client_id", c->client_id), LS("detail", err.msg),
                  NULL);
        return OAUTH_ERROR(SERVER_ERROR, "the token could not be issued");
    }
    send_token_response(req, &at, ar.scope);
    return OAUTH_OK;
}

void oauth_token_handle(struct http_req *req)
{
    struct form f;
    struct token_req tr;
    struct client c;
    struct oauth_error e = backchannel_form(req, &f);
    if (!oauth_failed(e))
        e = client_authenticate(req, &f, true, &c);
    if (!oauth_failed(e))
        e = token_parse(req, &f, &tr);
    if (!oauth_failed(e)) {
        char *gt = str_dup(req->arena, tr.grant_type);
        unsigned flag = grant_type_flag(gt);
        if (flag != GRANT_CLIENT_CREDENTIALS)
            e = OAUTH_ERROR(UNSUPPORTED_GRANT_TYPE, "grant_type is not supported by this server");
        else if (!(c.grant_types & flag))
            e = OAUTH_ERROR(UNAUTHORIZED_CLIENT, "this client is not registered for that grant_type");
        else if (c.auth_method == CLIENT_AUTH_NONE)
            e = OAUTH_ERROR(UNAUTHORIZED_CLIENT, "public clients cannot use client_credentials");
        else
            e = grant_client_credentials(req, &c, &tr);
    }
    if (oauth_failed(e))
        oauth_error_send_json(req, e);
}
