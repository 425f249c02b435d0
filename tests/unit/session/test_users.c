/* test_users.c: proves src/session/users.c: argon2id hashing and verification, login against a real
 * SQLite store in a temporary directory, claims per scope (OIDC Core §5.4), users of the configuration,
 * and the failed-login limiter with fixed clock values. */
#include "harness.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/rand.h"
#include "core/str.h"
#include "session/users.h"
#include "store/store.h"

#include "core/banned.h"

/* ---- fixture: a migrated SQLite store in a temporary directory ---- */

/* The key of the digests of configured passwords (users_config_key), as a server derives it. */
static uint8_t test_users_key[USERS_CONFIG_KEY_LEN];
#define TEST_USERS_KEY                                                                                       \
    (users_config_key("a key secret of at least 32 characters", test_users_key), test_users_key)

struct fx {
    char dir[64];
    char path[128];
    struct store *st;
    struct store_conn *c;
    struct arena *a;
    struct errbuf err;
};

static int fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/ostiary-users-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/ostiary.db", f->dir);
    char dsn[160];
    snprintf(dsn, sizeof(dsn), "sqlite:%s", f->path);
    int applied = 0;
    if (store_open(dsn, &f->st, &f->err) != 0 || store_migrate(f->st, &applied, &f->err) != 0 ||
        store_conn_open(f->st, &f->c, &f->err) != 0)
        return -1;
    f->a = arena_new(4096);
    return 0;
}

static void fx_close(struct fx *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    if (f->c != NULL)
        store_conn_close(f->c);
    if (f->st != NULL)
        store_close(f->st);
    arena_free(f->a);
    char p[192];
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    clock_set_fixed(0);
}

#define USERS_TEST(name)                                                                                     \
    static void body_##name(struct fx *f);                                                                   \
    TEST(name)                                                                                               \
    {                                                                                                        \
        struct fx fx_;                                                                                       \
        int open_rc_ = fx_open(&fx_);                                                                        \
        if (open_rc_ != 0)                                                                                   \
            fprintf(stderr, "  fixture: %s\n", fx_.err.msg);                                                 \
        ASSERT_EQ(open_rc_, 0);                                                                              \
        body_##name(&fx_);                                                                                   \
        fx_close(&fx_);                                                                                      \
    }                                                                                                        \
    static void body_##name(struct fx *f)

