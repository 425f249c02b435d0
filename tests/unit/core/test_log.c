/* test_log.c: proves src/core/log.c: every line is one valid JSON object, also when a value (request
 * input: a path can be 16 KiB) does not fit the line: the value is shortened at a character boundary, the
 * fields after it are dropped, and the line says "truncated":true. */
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"

#include "harness.h"

static int fds[2] = {-1, -1};

/* Logs through a pipe and parses the one line written. The caller json_decref()s the result. */
static json_t *one_line(void)
{
    static char buf[8192];
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    if (n <= 0 || buf[n - 1] != '\n')
        return NULL;
    buf[n] = '\0';
    if (memchr(buf, '\n', (size_t)n - 1) != NULL)
        return NULL; /* more than one line */
    json_error_t e;
    json_t *j = json_loads(buf, 0, &e);
    if (j == NULL)
        fprintf(stderr, "  not JSON (%s): %.200s...\n", e.text, buf);
    return j;
}

static void setup(void)
{
    if (fds[0] < 0 && pipe(fds) == 0)
        log_init(LOG_DEBUG, fds[1]);
}

TEST(plain_line)
{
    setup();
    log_info("request", LS("path", "/token"), LI("status", 200), LS("error", NULL), NULL);
    json_t *j = one_line();
    ASSERT(j != NULL);
    ASSERT_STREQ(json_string_value(json_object_get(j, "event")), "request");
    ASSERT_STREQ(json_string_value(json_object_get(j, "path")), "/token");
    ASSERT_EQ(json_integer_value(json_object_get(j, "status")), 200);
    ASSERT(json_is_null(json_object_get(j, "error")));
    ASSERT(json_object_get(j, "truncated") == NULL);
    json_decref(j);
}

/* A value longer than the line, made of quotes, control characters and multi-byte UTF-8 so that a cut can
 * land inside an escape or a sequence: the line still parses, the value is a prefix of the original. */
TEST(long_values_are_cut_not_broken)
{
    setup();
    static char big[20000];
    static const char *const units[] = {"a", "\"", "\\", "\x01", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    for (size_t shift = 0; shift < 7; shift++) {
        size_t n = 0;
        for (size_t i = 0; n + 4 < sizeof(big) - 1; i++) {
            const char *u = units[(i + shift) % 7];
            memcpy(big + n, u, strlen(u));
            n += strlen(u);
        }
        big[n] = '\0';
        log_info("request", LS("rid", "0123"), LS("path", big), LI("status", 404), LS("after", "dropped"), NULL);
        json_t *j = one_line();
        ASSERT(j != NULL);
        ASSERT(json_is_true(json_object_get(j, "truncated")));
        const char *path = json_string_value(json_object_get(j, "path"));
        ASSERT(path != NULL);
        ASSERT(strlen(path) > 1000);
        ASSERT(strncmp(path, big, strlen(path)) == 0);
        ASSERT(json_object_get(j, "status") == NULL);
        ASSERT(json_object_get(j, "after") == NULL);
        ASSERT_STREQ(json_string_value(json_object_get(j, "rid")), "0123");
        json_decref(j);
    }
}

/* Many fields that each fit but not all together: the line ends at a field boundary. */
TEST(many_fields)
{
    setup();
    static char v[1500];
    memset(v, 'x', sizeof(v) - 1);
    log_warn("e", LS("a", v), LS("b", v), LS("c", v), LI("d", 1), NULL);
    json_t *j = one_line();
    ASSERT(j != NULL);
    ASSERT(json_is_true(json_object_get(j, "truncated")));
    ASSERT_EQ(strlen(json_string_value(json_object_get(j, "a"))), sizeof(v) - 1);
    ASSERT_EQ(strlen(json_string_value(json_object_get(j, "b"))), sizeof(v) - 1);
    ASSERT(json_object_get(j, "d") == NULL);
    json_decref(j);
}

/* Plain ASCII is copied in runs: a long value is cut exactly at the limit, whatever the offset it starts
 * at, and the line still parses. */
TEST(long_ascii_cut_at_every_offset)
{
    setup();
    static char big[6000], pad[40];
    memset(big, 'p', sizeof(big) - 1);
    for (size_t k = 0; k < sizeof(pad) - 1; k++) {
        memset(pad, 'r', k);
        pad[k] = '\0';
        log_info("request", LS("rid", pad), LS("path", big), LI("status", 404), NULL);
        json_t *j = one_line();
        ASSERT(j != NULL);
        ASSERT(json_is_true(json_object_get(j, "truncated")));
        const char *path = json_string_value(json_object_get(j, "path"));
        ASSERT(path != NULL && strlen(path) > 3000 && strncmp(path, big, strlen(path)) == 0);
        json_decref(j);
    }
}

TESTS(T(plain_line), T(long_values_are_cut_not_broken), T(many_fields), T(long_ascii_cut_at_every_offset))
