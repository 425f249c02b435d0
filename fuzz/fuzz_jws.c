/* fuzz_jws.c: fuzz target for compact JWS verification (src/jose/jws.c, jws_verify), against a keystore
 * of three fixed keys (RS256, ES256, EdDSA) served by a read-only in-memory store, so the seeds in
 * fuzz/corpus/jws/ carry valid signatures. Beyond memory safety it checks jose.h's promises: only the
 * documented codes come back; on success the payload is a JSON object; and signing the input as a payload
 * then verifying it succeeds exactly when the input is a JSON object without duplicate names.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/jws/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/err.h"
#include "jose/jose.h"
#include "store/store.h"
#include "core/banned.h"

#define FUZZ_SECRET "fuzz-secret"

/* The keys, as keystore.c stores them: encrypted with FUZZ_SECRET (version byte, nonce, ciphertext). */
static const struct {
    const char *kid, *alg;
    int64_t created_at;
    const char *priv_hex;
} fixed_keys[] = {
    {"assFp6iFZI1fmhxv6vjRiqmBWa7pOoyIbS7vHreU7lw", "RS256", 1700000000,
     "0107477a18b581543c390e6ccf955f846df3a54e459bd84d8e121827ec5af1f912d635a0c2e28886ec06feebb7a1fbf4"
     "f3de4995fcd28f275a7a93a60d188e43da14f5385b266266f248154ba8462da2c1287ecb3ca23d99763dc063f57359df"
     "80fdce7dc82473b123f2e3525d6ccd3005a8f16a00dcd28843512e1272dd9352fb54d91d7b02f8b84f8a3ea178f42bd6"
     "19e79a94b3124b071b5df5707a2b0c8fec41dff5efd5bf22e58e5047a540821368ed5b0c31b7e26719862d8fa7965dc6"
     "f2c9a30dda9f157848037e016d5b7e59ddf478d8c5322a911289a37fceb8f42bb235d81aa44fd76a32d68b93b04bcf3d"
     "a67a76f23268aaaa81ac9f7ec03d72cc32d0f61c316e3dca32dda56e19c715bfc9c3e30671dfb28c87fcf3395c7835aa"
     "c7af758aa77bf40de71535c1288a48df8154c5c572d1d0169d2ca060c234de7ad497bbaeceafe19bc101e4d3fd863481"
     "4be68bf54674795be677ef88df31a4a6731c039cec72fd53728d6b30e494328176501c84df37dde3510944cbc10786ac"
     "b1e8a9812fa68dbb7e8a2e62bcb8ee2ff2a35ad7a58dd034d2f70830fcf42ad0233d9c1ffec8ea39e2f218733246dbc5"
     "0552eeef2f0cd49548451b961f7d18173780e13240f7b030a232e584387140eba3630d7325027cc18f7d53b650462173"
     "cf630567d77694869d6d1697458f9ec3f20ff2ed68e74b3ccfff1cdabdfb72d39fb0558cc8ef50549685be63fac64de9"
     "a2d1a06f98f7a2b6739a759155fd5c604d42bc98f2fd55eebe815455e2d84fec0908794b6d66e9e666f8012ae9b84593"
     "ee0d719b4a6caaa50fd8c364bca63f06d7bcea0e6fb4c9cb7e4466e459b690ca67ea3e1ce01d5e0df79caa09c62bf550"
     "114f1a3923d2c44393d59b10b5b9fb8e2fbc0004ce422cd38928263ab08e3df911ab4eeadf34bdec1a546be3c2b511d5"
     "1ce45e70a3ed78e683a7635b762a82fb9400b508b505600a5a6ee833fb1d93d929898f2a539d0fd98e97efec48f81f2e"
     "b3c48f6276d0102d7d93873df899da007a2136d8ff59e9d48949bbd2b05216d9ac4566333d4ac5a3aa4553595bc4f530"
     "2e24464cbd5c47922a55e9aed570146686c8b00accd6858e36fa53639e49a791fd506b0b89dc6b0ceb759fa3dc80adab"
     "4e13037b7f9d5aa34bcac2841b772447713da26d4bf42cf9b9cc7241dbeac9b04b87f44fccd563c317d099d201d5b47c"
     "1b1a00e0548e22706c09aae5f15113fe8398cc8af7d452b01ad22a3a9c23486ae3d1cebff6655713f8a4df786864f5fc"
     "75f92e98f38be2acff0e37da702cacb1f3982b24e9fbfdc274e11bcce2ec2ce1719598a65262777e727a7a265b82c4e1"
     "7790f735375088e73c332f086b0192c4878262fb847ecfb6c043af27b3588f3961c7309f4430ff2f7027acff384d1b17"
     "bb4ab0b79e64f92474225fb99338572da06d03a58225c2deed4fdc9f7b38aaa81dcd4f263453c79db3389ae93705bac0"
     "5c91b12a5f23927c80a2cb437aca51c4b50a177bfe96dc98cb1649803a290304a72061fe2cc8c05f01fcf781f2832b8c"
     "ea1bc776b44debb0fb03f1efef6b3859160758c7fc802b1dabc6420f5f3f9fcda8b967d48c4b2680857dc4ce8944b745"
     "0a3313e3b380266cbb19e1ee1f02be80419b2c8d632c9c4855c002730cc9cb951b48d15a5c0e56113555f57c4da3da63"
     "c22e6ac7317f0a20e9c0e67a9da87a2b921b07240030a347a15cfaf02f5a04a8570efd5017d7462ab8ae060438286b2e"
     "7896519b336a05cf1f9f"},
    {"ItF30LvgJonb0T6NGduoayffoZdFwu2laBzqEzOwU-s", "ES256", 1700000000,
     "0199614e85758c42088b10d737664cc33959561be74e9e6f08809662e14ed2be8dcf412eb07c859e147688561033a60b"
     "b8a57e8c119fbad8753214c5b5193a165c9a0ef877b6fab4180b5f4693358377376e7e442af3af3f565097dff2274d1d"
     "f8814b41aef51b495cf51f3f87d2541c5745abf9935911c8920b789c70bbd9d19df56c98bfbe049bac9d25b00e6e3baf"
     "1a361235ead7cca1b083a8c7ad0210d765895224935b59f064dd758169ea2b1f2fc67d"},
    {"VOsJaaJPq7XU72Us2oI2ImfN4C2iey6xgCbBVZ1iy7g", "EdDSA", 1700000000,
     "0126ffc008856e33c1b4d0605a322ca7002191b449a94f375e4acf928ca83c0a32f92a40cef814cf16406fd38ae8a6d5"
     "b356512b46c7faca2d31133ecbe40ba6709ee23d124b85f405af12210afe36520b899c71764bcf1d99"},
};
#define NKEYS (sizeof(fixed_keys) / sizeof(fixed_keys[0]))

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The only store call a keystore_open without key generation makes. */
static int fixed_key_list(struct store_conn *c, struct arena *a, struct store_key **out, size_t *n,
                          struct errbuf *err)
{
    (void)c;
    (void)err;
    struct store_key *rows = arena_alloc(a, NKEYS * sizeof(*rows));
    for (size_t i = 0; i < NKEYS; i++) {
        size_t hex_len = strlen(fixed_keys[i].priv_hex);
        unsigned char *priv = arena_alloc(a, hex_len / 2);
        for (size_t j = 0; j < hex_len / 2; j++)
            priv[j] = (unsigned char)(hexval(fixed_keys[i].priv_hex[2 * j]) << 4 |
                                      hexval(fixed_keys[i].priv_hex[2 * j + 1]));
        rows[i] = (struct store_key){.kid = fixed_keys[i].kid,
                                     .alg = fixed_keys[i].alg,
                                     .priv_enc = priv,
                                     .priv_enc_len = hex_len / 2,
                                     .public_jwk = "{}",
                                     .created_at = fixed_keys[i].created_at,
                                     .sign_from = fixed_keys[i].created_at};
    }
    *out = rows;
    *n = NKEYS;
    return 0;
}

