/* config_schema.c: the tables of the settings declared in config_keys.h (one per mapping: its keys, types,
 * offsets, defaults and bounds), and what is driven by them alone: defaults, setting a value from text,
 * release, the file positions of values, and the key table of docs/configuration.md. */
#include "core/config_schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "core/validate.h"
#include "core/banned.h"

/* ------------------------------------------------------------------------------------------------------
 * The tables. One function per mapping returns its table: the rows are generated from config_keys.h
 * with offsetof() on the struct the mapping fills, named by a typedef local to the function.
 * ------------------------------------------------------------------------------------------------------ */

#define ROW(name, type, def, min, max, flags, doc) ROW_##type(name, def, min, max, flags, doc)
#define ROW_OF(n, t, cnt, sub, def, min, max, flags, doc)                                                    \
    {#n, t, offsetof(cfg_row_struct, n), cnt, def, min, max, flags, doc, sub},
#define ROW_STR(n, ...) ROW_OF(n, CFG_STR, 0, NULL, __VA_ARGS__)
#define ROW_U32(n, ...) ROW_OF(n, CFG_U32, 0, NULL, __VA_ARGS__)
#define ROW_BOOL(n, ...) ROW_OF(n, CFG_BOOL, 0, NULL, __VA_ARGS__)
#define ROW_BOOLSTR(n, ...) ROW_OF(n, CFG_BOOLSTR, 0, NULL, __VA_ARGS__)
#define ROW_LIST(n, ...) ROW_OF(n, CFG_LIST, offsetof(cfg_row_struct, n_##n), NULL, __VA_ARGS__)
#define ROW_ADDRESS(n, ...) ROW_OF(n, CFG_ADDRESS, 0, address_map, __VA_ARGS__)
#define ROW_SECTION(n, ...) ROW_OF(n, CFG_SECTION, 0, n##_map, __VA_ARGS__)

#define MAP_FN(fn, type, ROWS)                                                                               \
    static const struct cfg_map *fn(void)                                                                    \
    {                                                                                                        \
        typedef type cfg_row_struct;                                                                         \
        static const struct cfg_field fields[] = {ROWS(ROW)};                                                \
        static const struct cfg_map map = {fields, sizeof(fields) / sizeof(fields[0]), sizeof(type)};        \
        return &map;                                                                                         \
    }

MAP_FN(address_map, struct cfg_address, CONFIG_ADDRESS)
#define SECTION_MAP(sec, ROWS) MAP_FN(sec##_map, struct cfg_##sec, ROWS)
CONFIG_SUBSECTIONS(SECTION_MAP)
CONFIG_SECTIONS(SECTION_MAP)
#define ENTRY_MAP(name, type, ROWS, max) MAP_FN(name##_map, struct type, ROWS)
CONFIG_ENTRIES(ENTRY_MAP)

/* The top level: its settings, then the sections, then the lists of mappings. */
#define SECTION_ROW(sec, ROWS)                                                                               \
    {#sec, CFG_SECTION, offsetof(struct config, sec), 0, NULL, 0, 0, 0, NULL, sec##_map},
#define ENTRIES_ROW(name, type, ROWS, max)                                                                   \
    {#name, CFG_ENTRIES, offsetof(struct config, name), offsetof(struct config, n_##name), NULL, 0, max, 0,  \
     NULL,  name##_map},
#define TOP_ROWS(R) CONFIG_TOP(R) CONFIG_SECTIONS(SECTION_ROW) CONFIG_ENTRIES(ENTRIES_ROW)
MAP_FN(top_map, struct config, TOP_ROWS)

const struct cfg_map *cfg_top_map(void)
{
    return top_map();
}

/* The settings of map m (at offset base in struct config, under path prefix), sections within it included. */
static void add_settings(struct cfg_setting *out, size_t *n, const char *prefix, const struct cfg_map *m,
                         size_t base)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct cfg_field *f = &m->fields[i];
        char path[sizeof(out->path)];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", f->name);
        if (f->type == CFG_SECTION) {
            add_settings(out, n, path, f->sub(), base + f->off);
        } else if (f->type != CFG_ENTRIES) {
            if (*n >= CFG_MAX_SETTINGS)
                abort(); /* the declaration outgrew CFG_MAX_SETTINGS */
            struct cfg_setting *s = &out[(*n)++];
            memcpy(s->path, path, sizeof(path));
            s->f = f;
            s->off = base + f->off;
            s->count_off = base + f->count_off;
        }
    }
}

size_t cfg_settings(struct cfg_setting *out)
{
    size_t n = 0;
    add_settings(out, &n, "", top_map(), 0);
    return n;
}

/* The setting named by path, or false. */
static bool cfg_setting_find(const char *path, struct cfg_setting *out)
{
    struct cfg_setting all[CFG_MAX_SETTINGS];
    size_t n = cfg_settings(all);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].path, path) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

