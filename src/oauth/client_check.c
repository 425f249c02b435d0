/* client_check.c: the one check of client metadata (client_check.h): RFC 6749 §2.1, §3.1.2, §4.4; RFC 7591
 * §2; RFC 7636 §4.2; RFC 7662 §4; RFC 8252 §7.1; RFC 8707 §2; RFC 9101 §10.5; RFC 9449 §5.2; RFC 9700
 * §2.1.1; OIDC Registration §2.
 * Grant names and their rules come from the grant table (grant_table.h). */
#include "oauth/client_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/str.h"
#include "core/validate.h"
#include "jose/jose.h"
#include "oauth/scope.h"
#include "session/user_check.h"
#include "core/banned.h"

#define CLIENT_NAME_MAX 1024u /* bytes of client_name */
#define CLIENT_LIST_MAX 64u   /* redirect URIs, APIs... of one client */

/* Without grant_types: interactive clients (with redirect URIs) get the code grant with refresh tokens
 * (whether one is issued is still refresh_token_policy's call), others client_credentials. */
static const char *const code_grants[] = {"authorization_code", "refresh_token"};
static const char *const machine_grants[] = {"client_credentials"};

/* A field named inside a reason, for client_problem_reason() to name as the caller does. */
#define F(name) "\001" name "\002"

__attribute__((format(printf, 4, 5))) static int fail(struct client_problem *p, const char *field, int index,
                                                      const char *fmt, ...)
{
    va_list ap;
    p->field = field;
    p->index = index;
    /* RFC 7591 §3.2.2: the redirection URIs have their own code; everything else is metadata. */
    p->error = strcmp(field, "redirect_uris") == 0 ? "invalid_redirect_uri" : "invalid_client_metadata";
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    va_end(ap);
    return -1;
}

const char *client_problem_reason(const struct client_problem *p, client_label_fn label, char *buf, size_t n)
{
    size_t o = 0;
    if (n == 0)
        return buf;
    for (const char *r = p->reason; *r != '\0' && o + 1 < n;) {
        if (*r != CLIENT_FIELD_OPEN) {
            buf[o++] = *r++;
            continue;
        }
        const char *end = strchr(r, CLIENT_FIELD_CLOSE);
        if (end == NULL)
            break;
        char field[64];
        snprintf(field, sizeof(field), "%.*s", (int)(end - r - 1), r + 1);
        const char *name = label != NULL ? label(field) : field;
        int w = snprintf(buf + o, n - o, "%s", name != NULL ? name : field);
        o = w < 0 ? o : o + (size_t)w < n ? o + (size_t)w : n - 1;
        r = end + 1;
    }
    buf[o] = '\0';
    return buf;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] != NULL && strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* An API of the configuration, or the built-in admin API when there is an admin listener. */
static bool is_resource(const struct config *cfg, const char *id)
{
    for (unsigned i = 0; i < cfg->n_resources; i++)
        if (cfg->resources[i].identifier != NULL && strcmp(cfg->resources[i].identifier, id) == 0)
            return true;
    size_t n = cfg->issuer != NULL ? strlen(cfg->issuer) : 0;
    return cfg->admin.listen != NULL && n > 0 && strncmp(id, cfg->issuer, n) == 0 &&
           strcmp(id + n, ADMIN_API_PATH) == 0;
}

/* A copy of a list in a, for struct client (whose lists are not const). */
static void list_copy(struct arena *a, struct meta_list l, const char ***out, size_t *n)
{
    const char **v = arena_alloc(a, (l.n > 0 ? l.n : 1) * sizeof(*v));
    for (size_t i = 0; i < l.n; i++)
        v[i] = l.v[i];
    *out = v;
    *n = l.n;
}

/* One entry of a list field: false with the reason in why[0..n) when it cannot be registered. */
typedef bool (*item_check_fn)(const struct config *cfg, const char *item, char *why, size_t n);

__attribute__((format(printf, 3, 4))) static bool refuse(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return false;
}

/* Schemes that run or carry content in the browser instead of reaching the client: a redirect to one
 * would run the attacker's script in the page's origin or show their content (RFC 9700 §4.11). The scheme
 * s[0..n) when it is one of them (any case), else NULL. */
static const char *scheme_scripting(const char *s, size_t n)
{
    static const char *const scripting[] = {"javascript", "data", "vbscript", "file", "blob", "about"};
    for (size_t i = 0; i < sizeof(scripting) / sizeof(scripting[0]); i++)
        if (n == strlen(scripting[i]) && strncasecmp(s, scripting[i], n) == 0)
            return scripting[i];
    return NULL;
}

/* A redirection target (RFC 6749 §3.1.2; OIDC RP-Initiated Logout §3.1). A URI with userinfo may hold a
 * password, and the plain-http rule is not about the URI's syntax: neither is echoed. */
static bool redirect_uri_ok(const struct config *cfg, const char *uri, char *why, size_t n)
{
    char buf[STR_SHOWN_SIZE];
    size_t sl = uri_scheme_len(uri);
    if (sl > 0 && strncmp(uri + sl, "://", 3) == 0 &&
        memchr(uri + sl + 3, '@', strcspn(uri + sl + 3, "/?#")) != NULL)
        return refuse(why, n, "%s", url_userinfo_reason);
    /* Absolute, no fragment. Custom schemes are allowed for native apps (RFC 8252 §7.1). */
    if (sl == 0 || !valid_visible_ascii(uri) || strchr(uri, '#') != NULL)
        return refuse(why, n, "must be an absolute URI without fragment (RFC 6749 §3.1.2), got '%s'",
                      str_shown(uri, buf));
    const char *bad = scheme_scripting(uri, sl);
    if (bad != NULL)
        return refuse(why, n, "the %s: scheme is not a redirection target", bad);
    if (!(sl == 4 && strncasecmp(uri, "http", 4) == 0) && !(sl == 5 && strncasecmp(uri, "https", 5) == 0))
        return true;
    struct url_parts u;
    const char *problem = http_url_check(uri, &u);
    if (problem != NULL)
        return refuse(why, n, "%s, got '%s'", problem, str_shown(uri, buf));
    /* A code sent over plain http to a remote host can be read on the way (RFC 6749 §10.5). */
    if (!u.https && !cfg->dev && !host_is_loopback(u.host, u.host_len))
        return refuse(why, n,
                      "plain http is only allowed for a loopback host (localhost, 127.0.0.0/8, [::1]) or in "
                      "dev mode; use https");
    return true;
}

