/* test_device.c: proves the device cookies of src/session/session.c (OWASP's device-cookie model; the
 * limiter side is in test_users.c): the key derivation, the name that hides the username, a value that
 * verifies only for its username, key and lifetime, and the refusal of every altered or odd spelling. */
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "session/session.h"

#include "harness.h"

#define NOW 1700000000

static struct str s(const char *v)
{
    return (struct str){v, strlen(v)};
}

TEST(device_key_derivation)
{
    uint8_t k1[DEVICE_KEY_LEN], k2[DEVICE_KEY_LEN], k3[DEVICE_KEY_LEN];
    device_cookie_key("a key secret of at least 32 characters", k1);
    device_cookie_key("a key secret of at least 32 characters", k2);
    device_cookie_key("another key secret, 32 characters+", k3);
    ASSERT(memcmp(k1, k2, DEVICE_KEY_LEN) == 0);
    ASSERT(memcmp(k1, k3, DEVICE_KEY_LEN) != 0);
}

TEST(device_cookie_name_hides_the_username)
{
    uint8_t k[DEVICE_KEY_LEN], other[DEVICE_KEY_LEN];
    device_cookie_key("secret one, long enough for the rules", k);
    device_cookie_key("secret two, long enough for the rules", other);
    struct arena *a = arena_new(4096);
    const char *n1 = device_cookie_name(a, k, "alice");
    ASSERT(strncmp(n1, DEVICE_COOKIE_PREFIX, strlen(DEVICE_COOKIE_PREFIX)) == 0);
    ASSERT_EQ(strlen(n1), strlen(DEVICE_COOKIE_PREFIX) + 16);
    ASSERT(strstr(n1, "alice") == NULL);
    for (const char *p = n1; *p; p++) /* an RFC 6265 token */
        ASSERT((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
               *p == '_');
    ASSERT_STREQ(device_cookie_name(a, k, "alice"), n1);
    ASSERT(strcmp(device_cookie_name(a, k, "alicE"), n1) != 0);
    ASSERT(strcmp(device_cookie_name(a, other, "alice"), n1) != 0);
    arena_free(a);
}

TEST(device_cookie_verifies_for_its_user_only)
{
    uint8_t k[DEVICE_KEY_LEN], other[DEVICE_KEY_LEN];
    device_cookie_key("secret one, long enough for the rules", k);
    device_cookie_key("secret two, long enough for the rules", other);
    struct arena *a = arena_new(8192);
    const char *v = device_cookie_value(a, k, "alice", NOW, "AAECAwQFBgcICQoLDA0ODw");
    ASSERT_STREQ(device_cookie_verify(a, k, "alice", s(v), NOW), "AAECAwQFBgcICQoLDA0ODw");
    ASSERT_STREQ(device_cookie_verify(a, k, "alice", s(v), NOW + DEVICE_COOKIE_TTL), "AAECAwQFBgcICQoLDA0ODw");
    /* Another user, another key, past its lifetime, too far in the future. */
    ASSERT(device_cookie_verify(a, k, "bob", s(v), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice ", s(v), NOW) == NULL);
    ASSERT(device_cookie_verify(a, other, "alice", s(v), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(v), NOW + DEVICE_COOKIE_TTL + 1) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(v), NOW - 301) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(v), NOW - 300) != NULL);
    /* Every altered spelling: a changed MAC, iat or id; leading zeros; extra or missing parts. */
    char *t = arena_strdup(a, v);
    t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
    ASSERT(device_cookie_verify(a, k, "alice", s(t), NOW) == NULL);
    const char *mac = strrchr(v, '.') + 1;
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "%d.AAECAwQFBgcICQoLDA0ODw.%s", NOW + 1, mac)),
                                NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "%d.AAECAwQFBgcICQoLDA0ODx.%s", NOW, mac)),
                                NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "0%s", v)), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "+%s", v)), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "%s.", v)), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "%s.x", v)), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(mac), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(""), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(".."), NOW) == NULL);
    ASSERT(device_cookie_verify(a, k, "alice", s(arena_printf(a, "%d..%s", NOW, mac)), NOW) == NULL);
    /* The value given with its length: a longer buffer is not read past it. */
    struct str cut = {v, strlen(v) - 1};
    ASSERT(device_cookie_verify(a, k, "alice", cut, NOW) == NULL);
    arena_free(a);
}

TESTS(T(device_key_derivation), T(device_cookie_name_hides_the_username), T(device_cookie_verifies_for_its_user_only))
