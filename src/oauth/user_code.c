/* user_code.c: user codes of the device authorization grant (user_code.h; RFC 8628 §3.2, §6.1): the
 * parser of what a person types, the shown form, generation, and the keyed lookup key the store sees. */
#include "oauth/user_code.h"

#include <string.h>

#include <sodium.h>

#include "core/rand.h"
#include "core/banned.h"

#define KEY_CONTEXT "ostiary-user-code-v1"

static int alphabet_index(char c)
{
    const char *p = c != '\0' ? strchr(USER_CODE_ALPHABET, c) : NULL;
    return p != NULL ? (int)(p - USER_CODE_ALPHABET) : -1;
}

int user_code_parse(const char *in, size_t len, char out[USER_CODE_LEN + 1])
{
    size_t n = 0;
    out[0] = '\0';
    if (in == NULL || len > USER_CODE_INPUT_MAX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (alphabet_index(c) < 0 || n == USER_CODE_LEN) {
            out[0] = '\0';
            return -1;
        }
        out[n++] = c;
    }
    if (n != USER_CODE_LEN) {
        out[0] = '\0';
        return -1;
    }
    out[n] = '\0';
    return 0;
}

void user_code_format(const char code[USER_CODE_LEN], char out[USER_CODE_SHOWN_LEN + 1])
{
    memcpy(out, code, 4);
    out[4] = '-';
    memcpy(out + 5, code + 4, 4);
    out[USER_CODE_SHOWN_LEN] = '\0';
}

void user_code_generate(char out[USER_CODE_LEN + 1])
{
    enum { N = sizeof(USER_CODE_ALPHABET) - 1 };
    /* 256 is not a multiple of 20: bytes of 240 and above are drawn again, so every letter has the same
     * chance (12 of 256 each). */
    size_t n = 0;
    while (n < USER_CODE_LEN) {
        unsigned char buf[16];
        rand_bytes(buf, sizeof(buf));
        for (size_t i = 0; i < sizeof(buf) && n < USER_CODE_LEN; i++)
            if (buf[i] < 256 - 256 % N)
                out[n++] = USER_CODE_ALPHABET[buf[i] % N];
        sodium_memzero(buf, sizeof(buf));
    }
    out[n] = '\0';
}

void user_code_key(const char *secret, uint8_t key[USER_CODE_KEY_LEN])
{
    crypto_generichash(key, USER_CODE_KEY_LEN, (const unsigned char *)secret, strlen(secret),
                       (const unsigned char *)KEY_CONTEXT, sizeof(KEY_CONTEXT) - 1);
}

void user_code_lookup_key(const uint8_t key[USER_CODE_KEY_LEN], const char code[USER_CODE_LEN], uint8_t out[32])
{
    static const char label[] = "user_code"; /* with its NUL */
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, USER_CODE_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof(label));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)code, USER_CODE_LEN);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}
