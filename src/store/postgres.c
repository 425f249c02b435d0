/* postgres.c: the PostgreSQL backend of store.h (scheme "postgres" or "postgresql", DSN = a libpq URI,
 * completed by the usual PG* environment variables). One libpq connection per store_conn (per thread);
 * every statement prepared once per connection, all in one pipelined round trip; a caller's group sent in
 * pipeline mode (BEGIN with the first statement, deferred token writes with COMMIT), so that a grant costs
 * few round trips; transparent reconnect, and ERR_UNAVAILABLE while the server cannot be reached.
 * Cross-instance coordination by advisory locks: migrations, key generation and rotation, expiry cleanup.
 * Leaves out: the schema itself (migrations/postgres_migrations.c), pooling connections across threads. */
#include "store/store.h"

#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "core/arena.h"
#include "core/str.h"
#include "core/banned.h"

/* Defined in migrations/postgres_migrations.c; entry i is schema version i + 1. */
extern const char *const postgres_migrations[];
extern const size_t postgres_migrations_count;

/* Advisory lock keys (one 64-bit space per database, shared with any other application in it: these
 * spell "ostiary" followed by a purpose byte). Grant revocations use the two-key space, (1869837417 =
 * "osti", hashtext(grant id)), in ostiary_grant_revoke. */
#define LOCK_MIGRATE "8030038760375175425" /* 0x6f73746961727901 */
#define LOCK_KEYS "8030038760375175426"
#define LOCK_GC "8030038760375175427"

/* Defaults that the DSN may override: a connection attempt gives up after 5 s, and a request in flight on
 * a server that went silent (a network partition, not a restart) fails after 10 s instead of hanging for
 * the TCP retransmission timeout. */
#define CONNECT_TIMEOUT_S "5"
#define TCP_USER_TIMEOUT_MS "10000"
/* After a failed connection attempt, calls on that connection fail at once for this long, so that a
 * worker whose database is down answers 503 quickly instead of waiting on a connect per request. */
#define RETRY_MS 500
#define MAX_QUEUED 64 /* statements sent in one pipeline before their results are read */
#define MAX_PARAMS 13

struct pg_store {
    struct store base; /* first: store.h dispatches through base.ops */
    char *conninfo;    /* "postgresql:" + what followed the scheme: a URI libpq takes whole */
    char *shown;       /* the DSN with its password masked, for messages */
    char *store_id;    /* store_meta's store_id as store_migrate found it (NULL before), for store_check */
    _Atomic uint64_t round_trips; /* store_round_trips(): every connection's, counted as they happen */
};

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_PING,
    S_STORE_ID,
    S_LOCK_KEYS,
    S_CLIENT_GET,
    S_CLIENT_PUT,
    S_CLIENT_DELETE,
    S_CLIENT_LIST,
    S_CLIENT_META_HAS,
    S_TOKEN_PUT,
    S_TOKEN_GET,
    S_TOKEN_GET_USER,
    S_TOKEN_CONSUME,
    S_TOKEN_REDEEM,
    S_TOKEN_SETTLE,
    S_TOKEN_SET_SUCCESSOR,
    S_TOKEN_REVOKE,
    S_GRANT_REVOKE,
    S_JTI_REVOKE,
    S_JTI_CHECK,
    S_SINGLE_USE_PUT,
    S_KEY_PUT,
    S_KEY_LIST,
    S_GC,
    S_USER_GET,
    S_USER_GET_BY_NAME,
    S_USER_PUT,
    S_USER_DELETE,
    S_USER_LIST,
    S_CONSENT_GET,
    S_CONSENT_PUT,
    S_CONSENT_DELETE,
    S_CONSENT_DELETE_ALL,
    S_CONSENT_LIST,
    S_TOKEN_REVOKE_SUB,
    S_TOKEN_LIST_SUB,
    S_TOKEN_REVOKE_CLIENT,
    S_TOKEN_SCAN,
    S_JTI_SCAN,
    S__COUNT
};

#define CLIENT_COLS                                                                                         \
    "client_id, secret_hash, metadata, from_config, created_at, updated_at, secret_enc, origin, reg_token_hash"
#define TOKEN_COLS                                                                                          \
    "hash, kind, client_id, sub, scope, aud, jti, grant_id, data, iat, exp, revoked_at, consumed_at"
/* What a read returns: the columns token_put writes, then the rotation columns. */
#define TOKEN_READ_COLS TOKEN_COLS ", successor, retried_at"
#define KEY_COLS "kid, alg, priv_enc, public_jwk, created_at, sign_from, retired_at, unpublish_at"
#define USER_COLS                                                                                            \
    "id, username, password_hash, claims, disabled, from_config, created_at, updated_at, config_pw_mac"
#define CONSENT_COLS "user_id, client_id, scope, resources, created_at, updated_at"

/* Parameter types are inferred by the server from where each $n appears. Statements that only read are
 * marked: a read that fails because the connection was lost is retried once on a new connection (outside
 * a group); a write never is, as it may have been applied. */
