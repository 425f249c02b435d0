/* call.c: how an admin route answers one call (admin_internal.h): RFC 9457 problem details (with the
 * RFC 7591 §3.2.2 code for refused client metadata), JSON responses, the checks of query and body members,
 * paging, and the audit log. Below admin.c and the routes, which all use it; it calls none of them. */
#include "admin/admin_internal.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/str.h"
#include "oauth/client_check.h"
#include "core/banned.h"

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static const struct {
    const char *type, *title;
} problem_titles[] = {
    {ADMIN_PROBLEM_INVALID_REQUEST, "The request is malformed"},
    {ADMIN_PROBLEM_INVALID_CLIENT_METADATA, "The client metadata is refused"},
    {ADMIN_PROBLEM_INVALID_USER, "The user is refused"},
    {ADMIN_PROBLEM_CONFLICT, "The request conflicts with the current state"},
    {ADMIN_PROBLEM_INVALID_TOKEN, "The access token is not valid for the admin API"},
    {ADMIN_PROBLEM_INSUFFICIENT_SCOPE, "The access token lacks the scope this request needs"},
};

json_t *admin_problem_new(int status, const char *type, const char *detail)
{
    const char *title = status_title(status);
    for (size_t i = 0; type != NULL && i < sizeof(problem_titles) / sizeof(problem_titles[0]); i++)
        if (strcmp(problem_titles[i].type, type) == 0)
            title = problem_titles[i].title;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type != NULL ? type : "about:blank"));
    json_object_set_new(o, "title", json_string(title));
    json_object_set_new(o, "status", json_integer(status));
    if (detail != NULL)
        json_object_set_new(o, "detail", json_string(detail));
    return o;
}

static void send_json(struct http_req *req, int status, const char *content_type, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        abort(); /* out of memory: the project's policy (core/arena.h) */
    http_res_header(req, "Cache-Control", "no-store");
    http_res_body(req, status, content_type, s, strlen(s));
    free(s);
}

static void problem_send(struct http_req *req, int status, json_t *problem)
{
    const char *type = json_string_value(json_object_get(problem, "type"));
    /* The access log's error column: the problem type's last part, or the status phrase. */
    const char *colon = type != NULL ? strrchr(type, ':') : NULL;
    req->log_error = arena_strdup(
        req->arena, colon != NULL && strcmp(type, "about:blank") != 0 ? colon + 1 : status_title(status));
    send_json(req, status, "application/problem+json", problem);
}

void admin_problem_send(struct admin_call *c, int status, json_t *problem)
{
    problem_send(c->req, status, problem);
}

void admin_problem(struct admin_call *c, int status, const char *type, const char *detail)
{
    problem_send(c->req, status, admin_problem_new(status, type, detail));
}

void admin_problem_client(struct admin_call *c, const struct client_problem *p)
{
    char reason[512];
    client_problem_reason(p, NULL, reason, sizeof(reason));
    const char *detail =
        p->field != NULL && p->field[0] != '\0' ? arena_printf(c->a, "%s: %s", p->field, reason) : reason;
    json_t *o = admin_problem_new(400, ADMIN_PROBLEM_INVALID_CLIENT_METADATA, detail);
    /* RFC 7591 §3.2.2's code, and where. */
    json_object_set_new(o, "error", json_string(p->error != NULL ? p->error : "invalid_client_metadata"));
    if (p->field != NULL && p->field[0] != '\0')
        json_object_set_new(o, "field", json_string(p->field));
    if (p->index >= 0)
        json_object_set_new(o, "index", json_integer(p->index));
    admin_problem_send(c, 400, o);
}

void admin_store_failed(struct admin_call *c, const char *op, const struct errbuf *err)
{
    log_error("store_error", LS("rid", c->req->rid), LS("op", op), LS("detail", err->msg), NULL);
    admin_problem(c, 500, NULL, "the storage failed; see the server's log");
}

void admin_not_found(struct admin_call *c, const char *what, const char *id)
{
    char buf[STR_SHOWN_SIZE];
    admin_problem(c, 404, NULL, arena_printf(c->a, "no %s '%s'", what, str_shown(id, buf)));
}

void admin_refuse_declared(struct admin_call *c, const char *what, const char *id)
{
    char buf[STR_SHOWN_SIZE];
    admin_problem(
        c, 409, ADMIN_PROBLEM_CONFLICT,
        arena_printf(c->a,
                     "%s '%s' is declared in the configuration file, which the server applies at every "
                     "start: change it there",
                     what, str_shown(id, buf)));
}

void admin_json(struct admin_call *c, int status, json_t *o)
{
    send_json(c->req, status, "application/json", o);
}

void admin_no_content(struct admin_call *c)
{
    http_res_header(c->req, "Cache-Control", "no-store");
    http_res_body(c->req, 204, NULL, "", 0);
}

bool admin_query_only(struct admin_call *c, const char *const *allowed)
{
    char buf[STR_SHOWN_SIZE];
    for (size_t i = 0; i < c->query.n; i++) {
        bool ok = false;
        for (size_t k = 0; allowed != NULL && allowed[k] != NULL && !ok; k++)
            ok = str_eq_c(c->query.params[i].name, allowed[k]);
        if (!ok) {
            admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                          arena_printf(c->a, "unknown query parameter '%s'",
                                       str_shown(c->query.params[i].name.p, buf)));
            return false;
        }
    }
    return true;
}

bool admin_page(struct admin_call *c, const char *also, size_t *limit, const char **after)
{
    const char *const allowed[] = {"limit", "after", also, NULL};
    if (!admin_query_only(c, allowed))
        return false;
    struct str v;
    *limit = ADMIN_PAGE_DEFAULT;
    *after = NULL;
    int rc = form_get(&c->query, "limit", &v);
    int64_t n = 0;
    if (rc < 0 || (rc == 0 && (str_to_i64(v, &n) != 0 || n < 1 || n > ADMIN_PAGE_MAX))) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                      arena_printf(c->a, "limit: a number from 1 to %d, once", ADMIN_PAGE_MAX));
        return false;
    }
    if (rc == 0)
        *limit = (size_t)n;
    rc = form_get(&c->query, "after", &v);
    if (rc < 0) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST, "after: at most once");
        return false;
    }
    if (rc == 0)
        *after = v.p;
    return true;
}

bool admin_body_only(struct admin_call *c, const char *const *allowed)
{
    char buf[STR_SHOWN_SIZE];
    const char *key;
    json_t *v;
    json_object_foreach (c->body, key, v) {
        bool ok = false;
        for (size_t k = 0; allowed[k] != NULL && !ok; k++)
            ok = strcmp(key, allowed[k]) == 0;
        if (!ok) {
            admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                          arena_printf(c->a, "unknown member '%s'", str_shown(key, buf)));
            return false;
        }
    }
    return true;
}

void admin_audit(struct admin_call *c, const char *action, const char *object)
{
    /* Whatever log_level says, and flushed now: an audit trail must not depend on the next tick. */
    log_event(LOG_INFO, "admin.audit", LS("rid", c->req->rid), LS("who", c->who), LS("action", action),
              LS("object", object), LS("peer", c->req->peer), NULL);
    log_flush();
}
