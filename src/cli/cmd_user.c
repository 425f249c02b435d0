/* cmd_user.c: `ostiary user add|passwd|list|show|update|disable|delete`: end users in the store.
 * Passwords are hashed with argon2id (session/users.c) and never printed; claims are OIDC Core §5.1
 * standard claims. Disabling or deleting a user logs it out everywhere (its login sessions and refresh
 * tokens are revoked). The configuration file itself is not edited. Consents: cmd_consent.c. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "session/user_check.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

#define CLAIMS_MAX 64u     /* --claim per command */

/* ---- Command line ---------------------------------------------------------------------------------- */

/* The options, then one slot per claim of core/claims.h: those with an option of their own (--name,
 * --email, --email-verified, --phone) get it there; a boolean claim's option takes no value (it sets
 * true). */
enum opt {
    O_PASSWORD_STDIN,
    O_PASSWORD,
    O_ID,
    O_CLAIM,
    O_ENABLE,
    O_DISABLE,
    O_CLAIMS,
    O_COUNT = O_CLAIMS + OIDC_CLAIM_COUNT
};
_Static_assert(O_COUNT <= CLI_MAX_OPTS, "cli_args.seen holds one bit per option");

/* The command's ctx: the values of --claim. */
#define CLAIM_OPT(arg, n, kind, scope, option)                                                               \
    [O_CLAIMS + OIDC_CLAIM_##n] = {option, kind != CLAIM_BOOL, 0, 0, #n},
static const struct cli_opt opts[O_COUNT] = {
    [O_PASSWORD_STDIN] = {"--password-stdin", false, 0, 0, NULL},
    [O_PASSWORD] = {"--password", true, 0, 0, NULL},
    [O_ID] = {"--id", true, 0, 0, NULL},
    [O_CLAIM] = {"--claim", true, CLAIMS_MAX, CLI_INTO(struct cli_values, v), NULL},
    [O_ENABLE] = {"--enable", false, 0, 0, NULL},
    [O_DISABLE] = {"--disable", false, 0, 0, NULL},
    OIDC_CLAIMS(CLAIM_OPT, ~)
};

#define BIT(o) CLI_BIT(o)
#define CLAIM_OPTS ((((uint64_t)1 << OIDC_CLAIM_COUNT) - 1) << O_CLAIMS | BIT(O_CLAIM))
#define PASSWORD_OPTS (BIT(O_PASSWORD_STDIN) | BIT(O_PASSWORD))

static void usage(FILE *out)
{
    fputs("usage: ostiary user <subcommand> [options]\n"
          "\n"
          "subcommands:\n"
          "  add USERNAME [--password-stdin | --password P] [--id ID] [CLAIM OPTIONS]\n"
          "                                  create a user (without a password it cannot log in yet)\n"
          "  passwd USERNAME [--password-stdin | --password P]\n"
          "                                  set the password (prompts on a terminal); logs the user out\n"
          "  list                            one JSON line per user (never password hashes)\n"
          "  show USERNAME                   the user's id, claims and state\n"
          "  update USERNAME [CLAIM OPTIONS] [--enable | --disable]\n"
          "                                  change only the given claims\n"
          "  disable USERNAME                refuse further logins and log the user out everywhere\n"
          "  delete USERNAME                 remove the user, its consents, and log it out\n"
          "  help                            this text\n"
          "\n"
          "claim options (OIDC Core §5.1 standard claims):\n",
          out);
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++) {
        const struct oidc_claim *c = &oidc_claims[k];
        char left[40];
        if (c->option == NULL)
            continue;
        if (c->kind == CLAIM_BOOL)
            snprintf(left, sizeof(left), "%s", c->option);
        else
            snprintf(left, sizeof(left), "%s %c", c->option, toupper((unsigned char)c->option[2]));
        fprintf(out, "  %-31s %s%s\n", left, c->name, c->kind == CLAIM_BOOL ? ": true" : "");
    }
    fputs("  --claim KEY=VALUE               repeatable; any standard claim:", out);
    size_t col = 66;
    bool first = true;
    for (size_t k = 0; k < OIDC_CLAIM_COUNT + OIDC_ADDRESS_PART_COUNT; k++) {
        char name[48];
        if (k < OIDC_CLAIM_COUNT &&
            (oidc_claims[k].kind == CLAIM_TIME || oidc_claims[k].kind == CLAIM_ADDRESS))
            continue;
        if (k < OIDC_CLAIM_COUNT)
            snprintf(name, sizeof(name), "%s", oidc_claims[k].name);
        else
            snprintf(name, sizeof(name), "address.%s", oidc_address_parts[k - OIDC_CLAIM_COUNT].name);
        fputs(first ? "" : ",", out);
        if (col + strlen(name) + 2 > 100) {
            fputs("\n                                 ", out);
            col = 33;
        }
        fprintf(out, " %s", name);
        col += strlen(name) + 2;
        first = false;
    }
    fputs(".\n"
          "                                  Booleans are true or false. An empty VALUE removes the claim.\n"
          "\n"
          "--password-stdin reads one line (the password) from standard input; prefer it to --password,\n"
          "which other local users can see in the process list.\n"
          "\n"
          "global options (anywhere): --config FILE, --dev, --storage DSN, --log-level LEVEL\n"
          "\n"
          "A user declared in the configuration file is written again at every start of the server:\n"
          "change it in the file. See also: ostiary consent help.\n",
          out);
}

