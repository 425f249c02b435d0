/* cmd_client.c: `ostiary client create|list|show|update|delete|rotate-secret`: registered clients in the
 * store, with RFC 7591 §2 metadata names. A secret is shown once (creation, rotation) and stored only as its
 * SHA-256. The checks mirror those of clients[] in core/config.c, and the grant types follow the grant table
 * (oauth/grant_table.h) as the file's do; the configuration file itself is not edited. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "oauth/client.h"
#include "oauth/scope.h"
#include "store/store.h"
#include "core/validate.h"
#include "jose/jose.h"
#include "core/banned.h"

#define LIST_MAX 64u                      /* redirect URIs, resources, grant types per command */
#define TTL_MAX (366u * 86400u)           /* the configuration's bound on a per-entry access_token_ttl */

/* ---- Command line ---------------------------------------------------------------------------------- */

enum opt {
    O_CLIENT_ID,
    O_NAME,
    O_APP_TYPE,
    O_GRANT_TYPE,
    O_GRANT_TYPES,
    O_REDIRECT_URI,
    O_NO_REDIRECT_URIS,
    O_SCOPE,
    O_AUTH_METHOD,
    O_PUBLIC,
    O_SECRET,
    O_SECRET_SHA256,
    O_RESOURCE,
    O_NO_RESOURCES,
    O_TTL,
    O_POST_LOGOUT_URI,
    O_NO_POST_LOGOUT_URIS,
    O_ID_TOKEN_ALG,
    O_REFRESH_POLICY,
    O_PKCE_METHODS,
    O_REQUIRE_PKCE,
    O_NO_REQUIRE_PKCE,
    O_INTROSPECTION_ACCESS,
    O_INTROSPECTION_RESOURCE,
    O_NO_INTROSPECTION_RESOURCES,
    O_COUNT
};

static const struct {
    const char *name;
    bool has_value;
    bool repeatable;
} opts[O_COUNT] = {
    [O_CLIENT_ID] = {"--client-id", true, false},
    [O_NAME] = {"--name", true, false},
    [O_APP_TYPE] = {"--application-type", true, false},
    [O_GRANT_TYPE] = {"--grant-type", true, true},
    [O_GRANT_TYPES] = {"--grant-types", true, true},
    [O_REDIRECT_URI] = {"--redirect-uri", true, true},
    [O_NO_REDIRECT_URIS] = {"--no-redirect-uris", false, false},
    [O_SCOPE] = {"--scope", true, false},
    [O_AUTH_METHOD] = {"--auth-method", true, false},
    [O_PUBLIC] = {"--public", false, false},
    [O_SECRET] = {"--secret", true, false},
    [O_SECRET_SHA256] = {"--secret-sha256", true, false},
    [O_RESOURCE] = {"--resource", true, true},
    [O_NO_RESOURCES] = {"--no-resources", false, false},
    [O_TTL] = {"--access-token-ttl", true, false},
    [O_POST_LOGOUT_URI] = {"--post-logout-redirect-uri", true, true},
    [O_NO_POST_LOGOUT_URIS] = {"--no-post-logout-redirect-uris", false, false},
    [O_ID_TOKEN_ALG] = {"--id-token-alg", true, false},
    [O_REFRESH_POLICY] = {"--refresh-token-policy", true, false},
    [O_PKCE_METHODS] = {"--pkce-methods", true, false},
    [O_REQUIRE_PKCE] = {"--require-pkce", false, false},
    [O_NO_REQUIRE_PKCE] = {"--no-require-pkce", false, false},
    [O_INTROSPECTION_ACCESS] = {"--introspection-access", true, false},
    [O_INTROSPECTION_RESOURCE] = {"--introspection-resource", true, true},
    [O_NO_INTROSPECTION_RESOURCES] = {"--no-introspection-resources", false, false},
};

#define BIT(o) (1u << (o))
_Static_assert(O_COUNT <= 32, "client_args.seen holds one bit per option");
#define METADATA_OPTS                                                                                          \
    (BIT(O_NAME) | BIT(O_APP_TYPE) | BIT(O_GRANT_TYPE) | BIT(O_GRANT_TYPES) | BIT(O_REDIRECT_URI) |            \
     BIT(O_SCOPE) | BIT(O_AUTH_METHOD) | BIT(O_PUBLIC) | BIT(O_SECRET) | BIT(O_SECRET_SHA256) |                \
     BIT(O_RESOURCE) | BIT(O_TTL) | BIT(O_POST_LOGOUT_URI) | BIT(O_ID_TOKEN_ALG) | BIT(O_REFRESH_POLICY) |     \
     BIT(O_PKCE_METHODS) | BIT(O_REQUIRE_PKCE) | BIT(O_NO_REQUIRE_PKCE) | BIT(O_INTROSPECTION_ACCESS) |        \
     BIT(O_INTROSPECTION_RESOURCE))

/* What the command line said, unchecked: values are validated once the configuration is loaded. */
struct client_args {
    unsigned seen;               /* BIT(enum opt) of every option given */
    const char *val[O_COUNT];    /* single-valued options */
    const char *grants[LIST_MAX];
    const char *grant_flag[LIST_MAX]; /* --grant-type or --grant-types, for messages */
    size_t n_grants;
    const char *redirect_uris[LIST_MAX];
    size_t n_redirect_uris;
    const char *resources[LIST_MAX];
    size_t n_resources;
    const char *post_logout_uris[LIST_MAX];
    size_t n_post_logout_uris;
    const char *introspection_resources[LIST_MAX];
    size_t n_introspection_resources;
    const char *pos[4];          /* subcommand, then its operands */
    size_t n_pos;
};

