/* test_form.c: proves src/http/form.c: application/x-www-form-urlencoded decoding (HTML form encoding,
 * RFC 6749 Appendix B), its rejections (bad escapes, invalid UTF-8, NUL), the parameter cap, and
 * form_get's RFC 6749 §3.1 rules (repeats are an error, empty values count as absent). */
#include <stdbool.h>
#include <string.h>

#include "core/arena.h"
#include "http/http.h"

#include "harness.h"

static struct arena *A(void)
{
    static struct arena *a;
    if (a == NULL)
        a = arena_new(4096);
    arena_reset(a);
    return a;
}

/* Parses a NUL-terminated literal with the default cap of 64 parameters. */
static int parse(const char *s, struct form *f)
{
    return form_parse(A(), s, strlen(s), 64, f);
}

static int decode(const char *s, bool plus, struct str *out)
{
    return url_decode(A(), s, strlen(s), plus, out);
}

TEST(simple_pairs)
{
    struct form f;
    ASSERT_EQ(parse("grant_type=client_credentials&scope=read", &f), FORM_OK);
    ASSERT_EQ(f.n, 2);
    ASSERT_STREQ(f.params[0].name.p, "grant_type");
    ASSERT_STREQ(f.params[0].value.p, "client_credentials");
    ASSERT_EQ(f.params[0].value.len, strlen("client_credentials"));
    ASSERT_STREQ(f.params[1].name.p, "scope");
    ASSERT_STREQ(f.params[1].value.p, "read");
}

TEST(empty_input)
{
    struct form f;
    ASSERT_EQ(form_parse(A(), "", 0, 64, &f), FORM_OK);
    ASSERT_EQ(f.n, 0);
    ASSERT_EQ(form_parse(A(), NULL, 0, 64, &f), FORM_OK);
    ASSERT_EQ(f.n, 0);
    struct str v;
    ASSERT_EQ(form_get(&f, "grant_type", &v), 1);
    ASSERT(v.p == NULL);
}

TEST(plus_is_space)
{
    struct form f;
    ASSERT_EQ(parse("scope=read+write++x&a+b=c", &f), FORM_OK);
    ASSERT_STREQ(f.params[0].value.p, "read write  x");
    ASSERT_STREQ(f.params[1].name.p, "a b");
}

TEST(percent_2b_is_plus)
{
    struct form f;
    ASSERT_EQ(parse("secret=p%2Bq%2bz&x=%20", &f), FORM_OK);
    ASSERT_STREQ(f.params[0].value.p, "p+q+z");
    ASSERT_STREQ(f.params[1].value.p, " ");
}

TEST(escapes_decode)
{
    struct form f;
    ASSERT_EQ(parse("resource=urn%3Afocus%3Aapi&u=https%3A%2F%2Fa.example%2Fp%3Fq%3D1%26r%3D2", &f), FORM_OK);
    ASSERT_STREQ(f.params[0].value.p, "urn:focus:api");
    ASSERT_STREQ(f.params[1].value.p, "https://a.example/p?q=1&r=2");
    /* An encoded '&' or '=' is data, not a separator. */
    ASSERT_EQ(parse("a=%26b%3Dc", &f), FORM_OK);
    ASSERT_EQ(f.n, 1);
    ASSERT_STREQ(f.params[0].value.p, "&b=c");
}

TEST(double_encoding_decoded_once)
{
    struct str s;
    ASSERT_EQ(decode("%252F", true, &s), FORM_OK);
    ASSERT_STREQ(s.p, "%2F");
}

