/* server.c: libh2o (evloop) adapter — the only file that includes the HTTP library. Builds struct
 * http_req from h2o_req_t, enforces the header-size cap, writes struct http_res back, logs one access
 * line per request. HTTP parsing, body-size (413) and slow-client timeouts are h2o's. */
#include "http/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "http/http.h"
#include "http/proxy.h"
#include "core/banned.h"

struct thread {
    h2o_context_t ctx; /* first: on_req finds the thread from req->conn->ctx */
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    const struct http_server_hooks *hooks;
    const struct http_server_config *cfg;
    struct worker *worker;
    struct arena *arena;
    unsigned id;
    uint64_t seq;
    uint32_t rid_prefix;
    atomic_int *stop;
    int fd;
    long inflight;
    pthread_t tid;
    int init_failed;
    h2o_multithread_queue_t *queue;   /* completions of offloaded requests arrive here */
    h2o_multithread_receiver_t done_receiver;
};

/* ---- offloaded requests ----
 * A request the application marks as slow (hooks->offload: a login, whose password hash costs tens of
 * milliseconds of CPU) is copied into a job and served by a pool thread, so the event loop keeps serving
 * its other connections. The pool thread posts the finished job back to the loop thread, which writes the
 * response. If the client goes away first, h2o disposes the request and the job is only freed. */
struct job {
    h2o_multithread_message_t msg; /* first: the loop thread gets the job back from the message */
    struct thread *loop;
    h2o_req_t *hreq;
    struct job **link;             /* in the request pool; NULL-ed when the job completes */
    struct http_req req;
    int64_t start;
    bool cancelled;                /* set on the loop thread when h2o disposed the request */
    struct job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    bool stop;
    const struct http_server_hooks *hooks;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, false, NULL};

static h2o_globalconf_t globalconf;

struct http_server_handler {
    h2o_handler_t super;
};

static void inflight_done(void *p)
{
    struct thread **tp = p;
    (*tp)->inflight--;
}

struct str http_req_header(const struct http_req *req, const char *lcname, size_t *count)
{
    struct str v = STR_NULL;
    size_t c = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (str_eq_c(req->headers[i].name, lcname)) {
            if (c == 0)
                v = req->headers[i].value;
            c++;
        }
    }
    if (count != NULL)
        *count = c;
    return v;
}

void http_res_header(struct http_req *req, const char *name, const char *value)
{
    if (req->res.n_headers == HTTP_MAX_RES_HEADERS) {
        log_error("bug", LS("what", "too many response headers"), LS("header", name), NULL);
        abort();
    }
    struct http_header *h = &req->res.headers[req->res.n_headers++];
    h->name = arena_strdup(req->arena, name);
    h->value = (struct str){arena_strdup(req->arena, value), strlen(value)};
}

void http_res_body(struct http_req *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    if (content_type != NULL)
        http_res_header(req, "Content-Type", content_type);
    req->res.body = (struct str){arena_memdup(req->arena, body, len), len};
}

void http_res_json(struct http_req *req, int status, const char *json, size_t len)
{
    http_res_body(req, status, "application/json", json, len);
}

void http_res_no_store(struct http_req *req)
{
    http_res_header(req, "Cache-Control", "no-store");
    http_res_header(req, "Pragma", "no-cache");
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 302: return "Found";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "OK";
    }
}

static void send_plain_error(struct http_req *req, int status, const char *error, const char *desc)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "{\"error\":\"%s\",\"error_description\":\"%s\"}", error, desc);
    req->log_error = error;
    http_res_json(req, status, buf, (size_t)n);
}

