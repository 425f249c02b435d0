/* config_check.c: config_validate(): the checks of every setting and of resources[] (RFC 6749 §2-3,
 * RFC 8707 §2, OIDC Discovery §4 / RFC 8414 §2), with the file position of the value at fault; the derived
 * fields (issuer_path, listen_host/port, trusted_proxy_nets) and resources[]' defaults. Bounds and list caps
 * come from the declaration (config_keys.h). clients[] and users[] are checked above core
 * (oauth/client_check.c, session/user_check.c). */
#include "core/config_schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipnet.h"
#include "core/str.h"
#include "core/validate.h"
#include "core/banned.h"

/* config_error() on `field` of the entry at `at` ("resources[2]"). */
__attribute__((format(printf, 5, 6))) static void field_error(const struct config *cfg, struct errbuf *err,
                                                              const char *at, const char *field,
                                                              const char *fmt, ...)
{
    char path[CFG_PATH_MAX], msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s.%s", at, field);
    config_error(cfg, err, path, "%s", msg);
}

static const char *const algorithms_allowed[] = {"RS256", "ES256", "EdDSA"};
static const char *const log_levels_allowed[] = {"debug", "info", "warn", "error"};

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

static const char *const http_only_loopback =
    "plain http is only allowed for a loopback host (localhost, 127.0.0.0/8, [::1]) or in dev mode "
    "(dev: true / OSTIARY_DEV=1); use https";

