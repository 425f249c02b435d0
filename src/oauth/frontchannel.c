/* frontchannel.c: page rendering with security headers, the HTML error page, and authorization
 * responses by response mode (RFC 6749 §4.1.2 and §4.1.2.1; OAuth 2.0 Form Post Response Mode; RFC 9207).
 * The redirect URI given here must already have been verified against the client's registration. */
#include "oauth/frontchannel.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/http.h"
#include "ui/tmpl.h"
#include "core/banned.h"

/* Caps of the authorization response: the Location of a redirect, and the form_post page. */
#define AUTHZ_LOCATION_MAX (64 * 1024)
#define AUTHZ_FORM_POST_MAX (256 * 1024)
/* What the response adds besides redirect_uri, state and iss, encoded: the markup of the form_post page
 * (about 600 bytes), the separators, and code or error + error_description (fixed texts of ours, at most a
 * few hundred characters each). */
#define AUTHZ_RESPONSE_RESERVE 4096

const char *issuer_url(struct http_req *req, const char *path)
{
    return arena_printf(req->arena, "%s%s", req->worker->app->issuer, path);
}

static void security_headers(struct http_req *req, const char *csp)
{
    http_res_header(req, "Content-Security-Policy", csp);
    http_res_header(req, "X-Frame-Options", "DENY");
    http_res_header(req, "Referrer-Policy", "no-referrer");
    http_res_header(req, "X-Content-Type-Options", "nosniff");
    http_res_header(req, "Cache-Control", "no-store");
    http_res_header(req, "Pragma", "no-cache");
}

