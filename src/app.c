/* app.c: what app.h promises about the application state besides routing (router.c, which also moves a
 * worker to the current generation) and discovery (oauth/discovery.c): the configured APIs (RFC 8707
 * resources) as the endpoints see them, and whether the store is still the one opened. Kept
 * apart from the router, which calls every endpoint, so that the endpoints calling these do not call
 * back into it. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

bool app_store_ok(struct worker *w)
{
    struct app *app = w->app;
    if (atomic_load(&app->state->store_lost))
        return false;
    struct errbuf err = {{0}};
    if (store_check(w->db, &err) == 0)
        return true;
    if (!atomic_exchange(&app->state->store_lost, true))
        log_error("store_lost", LS("detail", err.msg),
                  LS("effect", "endpoints that need the store answer 503 and /healthz reports an error until the "
                               "store is restored and the server restarted"),
                  NULL);
    return false;
}

void app_resources_load(struct app *app)
{
    const struct config *cfg = app->cfg;
    app->n_resources = cfg->n_resources;
    app->resources = calloc(cfg->n_resources + 1, sizeof(struct resource));
    if (app->resources == NULL)
        abort();
    for (unsigned i = 0; i < cfg->n_resources; i++) {
        const struct cfg_resource *cr = &cfg->resources[i];
        struct resource *r = &app->resources[i];
        r->identifier = cr->identifier;
        r->audience = cr->audience != NULL ? cr->audience : cr->identifier;
        r->scopes = (const char **)cr->scopes;
        r->n_scopes = cr->n_scopes;
        r->format = cr->access_token_format != NULL && strcmp(cr->access_token_format, "opaque") == 0
                        ? TOKEN_FORMAT_OPAQUE
                        : TOKEN_FORMAT_JWT;
        r->signing_alg = cr->signing_alg != NULL ? cr->signing_alg : cfg->keys.algorithms[0];
        r->access_token_ttl = cr->access_token_ttl;
    }
}

const struct resource *app_resource(const struct app *app, const char *identifier)
{
    for (size_t i = 0; i < app->n_resources; i++)
        if (strcmp(app->resources[i].identifier, identifier) == 0)
            return &app->resources[i];
    return NULL;
}

const struct resource *app_resource_by_audience(const struct app *app, const char *name)
{
    const struct resource *r = app_resource(app, name);
    for (size_t i = 0; r == NULL && i < app->n_resources; i++)
        if (strcmp(app->resources[i].audience, name) == 0)
            r = &app->resources[i];
    return r;
}