/* Sets (or with an empty value, removes) claim `key` ("email", "address.country") in claims, by the rules
 * of session/user_check.c. 0, or 1 with err "<flag>: <reason>" (and *p filled when the rules refused). */
static int set_claim(json_t *claims, const char *flag, const char *key, const char *value,
                     struct user_problem *p, struct errbuf *err)
{
    int rc = user_claim_set(claims, key, value, p);
    if (rc == 0)
        return 0;
    /* A refused value is named by its claim too: "--claim email: ...". */
    if (rc != USER_CLAIM_UNKNOWN && strcmp(flag, "--claim") == 0)
        errbuf_set(err, "--claim %s: %s", key, p->reason);
    else
        errbuf_set(err, "%s: %s", flag, p->reason);
    return 1;
}

/* Applies the claim options onto claims: those of the table in its order, then each --claim. 0, or 1 with
 * err (and *p when the rules refused a value). */
static int apply_claims(const struct cli_args *ua, const struct cli_values *cl, struct arena *a,
                        json_t *claims, struct user_problem *p, struct errbuf *err)
{
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++) {
        int o = O_CLAIMS + (int)k;
        if (cli_seen(ua, o) && set_claim(claims, opts[o].name, oidc_claims[k].name,
                                         opts[o].has_value ? ua->val[o] : "true", p, err) != 0)
            return 1;
    }
    for (size_t i = 0; i < cl->n; i++) {
        const char *kv = cl->v[i];
        const char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            errbuf_set(err, "--claim: expected KEY=VALUE, got '%s'", kv);
            return 1;
        }
        if (set_claim(claims, "--claim", arena_strndup(a, kv, (size_t)(eq - kv)), eq + 1, p, err) != 0)
            return 1;
    }
    return 0;
}

/* `user add`: its USERNAME and --id, by the rules of users[] in the file. */
static int check_names(const struct cli_args *ua, struct user_problem *p, struct errbuf *err)
{
    if (user_name_check("username", ua->pos[1], p) != 0) {
        errbuf_set(err, "USERNAME: %s", p->reason);
        return 1;
    }
    if (ua->val[O_ID] != NULL && user_name_check("id", ua->val[O_ID], p) != 0) {
        errbuf_set(err, "--id: %s", p->reason);
        return 1;
    }
    return 0;
}

