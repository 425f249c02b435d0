/* test_grant_table.c: proves src/oauth/grant_table.c: lookups by name and flag, the served rows in table
 * order, and the rules on the grant types a client registers (RFC 6749 §3.1.2.2, §4.4, §4.4.3) that the
 * configuration file and the CLI share. The device grant (RFC 8628) is a row that is not served yet; implicit
 * is served, but never at the token endpoint (its tokens come from the authorization endpoint). Also the
 * response types: their parsing, which are served, and how they agree with the grant types. */
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
    ASSERT(g != NULL && !g->served && g->flag == GRANT_DEVICE_CODE && g->token_endpoint);
    g = grant_by_name("implicit");
    ASSERT(g != NULL && g->flag == GRANT_IMPLICIT && !g->token_endpoint && g->needs_redirect_uris);
    ASSERT(!g->yields_refresh && !g->confidential); /* no refresh token from the front channel */
    ASSERT(grant_by_name("password") == NULL);
    ASSERT(grant_by_name("Client_Credentials") == NULL); /* exact names */
    ASSERT(grant_by_name(NULL) == NULL);
    ASSERT(grant_by_flag(0) == NULL);
    ASSERT(grant_by_flag(GRANT_CLIENT_CREDENTIALS | GRANT_REFRESH_TOKEN) == NULL);
}

TEST(grant_served_rows_in_order)
{
    const char *want[] = {"authorization_code", "client_credentials", "refresh_token", "implicit"};
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
    const char *unknown[] = {"client_credentials", "password"};
    ASSERT_EQ(grant_names_parse(unknown, 2, &flags, &why), -1);
    ASSERT_EQ(why.index, 1);
    ASSERT_STREQ(why.reason, "unsupported grant type 'password' (allowed: authorization_code, "
                             "client_credentials, refresh_token, implicit)");
    const char *device[] = {DEVICE};
    ASSERT_EQ(grant_names_parse(device, 1, &flags, &why), -1);
    ASSERT_EQ(why.index, 0);
    ASSERT_STREQ(why.reason, "grant type '" DEVICE "' is not served by this server yet (allowed: "
                             "authorization_code, client_credentials, refresh_token, implicit)");
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
    ASSERT_EQ(grant_set_check(GRANT_IMPLICIT, true, 0, &why), -1);
    ASSERT(why.redirect_uris);
    ASSERT_STREQ(why.reason, "at least one is required for implicit (RFC 6749 §3.1.2.2)");
    /* No refresh token from the front channel: implicit yields none. */
    ASSERT_EQ(grant_set_check(GRANT_IMPLICIT | GRANT_REFRESH_TOKEN, true, 1, &why), -1);
    ASSERT(strncmp(why.reason, "refresh_token requires authorization_code as well", 49) == 0);
    /* RFC 6749 §4.4.3: refresh_token with only client_credentials, or alone. */
    ASSERT_EQ(grant_set_check(GRANT_CLIENT_CREDENTIALS | GRANT_REFRESH_TOKEN, false, 0, &why), -1);
    ASSERT(strncmp(why.reason, "refresh_token requires authorization_code as well", 49) == 0);
    ASSERT_EQ(grant_set_check(GRANT_REFRESH_TOKEN, false, 0, &why), -1);
    /* A stored device flag is let through by the set rules (the token endpoint refuses it); it does not
     * count as a grant yielding refresh tokens while it is not served. */
    ASSERT_EQ(grant_set_check(GRANT_DEVICE_CODE, true, 0, &why), 0);
    ASSERT_EQ(grant_set_check(GRANT_DEVICE_CODE | GRANT_REFRESH_TOKEN, true, 0, &why), -1);
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

TEST(response_type_parse_values)
{
    unsigned parts;
    ASSERT_EQ(response_type_parse("code", &parts), RESPONSE_TYPE_OK);
    ASSERT_EQ(parts, RESPONSE_CODE);
    ASSERT_STREQ(response_type_name(parts), "code");
    /* The order of the values does not matter (RFC 6749 §3.1.1); extra spaces are skipped. */
    ASSERT_EQ(response_type_parse(" token  id_token code ", &parts), RESPONSE_TYPE_OK);
    ASSERT_EQ(parts, RESPONSE_CODE | RESPONSE_ID_TOKEN | RESPONSE_TOKEN);
    ASSERT_STREQ(response_type_name(parts), "code id_token token");
    ASSERT_EQ(response_type_parse("code code", &parts), RESPONSE_TYPE_DUPLICATE);
    ASSERT_EQ(response_type_parse("none", &parts), RESPONSE_TYPE_UNKNOWN);
    ASSERT_EQ(response_type_parse("code none", &parts), RESPONSE_TYPE_UNKNOWN);
    ASSERT_EQ(response_type_parse("Code", &parts), RESPONSE_TYPE_UNKNOWN);
    ASSERT_EQ(response_type_parse("", &parts), RESPONSE_TYPE_UNKNOWN);
    ASSERT_EQ(response_type_parse("  ", &parts), RESPONSE_TYPE_UNKNOWN);
    ASSERT_EQ(response_type_parse(NULL, &parts), RESPONSE_TYPE_UNKNOWN);
    /* token alone (the implicit grant of OAuth, RFC 9700 §2.1.2) is never served. */
    ASSERT_EQ(response_type_parse("token", &parts), RESPONSE_TYPE_NOT_SERVED);
    ASSERT_EQ(response_type_grants(RESPONSE_CODE | RESPONSE_TOKEN), GRANT_AUTHORIZATION_CODE | GRANT_IMPLICIT);
    ASSERT_EQ(response_type_grants(RESPONSE_ID_TOKEN), GRANT_IMPLICIT);
}

TEST(response_types_served_in_order)
{
    /* Code, the hybrid types, then those without code; never token alone. */
    const char *want[] = {"code", "code id_token", "code token", "code id_token token", "id_token",
                          "id_token token"};
    size_t n = 0;
    for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t)) {
        ASSERT(n < 6);
        ASSERT_STREQ(response_type_name(t), want[n]);
        n++;
    }
    ASSERT_EQ(n, 6);
}

