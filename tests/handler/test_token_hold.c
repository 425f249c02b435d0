/* test_token_hold.c: proves the group commit of redemptions (oauth/tokens.c, tokens_hold_redeem): on a
 * server loop whose store groups writes (can_hold), a code or refresh token grant answers at once but only
 * queues its redemption; nothing is consumed or written before app_flush commits the batch, then
 * everything is, and the tokens-issued metric is counted by the commit. Of two presentations of one code
 * in the same batch, the first wins and the second changed nothing and is to be served again
 * (app_held_retry): served again without holding, it is the replay it is (invalid_grant, the grant
 * revoked, the winner's tokens with it). A refresh token's rotation links the successor the same way. Rows
 * queued with tokens_hold_rows (an authorization response's code) are, when the commit fails, served
 * again (their endpoint answers the failure itself), and only those. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/err.h"
#include "core/metrics.h"
#include "core/rand.h"
#include "core/str.h"
#include "oauth/tokens.h"
#include "store/store.h"

static void setup(void);
static void teardown(void);
#define HARNESS_SETUP() setup()
#define HARNESS_TEARDOWN() teardown()

#include "harness_http.h"
#include "harness.h"

static const char *const yaml = "keys:\n"
                                "  algorithms: [ES256]\n"
                                "clients:\n"
                                "  - client_id: web\n"
                                "    client_secret: web-secret\n"
                                "    redirect_uris: ['https://rp.example.com/cb']\n"
                                "    grant_types: [authorization_code, refresh_token]\n"
                                "    refresh_token_policy: always\n"
                                "    scope: openid read\n"
                                "users:\n"
                                "  - username: alice\n"
                                "    password: alice-password-1\n";

static struct hx *h;
static struct arena *ta; /* the test's strings: a request's arena is reset by the next hx_request */
static struct metrics_snapshot *m0, *m1;

static void setup(void)
{
    h = hx_open(yaml);
    ta = arena_new(4096);
    m0 = calloc(1, sizeof(*m0));
    m1 = calloc(1, sizeof(*m1));
}

static void teardown(void)
{
    hx_close(h);
    arena_free(ta);
    free(m0);
    free(m1);
}

/* POST /token as web with `body`, as a server loop runs it (can_hold), under request id rid. */
static struct http_req *post_held(const char *rid, const char *body)
{
    struct http_req *req = hx_request(h, "POST", "/token");
    hx_basic(req, "web", "web-secret");
    hx_form(req, body);
    req->can_hold = true;
    snprintf(req->rid, sizeof(req->rid), "%s", rid);
    hx_run(req);
    return req;
}

/* The row of a token value, or NULL (ERR_NOTFOUND); test arena memory. */
static struct store_token *row_of(const char *value)
{
    uint8_t key[STORE_HASH_LEN];
    store_hash(value, strlen(value), key);
    struct store_token *t = arena_alloc(ta, sizeof(*t));
    struct errbuf err;
    return store_token_get(h->worker.db, ta, key, t, &err) == 0 ? t : NULL;
}

/* Whether the held request rid lost its redemption at the last flush (what the server asks). */
static bool retried(const char *rid)
{
    struct http_req r;
    memset(&r, 0, sizeof(r));
    snprintf(r.rid, sizeof(r.rid), "%s", rid);
    return app_held_retry(&h->worker, &r);
}

static uint64_t issued(enum metrics_grant g, unsigned kind)
{
    return m1->tokens[g][kind] - m0->tokens[g][kind];
}

TEST(hold_code_redemption_until_flush)
{
    const char *code = hx_put_code(h, ta, "web", "alice", "openid read");
    ASSERT(code != NULL);
    metrics_snapshot(m0);
    struct http_req *req = post_held("r1", hx_code_body(ta, code));
    ASSERT_EQ(req->res.status, 200);
    ASSERT(req->held);
    const char *at = arena_strdup(ta, hx_json_str(req, "access_token"));
    const char *rt = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    ASSERT(hx_json_str(req, "id_token") != NULL);
    /* Queued only: the code unused, no new row, nothing counted. */
    ASSERT_EQ(row_of(code)->consumed_at, 0);
    ASSERT(row_of(at) == NULL);
    ASSERT(row_of(rt) == NULL);
    metrics_snapshot(m1);
    ASSERT_EQ(issued(METRICS_GRANT_AUTHORIZATION_CODE, METRICS_TOKEN_REFRESH), 0);

    ASSERT_EQ(app_flush(&h->worker), 0);
    ASSERT(!retried("r1"));
    ASSERT(row_of(code)->consumed_at != 0);
    ASSERT(row_of(at) != NULL);
    struct store_token *r = row_of(rt);
    ASSERT(r != NULL);
    ASSERT_EQ(r->kind, STORE_TOKEN_REFRESH);
    ASSERT_STREQ(r->client_id, "web");
    metrics_snapshot(m1);
    ASSERT_EQ(issued(METRICS_GRANT_AUTHORIZATION_CODE, METRICS_TOKEN_ACCESS_OPAQUE), 1);
    ASSERT_EQ(issued(METRICS_GRANT_AUTHORIZATION_CODE, METRICS_TOKEN_REFRESH), 1);
    ASSERT_EQ(issued(METRICS_GRANT_AUTHORIZATION_CODE, METRICS_TOKEN_ID), 1);
}

