/* http.h: the request/response types every endpoint sees. Only server.c includes the HTTP library
 * (libh2o); endpoints read a struct http_req (request.c) and fill its struct http_res (response.c), so
 * they build and can be unit-tested without it, with a fake request. Also the input parsers: urlencoded
 * forms and queries (form.c) and the Authorization header (auth_header.c). All memory comes from
 * req->arena. */
#ifndef OSTIARY_HTTP_H
#define OSTIARY_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/str.h"

struct arena;
struct worker;
struct app_route;

#define HTTP_MAX_RES_HEADERS 16

/* The listener a request came on (struct http_req's `listener`; http/server.h configures them). */
enum http_listener {
    HTTP_LISTENER_MAIN = 0,  /* `listen`: the OAuth and OpenID Connect endpoints */
    HTTP_LISTENER_ADMIN = 1, /* `admin.listen`: the admin API (admin/admin.h) */
};

/* A response header: name and value copied into the arena. */
struct http_header {
    const char *name;
    struct str value;
};

/* A request header: borrowed from the HTTP library's buffers for the request's lifetime; the name is
 * lower-case; neither is NUL-terminated. */
struct http_kv {
    struct str name, value;
};

struct http_res {
    int status;
    struct http_header headers[HTTP_MAX_RES_HEADERS];
    size_t n_headers;
    struct str body;
    bool unsendable;        /* a value could not be built (NULL header value or body): a 500 goes out */
};

struct http_req {
    struct arena *arena;
    struct worker *worker;  /* the thread's context: app, store connection */
    unsigned listener;      /* enum http_listener: which listening socket the connection came on */
    struct str method;
    struct str path;        /* without the query string, not decoded */
    struct str query;       /* after '?', not decoded; STR_NULL when absent */
    struct str body;
    struct http_kv *headers;
    size_t n_headers;
    char peer[64];          /* client address, for rate limits and logs: the TCP peer, or the address a
                             * trusted proxy forwarded (http/proxy.h) */
    char tcp_peer[64];      /* the TCP peer itself (the proxy, when there is one) */
    char rid[24];           /* request id, also sent as X-Request-Id */
    /* The application's route for this request, once matched (router.c): the offload hook matches
     * and records it, the handle hook reuses it, so a request is matched once. NULL until then. */
    const struct app_route *route;
    /* Set by endpoints for the access log (never secrets). */
    unsigned route_id;      /* the route's metrics label (core/metrics.h metrics_route_register); 0: none */
    const char *log_client_id;
    const char *log_error;
    struct http_res res;
    /* Group commit. can_hold, set by the server on a loop thread whose hooks flush: the response may wait
     * for the worker's pending writes. held, set by an endpoint that queued a write instead of making it:
     * the response is complete, but the server sends it only once its hooks' flush has committed the
     * writes of the loop's turn (or replaces it with held_failed's answer if that commit failed, or
     * serves the request again without holding if held_retry says its write lost). */
    bool can_hold;
    bool held;
    /* The body parsed as a form by http_req_body_form, in `arena`; NULL until then. A copy of the request
     * into another arena (a pool job, a held request) clears it. */
    const struct form *body_form;
    int body_form_rc;
};

/* ---- Reading the request (request.c) ---- */
/* First request header with that (lower-case) name; STR_NULL if absent. *count (optional) gets how many
 * headers had that name, so callers can reject repeats. */
struct str http_req_header(const struct http_req *req, const char *lcname, size_t *count);

/* True when the request has exactly one Content-Type header and its media type (parameters such as
 * charset allowed) is application/x-www-form-urlencoded (RFC 6749 §3.2, Appendix B). */
bool http_req_is_form(const struct http_req *req);

/* ---- Building the response (response.c) ---- */
/* Adds a response header; name and value are copied into the arena. Over HTTP_MAX_RES_HEADERS aborts
 * (a programming error, not an input). A NULL value (strbuf_str of a buffer that overflowed) marks the
 * response unsendable: the server sends a 500 instead of it, never a truncated value. */
void http_res_header(struct http_req *req, const char *name, const char *value);
/* Sets the status and body (copied), and Content-Type when not NULL. A NULL body marks the response
 * unsendable, as above; an empty body is "" with len 0. */
