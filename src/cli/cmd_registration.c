/* cmd_registration.c: `ostiary registration token create`: an initial access token for dynamic client
 * registration (RFC 7591 §3; oauth/registration.c), printed once and stored as its SHA-256 (a token row of
 * kind STORE_TOKEN_INITIAL_ACCESS), with an expiry and optionally valid for one registration only. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/rand.h"
#include "core/validate.h"
#include "store/store.h"
#include "core/banned.h"

#define IAT_TTL_DEFAULT 86400u
#define IAT_TTL_MAX (366u * 86400u)

enum { O_EXPIRES_IN, O_SINGLE_USE, N_OPTS };

static const struct cli_opt opts[N_OPTS] = {
    [O_EXPIRES_IN] = {"--expires-in", true, 0, 0, NULL},
    [O_SINGLE_USE] = {"--single-use", false, 0, 0, NULL},
};

static void usage(FILE *out)
{
    fputs("usage: ostiary registration token create [options]\n"
          "\n"
          "Prints a new initial access token for POST /reg (RFC 7591 section 3), needed while\n"
          "registration.enabled is true and registration.open is false. It is shown this once; the store\n"
          "keeps its SHA-256 only.\n"
          "\n"
          "options:\n"
          "  --expires-in SECONDS   how long it is valid: 1 to 31622400 (default 86400, one day)\n"
          "  --single-use           valid for one registration only\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n",
          out);
}

static int token_create(struct cli_cmd *c)
{
    if (strcmp(c->args.pos[1], "create") != 0)
        cli_fail(c, "unknown action '%s' (token create)", c->args.pos[1]);
    uint32_t ttl = IAT_TTL_DEFAULT;
    const char *v = c->args.val[O_EXPIRES_IN];
    if (cli_seen(&c->args, O_EXPIRES_IN) && (parse_u32(v, &ttl) != 0 || ttl == 0 || ttl > IAT_TTL_MAX))
        cli_fail(c, "--expires-in: 1 to %u seconds, got '%s'", IAT_TTL_MAX, v);
    bool single = cli_seen(&c->args, O_SINGLE_USE);
    const char *token = rand_token(c->a, 32);
    int64_t now = clock_now();
    struct store_token t = {0};
    store_hash(token, strlen(token), t.hash);
    t.kind = STORE_TOKEN_INITIAL_ACCESS;
    t.client_id = "";
    t.scope = "";
    t.data = single ? "{\"single_use\":true}" : "{\"single_use\":false}";
    t.iat = now;
    t.exp = now + ttl;
    struct errbuf err = {{0}};
    if (store_token_put(c->db, &t, &err) != 0)
        cli_fail(c, "storage: %s", err.msg);
    json_t *o = json_object();
    json_object_set_new(o, "initial_access_token", json_string(token));
    json_object_set_new(o, "expires_at", json_integer(t.exp));
    json_object_set_new(o, "single_use", json_boolean(single));
    cli_print_json(o, JSON_COMPACT);
    json_decref(o);
    return 0;
}

static const struct cli_sub subs[] = {
    {"token", token_create, CLI_BIT(O_EXPIRES_IN) | CLI_BIT(O_SINGLE_USE), 1, 1, "action (create)", NULL},
};

static const struct cli_command registration_command = {
    .name = "registration",
    .opts = opts,
    .n_opts = N_OPTS,
    .subs = subs,
    .n_subs = sizeof(subs) / sizeof(subs[0]),
    .usage = usage,
};

int cmd_registration(int argc, char **argv)
{
    return cli_run(&registration_command, NULL, argc, argv);
}