/* Everything a subcommand needs. */
struct client_cmd {
    const char *sub;             /* "create", ...: the prefix of every message */
    struct client_args *args;
    struct config *cfg;
    struct store_conn *db;
    struct arena *a;
};

static void usage(FILE *out)
{
    fputs("usage: ostiary client <subcommand> [options]\n"
          "\n"
          "subcommands:\n"
          "  create [--client-id ID] [CLIENT OPTIONS]   register a client; prints its secret once\n"
          "  list                                       one JSON line per client (never secrets)\n"
          "  show ID                                    the client's metadata\n"
          "  update ID [CLIENT OPTIONS]                 change only the given fields\n"
          "  delete ID                                  remove the client (its tokens stop working)\n"
          "  rotate-secret ID [--secret S]              new secret (256 bits unless given), printed once\n"
          "  help                                       this text\n"
          "\n"
          "client options:\n"
          "  --name NAME                    client_name\n"
          "  --application-type T           web (default) or native: only a native client's redirect URIs\n"
          "                                 on http://127.0.0.1 or http://[::1] match any port (RFC 8252)\n"
          "  --grant-type G                 repeatable; or --grant-types a,b. One of the grant types this\n"
          "                                 server serves:\n",
          out);
    for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g))
        fprintf(out, "%33s%s\n", "", g->name);
    fputs("                                 Default: authorization_code with redirect URIs, else\n"
          "                                 client_credentials\n"
          "  --redirect-uri URI             repeatable; absolute, no fragment (--no-redirect-uris clears)\n"
          "  --scope \"a b\"                  allowed scopes, space-separated (\"\" for none)\n"
          "  --auth-method M                client_secret_basic (default), client_secret_post or none\n"
          "  --public                       same as --auth-method none: no secret, PKCE required\n"
          "  --secret S                     use this secret instead of generating one\n"
          "  --secret-sha256 B64            or only its hash: base64 of the 32-byte SHA-256 of the secret\n"
          "  --resource ID                  repeatable; an API of the configuration's resources\n"
          "                                 (none = any; --no-resources clears)\n"
          "  --access-token-ttl SECONDS     0 = the API's or the global default\n"
          "  --post-logout-redirect-uri URI repeatable; same rules as --redirect-uri\n"
          "                                 (--no-post-logout-redirect-uris clears)\n"
          "  --id-token-alg ALG             id_token_signed_response_alg: RS256, ES256 or EdDSA, one of\n"
          "                                 keys.algorithms (default: RS256 if configured, else the first)\n"
          "  --refresh-token-policy P       offline_consent (default), offline_access or always\n"
          "  --pkce-methods LIST            allowed code_challenge_method values: S256 (default), plain,\n"
          "                                 or S256,plain\n"
          "  --require-pkce                 require PKCE (default: pkce.required); always on for public\n"
          "  --no-require-pkce              clients, which cannot take --no-require-pkce\n"
          "  --introspection-access A       which access tokens it may introspect: all (default), own,\n"
          "                                 or resources (its own and those for --introspection-resource)\n"
          "  --introspection-resource ID    repeatable; an API of the configuration's resources, with\n"
          "                                 --introspection-access resources\n"
          "                                 (--no-introspection-resources clears)\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n"
          "\n"
          "A client declared in the configuration file is written again at every start of the server:\n"
          "change it in the file.\n",
          out);
}

/* A malformed command line: the message, a pointer to the help, and exit status 2. */
static void usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void usage_error(const char *sub, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ostiary: client", stderr);
    if (sub != NULL)
        fprintf(stderr, " %s", sub);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see ostiary client help)\n", stderr);
    va_end(ap);
    exit(2);
}

static int find_opt(const char *s)
{
    for (int o = 0; o < O_COUNT; o++)
        if (strcmp(s, opts[o].name) == 0)
            return o;
    return -1;
}

/* Splits --grant-types a,b,c (spaces around items tolerated). An empty item is kept, to be refused. */
static void add_grant_list(struct arena *a, struct client_args *ca, const char *list)
{
    struct str item;
    for (const char *c = list; str_list_next(&c, " ", &item);) {
        if (ca->n_grants == LIST_MAX)
            usage_error(NULL, "%s: too many grant types", "--grant-types");
        ca->grant_flag[ca->n_grants] = "--grant-types";
        ca->grants[ca->n_grants++] = str_dup(a, item);
    }
}

static void add_to_list(const char **list, size_t *n, const char *v, const char *flag)
{
    if (*n == LIST_MAX)
        usage_error(NULL, "%s: at most 64 values", flag);
    list[(*n)++] = v;
}

