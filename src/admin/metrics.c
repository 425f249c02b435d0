/* metrics.c: GET /metrics of the admin listener, in the Prometheus text exposition format 0.0.4: the
 * counters and latency histograms of core/metrics.h (summed over the threads at each scrape) and gauges
 * read at scrape time: the login queue, the store's write-ahead log, the age of the signing keys, the
 * start time and the build. Series with no event yet are left out, but for the plain counters. Authorized
 * like every admin route (scope ostiary:metrics) unless admin.metrics_public is set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "admin/admin_internal.h"
#include "app.h"
#include "core/arena.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/server.h"
#include "jose/jose.h"
#include "oauth/error.h"
#include "store/store.h"
#include "core/banned.h"

#ifndef OSTIARY_VERSION
#define OSTIARY_VERSION "dev"
#endif

#define METRICS_TEXT_MAX (8u << 20)

static const char *const listener_names[METRICS_LISTENERS] = {"main", "admin"};
static const char *const grant_names[METRICS_GRANTS] = {"authorization_code", "client_credentials",
                                                        "refresh_token",
                                                        "urn:ietf:params:oauth:grant-type:device_code"};
/* enum metrics_token: the token and its format. */
static const char *const token_names[METRICS_TOKENS][2] = {
    {"access_token", "jwt"}, {"access_token", "opaque"}, {"refresh_token", "opaque"}, {"id_token", "jwt"}};

/* A label value (exposition format: backslash, double quote and line feed escaped). */
static void add_label(struct strbuf *sb, const char *name, const char *value, bool first)
{
    strbuf_addf(sb, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value != NULL ? value : ""; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"')
            strbuf_addc(sb, '\\');
        if (*p == '\n')
            strbuf_adds(sb, "\\n");
        else
            strbuf_addc(sb, *p);
    }
    strbuf_addc(sb, '"');
}

static void family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
    strbuf_addf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct strbuf *sb, const char *name, const char *help, uint64_t v)
{
    family(sb, name, "counter", help);
    strbuf_addf(sb, "%s %llu\n", name, (unsigned long long)v);
}

/* The samples of one histogram; `labels` is the series' label set without braces ("" for none). */
static void histogram(struct strbuf *sb, const char *name, const char *labels,
                      const struct metrics_histogram *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] != '\0' ? "," : "";
    for (size_t b = 0; b < METRICS_BUCKETS; b++) {
        cum += h->bucket[b];
        if (b < METRICS_BUCKETS - 1)
            strbuf_addf(sb, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                        (double)metrics_bucket_us[b] / 1e6, (unsigned long long)cum);
        else
            strbuf_addf(sb, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    }
    strbuf_addf(sb, "%s_sum{%s} %.6f\n", name, labels, (double)h->sum_us / 1e6);
    strbuf_addf(sb, "%s_count{%s} %llu\n", name, labels, (unsigned long long)h->count);
}

/* A label set as text, for histogram(). */
static const char *labels2(struct arena *a, const char *n1, const char *v1, const char *n2, const char *v2)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 4096);
    add_label(&sb, n1, v1, true);
    if (n2 != NULL)
        add_label(&sb, n2, v2, false);
    return strbuf_str(&sb);
}

static void requests(struct strbuf *sb, struct arena *a, const struct metrics_snapshot *s)
{
    family(sb, "ostiary_http_requests_total", "counter", "Requests answered, by listener, route and status.");
    for (size_t l = 0; l < METRICS_LISTENERS; l++)
        for (size_t r = 0; r < METRICS_ROUTES_MAX; r++)
            for (size_t k = 0; k < METRICS_STATUS_SLOTS; k++) {
                if (s->requests[l][r][k] == 0)
                    continue;
                char status[8];
                if (k < METRICS_STATUS_SLOTS - 1)
                    snprintf(status, sizeof(status), "%d", metrics_status_codes[k]);
                else
                    snprintf(status, sizeof(status), "other");
                strbuf_adds(sb, "ostiary_http_requests_total{");
                add_label(sb, "listener", listener_names[l], true);
                add_label(sb, "route", metrics_route_label((unsigned)r), false);
                add_label(sb, "status", status, false);
                strbuf_addf(sb, "} %llu\n", (unsigned long long)s->requests[l][r][k]);
            }
    family(sb, "ostiary_http_request_duration_seconds", "histogram",
           "Time from the request's arrival to its response, by listener and route.");
    for (size_t l = 0; l < METRICS_LISTENERS; l++)
        for (size_t r = 0; r < METRICS_ROUTES_MAX; r++)
            if (s->latency[l][r].count > 0)
                histogram(
                    sb, "ostiary_http_request_duration_seconds",
                    labels2(a, "listener", listener_names[l], "route", metrics_route_label((unsigned)r)),
                    &s->latency[l][r]);
}

