/* fetch.c: HTTPS GETs with libcurl's easy interface, one transfer per call, and the per-URL cache
 * (fetch.h). The only file that includes or calls libcurl. Redirects are not followed: a jwks_uri is
 * registered as the exact URL of the document. Cache-Control max-age (RFC 9111 §5.2.2.1) sets how long a
 * document is kept, within the configured bounds; nothing else of HTTP caching is implemented (no
 * validators, no Expires, no Vary). */
#include "http/fetch.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/arena.h"
#include "core/ipnet.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "core/banned.h"

/* URLs the cache holds at most; the least recently fetched entry makes room. */
#define FETCH_CACHE_SLOTS 256
#define FETCH_URL_MAX 2048

/* The parsed form of a body (fetch_get_parsed), counted: the entry holds one reference while it keeps the
 * body, and every request it was handed to holds one until its arena is reset. */
struct fetch_parsed {
    atomic_uint refs;
    struct arena *mem;   /* holds this struct, the value and the error text */
    fetch_parse_fn fn;   /* what made it, */
    const void *ctx;     /* with what */
    const void *value;   /* when rc == 0 */
    int rc;              /* fn's result */
    const char *error;   /* fn's reason when rc != 0 */
};

struct fetch_entry {
    char *url;          /* NULL: a free slot */
    char *body;         /* NULL after a failure */
    size_t len;
    int64_t fetched_at; /* the last attempt, success or not (wall clock, seconds: the oldest slot goes) */
    int64_t attempt_us; /* the same, on the monotonic clock in µs: refetch_seconds is timed from it */
    int64_t expires_at; /* body is fresh until then */
    struct fetch_parsed *parsed; /* body parsed by the last caller's fn, or NULL */
    int fail_rc;                 /* without a body: the last failure's code */
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

static void parsed_release(void *p)
{
    struct fetch_parsed *fp = p;
    if (fp != NULL && atomic_fetch_sub_explicit(&fp->refs, 1, memory_order_acq_rel) == 1)
        arena_free(fp->mem);
}

/* body parsed by fn into a new object of its own (one reference, the caller's). */
static struct fetch_parsed *parsed_new(fetch_parse_fn fn, const void *ctx, const char *url, const char *body,
                                       size_t len)
{
    struct arena *mem = arena_new(4096);
    struct fetch_parsed *fp = arena_alloc(mem, sizeof(*fp));
    memset(fp, 0, sizeof(*fp));
    fp->mem = mem;
    atomic_init(&fp->refs, 1);
    fp->fn = fn;
    fp->ctx = ctx;
    struct errbuf err = {{0}};
    fp->rc = fn(mem, url, ctx, body, len, &fp->value, &err);
    if (fp->rc != 0)
        fp->error = arena_strdup(mem, err.msg[0] != '\0' ? err.msg : "not a valid document");
    return fp;
}

/* Empties an entry's document (its parsed form released). */
static void entry_drop_body(struct fetch_entry *e)
{
    free(e->body);
    e->body = NULL;
    e->len = 0;
    parsed_release(e->parsed);
    e->parsed = NULL;
}

void fetch_cache_free(struct fetch_cache *fc)
{
    if (fc == NULL)
        return;
    for (size_t i = 0; i < FETCH_CACHE_SLOTS; i++) {
        free(fc->slots[i].url);
        entry_drop_body(&fc->slots[i]);
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

/* Whether the entry answers without the network (fetch.h: fetch_cached). Under fc->mu. `now` is the wall
 * clock in seconds (max-age), `now_us` the monotonic clock: timed in whole seconds, the refetch_seconds
 * window of an attempt made just before a second's end would have closed a few milliseconds later. */
static bool answers(const struct fetch_cache *fc, const struct fetch_entry *e, unsigned flags, int64_t now,
                    int64_t now_us)
{
    if (e == NULL)
        return false;
    bool recent = now_us - e->attempt_us < (int64_t)fc->opts.refetch_seconds * 1000000;
    if (e->body == NULL)
        return recent; /* a failure, remembered for refetch_seconds */
    if (flags & FETCH_REFRESH)
        return recent;
    return now < e->expires_at;
}

bool fetch_cached(struct fetch_cache *fc, const char *url, unsigned flags)
{
    pthread_mutex_lock(&fc->mu);
    bool ok = answers(fc, find(fc, url), flags, clock_now(), clock_mono_us());
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

const char *fetch_addr_refused(const struct sockaddr *sa)
{
    uint8_t a[16] = {0};
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        a[10] = a[11] = 0xff; /* IPv4-mapped, ipnet's form of an IPv4 address */
        memcpy(a + 12, &in->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return "not an IP address";
    }
    return ipnet_special(a);
}

/* The address a transfer is refused for (fetch_addr_refused), kept for the error. */
struct connect_guard {
    bool allow_private;
    const char *refused; /* static text, or NULL */
    char addr[IPNET_TEXT_MAX];
};

/* CURLOPT_OPENSOCKETFUNCTION: called with each address curl is about to connect to, after name
 * resolution, so the check is on the address actually used (no second resolution an attacker's DNS could
 * answer differently). A refused one gets no socket: curl then tries the next address or fails. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    struct connect_guard *g = arg;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    const char *why = fetch_addr_refused(&address->addr);
    if (why != NULL && !g->allow_private) {
        g->refused = why;
        const void *ip = address->family == AF_INET ? (const void *)&((struct sockaddr_in *)&address->addr)->sin_addr
                                                     : (const void *)&((struct sockaddr_in6 *)&address->addr)->sin6_addr;
        if (inet_ntop(address->family, ip, g->addr, sizeof(g->addr)) == NULL)
            g->addr[0] = '\0';
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

/* One transfer. 0 with the body (malloc'd) and max-age (-1: none), or ERR_UNAVAILABLE, or
 * FETCH_ERR_REFUSED when the host's only addresses are not public ones. */
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
    /* A proxy would be the address connected to, and would reach whatever the URL names: none is used
     * (the environment's http_proxy and the like are ignored). */
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    struct connect_guard guard = {o->allow_private_addresses, NULL, ""};
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK && guard.refused != NULL) {
        errbuf_set(err, "fetch %s: the address %s is %s, not a public one (fetch.allow_private_addresses)", url,
                   guard.addr, guard.refused);
        return FETCH_ERR_REFUSED;
    }
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
    entry_drop_body(oldest);
    memset(oldest, 0, sizeof(*oldest));
    return oldest;
}

static bool https_url(const char *url)
{
    return url != NULL && strncmp(url, "https://", 8) == 0 && strlen(url) > 8 && strlen(url) <= FETCH_URL_MAX;
}

/* The answer of an entry that has a body: a copy of it, or its parsed form by `parse` (made now if the
 * entry has none by that function), whose reference goes to arena a. Under fc->mu. */
static int entry_answer(struct fetch_entry *e, struct arena *a, fetch_parse_fn parse, const void *ctx,
                        const char **body, size_t *len, const void **value, struct errbuf *err)
{
    if (parse == NULL) {
        *body = arena_memdup(a, e->body, e->len + 1);
        *len = e->len;
        return 0;
    }
    if (e->parsed == NULL || e->parsed->fn != parse || e->parsed->ctx != ctx) {
        parsed_release(e->parsed);
        e->parsed = parsed_new(parse, ctx, e->url, e->body, e->len);
    }
    struct fetch_parsed *fp = e->parsed;
    atomic_fetch_add_explicit(&fp->refs, 1, memory_order_relaxed);
    arena_defer(a, parsed_release, fp);
    *len = e->len;
    if (fp->rc != 0) {
        errbuf_set(err, "fetch %s: %s", e->url, fp->error);
        return FETCH_ERR_DOCUMENT;
    }
    *value = fp->value;
    return 0;
}

/* fetch_get and fetch_get_parsed: with `parse`, *value instead of *body. */
static int get(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, fetch_parse_fn parse,
               const void *ctx, const char **body, size_t *len, const void **value, bool *refreshed,
               struct errbuf *err)
{
    *body = NULL;
    *len = 0;
    *value = NULL;
    if (refreshed != NULL)
        *refreshed = false;
    if (!https_url(url)) {
        errbuf_set(err, "fetch: not an https URL of at most %d bytes", FETCH_URL_MAX);
        return ERR_INVALID;
    }
    int64_t now = clock_now(), now_us = clock_mono_us();
    pthread_mutex_lock(&fc->mu);
    struct fetch_entry *e = find(fc, url);
    if (answers(fc, e, flags, now, now_us)) {
        int rc = e->fail_rc;
        if (e->body != NULL)
            rc = entry_answer(e, a, parse, ctx, body, len, value, err);
        else if (rc == FETCH_ERR_REFUSED)
            errbuf_set(err, "fetch %s: refused less than %u seconds ago: its address is not a public one", url,
                       fc->opts.refetch_seconds);
        else
            errbuf_set(err, "fetch %s: failed less than %u seconds ago", url, fc->opts.refetch_seconds);
        pthread_mutex_unlock(&fc->mu);
        return rc;
    }
    pthread_mutex_unlock(&fc->mu);

    /* Outside the lock: other URLs are served meanwhile. Two threads may fetch one URL at once; the later
     * result wins, which is as fresh. A new body is parsed here too, so that no lookup waits for it. */
    struct body_buf b = {NULL, 0, 0, fc->opts.max_bytes, -1};
    int rc = transfer(&fc->opts, url, &b, err);
    struct fetch_parsed *fresh = rc == 0 && parse != NULL ? parsed_new(parse, ctx, url, b.p, b.len) : NULL;
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
    e->attempt_us = now_us;
    if (rc == 0) {
        entry_drop_body(e); /* the document changed, or may have: its parsed form goes with it */
        e->body = b.p;
        e->len = b.len;
        e->parsed = fresh;
        e->expires_at = now + ttl;
        rc = entry_answer(e, a, parse, ctx, body, len, value, err);
    } else if (e->body != NULL && now < e->expires_at) {
        /* A refresh that failed keeps the copy that is still fresh. */
        free(b.p);
        rc = entry_answer(e, a, parse, ctx, body, len, value, err);
    } else {
        entry_drop_body(e);
        e->fail_rc = rc;
        free(b.p);
    }
    pthread_mutex_unlock(&fc->mu);
    if (rc == 0)
        log_debug("fetched", LS("url", url), LI("bytes", (int64_t)*len), LI("max_age", ttl), NULL);
    return rc;
}

int fetch_get(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, const char **body,
              size_t *len, bool *refreshed, struct errbuf *err)
{
    const void *unused;
    return get(fc, a, url, flags, NULL, NULL, body, len, &unused, refreshed, err);
}

int fetch_get_parsed(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, fetch_parse_fn parse,
                     const void *ctx, const void **value, bool *refreshed, struct errbuf *err)
{
    const char *body;
    size_t len;
    return get(fc, a, url, flags, parse, ctx, &body, &len, value, refreshed, err);
}
