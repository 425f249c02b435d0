/* test_scope.c: proves src/oauth/scope.c: RFC 6749 §3.3 scope parsing (space-delimited scope-tokens of
 * NQCHAR, duplicates dropped, order kept, SCOPE_MAX cap), membership, subset, intersection and join. */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "oauth/scope.h"

#include "harness.h"

static struct arena *a;

static int parse(const char *s, struct scope_set *out)
{
    return scope_parse(a, s, strlen(s), out);
}

TEST(parse_simple)
{
    struct scope_set s;
    ASSERT_EQ(parse("read write", &s), 0);
    ASSERT_EQ(s.n, 2);
    ASSERT_STREQ(s.v[0], "read");
    ASSERT_STREQ(s.v[1], "write");
}

TEST(parse_realistic_tokens)
{
    struct scope_set s;
    ASSERT_EQ(parse("messaging.contacts/:userId.post openid https://api.example.com/x!", &s), 0);
    ASSERT_EQ(s.n, 3);
    ASSERT_STREQ(s.v[0], "messaging.contacts/:userId.post");
    ASSERT_STREQ(s.v[2], "https://api.example.com/x!");
}

TEST(parse_extra_spaces)
{
    struct scope_set s;
    ASSERT_EQ(parse("  a   b  ", &s), 0);
    ASSERT_EQ(s.n, 2);
    ASSERT_STREQ(s.v[0], "a");
    ASSERT_STREQ(s.v[1], "b");
}

TEST(parse_empty)
{
    struct scope_set s;
    ASSERT_EQ(parse("", &s), 0);
    ASSERT_EQ(s.n, 0);
    ASSERT_EQ(parse("    ", &s), 0);
    ASSERT_EQ(s.n, 0);
    ASSERT_STREQ(scope_join(a, &s), "");
}

TEST(parse_duplicates_dropped_order_kept)
{
    struct scope_set s;
    ASSERT_EQ(parse("b a b c a", &s), 0);
    ASSERT_EQ(s.n, 3);
    ASSERT_STREQ(s.v[0], "b");
    ASSERT_STREQ(s.v[1], "a");
    ASSERT_STREQ(s.v[2], "c");
}

TEST(parse_rejects_non_nqchar)
{
    struct scope_set s;
    ASSERT_EQ(parse("a\"b", &s), -1);      /* %x22 */
    ASSERT_EQ(parse("a\\b", &s), -1);      /* %x5C */
    ASSERT_EQ(parse("a\tb", &s), -1);      /* tab is not a separator */
    ASSERT_EQ(parse("a\nb", &s), -1);
    ASSERT_EQ(parse("ok \x7f", &s), -1);
    ASSERT_EQ(parse("caf\xc3\xa9", &s), -1); /* non-ASCII */
    static const char nul[] = "a\0b";
    ASSERT_EQ(scope_parse(a, nul, sizeof(nul) - 1, &s), -1);
}

TEST(parse_max)
{
    char buf[1024];
    size_t n = 0;
    for (int i = 0; i < SCOPE_MAX; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "s%d ", i);
    struct scope_set s;
    ASSERT_EQ(scope_parse(a, buf, n, &s), 0);
    ASSERT_EQ(s.n, SCOPE_MAX);
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "one_more");
    ASSERT_EQ(scope_parse(a, buf, n, &s), -1);
    /* Duplicates do not count towards the cap. */
    n = 0;
    for (int i = 0; i < SCOPE_MAX * 2; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "d%d ", i % 4);
    ASSERT_EQ(scope_parse(a, buf, n, &s), 0);
    ASSERT_EQ(s.n, 4);
}

TEST(token_valid)
{
    ASSERT(scope_token_valid("read", 4));
    ASSERT(scope_token_valid("!#[]~", 5));
    ASSERT(!scope_token_valid("", 0));
    ASSERT(!scope_token_valid("a b", 3));
    ASSERT(!scope_token_valid("\"", 1));
    ASSERT(!scope_token_valid("\\", 1));
}

TEST(has_subset_intersect)
{
    struct scope_set all, some, other, none;
    ASSERT_EQ(parse("read write admin", &all), 0);
    ASSERT_EQ(parse("write read", &some), 0);
    ASSERT_EQ(parse("write delete", &other), 0);
    ASSERT_EQ(parse("", &none), 0);
    ASSERT(scope_has(&all, "admin"));
    ASSERT(!scope_has(&all, "adm"));
    ASSERT(!scope_has(&all, "admins"));
    ASSERT(scope_subset(&some, &all));
    ASSERT(!scope_subset(&all, &some));
    ASSERT(!scope_subset(&other, &all));
    ASSERT(scope_subset(&none, &all));
    ASSERT(scope_subset(&none, &none));
    struct scope_set x = scope_intersect(a, &all, &other);
    ASSERT_EQ(x.n, 1);
    ASSERT_STREQ(x.v[0], "write");
    x = scope_intersect(a, &other, &none);
    ASSERT_EQ(x.n, 0);
    x = scope_intersect(a, &some, &all);
    ASSERT_STREQ(scope_join(a, &x), "write read");
}

TEST(join_round_trip)
{
    struct scope_set s, t;
    ASSERT_EQ(parse(" x  y z y ", &s), 0);
    char *j = scope_join(a, &s);
    ASSERT_STREQ(j, "x y z");
    ASSERT_EQ(parse(j, &t), 0);
    ASSERT_EQ(t.n, 3);
    ASSERT(scope_subset(&s, &t) && scope_subset(&t, &s));
}

static void setup(void)
{
    a = arena_new(4096);
}

/* The harness's main() runs every test; the arena is shared and never reset between tests (each test
 * uses only what it allocated). */
__attribute__((constructor)) static void init(void)
{
    setup();
}

TESTS(T(parse_simple), T(parse_realistic_tokens), T(parse_extra_spaces), T(parse_empty),
      T(parse_duplicates_dropped_order_kept), T(parse_rejects_non_nqchar), T(parse_max), T(token_valid),
      T(has_subset_intersect), T(join_round_trip))
