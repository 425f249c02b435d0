/* server.c: libh2o (evloop) adapter — the only file that includes the HTTP library. Builds struct
 * http_req from h2o_req_t, refuses what must never reach an endpoint (ambiguous HTTP/1 body framing,
 * RFC 9112 §6; oversized headers; request targets that are not a path or an absolute http(s) URI), writes
 * struct http_res back (lower-case names, as HTTP/2 requires), logs one access line per request, closes
 * connections in stages (RFC 9112 §9.6) so that an error response reaches a client still sending, serves
 * cleartext HTTP/2 with prior knowledge only when configured, terminates TLS (1.2 and 1.3, ALPN h2 and
 * http/1.1; the certificate replaced without a restart), and runs the bounded pool for offloaded requests.
 * HTTP parsing, body-size (413) and slow-client timeouts are h2o's. */
#include "http/server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>

#include "core/arena.h"
#include "core/ipnet.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "http/http.h"
#include "http/proxy.h"
#include "core/banned.h"

/* picohttpparser: libh2o parses every HTTP/1 request with its bundled copy and exports it, but installs
 * no header for it. These are the declarations of the copy in libh2o 2.2.5. */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

/* The most header fields h2o accepts in a request (H2O_MAX_HEADERS): a head with more is a 400 already. */
#define MAX_REQ_HEADERS 100
/* The HTTP/2 connection preface (RFC 9113 §3.4). */
static const char H2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/* Closing in stages (RFC 9112 §9.6): after the last response the server stops sending, then reads and
 * discards what the client still sends, until it closes, for at most LINGER_IDLE_MS without data and
 * LINGER_MAX_MS in all. */
#define LINGER_IDLE_MS 2000
#define LINGER_MAX_MS 10000

struct thread;

/* One listening socket as one loop thread polls it. */
struct thread_listener {
    struct thread *t;
    const struct http_listener_config *cfg;
    h2o_accept_ctx_t accept_ctx; /* hosts: the listener's own host, whose handler tags its requests */
    h2o_socket_t *sock;
    int fd;                      /* the thread's own duplicate of the listening descriptor */
};

struct thread {
    h2o_context_t ctx; /* first: on_req finds the thread from req->conn->ctx */
    struct thread_listener listeners[HTTP_MAX_LISTENERS];
    size_t n_listeners;
    const struct http_server_hooks *hooks;
    const struct http_server_config *cfg;
    struct worker *worker;
    struct arena *arena;
    unsigned id;
    uint64_t seq;
    uint32_t rid_prefix;
    atomic_int *stop;
    long inflight;
    pthread_t tid;
    int init_failed;
    h2o_multithread_queue_t *queue;   /* completions of offloaded requests arrive here */
    h2o_multithread_receiver_t done_receiver;
    h2o_timeout_t linger_timeout;     /* LINGER_IDLE_MS */
    h2o_timeout_t preface_timeout;    /* request_timeout_ms: the first bytes of a connection */
    struct held *held;                /* responses waiting for the loop's flush, newest first */
    h2o_timeout_t flush_timeout;      /* 0 ms: the flush inside the turn that held (see flush_held) */
    h2o_timeout_entry_t flush_entry;  /* linked while `held` is not empty */
    h2o_multithread_receiver_t conn_receiver; /* connections another loop accepted for this one */
    atomic_bool accepting;            /* conn_receiver registered and the loop not stopping */
};

/* ---- offloaded requests ----
 * A request the application marks as slow (hooks->offload: a login, whose password hash costs tens of
 * milliseconds of CPU) is copied into a job and served by a pool thread, so the event loop keeps serving
 * its other connections. The pool thread posts the finished job back to the loop thread, which writes the
 * response. The queue is bounded (cfg->max_queued_jobs): a request that finds it full, or that arrives
 * while the server stops, is answered at once by hooks->busy (a 503 with Retry-After). A job whose client
 * has gone is dropped before it is served; on stop, queued jobs are answered 503 by their loops and never
 * served. If h2o disposes the request first (an HTTP/2 stream reset), the job is only freed. */
enum job_outcome {
    JOB_SERVED = 0,
    JOB_CLIENT_GONE, /* the client closed its connection while the job waited: not served */
};

struct job {
    h2o_multithread_message_t msg; /* first: the loop thread gets the job back from the message */
    struct thread *loop;
    h2o_req_t *hreq;
    struct job **link;             /* in the request pool; NULL-ed when the job completes */
    struct http_req req;
    int64_t start;
    int fd;                        /* HTTP/1: the connection, to notice a client that went away; else -1 */
    enum job_outcome outcome;
    atomic_bool cancelled;         /* set on the loop thread when h2o disposed the request; read by the pool */
    struct job *next;
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    size_t queued, max_queued;
    unsigned threads;
    double service_ms;             /* moving average of one job's service time, for Retry-After */
    bool stop;
    const struct http_server_hooks *hooks;
    /* The server's stop flag: a pool thread takes no new job once it is set, even before the loops have
     * noticed it and stopped the pool (a loop notices at its next wake-up, and a thread finishing a job
     * meanwhile would start hashing another password after the stop). */
    atomic_int *server_stop;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 100.0, false, NULL, NULL};

static h2o_globalconf_t globalconf;
static const struct http_server_config *server_cfg; /* while http_server_run runs */
/* Per listener, a NULL-terminated host list of one: h2o routes every request of a connection to the hosts
 * of the accept context it came through, so each listener's handler knows its id. */
static h2o_hostconf_t *listener_hosts[HTTP_MAX_LISTENERS][2];

size_t http_server_queued(void)
{
    pthread_mutex_lock(&pool.mu);
    size_t n = pool.queued;
    pthread_mutex_unlock(&pool.mu);
    return n;
}

struct http_server_handler {
    h2o_handler_t super;
    unsigned listener; /* enum http_listener */
};

