/* device.h: the device authorization grant (RFC 8628) as its three parts share it: the device
 * authorization endpoint (device_auth.c, §3.1-3.2), the verification page (device_page.c, §3.3) and the
 * token endpoint's grant (grant_device.c, §3.4-3.5). The walk-through and the security arithmetic are in
 * docs/device.md.
 *
 * The rows (store.h), both written in one transaction by the device authorization endpoint:
 * - The device code row, STORE_TOKEN_DEVICE, keyed by the SHA-256 of the device code (32 random bytes):
 *   client_id; scope (the validated request, replaced on approval by the granted scope); aud (the API
 *   identifier, or NULL); grant_id (a new random id: every token issued from it shares it); exp = iat +
 *   device.code_ttl; sub NULL and data "{}" while pending. store_token_settle() decides it once: approved,
 *   sub = the user and data = {"auth_time": int, "sid": string, "acr": string, "amr": [...], "offline":
 *   bool}; or denied, revoked_at set. The token endpoint redeems an approved row with
 *   store_token_consume(), once.
 * - The user code row, STORE_TOKEN_USER_CODE, keyed by user_code_lookup_key() of the normalized code
 *   (user_code.h: keyed, as 2^34.6 codes could be tried against a plain hash); the same client_id,
 *   grant_id and exp; data = {"device": base64url of the device code row's key}. It is only an index: its
 *   state never changes.
 * An interaction (session.h) of the verification page: {"device": base64url of the device code row's key,
 * "csrf", "browser"}, client_id the device's client. */
#ifndef OSTIARY_OAUTH_DEVICE_H
#define OSTIARY_OAUTH_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "oauth/error.h"
#include "store/store.h"

struct app;
struct arena;
struct http_req;

/* The endpoints' paths under the issuer (DESIGN's layout; discovery advertises the first, the device
 * authorization response names the second). */
#define DEVICE_AUTH_PATH "/device/auth"
#define DEVICE_PAGE_PATH "/device"
/* RFC 8628 §3.5: what each slow_down adds to the interval of that device code. */
#define DEVICE_SLOW_DOWN_STEP_S 5

/* ---- the polling pace (device_poll.c) ----
 * RFC 8628 §3.5: a device polling sooner than its interval gets slow_down, and its interval grows by 5 s
 * for this and every later poll. The pace is kept in memory, shared by the worker threads of the
 * process, so that a pending poll is one store read and no write: per device code, when it was last polled
 * and its current interval. The table has a fixed size; an entry is reused once its device code has
 * expired, and when no slot of its neighbourhood is free, the one polled longest ago is dropped (that code's
 * next poll then counts as its first). Instances do not share their tables: behind a load balancer that
 * spreads one device's polls over N instances, it may poll up to N times as often before slow_down. */
struct device_pace;
struct device_pace *device_pace_new(void);
void device_pace_free(struct device_pace *p);
/* One poll of the device code whose row key is `key`, at now_ms (clock_tick_ms), with the configured
 * interval; the entry lives until exp (Unix seconds; now is clock_now()). True if the poll keeps the
 * pace; false if it came sooner than the code's interval (less 10 %, for the jitter of timers and the
 * network) after its previous poll: slow_down, and the interval of that code grows by
 * DEVICE_SLOW_DOWN_STEP_S. Either way the poll becomes the previous one of the next. Thread-safe. */
bool device_pace_poll(struct device_pace *p, const uint8_t key[STORE_HASH_LEN], int64_t now_ms,
                      uint32_t interval_s, int64_t exp, int64_t now);

/* ---- the verification page (device_page.c) ---- */

struct interaction;
/* The person refused on the device's behalf (the deny button, or cancel on the login page during the
 * device's sign-in): the device code `device` (its row key in base64url) is denied if still pending, the
 * interaction ends, and the page says so. */
void device_page_deny(struct http_req *req, const struct interaction *ia, const char *device);

/* ---- shared by the page and the endpoints ---- */

/* What the process keeps for the device grant: the pace table, the user-code limiter and the user codes'
 * lookup key (from app->key_secret). 0, or -1 (libsodium cannot start). device_state_release frees them. */
int device_state_init(struct app *app);
void device_state_release(struct app *app);

/* Reads the device code row whose key is the base64url text `b64` (an interaction's or a user code row's
 * "device"): 0 with *out, ERR_NOTFOUND (no such row, another kind, a malformed key), or the store's error
 * (err set). */
int device_row_get(struct http_req *req, const char *b64, struct store_token *out, struct errbuf *err);
/* Whether a device code row waits for its user at `now`: no sub, not revoked, not consumed, unexpired. */
bool device_row_pending(const struct store_token *row, int64_t now);

#endif
