/* config.c: the server configuration (config.h): YAML file through a libcyaml schema, OSTIARY_* environment
 * overrides from one key table, and validation (RFC 6749 §2-3, RFC 8707 §2, OIDC Discovery §4 / RFC 8414 §2).
 * Command-line flags are applied by main through config_set_str(); nothing here reads the real
 * environment. */
#include "core/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cyaml/cyaml.h>

#include "core/arena.h"
#include "core/str.h"

#include "core/ipnet.h"
#include "core/validate.h"
#include "core/banned.h"

#define CONFIG_MAX_FILE_BYTES (1024u * 1024u) /* refuse anything bigger before parsing */
#define CFG_MAX_STR 4096u                     /* longest accepted scalar, in bytes */

/* List caps. Besides catching mistakes, they bound the quadratic duplicate checks in config_validate()
 * so that a hostile (or fuzzed) file cannot make validation slow. */
#define CFG_MAX_ALGORITHMS 8u
#define CFG_MAX_RESOURCES 256u
#define CFG_MAX_SCOPES 256u
#define CFG_MAX_CLIENTS 4096u
#define CFG_MAX_GRANTS 8u
#define CFG_MAX_REDIRECTS 64u
#define CFG_MAX_CLIENT_RESOURCES 64u
#define CFG_MAX_PKCE_METHODS 4u
#define CFG_MAX_USERS 4096u
#define CFG_MAX_USERNAME 255u
#define CFG_MAX_TRUSTED_PROXIES 64u

/* ------------------------------------------------------------------------------------------------------
 * The file schema. libcyaml loads into these "raw" mirrors of struct config, in which every number and
 * boolean is kept as a string: libcyaml's own conversions accept "12abc" (strtoull without an end check),
 * octal "010" and any non-false word as true, and cannot tell an absent key from an explicit 0. The strings
 * are then converted by the same checked parsers the environment overrides use.
 * ------------------------------------------------------------------------------------------------------ */

struct raw_keys {
    char **algorithms;
    unsigned n_algorithms;
    char *secret;
    char *secret_file;
    char *reload_interval;
};

struct raw_tokens {
    char *access_token_ttl;
    char *refresh_token_ttl;
    char *id_token_ttl;
    char *code_ttl;
};

struct raw_limits {
    char *max_body_bytes;
    char *max_params;
    char *max_header_bytes;
    char *request_timeout_ms;
    char *login_queue;
};

struct raw_resource {
    char *identifier;
    char **scopes;
    unsigned n_scopes;
    char *access_token_format;
    char *signing_alg;
    char *access_token_ttl;
};

struct raw_client {
    char *client_id;
    char *client_secret;
    char *client_secret_sha256;
    char *client_name;
    char *application_type;
    char **grant_types;
    unsigned n_grant_types;
    char **redirect_uris;
    unsigned n_redirect_uris;
    char *token_endpoint_auth_method;
    char *scope;
    char **resources;
    unsigned n_resources;
    char *access_token_ttl;
    char **post_logout_redirect_uris;
    unsigned n_post_logout_redirect_uris;
    char *id_token_signed_response_alg;
    char *refresh_token_policy;
    char **pkce_methods;
    unsigned n_pkce_methods;
    char *require_pkce;
    char *introspection_access;
    char **introspection_resources;
    unsigned n_introspection_resources;
};

struct raw_sessions {
    char *ttl;
    char *cookie_name;
};

struct raw_refresh {
    char *refresh_grace_period;
};

struct raw_userinfo {
    char *allow_query_token;
};

struct raw_pkce {
    char *required;
};

struct raw_login {
    char *max_failures;
    char *lockout_seconds;
};

struct raw_ui {
    char *dir;
};

/* The address claim is all strings, so libcyaml loads it straight into struct cfg_address. */
struct raw_user {
    char *id;
    char *username;
    char *password;
    char *password_hash;
    char *disabled;
    char *name, *given_name, *family_name, *middle_name, *nickname, *preferred_username, *profile, *picture,
        *website, *email, *gender, *birthdate, *zoneinfo, *locale, *phone_number;
    char *email_verified;
    char *phone_number_verified;
    struct cfg_address *address;
};

struct raw_config {
    char *issuer;
    char *listen;
    char *storage;
    char *workers;
    char *log_level;
    char *dev;
    char *http2_cleartext;
    char **trusted_proxies;
    unsigned n_trusted_proxies;
    struct raw_keys keys;
    struct raw_tokens tokens;
    struct raw_limits limits;
    struct raw_sessions sessions;
    struct raw_refresh refresh;
    struct raw_userinfo userinfo;
    struct raw_pkce pkce;
    struct raw_login login;
    struct raw_ui ui;
    struct raw_resource *resources;
    unsigned n_resources;
    struct raw_client *clients;
    unsigned n_clients;
    struct raw_user *users;
    unsigned n_users;
};

#define OPT CYAML_FLAG_OPTIONAL
#define F_STR(key, type, member) CYAML_FIELD_STRING_PTR(key, OPT, type, member, 0, CFG_MAX_STR)
#define F_LIST(key, type, member, count, max)                                                                \
    CYAML_FIELD_SEQUENCE_COUNT(key, CYAML_FLAG_POINTER | OPT, type, member, count, &str_entry_schema, 0, max)

static const cyaml_schema_value_t str_entry_schema = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CFG_MAX_STR),
};

