/* test_rand.c: proves src/core/rand.c's per-thread pool: every draw is new (no two of many small draws
 * equal, across refills of the pool and from several threads at once), sizes above the pool's share come
 * straight from the generator, and a forked child never repeats the bytes its parent draws next; and
 * rand_id_ordered's ids: 16 bytes base64url, the clock's milliseconds first, then random bits. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"

#include "harness.h"

#define DRAWS 4096

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

/* n draws of 16 bytes: none all zero (the pool wipes what it hands out) and no two equal. */
static int all_distinct(unsigned char (*v)[16], size_t n)
{
    static const unsigned char zero[16];
    for (size_t i = 0; i < n; i++)
        if (memcmp(v[i], zero, 16) == 0)
            return 0;
    qsort(v, n, 16, cmp16);
    for (size_t i = 1; i < n; i++)
        if (memcmp(v[i - 1], v[i], 16) == 0)
            return 0;
    return 1;
}

TEST(small_draws_are_distinct_across_refills)
{
    static unsigned char v[DRAWS][16]; /* 64 KiB: many refills of the pool */
    for (size_t i = 0; i < DRAWS; i++) {
        unsigned char odd[3];
        rand_bytes(v[i], 16);
        rand_bytes(odd, i % 3 + 1); /* uneven sizes: the pool's end is reached at every offset */
    }
    ASSERT(all_distinct(v, DRAWS));
}

TEST(large_draws)
{
    unsigned char a[4096], b[4096];
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    rand_bytes(a, sizeof(a));
    rand_bytes(b, sizeof(b));
    ASSERT(memcmp(a, b, sizeof(a)) != 0);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof(a); i++)
        zeros += a[i] == 0;
    ASSERT(zeros < 64); /* ~16 expected of 4096 random bytes */
}

#define THREADS 4
static unsigned char per_thread[THREADS * DRAWS / 4][16];

static void *drawer(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    for (size_t i = 0; i < DRAWS / 4; i++)
        rand_bytes(per_thread[t * (DRAWS / 4) + i], 16);
    return NULL;
}

TEST(threads_draw_distinct_values)
{
    pthread_t th[THREADS];
    for (size_t t = 0; t < THREADS; t++)
        ASSERT_EQ(pthread_create(&th[t], NULL, drawer, (void *)(uintptr_t)t), 0);
    for (size_t t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    ASSERT(all_distinct(per_thread, THREADS * DRAWS / 4));
}

TEST(a_forked_child_does_not_repeat_the_parent)
{
    unsigned char warm[8];
    rand_bytes(warm, sizeof(warm)); /* the pool holds unused bytes when the process forks */
    int fd[2];
    ASSERT_EQ(pipe(fd), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        unsigned char c[32];
        rand_bytes(c, sizeof(c));
        ssize_t w = write(fd[1], c, sizeof(c));
        _exit(w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    close(fd[1]);
    unsigned char parent[32], child[32];
    rand_bytes(parent, sizeof(parent));
    ASSERT_EQ(read(fd[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fd[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT(memcmp(parent, child, sizeof(parent)) != 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

TEST(ordered_ids_carry_the_time_then_randomness)
{
    struct arena *a = arena_new(4096);
    uint64_t before = now_ms();
    char *ids[64];
    for (size_t i = 0; i < 64; i++)
        ids[i] = rand_id_ordered(a);
    uint64_t after = now_ms();
    for (size_t i = 0; i < 64; i++) {
        ASSERT_EQ(strlen(ids[i]), 22); /* as rand_token(a, 16) */
        unsigned char *raw = NULL;
        size_t n = 0;
        ASSERT_EQ(b64url_decode(a, ids[i], strlen(ids[i]), &raw, &n), 0);
        ASSERT_EQ(n, 16);
        uint64_t ms = 0;
        for (int k = 0; k < 6; k++)
            ms = ms << 8 | raw[k];
        ASSERT(ms >= before && ms <= after);
        for (size_t j = 0; j < i; j++)
            ASSERT(strcmp(ids[i], ids[j]) != 0); /* the 80 random bits tell ids of one millisecond apart */
    }
    arena_free(a);
}

TESTS(T(small_draws_are_distinct_across_refills), T(large_draws), T(threads_draw_distinct_values),
      T(a_forked_child_does_not_repeat_the_parent), T(ordered_ids_carry_the_time_then_randomness))
