/* cmd_client.c: `ostiary client create|list|show|update|delete|rotate-secret`: registered clients in the
 * store, with RFC 7591 §2 metadata names. A secret is shown once (creation, rotation) and stored only as its
 * SHA-256. The metadata goes through the same check as clients[] of the configuration
 * (oauth/client_check.c), its problems named by option; the configuration file itself is not edited. */
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
#include "oauth/client_check.h"
#include "oauth/scope.h"
#include "store/store.h"
#include "core/validate.h"
#include "jose/jose.h"
#include "core/banned.h"

#define LIST_MAX 64u /* redirect URIs, resources, grant types per command */

/* ---- Command line ---------------------------------------------------------------------------------- */

enum opt {
    O_CLIENT_ID,
    O_NAME,
    O_APP_TYPE,
    O_GRANT_TYPE,
    O_GRANT_TYPES,
    O_RESPONSE_TYPE,
    O_NO_RESPONSE_TYPES,
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
    O_ID_TOKEN_CLAIMS,
    O_REFRESH_POLICY,
    O_PKCE_METHODS,
    O_REQUIRE_PKCE,
    O_NO_REQUIRE_PKCE,
    O_INTROSPECTION_ACCESS,
    O_INTROSPECTION_RESOURCE,
    O_NO_INTROSPECTION_RESOURCES,
    O_JWKS,
    O_JWKS_URI,
    O_AUTH_SIGNING_ALG,
    O_DPOP_BOUND,
    O_NO_DPOP_BOUND,
    O_REQUEST_OBJECT_ALG,
    O_REQUIRE_SIGNED_RO,
    O_NO_REQUIRE_SIGNED_RO,
    O_COUNT
};

/* The command's ctx: the values of the repeatable options, unchecked (they are checked once the
 * configuration is loaded). */
struct client_args {
    struct cli_values grants, response_types, redirect_uris, resources, post_logout_uris,
        introspection_resources;
    struct client client; /* create: the client to store, built before the store is opened */
};

#define INTO(m) LIST_MAX, CLI_INTO(struct client_args, m)
static const struct cli_opt opts[O_COUNT] = {
    [O_CLIENT_ID] = {"--client-id", true, 0, 0, "client_id"},
    [O_NAME] = {"--name", true, 0, 0, "client_name"},
    [O_APP_TYPE] = {"--application-type", true, 0, 0, "application_type"},
    [O_GRANT_TYPE] = {"--grant-type", true, INTO(grants), "grant_types"},
    [O_GRANT_TYPES] = {"--grant-types", true, LIST_MAX, 0, NULL}, /* split_grants */
    [O_RESPONSE_TYPE] = {"--response-type", true, INTO(response_types), "response_types"},
    [O_NO_RESPONSE_TYPES] = {"--no-response-types", false, 0, 0, NULL},
    [O_REDIRECT_URI] = {"--redirect-uri", true, INTO(redirect_uris), "redirect_uris"},
    [O_NO_REDIRECT_URIS] = {"--no-redirect-uris", false, 0, 0, NULL},
    [O_SCOPE] = {"--scope", true, 0, 0, "scope"},
    [O_AUTH_METHOD] = {"--auth-method", true, 0, 0, "token_endpoint_auth_method"},
    [O_PUBLIC] = {"--public", false, 0, 0, NULL},
    [O_SECRET] = {"--secret", true, 0, 0, "client_secret"},
    [O_SECRET_SHA256] = {"--secret-sha256", true, 0, 0, "client_secret_sha256"},
    [O_RESOURCE] = {"--resource", true, INTO(resources), "resources"},
    [O_NO_RESOURCES] = {"--no-resources", false, 0, 0, NULL},
    [O_TTL] = {"--access-token-ttl", true, 0, 0, "access_token_ttl"},
    [O_POST_LOGOUT_URI] = {"--post-logout-redirect-uri", true, INTO(post_logout_uris),
                           "post_logout_redirect_uris"},
    [O_NO_POST_LOGOUT_URIS] = {"--no-post-logout-redirect-uris", false, 0, 0, NULL},
    [O_ID_TOKEN_ALG] = {"--id-token-alg", true, 0, 0, "id_token_signed_response_alg"},
    [O_ID_TOKEN_CLAIMS] = {"--id-token-claims", true, 0, 0, "id_token_claims"},
    [O_REFRESH_POLICY] = {"--refresh-token-policy", true, 0, 0, "refresh_token_policy"},
    [O_PKCE_METHODS] = {"--pkce-methods", true, 0, 0, "pkce_methods"},
    [O_REQUIRE_PKCE] = {"--require-pkce", false, 0, 0, NULL},
    /* The only require_pkce a check can refuse is false. */
    [O_NO_REQUIRE_PKCE] = {"--no-require-pkce", false, 0, 0, "require_pkce"},
    [O_INTROSPECTION_ACCESS] = {"--introspection-access", true, 0, 0, "introspection_access"},
    [O_INTROSPECTION_RESOURCE] = {"--introspection-resource", true, INTO(introspection_resources),
                                  "introspection_resources"},
    [O_NO_INTROSPECTION_RESOURCES] = {"--no-introspection-resources", false, 0, 0, NULL},
    [O_JWKS] = {"--jwks", true, 0, 0, "jwks"},
    [O_JWKS_URI] = {"--jwks-uri", true, 0, 0, "jwks_uri"},
    [O_AUTH_SIGNING_ALG] = {"--auth-signing-alg", true, 0, 0, "token_endpoint_auth_signing_alg"},
    [O_DPOP_BOUND] = {"--dpop-bound-access-tokens", false, 0, 0, "dpop_bound_access_tokens"},
    [O_NO_DPOP_BOUND] = {"--no-dpop-bound-access-tokens", false, 0, 0, NULL},
    [O_REQUEST_OBJECT_ALG] = {"--request-object-alg", true, 0, 0, "request_object_signing_alg"},
    [O_REQUIRE_SIGNED_RO] = {"--require-signed-request-object", false, 0, 0, "require_signed_request_object"},
    [O_NO_REQUIRE_SIGNED_RO] = {"--no-require-signed-request-object", false, 0, 0, NULL},
};
#undef INTO

