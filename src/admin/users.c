/* users.c: the admin API's end users (OIDC Core §5.1 claims): list with paging, create, show, update,
 * disable (update with "disabled": true), delete, set the password; and what hangs off a user: consents
 * (list, revoke), login sessions (list, revoke all) and grants (revoke). Usernames, ids and claims go through
 * the rules of the configuration file and `ostiary user` (session/user_check.c, the claims table of
 * core/claims.h) with the same messages. Passwords are hashed with argon2id (these routes run off the event
 * loop) and never echoed or logged. Disabling, deleting or a new password logs the user out everywhere.
 * Users declared in the configuration file are read-only here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin/admin_internal.h"
#include "app.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/rand.h"
#include "core/str.h"
#include "session/session.h"
#include "session/user_check.h"
#include "session/users.h"
#include "store/store.h"
#include "core/banned.h"

#define SESSIONS_MAX 1000 /* listed per user */

static bool declared_in_file(const struct config *cfg, const char *username)
{
    for (unsigned i = 0; i < cfg->n_users; i++)
        if (cfg->users[i].username != NULL && strcmp(cfg->users[i].username, username) == 0)
            return true;
    return false;
}

/* The user the path names (by id), or false (404 or 500 sent). */
static bool load(struct admin_call *c, struct store_user *u)
{
    struct errbuf err = {{0}};
    int rc = store_user_get(c->db, c->a, c->param[0], u, &err);
    if (rc == ERR_NOTFOUND)
        admin_not_found(c, "user with id", c->param[0]);
    else if (rc != 0)
        admin_store_failed(c, "user_get", &err);
    return rc == 0;
}

static bool load_writable(struct admin_call *c, struct store_user *u)
{
    if (!load(c, u))
        return false;
    if (u->from_config || declared_in_file(c->app->cfg, u->username)) {
        admin_refuse_declared(c, "user", u->username);
        return false;
    }
    return true;
}

/* 400 invalid-user naming `field` (a claim as "claims.<name>"). */
static void problem_at(struct admin_call *c, const char *field, const char *reason)
{
    json_t *o =
        admin_problem_new(400, ADMIN_PROBLEM_INVALID_USER, arena_printf(c->a, "%s: %s", field, reason));
    json_object_set_new(o, "field", json_string(field));
    admin_problem_send(c, 400, o);
}

/* A claim set through user_claim_set (the table's rules), its problem named under "claims.". */
static bool set_claim(struct admin_call *c, json_t *claims, const char *key, const char *value)
{
    struct user_problem p;
    if (user_claim_set(claims, key, value, &p) == 0)
        return true;
    problem_at(c, arena_printf(c->a, "claims.%s", strcmp(p.field, "claims") == 0 ? key : p.field), p.reason);
    return false;
}

/* Applies a claims object onto claims (RFC 7396: null removes a claim or an address part; the address is
 * merged part by part). Strings for text claims, booleans for boolean ones; "" removes, as in `ostiary
 * user`. False when a claim is refused (400 sent). */
static bool apply_claims(struct admin_call *c, json_t *claims, json_t *patch)
{
    char field[96];
    if (!json_is_object(patch)) {
        problem_at(c, "claims", "must be an object");
        return false;
    }
    const char *key;
    json_t *v;
    json_object_foreach (patch, key, v) {
        if (strcmp(key, "address") == 0 && !json_is_null(v)) {
            const char *part;
            json_t *pv;
            if (!json_is_object(v)) {
                problem_at(c, "claims.address", "must be an object of address parts");
                return false;
            }
            json_object_foreach (v, part, pv) {
                snprintf(field, sizeof(field), "address.%s", part);
                if (!json_is_null(pv) && !json_is_string(pv)) {
                    snprintf(field, sizeof(field), "claims.address.%s", part);
                    problem_at(c, field, "must be a string");
                    return false;
                }
                if (!set_claim(c, claims, field, json_is_null(pv) ? "" : json_string_value(pv)))
                    return false;
            }
            continue;
        }
        if (strcmp(key, "address") == 0) {
            json_object_del(claims, "address");
            continue;
        }
        const struct oidc_claim *oc = oidc_claim_find(key);
        bool boolean = oc != NULL && oc->kind == CLAIM_BOOL;
        if (json_is_null(v)) {
            if (!set_claim(c, claims, key, ""))
                return false;
        } else if (boolean ? !json_is_boolean(v) : !json_is_string(v)) {
            snprintf(field, sizeof(field), "claims.%s", key);
            problem_at(c, field, boolean ? "must be a boolean" : "must be a string");
            return false;
        } else if (!set_claim(c, claims, key,
                              boolean ? (json_is_true(v) ? "true" : "false") : json_string_value(v))) {
            return false;
        }
    }
    return true;
}

