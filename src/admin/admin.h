/* admin.h: the admin API, served on its own listener (`admin.listen`, http/server.h). Requests that came on
 * that listener go to admin_handle() instead of the OAuth routes (oauth/router.c app_handle). Errors are
 * RFC 9457 problem details (application/problem+json). */
#ifndef OSTIARY_ADMIN_ADMIN_H
#define OSTIARY_ADMIN_ADMIN_H

struct http_req;

/* Serves one request of the admin listener: fills req->res. Runs on the worker's loop thread; memory
 * from req->arena. */
void admin_handle(struct http_req *req);

#endif
