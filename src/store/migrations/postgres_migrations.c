/* postgres_migrations.c: the PostgreSQL schema as numbered migrations, embedded so the binary is
 * self-contained. Append only: a migration that has shipped is never edited; change the schema with a new
 * entry. The runner (pg_migrate in postgres.c) applies each pending one in its own transaction, under an
 * advisory lock, and records it in schema_migrations. Entry i is version i + 1. The tables and columns are
 * those of the SQLite schema (sqlite_migrations.c), so `ostiary migrate --from/--to` copies rows as they
 * are. */
#include <stddef.h>

#include "core/banned.h"

/* Declared again in postgres.c, the only user. */
extern const char *const postgres_migrations[];
extern const size_t postgres_migrations_count;

const char *const postgres_migrations[] = {
    /* 001_init: every table of SQLite's versions 1, 2 and 4 at once (3 rekeys rows SQLite databases
     * had before it; a PostgreSQL database never had them), and the functions that make a multi-statement
     * operation a single round trip. Timestamps are Unix seconds; 0 means "not set". */
    "CREATE TABLE clients (\n"
    "    client_id   TEXT PRIMARY KEY,\n"
    "    secret_hash BYTEA CHECK (secret_hash IS NULL OR length(secret_hash) = 32),\n"
    "    metadata    TEXT NOT NULL,\n"
    "    from_config BOOLEAN NOT NULL DEFAULT false,\n"
    "    created_at  BIGINT NOT NULL,\n"
    "    updated_at  BIGINT NOT NULL\n"
    ");\n"
    /* No foreign keys, as in SQLite: deleting a client or a user stays a one-row change. */
    "CREATE TABLE tokens (\n"
    "    hash        BYTEA PRIMARY KEY CHECK (length(hash) = 32),\n"
    "    kind        INTEGER NOT NULL,\n"
    "    client_id   TEXT NOT NULL,\n"
    "    sub         TEXT,\n"
    "    scope       TEXT NOT NULL,\n"
    "    aud         TEXT,\n"
    "    jti         TEXT,\n"
    "    grant_id    TEXT,\n"
    "    data        TEXT,\n"
    "    iat         BIGINT NOT NULL,\n"
    "    exp         BIGINT NOT NULL,\n"
    "    revoked_at  BIGINT NOT NULL DEFAULT 0,\n"
    "    consumed_at BIGINT NOT NULL DEFAULT 0,\n"
    /* Refresh-token rotation (SQLite's migration 4): the token that replaced this one, and when a retry
     * spent this used token's one retry. */
    "    successor   BYTEA CHECK (successor IS NULL OR length(successor) = 32),\n"
    "    retried_at  BIGINT NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX tokens_grant_id ON tokens (grant_id) WHERE grant_id IS NOT NULL;\n"
    "CREATE INDEX tokens_exp ON tokens (exp);\n"
    "CREATE INDEX tokens_sub ON tokens (sub) WHERE sub IS NOT NULL;\n"
    "CREATE TABLE revoked_jti (\n"
    "    jti TEXT PRIMARY KEY,\n"
    "    exp BIGINT NOT NULL\n"
    ");\n"
    "CREATE INDEX revoked_jti_exp ON revoked_jti (exp);\n"
    "CREATE TABLE keys (\n"
    "    kid          TEXT PRIMARY KEY,\n"
    "    alg          TEXT NOT NULL,\n"
    "    priv_enc     BYTEA NOT NULL,\n"
    "    public_jwk   TEXT NOT NULL,\n"
    "    created_at   BIGINT NOT NULL,\n"
    "    sign_from    BIGINT NOT NULL,\n"
    "    retired_at   BIGINT NOT NULL DEFAULT 0,\n"
    "    unpublish_at BIGINT NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE TABLE users (\n"
    "    id            TEXT PRIMARY KEY,\n"
    "    username      TEXT NOT NULL UNIQUE,\n"
    "    password_hash TEXT,\n"
    "    claims        TEXT NOT NULL DEFAULT '{}',\n"
    "    disabled      BOOLEAN NOT NULL DEFAULT false,\n"
    "    from_config   BOOLEAN NOT NULL DEFAULT false,\n"
    "    created_at    BIGINT NOT NULL,\n"
    "    updated_at    BIGINT NOT NULL\n"
    ");\n"
    "CREATE TABLE consents (\n"
    "    user_id    TEXT NOT NULL,\n"
    "    client_id  TEXT NOT NULL,\n"
    "    scope      TEXT NOT NULL,\n"
    "    resources  TEXT NOT NULL DEFAULT '',\n"
    "    created_at BIGINT NOT NULL,\n"
    "    updated_at BIGINT NOT NULL,\n"
    "    PRIMARY KEY (user_id, client_id)\n"
    ");\n"
    /* Single use across instances, in one round trip. The UPDATE is the atomic step: of concurrent
     * callers, the row lock lets one move consumed_at off 0; the others wait for it, re-check the
     * condition on the row it committed and change nothing. In READ COMMITTED every statement of a
     * function takes a new snapshot, so the SELECT that follows a lost race sees the winner's row (a
     * single SQL statement could not: its snapshot predates the winner's commit). `won` tells the caller
     * which case it is; no row at all is NOTFOUND. */
    "CREATE FUNCTION ostiary_token_consume(p_hash BYTEA, p_kind INTEGER, p_now BIGINT)\n"
    "RETURNS TABLE (won BOOLEAN, hash BYTEA, kind INTEGER, client_id TEXT, sub TEXT, scope TEXT, aud TEXT,\n"
    "               jti TEXT, grant_id TEXT, data TEXT, iat BIGINT, exp BIGINT, revoked_at BIGINT,\n"
    "               consumed_at BIGINT, successor BYTEA, retried_at BIGINT)\n"
    "LANGUAGE plpgsql VOLATILE AS $$\n"
    "BEGIN\n"
    "    RETURN QUERY UPDATE tokens t SET consumed_at = p_now\n"
    "        WHERE t.hash = p_hash AND t.kind = p_kind AND t.consumed_at = 0 AND t.revoked_at = 0\n"
    "          AND t.exp > p_now\n"
    "        RETURNING true, t.hash, t.kind, t.client_id, t.sub, t.scope, t.aud, t.jti, t.grant_id, t.data,\n"
    "                  t.iat, t.exp, t.revoked_at, t.consumed_at, t.successor, t.retried_at;\n"
    "    IF FOUND THEN\n"
    "        RETURN;\n"
    "    END IF;\n"
    "    RETURN QUERY SELECT false, t.hash, t.kind, t.client_id, t.sub, t.scope, t.aud, t.jti, t.grant_id,\n"
    "                        t.data, t.iat, t.exp, t.revoked_at, t.consumed_at, t.successor, t.retried_at\n"
    "        FROM tokens t WHERE t.hash = p_hash;\n"
    "END\n"
    "$$;\n"
    /* Rotation bookkeeping as one statement that fails when there is no such row (SQLSTATE P0002,
     * no_data_found: ERR_NOTFOUND), so that inside a group it can travel with the group's COMMIT like a
     * token write and still report a missing row. retried_at 0 leaves a spent retry spent. */
    "CREATE FUNCTION ostiary_token_set_successor(p_hash BYTEA, p_successor BYTEA, p_retried BIGINT)\n"
    "RETURNS VOID LANGUAGE plpgsql VOLATILE AS $$\n"
    "BEGIN\n"
    "    UPDATE tokens SET successor = p_successor,\n"
    "                      retried_at = CASE WHEN p_retried <> 0 THEN p_retried ELSE retried_at END\n"
    "        WHERE hash = p_hash;\n"
    "    IF NOT FOUND THEN\n"
    "        RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'no such token';\n"
    "    END IF;\n"
    "END\n"
    "$$;\n"
    /* Revokes a grant's tokens. Revocations of one family run one at a time (a transaction advisory lock
     * on the grant id's hash): concurrent revokers, e.g. every loser of a refresh token presented many
     * times at once, would otherwise lock the family's rows in different orders (an index scan meets the
     * new row versions the first one wrote) and deadlock each other and the waiting consumers. */
    "CREATE FUNCTION ostiary_grant_revoke(p_grant TEXT, p_now BIGINT) RETURNS VOID\n"
    "LANGUAGE plpgsql VOLATILE AS $$\n"
    "BEGIN\n"
    "    PERFORM pg_advisory_xact_lock(1869837417, hashtext(p_grant));\n"
    "    UPDATE tokens SET revoked_at = p_now WHERE grant_id = p_grant AND revoked_at = 0;\n"
    "END\n"
    "$$;\n"
    /* Expired rows, at most p_limit per call, by one instance at a time: a caller that does not get the
     * advisory lock (another instance is collecting) removes nothing and returns 0. The lock is the
     * transaction's, released when the call's transaction ends. Tokens first (the bulk), then jtis, then
     * keys, sharing the budget. */
    "CREATE FUNCTION ostiary_gc(p_now BIGINT, p_limit INTEGER, p_lock BIGINT) RETURNS INTEGER\n"
    "LANGUAGE plpgsql VOLATILE AS $$\n"
    "DECLARE\n"
    "    n INTEGER := 0;\n"
    "    m INTEGER;\n"
    "BEGIN\n"
    "    IF p_limit <= 0 OR NOT pg_try_advisory_xact_lock(p_lock) THEN\n"
    "        RETURN 0;\n"
    "    END IF;\n"
    "    DELETE FROM tokens WHERE ctid = ANY (ARRAY(\n"
    "        SELECT ctid FROM tokens WHERE exp < p_now LIMIT p_limit));\n"
    "    GET DIAGNOSTICS m = ROW_COUNT;\n"
    "    n := n + m;\n"
    "    IF n < p_limit THEN\n"
    "        DELETE FROM revoked_jti WHERE ctid = ANY (ARRAY(\n"
    "            SELECT ctid FROM revoked_jti WHERE exp < p_now LIMIT p_limit - n));\n"
    "        GET DIAGNOSTICS m = ROW_COUNT;\n"
    "        n := n + m;\n"
    "    END IF;\n"
    "    IF n < p_limit THEN\n"
    "        DELETE FROM keys WHERE ctid = ANY (ARRAY(\n"
    "            SELECT ctid FROM keys WHERE unpublish_at <> 0 AND unpublish_at < p_now LIMIT p_limit - n));\n"
    "        GET DIAGNOSTICS m = ROW_COUNT;\n"
    "        n := n + m;\n"
    "    END IF;\n"
    "    RETURN n;\n"
    "END\n"
    "$$;\n",

    /* 002_client_meta: metadata as JSON for client_meta_has, NULL when a row's text is not JSON (one bad
     * row must not make the whole query fail; jsonb's cast raises an error instead). */
    "CREATE FUNCTION ostiary_try_jsonb(p_text TEXT) RETURNS JSONB\n"
    "LANGUAGE plpgsql IMMUTABLE AS $$\n"
    "BEGIN\n"
    "    RETURN p_text::jsonb;\n"
    "EXCEPTION WHEN others THEN\n"
    "    RETURN NULL;\n"
    "END\n"
    "$$;\n",

    /* 003_store_meta: facts about the store itself (SQLite's migration 5). store_id names this database
     * for good: a running server compares it with the one it saw at start (store_check), so that a
     * database replaced underneath (restored elsewhere, recreated empty) is noticed. */
    "CREATE TABLE store_meta (\n"
    "    key   TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "INSERT INTO store_meta (key, value) VALUES ('store_id', md5(random()::text || clock_timestamp()::text));\n",

    /* 004_tokens_client: for token_revoke_client (SQLite's migration 6). Partial: the tokens of
     * client_credentials have no grant, so the hot path of that grant writes no index entry. */
    "CREATE INDEX tokens_client ON tokens (client_id) WHERE grant_id IS NOT NULL;\n",

    /* 005_config_password_mac: SQLite's migration 7, the digest that lets a start keep a configured
     * user's password hash (session/users.c). */
    "ALTER TABLE users ADD COLUMN config_pw_mac TEXT;\n",

    /* 006_single_use: SQLite's migration 8, single-use values (store.h: single_use_put) and the encrypted
     * secret of client_secret_jwt clients; ostiary_gc removes expired single-use values too (after the
     * revoked jtis, before the keys, in the same budget). */
    "CREATE TABLE single_use (\n"
    "    key BYTEA PRIMARY KEY CHECK (length(key) = 32),\n"
    "    exp BIGINT NOT NULL\n"
    ");\n"
    "CREATE INDEX single_use_exp ON single_use (exp);\n"
    "ALTER TABLE clients ADD COLUMN secret_enc BYTEA;\n"
    "CREATE OR REPLACE FUNCTION ostiary_gc(p_now BIGINT, p_limit INTEGER, p_lock BIGINT) RETURNS INTEGER\n"
    "LANGUAGE plpgsql VOLATILE AS $$\n"
    "DECLARE\n"
    "    n INTEGER := 0;\n"
    "    m INTEGER;\n"
    "BEGIN\n"
    "    IF p_limit <= 0 OR NOT pg_try_advisory_xact_lock(p_lock) THEN\n"
    "        RETURN 0;\n"
    "    END IF;\n"
    "    DELETE FROM tokens WHERE ctid = ANY (ARRAY(\n"
    "        SELECT ctid FROM tokens WHERE exp < p_now LIMIT p_limit));\n"
    "    GET DIAGNOSTICS m = ROW_COUNT;\n"
    "    n := n + m;\n"
    "    IF n < p_limit THEN\n"
    "        DELETE FROM revoked_jti WHERE ctid = ANY (ARRAY(\n"
    "            SELECT ctid FROM revoked_jti WHERE exp < p_now LIMIT p_limit - n));\n"
    "        GET DIAGNOSTICS m = ROW_COUNT;\n"
    "        n := n + m;\n"
    "    END IF;\n"
    "    IF n < p_limit THEN\n"
    "        DELETE FROM single_use WHERE ctid = ANY (ARRAY(\n"
    "            SELECT ctid FROM single_use WHERE exp < p_now LIMIT p_limit - n));\n"
    "        GET DIAGNOSTICS m = ROW_COUNT;\n"
    "        n := n + m;\n"
    "    END IF;\n"
    "    IF n < p_limit THEN\n"
    "        DELETE FROM keys WHERE ctid = ANY (ARRAY(\n"
    "            SELECT ctid FROM keys WHERE unpublish_at <> 0 AND unpublish_at < p_now LIMIT p_limit - n));\n"
    "        GET DIAGNOSTICS m = ROW_COUNT;\n"
    "        n := n + m;\n"
    "    END IF;\n"
    "    RETURN n;\n"
    "END\n"
    "$$;\n",

    /* 007_client_origin: SQLite's migration 9, where a client came from and a registered client's
     * registration access token hash (RFC 7592). */
    ("ALTER TABLE clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator';\n"
     "UPDATE clients SET origin = 'config' WHERE from_config;\n"
     "ALTER TABLE clients ADD COLUMN reg_token_hash BYTEA CHECK (reg_token_hash IS NULL OR "
     "length(reg_token_hash) = 32);\n"),

    /* 008_token_redeem: store_token_redeem's consume, the last statement of a pipeline whose earlier ones
     * write the new rows, all in one implicit transaction (no BEGIN: the pipeline's Sync ends it). The
     * UPDATE decides as in ostiary_token_consume (a concurrent caller waits for the row lock, then finds
     * the condition false) and links the successor in the same write. Where it changes nothing it raises,
     * so that the server skips the rest of the pipeline and rolls the whole transaction back: OS001 (our
     * own class, OS) when the row was consumed already, which the next statement's new snapshot sees
     * once the winner has committed; no_data_found (P0002) otherwise. */
    ("CREATE FUNCTION ostiary_token_redeem(p_hash BYTEA, p_kind INTEGER, p_now BIGINT, p_successor BYTEA)\n"
     "RETURNS TABLE (hash BYTEA, kind INTEGER, client_id TEXT, sub TEXT, scope TEXT, aud TEXT, jti TEXT,\n"
     "               grant_id TEXT, data TEXT, iat BIGINT, exp BIGINT, revoked_at BIGINT, consumed_at BIGINT,\n"
     "               successor BYTEA, retried_at BIGINT)\n"
     "LANGUAGE plpgsql VOLATILE AS $$\n"
     "BEGIN\n"
     "    RETURN QUERY UPDATE tokens t SET consumed_at = p_now, successor = coalesce(p_successor, t.successor)\n"
     "        WHERE t.hash = p_hash AND t.kind = p_kind AND t.consumed_at = 0 AND t.revoked_at = 0\n"
     "          AND t.exp > p_now\n"
     "        RETURNING t.hash, t.kind, t.client_id, t.sub, t.scope, t.aud, t.jti, t.grant_id, t.data, t.iat,\n"
     "                  t.exp, t.revoked_at, t.consumed_at, t.successor, t.retried_at;\n"
     "    IF FOUND THEN\n"
     "        RETURN;\n"
     "    END IF;\n"
     "    IF EXISTS (SELECT 1 FROM tokens t WHERE t.hash = p_hash AND t.kind = p_kind AND t.consumed_at <> 0)\n"
     "    THEN\n"
     "        RAISE EXCEPTION USING ERRCODE = 'OS001', MESSAGE = 'the token was consumed already';\n"
     "    END IF;\n"
     "    RAISE EXCEPTION USING ERRCODE = 'no_data_found', MESSAGE = 'no such token to consume';\n"
     "END\n"
     "$$;\n"),
};

const size_t postgres_migrations_count = sizeof(postgres_migrations) / sizeof(postgres_migrations[0]);
