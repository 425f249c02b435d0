/* config.h: the server configuration. One YAML file (libcyaml schema in config.c), then OSTIARY_*
 * environment variables, then command-line flags, then validation. Owner: main (config_free).
 *
 * Environment names: OSTIARY_ + the key path upper-cased with '.' -> '_':
 *   OSTIARY_ISSUER, OSTIARY_LISTEN, OSTIARY_STORAGE, OSTIARY_WORKERS, OSTIARY_LOG_LEVEL, OSTIARY_DEV,
 *   OSTIARY_KEYS_ALGORITHMS (comma list), OSTIARY_KEYS_SECRET, OSTIARY_KEYS_SECRET_FILE,
 *   OSTIARY_TOKENS_ACCESS_TOKEN_TTL, OSTIARY_TOKENS_REFRESH_TOKEN_TTL, OSTIARY_TOKENS_ID_TOKEN_TTL,
 *   OSTIARY_TOKENS_CODE_TTL, OSTIARY_LIMITS_MAX_BODY_BYTES, OSTIARY_LIMITS_MAX_PARAMS,
 *   OSTIARY_LIMITS_MAX_HEADER_BYTES, OSTIARY_LIMITS_REQUEST_TIMEOUT_MS, OSTIARY_KEYS_RELOAD_INTERVAL,
 *   OSTIARY_TRUSTED_PROXIES (comma list).
 * Booleans: true/false, yes/no, 1/0 (any case). Any other OSTIARY_* variable is an error (a typo would
 * otherwise be silently ignored), except OSTIARY_CONFIG, the config path read by main.
 * The lists (clients, resources) come from the file only. Every error names the key and the reason:
 *   "<file>: <key path>: <reason>"   from config_load (config_load_buffer: no "<file>: " prefix),
 *       e.g. "ostiary.yaml: tokens.access_token_ttl: invalid unsigned integer 'abc'",
 *            "ostiary.yaml: clients[1].secret: unknown key",
 *            "ostiary.yaml: YAML syntax error near line 3: <libyaml's problem>";
 *   "OSTIARY_<NAME>: <reason>"       from config_apply_env;
 *   "<key path>: <reason>"           from config_validate, e.g. "clients[0].client_id: duplicate 'a' ...".
 * Secrets (keys.secret, client secrets) and database URLs are never echoed in a message.
 * Files over 1 MiB, YAML anchors/aliases and multi-document files are refused. */
#ifndef OSTIARY_CONFIG_H
#define OSTIARY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct ipnet;

struct cfg_resource {
    char *identifier;            /* the API's audience value, e.g. urn:focus:api */
    char **scopes;               /* scopes this API accepts */
    unsigned n_scopes;
    char *access_token_format;   /* "jwt" (RFC 9068, default) or "opaque" */
    char *signing_alg;           /* for jwt: RS256 (default), ES256, EdDSA */
    uint32_t access_token_ttl;   /* seconds; 0 = tokens.access_token_ttl */
};

struct cfg_client {
    char *client_id;
    char *client_secret;         /* clear secret as given (hashed at start, never stored in clear) */
    char *client_secret_sha256;  /* or: base64 of SHA-256 of the secret */
    char *client_name;
    char *application_type;      /* web (default) | native: only native loopback redirect URIs vary in port */
    char **grant_types;
    unsigned n_grant_types;
    char **redirect_uris;
    unsigned n_redirect_uris;
    char *token_endpoint_auth_method; /* client_secret_basic (default), client_secret_post, none */
    char *scope;                 /* space-separated allowed scopes; also the default when none requested */
    char **resources;            /* APIs this client may ask tokens for; empty = any configured */
    unsigned n_resources;
    uint32_t access_token_ttl;   /* seconds; 0 = API/global default */
    /* Interactive flows (authorization code). */
    char **post_logout_redirect_uris;
    unsigned n_post_logout_redirect_uris;
    char *id_token_signed_response_alg; /* RS256 (default), ES256, EdDSA: must be in keys.algorithms */
    char *refresh_token_policy;  /* offline_consent (default, OIDC Core §11) | offline_access | always */
    char **pkce_methods;         /* allowed code_challenge_method values; default [S256]; add plain to allow it */
    unsigned n_pkce_methods;
    char *require_pkce;          /* "true"/"false"/NULL: NULL = pkce.required; public clients always */
    bool require_pkce_set, require_pkce_value; /* derived from require_pkce by config_validate */
    /* Introspection (RFC 7662 §4): which access tokens this client may introspect. */
    char *introspection_access;  /* all (default) | own | resources */
    char **introspection_resources; /* with `resources`: APIs (resources[].identifier) whose tokens it sees */
    unsigned n_introspection_resources;
};

/* An end user declared in the file (like Dex's static passwords): applied at start. */
struct cfg_address {
    char *formatted, *street_address, *locality, *region, *postal_code, *country;
};
struct cfg_user {
    char *id;                    /* stable subject identifier; default: derived from username */
    char *username;
    char *password;              /* clear (hashed with argon2id at start; CFG_SECRET) */
    char *password_hash;         /* or an argon2id encoded hash ($argon2id$v=19$...) */
    bool disabled;
    /* OIDC Core §5.1 standard claims (all optional). */
    char *name, *given_name, *family_name, *middle_name, *nickname, *preferred_username, *profile, *picture,
        *website, *email, *gender, *birthdate, *zoneinfo, *locale, *phone_number;
    char *email_verified;        /* "true"/"false" (string for the checked parser), NULL = absent */
    char *phone_number_verified;
    struct cfg_address *address; /* NULL = absent */
};

