/* test_authorize.c: proves the pure parts of src/oauth/authorize.c: redirect_uri_matches (simple string
 * comparison, RFC 8252 §7.3 port freedom only for native clients on http loopback IP literals, never for
 * localhost or web clients, no open redirect through userinfo, host suffixes, backslashes or IPv6
 * literals), the JSON round trip of a parked request, and scope_is_oidc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "oauth/authorize.h"
#include "oauth/authz.h"

#include "harness.h"
#include "core/banned.h"

static struct arena *a;

/* ---- redirect_uri_matches ---- */

/* One row: a registered and a requested redirect URI, and whether they match for a web and for a native
 * client. */
struct match_case {
    const char *registered, *given;
    bool web, native;
};

/* Runs the rows; on a mismatch prints every failing row (not only the first) and fails. */
static bool run_cases(const struct match_case *rows, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        bool web = redirect_uri_matches(APP_TYPE_WEB, rows[i].registered, rows[i].given);
        bool native = redirect_uri_matches(APP_TYPE_NATIVE, rows[i].registered, rows[i].given);
        if (web != rows[i].web || native != rows[i].native) {
            fprintf(stderr, "  registered %s, given %s: web %d (want %d), native %d (want %d)\n",
                    rows[i].registered, rows[i].given, web, rows[i].web, native, rows[i].native);
            ok = false;
        }
    }
    return ok;
}
#define RUN_CASES(rows) ASSERT(run_cases((rows), sizeof(rows) / sizeof((rows)[0])))

TEST(redirect_exact)
{
    static const struct match_case rows[] = {
        {"https://myapp.com/autorization", "https://myapp.com/autorization", 1, 1},
        {"http://example.org/", "http://example.org/", 1, 1},
        {"http://localhost:8080/cb", "http://localhost:8080/cb", 1, 1},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb", 1, 1},
        {"com.example.app:/oauth2redirect", "com.example.app:/oauth2redirect", 1, 1},
        {"https://myapp.com/autorization", "https://myapp.com/autorization/", 0, 0},
        {"https://myapp.com/cb", "", 0, 0},
    };
    RUN_CASES(rows);
}

/* RFC 8252 §7.3: the port of a loopback IP redirect URI is free for a native client only. */
TEST(redirect_loopback_ip_port_native_only)
{
    static const struct match_case rows[] = {
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:51234/cb", 0, 1},
        {"http://127.0.0.1/cb", "http://127.0.0.1:4000/cb", 0, 1},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1/cb", 0, 1},
        {"http://127.0.0.1", "http://127.0.0.1:4000", 0, 1},
        {"http://127.0.0.1:80?x=1", "http://127.0.0.1:81?x=1", 0, 1},
        {"http://127.0.0.1/cb", "http://127.0.0.1:65535/cb", 0, 1},
        {"http://127.0.0.1/cb", "http://127.0.0.1:080/cb", 0, 1},
        {"http://[::1]/cb", "http://[::1]:4000/cb", 0, 1},
        {"http://[::1]:99/cb?x", "http://[::1]:100/cb?x", 0, 1},
        {"http://[::1]:99/cb", "http://[::1]/cb", 0, 1},
    };
    RUN_CASES(rows);
}

/* RFC 8252 §8.3 does not recommend "localhost" and RFC 9700 §2.1 keeps port freedom to loopback IP
 * literals: localhost is compared as a string, for web and native clients alike. */
TEST(redirect_localhost_is_exact)
{
    static const struct match_case rows[] = {
        {"http://localhost:4399/cb", "http://localhost:4398/cb", 0, 0},
        {"http://localhost:4399/cb", "http://localhost/cb", 0, 0},
        {"http://localhost/cb", "http://localhost:8080/cb", 0, 0},
        {"http://localhost:3000/callback", "http://localhost:3001/callback", 0, 0},
        {"http://localhost/signin-callback", "http://localhost:5000/signin-callback", 0, 0},
        {"http://localhost/cb", "http://localhost/cb", 1, 1},
    };
    RUN_CASES(rows);
}

