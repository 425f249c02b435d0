/* user_check.h: the rule book of end users (OIDC Core §5.1, §5.7): the claims table made from
 * core/claims.h, the check of a claim's value, of a username and of an id, and the check of the
 * configuration's users[]. The same checks serve `ostiary user add|update`, which names the option where
 * the file names users[i].<field>. */
#ifndef OSTIARY_SESSION_USER_CHECK_H
#define OSTIARY_SESSION_USER_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/claims.h"
#include "core/err.h"

struct config;
struct cfg_user;

/* One claim of claims.h. */
struct oidc_claim {
    const char *name;
    enum claim_kind kind;
    const char *scope;  /* the scope that releases it (OIDC Core §5.4) */
    const char *option; /* its option of `ostiary user`, or NULL */
};
extern const struct oidc_claim oidc_claims[OIDC_CLAIM_COUNT];

struct oidc_address_part {
    const char *name;
    bool multiline; /* may hold line breaks (§5.1.1) */
};
extern const struct oidc_address_part oidc_address_parts[OIDC_ADDRESS_PART_COUNT];

/* The claim called name, or NULL. */
const struct oidc_claim *oidc_claim_find(const char *name);

/* Why a user's value was refused: the field ("email", "address.country", "username", "id") and the
 * reason, which never holds a password. */
struct user_problem {
    char field[48];
    char reason[256];
};

/* A username (1 to 255 visible ASCII characters, required) or an id (the OIDC sub, likewise). field is
 * "username" or "id". 0, or -1 with *p filled. */
int user_name_check(const char *field, const char *s, struct user_problem *p);

/* Sets claim `key` of a user's claims object from its text form, by the checks above: a claim of the table
 * other than address and updated_at, or an address part as "address.<part>" (the address object made, or
 * dropped once empty). A boolean claim takes "true" or "false"; an empty value removes the claim. 0;
 * USER_CLAIM_UNKNOWN when key names no settable claim; -1 when the value is refused; *p says why. The
 * same rules for `ostiary user` and the admin API. */
#define USER_CLAIM_UNKNOWN (-2)
int user_claim_set(json_t *claims, const char *key, const char *value, struct user_problem *p);

/* A claim of a configured user: the text value (a boolean as "true"/"false"), NULL when absent; NULL for
 * address and updated_at (see cfg_user_address_part). */
const char *cfg_user_claim(const struct cfg_user *u, const struct oidc_claim *c);
/* Address part `part` of a configured user, NULL when absent. */
const char *cfg_user_address_part(const struct cfg_user *u, int part);

/* users[i] of the configuration: username and id (unique), password or its hash, every claim. 0, or -1
 * with *p filled (field as above, or "password"/"password_hash"). */
int user_check_entry(const struct config *cfg, unsigned i, struct user_problem *p);
/* Checks users[] after config_validate(); err: "<where>users[i].<field>: <reason>" (config_error). */
int users_check_config(struct config *cfg, struct errbuf *err);

#endif