struct config {
    char *issuer;                /* e.g. http://localhost:4000 or http://localhost:4000/authentication/oidc */
    char *listen;                /* host:port, default 127.0.0.1:4000 */
    char *storage;               /* default sqlite:./var/ostiary.db */
    uint32_t workers;            /* 0 = number of cores */
    char *log_level;             /* debug|info|warn|error, default info */
    bool dev;                    /* dev mode: plain HTTP anywhere, generated key secret, demo client */
    bool http2_cleartext;        /* HTTP/2 with prior knowledge on the plain listener; default false */
    char **trusted_proxies;      /* reverse proxies whose X-Forwarded-For is believed: IPs or CIDRs; none */
    unsigned n_trusted_proxies;
    struct {
        char **algorithms;       /* default [RS256] */
        unsigned n_algorithms;
        char *secret;            /* key-encryption secret (CFG_SECRET: never logged) */
        char *secret_file;       /* or a file holding it; dev mode generates ./var/key-secret */
        uint32_t reload_interval; /* seconds between key reloads from the store, default 60 */
    } keys;
    struct {
        uint32_t access_token_ttl;  /* default 600 */
        uint32_t refresh_token_ttl; /* default 1209600 (14 days) */
        uint32_t id_token_ttl;      /* default 3600 */
        uint32_t code_ttl;          /* default 60 */
    } tokens;
    struct {
        uint32_t max_body_bytes;     /* default 65536 -> 413 */
        uint32_t max_params;         /* default 64 -> 400 */
        uint32_t max_header_bytes;   /* default 16384 -> 431 */
        uint32_t request_timeout_ms; /* default 10000: a request not fully received in time: connection closed */
        uint32_t login_queue;        /* default 32: login posts waiting for a hashing thread; more -> 503 */
    } limits;
    struct {
        uint32_t ttl;            /* login session lifetime, seconds; default 86400 */
        char *cookie_name;       /* default "ostiary_session" */
    } sessions;
    struct {
        uint32_t refresh_grace_period; /* seconds a rotated refresh token may be retried once; default 0 */
    } refresh;
    struct {
        bool allow_query_token;  /* RFC 6750 §2.3 ?access_token= at userinfo; default false (leaks into logs) */
    } userinfo;
    struct {
        bool required;           /* PKCE for every client (default true); public clients always */
    } pkce;
    struct {
        uint32_t max_failures;   /* failed logins before a delay; default 5 */
        uint32_t lockout_seconds; /* first delay; doubles per further failure, capped at 15 min; default 30 */
    } login;
    struct {
        char *dir;               /* templates directory an operator can restyle; NULL = built-in web/ */
    } ui;
    struct cfg_resource *resources;
    unsigned n_resources;
    struct cfg_client *clients;
    unsigned n_clients;
    struct cfg_user *users;
    unsigned n_users;

    /* Derived by config_validate(), not read from the file. */
    char *issuer_path;           /* path part of issuer without trailing '/', "" for none */
    char *listen_host;
    uint16_t listen_port;
    struct ipnet *trusted_proxy_nets; /* trusted_proxies parsed (core/ipnet.h), n_trusted_proxies long */
};

/* Loads `path` (NULL: defaults only), applies OSTIARY_* from envp (NULL: none), but does not validate.
 * On success *out is owned by the caller (config_free); on failure *out is untouched and err says why. */
int config_load(const char *path, char *const *envp, struct config **out, struct errbuf *err);
/* Parses a YAML document from memory (used by config_load and the fuzz target) over the documented
 * defaults; an empty document gives the defaults. Does not read the environment. */
int config_load_buffer(const char *yaml, size_t len, struct config **out, struct errbuf *err);
/* Applies OSTIARY_* variables from envp ("NAME=value" strings, NULL-terminated) on top of cfg. On error
 * cfg may be partly updated; the caller frees it. */
int config_apply_env(struct config *cfg, char *const *envp, struct errbuf *err);
/* Checks every value and fills the derived fields. err names the key, e.g. "tokens.access_token_ttl: ...".
 * Also fills per-entry defaults: resources[].access_token_format (jwt), resources[].signing_alg (RS256 if
 * in keys.algorithms, else the first one), clients[].token_endpoint_auth_method (client_secret_basic
 * with a secret, else none), clients[].grant_types (authorization_code with redirect_uris, else
 * client_credentials). Strips trailing '/' from issuer. listen_host is unbracketed ("::1"); ":port"
 * gives "0.0.0.0". Parses trusted_proxies into trusted_proxy_nets. Idempotent: may be called again after
 * more config_set_str() calls. */
int config_validate(struct config *cfg, struct errbuf *err);
/* Replaces a string field (flags override) with a heap copy of value (NULL clears it), freeing the old
 * one. Works on any char * field of struct config, including those of resources[] and clients[]. */
void config_set_str(char **field, const char *value);
/* Frees cfg and everything it points to (secrets are wiped first). NULL is a no-op. */
void config_free(struct config *cfg);

#endif