#define OK(call)                                                                                             \
    do {                                                                                                     \
        int ok_rc_ = (call);                                                                                 \
        if (ok_rc_ != 0)                                                                                     \
            fprintf(stderr, "  %s -> %d: %s\n", #call, ok_rc_, f->err.msg);                                  \
        ASSERT_EQ(ok_rc_, 0);                                                                                \
    } while (0)

static bool contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

/* Puts a user with a freshly hashed password (NULL: none). */
static int put_user(struct fx *f, const char *id, const char *username, const char *password, bool disabled)
{
    char *hash = password != NULL ? user_password_hash(password, strlen(password)) : NULL;
    struct store_user u = {
        .id = id,
        .username = username,
        .password_hash = hash,
        .claims = "{\"name\":\"Test User\"}",
        .disabled = disabled,
        .created_at = 100,
        .updated_at = 100,
    };
    int rc = store_user_put(f->c, &u, &f->err);
    free(hash);
    return rc;
}

static struct config *load_config(const char *yaml, struct errbuf *err)
{
    struct config *cfg = NULL;
    if (config_load_buffer(yaml, strlen(yaml), &cfg, err) != 0)
        return NULL;
    if (config_validate(cfg, err) != 0) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- hashing ---- */

TEST(users_hash_and_verify)
{
    char *h = user_password_hash("correct horse", 13);
    ASSERT(h != NULL);
    /* The defaults of passwords.argon2id: OWASP's minimum, 19 MiB, 2 passes, 1 lane. */
    ASSERT(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
    bool good = user_password_verify(h, "correct horse", 13);
    bool wrong = user_password_verify(h, "correct horsf", 13);
    bool prefix = user_password_verify(h, "correct horse", 12);
    bool empty = user_password_verify(h, "", 0);
    char *h2 = user_password_hash("correct horse", 13);
    bool salted = h2 != NULL && strcmp(h, h2) != 0;
    free(h);
    free(h2);
    ASSERT(good);
    ASSERT(!wrong);
    ASSERT(!prefix);
    ASSERT(!empty);
    ASSERT(salted); /* a fresh salt every time */

    /* The length is what counts: a password may contain NUL bytes. */
    static const char nul_pw[] = {'a', '\0', 'b'};
    h = user_password_hash(nul_pw, sizeof(nul_pw));
    ASSERT(h != NULL);
    good = user_password_verify(h, nul_pw, sizeof(nul_pw));
    wrong = user_password_verify(h, "a", 1);
    free(h);
    ASSERT(good);
    ASSERT(!wrong);
}

TEST(users_verify_rejects_unusable_hashes)
{
    ASSERT(!user_password_verify(NULL, "pw", 2));
    ASSERT(!user_password_verify("", "pw", 2));
    ASSERT(!user_password_verify("$argon2id$garbage", "pw", 2));
    /* argon2i, bcrypt: not ours, never accepted even if libsodium could read them. */
    ASSERT(!user_password_verify(
        "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A", "password",
        8));
    ASSERT(!user_password_verify("$2b$10$abcdefghijklmnopqrstuuJd1XLVEUKXAdkKmKpMWpVT2qKmwpa", "pw", 2));
    char *h = user_password_hash("pw", 2);
    ASSERT(h != NULL);
    bool null_pw = user_password_verify(h, NULL, 5);
    free(h);
    ASSERT(!null_pw);
}

/* Absent users cost about as much as a wrong password (users.h): the dummy verification runs. */
TEST(users_verify_without_hash_takes_as_long)
{
    char *h = user_password_hash("pw", 2);
    ASSERT(h != NULL);
    (void)user_password_verify(NULL, "warm", 4); /* first use computes the dummy hash */
    /* The fastest of several runs of each: a single run can be stretched by anything else the machine
     * does (a parallel test, a sanitizer build), and the fastest is what the work itself costs. */
    int64_t real = INT64_MAX, dummy = INT64_MAX;
    bool r1 = false, r2 = false;
    for (int i = 0; i < 5; i++) {
        int64_t t0 = clock_mono_us();
        r1 |= user_password_verify(h, "wrong", 5);
        int64_t t1 = clock_mono_us();
        r2 |= user_password_verify(NULL, "wrong", 5);
        int64_t t2 = clock_mono_us();
        if (t1 - t0 < real)
            real = t1 - t0;
        if (t2 - t1 < dummy)
            dummy = t2 - t1;
    }
    free(h);
    ASSERT(!r1 && !r2);
    if (dummy * 3 < real)
        fprintf(stderr, "  real %lld us, dummy %lld us\n", (long long)real, (long long)dummy);
    ASSERT(dummy * 3 >= real);
}

/* ---- authentication ---- */

USERS_TEST(users_authenticate)
{
    OK(put_user(f, "u-alice", "alice", "wonderland", false));
    OK(put_user(f, "u-bob", "bob", "builder", true));
    OK(put_user(f, "u-carol", "carol", NULL, false));

    struct store_user u;
    memset(&u, 0, sizeof(u));
    OK(user_authenticate(f->c, f->a, "alice", "wonderland", 10, &u, &f->err));
    ASSERT_STREQ(u.id, "u-alice");
    ASSERT_STREQ(u.username, "alice");
    ASSERT_STREQ(u.claims, "{\"name\":\"Test User\"}");
    ASSERT(u.password_hash == NULL); /* not handed out */

    ASSERT_EQ(user_authenticate(f->c, f->a, "alice", "Wonderland", 10, &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(user_authenticate(f->c, f->a, "Alice", "wonderland", 10, &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(user_authenticate(f->c, f->a, "nobody", "wonderland", 10, &u, &f->err), ERR_NOTFOUND);
    /* Disabled, or without a password: the same answer as a wrong password. */
    ASSERT_EQ(user_authenticate(f->c, f->a, "bob", "builder", 7, &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(user_authenticate(f->c, f->a, "carol", "", 0, &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(user_authenticate(f->c, f->a, "", "x", 1, &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(user_authenticate(f->c, f->a, NULL, "x", 1, &u, &f->err), ERR_NOTFOUND);
    char longname[400];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ASSERT_EQ(user_authenticate(f->c, f->a, longname, "x", 1, &u, &f->err), ERR_NOTFOUND);
}

/* A stored hash made with other parameters than the configured ones is replaced at the next successful
 * login, towards stronger and towards weaker parameters alike; a failed login, a user of the configuration
 * file and a hash already current are left as they are. */
static const char *stored_hash(struct fx *f, const char *id)
{
    struct store_user u;
    if (store_user_get(f->c, f->a, id, &u, &f->err) != 0)
        return NULL;
    return u.password_hash;
}

USERS_TEST(users_rehash_at_login_both_ways)
{
    users_set_argon2id(1024, 1);
    OK(put_user(f, "u-dave", "dave", "pa55word", false));
    ASSERT(strncmp(stored_hash(f, "u-dave"), "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    ASSERT(!user_password_needs_rehash(stored_hash(f, "u-dave")));
    struct store_user u;

    users_set_argon2id(2048, 2); /* stronger */
    ASSERT(user_password_needs_rehash(stored_hash(f, "u-dave")));
    ASSERT_EQ(user_authenticate(f->c, f->a, "dave", "wrong", 5, &u, &f->err), ERR_NOTFOUND);
    ASSERT(strncmp(stored_hash(f, "u-dave"), "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    OK(user_authenticate(f->c, f->a, "dave", "pa55word", 8, &u, &f->err));
    const char *h = stored_hash(f, "u-dave");
    ASSERT(strncmp(h, "$argon2id$v=19$m=2048,t=2,p=1$", 30) == 0);
    ASSERT(user_password_verify(h, "pa55word", 8));
    unsigned long long ops = users_argon2_ops();
    OK(user_authenticate(f->c, f->a, "dave", "pa55word", 8, &u, &f->err));
    ASSERT_EQ(users_argon2_ops() - ops, 1); /* current now: a verification, no new hash */
    ASSERT_STREQ(stored_hash(f, "u-dave"), h);

    users_set_argon2id(1024, 1); /* weaker: downgraded as well, the configuration decides */
    OK(user_authenticate(f->c, f->a, "dave", "pa55word", 8, &u, &f->err));
    ASSERT(strncmp(stored_hash(f, "u-dave"), "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0);
    OK(user_authenticate(f->c, f->a, "dave", "pa55word", 8, &u, &f->err));

    /* A user of the configuration file keeps the hash the file's start gave it. */
    char *fh = user_password_hash("filepw", 6);
    struct store_user cu = {.id = "u-erin", .username = "erin", .password_hash = fh, .claims = "{}",
                            .from_config = true, .created_at = 100, .updated_at = 100};
    OK(store_user_put(f->c, &cu, &f->err));
    users_set_argon2id(2048, 2);
    OK(user_authenticate(f->c, f->a, "erin", "filepw", 6, &u, &f->err));
    ASSERT_STREQ(stored_hash(f, "u-erin"), fh);
    free(fh);
    users_set_argon2id(19456, 2); /* the defaults again, for the tests after this one */
}

/* ---- claims ---- */

static const char alice_claims[] =
    "{\"name\":\"Alice Liddell\",\"given_name\":\"Alice\",\"family_name\":\"Liddell\","
    "\"preferred_username\":\"alice\",\"picture\":\"https://example.com/a.png\",\"locale\":\"en-GB\","
    "\"email\":\"alice@example.com\",\"email_verified\":\"true\",\"phone_number\":\"+44 20 7946 0000\","
    "\"phone_number_verified\":false,\"address\":{\"country\":\"UK\",\"locality\":\"Oxford\"},"
    "\"sub\":\"evil\",\"custom\":\"never\",\"nickname\":null,\"gender\":42}";

static json_t *claims_for(const char *claims_json, const char *const *scopes, size_t n)
{
    struct store_user u = {
        .id = "u-alice", .username = "alice", .claims = claims_json, .updated_at = 1700000000};
    return user_claims_select(&u, scopes, n, NULL);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

TEST(users_claims_openid_only)
{
    const char *scopes[] = {"openid"};
    json_t *c = claims_for(alice_claims, scopes, 1);
    size_t n = json_object_size(c);
    const char *sub = jstr(c, "sub");
    bool ok = sub != NULL && strcmp(sub, "u-alice") == 0;
    json_decref(c);
    ASSERT(ok);
    ASSERT_EQ(n, 1);
}

TEST(users_claims_per_scope)
{
    const char *scopes[] = {"openid", "profile"};
    json_t *c = claims_for(alice_claims, scopes, 2);
    char *dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"family_name\":\"Liddell\",\"given_name\":\"Alice\",\"locale\":\"en-GB\","
                       "\"name\":\"Alice Liddell\",\"picture\":\"https://example.com/a.png\","
                       "\"preferred_username\":\"alice\",\"sub\":\"u-alice\",\"updated_at\":1700000000}");
    free(dump);

    const char *scopes2[] = {"email", "phone", "address"};
    c = claims_for(alice_claims, scopes2, 3);
    dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    /* email_verified is a boolean (§5.1) even when stored as a string. */
    ASSERT_STREQ(dump,
                 "{\"address\":{\"country\":\"UK\",\"locality\":\"Oxford\"},\"email\":\"alice@example.com\","
                 "\"email_verified\":true,\"phone_number\":\"+44 20 7946 0000\","
                 "\"phone_number_verified\":false,\"sub\":\"u-alice\"}");
    free(dump);
}

TEST(users_claims_edge_cases)
{
    /* Stored sub and unknown claims are never released; a stored updated_at wins over the row's. */
    const char *scopes[] = {"profile", "custom", "PROFILE"};
    json_t *c = claims_for("{\"sub\":\"evil\",\"custom\":\"x\",\"updated_at\":1600000000}", scopes, 3);
    char *dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"sub\":\"u-alice\",\"updated_at\":1600000000}");
    free(dump);
    /* Unreadable stored claims: only sub (and the row's updated_at). */
    c = claims_for("not json", scopes, 1);
    dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"sub\":\"u-alice\",\"updated_at\":1700000000}");
    free(dump);
    c = claims_for(NULL, NULL, 0);
    dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"sub\":\"u-alice\"}");
    free(dump);
    /* A non-object address is left out. */
    const char *addr[] = {"address"};
    c = claims_for("{\"address\":\"1 Main St\"}", addr, 1);
    size_t n = json_object_size(c);
    json_decref(c);
    ASSERT_EQ(n, 1);
}

TEST(users_claims_by_name)
{
    /* Named claims (the claims request parameter) whatever the scopes; names that are no standard claim,
     * sub, non-strings and claims the user lacks add nothing. */
    struct store_user u = {.id = "u-alice", .username = "alice", .claims = alice_claims, .updated_at = 1700000000};
    json_t *names = json_loads("[\"email\",\"custom\",\"sub\",7,\"website\",\"locale\"]", 0, NULL);
    json_t *c = user_claims_select(&u, NULL, 0, names);
    char *dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"email\":\"alice@example.com\",\"locale\":\"en-GB\",\"sub\":\"u-alice\"}");
    free(dump);
    /* With a scope: its claims and the named ones, once each. */
    const char *email[] = {"email"};
    c = user_claims_select(&u, email, 1, names);
    dump = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    ASSERT_STREQ(dump, "{\"email\":\"alice@example.com\",\"email_verified\":true,\"locale\":\"en-GB\","
                       "\"sub\":\"u-alice\"}");
    free(dump);
    json_decref(names);
    ASSERT_STREQ(user_claim_scope("phone_number_verified"), "phone");
    ASSERT(user_claim_scope("sub") == NULL && user_claim_scope("acr") == NULL);
}

TEST(users_claims_supported)
{
    ASSERT_EQ(user_claims_supported_count, 20);
    bool sub = false, address = false, pnv = false;
    for (size_t i = 0; i < user_claims_supported_count; i++) {
        sub = sub || strcmp(user_claims_supported[i], "sub") == 0;
        address = address || strcmp(user_claims_supported[i], "address") == 0;
        pnv = pnv || strcmp(user_claims_supported[i], "phone_number_verified") == 0;
    }
    ASSERT(sub && address && pnv);
}

/* ---- users of the configuration ---- */

static const char config_users[] = "users:\n"
                                   "  - username: alice\n"
                                   "    password: wonderland\n"
                                   "    name: Alice Liddell\n"
                                   "    email: alice@example.com\n"
                                   "    email_verified: true\n"
                                   "    address: { country: UK }\n"
                                   "  - username: bob\n"
                                   "    id: bob-sub-1\n"
                                   "    password_hash: '%s'\n";

/* The documented default id: base64url(SHA-256("ostiary-user:" + username)), first 22 characters. */
static const char *expected_id(struct arena *a, const char *username)
{
    const char *in = arena_printf(a, "ostiary-user:%s", username);
    uint8_t d[STORE_HASH_LEN];
    store_hash(in, strlen(in), d);
    char *id = b64url_encode(a, d, sizeof(d));
    id[22] = '\0';
    return id;
}

static struct config *config_with_bob_hash(struct fx *f)
{
    char *hash = user_password_hash("builder", 7);
    if (hash == NULL)
        return NULL;
    char *yaml = arena_printf(f->a, config_users, hash);
    free(hash);
    return load_config(yaml, &f->err);
}

USERS_TEST(users_apply_config_creates_and_is_idempotent)
{
    clock_set_fixed(1000);
    struct config *cfg = config_with_bob_hash(f);
    ASSERT(cfg != NULL);
    int rc = users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err);
    if (rc != 0)
        fprintf(stderr, "  %s\n", f->err.msg);
    ASSERT_EQ(rc, 0);

    const char *alice_id = expected_id(f->a, "alice");
    ASSERT_EQ(strlen(alice_id), 22);
    struct store_user u;
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT_STREQ(u.username, "alice");
    ASSERT(u.from_config);
    ASSERT(!u.disabled);
    ASSERT_EQ(u.created_at, 1000);
    ASSERT_STREQ(u.claims, "{\"address\":{\"country\":\"UK\"},\"email\":\"alice@example.com\","
                           "\"email_verified\":true,\"name\":\"Alice Liddell\"}");
    const char *alice_hash = u.password_hash;
    ASSERT(strncmp(alice_hash, "$argon2id$", 10) == 0);
    ASSERT(!contains(alice_hash, "wonderland"));
    OK(store_user_get(f->c, f->a, "bob-sub-1", &u, &f->err));
    ASSERT_STREQ(u.username, "bob");
    ASSERT_STREQ(u.password_hash, cfg->users[1].password_hash);

    struct store_user who;
    OK(user_authenticate(f->c, f->a, "alice", "wonderland", 10, &who, &f->err));
    ASSERT_STREQ(who.id, alice_id);
    OK(user_authenticate(f->c, f->a, "bob", "builder", 7, &who, &f->err));

    /* A restart with the same file rewrites nothing: same hash, same updated_at. */
    clock_set_fixed(2000);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT_STREQ(u.password_hash, alice_hash);
    ASSERT_EQ(u.updated_at, 1000);

    /* A changed claim is written, keeping created_at. */
    config_set_str(&cfg->users[0].name, "Alice L.");
    clock_set_fixed(3000);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT(contains(u.claims, "\"name\":\"Alice L.\""));
    ASSERT_EQ(u.created_at, 1000);
    ASSERT_EQ(u.updated_at, 3000);
    ASSERT_STREQ(u.password_hash, alice_hash);

    /* A changed password is hashed again. */
    config_set_str(&cfg->users[0].password, "looking-glass");
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(user_authenticate(f->c, f->a, "alice", "wonderland", 10, &who, &f->err), ERR_NOTFOUND);
    OK(user_authenticate(f->c, f->a, "alice", "looking-glass", 13, &who, &f->err));
    config_free(cfg);
}

/* Restarts hash nothing: the digest stored with a configured user's hash says it was made from the file's
 * password. Without a digest (an older store) the password is verified once and the digest recorded; a
 * hash changed by other means, or a digest made with another key, never passes for the file's password. */
USERS_TEST(users_apply_config_keeps_hashes_by_digest)
{
    clock_set_fixed(1000);
    struct config *cfg = config_with_bob_hash(f);
    ASSERT(cfg != NULL);
    unsigned long long n0 = users_argon2_ops();
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(users_argon2_ops() - n0, 1); /* alice's password hashed; bob has a password_hash */
    const char *alice_id = expected_id(f->a, "alice");
    struct store_user u;
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT(u.config_pw_mac != NULL && strlen(u.config_pw_mac) == 43);
    ASSERT(!contains(u.config_pw_mac, "wonderland"));
    const char *hash = u.password_hash, *mac = u.config_pw_mac;
    OK(store_user_get(f->c, f->a, "bob-sub-1", &u, &f->err));
    ASSERT(u.config_pw_mac == NULL);

    /* The same file again: no argon2id at all, no write. */
    n0 = users_argon2_ops();
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(users_argon2_ops() - n0, 0);

    /* A row without a digest: one verification, the hash kept, the digest recorded. */
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    u.config_pw_mac = NULL;
    OK(store_user_put(f->c, &u, &f->err));
    n0 = users_argon2_ops();
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(users_argon2_ops() - n0, 1);
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT_STREQ(u.password_hash, hash);
    ASSERT_STREQ(u.config_pw_mac, mac);

    /* The hash changed by other means (ostiary user passwd), the digest left as it was: the file's
     * password is hashed again (one verification that fails, one hash). */
    char *other = user_password_hash("changed-by-cli", 14);
    ASSERT(other != NULL);
    u.password_hash = arena_strdup(f->a, other);
    free(other);
    OK(store_user_put(f->c, &u, &f->err));
    n0 = users_argon2_ops();
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(users_argon2_ops() - n0, 2);
    struct store_user who;
    OK(user_authenticate(f->c, f->a, "alice", "wonderland", 10, &who, &f->err));

    /* Another key secret: its digests do not match, the password is verified again (and still fits). */
    uint8_t other_key[USERS_CONFIG_KEY_LEN];
    users_config_key("another key secret of 32 characters or more", other_key);
    n0 = users_argon2_ops();
    OK(users_apply_config(f->c, cfg, other_key, NULL, &f->err));
    ASSERT_EQ(users_argon2_ops() - n0, 1);
    config_free(cfg);
}

USERS_TEST(users_apply_config_disable_and_remove)
{
    clock_set_fixed(1000);
    struct config *cfg = config_with_bob_hash(f);
    ASSERT(cfg != NULL);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    const char *alice_id = expected_id(f->a, "alice");
    struct store_token s1 = {
        .kind = STORE_TOKEN_SESSION, .client_id = "", .sub = alice_id, .scope = "", .iat = 1000, .exp = 9000};
    struct store_token r1 = {.kind = STORE_TOKEN_REFRESH,
                             .client_id = "app",
                             .sub = alice_id,
                             .scope = "openid",
                             .iat = 1000,
                             .exp = 9000};
    struct store_token b1 = {.kind = STORE_TOKEN_SESSION,
                             .client_id = "",
                             .sub = "bob-sub-1",
                             .scope = "",
                             .iat = 1000,
                             .exp = 9000};
    store_hash("s1", 2, s1.hash);
    store_hash("r1", 2, r1.hash);
    store_hash("b1", 2, b1.hash);
    OK(store_token_put(f->c, &s1, &f->err));
    OK(store_token_put(f->c, &r1, &f->err));
    OK(store_token_put(f->c, &b1, &f->err));
    struct store_consent cs = {.user_id = "bob-sub-1",
                               .client_id = "app",
                               .scope = "openid",
                               .resources = "",
                               .created_at = 1000,
                               .updated_at = 1000};
    OK(store_consent_put(f->c, &cs, &f->err));
    /* A user added with the CLI is not the file's business. */
    OK(put_user(f, "cli-user", "carol", "pw", false));

    /* alice disabled: logged out everywhere. */
    cfg->users[0].disabled = true;
    clock_set_fixed(1500);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    struct store_token got;
    OK(store_token_get(f->c, f->a, s1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1500);
    OK(store_token_get(f->c, f->a, r1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1500);
    OK(store_token_get(f->c, f->a, b1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 0);
    struct store_user u;
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT(u.disabled);
    ASSERT_EQ(user_authenticate(f->c, f->a, "alice", "wonderland", 10, &u, &f->err), ERR_NOTFOUND);

    /* bob removed from the file: deleted, with his consents, and logged out. */
    config_free(cfg);
    cfg = load_config("users:\n  - { username: alice, password: wonderland }\n", &f->err);
    ASSERT(cfg != NULL);
    clock_set_fixed(1600);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(store_user_get(f->c, f->a, "bob-sub-1", &u, &f->err), ERR_NOTFOUND);
    ASSERT_EQ(store_consent_get(f->c, f->a, "bob-sub-1", "app", &cs, &f->err), ERR_NOTFOUND);
    OK(store_token_get(f->c, f->a, b1.hash, &got, &f->err));
    ASSERT_EQ(got.revoked_at, 1600);
    OK(store_user_get(f->c, f->a, "cli-user", &u, &f->err));
    OK(store_user_get(f->c, f->a, alice_id, &u, &f->err));
    ASSERT(!u.disabled); /* enabled again by the file */
    config_free(cfg);

    /* An empty users list removes every user the file declared, and only those. */
    cfg = load_config("", &f->err);
    ASSERT(cfg != NULL);
    OK(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err));
    ASSERT_EQ(store_user_get(f->c, f->a, alice_id, &u, &f->err), ERR_NOTFOUND);
    OK(store_user_get(f->c, f->a, "cli-user", &u, &f->err));
    config_free(cfg);
}

USERS_TEST(users_apply_config_errors_leave_nothing)
{
    /* The username belongs to a user the CLI created (another id): refused, nothing written. */
    OK(put_user(f, "cli-alice", "alice", "pw", false));
    struct config *cfg = load_config("users:\n  - { username: bob, password: b }\n"
                                     "  - { username: alice, password: wonderland }\n",
                                     &f->err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err), ERR_INVALID);
    ASSERT(contains(f->err.msg, "users[1].username: 'alice' already belongs to another user"));
    ASSERT(!contains(f->err.msg, "wonderland"));
    struct store_user u;
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "bob", &u, &f->err), ERR_NOTFOUND);
    config_free(cfg);

    /* An explicit id equal to another user's derived id. */
    char yaml[256];
    snprintf(yaml, sizeof(yaml),
             "users:\n  - { username: dave, password: d }\n  - { username: eve, id: %s, password: e }\n",
             expected_id(f->a, "dave"));
    cfg = load_config(yaml, &f->err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err), ERR_INVALID);
    ASSERT(contains(f->err.msg, "users[1].id: "));
    config_free(cfg);

    /* A hash with the right prefix that libsodium cannot read. */
    cfg = load_config("users:\n  - { username: frank, password_hash: '$argon2id$v=19$broken' }\n", &f->err);
    ASSERT(cfg != NULL);
    ASSERT_EQ(users_apply_config(f->c, cfg, TEST_USERS_KEY, NULL, &f->err), ERR_INVALID);
    ASSERT_STREQ(f->err.msg, "users[0].password_hash: not a valid argon2id encoded hash");
    config_free(cfg);
    ASSERT_EQ(store_user_get_by_name(f->c, f->a, "frank", &u, &f->err), ERR_NOTFOUND);
}

/* ---- login limiter (fixed clock values) ---- */

TEST(limiter_delays_after_max_failures)
{
    struct login_limiter *l = login_limiter_new(3, 30);
    ASSERT(l != NULL);
    int64_t t = 10000;
    int64_t w[8];
    w[0] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t);
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, t);
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, t + 1);
    w[1] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 2); /* 2 of 3: still allowed */
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, t + 2);
    w[2] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 2); /* 3rd: lockout_seconds */
    w[3] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 12);
    w[4] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 32);
    /* Each further failure doubles the delay. */
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, t + 32);
    w[5] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 32);
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, t + 92);
    w[6] = login_limiter_check(l, "alice", "192.0.2.1", NULL, t + 92);
    /* Other pairs are not delayed: another user from the same address, the same user from elsewhere. */
    w[7] = login_limiter_check(l, "bob", "192.0.2.1", NULL, t + 92) +
           login_limiter_check(l, "alice", "192.0.2.2", NULL, t + 92);
    login_limiter_free(l);
    ASSERT_EQ(w[0], 0);
    ASSERT_EQ(w[1], 0);
    ASSERT_EQ(w[2], 30);
    ASSERT_EQ(w[3], 20);
    ASSERT_EQ(w[4], 0);
    ASSERT_EQ(w[5], 60);
    ASSERT_EQ(w[6], 120);
    ASSERT_EQ(w[7], 0);
}

TEST(limiter_delay_is_capped_and_temporary)
{
    struct login_limiter *l = login_limiter_new(1, 30);
    ASSERT(l != NULL);
    int64_t t = 50000, w = 0, max_seen = 0;
    for (int i = 0; i < 40; i++) {
        login_limiter_failure(l, "alice", "198.51.100.7", NULL, t);
        w = login_limiter_check(l, "alice", "198.51.100.7", NULL, t);
        if (w > max_seen)
            max_seen = w;
        t += w; /* the attacker waits out each delay, then fails again */
    }
    int64_t after = login_limiter_check(l, "alice", "198.51.100.7", NULL, t);
    /* Long after the last failure the counter is forgotten: one failure is one delay of 30 s again. */
    t += 900 + 900;
    login_limiter_failure(l, "alice", "198.51.100.7", NULL, t);
    int64_t fresh = login_limiter_check(l, "alice", "198.51.100.7", NULL, t);
    login_limiter_free(l);
    ASSERT_EQ(max_seen, 900);
    ASSERT_EQ(after, 0);
    ASSERT_EQ(fresh, 30);
}

TEST(limiter_success_clears_the_pair)
{
    struct login_limiter *l = login_limiter_new(2, 30);
    ASSERT(l != NULL);
    login_limiter_failure(l, "alice", "203.0.113.5", NULL, 100);
    login_limiter_success(l, "alice", "203.0.113.5", NULL);
    login_limiter_failure(l, "alice", "203.0.113.5", NULL, 101);
    int64_t w1 = login_limiter_check(l, "alice", "203.0.113.5", NULL, 101); /* 1 of 2 since the success */
    login_limiter_failure(l, "alice", "203.0.113.5", NULL, 102);
    int64_t w2 = login_limiter_check(l, "alice", "203.0.113.5", NULL, 102);
    login_limiter_success(l, "alice", "203.0.113.5", NULL);
    int64_t w3 = login_limiter_check(l, "alice", "203.0.113.5", NULL, 102);
    login_limiter_success(l, "nobody", "203.0.113.5", NULL); /* unknown pair: harmless */
    login_limiter_free(l);
    ASSERT_EQ(w1, 0);
    ASSERT_EQ(w2, 30);
    ASSERT_EQ(w3, 0);
}

/* One address spraying many accounts is stopped after max_failures * 4 failures, whatever the names. */
TEST(limiter_per_address)
{
    struct login_limiter *l = login_limiter_new(5, 30);
    ASSERT(l != NULL);
    char name[32];
    int64_t before = -1, at_limit = -1, other_addr = -1, new_name = -1;
    for (int i = 0; i < 20; i++) {
        if (i == 19)
            before = login_limiter_check(l, "someone-new", "192.0.2.9", NULL, 1000);
        snprintf(name, sizeof(name), "user%d", i);
        login_limiter_failure(l, name, "192.0.2.9", NULL, 1000);
    }
    at_limit = login_limiter_check(l, "user0", "192.0.2.9", NULL, 1000);
    new_name = login_limiter_check(l, "someone-new", "192.0.2.9", NULL, 1000);
    other_addr = login_limiter_check(l, "someone-new", "192.0.2.10", NULL, 1000);
    login_limiter_free(l);
    ASSERT_EQ(before, 0);
    ASSERT_EQ(at_limit, 30);
    ASSERT_EQ(new_name, 30);
    ASSERT_EQ(other_addr, 0);
}

/* A botnet guessing one account from many addresses, each failing once (under the pair and address
 * limits), is stopped after max_failures * 4 failures on that account, from any address; other accounts
 * are untouched, also from the attacking addresses. */
TEST(limiter_per_account)
{
    struct login_limiter *l = login_limiter_new(5, 30);
    ASSERT(l != NULL);
    char addr[32];
    int64_t before = -1;
    for (int i = 0; i < 20; i++) {
        if (i == 19)
            before = login_limiter_check(l, "alice", "203.0.113.200", NULL, 1000);
        snprintf(addr, sizeof(addr), "198.51.100.%d", i);
        login_limiter_failure(l, "alice", addr, NULL, 1000);
    }
    int64_t elsewhere = login_limiter_check(l, "alice", "203.0.113.200", NULL, 1000);
    int64_t attacker = login_limiter_check(l, "alice", "198.51.100.3", NULL, 1000);
    int64_t other_user = login_limiter_check(l, "bob", "198.51.100.3", NULL, 1000);
    /* The same doubling as the other counters: one more failure after the wait, twice the wait. */
    login_limiter_failure(l, "alice", "198.51.100.77", NULL, 1030);
    int64_t doubled = login_limiter_check(l, "alice", "203.0.113.200", NULL, 1030);
    login_limiter_free(l);
    ASSERT_EQ(before, 0);
    ASSERT_EQ(elsewhere, 30);
    ASSERT_EQ(attacker, 30);
    ASSERT_EQ(other_user, 0);
    ASSERT_EQ(doubled, 60);
}

/* The account counter is capped at 15 minutes and forgotten after the window, like the others, so that
 * an attacker can delay a user but not lock them out for good. */
TEST(limiter_per_account_capped_and_temporary)
{
    struct login_limiter *l = login_limiter_new(1, 30);
    ASSERT(l != NULL);
    char addr[32];
    int64_t t = 70000, w = 0, max_seen = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(addr, sizeof(addr), "192.0.2.%d", i);
        login_limiter_failure(l, "alice", addr, NULL, t);
        w = login_limiter_check(l, "alice", "203.0.113.1", NULL, t);
        if (w > max_seen)
            max_seen = w;
        t += w; /* the botnet waits out each delay, then fails again from a new address */
    }
    int64_t after = login_limiter_check(l, "alice", "203.0.113.1", NULL, t);
    t += 900 + 900;
    login_limiter_failure(l, "alice", "192.0.2.250", NULL, t);
    int64_t fresh = login_limiter_check(l, "alice", "203.0.113.1", NULL, t); /* 1 of 4 again */
    login_limiter_free(l);
    ASSERT_EQ(max_seen, 900);
    ASSERT_EQ(after, 0);
    ASSERT_EQ(fresh, 0);
}

