/* user_check.c: the checks of end users (user_check.h; OIDC Core §5.1, §5.1.1, §5.7): the claims table of
 * core/claims.h, each kind's syntax, usernames and ids, and users[] of the configuration. Passwords and
 * their hashes are never echoed. */
#include "session/user_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "core/config.h"
#include "core/str.h"
#include "core/validate.h"
#include "core/banned.h"

#define USER_NAME_MAX 255u
#define PASSWORD_HASH_MAX 128u /* libsodium's crypto_pwhash_str buffer, NUL included */

#define CLAIM_ROW(arg, n, kind, scope, option) {#n, kind, scope, option},
const struct oidc_claim oidc_claims[OIDC_CLAIM_COUNT] = {OIDC_CLAIMS(CLAIM_ROW, ~)};
#define PART_ROW(arg, n, multiline) {#n, multiline},
const struct oidc_address_part oidc_address_parts[OIDC_ADDRESS_PART_COUNT] = {
    OIDC_ADDRESS_PARTS(PART_ROW, ~)};

/* Where each claim and part lives in struct cfg_user (0: nowhere, address and updated_at). */
#define CFG_OFF(arg, n, kind, scope, option) CFG_OFF_##kind(n),
#define CFG_OFF_CLAIM_TEXT(n) offsetof(struct cfg_user, n)
#define CFG_OFF_CLAIM_URL(n) offsetof(struct cfg_user, n)
#define CFG_OFF_CLAIM_EMAIL(n) offsetof(struct cfg_user, n)
#define CFG_OFF_CLAIM_DATE(n) offsetof(struct cfg_user, n)
#define CFG_OFF_CLAIM_BOOL(n) offsetof(struct cfg_user, n)
#define CFG_OFF_CLAIM_ADDRESS(n) 0
#define CFG_OFF_CLAIM_TIME(n) 0
static const size_t cfg_claim_off[OIDC_CLAIM_COUNT] = {OIDC_CLAIMS(CFG_OFF, ~)};
#define PART_OFF(arg, n, multiline) offsetof(struct cfg_address, n),
static const size_t cfg_part_off[OIDC_ADDRESS_PART_COUNT] = {OIDC_ADDRESS_PARTS(PART_OFF, ~)};

const struct oidc_claim *oidc_claim_find(const char *name)
{
    for (size_t i = 0; i < OIDC_CLAIM_COUNT; i++)
        if (strcmp(oidc_claims[i].name, name) == 0)
            return &oidc_claims[i];
    return NULL;
}

