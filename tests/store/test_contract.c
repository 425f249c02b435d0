/* test_contract.c: the store.h contract, run against a fresh database per test: a SQLite file in a temporary
 * directory, or, when OSTIARY_TEST_PG_URL names a PostgreSQL server (postgres://user@host:port, no database;
 * scripts/pg-test-cluster.sh starts one), a new database on it, dropped afterwards. Only the tests named
 * sqlite_* and pg_* know which backend runs (and skip themselves on the other); the others must pass
 * unchanged on every backend. Leaves out performance (bench/store_bench.c) and OS-crash durability. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/arena.h"
#include "core/err.h"
#include "store/store.h"

#include "harness.h"

#include "core/banned.h"

/* The number of SQLite migrations (store/migrations/sqlite_migrations.c): a new store applies them all. */
extern const size_t sqlite_migrations_count;

/* ---- fixture: a migrated database in a temporary directory, one connection, one arena ---- */

struct fx {
    char dir[64];
    char path[128];
    char dsn[512];
    char dbname[64]; /* PostgreSQL: the test's database */
    struct store *st;
    struct store_conn *c;
    struct arena *a;
    struct errbuf err;
};

/* The PostgreSQL server to test on, or NULL for SQLite. */
static const char *pg_url(void)
{
    const char *u = getenv("OSTIARY_TEST_PG_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

#define ONLY_ON(sqlite_wanted)                                                                               \
    do {                                                                                                     \
        if ((pg_url() == NULL) != (sqlite_wanted)) {                                                        \
            fprintf(stderr, "  skipped: %s only\n", (sqlite_wanted) ? "SQLite" : "PostgreSQL");              \
            return;                                                                                          \
        }                                                                                                    \
    } while (0)

/* Runs one statement on database `db` of the server (pg_admin: on the maintenance database, for
 * CREATE/DROP DATABASE, pg_terminate_backend). 0, or -1 with the message in err. */
static int pg_admin_db(const char *db, const char *sql, struct errbuf *err)
{
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "%s/%s", pg_url(), db);
    PGconn *pg = PQconnectdb(dsn);
    int rc = -1;
    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *r = PQexec(pg, sql);
        ExecStatusType s = PQresultStatus(r);
        rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
        if (rc != 0 && err != NULL)
            snprintf(err->msg, sizeof(err->msg), "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    } else if (err != NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return rc;
}

static int pg_admin(const char *sql, struct errbuf *err)
{
    return pg_admin_db("postgres", sql, err);
}

static void fx_remove_files(struct fx *f)
{
    if (f->dbname[0] != '\0') {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", f->dbname);
        pg_admin(sql, NULL);
        return;
    }
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal", ".store-id", ".store-id.tmp"};
    char p[192];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

/* Closes the connection and the store, keeping the files. */
static void fx_detach(struct fx *f)
{
    if (f->c != NULL)
        store_conn_close(f->c);
    if (f->st != NULL)
        store_close(f->st);
    f->c = NULL;
    f->st = NULL;
}

/* Opens (or reopens) f->dsn, migrates and opens a connection. *applied may be NULL. */
static int fx_attach(struct fx *f, int *applied)
{
    int n = 0;
    if (store_open(f->dsn, &f->st, &f->err) != 0)
        return -1;
    if (store_migrate(f->st, &n, &f->err) != 0 || store_conn_open(f->st, &f->c, &f->err) != 0) {
        fx_detach(f);
        return -1;
    }
    if (applied != NULL)
        *applied = n;
    return 0;
}

/* A fresh, empty database: a file in a new directory, or a new PostgreSQL database. */
static int fx_create(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    if (pg_url() != NULL) {
        static int seq;
        snprintf(f->dbname, sizeof(f->dbname), "ostiary_ct_%d_%d", (int)getpid(), ++seq);
        char sql[128];
        snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->dbname);
        if (pg_admin(sql, &f->err) != 0) {
            f->dbname[0] = '\0';
            return -1;
        }
        snprintf(f->dsn, sizeof(f->dsn), "%s/%s", pg_url(), f->dbname);
        return 0;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/ostiary-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        snprintf(f->err.msg, sizeof(f->err.msg), "mkdtemp: %s", strerror(errno));
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/ostiary.db", f->dir);
    snprintf(f->dsn, sizeof(f->dsn), "sqlite:%s", f->path);
    return 0;
}

static int fx_open(struct fx *f)
{
    if (fx_create(f) != 0)
        return -1;
    int applied = 0;
    if (fx_attach(f, &applied) != 0 || applied < 1) {
        fx_remove_files(f);
        return -1;
    }
    f->a = arena_new(4096);
    return 0;
}

static void fx_close(struct fx *f)
{
    fx_detach(f);
    arena_free(f->a);
    fx_remove_files(f);
}

/* STORE_TEST(name) { ... } runs the body on a fresh fixture `f` and always tears it down, even when an
 * ASSERT in the body returns early. */
#define STORE_TEST(name)                                                                                     \
    static void body_##name(struct fx *f);                                                                   \
    TEST(name)                                                                                               \
    {                                                                                                        \
        struct fx fx_;                                                                                       \
        int open_rc_ = fx_open(&fx_);                                                                        \
        if (open_rc_ != 0)                                                                                   \
            fprintf(stderr, "  fixture: %s\n", fx_.err.msg);                                                 \
        ASSERT_EQ(open_rc_, 0);                                                                              \
        body_##name(&fx_);                                                                                   \
        fx_close(&fx_);                                                                                      \
    }                                                                                                        \
    static void body_##name(struct fx *f)

#define OK(call)                                                                                             \
    do {                                                                                                     \
        int ok_rc_ = (call);                                                                                 \
        if (ok_rc_ != 0)                                                                                     \
            fprintf(stderr, "  %s -> %d: %s\n", #call, ok_rc_, f->err.msg);                                  \
        ASSERT_EQ(ok_rc_, 0);                                                                                \
    } while (0)

static void hash_of(const char *secret, uint8_t out[STORE_HASH_LEN])
{
    store_hash(secret, strlen(secret), out);
}

static struct store_token token(const char *secret, int kind, const char *grant_id, int64_t exp)
{
    struct store_token t = {
        .kind = kind,
        .client_id = "app",
        .sub = "user-1",
        .scope = "openid profile",
        .aud = "urn:api",
        .jti = NULL,
        .grant_id = grant_id,
        .data = "{\"nonce\":\"n-0S6\"}",
        .iat = 1000,
        .exp = exp,
    };
    hash_of(secret, t.hash);
    return t;
}

/* ---- clients ---- */

STORE_TEST(client_crud)
{
    struct store_client cl = {
        .client_id = "app",
        .has_secret = true,
        .metadata = "{\"client_name\":\"App\"}",
        .created_at = 100,
        .updated_at = 100,
        .from_config = true,
    };
    hash_of("s3cret", cl.secret_hash);
    OK(store_client_put(f->c, &cl, &f->err));

    struct store_client got;
    OK(store_client_get(f->c, f->a, "app", &got, &f->err));
    ASSERT_STREQ(got.client_id, "app");
    ASSERT_STREQ(got.metadata, "{\"client_name\":\"App\"}");
    ASSERT(got.has_secret);
    ASSERT(memcmp(got.secret_hash, cl.secret_hash, STORE_HASH_LEN) == 0);
    ASSERT(got.from_config);
    ASSERT_EQ(got.created_at, 100);

    /* Upsert: new metadata, no secret; the first created_at stays. */
    cl.has_secret = false;
    cl.metadata = "{\"client_name\":\"App 2\"}";
    cl.from_config = false;
    cl.created_at = 200;
    cl.updated_at = 200;
    OK(store_client_put(f->c, &cl, &f->err));
    OK(store_client_get(f->c, f->a, "app", &got, &f->err));
    ASSERT_STREQ(got.metadata, "{\"client_name\":\"App 2\"}");
    ASSERT(!got.has_secret);
    ASSERT(!got.from_config);
    ASSERT_EQ(got.created_at, 100);
    ASSERT_EQ(got.updated_at, 200);

    struct store_client other = {.client_id = "another", .metadata = "{}", .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &other, &f->err));
    struct store_client *list;
    size_t n;
    OK(store_client_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].client_id, "another");
    ASSERT_STREQ(list[1].client_id, "app");
    ASSERT_STREQ(list[1].metadata, "{\"client_name\":\"App 2\"}");

    OK(store_client_delete(f->c, "app", &f->err));
    ASSERT_EQ(store_client_get(f->c, f->a, "app", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_client_delete(f->c, "app", &f->err), ERR_NOTFOUND);
    OK(store_client_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(list[0].client_id, "another");
}

STORE_TEST(client_list_many)
{
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "client-%02d", i);
        struct store_client cl = {.client_id = id, .metadata = "{}", .created_at = i, .updated_at = i};
        OK(store_client_put(f->c, &cl, &f->err));
    }
    struct store_client *list;
    size_t n;
    OK(store_client_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 40);
    ASSERT_STREQ(list[0].client_id, "client-00");
    ASSERT_STREQ(list[39].client_id, "client-39");
    ASSERT_EQ(list[39].created_at, 39);
}

/* client_meta_has: does any client's metadata have a value in a member (what discovery asks every few
 * seconds: does any client allow the plain PKCE method). */
STORE_TEST(client_meta_has)
{
    bool found = true;
    OK(store_client_meta_has(f->c, "pkce_methods", "plain", &found, &f->err));
    ASSERT(!found); /* no clients at all */
    struct store_client cl = {.client_id = "s256", .metadata = "{\"pkce_methods\":[\"S256\"],\"plain\":\"plain\"}",
                              .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &cl, &f->err));
    struct store_client junk = {.client_id = "junk", .metadata = "not json", .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &junk, &f->err));
    struct store_client num = {.client_id = "num", .metadata = "{\"pkce_methods\":[1,{\"plain\":1},[\"plain\"]]}",
                               .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &num, &f->err));
    OK(store_client_meta_has(f->c, "pkce_methods", "plain", &found, &f->err));
    ASSERT(!found); /* another member's value, nested values and unreadable metadata do not count */
    OK(store_client_meta_has(f->c, "pkce_methods", "S256", &found, &f->err));
    ASSERT(found);
    OK(store_client_meta_has(f->c, "plain", "plain", &found, &f->err)); /* a string member */
    ASSERT(found);

    cl.client_id = "both";
    cl.metadata = "{\"pkce_methods\":[\"S256\",\"plain\"]}";
    OK(store_client_put(f->c, &cl, &f->err));
    OK(store_client_meta_has(f->c, "pkce_methods", "plain", &found, &f->err));
    ASSERT(found);
    OK(store_client_meta_has(f->c, "pkce_methods", "PLAIN", &found, &f->err));
    ASSERT(!found); /* exact, case-sensitive */
    OK(store_client_delete(f->c, "both", &f->err));
    OK(store_client_meta_has(f->c, "pkce_methods", "plain", &found, &f->err));
    ASSERT(!found);

    /* Only a plain member name: no JSON path syntax gets through. */
    ASSERT_EQ(store_client_meta_has(f->c, "pkce_methods[0]", "plain", &found, &f->err), ERR_INVALID);
    ASSERT_EQ(store_client_meta_has(f->c, "a.b", "plain", &found, &f->err), ERR_INVALID);
    ASSERT_EQ(store_client_meta_has(f->c, "", "plain", &found, &f->err), ERR_INVALID);
}

/* ---- tokens ---- */

