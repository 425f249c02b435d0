/* tmpl.c: the page templates (web/) and their renderer, a Mustache subset that escapes everything it
 * prints (HTML text and quoted attributes). Templates are parsed once into a node tree; rendering is
 * bounded by the template's nesting, an output cap and a step budget. No partials, lambdas, unescaped
 * output or delimiter changes: those tags are parse errors. */
#include "ui/tmpl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/str.h"
#include "core/banned.h"

#define TMPL_MAX_SIZE (256 * 1024)     /* a template (or style sheet) larger than this is refused */
#define TMPL_MAX_DEPTH 32              /* sections nested deeper than this are a parse error */
#define TMPL_MAX_NAME 128              /* longest tag name */
#define TMPL_MAX_OUTPUT (1024 * 1024)  /* rendered output beyond this is cut and flagged */
#define TMPL_MAX_STEPS (1u << 20)      /* node visits per render: bounds work when sections print nothing */

/* The files built into the binary from web/ by scripts/embed-web.sh (names like "login.html"). */
extern const struct {
    const char *name;
    const char *data;
    size_t len;
} ostiary_web_assets[];
extern const size_t ostiary_web_assets_count;

enum node_kind { NODE_TEXT, NODE_VAR, NODE_SECTION, NODE_INVERTED };

struct node {
    enum node_kind kind;
    const char *text;   /* NODE_TEXT: bytes in the template's arena copy */
    size_t len;
    const char *name;   /* NODE_VAR and sections: the full name as written ("a.b", "."), NUL-terminated */
    const char **path;  /* its segments, NUL-terminated; n_path == 0 for "." (the current element) */
    size_t n_path;
    unsigned line;      /* where the tag starts, for error messages */
    struct node *child; /* sections: first node of the body */
    struct node *next;
};

struct tmpl {
    struct arena *arena; /* holds the text copy and every node */
    struct node *root;
};

/* ---------------------------------------------------------------- parsing */

struct parser {
    struct arena *a;
    const char *s;
    size_t len;
    size_t line_pos; /* line counting is incremental: `line` is the line of offset line_pos */
    unsigned line;
    /* Open sections; level 0 is the template's top level. tail[i] is where the next node of level i
     * is linked. */
    struct node *open[TMPL_MAX_DEPTH + 1];
    struct node **tail[TMPL_MAX_DEPTH + 1];
    size_t depth;
};

/* Line number of offset `off`; offsets must not go backwards between calls. */
static unsigned line_at(struct parser *p, size_t off)
{
    for (; p->line_pos < off; p->line_pos++) {
        if (p->s[p->line_pos] == '\n')
            p->line++;
    }
    return p->line;
}

static struct node *add_node(struct parser *p, enum node_kind kind, unsigned line)
{
    struct node *n = arena_alloc(p->a, sizeof(*n));
    n->kind = kind;
    n->line = line;
    *p->tail[p->depth] = n;
    p->tail[p->depth] = &n->next;
    return n;
}

static void add_text(struct parser *p, size_t from, size_t to)
{
    if (to <= from)
        return;
    struct node *n = add_node(p, NODE_TEXT, 0);
    n->text = p->s + from;
    n->len = to - from;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Validates a tag name and splits it into segments: "." alone, or segments of [A-Za-z0-9_-] joined by
 * single dots. Returns 0, or -1 if the name is empty, too long or has other characters. */
static int set_name(struct parser *p, struct node *n, const char *s, size_t len)
{
    if (len == 0 || len > TMPL_MAX_NAME)
        return -1;
    n->name = arena_strndup(p->a, s, len);
    if (len == 1 && s[0] == '.') {
        n->n_path = 0;
        return 0;
    }
    size_t segs = 1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == len - 1 || s[i - 1] == '.')
                return -1;
            segs++;
        } else if (!is_name_char(s[i])) {
            return -1;
        }
    }
    n->path = arena_alloc(p->a, segs * sizeof(*n->path));
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            n->path[k++] = arena_strndup(p->a, s + start, i - start);
            start = i + 1;
        }
    }
    n->n_path = segs;
    return 0;
}

static const char *find2(const char *s, size_t from, size_t len, char c)
{
    if (len < 2 || from > len - 2)
        return NULL;
    const char *q = memmem(s + from, len - from, c == '{' ? "{{" : "}}", 2);
    return q;
}

/* Mustache "standalone" tags: a section, inverted, close or comment tag alone on its line (only blanks
 * around it) removes the whole line from the output, so templates can put them on their own lines
 * without leaving blank lines behind. Returns true and sets the text end and the resume offset. */
