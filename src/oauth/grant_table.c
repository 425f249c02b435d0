/* grant_table.c: the rows of GRANT_TABLE (grant_table.h) as data, their lookups, and the rules on the
 * grant types a client registers (RFC 6749 §3.1.2.2, §4.4, §4.4.3, §6), which the one check of client
 * metadata (client_check.c: the configuration file, `ostiary client`) applies. The handlers are not here: only token.c dispatches to them, so that the grant
 * files and their callers form no circle. */
#include "oauth/grant_table.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/str.h"
#include "core/banned.h"

static const struct grant_type rows[] = {
#define GRANT_ROW(id, bit, name, handler, conf, yields_rt, redirect, token_ep, served)                      \
    {name, GRANT_##id, conf, yields_rt, redirect, token_ep, served},
    GRANT_TABLE(GRANT_ROW)
#undef GRANT_ROW
};
#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

const struct grant_type *grant_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_ROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

const struct grant_type *grant_by_flag(unsigned flag)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (rows[i].flag == flag)
            return &rows[i];
    return NULL;
}

const struct grant_type *grant_next_served(const struct grant_type *prev)
{
    for (size_t i = prev == NULL ? 0 : (size_t)(prev - rows) + 1; i < N_ROWS; i++)
        if (rows[i].served)
            return &rows[i];
    return NULL;
}

/* The served names, "a, b, c" (or "a or b" with sep " or "), optionally only those yielding refresh
 * tokens. */
static const char *served_list(char *buf, size_t size, const char *sep, bool yielding_refresh_only)
{
    size_t o = 0;
    buf[0] = '\0';
    for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g)) {
        if (yielding_refresh_only && !g->yields_refresh)
            continue;
        int n = snprintf(buf + o, size - o, "%s%s", o > 0 ? sep : "", g->name);
        if (n < 0 || (size_t)n >= size - o)
            break;
        o += (size_t)n;
    }
    return buf;
}

