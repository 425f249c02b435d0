/* test_config.c: proves src/core/config.c: YAML loading and defaults, libcyaml error translation,
 * OSTIARY_* overrides (from a test envp, never the real environment) and config_validate(). */
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ipnet.h"
#include "oauth/client.h"

#include "core/banned.h"

static const char example_yaml[] =
    "issuer: http://localhost:4000\n"
    "listen: 127.0.0.1:4000\n"
    "storage: sqlite:./var/ostiary.db\n"
    "keys: { algorithms: [RS256, ES256] }\n"
    "tokens: { access_token_ttl: 600 }\n"
    "resources:\n"
    "  - identifier: urn:focus:api\n"
    "    scopes: [messaging.contacts/:userId.post]\n"
    "    access_token_format: jwt          # RFC 9068; or: opaque\n"
    "clients:\n"
    "  - client_id: 2e11feba0e0348d317971c52488dd79125943d750b8e6df1\n"
    "    client_secret: bar                # or client_secret_sha256: <base64 of SHA-256>\n"
    "    grant_types: [client_credentials]\n"
    "    token_endpoint_auth_method: client_secret_basic\n"
    "    scope: messaging.contacts/:userId.post\n";

static struct config *load(const char *yaml, struct errbuf *err)
{
    struct config *cfg = NULL;
    err->msg[0] = '\0';
    if (config_load_buffer(yaml, strlen(yaml), &cfg, err) != 0)
        return NULL;
    return cfg;
}