static bool standalone(const struct parser *p, size_t text_from, size_t open, size_t close_end,
                       size_t *text_end, size_t *resume)
{
    size_t i = open;
    while (i > text_from && (p->s[i - 1] == ' ' || p->s[i - 1] == '\t'))
        i--;
    bool line_start = i == 0 || p->s[i - 1] == '\n';
    if (!line_start)
        return false;
    size_t j = close_end;
    while (j < p->len && (p->s[j] == ' ' || p->s[j] == '\t'))
        j++;
    if (j == p->len) {
        *resume = j;
    } else if (p->s[j] == '\n') {
        *resume = j + 1;
    } else if (p->s[j] == '\r' && j + 1 < p->len && p->s[j + 1] == '\n') {
        *resume = j + 2;
    } else {
        return false;
    }
    *text_end = i;
    return true;
}

static int parse(struct parser *p, struct errbuf *err)
{
    size_t pos = 0;
    while (pos < p->len) {
        const char *o = find2(p->s, pos, p->len, '{');
        if (o == NULL) {
            add_text(p, pos, p->len);
            break;
        }
        size_t open = (size_t)(o - p->s);
        unsigned line = line_at(p, open);
        const char *c = find2(p->s, open + 2, p->len, '}');
        if (c == NULL) {
            errbuf_set(err, "line %u: unterminated tag (no closing '}}')", line);
            return -1;
        }
        size_t close = (size_t)(c - p->s), close_end = close + 2;
        /* Tag content: optional blanks, a sigil, optional blanks, the name, optional blanks. */
        size_t b = open + 2, e = close;
        while (b < e && is_space(p->s[b]))
            b++;
        char sigil = b < e ? p->s[b] : '\0';
        switch (sigil) {
        case '{':
        case '&':
            errbuf_set(err, "line %u: unescaped output ('{{%c') is not supported", line, sigil);
            return -1;
        case '>':
        case '<':
            errbuf_set(err, "line %u: partials are not supported", line);
            return -1;
        case '=':
            errbuf_set(err, "line %u: delimiter changes are not supported", line);
            return -1;
        case '!':
        case '#':
        case '^':
        case '/':
            b++;
            break;
        default:
            sigil = '\0';
        }
        while (b < e && is_space(p->s[b]))
            b++;
        while (e > b && is_space(p->s[e - 1]))
            e--;

        size_t text_end = open, resume = close_end;
        if (sigil == '\0' || !standalone(p, pos, open, close_end, &text_end, &resume)) {
            text_end = open;
            resume = close_end;
        }
        add_text(p, pos, text_end);
        pos = resume;
        if (sigil == '!')
            continue;

        if (sigil == '/') {
            if (p->depth == 0) {
                errbuf_set(err, "line %u: closing tag with no open section", line);
                return -1;
            }
            struct node *sec = p->open[p->depth];
            if (strlen(sec->name) != e - b || memcmp(sec->name, p->s + b, e - b) != 0) {
                /* Quote the closing name only when it is a plausible name (the text goes to logs). */
                bool printable = e - b <= TMPL_MAX_NAME;
                for (size_t i = b; i < e && printable; i++)
                    printable = is_name_char(p->s[i]) || p->s[i] == '.';
                errbuf_set(err, "line %u: '{{/%.*s}}' does not close section '%s' (opened on line %u)", line,
                           printable ? (int)(e - b) : 1, printable ? p->s + b : "?", sec->name, sec->line);
                return -1;
            }
            p->depth--;
            continue;
        }

        enum node_kind kind = sigil == '#' ? NODE_SECTION : sigil == '^' ? NODE_INVERTED : NODE_VAR;
        if (kind != NODE_VAR && p->depth == TMPL_MAX_DEPTH) {
            errbuf_set(err, "line %u: sections nested deeper than %d", line, TMPL_MAX_DEPTH);
            return -1;
        }
        struct node *n = add_node(p, kind, line);
        if (set_name(p, n, p->s + b, e - b) != 0) {
            errbuf_set(err, "line %u: invalid tag name (expected letters, digits, '_', '-' and dots)", line);
            return -1;
        }
        if (kind != NODE_VAR) {
            p->depth++;
            p->open[p->depth] = n;
            p->tail[p->depth] = &n->child;
        }
    }
    if (p->depth > 0) {
        struct node *sec = p->open[p->depth];
        errbuf_set(err, "line %u: unclosed section '%s'", sec->line, sec->name);
        return -1;
    }
    return 0;
}

