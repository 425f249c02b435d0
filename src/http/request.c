/* request.c: what endpoints read from a struct http_req besides its form: header lookup (names
 * lower-case, repeats counted so callers can refuse them) and the form content type (RFC 6749 §3.2,
 * Appendix B). No HTTP library: server.c fills the request, these only read it. */
#include "http/http.h"

#include "core/arena.h"

#include "core/banned.h"

struct str http_req_header(const struct http_req *req, const char *lcname, size_t *count)
{
    struct str v = STR_NULL;
    size_t c = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (str_eq_c(req->headers[i].name, lcname)) {
            if (c == 0)
                v = req->headers[i].value;
            c++;
        }
    }
    if (count != NULL)
        *count = c;
    return v;
}

bool http_req_is_form(const struct http_req *req)
{
    size_t n = 0;
    struct str ct = http_req_header(req, "content-type", &n);
    size_t mlen = 0;
    while (mlen < ct.len && ct.p[mlen] != ';' && ct.p[mlen] != ' ')
        mlen++;
    return n == 1 && str_ieq_c((struct str){ct.p, mlen}, "application/x-www-form-urlencoded");
}

int http_req_body_form(struct http_req *req, size_t max_params, struct form *out)
{
    if (req->body_form == NULL) {
        struct form *f = arena_alloc(req->arena, sizeof(*f));
        req->body_form_rc = form_parse(req->arena, req->body.p, req->body.len, max_params, f);
        req->body_form = f;
    }
    *out = *req->body_form;
    return req->body_form_rc;
}
