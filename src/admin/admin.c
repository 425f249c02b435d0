/* admin.c: the admin listener's entry point (admin.h). No admin route is served yet: every request gets
 * an RFC 9457 problem (404), so that the listener, its routing and its error format exist before the
 * routes do. */
#include "admin/admin.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "http/http.h"
#include "core/banned.h"

/* An RFC 9457 §3 problem details object: `type` about:blank, so `title` is the status phrase (§4.2.1). */
static void admin_problem(struct http_req *req, int status, const char *title, const char *detail)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title", title, "status", status,
                          "detail", detail);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL)
        abort();
    req->log_error = "not_found";
    http_res_header(req, "Cache-Control", "no-store");
    http_res_body(req, status, "application/problem+json", s, strlen(s));
    free(s);
}

void admin_handle(struct http_req *req)
{
    admin_problem(req, 404, "Not Found", "no such admin resource");
}
