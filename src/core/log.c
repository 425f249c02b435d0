/* log.c: JSON-lines logger (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/str.h"
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

/* One line. A line that would not fit is cut explicitly, never mid-value: the string value that reaches
 * the limit is shortened at a character boundary (never inside an escape or a UTF-8 sequence), the fields
 * after it are dropped, and the line ends with "truncated":true, so it stays valid JSON. Request input
 * (a path can be 16 KiB) must not make a log line unparseable. */
#define LINE_MAX 4096
#define LINE_TAIL 24 /* kept free for ,"truncated":true}\n */
struct line {
    char buf[LINE_MAX];
    size_t len;
    bool cut;
};

/* Appends n bytes if they fit before the tail; false (nothing written) if not. */
static bool put(struct line *l, const char *s, size_t n)
{
    if (n > LINE_MAX - LINE_TAIL - l->len)
        return false;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* Appends s as a JSON string. When it does not fit whole: with may_cut, as much of it as fits (at least
 * the quotes) and l->cut is set; without, nothing. Returns false when nothing was written. */
static bool put_json_str(struct line *l, const char *s, bool may_cut)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = l->len;
    if (!put(l, "\"", 1))
        return false;
    if (s == NULL)
        s = "";
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        /* The common case, a run of printable ASCII without quote or backslash, is copied in one piece. */
        size_t run = 0;
        while (p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > 0) {
            if (run + 1 > LINE_MAX - LINE_TAIL - l->len) {
                if (!may_cut) {
                    l->len = start;
                    return false;
                }
                size_t room = LINE_MAX - LINE_TAIL - l->len;
                run = room > 0 ? room - 1 : 0; /* keep room for the closing quote */
                l->cut = true;
            }
            memcpy(l->buf + l->len, p, run);
            l->len += run;
            p += run;
            if (l->cut)
                break;
            continue;
        }
        char e[6];
        size_t k = 0;
        if (*p == '"' || *p == '\\') {
            e[0] = '\\';
            e[1] = (char)*p;
            k = 2;
        } else if (*p < 0x20) {
            memcpy(e, "\\u00", 4);
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
            k = 6;
        } else {
            /* A UTF-8 sequence goes whole or not at all (the lead byte and its continuation bytes). */
            e[k++] = (char)*p;
            while (*p >= 0xc0 && k < 4 && (p[k] & 0xc0) == 0x80) {
                e[k] = (char)p[k];
                k++;
            }
        }
        /* Room for this unit and the closing quote. */
        if (k + 1 > LINE_MAX - LINE_TAIL - l->len) {
            if (!may_cut) {
                l->len = start;
                return false;
            }
            l->cut = true;
            break;
        }
        memcpy(l->buf + l->len, e, k);
        l->len += k;
        p += *p < 0x20 || *p == '"' || *p == '\\' ? 1 : k;
    }
    if (!put(l, "\"", 1)) {
        l->len = start;
        return false;
    }
    return true;
}

void log_event(enum log_level level, const char *event, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    struct line l;
    l.len = 0;
    l.cut = false;
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
    put_json_str(&l, event, true);
    va_list ap;
    va_start(ap, event);
    while (!l.cut) {
        const char *key = va_arg(ap, const char *);
        if (key == NULL)
            break;
        int type = va_arg(ap, int);
        /* A field is written whole, or (its string value shortened) up to the limit, or not at all. */
        size_t mark = l.len;
        bool ok = put(&l, ",", 1) && put_json_str(&l, key, false) && put(&l, ":", 1);
        if (ok && type == LOG_T_INT) {
            char num[STR_DEC_MAX];
            const char *d = str_dec_i64(num, (int64_t)va_arg(ap, long long));
            ok = put(&l, d, (size_t)(num + STR_DEC_MAX - d));
        } else if (ok) {
            const char *v = va_arg(ap, const char *);
            ok = v == NULL ? put(&l, "null", 4) : put_json_str(&l, v, true);
        }
        if (!ok) {
            l.len = mark;
            l.cut = true;
        }
    }
    va_end(ap);
    /* The tail was kept free for this. */
    if (l.cut) {
        memcpy(l.buf + l.len, ",\"truncated\":true", 17);
        l.len += 17;
    }
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
