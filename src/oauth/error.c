/* error.c: the only place that renders an OAuth error (RFC 6749 §5.2, RFC 6750 §3). Counts each error
 * by code for the metrics (core/metrics.h) and tags the request for the access log. */
#include "oauth/error.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http.h"
#include "core/banned.h"

static const struct {
    const char *str;
    int status;
} table[] = {
#define OAUTH_ERR_ROW(name, num, s, st) [num] = {s, st},
    OAUTH_ERR_MAP(OAUTH_ERR_ROW)
#undef OAUTH_ERR_ROW
};

_Static_assert(OAUTH_ERR__COUNT <= METRICS_ERRORS_MAX, "core/metrics.h counts every error code");

const char *oauth_err_str(enum oauth_err code)
{
    if ((unsigned)code >= OAUTH_ERR__COUNT)
        return "server_error";
    return table[code].str;
}

int oauth_err_status(const struct oauth_error *e)
{
    if (e->http_status != 0)
        return e->http_status;
    if ((unsigned)e->code >= OAUTH_ERR__COUNT)
        return 500;
    return table[e->code].status;
}

/* Quoted-string content for WWW-Authenticate: descriptions are our own fixed text, but keep the header
 * well-formed whatever they contain (RFC 6750 §3: no '"' or '\'). */
static char *challenge_safe(struct arena *a, const char *s)
{
    char *out = arena_strdup(a, s);
    for (char *p = out; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '\'';
    return out;
}

const char *oauth_error_description_safe(struct arena *a, const char *d)
{
    /* RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. Our texts are fixed and
     * should comply; this keeps the wire format right even if one does not. */
    if (d == NULL)
        return NULL;
    char *out = arena_strdup(a, d);
    for (unsigned char *p = (unsigned char *)out; *p; p++) {
        if (*p == '"')
            *p = '\'';
        else if (*p == '\\')
            *p = '/';
        else if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    }
    return out;
}

void oauth_error_record(struct http_req *req, struct oauth_error e)
{
    if ((unsigned)e.code < OAUTH_ERR__COUNT)
        metrics_oauth_error(e.code);
    req->log_error = oauth_err_str(e.code);
}

struct oauth_error oauth_store_failed(const struct http_req *req, const char *op, int rc, const struct errbuf *err)
{
    const char *detail = err != NULL ? err->msg : "";
    /* An outage is the operator's to see, once per request, but not a bug of ours: a warning. */
    if (rc == ERR_UNAVAILABLE)
        log_warn("store_error", LS("rid", req->rid), LS("op", op), LI("rc", rc), LS("detail", detail), NULL);
    else
        log_error("store_error", LS("rid", req->rid), LS("op", op), LI("rc", rc), LS("detail", detail), NULL);
    return oauth_store_error(rc);
}

struct oauth_error oauth_store_error(int rc)
{
    if (rc == ERR_UNAVAILABLE)
        return OAUTH_ERROR(TEMPORARILY_UNAVAILABLE, "the database is unreachable; retry shortly");
    return OAUTH_ERROR(SERVER_ERROR, "storage failure");
}

void oauth_error_send_json(struct http_req *req, struct oauth_error e)
{
    oauth_error_record(req, e);
    const char *code = oauth_err_str(e.code);
    int status = oauth_err_status(&e);

    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(code));
    if (e.description != NULL)
        json_object_set_new(o, "error_description",
                            json_string(oauth_error_description_safe(req->arena, e.description)));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);

    if (status == 401 && e.challenge != NULL) {
        /* A challenge with auth-params of its own ("DPoP algs=...") takes the error's after a comma. */
        const char *sep = strchr(e.challenge, ' ') != NULL ? ", " : " ";
        bool described = e.code == OAUTH_ERR_INVALID_TOKEN || e.code == OAUTH_ERR_INVALID_DPOP_PROOF ||
                         e.code == OAUTH_ERR_USE_DPOP_NONCE;
        const char *v;
        if (described && e.description != NULL)
            v = arena_printf(req->arena, "%s%serror=\"%s\", error_description=\"%s\"", e.challenge, sep, code,
                             challenge_safe(req->arena, e.description));
        else if (e.code == OAUTH_ERR_INVALID_CLIENT)
            v = arena_printf(req->arena, "%s%srealm=\"ostiary\", charset=\"UTF-8\"", e.challenge, sep);
        else
            v = arena_printf(req->arena, "%s%serror=\"%s\"", e.challenge, sep, code);
        http_res_header(req, "WWW-Authenticate", v);
    }
    if (status == 503)
        http_res_header(req, "Retry-After", OAUTH_RETRY_AFTER);
    http_res_no_store(req);
    http_res_json(req, status, text, strlen(text));
    free(text);
}