TEST(hold_two_presentations_in_one_batch)
{
    const char *code = hx_put_code(h, ta, "web", "alice", "openid read");
    ASSERT(code != NULL);
    const char *body = hx_code_body(ta, code);
    struct http_req *req = post_held("first", body);
    ASSERT_EQ(req->res.status, 200);
    ASSERT(req->held);
    const char *rt1 = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    req = post_held("second", body);
    ASSERT_EQ(req->res.status, 200); /* the read said unused: it answers as if it had won */
    ASSERT(req->held);
    const char *rt2 = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    metrics_snapshot(m0);
    ASSERT_EQ(app_flush(&h->worker), 0);
    metrics_snapshot(m1);
    ASSERT(!retried("first"));
    ASSERT(retried("second"));
    ASSERT_EQ(issued(METRICS_GRANT_AUTHORIZATION_CODE, METRICS_TOKEN_REFRESH), 1); /* the winner's only */
    struct store_token *won = row_of(rt1);
    ASSERT(won != NULL);
    ASSERT_EQ(won->revoked_at, 0);
    ASSERT(row_of(rt2) == NULL); /* the loser wrote nothing */

    /* Served again without holding (as the server does): a replay, which revokes the grant. */
    req = hx_request(h, "POST", "/token");
    hx_basic(req, "web", "web-secret");
    hx_form(req, body);
    hx_run(req);
    ASSERT(!req->held);
    ASSERT_OAUTH_ERROR(req, 400, "invalid_grant");
    ASSERT(row_of(rt1)->revoked_at != 0);
}

TEST(hold_refresh_rotation)
{
    const char *code = hx_put_code(h, ta, "web", "alice", "openid read");
    ASSERT(code != NULL);
    struct http_req *req = post_held("c", hx_code_body(ta, code));
    ASSERT_EQ(req->res.status, 200);
    const char *rt = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    ASSERT_EQ(app_flush(&h->worker), 0);

    metrics_snapshot(m0);
    req = post_held("rot", arena_printf(ta, "grant_type=refresh_token&refresh_token=%s", rt));
    ASSERT_EQ(req->res.status, 200);
    ASSERT(req->held);
    const char *next = arena_strdup(ta, hx_json_str(req, "refresh_token"));
    ASSERT(strcmp(next, rt) != 0);
    ASSERT_EQ(row_of(rt)->consumed_at, 0);
    ASSERT(row_of(next) == NULL);
    ASSERT_EQ(app_flush(&h->worker), 0);
    metrics_snapshot(m1);
    ASSERT(!retried("rot"));
    struct store_token *old = row_of(rt);
    ASSERT(old->consumed_at != 0);
    ASSERT(old->has_successor);
    struct store_token *n = row_of(next);
    ASSERT(n != NULL);
    ASSERT(memcmp(old->successor, n->hash, STORE_HASH_LEN) == 0);
    ASSERT_EQ(issued(METRICS_GRANT_REFRESH_TOKEN, METRICS_TOKEN_REFRESH), 1);
}

/* A new opaque access token row of web, for the batch; test arena memory. */
static struct store_token *a_row(void)
{
    struct store_token *t = arena_alloc(ta, sizeof(*t));
    memset(t, 0, sizeof(*t));
    const char *v = rand_token(ta, 32);
    store_hash(v, strlen(v), t->hash);
    t->kind = STORE_TOKEN_ACCESS;
    t->client_id = "web";
    t->scope = "read";
    t->iat = clock_now();
    t->exp = clock_now() + 60;
    return t;
}

TEST(hold_rows_failed_flush_serves_again)
{
    struct errbuf err;
    struct store_token *dup = a_row();
    ASSERT_EQ(store_token_put(h->worker.db, dup, &err), 0);

    /* Queued: an authorization response's rows (own), beside a redemption (answered by held_failed). */
    const char *code = hx_put_code(h, ta, "web", "alice", "openid read");
    ASSERT(code != NULL);
    struct http_req *req = post_held("redeem", hx_code_body(ta, code));
    ASSERT(req->held);
    req = hx_request(h, "GET", "/auth");
    req->can_hold = true;
    snprintf(req->rid, sizeof(req->rid), "own");
    ASSERT(tokens_hold_rows(req, dup, 1)); /* a row that exists already: the commit fails */
    ASSERT(req->held);
    ASSERT(app_flush(&h->worker) != 0);
    ASSERT(retried("own"));
    ASSERT(!retried("redeem"));
    ASSERT_EQ(row_of(code)->consumed_at, 0); /* nothing of the batch was written */

    /* The next batch commits: nothing to serve again, old or new. */
    req = hx_request(h, "GET", "/auth");
    req->can_hold = true;
    snprintf(req->rid, sizeof(req->rid), "own2");
    struct store_token *fresh = a_row();
    ASSERT(tokens_hold_rows(req, fresh, 1));
    ASSERT_EQ(app_flush(&h->worker), 0);
    ASSERT(!retried("own2"));
    ASSERT(!retried("own"));
    struct store_token got;
    ASSERT_EQ(store_token_get(h->worker.db, ta, fresh->hash, &got, &err), 0);

    /* Without can_hold nothing is queued. */
    req = hx_request(h, "GET", "/auth");
    ASSERT(!tokens_hold_rows(req, a_row(), 1));
    ASSERT(!req->held);
}

TESTS(T(hold_code_redemption_until_flush), T(hold_two_presentations_in_one_batch), T(hold_refresh_rotation),
      T(hold_rows_failed_flush_serves_again))
