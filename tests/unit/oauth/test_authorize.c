/* test_authorize.c: proves the pure parts of src/oauth/authorize.c: redirect_uri_matches (exact string
 * match, RFC 8252 §7.3 port freedom only for http loopback hosts, no open redirect through userinfo,
 * host suffixes, backslashes or IPv6 literals), the JSON round trip of a parked request, and scope_is_oidc. */
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

TEST(redirect_exact)
{
    ASSERT(redirect_uri_matches("https://myapp.com/autorization", "https://myapp.com/autorization"));
    ASSERT(redirect_uri_matches("http://example.org/", "http://example.org/"));
    ASSERT(redirect_uri_matches("http://localhost:8080/cb", "http://localhost:8080/cb"));
    ASSERT(redirect_uri_matches("com.example.app:/oauth2redirect", "com.example.app:/oauth2redirect"));
    ASSERT(!redirect_uri_matches("https://myapp.com/autorization", "https://myapp.com/autorization/"));
    ASSERT(!redirect_uri_matches("https://myapp.com/cb", ""));
}

TEST(redirect_loopback_port_127)
{
    ASSERT(redirect_uri_matches("http://127.0.0.1:8080/cb", "http://127.0.0.1:51234/cb"));
    ASSERT(redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:4000/cb"));
    ASSERT(redirect_uri_matches("http://127.0.0.1:8080/cb", "http://127.0.0.1/cb"));
}

TEST(redirect_loopback_port_ipv6)
{
    ASSERT(redirect_uri_matches("http://[::1]/cb", "http://[::1]:4000/cb"));
    ASSERT(redirect_uri_matches("http://[::1]:99/cb?x", "http://[::1]:100/cb?x"));
    ASSERT(redirect_uri_matches("http://[::1]:99/cb", "http://[::1]/cb"));
}

TEST(redirect_loopback_port_localhost)
{
    ASSERT(redirect_uri_matches("http://localhost/cb", "http://localhost:8080/cb"));
    ASSERT(redirect_uri_matches("http://localhost:3000/callback", "http://localhost:3001/callback"));
    ASSERT(redirect_uri_matches("http://localhost/signin-callback", "http://localhost:5000/signin-callback"));
}

TEST(redirect_loopback_host_must_match)
{
    ASSERT(!redirect_uri_matches("http://127.0.0.1:8080/cb", "http://localhost:8080/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://[::1]/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[0:0:0:0:0:0:0:1]/cb"));
    ASSERT(!redirect_uri_matches("http://127.0.0.1/cb", "http://127.1/cb"));
    ASSERT(!redirect_uri_matches("http://127.0.0.1:8080/cb", "http://127.0.0.1.evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://127.0.0.1:8080/cb", "http://127.0.0.1.evil.com:8080/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost.evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://evil.localhost/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://LOCALHOST:80/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost.:8080/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[::1%25eth0]:80/cb"));
}

TEST(redirect_no_variance_elsewhere)
{
    ASSERT(!redirect_uri_matches("http://example.com/cb", "http://example.com:8080/cb"));
    ASSERT(!redirect_uri_matches("http://example.org/", "http://example.org:80/"));
    ASSERT(!redirect_uri_matches("https://localhost/cb", "https://localhost:8443/cb"));
    ASSERT(!redirect_uri_matches("https://127.0.0.1:8443/cb", "https://127.0.0.1:9443/cb"));
    ASSERT(!redirect_uri_matches("https://[::1]/cb", "https://[::1]:1/cb"));
    /* The scheme is never free either. */
    ASSERT(!redirect_uri_matches("http://localhost/cb", "https://localhost/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "HTTP://localhost:80/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http:/localhost/cb"));
}

TEST(redirect_path_and_query_must_match)
{
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:8080/cb2"));
    ASSERT(!redirect_uri_matches("http://localhost:8080/cb", "http://localhost:8080/CB"));
    ASSERT(!redirect_uri_matches("http://[::1]:99/cb?x", "http://[::1]:99/cb?y"));
    ASSERT(!redirect_uri_matches("http://[::1]:99/cb?x", "http://[::1]:100/cb?y"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:9/cb?redirect=https://evil.com"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost/cb#@evil.com"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:8080/c%62"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:8080%2F..%2Fcb"));
}

TEST(redirect_prefixes_do_not_match)
{
    ASSERT(!redirect_uri_matches("https://myapp.com/cb", "https://myapp.com/cb/../evil"));
    ASSERT(!redirect_uri_matches("https://myapp.com/cb", "https://myapp.com/cbx"));
    ASSERT(!redirect_uri_matches("https://myapp.com/cb", "https://myapp.com/c"));
    ASSERT(!redirect_uri_matches("https://myapp.com", "https://myapp.com.evil.com"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:1/cbx"));
    ASSERT(!redirect_uri_matches("http://localhost:8080/cb", "http://localhost:8080/c"));
    ASSERT(!redirect_uri_matches("http://localhost", "http://localhost:8080/cb"));
}

TEST(redirect_bad_ports)
{
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:80a/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:0x50/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:+80/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:80:81/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:80\r/cb"));
}

/* Userinfo, backslashes and junk after an IPv6 literal would send the code to another host: a browser
 * reads "http://[::1]@evil.com/cb" as user "[::1]" at host evil.com (WHATWG URL), so it must not match a
 * registered http://[::1] redirect URI. */
TEST(redirect_no_open_redirect)
{
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost:80@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost\\@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost:8080/cb", "http://localhost:8080\\evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost%2F@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://localhost/cb", "http://localhost#@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[::1]:80@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]:99/cb", "http://[::1]@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[::1]@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]:99/cb", "http://[::1]evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[::1]\\@evil.com/cb"));
    ASSERT(!redirect_uri_matches("http://[::1]/cb", "http://[::1].evil.com:80@evil.com/cb"));
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

TESTS(T(redirect_exact), T(redirect_loopback_port_127), T(redirect_loopback_port_ipv6),
      T(redirect_loopback_port_localhost), T(redirect_loopback_host_must_match), T(redirect_no_variance_elsewhere),
      T(redirect_path_and_query_must_match), T(redirect_prefixes_do_not_match), T(redirect_bad_ports),
      T(redirect_no_open_redirect), T(json_round_trip_full), T(json_round_trip_minimal),
      T(json_round_trip_awkward_strings), T(json_from_incomplete_or_bad), T(scope_is_oidc_values))
