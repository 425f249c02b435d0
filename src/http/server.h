/* server.h: the HTTP server adapter. server.c is the only file that includes libh2o. It runs one h2o
 * event loop per worker thread, all accepting on the same listening sockets (one per configured listener:
 * the main one, and the admin one when configured); each thread owns a context from hooks->thread_init (the
 * store connection and friends) and an arena reset after every request. Every request is tagged with the
 * listener it came on (struct http_req's `listener`). */
#ifndef OSTIARY_HTTP_SERVER_H
#define OSTIARY_HTTP_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct http_req;
struct ipnet;
struct worker;

/* One listening socket. */
struct http_listener_config {
    unsigned id;                /* copied into every request's `listener` (HTTP_LISTENER_MAIN, ...) */
    const char *name;           /* for messages: "listen", "admin.listen" */
    const char *host;
    uint16_t port;
    bool http2_cleartext;       /* accept HTTP/2 with prior knowledge (RFC 9113 §3.3) on this plain socket */
    bool tls;                   /* TLS only, with the server's certificate; HTTP/2 or 1.1 chosen by ALPN */
};

#define HTTP_MAX_LISTENERS 4

struct http_server_config {
    const struct http_listener_config *listeners; /* 1..HTTP_MAX_LISTENERS; borrowed */
    size_t n_listeners;
    unsigned threads;
    size_t max_body_bytes;      /* larger bodies: 413 */
    size_t max_header_bytes;    /* larger header sections: 431 */
    uint32_t request_timeout_ms; /* a request not fully received in this time: the connection is closed */
    size_t max_queued_jobs;     /* offloaded requests waiting for the pool; more: hooks->busy (503) */
    /* PEM files of the certificate (leaf first, then its chain) and of its private key, for the listeners
     * with `tls`; re-read by http_server_reload_tls. Borrowed, must outlive the server. */
    const char *tls_cert_file, *tls_key_file;
    const char *hsts;           /* the Strict-Transport-Security value added to every response, or NULL */
    /* Peers whose X-Forwarded-For names the client (http/proxy.h); borrowed, must outlive the server.
     * None: the TCP peer is always the client. */
    const struct ipnet *trusted_proxies;
    size_t n_trusted_proxies;
};

struct http_server_hooks {
    /* Called on each worker thread before it serves; returns the thread's context or NULL to abort. */
    struct worker *(*thread_init)(void *ud, unsigned id);
    void (*thread_fini)(struct worker *w);
    /* Called on each worker thread about every 100 ms (background work: GC, key reload, log flush). */
    void (*tick)(struct worker *w);
    /* Optional: called on each event-loop thread after every turn of its loop (the requests whose events
     * were ready served, held ones flushed, tick run), before it waits for events again. */
    void (*turn_end)(struct worker *w);
    /* Serves one request: fills req->res. Runs on the worker's loop thread, or on a pool thread for
     * requests `offload` selects. */
    void (*handle)(struct http_req *req);
    /* Optional: true for requests too slow for the event loop (a password hash). Those are copied and
     * served by a pool of threads (one per loop thread, each with its own thread_init context, ids
     * after the loops'), so the loop keeps serving its other connections meanwhile. Called before
     * `handle`, on the loop thread; it may record its routing decision in req->route, which the copy
     * keeps and `handle` reuses. */
    bool (*offload)(struct http_req *req);
    /* Optional, with offload: fills req->res for an offloaded request that will not be served (the queue
     * is full, or the server is stopping): a 503 with a Retry-After of retry_after_s seconds, the
     * server's estimate of when the queue will have room. Runs on the loop thread with the loop's context.
     * Without it the server answers a JSON 503 itself. */
    void (*busy)(struct http_req *req, unsigned retry_after_s);
    /* Optional, together: group commit. After each turn of its event loop in which requests were held
     * (http_req's `held`), the loop thread calls flush, which commits what they queued; then it sends
     * their responses, or, when flush returned an error code, each one's held_failed answer instead (its
     * response is cleared first). A held request is never answered before its write is committed. */
    int (*flush)(struct worker *w);
    void (*held_failed)(struct http_req *req, int rc);
    /* Optional, with flush: after a flush, whether the held request must be served again: its queued write
     * lost (a concurrent write got there first and the queued one changed nothing), or the flush failed and
     * the request's endpoint answers a store failure in its own way. Such a request is served again at
     * once with can_hold false, its first response discarded (held_failed is not called for it). */
    bool (*held_retry)(struct worker *w, const struct http_req *req);
    void *ud;
};

/* Offloaded requests waiting for a pool thread now (the login queue; 0 when no server runs). Any thread. */
size_t http_server_queued(void);

/* Binds every listening socket (errors are returned before any thread starts), then serves until *stop
 * becomes non-zero: stops accepting, answers the queued offloaded requests with hooks->busy without
 * serving them, lets in-flight requests finish (up to 10 s), joins the threads. */
int http_server_run(const struct http_server_config *cfg, const struct http_server_hooks *hooks,
                    atomic_int *stop, struct errbuf *err);

/* Reads the certificate and key again (the files named in the running server's configuration) and makes
 * them the ones new TLS connections get; established connections keep theirs, none is dropped. Called from
 * any thread while http_server_run runs (the SIGHUP handler). 0; ERR_FAIL with err saying why (the
 * certificate in use stays) or when no listener has TLS. Blocks for the file reads. */
int http_server_reload_tls(struct errbuf *err);

/* Loads the certificate and key the way the server does (TLS 1.2+, the key must match the certificate)
 * and discards them: 0, or ERR_INVALID with err naming the file and OpenSSL's reason. For checking a
 * configuration without starting. */
int http_tls_check(const char *cert_file, const char *key_file, struct errbuf *err);

#endif