/* One pass: client options, global options and operands may come in any order. "--" ends the options. */
static void parse_args(int argc, char **argv, struct arena *a, struct cli_globals *g, struct client_args *ca)
{
    bool operands_only = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!operands_only && strcmp(s, "--") == 0) {
            operands_only = true;
            continue;
        }
        int o = operands_only ? -1 : find_opt(s);
        if (o >= 0) {
            const char *v = NULL;
            if (opts[o].has_value) {
                if (i + 1 >= argc)
                    usage_error(NULL, "%s needs a value", s);
                v = argv[++i];
            }
            if ((ca->seen & BIT(o)) && !opts[o].repeatable)
                usage_error(NULL, "%s given more than once", s);
            ca->seen |= BIT(o);
            ca->val[o] = v;
            if (o == O_GRANT_TYPE) {
                add_to_list(ca->grants, &ca->n_grants, v, s);
                ca->grant_flag[ca->n_grants - 1] = "--grant-type";
            } else if (o == O_GRANT_TYPES) {
                add_grant_list(a, ca, v);
            } else if (o == O_REDIRECT_URI) {
                add_to_list(ca->redirect_uris, &ca->n_redirect_uris, v, s);
            } else if (o == O_RESOURCE) {
                add_to_list(ca->resources, &ca->n_resources, v, s);
            } else if (o == O_POST_LOGOUT_URI) {
                add_to_list(ca->post_logout_uris, &ca->n_post_logout_uris, v, s);
            } else if (o == O_INTROSPECTION_RESOURCE) {
                add_to_list(ca->introspection_resources, &ca->n_introspection_resources, v, s);
            }
            continue;
        }
        if (!operands_only && cli_global_flag(g, argc, argv, &i))
            continue;
        if (!operands_only && s[0] == '-' && s[1] != '\0')
            usage_error(ca->n_pos > 0 ? ca->pos[0] : NULL, "unknown option '%s'", s);
        if (ca->n_pos == sizeof(ca->pos) / sizeof(ca->pos[0]))
            usage_error(ca->pos[0], "unexpected argument '%s'", s);
        ca->pos[ca->n_pos++] = s;
    }
}

/* NULL if uri may be registered, else the reason. */
static const char *redirect_uri_problem(const char *uri, bool dev)
{
    size_t sl = uri_scheme_len(uri);
    /* RFC 6749 §3.1.2: absolute, no fragment. Custom schemes are for native apps (RFC 8252 §7.1). */
    if (sl == 0 || !valid_visible_ascii(uri) || strchr(uri, '#') != NULL)
        return "must be an absolute URI without fragment, without spaces or non-ASCII characters "
               "(RFC 6749 §3.1.2)";
    bool http = sl == 4 && strncasecmp(uri, "http", 4) == 0;
    bool https = sl == 5 && strncasecmp(uri, "https", 5) == 0;
    if (!http && !https)
        return NULL;
    if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
        return "must be an absolute http or https URL";
    const char *auth = uri + (https ? 8 : 7);
    size_t alen = strcspn(auth, "/?#");
    if (memchr(auth, '@', alen) != NULL)
        return "must not contain userinfo ('@')";
    size_t hlen = alen;
    const char *port = NULL;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL || close == auth + 1)
            return "has an invalid IPv6 host";
        hlen = (size_t)(close - auth) + 1;
        if (hlen < alen) {
            if (auth[hlen] != ':')
                return "has an invalid host";
            port = auth + hlen + 1;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        if (colon != NULL) {
            hlen = (size_t)(colon - auth);
            port = colon + 1;
        }
    }
    if (hlen == 0)
        return "has no host";
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
    /* A code sent over plain http to a remote host can be read on the way (RFC 6749 §10.5). */
    if (http && !dev && !host_is_loopback(auth, hlen))
        return "plain http is only allowed for a loopback host (localhost, 127.0.0.0/8, [::1]) or in dev mode; "
               "use https";
    return NULL;
}

static bool is_resource(const struct config *cfg, const char *id)
{
    for (unsigned i = 0; i < cfg->n_resources; i++)
        if (strcmp(cfg->resources[i].identifier, id) == 0)
            return true;
    return false;
}

static int config_client_index(const struct config *cfg, const char *client_id)
{
    for (unsigned i = 0; i < cfg->n_clients; i++)
        if (cfg->clients[i].client_id != NULL && strcmp(cfg->clients[i].client_id, client_id) == 0)
            return (int)i;
    return -1;
}

/* The secret an operator wants set: --secret (returned, to be echoed once) or --secret-sha256 (only the
 * hash). Returns true when one of them was given. */
static bool secret_from_args(const struct client_cmd *cc, uint8_t hash[STORE_HASH_LEN], const char **shown)
{
    const struct client_args *ca = cc->args;
    *shown = NULL;
    if (ca->val[O_SECRET] != NULL) {
        const char *s = ca->val[O_SECRET];
        store_hash(s, strlen(s), hash);
        *shown = s;
        return true;
    }
    if (ca->val[O_SECRET_SHA256] != NULL) {
        const char *h = ca->val[O_SECRET_SHA256];
        unsigned char *raw;
        size_t rawlen;
        if (b64_decode(cc->a, h, strlen(h), &raw, &rawlen) != 0 || rawlen != STORE_HASH_LEN)
            die("client %s: --secret-sha256: must be the base64 of a 32-byte SHA-256 digest "
                "(printf %%s \"$secret\" | openssl dgst -sha256 -binary | base64)",
                cc->sub);
        memcpy(hash, raw, STORE_HASH_LEN);
        return true;
    }
    return false;
}

/* The flags of --pkce-methods S256,plain (spaces around items tolerated), or dies naming the option. The
 * names and rules are those of clients[].pkce_methods in the file: S256 or plain, each at most once. */
