/* sqlite.c: the SQLite backend of store.h (scheme "sqlite", DSN = a file path). WAL mode, one connection
 * per thread, writes serialized in-process by one mutex, prepared statements cached per connection, WAL
 * checkpoints in a background thread (see "checkpoints" below).
 * Leaves out: in-memory databases and URI filenames (rejected), the schema itself
 * (migrations/sqlite_migrations.c). */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/arena.h"
#include "store/sqlite_walbuf.h"

#include "core/banned.h"

/* Defined in migrations/sqlite_migrations.c; entry i is schema version i + 1. */
extern const char *const sqlite_migrations[];
extern const size_t sqlite_migrations_count;

/* 3.24 brings upsert (INSERT ... ON CONFLICT DO UPDATE), prepare_v3 needs 3.20, and the WAL's VFS
 * (sqlite_walbuf.c) sqlite3_database_file_object, 3.32. */
#define SQLITE_MIN_VERSION 3032000
#define BUSY_TIMEOUT_MS 5000

/* Checkpoints (a WAL page is one frame of a database page, 2 KiB in a database made by us). A passive
 * checkpoint copies each page once, however many frames the WAL has of it: the random leaf of the token
 * hash index that each new token lands on is copied once per checkpoint rather than once per commit, so
 * fewer, larger checkpoints copy fewer pages (and sync less often). */
#define CKPT_WAKE_PAGES 4096     /* wake the checkpointer after this many new WAL pages */
#define CKPT_IDLE_MS 1000        /* ... or after this long, if anything is left to checkpoint */
#define STORE_PAGE_SIZE_S "2048" /* bytes per page of a new database file */
#define WAL_SOFT_CAP_PAGES 16384 /* 32 MiB of 2 KiB pages: the checkpointer restarts the WAL, holding write_mu */
#define WAL_HARD_CAP_PAGES 65536 /* 128 MiB: a writer restarts it itself (checkpointer stuck or absent) */
#define CKPT_BUSY_MAX_MS 200     /* how long a restart under write_mu waits for readers to move on */
#define CKPT_CATCHUP_PAGES 512   /* before a restart: catch up until fewer pages than this are left to copy */
#define CKPT_CATCHUP_ROUNDS 4    /* ... or for this many passive checkpoints at most */

struct sqlite_conn;

struct sqlite_store {
    struct store base; /* first: store.h dispatches through base.ops */
    char *path;
    /* Identity (see "identity"): the file opened, and the marker that names the store beside it. */
    char *marker_path;  /* <path>.store-id */
    dev_t dev;
    ino_t ino;
    bool create;        /* STORE_OPEN_CREATE */
    /* SQLite admits one writer per database. Taking turns here, instead of in SQLite's lock, keeps
     * writers off the busy handler, which polls with sleeps and ruins tail latency. Held for every
     * write statement and for the whole of a store_begin .. store_commit/rollback group. Readers never
     * take it: in WAL mode they do not block the writer, nor the writer them. Hence a thread inside a
     * group must not write through a second connection of its own: it would wait on itself. */
    pthread_mutex_t write_mu;
    /* The connection every store_begin .. store_commit/rollback group runs on, whichever connection it was
     * opened on (used under write_mu only, so by one thread at a time). A commit on one connection makes
     * SQLite drop every other connection's page cache at its next transaction: with each worker's groups on
     * its own connection, each group began by re-reading the b-tree pages it writes (the tables' and indexes'
     * upper levels, the last leaves) with pread(2). On one connection they stay cached from one group to the
     * next, whichever worker's group it is. Opened by the first group; NULL until then. */
    struct sqlite_conn *writer;

    /* The checkpointer (see "checkpoints"). ckpt_mu guards the fields below it; lock order is write_mu
     * then ckpt_mu, and nobody holds ckpt_mu across a checkpoint or while taking write_mu. */
    pthread_mutex_t ckpt_mu;
    pthread_cond_t ckpt_cv;
    pthread_t ckpt_thread;
    struct sqlite_conn *ckpt_conn; /* the checkpointer's own connection, used by that thread only */
    bool ckpt_running;             /* thread started and not yet told to stop */
    bool ckpt_stop;
    bool ckpt_wanted;              /* a writer asked for a checkpoint */
    int wal_pages;                 /* WAL size in pages after the last commit seen by the wal hook */
    int wake_base;                 /* wal_pages when the checkpointer was last woken */
    int ckpt_clean;                /* WAL size when a checkpoint last copied all of it, else -1 */

    /* Commits of this process, on any connection, counted by the wal hook once each is complete (see
     * "shared read snapshots"). */
    _Atomic uint64_t commits;
};