static const struct store_ops fixed_ops = {.scheme = "fuzz", .key_list = fixed_key_list};
static struct store fixed_store = {.ops = &fixed_ops};
static struct store_conn fixed_conn = {.st = &fixed_store};

static struct keystore *ks;
static struct arena *arena;

static void init(void)
{
    static const char *const algs[] = {"RS256", "ES256", "EdDSA"};
    struct errbuf err;
    if (keystore_open(&fixed_conn, FUZZ_SECRET, algs, 3, false, &ks, &err) != 0)
        abort(); /* the fixed keys no longer match keystore.c's format: regenerate them */
    arena = arena_new(16384);
}

static void check_verify(const char *tok, size_t len)
{
    json_t *payload = NULL;
    const char *typ = NULL;
    struct errbuf err;
    int rc = jws_verify(ks, arena, tok, len, &payload, &typ, &err);
    if (rc == 0) {
        if (!json_is_object(payload))
            abort();
    } else if (rc == JOSE_ERR_BAD_TOKEN || rc == JOSE_ERR_BAD_SIGNATURE || rc == JOSE_ERR_UNKNOWN_KEY) {
        if (payload != NULL || typ != NULL)
            abort();
    } else {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ks == NULL)
        init();
    /* The token as a request carries it: a private copy, not NUL-terminated. */
    char *tok = malloc(size > 0 ? size : 1);
    if (tok == NULL)
        abort();
    if (size > 0)
        memcpy(tok, data, size);
    check_verify(tok, size);

    /* Round trip with the input as claims (the fast algs only, to keep executions per second high). */
    if (size <= 4096) {
        struct errbuf err;
        const char *alg = size % 2 == 0 ? "EdDSA" : "ES256";
        char *signed_tok = jws_sign(ks, arena, alg, size % 3 == 0 ? "JWT" : NULL, tok, size, &err);
        if (signed_tok == NULL)
            abort();
        json_t *payload = NULL;
        int rc = jws_verify(ks, arena, signed_tok, strlen(signed_tok), &payload, NULL, &err);
        json_t *direct = json_loadb(tok, size, JSON_REJECT_DUPLICATES, NULL);
        bool is_object = json_is_object(direct);
        json_decref(direct);
        if (is_object ? rc != 0 : rc != JOSE_ERR_BAD_TOKEN)
            abort();
    }
    free(tok);
    arena_reset(arena);
    return 0;
}
