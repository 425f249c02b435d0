/* argon2_cost.c: what one login costs the server: the time of crypto_pwhash_str_verify on an argon2id
 * hash made with libsodium's interactive limits (OPSLIMIT_INTERACTIVE = 2 passes, MEMLIMIT_INTERACTIVE =
 * 64 MiB), the parameters src/session/users.c hashes passwords with. Used by bench/run.sh to explain the
 * flow_login ceiling (at most cores / verify time logins per second).
 *
 *   cc -O2 -o argon2_cost bench/argon2_cost.c -lsodium -lpthread && ./argon2_cost [N] [THREADS]
 *
 * Runs N verifications (default 10) on each of THREADS threads (default 1 and then 2, one run each) and
 * prints one line per run: ARGON2 {"threads":T,"verifies":..,"seconds":..,"ms_per_verify":..,"verify_per_s":..}
 * (ms_per_verify is the wall time of one verification on one thread; verify_per_s the aggregate). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static char hash[crypto_pwhash_STRBYTES];
static int per_thread = 10;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < per_thread; i++)
        if (crypto_pwhash_str_verify(hash, "bench-password", 14) != 0) {
            fprintf(stderr, "argon2_cost: verification failed\n");
            exit(1);
        }
    return NULL;
}

static void run(int threads)
{
    pthread_t t[64];
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double s = now() - t0;
    int n = threads * per_thread;
    printf("ARGON2 {\"threads\":%d,\"verifies\":%d,\"seconds\":%.3f,\"ms_per_verify\":%.2f,\"verify_per_s\":%.1f,"
           "\"opslimit\":%llu,\"memlimit_mib\":%zu}\n",
           threads, n, s, s * 1000.0 / per_thread, n / s, (unsigned long long)crypto_pwhash_OPSLIMIT_INTERACTIVE,
           (size_t)crypto_pwhash_MEMLIMIT_INTERACTIVE >> 20);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        per_thread = atoi(argv[1]);
    if (per_thread < 1)
        per_thread = 1;
    if (crypto_pwhash_str_alg(hash, "bench-password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
        return 1;
    if (argc > 2) {
        int t = atoi(argv[2]);
        run(t < 1 ? 1 : t > 64 ? 64 : t);
    } else {
        run(1);
        run(2);
    }
    return 0;
}
