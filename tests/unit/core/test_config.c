/* test_config.c: proves the configuration (src/core/config_*.c): YAML loading through libyaml's events and
 * defaults, messages with the line and column of the value, OSTIARY_* overrides (from a test envp, never
 * the real environment) and config_validate(). */
#include "config_text.h"
#include "core/arena.h"
#include "core/str.h"
#include "harness.h"

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "core/config.h"
#include "core/ipnet.h"

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

/* Loads and runs config_validate; returns the result and leaves the message in err. */
static int load_validate(const char *yaml, struct errbuf *err)
{
    return load_validate_with(yaml, config_validate, err);
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
    snprintf(want, sizeof(want), "%s:2:21: tokens.access_token_ttl: invalid unsigned integer 'abc'", path);
    ASSERT_STREQ(err.msg, want);

    ASSERT(config_load("/nonexistent/ostiary.yaml", NULL, &cfg, &err) != 0);
    ASSERT(contains(err.msg, "/nonexistent/ostiary.yaml: cannot open"));
}

TEST(config_unknown_key_names_the_key)
{
    struct errbuf err;
    ASSERT(load("issuer: http://localhost:4000\nfoo: 1\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:1: foo: unknown key");
    ASSERT(load("tokens:\n  access_token_ttl: 600\n  acces_token_ttl: 5\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "3:3: tokens.acces_token_ttl: unknown key");
    ASSERT(load("clients:\n  - client_id: a\n  - client_id: b\n    secret: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "4:5: clients[1].secret: unknown key");
}

TEST(config_wrong_type)
{
    struct errbuf err;
    ASSERT(load("tokens:\n  access_token_ttl: abc\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:21: tokens.access_token_ttl: invalid unsigned integer 'abc'");
    /* strtoull would take these; the checked parser does not. */
    ASSERT(load("tokens: { access_token_ttl: 12abc }\n", &err) == NULL);
    ASSERT(load("tokens: { access_token_ttl: -1 }\n", &err) == NULL);
    ASSERT(load("limits: { max_params: 99999999999999999999 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:23: limits.max_params: invalid unsigned integer '99999999999999999999'");
    ASSERT(load("dev: maybe\n", &err) == NULL);
    ASSERT(contains(err.msg, "dev: invalid boolean 'maybe'"));
    ASSERT(load("issuer: [a, b]\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:9: issuer: expected a scalar value, got a list");
    ASSERT(load("keys: { algorithms: RS256 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:21: keys.algorithms: expected a list, got a scalar");
    ASSERT(load("clients: [ [1] ]\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:12: clients[0]: expected a mapping, got a list");
    ASSERT(load("- a\n- b\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:1: top level: expected a mapping, got a list");
    ASSERT(load("resources:\n  - identifier: urn:a\n    access_token_ttl: x\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "3:23: resources[0].access_token_ttl: invalid unsigned integer 'x'");
}

TEST(config_yaml_errors)
{
    struct errbuf err;
    ASSERT(load("issuer: \"unterminated\n", &err) == NULL);
    ASSERT(contains(err.msg, "YAML syntax error"));
    ASSERT(load("issuer: a\nissuer: b\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:1: issuer: duplicate key");
    ASSERT(load("a: &x 1\n", &err) == NULL); /* unknown key first */
    ASSERT(load("issuer: &x http://localhost:4000\nlisten: *x\n", &err) == NULL);
    ASSERT(contains(err.msg, "aliases are not supported"));
    ASSERT(load("issuer: http://localhost:4000\n---\nissuer: http://evil\n", &err) == NULL);
    ASSERT(contains(err.msg, "only one YAML document"));
    ASSERT(load("keys: { algorithms: [RS256, ES256, EdDSA, a, b, c, d, e, f] }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:58: keys.algorithms: too many entries (at most 8)");
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
    ASSERT_STREQ(err.msg, "2:11: keys.secret: value too long (at most 4096 bytes)");
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

TEST(config_validate_admin_listen)
{
    struct errbuf err;
    struct config *cfg = load("admin:\n  listen: '[::1]:4001'\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->admin_listen_host, "::1");
    ASSERT_EQ(cfg->admin_listen_port, 4001);
    config_free(cfg);
    cfg = load("", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT(cfg->admin_listen_host == NULL); /* off by default */
    config_free(cfg);

    ASSERT(load_validate("admin:\n  listen: localhost:4001\n", &err) == 0);
    ASSERT(load_validate("admin:\n  listen: 127.0.0.2:4001\n", &err) == 0);
    /* Without TLS the admin API's bearer tokens must not cross a network. */
    ASSERT(load_validate("admin:\n  listen: ':4001'\n", &err) != 0);
    ASSERT_STREQ(err.msg, "2:11: admin.listen: must be a loopback address (127.0.0.0/8, [::1], localhost) unless "
                          "TLS is configured, got ':4001'");
    ASSERT(load_validate("admin:\n  listen: 192.0.2.1:4001\n", &err) != 0);
    ASSERT(load_validate("admin:\n  listen: 127.0.0.1\n", &err) != 0);
    ASSERT(contains(err.msg, "admin.listen: expected host:port"));
    ASSERT(load_validate("listen: 127.0.0.1:4000\nadmin:\n  listen: 127.0.0.1:4000\n", &err) != 0);
    ASSERT(contains(err.msg, "admin.listen: must differ from listen"));
}

TEST(config_validate_tls)
{
    struct errbuf err;
    const char *https = "issuer: https://id.example.com\n";
    char y[512];
    snprintf(y, sizeof(y), "%stls:\n  cert_file: c.pem\n  key_file: k.pem\n", https);
    struct config *cfg = load(y, &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_STREQ(cfg->tls.cert_file, "c.pem");
    ASSERT_EQ(cfg->tls.hsts_max_age, 31536000);
    config_free(cfg);
    /* Both files or neither. */
    snprintf(y, sizeof(y), "%stls:\n  cert_file: c.pem\n", https);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT_STREQ(err.msg,
                 "3:14: tls.cert_file: tls.cert_file and tls.key_file go together: set both or neither");
    snprintf(y, sizeof(y), "%stls:\n  key_file: k.pem\n", https);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "tls.key_file: tls.cert_file and tls.key_file go together"));
    snprintf(y, sizeof(y), "%stls:\n  cert_file: ''\n  key_file: k.pem\n", https);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "tls.cert_file: must not be empty"));
    /* TLS serves an https issuer. */
    ASSERT(load_validate("tls:\n  cert_file: c.pem\n  key_file: k.pem\n", &err) != 0);
    ASSERT(contains(err.msg, "issuer: must be an https URL when TLS is on"));
    /* With TLS the admin listener may face the network. */
    snprintf(y, sizeof(y), "%stls:\n  cert_file: c.pem\n  key_file: k.pem\nadmin:\n  listen: ':4001'\n",
             https);
    ASSERT_EQ(load_validate(y, &err), 0);
    snprintf(y, sizeof(y), "%stls:\n  hsts_max_age: 63244801\n", https);
    ASSERT(load_validate(y, &err) != 0);
    ASSERT(contains(err.msg, "tls.hsts_max_age: must be between 0 and 63244800"));
}

TEST(config_keep_restart_settings)
{
    struct errbuf err;
    struct config *run =
        load("listen: 127.0.0.1:4000\nkeys:\n  algorithms: [RS256]\ntokens:\n  code_ttl: 30\n", &err);
    struct config *next = load("listen: 127.0.0.1:5000\nkeys:\n  algorithms: [RS256, ES256]\n  secret: "
                               "'abcdefghijabcdefghijabcdefghij0123'\ntokens:\n  code_ttl: 45\n",
                               &err);
    ASSERT(run != NULL && next != NULL);
    ASSERT_EQ(config_validate(run, &err), 0);
    ASSERT_EQ(config_validate(next, &err), 0);
    struct arena *a = arena_new(1024);
    struct strbuf sb;
    strbuf_init(&sb, a, 1024);
    /* Read at start only: listen, keys.algorithms, keys.secret; reloaded: tokens.code_ttl. */
    ASSERT_EQ(config_keep_restart_settings(next, run, &sb), 3);
    ASSERT_STREQ(strbuf_str(&sb), "listen keys.algorithms keys.secret");
    ASSERT_EQ(config_validate(next, &err), 0);
    ASSERT_STREQ(next->listen, "127.0.0.1:4000");
    ASSERT_EQ(next->listen_port, 4000);
    ASSERT_EQ(next->keys.n_algorithms, 1);
    ASSERT_STREQ(next->keys.algorithms[0], "RS256");
    ASSERT(next->keys.secret == NULL);
    ASSERT_EQ(next->tokens.code_ttl, 45);
    /* Nothing differs any more. */
    strbuf_init(&sb, a, 1024);
    ASSERT_EQ(config_keep_restart_settings(next, run, &sb), 0);
    arena_free(a);
    config_free(run);
    config_free(next);
}

TEST(config_validate_misc_keys)
{
    struct errbuf err;
    /* A database URL may carry a password: only its scheme is shown. */
    ASSERT(load_validate("storage: mysql://user:hunter2@db/ostiary\n", &err) != 0);
    ASSERT_STREQ(err.msg, "1:10: storage: unsupported storage 'mysql'; expected sqlite:<path> or "
                          "postgres://user:password@host:port/database");
    ASSERT_EQ(load_validate("storage: postgres://user:hunter2@db/ostiary\n", &err), 0);
    ASSERT_EQ(load_validate("storage: postgresql://db/ostiary?sslmode=verify-full\n", &err), 0);
    ASSERT(load_validate("storage: postgres:db\n", &err) != 0);
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


TEST(config_validate_key_rotation)
{
    struct errbuf err;
    /* Off by default: publish_ahead alone is not checked. */
    ASSERT_EQ(load_validate("keys: { publish_ahead: 0 }\n", &err), 0);
    ASSERT_EQ(load_validate("keys: { rotation_period: 7776000 }\n", &err), 0);
    ASSERT_EQ(load_validate("keys: { rotation_period: 10, publish_ahead: 5, reload_interval: 5 }\n", &err),
              0);
    ASSERT(load_validate("keys: { rotation_period: 7776000, publish_ahead: 30 }\n", &err) != 0);
    ASSERT(contains(err.msg, "1:50: keys.publish_ahead: must be at least keys.reload_interval (60)"));
    ASSERT(load_validate("keys: { rotation_period: 3600 }\n", &err) != 0);
    ASSERT(contains(err.msg,
                    "keys.rotation_period: must be longer than keys.publish_ahead (86400), got 3600"));
    ASSERT(load_validate("keys: { rotation_period: 3600, publish_ahead: 3600 }\n", &err) != 0);
    ASSERT(contains(err.msg, "keys.rotation_period: must be longer than keys.publish_ahead (3600)"));
}


TEST(config_validate_resource_format)
{
    struct errbuf err;
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    access_token_format: paseto\n", &err) != 0);
    ASSERT_STREQ(err.msg, "3:26: resources[0].access_token_format: must be jwt or opaque, got 'paseto'");
    ASSERT(load_validate("resources:\n  - identifier: api\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].identifier: must be an absolute URI"));
    ASSERT(load_validate("resources:\n  - scopes: [a]\n", &err) != 0);
    ASSERT_STREQ(err.msg, "2:5: resources[0].identifier: required");
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n  - identifier: urn:a\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[1].identifier: duplicate"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    scopes: ['a\"b']\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].scopes[0]: invalid scope token"));
    ASSERT_EQ(load_validate("resources:\n  - identifier: urn:a\n    access_token_format: opaque\n", &err), 0);
}

TEST(config_validate_resource_audience)
{
    struct errbuf err;
    ASSERT_EQ(load_validate("resources:\n  - identifier: urn:a\n    audience: DomainApi\n"
                            "  - identifier: urn:b\n    audience: urn:b\n",
                            &err),
              0);
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    audience: Domain Api\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].audience: must be 1..255 visible ASCII characters (no spaces), got "
                             "'Domain Api'"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    audience: \"\"\n", &err) != 0);
    ASSERT(contains(err.msg, "resources[0].audience: must be 1..255"));
    /* audience= accepts a name or an identifier: neither may name two APIs. */
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    audience: urn:b\n"
                         "  - identifier: urn:b\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "resources[0].audience: 'urn:b' already names resources[1]"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n"
                         "  - identifier: urn:b\n    audience: urn:a\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "resources[1].audience: 'urn:a' already names resources[0]"));
    ASSERT(load_validate("resources:\n  - identifier: urn:a\n    audience: api\n  - identifier: urn:b\n"
                         "    audience: api\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "resources[1].audience: 'api' already names resources[0]"));
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
    ASSERT_STREQ(err.msg, "1:18: sessions.ttl: invalid unsigned integer '1h'");
    ASSERT(load("pkce: { required: sometimes }\n", &err) == NULL);
    ASSERT(contains(err.msg, "pkce.required: invalid boolean 'sometimes'"));
    ASSERT(load("login: { max_failure: 3 }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:10: login.max_failure: unknown key");
    ASSERT(load_validate("refresh: { refresh_grace_period: 301 }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "1:34: refresh.refresh_grace_period: must be between 0 and 300, got 301");
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

/* passwords.argon2id: a section inside a section, in the file and from the environment, with its bounds. */
TEST(config_nested_section_argon2id)
{
    struct errbuf err;
    struct config *cfg = load("", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(cfg->passwords.argon2id.memory_kib, 19456);
    ASSERT_EQ(cfg->passwords.argon2id.iterations, 2);
    config_free(cfg);
    cfg = load("passwords:\n  argon2id: { memory_kib: 65536, iterations: 3 }\n", &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(config_validate(cfg, &err), 0);
    ASSERT_EQ(cfg->passwords.argon2id.memory_kib, 65536);
    ASSERT_EQ(cfg->passwords.argon2id.iterations, 3);
    char *envp[] = {"OSTIARY_PASSWORDS_ARGON2ID_MEMORY_KIB=8192", "OSTIARY_PASSWORDS_ARGON2ID_ITERATIONS=1", NULL};
    ASSERT_EQ(config_apply_env(cfg, envp, &err), 0);
    ASSERT_EQ(cfg->passwords.argon2id.memory_kib, 8192);
    ASSERT_EQ(cfg->passwords.argon2id.iterations, 1);
    config_free(cfg);
    ASSERT(load("passwords: { argon2id: { lanes: 4 } }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:26: passwords.argon2id.lanes: unknown key");
    ASSERT(load_validate("passwords: { argon2id: { memory_kib: 4 } }\n", &err) != 0);
    ASSERT(contains(err.msg, "passwords.argon2id.memory_kib: must be between 8 and 1048576, got 4"));
    ASSERT(load_validate("passwords: { argon2id: { iterations: 0 } }\n", &err) != 0);
    ASSERT(contains(err.msg, "passwords.argon2id.iterations: must be between 1 and 64, got 0"));
    ASSERT(load("passwords: { argon2id: 5 }\n", &err) == NULL);
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
    ASSERT_STREQ(err.msg, "4098:5: users: too many entries (at most 4096)");
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
                 "1:30: trusted_proxies[1]: invalid prefix length (expected /0 to /32 after an IPv4 address), "
                 "got '10.0.0.0/33'");
    ASSERT(load_validate("trusted_proxies: [\"fd00::1/8\"]\n", &err) != 0);
    ASSERT(contains(err.msg, "trusted_proxies[0]: address has bits set after the prefix length"));
    ASSERT(load_validate("trusted_proxies: [\"\"]\n", &err) != 0);
    ASSERT(contains(err.msg, "trusted_proxies[0]: not an IPv4 or IPv6 address"));
    ASSERT(load_validate("trusted_proxies: 127.0.0.1\n", &err) != 0);
    ASSERT_STREQ(err.msg, "1:18: trusted_proxies: expected a list, got a scalar");
    ASSERT_EQ(load_validate("trusted_proxies: []\n", &err), 0);

    /* At most 64 entries, from the file or the environment. */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof(big), "trusted_proxies:\n");
    for (int i = 0; i <= 64; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "  - 10.0.%d.0/24\n", i);
    ASSERT(load(big, &err) == NULL);
    ASSERT_STREQ(err.msg, "66:5: trusted_proxies: too many entries (at most 64)");
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

/* What libyaml's events are checked for, and where messages point. */
TEST(config_yaml_refusals_with_positions)
{
    struct errbuf err;
    static const char nul[] = "issuer: \"a\\0b\"\n";
    ASSERT(load(nul, &err) == NULL);
    ASSERT_STREQ(err.msg, "1:9: issuer: must not contain a NUL character");
    ASSERT(load("keys: &k {}\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:7: keys: YAML anchors and aliases are not supported");
    ASSERT(load("issuer: \xff\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "YAML syntax error at byte 8: invalid leading UTF-8 octet");
    ASSERT(load("tokens: { code_ttl: 30\n", &err) == NULL);
    ASSERT(contains(err.msg, "YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping at 1:9)"));
    ASSERT(load("? [a]\n: 1\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "1:3: top level: expected a scalar key, got a list");
    ASSERT(load("issuer: http://localhost:4000\n---\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:1: only one YAML document is allowed (found a second '---')");
    ASSERT(load("tokens:\n  code_ttl: 30\n  code_ttl: 31\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "3:3: tokens.code_ttl: duplicate key");
    ASSERT(load("users:\n  - username: a\n    address: { country: UK, country: FR }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "3:29: users[0].address.country: duplicate key");
    /* Tags are ignored, a directive and an explicit end of document are fine. */
    struct config *cfg = load("%YAML 1.1\n---\nissuer: !!str http://localhost:4000\ntokens: { code_ttl: !!int 30 }\n...\n",
                              &err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(cfg->tokens.code_ttl, 30);
    config_free(cfg);
}

/* A value keeps its file position only while it is the file's: the environment and flags take it away,
 * and inside a list entry a missing key is placed at its entry, never at a section around a setting. */
TEST(config_positions_follow_the_value)
{
    struct errbuf err;
    struct config *cfg = load("issuer: http://id.example.com\nlisten: nowhere\nkeys:\n  algorithms: [RS256]\n"
                              "resources:\n  - scopes: [a]\n",
                              &err);
    ASSERT(cfg != NULL);
    unsigned line = 0, col = 0;
    ASSERT(config_position(cfg, "keys.algorithms[0]", &line, &col));
    ASSERT_EQ(line, 4);
    ASSERT_EQ(col, 16);
    ASSERT(config_position(cfg, "resources[0].identifier", &line, &col)); /* the entry */
    ASSERT_EQ(line, 6);
    ASSERT_EQ(col, 5);
    ASSERT(!config_position(cfg, "tokens.code_ttl", &line, &col)); /* a default */
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT(contains(err.msg, "1:9: issuer: plain http is only allowed"));
    char *env[] = {"OSTIARY_ISSUER=http://elsewhere.example.com", "OSTIARY_KEYS_ALGORITHMS=RS256,HS256", NULL};
    ASSERT_EQ(config_apply_env(cfg, env, &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT(contains(err.msg, "issuer: plain http is only allowed"));
    ASSERT(err.msg[0] == 'i'); /* no position: the environment's value */
    ASSERT_EQ(config_set(cfg, "issuer", "http://localhost:4000", "--issuer", &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    ASSERT_STREQ(err.msg, "2:9: listen: expected host:port, [ipv6]:port or :port, got 'nowhere'");
    ASSERT_EQ(config_set(cfg, "listen", ":4000", "--listen", &err), 0);
    ASSERT(config_validate(cfg, &err) != 0);
    /* Not the file's keys: at line 3: the list came from the environment. */
    ASSERT_STREQ(err.msg, "keys.algorithms[1]: unsupported algorithm 'HS256' (allowed: RS256, ES256, EdDSA)");
    ASSERT(config_set(cfg, "workers", "many", "--workers", &err) != 0);
    ASSERT_STREQ(err.msg, "--workers: invalid unsigned integer 'many'");
    ASSERT(config_set(cfg, "resources", "x", "--x", &err) != 0);
    config_free(cfg);
}

TESTS(T(config_yaml_refusals_with_positions), T(config_positions_follow_the_value), T(config_example_loads),
      T(config_defaults), T(config_load_file_prefixes_errors_with_path), T(config_unknown_key_names_the_key),
      T(config_wrong_type), T(config_yaml_errors), T(config_long_secret_is_not_echoed), T(config_file_size_cap),
      T(config_env_overrides), T(config_env_bad_value), T(config_env_unknown_variable),
      T(config_validate_http_issuer), T(config_validate_issuer_path), T(config_validate_listen),
      T(config_validate_admin_listen), T(config_validate_tls), T(config_keep_restart_settings),
      T(config_validate_misc_keys), T(config_validate_bad_alg), T(config_validate_secret),
      T(config_validate_key_rotation),
      T(config_validate_resource_format), T(config_validate_resource_audience), T(config_set_str_replaces),
      T(config_interactive_sections_load), T(config_nested_section_argon2id),
      T(config_env_interactive_keys), T(config_users_load), T(config_users_too_many), T(config_trusted_proxies))
