/* test_tmpl.c: proves src/ui/tmpl.c: the Mustache subset (variables, dotted names, ".", sections over
 * arrays/objects/booleans, inverted sections, standalone lines), escaping of everything printed, parse
 * errors with line numbers, the size/depth/output caps, and the built-in pages of web/ (they parse,
 * render sample data, carry the ids web/README.md documents, and need no inline script or style). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/err.h"
#include "ui/tmpl.h"

#include "harness.h"

/* Defined in tmpl.c (the variant of tmpl_render that reports truncation). */

static struct arena *A(void)
{
    static struct arena *a;
    if (a == NULL)
        a = arena_new(4096);
    arena_reset(a);
    return a;
}

/* Renders template `t` with JSON text `json` (NULL: no data). Returns NULL if the template does not
 * parse; the parse error is left in last_err. */
static struct errbuf last_err;
static const char *render(const char *t, const char *json)
{
    struct tmpl *tp;
    memset(&last_err, 0, sizeof(last_err));
    if (tmpl_parse(t, strlen(t), &tp, &last_err) != 0)
        return NULL;
    json_t *data = NULL;
    if (json != NULL) {
        json_error_t jerr;
        data = json_loads(json, JSON_DECODE_ANY, &jerr);
        if (data == NULL) {
            fprintf(stderr, "bad test JSON: %s\n", jerr.text);
            abort();
        }
    }
    struct arena *a = A();
    size_t len;
    char *out = tmpl_render(tp, data, a, &len);
    if (strlen(out) != len)
        abort();
    json_decref(data);
    tmpl_free(tp);
    return out;
}

/* Parses t, expecting failure; returns the error text. */
static const char *parse_error(const char *t)
{
    struct tmpl *tp = (struct tmpl *)1;
    memset(&last_err, 0, sizeof(last_err));
    if (tmpl_parse(t, strlen(t), &tp, &last_err) == 0) {
        tmpl_free(tp);
        return "(parsed)";
    }
    if (tp != NULL)
        return "(out not cleared)";
    return last_err.msg;
}

TEST(tmpl_plain_text)
{
    ASSERT_STREQ(render("hello", NULL), "hello");
    ASSERT_STREQ(render("", NULL), "");
    ASSERT_STREQ(render("a { b } {c} }} {", NULL), "a { b } {c} }} {");
}

TEST(tmpl_variables)
{
    ASSERT_STREQ(render("Hi {{name}}!", "{\"name\":\"Ann\"}"), "Hi Ann!");
    ASSERT_STREQ(render("{{ name }}|{{name}}", "{\"name\":\"x\"}"), "x|x");
    ASSERT_STREQ(render("[{{n}}] [{{r}}] [{{z}}]", "{\"n\":42,\"r\":1.5,\"z\":-7}"), "[42] [1.5] [-7]");
    /* Booleans, null, objects and arrays print nothing; missing names print nothing. */
    ASSERT_STREQ(render("[{{t}}{{f}}{{nl}}{{o}}{{a}}{{missing}}]", "{\"t\":true,\"f\":false,\"nl\":null,"
                                                                   "\"o\":{\"x\":1},\"a\":[1]}"),
                 "[]");
    ASSERT_STREQ(render("[{{x}}]", NULL), "[]");
    ASSERT_STREQ(render("[{{x}}]", "[1,2]"), "[]");
    ASSERT_STREQ(render("[{{.}}]", "\"top\""), "[top]");
}