STORE_TEST(token_put_get)
{
    struct store_token t = token("refresh-1", STORE_TOKEN_REFRESH, "grant-1", 5000);
    t.jti = "jti-1";
    OK(store_token_put(f->c, &t, &f->err));

    struct store_token got;
    OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
    ASSERT(memcmp(got.hash, t.hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.kind, STORE_TOKEN_REFRESH);
    ASSERT_STREQ(got.client_id, "app");
    ASSERT_STREQ(got.sub, "user-1");
    ASSERT_STREQ(got.scope, "openid profile");
    ASSERT_STREQ(got.aud, "urn:api");
    ASSERT_STREQ(got.jti, "jti-1");
    ASSERT_STREQ(got.grant_id, "grant-1");
    ASSERT_STREQ(got.data, "{\"nonce\":\"n-0S6\"}");
    ASSERT_EQ(got.iat, 1000);
    ASSERT_EQ(got.exp, 5000);
    ASSERT_EQ(got.revoked_at, 0);
    ASSERT_EQ(got.consumed_at, 0);

    /* Optional fields come back as NULL; an empty scope stays "". */
    struct store_token cc = token("access-cc", STORE_TOKEN_ACCESS, NULL, 5000);
    cc.sub = NULL;
    cc.aud = NULL;
    cc.data = NULL;
    cc.scope = "";
    OK(store_token_put(f->c, &cc, &f->err));
    OK(store_token_get(f->c, f->a, cc.hash, &got, &f->err));
    ASSERT(got.sub == NULL && got.aud == NULL && got.jti == NULL && got.grant_id == NULL && got.data == NULL);
    ASSERT_STREQ(got.scope, "");

    /* The hash is the key: a second token with the same hash is refused. */
    ASSERT_EQ(store_token_put(f->c, &t, &f->err), ERR_CONFLICT);

    uint8_t unknown[STORE_HASH_LEN];
    hash_of("never issued", unknown);
    ASSERT_EQ(store_token_get(f->c, f->a, unknown, &got, &f->err), ERR_NOTFOUND);
}

STORE_TEST(token_consume_once)
{
    struct store_token t = token("code-1", STORE_TOKEN_CODE, "grant-1", 2000);
    OK(store_token_put(f->c, &t, &f->err));

    struct store_token got;
    OK(store_token_consume(f->c, f->a, t.hash, STORE_TOKEN_CODE, 1500, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT_STREQ(got.client_id, "app");
    ASSERT_STREQ(got.grant_id, "grant-1");
    ASSERT_STREQ(got.data, "{\"nonce\":\"n-0S6\"}");

    /* The replay gets the row, so the caller can revoke what the first redemption produced. */
    memset(&got, 0, sizeof(got));
    ASSERT_EQ(store_token_consume(f->c, f->a, t.hash, STORE_TOKEN_CODE, 1600, &got, &f->err), ERR_CONFLICT);
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT_STREQ(got.grant_id, "grant-1");
    ASSERT_EQ(got.kind, STORE_TOKEN_CODE);

    /* Still a replay once it has expired. */
    ASSERT_EQ(store_token_consume(f->c, f->a, t.hash, STORE_TOKEN_CODE, 9999, &got, &f->err), ERR_CONFLICT);

    OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
}

/* Where a client came from and the registration access token hash (RFC 7592) round-trip, and an upsert
 * replaces both; a row written without an origin gets "config" or "operator" by from_config. */
STORE_TEST(client_origin_and_registration_token)
{
    struct store_client cl = {.client_id = "reg", .metadata = "{}", .created_at = 1, .updated_at = 1,
                              .origin = "registration", .has_reg_token = true};
    hash_of("registration access token", cl.reg_token_hash);
    OK(store_client_put(f->c, &cl, &f->err));
    struct store_client got;
    OK(store_client_get(f->c, f->a, "reg", &got, &f->err));
    ASSERT_STREQ(got.origin, "registration");
    ASSERT(got.has_reg_token);
    ASSERT(memcmp(got.reg_token_hash, cl.reg_token_hash, STORE_HASH_LEN) == 0);
    cl.has_reg_token = false;
    cl.origin = NULL;
    OK(store_client_put(f->c, &cl, &f->err));
    OK(store_client_get(f->c, f->a, "reg", &got, &f->err));
    ASSERT(!got.has_reg_token);
    ASSERT_STREQ(got.origin, "operator");
    struct store_client file = {.client_id = "file", .metadata = "{}", .from_config = true};
    OK(store_client_put(f->c, &file, &f->err));
    struct store_client *list;
    size_t n;
    OK(store_client_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].origin, "config");
}

/* Pushed authorization requests and single-use initial access tokens are token rows taken once: a
 * second take is ERR_CONFLICT, an expired one ERR_NOTFOUND, and a take of another kind finds nothing. */
STORE_TEST(par_and_initial_access_taken_once)
{
    int kinds[] = {STORE_TOKEN_PAR, STORE_TOKEN_INITIAL_ACCESS};
    for (size_t k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof(name), "urn-%zu", k);
        struct store_token t = token(name, kinds[k], NULL, 2000);
        OK(store_token_put(f->c, &t, &f->err));
        struct store_token got;
        ASSERT_EQ(store_token_consume(f->c, f->a, t.hash, STORE_TOKEN_CODE, 1500, &got, &f->err), ERR_NOTFOUND);
        OK(store_token_consume(f->c, f->a, t.hash, kinds[k], 1500, &got, &f->err));
        ASSERT_EQ(got.kind, kinds[k]);
        ASSERT_STREQ(got.data, "{\"nonce\":\"n-0S6\"}");
        ASSERT_EQ(store_token_consume(f->c, f->a, t.hash, kinds[k], 1501, &got, &f->err), ERR_CONFLICT);
        snprintf(name, sizeof(name), "late-%zu", k);
        struct store_token late = token(name, kinds[k], NULL, 1000);
        OK(store_token_put(f->c, &late, &f->err));
        ASSERT_EQ(store_token_consume(f->c, f->a, late.hash, kinds[k], 1500, &got, &f->err), ERR_NOTFOUND);
    }
}

STORE_TEST(token_consume_notfound)
{
    struct store_token got;
    uint8_t unknown[STORE_HASH_LEN];
    hash_of("never issued", unknown);
    ASSERT_EQ(store_token_consume(f->c, f->a, unknown, STORE_TOKEN_CODE, 1500, &got, &f->err), ERR_NOTFOUND);

    struct store_token expired = token("code-expired", STORE_TOKEN_CODE, "g", 1500);
    OK(store_token_put(f->c, &expired, &f->err));
    ASSERT_EQ(store_token_consume(f->c, f->a, expired.hash, STORE_TOKEN_CODE, 1500, &got, &f->err),
              ERR_NOTFOUND); /* exp is exclusive */
    ASSERT_EQ(store_token_consume(f->c, f->a, expired.hash, STORE_TOKEN_CODE, 1501, &got, &f->err),
              ERR_NOTFOUND);

    struct store_token revoked = token("code-revoked", STORE_TOKEN_CODE, "g", 5000);
    OK(store_token_put(f->c, &revoked, &f->err));
    OK(store_token_revoke(f->c, revoked.hash, 1200, &f->err));
    ASSERT_EQ(store_token_consume(f->c, f->a, revoked.hash, STORE_TOKEN_CODE, 1500, &got, &f->err),
              ERR_NOTFOUND);

    /* An access token cannot be redeemed as a code; the row of another kind is not handed back. */
    struct store_token access = token("access-1", STORE_TOKEN_ACCESS, "g", 5000);
    OK(store_token_put(f->c, &access, &f->err));
    ASSERT_EQ(store_token_consume(f->c, f->a, access.hash, STORE_TOKEN_CODE, 1500, &got, &f->err),
              ERR_NOTFOUND);
    ASSERT(got.client_id == NULL);

    /* None of these failed attempts consumed anything. */
    OK(store_token_get(f->c, f->a, access.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);
    OK(store_token_get(f->c, f->a, expired.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);
}

/* Many threads, each with its own connection, redeem the same code at the same instant. */
#define RACE_THREADS 8
#define RACE_ROUNDS 30

struct race {
    struct store *st;
    pthread_barrier_t *barrier;
    const uint8_t (*hashes)[STORE_HASH_LEN];
    bool redeem; /* store_token_redeem, writing the row "race-<id>-<round>", instead of token_consume */
    int id;
    int results[RACE_ROUNDS];
    int open_rc;
};

static struct store_token token(const char *secret, int kind, const char *grant_id, int64_t exp);

/* One racer's attempt on hash: token_consume, or token_redeem writing the row "race-<id>-<round>". */
static int race_once(struct race *r, struct store_conn *c, struct arena *a, int round, struct store_token *got,
                     struct errbuf *err)
{
    if (!r->redeem)
        return store_token_consume(c, a, r->hashes[round], STORE_TOKEN_REFRESH, 1500, got, err);
    char secret[32];
    snprintf(secret, sizeof(secret), "race-%d-%d", r->id, round);
    struct store_token row = token(secret, STORE_TOKEN_ACCESS, "grant-1", 5000);
    return store_token_redeem(c, a, r->hashes[round], STORE_TOKEN_REFRESH, 1500, row.hash, &row, 1, got, err);
}

static void *race_thread(void *arg)
{
    struct race *r = arg;
    struct errbuf err = {{0}};
    struct store_conn *c = NULL;
    struct arena *a = arena_new(4096);
    r->open_rc = store_conn_open(r->st, &c, &err);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(r->barrier);
        struct store_token got;
        r->results[i] = r->open_rc != 0 ? r->open_rc : race_once(r, c, a, i, &got, &err);
        if (r->results[i] == ERR_CONFLICT && got.consumed_at != 1500)
            r->results[i] = -99; /* the loser must see the winner's row */
        arena_reset(a);
    }
    if (c != NULL)
        store_conn_close(c);
    arena_free(a);
    return NULL;
}

/* RACE_THREADS threads, each with its own connection, race for each of RACE_ROUNDS refresh tokens; r[t]
 * gets thread t's results. */
static void run_race(struct fx *f, bool redeem, struct race r[RACE_THREADS])
{
    memset(r, 0, RACE_THREADS * sizeof(*r));
    uint8_t hashes[RACE_ROUNDS][STORE_HASH_LEN];
    char secret[32];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        snprintf(secret, sizeof(secret), "refresh-%d", i);
        struct store_token t = token(secret, STORE_TOKEN_REFRESH, "grant-1", 5000);
        OK(store_token_put(f->c, &t, &f->err));
        memcpy(hashes[i], t.hash, STORE_HASH_LEN);
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    pthread_t th[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        r[t].st = f->st;
        r[t].barrier = &barrier;
        r[t].hashes = (const uint8_t(*)[STORE_HASH_LEN])hashes;
        r[t].redeem = redeem;
        r[t].id = t;
        pthread_create(&th[t], NULL, race_thread, &r[t]);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&barrier);
}

/* Of the racers of each round exactly one won; every other one got ERR_CONFLICT with the winner's row. */
static int race_winner(struct race r[RACE_THREADS], int round)
{
    int winner = -1, losers = 0;
    for (int t = 0; t < RACE_THREADS; t++) {
        if (r[t].results[round] == 0)
            winner = winner == -1 ? t : -2;
        else if (r[t].results[round] == ERR_CONFLICT)
            losers++;
        else
            fprintf(stderr, "  round %d thread %d: %d\n", round, t, r[t].results[round]);
    }
    return losers == RACE_THREADS - 1 ? winner : -3;
}

STORE_TEST(token_consume_race)
{
    struct race r[RACE_THREADS];
    run_race(f, false, r);
    for (int i = 0; i < RACE_ROUNDS; i++)
        ASSERT(race_winner(r, i) >= 0);
}

/* The same race through token_redeem: one winner per round, whose row alone was written. */
STORE_TEST(token_redeem_race)
{
    struct race r[RACE_THREADS];
    run_race(f, true, r);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int w = race_winner(r, i);
        ASSERT(w >= 0);
        for (int t = 0; t < RACE_THREADS; t++) {
            char secret[32];
            snprintf(secret, sizeof(secret), "race-%d-%d", t, i);
            uint8_t h[STORE_HASH_LEN];
            hash_of(secret, h);
            struct store_token got;
            ASSERT_EQ(store_token_get(f->c, f->a, h, &got, &f->err), t == w ? 0 : ERR_NOTFOUND);
        }
        arena_reset(f->a);
    }
}

/* ---- single-use values (store.h: single_use_put) ---- */

STORE_TEST(single_use_once_until_exp)
{
    uint8_t k1[STORE_HASH_LEN], k2[STORE_HASH_LEN];
    hash_of("assertion client-1 jti-1", k1);
    hash_of("assertion client-1 jti-2", k2);
    OK(store_single_use_put(f->c, k1, 2000, 1000, &f->err));
    ASSERT_EQ(store_single_use_put(f->c, k1, 2000, 1000, &f->err), ERR_CONFLICT);
    ASSERT_EQ(store_single_use_put(f->c, k1, 9000, 1999, &f->err), ERR_CONFLICT); /* live until exp */
    OK(store_single_use_put(f->c, k2, 2000, 1000, &f->err));
    /* Expired but not yet collected: the key may be recorded again. */
    OK(store_single_use_put(f->c, k1, 3000, 2000, &f->err));
    ASSERT_EQ(store_single_use_put(f->c, k1, 3000, 2500, &f->err), ERR_CONFLICT);

    /* Inside a group that is rolled back, the record goes with it. */
    uint8_t k3[STORE_HASH_LEN];
    hash_of("assertion client-1 jti-3", k3);
    OK(store_begin(f->c, &f->err));
    OK(store_single_use_put(f->c, k3, 2000, 1000, &f->err));
    ASSERT_EQ(store_single_use_put(f->c, k3, 2000, 1000, &f->err), ERR_CONFLICT);
    store_rollback(f->c);
    OK(store_single_use_put(f->c, k3, 2000, 1000, &f->err));

    /* gc removes what has expired (k2 at 2000, k3 at 2000; k1 lives until 3000), and only that. */
    int removed = 0, total = 0;
    do {
        OK(store_gc(f->c, 2500, 1000, &removed, &f->err));
        total += removed;
    } while (removed > 0);
    ASSERT_EQ(total, 2);
    ASSERT_EQ(store_single_use_put(f->c, k1, 3000, 2500, &f->err), ERR_CONFLICT);
    OK(store_single_use_put(f->c, k2, 4000, 2500, &f->err));
}

struct single_use_race {
    struct store *st;
    pthread_barrier_t *barrier;
    int results[RACE_ROUNDS];
};

static void *single_use_thread(void *arg)
{
    struct single_use_race *r = arg;
    struct errbuf err = {{0}};
    struct store_conn *c = NULL;
    int open_rc = store_conn_open(r->st, &c, &err);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        char v[32];
        uint8_t key[STORE_HASH_LEN];
        snprintf(v, sizeof(v), "race-jti-%d", i);
        hash_of(v, key);
        pthread_barrier_wait(r->barrier);
        r->results[i] = open_rc != 0 ? open_rc : store_single_use_put(c, key, 5000, 1000, &err);
    }
    if (c != NULL)
        store_conn_close(c);
    return NULL;
}

/* Many threads, each with its own connection, record the same value at the same instant: one wins. */
STORE_TEST(single_use_race)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    struct single_use_race r[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        memset(&r[t], 0, sizeof(r[t]));
        r[t].st = f->st;
        r[t].barrier = &barrier;
        pthread_create(&th[t], NULL, single_use_thread, &r[t]);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int winners = 0, losers = 0;
        for (int t = 0; t < RACE_THREADS; t++) {
            if (r[t].results[i] == 0)
                winners++;
            else if (r[t].results[i] == ERR_CONFLICT)
                losers++;
            else
                fprintf(stderr, "  round %d thread %d: %d\n", i, t, r[t].results[i]);
        }
        ASSERT_EQ(winners, 1);
        ASSERT_EQ(losers, RACE_THREADS - 1);
    }
}

STORE_TEST(client_secret_enc_round_trip)
{
    static const unsigned char enc[] = {1, 2, 0, 3, 255, 4};
    struct store_client cl = {.client_id = "jwt", .has_secret = true, .metadata = "{}", .secret_enc = enc,
                              .secret_enc_len = sizeof(enc), .created_at = 1, .updated_at = 1};
    hash_of("s", cl.secret_hash);
    OK(store_client_put(f->c, &cl, &f->err));
    struct store_client got;
    OK(store_client_get(f->c, f->a, "jwt", &got, &f->err));
    ASSERT_EQ(got.secret_enc_len, sizeof(enc));
    ASSERT(memcmp(got.secret_enc, enc, sizeof(enc)) == 0);
    cl.secret_enc = NULL;
    cl.secret_enc_len = 0;
    OK(store_client_put(f->c, &cl, &f->err));
    OK(store_client_get(f->c, f->a, "jwt", &got, &f->err));
    ASSERT(got.secret_enc == NULL);
    ASSERT_EQ(got.secret_enc_len, 0);
}

