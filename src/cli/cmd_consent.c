/* cmd_consent.c: `ostiary consent list|revoke`: the consents end users gave clients, remembered in the
 * store (the consent page is skipped while one covers the request). Revoking all of a user's consents also
 * revokes the user's refresh tokens. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/rand.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

static void usage(FILE *out)
{
    fputs("usage: ostiary consent <subcommand> [options]\n"
          "\n"
          "subcommands:\n"
          "  list USERNAME                   one JSON line per client the user has consented to\n"
          "  revoke USERNAME [CLIENT_ID]     forget that consent (all of them without CLIENT_ID), so the\n"
          "                                  user is asked again. Without CLIENT_ID the user's refresh\n"
          "                                  tokens are revoked too.\n"
          "  help                            this text\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n",
          out);
}

static int consent_list(struct cli_cmd *c)
{
    struct store_user u;
    cli_load_user(c, c->args.pos[1], &u);
    struct errbuf err = {{0}};
    struct store_consent *v = NULL;
    size_t n = 0;
    if (store_consent_list(c->db, c->a, u.id, &v, &n, &err) != 0)
        cli_fail(c, "storage: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *line = consent_to_json(&v[i]);
        cli_print_json(line, JSON_COMPACT);
        json_decref(line);
    }
    return 0;
}

struct revoke_ctx {
    const struct store_user *u;
    const char *client_id; /* NULL: all */
};

static int revoke_tx(const struct cli_cmd *c, void *ctx, struct errbuf *err)
{
    const struct revoke_ctx *r = ctx;
    int rc = user_consent_revoke(c->db, r->u->id, r->client_id, clock_now(), err);
    if (rc == ERR_NOTFOUND) {
        store_rollback(c->db);
        cli_fail(c, "'%s' has no consent for client '%s'", r->u->username, r->client_id);
    }
    return rc;
}

static int consent_revoke(struct cli_cmd *c)
{
    struct store_user u;
    cli_load_user(c, c->args.pos[1], &u);
    struct revoke_ctx r = {.u = &u, .client_id = c->args.n_pos > 2 ? c->args.pos[2] : NULL};
    cli_in_tx(c, revoke_tx, &r);
    json_t *o = json_object();
    json_object_set_new(o, "username", json_string(u.username));
    json_object_set_new(o, "id", json_string(u.id));
    json_object_set_new(o, "client_id", r.client_id != NULL ? json_string(r.client_id) : json_null());
    json_object_set_new(o, "revoked", json_true());
    json_object_set_new(o, "refresh_tokens_revoked", json_boolean(r.client_id == NULL));
    cli_print_json(o, JSON_COMPACT);
    json_decref(o);
    if (r.client_id != NULL)
        fprintf(
            stderr,
            "ostiary: note: refresh tokens already issued to '%s' stay valid until they expire; to end "
            "them now, revoke all of the user's consents (ostiary consent revoke %s) or disable the user\n",
            r.client_id, u.username);
    return 0;
}

static const struct cli_sub subs[] = {
    {"list", consent_list, 0, 1, 1, "USERNAME", NULL},
    {"revoke", consent_revoke, 0, 1, 2, "USERNAME", NULL},
};

static const struct cli_command consent_command = {
    .name = "consent",
    .subs = subs,
    .n_subs = sizeof(subs) / sizeof(subs[0]),
    .usage = usage,
};

int cmd_consent(int argc, char **argv)
{
    return cli_run(&consent_command, NULL, argc, argv);
}