void cfg_env_name(const char *path, char out[96])
{
    size_t o = (size_t)snprintf(out, 96, "OSTIARY_");
    for (; *path != '\0' && o + 1 < 96; path++)
        out[o++] = *path == '.' ? '_' : (char)toupper((unsigned char)*path);
    out[o] = '\0';
}

/* ------------------------------------------------------------------------------------------------------
 * Values.
 * ------------------------------------------------------------------------------------------------------ */

void *cfg_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        abort();
    return p;
}

char *cfg_xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        abort();
    return p;
}

void cfg_free_list(char **list, unsigned n)
{
    if (list == NULL)
        return;
    for (unsigned i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void config_set_str(char **field, const char *value)
{
    char *copy = value != NULL ? cfg_xstrndup(value, strlen(value)) : NULL;
    free(*field);
    *field = copy;
}

int cfg_set_text(struct config *cfg, const struct cfg_setting *s, const char *value, const char *where,
                 struct errbuf *err)
{
    char buf[STR_SHOWN_SIZE];
    switch (s->f->type) {
    case CFG_STR:
        config_set_str(CFG_FIELD(cfg, s->off, char *), value);
        return 0;
    case CFG_U32:
        if (parse_u32(value, CFG_FIELD(cfg, s->off, uint32_t)) != 0) {
            errbuf_set(err, "%s: invalid unsigned integer '%s'", where, str_shown(value, buf));
            return ERR_INVALID;
        }
        return 0;
    case CFG_BOOL:
        if (parse_bool(value, CFG_FIELD(cfg, s->off, bool)) != 0) {
            errbuf_set(err, "%s: invalid boolean '%s' (expected true/false, yes/no or 1/0)", where,
                       str_shown(value, buf));
            return ERR_INVALID;
        }
        return 0;
    case CFG_LIST: {
        /* Comma-separated; blanks around items are ignored; an empty value is an empty list. The cap is
         * config_validate's to check, as for the file's lists. */
        size_t cap = 1;
        for (const char *p = value; *p != '\0'; p++)
            cap += *p == ',';
        char **list = cfg_xcalloc(cap, sizeof(char *));
        unsigned n = 0;
        struct str item;
        for (const char *c = *value != '\0' ? value : NULL; str_list_next(&c, " \t", &item);) {
            if (item.len == 0) {
                errbuf_set(err, "%s: empty item in comma-separated list", where);
                cfg_free_list(list, n);
                return ERR_INVALID;
            }
            list[n++] = cfg_xstrndup(item.p, item.len);
        }
        char ***field = CFG_FIELD(cfg, s->off, char **);
        unsigned *count = CFG_FIELD(cfg, s->count_off, unsigned);
        cfg_free_list(*field, *count);
        *field = list;
        *count = n;
        return 0;
    }
    default:
        return ERR_INVALID;
    }
}

struct config *cfg_defaults(void)
{
    struct config *cfg = cfg_xcalloc(1, sizeof(*cfg));
    struct cfg_setting all[CFG_MAX_SETTINGS];
    size_t n = cfg_settings(all);
    for (size_t i = 0; i < n; i++) {
        /* Defaults are ours and always parse. */
        if (all[i].f->def != NULL && cfg_set_text(cfg, &all[i], all[i].f->def, all[i].path, NULL) != 0)
            abort();
    }
    return cfg;
}

int config_set(struct config *cfg, const char *path, const char *value, const char *where, struct errbuf *err)
{
    struct cfg_setting s;
    if (!cfg_setting_find(path, &s)) {
        errbuf_set(err, "%s: not a setting", path);
        return ERR_INVALID;
    }
    int rc = cfg_set_text(cfg, &s, value, where, err);
    if (rc == 0)
        cfg_position_forget(cfg, path);
    return rc;
}

static void free_map(const struct cfg_map *m, void *base)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct cfg_field *f = &m->fields[i];
        switch (f->type) {
        case CFG_STR:
        case CFG_BOOLSTR: {
            char *s = *CFG_FIELD(base, f->off, char *);
            /* Secrets do not linger in freed heap memory. */
            if (s != NULL && (f->flags & CFG_SECRET))
                explicit_bzero(s, strlen(s));
            free(s);
            break;
        }
        case CFG_LIST:
            cfg_free_list(*CFG_FIELD(base, f->off, char **), *CFG_FIELD(base, f->count_off, unsigned));
            break;
        case CFG_ADDRESS: {
            void *p = *CFG_FIELD(base, f->off, void *);
            if (p != NULL)
                free_map(f->sub(), p);
            free(p);
            break;
        }
        case CFG_SECTION:
            free_map(f->sub(), CFG_FIELD(base, f->off, char));
            break;
        case CFG_ENTRIES: {
            char *v = *CFG_FIELD(base, f->off, char *);
            const struct cfg_map *sub = f->sub();
            for (unsigned k = 0; v != NULL && k < *CFG_FIELD(base, f->count_off, unsigned); k++)
                free_map(sub, v + k * sub->size);
            free(v);
            break;
        }
        case CFG_U32:
        case CFG_BOOL:
            break;
        }
    }
}