static const cyaml_schema_field_t keys_fields[] = {
    F_LIST("algorithms", struct raw_keys, algorithms, n_algorithms, CFG_MAX_ALGORITHMS),
    F_STR("secret", struct raw_keys, secret),
    F_STR("secret_file", struct raw_keys, secret_file),
    F_STR("reload_interval", struct raw_keys, reload_interval),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t tokens_fields[] = {
    F_STR("access_token_ttl", struct raw_tokens, access_token_ttl),
    F_STR("refresh_token_ttl", struct raw_tokens, refresh_token_ttl),
    F_STR("id_token_ttl", struct raw_tokens, id_token_ttl),
    F_STR("code_ttl", struct raw_tokens, code_ttl),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t limits_fields[] = {
    F_STR("max_body_bytes", struct raw_limits, max_body_bytes),
    F_STR("max_params", struct raw_limits, max_params),
    F_STR("max_header_bytes", struct raw_limits, max_header_bytes),
    F_STR("request_timeout_ms", struct raw_limits, request_timeout_ms),
    F_STR("login_queue", struct raw_limits, login_queue),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t resource_fields[] = {
    F_STR("identifier", struct raw_resource, identifier),
    F_LIST("scopes", struct raw_resource, scopes, n_scopes, CFG_MAX_SCOPES),
    F_STR("access_token_format", struct raw_resource, access_token_format),
    F_STR("signing_alg", struct raw_resource, signing_alg),
    F_STR("access_token_ttl", struct raw_resource, access_token_ttl),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t resource_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_resource, resource_fields),
};

static const cyaml_schema_field_t client_fields[] = {
    F_STR("client_id", struct raw_client, client_id),
    F_STR("client_secret", struct raw_client, client_secret),
    F_STR("client_secret_sha256", struct raw_client, client_secret_sha256),
    F_STR("client_name", struct raw_client, client_name),
    F_STR("application_type", struct raw_client, application_type),
    F_LIST("grant_types", struct raw_client, grant_types, n_grant_types, CFG_MAX_GRANTS),
    F_LIST("redirect_uris", struct raw_client, redirect_uris, n_redirect_uris, CFG_MAX_REDIRECTS),
    F_STR("token_endpoint_auth_method", struct raw_client, token_endpoint_auth_method),
    F_STR("scope", struct raw_client, scope),
    F_LIST("resources", struct raw_client, resources, n_resources, CFG_MAX_CLIENT_RESOURCES),
    F_STR("access_token_ttl", struct raw_client, access_token_ttl),
    F_LIST("post_logout_redirect_uris", struct raw_client, post_logout_redirect_uris,
           n_post_logout_redirect_uris, CFG_MAX_REDIRECTS),
    F_STR("id_token_signed_response_alg", struct raw_client, id_token_signed_response_alg),
    F_STR("refresh_token_policy", struct raw_client, refresh_token_policy),
    F_LIST("pkce_methods", struct raw_client, pkce_methods, n_pkce_methods, CFG_MAX_PKCE_METHODS),
    F_STR("require_pkce", struct raw_client, require_pkce),
    F_STR("introspection_access", struct raw_client, introspection_access),
    F_LIST("introspection_resources", struct raw_client, introspection_resources, n_introspection_resources,
           CFG_MAX_CLIENT_RESOURCES),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t client_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_client, client_fields),
};

static const cyaml_schema_field_t sessions_fields[] = {
    F_STR("ttl", struct raw_sessions, ttl),
    F_STR("cookie_name", struct raw_sessions, cookie_name),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t refresh_fields[] = {
    F_STR("refresh_grace_period", struct raw_refresh, refresh_grace_period),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t userinfo_fields[] = {
    F_STR("allow_query_token", struct raw_userinfo, allow_query_token),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t pkce_fields[] = {
    F_STR("required", struct raw_pkce, required),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t login_fields[] = {
    F_STR("max_failures", struct raw_login, max_failures),
    F_STR("lockout_seconds", struct raw_login, lockout_seconds),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t ui_fields[] = {
    F_STR("dir", struct raw_ui, dir),
    CYAML_FIELD_END,
};

/* OIDC Core §5.1.1. */
static const cyaml_schema_field_t address_fields[] = {
    F_STR("formatted", struct cfg_address, formatted),
    F_STR("street_address", struct cfg_address, street_address),
    F_STR("locality", struct cfg_address, locality),
    F_STR("region", struct cfg_address, region),
    F_STR("postal_code", struct cfg_address, postal_code),
    F_STR("country", struct cfg_address, country),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t user_fields[] = {
    F_STR("id", struct raw_user, id),
    F_STR("username", struct raw_user, username),
    F_STR("password", struct raw_user, password),
    F_STR("password_hash", struct raw_user, password_hash),
    F_STR("disabled", struct raw_user, disabled),
    F_STR("name", struct raw_user, name),
    F_STR("given_name", struct raw_user, given_name),
    F_STR("family_name", struct raw_user, family_name),
    F_STR("middle_name", struct raw_user, middle_name),
    F_STR("nickname", struct raw_user, nickname),
    F_STR("preferred_username", struct raw_user, preferred_username),
    F_STR("profile", struct raw_user, profile),
    F_STR("picture", struct raw_user, picture),
    F_STR("website", struct raw_user, website),
    F_STR("email", struct raw_user, email),
    F_STR("email_verified", struct raw_user, email_verified),
    F_STR("gender", struct raw_user, gender),
    F_STR("birthdate", struct raw_user, birthdate),
    F_STR("zoneinfo", struct raw_user, zoneinfo),
    F_STR("locale", struct raw_user, locale),
    F_STR("phone_number", struct raw_user, phone_number),
    F_STR("phone_number_verified", struct raw_user, phone_number_verified),
    CYAML_FIELD_MAPPING_PTR("address", OPT, struct raw_user, address, address_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t user_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct raw_user, user_fields),
};

static const cyaml_schema_field_t top_fields[] = {
    F_STR("issuer", struct raw_config, issuer),
    F_STR("listen", struct raw_config, listen),
    F_STR("storage", struct raw_config, storage),
    F_STR("workers", struct raw_config, workers),
    F_STR("log_level", struct raw_config, log_level),
    F_STR("dev", struct raw_config, dev),
    F_STR("http2_cleartext", struct raw_config, http2_cleartext),
    F_LIST("trusted_proxies", struct raw_config, trusted_proxies, n_trusted_proxies, CFG_MAX_TRUSTED_PROXIES),
    CYAML_FIELD_MAPPING("keys", OPT, struct raw_config, keys, keys_fields),
    CYAML_FIELD_MAPPING("tokens", OPT, struct raw_config, tokens, tokens_fields),
    CYAML_FIELD_MAPPING("limits", OPT, struct raw_config, limits, limits_fields),
    CYAML_FIELD_MAPPING("sessions", OPT, struct raw_config, sessions, sessions_fields),
    CYAML_FIELD_MAPPING("refresh", OPT, struct raw_config, refresh, refresh_fields),
    CYAML_FIELD_MAPPING("userinfo", OPT, struct raw_config, userinfo, userinfo_fields),
    CYAML_FIELD_MAPPING("pkce", OPT, struct raw_config, pkce, pkce_fields),
    CYAML_FIELD_MAPPING("login", OPT, struct raw_config, login, login_fields),
    CYAML_FIELD_MAPPING("ui", OPT, struct raw_config, ui, ui_fields),
    CYAML_FIELD_SEQUENCE_COUNT("resources", CYAML_FLAG_POINTER | OPT, struct raw_config, resources,
                               n_resources, &resource_schema, 0, CFG_MAX_RESOURCES),
    CYAML_FIELD_SEQUENCE_COUNT("clients", CYAML_FLAG_POINTER | OPT, struct raw_config, clients, n_clients,
                               &client_schema, 0, CFG_MAX_CLIENTS),
    CYAML_FIELD_SEQUENCE_COUNT("users", CYAML_FLAG_POINTER | OPT, struct raw_config, users, n_users,
                               &user_schema, 0, CFG_MAX_USERS),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t top_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct raw_config, top_fields),
};

/* ------------------------------------------------------------------------------------------------------
 * The key table: every scalar setting once, with its environment name, type, default and bounds (Redis's
 * static_configs[]). Defaults, file values, environment overrides, bounds checks and config_free() are all
 * driven from it, so a new setting is one row here plus its field in config.h and raw_config.
 * ------------------------------------------------------------------------------------------------------ */

enum cfg_type { CFG_STR, CFG_U32, CFG_BOOL, CFG_LIST };
enum cfg_key_flags { CFG_SECRET = 1 << 0 }; /* never echoed in any message */

struct cfg_key {
    const char *path; /* key path in the file, used in every message */
    const char *env;  /* OSTIARY_ + path upper-cased, '.' -> '_' */
    enum cfg_type type;
    size_t off;           /* field in struct config */
    size_t raw_off;       /* field in struct raw_config */
    size_t count_off;     /* CFG_LIST: element count in struct config */
    size_t raw_count_off; /* CFG_LIST: element count in struct raw_config */
    const char *def;      /* default, in the same syntax as an environment value; NULL = unset */
    uint32_t min, max;    /* CFG_U32: inclusive bounds checked by config_validate() */
    unsigned flags;
};

/* clang-format off */
#define KEY(path, env, type, field, def, min, max, flags)                                               \
    {path, env, type, offsetof(struct config, field), offsetof(struct raw_config, field), 0, 0, def,    \
     min, max, flags}
#define KEY_LIST(path, env, field, count, def)                                                          \
    {path, env, CFG_LIST, offsetof(struct config, field), offsetof(struct raw_config, field),            \
     offsetof(struct config, count), offsetof(struct raw_config, count), def, 0, 0, 0}

#define DAY 86400u
static const struct cfg_key cfg_keys[] = {
    KEY("issuer", "OSTIARY_ISSUER", CFG_STR, issuer, "http://localhost:4000", 0, 0, 0),
    KEY("listen", "OSTIARY_LISTEN", CFG_STR, listen, "127.0.0.1:4000", 0, 0, 0),
    KEY("storage", "OSTIARY_STORAGE", CFG_STR, storage, "sqlite:./var/ostiary.db", 0, 0, 0),
    KEY("workers", "OSTIARY_WORKERS", CFG_U32, workers, "0", 0, 1024, 0),
    KEY("log_level", "OSTIARY_LOG_LEVEL", CFG_STR, log_level, "info", 0, 0, 0),
    KEY("dev", "OSTIARY_DEV", CFG_BOOL, dev, "false", 0, 0, 0),
    /* Off: a plain-HTTP listener sees HTTP/2 only from clients that assume it without asking (prior
     * knowledge), which in production means a proxy configured for it. */
    KEY("http2_cleartext", "OSTIARY_HTTP2_CLEARTEXT", CFG_BOOL, http2_cleartext, "false", 0, 0, 0),
    /* Default empty: X-Forwarded-For is read from nobody unless the operator names their proxies. */
    KEY_LIST("trusted_proxies", "OSTIARY_TRUSTED_PROXIES", trusted_proxies, n_trusted_proxies, NULL),
    KEY_LIST("keys.algorithms", "OSTIARY_KEYS_ALGORITHMS", keys.algorithms, keys.n_algorithms, "RS256"),
    KEY("keys.secret", "OSTIARY_KEYS_SECRET", CFG_STR, keys.secret, NULL, 0, 0, CFG_SECRET),
    KEY("keys.secret_file", "OSTIARY_KEYS_SECRET_FILE", CFG_STR, keys.secret_file, NULL, 0, 0, 0),
    KEY("keys.reload_interval", "OSTIARY_KEYS_RELOAD_INTERVAL", CFG_U32, keys.reload_interval,
        "60", 1, DAY, 0),
    KEY("tokens.access_token_ttl", "OSTIARY_TOKENS_ACCESS_TOKEN_TTL", CFG_U32, tokens.access_token_ttl,
        "600", 1, 366 * DAY, 0),
    KEY("tokens.refresh_token_ttl", "OSTIARY_TOKENS_REFRESH_TOKEN_TTL", CFG_U32, tokens.refresh_token_ttl,
        "1209600", 1, 3660 * DAY, 0),
    KEY("tokens.id_token_ttl", "OSTIARY_TOKENS_ID_TOKEN_TTL", CFG_U32, tokens.id_token_ttl,
        "3600", 1, 366 * DAY, 0),
    /* RFC 6749 §4.1.2: a maximum authorization code lifetime of 10 minutes is RECOMMENDED. */
    KEY("tokens.code_ttl", "OSTIARY_TOKENS_CODE_TTL", CFG_U32, tokens.code_ttl,
        "60", 1, 600, 0),
    KEY("limits.max_body_bytes", "OSTIARY_LIMITS_MAX_BODY_BYTES", CFG_U32, limits.max_body_bytes,
        "65536", 1024, 16u * 1024 * 1024, 0),
    KEY("limits.max_params", "OSTIARY_LIMITS_MAX_PARAMS", CFG_U32, limits.max_params,
        "64", 8, 4096, 0),
    KEY("limits.max_header_bytes", "OSTIARY_LIMITS_MAX_HEADER_BYTES", CFG_U32, limits.max_header_bytes,
        "16384", 1024, 1024 * 1024, 0),
    KEY("limits.request_timeout_ms", "OSTIARY_LIMITS_REQUEST_TIMEOUT_MS", CFG_U32, limits.request_timeout_ms,
        "10000", 100, 600000, 0),
    /* Login posts waiting for a password-hashing thread; a full queue answers 503 at once. */
    KEY("limits.login_queue", "OSTIARY_LIMITS_LOGIN_QUEUE", CFG_U32, limits.login_queue,
        "32", 1, 100000, 0),
    KEY("sessions.ttl", "OSTIARY_SESSIONS_TTL", CFG_U32, sessions.ttl, "86400", 60, 366 * DAY, 0),
    KEY("sessions.cookie_name", "OSTIARY_SESSIONS_COOKIE_NAME", CFG_STR, sessions.cookie_name,
        "ostiary_session", 0, 0, 0),
    /* RFC 9700 §4.14.2: off by default (any reuse of a rotated token revokes the family, as Hydra and
     * Auth0 default to); a grace period trades some of that detection for tolerance of lost responses. */
    KEY("refresh.refresh_grace_period", "OSTIARY_REFRESH_REFRESH_GRACE_PERIOD", CFG_U32,
        refresh.refresh_grace_period, "0", 0, 300, 0),
    KEY("userinfo.allow_query_token", "OSTIARY_USERINFO_ALLOW_QUERY_TOKEN", CFG_BOOL, userinfo.allow_query_token,
        "false", 0, 0, 0),
    KEY("pkce.required", "OSTIARY_PKCE_REQUIRED", CFG_BOOL, pkce.required, "true", 0, 0, 0),
    KEY("login.max_failures", "OSTIARY_LOGIN_MAX_FAILURES", CFG_U32, login.max_failures, "5", 1, 1000, 0),
    /* The first delay; the limiter doubles it per further failure up to 15 minutes (session/users.h). */
    KEY("login.lockout_seconds", "OSTIARY_LOGIN_LOCKOUT_SECONDS", CFG_U32, login.lockout_seconds,
        "30", 1, 900, 0),
    KEY("ui.dir", "OSTIARY_UI_DIR", CFG_STR, ui.dir, NULL, 0, 0, 0),
};
/* clang-format on */
#define N_CFG_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* Per-entry access_token_ttl of resources and clients: 0 means "inherit". */
#define ENTRY_TTL_MAX (366 * DAY)

/* The environment variable main reads the config path from; allowed although it is not a key. */
#define ENV_CONFIG_PATH "OSTIARY_CONFIG"
#define ENV_PREFIX "OSTIARY_"

/* ------------------------------------------------------------------------------------------------------
 * Small helpers.
 * ------------------------------------------------------------------------------------------------------ */

/* Allocation failure aborts, as everywhere else (STYLE §3.1): config input is size-capped. */
static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        abort();
    return p;
}

/* libcyaml allocates through this, so everything it returns can be released with free() and replaced
 * through config_set_str(). */
static void *cfg_mem(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, size);
}

/* Copies s into out for an error message: printable ASCII only (anything else becomes '?'), truncated
 * with "..." so that a hostile value cannot flood the log or smuggle control characters into it. */
static const char *shown(const char *s, char out[72])
{
    size_t o = 0;
    if (s == NULL)
        s = "";
    for (; *s != '\0' && o < 64; s++)
        out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Checked decimal conversion: digits only, no sign, no whitespace, no leading '+', within uint32_t. */
static int parse_u32(const char *s, uint32_t *out)
{
    int64_t v;
    if (s == NULL || str_to_i64(str_c(s), &v) != 0 || v < 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1"};
    static const char *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static void free_list(char **list, unsigned n)
{
    if (list == NULL)
        return;
    for (unsigned i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

#define FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* Sets one table key from text (a default or an environment value). `where` names the source in messages:
 * the environment variable, or the key path. Returns 0, or ERR_INVALID with err set. */
static int key_set_text(struct config *cfg, const struct cfg_key *k, const char *value, const char *where,
                        struct errbuf *err)
{
    char buf[72];
    switch (k->type) {
    case CFG_STR:
        config_set_str(FIELD(cfg, k->off, char *), value);
        return 0;
    case CFG_U32:
        if (parse_u32(value, FIELD(cfg, k->off, uint32_t)) != 0) {
            errbuf_set(err, "%s: invalid unsigned integer '%s'", where, shown(value, buf));
            return ERR_INVALID;
        }
        return 0;
    case CFG_BOOL:
        if (parse_bool(value, FIELD(cfg, k->off, bool)) != 0) {
            errbuf_set(err, "%s: invalid boolean '%s' (expected true/false, yes/no or 1/0)", where,
                       shown(value, buf));
            return ERR_INVALID;
        }
        return 0;
    case CFG_LIST: {
        /* Comma-separated; blanks around items are ignored; an empty value is an empty list. */
        size_t cap = 1;
        for (const char *p = value; *p != '\0'; p++)
            cap += *p == ',';
        char **list = xcalloc(cap, sizeof(char *));
        unsigned n = 0;
        struct str item;
        for (const char *c = *value != '\0' ? value : NULL; str_list_next(&c, " \t", &item);) {
            if (item.len == 0) {
                errbuf_set(err, "%s: empty item in comma-separated list", where);
                free_list(list, n);
                return ERR_INVALID;
            }
            list[n] = strndup(item.p, item.len);
            if (list[n] == NULL)
                abort();
            n++;
        }
        char ***field = FIELD(cfg, k->off, char **);
        unsigned *count = FIELD(cfg, k->count_off, unsigned);
        free_list(*field, *count);
        *field = list;
        *count = n;
        return 0;
    }
    }
    return ERR_INVALID;
}

/* ------------------------------------------------------------------------------------------------------
 * libcyaml error capture. libcyaml reports through its log callback: one line with the reason ("Load:
 * Unexpected key: foo"), then "Load: Backtrace:" and one line per enclosing node, innermost first
 * ("  in mapping field 'tokens' (line: 3, column: 3)", "  in sequence entry '2' (...)"). We keep the
 * first reason and the frames, and rebuild a key path such as clients[1].grant_types from them.
 * ------------------------------------------------------------------------------------------------------ */

#define CY_MAX_FRAMES 16

struct cy_frame {
    char field[64]; /* mapping field name, or "" */
    long index;     /* sequence entry (libcyaml counts from 1), or -1 */
    unsigned long line;
};

struct cy_log {
    char reason[512];
    bool have_reason;
    bool in_backtrace;
    bool extra_documents;
    struct cy_frame frames[CY_MAX_FRAMES];
    unsigned n_frames;
};

static unsigned long digits_at(const char *s, const char *after)
{
    const char *p = strstr(s, after);
    unsigned long v = 0;
    if (p == NULL)
        return 0;
    for (p += strlen(after); *p >= '0' && *p <= '9' && v < 100000000ul; p++)
        v = v * 10 + (unsigned long)(*p - '0');
    return v;
}

__attribute__((format(printf, 3, 0))) static void cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt,
                                                            va_list args)
{
    struct cy_log *lg = ctx;
    char line[512];
    if (level < CYAML_LOG_WARNING)
        return;
    vsnprintf(line, sizeof(line), fmt, args);
    line[strcspn(line, "\n")] = '\0';
    const char *m = line;
    if (strncmp(m, "Load: ", 6) == 0)
        m += 6;

    if (strncmp(m, "Ignoring documents after first", 30) == 0) {
        lg->extra_documents = true;
        return;
    }
    if (level < CYAML_LOG_ERROR)
        return;
    if (strcmp(m, "Backtrace:") == 0) {
        lg->in_backtrace = true;
        return;
    }
    if (lg->in_backtrace && strncmp(m, "  in ", 5) == 0) {
        if (lg->n_frames == CY_MAX_FRAMES)
            return;
        struct cy_frame *f = &lg->frames[lg->n_frames++];
        f->field[0] = '\0';
        f->index = -1;
        f->line = digits_at(m, "(line: ");
        static const char field_tag[] = "  in mapping field '";
        static const char seq_tag[] = "  in sequence entry '";
        if (strncmp(m, field_tag, sizeof(field_tag) - 1) == 0) {
            const char *name = m + sizeof(field_tag) - 1;
            size_t n = strcspn(name, "'");
            if (n >= sizeof(f->field))
                n = sizeof(f->field) - 1;
            memcpy(f->field, name, n);
            f->field[n] = '\0';
        } else if (strncmp(m, seq_tag, sizeof(seq_tag) - 1) == 0) {
            f->index = (long)digits_at(m, seq_tag);
        }
        return;
    }
    if (!lg->have_reason) {
        lg->have_reason = true;
        snprintf(lg->reason, sizeof(lg->reason), "%s", m);
    }
}

/* Builds "clients[1].scope" from the frames, outermost first. skip_inner drops the innermost frames. */
static void cy_path(const struct cy_log *lg, unsigned skip_inner, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (unsigned i = lg->n_frames; i > skip_inner; i--) {
        const struct cy_frame *f = &lg->frames[i - 1];
        int w = 0;
        if (f->field[0] != '\0')
            w = snprintf(out + o, outsz - o, "%s%s", o > 0 ? "." : "", f->field);
        else if (f->index > 0)
            w = snprintf(out + o, outsz - o, "[%ld]", f->index - 1);
        if (w < 0 || (size_t)w >= outsz - o)
            return;
        o += (size_t)w;
    }
}

static const char *cy_type_name(const char *t)
{
    if (strncmp(t, "STRING", 6) == 0)
        return "a scalar value";
    if (strncmp(t, "MAPPING", 7) == 0)
        return "a mapping";
    if (strncmp(t, "SEQUENCE", 8) == 0)
        return "a list";
    return "something else";
}

static const char *cy_event_name(const char *e)
{
    if (strncmp(e, "SCALAR", 6) == 0)
        return "a scalar";
    if (strncmp(e, "SEQUENCE_START", 14) == 0)
        return "a list";
    if (strncmp(e, "MAPPING_START", 13) == 0)
        return "a mapping";
    return "something else";
}

/* Turns a failed cyaml_load_data() into "<prefix><path>: <reason>". Never copies a scalar value from the
 * YAML into the message: libcyaml's "STRING length > N: <value>" would otherwise echo a secret. */
static void cy_explain(const struct cy_log *lg, cyaml_err_t rc, const char *prefix, struct errbuf *err)
{
    char path[256], key[72];
    const char *r = lg->reason;

    switch (rc) {
    case CYAML_ERR_INVALID_KEY: {
        const char *k = strstr(r, "Unexpected key: ");
        cy_path(lg, 0, path, sizeof(path));
        shown(k != NULL ? k + 16 : "?", key);
        errbuf_set(err, "%s%s%s%s: unknown key", prefix, path, path[0] != '\0' ? "." : "", key);
        return;
    }
    case CYAML_ERR_INVALID_VALUE: {
        const char *t = strstr(r, "Expecting ");
        const char *e = strstr(r, "got event: ");
        cy_path(lg, 0, path, sizeof(path));
        if (t != NULL && e != NULL)
            errbuf_set(err, "%s%s: expected %s, got %s", prefix, path[0] != '\0' ? path : "top level",
                       cy_type_name(t + 10), cy_event_name(e + 11));
        else
            errbuf_set(err, "%s%s: invalid value", prefix, path[0] != '\0' ? path : "top level");
        return;
    }
    case CYAML_ERR_STRING_LENGTH_MAX:
        cy_path(lg, 0, path, sizeof(path));
        errbuf_set(err, "%s%s: value too long (at most %u bytes)", prefix, path, CFG_MAX_STR);
        return;
    case CYAML_ERR_SEQUENCE_ENTRIES_MAX:
        /* The innermost frame is the entry that did not fit, not part of the key's path. */
        cy_path(lg, lg->n_frames > 0 && lg->frames[0].index >= 0 ? 1 : 0, path, sizeof(path));
        errbuf_set(err, "%s%s: too many entries (at most %lu)", prefix, path, digits_at(r, "entries ("));
        return;
    case CYAML_ERR_UNEXPECTED_EVENT:
        cy_path(lg, 0, path, sizeof(path));
        if (strstr(r, "already seen") != NULL)
            errbuf_set(err, "%s%s: duplicate key", prefix, path);
        else
            errbuf_set(err, "%s%s: unexpected YAML node", prefix, path[0] != '\0' ? path : "top level");
        return;
    case CYAML_ERR_ALIAS:
    case CYAML_ERR_INVALID_ALIAS:
        cy_path(lg, 0, path, sizeof(path));
        errbuf_set(err, "%s%s: YAML anchors and aliases are not supported", prefix,
                   path[0] != '\0' ? path : "top level");
        return;
    case CYAML_ERR_LIBYAML_PARSER: {
        /* libyaml's problem text is fixed prose; the line is that of the innermost node cyaml was in. */
        const char *p = strstr(r, "libyaml: ");
        unsigned long line = lg->n_frames > 0 ? lg->frames[0].line : 0;
        if (line > 0)
            errbuf_set(err, "%sYAML syntax error near line %lu: %s", prefix, line, p != NULL ? p + 9 : r);
        else
            errbuf_set(err, "%sYAML syntax error: %s", prefix, p != NULL ? p + 9 : r);
        return;
    }
    default:
        cy_path(lg, 0, path, sizeof(path));
        errbuf_set(err, "%s%s%s%s", prefix, path, path[0] != '\0' ? ": " : "", cyaml_strerror(rc));
        return;
    }
}

/* ------------------------------------------------------------------------------------------------------
 * Loading.
 * ------------------------------------------------------------------------------------------------------ */

void config_set_str(char **field, const char *value)
{
    char *copy = value != NULL ? xstrdup(value) : NULL;
    free(*field);
    *field = copy;
}

/* Moves the string out of *from (the raw struct then no longer frees it). */
static char *steal(char **from)
{
    char *s = *from;
    *from = NULL;
    return s;
}

static char **steal_list(char ***from, unsigned *n_from, unsigned *n_to)
{
    char **l = *from;
    *n_to = l != NULL ? *n_from : 0;
    *from = NULL;
    *n_from = 0;
    return l;
}

static int entry_ttl(char *text, const char *prefix, const char *what, unsigned i, uint32_t *out,
                     struct errbuf *err)
{
    char buf[72];
    *out = 0;
    if (text == NULL)
        return 0;
    if (parse_u32(text, out) != 0) {
        errbuf_set(err, "%s%s[%u].access_token_ttl: invalid unsigned integer '%s'", prefix, what, i,
                   shown(text, buf));
        return ERR_INVALID;
    }
    return 0;
}

/* A boolean of a users[] entry: NULL stays absent; anything else must parse. */
static int user_bool(const char *text, const char *prefix, unsigned i, const char *key, bool *out,
                     struct errbuf *err)
{
    char buf[72];
    if (parse_bool(text, out) != 0) {
        errbuf_set(err, "%susers[%u].%s: invalid boolean '%s' (expected true/false, yes/no or 1/0)", prefix, i,
                   key, shown(text, buf));
        return ERR_INVALID;
    }
    return 0;
}

/* Normalizes email_verified / phone_number_verified to "true" or "false" (NULL: absent). */
static int user_verified(char **field, const char *prefix, unsigned i, const char *key, struct errbuf *err)
{
    bool b;
    if (*field == NULL)
        return 0;
    if (user_bool(*field, prefix, i, key, &b, err) != 0)
        return ERR_INVALID;
    config_set_str(field, b ? "true" : "false");
    return 0;
}

static int apply_raw_users(struct config *cfg, struct raw_config *raw, const char *prefix, struct errbuf *err)
{
    cfg->users = xcalloc(raw->n_users, sizeof(*cfg->users));
    cfg->n_users = raw->n_users;
    /* Everything moves into cfg first, so that the passwords are wiped by config_free() whatever fails
     * below. */
    for (unsigned i = 0; i < raw->n_users; i++) {
        struct raw_user *r = &raw->users[i];
        struct cfg_user *u = &cfg->users[i];
        u->id = steal(&r->id);
        u->username = steal(&r->username);
        u->password = steal(&r->password);
        u->password_hash = steal(&r->password_hash);
        u->name = steal(&r->name);
        u->given_name = steal(&r->given_name);
        u->family_name = steal(&r->family_name);
        u->middle_name = steal(&r->middle_name);
        u->nickname = steal(&r->nickname);
        u->preferred_username = steal(&r->preferred_username);
        u->profile = steal(&r->profile);
        u->picture = steal(&r->picture);
        u->website = steal(&r->website);
        u->email = steal(&r->email);
        u->gender = steal(&r->gender);
        u->birthdate = steal(&r->birthdate);
        u->zoneinfo = steal(&r->zoneinfo);
        u->locale = steal(&r->locale);
        u->phone_number = steal(&r->phone_number);
        u->email_verified = steal(&r->email_verified);
        u->phone_number_verified = steal(&r->phone_number_verified);
        u->address = r->address;
        r->address = NULL;
    }
    for (unsigned i = 0; i < raw->n_users; i++) {
        struct cfg_user *u = &cfg->users[i];
        if (raw->users[i].disabled != NULL &&
            user_bool(raw->users[i].disabled, prefix, i, "disabled", &u->disabled, err) != 0)
            return ERR_INVALID;
        if (user_verified(&u->email_verified, prefix, i, "email_verified", err) != 0 ||
            user_verified(&u->phone_number_verified, prefix, i, "phone_number_verified", err) != 0)
            return ERR_INVALID;
    }
    return 0;
}

static void wipe_str(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
}

/* Secrets still in the raw tree (when loading failed before they were moved into cfg) do not linger in
 * freed heap memory. */
static void raw_wipe_secrets(struct raw_config *raw)
{
    wipe_str(raw->keys.secret);
    for (unsigned i = 0; raw->clients != NULL && i < raw->n_clients; i++)
        wipe_str(raw->clients[i].client_secret);
    for (unsigned i = 0; raw->users != NULL && i < raw->n_users; i++)
        wipe_str(raw->users[i].password);
}

/* Overlays what the file set on top of the defaults already in cfg. */
static int apply_raw(struct config *cfg, struct raw_config *raw, const char *prefix, struct errbuf *err)
{
    char where[320];
    for (size_t i = 0; i < N_CFG_KEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        snprintf(where, sizeof(where), "%s%s", prefix, k->path);
        if (k->type == CFG_LIST) {
            char ***from = FIELD(raw, k->raw_off, char **);
            if (*from == NULL)
                continue; /* absent, or an empty list: keep the default */
            char ***to = FIELD(cfg, k->off, char **);
            unsigned *n_to = FIELD(cfg, k->count_off, unsigned);
            free_list(*to, *n_to);
            *to = steal_list(from, FIELD(raw, k->raw_count_off, unsigned), n_to);
            continue;
        }
        char **text = FIELD(raw, k->raw_off, char *);
        if (*text == NULL)
            continue;
        if (k->type == CFG_STR) {
            char **to = FIELD(cfg, k->off, char *);
            free(*to);
            *to = steal(text);
        } else if (key_set_text(cfg, k, *text, where, err) != 0) {
            return ERR_INVALID;
        }
    }

    if (raw->resources != NULL && raw->n_resources > 0) {
        cfg->resources = xcalloc(raw->n_resources, sizeof(*cfg->resources));
        cfg->n_resources = raw->n_resources;
        for (unsigned i = 0; i < raw->n_resources; i++) {
            struct raw_resource *r = &raw->resources[i];
            struct cfg_resource *c = &cfg->resources[i];
            c->identifier = steal(&r->identifier);
            c->scopes = steal_list(&r->scopes, &r->n_scopes, &c->n_scopes);
            c->access_token_format = steal(&r->access_token_format);
            c->signing_alg = steal(&r->signing_alg);
            if (entry_ttl(r->access_token_ttl, prefix, "resources", i, &c->access_token_ttl, err) != 0)
                return ERR_INVALID;
        }
    }
    if (raw->clients != NULL && raw->n_clients > 0) {
        cfg->clients = xcalloc(raw->n_clients, sizeof(*cfg->clients));
        cfg->n_clients = raw->n_clients;
        for (unsigned i = 0; i < raw->n_clients; i++) {
            struct raw_client *r = &raw->clients[i];
            struct cfg_client *c = &cfg->clients[i];
            c->client_id = steal(&r->client_id);
            c->client_secret = steal(&r->client_secret);
            c->client_secret_sha256 = steal(&r->client_secret_sha256);
            c->client_name = steal(&r->client_name);
            c->application_type = steal(&r->application_type);
            c->grant_types = steal_list(&r->grant_types, &r->n_grant_types, &c->n_grant_types);
            c->redirect_uris = steal_list(&r->redirect_uris, &r->n_redirect_uris, &c->n_redirect_uris);
            c->token_endpoint_auth_method = steal(&r->token_endpoint_auth_method);
            c->scope = steal(&r->scope);
            c->resources = steal_list(&r->resources, &r->n_resources, &c->n_resources);
            c->post_logout_redirect_uris = steal_list(&r->post_logout_redirect_uris,
                                                      &r->n_post_logout_redirect_uris,
                                                      &c->n_post_logout_redirect_uris);
            c->id_token_signed_response_alg = steal(&r->id_token_signed_response_alg);
            c->refresh_token_policy = steal(&r->refresh_token_policy);
            c->pkce_methods = steal_list(&r->pkce_methods, &r->n_pkce_methods, &c->n_pkce_methods);
            c->require_pkce = steal(&r->require_pkce);
            c->introspection_access = steal(&r->introspection_access);
            c->introspection_resources = steal_list(&r->introspection_resources, &r->n_introspection_resources,
                                                    &c->n_introspection_resources);
            if (entry_ttl(r->access_token_ttl, prefix, "clients", i, &c->access_token_ttl, err) != 0)
                return ERR_INVALID;
        }
    }
    if (raw->users != NULL && raw->n_users > 0)
        return apply_raw_users(cfg, raw, prefix, err);
    return 0;
}

static struct config *config_defaults(void)
{
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    for (size_t i = 0; i < N_CFG_KEYS; i++) {
        /* Defaults are ours and always parse. */
        if (cfg_keys[i].def != NULL &&
            key_set_text(cfg, &cfg_keys[i], cfg_keys[i].def, cfg_keys[i].path, NULL) != 0)
            abort();
    }
    return cfg;
}

/* name: the file name for messages, or NULL. */
static int load_buffer_named(const char *yaml, size_t len, const char *name, struct config **out,
                             struct errbuf *err)
{
    char prefix[256];
    struct cy_log lg;
    struct raw_config *raw = NULL;

    memset(&lg, 0, sizeof(lg));
    if (name != NULL)
        snprintf(prefix, sizeof(prefix), "%s: ", name);
    else
        prefix[0] = '\0';

    if (len > CONFIG_MAX_FILE_BYTES) {
        errbuf_set(err, "%sfile too large (%zu bytes; at most %u)", prefix, len, CONFIG_MAX_FILE_BYTES);
        return ERR_INVALID;
    }

    const cyaml_config_t cy = {
        .log_fn = cy_log_fn,
        .log_ctx = &lg,
        .mem_fn = cfg_mem,
        .log_level = CYAML_LOG_WARNING,
        /* Aliases are refused: they are not needed in a config file, and replaying them multiplies the
         * memory a small file can claim ("billion laughs"). */
        .flags = CYAML_CFG_NO_ALIAS,
    };

    struct config *cfg = config_defaults();
    if (len > 0) {
        cyaml_err_t rc =
            cyaml_load_data((const uint8_t *)yaml, len, &cy, &top_schema, (cyaml_data_t **)&raw, NULL);
        if (rc != CYAML_OK) {
            cy_explain(&lg, rc, prefix, err);
            config_free(cfg);
            return ERR_INVALID;
        }
        if (lg.extra_documents) {
            errbuf_set(err, "%sonly one YAML document is allowed (found a second '---')", prefix);
            raw_wipe_secrets(raw);
            cyaml_free(&cy, &top_schema, raw, 0);
            config_free(cfg);
            return ERR_INVALID;
        }
    }
    int rc = 0;
    if (raw != NULL) {
        /* An empty document gives raw == NULL: defaults only. */
        rc = apply_raw(cfg, raw, prefix, err);
        raw_wipe_secrets(raw);
        cyaml_free(&cy, &top_schema, raw, 0);
    }
    if (rc != 0) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int config_load_buffer(const char *yaml, size_t len, struct config **out, struct errbuf *err)
{
    return load_buffer_named(yaml, len, NULL, out, err);
}

/* Reads at most CONFIG_MAX_FILE_BYTES (+1, to detect excess) into a fresh buffer. */
static int read_capped(const char *path, char **buf_out, size_t *len_out, struct errbuf *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return ERR_FAIL;
    }
    char *buf = xcalloc(CONFIG_MAX_FILE_BYTES + 1, 1);
    size_t n = fread(buf, 1, CONFIG_MAX_FILE_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        errbuf_set(err, "%s: read error", path);
        free(buf);
        return ERR_FAIL;
    }
    if (n > CONFIG_MAX_FILE_BYTES) {
        errbuf_set(err, "%s: file too large (at most %u bytes)", path, CONFIG_MAX_FILE_BYTES);
        free(buf);
        return ERR_INVALID;
    }
    *buf_out = buf;
    *len_out = n;
    return 0;
}

int config_load(const char *path, char *const *envp, struct config **out, struct errbuf *err)
{
    struct config *cfg = NULL;
    int rc;
    if (path != NULL) {
        char *buf;
        size_t len;
        rc = read_capped(path, &buf, &len, err);
        if (rc != 0)
            return rc;
        rc = load_buffer_named(buf, len, path, &cfg, err);
        /* The file may hold secrets (keys.secret, client secrets, user passwords). */
        explicit_bzero(buf, len);
        free(buf);
    } else {
        rc = load_buffer_named("", 0, NULL, &cfg, err);
    }
    if (rc != 0)
        return rc;
    if (envp != NULL) {
        rc = config_apply_env(cfg, envp, err);
        if (rc != 0) {
            config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return 0;
}

/* ------------------------------------------------------------------------------------------------------
 * Environment.
 * ------------------------------------------------------------------------------------------------------ */

int config_apply_env(struct config *cfg, char *const *envp, struct errbuf *err)
{
    const size_t plen = strlen(ENV_PREFIX);
    if (envp == NULL)
        return 0;
    for (char *const *e = envp; *e != NULL; e++) {
        const char *var = *e;
        if (strncmp(var, ENV_PREFIX, plen) != 0)
            continue;
        const char *eq = strchr(var, '=');
        if (eq == NULL)
            continue;
        size_t nlen = (size_t)(eq - var);
        if (nlen == strlen(ENV_CONFIG_PATH) && memcmp(var, ENV_CONFIG_PATH, nlen) == 0)
            continue;
        const struct cfg_key *k = NULL;
        for (size_t i = 0; i < N_CFG_KEYS; i++) {
            if (strlen(cfg_keys[i].env) == nlen && memcmp(cfg_keys[i].env, var, nlen) == 0) {
                k = &cfg_keys[i];
                break;
            }
        }
        if (k == NULL) {
            /* A typo would otherwise silently leave the default in place. */
            char name[72];
            errbuf_set(err, "%.*s: unknown OSTIARY_ environment variable (not a configuration key)",
                       (int)(nlen < 64 ? nlen : 64), shown(var, name));
            return ERR_INVALID;
        }
        int rc = key_set_text(cfg, k, eq + 1, k->env, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------------------
 * Validation.
 * ------------------------------------------------------------------------------------------------------ */

static const char *const algorithms_allowed[] = {"RS256", "ES256", "EdDSA"};
static const char *const auth_methods_allowed[] = {"client_secret_basic", "client_secret_post", "none"};
static const char *const log_levels_allowed[] = {"debug", "info", "warn", "error"};
static const char *const refresh_policies_allowed[] = {"offline_consent", "offline_access", "always"};
static const char *const pkce_methods_allowed[] = {"S256", "plain"};
static const char *const application_types_allowed[] = {"web", "native"};
static const char *const introspection_access_allowed[] = {"all", "own", "resources"};

static bool one_of(const char *s, const char *const *set, size_t n)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, set[i]) == 0)
            return true;
    }
    return false;
}
#define ONE_OF(s, set) one_of((s), (set), sizeof(set) / sizeof((set)[0]))

static bool in_list(const char *s, char *const *list, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (list[i] != NULL && strcmp(list[i], s) == 0)
            return true;
    }
    return false;
}

struct url_parts {
    bool https;
    const char *host; /* as written, brackets included for IPv6 */
    size_t host_len;
    const char *path; /* from the first '/' after the authority, or "" */
};

/* Userinfo may hold a password, so a URL rejected for it is never echoed. */
static const char userinfo_reason[] = "must not contain userinfo ('user@' or 'user:password@')";

/* Splits an absolute http(s) URL. Returns NULL on success, else the reason. */
static const char *http_url_split(const char *s, struct url_parts *u)
{
    const char *auth;
    if (strncmp(s, "https://", 8) == 0) {
        u->https = true;
        auth = s + 8;
    } else if (strncmp(s, "http://", 7) == 0) {
        u->https = false;
        auth = s + 7;
    } else {
        return "must be an absolute http or https URL";
    }
    if (!valid_visible_ascii(s))
        return "must not contain spaces, control or non-ASCII characters";
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen) != NULL)
        return userinfo_reason;
    const char *port = NULL;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL || close == auth + 1)
            return "has an invalid IPv6 host";
        u->host_len = (size_t)(close - auth) + 1;
        if (u->host_len < alen) {
            if (auth[u->host_len] != ':')
                return "has an invalid host";
            port = auth + u->host_len + 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        u->host_len = colon != NULL ? (size_t)(colon - auth) : alen;
        if (colon != NULL)
            port = colon + 1;
    }
    if (u->host_len == 0)
        return "has no host";
    for (size_t i = 0; i < u->host_len; i++) {
        char c = auth[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                  c == '-';
        if (auth[0] == '[')
            ok = ok || c == ':' || c == '[' || c == ']';
        if (!ok)
            return "has an invalid host";
    }
    if (port != NULL) {
        size_t plen = (size_t)(auth + alen - port);
        unsigned v = 0;
        if (plen == 0 || plen > 5)
            return "has an invalid port";
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9')
                return "has an invalid port";
            v = v * 10 + (unsigned)(port[i] - '0');
        }
        if (v == 0 || v > 65535)
            return "has an invalid port";
    }
    u->host = auth;
    u->path = auth + alen;
    return NULL;
}

static const char *const http_only_loopback =
    "plain http is only allowed for a loopback host (localhost, 127.0.0.0/8, [::1]) or in dev mode "
    "(dev: true / OSTIARY_DEV=1); use https";

static int validate_issuer(struct config *cfg, struct errbuf *err)
{
    struct url_parts u;
    const char *why;
    char buf[72];
    if (cfg->issuer == NULL || cfg->issuer[0] == '\0') {
        errbuf_set(err, "issuer: required");
        return ERR_INVALID;
    }
    why = http_url_split(cfg->issuer, &u);
    if (why == userinfo_reason) {
        errbuf_set(err, "issuer: %s", why);
        return ERR_INVALID;
    }
    if (why != NULL) {
        errbuf_set(err, "issuer: %s, got '%s'", why, shown(cfg->issuer, buf));
        return ERR_INVALID;
    }
    /* OIDC Discovery §4.3 and RFC 8414 §2: the issuer has no query or fragment. */
    if (strpbrk(u.path, "?#") != NULL) {
        errbuf_set(err, "issuer: must not contain a query or fragment (RFC 8414 §2), got '%s'",
                   shown(cfg->issuer, buf));
        return ERR_INVALID;
    }
    if (!u.https && !cfg->dev && !host_is_loopback(u.host, u.host_len)) {
        errbuf_set(err, "issuer: %s", http_only_loopback);
        return ERR_INVALID;
    }
    /* Strip trailing slashes so that "<issuer>/.well-known/..." and the iss claim are canonical. */
    size_t path_off = (size_t)(u.path - cfg->issuer);
    size_t n = strlen(cfg->issuer);
    while (n > path_off && cfg->issuer[n - 1] == '/')
        cfg->issuer[--n] = '\0';
    config_set_str(&cfg->issuer_path, cfg->issuer + path_off);
    return 0;
}

static int validate_listen(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    const char *s = cfg->listen;
    const char *host, *port;
    size_t hlen;
    if (s == NULL || s[0] == '\0') {
        errbuf_set(err, "listen: required (host:port, [ipv6]:port or :port)");
        return ERR_INVALID;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || close[1] != ':')
            goto bad;
        host = s + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
        for (size_t i = 0; i < hlen; i++) {
            char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
                  c == '.'))
                goto bad;
        }
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            goto bad;
        host = s;
        hlen = (size_t)(colon - s);
        port = colon + 1;
        for (size_t i = 0; i < hlen; i++) {
            char c = host[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
                  c == '-'))
                goto bad;
        }
        if (hlen == 0) {
            /* ":port" listens on every IPv4 interface. */
            host = "0.0.0.0";
            hlen = 7;
        }
    }
    uint32_t p;
    if (parse_u32(port, &p) != 0 || p == 0 || p > 65535) {
        errbuf_set(err, "listen: port must be a number between 1 and 65535, got '%s'", shown(s, buf));
        return ERR_INVALID;
    }
    free(cfg->listen_host);
    cfg->listen_host = strndup(host, hlen);
    if (cfg->listen_host == NULL)
        abort();
    cfg->listen_port = (uint16_t)p;
    return 0;
bad:
    errbuf_set(err, "listen: expected host:port, [ipv6]:port or :port, got '%s'", shown(s, buf));
    return ERR_INVALID;
}

static int validate_keys(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    if (cfg->keys.n_algorithms == 0) {
        errbuf_set(err, "keys.algorithms: at least one algorithm is required (RS256, ES256, EdDSA)");
        return ERR_INVALID;
    }
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++) {
        const char *a = cfg->keys.algorithms[i];
        if (!ONE_OF(a, algorithms_allowed)) {
            errbuf_set(err, "keys.algorithms[%u]: unsupported algorithm '%s' (allowed: RS256, ES256, EdDSA)",
                       i, shown(a, buf));
            return ERR_INVALID;
        }
        if (in_list(a, cfg->keys.algorithms, i)) {
            errbuf_set(err, "keys.algorithms[%u]: duplicate algorithm '%s'", i, a);
            return ERR_INVALID;
        }
    }
    /* keys.secret is CFG_SECRET: nothing about its value goes into a message. */
    if (cfg->keys.secret != NULL && cfg->keys.secret_file != NULL) {
        errbuf_set(err, "keys.secret: keys.secret and keys.secret_file are mutually exclusive");
        return ERR_INVALID;
    }
    if (cfg->keys.secret != NULL && strlen(cfg->keys.secret) < 32) {
        errbuf_set(err, "keys.secret: must be at least 32 characters; generate one with "
                        "`openssl rand -base64 32`");
        return ERR_INVALID;
    }
    if (cfg->keys.secret_file != NULL && cfg->keys.secret_file[0] == '\0') {
        errbuf_set(err, "keys.secret_file: must not be empty");
        return ERR_INVALID;
    }
    return 0;
}

