/* cli.h: shared pieces of the `ostiary` subcommands: option parsing of the global flags, loading the
 * configuration and opening the store the way `serve` does. die() lives here and only here. */
#ifndef OSTIARY_CLI_H
#define OSTIARY_CLI_H

#include <stdbool.h>

#include "core/config.h"
#include "store/store.h"

struct cli_globals {
    const char *config_path; /* --config or OSTIARY_CONFIG */
    bool dev;                /* --dev */
    const char *listen, *issuer, *storage, *log_level;
    const char *workers;
};

/* Prints "ostiary: <msg>" to stderr and exits with status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Consumes a global flag at argv[*i] (--config F, --dev, --listen, --issuer, --storage, --workers,
 * --log-level); returns true if it was one. */
bool cli_global_flag(struct cli_globals *g, int argc, char **argv, int *i);

/* Loads, overrides (env, then flags) and validates the configuration, or dies naming the key. */
struct config *cli_load_config(const struct cli_globals *g);

/* Resolves the key-encryption secret (keys.secret, keys.secret_file, or in dev mode ./var/key-secret,
 * generated on first use with mode 0600). Dies if none. Returned string is malloc'd. */
char *cli_key_secret(const struct config *cfg);

/* SQLite: creates the directory of the database file (one level) if needed; other backends have no file.
 * Dies on failure. */
void cli_ensure_parent_dir(const char *dsn);

/* Opens the store, applies pending migrations and opens one connection; dies on failure. */
void cli_open_store(const struct config *cfg, struct store **st, struct store_conn **conn);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv); /* cmd_migrate.c */
int cmd_client(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_user(int argc, char **argv);    /* cmd_user.c */
int cmd_consent(int argc, char **argv); /* cmd_user.c */

#endif
