/* fuzz_jwk_jws.c: fuzz target for the import of foreign JWK Sets (src/jose/jwk.c, jose_jwks_import) and the
 * verification of foreign compact JWS against them (src/jose/jws.c, jws_verify_keys, jws_peek): what a
 * client assertion, a DPoP proof or a request object reaches. The input is a JWKS text, a newline, then a
 * token; the token is verified against the imported set (when it imports) with every alg allowed, and with
 * an HMAC key made of the JWKS text. Beyond memory safety it checks jose.h's promises: only the documented
 * codes come back, a success names a key of the set and carries JSON objects, and "none" never verifies.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/jwk_jws/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "jose/jose.h"
#include "core/banned.h"

static struct arena *arena;

static void check(const char *tok, size_t len, const struct jose_keyset *set)
{
    struct jws_verified v;
    struct errbuf err;
    int rc = jws_verify_keys(arena, tok, len, set, ~0u, &v, &err);
    if (rc == 0) {
        bool member = false;
        for (size_t i = 0; i < set->n; i++)
            member = member || set->keys[i] == v.key;
        if (!member || !json_is_object(v.header) || !json_is_object(v.payload) || v.alg == JOSE_ALG_NONE)
            abort();
    } else if (rc != JOSE_ERR_BAD_TOKEN && rc != JOSE_ERR_BAD_SIGNATURE && rc != JOSE_ERR_UNKNOWN_KEY &&
               rc != JOSE_ERR_ALG) {
        abort();
    }
    json_t *hdr, *payload;
    rc = jws_peek(arena, tok, len, &hdr, &payload, &err);
    if (rc == 0 ? !json_is_object(hdr) || !json_is_object(payload) : rc != JOSE_ERR_BAD_TOKEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    const uint8_t *nl = memchr(data, '\n', size);
    size_t jlen = nl != NULL ? (size_t)(nl - data) : size;
    const char *tok = nl != NULL ? (const char *)nl + 1 : "";
    size_t tlen = nl != NULL ? size - jlen - 1 : 0;
    /* The token as a request carries it: a private copy, not NUL-terminated. */
    char *copy = malloc(tlen > 0 ? tlen : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, tok, tlen);

    json_t *jwks = json_loadb((const char *)data, jlen, JSON_REJECT_DUPLICATES, NULL);
    struct jose_keyset set = {NULL, 0};
    struct errbuf err;
    if (jwks != NULL && jose_jwks_import(arena, jwks, &set, &err) == 0) {
        if (set.n > JOSE_JWKS_MAX_KEYS)
            abort();
        for (size_t i = 0; i < set.n; i++)
            if (jose_pubkey_thumbprint(arena, set.keys[i]) == NULL)
                abort();
    }
    json_decref(jwks);
    check(copy, tlen, &set);
    const struct jose_pubkey *hmac = jose_key_hmac(arena, data, jlen);
    struct jose_keyset hset = {&hmac, 1};
    check(copy, tlen, &hset);
    free(copy);
    arena_reset(arena);
    return 0;
}
