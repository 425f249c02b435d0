/* test_user_check.c: proves src/session/user_check.c, the one rule book of end users and their claims,
 * through both of its callers: the configuration's users[] (oauth_config_validate) and `ostiary user
 * add|update` (user_cli_claims, the CLI's core that never exits). A table of claim values, valid and
 * invalid, runs through both, which must accept and refuse alike for the same reason, each naming the
 * field its own way: users[0].<claim> in the file, the option (or --claim <claim>) on the command line. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/str.h"
#include "oauth/client_check.h"
#include "session/user_check.h"
#include "session/users.h"

#include "config_text.h"
#include "harness.h"
#include "core/banned.h"

/* Loads and validates as every command does; returns the result and leaves the message in err. */
static int load_validate(const char *yaml, struct errbuf *err)
{
    return load_validate_with(yaml, oauth_config_validate, err);
}

TEST(config_users_errors)
{
    struct errbuf err;
    ASSERT(load_validate("users:\n  - password: pw\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].username: required"));
    ASSERT(load_validate("users:\n  - { username: 'a b', password: pw }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].username: required, 1 to 255 visible ASCII"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw }\n  - { username: a, password: pw2 }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "3:17: users[1].username: duplicate 'a' (also users[0])");
    ASSERT(load_validate("users:\n  - { username: a, id: x, password: pw }\n"
                         "  - { username: b, id: x, password: pw }\n",
                         &err) != 0);
    ASSERT_STREQ(err.msg, "3:24: users[1].id: duplicate 'x' (also users[0])");
    ASSERT(load_validate("users:\n  - { username: a, id: '', password: pw }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].id: "));
    ASSERT(load_validate("users:\n  - { username: a }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: one of password or password_hash is required"));
    ASSERT(load_validate("users:\n  - { username: a, password: '' }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: must not be empty"));
    ASSERT(load("users:\n  - { username: a, password: pw, disabled: maybe }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].disabled: invalid boolean 'maybe'"));
    ASSERT(load("users:\n  - { username: a, password: pw, email_verified: si }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].email_verified: invalid boolean 'si'"));
    ASSERT(load("users:\n  - { username: a, password: pw, phone_number_verified: x }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].phone_number_verified: invalid boolean"));
    ASSERT(load("users:\n  - { username: a, password: pw, claims: {} }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:34: users[0].claims: unknown key");
    ASSERT(load("users:\n  - { username: a, password: pw, address: { city: Paris } }\n", &err) == NULL);
    ASSERT_STREQ(err.msg, "2:45: users[0].address.city: unknown key");
    ASSERT(load("users:\n  - { username: a, password: pw, address: Paris }\n", &err) == NULL);
    ASSERT(contains(err.msg, "users[0].address: expected a mapping"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, email: alice }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].email: must look like name@domain"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, birthdate: 04/05/1852 }\n", &err) != 0);
    ASSERT(contains(err.msg, "users[0].birthdate: must be YYYY-MM-DD or YYYY"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, birthdate: '1852-13-01' }\n", &err) != 0);
    ASSERT_EQ(load_validate("users:\n  - { username: a, password: pw, birthdate: '0000-05-04' }\n", &err), 0);
    ASSERT_EQ(load_validate("users:\n  - { username: a, password: pw, birthdate: '1852' }\n", &err), 0);
    ASSERT(load_validate("users:\n  - { username: a, password: pw, website: 'javascript:alert(1)' }\n", &err) !=
           0);
    ASSERT(contains(err.msg, "users[0].website: must be an absolute http or https URL"));
    ASSERT(load_validate("users:\n  - { username: a, password: pw, name: \"A\\x1b[31mB\" }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "2:40: users[0].name: must be UTF-8 text without control characters");
    ASSERT(load_validate("users:\n  - { username: a, password: pw, name: \"two\\nlines\" }\n", &err) != 0);
    /* Multi-line is allowed where OIDC Core §5.1.1 allows it. */
    ASSERT_EQ(load_validate("users:\n  - username: a\n    password: pw\n"
                            "    address: { street_address: \"1 Main St\\nApt 2\" }\n",
                            &err),
              0);
}

/* Passwords and password hashes never appear in a message, whatever is wrong. */
TEST(config_users_secrets_not_echoed)
{
    struct errbuf err;
    ASSERT(load_validate("users:\n  - { username: a, password: hunter2pw, password_hash: '$argon2id$v=19$xyzhash' }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "users[0].password: password and password_hash are mutually exclusive"));
    ASSERT(!contains(err.msg, "hunter2pw") && !contains(err.msg, "xyzhash"));
    ASSERT(load_validate("users:\n  - { username: a, password_hash: '$2b$10$bcryptSECRETHASH' }\n", &err) != 0);
    ASSERT_STREQ(err.msg, "2:35: users[0].password_hash: must be an argon2id encoded hash ($argon2id$v=19$m=...)");
    ASSERT(!contains(err.msg, "SECRETHASH"));
    ASSERT(load_validate("users:\n  - { username: a, password_hash: '$argon2i$v=19$m=4096,t=3,p=1$SECRETHASH' }\n",
                         &err) != 0);
    ASSERT(!contains(err.msg, "SECRETHASH"));
    /* The argon2id prefix alone is not enough: libsodium must read it, or the start would refuse the file
     * after `ostiary config check` had said it was fine. */
    ASSERT(load_validate("users:\n  - { username: a, password_hash: "
                         "'$argon2id$v=19$m=65536,t=2,p=1$SECRETHASH' }\n",
                         &err) != 0);
    ASSERT(contains(err.msg, "users[0].password_hash: must be an argon2id encoded hash"));
    ASSERT(load_validate("users:\n  - { username: a, password_hash: '$argon2id$v=19$m=65536,t=2,p=1$"
                         "c29tZXNhbHRzb21lc2FsdA$ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGlnZXN0' }\n",
                         &err) == 0);
    /* A password that is too long is reported by length, never echoed. */
    char yaml[6000];
    int n = snprintf(yaml, sizeof(yaml), "users:\n  - username: a\n    password: ");
    for (int i = 0; i < 5000; i++)
        yaml[n++] = 'P';
    yaml[n++] = '\n';
    yaml[n] = '\0';
    ASSERT(load(yaml, &err) == NULL);
    ASSERT_STREQ(err.msg, "3:15: users[0].password: value too long (at most 4096 bytes)");
    /* A wrong type next to a password (loading fails before validation) does not echo it either. */
    ASSERT(load("users:\n  - { username: a, password: hunter2pw, disabled: [x] }\n", &err) == NULL);
    ASSERT(!contains(err.msg, "hunter2pw"));
}

/* ---- The file and the CLI: one table of cases through both ------------------------------------------ */

/* A claim ("website", "address.country", or "username"/"id": the CLI's operand and --id), its value, and
 * what both must say: accepted (reason NULL) or part of the reason. */
struct ucase {
    const char *field, *value, *reason;
};

static const struct ucase ucases[] = {
    {"name", "Alice Liddell", NULL},
    {"given_name", "Ali\xc3\xa7" "e", NULL},
    {"website", "https://alice.example/", NULL},
    {"picture", "http://localhost:8080/a.png", NULL},
    {"email", "alice@example.com", NULL},
    {"email_verified", "true", NULL},
    {"phone_number_verified", "false", NULL},
    {"birthdate", "1852-05-04", NULL},
    {"birthdate", "0000-05-04", NULL},
    {"locale", "en-GB", NULL},
    {"address.formatted", "1 Rabbit Hole\nOxford", NULL},
    {"address.country", "UK", NULL},
    {"id", "248289761001", NULL},
    /* URLs: the CLI used to check only the prefix, and took a password in userinfo and a bare http://. */
    {"website", "http://u:hunter2@h.example/", "must not contain userinfo"},
    {"profile", "http://", "has no host"},
    {"picture", "https://my_host.example/a.png", "has an invalid host"},
    {"website", "https://h.example:99999/", "has an invalid port"},
    {"website", "javascript:alert(1)", "must be an absolute http or https URL"},
    {"email", "alice", "must look like name@domain"},
    {"email", "@example.com", "must look like name@domain"},
    {"birthdate", "04/05/1852", "must be YYYY-MM-DD or YYYY"},
    {"birthdate", "1852-13-01", "must be YYYY-MM-DD or YYYY"},
    {"name", "A\x1b[31mB", "must be UTF-8 text without control characters"},
    {"nickname", "two\nlines", "must be UTF-8 text without control characters"},
    {"address.locality", "two\nlines", "must be UTF-8 text without control characters"},
    {"username", "a b", "required, 1 to 255 visible ASCII characters"},
    {"id", "x y", "1 to 255 visible ASCII characters (the OIDC sub)"},
};

/* A YAML double-quoted scalar (the cases hold line breaks and escapes). */
static void yaml_quoted(struct strbuf *sb, const char *v)
{
    strbuf_addc(sb, '"');
    for (; *v != '\0'; v++) {
        if (*v == '\n')
            strbuf_adds(sb, "\\n");
        else if ((unsigned char)*v < 0x20)
            strbuf_addf(sb, "\\x%02x", (unsigned char)*v);
        else if (*v == '"' || *v == '\\')
            strbuf_addf(sb, "\\%c", *v);
        else
            strbuf_addc(sb, *v);
    }
    strbuf_addc(sb, '"');
}

static bool run_case(const struct ucase *c, size_t row)
{
    struct arena *a = arena_new(4096);
    struct errbuf ferr = {{0}}, cerr = {{0}};
    struct user_problem fp, cp;
    struct config *cfg = NULL;
    json_t *claims = json_object();
    bool ok = true;
#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "  row %zu (%s): ", row, c->field);                                              \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fputc('\n', stderr);                                                                             \
            ok = false;                                                                                      \
            goto done;                                                                                       \
        }                                                                                                    \
    } while (0)

    /* The file. */
    struct strbuf y;
    strbuf_init(&y, a, 4096);
    bool is_name = strcmp(c->field, "username") == 0;
    strbuf_adds(&y, "users:\n  - password: pw\n    username: ");
    yaml_quoted(&y, is_name ? c->value : "u");
    if (strncmp(c->field, "address.", 8) == 0) {
        strbuf_addf(&y, "\n    address: { %s: ", c->field + 8);
        yaml_quoted(&y, c->value);
        strbuf_adds(&y, " }\n");
    } else if (!is_name) {
        strbuf_addf(&y, "\n    %s: ", c->field);
        yaml_quoted(&y, c->value);
        strbuf_adds(&y, "\n");
    } else {
        strbuf_adds(&y, "\n");
    }
    CHECK(config_load_buffer(y.buf, y.len, &cfg, &ferr) == 0, "the file does not load: %s", ferr.msg);
    CHECK(config_validate(cfg, &ferr) == 0, "the settings do not validate: %s", ferr.msg);
    int frc = user_check_entry(cfg, 0, &fp);
    CHECK((frc == 0) == (users_check_config(cfg, &ferr) == 0), "user_check_entry and users_check_config disagree");

    /* The command line: `user add u --claim FIELD=VALUE`, or the operand and --id. */
    char kv[512];
    snprintf(kv, sizeof(kv), "%s=%s", c->field, c->value);
    char *claim_argv[] = {"user", "add", "u", "--claim", kv, NULL};
    char *name_argv[] = {"user", "add", (char *)c->value, NULL};
    char *id_argv[] = {"user", "add", "u", "--id", (char *)c->value, NULL};
    char **argv = is_name ? name_argv : strcmp(c->field, "id") == 0 ? id_argv : claim_argv;
    int argc = argv == name_argv ? 3 : 5;
    int crc = user_cli_claims(a, argc, argv, claims, &cp, &cerr);
    CHECK(crc == 0 || crc == 1, "the command line is a usage error: %s", cerr.msg);

    CHECK((frc == 0) == (crc == 0), "the file %s it, the CLI %s it (%s | %s)", frc == 0 ? "accepts" : "refuses",
          crc == 0 ? "accepts" : "refuses", ferr.msg, cerr.msg);
    if (c->reason == NULL) {
        CHECK(frc == 0, "refused: %s", ferr.msg);
        goto done;
    }
    CHECK(frc != 0, "accepted, expected: %s", c->reason);
    CHECK(strcmp(fp.field, c->field) == 0 && strcmp(cp.field, c->field) == 0, "blamed %s and %s", fp.field,
          cp.field);
    CHECK(strcmp(fp.reason, cp.reason) == 0, "different reasons:\n    file: %s\n    cli:  %s", fp.reason, cp.reason);
    CHECK(contains(fp.reason, c->reason), "the reason '%s' lacks '%s'", fp.reason, c->reason);
    char path[80], want[600];
    unsigned line, col;
    snprintf(path, sizeof(path), "users[0].%s", c->field);
    CHECK(config_position(cfg, path, &line, &col), "no file position for %s", path);
    snprintf(want, sizeof(want), "%u:%u: %s: %s", line, col, path, fp.reason);
    CHECK(strcmp(ferr.msg, want) == 0, "file message\n    got:  %s\n    want: %s", ferr.msg, want);
    if (is_name)
        snprintf(want, sizeof(want), "user add: USERNAME: %s", cp.reason);
    else if (argv == id_argv)
        snprintf(want, sizeof(want), "user add: --id: %s", cp.reason);
    else
        snprintf(want, sizeof(want), "user add: --claim %s: %s", c->field, cp.reason);
    CHECK(strcmp(cerr.msg, want) == 0, "CLI message\n    got:  %s\n    want: %s", cerr.msg, want);
    CHECK(!contains(ferr.msg, "hunter2") && !contains(cerr.msg, "hunter2"), "a password was echoed");
done:
    json_decref(claims);
    config_free(cfg);
    arena_free(a);
    return ok;
#undef CHECK
}

TEST(user_rules_file_and_cli_agree)
{
    size_t failed = 0;
    for (size_t i = 0; i < sizeof(ucases) / sizeof(ucases[0]); i++)
        failed += !run_case(&ucases[i], i);
    ASSERT_EQ(failed, 0);
}

/* A claim with an option of its own is named by it; the values land in the claims object as the file's
 * users get them (booleans as booleans, the address as an object). */
TEST(user_cli_options_come_from_the_claims_table)
{
    struct arena *a = arena_new(4096);
    struct errbuf err;
    struct user_problem p;
    json_t *claims = json_object();
    char *bad[] = {"user", "add", "u", "--email", "nope", NULL};
    ASSERT_EQ(user_cli_claims(a, 5, bad, claims, &p, &err), 1);
    ASSERT_STREQ(err.msg, "user add: --email: must look like name@domain, got 'nope'");
    char *good[] = {"user", "update", "u", "--name", "A", "--email-verified", "--phone", "+1 555",
                    "--claim", "address.country=UK", "--claim", "phone_number_verified=false", NULL};
    ASSERT_EQ(user_cli_claims(a, 12, good, claims, &p, &err), 0);
    char *text = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT(text != NULL);
    bool same = strcmp(text, "{\"address\":{\"country\":\"UK\"},\"email_verified\":true,\"name\":\"A\","
                             "\"phone_number\":\"+1 555\",\"phone_number_verified\":false}") == 0;
    free(text);
    ASSERT(same);
    /* A boolean claim takes true or false on the command line, where the file takes its booleans. */
    char *yes[] = {"user", "add", "u", "--claim", "email_verified=yes", NULL};
    ASSERT_EQ(user_cli_claims(a, 5, yes, claims, &p, &err), 1);
    ASSERT(contains(err.msg, "must be true or false"));
    char *up[] = {"user", "add", "u", "--claim", "updated_at=1", NULL};
    ASSERT_EQ(user_cli_claims(a, 5, up, claims, &p, &err), 1);
    ASSERT(contains(err.msg, "'updated_at' is not a settable standard claim"));
    json_decref(claims);
    arena_free(a);
}

/* Every claim of the table is in discovery's claims_supported, after sub, in the table's order. */
TEST(user_claims_supported_is_the_table)
{
    ASSERT_EQ(user_claims_supported_count, OIDC_CLAIM_COUNT + 1);
    ASSERT_STREQ(user_claims_supported[0], "sub");
    for (size_t k = 0; k < OIDC_CLAIM_COUNT; k++)
        ASSERT_STREQ(user_claims_supported[k + 1], oidc_claims[k].name);
}

TESTS(T(config_users_errors), T(config_users_secrets_not_echoed), T(user_rules_file_and_cli_agree),
      T(user_cli_options_come_from_the_claims_table), T(user_claims_supported_is_the_table))