/* Writes req->res to h2o and logs the access line. Runs on the request's loop thread. */
static void send_response(h2o_req_t *hreq, struct http_req *req, int64_t start)
{
    struct arena *a = req->arena;
    if (req->res.status == 0)
        req->res.status = 500;
    hreq->res.status = req->res.status;
    hreq->res.reason = reason(req->res.status);
    for (size_t i = 0; i < req->res.n_headers; i++) {
        struct http_header *h = &req->res.headers[i];
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, h->name, strlen(h->name), 1, NULL,
                              h2o_strdup(&hreq->pool, h->value.p, h->value.len).base, h->value.len);
    }
    h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&hreq->pool, req->rid, strlen(req->rid)).base, strlen(req->rid));
    hreq->res.content_length = req->res.body.len;
    /* h2o_send_inline copies the body into the request pool, so the arena can be reset afterwards. */
    h2o_send_inline(hreq, req->res.body.p != NULL ? req->res.body.p : "", req->res.body.len);

    log_info("request", LS("rid", req->rid), LS("method", arena_strndup(a, req->method.p, req->method.len)),
             LS("path", arena_strndup(a, req->path.p, req->path.len)), LI("status", req->res.status),
             LI("dur_us", clock_mono_us() - start), LS("client_id", req->log_client_id),
             LS("error", req->log_error), NULL);
}

static struct str copy_str(struct arena *a, struct str s)
{
    return s.p == NULL ? s : (struct str){arena_strndup(a, s.p, s.len), s.len};
}

static void job_request_gone(void *p)
{
    struct job **link = p;
    if (*link != NULL)
        (*link)->cancelled = true;
}

static void offload(struct thread *t, h2o_req_t *hreq, const struct http_req *src, int64_t start)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    struct arena *a = arena_new(16384);
    j->loop = t;
    j->hreq = hreq;
    j->start = start;
    j->req = *src;
    j->req.arena = a;
    j->req.worker = NULL; /* the pool thread's own */
    j->req.method = copy_str(a, src->method);
    j->req.path = copy_str(a, src->path);
    j->req.query = copy_str(a, src->query);
    j->req.body = copy_str(a, src->body);
    j->req.headers = arena_alloc(a, sizeof(struct http_kv) * (src->n_headers + 1));
    for (size_t i = 0; i < src->n_headers; i++) {
        j->req.headers[i].name = copy_str(a, src->headers[i].name);
        j->req.headers[i].value = copy_str(a, src->headers[i].value);
    }
    j->link = h2o_mem_alloc_shared(&hreq->pool, sizeof(*j->link), job_request_gone);
    *j->link = j;
    pthread_mutex_lock(&pool.mu);
    if (pool.tail != NULL)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    pthread_cond_signal(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
}

static void job_free(struct job *j)
{
    arena_free(j->req.arena);
    free(j);
}

/* On the loop thread: finished jobs come back. */
static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct job *j = (struct job *)m;
        if (!j->cancelled) {
            *j->link = NULL;
            send_response(j->hreq, &j->req, j->start);
        }
        job_free(j);
    }
}