static void tokens_and_logins(struct strbuf *sb, const struct metrics_snapshot *s)
{
    family(sb, "ostiary_tokens_issued_total", "counter", "Tokens issued, by grant type, token and format.");
    for (size_t g = 0; g < METRICS_GRANTS; g++)
        for (size_t t = 0; t < METRICS_TOKENS; t++) {
            if (s->tokens[g][t] == 0)
                continue;
            strbuf_adds(sb, "ostiary_tokens_issued_total{");
            add_label(sb, "grant_type", grant_names[g], true);
            add_label(sb, "token", token_names[t][0], false);
            add_label(sb, "format", token_names[t][1], false);
            strbuf_addf(sb, "} %llu\n", (unsigned long long)s->tokens[g][t]);
        }
    counter(sb, "ostiary_refresh_token_reuse_total",
            "Rotated refresh tokens presented again (each revoked its family).", s->refresh_reuse);
    counter(sb, "ostiary_login_failures_total",
            "Failed login attempts (wrong or unknown username or password).", s->login_failures);
    counter(sb, "ostiary_login_delays_total",
            "Login attempts refused because the failed-login limiter delays them.", s->login_delayed);
    family(sb, "ostiary_oauth_errors_total", "counter", "OAuth error responses, by error code.");
    for (unsigned e = 1; e < OAUTH_ERR__COUNT; e++) {
        if (s->oauth_errors[e] == 0)
            continue;
        strbuf_adds(sb, "ostiary_oauth_errors_total{");
        add_label(sb, "error", oauth_err_str((enum oauth_err)e), true);
        strbuf_addf(sb, "} %llu\n", (unsigned long long)s->oauth_errors[e]);
    }
}

static void store(struct strbuf *sb, struct arena *a, const struct app *app, const struct metrics_snapshot *s)
{
    family(sb, "ostiary_store_operation_duration_seconds", "histogram", "Store operations, by operation.");
    for (size_t o = 0; o < STORE_OP__COUNT; o++)
        if (s->store[o].count > 0)
            histogram(sb, "ostiary_store_operation_duration_seconds",
                      labels2(a, "op", store_op_names[o], NULL, NULL), &s->store[o]);
    family(sb, "ostiary_store_errors_total", "counter", "Store operations that failed, by operation.");
    for (size_t o = 0; o < STORE_OP__COUNT; o++) {
        if (s->store_errors[o] == 0)
            continue;
        strbuf_adds(sb, "ostiary_store_errors_total{");
        add_label(sb, "op", store_op_names[o], true);
        strbuf_addf(sb, "} %llu\n", (unsigned long long)s->store_errors[o]);
    }
    int64_t wal = app->store->ops->wal_bytes(app->store);
    if (wal >= 0) {
        family(sb, "ostiary_store_wal_bytes", "gauge", "Size of the store's write-ahead log.");
        strbuf_addf(sb, "ostiary_store_wal_bytes %lld\n", (long long)wal);
    }
}

static void gauges(struct strbuf *sb, struct arena *a, const struct app *app)
{
    int64_t now = clock_now();
    family(sb, "ostiary_login_queue_depth", "gauge", "Login posts waiting for a password-hashing thread.");
    strbuf_addf(sb, "ostiary_login_queue_depth %zu\n", http_server_queued());
    family(sb, "ostiary_signing_key_age_seconds", "gauge",
           "Time since each signing key began to sign, by algorithm.");
    struct keystore_info *k = NULL;
    size_t n = keystore_signing(app->keys, a, now, &k);
    for (size_t i = 0; i < n; i++) {
        strbuf_adds(sb, "ostiary_signing_key_age_seconds{");
        add_label(sb, "alg", k[i].alg, true);
        add_label(sb, "kid", k[i].kid, false);
        strbuf_addf(sb, "} %lld\n", (long long)(now - k[i].sign_from));
    }
    family(sb, "ostiary_start_time_seconds", "gauge", "When the server started, Unix seconds.");
    strbuf_addf(sb, "ostiary_start_time_seconds %lld\n", (long long)app->started_at);
    family(sb, "ostiary_build_info", "gauge", "The build: version and libraries; always 1.");
    strbuf_adds(sb, "ostiary_build_info{");
    add_label(sb, "version", OSTIARY_VERSION, true);
    add_label(sb, "openssl", OpenSSL_version(OPENSSL_VERSION_STRING), false);
    add_label(sb, "jansson", JANSSON_VERSION, false);
    strbuf_adds(sb, "} 1\n");
}

void admin_metrics(struct admin_call *c)
{
    if (!admin_query_only(c, NULL))
        return;
    struct metrics_snapshot *s = malloc(sizeof(*s));
    if (s == NULL)
        abort();
    metrics_snapshot(s);
    struct strbuf sb;
    strbuf_init(&sb, c->a, METRICS_TEXT_MAX);
    gauges(&sb, c->a, c->app);
    requests(&sb, c->a, s);
    tokens_and_logins(&sb, s);
    store(&sb, c->a, c->app, s);
    free(s);
    const char *text = strbuf_str(&sb);
    http_res_header(c->req, "Cache-Control", "no-store");
    http_res_body(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", text, text != NULL ? sb.len : 0);
}