static const struct {
    const char *sql;
    bool reads;
} stmts[S__COUNT] = {
    [S_BEGIN] = {"BEGIN", false},
    [S_COMMIT] = {"COMMIT", false},
    [S_ROLLBACK] = {"ROLLBACK", false},
    [S_SAVEPOINT] = {"SAVEPOINT store_op", false},
    [S_RELEASE] = {"RELEASE SAVEPOINT store_op", false},
    [S_ROLLBACK_TO] = {"ROLLBACK TO SAVEPOINT store_op", false},
    [S_PING] = {"SELECT 1", true},
    [S_STORE_ID] = {"SELECT value FROM store_meta WHERE key = 'store_id'", true},
    [S_LOCK_KEYS] = {"SELECT pg_advisory_xact_lock(" LOCK_KEYS ")", false},
    [S_CLIENT_GET] = {"SELECT " CLIENT_COLS " FROM clients WHERE client_id = $1", true},
    [S_CLIENT_PUT] = {"INSERT INTO clients (" CLIENT_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                      " ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash,"
                      " secret_enc = excluded.secret_enc, metadata = excluded.metadata, from_config = excluded.from_config,"
                      " origin = excluded.origin, reg_token_hash = excluded.reg_token_hash,"
                      " updated_at = excluded.updated_at",
                      false},
    [S_CLIENT_DELETE] = {"DELETE FROM clients WHERE client_id = $1", false},
    [S_CLIENT_LIST] = {"SELECT " CLIENT_COLS " FROM clients ORDER BY client_id COLLATE \"C\"", true},
    /* The value of member $1 is the string $2, or an array or an object with $2 among its string values
     * (what SQLite's json_each finds); metadata that is not JSON counts as no member (migration 2). */
    [S_CLIENT_META_HAS] = {"SELECT EXISTS (SELECT 1 FROM clients c"
                           " CROSS JOIN LATERAL (SELECT ostiary_try_jsonb(c.metadata) -> $1::text AS v) m"
                           " WHERE CASE jsonb_typeof(m.v)"
                           " WHEN 'string' THEN m.v #>> '{}' = $2::text"
                           " WHEN 'array' THEN m.v @> jsonb_build_array($2::text)"
                           " WHEN 'object' THEN EXISTS (SELECT 1 FROM jsonb_each(m.v) e"
                           "  WHERE jsonb_typeof(e.value) = 'string' AND e.value #>> '{}' = $2::text)"
                           " ELSE false END)",
                           true},
    [S_TOKEN_PUT] = {"INSERT INTO tokens (" TOKEN_COLS ")"
                     " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                     false},
    [S_TOKEN_GET] = {"SELECT " TOKEN_READ_COLS " FROM tokens WHERE hash = $1", true},
    /* The token's columns, then the user's (NULL when there is none). */
    [S_TOKEN_GET_USER] = {"SELECT t.hash, t.kind, t.client_id, t.sub, t.scope, t.aud, t.jti, t.grant_id, t.data,"
                          " t.iat, t.exp, t.revoked_at, t.consumed_at, t.successor, t.retried_at,"
                          " u.id, u.username, u.password_hash, u.claims, u.disabled, u.from_config,"
                          " u.created_at, u.updated_at, u.config_pw_mac"
                          " FROM tokens t LEFT JOIN users u ON u.id = t.sub WHERE t.hash = $1",
                          true},
    /* The function of migration 1: `won`, then the token's columns; no row when there is no token. */
    [S_TOKEN_CONSUME] = {"SELECT won, " TOKEN_READ_COLS " FROM ostiary_token_consume($1, $2, $3)", false},
    /* The function of migration 8: the consumed row, or an error (OS001: consumed already; P0002). */
    [S_TOKEN_REDEEM] = {"SELECT " TOKEN_READ_COLS " FROM ostiary_token_redeem($1, $2, $3, $4)", false},
    [S_TOKEN_SET_SUCCESSOR] = {"SELECT ostiary_token_set_successor($1, $2, $3)", false},
    [S_TOKEN_REVOKE] = {"UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at = 0", false},
    /* $4 NULL: a denial (revoked); else an approval. One statement: the UPDATE decides (a concurrent
     * settler waits for the row lock, then finds the row settled and changes nothing); the second count, of
     * the statement's snapshot, tells a row that exists unexpired (CONFLICT) from none (NOTFOUND). */
    [S_TOKEN_SETTLE] = {"WITH s AS (UPDATE tokens SET sub = $4::text,"
                        " scope = CASE WHEN $4::text IS NULL THEN scope ELSE $5::text END,"
                        " data = CASE WHEN $4::text IS NULL THEN data ELSE $6::text END,"
                        " revoked_at = CASE WHEN $4::text IS NULL THEN $1::bigint ELSE 0 END"
                        " WHERE hash = $2 AND kind = $3 AND sub IS NULL AND revoked_at = 0 AND consumed_at = 0"
                        " AND exp > $1::bigint RETURNING 1)"
                        " SELECT (SELECT count(*) FROM s),"
                        " (SELECT count(*) FROM tokens WHERE hash = $2 AND kind = $3 AND exp > $1::bigint)",
                        false},
    /* The function of migration 1: one family's revocations take turns (no deadlock between them). */
    [S_GRANT_REVOKE] = {"SELECT ostiary_grant_revoke($2, $1)", false},
    [S_JTI_REVOKE] = {"INSERT INTO revoked_jti (jti, exp) VALUES ($1, $2)"
                      " ON CONFLICT (jti) DO UPDATE SET exp = greatest(revoked_jti.exp, excluded.exp)",
                      false},
    [S_JTI_CHECK] = {"SELECT 1 FROM revoked_jti WHERE jti = $1", true},
    /* Inserts, or takes over a record that has expired. A concurrent insert of the same key waits for the
     * first to commit, then finds its live record: no row changed, the conflict. */
    [S_SINGLE_USE_PUT] = {"INSERT INTO single_use (key, exp) VALUES ($1, $2)"
                          " ON CONFLICT (key) DO UPDATE SET exp = excluded.exp WHERE single_use.exp <= $3",
                          false},
    [S_KEY_PUT] = {"INSERT INTO keys (" KEY_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                   " ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, priv_enc = excluded.priv_enc,"
                   " public_jwk = excluded.public_jwk, sign_from = excluded.sign_from,"
                   " retired_at = excluded.retired_at, unpublish_at = excluded.unpublish_at",
                   false},
    [S_KEY_LIST] = {"SELECT " KEY_COLS " FROM keys ORDER BY created_at, kid COLLATE \"C\"", true},
    [S_GC] = {"SELECT ostiary_gc($1, $2, " LOCK_GC ")", false},
    [S_USER_GET] = {"SELECT " USER_COLS " FROM users WHERE id = $1", true},
    [S_USER_GET_BY_NAME] = {"SELECT " USER_COLS " FROM users WHERE username = $1", true},
    [S_USER_PUT] = {"INSERT INTO users (" USER_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                    " password_hash = excluded.password_hash, claims = excluded.claims,"
                    " disabled = excluded.disabled, from_config = excluded.from_config,"
                    " updated_at = excluded.updated_at, config_pw_mac = excluded.config_pw_mac",
                    false},
    [S_USER_DELETE] = {"DELETE FROM users WHERE id = $1", false},
    [S_USER_LIST] = {"SELECT " USER_COLS " FROM users ORDER BY username COLLATE \"C\"", true},
    [S_CONSENT_GET] = {"SELECT " CONSENT_COLS " FROM consents WHERE user_id = $1 AND client_id = $2", true},
    [S_CONSENT_PUT] = {"INSERT INTO consents (" CONSENT_COLS ") VALUES ($1, $2, $3, $4, $5, $6)"
                       " ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,"
                       " resources = excluded.resources, updated_at = excluded.updated_at",
                       false},
    [S_CONSENT_DELETE] = {"DELETE FROM consents WHERE user_id = $1 AND client_id = $2", false},
    [S_CONSENT_DELETE_ALL] = {"DELETE FROM consents WHERE user_id = $1", false},
    [S_CONSENT_LIST] = {"SELECT " CONSENT_COLS " FROM consents WHERE user_id = $1"
                        " ORDER BY client_id COLLATE \"C\"",
                        true},
    [S_TOKEN_REVOKE_SUB] = {"UPDATE tokens SET revoked_at = $1 WHERE sub = $2 AND kind = $3 AND revoked_at = 0"
                            " AND exp > $1",
                            false},
    /* tokens_sub again; at most $4 rows, oldest first. */
    [S_TOKEN_LIST_SUB] = {"SELECT " TOKEN_READ_COLS " FROM tokens WHERE sub = $1 AND kind = $2"
                          " AND revoked_at = 0 AND exp > $3 ORDER BY iat, hash LIMIT $4",
                          true},
    /* The partial index tokens_client (migration 4): the same condition on grant_id. */
    [S_TOKEN_REVOKE_CLIENT] = {"UPDATE tokens SET revoked_at = $1 WHERE client_id = $2"
                               " AND grant_id IS NOT NULL AND revoked_at = 0 AND exp > $1",
                               false},
    /* Pages in primary-key order; the empty bytea sorts before every hash (the first page). */
    [S_TOKEN_SCAN] = {"SELECT " TOKEN_READ_COLS " FROM tokens WHERE hash > $1 AND exp > $2 AND revoked_at = 0"
                      " ORDER BY hash LIMIT $3",
                      true},
    [S_JTI_SCAN] = {"SELECT jti, exp FROM revoked_jti WHERE jti > $1 COLLATE \"C\" AND exp >= $2"
                    " ORDER BY jti COLLATE \"C\" LIMIT $3",
                    true},
};

struct pg_conn {
    struct store_conn base; /* first: store.h dispatches through base.st */
    struct pg_store *st;
    PGconn *pg;             /* NULL while disconnected */
    bool prepared;          /* every statement of stmts[] is prepared on pg */
    int64_t retry_at_ms;    /* no connection attempt before this (after a failed one) */
    struct errbuf last_err; /* why the last connection attempt failed, repeated until the next one */
    /* A caller's group: BEGIN is sent with its first statement (tx_started), and a failure inside it that
     * aborted the server's transaction makes every later call fail until the group ends, with tx_failed:
     * ERR_UNAVAILABLE if the connection was lost (the client may retry), else ERR_FAIL; 0 while fine. */
    bool in_tx, tx_started;
    int tx_failed;
    /* Statements sent in the current pipeline whose results are not read yet, in order; deferred[i] marks
     * a token_put the caller was told succeeded (its failure belongs to a later call). */
    int nq;
    enum stmt_id queued[MAX_QUEUED];
    bool deferred[MAX_QUEUED];
    enum stmt_id failed; /* the statement whose failure the last flush() reported, else S__COUNT */
};

/* Statement parameters: text, except bytea (binary, raw bytes). Numbers are formatted into num[]. */
struct params {
    int n;
    const char *v[MAX_PARAMS];
    int len[MAX_PARAMS];
    int fmt[MAX_PARAMS];
    char num[MAX_PARAMS][24];
};

static struct pg_conn *conn_of(struct store_conn *c)
{
    return (struct pg_conn *)c;
}

static void oom(void)
{
    fputs("ostiary: postgres: out of memory\n", stderr);
    abort();
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void p_text(struct params *p, const char *s)
{
    p->v[p->n] = s; /* NULL is SQL NULL */
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

static void p_i64(struct params *p, int64_t x)
{
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)x);
    p_text(p, p->num[p->n]);
}

static void p_bool(struct params *p, bool b)
{
    p_text(p, b ? "t" : "f");
}

static void p_bytes(struct params *p, const void *b, size_t n)
{
    p->v[p->n] = b != NULL ? b : ""; /* a zero-length value, not NULL */
    p->len[p->n] = (int)n;
    p->fmt[p->n] = 1;
    p->n++;
}

/* Copies msg into err without a trailing newline (libpq's messages end with one), prefixed by what. */
static void set_err(struct errbuf *err, const char *what, const char *msg)
{
    if (err == NULL)
        return;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    errbuf_set(err, "postgres: %s: %.*s", what, (int)n, msg);
}

/* ---- connections ---- */

static void disconnect(struct pg_conn *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    c->prepared = false;
    c->nq = 0;
}

/* True if the server closed an idle connection (a restart, an administrator's pg_terminate_backend, an
 * idle timeout): it sent its goodbye and EOF, which wait unread in the socket. Checked before sending,
 * so that such a connection is replaced before a statement is lost on it: no write is ever in doubt for
 * that reason. Costs one poll(2) with no timeout. An idle connection has nothing to say otherwise (we
 * LISTEN to nothing), so anything readable means it is ending; at worst a rare notice costs a reconnect. */
static bool closed_by_server(struct pg_conn *c)
{
    struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
    if (pfd.fd < 0)
        return true;
    return poll(&pfd, 1, 0) != 0;
}

/* Notices (e.g. "relation already exists, skipping") are not errors and must not reach stderr. */
static void ignore_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Opens a connection (blocking, at most connect_timeout). Earlier keywords are defaults, which the DSN
 * (expanded from dbname) overrides: connect and TCP timeouts, the application name seen in
 * pg_stat_activity, and bytea_output = hex, the text form col_hash() reads (PostgreSQL's default). */
static PGconn *connect_db(struct pg_store *st, const char *app)
{
    static const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "application_name", "options",
                                       "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT_S, TCP_USER_TIMEOUT_MS, app, "-c bytea_output=hex", st->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL)
        oom();
    return pg;
}

static int prepare_all(struct pg_conn *c, struct errbuf *err);

static void count_trip(struct pg_conn *c)
{
    atomic_fetch_add_explicit(&c->st->round_trips, 1, memory_order_relaxed);
}

/* Makes sure c has a live connection with its statements prepared. Inside a started group a lost
 * connection cannot be replaced (the server rolled the group back): ERR_UNAVAILABLE. */
static int ensure(struct pg_conn *c, struct errbuf *err)
{
    if (c->pg != NULL && c->nq == 0 && PQstatus(c->pg) == CONNECTION_OK && closed_by_server(c))
        disconnect(c);
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK)
        return c->prepared ? 0 : prepare_all(c, err);
    disconnect(c);
    if (c->tx_started) {
        c->tx_failed = ERR_UNAVAILABLE;
        if (err != NULL)
            errbuf_set(err, "postgres: the connection was lost inside a transaction (rolled back)");
        return ERR_UNAVAILABLE;
    }
    int64_t now = mono_ms();
    if (now < c->retry_at_ms) {
        if (err != NULL)
            errbuf_set(err, "%s (next attempt within %d ms)", c->last_err.msg, RETRY_MS);
        return ERR_UNAVAILABLE;
    }
    c->pg = connect_db(c->st, "ostiary");
    count_trip(c);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char what[600];
        snprintf(what, sizeof(what), "cannot connect to %s", c->st->shown);
        set_err(&c->last_err, what, PQerrorMessage(c->pg));
        if (err != NULL)
            *err = c->last_err;
        disconnect(c);
        c->retry_at_ms = now + RETRY_MS;
        return ERR_UNAVAILABLE;
    }
    PQsetNoticeProcessor(c->pg, ignore_notice, NULL);
    return prepare_all(c, err);
}