/* Fills *out; returns -1, for `return refuse(...)`. */
static int refuse(struct grant_refusal *out, int index, unsigned flag, bool redirect_uris, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
static int refuse(struct grant_refusal *out, int index, unsigned flag, bool redirect_uris, const char *fmt,
                  ...)
{
    out->index = index;
    out->flag = flag;
    out->redirect_uris = redirect_uris;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
    va_end(ap);
    return -1;
}

int grant_names_parse(const char *const *names, size_t n, unsigned *flags, struct grant_refusal *out)
{
    char allowed[160], shown[STR_SHOWN_SIZE];
    *flags = 0;
    for (size_t i = 0; i < n; i++) {
        const struct grant_type *g = grant_by_name(names[i]);
        served_list(allowed, sizeof(allowed), ", ", false);
        if (g == NULL)
            return refuse(out, (int)i, 0, false, "unsupported grant type '%s' (allowed: %s)",
                          str_shown(names[i], shown), allowed);
        if (!g->served)
            return refuse(out, (int)i, g->flag, false,
                          "grant type '%s' is not served by this server yet (allowed: %s)", g->name, allowed);
        if (*flags & g->flag)
            return refuse(out, (int)i, g->flag, false, "duplicate '%s'", g->name);
        *flags |= g->flag;
    }
    return 0;
}

int grant_set_check(unsigned flags, bool is_public, size_t n_redirect_uris, struct grant_refusal *out)
{
    char yielding[160];
    if (flags == 0)
        return refuse(out, -1, 0, false, "at least one grant type is required");
    for (unsigned bit = 1; bit != 0; bit <<= 1) {
        const struct grant_type *g = (flags & bit) ? grant_by_flag(bit) : NULL;
        if (g == NULL)
            continue;
        /* RFC 6749 §4.4: the client credentials grant is for confidential clients only. */
        if (g->confidential && is_public)
            return refuse(out, -1, g->flag, false,
                          "%s requires a confidential client (one with a client secret, which authenticates "
                          "with it) (RFC 6749 §4.4)",
                          g->name);
        /* RFC 6749 §3.1.2.2: redirection URIs must be registered for the front-channel flows. */
        if (g->needs_redirect_uris && n_redirect_uris == 0)
            return refuse(out, -1, g->flag, true, "at least one is required for %s (RFC 6749 §3.1.2.2)",
                          g->name);
    }
    /* A refresh token is always born of another grant; on its own it could never be used, and
     * client_credentials yields none (RFC 6749 §4.4.3). */
    if (flags & GRANT_REFRESH_TOKEN) {
        bool yielding_grant = false;
        for (const struct grant_type *g = grant_next_served(NULL); g != NULL; g = grant_next_served(g))
            yielding_grant |= g->yields_refresh && (flags & g->flag);
        if (!yielding_grant)
            return refuse(out, -1, 0, false,
                          "refresh_token requires %s as well (the grants that issue refresh tokens); "
                          "client_credentials clients get none (RFC 6749 §4.4.3)",
                          served_list(yielding, sizeof(yielding), " or ", true));
    }
    return 0;
}

int grant_names_check(const char *const *names, size_t n, bool is_public, size_t n_redirect_uris,
                      unsigned *flags, struct grant_refusal *out)
{
    if (grant_names_parse(names, n, flags, out) != 0)
        return -1;
    if (grant_set_check(*flags, is_public, n_redirect_uris, out) == 0)
        return 0;
    /* A rule of one grant's row: point at its name (missing redirect URIs are the other field's fault). */
    for (size_t i = 0; i < n && out->flag != 0 && !out->redirect_uris; i++)
        if (grant_by_name(names[i])->flag == out->flag)
            out->index = (int)i;
    return -1;
}

/* ---- Response types ---------------------------------------------------------------------------------- */

static const char *const part_names[] = {"code", "id_token", "token"};
/* The canonical names, by parts (index 1..7). */
static const char *const type_names[] = {"",          "code",       "id_token",       "code id_token",
                                         "token",     "code token", "id_token token", "code id_token token"};
/* The order of discovery and of messages: code, the hybrid types, then those without code. */
static const unsigned type_order[] = {RESPONSE_CODE,
                                      RESPONSE_CODE | RESPONSE_ID_TOKEN,
                                      RESPONSE_CODE | RESPONSE_TOKEN,
                                      RESPONSE_CODE | RESPONSE_ID_TOKEN | RESPONSE_TOKEN,
                                      RESPONSE_ID_TOKEN,
                                      RESPONSE_ID_TOKEN | RESPONSE_TOKEN};
#define N_TYPES (sizeof(type_order) / sizeof(type_order[0]))

unsigned response_type_grants(unsigned parts)
{
    unsigned g = 0;
    if (parts & RESPONSE_CODE)
        g |= GRANT_AUTHORIZATION_CODE;
    if (parts & (RESPONSE_ID_TOKEN | RESPONSE_TOKEN))
        g |= GRANT_IMPLICIT;
    return g;
}

/* Served: one of type_order (never token alone, nor none) whose grants are all served. */
static bool type_served(unsigned parts)
{
    bool listed = false;
    for (size_t i = 0; i < N_TYPES; i++)
        listed |= type_order[i] == parts;
    unsigned grants = response_type_grants(parts);
    for (unsigned bit = 1; listed && bit != 0; bit <<= 1) {
        const struct grant_type *g = (grants & bit) ? grant_by_flag(bit) : NULL;
        if (g != NULL && !g->served)
            return false;
    }
    return listed;
}

enum response_type_fault response_type_parse(const char *s, unsigned *parts)
{
    *parts = 0;
    struct str item;
    for (const char *p = s != NULL ? s : ""; *p != '\0'; p += item.len) {
        while (*p == ' ')
            p++;
        item = (struct str){p, strcspn(p, " ")};
        if (item.len == 0)
            break;
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(part_names) / sizeof(part_names[0]); i++)
            if (str_eq_c(item, part_names[i]))
                bit = 1u << i;
        if (bit == 0)
            return RESPONSE_TYPE_UNKNOWN;
        if (*parts & bit)
            return RESPONSE_TYPE_DUPLICATE;
        *parts |= bit;
    }
    if (*parts == 0)
        return RESPONSE_TYPE_UNKNOWN;
    return type_served(*parts) ? RESPONSE_TYPE_OK : RESPONSE_TYPE_NOT_SERVED;
}