/* An API of the configuration (RFC 8707 §2). */
static bool resource_ok(const struct config *cfg, const char *id, char *why, size_t n)
{
    char buf[STR_SHOWN_SIZE];
    if (is_resource(cfg, id))
        return true;
    return refuse(why, n, "unknown resource '%s' (not a resources[].identifier)", str_shown(id, buf));
}

/* A list field: at most CLIENT_LIST_MAX entries, each one accepted by `ok`, none twice. */
static int check_list(const struct config *cfg, const char *field, struct meta_list l, item_check_fn ok,
                      struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE], why[300];
    if (l.n > CLIENT_LIST_MAX)
        return fail(p, field, -1, "too many entries (at most %u)", CLIENT_LIST_MAX);
    for (size_t j = 0; j < l.n; j++) {
        if (!ok(cfg, l.v[j], why, sizeof(why)))
            return fail(p, field, (int)j, "%s", why);
        if (in_list(l.v[j], l.v, j))
            return fail(p, field, (int)j, "duplicate '%s'", str_shown(l.v[j], buf));
    }
    return 0;
}

/* The default signing algorithm: RS256 when configured (every RP must support it, OIDC Core §15.1), else
 * the first of keys.algorithms. */
static const char *default_alg(const struct config *cfg)
{
    if (in_list("RS256", (const char *const *)cfg->keys.algorithms, cfg->keys.n_algorithms))
        return "RS256";
    return cfg->keys.n_algorithms > 0 ? cfg->keys.algorithms[0] : "RS256";
}

static int check_identity(const struct client_meta *m, struct client *out, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    const char *id = m->client_id;
    /* RFC 6749 Appendix A.1 allows VSCHAR; spaces are refused too, as they only cause confusion. */
    if (id == NULL || id[0] == '\0' || strlen(id) > 255 || !valid_visible_ascii(id))
        return fail(p, "client_id", -1, "required, 1 to 255 visible ASCII characters, got '%s'",
                    str_shown(id, buf));
    if (m->client_name != NULL &&
        (strlen(m->client_name) > CLIENT_NAME_MAX || !utf8_valid(m->client_name, strlen(m->client_name))))
        return fail(p, "client_name", -1, "must be valid UTF-8 of at most %u bytes", CLIENT_NAME_MAX);
    out->client_id = id;
    out->client_name = m->client_name;
    /* OIDC Registration §2: web unless said otherwise. Only a native client's loopback IP redirect URIs may
     * vary in port (RFC 8252 §7.3). */
    if (m->application_type != NULL &&
        client_application_type_parse(m->application_type, &out->application_type) != 0)
        return fail(p, "application_type", -1, "must be web or native, got '%s'",
                    str_shown(m->application_type, buf));
    return 0;
}

/* token_endpoint_auth_signing_alg (OIDC Registration §2): an asymmetric alg for private_key_jwt, an HMAC
 * one for client_secret_jwt, nothing for the other methods; unset: every alg of that kind. */
static int check_signing_alg(const struct client_meta *m, struct client *out, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    unsigned kind = out->auth_method == CLIENT_AUTH_PRIVATE_KEY_JWT ? JOSE_ALGS_ASYMMETRIC
                    : out->auth_method == CLIENT_AUTH_SECRET_JWT    ? JOSE_ALGS_HMAC
                                                                    : 0;
    out->auth_signing_algs = kind;
    if (m->token_endpoint_auth_signing_alg == NULL)
        return 0;
    if (kind == 0)
        return fail(p, "token_endpoint_auth_signing_alg", -1,
                    "applies to " F("token_endpoint_auth_method") " private_key_jwt or client_secret_jwt only");
    enum jose_alg alg = jose_alg_parse_cstr(m->token_endpoint_auth_signing_alg);
    if ((JOSE_ALG_BIT(alg) & kind) == 0 || alg == JOSE_ALG_NONE)
        return fail(p, "token_endpoint_auth_signing_alg", -1, "must be one of %s for %s, got '%s'",
                    kind == JOSE_ALGS_HMAC ? "HS256, HS384, HS512"
                                           : "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519",
                    client_auth_method_str(out->auth_method), str_shown(m->token_endpoint_auth_signing_alg, buf));
    /* RFC 7518 §3.2: the HMAC key is at least as long as the hash (a generated secret has 64 bytes). */
    size_t min = alg == JOSE_ALG_HS384 ? 48 : alg == JOSE_ALG_HS512 ? 64 : 0;
    if (m->client_secret != NULL && strlen(m->client_secret) < min)
        return fail(p, "client_secret", -1, "%s needs a secret of at least %zu characters (RFC 7518 §3.2)",
                    m->token_endpoint_auth_signing_alg, min);
    out->auth_signing_alg = m->token_endpoint_auth_signing_alg;
    out->auth_signing_algs = JOSE_ALG_SAME(alg);
    return 0;
}

/* jwks (the JSON text of a JWK Set, RFC 7517 §5) or jwks_uri (https, RFC 7591 §2), not both: the keys
 * verified the way every token of the client will be (jose_jwks_import), at least one of them. */
static int check_jwks(const struct client_meta *m, struct arena *a, struct client *out, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (m->jwks != NULL && m->jwks_uri != NULL)
        return fail(p, "jwks", -1, F("jwks") " and " F("jwks_uri") " are mutually exclusive (RFC 7591 §2)");
    if (m->jwks_uri != NULL) {
        size_t n = strlen(m->jwks_uri);
        if (strncmp(m->jwks_uri, "https://", 8) != 0 || n <= 8 || n > 2048 || !valid_visible_ascii(m->jwks_uri) ||
            strchr(m->jwks_uri, '#') != NULL)
            return fail(p, "jwks_uri", -1, "must be an https URL without a fragment, got '%s'",
                        str_shown(m->jwks_uri, buf));
        out->jwks_uri = m->jwks_uri;
    }
    if (m->jwks != NULL) {
        json_error_t jerr;
        json_t *j = json_loads(m->jwks, JSON_REJECT_DUPLICATES, &jerr);
        struct jose_keyset set;
        struct errbuf err;
        int rc = j != NULL ? jose_jwks_import(a, j, &set, &err) : ERR_INVALID;
        json_decref(j);
        if (j == NULL)
            return fail(p, "jwks", -1, "must be a JSON object (a JWK Set): line %d: %s", jerr.line, jerr.text);
        if (rc != 0)
            return fail(p, "jwks", -1, "%s", err.msg);
        if (set.n == 0)
            return fail(p, "jwks", -1, "holds no public signature key (RSA, EC P-256/384/521 or Ed25519)");
        out->jwks = m->jwks;
    }
    return 0;
}

