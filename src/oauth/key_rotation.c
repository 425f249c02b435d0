/* key_rotation.c: the longest token lifetime (what a retired key must still verify) and the automatic key
 * rotation of a running server (OIDC Core §10.1.1 rollover: publish before signing, keep the old key
 * until its tokens expire). The plan and the store lock are jose/keystore.c's. */
#include "oauth/key_rotation.h"

#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "store/store.h"
#include "core/banned.h"

int token_max_ttl(const struct config *cfg, struct store_conn *db, struct arena *a, int64_t *out,
                  struct errbuf *err)
{
    int64_t m = cfg->tokens.access_token_ttl;
    if (cfg->tokens.id_token_ttl > m)
        m = cfg->tokens.id_token_ttl;
    for (unsigned i = 0; i < cfg->n_resources; i++)
        if (cfg->resources[i].access_token_ttl > m)
            m = cfg->resources[i].access_token_ttl;
    for (unsigned i = 0; i < cfg->n_clients; i++)
        if (cfg->clients[i].access_token_ttl > m)
            m = cfg->clients[i].access_token_ttl;
    struct store_client *v = NULL;
    size_t n = 0;
    int rc = store_client_list(db, a, &v, &n, err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct client c;
        if (client_from_store(a, &v[i], &c) == 0 && c.access_token_ttl > m)
            m = c.access_token_ttl;
    }
    *out = m;
    return 0;
}

int keys_rotate_when_due(struct app *app, struct store_conn *db, int64_t now, size_t *rotated,
                         struct errbuf *err)
{
    const struct cfg_keys *k = &app->cfg->keys;
    const char *const *algs = (const char *const *)k->algorithms;
    size_t made = 0;
    bool pending = false;
    int rc = keystore_rotation_pending(db, algs, k->n_algorithms, now, k->rotation_period, k->publish_ahead,
                                       &pending, err);
    if (rc == 0 && pending) {
        struct arena *a = arena_new(16384);
        int64_t ttl = 0;
        rc = token_max_ttl(app->cfg, db, a, &ttl, err);
        if (rc == 0)
            rc = keystore_auto_rotate(app->keys, db, algs, k->n_algorithms, now, k->rotation_period,
                                      k->publish_ahead, ttl, &made, err);
        if (rc == 0 && made > 0)
            rc = keystore_reload(app->keys, db, err);
        arena_free(a);
    }
    if (rotated != NULL)
        *rotated = made;
    return rc;
}
