/* str.c: string views, capped buffers, base64/base64url/hex, UTF-8 validation, constant-time compare. */
#include "core/str.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/arena.h"
#include "core/banned.h"

bool str_is_null(struct str s)
{
    return s.p == NULL;
}

bool str_eq(struct str a, struct str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool str_eq_c(struct str a, const char *c)
{
    return c != NULL && a.p != NULL && str_eq(a, str_c(c));
}

bool str_ieq_c(struct str a, const char *c)
{
    size_t n = strlen(c);
    if (a.len != n || a.p == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        char x = a.p[i], y = c[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

bool str_has_prefix(struct str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.p != NULL && s.len >= n && memcmp(s.p, prefix, n) == 0;
}

char *str_dup(struct arena *a, struct str s)
{
    return s.p == NULL ? NULL : arena_strndup(a, s.p, s.len);
}

void strbuf_init(struct strbuf *sb, struct arena *a, size_t max)
{
    sb->arena = a;
    sb->cap = 256 < max ? 256 : max;
    sb->buf = arena_alloc(a, sb->cap + 1);
    sb->len = 0;
    sb->max = max;
    sb->too_big = false;
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->too_big ? NULL : sb->buf;
}

static bool strbuf_grow(struct strbuf *sb, size_t n)
{
    if (sb->too_big)
        return false;
    if (n > sb->max - sb->len) {
        sb->too_big = true;
        return false;
    }
    if (sb->len + n <= sb->cap)
        return true;
    size_t cap = sb->cap * 2;
    while (cap < sb->len + n)
        cap *= 2;
    if (cap > sb->max)
        cap = sb->max;
    char *nb = arena_alloc(sb->arena, cap + 1);
    memcpy(nb, sb->buf, sb->len);
    sb->buf = nb;
    sb->cap = cap;
    return true;
}

void strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
    if (n == 0 || !strbuf_grow(sb, n))
        return;
    memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addc(struct strbuf *sb, char c)
{
    strbuf_add(sb, &c, 1);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        strbuf_add(sb, tmp, (size_t)n);
        return;
    }
    va_start(ap, fmt);
    char *big = arena_vprintf(sb->arena, fmt, ap);
    va_end(ap);
    strbuf_add(sb, big, (size_t)n);
}

/* RFC 3986 §2.3: the characters never percent-encoded. */
static bool url_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* What strbuf_add_html writes for c (NULL: c itself). */
static const char *html_entity(char c)
{
    switch (c) {
    case '&': return "&amp;";
    case '<': return "&lt;";
    case '>': return "&gt;";
    case '"': return "&quot;";
    case '\'': return "&#39;";
    default: return NULL;
    }
}

size_t str_urlenc_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += url_unreserved((unsigned char)s[i]) ? 1 : 3;
    return len;
}

size_t str_html_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = html_entity(s[i]);
        len += e != NULL ? strlen(e) : 1;
    }
    return len;
}

void strbuf_add_urlenc(struct strbuf *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (url_unreserved(c)) {
            strbuf_addc(sb, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_add(sb, e, 3);
        }
    }
}

void strbuf_add_json(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    /* Most strings are printable ASCII with nothing to escape: one pass finds the end of that prefix, and
     * such a string is then copied in one piece, with nothing left to check or escape. */
    size_t plain = 0;
    while (plain < n) {
        unsigned char c = (unsigned char)s[plain];
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80)
            break;
        plain++;
    }
    /* What precedes `plain` is ASCII, so the text is UTF-8 if the rest is. */
    if (!utf8_valid(s + plain, n - plain)) {
        sb->too_big = true;
        return;
    }
    strbuf_addc(sb, '"');
    size_t run = 0; /* where the bytes not yet written begin (the prefix too): written in one piece */
    for (size_t i = plain; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        strbuf_add(sb, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', (char)c, 0, 0, 0, 0};
        size_t k = 2;
        switch (c) {
        case '"': case '\\': break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            memcpy(e, "\\u00", 4);
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            k = 6;
        }
        strbuf_add(sb, e, k);
    }
    strbuf_add(sb, s + run, n - run);
    strbuf_addc(sb, '"');
}

void strbuf_add_json_member(struct strbuf *sb, const char *k, const char *v)
{
    if (v == NULL || v[0] == '\0')
        return;
    strbuf_addc(sb, ',');
    strbuf_add_json(sb, k);
    strbuf_addc(sb, ':');
    strbuf_add_json(sb, v);
}

