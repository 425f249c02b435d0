/* sqlite_walbuf.c: a SQLite VFS over the default one that writes each commit's WAL frames to the -wal
 * file in one write(2), instead of two per frame, and reads the database and the WAL from a shared
 * mapping instead of one pread(2) per page (see "Reads" below).
 *
 * SQLite appends a frame to the WAL with two writes, its 24-byte header and then its page, and a commit
 * writes one frame per page it changed: a batch of opaque tokens changes a few dozen pages, and each of
 * those writes is a system call (about 3 µs a frame on our test machine, against 0.15 µs for the same bytes
 * written at once). This VFS keeps a run of consecutive appends to the WAL in memory and writes it when
 * the run ends, so a commit costs one write whatever its size.
 *
 * Durability and what other connections see are unchanged, because a run ends, at the latest, with the
 * page of a commit frame (a frame whose header carries a nonzero database size; the WAL format is
 * SQLite's documented file format). That page's xWrite writes the whole run and returns only then, with
 * the write's error if it failed. SQLite publishes a commit (writes the wal-index header other
 * connections read) after the frames' xWrite calls return, and returns from the commit after that. So a
 * published or acknowledged commit is in the kernel's page cache exactly as before; a process killed
 * earlier leaves a torn tail without a commit frame, which recovery ignores, as it always did.
 *
 * Which writes are kept:
 * - a run starts with the WAL header (32 bytes at offset 0) or with the header of a frame that is not a
 *   commit's, and goes on with every write at the offset where it ends;
 * - any other write (a page overwritten in place, a frame header rewritten with new checksums, a commit
 *   frame's header that starts no run) ends the run and is written at once;
 * - every other operation on the WAL (read, size, truncate, sync, file control, close) ends the run
 *   first, so the connection itself never reads around it.
 * Frames written before the commit frame (a transaction spilling pages from its cache) may stay kept
 * until the commit or the next such operation; none of them is published before. As a defence only, the
 * database file's xShmBarrier (which SQLite calls while publishing a commit) writes whatever the
 * connection's WAL still keeps.
 *
 * The WAL file is tied to its connection's database file, which SQLite names for it
 * (sqlite3_database_file_object): both are used by one thread at a time, the connection's, so nothing
 * here needs a lock for the run.
 *
 * Reads. SQLite reads each page it does not hold in its cache with one pread(2), and in WAL mode a
 * connection empties its cache whenever another connection has committed: every read transaction reads
 * its b-tree paths again, from the WAL and the database (about 11 reads per browser sign-in on our test
 * machine, the checkpointer's reads of the frames it copies included). So the database file and its WAL
 * are also mapped, read only and shared (MAP_SHARED), once per file and process (struct wb_map, shared by
 * every connection to the file), and a read inside the part of the file known to exist is a copy from the
 * mapping:
 * - A shared mapping shows the file's current bytes, whoever wrote them (this connection, another one,
 *   another process), exactly as pread does; there is no copy to go stale.
 * - The mapping is made from the descriptor the underlying VFS opened the file with, caught by its
 *   "open" system call while wb_open runs (the unix VFS lets a program replace its system calls). The VFS
 *   never opens a descriptor of its own: closing any descriptor of a file drops every POSIX lock the
 *   process holds on it, and SQLite keeps its locks on the database file for all its connections.
 * - The part known to exist is the size when the file was mapped, grown by this process's writes, set
 *   by its truncations, and taken again with stat(2) when a read goes past it (another process wrote
 *   there). A read past the mapping, or past the size stat gives, is passed to the underlying VFS.
 * - SQLite reads only what its locks keep in the file: a committed frame that no checkpoint can restart
 *   over while the read transaction lasts, a page of the database no longer than the snapshot says. Were
 *   the file shorter all the same (truncated by another process) or a page unreadable (a disk error),
 *   touching the mapping raises SIGBUS instead of failing a read: the handler installed with the VFS
 *   (on_sigbus) ends the copy that faulted, if the thread was in one and the address is in its mapping,
 *   the known size is dropped, and the read is passed to the underlying VFS, which answers as it always
 *   did (a short read, or EIO). Any other SIGBUS goes where it would have gone without the handler.
 * Every other file (journals, temporary files) is passed through. */
#include "store/sqlite_walbuf.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/banned.h"

