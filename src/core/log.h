/* log.h: JSON-lines logging. One event per line: {"ts":...,"level":...,"event":...,key:value...}.
 * Values are typed (string or integer) and JSON-escaped here; callers never format JSON. The level is
 * checked before any formatting. Never pass a secret (token, code, client secret, password, cookie,
 * Authorization header, request body, private key).
 * Thread-safe; each line is written with a single write(2). */
#ifndef OSTIARY_LOG_H
#define OSTIARY_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };
enum log_type { LOG_T_STR = 1, LOG_T_INT = 2 };

extern enum log_level log_min_level;

void log_init(enum log_level min, int fd);
int log_level_parse(const char *s, enum log_level *out);
/* Pairs of (key, type, value), closed by a NULL key. Use the LS/LI helpers. */
void log_event(enum log_level level, const char *event, ...);

#define LS(k, v) (k), LOG_T_STR, (const char *)(v)
#define LI(k, v) (k), LOG_T_INT, (long long)(v)
#define LOG_AT(level, ...)                                                                                        \
    do {                                                                                                       \
        if ((level) >= log_min_level)                                                                          \
            log_event((level), __VA_ARGS__);                                                                   \
    } while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

/* Buffers this thread's info/debug lines (worker threads); log_flush() writes them out. */
void log_thread_buffered(bool on);
void log_flush(void);

#endif
