/* fuzz_dpop_proof.c: fuzz target for DPoP proofs (src/oauth/dpop.c: dpop_proof_verify, dpop_htu_normalize,
 * dpop_nonce_valid), what the DPoP header of a request reaches. The input is the endpoint URL, a newline,
 * the method, a newline, then the proof; it is checked at a fixed time (FUZZ_NOW), with an access token
 * (ath) when the method is GET, and with nonces required when the method line ends in '!'. Beyond memory safety it checks dpop.h's
 * promises: a valid proof has a 43-character jkt, a jti and an iat inside the window, and a replay record
 * that outlives the proof; an invalid one says why; htu normalization is idempotent. Built with libFuzzer
 * (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/dpop_proof/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "oauth/dpop.h"
#include "core/banned.h"

#define FUZZ_NOW 1760000000
#define FUZZ_SECRET "fuzz-nonce-secret-of-at-least-32-chars"

static struct arena *arena;

static const char *line(const uint8_t **p, size_t *n)
{
    const uint8_t *nl = memchr(*p, '\n', *n);
    size_t len = nl != NULL ? (size_t)(nl - *p) : *n;
    char *s = arena_strndup(arena, (const char *)*p, len);
    *p += nl != NULL ? len + 1 : len;
    *n -= nl != NULL ? len + 1 : len;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    const uint8_t *p = data;
    size_t n = size;
    const char *htu = line(&p, &n);
    const char *method = line(&p, &n);
    char *norm = dpop_htu_normalize(arena, htu, strlen(htu));
    if (norm != NULL) {
        char *again = dpop_htu_normalize(arena, norm, strlen(norm));
        if (again == NULL || strcmp(again, norm) != 0)
            abort();
    }
    size_t mlen = strlen(method);
    bool nonce = mlen > 0 && method[mlen - 1] == '!';
    struct dpop_expect x = {0};
    x.htm = nonce ? arena_strndup(arena, method, mlen - 1) : method;
    x.htu = htu;
    x.access_token = strcmp(x.htm, "GET") == 0 ? "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" : NULL;
    x.nonce_secret = nonce ? FUZZ_SECRET : NULL;
    x.now = FUZZ_NOW;
    x.max_age = 60;
    /* The proof as a request carries it: a private copy, not NUL-terminated. */
    char *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, p, n);
    struct dpop_proof out;
    const char *why = NULL;
    enum dpop_verdict v = dpop_proof_verify(arena, copy, n, &x, &out, &why);
    if (v == DPOP_VALID) {
        if (out.jkt == NULL || strlen(out.jkt) != DPOP_JKT_LEN || out.jti == NULL || out.iat < FUZZ_NOW - 60 ||
            out.iat > FUZZ_NOW + DPOP_IAT_LEEWAY || out.replay_exp <= FUZZ_NOW || out.replay_exp <= out.iat + 60)
            abort();
    } else if ((v != DPOP_INVALID && v != DPOP_NONCE) || why == NULL) {
        abort();
    }
    free(copy);
    /* A nonce made now is valid now and in the next slot, never two slots later. */
    const char *made = dpop_nonce_make(arena, FUZZ_SECRET, FUZZ_NOW);
    if (!dpop_nonce_valid(FUZZ_SECRET, made, strlen(made), FUZZ_NOW + DPOP_NONCE_SLOT) ||
        dpop_nonce_valid(FUZZ_SECRET, made, strlen(made), FUZZ_NOW + 2 * DPOP_NONCE_SLOT + DPOP_NONCE_SLOT))
        abort();
    (void)dpop_nonce_valid(FUZZ_SECRET, (const char *)data, size, FUZZ_NOW);
    arena_reset(arena);
    return 0;
}
