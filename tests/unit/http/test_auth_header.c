/* test_auth_header.c: proves src/http/auth_header.c: HTTP Basic with RFC 6749 §2.3.1 form-encoded client
 * credentials (RFC 7617), Bearer tokens (RFC 6750 §2.1: b64token), and the malformed cases that must
 * be rejected rather than half-parsed. */
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
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

static int parse(const char *v, struct auth_header *ah)
{
    return auth_header_parse(A(), v, strlen(v), ah);
}

/* "Basic " + base64(raw[0..n)) in a static buffer. */
static const char *basic_n(const char *raw, size_t n)
{
    static char buf[512];
    static struct arena *enc;
    if (enc == NULL)
        enc = arena_new(1024);
    arena_reset(enc);
    snprintf(buf, sizeof(buf), "Basic %s", b64_encode(enc, raw, n));
    return buf;
}

static const char *basic(const char *raw)
{
    return basic_n(raw, strlen(raw));
}

TEST(basic_plain)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Basic Y2xpZW50OnNlY3JldA==", &ah), 0); /* client:secret */
    ASSERT_EQ(ah.scheme, AUTH_BASIC);
    ASSERT_STREQ(ah.user.p, "client");
    ASSERT_EQ(ah.user.len, 6);
    ASSERT_STREQ(ah.pass.p, "secret");
    ASSERT_EQ(ah.pass.len, 6);
}

TEST(basic_form_encoded_credentials)
{
    /* RFC 6749 §2.3.1: id and secret are form-encoded before base64, so ':' and '@' arrive escaped. */
    struct auth_header ah;
    ASSERT_EQ(parse(basic("my%3Aid:p%40ss"), &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_BASIC);
    ASSERT_STREQ(ah.user.p, "my:id");
    ASSERT_STREQ(ah.pass.p, "p@ss");
    ASSERT_EQ(parse(basic("a+b:c%2Bd+e"), &ah), 0);
    ASSERT_STREQ(ah.user.p, "a b");
    ASSERT_STREQ(ah.pass.p, "c+d e");
}

TEST(basic_splits_at_first_colon)
{
    struct auth_header ah;
    ASSERT_EQ(parse(basic("id:pa:ss"), &ah), 0);
    ASSERT_STREQ(ah.user.p, "id");
    ASSERT_STREQ(ah.pass.p, "pa:ss");
}

TEST(basic_scheme_case_insensitive)
{
    struct auth_header ah;
    ASSERT_EQ(parse("basic YTpi", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_BASIC);
    ASSERT_STREQ(ah.user.p, "a");
    ASSERT_EQ(parse("BASIC YTpi", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_BASIC);
}

TEST(basic_empty_parts)
{
    struct auth_header ah;
    ASSERT_EQ(parse(basic(":secret"), &ah), 0);
    ASSERT_EQ(ah.user.len, 0);
    ASSERT_STREQ(ah.pass.p, "secret");
    ASSERT_EQ(parse(basic("user:"), &ah), 0);
    ASSERT_STREQ(ah.user.p, "user");
    ASSERT_EQ(ah.pass.len, 0);
}

TEST(basic_no_colon)
{
    struct auth_header ah;
    ASSERT_EQ(parse(basic("nocolon"), &ah), -1);
    ASSERT_EQ(parse(basic(""), &ah), -1);
}

TEST(basic_bad_base64)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Basic !!!notbase64!!!", &ah), -1);
    ASSERT_EQ(parse("Basic YT_-Yg", &ah), -1);     /* base64url alphabet */
    ASSERT_EQ(parse("Basic YTpiYw", &ah), -1);     /* missing padding */
    ASSERT_EQ(parse("Basic YTpi=", &ah), -1);      /* wrong padding */
    ASSERT_EQ(parse("Basic YTpiYx==", &ah), -1);   /* non-canonical trailing bits */
    ASSERT_EQ(parse("Basic YTpi YTpi", &ah), -1);  /* embedded space */
    ASSERT_EQ(parse("Basic ", &ah), -1);
    ASSERT_EQ(parse("Basic", &ah), -1);
}

TEST(basic_bad_form_encoding)
{
    struct auth_header ah;
    ASSERT_EQ(parse(basic("a%zz:b"), &ah), -1);
    ASSERT_EQ(parse(basic("a:b%4"), &ah), -1);
    ASSERT_EQ(parse(basic("a%00:b"), &ah), -1);
    ASSERT_EQ(parse(basic("a%C3%28:b"), &ah), -1);
    ASSERT_EQ(parse(basic_n("a\0:b", 4), &ah), -1);      /* raw NUL in the user */
    ASSERT_EQ(parse(basic_n("a:b\xff", 4), &ah), -1);    /* raw invalid UTF-8 */
}

TEST(basic_trailing_whitespace)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Basic   YTpi  ", &ah), 0);
    ASSERT_STREQ(ah.user.p, "a");
    ASSERT_STREQ(ah.pass.p, "b");
}

TEST(bearer)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Bearer mF_9.B5f-4.1JqM", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_BEARER);
    ASSERT_STREQ(ah.token.p, "mF_9.B5f-4.1JqM");
    ASSERT_EQ(ah.token.len, 15);
    ASSERT_EQ(parse("bearer abc~+/==", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_BEARER);
    ASSERT_STREQ(ah.token.p, "abc~+/==");
}

TEST(bearer_empty)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Bearer ", &ah), -1);
    ASSERT_EQ(parse("Bearer", &ah), -1);
    ASSERT_EQ(parse("Bearer    ", &ah), -1);
}