TEST(tmpl_escaping)
{
    ASSERT_STREQ(render("<p>{{v}}</p>", "{\"v\":\"<script>alert(1)</script>\"}"),
                 "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    ASSERT_STREQ(render("<a title=\"{{v}}\">", "{\"v\":\"\\\" onmouseover='x' a=\\\"\"}"),
                 "<a title=\"&quot; onmouseover=&#39;x&#39; a=&quot;\">");
    ASSERT_STREQ(render("{{v}}", "{\"v\":\"Tom & Jerry &amp;\"}"), "Tom &amp; Jerry &amp;amp;");
    /* Template syntax inside data is data, not re-parsed. */
    ASSERT_STREQ(render("{{v}}", "{\"v\":\"{{x}}\",\"x\":\"no\"}"), "{{x}}");
    /* Text outside tags is the template author's and is copied as is. */
    ASSERT_STREQ(render("<b>&amp;</b>", NULL), "<b>&amp;</b>");
}

TEST(tmpl_dotted_names)
{
    const char *d = "{\"a\":{\"b\":{\"c\":\"deep\"},\"s\":\"str\"},\"c\":\"top\"}";
    ASSERT_STREQ(render("{{a.b.c}}", d), "deep");
    ASSERT_STREQ(render("[{{a.x}}][{{a.s.x}}][{{x.y}}]", d), "[][][]");
    /* Only the first segment is searched up the context stack (Mustache spec). */
    ASSERT_STREQ(render("{{#a}}{{b.c}}|{{c}}|{{a.s}}{{/a}}", d), "deep|top|str");
    ASSERT_STREQ(render("{{#a.b}}{{c}}{{/a.b}}", d), "deep");
}

TEST(tmpl_sections_arrays)
{
    ASSERT_STREQ(render("<ul>{{#items}}<li>{{name}}</li>{{/items}}</ul>",
                        "{\"items\":[{\"name\":\"a\"},{\"name\":\"<b>\"}]}"),
                 "<ul><li>a</li><li>&lt;b&gt;</li></ul>");
    ASSERT_STREQ(render("{{#list}}[{{.}}]{{/list}}", "{\"list\":[\"x\",\"y&\",3,true,null]}"),
                 "[x][y&amp;][3][][]");
    ASSERT_STREQ(render("a{{#list}}X{{/list}}b", "{\"list\":[]}"), "ab");
    /* Inside an element, names not found in it come from outer contexts. */
    ASSERT_STREQ(
        render("{{#s}}{{n}}-{{who}} {{/s}}", "{\"who\":\"me\",\"s\":[{\"n\":1},{\"n\":2,\"who\":\"it\"}]}"),
        "1-me 2-it ");
    /* Arrays of arrays. */
    ASSERT_STREQ(render("{{#m}}({{#.}}{{.}}{{/.}}){{/m}}", "{\"m\":[[1,2],[3]]}"), "(12)(3)");
}

TEST(tmpl_sections_values)
{
    ASSERT_STREQ(render("{{#t}}yes{{/t}}{{#f}}no{{/f}}", "{\"t\":true,\"f\":false}"), "yes");
    ASSERT_STREQ(render("{{#o}}{{k}}{{/o}}", "{\"o\":{\"k\":\"v\"}}"), "v");
    ASSERT_STREQ(render("{{#o}}in{{/o}}", "{\"o\":{}}"), "in");
    ASSERT_STREQ(render("{{#s}}<{{.}}>{{/s}}{{#e}}E{{/e}}", "{\"s\":\"str\",\"e\":\"\"}"), "<str>");
    ASSERT_STREQ(render("{{#n}}N{{/n}}{{#z}}Z{{/z}}", "{\"n\":5,\"z\":0}"), "N");
    ASSERT_STREQ(render("{{#nl}}x{{/nl}}{{#missing}}y{{/missing}}", "{\"nl\":null}"), "");
    /* The value of a string section is the current element; outer names still resolve. */
    ASSERT_STREQ(render("{{#err}}<p>{{err}}</p>{{/err}}", "{\"err\":\"bad\"}"), "<p>bad</p>");
}