TEST(bad_escapes_rejected)
{
    struct form f;
    ASSERT_EQ(parse("a=%zz", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("a=%4", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("a=%", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("a=%4g", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("a=%g4", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("%zz=1", &f), FORM_ERR_ENCODING);
    /* A truncated escape followed by another pair must not swallow the separator. */
    ASSERT_EQ(parse("a=%4&b=1", &f), FORM_ERR_ENCODING);
    ASSERT_EQ(parse("a=b%2", &f), FORM_ERR_ENCODING);
}

TEST(invalid_utf8_rejected)
{
    struct form f;
    ASSERT_EQ(parse("a=%C3%28", &f), FORM_ERR_UTF8);
    ASSERT_EQ(parse("a=%C0%AF", &f), FORM_ERR_UTF8);          /* overlong '/' */
    ASSERT_EQ(parse("a=%ED%A0%80", &f), FORM_ERR_UTF8);       /* surrogate */
    ASSERT_EQ(parse("a=%F4%90%80%80", &f), FORM_ERR_UTF8);    /* above U+10FFFF */
    ASSERT_EQ(parse("a=%FF", &f), FORM_ERR_UTF8);
    ASSERT_EQ(parse("a=%C3", &f), FORM_ERR_UTF8);             /* truncated sequence */
    ASSERT_EQ(parse("%C3%28=x", &f), FORM_ERR_UTF8);          /* in a name too */
    ASSERT_EQ(parse("a=\xc3\x28", &f), FORM_ERR_UTF8);        /* raw, unencoded */
}

TEST(valid_utf8_accepted)
{
    struct form f;
    ASSERT_EQ(parse("n=%C3%A9t%C3%A9&e=%F0%9F%98%80&r=\xc3\xa9", &f), FORM_OK);
    ASSERT_STREQ(f.params[0].value.p, "\xc3\xa9t\xc3\xa9");
    ASSERT_STREQ(f.params[1].value.p, "\xf0\x9f\x98\x80");
    ASSERT_STREQ(f.params[2].value.p, "\xc3\xa9");
}

TEST(nul_rejected)
{
    struct form f;
    ASSERT_EQ(parse("a=%00", &f), FORM_ERR_NUL);
    ASSERT_EQ(parse("a=x%00y", &f), FORM_ERR_NUL);
    ASSERT_EQ(parse("%00=1", &f), FORM_ERR_NUL);
    /* A raw NUL byte inside the body (the length, not strlen, is the end). */
    static const char raw[] = "a=b\0c&d=e";
    ASSERT_EQ(form_parse(A(), raw, sizeof(raw) - 1, 64, &f), FORM_ERR_NUL);
}

TEST(repeated_parameter)
{
    struct form f;
    struct str v;
    ASSERT_EQ(parse("grant_type=a&scope=x&grant_type=b", &f), FORM_OK);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(form_get(&f, "grant_type", &v), -1);
    ASSERT_EQ(form_get(&f, "scope", &v), 0);
    ASSERT_STREQ(v.p, "x");
    /* Same value twice is still a repeat. */
    ASSERT_EQ(parse("a=1&a=1", &f), FORM_OK);
    ASSERT_EQ(form_get(&f, "a", &v), -1);
}

TEST(empty_values_are_absent)
{
    struct form f;
    struct str v;
    ASSERT_EQ(parse("scope=&resource&grant_type=x", &f), FORM_OK);
    ASSERT_EQ(f.n, 3);
    ASSERT_STREQ(f.params[1].name.p, "resource");
    ASSERT_STREQ(f.params[1].value.p, "");
    ASSERT_EQ(form_get(&f, "scope", &v), 1);
    ASSERT(v.p == NULL);
    ASSERT_EQ(form_get(&f, "resource", &v), 1);
    ASSERT_EQ(form_get(&f, "missing", &v), 1);
    /* An empty value next to a real one is not a repeat. */
    ASSERT_EQ(parse("scope=&scope=read&scope=", &f), FORM_OK);
    ASSERT_EQ(form_get(&f, "scope", &v), 0);
    ASSERT_STREQ(v.p, "read");
}

TEST(names_match_exactly)
{
    struct form f;
    struct str v;
    ASSERT_EQ(parse("Scope=a&scopes=b&scop=c", &f), FORM_OK);
    ASSERT_EQ(form_get(&f, "scope", &v), 1);
    ASSERT_EQ(form_get(&f, "Scope", &v), 0);
    ASSERT_STREQ(v.p, "a");
}

TEST(empty_pairs_skipped)
{
    struct form f;
    ASSERT_EQ(parse("&&a=1&&&b=2&&", &f), FORM_OK);
    ASSERT_EQ(f.n, 2);
    ASSERT_STREQ(f.params[0].name.p, "a");
    ASSERT_STREQ(f.params[1].name.p, "b");
    ASSERT_EQ(parse("&", &f), FORM_OK);
    ASSERT_EQ(f.n, 0);
}

TEST(empty_name_and_extra_equals)
{
    struct form f;
    ASSERT_EQ(parse("=v&k==x=", &f), FORM_OK);
    ASSERT_EQ(f.n, 2);
    ASSERT_STREQ(f.params[0].name.p, "");
    ASSERT_STREQ(f.params[0].value.p, "v");
    ASSERT_STREQ(f.params[1].name.p, "k");
    ASSERT_STREQ(f.params[1].value.p, "=x=");
}

TEST(too_many_params)
{
    struct form f;
    ASSERT_EQ(form_parse(A(), "a=1&b=2&c=3", 11, 3, &f), FORM_OK);
    ASSERT_EQ(f.n, 3);
    ASSERT_EQ(form_parse(A(), "a=1&b=2&c=3&d=4", 15, 3, &f), FORM_ERR_TOO_MANY);
    /* Empty pairs do not count towards the cap. */
    ASSERT_EQ(form_parse(A(), "a=1&&&b=2&&c=3&", 15, 3, &f), FORM_OK);
    ASSERT_EQ(f.n, 3);
    /* 100 parameters against the default cap. */
    char big[1024];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "p%d=%d&", i, i);
    ASSERT_EQ(form_parse(A(), big, n, 64, &f), FORM_ERR_TOO_MANY);
}

TEST(length_not_strlen)
{
    /* Only the first n bytes are parsed: "a=12" of "a=123". */
    struct form f;
    ASSERT_EQ(form_parse(A(), "a=123", 4, 64, &f), FORM_OK);
    ASSERT_EQ(f.n, 1);
    ASSERT_STREQ(f.params[0].value.p, "12");
}

TEST(url_decode_plus_modes)
{
    struct str s;
    ASSERT_EQ(decode("a+b%20c", true, &s), FORM_OK);
    ASSERT_STREQ(s.p, "a b c");
    ASSERT_EQ(s.len, 5);
    ASSERT_EQ(decode("a+b%20c", false, &s), FORM_OK);
    ASSERT_STREQ(s.p, "a+b c");
    ASSERT_EQ(decode("", true, &s), FORM_OK);
    ASSERT_EQ(s.len, 0);
    ASSERT_STREQ(s.p, "");
    ASSERT_EQ(decode("%zz", false, &s), FORM_ERR_ENCODING);
    ASSERT_EQ(decode("%00", false, &s), FORM_ERR_NUL);
    ASSERT_EQ(decode("%C3%28", false, &s), FORM_ERR_UTF8);
}

TESTS(T(simple_pairs), T(empty_input), T(plus_is_space), T(percent_2b_is_plus), T(escapes_decode),
      T(double_encoding_decoded_once), T(bad_escapes_rejected), T(invalid_utf8_rejected), T(valid_utf8_accepted),
      T(nul_rejected), T(repeated_parameter), T(empty_values_are_absent), T(names_match_exactly),
      T(empty_pairs_skipped), T(empty_name_and_extra_equals), T(too_many_params), T(length_not_strlen),
      T(url_decode_plus_modes))