/* The default signing algorithm of a JWT resource: RS256 when configured (the one every RP must support,
 * OIDC Core §15.1), else the first configured algorithm. */
static const char *default_signing_alg(const struct config *cfg)
{
    if (in_list("RS256", cfg->keys.algorithms, cfg->keys.n_algorithms))
        return "RS256";
    return cfg->keys.algorithms[0];
}

static int validate_resources(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    for (unsigned i = 0; i < cfg->n_resources; i++) {
        struct cfg_resource *r = &cfg->resources[i];
        if (r->identifier == NULL || r->identifier[0] == '\0') {
            errbuf_set(err, "resources[%u].identifier: required", i);
            return ERR_INVALID;
        }
        /* RFC 8707 §2: an absolute URI without a fragment. */
        if (uri_scheme_len(r->identifier) == 0 || !valid_visible_ascii(r->identifier) ||
            strchr(r->identifier, '#') != NULL) {
            errbuf_set(
                err,
                "resources[%u].identifier: must be an absolute URI without fragment (RFC 8707 §2), e.g. "
                "urn:example:api or https://api.example.com, got '%s'",
                i, shown(r->identifier, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cfg->resources[j].identifier, r->identifier) == 0) {
                errbuf_set(err, "resources[%u].identifier: duplicate '%s' (also resources[%u])", i,
                           shown(r->identifier, buf), j);
                return ERR_INVALID;
            }
        }
        if (r->access_token_format == NULL)
            config_set_str(&r->access_token_format, "jwt");
        if (strcmp(r->access_token_format, "jwt") != 0 && strcmp(r->access_token_format, "opaque") != 0) {
            errbuf_set(err, "resources[%u].access_token_format: must be jwt or opaque, got '%s'", i,
                       shown(r->access_token_format, buf));
            return ERR_INVALID;
        }
        if (r->signing_alg == NULL)
            config_set_str(&r->signing_alg, default_signing_alg(cfg));
        if (!in_list(r->signing_alg, cfg->keys.algorithms, cfg->keys.n_algorithms)) {
            errbuf_set(err, "resources[%u].signing_alg: '%s' is not one of keys.algorithms", i,
                       shown(r->signing_alg, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; j < r->n_scopes; j++) {
            const char *s = r->scopes[j];
            if (s == NULL || !valid_scope_token(s, strlen(s))) {
                errbuf_set(err, "resources[%u].scopes[%u]: invalid scope token '%s' (RFC 6749 §3.3)", i, j,
                           shown(s, buf));
                return ERR_INVALID;
            }
        }
        if (r->access_token_ttl > ENTRY_TTL_MAX) {
            errbuf_set(err,
                       "resources[%u].access_token_ttl: must be at most %u (0 = tokens.access_token_ttl)", i,
                       ENTRY_TTL_MAX);
            return ERR_INVALID;
        }
    }
    return 0;
}

static bool is_resource(const struct config *cfg, const char *id)
{
    for (unsigned i = 0; i < cfg->n_resources; i++) {
        if (strcmp(cfg->resources[i].identifier, id) == 0)
            return true;
    }
    return false;
}

/* Checks redirect_uris[j] or post_logout_redirect_uris[j] (`field`) of clients[i]: both are redirection
 * targets (RFC 6749 §3.1.2; OIDC RP-Initiated Logout §3.1), so the same rules apply. */
static int validate_redirect_uri(const struct config *cfg, unsigned i, const char *field, unsigned j,
                                 const char *uri, struct errbuf *err)
{
    char buf[72];
    size_t sl = uri != NULL ? uri_scheme_len(uri) : 0;
    /* Userinfo may hold a password: such a URI is refused before anything could echo it. */
    if (sl > 0 && strncmp(uri + sl, "://", 3) == 0 && memchr(uri + sl + 3, '@', strcspn(uri + sl + 3, "/?#"))) {
        errbuf_set(err, "clients[%u].%s[%u]: %s", i, field, j, userinfo_reason);
        return ERR_INVALID;
    }
    /* RFC 6749 §3.1.2: absolute URI, no fragment. Custom schemes are allowed (native apps, RFC 8252 §7.1). */
    if (sl == 0 || !valid_visible_ascii(uri) || strchr(uri, '#') != NULL) {
        errbuf_set(err,
                   "clients[%u].%s[%u]: must be an absolute URI without fragment (RFC 6749 §3.1.2), got '%s'",
                   i, field, j, shown(uri, buf));
        return ERR_INVALID;
    }
    if ((sl == 4 && strncasecmp(uri, "http", 4) == 0) || (sl == 5 && strncasecmp(uri, "https", 5) == 0)) {
        struct url_parts u;
        const char *why = http_url_split(uri, &u);
        if (why == userinfo_reason) {
            errbuf_set(err, "clients[%u].%s[%u]: %s", i, field, j, why);
            return ERR_INVALID;
        }
        if (why != NULL) {
            errbuf_set(err, "clients[%u].%s[%u]: %s, got '%s'", i, field, j, why, shown(uri, buf));
            return ERR_INVALID;
        }
        /* A code sent over plain http to a remote host can be read on the way (RFC 6749 §10.5). */
        if (!u.https && !cfg->dev && !host_is_loopback(u.host, u.host_len)) {
            errbuf_set(err, "clients[%u].%s[%u]: %s", i, field, j, http_only_loopback);
            return ERR_INVALID;
        }
    }
    return 0;
}

/* An enumerated field of clients[i] (`key`): `def` when unset, else one of allowed[0..n), else an error
 * listing `choices`. */
static int client_choice(char **field, const char *def, const char *const *allowed, size_t n, unsigned i,
                         const char *key, const char *choices, struct errbuf *err)
{
    char buf[72];
    if (*field == NULL)
        config_set_str(field, def);
    if (!one_of(*field, allowed, n)) {
        errbuf_set(err, "clients[%u].%s: must be %s, got '%s'", i, key, choices, shown(*field, buf));
        return ERR_INVALID;
    }
    return 0;
}
#define CLIENT_CHOICE(c, field, def, allowed, i, choices, err)                                                \
    client_choice(&(c)->field, (def), (allowed), sizeof(allowed) / sizeof((allowed)[0]), (i), #field,         \
                  (choices), (err))

/* introspection_access and introspection_resources (RFC 7662 §4: the server may limit which tokens a
 * client can introspect). The list names configured APIs and goes with `resources` only, both ways. */
static int validate_client_introspection(struct config *cfg, unsigned i, struct errbuf *err)
{
    char buf[72];
    struct cfg_client *c = &cfg->clients[i];
    if (CLIENT_CHOICE(c, introspection_access, "all", introspection_access_allowed, i, "all, own or resources",
                      err) != 0)
        return ERR_INVALID;
    bool by_resource = strcmp(c->introspection_access, "resources") == 0;
    if (by_resource && c->n_introspection_resources == 0) {
        errbuf_set(err,
                   "clients[%u].introspection_resources: introspection_access resources needs at least one API "
                   "(a resources[].identifier)",
                   i);
        return ERR_INVALID;
    }
    if (!by_resource && c->n_introspection_resources > 0) {
        errbuf_set(err, "clients[%u].introspection_resources: only applies with introspection_access resources", i);
        return ERR_INVALID;
    }
    for (unsigned j = 0; j < c->n_introspection_resources; j++) {
        const char *r = c->introspection_resources[j];
        if (r == NULL || !is_resource(cfg, r)) {
            errbuf_set(err,
                       "clients[%u].introspection_resources[%u]: unknown resource '%s' (not a "
                       "resources[].identifier)",
                       i, j, shown(r, buf));
            return ERR_INVALID;
        }
        if (in_list(r, c->introspection_resources, j)) {
            errbuf_set(err, "clients[%u].introspection_resources[%u]: duplicate '%s'", i, j, shown(r, buf));
            return ERR_INVALID;
        }
    }
    return 0;
}

/* The settings of the interactive flows: ID token algorithm, refresh token policy, PKCE. */
static int validate_client_interactive(struct config *cfg, unsigned i, bool is_public, struct errbuf *err)
{
    char buf[72];
    struct cfg_client *c = &cfg->clients[i];

    /* OIDC Registration §2: RS256 unless the client says otherwise; ours must hold a key for it. */
    if (c->id_token_signed_response_alg == NULL)
        config_set_str(&c->id_token_signed_response_alg, default_signing_alg(cfg));
    if (!in_list(c->id_token_signed_response_alg, cfg->keys.algorithms, cfg->keys.n_algorithms)) {
        errbuf_set(err, "clients[%u].id_token_signed_response_alg: '%s' is not one of keys.algorithms", i,
                   shown(c->id_token_signed_response_alg, buf));
        return ERR_INVALID;
    }

    if (CLIENT_CHOICE(c, refresh_token_policy, "offline_consent", refresh_policies_allowed, i,
                      "offline_consent, offline_access or always", err) != 0)
        return ERR_INVALID;

    if (c->n_pkce_methods == 0) {
        free(c->pkce_methods);
        c->pkce_methods = xcalloc(1, sizeof(char *));
        c->pkce_methods[0] = xstrdup("S256");
        c->n_pkce_methods = 1;
    }
    for (unsigned j = 0; j < c->n_pkce_methods; j++) {
        const char *m = c->pkce_methods[j];
        /* RFC 7636 §4.2: S256 and plain are the only methods defined. */
        if (!ONE_OF(m, pkce_methods_allowed)) {
            errbuf_set(err, "clients[%u].pkce_methods[%u]: must be S256 or plain (RFC 7636 §4.2), got '%s'", i,
                       j, shown(m, buf));
            return ERR_INVALID;
        }
        if (in_list(m, c->pkce_methods, j)) {
            errbuf_set(err, "clients[%u].pkce_methods[%u]: duplicate '%s'", i, j, m);
            return ERR_INVALID;
        }
    }

    c->require_pkce_set = false;
    c->require_pkce_value = false;
    if (c->require_pkce != NULL) {
        bool v;
        if (parse_bool(c->require_pkce, &v) != 0) {
            errbuf_set(err, "clients[%u].require_pkce: invalid boolean '%s' (expected true or false)", i,
                       shown(c->require_pkce, buf));
            return ERR_INVALID;
        }
        /* RFC 9700 §2.1.1: public clients MUST use PKCE; there is no switching it off for them. */
        if (!v && is_public) {
            errbuf_set(err,
                       "clients[%u].require_pkce: cannot be false for a public client (token_endpoint_auth_method "
                       "none): public clients must use PKCE (RFC 9700 §2.1.1)",
                       i);
            return ERR_INVALID;
        }
        config_set_str(&c->require_pkce, v ? "true" : "false");
        c->require_pkce_set = true;
        c->require_pkce_value = v;
    }
    return 0;
}

static int validate_client(struct config *cfg, unsigned i, struct arena *tmp, struct errbuf *err)
{
    char buf[72];
    struct cfg_client *c = &cfg->clients[i];

    /* RFC 6749 Appendix A.1 allows VSCHAR; we also refuse spaces, which only cause confusion. */
    if (c->client_id == NULL || c->client_id[0] == '\0' || strlen(c->client_id) > 255 ||
        !valid_visible_ascii(c->client_id)) {
        errbuf_set(err, "clients[%u].client_id: required, 1 to 255 visible ASCII characters, got '%s'", i,
                   shown(c->client_id, buf));
        return ERR_INVALID;
    }
    for (unsigned j = 0; j < i; j++) {
        if (strcmp(cfg->clients[j].client_id, c->client_id) == 0) {
            errbuf_set(err, "clients[%u].client_id: duplicate '%s' (also clients[%u])", i,
                       shown(c->client_id, buf), j);
            return ERR_INVALID;
        }
    }
    /* Secrets and their hashes are never echoed. */
    if (c->client_secret != NULL && c->client_secret_sha256 != NULL) {
        errbuf_set(err,
                   "clients[%u].client_secret: client_secret and client_secret_sha256 are mutually exclusive",
                   i);
        return ERR_INVALID;
    }
    if (c->client_secret != NULL && c->client_secret[0] == '\0') {
        errbuf_set(err, "clients[%u].client_secret: must not be empty", i);
        return ERR_INVALID;
    }
    if (c->client_secret_sha256 != NULL) {
        unsigned char *digest;
        size_t dlen;
        if (b64_decode(tmp, c->client_secret_sha256, strlen(c->client_secret_sha256), &digest, &dlen) != 0 ||
            dlen != 32) {
            errbuf_set(err,
                       "clients[%u].client_secret_sha256: must be the base64 of a 32-byte SHA-256 digest "
                       "(printf %%s \"$secret\" | openssl dgst -sha256 -binary | base64)",
                       i);
            return ERR_INVALID;
        }
    }
    bool has_secret = c->client_secret != NULL || c->client_secret_sha256 != NULL;

    if (CLIENT_CHOICE(c, token_endpoint_auth_method, has_secret ? "client_secret_basic" : "none",
                      auth_methods_allowed, i, "client_secret_basic, client_secret_post or none", err) != 0)
        return ERR_INVALID;
    bool is_public = strcmp(c->token_endpoint_auth_method, "none") == 0;
    if (!is_public && !has_secret) {
        errbuf_set(
            err, "clients[%u].token_endpoint_auth_method: %s requires client_secret or client_secret_sha256",
            i, c->token_endpoint_auth_method);
        return ERR_INVALID;
    }
    if (is_public && has_secret) {
        errbuf_set(err,
                   "clients[%u].token_endpoint_auth_method: none, but a client secret is configured; "
                   "use client_secret_basic or client_secret_post, or remove the secret",
                   i);
        return ERR_INVALID;
    }

    /* OIDC Registration §2: web unless said otherwise. It decides how redirect URIs are matched: only a
     * native client's loopback IP redirect URIs may vary in port (RFC 8252 §7.3). */
    if (CLIENT_CHOICE(c, application_type, "web", application_types_allowed, i, "web or native", err) != 0)
        return ERR_INVALID;

    for (unsigned j = 0; j < c->n_redirect_uris; j++) {
        if (validate_redirect_uri(cfg, i, "redirect_uris", j, c->redirect_uris[j], err) != 0)
            return ERR_INVALID;
    }
    for (unsigned j = 0; j < c->n_post_logout_redirect_uris; j++) {
        if (validate_redirect_uri(cfg, i, "post_logout_redirect_uris", j, c->post_logout_redirect_uris[j],
                                  err) != 0)
            return ERR_INVALID;
    }

    if (c->n_grant_types == 0) {
        /* Interactive clients default to the code grant with refresh tokens (whether one is issued is
         * still decided by refresh_token_policy); others to client_credentials. */
        free(c->grant_types);
        c->grant_types = xcalloc(2, sizeof(char *));
        if (c->n_redirect_uris > 0) {
            c->grant_types[0] = xstrdup("authorization_code");
            c->grant_types[1] = xstrdup("refresh_token");
            c->n_grant_types = 2;
        } else {
            c->grant_types[0] = xstrdup("client_credentials");
            c->n_grant_types = 1;
        }
    }
    /* The names and the rules on them (served grant types, confidential-only grants, redirect URIs,
     * refresh_token) are the grant table's: clients_config_check() in oauth/client.c, after this. */

    if (c->scope != NULL && !valid_scope_list(c->scope)) {
        errbuf_set(err,
                   "clients[%u].scope: must be scope tokens separated by single spaces (RFC 6749 §3.3), "
                   "got '%s'",
                   i, shown(c->scope, buf));
        return ERR_INVALID;
    }
    for (unsigned j = 0; j < c->n_resources; j++) {
        const char *r = c->resources[j];
        if (r == NULL || !is_resource(cfg, r)) {
            errbuf_set(err, "clients[%u].resources[%u]: unknown resource '%s' (not a resources[].identifier)",
                       i, j, shown(r, buf));
            return ERR_INVALID;
        }
    }
    if (c->access_token_ttl > ENTRY_TTL_MAX) {
        errbuf_set(err,
                   "clients[%u].access_token_ttl: must be at most %u (0 = the resource or global default)", i,
                   ENTRY_TTL_MAX);
        return ERR_INVALID;
    }
    if (validate_client_introspection(cfg, i, err) != 0)
        return ERR_INVALID;
    return validate_client_interactive(cfg, i, is_public, err);
}

/* trusted_proxies: parsed once here into the compact list the HTTP server matches every request's peer
 * against (core/ipnet.h, http/proxy.h), so that a bad entry stops the start instead of silently trusting
 * nobody (or everybody). The environment's comma list has no entry cap of its own, hence the count check. */
static int validate_trusted_proxies(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    free(cfg->trusted_proxy_nets);
    cfg->trusted_proxy_nets = NULL;
    if (cfg->n_trusted_proxies > CFG_MAX_TRUSTED_PROXIES) {
        errbuf_set(err, "trusted_proxies: too many entries (at most %u)", CFG_MAX_TRUSTED_PROXIES);
        return ERR_INVALID;
    }
    if (cfg->n_trusted_proxies == 0)
        return 0;
    cfg->trusted_proxy_nets = xcalloc(cfg->n_trusted_proxies, sizeof(*cfg->trusted_proxy_nets));
    for (unsigned i = 0; i < cfg->n_trusted_proxies; i++) {
        const char *s = cfg->trusted_proxies[i] != NULL ? cfg->trusted_proxies[i] : "";
        const char *why = NULL;
        if (ipnet_parse(s, strlen(s), &cfg->trusted_proxy_nets[i], &why) != 0) {
            errbuf_set(err, "trusted_proxies[%u]: %s, got '%s'", i, why, shown(s, buf));
            return ERR_INVALID;
        }
    }
    return 0;
}

/* RFC 6265 §4.1.1: cookie-name is an RFC 2616 token: no controls, spaces or separators. */
static bool cookie_name_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", ch) != NULL)
            return false;
    }
    return true;
}

