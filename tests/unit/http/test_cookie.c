/* test_cookie.c: proves src/http/cookie.c: cookie-string parsing (RFC 6265 §4.2.1, §5.4) with its
 * tolerances (blanks, no space after ';', quoted values, empty and nameless pairs) and rejections
 * (control characters, a name that appears twice, also across several Cookie headers as HTTP/2 sends
 * them), and the Set-Cookie value cookie_set builds (RFC 6265 §4.1). */
#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "core/log.h"
#include "http/cookie.h"
#include "http/http.h"

#include "harness.h"

static struct arena *A(void)
{
    static struct arena *a;
    if (a == NULL)
        a = arena_new(4096);
    arena_reset(a);
    return a;
}

/* cookie_get on a NUL-terminated header; the value is copied into a static buffer for ASSERT_STREQ. */
static char got[256];
static int get(const char *header, const char *name)
{
    struct str v = {(const char *)1, 99};
    int rc = cookie_get(str_c(header), name, &v);
    got[0] = '\0';
    if (rc == 0) {
        if (v.p == NULL || v.len >= sizeof(got))
            return -99;
        memcpy(got, v.p, v.len);
        got[v.len] = '\0';
    } else if (v.p != NULL || v.len != 0) {
        return -98; /* the value must be cleared when not found */
    }
    return rc;
}

TEST(cookie_simple)
{
    ASSERT_EQ(get("sid=abc", "sid"), 0);
    ASSERT_STREQ(got, "abc");
    ASSERT_EQ(get("a=1; sid=xyz; b=2", "sid"), 0);
    ASSERT_STREQ(got, "xyz");
    ASSERT_EQ(get("a=1; b=2", "a"), 0);
    ASSERT_STREQ(got, "1");
    ASSERT_EQ(get("a=1; b=2", "b"), 0);
    ASSERT_STREQ(got, "2");
    ASSERT_EQ(get("a=1; b=2", "c"), 1);
}

TEST(cookie_value_borrowed)
{
    const char *h = "x=1; sid=abc; y=2";
    struct str v;
    ASSERT_EQ(cookie_get(str_c(h), "sid", &v), 0);
    ASSERT(v.p == h + 9);
    ASSERT_EQ(v.len, 3);
}

TEST(cookie_spaces)
{
    ASSERT_EQ(get("a=1;sid=abc;b=2", "sid"), 0); /* no space after ';' */
    ASSERT_STREQ(got, "abc");
    ASSERT_EQ(get("  a=1 ;   sid = abc  ;b=2 ", "sid"), 0);
    ASSERT_STREQ(got, "abc");
    ASSERT_EQ(get("\tsid=abc\t", "sid"), 0);
    ASSERT_STREQ(got, "abc");
    ASSERT_EQ(get("sid=a b", "sid"), 0); /* inner blanks are kept */
    ASSERT_STREQ(got, "a b");
}

TEST(cookie_quotes)
{
    ASSERT_EQ(get("sid=\"abc\"", "sid"), 0);
    ASSERT_STREQ(got, "abc");
    ASSERT_EQ(get("a=1; sid=\"\"; b=2", "sid"), 0);
    ASSERT_STREQ(got, "");
    ASSERT_EQ(get("sid=\"abc", "sid"), 0); /* unbalanced: kept as is */
    ASSERT_STREQ(got, "\"abc");
    ASSERT_EQ(get("sid=\"", "sid"), 0);
    ASSERT_STREQ(got, "\"");
    ASSERT_EQ(get("sid= \"v\" ", "sid"), 0);
    ASSERT_STREQ(got, "v");
}

TEST(cookie_empty)
{
    ASSERT_EQ(get("", "sid"), 1);
    ASSERT_EQ(get(";", "sid"), 1);
    ASSERT_EQ(get(" ; ;; ", "sid"), 1);
    ASSERT_EQ(get("a=1;; ;sid=v;", "sid"), 0);
    ASSERT_STREQ(got, "v");
    ASSERT_EQ(get("sid=", "sid"), 0); /* present with an empty value */
    ASSERT_STREQ(got, "");
    struct str v;
    ASSERT_EQ(cookie_get(STR_NULL, "sid", &v), 1);
    ASSERT(v.p == NULL);
    ASSERT_EQ(get("sid=1", ""), 1);
    ASSERT_EQ(get("sid=1", NULL), 1);
    ASSERT_EQ(get("=1", ""), 1);
}

