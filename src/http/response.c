/* response.c: how endpoints build their response in struct http_res: headers and body copied into the
 * request's arena, JSON bodies, Cache-Control: no-store (RFC 6749 §5.1). A value a capped buffer could not
 * hold (NULL) marks the response unsendable, and server.c sends a 500 instead of a cut value. No HTTP
 * library: server.c writes the finished response out. */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/banned.h"

void http_res_header(struct http_req *req, const char *name, const char *value)
{
    if (value == NULL) {
        /* A capped buffer overflowed (strbuf_str): a truncated value is never sent. */
        log_error("response_unsendable", LS("rid", req->rid), LS("header", name), NULL);
        req->res.unsendable = true;
        return;
    }
    if (req->res.n_headers == HTTP_MAX_RES_HEADERS) {
        log_error("bug", LS("what", "too many response headers"), LS("header", name), NULL);
        abort();
    }
    struct http_header *h = &req->res.headers[req->res.n_headers++];
    h->name = arena_strdup(req->arena, name);
    h->value = (struct str){arena_strdup(req->arena, value), strlen(value)};
}

void http_res_body(struct http_req *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    if (content_type != NULL)
        http_res_header(req, "Content-Type", content_type);
    if (body == NULL) {
        log_error("response_unsendable", LS("rid", req->rid), LS("what", "body"), NULL);
        req->res.unsendable = true;
        return;
    }
    req->res.body = (struct str){arena_memdup(req->arena, body, len), len};
}

void http_res_json(struct http_req *req, int status, const char *json, size_t len)
{
    http_res_body(req, status, "application/json", json, len);
}

void http_res_no_store(struct http_req *req)
{
    http_res_header(req, "Cache-Control", "no-store");
    http_res_header(req, "Pragma", "no-cache");
}