int tmpl_parse(const char *text, size_t len, struct tmpl **out, struct errbuf *err)
{
    *out = NULL;
    if (len > TMPL_MAX_SIZE) {
        errbuf_set(err, "template is larger than %d bytes", TMPL_MAX_SIZE);
        return ERR_INVALID;
    }
    struct tmpl *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    t->arena = arena_new(len + 4096);
    struct parser p = {
        .a = t->arena,
        .s = arena_memdup(t->arena, text != NULL ? text : "", len),
        .len = len,
        .line = 1,
    };
    p.tail[0] = &t->root;
    if (parse(&p, err) != 0) {
        tmpl_free(t);
        return ERR_INVALID;
    }
    *out = t;
    return 0;
}

void tmpl_free(struct tmpl *t)
{
    if (t == NULL)
        return;
    arena_free(t->arena);
    free(t);
}

/* ---------------------------------------------------------------- rendering */

struct render {
    struct strbuf *sb;
    /* Context stack: the data object at the bottom, then one entry per enclosing (non-inverted)
     * section. Its height is bounded by the template's nesting, not by the data. */
    json_t *stack[TMPL_MAX_DEPTH + 1];
    size_t depth;
    size_t steps;
    bool stopped; /* output cap or step budget reached */
};

/* Mustache name resolution: "." is the innermost context; otherwise the first segment is looked up
 * in the contexts from innermost to outermost, and the remaining segments only inside what it found. */
static json_t *lookup(const struct render *r, const struct node *n)
{
    if (n->n_path == 0)
        return r->stack[r->depth - 1];
    json_t *v = NULL;
    for (size_t i = r->depth; i-- > 0;) {
        if (json_is_object(r->stack[i])) {
            v = json_object_get(r->stack[i], n->path[0]);
            if (v != NULL)
                break;
        }
    }
    for (size_t k = 1; v != NULL && k < n->n_path; k++)
        v = json_is_object(v) ? json_object_get(v, n->path[k]) : NULL;
    return v;
}

static bool truthy(const json_t *v)
{
    switch (v == NULL ? JSON_NULL : json_typeof(v)) {
    case JSON_OBJECT: return true;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_INTEGER: return json_integer_value(v) != 0;
    case JSON_REAL: return json_real_value(v) != 0.0;
    case JSON_TRUE: return true;
    default: return false;
    }
}

