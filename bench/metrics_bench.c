/* metrics_bench.c: what the metrics cost on the hot paths (src/core/metrics.c), in CPU time per event, so
 * that the figure holds on a busy machine where request rates do not: metrics_request (one per request: a
 * counter and a histogram bucket), metrics_store_call plus the two clock reads STORE_TIMED_ adds around
 * every store call, and metrics_tokens_issued; each with 1 thread and with 2 threads counting at once (the
 * per-thread blocks share no cache line, so 2 threads cost what 1 does). Not part of the test tiers; build
 * and run:
 *   make -j2 && cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o /tmp/metrics_bench bench/metrics_bench.c \
 *      build/release/libostiary.a $(pkg-config --libs libh2o-evloop jansson openssl sqlite3 libsodium \
 *      yaml-0.1 libpq) -lpthread -lm
 *   /tmp/metrics_bench [events-per-thread]
 * Leaves out the scrape (off the hot path: it sums the blocks of every thread). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/metrics.h"
#include "core/rand.h"
#include "store/store.h"
#include "core/banned.h"

static long events = 20 * 1000 * 1000;

static double cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

enum what { REQUEST, STORE, TOKENS, NOTHING };
static const char *const names[] = {"metrics_request", "store call timing + metrics_store_call",
                                    "metrics_tokens_issued", "(empty loop)"};

struct run {
    enum what what;
    double ns_per_event;
};

static volatile int sink;

static void *worker(void *p)
{
    struct run *r = p;
    unsigned route = metrics_route_register("/bench");
    double t0 = cpu_ns();
    for (long i = 0; i < events; i++) {
        switch (r->what) {
        case REQUEST: metrics_request(0, route, 200, (int64_t)(i & 4095)); break;
        case STORE: {
            /* What the store.h dispatch macros add around a call. */
            int64_t t = clock_mono_us();
            store_observe_(STORE_OP_token_get, t, (int)(i & 1) - 1);
            break;
        }
        case TOKENS: metrics_tokens_issued(METRICS_GRANT_CLIENT_CREDENTIALS, true, false, false); break;
        case NOTHING: sink = (int)i; break;
        }
    }
    r->ns_per_event = (cpu_ns() - t0) / (double)events;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        events = atol(argv[1]);
    printf("%ld events per thread; CPU time of the counting thread per event\n", events);
    printf("| what | 1 thread ns | 2 threads ns (each) |\n|---|---:|---:|\n");
    for (int w = 0; w <= NOTHING; w++) {
        struct run one = {(enum what)w, 0}, two[2] = {{(enum what)w, 0}, {(enum what)w, 0}};
        pthread_t t[2];
        pthread_create(&t[0], NULL, worker, &one);
        pthread_join(t[0], NULL);
        for (int k = 0; k < 2; k++)
            pthread_create(&t[k], NULL, worker, &two[k]);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        printf("| %s | %.1f | %.1f / %.1f |\n", names[w], one.ns_per_event, two[0].ns_per_event,
               two[1].ns_per_event);
    }
    struct metrics_snapshot *s = malloc(sizeof(*s));
    double t0 = cpu_ns();
    metrics_snapshot(s);
    printf("one scrape's sum of the blocks: %.0f us\n", (cpu_ns() - t0) / 1000.0);
    free(s);
    return 0;
}
