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
};

const size_t sqlite_migrations_count = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