/* Secrets and their hashes are never echoed, whatever is wrong with them. */
static int check_authentication(const struct client_meta *m, struct arena *a, struct client *out,
                                struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (m->client_secret != NULL && m->client_secret_sha256 != NULL)
        return fail(p, "client_secret", -1,
                    F("client_secret") " and " F("client_secret_sha256") " are mutually exclusive");
    if (m->client_secret != NULL && m->client_secret[0] == '\0')
        return fail(p, "client_secret", -1, "must not be empty");
    if (m->client_secret_sha256 != NULL) {
        unsigned char *digest;
        size_t dlen;
        if (b64_decode(a, m->client_secret_sha256, strlen(m->client_secret_sha256), &digest, &dlen) != 0 ||
            dlen != 32)
            return fail(p, "client_secret_sha256", -1,
                        "must be the base64 of a 32-byte SHA-256 digest "
                        "(printf %%s \"$secret\" | openssl dgst -sha256 -binary | base64)");
    }
    bool given = m->client_secret != NULL || m->client_secret_sha256 != NULL;
    out->auth_method = given || m->server_secret ? CLIENT_AUTH_SECRET_BASIC : CLIENT_AUTH_NONE;
    if (m->token_endpoint_auth_method == NULL && m->client_secret == NULL && m->client_secret_sha256 == NULL &&
        (m->jwks != NULL || m->jwks_uri != NULL) && !m->server_secret)
        out->auth_method = CLIENT_AUTH_PRIVATE_KEY_JWT; /* keys and no secret: the keys authenticate it */
    if (m->token_endpoint_auth_method != NULL &&
        client_auth_method_parse(m->token_endpoint_auth_method, &out->auth_method) != 0)
        return fail(p, "token_endpoint_auth_method", -1,
                    "must be client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none, "
                    "got '%s'",
                    str_shown(m->token_endpoint_auth_method, buf));
    bool is_public = out->auth_method == CLIENT_AUTH_NONE;
    bool by_key = out->auth_method == CLIENT_AUTH_PRIVATE_KEY_JWT;
    if (by_key) {
        if (given)
            return fail(p, m->client_secret != NULL ? "client_secret" : "client_secret_sha256", -1,
                        "a private_key_jwt client authenticates with its keys and has no secret; remove it");
        if (m->jwks == NULL && m->jwks_uri == NULL)
            return fail(p, "token_endpoint_auth_method", -1,
                        "private_key_jwt requires " F("jwks") " or " F("jwks_uri"));
    } else if (!is_public && !given && !m->server_secret) {
        return fail(p, "token_endpoint_auth_method", -1,
                    "%s requires " F("client_secret") " or " F("client_secret_sha256"),
                    client_auth_method_str(out->auth_method));
    }
    /* The HMAC key is the secret itself (RFC 7518 §3.2), which a hash cannot give back. */
    if (out->auth_method == CLIENT_AUTH_SECRET_JWT && m->client_secret_sha256 != NULL)
        return fail(p, "client_secret_sha256", -1,
                    "client_secret_jwt needs " F("client_secret") " itself (kept encrypted at rest), not its hash");
    if (out->auth_method == CLIENT_AUTH_SECRET_JWT && m->client_secret != NULL && strlen(m->client_secret) < 32)
        return fail(p, "client_secret", -1,
                    "client_secret_jwt needs a secret of at least 32 characters (the HS256 key, RFC 7518 §3.2)");
    if (is_public && given)
        return fail(p, m->client_secret != NULL ? "client_secret" : "client_secret_sha256", -1,
                    "a public client (" F("token_endpoint_auth_method") " none) has no secret; use " F(
                        "token_endpoint_auth_method") " client_secret_basic or client_secret_post, or remove "
                                                      "the secret");
    return check_signing_alg(m, out, p);
}

/* The grant types and their rules, by the grant table (grant_table.h): served names only, once each; a
 * confidential-only grant needs a confidential client, the code grant redirect URIs, refresh_token a grant
 * that yields refresh tokens. */
static int check_grants(const struct client_meta *m, struct client *out, struct client_problem *p)
{
    const char *const *grants = m->grant_types.v;
    size_t n = m->grant_types.n;
    if (n == 0) {
        grants = m->redirect_uris.n > 0 ? code_grants : machine_grants;
        n = m->redirect_uris.n > 0 ? 2 : 1;
    }
    struct grant_refusal why;
    if (grant_names_check(grants, n, out->auth_method == CLIENT_AUTH_NONE, m->redirect_uris.n, &out->grant_types,
                          &why) != 0)
        return fail(p, why.redirect_uris ? "redirect_uris" : "grant_types", why.index, "%s", why.reason);
    /* The response types and the grant types agree both ways (OIDC Registration §2). */
    if (response_types_check(m->response_types.v, m->response_types.n, out->grant_types, &out->response_types,
                             &why) != 0)
        return fail(p, "response_types", why.index, "%s", why.reason);
    return 0;
}

/* introspection_access and introspection_resources (RFC 7662 §4: the server may limit which tokens a client
 * can introspect). The list names configured APIs and goes with `resources` only, both ways. */
static int check_introspection(const struct config *cfg, const struct client_meta *m, struct client *out,
                               struct arena *a, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (m->introspection_access != NULL &&
        client_introspection_access_parse(m->introspection_access, &out->introspection_access) != 0)
        return fail(p, "introspection_access", -1, "must be all, own or resources, got '%s'",
                    str_shown(m->introspection_access, buf));
    bool by_resource = out->introspection_access == INTROSPECT_RESOURCES;
    if (by_resource && m->introspection_resources.n == 0)
        return fail(p, "introspection_resources", -1,
                    F("introspection_access") " resources needs at least one API (a resources[].identifier)");
    if (!by_resource && m->introspection_resources.n > 0)
        return fail(p, "introspection_resources", -1,
                    "only applies with " F("introspection_access") " resources");
    if (check_list(cfg, "introspection_resources", m->introspection_resources, resource_ok, p) != 0)
        return -1;
    list_copy(a, m->introspection_resources, &out->introspection_resources, &out->n_introspection_resources);
    return 0;
}

