/* claims.h: the OIDC standard claims of an end user (OIDC Core §5.1), declared once. From this list come the
 * fields of users[] in the configuration (config_keys.h), the checks of a value and the claims table
 * (session/user_check.c), the claims each scope releases to userinfo and ID tokens (§5.4) and discovery's
 * claims_supported (session/users.c), and the claim options of `ostiary user add|update`
 * (cli/cmd_user.c). Only declarations: core knows the names, the layers above the rules. */
#ifndef OSTIARY_CLAIMS_H
#define OSTIARY_CLAIMS_H

/* What a claim's value is: its JSON type and the syntax it is checked for. */
enum claim_kind {
    CLAIM_TEXT,    /* string: UTF-8 text without control characters */
    CLAIM_URL,     /* string: an http(s) URL of a page or an image */
    CLAIM_EMAIL,   /* string: name@domain */
    CLAIM_DATE,    /* string: YYYY-MM-DD or YYYY (0000 for an omitted year) */
    CLAIM_BOOL,    /* boolean */
    CLAIM_ADDRESS, /* object of the parts below (§5.1.1), each text */
    CLAIM_TIME,    /* number, seconds: kept by the store (updated_at), never set */
};

/* clang-format off */
/* X(arg, name, kind, scope that releases it (§5.4), its option of `ostiary user` or NULL); `--claim
 * NAME=VALUE` sets any claim but updated_at. In the order of §5.1, which discovery keeps. */
#define OIDC_CLAIMS(X, arg)                                                                                  \
    X(arg, name, CLAIM_TEXT, "profile", "--name")                                                            \
    X(arg, family_name, CLAIM_TEXT, "profile", NULL)                                                         \
    X(arg, given_name, CLAIM_TEXT, "profile", NULL)                                                          \
    X(arg, middle_name, CLAIM_TEXT, "profile", NULL)                                                         \
    X(arg, nickname, CLAIM_TEXT, "profile", NULL)                                                            \
    X(arg, preferred_username, CLAIM_TEXT, "profile", NULL)                                                  \
    X(arg, profile, CLAIM_URL, "profile", NULL)                                                              \
    X(arg, picture, CLAIM_URL, "profile", NULL)                                                              \
    X(arg, website, CLAIM_URL, "profile", NULL)                                                              \
    X(arg, gender, CLAIM_TEXT, "profile", NULL)                                                              \
    X(arg, birthdate, CLAIM_DATE, "profile", NULL)                                                           \
    X(arg, zoneinfo, CLAIM_TEXT, "profile", NULL)                                                            \
    X(arg, locale, CLAIM_TEXT, "profile", NULL)                                                              \
    X(arg, updated_at, CLAIM_TIME, "profile", NULL)                                                          \
    X(arg, email, CLAIM_EMAIL, "email", "--email")                                                           \
    X(arg, email_verified, CLAIM_BOOL, "email", "--email-verified")                                          \
    X(arg, address, CLAIM_ADDRESS, "address", NULL)                                                          \
    X(arg, phone_number, CLAIM_TEXT, "phone", "--phone")                                                     \
    X(arg, phone_number_verified, CLAIM_BOOL, "phone", NULL)

/* The members of the address claim (§5.1.1): X(arg, name, whether it may span lines). */
#define OIDC_ADDRESS_PARTS(X, arg)                                                                           \
    X(arg, formatted, true)                                                                                  \
    X(arg, street_address, true)                                                                             \
    X(arg, locality, false)                                                                                  \
    X(arg, region, false)                                                                                    \
    X(arg, postal_code, false)                                                                               \
    X(arg, country, false)
/* clang-format on */

#define OIDC_CLAIM_ID(arg, n, kind, scope, option) OIDC_CLAIM_##n,
enum oidc_claim_id { OIDC_CLAIMS(OIDC_CLAIM_ID, ~) OIDC_CLAIM_COUNT };
#define OIDC_ADDRESS_ID(arg, n, multiline) OIDC_ADDRESS_##n,
enum oidc_address_part_id { OIDC_ADDRESS_PARTS(OIDC_ADDRESS_ID, ~) OIDC_ADDRESS_PART_COUNT };
#undef OIDC_CLAIM_ID
#undef OIDC_ADDRESS_ID

#endif