TEST(tmpl_inverted)
{
    const char *d = "{\"t\":true,\"f\":false,\"e\":[],\"a\":[1],\"s\":\"\",\"o\":{}}";
    ASSERT_STREQ(render("{{^t}}1{{/t}}{{^f}}2{{/f}}{{^e}}3{{/e}}{{^a}}4{{/a}}{{^s}}5{{/s}}{{^o}}6{{/o}}"
                        "{{^missing}}7{{/missing}}",
                        d),
                 "2357");
    ASSERT_STREQ(render("{{#v}}{{v}}{{/v}}{{^v}}none{{/v}}", "{\"v\":\"x\"}"), "x");
    ASSERT_STREQ(render("{{#v}}{{v}}{{/v}}{{^v}}none{{/v}}", "{}"), "none");
}

TEST(tmpl_nested)
{
    const char *d = "{\"groups\":[{\"g\":\"A\",\"users\":[{\"u\":\"a1\"},{\"u\":\"a2\"}]},"
                    "{\"g\":\"B\",\"users\":[]}],\"sep\":\",\"}";
    ASSERT_STREQ(
        render("{{#groups}}{{g}}:{{#users}}{{u}}{{sep}}{{/users}}{{^users}}-{{/users}};{{/groups}}", d),
        "A:a1,a2,;B:-;");
    /* 32 levels are allowed. */
    char t[2048] = "";
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#a}}");
    n += (size_t)snprintf(t + n, sizeof(t) - n, "x");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/a}}");
    ASSERT_STREQ(render(t, "{\"a\":true}"), "x");
}

TEST(tmpl_comments_and_standalone)
{
    ASSERT_STREQ(render("a{{! a comment }}b", NULL), "ab");
    ASSERT_STREQ(render("a{{! multi\nline }}b", NULL), "ab");
    /* Section and comment tags alone on their line leave no blank line behind. */
    ASSERT_STREQ(render("<ul>\n{{#l}}\n  <li>{{.}}</li>\n{{/l}}\n</ul>\n", "{\"l\":[\"x\",\"y\"]}"),
                 "<ul>\n  <li>x</li>\n  <li>y</li>\n</ul>\n");
    ASSERT_STREQ(render("  {{! c }}  \r\nnext", NULL), "next");
    ASSERT_STREQ(render("{{! c }}", NULL), "");
    /* Not standalone: other text or a variable on the line. */
    ASSERT_STREQ(render("x {{#t}}\ny{{/t}}", "{\"t\":true}"), "x \ny");
    ASSERT_STREQ(render("{{v}}{{#t}}\n{{/t}}", "{\"t\":true,\"v\":1}"), "1\n");
    /* A variable alone on its line is output as is. */
    ASSERT_STREQ(render("a\n{{v}}\nb", "{\"v\":\"x\"}"), "a\nx\nb");
}

TEST(tmpl_parse_errors)
{
    ASSERT_STREQ(parse_error("line1\n{{#a}}\nx\n"), "line 2: unclosed section 'a'");
    ASSERT_STREQ(parse_error("{{#a}}\n{{#b}}\n{{/a}}"),
                 "line 3: '{{/a}}' does not close section 'b' (opened on line 2)");
    ASSERT_STREQ(parse_error("a\nb\n{{/x}}"), "line 3: closing tag with no open section");
    ASSERT_STREQ(parse_error("one\ntwo {{name\nthree"), "line 2: unterminated tag (no closing '}}')");
    ASSERT_STREQ(parse_error("{{"), "line 1: unterminated tag (no closing '}}')");
    ASSERT_STREQ(parse_error("x\n\n\n{{}}"),
                 "line 4: invalid tag name (expected letters, digits, '_', '-' and dots)");
    ASSERT(strstr(parse_error("{{a b}}"), "line 1: invalid tag name") != NULL);
    ASSERT(strstr(parse_error("{{a..b}}"), "invalid tag name") != NULL);
    ASSERT(strstr(parse_error("{{.a}}"), "invalid tag name") != NULL);
    ASSERT(strstr(parse_error("{{a.}}"), "invalid tag name") != NULL);
    ASSERT(strstr(parse_error("{{<x>}}"), "line 1:") != NULL);
    ASSERT_STREQ(parse_error("\n{{{raw}}}"), "line 2: unescaped output ('{{{') is not supported");
    ASSERT_STREQ(parse_error("{{&raw}}"), "line 1: unescaped output ('{{&') is not supported");
    ASSERT_STREQ(parse_error("{{>partial}}"), "line 1: partials are not supported");
    ASSERT_STREQ(parse_error("{{=<% %>=}}"), "line 1: delimiter changes are not supported");
    ASSERT_STREQ(parse_error("{{#a}}{{/a\x01}}"),
                 "line 1: '{{/?}}' does not close section 'a' (opened on line 1)");
    /* The close must name the section exactly. */
    ASSERT(strstr(parse_error("{{#a.b}}{{/a}}"), "does not close section 'a.b'") != NULL);
}

