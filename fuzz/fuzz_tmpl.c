/* fuzz_tmpl.c: fuzz target for the template parser and renderer (src/ui/tmpl.c). The input is parsed
 * as a template and, when it parses, rendered with a fixed JSON document that has every kind of value
 * (strings needing escapes, numbers, booleans, null, nested objects, arrays of strings/objects/arrays).
 * Beyond memory safety it checks the renderer's promises: the output is NUL-terminated at *len, within
 * the 1 MiB cap, and never contains a raw '<' or '"' that came from data (the data's only '<', '>', '"'
 * and '\'' are in strings; the template text here is restricted so any such byte must be escaped).
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/tmpl/. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "ui/tmpl.h"
#include "core/banned.h"


static struct arena *arena;
static json_t *data;

static const char DATA[] =
    "{\"title\":\"<script>alert('x')</script>\",\"lang\":\"en\",\"issuer\":\"https://id.example\","
    "\"css_url\":\"/assets/style.css\",\"request_id\":\"r1\",\"n\":42,\"neg\":-1,\"r\":2.5,\"zero\":0,"
    "\"t\":true,\"f\":false,\"nl\":null,\"empty\":\"\",\"q\":\"\\\"'&<>\","
    "\"o\":{\"a\":{\"b\":\"deep<\"},\"s\":\"x\",\"o\":{\"o\":{\"o\":\"\\\"\"}}},\"eo\":{},\"ea\":[],"
    "\"l\":[\"a\",\"<b>\",\"c&\"],\"scopes\":[{\"name\":\"openid\",\"description\":\"Sign <you> in\"},"
    "{\"name\":\"x\"}],\"m\":[[1,2],[\"<\",[\"'\"]]],\"a\":[1,2,3],"
    "\"user\":\"Zoë \\\"Z\\\" <z@x>\",\"offline\":true}";

/* True if the template text itself can produce the bytes < > " ' (outside tags); then the output
 * check below cannot tell the template's from the data's. */
static bool text_has_specials(const uint8_t *p, size_t n)
{
    return memchr(p, '<', n) != NULL || memchr(p, '>', n) != NULL || memchr(p, '"', n) != NULL ||
           memchr(p, '\'', n) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
    if (arena == NULL) {
        arena = arena_new(65536);
        data = json_loads(DATA, 0, NULL);
        if (data == NULL)
            abort();
    }
    struct tmpl *t = NULL;
    struct errbuf err;
    int rc = tmpl_parse((const char *)buf, size, &t, &err);
    if (rc != 0) {
        if (t != NULL || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
            abort();
        /* Errors name the line (except the size cap, which has none). */
        if (strncmp(err.msg, "line ", 5) != 0 && strstr(err.msg, "larger than") == NULL)
            abort();
        return 0;
    }
    size_t len;
    bool cut;
    char *out = tmpl_render_ex(t, data, arena, &len, &cut);
    if (out == NULL || out[len] != '\0' || len > 1024 * 1024)
        abort();
    if (!text_has_specials(buf, size) &&
        (memchr(out, '<', len) || memchr(out, '>', len) || memchr(out, '"', len) || memchr(out, '\'', len)))
        abort();
    /* Rendering with no data at all must work too. */
    out = tmpl_render(t, NULL, arena, &len);
    if (out == NULL || out[len] != '\0')
        abort();
    tmpl_free(t);
    arena_reset(arena);
    return 0;
}