/* The settings of the interactive flows: ID token algorithm, refresh token policy, PKCE. */
static int check_interactive(const struct config *cfg, const struct client_meta *m, struct client *out,
                             struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    /* OIDC Registration §2: RS256 unless the client says otherwise; the server must hold a key for it.
     * Unset, it stays unset (the default follows keys.algorithms). */
    out->id_token_signed_response_alg = m->id_token_signed_response_alg;
    if (m->id_token_signed_response_alg != NULL &&
        !in_list(m->id_token_signed_response_alg, (const char *const *)cfg->keys.algorithms,
                 cfg->keys.n_algorithms))
        return fail(p, "id_token_signed_response_alg", -1, "'%s' is not one of keys.algorithms",
                    str_shown(m->id_token_signed_response_alg, buf));
    if (m->id_token_claims != NULL &&
        client_id_token_claims_parse(m->id_token_claims, &out->id_token_claims) != 0)
        return fail(p, "id_token_claims", -1, "must be none or scope, got '%s'",
                    str_shown(m->id_token_claims, buf));
    if (m->refresh_token_policy != NULL &&
        client_refresh_policy_parse(m->refresh_token_policy, &out->refresh_policy) != 0)
        return fail(p, "refresh_token_policy", -1,
                    "must be offline_consent, offline_access or always, got '%s'",
                    str_shown(m->refresh_token_policy, buf));
    for (size_t j = 0; j < m->pkce_methods.n; j++) {
        unsigned f = pkce_method_flag(m->pkce_methods.v[j]);
        /* RFC 7636 §4.2: S256 and plain are the only methods defined. */
        if (f == 0)
            return fail(p, "pkce_methods", (int)j, "must be S256 or plain (RFC 7636 §4.2), got '%s'",
                        str_shown(m->pkce_methods.v[j], buf));
        if (out->pkce_methods & f)
            return fail(p, "pkce_methods", (int)j, "duplicate '%s'", m->pkce_methods.v[j]);
        out->pkce_methods |= f;
    }
    if (out->pkce_methods == 0)
        out->pkce_methods = PKCE_S256;
    bool is_public = out->auth_method == CLIENT_AUTH_NONE;
    out->require_pkce = cfg->pkce.required;
    if (m->require_pkce != NULL && parse_bool(m->require_pkce, &out->require_pkce) != 0)
        return fail(p, "require_pkce", -1, "invalid boolean '%s' (expected true or false)",
                    str_shown(m->require_pkce, buf));
    /* RFC 9700 §2.1.1: public clients MUST use PKCE; there is no switching it off for them. */
    if (m->require_pkce != NULL && !out->require_pkce && is_public)
        return fail(
            p, "require_pkce", -1,
            "cannot be false for a public client (" F(
                "token_endpoint_auth_method") " none): public clients must use PKCE (RFC 9700 §2.1.1)");
    if (is_public)
        out->require_pkce = true;
    /* RFC 9126 §6: this client's authorization requests must come through the PAR endpoint. */
    if (m->require_pushed_authorization_requests != NULL &&
        parse_bool(m->require_pushed_authorization_requests, &out->require_par) != 0)
        return fail(p, "require_pushed_authorization_requests", -1, "invalid boolean '%s' (expected true or false)",
                    str_shown(m->require_pushed_authorization_requests, buf));
    return 0;
}

/* request_object_signing_alg (OIDC Registration §2): an alg we verify, an HMAC one only for a
 * client_secret_jwt client (whose secret is the key), or "none", which allows unsigned request objects and
 * so cannot go with require_signed_request_object (RFC 9101 §10.5). */
static int check_request_objects(const struct client_meta *m, struct client *out, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (m->require_signed_request_object != NULL &&
        parse_bool(m->require_signed_request_object, &out->require_signed_request_object) != 0)
        return fail(p, "require_signed_request_object", -1, "invalid boolean '%s' (expected true or false)",
                    str_shown(m->require_signed_request_object, buf));
    const char *alg = m->request_object_signing_alg;
    if (alg == NULL)
        return 0;
    if (strcmp(alg, "none") == 0) {
        if (out->require_signed_request_object)
            return fail(p, "request_object_signing_alg", -1,
                        "none (unsigned request objects) contradicts " F("require_signed_request_object"));
    } else {
        enum jose_alg a = jose_alg_parse_cstr(alg);
        unsigned ok = JOSE_ALGS_ASYMMETRIC | (out->auth_method == CLIENT_AUTH_SECRET_JWT ? JOSE_ALGS_HMAC : 0);
        if (a == JOSE_ALG_NONE || (JOSE_ALG_BIT(a) & ok) == 0)
            return fail(p, "request_object_signing_alg", -1,
                        "must be an asymmetric JWS alg (RS256, PS256, ES256, EdDSA ...), HS256/384/512 for a "
                        "client_secret_jwt client, or none, got '%s'",
                        str_shown(alg, buf));
    }
    out->request_object_signing_alg = alg;
    return 0;
}

int client_check(const struct config *cfg, const struct client_meta *m, struct arena *a, struct client *out,
                 struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    memset(out, 0, sizeof(*out));
    memset(p, 0, sizeof(*p));
    if (check_identity(m, out, p) != 0 || check_authentication(m, a, out, p) != 0 || check_jwks(m, a, out, p) != 0)
        return -1;
    if (check_list(cfg, "redirect_uris", m->redirect_uris, redirect_uri_ok, p) != 0 ||
        check_list(cfg, "post_logout_redirect_uris", m->post_logout_redirect_uris, redirect_uri_ok, p) != 0)
        return -1;
    list_copy(a, m->redirect_uris, &out->redirect_uris, &out->n_redirect_uris);
    list_copy(a, m->post_logout_redirect_uris, &out->post_logout_redirect_uris,
              &out->n_post_logout_redirect_uris);
    if (check_grants(m, out, p) != 0)
        return -1;
    if (m->scope != NULL && !valid_scope_list(m->scope))
        return fail(p, "scope", -1,
                    "must be scope tokens separated by single spaces (RFC 6749 §3.3), got '%s'",
                    str_shown(m->scope, buf));
    out->scope = m->scope != NULL ? m->scope : "";
    if (check_list(cfg, "resources", m->resources, resource_ok, p) != 0)
        return -1;
    list_copy(a, m->resources, &out->resources, &out->n_resources);
    out->resources_listed = m->resources_listed;
    if (m->access_token_ttl > CFG_ENTRY_TTL_MAX)
        return fail(p, "access_token_ttl", -1, "must be at most %u (0 = the resource or global default)",
                    CFG_ENTRY_TTL_MAX);
    out->access_token_ttl = m->access_token_ttl;
    if (check_introspection(cfg, m, out, a, p) != 0)
        return -1;
    if (m->dpop_bound_access_tokens != NULL && parse_bool(m->dpop_bound_access_tokens, &out->dpop_bound_access_tokens) != 0)
        return fail(p, "dpop_bound_access_tokens", -1, "invalid boolean '%s' (expected true or false)",
                    str_shown(m->dpop_bound_access_tokens, buf));
    if (check_request_objects(m, out, p) != 0)
        return -1;
    return check_interactive(cfg, m, out, p);
}