#define WAL_HEADER_SIZE 32       /* the WAL file's header, at offset 0 */
#define WAL_FRAME_HEADER_SIZE 24 /* before each page; bytes 4..7: the database size after a commit, or 0 */
/* Bytes kept at most; a longer run is written in parts. The unix VFS takes at most 128 KiB - 1 bytes per
 * xWrite: it masks the length to 17 bits (a 128 KiB write would write nothing and fail as a full disk). */
#define RUN_CAP 0x1ffff

/* ---- the mappings (see "Reads" above) ---- */

/* Address space reserved for a file's mapping: at least MAP_MIN, or four times the file's size when it is
 * mapped. Reserving costs no memory; a read past it goes to the underlying VFS. */
#define MAP_MIN ((int64_t)1 << 30)

struct wb_map {
    struct wb_map *next;
    dev_t dev;
    ino_t ino;
    char *path;                 /* its name, for stat */
    const unsigned char *base;  /* the mapping, `cap` bytes */
    int64_t cap;
    _Atomic int64_t size;       /* bytes of the file known to exist */
    int refs;                   /* files open on it; guarded by maps_mu */
};

static pthread_mutex_t maps_mu = PTHREAD_MUTEX_INITIALIZER;
static struct wb_map *maps;
static bool maps_on; /* a 64-bit address space, the open hook and the SIGBUS handler: files may be mapped */

/* The copy a thread is in (map_copy), for the SIGBUS handler. */
struct copy_guard {
    sigjmp_buf jb;
    const unsigned char *lo, *hi; /* the mapping it reads */
};
static _Thread_local struct copy_guard *volatile copying;
static struct sigaction prev_sigbus;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
    struct copy_guard *g = copying;
    const unsigned char *a = si->si_addr;
    if (g != NULL && a >= g->lo && a < g->hi) {
        copying = NULL;
        siglongjmp(g->jb, 1);
    }
    /* Not a copy of ours: what would have happened without this handler. */
    if ((prev_sigbus.sa_flags & SA_SIGINFO) != 0) {
        if (prev_sigbus.sa_sigaction != NULL) {
            prev_sigbus.sa_sigaction(sig, si, ctx);
            return;
        }
    } else if (prev_sigbus.sa_handler != SIG_DFL && prev_sigbus.sa_handler != SIG_IGN) {
        prev_sigbus.sa_handler(sig);
        return;
    }
    /* The default action: on return the faulting instruction runs again and the signal ends the process
     * (a SIGBUS from a fault cannot be ignored). */
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGBUS, &dfl, NULL);
}

/* Installs the handler once, with the VFS. SA_NODEFER: siglongjmp leaves the handler without restoring
 * the signal mask, so SIGBUS must not be blocked while it runs. */
static bool sigbus_install(void)
{
    struct sigaction sa = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGBUS, &sa, &prev_sigbus) == 0;
}

/* Copies n bytes at src, in m's mapping; false if that raised SIGBUS. */
static bool map_copy(const struct wb_map *m, void *dst, const unsigned char *src, size_t n)
{
    struct copy_guard g = {.lo = m->base, .hi = m->base + m->cap};
    if (sigsetjmp(g.jb, 0) != 0)
        return false;
    copying = &g;
    atomic_signal_fence(memory_order_seq_cst);
    memcpy(dst, src, n);
    atomic_signal_fence(memory_order_seq_cst);
    copying = NULL;
    return true;
}

/* The descriptor the underlying VFS opens a file with, caught by its "open" system call (open_hook) while
 * wb_open runs on this thread, for that file's name only (the unix VFS may open /dev/null first to fill a
 * descriptor below 3): the mappings are made from it, and the VFS never opens (so never closes) a
 * descriptor of its own (see "Reads" above). */
typedef int (*open_fn)(const char *, int, int);
static open_fn real_open;
struct opening {
    const char *name; /* the file wb_open opens */
    int fd;           /* the last descriptor the underlying VFS opened it with, or -1 */
};
static _Thread_local struct opening *opening;

static int open_hook(const char *path, int flags, int mode)
{
    int fd = real_open(path, flags, mode);
    if (fd >= 0 && opening != NULL && strcmp(path, opening->name) == 0)
        opening->fd = fd;
    return fd;
}

/* The mapping of the file `name`, which the underlying VFS has just opened as `fd` (-1 if it reused a
 * descriptor it kept), shared with the other connections of the process to the same file; NULL if it
 * cannot be mapped (its reads then go to the underlying VFS). */
