/* argon2_libs.c: whether the server's password hash would gain from reusing its memory. libsodium (what the
 * server uses) maps fresh memory for every argon2id hash and offers no way to pass its own; libargon2
 * (Debian's libargon2-1, the reference implementation) takes allocation callbacks, so a thread could keep
 * one buffer for all its hashes. This times the three on the server's default parameters (19456 KiB, 2
 * passes, one lane), interleaved so that a drifting machine affects each alike:
 *   - libsodium: crypto_pwhash_str_verify of a hash it made (what a login costs the server today);
 *   - libargon2, each hash allocating its memory (malloc);
 *   - libargon2, every hash in one buffer kept between hashes (the library still wipes it after each).
 *
 *   apt-get install -y libargon2-dev libsodium-dev
 *   cc -O2 -o argon2_libs bench/argon2_libs.c -largon2 -lsodium && ./argon2_libs [N]
 *
 * Prints one line per variant: ms of CPU per hash (user + system) and the system part. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <argon2.h>
#include <sodium.h>

#define MEMORY_KIB 19456u
#define PASSES 2u

static uint8_t *kept;
static size_t kept_size;

static int keep_alloc(uint8_t **memory, size_t bytes)
{
    if (kept_size < bytes) {
        free(kept);
        kept = malloc(bytes);
        kept_size = kept != NULL ? bytes : 0;
    }
    *memory = kept;
    return kept != NULL ? ARGON2_OK : ARGON2_MEMORY_ALLOCATION_ERROR;
}

static void keep_free(uint8_t *memory, size_t bytes)
{
    (void)memory;
    (void)bytes;
}

static void cpu(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 15;
    if (n <= 0 || sodium_init() < 0)
        return 2;
    static const char pw[] = "correct horse battery staple";
    char encoded[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(encoded, pw, sizeof(pw) - 1, PASSES, (size_t)MEMORY_KIB * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
        return 2;
    uint8_t salt[crypto_pwhash_SALTBYTES], out[32];
    randombytes_buf(salt, sizeof(salt));
    double total[3] = {0}, system[3] = {0};
    for (int i = 0; i < n; i++) {
        for (int v = 0; v < 3; v++) {
            double u0, s0, u1, s1;
            cpu(&u0, &s0);
            int rc;
            if (v == 0) {
                rc = crypto_pwhash_str_verify(encoded, pw, sizeof(pw) - 1);
            } else {
                argon2_context ctx = {
                    .out = out, .outlen = sizeof(out),
                    .pwd = (uint8_t *)pw, .pwdlen = sizeof(pw) - 1,
                    .salt = salt, .saltlen = sizeof(salt),
                    .t_cost = PASSES, .m_cost = MEMORY_KIB, .lanes = 1, .threads = 1,
                    .version = ARGON2_VERSION_13,
                    .allocate_cbk = v == 2 ? keep_alloc : NULL, .free_cbk = v == 2 ? keep_free : NULL,
                    .flags = ARGON2_DEFAULT_FLAGS,
                };
                rc = argon2_ctx(&ctx, Argon2_id);
            }
            cpu(&u1, &s1);
            if (rc != 0) {
                fprintf(stderr, "argon2_libs: variant %d failed\n", v);
                return 1;
            }
            total[v] += (u1 - u0) + (s1 - s0);
            system[v] += s1 - s0;
        }
    }
    static const char *const names[] = {"libsodium verify (the server)", "libargon2, memory per hash",
                                        "libargon2, one buffer kept"};
    for (int v = 0; v < 3; v++)
        printf("%-30s %6.2f ms CPU per hash, %5.2f ms of it system\n", names[v], total[v] * 1e3 / n,
               system[v] * 1e3 / n);
    free(kept);
    return 0;
}