char *str_dec_i64(char buf[STR_DEC_MAX], int64_t v)
{
    uint64_t u = v < 0 ? 0ULL - (uint64_t)v : (uint64_t)v;
    size_t k = STR_DEC_MAX;
    do {
        buf[--k] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        buf[--k] = '-';
    return buf + k;
}

void strbuf_add_i64(struct strbuf *sb, int64_t v)
{
    char num[STR_DEC_MAX];
    const char *d = str_dec_i64(num, v);
    strbuf_add(sb, d, (size_t)(num + STR_DEC_MAX - d));
}

void strbuf_add_html(struct strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *e = html_entity(s[i]);
        if (e != NULL)
            strbuf_adds(sb, e);
        else
            strbuf_addc(sb, s[i]);
    }
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char B64STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the base64 of p[0..n) in `alpha` into dst, with '=' padding when pad is set; no NUL. Returns the
 * number of characters written. The one encoder: every base64 and base64url output comes from here. */
static size_t b64_put(char *dst, const unsigned char *p, size_t n, const char *alpha, bool pad)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        dst[o++] = alpha[v >> 18];
        dst[o++] = alpha[(v >> 12) & 63];
        dst[o++] = alpha[(v >> 6) & 63];
        dst[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        dst[o++] = alpha[v >> 18];
        dst[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            dst[o++] = '=';
            dst[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        dst[o++] = alpha[v >> 18];
        dst[o++] = alpha[(v >> 12) & 63];
        dst[o++] = alpha[(v >> 6) & 63];
        if (pad)
            dst[o++] = '=';
    }
    return o;
}

size_t b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 != 0 ? n % 3 + 1 : 0);
}

size_t b64url_put(char *dst, const void *p, size_t n)
{
    return b64_put(dst, p, n, B64URL, false);
}

char *b64url_encode(struct arena *a, const void *p, size_t n)
{
    char *out = arena_alloc(a, b64url_len(n) + 1);
    out[b64url_put(out, p, n)] = '\0';
    return out;
}

char *b64_encode(struct arena *a, const void *p, size_t n)
{
    char *out = arena_alloc(a, (n + 2) / 3 * 4 + 1);
    out[b64_put(out, p, n, B64STD, true)] = '\0';
    return out;
}

static int b64_val(char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

size_t b64url_span(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && b64_val(s[i], true) >= 0)
        i++;
    return i;
}

static int b64_dec(struct arena *a, const char *s, size_t n, unsigned char **out, size_t *outlen, bool url)
{
    /* Padding: accepted only if it makes the length a multiple of 4 (required for standard base64). */
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad > 0 && (n + pad) % 4 != 0)
        return -1;
    if (!url && pad == 0 && n % 4 != 0)
        return -1;
    if (n % 4 == 1)
        return -1;
    unsigned char *o = arena_alloc(a, n / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_val(s[i], url);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return -1;
    *out = o;
    *outlen = k;
    return 0;
}

int b64url_decode(struct arena *a, const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    return b64_dec(a, s, n, out, outlen, true);
}

int b64_decode(struct arena *a, const char *s, size_t n, unsigned char **out, size_t *outlen)
{
    return b64_dec(a, s, n, out, outlen, false);
}

int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *hex_encode(struct arena *a, const void *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    char *out = arena_alloc(a, n * 2 + 1);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    return out;
}

bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        /* Reject overlong forms, surrogates and code points past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

bool ct_eq(const void *a, size_t alen, const void *b, size_t blen)
{
    if (a == NULL || b == NULL || alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int str_to_i64(struct str s, int64_t *out)
{
    if (s.p == NULL || s.len == 0 || s.len > 19)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        int d = s.p[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

bool str_list_next(const char **cursor, const char *blanks, struct str *item)
{
    const char *p = *cursor;
    if (p == NULL)
        return false;
    const char *end = p + strcspn(p, ",");
    const char *b = p, *e = end;
    while (b < e && strchr(blanks, *b) != NULL)
        b++;
    while (e > b && strchr(blanks, e[-1]) != NULL)
        e--;
    *item = (struct str){b, (size_t)(e - b)};
    *cursor = *end == '\0' ? NULL : end + 1;
    return true;
}

const char *str_shown(const char *s, char buf[STR_SHOWN_SIZE])
{
    size_t o = 0;
    if (s == NULL)
        s = "";
    for (; *s != '\0' && o < 64; s++)
        buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    if (*s != '\0') {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

struct str_at {
    const char *s;
    size_t i;
};

static int str_at_cmp(const void *x, const void *y)
{
    const struct str_at *a = x, *b = y;
    int c = strcmp(a->s, b->s);
    return c != 0 ? c : (a->i > b->i) - (a->i < b->i);
}

void str_earlier_duplicates(const char *const *v, size_t n, long *dup_of)
{
    struct str_at *at = malloc((n > 0 ? n : 1) * sizeof(*at));
    if (at == NULL)
        abort();
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        dup_of[i] = -1;
        if (v[i] != NULL)
            at[m++] = (struct str_at){v[i], i};
    }
    /* Equal strings end up together, in index order: each repeats the first of its run. */
    qsort(at, m, sizeof(*at), str_at_cmp);
    for (size_t k = 1, first = 0; k < m; k++) {
        if (strcmp(at[k].s, at[first].s) == 0)
            dup_of[at[k].i] = (long)at[first].i;
        else
            first = k;
    }
    free(at);
}

static int str_ptr_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void str_sort(const char **v, size_t n)
{
    qsort(v, n, sizeof(*v), str_ptr_cmp);
}

bool str_sorted_has(const char *const *sorted, size_t n, const char *s)
{
    return n > 0 && bsearch(&s, sorted, n, sizeof(*sorted), str_ptr_cmp) != NULL;
}