static int validate_sessions_ui(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    if (!cookie_name_valid(cfg->sessions.cookie_name)) {
        errbuf_set(err,
                   "sessions.cookie_name: must be 1 to 64 characters of an RFC 6265 cookie name (letters, "
                   "digits, and !#$%%&'*+-.^_`|~), got '%s'",
                   shown(cfg->sessions.cookie_name, buf));
        return ERR_INVALID;
    }
    if (cfg->ui.dir != NULL && cfg->ui.dir[0] == '\0') {
        errbuf_set(err, "ui.dir: must not be empty (leave it out for the built-in templates)");
        return ERR_INVALID;
    }
    return 0;
}

/* A deliberately loose check of an RFC 5322 addr-spec: something@something, no spaces or controls. The
 * address is shown to relying parties, not used to send mail. */
static bool email_valid(const char *s)
{
    const char *at = strrchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s == 0x7f)
            return false;
    }
    return true;
}

static int validate_user_claims(const struct cfg_user *u, unsigned i, struct errbuf *err)
{
    const struct {
        const char *key;
        const char *value;
        bool multiline;
    } claims[] = {
        {"name", u->name, false},
        {"given_name", u->given_name, false},
        {"family_name", u->family_name, false},
        {"middle_name", u->middle_name, false},
        {"nickname", u->nickname, false},
        {"preferred_username", u->preferred_username, false},
        {"profile", u->profile, false},
        {"picture", u->picture, false},
        {"website", u->website, false},
        {"email", u->email, false},
        {"gender", u->gender, false},
        {"birthdate", u->birthdate, false},
        {"zoneinfo", u->zoneinfo, false},
        {"locale", u->locale, false},
        {"phone_number", u->phone_number, false},
        {"address.formatted", u->address != NULL ? u->address->formatted : NULL, true},
        {"address.street_address", u->address != NULL ? u->address->street_address : NULL, true},
        {"address.locality", u->address != NULL ? u->address->locality : NULL, false},
        {"address.region", u->address != NULL ? u->address->region : NULL, false},
        {"address.postal_code", u->address != NULL ? u->address->postal_code : NULL, false},
        {"address.country", u->address != NULL ? u->address->country : NULL, false},
    };
    char buf[72];
    for (size_t k = 0; k < sizeof(claims) / sizeof(claims[0]); k++) {
        if (claims[k].value != NULL && !valid_claim_text(claims[k].value, claims[k].multiline)) {
            errbuf_set(err, "users[%u].%s: must be UTF-8 text without control characters", i, claims[k].key);
            return ERR_INVALID;
        }
    }
    /* OIDC Core §5.1: profile, picture and website are URLs of web pages or images. */
    const char *const url_keys[] = {"profile", "picture", "website"};
    const char *const urls[] = {u->profile, u->picture, u->website};
    for (size_t k = 0; k < 3; k++) {
        struct url_parts parts;
        if (urls[k] == NULL)
            continue;
        const char *why = http_url_split(urls[k], &parts);
        if (why == userinfo_reason) {
            errbuf_set(err, "users[%u].%s: %s", i, url_keys[k], why);
            return ERR_INVALID;
        }
        if (why != NULL) {
            errbuf_set(err, "users[%u].%s: %s, got '%s'", i, url_keys[k], why, shown(urls[k], buf));
            return ERR_INVALID;
        }
    }
    if (u->email != NULL && !email_valid(u->email)) {
        errbuf_set(err, "users[%u].email: must look like name@domain, got '%s'", i, shown(u->email, buf));
        return ERR_INVALID;
    }
    if (u->birthdate != NULL && !valid_birthdate(u->birthdate)) {
        errbuf_set(err, "users[%u].birthdate: must be YYYY-MM-DD or YYYY (OIDC Core §5.1), got '%s'", i,
                   shown(u->birthdate, buf));
        return ERR_INVALID;
    }
    return 0;
}

