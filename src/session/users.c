/* users.c: end users (users.h): argon2id password hashing with libsodium, login against the store, the
 * OIDC standard claims released per scope (OIDC Core §5.1, §5.4), users declared in the configuration,
 * and the in-memory failed-login limiter. Sessions and the login pages are elsewhere (session.c, ui/). */
#include "session/users.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "session/limiter.h"
#include "session/user_check.h"

#include "core/banned.h"

/* ------------------------------------------------------------------------------------------------------
 * Password hashing.
 * ------------------------------------------------------------------------------------------------------ */

#define USERNAME_MAX 255u

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static bool sodium_ok;
/* A hash of a random password nobody knows, with the same parameters as real ones: verifying against it
 * costs what a real verification costs, so an unknown user or one without a password answers as slowly
 * as a wrong password (no user enumeration by timing). */
static char dummy_hash[crypto_pwhash_STRBYTES];

static void sodium_setup(void)
{
    if (sodium_init() < 0)
        return;
    unsigned char pw[32];
    randombytes_buf(pw, sizeof(pw));
    int rc =
        crypto_pwhash_str_alg(dummy_hash, (const char *)pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
    sodium_memzero(pw, sizeof(pw));
    sodium_ok = rc == 0;
}

/* Thread-safe one-time initialisation of libsodium and of the dummy hash. */
static bool sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_setup);
    return sodium_ok;
}