/* Statements, each prepared once per connection on first use and then reset and rebound per call. */
enum stmt_id {
    /* Transaction control first, up to S_ROLLBACK_TO: snap_enter tells it by its place. */
    S_READ_BEGIN,
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_CLIENT_GET,
    S_CLIENT_PUT,
    S_CLIENT_DELETE,
    S_CLIENT_LIST,
    S_CLIENT_META_HAS,
    S_TOKEN_PUT,
    S_TOKEN_GET,
    S_TOKEN_GET_USER,
    S_TOKEN_CONSUME,
    S_TOKEN_REVOKE,
    S_TOKEN_SETTLE,
    S_TOKEN_SET_SUCCESSOR,
    S_GRANT_REVOKE,
    S_JTI_REVOKE,
    S_JTI_CHECK,
    S_SINGLE_USE_PUT,
    S_KEY_PUT,
    S_KEY_LIST,
    S_GC_TOKENS,
    S_GC_JTI,
    S_GC_SINGLE_USE,
    S_GC_KEYS,
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
/* What a read returns: the columns token_put writes, then the rotation columns (migration 4). */
#define TOKEN_READ_COLS TOKEN_COLS ", successor, retried_at"
#define KEY_COLS "kid, alg, priv_enc, public_jwk, created_at, sign_from, retired_at, unpublish_at"
#define USER_COLS                                                                                            \
    "id, username, password_hash, claims, disabled, from_config, created_at, updated_at, config_pw_mac"
#define CONSENT_COLS "user_id, client_id, scope, resources, created_at, updated_at"

static const char *const stmt_sql[S__COUNT] = {
    [S_READ_BEGIN] = "BEGIN",
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    /* A multi-statement call inside a caller's group nests in a savepoint, so it stays all-or-nothing. */
    [S_SAVEPOINT] = "SAVEPOINT store_op",
    [S_RELEASE] = "RELEASE store_op",
    [S_ROLLBACK_TO] = "ROLLBACK TO store_op",
    [S_CLIENT_GET] = "SELECT " CLIENT_COLS " FROM clients WHERE client_id = ?1",
    /* Upsert that keeps the first created_at. */
    [S_CLIENT_PUT] = "INSERT INTO clients (" CLIENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                     " ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash,"
                     " secret_enc = excluded.secret_enc,"
                     " metadata = excluded.metadata, from_config = excluded.from_config,"
                     " origin = excluded.origin, reg_token_hash = excluded.reg_token_hash,"
                     " updated_at = excluded.updated_at",
    [S_CLIENT_DELETE] = "DELETE FROM clients WHERE client_id = ?1",
    [S_CLIENT_LIST] = "SELECT " CLIENT_COLS " FROM clients ORDER BY client_id",
    /* ?1 is a JSON path "$.<member>" built from a checked name. A row whose metadata is not JSON is read as
     * {}, so that one bad row cannot make the whole query fail. */
    [S_CLIENT_META_HAS] = "SELECT EXISTS (SELECT 1 FROM clients, json_each(CASE WHEN json_valid(clients.metadata)"
                          " THEN clients.metadata ELSE '{}' END, ?1) AS m WHERE m.type = 'text' AND m.value = ?2)",
    [S_TOKEN_PUT] = "INSERT INTO tokens (" TOKEN_COLS ")"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [S_TOKEN_GET] = "SELECT " TOKEN_READ_COLS " FROM tokens WHERE hash = ?1",
    /* The token's columns, then the user's (NULL when there is none). */
    [S_TOKEN_GET_USER] = "SELECT t.hash, t.kind, t.client_id, t.sub, t.scope, t.aud, t.jti, t.grant_id, t.data,"
                         " t.iat, t.exp, t.revoked_at, t.consumed_at, t.successor, t.retried_at,"
                         " u.id, u.username, u.password_hash, u.claims, u.disabled, u.from_config,"
                         " u.created_at, u.updated_at, u.config_pw_mac"
                         " FROM tokens t LEFT JOIN users u ON u.id = t.sub WHERE t.hash = ?1",
    [S_TOKEN_CONSUME] = "UPDATE tokens SET consumed_at = ?1 WHERE hash = ?2 AND kind = ?3"
                        " AND consumed_at = 0 AND revoked_at = 0 AND exp > ?1",
    [S_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?1 WHERE hash = ?2 AND revoked_at = 0",
    /* ?4 NULL: a denial (revoked); else an approval (sub, scope, data). Only a pending row changes. */
    [S_TOKEN_SETTLE] = "UPDATE tokens SET sub = ?4, scope = CASE WHEN ?4 IS NULL THEN scope ELSE ?5 END,"
                       " data = CASE WHEN ?4 IS NULL THEN data ELSE ?6 END,"
                       " revoked_at = CASE WHEN ?4 IS NULL THEN ?1 ELSE 0 END"
                       " WHERE hash = ?2 AND kind = ?3 AND sub IS NULL AND revoked_at = 0 AND consumed_at = 0"
                       " AND exp > ?1",
    [S_TOKEN_SET_SUCCESSOR] = "UPDATE tokens SET successor = ?2,"
                              " retried_at = CASE WHEN ?3 != 0 THEN ?3 ELSE retried_at END WHERE hash = ?1",
    [S_GRANT_REVOKE] = "UPDATE tokens SET revoked_at = ?1 WHERE grant_id = ?2 AND revoked_at = 0",
    /* Revoking twice keeps the later expiry, so the entry outlives every copy of the token. */
    [S_JTI_REVOKE] = "INSERT INTO revoked_jti (jti, exp) VALUES (?1, ?2)"
                     " ON CONFLICT (jti) DO UPDATE SET exp = max(exp, excluded.exp)",
    [S_JTI_CHECK] = "SELECT 1 FROM revoked_jti WHERE jti = ?1",
    /* Inserts, or takes over a record that has expired; no change means a live record holds the key. */
    [S_SINGLE_USE_PUT] = "INSERT INTO single_use (key, exp) VALUES (?1, ?2)"
                         " ON CONFLICT (key) DO UPDATE SET exp = excluded.exp WHERE single_use.exp <= ?3",
    [S_KEY_PUT] = "INSERT INTO keys (" KEY_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                  " ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, priv_enc = excluded.priv_enc,"
                  " public_jwk = excluded.public_jwk, sign_from = excluded.sign_from,"
                  " retired_at = excluded.retired_at, unpublish_at = excluded.unpublish_at",
    [S_KEY_LIST] = "SELECT " KEY_COLS " FROM keys ORDER BY created_at, kid",
    /* Bounded deletes: each pass touches at most ?2 rows, so the write lock is held briefly. */
    [S_GC_TOKENS] = "DELETE FROM tokens WHERE rowid IN (SELECT rowid FROM tokens WHERE exp < ?1 LIMIT ?2)",
    [S_GC_JTI] = "DELETE FROM revoked_jti WHERE rowid IN"
                 " (SELECT rowid FROM revoked_jti WHERE exp < ?1 LIMIT ?2)",
    [S_GC_SINGLE_USE] = "DELETE FROM single_use WHERE key IN"
                        " (SELECT key FROM single_use WHERE exp < ?1 LIMIT ?2)",
    [S_GC_KEYS] = "DELETE FROM keys WHERE rowid IN"
                  " (SELECT rowid FROM keys WHERE unpublish_at != 0 AND unpublish_at < ?1 LIMIT ?2)",
    [S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE id = ?1",
    [S_USER_GET_BY_NAME] = "SELECT " USER_COLS " FROM users WHERE username = ?1",
    /* Upsert by id that keeps the first created_at; the username may change (a rename). */
    [S_USER_PUT] = "INSERT INTO users (" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                   " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                   " password_hash = excluded.password_hash, claims = excluded.claims,"
                   " disabled = excluded.disabled, from_config = excluded.from_config,"
                   " updated_at = excluded.updated_at, config_pw_mac = excluded.config_pw_mac",
    [S_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY username",
    [S_CONSENT_GET] = "SELECT " CONSENT_COLS " FROM consents WHERE user_id = ?1 AND client_id = ?2",
    [S_CONSENT_PUT] = "INSERT INTO consents (" CONSENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                      " ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope,"
                      " resources = excluded.resources, updated_at = excluded.updated_at",
    [S_CONSENT_DELETE] = "DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2",
    [S_CONSENT_DELETE_ALL] = "DELETE FROM consents WHERE user_id = ?1",
    [S_CONSENT_LIST] = "SELECT " CONSENT_COLS " FROM consents WHERE user_id = ?1 ORDER BY client_id",
    /* Uses the partial index tokens_sub (migration 2). */
    [S_TOKEN_REVOKE_SUB] = "UPDATE tokens SET revoked_at = ?1 WHERE sub = ?2 AND kind = ?3 AND revoked_at = 0"
                           " AND exp > ?1",
    /* tokens_sub again; at most ?4 rows, oldest first. */
    [S_TOKEN_LIST_SUB] = "SELECT " TOKEN_READ_COLS " FROM tokens WHERE sub = ?1 AND kind = ?2"
                         " AND revoked_at = 0 AND exp > ?3 ORDER BY iat, hash LIMIT ?4",
    /* The partial index tokens_client (migration 6): the same condition on grant_id. */
    [S_TOKEN_REVOKE_CLIENT] = "UPDATE tokens SET revoked_at = ?1 WHERE client_id = ?2"
                              " AND grant_id IS NOT NULL AND revoked_at = 0 AND exp > ?1",
    /* Pages in primary-key order; a zero-length blob sorts before every hash (the first page). */
    [S_TOKEN_SCAN] = "SELECT " TOKEN_READ_COLS " FROM tokens WHERE hash > ?1 AND exp > ?2 AND revoked_at = 0"
                     " ORDER BY hash LIMIT ?3",
    [S_JTI_SCAN] = "SELECT jti, exp FROM revoked_jti WHERE jti > ?1 AND exp >= ?2 ORDER BY jti LIMIT ?3",
};

struct sqlite_conn {
    struct store_conn base; /* first: store.h dispatches through base.st */
    struct sqlite_store *st;
    sqlite3 *db;
    bool in_tx; /* inside a group: this thread holds st->write_mu (only ever st->writer, see sq_begin) */
    /* While a group opened on this connection is open: st->writer, where its statements run (conn_of). */
    struct sqlite_conn *group;
    sqlite3_stmt *stmts[S__COUNT];
    /* Shared read snapshots (see there). */
    bool loop;              /* store_loop_reads: the owner calls turn_end after each turn of its loop */
    bool snap;              /* a shared read snapshot is open (a deferred BEGIN) */
    uint64_t snap_commits;  /* st->commits when it began */
    int64_t snap_t0;        /* clock_mono_us when it began */
};

/* The connection an operation runs on: the shared writer while a group is open on `c`, else c itself. */
static struct sqlite_conn *conn_of(struct store_conn *c)
{
    struct sqlite_conn *sc = (struct sqlite_conn *)c;
    return sc->group != NULL ? sc->group : sc;
}

static void oom(void)
{
    /* The project's policy for allocation failure (see core/arena.h). */
    fputs("ostiary: sqlite: out of memory\n", stderr);
    abort();
}

static void snap_end(struct sqlite_conn *c);

/* Turns a SQLite result code into ours. A duplicate key is ERR_CONFLICT; everything else ERR_FAIL. A
 * shared read snapshot ends with a failed read, so the next read starts afresh. */
static int fail(struct sqlite_conn *c, int rc, const char *what, struct errbuf *err)
{
    if (rc == SQLITE_NOMEM)
        oom();
    errbuf_set(err, "sqlite: %s: %s", what, sqlite3_errmsg(c->db));
    snap_end(c);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return ERR_CONFLICT;
    return ERR_FAIL;
}

static int snap_enter(struct sqlite_conn *c, enum stmt_id id, struct errbuf *err);

/* The cached statement `id`, prepared on first use. NULL (err set) if it does not prepare, e.g. when
 * the schema has not been migrated yet, or if the shared read snapshot it is to run in cannot begin. */
static sqlite3_stmt *stmt_get(struct sqlite_conn *c, enum stmt_id id, struct errbuf *err)
{
    if (c->stmts[id] == NULL) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmts[id], NULL);
        if (rc != SQLITE_OK) {
            fail(c, rc, "prepare", err);
            sqlite3_finalize(c->stmts[id]);
            c->stmts[id] = NULL;
            return NULL;
        }
    }
    if (c->loop && snap_enter(c, id, err) != 0)
        return NULL;
    return c->stmts[id];
}

/* Runs a statement that returns no rows, then resets it. The reset matters even on success: a statement
 * left mid-way keeps its read snapshot open and holds back WAL checkpoints. Bindings are not cleared:
 * every call rebinds every parameter before stepping. */
static int step_done(struct sqlite_conn *c, sqlite3_stmt *s, const char *what, struct errbuf *err)
{
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_DONE ? 0 : fail(c, rc, what, err);
    sqlite3_reset(s);
    return ret;
}

static int exec_stmt(struct sqlite_conn *c, enum stmt_id id, struct errbuf *err)
{
    sqlite3_stmt *s = stmt_get(c, id, err);
    if (s == NULL)
        return ERR_FAIL;
    return step_done(c, s, stmt_sql[id], err);
}

/* ---- shared read snapshots ----
 * Each read in autocommit is a transaction of its own: it takes a shared lock on the database file and a
 * read mark in the WAL index (fcntl locks, four system calls a read), reads the WAL index header, and on
 * its end runs SQLite's unlock-notify bookkeeping under the library's global mutex, which the workers then
 * take turns on. On a connection marked by store_loop_reads, reads instead share one read transaction (a
 * deferred BEGIN before the first of them), until:
 * - the loop's turn ends (turn_end), so that no snapshot is held while the loop waits for events, nor
 *   holds back a checkpoint for longer than a turn;
 * - a commit of this process completes (st->commits moved since the snapshot began): a read never misses
 *   a write committed in-process before it started, whichever connection committed it;
 * - STORE_SNAPSHOT_MAX_MS have passed: a long turn does not keep an old view of what other processes
 *   (the CLI, a second server on the file) committed;
 * - a statement that is not a read is about to run on the connection, or a write transaction or a group
 *   begins (before write_mu is taken: a RESTART checkpoint holding write_mu waits for readers to move on,
 *   so a thread must not wait for write_mu while it holds a snapshot);
 * - a read fails (fail()).
 * A statement's own transaction would have started after every commit complete before it, and so does
 * the shared one: the counter is read before the deferred BEGIN, whose snapshot is only taken by the
 * first read after it, and it moves after a commit is complete (the wal hook runs once the commit is
 * visible and the write lock released). */

static void snap_end(struct sqlite_conn *c)
{
    if (!c->snap)
        return;
    c->snap = false;
    /* Nothing was written in it (a write ends it first): ROLLBACK only ends the read. Were a write to slip
     * in, it would be dropped here and tests would see it missing, rather than committed late. */
    if (!sqlite3_get_autocommit(c->db))
        exec_stmt(c, S_ROLLBACK, NULL);
}

/* Before statement `id` runs on a loop connection: a read joins the shared snapshot (begun, or begun
 * again, as needed); anything else ends it. Inside a write transaction of this connection (op_begin) the
 * connection is not in autocommit and holds no snapshot: nothing to do. */
static int snap_enter(struct sqlite_conn *c, enum stmt_id id, struct errbuf *err)
{
    /* Transaction control (op_begin/op_end and the snapshot's own) reads nothing, though SQLite calls it
     * read-only. */
    if (id <= S_ROLLBACK_TO)
        return 0;
    if (!sqlite3_stmt_readonly(c->stmts[id])) {
        snap_end(c);
        return 0;
    }
    uint64_t commits = atomic_load_explicit(&c->st->commits, memory_order_acquire);
    if (c->snap) {
        if (commits == c->snap_commits && clock_mono_us() - c->snap_t0 < STORE_SNAPSHOT_MAX_MS * 1000)
            return 0;
        snap_end(c);
    } else if (!sqlite3_get_autocommit(c->db)) {
        return 0;
    }
    if (exec_stmt(c, S_READ_BEGIN, err) != 0)
        return ERR_FAIL;
    c->snap = true;
    c->snap_commits = commits;
    c->snap_t0 = clock_mono_us();
    return 0;
}

static void sq_loop_reads(struct store_conn *base)
{
    ((struct sqlite_conn *)base)->loop = true;
}

static void sq_turn_end(struct store_conn *base)
{
    snap_end((struct sqlite_conn *)base);
}

/* ---- write scopes ---- */

static void write_lock(struct sqlite_conn *c)
{
    if (!c->in_tx) {
        snap_end(c);
        pthread_mutex_lock(&c->st->write_mu);
    }
}

static void write_unlock(struct sqlite_conn *c)
{
    if (!c->in_tx)
        pthread_mutex_unlock(&c->st->write_mu);
}

/* A single write statement, atomic by itself. Outside a group it runs in autocommit under the write
 * mutex (a write statement takes SQLite's write lock when it starts, so it cannot fail on a stale read
 * snapshot). *changes gets the number of rows it changed. */
static int write_one(struct sqlite_conn *c, sqlite3_stmt *s, const char *what, int *changes,
                     struct errbuf *err)
{
    write_lock(c);
    int rc = step_done(c, s, what, err);
    if (changes != NULL)
        *changes = rc == 0 ? sqlite3_changes(c->db) : 0;
    write_unlock(c);
    return rc;
}

/* Opens the transaction of a multi-statement call: BEGIN IMMEDIATE under the write mutex, or a savepoint
 * inside the caller's group. Every op_begin that returns 0 is paired with op_end. */
static int op_begin(struct sqlite_conn *c, struct errbuf *err)
{
    if (c->in_tx)
        return exec_stmt(c, S_SAVEPOINT, err);
    snap_end(c);
    pthread_mutex_lock(&c->st->write_mu);
    int rc = exec_stmt(c, S_BEGIN, err);
    if (rc != 0)
        pthread_mutex_unlock(&c->st->write_mu);
    return rc;
}

/* Closes what op_begin opened: keeps the changes if `keep` (and returns ERR_FAIL if that fails, in which
 * case they are rolled back), else rolls them back. Cleanup failures never overwrite `err`. */
static int op_end(struct sqlite_conn *c, bool keep, struct errbuf *err)
{
    int rc = 0;
    if (c->in_tx) {
        if (!keep)
            exec_stmt(c, S_ROLLBACK_TO, NULL);
        rc = exec_stmt(c, S_RELEASE, keep ? err : NULL);
        return keep ? rc : 0;
    }
    if (keep)
        rc = exec_stmt(c, S_COMMIT, err);
    /* Some errors (disk full, I/O) end the transaction inside SQLite already. */
    if ((!keep || rc != 0) && !sqlite3_get_autocommit(c->db))
        exec_stmt(c, S_ROLLBACK, NULL);
    pthread_mutex_unlock(&c->st->write_mu);
    return rc;
}

/* ---- binding and reading columns ---- */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    /* SQLITE_STATIC: the caller's string outlives the step; NULL binds SQL NULL. */
    if (v == NULL)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

static void bind_hash(sqlite3_stmt *s, int i, const uint8_t hash[STORE_HASH_LEN])
{
    sqlite3_bind_blob(s, i, hash, STORE_HASH_LEN, SQLITE_STATIC);
}

/* Copies a TEXT column into the arena; NULL for SQL NULL. */
static const char *col_text(sqlite3_stmt *s, int i, struct arena *a)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *p = sqlite3_column_text(s, i);
    if (p == NULL)
        oom(); /* a non-NULL value only converts to NULL when memory runs out */
    return arena_strndup(a, (const char *)p, (size_t)sqlite3_column_bytes(s, i));
}

/* Copies a BLOB column into the arena (always non-NULL, possibly empty); *n gets its length. */
static const unsigned char *col_blob(sqlite3_stmt *s, int i, struct arena *a, size_t *n)
{
    const void *p = sqlite3_column_blob(s, i);
    *n = (size_t)sqlite3_column_bytes(s, i);
    return arena_memdup(a, p, p == NULL ? 0 : *n);
}

/* Copies a 32-byte hash column; false if the column is NULL or of another size. */
static bool col_hash(sqlite3_stmt *s, int i, uint8_t out[STORE_HASH_LEN])
{
    const void *p = sqlite3_column_blob(s, i);
    if (p == NULL || sqlite3_column_bytes(s, i) != STORE_HASH_LEN) {
        memset(out, 0, STORE_HASH_LEN);
        return false;
    }
    memcpy(out, p, STORE_HASH_LEN);
    return true;
}

/* Grows an arena array by doubling (the arena cannot realloc; the old copy is simply abandoned). */
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

/* A statement's rows as an arena array of `elem`-sized records read by `read`; the statement is reset. */
static int select_all(struct sqlite_conn *c, sqlite3_stmt *s, struct arena *a,
                      void (*read)(sqlite3_stmt *s, struct arena *a, void *out), size_t elem, void **out,
                      size_t *n, const char *what, struct errbuf *err)
{
    char *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = grow(a, v, len, &cap, elem);
        read(s, a, v + elem * len++);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(c, rc, what, err);
    sqlite3_reset(s);
    *out = ret == 0 ? v : NULL;
    *n = ret == 0 ? len : 0;
    return ret;
}

static void read_client(sqlite3_stmt *s, struct arena *a, struct store_client *out)
{
    memset(out, 0, sizeof(*out));
    out->client_id = col_text(s, 0, a);
    out->has_secret = col_hash(s, 1, out->secret_hash);
    out->metadata = col_text(s, 2, a);
    out->from_config = sqlite3_column_int(s, 3) != 0;
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
    if (sqlite3_column_type(s, 6) != SQLITE_NULL)
        out->secret_enc = col_blob(s, 6, a, &out->secret_enc_len);
    out->origin = col_text(s, 7, a);
    out->has_reg_token = col_hash(s, 8, out->reg_token_hash);
}

static void read_token(sqlite3_stmt *s, struct arena *a, struct store_token *out)
{
    memset(out, 0, sizeof(*out));
    col_hash(s, 0, out->hash);
    out->kind = sqlite3_column_int(s, 1);
    out->client_id = col_text(s, 2, a);
    out->sub = col_text(s, 3, a);
    out->scope = col_text(s, 4, a);
    out->aud = col_text(s, 5, a);
    out->jti = col_text(s, 6, a);
    out->grant_id = col_text(s, 7, a);
    out->data = col_text(s, 8, a);
    out->iat = sqlite3_column_int64(s, 9);
    out->exp = sqlite3_column_int64(s, 10);
    out->revoked_at = sqlite3_column_int64(s, 11);
    out->consumed_at = sqlite3_column_int64(s, 12);
    out->has_successor = col_hash(s, 13, out->successor);
    out->retried_at = sqlite3_column_int64(s, 14);
}

/* The user columns start at `col` (15 after token_get_user's token columns). */
static void read_user_at(sqlite3_stmt *s, int col, struct arena *a, struct store_user *out)
{
    memset(out, 0, sizeof(*out));
    out->id = col_text(s, col, a);
    out->username = col_text(s, col + 1, a);
    out->password_hash = col_text(s, col + 2, a);
    out->claims = col_text(s, col + 3, a);
    out->disabled = sqlite3_column_int(s, col + 4) != 0;
    out->from_config = sqlite3_column_int(s, col + 5) != 0;
    out->created_at = sqlite3_column_int64(s, col + 6);
    out->updated_at = sqlite3_column_int64(s, col + 7);
    out->config_pw_mac = col_text(s, col + 8, a);
}

static void read_user(sqlite3_stmt *s, struct arena *a, struct store_user *out)
{
    read_user_at(s, 0, a, out);
}

static void read_key(sqlite3_stmt *s, struct arena *a, struct store_key *out)
{
    memset(out, 0, sizeof(*out));
    out->kid = col_text(s, 0, a);
    out->alg = col_text(s, 1, a);
    out->priv_enc = col_blob(s, 2, a, &out->priv_enc_len);
    out->public_jwk = col_text(s, 3, a);
    out->created_at = sqlite3_column_int64(s, 4);
    out->sign_from = sqlite3_column_int64(s, 5);
    out->retired_at = sqlite3_column_int64(s, 6);
    out->unpublish_at = sqlite3_column_int64(s, 7);
}

/* ---- checkpoints ----
 *
 * A commit appends its pages to the -wal file; a checkpoint copies them back into the database file:
 * it fsyncs the WAL, writes the pages, fsyncs the database. Left to SQLite (wal_autocheckpoint), that
 * happens inside the commit that takes the WAL past 1000 pages, i.e. in a request thread holding
 * write_mu, and every writer queues behind two fsyncs. So automatic checkpoints are off on every
 * connection, and a thread of the store's own, with its own connection, runs them:
 * - The wal hook (called after each commit, in the writer, under write_mu) records the WAL size and
 *   wakes the checkpointer every CKPT_WAKE_PAGES new pages; the checkpointer also wakes every
 *   CKPT_IDLE_MS and checkpoints if anything was committed since its last complete checkpoint.
 * - It runs PASSIVE checkpoints without write_mu: they copy what they can and never wait, and writers
 *   go on appending meanwhile, their commits never wait for them either.
 * - A passive checkpoint cannot shrink the WAL under steady writes: SQLite rewinds the WAL to its start
 *   only when a writer finds it entirely copied, and something is always committed while a checkpoint
 *   runs. Past WAL_SOFT_CAP_PAGES the checkpointer takes write_mu (writers wait on the mutex rather than
 *   spin in SQLite's busy handler) and runs a RESTART checkpoint, which has only the pages committed
 *   since its passive one to copy and makes the next commit rewind the WAL. The file thus stays near
 *   32 MiB at most (64 MiB for a database made with 4 KiB pages); RESTART, not TRUNCATE, as rewriting a
 *   file in place is cheaper than growing it again.
 * - A RESTART syncs the WAL, copies what is left and syncs the database file, all under write_mu, and
 *   a sync costs in proportion to the pages written since the last one. Under steady writes a passive
 *   checkpoint never syncs the database file (SQLite does so only when it has copied the whole WAL), so
 *   a RESTART would write back every page the passive ones copied since the last restart (7-46 ms on
 *   our test machine, longer as the database grows), every request of every worker waiting. So before
 *   a RESTART the checkpointer syncs the database file itself and runs passive checkpoints again,
 *   without write_mu, until fewer than CKPT_CATCHUP_PAGES pages are left (at most CKPT_CATCHUP_ROUNDS
 *   times): the RESTART is left with the last few milliseconds' pages to sync.
 * - Should the checkpointer lag (or not run: no thread yet, or it could not start) the WAL would grow
 *   without bound, so past WAL_HARD_CAP_PAGES the writer restarts it itself, from its wal hook; with no
 *   checkpointer at all, writers fall back to a passive checkpoint every CKPT_WAKE_PAGES pages.
 * - store_close stops the thread, which ends with a TRUNCATE checkpoint under write_mu.
 * Durability is unchanged: a commit is in the WAL (in the OS page cache) when it returns, whoever
 * checkpoints and whenever; checkpoints only move pages into the database file. */

static int conn_new(struct sqlite_store *st, bool create, bool checkpointer, struct sqlite_conn **out,
                    struct errbuf *err);
static void conn_free(struct sqlite_conn *c);

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The hard cap: the WAL has reached WAL_HARD_CAP_PAGES, so the checkpointer is far behind (a long passive
 * checkpoint on a slow or busy disk) or not running. The committing writer restarts the WAL itself. While
 * another connection runs a checkpoint SQLite answers SQLITE_BUSY at once, without the busy handler, so
 * the writer retries until that checkpoint is over: writers (they queue on write_mu meanwhile) pause
 * rather than grow the WAL past the cap. Bounded by BUSY_TIMEOUT_MS, after which the next commit tries
 * again. */
static void hard_cap_restart(sqlite3 *db, const char *name)
{
    int64_t deadline = mono_ms() + BUSY_TIMEOUT_MS;
    while (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_RESTART, NULL, NULL) == SQLITE_BUSY &&
           mono_ms() < deadline) {
        struct timespec ts = {0, 1000 * 1000}; /* 1 ms */
        nanosleep(&ts, NULL);
    }
}