static void inflight_done(void *p)
{
    struct thread **tp = p;
    (*tp)->inflight--;
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

/* A JSON error the adapter answers itself. `error` and `desc` are fixed texts of this file: JSON-safe. */
static void send_plain_error(struct http_req *req, int status, const char *error, const char *desc)
{
    req->log_error = error;
    http_res_no_store(req);
    const char *json = arena_printf(req->arena, "{\"error\":\"%s\",\"error_description\":\"%s\"}", error, desc);
    http_res_json(req, status, json, strlen(json));
}

/* Replaces whatever was built with a 500 (the response could not be delivered as built). */
static void replace_with_500(struct http_req *req)
{
    req->res.n_headers = 0;
    req->res.unsendable = false;
    req->res.body = STR_NULL;
    send_plain_error(req, 500, "server_error", "the response could not be built");
}

/* Writes req->res to h2o and logs the access line. Runs on the request's loop thread. */
static void send_response(h2o_req_t *hreq, struct http_req *req, int64_t start)
{
    struct arena *a = req->arena;
    if (req->res.status == 0)
        req->res.status = 500;
    const char *bad = req->res.unsendable ? "a value did not fit its buffer" : http_res_problem(&req->res);
    if (bad != NULL) {
        /* Sent as built, it would be cut short, or a protocol error on HTTP/2: the client would learn
         * nothing. A 500 it can read instead (and a bug to fix). */
        log_error("bug", LS("rid", req->rid), LS("what", "response not deliverable"), LS("detail", bad), NULL);
        replace_with_500(req);
    }
    hreq->res.status = req->res.status;
    hreq->res.reason = reason(req->res.status);
    for (size_t i = 0; i < req->res.n_headers; i++) {
        struct http_header *h = &req->res.headers[i];
        size_t nlen = strlen(h->name);
        /* HTTP/2 field names are lower-case (RFC 9113 §8.2.1); HTTP/1 keeps the handler's spelling. */
        char *lc = h2o_mem_alloc_pool(&hreq->pool, nlen + 1);
        for (size_t k = 0; k <= nlen; k++)
            lc[k] = h->name[k] >= 'A' && h->name[k] <= 'Z' ? (char)(h->name[k] + 32) : h->name[k];
        h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, lc, nlen, 1,
                              hreq->version < 0x200 ? h2o_strdup(&hreq->pool, h->name, nlen).base : NULL,
                              h2o_strdup(&hreq->pool, h->value.p, h->value.len).base, h->value.len);
    }
    h2o_add_header_by_str(&hreq->pool, &hreq->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&hreq->pool, req->rid, strlen(req->rid)).base, strlen(req->rid));
    struct thread *t = (struct thread *)hreq->conn->ctx;
    if (t->cfg->hsts != NULL) /* RFC 6797 §6.1; set by the server, so that no endpoint can forget it */
        h2o_add_header(&hreq->pool, &hreq->res.headers, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, NULL,
                       t->cfg->hsts, strlen(t->cfg->hsts));
    hreq->res.content_length = req->res.body.len;
    if (req->res.body.len > 0) {
        /* h2o_send_inline copies the body into the request pool, so the arena can be reset afterwards. */
        h2o_send_inline(hreq, req->res.body.p, req->res.body.len);
    } else {
        /* No body (a redirect, a 204): the head alone. Given an empty buffer after the head, as
         * h2o_send_inline passes one, h2o's HTTP/1 writer keeps that buffer once the head is written,
         * waits for the socket to be writable and writes it with a writev of its own: per response, two
         * more system calls and two epoll_ctl(2) calls. */
        static h2o_generator_t no_body = {NULL, NULL};
        h2o_start_response(hreq, &no_body);
        h2o_send(hreq, NULL, 0, H2O_SEND_STATE_FINAL);
    }

    int64_t dur_us = clock_mono_us() - start;
    metrics_request(req->listener, req->route_id, req->res.status, dur_us);
    log_info("request", LS("rid", req->rid), LS("method", arena_strndup(a, req->method.p, req->method.len)),
             LS("path", arena_strndup(a, req->path.p, req->path.len)), LI("status", req->res.status),
             LI("dur_us", dur_us), LS("client_id", req->log_client_id),
             LS("error", req->log_error), NULL);
}

/* ---- connections: the file descriptor, closing in stages ----
 * Connections are accepted here (not by h2o) so that their descriptor is known: it is kept in the
 * socket's on_close.data, which h2o leaves to its user and never reads, while on_close.cb is NULL.
 *
 * h2o closes an HTTP/1 connection right after a response it marked non-persistent (a 413, a 400 for bad
 * framing, "Connection: close"). If the client is still sending (the body h2o refused), closing a socket
 * with unread input makes the kernel answer with a reset, which can destroy the response before the client
 * reads it. So a filter sees every such response before it is written and keeps a duplicate of the
 * descriptor; when h2o has closed its own, the connection is half-closed (FIN after the response) and what
 * still arrives is read and discarded, for a bounded time, before the final close. */
struct lingering {
    struct thread *t;
    int fd;
    h2o_socket_t *sock;
    uint64_t started_ms;
    h2o_timeout_entry_t idle;
};

static int conn_fd(h2o_req_t *hreq)
{
    h2o_socket_t *sock = hreq->conn->callbacks->get_socket != NULL ? hreq->conn->callbacks->get_socket(hreq->conn)
                                                                   : NULL;
    if (sock == NULL || sock->on_close.cb != NULL)
        return -1;
    return (int)(intptr_t)sock->on_close.data;
}

static void linger_end(struct lingering *l)
{
    if (h2o_timeout_is_linked(&l->idle))
        h2o_timeout_unlink(&l->idle);
    h2o_socket_close(l->sock); /* nothing unread left, normally: a plain FIN */
    free(l);
}

static void linger_on_idle(h2o_timeout_entry_t *entry)
{
    linger_end(H2O_STRUCT_FROM_MEMBER(struct lingering, idle, entry));
}

static void linger_on_read(h2o_socket_t *sock, const char *err)
{
    struct lingering *l = sock->data;
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_loop_t *loop = l->t->ctx.loop;
    if (err != NULL || h2o_now(loop) - l->started_ms >= LINGER_MAX_MS) {
        linger_end(l); /* the client closed (or took too long): done */
        return;
    }
    h2o_timeout_unlink(&l->idle);
    h2o_timeout_link(loop, &l->t->linger_timeout, &l->idle);
}

/* on_close of a connection h2o has just closed: the duplicate descriptor carries on alone. */
static void linger_start(void *p)
{
    struct lingering *l = p;
    h2o_loop_t *loop = l->t->ctx.loop;
    shutdown(l->fd, SHUT_WR);
    l->sock = h2o_evloop_socket_create(loop, l->fd, 0);
    l->sock->data = l;
    l->started_ms = h2o_now(loop);
    l->idle.cb = linger_on_idle;
    h2o_timeout_link(loop, &l->t->linger_timeout, &l->idle);
    h2o_socket_read_start(l->sock, linger_on_read);
}

static void linger_arm(h2o_req_t *hreq)
{
    int fd = conn_fd(hreq);
    if (fd < 0)
        return;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return; /* out of descriptors: a plain close */
    struct lingering *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->t = (struct thread *)hreq->conn->ctx;
    l->fd = dup_fd;
    h2o_socket_t *sock = hreq->conn->callbacks->get_socket(hreq->conn);
    sock->on_close.cb = linger_start;
    sock->on_close.data = l;
}

