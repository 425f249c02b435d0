/* cmd_migrate.c: `ostiary migrate`: apply pending schema migrations to the configured store (`--create`:
 * start or adopt a store on purpose, store.h STORE_OPEN_CREATE), or copy one store into another (`--from DSN --to DSN`, e.g. SQLite to PostgreSQL when a deployment scales out):
 * clients, users, consents, signing keys (still encrypted: the target needs the same key secret) and the
 * live grants (unexpired, unrevoked tokens, codes and sessions, and the revoked JWT ids still relevant).
 * Leaves out: expired and revoked rows (nothing would accept them), copying while a server writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/rand.h"
#include "core/banned.h"

#define PAGE 500

struct copy_counts {
    size_t clients, users, consents, keys, tokens, jtis;
};

static void open_migrated(const char *dsn, const char *what, struct store **st, struct store_conn **c)
{
    struct errbuf err = {{0}};
    struct arena *a = arena_new(1024);
    const char *shown = store_dsn_redacted(a, dsn);
    cli_ensure_parent_dir(dsn);
    int applied = 0;
    if (store_open(dsn, st, &err) != 0)
        die("%s %s: %s", what, shown, err.msg);
    if (store_migrate(*st, &applied, &err) != 0)
        die("%s %s: migration failed: %s", what, shown, err.msg);
    if (store_conn_open(*st, c, &err) != 0)
        die("%s %s: %s", what, shown, err.msg);
    arena_free(a);
}

/* True if the target holds anything a copy would write. */
static bool target_empty(struct store_conn *c, struct errbuf *err, int *rc)
{
    struct arena *a = arena_new(4096);
    struct store_client *cl;
    struct store_user *u;
    struct store_key *k;
    struct store_token *t;
    size_t ncl = 0, nu = 0, nk = 0, nt = 0;
    *rc = store_client_list(c, a, &cl, &ncl, err);
    if (*rc == 0)
        *rc = store_user_list(c, a, &u, &nu, err);
    if (*rc == 0)
        *rc = store_key_list(c, a, &k, &nk, err);
    if (*rc == 0)
        *rc = store_token_scan(c, a, NULL, 0, 1, &t, &nt, err);
    arena_free(a);
    return ncl + nu + nk + nt == 0;
}

/* Copies everything in one transaction of the target: it is all there or none of it. A row the target
 * already has (--force) is replaced (clients, users, consents, keys) or left as it is (tokens). */
static int copy_all(struct store_conn *from, struct store_conn *to, int64_t now, struct copy_counts *n,
                    struct errbuf *err)
{
    struct arena *a = arena_new(65536);
    int rc = store_begin(to, err);
    if (rc != 0) {
        arena_free(a);
        return rc;
    }
    struct store_client *cl;
    size_t ncl = 0;
    rc = store_client_list(from, a, &cl, &ncl, err);
    for (size_t i = 0; i < ncl && rc == 0; i++, n->clients++)
        rc = store_client_put(to, &cl[i], err);
    struct store_user *u;
    size_t nu = 0;
    if (rc == 0)
        rc = store_user_list(from, a, &u, &nu, err);
    for (size_t i = 0; i < nu && rc == 0; i++, n->users++) {
        rc = store_user_put(to, &u[i], err);
        struct store_consent *cs;
        size_t ncs = 0;
        if (rc == 0)
            rc = store_consent_list(from, a, u[i].id, &cs, &ncs, err);
        for (size_t j = 0; j < ncs && rc == 0; j++, n->consents++)
            rc = store_consent_put(to, &cs[j], err);
    }
    struct store_key *k;
    size_t nk = 0;
    if (rc == 0)
        rc = store_key_list(from, a, &k, &nk, err);
    for (size_t i = 0; i < nk && rc == 0; i++, n->keys++)
        rc = store_key_put(to, &k[i], err);