/* users[i]. Passwords and hashes are never echoed, whatever is wrong with them. */
static int validate_user(const struct config *cfg, unsigned i, struct errbuf *err)
{
    char buf[72];
    const struct cfg_user *u = &cfg->users[i];
    if (u->username == NULL || u->username[0] == '\0' || strlen(u->username) > CFG_MAX_USERNAME ||
        !valid_visible_ascii(u->username)) {
        errbuf_set(err, "users[%u].username: required, 1 to %u visible ASCII characters, got '%s'", i,
                   CFG_MAX_USERNAME, shown(u->username, buf));
        return ERR_INVALID;
    }
    for (unsigned j = 0; j < i; j++) {
        if (strcmp(cfg->users[j].username, u->username) == 0) {
            errbuf_set(err, "users[%u].username: duplicate '%s' (also users[%u])", i, shown(u->username, buf),
                       j);
            return ERR_INVALID;
        }
    }
    if (u->id != NULL) {
        if (u->id[0] == '\0' || strlen(u->id) > 255 || !valid_visible_ascii(u->id)) {
            errbuf_set(err, "users[%u].id: 1 to 255 visible ASCII characters (the OIDC sub), got '%s'", i,
                       shown(u->id, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; j < i; j++) {
            if (cfg->users[j].id != NULL && strcmp(cfg->users[j].id, u->id) == 0) {
                errbuf_set(err, "users[%u].id: duplicate '%s' (also users[%u])", i, shown(u->id, buf), j);
                return ERR_INVALID;
            }
        }
    }
    if (u->password != NULL && u->password_hash != NULL) {
        errbuf_set(err, "users[%u].password: password and password_hash are mutually exclusive", i);
        return ERR_INVALID;
    }
    if (u->password == NULL && u->password_hash == NULL) {
        errbuf_set(err,
                   "users[%u].password: one of password or password_hash is required (hash one with: "
                   "ostiary user add, or any argon2id tool)",
                   i);
        return ERR_INVALID;
    }
    if (u->password != NULL && u->password[0] == '\0') {
        errbuf_set(err, "users[%u].password: must not be empty", i);
        return ERR_INVALID;
    }
    /* libsodium's crypto_pwhash_str format; its buffers are 128 bytes, NUL included. */
    if (u->password_hash != NULL &&
        (strncmp(u->password_hash, "$argon2id$", 10) != 0 || strlen(u->password_hash) >= 128 ||
         !valid_visible_ascii(u->password_hash))) {
        errbuf_set(err, "users[%u].password_hash: must be an argon2id encoded hash ($argon2id$v=19$m=...)", i);
        return ERR_INVALID;
    }
    return validate_user_claims(u, i, err);
}

int config_validate(struct config *cfg, struct errbuf *err)
{
    char buf[72];
    int rc;

    for (size_t i = 0; i < N_CFG_KEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (k->type != CFG_U32)
            continue;
        uint32_t v = *FIELD(cfg, k->off, uint32_t);
        if (v < k->min || v > k->max) {
            errbuf_set(err, "%s: must be between %u and %u, got %u", k->path, k->min, k->max, v);
            return ERR_INVALID;
        }
    }
    rc = validate_issuer(cfg, err);
    if (rc != 0)
        return rc;
    rc = validate_listen(cfg, err);
    if (rc != 0)
        return rc;
    if (cfg->storage == NULL || strncmp(cfg->storage, "sqlite:", 7) != 0 || cfg->storage[7] == '\0') {
        /* Only the scheme is shown: a database URL can carry a password. */
        const char *st = cfg->storage != NULL ? cfg->storage : "";
        size_t sl = strcspn(st, ":");
        errbuf_set(err, "storage: unsupported storage '%.*s'; expected sqlite:<path>",
                   (int)(sl < 32 ? sl : 32), shown(st, buf));
        return ERR_INVALID;
    }
    if (!ONE_OF(cfg->log_level, log_levels_allowed)) {
        errbuf_set(err, "log_level: must be debug, info, warn or error, got '%s'",
                   shown(cfg->log_level, buf));
        return ERR_INVALID;
    }
    rc = validate_trusted_proxies(cfg, err);
    if (rc != 0)
        return rc;
    rc = validate_keys(cfg, err);
    if (rc != 0)
        return rc;
    rc = validate_resources(cfg, err);
    if (rc != 0)
        return rc;
    rc = validate_sessions_ui(cfg, err);
    if (rc != 0)
        return rc;

    struct arena *tmp = arena_new(1024);
    for (unsigned i = 0; i < cfg->n_clients && rc == 0; i++) {
        rc = validate_client(cfg, i, tmp, err);
        arena_reset(tmp);
    }
    arena_free(tmp);
    for (unsigned i = 0; i < cfg->n_users && rc == 0; i++)
        rc = validate_user(cfg, i, err);
    return rc;
}

/* ------------------------------------------------------------------------------------------------------
 * Release.
 * ------------------------------------------------------------------------------------------------------ */

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < N_CFG_KEYS; i++) {
        const struct cfg_key *k = &cfg_keys[i];
        if (k->type == CFG_STR) {
            char *s = *FIELD(cfg, k->off, char *);
            /* Secrets do not linger in freed heap memory. */
            if (s != NULL && (k->flags & CFG_SECRET))
                explicit_bzero(s, strlen(s));
            free(s);
        } else if (k->type == CFG_LIST) {
            free_list(*FIELD(cfg, k->off, char **), *FIELD(cfg, k->count_off, unsigned));
        }
    }
    for (unsigned i = 0; i < cfg->n_resources; i++) {
        struct cfg_resource *r = &cfg->resources[i];
        free(r->identifier);
        free_list(r->scopes, r->n_scopes);
        free(r->access_token_format);
        free(r->signing_alg);
    }
    free(cfg->resources);
    for (unsigned i = 0; i < cfg->n_clients; i++) {
        struct cfg_client *c = &cfg->clients[i];
        free(c->client_id);
        if (c->client_secret != NULL)
            explicit_bzero(c->client_secret, strlen(c->client_secret));
        free(c->client_secret);
        free(c->client_secret_sha256);
        free(c->client_name);
        free(c->application_type);
        free_list(c->grant_types, c->n_grant_types);
        free_list(c->redirect_uris, c->n_redirect_uris);
        free(c->token_endpoint_auth_method);
        free(c->scope);
        free_list(c->resources, c->n_resources);
        free_list(c->post_logout_redirect_uris, c->n_post_logout_redirect_uris);
        free(c->id_token_signed_response_alg);
        free(c->refresh_token_policy);
        free_list(c->pkce_methods, c->n_pkce_methods);
        free(c->require_pkce);
        free(c->introspection_access);
        free_list(c->introspection_resources, c->n_introspection_resources);
    }
    free(cfg->clients);
    for (unsigned i = 0; i < cfg->n_users; i++) {
        struct cfg_user *u = &cfg->users[i];
        char **const fields[] = {
            &u->id, &u->username, &u->password_hash, &u->name, &u->given_name, &u->family_name,
            &u->middle_name, &u->nickname, &u->preferred_username, &u->profile, &u->picture, &u->website,
            &u->email, &u->gender, &u->birthdate, &u->zoneinfo, &u->locale, &u->phone_number,
            &u->email_verified, &u->phone_number_verified,
        };
        wipe_str(u->password);
        free(u->password);
        for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
            free(*fields[k]);
        if (u->address != NULL) {
            free(u->address->formatted);
            free(u->address->street_address);
            free(u->address->locality);
            free(u->address->region);
            free(u->address->postal_code);
            free(u->address->country);
            free(u->address);
        }
    }
    free(cfg->users);
    free(cfg->issuer_path);
    free(cfg->listen_host);
    free(cfg->trusted_proxy_nets);
    free(cfg);
}
