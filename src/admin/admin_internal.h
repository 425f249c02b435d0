/* admin_internal.h: what the files of src/admin/ share (not for use elsewhere): one call's context, the
 * RFC 9457 problem responses, JSON responses and request bodies, paging, and the audit log (call.c).
 * admin.c routes and authorizes; clients.c, users.c, keys.c and metrics.c serve. */
#ifndef OSTIARY_ADMIN_INTERNAL_H
#define OSTIARY_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"
#include "http/http.h"

struct app;
struct client_problem;
struct store_conn;

/* One admin request, as the route's handler sees it. */
struct admin_call {
    struct http_req *req;
    struct app *app;
    struct store_conn *db;
    struct arena *a;      /* req->arena */
    const char *who;      /* the client_id of the bearer token: the actor of audit events */
    const char *param[2]; /* the path's parameters ({id}, {client_id}), decoded and NUL-terminated */
    struct form query;    /* the query string's parameters */
    json_t *body;         /* the JSON object body of a route that takes one (NULL if it sent none) */
};

/* Problem types (RFC 9457 §3.1.1) beyond about:blank, each with its fixed title. */
#define ADMIN_PROBLEM_INVALID_REQUEST "urn:ostiary:problem:invalid-request"
#define ADMIN_PROBLEM_INVALID_CLIENT_METADATA "urn:ostiary:problem:invalid-client-metadata"
#define ADMIN_PROBLEM_INVALID_USER "urn:ostiary:problem:invalid-user"
#define ADMIN_PROBLEM_CONFLICT "urn:ostiary:problem:conflict"
#define ADMIN_PROBLEM_INVALID_TOKEN "urn:ostiary:problem:invalid-token"
#define ADMIN_PROBLEM_INSUFFICIENT_SCOPE "urn:ostiary:problem:insufficient-scope"

/* Builds a problem details object (type NULL: about:blank, whose title is the status phrase; else the
 * type's title) with `detail`, which never holds a secret. The caller may add extension members, then
 * sends it with admin_problem_send. New reference. */
json_t *admin_problem_new(int status, const char *type, const char *detail);
void admin_problem_send(struct admin_call *c, int status, json_t *problem);
/* Both at once. */
void admin_problem(struct admin_call *c, int status, const char *type, const char *detail);
/* A refused client metadata (oauth/client_check.h): 400 invalid-client-metadata with the RFC 7591 §3.2.2
 * code in `error`, the field and its list index. */
void admin_problem_client(struct admin_call *c, const struct client_problem *p);
/* A store failure: logged with the request id, 500 to the client (no detail of it). */
void admin_store_failed(struct admin_call *c, const char *op, const struct errbuf *err);
/* 404 for an object the path names. */
void admin_not_found(struct admin_call *c, const char *what, const char *id);

/* 409: the client or user `id` is declared in the configuration file (read-only here). */
void admin_refuse_declared(struct admin_call *c, const char *what, const char *id);

/* A JSON response (takes the reference to o); Cache-Control: no-store, as every admin response. */
void admin_json(struct admin_call *c, int status, json_t *o);
/* 204 No Content. */
void admin_no_content(struct admin_call *c);

/* The query's `limit` (1..ADMIN_PAGE_MAX, ADMIN_PAGE_DEFAULT when absent) and `after` (the cursor, NULL
 * when absent), for the listings; the query may also have the parameter `also` (NULL: none). False when a
 * value is bad or another parameter is there (a problem was sent). */
#define ADMIN_PAGE_DEFAULT 50
#define ADMIN_PAGE_MAX 500
bool admin_page(struct admin_call *c, const char *also, size_t *limit, const char **after);
/* Checks that the query has no parameter but those named (NULL-terminated list); else 400. */
bool admin_query_only(struct admin_call *c, const char *const *allowed);

/* Checks that the body has no member but those named (NULL-terminated); else a 400 naming it. */
bool admin_body_only(struct admin_call *c, const char *const *allowed);

/* Writes the audit event of a change: who (the token's client), the action ("client.create"), the object
 * (its id). Never a secret: only identifiers go in. Written at once, whatever log_level. */
void admin_audit(struct admin_call *c, const char *action, const char *object);

/* The handlers (one per route of admin.c). */
void admin_clients_list(struct admin_call *c);
void admin_clients_create(struct admin_call *c);
void admin_clients_show(struct admin_call *c);
void admin_clients_update(struct admin_call *c);
void admin_clients_delete(struct admin_call *c);
void admin_clients_rotate_secret(struct admin_call *c);
void admin_clients_revoke_grants(struct admin_call *c);
void admin_users_list(struct admin_call *c);
void admin_users_create(struct admin_call *c);
void admin_users_show(struct admin_call *c);
void admin_users_update(struct admin_call *c);
void admin_users_delete(struct admin_call *c);
void admin_users_set_password(struct admin_call *c);
void admin_users_revoke_grants(struct admin_call *c);
void admin_consents_list(struct admin_call *c);
void admin_consents_revoke(struct admin_call *c);
void admin_consents_revoke_all(struct admin_call *c);
void admin_sessions_list(struct admin_call *c);
void admin_sessions_revoke_all(struct admin_call *c);
void admin_keys_list(struct admin_call *c);
void admin_keys_rotate(struct admin_call *c);
void admin_metrics(struct admin_call *c);

#endif