TEST(redirect_loopback_host_must_match)
{
    static const struct match_case rows[] = {
        {"http://127.0.0.1:8080/cb", "http://localhost:8080/cb", 0, 0},
        {"http://localhost/cb", "http://[::1]/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://[::1]/cb", 0, 0},
        {"http://[::1]/cb", "http://127.0.0.1:80/cb", 0, 0},
        {"http://[::1]/cb", "http://[0:0:0:0:0:0:0:1]/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.1/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.2/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.10/cb", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1.evil.com/cb", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1.evil.com:8080/cb", 0, 0},
        {"http://localhost/cb", "http://localhost.evil.com/cb", 0, 0},
        {"http://localhost/cb", "http://evil.localhost/cb", 0, 0},
        {"http://localhost/cb", "http://LOCALHOST:80/cb", 0, 0},
        {"http://localhost/cb", "http://localhost.:8080/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1%25eth0]:80/cb", 0, 0},
    };
    RUN_CASES(rows);
}

TEST(redirect_no_variance_elsewhere)
{
    static const struct match_case rows[] = {
        {"http://example.com/cb", "http://example.com:8080/cb", 0, 0},
        {"http://example.org/", "http://example.org:80/", 0, 0},
        {"https://localhost/cb", "https://localhost:8443/cb", 0, 0},
        {"https://127.0.0.1:8443/cb", "https://127.0.0.1:9443/cb", 0, 0},
        {"https://[::1]/cb", "https://[::1]:1/cb", 0, 0},
        /* The scheme is never free either. */
        {"http://127.0.0.1/cb", "https://127.0.0.1/cb", 0, 0},
        {"http://127.0.0.1/cb", "HTTP://127.0.0.1:80/cb", 0, 0},
        {"http://127.0.0.1/cb", "http:/127.0.0.1/cb", 0, 0},
        {"http://localhost/cb", "https://localhost/cb", 0, 0},
    };
    RUN_CASES(rows);
}

