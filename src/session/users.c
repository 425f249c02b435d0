/* users.c: end users (users.h): argon2id password hashing with libsodium, login against the store, the
 * OIDC standard claims released per scope (OIDC Core §5.1, §5.4), users declared in the configuration,
 * and the in-memory failed-login limiter. Sessions and the login pages are elsewhere (session.c, ui/). */
#include "session/users.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "session/limiter.h"
#include "session/user_check.h"

#include "core/banned.h"

/* ------------------------------------------------------------------------------------------------------
 * Password hashing.
 * ------------------------------------------------------------------------------------------------------ */

#define USERNAME_MAX 255u

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT, dummy_once = PTHREAD_ONCE_INIT;
static bool sodium_ok, dummy_ok;
/* A hash of a random password nobody knows, with the same parameters as real ones: verifying against it
 * costs what a real verification costs, so an unknown user or one without a password answers as slowly
 * as a wrong password (no user enumeration by timing). Made on first need or by users_warm_up(), not
 * at start: it is one argon2id computation, most of what a start would otherwise cost. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static atomic_ullong argon2_ops; /* users_argon2_ops() */
/* The parameters of new hashes: passes, and memory in bytes (users_set_argon2id). */
static atomic_ullong argon2_ops_limit = 2, argon2_mem_limit = 19456ull * 1024;

void users_set_argon2id(uint32_t memory_kib, uint32_t iterations)
{
    atomic_store(&argon2_mem_limit, (unsigned long long)memory_kib * 1024);
    atomic_store(&argon2_ops_limit, iterations);
}

/* crypto_pwhash_str_needs_rehash with the current parameters: 0 same, 1 other, -1 not a usable hash. */
static int needs_rehash(const char *encoded)
{
    return crypto_pwhash_str_needs_rehash(encoded, atomic_load(&argon2_ops_limit),
                                          (size_t)atomic_load(&argon2_mem_limit));
}

unsigned long long users_argon2_ops(void)
{
    return atomic_load_explicit(&argon2_ops, memory_order_relaxed);
}

static void sodium_setup(void)
{
    sodium_ok = sodium_init() >= 0;
}

/* Thread-safe one-time initialisation of libsodium. */
static bool sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_setup);
    return sodium_ok;
}

static void dummy_setup(void)
{
    if (!sodium_ready())
        return;
    unsigned char pw[32];
    randombytes_buf(pw, sizeof(pw));
    atomic_fetch_add_explicit(&argon2_ops, 1, memory_order_relaxed);
    int rc = crypto_pwhash_str_alg(dummy_hash, (const char *)pw, sizeof(pw), atomic_load(&argon2_ops_limit),
                                   (size_t)atomic_load(&argon2_mem_limit), crypto_pwhash_ALG_ARGON2ID13);
    sodium_memzero(pw, sizeof(pw));
    dummy_ok = rc == 0;
}

/* The dummy hash, made once (callers racing its first use wait for it). */
static bool dummy_ready(void)
{
    pthread_once(&dummy_once, dummy_setup);
    return dummy_ok;
}

void users_warm_up(void)
{
    dummy_ready();
}

