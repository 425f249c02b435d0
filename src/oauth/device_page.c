/* device_page.c: the verification page of the device authorization grant (RFC 8628 §3.3), at /device. A
 * person enters the code their device shows (prefilled from verification_uri_complete, §3.3.1, but always
 * submitted by them), signs in on the login page unless the browser has a session, sees which application
 * asks for what, and allows or denies; the device's next poll learns the answer (grant_device.c). Every
 * form is CSRF-protected: the code entry by a token drawn from the browser-binding cookie, the decision by
 * its interaction's token (session/session.h). Wrong codes are rate-limited per client address and per
 * browser (§5.1; the arithmetic is in docs/device.md). Nothing needs JavaScript. The rows are device.h's. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "core/arena.h"
#include "core/ipnet.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/authorize.h"
#include "oauth/client.h"
#include "oauth/device.h"
#include "oauth/endpoints.h"
#include "oauth/frontchannel.h"
#include "oauth/scope.h"
#include "oauth/tokens.h"
#include "oauth/user_code.h"
#include "session/limiter.h"
#include "session/session.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

#define MSG_NOT_PENDING "This code was already used or has expired. Start again on your device."
#define MSG_WRONG "That code is not valid or has expired. Check the code your device shows."

/* The code-entry page: `typed` (may be NULL) is shown again, in its shown form when it is a code;
 * `prefilled` when it came from verification_uri_complete. */
static void entry_page(struct http_req *req, int status, const char *typed, bool prefilled, const char *error)
{
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string("Connect a device"));
    json_object_set_new(d, "action", json_string(issuer_url(req, DEVICE_PAGE_PATH)));
    json_object_set_new(d, "csrf", json_string(browser_form_token(req, true)));
    if (typed != NULL) {
        char code[USER_CODE_LEN + 1], shown[USER_CODE_SHOWN_LEN + 1];
        if (user_code_parse(typed, strlen(typed), code) == 0) {
            user_code_format(code, shown);
            typed = shown;
        } else if (strlen(typed) > USER_CODE_INPUT_MAX) {
            typed = arena_strndup(req->arena, typed, USER_CODE_INPUT_MAX);
        }
        json_object_set_new(d, "user_code", json_string(typed));
        json_object_set_new(d, "prefilled", json_boolean(prefilled && error == NULL));
    }
    if (error != NULL)
        json_object_set_new(d, "error", json_string(error));
    page_send(req, status, "device", d);
    json_decref(d);
}

/* The entry page with 503 (and Retry-After) while the database is unreachable, else 500. */
static void entry_store_failed(struct http_req *req, const char *op, int rc, const struct errbuf *err)
{
    struct oauth_error e = oauth_store_failed(req, op, rc, err);
    int status = oauth_err_status(&e);
    oauth_error_record(req, e);
    if (status == 503)
        http_res_header(req, "Retry-After", OAUTH_RETRY_AFTER);
    entry_page(req, status, NULL, false, "This page is unavailable right now. Try again in a moment.");
}

static void done_page(struct http_req *req, const char *client_name, bool approved)
{
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string(approved ? "Device connected" : "Device not connected"));
    json_object_set_new(d, "client_name", json_string(client_name));
    json_object_set_new(d, "approved", json_boolean(approved));
    page_send(req, 200, "device_done", d);
    json_decref(d);
}

/* The two counters a wrong code counts against: the client address and the browser (its binding cookie,
 * which the entry form's CSRF token requires). An IPv6 address counts by its /64, the block one
 * customer gets (RFC 6177): its 2^64 addresses are one guesser's. */
enum { LIM_ADDR, LIM_BROWSER, LIM_COUNT };
static void limiter_keys(struct http_req *req, uint8_t k[LIM_COUNT][LIMITER_KEY_LEN])
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const struct limiter *l = req->worker->app->user_code_limiter;
    const char *who = req->peer;
    uint8_t addr[16];
    char text[IPNET_TEXT_MAX];
    if (ipnet_addr_parse(req->peer, strnlen(req->peer, sizeof(req->peer)), addr) == 0 &&
        memcmp(addr, v4_mapped, sizeof(v4_mapped)) != 0) {
        memset(addr + 8, 0, 8);
        ipnet_addr_format(addr, text, sizeof(text));
        who = text;
    }
    limiter_key(l, 'a', who, IPNET_TEXT_MAX, NULL, 0, k[LIM_ADDR]);
    limiter_key(l, 'b', browser_id(req), 64, NULL, 0, k[LIM_BROWSER]);
}