static int validate_issuer(struct config *cfg, struct errbuf *err)
{
    struct url_parts u;
    const char *why;
    char buf[STR_SHOWN_SIZE];
    if (cfg->issuer == NULL || cfg->issuer[0] == '\0') {
        config_error(cfg, err, "issuer", "required");
        return ERR_INVALID;
    }
    why = http_url_check(cfg->issuer, &u);
    if (why == url_userinfo_reason) {
        config_error(cfg, err, "issuer", "%s", why);
        return ERR_INVALID;
    }
    if (why != NULL) {
        config_error(cfg, err, "issuer", "%s, got '%s'", why, str_shown(cfg->issuer, buf));
        return ERR_INVALID;
    }
    /* OIDC Discovery §4.3 and RFC 8414 §2: the issuer has no query or fragment. */
    if (strpbrk(u.path, "?#") != NULL) {
        config_error(cfg, err, "issuer", "must not contain a query or fragment (RFC 8414 §2), got '%s'",
                     str_shown(cfg->issuer, buf));
        return ERR_INVALID;
    }
    if (!u.https && !cfg->dev && !host_is_loopback(u.host, u.host_len)) {
        config_error(cfg, err, "issuer", "%s", http_only_loopback);
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

/* The characters of a listen host: an IPv6 literal's hex digits, ':' and '.', or a name's or IPv4 address's
 * letters, digits, '.' and '-'. */
static bool host_chars(const char *h, size_t n, bool ipv6)
{
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        bool digit = c >= '0' && c <= '9';
        bool ok = ipv6 ? digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.'
                       : digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Parses a listen address `s` (the value of the setting at `path`) into *host (malloc'd, unbracketed) and
 * *port. */
static int parse_listen(const struct config *cfg, const char *path, const char *s, char **host_out,
                        uint16_t *port_out, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE];
    const char *host, *port;
    size_t hlen;
    if (s == NULL || s[0] == '\0') {
        config_error(cfg, err, path, "required (host:port, [ipv6]:port or :port)");
        return ERR_INVALID;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1 || close[1] != ':')
            goto bad;
        host = s + 1;
        hlen = (size_t)(close - host);
        port = close + 2;
        if (!host_chars(host, hlen, true))
            goto bad;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL)
            goto bad;
        host = s;
        hlen = (size_t)(colon - s);
        port = colon + 1;
        if (!host_chars(host, hlen, false))
            goto bad;
        if (hlen == 0) {
            /* ":port" listens on every IPv4 interface. */
            host = "0.0.0.0";
            hlen = 7;
        }
    }
    uint32_t p;
    if (parse_u32(port, &p) != 0 || p == 0 || p > 65535) {
        config_error(cfg, err, path, "port must be a number between 1 and 65535, got '%s'", str_shown(s, buf));
        return ERR_INVALID;
    }
    free(*host_out);
    *host_out = strndup(host, hlen);
    if (*host_out == NULL)
        abort();
    *port_out = (uint16_t)p;
    return 0;
bad:
    config_error(cfg, err, path, "expected host:port, [ipv6]:port or :port, got '%s'", str_shown(s, buf));
    return ERR_INVALID;
}

static int validate_listen(struct config *cfg, struct errbuf *err)
{
    int rc = parse_listen(cfg, "listen", cfg->listen, &cfg->listen_host, &cfg->listen_port, err);
    free(cfg->admin_listen_host);
    cfg->admin_listen_host = NULL;
    cfg->admin_listen_port = 0;
    if (rc != 0 || cfg->admin.listen == NULL)
        return rc;
    rc = parse_listen(cfg, "admin.listen", cfg->admin.listen, &cfg->admin_listen_host, &cfg->admin_listen_port,
                      err);
    if (rc != 0)
        return rc;
    /* Without TLS the admin API's tokens would cross the network in clear text. */
    const char *ah = cfg->admin_listen_host;
    if (cfg->tls.cert_file == NULL && strcmp(ah, "::1") != 0 && !host_is_loopback(ah, strlen(ah))) {
        char buf[STR_SHOWN_SIZE];
        config_error(cfg, err, "admin.listen",
                     "must be a loopback address (127.0.0.0/8, [::1], localhost) unless TLS is configured, got "
                     "'%s'",
                     str_shown(cfg->admin.listen, buf));
        return ERR_INVALID;
    }
    if (strcmp(cfg->admin_listen_host, cfg->listen_host) == 0 && cfg->admin_listen_port == cfg->listen_port) {
        config_error(cfg, err, "admin.listen", "must differ from listen");
        return ERR_INVALID;
    }
    return 0;
}

static int validate_keys(struct config *cfg, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE];
    if (cfg->keys.n_algorithms == 0) {
        config_error(cfg, err, "keys.algorithms", "at least one algorithm is required (RS256, ES256, EdDSA)");
        return ERR_INVALID;
    }
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++) {
        const char *a = cfg->keys.algorithms[i];
        char at[48];
        snprintf(at, sizeof(at), "keys.algorithms[%u]", i);
        if (!ONE_OF(a, algorithms_allowed)) {
            config_error(cfg, err, at, "unsupported algorithm '%s' (allowed: RS256, ES256, EdDSA)",
                         str_shown(a, buf));
            return ERR_INVALID;
        }
        if (in_list(a, cfg->keys.algorithms, i)) {
            config_error(cfg, err, at, "duplicate algorithm '%s'", a);
            return ERR_INVALID;
        }
    }
    /* keys.secret is CFG_SECRET: nothing about its value goes into a message. */
    if (cfg->keys.secret != NULL && cfg->keys.secret_file != NULL) {
        config_error(cfg, err, "keys.secret", "keys.secret and keys.secret_file are mutually exclusive");
        return ERR_INVALID;
    }
    if (cfg->keys.secret != NULL && strlen(cfg->keys.secret) < 32) {
        config_error(cfg, err, "keys.secret",
                     "must be at least 32 characters; generate one with "
                     "`openssl rand -base64 32`");
        return ERR_INVALID;
    }
    if (cfg->keys.secret_file != NULL && cfg->keys.secret_file[0] == '\0') {
        config_error(cfg, err, "keys.secret_file", "must not be empty");
        return ERR_INVALID;
    }
    /* Automatic rotation: every instance must have loaded (and published) the next key before any of them
     * signs with it, and a key must sign for a while before the next one is announced. */
    if (cfg->keys.rotation_period != 0 && cfg->keys.publish_ahead < cfg->keys.reload_interval) {
        config_error(cfg, err, "keys.publish_ahead",
                     "must be at least keys.reload_interval (%u) when keys.rotation_period is set, so that "
                     "every instance publishes a new key before any signs with it, got %u",
                     cfg->keys.reload_interval, cfg->keys.publish_ahead);
        return ERR_INVALID;
    }
    if (cfg->keys.rotation_period != 0 && cfg->keys.publish_ahead >= cfg->keys.rotation_period) {
        config_error(cfg, err, "keys.rotation_period", "must be longer than keys.publish_ahead (%u), got %u",
                     cfg->keys.publish_ahead, cfg->keys.rotation_period);
        return ERR_INVALID;
    }
    return 0;
}

/* tls: both files or neither; an https issuer with them (the issuer is the URL clients reach, and the
 * cookies' Secure flag follows it). Whether the files load is checked where they are loaded
 * (http_tls_check, at start and by `ostiary config check`). */
