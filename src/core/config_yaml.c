/* config_yaml.c: the configuration file (config.h): libyaml's event parser, events mapped onto the tables
 * of config_schema.c by hand, so that every message names the key path with its line and column, and every
 * node's position is kept for the checks that run after loading. Refused: a file over 1 MiB, a second
 * document, anchors and aliases (replaying them multiplies the memory a small file can claim), unknown and
 * duplicate keys, a scalar over 4096 bytes or with a NUL byte, a list over its cap. Tags are ignored:
 * every scalar is text, then converted by the checked parsers (validate.h), so "12abc", "0x10" and "maybe"
 * are refused and an absent key differs from an explicit 0. */
#include "core/config_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/str.h"
#include "core/validate.h"
#include "core/banned.h"

struct loader {
    yaml_parser_t parser;
    yaml_event_t ev;
    bool have_event;
    struct config *cfg;
    const char *name; /* the file, for messages; NULL from a buffer */
    struct errbuf *err;
    char path[CFG_PATH_MAX]; /* of the node being read; "" at the top level */
    size_t plen;
};

/* "<file>:<line>:<col>: " (or "<line>:<col>: " without a file name) for a mark. */
static void where(const struct loader *ld, const yaml_mark_t *m, char *out, size_t n)
{
    if (ld->name != NULL)
        snprintf(out, n, "%s:%zu:%zu: ", ld->name, m->line + 1, m->column + 1);
    else
        snprintf(out, n, "%zu:%zu: ", m->line + 1, m->column + 1);
}

/* An error at the current event: "<where><path>: <message>". Returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(struct loader *ld, const char *fmt, ...)
{
    char at[300], msg[sizeof(ld->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where(ld, &ld->ev.start_mark, at, sizeof(at));
    errbuf_set(ld->err, "%s%s: %s", at, ld->plen > 0 ? ld->path : "top level", msg);
    return -1;
}

/* libyaml's problem texts are fixed prose: they never quote the input. */
static int fail_syntax(struct loader *ld)
{
    const yaml_parser_t *p = &ld->parser;
    const char *problem = p->problem != NULL ? p->problem : "unreadable input";
    char at[300];
    if (p->error == YAML_READER_ERROR) {
        errbuf_set(ld->err, "%s%sYAML syntax error at byte %zu: %s", ld->name != NULL ? ld->name : "",
                   ld->name != NULL ? ": " : "", p->problem_offset, problem);
        return -1;
    }
    where(ld, &p->problem_mark, at, sizeof(at));
    if (p->context != NULL)
        errbuf_set(ld->err, "%sYAML syntax error: %s (%s at %zu:%zu)", at, problem, p->context,
                   p->context_mark.line + 1, p->context_mark.column + 1);
    else
        errbuf_set(ld->err, "%sYAML syntax error: %s", at, problem);
    return -1;
}

static void drop_event(struct loader *ld)
{
    if (!ld->have_event)
        return;
    /* A scalar may be a secret: it does not linger in freed memory. */
    if (ld->ev.type == YAML_SCALAR_EVENT && ld->ev.data.scalar.value != NULL)
        explicit_bzero(ld->ev.data.scalar.value, ld->ev.data.scalar.length);
    yaml_event_delete(&ld->ev);
    ld->have_event = false;
}

/* The next event, refusing anchors and aliases. 0, or -1 with the error set. */
static int next(struct loader *ld)
{
    drop_event(ld);
    if (!yaml_parser_parse(&ld->parser, &ld->ev))
        return fail_syntax(ld);
    ld->have_event = true;
    const yaml_event_t *e = &ld->ev;
    bool anchored = (e->type == YAML_SCALAR_EVENT && e->data.scalar.anchor != NULL) ||
                    (e->type == YAML_SEQUENCE_START_EVENT && e->data.sequence_start.anchor != NULL) ||
                    (e->type == YAML_MAPPING_START_EVENT && e->data.mapping_start.anchor != NULL);
    if (anchored || e->type == YAML_ALIAS_EVENT)
        return fail(ld, "YAML anchors and aliases are not supported");
    return 0;
}