TEST(bearer_bad_chars)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Bearer abc def", &ah), -1);
    ASSERT_EQ(parse("Bearer \"abc\"", &ah), -1);
    ASSERT_EQ(parse("Bearer a,b", &ah), -1);
    ASSERT_EQ(parse("Bearer \xc3\xa9", &ah), -1);
    static const char nul[] = "Bearer a\0b";
    ASSERT_EQ(auth_header_parse(A(), nul, sizeof(nul) - 1, &ah), -1);
}

TEST(bearer_equals_only_at_end)
{
    /* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
    struct auth_header ah;
    ASSERT_EQ(parse("Bearer a=b", &ah), -1);
    ASSERT_EQ(parse("Bearer =abc", &ah), -1);
}

TEST(unknown_scheme)
{
    struct auth_header ah;
    ASSERT_EQ(parse("Digest username=\"a\", realm=\"b\"", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_OTHER);
    ASSERT_EQ(parse("Basicx YTpi", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_OTHER);
}

TEST(dpop_scheme)
{
    /* RFC 9449 §7.1: the DPoP scheme carries the token in the token68 syntax of Bearer. */
    struct auth_header ah;
    ASSERT_EQ(parse("DPoP eyJ.e30.sig", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_DPOP);
    ASSERT_STREQ(ah.token.p, "eyJ.e30.sig");
    ASSERT_EQ(parse("dpop Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU", &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_DPOP);
    ASSERT_EQ(parse("DPoP ", &ah), -1);
    ASSERT_EQ(parse("DPoP a b", &ah), -1);
}

TEST(empty_header)
{
    struct auth_header ah;
    ASSERT_EQ(auth_header_parse(A(), "", 0, &ah), 0);
    ASSERT_EQ(ah.scheme, AUTH_NONE);
}

TESTS(T(basic_plain), T(basic_form_encoded_credentials), T(basic_splits_at_first_colon),
      T(basic_scheme_case_insensitive), T(basic_empty_parts), T(basic_no_colon), T(basic_bad_base64),
      T(basic_bad_form_encoding), T(basic_trailing_whitespace), T(bearer), T(bearer_empty), T(bearer_bad_chars),
      T(bearer_equals_only_at_end), T(unknown_scheme), T(dpop_scheme), T(empty_header))
