/* store.h: the one storage interface. Every backend (sqlite.c, postgres.c) implements struct store_ops;
 * nothing outside src/store/ knows which backend runs.
 *
 * Model. A `struct store` is opened once per process (store_open) and owns the backend-wide state. Each
 * thread that touches the store opens its own `struct store_conn` (store_conn_open): connections are
 * never shared between threads. Every call is synchronous and short (an indexed lookup or a small write).
 *
 * Contract for every backend (tests/store/test_contract.c runs it unchanged on each):
 * - Secrets are never stored in clear: tokens, codes and client secrets are passed in and looked up by
 *   their SHA-256 (32 bytes); the backend never sees the secret itself.
 * - Every multi-row change is one transaction: a failed call leaves nothing half-written. Callers may
 *   group calls with store_begin/store_commit/store_rollback; calls outside such a group are atomic.
 * - store_token_consume() is atomic: of concurrent callers on the same hash exactly one gets 0; every
 *   other gets ERR_CONFLICT together with the row (so the caller can revoke what it produced).
 *   store_token_settle() is atomic the same way: exactly one of concurrent callers settles a pending row.
 * - A committed write survives the process being killed (kill -9) once the call has returned.
 * - Strings in rows returned to callers are copied into the caller's arena.
 * - Inside a group, store_key_list locks the key set until the group ends, so that a read-modify-write of
 *   the keys (generation at first start, rotation) is serialized with every other process doing the same.
 * - Inside a group a backend may defer token_put and token_set_successor to the next call or to
 *   store_commit (PostgreSQL sends them together, saving round trips): a duplicate hash (ERR_CONFLICT) or
 *   a missing row (ERR_NOTFOUND) is then reported by store_commit (ERR_FAIL by any other call), and the
 *   group is over (rolled back). Any other failed call inside a group leaves it usable.
 * Return values: 0 on success, ERR_NOTFOUND, ERR_CONFLICT, ERR_UNAVAILABLE (the database cannot be reached
 * now: the connection is down and will be retried by a later call; say 503), or ERR_FAIL with the reason
 * in `err`. No message in `err` ever contains the DSN's password. */
#ifndef OSTIARY_STORE_H
#define OSTIARY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/rand.h"

struct arena;
struct store;
struct store_conn;

#define STORE_HASH_LEN 32

/* ---- clients (RFC 7591 metadata kept as a JSON object text) ---- */
struct store_client {
    const char *client_id;
    bool has_secret;
    uint8_t secret_hash[STORE_HASH_LEN]; /* SHA-256 of the client secret, when has_secret */
    const char *metadata;                /* JSON object text, RFC 7591 names */
    /* The client secret itself, encrypted by oauth/ with the key-encryption secret, for the clients that
     * need it in clear (client_secret_jwt: the HMAC key); NULL (length 0) for every other client. The
     * store never decrypts it. */
    const unsigned char *secret_enc;
    size_t secret_enc_len;
    int64_t created_at, updated_at;
    bool from_config;                    /* declared in the YAML file (re-applied at every start) */
    /* Where it came from: "config" (the file), "operator" (the CLI, the admin API), "registration" (RFC
     * 7591). NULL when writing: "config" if from_config, else "operator". */
    const char *origin;
    /* RFC 7592: SHA-256 of the registration access token of a registered client, when has_reg_token. */
    bool has_reg_token;
    uint8_t reg_token_hash[STORE_HASH_LEN];
};

/* ---- tokens: access tokens (opaque), refresh tokens, authorization codes, device codes ---- */
enum store_token_kind {
    STORE_TOKEN_ACCESS = 1,
    STORE_TOKEN_REFRESH = 2,
    STORE_TOKEN_CODE = 3,
    STORE_TOKEN_DEVICE = 4,
    STORE_TOKEN_SESSION = 5,      /* login session: hash of the session cookie; sub = user id */
    STORE_TOKEN_INTERACTION = 6,  /* a pending authorization request (login/consent pages) */
    STORE_TOKEN_PAR = 7,          /* a pushed authorization request (RFC 9126): hash of its request_uri */
    STORE_TOKEN_INITIAL_ACCESS = 8, /* an initial access token of dynamic registration (RFC 7591 §3) */
    STORE_TOKEN_USER_CODE = 9,    /* a device grant's user code: the lookup key of its device code's row */
};