static char *claims_text(struct admin_call *c, json_t *claims)
{
    char *s = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    if (s == NULL)
        abort();
    char *out = arena_strdup(c->a, s);
    free(s);
    return out;
}

/* The argon2id hash of the body's `password` (a string of 1 to USER_PASSWORD_MAX bytes), in the arena;
 * NULL and a 400 when it is not one. The clear password is never copied. */
static const char *password_hash(struct admin_call *c, json_t *pw)
{
    size_t n = json_is_string(pw) ? json_string_length(pw) : 0;
    if (!json_is_string(pw) || n == 0 || n > USER_PASSWORD_MAX || memchr(json_string_value(pw), '\0', n)) {
        problem_at(c, "password", arena_printf(c->a, "must be a string of 1 to %u bytes", USER_PASSWORD_MAX));
        return NULL;
    }
    char *h = user_password_hash(json_string_value(pw), n);
    if (h == NULL) {
        admin_problem(c, 500, NULL, "hashing the password failed");
        return NULL;
    }
    const char *out = arena_strdup(c->a, h);
    free(h);
    return out;
}

static bool name_ok(struct admin_call *c, const char *field, json_t *v)
{
    struct user_problem p;
    if (!json_is_string(v)) {
        problem_at(c, field, "must be a string");
        return false;
    }
    if (user_name_check(field, json_string_value(v), &p) != 0) {
        problem_at(c, p.field, p.reason);
        return false;
    }
    return true;
}

static void conflict_username(struct admin_call *c, const char *username)
{
    char buf[STR_SHOWN_SIZE];
    admin_problem(c, 409, ADMIN_PROBLEM_CONFLICT,
                  arena_printf(c->a, "username: a user '%s' already exists", str_shown(username, buf)));
}

void admin_users_list(struct admin_call *c)
{
    size_t limit;
    const char *after;
    struct str want = STR_NULL;
    if (!admin_page(c, "username", &limit, &after))
        return;
    if (form_get(&c->query, "username", &want) < 0) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST, "username: at most once");
        return;
    }
    struct errbuf err = {{0}};
    struct store_user *v = NULL;
    size_t n = 0;
    if (store_user_list(c->db, c->a, &v, &n, &err) != 0) {
        admin_store_failed(c, "user_list", &err);
        return;
    }
    /* The store lists by username: a page is what follows the cursor. */
    json_t *items = json_array();
    const char *last = NULL, *next = NULL;
    for (size_t i = 0; i < n && next == NULL; i++) {
        if ((after != NULL && strcmp(v[i].username, after) <= 0) ||
            (!str_is_null(want) && strcmp(v[i].username, want.p) != 0))
            continue;
        if (json_array_size(items) == limit) {
            next = last;
            break;
        }
        json_array_append_new(items, user_to_json(&v[i], NULL));
        last = v[i].username;
    }
    json_t *o = json_object();
    json_object_set_new(o, "users", items);
    json_object_set_new(o, "next", next != NULL ? json_string(next) : json_null());
    admin_json(c, 200, o);
}

void admin_users_create(struct admin_call *c)
{
    static const char *const allowed[] = {"username", "id", "password", "disabled", "claims", NULL};
    if (!admin_body_only(c, allowed))
        return;
    json_t *b = c->body;
    json_t *disabled = json_object_get(b, "disabled");
    if (!name_ok(c, "username", json_object_get(b, "username")))
        return;
    if (json_object_get(b, "id") != NULL && !name_ok(c, "id", json_object_get(b, "id")))
        return;
    if (disabled != NULL && !json_is_boolean(disabled)) {
        problem_at(c, "disabled", "must be a boolean");
        return;
    }
    const char *username = json_string_value(json_object_get(b, "username"));
    if (declared_in_file(c->app->cfg, username)) {
        admin_refuse_declared(c, "user", username);
        return;
    }
    json_t *claims = json_object();
    arena_defer(c->a, (void (*)(void *))json_decref, claims);
    json_t *patch = json_object_get(b, "claims");
    if (patch != NULL && !apply_claims(c, claims, patch))
        return;
    const char *hash = NULL;
    if (json_object_get(b, "password") != NULL &&
        (hash = password_hash(c, json_object_get(b, "password"))) == NULL)
        return;
    int64_t now = clock_now();
    const char *id = json_string_value(json_object_get(b, "id"));
    struct store_user u = {
        /* A random sub, never derived from the username (OIDC Core §5.7: sub is never reassigned). */
        .id = id != NULL ? id : rand_token(c->a, 16),
        .username = username,
        .password_hash = hash,
        .claims = claims_text(c, claims),
        .disabled = json_is_true(disabled),
        .created_at = now,
        .updated_at = now,
    };
    struct errbuf err = {{0}};
    struct store_user existing;
    int rc = store_begin(c->db, &err);
    const char *clash = NULL;
    if (rc == 0) {
        rc = store_user_get(c->db, c->a, u.id, &existing, &err);
        if (rc == 0) {
            clash = "id";
            rc = ERR_CONFLICT;
        } else if (rc == ERR_NOTFOUND) {
            rc = store_user_put(c->db, &u, &err);
        }
        if (rc == 0)
            rc = store_commit(c->db, &err);
        else
            store_rollback(c->db);
    }
    if (rc == ERR_CONFLICT && clash != NULL) {
        char buf[STR_SHOWN_SIZE];
        admin_problem(c, 409, ADMIN_PROBLEM_CONFLICT,
                      arena_printf(c->a, "id: a user with id '%s' already exists", str_shown(u.id, buf)));
        return;
    }
    if (rc == ERR_CONFLICT) {
        conflict_username(c, u.username);
        return;
    }
    if (rc != 0) {
        admin_store_failed(c, "user_create", &err);
        return;
    }
    admin_audit(c, "user.create", u.id);
    struct strbuf loc;
    strbuf_init(&loc, c->a, 4096);
    strbuf_adds(&loc, "/admin/users/");
    strbuf_add_urlenc(&loc, u.id, strlen(u.id));
    http_res_header(c->req, "Location", strbuf_str(&loc));
    admin_json(c, 201, user_to_json(&u, NULL));
}