char *user_password_hash(const char *password, size_t len)
{
    if (password == NULL || !sodium_ready())
        return NULL;
    char *out = malloc(crypto_pwhash_STRBYTES);
    if (out == NULL)
        abort();
    atomic_fetch_add_explicit(&argon2_ops, 1, memory_order_relaxed);
    /* argon2id explicitly, whatever libsodium's default algorithm becomes. */
    if (crypto_pwhash_str_alg(out, password, len, atomic_load(&argon2_ops_limit),
                              (size_t)atomic_load(&argon2_mem_limit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
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

bool user_password_needs_rehash(const char *encoded)
{
    return sodium_ready() && encoded_usable(encoded) && needs_rehash(encoded) == 1;
}

bool user_password_verify(const char *encoded, const char *password, size_t len)
{
    if (!sodium_ready())
        return false;
    if (password == NULL) {
        password = "";
        len = 0;
    }
    atomic_fetch_add_explicit(&argon2_ops, 1, memory_order_relaxed);
    if (!encoded_usable(encoded)) {
        /* The result is meaningless (nobody knows the dummy's password); only the time spent matters. */
        if (!dummy_ready())
            return false;
        volatile int sink = crypto_pwhash_str_verify(dummy_hash, password, len);
        (void)sink;
        return false;
    }
    return crypto_pwhash_str_verify(encoded, password, len) == 0;
}

/* Stores a new hash of the (verified) password of u, unless its row changed since it was read: in one
 * transaction, the row is read again and written only if it still has the hash that was verified. */
static void rehash(struct store_conn *db, struct arena *a, const struct store_user *u, const char *password,
                   size_t len)
{
    char *h = user_password_hash(password, len);
    if (h == NULL)
        return;
    struct errbuf err = {{0}};
    struct store_user now;
    bool written = false;
    if (store_begin(db, &err) == 0) {
        if (store_user_get(db, a, u->id, &now, &err) == 0 && now.password_hash != NULL &&
            strcmp(now.password_hash, u->password_hash) == 0) {
            now.password_hash = h;
            now.config_pw_mac = NULL;
            now.updated_at = clock_now();
            written = store_user_put(db, &now, &err) == 0;
        } else if (err.msg[0] == '\0') {
            errbuf_set(&err, "the user's password was changed meanwhile");
        }
        if (!written || store_commit(db, &err) != 0) {
            store_rollback(db);
            written = false;
        }
    }
    if (written)
        log_info("password_rehashed", LS("user_id", u->id), NULL);
    else
        log_warn("password_rehash_failed", LS("user_id", u->id), LS("detail", err.msg), NULL);
    sodium_memzero(h, strlen(h));
    free(h);
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
    /* The password is known now: a hash made with other parameters (stronger or weaker) is replaced by
     * one with the configured ones. Users of the configuration file are left to it: each start hashes
     * their plaintext passwords with the current parameters, and a password_hash there is the file's. A
     * failure here costs nothing but the upgrade, which the next login tries again. */
    if (!u.from_config && user_password_needs_rehash(u.password_hash))
        rehash(db, a, &u, password, password_len);
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

/* Whether claim c is selected: by a scope that releases it, or by name. */
static bool claim_selected(const struct oidc_claim *c, const char *const *scopes, size_t n_scopes,
                           json_t *names)
{
    for (size_t i = 0; i < n_scopes; i++)
        if (scopes[i] != NULL && strcmp(scopes[i], c->scope) == 0)
            return true;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), c->name) == 0)
            return true;
    }
    return false;
}

json_t *user_claims_select(const struct store_user *u, const char *const *scopes, size_t n_scopes,
                           json_t *names)
{
    json_t *out = json_object();
    json_object_set_new(out, "sub", json_string(u->id != NULL ? u->id : ""));
    json_t *stored = u->claims != NULL ? json_loads(u->claims, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(stored)) {
        json_decref(stored);
        stored = json_object();
    }
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++) {
        const struct oidc_claim *c = &oidc_claims[k];
        if (!claim_selected(c, scopes, n_scopes, names))
            continue;
        json_t *v = claim_value(stored, c);
        /* §5.1: updated_at is when the user's information last changed; the row knows. */
        if (v == NULL && c->kind == CLAIM_TIME && u->updated_at > 0)
            v = json_integer(u->updated_at);
        if (v != NULL)
            json_object_set_new(out, c->name, v);
    }
    json_decref(stored);
    return out;
}

const char *user_claim_scope(const char *name)
{
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++)
        if (strcmp(oidc_claims[k].name, name) == 0)
            return oidc_claims[k].scope;
    return NULL;
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

