/* users.h: end users: argon2id password hashing and verification (libsodium crypto_pwhash_str), the
 * OIDC standard claims of a user (OIDC Core §5.1) selected by scope (§5.4), config-declared users, and the
 * failed-login rate limiter. */
#ifndef OSTIARY_SESSION_USERS_H
#define OSTIARY_SESSION_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "store/store.h"

struct arena;
struct config;

/* The argon2id parameters of new hashes (passwords.argon2id.memory_kib and .iterations; one lane, as
 * libsodium computes it): the configured ones, set before the first hash (serve, the CLI). Until then the
 * defaults of config_keys.h: 19 MiB, 2 passes. */
void users_set_argon2id(uint32_t memory_kib, uint32_t iterations);
/* True if encoded is a usable argon2id hash made with other parameters than the current ones: the next
 * successful login rehashes it (user_authenticate). */
bool user_password_needs_rehash(const char *encoded);
/* Hashes a password with argon2id and the current parameters. Returns a malloc'd encoded string, or NULL
 * on failure. Blocks for tens of milliseconds: never call it on an event loop thread except through the
 * login path that must pay it anyway. */
char *user_password_hash(const char *password, size_t len);
/* Computes, once, the dummy hash that verifications of unknown users are timed against (one argon2id
 * computation; otherwise done by the first such verification, which then takes twice as long). `serve`
 * runs it on a thread of its own right after start. Thread-safe. */
void users_warm_up(void);
/* How many argon2id hashes and verifications this process has computed (user_password_hash and
 * user_password_verify, the dummy ones included): for tests and metrics. */
unsigned long long users_argon2_ops(void);
/* Verifies against an encoded argon2id hash in constant time. Returns true only on a match; a NULL hash
 * never matches (but still costs about the same time, so absent users are not detectable by timing). */
bool user_password_verify(const char *encoded, const char *password, size_t len);

/* The longest password accepted (bytes): the configuration file's limit on a value. */
#define USER_PASSWORD_MAX 4096u

/* Logs the user out everywhere: revokes its login sessions and refresh tokens (what disabling, deleting
 * or a new password does). Access tokens expire on their own (minutes); userinfo refuses a disabled or
 * deleted user anyway. Inside or outside the caller's group. 0, or the store's error. */
int user_logout_everywhere(struct store_conn *db, const char *user_id, int64_t now, struct errbuf *err);

/* Forgets the consent the user gave client_id (ERR_NOTFOUND if none), or all of the user's consents with
 * client_id NULL, which also revokes the refresh tokens they yielded: the user is asked again. For
 * `ostiary consent revoke` and the admin API. 0, or the store's error. */
int user_consent_revoke(struct store_conn *db, const char *user_id, const char *client_id, int64_t now,
                        struct errbuf *err);
/* A consent as JSON: client_id, scope and resources (space-separated), created_at, updated_at. */
json_t *consent_to_json(const struct store_consent *cs);

/* The stored claims of u as a JSON object; claims that are not one give {} and set *unreadable
 * (optional). New reference owned by the caller. */
json_t *user_claims_json(const struct store_user *u, bool *unreadable);

/* A stored user as JSON, for the CLI and the admin API: username, id, disabled, has_password (never the
 * hash), from_config, claims, created_at, updated_at. Claims that are not a JSON object show as {} and set
 * *unreadable (optional). New reference owned by the caller. */
json_t *user_to_json(const struct store_user *u, bool *unreadable);

/* Looks a user up by username and checks the password. On success fills *out (arena memory) and returns
 * 0; ERR_NOTFOUND for unknown user, wrong password or disabled user (callers cannot tell which, by
 * design); the store's error code on storage failure (err set; ERR_UNAVAILABLE while it is
 * unreachable). */
int user_authenticate(struct store_conn *db, struct arena *a, const char *username, const char *password,
                      size_t password_len, struct store_user *out, struct errbuf *err);

/* Claims of the user for the given scopes (OIDC Core §5.4: profile, email, address, phone), always with
 * "sub", and also the claims named in `names` (a JSON array of claim names, or NULL: the claims request
 * parameter, OIDC Core §5.5) whatever the scopes. Claims the user does not have are left out. Returns a
 * new json_t object (caller decrefs). */