#define BIT(o) CLI_BIT(o)
_Static_assert(O_COUNT <= CLI_MAX_OPTS, "cli_args.seen holds one bit per option");
#define METADATA_OPTS                                                                                          \
    (BIT(O_NAME) | BIT(O_APP_TYPE) | BIT(O_GRANT_TYPE) | BIT(O_GRANT_TYPES) | BIT(O_RESPONSE_TYPE) |          \
     BIT(O_NO_RESPONSE_TYPES) | BIT(O_REDIRECT_URI) |                                                         \
     BIT(O_SCOPE) | BIT(O_AUTH_METHOD) | BIT(O_PUBLIC) | BIT(O_SECRET) | BIT(O_SECRET_SHA256) |                \
     BIT(O_RESOURCE) | BIT(O_TTL) | BIT(O_POST_LOGOUT_URI) | BIT(O_ID_TOKEN_ALG) | BIT(O_REFRESH_POLICY) |     \
     BIT(O_ID_TOKEN_CLAIMS) | BIT(O_PKCE_METHODS) | BIT(O_REQUIRE_PKCE) | BIT(O_NO_REQUIRE_PKCE) |          \
     BIT(O_INTROSPECTION_ACCESS) | BIT(O_INTROSPECTION_RESOURCE) | BIT(O_JWKS) | BIT(O_JWKS_URI) |            \
     BIT(O_AUTH_SIGNING_ALG) | BIT(O_DPOP_BOUND) | BIT(O_NO_DPOP_BOUND) | BIT(O_REQUEST_OBJECT_ALG) |          \
     BIT(O_REQUIRE_SIGNED_RO) | BIT(O_NO_REQUIRE_SIGNED_RO))

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
          "  --response-type \"T\"            repeatable; a response type the client uses at the\n"
          "                                 authorization endpoint, one of:\n",
          out);
    for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t))
        fprintf(out, "%33s%s\n", "", response_type_name(t));
    fputs("                                 code needs --grant-type authorization_code, id_token and token\n"
          "                                 --grant-type implicit. Default: code with authorization_code\n"
          "                                 (--no-response-types restores it)\n"
          "  --redirect-uri URI             repeatable; absolute, no fragment (--no-redirect-uris clears)\n"
          "  --scope \"a b\"                  allowed scopes, space-separated (\"\" for none)\n"
          "  --auth-method M                client_secret_basic (default), client_secret_post,\n"
          "                                 client_secret_jwt, private_key_jwt or none\n"
          "  --jwks JSON|@FILE              the client's public keys (a JWK Set), for private_key_jwt\n"
          "                                 (\"\" clears)\n"
          "  --jwks-uri URL                 or the https URL where it publishes them (\"\" clears)\n"
          "  --auth-signing-alg ALG         token_endpoint_auth_signing_alg: the one alg its client\n"
          "                                 assertions may use (default: any of its kind)\n"
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
          "  --id-token-claims C            none (default) or scope: the ID tokens of the token endpoint\n"
          "                                 also carry the claims of the granted profile, email, address\n"
          "                                 and phone scopes\n"
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
          "  --dpop-bound-access-tokens     every token request must carry a DPoP proof (RFC 9449);\n"
          "  --no-dpop-bound-access-tokens  the default: DPoP when the client sends a proof\n"
          "  --request-object-alg ALG       request_object_signing_alg: the one alg of its request objects\n"
          "                                 (RFC 9101); none allows unsigned ones; \"\" unsets (any)\n"
          "  --require-signed-request-object    authorization requests only as signed request objects;\n"
          "  --no-require-signed-request-object the default\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n"
          "\n"
          "A client declared in the configuration file is written again at every start of the server:\n"
          "change it in the file.\n",
          out);
}