STORE_TEST(grant_revoke_family)
{
    struct store_token code = token("code", STORE_TOKEN_CODE, "grant-1", 5000);
    struct store_token access = token("access", STORE_TOKEN_ACCESS, "grant-1", 5000);
    struct store_token refresh = token("refresh", STORE_TOKEN_REFRESH, "grant-1", 5000);
    struct store_token other = token("other", STORE_TOKEN_REFRESH, "grant-2", 5000);
    struct store_token none = token("cc", STORE_TOKEN_ACCESS, NULL, 5000);
    OK(store_token_put(f->c, &code, &f->err));
    OK(store_token_put(f->c, &access, &f->err));
    OK(store_token_put(f->c, &refresh, &f->err));
    OK(store_token_put(f->c, &other, &f->err));
    OK(store_token_put(f->c, &none, &f->err));
    OK(store_token_revoke(f->c, code.hash, 1100, &f->err)); /* already revoked: keeps its first time */

    OK(store_grant_revoke(f->c, "grant-1", 1200, &f->err));
    struct store_token got;
    OK(store_token_get(f->c, f->a, code.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1100);
    OK(store_token_get(f->c, f->a, access.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1200);
    OK(store_token_get(f->c, f->a, refresh.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1200);
    OK(store_token_get(f->c, f->a, other.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);
    OK(store_token_get(f->c, f->a, none.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);

    ASSERT_EQ(store_token_consume(f->c, f->a, refresh.hash, STORE_TOKEN_REFRESH, 1300, &got, &f->err),
              ERR_NOTFOUND);
    OK(store_grant_revoke(f->c, "no-such-grant", 1200, &f->err));
}

/* A device code waiting for its user (RFC 8628): settled once, by an approval (sub, scope, data) or a
 * denial (revoked); then redeemed once. */
static struct store_token pending_device(const char *secret, int64_t exp)
{
    struct store_token t = token(secret, STORE_TOKEN_DEVICE, "grant-d", exp);
    t.sub = NULL;
    t.scope = "openid profile offline_access";
    t.data = "{}";
    return t;
}

STORE_TEST(token_settle_once)
{
    struct store_token d = pending_device("device-1", 5000);
    OK(store_token_put(f->c, &d, &f->err));
    struct store_token got;

    OK(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, "user-9", "openid", "{\"sid\":\"s\"}", 1500,
                          &f->err));
    OK(store_token_get(f->c, f->a, d.hash, &got, &f->err));
    ASSERT_STREQ(got.sub, "user-9");
    ASSERT_STREQ(got.scope, "openid");
    ASSERT_STREQ(got.data, "{\"sid\":\"s\"}");
    ASSERT_EQ(got.revoked_at, 0);
    ASSERT_EQ(got.consumed_at, 0);
    ASSERT_STREQ(got.grant_id, "grant-d");

    /* Settled: neither another approval nor a denial changes it. */
    ASSERT_EQ(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, "user-7", "openid profile", "{}", 1600,
                                 &f->err),
              ERR_CONFLICT);
    ASSERT_EQ(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, NULL, NULL, NULL, 1600, &f->err),
              ERR_CONFLICT);
    OK(store_token_get(f->c, f->a, d.hash, &got, &f->err));
    ASSERT_STREQ(got.sub, "user-9");
    ASSERT_EQ(got.revoked_at, 0);

    /* Redeemed once; a redeemed row cannot be settled either. */
    OK(store_token_consume(f->c, f->a, d.hash, STORE_TOKEN_DEVICE, 1700, &got, &f->err));
    ASSERT_STREQ(got.sub, "user-9");
    ASSERT_EQ(store_token_consume(f->c, f->a, d.hash, STORE_TOKEN_DEVICE, 1701, &got, &f->err), ERR_CONFLICT);
    ASSERT_EQ(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, NULL, NULL, NULL, 1702, &f->err),
              ERR_CONFLICT);
}

STORE_TEST(token_settle_deny_and_notfound)
{
    struct store_token d = pending_device("device-2", 5000);
    OK(store_token_put(f->c, &d, &f->err));
    OK(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, NULL, NULL, NULL, 1500, &f->err));
    struct store_token got;
    OK(store_token_get(f->c, f->a, d.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1500);
    ASSERT(got.sub == NULL);
    ASSERT_STREQ(got.scope, "openid profile offline_access");
    ASSERT_STREQ(got.data, "{}");
    ASSERT_EQ(store_token_settle(f->c, d.hash, STORE_TOKEN_DEVICE, "user-9", "openid", "{}", 1600, &f->err),
              ERR_CONFLICT);
    ASSERT_EQ(store_token_consume(f->c, f->a, d.hash, STORE_TOKEN_DEVICE, 1600, &got, &f->err), ERR_NOTFOUND);

    /* Absent, expired, or of another kind: NOTFOUND, and nothing changes. */
    uint8_t absent[STORE_HASH_LEN];
    hash_of("no-such-device-code", absent);
    ASSERT_EQ(store_token_settle(f->c, absent, STORE_TOKEN_DEVICE, "u", "s", "{}", 1500, &f->err), ERR_NOTFOUND);
    struct store_token old = pending_device("device-3", 1400);
    OK(store_token_put(f->c, &old, &f->err));
    ASSERT_EQ(store_token_settle(f->c, old.hash, STORE_TOKEN_DEVICE, "u", "s", "{}", 1400, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_token_settle(f->c, old.hash, STORE_TOKEN_DEVICE, NULL, NULL, NULL, 1500, &f->err),
              ERR_NOTFOUND);
    OK(store_token_get(f->c, f->a, old.hash, &got, &f->err));
    ASSERT(got.sub == NULL);
    ASSERT_EQ(got.revoked_at, 0);
    struct store_token code = pending_device("code-1", 5000);
    code.kind = STORE_TOKEN_CODE;
    OK(store_token_put(f->c, &code, &f->err));
    ASSERT_EQ(store_token_settle(f->c, code.hash, STORE_TOKEN_DEVICE, "u", "s", "{}", 1500, &f->err), ERR_NOTFOUND);
    OK(store_token_get(f->c, f->a, code.hash, &got, &f->err));
    ASSERT(got.sub == NULL);

    /* Inside a group, with the user-code row's consumption: both or neither. */
    struct store_token d4 = pending_device("device-4", 5000);
    OK(store_token_put(f->c, &d4, &f->err));
    OK(store_begin(f->c, &f->err));
    OK(store_token_settle(f->c, d4.hash, STORE_TOKEN_DEVICE, "user-9", "openid", "{}", 1500, &f->err));
    store_rollback(f->c);
    OK(store_token_get(f->c, f->a, d4.hash, &got, &f->err));
    ASSERT(got.sub == NULL);
    OK(store_begin(f->c, &f->err));
    OK(store_token_settle(f->c, d4.hash, STORE_TOKEN_DEVICE, "user-9", "openid", "{}", 1500, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_token_get(f->c, f->a, d4.hash, &got, &f->err));
    ASSERT_STREQ(got.sub, "user-9");
}

/* Threads settle the same device code at the same instant, half approving, half denying: one wins. */
struct settle_race {
    struct store *st;
    pthread_barrier_t *barrier;
    const uint8_t (*hashes)[STORE_HASH_LEN];
    int index;
    int results[RACE_ROUNDS];
    int open_rc;
};

static void *settle_thread(void *arg)
{
    struct settle_race *r = arg;
    struct errbuf err = {{0}};
    struct store_conn *c = NULL;
    r->open_rc = store_conn_open(r->st, &c, &err);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(r->barrier);
        bool approve = r->index % 2 == 0;
        r->results[i] = r->open_rc != 0 ? r->open_rc
                        : store_token_settle(c, r->hashes[i], STORE_TOKEN_DEVICE, approve ? "user-9" : NULL,
                                             approve ? "openid" : NULL, approve ? "{}" : NULL, 1500, &err);
    }
    if (c != NULL)
        store_conn_close(c);
    return NULL;
}

STORE_TEST(token_settle_race)
{
    uint8_t hashes[RACE_ROUNDS][STORE_HASH_LEN];
    char secret[32];
    for (int i = 0; i < RACE_ROUNDS; i++) {
        snprintf(secret, sizeof(secret), "device-%d", i);
        struct store_token t = pending_device(secret, 5000);
        OK(store_token_put(f->c, &t, &f->err));
        memcpy(hashes[i], t.hash, STORE_HASH_LEN);
    }
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, RACE_THREADS);
    struct settle_race r[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        memset(&r[t], 0, sizeof(r[t]));
        r[t].st = f->st;
        r[t].barrier = &barrier;
        r[t].hashes = (const uint8_t(*)[STORE_HASH_LEN])hashes;
        r[t].index = t;
        pthread_create(&th[t], NULL, settle_thread, &r[t]);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        int winners = 0, losers = 0, winner = -1;
        for (int t = 0; t < RACE_THREADS; t++) {
            if (r[t].results[i] == 0) {
                winners++;
                winner = t;
            } else if (r[t].results[i] == ERR_CONFLICT) {
                losers++;
            } else {
                fprintf(stderr, "  round %d thread %d: %d\n", i, t, r[t].results[i]);
            }
        }
        ASSERT_EQ(winners, 1);
        ASSERT_EQ(losers, RACE_THREADS - 1);
        /* The row says what the winner decided, and only that. */
        struct store_token got;
        OK(store_token_get(f->c, f->a, hashes[i], &got, &f->err));
        if (winner % 2 == 0) {
            ASSERT_STREQ(got.sub, "user-9");
            ASSERT_EQ(got.revoked_at, 0);
        } else {
            ASSERT(got.sub == NULL);
            ASSERT_EQ(got.revoked_at, 1500);
        }
    }
}

/* Refresh rotation bookkeeping: a row records the token that replaced it, and a spent retry. */
STORE_TEST(token_successor)
{
    struct store_token t1 = token("refresh-1", STORE_TOKEN_REFRESH, "grant-1", 5000);
    struct store_token s1 = token("refresh-2", STORE_TOKEN_REFRESH, "grant-1", 5000);
    struct store_token s2 = token("refresh-3", STORE_TOKEN_REFRESH, "grant-1", 5000);
    OK(store_token_put(f->c, &t1, &f->err));
    OK(store_token_put(f->c, &s1, &f->err));

    struct store_token got;
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT(!got.has_successor);
    ASSERT_EQ(got.retried_at, 0);

    /* Rotation: consumed and linked in one group. */
    OK(store_begin(f->c, &f->err));
    OK(store_token_consume(f->c, f->a, t1.hash, STORE_TOKEN_REFRESH, 1500, &got, &f->err));
    OK(store_token_set_successor(f->c, t1.hash, s1.hash, 0, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT(got.has_successor);
    ASSERT(memcmp(got.successor, s1.hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.retried_at, 0);
    ASSERT_EQ(got.consumed_at, 1500);

    /* A retry rolled back leaves nothing. */
    OK(store_begin(f->c, &f->err));
    OK(store_token_revoke(f->c, s1.hash, 1505, &f->err));
    OK(store_token_set_successor(f->c, s1.hash, s2.hash, 0, &f->err));
    OK(store_token_set_successor(f->c, t1.hash, s2.hash, 1505, &f->err));
    OK(store_token_put(f->c, &s2, &f->err));
    store_rollback(f->c);
    OK(store_token_get(f->c, f->a, s1.hash, &got, &f->err));
    ASSERT(!got.has_successor);
    ASSERT_EQ(got.revoked_at, 0);
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT(memcmp(got.successor, s1.hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.retried_at, 0);

    /* The retry committed: s1 superseded by s2, t1's retry spent, its successor s2. */
    OK(store_begin(f->c, &f->err));
    OK(store_token_revoke(f->c, s1.hash, 1505, &f->err));
    OK(store_token_set_successor(f->c, s1.hash, s2.hash, 0, &f->err));
    OK(store_token_set_successor(f->c, t1.hash, s2.hash, 1505, &f->err));
    OK(store_token_put(f->c, &s2, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_token_get(f->c, f->a, s1.hash, &got, &f->err));
    ASSERT(got.has_successor && memcmp(got.successor, s2.hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.revoked_at, 1505);
    ASSERT_EQ(got.consumed_at, 0);
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT(memcmp(got.successor, s2.hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.retried_at, 1505);
    /* retried_at 0 leaves a spent retry spent. */
    OK(store_token_set_successor(f->c, t1.hash, s2.hash, 0, &f->err));
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT_EQ(got.retried_at, 1505);

    uint8_t unknown[STORE_HASH_LEN];
    hash_of("never issued", unknown);
    ASSERT_EQ(store_token_set_successor(f->c, unknown, s2.hash, 0, &f->err), ERR_NOTFOUND);

    /* In a group: either the call says so, or the write was deferred (store.h) and the commit does,
     * having rolled the group back; nothing of the group stays either way. */
    struct store_token s3 = token("refresh-4", STORE_TOKEN_REFRESH, "grant-1", 5000);
    OK(store_begin(f->c, &f->err));
    OK(store_token_put(f->c, &s3, &f->err));
    int rc = store_token_set_successor(f->c, unknown, s3.hash, 0, &f->err);
    if (rc == 0)
        ASSERT_EQ(store_commit(f->c, &f->err), ERR_NOTFOUND);
    else
        store_rollback(f->c);
    ASSERT(rc == 0 || rc == ERR_NOTFOUND);
    ASSERT_EQ(store_token_get(f->c, f->a, s3.hash, &got, &f->err), ERR_NOTFOUND);
}

STORE_TEST(token_revoke_unknown)
{
    uint8_t unknown[STORE_HASH_LEN];
    hash_of("never issued", unknown);
    OK(store_token_revoke(f->c, unknown, 1200, &f->err)); /* RFC 7009 §2.2: not an error */
}

STORE_TEST(jti_revocation)
{
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-1", &f->err), 0);
    OK(store_jti_revoke(f->c, "jti-1", 5000, &f->err));
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-1", &f->err), 1);
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-2", &f->err), 0);
    OK(store_jti_revoke(f->c, "jti-1", 4000, &f->err)); /* twice is fine */
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-1", &f->err), 1);
}

/* ---- keys ---- */

STORE_TEST(key_put_list)
{
    static const unsigned char priv1[] = {0x00, 0x01, 0xfe, 0xff, 0x00, 0x42};
    static const unsigned char priv2[] = {0x10, 0x20};
    struct store_key k1 = {.kid = "k1", .alg = "RS256", .priv_enc = priv1, .priv_enc_len = sizeof(priv1),
                           .public_jwk = "{\"kty\":\"RSA\"}", .created_at = 100, .sign_from = 100};
    struct store_key k2 = {.kid = "k2", .alg = "ES256", .priv_enc = priv2, .priv_enc_len = sizeof(priv2),
                           .public_jwk = "{\"kty\":\"EC\"}", .created_at = 200, .sign_from = 300};
    OK(store_key_put(f->c, &k2, &f->err));
    OK(store_key_put(f->c, &k1, &f->err));

    struct store_key *keys;
    size_t n;
    OK(store_key_list(f->c, f->a, &keys, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(keys[0].kid, "k1");
    ASSERT_STREQ(keys[0].alg, "RS256");
    ASSERT_EQ(keys[0].priv_enc_len, sizeof(priv1));
    ASSERT(memcmp(keys[0].priv_enc, priv1, sizeof(priv1)) == 0);
    ASSERT_STREQ(keys[0].public_jwk, "{\"kty\":\"RSA\"}");
    ASSERT_EQ(keys[0].retired_at, 0);
    ASSERT_STREQ(keys[1].kid, "k2");
    ASSERT_EQ(keys[1].sign_from, 300);

    /* Rotation: retire k1 by upserting it. */
    k1.retired_at = 400;
    k1.unpublish_at = 500;
    OK(store_key_put(f->c, &k1, &f->err));
    OK(store_key_list(f->c, f->a, &keys, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(keys[0].kid, "k1");
    ASSERT_EQ(keys[0].retired_at, 400);
    ASSERT_EQ(keys[0].unpublish_at, 500);
}

/* ---- gc ---- */

STORE_TEST(gc_expired_only_and_bounded)
{
    char secret[32];
    for (int i = 0; i < 5; i++) {
        snprintf(secret, sizeof(secret), "old-%d", i);
        struct store_token t = token(secret, STORE_TOKEN_ACCESS, "g", 1000 + i);
        OK(store_token_put(f->c, &t, &f->err));
    }
    struct store_token live1 = token("live-1", STORE_TOKEN_ACCESS, "g", 3000);
    struct store_token live2 = token("live-2", STORE_TOKEN_REFRESH, "g", 2000); /* exp == now: not yet */
    OK(store_token_put(f->c, &live1, &f->err));
    OK(store_token_put(f->c, &live2, &f->err));
    OK(store_jti_revoke(f->c, "jti-old-1", 1000, &f->err));
    OK(store_jti_revoke(f->c, "jti-old-2", 1999, &f->err));
    OK(store_jti_revoke(f->c, "jti-live", 2500, &f->err));
    static const unsigned char priv[] = {1, 2, 3};
    struct store_key kgone = {.kid = "gone", .alg = "RS256", .priv_enc = priv, .priv_enc_len = 3,
                              .public_jwk = "{}", .created_at = 1, .sign_from = 1, .retired_at = 500,
                              .unpublish_at = 1500};
    struct store_key kforever = {.kid = "forever", .alg = "RS256", .priv_enc = priv, .priv_enc_len = 3,
                                 .public_jwk = "{}", .created_at = 2, .sign_from = 2};
    struct store_key klater = {.kid = "later", .alg = "RS256", .priv_enc = priv, .priv_enc_len = 3,
                               .public_jwk = "{}", .created_at = 3, .sign_from = 3, .retired_at = 1000,
                               .unpublish_at = 2500};
    OK(store_key_put(f->c, &kgone, &f->err));
    OK(store_key_put(f->c, &kforever, &f->err));
    OK(store_key_put(f->c, &klater, &f->err));

    /* 8 rows are due at now = 2000: 5 tokens, 2 jtis, 1 key. */
    int removed = -1;
    OK(store_gc(f->c, 2000, 3, &removed, &f->err));
    ASSERT_EQ(removed, 3);
    OK(store_gc(f->c, 2000, 3, &removed, &f->err));
    ASSERT_EQ(removed, 3);
    OK(store_gc(f->c, 2000, 100, &removed, &f->err));
    ASSERT_EQ(removed, 2);
    OK(store_gc(f->c, 2000, 100, &removed, &f->err));
    ASSERT_EQ(removed, 0);
    OK(store_gc(f->c, 2000, 0, &removed, &f->err));
    ASSERT_EQ(removed, 0);

    struct store_token got;
    OK(store_token_get(f->c, f->a, live1.hash, &got, &f->err));
    OK(store_token_get(f->c, f->a, live2.hash, &got, &f->err));
    for (int i = 0; i < 5; i++) {
        snprintf(secret, sizeof(secret), "old-%d", i);
        uint8_t h[STORE_HASH_LEN];
        hash_of(secret, h);
        ASSERT_EQ(store_token_get(f->c, f->a, h, &got, &f->err), ERR_NOTFOUND);
    }
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-old-1", &f->err), 0);
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-old-2", &f->err), 0);
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-live", &f->err), 1);
    struct store_key *keys;
    size_t n;
    OK(store_key_list(f->c, f->a, &keys, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(keys[0].kid, "forever");
    ASSERT_STREQ(keys[1].kid, "later");
}

/* ---- transactions ---- */

STORE_TEST(rollback_leaves_nothing)
{
    struct store_token code = token("code", STORE_TOKEN_CODE, "grant-1", 5000);
    OK(store_token_put(f->c, &code, &f->err));

    OK(store_begin(f->c, &f->err));
    struct store_token got;
    OK(store_token_consume(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, &got, &f->err));
    struct store_token access = token("access", STORE_TOKEN_ACCESS, "grant-1", 5000);
    OK(store_token_put(f->c, &access, &f->err));
    struct store_client cl = {.client_id = "app", .metadata = "{}", .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &cl, &f->err));
    OK(store_jti_revoke(f->c, "jti-1", 5000, &f->err));
    /* Inside the group, the group's own writes are visible. */
    OK(store_token_get(f->c, f->a, access.hash, &got, &f->err));
    store_rollback(f->c);

    ASSERT_EQ(store_token_get(f->c, f->a, access.hash, &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_client_get(f->c, f->a, "app", &cl, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_jti_is_revoked(f->c, "jti-1", &f->err), 0);
    OK(store_token_get(f->c, f->a, code.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);

    /* The same group committed: everything is there, and the code can no longer be redeemed. */
    OK(store_begin(f->c, &f->err));
    OK(store_token_consume(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, &got, &f->err));
    OK(store_token_put(f->c, &access, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_token_get(f->c, f->a, access.hash, &got, &f->err));
    ASSERT_EQ(store_token_consume(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1600, &got, &f->err),
              ERR_CONFLICT);

    /* A duplicate token inside a group: either the call says so and the group goes on, or the backend
     * deferred the write (store.h) and store_commit says so, having rolled the whole group back. */
    OK(store_begin(f->c, &f->err));
    struct store_token more = token("more", STORE_TOKEN_ACCESS, "grant-1", 5000);
    int put_rc = store_token_put(f->c, &access, &f->err);
    if (put_rc == ERR_CONFLICT) {
        OK(store_token_put(f->c, &more, &f->err));
        OK(store_commit(f->c, &f->err));
        OK(store_token_get(f->c, f->a, more.hash, &got, &f->err));
    } else {
        ASSERT_EQ(put_rc, 0);
        OK(store_token_put(f->c, &more, &f->err));
        ASSERT_EQ(store_commit(f->c, &f->err), ERR_CONFLICT);
        ASSERT_EQ(store_token_get(f->c, f->a, more.hash, &got, &f->err), ERR_NOTFOUND);
    }
    /* Either way the connection is out of the group and usable. */
    struct store_token after = token("after", STORE_TOKEN_ACCESS, "grant-1", 5000);
    OK(store_token_put(f->c, &after, &f->err));

    /* Commit and rollback without a group. */
    ASSERT(store_commit(f->c, &f->err) != 0);
    store_rollback(f->c);
}

STORE_TEST(group_isolated_from_other_connections)
{
    struct store_conn *c2;
    OK(store_conn_open(f->st, &c2, &f->err));
    struct store_token t = token("access", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token got;
    int rc_before = -1, rc_after = -1;
    if (store_begin(f->c, &f->err) == 0) {
        store_token_put(f->c, &t, &f->err);
        rc_before = store_token_get(c2, f->a, t.hash, &got, &f->err); /* reads do not wait for the writer */
        store_commit(f->c, &f->err);
        rc_after = store_token_get(c2, f->a, t.hash, &got, &f->err);
    }
    store_conn_close(c2);
    ASSERT_EQ(rc_before, ERR_NOTFOUND);
    ASSERT_EQ(rc_after, 0);
}

/* Inside a group, the connection it was opened on reads what the group wrote (SQLite runs every group on the
 * store's one writer connection); groups opened on two connections in turn each see the other's commits, and
 * a rolled-back group leaves nothing on either. */
STORE_TEST(group_reads_its_own_writes_on_any_connection)
{
    struct store_conn *c2;
    OK(store_conn_open(f->st, &c2, &f->err));
    struct store_token t1 = token("own-1", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t2 = token("own-2", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t3 = token("own-3", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token got;
    int in_group = -1, other_before = -1, first_in_second = -1, rolled_c1 = -1, rolled_c2 = -1, both = -1;
    if (store_begin(f->c, &f->err) == 0) {
        store_token_put(f->c, &t1, &f->err);
        in_group = store_token_get(f->c, f->a, t1.hash, &got, &f->err);
        other_before = store_token_get(c2, f->a, t1.hash, &got, &f->err);
        store_commit(f->c, &f->err);
    }
    if (store_begin(c2, &f->err) == 0) {
        first_in_second = store_token_get(c2, f->a, t1.hash, &got, &f->err);
        store_token_put(c2, &t2, &f->err);
        store_commit(c2, &f->err);
    }
    both = store_token_get(f->c, f->a, t2.hash, &got, &f->err);
    if (store_begin(c2, &f->err) == 0) {
        store_token_put(c2, &t3, &f->err);
        store_rollback(c2);
    }
    rolled_c1 = store_token_get(f->c, f->a, t3.hash, &got, &f->err);
    rolled_c2 = store_token_get(c2, f->a, t3.hash, &got, &f->err);
    store_conn_close(c2);
    ASSERT_EQ(in_group, 0);
    ASSERT_EQ(other_before, ERR_NOTFOUND);
    ASSERT_EQ(first_in_second, 0);
    ASSERT_EQ(both, 0);
    ASSERT_EQ(rolled_c1, ERR_NOTFOUND);
    ASSERT_EQ(rolled_c2, ERR_NOTFOUND);
}

/* store_loop_reads: a loop connection's reads may share a snapshot, yet each still sees every write this
 * process committed before it, whichever connection (or group, or the loop connection itself) wrote it. */
STORE_TEST(loop_reads_see_every_commit_of_the_process)
{
    struct store_conn *c2;
    OK(store_conn_open(f->st, &c2, &f->err));
    store_loop_reads(f->c);
    struct store_token t1 = token("loop-1", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t2 = token("loop-2", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t3 = token("loop-3", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t4 = token("loop-4", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token t5 = token("loop-5", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token got;
    ASSERT_EQ(store_token_get(f->c, f->a, t1.hash, &got, &f->err), ERR_NOTFOUND);
    OK(store_token_put(c2, &t1, &f->err)); /* another connection, a single statement */
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);
    OK(store_begin(c2, &f->err)); /* another connection's group */
    OK(store_token_put(c2, &t2, &f->err));
    ASSERT_EQ(store_token_get(f->c, f->a, t2.hash, &got, &f->err), ERR_NOTFOUND);
    OK(store_commit(c2, &f->err));
    OK(store_token_get(f->c, f->a, t2.hash, &got, &f->err));
    OK(store_token_put(f->c, &t3, &f->err)); /* the loop connection's own write */
    OK(store_token_get(f->c, f->a, t3.hash, &got, &f->err));
    OK(store_begin(f->c, &f->err)); /* a group opened on the loop connection */
    OK(store_token_put(f->c, &t4, &f->err));
    OK(store_token_get(f->c, f->a, t4.hash, &got, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_token_get(f->c, f->a, t4.hash, &got, &f->err));
    OK(store_begin(f->c, &f->err));
    OK(store_token_put(f->c, &t5, &f->err));
    store_rollback(f->c);
    ASSERT_EQ(store_token_get(f->c, f->a, t5.hash, &got, &f->err), ERR_NOTFOUND);
    OK(store_token_revoke(c2, t1.hash, 1234, &f->err)); /* a revocation is seen at the next read */
    OK(store_token_get(f->c, f->a, t1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1234);
    store_turn_end(f->c);
    OK(store_token_get(f->c, f->a, t2.hash, &got, &f->err));
    store_turn_end(f->c);
    store_turn_end(f->c); /* twice in a row: nothing to end */
    store_conn_close(c2);
}

/* The shared snapshot itself, on SQLite: a write of another process (a connection without the store's wal
 * hook) is seen once the turn ends or STORE_SNAPSHOT_MAX_MS have passed, not before; a connection not
 * marked sees it at once; and after turn_end no snapshot is left to hold back a checkpoint. */
static int raw_revoke(sqlite3 *db, const uint8_t hash[STORE_HASH_LEN], int64_t at)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "UPDATE tokens SET revoked_at = ?1 WHERE hash = ?2", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, at);
        sqlite3_bind_blob(s, 2, hash, STORE_HASH_LEN, SQLITE_STATIC);
        rc = sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(db) == 1 ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(s);
    return rc;
}

/* A TRUNCATE checkpoint on `db`, which must wait for no reader: SQLITE_BUSY while one still reads old WAL
 * pages. The store's checkpointer may be checkpointing at that moment too: then it is tried again. */
static int raw_truncate(sqlite3 *db, bool retry)
{
    int rc = SQLITE_BUSY;
    for (int i = 0; i < (retry ? 50 : 1) && rc == SQLITE_BUSY; i++) {
        if (i > 0)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    return rc;
}

STORE_TEST(sqlite_loop_reads_share_a_snapshot_per_turn)
{
    ONLY_ON(true);
    struct store_conn *plain;
    OK(store_conn_open(f->st, &plain, &f->err));
    store_loop_reads(f->c);
    sqlite3 *other = NULL;
    ASSERT_EQ(sqlite3_open(f->path, &other), SQLITE_OK);
    struct store_token got;
    /* Whether a read still sees the snapshot depends on its age, so a round that took longer than
     * STORE_SNAPSHOT_MAX_MS (a slow or loaded machine) proves nothing and is run again. */
    bool shared = false;
    for (int round = 0; round < 20 && !shared; round++) {
        char secret[32];
        snprintf(secret, sizeof(secret), "turn-%d", round);
        struct store_token t = token(secret, STORE_TOKEN_ACCESS, "g", 5000);
        OK(store_token_put(f->c, &t, &f->err));
        int64_t t0 = clock_mono_us();
        OK(store_token_get(f->c, f->a, t.hash, &got, &f->err)); /* the snapshot begins */
        ASSERT_EQ(got.revoked_at, 0);
        ASSERT_EQ(raw_revoke(other, t.hash, 77), SQLITE_OK);
        OK(store_token_get(plain, f->a, t.hash, &got, &f->err)); /* not a loop connection: at once */
        ASSERT_EQ(got.revoked_at, 77);
        OK(store_token_get(f->c, f->a, t.hash, &got, &f->err)); /* same turn: the shared snapshot */
        int64_t took = clock_mono_us() - t0;
        if (took < STORE_SNAPSHOT_MAX_MS * 1000) {
            ASSERT_EQ(got.revoked_at, 0);
            shared = true;
            /* The snapshot holds back a checkpoint that waits for every reader, until the turn ends. */
            ASSERT_EQ(raw_truncate(other, false), SQLITE_BUSY);
        }
        store_turn_end(f->c);
        ASSERT_EQ(raw_truncate(other, true), SQLITE_OK);
        OK(store_token_get(f->c, f->a, t.hash, &got, &f->err)); /* the next turn */
        ASSERT_EQ(got.revoked_at, 77);

        /* Within one turn, but older than STORE_SNAPSHOT_MAX_MS: begun again. */
        ASSERT_EQ(raw_revoke(other, t.hash, 88), SQLITE_OK);
        nanosleep(&(struct timespec){0, (STORE_SNAPSHOT_MAX_MS + 1) * 1000000L}, NULL);
        OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
        ASSERT_EQ(got.revoked_at, 88);
        store_turn_end(f->c);
    }
    ASSERT(shared);
    sqlite3_close(other);
    store_conn_close(plain);
}

/* Writers on several connections, some in groups, some single statements: none of them may see
 * SQLITE_BUSY, and nothing may be lost. */
#define WRITER_THREADS 4
#define WRITES_PER_THREAD 200

struct writer {
    struct store *st;
    int id;
    int failures;
    char msg[512];
};

static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    struct errbuf err = {{0}};
    struct store_conn *c;
    if (store_conn_open(w->st, &c, &err) != 0) {
        w->failures = WRITES_PER_THREAD;
        snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
        return NULL;
    }
    char secret[48];
    for (int i = 0; i < WRITES_PER_THREAD; i++) {
        snprintf(secret, sizeof(secret), "w%d-%d", w->id, i);
        struct store_token t = token(secret, STORE_TOKEN_ACCESS, "g", 5000);
        int rc;
        if (i % 4 == 0) {
            rc = store_begin(c, &err);
            if (rc == 0)
                rc = store_token_put(c, &t, &err);
            if (rc == 0)
                rc = store_commit(c, &err);
            else
                store_rollback(c);
        } else {
            rc = store_token_put(c, &t, &err);
        }
        if (rc != 0) {
            w->failures++;
            snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
        }
    }
    store_conn_close(c);
    return NULL;
}

STORE_TEST(concurrent_writers)
{
    struct writer w[WRITER_THREADS];
    pthread_t th[WRITER_THREADS];
    for (int i = 0; i < WRITER_THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].st = f->st;
        w[i].id = i;
        pthread_create(&th[i], NULL, writer_thread, &w[i]);
    }
    for (int i = 0; i < WRITER_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < WRITER_THREADS; i++) {
        if (w[i].failures != 0)
            fprintf(stderr, "  writer %d: %d failures, last: %s\n", i, w[i].failures, w[i].msg);
        ASSERT_EQ(w[i].failures, 0);
    }
    /* Every token is there: gc far in the future removes them all, and counts them. */
    int removed = 0;
    OK(store_gc(f->c, 1000000, 100000, &removed, &f->err));
    ASSERT_EQ(removed, WRITER_THREADS * WRITES_PER_THREAD);
}

/* ---- migrations and persistence ---- */

STORE_TEST(migrate_twice_applies_nothing)
{
    int applied = -1;
    OK(store_migrate(f->st, &applied, &f->err));
    ASSERT_EQ(applied, 0);
}

STORE_TEST(reopen_keeps_data)
{
    struct store_client cl = {.client_id = "app", .metadata = "{\"a\":1}", .created_at = 1, .updated_at = 1};
    OK(store_client_put(f->c, &cl, &f->err));
    struct store_token t = token("refresh", STORE_TOKEN_REFRESH, "grant-1", 5000);
    OK(store_token_put(f->c, &t, &f->err));
    struct store_token got;
    OK(store_token_consume(f->c, f->a, t.hash, STORE_TOKEN_REFRESH, 1500, &got, &f->err));

    fx_detach(f);
    int applied = -1;
    OK(fx_attach(f, &applied));
    ASSERT_EQ(applied, 0);
    struct store_client gc;
    OK(store_client_get(f->c, f->a, "app", &gc, &f->err));
    ASSERT_STREQ(gc.metadata, "{\"a\":1}");
    OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
}

/* store.h: a write survives kill -9 once the call has returned. A child process writes, tells us, and is
 * killed without any chance to clean up; then the store is reopened, as a restarted server would. */
STORE_TEST(committed_write_survives_kill9)
{
    fx_detach(f); /* no connection of ours may stay open across the fork or the kill */
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    struct store_token t = token("refresh", STORE_TOKEN_REFRESH, "grant-1", 5000);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct store *st;
        struct store_conn *c;
        struct errbuf err;
        close(fds[0]);
        if (store_open(f->dsn, &st, &err) != 0 || store_conn_open(st, &c, &err) != 0 ||
            store_token_put(c, &t, &err) != 0)
            _exit(1);
        if (write(fds[1], "k", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(fds[1]);
    char ack = 0;
    ssize_t got_ack = read(fds[0], &ack, 1);
    close(fds[0]);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_EQ(got_ack, 1);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    OK(fx_attach(f, NULL));
    struct store_token got;
    OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
    ASSERT_STREQ(got.grant_id, "grant-1");
}

/* ---- users ---- */

static struct store_user user(const char *id, const char *username)
{
    struct store_user u = {
        .id = id,
        .username = username,
        .password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        .claims = "{\"name\":\"Alice\"}",
        .created_at = 100,
        .updated_at = 100,
    };
    return u;
}

STORE_TEST(user_crud)
{
    struct store_user u = user("sub-1", "alice");
    u.from_config = true;
    u.config_pw_mac = "bWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWFjbWE";
    OK(store_user_put(f->c, &u, &f->err));

    struct store_user got;
    OK(store_user_get(f->c, f->a, "sub-1", &got, &f->err));
    ASSERT_STREQ(got.id, "sub-1");
    ASSERT_STREQ(got.username, "alice");
    ASSERT_STREQ(got.password_hash, u.password_hash);
    ASSERT_STREQ(got.claims, "{\"name\":\"Alice\"}");
    ASSERT(!got.disabled);
    ASSERT(got.from_config);
    ASSERT_STREQ(got.config_pw_mac, u.config_pw_mac);
    ASSERT_EQ(got.created_at, 100);
    ASSERT_EQ(got.updated_at, 100);
    memset(&got, 0, sizeof(got));
    OK(store_user_get_by_name(f->c, f->a, "alice", &got, &f->err));
    ASSERT_STREQ(got.id, "sub-1");

    /* Upsert by id: everything but created_at is replaced, including the username (a rename). */
    u.username = "alice2";
    u.password_hash = NULL;
    u.config_pw_mac = NULL;
    u.claims = "{}";
    u.disabled = true;
    u.from_config = false;
    u.created_at = 200;
    u.updated_at = 200;
    OK(store_user_put(f->c, &u, &f->err));
    OK(store_user_get(f->c, f->a, "sub-1", &got, &f->err));
    ASSERT_STREQ(got.username, "alice2");
    ASSERT(got.password_hash == NULL);
    ASSERT(got.config_pw_mac == NULL);
    ASSERT_STREQ(got.claims, "{}");
    ASSERT(got.disabled);
    ASSERT(!got.from_config);
    ASSERT_EQ(got.created_at, 100);
    ASSERT_EQ(got.updated_at, 200);
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "alice", &got, &f->err), ERR_NOTFOUND);

    /* NULL claims are stored as an empty object. */
    struct store_user b = user("sub-2", "bob");
    b.claims = NULL;
    OK(store_user_put(f->c, &b, &f->err));
    OK(store_user_get(f->c, f->a, "sub-2", &got, &f->err));
    ASSERT_STREQ(got.claims, "{}");

    struct store_user *list;
    size_t n;
    OK(store_user_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].username, "alice2"); /* ordered by username */
    ASSERT_STREQ(list[1].username, "bob");
    ASSERT_STREQ(list[1].id, "sub-2");

    OK(store_user_delete(f->c, "sub-1", &f->err));
    ASSERT_EQ(store_user_get(f->c, f->a, "sub-1", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_user_delete(f->c, "sub-1", &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_user_get(f->c, f->a, "nobody", &got, &f->err), ERR_NOTFOUND);
    OK(store_user_list(f->c, f->a, &list, &n, &f->err));
    ASSERT_EQ(n, 1);
}

STORE_TEST(user_username_unique)
{
    struct store_user a = user("sub-1", "alice");
    struct store_user b = user("sub-2", "bob");
    OK(store_user_put(f->c, &a, &f->err));
    OK(store_user_put(f->c, &b, &f->err));

    /* A second user with the same username, or a rename onto a taken one. */
    struct store_user dup = user("sub-3", "alice");
    ASSERT_EQ(store_user_put(f->c, &dup, &f->err), ERR_CONFLICT);
    b.username = "alice";
    ASSERT_EQ(store_user_put(f->c, &b, &f->err), ERR_CONFLICT);
    struct store_user got;
    OK(store_user_get(f->c, f->a, "sub-2", &got, &f->err));
    ASSERT_STREQ(got.username, "bob");
    ASSERT_EQ(store_user_get(f->c, f->a, "sub-3", &got, &f->err), ERR_NOTFOUND);

    /* Usernames match exactly: case matters, and so do trailing characters. */
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "Alice", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "alic", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "alice%", &got, &f->err), ERR_NOTFOUND);
    struct store_user upper = user("sub-4", "Alice");
    OK(store_user_put(f->c, &upper, &f->err));

    /* A conflict inside a group leaves the group usable. */
    OK(store_begin(f->c, &f->err));
    ASSERT_EQ(store_user_put(f->c, &dup, &f->err), ERR_CONFLICT);
    struct store_user c = user("sub-5", "carol");
    OK(store_user_put(f->c, &c, &f->err));
    OK(store_commit(f->c, &f->err));
    OK(store_user_get_by_name(f->c, f->a, "carol", &got, &f->err));
}

STORE_TEST(user_rollback_leaves_nothing)
{
    struct store_user a = user("sub-1", "alice");
    struct store_consent cs = {.user_id = "sub-1", .client_id = "app", .scope = "openid", .resources = "",
                               .created_at = 1, .updated_at = 1};
    OK(store_begin(f->c, &f->err));
    OK(store_user_put(f->c, &a, &f->err));
    OK(store_consent_put(f->c, &cs, &f->err));
    store_rollback(f->c);
    struct store_user got;
    ASSERT_EQ(store_user_get(f->c, f->a, "sub-1", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_consent_get(f->c, f->a, "sub-1", "app", &cs, &f->err), ERR_NOTFOUND);
}

/* ---- consents ---- */

STORE_TEST(consent_crud)
{
    struct store_consent cs = {.user_id = "sub-1", .client_id = "app", .scope = "openid profile",
                               .resources = "urn:api", .created_at = 100, .updated_at = 100};
    OK(store_consent_put(f->c, &cs, &f->err));
    struct store_consent got;
    OK(store_consent_get(f->c, f->a, "sub-1", "app", &got, &f->err));
    ASSERT_STREQ(got.user_id, "sub-1");
    ASSERT_STREQ(got.client_id, "app");
    ASSERT_STREQ(got.scope, "openid profile");
    ASSERT_STREQ(got.resources, "urn:api");
    ASSERT_EQ(got.created_at, 100);

    /* Upsert per (user, client): the grant widens or narrows, created_at stays. */
    cs.scope = "openid profile email";
    cs.resources = NULL; /* stored as "" */
    cs.created_at = 200;
    cs.updated_at = 200;
    OK(store_consent_put(f->c, &cs, &f->err));
    OK(store_consent_get(f->c, f->a, "sub-1", "app", &got, &f->err));
    ASSERT_STREQ(got.scope, "openid profile email");
    ASSERT_STREQ(got.resources, "");
    ASSERT_EQ(got.created_at, 100);
    ASSERT_EQ(got.updated_at, 200);

    struct store_consent other = {.user_id = "sub-1", .client_id = "another", .scope = "openid", .resources = "",
                                  .created_at = 300, .updated_at = 300};
    struct store_consent bob = {.user_id = "sub-2", .client_id = "app", .scope = "openid", .resources = "",
                                .created_at = 300, .updated_at = 300};
    OK(store_consent_put(f->c, &other, &f->err));
    OK(store_consent_put(f->c, &bob, &f->err));
    struct store_consent *list;
    size_t n;
    OK(store_consent_list(f->c, f->a, "sub-1", &list, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(list[0].client_id, "another"); /* ordered by client_id */
    ASSERT_STREQ(list[1].client_id, "app");
    OK(store_consent_list(f->c, f->a, "nobody", &list, &n, &f->err));
    ASSERT_EQ(n, 0);
    ASSERT_EQ(store_consent_get(f->c, f->a, "sub-1", "third", &got, &f->err), ERR_NOTFOUND);

    /* One consent, then all of a user's: the other user's stays. */
    OK(store_consent_delete(f->c, "sub-1", "app", &f->err));
    ASSERT_EQ(store_consent_get(f->c, f->a, "sub-1", "app", &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_consent_delete(f->c, "sub-1", "app", &f->err), ERR_NOTFOUND);
    OK(store_consent_get(f->c, f->a, "sub-1", "another", &got, &f->err));
    OK(store_consent_delete(f->c, "sub-1", NULL, &f->err));
    OK(store_consent_list(f->c, f->a, "sub-1", &list, &n, &f->err));
    ASSERT_EQ(n, 0);
    OK(store_consent_delete(f->c, "sub-1", NULL, &f->err)); /* none left: still fine */
    OK(store_consent_get(f->c, f->a, "sub-2", "app", &got, &f->err));
}

/* ---- revoking a user's tokens ---- */

STORE_TEST(token_revoke_sub)
{
    struct store_token s1 = token("session-1", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token s2 = token("session-2", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token r1 = token("refresh-1", STORE_TOKEN_REFRESH, "grant-1", 5000);
    struct store_token a1 = token("access-1", STORE_TOKEN_ACCESS, "grant-1", 5000);
    struct store_token old = token("session-old", STORE_TOKEN_SESSION, NULL, 1000); /* expired */
    struct store_token done = token("session-done", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token other = token("session-other", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token cc = token("access-cc", STORE_TOKEN_SESSION, NULL, 5000);
    other.sub = "user-2";
    cc.sub = NULL;
    struct store_token *all[] = {&s1, &s2, &r1, &a1, &old, &done, &other, &cc};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        OK(store_token_put(f->c, all[i], &f->err));
    OK(store_token_revoke(f->c, done.hash, 1100, &f->err));

    OK(store_token_revoke_sub(f->c, "user-1", STORE_TOKEN_SESSION, 1200, &f->err));
    struct store_token got;
    OK(store_token_get(f->c, f->a, s1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1200);
    OK(store_token_get(f->c, f->a, s2.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1200);
    OK(store_token_get(f->c, f->a, done.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1100); /* already revoked: keeps its first time */
    OK(store_token_get(f->c, f->a, r1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0); /* another kind */
    OK(store_token_get(f->c, f->a, a1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);
    OK(store_token_get(f->c, f->a, other.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0); /* another user */
    OK(store_token_get(f->c, f->a, cc.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);
    OK(store_token_get(f->c, f->a, old.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0); /* expired already: left to gc */

    OK(store_token_revoke_sub(f->c, "user-1", STORE_TOKEN_REFRESH, 1300, &f->err));
    OK(store_token_get(f->c, f->a, r1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1300);
    ASSERT_EQ(store_token_consume(f->c, f->a, r1.hash, STORE_TOKEN_REFRESH, 1400, &got, &f->err), ERR_NOTFOUND);
    OK(store_token_revoke_sub(f->c, "no-such-user", STORE_TOKEN_SESSION, 1300, &f->err));
}

STORE_TEST(token_list_sub)
{
    struct store_token s1 = token("session-1", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token s2 = token("session-2", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token old = token("session-old", STORE_TOKEN_SESSION, NULL, 1500);
    struct store_token gone = token("session-gone", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token other = token("session-other", STORE_TOKEN_SESSION, NULL, 5000);
    struct store_token r1 = token("refresh-1", STORE_TOKEN_REFRESH, "grant-1", 5000);
    s2.iat = 900; /* older: listed first */
    other.sub = "user-2";
    struct store_token *all[] = {&s1, &s2, &old, &gone, &other, &r1};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        OK(store_token_put(f->c, all[i], &f->err));
    OK(store_token_revoke(f->c, gone.hash, 1100, &f->err));
    struct store_token *v = NULL;
    size_t n = 99;
    /* Live ones only (not revoked, not expired), of that sub and kind, oldest first. */
    OK(store_token_list_sub(f->c, f->a, "user-1", STORE_TOKEN_SESSION, 2000, 100, &v, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT(memcmp(v[0].hash, s2.hash, STORE_HASH_LEN) == 0);
    ASSERT(memcmp(v[1].hash, s1.hash, STORE_HASH_LEN) == 0);
    ASSERT_STREQ(v[1].data, s1.data);
    ASSERT_EQ(v[1].exp, 5000);
    OK(store_token_list_sub(f->c, f->a, "user-1", STORE_TOKEN_SESSION, 1000, 100, &v, &n, &f->err));
    ASSERT_EQ(n, 3); /* at 1000 the old one lived */
    OK(store_token_list_sub(f->c, f->a, "user-1", STORE_TOKEN_SESSION, 2000, 1, &v, &n, &f->err));
    ASSERT_EQ(n, 1);
    OK(store_token_list_sub(f->c, f->a, "nobody", STORE_TOKEN_SESSION, 2000, 100, &v, &n, &f->err));
    ASSERT_EQ(n, 0);
}

STORE_TEST(token_revoke_client)
{
    struct store_token r1 = token("refresh-1", STORE_TOKEN_REFRESH, "grant-1", 5000);
    struct store_token a1 = token("access-1", STORE_TOKEN_ACCESS, "grant-1", 5000);
    struct store_token c2 = token("code-2", STORE_TOKEN_CODE, "grant-2", 5000);
    struct store_token cc = token("access-cc", STORE_TOKEN_ACCESS, NULL, 5000); /* client_credentials */
    struct store_token mine_old = token("refresh-old", STORE_TOKEN_REFRESH, "grant-3", 1000);
    struct store_token theirs = token("refresh-theirs", STORE_TOKEN_REFRESH, "grant-4", 5000);
    cc.sub = NULL;
    theirs.client_id = "other-app";
    struct store_token *all[] = {&r1, &a1, &c2, &cc, &mine_old, &theirs};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        OK(store_token_put(f->c, all[i], &f->err));
    OK(store_token_revoke_client(f->c, "app", 2000, &f->err));
    struct store_token got;
    const struct {
        const struct store_token *t;
        int64_t revoked_at;
    } want[] = {{&r1, 2000}, {&a1, 2000}, {&c2, 2000}, {&cc, 0}, {&mine_old, 0}, {&theirs, 0}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        OK(store_token_get(f->c, f->a, want[i].t->hash, &got, &f->err));
        ASSERT_EQ(got.revoked_at, want[i].revoked_at);
    }
    OK(store_token_revoke_client(f->c, "no-such-client", 2000, &f->err));
}

/* ---- SQLite specifics ---- */

TEST(sqlite_open_errors)
{
    ONLY_ON(true);
    struct store *st = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(store_open("sqlite:/nonexistent-ostiary-dir/sub/ostiary.db", &st, &err), ERR_FAIL);
    ASSERT(strstr(err.msg, "/nonexistent-ostiary-dir/sub/ostiary.db") != NULL);
    ASSERT_EQ(store_open("sqlite::memory:", &st, &err), ERR_INVALID);
    ASSERT_EQ(store_open("sqlite:", &st, &err), ERR_INVALID);
    ASSERT_EQ(store_open("nosuchdb:/x", &st, &err), ERR_INVALID);
}

TEST(sqlite_unmigrated_fails_clearly)
{
    ONLY_ON(true);
    char dir[] = "/tmp/ostiary-store-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[64], dsn[96];
    snprintf(path, sizeof(path), "%s/fresh.db", dir);
    snprintf(dsn, sizeof(dsn), "sqlite:%s", path);
    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct errbuf err = {{0}};
    int rc_open = store_open(dsn, &st, &err);
    int rc_conn = -1, rc_get = -1;
    if (rc_open == 0) {
        rc_conn = store_conn_open(st, &c, &err);
        if (rc_conn == 0) {
            struct arena *a = arena_new(1024);
            struct store_token got;
            uint8_t h[STORE_HASH_LEN] = {0};
            rc_get = store_token_get(c, a, h, &got, &err);
            arena_free(a);
            store_conn_close(c);
        }
        store_close(st);
    }
    char p[128];
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
    ASSERT_EQ(rc_open, 0);
    ASSERT_EQ(rc_conn, 0);
    ASSERT_EQ(rc_get, ERR_FAIL);
    ASSERT(strstr(err.msg, "no such table") != NULL);
}

static int unlink_db(const struct fx *f)
{
    char p[192];
    snprintf(p, sizeof(p), "%s-wal", f->path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", f->path);
    unlink(p);
    return unlink(f->path);
}

/* The store's identity (sqlite.c, "identity"): a marker beside the file names the store; store_check
 * notices the file deleted or replaced under an open store; a store that existed and is gone is not
 * re-created, nor another one accepted, without STORE_OPEN_CREATE. */
STORE_TEST(sqlite_identity)
{
    ONLY_ON(true);
    char marker[192], id[80] = "";
    snprintf(marker, sizeof(marker), "%s.store-id", f->path);
    FILE *m = fopen(marker, "r");
    ASSERT(m != NULL);
    ASSERT(fgets(id, sizeof(id), m) != NULL);
    fclose(m);
    ASSERT_EQ(strlen(id), 33); /* 32 hex digits and a newline */
    ASSERT_EQ(store_check(f->c, &f->err), 0);

    /* Deleted under the open store: writes still "work" (into the unlinked file), the check says no. */
    ASSERT_EQ(unlink_db(f), 0);
    ASSERT_EQ(store_check(f->c, &f->err), ERR_FAIL);
    ASSERT(strstr(f->err.msg, "deleted") != NULL);
    fx_detach(f);

    /* Reopening refuses to create an empty store in its place, and creates nothing. */
    struct store *st = NULL;
    ASSERT_EQ(store_open(f->dsn, &st, &f->err), ERR_FAIL);
    ASSERT(strstr(f->err.msg, "migrate --create") != NULL);
    ASSERT(access(f->path, F_OK) != 0);

    /* Told to: a new store, with a new id in the marker. */
    ASSERT_EQ(store_open_flags(f->dsn, STORE_OPEN_CREATE, &f->st, &f->err), 0);
    int applied = 0;
    ASSERT_EQ(store_migrate(f->st, &applied, &f->err), 0);
    ASSERT_EQ(applied, (int)sqlite_migrations_count); /* every migration: a new store */
    char id2[80] = "";
    m = fopen(marker, "r");
    ASSERT(m != NULL);
    ASSERT(fgets(id2, sizeof(id2), m) != NULL);
    fclose(m);
    ASSERT(strcmp(id, id2) != 0);
    ASSERT_EQ(store_conn_open(f->st, &f->c, &f->err), 0);
    ASSERT_EQ(store_check(f->c, &f->err), 0);

    /* Another file renamed over the path: replaced. */
    char other[192];
    snprintf(other, sizeof(other), "%s.other", f->path);
    FILE *o = fopen(other, "w");
    ASSERT(o != NULL);
    fclose(o);
    ASSERT_EQ(rename(other, f->path), 0);
    ASSERT_EQ(store_check(f->c, &f->err), ERR_FAIL);
    ASSERT(strstr(f->err.msg, "replaced") != NULL);
    fx_detach(f);

    /* A database that is another store (a different id than the marker's) is refused at migrate. */
    unlink_db(f);
    m = fopen(marker, "w");
    ASSERT(m != NULL);
    fputs("0123456789abcdef0123456789abcdef\n", m);
    fclose(m);
    ASSERT_EQ(store_open_flags(f->dsn, STORE_OPEN_CREATE, &f->st, &f->err), 0); /* creates the file */
    fx_detach(f);
    m = fopen(marker, "w");
    ASSERT(m != NULL);
    fputs("0123456789abcdef0123456789abcdef\n", m);
    fclose(m);
    ASSERT_EQ(store_open(f->dsn, &f->st, &f->err), 0);
    ASSERT_EQ(store_migrate(f->st, &applied, &f->err), ERR_FAIL);
    ASSERT(strstr(f->err.msg, "replaced") != NULL);
    fx_detach(f);
    ASSERT_EQ(fx_attach(f, NULL), -1);
}

/* Migration 3: rows of JWT access tokens written by earlier versions (keyed by the hash of the token's
 * bytes) are found by their jti key afterwards, with their state, so an old token never falls back to a
 * lookup by bytes. Builds a version-2 database by hand, then lets store_migrate do the rest. */
extern const char *const sqlite_migrations[];

TEST(sqlite_migration_keys_jwt_rows_by_jti)
{
    char dir[] = "/tmp/ostiary-store-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    char path[64], dsn[96], p[96];
    snprintf(path, sizeof(path), "%s/old.db", dir);
    snprintf(dsn, sizeof(dsn), "sqlite:%s", path);
    sqlite3 *db = NULL;
    int ok = sqlite3_open(path, &db) == SQLITE_OK &&
             sqlite3_exec(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,"
                              " applied_at INTEGER NOT NULL);", NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(db, sqlite_migrations[0], NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(db, sqlite_migrations[1], NULL, NULL, NULL) == SQLITE_OK &&
             sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (1, 1), (2, 1);", NULL, NULL, NULL) ==
                 SQLITE_OK;
    /* What version 2 wrote: a revoked and a live JWT of grant g1 keyed by the token's hash, an opaque
     * client_credentials token (no grant) and a refresh token, both with a jti too. */
    static const struct {
        const char *value, *jti, *grant;
        int kind;
        int64_t revoked;
    } rows[] = {{"eyJ.revoked.sig", "jti-revoked", "g1", STORE_TOKEN_ACCESS, 1200},
                {"eyJ.live.sig", "jti-live", "g1", STORE_TOKEN_ACCESS, 0},
                {"opaque-cc", "jti-cc", NULL, STORE_TOKEN_ACCESS, 0},
                {"refresh-1", "jti-refresh", "g1", STORE_TOKEN_REFRESH, 0}};
    for (size_t i = 0; ok && i < sizeof(rows) / sizeof(rows[0]); i++) {
        sqlite3_stmt *st = NULL;
        uint8_t h[STORE_HASH_LEN];
        hash_of(rows[i].value, h);
        ok = sqlite3_prepare_v2(db,
                                "INSERT INTO tokens (hash, kind, client_id, sub, scope, jti, grant_id, iat, exp,"
                                " revoked_at) VALUES (?1, ?2, 'app', 'user-1', 'openid', ?3, ?4, 1000, 5000, ?5)",
                                -1, &st, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_blob(st, 1, h, STORE_HASH_LEN, SQLITE_STATIC);
            sqlite3_bind_int(st, 2, rows[i].kind);
            sqlite3_bind_text(st, 3, rows[i].jti, -1, SQLITE_STATIC);
            if (rows[i].grant != NULL)
                sqlite3_bind_text(st, 4, rows[i].grant, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, rows[i].revoked);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);

    struct fx fx_ = {0}, *f = &fx_;
    snprintf(f->dsn, sizeof(f->dsn), "%s", dsn);
    int applied = 0;
    int attached = ok ? fx_attach(f, &applied) : -1;
    f->a = arena_new(4096);
    int64_t revoked_at = -1, live_revoked = -1, after_grant = -1;
    int cc_rc = 0, refresh_rc = 0, old_rc = -1;
    uint8_t k[STORE_HASH_LEN], same[STORE_HASH_LEN];
    store_jti_key("jti-x", k);
    hash_of("jti:jti-x", same);
    bool key_form = memcmp(k, same, STORE_HASH_LEN) == 0; /* the documented formula */
    struct store_token got;
    if (attached == 0) {
        store_jti_key("jti-revoked", k);
        if (store_token_get(f->c, f->a, k, &got, &f->err) == 0 && got.kind == STORE_TOKEN_ACCESS &&
            strcmp(got.grant_id, "g1") == 0 && strcmp(got.jti, "jti-revoked") == 0)
            revoked_at = got.revoked_at;
        store_jti_key("jti-live", k);
        if (store_token_get(f->c, f->a, k, &got, &f->err) == 0)
            live_revoked = got.revoked_at;
        store_jti_key("jti-cc", k);
        cc_rc = store_token_get(f->c, f->a, k, &got, &f->err);
        store_jti_key("jti-refresh", k);
        refresh_rc = store_token_get(f->c, f->a, k, &got, &f->err);
        /* The old rows stay (an opaque token is still found by its hash); the grant reaches the copies. */
        uint8_t h[STORE_HASH_LEN];
        hash_of("opaque-cc", h);
        old_rc = store_token_get(f->c, f->a, h, &got, &f->err);
        store_jti_key("jti-live", k);
        if (store_grant_revoke(f->c, "g1", 1300, &f->err) == 0 &&
            store_token_get(f->c, f->a, k, &got, &f->err) == 0)
            after_grant = got.revoked_at;
    }
    fx_detach(f);
    arena_free(f->a);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffixes[i]);
        unlink(p);
    }
    rmdir(dir);
    ASSERT(key_form);
    ASSERT(ok);
    ASSERT_EQ(attached, 0);
    ASSERT(applied >= 1);
    ASSERT_EQ(revoked_at, 1200);
    ASSERT_EQ(live_revoked, 0);
    ASSERT_EQ(cc_rc, ERR_NOTFOUND);
    ASSERT_EQ(refresh_rc, ERR_NOTFOUND);
    ASSERT_EQ(old_rc, 0);
    ASSERT_EQ(after_grant, 1300);
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Checkpoints run in the background (sqlite.c), and a steady stream of commits must not grow the WAL
 * without bound: sqlite.c rewinds it past 64 MiB, and past 256 MiB at the very latest. WAL_ROWS rows make
 * about 400 MB of WAL if nothing rewound it. Then every row is still there after a reopen. */
#define WAL_ROWS 24000
#define WAL_BOUND ((256LL << 20) + (1LL << 20))

STORE_TEST(sqlite_checkpoints_bound_wal)
{
    ONLY_ON(true);
    char wal[160], secret[32];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    long long max_wal = 0;
    for (int i = 0; i < WAL_ROWS; i++) {
        snprintf(secret, sizeof(secret), "wal-%d", i);
        struct store_token t = token(secret, STORE_TOKEN_REFRESH, "grant-1", 5000);
        OK(store_token_put(f->c, &t, &f->err));
        if (i % 256 == 0) {
            long long sz = file_size(wal);
            max_wal = sz > max_wal ? sz : max_wal;
        }
    }
    ASSERT(max_wal > 0);
    ASSERT(max_wal <= WAL_BOUND);
    /* In WAL mode only checkpoints write the database file, so rows there mean checkpoints ran. */
    ASSERT(file_size(f->path) > (1LL << 20));

    fx_detach(f);
    ASSERT(file_size(wal) <= 0); /* the last checkpoint, at close, emptied it */
    OK(fx_attach(f, NULL));
    for (int i = 0; i < WAL_ROWS; i++) {
        snprintf(secret, sizeof(secret), "wal-%d", i);
        uint8_t h[STORE_HASH_LEN];
        hash_of(secret, h);
        struct store_token got;
        OK(store_token_get(f->c, f->a, h, &got, &f->err));
        ASSERT_STREQ(got.grant_id, "grant-1");
        arena_reset(f->a);
    }
}

/* The kill -9 guarantee while checkpoints run and the WAL is rewound: a child writes rows without end and
 * reports how many have returned; it is killed mid-stream, past a WAL rewind; every reported row must be
 * there after a reopen. */
#define KILL_ROWS 8000

STORE_TEST(sqlite_kill9_while_checkpointing)
{
    ONLY_ON(true);
    fx_detach(f);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        struct store *st;
        struct store_conn *c;
        struct errbuf err;
        char secret[32];
        close(fds[0]);
        if (store_open(f->dsn, &st, &err) != 0 || store_conn_open(st, &c, &err) != 0)
            _exit(1);
        for (int i = 0;; i++) {
            snprintf(secret, sizeof(secret), "k9-%d", i);
            struct store_token t = token(secret, STORE_TOKEN_ACCESS, NULL, 5000);
            if (store_token_put(c, &t, &err) != 0)
                _exit(1);
            int n = i + 1;
            if (n % 100 == 0 && write(fds[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
                _exit(1);
        }
    }
    close(fds[1]);
    int acked = 0, n = 0;
    while (acked < KILL_ROWS && read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
        acked = n;
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    ASSERT(acked >= KILL_ROWS);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    OK(fx_attach(f, NULL));
    char secret[32];
    for (int i = 0; i < acked; i++) {
        snprintf(secret, sizeof(secret), "k9-%d", i);
        uint8_t h[STORE_HASH_LEN];
        hash_of(secret, h);
        struct store_token got;
        OK(store_token_get(f->c, f->a, h, &got, &f->err));
        arena_reset(f->a);
    }
}

/* Every backend implements every operation: store_ops is the scheme name followed by function pointers
 * only, each of which must be set (a designated initializer leaves a forgotten one NULL). Run whatever the
 * backend under test, so that `make check` fails as soon as one backend lacks an operation. */
TEST(every_backend_has_every_op)
{
    static const struct store_ops *const all[] = {&store_sqlite_ops, &store_postgres_ops};
    typedef void (*fnptr)(void);
    size_t nfn = (sizeof(struct store_ops) - offsetof(struct store_ops, open)) / sizeof(fnptr);
    ASSERT_EQ(offsetof(struct store_ops, open) + nfn * sizeof(fnptr), sizeof(struct store_ops));
    for (size_t b = 0; b < sizeof(all) / sizeof(all[0]); b++) {
        ASSERT(all[b]->scheme != NULL);
        const unsigned char *base = (const unsigned char *)all[b] + offsetof(struct store_ops, open);
        for (size_t i = 0; i < nfn; i++) {
            fnptr f;
            memcpy(&f, base + i * sizeof(fnptr), sizeof(f));
            if (f == NULL)
                fprintf(stderr, "  backend %s: operation #%zu of struct store_ops is missing\n", all[b]->scheme, i);
            ASSERT(f != NULL);
        }
    }
}

/* ---- copying a store: scans ---- */

STORE_TEST(token_scan_pages_live_tokens)
{
    char secret[32];
    for (int i = 0; i < 7; i++) {
        snprintf(secret, sizeof(secret), "live-%d", i);
        struct store_token t = token(secret, i % 2 ? STORE_TOKEN_REFRESH : STORE_TOKEN_ACCESS, "g", 5000);
        OK(store_token_put(f->c, &t, &f->err));
    }
    struct store_token expired = token("expired", STORE_TOKEN_ACCESS, "g", 1000);
    struct store_token revoked = token("revoked", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token consumed = token("consumed", STORE_TOKEN_CODE, "g", 5000);
    OK(store_token_put(f->c, &expired, &f->err));
    OK(store_token_put(f->c, &revoked, &f->err));
    OK(store_token_put(f->c, &consumed, &f->err));
    OK(store_token_revoke(f->c, revoked.hash, 1100, &f->err));
    struct store_token got;
    OK(store_token_consume(f->c, f->a, consumed.hash, STORE_TOKEN_CODE, 1200, &got, &f->err));

    /* Pages of 3 at now = 2000: the 7 live ones and the consumed code, each once, in hash order. */
    uint8_t cursor[STORE_HASH_LEN];
    const uint8_t *after = NULL;
    int total = 0, pages = 0;
    bool saw_consumed = false;
    for (;;) {
        struct store_token *v;
        size_t n;
        OK(store_token_scan(f->c, f->a, after, 2000, 3, &v, &n, &f->err));
        if (n == 0)
            break;
        ASSERT(n <= 3);
        for (size_t i = 0; i < n; i++) {
            if (after != NULL || i > 0)
                ASSERT(memcmp(i > 0 ? v[i - 1].hash : cursor, v[i].hash, STORE_HASH_LEN) < 0);
            ASSERT(memcmp(v[i].hash, expired.hash, STORE_HASH_LEN) != 0);
            ASSERT(memcmp(v[i].hash, revoked.hash, STORE_HASH_LEN) != 0);
            if (memcmp(v[i].hash, consumed.hash, STORE_HASH_LEN) == 0) {
                saw_consumed = true;
                ASSERT_EQ(v[i].consumed_at, 1200);
                ASSERT_STREQ(v[i].data, "{\"nonce\":\"n-0S6\"}");
            }
        }
        memcpy(cursor, v[n - 1].hash, STORE_HASH_LEN);
        after = cursor;
        total += (int)n;
        pages++;
    }
    ASSERT_EQ(total, 8);
    ASSERT_EQ(pages, 3);
    ASSERT(saw_consumed);
}

STORE_TEST(jti_scan_pages_unexpired)
{
    OK(store_jti_revoke(f->c, "b-jti", 5000, &f->err));
    OK(store_jti_revoke(f->c, "a-jti", 5000, &f->err));
    OK(store_jti_revoke(f->c, "c-jti", 2000, &f->err));
    OK(store_jti_revoke(f->c, "old-jti", 1000, &f->err));
    struct store_jti *v;
    size_t n;
    OK(store_jti_scan(f->c, f->a, NULL, 2000, 2, &v, &n, &f->err));
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(v[0].jti, "a-jti");
    ASSERT_STREQ(v[1].jti, "b-jti");
    ASSERT_EQ(v[1].exp, 5000);
    OK(store_jti_scan(f->c, f->a, v[1].jti, 2000, 2, &v, &n, &f->err));
    ASSERT_EQ(n, 1);
    ASSERT_STREQ(v[0].jti, "c-jti");
    OK(store_jti_scan(f->c, f->a, v[0].jti, 2000, 2, &v, &n, &f->err));
    ASSERT_EQ(n, 0);
}

/* A group with more writes than a backend may hold back at once (the copy of a store does this). */
STORE_TEST(group_many_writes)
{
    char secret[32];
    OK(store_begin(f->c, &f->err));
    for (int i = 0; i < 300; i++) {
        snprintf(secret, sizeof(secret), "many-%d", i);
        struct store_token t = token(secret, STORE_TOKEN_ACCESS, "g", 5000);
        OK(store_token_put(f->c, &t, &f->err));
    }
    OK(store_commit(f->c, &f->err));
    int removed = 0;
    OK(store_gc(f->c, 1000000, 100000, &removed, &f->err));
    ASSERT_EQ(removed, 300);
}

/* ---- redemption: token_get_user, token_redeem ---- */

STORE_TEST(token_get_user_reads_the_user)
{
    struct store_user u = user("user-1", "alice");
    u.disabled = true;
    OK(store_user_put(f->c, &u, &f->err));
    struct store_token code = token("code-u", STORE_TOKEN_CODE, "g", 5000); /* sub user-1 */
    struct store_token orphan = token("code-orphan", STORE_TOKEN_CODE, "g", 5000);
    orphan.sub = "user-gone";
    struct store_token pending = token("device-pending", STORE_TOKEN_DEVICE, "g", 5000);
    pending.sub = NULL;
    OK(store_token_put(f->c, &code, &f->err));
    OK(store_token_put(f->c, &orphan, &f->err));
    OK(store_token_put(f->c, &pending, &f->err));

    struct store_token got;
    struct store_user gu;
    bool has = false;
    OK(store_token_get_user(f->c, f->a, code.hash, &got, &gu, &has, &f->err));
    ASSERT(has);
    ASSERT_EQ(got.kind, STORE_TOKEN_CODE);
    ASSERT_STREQ(got.sub, "user-1");
    ASSERT_STREQ(got.data, "{\"nonce\":\"n-0S6\"}");
    ASSERT_EQ(got.exp, 5000);
    ASSERT_STREQ(gu.id, "user-1");
    ASSERT_STREQ(gu.username, "alice");
    ASSERT_STREQ(gu.password_hash, u.password_hash);
    ASSERT_STREQ(gu.claims, "{\"name\":\"Alice\"}");
    ASSERT(gu.disabled);
    ASSERT_EQ(gu.created_at, 100);

    has = true;
    OK(store_token_get_user(f->c, f->a, orphan.hash, &got, &gu, &has, &f->err));
    ASSERT(!has);
    ASSERT_STREQ(got.sub, "user-gone");
    has = true;
    OK(store_token_get_user(f->c, f->a, pending.hash, &got, &gu, &has, &f->err));
    ASSERT(!has);
    ASSERT_EQ(got.kind, STORE_TOKEN_DEVICE);
    uint8_t unknown[STORE_HASH_LEN];
    hash_of("no such code", unknown);
    has = true;
    ASSERT_EQ(store_token_get_user(f->c, f->a, unknown, &got, &gu, &has, &f->err), ERR_NOTFOUND);
    ASSERT(!has);
}

/* Whether the row of `secret` exists. */
static bool token_exists(struct fx *f, const char *secret)
{
    uint8_t h[STORE_HASH_LEN];
    hash_of(secret, h);
    struct store_token got;
    return store_token_get(f->c, f->a, h, &got, &f->err) == 0;
}

STORE_TEST(token_redeem_once)
{
    struct store_token code = token("code-r", STORE_TOKEN_CODE, "grant-r", 5000);
    OK(store_token_put(f->c, &code, &f->err));
    struct store_token rows[2] = {token("at-1", STORE_TOKEN_ACCESS, "grant-r", 5000),
                                  token("rt-1", STORE_TOKEN_REFRESH, "grant-r", 9000)};
    struct store_token got;
    OK(store_token_redeem(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, rows[1].hash, rows, 2, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT_STREQ(got.grant_id, "grant-r");
    ASSERT(got.has_successor && memcmp(got.successor, rows[1].hash, STORE_HASH_LEN) == 0);
    memset(&got, 0, sizeof(got));
    OK(store_token_get(f->c, f->a, code.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT(got.has_successor && memcmp(got.successor, rows[1].hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(got.retried_at, 0);
    OK(store_token_get(f->c, f->a, rows[1].hash, &got, &f->err));
    ASSERT_EQ(got.kind, STORE_TOKEN_REFRESH);
    ASSERT_EQ(got.exp, 9000);
    ASSERT(token_exists(f, "at-1"));

    /* Again, with other rows: the lost race (the row handed back as it is), nothing written. */
    struct store_token again[2] = {token("at-2", STORE_TOKEN_ACCESS, "grant-r", 5000),
                                   token("rt-2", STORE_TOKEN_REFRESH, "grant-r", 9000)};
    memset(&got, 0, sizeof(got));
    ASSERT_EQ(store_token_redeem(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1600, again[1].hash, again, 2, &got,
                                 &f->err),
              ERR_CONFLICT);
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT_STREQ(got.grant_id, "grant-r");
    ASSERT(memcmp(got.successor, rows[1].hash, STORE_HASH_LEN) == 0);
    ASSERT(!token_exists(f, "at-2"));
    ASSERT(!token_exists(f, "rt-2"));

    /* Nothing to consume: an expired, a revoked, an unknown code, a row of another kind. Nothing consumed,
     * nothing written, no row handed back. */
    struct store_token expired = token("code-expired", STORE_TOKEN_CODE, "g", 1400);
    struct store_token revoked = token("code-revoked", STORE_TOKEN_CODE, "g", 5000);
    struct store_token access = token("at-0", STORE_TOKEN_ACCESS, "g", 5000);
    OK(store_token_put(f->c, &expired, &f->err));
    OK(store_token_put(f->c, &revoked, &f->err));
    OK(store_token_put(f->c, &access, &f->err));
    OK(store_token_revoke(f->c, revoked.hash, 1200, &f->err));
    uint8_t unknown[STORE_HASH_LEN];
    hash_of("no such code", unknown);
    const uint8_t *none[] = {expired.hash, revoked.hash, access.hash, unknown};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        memset(&got, 0xff, sizeof(got));
        ASSERT_EQ(store_token_redeem(f->c, f->a, none[i], STORE_TOKEN_CODE, 1500, again[1].hash, again, 2, &got,
                                     &f->err),
                  ERR_NOTFOUND);
        ASSERT_EQ(got.kind, 0);
        ASSERT(!token_exists(f, "at-2"));
    }
    OK(store_token_get(f->c, f->a, expired.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);
    ASSERT(!got.has_successor);
    OK(store_token_get(f->c, f->a, access.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);

    /* No successor, no rows: a consume alone. */
    struct store_token code2 = token("code-r2", STORE_TOKEN_CODE, "grant-r2", 5000);
    OK(store_token_put(f->c, &code2, &f->err));
    OK(store_token_redeem(f->c, f->a, code2.hash, STORE_TOKEN_CODE, 1500, NULL, NULL, 0, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 1500);
    ASSERT(!got.has_successor);
}

STORE_TEST(token_redeem_all_or_nothing)
{
    struct store_token code = token("code-a", STORE_TOKEN_CODE, "grant-a", 5000);
    struct store_token taken = token("rt-taken", STORE_TOKEN_REFRESH, "grant-other", 5000);
    OK(store_token_put(f->c, &code, &f->err));
    OK(store_token_put(f->c, &taken, &f->err));

    /* The second new row's hash exists already: the consume and the first row are undone, and the answer
     * is no lost race (ERR_CONFLICT would have the caller revoke the grant). */
    struct store_token rows[2] = {token("at-a", STORE_TOKEN_ACCESS, "grant-a", 5000), taken};
    rows[1].grant_id = "grant-a";
    struct store_token got;
    ASSERT_EQ(store_token_redeem(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, taken.hash, rows, 2, &got, &f->err),
              ERR_FAIL);
    OK(store_token_get(f->c, f->a, code.hash, &got, &f->err));
    ASSERT_EQ(got.consumed_at, 0);
    ASSERT(!got.has_successor);
    ASSERT(!token_exists(f, "at-a"));
    OK(store_token_get(f->c, f->a, taken.hash, &got, &f->err));
    ASSERT_STREQ(got.grant_id, "grant-other");

    /* Inside a group it is refused, and the group goes on. */
    OK(store_begin(f->c, &f->err));
    ASSERT_EQ(store_token_redeem(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, NULL, rows, 1, &got, &f->err),
              ERR_FAIL);
    struct store_token other = token("at-b", STORE_TOKEN_ACCESS, "grant-a", 5000);
    OK(store_token_put(f->c, &other, &f->err));
    OK(store_commit(f->c, &f->err));
    ASSERT(token_exists(f, "at-b"));

    /* The code is still there for its rightful redemption. */
    OK(store_token_redeem(f->c, f->a, code.hash, STORE_TOKEN_CODE, 1500, NULL, rows, 1, &got, &f->err));
    ASSERT(token_exists(f, "at-a"));
}

/* ---- exactly once across processes ---- */

/* Several processes, each with its own store_open (as several instances on one database), redeem the same
 * device codes at the same instant; the barrier is a pipe the parent closes. Each child writes one result
 * byte per round: 'w' won, 'c' conflict with the winner's row, 'x' anything else. */
#define PROC_RACERS 3
#define PROC_ROUNDS 20

STORE_TEST(token_consume_race_processes)
{
    char secret[32];
    for (int i = 0; i < PROC_ROUNDS; i++) {
        snprintf(secret, sizeof(secret), "device-%d", i);
        struct store_token t = token(secret, STORE_TOKEN_DEVICE, "grant-d", 5000);
        OK(store_token_put(f->c, &t, &f->err));
    }
    fx_detach(f);
    int go[2], res[2];
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(res), 0);
    pid_t pids[PROC_RACERS];
    for (int k = 0; k < PROC_RACERS; k++) {
        pids[k] = fork();
        ASSERT(pids[k] >= 0);
        if (pids[k] != 0)
            continue;
        close(go[1]);
        close(res[0]);
        struct store *st;
        struct store_conn *c;
        struct errbuf err;
        if (store_open(f->dsn, &st, &err) != 0 || store_conn_open(st, &c, &err) != 0)
            _exit(1);
        struct arena *a = arena_new(4096);
        char b;
        if (read(go[0], &b, 1) != 0) /* EOF: the parent let everyone go */
            _exit(1);
        for (int i = 0; i < PROC_ROUNDS; i++) {
            char s2[32];
            snprintf(s2, sizeof(s2), "device-%d", i);
            uint8_t h[STORE_HASH_LEN];
            hash_of(s2, h);
            struct store_token got;
            int rc = store_token_consume(c, a, h, STORE_TOKEN_DEVICE, 1500, &got, &err);
            char out = rc == 0 ? 'w' : rc == ERR_CONFLICT && got.consumed_at == 1500 ? 'c' : 'x';
            if (write(res[1], &out, 1) != 1)
                _exit(1);
            arena_reset(a);
        }
        arena_free(a);
        store_conn_close(c);
        store_close(st);
        _exit(0);
    }
    close(go[0]);
    close(res[1]);
    usleep(200 * 1000); /* let every child connect before the start */
    close(go[1]);
    int won = 0, lost = 0, other = 0;
    char b;
    while (read(res[0], &b, 1) == 1)
        b == 'w' ? won++ : b == 'c' ? lost++ : other++;
    close(res[0]);
    for (int k = 0; k < PROC_RACERS; k++) {
        int status = 0;
        waitpid(pids[k], &status, 0);
        ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ASSERT_EQ(other, 0);
    ASSERT_EQ(won, PROC_ROUNDS);
    ASSERT_EQ(lost, PROC_ROUNDS * (PROC_RACERS - 1));
    OK(fx_attach(f, NULL));
}

/* ---- keys: read-modify-write groups are serialized ---- */

struct key_writer {
    struct store *st;
    int64_t listed_at_us; /* when its key_list (inside its group) returned */
    size_t seen;          /* keys it saw there */
    int rc;
};

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *key_writer_thread(void *arg)
{
    struct key_writer *w = arg;
    struct errbuf err;
    struct store_conn *c;
    struct arena *a = arena_new(4096);
    w->rc = store_conn_open(w->st, &c, &err);
    if (w->rc == 0) {
        struct store_key *keys;
        w->rc = store_begin(c, &err);
        if (w->rc == 0)
            w->rc = store_key_list(c, a, &keys, &w->seen, &err);
        w->listed_at_us = now_us();
        if (w->rc == 0)
            w->rc = store_commit(c, &err);
        else
            store_rollback(c);
        store_conn_close(c);
    }
    arena_free(a);
    return NULL;
}

/* Two instances starting at once on an empty database: each lists the keys in a group and generates the
 * missing ones. The second one's list must wait for the first one's commit, and see its key. */
STORE_TEST(key_list_in_group_serializes)
{
    static const unsigned char priv[] = {1, 2, 3};
    struct store_key k = {.kid = "k1", .alg = "RS256", .priv_enc = priv, .priv_enc_len = 3,
                          .public_jwk = "{}", .created_at = 1, .sign_from = 1};
    struct store_key *keys;
    size_t n;
    OK(store_begin(f->c, &f->err));
    OK(store_key_list(f->c, f->a, &keys, &n, &f->err));
    ASSERT_EQ(n, 0);
    struct key_writer w = {.st = f->st};
    pthread_t th;
    pthread_create(&th, NULL, key_writer_thread, &w);
    usleep(300 * 1000);
    OK(store_key_put(f->c, &k, &f->err));
    int64_t committed_at = now_us();
    OK(store_commit(f->c, &f->err));
    pthread_join(th, NULL);
    ASSERT_EQ(w.rc, 0);
    ASSERT(w.listed_at_us >= committed_at);
    ASSERT_EQ(w.seen, 1);
}

/* ---- PostgreSQL specifics ---- */

/* The database cannot be reached: ERR_UNAVAILABLE, quickly, and the DSN's password appears in no
 * message. Port 1 on loopback refuses connections. */
TEST(pg_unreachable_is_unavailable)
{
    ONLY_ON(false);
    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(store_open("postgres://ostiary:hunter2-secret@127.0.0.1:1/ostiary", &st, &err), 0);
    int applied = 0;
    int rc_migrate = store_migrate(st, &applied, &err);
    bool leaked = strstr(err.msg, "hunter2") != NULL;
    ASSERT_EQ(store_conn_open(st, &c, &err), 0); /* a worker starts, and connects later */
    struct arena *a = arena_new(1024);
    uint8_t h[STORE_HASH_LEN] = {0};
    struct store_token got;
    int rc_get = store_token_get(c, a, h, &got, &err);
    leaked = leaked || strstr(err.msg, "hunter2") != NULL;
    int64_t t0 = now_us();
    int rc_again = store_token_get(c, a, h, &got, &err); /* within the retry delay: at once */
    int64_t spent = now_us() - t0;
    int rc_ping = store_ping(c, &err);
    leaked = leaked || strstr(err.msg, "hunter2") != NULL;
    arena_free(a);
    store_conn_close(c);
    store_close(st);
    ASSERT_EQ(rc_migrate, ERR_UNAVAILABLE);
    ASSERT_EQ(rc_get, ERR_UNAVAILABLE);
    ASSERT_EQ(rc_again, ERR_UNAVAILABLE);
    ASSERT_EQ(rc_ping, ERR_UNAVAILABLE);
    ASSERT(spent < 50 * 1000);
    ASSERT(!leaked);
    ASSERT(strstr(err.msg, "***") != NULL); /* the DSN is named, password masked */
}

/* The server closes every connection (as a restart does): the next calls reconnect by themselves, reads
 * and writes alike, without an error. */
STORE_TEST(pg_reconnects_after_server_closes_connections)
{
    ONLY_ON(false);
    struct store_token t = token("before", STORE_TOKEN_ACCESS, "g", 5000);
    OK(store_token_put(f->c, &t, &f->err));
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> "
             "pg_backend_pid()",
             f->dbname);
    struct errbuf aerr;
    ASSERT_EQ(pg_admin(sql, &aerr), 0);
    usleep(100 * 1000); /* the goodbye reaches our socket */
    struct store_token u = token("after", STORE_TOKEN_ACCESS, "g", 5000);
    OK(store_token_put(f->c, &u, &f->err));
    struct store_token got;
    OK(store_token_get(f->c, f->a, t.hash, &got, &f->err));
    ASSERT_EQ(pg_admin(sql, &aerr), 0);
    usleep(100 * 1000);
    OK(store_ping(f->c, &f->err));
    OK(store_token_get(f->c, f->a, u.hash, &got, &f->err));
}

/* The connection is lost in the middle of a group (the server restarts): the group's calls and its commit
 * say ERR_UNAVAILABLE (the client may retry: 503), nothing of it is written, and the connection is usable
 * again afterwards. */
STORE_TEST(pg_connection_lost_inside_group)
{
    ONLY_ON(false);
    struct store_token a = token("in-group-a", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token b = token("in-group-b", STORE_TOKEN_ACCESS, "g", 5000);
    struct store_token got;
    OK(store_begin(f->c, &f->err));
    OK(store_token_put(f->c, &a, &f->err));
    ASSERT_EQ(store_token_get(f->c, f->a, b.hash, &got, &f->err), ERR_NOTFOUND); /* the group has started */
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> "
             "pg_backend_pid()",
             f->dbname);
    struct errbuf aerr;
    ASSERT_EQ(pg_admin(sql, &aerr), 0);
    usleep(100 * 1000);
    int rc_put = store_token_put(f->c, &b, &f->err);
    int rc_commit = store_commit(f->c, &f->err);
    ASSERT(rc_put == 0 || rc_put == ERR_UNAVAILABLE);
    ASSERT_EQ(rc_commit, ERR_UNAVAILABLE);
    ASSERT_EQ(store_token_get(f->c, f->a, a.hash, &got, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_token_get(f->c, f->a, b.hash, &got, &f->err), ERR_NOTFOUND);
    OK(store_token_put(f->c, &b, &f->err));
}

/* The DSN's sslmode is libpq's to honour: sslmode=require against the test server, which has no TLS,
 * must refuse to connect (ERR_UNAVAILABLE, saying why) rather than fall back to plain text. */
TEST(pg_sslmode_from_dsn_is_honoured)
{
    ONLY_ON(false);
    char dsn[512];
    snprintf(dsn, sizeof(dsn), "%s/postgres?sslmode=require", pg_url());
    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(store_open(dsn, &st, &err), 0);
    ASSERT_EQ(store_conn_open(st, &c, &err), 0);
    int rc = store_ping(c, &err);
    store_conn_close(c);
    store_close(st);
    ASSERT_EQ(rc, ERR_UNAVAILABLE);
    if (strstr(err.msg, "SSL") == NULL)
        fprintf(stderr, "  %s\n", err.msg);
    ASSERT(strstr(err.msg, "SSL") != NULL);
}

/* A database replaced under a running server (another store id, or no Ostiary schema at all) is noticed
 * by store_check; an unreachable one is not a loss. */
STORE_TEST(pg_replaced_database_is_noticed)
{
    ONLY_ON(false);
    OK(store_check(f->c, &f->err));
    struct errbuf aerr;
    ASSERT_EQ(pg_admin_db(f->dbname, "UPDATE store_meta SET value = 'another' WHERE key = 'store_id'", &aerr), 0);
    ASSERT_EQ(store_check(f->c, &f->err), ERR_FAIL);
    ASSERT(strstr(f->err.msg, "replaced") != NULL);
    ASSERT_EQ(pg_admin_db(f->dbname, "DROP TABLE store_meta", &aerr), 0);
    ASSERT_EQ(store_check(f->c, &f->err), ERR_FAIL);

    struct store *st = NULL;
    struct store_conn *c = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(store_open("postgres://127.0.0.1:1/ostiary", &st, &err), 0);
    ASSERT_EQ(store_conn_open(st, &c, &err), 0);
    int rc = store_check(c, &err); /* never migrated here: nothing to compare; and unreachable anyway */
    store_conn_close(c);
    store_close(st);
    ASSERT_EQ(rc, 0);
}

/* Expiry cleanup runs on one instance at a time: while another session holds the advisory lock, a pass
 * removes nothing; once it is released, the pass does its work. */
STORE_TEST(pg_gc_one_instance_at_a_time)
{
    ONLY_ON(false);
    struct store_token old = token("old", STORE_TOKEN_ACCESS, "g", 1000);
    OK(store_token_put(f->c, &old, &f->err));
    PGconn *other = PQconnectdb(f->dsn); /* libpq takes the postgres:// URI as it is */
    ASSERT(PQstatus(other) == CONNECTION_OK);
    PGresult *r = PQexec(other, "SELECT pg_advisory_lock(8030038760375175427)");
    bool locked = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    int removed = -1;
    int rc1 = store_gc(f->c, 2000, 100, &removed, &f->err);
    int removed_locked = removed;
    /* Released by a statement: a closed session's locks go only when its server process has exited, a
     * moment after PQfinish returns. */
    r = PQexec(other, "SELECT pg_advisory_unlock(8030038760375175427)");
    PQclear(r);
    PQfinish(other);
    OK(rc1);
    ASSERT(locked);
    ASSERT_EQ(removed_locked, 0);
    OK(store_gc(f->c, 2000, 100, &removed, &f->err));
    ASSERT_EQ(removed, 1);
}

TEST(dsn_redacted)
{
    struct arena *a = arena_new(1024);
    const char *r1 = store_dsn_redacted(a, "postgres://u:p%40ss@db.example:5432/ostiary?sslmode=verify-full");
    const char *r2 = store_dsn_redacted(a, "postgresql://u@h/db?password=s3cret&sslmode=require");
    const char *r3 = store_dsn_redacted(a, "postgres://h/db");
    const char *r4 = store_dsn_redacted(a, "sqlite:./var/ostiary.db");
    char c1[128], c2[128], c3[64], c4[64];
    snprintf(c1, sizeof(c1), "%s", r1);
    snprintf(c2, sizeof(c2), "%s", r2);
    snprintf(c3, sizeof(c3), "%s", r3);
    snprintf(c4, sizeof(c4), "%s", r4);
    arena_free(a);
    ASSERT_STREQ(c1, "postgres://u:***@db.example:5432/ostiary?sslmode=verify-full");
    ASSERT_STREQ(c2, "postgresql://u@h/db?password=***&sslmode=require");
    ASSERT_STREQ(c3, "postgres://h/db");
    ASSERT_STREQ(c4, "sqlite:./var/ostiary.db");
}

TESTS(T(client_crud), T(client_origin_and_registration_token), T(par_and_initial_access_taken_once),
      T(client_list_many), T(client_meta_has), T(token_put_get), T(token_consume_once),
      T(token_consume_notfound), T(token_consume_race), T(token_redeem_race), T(token_get_user_reads_the_user),
      T(token_redeem_once), T(token_redeem_all_or_nothing), T(token_settle_once), T(token_settle_deny_and_notfound),
      T(token_settle_race), T(single_use_once_until_exp), T(single_use_race), T(client_secret_enc_round_trip),
      T(grant_revoke_family), T(token_successor),
      T(token_revoke_unknown), T(jti_revocation),
      T(key_put_list), T(gc_expired_only_and_bounded), T(rollback_leaves_nothing),
      T(group_isolated_from_other_connections), T(group_reads_its_own_writes_on_any_connection),
      T(loop_reads_see_every_commit_of_the_process), T(sqlite_loop_reads_share_a_snapshot_per_turn),
      T(concurrent_writers), T(migrate_twice_applies_nothing),
      T(reopen_keeps_data), T(committed_write_survives_kill9), T(sqlite_open_errors),
      T(sqlite_unmigrated_fails_clearly), T(sqlite_identity), T(user_crud), T(user_username_unique),
      T(user_rollback_leaves_nothing), T(consent_crud), T(token_revoke_sub), T(token_list_sub), T(token_revoke_client), T(sqlite_migration_keys_jwt_rows_by_jti),
      T(sqlite_checkpoints_bound_wal), T(sqlite_kill9_while_checkpointing), T(token_consume_race_processes),
      T(key_list_in_group_serializes), T(pg_unreachable_is_unavailable),
      T(pg_reconnects_after_server_closes_connections), T(pg_connection_lost_inside_group),
      T(pg_sslmode_from_dsn_is_honoured), T(pg_replaced_database_is_noticed), T(pg_gc_one_instance_at_a_time), T(dsn_redacted),
      T(token_scan_pages_live_tokens), T(jti_scan_pages_unexpired), T(group_many_writes),
      T(every_backend_has_every_op))
