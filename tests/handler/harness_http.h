/* harness_http.h: runs request handlers in-process, without a socket. hx_open() builds what `ostiary
 * serve` builds before it listens, from a YAML string: the configuration through the normal loader and
 * checks, a temporary SQLite store (migrated, in a fresh directory removed by hx_close), generated signing
 * keys, the file's clients and users, the page templates, the discovery documents, and one worker. A test
 * then builds a struct http_req (hx_request, hx_header, hx_form, hx_basic), runs it through the router
 * (hx_run: app_handle, as server.c calls it) and reads the response (status, hx_res_header, hx_json).
 * Used with tests/unit/harness.h (TEST, ASSERT_*). Setup failures abort the test program with a message:
 * they are bugs of the test, not outcomes. */
#ifndef OSTIARY_TEST_HARNESS_HTTP_H
#define OSTIARY_TEST_HARNESS_HTTP_H

#include <jansson.h>

#include "app.h"
#include "http/http.h"

struct hx {
    struct app_state state; /* one generation, never replaced */
    struct app app;
    struct worker worker;
    struct arena *arena;  /* the current request's; reset by hx_request */
    struct http_req req;  /* the current request */
    char dir[64];         /* the temporary directory of the store */
};

/* The issuer every harness configuration gets (unless its YAML sets one). */
#define HX_ISSUER "https://op.example.com"

/* Builds the app from `yaml` (the issuer and the storage are added unless it sets them). Owner: the
 * caller, who frees it with hx_close. */
struct hx *hx_open(const char *yaml);
void hx_close(struct hx *h);

/* Starts a new request (the previous one's memory is released): method and request target
 * ("/token", "/auth?client_id=a"), peer 127.0.0.1. Returns the request, owned by h. */
struct http_req *hx_request(struct hx *h, const char *method, const char *target);
/* Adds a request header (the name is lower-cased; repeats are kept, as they arrive). */
void hx_header(struct http_req *req, const char *name, const char *value);
/* Sets the body and Content-Type: application/x-www-form-urlencoded. */
void hx_form(struct http_req *req, const char *body);
/* Adds Authorization: Basic with id and secret form-encoded first (RFC 6749 §2.3.1). */
void hx_basic(struct http_req *req, const char *id, const char *secret);
/* Runs the request through the router (app_offload, then app_handle), as the HTTP server does. */
void hx_run(struct http_req *req);

/* The first response header of that name (case-insensitive), NUL-terminated in the arena; NULL if none. */
const char *hx_res_header(struct http_req *req, const char *name);
/* The response body as JSON (freed with the request's arena), NULL if it is not JSON. */
json_t *hx_json(struct http_req *req);
/* The string member `key` of the JSON body, NULL if absent. */
const char *hx_json_str(struct http_req *req, const char *key);

/* Asserts a JSON error response: its status and its error code (with tests/unit/harness.h's ASSERT_*). */
#define ASSERT_OAUTH_ERROR(req, want_status, want_error)                                                     \
    do {                                                                                                     \
        ASSERT_EQ((req)->res.status, (want_status));                                                         \
        ASSERT_STREQ(hx_json_str((req), "error"), (want_error));                                             \
    } while (0)

/* RFC 7636 Appendix B: a PKCE code verifier and its S256 challenge. */
#define HX_VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define HX_CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/* Stores an authorization code of client_id for the user `username` with `scope`, as the authorization
 * endpoint stores one (authz.h): redirect URI https://rp.example.com/cb, PKCE S256 with HX_CHALLENGE,
 * valid 60 s. Returns the code value (in arena a), or NULL if there is no such user or the write fails. */
const char *hx_put_code(struct hx *h, struct arena *a, const char *client_id, const char *username,
                        const char *scope);
/* The token request body that redeems `code` (that redirect URI, HX_VERIFIER), in arena a. */
const char *hx_code_body(struct arena *a, const char *code);

/* Registers a client in the store as `ostiary client create` does, from its RFC 7591 metadata JSON text
 * (client_metadata_json's format); secret may be NULL (a public client). */
void hx_client_put(struct hx *h, const char *client_id, const char *secret, const char *metadata_json);

#endif