struct store_token {
    uint8_t hash[STORE_HASH_LEN]; /* the primary key: SHA-256 of the token value (store_jti_key for JWTs) */
    int kind;                     /* enum store_token_kind */
    const char *client_id;
    const char *sub;              /* NULL for client_credentials tokens */
    const char *scope;            /* space-separated, may be "" */
    const char *aud;              /* space-separated audiences, may be NULL */
    const char *jti;              /* may be NULL */
    const char *grant_id;         /* the family: every token born of one grant shares it; may be NULL */
    const char *data;             /* JSON object text with kind-specific extras (nonce, PKCE...), may be NULL */
    int64_t iat, exp;
    int64_t revoked_at;           /* 0 = not revoked */
    int64_t consumed_at;          /* 0 = not consumed (codes, refresh tokens) */
    /* Refresh-token rotation (set by token_set_successor only; token_put writes neither): the token that
     * replaced this one. For a used (consumed) token, the one issued in exchange; for a token revoked by
     * a retry of its predecessor before any use of it (superseded), the one issued in its place. */
    bool has_successor;
    uint8_t successor[STORE_HASH_LEN];
    int64_t retried_at;           /* 0, or when a retry replaced this used token's successor */
};

/* ---- users (end users who log in) ---- */
struct store_user {
    const char *id;               /* the stable subject identifier (sub) */
    const char *username;         /* unique login name */
    const char *password_hash;    /* argon2id encoded string (libsodium crypto_pwhash_str), may be NULL */
    const char *claims;           /* JSON object text: OIDC standard claims (name, email, ...) */
    bool disabled;
    bool from_config;
    int64_t created_at, updated_at;
    /* A user of the configuration file with a plaintext password: a keyed digest (base64url) of that
     * password and password_hash, which lets a start keep the hash without hashing again
     * (session/users.c). NULL otherwise; anything that sets password_hash otherwise leaves it NULL. */
    const char *config_pw_mac;
};

/* ---- remembered consent: what a user allowed a client ---- */
struct store_consent {
    const char *user_id;
    const char *client_id;
    const char *scope;            /* space-separated granted scopes */
    const char *resources;        /* space-separated API identifiers, may be "" */
    int64_t created_at, updated_at;
};

/* ---- signing keys ---- */
struct store_key {
    const char *kid;
    const char *alg;              /* RS256, ES256, EdDSA */
    const unsigned char *priv_enc; /* private key, encrypted by jose/keystore.c; the store never decrypts */
    size_t priv_enc_len;
    const char *public_jwk;       /* JSON object text */
    int64_t created_at;
    int64_t sign_from;            /* signs from this time on (publish before sign) */
    int64_t retired_at;           /* 0 = current; else no longer signs from this time */
    int64_t unpublish_at;         /* 0 = published for ever; else removed from JWKS from this time */
};

/* ---- a revoked JWT id, kept until the token's own expiry ---- */
struct store_jti {
    const char *jti;
    int64_t exp;
};

/* store_open_flags() flags. */
enum store_open_flags {
    /* Create the store even where this configuration's store existed before and is gone, or adopt a
     * database that is not the store the configuration recorded (`ostiary migrate --create`). Without it
     * such a store is refused, so that a lost database is never silently replaced by an empty one. */
    STORE_OPEN_CREATE = 1 << 0,
};

