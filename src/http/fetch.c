/* fetch.c: HTTPS GETs with libcurl's easy interface, one transfer per call, and the per-URL cache
 * (fetch.h). The only file that includes or calls libcurl. Redirects are not followed: a jwks_uri is
 * registered as the exact URL of the document. Cache-Control max-age (RFC 9111 §5.2.2.1) sets how long a
 * document is kept, within the configured bounds; nothing else of HTTP caching is implemented (no
 * validators, no Expires, no Vary). */
#include "http/fetch.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "core/banned.h"

/* URLs the cache holds at most; the least recently fetched entry makes room. */
#define FETCH_CACHE_SLOTS 256
#define FETCH_URL_MAX 2048

struct fetch_entry {
    char *url;          /* NULL: a free slot */
    char *body;         /* NULL after a failure */
    size_t len;
    int64_t fetched_at; /* the last attempt, success or not */
    int64_t expires_at; /* body is fresh until then */
};

struct fetch_cache {
    struct fetch_opts opts;
    char *ca_file;
    pthread_mutex_t mu;
    struct fetch_entry slots[FETCH_CACHE_SLOTS];
};

struct fetch_cache *fetch_cache_new(const struct fetch_opts *opts)
{
    struct fetch_cache *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        abort();
    fc->opts = *opts;
    if (opts->ca_file != NULL) {
        fc->ca_file = strdup(opts->ca_file);
        if (fc->ca_file == NULL)
            abort();
    }
    fc->opts.ca_file = fc->ca_file;
    pthread_mutex_init(&fc->mu, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return fc;
}

void fetch_cache_free(struct fetch_cache *fc)
{
    if (fc == NULL)
        return;
    for (size_t i = 0; i < FETCH_CACHE_SLOTS; i++) {
        free(fc->slots[i].url);
        free(fc->slots[i].body);
    }
    pthread_mutex_destroy(&fc->mu);
    free(fc->ca_file);
    free(fc);
    curl_global_cleanup();
}

int64_t fetch_max_age(const char *value, size_t len)
{
    int64_t age = -1;
    struct str rest = {value, len}, item;
    /* Directives are comma-separated tokens, optionally token=value (RFC 9111 §5.2). */
    while (rest.len > 0) {
        const char *comma = memchr(rest.p, ',', rest.len);
        size_t n = comma != NULL ? (size_t)(comma - rest.p) : rest.len;
        item = (struct str){rest.p, n};
        rest = comma != NULL ? (struct str){comma + 1, rest.len - n - 1} : (struct str){rest.p + n, 0};
        while (item.len > 0 && (item.p[0] == ' ' || item.p[0] == '\t'))
            item.p++, item.len--;
        while (item.len > 0 && (item.p[item.len - 1] == ' ' || item.p[item.len - 1] == '\t'))
            item.len--;
        if ((item.len == 8 && strncasecmp(item.p, "no-store", 8) == 0) ||
            (item.len == 8 && strncasecmp(item.p, "no-cache", 8) == 0))
            return 0;
        if (item.len > 8 && strncasecmp(item.p, "max-age=", 8) == 0) {
            const char *d = item.p + 8;
            size_t dn = item.len - 8;
            if (dn >= 2 && d[0] == '"' && d[dn - 1] == '"') /* §5.2: the quoted form is tolerated */
                d++, dn -= 2;
            int64_t v = 0;
            size_t i = 0;
            for (; i < dn && isdigit((unsigned char)d[i]); i++)
                v = v > INT32_MAX ? v : v * 10 + (d[i] - '0');
            if (i == dn && dn > 0)
                age = v > INT32_MAX ? INT32_MAX : v; /* §1.2.2: a too large delta is the largest one */
        }
    }
    return age;
}

static struct fetch_entry *find(struct fetch_cache *fc, const char *url)
{
    for (size_t i = 0; i < FETCH_CACHE_SLOTS; i++)
        if (fc->slots[i].url != NULL && strcmp(fc->slots[i].url, url) == 0)
            return &fc->slots[i];
    return NULL;
}

/* Whether the entry answers without the network (fetch.h: fetch_cached). Under fc->mu. */
static bool answers(const struct fetch_cache *fc, const struct fetch_entry *e, unsigned flags, int64_t now)
{
    if (e == NULL)
        return false;
    bool recent = now >= e->fetched_at && now - e->fetched_at < (int64_t)fc->opts.refetch_seconds;
    if (e->body == NULL)
        return recent; /* a failure, remembered for refetch_seconds */
    if (flags & FETCH_REFRESH)
        return recent;
    return now < e->expires_at;
}

bool fetch_cached(struct fetch_cache *fc, const char *url, unsigned flags)
{
    pthread_mutex_lock(&fc->mu);
    bool ok = answers(fc, find(fc, url), flags, clock_now());
    pthread_mutex_unlock(&fc->mu);
    return ok;
}

struct body_buf {
    char *p;
    size_t len, cap, max;
    int64_t max_age;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct body_buf *b = arg;
    size_t add = size * n;
    if (add > b->max - b->len)
        return 0; /* over the cap: curl fails the transfer (CURLE_WRITE_ERROR) */
    if (b->len + add + 1 > b->cap) {
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap < b->len + add + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, add);
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct body_buf *b = arg;
    size_t len = size * n;
    static const char name[] = "cache-control:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        int64_t age = fetch_max_age(data + sizeof(name) - 1, len - (sizeof(name) - 1));
        if (age >= 0)
            b->max_age = age;
    }
    return len;
}

