/* fuzz_authz_request.c: fuzz target for the parked authorization request (src/oauth/authorize.c): a query
 * string through form_parse/form_get/scope_parse into a struct authz_request, round-tripped through JSON.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/authz_request/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/authorize.h"
#include "oauth/authz.h"
#include "oauth/scope.h"
#include "core/banned.h"

static struct arena *arena;

static const char *param(const struct form *f, const char *name)
{
    struct str v;
    int rc = form_get(f, name, &v);
    if (rc != 0 && rc != 1 && rc != -1)
        abort();
    if (rc != 0)
        return NULL;
    if (v.p == NULL || v.len == 0 || v.p[v.len] != '\0')
        abort();
    return str_dup(arena, v);
}

static bool same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same(const struct authz_request *x, const struct authz_request *y)
{
    if (!same_str(x->client_id, y->client_id) || !same_str(x->redirect_uri, y->redirect_uri) ||
        x->redirect_uri_given != y->redirect_uri_given || !same_str(x->response_type, y->response_type) ||
        x->response_mode != y->response_mode || !same_str(x->scope, y->scope) || !same_str(x->state, y->state) ||
        !same_str(x->nonce, y->nonce) || !same_str(x->code_challenge, y->code_challenge) ||
        !same_str(x->code_challenge_method, y->code_challenge_method) || x->prompt != y->prompt ||
        x->max_age != y->max_age || !same_str(x->login_hint, y->login_hint) ||
        !same_str(x->id_token_hint, y->id_token_hint) || !same_str(x->ui_locales, y->ui_locales) ||
        !same_str(x->acr_values, y->acr_values) || !same_str(x->resource, y->resource))
        abort();
}

static void round_trip(const struct authz_request *ar)
{
    json_t *j = authz_request_to_json(ar);
    if (j == NULL || !json_is_object(j))
        abort();
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL)
        abort();
    json_error_t jerr;
    json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (back == NULL)
        abort();
    struct authz_request out;
    int rc = authz_request_from_json(arena, back, &out);
    json_decref(back);
    bool complete = ar->client_id != NULL && ar->redirect_uri != NULL && ar->scope != NULL;
    if ((rc == 0) != complete || (rc != 0 && rc != -1))
        abort();
    check_same(ar, &out);
}

static void check_scope(const char *scope, struct scope_set *set)
{
    if (set->n > SCOPE_MAX)
        abort();
    for (size_t i = 0; i < set->n; i++)
        if (!scope_token_valid(set->v[i], strlen(set->v[i])) || strstr(scope, set->v[i]) == NULL)
            abort();
    const char *joined = scope_join(arena, set);
    struct scope_set again;
    if (scope_parse(arena, joined, strlen(joined), &again) != 0 || again.n != set->n)
        abort();
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(again.v[i], set->v[i]) != 0)
            abort();
}

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* The input is parsed as the endpoint does (form_parse with at most 64 parameters, form_get per standard
 * parameter, scope_parse on scope), and the request goes authz_request_to_json -> json_dumps -> json_loads
 * -> authz_request_from_json, the way an interaction stores it between the endpoint and the pages.
 * Invariants (a broken one aborts): every field survives identically (absent stays absent);
 * authz_request_from_json succeeds exactly when client_id, redirect_uri and scope are present; a parsed
 * scope set re-parses from its joined text to the same set. The round trip runs twice: as the endpoint
 * builds the request (prompt 0, max_age -1), then with extreme integers and "" for absent strings. The raw
 * input is also fed to authz_request_from_json when it happens to be JSON. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    const char *s = (const char *)data;

    /* Any JSON input: from_json must cope with whatever a tampered interaction row holds. */
    json_t *raw = json_loadb(s, size, 0, NULL);
    if (raw != NULL) {
        struct authz_request junk;
        (void)authz_request_from_json(arena, raw, &junk);
        json_decref(raw);
    }

    struct form f;
    if (form_parse(arena, s, size, 64, &f) != FORM_OK) {
        arena_reset(arena);
        return 0;
    }
    struct authz_request ar;
    memset(&ar, 0, sizeof(ar));
    ar.client_id = param(&f, "client_id");
    ar.redirect_uri = param(&f, "redirect_uri");
    ar.redirect_uri_given = ar.redirect_uri != NULL;
    ar.response_type = param(&f, "response_type");
    const char *mode = param(&f, "response_mode");
    ar.response_mode = mode == NULL                      ? RESPONSE_MODE_QUERY
                       : strcmp(mode, "fragment") == 0  ? RESPONSE_MODE_FRAGMENT
                       : strcmp(mode, "form_post") == 0 ? RESPONSE_MODE_FORM_POST
                                                        : RESPONSE_MODE_QUERY;
    const char *scope = param(&f, "scope");
    if (scope != NULL) {
        struct scope_set set;
        if (scope_parse(arena, scope, strlen(scope), &set) == 0) {
            check_scope(scope, &set);
            ar.scope = scope_join(arena, &set);
        } else {
            ar.scope = scope; /* a rejected scope still has to survive storage byte for byte */
        }
    }
    ar.state = param(&f, "state");
    ar.nonce = param(&f, "nonce");
    ar.code_challenge = param(&f, "code_challenge");
    ar.code_challenge_method = param(&f, "code_challenge_method");
    (void)param(&f, "prompt");
    ar.prompt = 0;
    const char *max_age = param(&f, "max_age");
    ar.max_age = -1;
    ar.login_hint = param(&f, "login_hint");
    ar.id_token_hint = param(&f, "id_token_hint");
    ar.ui_locales = param(&f, "ui_locales");
    ar.acr_values = param(&f, "acr_values");
    const char *resource = param(&f, "resource");
    ar.resource = resource != NULL ? resource : param(&f, "audience");
    round_trip(&ar);

    /* Second pass: every string present (possibly empty), integers at their edges. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    struct authz_request ar2 = ar;
    ar2.client_id = or_empty(ar.client_id);
    ar2.redirect_uri = or_empty(ar.redirect_uri);
    ar2.redirect_uri_given = !ar.redirect_uri_given;
    ar2.response_type = or_empty(ar.response_type);
    ar2.response_mode = (enum response_mode)(h % 3);
    ar2.scope = or_empty(ar.scope);
    ar2.state = or_empty(ar.state);
    ar2.nonce = or_empty(ar.nonce);
    ar2.code_challenge = or_empty(ar.code_challenge);
    ar2.code_challenge_method = or_empty(ar.code_challenge_method);
    ar2.prompt = h & 1 ? 0xffffffffu : (PROMPT_LOGIN | PROMPT_CONSENT | PROMPT_SELECT_ACCOUNT);
    int64_t v;
    ar2.max_age = max_age != NULL && str_to_i64(str_c(max_age), &v) == 0 ? v : (h & 2 ? INT64_MAX : INT64_MIN);
    ar2.login_hint = or_empty(ar.login_hint);
    ar2.id_token_hint = or_empty(ar.id_token_hint);
    ar2.ui_locales = or_empty(ar.ui_locales);
    ar2.acr_values = or_empty(ar.acr_values);
    ar2.resource = or_empty(ar.resource);
    round_trip(&ar2);

    arena_reset(arena);
    return 0;
}
