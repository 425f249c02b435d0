/* cmd_keys.c: `ostiary keys list|rotate`: the signing keys in the store (docs/keys.md). Rotation publishes
 * the new key before it signs and keeps the old one published until the longest-lived token it signed has
 * expired; the key material itself is handled by jose/keystore.c only. */
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
#include "oauth/key_rotation.h"
#include "store/store.h"
#include "core/banned.h"

#define ALGS_MAX 8

enum opt { O_ALG, O_PUBLISH_DELAY, O_COUNT };

/* The command's ctx: the values of --alg. */
static const struct cli_opt opts[O_COUNT] = {
    [O_ALG] = {"--alg", true, ALGS_MAX, CLI_INTO(struct cli_values, v), NULL},
    [O_PUBLISH_DELAY] = {"--publish-delay", true, 0, 0, NULL},
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

static int keys_list(struct cli_cmd *c)
{
    struct store_conn *db = c->db;
    struct arena *a = c->a;
    struct errbuf err = {{0}};
    struct keystore_info *info = NULL;
    size_t n = 0;
    if (keystore_list(db, a, clock_now(), &info, &n, &err) != 0)
        die("keys list: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *o = keystore_info_json(&info[i]);
        cli_print_json(o, JSON_COMPACT);
        json_decref(o);
    }
    return 0;
}

static bool alg_configured(const struct config *cfg, const char *alg)
{
    for (unsigned i = 0; i < cfg->keys.n_algorithms; i++)
        if (strcmp(cfg->keys.algorithms[i], alg) == 0)
            return true;
    return false;
}

static int keys_rotate(struct cli_cmd *c)
{
    const struct config *cfg = c->cfg;
    const struct cli_values *algs_given = c->ctx;
    struct store_conn *db = c->db;
    struct arena *a = c->a;
    const char *publish_delay = c->args.val[O_PUBLISH_DELAY];
    const char *const *algs = algs_given->n > 0 ? algs_given->v : (const char *const *)cfg->keys.algorithms;
    size_t nalgs = algs_given->n > 0 ? algs_given->n : cfg->keys.n_algorithms;
    int64_t delay = 0;
    if (publish_delay != NULL &&
        (str_to_i64(str_c(publish_delay), &delay) != 0 || delay < 0 || delay > KEY_PUBLISH_DELAY_MAX))
        die("keys rotate: --publish-delay: seconds between 0 and %d, got '%s'", KEY_PUBLISH_DELAY_MAX,
            publish_delay);
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
    int64_t ttl = 0;
    struct errbuf terr = {{0}};
    if (token_max_ttl(cfg, db, a, &ttl, &terr) != 0)
        die("keys rotate: storage: %s", terr.msg);
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
        cli_print_json(o, JSON_COMPACT);
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

static const struct cli_sub subs[] = {
    {"list", keys_list, 0, 0, 0, NULL, NULL},
    {"rotate", keys_rotate, CLI_BIT(O_ALG) | CLI_BIT(O_PUBLISH_DELAY), 0, 0, NULL, NULL},
};

static const struct cli_command keys_command = {
    .name = "keys", .opts = opts, .n_opts = O_COUNT, .subs = subs, .n_subs = sizeof(subs) / sizeof(subs[0]),
    .usage = usage,
};

int cmd_keys(int argc, char **argv)
{
    struct cli_values algs = {0};
    return cli_run(&keys_command, &algs, argc, argv);
}
