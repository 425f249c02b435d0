/* nets.h: a list of networks (core/ipnet.h) for the unit tests of ipnet and proxy, built from
 * NUL-terminated text entries. */
#ifndef OSTIARY_TEST_NETS_H
#define OSTIARY_TEST_NETS_H

#include <stdbool.h>
#include <string.h>

#include "core/ipnet.h"

struct nets {
    struct ipnet v[8];
    size_t n;
};

/* Fills ns from a NULL-terminated list of entries; false unless every entry parses. */
static inline bool nets_of(struct nets *ns, const char *const *entries)
{
    const char *why;
    ns->n = 0;
    for (; *entries != NULL; entries++) {
        if (ipnet_parse(*entries, strlen(*entries), &ns->v[ns->n], &why) != 0)
            return false;
        ns->n++;
    }
    return true;
}

#endif