/* The address part called name, or -1. */
static int oidc_address_part_find(const char *name)
{
    for (int i = 0; i < OIDC_ADDRESS_PART_COUNT; i++)
        if (strcmp(oidc_address_parts[i].name, name) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 3, 4))) static int fail(struct user_problem *p, const char *field,
                                                      const char *fmt, ...)
{
    va_list ap;
    snprintf(p->field, sizeof(p->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    va_end(ap);
    return -1;
}

static const char text_reason[] = "must be UTF-8 text without control characters";

/* The value of a claim other than address and updated_at, as text (a boolean as "true" or "false"):
 * 0, or -1 with *p filled. */
static int user_claim_check(const struct oidc_claim *c, const char *value, struct user_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    struct url_parts u;
    const char *why;
    if (!valid_claim_text(value, false))
        return fail(p, c->name, "%s", text_reason);
    switch (c->kind) {
    case CLAIM_URL:
        /* OIDC Core §5.1: profile, picture and website are URLs of web pages or images. A URL with userinfo
         * may hold a password: not echoed. */
        why = http_url_check(value, &u);
        if (why == url_userinfo_reason)
            return fail(p, c->name, "%s", why);
        if (why != NULL)
            return fail(p, c->name, "%s, got '%s'", why, str_shown(value, buf));
        return 0;
    case CLAIM_EMAIL:
        if (!valid_email(value))
            return fail(p, c->name, "must look like name@domain, got '%s'", str_shown(value, buf));
        return 0;
    case CLAIM_DATE:
        if (!valid_birthdate(value))
            return fail(p, c->name, "must be YYYY-MM-DD or YYYY (OIDC Core §5.1), got '%s'",
                        str_shown(value, buf));
        return 0;
    case CLAIM_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
            return fail(p, c->name, "must be true or false, got '%s'", str_shown(value, buf));
        return 0;
    case CLAIM_TEXT:
        return 0;
    case CLAIM_ADDRESS:
    case CLAIM_TIME:
        break;
    }
    return fail(p, c->name, "is not set as a single value");
}

/* The value of address part `part` (enum oidc_address_part_id): 0, or -1 with *p filled. */
static int user_address_check(int part, const char *value, struct user_problem *p)
{
    /* OIDC Core §5.1.1: formatted and street_address may span lines. */
    if (!valid_claim_text(value, oidc_address_parts[part].multiline)) {
        char field[48];
        snprintf(field, sizeof(field), "address.%s", oidc_address_parts[part].name);
        return fail(p, field, "%s", text_reason);
    }
    return 0;
}

int user_name_check(const char *field, const char *s, struct user_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (s != NULL && s[0] != '\0' && strlen(s) <= USER_NAME_MAX && valid_visible_ascii(s))
        return 0;
    if (strcmp(field, "id") == 0)
        return fail(p, field, "1 to %u visible ASCII characters (the OIDC sub), got '%s'", USER_NAME_MAX,
                    str_shown(s, buf));
    return fail(p, field, "required, 1 to %u visible ASCII characters, got '%s'", USER_NAME_MAX,
                str_shown(s, buf));
}

int user_claim_set(json_t *claims, const char *key, const char *value, struct user_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    if (strncmp(key, "address.", 8) == 0) {
        int part = oidc_address_part_find(key + 8);
        if (part < 0) {
            fail(p, key,
                 "unknown address part '%s' (formatted, street_address, locality, region, postal_code, "
                 "country)",
                 str_shown(key + 8, buf));
            return USER_CLAIM_UNKNOWN;
        }
        json_t *addr = json_object_get(claims, "address");
        if (!json_is_object(addr)) {
            addr = json_object();
            json_object_set_new(claims, "address", addr);
        }
        if (value[0] == '\0') {
            json_object_del(addr, key + 8);
            if (json_object_size(addr) == 0)
                json_object_del(claims, "address");
            return 0;
        }
        if (user_address_check(part, value, p) != 0)
            return -1;
        json_object_set_new(addr, key + 8, json_string(value));
        return 0;
    }
    const struct oidc_claim *c = oidc_claim_find(key);
    if (c == NULL || c->kind == CLAIM_TIME || c->kind == CLAIM_ADDRESS) {
        fail(p, "claims", "'%s' is not a settable standard claim", str_shown(key, buf));
        return USER_CLAIM_UNKNOWN;
    }
    if (value[0] == '\0') {
        json_object_del(claims, key);
        return 0;
    }
    if (user_claim_check(c, value, p) != 0)
        return -1;
    json_object_set_new(claims, key,
                        c->kind == CLAIM_BOOL ? json_boolean(strcmp(value, "true") == 0)
                                              : json_string(value));
    return 0;
}

const char *cfg_user_claim(const struct cfg_user *u, const struct oidc_claim *c)
{
    size_t off = cfg_claim_off[c - oidc_claims];
    return off != 0 ? *(char *const *)(const void *)((const char *)u + off) : NULL;
}

const char *cfg_user_address_part(const struct cfg_user *u, int part)
{
    if (u->address == NULL)
        return NULL;
    return *(char *const *)(const void *)((const char *)u->address + cfg_part_off[part]);
}

/* Passwords and hashes are never echoed, whatever is wrong with them. */
static int check_password(const struct cfg_user *u, struct user_problem *p)
{
    if (u->password != NULL && u->password_hash != NULL)
        return fail(p, "password", "password and password_hash are mutually exclusive");
    if (u->password == NULL && u->password_hash == NULL)
        return fail(p, "password",
                    "one of password or password_hash is required (hash one with: ostiary user add, or any "
                    "argon2id tool)");
    if (u->password != NULL && u->password[0] == '\0')
        return fail(p, "password", "must not be empty");
    if (u->password_hash != NULL &&
        (strncmp(u->password_hash, "$argon2id$", 10) != 0 || strlen(u->password_hash) >= PASSWORD_HASH_MAX ||
         !valid_visible_ascii(u->password_hash)))
        return fail(p, "password_hash", "must be an argon2id encoded hash ($argon2id$v=19$m=...)");
    /* libsodium must be able to read it (its parameters), or no login could ever succeed. */
    if (u->password_hash != NULL &&
        (sodium_init() < 0 ||
         crypto_pwhash_str_needs_rehash(u->password_hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0))
        return fail(p, "password_hash", "must be an argon2id encoded hash ($argon2id$v=19$m=...)");
    return 0;
}

/* users[i], knowing the earlier entry with the same username and the same id (-1: none). */
static int check_entry(const struct config *cfg, unsigned i, long same_name, long same_id,
                       struct user_problem *p)
{
    char buf[STR_SHOWN_SIZE];
    const struct cfg_user *u = &cfg->users[i];
    if (user_name_check("username", u->username, p) != 0)
        return -1;
    if (same_name >= 0)
        return fail(p, "username", "duplicate '%s' (also users[%ld])", str_shown(u->username, buf),
                    same_name);
    if (u->id != NULL) {
        if (user_name_check("id", u->id, p) != 0)
            return -1;
        if (same_id >= 0)
            return fail(p, "id", "duplicate '%s' (also users[%ld])", str_shown(u->id, buf), same_id);
    }
    if (check_password(u, p) != 0)
        return -1;
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++) {
        const char *v = cfg_user_claim(u, &oidc_claims[k]);
        if (v != NULL && user_claim_check(&oidc_claims[k], v, p) != 0)
            return -1;
    }
    for (int k = 0; k < OIDC_ADDRESS_PART_COUNT; k++) {
        const char *v = cfg_user_address_part(u, k);
        if (v != NULL && user_address_check(k, v, p) != 0)
            return -1;
    }
    return 0;
}

int user_check_entry(const struct config *cfg, unsigned i, struct user_problem *p)
{
    const struct cfg_user *u = &cfg->users[i];
    long same_name = -1, same_id = -1;
    for (unsigned j = 0; j < i && same_name < 0 && u->username != NULL; j++)
        if (cfg->users[j].username != NULL && strcmp(cfg->users[j].username, u->username) == 0)
            same_name = j;
    for (unsigned j = 0; j < i && same_id < 0 && u->id != NULL; j++)
        if (cfg->users[j].id != NULL && strcmp(cfg->users[j].id, u->id) == 0)
            same_id = j;
    return check_entry(cfg, i, same_name, same_id, p);
}

int users_check_config(struct config *cfg, struct errbuf *err)
{
    unsigned n = cfg->n_users;
    const char **v = calloc(n + 1, sizeof(*v));
    long *same_name = calloc(n + 1, sizeof(*same_name)), *same_id = calloc(n + 1, sizeof(*same_id));
    if (v == NULL || same_name == NULL || same_id == NULL)
        abort();
    for (unsigned i = 0; i < n; i++)
        v[i] = cfg->users[i].username;
    str_earlier_duplicates(v, n, same_name);
    for (unsigned i = 0; i < n; i++)
        v[i] = cfg->users[i].id;
    str_earlier_duplicates(v, n, same_id);
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        struct user_problem p;
        if (check_entry(cfg, i, same_name[i], same_id[i], &p) != 0) {
            char path[80];
            snprintf(path, sizeof(path), "users[%u].%s", i, p.field);
            config_error(cfg, err, path, "%s", p.reason);
            rc = ERR_INVALID;
        }
    }
    free(v);
    free(same_name);
    free(same_id);
    return rc;
}