struct store_ops {
    const char *scheme; /* "sqlite", "postgres" */
    /* True if a transaction of many single-row writes costs about what one such write costs (SQLite: one
     * lock, one WAL append of the pages the rows share), so that grouping the writes of concurrent
     * requests pays (oauth/tokens.c's group commit); false for PostgreSQL, where every write is a round
     * trip either way and a group would only add BEGIN and COMMIT. */
    bool group_commit;
    int (*open)(const char *dsn, unsigned flags, struct store **out, struct errbuf *err);
    void (*close)(struct store *st);
    /* Applies pending schema migrations; then checks (and records) the store's identity, so a replaced
     * store is refused here unless opened with STORE_OPEN_CREATE. */
    int (*migrate)(struct store *st, int *applied, struct errbuf *err);
    /* Cheap (one stat for SQLite, one round trip for PostgreSQL): 0 while the store this connection writes
     * to is still the one the configuration names; ERR_FAIL (err says why) once it was deleted or replaced
     * underneath. A database that cannot be reached now is not lost: 0 (ping says unreachable). */
    int (*check)(struct store_conn *c, struct errbuf *err);
    int (*conn_open)(struct store *st, struct store_conn **out, struct errbuf *err);
    void (*conn_close)(struct store_conn *c);
    /* 0 if the database answers now (a round trip where there is a server), else ERR_UNAVAILABLE or
     * ERR_FAIL. For /healthz. */
    int (*ping)(struct store_conn *c, struct errbuf *err);
    /* Round trips to the database server since store_open, all connections of the process together (a
     * connection attempt counts as one); 0 for an embedded database. For /healthz and the benchmarks. */
    uint64_t (*round_trips)(struct store *st);
    /* Read snapshots per turn of an event loop (no-ops on PostgreSQL, where each read is a round trip
     * anyway). loop_reads marks a connection whose thread runs an event loop and calls turn_end after
     * every turn of it. The connection's reads may then share one read snapshot until turn_end, instead
     * of each read starting and ending its own (on SQLite: two file locks, the WAL index read and a global
     * mutex, per read). What a read sees stays as fresh as it was:
     * - every write this process committed before the read began, on any connection (a commit ends the
     *   shared snapshot of every connection before its next read);
     * - a write of another process (the CLI on the same file) once the turn is over, and at the latest
     *   STORE_SNAPSHOT_MAX_MS after the snapshot began.
     * A write through the connection, or a group opened on it, ends its snapshot first. */
    void (*loop_reads)(struct store_conn *c);
    void (*turn_end)(struct store_conn *c);

    int (*begin)(struct store_conn *c, struct errbuf *err);
    int (*commit)(struct store_conn *c, struct errbuf *err);
    void (*rollback)(struct store_conn *c);

    int (*client_get)(struct store_conn *c, struct arena *a, const char *client_id, struct store_client *out,
                      struct errbuf *err);
    int (*client_put)(struct store_conn *c, const struct store_client *cl, struct errbuf *err); /* upsert */
    int (*client_delete)(struct store_conn *c, const char *client_id, struct errbuf *err);
    int (*client_list)(struct store_conn *c, struct arena *a, struct store_client **out, size_t *n,
                       struct errbuf *err);
    /* *found = whether some client's metadata has the string `value` in its member `member` (an array of
     * strings, or a string), e.g. ("pkce_methods", "plain"). One query that returns no row data, for
     * questions asked every few seconds. A client whose metadata is not a JSON object counts as having no
     * members. `member` is a metadata name ([a-z0-9_], 1..64 characters), else ERR_INVALID. */
    int (*client_meta_has)(struct store_conn *c, const char *member, const char *value, bool *found,
                           struct errbuf *err);

