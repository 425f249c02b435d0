/* test_response.c: proves src/http/response.c: headers and body copied into the request's arena, the JSON
 * and no-store helpers, and the setters refusing a value a capped buffer could not hold. Built and run
 * without an HTTP server: endpoints fill a struct http_res and nothing else. */
#include <string.h>

#include "core/arena.h"
#include "http/http.h"

#include "harness.h"

static struct http_req new_req(struct arena *a)
{
    struct http_req req;
    memset(&req, 0, sizeof(req));
    req.arena = a;
    return req;
}

/* Values are copied: the caller's buffer can change after the call. */
TEST(headers_and_body_copied)
{
    struct arena *a = arena_new(1024);
    struct http_req req = new_req(a);
    char value[] = "max-age=300";
    char body[] = "{\"keys\":[]}";
    http_res_header(&req, "Cache-Control", value);
    http_res_json(&req, 200, body, strlen(body));
    value[0] = 'X';
    body[0] = 'X';
    ASSERT_EQ(req.res.status, 200);
    ASSERT_EQ(req.res.n_headers, 2);
    ASSERT_STREQ(req.res.headers[0].name, "Cache-Control");
    ASSERT(str_eq_c(req.res.headers[0].value, "max-age=300"));
    ASSERT_STREQ(req.res.headers[1].name, "Content-Type");
    ASSERT(str_eq_c(req.res.headers[1].value, "application/json"));
    ASSERT(str_eq_c(req.res.body, "{\"keys\":[]}"));
    ASSERT(!req.res.unsendable);
    arena_free(a);
}

/* RFC 6749 §5.1: token responses carry Cache-Control: no-store and Pragma: no-cache. */
TEST(no_store)
{
    struct arena *a = arena_new(1024);
    struct http_req req = new_req(a);
    http_res_no_store(&req);
    ASSERT_EQ(req.res.n_headers, 2);
    ASSERT_STREQ(req.res.headers[0].name, "Cache-Control");
    ASSERT(str_eq_c(req.res.headers[0].value, "no-store"));
    ASSERT_STREQ(req.res.headers[1].name, "Pragma");
    ASSERT(str_eq_c(req.res.headers[1].value, "no-cache"));
    arena_free(a);
}

/* A NULL value (strbuf_str of an overflowed buffer) is never sent: the response is marked unsendable (the
 * server then sends a 500), and nothing of the value is kept. */
TEST(unsendable_values)
{
    struct arena *a = arena_new(1024);
    struct http_req req;
    memset(&req, 0, sizeof(req));
    req.arena = a;
    http_res_header(&req, "Cache-Control", "no-store");
    ASSERT(!req.res.unsendable);
    struct strbuf sb;
    strbuf_init(&sb, a, 8);
    strbuf_adds(&sb, "https://rp.example/cb?state=");
    http_res_header(&req, "Location", strbuf_str(&sb));
    ASSERT(req.res.unsendable);
    ASSERT_EQ(req.res.n_headers, 1);
    memset(&req.res, 0, sizeof(req.res));
    http_res_body(&req, 200, "text/html; charset=utf-8", strbuf_str(&sb), sb.len);
    ASSERT(req.res.unsendable);
    ASSERT(req.res.body.p == NULL);
    memset(&req.res, 0, sizeof(req.res));
    http_res_body(&req, 204, NULL, "", 0);
    ASSERT(!req.res.unsendable);
    arena_free(a);
}

TESTS(T(headers_and_body_copied), T(no_store), T(unsendable_values))
