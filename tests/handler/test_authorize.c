/* test_authorize.c: authorization-request validation in-process (src/oauth/authorize.c authz_validate):
 * every error it returns, whether it may be redirected (RFC 6749 §4.1.2.1: only once client and
 * redirect_uri are verified), where it goes (response mode, state), the validated request and its
 * validation again as a parked request (authz_validate_parked: the same request), then the endpoint's two
 * renderings and the validation of a parked request when the person comes back to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/rand.h"
#include "oauth/authorize.h"

#include "harness_http.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

#define CB "https://rp.example.com/cb"
#define CB_ENC "https%3A%2F%2Frp.example.com%2Fcb"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

static const char *const yaml =
    "keys:\n"
    "  algorithms: [ES256]\n"
    "resources:\n"
    "  - identifier: https://api.example.com/\n"
    "    scopes: [read, write]\n"
    "  - identifier: https://other.example.com/\n"
    "    scopes: [other]\n"
    "clients:\n"
    "  - client_id: web\n"
    "    client_secret: web-secret\n"
    "    redirect_uris: ['" CB "']\n"
    "    scope: openid profile read\n"
    "    pkce_methods: [S256]\n"
    "  - client_id: two\n"
    "    client_secret: two-secret\n"
    "    redirect_uris: ['https://a.example.com/cb', 'https://b.example.com/cb']\n"
    "    scope: openid read other\n"
    "  - client_id: spa\n"
    "    redirect_uris: ['https://spa.example.com/cb']\n"
    "  - client_id: machine\n"
    "    client_secret: machine-secret\n"
    "    grant_types: [client_credentials]\n"
    "  - client_id: cc-with-uri\n"
    "    client_secret: s\n"
    "    redirect_uris: ['https://cc.example.com/cb']\n"
    "    grant_types: [client_credentials]\n"
    "  - client_id: hybrid\n"
    "    client_secret: hybrid-secret\n"
    "    redirect_uris: ['https://h.example.com/cb']\n"
    "    grant_types: [authorization_code, implicit]\n"
    "    response_types: [code, 'code id_token', 'id_token token']\n"
    "    scope: openid profile read offline_access\n"
    "    require_pkce: 'false'\n"
    "  - client_id: spa-hybrid\n"
    "    redirect_uris: ['https://spa-h.example.com/cb']\n"
    "    grant_types: [authorization_code, implicit]\n"
    "    response_types: ['code id_token', id_token]\n"
    "    scope: openid\n"
    "  - client_id: gone\n"
    "    client_secret: gone-secret\n"
    "    redirect_uris: ['https://gone.example.com/cb']\n"
    "    scope: openid\n"
    "users:\n"
    "  - username: alice\n"
    "    password: correct horse battery staple\n";

static struct hx *h;

static void setup(void)
{
    h = hx_open(yaml);
}

static void teardown(void)
{
    hx_close(h);
}

/* Validates the authorization request of `query` (as the endpoint would have parsed it). */
static struct authz_validation validate(const char *query)
{
    struct http_req *req = hx_request(h, "GET", "/auth");
    struct form f;
    struct authz_validation v;
    if (form_parse(req->arena, query, strlen(query), 64, &f) != FORM_OK) {
        memset(&v, 0, sizeof(v));
        v.error = OAUTH_ERROR(NOT_FOUND, "the test's query does not parse");
        return v;
    }
    authz_validate(req, &f, &v);
    return v;
}

/* One row: a query, the error code and description it gets (code "" for a valid request), and whether
 * the error may be redirected. */
struct authz_case {
    const char *query;
    const char *error, *description;
    bool redirectable;
};

