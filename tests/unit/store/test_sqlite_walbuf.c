/* test_sqlite_walbuf.c: the VFS that writes a commit's WAL frames at once and reads the database and the
 * WAL from a shared mapping (store/sqlite_walbuf.c). Counts the writes that reach the -wal file and the
 * reads of both files by replacing the unix VFS's system calls (xSetSystemCall), and checks
 * that what a commit wrote is in the file, for another connection and after kill -9, when the commit
 * returns; that a transaction spilling pages, rewriting them, rolling back or larger than the kept run
 * ends as SQLite's own VFS would leave it; that a reader never sees a commit in part; that reads come
 * from the mapping, see what a writer the VFS does not know of wrote, and answer as the unix VFS does when
 * the WAL is shorter than the mapping believed (SIGBUS); that the database's locks outlive the other
 * connections' opening and closing; and that any other SIGBUS still ends the process. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/sqlite_walbuf.h"

static char dir[64];
static char path[128];

#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()
static void setup(void);
static void teardown(void);

#include "harness.h"

#include "core/banned.h"

/* ---- counting the writes to the -wal file ---- */

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
static pwrite_fn real_pwrite, real_pwrite64;
static write_fn real_write;
static atomic_long wal_writes;

static bool is_wal(int fd)
{
    char link[64], target[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 4)
        return false;
    target[n] = '\0';
    return strcmp(target + n - 4, "-wal") == 0;
}

static ssize_t count_pwrite(int fd, const void *b, size_t n, off_t off)
{
    if (is_wal(fd))
        atomic_fetch_add(&wal_writes, 1);
    return real_pwrite(fd, b, n, off);
}

static ssize_t count_pwrite64(int fd, const void *b, size_t n, off_t off)
{
    if (is_wal(fd))
        atomic_fetch_add(&wal_writes, 1);
    return real_pwrite64(fd, b, n, off);
}

static ssize_t count_write(int fd, const void *b, size_t n)
{
    if (is_wal(fd))
        atomic_fetch_add(&wal_writes, 1);
    return real_write(fd, b, n);
}

/* ---- counting the reads of the database and the -wal file ---- */

typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
static pread_fn real_pread, real_pread64;
static read_fn real_read;
static atomic_long file_reads;

/* The test's database or its WAL (not the -shm, nor another file). */
static bool is_store_file(int fd)
{
    char link[64], target[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 0)
        return false;
    target[n] = '\0';
    size_t len = strlen(path);
    return strncmp(target, path, len) == 0 && (target[len] == '\0' || strcmp(target + len, "-wal") == 0);
}

static ssize_t count_pread(int fd, void *b, size_t n, off_t off)
{
    if (is_store_file(fd))
        atomic_fetch_add(&file_reads, 1);
    return real_pread(fd, b, n, off);
}

static ssize_t count_pread64(int fd, void *b, size_t n, off_t off)
{
    if (is_store_file(fd))
        atomic_fetch_add(&file_reads, 1);
    return real_pread64(fd, b, n, off);
}

static ssize_t count_read(int fd, void *b, size_t n)
{
    if (is_store_file(fd))
        atomic_fetch_add(&file_reads, 1);
    return real_read(fd, b, n);
}

/* Replaces the write and read calls the unix VFS has (which of write, pwrite, pwrite64, read, pread,
 * pread64 it uses depends on its build). Done before the first open: the walbuf VFS wraps the unix one, so both go through them. */
