/* tmpl.h: HTML templates (the web/ folder an operator can restyle and translate) and their renderer.
 * A small Mustache subset, escaping by default:
 *   {{name}}            value of `name` (string, number or boolean), HTML-escaped
 *   {{a.b}}             dotted lookup into nested objects
 *   {{#name}}..{{/name}} section: rendered once if `name` is true/non-empty string/object (with it as the
 *                        innermost context), once per element if it is an array, not at all otherwise
 *   {{^name}}..{{/name}} inverted section: rendered only if `name` is absent/false/empty
 *   {{! comment }}
 * There is no unescaped output form: pages never need raw HTML from data. Variables come from a jansson
 * object. Templates are parsed once at start (tmpl_set_load) and rendered per request into the arena. */
#ifndef OSTIARY_UI_TMPL_H
#define OSTIARY_UI_TMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/err.h"

struct arena;
struct tmpl;
struct tmpl_set;

/* Parses a template text (e.g. a file's content). Errors name the line: "line 12: unclosed section 'x'".
 * Nesting depth and template size are capped. Owner: the caller (tmpl_free). */
int tmpl_parse(const char *text, size_t len, struct tmpl **out, struct errbuf *err);
void tmpl_free(struct tmpl *t);
/* Renders into arena memory; *len gets the length. Never fails on data: missing names render empty. */
char *tmpl_render(const struct tmpl *t, json_t *data, struct arena *a, size_t *len);
/* Like tmpl_render; *truncated (optional) is set when output hit the 1 MiB cap or the step budget
 * (2^20 node visits). A truncated page must not be served as is. */
char *tmpl_render_ex(const struct tmpl *t, json_t *data, struct arena *a, size_t *len, bool *truncated);

/* The page set: login, consent, error, logout (confirm), logged_out, select_account, the device pages
 * (device, device_confirm, device_done), and the shared style sheet. Loaded from `dir` (files <name>.html
 * and style.css) when dir is non-NULL, else from the copies built into the binary from web/ at compile
 * time. A missing file in `dir` falls back to the built-in one. Owner: the app (tmpl_set_free). */
int tmpl_set_load(const char *dir, struct tmpl_set **out, struct errbuf *err);
void tmpl_set_free(struct tmpl_set *s);
/* Template by page name ("login", ...); NULL if unknown. */
const struct tmpl *tmpl_set_get(const struct tmpl_set *s, const char *name);
/* The style sheet text served at <issuer>/assets/style.css. */
const char *tmpl_set_css(const struct tmpl_set *s, size_t *len);

#endif