static void *pool_main(void *arg)
{
    struct worker *w = arg;
    log_thread_buffered(false);
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        while (pool.head == NULL && !pool.stop)
            pthread_cond_wait(&pool.cv, &pool.mu);
        if (pool.head == NULL && pool.stop) {
            pthread_mutex_unlock(&pool.mu);
            break;
        }
        struct job *j = pool.head;
        pool.head = j->next;
        if (pool.head == NULL)
            pool.tail = NULL;
        pthread_mutex_unlock(&pool.mu);
        j->req.worker = w;
        pool.hooks->handle(&j->req);
        h2o_multithread_send_message(&j->loop->done_receiver, &j->msg);
    }
    if (pool.hooks->thread_fini != NULL)
        pool.hooks->thread_fini(w);
    return NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    struct thread *t = (struct thread *)hreq->conn->ctx;
    int64_t start = clock_mono_us();
    struct arena *a = t->arena;
    struct http_req req;
    memset(&req, 0, sizeof(req));
    req.arena = a;
    req.worker = t->worker;
    req.method = (struct str){hreq->method.base, hreq->method.len};
    size_t plen = hreq->query_at != SIZE_MAX ? hreq->query_at : hreq->path.len;
    req.path = (struct str){hreq->path.base, plen};
    if (hreq->query_at != SIZE_MAX)
        req.query = (struct str){hreq->path.base + hreq->query_at + 1, hreq->path.len - hreq->query_at - 1};
    if (hreq->entity.base != NULL)
        req.body = (struct str){hreq->entity.base, hreq->entity.len};
    else
        req.body = (struct str){"", 0};
    /* Request id: the thread's random prefix and its sequence number, 16 hex digits (no snprintf on the
     * hot path). */
    static const char hex[] = "0123456789abcdef";
    uint64_t rid = (uint64_t)t->rid_prefix << 32 | (++t->seq & 0xffffffffu);
    for (int i = 15; i >= 0; i--) {
        req.rid[i] = hex[rid & 15];
        rid >>= 4;
    }
    req.rid[16] = '\0';

    struct sockaddr_storage ss;
    socklen_t sl = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
    if (sl > 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, req.peer, sizeof(req.peer));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, req.peer, sizeof(req.peer));
    }
    memcpy(req.tcp_peer, req.peer, sizeof(req.peer));

    size_t header_bytes = 0;
    req.n_headers = hreq->headers.size;
    req.headers = arena_alloc(a, sizeof(struct http_kv) * (req.n_headers + 1));
    for (size_t i = 0; i < hreq->headers.size; i++) {
        h2o_header_t *h = &hreq->headers.entries[i];
        /* Borrowed: h2o keeps them (lower-cased names) until the request is disposed. */
        req.headers[i].name = (struct str){h->name->base, h->name->len};
        req.headers[i].value = (struct str){h->value.base, h->value.len};
        header_bytes += h->name->len + h->value.len + 4;
    }
    header_bytes += hreq->path.len + hreq->method.len;
    /* Behind a trusted proxy the client is the address it forwarded; a bad header keeps the proxy's own
     * address (and the request goes on: the header is the proxy's business, not the client's). */
    if (t->cfg->n_trusted_proxies > 0 &&
        proxy_client_addr(t->cfg->trusted_proxies, t->cfg->n_trusted_proxies, req.tcp_peer, req.headers,
                          req.n_headers, req.peer) == PROXY_MALFORMED)
        log_debug("forwarded_for_ignored", LS("rid", req.rid), LS("peer", req.tcp_peer),
                  LS("reason", "malformed or too long X-Forwarded-For"), NULL);

    t->inflight++;
    /* Linked to the request pool (refcount 1): inflight_done runs when h2o disposes the request, that is
     * once the response has been written out. */
    struct thread **tp = h2o_mem_alloc_shared(&hreq->pool, sizeof(*tp), inflight_done);
    *tp = t;

    if (t->hooks->offload != NULL && header_bytes <= t->cfg->max_header_bytes && t->hooks->offload(&req)) {
        offload(t, hreq, &req, start);
        arena_reset(a);
        return 0;
    }
    if (header_bytes > t->cfg->max_header_bytes)
        send_plain_error(&req, 431, "invalid_request", "request headers too large");
    else
        t->hooks->handle(&req);
    send_response(hreq, &req, start);
    arena_reset(a);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct thread *t = listener->data;
    if (err != NULL)
        return;
    /* One connection per readiness callback. Every loop polls the one listening socket, level-triggered:
     * while connections wait in the backlog each loop is told again, so they spread over the loops. Taking
     * the whole backlog here would give a burst of connections (a load balancer's or a benchmark's pool)
     * to whichever loop woke first, and leave the other cores idle for the life of those connections. */
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&t->accept_ctx, sock);
}