static void count_install(void)
{
    sqlite3_vfs *unix_vfs = sqlite3_vfs_find("unix");
    if (unix_vfs == NULL || unix_vfs->iVersion < 3)
        return;
    real_pwrite = (pwrite_fn)unix_vfs->xGetSystemCall(unix_vfs, "pwrite");
    real_pwrite64 = (pwrite_fn)unix_vfs->xGetSystemCall(unix_vfs, "pwrite64");
    real_write = (write_fn)unix_vfs->xGetSystemCall(unix_vfs, "write");
    if (real_pwrite != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite", (sqlite3_syscall_ptr)count_pwrite);
    if (real_pwrite64 != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", (sqlite3_syscall_ptr)count_pwrite64);
    if (real_write != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "write", (sqlite3_syscall_ptr)count_write);
    real_pread = (pread_fn)unix_vfs->xGetSystemCall(unix_vfs, "pread");
    real_pread64 = (pread_fn)unix_vfs->xGetSystemCall(unix_vfs, "pread64");
    real_read = (read_fn)unix_vfs->xGetSystemCall(unix_vfs, "read");
    if (real_pread != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pread", (sqlite3_syscall_ptr)count_pread);
    if (real_pread64 != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "pread64", (sqlite3_syscall_ptr)count_pread64);
    if (real_read != NULL)
        unix_vfs->xSetSystemCall(unix_vfs, "read", (sqlite3_syscall_ptr)count_read);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/ostiary-walbuf-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/t.db", dir);
    count_install();
}

static void remove_db(void)
{
    char p[160];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static void teardown(void)
{
    remove_db();
    rmdir(dir);
}

/* ---- helpers ---- */

static sqlite3 *open_db(const char *vfs)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) {
        fprintf(stderr, "  open: %s\n", db != NULL ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static int exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  %s: %s\n", sql, msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return rc;
}

static long long one(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        fprintf(stderr, "  %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return v;
}

/* A WAL frame of fresh()'s database: its 24-byte header and a 2 KiB page; the WAL's own header. */
#define FRAME_BYTES (24 + 2048)
#define WAL_HEADER_BYTES 32

/* A fresh database in WAL mode with 2 KiB pages, as the store makes them, opened through the walbuf VFS:
 * table t, its random 32-byte keys indexed, so that each row lands on a page of its own. */
static sqlite3 *fresh(void)
{
    remove_db();
    sqlite3 *db = open_db(sqlite_walbuf_vfs());
    if (db == NULL)
        return NULL;
    if (exec(db, "PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "PRAGMA wal_autocheckpoint = 0;"
                 "CREATE TABLE t (k BLOB PRIMARY KEY, v INTEGER NOT NULL, pad TEXT);") != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Inserts n rows with random keys, values adding up to zero per call, in one transaction (or in the
 * caller's when begin is false). */
static int insert(sqlite3 *db, int n, int pad, bool begin)
{
    sqlite3_stmt *s = NULL;
    int rc = begin ? exec(db, "BEGIN IMMEDIATE") : SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO t (k, v, pad) VALUES (randomblob(32), ?, printf('%.*c', ?, 'x'))",
                                -1, &s, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        sqlite3_bind_int(s, 1, i == n - 1 ? -(n - 1) : 1);
        sqlite3_bind_int(s, 2, pad);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    if (begin)
        rc = rc == SQLITE_OK ? exec(db, "COMMIT") : (exec(db, "ROLLBACK"), rc);
    return rc;
}

static long long file_size(const char *suffix)
{
    char p[160];
    struct stat st;
    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Opened through SQLite's own VFS: integrity_check, then the row count and the sum of the values. */
static bool check_plain(long long rows)
{
    sqlite3 *db = open_db(NULL);
    if (db == NULL)
        return false;
    sqlite3_stmt *s = NULL;
    bool ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK &&
              sqlite3_step(s) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    sqlite3_finalize(s);
    if (!ok)
        fprintf(stderr, "  integrity_check failed\n");
    long long n = one(db, "SELECT count(*) FROM t"), sum = one(db, "SELECT total(v) FROM t");
    if (n != rows || sum != 0) {
        fprintf(stderr, "  %lld rows (want %lld), sum %lld (want 0)\n", n, rows, sum);
        ok = false;
    }
    sqlite3_close(db);
    return ok;
}

/* ---- tests ---- */

TEST(registered_beside_the_default)
{
    const char *name = sqlite_walbuf_vfs();
    ASSERT(name != NULL);
    ASSERT(sqlite3_vfs_find(name) != NULL);
    ASSERT(sqlite3_vfs_find(NULL) != sqlite3_vfs_find(name)); /* never made the default */
    ASSERT_STREQ(sqlite_walbuf_vfs(), name);
}

/* The point of it: a commit of many frames is one write to the WAL; SQLite's VFS makes two per frame. */
TEST(a_commit_is_one_write)
{
    ASSERT(real_pwrite != NULL || real_pwrite64 != NULL || real_write != NULL);
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    /* 3,000 rows first, so that the index has enough leaves for the next rows to land apart; the WAL
     * header is written (and synced) once, then. */
    ASSERT_EQ(insert(db, 3000, 10, true), SQLITE_OK);
    long long before = file_size("-wal");
    atomic_store(&wal_writes, 0);
    ASSERT_EQ(insert(db, 40, 10, true), SQLITE_OK);
    long long frames = (file_size("-wal") - before) / FRAME_BYTES;
    ASSERT(frames >= 20); /* 40 random keys: most on leaves of their own */
    ASSERT_EQ(atomic_load(&wal_writes), 1);

    /* The same commit through SQLite's own VFS, for comparison. */
    sqlite3 *plain = open_db(NULL);
    ASSERT(plain != NULL);
    atomic_store(&wal_writes, 0);
    before = file_size("-wal");
    ASSERT_EQ(insert(plain, 40, 10, true), SQLITE_OK);
    frames = (file_size("-wal") - before) / FRAME_BYTES;
    ASSERT_EQ(atomic_load(&wal_writes), 2 * frames);
    sqlite3_close(plain);
    sqlite3_close(db);
    ASSERT(check_plain(3080));
}

/* What a commit wrote is in the file when it returns: another connection (SQLite's own VFS) reads it
 * while the writer stays open, and the WAL has nothing left to write. */
TEST(a_commit_is_in_the_file_when_it_returns)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    sqlite3 *other = open_db(NULL);
    ASSERT(other != NULL);
    for (int i = 1; i <= 20; i++) {
        ASSERT_EQ(insert(db, 7, 50, true), SQLITE_OK);
        long long size = file_size("-wal");
        ASSERT_EQ(one(other, "SELECT count(*) FROM t"), 7 * i);
        ASSERT_EQ(file_size("-wal"), size);
    }
    sqlite3_close(other);
    sqlite3_close(db);
    ASSERT(check_plain(140));
}

/* kill -9 right after a commit returns: every committed row is there on the next open. */
TEST(a_commit_survives_kill_9)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    sqlite3_close(db);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        sqlite3 *c = open_db(sqlite_walbuf_vfs());
        int done = 0;
        for (int i = 0; c != NULL && i < 30 && insert(c, 11, 100, true) == SQLITE_OK; i++)
            done++;
        if (write(fds[1], &done, sizeof(done)) != (ssize_t)sizeof(done))
            _exit(2);
        raise(SIGKILL);
        _exit(3);
    }
    close(fds[1]);
    int done = -1;
    ASSERT_EQ(read(fds[0], &done, sizeof(done)), (ssize_t)sizeof(done));
    close(fds[0]);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_EQ(done, 30);
    ASSERT(file_size("-wal") > 0); /* nothing checkpointed: the rows are only in the WAL */
    ASSERT(check_plain(330));
}

/* A transaction larger than the page cache spills pages to the WAL before its commit, and writes some of
 * them again in place (SQLite then rewrites the frames' checksums); one rolled back leaves spilled frames
 * that the next transaction overwrites. */
TEST(spills_rewrites_and_rollbacks)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(exec(db, "PRAGMA cache_size = 8"), SQLITE_OK);
    ASSERT_EQ(insert(db, 300, 200, true), SQLITE_OK);
    ASSERT_EQ(exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    ASSERT_EQ(insert(db, 300, 200, false), SQLITE_OK);
    ASSERT_EQ(exec(db, "UPDATE t SET pad = pad || 'y' WHERE rowid % 3 = 0"), SQLITE_OK);
    ASSERT_EQ(exec(db, "ROLLBACK"), SQLITE_OK);
    ASSERT_EQ(one(db, "SELECT count(*) FROM t"), 300);
    ASSERT_EQ(exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    ASSERT_EQ(insert(db, 200, 200, false), SQLITE_OK);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(exec(db, "UPDATE t SET pad = pad || 'z' WHERE rowid % 2 = 0"), SQLITE_OK);
    ASSERT_EQ(exec(db, "COMMIT"), SQLITE_OK);
    ASSERT_EQ(one(db, "SELECT count(*) FROM t WHERE pad LIKE '%zzz'"),
              one(db, "SELECT count(*) FROM t WHERE rowid % 2 = 0"));
    sqlite3_close(db);
    ASSERT(check_plain(500));
}

/* A commit larger than the kept run (128 KiB) is written in parts, and is whole. */
TEST(a_commit_larger_than_the_run)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(insert(db, 2000, 300, true), SQLITE_OK);
    ASSERT(file_size("-wal") > 512 * 1024); /* four runs at least */
    sqlite3 *other = open_db(NULL);
    ASSERT(other != NULL);
    ASSERT_EQ(one(other, "SELECT count(*) FROM t"), 2000);
    sqlite3_close(other);
    /* Checkpointed and restarted: the next commit writes from the WAL's start again. */
    ASSERT_EQ(exec(db, "PRAGMA wal_checkpoint(RESTART)"), SQLITE_OK);
    ASSERT_EQ(insert(db, 500, 300, true), SQLITE_OK);
    sqlite3_close(db);
    ASSERT(check_plain(2500));
}

/* Readers on their own connections (through the walbuf VFS too) while a writer commits: each commit adds
 * rows whose values sum to zero, so a reader that saw part of one would see another sum. */
struct race {
    atomic_bool stop;
    atomic_long reads, bad;
};

static void *reader(void *p)
{
    struct race *r = p;
    sqlite3 *db = open_db(sqlite_walbuf_vfs());
    if (db == NULL) {
        atomic_fetch_add(&r->bad, 1);
        return NULL;
    }
    long long last = 0;
    while (!atomic_load(&r->stop)) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, "SELECT count(*), total(v) FROM t", -1, &s, NULL) != SQLITE_OK ||
            sqlite3_step(s) != SQLITE_ROW) {
            atomic_fetch_add(&r->bad, 1);
        } else {
            long long n = sqlite3_column_int64(s, 0);
            if (sqlite3_column_double(s, 1) != 0 || n < last || n % 9 != 0)
                atomic_fetch_add(&r->bad, 1);
            last = n;
        }
        sqlite3_finalize(s);
        atomic_fetch_add(&r->reads, 1);
    }
    sqlite3_close(db);
    return NULL;
}

TEST(readers_never_see_part_of_a_commit)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    struct race r = {0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, reader, &r), 0);
    int commits = 0;
    for (; commits < 400; commits++) {
        if (insert(db, 9, 40, true) != SQLITE_OK)
            break;
        if (commits % 100 == 99 && exec(db, "PRAGMA wal_checkpoint(PASSIVE)") != SQLITE_OK)
            break;
    }
    atomic_store(&r.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    sqlite3_close(db);
    ASSERT_EQ(commits, 400);
    ASSERT(atomic_load(&r.reads) > 0);
    ASSERT_EQ(atomic_load(&r.bad), 0);
    ASSERT(check_plain(3600));
}

/* Reads come from the mapping: a new connection reads the schema and the rows (some in the WAL, some in
 * the database file), and again after another connection's commit has emptied its cache, without a read
 * system call; SQLite's own VFS reads the same with them (so the counter counts). */
TEST(reads_come_from_the_mapping)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(insert(db, 200, 100, true), SQLITE_OK);
    ASSERT_EQ(exec(db, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK); /* these rows in the database file */
    ASSERT_EQ(insert(db, 50, 100, true), SQLITE_OK);                  /* these in the WAL */
    sqlite3 *r = open_db(sqlite_walbuf_vfs());
    ASSERT(r != NULL);
    long before = atomic_load(&file_reads);
    ASSERT_EQ(one(r, "SELECT count(*) FROM t"), 250);
    ASSERT_EQ(one(r, "SELECT total(v) FROM t"), 0);
    ASSERT_EQ(atomic_load(&file_reads) - before, 0);
    ASSERT_EQ(insert(db, 10, 100, true), SQLITE_OK);
    before = atomic_load(&file_reads);
    ASSERT_EQ(one(r, "SELECT count(*) FROM t"), 260);
    ASSERT_EQ(atomic_load(&file_reads) - before, 0);
    sqlite3 *plain = open_db(NULL);
    ASSERT(plain != NULL);
    before = atomic_load(&file_reads);
    ASSERT_EQ(one(plain, "SELECT count(*) FROM t"), 260);
    ASSERT(atomic_load(&file_reads) - before > 0);
    sqlite3_close(plain);
    sqlite3_close(r);
    sqlite3_close(db);
    ASSERT(check_plain(260));
}

/* A writer whose writes this VFS does not see (SQLite's own VFS here, another process in production)
 * grows the WAL and the database file past the size the mapping knows: the reader takes the size again
 * (stat) and reads what was written, still from the mapping. */
TEST(reads_see_a_writer_the_vfs_does_not_know)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(insert(db, 10, 100, true), SQLITE_OK);
    sqlite3 *r = open_db(sqlite_walbuf_vfs());
    ASSERT(r != NULL);
    ASSERT_EQ(one(r, "SELECT count(*) FROM t"), 10);
    sqlite3 *other = open_db(NULL);
    ASSERT(other != NULL);
    long long wal = file_size("-wal"), main = file_size("");
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(insert(other, 100, 300, true), SQLITE_OK);
    ASSERT_EQ(exec(other, "PRAGMA wal_checkpoint(PASSIVE)"), SQLITE_OK);
    ASSERT_EQ(insert(other, 20, 300, true), SQLITE_OK);
    ASSERT(file_size("-wal") > wal && file_size("") > main);
    long before = atomic_load(&file_reads);
    ASSERT_EQ(one(r, "SELECT count(*) FROM t"), 530);
    ASSERT_EQ(one(r, "SELECT total(v) FROM t"), 0);
    ASSERT_EQ(one(r, "SELECT sum(length(pad)) FROM t"), 10 * 100 + 520 * 300);
    ASSERT_EQ(atomic_load(&file_reads) - before, 0);
    sqlite3_close(other);
    sqlite3_close(r);
    sqlite3_close(db);
    ASSERT(check_plain(530));
}

/* The WAL cut shorter behind SQLite's back while the wal-index still lists its frames: the copy from the
 * mapping faults (SIGBUS), the read goes to the unix VFS (a short read), and the query fails as it does
 * through SQLite's own VFS, where the process would otherwise have died. */
TEST(a_wal_shorter_than_believed_reads_as_the_unix_vfs_does)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(insert(db, 300, 100, true), SQLITE_OK);
    sqlite3 *r = open_db(sqlite_walbuf_vfs());
    ASSERT(r != NULL);
    ASSERT_EQ(one(r, "SELECT count(*) FROM t"), 300);
    ASSERT_EQ(insert(db, 1, 100, true), SQLITE_OK); /* r's cache is dropped at its next read */
    char wal[160];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    ASSERT_EQ(truncate(wal, WAL_HEADER_BYTES), 0);
    long before = atomic_load(&file_reads);
    int ours = sqlite3_exec(r, "SELECT count(*) FROM t", NULL, NULL, NULL);
    ASSERT(atomic_load(&file_reads) - before > 0); /* the fault's read went to the unix VFS */
    sqlite3 *plain = open_db(NULL);
    ASSERT(plain != NULL);
    int theirs = sqlite3_exec(plain, "SELECT count(*) FROM t", NULL, NULL, NULL);
    ASSERT(ours != SQLITE_OK);
    ASSERT_EQ(ours, theirs);
    sqlite3_close(plain);
    sqlite3_close(r);
    sqlite3_close(db);
}