    int (*token_put)(struct store_conn *c, const struct store_token *t, struct errbuf *err);
    int (*token_get)(struct store_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                     struct store_token *out, struct errbuf *err);
    /* token_get together with the user whose id is the row's sub (the user of a code, refresh token or
     * device code), in one query: *has_user is true and *user filled when there is such a user; false when
     * the row has no sub or no user has that id. ERR_NOTFOUND when there is no row. */
    int (*token_get_user)(struct store_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                          struct store_token *out, struct store_user *user, bool *has_user, struct errbuf *err);
    /* Marks the token consumed at `now` if it exists, is of `kind`, unconsumed, unrevoked and unexpired.
     * ERR_NOTFOUND if absent/other kind/expired/revoked; ERR_CONFLICT (row in *out) if already consumed.
     * After ERR_CONFLICT inside a group the backend may keep the row locked until the group ends
     * (PostgreSQL: a lost UPDATE keeps its lock): end the group (it changed nothing) before revoking the
     * grant, or concurrent losers' revocations can wait for each other. */
    int (*token_consume)(struct store_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                         int64_t now, struct store_token *out, struct errbuf *err);
    /* A redemption (a code or refresh token exchanged for new tokens) as one transaction: consumes the row
     * `hash` as token_consume does, with the same answers (0 and the consumed row in *out; ERR_NOTFOUND;
     * ERR_CONFLICT with the row in *out, possibly read just after the transaction), and only if that
     * succeeded records `successor` (when not NULL) as the row's successor (token_set_successor with
     * retried_at 0) and writes the n rows of `puts` (token_put). On any failure nothing is written; a
     * duplicate hash among `puts` is ERR_FAIL, never mistaken for a lost race. Outside a group only
     * (ERR_FAIL inside one). Exactly once as token_consume: of concurrent callers on the same hash one gets
     * 0. PostgreSQL: one round trip (a second one reads the row for ERR_CONFLICT). */
    int (*token_redeem)(struct store_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                        int64_t now, const uint8_t *successor, const struct store_token *puts, size_t n,
                        struct store_token *out, struct errbuf *err);
    int (*token_revoke)(struct store_conn *c, const uint8_t hash[STORE_HASH_LEN], int64_t now,
                        struct errbuf *err);
    /* Settles a pending row, a device code waiting for its user (RFC 8628 §3.3): of a row of `kind` that
     * exists, is unexpired at `now` and is still pending (no sub yet, not revoked, not consumed), an
     * approval (sub not NULL) sets sub, scope and data (scope and data not NULL); a denial (sub NULL) sets
     * revoked_at = now and changes nothing else. ERR_NOTFOUND if there is no such row (absent, another
     * kind, expired); ERR_CONFLICT if it is settled already (approved, denied, or consumed). Of concurrent
     * callers exactly one gets 0. Redeeming an approved row is store_token_consume's, once. */
    int (*token_settle)(struct store_conn *c, const uint8_t hash[STORE_HASH_LEN], int kind, const char *sub,
                        const char *scope, const char *data, int64_t now, struct errbuf *err);
    /* Records that the token `successor` replaced the token `hash` (its successor column), and, when
     * retried_at is not 0, that a retry did (its retried_at). ERR_NOTFOUND if there is no such row. */
    int (*token_set_successor)(struct store_conn *c, const uint8_t hash[STORE_HASH_LEN],
                               const uint8_t successor[STORE_HASH_LEN], int64_t retried_at, struct errbuf *err);
    /* Revokes every token of a grant (refresh family, code and what it produced). */
    int (*grant_revoke)(struct store_conn *c, const char *grant_id, int64_t now, struct errbuf *err);

    /* Single-use values (a client assertion's jti, a DPoP proof's jti, a request object's jti), kept until
     * their own exp: records `key` (the store_hash of a value namespaced by its use, e.g. "assertion\0"
     * client_id "\0" jti) with `exp`. 0 when it was not recorded yet, or only by a record that has expired
     * (exp <= now, not yet removed by gc); ERR_CONFLICT when a live record exists. Atomic: of concurrent
     * callers with the same key, exactly one gets 0. Inside a group it is part of the group (undone by its
     * rollback), so a caller can make it share the transaction of the write it guards. Removed by gc once
     * expired. */
    int (*single_use_put)(struct store_conn *c, const uint8_t key[STORE_HASH_LEN], int64_t exp, int64_t now,
                          struct errbuf *err);

    /* Revocation list for self-contained (JWT) tokens, by jti, kept until the token's own exp. */
    int (*jti_revoke)(struct store_conn *c, const char *jti, int64_t exp, struct errbuf *err);
    /* 1 if revoked, 0 if not, <0 on error. */
    int (*jti_is_revoked)(struct store_conn *c, const char *jti, struct errbuf *err);

    int (*key_put)(struct store_conn *c, const struct store_key *k, struct errbuf *err); /* upsert by kid */
    int (*key_list)(struct store_conn *c, struct arena *a, struct store_key **out, size_t *n, struct errbuf *err);