TEST(response_types_agree_with_grants)
{
    struct grant_refusal why;
    unsigned set;
    const char *code[] = {"code"};
    ASSERT_EQ(response_types_check(code, 1, GRANT_AUTHORIZATION_CODE | GRANT_REFRESH_TOKEN, &set, &why), 0);
    ASSERT_EQ(set, RESPONSE_TYPE_BIT(RESPONSE_CODE));
    /* Absent: code with the code grant, nothing without a front-channel grant. */
    ASSERT_EQ(response_types_check(NULL, 0, GRANT_AUTHORIZATION_CODE, &set, &why), 0);
    ASSERT_EQ(set, RESPONSE_TYPE_BIT(RESPONSE_CODE));
    ASSERT_EQ(response_types_check(NULL, 0, GRANT_CLIENT_CREDENTIALS, &set, &why), 0);
    ASSERT_EQ(set, 0);
    /* code needs the code grant (OIDC Registration §2). */
    ASSERT_EQ(response_types_check(code, 1, GRANT_CLIENT_CREDENTIALS, &set, &why), -1);
    ASSERT_EQ(why.index, 0);
    ASSERT_EQ(why.flag, GRANT_AUTHORIZATION_CODE);
    ASSERT_STREQ(why.reason, "'code' requires the grant type authorization_code as well (OpenID Connect "
                             "Registration §2)");
    const char *two[] = {"code", "code"};
    ASSERT_EQ(response_types_check(two, 2, GRANT_AUTHORIZATION_CODE, &set, &why), -1);
    ASSERT_EQ(why.index, 1);
    ASSERT_STREQ(why.reason, "duplicate 'code'");
    const char *bad[] = {"code", "cod\te"};
    ASSERT_EQ(response_types_check(bad, 2, GRANT_AUTHORIZATION_CODE, &set, &why), -1);
    ASSERT_EQ(why.index, 1);
    ASSERT_STREQ(why.reason, "'cod?e' is not a response type (values code, id_token and token, each at most "
                             "once, separated by spaces; allowed: 'code', 'code id_token', 'code token', "
                             "'code id_token token', 'id_token', 'id_token token')");
    const char *token[] = {"token"};
    ASSERT_EQ(response_types_check(token, 1, GRANT_IMPLICIT, &set, &why), -1);
    ASSERT_STREQ(why.reason, "response type 'token' is not served by this server (allowed: 'code', 'code id_token', "
                             "'code token', 'code id_token token', 'id_token', 'id_token token')");
    /* The hybrid types need both grants; the order of a type's values does not make another type. */
    const char *hybrid[] = {"id_token code", "code", "code id_token"};
    ASSERT_EQ(response_types_check(hybrid, 2, GRANT_AUTHORIZATION_CODE, &set, &why), -1);
    ASSERT_EQ(why.index, 0);
    ASSERT_EQ(why.flag, GRANT_IMPLICIT);
    ASSERT_STREQ(why.reason, "'code id_token' requires the grant type implicit as well (OpenID Connect "
                             "Registration §2)");
    ASSERT_EQ(response_types_check(hybrid, 2, GRANT_AUTHORIZATION_CODE | GRANT_IMPLICIT, &set, &why), 0);
    ASSERT_EQ(set, RESPONSE_TYPE_BIT(RESPONSE_CODE) | RESPONSE_TYPE_BIT(RESPONSE_CODE | RESPONSE_ID_TOKEN));
    ASSERT_EQ(response_types_check(hybrid, 3, GRANT_AUTHORIZATION_CODE | GRANT_IMPLICIT, &set, &why), -1);
    ASSERT_EQ(why.index, 2);
    ASSERT_STREQ(why.reason, "duplicate 'code id_token'");
    /* Every front-channel grant is used by some response type. */
    ASSERT_EQ(response_types_check(NULL, 0, GRANT_AUTHORIZATION_CODE | GRANT_IMPLICIT, &set, &why), -1);
    ASSERT_EQ(why.index, -1);
    ASSERT_EQ(why.flag, GRANT_IMPLICIT);
    ASSERT(strncmp(why.reason, "the grant type implicit is used only by response types with id_token", 68) == 0);
    const char *implicit_only[] = {"id_token", "id_token token"};
    ASSERT_EQ(response_types_check(implicit_only, 2, GRANT_AUTHORIZATION_CODE | GRANT_IMPLICIT, &set, &why), -1);
    ASSERT_EQ(why.flag, GRANT_AUTHORIZATION_CODE);
    ASSERT_EQ(response_types_check(implicit_only, 2, GRANT_IMPLICIT, &set, &why), 0);
    ASSERT_EQ(set, RESPONSE_TYPE_BIT(RESPONSE_ID_TOKEN) | RESPONSE_TYPE_BIT(RESPONSE_ID_TOKEN | RESPONSE_TOKEN));
    ASSERT_EQ(response_types_check(NULL, 0, GRANT_IMPLICIT, &set, &why), -1);
    ASSERT_EQ(response_types_check(NULL, 0, 0, &set, &why), 0);
}

TESTS(T(grant_lookup), T(grant_served_rows_in_order), T(grant_names_parse_refusals), T(grant_set_rules),
      T(grant_names_check_points_at_the_name), T(response_type_parse_values),
      T(response_types_served_in_order), T(response_types_agree_with_grants))
