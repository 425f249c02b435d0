/* scope.c: scope sets (RFC 6749 §3.3). */
#include "oauth/scope.h"

#include <string.h>

#include "core/arena.h"
#include "core/validate.h"
#include "core/banned.h"

bool scope_token_valid(const char *s, size_t n)
{
    return valid_scope_token(s, n);
}

bool scope_has(const struct scope_set *set, const char *scope)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i], scope) == 0)
            return true;
    return false;
}

int scope_parse(struct arena *a, const char *s, size_t n, struct scope_set *out)
{
    out->n = 0;
    out->v = arena_alloc(a, sizeof(char *) * (SCOPE_MAX + 1));
    size_t i = 0;
    while (i < n) {
        while (i < n && s[i] == ' ')
            i++;
        size_t start = i;
        while (i < n && s[i] != ' ')
            i++;
        if (i == start)
            break;
        if (!scope_token_valid(s + start, i - start))
            return -1;
        char *tok = arena_strndup(a, s + start, i - start);
        if (scope_has(out, tok))
            continue;
        if (out->n == SCOPE_MAX)
            return -1;
        out->v[out->n++] = tok;
    }
    return 0;
}

bool scope_subset(const struct scope_set *sub, const struct scope_set *super)
{
    for (size_t i = 0; i < sub->n; i++)
        if (!scope_has(super, sub->v[i]))
            return false;
    return true;
}

struct scope_set scope_intersect(struct arena *a, const struct scope_set *x, const struct scope_set *y)
{
    struct scope_set out = {arena_alloc(a, sizeof(char *) * (x->n + 1)), 0};
    for (size_t i = 0; i < x->n; i++)
        if (scope_has(y, x->v[i]))
            out.v[out.n++] = x->v[i];
    return out;
}

char *scope_join(struct arena *a, const struct scope_set *set)
{
    size_t len = 0;
    for (size_t i = 0; i < set->n; i++)
        len += strlen(set->v[i]) + 1;
    char *out = arena_alloc(a, len + 1);
    size_t k = 0;
    for (size_t i = 0; i < set->n; i++) {
        size_t l = strlen(set->v[i]);
        if (i > 0)
            out[k++] = ' ';
        memcpy(out + k, set->v[i], l);
        k += l;
    }
    out[k] = '\0';
    return out;
}