/* A success clears the pair but not the account counter: an attack in progress from other addresses
 * keeps its weight. */
TEST(limiter_success_keeps_the_account_counter)
{
    struct login_limiter *l = login_limiter_new(2, 30);
    ASSERT(l != NULL);
    char addr[32];
    /* 7 failures from 7 addresses: one short of the account's 8. */
    for (int i = 0; i < 7; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d", i);
        login_limiter_failure(l, "alice", addr, NULL, 500);
    }
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, 500); /* the user's own typo: 8 of 8 */
    int64_t locked = login_limiter_check(l, "alice", "192.0.2.1", NULL, 500);
    login_limiter_success(l, "alice", "192.0.2.1", NULL); /* after the wait */
    login_limiter_failure(l, "alice", "198.51.100.99", NULL, 531);
    int64_t still = login_limiter_check(l, "alice", "192.0.2.1", NULL, 531); /* 9th failure: doubled */
    login_limiter_free(l);
    ASSERT_EQ(locked, 30);
    ASSERT_EQ(still, 60);
}

/* The attack of the device-cookie model: failures against a known username from many addresses lock the
 * account counter, and one failure each time the wait ends keeps it at the 15-minute cap for as long as
 * the attack goes on. Strangers (no device cookie) wait; the browser the user signed in from before
 * (its device id) is not delayed at all, however long the attack lasts. */
