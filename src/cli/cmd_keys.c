/* cmd_keys.c: `ostiary keys list|rotate`: the signing keys in the store (docs/keys.md). Rotation publishes
 * the new key before it signs and keeps the old one published until the longest-lived token it signed has
 * expired; the key material itself is handled by jose/keystore.c only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose.h"
#include "oauth/client.h"
#include "store/store.h"
#include "core/banned.h"

#define ALGS_MAX 8
#define PUBLISH_DELAY_MAX (366 * 86400)

struct keys_args {
    const char *algs[ALGS_MAX];  /* --alg, repeatable */
    size_t n_algs;
    const char *publish_delay;   /* --publish-delay */
    const char *pos[2];          /* subcommand, and nothing else */
    size_t n_pos;
};

static void usage(FILE *out)
{
    fputs("usage: ostiary keys <subcommand> [options]\n"
          "\n"
          "subcommands:\n"
          "  list      one JSON line per stored key: kid, alg, state (next, current, retired,\n"
          "            unpublished), created_at, sign_from, retired_at, unpublish_at (Unix seconds)\n"
          "  rotate [--alg RS256|ES256|EdDSA]... [--publish-delay SECONDS]\n"
          "            a new key per algorithm (default: each of keys.algorithms). It is published now and\n"
          "            signs after the delay (default 0); the key it replaces stays published until every\n"
          "            token it signed has expired. Prints the new kid(s).\n"
          "  help      this text\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n"
          "\n"
          "Running servers read the keys again every keys.reload_interval seconds. With several instances,\n"
          "or relying parties that cache the JWKS, give a publish delay at least that long.\n",
          out);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ostiary: keys: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see ostiary keys help)\n", stderr);
    va_end(ap);
    exit(2);
}

static void parse_args(int argc, char **argv, struct cli_globals *g, struct keys_args *ka)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--alg") == 0 || strcmp(s, "--publish-delay") == 0) {
            if (i + 1 >= argc)
                usage_error("%s needs a value", s);
            const char *v = argv[++i];
            if (s[2] == 'a') {
                if (ka->n_algs == ALGS_MAX)
                    usage_error("--alg: at most %d", ALGS_MAX);
                ka->algs[ka->n_algs++] = v;
            } else {
                if (ka->publish_delay != NULL)
                    usage_error("--publish-delay given more than once");
                ka->publish_delay = v;
            }
            continue;
        }
        if (cli_global_flag(g, argc, argv, &i))
            continue;
        if (s[0] == '-' && s[1] != '\0')
            usage_error("unknown option '%s'", s);
        if (ka->n_pos == sizeof(ka->pos) / sizeof(ka->pos[0]))
            usage_error("unexpected argument '%s'", s);
        ka->pos[ka->n_pos++] = s;
    }
}

static void print_line(json_t *o)
{
    if (json_dumpf(o, stdout, JSON_COMPACT) != 0)
        die("cannot write the output");
    fputc('\n', stdout);
}

/* 0 stands for "not set" in the store; null says so in the output. */
static json_t *time_or_null(int64_t t)
{
    return t != 0 ? json_integer(t) : json_null();
}

static int keys_list(struct store_conn *db, struct arena *a)
{
    struct errbuf err = {{0}};
    struct keystore_info *info = NULL;
    size_t n = 0;
    if (keystore_list(db, a, clock_now(), &info, &n, &err) != 0)
        die("keys list: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "kid", json_string(info[i].kid));
        json_object_set_new(o, "alg", json_string(info[i].alg));
        json_object_set_new(o, "state", json_string(info[i].state));
        json_object_set_new(o, "created_at", json_integer(info[i].created_at));
        json_object_set_new(o, "sign_from", json_integer(info[i].sign_from));
        json_object_set_new(o, "retired_at", time_or_null(info[i].retired_at));
        json_object_set_new(o, "unpublish_at", time_or_null(info[i].unpublish_at));
        print_line(o);
        json_decref(o);
    }
    return 0;
}

/* The longest lifetime of a token signed with a key (access and ID tokens; refresh tokens are opaque):
 * the old key must stay in the JWKS that long after it stops signing. Clients created with the CLI may
 * carry their own access_token_ttl, so the store is read too, not only the file. */
static int64_t max_token_ttl(const struct config *cfg, struct store_conn *db, struct arena *a)
{
    int64_t m = cfg->tokens.access_token_ttl;
    if (cfg->tokens.id_token_ttl > m)
        m = cfg->tokens.id_token_ttl;
    for (unsigned i = 0; i < cfg->n_resources; i++)
        if (cfg->resources[i].access_token_ttl > m)
            m = cfg->resources[i].access_token_ttl;
    for (unsigned i = 0; i < cfg->n_clients; i++)
        if (cfg->clients[i].access_token_ttl > m)
            m = cfg->clients[i].access_token_ttl;
    struct errbuf err = {{0}};
    struct store_client *v = NULL;
    size_t n = 0;
    if (store_client_list(db, a, &v, &n, &err) != 0)
        die("keys rotate: storage: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        struct client c;
        if (client_from_store(a, &v[i], &c) == 0 && c.access_token_ttl > m)
            m = c.access_token_ttl;
    }
    return m;
}