/* POST of the code entry: CSRF, the limiter, the code, then an interaction for the rest, and on to it. */
static void entry_post(struct http_req *req, const struct form *f)
{
    struct app *app = req->worker->app;
    const char *typed = form_get_dup(req->arena, f, "user_code");
    if (!browser_form_token_ok(req, form_get_dup(req->arena, f, "csrf"))) {
        entry_page(req, 403, typed, false, "The form has expired. Enter the code again.");
        return;
    }
    int64_t now = clock_now();
    uint8_t keys[LIM_COUNT][LIMITER_KEY_LEN];
    limiter_keys(req, keys);
    int64_t wait = limiter_wait(app->user_code_limiter, (const uint8_t(*)[LIMITER_KEY_LEN])keys, LIM_COUNT, now);
    if (wait > 0) {
        log_warn("user_code_throttled", LS("rid", req->rid), LS("peer", req->peer), LI("wait_s", wait), NULL);
        http_res_header(req, "Retry-After", arena_printf(req->arena, "%lld", (long long)wait));
        entry_page(req, 429, typed, false,
                   arena_printf(req->arena, "Too many wrong codes. Try again in %lld seconds.", (long long)wait));
        return;
    }
    char code[USER_CODE_LEN + 1];
    if (typed == NULL || user_code_parse(typed, strlen(typed), code) != 0) {
        /* Not a code at all: nothing was looked up, so nothing is counted. */
        entry_page(req, 400, typed, false, "That is not a code: codes have 8 letters, like BCDF-GHJK.");
        return;
    }
    struct store_token uc, row;
    struct errbuf err;
    uint8_t lookup[STORE_HASH_LEN];
    user_code_lookup_key(app->user_code_key, code, lookup);
    int rc = store_token_get(req->worker->db, req->arena, lookup, &uc, &err);
    bool known = rc == 0 && uc.kind == STORE_TOKEN_USER_CODE && uc.exp > now;
    if (known) {
        json_t *data = json_loads(uc.data != NULL ? uc.data : "", 0, NULL);
        const char *device = arena_strdup(req->arena, json_string_value(json_object_get(data, "device")));
        json_decref(data);
        rc = device != NULL ? device_row_get(req, device, &row, &err) : ERR_NOTFOUND;
        known = rc == 0;
        if (known && device_row_pending(&row, now)) {
            struct interaction ia;
            json_t *v = json_string(device);
            rc = interaction_create(req, row.client_id, "device", v, &ia, &err);
            json_decref(v);
            if (rc != 0) {
                entry_store_failed(req, "interaction_create", rc, &err);
                return;
            }
            req->log_client_id = row.client_id;
            redirect_see_other(req, arena_printf(req->arena, "%s?interaction=%s", issuer_url(req, DEVICE_PAGE_PATH),
                                                 ia.id));
            return;
        }
    }
    if (rc != 0 && rc != ERR_NOTFOUND) {
        entry_store_failed(req, "user_code_get", rc, &err);
        return;
    }
    if (known) { /* the right code, but its device is done with it: no guess to count */
        entry_page(req, 400, typed, false, MSG_NOT_PENDING);
        return;
    }
    const uint32_t max[LIM_COUNT] = {app->cfg->device.max_failures, app->cfg->device.max_failures};
    limiter_fail(app->user_code_limiter, (const uint8_t(*)[LIMITER_KEY_LEN])keys, max, LIM_COUNT, now);
    log_info("user_code_wrong", LS("rid", req->rid), LS("peer", req->peer), LS("tcp_peer", req->tcp_peer), NULL);
    entry_page(req, 400, typed, false, MSG_WRONG);
}

/* The device code of a device interaction, still pending, and its client: 0; else the page said why (and
 * the interaction is over when its device code is), and -1. */