/* ---- Where metadata comes from -------------------------------------------------------------------- */

static const char *json_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static struct meta_list json_strs(json_t *o, const char *key, struct arena *a)
{
    json_t *arr = json_object_get(o, key);
    size_t i, n = 0;
    json_t *v;
    if (!json_is_array(arr))
        return (struct meta_list){NULL, 0};
    const char **out = arena_alloc(a, (json_array_size(arr) + 1) * sizeof(*out));
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            out[n++] = json_string_value(v);
    }
    return (struct meta_list){out, n};
}

void client_meta_from_json(json_t *o, struct arena *a, struct client_meta *m)
{
    memset(m, 0, sizeof(*m));
    m->client_name = json_str(o, "client_name");
    m->application_type = json_str(o, "application_type");
    m->token_endpoint_auth_method = json_str(o, "token_endpoint_auth_method");
    m->token_endpoint_auth_signing_alg = json_str(o, "token_endpoint_auth_signing_alg");
    m->jwks_uri = json_str(o, "jwks_uri");
    /* RFC 7591 §2: jwks is a JSON object; the configuration and the CLI give its text. */
    json_t *jwks = json_object_get(o, "jwks");
    if (json_is_object(jwks)) {
        char *text = json_dumps(jwks, JSON_COMPACT);
        m->jwks = text != NULL ? arena_strdup(a, text) : NULL;
        free(text);
    } else {
        m->jwks = json_str(o, "jwks");
    }
    m->scope = json_str(o, "scope");
    if (m->scope != NULL && m->scope[0] == '\0')
        m->scope = NULL;
    json_t *ttl = json_object_get(o, "access_token_ttl");
    if (json_is_integer(ttl) && json_integer_value(ttl) >= 0 && json_integer_value(ttl) <= UINT32_MAX)
        m->access_token_ttl = (uint32_t)json_integer_value(ttl);
    m->id_token_signed_response_alg = json_str(o, "id_token_signed_response_alg");
    m->refresh_token_policy = json_str(o, "refresh_token_policy");
    m->id_token_claims = json_str(o, "id_token_claims");
    json_t *rq = json_object_get(o, "require_pkce");
    if (json_is_boolean(rq))
        m->require_pkce = json_is_true(rq) ? "true" : "false";
    json_t *par = json_object_get(o, "require_pushed_authorization_requests");
    if (json_is_boolean(par))
        m->require_pushed_authorization_requests = json_is_true(par) ? "true" : "false";
    m->resources_listed = json_is_array(json_object_get(o, "resources"));
    m->introspection_access = json_str(o, "introspection_access");
    json_t *dpop = json_object_get(o, "dpop_bound_access_tokens");
    if (json_is_boolean(dpop))
        m->dpop_bound_access_tokens = json_is_true(dpop) ? "true" : "false";
    m->request_object_signing_alg = json_str(o, "request_object_signing_alg");
    json_t *rsro = json_object_get(o, "require_signed_request_object");
    if (json_is_boolean(rsro))
        m->require_signed_request_object = json_is_true(rsro) ? "true" : "false";
    m->grant_types = json_strs(o, "grant_types", a);
    m->response_types = json_strs(o, "response_types", a);
    m->redirect_uris = json_strs(o, "redirect_uris", a);
    m->resources = json_strs(o, "resources", a);
    m->post_logout_redirect_uris = json_strs(o, "post_logout_redirect_uris", a);
    m->pkce_methods = json_strs(o, "pkce_methods", a);
    m->introspection_resources = json_strs(o, "introspection_resources", a);
}

/* The JSON type each metadata field takes: the declaration's (CONFIG_CLIENT) with the booleans kept as
 * text there (require_pkce, dpop_bound_access_tokens) booleans. */
enum meta_json_type { META_STR, META_U32, META_LIST, META_BOOL, META_OBJ };
#define META_JSON_ROW(name, type, def, min, max, flags, doc) {#name, META_JSON_##type},
#define META_JSON_STR META_STR
#define META_JSON_U32 META_U32
#define META_JSON_LIST META_LIST
static const struct {
    const char *name;
    enum meta_json_type type;
} meta_json_fields[] = {CONFIG_CLIENT(META_JSON_ROW)};

/* The fields of clients[] that are booleans kept as text ("true"/"false"): booleans in JSON. */
static bool is_bool_field(const char *field)
{
    return strcmp(field, "require_pkce") == 0 || strcmp(field, "require_pushed_authorization_requests") == 0 ||
           strcmp(field, "dpop_bound_access_tokens") == 0 || strcmp(field, "require_signed_request_object") == 0;
}

static const char *const meta_json_type_names[] = {"a string", "a non-negative integer",
                                                    "an array of strings", "a boolean", "a JSON object"};

