/* client_check.h: the rule book of client metadata (RFC 7591 §2 names; RFC 6749 §2-4, RFC 7636, RFC 8707,
 * RFC 9700 §2.1.1, OIDC Registration §2, OIDC RP-Initiated Logout §3.1): one check behind the
 * configuration's clients[], `ostiary client create|update` and the coming dynamic registration, whose
 * RFC 7591 §3.2.2 error codes come from the same problems. Each caller names the fields its own way: the
 * file as clients[i].<field>, the CLI by option. */
#ifndef OSTIARY_OAUTH_CLIENT_CHECK_H
#define OSTIARY_OAUTH_CLIENT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/config.h"
#include "core/err.h"
#include "oauth/client.h"

struct arena;
struct config;

/* A list of the metadata (strings owned by whoever filled it). */
struct meta_list {
    const char *const *v;
    size_t n;
};

/* A client's metadata as given, before defaults: NULL, an empty list or 0 means absent. Its members are
 * the fields of clients[] in the configuration (CONFIG_CLIENT, core/config_keys.h), the same RFC 7591 §2
 * names: a text field is a string (client_secret and client_secret_sha256 are never echoed; require_pkce
 * is a boolean of the configuration, NULL for pkce.required), a list a struct meta_list. */
#define CLIENT_META_MEMBER(name, type, def, min, max, flags, doc) CLIENT_META_MEMBER_##type(name)
#define CLIENT_META_MEMBER_STR(n) const char *n;
#define CLIENT_META_MEMBER_U32(n) uint32_t n;
#define CLIENT_META_MEMBER_LIST(n) struct meta_list n;
struct client_meta {
    CONFIG_CLIENT(CLIENT_META_MEMBER)
    /* The server issues the secret itself or already holds one (the CLI, dynamic registration, RFC 7591
     * §3.2.1): a confidential method then needs neither client_secret nor client_secret_sha256. */
    bool server_secret;
    /* resources was stated (an empty list too): the client may target only those APIs (client.h). */
    bool resources_listed;
};

/* Why metadata was refused. The reason names other fields between CLIENT_FIELD_OPEN and CLIENT_FIELD_CLOSE
 * (e.g. "\001token_endpoint_auth_method\002 none"), for client_problem_reason() to name them as the
 * caller does; values it quotes went through str_shown(), so they cannot hold these markers. */
struct client_problem {
    const char *field; /* the metadata name at fault, e.g. "redirect_uris" */
    int index;         /* the entry of a list field, or -1 */
    const char *error; /* RFC 7591 §3.2.2: "invalid_redirect_uri" or "invalid_client_metadata" */
    char reason[400];
};
#define CLIENT_FIELD_OPEN '\001'
#define CLIENT_FIELD_CLOSE '\002'

/* How a caller names a metadata field in its messages (the CLI: by its option); NULL: by the name. */
typedef const char *(*client_label_fn)(const char *field);

/* Checks m against the rules and the configuration (keys.algorithms, resources, pkce.required, dev for
 * plain-http redirect URIs) and fills *out with it, the defaults applied (web, client_secret_basic with a
 * secret else none, grant types by redirect URIs, response types by grant types, offline_consent, [S256],
 * all; an unset id_token_signed_response_alg stays unset: RS256 if configured, else the first algorithm, at
 * run time).
 * out's strings point into m or into a (lists are copied there); has_secret and secret_hash are left to
 * the caller. Returns 0, or -1 with *p filled. */
int client_check(const struct config *cfg, const struct client_meta *m, struct arena *a, struct client *out,
                 struct client_problem *p);

/* p's reason with each marked field named label(field) (label NULL: the field itself), into buf. */
const char *client_problem_reason(const struct client_problem *p, client_label_fn label, char *buf, size_t n);

/* The metadata of a JSON object with RFC 7591 §2 names (a stored client's, as client_metadata_json() writes
 * it): strings point into o, lists are allocated in a. Members of another type are left absent, and an
 * empty scope is no scope. client_id and the secret are not part of it. */
void client_meta_from_json(json_t *o, struct arena *a, struct client_meta *m);
/* The same, strictly, for a request that states metadata (the admin API): every member must be a field of
 * clients[] (client_id, client_secret and client_secret_sha256 included, into m) of its JSON type, a list an
 * array of strings, require_pkce a boolean; a null member is absent. 0, or -1 with *p naming the member
 * (an unknown one with field ""). Strings point into o. */
int client_meta_from_json_strict(json_t *o, struct arena *a, struct client_meta *m, struct client_problem *p);
/* The grant types of a client registered at run time (`ostiary client create`, the admin API) that names
 * none: authorization_code with redirect URIs, else client_credentials; unlike the file's default, no
 * refresh_token unless asked for. */
void client_meta_default_grants(struct client_meta *m);
/* The metadata of a dynamic registration request (RFC 7591 §2, §3.1; OIDC Registration §2; RFC 7592 §2.2),
 * a JSON object: redirect_uris, token_endpoint_auth_method, grant_types (default authorization_code),
 * response_types, client_name,
 * scope, application_type, post_logout_redirect_uris, id_token_signed_response_alg and
 * require_pushed_authorization_requests (RFC 9126 §6), each of its RFC type (a wrong type is refused).
 * Every other member is ignored (RFC 7591 §2: what the server does not understand), the settings only an
 * operator gives (resources, introspection, PKCE, lifetimes, a secret of the client's choosing) included.
 * Pure. 0, or -1 with *p. Strings point into o. */
int client_meta_from_registration(json_t *o, struct arena *a, struct client_meta *m, struct client_problem *p);
/* client_check() of registered metadata (m->client_id set by the caller), then the registration policy
 * of the configuration (registration.*: grant types, response types, auth methods, scopes, redirect URI
 * schemes and hosts, localhost), then what registration decides for the client: the policy's scopes when
 * it names none, the policy's APIs only (resources_listed), introspection of its own tokens only. Same
 * contract as client_check(). */
int client_check_registration(const struct config *cfg, const struct client_meta *m, struct arena *a,
                              struct client *out, struct client_problem *p);
/* Checks registration.* after config_validate(): known grant types, response types and auth methods,
 * valid scopes and schemes, APIs of the configuration. err names the key. */
int registration_check_config(struct config *cfg, struct errbuf *err);

/* client_check() on clients[i]. */
int client_check_entry(const struct config *cfg, unsigned i, struct arena *a, struct client *out,
                       struct client_problem *p);

/* Checks clients[] after config_validate(): unique client_id, then every entry through client_check(),
 * whose defaults are written back into the entry (token_endpoint_auth_method, application_type,
 * grant_types, response_types, id_token_signed_response_alg, id_token_claims, refresh_token_policy,
 * pkce_methods, require_pkce and require_pkce_set/value, introspection_access). err:
 * "clients[i].<field>[j]: <reason>". Idempotent. */
int clients_check_config(struct config *cfg, struct errbuf *err);

/* Everything a configuration must pass before use: config_validate() (core: the settings and resources[])
 * and the checks of the layers above, which core cannot call: clients_check_config() and
 * users_check_config() (session/user_check.h). What the CLI, the tests and the fuzz target run after
 * loading. */
int oauth_config_validate(struct config *cfg, struct errbuf *err);

#endif
