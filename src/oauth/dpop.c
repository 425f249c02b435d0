/* dpop.c: DPoP proofs (RFC 9449 §4.2-4.3), their replay cache (§11.1), server nonces (§8) and the errors
 * of §5 and §7.1. The proof's signature and key come from src/jose/ (jws_peek, jose_jwk_import,
 * jws_verify_keys); the rest is claims. Not here: binding tokens (tokens.c), the token endpoint's and the
 * grants' rules (token.c, grant_*.c), the resource side (userinfo.c). */
#include "oauth/dpop.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "app.h"
#include "core/digest.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "core/banned.h"

#define JTI_MAX 256
#define HTU_MAX 2048

/* ---- htu (RFC 9449 §4.3 check 9; RFC 3986 §6.2.2, §6.2.3) ---- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

char *dpop_htu_normalize(struct arena *a, const char *u, size_t n)
{
    if (u == NULL || n == 0 || n > HTU_MAX)
        return NULL;
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)u[k] <= 0x20 || (unsigned char)u[k] >= 0x7f)
            return NULL;
    struct strbuf sb;
    strbuf_init(&sb, a, HTU_MAX + 8);
    size_t i = 0;
    while (i < n && u[i] != ':')
        i++;
    bool https = i == 5 && strncasecmp(u, "https", 5) == 0;
    bool http = i == 4 && strncasecmp(u, "http", 4) == 0;
    if (!https && !http)
        return NULL;
    if (n - i < 3 || memcmp(u + i, "://", 3) != 0)
        return NULL;
    strbuf_adds(&sb, https ? "https://" : "http://");
    i += 3;
    size_t as = i;
    while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#')
        i++;
    const char *auth = u + as;
    size_t alen = i - as;
    if (alen == 0 || memchr(auth, '@', alen) != NULL)
        return NULL;
    /* The port follows the last ':' outside an IPv6 literal. */
    size_t hlen = alen;
    const char *close = auth[0] == '[' ? memchr(auth, ']', alen) : NULL;
    if (auth[0] == '[' && close == NULL)
        return NULL;
    size_t from = close != NULL ? (size_t)(close - auth) + 1 : 0;
    const char *colon = memchr(auth + from, ':', alen - from);
    if (close != NULL && from != alen && colon != auth + from)
        return NULL; /* something after "]" that is not a port */
    if (colon != NULL)
        hlen = (size_t)(colon - auth);
    if (hlen == 0)
        return NULL;
    for (size_t k = 0; k < hlen; k++)
        strbuf_addc(&sb, lower(auth[k]));
    if (colon != NULL) {
        const char *p = colon + 1;
        size_t plen = alen - hlen - 1;
        unsigned long port = 0;
        for (size_t k = 0; k < plen; k++) {
            if (p[k] < '0' || p[k] > '9' || port > 65535)
                return NULL;
            port = port * 10 + (unsigned long)(p[k] - '0');
        }
        if (port > 65535)
            return NULL;
        /* An empty port and the scheme's default are the same URL (RFC 3986 §6.2.3). */
        if (plen > 0 && port != (https ? 443ul : 80ul))
            strbuf_addf(&sb, ":%lu", port);
    }
    size_t ps = i;
    while (i < n && u[i] != '?' && u[i] != '#')
        i++;
    if (i == ps)
        strbuf_addc(&sb, '/');
    for (size_t k = ps; k < i; k++) {
        if (u[k] != '%') {
            strbuf_addc(&sb, u[k]);
            continue;
        }
        int h = k + 2 < i ? hexval(u[k + 1]) : -1, l = k + 2 < i ? hexval(u[k + 2]) : -1;
        if (h < 0 || l < 0)
            return NULL;
        unsigned char c = (unsigned char)(h * 16 + l);
        if (unreserved(c))
            strbuf_addc(&sb, (char)c);
        else
            strbuf_addf(&sb, "%%%02X", c);
        k += 2;
    }
    return (char *)strbuf_str(&sb);
}

char *dpop_ath(struct arena *a, const char *token, size_t len)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    sha256(token, len, d);
    return b64url_encode(a, d, sizeof(d));
}

/* ---- nonces (RFC 9449 §8) ---- */

static void nonce_mac(const char *secret, int64_t slot, char out[44])
{
    static const char label[] = "ostiary dpop nonce";
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "%s %lld", label, (long long)slot);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n, mac, &maclen);
    size_t w = b64url_put(out, mac, maclen);
    out[w] = '\0';
}

char *dpop_nonce_make(struct arena *a, const char *secret, int64_t now)
{
    int64_t slot = now / DPOP_NONCE_SLOT;
    char mac[44];
    nonce_mac(secret, slot, mac);
    return arena_printf(a, "%lld.%s", (long long)slot, mac);
}

