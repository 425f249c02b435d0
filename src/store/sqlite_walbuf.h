/* sqlite_walbuf.h: a SQLite VFS that writes each commit's WAL frames to the -wal file in one write(2) and
 * reads the database and the WAL from a shared mapping (see sqlite_walbuf.c). */
#ifndef OSTIARY_STORE_SQLITE_WALBUF_H
#define OSTIARY_STORE_SQLITE_WALBUF_H

/* The name to pass to sqlite3_open_v2: a VFS over the default VFS as it is at the first call (registered
 * once, never as the default; the first call also replaces the unix VFS's "open" system call and installs
 * the process's SIGBUS handler, for the mapped reads). NULL if it cannot be registered, and SQLite's
 * default VFS is then used. */
const char *sqlite_walbuf_vfs(void);

#endif