/* The wal hook of every request connection. `pages` is the WAL size, this commit included. Runs in the
 * committing thread, which holds write_mu (every write does), so a checkpoint run here cannot race another
 * in-process writer. Must return SQLITE_OK: anything else would be reported as the commit's error. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sqlite_store *st = arg;
    atomic_fetch_add_explicit(&st->commits, 1, memory_order_release);
    pthread_mutex_lock(&st->ckpt_mu);
    bool running = st->ckpt_running;
    bool wake = false;
    st->wal_pages = pages;
    if (pages < st->wake_base) /* the WAL was rewound */
        st->wake_base = 0;
    if (pages - st->wake_base >= CKPT_WAKE_PAGES) {
        st->wake_base = pages;
        wake = true;
        if (running) {
            st->ckpt_wanted = true;
            pthread_cond_signal(&st->ckpt_cv);
        }
    }
    pthread_mutex_unlock(&st->ckpt_mu);
    if (pages >= WAL_HARD_CAP_PAGES)
        hard_cap_restart(db, name);
    else if (wake && !running)
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

/* The checkpointer's busy handler, only consulted by RESTART and TRUNCATE, which wait for readers still
 * on old WAL pages (reads are short) while write_mu is held: short sleeps, and a limit, past which the
 * checkpoint gives up and is tried again later. */
