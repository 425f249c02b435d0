/* cmd_serve.c: `ostiary serve`: load and validate the configuration, open and migrate the store, load
 * (or generate) the signing keys, apply the clients and users of the file, then serve until
 * SIGTERM/SIGINT. SIGHUP reloads: the TLS certificate, and the configuration file as a new generation of
 * struct app (app.h), published only once it is valid, built and applied to the store whole. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "app.h"
#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/http.h"
#include "http/fetch.h"
#include "http/server.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "oauth/client_check.h"
#include "oauth/device.h"
#include "oauth/key_rotation.h"
#include "oauth/tokens.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "ui/tmpl.h"
#include "core/banned.h"

/* The server: what the signal thread needs to reload, and the generations (app.h). */
struct serve {
    struct app_state state;
    struct cli_globals g; /* the command line, applied again over every reloaded file */
    uint8_t users_key[USERS_CONFIG_KEY_LEN]; /* the digests of the file's user passwords (users.h) */
    struct app *base;     /* generation 1: http_server_config borrows from its cfg; freed at stop */
    unsigned loops;       /* event-loop threads: thread_init ids from loops on are the pool's */
    struct retired_gen {
        struct app *app;
        int64_t retired_at;
        struct retired_gen *next;
    } *retired;
};

static struct worker *worker_init(void *ud, unsigned id)
{
    struct serve *sv = ud;
    struct worker *w = calloc(1, sizeof(*w));
    struct errbuf err = {{0}};
    w->state = &sv->state;
    w->app = atomic_load(&sv->state.current);
    struct app *app = w->app;
    w->id = id;
    w->may_block = id >= sv->loops;
    if (store_conn_open(app->store, &w->db, &err) != 0) {
        log_error("worker_start_failed", LI("worker", id), LS("detail", err.msg), NULL);
        free(w);
        return NULL;
    }
    /* A loop thread's reads share a snapshot per turn of its loop (worker_turn_end); a pool thread, which
     * has no loop, keeps one per read. */
    if (!w->may_block)
        store_loop_reads(w->db);
    int64_t now = clock_now();
    w->next_gc = now + 10 + id;
    w->next_key_reload = now + app->cfg->keys.reload_interval;
    w->next_discovery_refresh = now + DISCOVERY_REFRESH_SECONDS;
    w->next_store_check = now;
    return w;
}

static void worker_turn_end(struct worker *w)
{
    store_turn_end(w->db);
}

static void worker_fini(struct worker *w)
{
    client_cache_free(w->clients);
    tokens_batch_free(w);
    store_conn_close(w->db);
    free(w);
}

/* Background work, spread over the workers: expired-row GC (bounded per pass) on worker 0, the automatic
 * key rotation and the key reload (rotation by the CLI or another instance) of the shared keystore, also on
 * worker 0, the discovery
 * variant (clients changed by the CLI or another instance), and the check that the database is still the
 * one opened, on worker 0 too. A GC pass removes at most GC_PASS rows; a full pass means there is more, and
 * the next one runs at the next tick (about 100 ms later) rather than in 10 s: up to about 10 * GC_PASS rows
 * a second, in short passes, so that an expired backlog is drained without stalling the loop. With several
 * instances on PostgreSQL one of them collects at a time (an advisory lock); the others' passes return at
 * once. */
#define GC_PASS 500
/* Rows are collected GC_GRACE seconds after they expire, not at once: a code, refresh token or request_uri
 * presented just after its expiry is then answered that it has expired (its row is still there to say so)
 * rather than that it is unknown. Every use checks exp itself, so a row kept longer is never honoured. */