void users_config_key(const char *secret, uint8_t key[USERS_CONFIG_KEY_LEN])
{
    crypto_generichash(key, USERS_CONFIG_KEY_LEN, (const unsigned char *)secret, strlen(secret),
                       (const unsigned char *)USERS_CONFIG_KEY_CONTEXT, sizeof(USERS_CONFIG_KEY_CONTEXT) - 1);
}

/* The digest that says "this stored hash was made from this configured password": base64url of BLAKE2b-256
 * keyed with the key derived from the key secret, over id NUL password NUL hash. Keyed, so the store alone
 * gives nothing to guess passwords against (a plain fast hash of a password would be a cracking shortcut
 * around argon2id); bound to the id and to the hash, so that a hash changed by other means (ostiary user
 * passwd) or moved to another user never passes for the file's password. */
static const char *config_pw_mac(struct arena *a, const uint8_t key[USERS_CONFIG_KEY_LEN], const char *id,
                                 const char *password, const char *hash)
{
    static const unsigned char nul = 0;
    unsigned char mac[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, USERS_CONFIG_KEY_LEN, sizeof(mac));
    crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
    crypto_generichash_update(&st, &nul, 1);
    crypto_generichash_update(&st, (const unsigned char *)password, strlen(password));
    crypto_generichash_update(&st, &nul, 1);
    crypto_generichash_update(&st, (const unsigned char *)hash, strlen(hash));
    crypto_generichash_final(&st, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
    return b64url_encode(a, mac, sizeof(mac));
}

static bool mac_equal(const char *x, const char *y)
{
    return x != NULL && y != NULL && strlen(x) == strlen(y) && sodium_memcmp(x, y, strlen(x)) == 0;
}

/* What users_apply_config decided for users[i] before its transaction: its id and password hash. */
struct planned_user {
    const char *id;
    const char *hash; /* arena copy of the hash to store */
    const char *mac;  /* config_pw_mac of a plaintext password and `hash`; NULL for a password_hash */
    bool rehashed;    /* a new hash, so the row changes */
};

/* The argon2id work of plan_users: users whose stored hash carries no digest of their configured password.
 * Each is verified against the stored hash (when there is a usable one) or hashed anew, on up to
 * PLAN_THREADS threads (the first start of a file with many users: one hash each). */
#define PLAN_THREADS 8
struct pw_job {
    const char *password;
    const char *old_hash; /* usable stored hash to try first, or NULL */
    char *new_hash;       /* malloc'd, when the old one did not fit */
    bool keep_old;
    bool failed;
};
struct pw_jobs {
    struct pw_job *v;
    size_t n;
    atomic_size_t next;
};

static void *pw_worker(void *arg)
{
    struct pw_jobs *jobs = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&jobs->next, 1);
        if (k >= jobs->n)
            return NULL;
        struct pw_job *j = &jobs->v[k];
        size_t plen = strlen(j->password);
        if (j->old_hash != NULL && user_password_verify(j->old_hash, j->password, plen)) {
            j->keep_old = true;
            continue;
        }
        j->new_hash = user_password_hash(j->password, plen);
        j->failed = j->new_hash == NULL;
    }
}

