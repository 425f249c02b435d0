/* test_str.c: proves the encoders of src/core/str.c: base64url (RFC 4648 §5) and base64 round trips,
 * encoding into a caller's buffer, the alphabet check and rejection of bad input, UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF), constant-time equality, checked decimal conversion, and the capped strbuf. */
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"

#include <jansson.h>

#include "harness.h"

static struct arena *a;

__attribute__((constructor)) static void init(void)
{
    a = arena_new(4096);
}

static bool u8(const char *s)
{
    return utf8_valid(s, strlen(s));
}

static int i64(const char *s, int64_t *out)
{
    return str_to_i64(str_c(s), out);
}

TEST(b64url_round_trip_all_lengths)
{
    unsigned char in[64];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 250);
    for (size_t n = 0; n <= sizeof(in); n++) {
        char *e = b64url_encode(a, in, n);
        ASSERT(e != NULL);
        ASSERT_EQ(strlen(e), (n * 4 + 2) / 3); /* unpadded length */
        ASSERT(strchr(e, '=') == NULL && strchr(e, '+') == NULL && strchr(e, '/') == NULL);
        unsigned char *d;
        size_t dn;
        ASSERT_EQ(b64url_decode(a, e, strlen(e), &d, &dn), 0);
        ASSERT_EQ(dn, n);
        ASSERT(n == 0 || memcmp(d, in, n) == 0);
    }
}

/* b64url_put writes exactly b64url_len(n) characters into the caller's buffer, touches nothing after them
 * and adds no NUL; b64url_encode is the same text. */
TEST(b64url_put_into_buffer)
{
    unsigned char in[40];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 91 + 3);
    for (size_t n = 0; n <= sizeof(in); n++) {
        char buf[64];
        memset(buf, '#', sizeof(buf));
        size_t k = b64url_put(buf, in, n);
        ASSERT_EQ(k, b64url_len(n));
        ASSERT_EQ(k, (n * 4 + 2) / 3);
        ASSERT(buf[k] == '#');
        ASSERT(memcmp(buf, b64url_encode(a, in, n), k) == 0);
    }
    ASSERT_EQ(b64url_len(32), 43); /* a SHA-256 digest: the PKCE S256 challenge length */
}

TEST(b64url_span_alphabet)
{
    ASSERT_EQ(b64url_span("", 0), 0);
    ASSERT_EQ(b64url_span("AZaz09-_", 8), 8);
    ASSERT_EQ(b64url_span("ab.cd", 5), 2);
    ASSERT_EQ(b64url_span("ab+", 3), 2);  /* standard alphabet */
    ASSERT_EQ(b64url_span("ab/", 3), 2);
    ASSERT_EQ(b64url_span("ab=", 3), 2);  /* padding */
    ASSERT_EQ(b64url_span("a\0b", 3), 1);
    ASSERT_EQ(b64url_span("\xc3\xa9", 2), 0);
    ASSERT_EQ(b64url_span("abc", 2), 2); /* never past n */
}

TEST(hex_digit_values)
{
    const char *digits = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        ASSERT_EQ(hex_val(digits[i]), i);
        ASSERT_EQ(hex_val((char)(digits[i] >= 'a' ? digits[i] - 32 : digits[i])), i); /* upper case */
    }
    ASSERT_EQ(hex_val('g'), -1);
    ASSERT_EQ(hex_val('G'), -1);
    ASSERT_EQ(hex_val('/'), -1);
    ASSERT_EQ(hex_val(':'), -1);
    ASSERT_EQ(hex_val('@'), -1);
    ASSERT_EQ(hex_val('`'), -1);
    ASSERT_EQ(hex_val('\0'), -1);
    ASSERT_EQ(hex_val((char)0xc3), -1);
}

TEST(b64url_known_vectors)
{
    /* RFC 4648 §10 vectors, unpadded; 0xfb 0xff exercises '-' and '_'. */
    ASSERT_STREQ(b64url_encode(a, "", 0), "");
    ASSERT_STREQ(b64url_encode(a, "f", 1), "Zg");
    ASSERT_STREQ(b64url_encode(a, "fo", 2), "Zm8");
    ASSERT_STREQ(b64url_encode(a, "foo", 3), "Zm9v");
    ASSERT_STREQ(b64url_encode(a, "foobar", 6), "Zm9vYmFy");
    ASSERT_STREQ(b64url_encode(a, "\xfb\xff", 2), "-_8");
    ASSERT_STREQ(b64_encode(a, "\xfb\xff", 2), "+/8=");
    ASSERT_STREQ(b64_encode(a, "f", 1), "Zg==");
}

