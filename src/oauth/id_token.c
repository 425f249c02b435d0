/* id_token.c: the ID token (OIDC Core §2, §3.1.3.6 at_hash, §3.3.2.11 c_hash, §12.2 after a refresh; s_hash
 * of FAPI 1.0 Advanced §5.2.2.1 for the ID tokens of the authorization endpoint),
 * a JWS signed with the client's id_token_signed_response_alg (RS256 by default), and the check of an
 * ID token coming back as id_token_hint (§3.1.2.1). Not encrypted: JWE ID tokens
 * (id_token_encrypted_response_alg) are not supported. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/str.h"
#include "jose/jose.h"
#include "oauth/authz.h"
#include "oauth/client.h"
#include "core/banned.h"

/* Claims this module owns: extra claims (scope claims) never replace them. */
static const char *const registered[] = {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                                         "c_hash", "s_hash", "sid", "azp", "acr", "amr", "nbf", "jti", "typ"};

static bool is_registered(const char *name)
{
    for (size_t i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
        if (strcmp(registered[i], name) == 0)
            return true;
    return false;
}

/* Any JSON value, as jansson's compact output writes it: false if it cannot be written. */
static bool add_value(struct strbuf *p, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return false;
    strbuf_adds(p, text);
    free(text);
    return true;
}

char *id_token_issue(struct worker *w, struct arena *a, const struct id_token_req *r, struct errbuf *err)
{
    const struct client *c = r->client;
    /* Unset (e.g. a client created with the CLI): RS256 if configured, else the first configured algorithm. */
    const char *alg = c->id_token_signed_response_alg;
    if (alg == NULL) {
        const struct config *cfg = w->app->cfg;
        alg = cfg->keys.algorithms[0];
        for (unsigned i = 0; i < cfg->keys.n_algorithms; i++)
            if (strcmp(cfg->keys.algorithms[i], "RS256") == 0)
                alg = "RS256";
    }
    if (!jose_alg_supported(alg)) {
        errbuf_set(err, "id_token: client %s: unsupported id_token_signed_response_alg", c->client_id);
        return NULL;
    }
    /* The claims written straight into the payload, in the order a jansson object of them gave, without
     * building one: every string is escaped by strbuf_add_json (which refuses text that is not UTF-8), and
     * the values that come as JSON (amr, the scope and requested claims) are written by jansson one by one. */
    struct strbuf p;
    strbuf_init(&p, a, 65536);
    strbuf_adds(&p, "{\"iss\":");
    strbuf_add_json(&p, w->app->issuer);
    strbuf_adds(&p, ",\"sub\":");
    strbuf_add_json(&p, r->sub);
    strbuf_adds(&p, ",\"aud\":");
    strbuf_add_json(&p, c->client_id);
    strbuf_adds(&p, ",\"exp\":");
    strbuf_add_i64(&p, r->now + (int64_t)w->app->cfg->tokens.id_token_ttl);
    strbuf_adds(&p, ",\"iat\":");
    strbuf_add_i64(&p, r->now);
    if (r->auth_time > 0) {
        strbuf_adds(&p, ",\"auth_time\":");
        strbuf_add_i64(&p, r->auth_time);
    }
    strbuf_add_json_member(&p, "nonce", r->nonce);
    /* at_hash, c_hash, s_hash: the left half of the hash of the ASCII value, with the hash of the JWS alg. */
    if (r->access_token != NULL)
        strbuf_add_json_member(&p, "at_hash", jose_half_hash(a, alg, r->access_token, strlen(r->access_token)));
    if (r->code != NULL)
        strbuf_add_json_member(&p, "c_hash", jose_half_hash(a, alg, r->code, strlen(r->code)));
    if (r->state != NULL)
        strbuf_add_json_member(&p, "s_hash", jose_half_hash(a, alg, r->state, strlen(r->state)));
    strbuf_add_json_member(&p, "sid", r->sid);
    strbuf_adds(&p, ",\"azp\":");
    strbuf_add_json(&p, c->client_id);
    strbuf_add_json_member(&p, "acr", r->acr);
    bool ok = true;
    if (json_is_array(r->amr) && json_array_size(r->amr) > 0) {
        strbuf_adds(&p, ",\"amr\":");
        ok = add_value(&p, r->amr);
    }
    if (ok && json_is_object(r->claims)) {
        const char *k;
        json_t *v;
        json_object_foreach(r->claims, k, v)
        {
            if (is_registered(k))
                continue;
            strbuf_addc(&p, ',');
            strbuf_add_json(&p, k);
            strbuf_addc(&p, ':');
            if (!(ok = add_value(&p, v)))
                break;
        }
    }
    strbuf_addc(&p, '}');
    const char *payload = strbuf_str(&p);
    if (!ok || payload == NULL) {
        errbuf_set(err, "id_token: cannot serialize the claims (not UTF-8, or too long)");
        return NULL;
    }
    return jws_sign(w->app->keys, a, alg, "JWT", payload, p.len, err);
}

int id_token_hint_verify(struct worker *w, struct arena *a, const char *hint, json_t **claims)
{
    json_t *c;
    const char *typ;
    struct errbuf err;
    *claims = NULL;
    if (hint == NULL || jws_verify(w->app->keys, a, hint, strlen(hint), &c, &typ, &err) != 0)
        return -1;
    /* The same keys sign access tokens (RFC 9068, typ at+jwt): the header tells them apart (RFC 8725
     * §3.11). */
    if (typ != NULL && strcmp(typ, "JWT") != 0)
        return -1;
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *aud = json_string_value(json_object_get(c, "aud"));
    json_t *azp = json_object_get(c, "azp");
    if (iss == NULL || strcmp(iss, w->app->issuer) != 0 || aud == NULL || aud[0] == '\0' ||
        (azp != NULL && (!json_is_string(azp) || strcmp(json_string_value(azp), aud) != 0)) ||
        !json_is_string(json_object_get(c, "sub")) || !json_is_integer(json_object_get(c, "iat")) ||
        !json_is_integer(json_object_get(c, "exp")))
        return -1;
    *claims = c;
    return 0;
}