TEST(tmpl_limits)
{
    /* 33 levels of nesting is one too many. */
    char t[4096] = "";
    size_t n = 0;
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#a}}\n");
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/a}}");
    ASSERT_STREQ(parse_error(t), "line 33: sections nested deeper than 32");

    /* Template size cap: 256 KiB is accepted, one more byte is not. */
    size_t big = 256 * 1024;
    char *s = malloc(big + 2);
    memset(s, 'x', big + 1);
    s[big + 1] = '\0';
    struct tmpl *tp;
    struct errbuf err;
    ASSERT(tmpl_parse(s, big + 1, &tp, &err) != 0);
    ASSERT(strstr(err.msg, "larger than") != NULL);
    ASSERT_EQ(tmpl_parse(s, big, &tp, &err), 0);
    free(s);

    /* Output cap: a template whose output exceeds 1 MiB is cut and flagged. */
    size_t len;
    bool cut = true;
    char *out = tmpl_render_ex(tp, NULL, A(), &len, &cut);
    ASSERT_EQ(len, big);
    ASSERT(!cut);
    ASSERT(out[len] == '\0');
    tmpl_free(tp);
    ASSERT_EQ(tmpl_parse("{{#a}}{{v}}{{/a}}", 17, &tp, &err), 0);
    json_t *arr = json_array();
    for (int i = 0; i < 20; i++)
        json_array_append_new(arr, json_integer(i));
    char *blob = malloc(100000);
    memset(blob, '<', 99999);
    blob[99999] = '\0';
    json_t *d = json_pack("{s:o, s:s}", "a", arr, "v", blob);
    free(blob);
    out = tmpl_render_ex(tp, d, A(), &len, &cut);
    ASSERT(cut);
    ASSERT(len <= 1024 * 1024);
    ASSERT_EQ(strlen(out), len);
    json_decref(d);
    tmpl_free(tp);

    /* Step budget: 32 nested sections over a 3-element array print nothing but would take 3^32 steps. */
    n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{#a}}");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(t + n, sizeof(t) - n, "{{/a}}");
    ASSERT_EQ(tmpl_parse(t, n, &tp, &err), 0);
    d = json_loads("{\"a\":[1,2,3]}", 0, NULL);
    out = tmpl_render_ex(tp, d, A(), &len, &cut);
    ASSERT(cut);
    ASSERT_EQ(len, 0);
    json_decref(d);
    tmpl_free(tp);
}

TEST(tmpl_null_safety)
{
    size_t len = 99;
    char *out = tmpl_render(NULL, NULL, A(), &len);
    ASSERT_STREQ(out, "");
    ASSERT_EQ(len, 0);
    struct tmpl *tp;
    struct errbuf err;
    ASSERT_EQ(tmpl_parse(NULL, 0, &tp, &err), 0);
    ASSERT_STREQ(tmpl_render(tp, NULL, A(), &len), "");
    tmpl_free(tp);
    tmpl_free(NULL);
    tmpl_set_free(NULL);
    ASSERT(tmpl_set_get(NULL, "login") == NULL);
}