TEST(limiter_known_device_skips_the_account_counter)
{
    struct login_limiter *l = login_limiter_new(5, 30);
    ASSERT(l != NULL);
    char addr[32];
    int64_t t = 100000;
    /* 20 failures (the account's 4 x 5) from 8 addresses, each under its pair limit of 5. */
    for (int i = 0; i < 20; i++) {
        snprintf(addr, sizeof(addr), "198.51.100.%d", i % 8);
        login_limiter_failure(l, "alice", addr, NULL, t);
    }
    int64_t stranger = login_limiter_check(l, "alice", "203.0.113.9", NULL, t);
    int64_t known = login_limiter_check(l, "alice", "192.0.2.50", "device-of-alice", t);
    int64_t max_known = 0, min_locked = 900, w = stranger;
    for (int i = 0; i < 40; i++) { /* ten hours of one failure per wait */
        t += w;
        snprintf(addr, sizeof(addr), "198.51.100.%d", 100 + i);
        login_limiter_failure(l, "alice", addr, NULL, t);
        w = login_limiter_check(l, "alice", "203.0.113.9", NULL, t);
        int64_t k = login_limiter_check(l, "alice", "192.0.2.50", "device-of-alice", t);
        max_known = k > max_known ? k : max_known;
        if (i >= 6 && w < min_locked)
            min_locked = w;
    }
    login_limiter_free(l);
    ASSERT_EQ(stranger, 30);
    ASSERT_EQ(known, 0);
    ASSERT_EQ(max_known, 0);
    ASSERT_EQ(min_locked, 900); /* at the cap, and not forgotten when a wait ends */
}

