/* test_refresh.c: proves the refresh-token rotation rules of src/oauth/grant_refresh.c (RFC 9700
 * §4.14.2): the retry window's age rule, clock steps included, and the verdict on each state a
 * presented refresh token can be in. The store side is in tests/store/test_contract.c, the flows in
 * tests/integration/refresh_retry.test.mjs. */
#include <string.h>

#include "oauth/grants.h"
#include "store/store.h"

#include "harness.h"

#define NOW 1700000000

TEST(refresh_grace_window)
{
    /* Grace 0: no retry, not even in the same second. */
    ASSERT(!refresh_within_grace(0, NOW, NOW));
    ASSERT(refresh_within_grace(10, NOW, NOW));
    ASSERT(refresh_within_grace(10, NOW - 10, NOW));
    ASSERT(!refresh_within_grace(10, NOW - 11, NOW));
    /* The clock stepped back after the token was used: a negative age is no proof of "just now". */
    ASSERT(!refresh_within_grace(10, NOW + 1, NOW));
    ASSERT(!refresh_within_grace(10, NOW + 3600, NOW));
    ASSERT(!refresh_within_grace(300, NOW + 1, NOW));
}

static struct store_token row(int64_t consumed_at, int64_t revoked_at)
{
    struct store_token t = {.kind = STORE_TOKEN_REFRESH, .iat = NOW - 100, .exp = NOW + 1000};
    t.consumed_at = consumed_at;
    t.revoked_at = revoked_at;
    return t;
}

static void link(struct store_token *t, int64_t retried_at)
{
    t->has_successor = true;
    memset(t->successor, 0x5a, sizeof(t->successor));
    t->retried_at = retried_at;
}

TEST(refresh_verdicts)
{
    struct store_token fresh = row(0, 0);
    ASSERT_EQ(refresh_classify(&fresh, NULL, 10, NOW), REFRESH_ROTATE);
    struct store_token expired = row(0, 0);
    expired.exp = NOW;
    ASSERT_EQ(refresh_classify(&expired, NULL, 10, NOW), REFRESH_INVALID);
    struct store_token code = row(0, 0);
    code.kind = STORE_TOKEN_CODE;
    ASSERT_EQ(refresh_classify(&code, NULL, 10, NOW), REFRESH_INVALID);
    /* Revoked with its family (used or not): just invalid. */
    struct store_token revoked = row(0, NOW - 5);
    ASSERT_EQ(refresh_classify(&revoked, NULL, 10, NOW), REFRESH_INVALID);
    struct store_token used_revoked = row(NOW - 5, NOW - 1);
    link(&used_revoked, 0);
    ASSERT_EQ(refresh_classify(&used_revoked, NULL, 10, NOW), REFRESH_INVALID);
    /* Superseded by a retry before any use: whoever has it got the "lost" response. */
    struct store_token superseded = row(0, NOW - 1);
    link(&superseded, 0);
    ASSERT_EQ(refresh_classify(&superseded, NULL, 10, NOW), REFRESH_REUSE);

    /* Used 2 s ago, its successor never used: one retry with grace 10, reuse with grace 0. */
    struct store_token used = row(NOW - 2, 0);
    link(&used, 0);
    struct store_token next = row(0, 0);
    ASSERT_EQ(refresh_classify(&used, &next, 10, NOW), REFRESH_RETRY);
    ASSERT_EQ(refresh_classify(&used, &next, 0, NOW), REFRESH_REUSE);
    /* Outside the window, or with the clock stepped back before the use. */
    ASSERT_EQ(refresh_classify(&used, &next, 1, NOW), REFRESH_REUSE);
    struct store_token future = row(NOW + 5, 0);
    link(&future, 0);
    ASSERT_EQ(refresh_classify(&future, &next, 10, NOW), REFRESH_REUSE);
    /* The successor was used, or is gone, or revoked: reuse. */
    struct store_token next_used = row(NOW - 1, 0);
    ASSERT_EQ(refresh_classify(&used, &next_used, 10, NOW), REFRESH_REUSE);
    struct store_token next_revoked = row(0, NOW - 1);
    ASSERT_EQ(refresh_classify(&used, &next_revoked, 10, NOW), REFRESH_REUSE);
    ASSERT_EQ(refresh_classify(&used, NULL, 10, NOW), REFRESH_REUSE);
    /* One retry only: the third presentation is reuse even with a fresh successor. */
    struct store_token retried = row(NOW - 2, 0);
    link(&retried, NOW - 1);
    ASSERT_EQ(refresh_classify(&retried, &next, 10, NOW), REFRESH_REUSE);
    /* A used token that never recorded a successor (written by an earlier version): reuse. */
    struct store_token unlinked = row(NOW - 2, 0);
    ASSERT_EQ(refresh_classify(&unlinked, &next, 10, NOW), REFRESH_REUSE);
}

TESTS(T(refresh_grace_window), T(refresh_verdicts))
