/* test_user_code.c: proves src/oauth/user_code.c: what the verification page accepts as a user code (RFC
 * 8628 §6.1: case-insensitive, dashes and spaces ignored, exactly eight letters of the alphabet), the
 * shown form, that generated codes are valid and spread over the alphabet, and that the lookup key
 * depends on the code and on the server's key. */
#include <string.h>

#include "oauth/user_code.h"

#include "harness.h"

static int parse(const char *s, char out[USER_CODE_LEN + 1])
{
    return user_code_parse(s, strlen(s), out);
}

TEST(user_code_accepts_typed_forms)
{
    static const char *const forms[] = {
        "BCDF-GHJK", "BCDFGHJK", "bcdf-ghjk", "bcdfghjk", "BcDf-gHjK", " BCDF GHJK ", "B-C-D-F-G-H-J-K",
        "bcdf--ghjk", "  bcdf - ghjk", "BCDF-GHJK-", "-BCDFGHJK",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        char out[USER_CODE_LEN + 1];
        ASSERT_EQ(parse(forms[i], out), 0);
        ASSERT_STREQ(out, "BCDFGHJK");
    }
    char out[USER_CODE_LEN + 1];
    ASSERT_EQ(parse("ZXWV-TSRQ", out), 0);
    ASSERT_STREQ(out, "ZXWVTSRQ");
}

TEST(user_code_refuses_everything_else)
{
    static const char *const bad[] = {
        "",           "--------",    "BCDF-GHJ",   "BCDF-GHJKL", "BCDF-GHJA", /* a vowel */
        "BCDF-GHJY",  "BCDF-GHJ0",   "BCDF_GHJK",  "BCDF.GHJK",  "BCDF\tGHJK", "BCDF\nGHJK",
        "BCDF-GHJ\xc3\x9f", /* a non-ASCII letter */
        "BCDF-GHJK+",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[USER_CODE_LEN + 1] = "XXXXXXXX";
        ASSERT_EQ(parse(bad[i], out), -1);
        ASSERT_STREQ(out, "");
    }
    /* A NUL inside the input is a character like any other: refused, not an end. */
    char out[USER_CODE_LEN + 1];
    ASSERT_EQ(user_code_parse("BCDF\0GHJK", 9, out), -1);
    ASSERT_EQ(user_code_parse(NULL, 0, out), -1);
    /* More than USER_CODE_INPUT_MAX bytes is refused unread, even if only separators surround the code. */
    char longin[USER_CODE_INPUT_MAX + 2];
    memset(longin, ' ', sizeof(longin));
    memcpy(longin, "BCDFGHJK", 8);
    ASSERT_EQ(user_code_parse(longin, USER_CODE_INPUT_MAX, out), 0);
    ASSERT_EQ(user_code_parse(longin, USER_CODE_INPUT_MAX + 1, out), -1);
}

TEST(user_code_format_and_round_trip)
{
    char shown[USER_CODE_SHOWN_LEN + 1];
    user_code_format("MMQHNCTW", shown);
    ASSERT_STREQ(shown, "MMQH-NCTW");
    char back[USER_CODE_LEN + 1];
    ASSERT_EQ(parse(shown, back), 0);
    ASSERT_STREQ(back, "MMQHNCTW");
}

TEST(user_code_generate_is_valid_and_spread)
{
    int seen[26] = {0};
    for (int i = 0; i < 2000; i++) {
        char code[USER_CODE_LEN + 1];
        user_code_generate(code);
        ASSERT_EQ(strlen(code), USER_CODE_LEN);
        char again[USER_CODE_LEN + 1];
        ASSERT_EQ(parse(code, again), 0);
        ASSERT_STREQ(again, code);
        for (int k = 0; k < USER_CODE_LEN; k++)
            seen[code[k] - 'A']++;
    }
    /* 16,000 letters over 20: each expected 800 times; a letter never or rarely drawn means a bias. */
    for (const char *p = USER_CODE_ALPHABET; *p; p++)
        ASSERT(seen[*p - 'A'] > 600 && seen[*p - 'A'] < 1000);
    ASSERT_EQ(seen['A' - 'A'] + seen['E' - 'A'] + seen['I' - 'A'] + seen['O' - 'A'] + seen['U' - 'A'] +
                  seen['Y' - 'A'],
              0);
}

TEST(user_code_lookup_key_is_keyed)
{
    uint8_t k1[USER_CODE_KEY_LEN], k2[USER_CODE_KEY_LEN];
    user_code_key("a key secret of at least thirty-two characters", k1);
    user_code_key("another key secret of at least thirty-two chars", k2);
    ASSERT(memcmp(k1, k2, sizeof(k1)) != 0);
    uint8_t a[32], b[32], c[32], d[32];
    user_code_lookup_key(k1, "BCDFGHJK", a);
    user_code_lookup_key(k1, "BCDFGHJK", b);
    user_code_lookup_key(k1, "BCDFGHJL", c);
    user_code_lookup_key(k2, "BCDFGHJK", d);
    ASSERT(memcmp(a, b, 32) == 0);
    ASSERT(memcmp(a, c, 32) != 0);
    ASSERT(memcmp(a, d, 32) != 0);
}

TESTS(T(user_code_accepts_typed_forms), T(user_code_refuses_everything_else), T(user_code_format_and_round_trip),
      T(user_code_generate_is_valid_and_spread), T(user_code_lookup_key_is_keyed))