/* Maps a failed result (or, r NULL, the connection's error) to our codes. A lost connection, or a server
 * that is shutting down, starting or out of connections, is ERR_UNAVAILABLE (and the connection is dropped,
 * to be replaced by the next call); a unique violation ERR_CONFLICT; anything else ERR_FAIL. */
static int classify(struct pg_conn *c, const PGresult *r, const char *what, struct errbuf *err)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg == NULL)
        msg = c->pg != NULL ? PQerrorMessage(c->pg) : "no connection";
    set_err(err, what, msg);
    bool lost = c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK;
    if (lost || state == NULL || strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 || strcmp(state, "53300") == 0) {
        if (c->tx_started)
            c->tx_failed = ERR_UNAVAILABLE;
        disconnect(c);
        return ERR_UNAVAILABLE;
    }
    if (strcmp(state, "23505") == 0)
        return ERR_CONFLICT;
    if (strcmp(state, "P0002") == 0) /* no_data_found, raised by ostiary_token_set_successor and _redeem */
        return ERR_NOTFOUND;
    if (strcmp(state, "OS001") == 0) /* raised by ostiary_token_redeem: the row was consumed already */
        return ERR_CONFLICT;
    return ERR_FAIL;
}

static int flush(struct pg_conn *c, PGresult **last, struct errbuf *err);

/* Sends statement id in pipeline mode, preceded by the group's BEGIN if this is its first statement. Its
 * result is read by flush(). */
static int send_stmt(struct pg_conn *c, enum stmt_id id, const struct params *p, bool deferred,
                     struct errbuf *err)
{
    if (c->nq + 2 > MAX_QUEUED) {
        /* Many deferred writes in one group: read what is pending before sending more. */
        int rc = flush(c, NULL, err);
        if (rc != 0)
            return rc;
    }
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF && PQenterPipelineMode(c->pg) != 1)
        return classify(c, NULL, "pipeline", err);
    char name[16];
    if (c->in_tx && !c->tx_started) {
        snprintf(name, sizeof(name), "s%d", (int)S_BEGIN);
        if (PQsendQueryPrepared(c->pg, name, 0, NULL, NULL, NULL, 0) != 1)
            return classify(c, NULL, "begin", err);
        c->deferred[c->nq] = false;
        c->queued[c->nq++] = S_BEGIN;
        c->tx_started = true;
    }
    snprintf(name, sizeof(name), "s%d", (int)id);
    if (PQsendQueryPrepared(c->pg, name, p != NULL ? p->n : 0, p != NULL ? p->v : NULL,
                            p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0) != 1)
        return classify(c, NULL, stmts[id].sql, err);
    c->deferred[c->nq] = deferred;
    c->queued[c->nq++] = id;
    return 0;
}

/* Ends the pipeline with a Sync and reads the result of every queued statement, in order. The last one's
 * result goes to *last (the caller clears it) when everything succeeded. The first failure decides the
 * return value; in pipeline mode the server skips what follows it up to the Sync. A failed deferred
 * token_put is reported as ERR_CONFLICT (a duplicate) or ERR_FAIL by this flush, as it is no longer the
 * caller's current call; inside a group it leaves the group failed. */
static int flush(struct pg_conn *c, PGresult **last, struct errbuf *err)
{
    int rc = 0;
    if (last != NULL)
        *last = NULL;
    c->failed = S__COUNT;
    if (PQpipelineSync(c->pg) != 1) {
        rc = classify(c, NULL, "sync", err);
        c->nq = 0;
        return rc;
    }
    count_trip(c);
    int nq = c->nq;
    c->nq = 0;
    for (int i = 0; i < nq; i++) {
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) { /* no result at all: the connection is gone */
            return rc != 0 ? rc : classify(c, NULL, stmts[c->queued[i]].sql, err);
        }
        PGresult *extra; /* each statement's results end with a NULL */
        while ((extra = PQgetResult(c->pg)) != NULL)
            PQclear(extra);
        ExecStatusType s = PQresultStatus(r);
        if (rc == 0 && s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            c->failed = c->queued[i];
            rc = classify(c, r, stmts[c->queued[i]].sql, err);
            /* A deferred write that failed: COMMIT reports it as it is; any other call says ERR_FAIL, so
             * that nobody mistakes it for that call's own CONFLICT (a consumed code, say). */
            if (c->deferred[i] && rc != ERR_UNAVAILABLE && i != nq - 1) {
                set_err(err, "a write sent with a later call of this transaction", PQresultErrorMessage(r));
                if (c->queued[nq - 1] != S_COMMIT)
                    rc = ERR_FAIL;
            }
            if (c->in_tx && c->tx_started && c->tx_failed == 0)
                c->tx_failed = rc == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_FAIL;
            if (c->pg == NULL) { /* classify dropped the lost connection; the result is still ours */
                PQclear(r);
                return rc;
            }
        }
        if (rc == 0 && last != NULL && i == nq - 1)
            *last = r;
        else
            PQclear(r);
    }
    PGresult *sync = PQgetResult(c->pg);
    bool synced = sync != NULL && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    if (!synced || PQexitPipelineMode(c->pg) != 1) {
        if (last != NULL && *last != NULL) {
            PQclear(*last);
            *last = NULL;
        }
        return rc != 0 ? rc : classify(c, NULL, "sync", err);
    }
    return rc;
}

