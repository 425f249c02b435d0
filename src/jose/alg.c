/* alg.c: the JWS algorithms we sign and accept, by name (RFC 7518 §3.1; RFC 8037 §3.1): RS256, ES256 and
 * EdDSA, case-sensitive. The leaf of src/jose/: jwk.c, keystore.c and jws.c build on it, it uses none of
 * them. "none" and every other name map to JOSE_ALG_NONE, which nothing signs or verifies with. */
#include "jose/jose_internal.h"

#include <string.h>

#include "core/banned.h"

static const struct {
    const char *name;
    enum jose_alg alg;
} alg_names[] = {
    {"RS256", JOSE_ALG_RS256},
    {"ES256", JOSE_ALG_ES256},
    {"EdDSA", JOSE_ALG_EDDSA},
};

enum jose_alg jose_alg_from_name(const char *name, size_t len)
{
    for (size_t i = 0; name != NULL && i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (strlen(alg_names[i].name) == len && memcmp(alg_names[i].name, name, len) == 0)
            return alg_names[i].alg;
    }
    return JOSE_ALG_NONE;
}

enum jose_alg jose_alg_from_cstr(const char *name)
{
    return name != NULL ? jose_alg_from_name(name, strlen(name)) : JOSE_ALG_NONE;
}

const char *jose_alg_name(enum jose_alg alg)
{
    for (size_t i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
        if (alg_names[i].alg == alg)
            return alg_names[i].name;
    }
    return "none";
}

bool jose_alg_supported(const char *alg)
{
    return jose_alg_from_cstr(alg) != JOSE_ALG_NONE;
}