/* Runs the rows; prints every failing row and fails. */
static bool run_cases(const struct authz_case *rows, size_t n)
{
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        struct authz_validation v = validate(rows[i].query);
        const char *code = oauth_err_str(v.error.code);
        const char *desc = v.error.description != NULL ? v.error.description : "";
        if (strcmp(code, rows[i].error) != 0 || strcmp(desc, rows[i].description) != 0 ||
            v.redirectable != rows[i].redirectable) {
            fprintf(stderr, "  %s:\n    got  %s \"%s\" redirectable %d\n    want %s \"%s\" redirectable %d\n",
                    rows[i].query, code, desc, v.redirectable, rows[i].error, rows[i].description,
                    rows[i].redirectable);
            ok = false;
        }
    }
    return ok;
}
#define RUN_CASES(rows) ASSERT(run_cases((rows), sizeof(rows) / sizeof((rows)[0])))

#define PKCE "&code_challenge=" CHALLENGE "&code_challenge_method=S256"
#define SERVED_TYPES                                                                                         \
    "response_type must be one of: code, code id_token, code token, code id_token token, id_token, "       \
    "id_token token"
#define HYBRID "client_id=hybrid&scope=openid"
#define WEB "client_id=web&response_type=code" PKCE

TEST(authz_errors_not_redirectable)
{
    static const struct authz_case rows[] = {
        {"response_type=code", "invalid_request", "client_id is missing", false},
        {"client_id=web&client_id=web&response_type=code", "invalid_request", "client_id is repeated", false},
        {"client_id=nobody&response_type=code", "invalid_client",
         "unknown client_id: no application is registered with it", false},
        {WEB "&redirect_uri=" CB_ENC "&redirect_uri=" CB_ENC, "invalid_request", "redirect_uri is repeated", false},
        {WEB "&redirect_uri=https%3A%2F%2Fevil.example.com%2Fcb", "invalid_request",
         "redirect_uri is not registered for this client", false},
        {WEB "&redirect_uri=" CB_ENC "%2Fmore", "invalid_request", "redirect_uri is not registered for this client",
         false},
        {"client_id=two&response_type=code", "invalid_request",
         "redirect_uri is required: the client registered several", false},
        {"client_id=machine&response_type=code", "invalid_request", "this client has no registered redirect_uri",
         false},
        /* A request object is verified before its redirect_uri can be trusted (RFC 9101 §6). */
        {WEB "&request=eyJ", "invalid_request_object", "the request object is not a well-formed JWT", false},
        {WEB "&request=eyJhbGciOiJub25lIn0.e30.", "invalid_request_object",
         "unsigned request objects (alg none) are not allowed for this client; sign it with a key of the client",
         false},
        {"response_type=code&request=eyJhbGciOiJub25lIn0.e30.", "invalid_request",
         "client_id is required beside request (RFC 9101 section 5)", false},
        /* Even a response_mode or response_type error is not redirected before the redirect URI is known. */
        {"client_id=two&response_mode=bogus", "invalid_request",
         "redirect_uri is required: the client registered several", false},
    };
    RUN_CASES(rows);
}

/* A response that could not carry the state back (RFC 6749 §4.1.2) is refused on the page, before any
 * redirect: a redirect without the state would mislead the client. */
TEST(authz_state_too_long_not_redirected)
{
    struct http_req *req = hx_request(h, "GET", "/auth");
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 128 * 1024);
    strbuf_adds(&sb, WEB "&state=");
    for (int i = 0; i < 70 * 1024; i++)
        strbuf_addc(&sb, 's');
    struct form f;
    ASSERT_EQ(form_parse(req->arena, sb.buf, sb.len, 64, &f), FORM_OK);
    struct authz_validation v;
    authz_validate(req, &f, &v);
    ASSERT_EQ(v.error.code, OAUTH_ERR_INVALID_REQUEST);
    ASSERT_STREQ(v.error.description, "state is too long for the authorization response");
    ASSERT(!v.redirectable);
    /* Within the bound, fine. */
    struct str q = str_c(WEB "&state=short");
    ASSERT_EQ(form_parse(req->arena, q.p, q.len, 64, &f), FORM_OK);
    authz_validate(req, &f, &v);
    ASSERT_EQ(v.error.code, OAUTH_ERR_NONE);
}