/* ------------------------------------------------------------------------------------------------------
 * Where the file had each value.
 * ------------------------------------------------------------------------------------------------------ */

struct cfg_pos {
    const char *path; /* NULL once forgotten */
    uint32_t line, col;
};

struct config_positions {
    struct arena *a;    /* the paths */
    const char *source; /* the file name, or NULL */
    struct cfg_pos *v;
    size_t n, cap;
};

void cfg_positions_init(struct config *cfg, const char *source)
{
    struct config_positions *p = cfg_xcalloc(1, sizeof(*p));
    p->a = arena_new(16384);
    p->source = source != NULL ? arena_strdup(p->a, source) : NULL;
    cfg->positions = p;
}

void cfg_position_record(struct config *cfg, const char *path, unsigned line, unsigned col)
{
    struct config_positions *p = cfg->positions;
    if (p == NULL)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap > 0 ? p->cap * 2 : 256;
        p->v = realloc(p->v, p->cap * sizeof(*p->v));
        if (p->v == NULL)
            abort();
    }
    p->v[p->n++] = (struct cfg_pos){arena_strdup(p->a, path), line, col};
}

void cfg_position_forget(struct config *cfg, const char *path)
{
    struct config_positions *p = cfg->positions;
    size_t len = strlen(path);
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        const char *q = p->v[i].path;
        if (q != NULL && strncmp(q, path, len) == 0 && (q[len] == '\0' || q[len] == '.' || q[len] == '['))
            p->v[i].path = NULL;
    }
}

bool config_position(const struct config *cfg, const char *path, unsigned *line, unsigned *col)
{
    const struct config_positions *p = cfg->positions;
    char buf[CFG_PATH_MAX];
    if (p == NULL || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return false;
    for (;;) {
        for (size_t i = p->n; i > 0; i--) {
            if (p->v[i - 1].path != NULL && strcmp(p->v[i - 1].path, buf) == 0) {
                *line = p->v[i - 1].line;
                *col = p->v[i - 1].col;
                return true;
            }
        }
        /* Up to the entry of a list of mappings, never beyond: a setting the environment replaced must not
         * be blamed on the section the file wrote around it. */
        char *dot = strrchr(buf, '.'), *bracket = strrchr(buf, '[');
        char *cut = dot > bracket ? dot : bracket;
        if (cut == NULL)
            return false;
        *cut = '\0';
        if (strchr(buf, '[') == NULL)
            return false;
    }
}

void config_error(const struct config *cfg, struct errbuf *err, const char *path, const char *fmt, ...)
{
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned line, col;
    if (!config_position(cfg, path, &line, &col))
        errbuf_set(err, "%s: %s", path, msg);
    else if (cfg->positions->source != NULL)
        errbuf_set(err, "%s:%u:%u: %s: %s", cfg->positions->source, line, col, path, msg);
    else
        errbuf_set(err, "%u:%u: %s: %s", line, col, path, msg);
}

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    free_map(top_map(), cfg);
    free(cfg->issuer_path);
    if (cfg->key_secret != NULL)
        explicit_bzero(cfg->key_secret, strlen(cfg->key_secret));
    free(cfg->key_secret);
    free(cfg->listen_host);
    free(cfg->admin_listen_host);
    free(cfg->trusted_proxy_nets);
    if (cfg->positions != NULL) {
        arena_free(cfg->positions->a);
        free(cfg->positions->v);
        free(cfg->positions);
    }
    free(cfg);
}

/* ------------------------------------------------------------------------------------------------------
 * Reload: the settings read at start only.
 * ------------------------------------------------------------------------------------------------------ */