/* A known device has a counter of its own, with the pair's limit; its failures never reach the account
 * counter, and a success clears it. The pair and address counters still apply to it. */
TEST(limiter_device_counter)
{
    struct login_limiter *l = login_limiter_new(3, 30);
    ASSERT(l != NULL);
    /* 3 failures from one device, spread over addresses so that no pair reaches its limit. */
    login_limiter_failure(l, "alice", "192.0.2.1", "dev-1", 1000);
    login_limiter_failure(l, "alice", "192.0.2.2", "dev-1", 1000);
    int64_t before = login_limiter_check(l, "alice", "192.0.2.3", "dev-1", 1000);
    login_limiter_failure(l, "alice", "192.0.2.3", "dev-1", 1000);
    int64_t dev = login_limiter_check(l, "alice", "192.0.2.4", "dev-1", 1000);
    int64_t other_dev = login_limiter_check(l, "alice", "192.0.2.4", "dev-2", 1000);
    int64_t stranger = login_limiter_check(l, "alice", "192.0.2.4", NULL, 1000);
    int64_t other_user = login_limiter_check(l, "bob", "192.0.2.4", "dev-1", 1000); /* id is per username */
    /* Its own doubling. */
    login_limiter_failure(l, "alice", "192.0.2.5", "dev-1", 1030);
    int64_t doubled = login_limiter_check(l, "alice", "192.0.2.6", "dev-1", 1030);
    login_limiter_success(l, "alice", "192.0.2.6", "dev-1");
    int64_t cleared = login_limiter_check(l, "alice", "192.0.2.7", "dev-1", 1030);
    /* The pair counter applies to a known device as well. */
    for (int i = 0; i < 3; i++)
        login_limiter_failure(l, "alice", "192.0.2.8", i == 0 ? "dev-3" : "dev-4", 2000);
    login_limiter_failure(l, "alice", "192.0.2.8", "dev-5", 2000);
    int64_t pair = login_limiter_check(l, "alice", "192.0.2.8", "dev-6", 2000);
    login_limiter_free(l);
    ASSERT_EQ(before, 0);
    ASSERT_EQ(dev, 30);
    ASSERT_EQ(other_dev, 0);
    ASSERT_EQ(stranger, 0);
    ASSERT_EQ(other_user, 0);
    ASSERT_EQ(doubled, 60);
    ASSERT_EQ(cleared, 0);
    ASSERT_EQ(pair, 60);
}

