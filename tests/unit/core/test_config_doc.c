/* test_config_doc.c: proves that docs/configuration.md describes the settings declared in
 * src/core/config_keys.h: its key table is exactly config_doc_table(), and the tables of resources, clients
 * and users name exactly the declared fields. `make docs` runs this binary with --write, which rewrites
 * the key table from the declaration. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/config.h"
#include "core/str.h"

#include "harness.h"
#include "core/banned.h"

#ifndef OSTIARY_SOURCE_DIR
#define OSTIARY_SOURCE_DIR "."
#endif
#define DOC OSTIARY_SOURCE_DIR "/docs/configuration.md"
#define BEGIN_MARK "<!-- BEGIN config-keys: generated from src/core/config_keys.h by `make docs` -->\n"
#define END_MARK "<!-- END config-keys -->\n"

static char *read_doc(void)
{
    FILE *f = fopen(DOC, "rb");
    if (f == NULL)
        return NULL;
    static char buf[256 * 1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static const char *generated(struct arena *a)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 64 * 1024);
    config_doc_table(&sb);
    return sb.buf;
}

/* The text between the markers, or NULL. */
static const char *key_table(struct arena *a, const char *doc)
{
    const char *b = strstr(doc, BEGIN_MARK), *e = strstr(doc, END_MARK);
    if (b == NULL || e == NULL || e < b)
        return NULL;
    b += strlen(BEGIN_MARK);
    return arena_strndup(a, b, (size_t)(e - b));
}

TEST(config_doc_key_table_is_the_declaration)
{
    struct arena *a = arena_new(4096);
    const char *doc = read_doc();
    ASSERT(doc != NULL);
    const char *table = key_table(a, doc);
    ASSERT(table != NULL);
    const char *want = generated(a);
    if (strcmp(table, want) != 0)
        fprintf(stderr, "  docs/configuration.md's key table differs from src/core/config_keys.h; run `make docs`.\n"
                        "  want:\n%s", want);
    ASSERT_STREQ(table, want);
    arena_free(a);
}

/* The backquoted names of the first column of the first table after `heading` (for the address row, of
 * its second column too), one per line. */
static const char *doc_fields(struct arena *a, const char *doc, const char *heading, bool address)
{
    struct strbuf sb;
    strbuf_init(&sb, a, 8192);
    const char *p = strstr(doc, heading);
    if (p == NULL)
        return "";
    p = strstr(p, "\n|");
    for (int row = 0; p != NULL && p[1] == '|'; row++) {
        const char *line = p + 1, *end = strchr(line, '\n');
        if (end == NULL)
            break;
        p = end;
        if (row < 2) /* the header and the |---| row */
            continue;
        const char *cell = line + 1, *cell_end = memchr(cell, '|', (size_t)(end - cell));
        if (address) {
            if (strncmp(cell, " `address` |", 12) != 0)
                continue;
            cell = cell_end + 1;
            cell_end = memchr(cell, '|', (size_t)(end - cell));
        }
        for (const char *q = cell; q != NULL && q < cell_end;) {
            const char *o = memchr(q, '`', (size_t)(cell_end - q));
            const char *c = o != NULL ? memchr(o + 1, '`', (size_t)(cell_end - o - 1)) : NULL;
            if (c == NULL)
                break;
            strbuf_addf(&sb, "%.*s\n", (int)(c - o - 1), o + 1);
            q = c + 1;
        }
    }
    return sb.buf;
}

/* The lines of a, sorted, as one string (the doc may order the fields its own way). */
static int cmp_lines(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}
static const char *sorted(struct arena *a, const char *lines)
{
    char *copy = arena_strdup(a, lines);
    char *v[256];
    size_t n = 0;
    for (char *s = copy; *s != '\0' && n < 256;) {
        char *nl = strchr(s, '\n');
        v[n++] = s;
        if (nl == NULL)
            break;
        *nl = '\0';
        s = nl + 1;
    }
    qsort(v, n, sizeof(v[0]), cmp_lines);
    struct strbuf sb;
    strbuf_init(&sb, a, 8192);
    for (size_t i = 0; i < n; i++)
        strbuf_addf(&sb, "%s\n", v[i]);
    return sb.buf;
}

TEST(config_doc_entry_tables_name_the_declared_fields)
{
    static const struct {
        const char *list, *heading;
        bool address;
    } tables[] = {
        {"resources", "### `resources`", false},
        {"clients", "### `clients`", false},
        {"users", "### `users`", false},
        {"users.address", "### `users`", true},
    };
    struct arena *a = arena_new(4096);
    const char *doc = read_doc();
    ASSERT(doc != NULL);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        struct strbuf want;
        strbuf_init(&want, a, 8192);
        ASSERT(config_entry_fields(tables[i].list, &want));
        const char *got = sorted(a, doc_fields(a, doc, tables[i].heading, tables[i].address));
        const char *w = sorted(a, want.buf);
        if (strcmp(got, w) != 0)
            fprintf(stderr, "  %s: the table of docs/configuration.md names\n%s  the declaration\n%s", tables[i].list,
                    got, w);
        ASSERT_STREQ(got, w);
    }
    arena_free(a);
}

/* --write: replaces the key table of docs/configuration.md with the declaration's. */
static int write_doc(void)
{
    struct arena *a = arena_new(4096);
    const char *doc = read_doc();
    const char *b = doc != NULL ? strstr(doc, BEGIN_MARK) : NULL;
    const char *e = doc != NULL ? strstr(doc, END_MARK) : NULL;
    if (b == NULL || e == NULL || e < b) {
        fprintf(stderr, "%s: no %s and %s markers\n", DOC, BEGIN_MARK, END_MARK);
        return 1;
    }
    FILE *f = fopen(DOC, "wb");
    if (f == NULL)
        return 1;
    fprintf(f, "%.*s%s%s", (int)(b - doc + strlen(BEGIN_MARK)), doc, generated(a), e);
    int rc = fclose(f) == 0 ? 0 : 1;
    arena_free(a);
    return rc;
}

#define main tests_main
TESTS(T(config_doc_key_table_is_the_declaration), T(config_doc_entry_tables_name_the_declared_fields))
#undef main

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--write") == 0)
        return write_doc();
    return tests_main(argc, argv);
}
