/* fuzz_form.c: fuzz target for application/x-www-form-urlencoded parsing (src/http/form.c): form_parse,
 * form_get and url_decode. Beyond memory safety it checks the parser's promises (http.h): every decoded
 * name and value is NUL-terminated, free of NUL bytes and valid UTF-8; the parameter cap holds; and
 * form_get agrees with the parsed list. A broken promise aborts, so libFuzzer reports it as a crash.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/form/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/str.h"
#include "http/http.h"
#include "core/banned.h"

static struct arena *arena;

static void check_decoded(struct str s)
{
    if (s.p == NULL || s.p[s.len] != '\0' || memchr(s.p, '\0', s.len) != NULL || !utf8_valid(s.p, s.len))
        abort();
}

static void check_form(const char *s, size_t n, size_t max_params)
{
    struct form f;
    int rc = form_parse(arena, s, n, max_params, &f);
    if (rc != FORM_OK && rc != FORM_ERR_TOO_MANY && rc != FORM_ERR_ENCODING && rc != FORM_ERR_UTF8 &&
        rc != FORM_ERR_NUL)
        abort();
    if (rc != FORM_OK)
        return;
    if (f.n > max_params)
        abort();
    for (size_t i = 0; i < f.n; i++) {
        check_decoded(f.params[i].name);
        check_decoded(f.params[i].value);
        /* A parameter with a value must be found (once, or reported as repeated). */
        struct str v;
        int g = form_get(&f, f.params[i].name.p, &v);
        if (f.params[i].value.len > 0 && g == 1)
            abort();
        if (g == 0 && (v.p == NULL || v.len == 0))
            abort();
        if (g == 1 && v.p != NULL)
            abort();
    }
    static const char *const names[] = {"grant_type", "client_id", "client_secret", "scope", "resource", "token", ""};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct str v;
        int g = form_get(&f, names[i], &v);
        if (g < -1 || g > 1)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arena == NULL)
        arena = arena_new(16384);
    const char *s = (const char *)data;
    check_form(s, size, 64);
    check_form(s, size, 2);
    struct str out;
    for (int plus = 0; plus < 2; plus++) {
        int rc = url_decode(arena, s, size, plus != 0, &out);
        if (rc == FORM_OK) {
            check_decoded(out);
            if (out.len > size)
                abort();
        }
    }
    arena_reset(arena);
    return 0;
}
