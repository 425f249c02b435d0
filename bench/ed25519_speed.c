/* ed25519_speed.c: Ed25519 signatures and verifications per second with libsodium, the library the server
 * signs EdDSA tokens with (src/jose/jws.c: crypto_sign_detached). The bound of the EdDSA scenarios in
 * bench/run.sh, as `openssl speed -multi 2 ed25519` is for OpenSSL: the server's signer is the faster of the
 * two on this kind of machine, so OpenSSL's rate would understate the bound and overstate the ratios.
 *
 *   cc -O2 -o ed25519_speed bench/ed25519_speed.c -lsodium -lpthread && ./ed25519_speed [SECONDS] [THREADS]
 *
 * Each of THREADS threads (default 2, as -multi 2) signs for SECONDS (default 3), then verifies for as long,
 * a 400-byte message (about a token's signing input; openssl speed signs a shorter one, and SHA-512 over a
 * few hundred bytes is a small part of a signature). Prints one line like openssl speed's summary:
 *   ED25519 {"threads":2,"seconds":3,"sign_per_s":..,"verify_per_s":..} */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define MSG_LEN 400

static double seconds = 3;
static int verifying; /* set before the threads start: 0 = sign, 1 = verify */

struct job {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char msg[MSG_LEN], sig[crypto_sign_BYTES];
    unsigned long long n;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs until `seconds` have passed, reading the clock every 64 operations. */
static void *worker(void *arg)
{
    struct job *j = arg;
    double end = now() + seconds;
    j->n = 0;
    do {
        for (int i = 0; i < 64; i++) {
            if (!verifying) {
                j->msg[0] = (unsigned char)j->n; /* a new message each time, as every token is */
                crypto_sign_detached(j->sig, NULL, j->msg, MSG_LEN, j->sk);
            } else if (crypto_sign_verify_detached(j->sig, j->msg, MSG_LEN, j->pk) != 0) {
                fprintf(stderr, "ed25519_speed: a signature did not verify\n");
                exit(1);
            }
            j->n++;
        }
    } while (now() < end);
    return NULL;
}

static double run(struct job *jobs, int threads)
{
    pthread_t t[64];
    double t0 = now();
    for (int i = 0; i < threads; i++)
        if (pthread_create(&t[i], NULL, worker, &jobs[i]) != 0) {
            fprintf(stderr, "ed25519_speed: pthread_create failed\n");
            exit(1);
        }
    unsigned long long n = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        n += jobs[i].n;
    }
    return (double)n / (now() - t0);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc > 1)
        seconds = atof(argv[1]);
    if (!(seconds > 0))
        seconds = 3;
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    static struct job jobs[64];
    for (int i = 0; i < threads; i++) {
        crypto_sign_keypair(jobs[i].pk, jobs[i].sk);
        randombytes_buf(jobs[i].msg, MSG_LEN);
    }
    double sign = run(jobs, threads);
    /* Each thread verifies the last signature it made, of its last message. */
    for (int i = 0; i < threads; i++)
        crypto_sign_detached(jobs[i].sig, NULL, jobs[i].msg, MSG_LEN, jobs[i].sk);
    verifying = 1;
    double verify = run(jobs, threads);
    printf("ED25519 {\"threads\":%d,\"seconds\":%g,\"sign_per_s\":%.1f,\"verify_per_s\":%.1f}\n", threads, seconds,
           sign, verify);
    return 0;
}