    /* Users. user_get_by_name matches the username exactly. NOTFOUND when absent. */
    int (*user_get)(struct store_conn *c, struct arena *a, const char *id, struct store_user *out,
                    struct errbuf *err);
    int (*user_get_by_name)(struct store_conn *c, struct arena *a, const char *username, struct store_user *out,
                            struct errbuf *err);
    /* Upsert by id; CONFLICT if another user already has the username. */
    int (*user_put)(struct store_conn *c, const struct store_user *u, struct errbuf *err);
    int (*user_delete)(struct store_conn *c, const char *id, struct errbuf *err);
    int (*user_list)(struct store_conn *c, struct arena *a, struct store_user **out, size_t *n, struct errbuf *err);

    /* Consents, one row per (user, client). consent_delete with client_id NULL removes all of the user's. */
    int (*consent_get)(struct store_conn *c, struct arena *a, const char *user_id, const char *client_id,
                       struct store_consent *out, struct errbuf *err);
    int (*consent_put)(struct store_conn *c, const struct store_consent *cs, struct errbuf *err); /* upsert */
    int (*consent_delete)(struct store_conn *c, const char *user_id, const char *client_id, struct errbuf *err);
    int (*consent_list)(struct store_conn *c, struct arena *a, const char *user_id, struct store_consent **out,
                        size_t *n, struct errbuf *err);
    /* Revokes every live token of kind `kind` with this sub (logout of all sessions, user disable). */
    int (*token_revoke_sub)(struct store_conn *c, const char *sub, int kind, int64_t now, struct errbuf *err);
    /* The live (unrevoked, exp > now) tokens of kind `kind` with this sub, oldest first, at most `limit`
     * (a user's login sessions, for the admin API). */
    int (*token_list_sub)(struct store_conn *c, struct arena *a, const char *sub, int kind, int64_t now,
                          size_t limit, struct store_token **out, size_t *n, struct errbuf *err);
    /* Revokes every live token of the client that belongs to a grant (grant_id set: codes, refresh
     * families and the access tokens issued from them). client_credentials tokens have no grant and are
     * left alone. */
    int (*token_revoke_client)(struct store_conn *c, const char *client_id, int64_t now, struct errbuf *err);

    /* The bytes of the store's write-ahead log now, for the metrics; -1 where the backend reports none. */
    int64_t (*wal_bytes)(struct store *st);

    /* Deletes at most `limit` expired rows (tokens past exp, revoked jtis and single-use values past exp,
     * keys past unpublish_at); *removed gets the count. Bounded work per call, so a pass never stalls writers. */
    int (*gc)(struct store_conn *c, int64_t now, int limit, int *removed, struct errbuf *err);

    /* Copying a store (`ostiary migrate --from --to`), page by page in hash (jti) order: at most `limit`
     * rows after the cursor `after` (NULL: from the start). token_scan returns the live tokens (exp > now,
     * not revoked; consumed ones included, so that a replay is still recognised after the copy);
     * jti_scan the revoked jtis whose token has not expired (exp >= now). */
    int (*token_scan)(struct store_conn *c, struct arena *a, const uint8_t *after, int64_t now, int limit,
                      struct store_token **out, size_t *n, struct errbuf *err);
    int (*jti_scan)(struct store_conn *c, struct arena *a, const char *after, int64_t now, int limit,
                    struct store_jti **out, size_t *n, struct errbuf *err);
};

struct store {
    const struct store_ops *ops;
};
struct store_conn {
    struct store *st;
};

/* Picks the backend by the DSN's scheme ("sqlite:./var/ostiary.db", "postgres://user:pass@host/db" or
 * "postgresql://...") and opens it: store_open_flags with no flag (backends.c). */
int store_open(const char *dsn, struct store **out, struct errbuf *err);
int store_open_flags(const char *dsn, unsigned flags, struct store **out, struct errbuf *err);

