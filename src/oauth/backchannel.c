/* backchannel.c: what the POST-only back-channel endpoints (token, introspection, revocation, device
 * authorization) share: content type (RFC 6749 §3.2: application/x-www-form-urlencoded), body parsing
 * limits, and the parameters several of them read (token, scope, resource). */
#include "oauth/endpoints.h"

#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "oauth/scope.h"
#include "core/banned.h"

struct oauth_error backchannel_form(struct http_req *req, struct form *form)
{
    if (!http_req_is_form(req))
        return OAUTH_ERROR(INVALID_REQUEST, "the request body must be application/x-www-form-urlencoded");
    int rc = http_req_body_form(req, req->worker->app->cfg->limits.max_params, form);
    switch (rc) {
    case FORM_OK:
        return OAUTH_OK;
    case FORM_ERR_TOO_MANY:
        return OAUTH_ERROR(INVALID_REQUEST, "too many parameters");
    case FORM_ERR_UTF8:
        return OAUTH_ERROR(INVALID_REQUEST, "parameters must be valid UTF-8");
    case FORM_ERR_NUL:
        return OAUTH_ERROR(INVALID_REQUEST, "parameters must not contain NUL characters");
    default:
        return OAUTH_ERROR(INVALID_REQUEST, "malformed form encoding");
    }
}

struct oauth_error token_param_parse(const struct form *f, struct str *token)
{
    int rc = form_get(f, "token", token);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "token is repeated");
    if (rc > 0)
        return OAUTH_ERROR(INVALID_REQUEST, "token is required");
    struct str hint;
    if (form_get(f, "token_type_hint", &hint) < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "token_type_hint is repeated");
    return OAUTH_OK;
}

struct oauth_error scope_resource_parse(struct arena *a, const struct app *app, const struct form *f,
                                        struct scope_set *scope, struct str *resource)
{
    struct str text;
    scope->v = NULL;
    scope->n = 0;
    int rc = form_get(f, "scope", &text);
    if (rc < 0)
        return OAUTH_ERROR(INVALID_REQUEST, "scope is repeated");
    if (rc == 0 && scope_parse(a, text.p, text.len, scope) != 0)
        return OAUTH_ERROR(INVALID_SCOPE, "scope is malformed (RFC 6749 section 3.3)");
    struct str res, audience;
    int rr = form_get(f, "resource", &res);
    int ra = form_get(f, "audience", &audience);
    if (rr < 0 || ra < 0)
        return OAUTH_ERROR(INVALID_TARGET, "only one resource (or audience) per request is supported");
    if (ra == 0) {
        /* audience= names an API by its identifier or by its audience name: the identifier from here on. */
        const struct resource *r = app_resource_by_audience(app, str_dup(a, audience));
        if (r == NULL)
            return OAUTH_ERROR(INVALID_TARGET, "unknown audience: no API has that identifier or audience name");
        audience = str_c(r->identifier);
    }
    if (rr == 0 && ra == 0 && !str_eq(res, audience))
        return OAUTH_ERROR(INVALID_REQUEST, "resource and audience name different APIs");
    *resource = rr == 0 ? res : audience;
    /* RFC 8707 §2: an absolute URI without a fragment. */
    if (!str_is_null(*resource) && (memchr(resource->p, ':', resource->len) == NULL ||
                                    memchr(resource->p, '#', resource->len) != NULL))
        return OAUTH_ERROR(INVALID_TARGET, "resource must be an absolute URI without a fragment");
    return OAUTH_OK;
}
