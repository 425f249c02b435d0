/* metrics.h: the counters and histograms behind GET /metrics (admin/metrics.c renders them in the
 * Prometheus text format). Hot paths count into a block owned by the calling thread: a relaxed load and
 * store on memory no other thread writes (no locked instruction, no cache line shared between threads), so
 * counting costs a few instructions. A scrape sums the blocks of every thread that ever counted; blocks
 * are never freed (the server's threads live as long as the process, and a thread that ends leaves its
 * counts behind, as a counter must). Counters only grow; a scrape may see one thread's block mid-update
 * (a bucket counted, its sum not yet), which Prometheus tolerates.
 *
 * Labels are small integers fixed at start: routes are registered by name (metrics_route_register), store
 * operations are store.h's STORE_OPS ids, errors are oauth/error.h's codes (up to METRICS_ERRORS_MAX). */
#ifndef OSTIARY_METRICS_H
#define OSTIARY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_ROUTES_MAX 64   /* route labels; id 0 is "unmatched" (404s, what the server answers itself) */
#define METRICS_LISTENERS 2     /* http.h enum http_listener */
#define METRICS_STORE_OPS_MAX 64
#define METRICS_ERRORS_MAX 64

/* Latency buckets (upper bounds, microseconds); the histograms add +Inf. */
#define METRICS_LATENCY_BUCKETS(X)                                                                           \
    X(100) X(250) X(500) X(1000) X(2500) X(5000) X(10000) X(25000) X(50000) X(100000) X(250000) X(500000)  \
        X(1000000) X(2500000)
#define METRICS_BUCKET_COUNT_(us) +1
enum { METRICS_BUCKETS = 0 METRICS_LATENCY_BUCKETS(METRICS_BUCKET_COUNT_) + 1 /* +Inf */ };
extern const int64_t metrics_bucket_us[METRICS_BUCKETS - 1];

/* The response statuses counted one by one; any other is counted as "other". */
#define METRICS_STATUSES(X)                                                                                  \
    X(200) X(201) X(204) X(302) X(303) X(400) X(401) X(403) X(404) X(405) X(409) X(413) X(415) X(422) X(429) \
        X(431) X(500) X(503)
#define METRICS_STATUS_COUNT_(s) +1
enum { METRICS_STATUS_SLOTS = 0 METRICS_STATUSES(METRICS_STATUS_COUNT_) + 1 /* other */ };
extern const int metrics_status_codes[METRICS_STATUS_SLOTS - 1];

/* Grant types and what they issue (tokens issued by grant type and format). */
enum metrics_grant {
    METRICS_GRANT_AUTHORIZATION_CODE,
    METRICS_GRANT_CLIENT_CREDENTIALS,
    METRICS_GRANT_REFRESH_TOKEN,
    METRICS_GRANT_DEVICE_CODE,
    METRICS_GRANTS
};
enum metrics_token {
    METRICS_TOKEN_ACCESS_JWT,
    METRICS_TOKEN_ACCESS_OPAQUE,
    METRICS_TOKEN_REFRESH,  /* opaque */
    METRICS_TOKEN_ID,       /* a JWT */
    METRICS_TOKENS
};

/* ---- counting (any thread; never blocks after the thread's first call, which allocates its block) ---- */

/* A request answered: its listener, route id, status and duration. */
void metrics_request(unsigned listener, unsigned route, int status, int64_t dur_us);
/* A store call: its op id (store.h), duration, and whether it failed (not NOTFOUND or CONFLICT, which are
 * answers). */
void metrics_store_call(unsigned op, int64_t dur_us, bool failed);
void metrics_tokens_issued(enum metrics_grant g, bool jwt_access, bool refresh, bool id_token);
void metrics_refresh_reuse(void);
void metrics_login_failure(void);
void metrics_login_delayed(void);
void metrics_oauth_error(unsigned code);

/* ---- labels ---- */

/* The id of a route label ("/token", "/admin/clients/{id}"), registering it on first use; 0 ("unmatched")
 * once METRICS_ROUTES_MAX labels exist. Takes a lock: call it once per route (at start or behind a
 * pthread_once), never per request. The label is borrowed and must live for the process. */
unsigned metrics_route_register(const char *label);
/* The label of route id r (NULL for an unused id). */
const char *metrics_route_label(unsigned r);

/* ---- reading (the scrape) ---- */

struct metrics_histogram {
    uint64_t bucket[METRICS_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    int64_t sum_us;
};

struct metrics_snapshot {
    uint64_t requests[METRICS_LISTENERS][METRICS_ROUTES_MAX][METRICS_STATUS_SLOTS];
    struct metrics_histogram latency[METRICS_LISTENERS][METRICS_ROUTES_MAX];
    struct metrics_histogram store[METRICS_STORE_OPS_MAX];
    uint64_t store_errors[METRICS_STORE_OPS_MAX];
    uint64_t tokens[METRICS_GRANTS][METRICS_TOKENS];
    uint64_t refresh_reuse, login_failures, login_delayed;
    uint64_t oauth_errors[METRICS_ERRORS_MAX];
};

/* Sums every thread's block into *out (zeroed first). Takes the registry lock briefly; never blocks a
 * counting thread. out is large (about 140 KiB): allocate it, do not put it on a stack. */
void metrics_snapshot(struct metrics_snapshot *out);

#endif
