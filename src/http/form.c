/* form.c: application/x-www-form-urlencoded parsing for bodies and query strings (HTML form encoding,
 * RFC 6749 Appendix B). Rejects bad escapes, invalid UTF-8 and NUL bytes; caps the parameter count. */
#include "http/http.h"

#include <string.h>

#include "core/arena.h"
#include "core/banned.h"

int url_decode(struct arena *a, const char *s, size_t n, bool plus_is_space, struct str *out)
{
    char *d = arena_alloc(a, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3)
                return FORM_ERR_ENCODING;
            int hi = hex_val(s[i + 1]), lo = hex_val(s[i + 2]);
            if (hi < 0 || lo < 0)
                return FORM_ERR_ENCODING;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0')
            return FORM_ERR_NUL;
        d[k++] = c;
    }
    d[k] = '\0';
    if (!utf8_valid(d, k))
        return FORM_ERR_UTF8;
    *out = (struct str){d, k};
    return FORM_OK;
}

int form_parse(struct arena *a, const char *s, size_t n, size_t max_params, struct form *out)
{
    out->params = NULL;
    out->n = 0;
    if (s == NULL || n == 0)
        return FORM_OK;
    /* Count pairs first so the array is allocated once and the cap is enforced before decoding. */
    size_t pairs = 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '&')
            pairs++;
    size_t cap = pairs < max_params ? pairs : max_params;
    out->params = arena_alloc(a, sizeof(struct form_param) * (cap + 1));
    size_t start = 0;
    while (start <= n) {
        size_t end = start;
        while (end < n && s[end] != '&')
            end++;
        if (end > start) {
            if (out->n == max_params)
                return FORM_ERR_TOO_MANY;
            const char *eq = memchr(s + start, '=', end - start);
            size_t nlen = eq ? (size_t)(eq - (s + start)) : end - start;
            struct form_param *p = &out->params[out->n];
            int rc = url_decode(a, s + start, nlen, true, &p->name);
            if (rc != FORM_OK)
                return rc;
            if (eq != NULL) {
                rc = url_decode(a, eq + 1, (size_t)(s + end - (eq + 1)), true, &p->value);
                if (rc != FORM_OK)
                    return rc;
            } else {
                p->value = (struct str){"", 0};
            }
            out->n++;
        }
        start = end + 1;
    }
    return FORM_OK;
}

int form_get(const struct form *f, const char *name, struct str *v)
{
    size_t nlen = strlen(name);
    int found = 0;
    *v = STR_NULL;
    for (size_t i = 0; i < f->n; i++) {
        const struct form_param *p = &f->params[i];
        if (p->name.len != nlen || memcmp(p->name.p, name, nlen) != 0 || p->value.len == 0)
            continue;
        if (found)
            return -1;
        found = 1;
        *v = p->value;
    }
    return found ? 0 : 1;
}

char *form_get_dup(struct arena *a, const struct form *f, const char *name)
{
    struct str v;
    return form_get(f, name, &v) == 0 ? str_dup(a, v) : NULL;
}