/* Prepares every statement in one pipeline: one round trip per new connection. */
static int prepare_all(struct pg_conn *c, struct errbuf *err)
{
    if (PQenterPipelineMode(c->pg) != 1)
        return classify(c, NULL, "pipeline", err);
    char name[16];
    for (int i = 0; i < S__COUNT; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        if (PQsendPrepare(c->pg, name, stmts[i].sql, 0, NULL) != 1)
            return classify(c, NULL, "prepare", err);
        c->deferred[i] = false;
        c->queued[i] = (enum stmt_id)i;
    }
    c->nq = S__COUNT;
    int rc = flush(c, NULL, err);
    if (rc == 0)
        c->prepared = true;
    else if (rc == ERR_FAIL && c->pg != NULL) /* e.g. the schema is not migrated: say so, keep trying */
        disconnect(c);
    return rc;
}

/* Runs statement id and returns its result in *res (caller clears), or queues it when `defer` allows (a
 * token write inside a group). Reads outside a group that lose their connection are retried once on a
 * new one. */
static int run(struct pg_conn *c, enum stmt_id id, const struct params *p, PGresult **res, struct errbuf *err)
{
    *res = NULL;
    for (int attempt = 0;; attempt++) {
        if (c->in_tx && c->tx_failed != 0) {
            set_err(err, stmts[id].sql, "an earlier statement of this transaction failed; it is rolled back");
            return c->tx_failed;
        }
        int rc = ensure(c, err);
        if (rc == 0)
            rc = send_stmt(c, id, p, false, err);
        if (rc == 0)
            rc = flush(c, res, err);
        if (rc == ERR_UNAVAILABLE && attempt == 0 && stmts[id].reads && !c->in_tx)
            continue;
        return rc;
    }
}

/* A token write inside a group: sent now, its result read with the group's next statement or COMMIT. */
static int run_deferred(struct pg_conn *c, enum stmt_id id, const struct params *p, struct errbuf *err)
{
    if (c->tx_failed != 0) {
        set_err(err, stmts[id].sql, "an earlier statement of this transaction failed; it is rolled back");
        return c->tx_failed;
    }
    int rc = ensure(c, err);
    if (rc == 0)
        rc = send_stmt(c, id, p, true, err);
    return rc;
}

/* A statement that returns no rows; *changes (may be NULL) gets the number of rows it changed. */
static int run_cmd(struct pg_conn *c, enum stmt_id id, const struct params *p, int *changes, struct errbuf *err)
{
    PGresult *r;
    int rc = run(c, id, p, &r, err);
    if (changes != NULL)
        *changes = rc == 0 ? (int)strtol(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return rc;
}

/* ---- reading columns (text format) ---- */

static const char *col_text(const PGresult *r, int row, int col, struct arena *a)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return arena_strndup(a, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static bool col_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

/* bytea in text format is "\x" and hex (bytea_output = hex, the default since PostgreSQL 9.0). Decodes
 * into out (room for *n bytes); *n gets the length. false if the text is not that. */
static bool unhex(const char *s, size_t len, unsigned char *out, size_t *n)
{
    if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len - 2) % 2 != 0 || (len - 2) / 2 > *n)
        return false;
    size_t m = (len - 2) / 2;
    for (size_t i = 0; i < m; i++) {
        int hi = hex_val(s[2 + 2 * i]), lo = hex_val(s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    *n = m;
    return true;
}

static bool col_hash(const PGresult *r, int row, int col, uint8_t out[STORE_HASH_LEN])
{
    size_t n = STORE_HASH_LEN;
    if (PQgetisnull(r, row, col) ||
        !unhex(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col), out, &n) || n != STORE_HASH_LEN) {
        memset(out, 0, STORE_HASH_LEN);
        return false;
    }
    return true;
}

static const unsigned char *col_blob(const PGresult *r, int row, int col, struct arena *a, size_t *n)
{
    size_t len = (size_t)PQgetlength(r, row, col);
    *n = len / 2;
    unsigned char *out = arena_alloc(a, *n + 1);
    if (!unhex(PQgetvalue(r, row, col), len, out, n))
        *n = 0;
    return out;
}

static void *grow(struct arena *a, void *old, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return old;
    size_t ncap = *cap == 0 ? 8 : *cap * 2;
    void *p = arena_alloc(a, ncap * elem);
    if (n > 0)
        memcpy(p, old, n * elem);
    *cap = ncap;
    return p;
}

static void read_client(const PGresult *r, int i, struct arena *a, void *outp)
{
    struct store_client *out = outp;
    memset(out, 0, sizeof(*out));
    out->client_id = col_text(r, i, 0, a);
    out->has_secret = col_hash(r, i, 1, out->secret_hash);
    out->metadata = col_text(r, i, 2, a);
    out->from_config = col_bool(r, i, 3);
    out->created_at = col_i64(r, i, 4);
    out->updated_at = col_i64(r, i, 5);
    if (!PQgetisnull(r, i, 6))
        out->secret_enc = col_blob(r, i, 6, a, &out->secret_enc_len);
    out->origin = col_text(r, i, 7, a);
    out->has_reg_token = col_hash(r, i, 8, out->reg_token_hash);
}

/* The token columns start at `col` (1 after consume's `won`). */
static void read_token_at(const PGresult *r, int i, int col, struct arena *a, struct store_token *out)
{
    memset(out, 0, sizeof(*out));
    col_hash(r, i, col, out->hash);
    out->kind = (int)col_i64(r, i, col + 1);
    out->client_id = col_text(r, i, col + 2, a);
    out->sub = col_text(r, i, col + 3, a);
    out->scope = col_text(r, i, col + 4, a);
    out->aud = col_text(r, i, col + 5, a);
    out->jti = col_text(r, i, col + 6, a);
    out->grant_id = col_text(r, i, col + 7, a);
    out->data = col_text(r, i, col + 8, a);
    out->iat = col_i64(r, i, col + 9);
    out->exp = col_i64(r, i, col + 10);
    out->revoked_at = col_i64(r, i, col + 11);
    out->consumed_at = col_i64(r, i, col + 12);
    out->has_successor = col_hash(r, i, col + 13, out->successor);
    out->retried_at = col_i64(r, i, col + 14);
}

static void read_token(const PGresult *r, int i, struct arena *a, void *out)
{
    read_token_at(r, i, 0, a, out);
}

static void read_key(const PGresult *r, int i, struct arena *a, void *outp)
{
    struct store_key *out = outp;
    memset(out, 0, sizeof(*out));
    out->kid = col_text(r, i, 0, a);
    out->alg = col_text(r, i, 1, a);
    out->priv_enc = col_blob(r, i, 2, a, &out->priv_enc_len);
    out->public_jwk = col_text(r, i, 3, a);
    out->created_at = col_i64(r, i, 4);
    out->sign_from = col_i64(r, i, 5);
    out->retired_at = col_i64(r, i, 6);
    out->unpublish_at = col_i64(r, i, 7);
}

/* The user columns start at `col` (15 after token_get_user's token columns). */
static void read_user_at(const PGresult *r, int i, int col, struct arena *a, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    out->id = col_text(r, i, col, a);
    out->username = col_text(r, i, col + 1, a);
    out->password_hash = col_text(r, i, col + 2, a);
    out->claims = col_text(r, i, col + 3, a);
    out->disabled = col_bool(r, i, col + 4);
    out->from_config = col_bool(r, i, col + 5);
    out->created_at = col_i64(r, i, col + 6);
    out->updated_at = col_i64(r, i, col + 7);
    out->config_pw_mac = col_text(r, i, col + 8, a);
}

static void read_user(const PGresult *r, int i, struct arena *a, void *out)
{
    read_user_at(r, i, 0, a, out);
}

static void read_consent(const PGresult *r, int i, struct arena *a, void *outp)
{
    struct store_consent *out = outp;
    memset(out, 0, sizeof(*out));
    out->user_id = col_text(r, i, 0, a);
    out->client_id = col_text(r, i, 1, a);
    out->scope = col_text(r, i, 2, a);
    out->resources = col_text(r, i, 3, a);
    out->created_at = col_i64(r, i, 4);
    out->updated_at = col_i64(r, i, 5);
}

typedef void (*read_fn)(const PGresult *r, int i, struct arena *a, void *out);

/* A single-row SELECT: 0 with the row read by `read`, ERR_NOTFOUND, or the failure. */
static int select_one(struct pg_conn *c, enum stmt_id id, const struct params *p, struct arena *a, read_fn read,
                      void *out, struct errbuf *err)
{
    PGresult *r;
    int rc = run(c, id, p, &r, err);
    if (rc == 0) {
        if (PQntuples(r) > 0)
            read(r, 0, a, out);
        else
            rc = ERR_NOTFOUND;
    }
    PQclear(r);
    return rc;
}

/* A SELECT of any number of rows into an arena array of `elem`-sized records. */
static int select_all(struct pg_conn *c, enum stmt_id id, const struct params *p, struct arena *a, read_fn read,
                      size_t elem, void **out, size_t *n, struct errbuf *err)
{
    *out = NULL;
    *n = 0;
    PGresult *r;
    int rc = run(c, id, p, &r, err);
    if (rc == 0) {
        int rows = PQntuples(r);
        size_t cap = 0;
        char *v = NULL;
        for (int i = 0; i < rows; i++) {
            v = grow(a, v, (size_t)i, &cap, elem);
            read(r, i, a, v + (size_t)i * elem);
        }
        *out = v;
        *n = (size_t)rows;
    }
    PQclear(r);
    return rc;
}

/* ---- store ---- */

/* flags: STORE_OPEN_CREATE changes nothing here. The server holds the database, so there is no file to find
 * missing at start and no marker to adopt; a database that is gone fails to connect, and one replaced
 * while serving is noticed by store_check. */
static int pg_open(const char *dsn, unsigned flags, struct store **out, struct errbuf *err)
{
    (void)flags;
    if (PQlibVersion() < 140000) {
        errbuf_set(err, "postgres: libpq %d is too old (need 14 or later: pipeline mode)", PQlibVersion());
        return ERR_FAIL;
    }
    size_t n = strlen(dsn);
    if (n < 2 || dsn[0] != '/' || dsn[1] != '/') {
        errbuf_set(err, "postgres: expected a URI: postgres://user:password@host:port/database (or postgres:// "
                   "with the PG* environment variables)");
        return ERR_INVALID;
    }
    struct pg_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        oom();
    st->base.ops = &store_postgres_ops;
    st->conninfo = malloc(n + 12);
    if (st->conninfo == NULL)
        oom();
    snprintf(st->conninfo, n + 12, "postgresql:%s", dsn);
    /* Parse it now, so that a malformed URI fails at start, not at the first request. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(st->conninfo, &perr);
    struct arena *a = arena_new(1024);
    st->shown = strdup(store_dsn_redacted(a, st->conninfo));
    arena_free(a);
    if (st->shown == NULL)
        oom();
    if (opts == NULL) {
        /* libpq's parse errors name the offending part, not the value: safe to show. */
        set_err(err, st->shown, perr != NULL ? perr : "invalid connection URI");
        PQfreemem(perr);
        free(st->conninfo);
        free(st->shown);
        free(st);
        return ERR_INVALID;
    }
    PQconninfoFree(opts);
    *out = &st->base;
    return 0;
}