static void *thread_main(void *arg)
{
    struct thread *t = arg;
    t->worker = t->hooks->thread_init(t->hooks->ud, t->id);
    if (t->worker == NULL) {
        t->init_failed = 1;
        atomic_store(t->stop, 1);
        return NULL;
    }
    t->arena = arena_new(16384);
    log_thread_buffered(true);
    h2o_context_init(&t->ctx, h2o_evloop_create(), &globalconf);
    t->queue = h2o_multithread_create_queue(t->ctx.loop);
    h2o_multithread_register_receiver(t->queue, &t->done_receiver, on_jobs_done);
    t->accept_ctx.ctx = &t->ctx;
    t->accept_ctx.hosts = globalconf.hosts;
    t->listener = h2o_evloop_socket_create(t->ctx.loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);

    int64_t last_tick = clock_mono_us();
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        h2o_evloop_run(t->ctx.loop, 100);
        int64_t now = clock_mono_us();
        if (now - last_tick >= 100000) {
            last_tick = now;
            if (t->hooks->tick != NULL)
                t->hooks->tick(t->worker);
            log_flush();
        }
    }
    /* Graceful stop: no new connections; let the responses in flight finish, at most 10 s. */
    h2o_socket_read_stop(t->listener);
    h2o_socket_close(t->listener);
    t->listener = NULL;
    int64_t deadline = clock_mono_us() + 10 * 1000000;
    while (t->inflight > 0 && clock_mono_us() < deadline)
        h2o_evloop_run(t->ctx.loop, 10);
    if (t->hooks->thread_fini != NULL)
        t->hooks->thread_fini(t->worker);
    arena_free(t->arena);
    log_thread_buffered(false);
    /* Idle keep-alive connections are dropped with the process; the context is not disposed because
     * h2o 2.2 cannot dispose a context that still has connections attached. */
    return NULL;
}

static int bind_listener(const struct http_server_config *cfg, struct errbuf *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->port);
    const char *host = cfg->host != NULL && cfg->host[0] != '\0' ? cfg->host : NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        errbuf_set(err, "listen: cannot resolve '%s': %s", host ? host : "*", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        errbuf_set(err, "listen: cannot bind %s:%u: %s", host ? host : "*", cfg->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && err != NULL && err->msg[0] == '\0')
        errbuf_set(err, "listen: cannot bind %s:%u", host ? host : "*", cfg->port);
    return fd;
}

int http_server_run(const struct http_server_config *cfg, const struct http_server_hooks *hooks,
                    atomic_int *stop, struct errbuf *err)
{
    int fd = bind_listener(cfg, err);
    if (fd < 0)
        return ERR_FAIL;

    h2o_config_init(&globalconf);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("ostiary"));
    globalconf.max_request_entity_size = cfg->max_body_bytes;
    globalconf.http1.req_timeout = cfg->request_timeout_ms;
    globalconf.http2.idle_timeout = cfg->request_timeout_ms;
    h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    struct http_server_handler *h = (void *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;

    unsigned n = cfg->threads > 0 ? cfg->threads : 1;
    struct thread *threads = calloc(n, sizeof(*threads));
    uint32_t prefix;
    rand_bytes(&prefix, sizeof(prefix));
    for (unsigned i = 0; i < n; i++) {
        struct thread *t = &threads[i];
        t->hooks = hooks;
        t->cfg = cfg;
        t->id = i;
        t->stop = stop;
        t->rid_prefix = prefix + i;
        /* Every loop polls the same listening socket (a dup per thread, so each can close its own). */
        t->fd = i == 0 ? fd : dup(fd);
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            errbuf_set(err, "cannot start worker thread %u", i);
            atomic_store(stop, 1);
            n = i;
            break;
        }
    }
    /* The pool for offloaded requests: as many threads as loops, each with its own context. */
    pool.hooks = hooks;
    unsigned np = hooks->offload != NULL ? n : 0;
    pthread_t *pool_tids = calloc(np + 1, sizeof(pthread_t));
    unsigned started = 0;
    for (unsigned i = 0; i < np; i++) {
        struct worker *w = hooks->thread_init(hooks->ud, n + i);
        if (w == NULL || pthread_create(&pool_tids[i], NULL, pool_main, w) != 0) {
            errbuf_set(err, "cannot start pool thread %u", i);
            atomic_store(stop, 1);
            break;
        }
        started++;
    }
    int failed = 0;
    for (unsigned i = 0; i < n; i++) {
        pthread_join(threads[i].tid, NULL);
        failed |= threads[i].init_failed;
    }
    free(threads);
    pthread_mutex_lock(&pool.mu);
    pool.stop = true;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(pool_tids[i], NULL);
    free(pool_tids);
    if (failed) {
        errbuf_set(err, "a worker thread failed to start (see the log)");
        return ERR_FAIL;
    }
    return 0;
}
