/* test_client_check.c: proves src/oauth/client_check.c, the one rule book of client metadata, through both
 * of its callers: the configuration's clients[] (oauth_config_validate) and `ostiary client create|update`
 * (client_cli_build, the CLI's core that never exits). A table of metadata cases, valid and invalid, runs
 * through both, which must accept and refuse alike, for the same reason, each naming the field its own
 * way: clients[0].<field>[i] in the file, the option on the command line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/str.h"
#include "oauth/client.h"
#include "oauth/client_check.h"

#include "config_text.h"
#include "harness.h"
#include "core/banned.h"

/* Loads and validates as every command does; returns the result and leaves the message in err. */
static int load_validate(const char *yaml, struct errbuf *err)
{
    return load_validate_with(yaml, oauth_config_validate, err);
}

/* ---- clients[] of the configuration ---------------------------------------------------------------- */

TEST(config_validate_duplicate_client_ids)
{
    struct errbuf err;
    ASSERT(load_validate("clients:\n"
                         "  - { client_id: a, client_secret: s, grant_types: [client_credentials] }\n"
                         "  - { client_id: a, client_secret: t, grant_types: [client_credentials] }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[1].client_id: duplicate 'a'"));
}

TEST(config_validate_client_secret_sha256)
{
    struct errbuf err;
    /* base64 of 31 bytes */
    ASSERT(load_validate("clients:\n  - client_id: a\n    client_secret_sha256: "
                         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",
                         &err) != 0);
    ASSERT(
        contains(err.msg, "clients[0].client_secret_sha256: must be the base64 of a 32-byte SHA-256 digest"));
    ASSERT(load_validate("clients:\n  - client_id: a\n    client_secret_sha256: not-base64!\n", &err) != 0);
    /* SHA-256("bar") */
    struct config *cfg = load("clients:\n  - client_id: a\n    client_secret_sha256: "
                              "/N4rLtula/QIYB+3If6bXDONEO5CnqBPrlURto+/j7k=\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].token_endpoint_auth_method, "client_secret_basic");
    ASSERT_STREQ(cfg->clients[0].grant_types[0], "client_credentials");
    config_free(cfg);
    ASSERT(load_validate("clients:\n  - client_id: a\n    client_secret: x\n    client_secret_sha256: "
                         "/N4rLtula/QIYB+3If6bXDONEO5CnqBPrlURto+/j7k=\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "mutually exclusive"));
}

TEST(config_validate_client_unknown_resource)
{
    struct errbuf err;
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n"
                         "clients:\n  - client_id: c\n    client_secret: s\n    resources: [urn:a, urn:b]\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "6:24: clients[0].resources[1]: unknown resource 'urn:b' (not a resources[].identifier)");
}

TEST(config_validate_client_rules)
{
    struct errbuf err;
    /* Public client with client_credentials (RFC 6749 §4.4). */
    ASSERT(load_validate("clients:\n  - client_id: c\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types[0]: client_credentials requires a confidential client"));
    /* Confidential method without a secret. */
    ASSERT(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: client_secret_post\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].token_endpoint_auth_method: client_secret_post requires"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n    grant_types: [password]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types[0]: unsupported grant type 'password'"));
    /* implicit needs a response type that uses it (OIDC Registration §2). */
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n    grant_types: [implicit]\n"
                         "    redirect_uris: ['https://rp.example.com/cb']\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].response_types: the grant type implicit is used only by response types"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n    scope: 'a  b'\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].scope: "));
    ASSERT(load_validate("clients:\n  - client_id: 'has space'\n    client_secret: s\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].client_id: "));
    /* authorization_code needs redirect URIs, which must be absolute and fragment-free. */
    ASSERT(load_validate("clients:\n  - client_id: c\n    grant_types: [authorization_code]\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].redirect_uris: at least one is required"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    redirect_uris: ['https://rp.example.com/cb#x']\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].redirect_uris[0]: must be an absolute URI without fragment"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    redirect_uris: [/cb]\n", &err) != 0);
    ASSERT(load_validate("clients:\n  - client_id: c\n    redirect_uris: ['http://rp.example.com/cb']\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "plain http is only allowed"));

    /* A public SPA client: defaults to authorization_code and method none. */
    struct config *cfg = load("clients:\n  - client_id: spa\n"
                              "    redirect_uris: ['http://localhost:3000/cb', 'com.example.app:/cb']\n"
                              "    grant_types: [authorization_code, refresh_token]\n"
                              "    scope: openid profile\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].token_endpoint_auth_method, "none");
    config_free(cfg);
    cfg = load("clients:\n  - client_id: spa\n    redirect_uris: ['https://rp.example.com/cb']\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->clients[0].n_grant_types, 2);
    ASSERT_STREQ(cfg->clients[0].grant_types[0], "authorization_code");
    ASSERT_STREQ(cfg->clients[0].grant_types[1], "refresh_token");
    config_free(cfg);
}

static const char interactive_client_yaml[] =
    "keys: { algorithms: [ES256, RS256, EdDSA] }\n"
    "clients:\n"
    "  - client_id: web\n"
    "    client_secret: s\n"
    "    redirect_uris: ['https://rp.example.com/cb']\n"
    "    post_logout_redirect_uris: ['https://rp.example.com/bye', 'http://localhost:3000/bye']\n"
    "    grant_types: [authorization_code, refresh_token]\n"
    "    id_token_signed_response_alg: EdDSA\n"
    "    refresh_token_policy: always\n"
    "    pkce_methods: [S256, plain]\n"
    "    require_pkce: 'false'\n"
    "  - client_id: spa\n"
    "    redirect_uris: ['https://app.example.com/cb']\n";

TEST(config_client_interactive_fields)
{
    struct errbuf err;
    struct config *cfg = load(interactive_client_yaml, &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    const struct cfg_client *w = &cfg->clients[0];
    ASSERT_EQ(w->n_post_logout_redirect_uris, 2);
    ASSERT_STREQ(w->post_logout_redirect_uris[1], "http://localhost:3000/bye");
    ASSERT_STREQ(w->id_token_signed_response_alg, "EdDSA");
    ASSERT_STREQ(w->refresh_token_policy, "always");
    ASSERT_EQ(w->n_pkce_methods, 2);
    ASSERT_STREQ(w->pkce_methods[1], "plain");
    ASSERT(w->require_pkce_set);
    ASSERT(!w->require_pkce_value);
    ASSERT_STREQ(w->require_pkce, "false");
    /* Defaults: RS256 (configured, though not first), offline_consent, [S256], pkce.required decides. */
    const struct cfg_client *s = &cfg->clients[1];
    ASSERT_EQ(s->n_post_logout_redirect_uris, 0);
    ASSERT_STREQ(s->id_token_signed_response_alg, "RS256");
    ASSERT_STREQ(s->refresh_token_policy, "offline_consent");
    ASSERT_EQ(s->n_pkce_methods, 1);
    ASSERT_STREQ(s->pkce_methods[0], "S256");
    ASSERT(!s->require_pkce_set);
    /* Idempotent: a second validation changes nothing. */
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->clients[1].n_pkce_methods, 1);
    ASSERT(cfg->clients[0].require_pkce_set && !cfg->clients[0].require_pkce_value);
    config_free(cfg);

    /* Without RS256, the default algorithm is the first configured one. */
    cfg = load("keys: { algorithms: [ES256] }\n"
               "clients:\n  - { client_id: spa, redirect_uris: ['https://a.example/cb'], require_pkce: yes }\n",
               &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].id_token_signed_response_alg, "ES256");
    ASSERT(cfg->clients[0].require_pkce_set && cfg->clients[0].require_pkce_value);
    ASSERT_STREQ(cfg->clients[0].require_pkce, "true");
    config_free(cfg);
}

TEST(config_client_interactive_errors)
{
    struct errbuf err;
#define SPA "clients:\n  - client_id: spa\n    redirect_uris: ['https://a.example/cb']\n"
    ASSERT(load_validate(SPA "    post_logout_redirect_uris: ['https://a.example/bye#x']\n", &err) != 0);
    ASSERT(contains(err.msg,
                    "clients[0].post_logout_redirect_uris[0]: must be an absolute URI without fragment"));
    ASSERT(load_validate(SPA "    post_logout_redirect_uris: [/bye]\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].post_logout_redirect_uris[0]: "));
    ASSERT(load_validate(SPA "    post_logout_redirect_uris: ['http://rp.example.com/bye']\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].post_logout_redirect_uris[0]: plain http is only allowed"));
    ASSERT(load_validate(SPA "    post_logout_redirect_uris: ['https://u:hunter2@a.example/bye']\n", &err) != 0);
    ASSERT(!contains(err.msg, "hunter2"));
    /* Refused for the userinfo before the fragment, so the password is not echoed by that message either. */
    ASSERT(load_validate(SPA "    post_logout_redirect_uris: ['https://u:hunter2@a.example/bye#f']\n", &err) != 0);
    ASSERT(contains(err.msg, "must not contain userinfo"));
    ASSERT(!contains(err.msg, "hunter2"));
    ASSERT(load_validate("clients:\n  - client_id: spa\n    redirect_uris: ['https://u:hunter2@a.example/cb#f']\n",
                         &err) != 0);
    ASSERT(!contains(err.msg, "hunter2"));
    ASSERT(load_validate(SPA "    id_token_signed_response_alg: ES256\n", &err) != 0);
    ASSERT_STREQ(err.msg, "4:35: clients[0].id_token_signed_response_alg: 'ES256' is not one of keys.algorithms");
    ASSERT(load_validate(SPA "    id_token_signed_response_alg: none\n", &err) != 0);
    ASSERT(load_validate(SPA "    refresh_token_policy: never\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].refresh_token_policy: must be offline_consent, offline_access or always"));
    ASSERT(load_validate(SPA "    pkce_methods: [S512]\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].pkce_methods[0]: must be S256 or plain"));
    ASSERT(load_validate(SPA "    pkce_methods: [S256, S256]\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].pkce_methods[1]: duplicate"));
    ASSERT(load_validate(SPA "    pkce_methods: [S256, plain, S256, plain, S256]\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].pkce_methods: too many entries"));
    ASSERT(load_validate(SPA "    require_pkce: perhaps\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].require_pkce: invalid boolean 'perhaps'"));
    /* RFC 9700 §2.1.1: a public client cannot opt out of PKCE. */
    ASSERT(load_validate(SPA "    require_pkce: false\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].require_pkce: cannot be false for a public client"));
#undef SPA
    /* refresh_token needs a grant that yields one. */
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n"
                         "    grant_types: [client_credentials, refresh_token]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types: refresh_token requires authorization_code"));
    /* The device grant (RFC 8628) yields refresh tokens, for public and confidential clients, without
     * redirect URIs. */
    ASSERT(load_validate("clients:\n  - client_id: tv\n    token_endpoint_auth_method: none\n"
                         "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]\n",
                         &err) == 0);
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n"
                         "    grant_types: [client_credentials, refresh_token]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types: refresh_token requires authorization_code or "
                             "urn:ietf:params:oauth:grant-type:device_code as well"));
    ASSERT(load("clients:\n  - client_id: c\n    post_logout_redirect_uri: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "3:5: clients[0].post_logout_redirect_uri: unknown key");
}

/* application_type (OIDC Registration §2): web by default, native on request, nothing else. */
TEST(config_client_application_type)
{
    struct errbuf err;
    struct config *cfg = load("clients:\n"
                              "  - { client_id: site, client_secret: s, redirect_uris: ['https://a.example/cb'] }\n"
                              "  - { client_id: app, application_type: native, redirect_uris: ['http://127.0.0.1/cb'] }\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].application_type, "web");
    ASSERT_STREQ(cfg->clients[1].application_type, "native");
    config_free(cfg);
    ASSERT(load_validate("clients:\n  - { client_id: c, application_type: Native, redirect_uris: ['http://[::1]/cb'] }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "2:39: clients[0].application_type: must be web or native, got 'Native'");
    ASSERT(load_validate("clients:\n  - { client_id: c, application_type: '', redirect_uris: ['http://[::1]/cb'] }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].application_type: must be web or native"));
}

/* introspection_access and introspection_resources: all by default; the list goes with resources only. */
TEST(config_client_introspection)
{
    struct errbuf err;
#define API "resources:\n  - { identifier: 'urn:a', scopes: [r] }\n  - { identifier: 'urn:b', scopes: [r] }\n"
#define RS API "clients:\n  - client_id: rs\n    client_secret: s\n"
    struct config *cfg = load(RS "  - { client_id: own, client_secret: s, introspection_access: own }\n"
                                 "  - client_id: api\n    client_secret: s\n    introspection_access: resources\n"
                                 "    introspection_resources: ['urn:b', 'urn:a']\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].introspection_access, "all");
    ASSERT_EQ(cfg->clients[0].n_introspection_resources, 0);
    ASSERT_STREQ(cfg->clients[1].introspection_access, "own");
    ASSERT_STREQ(cfg->clients[2].introspection_access, "resources");
    ASSERT_EQ(cfg->clients[2].n_introspection_resources, 2);
    ASSERT_STREQ(cfg->clients[2].introspection_resources[0], "urn:b");
    config_free(cfg);

    ASSERT(load_validate(RS "    introspection_access: mine\n", &err) != 0);
    ASSERT_STREQ(err.msg, "7:27: clients[0].introspection_access: must be all, own or resources, got 'mine'");
    ASSERT(load_validate(RS "    introspection_access: resources\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].introspection_resources: introspection_access resources needs at least one"));
    ASSERT(load_validate(RS "    introspection_resources: ['urn:a']\n", &err) != 0);
    ASSERT_STREQ(err.msg, "7:30: clients[0].introspection_resources: only applies with introspection_access resources");
    ASSERT(load_validate(RS "    introspection_access: own\n    introspection_resources: ['urn:a']\n", &err) != 0);
    ASSERT(contains(err.msg, "only applies with introspection_access resources"));
    ASSERT(load_validate(RS "    introspection_access: resources\n    introspection_resources: ['urn:c']\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].introspection_resources[0]: unknown resource 'urn:c'"));
    ASSERT(load_validate(RS "    introspection_access: resources\n    introspection_resources: ['urn:a', 'urn:a']\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "8:40: clients[0].introspection_resources[1]: duplicate 'urn:a'");
#undef RS
#undef API
}

/* ---- The file and the CLI: one table of cases through both ------------------------------------------ */

/* What the two callers share: two APIs, RS256 and ES256 keys, no dev mode. */
#define BASE_YAML "keys: { algorithms: [RS256, ES256] }\n" \
                  "resources:\n  - { identifier: 'urn:a', scopes: [r] }\n  - { identifier: 'urn:b', scopes: [r] }\n"

/* Each field with the option that sets it (repeatable for a list; pkce_methods takes a comma list). */
static const struct {
    const char *field, *flag;
    bool list;
} fields[] = {
    {"client_secret", "--secret", false},
    {"client_secret_sha256", "--secret-sha256", false},
    {"client_name", "--name", false},
    {"application_type", "--application-type", false},
    {"grant_types", "--grant-type", true},
    {"response_types", "--response-type", true},
    {"redirect_uris", "--redirect-uri", true},
    {"token_endpoint_auth_method", "--auth-method", false},
    {"scope", "--scope", false},
    {"resources", "--resource", true},
    {"access_token_ttl", "--access-token-ttl", false},
    {"post_logout_redirect_uris", "--post-logout-redirect-uri", true},
    {"id_token_signed_response_alg", "--id-token-alg", false},
    {"refresh_token_policy", "--refresh-token-policy", false},
    {"id_token_claims", "--id-token-claims", false},
    {"pkce_methods", "--pkce-methods", true},
    {"require_pkce", NULL, false}, /* --require-pkce / --no-require-pkce */
    {"introspection_access", "--introspection-access", false},
    {"introspection_resources", "--introspection-resource", true},
    {"dpop_bound_access_tokens", NULL, false},      /* --[no-]dpop-bound-access-tokens */
    {"request_object_signing_alg", "--request-object-alg", false},
    {"require_signed_request_object", NULL, false}, /* --[no-]require-signed-request-object */
};

/* The boolean fields, set by a pair of options. */
static const struct {
    const char *field, *on, *off;
} booleans[] = {
    {"require_pkce", "--require-pkce", "--no-require-pkce"},
    {"dpop_bound_access_tokens", "--dpop-bound-access-tokens", "--no-dpop-bound-access-tokens"},
    {"require_signed_request_object", "--require-signed-request-object", "--no-require-signed-request-object"},
};

static int boolean_index(const char *field)
{
    for (size_t k = 0; k < sizeof(booleans) / sizeof(booleans[0]); k++)
        if (strcmp(booleans[k].field, field) == 0)
            return (int)k;
    return -1;
}

static int field_index(const char *field)
{
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        if (strcmp(fields[k].field, field) == 0)
            return (int)k;
    return -1;
}

/* One case: field/value pairs (a list field may come several times, in order), and what both callers must
 * say: accepted (field NULL), or the field at fault, its entry (-1: none) and part of the reason. */
struct ccase {
    const char *pairs[24];
    const char *field;
    int index;
    const char *reason;
};

/* A confidential client_credentials client, and a public code client, to build cases on. */
#define CONF "client_secret", "s", "grant_types", "client_credentials"
#define CODE "token_endpoint_auth_method", "none", "grant_types", "authorization_code"
#define LONG_NAME_1025                                                                                       \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnx"

static const struct ccase ccases[] = {
    /* Accepted. */
    {{CONF}, NULL, -1, NULL},
    {{CODE, "redirect_uris", "http://localhost:3000/cb", "redirect_uris", "com.example.app:/cb"}, NULL, -1, NULL},
    {{CODE, "redirect_uris", "http://[::1]:8080/cb", "application_type", "native"}, NULL, -1, NULL},
    {{CONF, "client_name", "Caf\xc3\xa9 \xe2\x98\x95", "scope", "openid profile"}, NULL, -1, NULL},
    {{CONF, "resources", "urn:a", "resources", "urn:b", "access_token_ttl", "31622400"}, NULL, -1, NULL},
    {{CODE, "grant_types", "refresh_token", "redirect_uris", "https://rp.example/cb", "post_logout_redirect_uris",
      "https://rp.example/bye", "id_token_signed_response_alg", "ES256", "refresh_token_policy", "always",
      "pkce_methods", "S256", "pkce_methods", "plain"},
     NULL, -1, NULL},
    {{CONF, "require_pkce", "false", "introspection_access", "own"}, NULL, -1, NULL},
    {{CONF, "id_token_claims", "scope"}, NULL, -1, NULL},
    {{CONF, "id_token_claims", "none"}, NULL, -1, NULL},
    {{CONF, "introspection_access", "resources", "introspection_resources", "urn:b"}, NULL, -1, NULL},
    {{"client_secret_sha256", "/N4rLtula/QIYB+3If6bXDONEO5CnqBPrlURto+/j7k=", "grant_types", "client_credentials",
      "token_endpoint_auth_method", "client_secret_post"},
     NULL, -1, NULL},
    /* Redirection URIs (RFC 6749 §3.1.2). The CLI used to accept an '_' in the host, a bare "http://", and
     * echoed a URI with a password; it and the file accepted duplicates. */
    {{CONF, "redirect_uris", "https://my_app.example/cb"}, "redirect_uris", 0, "has an invalid host, got "},
    {{CONF, "redirect_uris", "http://"}, "redirect_uris", 0, "has no host"},
    {{CONF, "redirect_uris", "https://u:hunter2@rp.example/cb"}, "redirect_uris", 0, "must not contain userinfo"},
    {{CONF, "redirect_uris", "https://rp.example/cb#f"}, "redirect_uris", 0, "without fragment"},
    {{CONF, "redirect_uris", "/cb"}, "redirect_uris", 0, "must be an absolute URI"},
    {{CONF, "redirect_uris", "http://rp.example/cb"}, "redirect_uris", 0, "plain http is only allowed"},
    {{CONF, "redirect_uris", "https://rp.example:0/cb"}, "redirect_uris", 0, "has an invalid port"},
    {{CONF, "redirect_uris", "HTTPS://rp.example/cb"}, "redirect_uris", 0, "absolute http or https URL"},
    {{CONF, "redirect_uris", "https://a.example/cb", "redirect_uris", "https://a.example/cb"}, "redirect_uris", 1,
     "duplicate 'https://a.example/cb'"},
    {{CONF, "post_logout_redirect_uris", "https://a.example/", "post_logout_redirect_uris", "https://a.example/"},
     "post_logout_redirect_uris", 1, "duplicate"},
    {{CONF, "post_logout_redirect_uris", "https://u:pw@a.example/"}, "post_logout_redirect_uris", 0, "userinfo"},
    /* Grants. refresh_token alone: the CLI used to accept it. */
    {{"client_secret", "s", "grant_types", "password"}, "grant_types", 0, "unsupported grant type 'password'"},
    {{CONF, "grant_types", "client_credentials"}, "grant_types", 1, "duplicate 'client_credentials'"},
    {{CONF, "grant_types", "refresh_token"}, "grant_types", -1, "refresh_token requires authorization_code"},
    /* The device grant (RFC 8628): a public client may use it, with refresh tokens and no redirect URI. */
    {{"token_endpoint_auth_method", "none", "grant_types", "urn:ietf:params:oauth:grant-type:device_code",
      "grant_types", "refresh_token"},
     NULL, -1, NULL},
    {{"token_endpoint_auth_method", "none", "grant_types", "client_credentials"}, "grant_types", 0,
     "client_credentials requires a confidential client"},
    {{CODE}, "redirect_uris", -1, "at least one is required for authorization_code"},
    /* Response types (OIDC Registration §2): served ones, once each, each with its grants. */
    {{CODE, "redirect_uris", "https://a.example/cb", "response_types", "code"}, NULL, -1, NULL},
    {{CODE, "redirect_uris", "https://a.example/cb", "response_types", "code", "response_types", "code"},
     "response_types", 1, "duplicate 'code'"},
    {{CODE, "redirect_uris", "https://a.example/cb", "response_types", "none"}, "response_types", 0,
     "'none' is not a response type"},
    {{CODE, "redirect_uris", "https://a.example/cb", "response_types", "token"}, "response_types", 0,
     "response type 'token' is not served by this server"},
    {{CONF, "response_types", "code"}, "response_types", 0,
     "'code' requires the grant type authorization_code as well"},
    {{CODE, "grant_types", "implicit", "redirect_uris", "https://a.example/cb", "response_types", "code",
      "response_types", "id_token code", "response_types", "id_token token"},
     NULL, -1, NULL},
    {{CODE, "redirect_uris", "https://a.example/cb", "response_types", "code id_token"}, "response_types", 0,
     "'code id_token' requires the grant type implicit as well"},
    {{CODE, "grant_types", "implicit", "redirect_uris", "https://a.example/cb"}, "response_types", -1,
     "the grant type implicit is used only by response types with id_token or token"},
    {{"token_endpoint_auth_method", "none", "grant_types", "implicit", "response_types", "id_token"},
     "redirect_uris", -1, "at least one is required for implicit"},
    {{"token_endpoint_auth_method", "none", "grant_types", "implicit", "grant_types", "refresh_token",
      "redirect_uris", "https://a.example/cb", "response_types", "id_token"},
     "grant_types", -1, "refresh_token requires authorization_code"},
    /* Client authentication; secrets are never echoed. */
    {{CONF, "token_endpoint_auth_method", "tls_client_auth"}, "token_endpoint_auth_method", -1,
     "must be client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none, got "
     "'tls_client_auth'"},
    {{CONF, "token_endpoint_auth_method", "private_key_jwt"}, "client_secret", -1,
     "a private_key_jwt client authenticates with its keys and has no secret"},
    {{"client_secret", "hunter2", "token_endpoint_auth_method", "none", "grant_types", "authorization_code",
      "redirect_uris", "https://a.example/cb"},
     "client_secret", -1, "a public client"},
    {{"client_secret", "hunter2", "client_secret_sha256", "/N4rLtula/QIYB+3If6bXDONEO5CnqBPrlURto+/j7k=",
      "grant_types", "client_credentials"},
     "client_secret", -1, "are mutually exclusive"},
    {{"client_secret", "", "grant_types", "client_credentials"}, "client_secret", -1, "must not be empty"},
    {{"client_secret_sha256", "c2hvcnQ=", "grant_types", "client_credentials"}, "client_secret_sha256", -1,
     "32-byte SHA-256"},
    /* Names, scopes, APIs, lifetimes. client_name: the file used to take any length. */
    {{CONF, "client_name", LONG_NAME_1025}, "client_name", -1, "at most 1024 bytes"},
    {{CONF, "application_type", "Native"}, "application_type", -1, "must be web or native, got 'Native'"},
    {{CONF, "scope", "a  b"}, "scope", -1, "separated by single spaces"},
    {{CONF, "scope", "bad\"scope"}, "scope", -1, "scope tokens"},
    {{CONF, "resources", "urn:c"}, "resources", 0, "unknown resource 'urn:c'"},
    {{CONF, "resources", "urn:a", "resources", "urn:a"}, "resources", 1, "duplicate 'urn:a'"},
    {{CONF, "access_token_ttl", "31622401"}, "access_token_ttl", -1, "must be at most 31622400"},
    /* The interactive flows. */
    {{CONF, "id_token_signed_response_alg", "EdDSA"}, "id_token_signed_response_alg", -1,
     "'EdDSA' is not one of keys.algorithms"},
    {{CONF, "id_token_signed_response_alg", "HS256"}, "id_token_signed_response_alg", -1, "'HS256'"},
    {{CONF, "refresh_token_policy", "never"}, "refresh_token_policy", -1, "got 'never'"},
    {{CONF, "id_token_claims", "all"}, "id_token_claims", -1, "must be none or scope, got 'all'"},
    {{CONF, "pkce_methods", "S512"}, "pkce_methods", 0, "must be S256 or plain"},
    {{CONF, "pkce_methods", "S256", "pkce_methods", "S256"}, "pkce_methods", 1, "duplicate 'S256'"},
    {{CODE, "redirect_uris", "https://a.example/cb", "require_pkce", "false"}, "require_pkce", -1,
     "cannot be false for a public client"},
    /* Introspection (RFC 7662 §4). */
    {{CONF, "introspection_access", "mine"}, "introspection_access", -1, "must be all, own or resources"},
    {{CONF, "introspection_access", "resources"}, "introspection_resources", -1, "needs at least one API"},
    {{CONF, "introspection_resources", "urn:a"}, "introspection_resources", -1, "only applies with"},
    {{CONF, "introspection_access", "resources", "introspection_resources", "urn:z"}, "introspection_resources", 0,
     "unknown resource 'urn:z'"},
    {{CONF, "introspection_access", "resources", "introspection_resources", "urn:a", "introspection_resources",
      "urn:a"},
     "introspection_resources", 1, "duplicate"},
    /* DPoP (RFC 9449 §5.2) and request objects (RFC 9101 §10.5, OIDC Registration §2). */
    {{CONF, "dpop_bound_access_tokens", "true"}, NULL, -1, NULL},
    {{CONF, "request_object_signing_alg", "PS256", "require_signed_request_object", "true"}, NULL, -1, NULL},
    {{CONF, "request_object_signing_alg", "none"}, NULL, -1, NULL},
    {{CONF, "request_object_signing_alg", "none", "require_signed_request_object", "true"},
     "request_object_signing_alg", -1, "none (unsigned request objects) contradicts"},
    {{CONF, "request_object_signing_alg", "HS256"}, "request_object_signing_alg", -1,
     "HS256/384/512 for a client_secret_jwt client"},
    {{CONF, "request_object_signing_alg", "ES257"}, "request_object_signing_alg", -1, "got 'ES257'"},
};

/* A YAML single-quoted scalar. */
static void yaml_quoted(struct strbuf *sb, const char *v)
{
    strbuf_addc(sb, '\'');
    for (; *v != '\0'; v++) {
        if (*v == '\'')
            strbuf_addc(sb, '\'');
        strbuf_addc(sb, *v);
    }
    strbuf_addc(sb, '\'');
}

/* The case as clients[0] of the file (after BASE_YAML). */
static const char *case_yaml(struct arena *a, const struct ccase *c)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 64 * 1024);
    strbuf_adds(&sb, BASE_YAML "clients:\n  - client_id: c\n");
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        bool first = true;
        for (size_t i = 0; c->pairs[i] != NULL; i += 2) {
            if (strcmp(c->pairs[i], fields[k].field) != 0)
                continue;
            if (first)
                strbuf_addf(&sb, "    %s: %s", fields[k].field, fields[k].list ? "[" : "");
            else
                strbuf_adds(&sb, ", ");
            yaml_quoted(&sb, c->pairs[i + 1]);
            first = false;
        }
        if (!first)
            strbuf_adds(&sb, fields[k].list ? "]\n" : "\n");
    }
    return sb.buf;
}

/* The case as `ostiary client create --client-id c ...`. */
static int case_argv(struct arena *a, const struct ccase *c, char **argv)
{
    int n = 0;
    argv[n++] = "client";
    argv[n++] = "create";
    argv[n++] = "--client-id";
    argv[n++] = "c";
    struct strbuf pkce;
    strbuf_init(&pkce, a, 256);
    for (size_t i = 0; c->pairs[i] != NULL; i += 2) {
        const char *f = c->pairs[i], *v = c->pairs[i + 1];
        int b = boolean_index(f);
        if (b >= 0) {
            argv[n++] = (char *)(strcmp(v, "true") == 0 ? booleans[b].on : booleans[b].off);
        } else if (strcmp(f, "pkce_methods") == 0) {
            strbuf_addf(&pkce, "%s%s", pkce.len > 0 ? "," : "", v);
        } else {
            argv[n++] = (char *)fields[field_index(f)].flag;
            argv[n++] = (char *)v;
        }
    }
    if (pkce.len > 0) {
        argv[n++] = "--pkce-methods";
        argv[n++] = pkce.buf;
    }
    argv[n] = NULL;
    return n;
}

/* The option the CLI names a field with. */
static const char *flag_of(const char *field)
{
    int b = boolean_index(field);
    /* The CLI names a boolean by the option that sets it (for require_pkce: the only refusable one, off). */
    if (b == 0)
        return booleans[b].off;
    return b > 0 ? booleans[b].on : fields[field_index(field)].flag;
}

static bool run_case(const struct config *base, const struct ccase *c, size_t row)
{
    struct arena *a = arena_new(4096);
    struct errbuf ferr = {{0}}, cerr = {{0}};
    bool ok = true;
#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "  row %zu: ", row);                                                             \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            ok = false;                                                                                      \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

    /* The file. */
    struct config *cfg = NULL;
    const char *yaml = case_yaml(a, c);
    CHECK(config_load_buffer(yaml, strlen(yaml), &cfg, &ferr) == 0, "the file does not load: %s", ferr.msg);
    CHECK(config_validate(cfg, &ferr) == 0, "the base does not validate: %s", ferr.msg);
    struct client fc, cc;
    struct client_problem fp, cp;
    int frc = client_check_entry(cfg, 0, a, &fc, &fp);
    int vrc = clients_check_config(cfg, &ferr);
    CHECK((frc == 0) == (vrc == 0), "client_check_entry and clients_check_config disagree");

    /* The command line. */
    char *argv[40];
    int argc = case_argv(a, c, argv);
    int crc = client_cli_build(base, a, argc, argv, NULL, &cc, &cp, &cerr);
    CHECK(crc == 0 || crc == 1, "the command line is a usage error: %s", cerr.msg);

    /* The same verdict, for the same reason. */
    CHECK((frc == 0) == (crc == 0), "the file %s it, the CLI %s it (%s%s)", frc == 0 ? "accepts" : "refuses",
          crc == 0 ? "accepts" : "refuses", ferr.msg, cerr.msg);
    if (c->field == NULL) {
        CHECK(frc == 0, "refused: %s", ferr.msg);
        CHECK(fc.grant_types == cc.grant_types && fc.auth_method == cc.auth_method &&
                  fc.pkce_methods == cc.pkce_methods && fc.require_pkce == cc.require_pkce,
              "the file and the CLI built different clients");
        goto done;
    }
    CHECK(frc != 0, "accepted, expected %s: %s", c->field, c->reason);
    CHECK(cp.field != NULL, "the CLI refused before the rules: %s", cerr.msg);
    CHECK(strcmp(fp.field, c->field) == 0 && fp.index == c->index, "the file blames %s[%d], expected %s[%d]",
          fp.field, fp.index, c->field, c->index);
    CHECK(strcmp(fp.field, cp.field) == 0 && fp.index == cp.index, "the CLI blames %s[%d]", cp.field, cp.index);
    CHECK(strcmp(fp.reason, cp.reason) == 0 && strcmp(fp.error, cp.error) == 0,
          "different reasons:\n    file: %s\n    cli:  %s", fp.reason, cp.reason);
    CHECK(contains(fp.reason, c->reason), "the reason '%s' lacks '%s'", fp.reason, c->reason);
    CHECK(strcmp(fp.error, strcmp(c->field, "redirect_uris") == 0 ? "invalid_redirect_uri" : "invalid_client_metadata") == 0,
          "RFC 7591 code %s", fp.error);
    /* Each caller's message: where, then the reason with the fields named its way. */
    char reason[512], want[700], path[128];
    if (c->index >= 0)
        snprintf(path, sizeof(path), "clients[0].%s[%d]", c->field, c->index);
    else
        snprintf(path, sizeof(path), "clients[0].%s", c->field);
    unsigned line, col;
    CHECK(config_position(cfg, path, &line, &col), "no file position for %s", path);
    snprintf(want, sizeof(want), "%u:%u: %s: %s", line, col, path,
             client_problem_reason(&fp, NULL, reason, sizeof(reason)));
    CHECK(strcmp(ferr.msg, want) == 0, "file message\n    got:  %s\n    want: %s", ferr.msg, want);
    snprintf(want, sizeof(want), "client create: %s: %s", flag_of(c->field),
             client_problem_reason(&cp, flag_of, reason, sizeof(reason)));
    CHECK(strcmp(cerr.msg, want) == 0, "CLI message\n    got:  %s\n    want: %s", cerr.msg, want);
    /* Secrets and URL passwords are never echoed. */
    CHECK(!contains(ferr.msg, "hunter2") && !contains(cerr.msg, "hunter2"), "a secret was echoed");
done:
    config_free(cfg);
    arena_free(a);
    return ok;
#undef CHECK
}

TEST(config_client_jwt_auth)
{
    struct errbuf err;
    static const char ed[] = "'{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
                             "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}'";
    char y[1024];
    /* private_key_jwt: keys and no secret (the method is the default with keys and no secret). */
    snprintf(y, sizeof(y), "clients:\n  - client_id: c\n    jwks: %s\n    grant_types: [client_credentials]\n", ed);
    ASSERT_EQ(load_validate(y, &err), 0);
    snprintf(y, sizeof(y),
             "clients:\n  - client_id: c\n    token_endpoint_auth_method: private_key_jwt\n"
             "    token_endpoint_auth_signing_alg: EdDSA\n    jwks: %s\n    grant_types: [client_credentials]\n",
             ed);
    ASSERT_EQ(load_validate(y, &err), 0);
    ASSERT(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: private_key_jwt\n"
                         "    grant_types: [client_credentials]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].token_endpoint_auth_method: private_key_jwt requires jwks or jwks_uri"));
    snprintf(y, sizeof(y),
             "clients:\n  - client_id: c\n    token_endpoint_auth_method: private_key_jwt\n    client_secret: s\n"
             "    jwks: %s\n",
             ed);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "clients[0].client_secret: a private_key_jwt client authenticates with its keys"));
    snprintf(y, sizeof(y),
             "clients:\n  - client_id: c\n    token_endpoint_auth_method: private_key_jwt\n"
             "    token_endpoint_auth_signing_alg: HS256\n    jwks: %s\n",
             ed);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "clients[0].token_endpoint_auth_signing_alg: must be one of RS256"));
    snprintf(y, sizeof(y), "clients:\n  - client_id: c\n    jwks: %s\n    jwks_uri: https://rp.example/jwks\n", ed);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "are mutually exclusive"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    jwks_uri: http://rp.example/jwks\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].jwks_uri: must be an https URL"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    jwks: '{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}'\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].jwks: jwks: keys[0]: jwk: has the private or symmetric member"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    jwks: '{\"keys\":[]}'\n", &err) != 0);
    ASSERT(contains(err.msg, "holds no public signature key"));
    /* client_secret_jwt: the secret itself, long enough for the alg. */
    ASSERT_EQ(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: client_secret_jwt\n"
                            "    client_secret: 0123456789abcdef0123456789abcdef\n",
                            &err),
              0);
    ASSERT(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: client_secret_jwt\n"
                         "    client_secret: short\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "at least 32 characters"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: client_secret_jwt\n"
                         "    token_endpoint_auth_signing_alg: HS512\n"
                         "    client_secret: 0123456789abcdef0123456789abcdef\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "HS512 needs a secret of at least 64 characters"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    token_endpoint_auth_method: client_secret_jwt\n"
                         "    client_secret_sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "client_secret_jwt needs client_secret itself"));
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n"
                         "    token_endpoint_auth_signing_alg: RS256\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "applies to token_endpoint_auth_method private_key_jwt"));
}

