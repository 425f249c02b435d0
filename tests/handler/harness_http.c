/* harness_http.c: the in-process handler harness (harness_http.h): an app built as `ostiary serve` builds
 * it, on a temporary SQLite store, and requests run through the router without a socket. */
#include "harness_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "oauth/client_check.h"
#include "oauth/device.h"
#include "oauth/tokens.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "ui/tmpl.h"
#include "core/banned.h"

#define HX_KEY_SECRET "harness key-encryption secret, tests only"
#define HX_MAX_HEADERS 32

static void hx_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void hx_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("harness_http: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* True if the YAML sets the top-level key (a line starting with "key:"). */
static bool yaml_has(const char *yaml, const char *key)
{
    size_t n = strlen(key);
    for (const char *l = yaml; l != NULL; l = strchr(l, '\n')) {
        if (*l == '\n')
            l++;
        if (strncmp(l, key, n) == 0 && l[n] == ':')
            return true;
    }
    return false;
}

struct hx *hx_open(const char *yaml)
{
    struct hx *h = calloc(1, sizeof(*h));
    if (h == NULL)
        abort();
    log_init(LOG_ERROR, 2);
    snprintf(h->dir, sizeof(h->dir), "/tmp/ostiary-hx-XXXXXX");
    if (mkdtemp(h->dir) == NULL)
        hx_die("mkdtemp failed");
    struct arena *a = arena_new(4096);
    const char *text = arena_printf(
        a, "%s%s%s", yaml_has(yaml, "issuer") ? "" : "issuer: " HX_ISSUER "\n",
        yaml_has(yaml, "storage") ? "" : arena_printf(a, "storage: sqlite:%s/ostiary.db\n", h->dir), yaml);
    struct errbuf err = {{0}};
    struct config *cfg = NULL;
    if (config_load_buffer(text, strlen(text), &cfg, &err) != 0 || oauth_config_validate(cfg, &err) != 0)
        hx_die("configuration: %s", err.msg);
    arena_free(a);

    struct app *app = &h->app;
    app->state = &h->state;
    app->generation = 1;
    app->cfg = cfg;
    app->issuer = cfg->issuer;
    app->started_at = clock_now();
    app->key_secret = HX_KEY_SECRET;
    config_set_str(&cfg->key_secret, HX_KEY_SECRET);
    device_cookie_key(HX_KEY_SECRET, app->device_key);
    int applied = 0;
    if (store_open(cfg->storage, &app->store, &err) != 0 || store_migrate(app->store, &applied, &err) != 0 ||
        store_conn_open(app->store, &h->worker.db, &err) != 0)
        hx_die("storage: %s", err.msg);
    struct store_conn *db = h->worker.db;
    if (keystore_open(db, HX_KEY_SECRET, (const char *const *)cfg->keys.algorithms, cfg->keys.n_algorithms, true,
                      &app->keys, &err) != 0)
        hx_die("keys: %s", err.msg);
    uint8_t users_key[USERS_CONFIG_KEY_LEN];
    users_config_key(HX_KEY_SECRET, users_key);
    if (users_apply_config(db, cfg, users_key, clients_apply_config, &err) != 0)
        hx_die("clients and users: %s", err.msg);
    if (tmpl_set_load(cfg->ui.dir, &app->pages, &err) != 0)
        hx_die("templates: %s", err.msg);
    app->limiter = login_limiter_new(cfg->login.max_failures, cfg->login.lockout_seconds);
    if (app->limiter == NULL || device_state_init(app) != 0)
        hx_die("login and user-code limiters");
    app->reg_limiter = login_limiter_new(cfg->registration.rate_limit, 60);
    if (app->reg_limiter == NULL)
        hx_die("registration limiter");
    app->userinfo_url = HX_ISSUER "/me";
    app_resources_load(app);
    discovery_build(app);
    if (discovery_refresh(app, db, &err) != 0)
        hx_die("discovery: %s", err.msg);
    atomic_store(&h->state.current, app);
    h->worker.state = &h->state;
    h->worker.app = app;
    h->worker.id = 0;
    h->arena = arena_new(16384);
    return h;
}

void hx_close(struct hx *h)
{
    struct app *app = &h->app;
    arena_free(h->arena);
    client_cache_free(h->worker.clients);
    tokens_batch_free(&h->worker);
    store_conn_close(h->worker.db);
    keystore_free(app->keys);
    tmpl_set_free(app->pages);
    login_limiter_free(app->limiter);
    login_limiter_free(app->reg_limiter);
    device_state_release(app);
    store_close(app->store);
    free(app->resources);
    free(app->metadata_json[0]);
    free(app->metadata_json[1]);
    static const char *const files[] = {"ostiary.db", "ostiary.db-wal", "ostiary.db-shm", "ostiary.db-journal"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", h->dir, files[i]);
        unlink(p);
    }
    rmdir(h->dir);
    config_free(app->cfg);
    free(h);
}

struct http_req *hx_request(struct hx *h, const char *method, const char *target)
{
    arena_reset(h->arena);
    struct http_req *req = &h->req;
    memset(req, 0, sizeof(*req));
    req->arena = h->arena;
    req->worker = &h->worker;
    req->method = str_c(arena_strdup(h->arena, method));
    const char *q = strchr(target, '?');
    if (q != NULL) {
        req->path = (struct str){arena_strndup(h->arena, target, (size_t)(q - target)), (size_t)(q - target)};
        req->query = str_c(arena_strdup(h->arena, q + 1));
    } else {
        req->path = str_c(arena_strdup(h->arena, target));
        req->query = STR_NULL;
    }
    req->body = (struct str){"", 0};
    req->headers = arena_alloc(h->arena, sizeof(struct http_kv) * HX_MAX_HEADERS);
    snprintf(req->peer, sizeof(req->peer), "127.0.0.1");
    snprintf(req->tcp_peer, sizeof(req->tcp_peer), "127.0.0.1");
    snprintf(req->rid, sizeof(req->rid), "hx");
    return req;
}

void hx_header(struct http_req *req, const char *name, const char *value)
{
    if (req->n_headers == HX_MAX_HEADERS)
        hx_die("too many request headers");
    char *lc = arena_strdup(req->arena, name);
    for (char *p = lc; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    req->headers[req->n_headers++] = (struct http_kv){str_c(lc), str_c(arena_strdup(req->arena, value))};
}

void hx_form(struct http_req *req, const char *body)
{
    req->body = str_c(arena_strdup(req->arena, body));
    hx_header(req, "content-type", "application/x-www-form-urlencoded");
}

void hx_basic(struct http_req *req, const char *id, const char *secret)
{
    struct strbuf sb;
    strbuf_init(&sb, req->arena, 4096);
    strbuf_add_urlenc(&sb, id, strlen(id));
    strbuf_addc(&sb, ':');
    strbuf_add_urlenc(&sb, secret, strlen(secret));
    hx_header(req, "authorization", arena_printf(req->arena, "Basic %s", b64_encode(req->arena, sb.buf, sb.len)));
}

void hx_run(struct http_req *req)
{
    /* As server.c: the offload hook matches the route first (the pool's answer is not needed here: the
     * request runs on this thread either way), then the handler runs. */
    (void)app_offload(req);
    app_handle(req);
}

const char *hx_res_header(struct http_req *req, const char *name)
{
    for (size_t i = 0; i < req->res.n_headers; i++)
        if (strcasecmp(req->res.headers[i].name, name) == 0)
            return arena_strndup(req->arena, req->res.headers[i].value.p, req->res.headers[i].value.len);
    return NULL;
}

static void json_decref_cb(void *p)
{
    json_decref(p);
}

json_t *hx_json(struct http_req *req)
{
    json_t *j = json_loadb(req->res.body.p, req->res.body.len, 0, NULL);
    if (j != NULL)
        arena_defer(req->arena, json_decref_cb, j);
    return j;
}

const char *hx_json_str(struct http_req *req, const char *key)
{
    return json_string_value(json_object_get(hx_json(req), key));
}

void hx_client_put(struct hx *h, const char *client_id, const char *secret, const char *metadata_json)
{
    struct store_client sc = {0};
    sc.client_id = client_id;
    sc.metadata = metadata_json;
    sc.created_at = sc.updated_at = clock_now();
    if (secret != NULL) {
        sc.has_secret = true;
        store_hash(secret, strlen(secret), sc.secret_hash);
    }
    struct errbuf err = {{0}};
    if (store_client_put(h->worker.db, &sc, &err) != 0)
        hx_die("client %s: %s", client_id, err.msg);
}

const char *hx_put_code(struct hx *h, struct arena *a, const char *client_id, const char *username,
                        const char *scope)
{
    struct store_user u;
    struct errbuf err;
    if (store_user_get_by_name(h->worker.db, a, username, &u, &err) != 0)
        return NULL;
    const char *code = rand_token(a, 32);
    struct store_token t = {0};
    store_hash(code, strlen(code), t.hash);
    t.kind = STORE_TOKEN_CODE;
    t.client_id = client_id;
    t.sub = u.id;
    t.scope = scope;
    t.grant_id = rand_token(a, 16);
    t.data = "{\"redirect_uri\":\"https://rp.example.com/cb\",\"code_challenge\":\"" HX_CHALLENGE
             "\",\"code_challenge_method\":\"S256\",\"auth_time\":1}";
    t.iat = clock_now();
    t.exp = clock_now() + 60;
    if (store_token_put(h->worker.db, &t, &err) != 0)
        return NULL;
    return code;
}

const char *hx_code_body(struct arena *a, const char *code)
{
    return arena_printf(a,
                        "grant_type=authorization_code&code=%s&redirect_uri=https%%3A%%2F%%2Frp.example.com%%2Fcb"
                        "&code_verifier=" HX_VERIFIER,
                        code);
}