#define GC_GRACE 60
static void worker_tick(struct worker *w)
{
    app_enter(w);
    int64_t now = clock_now();
    struct errbuf err = {{0}};
    if (w->id == 0 && (now >= w->next_gc || w->gc_more)) {
        int removed = 0;
        if (store_gc(w->db, now - GC_GRACE, GC_PASS, &removed, &err) != 0)
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
        /* Before the reload: a key this instance adds is published at once; one another instance added is
         * found by the reload. */
        if (keys_rotate_when_due(w->app, w->db, now, NULL, &err) != 0)
            log_warn("key_rotation_failed", LS("detail", err.msg), NULL);
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

/* With an admin listener, the admin API is an API too (admin.h): after those of the file. */
static void add_admin_api(struct app *app, struct arena *a)
{
    if (app->cfg->admin.listen == NULL)
        return;
    struct resource *r = realloc(app->resources, (app->n_resources + 1) * sizeof(*r));
    if (r == NULL)
        abort();
    app->resources = r;
    admin_api_resource(app->cfg, a, &app->resources[app->n_resources++]);
}

/* A generation for cfg (which it takes over): what every generation shares is copied from `proto`, what
 * is built from the configuration is built. NULL with err set when the page templates do not load. */
static struct app *gen_build(const struct app *proto, struct config *cfg, struct errbuf *err)
{
    struct app *app = calloc(1, sizeof(*app));
    if (app == NULL)
        abort();
    *app = *proto;
    app->cfg = cfg;
    app->resources = NULL;
    app->metadata_json[0] = app->metadata_json[1] = NULL;
    app->pages = NULL;
    if (tmpl_set_load(cfg->ui.dir, &app->pages, err) != 0) {
        free(app);
        return NULL;
    }
    app->arena = arena_new(1024);
    app_resources_load(app);
    add_admin_api(app, app->arena);
    discovery_build(app);
    return app;
}

static void gen_free(struct app *app)
{
    explicit_bzero(app->device_key, sizeof(app->device_key));
    explicit_bzero(app->user_code_key, sizeof(app->user_code_key));
    tmpl_set_free(app->pages);
    arena_free(app->arena);
    free(app->resources);
    free(app->metadata_json[0]);
    free(app->metadata_json[1]);
    config_free(app->cfg);
    free(app);
}

/* The clients and users of the file, in one transaction: both change, or neither. Passwords are hashed
 * before it, so the store's write lock is held only for the writes. */
static int apply_file_records(struct serve *sv, struct store_conn *db, struct config *cfg, const char *key_secret,
                              struct errbuf *err)
{
    config_set_str(&cfg->key_secret, key_secret);
    return users_apply_config(db, cfg, sv->users_key, clients_apply_config, err);
}

/* SIGHUP, part 1: the certificate and key are read again (new connections get them; none is dropped). A
 * file that does not load leaves the running certificate in place. */
static void reload_tls(const struct app *app)
{
    struct errbuf err = {{0}};
    if (app->cfg->tls.cert_file == NULL)
        return;
    if (http_server_reload_tls(&err) != 0)
        log_error("tls_reload_failed", LS("detail", err.msg), LS("effect", "the running certificate is kept"),
                  NULL);
    else
        log_info("tls_reloaded", LS("cert_file", app->cfg->tls.cert_file), NULL);
}

/* SIGHUP, part 2: the configuration file, read and checked as at start (the same messages). Settings read
 * at start only (CFG_RESTART) keep their running value and are named in the log. A file that fails, a
 * generation that cannot be built or clients and users the store refuses leave everything as it was. */
static int reload_config(struct serve *sv, struct errbuf *err)
{
    struct app *cur = atomic_load(&sv->state.current);
    struct config *next = NULL;
    if (cli_config_read(&sv->g, &next, err) != 0)
        return ERR_INVALID;
    struct arena *a = arena_new(1024);
    struct strbuf kept;
    strbuf_init(&kept, a, 1024);
    if (config_keep_restart_settings(next, cur->cfg, &kept) > 0) {
        log_warn("config_needs_restart", LS("settings", strbuf_str(&kept)),
                 LS("effect", "changed in the file; the running values stay until the server is restarted"),
                 NULL);
        struct errbuf e = {{0}};
        if (oauth_config_validate(next, &e) != 0) {
            errbuf_set(err, "configuration: %s (with the running values of the settings that need a restart)",
                       e.msg);
            arena_free(a);
            config_free(next);
            return ERR_INVALID;
        }
    }
    arena_free(a);
    struct app *gen = gen_build(cur, next, err);
    if (gen == NULL) {
        config_free(next);
        return ERR_INVALID;
    }
    struct store_conn *db = NULL;
    int rc = store_conn_open(gen->store, &db, err);
    if (rc == 0)
        rc = apply_file_records(sv, db, gen->cfg, gen->key_secret, err);
    if (rc == 0 && discovery_refresh(gen, db, err) != 0)
        rc = ERR_FAIL;
    if (db != NULL)
        store_conn_close(db);
    if (rc != 0) {
        gen_free(gen);
        return rc;
    }
    gen->generation = cur->generation + 1;
    atomic_store_explicit(&sv->state.current, gen, memory_order_release);
    /* The replaced generation may still serve requests begun before the swap: it is freed by a later
     * reload, once no request can be that old. */
    int64_t now = clock_now();
    struct retired_gen **pp = &sv->retired;
    while (*pp != NULL) {
        struct retired_gen *r = *pp;
        if (now - r->retired_at >= APP_GEN_GRACE_SECONDS) {
            *pp = r->next;
            gen_free(r->app);
            free(r);
        } else {
            pp = &r->next;
        }
    }
    if (cur != sv->base) {
        struct retired_gen *r = calloc(1, sizeof(*r));
        if (r == NULL)
            abort();
        r->app = cur;
        r->retired_at = now;
        r->next = sv->retired;
        sv->retired = r;
    }
    log_info("config_reloaded", LI("generation", gen->generation), LI("clients", gen->cfg->n_clients),
             LI("users", gen->cfg->n_users), LI("resources", gen->cfg->n_resources), NULL);
    return 0;
}

/* Off the start's path (users.h): one argon2id computation (passwords.argon2id), begun once the start is over so that
 * it does not compete with it for a core (a login of an unknown user before then computes it itself). */
static void *warm_up_thread(void *arg)
{
    atomic_int *stop = arg;
    struct timespec delay = {0, 300 * 1000000L};
    nanosleep(&delay, NULL);
    if (!atomic_load(stop))
        users_warm_up();
    return NULL;
}

/* The signals the server waits for on signal_thread; blocked in every thread. */
static void serve_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

static void *signal_thread(void *arg)
{
    struct serve *sv = arg;
    sigset_t set;
    serve_signals(&set);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("reload", LS("signal", "SIGHUP"), NULL);
            reload_tls(atomic_load(&sv->state.current));
            struct errbuf err = {{0}};
            if (reload_config(sv, &err) != 0)
                log_error("config_reload_failed", LS("detail", err.msg),
                          LS("effect", "the running configuration is kept"), NULL);
            continue;
        }
        log_info("stopping", LS("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"), NULL);
        atomic_store(&sv->state.stop, 1);
        return NULL;
    }
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
    /* Block the stop and reload signals before any thread exists (the store starts its checkpoint thread
     * when it opens), so that every thread inherits the mask and only signal_thread receives them. */
    sigset_t set;
    serve_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    static struct serve sv;
    /* Where a start spends its time, for the `listening` line (bench/cold_start.sh reads it). */
    int64_t t_start = clock_mono_us(), t_config, t_store, t_keys, t_records;
    cli_parse_globals("serve", argc, argv, &sv.g, NULL, NULL);
    struct config *cfg = cli_load_config(&sv.g);
    struct errbuf err = {{0}};
    if (cli_check_start_files(cfg, &err) != 0)
        die("%s", err.msg);
    enum log_level lvl = LOG_INFO;
    log_level_parse(cfg->log_level, &lvl);
    log_init(lvl, 2);
    t_config = clock_mono_us();

    /* What every generation shares, set on a prototype that the first generation is built from. */
    struct app proto = {0};
    struct arena *app_arena = arena_new(4096); /* lives as long as the server */
    proto.state = &sv.state;
    proto.generation = 1;
    proto.issuer = cfg->issuer;
    proto.started_at = clock_now();
    struct store_conn *db;
    cli_open_store(cfg, &proto.store, &db);
    t_store = clock_mono_us();
    char *secret = cli_key_secret(cfg);
    proto.key_secret = secret;
    device_cookie_key(secret, proto.device_key);
    users_config_key(secret, sv.users_key);
    struct arena *a = arena_new(4096);
    struct store_key *keys = NULL;
    size_t nkeys = 0;
    if (store_key_list(db, a, &keys, &nkeys, &err) != 0)
        die("storage: %s", err.msg);
    bool first_start = nkeys == 0;
    arena_free(a);

    if (keystore_open(db, secret, (const char *const *)cfg->keys.algorithms, cfg->keys.n_algorithms, true,
                      &proto.keys, &err) != 0)
        die("keys: %s", err.msg);
    t_keys = clock_mono_us();
    if (apply_file_records(&sv, db, cfg, secret, &err) != 0)
        die("clients and users: %s", err.msg);
    t_records = clock_mono_us();
    proto.limiter = login_limiter_new(cfg->login.max_failures, cfg->login.lockout_seconds);
    if (proto.limiter == NULL)
        die("cannot initialize libsodium (login rate limiter)");
    struct fetch_opts fo = {cfg->fetch.ca_file,           cfg->fetch.timeout_ms,        cfg->fetch.max_bytes,
                            cfg->fetch.cache_min_seconds, cfg->fetch.cache_max_seconds, cfg->fetch.refetch_seconds,
                            cfg->fetch.allow_private_addresses};
    proto.fetch = fetch_cache_new(&fo);
    /* The first wait of the registration limiter is 60 s (docs/configuration.md, registration.rate_limit). */
    proto.reg_limiter = login_limiter_new(cfg->registration.rate_limit, 60);
    if (proto.reg_limiter == NULL)
        die("cannot initialize libsodium (registration rate limiter)");
    proto.cfg = cfg; /* device_state_init reads device.lockout_seconds; each generation gets its own cfg */
    if (device_state_init(&proto) != 0)
        die("cannot initialize libsodium (user-code rate limiter)");
    proto.userinfo_url = arena_printf(app_arena, "%s/me", proto.issuer);
    struct app *app = gen_build(&proto, cfg, &err);
    if (app == NULL)
        die("ui.dir: %s", err.msg);
    explicit_bzero(proto.device_key, sizeof(proto.device_key));
    explicit_bzero(proto.user_code_key, sizeof(proto.user_code_key));
    sv.base = app;
    atomic_store(&sv.state.current, app);
    if (discovery_refresh(app, db, &err) != 0)
        die("storage: %s", err.msg);
    if (cfg->dev && first_start)
        create_demo_client(app, db);
    store_conn_close(db);

    pthread_t sig_tid;
    pthread_create(&sig_tid, NULL, signal_thread, &sv);
    pthread_detach(sig_tid);
    pthread_t warm_tid;
    bool warming = pthread_create(&warm_tid, NULL, warm_up_thread, &sv.state.stop) == 0;

    unsigned threads = cfg->workers > 0 ? cfg->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    sv.loops = threads;
    bool tls = cfg->tls.cert_file != NULL;
    struct http_listener_config listeners[2] = {
        {.id = HTTP_LISTENER_MAIN,
         .name = "listen",
         .host = cfg->listen_host,
         .port = cfg->listen_port,
         .http2_cleartext = cfg->http2_cleartext,
         .tls = tls},
        {.id = HTTP_LISTENER_ADMIN,
         .name = "admin.listen",
         .host = cfg->admin_listen_host,
         .port = cfg->admin_listen_port,
         .tls = tls},
    };
    /* RFC 6797: browsers that reached the issuer over https keep to https (through a TLS proxy too). */
    const char *hsts = strncmp(app->issuer, "https://", 8) == 0 && cfg->tls.hsts_max_age > 0
                           ? arena_printf(app_arena, "max-age=%u", cfg->tls.hsts_max_age)
                           : NULL;
    /* Borrowed from the first generation's configuration, which lives until the end (sv.base). */
    struct http_server_config hc = {
        .listeners = listeners,
        .n_listeners = cfg->admin_listen_host != NULL ? 2 : 1,
        .threads = threads,
        .max_body_bytes = cfg->limits.max_body_bytes,
        .max_header_bytes = cfg->limits.max_header_bytes,
        .request_timeout_ms = cfg->limits.request_timeout_ms,
        .max_queued_jobs = cfg->limits.login_queue,
        .tls_cert_file = cfg->tls.cert_file,
        .tls_key_file = cfg->tls.key_file,
        .hsts = hsts,
        .trusted_proxies = cfg->trusted_proxy_nets,
        .n_trusted_proxies = cfg->n_trusted_proxies,
    };
    struct http_server_hooks hooks = {
        .thread_init = worker_init,
        .thread_fini = worker_fini,
        .tick = worker_tick,
        .turn_end = worker_turn_end,
        .handle = app_handle,
        .offload = app_offload,
        .busy = app_busy,
        .flush = app_flush,
        .held_failed = app_held_failed,
        .held_retry = app_held_retry,
        .ud = &sv,
    };
    int64_t t_ready = clock_mono_us();
    /* The DSN may carry the database password: logged masked. */
    log_info("listening", LS("issuer", app->issuer), LS("listen", cfg->listen),
             LS("admin_listen", cfg->admin.listen), LI("tls", tls), LI("workers", threads),
             LS("storage", store_dsn_redacted(app_arena, cfg->storage)), LI("dev", cfg->dev),
             LI("trusted_proxies", cfg->n_trusted_proxies), LI("clients", cfg->n_clients),
             LI("users", cfg->n_users), LI("start_us", t_ready - t_start),
             LI("config_us", t_config - t_start), LI("store_us", t_store - t_config),
             LI("keys_us", t_keys - t_store), LI("records_us", t_records - t_keys), NULL);
    if (http_server_run(&hc, &hooks, &sv.state.stop, &err) != 0)
        die("%s", err.msg);
    if (warming)
        pthread_join(warm_tid, NULL);
    /* Every thread that could hold a generation has stopped. */
    struct app *cur = atomic_load(&sv.state.current);
    keystore_free(cur->keys);
    login_limiter_free(cur->limiter);
    fetch_cache_free(cur->fetch);
    login_limiter_free(cur->reg_limiter);
    device_state_release(cur);
    store_close(cur->store);
    while (sv.retired != NULL) {
        struct retired_gen *r = sv.retired;
        sv.retired = r->next;
        gen_free(r->app);
        free(r);
    }
    if (cur != sv.base)
        gen_free(cur);
    gen_free(sv.base);
    arena_free(app_arena);
    log_info("stopped", NULL);
    explicit_bzero(secret, strlen(secret));
    explicit_bzero(sv.users_key, sizeof(sv.users_key));
    free(secret);
    return 0;
}