const char *response_type_name(unsigned parts)
{
    return parts < sizeof(type_names) / sizeof(type_names[0]) ? type_names[parts] : "";
}

unsigned response_type_next_served(unsigned prev)
{
    size_t i = 0;
    if (prev != 0) {
        while (i < N_TYPES && type_order[i] != prev)
            i++;
        i++;
    }
    for (; i < N_TYPES; i++)
        if (type_served(type_order[i]))
            return type_order[i];
    return 0;
}

/* The served response types, "a, b, c" (for messages). */
static const char *served_types(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (unsigned t = response_type_next_served(0); t != 0; t = response_type_next_served(t)) {
        int n = snprintf(buf + o, size - o, "%s'%s'", o > 0 ? ", " : "", response_type_name(t));
        if (n < 0 || (size_t)n >= size - o)
            break;
        o += (size_t)n;
    }
    return buf;
}

int response_types_check(const char *const *names, size_t n, unsigned grant_flags, unsigned *set,
                         struct grant_refusal *out)
{
    char allowed[200], shown[STR_SHOWN_SIZE];
    *set = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned parts;
        enum response_type_fault f = response_type_parse(names[i], &parts);
        served_types(allowed, sizeof(allowed));
        if (f == RESPONSE_TYPE_UNKNOWN || f == RESPONSE_TYPE_DUPLICATE)
            return refuse(out, (int)i, 0, false,
                          "'%s' is not a response type (values code, id_token and token, each at most once, "
                          "separated by spaces; allowed: %s)",
                          str_shown(names[i], shown), allowed);
        if (f == RESPONSE_TYPE_NOT_SERVED)
            return refuse(out, (int)i, 0, false, "response type '%s' is not served by this server (allowed: %s)",
                          response_type_name(parts), allowed);
        if (*set & RESPONSE_TYPE_BIT(parts))
            return refuse(out, (int)i, 0, false, "duplicate '%s'", response_type_name(parts));
        *set |= RESPONSE_TYPE_BIT(parts);
        /* OIDC Registration §2: code needs authorization_code, id_token and token need implicit. */
        unsigned missing = response_type_grants(parts) & ~grant_flags;
        for (unsigned bit = 1; missing != 0 && bit != 0; bit <<= 1)
            if (missing & bit)
                return refuse(out, (int)i, bit, false,
                              "'%s' requires the grant type %s as well (OpenID Connect Registration §2)",
                              response_type_name(parts), grant_by_flag(bit)->name);
    }
    if (n == 0 && (grant_flags & GRANT_AUTHORIZATION_CODE))
        *set = RESPONSE_TYPE_BIT(RESPONSE_CODE); /* RFC 7591 §2: the default */
    /* A front-channel grant no response type uses could never be used. */
    unsigned used = 0;
    for (unsigned parts = 1; parts < 8; parts++)
        if (*set & RESPONSE_TYPE_BIT(parts))
            used |= response_type_grants(parts);
    if ((grant_flags & GRANT_IMPLICIT) && !(used & GRANT_IMPLICIT))
        return refuse(out, -1, GRANT_IMPLICIT, false,
                      "the grant type implicit is used only by response types with id_token or token: "
                      "register one (e.g. 'code id_token' or 'id_token')");
    if ((grant_flags & GRANT_AUTHORIZATION_CODE) && !(used & GRANT_AUTHORIZATION_CODE))
        return refuse(out, -1, GRANT_AUTHORIZATION_CODE, false,
                      "the grant type authorization_code is used only by response types with code: register "
                      "one (e.g. 'code')");
    return 0;
}
