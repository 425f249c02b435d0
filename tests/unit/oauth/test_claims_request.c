/* test_claims_request.c: proves src/oauth/claims_request.c, the claims request parameter (OIDC Core §5.5):
 * what it accepts (both targets, essential, value, values, null requests, members it does not understand),
 * every refusal with its precise description, and the helpers the endpoints use (find, allows, the
 * releasable user claims of a target). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "oauth/claims_request.h"

static struct arena *a;
static void setup(void)
{
    a = arena_new(4096);
}
static void teardown(void)
{
    arena_free(a);
}
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
#include "harness.h"

static int parse(const char *text, struct claims_request *out, const char **why)
{
    *why = NULL;
    return claims_request_parse(a, text, strlen(text), out, why);
}

TEST(claims_both_targets)
{
    struct claims_request r;
    const char *why;
    ASSERT_EQ(
        parse("{\"userinfo\":{\"email\":{\"essential\":true},\"phone_number\":null,\"nickname\":{}},"
              "\"id_token\":{\"auth_time\":{\"essential\":true},\"acr\":{\"values\":[\"urn:x\",\"urn:y\"]},"
              "\"name\":null,\"sub\":{\"value\":\"248289761001\"}}}",
              &r, &why),
        0);
    ASSERT_EQ(r.n[CLAIMS_USERINFO], 3);
    ASSERT_EQ(r.n[CLAIMS_ID_TOKEN], 4);
    const struct claim_request *c = claims_request_find(&r, CLAIMS_USERINFO, "email");
    ASSERT(c != NULL && c->essential && c->value == NULL && c->values == NULL);
    c = claims_request_find(&r, CLAIMS_USERINFO, "phone_number");
    ASSERT(c != NULL && !c->essential);
    ASSERT(claims_request_find(&r, CLAIMS_ID_TOKEN, "email") == NULL);
    c = claims_request_find(&r, CLAIMS_ID_TOKEN, "acr");
    ASSERT(c != NULL && json_array_size(c->values) == 2);
    ASSERT(claim_request_allows(c, "urn:y"));
    ASSERT(!claim_request_allows(c, "urn:z"));
    c = claims_request_find(&r, CLAIMS_ID_TOKEN, "sub");
    ASSERT(claim_request_allows(c, "248289761001") && !claim_request_allows(c, "other"));
    ASSERT(claim_request_allows(claims_request_find(&r, CLAIMS_ID_TOKEN, "name"), "anything"));
    /* The releasable user claims, in the order of the request: not sub, acr, auth_time. */
    json_t *names = claims_request_user_claims(&r, CLAIMS_ID_TOKEN);
    char *s = json_dumps(names, JSON_COMPACT);
    ASSERT_STREQ(s, "[\"name\"]");
    free(s);
    json_decref(names);
    names = claims_request_user_claims(&r, CLAIMS_USERINFO);
    s = json_dumps(names, JSON_COMPACT);
    ASSERT_STREQ(s, "[\"email\",\"phone_number\",\"nickname\"]");
    free(s);
    json_decref(names);
}

/* §5.5 and §5.5.1: members not understood are ignored, also unknown claim names. */
TEST(claims_unknown_members_ignored)
{
    struct claims_request r;
    const char *why;
    ASSERT_EQ(parse("{}", &r, &why), 0);
    ASSERT_EQ(r.n[0] + r.n[1], 0);
    ASSERT_EQ(parse("{\"verified_claims\":{\"x\":1},\"userinfo\":{\"email\":{\"purpose\":\"login\","
                    "\"essential\":false},\"https://example.com/custom\":null}}",
                    &r, &why),
              0);
    ASSERT_EQ(r.n[CLAIMS_USERINFO], 2);
    json_t *names = claims_request_user_claims(&r, CLAIMS_USERINFO);
    ASSERT_EQ(json_array_size(names), 1); /* the custom claim is not a claim this server has */
    json_decref(names);
    ASSERT_EQ(parse(" { \"id_token\" : { } } ", &r, &why), 0);
}

struct bad {
    const char *text, *why;
};