/* The mapping uses the descriptors SQLite opened: a connection opened and closed while another holds the
 * write lock leaves that lock in place (closing any descriptor of a file drops all of the process's POSIX
 * locks on it), as another process sees with F_GETLK on SQLite's reserved byte. */
TEST(the_databases_locks_outlive_other_connections)
{
    sqlite3 *db = fresh();
    ASSERT(db != NULL);
    ASSERT_EQ(insert(db, 10, 100, true), SQLITE_OK);
    ASSERT_EQ(exec(db, "BEGIN IMMEDIATE"), SQLITE_OK);
    for (int i = 0; i < 3; i++) {
        sqlite3 *y = open_db(sqlite_walbuf_vfs());
        ASSERT(y != NULL);
        ASSERT_EQ(one(y, "SELECT count(*) FROM t"), 10);
        sqlite3_close(y);
    }
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_RDONLY);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0x40000002, .l_len = 510};
        if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
            _exit(2);
        _exit(fl.l_type == F_UNLCK ? 1 : 0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0);
    ASSERT_EQ(exec(db, "ROLLBACK"), SQLITE_OK);
    sqlite3_close(db);
    ASSERT(check_plain(10));
}

/* The handler takes only the faults of its own copies: a SIGBUS anywhere else still ends the process (by
 * the signal, or under AddressSanitizer, whose handler ours passes it to, by the sanitizer's report). */