int client_meta_from_json_strict(json_t *o, struct arena *a, struct client_meta *m, struct client_problem *p)
{
    memset(p, 0, sizeof(*p));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        size_t f = 0;
        while (f < sizeof(meta_json_fields) / sizeof(meta_json_fields[0]) &&
               strcmp(meta_json_fields[f].name, key) != 0)
            f++;
        if (f == sizeof(meta_json_fields) / sizeof(meta_json_fields[0])) {
            char buf[STR_SHOWN_SIZE];
            p->field = "";
            p->index = -1;
            p->error = "invalid_client_metadata";
            snprintf(p->reason, sizeof(p->reason), "unknown client metadata field '%s'", str_shown(key, buf));
            return -1;
        }
        const char *field = meta_json_fields[f].name;
        enum meta_json_type t = is_bool_field(field) ? META_BOOL : meta_json_fields[f].type;
        bool ok = json_is_null(v) || (t == META_STR && json_is_string(v)) ||
                  (strcmp(field, "jwks") == 0 && json_is_object(v)) ||
                  (t == META_BOOL && json_is_boolean(v)) ||
                  (t == META_U32 && json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= UINT32_MAX);
        if (t == META_LIST && json_is_array(v)) {
            size_t i;
            json_t *item;
            ok = true;
            json_array_foreach(v, i, item)
            {
                if (!json_is_string(item))
                    return fail(p, field, (int)i, "must be a string");
            }
        }
        if (!ok)
            return fail(p, field, -1, "must be %s", meta_json_type_names[t]);
    }
    client_meta_from_json(o, a, m);
    m->client_id = json_string_value(json_object_get(o, "client_id"));
    m->client_secret = json_string_value(json_object_get(o, "client_secret"));
    m->client_secret_sha256 = json_string_value(json_object_get(o, "client_secret_sha256"));
    return 0;
}

void client_meta_default_grants(struct client_meta *m)
{
    static const char *const code[] = {"authorization_code"};
    if (m->grant_types.n == 0)
        m->grant_types = (struct meta_list){m->redirect_uris.n > 0 ? code : machine_grants, 1};
}

/* ---- clients[] of the configuration -------------------------------------------------------------------- */

/* The metadata of clients[i] of the configuration (pointers into cfg). */
static void client_meta_from_config(const struct config *cfg, unsigned i, struct client_meta *m)
{
    const struct cfg_client *c = &cfg->clients[i];
    memset(m, 0, sizeof(*m));
#define FROM_CFG(name, type, def, min, max, flags, doc) FROM_CFG_##type(name)
#define FROM_CFG_STR(n) m->n = c->n;
#define FROM_CFG_U32(n) m->n = c->n;
#define FROM_CFG_LIST(n) m->n = (struct meta_list){(const char *const *)c->n, c->n_##n};
    CONFIG_CLIENT(FROM_CFG)
}

int client_check_entry(const struct config *cfg, unsigned i, struct arena *a, struct client *out,
                       struct client_problem *p)
{
    struct client_meta m;
    client_meta_from_config(cfg, i, &m);
    return client_check(cfg, &m, a, out, p);
}

static void set_list(char ***field, unsigned *n, const char *const *names, unsigned count)
{
    for (unsigned k = 0; k < *n; k++)
        free((*field)[k]);
    free(*field);
    *field = calloc(count, sizeof(char *));
    if (*field == NULL)
        abort();
    for (unsigned k = 0; k < count; k++)
        config_set_str(&(*field)[k], names[k]);
    *n = count;
}

/* Writes the defaults client_check() chose back into the entry, so that the configuration states them. */
static void fill_defaults(const struct config *cfg, struct cfg_client *cc, const struct client *c)
{
    static const char *const s256[] = {"S256"};
    config_set_str(&cc->token_endpoint_auth_method, client_auth_method_str(c->auth_method));
    config_set_str(&cc->application_type, client_application_type_str(c->application_type));
    if (cc->n_grant_types == 0) {
        if (cc->n_redirect_uris > 0)
            set_list(&cc->grant_types, &cc->n_grant_types, code_grants, 2);
        else
            set_list(&cc->grant_types, &cc->n_grant_types, machine_grants, 1);
    }
    if (cc->n_response_types == 0 && c->response_types != 0) {
        const char *names[8];
        unsigned n = 0;
        for (unsigned t = response_type_next_served(0); t != 0 && n < 8; t = response_type_next_served(t))
            if (c->response_types & RESPONSE_TYPE_BIT(t))
                names[n++] = response_type_name(t);
        set_list(&cc->response_types, &cc->n_response_types, names, n);
    }
    if (cc->id_token_signed_response_alg == NULL)
        config_set_str(&cc->id_token_signed_response_alg, default_alg(cfg));
    config_set_str(&cc->refresh_token_policy, client_refresh_policy_str(c->refresh_policy));
    config_set_str(&cc->id_token_claims, client_id_token_claims_str(c->id_token_claims));
    if (cc->n_pkce_methods == 0)
        set_list(&cc->pkce_methods, &cc->n_pkce_methods, s256, 1);
    cc->require_pkce_set = cc->require_pkce != NULL;
    cc->require_pkce_value = cc->require_pkce_set && c->require_pkce;
    if (cc->require_pkce_set)
        config_set_str(&cc->require_pkce, c->require_pkce ? "true" : "false");
    config_set_str(&cc->introspection_access, client_introspection_access_str(c->introspection_access));
    config_set_str(&cc->dpop_bound_access_tokens, c->dpop_bound_access_tokens ? "true" : "false");
    config_set_str(&cc->require_signed_request_object, c->require_signed_request_object ? "true" : "false");
}

int clients_check_config(struct config *cfg, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE], reason[512], path[128];
    int rc = 0;
    struct arena *a = arena_new(2048);
    /* Not in `a`, which every entry resets. */
    const char **ids = calloc(cfg->n_clients + 1, sizeof(*ids));
    long *dup_of = calloc(cfg->n_clients + 1, sizeof(*dup_of));
    if (ids == NULL || dup_of == NULL)
        abort();
    for (unsigned i = 0; i < cfg->n_clients; i++)
        ids[i] = cfg->clients[i].client_id;
    str_earlier_duplicates(ids, cfg->n_clients, dup_of);
    for (unsigned i = 0; i < cfg->n_clients && rc == 0; i++) {
        struct cfg_client *cc = &cfg->clients[i];
        struct client c;
        struct client_problem p;
        if (dup_of[i] >= 0) {
            snprintf(path, sizeof(path), "clients[%u].client_id", i);
            config_error(cfg, err, path, "duplicate '%s' (also clients[%ld])", str_shown(cc->client_id, buf),
                         dup_of[i]);
            rc = ERR_INVALID;
        }
        if (rc == 0 && client_check_entry(cfg, i, a, &c, &p) != 0) {
            if (p.index >= 0)
                snprintf(path, sizeof(path), "clients[%u].%s[%d]", i, p.field, p.index);
            else
                snprintf(path, sizeof(path), "clients[%u].%s", i, p.field);
            config_error(cfg, err, path, "%s", client_problem_reason(&p, NULL, reason, sizeof(reason)));
            rc = ERR_INVALID;
        }
        if (rc == 0)
            fill_defaults(cfg, cc, &c);
        arena_reset(a);
    }
    arena_free(a);
    free(ids);
    free(dup_of);
    return rc;
}