bool dpop_nonce_valid(const char *secret, const char *nonce, size_t len, int64_t now)
{
    const char *dot = memchr(nonce, '.', len);
    if (dot == NULL || dot == nonce || (size_t)(dot - nonce) > 18)
        return false;
    int64_t slot = 0;
    for (const char *p = nonce; p < dot; p++) {
        if (*p < '0' || *p > '9')
            return false;
        slot = slot * 10 + (*p - '0');
    }
    int64_t cur = now / DPOP_NONCE_SLOT;
    if (slot != cur && slot != cur - 1)
        return false;
    char mac[44];
    nonce_mac(secret, slot, mac);
    size_t mlen = len - (size_t)(dot + 1 - nonce);
    return mlen == strlen(mac) && CRYPTO_memcmp(mac, dot + 1, mlen) == 0;
}

/* ---- the proof (RFC 9449 §4.3) ---- */

static enum dpop_verdict invalid(const char **why, const char *reason)
{
    *why = reason;
    return DPOP_INVALID;
}

/* A string claim of the payload, NULL when absent or not a string. */
static const char *claim_str(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static bool htu_matches(struct arena *a, const char *proof_htu, const char *expected)
{
    char *p = dpop_htu_normalize(a, proof_htu, strlen(proof_htu));
    char *e = dpop_htu_normalize(a, expected, strlen(expected));
    return p != NULL && e != NULL && strcmp(p, e) == 0;
}

enum dpop_verdict dpop_proof_verify(struct arena *a, const char *jws, size_t len, const struct dpop_expect *x,
                                    struct dpop_proof *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    json_t *header, *payload;
    struct errbuf err;
    if (jws_peek(a, jws, len, &header, &payload, &err) != 0)
        return invalid(why, "the DPoP proof is not a well-formed JWT");
    const char *typ = claim_str(header, "typ");
    if (typ == NULL || strcmp(typ, "dpop+jwt") != 0)
        return invalid(why, "the DPoP proof's typ must be dpop+jwt");
    enum jose_alg alg = jose_alg_parse_cstr(claim_str(header, "alg"));
    if ((JOSE_ALG_BIT(alg) & DPOP_ALGS) == 0)
        return invalid(why, "the DPoP proof's alg must be an asymmetric algorithm of "
                            "dpop_signing_alg_values_supported (never none or a MAC)");
    json_t *jwk = json_object_get(header, "jwk");
    if (!json_is_object(jwk))
        return invalid(why, "the DPoP proof's header has no jwk");
    const struct jose_pubkey *key;
    if (jose_jwk_import(a, jwk, &key, &err) != 0)
        return invalid(why, "the DPoP proof's jwk is not a public signature key (private members, a symmetric "
                            "key, or an unsupported key type)");
    struct jose_keyset set = {&key, 1};
    struct jws_verified v;
    int rc = jws_verify_keys(a, jws, len, &set, DPOP_ALGS, &v, &err);
    if (rc == JOSE_ERR_BAD_SIGNATURE)
        return invalid(why, "the DPoP proof's signature does not verify with its jwk");
    if (rc != 0)
        return invalid(why, "the DPoP proof's alg does not fit its jwk");
    const char *jti = claim_str(payload, "jti");
    if (jti == NULL || jti[0] == '\0' || strlen(jti) > JTI_MAX)
        return invalid(why, "the DPoP proof needs a jti (a string of at most 256 characters)");
    const char *htm = claim_str(payload, "htm");
    if (htm == NULL || strcmp(htm, x->htm) != 0)
        return invalid(why, "the DPoP proof's htm does not match the request method");
    const char *htu = claim_str(payload, "htu");
    if (htu == NULL || !htu_matches(a, htu, x->htu))
        return invalid(why, "the DPoP proof's htu does not match the URL of this endpoint");
    json_t *iat = json_object_get(payload, "iat");
    if (!json_is_integer(iat))
        return invalid(why, "the DPoP proof needs an integer iat");
    out->iat = json_integer_value(iat);
    if (out->iat > x->now + DPOP_IAT_LEEWAY)
        return invalid(why, "the DPoP proof's iat is in the future");
    if (out->iat < x->now - x->max_age)
        return invalid(why, "the DPoP proof is too old (iat); make a new one for each request");
    if (x->access_token != NULL) {
        const char *ath = claim_str(payload, "ath");
        const char *want = dpop_ath(a, x->access_token, strlen(x->access_token));
        if (ath == NULL)
            return invalid(why, "the DPoP proof needs ath, the hash of the access token");
        if (strlen(ath) != strlen(want) || CRYPTO_memcmp(ath, want, strlen(want)) != 0)
            return invalid(why, "the DPoP proof's ath does not match the access token");
    }
    if (x->nonce_secret != NULL) {
        const char *nonce = claim_str(payload, "nonce");
        if (nonce == NULL || !dpop_nonce_valid(x->nonce_secret, nonce, strlen(nonce), x->now)) {
            *why = nonce == NULL ? "a DPoP nonce is required: use the DPoP-Nonce of this response"
                                 : "the DPoP nonce is not current: use the DPoP-Nonce of this response";
            return DPOP_NONCE;
        }
    }
    out->jkt = jose_pubkey_thumbprint(a, key);
    out->jti = jti;
    /* Acceptable until iat + max_age: remembered that long (and at least a second). */
    out->replay_exp = out->iat + x->max_age + 1;
    if (out->replay_exp <= x->now)
        out->replay_exp = x->now + 1;
    return DPOP_VALID;
}

/* ---- at the endpoints ---- */

/* The algs="..." parameter of the DPoP challenge (RFC 9449 §7.1). */
static const char *algs_param(struct arena *a)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 256);
    strbuf_adds(&sb, "algs=\"");
    for (int alg = 0; alg < JOSE_ALG__COUNT; alg++) {
        if ((JOSE_ALG_BIT(alg) & DPOP_ALGS) == 0)
            continue;
        if (sb.len > 6)
            strbuf_addc(&sb, ' ');
        strbuf_adds(&sb, jose_alg_name((enum jose_alg)alg));
    }
    strbuf_addc(&sb, '"');
    return strbuf_str(&sb);
}