static struct wb_map *map_get(const char *name, int fd)
{
    struct stat sb;
    if (!maps_on || (fd >= 0 ? fstat(fd, &sb) : stat(name, &sb)) != 0 || !S_ISREG(sb.st_mode))
        return NULL;
    pthread_mutex_lock(&maps_mu);
    for (struct wb_map *m = maps; m != NULL; m = m->next) {
        if (m->dev == sb.st_dev && m->ino == sb.st_ino) {
            m->refs++;
            pthread_mutex_unlock(&maps_mu);
            return m;
        }
    }
    int64_t cap = sb.st_size > MAP_MIN / 4 ? sb.st_size * 4 : MAP_MIN;
    void *base = fd >= 0 ? mmap(NULL, (size_t)cap, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    struct wb_map *m = base == MAP_FAILED ? NULL : calloc(1, sizeof(*m));
    char *path = m == NULL ? NULL : strdup(name);
    if (path == NULL) {
        if (base != MAP_FAILED)
            munmap(base, (size_t)cap);
        free(m);
        pthread_mutex_unlock(&maps_mu);
        return NULL;
    }
    m->next = maps;
    m->dev = sb.st_dev;
    m->ino = sb.st_ino;
    m->path = path;
    m->base = base;
    m->cap = cap;
    atomic_init(&m->size, sb.st_size);
    m->refs = 1;
    maps = m;
    pthread_mutex_unlock(&maps_mu);
    return m;
}

static void map_put(struct wb_map *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&maps_mu);
    if (--m->refs > 0) {
        pthread_mutex_unlock(&maps_mu);
        return;
    }
    for (struct wb_map **pp = &maps; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    pthread_mutex_unlock(&maps_mu);
    munmap((void *)m->base, (size_t)m->cap);
    free(m->path);
    free(m);
}

/* This process wrote the file up to `end` (or stat says it is that long). */
static void map_grew(struct wb_map *m, int64_t end)
{
    if (m == NULL)
        return;
    int64_t cur = atomic_load_explicit(&m->size, memory_order_relaxed);
    while (cur < end && !atomic_compare_exchange_weak_explicit(&m->size, &cur, end, memory_order_release,
                                                               memory_order_relaxed))
        ;
}

/* This process truncated the file to `size`. */
static void map_truncated(struct wb_map *m, int64_t size)
{
    if (m != NULL)
        atomic_store_explicit(&m->size, size, memory_order_release);
}

/* Reads n bytes at off from the mapping; false when the caller must read through the underlying VFS. */
static bool map_read(struct wb_map *m, void *buf, int n, sqlite3_int64 off)
{
    if (m == NULL || n <= 0 || off < 0 || off > m->cap - n)
        return false;
    if (off + n > atomic_load_explicit(&m->size, memory_order_acquire)) {
        struct stat sb;
        if (stat(m->path, &sb) != 0 || sb.st_dev != m->dev || sb.st_ino != m->ino || off + n > sb.st_size)
            return false;
        map_grew(m, sb.st_size);
    }
    if (map_copy(m, buf, m->base + off, (size_t)n))
        return true;
    /* SIGBUS: the file is shorter than believed, or the page cannot be read. stat measures it again at
     * the next read past the size. */
    atomic_store_explicit(&m->size, 0, memory_order_release);
    return false;
}

struct wb_file {
    sqlite3_file base;    /* first: SQLite calls through base.pMethods */
    sqlite3_file *real;   /* the underlying VFS's file, in the same allocation, after this struct */
    struct wb_file *wal;  /* database file: its connection's WAL while that is open */
    struct wb_file *db;   /* WAL: the database file it belongs to (NULL once that is gone) */
    unsigned char *run;   /* WAL: the kept run (RUN_CAP bytes once allocated) */
    size_t len;           /* bytes kept */
    sqlite3_int64 off;    /* the file offset of run[0] */
    bool commit;          /* the last frame header kept is a commit frame's */
    struct wb_map *map;   /* database or WAL: its mapping, or NULL */
};

/* The underlying file starts at the first 8-byte boundary after our struct. */
#define REAL_OFFSET ((sizeof(struct wb_file) + 7) & ~(size_t)7)

static sqlite3_vfs wb_vfs;
static sqlite3_vfs *wb_real_vfs;
static const char *wb_name;
static pthread_once_t wb_once = PTHREAD_ONCE_INIT;

static struct wb_file *wb(sqlite3_file *f)
{
    return (struct wb_file *)f;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The database file's read, write and truncate (below), which the WAL's use once its run is written: the
 * mapping is read, grown and cut in one place. */
static int pass_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off);
static int pass_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off);
static int pass_truncate(sqlite3_file *file, sqlite3_int64 size);

