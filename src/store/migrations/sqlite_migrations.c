/* sqlite_migrations.c: the SQLite schema as numbered migrations, embedded so the binary is self-contained.
 * Append only: a migration that has shipped is never edited; change the schema with a new entry. The
 * runner (migrate in sqlite.c) applies each pending one in its own transaction and records it in
 * schema_migrations. Entry i is version i + 1. */
#include <stddef.h>

#include "core/banned.h"

/* Declared again in sqlite.c, the only user. */
extern const char *const sqlite_migrations[];
extern const size_t sqlite_migrations_count;

const char *const sqlite_migrations[] = {
    /* 001_init: clients, tokens, revoked jtis, signing keys. Users, sessions, consents and device codes
     * come later as their own migrations. Every timestamp is Unix seconds; 0 means "not set". */
    "CREATE TABLE clients (\n"
    "    client_id   TEXT PRIMARY KEY NOT NULL,\n"
    "    secret_hash BLOB CHECK (secret_hash IS NULL OR length(secret_hash) = 32),\n"
    "    metadata    TEXT NOT NULL,\n"
    "    from_config INTEGER NOT NULL DEFAULT 0,\n"
    "    created_at  INTEGER NOT NULL,\n"
    "    updated_at  INTEGER NOT NULL\n"
    ");\n"
    /* No foreign key to clients: deleting a client must stay a one-row change, and its tokens die by
     * themselves because token use always looks the client up again. */
    "CREATE TABLE tokens (\n"
    "    hash        BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),\n"
    "    kind        INTEGER NOT NULL,\n"
    "    client_id   TEXT NOT NULL,\n"
    "    sub         TEXT,\n"
    "    scope       TEXT NOT NULL,\n"
    "    aud         TEXT,\n"
    "    jti         TEXT,\n"
    "    grant_id    TEXT,\n"
    "    data        TEXT,\n"
    "    iat         INTEGER NOT NULL,\n"
    "    exp         INTEGER NOT NULL,\n"
    "    revoked_at  INTEGER NOT NULL DEFAULT 0,\n"
    "    consumed_at INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    /* Partial: client_credentials tokens have no grant; SQLite uses it for "grant_id = ?". */
    "CREATE INDEX tokens_grant_id ON tokens (grant_id) WHERE grant_id IS NOT NULL;\n"
    "CREATE INDEX tokens_exp ON tokens (exp);\n"
    "CREATE TABLE revoked_jti (\n"
    "    jti TEXT PRIMARY KEY NOT NULL,\n"
    "    exp INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX revoked_jti_exp ON revoked_jti (exp);\n"
    "CREATE TABLE keys (\n"
    "    kid          TEXT PRIMARY KEY NOT NULL,\n"
    "    alg          TEXT NOT NULL,\n"
    "    priv_enc     BLOB NOT NULL,\n"
    "    public_jwk   TEXT NOT NULL,\n"
    "    created_at   INTEGER NOT NULL,\n"
    "    sign_from    INTEGER NOT NULL,\n"
    "    retired_at   INTEGER NOT NULL DEFAULT 0,\n"
    "    unpublish_at INTEGER NOT NULL DEFAULT 0\n"
    ");\n",

    /* 002_users_consents: end users (session/users.c) and remembered consent. A user's id is the OIDC
     * sub and never changes; the username is the login name and may be renamed. claims is a JSON object
     * of OIDC Core §5.1 standard claims. */
    "CREATE TABLE users (\n"
    "    id            TEXT PRIMARY KEY NOT NULL,\n"
    "    username      TEXT NOT NULL UNIQUE,\n"
    "    password_hash TEXT,\n"
    "    claims        TEXT NOT NULL DEFAULT '{}',\n"
    "    disabled      INTEGER NOT NULL DEFAULT 0,\n"
    "    from_config   INTEGER NOT NULL DEFAULT 0,\n"
    "    created_at    INTEGER NOT NULL,\n"
    "    updated_at    INTEGER NOT NULL\n"
    ");\n"
    /* No foreign keys, as for tokens: deleting a user or a client stays a one-row change; the caller
     * removes the user's consents in the same transaction, and a client's die with the client because
     * every use looks the client up again. */
    "CREATE TABLE consents (\n"
    "    user_id    TEXT NOT NULL,\n"
    "    client_id  TEXT NOT NULL,\n"
    "    scope      TEXT NOT NULL,\n"
    "    resources  TEXT NOT NULL DEFAULT '',\n"
    "    created_at INTEGER NOT NULL,\n"
    "    updated_at INTEGER NOT NULL,\n"
    "    PRIMARY KEY (user_id, client_id)\n"
    ") WITHOUT ROWID;\n"
    /* For token_revoke_sub (logout everywhere, user disabled or deleted). Partial: client_credentials
     * tokens have no sub. */
    "CREATE INDEX tokens_sub ON tokens (sub) WHERE sub IS NOT NULL;\n",

    /* 003_jwt_rows_by_jti: the row of a JWT access token issued within a grant is keyed by its jti, a
     * value inside the signed payload (store_jti_key), no longer by the hash of the token's bytes, which
     * an ECDSA signature lets anybody re-encode. Rows written before get a copy under the new key, with
     * their state (revoked or not); the old row stays, as an opaque access token's row looks the same (its
     * jti is filled too) and is still found by the token's hash. ostiary_jti_key() is registered by the
     * migration runner (sqlite.c). */
    "INSERT OR IGNORE INTO tokens (hash, kind, client_id, sub, scope, aud, jti, grant_id, data, iat, exp,\n"
    "                              revoked_at, consumed_at)\n"
    "SELECT ostiary_jti_key(jti), kind, client_id, sub, scope, aud, jti, grant_id, data, iat, exp,\n"
    "       revoked_at, consumed_at\n"
    "FROM tokens WHERE kind = 1 AND jti IS NOT NULL AND grant_id IS NOT NULL;\n",

    /* 004_refresh_successor: refresh-token rotation keeps one live token per family (RFC 9700 §4.14.2).
     * successor is the hash of the token that replaced a row (store.h: store_token); retried_at marks a
     * used token whose one retry has been spent. */
    ("ALTER TABLE tokens ADD COLUMN successor BLOB CHECK (successor IS NULL OR length(successor) = 32);\n"
     "ALTER TABLE tokens ADD COLUMN retried_at INTEGER NOT NULL DEFAULT 0;\n"),

    /* 005_store_meta: facts about the store itself. store_id names this database for good: it is also
     * written beside the file (sqlite.c, "identity"), so that a start finding the marker but not the
     * database knows the store was lost rather than never made. */
    "CREATE TABLE store_meta (\n"
    "    key   TEXT PRIMARY KEY NOT NULL,\n"
    "    value TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO store_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))));\n",

    /* 006_tokens_client: for token_revoke_client (the admin API revokes a client's grants). Partial: the
     * tokens of client_credentials have no grant, so the hot path of that grant writes no index entry. */
    "CREATE INDEX tokens_client ON tokens (client_id) WHERE grant_id IS NOT NULL;\n",

    /* 007_config_password_mac: for a user of the configuration file with a plaintext password, a keyed
     * digest binding that password to the stored hash (session/users.c), so that a start finding it
     * unchanged keeps the hash instead of hashing (or verifying) the password again. NULL otherwise. */
    "ALTER TABLE users ADD COLUMN config_pw_mac TEXT;\n",

    /* 008_single_use: values that may be used once until they expire (the jti of client assertions, of
     * DPoP proofs and of request objects; store.h: single_use_put), by the SHA-256 of the namespaced
     * value; the index serves gc. And the encrypted client secret of the clients that need it in clear
     * (client_secret_jwt), NULL for the others. */
    ("CREATE TABLE single_use (\n"
     "    key BLOB PRIMARY KEY NOT NULL CHECK (length(key) = 32),\n"
     "    exp INTEGER NOT NULL\n"
     ") WITHOUT ROWID;\n"
     "CREATE INDEX single_use_exp ON single_use (exp);\n"
     "ALTER TABLE clients ADD COLUMN secret_enc BLOB;\n"),

    /* 009_client_origin: where a client came from (the file, an operator, dynamic registration) and, for
     * a registered one, the SHA-256 of its registration access token (RFC 7592). */
    ("ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator';\n"
     "UPDATE clients SET origin = 'config' WHERE from_config <> 0;\n"
     "ALTER TABLE clients ADD COLUMN reg_token_hash BLOB CHECK (reg_token_hash IS NULL OR "
     "length(reg_token_hash) = 32);\n"),
};

const size_t sqlite_migrations_count = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