char *user_password_hash(const char *password, size_t len)
{
    if (password == NULL || !sodium_ready())
        return NULL;
    char *out = malloc(crypto_pwhash_STRBYTES);
    if (out == NULL)
        abort();
    /* argon2id explicitly, whatever libsodium's default algorithm becomes. */
    if (crypto_pwhash_str_alg(out, password, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        free(out);
        return NULL; /* only when the memory limit cannot be allocated */
    }
    return out;
}

/* An encoded argon2id hash libsodium can read: the prefix, and NUL-terminated within its buffer size. */
static bool encoded_usable(const char *encoded)
{
    return encoded != NULL && strncmp(encoded, "$argon2id$", 10) == 0 &&
           strnlen(encoded, crypto_pwhash_STRBYTES) < crypto_pwhash_STRBYTES;
}

bool user_password_verify(const char *encoded, const char *password, size_t len)
{
    if (!sodium_ready())
        return false;
    if (password == NULL) {
        password = "";
        len = 0;
    }
    if (!encoded_usable(encoded)) {
        /* The result is meaningless (nobody knows the dummy's password); only the time spent matters. */
        volatile int sink = crypto_pwhash_str_verify(dummy_hash, password, len);
        (void)sink;
        return false;
    }
    return crypto_pwhash_str_verify(encoded, password, len) == 0;
}

int user_authenticate(struct store_conn *db, struct arena *a, const char *username, const char *password,
                      size_t password_len, struct store_user *out, struct errbuf *err)
{
    struct store_user u;
    int rc = ERR_NOTFOUND;
    memset(&u, 0, sizeof(u));
    if (username != NULL && username[0] != '\0' && strnlen(username, USERNAME_MAX + 1) <= USERNAME_MAX) {
        rc = store_user_get_by_name(db, a, username, &u, err);
        if (rc != 0 && rc != ERR_NOTFOUND)
            return rc; /* the store's code: ERR_UNAVAILABLE is a 503 */
    }
    /* Always pay for one verification, so that "no such user", "no password" and "disabled" cost the
     * same as a wrong password. */
    bool ok = user_password_verify(rc == 0 ? u.password_hash : NULL, password, password_len);
    if (rc != 0 || !ok || u.disabled)
        return ERR_NOTFOUND;
    *out = u;
    out->password_hash = NULL; /* nobody past this point needs it */
    return 0;
}

/* ------------------------------------------------------------------------------------------------------
 * Claims (OIDC Core §5.1 standard claims, released per scope as §5.4 says).
 * ------------------------------------------------------------------------------------------------------ */

#define CLAIM_NAME(arg, n, kind, scope, option) #n,
const char *const user_claims_supported[] = {"sub", OIDC_CLAIMS(CLAIM_NAME, ~)};
const size_t user_claims_supported_count = sizeof(user_claims_supported) / sizeof(user_claims_supported[0]);

/* The stored value of claim c in the form OIDC Core §5.1 gives it, or NULL to leave it out. */
static json_t *claim_value(json_t *stored, const struct oidc_claim *c)
{
    json_t *v = json_object_get(stored, c->name);
    if (v == NULL || json_is_null(v))
        return NULL;
    switch (c->kind) {
    case CLAIM_BOOL:
        /* §5.1: the *_verified claims are booleans; tolerate "true"/"false" strings written by hand. */
        if (json_is_boolean(v))
            return json_incref(v);
        if (json_is_string(v) && strcmp(json_string_value(v), "true") == 0)
            return json_true();
        if (json_is_string(v) && strcmp(json_string_value(v), "false") == 0)
            return json_false();
        return NULL;
    case CLAIM_ADDRESS:
        return json_is_object(v) ? json_incref(v) : NULL;
    case CLAIM_TIME:
        return json_is_integer(v) ? json_incref(v) : NULL;
    default:
        return json_is_string(v) ? json_incref(v) : NULL;
    }
}

json_t *user_claims_for_scope(const struct store_user *u, const char *const *scopes, size_t n_scopes)
{
    json_t *out = json_object();
    json_object_set_new(out, "sub", json_string(u->id != NULL ? u->id : ""));
    json_t *stored = u->claims != NULL ? json_loads(u->claims, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(stored)) {
        json_decref(stored);
        stored = json_object();
    }
    for (size_t i = 0; i < n_scopes; i++) {
        for (size_t k = 0; scopes[i] != NULL && k < OIDC_CLAIM_COUNT; k++) {
            const struct oidc_claim *c = &oidc_claims[k];
            if (strcmp(scopes[i], c->scope) != 0)
                continue;
            json_t *v = claim_value(stored, c);
            /* §5.1: updated_at is when the user's information last changed; the row knows. */
            if (v == NULL && c->kind == CLAIM_TIME && u->updated_at > 0)
                v = json_integer(u->updated_at);
            if (v != NULL)
                json_object_set_new(out, c->name, v);
        }
    }
    json_decref(stored);
    return out;
}

/* ------------------------------------------------------------------------------------------------------
 * Users of the configuration file.
 * ------------------------------------------------------------------------------------------------------ */

/* The default sub of a configured user: stable across restarts and databases, and opaque (OIDC Core §8:
 * the username is not exposed through it). 22 base64url characters = 132 bits of SHA-256. */
static const char *derived_id(struct arena *a, const char *username)
{
    const char *input = arena_printf(a, "ostiary-user:%s", username);
    uint8_t digest[STORE_HASH_LEN];
    store_hash(input, strlen(input), digest);
    char *id = b64url_encode(a, digest, sizeof(digest));
    id[22] = '\0';
    return id;
}

/* The stored claims object of a configured user, as compact JSON with sorted keys (so that an unchanged
 * user gives the same text and is not rewritten). malloc'd. */
static char *config_claims_json(const struct cfg_user *cu)
{
    json_t *o = json_object();
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++) {
        const struct oidc_claim *c = &oidc_claims[k];
        const char *v = cfg_user_claim(cu, c);
        if (v != NULL)
            json_object_set_new(
                o, c->name, c->kind == CLAIM_BOOL ? json_boolean(strcmp(v, "true") == 0) : json_string(v));
    }
    if (cu->address != NULL) {
        json_t *addr = json_object();
        for (int k = 0; k < OIDC_ADDRESS_PART_COUNT; k++) {
            const char *v = cfg_user_address_part(cu, k);
            if (v != NULL)
                json_object_set_new(addr, oidc_address_parts[k].name, json_string(v));
        }
        json_object_set_new(o, "address", addr);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (s == NULL)
        abort();
    return s;
}

static bool str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Logs the user out everywhere: login sessions and refresh tokens (access tokens expire by themselves). */
static int revoke_user_tokens(struct store_conn *db, const char *id, int64_t now, struct errbuf *err)
{
    int rc = store_token_revoke_sub(db, id, STORE_TOKEN_SESSION, now, err);
    if (rc == 0)
        rc = store_token_revoke_sub(db, id, STORE_TOKEN_REFRESH, now, err);
    return rc;
}

/* What users_apply_config decided for users[i] before its transaction: its id and password hash. */
struct planned_user {
    const char *id;
    const char *hash; /* arena copy of the hash to store */
    bool rehashed;    /* a new hash, so the row changes */
};

/* Hashes (or keeps) the password of every configured user, before the transaction: each hash takes tens of
 * milliseconds, which must not be spent holding the store's write lock. A stored hash that still matches
 * the configured password is kept, so that a restart does not rewrite every user. */
static int plan_users(struct store_conn *db, struct arena *a, const struct config *cfg,
                      struct planned_user *plan, struct errbuf *err)
{
    for (unsigned i = 0; i < cfg->n_users; i++) {
        const struct cfg_user *cu = &cfg->users[i];
        plan[i].id = cu->id != NULL ? cu->id : derived_id(a, cu->username);
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(plan[j].id, plan[i].id) == 0) {
                errbuf_set(err, "users[%u].id: '%s' is also the id of users[%u]", i, plan[i].id, j);
                return ERR_INVALID;
            }
        }
        if (cu->password_hash != NULL) {
            if (!sodium_ready() ||
                crypto_pwhash_str_needs_rehash(cu->password_hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                               crypto_pwhash_MEMLIMIT_INTERACTIVE) < 0) {
                errbuf_set(err, "users[%u].password_hash: not a valid argon2id encoded hash", i);
                return ERR_INVALID;
            }
            plan[i].hash = cu->password_hash;
            continue;
        }
        struct store_user old;
        int rc = store_user_get(db, a, plan[i].id, &old, err);
        if (rc != 0 && rc != ERR_NOTFOUND)
            return rc;
        size_t plen = strlen(cu->password);
        if (rc == 0 && encoded_usable(old.password_hash) &&
            crypto_pwhash_str_needs_rehash(old.password_hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0 &&
            user_password_verify(old.password_hash, cu->password, plen)) {
            plan[i].hash = old.password_hash;
            continue;
        }
        char *h = user_password_hash(cu->password, plen);
        if (h == NULL) {
            errbuf_set(err, "users[%u].password: hashing failed (out of memory?)", i);
            return ERR_FAIL;
        }
        plan[i].hash = arena_strdup(a, h);
        plan[i].rehashed = true;
        free(h);
    }
    return 0;
}

