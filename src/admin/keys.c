/* keys.c: the admin API's signing keys: list them with their state, and rotate (docs/keys.md): a new key
 * per algorithm, published now and signing after the publish delay; the key it replaces stays published
 * until every token it signed has expired. The same steps as `ostiary keys rotate` (jose/keystore.c); this
 * server publishes the new key at once, the others at their next reload. Runs off the event loop (an RSA
 * key takes a while to generate). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin_internal.h"
#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "jose/jose.h"
#include "oauth/key_rotation.h"
#include "core/banned.h"

void admin_keys_list(struct admin_call *c)
{
    if (!admin_query_only(c, NULL))
        return;
    struct errbuf err = {{0}};
    struct keystore_info *info = NULL;
    size_t n = 0;
    if (keystore_list(c->db, c->a, clock_now(), &info, &n, &err) != 0) {
        admin_store_failed(c, "key_list", &err);
        return;
    }
    json_t *keys = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(keys, keystore_info_json(&info[i]));
    json_t *o = json_object();
    json_object_set_new(o, "keys", keys);
    admin_json(c, 200, o);
}

static bool configured(const struct config *cfg, const char *alg)
{
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++)
        if (strcmp(cfg->keys.algorithms[i], alg) == 0)
            return true;
    return false;
}

void admin_keys_rotate(struct admin_call *c)
{
    static const char *const allowed[] = {"alg", "publish_delay", NULL};
    const struct config *cfg = c->app->cfg;
    json_t *alg = c->body != NULL ? json_object_get(c->body, "alg") : NULL;
    json_t *delay = c->body != NULL ? json_object_get(c->body, "publish_delay") : NULL;
    if (c->body != NULL && !admin_body_only(c, allowed))
        return;
    /* Only an algorithm the server signs with: a key of another would be published and never sign. */
    if (alg != NULL && (!json_is_string(alg) || !configured(cfg, json_string_value(alg)))) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST, "alg: one of keys.algorithms");
        return;
    }
    if (delay != NULL && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
                          json_integer_value(delay) > KEY_PUBLISH_DELAY_MAX)) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                      arena_printf(c->a, "publish_delay: seconds between 0 and %d", KEY_PUBLISH_DELAY_MAX));
        return;
    }
    const char *one[1] = {json_string_value(alg)};
    const char *const *algs = alg != NULL ? one : (const char *const *)cfg->keys.algorithms;
    size_t nalgs = alg != NULL ? 1 : cfg->keys.n_algorithms;
    int64_t now = clock_now(), ttl = 0, wait = delay != NULL ? json_integer_value(delay) : 0;
    struct errbuf err = {{0}};
    if (token_max_ttl(cfg, c->db, c->a, &ttl, &err) != 0) {
        admin_store_failed(c, "client_list", &err);
        return;
    }
    json_t *made = json_array();
    arena_defer(c->a, (void (*)(void *))json_decref, made);
    for (size_t i = 0; i < nalgs; i++) {
        char *kid = NULL;
        if (keystore_rotate(c->db, c->app->key_secret, algs[i], now, wait, ttl, &kid, &err) != 0) {
            admin_store_failed(c, "key_rotate", &err);
            return;
        }
        admin_audit(c, "keys.rotate", kid);
        json_array_append_new(made, json_pack("{s:s, s:s, s:I}", "kid", kid, "alg", algs[i], "sign_from",
                                              (json_int_t)(now + wait)));
        free(kid);
    }
    /* Published here at once; the other instances find it at their next reload. */
    if (keystore_reload(c->app->keys, c->db, &err) != 0)
        log_warn("key_reload_failed", LS("rid", c->req->rid), LS("detail", err.msg), NULL);
    json_t *o = json_object();
    json_object_set(o, "keys", made);
    admin_json(c, 200, o);
}