static void pg_close(struct store *base)
{
    if (base == NULL)
        return;
    struct pg_store *st = (struct pg_store *)base;
    free(st->conninfo);
    free(st->shown);
    free(st->store_id);
    free(st);
}

static int pg_conn_open(struct store *base, struct store_conn **out, struct errbuf *err)
{
    struct pg_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        oom();
    c->base.st = base;
    c->st = (struct pg_store *)base;
    /* Connect now if we can; if the database is down, the connection is made by a later call (each
     * fails with ERR_UNAVAILABLE meanwhile), so that a worker starts, answers 503 and recovers by itself. */
    struct errbuf ignored;
    ensure(c, &ignored);
    (void)err;
    *out = &c->base;
    return 0;
}

static void pg_rollback(struct store_conn *base);

static void pg_conn_close(struct store_conn *base)
{
    if (base == NULL)
        return;
    struct pg_conn *c = conn_of(base);
    if (c->in_tx)
        pg_rollback(base);
    disconnect(c);
    free(c);
}

/* The database is still the one store_migrate found: the same store_id. Only a proof of the contrary is a
 * loss (the caller stops serving for good): another id, no id, or no store_meta table (a database
 * recreated without our schema). An outage or any other error proves nothing: 0, and ping reports it. */
static int pg_check(struct store_conn *base, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    if (c->st->store_id == NULL || c->in_tx)
        return 0;
    PGresult *r;
    struct errbuf e;
    int rc = run(c, S_STORE_ID, NULL, &r, &e);
    int ret = 0;
    if (rc == 0 && (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), c->st->store_id) != 0)) {
        errbuf_set(err, "postgres: %s is not the store this server started on (store_id %s, now %s): the "
                   "database was replaced", c->st->shown, c->st->store_id,
                   PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "none");
        ret = ERR_FAIL;
    } else if (rc == ERR_FAIL && strstr(e.msg, "store_meta") != NULL && strstr(e.msg, "does not exist") != NULL) {
        errbuf_set(err, "postgres: %s has no Ostiary schema any more (%s): the database was replaced",
                   c->st->shown, e.msg);
        ret = ERR_FAIL;
    }
    PQclear(r);
    return ret;
}

static uint64_t pg_round_trips(struct store *base)
{
    return atomic_load_explicit(&((struct pg_store *)base)->round_trips, memory_order_relaxed);
}

/* Each read is a statement of its own on the server, a round trip whatever the snapshot: nothing to share
 * (store_ops.loop_reads). */
static void pg_loop_reads(struct store_conn *base)
{
    (void)base;
}

static void pg_turn_end(struct store_conn *base)
{
    (void)base;
}

static int pg_ping(struct store_conn *base, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    if (c->in_tx)
        return 0;
    return run_cmd(c, S_PING, NULL, NULL, err);
}

/* A plain statement on a connection in normal (non-pipeline) mode; for migrations and cleanup. */
static int exec_simple(struct pg_conn *c, const char *sql, const char *what, struct errbuf *err)
{
    PGresult *r = PQexec(c->pg, sql);
    count_trip(c);
    ExecStatusType s = PQresultStatus(r);
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : classify(c, r, what, err);
    PQclear(r);
    return rc;
}

static int schema_version(struct pg_conn *c, int64_t *version, struct errbuf *err)
{
    PGresult *r = PQexec(c->pg, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    count_trip(c);
    int rc = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        *version = col_i64(r, 0, 0);
    else
        rc = classify(c, r, "read schema version", err);
    PQclear(r);
    return rc;
}

/* Applies every pending migration, each in its own transaction, under a session advisory lock: instances
 * starting together take turns, and the second finds the work done. */
static int pg_migrate(struct store *base, int *applied, struct errbuf *err)
{
    *applied = 0;
    struct pg_conn c = {.st = (struct pg_store *)base};
    c.base.st = base;
    c.pg = connect_db(c.st, "ostiary migrate");
    if (PQstatus(c.pg) != CONNECTION_OK) {
        char what[600];
        snprintf(what, sizeof(what), "cannot connect to %s", c.st->shown);
        set_err(err, what, PQerrorMessage(c.pg));
        PQfinish(c.pg);
        return ERR_UNAVAILABLE;
    }
    PQsetNoticeProcessor(c.pg, ignore_notice, NULL);
    int rc = exec_simple(&c, "SELECT pg_advisory_lock(" LOCK_MIGRATE ")", "migration lock", err);
    if (rc == 0)
        rc = exec_simple(&c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                         "create schema_migrations", err);
    for (size_t v = 1; rc == 0 && v <= postgres_migrations_count; v++) {
        int64_t cur = 0;
        rc = schema_version(&c, &cur, err);
        if (rc == 0 && cur > (int64_t)postgres_migrations_count) {
            errbuf_set(err, "postgres: database schema version %lld is newer than this build knows (%zu)",
                       (long long)cur, postgres_migrations_count);
            rc = ERR_FAIL;
        }
        if (rc != 0 || cur >= (int64_t)v)
            continue;
        char what[48];
        snprintf(what, sizeof(what), "migration %zu", v);
        rc = exec_simple(&c, "BEGIN", what, err);
        if (rc == 0)
            rc = exec_simple(&c, postgres_migrations[v - 1], what, err);
        if (rc == 0) {
            char sql[128];
            snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations (version, applied_at) VALUES (%zu, %lld)", v,
                     (long long)time(NULL));
            rc = exec_simple(&c, sql, what, err);
        }
        if (rc == 0)
            rc = exec_simple(&c, "COMMIT", what, err);
        if (rc == 0)
            (*applied)++;
        else if (c.pg != NULL)
            exec_simple(&c, "ROLLBACK", what, NULL);
    }
    /* The store's identity, for store_check while serving. */
    if (rc == 0) {
        PGresult *r = PQexec(c.pg, stmts[S_STORE_ID].sql);
        count_trip(&c);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            free(c.st->store_id);
            c.st->store_id = strdup(PQgetvalue(r, 0, 0));
            if (c.st->store_id == NULL)
                oom();
        } else {
            rc = classify(&c, r, "read store_id", err);
        }
        PQclear(r);
    }
    /* The session lock goes with the connection. */
    if (c.pg != NULL)
        PQfinish(c.pg);
    return rc;
}

