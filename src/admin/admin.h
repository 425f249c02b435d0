/* admin.h: the admin API, served on its own listener (`admin.listen`, http/server.h): JSON over HTTP under
 * /admin/ (clients, users, consents, sessions, grants, keys; docs/admin-api.yaml is its OpenAPI 3.1
 * description) and the Prometheus metrics at /metrics. Requests that came on that listener go to
 * admin_handle() instead of the OAuth routes (router.c app_handle). Each request is authorized by an
 * access token of this server for the built-in API <issuer>/admin (RFC 6750), errors are RFC 9457 problem
 * details (application/problem+json), and every change is written to the log as an audit event. */
#ifndef OSTIARY_ADMIN_ADMIN_H
#define OSTIARY_ADMIN_ADMIN_H

#include <stdbool.h>

struct arena;
struct config;
struct http_req;
struct resource;

/* The scopes of the admin API: ostiary:admin grants every route, each other one its own part. */
#define ADMIN_SCOPES(X) X(admin) X(clients) X(users) X(consents) X(sessions) X(grants) X(keys) X(metrics)

/* The built-in API the admin API's tokens are issued for, when admin.listen is set: identifier
 * <issuer>/admin (ADMIN_API_PATH, app.h), the scopes above, JWT access tokens signed like an API of the
 * file with no signing_alg, client_credentials only. Strings in a (or static). */
void admin_api_resource(const struct config *cfg, struct arena *a, struct resource *out);

/* Serves one request of the admin listener: fills req->res. Runs on the worker's loop thread, or on a
 * pool thread for a request admin_offload() selects; memory from req->arena. */
void admin_handle(struct http_req *req);
/* True for the admin requests too slow for the event loop: those that hash a password (argon2id) or
 * generate keys. */
bool admin_offload(const struct http_req *req);
/* The answer to an offloaded admin request that will not be served now (the queue is full, or the server
 * stops): a 503 problem with Retry-After. */
void admin_busy(struct http_req *req, unsigned retry_after_s);

#endif