json_t *user_claims_select(const struct store_user *u, const char *const *scopes, size_t n_scopes,
                           json_t *names);
/* The scope that releases the standard claim `name` (§5.4), or NULL when it is not one. */
const char *user_claim_scope(const char *name);
/* What the pages call a user: the `name` claim, else the username; the id itself if the user cannot be
 * read. Arena memory. */
const char *user_display_name(struct store_conn *db, struct arena *a, const char *user_id);
/* The claim names each standard scope yields (for discovery claims_supported). */
extern const char *const user_claims_supported[];
extern const size_t user_claims_supported_count;

/* Applies the users of the YAML file: created, updated (disabled ones logged out), and those an earlier
 * start took from the file but that it no longer declares, deleted and logged out. Passwords are hashed
 * first, outside any transaction (argon2id: tens of milliseconds each, on up to 8 threads), so that the
 * store's write lock is held only for the writes; then one transaction runs `also` (NULL: nothing; `serve`
 * passes the file's clients, so that clients and users change together or not at all) and the users'
 * writes, and commits, or rolls everything back on a failure.
 * A plaintext password is hashed only when the store has no hash made from it: each such user's row keeps
 * a digest of its password and hash keyed with `key` (users_config_key), so a start with unchanged users
 * hashes nothing. */
#define USERS_CONFIG_KEY_LEN 32
#define USERS_CONFIG_KEY_CONTEXT "ostiary config password digest v1"
/* The digest key: BLAKE2b-256 of the key-encryption secret, keyed with USERS_CONFIG_KEY_CONTEXT (so it is
 * independent of the key-encryption key and of the device-cookie key made from the same secret). */
void users_config_key(const char *secret, uint8_t key[USERS_CONFIG_KEY_LEN]);
typedef int (*users_apply_also_fn)(struct store_conn *db, const struct config *cfg, struct errbuf *err);
int users_apply_config(struct store_conn *db, const struct config *cfg,
                       const uint8_t key[USERS_CONFIG_KEY_LEN], users_apply_also_fn also, struct errbuf *err);

/* Failed-login rate limiting, in memory. Three counters per attempt: the (username, address) pair,
 * allowed max_failures failures; the address alone, allowed 4 times as many; and either the username alone
 * (across addresses), allowed 4 times as many, or, when the browser carries a valid device cookie for the
 * username (`device`: its id, session.h), that device alone, allowed max_failures. A counter over its
 * limit makes the next attempt wait lockout_seconds * 2^(extra failures), capped at 15 minutes, and is
 * forgotten 15 minutes after its last failure or the end of its wait, whichever is later. So an attacker
 * who keeps failing can keep an account locked for strangers, never for the browsers the user signed in
 * from (users.c says why). A success clears the pair's counter and the device's. addr is the client
 * address (http_req.peer). NULL username or addr count as ""; device NULL means no device cookie.
 * Thread-safe. */
struct login_limiter;
struct login_limiter *login_limiter_new(uint32_t max_failures, uint32_t lockout_seconds);
void login_limiter_free(struct login_limiter *l);
/* Seconds to wait before another attempt of this username from this address (and device) is allowed (the
 * longest wait of the three counters), 0 if allowed now. */
int64_t login_limiter_check(struct login_limiter *l, const char *username, const char *addr, const char *device,
                            int64_t now);
/* Counts a failed attempt against the three counters. */
void login_limiter_failure(struct login_limiter *l, const char *username, const char *addr, const char *device,
                           int64_t now);
/* Counts one event of `addr` against its address counter alone, with max_failures events allowed before
 * the (doubling) wait, as for logins: a rate limit of other requests (dynamic registration). Returns the
 * seconds to wait first, 0 when this event was allowed (and counted). Not counted in the login metrics. */
int64_t login_limiter_take(struct login_limiter *l, const char *addr, int64_t now);
/* A successful login: clears the (username, address) counter and the device's. */
void login_limiter_success(struct login_limiter *l, const char *username, const char *addr, const char *device);

#endif