TEST(authz_errors_redirectable)
{
    static const struct authz_case rows[] = {
        {WEB "&response_mode=bogus", "invalid_request", "response_mode must be query, fragment or form_post", true},
        {WEB "&scope=openid&scope=read", "invalid_request", "scope is repeated (RFC 6749 section 3.1)", true},
        {WEB "&request_uri=urn%3Ax", "invalid_request_uri", "request_uri is only accepted at the authorization endpoint",
         true},
        {WEB "&registration=%7B%7D", "registration_not_supported", "the registration parameter is not supported",
         true},
        {"client_id=cc-with-uri&response_type=code", "unauthorized_client",
         "this client is not registered for response_type code", true},
        {"client_id=web", "invalid_request", "response_type is missing", true},
        {"client_id=web&response_type=token", "unsupported_response_type", SERVED_TYPES, true},
        {"client_id=web&response_type=code+none", "unsupported_response_type", SERVED_TYPES, true},
        {"client_id=web&response_type=code+code", "invalid_request", "response_type has a value twice", true},
        {WEB "&id_token_hint=not.a.token", "invalid_request", "id_token_hint is not a valid ID token of this issuer",
         true},
        {WEB "&scope=%22quoted%22", "invalid_scope", "scope is malformed (RFC 6749 section 3.3)", true},
        {WEB "&scope=openid+write", "invalid_scope", "requested scope is not allowed for this client", true},
        {"client_id=web&response_type=code&code_challenge=" CHALLENGE "&code_challenge_method=S512",
         "invalid_request", "code_challenge_method must be S256 or plain", true},
        {"client_id=web&response_type=code&code_challenge=" CHALLENGE, "invalid_request",
         "code_challenge_method plain is not allowed for this client; use S256", true},
        {"client_id=web&response_type=code&code_challenge=short&code_challenge_method=S256", "invalid_request",
         "code_challenge is malformed (RFC 7636 section 4.2)", true},
        {"client_id=web&response_type=code&code_challenge_method=S256", "invalid_request",
         "code_challenge_method without code_challenge", true},
        {"client_id=spa&response_type=code", "invalid_request",
         "PKCE is required: send code_challenge and code_challenge_method=S256", true},
        {WEB "&prompt=sometimes", "invalid_request", "prompt has an unsupported value", true},
        {WEB "&prompt=none+login", "invalid_request", "prompt=none cannot be combined with other values", true},
        {WEB "&max_age=-1", "invalid_request", "max_age must be a non-negative integer number of seconds", true},
        {WEB "&resource=https%3A%2F%2Fapi.example.com%2F&audience=https%3A%2F%2Fother.example.com%2F",
         "invalid_request", "resource and audience name different APIs", true},
        {WEB "&resource=https%3A%2F%2Fnone.example.com%2F", "invalid_target",
         "unknown resource: no API is registered with that identifier", true},
        {WEB "&resource=https%3A%2F%2Fapi.example.com%2F%23frag", "invalid_target",
         "resource must be an absolute URI without a fragment", true},
        {"client_id=two&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code&scope=read+other" PKCE,
         "invalid_target", "the requested scopes belong to several APIs: name one with resource", true},
        {"client_id=two&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code&scope=read+other"
         "&resource=https%3A%2F%2Fapi.example.com%2F" PKCE,
         "invalid_scope", "a requested scope does not belong to the requested resource", true},
    };
    RUN_CASES(rows);
}

/* The hybrid and implicit response types (OIDC Core §3.2, §3.3): served ones the client did not register
 * are unauthorized_client (RFC 6749 §4.1.2.1: the server supports them, this client may not use them), an
 * ID token from the authorization endpoint needs openid and a nonce, and tokens never go in the query. */