static int ckpt_busy(void *arg, int n)
{
    (void)arg;
    if (n >= CKPT_BUSY_MAX_MS * 5)
        return 0;
    struct timespec ts = {0, 200 * 1000}; /* 200 us */
    nanosleep(&ts, NULL);
    return 1;
}

/* Runs one checkpoint on the checkpointer's connection. *log and *done get the WAL size and the pages
 * copied (-1 on error). A non-passive one holds write_mu. */
static int ckpt_run(struct sqlite_store *st, int mode, int *log, int *done)
{
    *log = *done = -1;
    if (mode != SQLITE_CHECKPOINT_PASSIVE)
        pthread_mutex_lock(&st->write_mu);
    int rc = sqlite3_wal_checkpoint_v2(st->ckpt_conn->db, NULL, mode, log, done);
    if (mode != SQLITE_CHECKPOINT_PASSIVE)
        pthread_mutex_unlock(&st->write_mu);
    return rc;
}

/* Writes the database file's dirty pages to disk (fdatasync), through the checkpointer's own connection,
 * outside write_mu. Only makes a later sync shorter: a failure here is the next checkpoint's to report. */
static void ckpt_sync_db(struct sqlite_store *st)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(st->ckpt_conn->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) == SQLITE_OK && f != NULL &&
        f->pMethods != NULL)
        (void)f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/* Before a RESTART (see "checkpoints"): syncs the database file, and copies what was committed meanwhile
 * with another passive checkpoint, until that is little. *log and *done as ckpt_run's, of the last one. */
static void ckpt_catch_up(struct sqlite_store *st, int *log, int *done)
{
    for (int round = 0;; round++) {
        ckpt_sync_db(st);
        pthread_mutex_lock(&st->ckpt_mu);
        int pages = st->wal_pages;
        pthread_mutex_unlock(&st->ckpt_mu);
        if (round == CKPT_CATCHUP_ROUNDS || pages - *log < CKPT_CATCHUP_PAGES)
            return;
        if (ckpt_run(st, SQLITE_CHECKPOINT_PASSIVE, log, done) != SQLITE_OK)
            return;
    }
}