int user_cli_claims(struct arena *a, int argc, char **argv, json_t *claims, struct user_problem *p,
                    struct errbuf *err)
{
    struct cli_globals g = {0};
    struct cli_args ua = {0};
    struct cli_values cl = {0};
    struct errbuf why = {{0}};
    memset(p, 0, sizeof(*p));
    if (cli_parse(opts, O_COUNT, argc, argv, &g, &ua, NULL, &cl, a, err) != 0)
        return 2;
    const char *sub = ua.n_pos > 0 ? ua.pos[0] : "add";
    if ((strcmp(sub, "add") == 0 && ua.n_pos > 1 && check_names(&ua, p, &why) != 0) ||
        apply_claims(&ua, &cl, a, claims, p, &why) != 0) {
        errbuf_set(err, "user %s: %s", sub, why.msg);
        return 1;
    }
    return 0;
}

/* The claim options applied onto claims, or the command fails naming the option. */
static void claims_of_args(const struct cli_cmd *uc, json_t *claims)
{
    struct user_problem p;
    struct errbuf err = {{0}};
    if (apply_claims(&uc->args, uc->ctx, uc->a, claims, &p, &err) != 0)
        cli_fail(uc, "%s", err.msg);
}

static int config_user_index(const struct config *cfg, const char *username)
{
    for (unsigned i = 0; i < cfg->n_users; i++)
        if (cfg->users[i].username != NULL && strcmp(cfg->users[i].username, username) == 0)
            return (int)i;
    return -1;
}

/* ---- Passwords ------------------------------------------------------------------------------------------
 */

static void wipe(char *s, size_t n)
{
    if (s != NULL)
        explicit_bzero(s, n);
}

/* Reads one line from f into a malloc'd buffer without its line ending; NULL at end of input. */
static char *read_line(FILE *f, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        wipe(line, cap);
        free(line);
        return NULL;
    }
    size_t l = (size_t)n;
    while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
        line[--l] = '\0';
    *len = l;
    /* The buffer may be larger than the line; what follows the NUL is wiped with it by the caller. */
    if (l + 1 < cap)
        memset(line + l + 1, 0, cap - l - 1);
    return line;
}

/* Reads a password from the terminal without echo. */
static char *prompt_password(const struct cli_cmd *uc, const char *prompt, size_t *len)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (tty == NULL)
        cli_fail(uc, "no terminal to ask for the password; use --password-stdin");
    struct termios old, quiet;
    int fd = fileno(tty);
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, tty);
    fflush(tty);
    char *pw = read_line(tty, len);
    fputc('\n', tty);
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    fclose(tty);
    if (pw == NULL)
        cli_fail(uc, "no password given");
    return pw;
}

/* The password the options give, malloc'd (the caller wipes and frees it), or NULL when none was asked
 * for and `required` is false. */
static char *password_from_args(const struct cli_cmd *uc, bool required, size_t *len)
{
    const struct cli_args *ua = &uc->args;
    char *pw = NULL;
    *len = 0;
    if (ua->val[O_PASSWORD] != NULL) {
        pw = strdup(ua->val[O_PASSWORD]);
        if (pw == NULL)
            die("out of memory");
        *len = strlen(pw);
        /* Shortens the time it can be read from /proc/PID/cmdline (it was visible until now). */
        explicit_bzero((char *)ua->val[O_PASSWORD], *len);
    } else if (ua->seen & BIT(O_PASSWORD_STDIN)) {
        pw = read_line(stdin, len);
        if (pw == NULL)
            cli_fail(uc, "--password-stdin: no line on standard input");
    } else if (required) {
        if (!isatty(STDIN_FILENO))
            cli_fail(uc, "give --password-stdin (one line on standard input) or --password");
        pw = prompt_password(uc, "New password: ", len);
        size_t len2 = 0;
        char *again = prompt_password(uc, "Retype new password: ", &len2);
        bool same = len2 == *len && memcmp(again, pw, *len) == 0;
        wipe(again, len2);
        free(again);
        if (!same) {
            wipe(pw, *len);
            cli_fail(uc, "the passwords do not match");
        }
    } else {
        return NULL;
    }
    if (*len == 0)
        cli_fail(uc, "the password must not be empty");
    if (*len > USER_PASSWORD_MAX) {
        wipe(pw, *len);
        cli_fail(uc, "the password is too long (at most %u bytes)", USER_PASSWORD_MAX);
    }
    return pw;
}