TEST(cookie_missing_equals)
{
    /* A pair without '=' is a cookie with an empty name (RFC 6265bis §5.6): never the one looked up. */
    ASSERT_EQ(get("sid", "sid"), 1);
    ASSERT_EQ(get("sid; a=1", "sid"), 1);
    ASSERT_EQ(get("junk; sid=ok", "sid"), 0);
    ASSERT_STREQ(got, "ok");
    ASSERT_EQ(get("=x; sid=ok", "sid"), 0);
    ASSERT_STREQ(got, "ok");
    /* Only the first '=' splits: the value may contain more. */
    ASSERT_EQ(get("sid=a=b==", "sid"), 0);
    ASSERT_STREQ(got, "a=b==");
}

TEST(cookie_names_exact)
{
    ASSERT_EQ(get("SID=1", "sid"), 1); /* names are case-sensitive */
    ASSERT_EQ(get("sidx=1; xsid=2", "sid"), 1);
    ASSERT_EQ(get("sid=1; sidx=2", "sid"), 0);
    ASSERT_STREQ(got, "1");
    ASSERT_EQ(get("__Host-sid=1", "__Host-sid"), 0);
    ASSERT_STREQ(got, "1");
}

TEST(cookie_duplicates)
{
    ASSERT_EQ(get("sid=a; sid=b", "sid"), -1);
    ASSERT_EQ(get("sid=a; x=1; sid=a", "sid"), -1); /* even with equal values */
    ASSERT_EQ(get("sid=a;sid=", "sid"), -1);
    ASSERT_EQ(get(" sid =a; sid=b", "sid"), -1);
    /* Duplicates of another name do not matter. */
    ASSERT_EQ(get("x=1; x=2; sid=ok", "sid"), 0);
    ASSERT_STREQ(got, "ok");
}

TEST(cookie_control_chars)
{
    ASSERT_EQ(get("sid=a\rb", "sid"), -1);
    ASSERT_EQ(get("sid=ab\n", "sid"), -1);
    ASSERT_EQ(get("x=\x01; sid=ok", "sid"), -1);
    ASSERT_EQ(get("sid=ok; x=\x7f", "sid"), -1);
    ASSERT_EQ(get("sid=\x1b[0m", "sid"), -1);
    struct str v;
    ASSERT_EQ(cookie_get((struct str){"sid=a\0b", 7}, "sid", &v), -1); /* NUL */
    /* Bytes >= 0x80 are not controls (UTF-8 values are opaque here). */
    ASSERT_EQ(get("sid=\xc3\xa9", "sid"), 0);
    ASSERT_STREQ(got, "\xc3\xa9");
}

/* ---- several Cookie headers ---- */

static struct http_kv H(const char *name, const char *value) {
    return (struct http_kv){str_c(name), str_c(value)};
}

static int
req_get(struct http_kv *hs, size_t n, const char *name)
{
    struct http_req req = {.arena = A(), .headers = hs, .n_headers = n};
    struct str v = {(const char *)1, 1};
    int rc = http_req_cookie(&req, name, &v);
    got[0] = '\0';
    if (rc == 0) {
        memcpy(got, v.p, v.len);
        got[v.len] = '\0';
    } else if (v.p != NULL) {
        return -98;
    }
    return rc;
}

TEST(cookie_request_headers)
{
    struct http_kv one[] = {H("host", "x"), H("cookie", "a=1; sid=v")};
    ASSERT_EQ(req_get(one, 2, "sid"), 0);
    ASSERT_STREQ(got, "v");
    ASSERT_EQ(req_get(one, 2, "b"), 1);
    ASSERT_EQ(req_get(one, 0, "sid"), 1); /* no headers at all */

    /* HTTP/2: one header field per cookie. */
    struct http_kv split[] = {H("cookie", "a=1"), H("accept", "*/*"), H("cookie", "sid=v2"),
                              H("cookie", "b=2")};
    ASSERT_EQ(req_get(split, 4, "sid"), 0);
    ASSERT_STREQ(got, "v2");
    ASSERT_EQ(req_get(split, 4, "b"), 0);
    ASSERT_STREQ(got, "2");

    /* The same name in two headers is a duplicate. */
    struct http_kv dup[] = {H("cookie", "sid=a"), H("cookie", "sid=b")};
    ASSERT_EQ(req_get(dup, 2, "sid"), -1);
    /* A bad header anywhere makes the lookup fail, even if the name is in a good one. */
    struct http_kv bad[] = {H("cookie", "sid=ok"), H("cookie", "x=\x01")};
    ASSERT_EQ(req_get(bad, 2, "sid"), -1);
    /* Other header names are not cookies (names are lower-case as http.h promises). */
    struct http_kv other[] = {H("set-cookie", "sid=x"), H("cookie2", "sid=y"), H("x-cookie", "sid=z")};
    ASSERT_EQ(req_get(other, 3, "sid"), 1);
}