int oauth_config_validate(struct config *cfg, struct errbuf *err)
{
    int rc = config_validate(cfg, err);
    if (rc == 0)
        rc = clients_check_config(cfg, err);
    if (rc == 0)
        rc = registration_check_config(cfg, err);
    if (rc == 0)
        rc = users_check_config(cfg, err);
    return rc;
}

/* ---- dynamic registration (RFC 7591, RFC 7592) --------------------------------------------------------- */

/* The members a registration request may set, with their JSON types. */
static const struct {
    const char *name;
    enum meta_json_type type;
} reg_fields[] = {
    {"redirect_uris", META_LIST},
    {"token_endpoint_auth_method", META_STR},
    {"grant_types", META_LIST},
    {"response_types", META_LIST},
    {"client_name", META_STR},
    {"scope", META_STR},
    {"application_type", META_STR},
    {"post_logout_redirect_uris", META_LIST},
    {"id_token_signed_response_alg", META_STR},
    {"require_pushed_authorization_requests", META_BOOL},
    {"token_endpoint_auth_signing_alg", META_STR},
    {"jwks", META_OBJ},
    {"jwks_uri", META_STR},
};

int client_meta_from_registration(json_t *o, struct arena *a, struct client_meta *m, struct client_problem *p)
{
    memset(m, 0, sizeof(*m));
    memset(p, 0, sizeof(*p));
    if (!json_is_object(o))
        return fail(p, "", -1, "the request body must be a JSON object of client metadata (RFC 7591 section 2)");
    for (size_t f = 0; f < sizeof(reg_fields) / sizeof(reg_fields[0]); f++) {
        json_t *v = json_object_get(o, reg_fields[f].name);
        enum meta_json_type t = reg_fields[f].type;
        if (v == NULL || json_is_null(v))
            continue;
        bool ok = (t == META_STR && json_is_string(v)) || (t == META_BOOL && json_is_boolean(v)) ||
                  (t == META_LIST && json_is_array(v)) || (t == META_OBJ && json_is_object(v));
        if (!ok)
            return fail(p, reg_fields[f].name, -1, "must be %s", meta_json_type_names[t]);
        if (t == META_STR && strlen(json_string_value(v)) != json_string_length(v))
            return fail(p, reg_fields[f].name, -1, "must not contain NUL characters");
        if (t != META_LIST)
            continue;
        if (json_array_size(v) > CLIENT_LIST_MAX)
            return fail(p, reg_fields[f].name, -1, "too many entries (at most %u)", CLIENT_LIST_MAX);
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item))
                return fail(p, reg_fields[f].name, (int)i, "must be a string");
        }
    }
    /* The members read are type-checked above; what only an operator sets is dropped. */
    client_meta_from_json(o, a, m);
    struct client_meta wire = {
        .client_name = m->client_name,
        .application_type = m->application_type,
        .token_endpoint_auth_method = m->token_endpoint_auth_method,
        .token_endpoint_auth_signing_alg = m->token_endpoint_auth_signing_alg,
        .jwks = m->jwks,
        .jwks_uri = m->jwks_uri,
        .scope = m->scope,
        .id_token_signed_response_alg = m->id_token_signed_response_alg,
        .require_pushed_authorization_requests = m->require_pushed_authorization_requests,
        .grant_types = m->grant_types,
        .response_types = m->response_types,
        .redirect_uris = m->redirect_uris,
        .post_logout_redirect_uris = m->post_logout_redirect_uris,
    };
    *m = wire;
    /* RFC 7591 §2: grant_types defaults to authorization_code (and response_types to code). */
    if (m->grant_types.n == 0) {
        static const char *const code[] = {"authorization_code"};
        m->grant_types = (struct meta_list){code, 1};
    }
    return 0;
}

static bool in_cfg_list(const char *s, char *const *list, unsigned n)
{
    return in_list(s, (const char *const *)list, n);
}

/* A host of registration.redirect_uri_hosts: "rp.example.com" exactly, or "*.example.com" for any name
 * that ends in ".example.com" (not example.com itself). Hosts compare without regard to case. */
static bool host_allowed(const struct config *cfg, const char *host, size_t n)
{
    if (cfg->registration.n_redirect_uri_hosts == 0)
        return true;
    for (unsigned i = 0; i < cfg->registration.n_redirect_uri_hosts; i++) {
        const char *h = cfg->registration.redirect_uri_hosts[i];
        size_t hl = strlen(h);
        if (hl == n && strncasecmp(h, host, n) == 0)
            return true;
        if (hl > 2 && h[0] == '*' && h[1] == '.' && n > hl - 1 && strncasecmp(host + n - (hl - 1), h + 1, hl - 1) == 0)
            return true;
    }
    return false;
}

/* The registration policy on one redirection URI (already accepted by redirect_uri_ok). */
static bool policy_uri_ok(const struct config *cfg, const char *uri, char *why, size_t n)
{
    char buf[STR_SHOWN_SIZE];
    size_t sl = uri_scheme_len(uri);
    bool web = (sl == 4 && strncasecmp(uri, "http", 4) == 0) || (sl == 5 && strncasecmp(uri, "https", 5) == 0);
    struct url_parts u;
    if (web && http_url_check(uri, &u) == NULL && host_is_loopback(u.host, u.host_len)) {
        if (!cfg->registration.allow_localhost)
            return refuse(why, n, "redirect URIs to a loopback host (localhost, 127.0.0.1, [::1]) are not allowed "
                                  "here (registration.allow_localhost)");
        return true;
    }
    char scheme[33];
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(sl < 32 ? sl : 32), uri);
    bool scheme_ok = false;
    for (unsigned i = 0; i < cfg->registration.n_redirect_uri_schemes; i++)
        scheme_ok |= strcasecmp(cfg->registration.redirect_uri_schemes[i], scheme) == 0;
    if (!scheme_ok)
        return refuse(why, n, "the scheme '%s' is not allowed here (registration.redirect_uri_schemes)",
                      str_shown(scheme, buf));
    if (web && (http_url_check(uri, &u) != NULL || !host_allowed(cfg, u.host, u.host_len)))
        return refuse(why, n, "the host of '%s' is not allowed here (registration.redirect_uri_hosts)",
                      str_shown(uri, buf));
    return true;
}

