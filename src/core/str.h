/* str.h: borrowed string views (struct str), a capped growable buffer (struct strbuf), and the small
 * encoders every layer needs: base64url (RFC 4648 §5), standard base64, hex, UTF-8 validation, and
 * constant-time comparison. Views never own memory; strbuf memory comes from an arena. */
#ifndef OSTIARY_STR_H
#define OSTIARY_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

struct str {
    const char *p;
    size_t len;
};

#define STR_NULL ((struct str){NULL, 0})
#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})
static inline struct str str_c(const char *s);
bool str_eq(struct str a, struct str b);
bool str_eq_c(struct str a, const char *c);
bool str_ieq_c(struct str a, const char *c); /* ASCII case-insensitive */
bool str_has_prefix(struct str s, const char *prefix);
char *str_dup(struct arena *a, struct str s); /* NUL-terminated copy; NULL view gives NULL */
bool str_is_null(struct str s);

#include <string.h>
static inline struct str str_c(const char *s)
{
    return s == NULL ? STR_NULL : (struct str){s, strlen(s)};
}

/* A growable buffer in an arena, always NUL-terminated, that refuses to grow beyond max: once a write
 * would exceed it, the buffer is marked too_big and further writes are ignored (curl's dynbuf). Its content
 * is read through strbuf_str(), which never hands out a truncated string. */
struct strbuf {
    struct arena *arena;
    char *buf;
    size_t len, cap, max;
    bool too_big;
};
void strbuf_init(struct strbuf *sb, struct arena *a, size_t max);
/* The content (NUL-terminated, arena memory, sb->len bytes), or NULL once a write did not fit: a capped
 * buffer never yields a cut-off value. Callers pass the NULL on to what refuses it (http_res_header and
 * http_res_body make the response a 500) or turn it into their own error. */
const char *strbuf_str(const struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const void *p, size_t n);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded for application/x-www-form-urlencoded and URL query values. */
void strbuf_add_urlenc(struct strbuf *sb, const char *s, size_t n);
/* Appends s as a JSON string (RFC 8259 §7: quotes, `"` `\\` and control characters escaped, UTF-8 as is),
 * as jansson's compact output writes it. s must be valid UTF-8: otherwise nothing is appended and the buffer
 * is marked too big (strbuf_str gives NULL), as jansson refuses such a string. */
void strbuf_add_json(struct strbuf *sb, const char *s);
/* Appends ,"k":"v" (both as JSON strings, as strbuf_add_json) when v is neither NULL nor empty: a member,
 * after the first, of a JSON object being written. */
void strbuf_add_json_member(struct strbuf *sb, const char *k, const char *v);
/* Appends v in decimal. */
void strbuf_add_i64(struct strbuf *sb, int64_t v);
/* v in decimal at the end of buf (no NUL): returns where its first character is; it ends at
 * buf + STR_DEC_MAX. No snprintf on the paths that log or answer every request. */
#define STR_DEC_MAX 24
char *str_dec_i64(char buf[STR_DEC_MAX], int64_t v);
/* Appends s escaped for HTML text and attribute values. */
void strbuf_add_html(struct strbuf *sb, const char *s, size_t n);
/* How many bytes strbuf_add_urlenc / strbuf_add_html would append for s: to check a value fits a buffer
 * before acting on a request. */
size_t str_urlenc_len(const char *s, size_t n);
size_t str_html_len(const char *s, size_t n);

/* base64url without padding (RFC 4648 §5). b64url_len(n): how many characters the encoding of n bytes has.
 * b64url_put() writes them into dst (room for b64url_len(n) bytes, no NUL added) and returns that count:
 * no allocation, for callers that assemble a value in their own buffer (a JWS, a PKCE challenge).
 * b64url_encode() returns the encoding as NUL-terminated arena memory. */
size_t b64url_len(size_t n);
size_t b64url_put(char *dst, const void *p, size_t n);
char *b64url_encode(struct arena *a, const void *p, size_t n);
/* How many bytes at the start of s[0..n) are of the base64url alphabet (A-Z a-z 0-9 - _; padding is not):
 * n when all of them are. */
size_t b64url_span(const char *s, size_t n);
/* Decodes base64url (padding tolerated only if exact). Returns 0, or -1 on bad input. */
int b64url_decode(struct arena *a, const char *s, size_t n, unsigned char **out, size_t *outlen);
char *b64_encode(struct arena *a, const void *p, size_t n);
int b64_decode(struct arena *a, const char *s, size_t n, unsigned char **out, size_t *outlen);
char *hex_encode(struct arena *a, const void *p, size_t n);
/* The value of one hex digit (0-9, a-f, A-F), or -1: for the decoders of percent-encoding and bytea. */
int hex_val(char c);

bool utf8_valid(const char *s, size_t n);
/* Constant-time equality of two byte strings; different lengths compare unequal (the length itself is
 * not secret). NULL never equals anything. */
bool ct_eq(const void *a, size_t alen, const void *b, size_t blen);

/* A value for an error message: s (NULL = "") with anything but printable ASCII replaced by '?', cut
 * after 64 characters with "...", so that a hostile value can neither flood a log nor smuggle control
 * characters into it. Writes into buf and returns it. Never call it on a secret. */
#define STR_SHOWN_SIZE 72
const char *str_shown(const char *s, char buf[STR_SHOWN_SIZE]);

/* Checked decimal conversion of the whole view; returns -1 on any junk, sign or overflow. */
int str_to_i64(struct str s, int64_t *out);

/* Duplicates in a list of strings, in O(n log n) (lists of thousands of clients and users): dup_of[i] is
 * the smallest j < i with v[j] equal to v[i], or -1 (NULL entries never match). dup_of has n entries. */
void str_earlier_duplicates(const char *const *v, size_t n, long *dup_of);
/* Whether `s` is in `sorted` (n strings in strcmp order), by binary search. */
bool str_sorted_has(const char *const *sorted, size_t n, const char *s);
/* Sorts n strings in strcmp order (for str_sorted_has). */
void str_sort(const char **v, size_t n);

/* Comma-separated lists ("a, b,c"): the item at *cursor, with the characters of `blanks` dropped from both
 * of its ends, as a view into the list, and *cursor moved past it (NULL after the last item). Returns false
 * once *cursor is NULL. Every comma separates, so "" is one empty item and "a,,b" has an empty middle one:
 * callers refuse or skip them. */
bool str_list_next(const char **cursor, const char *blanks, struct str *item);

#endif
