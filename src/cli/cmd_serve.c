/* cmd_serve.c: `ostiary serve`: load and validate the configuration, open and migrate the store, load
 * (or generate) the signing keys, apply the clients of the file, then serve until SIGTERM/SIGINT. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/http.h"
#include "http/server.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "oauth/device.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "ui/tmpl.h"
#include "core/banned.h"

static struct worker *worker_init(void *ud, unsigned id)
{
    struct app *app = ud;
    struct worker *w = calloc(1, sizeof(*w));
    struct errbuf err = {{0}};
    w->app = app;
    w->id = id;
    if (store_conn_open(app->store, &w->db, &err) != 0) {
        log_error("worker_start_failed", LI("worker", id), LS("detail", err.msg), NULL);
        free(w);
        return NULL;
    }
    int64_t now = clock_now();
    w->next_gc = now + 10 + id;
    w->next_key_reload = now + app->cfg->keys.reload_interval;
    w->next_discovery_refresh = now + DISCOVERY_REFRESH_SECONDS;
    w->next_store_check = now;
    return w;
}

static void worker_fini(struct worker *w)
{
    client_cache_free(w->clients);
    store_conn_close(w->db);
    free(w);
}

/* Background work, spread over the workers: expired-row GC (bounded per pass) on worker 0, key reload
 * (rotation by the CLI or another instance) of the shared keystore, also on worker 0, the discovery
 * variant (clients changed by the CLI or another instance), and the check that the database is still the
 * one opened, on worker 0 too. A GC pass removes at most GC_PASS rows; a full pass means there is more, and
 * the next one runs at the next tick (about 100 ms later) rather than in 10 s: up to about 10 * GC_PASS rows
 * a second, in short passes, so that an expired backlog is drained without stalling the loop. With several
 * instances on PostgreSQL one of them collects at a time (an advisory lock); the others' passes return at
 * once. */
#define GC_PASS 500
static void worker_tick(struct worker *w)
{
    int64_t now = clock_now();
    struct errbuf err = {{0}};
    if (w->id == 0 && (now >= w->next_gc || w->gc_more)) {
        int removed = 0;
        if (store_gc(w->db, now, GC_PASS, &removed, &err) != 0)
            log_warn("gc_failed", LS("detail", err.msg), NULL);
        else if (removed > 0)
            log_debug("gc", LI("removed", removed), NULL);
        w->gc_more = removed == GC_PASS;
        w->next_gc = now + 10;
    }
    /* The database file still the one opened (one stat a second): app_store_ok logs and reports a loss. */
    if (w->id == 0 && now >= w->next_store_check) {
        app_store_ok(w);
        w->next_store_check = now + 1;
    }
    if (w->id == 0 && now >= w->next_key_reload) {
        if (keystore_reload(w->app->keys, w->db, &err) != 0)
            log_warn("key_reload_failed", LS("detail", err.msg), NULL);
        w->next_key_reload = now + w->app->cfg->keys.reload_interval;
    }
    if (w->id == 0 && now >= w->next_discovery_refresh) {
        if (discovery_refresh(w->app, w->db, &err) != 0)
            log_warn("discovery_refresh_failed", LS("detail", err.msg), NULL);
        w->next_discovery_refresh = now + DISCOVERY_REFRESH_SECONDS;
    }
}

static void *signal_thread(void *arg)
{
    struct app *app = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("stopping", LS("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"), NULL);
    atomic_store(&app->stop, 1);
    return NULL;
}

/* Dev mode, first start: a demo client that may obtain client_credentials tokens for every configured
 * API. Its secret is printed once, on stdout, and stored only as a hash. */
static void create_demo_client(struct app *app, struct store_conn *db)
{
    struct arena *a = arena_new(4096);
    struct client c = {0};
    c.client_id = arena_printf(a, "demo-%s", rand_token(a, 16));
    c.client_name = "Ostiary demo client";
    c.auth_method = CLIENT_AUTH_SECRET_BASIC;
    c.grant_types = GRANT_CLIENT_CREDENTIALS;
    struct strbuf sb;
    strbuf_init(&sb, a, 65536);
    for (size_t i = 0; i < app->n_resources; i++)
        for (size_t k = 0; k < app->resources[i].n_scopes; k++) {
            if (sb.len > 0)
                strbuf_addc(&sb, ' ');
            strbuf_adds(&sb, app->resources[i].scopes[k]);
        }
    c.scope = strbuf_str(&sb);
    if (c.scope == NULL)
        die("dev mode: the scopes of the configured APIs are too long for the demo client");
    const char *secret = rand_token(a, 32);
    struct store_client sc = {0};
    sc.client_id = c.client_id;
    sc.has_secret = true;
    store_hash(secret, strlen(secret), sc.secret_hash);
    char *meta = client_metadata_json(&c);
    sc.metadata = meta;
    sc.created_at = sc.updated_at = clock_now();
    struct errbuf err = {{0}};
    if (store_client_put(db, &sc, &err) != 0)
        die("dev mode: cannot create the demo client: %s", err.msg);
    free(meta);
    printf("\n  Ostiary dev mode: a demo client was created (the secret is shown only this once).\n"
           "    client_id:     %s\n"
           "    client_secret: %s\n"
           "    auth method:   client_secret_basic, grant client_credentials\n\n",
           c.client_id, secret);
    for (size_t i = 0; i < app->n_resources; i++)
        printf("  Try: curl -s -u '%s:%s' -d grant_type=client_credentials -d resource=%s %s/token\n\n",
               c.client_id, secret, app->resources[i].identifier, app->issuer);
    for (unsigned i = 0; i < app->cfg->n_users; i++)
        printf("  User from the configuration file: %s (sign in at %s/auth through a client's login)\n",
               app->cfg->users[i].username, app->issuer);
    if (app->cfg->n_users == 0)
        printf("  No users yet: add one with `ostiary user add NAME --password-stdin`.\n");
    fflush(stdout);
    arena_free(a);
}