void admin_users_show(struct admin_call *c)
{
    struct store_user u;
    if (load(c, &u))
        admin_json(c, 200, user_to_json(&u, NULL));
}

/* Writes u, logging it out everywhere in the same transaction when `logout`. */
static int put_user(struct admin_call *c, const struct store_user *u, bool logout, struct errbuf *err)
{
    int rc = store_begin(c->db, err);
    if (rc != 0)
        return rc;
    rc = store_user_put(c->db, u, err);
    if (rc == 0 && logout)
        rc = user_logout_everywhere(c->db, u->id, clock_now(), err);
    if (rc == 0)
        return store_commit(c->db, err);
    store_rollback(c->db);
    return rc;
}

void admin_users_update(struct admin_call *c)
{
    static const char *const allowed[] = {"username", "disabled", "claims", NULL};
    if (json_object_get(c->body, "password") != NULL) {
        admin_problem(c, 400, ADMIN_PROBLEM_INVALID_REQUEST,
                      "password: set it with PUT /admin/users/{id}/password");
        return;
    }
    if (!admin_body_only(c, allowed))
        return;
    struct store_user u;
    if (!load_writable(c, &u))
        return;
    json_t *b = c->body;
    json_t *username = json_object_get(b, "username");
    json_t *disabled = json_object_get(b, "disabled");
    if (username != NULL && !name_ok(c, "username", username))
        return;
    if (disabled != NULL && !json_is_boolean(disabled)) {
        problem_at(c, "disabled", "must be a boolean");
        return;
    }
    if (username != NULL && declared_in_file(c->app->cfg, json_string_value(username))) {
        admin_refuse_declared(c, "user", json_string_value(username));
        return;
    }
    json_t *claims = user_claims_json(&u, NULL);
    arena_defer(c->a, (void (*)(void *))json_decref, claims);
    json_t *patch = json_object_get(b, "claims");
    if (patch != NULL && !json_is_null(patch) && !apply_claims(c, claims, patch))
        return;
    bool was_disabled = u.disabled;
    if (username != NULL)
        u.username = json_string_value(username);
    if (disabled != NULL)
        u.disabled = json_is_true(disabled);
    u.claims = claims_text(c, claims);
    u.updated_at = clock_now();
    struct errbuf err = {{0}};
    int rc = put_user(c, &u, u.disabled && !was_disabled, &err);
    if (rc == ERR_CONFLICT) {
        conflict_username(c, u.username);
        return;
    }
    if (rc != 0) {
        admin_store_failed(c, "user_put", &err);
        return;
    }
    admin_audit(c, u.disabled && !was_disabled ? "user.disable" : "user.update", u.id);
    admin_json(c, 200, user_to_json(&u, NULL));
}

void admin_users_delete(struct admin_call *c)
{
    struct store_user u;
    if (!load_writable(c, &u))
        return;
    struct errbuf err = {{0}};
    int rc = store_begin(c->db, &err);
    if (rc == 0) {
        rc = store_consent_delete(c->db, u.id, NULL, &err);
        if (rc == 0)
            rc = user_logout_everywhere(c->db, u.id, clock_now(), &err);
        if (rc == 0)
            rc = store_user_delete(c->db, u.id, &err);
        if (rc == 0)
            rc = store_commit(c->db, &err);
        else
            store_rollback(c->db);
    }
    if (rc == ERR_NOTFOUND) {
        admin_not_found(c, "user with id", u.id);
        return;
    }
    if (rc != 0) {
        admin_store_failed(c, "user_delete", &err);
        return;
    }
    admin_audit(c, "user.delete", u.id);
    admin_no_content(c);
}

