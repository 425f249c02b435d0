/* session.h: login sessions and pending interactions for the front channel.
 * - A login session is a random cookie value (256 bits) whose SHA-256 keys a STORE_TOKEN_SESSION row
 *   (sub = user id; data = {"sid","auth_time","amr","acr"}); the cookie is HttpOnly, SameSite=Lax, and Secure
 *   when the issuer is https (plain http is only allowed on loopback or in dev mode). Ending the session revokes the row.
 * - An interaction is a pending authorization request parked while the person logs in or consents: a
 *   STORE_TOKEN_INTERACTION row keyed by the hash of a random id carried in the page URL, holding the
 *   validated request, a CSRF token for the page's form, and the hash of the browser-binding cookie of
 *   the browser that started it (so a page posted from another browser is refused). */
#ifndef OSTIARY_SESSION_SESSION_H
#define OSTIARY_SESSION_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "core/str.h"
#include "store/store.h"

struct arena;
struct http_req;

/* The one authentication context class of this server: a password checked against its argon2id hash (the
 * acr of every session, and the only one discovery lists). */
#define SESSION_ACR_PASSWORD "urn:ostiary:acr:password"

struct session {
    uint8_t hash[STORE_HASH_LEN];
    const char *sid;       /* public session id (ID token `sid`), not the cookie value */
    const char *user_id;
    int64_t auth_time;
    const char *acr;
    json_t *amr;           /* borrowed from data, freed with the arena */
    int64_t exp;
};

/* 0 with *out when the request carries a live session cookie, ERR_NOTFOUND when none, <0 on store error. */
int session_load(struct http_req *req, struct session *out, struct errbuf *err);
/* Starts a session for user_id (revoking `previous` if given, to avoid fixation) and sets the cookie. */
int session_create(struct http_req *req, const char *user_id, const char *amr, const struct session *previous,
                   struct session *out, struct errbuf *err);
/* A login session's store row as JSON (the admin API): sid, auth_time, acr, amr, created_at, expires_at;
 * never the cookie or its hash. New reference. */
json_t *session_row_json(const struct store_token *t);
/* Revokes the session and clears the cookie. */
int session_end(struct http_req *req, const struct session *s, struct errbuf *err);

struct interaction {
    uint8_t hash[STORE_HASH_LEN];
    const char *id;        /* the value carried in URLs (only known when just created) */
    const char *client_id;
    json_t *data;          /* {"request": {...}, "csrf": "...", "browser": "<hex hash>"}; arena-owned */
    const char *csrf;
    int64_t iat, exp;
};

/* Parks `request` (a JSON object, borrowed) for 10 minutes; sets the browser-binding cookie if missing. */
int interaction_create(struct http_req *req, const char *client_id, json_t *request, struct interaction *out,
                       struct errbuf *err);
/* Loads interaction `id`: 0, ERR_NOTFOUND (unknown, expired, used, or started in another browser), <0 error. */
int interaction_load(struct http_req *req, const char *id, struct interaction *out, struct errbuf *err);
/* Checks a posted CSRF token against the interaction's, in constant time. */
bool interaction_csrf_ok(const struct interaction *ia, const char *csrf);
/* Marks it used (single use): ERR_CONFLICT if already used. */
int interaction_finish(struct http_req *req, const struct interaction *ia, struct errbuf *err);

/* Device cookies (OWASP's device-cookie model against online guessing; users.h, the login limiter). Each
 * successful login sets, for its username, a cookie named DEVICE_COOKIE_PREFIX + tag, where tag is 16
 * base64url characters of HMAC(key, "name" NUL username) (so the name does not show the username), with
 * the value "<iat>.<id>.<mac>": iat the Unix time of the login, id 16 random bytes in base64url (the
 * device id the limiter counts failures by), mac the base64url HMAC-SHA256(key, "device" NUL username NUL
 * iat "." id). HttpOnly, SameSite=Lax, Secure on an https issuer, Path the issuer path, Max-Age
 * DEVICE_COOKIE_TTL. One cookie per username a browser signed in as; a new login replaces it. The key is
 * derived from the key-encryption secret (device_cookie_key) and is the same on every instance. */
#define DEVICE_COOKIE_PREFIX "ostiary_device_"
#define DEVICE_COOKIE_TTL (365 * 86400) /* one year */
#define DEVICE_KEY_LEN 32
/* The MAC key: BLAKE2b-256 of the key secret, keyed with the context "ostiary-device-cookie-v1" (the
 * key-encryption key uses another context, so neither key says anything about the other). */
void device_cookie_key(const char *secret, uint8_t key[DEVICE_KEY_LEN]);
/* Pure pieces, in arena memory: the cookie's name for a username, and its value for (username, iat, id). */
char *device_cookie_name(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username);
char *device_cookie_value(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username, int64_t iat,
                          const char *id);
/* The device id if `value` is a device cookie of `username` issued at most DEVICE_COOKIE_TTL before now
 * (and not more than 5 minutes after it: clock skew between instances), else NULL. The MAC is compared
 * in constant time. Result in arena memory. */
const char *device_cookie_verify(struct arena *a, const uint8_t key[DEVICE_KEY_LEN], const char *username,
                                 struct str value, int64_t now);
/* The request's device id for username (its cookie, verified), or NULL. */
const char *device_cookie_check(struct http_req *req, const char *username);
/* After a successful login of username: sets a new device cookie (new id, iat now). */
void device_cookie_set(struct http_req *req, const char *username);

#endif