TEST(claims_refusals)
{
    static const struct bad rows[] = {
        {"", "claims is not valid JSON (at character 0)"},
        {"{\"userinfo\":", "claims is not valid JSON (at character 12)"},
        {"{\"userinfo\":{}} x", "claims is not valid JSON (at character 17)"},
        {"[\"email\"]", "claims must be a JSON object with userinfo and id_token members"},
        {"\"x\"", "claims is not valid JSON (at character 3)"},
        {"{\"userinfo\":{},\"userinfo\":{}}", "claims has a member twice (at character 25)"},
        {"{\"userinfo\":{\"email\":null,\"email\":null}}", "claims has a member twice (at character 33)"},
        {"{\"userinfo\":[\"email\"]}", "claims.userinfo must be a JSON object of claim names"},
        {"{\"id_token\":null}", "claims.id_token must be a JSON object of claim names"},
        {"{\"id_token\":{\"email\":true}}", "claims.id_token.email must be null or a JSON object"},
        {"{\"id_token\":{\"email\":\"essential\"}}", "claims.id_token.email must be null or a JSON object"},
        {"{\"id_token\":{\"email\":{\"essential\":\"true\"}}}",
         "claims.id_token.email.essential must be true or false"},
        {"{\"id_token\":{\"acr\":{\"value\":[\"a\"]}}}",
         "claims.id_token.acr.value must be a string, a number or a boolean"},
        {"{\"id_token\":{\"acr\":{\"values\":\"a\"}}}",
         "claims.id_token.acr.values must be a non-empty JSON array"},
        {"{\"id_token\":{\"acr\":{\"values\":[]}}}",
         "claims.id_token.acr.values must be a non-empty JSON array"},
        {"{\"id_token\":{\"acr\":{\"values\":[\"a\",null]}}}",
         "claims.id_token.acr.values[1] must be a string, a number or a boolean"},
        {"{\"id_token\":{\"acr\":{\"value\":\"a\",\"values\":[\"a\"]}}}",
         "claims.id_token.acr has both value and values: use one"},
        /* Known members at the wrong level. */
        {"{\"email\":null}", "claims.email is at the top level: name claims inside userinfo or id_token"},
        {"{\"essential\":true}",
         "claims.essential is at the top level: name claims inside userinfo or id_token"},
        {"{\"userinfo\":{\"id_token\":{}}}",
         "claims.userinfo.id_token: a target inside a target; userinfo and id_token go at the top level"},
        {"{\"userinfo\":{\"essential\":true}}", "claims.userinfo.essential: essential, value and values go "
                                                "inside the request of one claim, not beside "
                                                "the claims"},
        {"{\"id_token\":{\"email\":{\"name\":null}}}",
         "claims.id_token.email.name: a claim request holds essential, value and values, not another claim"},
        {"{\"id_token\":{\"email\":{\"userinfo\":{}}}}",
         "claims.id_token.email.userinfo: a claim request holds essential, value and values, not a target"},
        /* A name shown in a message never brings a quote, a backslash or a control character along. */
        {"{\"id_token\":{\"a\\\"b\\\\c\\nd\":1}}", "claims.id_token.a?b?c?d must be null or a JSON object"},
    };
    bool ok = true;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct claims_request r;
        const char *why;
        int rc = parse(rows[i].text, &r, &why);
        if (rc != -1 || why == NULL || strcmp(why, rows[i].why) != 0) {
            fprintf(stderr, "  %s\n    got  %d %s\n    want %s\n", rows[i].text, rc, why ? why : "(none)",
                    rows[i].why);
            ok = false;
        }
    }
    ASSERT(ok);
}

TEST(claims_limits)
{
    struct claims_request r;
    const char *why;
    /* More claims than a target may name. */
    struct strbuf sb;
    strbuf_init(&sb, a, 16384);
    strbuf_adds(&sb, "{\"userinfo\":{");
    for (int i = 0; i <= CLAIMS_REQUEST_MAX_CLAIMS; i++)
        strbuf_addf(&sb, "%s\"c%d\":null", i > 0 ? "," : "", i);
    strbuf_adds(&sb, "}}");
    ASSERT_EQ(claims_request_parse(a, sb.buf, sb.len, &r, &why), -1);
    ASSERT_STREQ(why, "claims.userinfo names more than 64 claims");
    /* Too long a text. */
    char big[CLAIMS_REQUEST_MAX_BYTES + 2];
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    ASSERT_EQ(claims_request_parse(a, big, sizeof(big), &r, &why), -1);
    ASSERT_STREQ(why, "claims is too long (at most 8192 bytes)");
    ASSERT_EQ(claims_request_parse(a, big + 2, CLAIMS_REQUEST_MAX_BYTES - 2, &r, &why), -1); /* spaces only */
    big[CLAIMS_REQUEST_MAX_BYTES - 1] = '}';
    ASSERT_EQ(claims_request_parse(a, big, CLAIMS_REQUEST_MAX_BYTES, &r, &why), 0);
    /* Deep nesting where members are ignored: refused by the JSON parser's depth limit, not a crash. */
    strbuf_init(&sb, a, 16384);
    strbuf_adds(&sb, "{\"x\":");
    for (int i = 0; i < 3000; i++)
        strbuf_addc(&sb, '[');
    ASSERT_EQ(claims_request_parse(a, sb.buf, sb.len, &r, &why), -1);
    /* Not UTF-8, and a NUL inside a string. */
    ASSERT_EQ(claims_request_parse(a, "{\"userinfo\":{\"\xff\":null}}", 24, &r, &why), -1);
    ASSERT_EQ(parse("{\"userinfo\":{\"a\\u0000b\":null}}", &r, &why), -1);
    ASSERT_STREQ(why, "claims is not valid JSON (at character 23)");
}

TESTS(T(claims_both_targets), T(claims_unknown_members_ignored), T(claims_refusals), T(claims_limits))
