/* harness.h: the tiny unit-test harness. A test file defines TEST(name) functions and lists them in
 * TESTS(...); main() runs them all (or the one named in argv[1]) and prints "N passed, N failed".
 * ASSERT_* stop the current test on failure and print file:line and the failing expression. A file may
 * define HARNESS_SETUP() and HARNESS_TEARDOWN() before including this header: main() runs them once,
 * before the first test and after the last. */
#ifndef OSTIARY_TEST_HARNESS_H
#define OSTIARY_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failed_now;

#ifndef HARNESS_SETUP
#define HARNESS_SETUP() ((void)0)
#endif
#ifndef HARNESS_TEARDOWN
#define HARNESS_TEARDOWN() ((void)0)
#endif

#define TEST(name) static void test_##name(void)
#define ASSERT(cond)                                                                                         \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "  %s:%d: ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);                     \
            harness_failed_now = 1;                                                                          \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)
#define ASSERT_EQ(a, b)                                                                                      \
    do {                                                                                                     \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                                \
        if (va_ != vb_) {                                                                                    \
            fprintf(stderr, "  %s:%d: ASSERT_EQ(%s, %s): %lld != %lld\n", __FILE__, __LINE__, #a, #b, va_,   \
                    vb_);                                                                                    \
            harness_failed_now = 1;                                                                          \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)
#define ASSERT_STREQ(a, b)                                                                                   \
    do {                                                                                                     \
        const char *sa_ = (a), *sb_ = (b);                                                                   \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                           \
            fprintf(stderr, "  %s:%d: ASSERT_STREQ(%s, %s): \"%s\" != \"%s\"\n", __FILE__, __LINE__, #a, #b, \
                    sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                                             \
            harness_failed_now = 1;                                                                          \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)

struct harness_test {
    const char *name;
    void (*fn)(void);
};
#define T(name) {#name, test_##name}
#define TESTS(...)                                                                                           \
    int main(int argc, char **argv)                                                                          \
    {                                                                                                        \
        static const struct harness_test tests_[] = {__VA_ARGS__};                                           \
        int passed = 0, failed = 0;                                                                          \
        HARNESS_SETUP();                                                                                     \
        for (size_t i = 0; i < sizeof(tests_) / sizeof(tests_[0]); i++) {                                    \
            if (argc > 1 && strcmp(argv[1], tests_[i].name) != 0)                                            \
                continue;                                                                                    \
            harness_failed_now = 0;                                                                          \
            tests_[i].fn();                                                                                  \
            printf("%s %s\n", harness_failed_now ? "FAIL" : "ok  ", tests_[i].name);                         \
            if (harness_failed_now)                                                                          \
                failed++;                                                                                    \
            else                                                                                             \
                passed++;                                                                                    \
        }                                                                                                    \
        HARNESS_TEARDOWN();                                                                                  \
        printf("%d passed, %d failed\n", passed, failed);                                                    \
        return failed == 0 && passed > 0 ? 0 : 1;                                                           \
    }

#endif