static bool str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool setting_same(const struct cfg_setting *s, const struct config *a, const struct config *b)
{
    switch (s->f->type) {
    case CFG_STR:
        return str_same(*CFG_FIELD(a, s->off, char *), *CFG_FIELD(b, s->off, char *));
    case CFG_U32:
        return *CFG_FIELD(a, s->off, uint32_t) == *CFG_FIELD(b, s->off, uint32_t);
    case CFG_BOOL:
        return *CFG_FIELD(a, s->off, bool) == *CFG_FIELD(b, s->off, bool);
    case CFG_LIST: {
        unsigned na = *CFG_FIELD(a, s->count_off, unsigned), nb = *CFG_FIELD(b, s->count_off, unsigned);
        char **la = *CFG_FIELD(a, s->off, char **), **lb = *CFG_FIELD(b, s->off, char **);
        if (na != nb)
            return false;
        for (unsigned i = 0; i < na; i++)
            if (!str_same(la[i], lb[i]))
                return false;
        return true;
    }
    default:
        return true;
    }
}

static void setting_copy(const struct cfg_setting *s, struct config *to, const struct config *from)
{
    switch (s->f->type) {
    case CFG_STR: {
        char **field = CFG_FIELD(to, s->off, char *);
        if ((s->f->flags & CFG_SECRET) != 0 && *field != NULL)
            explicit_bzero(*field, strlen(*field));
        config_set_str(field, *CFG_FIELD(from, s->off, char *));
        break;
    }
    case CFG_U32:
        *CFG_FIELD(to, s->off, uint32_t) = *CFG_FIELD(from, s->off, uint32_t);
        break;
    case CFG_BOOL:
        *CFG_FIELD(to, s->off, bool) = *CFG_FIELD(from, s->off, bool);
        break;
    case CFG_LIST: {
        unsigned n = *CFG_FIELD(from, s->count_off, unsigned);
        char **src = *CFG_FIELD(from, s->off, char **);
        cfg_free_list(*CFG_FIELD(to, s->off, char **), *CFG_FIELD(to, s->count_off, unsigned));
        char **dst = cfg_xcalloc(n + 1, sizeof(char *));
        for (unsigned i = 0; i < n; i++)
            dst[i] = src[i] != NULL ? cfg_xstrndup(src[i], strlen(src[i])) : NULL;
        *CFG_FIELD(to, s->off, char **) = dst;
        *CFG_FIELD(to, s->count_off, unsigned) = n;
        break;
    }
    default:
        break;
    }
    cfg_position_forget(to, s->path);
}

size_t config_keep_restart_settings(struct config *next, const struct config *running,
                                   struct strbuf *changed)
{
    struct cfg_setting all[CFG_MAX_SETTINGS];
    size_t n = cfg_settings(all), kept = 0;
    for (size_t i = 0; i < n; i++) {
        if ((all[i].f->flags & CFG_RESTART) == 0 || setting_same(&all[i], next, running))
            continue;
        setting_copy(&all[i], next, running);
        if (kept++ > 0)
            strbuf_addc(changed, ' ');
        strbuf_adds(changed, all[i].path);
    }
    return kept;
}

/* ------------------------------------------------------------------------------------------------------
 * Documentation.
 * ------------------------------------------------------------------------------------------------------ */

void config_doc_table(struct strbuf *out)
{
    struct cfg_setting all[CFG_MAX_SETTINGS];
    size_t n = cfg_settings(all);
    strbuf_adds(out, "| key | environment variable | default | on SIGHUP | accepted values |\n"
                     "|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const struct cfg_field *f = all[i].f;
        char env[96];
        cfg_env_name(all[i].path, env);
        strbuf_addf(out, "| `%s` | `%s` | ", all[i].path, env);
        if (f->type == CFG_LIST)
            strbuf_addf(out, "`[%s]`", f->def != NULL ? f->def : "");
        else if (f->def != NULL)
            strbuf_addf(out, "`%s`", f->def);
        else
            strbuf_adds(out, "unset");
        strbuf_adds(out, (f->flags & CFG_RESTART) != 0 ? " | restart | " : " | reloaded | ");
        if (f->type == CFG_U32)
            strbuf_addf(out, "%u..%u%s", f->min, f->max, f->doc[0] == ';' || f->doc[0] == ':' ? "" : " ");
        strbuf_adds(out, f->doc);
        if (f->type == CFG_LIST)
            strbuf_addf(out, "; at most %u entries; in the environment a comma-separated list", f->max);
        strbuf_adds(out, " |\n");
    }
}

bool config_entry_fields(const char *list, struct strbuf *out)
{
    const struct cfg_map *m = NULL;
    if (strcmp(list, "users.address") == 0) {
        m = address_map();
    } else {
        const struct cfg_map *top = top_map();
        for (size_t i = 0; i < top->n && m == NULL; i++)
            if (top->fields[i].type == CFG_ENTRIES && strcmp(top->fields[i].name, list) == 0)
                m = top->fields[i].sub();
    }
    if (m == NULL)
        return false;
    for (size_t i = 0; i < m->n; i++)
        strbuf_addf(out, "%s\n", m->fields[i].name);
    return true;
}
