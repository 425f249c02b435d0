/* backends.c: store_open(): the backend for a DSN's scheme (sqlite:, postgres: or postgresql:). The one
 * file that names every backend, above them all; a backend never calls it. */
#include "store/store.h"

#include <string.h>

#include "core/banned.h"

static const struct {
    const char *scheme;
    const struct store_ops *ops;
} backends[] = {
    {"sqlite", &store_sqlite_ops},
    {"postgres", &store_postgres_ops},
    {"postgresql", &store_postgres_ops}, /* libpq's own spelling of the URI scheme */
};

int store_open(const char *dsn, struct store **out, struct errbuf *err)
{
    return store_open_flags(dsn, 0, out, err);
}

int store_open_flags(const char *dsn, unsigned flags, struct store **out, struct errbuf *err)
{
    const char *colon = strchr(dsn, ':');
    if (colon == NULL) {
        /* Only a short prefix: without a scheme we cannot tell where a password would be. */
        errbuf_set(err, "storage: expected <scheme>:<location>, e.g. sqlite:./var/ostiary.db or "
                   "postgres://user@host/db");
        return ERR_INVALID;
    }
    size_t n = (size_t)(colon - dsn);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (strlen(backends[i].scheme) == n && memcmp(backends[i].scheme, dsn, n) == 0)
            return backends[i].ops->open(colon + 1, flags, out, err);
    }
    errbuf_set(err, "storage: unsupported scheme '%.*s' (supported: sqlite, postgres)", (int)(n < 32 ? n : 32),
               dsn);
    return ERR_INVALID;
}
