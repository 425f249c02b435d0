/* log.c: JSON-lines logger (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>
#include "core/banned.h"

enum log_level log_min_level = LOG_INFO;
static int log_fd = 2;

/* Per-thread buffer for request logs: a worker serving 100k requests/s must not pay one write(2) per
 * request. Lines of level warn and above flush it at once; otherwise it is flushed when full and by the
 * worker's tick (every 100 ms), so at most that much of info/debug output is delayed. */
static __thread struct {
    bool on;
    size_t len;
    char buf[32768];
} tlog;

void log_thread_buffered(bool on)
{
    if (!on)
        log_flush();
    tlog.on = on;
}

void log_flush(void)
{
    size_t off = 0;
    while (off < tlog.len) {
        ssize_t w = write(log_fd, tlog.buf + off, tlog.len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    tlog.len = 0;
}

void log_init(enum log_level min, int fd)
{
    log_min_level = min;
    log_fd = fd;
}

int log_level_parse(const char *s, enum log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (n > sizeof(l->buf) - 8 - l->len)
        n = sizeof(l->buf) - 8 - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void put_json_str(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(l, "\"", 1);
    if (s == NULL)
        s = "";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            put(l, e, 2);
        } else if (*p < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15]};
            put(l, e, 6);
        } else {
            put(l, (const char *)p, 1);
        }
    }
    put(l, "\"", 1);
}

void log_event(enum log_level level, const char *event, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    struct line l;
    l.len = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* The date and time down to the second are formatted once per second per thread: a worker logs
     * one line per request, and snprintf of the whole timestamp was a measurable share of a request. */
    static __thread time_t cached_sec = -1;
    static __thread char cached[32];
    static __thread size_t cached_len;
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int k = snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_len = k > 0 ? (size_t)k : 0;
        cached_sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    char msbuf[5] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z'};
    put(&l, "{\"ts\":\"", 7);
    put(&l, cached, cached_len);
    put(&l, msbuf, 5);
    put(&l, "\",\"level\":\"", 11);
    put(&l, names[level & 3], strlen(names[level & 3]));
    put(&l, "\",\"event\":", 10);
    put_json_str(&l, event);
    va_list ap;
    va_start(ap, event);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL)
            break;
        int type = va_arg(ap, int);
        put(&l, ",", 1);
        put_json_str(&l, key);
        put(&l, ":", 1);
        if (type == LOG_T_INT) {
            char num[24];
            long long v = va_arg(ap, long long);
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            size_t k = sizeof(num);
            do {
                num[--k] = (char)('0' + u % 10);
                u /= 10;
            } while (u > 0);
            if (v < 0)
                num[--k] = '-';
            put(&l, num + k, sizeof(num) - k);
        } else {
            const char *v = va_arg(ap, const char *);
            if (v == NULL)
                put(&l, "null", 4);
            else
                put_json_str(&l, v);
        }
    }
    va_end(ap);
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    if (tlog.on && level < LOG_WARN) {
        if (tlog.len + l.len > sizeof(tlog.buf))
            log_flush();
        memcpy(tlog.buf + tlog.len, l.buf, l.len);
        tlog.len += l.len;
        return;
    }
    if (tlog.len > 0)
        log_flush(); /* keep this thread's lines in order */
    ssize_t w = write(log_fd, l.buf, l.len);
    (void)w;
}

void log_fp(const void *secret, size_t n, char out[9])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(secret, n, d);
    for (int i = 0; i < 4; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[8] = '\0';
}
