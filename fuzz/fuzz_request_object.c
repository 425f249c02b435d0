/* fuzz_request_object.c: fuzz target for request objects (src/oauth/request_object.c:
 * request_object_claims, after src/jose/jws.c jws_peek), what the request parameter of an authorization
 * request reaches before its signature is checked with the client's keys. The input is a compact JWT, or,
 * when it starts with '{', a JSON payload; its claims are checked for client "fuzz-client" of issuer
 * https://op.example at a fixed time, as signed and as unsigned. Beyond memory safety it checks
 * request_object.h's promises: an accepted object has a jti of 1 to 256 characters and an exp inside the
 * window, and a refusal is invalid_request_object with a description. Built with libFuzzer
 * (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/request_object/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "jose/jose.h"
#include "oauth/request_object.h"
#include "core/banned.h"

#define FUZZ_NOW 1760000000

static struct arena *arena;

static void check(json_t *payload, bool is_signed)
{
    int64_t exp = 0;
    const char *jti = NULL;
    struct oauth_error e =
        request_object_claims(payload, "fuzz-client", "https://op.example", is_signed, FUZZ_NOW, &exp, &jti);
    if (!oauth_failed(e)) {
        if (jti == NULL || jti[0] == '\0' || strlen(jti) > 256 || exp + REQUEST_OBJECT_LEEWAY <= FUZZ_NOW ||
            exp > FUZZ_NOW + REQUEST_OBJECT_MAX_LIFETIME + REQUEST_OBJECT_LEEWAY)
            abort();
    } else if (e.code != OAUTH_ERR_INVALID_REQUEST_OBJECT || e.description == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    json_t *payload = NULL;
    if (size > 0 && data[0] == '{') {
        payload = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(payload)) {
            check(payload, true);
            check(payload, false);
        }
        json_decref(payload);
    } else {
        char *copy = malloc(size > 0 ? size : 1);
        if (copy == NULL)
            abort();
        memcpy(copy, data, size);
        json_t *header;
        struct errbuf err;
        if (jws_peek(arena, copy, size, &header, &payload, &err) == 0) {
            check(payload, true);
            check(payload, false);
        }
        free(copy);
    }
    arena_reset(arena);
    return 0;
}