/* ---- transactions ---- */

static int pg_begin(struct store_conn *base, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    if (c->in_tx) {
        errbuf_set(err, "postgres: begin: a transaction is already open on this connection");
        return ERR_FAIL;
    }
    /* Sent with the group's first statement (send_stmt): no round trip of its own. */
    c->in_tx = true;
    c->tx_started = false;
    c->tx_failed = 0;
    return 0;
}

/* Ends the group on the server if something is left of it (after an error, a pipeline skips the
 * ROLLBACK or COMMIT it carried, leaving the transaction open and aborted). */
static void tx_cleanup(struct pg_conn *c)
{
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        exec_simple(c, "ROLLBACK", "rollback", NULL);
    c->in_tx = c->tx_started = false;
    c->tx_failed = 0;
}

/* On failure the whole group is rolled back and closed, so the caller never has to call rollback. A
 * deferred token write that failed is reported here (ERR_CONFLICT for a duplicate hash). */
static int pg_commit(struct store_conn *base, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    if (!c->in_tx) {
        errbuf_set(err, "postgres: commit: no transaction is open on this connection");
        return ERR_FAIL;
    }
    int rc = 0;
    if (c->tx_failed != 0) {
        errbuf_set(err, "postgres: commit: an earlier statement of this transaction failed; rolled back");
        rc = c->tx_failed;
    } else if (c->tx_started) {
        PGresult *r = NULL;
        rc = c->pg != NULL ? send_stmt(c, S_COMMIT, NULL, false, err) : ERR_UNAVAILABLE;
        if (rc == 0)
            rc = flush(c, &r, err);
        else if (c->pg == NULL)
            errbuf_set(err, "postgres: commit: the connection was lost inside a transaction (rolled back)");
        /* COMMIT of a transaction the server had already aborted answers ROLLBACK. */
        if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0) {
            errbuf_set(err, "postgres: commit: the transaction was rolled back by the server");
            rc = ERR_FAIL;
        }
        PQclear(r);
    }
    tx_cleanup(c);
    return rc;
}

static void pg_rollback(struct store_conn *base)
{
    struct pg_conn *c = conn_of(base);
    if (!c->in_tx)
        return;
    if (c->tx_started && c->pg != NULL && send_stmt(c, S_ROLLBACK, NULL, false, NULL) == 0)
        flush(c, NULL, NULL);
    tx_cleanup(c);
}

/* ---- clients ---- */

static int pg_client_get(struct store_conn *base, struct arena *a, const char *client_id, struct store_client *out,
                         struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, client_id);
    return select_one(conn_of(base), S_CLIENT_GET, &p, a, read_client, out, err);
}

static int pg_client_put(struct store_conn *base, const struct store_client *cl, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, cl->client_id);
    if (cl->has_secret)
        p_bytes(&p, cl->secret_hash, STORE_HASH_LEN);
    else
        p_text(&p, NULL);
    p_text(&p, cl->metadata);
    p_bool(&p, cl->from_config);
    p_i64(&p, cl->created_at);
    p_i64(&p, cl->updated_at);
    if (cl->secret_enc != NULL && cl->secret_enc_len > 0)
        p_bytes(&p, cl->secret_enc, cl->secret_enc_len);
    else
        p_text(&p, NULL);
    p_text(&p, store_client_origin(cl));
    if (cl->has_reg_token)
        p_bytes(&p, cl->reg_token_hash, STORE_HASH_LEN);
    else
        p_text(&p, NULL);
    return run_cmd(conn_of(base), S_CLIENT_PUT, &p, NULL, err);
}

static int pg_client_delete(struct store_conn *base, const char *client_id, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, client_id);
    int changes = 0;
    int rc = run_cmd(conn_of(base), S_CLIENT_DELETE, &p, &changes, err);
    return rc == 0 && changes == 0 ? ERR_NOTFOUND : rc;
}

static int pg_client_list(struct store_conn *base, struct arena *a, struct store_client **out, size_t *n,
                          struct errbuf *err)
{
    return select_all(conn_of(base), S_CLIENT_LIST, NULL, a, read_client, sizeof(**out), (void **)out, n, err);
}