/* ---- Set-Cookie ---- */

static const char *set(const char *name, const char *value, struct cookie_opts o)
{
    static struct http_req req;
    memset(&req, 0, sizeof(req));
    req.arena = A();
    cookie_set(&req, name, value, &o);
    if (req.res.n_headers == 0)
        return "(none)";
    if (req.res.n_headers != 1 || strcmp(req.res.headers[0].name, "Set-Cookie") != 0)
        return "(bad)";
    return req.res.headers[0].value.p;
}

TEST(cookie_set_attributes)
{
    ASSERT_STREQ(set("sid", "abc", (struct cookie_opts){"/x", 3600, true, true, "Lax"}),
                 "sid=abc; Path=/x; Max-Age=3600; HttpOnly; Secure; SameSite=Lax");
    ASSERT_STREQ(set("sid", "abc", (struct cookie_opts){"/", 0, false, false, "Strict"}),
                 "sid=abc; Path=/; SameSite=Strict");
    ASSERT_STREQ(set("sid", "abc", (struct cookie_opts){NULL, 0, true, true, "None"}),
                 "sid=abc; Path=/; HttpOnly; Secure; SameSite=None");
    /* Deletion. */
    ASSERT_STREQ(set("sid", "", (struct cookie_opts){"/", -1, true, true, "Lax"}),
                 "sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
    ASSERT_STREQ(set("sid", "x", (struct cookie_opts){"/", -1000, false, false, NULL}),
                 "sid=x; Path=/; Max-Age=0; SameSite=Lax");
    /* Unknown SameSite values fall back to Lax. */
    ASSERT_STREQ(set("sid", "x", (struct cookie_opts){"/", 0, false, false, "lax; Domain=evil"}),
                 "sid=x; Path=/; SameSite=Lax");
    ASSERT_STREQ(set("sid", "x", (struct cookie_opts){"/", 1LL << 40, false, false, "Lax"}),
                 "sid=x; Path=/; Max-Age=1099511627776; SameSite=Lax");
}

TEST(cookie_set_refuses_unsafe)
{
    struct cookie_opts o = {"/", 60, true, true, "Lax"};
    /* Each refusal logs a "bug" event; keep the test output quiet. */
    enum log_level saved = log_min_level;
    log_min_level = (enum log_level)(LOG_ERROR + 1);
    ASSERT_STREQ(set("sid", "a;b", o), "(none)");
    ASSERT_STREQ(set("sid", "a\r\nX-Evil: 1", o), "(none)");
    ASSERT_STREQ(set("sid", "a b", o), "(none)");
    ASSERT_STREQ(set("sid", "\"q\"", o), "(none)");
    ASSERT_STREQ(set("s id", "v", o), "(none)");
    ASSERT_STREQ(set("s=id", "v", o), "(none)");
    ASSERT_STREQ(set("", "v", o), "(none)");
    ASSERT_STREQ(set(NULL, "v", o), "(none)");
    ASSERT_STREQ(set("sid", NULL, o), "(none)");
    o.path = "/a;Domain=evil";
    ASSERT_STREQ(set("sid", "v", o), "(none)");
    o.path = "relative";
    ASSERT_STREQ(set("sid", "v", o), "(none)");
    log_min_level = saved;
    /* Base64url values (what we set) are fine. */
    o.path = "/";
    ASSERT_STREQ(set("__Host-sid", "aB3-_x", o),
                 "__Host-sid=aB3-_x; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax");
}

TESTS(T(cookie_simple), T(cookie_value_borrowed), T(cookie_spaces), T(cookie_quotes), T(cookie_empty),
      T(cookie_missing_equals), T(cookie_names_exact), T(cookie_duplicates), T(cookie_control_chars),
      T(cookie_request_headers), T(cookie_set_attributes), T(cookie_set_refuses_unsafe))
