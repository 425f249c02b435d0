/* dispatch.c: what the record commands (client, user, consent, keys) share: their option tables and the
 * one parser of their command lines, usage errors, the subcommand table and its checks (options that
 * apply, operand counts), the configuration and the store opened around a subcommand, and JSON output. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/banned.h"

/* The index of the option called name in opts[0..n_opts), or -1. */
static int cli_opt_find(const struct cli_opt *opts, int n_opts, const char *name)
{
    for (int o = 0; o < n_opts; o++)
        if (opts[o].name != NULL && strcmp(name, opts[o].name) == 0)
            return o;
    return -1;
}

int cli_parse(const struct cli_opt *opts, int n_opts, int argc, char **argv, struct cli_globals *g,
              struct cli_args *out, cli_opt_fn each, void *ctx, struct arena *a, struct errbuf *err)
{
    bool operands_only = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!operands_only && strcmp(s, "--") == 0) {
            operands_only = true;
            continue;
        }
        int o = operands_only ? -1 : cli_opt_find(opts, n_opts, s);
        if (o >= 0) {
            const char *v = NULL;
            if (opts[o].has_value) {
                if (i + 1 >= argc) {
                    errbuf_set(err, "%s needs a value", s);
                    return 2;
                }
                v = argv[++i];
            }
            if (cli_seen(out, o) && opts[o].max == 0) {
                errbuf_set(err, "%s given more than once", s);
                return 2;
            }
            out->seen |= CLI_BIT(o);
            out->val[o] = v;
            if (opts[o].into > 0) {
                struct cli_values *l = (struct cli_values *)(void *)((char *)ctx + opts[o].into - 1);
                if (l->n == opts[o].max || l->n == CLI_MAX_VALUES) {
                    errbuf_set(err, "%s: at most %u values", s, opts[o].max);
                    return 2;
                }
                l->v[l->n++] = v;
            }
            if (each != NULL && each(ctx, a, o, v, err) != 0)
                return 2;
            continue;
        }
        if (!operands_only) {
            int r = cli_global_flag(g, argc, argv, &i, err);
            if (r < 0)
                return 2;
            if (r > 0)
                continue;
            if (s[0] == '-' && s[1] != '\0') {
                errbuf_set(err, "unknown option '%s'", s);
                return 2;
            }
        }
        if (out->n_pos == sizeof(out->pos) / sizeof(out->pos[0])) {
            errbuf_set(err, "unexpected argument '%s'", s);
            return 2;
        }
        out->pos[out->n_pos++] = s;
    }
    return 0;
}

/* A malformed command line: "ostiary: <cmd>[ <sub>]: <message> (see ostiary <cmd> help)", exit status 2. */
__attribute__((format(printf, 3, 4), noreturn)) static void cli_usage_error(const char *cmd, const char *sub,
                                                                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ostiary: %s", cmd);
    if (sub != NULL)
        fprintf(stderr, " %s", sub);
    fputs(": ", stderr);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see ostiary %s help)\n", cmd);
    va_end(ap);
    exit(2);
}

void cli_fail(const struct cli_cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ostiary: %s %s: ", c->cmd->name, c->sub->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void cli_in_tx(const struct cli_cmd *c, int (*fn)(const struct cli_cmd *c, void *ctx, struct errbuf *err),
               void *ctx)
{
    struct errbuf err = {{0}};
    if (store_begin(c->db, &err) != 0)
        cli_fail(c, "storage: %s", err.msg);
    int rc = fn(c, ctx, &err);
    if (rc == 0)
        rc = store_commit(c->db, &err);
    else
        store_rollback(c->db);
    if (rc != 0)
        cli_fail(c, "storage: %s", err.msg);
}

void cli_load_user(const struct cli_cmd *c, const char *username, struct store_user *u)
{
    struct errbuf err = {{0}};
    int rc = store_user_get_by_name(c->db, c->a, username, u, &err);
    if (rc == ERR_NOTFOUND)
        cli_fail(c, "no user '%s'", username);
    if (rc != 0)
        cli_fail(c, "storage: %s", err.msg);
}

void cli_json_copy_str(json_t *to, json_t *from, const char *key)
{
    json_t *v = json_object_get(from, key);
    json_object_set(to, key, json_is_string(v) ? v : json_null());
}

void cli_print_json(json_t *o, size_t flags)
{
    if (json_dumpf(o, stdout, flags) != 0)
        die("cannot write the output");
    fputc('\n', stdout);
}

int cli_run(const struct cli_command *cmd, void *ctx, int argc, char **argv)
{
    struct cli_cmd c = {.cmd = cmd, .ctx = ctx};
    struct errbuf err = {{0}};
    c.a = arena_new(16384);
    if (cli_parse(cmd->opts, cmd->n_opts, argc, argv, &c.g, &c.args, cmd->each, ctx, c.a, &err) != 0)
        cli_usage_error(cmd->name, c.args.n_pos > 0 ? c.args.pos[0] : NULL, "%s", err.msg);
    if (c.args.n_pos == 0) {
        cmd->usage(stderr);
        arena_free(c.a);
        return 2;
    }
    const char *name = c.args.pos[0];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        cmd->usage(stdout);
        arena_free(c.a);
        return 0;
    }
    for (size_t k = 0; k < cmd->n_subs && c.sub == NULL; k++)
        if (strcmp(cmd->subs[k].name, name) == 0)
            c.sub = &cmd->subs[k];
    if (c.sub == NULL)
        cli_usage_error(cmd->name, NULL, "unknown subcommand '%s'", name);
    for (int o = 0; o < cmd->n_opts; o++)
        if (cli_seen(&c.args, o) && !(c.sub->allowed & CLI_BIT(o)))
            cli_usage_error(cmd->name, name, "option %s does not apply here", cmd->opts[o].name);
    if (c.args.n_pos - 1 < c.sub->min_operands)
        cli_usage_error(cmd->name, name, "missing the %s", c.sub->operand);
    if (c.args.n_pos - 1 > c.sub->max_operands)
        cli_usage_error(cmd->name, name, "unexpected argument '%s'", c.args.pos[1 + c.sub->max_operands]);
    if (cmd->check_usage != NULL && cmd->check_usage(&c, &err) != 0)
        cli_usage_error(cmd->name, name, "%s", err.msg);

    c.cfg = cli_load_config(&c.g);
    /* Library events (info) would interleave with the JSON on the terminal; --log-level brings them back. */
    enum log_level lvl = LOG_WARN;
    if (c.g.log_level != NULL)
        log_level_parse(c.cfg->log_level, &lvl);
    log_init(lvl, 2);
    if (c.sub->prepare != NULL)
        c.sub->prepare(&c);

    struct store *st;
    cli_open_store(c.cfg, &st, &c.db);
    int rc = c.sub->run(&c);
    if (fflush(stdout) != 0)
        die("cannot write the output");
    store_conn_close(c.db);
    store_close(st);
    config_free(c.cfg);
    arena_free(c.a);
    return rc;
}