static void print_value(struct strbuf *sb, const json_t *v)
{
    if (v == NULL)
        return;
    switch (json_typeof(v)) {
    case JSON_STRING: strbuf_add_html(sb, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: strbuf_addf(sb, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: strbuf_addf(sb, "%.15g", json_real_value(v)); break;
    default: break; /* booleans, null, objects and arrays print nothing */
    }
}

static bool step(struct render *r)
{
    if (r->stopped)
        return false;
    if (++r->steps > TMPL_MAX_STEPS || r->sb->too_big) {
        r->stopped = true;
        return false;
    }
    return true;
}

static void render_list(struct render *r, const struct node *n);

static void render_body(struct render *r, json_t *ctx, const struct node *body)
{
    /* The parser caps nesting at TMPL_MAX_DEPTH, so this never overflows. */
    if (r->depth > TMPL_MAX_DEPTH) {
        r->stopped = true;
        return;
    }
    r->stack[r->depth++] = ctx;
    render_list(r, body);
    r->depth--;
}

static void render_list(struct render *r, const struct node *n)
{
    for (; n != NULL && step(r); n = n->next) {
        switch (n->kind) {
        case NODE_TEXT: strbuf_add(r->sb, n->text, n->len); break;
        case NODE_VAR: print_value(r->sb, lookup(r, n)); break;
        case NODE_SECTION: {
            json_t *v = lookup(r, n);
            if (json_is_array(v)) {
                size_t i;
                json_t *el;
                json_array_foreach (v, i, el) {
                    if (!step(r))
                        break;
                    render_body(r, el, n->child);
                }
            } else if (truthy(v)) {
                render_body(r, v, n->child);
            }
            break;
        }
        case NODE_INVERTED:
            if (!truthy(lookup(r, n)))
                render_list(r, n->child);
            break;
        }
    }
}

/* Like tmpl_render; *truncated (optional) tells whether the output was cut short (output cap of
 * TMPL_MAX_OUTPUT bytes or step budget reached). A truncated page must not be served as is. */
char *tmpl_render_ex(const struct tmpl *t, json_t *data, struct arena *a, size_t *len, bool *truncated)
{
    struct strbuf sb;
    strbuf_init(&sb, a, TMPL_MAX_OUTPUT);
    struct render r = {.sb = &sb, .depth = 1};
    r.stack[0] = data;
    if (t != NULL)
        render_list(&r, t->root);
    if (len != NULL)
        *len = sb.len;
    if (truncated != NULL)
        *truncated = r.stopped || sb.too_big;
    return sb.buf;
}

char *tmpl_render(const struct tmpl *t, json_t *data, struct arena *a, size_t *len)
{
    return tmpl_render_ex(t, data, a, len, NULL);
}

/* ---------------------------------------------------------------- the page set */

static const char *const PAGES[] = {"login",        "consent",  "error",          "logout",     "logged_out",
                                     "select_account", "device", "device_confirm", "device_done"};
#define N_PAGES (sizeof(PAGES) / sizeof(PAGES[0]))

struct tmpl_set {
    struct tmpl *pages[N_PAGES];
    struct arena *arena; /* the style sheet */
    const char *css;
    size_t css_len;
};

static int builtin(const char *fname, const char **data, size_t *len)
{
    for (size_t i = 0; i < ostiary_web_assets_count; i++) {
        if (strcmp(ostiary_web_assets[i].name, fname) == 0) {
            *data = ostiary_web_assets[i].data;
            *len = ostiary_web_assets[i].len;
            return 0;
        }
    }
    return -1;
}

/* Reads <dir>/<fname> into arena memory (NUL-terminated). Returns 0, 1 if the file does not exist, or
 * ERR_FAIL (errbuf set) if it cannot be read, is not a regular file or is larger than TMPL_MAX_SIZE. */
static int read_file(struct arena *a, const char *dir, const char *fname, char **out, size_t *len,
                     struct errbuf *err)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, fname);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        errbuf_set(err, "%s: path too long", fname);
        return ERR_FAIL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        errbuf_set(err, "%s: %s", path, strerror(errno));
        return ERR_FAIL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TMPL_MAX_SIZE) {
        errbuf_set(err, "%s: not a regular file of at most %d bytes", path, TMPL_MAX_SIZE);
        close(fd);
        return ERR_FAIL;
    }
    /* Read one byte more than the cap, in case the file grew since fstat. */
    char *buf = arena_alloc(a, TMPL_MAX_SIZE + 2);
    size_t got = 0;
    while (got <= TMPL_MAX_SIZE) {
        ssize_t r = read(fd, buf + got, TMPL_MAX_SIZE + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            errbuf_set(err, "%s: %s", path, strerror(errno));
            close(fd);
            return ERR_FAIL;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got > TMPL_MAX_SIZE) {
        errbuf_set(err, "%s: larger than %d bytes", path, TMPL_MAX_SIZE);
        return ERR_FAIL;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

/* The text of web/<fname>: from dir when it has the file, else the built-in copy. */
static int load_text(struct arena *a, const char *dir, const char *fname, const char **text, size_t *len,
                     struct errbuf *err)
{
    if (dir != NULL) {
        char *buf;
        int rc = read_file(a, dir, fname, &buf, len, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            *text = buf;
            return 0;
        }
    }
    if (builtin(fname, text, len) != 0) {
        errbuf_set(err, "%s: no such built-in file", fname);
        return ERR_FAIL;
    }
    return 0;
}

int tmpl_set_load(const char *dir, struct tmpl_set **out, struct errbuf *err)
{
    *out = NULL;
    struct tmpl_set *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    s->arena = arena_new(16384);
    /* The files read from dir live in a scratch arena until parsed (templates copy their text). */
    struct arena *scratch = arena_new(16384);
    int rc = 0;
    for (size_t i = 0; i < N_PAGES && rc == 0; i++) {
        char fname[64];
        snprintf(fname, sizeof(fname), "%s.html", PAGES[i]);
        const char *text;
        size_t len;
        rc = load_text(scratch, dir, fname, &text, &len, err);
        if (rc == 0) {
            struct errbuf perr;
            rc = tmpl_parse(text, len, &s->pages[i], &perr);
            if (rc != 0)
                errbuf_set(err, "%s: %s", fname, perr.msg);
        }
        arena_reset(scratch);
    }
    if (rc == 0) {
        const char *text;
        size_t len;
        rc = load_text(scratch, dir, "style.css", &text, &len, err);
        if (rc == 0) {
            s->css = arena_strndup(s->arena, text, len);
            s->css_len = len;
        }
    }
    arena_free(scratch);
    if (rc != 0) {
        tmpl_set_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void tmpl_set_free(struct tmpl_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < N_PAGES; i++)
        tmpl_free(s->pages[i]);
    arena_free(s->arena);
    free(s);
}

const struct tmpl *tmpl_set_get(const struct tmpl_set *s, const char *name)
{
    if (s == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < N_PAGES; i++) {
        if (strcmp(PAGES[i], name) == 0)
            return s->pages[i];
    }
    return NULL;
}

const char *tmpl_set_css(const struct tmpl_set *s, size_t *len)
{
    if (len != NULL)
        *len = s != NULL ? s->css_len : 0;
    return s != NULL ? s->css : NULL;
}