static const char *event_name(const yaml_event_t *e)
{
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        return "a scalar";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "something else";
    }
}

static int expect(struct loader *ld, yaml_event_type_t type, const char *what)
{
    if (ld->ev.type != type)
        return fail(ld, "expected %s, got %s", what, event_name(&ld->ev));
    return 0;
}

/* Appends ".name" or "[i]" to the path; returns the length to restore. */
static size_t push(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t push(struct loader *ld, const char *fmt, ...)
{
    size_t old = ld->plen;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(ld->path + ld->plen, sizeof(ld->path) - ld->plen, fmt, ap);
    va_end(ap);
    ld->plen =
        w < 0 || (size_t)w >= sizeof(ld->path) - ld->plen ? sizeof(ld->path) - 1 : ld->plen + (size_t)w;
    return old;
}

static void pop(struct loader *ld, size_t len)
{
    ld->plen = len;
    ld->path[len] = '\0';
}

static void record(struct loader *ld)
{
    if (ld->plen > 0)
        cfg_position_record(ld->cfg, ld->path, (unsigned)ld->ev.start_mark.line + 1,
                            (unsigned)ld->ev.start_mark.column + 1);
}

/* The current event as a scalar's text: capped, without NUL bytes. */
static int scalar(struct loader *ld, const char **text)
{
    if (expect(ld, YAML_SCALAR_EVENT, "a scalar value") != 0)
        return -1;
    const char *v = (const char *)ld->ev.data.scalar.value;
    size_t len = ld->ev.data.scalar.length;
    /* Never echoed: the value may be a secret. */
    if (len > CFG_MAX_STR)
        return fail(ld, "value too long (at most %u bytes)", CFG_MAX_STR);
    if (memchr(v, '\0', len) != NULL)
        return fail(ld, "must not contain a NUL character");
    *text = v;
    return 0;
}

/* A list of text: the current event starts it. An empty list leaves the field (its default) alone. */
static int load_list(struct loader *ld, const struct cfg_field *f, void *base)
{
    if (expect(ld, YAML_SEQUENCE_START_EVENT, "a list") != 0)
        return -1;
    char **list = NULL;
    unsigned n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if ((rc = next(ld)) != 0 || ld->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        if (n == f->max) {
            rc = fail(ld, "too many entries (at most %u)", f->max);
            break;
        }
        size_t at = push(ld, "[%u]", n);
        const char *text;
        rc = scalar(ld, &text);
        if (rc == 0) {
            record(ld);
            if (n == cap) {
                cap = cap > 0 ? cap * 2 : 4;
                list = realloc(list, cap * sizeof(*list));
                if (list == NULL)
                    abort();
            }
            list[n++] = cfg_xstrndup(text, strlen(text));
        }
        pop(ld, at);
        if (rc != 0)
            break;
    }
    if (rc != 0 || n == 0) {
        cfg_free_list(list, n);
        return rc;
    }
    char ***field = CFG_FIELD(base, f->off, char **);
    unsigned *count = CFG_FIELD(base, f->count_off, unsigned);
    cfg_free_list(*field, *count);
    *field = list;
    *count = n;
    return 0;
}

static int load_mapping(struct loader *ld, const struct cfg_map *m, void *base);

/* A list of mappings (resources, clients, users): the current event starts it. */
static int load_entries(struct loader *ld, const struct cfg_field *f, void *base)
{
    if (expect(ld, YAML_SEQUENCE_START_EVENT, "a list") != 0)
        return -1;
    const struct cfg_map *sub = f->sub();
    char **v = CFG_FIELD(base, f->off, char *);
    unsigned *n = CFG_FIELD(base, f->count_off, unsigned);
    unsigned cap = 0;
    for (;;) {
        if (next(ld) != 0)
            return -1;
        if (ld->ev.type == YAML_SEQUENCE_END_EVENT)
            return 0;
        if (*n == f->max)
            return fail(ld, "too many entries (at most %u)", f->max);
        if (*n == cap) {
            cap = cap > 0 ? cap * 2 : 4;
            *v = realloc(*v, cap * sub->size);
            if (*v == NULL)
                abort();
        }
        /* Counted before it is read, so that config_free() releases (and wipes) what a failure leaves. */
        char *entry = *v + (size_t)*n * sub->size;
        memset(entry, 0, sub->size);
        size_t at = push(ld, "[%u]", (*n)++);
        record(ld);
        if (expect(ld, YAML_MAPPING_START_EVENT, "a mapping") != 0 || load_mapping(ld, sub, entry) != 0)
            return -1;
        pop(ld, at);
    }
}

/* The value of field f of the struct at base: the current event starts it. */
static int load_value(struct loader *ld, const struct cfg_field *f, void *base)
{
    const char *text;
    char buf[STR_SHOWN_SIZE];
    bool b;
    switch (f->type) {
    case CFG_STR:
        if (scalar(ld, &text) != 0)
            return -1;
        config_set_str(CFG_FIELD(base, f->off, char *), text);
        return 0;
    case CFG_U32:
        if (scalar(ld, &text) != 0)
            return -1;
        if (parse_u32(text, CFG_FIELD(base, f->off, uint32_t)) != 0)
            return fail(ld, "invalid unsigned integer '%s'", str_shown(text, buf));
        return 0;
    case CFG_BOOL:
    case CFG_BOOLSTR:
        if (scalar(ld, &text) != 0)
            return -1;
        if (parse_bool(text, &b) != 0)
            return fail(ld, "invalid boolean '%s' (expected true/false, yes/no or 1/0)",
                        str_shown(text, buf));
        if (f->type == CFG_BOOL)
            *CFG_FIELD(base, f->off, bool) = b;
        else
            config_set_str(CFG_FIELD(base, f->off, char *), b ? "true" : "false");
        return 0;
    case CFG_LIST:
        return load_list(ld, f, base);
    case CFG_SECTION:
        if (expect(ld, YAML_MAPPING_START_EVENT, "a mapping") != 0)
            return -1;
        return load_mapping(ld, f->sub(), CFG_FIELD(base, f->off, char));
    case CFG_ADDRESS: {
        if (expect(ld, YAML_MAPPING_START_EVENT, "a mapping") != 0)
            return -1;
        const struct cfg_map *sub = f->sub();
        void **p = CFG_FIELD(base, f->off, void *);
        *p = cfg_xcalloc(1, sub->size);
        return load_mapping(ld, sub, *p);
    }
    case CFG_ENTRIES:
        return load_entries(ld, f, base);
    }
    return -1;
}

/* The keys of a mapping whose start is the current event, into the struct at base. */
static int load_mapping(struct loader *ld, const struct cfg_map *m, void *base)
{
    uint64_t seen = 0; /* bit k: fields[k] was given */
    if (m->n > 64)
        abort(); /* a mapping of the declaration outgrew the bitmask */
    for (;;) {
        if (next(ld) != 0)
            return -1;
        if (ld->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        const char *key;
        if (expect(ld, YAML_SCALAR_EVENT, "a scalar key") != 0 || scalar(ld, &key) != 0)
            return -1;
        size_t k = 0;
        while (k < m->n && strcmp(m->fields[k].name, key) != 0)
            k++;
        char shown[STR_SHOWN_SIZE];
        size_t at = push(ld, "%s%s", ld->plen > 0 ? "." : "", str_shown(key, shown));
        if (k == m->n)
            return fail(ld, "unknown key");
        if (seen & ((uint64_t)1 << k))
            return fail(ld, "duplicate key");
        seen |= (uint64_t)1 << k;
        if (next(ld) != 0)
            return -1;
        record(ld);
        if (load_value(ld, &m->fields[k], base) != 0)
            return -1;
        pop(ld, at);
    }
}

/* The one document of the stream. */
static int load_stream(struct loader *ld)
{
    if (next(ld) != 0 || expect(ld, YAML_STREAM_START_EVENT, "a stream") != 0 || next(ld) != 0)
        return -1;
    if (ld->ev.type == YAML_STREAM_END_EVENT)
        return 0; /* no document: the defaults */
    if (next(ld) != 0 || expect(ld, YAML_MAPPING_START_EVENT, "a mapping") != 0 ||
        load_mapping(ld, cfg_top_map(), ld->cfg) != 0)
        return -1;
    if (next(ld) != 0 || next(ld) != 0)
        return -1;
    if (ld->ev.type == YAML_DOCUMENT_START_EVENT) {
        char at[300];
        where(ld, &ld->ev.start_mark, at, sizeof(at));
        errbuf_set(ld->err, "%sonly one YAML document is allowed (found a second '---')", at);
        return -1;
    }
    return 0;
}

/* name: the file name for messages, or NULL. */
static int load_buffer_named(const char *yaml, size_t len, const char *name, struct config **out,
                             struct errbuf *err)
{
    if (len > CONFIG_MAX_FILE_BYTES) {
        errbuf_set(err, "%s%sfile too large (%zu bytes; at most %u)", name != NULL ? name : "",
                   name != NULL ? ": " : "", len, CONFIG_MAX_FILE_BYTES);
        return ERR_INVALID;
    }
    struct loader ld = {.name = name, .err = err};
    ld.cfg = cfg_defaults();
    cfg_positions_init(ld.cfg, name);
    if (!yaml_parser_initialize(&ld.parser))
        abort();
    yaml_parser_set_input_string(&ld.parser, (const unsigned char *)yaml, len);
    int rc = load_stream(&ld);
    drop_event(&ld);
    /* libyaml's buffers hold copies of the input, secrets included. */
    if (ld.parser.buffer.start != NULL)
        explicit_bzero(ld.parser.buffer.start, (size_t)(ld.parser.buffer.end - ld.parser.buffer.start));
    if (ld.parser.raw_buffer.start != NULL)
        explicit_bzero(ld.parser.raw_buffer.start,
                       (size_t)(ld.parser.raw_buffer.end - ld.parser.raw_buffer.start));
    yaml_parser_delete(&ld.parser);
    if (rc != 0) {
        config_free(ld.cfg);
        return ERR_INVALID;
    }
    *out = ld.cfg;
    return 0;
}

int config_load_buffer(const char *yaml, size_t len, struct config **out, struct errbuf *err)
{
    return load_buffer_named(yaml, len, NULL, out, err);
}

/* Reads at most CONFIG_MAX_FILE_BYTES (+1, to detect excess) into a fresh buffer. */
static int read_capped(const char *path, char **buf_out, size_t *len_out, struct errbuf *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return ERR_FAIL;
    }
    char *buf = cfg_xcalloc(CONFIG_MAX_FILE_BYTES + 1, 1);
    size_t n = fread(buf, 1, CONFIG_MAX_FILE_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        errbuf_set(err, "%s: read error", path);
        free(buf);
        return ERR_FAIL;
    }
    if (n > CONFIG_MAX_FILE_BYTES) {
        errbuf_set(err, "%s: file too large (at most %u bytes)", path, CONFIG_MAX_FILE_BYTES);
        explicit_bzero(buf, n);
        free(buf);
        return ERR_INVALID;
    }
    *buf_out = buf;
    *len_out = n;
    return 0;
}

int config_load(const char *path, char *const *envp, struct config **out, struct errbuf *err)
{
    struct config *cfg = NULL;
    int rc;
    if (path != NULL) {
        char *buf;
        size_t len;
        rc = read_capped(path, &buf, &len, err);
        if (rc != 0)
            return rc;
        rc = load_buffer_named(buf, len, path, &cfg, err);
        /* The file may hold secrets (keys.secret, client secrets, user passwords). */
        explicit_bzero(buf, len);
        free(buf);
    } else {
        rc = load_buffer_named("", 0, NULL, &cfg, err);
    }
    if (rc != 0)
        return rc;
    if (envp != NULL) {
        rc = config_apply_env(cfg, envp, err);
        if (rc != 0) {
            config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return 0;
}
