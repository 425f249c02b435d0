/* error.h: the one OAuth error type. Every wire error code lives in OAUTH_ERR_MAP below (enum value,
 * RFC string, default HTTP status); values are never renumbered or reused. Endpoints return a
 * struct oauth_error, rendered in one place per channel: oauth/error.c for JSON (back-channel endpoints),
 * oauth/frontchannel.c for the redirect to a proven redirect_uri and for the HTML error page.
 * Codes: RFC 6749 §5.2 and §4.1.2.1, RFC 6750 §3.1, RFC 7009 §2.2.1, RFC 8707 §2, RFC 8628 §3.5,
 * OIDC Core §3.1.2.6, RFC 9449 §5, §7.1, §8 (DPoP). */
#ifndef OSTIARY_OAUTH_ERROR_H
#define OSTIARY_OAUTH_ERROR_H

#include <stdbool.h>

struct http_req;

#define OAUTH_ERR_MAP(X)                                                                                     \
    X(NONE, 0, "", 200)                                                                                      \
    X(INVALID_REQUEST, 1, "invalid_request", 400)                                                            \
    X(INVALID_CLIENT, 2, "invalid_client", 401)                                                              \
    X(INVALID_GRANT, 3, "invalid_grant", 400)                                                                \
    X(UNAUTHORIZED_CLIENT, 4, "unauthorized_client", 400)                                                    \
    X(UNSUPPORTED_GRANT_TYPE, 5, "unsupported_grant_type", 400)                                              \
    X(INVALID_SCOPE, 6, "invalid_scope", 400)                                                                \
    X(INVALID_TARGET, 7, "invalid_target", 400)                                                              \
    X(ACCESS_DENIED, 8, "access_denied", 403)                                                                \
    X(UNSUPPORTED_RESPONSE_TYPE, 9, "unsupported_response_type", 400)                                        \
    X(SERVER_ERROR, 10, "server_error", 500)                                                                 \
    X(TEMPORARILY_UNAVAILABLE, 11, "temporarily_unavailable", 503)                                           \
    X(INVALID_TOKEN, 12, "invalid_token", 401)                                                               \
    X(INSUFFICIENT_SCOPE, 13, "insufficient_scope", 403)                                                     \
    X(UNSUPPORTED_TOKEN_TYPE, 14, "unsupported_token_type", 400)                                             \
    X(LOGIN_REQUIRED, 15, "login_required", 400)                                                             \
    X(CONSENT_REQUIRED, 16, "consent_required", 400)                                                         \
    X(INTERACTION_REQUIRED, 17, "interaction_required", 400)                                                 \
    X(ACCOUNT_SELECTION_REQUIRED, 18, "account_selection_required", 400)                                     \
    X(AUTHORIZATION_PENDING, 19, "authorization_pending", 400)                                               \
    X(SLOW_DOWN, 20, "slow_down", 400)                                                                       \
    X(EXPIRED_TOKEN, 21, "expired_token", 400)                                                               \
    X(INVALID_REQUEST_URI, 22, "invalid_request_uri", 400)                                                   \
    X(INVALID_REQUEST_OBJECT, 23, "invalid_request_object", 400)                                             \
    X(INVALID_REDIRECT_URI, 24, "invalid_redirect_uri", 400)                                                 \
    X(INVALID_CLIENT_METADATA, 25, "invalid_client_metadata", 400)                                           \
    X(NOT_FOUND, 26, "not_found", 404)                                                                       \
    X(METHOD_NOT_ALLOWED, 27, "method_not_allowed", 405)                                                     \
    X(PAYLOAD_TOO_LARGE, 28, "request_too_large", 413)                                                       \
    X(HEADERS_TOO_LARGE, 29, "request_header_fields_too_large", 431)                                         \
    X(REQUEST_NOT_SUPPORTED, 30, "request_not_supported", 400)                                               \
    X(REQUEST_URI_NOT_SUPPORTED, 31, "request_uri_not_supported", 400)                                       \
    X(REGISTRATION_NOT_SUPPORTED, 32, "registration_not_supported", 400)                                     \
    X(INVALID_DPOP_PROOF, 33, "invalid_dpop_proof", 400)                                                     \
    X(USE_DPOP_NONCE, 34, "use_dpop_nonce", 400)

enum oauth_err {
#define OAUTH_ERR_ENUM(name, num, str, status) OAUTH_ERR_##name = num,
    OAUTH_ERR_MAP(OAUTH_ERR_ENUM)
#undef OAUTH_ERR_ENUM
    OAUTH_ERR__COUNT
};

struct oauth_error {
    enum oauth_err code;
    const char *description; /* fixed text for the client; never internal detail, never a secret */
    int http_status;         /* 0 = the code's default */
    /* For 401s: the WWW-Authenticate challenge scheme ("Basic", "Bearer", "DPoP"), NULL for none; it may
     * carry auth-params of its own after a space (DPoP's algs="...", RFC 9449 §7.1), which the error's
     * follow after a comma. */
    const char *challenge;
};

#define OAUTH_OK ((struct oauth_error){OAUTH_ERR_NONE, NULL, 0, NULL})
#define OAUTH_ERROR(c, desc) ((struct oauth_error){OAUTH_ERR_##c, (desc), 0, NULL})

static inline bool oauth_failed(struct oauth_error e)
{
    return e.code != OAUTH_ERR_NONE;
}

const char *oauth_err_str(enum oauth_err code);
int oauth_err_status(const struct oauth_error *e);
struct errbuf;
/* A store call failed with rc (not NOTFOUND/CONFLICT, which callers handle themselves): logs it once
 * (store_error with op and the store's detail, which never holds a secret) and returns what to answer:
 * temporarily_unavailable (503, Retry-After) when the database cannot be reached now (ERR_UNAVAILABLE),
 * server_error (500) for anything else. */
struct oauth_error oauth_store_failed(const struct http_req *req, const char *op, int rc, const struct errbuf *err);
/* The same answer without logging, for a failure already logged where it happened. */
struct oauth_error oauth_store_error(int rc);
/* Seconds a client is asked to wait after a 503 (Retry-After). */
#define OAUTH_RETRY_AFTER "2"

/* Renders e as a JSON error response ({"error","error_description"}) with no-store headers and, for
 * 401 with a challenge, WWW-Authenticate. Counts the error by code and records it for the access log. */
void oauth_error_send_json(struct http_req *req, struct oauth_error e);
struct arena;
/* The description restricted to the characters RFC 6749 §5.2 allows (arena copy). */
const char *oauth_error_description_safe(struct arena *a, const char *d);
/* Counts e (core/metrics.h) and tags the request for the access log; for renderers other than the JSON
 * one (the HTML page and the front-channel redirect in frontchannel.c). */
void oauth_error_record(struct http_req *req, struct oauth_error e);

#endif
