/* app.c: what endpoints ask of the process-wide state (struct app, app.h): a configured API by its
 * identifier (RFC 8707), and whether the store is still the one opened. Below the router and every
 * endpoint: it calls none of them. */
#include <stdatomic.h>
#include <string.h>

#include "app.h"
#include "core/log.h"
#include "store/store.h"
#include "core/banned.h"

const struct resource *app_resource(const struct app *app, const char *identifier)
{
    for (size_t i = 0; i < app->n_resources; i++)
        if (strcmp(app->resources[i].identifier, identifier) == 0)
            return &app->resources[i];
    return NULL;
}

bool app_store_ok(struct worker *w)
{
    struct app *app = w->app;
    if (atomic_load(&app->store_lost))
        return false;
    struct errbuf err = {{0}};
    if (store_check(w->db, &err) == 0)
        return true;
    if (!atomic_exchange(&app->store_lost, true))
        log_error("store_lost", LS("detail", err.msg),
                  LS("effect", "endpoints that need the store answer 503 and /healthz reports an error until the "
                               "store is restored and the server restarted"),
                  NULL);
    return false;
}