void http_res_body(struct http_req *req, int status, const char *content_type, const char *body, size_t len);
/* JSON response; the text must have been produced by the JSON writer. */
void http_res_json(struct http_req *req, int status, const char *json, size_t len);
/* Sets Cache-Control: no-store and Pragma: no-cache (RFC 6749 §5.1). */
void http_res_no_store(struct http_req *req);

/* ---- HTTP message checks (message.c) ---- */
/* Why the body framing of an HTTP/1.x request with these header fields (names in any case) is ambiguous,
 * or NULL when it is not (RFC 9112 §6.1, §6.3): repeated Content-Length, Content-Length together with
 * Transfer-Encoding, Transfer-Encoding in HTTP/1.0 (minor_version 0) or other than one "chunked", or an
 * obsolete folded line (a field without a name, §5.2). The text is fixed, fit for an error_description. */
const char *http1_framing_error(const struct http_kv *headers, size_t n, int minor_version);
/* The origin-form (path and query) of a request target (RFC 9112 §3.2): origin-form as it is, absolute-form
 * with an http or https scheme reduced to the part after its authority ("/" when there is none). False for
 * the asterisk and authority forms and anything else. *out points into target. */
bool http_target_origin_form(struct str target, struct str *out);
/* Why a built response could not be delivered as it is, or NULL: a header name that is not a token (RFC 9110
 * §5.1) or is connection-specific (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE:
 * the server's, and refused by HTTP/2, RFC 9113 §8.2.2), Content-Length (the server's), or a value with CR,
 * LF or NUL (RFC 9110 §5.5). */
const char *http_res_problem(const struct http_res *res);

/* ---- application/x-www-form-urlencoded (form.c) ---- */
struct form_param {
    struct str name, value; /* decoded; NUL-terminated */
};
struct form {
    struct form_param *params;
    size_t n;
};
enum form_err {
    FORM_OK = 0,
    FORM_ERR_TOO_MANY = -1,   /* more than max_params parameters */
    FORM_ERR_ENCODING = -2,   /* bad percent-encoding */
    FORM_ERR_UTF8 = -3,       /* decoded name or value is not valid UTF-8 */
    FORM_ERR_NUL = -4,        /* decoded NUL byte */
};
/* Parses s (a body or a query string). '+' decodes to space (HTML form encoding). Empty pairs ("a=1&&b")
 * are skipped; a pair without '=' is a parameter with an empty value. Pure: no I/O. */
int form_parse(struct arena *a, const char *s, size_t n, size_t max_params, struct form *out);
/* The request body parsed with form_parse, once per request: the router's checks and the endpoint share the
 * first parse (the same parameters, in req->arena, and the same result code). The caller checks the
 * content type (http_req_is_form). */
int http_req_body_form(struct http_req *req, size_t max_params, struct form *out);
/* Value of `name`: returns 0 and sets *v if exactly once, 1 if absent (v=STR_NULL), -1 if repeated.
 * RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once." Parameters
 * with an empty value are treated as absent (RFC 6749 §3.1). */
int form_get(const struct form *f, const char *name, struct str *v);
/* The value of `name` copied into the arena when it is present exactly once (with a value), else NULL. */
char *form_get_dup(struct arena *a, const struct form *f, const char *name);
/* Decodes one percent-encoded component (no '+' handling when plus_is_space is false). */
int url_decode(struct arena *a, const char *s, size_t n, bool plus_is_space, struct str *out);

/* ---- Authorization header (auth_header.c) ---- */
enum auth_scheme { AUTH_NONE = 0, AUTH_BASIC, AUTH_BEARER, AUTH_OTHER, AUTH_DPOP };
struct auth_header {
    enum auth_scheme scheme;
    struct str user, pass;   /* Basic: form-decoded per RFC 6749 §2.3.1 */
    struct str token;        /* Bearer and DPoP (RFC 9449 §7.1): the b64token (RFC 6750 §2.1) */
};
/* Parses an Authorization header value. Returns 0 (scheme may be AUTH_OTHER), or -1 if the header is
 * malformed for its scheme (bad base64, no ':', bad form-encoding, invalid UTF-8, empty Bearer or DPoP). */
int auth_header_parse(struct arena *a, const char *v, size_t n, struct auth_header *out);

#endif