static void ckpt_deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += CKPT_IDLE_MS / 1000;
    ts->tv_nsec += (long)(CKPT_IDLE_MS % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *ckpt_main(void *arg)
{
    struct sqlite_store *st = arg;
    int restarted_at = -1; /* WAL size at the last successful RESTART */
    pthread_mutex_lock(&st->ckpt_mu);
    while (!st->ckpt_stop) {
        if (!st->ckpt_wanted) {
            struct timespec dl;
            ckpt_deadline(&dl);
            int w = 0;
            while (!st->ckpt_stop && !st->ckpt_wanted && w != ETIMEDOUT)
                w = pthread_cond_timedwait(&st->ckpt_cv, &st->ckpt_mu, &dl);
            if (st->ckpt_stop)
                break;
            /* Woken by the clock: checkpoint only if something was committed since the last clean one. */
            if (!st->ckpt_wanted && st->wal_pages == st->ckpt_clean)
                continue;
        }
        st->ckpt_wanted = false;
        pthread_mutex_unlock(&st->ckpt_mu);

        int log, done;
        ckpt_run(st, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
        /* A passive checkpoint copies what was there when it began (done == log, usually), but commits
         * made meanwhile keep the WAL from rewinding; only a RESTART makes sure it does. None is needed if
         * the last RESTART left the WAL at this very size: nothing was committed since. */
        if (log >= WAL_SOFT_CAP_PAGES && log != restarted_at) {
            ckpt_catch_up(st, &log, &done);
            if (ckpt_run(st, SQLITE_CHECKPOINT_RESTART, &log, &done) == SQLITE_OK)
                restarted_at = log;
        }

        pthread_mutex_lock(&st->ckpt_mu);
        st->ckpt_clean = log >= 0 && done == log ? log : -1;
    }
    pthread_mutex_unlock(&st->ckpt_mu);
    int log, done;
    ckpt_run(st, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    return NULL;
}

/* Starts the checkpointer if it is not running yet (at the first store_conn_open, so that a process that
 * only migrates, or forks after store_open, has none to lose). If it cannot start, writers checkpoint. */
static void ckpt_start(struct sqlite_store *st)
{
    pthread_mutex_lock(&st->ckpt_mu);
    if (st->ckpt_running || st->ckpt_stop) {
        pthread_mutex_unlock(&st->ckpt_mu);
        return;
    }
    struct errbuf err;
    if (conn_new(st, false, true, &st->ckpt_conn, &err) == 0) {
        /* The thread starts with every signal blocked, so that none is ever delivered to it, whatever
         * the caller's mask. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&st->ckpt_thread, NULL, ckpt_main, st) == 0) {
            st->ckpt_running = true;
        } else {
            conn_free(st->ckpt_conn);
            st->ckpt_conn = NULL;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&st->ckpt_mu);
}

static void ckpt_shutdown(struct sqlite_store *st)
{
    pthread_mutex_lock(&st->ckpt_mu);
    bool running = st->ckpt_running;
    st->ckpt_stop = true;
    st->ckpt_running = false;
    pthread_cond_signal(&st->ckpt_cv);
    pthread_mutex_unlock(&st->ckpt_mu);
    if (running) {
        pthread_join(st->ckpt_thread, NULL);
        conn_free(st->ckpt_conn);
        st->ckpt_conn = NULL;
    }
}

/* ---- connections ---- */

static void conn_free(struct sqlite_conn *c)
{
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(c->stmts[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/* Opens one connection with the per-connection settings. `create` lets SQLite create the file;
 * `checkpointer` makes the checkpointer's connection, which only checkpoints (no wal hook, a short busy
 * handler). */
static int conn_new(struct sqlite_store *st, bool create, bool checkpointer, struct sqlite_conn **out,
                    struct errbuf *err)
{
    struct sqlite_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        oom();
    c->base.st = &st->base;
    c->st = st;
    /* NOMUTEX: a connection belongs to one thread (store.h), so SQLite's per-connection mutex would only
     * cost time. The library's global state stays protected (needs a thread-safe build, checked at open). */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    /* The VFS that writes a commit's WAL frames at once (sqlite_walbuf.c); SQLite's default without it. */
    int rc = sqlite3_open_v2(st->path, &c->db, flags, sqlite_walbuf_vfs());
    if (rc != SQLITE_OK) {
        errbuf_set(err, "sqlite: cannot open '%s': %s", st->path,
                   c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        conn_free(c);
        return ERR_FAIL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    /* Only reached when another process (the CLI, a second server) holds the write lock: in-process
     * writers take turns on write_mu first. */
    if (checkpointer)
        sqlite3_busy_handler(c->db, ckpt_busy, NULL);
    else
        sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* Checkpoints are the checkpointer's (see "checkpoints"); wal_autocheckpoint(0) removes SQLite's own
     * hook, and ours replaces it. */
    sqlite3_wal_autocheckpoint(c->db, 0);
    if (!checkpointer)
        sqlite3_wal_hook(c->db, wal_hook, st);
    /* Durability. In WAL mode a commit appends the transaction to the -wal file with write(2) before
     * returning; synchronous=NORMAL skips the fsync at commit and syncs only at checkpoints. Data handed
     * to write(2) is in the kernel's page cache, which outlives the process: after kill -9 (or a crash of
     * ours) every committed transaction is there and is replayed from the WAL on the next open, as the
     * store.h contract requires. Only an OS crash or power loss can lose the last transactions, never
     * corrupt the database; that is the price of not fsyncing on every token we issue.
     * synchronous is per connection, so it is set here, not once at open. */
    char *msg = NULL;
    rc = sqlite3_exec(c->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        errbuf_set(err, "sqlite: '%s': cannot configure connection: %s", st->path,
                   msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        conn_free(c);
        return ERR_FAIL;
    }
    *out = c;
    return 0;
}

static int sq_conn_open(struct store *base, struct store_conn **out, struct errbuf *err)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    struct sqlite_conn *c;
    int rc = conn_new(st, false, false, &c, err);
    if (rc != 0)
        return rc;
    ckpt_start(st);
    *out = &c->base;
    return 0;
}

static void sq_rollback(struct store_conn *base);

static void sq_conn_close(struct store_conn *base)
{
    if (base == NULL)
        return;
    struct sqlite_conn *c = (struct sqlite_conn *)base;
    /* An abandoned group would keep the write mutex forever. */
    if (c->group != NULL)
        sq_rollback(base);
    snap_end(c);
    conn_free(c);
}

/* A local file has no connection to lose: the database answers whenever the process runs. */
static int sq_ping(struct store_conn *base, struct errbuf *err)
{
    (void)base;
    (void)err;
    return 0;
}

/* In-process: no round trip ever. */
static uint64_t sq_round_trips(struct store *st)
{
    (void)st;
    return 0;
}

/* ---- identity ----
 * A database deleted (or replaced) under a running server goes on working: the process keeps the unlinked
 * file open, and what it writes is lost with it. The next start would then silently create an empty store
 * with new signing keys, and every token issued so far would stop working. Two defences:
 * - the device and inode of the file are recorded when the store opens; sq_check compares them with what
 *   the path names now (one stat), so the server can notice and say so;
 * - the store's id (table store_meta, migration 5) is also written to a marker file beside the database,
 *   <path>.store-id. A start that finds the marker but no database refuses to create one, and a database
 *   whose id is not the marker's is refused too, unless the caller says otherwise (STORE_OPEN_CREATE, from
 *   `ostiary migrate --create`). No database and no marker is the first start: both are created. */

#define STORE_ID_MAX 64

/* Reads the marker into id: 0, 1 when there is none, ERR_FAIL (err set) when it cannot be read. */
static int marker_read(const char *path, char id[STORE_ID_MAX + 1], struct errbuf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        errbuf_set(err, "sqlite: cannot read '%s': %s", path, strerror(errno));
        return ERR_FAIL;
    }
    ssize_t n = read(fd, id, STORE_ID_MAX);
    close(fd);
    if (n < 0) {
        errbuf_set(err, "sqlite: cannot read '%s': %s", path, strerror(errno));
        return ERR_FAIL;
    }
    id[n] = '\0';
    id[strcspn(id, "\r\n")] = '\0';
    return 0;
}

/* Replaces the marker atomically (a new file renamed over it, synced). */
static int marker_write(const char *path, const char *id, struct errbuf *err)
{
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (tmp == NULL)
        oom();
    snprintf(tmp, n, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = ERR_FAIL;
    } else {
        size_t len = strlen(id);
        if (write(fd, id, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0)
            rc = ERR_FAIL;
        if (close(fd) != 0)
            rc = ERR_FAIL;
        if (rc == 0 && rename(tmp, path) != 0)
            rc = ERR_FAIL;
    }
    if (rc != 0) {
        errbuf_set(err, "sqlite: cannot write the store marker '%s': %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* After migrating: the database's id and the marker must agree (see above). */
static int identity_sync(struct sqlite_store *st, struct sqlite_conn *c, struct errbuf *err)
{
    char dbid[STORE_ID_MAX + 1] = "";
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT value FROM store_meta WHERE key = 'store_id'", -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        snprintf(dbid, sizeof(dbid), "%s", v != NULL ? v : "");
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW || dbid[0] == '\0') {
        errbuf_set(err, "sqlite: '%s': the store has no id (store_meta)", st->path);
        return ERR_FAIL;
    }
    char mid[STORE_ID_MAX + 1];
    int m = marker_read(st->marker_path, mid, err);
    if (m < 0)
        return m;
    if (m == 0 && strcmp(mid, dbid) == 0)
        return 0;
    if (m == 0 && !st->create) {
        errbuf_set(err,
                   "sqlite: the database '%s' is store %s, but '%s' says this configuration's store is %s: "
                   "the database was replaced. Put the right file back, or run `ostiary migrate --create` "
                   "to use this one from now on",
                   st->path, dbid, st->marker_path, mid);
        return ERR_FAIL;
    }
    return marker_write(st->marker_path, dbid, err);
}

static int sq_check(struct store_conn *base, struct errbuf *err)
{
    struct sqlite_store *st = conn_of(base)->st;
    struct stat sb;
    if (stat(st->path, &sb) != 0) {
        if (errno == ENOENT)
            errbuf_set(err, "sqlite: the database file '%s' was deleted", st->path);
        else
            errbuf_set(err, "sqlite: cannot stat the database file '%s': %s", st->path, strerror(errno));
        return ERR_FAIL;
    }
    if (sb.st_dev != st->dev || sb.st_ino != st->ino) {
        errbuf_set(err, "sqlite: the database file '%s' was replaced by another file", st->path);
        return ERR_FAIL;
    }
    return 0;
}

/* ---- store ---- */

static void conn_free(struct sqlite_conn *c);

static void store_free(struct sqlite_store *st)
{
    if (st->writer != NULL)
        conn_free(st->writer);
    pthread_cond_destroy(&st->ckpt_cv);
    pthread_mutex_destroy(&st->ckpt_mu);
    pthread_mutex_destroy(&st->write_mu);
    free(st->marker_path);
    free(st->path);
    free(st);
}

/* SQLite counts every allocation in global statistics under a global mutex (SQLITE_CONFIG_MEMSTATUS), which
 * nothing here reads: every statement step on both workers took that lock. sqlite3_config only works before
 * the library initialises (the first open, made here on the main thread before any worker starts); a later
 * call fails harmlessly with SQLITE_MISUSE and the counting stays on. */
static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

static void configure_sqlite(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_open(const char *dsn, unsigned flags, struct store **out, struct errbuf *err)
{
    if (dsn[0] == '\0') {
        errbuf_set(err, "sqlite: empty path (expected sqlite:<file>, e.g. sqlite:./var/ostiary.db)");
        return ERR_INVALID;
    }
    /* Each connection to ":memory:" would be a separate empty database, and the shared-cache way around
     * that ("file::memory:?cache=shared") swaps WAL for table locks that fail with SQLITE_LOCKED, which
     * no busy timeout retries. Tests use a file in a temporary directory instead. */
    if (strcmp(dsn, ":memory:") == 0 || strncmp(dsn, "file:", 5) == 0) {
        errbuf_set(err, "sqlite: '%s': in-memory databases and URI filenames are not supported; give a file "
                   "path, e.g. sqlite:./var/ostiary.db", dsn);
        return ERR_INVALID;
    }
    if (sqlite3_libversion_number() < SQLITE_MIN_VERSION) {
        errbuf_set(err, "sqlite: library %s is too old (need 3.32 or later)", sqlite3_libversion());
        return ERR_FAIL;
    }
    if (!sqlite3_threadsafe()) {
        errbuf_set(err, "sqlite: library %s was built without thread support", sqlite3_libversion());
        return ERR_FAIL;
    }
    pthread_once(&sqlite_configured, configure_sqlite);

    struct sqlite_store *st = calloc(1, sizeof(*st));
    if (st == NULL)
        oom();
    st->base.ops = &store_sqlite_ops;
    st->path = strdup(dsn);
    size_t mlen = strlen(dsn) + sizeof(".store-id");
    st->marker_path = malloc(mlen);
    if (st->path == NULL || st->marker_path == NULL)
        oom();
    snprintf(st->marker_path, mlen, "%s.store-id", dsn);
    st->create = (flags & STORE_OPEN_CREATE) != 0;
    pthread_mutex_init(&st->write_mu, NULL);
    pthread_mutex_init(&st->ckpt_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->ckpt_cv, &ca);
    pthread_condattr_destroy(&ca);
    st->ckpt_clean = -1;

    /* A store this configuration made before, whose file is gone: never replaced silently by an empty one
     * (see "identity"). */
    struct stat sb;
    if (stat(dsn, &sb) != 0 && errno == ENOENT && !st->create) {
        char id[STORE_ID_MAX + 1];
        int m = marker_read(st->marker_path, id, err);
        if (m == 0)
            errbuf_set(err,
                       "sqlite: the database '%s' is missing, but this configuration has used store %s there "
                       "before ('%s'). Starting would create an empty store with new signing keys, and every "
                       "token issued so far would stop working. Restore the database file, or run `ostiary "
                       "migrate --create` to start an empty store on purpose",
                       dsn, id, st->marker_path);
        if (m <= 0) {
            store_free(st);
            return ERR_FAIL;
        }
    }

    /* The journal mode is a property of the database file, so one connection sets it for all. This is
     * also the first real access to the file (open_v2 is lazy), so a missing directory, a permission
     * problem or a file that is not a database shows up here. */
    struct sqlite_conn *c;
    int rc = conn_new(st, true, false, &c, err);
    if (rc == 0) {
        /* A new database gets 2 KiB pages (SQLite's default is 4 KiB): a token's commit appends the pages
         * it changed to the WAL whole, and its row lands on a random leaf of the hash index, so the page
         * size is most of the bytes written per token (bench/README.md, "Store write path"). Only a file
         * with no table yet takes it (SQLite ignores the pragma otherwise, and a WAL file keeps its page
         * size), so an existing database keeps its own. */
        char *pmsg = NULL;
        if (sqlite3_exec(c->db, "PRAGMA page_size = " STORE_PAGE_SIZE_S, NULL, NULL, &pmsg) != SQLITE_OK) {
            errbuf_set(err, "sqlite: cannot open '%s': %s", dsn, pmsg != NULL ? pmsg : "page_size");
            rc = ERR_FAIL;
        }
        sqlite3_free(pmsg);
    }
    if (rc == 0) {
        sqlite3_stmt *s = NULL;
        int src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
        if (src == SQLITE_OK)
            src = sqlite3_step(s);
        const char *mode = src == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
        if (src != SQLITE_ROW) {
            errbuf_set(err, "sqlite: cannot open '%s': %s", dsn, sqlite3_errmsg(c->db));
            rc = ERR_FAIL;
        } else if (mode == NULL || strcmp(mode, "wal") != 0) {
            errbuf_set(err, "sqlite: '%s': cannot use WAL mode (journal mode stays '%s'); is it on a network "
                       "file system?", dsn, mode != NULL ? mode : "?");
            rc = ERR_FAIL;
        }
        sqlite3_finalize(s);
        conn_free(c);
    }
    /* The file as opened (it exists now): what sq_check compares the path with. */
    if (rc == 0 && stat(dsn, &sb) != 0) {
        errbuf_set(err, "sqlite: cannot stat '%s': %s", dsn, strerror(errno));
        rc = ERR_FAIL;
    }
    if (rc != 0) {
        store_free(st);
        return rc;
    }
    st->dev = sb.st_dev;
    st->ino = sb.st_ino;
    *out = &st->base;
    return 0;
}

/* The size of the -wal file beside the database (the checkpointer keeps it bounded, see "checkpoints"). */
static int64_t sq_wal_bytes(struct store *base)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    char path[4096];
    struct stat sb;
    if ((size_t)snprintf(path, sizeof(path), "%s-wal", st->path) >= sizeof(path) || stat(path, &sb) != 0)
        return 0;
    return (int64_t)sb.st_size;
}

static void sq_close(struct store *base)
{
    if (base == NULL)
        return;
    struct sqlite_store *st = (struct sqlite_store *)base;
    ckpt_shutdown(st);
    store_free(st);
}

/* Reads the highest applied version into *version (0 for a fresh database). */
static int schema_version(struct sqlite_conn *c, int64_t *version, struct errbuf *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT coalesce(max(version), 0) FROM schema_migrations", -1, &s,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *version = sqlite3_column_int64(s, 0);
    else
        ret = fail(c, rc, "read schema version", err);
    sqlite3_finalize(s);
    return ret;
}

static int migrate_one(struct sqlite_conn *c, size_t version, struct errbuf *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c->db, sqlite_migrations[version - 1], NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        errbuf_set(err, "sqlite: migration %zu failed: %s", version, msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return ERR_FAIL;
    }
    sqlite3_stmt *s = NULL;
    rc = sqlite3_prepare_v2(c->db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", -1,
                            &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)version);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(s);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(c, rc, "record migration", err);
    sqlite3_finalize(s);
    return ret;
}

/* ostiary_jti_key(jti): store_jti_key() for SQL, so a migration can rekey rows (migration 3). NULL in,
 * NULL out. */
static void sql_jti_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *jti = sqlite3_value_text(argv[0]);
    if (jti == NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    uint8_t key[STORE_HASH_LEN];
    store_jti_key((const char *)jti, key);
    sqlite3_result_blob(ctx, key, STORE_HASH_LEN, SQLITE_TRANSIENT);
}

/* Applies every pending migration, each in its own BEGIN IMMEDIATE transaction, re-reading the version
 * inside it so that two processes migrating at once apply each migration once. A migration that needs
 * foreign_keys off (a table rebuild) must be run differently: the pragma is a no-op inside a transaction. */
static int sq_migrate(struct store *base, int *applied, struct errbuf *err)
{
    struct sqlite_store *st = (struct sqlite_store *)base;
    *applied = 0;
    struct sqlite_conn *c;
    int rc = conn_new(st, false, false, &c, err);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&st->write_mu);
    char *msg = NULL;
    if (sqlite3_create_function_v2(c->db, "ostiary_jti_key", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                   sql_jti_key, NULL, NULL, NULL) != SQLITE_OK) {
        rc = fail(c, sqlite3_errcode(c->db), "register ostiary_jti_key", err);
    } else if (sqlite3_exec(c->db,
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            " version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)",
                            NULL, NULL, &msg) != SQLITE_OK) {
        errbuf_set(err, "sqlite: cannot create schema_migrations: %s", msg != NULL ? msg : "?");
        sqlite3_free(msg);
        rc = ERR_FAIL;
    }
    for (size_t v = 1; rc == 0 && v <= sqlite_migrations_count; v++) {
        rc = exec_stmt(c, S_BEGIN, err);
        if (rc != 0)
            break;
        int64_t cur = 0;
        rc = schema_version(c, &cur, err);
        if (rc == 0 && cur > (int64_t)sqlite_migrations_count) {
            errbuf_set(err, "sqlite: database schema version %lld is newer than this build knows (%zu)",
                       (long long)cur, sqlite_migrations_count);
            rc = ERR_FAIL;
        }
        bool pending = rc == 0 && cur < (int64_t)v;
        if (pending)
            rc = migrate_one(c, v, err);
        if (rc == 0 && pending)
            rc = exec_stmt(c, S_COMMIT, err);
        if (rc == 0 && pending)
            (*applied)++;
        if ((rc != 0 || !pending) && !sqlite3_get_autocommit(c->db))
            exec_stmt(c, S_ROLLBACK, NULL);
    }
    if (rc == 0)
        rc = identity_sync(st, c, err);
    pthread_mutex_unlock(&st->write_mu);
    conn_free(c);
    return rc;
}

/* ---- transactions ---- */

/* A group runs on the store's writer connection (see sqlite_store.writer), opened here by the first one. */
static int sq_begin(struct store_conn *base, struct errbuf *err)
{
    struct sqlite_conn *own = (struct sqlite_conn *)base;
    if (own->group != NULL || own->in_tx) {
        errbuf_set(err, "sqlite: begin: a transaction is already open on this connection");
        return ERR_FAIL;
    }
    struct sqlite_store *st = own->st;
    snap_end(own);
    pthread_mutex_lock(&st->write_mu);
    if (st->writer == NULL) {
        int rc = conn_new(st, false, false, &st->writer, err);
        if (rc != 0) {
            st->writer = NULL;
            pthread_mutex_unlock(&st->write_mu);
            return rc;
        }
    }
    struct sqlite_conn *c = st->writer;
    int rc = exec_stmt(c, S_BEGIN, err);
    if (rc != 0) {
        pthread_mutex_unlock(&st->write_mu);
        return rc;
    }
    c->in_tx = true;
    own->group = c;
    return 0;
}

/* On failure the whole group is rolled back and closed, so the caller never has to call rollback. */
static int sq_commit(struct store_conn *base, struct errbuf *err)
{
    struct sqlite_conn *own = (struct sqlite_conn *)base;
    struct sqlite_conn *c = own->group;
    if (c == NULL || !c->in_tx) {
        errbuf_set(err, "sqlite: commit: no transaction is open on this connection");
        return ERR_FAIL;
    }
    own->group = NULL;
    c->in_tx = false;
    return op_end(c, true, err); /* releases write_mu: the writer is the next group's from here */
}

static void sq_rollback(struct store_conn *base)
{
    struct sqlite_conn *own = (struct sqlite_conn *)base;
    struct sqlite_conn *c = own->group;
    if (c == NULL || !c->in_tx)
        return;
    own->group = NULL;
    c->in_tx = false;
    op_end(c, false, NULL);
}

/* ---- clients ---- */

static int sq_client_get(struct store_conn *base, struct arena *a, const char *client_id,
                         struct store_client *out, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_CLIENT_GET, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, client_id);
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        read_client(s, a, out);
    else if (rc == SQLITE_DONE)
        ret = ERR_NOTFOUND;
    else
        ret = fail(c, rc, "client_get", err);
    sqlite3_reset(s);
    return ret;
}

static int sq_client_put(struct store_conn *base, const struct store_client *cl, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_CLIENT_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, cl->client_id);
    if (cl->has_secret)
        bind_hash(s, 2, cl->secret_hash);
    else
        sqlite3_bind_null(s, 2);
    bind_text(s, 3, cl->metadata);
    sqlite3_bind_int(s, 4, cl->from_config ? 1 : 0);
    sqlite3_bind_int64(s, 5, cl->created_at);
    sqlite3_bind_int64(s, 6, cl->updated_at);
    if (cl->secret_enc != NULL && cl->secret_enc_len > 0)
        sqlite3_bind_blob(s, 7, cl->secret_enc, (int)cl->secret_enc_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    bind_text(s, 8, store_client_origin(cl));
    if (cl->has_reg_token)
        bind_hash(s, 9, cl->reg_token_hash);
    else
        sqlite3_bind_null(s, 9);
    return write_one(c, s, "client_put", NULL, err);
}

static int sq_client_delete(struct store_conn *base, const char *client_id, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_CLIENT_DELETE, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, client_id);
    int changes = 0;
    int rc = write_one(c, s, "client_delete", &changes, err);
    if (rc == 0 && changes == 0)
        return ERR_NOTFOUND;
    return rc;
}

static void read_client_any(sqlite3_stmt *s, struct arena *a, void *out)
{
    read_client(s, a, out);
}

static int sq_client_list(struct store_conn *base, struct arena *a, struct store_client **out, size_t *n,
                          struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_CLIENT_LIST, err);
    if (s == NULL)
        return ERR_FAIL;
    return select_all(c, s, a, read_client_any, sizeof(**out), (void **)out, n, "client_list", err);
}

static int sq_client_meta_has(struct store_conn *base, const char *member, const char *value, bool *found,
                              struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *found = false;
    size_t n = strlen(member);
    if (n == 0 || n > 64 || strspn(member, "abcdefghijklmnopqrstuvwxyz0123456789_") != n) {
        errbuf_set(err, "sqlite: client_meta_has: '%s' is not a metadata member name", member);
        return ERR_INVALID;
    }
    char path[72];
    snprintf(path, sizeof(path), "$.%s", member);
    sqlite3_stmt *s = stmt_get(c, S_CLIENT_META_HAS, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, path);
    bind_text(s, 2, value);
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        *found = sqlite3_column_int(s, 0) != 0;
    else
        ret = fail(c, rc, "client_meta_has", err);
    sqlite3_reset(s);
    return ret;
}

/* ---- tokens ---- */

/* Binds the row of token_put to the cached INSERT. */
static void bind_token_put(sqlite3_stmt *s, const struct store_token *t)
{
    bind_hash(s, 1, t->hash);
    sqlite3_bind_int(s, 2, t->kind);
    bind_text(s, 3, t->client_id);
    bind_text(s, 4, t->sub);
    bind_text(s, 5, t->scope);
    bind_text(s, 6, t->aud);
    bind_text(s, 7, t->jti);
    bind_text(s, 8, t->grant_id);
    bind_text(s, 9, t->data);
    sqlite3_bind_int64(s, 10, t->iat);
    sqlite3_bind_int64(s, 11, t->exp);
    sqlite3_bind_int64(s, 12, t->revoked_at);
    sqlite3_bind_int64(s, 13, t->consumed_at);
}

static int sq_token_put(struct store_conn *base, const struct store_token *t, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_token_put(s, t);
    return write_one(c, s, "token_put", NULL, err);
}

/* Reads the token row by hash with the cached SELECT: 0, ERR_NOTFOUND or ERR_FAIL. */
static int token_fetch(struct sqlite_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                       struct store_token *out, struct errbuf *err)
{
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_GET, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_hash(s, 1, hash);
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        read_token(s, a, out);
    else if (rc == SQLITE_DONE)
        ret = ERR_NOTFOUND;
    else
        ret = fail(c, rc, "token_get", err);
    sqlite3_reset(s);
    return ret;
}

static int sq_token_get(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                        struct store_token *out, struct errbuf *err)
{
    return token_fetch(conn_of(base), a, hash, out, err);
}

static int sq_token_get_user(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                             struct store_token *out, struct store_user *user, bool *has_user, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *has_user = false;
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_GET_USER, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_hash(s, 1, hash);
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        read_token(s, a, out);
        *has_user = sqlite3_column_type(s, 15) != SQLITE_NULL;
        if (*has_user)
            read_user_at(s, 15, a, user);
    } else if (rc == SQLITE_DONE) {
        ret = ERR_NOTFOUND;
    } else {
        ret = fail(c, rc, "token_get_user", err);
    }
    sqlite3_reset(s);
    return ret;
}

/* The conditional UPDATE is the atomic step: under BEGIN IMMEDIATE only one caller can move consumed_at
 * off 0, whatever the number of threads or processes. The SELECT that follows, in the same transaction,
 * returns the row on success and tells NOTFOUND from CONFLICT otherwise. A consumed row is a CONFLICT even
 * if it has since expired or been revoked: it is a replay, which the caller answers by revoking the grant
 * (RFC 6749 §4.1.2, RFC 9700 §4.14.2). */
static int consume_in_tx(struct sqlite_conn *c, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                         int64_t now, struct store_token *out, struct errbuf *err)
{
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_CONSUME, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    bind_hash(s, 2, hash);
    sqlite3_bind_int(s, 3, kind);
    int rc = step_done(c, s, "token_consume", err);
    if (rc == 0) {
        bool won = sqlite3_changes(c->db) == 1;
        rc = token_fetch(c, a, hash, out, err);
        if (rc == 0 && !won)
            rc = out->kind == kind && out->consumed_at != 0 ? ERR_CONFLICT : ERR_NOTFOUND;
        if (rc == ERR_NOTFOUND)
            memset(out, 0, sizeof(*out)); /* never hand back a row of another kind */
    }
    return rc;
}

static int sq_token_consume(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN],
                            int kind, int64_t now, struct store_token *out, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    if (stmt_get(c, S_TOKEN_CONSUME, err) == NULL || stmt_get(c, S_TOKEN_GET, err) == NULL)
        return ERR_FAIL;
    int rc = op_begin(c, err);
    if (rc != 0)
        return rc;
    rc = consume_in_tx(c, a, hash, kind, now, out, err);
    int end = op_end(c, rc != ERR_FAIL, err);
    return end != 0 ? end : rc;
}

/* token_consume's transaction (BEGIN IMMEDIATE under the write mutex) carrying the successor link and the
 * new rows as well: committed only when the consume won. */
static int sq_token_redeem(struct store_conn *base, struct arena *a, const uint8_t hash[STORE_HASH_LEN], int kind,
                           int64_t now, const uint8_t *successor, const struct store_token *puts, size_t n,
                           struct store_token *out, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    memset(out, 0, sizeof(*out));
    if (c->in_tx) {
        errbuf_set(err, "sqlite: token_redeem: not inside a transaction group");
        return ERR_FAIL;
    }
    sqlite3_stmt *put = stmt_get(c, S_TOKEN_PUT, err);
    sqlite3_stmt *link = stmt_get(c, S_TOKEN_SET_SUCCESSOR, err);
    if (put == NULL || link == NULL || stmt_get(c, S_TOKEN_CONSUME, err) == NULL ||
        stmt_get(c, S_TOKEN_GET, err) == NULL)
        return ERR_FAIL;
    int rc = op_begin(c, err);
    if (rc != 0)
        return rc;
    rc = consume_in_tx(c, a, hash, kind, now, out, err);
    if (rc == 0 && successor != NULL) {
        bind_hash(link, 1, hash);
        bind_hash(link, 2, successor);
        sqlite3_bind_int64(link, 3, 0);
        rc = step_done(c, link, "token_redeem: successor", err);
        if (rc == 0) {
            memcpy(out->successor, successor, STORE_HASH_LEN);
            out->has_successor = true;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bind_token_put(put, &puts[i]);
        rc = step_done(c, put, "token_redeem: token_put", err);
        if (rc == ERR_CONFLICT)
            rc = ERR_FAIL; /* a duplicate new row, not the lost race ERR_CONFLICT means here */
    }
    int end = op_end(c, rc == 0, err);
    return end != 0 ? end : rc;
}

/* Revoking an unknown or already revoked token succeeds: the result is the same (RFC 7009 §2.2). */
static int sq_token_revoke(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN], int64_t now,
                           struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_REVOKE, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    bind_hash(s, 2, hash);
    return write_one(c, s, "token_revoke", NULL, err);
}

/* As token_consume: the conditional UPDATE decides, under BEGIN IMMEDIATE; the read that follows a
 * change of nothing tells an absent or expired row (NOTFOUND) from a settled one (CONFLICT). */
static int sq_token_settle(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN], int kind, const char *sub,
                           const char *scope, const char *data, int64_t now, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_SETTLE, err);
    if (s == NULL || stmt_get(c, S_TOKEN_GET, err) == NULL)
        return ERR_FAIL;
    struct arena *a = arena_new(1024);
    int rc = op_begin(c, err);
    if (rc == 0) {
        sqlite3_bind_int64(s, 1, now);
        bind_hash(s, 2, hash);
        sqlite3_bind_int(s, 3, kind);
        bind_text(s, 4, sub);
        bind_text(s, 5, scope);
        bind_text(s, 6, data);
        rc = step_done(c, s, "token_settle", err);
        if (rc == 0 && sqlite3_changes(c->db) == 0) {
            struct store_token t;
            rc = token_fetch(c, a, hash, &t, err);
            if (rc == 0)
                rc = t.kind == kind && t.exp > now ? ERR_CONFLICT : ERR_NOTFOUND;
        }
        int end = op_end(c, rc == 0, err);
        if (end != 0)
            rc = end;
    }
    arena_free(a);
    return rc;
}

static int sq_token_set_successor(struct store_conn *base, const uint8_t hash[STORE_HASH_LEN],
                                  const uint8_t successor[STORE_HASH_LEN], int64_t retried_at, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_SET_SUCCESSOR, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_hash(s, 1, hash);
    bind_hash(s, 2, successor);
    sqlite3_bind_int64(s, 3, retried_at);
    int changes = 0;
    int rc = write_one(c, s, "token_set_successor", &changes, err);
    if (rc == 0 && changes == 0)
        return ERR_NOTFOUND;
    return rc;
}

static int sq_grant_revoke(struct store_conn *base, const char *grant_id, int64_t now, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_GRANT_REVOKE, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, grant_id);
    return write_one(c, s, "grant_revoke", NULL, err);
}

/* ---- single-use values ---- */

static int sq_single_use_put(struct store_conn *base, const uint8_t key[STORE_HASH_LEN], int64_t exp, int64_t now,
                             struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_SINGLE_USE_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_hash(s, 1, key);
    sqlite3_bind_int64(s, 2, exp);
    sqlite3_bind_int64(s, 3, now);
    int changes = 0;
    int rc = write_one(c, s, "single_use_put", &changes, err);
    return rc == 0 && changes == 0 ? ERR_CONFLICT : rc;
}

/* ---- revoked jtis ---- */

static int sq_jti_revoke(struct store_conn *base, const char *jti, int64_t exp, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_JTI_REVOKE, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, jti);
    sqlite3_bind_int64(s, 2, exp);
    return write_one(c, s, "jti_revoke", NULL, err);
}

static int sq_jti_is_revoked(struct store_conn *base, const char *jti, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_JTI_CHECK, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, jti);
    int rc = sqlite3_step(s);
    int ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : fail(c, rc, "jti_is_revoked", err);
    sqlite3_reset(s);
    return ret;
}

