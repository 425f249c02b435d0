/* client_names.c: the names of the client model's values (RFC 7591 §2 token_endpoint_auth_method, OIDC
 * Registration §2 application_type, RFC 7636 §4.2 code_challenge_method, and our own refresh_token_policy
 * and introspection_access) and their enums (client.h); grant types are the grant table's
 * (grant_table.h). A leaf: the metadata rules (client_check.c) and the stored metadata (client.c) both
 * build on it, and it uses neither. */
#include "oauth/client.h"

#include <string.h>

#include "core/banned.h"

#define NAMES_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The position of s in names[0..n), or -1: the enums below are indexes into their name tables. */
static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    return -1;
}

/* PREFIX_str() and PREFIX_parse() of an enum whose values index NAMES; names[0] is the default, which
 * _str also gives for a value out of range. _parse returns -1 for an unknown name, leaving *out as it was. */
#define NAME_TABLE_FUNCS(prefix, type, names)                                                               \
    const char *prefix##_str(type v)                                                                       \
    {                                                                                                      \
        return (unsigned)v < NAMES_LEN(names) ? names[v] : names[0];                                       \
    }                                                                                                      \
    int prefix##_parse(const char *s, type *out)                                                           \
    {                                                                                                      \
        int i = name_index(names, NAMES_LEN(names), s);                                                    \
        if (i < 0)                                                                                         \
            return -1;                                                                                     \
        *out = (type)i;                                                                                    \
        return 0;                                                                                          \
    }

static const char *const auth_methods[] = {"client_secret_basic", "client_secret_post", "none", "private_key_jwt",
                                           "client_secret_jwt"};
NAME_TABLE_FUNCS(client_auth_method, enum client_auth_method, auth_methods)

static const char *const refresh_policies[] = {"offline_consent", "offline_access", "always"};
NAME_TABLE_FUNCS(client_refresh_policy, enum refresh_policy, refresh_policies)

static const char *const application_types[] = {"web", "native"};
NAME_TABLE_FUNCS(client_application_type, enum application_type, application_types)

static const char *const introspection_accesses[] = {"all", "own", "resources"};
NAME_TABLE_FUNCS(client_introspection_access, enum introspection_access, introspection_accesses)

static const char *const id_token_claims_names[] = {"none", "scope"};
NAME_TABLE_FUNCS(client_id_token_claims, enum id_token_claims, id_token_claims_names)

unsigned pkce_method_flag(const char *name)
{
    if (strcmp(name, "S256") == 0)
        return PKCE_S256;
    if (strcmp(name, "plain") == 0)
        return PKCE_PLAIN;
    return 0;
}