/* --grant-types a,b,c: each item as a --grant-type (spaces around items tolerated; an empty item is kept, to
 * be refused). */
static int split_grants(void *ctx, struct arena *a, int o, const char *v, struct errbuf *err)
{
    struct client_args *cl = ctx;
    struct str item;
    for (const char *c = v; o == O_GRANT_TYPES && str_list_next(&c, " ", &item);) {
        if (cl->grants.n == LIST_MAX) {
            errbuf_set(err, "--grant-types: at most %u values", LIST_MAX);
            return -1;
        }
        cl->grants.v[cl->grants.n++] = str_dup(a, item);
    }
    return 0;
}

static int config_client_index(const struct config *cfg, const char *client_id)
{
    for (unsigned i = 0; i < cfg->n_clients; i++)
        if (cfg->clients[i].client_id != NULL && strcmp(cfg->clients[i].client_id, client_id) == 0)
            return (int)i;
    return -1;
}

/* ---- The client a command line asks for ------------------------------------------------------------ */

/* The option that names a metadata field in messages. */
static const char *flag_of(const char *field)
{
    for (int o = 0; o < O_COUNT; o++)
        if (opts[o].field != NULL && strcmp(opts[o].field, field) == 0)
            return opts[o].name;
    return field;
}

/* The list fields: the option that sets one (repeatable, replacing the list) and the one that clears it. */
static const struct {
    const char *field;
    enum opt set, clear;
} list_opts[] = {
    {"redirect_uris", O_REDIRECT_URI, O_NO_REDIRECT_URIS},
    {"response_types", O_RESPONSE_TYPE, O_NO_RESPONSE_TYPES},
    {"resources", O_RESOURCE, O_NO_RESOURCES},
    {"post_logout_redirect_uris", O_POST_LOGOUT_URI, O_NO_POST_LOGOUT_URIS},
    {"introspection_resources", O_INTROSPECTION_RESOURCE, O_NO_INTROSPECTION_RESOURCES},
};
#define N_LIST_OPTS (sizeof(list_opts) / sizeof(list_opts[0]))

/* Options that contradict each other, whatever their values. */
static int check_flags(const struct cli_args *ca, struct errbuf *err)
{
    for (size_t k = 0; k < N_LIST_OPTS; k++) {
        if (cli_seen(ca, list_opts[k].set) && cli_seen(ca, list_opts[k].clear)) {
            errbuf_set(err, "%s and %s are mutually exclusive", opts[list_opts[k].set].name,
                       opts[list_opts[k].clear].name);
            return -1;
        }
    }
    const char *m = ca->val[O_AUTH_METHOD];
    if (m != NULL && cli_seen(ca, O_PUBLIC) && strcmp(m, "none") != 0) {
        errbuf_set(err, "--public contradicts --auth-method %s", m);
        return -1;
    }
    if (cli_seen(ca, O_REQUIRE_PKCE) && cli_seen(ca, O_NO_REQUIRE_PKCE)) {
        errbuf_set(err, "--require-pkce and --no-require-pkce are mutually exclusive");
        return -1;
    }
    if (cli_seen(ca, O_DPOP_BOUND) && cli_seen(ca, O_NO_DPOP_BOUND)) {
        errbuf_set(err, "--dpop-bound-access-tokens and --no-dpop-bound-access-tokens are mutually exclusive");
        return -1;
    }
    if (cli_seen(ca, O_REQUIRE_SIGNED_RO) && cli_seen(ca, O_NO_REQUIRE_SIGNED_RO)) {
        errbuf_set(err,
                   "--require-signed-request-object and --no-require-signed-request-object are mutually exclusive");
        return -1;
    }
    return 0;
}

