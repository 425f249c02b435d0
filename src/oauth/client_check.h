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

#include "core/err.h"
#include "oauth/client.h"

struct arena;
struct config;

/* A client's metadata as given, before defaults: NULL, an empty list or 0 means absent. */
struct client_meta {
    const char *client_id;
    const char *client_secret;        /* given in clear; never echoed */
    const char *client_secret_sha256; /* or only its hash (base64 of SHA-256); never echoed */
    /* The server issues the secret itself or already holds one (the CLI, dynamic registration, RFC 7591
     * §3.2.1): a confidential method then needs neither of the two above. */
    bool server_secret;
    const char *client_name;
    const char *application_type;
    const char *const *grant_types;
    size_t n_grant_types;
    const char *const *redirect_uris;
    size_t n_redirect_uris;
    const char *token_endpoint_auth_method;
    const char *scope;
    const char *const *resources;
    size_t n_resources;
    uint32_t access_token_ttl;
    const char *const *post_logout_redirect_uris;
    size_t n_post_logout_redirect_uris;
    const char *id_token_signed_response_alg;
    const char *refresh_token_policy;
    const char *const *pkce_methods;
    size_t n_pkce_methods;
    const char *require_pkce; /* a boolean of the configuration (true/false, yes/no, 1/0); NULL: pkce.required */
    const char *introspection_access;
    const char *const *introspection_resources;
    size_t n_introspection_resources;
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
 * secret else none, grant types by redirect URIs, offline_consent, [S256], all; an unset
 * id_token_signed_response_alg stays unset: RS256 if configured, else the first algorithm, at run time).
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
/* The metadata of clients[i] of the configuration (pointers into cfg). */
void client_meta_from_config(const struct config *cfg, unsigned i, struct client_meta *m);
/* client_check() on clients[i]. */
int client_check_entry(const struct config *cfg, unsigned i, struct arena *a, struct client *out,
                       struct client_problem *p);

/* Checks clients[] after config_validate(): unique client_id, then every entry through client_check(),
 * whose defaults are written back into the entry (token_endpoint_auth_method, application_type,
 * grant_types, id_token_signed_response_alg, refresh_token_policy, pkce_methods, require_pkce and
 * require_pkce_set/value, introspection_access). err: "clients[i].<field>[j]: <reason>". Idempotent. */
int clients_check_config(struct config *cfg, struct errbuf *err);

/* Everything a configuration must pass before use: config_validate() (core: the settings and resources[])
 * and the checks of the layers above, which core cannot call: clients_check_config(). What the CLI and
 * the fuzz target run after loading. */
int oauth_config_validate(struct config *cfg, struct errbuf *err);

#endif
