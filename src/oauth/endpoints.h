/* endpoints.h: one handler per endpoint file, each oauth_<endpoint>_handle(req), plus the helpers
 * the back-channel endpoints share (method and content-type checks, form body parsing). */
#ifndef OSTIARY_OAUTH_ENDPOINTS_H
#define OSTIARY_OAUTH_ENDPOINTS_H

#include "http/http.h"
#include "oauth/error.h"

void oauth_discovery_handle(struct http_req *req);
void oauth_metadata_handle(struct http_req *req);
void oauth_jwks_handle(struct http_req *req);
void oauth_token_handle(struct http_req *req);
void oauth_introspect_handle(struct http_req *req);
void oauth_revoke_handle(struct http_req *req);
void oauth_healthz_handle(struct http_req *req);

/* For POST-only back-channel endpoints: checks the method and the form content type (RFC 6749 §3.2)
 * and parses the body into *form. Returns OAUTH_OK or the error to send. */
struct oauth_error backchannel_form(struct http_req *req, struct form *form);

#endif