/* Every store operation a caller may time: its metrics id (core/metrics.h) and label. */
#define STORE_OPS(X)                                                                                         \
    X(check)                                                                                             \
    X(ping)                                                                                              \
    X(begin)                                                                                             \
    X(commit)                                                                                            \
    X(client_get)                                                                                        \
    X(client_put)                                                                                        \
    X(client_delete)                                                                                     \
    X(client_list)                                                                                       \
    X(client_meta_has)                                                                                   \
    X(token_put)                                                                                         \
    X(token_get)                                                                                         \
    X(token_get_user)                                                                                    \
    X(token_consume)                                                                                     \
    X(token_redeem)                                                                                      \
    X(token_revoke)                                                                                      \
    X(token_settle)                                                                                      \
    X(token_set_successor)                                                                               \
    X(grant_revoke)                                                                                      \
    X(single_use_put)                                                                                    \
    X(jti_revoke)                                                                                        \
    X(jti_is_revoked)                                                                                    \
    X(key_put)                                                                                           \
    X(key_list)                                                                                          \
    X(user_get)                                                                                          \
    X(user_get_by_name)                                                                                  \
    X(user_put)                                                                                          \
    X(user_delete)                                                                                       \
    X(user_list)                                                                                         \
    X(consent_get)                                                                                       \
    X(consent_put)                                                                                       \
    X(consent_delete)                                                                                    \
    X(consent_list)                                                                                      \
    X(token_revoke_sub)                                                                                  \
    X(token_list_sub)                                                                                    \
    X(token_revoke_client)                                                                               \
    X(gc)                                                                                                \
    X(token_scan)                                                                                        \
    X(jti_scan)
enum store_op {
#define STORE_OP_ENUM_(name) STORE_OP_##name,
    STORE_OPS(STORE_OP_ENUM_)
#undef STORE_OP_ENUM_
    STORE_OP__COUNT
};
/* The label of each enum store_op ("token_get"). */
extern const char *const store_op_names[STORE_OP__COUNT];
/* Counts one store call for the metrics (store.c): its duration from t0 (clock_mono_us) and whether it
 * failed; ERR_NOTFOUND and ERR_CONFLICT are answers, not failures. Returns rc. */