TEST(client_rules_file_and_cli_agree)
{
    struct errbuf err;
    struct config *base = load(BASE_YAML, &err);
    ASSERT(base != NULL);
    ASSERT_EQ(oauth_config_validate(base, &err), 0);
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++)
        failed += !run_case(base, &ccases[i], i);
    config_free(base);
    ASSERT_EQ(failed, 0);
}

/* The CLI's reasons name the other fields by option, and a stored list it did not touch says how to clear
 * it. */
TEST(client_cli_names_fields_by_option)
{
    struct errbuf err;
    struct config *base = load(BASE_YAML, &err);
    ASSERT(base != NULL);
    ASSERT_EQ(oauth_config_validate(base, &err), 0);
    struct arena *a = arena_new(4096);
    struct client c;
    struct client_problem p;
    char *create[] = {"client", "create", "--introspection-resource", "urn:a", NULL};
    ASSERT_EQ(client_cli_build(base, a, 4, create, NULL, &c, &p, &err), 1);
    ASSERT_STREQ(err.msg, "client create: --introspection-resource: only applies with --introspection-access resources");
    struct store_client stored = {.client_id = "rs",
                                  .metadata = "{\"grant_types\":[\"client_credentials\"],\"introspection_access\":"
                                              "\"resources\",\"introspection_resources\":[\"urn:a\"]}"};
    char *update[] = {"client", "update", "--introspection-access", "own", NULL};
    ASSERT_EQ(client_cli_build(base, a, 4, update, &stored, &c, &p, &err), 1);
    ASSERT_STREQ(err.msg, "client update: --introspection-resource: only applies with --introspection-access "
                          "resources (the stored list; clear it with --no-introspection-resources)");
    char *update2[] = {"client", "update", "--introspection-access", "own", "--no-introspection-resources", NULL};
    ASSERT_EQ(client_cli_build(base, a, 5, update2, &stored, &c, &p, &err), 0);
    ASSERT_EQ(c.introspection_access, INTROSPECT_OWN);
    /* The CLI's own defaults: a confidential client (the server generates the secret), the code grant alone
     * with a redirect URI; --scope "" is no scope, --public switches PKCE on. */
    char *spa[] = {"client", "create", "--redirect-uri", "https://a.example/cb", "--scope", "", NULL};
    ASSERT_EQ(client_cli_build(base, a, 6, spa, NULL, &c, &p, &err), 0);
    ASSERT_EQ(c.auth_method, CLIENT_AUTH_SECRET_BASIC);
    ASSERT_EQ(c.grant_types, GRANT_AUTHORIZATION_CODE);
    ASSERT_STREQ(c.scope, "");
    struct store_client web = {.client_id = "web",
                               .metadata = "{\"grant_types\":[\"authorization_code\"],\"redirect_uris\":"
                                           "[\"https://a.example/cb\"],\"require_pkce\":false,"
                                           "\"token_endpoint_auth_method\":\"client_secret_basic\"}"};
    char *pub[] = {"client", "update", "--public", NULL};
    ASSERT_EQ(client_cli_build(base, a, 3, pub, &web, &c, &p, &err), 0);
    ASSERT_EQ(c.auth_method, CLIENT_AUTH_NONE);
    ASSERT(c.require_pkce);
    arena_free(a);
    config_free(base);
}

