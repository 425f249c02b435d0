/* argon2_cost.c: what one login costs the server: the time of crypto_pwhash_str_verify on an argon2id
 * hash made with the server's parameters (passwords.argon2id: the environment's
 * OSTIARY_PASSWORDS_ARGON2ID_MEMORY_KIB and _ITERATIONS, else the defaults, 19456 KiB and 2 passes, one
 * lane). Used by bench/run.sh to explain the flow_login ceiling (at most cores / verify time logins per
 * second).
 *
 *   cc -O2 -o argon2_cost bench/argon2_cost.c -lsodium -lpthread && ./argon2_cost [N] [THREADS]
 *
 * Runs N verifications (default 10) on each of THREADS threads (default 1 and then 2, one run each) and
 * prints one line per run: ARGON2 {"threads":T,"verifies":..,"seconds":..,"ms_per_verify":..,"verify_per_s":..,
 * "user_s":..,"sys_s":..} (ms_per_verify is the wall time of one verification on one thread; verify_per_s the
 * aggregate; user_s and sys_s the process's CPU time of the run: libsodium maps fresh memory for every
 * verification, and sys_s is what the kernel spent on it, mapping and zeroing pages). */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

static char hash[crypto_pwhash_STRBYTES];
static int per_thread = 10;
static unsigned long long opslimit = 2, memory_kib = 19456;

static double cpu(int sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct timeval tv = sys ? ru.ru_stime : ru.ru_utime;
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

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
    double u0 = cpu(0), s0 = cpu(1);
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double s = now() - t0;
    int n = threads * per_thread;
    printf("ARGON2 {\"threads\":%d,\"verifies\":%d,\"seconds\":%.3f,\"ms_per_verify\":%.2f,\"verify_per_s\":%.1f,"
           "\"opslimit\":%llu,\"memory_kib\":%llu,\"user_s\":%.3f,\"sys_s\":%.3f}\n",
           threads, n, s, s * 1000.0 / per_thread, n / s, opslimit, memory_kib, cpu(0) - u0, cpu(1) - s0);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        per_thread = atoi(argv[1]);
    if (per_thread < 1)
        per_thread = 1;
    const char *m = getenv("OSTIARY_PASSWORDS_ARGON2ID_MEMORY_KIB"), *t = getenv("OSTIARY_PASSWORDS_ARGON2ID_ITERATIONS");
    if (m != NULL && *m != '\0')
        memory_kib = strtoull(m, NULL, 10);
    if (t != NULL && *t != '\0')
        opslimit = strtoull(t, NULL, 10);
    if (crypto_pwhash_str_alg(hash, "bench-password", 14, opslimit, (size_t)memory_kib * 1024,
                              crypto_pwhash_ALG_ARGON2ID13) != 0)
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