int cmd_serve(int argc, char **argv)
{
    /* Block the stop signals before any thread exists (the store starts its checkpoint thread when it
     * opens), so that every thread inherits the mask and only signal_thread receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cli_globals g = {0};
    cli_parse_globals("serve", argc, argv, &g, NULL, NULL);
    struct config *cfg = cli_load_config(&g);
    enum log_level lvl = LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_init(lvl, 2);

    struct app *app = calloc(1, sizeof(*app));
    struct arena *app_arena = arena_new(4096); /* lives as long as the app */
    app->cfg = cfg;
    app->issuer = cfg->issuer;
    app->started_at = clock_now();
    struct store_conn *db;
    cli_open_store(cfg, &app->store, &db);
    char *secret = cli_key_secret(cfg);
    app->key_secret = secret;
    device_cookie_key(secret, app->device_key);
    struct errbuf err = {{0}};
    struct arena *a = arena_new(4096);
    struct store_key *keys = NULL;
    size_t nkeys = 0;
    if (store_key_list(db, a, &keys, &nkeys, &err) != 0)
        die("storage: %s", err.msg);
    bool first_start = nkeys == 0;
    arena_free(a);

    if (keystore_open(db, secret, (const char *const *)cfg->keys.algorithms, cfg->keys.n_algorithms, true,
                      &app->keys, &err) != 0)
        die("keys: %s", err.msg);
    if (clients_apply_config(db, cfg, &err) != 0)
        die("clients: %s", err.msg);
    if (users_apply_config(db, cfg, &err) != 0)
        die("users: %s", err.msg);
    if (tmpl_set_load(cfg->ui.dir, &app->pages, &err) != 0)
        die("ui.dir: %s", err.msg);
    app->limiter = login_limiter_new(cfg->login.max_failures, cfg->login.lockout_seconds);
    if (app->limiter == NULL)
        die("cannot initialize libsodium (login rate limiter)");
    if (device_state_init(app) != 0)
        die("cannot initialize libsodium (user-code rate limiter)");
    app->userinfo_url = arena_printf(app_arena, "%s/me", app->issuer);
    app_resources_load(app);
    discovery_build(app);
    if (discovery_refresh(app, db, &err) != 0)
        die("storage: %s", err.msg);
    if (cfg->dev && first_start)
        create_demo_client(app, db);
    store_conn_close(db);

    pthread_t sig_tid;
    pthread_create(&sig_tid, NULL, signal_thread, app);
    pthread_detach(sig_tid);

    unsigned threads = cfg->workers > 0 ? cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    struct http_listener_config listeners[2] = {
        {.id = HTTP_LISTENER_MAIN,
         .name = "listen",
         .host = cfg->listen_host,
         .port = cfg->listen_port,
         .http2_cleartext = cfg->http2_cleartext},
        {.id = HTTP_LISTENER_ADMIN, .name = "admin.listen", .host = cfg->admin_listen_host,
         .port = cfg->admin_listen_port},
    };
    struct http_server_config hc = {
        .listeners = listeners,
        .n_listeners = cfg->admin_listen_host != NULL ? 2 : 1,
        .threads = threads,
        .max_body_bytes = cfg->limits.max_body_bytes,
        .max_header_bytes = cfg->limits.max_header_bytes,
        .request_timeout_ms = cfg->limits.request_timeout_ms,
        .max_queued_jobs = cfg->limits.login_queue,
        .trusted_proxies = cfg->trusted_proxy_nets,
        .n_trusted_proxies = cfg->n_trusted_proxies,
    };
    struct http_server_hooks hooks = {
        .thread_init = worker_init,
        .thread_fini = worker_fini,
        .tick = worker_tick,
        .handle = app_handle,
        .offload = app_offload,
        .busy = app_busy,
        .ud = app,
    };
    /* The DSN may carry the database password: logged masked. */
    log_info("listening", LS("issuer", app->issuer), LS("listen", cfg->listen),
             LS("admin_listen", cfg->admin.listen), LI("workers", threads),
             LS("storage", store_dsn_redacted(app_arena, cfg->storage)),
             LI("dev", cfg->dev), LI("trusted_proxies", cfg->n_trusted_proxies), NULL);
    if (http_server_run(&hc, &hooks, &app->stop, &err) != 0)
        die("%s", err.msg);
    keystore_free(app->keys);
    tmpl_set_free(app->pages);
    login_limiter_free(app->limiter);
    device_state_release(app);
    arena_free(app_arena);
    store_close(app->store);
    log_info("stopped", NULL);
    explicit_bzero(secret, strlen(secret));
    explicit_bzero(app->device_key, sizeof(app->device_key));
    free(secret);
    free(app->resources);
    free(app->metadata_json[0]);
    free(app->metadata_json[1]);
    config_free(cfg);
    free(app);
    return 0;
}