/* ---- the built-in pages ---- */

static json_t *common_data(const char *title)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "title", title, "lang", "en", "issuer",
                     "https://id.example.com", "css_url", "https://id.example.com/assets/style.css",
                     "request_id", "rid-123");
}

static const char *render_page(const struct tmpl_set *s, const char *page, json_t *data)
{
    const struct tmpl *t = tmpl_set_get(s, page);
    if (t == NULL)
        return NULL;
    size_t len;
    bool cut;
    const char *out = tmpl_render_ex(t, data, A(), &len, &cut);
    json_decref(data);
    return cut ? NULL : out;
}

/* Checks what every page must have: lang, viewport, the style sheet link, title, and no inline script,
 * inline style or external resource (CSP default-src 'none'; style-src 'self'). */
static bool page_ok(const char *html, const char *title)
{
    char want[256];
    snprintf(want, sizeof(want), "<title>%s</title>", title);
    return html != NULL && strncmp(html, "<!DOCTYPE html>\n", 16) == 0 &&
           strstr(html, "<html lang=\"en\">") && strstr(html, "name=\"viewport\"") &&
           strstr(html, "<link rel=\"stylesheet\" href=\"https://id.example.com/assets/style.css\">") &&
           strstr(html, want) && strstr(html, "<script") == NULL && strstr(html, "style=") == NULL &&
           strstr(html, "<style") == NULL && strstr(html, "{{") == NULL && strstr(html, "http://") == NULL &&
           strstr(html, "id=\"page-heading\"") != NULL;
}

TEST(tmpl_pages_builtin_parse)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    static const char *const pages[] = {"login",  "consent",    "error",
                                        "logout", "logged_out", "select_account"};
    for (size_t i = 0; i < 6; i++)
        ASSERT(tmpl_set_get(s, pages[i]) != NULL);
    ASSERT(tmpl_set_get(s, "nope") == NULL);
    ASSERT(tmpl_set_get(s, "style") == NULL);
    size_t len;
    const char *css = tmpl_set_css(s, &len);
    ASSERT(css != NULL && len > 100 && strlen(css) == len);
    ASSERT(strstr(css, ":focus-visible") != NULL);
    ASSERT(strstr(css, "url(") == NULL && strstr(css, "@import") == NULL);
    /* With no data at all, every page still renders. */
    for (size_t i = 0; i < 6; i++) {
        const char *html = render_page(s, pages[i], NULL);
        ASSERT(html != NULL && strstr(html, "</html>") != NULL);
        ASSERT(strstr(html, "<html lang=\"en\">") != NULL);
    }
    tmpl_set_free(s);
}