static int pg_client_meta_has(struct store_conn *base, const char *member, const char *value, bool *found,
                              struct errbuf *err)
{
    *found = false;
    size_t n = strlen(member);
    if (n == 0 || n > 64 || strspn(member, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
        errbuf_set(err, "postgres: client_meta_has: '%s' is not a metadata member name", member);
        return ERR_INVALID;
    }
    struct params p = {0};
    p_text(&p, member);
    p_text(&p, value);
    PGresult *r;
    int rc = run(conn_of(base), S_CLIENT_META_HAS, &p, &r, err);
    if (rc == 0)
        *found = PQntuples(r) == 1 && col_bool(r, 0, 0);
    PQclear(r);
    return rc;
}

/* ---- tokens ---- */

/* The parameters of S_TOKEN_PUT for the row t. */
static void token_put_params(struct params *p, const struct store_token *t)
{
    p->n = 0;
    p_bytes(p, t->hash, STORE_HASH_LEN);
    p_i64(p, t->kind);
    p_text(p, t->client_id);
    p_text(p, t->sub);
    p_text(p, t->scope);
    p_text(p, t->aud);
    p_text(p, t->jti);
    p_text(p, t->grant_id);
    p_text(p, t->data);
    p_i64(p, t->iat);
    p_i64(p, t->exp);
    p_i64(p, t->revoked_at);
    p_i64(p, t->consumed_at);
}

static int pg_token_put(struct store_conn *base, const struct store_token *t, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    struct params p;
    token_put_params(&p, t);
    /* Inside a group the write travels with the next statement, usually COMMIT (store.h allows it). */
    if (c->in_tx)
        return run_deferred(c, S_TOKEN_PUT, &p, err);
    return run_cmd(c, S_TOKEN_PUT, &p, NULL, err);
}

static int pg_token_get(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                        struct store_token *out, struct errbuf *err)
{
    struct params p = {0};
    p_bytes(&p, hash, STORE_HASH_LEN);
    return select_one(conn_of(base), S_TOKEN_GET, &p, a, read_token, out, err);
}

static int pg_token_get_user(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                             struct store_token *out, struct store_user *user, bool *has_user, struct errbuf *err)
{
    *has_user = false;
    struct params p = {0};
    p_bytes(&p, hash, STORE_HASH_LEN);
    PGresult *r;
    int rc = run(conn_of(base), S_TOKEN_GET_USER, &p, &r, err);
    if (rc == 0 && PQntuples(r) == 0)
        rc = ERR_NOTFOUND;
    if (rc == 0) {
        read_token_at(r, 0, 0, a, out);
        *has_user = !PQgetisnull(r, 0, 15);
        if (*has_user)
            read_user_at(r, 0, 15, a, user);
    }
    PQclear(r);
    return rc;
}

/* One statement, atomic across every instance (see ostiary_token_consume in the migrations). A consumed
 * row is a CONFLICT even once it has expired or been revoked: it is a replay (RFC 6749 §4.1.2, RFC 9700
 * §4.14.2). */
static int pg_token_consume(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                            int64_t now, struct store_token *out, struct errbuf *err)
{
    struct params p = {0};
    p_bytes(&p, hash, STORE_HASH_LEN);
    p_i64(&p, kind);
    p_i64(&p, now);
    PGresult *r;
    int rc = run(conn_of(base), S_TOKEN_CONSUME, &p, &r, err);
    memset(out, 0, sizeof(*out));
    if (rc == 0) {
        if (PQntuples(r) == 0) {
            rc = ERR_NOTFOUND;
        } else if (!col_bool(r, 0, 0)) {
            read_token_at(r, 0, 1, a, out);
            rc = out->kind == kind && out->consumed_at != 0 ? ERR_CONFLICT : ERR_NOTFOUND;
            if (rc == ERR_NOTFOUND)
                memset(out, 0, sizeof(*out)); /* never hand back a row of another kind */
        } else {
            read_token_at(r, 0, 1, a, out);
        }
    }
    PQclear(r);
    return rc;
}

/* One pipeline, one round trip, one implicit transaction (no BEGIN: the Sync that ends the pipeline commits
 * it, or rolls it back when a statement failed, the server skipping every statement after the failure):
 * the new rows first, then ostiary_token_redeem, which consumes (and links the successor) or raises. Last,
 * so that its row is the result flush() hands back; within one transaction the order changes nothing else.
 * A lost race raises OS001 and rolls the new rows back; the row the contract hands back with ERR_CONFLICT
 * is read afterwards (a second round trip, on the losing side only). */
static int pg_token_redeem(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                           int64_t now, const uint8_t *successor, const struct store_token *puts, size_t n,
                           struct store_token *out, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    memset(out, 0, sizeof(*out));
    if (c->in_tx || n + 1 > MAX_QUEUED) {
        /* More statements than one pipeline holds would make send_stmt flush, and commit, half of them. */
        errbuf_set(err, "postgres: token_redeem: %s", c->in_tx ? "not inside a transaction group" : "too many rows");
        return ERR_FAIL;
    }
    int rc = ensure(c, err);
    struct params p;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        token_put_params(&p, &puts[i]);
        rc = send_stmt(c, S_TOKEN_PUT, &p, false, err);
    }
    if (rc == 0) {
        p.n = 0;
        p_bytes(&p, hash, STORE_HASH_LEN);
        p_i64(&p, kind);
        p_i64(&p, now);
        if (successor != NULL)
            p_bytes(&p, successor, STORE_HASH_LEN);
        else
            p_text(&p, NULL);
        rc = send_stmt(c, S_TOKEN_REDEEM, &p, false, err);
    }
    if (rc != 0) {
        /* Nothing was synced: drop what was sent (never half of it committed). */
        disconnect(c);
        return rc;
    }
    PGresult *r;
    rc = flush(c, &r, err);
    if (rc == 0 && PQntuples(r) == 1)
        read_token_at(r, 0, 0, a, out);
    else if (rc == 0)
        rc = ERR_FAIL;
    PQclear(r);
    if ((rc == ERR_CONFLICT || rc == ERR_NOTFOUND) && c->failed != S_TOKEN_REDEEM)
        rc = ERR_FAIL; /* a duplicate new row, not the lost race ERR_CONFLICT means here */
    if (rc == ERR_CONFLICT) {
        int got = pg_token_get(base, a, hash, out, err);
        if (got != 0)
            rc = got;
    }
    return rc;
}

static int pg_token_settle(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN], int kind, const char *sub,
                           const char *scope, const char *data, int64_t now, struct errbuf *err)
{
    struct params p = {0};
    p_i64(&p, now);
    p_bytes(&p, hash, STORE_HASH_LEN);
    p_i64(&p, kind);
    p_text(&p, sub);
    p_text(&p, scope);
    p_text(&p, data);
    PGresult *r;
    int rc = run(conn_of(base), S_TOKEN_SETTLE, &p, &r, err);
    if (rc == 0) {
        if (col_i64(r, 0, 0) == 1)
            rc = 0;
        else
            rc = col_i64(r, 0, 1) > 0 ? ERR_CONFLICT : ERR_NOTFOUND;
    }
    PQclear(r);
    return rc;
}

/* Inside a group it travels with the group's next call or COMMIT, like a token write (store.h); a missing
 * row then fails that call (ERR_NOTFOUND from COMMIT) and the group. */
static int pg_token_set_successor(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN],
                                  const uint8_t successor[STORE_HASH_LEN], int64_t retried_at, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    struct params p = {0};
    p_bytes(&p, hash, STORE_HASH_LEN);
    p_bytes(&p, successor, STORE_HASH_LEN);
    p_i64(&p, retried_at);
    if (c->in_tx)
        return run_deferred(c, S_TOKEN_SET_SUCCESSOR, &p, err);
    return run_cmd(c, S_TOKEN_SET_SUCCESSOR, &p, NULL, err);
}

/* Revoking an unknown or already revoked token succeeds: the result is the same (RFC 7009 §2.2). */
static int pg_token_revoke(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN], int64_t now,
                           struct errbuf *err)
{
    struct params p = {0};
    p_i64(&p, now);
    p_bytes(&p, hash, STORE_HASH_LEN);
    return run_cmd(conn_of(base), S_TOKEN_REVOKE, &p, NULL, err);
}

static int pg_grant_revoke(struct store_conn *base, const char *grant_id, int64_t now, struct errbuf *err)
{
    struct params p = {0};
    p_i64(&p, now);
    p_text(&p, grant_id);
    return run_cmd(conn_of(base), S_GRANT_REVOKE, &p, NULL, err);
}

static int pg_token_revoke_sub(struct store_conn *base, const char *sub, int kind, int64_t now,
                               struct errbuf *err)
{
    struct params p = {0};
    p_i64(&p, now);
    p_text(&p, sub);
    p_i64(&p, kind);
    return run_cmd(conn_of(base), S_TOKEN_REVOKE_SUB, &p, NULL, err);
}

static int pg_token_list_sub(struct store_conn *base, struct arena *a, const char *sub, int kind, int64_t now,
                             size_t limit, struct store_token **out, size_t *n, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, sub);
    p_i64(&p, kind);
    p_i64(&p, now);
    p_i64(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    return select_all(conn_of(base), S_TOKEN_LIST_SUB, &p, a, read_token, sizeof(**out), (void **)out, n,
                      err);
}

static int pg_token_revoke_client(struct store_conn *base, const char *client_id, int64_t now,
                                  struct errbuf *err)
{
    struct params p = {0};
    p_i64(&p, now);
    p_text(&p, client_id);
    return run_cmd(conn_of(base), S_TOKEN_REVOKE_CLIENT, &p, NULL, err);
}

/* ---- single-use values ---- */

static int pg_single_use_put(struct store_conn *base, const uint8_t key[STORE_HASH_LEN], int64_t exp, int64_t now,
                             struct errbuf *err)
{
    struct params p = {0};
    p_bytes(&p, key, STORE_HASH_LEN);
    p_i64(&p, exp);
    p_i64(&p, now);
    int changes = 0;
    int rc = run_cmd(conn_of(base), S_SINGLE_USE_PUT, &p, &changes, err);
    return rc == 0 && changes == 0 ? ERR_CONFLICT : rc;
}

/* ---- revoked jtis ---- */

static int pg_jti_revoke(struct store_conn *base, const char *jti, int64_t exp, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, jti);
    p_i64(&p, exp);
    return run_cmd(conn_of(base), S_JTI_REVOKE, &p, NULL, err);
}

static int pg_jti_is_revoked(struct store_conn *base, const char *jti, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, jti);
    PGresult *r;
    int rc = run(conn_of(base), S_JTI_CHECK, &p, &r, err);
    if (rc == 0)
        rc = PQntuples(r) > 0 ? 1 : 0;
    PQclear(r);
    return rc;
}

/* ---- keys ---- */

static int pg_key_put(struct store_conn *base, const struct store_key *k, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, k->kid);
    p_text(&p, k->alg);
    p_bytes(&p, k->priv_enc, k->priv_enc_len);
    p_text(&p, k->public_jwk);
    p_i64(&p, k->created_at);
    p_i64(&p, k->sign_from);
    p_i64(&p, k->retired_at);
    p_i64(&p, k->unpublish_at);
    return run_cmd(conn_of(base), S_KEY_PUT, &p, NULL, err);
}

/* Inside a group, the advisory lock first (store.h): two instances starting at once on an empty database
 * would otherwise both see no key and both generate a set. */