int client_check_registration(const struct config *cfg, const struct client_meta *m, struct arena *a,
                              struct client *out, struct client_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    struct client_meta rm = *m;
    rm.server_secret = true; /* RFC 7591 §3.2.1: the server issues the secret */
    /* Registered clients reach only the APIs the policy names (none when it names none). */
    rm.resources = (struct meta_list){(const char *const *)cfg->registration.resources,
                                      cfg->registration.n_resources};
    rm.resources_listed = true;
    /* Any access token of the issuer is more than a stranger should be able to introspect (RFC 7662 §4). */
    rm.introspection_access = "own";
    if (rm.scope == NULL && cfg->registration.n_scopes > 0) {
        struct scope_set all = {(const char **)cfg->registration.scopes, cfg->registration.n_scopes};
        rm.scope = scope_join(a, &all);
    }
    if (client_check(cfg, &rm, a, out, p) != 0)
        return -1;
    const struct cfg_registration *pol = &cfg->registration;
    const char *method = client_auth_method_str(out->auth_method);
    if (!in_cfg_list(method, pol->auth_methods, pol->n_auth_methods))
        return fail(p, "token_endpoint_auth_method", -1, "'%s' is not allowed here (registration.auth_methods)",
                    method);
    for (size_t i = 0; i < rm.grant_types.n; i++)
        if (!in_cfg_list(rm.grant_types.v[i], pol->grant_types, pol->n_grant_types))
            return fail(p, "grant_types", (int)i, "'%s' is not allowed here (registration.grant_types)",
                        str_shown(rm.grant_types.v[i], buf));
    /* client_check() made response_types and grant_types agree (RFC 7591 §2.1, OIDC Registration §2). */
    unsigned allowed = 0, parts;
    for (unsigned i = 0; i < pol->n_response_types; i++)
        if (response_type_parse(pol->response_types[i], &parts) == RESPONSE_TYPE_OK)
            allowed |= RESPONSE_TYPE_BIT(parts);
    for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t))
        if ((out->response_types & RESPONSE_TYPE_BIT(t)) && !(allowed & RESPONSE_TYPE_BIT(t)))
            return fail(p, "response_types", -1, "'%s' is not allowed here (registration.response_types)",
                        response_type_name(t));
    struct scope_set want;
    if (out->scope[0] != '\0' && scope_parse(a, out->scope, strlen(out->scope), &want) == 0)
        for (size_t i = 0; i < want.n; i++)
            if (!in_cfg_list(want.v[i], pol->scopes, pol->n_scopes))
                return fail(p, "scope", -1, "'%s' is not allowed here (registration.scopes)", str_shown(want.v[i], buf));
    if (check_list(cfg, "redirect_uris", rm.redirect_uris, policy_uri_ok, p) != 0 ||
        check_list(cfg, "post_logout_redirect_uris", rm.post_logout_redirect_uris, policy_uri_ok, p) != 0)
        return -1;
    return 0;
}

int registration_check_config(struct config *cfg, struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE], path[64];
    const struct cfg_registration *r = &cfg->registration;
    for (unsigned i = 0; i < r->n_grant_types; i++) {
        const struct grant_type *g = grant_by_name(r->grant_types[i]);
        if (g == NULL || !g->served) {
            snprintf(path, sizeof(path), "registration.grant_types[%u]", i);
            config_error(cfg, err, path, "'%s' is not a grant type this server serves",
                         str_shown(r->grant_types[i], buf));
            return ERR_INVALID;
        }
    }
    for (unsigned i = 0; i < r->n_response_types; i++) {
        unsigned parts;
        if (response_type_parse(r->response_types[i], &parts) != RESPONSE_TYPE_OK) {
            snprintf(path, sizeof(path), "registration.response_types[%u]", i);
            config_error(cfg, err, path, "'%s' is not a response type this server serves",
                         str_shown(r->response_types[i], buf));
            return ERR_INVALID;
        }
    }
    for (unsigned i = 0; i < r->n_auth_methods; i++) {
        enum client_auth_method m;
        if (client_auth_method_parse(r->auth_methods[i], &m) != 0) {
            snprintf(path, sizeof(path), "registration.auth_methods[%u]", i);
            config_error(cfg, err, path,
                         "must be client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or "
                         "none, got '%s'",
                         str_shown(r->auth_methods[i], buf));
            return ERR_INVALID;
        }
    }
    for (unsigned i = 0; i < r->n_scopes; i++)
        if (!valid_scope_list(r->scopes[i]) || strchr(r->scopes[i], ' ') != NULL) {
            snprintf(path, sizeof(path), "registration.scopes[%u]", i);
            config_error(cfg, err, path, "must be one scope token (RFC 6749 section 3.3), got '%s'",
                         str_shown(r->scopes[i], buf));
            return ERR_INVALID;
        }
    for (unsigned i = 0; i < r->n_resources; i++)
        if (!is_resource(cfg, r->resources[i])) {
            snprintf(path, sizeof(path), "registration.resources[%u]", i);
            config_error(cfg, err, path, "unknown resource '%s' (not a resources[].identifier)",
                         str_shown(r->resources[i], buf));
            return ERR_INVALID;
        }
    for (unsigned i = 0; i < r->n_redirect_uri_schemes; i++) {
        const char *s = r->redirect_uri_schemes[i];
        /* RFC 3986 §3.1 scheme, and never one that runs in the browser. */
        char probe[80];
        snprintf(probe, sizeof(probe), "%.60s:x", s);
        if (strlen(s) > 60 || uri_scheme_len(probe) != strlen(s) || scheme_scripting(s, strlen(s)) != NULL) {
            snprintf(path, sizeof(path), "registration.redirect_uri_schemes[%u]", i);
            config_error(cfg, err, path, "'%s' is not a scheme a redirect URI may have", str_shown(s, buf));
            return ERR_INVALID;
        }
    }
    return 0;
}