TEST(tmpl_page_login)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    json_t *d = common_data("Sign in");
    json_object_set_new(d, "action", json_string("/interaction/abc/login"));
    json_object_set_new(d, "interaction", json_string("abc"));
    json_object_set_new(d, "csrf", json_string("tok\"en"));
    json_object_set_new(d, "client_name", json_string("Demo <App>"));
    json_object_set_new(d, "client_id", json_string("demo"));
    json_object_set_new(d, "login_hint", json_string("alice@example.com"));
    json_object_set_new(d, "error", json_string("Wrong username or password."));
    const char *h = render_page(s, "login", d);
    ASSERT(page_ok(h, "Sign in"));
    ASSERT(strstr(h, "<form id=\"login-form\" method=\"post\" action=\"/interaction/abc/login\">") != NULL);
    ASSERT(strstr(h, "<input type=\"hidden\" name=\"interaction\" value=\"abc\">") != NULL);
    ASSERT(strstr(h, "<input type=\"hidden\" name=\"csrf\" value=\"tok&quot;en\">") != NULL);
    ASSERT(strstr(h, "<label for=\"username\">") != NULL && strstr(h, "<label for=\"password\">") != NULL);
    ASSERT(strstr(h, "id=\"username\" name=\"username\"") != NULL);
    ASSERT(strstr(h, "value=\"alice@example.com\" autocomplete=\"username\"") != NULL);
    ASSERT(strstr(h, "autofocus aria-describedby=\"login-error\">") != NULL);
    ASSERT(
        strstr(h, "id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\"") !=
        NULL);
    ASSERT(
        strstr(h, "id=\"login-submit\" class=\"primary\" type=\"submit\" name=\"action\" value=\"login\"") !=
        NULL);
    ASSERT(strstr(h, "id=\"login-cancel\" type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate") !=
           NULL);
    ASSERT(
        strstr(h, "<p id=\"login-error\" class=\"alert\" role=\"alert\">Wrong username or password.</p>") !=
        NULL);
    ASSERT(strstr(h, "Demo &lt;App&gt;") != NULL && strstr(h, "Demo <App>") == NULL);
    /* Tab order: username, password, submit, cancel. */
    const char *u = strstr(h, "id=\"username\""), *p = strstr(h, "id=\"password\"");
    const char *sub = strstr(h, "id=\"login-submit\""), *can = strstr(h, "id=\"login-cancel\"");
    ASSERT(u < p && p < sub && sub < can);

    /* Without an error: no alert element, no aria-describedby pointing at nothing. */
    d = common_data("Sign in");
    h = render_page(s, "login", d);
    ASSERT(page_ok(h, "Sign in"));
    ASSERT(strstr(h, "login-error") == NULL);
    ASSERT(strstr(h, "value=\"\" autocomplete=\"username\"") != NULL);
    tmpl_set_free(s);
}

TEST(tmpl_page_consent)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    json_t *d = common_data("Allow access");
    json_object_set_new(d, "action", json_string("/interaction/i1/consent"));
    json_object_set_new(d, "interaction", json_string("i1"));
    json_object_set_new(d, "csrf", json_string("c1"));
    json_object_set_new(d, "client_name", json_string("Photo Printer"));
    json_object_set_new(d, "client_id", json_string("printer"));
    json_object_set_new(d, "user", json_string("Alice"));
    json_object_set_new(d, "scopes",
                        json_pack("[{s:s,s:s},{s:s}]", "name", "photos.read", "description",
                                  "See your photos", "name", "email"));
    json_object_set_new(d, "resources", json_pack("[{s:s}]", "identifier", "https://api.example.com/"));
    json_object_set_new(d, "offline", json_true());
    const char *h = render_page(s, "consent", d);
    ASSERT(page_ok(h, "Allow access"));
    ASSERT(strstr(h, "Photo Printer wants to:") != NULL);
    ASSERT(strstr(h, "<li>See your photos</li>") != NULL);
    ASSERT(strstr(h, "<li>email</li>") != NULL); /* no description: the scope name */
    ASSERT(strstr(h, "https://api.example.com/") != NULL);
    ASSERT(strstr(h, "id=\"consent-offline\"") != NULL && strstr(h, "offline access") != NULL);
    ASSERT(strstr(h, "Signed in as Alice") != NULL);
    ASSERT(strstr(h, "<form id=\"consent-form\" method=\"post\" action=\"/interaction/i1/consent\">") !=
           NULL);
    ASSERT(strstr(h, "name=\"interaction\" value=\"i1\"") != NULL &&
           strstr(h, "name=\"csrf\" value=\"c1\"") != NULL);
    ASSERT(
        strstr(h,
               "id=\"consent-allow\" class=\"primary\" type=\"submit\" name=\"decision\" value=\"allow\"") !=
        NULL);
    ASSERT(strstr(h, "id=\"consent-deny\" type=\"submit\" name=\"decision\" value=\"deny\"") != NULL);
    ASSERT(strstr(h, "<code id=\"consent-client-id\">printer</code>") != NULL);

    /* No offline access, no APIs: neither is mentioned. */
    d = common_data("Allow access");
    json_object_set_new(d, "client_name", json_string("App"));
    json_object_set_new(d, "scopes",
                        json_pack("[{s:s,s:s}]", "name", "profile", "description", "Know your name"));
    json_object_set_new(d, "offline", json_false());
    json_object_set_new(d, "resources", json_array());
    h = render_page(s, "consent", d);
    ASSERT(page_ok(h, "Allow access"));
    ASSERT(strstr(h, "App wants to:") != NULL);
    ASSERT(strstr(h, "offline") == NULL && strstr(h, "Use the API") == NULL);
    tmpl_set_free(s);
}