/* The table is bounded: a flood of addresses evicts the oldest entries instead of growing for ever. */
TEST(limiter_bounded_evicts_oldest)
{
    struct login_limiter *l = login_limiter_new(1, 60);
    ASSERT(l != NULL);
    login_limiter_failure(l, "alice", "192.0.2.1", NULL, 1000);
    int64_t locked = login_limiter_check(l, "alice", "192.0.2.1", NULL, 1001);
    char addr[32], name[32];
    /* Each failure makes three entries (pair, address, account): 60000 failures exceed the 100000 cap. */
    for (int i = 0; i < 60000; i++) {
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        snprintf(name, sizeof(name), "x%d", i);
        login_limiter_failure(l, name, addr, NULL, 1001);
    }
    int64_t evicted = login_limiter_check(l, "alice", "192.0.2.1", NULL, 1001);
    snprintf(addr, sizeof(addr), "10.0.234.95"); /* the last one: still there */
    int64_t recent = login_limiter_check(l, "x59999", addr, NULL, 1001);
    login_limiter_free(l);
    ASSERT_EQ(locked, 59);
    ASSERT_EQ(evicted, 0);
    ASSERT_EQ(recent, 60);
}

TEST(limiter_null_and_long_inputs)
{
    struct login_limiter *l = login_limiter_new(1, 10);
    ASSERT(l != NULL);
    char huge[2000];
    memset(huge, 'z', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    login_limiter_failure(l, NULL, NULL, NULL, 10);
    login_limiter_failure(l, huge, huge, NULL, 10);
    int64_t w1 = login_limiter_check(l, NULL, NULL, NULL, 10);
    int64_t w2 = login_limiter_check(l, huge, huge, NULL, 10);
    login_limiter_success(l, NULL, NULL, NULL);
    login_limiter_free(l);
    login_limiter_free(NULL);
    ASSERT_EQ(w1, 10);
    ASSERT_EQ(w2, 10);
}

struct hammer {
    struct login_limiter *l;
    int id;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    char addr[32], name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof(addr), "10.%d.0.%d", h->id, i % 50);
        snprintf(name, sizeof(name), "u%d", i % 7);
        login_limiter_failure(h->l, name, addr, NULL, 1000 + i / 100);
        (void)login_limiter_check(h->l, name, addr, NULL, 1000 + i / 100);
        if (i % 3 == 0)
            login_limiter_success(h->l, name, addr, NULL);
    }
    return NULL;
}

