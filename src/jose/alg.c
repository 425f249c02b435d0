/* alg.c: the JWS algorithms, by name (RFC 7518 §3.1; RFC 8037 §3.1), case-sensitive: those we sign with
 * (RS256, ES256, EdDSA) and those we verify in tokens of others (also RS384/512, PS256/384/512,
 * ES384/512, HS256/384/512, and Ed25519, RFC 9864's name for EdDSA with Ed25519). The leaf of src/jose/: jwk.c, keystore.c and jws.c build on it, it uses none
 * of them. "none" and every other name map to JOSE_ALG_NONE, which nothing signs or verifies with. */
#include "jose/jose_internal.h"

#include <string.h>

#include <openssl/evp.h>

#include "core/digest.h"

#include "core/banned.h"

static const struct {
    const char *name;
    enum jose_alg alg;
    bool signs; /* a keystore key can have it */
} alg_names[] = {
    {"RS256", JOSE_ALG_RS256, true},  {"ES256", JOSE_ALG_ES256, true},  {"EdDSA", JOSE_ALG_EDDSA, true},
    {"RS384", JOSE_ALG_RS384, false}, {"RS512", JOSE_ALG_RS512, false}, {"PS256", JOSE_ALG_PS256, false},
    {"PS384", JOSE_ALG_PS384, false}, {"PS512", JOSE_ALG_PS512, false}, {"ES384", JOSE_ALG_ES384, false},
    {"ES512", JOSE_ALG_ES512, false}, {"HS256", JOSE_ALG_HS256, false}, {"HS384", JOSE_ALG_HS384, false},
    {"HS512", JOSE_ALG_HS512, false}, {"Ed25519", JOSE_ALG_ED25519, false},
};
#define N_ALGS (sizeof(alg_names) / sizeof(alg_names[0]))

static enum jose_alg lookup(const char *name, size_t len, bool signing_only)
{
    for (size_t i = 0; name != NULL && i < N_ALGS; i++) {
        if (signing_only && !alg_names[i].signs)
            continue;
        if (strlen(alg_names[i].name) == len && memcmp(alg_names[i].name, name, len) == 0)
            return alg_names[i].alg;
    }
    return JOSE_ALG_NONE;
}

enum jose_alg jose_alg_from_name(const char *name, size_t len)
{
    return lookup(name, len, true);
}

enum jose_alg jose_alg_from_cstr(const char *name)
{
    return name != NULL ? lookup(name, strlen(name), true) : JOSE_ALG_NONE;
}

enum jose_alg jose_alg_parse(const char *name, size_t len)
{
    return lookup(name, len, false);
}

enum jose_alg jose_alg_parse_cstr(const char *name)
{
    return name != NULL ? lookup(name, strlen(name), false) : JOSE_ALG_NONE;
}

const char *jose_alg_name(enum jose_alg alg)
{
    for (size_t i = 0; i < N_ALGS; i++) {
        if (alg_names[i].alg == alg)
            return alg_names[i].name;
    }
    return "none";
}

bool jose_alg_supported(const char *alg)
{
    return jose_alg_from_cstr(alg) != JOSE_ALG_NONE;
}

json_t *jose_alg_mask_json(unsigned mask)
{
    json_t *arr = json_array();
    for (unsigned a = 1; a < JOSE_ALG__COUNT; a++) {
        if (mask & JOSE_ALG_BIT(a))
            json_array_append_new(arr, json_string(jose_alg_name((enum jose_alg)a)));
    }
    return arr;
}

const EVP_MD *jose_alg_md(enum jose_alg alg)
{
    switch (alg) {
    case JOSE_ALG_RS256:
    case JOSE_ALG_PS256:
    case JOSE_ALG_ES256:
    case JOSE_ALG_HS256:
        return sha256_md(); /* fetched once (core/digest.h): the algorithm of our own tokens */
    case JOSE_ALG_RS384:
    case JOSE_ALG_PS384:
    case JOSE_ALG_ES384:
    case JOSE_ALG_HS384:
        return EVP_sha384();
    case JOSE_ALG_RS512:
    case JOSE_ALG_PS512:
    case JOSE_ALG_ES512:
    case JOSE_ALG_HS512:
        return EVP_sha512();
    default:
        return NULL; /* EdDSA hashes internally (RFC 8032 §5.1.6) */
    }
}

size_t jose_alg_ec_coord(enum jose_alg alg)
{
    switch (alg) {
    case JOSE_ALG_ES256:
        return 32;
    case JOSE_ALG_ES384:
        return 48;
    case JOSE_ALG_ES512:
        return 66; /* P-521: 521 bits round up to 66 bytes (RFC 7518 §3.4) */
    default:
        return 0;
    }
}
