/* test_message.c: proves src/http/message.c: the HTTP/1 body-framing rules (RFC 9112 §6.1, §6.3, §5.2),
 * the reduction of a request target to origin-form (§3.2), and the deliverability check of a response. */
#include <string.h>

#include "core/arena.h"
#include "http/http.h"

#include "harness.h"

#define KV(n, v) {STR_LIT(n), STR_LIT(v)}

static const char *framing(const struct http_kv *h, size_t n, int minor)
{
    return http1_framing_error(h, n, minor);
}

TEST(framing_plain_requests_pass)
{
    struct http_kv none[] = {KV("host", "a")};
    ASSERT(framing(none, 1, 1) == NULL);
    ASSERT(framing(none, 0, 0) == NULL);
    struct http_kv cl[] = {KV("host", "a"), KV("content-length", "10")};
    ASSERT(framing(cl, 2, 1) == NULL);
    ASSERT(framing(cl, 2, 0) == NULL);
    struct http_kv te[] = {KV("Transfer-Encoding", " Chunked ")};
    ASSERT(framing(te, 1, 1) == NULL);
}

TEST(framing_repeated_content_length)
{
    struct http_kv diff[] = {KV("content-length", "5"), KV("x", "y"), KV("Content-Length", "10")};
    ASSERT(framing(diff, 3, 1) != NULL);
    struct http_kv same[] = {KV("content-length", "5"), KV("content-length", "5")};
    ASSERT(framing(same, 2, 1) != NULL);
}

TEST(framing_content_length_and_transfer_encoding)
{
    struct http_kv both[] = {KV("content-length", "40"), KV("transfer-encoding", "chunked")};
    ASSERT(strstr(framing(both, 2, 1), "both") != NULL);
    struct http_kv rev[] = {KV("transfer-encoding", "chunked"), KV("content-length", "0")};
    ASSERT(framing(rev, 2, 1) != NULL);
}

TEST(framing_transfer_encoding_rules)
{
    struct http_kv te[] = {KV("transfer-encoding", "chunked")};
    ASSERT(strstr(framing(te, 1, 0), "HTTP/1.0") != NULL);
    struct http_kv two[] = {KV("transfer-encoding", "gzip"), KV("transfer-encoding", "chunked")};
    ASSERT(framing(two, 2, 1) != NULL);
    struct http_kv list[] = {KV("transfer-encoding", "gzip, chunked")};
    ASSERT(framing(list, 1, 1) != NULL);
    struct http_kv other[] = {KV("transfer-encoding", "identity")};
    ASSERT(framing(other, 1, 1) != NULL);
    struct http_kv empty[] = {KV("transfer-encoding", "")};
    ASSERT(framing(empty, 1, 1) != NULL);
}

TEST(framing_obsolete_folding)
{
    struct http_kv folded[] = {KV("content-length", "5"), {STR_NULL, STR_LIT("10")}};
    ASSERT(strstr(framing(folded, 2, 1), "folding") != NULL);
}

static bool origin(const char *target, const char *want)
{
    struct str out = STR_NULL;
    bool ok = http_target_origin_form(str_c(target), &out);
    if (want == NULL)
        return !ok;
    return ok && str_eq_c(out, want);
}

TEST(target_origin_form)
{
    ASSERT(origin("/healthz", "/healthz"));
    ASSERT(origin("/a?b=c", "/a?b=c"));
    ASSERT(origin("http://host/healthz", "/healthz"));
    ASSERT(origin("HTTP://Host:4000/token?x=1", "/token?x=1"));
    ASSERT(origin("https://h.example/auth", "/auth"));
    ASSERT(origin("http://host", "/"));
    ASSERT(origin("http://[::1]:4000/jwks", "/jwks"));
}

TEST(target_refused_forms)
{
    ASSERT(origin("*", NULL));
    ASSERT(origin("host:443", NULL));
    ASSERT(origin("", NULL));
    ASSERT(origin("ftp://host/x", NULL));
    ASSERT(origin("http:///path", NULL));
    ASSERT(origin("http://user@host/x", NULL));
    ASSERT(origin("http://host?x", NULL));
    ASSERT(origin("http://host#f", NULL));
    struct str out;
    ASSERT(!http_target_origin_form(STR_NULL, &out));
}

static struct http_res res_with(const char *name, const char *value)
{
    struct http_res r;
    memset(&r, 0, sizeof(r));
    r.status = 200;
    r.headers[0].name = name;
    r.headers[0].value = str_c(value);
    r.n_headers = 1;
    return r;
}

TEST(response_problems)
{
    struct http_res ok = res_with("Location", "https://rp.example/cb?code=x");
    ASSERT(http_res_problem(&ok) == NULL);
    struct http_res crlf = res_with("Location", "https://rp.example/\r\nSet-Cookie: x=y");
    ASSERT(http_res_problem(&crlf) != NULL);
    struct http_res lf = res_with("X-A", "a\nb");
    ASSERT(http_res_problem(&lf) != NULL);
    struct http_res space = res_with("Bad Name", "v");
    ASSERT(http_res_problem(&space) != NULL);
    struct http_res empty = res_with("", "v");
    ASSERT(http_res_problem(&empty) != NULL);
    const char *owned[] = {"Connection", "keep-alive", "Transfer-Encoding", "Upgrade", "TE", "Content-Length",
                           "Proxy-Connection"};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        struct http_res r = res_with(owned[i], "x");
        ASSERT(http_res_problem(&r) != NULL);
    }
    /* Every tchar of RFC 9110 §5.6.2 makes a name; names that only start like the server's own pass. */
    struct http_res punct = res_with("X-a0!#$%&'*+.^_`|~Z9", "v");
    ASSERT(http_res_problem(&punct) == NULL);
    const char *near[] = {"Connections", "T", "TE-X", "Content-Lengt", "Upgrade-Insecure-Requests"};
    for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
        struct http_res r = res_with(near[i], "x");
        ASSERT(http_res_problem(&r) == NULL);
    }
    struct http_res slash = res_with("X/Y", "v");
    ASSERT(http_res_problem(&slash) != NULL);
    struct http_res nul = res_with("X-A", "ab");
    nul.headers[0].value.len = 3; /* includes the terminating NUL */
    ASSERT(http_res_problem(&nul) != NULL);
}

TESTS(T(framing_plain_requests_pass), T(framing_repeated_content_length),
      T(framing_content_length_and_transfer_encoding), T(framing_transfer_encoding_rules),
      T(framing_obsolete_folding), T(target_origin_form), T(target_refused_forms), T(response_problems))
