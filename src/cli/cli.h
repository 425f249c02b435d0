/* cli.h: shared pieces of the `ostiary` commands: the global flags, loading the configuration and opening
 * the store the way `serve` does (common.c); the option tables, the command-line parser, usage errors,
 * subcommand dispatch and JSON output of the record commands (dispatch.c). die() lives here and only
 * here. */
#ifndef OSTIARY_CLI_H
#define OSTIARY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "core/config.h"
#include "store/store.h"

struct arena;

struct cli_globals {
    const char *config_path; /* --config or OSTIARY_CONFIG */
    bool dev;                /* --dev */
    const char *listen, *issuer, *storage, *log_level;
    const char *workers;
};

/* Prints "ostiary: <msg>" to stderr and exits with status 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Consumes a global flag at argv[*i] (--config F, --dev, --listen, --issuer, --storage, --workers,
 * --log-level), moving *i past its value: 1 if it was one, 0 if not, -1 with err set when its value is
 * missing. */
int cli_global_flag(struct cli_globals *g, int argc, char **argv, int *i, struct errbuf *err);

/* For commands that take the global flags only (serve, migrate), and at most one option of their own
 * without a value (`flag`, NULL for none; *given set when present): parses argv[1..argc) or dies. */
void cli_parse_globals(const char *cmd, int argc, char **argv, struct cli_globals *g, const char *flag,
                       bool *given);

/* Loads, overrides (env, then flags) and validates the configuration: 0 with *out (config_free), or
 * ERR_INVALID with err holding the message `ostiary` prints after "ostiary: " (e.g. "configuration:
 * ostiary.yaml:3:21: tokens.access_token_ttl: ..."). Never exits: `serve` reloads through it. */
int cli_config_read(const struct cli_globals *g, struct config **out, struct errbuf *err);
/* cli_config_read, or dies with its message. */
struct config *cli_load_config(const struct cli_globals *g);

/* Resolves the key-encryption secret (keys.secret, keys.secret_file, or in dev mode ./var/key-secret,
 * generated on first use with mode 0600 when `generate`; without it *out stays NULL in that case). 0 with
 * *out malloc'd (wipe it), or non-zero with err holding the message. */
int cli_key_secret_read(const struct config *cfg, bool generate, char **out, struct errbuf *err);
/* What a start reads besides the configuration and the store, checked before anything is opened or
 * written: the key secret (keys.secret_file readable and long enough; none generated), the page templates
 * of ui.dir, the TLS certificate and key (http_tls_check). 0, or ERR_INVALID with err holding the message.
 * `serve` runs it first; `config check` runs it too. */
int cli_check_start_files(const struct config *cfg, struct errbuf *err);
/* cli_key_secret_read(cfg, true, ...), or dies with its message. */
char *cli_key_secret(const struct config *cfg);

/* SQLite: creates the directory of the database file (one level) if needed; other backends have no file.
 * Dies on failure. */
void cli_ensure_parent_dir(const char *dsn);

/* Opens the store, applies pending migrations and opens one connection; dies on failure. */
void cli_open_store(const struct config *cfg, struct store **st, struct store_conn **conn);

/* ---- The record commands (dispatch.c) ---------------------------------------------------------------- */

/* One option of a command. */
struct cli_opt {
    const char *name;  /* "--redirect-uri"; NULL: an unused slot of the table */
    bool has_value;
    unsigned max;      /* 0: given at most once; else repeatable, at most max times */
    size_t into;       /* CLI_INTO(): the struct cli_values of the command's ctx that collects the values */
    const char *field; /* the metadata field or claim it sets, for messages; NULL if none or not this one */
};
/* Where a repeatable option's values go: the member `m` (a struct cli_values) of the command's ctx of type
 * `t`. 0 (the default) leaves them to the command's `each` callback. */
#define CLI_INTO(t, m) (offsetof(t, m) + 1)

#define CLI_MAX_OPTS 64
#define CLI_BIT(o) ((uint64_t)1 << (o))

/* What a command line said, unchecked. */
struct cli_args {
    uint64_t seen;                 /* CLI_BIT(o) of every option given */
    const char *val[CLI_MAX_OPTS]; /* the (last) value of each option given */
    const char *pos[4];            /* the subcommand, then its operands */
    size_t n_pos;
};

static inline bool cli_seen(const struct cli_args *a, int o)
{
    return (a->seen & CLI_BIT(o)) != 0;
}

/* Called for every occurrence of an option, in order (repeatable options collect their values here).
 * Returns 0, or non-zero with err set: a usage error. */
typedef int (*cli_opt_fn)(void *ctx, struct arena *a, int opt, const char *value, struct errbuf *err);