TEST(authz_errors_hybrid_and_implicit)
{
    static const struct authz_case rows[] = {
        {"client_id=web&response_type=code+id_token&nonce=n", "unauthorized_client",
         "this client is not registered for response_type code id_token", true},
        {HYBRID "&response_type=code+token&nonce=n", "unauthorized_client",
         "this client is not registered for response_type code token", true},
        {HYBRID "&response_type=token+id_token+code&nonce=n", "unauthorized_client",
         "this client is not registered for response_type code id_token token", true},
        {HYBRID "&response_type=id_token&nonce=n", "unauthorized_client",
         "this client is not registered for response_type id_token", true},
        {HYBRID "&response_type=token", "unsupported_response_type", SERVED_TYPES, true},
        {HYBRID "&response_type=code+id_token", "invalid_request",
         "nonce is required when the response_type has id_token (OpenID Connect Core 3.2.2.1)", true},
        {HYBRID "&response_type=token+id_token", "invalid_request",
         "nonce is required when the response_type has id_token (OpenID Connect Core 3.2.2.1)", true},
        {"client_id=hybrid&scope=read&response_type=code+id_token&nonce=n", "invalid_scope",
         "the openid scope is required for a response_type with id_token", true},
        {HYBRID "&response_type=code+id_token&nonce=n&response_mode=query", "invalid_request",
         "response_mode=query cannot carry the tokens of this response_type: use fragment (its default) or "
         "form_post",
         true},
        {HYBRID "&response_type=id_token+id_token&nonce=n", "invalid_request", "response_type has a value twice",
         true},
        /* Accepted: no PKCE needed for this client, nor without a code. */
        {HYBRID "&response_type=id_token+code&nonce=n", "", "", true},
        {HYBRID "&response_type=id_token+code&nonce=n&response_mode=form_post", "", "", true},
        {HYBRID "&response_type=id_token+token&nonce=n", "", "", true},
        {"client_id=hybrid&scope=read&response_type=code", "", "", true},
    };
    RUN_CASES(rows);
    /* A public client must use PKCE for the code of a hybrid response; without a code there is none. */
    static const struct authz_case public_rows[] = {
        {"client_id=spa-hybrid&response_type=code+id_token&nonce=n", "invalid_request",
         "PKCE is required: send code_challenge and code_challenge_method=S256", true},
        {"client_id=spa-hybrid&response_type=code+id_token&nonce=n" PKCE, "", "", true},
        {"client_id=spa-hybrid&response_type=id_token&nonce=n", "", "", true},
    };
    RUN_CASES(public_rows);
    struct authz_validation v = validate(HYBRID "&response_type=code+id_token&nonce=n&state=s");
    ASSERT_EQ(v.error.code, OAUTH_ERR_NONE);
    ASSERT_STREQ(v.ar.response_type, "code id_token");
    ASSERT_EQ(v.ar.response_parts, RESPONSE_CODE | RESPONSE_ID_TOKEN);
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_FRAGMENT);
}

/* Where a redirectable error goes: the default response mode of the response type, or the one asked for,
 * with the state of the request. */
TEST(authz_error_destination)
{
    struct authz_validation v = validate("client_id=web&response_type=code&state=s1&response_mode=bogus");
    ASSERT(v.redirectable);
    ASSERT_STREQ(v.ar.redirect_uri, CB);
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_QUERY);
    ASSERT_STREQ(v.ar.state, "s1");
    v = validate("client_id=web&response_type=id_token+token&state=s2");
    ASSERT_STREQ(oauth_err_str(v.error.code), "unauthorized_client");
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_FRAGMENT);
    ASSERT_STREQ(v.ar.state, "s2");
    v = validate("client_id=web&response_type=token&state=s3&response_mode=query");
    ASSERT_STREQ(oauth_err_str(v.error.code), "invalid_request");
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_FRAGMENT);
    v = validate("client_id=web&response_type=code&response_mode=form_post&prompt=bogus");
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_FORM_POST);
    ASSERT(v.ar.state == NULL);
    /* A repeated state is no state. */
    v = validate("client_id=web&response_type=code&state=a&state=b");
    ASSERT(v.redirectable);
    ASSERT(v.ar.state == NULL);
}