/* Hashes the password given on the command line, if any: NULL if none (and not required). */
static char *hash_from_args(const struct cli_cmd *uc, bool required)
{
    size_t len = 0;
    char *pw = password_from_args(uc, required, &len);
    if (pw == NULL)
        return NULL;
    if (uc->cfg != NULL) /* the configured argon2id parameters, as the server would hash it */
        users_set_argon2id(uc->cfg->passwords.argon2id.memory_kib, uc->cfg->passwords.argon2id.iterations);
    char *hash = user_password_hash(pw, len);
    wipe(pw, len);
    free(pw);
    if (hash == NULL)
        cli_fail(uc, "hashing the password failed (out of memory?)");
    return hash;
}

/* ---- Store access -------------------------------------------------------------------------------------- */

static json_t *stored_claims(const struct store_user *u)
{
    bool unreadable = false;
    json_t *c = user_claims_json(u, &unreadable);
    if (unreadable)
        fprintf(stderr, "ostiary: warning: user '%s' has unreadable claims; starting from none\n",
                u->username);
    return c;
}

static char *claims_text(json_t *claims)
{
    char *s = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL)
        die("cannot encode the claims");
    return s;
}

/* ---- Output ------------------------------------------------------------------------------------------- */

/* The user as shown by show/add/update (user_to_json: never the hash, only whether there is one). */
static json_t *user_json(const struct cli_cmd *uc, const struct store_user *u)
{
    bool unreadable = false;
    json_t *o = user_to_json(u, &unreadable);
    if (unreadable)
        fprintf(stderr, "ostiary: warning: user '%s' has unreadable claims; starting from none\n",
                u->username);
    return o;
}

static void print_user(const struct cli_cmd *uc, const struct store_user *u)
{
    json_t *o = user_json(uc, u);
    cli_print_json(o, JSON_INDENT(2));
    json_decref(o);
}

static void warn_if_from_config(const struct cli_cmd *uc, const struct store_user *u)
{
    int idx = config_user_index(uc->cfg, u->username);
    if (u->from_config || idx >= 0)
        fprintf(stderr,
                "ostiary: warning: user '%s' is declared in the configuration file; the server applies the "
                "file's definition again at its next start, which %s this change. Edit the file as well.\n",
                u->username, strcmp(uc->sub->name, "delete") == 0 ? "undoes" : "overwrites");
}

/* ---- user subcommands ------------------------------------------------------------------------------------
 */

struct put_ctx {
    const struct store_user *u;
    bool create; /* refuse an existing username or id */
    bool revoke; /* log the user out in the same transaction */
};

static int put_user_tx(const struct cli_cmd *uc, void *ctx, struct errbuf *err)
{
    struct put_ctx *p = ctx;
    if (p->create) {
        struct store_user existing;
        int rc = store_user_get(uc->db, uc->a, p->u->id, &existing, err);
        if (rc == 0) {
            store_rollback(uc->db);
            die("user add: --id: a user with id '%s' already exists ('%s')", p->u->id, existing.username);
        }
        if (rc != ERR_NOTFOUND)
            return rc;
        rc = store_user_get_by_name(uc->db, uc->a, p->u->username, &existing, err);
        if (rc == 0) {
            store_rollback(uc->db);
            die("user add: a user '%s' already exists (see ostiary user update)", p->u->username);
        }
        if (rc != ERR_NOTFOUND)
            return rc;
    }
    int rc = store_user_put(uc->db, p->u, err);
    if (rc == ERR_CONFLICT) {
        store_rollback(uc->db);
        cli_fail(uc, "a user '%s' already exists", p->u->username);
    }
    if (rc == 0 && p->revoke)
        rc = user_logout_everywhere(uc->db, p->u->id, clock_now(), err);
    return rc;
}