/* The text of a file of at most 1 MiB (--jwks @FILE), in the arena; NULL with err set. */
static const char *read_small_file(struct arena *a, const char *path, struct errbuf *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errbuf_set(err, "--jwks: cannot open %s", path);
        return NULL;
    }
    size_t cap = 1024 * 1024;
    char *buf = arena_alloc(a, cap + 1);
    size_t n = fread(buf, 1, cap + 1, f);
    bool bad = ferror(f) != 0 || n > cap;
    fclose(f);
    if (bad) {
        errbuf_set(err, "--jwks: cannot read %s, or it is larger than 1 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* Replaces a list field of m with the option's values when the option (or its --no- form) was given. */
static void apply_list(const struct cli_args *ca, enum opt set, enum opt clear,
                       const struct cli_values *values, struct meta_list *field)
{
    if (cli_seen(ca, set) || cli_seen(ca, clear))
        *field = (struct meta_list){values->v, values->n};
}

/* The metadata the command line asks for: the stored client's (update; NULL for create) with the given
 * options applied, or the defaults of `ostiary client create`, which differ from those of the file in
 * two ways: a confidential client by default (the server generates its secret), and no refresh_token grant
 * unless asked for. 0, or -1 with err set (an option's value that is not even a value). */
static int build_meta(const struct cli_args *ca, const struct client_args *cl,
                      const struct store_client *stored, struct arena *a, struct client_meta *m,
                      struct errbuf *err)
{
    const char *v;
    memset(m, 0, sizeof(*m));
    if (stored != NULL) {
        json_t *o =
            json_loads(stored->metadata != NULL ? stored->metadata : "{}", JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(o)) {
            json_decref(o);
            errbuf_set(err, "the stored metadata of '%s' is not valid JSON metadata", stored->client_id);
            return -1;
        }
        /* m points into o: it lives as long as the command's arena. */
        arena_defer(a, (void (*)(void *))json_decref, o);
        client_meta_from_json(o, a, m);
        m->client_id = stored->client_id;
    } else {
        m->client_id = ca->val[O_CLIENT_ID] != NULL ? ca->val[O_CLIENT_ID] : rand_token(a, 32);
    }
    /* The server holds the secret or generates one: a confidential client never needs --secret. */
    m->server_secret = true;
    m->client_secret = ca->val[O_SECRET];
    m->client_secret_sha256 = ca->val[O_SECRET_SHA256];
    if ((v = ca->val[O_NAME]) != NULL)
        m->client_name = v[0] != '\0' ? v : NULL;
    if ((v = ca->val[O_APP_TYPE]) != NULL)
        m->application_type = v;
    apply_list(ca, O_REDIRECT_URI, O_NO_REDIRECT_URIS, &cl->redirect_uris, &m->redirect_uris);
    if (cl->grants.n > 0)
        m->grant_types = (struct meta_list){cl->grants.v, cl->grants.n};
    else if (stored == NULL)
        client_meta_default_grants(m);
    apply_list(ca, O_RESPONSE_TYPE, O_NO_RESPONSE_TYPES, &cl->response_types, &m->response_types);
    if ((v = ca->val[O_SCOPE]) != NULL)
        m->scope = v[0] != '\0' ? v : NULL; /* "" for none */
    if ((v = ca->val[O_AUTH_METHOD]) != NULL)
        m->token_endpoint_auth_method = v;
    else if (cli_seen(ca, O_PUBLIC))
        m->token_endpoint_auth_method = "none";
    apply_list(ca, O_RESOURCE, O_NO_RESOURCES, &cl->resources, &m->resources);
    if ((v = ca->val[O_TTL]) != NULL && parse_u32(v, &m->access_token_ttl) != 0) {
        errbuf_set(err,
                   "--access-token-ttl: seconds between 0 and %u (0 = the API's or the global default), "
                   "got '%s'",
                   CFG_ENTRY_TTL_MAX, v);
        return -1;
    }
    apply_list(ca, O_POST_LOGOUT_URI, O_NO_POST_LOGOUT_URIS, &cl->post_logout_uris,
               &m->post_logout_redirect_uris);
    if ((v = ca->val[O_ID_TOKEN_ALG]) != NULL)
        m->id_token_signed_response_alg = v;
    if ((v = ca->val[O_REFRESH_POLICY]) != NULL)
        m->refresh_token_policy = v;
    if ((v = ca->val[O_ID_TOKEN_CLAIMS]) != NULL)
        m->id_token_claims = v;
    if ((v = ca->val[O_PKCE_METHODS]) != NULL) {
        /* S256,plain: spaces around items tolerated; an empty item is kept, to be refused. */
        const char **list = arena_alloc(a, (strlen(v) + 1) * sizeof(*list));
        size_t n = 0;
        struct str item;
        for (const char *c = v; str_list_next(&c, " ", &item);)
            list[n++] = str_dup(a, item);
        m->pkce_methods = (struct meta_list){list, n};
    }
    if ((v = ca->val[O_INTROSPECTION_ACCESS]) != NULL)
        m->introspection_access = v;
    if ((v = ca->val[O_JWKS]) != NULL) {
        m->jwks = v[0] != '\0' ? v : NULL;
        if (v[0] == '@') {
            m->jwks = read_small_file(a, v + 1, err);
            if (m->jwks == NULL)
                return -1;
        }
    }
    if ((v = ca->val[O_JWKS_URI]) != NULL)
        m->jwks_uri = v[0] != '\0' ? v : NULL;
    if ((v = ca->val[O_AUTH_SIGNING_ALG]) != NULL)
        m->token_endpoint_auth_signing_alg = v[0] != '\0' ? v : NULL;
    apply_list(ca, O_INTROSPECTION_RESOURCE, O_NO_INTROSPECTION_RESOURCES, &cl->introspection_resources,
               &m->introspection_resources);
    if (cli_seen(ca, O_REQUIRE_PKCE) || cli_seen(ca, O_NO_REQUIRE_PKCE))
        m->require_pkce = cli_seen(ca, O_REQUIRE_PKCE) ? "true" : "false";
    else if (m->token_endpoint_auth_method != NULL && strcmp(m->token_endpoint_auth_method, "none") == 0)
        m->require_pkce = NULL; /* turning a client public switches PKCE on (RFC 9700 §2.1.1) */
    if (cli_seen(ca, O_DPOP_BOUND) || cli_seen(ca, O_NO_DPOP_BOUND))
        m->dpop_bound_access_tokens = cli_seen(ca, O_DPOP_BOUND) ? "true" : "false";
    if ((v = ca->val[O_REQUEST_OBJECT_ALG]) != NULL)
        m->request_object_signing_alg = v[0] != '\0' ? v : NULL; /* "" unsets it */
    if (cli_seen(ca, O_REQUIRE_SIGNED_RO) || cli_seen(ca, O_NO_REQUIRE_SIGNED_RO))
        m->require_signed_request_object = cli_seen(ca, O_REQUIRE_SIGNED_RO) ? "true" : "false";
    return 0;
}

/* The client the command line asks for, checked by the rules of the configuration's clients[]
 * (oauth/client_check.c). 0, or 1 with err set to "client <sub>: <option>: <reason>" (and *p filled when
 * the rules refused the metadata). */
static int build_client(const struct config *cfg, const char *sub, const struct cli_args *ca,
                        const struct client_args *cl, const struct store_client *stored, struct arena *a,
                        struct client *out, struct client_problem *p, struct errbuf *err)
{
    struct client_meta m;
    struct errbuf why = {{0}};
    memset(p, 0, sizeof(*p));
    if (check_flags(ca, &why) != 0 || build_meta(ca, cl, stored, a, &m, &why) != 0) {
        errbuf_set(err, "client %s: %s", sub, why.msg);
        return 1;
    }
    if (client_check(cfg, &m, a, out, p) == 0)
        return 0;
    char reason[512];
    client_problem_reason(p, flag_of, reason, sizeof(reason));
    /* A stored list the command did not touch is at fault: say how to change it. */
    const char *hint = "";
    for (size_t k = 0; k < N_LIST_OPTS && stored != NULL; k++) {
        if (strcmp(p->field, list_opts[k].field) == 0 && !cli_seen(ca, list_opts[k].set) &&
            !cli_seen(ca, list_opts[k].clear))
            hint = arena_printf(a, " (the stored list; clear it with %s)", opts[list_opts[k].clear].name);
    }
    errbuf_set(err, "client %s: %s: %s%s", sub, flag_of(p->field), reason, hint);
    return 1;
}

int client_cli_build(const struct config *cfg, struct arena *a, int argc, char **argv,
                     const struct store_client *stored, struct client *out, struct client_problem *p,
                     struct errbuf *err)
{
    struct cli_globals g = {0};
    struct cli_args ca = {0};
    struct client_args cl = {0};
    memset(p, 0, sizeof(*p));
    if (cli_parse(opts, O_COUNT, argc, argv, &g, &ca, split_grants, &cl, a, err) != 0)
        return 2;
    return build_client(cfg, ca.n_pos > 0 ? ca.pos[0] : "create", &ca, &cl, stored, a, out, p, err);
}

/* The secret an operator wants set: --secret (returned, to be echoed once) or --secret-sha256 (only the
 * hash; client_check has made sure it decodes). Returns true when one of them was given. */
static bool secret_from_args(const struct cli_cmd *cc, uint8_t hash[STORE_HASH_LEN], const char **shown)
{
    const struct cli_args *ca = &cc->args;
    *shown = ca->val[O_SECRET];
    return client_secret_given(ca->val[O_SECRET], ca->val[O_SECRET_SHA256], cc->a, hash);
}

/* The client of this command line, or the command fails naming the option. */
static void client_of_args(struct cli_cmd *cc, const struct store_client *stored, struct client *c)
{
    struct client_problem p;
    struct errbuf err = {{0}};
    if (build_client(cc->cfg, cc->sub->name, &cc->args, cc->ctx, stored, cc->a, c, &p, &err) != 0)
        die("%s", err.msg);
}

/* A client_secret_jwt client keeps its secret itself, sealed with the key-encryption secret (its HMAC key,
 * jose_secret_seal): the secret just set (`plain`, given or generated) is sealed; none set keeps the sealed
 * one; a client becoming client_secret_jwt without one gets a new secret (a hash cannot be unsealed). Any
 * other method drops a sealed secret. Returns the secret generated here, or NULL. */
static char *seal_secret(struct cli_cmd *cc, const struct client *c, struct store_client *sc, const char *plain)
{
    if (c->auth_method != CLIENT_AUTH_SECRET_JWT) {
        sc->secret_enc = NULL;
        sc->secret_enc_len = 0;
        return NULL;
    }
    char *generated = NULL;
    char *key_secret = cli_key_secret(cc->cfg);
    struct errbuf err = {{0}};
    int rc = client_secret_reseal(sc, c->auth_method, plain, key_secret, cc->a, &generated, &err);
    explicit_bzero(key_secret, strlen(key_secret));
    free(key_secret);
    if (rc != 0)
        die("client %s: %s", cc->sub->name, err.msg);
    return generated;
}

/* ---- Output ------------------------------------------------------------------------------------------- */

/* The client's metadata object, with client_id first (client_to_json: never a secret); with `state`, the
 * row's state too. */
static json_t *client_json(const struct store_client *sc, bool state)
{
    bool unreadable = false;
    json_t *out = client_to_json(sc, state, &unreadable);
    if (unreadable)
        fprintf(stderr, "ostiary: warning: client '%s' has unreadable metadata\n", sc->client_id);
    return out;
}

enum print_flags {
    SHOW_FULL = 1 << 0,  /* the metadata, not only client_id */
    SHOW_STATE = 1 << 1, /* has_secret, from_config, created_at, updated_at */
};

/* Prints the client as one pretty JSON object; `secret` (NULL: none) is the clear secret, shown this once. */
static void print_client(const struct store_client *sc, const char *secret, int64_t issued_at, unsigned flags)
{
    json_t *out = (flags & SHOW_FULL) ? client_json(sc, flags & SHOW_STATE) : json_object();
    if (!(flags & SHOW_FULL))
        json_object_set_new(out, "client_id", json_string(sc->client_id));
    if (secret != NULL) {
        json_object_set_new(out, "client_secret", json_string(secret));
        /* RFC 7591 §3.2.1: REQUIRED with a client_secret; 0 = it does not expire. */
        json_object_set_new(out, "client_secret_expires_at", json_integer(0));
    }
    if (issued_at != 0)
        json_object_set_new(out, "client_id_issued_at", json_integer(issued_at));
    cli_print_json(out, JSON_INDENT(2));
    json_decref(out);
}

static void warn_if_from_config(const struct cli_cmd *cc, const struct store_client *sc)
{
    if (sc->from_config || config_client_index(cc->cfg, sc->client_id) >= 0)
        fprintf(stderr,
                "ostiary: warning: client '%s' is declared in the configuration file; the server applies the "
                "file's definition again at its next start, which %s this change. Edit the file as well.\n",
                sc->client_id, strcmp(cc->sub->name, "delete") == 0 ? "undoes" : "overwrites");
}

/* ---- Subcommands ------------------------------------------------------------------------------------- */

static void load_client(const struct cli_cmd *cc, const char *id, struct store_client *sc)
{
    struct errbuf err = {{0}};
    int rc = store_client_get(cc->db, cc->a, id, sc, &err);
    if (rc == ERR_NOTFOUND)
        die("client %s: no client '%s'", cc->sub->name, id);
    if (rc != 0)
        die("client %s: storage: %s", cc->sub->name, err.msg);
}

static void save_client(const struct cli_cmd *cc, const struct store_client *sc)
{
    struct errbuf err = {{0}};
    if (store_client_put(cc->db, sc, &err) != 0)
        die("client %s: storage: %s", cc->sub->name, err.msg);
}

static void wipe(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
}

/* create: the whole client is known before the store is opened, so a refused command writes nothing. */
static void create_prepare(struct cli_cmd *cc)
{
    struct client_args *cl = cc->ctx;
    client_of_args(cc, NULL, &cl->client);
}

static int client_create(struct cli_cmd *cc)
{
    struct client_args *cl = cc->ctx;
    const struct client *c = &cl->client;
    struct store_client sc = {0};
    const char *shown = NULL;
    uint8_t hash[STORE_HASH_LEN];
    bool secret_given = secret_from_args(cc, hash, &shown);
    char *generated = client_secret_set(&sc, c->auth_method, secret_given ? hash : NULL, false, cc->a);
    if (generated != NULL)
        shown = generated;
    sc.client_id = c->client_id;
    char *resealed = seal_secret(cc, c, &sc, shown);
    if (resealed != NULL)
        shown = generated = resealed;
    int idx = config_client_index(cc->cfg, c->client_id);
    if (idx >= 0)
        die("client create: --client-id: '%s' is declared in the configuration file (clients[%d]); change it "
            "there",
            c->client_id, idx);

    char *meta = client_metadata_json(c);
    if (meta == NULL)
        die("client create: cannot encode the metadata");
    sc.client_id = c->client_id;
    sc.metadata = meta;
    sc.created_at = sc.updated_at = clock_now();

    /* Look and write in one transaction, so a concurrent create of the same id cannot be overwritten. */
    struct errbuf err = {{0}};
    struct store_client existing;
    if (store_begin(cc->db, &err) != 0)
        die("client create: storage: %s", err.msg);
    int rc = store_client_get(cc->db, cc->a, c->client_id, &existing, &err);
    if (rc == 0) {
        store_rollback(cc->db);
        die("client create: --client-id: a client '%s' already exists (see ostiary client update)",
            c->client_id);
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

static int client_list(struct cli_cmd *cc)
{
    struct errbuf err = {{0}};
    struct store_client *v = NULL;
    size_t n = 0;
    if (store_client_list(cc->db, cc->a, &v, &n, &err) != 0)
        die("client list: storage: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *m = client_json(&v[i], false);
        json_t *line = json_object();
        json_object_set_new(line, "client_id", json_string(v[i].client_id));
        cli_json_copy_str(line, m, "client_name");
        json_t *gt = json_object_get(m, "grant_types");
        json_object_set_new(line, "grant_types", json_is_array(gt) ? json_incref(gt) : json_array());
        cli_json_copy_str(line, m, "token_endpoint_auth_method");
        json_object_set_new(line, "from_config", json_boolean(v[i].from_config));
        json_object_set_new(line, "origin", json_string(store_client_origin(&v[i])));
        cli_print_json(line, JSON_COMPACT);
        json_decref(line);
        json_decref(m);
    }
    return 0;
}

static int client_show(struct cli_cmd *cc)
{
    struct store_client sc;
    load_client(cc, cc->args.pos[1], &sc);
    print_client(&sc, NULL, 0, SHOW_FULL | SHOW_STATE);
    return 0;
}

static int client_update(struct cli_cmd *cc)
{
    const struct cli_args *ca = &cc->args;
    struct store_client sc;
    load_client(cc, ca->pos[1], &sc);
    struct client c;
    client_of_args(cc, &sc, &c);

    const char *shown = NULL;
    uint8_t hash[STORE_HASH_LEN];
    bool secret_given = secret_from_args(cc, hash, &shown);
    /* Public turned confidential without a secret given: a new one, shown this once. */
    char *generated = client_secret_set(&sc, c.auth_method, secret_given ? hash : NULL, false, cc->a);
    if (generated != NULL)
        shown = generated;
    char *resealed = seal_secret(cc, &c, &sc, shown);
    if (resealed != NULL)
        shown = generated = resealed;
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

static int client_delete(struct cli_cmd *cc)
{
    const char *id = cc->args.pos[1];
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
    cli_print_json(out, JSON_COMPACT);
    json_decref(out);
    return 0;
}

static int client_rotate_secret(struct cli_cmd *cc)
{
    struct store_client sc;
    load_client(cc, cc->args.pos[1], &sc);
    struct client c;
    if (client_from_store(cc->a, &sc, &c) != 0)
        die("client rotate-secret: the stored metadata of '%s' is not valid JSON metadata", sc.client_id);
    if (c.auth_method == CLIENT_AUTH_NONE)
        die("client rotate-secret: '%s' is a public client (token_endpoint_auth_method none) and has no secret",
            sc.client_id);
    const char *given = cc->args.val[O_SECRET];
    if (given != NULL && given[0] == '\0')
        die("client rotate-secret: --secret: must not be empty");
    const char *shown = NULL;
    uint8_t hash[STORE_HASH_LEN];
    bool secret_given = secret_from_args(cc, hash, &shown);
    char *generated = client_secret_set(&sc, c.auth_method, secret_given ? hash : NULL, true, cc->a);
    if (generated != NULL)
        shown = generated;
    seal_secret(cc, &c, &sc, shown);
    sc.updated_at = clock_now();
    save_client(cc, &sc);
    warn_if_from_config(cc, &sc);
    print_client(&sc, shown, 0, 0);
    fflush(stdout);
    wipe(generated);
    return 0;
}

/* update without an option changes nothing: a usage error. */
static int check_usage(const struct cli_cmd *cc, struct errbuf *err)
{
    if (strcmp(cc->sub->name, "update") == 0 && cc->args.seen == 0) {
        errbuf_set(err, "nothing to change: give at least one client option");
        return -1;
    }
    return 0;
}

static const struct cli_sub subs[] = {
    {"create", client_create, METADATA_OPTS | BIT(O_CLIENT_ID), 0, 0, NULL, create_prepare},
    {"list", client_list, 0, 0, 0, NULL, NULL},
    {"show", client_show, 0, 1, 1, "client_id", NULL},
    {"update", client_update,
     METADATA_OPTS | BIT(O_NO_REDIRECT_URIS) | BIT(O_NO_RESOURCES) | BIT(O_NO_POST_LOGOUT_URIS) |
         BIT(O_NO_INTROSPECTION_RESOURCES),
     1, 1, "client_id", NULL},
    {"delete", client_delete, 0, 1, 1, "client_id", NULL},
    {"rotate-secret", client_rotate_secret, BIT(O_SECRET), 1, 1, "client_id", NULL},
};

static const struct cli_command client_command = {
    .name = "client", .opts = opts, .n_opts = O_COUNT, .subs = subs, .n_subs = sizeof(subs) / sizeof(subs[0]),
    .usage = usage, .each = split_grants, .check_usage = check_usage,
};

int cmd_client(int argc, char **argv)
{
    struct client_args ca = {0};
    return cli_run(&client_command, &ca, argc, argv);
}