/* Loads and validates; returns the validate result and leaves the message in err. */
static int load_validate(const char *yaml, struct errbuf *err)
{
    struct config *cfg = load(yaml, err);
    if (cfg == NULL)
        return -100;
    /* What the program checks (cli_load_config): config_validate, then the clients' grant types against
     * the grant table. */
    int rc = config_validate(cfg, err);
    if (rc == 0)
        rc = clients_config_check(cfg, err);
    config_free(cfg);
    return rc;
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

TEST(config_example_loads)
{
    struct errbuf err;
    struct config *cfg = load(example_yaml, &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer, "http://localhost:4000");
    ASSERT_STREQ(cfg->issuer_path, "");
    ASSERT_STREQ(cfg->listen_host, "127.0.0.1");
    ASSERT_EQ(cfg->listen_port, 4000);
    ASSERT_STREQ(cfg->storage, "sqlite:./var/ostiary.db");
    ASSERT_EQ(cfg->keys.n_algorithms, 2);
    ASSERT_STREQ(cfg->keys.algorithms[0], "RS256");
    ASSERT_STREQ(cfg->keys.algorithms[1], "ES256");
    ASSERT_EQ(cfg->tokens.access_token_ttl, 600);
    ASSERT_EQ(cfg->n_resources, 1);
    ASSERT_STREQ(cfg->resources[0].identifier, "urn:focus:api");
    ASSERT_EQ(cfg->resources[0].n_scopes, 1);
    ASSERT_STREQ(cfg->resources[0].scopes[0], "messaging.contacts/:userId.post");
    ASSERT_STREQ(cfg->resources[0].access_token_format, "jwt");
    ASSERT_STREQ(cfg->resources[0].signing_alg, "RS256");
    ASSERT_EQ(cfg->n_clients, 1);
    ASSERT_STREQ(cfg->clients[0].client_id, "2e11feba0e0348d317971c52488dd79125943d750b8e6df1");
    ASSERT_STREQ(cfg->clients[0].client_secret, "bar");
    ASSERT_EQ(cfg->clients[0].n_grant_types, 1);
    ASSERT_STREQ(cfg->clients[0].grant_types[0], "client_credentials");
    ASSERT_STREQ(cfg->clients[0].token_endpoint_auth_method, "client_secret_basic");
    ASSERT_STREQ(cfg->clients[0].scope, "messaging.contacts/:userId.post");
    config_free(cfg);
}

TEST(config_defaults)
{
    struct errbuf err;
    struct config *cfg = NULL;
    ASSERT_EQ(config_load(NULL, NULL, &cfg, &err), 0);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer, "http://localhost:4000");
    ASSERT_STREQ(cfg->listen, "127.0.0.1:4000");
    ASSERT_STREQ(cfg->storage, "sqlite:./var/ostiary.db");
    ASSERT_STREQ(cfg->log_level, "info");
    ASSERT_EQ(cfg->workers, 0);
    ASSERT_EQ(cfg->dev, false);
    ASSERT_EQ(cfg->keys.n_algorithms, 1);
    ASSERT_STREQ(cfg->keys.algorithms[0], "RS256");
    ASSERT(cfg->keys.secret == NULL);
    ASSERT(cfg->keys.secret_file == NULL);
    ASSERT_EQ(cfg->keys.reload_interval, 60);
    ASSERT_EQ(cfg->tokens.access_token_ttl, 600);
    ASSERT_EQ(cfg->tokens.refresh_token_ttl, 1209600);
    ASSERT_EQ(cfg->tokens.id_token_ttl, 3600);
    ASSERT_EQ(cfg->tokens.code_ttl, 60);
    ASSERT_EQ(cfg->limits.max_body_bytes, 65536);
    ASSERT_EQ(cfg->limits.max_params, 64);
    ASSERT_EQ(cfg->limits.max_header_bytes, 16384);
    ASSERT_EQ(cfg->limits.request_timeout_ms, 10000);
    ASSERT_EQ(cfg->n_resources, 0);
    ASSERT_EQ(cfg->n_clients, 0);
    ASSERT_EQ(cfg->sessions.ttl, 86400);
    ASSERT_STREQ(cfg->sessions.cookie_name, "ostiary_session");
    ASSERT_EQ(cfg->refresh.refresh_grace_period, 0);
    ASSERT_EQ(cfg->userinfo.allow_query_token, false);
    ASSERT_EQ(cfg->pkce.required, true);
    ASSERT_EQ(cfg->login.max_failures, 5);
    ASSERT_EQ(cfg->login.lockout_seconds, 30);
    ASSERT(cfg->ui.dir == NULL);
    ASSERT_EQ(cfg->n_users, 0);
    ASSERT(cfg->users == NULL);
    ASSERT_EQ(cfg->n_trusted_proxies, 0);
    ASSERT(cfg->trusted_proxy_nets == NULL);
    ASSERT_STREQ(cfg->listen_host, "127.0.0.1");
    ASSERT_EQ(cfg->listen_port, 4000);
    config_free(cfg);

    /* An empty document and a document that sets one key keep every other default. */
    cfg = load("", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(cfg->tokens.code_ttl, 60);
    config_free(cfg);
    cfg = load("tokens: { code_ttl: 30 }\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(cfg->tokens.code_ttl, 30);
    ASSERT_EQ(cfg->tokens.access_token_ttl, 600);
    config_free(cfg);
}

TEST(config_load_file_prefixes_errors_with_path)
{
    char path[] = "/tmp/ostiary-test-config-XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    const char yaml[] = "tokens:\n  access_token_ttl: abc\n";
    ASSERT_EQ(write(fd, yaml, sizeof(yaml) - 1), (long long)(sizeof(yaml) - 1));
    close(fd);
    struct errbuf err;
    struct config *cfg = NULL;
    int rc = config_load(path, NULL, &cfg, &err);
    unlink(path);
    ASSERT(rc != 0);
    char want[128];
    snprintf(want, sizeof(want), "%s: tokens.access_token_ttl: invalid unsigned integer 'abc'", path);
    ASSERT_STREQ(err.msg, want);

    ASSERT(config_load("/nonexistent/ostiary.yaml", NULL, &cfg, &err) != 0);
    ASSERT(contains(err.msg, "/nonexistent/ostiary.yaml: cannot open"));
}

TEST(config_unknown_key_names_the_key)
{
    struct errbuf err;
    ASSERT(load("issuer: http://localhost:4000\nfoo: 1\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "foo: unknown key");
    ASSERT(load("tokens:\n  access_token_ttl: 600\n  acces_token_ttl: 5\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "tokens.acces_token_ttl: unknown key");
    ASSERT(load("clients:\n  - client_id: a\n  - client_id: b\n    secret: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "clients[1].secret: unknown key");
}

TEST(config_wrong_type)
{
    struct errbuf err;
    ASSERT(load("tokens:\n  access_token_ttl: abc\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "tokens.access_token_ttl: invalid unsigned integer 'abc'");
    /* libcyaml's strtoull would take these; the checked parser does not. */
    ASSERT(load("tokens: { access_token_ttl: 12abc }\n", &err) == NULL);
    ASSERT(load("tokens: { access_token_ttl: -1 }\n", &err) == NULL);
    ASSERT(load("limits: { max_params: 99999999999999999999 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "limits.max_params: invalid unsigned integer '99999999999999999999'");
    ASSERT(load("dev: maybe\n", &err) == NULL);
    ASSERT(contains(err.msg, "dev: invalid boolean 'maybe'"));
    ASSERT(load("issuer: [a, b]\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "issuer: expected a scalar value, got a list");
    ASSERT(load("keys: { algorithms: RS256 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "keys.algorithms: expected a list, got a scalar");
    ASSERT(load("clients: [ [1] ]\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "clients[0]: expected a mapping, got a list");
    ASSERT(load("- a\n- b\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "top level: expected a mapping, got a list");
    ASSERT(load("resources:\n  - identifier: urn:a\n    access_token_ttl: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "resources[0].access_token_ttl: invalid unsigned integer 'x'");
}

TEST(config_yaml_errors)
{
    struct errbuf err;
    ASSERT(load("issuer: \"unterminated\n", &err) == NULL);
    ASSERT(contains(err.msg, "YAML syntax error"));
    ASSERT(load("issuer: a\nissuer: b\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "issuer: duplicate key");
    ASSERT(load("a: &x 1\n", &err) == NULL); /* unknown key first */
    ASSERT(load("issuer: &x http://localhost:4000\nlisten: *x\n", &err) == NULL);
    ASSERT(contains(err.msg, "aliases are not supported"));
    ASSERT(load("issuer: http://localhost:4000\n---\nissuer: http://evil\n", &err) == NULL);
    ASSERT(contains(err.msg, "only one YAML document"));
    ASSERT(load("keys: { algorithms: [RS256, ES256, EdDSA, a, b, c, d, e, f] }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "keys.algorithms: too many entries (at most 8)");
}

TEST(config_long_secret_is_not_echoed)
{
    struct errbuf err;
    char yaml[6000];
    int n = snprintf(yaml, sizeof(yaml), "keys:\n  secret: ");
    for (int i = 0; i < 5000; i++)
        yaml[n++] = 'S';
    yaml[n++] = '\n';
    yaml[n] = '\0';
    ASSERT(load(yaml, &err) == NULL);
    ASSERT_STREQ(err.msg, "keys.secret: value too long (at most 4096 bytes)");
}

TEST(config_file_size_cap)
{
    struct errbuf err;
    struct config *cfg = NULL;
    size_t big = 1024 * 1024 + 1;
    char *yaml = malloc(big);
    ASSERT(yaml != NULL);
    memset(yaml, '#', big);
    int rc = config_load_buffer(yaml, big, &cfg, &err);
    free(yaml);
    ASSERT(rc != 0);
    ASSERT(contains(err.msg, "file too large"));
}

TEST(config_env_overrides)
{
    struct errbuf err;
    struct config *cfg = load(example_yaml, &err);
    ASSERT(cfg != NULL);
    char *envp[] = {
        "PATH=/usr/bin",
        "OSTIARY_CONFIG=/etc/ostiary.yaml",
        "OSTIARY_ISSUER=https://id.example.com/authentication/oidc",
        "OSTIARY_LISTEN=[::1]:8443",
        "OSTIARY_WORKERS=4",
        "OSTIARY_DEV=yes",
        "OSTIARY_LOG_LEVEL=debug",
        "OSTIARY_KEYS_ALGORITHMS=ES256, EdDSA",
        "OSTIARY_KEYS_SECRET=0123456789abcdef0123456789abcdef",
        "OSTIARY_TOKENS_ACCESS_TOKEN_TTL=300",
        "OSTIARY_LIMITS_MAX_BODY_BYTES=131072",
        NULL,
    };
    ASSERT_EQ(config_apply_env(cfg, envp, &err), 0);
    ASSERT_STREQ(cfg->issuer, "https://id.example.com/authentication/oidc");
    ASSERT_EQ(cfg->workers, 4);
    ASSERT_EQ(cfg->dev, true);
    ASSERT_STREQ(cfg->log_level, "debug");
    ASSERT_EQ(cfg->keys.n_algorithms, 2);
    ASSERT_STREQ(cfg->keys.algorithms[0], "ES256");
    ASSERT_STREQ(cfg->keys.algorithms[1], "EdDSA");
    ASSERT_EQ(cfg->tokens.access_token_ttl, 300);
    ASSERT_EQ(cfg->limits.max_body_bytes, 131072);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer_path, "/authentication/oidc");
    ASSERT_STREQ(cfg->listen_host, "::1");
    ASSERT_EQ(cfg->listen_port, 8443);
    /* RS256 is gone, so the resource signs with the first configured algorithm. */
    ASSERT_STREQ(cfg->resources[0].signing_alg, "ES256");
    config_free(cfg);

    /* config_load applies the environment after the file. */
    char *envp2[] = {"OSTIARY_TOKENS_CODE_TTL=120", "OSTIARY_DEV=0", NULL};
    ASSERT_EQ(config_load(NULL, envp2, &cfg, &err), 0);
    ASSERT_EQ(cfg->tokens.code_ttl, 120);
    ASSERT_EQ(cfg->dev, false);
    config_free(cfg);
}

TEST(config_env_bad_value)
{
    struct errbuf err;
    struct config *cfg = load("", &err);
    ASSERT(cfg != NULL);
    char *e1[] = {"OSTIARY_TOKENS_ACCESS_TOKEN_TTL=10m", NULL};
    ASSERT(config_apply_env(cfg, e1, &err) != 0);
    ASSERT_STREQ(err.msg, "OSTIARY_TOKENS_ACCESS_TOKEN_TTL: invalid unsigned integer '10m'");
    char *e2[] = {"OSTIARY_DEV=on", NULL};
    ASSERT(config_apply_env(cfg, e2, &err) != 0);
    ASSERT(contains(err.msg, "OSTIARY_DEV: invalid boolean 'on'"));
    char *e3[] = {"OSTIARY_KEYS_ALGORITHMS=RS256,,ES256", NULL};
    ASSERT(config_apply_env(cfg, e3, &err) != 0);
    ASSERT_STREQ(err.msg, "OSTIARY_KEYS_ALGORITHMS: empty item in comma-separated list");
    /* A value that parses but is out of range is caught by validation, naming the key. */
    char *e4[] = {"OSTIARY_TOKENS_ACCESS_TOKEN_TTL=0", NULL};
    ASSERT_EQ(config_apply_env(cfg, e4, &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT_STREQ(err.msg, "tokens.access_token_ttl: must be between 1 and 31622400, got 0");
    config_free(cfg);
}

TEST(config_env_unknown_variable)
{
    struct errbuf err;
    struct config *cfg = load("", &err);
    ASSERT(cfg != NULL);
    char *envp[] = {"OSTIARY_CONFIG=x.yaml", "OSTIARY_TOKENS_ACCESS_TTL=60", NULL};
    ASSERT(config_apply_env(cfg, envp, &err) != 0);
    ASSERT(contains(err.msg, "OSTIARY_TOKENS_ACCESS_TTL: unknown OSTIARY_ environment variable"));
    config_free(cfg);
}

TEST(config_validate_http_issuer)
{
    struct errbuf err;
    ASSERT(load_validate("issuer: http://id.example.com\n", &err) != 0);
    ASSERT(contains(err.msg, "issuer: plain http is only allowed for a loopback host"));
    ASSERT(contains(err.msg, "dev mode"));
    ASSERT_EQ(load_validate("issuer: http://id.example.com\ndev: true\n", &err), 0);
    ASSERT_EQ(load_validate("issuer: http://127.0.0.2:4000\n", &err), 0);
    ASSERT_EQ(load_validate("issuer: http://[::1]:4000\n", &err), 0);
    ASSERT_EQ(load_validate("issuer: https://id.example.com\n", &err), 0);
    ASSERT(load_validate("issuer: http://127.0.0.1.example.com\n", &err) != 0);
    ASSERT(load_validate("issuer: https://id.example.com/?x=1\n", &err) != 0);
    ASSERT(contains(err.msg, "issuer: must not contain a query or fragment"));
    ASSERT(load_validate("issuer: https://id.example.com/#x\n", &err) != 0);
    ASSERT(load_validate("issuer: id.example.com\n", &err) != 0);
    ASSERT(contains(err.msg, "issuer: must be an absolute http or https URL"));
    ASSERT(load_validate("issuer: https://user@id.example.com\n", &err) != 0);
    ASSERT(load_validate("issuer: https://id.example.com:0\n", &err) != 0);
}

TEST(config_validate_issuer_path)
{
    struct errbuf err;
    struct config *cfg = load("issuer: https://id.example.com/authentication/oidc\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer_path, "/authentication/oidc");
    config_free(cfg);

    cfg = load("issuer: https://id.example.com/authentication/oidc/\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer, "https://id.example.com/authentication/oidc");
    ASSERT_STREQ(cfg->issuer_path, "/authentication/oidc");
    /* Validation is idempotent. */
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer_path, "/authentication/oidc");
    config_free(cfg);

    cfg = load("issuer: http://localhost:4000/\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer, "http://localhost:4000");
    ASSERT_STREQ(cfg->issuer_path, "");
    config_free(cfg);
}

TEST(config_validate_listen)
{
    struct errbuf err;
    struct config *cfg = load("listen: ':8080'\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->listen_host, "0.0.0.0");
    ASSERT_EQ(cfg->listen_port, 8080);
    config_free(cfg);

    ASSERT(load_validate("listen: localhost\n", &err) != 0);
    ASSERT(contains(err.msg, "listen: expected host:port"));
    ASSERT(load_validate("listen: 127.0.0.1:70000\n", &err) != 0);
    ASSERT(contains(err.msg, "listen: port must be a number between 1 and 65535"));
    ASSERT(load_validate("listen: 127.0.0.1:0\n", &err) != 0);
    ASSERT(load_validate("listen: '::1:4000'\n", &err) != 0);
    ASSERT(load_validate("listen: '[::1]4000'\n", &err) != 0);
}

TEST(config_validate_misc_keys)
{
    struct errbuf err;
    /* A database URL may carry a password: only its scheme is shown. */
    ASSERT(load_validate("storage: postgres://user:hunter2@db/ostiary\n", &err) != 0);
    ASSERT_STREQ(err.msg, "storage: unsupported storage 'postgres'; expected sqlite:<path>");
    ASSERT(load_validate("issuer: https://user:hunter2@id.example.com\n", &err) != 0);
    ASSERT(contains(err.msg, "issuer: must not contain userinfo"));
    ASSERT(!contains(err.msg, "hunter2"));
    ASSERT(load_validate("log_level: verbose\n", &err) != 0);
    ASSERT(contains(err.msg, "log_level: must be debug, info, warn or error"));
    ASSERT(load_validate("limits: { max_body_bytes: 100 }\n", &err) != 0);
    ASSERT(contains(err.msg, "limits.max_body_bytes: must be between 1024 and 16777216"));
    ASSERT(load_validate("tokens: { code_ttl: 3600 }\n", &err) != 0);
    ASSERT(contains(err.msg, "tokens.code_ttl: "));
}

TEST(config_validate_bad_alg)
{
    struct errbuf err;
    ASSERT(load_validate("keys: { algorithms: [RS256, HS256] }\n", &err) != 0);
    ASSERT(contains(err.msg, "keys.algorithms[1]: unsupported algorithm 'HS256'"));
    ASSERT(load_validate("keys: { algorithms: [none] }\n", &err) != 0);
    ASSERT(load_validate("keys: { algorithms: [ES256, ES256] }\n", &err) != 0);
    ASSERT(contains(err.msg, "duplicate"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    signing_alg: ES256\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].signing_alg: 'ES256' is not one of keys.algorithms"));
}

TEST(config_validate_duplicate_client_ids)
{
    struct errbuf err;
    ASSERT(load_validate("clients:\n"
                         "  - { client_id: a, client_secret: s, grant_types: [client_credentials] }\n"
                         "  - { client_id: a, client_secret: t, grant_types: [client_credentials] }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[1].client_id: duplicate 'a'"));
}

TEST(config_validate_secret)
{
    struct errbuf err;
    const char *shortsecret = "tooshort-SECRETVALUE";
    char yaml[256];
    snprintf(yaml, sizeof(yaml), "keys: { secret: %s }\n", shortsecret);
    ASSERT(load_validate(yaml, &err) != 0);
    ASSERT(contains(err.msg, "keys.secret: must be at least 32 characters"));
    ASSERT(contains(err.msg, "openssl rand -base64 32"));
    ASSERT(!contains(err.msg, "SECRETVALUE"));
    ASSERT_EQ(load_validate("keys: { secret: 0123456789abcdef0123456789abcdef }\n", &err), 0);
    ASSERT(load_validate("keys: { secret: 0123456789abcdef0123456789abcdef, secret_file: /run/k }\n", &err) !=
           0);
    ASSERT(contains(err.msg, "mutually exclusive"));
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].token_endpoint_auth_method, "client_secret_basic");
    ASSERT_STREQ(cfg->clients[0].grant_types[0], "client_credentials");
    config_free(cfg);
    ASSERT(load_validate("clients:\n  - client_id: a\n    client_secret: x\n    client_secret_sha256: "
                         "/N4rLtula/QIYB+3If6bXDONEO5CnqBPrlURto+/j7k=\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "mutually exclusive"));
}

TEST(config_validate_resource_format)
{
    struct errbuf err;
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    access_token_format: paseto\n", &err) != 0);
    ASSERT_STREQ(err.msg, "resources[0].access_token_format: must be jwt or opaque, got 'paseto'");
    ASSERT(load_validate("resources:\n  - identifier: api\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].identifier: must be an absolute URI"));
    ASSERT(load_validate("resources:\n  - scopes: [a]\n", &err) != 0);
    ASSERT_STREQ(err.msg, "resources[0].identifier: required");
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n  - identifier: urn:a\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[1].identifier: duplicate"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    scopes: ['a\"b']\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].scopes[0]: invalid scope token"));
    ASSERT_EQ(load_validate("resources:\n  - identifier: urn:a\n    access_token_format: opaque\n", &err), 0);
}

TEST(config_validate_client_unknown_resource)
{
    struct errbuf err;
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n"
                         "clients:\n  - client_id: c\n    client_secret: s\n    resources: [urn:a, urn:b]\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "clients[0].resources[1]: unknown resource 'urn:b' (not a resources[].identifier)");
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
    ASSERT(load_validate("clients:\n  - client_id: c\n    client_secret: s\n    grant_types: [implicit]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types[0]: unsupported grant type 'implicit'"));
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].token_endpoint_auth_method, "none");
    config_free(cfg);
    cfg = load("clients:\n  - client_id: spa\n    redirect_uris: ['https://rp.example.com/cb']\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->clients[0].n_grant_types, 2);
    ASSERT_STREQ(cfg->clients[0].grant_types[0], "authorization_code");
    ASSERT_STREQ(cfg->clients[0].grant_types[1], "refresh_token");
    config_free(cfg);
}

TEST(config_set_str_replaces)
{
    struct errbuf err;
    struct config *cfg = load(example_yaml, &err);
    ASSERT(cfg != NULL);
    config_set_str(&cfg->issuer, "https://id.example.com");
    config_set_str(&cfg->keys.secret_file, "/run/secrets/key");
    config_set_str(&cfg->clients[0].scope, NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->issuer, "https://id.example.com");
    ASSERT(cfg->clients[0].scope == NULL);
    config_free(cfg);
}


/* ---- interactive-flow settings, clients' new fields, users ---------------------------------------- */

TEST(config_interactive_sections_load)
{
    struct errbuf err;
    struct config *cfg = load("sessions: { ttl: 3600, cookie_name: __Host-sid }\n"
                              "refresh: { refresh_grace_period: 5 }\n"
                              "userinfo: { allow_query_token: yes }\n"
                              "pkce: { required: false }\n"
                              "login: { max_failures: 3, lockout_seconds: 60 }\n"
                              "ui: { dir: /etc/ostiary/web }\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->sessions.ttl, 3600);
    ASSERT_STREQ(cfg->sessions.cookie_name, "__Host-sid");
    ASSERT_EQ(cfg->refresh.refresh_grace_period, 5);
    ASSERT_EQ(cfg->userinfo.allow_query_token, true);
    ASSERT_EQ(cfg->pkce.required, false);
    ASSERT_EQ(cfg->login.max_failures, 3);
    ASSERT_EQ(cfg->login.lockout_seconds, 60);
    ASSERT_STREQ(cfg->ui.dir, "/etc/ostiary/web");
    config_free(cfg);

    ASSERT(load("sessions: { ttl: 1h }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "sessions.ttl: invalid unsigned integer '1h'");
    ASSERT(load("pkce: { required: sometimes }\n", &err) == NULL);
    ASSERT(contains(err.msg, "pkce.required: invalid boolean 'sometimes'"));
    ASSERT(load("login: { max_failure: 3 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "login.max_failure: unknown key");
    ASSERT(load_validate("refresh: { refresh_grace_period: 301 }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "refresh.refresh_grace_period: must be between 0 and 300, got 301");
    ASSERT(load_validate("login: { lockout_seconds: 0 }\n", &err) != 0);
    ASSERT(contains(err.msg, "login.lockout_seconds: must be between 1 and 900"));
    ASSERT(load_validate("login: { max_failures: 0 }\n", &err) != 0);
    ASSERT(contains(err.msg, "login.max_failures: must be between 1 and"));
    ASSERT(load_validate("sessions: { ttl: 10 }\n", &err) != 0);
    ASSERT(contains(err.msg, "sessions.ttl: must be between 60 and"));
    ASSERT(load_validate("sessions: { cookie_name: 'a b' }\n", &err) != 0);
    ASSERT(contains(err.msg, "sessions.cookie_name: must be 1 to 64 characters"));
    ASSERT(load_validate("sessions: { cookie_name: 'sid;x=1' }\n", &err) != 0);
    ASSERT(load_validate("sessions: { cookie_name: '' }\n", &err) != 0);
    ASSERT(load_validate("ui: { dir: '' }\n", &err) != 0);
    ASSERT(contains(err.msg, "ui.dir: must not be empty"));
}

/* Every new key has its OSTIARY_* variable, derived from the key path like the others. */
TEST(config_env_interactive_keys)
{
    static const struct {
        const char *var;
        const char *path;
    } table[] = {
        {"OSTIARY_SESSIONS_TTL=7200", "sessions.ttl"},
        {"OSTIARY_SESSIONS_COOKIE_NAME=sid", "sessions.cookie_name"},
        {"OSTIARY_REFRESH_REFRESH_GRACE_PERIOD=30", "refresh.refresh_grace_period"},
        {"OSTIARY_USERINFO_ALLOW_QUERY_TOKEN=1", "userinfo.allow_query_token"},
        {"OSTIARY_PKCE_REQUIRED=no", "pkce.required"},
        {"OSTIARY_LOGIN_MAX_FAILURES=10", "login.max_failures"},
        {"OSTIARY_LOGIN_LOCKOUT_SECONDS=5", "login.lockout_seconds"},
        {"OSTIARY_UI_DIR=/srv/web", "ui.dir"},
    };
    struct errbuf err;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        struct config *cfg = load("", &err);
        ASSERT(cfg != NULL);
        char *envp[] = {(char *)table[i].var, NULL};
        int rc = config_apply_env(cfg, envp, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", table[i].var, err.msg);
        config_free(cfg);
        ASSERT_EQ(rc, 0);
    }
    struct config *cfg = NULL;
    char *envp[] = {"OSTIARY_SESSIONS_TTL=7200",
                    "OSTIARY_SESSIONS_COOKIE_NAME=sid",
                    "OSTIARY_REFRESH_REFRESH_GRACE_PERIOD=30",
                    "OSTIARY_USERINFO_ALLOW_QUERY_TOKEN=1",
                    "OSTIARY_PKCE_REQUIRED=no",
                    "OSTIARY_LOGIN_MAX_FAILURES=10",
                    "OSTIARY_LOGIN_LOCKOUT_SECONDS=5",
                    "OSTIARY_UI_DIR=/srv/web",
                    NULL};
    ASSERT_EQ(config_load(NULL, envp, &cfg, &err), 0);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->sessions.ttl, 7200);
    ASSERT_STREQ(cfg->sessions.cookie_name, "sid");
    ASSERT_EQ(cfg->refresh.refresh_grace_period, 30);
    ASSERT_EQ(cfg->userinfo.allow_query_token, true);
    ASSERT_EQ(cfg->pkce.required, false);
    ASSERT_EQ(cfg->login.max_failures, 10);
    ASSERT_EQ(cfg->login.lockout_seconds, 5);
    ASSERT_STREQ(cfg->ui.dir, "/srv/web");
    config_free(cfg);

    cfg = load("", &err);
    ASSERT(cfg != NULL);
    char *bad[] = {"OSTIARY_USERINFO_ALLOW_QUERY_TOKEN=maybe", NULL};
    ASSERT(config_apply_env(cfg, bad, &err) != 0);
    ASSERT(contains(err.msg, "OSTIARY_USERINFO_ALLOW_QUERY_TOKEN: invalid boolean 'maybe'"));
    char *bad2[] = {"OSTIARY_REFRESH_GRACE_PERIOD=5", NULL}; /* the path is refresh.refresh_grace_period */
    ASSERT(config_apply_env(cfg, bad2, &err) != 0);
    ASSERT(contains(err.msg, "OSTIARY_REFRESH_GRACE_PERIOD: unknown OSTIARY_ environment variable"));
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->clients[1].n_pkce_methods, 1);
    ASSERT(cfg->clients[0].require_pkce_set && !cfg->clients[0].require_pkce_value);
    config_free(cfg);

    /* Without RS256, the default algorithm is the first configured one. */
    cfg = load("keys: { algorithms: [ES256] }\n"
               "clients:\n  - { client_id: spa, redirect_uris: ['https://a.example/cb'], require_pkce: yes }\n",
               &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
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
    ASSERT_STREQ(err.msg, "clients[0].id_token_signed_response_alg: 'ES256' is not one of keys.algorithms");
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
    /* The device grant is in the grant table but not served yet: it cannot be configured. */
    ASSERT(load_validate("clients:\n  - client_id: tv\n"
                         "    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', refresh_token]\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "clients[0].grant_types[0]: grant type "
                             "'urn:ietf:params:oauth:grant-type:device_code' is not served by this server yet "
                             "(allowed: authorization_code, client_credentials, refresh_token)"));
    ASSERT(load("clients:\n  - client_id: c\n    post_logout_redirect_uri: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "clients[0].post_logout_redirect_uri: unknown key");
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].application_type, "web");
    ASSERT_STREQ(cfg->clients[1].application_type, "native");
    config_free(cfg);
    ASSERT(load_validate("clients:\n  - { client_id: c, application_type: Native, redirect_uris: ['http://[::1]/cb'] }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "clients[0].application_type: must be web or native, got 'Native'");
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
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->clients[0].introspection_access, "all");
    ASSERT_EQ(cfg->clients[0].n_introspection_resources, 0);
    ASSERT_STREQ(cfg->clients[1].introspection_access, "own");
    ASSERT_STREQ(cfg->clients[2].introspection_access, "resources");
    ASSERT_EQ(cfg->clients[2].n_introspection_resources, 2);
    ASSERT_STREQ(cfg->clients[2].introspection_resources[0], "urn:b");
    config_free(cfg);

    ASSERT(load_validate(RS "    introspection_access: mine\n", &err) != 0);
    ASSERT_STREQ(err.msg, "clients[0].introspection_access: must be all, own or resources, got 'mine'");
    ASSERT(load_validate(RS "    introspection_access: resources\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].introspection_resources: introspection_access resources needs at least one"));
    ASSERT(load_validate(RS "    introspection_resources: ['urn:a']\n", &err) != 0);
    ASSERT_STREQ(err.msg, "clients[0].introspection_resources: only applies with introspection_access resources");
    ASSERT(load_validate(RS "    introspection_access: own\n    introspection_resources: ['urn:a']\n", &err) != 0);
    ASSERT(contains(err.msg, "only applies with introspection_access resources"));
    ASSERT(load_validate(RS "    introspection_access: resources\n    introspection_resources: ['urn:c']\n", &err) != 0);
    ASSERT(contains(err.msg, "clients[0].introspection_resources[0]: unknown resource 'urn:c'"));
    ASSERT(load_validate(RS "    introspection_access: resources\n    introspection_resources: ['urn:a', 'urn:a']\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "clients[0].introspection_resources[1]: duplicate 'urn:a'");
#undef RS
#undef API
}

static const char users_yaml[] =
    "users:\n"
    "  - username: alice\n"
    "    password: correct horse battery staple\n"
    "    name: Alice Liddell\n"
    "    given_name: Alice\n"
    "    family_name: Liddell\n"
    "    email: alice@example.com\n"
    "    email_verified: yes\n"
    "    phone_number: '+44 20 7946 0000'\n"
    "    phone_number_verified: 'false'\n"
    "    birthdate: '1852-05-04'\n"
    "    picture: https://example.com/alice.png\n"
    "    locale: en-GB\n"
    "    address:\n"
    "      formatted: \"1 Rabbit Hole\\nOxford\"\n"
    "      country: UK\n"
    "  - username: bob\n"
    "    id: 248289761001\n"
    "    password_hash: '$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'\n"
    "    disabled: true\n";

TEST(config_users_load)
{
    struct errbuf err;
    struct config *cfg = load(users_yaml, &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->n_users, 2);
    const struct cfg_user *a = &cfg->users[0];
    ASSERT_STREQ(a->username, "alice");
    ASSERT(a->id == NULL);
    ASSERT_STREQ(a->password, "correct horse battery staple");
    ASSERT(a->password_hash == NULL);
    ASSERT(!a->disabled);
    ASSERT_STREQ(a->name, "Alice Liddell");
    ASSERT_STREQ(a->email, "alice@example.com");
    ASSERT_STREQ(a->email_verified, "true"); /* normalized */
    ASSERT_STREQ(a->phone_number_verified, "false");
    ASSERT_STREQ(a->birthdate, "1852-05-04");
    ASSERT(a->address != NULL);
    ASSERT_STREQ(a->address->formatted, "1 Rabbit Hole\nOxford");
    ASSERT_STREQ(a->address->country, "UK");
    ASSERT(a->address->locality == NULL);
    const struct cfg_user *b = &cfg->users[1];
    ASSERT_STREQ(b->id, "248289761001");
    ASSERT(b->password == NULL);
    ASSERT(strncmp(b->password_hash, "$argon2id$", 10) == 0);
    ASSERT(b->disabled);
    ASSERT(b->email_verified == NULL);
    ASSERT(b->address == NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    config_free(cfg);
}

TEST(config_users_errors)
{
    struct errbuf err;
    ASSERT(load_validate("users:\n  - password: pw\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].username: required"));
    ASSERT(load_validate("users:\n  - { username: 'a b', password: pw }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].username: required, 1 to 255 visible ASCII"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw }\n  - { username: a, password: pw2 }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "users[1].username: duplicate 'a' (also users[0])");
    ASSERT(load_validate("users:\n  - { username: a, id: x, password: pw }\n"
                         "  - { username: b, id: x, password: pw }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "users[1].id: duplicate 'x' (also users[0])");
    ASSERT(load_validate("users:\n  - { username: a, id: '', password: pw }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].id: "));
    ASSERT(load_validate("users:\n  - { username: a }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: one of password or password_hash is required"));
    ASSERT(load_validate("users:\n  - { username: a, password: '' }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: must not be empty"));
    ASSERT(load("users:\n  - { username: a, password: pw, disabled: maybe }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].disabled: invalid boolean 'maybe'"));
    ASSERT(load("users:\n  - { username: a, password: pw, email_verified: si }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].email_verified: invalid boolean 'si'"));
    ASSERT(load("users:\n  - { username: a, password: pw, phone_number_verified: x }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].phone_number_verified: invalid boolean"));
    ASSERT(load("users:\n  - { username: a, password: pw, claims: {} }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "users[0].claims: unknown key");
    ASSERT(load("users:\n  - { username: a, password: pw, address: { city: Paris } }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "users[0].address.city: unknown key");
    ASSERT(load("users:\n  - { username: a, password: pw, address: Paris }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].address: expected a mapping"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, email: alice }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].email: must look like name@domain"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, birthdate: 04/05/1852 }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].birthdate: must be YYYY-MM-DD or YYYY"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, birthdate: '1852-13-01' }\n", &err) != 0);
    ASSERT_EQ(load_validate("users:\n  - { username: a, password: pw, birthdate: '0000-05-04' }\n", &err), 0);
    ASSERT_EQ(load_validate("users:\n  - { username: a, password: pw, birthdate: '1852' }\n", &err), 0);
    ASSERT(load_validate("users:\n  - { username: a, password: pw, website: 'javascript:alert(1)' }\n", &err) !=
           0);
    ASSERT(contains(err.msg, "users[0].website: must be an absolute http or https URL"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, name: \"A\\x1b[31mB\" }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "users[0].name: must be UTF-8 text without control characters");
    ASSERT(load_validate("users:\n  - { username: a, password: pw, name: \"two\\nlines\" }\n", &err) != 0);
    /* Multi-line is allowed where OIDC Core §5.1.1 allows it. */
    ASSERT_EQ(load_validate("users:\n  - username: a\n    password: pw\n"
                            "    address: { street_address: \"1 Main St\\nApt 2\" }\n",
                            &err),
              0);
}

/* Passwords and password hashes never appear in a message, whatever is wrong. */
TEST(config_users_secrets_not_echoed)
{
    struct errbuf err;
    ASSERT(load_validate("users:\n  - { username: a, password: hunter2pw, password_hash: '$argon2id$v=19$xyzhash' }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: password and password_hash are mutually exclusive"));
    ASSERT(!contains(err.msg, "hunter2pw") && !contains(err.msg, "xyzhash"));
    ASSERT(load_validate("users:\n  - { username: a, password_hash: '$2b$10$bcryptSECRETHASH' }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "users[0].password_hash: must be an argon2id encoded hash ($argon2id$v=19$m=...)");
    ASSERT(!contains(err.msg, "SECRETHASH"));
    ASSERT(load_validate("users:\n  - { username: a, password_hash: '$argon2i$v=19$m=4096,t=3,p=1$SECRETHASH' }\n",
                         &err) != 0);
    ASSERT(!contains(err.msg, "SECRETHASH"));
    /* A password that is too long is reported by length, never echoed. */
    char yaml[6000];
    int n = snprintf(yaml, sizeof(yaml), "users:\n  - username: a\n    password: ");
    for (int i = 0; i < 5000; i++)
        yaml[n++] = 'P';
    yaml[n++] = '\n';
    yaml[n] = '\0';
    ASSERT(load(yaml, &err) == NULL);
    ASSERT_STREQ(err.msg, "users[0].password: value too long (at most 4096 bytes)");
    /* A wrong type next to a password (loading fails before validation) does not echo it either. */
    ASSERT(load("users:\n  - { username: a, password: hunter2pw, disabled: [x] }\n", &err) == NULL);
    ASSERT(!contains(err.msg, "hunter2pw"));
}

TEST(config_users_too_many)
{
    struct errbuf err;
    size_t cap = 4097 * 40 + 64;
    char *yaml = malloc(cap);
    ASSERT(yaml != NULL);
    size_t n = (size_t)snprintf(yaml, cap, "users:\n");
    for (int i = 0; i < 4097; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "  - { username: u%d, password: p }\n", i);
    struct config *cfg = NULL;
    int rc = config_load_buffer(yaml, n, &cfg, &err);
    free(yaml);
    if (rc == 0)
        config_free(cfg);
    ASSERT(rc != 0);
    ASSERT_STREQ(err.msg, "users: too many entries (at most 4096)");
}

/* trusted_proxies: a list of addresses and CIDR ranges, parsed by config_validate into trusted_proxy_nets;
 * each bad entry is named with its index and the reason. */
TEST(config_trusted_proxies)
{
    struct errbuf err;
    struct config *cfg = load("trusted_proxies: [127.0.0.1, 10.0.0.0/8, \"::1\", \"fd00::/8\"]\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->n_trusted_proxies, 4);
    ASSERT_STREQ(cfg->trusted_proxies[1], "10.0.0.0/8");
    ASSERT(cfg->trusted_proxy_nets != NULL);
    ASSERT_EQ(cfg->trusted_proxy_nets[0].prefix, 128);
    ASSERT_EQ(cfg->trusted_proxy_nets[1].prefix, 104);
    ASSERT_EQ(cfg->trusted_proxy_nets[3].prefix, 8);
    /* Validation is idempotent, and the environment replaces the list (a comma list; empty = none). */
    ASSERT_EQ(config_validate(cfg, &err), 0);
    char *e1[] = {"OSTIARY_TRUSTED_PROXIES=192.0.2.1, 2001:db8::/32", NULL};
    ASSERT_EQ(config_apply_env(cfg, e1, &err), 0);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->n_trusted_proxies, 2);
    ASSERT_STREQ(cfg->trusted_proxies[1], "2001:db8::/32");
    ASSERT_EQ(cfg->trusted_proxy_nets[1].prefix, 32);
    char *e2[] = {"OSTIARY_TRUSTED_PROXIES=", NULL};
    ASSERT_EQ(config_apply_env(cfg, e2, &err), 0);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->n_trusted_proxies, 0);
    ASSERT(cfg->trusted_proxy_nets == NULL);
    char *e3[] = {"OSTIARY_TRUSTED_PROXIES=10.0.0.0/8,nope", NULL};
    ASSERT_EQ(config_apply_env(cfg, e3, &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT_STREQ(err.msg, "trusted_proxies[1]: not an IPv4 or IPv6 address (CIDR ranges are written "
                          "address/prefix, e.g. 10.0.0.0/8), got 'nope'");
    config_free(cfg);

    ASSERT(load_validate("trusted_proxies: [127.0.0.1, 10.0.0.0/33]\n", &err) != 0);
    ASSERT_STREQ(err.msg,
                 "trusted_proxies[1]: invalid prefix length (expected /0 to /32 after an IPv4 address), got "
                 "'10.0.0.0/33'");
    ASSERT(load_validate("trusted_proxies: [\"fd00::1/8\"]\n", &err) != 0);
    ASSERT(contains(err.msg, "trusted_proxies[0]: address has bits set after the prefix length"));
    ASSERT(load_validate("trusted_proxies: [\"\"]\n", &err) != 0);
    ASSERT(contains(err.msg, "trusted_proxies[0]: not an IPv4 or IPv6 address"));
    ASSERT(load_validate("trusted_proxies: 127.0.0.1\n", &err) != 0);
    ASSERT_STREQ(err.msg, "trusted_proxies: expected a list, got a scalar");
    ASSERT_EQ(load_validate("trusted_proxies: []\n", &err), 0);

    /* At most 64 entries, from the file or the environment. */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof(big), "trusted_proxies:\n");
    for (int i = 0; i <= 64; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "  - 10.0.%d.0/24\n", i);
    ASSERT(load(big, &err) == NULL);
    ASSERT_STREQ(err.msg, "trusted_proxies: too many entries (at most 64)");
    cfg = load("", &err);
    ASSERT(cfg != NULL);
    n = (size_t)snprintf(big, sizeof(big), "OSTIARY_TRUSTED_PROXIES=");
    for (int i = 0; i <= 64; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s10.0.%d.0/24", i > 0 ? "," : "", i);
    char *e4[] = {big, NULL};
    ASSERT_EQ(config_apply_env(cfg, e4, &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT_STREQ(err.msg, "trusted_proxies: too many entries (at most 64)");
    config_free(cfg);
}

TESTS(T(config_example_loads), T(config_defaults), T(config_load_file_prefixes_errors_with_path),
      T(config_unknown_key_names_the_key), T(config_wrong_type), T(config_yaml_errors),
      T(config_long_secret_is_not_echoed), T(config_file_size_cap), T(config_env_overrides),
      T(config_env_bad_value), T(config_env_unknown_variable), T(config_validate_http_issuer),
      T(config_validate_issuer_path), T(config_validate_listen), T(config_validate_misc_keys),
      T(config_validate_bad_alg), T(config_validate_duplicate_client_ids), T(config_validate_secret),
      T(config_validate_client_secret_sha256), T(config_validate_resource_format),
      T(config_validate_client_unknown_resource), T(config_validate_client_rules), T(config_set_str_replaces),
      T(config_interactive_sections_load), T(config_env_interactive_keys), T(config_client_interactive_fields),
      T(config_client_interactive_errors), T(config_client_application_type),
      T(config_client_introspection), T(config_users_load), T(config_users_errors),
      T(config_users_secrets_not_echoed), T(config_users_too_many), T(config_trusted_proxies))