/* Writes the kept run, if any. The run is dropped even if the write fails: its error goes to the caller,
 * and SQLite abandons the transaction whose frames it was. */
static int run_write(struct wb_file *f)
{
    if (f->len == 0)
        return SQLITE_OK;
    int rc = pass_write(&f->base, f->run, (int)f->len, f->off);
    f->len = 0;
    return rc;
}

/* Ends the run: writes it, and forgets the frame it was in. */
static int run_end(struct wb_file *f)
{
    f->commit = false;
    return run_write(f);
}

/* xFetch of the underlying file: a file without it (version < 3) maps nothing, and SQLite reads instead. */
static int fetch(struct wb_file *f, sqlite3_int64 off, int n, void **pp)
{
    if (f->real->pMethods->iVersion < 3) {
        *pp = NULL;
        return SQLITE_OK;
    }
    return f->real->pMethods->xFetch(f->real, off, n, pp);
}

/* ---- the WAL file ---- */

static int wal_close(sqlite3_file *file)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    if (f->db != NULL && f->db->wal == f)
        f->db->wal = NULL;
    free(f->run);
    f->run = NULL;
    map_put(f->map);
    f->map = NULL;
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int wal_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : pass_read(file, buf, n, off);
}

static int wal_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
    struct wb_file *f = wb(file);
    const unsigned char *p = buf;
    bool frame_header = n == WAL_FRAME_HEADER_SIZE;
    bool commit_header = frame_header && be32(p + 4) != 0;
    bool appends = f->len > 0 && off == f->off + (sqlite3_int64)f->len;
    bool starts = (off == 0 && n == WAL_HEADER_SIZE) || (frame_header && !commit_header);
    if (n <= 0 || n > RUN_CAP || (!appends && !starts) || (f->run == NULL && (f->run = malloc(RUN_CAP)) == NULL)) {
        int rc = run_end(f);
        return rc != SQLITE_OK ? rc : pass_write(file, buf, n, off);
    }
    if (!appends || f->len + (size_t)n > RUN_CAP) {
        /* A new run, or the run going on past RUN_CAP: what is kept is written first. */
        int rc = appends ? run_write(f) : run_end(f);
        if (rc != SQLITE_OK)
            return rc;
        f->off = off;
    }
    memcpy(f->run + f->len, p, (size_t)n);
    f->len += (size_t)n;
    if (frame_header) {
        f->commit = commit_header;
        return SQLITE_OK;
    }
    /* The page of a commit frame: the transaction is complete, and must be in the file before SQLite
     * publishes it. */
    return f->commit ? run_end(f) : SQLITE_OK;
}

static int wal_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : pass_truncate(file, size);
}

static int wal_sync(sqlite3_file *file, int flags)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int wal_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int wal_file_control(sqlite3_file *file, int op, void *arg)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int wal_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **pp)
{
    struct wb_file *f = wb(file);
    int rc = run_end(f);
    return rc != SQLITE_OK ? rc : fetch(f, off, n, pp);
}

/* ---- operations passed through (the database file, and the WAL's that need no run written) ---- */

static int pass_close(sqlite3_file *file)
{
    struct wb_file *f = wb(file);
    int rc = SQLITE_OK;
    if (f->wal != NULL) {
        /* SQLite closes the WAL first; should it not, the WAL must not point to a freed file. */
        rc = run_end(f->wal);
        f->wal->db = NULL;
        f->wal = NULL;
    }
    map_put(f->map);
    f->map = NULL;
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}

static int pass_read(sqlite3_file *file, void *buf, int n, sqlite3_int64 off)
{
    struct wb_file *f = wb(file);
    return map_read(f->map, buf, n, off) ? SQLITE_OK : f->real->pMethods->xRead(f->real, buf, n, off);
}

static int pass_write(sqlite3_file *file, const void *buf, int n, sqlite3_int64 off)
{
    struct wb_file *f = wb(file);
    int rc = f->real->pMethods->xWrite(f->real, buf, n, off);
    if (rc == SQLITE_OK)
        map_grew(f->map, off + n);
    return rc;
}