/* Response filter (every response, h2o's own errors included): last response on an HTTP/1 connection. */
static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *hreq, h2o_ostream_t **slot)
{
    if (hreq->version < 0x200 && !hreq->http1_is_persistent)
        linger_arm(hreq);
    h2o_setup_next_ostream(hreq, slot);
}

/* ---- framing ---- */

/* Why an HTTP/1 request's body framing is ambiguous (http1_framing_error), or NULL. h2o keeps neither
 * Content-Length nor Transfer-Encoding in its header list (its parser consumes them), so when it read a
 * body, the head is parsed again, with the same parser, from the connection's input buffer: h2o keeps the
 * current request's head at its start until the response is sent. */
static const char *framing_error(h2o_req_t *hreq, const struct http_req *req)
{
    if (hreq->version >= 0x200)
        return NULL; /* HTTP/2 frames its messages itself */
    if (hreq->entity.base == NULL)
        return http1_framing_error(req->headers, req->n_headers, hreq->version == 0x100 ? 0 : 1);
    h2o_socket_t *sock = hreq->conn->callbacks->get_socket(hreq->conn);
    struct phr_header ph[MAX_REQ_HEADERS];
    size_t nh = MAX_REQ_HEADERS;
    const char *method, *path;
    size_t method_len, path_len;
    int minor = -1;
    int n = sock == NULL ? -1
                         : phr_parse_request(sock->input->bytes, sock->input->size, &method, &method_len, &path,
                                             &path_len, &minor, ph, &nh, 0);
    if (n <= 0 || !h2o_memis(method, method_len, hreq->input.method.base, hreq->input.method.len) ||
        !h2o_memis(path, path_len, hreq->input.path.base, hreq->input.path.len)) {
        /* Not where it should be: refuse rather than guess how the body was framed. */
        log_error("bug", LS("rid", req->rid), LS("what", "request head not found for the framing check"), NULL);
        return "the request could not be checked";
    }
    struct http_kv *kv = arena_alloc(req->arena, sizeof(*kv) * (nh + 1));
    for (size_t i = 0; i < nh; i++) {
        kv[i].name = (struct str){ph[i].name, ph[i].name_len};
        kv[i].value = (struct str){ph[i].value, ph[i].value_len};
    }
    return http1_framing_error(kv, nh, minor);
}

/* ---- offloaded requests ---- */

static struct str copy_str(struct arena *a, struct str s)
{
    return s.p == NULL ? s : (struct str){arena_strndup(a, s.p, s.len), s.len};
}

static void job_request_gone(void *p)
{
    struct job **link = p;
    if (*link != NULL)
        atomic_store(&(*link)->cancelled, true);
}

static void job_free(struct job *j)
{
    arena_free(j->req.arena);
    free(j);
}

/* Seconds until a queued request could be served: the jobs ahead at the measured pace. Under pool.mu. */
static unsigned retry_after_locked(void)
{
    double s = (double)(pool.queued + 1) * pool.service_ms / (pool.threads > 0 ? pool.threads : 1) / 1000.0;
    return s < 1 ? 1 : s > 60 ? 60 : (unsigned)(s + 0.999);
}

/* The 503 for a request the pool will not serve (full, or stopping): the application's page if it has
 * one. On the loop thread; the caller sends req->res. */
static void answer_busy(struct http_req *req, unsigned retry_after)
{
    req->log_error = "busy";
    if (pool.hooks != NULL && pool.hooks->busy != NULL) {
        pool.hooks->busy(req, retry_after);
        return;
    }
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", retry_after);
    http_res_header(req, "Retry-After", ra);
    send_plain_error(req, 503, "temporarily_unavailable", "the server is busy; try again shortly");
}

/* Queues the request for the pool; false (nothing queued) if the queue is full or the server stops, with
 * *retry_after set. */
static bool offload(struct thread *t, h2o_req_t *hreq, const struct http_req *src, int64_t start,
                    unsigned *retry_after)
{
    pthread_mutex_lock(&pool.mu);
    if (pool.stop || pool.queued >= pool.max_queued) {
        *retry_after = retry_after_locked();
        pthread_mutex_unlock(&pool.mu);
        return false;
    }
    pool.queued++; /* reserved; the job is linked below */
    pthread_mutex_unlock(&pool.mu);

    struct job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    struct arena *a = arena_new(16384);
    j->loop = t;
    j->hreq = hreq;
    j->start = start;
    j->fd = hreq->version < 0x200 ? conn_fd(hreq) : -1;
    atomic_init(&j->cancelled, false);
    j->req = *src;
    j->req.arena = a;
    j->req.worker = NULL; /* the pool thread's own */
    j->req.can_hold = false; /* a pool thread has no loop turn to flush after */
    j->req.body_form = NULL; /* parsed in the loop's arena, reset once the job is queued */
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
    return true;
}

/* On the loop thread: a job comes back (served, or not served). */
static void job_finish(struct job *j, bool stopping)
{
    if (atomic_load(&j->cancelled)) { /* h2o disposed the request: nobody to answer */
        job_free(j);
        return;
    }
    *j->link = NULL;
    if (j->outcome != JOB_SERVED || stopping) {
        /* Not served: the request has no response yet. The loop's own context answers it. */
        memset(&j->req.res, 0, sizeof(j->req.res));
        j->req.worker = j->loop->worker;
        j->req.log_error = NULL;
        j->hreq->http1_is_persistent = 0;
        if (j->outcome == JOB_CLIENT_GONE) {
            j->req.log_error = "client_gone";
            http_res_body(&j->req, 503, NULL, "", 0);
        } else {
            pthread_mutex_lock(&pool.mu);
            unsigned ra = retry_after_locked();
            pthread_mutex_unlock(&pool.mu);
            answer_busy(&j->req, ra);
        }
    }
    send_response(j->hreq, &j->req, j->start);
    job_free(j);
}

static void on_jobs_done(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        job_finish((struct job *)m, false);
    }
}