TEST(tmpl_page_error)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    json_t *d = common_data("Error");
    json_object_set_new(d, "error", json_string("invalid_request"));
    json_object_set_new(d, "error_description", json_string("The redirect_uri is not registered <here>."));
    const char *h = render_page(s, "error", d);
    ASSERT(page_ok(h, "Error"));
    ASSERT(strstr(h, "Something went wrong") != NULL);
    ASSERT(strstr(h, "<code id=\"error-code\">invalid_request</code>") != NULL);
    ASSERT(strstr(h, "The redirect_uri is not registered &lt;here&gt;.") != NULL);
    ASSERT(strstr(h, "<code id=\"request-id\">rid-123</code>") != NULL);
    ASSERT(strstr(h, "<a ") == NULL && strstr(h, "<form") == NULL); /* no way back to the client */
    tmpl_set_free(s);
}

TEST(tmpl_page_logout)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    json_t *d = common_data("Sign out");
    json_object_set_new(d, "action", json_string("/session/end/confirm"));
    json_object_set_new(d, "csrf", json_string("c2"));
    json_object_set_new(d, "logout", json_string("L0"));
    json_object_set_new(d, "client_name", json_string("Shop"));
    json_object_set_new(d, "user", json_string("bob"));
    const char *h = render_page(s, "logout", d);
    ASSERT(page_ok(h, "Sign out"));
    ASSERT(strstr(h, "Sign out of Shop?") != NULL);
    ASSERT(strstr(h, "You are signed in as bob.") != NULL);
    ASSERT(strstr(h, "<form id=\"logout-form\" method=\"post\" action=\"/session/end/confirm\">") != NULL);
    ASSERT(strstr(h, "name=\"csrf\" value=\"c2\"") != NULL &&
           strstr(h, "name=\"logout\" value=\"L0\"") != NULL);
    ASSERT(
        strstr(h,
               "id=\"logout-confirm\" class=\"primary\" type=\"submit\" name=\"decision\" value=\"yes\"") !=
        NULL);
    ASSERT(strstr(h, "id=\"logout-cancel\" type=\"submit\" name=\"decision\" value=\"no\"") != NULL);
    d = common_data("Sign out");
    h = render_page(s, "logout", d);
    ASSERT(strstr(h, "<h1 id=\"page-heading\">Sign out?</h1>") != NULL);

    d = common_data("Signed out");
    json_object_set_new(d, "client_name", json_string("Shop"));
    h = render_page(s, "logged_out", d);
    ASSERT(page_ok(h, "Signed out"));
    ASSERT(strstr(h, "You are signed out") != NULL && strstr(h, "signed out of Shop") != NULL);
    d = common_data("Signed out");
    h = render_page(s, "logged_out", d);
    ASSERT(strstr(h, "You are signed out") != NULL && strstr(h, "logged-out-client") == NULL);
    tmpl_set_free(s);
}