/* Writes users[i] if it differs from its row. Disabled users are logged out. */
static int apply_one(struct store_conn *db, struct arena *a, const struct config *cfg, unsigned i,
                     const struct planned_user *p, int64_t now, struct errbuf *err)
{
    const struct cfg_user *cu = &cfg->users[i];
    char *claims = config_claims_json(cu);
    struct store_user old;
    int rc = store_user_get(db, a, p->id, &old, err);
    if (rc != 0 && rc != ERR_NOTFOUND) {
        free(claims);
        return rc;
    }
    bool exists = rc == 0;
    bool same = exists && !p->rehashed && strcmp(old.username, cu->username) == 0 &&
                str_same(old.password_hash, p->hash) && str_same(old.claims, claims) &&
                old.disabled == cu->disabled && old.from_config;
    rc = 0;
    if (!same) {
        struct store_user u = {
            .id = p->id,
            .username = cu->username,
            .password_hash = p->hash,
            .claims = claims,
            .disabled = cu->disabled,
            .from_config = true,
            .created_at = exists ? old.created_at : now,
            .updated_at = now,
        };
        rc = store_user_put(db, &u, err);
        if (rc == ERR_CONFLICT && !exists && store_user_get(db, a, p->id, &old, err) == 0) {
            /* Another instance starting at the same moment on the same database created this very user
             * (the same id) after our read: then this is an update of its row. */
            u.created_at = old.created_at;
            rc = store_user_put(db, &u, err);
        }
        if (rc == ERR_CONFLICT) {
            errbuf_set(err,
                       "users[%u].username: '%s' already belongs to another user in the store (id differs; "
                       "created with `ostiary user add`, or the configured id changed); delete that user or "
                       "set users[%u].id to its id",
                       i, cu->username, i);
            rc = ERR_INVALID;
        }
    }
    if (rc == 0 && cu->disabled)
        rc = revoke_user_tokens(db, p->id, now, err);
    free(claims);
    return rc;
}

