/* app.h: the application state (struct app, owned by `ostiary serve`) and the per-thread context (struct
 * worker). Endpoints reach both through req->worker.
 *
 * Reload (SIGHUP) and generations. A struct app is one generation: the configuration and everything built
 * from it (APIs, discovery documents, page templates), immutable once published, plus pointers to what
 * every generation shares (store, keys, login limiter, the device grant's pace table and user-code limiter)
 * and to the shared mutable state (struct app_state). A reload builds a whole new generation and publishes it in app_state.current; a worker
 * switches to it between requests (app_enter), never during one, so a request sees one configuration
 * from start to end. A replaced generation is freed by a later reload once APP_GEN_GRACE_SECONDS have
 * passed (no request lasts that long), or when the server stops. */
#ifndef OSTIARY_APP_H
#define OSTIARY_APP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

struct arena;
struct store;
struct store_conn;
struct keystore;
struct http_req;
struct tmpl_set;
struct login_limiter;
struct fetch_cache;
struct limiter;
struct device_pace;

enum token_format { TOKEN_FORMAT_OPAQUE = 0, TOKEN_FORMAT_JWT = 1 };

/* An API (RFC 8707 resource) tokens can be issued for. */
struct resource {
    const char *identifier; /* RFC 8707: what resource= names, and what grants remember */
    const char *audience;   /* the aud of its access tokens: its configured audience, else the identifier */
    const char **scopes;
    size_t n_scopes;
    enum token_format format;
    const char *signing_alg;
    uint32_t access_token_ttl;
    /* Tokens only through client_credentials: never at /auth, never named in discovery (the admin API). */
    bool client_credentials_only;
};

/* With admin.listen set, the admin API (admin/admin.h) is a built-in API whose identifier is the issuer
 * followed by ADMIN_API_PATH (the `aud` of its tokens, the `resource` a client asks them for). */
#define ADMIN_API_PATH "/admin"

/* What every generation shares and what changes while serving. */
struct app_state {
    _Atomic(struct app *) current; /* the generation new requests use */
    atomic_bool pkce_plain_allowed; /* some client allows plain: written by discovery_refresh */
    atomic_int stop;
    atomic_bool store_lost;         /* the database was deleted or replaced under us (app_store_ok); sticky */
    /* Bumped by the admin API after it changed a client: the workers' client caches (oauth/client.c) drop
     * what they fetched before, so the change holds at once in this process. */
    atomic_uint clients_generation;
};

/* A replaced generation stays usable this long (seconds) before a later reload may free it. */
#define APP_GEN_GRACE_SECONDS 60

struct app {
    struct app_state *state;
    uint64_t generation;         /* 1 at start, +1 per reload */
    struct arena *arena;         /* memory of this generation (the admin API's resource) */
    struct config *cfg;
    struct store *store;
    struct keystore *keys;
    const char *issuer;          /* normalized: no trailing '/' */
    const char *key_secret;      /* key-encryption secret (never logged) */
    uint8_t device_key[32];      /* device-cookie MAC key, from key_secret (session.h: device_cookie_key) */
    struct resource *resources;
    size_t n_resources;
    /* Endpoint paths (issuer path + endpoint), and their absolute URLs for discovery. */
    struct {
        const char *discovery, *oauth_metadata, *jwks, *token, *introspection, *revocation, *healthz;
    } path;
    /* The provider metadata (OpenID Connect Discovery, RFC 8414: one document), served from memory.
     * Built with the generation in two variants, [1] advertising the plain PKCE method and [0] not;
     * state->pkce_plain_allowed picks one. */
    char *metadata_json[2];
    size_t metadata_len[2];
    struct tmpl_set *pages;      /* login, consent, error... (ui/tmpl.h) */
    struct login_limiter *limiter;
    struct fetch_cache *fetch;   /* HTTPS documents clients publish (http/fetch.h); shared by generations */
    /* Registrations per address (registration.rate_limit; oauth/registration.c), shared like limiter. */
    struct login_limiter *reg_limiter;
    /* The device grant (oauth/device.h: device_state_init): the polling pace of device codes, the limiter
     * of wrong user codes on the verification page, and the user codes' lookup key (from key_secret). */
    struct device_pace *device_pace;
    struct limiter *user_code_limiter;
    uint8_t user_code_key[32];
    const char *userinfo_url;    /* <issuer>/me: an access token audience when openid is granted */
    int64_t started_at;
};