void page_send(struct http_req *req, int status, const char *name, json_t *data)
{
    const struct tmpl *t = tmpl_set_get(req->worker->app->pages, name);
    if (t == NULL) {
        log_error("bug", LS("what", "missing page template"), LS("page", name), NULL);
        http_res_body(req, 500, "text/plain; charset=utf-8", "internal error\n", 15);
        return;
    }
    json_object_set_new(data, "issuer", json_string(req->worker->app->issuer));
    json_object_set_new(data, "css_url", json_string(issuer_url(req, "/assets/style.css")));
    json_object_set_new(data, "request_id", json_string(req->rid));
    if (json_object_get(data, "lang") == NULL)
        json_object_set_new(data, "lang", json_string("en"));
    size_t len;
    bool truncated = false;
    char *html = tmpl_render_ex(t, data, req->arena, &len, &truncated);
    if (truncated) {
        log_error("page_truncated", LS("rid", req->rid), LS("page", name), NULL);
        http_res_body(req, 500, "text/plain; charset=utf-8", "internal error\n", 15);
        return;
    }
    security_headers(req, "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                          "base-uri 'none'");
    http_res_body(req, status, "text/html; charset=utf-8", html, len);
}

void page_error(struct http_req *req, struct oauth_error e)
{
    oauth_error_record(req, e);
    json_t *d = json_object();
    bool later = e.code == OAUTH_ERR_TEMPORARILY_UNAVAILABLE;
    json_object_set_new(d, "title", json_string(later ? "Temporarily unavailable: try again in a moment"
                                                      : "Something went wrong"));
    json_object_set_new(d, "error", json_string(oauth_err_str(e.code)));
    if (e.description != NULL)
        json_object_set_new(d, "error_description", json_string(e.description));
    /* An explicit status (405 wrong method, 403 failed CSRF check) is kept; otherwise 400, 500, or 503
     * (with Retry-After) while the database is unreachable. */
    int status = e.http_status != 0 ? e.http_status : (oauth_err_status(&e) >= 500 ? oauth_err_status(&e) : 400);
    if (status == 503)
        http_res_header(req, "Retry-After", OAUTH_RETRY_AFTER);
    page_send(req, status, "error", d);
    json_decref(d);
}

void redirect_see_other(struct http_req *req, const char *location)
{
    http_res_header(req, "Location", location);
    http_res_header(req, "Cache-Control", "no-store");
    http_res_body(req, 303, NULL, "", 0);
}

bool authz_response_fits(const struct http_req *req, const char *redirect_uri, const char *state)
{
    const char *iss = req->worker->app->issuer;
    const char *st = state != NULL ? state : "";
    size_t loc = strlen(redirect_uri) + str_urlenc_len(st, strlen(st)) + str_urlenc_len(iss, strlen(iss)) +
                 AUTHZ_RESPONSE_RESERVE;
    size_t page = str_html_len(redirect_uri, strlen(redirect_uri)) + str_html_len(st, strlen(st)) +
                  str_html_len(iss, strlen(iss)) + AUTHZ_RESPONSE_RESERVE;
    return loc <= AUTHZ_LOCATION_MAX && page <= AUTHZ_FORM_POST_MAX;
}

static void add_param(struct strbuf *sb, bool *first, char sep, const char *name, const char *value)
{
    strbuf_addc(sb, *first ? sep : '&');
    *first = false;
    strbuf_add_urlenc(sb, name, strlen(name));
    strbuf_addc(sb, '=');
    strbuf_add_urlenc(sb, value, strlen(value));
}

static void form_post(struct http_req *req, const char *redirect_uri, const struct authz_param *params, size_t n,
                      const char *state, struct authz_response *out)
{
    /* OAuth 2.0 Form Post Response Mode §2: an auto-submitting form. It also works without JavaScript:
     * the button submits it. The script is allowed by a per-response nonce. */
    const char *nonce = rand_token(req->arena, 16);
    out->script_nonce = nonce;
    struct strbuf sb;
    strbuf_init(&sb, req->arena, AUTHZ_FORM_POST_MAX);
    strbuf_adds(&sb, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title>"
                     "</head><body><form method=\"post\" id=\"form-post\" action=\"");
    strbuf_add_html(&sb, redirect_uri, strlen(redirect_uri));
    strbuf_adds(&sb, "\">");
    for (size_t i = 0; i <= n + 1; i++) {
        const char *k, *v;
        if (i < n) {
            k = params[i].name;
            v = params[i].value;
        } else if (i == n) {
            if (state == NULL)
                continue;
            k = "state";
            v = state;
        } else {
            k = "iss";
            v = req->worker->app->issuer;
        }
        strbuf_adds(&sb, "<input type=\"hidden\" name=\"");
        strbuf_add_html(&sb, k, strlen(k));
        strbuf_adds(&sb, "\" value=\"");
        strbuf_add_html(&sb, v, strlen(v));
        strbuf_adds(&sb, "\">");
    }
    strbuf_adds(&sb, "<noscript><p>Select Continue to return to the application.</p></noscript>"
                     "<button type=\"submit\" id=\"form-post-continue\">Continue</button></form>"
                     "<script nonce=\"");
    strbuf_adds(&sb, nonce);
    strbuf_adds(&sb, "\">document.getElementById('form-post').submit();</script></body></html>");
    out->text = strbuf_str(&sb);
    out->len = sb.len;
}

bool authz_response_build(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                          const struct authz_param *params, size_t n, const char *state, struct authz_response *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = mode;
    if (mode == RESPONSE_MODE_FORM_POST) {
        form_post(req, redirect_uri, params, n, state, out);
        return out->text != NULL;
    }
    struct strbuf sb;
    strbuf_init(&sb, req->arena, AUTHZ_LOCATION_MAX);
    strbuf_adds(&sb, redirect_uri);
    bool first;
    char sep;
    if (mode == RESPONSE_MODE_FRAGMENT) {
        sep = '#';
        first = true;
    } else {
        sep = '?';
        first = strchr(redirect_uri, '?') == NULL; /* keep the registered query (RFC 6749 §3.1.2) */
    }
    for (size_t i = 0; i < n; i++)
        add_param(&sb, &first, sep, params[i].name, params[i].value);
    if (state != NULL)
        add_param(&sb, &first, sep, "state", state);
    add_param(&sb, &first, sep, "iss", req->worker->app->issuer);
    out->text = strbuf_str(&sb);
    out->len = sb.len;
    return out->text != NULL;
}

void authz_response_send(struct http_req *req, const struct authz_response *r)
{
    /* A text that did not fit is NULL, which makes the response a 500: never a cut URL or page. */
    if (r->mode == RESPONSE_MODE_FORM_POST) {
        security_headers(req, arena_printf(req->arena,
                                           "default-src 'none'; script-src 'nonce-%s'; frame-ancestors 'none'; "
                                           "base-uri 'none'",
                                           r->script_nonce != NULL ? r->script_nonce : ""));
        http_res_body(req, 200, "text/html; charset=utf-8", r->text, r->len);
        return;
    }
    http_res_header(req, "Location", r->text);
    http_res_header(req, "Cache-Control", "no-store");
    http_res_header(req, "Referrer-Policy", "no-referrer");
    http_res_body(req, 303, NULL, "", 0);
}

void authz_respond(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                   const struct authz_param *params, size_t n, const char *state)
{
    struct authz_response r;
    authz_response_build(req, redirect_uri, mode, params, n, state, &r);
    authz_response_send(req, &r);
}

void authz_respond_error(struct http_req *req, const char *redirect_uri, enum response_mode mode,
                         struct oauth_error e, const char *state)
{
    oauth_error_record(req, e);
    struct authz_param p[2] = {{"error", oauth_err_str(e.code)},
                               {"error_description", oauth_error_description_safe(req->arena, e.description)}};
    authz_respond(req, redirect_uri, mode, p, e.description != NULL ? 2 : 1, state);
}
