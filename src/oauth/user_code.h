/* user_code.h: the user codes of the device authorization grant (RFC 8628 §3.2, §6.1): what the person
 * reads on the device and types on the verification page. Eight letters of an alphabet without vowels
 * (no words) and without letters that are easily confused, shown as XXXX-XXXX; what is typed is read
 * case-insensitively, ignoring dashes and spaces. 20^8 ~ 2^34.6 codes: guessing is bounded by the
 * page's rate limit (oauth/device.c; the arithmetic is in docs/device.md), never by the code alone.
 *
 * A code is stored only as its lookup key, an HMAC-SHA256 under a key derived from the key-encryption
 * secret: the code space is small enough that a plain hash in a leaked database could be reversed by
 * trying every code, a keyed one cannot without the secret. */
#ifndef OSTIARY_OAUTH_USER_CODE_H
#define OSTIARY_OAUTH_USER_CODE_H

#include <stddef.h>
#include <stdint.h>

/* RFC 8628 §6.1's example alphabet: the consonants of ASCII without Y. */
#define USER_CODE_ALPHABET "BCDFGHJKLMNPQRSTVWXZ"
#define USER_CODE_LEN 8        /* letters of a normalized code */
#define USER_CODE_SHOWN_LEN 9  /* "XXXX-XXXX" */
#define USER_CODE_INPUT_MAX 64 /* bytes; longer input is refused unread */
#define USER_CODE_KEY_LEN 32

/* Normalizes what a person typed: letters of the alphabet in either case, with any number of '-' and ' '
 * anywhere, exactly USER_CODE_LEN letters. 0 with out = the letters upper-cased and a NUL; -1 for anything
 * else (another character, a byte outside ASCII, too few or too many letters, more than
 * USER_CODE_INPUT_MAX bytes), out then being "". Pure: no store, no clock. */
int user_code_parse(const char *in, size_t len, char out[USER_CODE_LEN + 1]);
/* The shown form of a normalized code: its first four letters, '-', the last four, a NUL. */
void user_code_format(const char code[USER_CODE_LEN], char out[USER_CODE_SHOWN_LEN + 1]);
/* A new normalized code, uniform over the 20^8 codes (CSPRNG, rejection sampling), NUL-terminated. */
void user_code_generate(char out[USER_CODE_LEN + 1]);

/* The key of the lookup HMAC: BLAKE2b-256 of the key secret, keyed with the context
 * "ostiary-user-code-v1" (the other keys drawn from the secret use other contexts). The same on every
 * instance that shares the secret. */
void user_code_key(const char *secret, uint8_t key[USER_CODE_KEY_LEN]);
/* The store key of a normalized code: HMAC-SHA256(key, "user_code" NUL code), 32 bytes (STORE_HASH_LEN). */
void user_code_lookup_key(const uint8_t key[USER_CODE_KEY_LEN], const char code[USER_CODE_LEN], uint8_t out[32]);

#endif