static int load_pending(struct http_req *req, const struct interaction *ia, const char *device,
                        struct store_token *row, struct client *c)
{
    struct errbuf err;
    int rc = device_row_get(req, device, row, &err);
    if (rc != 0 && rc != ERR_NOTFOUND) {
        page_error(req, oauth_store_failed(req, "device_get", rc, &err));
        return -1;
    }
    bool usable = rc == 0 && device_row_pending(row, clock_now());
    if (usable) {
        rc = authz_load_client(req, row->client_id, c);
        if (rc != 0 && rc != ERR_NOTFOUND) {
            page_error(req, oauth_store_error(rc)); /* logged by authz_load_client */
            return -1;
        }
        /* A client deleted, or no longer registered for the grant, meanwhile: its polls are refused anyway. */
        usable = rc == 0 && (c->grant_types & GRANT_DEVICE_CODE);
    }
    if (usable)
        return 0;
    interaction_finish(req, ia, &err);
    entry_page(req, 400, NULL, false, MSG_NOT_PENDING);
    return -1;
}

static const char *client_name(const struct client *c)
{
    return c->client_name != NULL ? c->client_name : c->client_id;
}

static void confirm_page(struct http_req *req, const struct interaction *ia, const struct store_token *row,
                         const struct client *c, const struct session *s)
{
    struct arena *a = req->arena;
    json_t *d = json_object();
    json_object_set_new(d, "title", json_string("Allow the device?"));
    json_object_set_new(d, "action", json_string(issuer_url(req, DEVICE_PAGE_PATH)));
    json_object_set_new(d, "interaction", json_string(ia->id));
    json_object_set_new(d, "csrf", json_string(ia->csrf));
    json_object_set_new(d, "client_id", json_string(c->client_id));
    json_object_set_new(d, "client_name", json_string(client_name(c)));
    json_object_set_new(d, "user", json_string(user_display_name(req->worker->db, a, s->user_id)));
    json_object_set_new(d, "switch_url", json_string(arena_printf(a, "%s?interaction=%s",
                                                                  issuer_url(req, "/interaction/login"), ia->id)));
    struct scope_set want;
    scope_parse(a, row->scope, strlen(row->scope), &want);
    /* The approval is an explicit consent to every scope listed, offline_access included (device.h). */
    page_set_permissions(a, d, &want, row->aud, true);
    page_send(req, 200, "device_confirm", d);
    json_decref(d);
}

/* Allow: the device code is approved for the signed-in user, with everything it asked for, and the
 * interaction ends, in one transaction. The approval stands for an explicit consent, so offline_access
 * counts as consented whatever the client's refresh_token_policy (OIDC Core §11's prompt=consent has no
 * device equivalent). */
static void approve(struct http_req *req, const struct interaction *ia, const struct store_token *row,
                    const struct client *c, const struct session *s)
{
    struct store_conn *db = req->worker->db;
    json_t *d = json_object();
    json_object_set_new(d, "auth_time", json_integer(s->auth_time));
    json_object_set_new(d, "sid", json_string(s->sid));
    if (s->acr != NULL)
        json_object_set_new(d, "acr", json_string(s->acr));
    json_object_set(d, "amr", s->amr != NULL ? s->amr : json_array());
    json_object_set_new(d, "offline", json_boolean(token_scope_has(row->scope, "offline_access")));
    char *text = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    const char *data = arena_strdup(req->arena, text);
    free(text);
    struct errbuf err;
    int rc = store_begin(db, &err);
    if (rc == 0)
        rc = store_token_settle(db, row->hash, STORE_TOKEN_DEVICE, s->user_id, row->scope, data, clock_now(), &err);
    if (rc == 0)
        rc = interaction_finish(req, ia, &err);
    if (rc == 0)
        rc = store_commit(db, &err);
    else
        store_rollback(db);
    if (rc == ERR_CONFLICT || rc == ERR_NOTFOUND) {
        entry_page(req, 400, NULL, false, MSG_NOT_PENDING);
        return;
    }
    if (rc != 0) {
        page_error(req, oauth_store_failed(req, "device_settle", rc, &err));
        return;
    }
    log_info("device_approved", LS("rid", req->rid), LS("client_id", c->client_id), LS("sub", s->user_id),
             LS("grant_id", row->grant_id), NULL);
    done_page(req, client_name(c), true);
}

