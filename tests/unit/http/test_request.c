/* test_request.c: proves src/http/request.c: header lookup by lower-case name with the count of repeats,
 * and the form content-type check (RFC 6749 §3.2: application/x-www-form-urlencoded, parameters allowed,
 * exactly one Content-Type), and the body parsed as a form once per request. */
#include <string.h>

#include "core/arena.h"
#include "http/http.h"

#include "harness.h"

#define KV(n, v) {STR_LIT(n), STR_LIT(v)}

static struct http_req with_headers(struct http_kv *h, size_t n)
{
    struct http_req req;
    memset(&req, 0, sizeof(req));
    req.headers = h;
    req.n_headers = n;
    return req;
}

TEST(header_first_value_and_count)
{
    struct http_kv h[] = {KV("host", "a"), KV("cookie", "x=1"), KV("cookie", "y=2")};
    struct http_req req = with_headers(h, 3);
    size_t n = 9;
    ASSERT(str_eq_c(http_req_header(&req, "cookie", &n), "x=1"));
    ASSERT_EQ(n, 2);
    ASSERT(str_eq_c(http_req_header(&req, "host", &n), "a"));
    ASSERT_EQ(n, 1);
    ASSERT(str_is_null(http_req_header(&req, "authorization", &n)));
    ASSERT_EQ(n, 0);
    ASSERT(str_eq_c(http_req_header(&req, "host", NULL), "a")); /* the count is optional */
    ASSERT(str_is_null(http_req_header(&req, "Host", NULL)));   /* names are stored lower-case */
}

static bool is_form(const char *content_type)
{
    struct http_kv h[] = {{STR_LIT("content-type"), str_c(content_type)}};
    struct http_req req = with_headers(h, 1);
    return http_req_is_form(&req);
}

TEST(form_content_type)
{
    ASSERT(is_form("application/x-www-form-urlencoded"));
    ASSERT(is_form("application/x-www-form-urlencoded; charset=UTF-8"));
    ASSERT(is_form("Application/X-WWW-Form-Urlencoded"));
    ASSERT(!is_form("application/json"));
    ASSERT(!is_form("application/x-www-form-urlencodedX"));
    ASSERT(!is_form("multipart/form-data; boundary=x"));
    ASSERT(!is_form(""));
    struct http_kv none[] = {KV("host", "a")};
    struct http_req req = with_headers(none, 1);
    ASSERT(!http_req_is_form(&req));
    struct http_kv two[] = {KV("content-type", "application/x-www-form-urlencoded"),
                            KV("content-type", "application/x-www-form-urlencoded")};
    req = with_headers(two, 2);
    ASSERT(!http_req_is_form(&req)); /* repeated: ambiguous */
}

TEST(body_form_parsed_once)
{
    struct arena *a = arena_new(1024);
    struct http_req req = with_headers(NULL, 0);
    req.arena = a;
    req.body = STR_LIT("grant_type=client_credentials&scope=a%20b");
    struct form f1, f2;
    ASSERT_EQ(http_req_body_form(&req, 16, &f1), FORM_OK);
    ASSERT_EQ(f1.n, 2);
    struct str v;
    ASSERT_EQ(form_get(&f1, "scope", &v), 0);
    ASSERT(str_eq_c(v, "a b"));
    /* A second call returns the first parse: the same parameters, not a new copy (the body is not read). */
    req.body = STR_LIT("other=1");
    ASSERT_EQ(http_req_body_form(&req, 16, &f2), FORM_OK);
    ASSERT(f2.params == f1.params);
    ASSERT_EQ(f2.n, 2);
    /* The result code is kept as well. */
    struct http_req bad = with_headers(NULL, 0);
    bad.arena = a;
    bad.body = STR_LIT("a=%zz");
    ASSERT_EQ(http_req_body_form(&bad, 16, &f1), FORM_ERR_ENCODING);
    ASSERT_EQ(http_req_body_form(&bad, 16, &f2), FORM_ERR_ENCODING);
    /* A copy of the request with the parse cleared parses its own body. */
    struct http_req copy = req;
    copy.body_form = NULL;
    ASSERT_EQ(http_req_body_form(&copy, 16, &f2), FORM_OK);
    ASSERT_EQ(f2.n, 1);
    arena_free(a);
}

TESTS(T(header_first_value_and_count), T(form_content_type), T(body_form_parsed_once))