/* The values of a repeatable option, in order. */
#define CLI_MAX_VALUES 64
struct cli_values {
    const char *v[CLI_MAX_VALUES];
    size_t n;
};
/* Parses argv[1..argc): the options of opts, the global flags and the operands, in any order; "--" ends
 * the options; the values of repeatable options go where their CLI_INTO() says, in ctx. Never exits: 0,
 * or 2 with err holding a usage error (unknown option, missing value, an option given twice that is not
 * repeatable or more than its max, too many operands, or what `each` refused). */
int cli_parse(const struct cli_opt *opts, int n_opts, int argc, char **argv, struct cli_globals *g,
              struct cli_args *out, cli_opt_fn each, void *ctx, struct arena *a, struct errbuf *err);

/* to[key] = from[key] when that is a string, else null (the columns of a `list` line). */
void cli_json_copy_str(json_t *to, json_t *from, const char *key);
/* Prints o as JSON on stdout, then a newline; dies if stdout fails. */
void cli_print_json(json_t *o, size_t flags);

struct cli_command;

/* One running subcommand: its command line, the configuration, the store and an arena for its lifetime. */
struct cli_cmd {
    const struct cli_command *cmd;
    const struct cli_sub *sub;
    struct cli_args args;
    struct cli_globals g;
    struct config *cfg;
    struct store_conn *db;
    struct arena *a;
    void *ctx; /* the command's own state (e.g. the values of its repeatable options) */
};

struct cli_sub {
    const char *name;
    int (*run)(struct cli_cmd *c);
    uint64_t allowed;          /* CLI_BIT(o) of the options it accepts */
    size_t min_operands, max_operands;
    const char *operand;       /* what a missing operand is called ("USERNAME") */
    void (*prepare)(struct cli_cmd *c); /* NULL, or checks run before the store is opened (may die) */
};

struct cli_command {
    const char *name; /* "client" */
    const struct cli_opt *opts;
    int n_opts;
    const struct cli_sub *subs;
    size_t n_subs;
    void (*usage)(FILE *out);
    cli_opt_fn each;  /* NULL, or called for every option occurrence */
    /* NULL, or the command's own usage checks once the subcommand is known: 0, or non-zero with err set. */
    int (*check_usage)(const struct cli_cmd *c, struct errbuf *err);
};

/* An error of a running subcommand: "ostiary: <cmd> <sub>: <message>", exit status 1. */
void cli_fail(const struct cli_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
/* Runs fn between store_begin and store_commit; fails the subcommand (rolled back) if any step fails. */
void cli_in_tx(const struct cli_cmd *c, int (*fn)(const struct cli_cmd *c, void *ctx, struct errbuf *err),
               void *ctx);
/* Reads the user called username, or fails the subcommand naming it. */
void cli_load_user(const struct cli_cmd *c, const char *username, struct store_user *u);

/* Runs a record command: parses the line (usage errors exit 2), prints the usage for no subcommand
 * (stderr, 2) or help (stdout, 0), checks the options and operands against the subcommand, loads the
 * configuration, runs the subcommand's prepare step, opens the store and runs it. Returns its status. */
int cli_run(const struct cli_command *cmd, void *ctx, int argc, char **argv);

/* ---- The cores of the record commands, which never exit (for the tests) ------------------------------ */

struct client;
struct client_problem;
/* The client that `ostiary client <argv[1]...>` (argv[0] is "client"; argv[1] create or update) would store:
 * `stored` (update; NULL for create) with the options applied, checked by oauth/client_check.c. Returns 0
 * with *out (memory in a); 1 with err holding the message the command prints after "ostiary: " (e.g.
 * "client create: --redirect-uri: <reason>") and *p the rules' problem, if they refused (p->field NULL
 * otherwise); or 2 for a usage error. */
int client_cli_build(const struct config *cfg, struct arena *a, int argc, char **argv,
                     const struct store_client *stored, struct client *out, struct client_problem *p,
                     struct errbuf *err);

struct user_problem;
/* The claims `ostiary user <argv[1]...>` (argv[0] is "user"; argv[1] add or update) sets, applied onto the
 * JSON object claims by the rules of session/user_check.c; `add` checks its USERNAME and --id too. Returns
 * 0; 1 with err holding the message the command prints after "ostiary: " (e.g. "user add: --claim
 * website: <reason>") and *p the rules' problem, if they refused (p->field "" otherwise); or 2 for a usage
 * error. */
int user_cli_claims(struct arena *a, int argc, char **argv, json_t *claims, struct user_problem *p,
                    struct errbuf *err);

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv); /* cmd_migrate.c */
int cmd_client(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_consent(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_registration(int argc, char **argv); /* cmd_registration.c */

#endif