TEST(authz_valid_request_and_round_trip)
{
    struct authz_validation v = validate(WEB "&state=xyz&nonce=n-1&prompt=login+consent&max_age=300"
                                             "&login_hint=alice&response_mode=form_post&scope=openid+read");
    ASSERT_EQ(v.error.code, OAUTH_ERR_NONE);
    ASSERT(v.redirectable);
    ASSERT_STREQ(v.client.client_id, "web");
    ASSERT_STREQ(v.ar.redirect_uri, CB);
    ASSERT(!v.ar.redirect_uri_given);
    ASSERT_STREQ(v.ar.scope, "openid read");
    ASSERT_STREQ(v.ar.resource, "https://api.example.com/"); /* selected by its scope */
    ASSERT_EQ(v.ar.prompt, PROMPT_LOGIN | PROMPT_CONSENT);
    ASSERT_EQ(v.ar.max_age, 300);
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_FORM_POST);
    /* The parameters of the validated request validate to the same request (one arena for both). */
    struct http_req *req = hx_request(h, "GET", "/auth");
    const char *q = WEB "&state=xyz&nonce=n-1&prompt=login+consent&max_age=300&login_hint=alice"
                        "&response_mode=form_post&scope=openid+read&id_token_hint=&ui_locales=fr&acr_values=x";
    struct form f;
    ASSERT_EQ(form_parse(req->arena, q, strlen(q), 64, &f), FORM_OK);
    struct authz_validation first, again;
    authz_validate(req, &f, &first);
    ASSERT_EQ(first.error.code, OAUTH_ERR_NONE);
    authz_validate_parked(req, &first.ar, &again);
    ASSERT_EQ(again.error.code, OAUTH_ERR_NONE);
    json_t *a = authz_request_to_json(&first.ar), *b = authz_request_to_json(&again.ar);
    bool same = json_equal(a, b);
    if (!same) {
        char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
        fprintf(stderr, "  %s\n  %s\n", sa, sb);
        free(sa);
        free(sb);
    }
    json_decref(a);
    json_decref(b);
    ASSERT(same);
    /* Defaults: the client's scope, no state, the query. */
    v = validate(WEB "&redirect_uri=" CB_ENC);
    ASSERT_EQ(v.error.code, OAUTH_ERR_NONE);
    ASSERT(v.ar.redirect_uri_given);
    ASSERT_STREQ(v.ar.scope, "openid profile read");
    ASSERT_EQ(v.ar.max_age, -1);
    ASSERT_EQ(v.ar.response_mode, RESPONSE_MODE_QUERY);
}

/* The endpoint renders what the validation says: the error page (never a Location) or a redirect. */
TEST(authz_endpoint_renders)
{
    struct http_req *req = hx_request(h, "GET", "/auth?client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fevil.example.com%2F");
    hx_run(req);
    ASSERT_EQ(req->res.status, 400);
    ASSERT(hx_res_header(req, "location") == NULL);
    ASSERT(strstr(hx_res_header(req, "content-type"), "text/html") != NULL);
    req = hx_request(h, "GET", "/auth?" WEB "&state=st&prompt=bogus");
    hx_run(req);
    ASSERT_EQ(req->res.status, 303);
    ASSERT_STREQ(hx_res_header(req, "location"),
                 CB "?error=invalid_request&error_description=prompt%20has%20an%20unsupported%20value&state=st&iss="
                    "https%3A%2F%2Fop.example.com");
}

/* The value of cookie `name` in the response's Set-Cookie headers, as "name=value". */
static const char *set_cookie(struct http_req *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->res.n_headers; i++) {
        struct str v = req->res.headers[i].value;
        if (strcasecmp(req->res.headers[i].name, "set-cookie") == 0 && v.len > n && memcmp(v.p, name, n) == 0 &&
            v.p[n] == '=')
            return arena_strndup(req->arena, v.p, strcspn(v.p, ";") < v.len ? strcspn(v.p, ";") : v.len);
    }
    return NULL;
}

/* Sends /auth?query, which parks the request (no session yet): the login page's path and query, and the
 * browser-binding cookie the page needs, into page[256] and cookie[256]. */