static int user_add(struct cli_cmd *uc)
{
    const struct cli_args *ua = &uc->args;
    const char *username = ua->pos[1];
    struct user_problem bad;
    struct errbuf err = {{0}};
    if (check_names(ua, &bad, &err) != 0)
        cli_fail(uc, "%s", err.msg);
    int idx = config_user_index(uc->cfg, username);
    if (idx >= 0)
        die("user add: '%s' is declared in the configuration file (users[%d]); change it there", username,
            idx);
    const char *id = ua->val[O_ID];
    /* A random sub, never derived from the username: a later user of the same name must not inherit the
     * accounts relying parties keyed on the old one (OIDC Core §5.7: sub is never reassigned). */
    if (id == NULL)
        id = rand_token(uc->a, 16);

    json_t *claims = json_object();
    claims_of_args(uc, claims);
    char *ctext = claims_text(claims);
    json_decref(claims);
    char *hash = hash_from_args(uc, false);

    int64_t now = clock_now();
    struct store_user u = {
        .id = id,
        .username = username,
        .password_hash = hash,
        .claims = ctext,
        .created_at = now,
        .updated_at = now,
    };
    struct put_ctx p = {.u = &u, .create = true};
    cli_in_tx(uc, put_user_tx, &p);
    if (hash == NULL)
        fprintf(stderr,
                "ostiary: note: '%s' has no password and cannot log in until one is set "
                "(ostiary user passwd %s)\n",
                username, username);
    print_user(uc, &u);
    free(hash);
    free(ctext);
    return 0;
}

static int user_passwd(struct cli_cmd *uc)
{
    struct store_user u;
    cli_load_user(uc, uc->args.pos[1], &u);
    char *hash = hash_from_args(uc, true);
    u.password_hash = hash;
    u.updated_at = clock_now();
    /* A new password ends the sessions opened with the old one (it may have been stolen). */
    struct put_ctx p = {.u = &u, .revoke = true};
    cli_in_tx(uc, put_user_tx, &p);
    warn_if_from_config(uc, &u);
    json_t *o = json_pack("{s:s, s:s, s:b, s:b}", "username", u.username, "id", u.id, "password_changed", 1,
                          "sessions_revoked", 1);
    cli_print_json(o, JSON_COMPACT);
    json_decref(o);
    free(hash);
    return 0;
}

static int user_list(struct cli_cmd *uc)
{
    struct errbuf err = {{0}};
    struct store_user *v = NULL;
    size_t n = 0;
    if (store_user_list(uc->db, uc->a, &v, &n, &err) != 0)
        die("user list: storage: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        json_t *claims = stored_claims(&v[i]);
        json_t *line = json_object();
        json_object_set_new(line, "username", json_string(v[i].username));
        json_object_set_new(line, "id", json_string(v[i].id));
        cli_json_copy_str(line, claims, "name");
        cli_json_copy_str(line, claims, "email");
        json_object_set_new(line, "disabled", json_boolean(v[i].disabled));
        json_object_set_new(line, "has_password",
                            json_boolean(v[i].password_hash != NULL && v[i].password_hash[0] != '\0'));
        json_object_set_new(line, "from_config", json_boolean(v[i].from_config));
        cli_print_json(line, JSON_COMPACT);
        json_decref(line);
        json_decref(claims);
    }
    return 0;
}

static int user_show(struct cli_cmd *uc)
{
    struct store_user u;
    cli_load_user(uc, uc->args.pos[1], &u);
    print_user(uc, &u);
    return 0;
}