    /* Tokens and jtis page by page; each page's rows are copied before the arena is reset. */
    uint8_t cursor[STORE_HASH_LEN];
    const uint8_t *after = NULL;
    for (size_t got = PAGE; rc == 0 && got == PAGE;) {
        struct store_token *t;
        arena_reset(a);
        rc = store_token_scan(from, a, after, now, PAGE, &t, &got, err);
        for (size_t i = 0; i < got && rc == 0; i++, n->tokens++) {
            rc = store_token_put(to, &t[i], err);
            /* token_put writes the row as issued; the rotation bookkeeping follows. */
            if (rc == 0 && t[i].has_successor)
                rc = store_token_set_successor(to, t[i].hash, t[i].successor, t[i].retried_at, err);
        }
        if (rc == 0 && got > 0) {
            memcpy(cursor, t[got - 1].hash, STORE_HASH_LEN);
            after = cursor;
        }
    }
    char *jcursor = NULL;
    for (size_t got = PAGE; rc == 0 && got == PAGE;) {
        struct store_jti *j;
        arena_reset(a);
        rc = store_jti_scan(from, a, jcursor, now, PAGE, &j, &got, err);
        for (size_t i = 0; i < got && rc == 0; i++, n->jtis++)
            rc = store_jti_revoke(to, j[i].jti, j[i].exp, err);
        free(jcursor);
        jcursor = rc == 0 && got > 0 ? strdup(j[got - 1].jti) : NULL;
    }
    free(jcursor);
    if (rc == 0)
        rc = store_commit(to, err);
    else
        store_rollback(to);
    arena_free(a);
    return rc;
}

static int copy_store(const char *from_dsn, const char *to_dsn, bool force)
{
    struct store *fst, *tst;
    struct store_conn *fc, *tc;
    open_migrated(from_dsn, "--from", &fst, &fc);
    open_migrated(to_dsn, "--to", &tst, &tc);
    struct errbuf err = {{0}};
    int rc = 0;
    bool empty = target_empty(tc, &err, &rc);
    if (rc != 0)
        die("--to: %s", err.msg);
    if (!empty && !force)
        die("--to: the target already holds clients, users, keys or tokens; copying into it would mix two "
            "deployments (use --force to merge into it anyway)");
    struct copy_counts n = {0};
    rc = copy_all(fc, tc, clock_now(), &n, &err);
    if (rc != 0)
        die("copy failed, nothing was written to the target: %s", err.msg);
    printf("copied: %zu client(s), %zu user(s), %zu consent(s), %zu key(s), %zu token(s), %zu revoked jti(s)\n",
           n.clients, n.users, n.consents, n.keys, n.tokens, n.jtis);
    store_conn_close(fc);
    store_conn_close(tc);
    store_close(fst);
    store_close(tst);
    return 0;
}

int cmd_migrate(int argc, char **argv)
{
    struct cli_globals g = {0};
    const char *from = NULL, *to = NULL;
    bool force = false, create = false;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--from") == 0 || strcmp(argv[i], "--to") == 0) && i + 1 < argc) {
            *(argv[i][2] == 'f' ? &from : &to) = argv[i + 1];
            i++;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--create") == 0) {
            create = true;
        } else {
            struct errbuf ferr = {{0}};
            int r = cli_global_flag(&g, argc, argv, &i, &ferr);
            if (r < 0)
                die("%s", ferr.msg);
            if (r == 0)
                die("migrate: unknown option '%s' (see ostiary help)", argv[i]);
        }
    }
    if ((from != NULL) != (to != NULL))
        die("migrate: --from and --to go together (ostiary migrate --from sqlite:./var/ostiary.db --to "
            "postgres://user@host/db)");
    if (from != NULL && create)
        die("migrate: --create applies to the configured store, not to a copy (--from/--to)");
    if (from != NULL)
        return copy_store(from, to, force);
    if (force)
        die("migrate: --force only applies to a copy (--from/--to)");
    struct config *cfg = cli_load_config(&g);
    struct errbuf err = {{0}};
    struct store *st;
    cli_ensure_parent_dir(cfg->storage);
    /* --create: the operator says this is the store from now on, even where the configuration's previous
     * one is gone or was another (store.h, STORE_OPEN_CREATE). */
    if (store_open_flags(cfg->storage, create ? STORE_OPEN_CREATE : 0, &st, &err) != 0)
        die("storage: %s", err.msg);
    int applied = 0;
    if (store_migrate(st, &applied, &err) != 0)
        die("migration failed: %s", err.msg);
    printf("%d migration(s) applied\n", applied);
    store_close(st);
    config_free(cfg);
    return 0;
}