/* ---- keys ---- */

static int sq_key_put(struct store_conn *base, const struct store_key *k, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_KEY_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, k->kid);
    bind_text(s, 2, k->alg);
    /* A zero-length blob with a NULL pointer would bind SQL NULL; the column is NOT NULL. */
    sqlite3_bind_blob(s, 3, k->priv_enc != NULL ? (const void *)k->priv_enc : "", (int)k->priv_enc_len,
                      SQLITE_STATIC);
    bind_text(s, 4, k->public_jwk);
    sqlite3_bind_int64(s, 5, k->created_at);
    sqlite3_bind_int64(s, 6, k->sign_from);
    sqlite3_bind_int64(s, 7, k->retired_at);
    sqlite3_bind_int64(s, 8, k->unpublish_at);
    return write_one(c, s, "key_put", NULL, err);
}

static void read_key_any(sqlite3_stmt *s, struct arena *a, void *out)
{
    read_key(s, a, out);
}

/* In a group (BEGIN IMMEDIATE, under write_mu) the listing already holds the write lock: the key set is
 * locked until the group ends, as store.h asks. */
static int sq_key_list(struct store_conn *base, struct arena *a, struct store_key **out, size_t *n,
                       struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_KEY_LIST, err);
    if (s == NULL)
        return ERR_FAIL;
    return select_all(c, s, a, read_key_any, sizeof(**out), (void **)out, n, "key_list", err);
}