/* A redirection URI with a scheme that runs in the browser is never registered, by any caller: before,
 * "javascript:alert(1)" passed as a custom scheme (RFC 8252 §7.1 allows those for native apps). */
TEST(config_client_scripting_redirect_refused)
{
    struct errbuf err;
    const char *bad[] = {"javascript:alert(1)", "JavaScript://x%0aalert(1)", "data:text/html,x", "vbscript:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "clients:\n  - client_id: c\n    client_secret: s\n    redirect_uris: [\"%s\"]\n", bad[i]);
        ASSERT(load_validate(yaml, &err) != 0);
        ASSERT(contains(err.msg, "clients[0].redirect_uris[0]: the "));
        ASSERT(contains(err.msg, "scheme is not a redirection target"));
    }
    ASSERT_EQ(load_validate("clients:\n  - client_id: c\n    client_secret: s\n"
                            "    redirect_uris: [\"com.example.app:/cb\"]\n",
                            &err),
              0);
}

/* Dynamic registration: the RFC 7591 body's types, the defaults it implies, and the policy. */
TEST(registration_metadata_and_policy)
{
    struct errbuf err;
    struct config *cfg = load("registration:\n  enabled: true\n  redirect_uri_hosts: [\"*.example.com\"]\n"
                              "  scopes: [openid, profile]\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(oauth_config_validate(cfg, &err), 0);
    struct arena *a = arena_new(4096);
    struct {
        const char *body;
        const char *error; /* NULL: registered */
        const char *reason;
    } cases[] = {
        {"{\"redirect_uris\":[\"https://rp.example.com/cb\"]}", NULL, NULL},
        {"{\"redirect_uris\":[\"https://example.com/cb\"]}", "invalid_redirect_uri", "registration.redirect_uri_hosts"},
        {"{\"redirect_uris\":[\"javascript:alert(1)\"]}", "invalid_redirect_uri", "javascript: scheme"},
        {"{\"redirect_uris\":[\"http://localhost:1/cb\"]}", "invalid_redirect_uri", "allow_localhost"},
        {"{\"redirect_uris\":[1]}", "invalid_redirect_uri", "must be a string"},
        {"{\"redirect_uris\":[\"https://a.example.com/cb\"],\"scope\":\"openid email\"}", "invalid_client_metadata",
         "'email' is not allowed"},
        {"{\"redirect_uris\":[\"https://a.example.com/cb\"],\"response_types\":[\"code\",\"code\"]}",
         "invalid_client_metadata", "duplicate"},
        {"{\"redirect_uris\":[\"https://a.example.com/cb\"],\"require_pushed_authorization_requests\":\"yes\"}",
         "invalid_client_metadata", "must be a boolean"},
        {"[]", "invalid_client_metadata", "JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = json_loads(cases[i].body, 0, NULL);
        struct client_meta m;
        struct client_problem p;
        struct client c;
        int rc = client_meta_from_registration(o, a, &m, &p);
        if (rc == 0) {
            m.client_id = "registered";
            rc = client_check_registration(cfg, &m, a, &c, &p);
        }
        if (cases[i].error == NULL) {
            ASSERT_EQ(rc, 0);
            ASSERT_STREQ(c.scope, "openid profile");
            ASSERT(c.resources_listed && c.n_resources == 0);
            ASSERT_EQ(c.introspection_access, INTROSPECT_OWN);
            ASSERT_EQ(c.grant_types, GRANT_AUTHORIZATION_CODE);
            ASSERT_EQ(c.auth_method, CLIENT_AUTH_SECRET_BASIC);
        } else {
            char reason[512];
            ASSERT_EQ(rc, -1);
            ASSERT_STREQ(p.error, cases[i].error);
            ASSERT(contains(client_problem_reason(&p, NULL, reason, sizeof(reason)), cases[i].reason));
        }
        json_decref(o);
        arena_reset(a);
    }
    arena_free(a);
    config_free(cfg);
    ASSERT(load_validate("registration:\n  grant_types: [password]\n", &err) != 0); /* not a grant served */
    ASSERT(contains(err.msg, "registration.grant_types[0]"));
    /* The device grant is served: a registration policy may allow it. */
    ASSERT(load_validate("registration:\n  grant_types: [\"urn:ietf:params:oauth:grant-type:device_code\"]\n", &err) == 0);
    ASSERT(load_validate("registration:\n  redirect_uri_schemes: [javascript]\n", &err) != 0);
    ASSERT(load_validate("registration:\n  resources: [urn:none]\n", &err) != 0);
}


/* Dynamic registration of JWT clients: jwks (a JSON object), jwks_uri and token_endpoint_auth_signing_alg
 * are read, checked by the file's rules, and the methods only when registration.auth_methods allows them. */
TEST(registration_jwt_clients)
{
#define JWK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"edAvAcUH6FxaP5_XVGTyAzdEUJG27r7xeWbRR7_0FTg\"," \
            "\"y\":\"6PK70zxzIwExLh2sTKhd4hsgYseLKvajgLpa_OjXznU\""
#define RU "\"redirect_uris\":[\"https://rp.example.com/cb\"],"
    struct errbuf err;
    struct config *strict = load("registration:\n  enabled: true\n", &err);
    struct config *open = load("registration:\n  enabled: true\n"
                               "  auth_methods: [private_key_jwt, client_secret_jwt]\n",
                               &err);
    ASSERT(strict != NULL && open != NULL);
    ASSERT_EQ(oauth_config_validate(strict, &err), 0);
    ASSERT_EQ(oauth_config_validate(open, &err), 0);
    struct arena *a = arena_new(4096);
    struct {
        struct config *cfg;
        const char *body;
        int method;        /* the registered method when registered, else -1 */
        const char *reason; /* of the refusal */
    } cases[] = {
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[" JWK "}]}}",
         CLIENT_AUTH_PRIVATE_KEY_JWT, NULL},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"https://rp.example.com/jwks\","
               "\"token_endpoint_auth_signing_alg\":\"ES256\"}",
         CLIENT_AUTH_PRIVATE_KEY_JWT, NULL},
        {open, "{" RU "\"token_endpoint_auth_method\":\"client_secret_jwt\"}", CLIENT_AUTH_SECRET_JWT, NULL},
        {strict, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[" JWK "}]}}", -1,
         "'private_key_jwt' is not allowed here (registration.auth_methods)"},
        {strict, "{" RU "\"token_endpoint_auth_method\":\"client_secret_jwt\"}", -1,
         "'client_secret_jwt' is not allowed here"},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":\"{}\"}", -1, "must be a JSON object"},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\"}", -1, "requires jwks or jwks_uri"},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks_uri\":\"http://rp.example.com/jwks\"}",
         -1, "must be an https URL"},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[" JWK
               ",\"d\":\"xmJKUiXXzqY1_LdeSrFmcvp-rhu6GkpgwPewMXNDvlo\"}]}}",
         -1, "private"},
        {open, "{" RU "\"token_endpoint_auth_method\":\"private_key_jwt\",\"jwks\":{\"keys\":[" JWK "}]},"
               "\"token_endpoint_auth_signing_alg\":\"HS256\"}",
         -1, "token_endpoint_auth_signing_alg"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *o = json_loads(cases[i].body, 0, NULL);
        ASSERT(o != NULL);
        struct client_meta m;
        struct client_problem p;
        struct client c;
        int rc = client_meta_from_registration(o, a, &m, &p);
        if (rc == 0) {
            m.client_id = "registered";
            rc = client_check_registration(cases[i].cfg, &m, a, &c, &p);
        }
        char reason[512];
        const char *why = rc == 0 ? "" : client_problem_reason(&p, NULL, reason, sizeof(reason));
        if (cases[i].method >= 0) {
            if (rc != 0)
                printf("  case %zu: %s: %s\n", i, p.field, why);
            ASSERT_EQ(rc, 0);
            ASSERT_EQ((int)c.auth_method, cases[i].method);
        } else {
            if (rc == 0 || (!contains(why, cases[i].reason) && !contains(p.field, cases[i].reason)))
                printf("  case %zu: %s: %s\n", i, rc == 0 ? "registered" : p.field, why);
            ASSERT_EQ(rc, -1);
            ASSERT(contains(why, cases[i].reason) || contains(p.field, cases[i].reason));
        }
        json_decref(o);
        arena_reset(a);
    }
    arena_free(a);
    config_free(strict);
    config_free(open);
#undef JWK
#undef RU
}

TESTS(T(config_client_scripting_redirect_refused), T(registration_metadata_and_policy), T(registration_jwt_clients),
      T(config_validate_duplicate_client_ids), T(config_validate_client_secret_sha256),
      T(config_validate_client_unknown_resource), T(config_validate_client_rules),
      T(config_client_interactive_fields), T(config_client_interactive_errors), T(config_client_application_type),
      T(config_client_introspection), T(config_client_jwt_auth), T(client_rules_file_and_cli_agree), T(client_cli_names_fields_by_option))