void device_page_deny(struct http_req *req, const struct interaction *ia, const char *device)
{
    struct store_token row;
    struct errbuf err;
    int rc = device_row_get(req, device, &row, &err);
    if (rc == 0)
        rc = store_token_settle(req->worker->db, row.hash, STORE_TOKEN_DEVICE, NULL, NULL, NULL, clock_now(), &err);
    if (rc != 0 && rc != ERR_NOTFOUND && rc != ERR_CONFLICT) {
        page_error(req, oauth_store_failed(req, "device_settle", rc, &err));
        return;
    }
    interaction_finish(req, ia, &err);
    if (rc == 0)
        log_info("device_denied", LS("rid", req->rid), LS("client_id", row.client_id), NULL);
    struct client c;
    const char *name = ia->client_id;
    if (ia->client_id != NULL && authz_load_client(req, ia->client_id, &c) == 0)
        name = client_name(&c);
    done_page(req, name, false);
}

/* The steps after the code: GET shows the decision (after a sign-in when the browser has no session), POST
 * carries it out. */
static void decision_step(struct http_req *req, const struct form *f, const char *id, bool post)
{
    struct interaction ia;
    struct errbuf err;
    int rc = interaction_load(req, id, &ia, &err);
    const char *device = rc == 0 ? json_string_value(json_object_get(ia.data, "device")) : NULL;
    if (rc != 0 && rc != ERR_NOTFOUND) {
        page_error(req, oauth_store_failed(req, "interaction_load", rc, &err));
        return;
    }
    if (device == NULL) {
        entry_page(req, 400, NULL, false,
                   "This request has expired or was started in another browser. Enter the code again.");
        return;
    }
    req->log_client_id = ia.client_id;
    if (post && !interaction_csrf_ok(&ia, form_get_dup(req->arena, f, "csrf"))) {
        struct oauth_error e = OAUTH_ERROR(INVALID_REQUEST, "the form has expired; go back and try again");
        e.http_status = 403;
        page_error(req, e);
        return;
    }
    struct session s;
    rc = session_load(req, &s, &err);
    if (rc == ERR_NOTFOUND) {
        redirect_see_other(req, arena_printf(req->arena, "%s?interaction=%s", issuer_url(req, "/interaction/login"),
                                             ia.id));
        return;
    }
    if (rc != 0) {
        page_error(req, oauth_store_failed(req, "session_load", rc, &err));
        return;
    }
    struct store_token row;
    struct client c;
    if (load_pending(req, &ia, device, &row, &c) != 0)
        return;
    if (!post) {
        confirm_page(req, &ia, &row, &c, &s);
        return;
    }
    const char *decision = form_get_dup(req->arena, f, "decision");
    if (decision != NULL && strcmp(decision, "allow") == 0)
        approve(req, &ia, &row, &c, &s);
    else
        device_page_deny(req, &ia, device);
}

void oauth_device_page_handle(struct http_req *req)
{
    bool post = str_eq_c(req->method, "POST");
    if (post && !http_req_is_form(req)) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, "the request body must be application/x-www-form-urlencoded"));
        return;
    }
    struct str src = post ? req->body : req->query;
    struct form f;
    int rc = form_parse(req->arena, src.p, src.len, req->worker->app->cfg->limits.max_params, &f);
    if (rc != FORM_OK) {
        page_error(req, OAUTH_ERROR(INVALID_REQUEST, rc == FORM_ERR_TOO_MANY ? "too many parameters"
                                                                              : "malformed or non-UTF-8 parameters"));
        return;
    }
    const char *id = form_get_dup(req->arena, &f, "interaction");
    if (id != NULL)
        decision_step(req, &f, id, post);
    else if (post)
        entry_post(req, &f);
    else
        entry_page(req, 200, form_get_dup(req->arena, &f, "user_code"), true, NULL);
}