struct client_cache;
struct token_batch;

struct worker {
    struct app *app;              /* the generation of the request being served (app_enter) */
    struct app_state *state;      /* shared by every generation; read by app_enter */
    struct store_conn *db;
    struct client_cache *clients; /* oauth/client.c, owned by this worker */
    struct token_batch *batch;    /* oauth/tokens.c: rows waiting for the loop's group commit */
    unsigned id;
    int64_t next_gc, next_key_reload, next_discovery_refresh, next_store_check;
    bool gc_more; /* the last GC pass was full: run the next one at the next tick */
    /* A pool thread's (false: an event loop's): may wait on the network (a client document's fetch). */
    bool may_block;
};

/* Builds app->resources from app->cfg's (the configuration owns the strings; app->resources is malloc'd,
 * freed by the owner of the app). */
void app_resources_load(struct app *app);
/* Finds a configured API by identifier; NULL if none. */
const struct resource *app_resource(const struct app *app, const char *identifier);
/* Finds a configured API by identifier or by audience name (what audience= may name); NULL if none. */
const struct resource *app_resource_by_audience(const struct app *app, const char *name);

/* Builds the discovery documents from what is configured (oauth/discovery.c). */
void discovery_build(struct app *app);
/* Seconds between two discovery_refresh() calls of worker 0: the bound on how long discovery may
 * advertise a PKCE method no client allows any more, or miss one a client was just given. */
#define DISCOVERY_REFRESH_SECONDS 5
/* Asks the store whether some client allows the plain PKCE method and sets state->pkce_plain_allowed
 * accordingly (one query; see store_client_meta_has). On a store error the flag is left as it was and
 * err says why. Called at start, then by worker 0 every DISCOVERY_REFRESH_SECONDS. */
int discovery_refresh(struct app *app, struct store_conn *db, struct errbuf *err);

/* False once the store is lost: its file deleted or replaced under the running server (store_check, one
 * stat). The first failure is logged (once per process) and is final: every later call says false, the
 * endpoints that need the store answer 503, /healthz reports it. Called by worker 0's tick every second
 * and by every /healthz (oauth/discovery.c). Defined in app.c. */
bool app_store_ok(struct worker *w);

/* Moves the worker to the current generation (before a request or a tick; never during one). When the
 * generation changed, the worker's client cache is dropped, so clients changed by a reload apply at once.
 * Called by app_handle, app_offload, app_busy and the tick. Defined in router.c, which may drop
 * oauth/'s client cache. */
void app_enter(struct worker *w);

/* Routing: the one entry point the HTTP server calls (router.c). */
void app_handle(struct http_req *req);
/* Requests served off the event loop: those whose route runs the method on the login pool (the login
 * form post, which verifies a password hash). Matches the route and records it in req->route, which
 * app_handle then reuses. */
bool app_offload(struct http_req *req);
/* The answer to an offloaded request that will not be served (the queue is full, or the server stops): a
 * 503 page with Retry-After (oauth_login_busy). */
void app_busy(struct http_req *req, unsigned retry_after_s);
/* Group commit (http/server.h's flush, held_failed and held_retry): commits the writes the worker's held
 * requests queued (tokens_flush); the answer to a held request whose write could not be committed (the
 * store error of its endpoint: 503 temporarily_unavailable for an outage, else 500 server_error); whether a
 * held request is to be served again (tokens_held_retry): its redemption lost to a concurrent one, or the
 * commit failed and its endpoint answers that itself (an authorization response's error redirect). */
int app_flush(struct worker *w);
void app_held_failed(struct http_req *req, int rc);
bool app_held_retry(struct worker *w, const struct http_req *req);

#endif
