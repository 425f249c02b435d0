/* test_device_pace.c: proves the polling pace of src/oauth/device_state.c (RFC 8628 §3.5): a poll sooner
 * than the code's interval (less 10 %) is slow_down and adds 5 s to that code's interval for good; codes
 * keep their own pace; an expired code's entry is free again; a full neighbourhood drops the code polled
 * longest ago (whose next poll then counts as a first); the interval stops growing at an hour. */
#include <string.h>

#include "oauth/device.h"

#include "harness.h"

#define NOW 1800000000
#define MS(s) ((int64_t)(s) * 1000)

static void key_of(int first, int second, uint8_t k[STORE_HASH_LEN])
{
    memset(k, 0, STORE_HASH_LEN);
    k[0] = (uint8_t)first; /* the first 8 bytes pick the slot */
    k[9] = (uint8_t)second;
}

TEST(pace_slow_down_grows_the_interval)
{
    struct device_pace *p = device_pace_new();
    uint8_t k[STORE_HASH_LEN];
    key_of(1, 0, k);
    int64_t t = MS(NOW);
    ASSERT(device_pace_poll(p, k, t, 5, NOW + 600, NOW));
    ASSERT(device_pace_poll(p, k, t += 4500, 5, NOW + 600, NOW)); /* 90 % of 5 s: keeps the pace */
    ASSERT(!device_pace_poll(p, k, t += 4499, 5, NOW + 600, NOW)); /* sooner: slow_down, 10 s now */
    ASSERT(!device_pace_poll(p, k, t += 5000, 5, NOW + 600, NOW)); /* 15 s now */
    ASSERT(!device_pace_poll(p, k, t += 13000, 5, NOW + 600, NOW)); /* 20 s now */
    ASSERT(device_pace_poll(p, k, t += 18000, 5, NOW + 600, NOW));
    ASSERT(device_pace_poll(p, k, t += 18000, 5, NOW + 600, NOW)); /* the interval stays where it got */
    ASSERT(!device_pace_poll(p, k, t += 17000, 5, NOW + 600, NOW));
    /* Another code is on its own pace. */
    uint8_t other[STORE_HASH_LEN];
    key_of(2, 0, other);
    ASSERT(device_pace_poll(p, other, t, 5, NOW + 600, NOW));
    ASSERT(device_pace_poll(p, other, t + 5000, 5, NOW + 600, NOW));
    device_pace_free(p);
}

TEST(pace_expired_entries_are_free)
{
    struct device_pace *p = device_pace_new();
    uint8_t k[STORE_HASH_LEN];
    key_of(3, 0, k);
    ASSERT(device_pace_poll(p, k, MS(NOW), 5, NOW + 10, NOW));
    ASSERT(!device_pace_poll(p, k, MS(NOW) + 100, 5, NOW + 10, NOW));
    /* After its expiry the entry counts for nothing (the row is expired too: expired_token answers). */
    ASSERT(device_pace_poll(p, k, MS(NOW) + 200, 5, NOW + 10, NOW + 11));
    device_pace_free(p);
}

TEST(pace_full_neighbourhood_drops_the_oldest)
{
    struct device_pace *p = device_pace_new();
    uint8_t k[STORE_HASH_LEN];
    int64_t t = MS(NOW);
    /* Nine codes on the same slot: eight fit its neighbourhood. */
    for (int i = 0; i < 9; i++) {
        key_of(7, i + 1, k);
        ASSERT(device_pace_poll(p, k, t + i, 5, NOW + 600, NOW));
    }
    /* The first one polled was dropped for the ninth: its next poll counts as a first. */
    key_of(7, 1, k);
    ASSERT(device_pace_poll(p, k, t + 100, 5, NOW + 600, NOW));
    /* Re-entering it dropped the second; the ninth is still remembered. */
    key_of(7, 9, k);
    ASSERT(!device_pace_poll(p, k, t + 200, 5, NOW + 600, NOW));
    device_pace_free(p);
}

TEST(pace_interval_is_capped)
{
    struct device_pace *p = device_pace_new();
    uint8_t k[STORE_HASH_LEN];
    key_of(9, 0, k);
    int64_t t = MS(NOW);
    ASSERT(device_pace_poll(p, k, t, 5, NOW + 1800, NOW));
    for (int i = 0; i < 2000; i++)
        ASSERT(!device_pace_poll(p, k, ++t, 5, NOW + 1800, NOW)); /* would be 10,000 s without the cap */
    ASSERT(device_pace_poll(p, k, t + MS(3600 + 5), 5, NOW + 1800, NOW));
    device_pace_free(p);
}

TESTS(T(pace_slow_down_grows_the_interval), T(pace_expired_entries_are_free), T(pace_full_neighbourhood_drops_the_oldest),
      T(pace_interval_is_capped))
