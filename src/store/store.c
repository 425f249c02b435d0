/* store.c: what the backends and their callers share: the hashing of secrets and of JWT row keys, the
 * DSN with its password masked for messages, and the timing of every store call for the metrics (see
 * store.h). Below the backends; choosing one by DSN is backends.c's job. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/metrics.h"
#include "core/arena.h"
#include "core/str.h"
#include "core/banned.h"

#define STORE_OP_NAME_(name) #name,
const char *const store_op_names[STORE_OP__COUNT] = {STORE_OPS(STORE_OP_NAME_)};
#undef STORE_OP_NAME_
_Static_assert(STORE_OP__COUNT <= METRICS_STORE_OPS_MAX, "core/metrics.h counts every store op");

int store_observe_(enum store_op op, int64_t t0, int rc)
{
    metrics_store_call(op, clock_mono_us() - t0, rc < 0 && rc != ERR_NOTFOUND && rc != ERR_CONFLICT);
    return rc;
}

const char *store_dsn_redacted(struct arena *a, const char *dsn)
{
    struct strbuf sb;
    size_t len = strlen(dsn);
    strbuf_init(&sb, a, len + 64);
    const char *p = dsn;
    const char *end = dsn + len;
    const char *auth = strstr(dsn, "://");
    if (auth != NULL) {
        auth += 3;
        /* The authority ends at the first '/', '?' or '#'; userinfo is what precedes its last '@'. */
        const char *aend = auth + strcspn(auth, "/?#");
        const char *at = NULL;
        for (const char *q = auth; q < aend; q++)
            if (*q == '@')
                at = q;
        const char *pw = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (pw != NULL) {
            strbuf_add(&sb, p, (size_t)(pw + 1 - p));
            strbuf_add(&sb, "***", 3);
            p = at;
        }
    }
    /* password=... as a query parameter (URI) or a keyword (key=value conninfo). */
    while (p < end) {
        const char *hit = strstr(p, "password=");
        if (hit == NULL) {
            strbuf_add(&sb, p, (size_t)(end - p));
            break;
        }
        strbuf_add(&sb, p, (size_t)(hit + 9 - p));
        p = hit + 9;
        if (hit == dsn || hit[-1] == '?' || hit[-1] == '&' || hit[-1] == ' ') {
            strbuf_add(&sb, "***", 3);
            p += strcspn(p, "& ");
        }
    }
    return sb.buf;
}

void store_hash(const void *secret, size_t n, uint8_t out[STORE_HASH_LEN])
{
    sha256(secret, n, out);
}

void store_jti_key(const char *jti, uint8_t out[STORE_HASH_LEN])
{
    sha256_2("jti:", 4, jti, strlen(jti), out);
}

const char *store_client_origin(const struct store_client *cl)
{
    if (cl->origin != NULL)
        return cl->origin;
    return cl->from_config ? "config" : "operator";
}
