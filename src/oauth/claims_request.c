/* claims_request.c: the parser of the claims request parameter (OIDC Core §5.5, §5.5.1, §5.5.1.1), pure:
 * JSON text in (jansson, duplicate members refused), a struct claims_request or a precise description out.
 * What it accepts is in claims_request.h; what the server does with the request is the authorization
 * endpoint's, the token grants' and userinfo's. */
#include "oauth/claims_request.h"

#include <stdarg.h>
#include <string.h>

#include "core/arena.h"
#include "core/claims.h"
#include "core/str.h"
#include "core/banned.h"

static const char *const targets[CLAIMS_TARGETS] = {"userinfo", "id_token"};
static const char *const request_members[] = {"essential", "value", "values"};

#define CLAIM_NAME(arg, n, kind, scope, option) #n,
/* The standard claims a user has (core/claims.h). */
static const char *const user_claims[] = {OIDC_CLAIMS(CLAIM_NAME, ~)};
#undef CLAIM_NAME
/* Claims of the ID token itself that a request may name (§2, §5.5.1.1); always issued, never released
 * from the user's claims. */
static const char *const token_claims[] = {"sub", "acr", "amr", "auth_time"};

static bool in(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}
#define IN(s, list) in((s), (list), sizeof(list) / sizeof((list)[0]))

static bool is_claim_name(const char *s)
{
    return IN(s, user_claims) || IN(s, token_claims);
}

static void json_decref_cb(void *p)
{
    json_decref(p);
}

/* A member name as a message may show it: printable, shortened, without the characters RFC 6749 §5.2 keeps
 * out of error descriptions. */
static const char *shown(struct arena *a, const char *s)
{
    char buf[STR_SHOWN_SIZE];
    char *out = arena_strdup(a, str_shown(s, buf));
    for (char *p = out; *p != '\0'; p++)
        if (*p == '"' || *p == '\\')
            *p = '?';
    return out;
}

