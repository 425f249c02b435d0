/* metrics.c: per-thread counters and latency histograms, summed on scrape (metrics.h). A thread's first
 * count allocates its block and links it into the registry; after that, counting is a relaxed load and
 * store on the thread's own memory: no lock, no atomic read-modify-write, no cache line another thread
 * writes. */
#include "core/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

typedef _Atomic uint64_t counter;

struct histogram {
    counter bucket[METRICS_BUCKETS];
    counter count;
    counter sum_us;
};

struct block {
    counter requests[METRICS_LISTENERS][METRICS_ROUTES_MAX][METRICS_STATUS_SLOTS];
    struct histogram latency[METRICS_LISTENERS][METRICS_ROUTES_MAX];
    struct histogram store[METRICS_STORE_OPS_MAX];
    counter store_errors[METRICS_STORE_OPS_MAX];
    counter tokens[METRICS_GRANTS][METRICS_TOKENS];
    counter refresh_reuse, login_failures, login_delayed;
    counter oauth_errors[METRICS_ERRORS_MAX];
    struct block *next;
};

#define METRICS_BUCKET_US_(us) us,
const int64_t metrics_bucket_us[METRICS_BUCKETS - 1] = {METRICS_LATENCY_BUCKETS(METRICS_BUCKET_US_)};
#define METRICS_STATUS_CODE_(s) s,
const int metrics_status_codes[METRICS_STATUS_SLOTS - 1] = {METRICS_STATUSES(METRICS_STATUS_CODE_)};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct block *_Atomic blocks; /* every thread's block, newest first */
static const char *route_labels[METRICS_ROUTES_MAX] = {"unmatched"};
static unsigned n_routes = 1;

static _Thread_local struct block *mine;

static struct block *block_new(void)
{
    struct block *b = calloc(1, sizeof(*b));
    if (b == NULL)
        abort();
    pthread_mutex_lock(&registry_mu);
    b->next = atomic_load(&blocks);
    atomic_store(&blocks, b);
    pthread_mutex_unlock(&registry_mu);
    return b;
}

static inline struct block *my_block(void)
{
    struct block *b = mine;
    if (b == NULL)
        b = mine = block_new();
    return b;
}

/* Only this thread writes c: a plain load and store, kept atomic so that a scrape's read is defined. */
static inline void add(counter *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static void observe(struct histogram *h, int64_t us)
{
    if (us < 0)
        us = 0;
    size_t i = 0;
    while (i < METRICS_BUCKETS - 1 && us > metrics_bucket_us[i])
        i++;
    add(&h->bucket[i], 1);
    add(&h->count, 1);
    add(&h->sum_us, (uint64_t)us);
}

static unsigned status_slot(int status)
{
    for (unsigned i = 0; i < METRICS_STATUS_SLOTS - 1; i++)
        if (metrics_status_codes[i] == status)
            return i;
    return METRICS_STATUS_SLOTS - 1;
}

void metrics_request(unsigned listener, unsigned route, int status, int64_t dur_us)
{
    struct block *b = my_block();
    if (listener >= METRICS_LISTENERS)
        listener = 0;
    if (route >= METRICS_ROUTES_MAX)
        route = 0;
    add(&b->requests[listener][route][status_slot(status)], 1);
    observe(&b->latency[listener][route], dur_us);
}

void metrics_store_call(unsigned op, int64_t dur_us, bool failed)
{
    if (op >= METRICS_STORE_OPS_MAX)
        return;
    struct block *b = my_block();
    observe(&b->store[op], dur_us);
    if (failed)
        add(&b->store_errors[op], 1);
}

void metrics_tokens_issued(enum metrics_grant g, bool jwt_access, bool refresh, bool id_token)
{
    if ((unsigned)g >= METRICS_GRANTS)
        return;
    struct block *b = my_block();
    add(&b->tokens[g][jwt_access ? METRICS_TOKEN_ACCESS_JWT : METRICS_TOKEN_ACCESS_OPAQUE], 1);
    if (refresh)
        add(&b->tokens[g][METRICS_TOKEN_REFRESH], 1);
    if (id_token)
        add(&b->tokens[g][METRICS_TOKEN_ID], 1);
}

void metrics_refresh_reuse(void)
{
    add(&my_block()->refresh_reuse, 1);
}

void metrics_login_failure(void)
{
    add(&my_block()->login_failures, 1);
}

void metrics_login_delayed(void)
{
    add(&my_block()->login_delayed, 1);
}

void metrics_oauth_error(unsigned code)
{
    if (code < METRICS_ERRORS_MAX)
        add(&my_block()->oauth_errors[code], 1);
}

unsigned metrics_route_register(const char *label)
{
    pthread_mutex_lock(&registry_mu);
    unsigned id = 0;
    for (unsigned i = 1; i < n_routes && id == 0; i++)
        if (strcmp(route_labels[i], label) == 0)
            id = i;
    if (id == 0 && n_routes < METRICS_ROUTES_MAX) {
        id = n_routes++;
        route_labels[id] = label;
    }
    pthread_mutex_unlock(&registry_mu);
    return id;
}

const char *metrics_route_label(unsigned r)
{
    pthread_mutex_lock(&registry_mu);
    const char *l = r < n_routes ? route_labels[r] : NULL;
    pthread_mutex_unlock(&registry_mu);
    return l;
}

static uint64_t get(const counter *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void sum_histogram(struct metrics_histogram *out, const struct histogram *h)
{
    for (size_t i = 0; i < METRICS_BUCKETS; i++)
        out->bucket[i] += get(&h->bucket[i]);
    out->count += get(&h->count);
    out->sum_us += (int64_t)get(&h->sum_us);
}

void metrics_snapshot(struct metrics_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct block *b = atomic_load(&blocks); b != NULL; b = b->next) {
        for (size_t l = 0; l < METRICS_LISTENERS; l++) {
            for (size_t r = 0; r < METRICS_ROUTES_MAX; r++) {
                for (size_t s = 0; s < METRICS_STATUS_SLOTS; s++)
                    out->requests[l][r][s] += get(&b->requests[l][r][s]);
                sum_histogram(&out->latency[l][r], &b->latency[l][r]);
            }
        }
        for (size_t o = 0; o < METRICS_STORE_OPS_MAX; o++) {
            sum_histogram(&out->store[o], &b->store[o]);
            out->store_errors[o] += get(&b->store_errors[o]);
        }
        for (size_t g = 0; g < METRICS_GRANTS; g++)
            for (size_t t = 0; t < METRICS_TOKENS; t++)
                out->tokens[g][t] += get(&b->tokens[g][t]);
        out->refresh_reuse += get(&b->refresh_reuse);
        out->login_failures += get(&b->login_failures);
        out->login_delayed += get(&b->login_delayed);
        for (size_t e = 0; e < METRICS_ERRORS_MAX; e++)
            out->oauth_errors[e] += get(&b->oauth_errors[e]);
    }
}