void admin_users_set_password(struct admin_call *c)
{
    static const char *const allowed[] = {"password", NULL};
    if (!admin_body_only(c, allowed))
        return;
    struct store_user u;
    if (!load_writable(c, &u))
        return;
    const char *hash = password_hash(c, json_object_get(c->body, "password"));
    if (hash == NULL)
        return;
    u.password_hash = hash;
    u.updated_at = clock_now();
    /* A new password ends the sessions opened with the old one (it may have been stolen). */
    struct errbuf err = {{0}};
    if (put_user(c, &u, true, &err) != 0) {
        admin_store_failed(c, "user_put", &err);
        return;
    }
    admin_audit(c, "user.set_password", u.id);
    admin_no_content(c);
}

void admin_users_revoke_grants(struct admin_call *c)
{
    static const int kinds[] = {STORE_TOKEN_CODE, STORE_TOKEN_REFRESH, STORE_TOKEN_ACCESS};
    struct store_user u;
    if (!load(c, &u))
        return;
    struct errbuf err = {{0}};
    int64_t now = clock_now();
    int rc = store_begin(c->db, &err);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && rc == 0; i++)
        rc = store_token_revoke_sub(c->db, u.id, kinds[i], now, &err);
    if (rc == 0)
        rc = store_commit(c->db, &err);
    else
        store_rollback(c->db);
    if (rc != 0) {
        admin_store_failed(c, "token_revoke_sub", &err);
        return;
    }
    admin_audit(c, "user.revoke_grants", u.id);
    admin_no_content(c);
}

/* ---- consents ---- */

void admin_consents_list(struct admin_call *c)
{
    struct store_user u;
    if (!admin_query_only(c, NULL) || !load(c, &u))
        return;
    struct errbuf err = {{0}};
    struct store_consent *v = NULL;
    size_t n = 0;
    if (store_consent_list(c->db, c->a, u.id, &v, &n, &err) != 0) {
        admin_store_failed(c, "consent_list", &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, consent_to_json(&v[i]));
    json_t *o = json_object();
    json_object_set_new(o, "consents", items);
    admin_json(c, 200, o);
}

static void consent_revoke(struct admin_call *c, const char *client_id)
{
    struct store_user u;
    if (!load(c, &u))
        return;
    struct errbuf err = {{0}};
    int rc = store_begin(c->db, &err);
    if (rc == 0) {
        rc = user_consent_revoke(c->db, u.id, client_id, clock_now(), &err);
        if (rc == 0)
            rc = store_commit(c->db, &err);
        else
            store_rollback(c->db);
    }
    if (rc == ERR_NOTFOUND) {
        admin_not_found(c, "consent of this user for client", client_id);
        return;
    }
    if (rc != 0) {
        admin_store_failed(c, "consent_delete", &err);
        return;
    }
    admin_audit(c, client_id != NULL ? "consent.revoke" : "consent.revoke_all",
                client_id != NULL ? arena_printf(c->a, "%s/%s", u.id, client_id) : u.id);
    admin_no_content(c);
}

void admin_consents_revoke(struct admin_call *c)
{
    consent_revoke(c, c->param[1]);
}

void admin_consents_revoke_all(struct admin_call *c)
{
    consent_revoke(c, NULL);
}

/* ---- login sessions ---- */

void admin_sessions_list(struct admin_call *c)
{
    struct store_user u;
    if (!admin_query_only(c, NULL) || !load(c, &u))
        return;
    struct errbuf err = {{0}};
    struct store_token *v = NULL;
    size_t n = 0;
    if (store_token_list_sub(c->db, c->a, u.id, STORE_TOKEN_SESSION, clock_now(), SESSIONS_MAX, &v, &n,
                             &err) != 0) {
        admin_store_failed(c, "token_list_sub", &err);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, session_row_json(&v[i]));
    json_t *o = json_object();
    json_object_set_new(o, "sessions", items);
    admin_json(c, 200, o);
}

void admin_sessions_revoke_all(struct admin_call *c)
{
    struct store_user u;
    if (!load(c, &u))
        return;
    struct errbuf err = {{0}};
    if (store_token_revoke_sub(c->db, u.id, STORE_TOKEN_SESSION, clock_now(), &err) != 0) {
        admin_store_failed(c, "token_revoke_sub", &err);
        return;
    }
    admin_audit(c, "sessions.revoke_all", u.id);
    admin_no_content(c);
}
