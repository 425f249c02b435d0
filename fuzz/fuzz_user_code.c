/* fuzz_user_code.c: fuzz target for user_code_parse (src/oauth/user_code.c), the parser of the user code a
 * person types on the device verification page (RFC 8628 §6.1). Aborts when the parser accepts anything
 * but eight letters of the alphabet surrounded and separated by dashes and spaces, when what it returns is
 * not those letters upper-cased, or when it refuses such an input. Built with libFuzzer (scripts/fuzz.sh)
 * or with fuzz/standalone.c to replay fuzz/corpus/user_code/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth/user_code.h"
#include "core/banned.h"

/* The reference reading, written differently: keep the letters, ignore '-' and ' ', anything else fails. */
static int reference(const uint8_t *data, size_t size, char out[USER_CODE_LEN + 1])
{
    size_t n = 0;
    if (size > USER_CODE_INPUT_MAX)
        return -1;
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        if (c == '-' || c == ' ')
            continue;
        uint8_t up = c >= 'a' && c <= 'z' ? (uint8_t)(c - 32) : c;
        int found = 0;
        for (const char *p = USER_CODE_ALPHABET; *p; p++)
            found |= (uint8_t)*p == up;
        if (!found || n >= USER_CODE_LEN)
            return -1;
        out[n++] = (char)up;
    }
    out[n] = '\0';
    return n == USER_CODE_LEN ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char got[USER_CODE_LEN + 1], want[USER_CODE_LEN + 1];
    int rc = user_code_parse((const char *)data, size, got);
    int ref = reference(data, size, want);
    if (rc != ref)
        abort();
    if (rc == 0) {
        if (strcmp(got, want) != 0 || strlen(got) != USER_CODE_LEN)
            abort();
        /* The shown form reads back to the same code. */
        char shown[USER_CODE_SHOWN_LEN + 1], again[USER_CODE_LEN + 1];
        user_code_format(got, shown);
        if (user_code_parse(shown, strlen(shown), again) != 0 || strcmp(again, got) != 0)
            abort();
    } else if (got[0] != '\0') {
        abort();
    }
    return 0;
}