static int validate_tls(struct config *cfg, struct errbuf *err)
{
    const char *cert = cfg->tls.cert_file, *key = cfg->tls.key_file;
    if (cert != NULL && cert[0] == '\0') {
        config_error(cfg, err, "tls.cert_file", "must not be empty (leave it out for plain HTTP)");
        return ERR_INVALID;
    }
    if (key != NULL && key[0] == '\0') {
        config_error(cfg, err, "tls.key_file", "must not be empty (leave it out for plain HTTP)");
        return ERR_INVALID;
    }
    if ((cert == NULL) != (key == NULL)) {
        config_error(cfg, err, cert == NULL ? "tls.key_file" : "tls.cert_file",
                     "tls.cert_file and tls.key_file go together: set both or neither");
        return ERR_INVALID;
    }
    if (cert != NULL && strncmp(cfg->issuer, "https://", 8) != 0) {
        config_error(cfg, err, "issuer", "must be an https URL when TLS is on (tls.cert_file)");
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
    char buf[STR_SHOWN_SIZE];
    for (unsigned i = 0; i < cfg->n_resources; i++) {
        struct cfg_resource *r = &cfg->resources[i];
        char at[48];
        snprintf(at, sizeof(at), "resources[%u]", i);
        if (r->identifier == NULL || r->identifier[0] == '\0') {
            field_error(cfg, err, at, "identifier", "required");
            return ERR_INVALID;
        }
        /* RFC 8707 §2: an absolute URI without a fragment. */
        if (uri_scheme_len(r->identifier) == 0 || !valid_visible_ascii(r->identifier) ||
            strchr(r->identifier, '#') != NULL) {
            field_error(cfg, err, at, "identifier",
                        "must be an absolute URI without fragment (RFC 8707 §2), e.g. urn:example:api or "
                        "https://api.example.com, got '%s'",
                        str_shown(r->identifier, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(cfg->resources[j].identifier, r->identifier) == 0) {
                field_error(cfg, err, at, "identifier", "duplicate '%s' (also resources[%u])",
                            str_shown(r->identifier, buf), j);
                return ERR_INVALID;
            }
        }
        /* The aud of its tokens instead of the identifier (IdentityServer's API names, Auth0's audiences):
         * visible ASCII, since audiences are listed space-separated, and never another API's identifier or
         * name, since audience= accepts either. */
        if (r->audience != NULL && (r->audience[0] == '\0' || strlen(r->audience) > 255 ||
                                    !valid_visible_ascii(r->audience))) {
            field_error(cfg, err, at, "audience",
                        "must be 1..255 visible ASCII characters (no spaces), "
                        "got '%s'",
                        str_shown(r->audience, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; r->audience != NULL && j < cfg->n_resources; j++) {
            const struct cfg_resource *o = &cfg->resources[j];
            if (j != i && ((o->identifier != NULL && strcmp(o->identifier, r->audience) == 0) ||
                           (j < i && o->audience != NULL && strcmp(o->audience, r->audience) == 0))) {
                field_error(cfg, err, at, "audience", "'%s' already names resources[%u]",
                            str_shown(r->audience, buf), j);
                return ERR_INVALID;
            }
        }
        if (r->access_token_format == NULL)
            config_set_str(&r->access_token_format, "jwt");
        if (strcmp(r->access_token_format, "jwt") != 0 && strcmp(r->access_token_format, "opaque") != 0) {
            field_error(cfg, err, at, "access_token_format", "must be jwt or opaque, got '%s'",
                        str_shown(r->access_token_format, buf));
            return ERR_INVALID;
        }
        if (r->signing_alg == NULL)
            config_set_str(&r->signing_alg, default_signing_alg(cfg));
        if (!in_list(r->signing_alg, cfg->keys.algorithms, cfg->keys.n_algorithms)) {
            field_error(cfg, err, at, "signing_alg", "'%s' is not one of keys.algorithms",
                        str_shown(r->signing_alg, buf));
            return ERR_INVALID;
        }
        for (unsigned j = 0; j < r->n_scopes; j++) {
            const char *s = r->scopes[j];
            if (s == NULL || !valid_scope_token(s, strlen(s))) {
                char field[32];
                snprintf(field, sizeof(field), "scopes[%u]", j);
                field_error(cfg, err, at, field, "invalid scope token '%s' (RFC 6749 §3.3)",
                            str_shown(s, buf));
                return ERR_INVALID;
            }
        }
        if (r->access_token_ttl > CFG_ENTRY_TTL_MAX) {
            field_error(cfg, err, at, "access_token_ttl", "must be at most %u (0 = tokens.access_token_ttl)",
                        CFG_ENTRY_TTL_MAX);
            return ERR_INVALID;
        }
    }
    return 0;
}

/* trusted_proxies: parsed once here into the compact list the HTTP server matches every request's peer
 * against (core/ipnet.h, http/proxy.h), so that a bad entry stops the start instead of silently trusting
 * nobody (or everybody). */
static int validate_trusted_proxies(struct config *cfg, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE];
    free(cfg->trusted_proxy_nets);
    cfg->trusted_proxy_nets = NULL;
    if (cfg->n_trusted_proxies == 0)
        return 0;
    cfg->trusted_proxy_nets = cfg_xcalloc(cfg->n_trusted_proxies, sizeof(*cfg->trusted_proxy_nets));
    for (unsigned i = 0; i < cfg->n_trusted_proxies; i++) {
        const char *s = cfg->trusted_proxies[i] != NULL ? cfg->trusted_proxies[i] : "";
        const char *why = NULL;
        if (ipnet_parse(s, strlen(s), &cfg->trusted_proxy_nets[i], &why) != 0) {
            char at[48];
            snprintf(at, sizeof(at), "trusted_proxies[%u]", i);
            config_error(cfg, err, at, "%s, got '%s'", why, str_shown(s, buf));
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
    char buf[STR_SHOWN_SIZE];
    if (!cookie_name_valid(cfg->sessions.cookie_name)) {
        config_error(cfg, err, "sessions.cookie_name",
                     "must be 1 to 64 characters of an RFC 6265 cookie name (letters, "
                     "digits, and !#$%%&'*+-.^_`|~), got '%s'",
                     str_shown(cfg->sessions.cookie_name, buf));
        return ERR_INVALID;
    }
    if (cfg->ui.dir != NULL && cfg->ui.dir[0] == '\0') {
        config_error(cfg, err, "ui.dir", "must not be empty (leave it out for the built-in templates)");
        return ERR_INVALID;
    }
    return 0;
}

/* The bounds and list caps of the declaration; the file's lists are capped as they load, the environment's
 * comma lists only here. */
static int validate_bounds(struct config *cfg, struct errbuf *err)
{
    struct cfg_setting all[CFG_MAX_SETTINGS];
    size_t n = cfg_settings(all);
    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = all[i].f;
        if (f->type == CFG_U32) {
            uint32_t v = *CFG_FIELD(cfg, all[i].off, uint32_t);
            if (v < f->min || v > f->max) {
                config_error(cfg, err, all[i].path, "must be between %u and %u, got %u", f->min, f->max, v);
                return ERR_INVALID;
            }
        } else if (f->type == CFG_LIST && *CFG_FIELD(cfg, all[i].count_off, unsigned) > f->max) {
            config_error(cfg, err, all[i].path, "too many entries (at most %u)", f->max);
            return ERR_INVALID;
        }
    }
    return 0;
}

static int validate_storage_log(struct config *cfg, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE];
    const char *stg = cfg->storage != NULL ? cfg->storage : "";
    bool sqlite = strncmp(stg, "sqlite:", 7) == 0 && stg[7] != '\0';
    bool postgres = strncmp(stg, "postgres://", 11) == 0 || strncmp(stg, "postgresql://", 13) == 0;
    if (!sqlite && !postgres) {
        /* Only the scheme is shown: a database URL can carry a password. */
        size_t sl = strcspn(stg, ":");
        config_error(cfg, err, "storage",
                     "unsupported storage '%.*s'; expected sqlite:<path> or "
                     "postgres://user:password@host:port/database",
                     (int)(sl < 32 ? sl : 32), str_shown(stg, buf));
        return ERR_INVALID;
    }
    if (!ONE_OF(cfg->log_level, log_levels_allowed)) {
        config_error(cfg, err, "log_level", "must be debug, info, warn or error, got '%s'",
                     str_shown(cfg->log_level, buf));
        return ERR_INVALID;
    }
    return 0;
}

int config_validate(struct config *cfg, struct errbuf *err)
{
    /* In this order: the first failure is reported. */
    static int (*const checks[])(struct config * cfg, struct errbuf * err) = {
        validate_bounds,      validate_issuer, validate_tls,       validate_listen,      validate_storage_log,
        validate_trusted_proxies, validate_keys, validate_resources, validate_sessions_ui,
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int rc = checks[i](cfg, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
