/* fetch.h: HTTPS GETs of small JSON documents a client publishes (its jwks_uri; later client ID metadata
 * documents), with a per-URL in-memory cache that honours Cache-Control max-age. The only user of libcurl.
 *
 * Safety: https only (no other scheme, no redirects, no proxy), a connect and a total timeout, a size cap,
 * the system's CA store or a configured CA file, and no connection to an address that is not a public one
 * (fetch_addr_refused: loopback, private, link-local ..., checked on the address connected to, after name
 * resolution) unless allow_private_addresses: a URL a client registers must not make the server reach into
 * its own network (server-side request forgery). A fetch failure is not cached as a document, but it is
 * remembered: the same URL is not tried again within the refetch interval, so a dead or slow URL cannot
 * make every request wait for it.
 *
 * Blocking: fetch_get() may block for up to the total timeout. It must not run on an event loop: the
 * router sends a request that needs a fetch to the pool threads (router.c, client_auth_needs_fetch);
 * fetch_cached() never blocks on the network and tells the loop whether that is needed.
 *
 * Threads: one struct fetch_cache per process, shared by every thread (a mutex guards the cache; fetches
 * run outside it). Owner: `ostiary serve` (fetch_cache_new/fetch_cache_free, on the main thread, before
 * and after every worker). */
#ifndef OSTIARY_HTTP_FETCH_H
#define OSTIARY_HTTP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct arena;
struct fetch_cache;

struct fetch_opts {
    const char *ca_file;        /* PEM file of trusted CAs; NULL: the system's store */
    uint32_t timeout_ms;        /* the whole fetch; the connect phase gets at most half of it */
    uint32_t max_bytes;         /* a larger body fails the fetch */
    uint32_t cache_min_seconds; /* a document is kept at least this long, whatever Cache-Control says */
    uint32_t cache_max_seconds; /* ... and at most this long */
    uint32_t refetch_seconds;   /* at most one fetch of a URL per this many seconds (refresh or failure) */
    bool allow_private_addresses; /* connect to loopback, private, link-local ... addresses too */
};

/* A new cache; curl_global_init is called here (not thread-safe: call before any thread fetches). Copies
 * opts (ca_file too). Owner: the caller (fetch_cache_free). */
struct fetch_cache *fetch_cache_new(const struct fetch_opts *opts);
void fetch_cache_free(struct fetch_cache *fc);

/* Codes of this module besides err.h's. */
enum {
    FETCH_ERR_DOCUMENT = -131, /* fetched, but the caller's parse function refused the document */
    FETCH_ERR_REFUSED = -132,  /* the host's addresses are not public ones (loopback, private ...) */
};

enum fetch_flags {
    /* The caller found the cached document wanting (a JWKS without the kid a token names): fetch again,
     * unless the URL was fetched less than refetch_seconds ago (then the cached copy is returned). */
    FETCH_REFRESH = 1 << 0,
};

/* The body of url (https only): from the cache while fresh, else fetched (and cached for max-age clamped to
 * [cache_min_seconds, cache_max_seconds]). *body is NUL-terminated arena memory, *len its length. 0, or
 * ERR_INVALID (not an https URL), ERR_UNAVAILABLE (fetch failed now or within refetch_seconds: network,
 * TLS, timeout, status other than 200, too large), FETCH_ERR_REFUSED (the host's addresses are not
 * public ones and allow_private_addresses is off; also remembered for refetch_seconds), with the reason in
 * err (the URL, never a body). *refreshed (may be NULL) says whether this call fetched. Blocks on the network: never on an event loop. */
int fetch_get(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, const char **body,
              size_t *len, bool *refreshed, struct errbuf *err);
/* Parses the body fetched from url (NUL-terminated, len bytes) into *value, allocated in mem (an arena of
 * the cache's, freed when the last user is done with it: put OpenSSL keys and such there with
 * arena_defer). ctx is the caller's (fetch_get_parsed). Returns 0, or nonzero with the reason in err (kept
 * and reported by every lookup until the body is replaced). Must be pure: it may run on any thread, under
 * the cache's lock. */
typedef int (*fetch_parse_fn)(struct arena *mem, const char *url, const void *ctx, const char *body, size_t len,
                              const void **value, struct errbuf *err);
/* fetch_get, but the document's parsed form instead of its text: `parse` runs once per fetched body (on
 * the thread that fetched it, or on the first lookup by this function and ctx), and every later lookup
 * with the same function and ctx until a fetch replaces the body shares the result; *value is read-only and lives until arena a is reset. A
 * refetch (FETCH_REFRESH, expiry) that brings a new body drops the old parsed form with it. Same returns
 * as fetch_get, and FETCH_ERR_DOCUMENT when parse refused the document (its reason in err). */
int fetch_get_parsed(struct fetch_cache *fc, struct arena *a, const char *url, unsigned flags, fetch_parse_fn parse,
                     const void *ctx, const void **value, bool *refreshed, struct errbuf *err);
/* Whether fetch_get(url, flags) would be answered from memory without a network access (a fresh cached
 * copy; with FETCH_REFRESH, one fetched within refetch_seconds; or a failure within it). Never blocks on
 * the network. */
bool fetch_cached(struct fetch_cache *fc, const char *url, unsigned flags);

/* Why the server refuses to connect to sa (the phrase of ipnet_special, or "not an IP address"), or NULL
 * for a public address. Pure; exposed for its unit test. */
struct sockaddr;
const char *fetch_addr_refused(const struct sockaddr *sa);

/* The max-age of a Cache-Control header value (RFC 9111 §5.2.2.1), or -1 without one; no-store and
 * no-cache count as 0. Pure; exposed for its unit test. */
int64_t fetch_max_age(const char *value, size_t len);

#endif