/* One transfer. 0 with the body (malloc'd) and max-age (-1: none), or ERR_UNAVAILABLE. */
static int transfer(const struct fetch_opts *o, const char *url, struct body_buf *b, struct errbuf *err)
{
    CURL *h = curl_easy_init();
    if (h == NULL) {
        errbuf_set(err, "fetch %s: curl_easy_init failed", url);
        return ERR_UNAVAILABLE;
    }
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_ms / 2 > 0 ? o->timeout_ms / 2 : 1));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "ostiary");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL); /* no decompression: the cap is on what is read */
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        errbuf_set(err, "fetch %s: %s", url,
                   rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED ? "larger than the size cap"
                   : curl_err[0] != '\0'                                     ? curl_err
                                                                             : curl_easy_strerror(rc));
        return ERR_UNAVAILABLE;
    }
    if (status != 200) {
        errbuf_set(err, "fetch %s: HTTP status %ld", url, status);
        return ERR_UNAVAILABLE;
    }
    if (b->p == NULL) {
        errbuf_set(err, "fetch %s: empty body", url);
        return ERR_UNAVAILABLE;
    }
    return 0;
}

static struct fetch_entry *slot_for(struct fetch_cache *fc, const char *url)
{
    struct fetch_entry *e = find(fc, url), *oldest = &fc->slots[0];
    if (e != NULL)
        return e;
    for (size_t i = 0; i < FETCH_CACHE_SLOTS; i++) {
        if (fc->slots[i].url == NULL)
            return &fc->slots[i];
        if (fc->slots[i].fetched_at < oldest->fetched_at)
            oldest = &fc->slots[i];
    }
    free(oldest->url);
    free(oldest->body);
    memset(oldest, 0, sizeof(*oldest));
    return oldest;
}

static bool https_url(const char *url)
{
    return url != NULL && strncmp(url, "https://", 8) == 0 && strlen(url) > 8 && strlen(url) <= FETCH_URL_MAX;
}

int fetch_get(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, const char **body,
              size_t *len, bool *refreshed, struct errbuf *err)
{
    *body = NULL;
    *len = 0;
    if (refreshed != NULL)
        *refreshed = false;
    if (!https_url(url)) {
        errbuf_set(err, "fetch: not an https URL of at most %d bytes", FETCH_URL_MAX);
        return ERR_INVALID;
    }
    int64_t now = clock_now();
    pthread_mutex_lock(&fc->mu);
    struct fetch_entry *e = find(fc, url);
    if (answers(fc, e, flags, now)) {
        int rc = 0;
        if (e->body != NULL) {
            *body = arena_memdup(a, e->body, e->len + 1);
            *len = e->len;
        } else {
            errbuf_set(err, "fetch %s: failed less than %u seconds ago", url, fc->opts.refetch_seconds);
            rc = ERR_UNAVAILABLE;
        }
        pthread_mutex_unlock(&fc->mu);
        return rc;
    }
    pthread_mutex_unlock(&fc->mu);

    /* Outside the lock: other URLs are served meanwhile. Two threads may fetch one URL at once; the later
     * result wins, which is as fresh. */
    struct body_buf b = {NULL, 0, 0, fc->opts.max_bytes, -1};
    int rc = transfer(&fc->opts, url, &b, err);
    if (refreshed != NULL)
        *refreshed = true;
    int64_t ttl = b.max_age < 0 ? (int64_t)fc->opts.cache_min_seconds : b.max_age;
    if (ttl < (int64_t)fc->opts.cache_min_seconds)
        ttl = fc->opts.cache_min_seconds;
    if (ttl > (int64_t)fc->opts.cache_max_seconds)
        ttl = fc->opts.cache_max_seconds;

    pthread_mutex_lock(&fc->mu);
    e = slot_for(fc, url);
    if (e->url == NULL) {
        e->url = strdup(url);
        if (e->url == NULL)
            abort();
    }
    e->fetched_at = now;
    if (rc == 0) {
        free(e->body);
        e->body = b.p;
        e->len = b.len;
        e->expires_at = now + ttl;
        *body = arena_memdup(a, e->body, e->len + 1);
        *len = e->len;
    } else if (e->body != NULL && now < e->expires_at) {
        /* A refresh that failed keeps the copy that is still fresh. */
        free(b.p);
        *body = arena_memdup(a, e->body, e->len + 1);
        *len = e->len;
        rc = 0;
    } else {
        free(e->body);
        e->body = NULL;
        free(b.p);
    }
    pthread_mutex_unlock(&fc->mu);
    if (rc == 0)
        log_debug("fetched", LS("url", url), LI("bytes", (int64_t)*len), LI("max_age", ttl), NULL);
    return rc;
}
