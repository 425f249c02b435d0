/* scope.h: scope sets (RFC 6749 §3.3): parsing of the space-delimited list into distinct scope-tokens
 * (1*NQCHAR), membership, and rendering back. Pure functions on arena memory. */
#ifndef OSTIARY_OAUTH_SCOPE_H
#define OSTIARY_OAUTH_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

struct scope_set {
    const char **v;
    size_t n;
};

#define SCOPE_MAX 64

/* Parses s[0..n): tokens separated by one or more spaces, duplicates dropped, order kept. -1 if a token
 * has a character outside NQCHAR (%x21 / %x23-5B / %x5D-7E) or there are more than SCOPE_MAX tokens. */
int scope_parse(struct arena *a, const char *s, size_t n, struct scope_set *out);
bool scope_has(const struct scope_set *set, const char *scope);
/* Every member of sub is in super. */
bool scope_subset(const struct scope_set *sub, const struct scope_set *super);
/* Members of a that are also in b, order of a. */
struct scope_set scope_intersect(struct arena *a, const struct scope_set *x, const struct scope_set *y);
/* Space-joined text ("" for the empty set). */
char *scope_join(struct arena *a, const struct scope_set *set);
bool scope_token_valid(const char *s, size_t n);

#endif