TEST(redirect_path_and_query_must_match)
{
    static const struct match_case rows[] = {
        {"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb2", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/CB", 0, 0},
        {"http://[::1]:99/cb?x", "http://[::1]:99/cb?y", 0, 0},
        {"http://[::1]:99/cb?x", "http://[::1]:100/cb?y", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:9/cb?redirect=https://evil.com", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1/cb#@evil.com", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:8080/c%62", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:8080%2F..%2Fcb", 0, 0},
    };
    RUN_CASES(rows);
}

TEST(redirect_prefixes_do_not_match)
{
    static const struct match_case rows[] = {
        {"https://myapp.com/cb", "https://myapp.com/cb/../evil", 0, 0},
        {"https://myapp.com/cb", "https://myapp.com/cbx", 0, 0},
        {"https://myapp.com/cb", "https://myapp.com/c", 0, 0},
        {"https://myapp.com", "https://myapp.com.evil.com", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:1/cbx", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/c", 0, 0},
        {"http://127.0.0.1", "http://127.0.0.1:8080/cb", 0, 0},
    };
    RUN_CASES(rows);
}

TEST(redirect_bad_ports)
{
    static const struct match_case rows[] = {
        {"http://127.0.0.1/cb", "http://127.0.0.1:80a/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:0x50/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:+80/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:80:81/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:80\r/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:0/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:65536/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1:000080/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1]:99999/cb", 0, 0},
    };
    RUN_CASES(rows);
}

/* Userinfo, backslashes and junk after an IPv6 literal would send the code to another host: a browser
 * reads "http://[::1]@evil.com/cb" as user "[::1]" at host evil.com (WHATWG URL), so it must not match a
 * registered http://[::1] redirect URI, even for a native client. */
TEST(redirect_no_open_redirect)
{
    static const struct match_case rows[] = {
        {"http://localhost/cb", "http://localhost@evil.com/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1@evil.com/cb", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080@evil.com/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1\\@evil.com/cb", 0, 0},
        {"http://127.0.0.1:8080/cb", "http://127.0.0.1:8080\\evil.com/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1%2F@evil.com/cb", 0, 0},
        {"http://127.0.0.1/cb", "http://127.0.0.1#@evil.com/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1]:80@evil.com/cb", 0, 0},
        {"http://[::1]:99/cb", "http://[::1]@evil.com/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1]@evil.com/cb", 0, 0},
        {"http://[::1]:99/cb", "http://[::1]evil.com/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1]\\@evil.com/cb", 0, 0},
        {"http://[::1]/cb", "http://[::1].evil.com:80@evil.com/cb", 0, 0},
    };
    RUN_CASES(rows);
}

/* ---- the parked request's JSON round trip ---- */

static int round_trip(const struct authz_request *in, struct authz_request *out)
{
    json_t *j = authz_request_to_json(in);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        return -2;
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    if (back == NULL)
        return -2;
    int rc = authz_request_from_json(a, back, out);
    json_decref(back);
    return rc;
}

TEST(json_round_trip_full)
{
    struct authz_request in = {
        .client_id = "2e11feba0e0348d317971c52488dd79125943d750b8e6df1",
        .redirect_uri = "http://localhost:8080/cb",
        .redirect_uri_given = true,
        .response_type = "code",
        .response_mode = RESPONSE_MODE_FORM_POST,
        .scope = "openid email profile offline_access messaging.contacts/:userId.post",
        .state = "abc123",
        .nonce = "xyz789",
        .code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        .code_challenge_method = "S256",
        .prompt = PROMPT_LOGIN | PROMPT_CONSENT,
        .max_age = 3600,
        .login_hint = "alice@example.com",
        .id_token_hint = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        .ui_locales = "nl en",
        .acr_values = "urn:acr:1",
        .resource = "urn:focus:api",
    };
    struct authz_request out;
    ASSERT_EQ(round_trip(&in, &out), 0);
    ASSERT_STREQ(out.client_id, in.client_id);
    ASSERT_STREQ(out.redirect_uri, in.redirect_uri);
    ASSERT(out.redirect_uri_given);
    ASSERT_STREQ(out.response_type, "code");
    ASSERT_EQ(out.response_mode, RESPONSE_MODE_FORM_POST);
    ASSERT_STREQ(out.scope, in.scope);
    ASSERT_STREQ(out.state, "abc123");
    ASSERT_STREQ(out.nonce, "xyz789");
    ASSERT_STREQ(out.code_challenge, in.code_challenge);
    ASSERT_STREQ(out.code_challenge_method, "S256");
    ASSERT_EQ(out.prompt, PROMPT_LOGIN | PROMPT_CONSENT);
    ASSERT_EQ(out.max_age, 3600);
    ASSERT_STREQ(out.login_hint, "alice@example.com");
    ASSERT_STREQ(out.id_token_hint, in.id_token_hint);
    ASSERT_STREQ(out.ui_locales, "nl en");
    ASSERT_STREQ(out.acr_values, "urn:acr:1");
    ASSERT_STREQ(out.resource, "urn:focus:api");
}

TEST(json_round_trip_minimal)
{
    struct authz_request in = {
        .client_id = "foo",
        .redirect_uri = "http://example.org/",
        .redirect_uri_given = false,
        .response_type = "code",
        .response_mode = RESPONSE_MODE_QUERY,
        .scope = "",
        .max_age = -1,
    };
    struct authz_request out;
    ASSERT_EQ(round_trip(&in, &out), 0);
    ASSERT_STREQ(out.client_id, "foo");
    ASSERT_STREQ(out.redirect_uri, "http://example.org/");
    ASSERT(!out.redirect_uri_given);
    ASSERT_EQ(out.response_mode, RESPONSE_MODE_QUERY);
    ASSERT_STREQ(out.scope, "");
    ASSERT_EQ(out.prompt, 0);
    ASSERT_EQ(out.max_age, -1);
    /* Absent stays absent. */
    ASSERT(out.state == NULL && out.nonce == NULL && out.code_challenge == NULL);
    ASSERT(out.code_challenge_method == NULL && out.login_hint == NULL && out.id_token_hint == NULL);
    ASSERT(out.ui_locales == NULL && out.acr_values == NULL && out.resource == NULL);
}

TEST(json_round_trip_awkward_strings)
{
    struct authz_request in = {
        .client_id = "my.trusted.app/first",
        .redirect_uri = "http://localhost/signin-callback?a=\"b\"&c=\\",
        .response_type = "code",
        .response_mode = RESPONSE_MODE_FRAGMENT,
        .scope = "openid",
        .state = "f4joN6Yn5ZxKVTSXaxhkTh8ogqqX3TOzCPyLrXhn2Pc=",
        .nonce = "\x01\t\n\x7f \xe2\x80\xae \xf0\x9f\x94\x91",
        .prompt = PROMPT_NONE,
        .max_age = INT64_MAX,
    };
    struct authz_request out;
    ASSERT_EQ(round_trip(&in, &out), 0);
    ASSERT_STREQ(out.redirect_uri, in.redirect_uri);
    ASSERT_EQ(out.response_mode, RESPONSE_MODE_FRAGMENT);
    ASSERT_STREQ(out.state, in.state);
    ASSERT_STREQ(out.nonce, in.nonce);
    ASSERT_EQ(out.prompt, PROMPT_NONE);
    ASSERT(out.max_age == INT64_MAX);
}

TEST(json_from_incomplete_or_bad)
{
    struct authz_request in = {.client_id = "foo", .redirect_uri = "http://example.org/", .max_age = -1};
    struct authz_request out;
    ASSERT_EQ(round_trip(&in, &out), -1); /* no scope */
    in.scope = "openid";
    in.client_id = NULL;
    ASSERT_EQ(round_trip(&in, &out), -1);
    in.client_id = "foo";
    in.redirect_uri = NULL;
    ASSERT_EQ(round_trip(&in, &out), -1);

    json_t *arr = json_array();
    ASSERT_EQ(authz_request_from_json(a, arr, &out), -1);
    json_decref(arr);
    ASSERT_EQ(authz_request_from_json(a, NULL, &out), -1);
    /* Wrong types are treated as absent, not trusted. */
    json_t *o = json_pack("{s:i, s:s, s:s, s:i}", "client_id", 5, "redirect_uri", "http://example.org/", "scope",
                          "openid", "state", 7);
    ASSERT(o != NULL);
    ASSERT_EQ(authz_request_from_json(a, o, &out), -1);
    ASSERT(out.client_id == NULL && out.state == NULL);
    json_decref(o);
}

/* ---- scope_is_oidc ---- */

TEST(scope_is_oidc_values)
{
    static const char *const yes[] = {"openid", "profile", "email", "address", "phone", "offline_access"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ASSERT(scope_is_oidc(yes[i]));
    ASSERT(!scope_is_oidc("messaging.contacts/:userId.post"));
    ASSERT(!scope_is_oidc("DomainApi"));
    ASSERT(!scope_is_oidc("OpenID"));
    ASSERT(!scope_is_oidc("openid "));
    ASSERT(!scope_is_oidc("open"));
    ASSERT(!scope_is_oidc("openidx"));
    ASSERT(!scope_is_oidc(""));
}

__attribute__((constructor)) static void init(void)
{
    a = arena_new(4096);
}

TESTS(T(redirect_exact), T(redirect_loopback_ip_port_native_only), T(redirect_localhost_is_exact),
      T(redirect_loopback_host_must_match), T(redirect_no_variance_elsewhere),
      T(redirect_path_and_query_must_match), T(redirect_prefixes_do_not_match), T(redirect_bad_ports),
      T(redirect_no_open_redirect), T(json_round_trip_full), T(json_round_trip_minimal),
      T(json_round_trip_awkward_strings), T(json_from_incomplete_or_bad), T(scope_is_oidc_values))