TEST(tmpl_page_select_account)
{
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(NULL, &s, &err), 0);
    json_t *d = common_data("Choose an account");
    json_object_set_new(d, "action", json_string("/interaction/i2/select"));
    json_object_set_new(d, "interaction", json_string("i2"));
    json_object_set_new(d, "csrf", json_string("c3"));
    json_object_set_new(d, "user", json_string("carol"));
    const char *h = render_page(s, "select_account", d);
    ASSERT(page_ok(h, "Choose an account"));
    ASSERT(strstr(h, "<form id=\"select-form\" method=\"post\" action=\"/interaction/i2/select\">") != NULL);
    ASSERT(strstr(h, "name=\"interaction\" value=\"i2\"") != NULL &&
           strstr(h, "name=\"csrf\" value=\"c3\"") != NULL);
    ASSERT(strstr(h, "id=\"select-continue\" class=\"primary\" type=\"submit\" name=\"decision\" "
                     "value=\"continue\">Continue as carol</button>") != NULL);
    ASSERT(
        strstr(h,
               "id=\"select-other\" type=\"submit\" name=\"decision\" value=\"other\">Use another account") !=
        NULL);
    tmpl_set_free(s);
}

/* ---- loading from a directory ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

TEST(tmpl_set_from_dir)
{
    char dir[] = "/tmp/ostiary-tmpl-XXXXXX";
    ASSERT(mkdtemp(dir) != NULL);
    write_file(dir, "login.html", "custom {{user}}");
    write_file(dir, "style.css", "body{}");
    struct tmpl_set *s;
    struct errbuf err;
    ASSERT_EQ(tmpl_set_load(dir, &s, &err), 0);
    ASSERT_STREQ(render_page(s, "login", json_pack("{s:s}", "user", "<u>")), "custom &lt;u&gt;");
    /* consent.html is not in dir: the built-in one is used. */
    const char *h = render_page(s, "consent", NULL);
    ASSERT(h != NULL && strstr(h, "id=\"consent-form\"") != NULL);
    size_t len;
    ASSERT_STREQ(tmpl_set_css(s, &len), "body{}");
    ASSERT_EQ(len, 6);
    tmpl_set_free(s);

    /* A broken template in dir is an error naming the file and the line. */
    write_file(dir, "error.html", "ok\n{{#x}}\n");
    s = (struct tmpl_set *)1;
    ASSERT(tmpl_set_load(dir, &s, &err) != 0);
    ASSERT(s == NULL);
    ASSERT_STREQ(err.msg, "error.html: line 2: unclosed section 'x'");
    remove_file(dir, "error.html");

    /* A file over the size cap is refused rather than cut. */
    char *big = malloc(256 * 1024 + 2);
    memset(big, 'x', 256 * 1024 + 1);
    big[256 * 1024 + 1] = '\0';
    write_file(dir, "logout.html", big);
    free(big);
    ASSERT(tmpl_set_load(dir, &s, &err) != 0);
    ASSERT(strstr(err.msg, "logout.html") != NULL);
    remove_file(dir, "logout.html");

    /* A directory where a file should be is an error too. */
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/select_account.html", dir);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    ASSERT(tmpl_set_load(dir, &s, &err) != 0);
    ASSERT(strstr(err.msg, "select_account.html") != NULL);
    rmdir(sub);

    remove_file(dir, "login.html");
    remove_file(dir, "style.css");
    /* An empty directory: everything built in. */
    ASSERT_EQ(tmpl_set_load(dir, &s, &err), 0);
    ASSERT(strstr(tmpl_set_css(s, &len), ":focus-visible") != NULL);
    tmpl_set_free(s);
    rmdir(dir);
}

TESTS(T(tmpl_plain_text), T(tmpl_variables), T(tmpl_escaping), T(tmpl_dotted_names), T(tmpl_sections_arrays),
      T(tmpl_sections_values), T(tmpl_inverted), T(tmpl_nested), T(tmpl_comments_and_standalone),
      T(tmpl_parse_errors), T(tmpl_limits), T(tmpl_null_safety), T(tmpl_pages_builtin_parse),
      T(tmpl_page_login), T(tmpl_page_consent), T(tmpl_page_error), T(tmpl_page_logout),
      T(tmpl_page_select_account), T(tmpl_set_from_dir))