/* ---- users and consents ---- */

static void read_consent(sqlite3_stmt *s, struct arena *a, struct store_consent *out)
{
    memset(out, 0, sizeof(*out));
    out->user_id = col_text(s, 0, a);
    out->client_id = col_text(s, 1, a);
    out->scope = col_text(s, 2, a);
    out->resources = col_text(s, 3, a);
    out->created_at = sqlite3_column_int64(s, 4);
    out->updated_at = sqlite3_column_int64(s, 5);
}

/* Runs a bound single-row SELECT: 0 with the row read by `read`, ERR_NOTFOUND, or ERR_FAIL. */
static int select_one(struct sqlite_conn *c, sqlite3_stmt *s, struct arena *a,
                      void (*read)(sqlite3_stmt *s, struct arena *a, void *out), void *out, const char *what,
                      struct errbuf *err)
{
    int rc = sqlite3_step(s);
    int ret = 0;
    if (rc == SQLITE_ROW)
        read(s, a, out);
    else if (rc == SQLITE_DONE)
        ret = ERR_NOTFOUND;
    else
        ret = fail(c, rc, what, err);
    sqlite3_reset(s);
    return ret;
}

static void read_user_any(sqlite3_stmt *s, struct arena *a, void *out)
{
    read_user(s, a, out);
}