static unsigned pkce_methods_arg(const struct client_cmd *cc, const char *list)
{
    unsigned flags = 0;
    struct str item;
    for (const char *c = list; str_list_next(&c, " ", &item);) {
        const char *name = str_dup(cc->a, item);
        unsigned f = pkce_method_flag(name);
        /* RFC 7636 §4.2: S256 and plain are the only methods defined. */
        if (f == 0)
            die("client %s: --pkce-methods: must be S256, plain or both separated by a comma "
                "(RFC 7636 §4.2), got '%s'",
                cc->sub, name);
        if (flags & f)
            die("client %s: --pkce-methods: duplicate '%s'", cc->sub, name);
        flags |= f;
    }
    return flags;
}

/* --id-token-alg: as clients[].id_token_signed_response_alg in the file, an algorithm the server holds keys
 * for (keys.algorithms), so that it can sign the client's ID tokens. */
static void check_id_token_alg(const struct client_cmd *cc, const char *alg)
{
    const struct config *cfg = cc->cfg;
    if (!jose_alg_supported(alg))
        die("client %s: --id-token-alg: must be RS256, ES256 or EdDSA, got '%s'", cc->sub, alg);
    struct strbuf algs;
    strbuf_init(&algs, cc->a, 256);
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++) {
        if (strcmp(cfg->keys.algorithms[i], alg) == 0)
            return;
        strbuf_addf(&algs, "%s%s", i > 0 ? ", " : "", cfg->keys.algorithms[i]);
    }
    die("client %s: --id-token-alg: '%s' is not one of keys.algorithms (%s): the server has no key to sign "
        "with it",
        cc->sub, alg, algs.buf);
}

/* The URIs of a repeatable option (`flag`, cleared by `no_flag`): not both options, each one allowed as a
 * redirect URI, none twice. */