/* Stops the pool taking jobs and answers this loop's queued ones (503) without serving them. */
static void pool_stop_for(struct thread *t)
{
    struct job *mine = NULL, **tail = &mine;
    pthread_mutex_lock(&pool.mu);
    pool.stop = true;
    pthread_cond_broadcast(&pool.cv);
    struct job **pp = &pool.head;
    pool.tail = NULL;
    while (*pp != NULL) {
        struct job *j = *pp;
        if (j->loop == t) {
            *pp = j->next;
            j->next = NULL;
            *tail = j;
            tail = &j->next;
            pool.queued--;
        } else {
            pool.tail = j;
            pp = &j->next;
        }
    }
    pthread_mutex_unlock(&pool.mu);
    size_t n = 0;
    while (mine != NULL) {
        struct job *j = mine;
        mine = j->next;
        job_finish(j, true);
        n++;
    }
    if (n > 0)
        log_info("jobs_dropped", LI("count", (long long)n), LS("reason", "stopping"), NULL);
}

/* True when the client of an HTTP/1 job has closed its connection (end of stream or reset). h2o does not
 * read while a request is being served, so it would only notice when writing the response. */
static bool client_gone(const struct job *j)
{
    if (j->fd < 0)
        return false;
    char c;
    ssize_t n = recv(j->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void *pool_main(void *arg)
{
    struct worker *w = arg;
    log_thread_buffered(false);
    for (;;) {
        pthread_mutex_lock(&pool.mu);
        while (pool.head == NULL && !pool.stop)
            pthread_cond_wait(&pool.cv, &pool.mu);
        if (pool.stop || (pool.server_stop != NULL && atomic_load(pool.server_stop))) {
            /* What is still queued belongs to the loops: they answer it. */
            pthread_mutex_unlock(&pool.mu);
            break;
        }
        struct job *j = pool.head;
        pool.head = j->next;
        if (pool.head == NULL)
            pool.tail = NULL;
        pool.queued--;
        pthread_mutex_unlock(&pool.mu);
        if (atomic_load(&j->cancelled)) {
            job_free(j); /* the loop has forgotten it */
            continue;
        }
        if (client_gone(j)) {
            j->outcome = JOB_CLIENT_GONE;
        } else {
            int64_t t0 = clock_mono_us();
            j->req.worker = w;
            pool.hooks->handle(&j->req);
            double ms = (double)(clock_mono_us() - t0) / 1000.0;
            pthread_mutex_lock(&pool.mu);
            pool.service_ms = 0.8 * pool.service_ms + 0.2 * ms;
            pthread_mutex_unlock(&pool.mu);
        }
        h2o_multithread_send_message(&j->loop->done_receiver, &j->msg);
    }
    if (pool.hooks->thread_fini != NULL)
        pool.hooks->thread_fini(w);
    return NULL;
}

/* ---- held responses (group commit) ----
 * An endpoint that queued a write instead of making it marks its request held (http_req's `held`): the
 * response is complete, but may not leave before the write is committed. The request is copied (what the
 * response and the access log need) and kept on its loop thread's list; after the turn of the event loop,
 * hooks->flush commits every queued write of the turn in one transaction, and the responses go out, or,
 * if the commit failed, hooks->held_failed's answer for each; a request hooks->held_retry names (its write
 * lost to a concurrent one, or the commit failed and its endpoint answers a store failure itself) is served
 * again from its h2o request instead, without holding. So the writes of all the requests a loop
 * read in one turn share one commit, and none is answered before it. A request h2o disposes meanwhile (its
 * client went away) is only freed; its write is committed all the same, as a write made before a client
 * leaves always was. */
struct held {
    struct http_req req;
    h2o_req_t *hreq;
    int64_t start;
    struct held **link; /* in the request pool; NULL-ed once answered */
    bool cancelled;
    struct held *next;
};

static void held_request_gone(void *p)
{
    struct held **link = p;
    if (*link != NULL)
        (*link)->cancelled = true;
}

static const char *copy_cstr(struct arena *a, const char *s)
{
    return s != NULL ? arena_strdup(a, s) : NULL;
}

/* Keeps the request until the loop's next flush. Its arena (the loop's) is reset by the caller: what the
 * response and the access line need is copied into an arena of its own. */
static void hold(struct thread *t, h2o_req_t *hreq, const struct http_req *src, int64_t start)
{
    struct held *h = calloc(1, sizeof(*h));
    if (h == NULL)
        abort();
    struct arena *a = arena_new(4096);
    h->req = *src;
    h->req.arena = a;
    h->req.method = copy_str(a, src->method);
    h->req.path = copy_str(a, src->path);
    h->req.query = STR_NULL;
    h->req.body = STR_NULL;
    h->req.body_form = NULL;
    h->req.headers = NULL;
    h->req.n_headers = 0;
    h->req.log_client_id = copy_cstr(a, src->log_client_id);
    h->req.log_error = copy_cstr(a, src->log_error);
    for (size_t i = 0; i < src->res.n_headers; i++) {
        h->req.res.headers[i].name = copy_cstr(a, src->res.headers[i].name);
        h->req.res.headers[i].value = copy_str(a, src->res.headers[i].value);
    }
    h->req.res.body = copy_str(a, src->res.body);
    h->hreq = hreq;
    h->start = start;
    h->link = h2o_mem_alloc_shared(&hreq->pool, sizeof(*h->link), held_request_gone);
    *h->link = h;
    h->next = t->held;
    t->held = h;
    if (!h2o_timeout_is_linked(&t->flush_entry))
        h2o_timeout_link(t->ctx.loop, &t->flush_timeout, &t->flush_entry);
}

static void req_fill(struct thread *t, unsigned listener, h2o_req_t *hreq, struct http_req *req, bool *target_ok,
                     size_t *header_bytes);
static void req_proxy(struct thread *t, struct http_req *req);

/* A held request whose queued write lost (hooks->held_retry): served again from its h2o request, under its
 * own request id, without holding; that answer is the one sent. */
static void serve_again(struct thread *t, struct held *h)
{
    struct http_req req;
    bool target_ok;
    size_t header_bytes;
    req_fill(t, h->req.listener, h->hreq, &req, &target_ok, &header_bytes);
    memcpy(req.rid, h->req.rid, sizeof(req.rid));
    req.can_hold = false;
    req_proxy(t, &req);
    t->hooks->handle(&req);
    send_response(h->hreq, &req, h->start);
    arena_reset(t->arena);
}

/* Tells the worker a turn of its loop is over (hooks->turn_end), once its work is done. */
static void turn_end(struct thread *t)
{
    if (t->hooks->turn_end != NULL)
        t->hooks->turn_end(t->worker);
}

/* After a turn of the loop: commits what the held requests queued, then answers them.
 *
 * It runs from a 0 ms timeout linked by the first hold of the turn: h2o runs expired timeouts after the
 * turn's socket callbacks, within the same h2o_evloop_run, and then the callbacks the flush made pending
 * (each response's write completion, where HTTP/1 resumes reading the connection). Run after
 * h2o_evloop_run returned instead, those completions waited for the next turn, whose first step applies
 * the socket states changed meanwhile: a held request cost two epoll_ctl(2) calls, one to stop polling
 * its connection and one to poll it again, where a request answered at once costs none. The loop also
 * calls it after each turn, for a hold made after the timeouts ran. */
static void flush_held(struct thread *t)
{
    if (h2o_timeout_is_linked(&t->flush_entry))
        h2o_timeout_unlink(&t->flush_entry);
    if (t->held == NULL)
        return;
    int rc = t->hooks->flush(t->worker);
    /* Answered in the order they came (the list is newest first). */
    struct held *rev = NULL;
    while (t->held != NULL) {
        struct held *h = t->held;
        t->held = h->next;
        h->next = rev;
        rev = h;
    }
    while (rev != NULL) {
        struct held *h = rev;
        rev = h->next;
        if (!h->cancelled) {
            *h->link = NULL;
            h->req.held = false;
            if (t->hooks->held_retry != NULL && t->hooks->held_retry(t->worker, &h->req)) {
                serve_again(t, h);
                arena_free(h->req.arena);
                free(h);
                continue;
            }
            if (rc != 0) {
                memset(&h->req.res, 0, sizeof(h->req.res));
                h->req.log_error = NULL;
                h->req.worker = t->worker;
                t->hooks->held_failed(&h->req, rc);
            }
            send_response(h->hreq, &h->req, h->start);
        }
        arena_free(h->req.arena);
        free(h);
    }
}

static void flush_on_timeout(h2o_timeout_entry_t *entry)
{
    struct thread *t = H2O_STRUCT_FROM_MEMBER(struct thread, flush_entry, entry);
    flush_held(t);
}

/* ---- requests ---- */

/* Fills req from hreq: what the endpoints see (method, target, body, headers, peer), in the loop's arena.
 * *target_ok: whether the target is origin-form or absolute-form; *header_bytes: the head's size. */
static void req_fill(struct thread *t, unsigned listener, h2o_req_t *hreq, struct http_req *req, bool *target_ok,
                     size_t *header_bytes)
{
    struct arena *a = t->arena;
    memset(req, 0, sizeof(*req));
    req->arena = a;
    req->worker = t->worker;
    req->can_hold = t->hooks->flush != NULL && t->hooks->held_failed != NULL;
    req->listener = listener;
    req->method = (struct str){hreq->method.base, hreq->method.len};
    /* Origin-form, or absolute-form reduced to its path (RFC 9112 §3.2.2: a server must accept it). */
    struct str target;
    *target_ok = http_target_origin_form((struct str){hreq->path.base, hreq->path.len}, &target);
    if (!*target_ok)
        target = (struct str){hreq->path.base, hreq->path.len};
    const char *q = memchr(target.p, '?', target.len);
    req->path = (struct str){target.p, q != NULL ? (size_t)(q - target.p) : target.len};
    if (q != NULL)
        req->query = (struct str){q + 1, target.len - req->path.len - 1};
    if (hreq->entity.base != NULL)
        req->body = (struct str){hreq->entity.base, hreq->entity.len};
    else
        req->body = (struct str){"", 0};

    struct sockaddr_storage ss;
    socklen_t sl = hreq->conn->callbacks->get_peername(hreq->conn, (struct sockaddr *)&ss);
    if (sl > 0) {
        if (ss.ss_family == AF_INET)
            ipnet_v4_format((const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr, req->peer);
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, req->peer, sizeof(req->peer));
    }
    memcpy(req->tcp_peer, req->peer, sizeof(req->peer));

    *header_bytes = 0;
    req->n_headers = hreq->headers.size;
    req->headers = arena_alloc(a, sizeof(struct http_kv) * (req->n_headers + 1));
    for (size_t i = 0; i < hreq->headers.size; i++) {
        h2o_header_t *h = &hreq->headers.entries[i];
        /* Borrowed: h2o keeps them (lower-cased names) until the request is disposed. */
        req->headers[i].name = (struct str){h->name->base, h->name->len};
        req->headers[i].value = (struct str){h->value.base, h->value.len};
        *header_bytes += h->name->len + h->value.len + 4;
    }
    *header_bytes += hreq->path.len + hreq->method.len;
}

/* Behind a trusted proxy the client is the address it forwarded; a bad header keeps the proxy's own
 * address (and the request goes on: the header is the proxy's business, not the client's). */
static void req_proxy(struct thread *t, struct http_req *req)
{
    if (t->cfg->n_trusted_proxies > 0 &&
        proxy_client_addr(t->cfg->trusted_proxies, t->cfg->n_trusted_proxies, req->tcp_peer, req->headers,
                          req->n_headers, req->peer) == PROXY_MALFORMED)
        log_debug("forwarded_for_ignored", LS("rid", req->rid), LS("peer", req->tcp_peer),
                  LS("reason", "malformed or too long X-Forwarded-For"), NULL);
}

static int on_req(h2o_handler_t *self, h2o_req_t *hreq)
{
    struct thread *t = (struct thread *)hreq->conn->ctx;
    int64_t start = clock_mono_us();
    struct arena *a = t->arena;
    struct http_req req;
    bool target_ok;
    size_t header_bytes;
    req_fill(t, ((struct http_server_handler *)self)->listener, hreq, &req, &target_ok, &header_bytes);
    /* Request id: the thread's random prefix and its sequence number, 16 hex digits (no snprintf on the
     * hot path). */
    static const char hex[] = "0123456789abcdef";
    uint64_t rid = (uint64_t)t->rid_prefix << 32 | (++t->seq & 0xffffffffu);
    for (int i = 15; i >= 0; i--) {
        req.rid[i] = hex[rid & 15];
        rid >>= 4;
    }
    req.rid[16] = '\0';
    req_proxy(t, &req);

    t->inflight++;
    /* Linked to the request pool (refcount 1): inflight_done runs when h2o disposes the request, that is
     * once the response has been written out. */
    struct thread **tp = h2o_mem_alloc_shared(&hreq->pool, sizeof(*tp), inflight_done);
    *tp = t;

    const char *framing = framing_error(hreq, &req);
    if (framing != NULL) {
        /* What follows the body on this connection cannot be told apart from a request smuggled in it:
         * answer and close, never read another request here (RFC 9112 §6.3). */
        hreq->http1_is_persistent = 0;
        send_plain_error(&req, 400, "invalid_request", framing);
    } else if (header_bytes > t->cfg->max_header_bytes) {
        send_plain_error(&req, 431, "invalid_request", "request headers too large");
    } else if (!target_ok) {
        send_plain_error(&req, 400, "invalid_request", "the request target must be a path or an absolute http URI");
    } else if (t->hooks->offload != NULL && t->hooks->offload(&req)) {
        unsigned retry_after;
        if (offload(t, hreq, &req, start, &retry_after)) {
            arena_reset(a);
            return 0;
        }
        answer_busy(&req, retry_after);
    } else {
        t->hooks->handle(&req);
        if (req.held) {
            hold(t, hreq, &req, start);
            arena_reset(a);
            return 0;
        }
    }
    send_response(hreq, &req, start);
    arena_reset(a);
    return 0;
}

/* ---- TLS ----
 * One context for every TLS listener, replaced as a whole by http_server_reload_tls. h2o keeps the raw
 * context pointer of an accepted socket and creates the connection's SSL object (which holds its own
 * reference) only when the first bytes arrive, which is bounded by the handshake timeout. So a replaced
 * context is kept (retired) for TLS_RETIRE_GRACE_MS more than that timeout before its last reference is
 * dropped, at a later reload or when the server stops. */
#define TLS_RETIRE_GRACE_MS 5000

/* RFC 7540 §9.2.2 and current practice (Mozilla's "intermediate" profile): TLS 1.2 with forward-secret AEAD
 * suites only; TLS 1.3 suites are OpenSSL's defaults (all AEAD). */
static const char TLS12_CIPHERS[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
/* ALPN (RFC 7301): HTTP/2 preferred, HTTP/1.1 otherwise. Lives as long as every context. */
static const h2o_iovec_t TLS_ALPN[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL, 0}};

struct tls_retired {
    SSL_CTX *ctx;
    uint64_t retired_ms;
    struct tls_retired *next;
};

static struct {
    _Atomic(SSL_CTX *) current;  /* what on_accept hands to new connections */
    pthread_mutex_t mu;          /* reloads, and the retired list */
    struct tls_retired *retired;
} tls = {NULL, PTHREAD_MUTEX_INITIALIZER, NULL};

static uint64_t now_ms(void)
{
    return (uint64_t)(clock_mono_us() / 1000);
}

/* OpenSSL's first queued error as text (the queue is cleared), or `fallback`. */
static const char *ssl_reason(char *buf, size_t n, const char *fallback)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return fallback;
    ERR_error_string_n(e, buf, n);
    return buf;
}

static SSL_CTX *tls_ctx_new(const char *cert_file, const char *key_file, struct errbuf *err)
{
    char why[256];
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        errbuf_set(err, "tls: cannot create a TLS context: %s", ssl_reason(why, sizeof(why), "unknown"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No compression (CRIME), no renegotiation (RFC 7540 §9.2.1 forbids it under HTTP/2), the server's
     * suite order. */
    SSL_CTX_set_options(ctx,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1) {
        errbuf_set(err, "tls: cannot set the cipher suites: %s", ssl_reason(why, sizeof(why), "unknown"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        errbuf_set(err, "tls.cert_file: cannot load a PEM certificate chain from '%s': %s", cert_file,
                   ssl_reason(why, sizeof(why), "unknown"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        errbuf_set(err, "tls.key_file: cannot load a PEM private key from '%s': %s", key_file,
                   ssl_reason(why, sizeof(why), "unknown"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        errbuf_set(err, "tls.key_file: the key in '%s' does not match the certificate of tls.cert_file: %s",
                   key_file, ssl_reason(why, sizeof(why), "unknown"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, TLS_ALPN);
    return ctx;
}

int http_tls_check(const char *cert_file, const char *key_file, struct errbuf *err)
{
    SSL_CTX *ctx = tls_ctx_new(cert_file, key_file, err);
    if (ctx == NULL)
        return ERR_INVALID;
    SSL_CTX_free(ctx);
    return 0;
}

/* Drops the retired contexts no connection can still be about to use (all of them when `all`). Under
 * tls.mu. */
static void tls_free_retired_locked(bool all)
{
    uint64_t grace = globalconf.handshake_timeout + TLS_RETIRE_GRACE_MS;
    uint64_t now = now_ms();
    struct tls_retired **pp = &tls.retired;
    while (*pp != NULL) {
        struct tls_retired *r = *pp;
        if (all || now - r->retired_ms >= grace) {
            *pp = r->next;
            SSL_CTX_free(r->ctx);
            free(r);
        } else {
            pp = &r->next;
        }
    }
}

int http_server_reload_tls(struct errbuf *err)
{
    pthread_mutex_lock(&tls.mu);
    const struct http_server_config *cfg = server_cfg;
    if (cfg == NULL || atomic_load(&tls.current) == NULL) {
        pthread_mutex_unlock(&tls.mu);
        errbuf_set(err, "tls: not configured");
        return ERR_FAIL;
    }
    SSL_CTX *ctx = tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, err);
    if (ctx == NULL) {
        pthread_mutex_unlock(&tls.mu);
        return ERR_FAIL;
    }
    struct tls_retired *r = malloc(sizeof(*r));
    if (r == NULL)
        abort();
    tls_free_retired_locked(false);
    r->ctx = atomic_exchange(&tls.current, ctx);
    r->retired_ms = now_ms();
    r->next = tls.retired;
    tls.retired = r;
    pthread_mutex_unlock(&tls.mu);
    return 0;
}

/* ---- accepting connections ---- */

/* A connection of a server that takes cleartext HTTP/2 with prior knowledge: its first bytes decide. */
struct preface_wait {
    struct thread_listener *tl;
    h2o_socket_t *sock;
    struct timeval connected_at;
    h2o_timeout_entry_t timeout;
};

static void preface_done(struct preface_wait *pw)
{
    if (h2o_timeout_is_linked(&pw->timeout))
        h2o_timeout_unlink(&pw->timeout);
    pw->sock->data = NULL;
    free(pw);
}

static void preface_on_timeout(h2o_timeout_entry_t *entry)
{
    struct preface_wait *pw = H2O_STRUCT_FROM_MEMBER(struct preface_wait, timeout, entry);
    h2o_socket_t *sock = pw->sock;
    preface_done(pw);
    h2o_socket_close(sock);
}

static void preface_on_read(h2o_socket_t *sock, const char *err)
{
    struct preface_wait *pw = sock->data;
    if (err != NULL) {
        preface_done(pw);
        h2o_socket_close(sock);
        return;
    }
    size_t want = sizeof(H2_PREFACE) - 1;
    size_t n = sock->input->size < want ? sock->input->size : want;
    bool prefix = memcmp(sock->input->bytes, H2_PREFACE, n) == 0;
    if (prefix && n < want)
        return; /* maybe the preface: wait for the rest */
    struct thread_listener *tl = pw->tl;
    struct timeval at = pw->connected_at;
    preface_done(pw);
    /* Either protocol starts from the bytes already read. */
    if (prefix)
        h2o_http2_accept(&tl->accept_ctx, sock, at);
    else
        h2o_http1_accept(&tl->accept_ctx, sock, at);
}

/* Serves a connection accepted on tl's listening socket on tl's loop (the calling thread's). */
static void conn_start(struct thread_listener *tl, int fd)
{
    struct thread *t = tl->t;
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    h2o_socket_t *sock = h2o_evloop_socket_create(t->ctx.loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    sock->on_close.data = (void *)(intptr_t)fd; /* see "connections" above */
    if (tl->cfg->tls) {
        /* h2o handshakes, then serves HTTP/2 or HTTP/1.1 as ALPN chose. The context read here stays valid
         * past this connection's handshake timeout even if a reload replaces it meanwhile (see "TLS"). */
        tl->accept_ctx.ssl_ctx = atomic_load(&tls.current);
        h2o_accept(&tl->accept_ctx, sock);
        return;
    }
    if (!tl->cfg->http2_cleartext) {
        h2o_accept(&tl->accept_ctx, sock); /* HTTP/1 only: h2o answers an HTTP/2 preface with 400 */
        return;
    }
    struct preface_wait *pw = calloc(1, sizeof(*pw));
    if (pw == NULL)
        abort();
    pw->tl = tl;
    pw->sock = sock;
    pw->connected_at = *h2o_get_timestamp(&t->ctx, NULL, NULL);
    pw->timeout.cb = preface_on_timeout;
    sock->data = pw;
    h2o_timeout_link(t->ctx.loop, &t->preface_timeout, &pw->timeout);
    h2o_socket_read_start(sock, preface_on_read);
}

/* Connections are dealt to the loops in turn. Whichever loop accepts one (every loop polls the listening
 * sockets) serves it only when it is its turn, and otherwise passes it to the loop whose turn it is. Left
 * to whichever loop happens to wake first, a burst of connections (a load balancer's or a benchmark's
 * keep-alive pool) can land mostly on one loop and leave the other cores idle for the life of those
 * connections; dealt in turn, n connections made one after another are spread exactly evenly. */
struct conn_handoff {
    h2o_multithread_message_t msg; /* first: the receiving loop gets the handoff back from the message */
    size_t listener;               /* index in the loops' listeners */
    int fd;
};

static struct thread *loops;
static unsigned n_loops;
static atomic_uint next_loop;

static void on_conn_handoff(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct thread *t = H2O_STRUCT_FROM_MEMBER(struct thread, conn_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct conn_handoff *h = (struct conn_handoff *)m;
        conn_start(&t->listeners[h->listener], h->fd);
        free(h);
    }
}

/* After the loops are joined: the connections passed to a loop that had stopped before it read them are
 * closed (their clients see the connection end, as with any connection left when the server stops). */
static void conn_handoffs_drop(struct thread *t)
{
    if (t->conn_receiver.queue == NULL)
        return; /* never registered: the loop failed to start, nothing was passed to it */
    h2o_linklist_t *messages = &t->conn_receiver._messages;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        struct conn_handoff *h = (struct conn_handoff *)m;
        close(h->fd);
        free(h);
    }
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct thread_listener *tl = listener->data;
    struct thread *t = tl->t;
    if (err != NULL)
        return;
    /* One connection per readiness callback: every loop is told while connections wait in the backlog. */
    int fd = accept4(tl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    if (n_loops > 1) {
        struct thread *to = &loops[atomic_fetch_add_explicit(&next_loop, 1, memory_order_relaxed) % n_loops];
        /* A loop that is stopping takes no new connection: this one serves it (or h2o closes it for it). */
        if (to != t && atomic_load(&to->accepting)) {
            struct conn_handoff *h = calloc(1, sizeof(*h));
            if (h == NULL)
                abort();
            h->listener = (size_t)(tl - t->listeners);
            h->fd = fd;
            h2o_multithread_send_message(&to->conn_receiver, &h->msg);
            return;
        }
    }
    conn_start(tl, fd);
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
    h2o_timeout_init(t->ctx.loop, &t->linger_timeout, LINGER_IDLE_MS);
    h2o_timeout_init(t->ctx.loop, &t->preface_timeout, t->cfg->request_timeout_ms);
    h2o_timeout_init(t->ctx.loop, &t->flush_timeout, 0);
    t->flush_entry.cb = flush_on_timeout;
    t->queue = h2o_multithread_create_queue(t->ctx.loop);
    h2o_multithread_register_receiver(t->queue, &t->done_receiver, on_jobs_done);
    h2o_multithread_register_receiver(t->queue, &t->conn_receiver, on_conn_handoff);
    for (size_t i = 0; i < t->n_listeners; i++) {
        struct thread_listener *tl = &t->listeners[i];
        tl->t = t;
        tl->accept_ctx.ctx = &t->ctx;
        tl->accept_ctx.hosts = listener_hosts[i];
        tl->sock = h2o_evloop_socket_create(t->ctx.loop, tl->fd, H2O_SOCKET_FLAG_DONT_READ);
        tl->sock->data = tl;
        h2o_socket_read_start(tl->sock, on_accept);
    }
    atomic_store(&t->accepting, true);

    int64_t last_tick = clock_mono_us();
    while (!atomic_load_explicit(t->stop, memory_order_relaxed)) {
        uint64_t seq = t->seq;
        h2o_evloop_run(t->ctx.loop, 100);
        flush_held(t);
        int64_t now = clock_mono_us();
        if (now - last_tick >= 100000) {
            last_tick = now;
            if (t->hooks->tick != NULL)
                t->hooks->tick(t->worker);
            log_flush();
        }
        turn_end(t);
        /* Under load a loop never waits in epoll: there are always events. A turn that served requests
         * then lets the threads waiting for this CPU run first (the clients, a proxy or a database on
         * the same machine, the pool's password hashes, the checkpointer), rather than at the end of a
         * scheduler time slice; with nothing else runnable it returns at once. Clients on the same cores
         * saw a p99 of 3-5 ms without it and about 1 ms with it (bench/README.md, "Yielding after a turn"). */
        if (t->seq != seq)
            sched_yield();
    }
    /* Graceful stop: no new connections, no new jobs (queued ones are answered 503, never served); let
     * the responses in flight finish, at most 10 s. h2o answers with "Connection: close" from now on and
     * tells HTTP/2 clients to go away. A connection another loop passed just before this point is still
     * served while in-flight requests finish; one passed later waits for the process to exit. */
    atomic_store(&t->accepting, false);
    for (size_t i = 0; i < t->n_listeners; i++) {
        h2o_socket_read_stop(t->listeners[i].sock);
        h2o_socket_close(t->listeners[i].sock);
        t->listeners[i].sock = NULL;
    }
    h2o_context_request_shutdown(&t->ctx);
    pool_stop_for(t);
    int64_t deadline = clock_mono_us() + 10 * 1000000;
    while (t->inflight > 0 && clock_mono_us() < deadline) {
        h2o_evloop_run(t->ctx.loop, 10);
        flush_held(t);
        turn_end(t);
    }
    flush_held(t);
    turn_end(t);
    if (t->hooks->thread_fini != NULL)
        t->hooks->thread_fini(t->worker);
    arena_free(t->arena);
    log_thread_buffered(false);
    /* Idle keep-alive connections are dropped with the process; the context is not disposed because
     * h2o 2.2 cannot dispose a context that still has connections attached. */
    return NULL;
}

static int bind_listener(const struct http_listener_config *cfg, struct errbuf *err)
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
        errbuf_set(err, "%s: cannot resolve '%s': %s", cfg->name, host ? host : "*", gai_strerror(rc));
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
        errbuf_set(err, "%s: cannot bind %s:%u: %s", cfg->name, host ? host : "*", cfg->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && err != NULL && err->msg[0] == '\0')
        errbuf_set(err, "%s: cannot bind %s:%u", cfg->name, host ? host : "*", cfg->port);
    return fd;
}

int http_server_run(const struct http_server_config *cfg, const struct http_server_hooks *hooks,
                    atomic_int *stop, struct errbuf *err)
{
    size_t nl = cfg->n_listeners;
    if (nl == 0 || nl > HTTP_MAX_LISTENERS) {
        errbuf_set(err, "between 1 and %d listeners, got %zu", HTTP_MAX_LISTENERS, nl);
        return ERR_FAIL;
    }
    h2o_config_init(&globalconf);
    globalconf.handshake_timeout = cfg->request_timeout_ms;
    bool any_tls = false;
    for (size_t i = 0; i < nl; i++)
        any_tls |= cfg->listeners[i].tls;
    if (any_tls) {
        SSL_CTX *ctx = tls_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, err);
        if (ctx == NULL)
            return ERR_FAIL;
        atomic_store(&tls.current, ctx);
    }
    int fds[HTTP_MAX_LISTENERS];
    for (size_t i = 0; i < nl; i++) {
        fds[i] = bind_listener(&cfg->listeners[i], err);
        if (fds[i] < 0) {
            while (i-- > 0)
                close(fds[i]);
            SSL_CTX_free(atomic_exchange(&tls.current, NULL));
            return ERR_FAIL;
        }
    }
    pthread_mutex_lock(&tls.mu);
    server_cfg = cfg;
    pthread_mutex_unlock(&tls.mu);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("ostiary"));
    globalconf.max_request_entity_size = cfg->max_body_bytes;
    globalconf.http1.req_timeout = cfg->request_timeout_ms;
    globalconf.http2.idle_timeout = cfg->request_timeout_ms;
    /* Never "Upgrade: h2c" (deprecated by RFC 9113 §3.1): such a request is served as HTTP/1.1. HTTP/2
     * with prior knowledge is decided in on_accept. */
    globalconf.http1.upgrade_to_http2 = 0;
    for (size_t i = 0; i < nl; i++) {
        char name[32];
        snprintf(name, sizeof(name), "listener-%zu", i);
        h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(name, strlen(name)), 65535);
        h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
        struct http_server_handler *h = (void *)h2o_create_handler(path, sizeof(*h));
        h->super.on_req = on_req;
        h->listener = cfg->listeners[i].id;
        /* Every response passes the filter: those h2o sends before routing (413, 400) use the fallback
         * path. */
        h2o_create_filter(path, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;
        h2o_create_filter(&host->fallback_path, sizeof(h2o_filter_t))->on_setup_ostream = on_setup_ostream;
        listener_hosts[i][0] = host;
        listener_hosts[i][1] = NULL;
    }

    unsigned n = cfg->threads > 0 ? cfg->threads : 1;
    /* The pool for offloaded requests: as many threads as loops, each with its own context. */
    unsigned np = hooks->offload != NULL ? n : 0;
    pool.hooks = hooks;
    pool.server_stop = stop;
    pool.threads = np;
    pool.max_queued = cfg->max_queued_jobs > 0 ? cfg->max_queued_jobs : 1;
    struct thread *threads = calloc(n, sizeof(*threads));
    loops = threads;
    n_loops = n;
    atomic_store(&next_loop, 0);
    uint32_t prefix;
    rand_bytes(&prefix, sizeof(prefix));
    for (unsigned i = 0; i < n; i++) {
        struct thread *t = &threads[i];
        t->hooks = hooks;
        t->cfg = cfg;
        t->id = i;
        t->stop = stop;
        t->rid_prefix = prefix + i;
        /* Every loop polls the same listening sockets (a dup per thread, so each can close its own). */
        t->n_listeners = nl;
        for (size_t k = 0; k < nl; k++) {
            t->listeners[k].cfg = &cfg->listeners[k];
            t->listeners[k].fd = i == 0 ? fds[k] : dup(fds[k]);
        }
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
            errbuf_set(err, "cannot start worker thread %u", i);
            atomic_store(stop, 1);
            n = i;
            break;
        }
    }
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
    pthread_mutex_lock(&pool.mu);
    pool.stop = true;
    pthread_cond_broadcast(&pool.cv);
    pthread_mutex_unlock(&pool.mu);
    /* Before the threads' memory goes: a pool thread finishing its job posts to its loop's queue. */
    for (unsigned i = 0; i < started; i++)
        pthread_join(pool_tids[i], NULL);
    free(pool_tids);
    for (unsigned i = 0; i < n; i++)
        conn_handoffs_drop(&threads[i]);
    loops = NULL;
    n_loops = 0;
    free(threads);
    pthread_mutex_lock(&tls.mu);
    server_cfg = NULL;
    tls_free_retired_locked(true);
    SSL_CTX_free(atomic_exchange(&tls.current, NULL));
    pthread_mutex_unlock(&tls.mu);
    if (failed) {
        errbuf_set(err, "a worker thread failed to start (see the log)");
        return ERR_FAIL;
    }
    return 0;
}