static int user_update(struct cli_cmd *uc)
{
    const struct cli_args *ua = &uc->args;
    struct store_user u;
    cli_load_user(uc, ua->pos[1], &u);
    json_t *claims = stored_claims(&u);
    claims_of_args(uc, claims);
    char *ctext = claims_text(claims);
    json_decref(claims);
    bool was_disabled = u.disabled;
    if (ua->seen & BIT(O_ENABLE))
        u.disabled = false;
    if (ua->seen & BIT(O_DISABLE))
        u.disabled = true;
    u.claims = ctext;
    u.updated_at = clock_now();
    struct put_ctx p = {.u = &u, .revoke = u.disabled && !was_disabled};
    cli_in_tx(uc, put_user_tx, &p);
    warn_if_from_config(uc, &u);
    print_user(uc, &u);
    free(ctext);
    return 0;
}

static int user_disable(struct cli_cmd *uc)
{
    struct store_user u;
    cli_load_user(uc, uc->args.pos[1], &u);
    u.disabled = true;
    u.updated_at = clock_now();
    /* Revoked even when already disabled: harmless, and it covers tokens issued in between. */
    struct put_ctx p = {.u = &u, .revoke = true};
    cli_in_tx(uc, put_user_tx, &p);
    warn_if_from_config(uc, &u);
    print_user(uc, &u);
    return 0;
}

static int delete_tx(const struct cli_cmd *uc, void *ctx, struct errbuf *err)
{
    const struct store_user *u = ctx;
    int rc = store_consent_delete(uc->db, u->id, NULL, err);
    if (rc == 0)
        rc = user_logout_everywhere(uc->db, u->id, clock_now(), err);
    if (rc == 0)
        rc = store_user_delete(uc->db, u->id, err);
    if (rc == ERR_NOTFOUND) {
        store_rollback(uc->db);
        die("user delete: no user '%s'", u->username);
    }
    return rc;
}

static int user_delete(struct cli_cmd *uc)
{
    struct store_user u;
    cli_load_user(uc, uc->args.pos[1], &u);
    cli_in_tx(uc, delete_tx, &u);
    warn_if_from_config(uc, &u);
    json_t *o = json_pack("{s:s, s:s, s:b}", "username", u.username, "id", u.id, "deleted", 1);
    cli_print_json(o, JSON_COMPACT);
    json_decref(o);
    return 0;
}

/* ---- Dispatch ------------------------------------------------------------------------------------------ */

static int check_usage(const struct cli_cmd *uc, struct errbuf *err)
{
    const struct cli_args *ua = &uc->args;
    if (cli_seen(ua, O_PASSWORD) && cli_seen(ua, O_PASSWORD_STDIN)) {
        errbuf_set(err, "--password and --password-stdin are mutually exclusive");
        return -1;
    }
    if (strcmp(uc->sub->name, "update") != 0)
        return 0;
    if (ua->seen == 0) {
        errbuf_set(err, "nothing to change: give at least one claim option, --enable or --disable");
        return -1;
    }
    if (cli_seen(ua, O_ENABLE) && cli_seen(ua, O_DISABLE)) {
        errbuf_set(err, "--enable and --disable are mutually exclusive");
        return -1;
    }
    return 0;
}

static const struct cli_sub subs[] = {
    {"add", user_add, CLAIM_OPTS | PASSWORD_OPTS | BIT(O_ID), 1, 1, "USERNAME", NULL},
    {"passwd", user_passwd, PASSWORD_OPTS, 1, 1, "USERNAME", NULL},
    {"list", user_list, 0, 0, 0, NULL, NULL},
    {"show", user_show, 0, 1, 1, "USERNAME", NULL},
    {"update", user_update, CLAIM_OPTS | BIT(O_ENABLE) | BIT(O_DISABLE), 1, 1, "USERNAME", NULL},
    {"disable", user_disable, 0, 1, 1, "USERNAME", NULL},
    {"delete", user_delete, 0, 1, 1, "USERNAME", NULL},
};

static const struct cli_command user_command = {
    .name = "user", .opts = opts, .n_opts = O_COUNT, .subs = subs, .n_subs = sizeof(subs) / sizeof(subs[0]),
    .usage = usage, .check_usage = check_usage,
};

int cmd_user(int argc, char **argv)
{
    struct cli_values ua = {0};
    return cli_run(&user_command, &ua, argc, argv);
}
