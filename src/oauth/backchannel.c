/* backchannel.c: what the POST-only back-channel endpoints (token, introspection, revocation) share:
 * content type (RFC 6749 §3.2: application/x-www-form-urlencoded) and body parsing limits. */
#include "oauth/endpoints.h"

#include "app.h"
#include "core/arena.h"
#include "core/banned.h"

struct oauth_error backchannel_form(struct http_req *req, struct form *form)
{
    if (!http_req_is_form(req))
        return OAUTH_ERROR(INVALID_REQUEST, "the request body must be application/x-www-form-urlencoded");
    int rc = form_parse(req->arena, req->body.p, req->body.len, req->worker->app->cfg->limits.max_params, form);
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