TEST(limiter_threads)
{
    struct login_limiter *l = login_limiter_new(5, 30);
    ASSERT(l != NULL);
    pthread_t th[4];
    struct hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i].l = l;
        h[i].id = i;
        pthread_create(&th[i], NULL, hammer_thread, &h[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    login_limiter_free(l);
}

TESTS(T(users_hash_and_verify), T(users_verify_rejects_unusable_hashes),
      T(users_verify_without_hash_takes_as_long), T(users_authenticate), T(users_rehash_at_login_both_ways),
      T(users_claims_openid_only), T(users_claims_per_scope), T(users_claims_edge_cases), T(users_claims_by_name),
      T(users_claims_supported),
      T(users_apply_config_creates_and_is_idempotent), T(users_apply_config_keeps_hashes_by_digest),
      T(users_apply_config_disable_and_remove),
      T(users_apply_config_errors_leave_nothing), T(limiter_delays_after_max_failures),
      T(limiter_delay_is_capped_and_temporary), T(limiter_success_clears_the_pair), T(limiter_per_address),
      T(limiter_per_account), T(limiter_per_account_capped_and_temporary),
      T(limiter_success_keeps_the_account_counter), T(limiter_known_device_skips_the_account_counter),
      T(limiter_device_counter),
      T(limiter_bounded_evicts_oldest), T(limiter_null_and_long_inputs), T(limiter_threads))