static bool alg_configured(const struct config *cfg, const char *alg)
{
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++)
        if (strcmp(cfg->keys.algorithms[i], alg) == 0)
            return true;
    return false;
}

static int keys_rotate(const struct config *cfg, const struct keys_args *ka, struct store_conn *db,
                       struct arena *a)
{
    const char *const *algs = ka->n_algs > 0 ? ka->algs : (const char *const *)cfg->keys.algorithms;
    size_t nalgs = ka->n_algs > 0 ? ka->n_algs : cfg->keys.n_algorithms;
    int64_t delay = 0;
    if (ka->publish_delay != NULL &&
        (str_to_i64(str_c(ka->publish_delay), &delay) != 0 || delay < 0 || delay > PUBLISH_DELAY_MAX))
        die("keys rotate: --publish-delay: seconds between 0 and %d, got '%s'", PUBLISH_DELAY_MAX,
            ka->publish_delay);
    for (size_t i = 0; i < nalgs; i++) {
        if (!jose_alg_supported(algs[i]))
            die("keys rotate: --alg: unsupported algorithm '%s' (allowed: RS256, ES256, EdDSA)", algs[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(algs[i], algs[j]) == 0)
                die("keys rotate: --alg: duplicate '%s'", algs[i]);
        if (!alg_configured(cfg, algs[i]))
            fprintf(stderr,
                    "ostiary: warning: %s is not in keys.algorithms; the server publishes the key but signs "
                    "nothing with it\n",
                    algs[i]);
    }
    char *secret = cli_key_secret(cfg);
    int64_t ttl = max_token_ttl(cfg, db, a);
    int64_t now = clock_now();
    /* Whether a key that signs now is being replaced: only then is there a hand-over to explain. */
    struct errbuf lerr = {{0}};
    struct keystore_info *info = NULL;
    size_t ninfo = 0;
    if (keystore_list(db, a, now, &info, &ninfo, &lerr) != 0)
        die("keys rotate: %s", lerr.msg);
    bool replaces = false;
    for (size_t i = 0; i < nalgs; i++) {
        for (size_t k = 0; k < ninfo; k++)
            if (strcmp(info[k].alg, algs[i]) == 0 && strcmp(info[k].state, "current") == 0)
                replaces = true;
    }
    for (size_t i = 0; i < nalgs; i++) {
        struct errbuf err = {{0}};
        char *kid = NULL;
        if (keystore_rotate(db, secret, algs[i], now, delay, ttl, &kid, &err) != 0)
            die("keys rotate: %s: %s", algs[i], err.msg);
        json_t *o = json_object();
        json_object_set_new(o, "kid", json_string(kid));
        json_object_set_new(o, "alg", json_string(algs[i]));
        json_object_set_new(o, "sign_from", json_integer(now + delay));
        print_line(o);
        json_decref(o);
        free(kid);
    }
    if (replaces && delay < cfg->keys.reload_interval)
        fprintf(stderr,
                "ostiary: note: running servers load the new key within keys.reload_interval (%u s); until then "
                "they keep signing with the previous one, which stays published for %lld s. With several "
                "instances or relying parties that cache the JWKS, rotate with --publish-delay %u or more.\n",
                cfg->keys.reload_interval, (long long)ttl, cfg->keys.reload_interval);
    explicit_bzero(secret, strlen(secret));
    free(secret);
    return 0;
}

int cmd_keys(int argc, char **argv)
{
    struct cli_globals g = {0};
    struct keys_args ka = {0};
    parse_args(argc, argv, &g, &ka);
    if (ka.n_pos == 0) {
        usage(stderr);
        return 2;
    }
    const char *sub = ka.pos[0];
    if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    bool rotate = strcmp(sub, "rotate") == 0;
    if (!rotate && strcmp(sub, "list") != 0)
        usage_error("unknown subcommand '%s'", sub);
    if (ka.n_pos > 1)
        usage_error("unexpected argument '%s'", ka.pos[1]);
    if (!rotate && (ka.n_algs > 0 || ka.publish_delay != NULL))
        usage_error("--alg and --publish-delay apply to rotate only");

    struct config *cfg = cli_load_config(&g);
    /* The keystore logs each rotation at info; keep stdout and stderr quiet unless asked (--log-level). */
    enum log_level lvl = LOG_WARN;
    if (g.log_level != NULL)
        log_level_parse(cfg->log_level, &lvl);
    log_init(lvl, 2);
    struct store *st;
    struct store_conn *db;
    cli_open_store(cfg, &st, &db);
    struct arena *a = arena_new(16384);
    int rc = rotate ? keys_rotate(cfg, &ka, db, a) : keys_list(db, a);
    if (fflush(stdout) != 0)
        die("cannot write the output");
    arena_free(a);
    store_conn_close(db);
    store_close(st);
    config_free(cfg);
    return rc;
}