/* A user the file declared at an earlier start but no longer does is deleted, with its consents, and
 * logged out: removing a user from the file must stop it logging in. */
static int remove_stale(struct store_conn *db, struct arena *a, const struct config *cfg,
                        const struct planned_user *plan, int64_t now, struct errbuf *err)
{
    struct store_user *all;
    size_t n;
    int rc = store_user_list(db, a, &all, &n, err);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (!all[k].from_config)
            continue;
        bool declared = false;
        for (unsigned i = 0; i < cfg->n_users && !declared; i++)
            declared = strcmp(plan[i].id, all[k].id) == 0;
        if (declared)
            continue;
        rc = store_consent_delete(db, all[k].id, NULL, err);
        if (rc == 0)
            rc = revoke_user_tokens(db, all[k].id, now, err);
        if (rc == 0)
            rc = store_user_delete(db, all[k].id, err);
        if (rc == ERR_NOTFOUND)
            rc = 0;
        if (rc == 0)
            log_info("config_user_removed", LS("user_id", all[k].id), LS("username", all[k].username), NULL);
    }
    return rc;
}

int users_apply_config(struct store_conn *db, const struct config *cfg, struct errbuf *err)
{
    struct arena *a = arena_new(16384);
    struct planned_user *plan = arena_alloc(a, (cfg->n_users > 0 ? cfg->n_users : 1) * sizeof(*plan));
    int64_t now = clock_now();
    int rc = plan_users(db, a, cfg, plan, err);
    if (rc == 0)
        rc = store_begin(db, err);
    if (rc != 0) {
        arena_free(a);
        return rc;
    }
    for (unsigned i = 0; rc == 0 && i < cfg->n_users; i++)
        rc = apply_one(db, a, cfg, i, &plan[i], now, err);
    if (rc == 0)
        rc = remove_stale(db, a, cfg, plan, now, err);
    if (rc == 0)
        rc = store_commit(db, err);
    else
        store_rollback(db);
    arena_free(a);
    return rc;
}

const char *user_display_name(struct store_conn *db, struct arena *a, const char *user_id)
{
    struct store_user u;
    struct errbuf err;
    if (store_user_get(db, a, user_id, &u, &err) != 0)
        return user_id;
    json_t *claims = json_loads(u.claims != NULL ? u.claims : "{}", 0, NULL);
    const char *name = json_string_value(json_object_get(claims, "name"));
    const char *out = arena_strdup(a, name != NULL ? name : u.username);
    json_decref(claims);
    return out;
}

/* ------------------------------------------------------------------------------------------------------
 * Failed-login limiter.
 *
 * Three counters per attempt, each with the same capped, doubling delay:
 *   - the (username, address) pair, with login.max_failures: one guesser against one account;
 *   - the address alone, with LIMITER_ADDR_FACTOR times as many, so that one address cannot spray many
 *     accounts while a NAT full of users who mistype now and then is not punished;
 *   - either the username alone, across addresses, also with LIMITER_ADDR_FACTOR times as many, so that
 *     a botnet guessing one account from many addresses (each staying under the pair limit) still slows
 *     down; or, for an attempt from a browser that carries a valid device cookie for that username (it
 *     signed in as that user before: session.h), that device's own counter, with login.max_failures.
 * The device split is OWASP's device-cookie model: the account counter is what an attacker can drive
 * from anywhere, and it may keep the account locked for as long as the attack goes on, but only for
 * strangers: the browsers the user signed in from never meet it, so the attack is no denial of service
 * against the user. A stolen device cookie buys an attacker max_failures guesses and the same doubling.
 * A success clears the pair and the device. The address counter stays because other accounts may be
 * under attack from that address. The account counter stays too: the success says nothing about the
 * guesses coming from elsewhere, and clearing it would hand an ongoing attack a fresh budget each time
 * the user signs in.
 * The address is the client's as the HTTP layer determined it (behind a trusted proxy, the forwarded
 * one: http/proxy.h); without a proxy, the address counter of a proxy's address would be everyone's.
 * The counters themselves (keys, delays, bounded memory) are session/limiter.c's.
 * ------------------------------------------------------------------------------------------------------ */