static void pw_run(struct pw_jobs *jobs)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cpus > 0 ? (size_t)cpus : 1;
    if (nt > PLAN_THREADS)
        nt = PLAN_THREADS;
    if (nt > jobs->n)
        nt = jobs->n;
    pthread_t tids[PLAN_THREADS];
    size_t started = 0;
    for (size_t t = 1; t < nt; t++) {
        if (pthread_create(&tids[started], NULL, pw_worker, jobs) != 0)
            break;
        started++;
    }
    pw_worker(jobs); /* this thread works too, so a failed pthread_create only slows it down */
    for (size_t t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* Hashes (or keeps) the password of every configured user, before the transaction: each hash takes tens of
 * milliseconds, which must not be spent holding the store's write lock. A stored hash whose digest says it
 * was made from the configured password is kept without any hashing, so that a start with many users is
 * not a start with many argon2id computations. Without a digest (a store written before it existed), a
 * stored hash the password still verifies against is kept and the digest recorded: one verification, once. */
static int plan_users(struct store_conn *db, struct arena *a, const struct config *cfg,
                      const uint8_t key[USERS_CONFIG_KEY_LEN], struct planned_user *plan, struct errbuf *err)
{
    size_t cap = cfg->n_users > 0 ? cfg->n_users : 1;
    struct pw_jobs jobs = {.v = arena_alloc(a, cap * sizeof(struct pw_job))};
    unsigned *job_user = arena_alloc(a, cap * sizeof(unsigned));
    atomic_init(&jobs.next, 0);
    /* An explicit id may equal another user's derived one. */
    const char **ids = arena_alloc(a, (cfg->n_users + 1) * sizeof(*ids));
    long *dup_of = arena_alloc(a, (cfg->n_users + 1) * sizeof(*dup_of));
    for (unsigned i = 0; i < cfg->n_users; i++) {
        const struct cfg_user *cu = &cfg->users[i];
        ids[i] = plan[i].id = cu->id != NULL ? cu->id : derived_id(a, cu->username);
    }
    str_earlier_duplicates(ids, cfg->n_users, dup_of);
    for (unsigned i = 0; i < cfg->n_users; i++) {
        if (dup_of[i] >= 0) {
            errbuf_set(err, "users[%u].id: '%s' is also the id of users[%ld]", i, plan[i].id, dup_of[i]);
            return ERR_INVALID;
        }
    }
    for (unsigned i = 0; i < cfg->n_users; i++) {
        const struct cfg_user *cu = &cfg->users[i];
        if (cu->password_hash != NULL) {
            if (!sodium_ready() ||
                needs_rehash(cu->password_hash) < 0) {
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
        struct pw_job *j = &jobs.v[jobs.n];
        j->password = cu->password;
        if (rc == 0 && encoded_usable(old.password_hash) && needs_rehash(old.password_hash) == 0) {
            const char *mac = config_pw_mac(a, key, plan[i].id, cu->password, old.password_hash);
            if (mac_equal(mac, old.config_pw_mac)) {
                plan[i].hash = old.password_hash;
                plan[i].mac = mac;
                continue;
            }
            j->old_hash = old.password_hash;
        }
        job_user[jobs.n++] = i;
    }
    if (jobs.n > 0)
        pw_run(&jobs);
    int rc = 0;
    for (size_t k = 0; k < jobs.n; k++) {
        struct pw_job *j = &jobs.v[k];
        unsigned i = job_user[k];
        if (j->failed && rc == 0) {
            errbuf_set(err, "users[%u].password: hashing failed (out of memory?)", i);
            rc = ERR_FAIL;
        } else if (j->keep_old) {
            plan[i].hash = j->old_hash;
        } else if (!j->failed) {
            plan[i].hash = arena_strdup(a, j->new_hash);
            plan[i].rehashed = true;
        }
        if (plan[i].hash != NULL)
            plan[i].mac = config_pw_mac(a, key, plan[i].id, j->password, plan[i].hash);
        free(j->new_hash);
    }
    return rc;
}

/* The stored users by id, read once inside the transaction (one query instead of one per user). */
struct user_rows {
    struct store_user *all;
    size_t n;
    const struct store_user **by_id; /* sorted by id */
};

static int user_row_cmp(const void *x, const void *y)
{
    return strcmp((*(const struct store_user *const *)x)->id, (*(const struct store_user *const *)y)->id);
}

static const struct store_user *user_row(const struct user_rows *rows, const char *id)
{
    struct store_user key = {.id = id};
    const struct store_user *kp = &key;
    const struct store_user **hit = rows->n > 0 ? bsearch(&kp, rows->by_id, rows->n, sizeof(*rows->by_id),
                                                          user_row_cmp)
                                                : NULL;
    return hit != NULL ? *hit : NULL;
}

/* Writes users[i] if it differs from its row (`old`, NULL when there is none). Disabled users are logged
 * out. */
static int apply_one(struct store_conn *db, struct arena *a, const struct config *cfg, unsigned i,
                     const struct planned_user *p, const struct store_user *old, int64_t now,
                     struct errbuf *err)
{
    const struct cfg_user *cu = &cfg->users[i];
    char *claims = config_claims_json(cu);
    bool exists = old != NULL;
    bool same = exists && !p->rehashed && strcmp(old->username, cu->username) == 0 &&
                str_same(old->password_hash, p->hash) && str_same(old->config_pw_mac, p->mac) &&
                str_same(old->claims, claims) && old->disabled == cu->disabled && old->from_config;
    int rc = 0;
    if (!same) {
        struct store_user u = {
            .id = p->id,
            .username = cu->username,
            .password_hash = p->hash,
            .claims = claims,
            .disabled = cu->disabled,
            .from_config = true,
            .config_pw_mac = p->mac,
            .created_at = exists ? old->created_at : now,
            .updated_at = now,
        };
        rc = store_user_put(db, &u, err);
        struct store_user fresh;
        if (rc == ERR_CONFLICT && !exists && store_user_get(db, a, p->id, &fresh, err) == 0) {
            /* Another instance starting at the same moment on the same database created this very user
             * (the same id) after our read: then this is an update of its row. */
            u.created_at = fresh.created_at;
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
                        const struct planned_user *plan, const struct user_rows *rows, int64_t now,
                        struct errbuf *err)
{
    const struct store_user *all = rows->all;
    size_t n = rows->n;
    int rc = 0;
    const char **declared = arena_alloc(a, (cfg->n_users + 1) * sizeof(*declared));
    for (unsigned i = 0; i < cfg->n_users; i++)
        declared[i] = plan[i].id;
    str_sort(declared, cfg->n_users);
    for (size_t k = 0; rc == 0 && k < n; k++) {
        if (!all[k].from_config || str_sorted_has(declared, cfg->n_users, all[k].id))
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

int user_logout_everywhere(struct store_conn *db, const char *user_id, int64_t now, struct errbuf *err)
{
    int rc = store_token_revoke_sub(db, user_id, STORE_TOKEN_SESSION, now, err);
    if (rc == 0)
        rc = store_token_revoke_sub(db, user_id, STORE_TOKEN_REFRESH, now, err);
    return rc;
}

int user_consent_revoke(struct store_conn *db, const char *user_id, const char *client_id, int64_t now,
                        struct errbuf *err)
{
    int rc = store_consent_delete(db, user_id, client_id, err);
    /* Without a client, what the user granted is gone altogether: so are the refresh tokens it yielded. */
    if (rc == 0 && client_id == NULL)
        rc = store_token_revoke_sub(db, user_id, STORE_TOKEN_REFRESH, now, err);
    return rc;
}

json_t *consent_to_json(const struct store_consent *cs)
{
    json_t *o = json_object();
    json_object_set_new(o, "client_id", json_string(cs->client_id));
    json_object_set_new(o, "scope", json_string(cs->scope != NULL ? cs->scope : ""));
    json_object_set_new(o, "resources", json_string(cs->resources != NULL ? cs->resources : ""));
    json_object_set_new(o, "created_at", json_integer(cs->created_at));
    json_object_set_new(o, "updated_at", json_integer(cs->updated_at));
    return o;
}

json_t *user_claims_json(const struct store_user *u, bool *unreadable)
{
    json_t *claims = json_loads(u->claims != NULL ? u->claims : "{}", JSON_REJECT_DUPLICATES, NULL);
    bool bad = !json_is_object(claims);
    if (bad) {
        json_decref(claims);
        claims = json_object();
    }
    if (unreadable != NULL)
        *unreadable = bad;
    return claims;
}

json_t *user_to_json(const struct store_user *u, bool *unreadable)
{
    json_t *claims = user_claims_json(u, unreadable);
    json_t *o = json_object();
    json_object_set_new(o, "username", json_string(u->username));
    json_object_set_new(o, "id", json_string(u->id));
    json_object_set_new(o, "disabled", json_boolean(u->disabled));
    json_object_set_new(o, "has_password",
                        json_boolean(u->password_hash != NULL && u->password_hash[0] != '\0'));
    json_object_set_new(o, "from_config", json_boolean(u->from_config));
    json_object_set_new(o, "claims", claims);
    json_object_set_new(o, "created_at", json_integer(u->created_at));
    json_object_set_new(o, "updated_at", json_integer(u->updated_at));
    return o;
}

/* Writes every planned user and removes the stale ones, inside the caller's transaction. */
static int apply_users(struct store_conn *db, struct arena *a, const struct config *cfg,
                       const struct planned_user *plan, struct errbuf *err)
{
    int64_t now = clock_now();
    struct user_rows rows = {0};
    int rc = store_user_list(db, a, &rows.all, &rows.n, err);
    if (rc != 0)
        return rc;
    rows.by_id = arena_alloc(a, (rows.n + 1) * sizeof(*rows.by_id));
    for (size_t k = 0; k < rows.n; k++)
        rows.by_id[k] = &rows.all[k];
    qsort(rows.by_id, rows.n, sizeof(*rows.by_id), user_row_cmp);
    for (unsigned i = 0; rc == 0 && i < cfg->n_users; i++)
        rc = apply_one(db, a, cfg, i, &plan[i], user_row(&rows, plan[i].id), now, err);
    if (rc == 0)
        rc = remove_stale(db, a, cfg, plan, &rows, now, err);
    return rc;
}

int users_apply_config(struct store_conn *db, const struct config *cfg,
                       const uint8_t key[USERS_CONFIG_KEY_LEN], users_apply_also_fn also, struct errbuf *err)
{
    users_set_argon2id(cfg->passwords.argon2id.memory_kib, cfg->passwords.argon2id.iterations);
    struct arena *a = arena_new(16384);
    struct planned_user *plan = arena_alloc(a, (cfg->n_users > 0 ? cfg->n_users : 1) * sizeof(*plan));
    int rc = plan_users(db, a, cfg, key, plan, err);
    if (rc == 0)
        rc = store_begin(db, err);
    if (rc != 0) {
        arena_free(a);
        return rc;
    }
    if (also != NULL)
        rc = also(db, cfg, err);
    if (rc == 0)
        rc = apply_users(db, a, cfg, plan, err);
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
    int64_t w = limiter_wait(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, K_COUNT, now);
    if (w > 0)
        metrics_login_delayed();
    return w;
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
    metrics_login_failure();
}

int64_t login_limiter_take(struct login_limiter *l, const char *addr, int64_t now)
{
    uint8_t k[1][LIMITER_KEY_LEN];
    limiter_key(l->lim, LIM_ADDR, NULL, 0, addr, LIMITER_ADDR_MAX, k[0]);
    int64_t w = limiter_wait(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, 1, now);
    if (w == 0)
        limiter_fail(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, &l->max_failures, 1, now);
    return w;
}

void login_limiter_success(struct login_limiter *l, const char *username, const char *addr, const char *device)
{
    uint8_t k[K_COUNT][LIMITER_KEY_LEN];
    lim_keys(l, username, addr, device, k);
    /* The pair and the device's (when there is one): the account and address counters stay. */
    memcpy(k[K_ADDR], k[K_WHO], LIMITER_KEY_LEN);
    limiter_clear(l->lim, (const uint8_t(*)[LIMITER_KEY_LEN])k, device != NULL ? 2 : 1);
}