static int pass_truncate(sqlite3_file *file, sqlite3_int64 size)
{
    struct wb_file *f = wb(file);
    int rc = f->real->pMethods->xTruncate(f->real, size);
    if (rc == SQLITE_OK)
        map_truncated(f->map, size);
    return rc;
}

static int pass_sync(sqlite3_file *file, int flags)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xSync(f->real, flags);
}

static int pass_file_size(sqlite3_file *file, sqlite3_int64 *size)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xFileSize(f->real, size);
}

static int pass_lock(sqlite3_file *file, int level)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xLock(f->real, level);
}

static int pass_unlock(sqlite3_file *file, int level)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xUnlock(f->real, level);
}

static int pass_check_reserved_lock(sqlite3_file *file, int *out)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int pass_file_control(sqlite3_file *file, int op, void *arg)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int pass_sector_size(sqlite3_file *file)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xSectorSize(f->real);
}

static int pass_device_characteristics(sqlite3_file *file)
{
    struct wb_file *f = wb(file);
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int pass_shm_map(sqlite3_file *file, int region, int size, int extend, void volatile **pp)
{
    struct wb_file *f = wb(file);
    if (f->real->pMethods->iVersion < 2)
        return SQLITE_IOERR_SHMMAP;
    return f->real->pMethods->xShmMap(f->real, region, size, extend, pp);
}

static int pass_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
    struct wb_file *f = wb(file);
    if (f->real->pMethods->iVersion < 2)
        return SQLITE_IOERR_SHMLOCK;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

/* The defence described at the top: nothing should be kept here, as a commit's page wrote its run. */
static void pass_shm_barrier(sqlite3_file *file)
{
    struct wb_file *f = wb(file);
    if (f->wal != NULL)
        (void)run_end(f->wal);
    if (f->real->pMethods->iVersion >= 2)
        f->real->pMethods->xShmBarrier(f->real);
}

static int pass_shm_unmap(sqlite3_file *file, int delete_flag)
{
    struct wb_file *f = wb(file);
    if (f->real->pMethods->iVersion < 2)
        return SQLITE_OK;
    return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int pass_fetch(sqlite3_file *file, sqlite3_int64 off, int n, void **pp)
{
    struct wb_file *f = wb(file);
    return fetch(f, off, n, pp);
}

static int pass_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
    struct wb_file *f = wb(file);
    if (f->real->pMethods->iVersion < 3)
        return SQLITE_OK;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods pass_methods = {
    .iVersion = 3,
    .xClose = pass_close,
    .xRead = pass_read,
    .xWrite = pass_write,
    .xTruncate = pass_truncate,
    .xSync = pass_sync,
    .xFileSize = pass_file_size,
    .xLock = pass_lock,
    .xUnlock = pass_unlock,
    .xCheckReservedLock = pass_check_reserved_lock,
    .xFileControl = pass_file_control,
    .xSectorSize = pass_sector_size,
    .xDeviceCharacteristics = pass_device_characteristics,
    .xShmMap = pass_shm_map,
    .xShmLock = pass_shm_lock,
    .xShmBarrier = pass_shm_barrier,
    .xShmUnmap = pass_shm_unmap,
    .xFetch = pass_fetch,
    .xUnfetch = pass_unfetch,
};

static const sqlite3_io_methods wal_methods = {
    .iVersion = 3,
    .xClose = wal_close,
    .xRead = wal_read,
    .xWrite = wal_write,
    .xTruncate = wal_truncate,
    .xSync = wal_sync,
    .xFileSize = wal_file_size,
    .xLock = pass_lock,
    .xUnlock = pass_unlock,
    .xCheckReservedLock = pass_check_reserved_lock,
    .xFileControl = wal_file_control,
    .xSectorSize = pass_sector_size,
    .xDeviceCharacteristics = pass_device_characteristics,
    .xShmMap = pass_shm_map,
    .xShmLock = pass_shm_lock,
    .xShmBarrier = pass_shm_barrier,
    .xShmUnmap = pass_shm_unmap,
    .xFetch = wal_fetch,
    .xUnfetch = pass_unfetch,
};

/* ---- the VFS ---- */

static int wb_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)vfs;
    struct wb_file *f = wb(file);
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)((char *)f + REAL_OFFSET);
    bool mapped = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)) != 0 && name != NULL;
    struct opening o = {.name = name, .fd = -1};
    opening = mapped ? &o : NULL;
    int rc = wb_real_vfs->xOpen(wb_real_vfs, name, f->real, flags, out_flags);
    opening = NULL;
    if (rc != SQLITE_OK) {
        /* SQLite calls xClose only when pMethods is set: close what the underlying VFS left open. */
        if (f->real->pMethods != NULL)
            f->real->pMethods->xClose(f->real);
        f->base.pMethods = NULL;
        return rc;
    }
    if (mapped)
        f->map = map_get(name, o.fd);
    if ((flags & SQLITE_OPEN_WAL) != 0 && name != NULL) {
        f->base.pMethods = &wal_methods;
        sqlite3_file *db = sqlite3_database_file_object(name);
        if (db != NULL && db->pMethods == &pass_methods) {
            f->db = wb(db);
            f->db->wal = f;
        }
    } else {
        f->base.pMethods = &pass_methods;
    }
    return SQLITE_OK;
}

