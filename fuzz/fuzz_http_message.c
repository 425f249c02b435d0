/* fuzz_http_message.c: fuzz target for the HTTP/1 message checks (src/http/message.c): the body-framing
 * rules (http1_framing_error) and the request-target reduction (http_target_origin_form). Input: the first
 * line is a request target; each further line ('\n'-separated) a header field "name:value" (a line
 * without ':' is a folded continuation, a field without a name). Beyond memory safety it checks the
 * promises of http.h: a target reduced to origin-form starts with '/' and lies inside the input; framing
 * passes only with at most one Content-Length, never with Content-Length and Transfer-Encoding together,
 * never with Transfer-Encoding in HTTP/1.0, and never with a nameless field. A broken promise aborts.
 * Built with libFuzzer (scripts/fuzz.sh) or with fuzz/standalone.c to replay fuzz/corpus/http_message/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "http/http.h"
#include "core/banned.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;
    const char *nl = memchr(s, '\n', size);
    struct str target = {s, nl != NULL ? (size_t)(nl - s) : size};
    struct str out;
    if (http_target_origin_form(target, &out)) {
        bool inside = out.p >= s && out.p + out.len <= end;
        if (out.len == 0 || out.p[0] != '/' || (!inside && !str_eq_c(out, "/")))
            abort();
    }
    struct http_kv kv[MAX_LINES];
    size_t n = 0, n_cl = 0, n_te = 0;
    bool nameless = false;
    for (const char *p = nl != NULL ? nl + 1 : end; p < end && n < MAX_LINES;) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (e == NULL)
            e = end;
        const char *colon = memchr(p, ':', (size_t)(e - p));
        if (colon == NULL)
            kv[n] = (struct http_kv){STR_NULL, {p, (size_t)(e - p)}};
        else
            kv[n] = (struct http_kv){{p, (size_t)(colon - p)}, {colon + 1, (size_t)(e - colon - 1)}};
        nameless |= kv[n].name.len == 0;
        n_cl += str_ieq_c(kv[n].name, "content-length");
        n_te += str_ieq_c(kv[n].name, "transfer-encoding");
        n++;
        p = e + 1;
    }
    for (int minor = 0; minor < 2; minor++) {
        const char *why = http1_framing_error(kv, n, minor);
        if (why == NULL && (n_cl > 1 || (n_cl > 0 && n_te > 0) || (minor == 0 && n_te > 0) || n_te > 1 || nameless))
            abort();
        if (why != NULL && strlen(why) == 0)
            abort();
    }
    return 0;
}
