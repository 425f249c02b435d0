/* test_grant_table.c: proves src/oauth/grant_table.c: lookups by name and flag, the served rows in table
 * order, and the rules on the grant types a client registers (RFC 6749 §3.1.2.2, §4.4, §4.4.3) that the
 * configuration file and the CLI share. Every row is served now (the device grant, RFC 8628, was the last
 * one that was not). */
#include <string.h>

#include "oauth/grant_table.h"

#include "harness.h"

#define DEVICE "urn:ietf:params:oauth:grant-type:device_code"

TEST(grant_lookup)
{
    const struct grant_type *g = grant_by_name("client_credentials");
    ASSERT(g != NULL);
    ASSERT_EQ(g->flag, GRANT_CLIENT_CREDENTIALS);
    ASSERT(g->confidential && g->served && !g->yields_refresh && !g->needs_redirect_uris);
    ASSERT(grant_by_flag(GRANT_CLIENT_CREDENTIALS) == g);
    g = grant_by_name("authorization_code");
    ASSERT(g != NULL && g->needs_redirect_uris && g->yields_refresh && !g->confidential);
    g = grant_by_name(DEVICE);
    ASSERT(g != NULL && g->served && g->flag == GRANT_DEVICE_CODE);
    ASSERT(g->yields_refresh && !g->confidential && !g->needs_redirect_uris);
    ASSERT(grant_by_name("password") == NULL);
    ASSERT(grant_by_name("Client_Credentials") == NULL); /* exact names */
    ASSERT(grant_by_name(NULL) == NULL);
    ASSERT(grant_by_flag(0) == NULL);
    ASSERT(grant_by_flag(GRANT_CLIENT_CREDENTIALS | GRANT_REFRESH_TOKEN) == NULL);
}

TEST(grant_served_rows_in_order)
{
    const char *want[] = {"authorization_code", "client_credentials", "refresh_token", DEVICE};
    size_t n = 0;
    for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g)) {
        ASSERT(n < 4);
        ASSERT_STREQ(g->name, want[n]);
        ASSERT(g->served);
        n++;
    }
    ASSERT_EQ(n, 4);
}

TEST(grant_names_parse_refusals)
{
    struct grant_refusal why;
    unsigned flags;
    const char *ok[] = {"authorization_code", "refresh_token"};
    ASSERT_EQ(grant_names_parse(ok, 2, &flags, &why), 0);
    ASSERT_EQ(flags, GRANT_AUTHORIZATION_CODE | GRANT_REFRESH_TOKEN);
    const char *unknown[] = {"client_credentials", "implicit"};
    ASSERT_EQ(grant_names_parse(unknown, 2, &flags, &why), -1);
    ASSERT_EQ(why.index, 1);
    ASSERT_STREQ(why.reason, "unsupported grant type 'implicit' (allowed: authorization_code, "
                             "client_credentials, refresh_token, " DEVICE ")");
    const char *device[] = {DEVICE, "refresh_token"};
    ASSERT_EQ(grant_names_parse(device, 2, &flags, &why), 0);
    ASSERT_EQ(flags, GRANT_DEVICE_CODE | GRANT_REFRESH_TOKEN);
    const char *dup[] = {"refresh_token", "authorization_code", "refresh_token"};
    ASSERT_EQ(grant_names_parse(dup, 3, &flags, &why), -1);
    ASSERT_EQ(why.index, 2);
    ASSERT_STREQ(why.reason, "duplicate 'refresh_token'");
    const char *odd[] = {"a\nb"};
    ASSERT_EQ(grant_names_parse(odd, 1, &flags, &why), -1);
    ASSERT(strstr(why.reason, "'a?b'") != NULL); /* str_shown: never a control character in a message */
}

TEST(grant_set_rules)
{
    struct grant_refusal why;
    ASSERT_EQ(grant_set_check(GRANT_CLIENT_CREDENTIALS, false, 0, &why), 0);
    ASSERT_EQ(grant_set_check(GRANT_AUTHORIZATION_CODE | GRANT_REFRESH_TOKEN, true, 1, &why), 0);
    ASSERT_EQ(grant_set_check(0, false, 0, &why), -1);
    ASSERT_STREQ(why.reason, "at least one grant type is required");
    /* RFC 6749 §4.4 */
    ASSERT_EQ(grant_set_check(GRANT_CLIENT_CREDENTIALS, true, 0, &why), -1);
    ASSERT_EQ(why.flag, GRANT_CLIENT_CREDENTIALS);
    ASSERT(!why.redirect_uris);
    ASSERT(strncmp(why.reason, "client_credentials requires a confidential client", 49) == 0);
    /* RFC 6749 §3.1.2.2 */
    ASSERT_EQ(grant_set_check(GRANT_AUTHORIZATION_CODE, false, 0, &why), -1);
    ASSERT(why.redirect_uris);
    ASSERT_STREQ(why.reason, "at least one is required for authorization_code (RFC 6749 §3.1.2.2)");
    /* RFC 6749 §4.4.3: refresh_token with only client_credentials, or alone. */
    ASSERT_EQ(grant_set_check(GRANT_CLIENT_CREDENTIALS | GRANT_REFRESH_TOKEN, false, 0, &why), -1);
    ASSERT_STREQ(why.reason, "refresh_token requires authorization_code or " DEVICE
                             " as well (the grants that issue refresh tokens); client_credentials clients get none "
                             "(RFC 6749 §4.4.3)");
    ASSERT_EQ(grant_set_check(GRANT_REFRESH_TOKEN, false, 0, &why), -1);
    /* The device grant: public or confidential, no redirect URI, and it yields refresh tokens. */
    ASSERT_EQ(grant_set_check(GRANT_DEVICE_CODE, true, 0, &why), 0);
    ASSERT_EQ(grant_set_check(GRANT_DEVICE_CODE | GRANT_REFRESH_TOKEN, true, 0, &why), 0);
    ASSERT_EQ(grant_set_check(GRANT_DEVICE_CODE | GRANT_REFRESH_TOKEN, false, 0, &why), 0);
}

TEST(grant_names_check_points_at_the_name)
{
    struct grant_refusal why;
    unsigned flags;
    const char *names[] = {"refresh_token", "authorization_code", "client_credentials"};
    ASSERT_EQ(grant_names_check(names, 3, false, 1, &flags, &why), 0);
    ASSERT_EQ(flags, GRANT_REFRESH_TOKEN | GRANT_AUTHORIZATION_CODE | GRANT_CLIENT_CREDENTIALS);
    ASSERT_EQ(grant_names_check(names, 3, true, 1, &flags, &why), -1);
    ASSERT_EQ(why.index, 2); /* client_credentials, for a public client */
    ASSERT_EQ(grant_names_check(names, 2, false, 0, &flags, &why), -1);
    ASSERT(why.redirect_uris);
    ASSERT_EQ(why.index, -1); /* the redirect_uris field is at fault, not a name */
    const char *rt[] = {"refresh_token"};
    ASSERT_EQ(grant_names_check(rt, 1, false, 0, &flags, &why), -1);
    ASSERT_EQ(why.index, -1); /* the list as a whole */
}

TESTS(T(grant_lookup), T(grant_served_rows_in_order), T(grant_names_parse_refusals), T(grant_set_rules),
      T(grant_names_check_points_at_the_name))