TEST(any_other_sigbus_still_ends_the_process)
{
    ASSERT(sqlite_walbuf_vfs() != NULL); /* the handler is installed */
    remove_db();
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT(fd >= 0);
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    volatile unsigned char *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    ASSERT(p != MAP_FAILED);
    ASSERT_EQ(ftruncate(fd, 0), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 2); /* the sanitizer's report of the expected fault */
        unsigned char v = p[100];
        _exit(v == 0 ? 0 : 4); /* not reached */
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    munmap((void *)p, 4096);
    close(fd);
#if defined(__SANITIZE_ADDRESS__)
    /* The sanitizer's report ends the child: it exits, or aborts (abort_on_error=1). */
    ASSERT(WIFSIGNALED(status) ? WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT
                               : WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 4);
#else
    ASSERT(WIFSIGNALED(status));
    ASSERT_EQ(WTERMSIG(status), SIGBUS);
#endif
}

TESTS(T(registered_beside_the_default), T(a_commit_is_one_write), T(a_commit_is_in_the_file_when_it_returns),
      T(a_commit_survives_kill_9), T(spills_rewrites_and_rollbacks), T(a_commit_larger_than_the_run),
      T(readers_never_see_part_of_a_commit), T(reads_come_from_the_mapping),
      T(reads_see_a_writer_the_vfs_does_not_know), T(a_wal_shorter_than_believed_reads_as_the_unix_vfs_does),
      T(the_databases_locks_outlive_other_connections), T(any_other_sigbus_still_ends_the_process))
