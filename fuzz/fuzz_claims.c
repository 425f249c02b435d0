/* fuzz_claims.c: fuzz target for the claims request parameter (src/oauth/claims_request.c, OIDC Core
 * §5.5). Beyond memory safety it checks the parser's promises (claims_request.h): it either accepts with
 * at most CLAIMS_REQUEST_MAX_CLAIMS claims per target, each with a name, a value of a scalar type and values
 * a non-empty array of scalars, never both; or refuses with a description in RFC 6749 §5.2's character set
 * (%x20-21 / %x23-5B / %x5D-7E: no quote, no backslash, no control character). Nothing longer than
 * CLAIMS_REQUEST_MAX_BYTES is accepted. A broken promise aborts, so libFuzzer reports it as a crash.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/claims/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "oauth/claims_request.h"
#include "core/banned.h"

static struct arena *arena;

static bool scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

static void check_accepted(const struct claims_request *r)
{
    for (int t = 0; t < CLAIMS_TARGETS; t++) {
        if (r->n[t] > CLAIMS_REQUEST_MAX_CLAIMS)
            abort();
        for (size_t i = 0; i < r->n[t]; i++) {
            const struct claim_request *c = &r->claims[t][i];
            if (c->name == NULL || claims_request_find(r, (enum claims_target)t, c->name) == NULL)
                abort();
            if (c->value != NULL && (c->values != NULL || !scalar(c->value)))
                abort();
            if (c->values != NULL) {
                if (!json_is_array(c->values) || json_array_size(c->values) == 0)
                    abort();
                for (size_t k = 0; k < json_array_size(c->values); k++)
                    if (!scalar(json_array_get(c->values, k)))
                        abort();
            }
            (void)claim_request_allows(c, "urn:ostiary:acr:password");
        }
        json_t *names = claims_request_user_claims(r, (enum claims_target)t);
        if (!json_is_array(names) || json_array_size(names) > r->n[t])
            abort();
        json_decref(names);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(4096);
    struct claims_request r;
    const char *why = NULL;
    int rc = claims_request_parse(arena, (const char *)data, size, &r, &why);
    if (rc == 0) {
        if (size > CLAIMS_REQUEST_MAX_BYTES)
            abort();
        check_accepted(&r);
    } else {
        if (rc != -1 || why == NULL || why[0] == '\0')
            abort();
        for (const unsigned char *p = (const unsigned char *)why; *p != '\0'; p++)
            if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
                abort();
    }
    arena_reset(arena);
    return 0;
}