static bool park(const char *query, char *page, char *cookie)
{
    struct http_req *req = hx_request(h, "GET", arena_printf(h->arena, "/auth?%s", query));
    hx_run(req);
    const char *loc = hx_res_header(req, "location");
    const char *c = set_cookie(req, "ostiary_browser");
    if (req->res.status != 303 || loc == NULL || strstr(loc, "/interaction/login?interaction=") == NULL ||
        c == NULL)
        return false;
    snprintf(page, 256, "%s", strstr(loc, "/interaction/login"));
    snprintf(cookie, 256, "%s", c);
    return true;
}

/* The browser comes back to the parked request's page. */
static struct http_req *back_to(const char *page, const char *cookie)
{
    struct http_req *req = hx_request(h, "GET", page);
    hx_header(req, "cookie", cookie);
    hx_run(req);
    return req;
}

/* A parked request is validated again when the person comes back to it: a redirect URI withdrawn
 * meanwhile ends it on the error page (before, the login page was shown and the code sent to the URI the
 * client no longer has); a grant withdrawn ends it with an error to the client. */
TEST(authz_parked_request_validated_again)
{
    char page[256], cookie[256];
    ASSERT(park("client_id=gone&response_type=code&state=st" PKCE, page, cookie));

    /* The login page, while nothing changed. */
    struct http_req *req = back_to(page, cookie);
    ASSERT_EQ(req->res.status, 200);

    /* The client loses its redirect URI (as `ostiary client update gone --redirect-uri ...` would do);
     * past the client cache's 5 seconds, the page refuses the request. */
    hx_client_put(h, "gone", "gone-secret",
                  "{\"application_type\":\"web\",\"grant_types\":[\"authorization_code\"],"
                  "\"redirect_uris\":[\"https://elsewhere.example.com/cb\"],\"scope\":\"\","
                  "\"token_endpoint_auth_method\":\"client_secret_basic\"}");
    clock_set_fixed(clock_now() + 6);
    req = back_to(page, cookie);
    clock_set_fixed(0);
    ASSERT_EQ(req->res.status, 400);
    ASSERT(hx_res_header(req, "location") == NULL);
    ASSERT(strstr(req->res.body.p, "redirect_uri is not registered for this client") != NULL);
    /* ...and the interaction is over. */
    req = back_to(page, cookie);
    ASSERT_EQ(req->res.status, 400);
    ASSERT(strstr(req->res.body.p, "has expired") != NULL);
}

TEST(authz_parked_request_grant_withdrawn)
{
    char page[256], cookie[256];
    ASSERT(park("client_id=two&redirect_uri=https%3A%2F%2Fa.example.com%2Fcb&response_type=code&scope=openid"
                "&state=st2" PKCE,
                page, cookie));
    hx_client_put(h, "two", "two-secret",
                  "{\"application_type\":\"web\",\"grant_types\":[\"client_credentials\"],"
                  "\"redirect_uris\":[\"https://a.example.com/cb\",\"https://b.example.com/cb\"],\"scope\":\"\","
                  "\"token_endpoint_auth_method\":\"client_secret_basic\"}");
    clock_set_fixed(clock_now() + 6);
    struct http_req *req = back_to(page, cookie);
    clock_set_fixed(0);
    ASSERT_EQ(req->res.status, 303);
    ASSERT_STREQ(hx_res_header(req, "location"),
                 "https://a.example.com/cb?error=unauthorized_client&error_description=this%20client%20is%20not%20"
                 "registered%20for%20response_type%20code&state=st2&iss=https%3A%2F%2Fop.example.com");
}

TESTS(T(authz_errors_not_redirectable), T(authz_state_too_long_not_redirected), T(authz_errors_redirectable), T(authz_error_destination),
      T(authz_valid_request_and_round_trip), T(authz_endpoint_renders), T(authz_parked_request_validated_again),
      T(authz_parked_request_grant_withdrawn), T(authz_errors_hybrid_and_implicit))