static int wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return wb_real_vfs->xDelete(wb_real_vfs, name, sync_dir);
}

static int wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return wb_real_vfs->xAccess(wb_real_vfs, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return wb_real_vfs->xFullPathname(wb_real_vfs, name, n, out);
}

static void *wb_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return wb_real_vfs->xDlOpen(wb_real_vfs, name);
}

static void wb_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    wb_real_vfs->xDlError(wb_real_vfs, n, msg);
}

static void (*wb_dlsym(sqlite3_vfs *vfs, void *handle, const char *sym))(void)
{
    (void)vfs;
    return wb_real_vfs->xDlSym(wb_real_vfs, handle, sym);
}

static void wb_dlclose(sqlite3_vfs *vfs, void *handle)
{
    (void)vfs;
    wb_real_vfs->xDlClose(wb_real_vfs, handle);
}

static int wb_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return wb_real_vfs->xRandomness(wb_real_vfs, n, out);
}

static int wb_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return wb_real_vfs->xSleep(wb_real_vfs, us);
}

static int wb_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return wb_real_vfs->xCurrentTime(wb_real_vfs, out);
}

static int wb_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return wb_real_vfs->xGetLastError(wb_real_vfs, n, out);
}

static int wb_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return wb_real_vfs->xCurrentTimeInt64(wb_real_vfs, out);
}

static void wb_register(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    /* Version 2 of the VFS brings xCurrentTimeInt64; the shared-memory methods of its files (version 2 of
     * sqlite3_io_methods) are what WAL mode needs anyway, and xFetch (version 3) is forwarded as is. */
    if (real == NULL || real->iVersion < 2)
        return;
    wb_real_vfs = real;
    wb_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)(REAL_OFFSET + (size_t)real->szOsFile),
        .mxPathname = real->mxPathname,
        .zName = "ostiary-walbuf",
        .xOpen = wb_open,
        .xDelete = wb_delete,
        .xAccess = wb_access,
        .xFullPathname = wb_full_pathname,
        .xDlOpen = wb_dlopen,
        .xDlError = wb_dlerror,
        .xDlSym = wb_dlsym,
        .xDlClose = wb_dlclose,
        .xRandomness = wb_randomness,
        .xSleep = wb_sleep,
        .xCurrentTime = wb_current_time,
        .xGetLastError = wb_get_last_error,
        .xCurrentTimeInt64 = wb_current_time_int64,
    };
    if (sqlite3_vfs_register(&wb_vfs, 0) != SQLITE_OK)
        return;
    wb_name = wb_vfs.zName;
    /* The mappings need a 64-bit address space, the underlying VFS's descriptors (its "open" system call,
     * which the unix VFS lets a program replace) and the SIGBUS handler; without any of them, every read
     * goes to the underlying VFS. */
    if (sizeof(void *) >= 8 && real->iVersion >= 3 && real->xGetSystemCall != NULL &&
        real->xSetSystemCall != NULL && (real_open = (open_fn)real->xGetSystemCall(real, "open")) != NULL &&
        real->xSetSystemCall(real, "open", (sqlite3_syscall_ptr)open_hook) == SQLITE_OK)
        maps_on = sigbus_install();
}

const char *sqlite_walbuf_vfs(void)
{
    pthread_once(&wb_once, wb_register);
    return wb_name;
}
