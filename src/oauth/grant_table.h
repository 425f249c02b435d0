/* grant_table.h: the grant table, one row per grant type the server knows (RFC 6749 §4.1.3, §4.4, §6;
 * RFC 8628 §3.4). It is the one source of the token endpoint's dispatch (token.c), discovery's
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
 *   HANDLER   the function of grants.h that serves it (token.c's dispatch), NULL while not served
 *   CONF      only confidential clients may use it (RFC 6749 §4.4: client_credentials)
 *   YIELDS_RT it issues refresh tokens, so a client registered for refresh_token needs one such grant
 *   REDIRECT  a front-channel grant: the client must register redirect URIs (RFC 6749 §3.1.2.2)
 *   SERVED    implemented; false keeps it out of discovery, the file, the CLI and the dispatch
 * Adding a grant: a row here, its handler in a grant_<name>.c file with its prototype in grants.h; see
 * the README's "How to add a grant". The order is that of client metadata and of discovery. */
#define GRANT_TABLE(X)                                                                                       \
    X(AUTHORIZATION_CODE, 0, "authorization_code", grant_authorization_code, false, true, true, true)       \
    X(CLIENT_CREDENTIALS, 1, "client_credentials", grant_client_credentials, true, false, false, true)      \
    X(REFRESH_TOKEN, 2, "refresh_token", grant_refresh_token, false, false, false, true)                    \
    X(DEVICE_CODE, 3, "urn:ietf:params:oauth:grant-type:device_code", grant_device_code, false, true, false, true)

enum grant_flags {
#define GRANT_FLAG_ENUM(id, bit, name, handler, conf, yields_rt, redirect, served) GRANT_##id = 1u << (bit),
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

#endif