int store_observe_(enum store_op op, int64_t t0, int rc);
/* Times the call of a thin dispatcher below (a GNU statement expression: the call is evaluated once). */
#define STORE_TIMED_(op, call)                                                                               \
    __extension__({                                                                                          \
        int64_t store_t0_ = clock_mono_us();                                                                 \
        store_observe_(STORE_OP_##op, store_t0_, (call));                                                    \
    })
#define STORE_CALL_(op, c, ...) STORE_TIMED_(op, (c)->st->ops->op((c), __VA_ARGS__))

/* Thin dispatchers, so callers write store_client_get(c, ...) whatever the backend. */
#define store_close(st) ((st)->ops->close(st))
#define store_migrate(st, applied, err) ((st)->ops->migrate((st), (applied), (err)))
#define store_check(c, err) STORE_CALL_(check, c, err)
#define store_conn_open(st, out, err) ((st)->ops->conn_open((st), (out), (err)))
#define store_conn_close(c) ((c)->st->ops->conn_close(c))
#define store_ping(c, err) STORE_CALL_(ping, c, err)
#define store_round_trips(st) ((st)->ops->round_trips(st))
/* How long a shared read snapshot may last at most (see store_ops.loop_reads). */
#define STORE_SNAPSHOT_MAX_MS 2
#define store_loop_reads(c) ((c)->st->ops->loop_reads(c))
#define store_turn_end(c) ((c)->st->ops->turn_end(c))
#define store_begin(c, err) STORE_CALL_(begin, c, err)
#define store_commit(c, err) STORE_CALL_(commit, c, err)
#define store_rollback(c) ((c)->st->ops->rollback(c))
#define store_client_get(c, ...) STORE_CALL_(client_get, c, __VA_ARGS__)
#define store_client_put(c, ...) STORE_CALL_(client_put, c, __VA_ARGS__)
#define store_client_delete(c, ...) STORE_CALL_(client_delete, c, __VA_ARGS__)
#define store_client_list(c, ...) STORE_CALL_(client_list, c, __VA_ARGS__)
#define store_client_meta_has(c, ...) STORE_CALL_(client_meta_has, c, __VA_ARGS__)
#define store_token_put(c, ...) STORE_CALL_(token_put, c, __VA_ARGS__)
#define store_token_get(c, ...) STORE_CALL_(token_get, c, __VA_ARGS__)
#define store_token_get_user(c, ...) STORE_CALL_(token_get_user, c, __VA_ARGS__)
#define store_token_consume(c, ...) STORE_CALL_(token_consume, c, __VA_ARGS__)
#define store_token_redeem(c, ...) STORE_CALL_(token_redeem, c, __VA_ARGS__)
#define store_token_revoke(c, ...) STORE_CALL_(token_revoke, c, __VA_ARGS__)
#define store_token_settle(c, ...) STORE_CALL_(token_settle, c, __VA_ARGS__)
#define store_token_set_successor(c, ...) STORE_CALL_(token_set_successor, c, __VA_ARGS__)
#define store_grant_revoke(c, ...) STORE_CALL_(grant_revoke, c, __VA_ARGS__)
#define store_single_use_put(c, ...) STORE_CALL_(single_use_put, c, __VA_ARGS__)
#define store_jti_revoke(c, ...) STORE_CALL_(jti_revoke, c, __VA_ARGS__)
#define store_jti_is_revoked(c, ...) STORE_CALL_(jti_is_revoked, c, __VA_ARGS__)
#define store_key_put(c, ...) STORE_CALL_(key_put, c, __VA_ARGS__)
#define store_key_list(c, ...) STORE_CALL_(key_list, c, __VA_ARGS__)
#define store_user_get(c, ...) STORE_CALL_(user_get, c, __VA_ARGS__)
#define store_user_get_by_name(c, ...) STORE_CALL_(user_get_by_name, c, __VA_ARGS__)
#define store_user_put(c, ...) STORE_CALL_(user_put, c, __VA_ARGS__)
#define store_user_delete(c, ...) STORE_CALL_(user_delete, c, __VA_ARGS__)
#define store_user_list(c, ...) STORE_CALL_(user_list, c, __VA_ARGS__)
#define store_consent_get(c, ...) STORE_CALL_(consent_get, c, __VA_ARGS__)
#define store_consent_put(c, ...) STORE_CALL_(consent_put, c, __VA_ARGS__)
#define store_consent_delete(c, ...) STORE_CALL_(consent_delete, c, __VA_ARGS__)
#define store_consent_list(c, ...) STORE_CALL_(consent_list, c, __VA_ARGS__)
#define store_token_revoke_sub(c, ...) STORE_CALL_(token_revoke_sub, c, __VA_ARGS__)
#define store_token_list_sub(c, ...) STORE_CALL_(token_list_sub, c, __VA_ARGS__)
#define store_token_revoke_client(c, ...) STORE_CALL_(token_revoke_client, c, __VA_ARGS__)
#define store_gc(c, ...) STORE_CALL_(gc, c, __VA_ARGS__)
#define store_token_scan(c, ...) STORE_CALL_(token_scan, c, __VA_ARGS__)
#define store_jti_scan(c, ...) STORE_CALL_(jti_scan, c, __VA_ARGS__)

/* ---- Shared by the backends and their callers (store.c) ---- */
/* SHA-256 of a secret, the form in which every secret is stored and looked up. */
void store_hash(const void *secret, size_t n, uint8_t out[STORE_HASH_LEN]);
/* The row key of a self-contained (JWT) access token: SHA-256 of "jti:" followed by its jti, a value
 * inside the signed payload. Its state is never keyed on the token's bytes, which a signature scheme may
 * let anybody re-encode. Token values are base64url, which has no ':', so such a key is never the
 * store_hash() of a token value. The SQLite migration 3 computes the same (sqlite.c: ostiary_jti_key). */
void store_jti_key(const char *jti, uint8_t out[STORE_HASH_LEN]);

/* The origin a client row is written with: its own, else "config" or "operator" by from_config. */
const char *store_client_origin(const struct store_client *cl);

/* The DSN with any password replaced by "***" (URI user:password@ and password= / ?password=), for logs
 * and messages, in the caller's arena. */
const char *store_dsn_redacted(struct arena *a, const char *dsn);

/* The backends' operation tables, for backends.c only. */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;

#endif
