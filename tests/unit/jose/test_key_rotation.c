/* test_key_rotation.c: proves the automatic key rotation of src/jose/keystore.c: the plan
 * (keystore_rotation_plan, a pure function of the stored rows and the time) case by case, then
 * keystore_auto_rotate on a real SQLite store with the clock pinned: a rotation cycle (announced ahead,
 * signs from its time, the old key published until its tokens expired), and several instances sharing one
 * store that all find the rotation due at the same moment, of which exactly one rotates. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "jose/jose.h"
#include "store/store.h"

#include "harness.h"

#include "core/banned.h"

#define T0 1700000000
#define SECRET "a key secret for the rotation tests, 32+"

static struct store_key row(const char *kid, const char *alg, int64_t sign_from, int64_t retired_at,
                            int64_t unpublish_at)
{
    return (struct store_key){.kid = kid,
                              .alg = alg,
                              .created_at = sign_from,
                              .sign_from = sign_from,
                              .retired_at = retired_at,
                              .unpublish_at = unpublish_at};
}

TEST(rotation_plan_cases)
{
    int64_t from = -1;
    struct store_key one[] = {row("a", "ES256", T0, 0, 0)};
    /* Off, or no key of the alg: nothing to do (keystore_open makes the first key). */
    ASSERT_EQ(keystore_rotation_plan(one, 1, "ES256", T0 + 1000, 0, 10, &from), KEY_ROTATION_OFF);
    ASSERT_EQ(keystore_rotation_plan(one, 1, "RS256", T0 + 1000, 100, 10, &from), KEY_ROTATION_NO_KEY);
    ASSERT_EQ(keystore_rotation_plan(NULL, 0, "ES256", T0, 100, 10, &from), KEY_ROTATION_NO_KEY);
    /* Due `ahead` seconds before the period ends; the new key signs when it ends. */
    ASSERT_EQ(keystore_rotation_plan(one, 1, "ES256", T0 + 89, 100, 10, &from), KEY_ROTATION_NOT_DUE);
    ASSERT_EQ(from, -1);
    ASSERT_EQ(keystore_rotation_plan(one, 1, "ES256", T0 + 90, 100, 10, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 100);
    /* Late (no server ran at the due time): still announced `ahead` before it signs. */
    ASSERT_EQ(keystore_rotation_plan(one, 1, "ES256", T0 + 500, 100, 10, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 510);
    /* ahead 0: signs as soon as it is made. */
    ASSERT_EQ(keystore_rotation_plan(one, 1, "ES256", T0 + 100, 100, 0, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 100);

    /* After a rotation: the old key is retired, the new one (next, not signing yet) is the head, and the
     * next rotation counts from its sign_from. */
    struct store_key two[] = {row("a", "ES256", T0, T0 + 100, T0 + 700), row("b", "ES256", T0 + 100, 0, 0)};
    ASSERT_EQ(keystore_rotation_plan(two, 2, "ES256", T0 + 95, 100, 10, &from), KEY_ROTATION_NOT_DUE);
    ASSERT_EQ(keystore_rotation_plan(two, 2, "ES256", T0 + 189, 100, 10, &from), KEY_ROTATION_NOT_DUE);
    ASSERT_EQ(keystore_rotation_plan(two, 2, "ES256", T0 + 190, 100, 10, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 200);

    /* Keys of other algs, unpublished keys and retired keys are never the head. */
    struct store_key mixed[] = {
        row("r", "RS256", T0 + 300, 0, 0),
        row("old", "ES256", T0 + 250, T0 + 260, T0 + 280), /* unpublished at T0 + 290 */
        row("b", "ES256", T0 + 100, 0, 0),
    };
    ASSERT_EQ(keystore_rotation_plan(mixed, 3, "ES256", T0 + 190, 100, 10, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 200);
    ASSERT_EQ(keystore_rotation_plan(mixed, 3, "RS256", T0 + 190, 100, 10, &from), KEY_ROTATION_NOT_DUE);
    /* Two heads (a manual rotation without retiring, say): the newest counts. */
    struct store_key heads[] = {row("x", "EdDSA", T0, 0, 0), row("y", "EdDSA", T0 + 50, 0, 0)};
    ASSERT_EQ(keystore_rotation_plan(heads, 2, "EdDSA", T0 + 120, 100, 10, &from), KEY_ROTATION_NOT_DUE);
    ASSERT_EQ(keystore_rotation_plan(heads, 2, "EdDSA", T0 + 140, 100, 10, &from), KEY_ROTATION_DUE);
    ASSERT_EQ(from, T0 + 150);
}

TEST(rotation_plan_bounds_published_keys)
{
    /* A period far shorter than the token lifetimes keeps retired keys published: past the cap, no more. */
    static struct store_key many[KEY_ROTATION_PUBLISHED_MAX];
    static char kids[KEY_ROTATION_PUBLISHED_MAX][16];
    for (int i = 0; i < KEY_ROTATION_PUBLISHED_MAX; i++) {
        snprintf(kids[i], sizeof(kids[i]), "k%d", i);
        bool last = i == KEY_ROTATION_PUBLISHED_MAX - 1;
        many[i] = row(kids[i], "ES256", T0 + i, last ? 0 : T0 + i + 1, last ? 0 : T0 + 100000);
    }
    int64_t from = 0;
    int64_t now = T0 + KEY_ROTATION_PUBLISHED_MAX + 100;
    ASSERT_EQ(keystore_rotation_plan(many, KEY_ROTATION_PUBLISHED_MAX, "ES256", now, 10, 1, &from),
              KEY_ROTATION_TOO_MANY_KEYS);
    ASSERT_EQ(keystore_rotation_plan(many, KEY_ROTATION_PUBLISHED_MAX - 1, "ES256", now, 10, 1, &from),
              KEY_ROTATION_NO_KEY);
    ASSERT_EQ(keystore_rotation_plan(many + 1, KEY_ROTATION_PUBLISHED_MAX - 1, "ES256", now, 10, 1, &from),
              KEY_ROTATION_DUE);
}

/* ---- on a real store ---- */

struct fx {
    char dir[64];
    char dsn[128];
};

static int fx_open(struct fx *f, struct store **st)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/ostiary-rot-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->dsn, sizeof(f->dsn), "sqlite:%s/ostiary.db", f->dir);
    struct errbuf err = {{0}};
    int applied = 0;
    if (store_open(f->dsn, st, &err) != 0 || store_migrate(*st, &applied, &err) != 0) {
        fprintf(stderr, "  store: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void fx_close(struct fx *f)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", ".store-id", ".store-id.tmp"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char p[192];
        snprintf(p, sizeof(p), "%s/ostiary.db%s", f->dir, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
}

/* The kid that signs an ES256 token now (from the protected header). */
static const char *signing_kid(struct keystore *ks, struct arena *a)
{
    struct errbuf err = {{0}};
    const char *jws = jws_sign(ks, a, "ES256", "JWT", "{}", 2, &err);
    if (jws == NULL)
        return NULL;
    unsigned char *hdr = NULL;
    size_t hdr_len = 0;
    if (b64url_decode(a, jws, strcspn(jws, "."), &hdr, &hdr_len) != 0)
        return NULL;
    json_t *h = json_loadb((const char *)hdr, hdr_len, 0, NULL);
    const char *kid = json_string_value(json_object_get(h, "kid"));
    kid = kid != NULL ? arena_strdup(a, kid) : NULL;
    json_decref(h);
    return kid;
}

static bool jwks_has(struct keystore *ks, struct arena *a, const char *kid)
{
    const char *jwks = keystore_jwks(ks, a, NULL);
    return kid != NULL && strstr(jwks, kid) != NULL;
}

TEST(auto_rotation_cycle)
{
    struct fx f;
    struct store *st = NULL;
    ASSERT_EQ(fx_open(&f, &st), 0);
    struct store_conn *db = NULL;
    struct errbuf err = {{0}};
    ASSERT_EQ(store_conn_open(st, &db, &err), 0);
    struct arena *a = arena_new(16384);
    const char *algs[] = {"ES256"};
    clock_set_fixed(T0);
    struct keystore *ks = NULL;
    ASSERT_EQ(keystore_open(db, SECRET, algs, 1, true, &ks, &err), 0);
    const char *first = signing_kid(ks, a);
    ASSERT(first != NULL);

    /* Period 1000 s, announced 100 s ahead, tokens live 300 s. */
    size_t made = 9;
    bool pending = true;
    ASSERT_EQ(keystore_rotation_pending(db, algs, 1, T0 + 899, 1000, 100, &pending, &err), 0);
    ASSERT(!pending);
    ASSERT_EQ(keystore_auto_rotate(ks, db, algs, 1, T0 + 899, 1000, 100, 300, &made, &err), 0);
    ASSERT_EQ(made, 0);
    clock_set_fixed(T0 + 900);
    ASSERT_EQ(keystore_rotation_pending(db, algs, 1, T0 + 900, 1000, 100, &pending, &err), 0);
    ASSERT(pending);
    ASSERT_EQ(keystore_auto_rotate(ks, db, algs, 1, T0 + 900, 1000, 100, 300, &made, &err), 0);
    ASSERT_EQ(made, 1);
    ASSERT_EQ(keystore_reload(ks, db, &err), 0);
    /* Done: not due again, even with a second call at the same time. */
    ASSERT_EQ(keystore_auto_rotate(ks, db, algs, 1, T0 + 900, 1000, 100, 300, &made, &err), 0);
    ASSERT_EQ(made, 0);

    struct keystore_info *info = NULL;
    size_t n = 0;
    ASSERT_EQ(keystore_list(db, a, T0 + 900, &info, &n, &err), 0);
    ASSERT_EQ(n, 2);
    ASSERT_STREQ(info[0].kid, first);
    ASSERT_STREQ(info[0].state, "current");
    ASSERT_EQ(info[0].retired_at, T0 + 1000);
    ASSERT_EQ(info[0].unpublish_at, T0 + 1300);
    const char *second = info[1].kid;
    ASSERT_STREQ(info[1].state, "next");
    ASSERT_EQ(info[1].sign_from, T0 + 1000);
    /* Announced: in the JWKS, not signing yet. */
    ASSERT(jwks_has(ks, a, second));
    ASSERT_STREQ(signing_kid(ks, a), first);

    /* From sign_from the new key signs; the old one is published until its last token expired. */
    clock_set_fixed(T0 + 1000);
    ASSERT_STREQ(signing_kid(ks, a), second);
    ASSERT(jwks_has(ks, a, first));
    clock_set_fixed(T0 + 1299);
    ASSERT(jwks_has(ks, a, first));
    clock_set_fixed(T0 + 1300);
    ASSERT(!jwks_has(ks, a, first));
    ASSERT(jwks_has(ks, a, second));

    /* The next one is due a period after the second's sign_from, announced ahead again. */
    ASSERT_EQ(keystore_auto_rotate(ks, db, algs, 1, T0 + 1899, 1000, 100, 300, &made, &err), 0);
    ASSERT_EQ(made, 0);
    ASSERT_EQ(keystore_auto_rotate(ks, db, algs, 1, T0 + 1900, 1000, 100, 300, &made, &err), 0);
    ASSERT_EQ(made, 1);

    clock_set_fixed(0);
    keystore_free(ks);
    arena_free(a);
    store_conn_close(db);
    store_close(st);
    fx_close(&f);
}

/* ---- several instances, one store ---- */

#define INSTANCES 4

struct instance {
    struct store *st; /* its own store handle, as another process would have */
    struct store_conn *db;
    struct keystore *ks;
    pthread_barrier_t *start;
    size_t made;
    int rc;
};

static void *instance_rotate(void *p)
{
    struct instance *in = p;
    const char *algs[] = {"ES256", "EdDSA"};
    struct errbuf err = {{0}};
    pthread_barrier_wait(in->start);
    in->rc = keystore_auto_rotate(in->ks, in->db, algs, 2, T0 + 5000, 1000, 100, 300, &in->made, &err);
    if (in->rc != 0)
        fprintf(stderr, "  instance: %s\n", err.msg);
    return NULL;
}

TEST(auto_rotation_exactly_one_instance)
{
    struct fx f;
    struct store *first = NULL;
    ASSERT_EQ(fx_open(&f, &first), 0);
    const char *algs[] = {"ES256", "EdDSA"};
    clock_set_fixed(T0);
    struct instance in[INSTANCES];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, INSTANCES);
    struct errbuf err = {{0}};
    for (int i = 0; i < INSTANCES; i++) {
        memset(&in[i], 0, sizeof(in[i]));
        if (i == 0)
            in[i].st = first;
        else
            ASSERT_EQ(store_open(f.dsn, &in[i].st, &err), 0);
        ASSERT_EQ(store_conn_open(in[i].st, &in[i].db, &err), 0);
        ASSERT_EQ(keystore_open(in[i].db, SECRET, algs, 2, true, &in[i].ks, &err), 0);
        in[i].start = &start;
    }
    /* Every instance finds both algs overdue at the same moment. */
    pthread_t t[INSTANCES];
    for (int i = 0; i < INSTANCES; i++)
        pthread_create(&t[i], NULL, instance_rotate, &in[i]);
    size_t total = 0, rotating = 0;
    for (int i = 0; i < INSTANCES; i++) {
        pthread_join(t[i], NULL);
        ASSERT_EQ(in[i].rc, 0);
        total += in[i].made;
        rotating += in[i].made > 0;
    }
    ASSERT_EQ(total, 2);
    ASSERT_EQ(rotating, 1);
    /* Two keys per alg: the first and its one successor. */
    struct arena *a = arena_new(16384);
    struct keystore_info *info = NULL;
    size_t n = 0;
    ASSERT_EQ(keystore_list(in[0].db, a, T0 + 5000, &info, &n, &err), 0);
    ASSERT_EQ(n, 4);
    for (int i = 0; i < INSTANCES; i++) {
        /* The others pick it up at their next reload. */
        ASSERT_EQ(keystore_reload(in[i].ks, in[i].db, &err), 0);
        for (size_t k = 0; k < n; k++)
            ASSERT(jwks_has(in[i].ks, a, info[k].kid));
        keystore_free(in[i].ks);
        store_conn_close(in[i].db);
        store_close(in[i].st);
    }
    pthread_barrier_destroy(&start);
    clock_set_fixed(0);
    arena_free(a);
    fx_close(&f);
}

TESTS(T(rotation_plan_cases), T(rotation_plan_bounds_published_keys), T(auto_rotation_cycle),
      T(auto_rotation_exactly_one_instance))