static int pg_key_list(struct store_conn *base, struct arena *a, struct store_key **out, size_t *n,
                       struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    if (c->in_tx) {
        int rc = run_cmd(c, S_LOCK_KEYS, NULL, NULL, err);
        if (rc != 0) {
            *out = NULL;
            *n = 0;
            return rc;
        }
    }
    return select_all(c, S_KEY_LIST, NULL, a, read_key, sizeof(**out), (void **)out, n, err);
}

/* ---- users and consents ---- */

static int pg_user_get(struct store_conn *base, struct arena *a, const char *id, struct store_user *out,
                       struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, id);
    return select_one(conn_of(base), S_USER_GET, &p, a, read_user, out, err);
}

static int pg_user_get_by_name(struct store_conn *base, struct arena *a, const char *username,
                               struct store_user *out, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, username);
    return select_one(conn_of(base), S_USER_GET_BY_NAME, &p, a, read_user, out, err);
}

/* A username taken by another id violates its UNIQUE constraint: ERR_CONFLICT. Inside a group the
 * statement runs in a savepoint, so that the conflict leaves the group usable (store.h). */
static int pg_user_put(struct store_conn *base, const struct store_user *u, struct errbuf *err)
{
    struct pg_conn *c = conn_of(base);
    struct params p = {0};
    p_text(&p, u->id);
    p_text(&p, u->username);
    p_text(&p, u->password_hash);
    p_text(&p, u->claims != NULL ? u->claims : "{}");
    p_bool(&p, u->disabled);
    p_bool(&p, u->from_config);
    p_i64(&p, u->created_at);
    p_i64(&p, u->updated_at);
    p_text(&p, u->config_pw_mac);
    if (!c->in_tx)
        return run_cmd(c, S_USER_PUT, &p, NULL, err);
    int rc = run_deferred(c, S_SAVEPOINT, NULL, err);
    if (rc == 0)
        rc = run_cmd(c, S_USER_PUT, &p, NULL, err);
    if (rc == ERR_CONFLICT && c->pg != NULL) {
        c->tx_failed = 0; /* the savepoint undoes the failure */
        struct errbuf ignored;
        if (run_cmd(c, S_ROLLBACK_TO, NULL, NULL, &ignored) != 0)
            c->tx_failed = ERR_FAIL;
        return rc;
    }
    if (rc == 0)
        rc = run_deferred(c, S_RELEASE, NULL, err);
    return rc;
}

static int pg_user_delete(struct store_conn *base, const char *id, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, id);
    int changes = 0;
    int rc = run_cmd(conn_of(base), S_USER_DELETE, &p, &changes, err);
    return rc == 0 && changes == 0 ? ERR_NOTFOUND : rc;
}

static int pg_user_list(struct store_conn *base, struct arena *a, struct store_user **out, size_t *n,
                        struct errbuf *err)
{
    return select_all(conn_of(base), S_USER_LIST, NULL, a, read_user, sizeof(**out), (void **)out, n, err);
}

static int pg_consent_get(struct store_conn *base, struct arena *a, const char *user_id, const char *client_id,
                          struct store_consent *out, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, user_id);
    p_text(&p, client_id);
    return select_one(conn_of(base), S_CONSENT_GET, &p, a, read_consent, out, err);
}

static int pg_consent_put(struct store_conn *base, const struct store_consent *cs, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, cs->user_id);
    p_text(&p, cs->client_id);
    p_text(&p, cs->scope != NULL ? cs->scope : "");
    p_text(&p, cs->resources != NULL ? cs->resources : "");
    p_i64(&p, cs->created_at);
    p_i64(&p, cs->updated_at);
    return run_cmd(conn_of(base), S_CONSENT_PUT, &p, NULL, err);
}

/* One consent (ERR_NOTFOUND if absent), or with client_id NULL all of the user's (0 even if none). */
static int pg_consent_delete(struct store_conn *base, const char *user_id, const char *client_id,
                             struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, user_id);
    if (client_id != NULL)
        p_text(&p, client_id);
    int changes = 0;
    int rc = run_cmd(conn_of(base), client_id != NULL ? S_CONSENT_DELETE : S_CONSENT_DELETE_ALL, &p, &changes,
                     err);
    return rc == 0 && changes == 0 && client_id != NULL ? ERR_NOTFOUND : rc;
}

static int pg_consent_list(struct store_conn *base, struct arena *a, const char *user_id,
                           struct store_consent **out, size_t *n, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, user_id);
    return select_all(conn_of(base), S_CONSENT_LIST, &p, a, read_consent, sizeof(**out), (void **)out, n, err);
}

/* ---- garbage collection ---- */

/* One statement (ostiary_gc in the migrations): bounded by `limit`, and by one instance at a time thanks
 * to an advisory lock; an instance that finds it taken removes nothing this time. */
static int pg_gc(struct store_conn *base, int64_t now, int limit, int *removed, struct errbuf *err)
{
    *removed = 0;
    if (limit <= 0)
        return 0;
    struct params p = {0};
    p_i64(&p, now);
    p_i64(&p, limit);
    PGresult *r;
    int rc = run(conn_of(base), S_GC, &p, &r, err);
    if (rc == 0)
        *removed = (int)col_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* The server's write-ahead log is the database's business, shared with whatever else it serves: not
 * reported (the metrics leave the gauge out). */
static int64_t pg_wal_bytes(struct store *base)
{
    return -1;
}

/* ---- copying ---- */

static int pg_token_scan(struct store_conn *base, struct arena *a, const uint8_t *after, int64_t now, int limit,
                         struct store_token **out, size_t *n, struct errbuf *err)
{
    struct params p = {0};
    p_bytes(&p, after, after != NULL ? STORE_HASH_LEN : 0);
    p_i64(&p, now);
    p_i64(&p, limit);
    return select_all(conn_of(base), S_TOKEN_SCAN, &p, a, read_token, sizeof(**out), (void **)out, n, err);
}

static void read_jti(const PGresult *r, int i, struct arena *a, void *outp)
{
    struct store_jti *out = outp;
    out->jti = col_text(r, i, 0, a);
    out->exp = col_i64(r, i, 1);
}

static int pg_jti_scan(struct store_conn *base, struct arena *a, const char *after, int64_t now, int limit,
                       struct store_jti **out, size_t *n, struct errbuf *err)
{
    struct params p = {0};
    p_text(&p, after != NULL ? after : "");
    p_i64(&p, now);
    p_i64(&p, limit);
    return select_all(conn_of(base), S_JTI_SCAN, &p, a, read_jti, sizeof(**out), (void **)out, n, err);
}

const struct store_ops store_postgres_ops = {
    .scheme = "postgres",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .conn_open = pg_conn_open,
    .conn_close = pg_conn_close,
    .ping = pg_ping,
    .check = pg_check,
    .round_trips = pg_round_trips,
    .loop_reads = pg_loop_reads,
    .turn_end = pg_turn_end,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .client_get = pg_client_get,
    .client_put = pg_client_put,
    .client_delete = pg_client_delete,
    .client_list = pg_client_list,
    .client_meta_has = pg_client_meta_has,
    .token_put = pg_token_put,
    .token_get = pg_token_get,
    .token_get_user = pg_token_get_user,
    .token_consume = pg_token_consume,
    .token_redeem = pg_token_redeem,
    .token_set_successor = pg_token_set_successor,
    .token_revoke = pg_token_revoke,
    .token_settle = pg_token_settle,
    .grant_revoke = pg_grant_revoke,
    .single_use_put = pg_single_use_put,
    .jti_revoke = pg_jti_revoke,
    .jti_is_revoked = pg_jti_is_revoked,
    .key_put = pg_key_put,
    .key_list = pg_key_list,
    .user_get = pg_user_get,
    .user_get_by_name = pg_user_get_by_name,
    .user_put = pg_user_put,
    .user_delete = pg_user_delete,
    .user_list = pg_user_list,
    .consent_get = pg_consent_get,
    .consent_put = pg_consent_put,
    .consent_delete = pg_consent_delete,
    .consent_list = pg_consent_list,
    .token_revoke_sub = pg_token_revoke_sub,
    .token_list_sub = pg_token_list_sub,
    .token_revoke_client = pg_token_revoke_client,
    .wal_bytes = pg_wal_bytes,
    .gc = pg_gc,
    .token_scan = pg_token_scan,
    .jti_scan = pg_jti_scan,
};