/* Fills *why and returns -1, for `return refuse(...)`. */
__attribute__((format(printf, 3, 4))) static int refuse(struct arena *a, const char **why, const char *fmt,
                                                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    *why = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* One claim's request (§5.5.1): null, or an object of essential, value, values and members ignored. */
static int parse_claim(struct arena *a, const char *path, json_t *v, struct claim_request *out,
                       const char **why)
{
    if (json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return refuse(a, why, "%s must be null or a JSON object", path);
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m)
    {
        if (strcmp(k, "essential") == 0) {
            if (!json_is_boolean(m))
                return refuse(a, why, "%s.essential must be true or false", path);
            out->essential = json_is_true(m);
        } else if (strcmp(k, "value") == 0) {
            if (!is_scalar(m))
                return refuse(a, why, "%s.value must be a string, a number or a boolean", path);
            out->value = m;
        } else if (strcmp(k, "values") == 0) {
            if (!json_is_array(m) || json_array_size(m) == 0)
                return refuse(a, why, "%s.values must be a non-empty JSON array", path);
            size_t i;
            json_t *item;
            json_array_foreach(m, i, item)
            {
                if (!is_scalar(item))
                    return refuse(a, why, "%s.values[%zu] must be a string, a number or a boolean", path, i);
            }
            out->values = m;
        } else if (is_claim_name(k) || IN(k, targets)) {
            return refuse(a, why, "%s.%s: a claim request holds essential, value and values, not %s", path,
                          shown(a, k), IN(k, targets) ? "a target" : "another claim");
        }
        /* Anything else is not understood, and ignored (§5.5.1). */
    }
    if (out->value != NULL && out->values != NULL)
        return refuse(a, why, "%s has both value and values: use one", path);
    return 0;
}

/* The claims of one target (§5.5: userinfo or id_token). */
static int parse_target(struct arena *a, enum claims_target t, json_t *v, struct claims_request *out,
                        const char **why)
{
    const char *path = arena_printf(a, "claims.%s", targets[t]);
    if (!json_is_object(v))
        return refuse(a, why, "%s must be a JSON object of claim names", path);
    if (json_object_size(v) > CLAIMS_REQUEST_MAX_CLAIMS)
        return refuse(a, why, "%s names more than %d claims", path, CLAIMS_REQUEST_MAX_CLAIMS);
    out->claims[t] = arena_alloc(a, sizeof(struct claim_request) * (json_object_size(v) + 1));
    const char *k;
    json_t *m;
    json_object_foreach(v, k, m)
    {
        if (IN(k, targets))
            return refuse(a, why,
                          "%s.%s: a target inside a target; userinfo and id_token go at the top level", path,
                          k);
        if (IN(k, request_members))
            return refuse(a, why,
                          "%s.%s: essential, value and values go inside the request of one claim, not beside "
                          "the claims",
                          path, k);
        struct claim_request *c = &out->claims[t][out->n[t]];
        memset(c, 0, sizeof(*c));
        c->name = k;
        if (parse_claim(a, arena_printf(a, "%s.%s", path, shown(a, k)), m, c, why) != 0)
            return -1;
        out->n[t]++;
    }
    return 0;
}

int claims_request_parse(struct arena *a, const char *text, size_t len, struct claims_request *out,
                         const char **why)
{
    memset(out, 0, sizeof(*out));
    if (len > CLAIMS_REQUEST_MAX_BYTES)
        return refuse(a, why, "claims is too long (at most %d bytes)", CLAIMS_REQUEST_MAX_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return refuse(a, why, "claims has a member twice (at character %d)", jerr.position);
        return refuse(a, why, "claims is not valid JSON (at character %d)", jerr.position);
    }
    arena_defer(a, json_decref_cb, root);
    if (!json_is_object(root))
        return refuse(a, why, "claims must be a JSON object with userinfo and id_token members");
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "userinfo") == 0 || strcmp(k, "id_token") == 0) {
            if (parse_target(a, strcmp(k, "userinfo") == 0 ? CLAIMS_USERINFO : CLAIMS_ID_TOKEN, v, out,
                             why) != 0)
                return -1;
        } else if (is_claim_name(k) || IN(k, request_members)) {
            return refuse(a, why, "claims.%s is at the top level: name claims inside userinfo or id_token",
                          k);
        }
        /* Other top-level members are not understood, and ignored (§5.5). */
    }
    return 0;
}

const struct claim_request *claims_request_find(const struct claims_request *r, enum claims_target target,
                                                const char *name)
{
    for (size_t i = 0; r != NULL && i < r->n[target]; i++)
        if (strcmp(r->claims[target][i].name, name) == 0)
            return &r->claims[target][i];
    return NULL;
}

bool claim_request_allows(const struct claim_request *c, const char *s)
{
    if (c->value != NULL)
        return json_is_string(c->value) && strcmp(json_string_value(c->value), s) == 0;
    if (c->values == NULL)
        return true;
    size_t i;
    json_t *v;
    json_array_foreach(c->values, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

json_t *claims_request_user_claims(const struct claims_request *r, enum claims_target target)
{
    json_t *names = json_array();
    for (size_t i = 0; r != NULL && i < r->n[target]; i++)
        if (IN(r->claims[target][i].name, user_claims))
            json_array_append_new(names, json_string(r->claims[target][i].name));
    return names;
}

json_t *claims_request_grant(const struct claims_request *r)
{
    if (r == NULL)
        return NULL;
    json_t *o = json_object();
    for (int t = 0; t < CLAIMS_TARGETS; t++) {
        json_t *names = claims_request_user_claims(r, (enum claims_target)t);
        if (json_array_size(names) > 0)
            json_object_set_new(o, targets[t], names);
        else
            json_decref(names);
    }
    if (json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *claims_grant_names(json_t *grant, enum claims_target target)
{
    json_t *names = json_object_get(grant, targets[target]);
    return json_is_array(names) ? names : NULL;
}