static void check_uri_list(const struct client_cmd *cc, enum opt flag, enum opt no_flag, const char *const *uris,
                           size_t n)
{
    const struct client_args *ca = cc->args;
    const char *name = opts[flag].name;
    if ((ca->seen & BIT(flag)) && (ca->seen & BIT(no_flag)))
        die("client %s: %s and %s are mutually exclusive", cc->sub, name, opts[no_flag].name);
    for (size_t i = 0; i < n; i++) {
        const char *why = redirect_uri_problem(uris[i], cc->cfg->dev);
        if (why != NULL)
            die("client %s: %s: %s, got '%s'", cc->sub, name, why, uris[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(uris[i], uris[j]) == 0)
                die("client %s: %s: duplicate '%s'", cc->sub, name, uris[i]);
    }
}

/* The API identifiers of a repeatable option (`flag`, cleared by `no_flag`), as clients[].resources and
 * clients[].introspection_resources in the file: not both options, each an API of the configuration, none
 * twice. */
static void check_resource_list(const struct client_cmd *cc, enum opt flag, enum opt no_flag,
                                const char *const *ids, size_t n)
{
    const struct client_args *ca = cc->args;
    const char *name = opts[flag].name;
    if ((ca->seen & BIT(flag)) && (ca->seen & BIT(no_flag)))
        die("client %s: %s and %s are mutually exclusive", cc->sub, name, opts[no_flag].name);
    for (size_t i = 0; i < n; i++) {
        if (!is_resource(cc->cfg, ids[i]))
            die("client %s: %s: unknown resource '%s' (not a resources[].identifier of the configuration)",
                cc->sub, name, ids[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                die("client %s: %s: duplicate '%s'", cc->sub, name, ids[i]);
    }
}

/* Checks each given value on its own; combinations are checked on the resulting client (check_client). */
static void check_args(const struct client_cmd *cc)
{
    const struct client_args *ca = cc->args;
    const char *sub = cc->sub;
    const char *v;

    v = ca->val[O_CLIENT_ID];
    /* RFC 6749 Appendix A.1 allows VSCHAR; spaces are refused too, as in the configuration. */
    if (v != NULL && (v[0] == '\0' || strlen(v) > 255 || !valid_visible_ascii(v)))
        die("client %s: --client-id: 1 to 255 visible ASCII characters without spaces, got '%s'", sub, v);
    v = ca->val[O_NAME];
    if (v != NULL && (strlen(v) > 1024 || !utf8_valid(v, strlen(v))))
        die("client %s: --name: must be valid UTF-8 of at most 1024 bytes", sub);
    v = ca->val[O_APP_TYPE];
    enum application_type at;
    if (v != NULL && client_application_type_parse(v, &at) != 0)
        die("client %s: --application-type: must be web or native, got '%s'", sub, v);
    unsigned grants;
    struct grant_refusal why;
    if (grant_names_parse(ca->grants, ca->n_grants, &grants, &why) != 0)
        die("client %s: %s: %s", sub, ca->grant_flag[why.index], why.reason);
    check_uri_list(cc, O_REDIRECT_URI, O_NO_REDIRECT_URIS, ca->redirect_uris, ca->n_redirect_uris);
    v = ca->val[O_SCOPE];
    if (v != NULL && v[0] != '\0' && !valid_scope_list(v))
        die("client %s: --scope: must be scope tokens separated by single spaces (RFC 6749 §3.3), got '%s'", sub,
            v);
    v = ca->val[O_AUTH_METHOD];
    enum client_auth_method m;
    if (v != NULL && client_auth_method_parse(v, &m) != 0)
        die("client %s: --auth-method: must be client_secret_basic, client_secret_post or none, got '%s'", sub, v);
    if (v != NULL && (ca->seen & BIT(O_PUBLIC)) && m != CLIENT_AUTH_NONE)
        die("client %s: --public contradicts --auth-method %s", sub, v);
    if (ca->val[O_SECRET] != NULL && ca->val[O_SECRET_SHA256] != NULL)
        die("client %s: --secret and --secret-sha256 are mutually exclusive", sub);
    if (ca->val[O_SECRET] != NULL && ca->val[O_SECRET][0] == '\0')
        die("client %s: --secret: must not be empty", sub);
    check_resource_list(cc, O_RESOURCE, O_NO_RESOURCES, ca->resources, ca->n_resources);
    v = ca->val[O_TTL];
    int64_t ttl;
    if (v != NULL && (str_to_i64(str_c(v), &ttl) != 0 || ttl < 0 || ttl > TTL_MAX))
        die("client %s: --access-token-ttl: seconds between 0 and %u (0 = the API's or the global default), "
            "got '%s'",
            sub, TTL_MAX, v);
    /* Post-logout redirection targets follow the rules of redirect URIs, as in the file (OIDC
     * RP-Initiated Logout §3.1). */
    check_uri_list(cc, O_POST_LOGOUT_URI, O_NO_POST_LOGOUT_URIS, ca->post_logout_uris, ca->n_post_logout_uris);
    if (ca->val[O_ID_TOKEN_ALG] != NULL)
        check_id_token_alg(cc, ca->val[O_ID_TOKEN_ALG]);
    v = ca->val[O_REFRESH_POLICY];
    enum refresh_policy rp;
    if (v != NULL && client_refresh_policy_parse(v, &rp) != 0)
        die("client %s: --refresh-token-policy: must be offline_consent, offline_access or always, got '%s'",
            sub, v);
    if (ca->val[O_PKCE_METHODS] != NULL)
        pkce_methods_arg(cc, ca->val[O_PKCE_METHODS]);
    if ((ca->seen & BIT(O_REQUIRE_PKCE)) && (ca->seen & BIT(O_NO_REQUIRE_PKCE)))
        die("client %s: --require-pkce and --no-require-pkce are mutually exclusive", sub);
    v = ca->val[O_INTROSPECTION_ACCESS];
    enum introspection_access ia;
    if (v != NULL && client_introspection_access_parse(v, &ia) != 0)
        die("client %s: --introspection-access: must be all, own or resources, got '%s'", sub, v);
    check_resource_list(cc, O_INTROSPECTION_RESOURCE, O_NO_INTROSPECTION_RESOURCES, ca->introspection_resources,
                        ca->n_introspection_resources);
}

/* The rules that involve several fields, on the client as it will be stored. */
static void check_client(const struct client_cmd *cc, const struct client *c, bool secret_given)
{
    const char *sub = cc->sub;
    bool is_public = c->auth_method == CLIENT_AUTH_NONE;
    if (is_public && secret_given)
        die("client %s: --secret: a public client (token_endpoint_auth_method none) has no secret; use "
            "--auth-method client_secret_basic or client_secret_post, or drop the secret",
            sub);
    /* RFC 9700 §2.1.1: public clients MUST use PKCE; as in the file, it cannot be switched off for them. */
    if (is_public && (cc->args->seen & BIT(O_NO_REQUIRE_PKCE)))
        die("client %s: --no-require-pkce: a public client (token_endpoint_auth_method none) must use PKCE "
            "(RFC 9700 §2.1.1); only a confidential client can do without it",
            sub);
    /* The grant table's rules, as for clients[].grant_types in the file (oauth/grant_table.h). */
    struct grant_refusal why;
    if (grant_set_check(c->grant_types, is_public, c->n_redirect_uris, &why) != 0)
        die("client %s: %s: %s", sub, why.redirect_uris ? "--redirect-uri" : "--grant-type", why.reason);
    /* As clients[].introspection_access and introspection_resources in the file: the list goes with
     * `resources`, both ways. */
    if (c->introspection_access == INTROSPECT_RESOURCES && c->n_introspection_resources == 0)
        die("client %s: --introspection-access resources needs at least one --introspection-resource", sub);
    if (c->introspection_access != INTROSPECT_RESOURCES && c->n_introspection_resources > 0)
        die("client %s: --introspection-resource: only applies with --introspection-access resources (clear the "
            "list with --no-introspection-resources)",
            sub);
}

/* Applies the given options onto c (create: onto an empty client; update: onto the stored one). */
static void apply_args(const struct client_cmd *cc, struct client *c)
{
    const struct client_args *ca = cc->args;
    if (ca->val[O_NAME] != NULL)
        c->client_name = ca->val[O_NAME][0] != '\0' ? ca->val[O_NAME] : NULL;
    if (ca->val[O_APP_TYPE] != NULL)
        client_application_type_parse(ca->val[O_APP_TYPE], &c->application_type);
    if (ca->seen & (BIT(O_REDIRECT_URI) | BIT(O_NO_REDIRECT_URIS))) {
        c->redirect_uris = (const char **)ca->redirect_uris;
        c->n_redirect_uris = ca->n_redirect_uris;
    }
    struct grant_refusal why;
    if (ca->n_grants > 0 && grant_names_parse(ca->grants, ca->n_grants, &c->grant_types, &why) != 0)
        die("client %s: %s: %s", cc->sub, ca->grant_flag[why.index], why.reason); /* check_args has refused it */
    if (ca->val[O_SCOPE] != NULL)
        c->scope = ca->val[O_SCOPE];
    if (ca->val[O_AUTH_METHOD] != NULL)
        client_auth_method_parse(ca->val[O_AUTH_METHOD], &c->auth_method);
    else if (ca->seen & BIT(O_PUBLIC))
        c->auth_method = CLIENT_AUTH_NONE;
    if (ca->seen & (BIT(O_RESOURCE) | BIT(O_NO_RESOURCES))) {
        c->resources = (const char **)ca->resources;
        c->n_resources = ca->n_resources;
    }
    if (ca->val[O_TTL] != NULL) {
        int64_t ttl = 0;
        str_to_i64(str_c(ca->val[O_TTL]), &ttl);
        c->access_token_ttl = (uint32_t)ttl;
    }
    if (ca->seen & (BIT(O_POST_LOGOUT_URI) | BIT(O_NO_POST_LOGOUT_URIS))) {
        c->post_logout_redirect_uris = (const char **)ca->post_logout_uris;
        c->n_post_logout_redirect_uris = ca->n_post_logout_uris;
    }
    if (ca->val[O_ID_TOKEN_ALG] != NULL)
        c->id_token_signed_response_alg = ca->val[O_ID_TOKEN_ALG];
    if (ca->val[O_REFRESH_POLICY] != NULL)
        client_refresh_policy_parse(ca->val[O_REFRESH_POLICY], &c->refresh_policy);
    if (ca->val[O_PKCE_METHODS] != NULL)
        c->pkce_methods = pkce_methods_arg(cc, ca->val[O_PKCE_METHODS]);
    if (ca->val[O_INTROSPECTION_ACCESS] != NULL)
        client_introspection_access_parse(ca->val[O_INTROSPECTION_ACCESS], &c->introspection_access);
    if (ca->seen & (BIT(O_INTROSPECTION_RESOURCE) | BIT(O_NO_INTROSPECTION_RESOURCES))) {
        c->introspection_resources = (const char **)ca->introspection_resources;
        c->n_introspection_resources = ca->n_introspection_resources;
    }
    if (ca->seen & BIT(O_REQUIRE_PKCE))
        c->require_pkce = true;
    else if (ca->seen & BIT(O_NO_REQUIRE_PKCE))
        c->require_pkce = false;
    /* A public client always uses PKCE (RFC 9700 §2.1.1): client_from_store reads it so whatever is stored,
     * and storing it so keeps `show` truthful. --no-require-pkce is refused for it by check_client. */
    if (c->auth_method == CLIENT_AUTH_NONE)
        c->require_pkce = true;
}

/* ---- Output ------------------------------------------------------------------------------------------- */

static void print_json(json_t *o, size_t flags)
{
    if (json_dumpf(o, stdout, flags) != 0)
        die("cannot write the output");
    fputc('\n', stdout);
}

/* The client's metadata object, with client_id first. A stored "client_secret" member would be a bug
 * elsewhere; it is dropped here all the same so this command never prints one. */
static json_t *client_json(const struct store_client *sc)
{
    json_t *out = json_object();
    json_object_set_new(out, "client_id", json_string(sc->client_id));
    json_t *m = json_loads(sc->metadata != NULL ? sc->metadata : "{}", JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(m)) {
        json_object_del(m, "client_secret");
        json_object_update(out, m);
    } else {
        fprintf(stderr, "ostiary: warning: client '%s' has unreadable metadata\n", sc->client_id);
    }
    json_decref(m);
    return out;
}

enum print_flags {
    SHOW_FULL = 1 << 0,  /* the metadata, not only client_id */
    SHOW_STATE = 1 << 1, /* has_secret, from_config, created_at, updated_at */
};

/* Prints the client as one pretty JSON object; `secret` (NULL: none) is the clear secret, shown this once. */
static void print_client(const struct store_client *sc, const char *secret, int64_t issued_at, unsigned flags)
{
    json_t *out = (flags & SHOW_FULL) ? client_json(sc) : json_object();
    if (!(flags & SHOW_FULL))
        json_object_set_new(out, "client_id", json_string(sc->client_id));
    if (secret != NULL) {
        json_object_set_new(out, "client_secret", json_string(secret));
        /* RFC 7591 §3.2.1: REQUIRED with a client_secret; 0 = it does not expire. */
        json_object_set_new(out, "client_secret_expires_at", json_integer(0));
    }
    if (issued_at != 0)
        json_object_set_new(out, "client_id_issued_at", json_integer(issued_at));
    if (flags & SHOW_STATE) {
        json_object_set_new(out, "has_secret", json_boolean(sc->has_secret));
        json_object_set_new(out, "from_config", json_boolean(sc->from_config));
        json_object_set_new(out, "created_at", json_integer(sc->created_at));
        json_object_set_new(out, "updated_at", json_integer(sc->updated_at));
    }
    print_json(out, JSON_INDENT(2));
    json_decref(out);
}

static void warn_if_from_config(const struct client_cmd *cc, const struct store_client *sc)
{
    if (sc->from_config || config_client_index(cc->cfg, sc->client_id) >= 0)
        fprintf(stderr,
                "ostiary: warning: client '%s' is declared in the configuration file; the server applies the "
                "file's definition again at its next start, which %s this change. Edit the file as well.\n",
                sc->client_id, strcmp(cc->sub, "delete") == 0 ? "undoes" : "overwrites");
}

/* ---- Subcommands ------------------------------------------------------------------------------------- */

static void load_client(const struct client_cmd *cc, const char *id, struct store_client *sc)
{
    struct errbuf err = {{0}};
    int rc = store_client_get(cc->db, cc->a, id, sc, &err);
    if (rc == ERR_NOTFOUND)
        die("client %s: no client '%s'", cc->sub, id);
    if (rc != 0)
        die("client %s: storage: %s", cc->sub, err.msg);
}

static void save_client(const struct client_cmd *cc, const struct store_client *sc)
{
    struct errbuf err = {{0}};
    if (store_client_put(cc->db, sc, &err) != 0)
        die("client %s: storage: %s", cc->sub, err.msg);
}

static void wipe(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
}

static int client_create(struct client_cmd *cc)
{
    const struct client_args *ca = cc->args;
    struct client c = {0};
    c.client_id = ca->val[O_CLIENT_ID] != NULL ? ca->val[O_CLIENT_ID] : rand_token(cc->a, 32);
    c.auth_method = CLIENT_AUTH_SECRET_BASIC;
    c.require_pkce = cc->cfg->pkce.required;
    c.pkce_methods = PKCE_S256;
    apply_args(cc, &c);
    if (ca->n_grants == 0)
        c.grant_types = c.n_redirect_uris > 0 ? GRANT_AUTHORIZATION_CODE : GRANT_CLIENT_CREDENTIALS;
    if (c.scope == NULL)
        c.scope = "";

    struct store_client sc = {0};
    const char *shown = NULL;
    bool secret_given = secret_from_args(cc, sc.secret_hash, &shown);
    check_client(cc, &c, secret_given);
    char *generated = NULL;
    if (c.auth_method != CLIENT_AUTH_NONE) {
        sc.has_secret = true;
        if (!secret_given) {
            /* 256 bits, so a fast hash is enough at rest (DESIGN "Secrets at rest"). */
            generated = rand_token(cc->a, 32);
            store_hash(generated, strlen(generated), sc.secret_hash);
            shown = generated;
        }
    }
    int idx = config_client_index(cc->cfg, c.client_id);
    if (idx >= 0)
        die("client create: --client-id: '%s' is declared in the configuration file (clients[%d]); change it "
            "there",
            c.client_id, idx);

    char *meta = client_metadata_json(&c);
    if (meta == NULL)
        die("client create: cannot encode the metadata");
    sc.client_id = c.client_id;
    sc.metadata = meta;
    sc.created_at = sc.updated_at = clock_now();

    /* Look and write in one transaction, so a concurrent create of the same id cannot be overwritten. */
    struct errbuf err = {{0}};
    struct store_client existing;
    if (store_begin(cc->db, &err) != 0)
        die("client create: storage: %s", err.msg);
    int rc = store_client_get(cc->db, cc->a, c.client_id, &existing, &err);
    if (rc == 0) {
        store_rollback(cc->db);
        die("client create: --client-id: a client '%s' already exists (see ostiary client update)", c.client_id);
    }
    if (rc != ERR_NOTFOUND || store_client_put(cc->db, &sc, &err) != 0 || store_commit(cc->db, &err) != 0) {
        store_rollback(cc->db);
        die("client create: storage: %s", err.msg);
    }
    print_client(&sc, shown, sc.created_at, SHOW_FULL);
    fflush(stdout);
    wipe(generated);
    free(meta);
    return 0;
}

static int client_list(struct client_cmd *cc)
{
    struct errbuf err = {{0}};
    struct store_client *v = NULL;
    size_t n = 0;
    if (store_client_list(cc->db, cc->a, &v, &n, &err) != 0)
        die("client list: storage: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *m = client_json(&v[i]);
        json_t *line = json_object();
        json_object_set_new(line, "client_id", json_string(v[i].client_id));
        json_t *name = json_object_get(m, "client_name");
        json_object_set(line, "client_name", json_is_string(name) ? name : json_null());
        json_t *gt = json_object_get(m, "grant_types");
        json_object_set_new(line, "grant_types", json_is_array(gt) ? json_incref(gt) : json_array());
        json_t *am = json_object_get(m, "token_endpoint_auth_method");
        json_object_set(line, "token_endpoint_auth_method", json_is_string(am) ? am : json_null());
        json_object_set_new(line, "from_config", json_boolean(v[i].from_config));
        print_json(line, JSON_COMPACT);
        json_decref(line);
        json_decref(m);
    }
    return 0;
}

static int client_show(struct client_cmd *cc)
{
    struct store_client sc;
    load_client(cc, cc->args->pos[1], &sc);
    print_client(&sc, NULL, 0, SHOW_FULL | SHOW_STATE);
    return 0;
}

static int client_update(struct client_cmd *cc)
{
    const struct client_args *ca = cc->args;
    if (ca->seen == 0)
        usage_error("update", "nothing to change: give at least one client option");
    struct store_client sc;
    load_client(cc, ca->pos[1], &sc);
    struct client c;
    if (client_from_store(cc->a, &sc, &c) != 0)
        die("client update: the stored metadata of '%s' is not valid JSON metadata", sc.client_id);
    apply_args(cc, &c);

    const char *shown = NULL;
    uint8_t hash[STORE_HASH_LEN];
    bool secret_given = secret_from_args(cc, hash, &shown);
    check_client(cc, &c, secret_given);
    char *generated = NULL;
    if (c.auth_method == CLIENT_AUTH_NONE) {
        /* A public client authenticates with nothing: keeping an old hash around would only mislead. */
        sc.has_secret = false;
        memset(sc.secret_hash, 0, sizeof(sc.secret_hash));
    } else if (secret_given) {
        sc.has_secret = true;
        memcpy(sc.secret_hash, hash, sizeof(hash));
    } else if (!sc.has_secret) {
        /* Public turned confidential: it needs a secret, shown this once. */
        generated = rand_token(cc->a, 32);
        store_hash(generated, strlen(generated), sc.secret_hash);
        sc.has_secret = true;
        shown = generated;
    }
    char *meta = client_metadata_json(&c);
    if (meta == NULL)
        die("client update: cannot encode the metadata");
    sc.metadata = meta;
    sc.updated_at = clock_now();
    save_client(cc, &sc);
    warn_if_from_config(cc, &sc);
    print_client(&sc, shown, 0, SHOW_FULL | SHOW_STATE);
    fflush(stdout);
    wipe(generated);
    free(meta);
    return 0;
}

static int client_delete(struct client_cmd *cc)
{
    const char *id = cc->args->pos[1];
    struct store_client sc;
    load_client(cc, id, &sc);
    struct errbuf err = {{0}};
    int rc = store_client_delete(cc->db, id, &err);
    if (rc == ERR_NOTFOUND)
        die("client delete: no client '%s'", id);
    if (rc != 0)
        die("client delete: storage: %s", err.msg);
    warn_if_from_config(cc, &sc);
    json_t *out = json_pack("{s:s, s:b}", "client_id", id, "deleted", 1);
    print_json(out, JSON_COMPACT);
    json_decref(out);
    return 0;
}

static int client_rotate_secret(struct client_cmd *cc)
{
    struct store_client sc;
    load_client(cc, cc->args->pos[1], &sc);
    struct client c;
    if (client_from_store(cc->a, &sc, &c) != 0)
        die("client rotate-secret: the stored metadata of '%s' is not valid JSON metadata", sc.client_id);
    if (c.auth_method == CLIENT_AUTH_NONE)
        die("client rotate-secret: '%s' is a public client (token_endpoint_auth_method none) and has no secret",
            sc.client_id);
    const char *shown = NULL;
    char *generated = NULL;
    if (!secret_from_args(cc, sc.secret_hash, &shown)) {
        generated = rand_token(cc->a, 32);
        store_hash(generated, strlen(generated), sc.secret_hash);
        shown = generated;
    }
    sc.has_secret = true;
    sc.updated_at = clock_now();
    save_client(cc, &sc);
    warn_if_from_config(cc, &sc);
    print_client(&sc, shown, 0, 0);
    fflush(stdout);
    wipe(generated);
    return 0;
}

static const struct {
    const char *name;
    int (*run)(struct client_cmd *cc);
    unsigned allowed;   /* BIT(enum opt) accepted */
    size_t operands;    /* after the subcommand: 0 or 1 (the client_id) */
} subs[] = {
    {"create", client_create, METADATA_OPTS | BIT(O_CLIENT_ID), 0},
    {"list", client_list, 0, 0},
    {"show", client_show, 0, 1},
    {"update", client_update,
     METADATA_OPTS | BIT(O_NO_REDIRECT_URIS) | BIT(O_NO_RESOURCES) | BIT(O_NO_POST_LOGOUT_URIS) |
         BIT(O_NO_INTROSPECTION_RESOURCES),
     1},
    {"delete", client_delete, 0, 1},
    {"rotate-secret", client_rotate_secret, BIT(O_SECRET), 1},
};

int cmd_client(int argc, char **argv)
{
    struct arena *a = arena_new(16384);
    struct cli_globals g = {0};
    struct client_args ca = {0};
    parse_args(argc, argv, a, &g, &ca);
    if (ca.n_pos == 0) {
        usage(stderr);
        arena_free(a);
        return 2;
    }
    const char *sub = ca.pos[0];
    if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        usage(stdout);
        arena_free(a);
        return 0;
    }
    size_t k = 0;
    while (k < sizeof(subs) / sizeof(subs[0]) && strcmp(subs[k].name, sub) != 0)
        k++;
    if (k == sizeof(subs) / sizeof(subs[0]))
        usage_error(NULL, "unknown subcommand '%s'", sub);
    for (int o = 0; o < O_COUNT; o++)
        if ((ca.seen & BIT(o)) && !(subs[k].allowed & BIT(o)))
            usage_error(sub, "option %s does not apply here", opts[o].name);
    if (ca.n_pos - 1 < subs[k].operands)
        usage_error(sub, "missing the client_id");
    if (ca.n_pos - 1 > subs[k].operands)
        usage_error(sub, "unexpected argument '%s'", ca.pos[1 + subs[k].operands]);

    struct client_cmd cc = {.sub = sub, .args = &ca, .a = a};
    cc.cfg = cli_load_config(&g);
    /* Library events (info) would interleave with the JSON on the terminal; --log-level brings them back. */
    enum log_level lvl = LOG_WARN;
    if (g.log_level != NULL)
        log_level_parse(cc.cfg->log_level, &lvl);
    log_init(lvl, 2);
    check_args(&cc);

    struct store *st;
    cli_open_store(cc.cfg, &st, &cc.db);
    int rc = subs[k].run(&cc);
    if (fflush(stdout) != 0)
        die("cannot write the output");
    store_conn_close(cc.db);
    store_close(st);
    config_free(cc.cfg);
    arena_free(a);
    return rc;
}