TEST(b64url_rejects_bad_chars)
{
    unsigned char *d;
    size_t dn;
    ASSERT_EQ(b64url_decode(a, "Zm9v", 4, &d, &dn), 0);
    ASSERT_EQ(b64url_decode(a, "+/8", 3, &d, &dn), -1);     /* standard alphabet */
    ASSERT_EQ(b64url_decode(a, "Zm 9v", 5, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zm9v\n", 5, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zm.v", 4, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zm\0v", 4, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zm9v\xc3\xa9", 6, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Z", 1, &d, &dn), -1);        /* impossible length */
    ASSERT_EQ(b64url_decode(a, "Zm9vY", 5, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zh", 2, &d, &dn), -1);       /* non-zero trailing bits */
}

TEST(b64url_padding)
{
    unsigned char *d;
    size_t dn;
    ASSERT_EQ(b64url_decode(a, "Zg==", 4, &d, &dn), 0);      /* exact padding tolerated */
    ASSERT_EQ(dn, 1);
    ASSERT_EQ(b64url_decode(a, "Zg=", 3, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zm9v=", 5, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Z===", 4, &d, &dn), -1);
    ASSERT_EQ(b64url_decode(a, "Zg=a", 4, &d, &dn), -1);
}

TEST(b64_standard)
{
    unsigned char *d;
    size_t dn;
    ASSERT_EQ(b64_decode(a, "+/8=", 4, &d, &dn), 0);
    ASSERT_EQ(dn, 2);
    ASSERT(d[0] == 0xfb && d[1] == 0xff);
    ASSERT_EQ(b64_decode(a, "-_8=", 4, &d, &dn), -1);        /* url alphabet */
    ASSERT_EQ(b64_decode(a, "Zg", 2, &d, &dn), -1);          /* padding required */
    ASSERT_EQ(b64_decode(a, "", 0, &d, &dn), 0);
    ASSERT_EQ(dn, 0);
}

TEST(hex)
{
    ASSERT_STREQ(hex_encode(a, "\x00\x01\xab\xff", 4), "0001abff");
    ASSERT_STREQ(hex_encode(a, "", 0), "");
}

TEST(utf8_ascii_and_valid)
{
    ASSERT(utf8_valid("", 0));
    ASSERT(u8("plain ascii ~"));
    ASSERT(u8("\xc2\x80"));                  /* U+0080, smallest 2-byte */
    ASSERT(u8("\xdf\xbf"));                  /* U+07FF */
    ASSERT(u8("\xe0\xa0\x80"));              /* U+0800, smallest 3-byte */
    ASSERT(u8("\xed\x9f\xbf"));              /* U+D7FF, just below the surrogates */
    ASSERT(u8("\xee\x80\x80"));              /* U+E000, just above */
    ASSERT(u8("\xef\xbf\xbf"));              /* U+FFFF */
    ASSERT(u8("\xf0\x90\x80\x80"));          /* U+10000 */
    ASSERT(u8("\xf4\x8f\xbf\xbf"));          /* U+10FFFF, the last code point */
    ASSERT(utf8_valid("a\0b", 3));           /* NUL is valid UTF-8; callers reject it separately */
}

TEST(utf8_overlong)
{
    ASSERT(!u8("\xc0\xaf"));                 /* '/' in 2 bytes */
    ASSERT(!u8("\xc1\xbf"));
    ASSERT(!utf8_valid("\xc0\x80", 2));      /* NUL in 2 bytes (modified UTF-8) */
    ASSERT(!u8("\xe0\x80\xaf"));             /* '/' in 3 bytes */
    ASSERT(!u8("\xe0\x9f\xbf"));             /* U+07FF in 3 bytes */
    ASSERT(!u8("\xf0\x80\x80\xaf"));         /* '/' in 4 bytes */
    ASSERT(!u8("\xf0\x8f\xbf\xbf"));         /* U+FFFF in 4 bytes */
}

TEST(utf8_surrogates)
{
    ASSERT(!u8("\xed\xa0\x80"));             /* U+D800 */
    ASSERT(!u8("\xed\xbf\xbf"));             /* U+DFFF */
    ASSERT(!u8("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
}

TEST(utf8_beyond_max)
{
    ASSERT(!u8("\xf4\x90\x80\x80"));         /* U+110000 */
    ASSERT(!u8("\xf5\x80\x80\x80"));
    ASSERT(!u8("\xf7\xbf\xbf\xbf"));
    ASSERT(!u8("\xf8\x88\x80\x80\x80"));     /* old 5-byte form */
    ASSERT(!u8("\xfc\x84\x80\x80\x80\x80")); /* old 6-byte form */
    ASSERT(!u8("\xfe"));
    ASSERT(!u8("\xff"));
}

TEST(utf8_truncated_and_stray)
{
    ASSERT(!u8("\xc3"));
    ASSERT(!u8("\xe2\x82"));
    ASSERT(!u8("\xf0\x9f\x98"));
    ASSERT(!u8("\x80"));                     /* lone continuation */
    ASSERT(!u8("a\xbf"));
    ASSERT(!u8("\xc3\x28"));                 /* bad continuation */
    ASSERT(!u8("\xe2\x28\xa1"));
    ASSERT(!u8("\xf0\x9f\x98\x28"));
    /* A valid sequence cut by the length, not by the string. */
    ASSERT(!utf8_valid("\xc3\xa9", 1));
}

TEST(ct_eq_cases)
{
    ASSERT(ct_eq("abc", 3, "abc", 3));
    ASSERT(!ct_eq("abc", 3, "abd", 3));
    ASSERT(!ct_eq("abc", 3, "abcd", 4));
    ASSERT(!ct_eq("abc", 3, "ab", 2));
    ASSERT(ct_eq("", 0, "", 0));
    ASSERT(!ct_eq(NULL, 0, "", 0));
    ASSERT(!ct_eq("", 0, NULL, 0));
    ASSERT(!ct_eq(NULL, 0, NULL, 0));
    ASSERT(ct_eq("a\0b", 3, "a\0b", 3));
    ASSERT(!ct_eq("a\0b", 3, "a\0c", 3));
}

TEST(str_to_i64_valid)
{
    int64_t v = -1;
    ASSERT_EQ(i64("0", &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(i64("600", &v), 0);
    ASSERT_EQ(v, 600);
    ASSERT_EQ(i64("007", &v), 0);
    ASSERT_EQ(v, 7);
    ASSERT_EQ(i64("922337203685477580", &v), 0);
    ASSERT_EQ(v, 922337203685477580LL);
}

TEST(str_to_i64_max)
{
    /* INT64_MAX itself is not an overflow (str.h: -1 only on junk, sign or overflow). */
    int64_t v = 0;
    ASSERT_EQ(i64("9223372036854775807", &v), 0);
    ASSERT(v == INT64_MAX);
}

TEST(str_to_i64_overflow)
{
    int64_t v = 42;
    ASSERT_EQ(i64("9223372036854775808", &v), -1);
    ASSERT_EQ(i64("18446744073709551616", &v), -1);
    ASSERT_EQ(i64("99999999999999999999999999", &v), -1);
    ASSERT_EQ(v, 42); /* untouched on failure */
}

TEST(str_to_i64_junk)
{
    int64_t v;
    ASSERT_EQ(i64("", &v), -1);
    ASSERT_EQ(str_to_i64(STR_NULL, &v), -1);
    ASSERT_EQ(i64("-1", &v), -1);
    ASSERT_EQ(i64("+1", &v), -1);
    ASSERT_EQ(i64(" 1", &v), -1);
    ASSERT_EQ(i64("1 ", &v), -1);
    ASSERT_EQ(i64("1a", &v), -1);
    ASSERT_EQ(i64("0x10", &v), -1);
    ASSERT_EQ(i64("1e3", &v), -1);
    ASSERT_EQ(i64("1.0", &v), -1);
    ASSERT_EQ(str_to_i64((struct str){"12\0" "3", 4}, &v), -1);
    /* Only the view is read: "12" of "123". */
    ASSERT_EQ(str_to_i64((struct str){"123", 2}, &v), 0);
    ASSERT_EQ(v, 12);
}

TEST(str_views)
{
    ASSERT(str_eq(STR_LIT("abc"), str_c("abc")));
    ASSERT(!str_eq(STR_LIT("abc"), STR_LIT("abd")));
    ASSERT(str_ieq_c(STR_LIT("BaSiC"), "basic"));
    ASSERT(!str_ieq_c(STR_NULL, ""));
    ASSERT(!str_eq_c(STR_NULL, "x"));
    ASSERT(str_has_prefix(STR_LIT("/token/introspection"), "/token"));
    ASSERT(!str_has_prefix(STR_LIT("/tok"), "/token"));
    ASSERT(str_dup(a, STR_NULL) == NULL);
    ASSERT_STREQ(str_dup(a, (struct str){"abcdef", 3}), "abc");
}

TEST(strbuf_cap)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 8);
    strbuf_adds(&sb, "12345");
    ASSERT(!sb.too_big);
    strbuf_adds(&sb, "6789");
    ASSERT(sb.too_big);
    ASSERT_STREQ(sb.buf, "12345");
    strbuf_adds(&sb, "x");
    ASSERT_STREQ(sb.buf, "12345"); /* ignored once too big */
    strbuf_init(&sb, a, 1 << 20);
    for (int i = 0; i < 1000; i++)
        strbuf_addf(&sb, "%04d", i);
    ASSERT_EQ(sb.len, 4000);
    ASSERT(!sb.too_big);
    ASSERT(memcmp(sb.buf + 3996, "0999", 4) == 0);
}

/* strbuf_str never hands out a cut value: NULL from the first write that did not fit, whatever follows. */
TEST(strbuf_str_refuses_truncated)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 16);
    strbuf_adds(&sb, "state=");
    ASSERT_STREQ(strbuf_str(&sb), "state=");
    strbuf_add_urlenc(&sb, "a b c d", 7); /* 13 bytes encoded: 19 > 16 */
    ASSERT(strbuf_str(&sb) == NULL);
    strbuf_adds(&sb, "x");
    ASSERT(strbuf_str(&sb) == NULL);
    strbuf_init(&sb, a, 16);
    strbuf_adds(&sb, "0123456789abcdef"); /* exactly the cap */
    ASSERT_STREQ(strbuf_str(&sb), "0123456789abcdef");
    strbuf_init(&sb, a, 16);
    ASSERT_STREQ(strbuf_str(&sb), "");
}

TEST(urlenc_and_html)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 1024);
    strbuf_add_urlenc(&sb, "a b+c/:é~", strlen("a b+c/:é~"));
    ASSERT_STREQ(sb.buf, "a%20b%2Bc%2F%3A%C3%A9~");
    ASSERT_EQ(str_urlenc_len("a b+c/:é~", strlen("a b+c/:é~")), sb.len);
    strbuf_init(&sb, a, 1024);
    strbuf_add_html(&sb, "<a href=\"x\">'&'</a>", 19);
    ASSERT_STREQ(sb.buf, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    ASSERT_EQ(str_html_len("<a href=\"x\">'&'</a>", 19), sb.len);
}

TEST(str_list_next_items)
{
    struct str it;
    const char *c = " RS256 ,\tES256,, EdDSA";
    ASSERT(str_list_next(&c, " \t", &it));
    ASSERT(str_eq_c(it, "RS256"));
    ASSERT(str_list_next(&c, " \t", &it));
    ASSERT(str_eq_c(it, "ES256"));
    ASSERT(str_list_next(&c, " \t", &it));
    ASSERT_EQ(it.len, 0); /* the empty middle item comes back, for the caller to refuse */
    ASSERT(str_list_next(&c, " \t", &it));
    ASSERT(str_eq_c(it, "EdDSA"));
    ASSERT(c == NULL);
    ASSERT(!str_list_next(&c, " \t", &it));
    /* Only the given blanks are dropped; "" is one empty item; a trailing comma gives an empty last one. */
    c = "a,\tb";
    ASSERT(str_list_next(&c, " ", &it));
    ASSERT(str_eq_c(it, "a"));
    ASSERT(str_list_next(&c, " ", &it));
    ASSERT(str_eq_c(it, "\tb"));
    c = "";
    ASSERT(str_list_next(&c, " ", &it));
    ASSERT_EQ(it.len, 0);
    ASSERT(!str_list_next(&c, " ", &it));
    c = "x,";
    ASSERT(str_list_next(&c, " ", &it));
    ASSERT(str_list_next(&c, " ", &it));
    ASSERT_EQ(it.len, 0);
    ASSERT(!str_list_next(&c, " ", &it));
}

/* strbuf_add_json writes what jansson's compact output writes for the same string (JWT payloads are built
 * with it instead of a jansson object), and refuses text that is not UTF-8. */
TEST(strbuf_json_like_jansson)
{
    static const char *cases[] = {"", "plain", "a\"b", "back\\slash", "tab\there", "nl\n cr\r bs\b ff\f",
                                  "\x01\x1f\x7f", "/slash/", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                  "http://127.0.0.1:4310", "api:read openid", "\xc3\xa9\"x\\", "x\xc3\xa9y\n",
                                  "~ !#$%&'()*+,-.:;<=>?@[]^_`{|}"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct strbuf sb;
        strbuf_init(&sb, a, 1024);
        strbuf_add_json(&sb, cases[i]);
        json_t *j = json_string(cases[i]);
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        ASSERT(want != NULL);
        ASSERT_STREQ(strbuf_str(&sb), want);
        free(want);
        json_decref(j);
    }
    struct strbuf sb;
    strbuf_init(&sb, a, 1024);
    strbuf_add_json(&sb, "bad \xc3 utf-8");
    ASSERT(strbuf_str(&sb) == NULL);
    /* Refused wherever the bad byte is: first, after an escape, after valid non-ASCII text, last. */
    static const char *bad[] = {"\xff", "\x80" "abc", "q\"\xc3", "\xc3\xa9\xc3", "tab\t\xed\xa0\x80", "abc\xf5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strbuf_init(&sb, a, 1024);
        strbuf_adds(&sb, "{");
        strbuf_add_json(&sb, bad[i]);
        ASSERT(strbuf_str(&sb) == NULL);
    }
    static const int64_t nums[] = {0, 7, -7, 1700000000, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        strbuf_init(&sb, a, 64);
        strbuf_add_i64(&sb, nums[i]);
        char want[32];
        snprintf(want, sizeof(want), "%lld", (long long)nums[i]);
        ASSERT_STREQ(strbuf_str(&sb), want);
    }
}

/* strbuf_add_json_member: ,"k":"v" after the object's first member, nothing for an absent or empty value. */
TEST(strbuf_json_member)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 1024);
    strbuf_adds(&sb, "{\"a\":1");
    strbuf_add_json_member(&sb, "scope", "openid email");
    strbuf_add_json_member(&sb, "nonce", NULL);
    strbuf_add_json_member(&sb, "sid", "");
    strbuf_add_json_member(&sb, "name", "Zo\xc3\xab \"Q\"");
    strbuf_addc(&sb, '}');
    ASSERT_STREQ(strbuf_str(&sb), "{\"a\":1,\"scope\":\"openid email\",\"name\":\"Zo\xc3\xab \\\"Q\\\"\"}");
    strbuf_init(&sb, a, 1024);
    strbuf_add_json_member(&sb, "k", "bad \xc3 utf-8");
    ASSERT(strbuf_str(&sb) == NULL);
}

TESTS(T(b64url_round_trip_all_lengths), T(b64url_put_into_buffer), T(b64url_span_alphabet),
      T(hex_digit_values), T(b64url_known_vectors), T(b64url_rejects_bad_chars), T(b64url_padding), T(b64_standard), T(hex),
      T(utf8_ascii_and_valid), T(utf8_overlong), T(utf8_surrogates), T(utf8_beyond_max),
      T(utf8_truncated_and_stray), T(ct_eq_cases), T(str_to_i64_valid), T(str_to_i64_max),
      T(str_to_i64_overflow), T(str_to_i64_junk), T(str_views), T(strbuf_cap),
      T(strbuf_str_refuses_truncated), T(urlenc_and_html), T(str_list_next_items), T(strbuf_json_like_jansson),
      T(strbuf_json_member))