static void read_consent_any(sqlite3_stmt *s, struct arena *a, void *out)
{
    read_consent(s, a, out);
}

static int sq_user_get(struct store_conn *base, struct arena *a, const char *id, struct store_user *out,
                       struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_USER_GET, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, id);
    return select_one(c, s, a, read_user_any, out, "user_get", err);
}

static int sq_user_get_by_name(struct store_conn *base, struct arena *a, const char *username,
                               struct store_user *out, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_USER_GET_BY_NAME, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, username);
    return select_one(c, s, a, read_user_any, out, "user_get_by_name", err);
}

/* The UNIQUE constraint on username, outside the ON CONFLICT (id) target, fails the statement: that is
 * the ERR_CONFLICT of a username taken by another id. */
static int sq_user_put(struct store_conn *base, const struct store_user *u, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_USER_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, u->id);
    bind_text(s, 2, u->username);
    bind_text(s, 3, u->password_hash);
    bind_text(s, 4, u->claims != NULL ? u->claims : "{}");
    sqlite3_bind_int(s, 5, u->disabled ? 1 : 0);
    sqlite3_bind_int(s, 6, u->from_config ? 1 : 0);
    sqlite3_bind_int64(s, 7, u->created_at);
    sqlite3_bind_int64(s, 8, u->updated_at);
    bind_text(s, 9, u->config_pw_mac);
    return write_one(c, s, "user_put", NULL, err);
}

static int sq_user_delete(struct store_conn *base, const char *id, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_USER_DELETE, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, id);
    int changes = 0;
    int rc = write_one(c, s, "user_delete", &changes, err);
    if (rc == 0 && changes == 0)
        return ERR_NOTFOUND;
    return rc;
}

static int sq_user_list(struct store_conn *base, struct arena *a, struct store_user **out, size_t *n,
                        struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_USER_LIST, err);
    if (s == NULL)
        return ERR_FAIL;
    return select_all(c, s, a, read_user_any, sizeof(**out), (void **)out, n, "user_list", err);
}

static int sq_consent_get(struct store_conn *base, struct arena *a, const char *user_id, const char *client_id,
                          struct store_consent *out, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_CONSENT_GET, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, user_id);
    bind_text(s, 2, client_id);
    return select_one(c, s, a, read_consent_any, out, "consent_get", err);
}

static int sq_consent_put(struct store_conn *base, const struct store_consent *cs, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_CONSENT_PUT, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, cs->user_id);
    bind_text(s, 2, cs->client_id);
    bind_text(s, 3, cs->scope != NULL ? cs->scope : "");
    bind_text(s, 4, cs->resources != NULL ? cs->resources : "");
    sqlite3_bind_int64(s, 5, cs->created_at);
    sqlite3_bind_int64(s, 6, cs->updated_at);
    return write_one(c, s, "consent_put", NULL, err);
}

/* One consent (ERR_NOTFOUND if absent), or with client_id NULL all of the user's (0 even if none). */
static int sq_consent_delete(struct store_conn *base, const char *user_id, const char *client_id,
                             struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, client_id != NULL ? S_CONSENT_DELETE : S_CONSENT_DELETE_ALL, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, user_id);
    if (client_id != NULL)
        bind_text(s, 2, client_id);
    int changes = 0;
    int rc = write_one(c, s, "consent_delete", &changes, err);
    if (rc == 0 && changes == 0 && client_id != NULL)
        return ERR_NOTFOUND;
    return rc;
}

static int sq_consent_list(struct store_conn *base, struct arena *a, const char *user_id,
                           struct store_consent **out, size_t *n, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_CONSENT_LIST, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, user_id);
    return select_all(c, s, a, read_consent_any, sizeof(**out), (void **)out, n, "consent_list", err);
}

/* Live tokens only: an expired one is already dead and is left to gc. A revoked one keeps its time. */
static int sq_token_revoke_sub(struct store_conn *base, const char *sub, int kind, int64_t now,
                               struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_REVOKE_SUB, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, sub);
    sqlite3_bind_int(s, 3, kind);
    return write_one(c, s, "token_revoke_sub", NULL, err);
}

static int sq_token_list_sub(struct store_conn *base, struct arena *a, const char *sub, int kind, int64_t now,
                             size_t limit, struct store_token **out, size_t *n, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_LIST_SUB, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, sub);
    sqlite3_bind_int(s, 2, kind);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    struct store_token *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        v = grow(a, v, len, &cap, sizeof(*v));
        read_token(s, a, &v[len++]);
    }
    int ret = rc == SQLITE_DONE ? 0 : fail(c, rc, "token_list_sub", err);
    sqlite3_reset(s);
    if (ret == 0) {
        *out = v;
        *n = len;
    }
    return ret;
}

static int sq_token_revoke_client(struct store_conn *base, const char *client_id, int64_t now,
                                  struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_REVOKE_CLIENT, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    bind_text(s, 2, client_id);
    return write_one(c, s, "token_revoke_client", NULL, err);
}

/* ---- garbage collection ---- */

/* Tokens first (the bulk), then revoked jtis, single-use values, keys, sharing one budget of `limit` rows, in one transaction.
 * A pass that returns *removed == limit probably left work for the next one. */
static int sq_gc(struct store_conn *base, int64_t now, int limit, int *removed, struct errbuf *err)
{
    static const enum stmt_id passes[] = {S_GC_TOKENS, S_GC_JTI, S_GC_SINGLE_USE, S_GC_KEYS};
#define N_GC_PASSES (int)(sizeof(passes) / sizeof(passes[0]))
    struct sqlite_conn *c = conn_of(base);
    *removed = 0;
    if (limit <= 0)
        return 0;
    sqlite3_stmt *s[N_GC_PASSES];
    for (int i = 0; i < N_GC_PASSES; i++) {
        s[i] = stmt_get(c, passes[i], err);
        if (s[i] == NULL)
            return ERR_FAIL;
    }
    int rc = op_begin(c, err);
    if (rc != 0)
        return rc;
    int total = 0;
    for (int i = 0; i < N_GC_PASSES && rc == 0 && total < limit; i++) {
        sqlite3_bind_int64(s[i], 1, now);
        sqlite3_bind_int(s[i], 2, limit - total);
        rc = step_done(c, s[i], stmt_sql[passes[i]], err);
        if (rc == 0)
            total += sqlite3_changes(c->db);
    }
    int end = op_end(c, rc == 0, err);
    if (rc == 0 && end == 0)
        *removed = total;
    return rc != 0 ? rc : end;
}

/* ---- copying ---- */

static void read_token_any(sqlite3_stmt *s, struct arena *a, void *out)
{
    read_token(s, a, out);
}

static int sq_token_scan(struct store_conn *base, struct arena *a, const uint8_t *after, int64_t now, int limit,
                         struct store_token **out, size_t *n, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_TOKEN_SCAN, err);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_blob(s, 1, after != NULL ? (const void *)after : "", after != NULL ? STORE_HASH_LEN : 0,
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, limit);
    return select_all(c, s, a, read_token_any, sizeof(**out), (void **)out, n, "token_scan", err);
}

static void read_jti(sqlite3_stmt *s, struct arena *a, void *outp)
{
    struct store_jti *out = outp;
    out->jti = col_text(s, 0, a);
    out->exp = sqlite3_column_int64(s, 1);
}

static int sq_jti_scan(struct store_conn *base, struct arena *a, const char *after, int64_t now, int limit,
                       struct store_jti **out, size_t *n, struct errbuf *err)
{
    struct sqlite_conn *c = conn_of(base);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s = stmt_get(c, S_JTI_SCAN, err);
    if (s == NULL)
        return ERR_FAIL;
    bind_text(s, 1, after != NULL ? after : "");
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, limit);
    return select_all(c, s, a, read_jti, sizeof(**out), (void **)out, n, "jti_scan", err);
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .group_commit = true,
    .open = sq_open,
    .close = sq_close,
    .migrate = sq_migrate,
    .check = sq_check,
    .conn_open = sq_conn_open,
    .conn_close = sq_conn_close,
    .ping = sq_ping,
    .round_trips = sq_round_trips,
    .loop_reads = sq_loop_reads,
    .turn_end = sq_turn_end,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .client_get = sq_client_get,
    .client_put = sq_client_put,
    .client_delete = sq_client_delete,
    .client_list = sq_client_list,
    .client_meta_has = sq_client_meta_has,
    .token_put = sq_token_put,
    .token_get = sq_token_get,
    .token_get_user = sq_token_get_user,
    .token_consume = sq_token_consume,
    .token_redeem = sq_token_redeem,
    .token_revoke = sq_token_revoke,
    .token_settle = sq_token_settle,
    .token_set_successor = sq_token_set_successor,
    .grant_revoke = sq_grant_revoke,
    .single_use_put = sq_single_use_put,
    .jti_revoke = sq_jti_revoke,
    .jti_is_revoked = sq_jti_is_revoked,
    .key_put = sq_key_put,
    .key_list = sq_key_list,
    .user_get = sq_user_get,
    .user_get_by_name = sq_user_get_by_name,
    .user_put = sq_user_put,
    .user_delete = sq_user_delete,
    .user_list = sq_user_list,
    .consent_get = sq_consent_get,
    .consent_put = sq_consent_put,
    .consent_delete = sq_consent_delete,
    .consent_list = sq_consent_list,
    .token_revoke_sub = sq_token_revoke_sub,
    .token_list_sub = sq_token_list_sub,
    .token_revoke_client = sq_token_revoke_client,
    .wal_bytes = sq_wal_bytes,
    .gc = sq_gc,
    .token_scan = sq_token_scan,
    .jti_scan = sq_jti_scan,
};