#define LIMITER_ADDR_FACTOR 4u  /* the address and account counters allow this many times max_failures */
#define LIMITER_ADDR_MAX 64u /* longest address kept (an IPv6 text form is at most 45) */

struct login_limiter {
    struct limiter *lim;
    uint32_t max_failures;
};

struct login_limiter *login_limiter_new(uint32_t max_failures, uint32_t lockout_seconds)
{
    if (!sodium_ready())
        return NULL;
    struct limiter *lim = limiter_new(lockout_seconds);
    if (lim == NULL)
        return NULL;
    struct login_limiter *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->lim = lim;
    l->max_failures = max_failures > 0 ? max_failures : 1;
    return l;
}

void login_limiter_free(struct login_limiter *l)
{
    if (l == NULL)
        return;
    limiter_free(l->lim);
    free(l);
}

enum lim_kind { LIM_PAIR = 'u', LIM_ADDR = 'a', LIM_ACCOUNT = 'n', LIM_DEVICE = 'd' };

/* The three counters one attempt touches: the pair, the address, and the account or the device. */
enum { K_PAIR, K_ADDR, K_WHO, K_COUNT };

static void lim_keys(const struct login_limiter *l, const char *username, const char *addr, const char *device,
                     uint8_t k[K_COUNT][LIMITER_KEY_LEN])
{
    limiter_key(l->lim, LIM_PAIR, username, USERNAME_MAX, addr, LIMITER_ADDR_MAX, k[K_PAIR]);
    limiter_key(l->lim, LIM_ADDR, NULL, 0, addr, LIMITER_ADDR_MAX, k[K_ADDR]);
    if (device != NULL)
        limiter_key(l->lim, LIM_DEVICE, username, USERNAME_MAX, device, LIMITER_ADDR_MAX, k[K_WHO]);
    else
        limiter_key(l->lim, LIM_ACCOUNT, username, USERNAME_MAX, NULL, 0, k[K_WHO]);
}

int64_t login_limiter_check(struct login_limiter *l, const char *username, const char *addr, const char *device,
                            int64_t now)
{
    uint8_t k[K_COUNT][LIMITER_KEY_LEN];
    lim_keys(l, username, addr, device, k);
    return limiter_wait(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, K_COUNT, now);
}

void login_limiter_failure(struct login_limiter *l, const char *username, const char *addr, const char *device,
                           int64_t now)
{
    uint8_t k[K_COUNT][LIMITER_KEY_LEN];
    lim_keys(l, username, addr, device, k);
    uint64_t wide = (uint64_t)l->max_failures * LIMITER_ADDR_FACTOR;
    uint32_t wide_max = wide > UINT32_MAX ? UINT32_MAX : (uint32_t)wide;
    const uint32_t max[K_COUNT] = {l->max_failures, wide_max, device != NULL ? l->max_failures : wide_max};
    limiter_fail(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, max, K_COUNT, now);
}

void login_limiter_success(struct login_limiter *l, const char *username, const char *addr, const char *device)
{
    uint8_t k[K_COUNT][LIMITER_KEY_LEN];
    lim_keys(l, username, addr, device, k);
    /* The pair and the device's (when there is one): the account and address counters stay. */
    memcpy(k[K_ADDR], k[K_WHO], LIMITER_KEY_LEN);
    limiter_clear(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, device != NULL ? 2 : 1);
}
