/* grant_table.h: the grant table, one row per grant type the server knows (RFC 6749 §4.1.3, §4.2, §4.4, §6;
 * RFC 8628 §3.4), and the response types of the authorization endpoint, each needing its grants (OAuth 2.0
 * Multiple Response Type Encoding Practices §3, OIDC Registration §2). It is the one source of the token endpoint's dispatch (token.c), discovery's
 * grant_types_supported (discovery.c), the grant names a client may register and their rules (client_check.c:
 * the configuration file and `ostiary client`), and the lists of docs/configuration.md, docs/cli.md and the
 * README (a test compares them with discovery). A row that is not served is known by name, so that it can be
 * refused with a reason, but it cannot be registered, advertised or redeemed. */
#ifndef OSTIARY_OAUTH_GRANT_TABLE_H
#define OSTIARY_OAUTH_GRANT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* The rows, an X-macro as OAUTH_ERR_MAP in error.h. Columns:
 *   ID        the enum grant_flags suffix (GRANT_<ID>)
 *   BIT       its bit; never renumbered
 *   NAME      the grant_type value of the token request and of the client metadata (RFC 7591 §2)
 *   HANDLER   the function of grants.h that serves it (token.c's dispatch), NULL while not served or when
 *             it is not redeemed at the token endpoint
 *   CONF      only confidential clients may use it (RFC 6749 §4.4: client_credentials)
 *   YIELDS_RT it issues refresh tokens, so a client registered for refresh_token needs one such grant
 *   REDIRECT  a front-channel grant: the client must register redirect URIs (RFC 6749 §3.1.2.2)
 *   TOKEN_EP  redeemed at the token endpoint. False for implicit (RFC 6749 §4.2): its tokens come from the
 *             authorization endpoint, through the response types that need it (RESPONSE_TYPES below);
 *             grant_type=implicit at the token endpoint is unsupported_grant_type
 *   SERVED    implemented; false keeps it out of discovery, the file, the CLI and the dispatch
 * Adding a grant: a row here, its handler in a grant_<name>.c file with its prototype in grants.h; see
 * the README's "How to add a grant". The order is that of client metadata and of discovery. */
#define GRANT_TABLE(X)                                                                                       \
    X(AUTHORIZATION_CODE, 0, "authorization_code", grant_authorization_code, false, true, true, true, true) \
    X(CLIENT_CREDENTIALS, 1, "client_credentials", grant_client_credentials, true, false, false, true, true)\
    X(REFRESH_TOKEN, 2, "refresh_token", grant_refresh_token, false, false, false, true, true)              \
    X(DEVICE_CODE, 3, "urn:ietf:params:oauth:grant-type:device_code", NULL, false, true, false, true, false) \
    X(IMPLICIT, 4, "implicit", NULL, false, false, true, false, true)

enum grant_flags {
#define GRANT_FLAG_ENUM(id, bit, name, handler, conf, yields_rt, redirect, token_ep, served) GRANT_##id = 1u << (bit),
    GRANT_TABLE(GRANT_FLAG_ENUM)
#undef GRANT_FLAG_ENUM
};

/* One row, without its handler (only token.c calls handlers; every other user reads names and rules). */
struct grant_type {
    const char *name;
    unsigned flag;             /* enum grant_flags: one bit */
    bool confidential;         /* CONF */
    bool yields_refresh;       /* YIELDS_RT */
    bool needs_redirect_uris;  /* REDIRECT */
    bool token_endpoint;       /* TOKEN_EP */
    bool served;               /* SERVED */
};

/* The row named `name` (exact, case-sensitive), served or not; NULL for an unknown name. */
const struct grant_type *grant_by_name(const char *name);
/* The row of one flag; NULL if `flag` is not exactly one known bit. */
const struct grant_type *grant_by_flag(unsigned flag);
/* Iterates the served rows in table order: grant_next_served(NULL) is the first, NULL after the last. */
const struct grant_type *grant_next_served(const struct grant_type *prev);

/* Why a client's grant types are refused, for the client check, whose callers put their own prefix before
 * `reason` (clients[i].grant_types[j]: ..., --grant-type: ...). The reason names no other field. */
struct grant_refusal {
    int index;           /* the entry of the names list at fault, or -1 for the list as a whole */
    unsigned flag;       /* the grant at fault (its row's rule), or 0 */
    bool redirect_uris;  /* the fault is missing redirect URIs (the caller names that field instead) */
    char reason[320];
};

/* Converts names[0..n) to flags: each must be a served grant type, named once. 0 with *flags, or -1 with
 * *out (index = the entry at fault). n == 0 gives flags 0. */
int grant_names_parse(const char *const *names, size_t n, unsigned *flags, struct grant_refusal *out);
/* The rules on the set a client registers: at least one grant; a confidential-only grant needs a
 * confidential client; a front-channel grant needs redirect URIs; refresh_token needs a grant that yields
 * refresh tokens. Flags of rows that are not served are let through here (a client stored before may hold
 * one; the token endpoint refuses it): grant_names_parse is what refuses new ones. 0, or -1 with *out
 * (index -1). */
int grant_set_check(unsigned flags, bool is_public, size_t n_redirect_uris, struct grant_refusal *out);
/* Both, with *flags; on a set failure the index of the name at fault when one name is (a confidential-only
 * grant). What client_check.c checks for every client. */
int grant_names_check(const char *const *names, size_t n, bool is_public, size_t n_redirect_uris,
                      unsigned *flags, struct grant_refusal *out);

/* ---- Response types ---------------------------------------------------------------------------------
 * A response_type is a set of the values code, id_token and token, in any order (RFC 6749 §3.1.1; Multiple
 * Response Types §3): its parts, as flags. Each value needs a grant of the client (OIDC Registration §2):
 * code the authorization code grant, id_token and token the implicit grant. A response type is served when
 * the grants it needs are; token alone (RFC 6749 §4.2, the implicit grant of OAuth without OpenID Connect)
 * and none are not served. A client registers the response types it uses (response_types, RFC 7591 §2),
 * kept as a set: bit RESPONSE_TYPE_BIT(parts) for each. */
enum response_part {
    RESPONSE_CODE = 1 << 0,
    RESPONSE_ID_TOKEN = 1 << 1,
    RESPONSE_TOKEN = 1 << 2,
};
#define RESPONSE_TYPE_BIT(parts) (1u << (parts))

/* How a response_type value fails to parse. */
enum response_type_fault {
    RESPONSE_TYPE_OK = 0,
    RESPONSE_TYPE_UNKNOWN,    /* empty, or a value other than code, id_token, token (none included) */
    RESPONSE_TYPE_DUPLICATE,  /* a value twice */
    RESPONSE_TYPE_NOT_SERVED, /* a combination this server does not serve (token alone) */
};
/* Parses a space-separated response_type (empty items between spaces are skipped) into its parts. */
enum response_type_fault response_type_parse(const char *s, unsigned *parts);
/* The canonical name of a set of parts ("code id_token token": code, id_token, token in that order), a
 * static string; "" for 0. */
const char *response_type_name(unsigned parts);
/* The grants (enum grant_flags) a response type needs. */
unsigned response_type_grants(unsigned parts);
/* Iterates the served response types in the order of discovery (code first, then the hybrid ones, then
 * those without code): response_type_next_served(0) is the first, 0 after the last. */
unsigned response_type_next_served(unsigned prev);

/* The response types a client registers (names[0..n), each a served response type, once each whatever the
 * order of its values), checked against its grant flags both ways (OIDC Registration §2): every response
 * type's grants must be registered, and every front-channel grant (the code grant, implicit) must be used
 * by a response type. n == 0 means the default, [code] for a client with the code grant and none for a
 * client without a front-channel grant (RFC 7591 §2: code is the default). 0 with *set (bits
 * RESPONSE_TYPE_BIT), or -1 with *out (index: the entry at fault, -1 for the list as a whole; flag: the
 * grant at fault, or 0). */
int response_types_check(const char *const *names, size_t n, unsigned grant_flags, unsigned *set,
                         struct grant_refusal *out);

#endif