struct oauth_error dpop_resource_error(struct arena *a, enum oauth_err code, const char *description)
{
    struct oauth_error e = {code, description, 401, arena_printf(a, "DPoP %s", algs_param(a))};
    return e;
}

static struct oauth_error proof_error(struct arena *a, enum oauth_err code, const char *description, bool resource)
{
    if (resource)
        return dpop_resource_error(a, code, description);
    return (struct oauth_error){code, description, 0, NULL};
}

struct oauth_error dpop_check(struct http_req *req, const char *path, const char *access_token,
                              struct dpop_proof *out, bool *present)
{
    struct app *app = req->worker->app;
    bool resource = access_token != NULL;
    size_t count = 0;
    struct str h = http_req_header(req, "dpop", &count);
    memset(out, 0, sizeof(*out));
    *present = count > 0;
    if (count == 0)
        return OAUTH_OK;
    int64_t now = clock_now();
    const char *secret = app->cfg->dpop.nonce ? app->key_secret : NULL;
    if (secret != NULL)
        http_res_header(req, "DPoP-Nonce", dpop_nonce_make(req->arena, secret, now));
    /* RFC 9449 §4.3 check 1: exactly one DPoP header. */
    if (count > 1)
        return proof_error(req->arena, OAUTH_ERR_INVALID_DPOP_PROOF, "more than one DPoP header", resource);
    struct dpop_expect x = {0};
    x.htm = str_dup(req->arena, req->method);
    x.htu = arena_printf(req->arena, "%s%s", app->issuer, path);
    x.access_token = access_token;
    x.nonce_secret = secret;
    x.now = now;
    x.max_age = app->cfg->dpop.proof_max_age;
    const char *why = NULL;
    enum dpop_verdict v = dpop_proof_verify(req->arena, h.p, h.len, &x, out, &why);
    if (v == DPOP_NONCE)
        return proof_error(req->arena, OAUTH_ERR_USE_DPOP_NONCE, why, resource);
    if (v != DPOP_VALID)
        return proof_error(req->arena, OAUTH_ERR_INVALID_DPOP_PROOF, why, resource);
    return OAUTH_OK;
}

struct oauth_error dpop_proof_record(struct http_req *req, const struct dpop_proof *p, bool resource)
{
    /* Keyed by the proof's key and jti: one client's jti cannot block another's. */
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 512);
    strbuf_add(&sb, "dpop\0", 5);
    strbuf_adds(&sb, p->jkt);
    strbuf_addc(&sb, '\0');
    strbuf_adds(&sb, p->jti);
    uint8_t key[STORE_HASH_LEN];
    store_hash(sb.buf, sb.len, key);
    struct errbuf err;
    int rc = store_single_use_put(req->worker->db, key, p->replay_exp, clock_now(), &err);
    if (rc == ERR_CONFLICT)
        return proof_error(req->arena, OAUTH_ERR_INVALID_DPOP_PROOF,
                           "the DPoP proof was already used (its jti was seen); make a new one for each request",
                           resource);
    if (rc != 0)
        return oauth_store_failed(req, "dpop_jti", rc, &err);
    return OAUTH_OK;
}
