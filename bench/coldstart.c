/* coldstart.c: time from exec to the first answered request. Starts the server command given after `--`
 * RUNS times; each time it notes the monotonic clock just before fork+exec, then polls 127.0.0.1:PORT
 * (connect, `GET /healthz`) every 0.5 ms until a response with status 200 arrives, notes the clock again,
 * stops the server with SIGTERM (SIGKILL after 10 s) and waits for it. The server's output goes to
 * OUT_DIR/coldstart-<n>.log. Prints one `RESULT {json}` line per run and a last `SUMMARY {json}` (min,
 * median, max in ms). A start that gives no 200 within COLDSTART_LIMIT_S seconds (default 60) fails.
 * libc only:  cc -O2 -o coldstart bench/coldstart.c
 *
 *   coldstart PORT RUNS OUT_DIR -- /path/to/ostiary serve --config FILE */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* One GET /healthz: its status, or 0 when nothing answered (refused, reset, timeout). */
static int probe(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int status = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
            char buf[64];
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            if (n >= 12) {
                buf[n] = '\0';
                if (strncmp(buf, "HTTP/1.1 ", 9) == 0)
                    status = atoi(buf + 9);
            }
        }
    }
    close(fd);
    return status;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: %s PORT RUNS OUT_DIR -- COMMAND...\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), runs = atoi(argv[2]);
    const char *out_dir = argv[3];
    char **cmd = argv + 5;
    if (port <= 0 || runs <= 0 || runs > 1000)
        return 2;
    const char *lim = getenv("COLDSTART_LIMIT_S");
    double limit_ms = (lim != NULL && atoi(lim) > 0 ? atoi(lim) : 60) * 1000.0;
    double *ms = calloc((size_t)runs, sizeof(double));
    int done = 0;
    for (int r = 0; r < runs; r++) {
        if (probe(port) != 0) {
            fprintf(stderr, "coldstart: something already answers on port %d\n", port);
            return 1;
        }
        char logpath[4096];
        snprintf(logpath, sizeof(logpath), "%s/coldstart-%d.log", out_dir, r + 1);
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execv(cmd[0], cmd);
            _exit(127);
        }
        double t1 = 0;
        int st = 0;
        while (now_ms() - t0 < limit_ms) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                fprintf(stderr, "coldstart: the server exited during start (see %s)\n", logpath);
                return 1;
            }
            if (probe(port) == 200) {
                t1 = now_ms();
                break;
            }
            usleep(500);
        }
        kill(pid, SIGTERM);
        double stop_at = now_ms();
        while (waitpid(pid, &st, WNOHANG) != pid) {
            if (now_ms() - stop_at > 10000) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                break;
            }
            usleep(2000);
        }
        if (t1 == 0) {
            fprintf(stderr, "coldstart: no 200 from /healthz within %.0f s (see %s)\n", limit_ms / 1000,
                    logpath);
            return 1;
        }
        ms[done++] = t1 - t0;
        printf("RESULT {\"run\":%d,\"first_response_ms\":%.1f}\n", r + 1, t1 - t0);
        fflush(stdout);
    }
    qsort(ms, (size_t)done, sizeof(double), cmp);
    printf("SUMMARY {\"runs\":%d,\"min_ms\":%.1f,\"median_ms\":%.1f,\"max_ms\":%.1f}\n", done, ms[0],
           done % 2 ? ms[done / 2] : (ms[done / 2 - 1] + ms[done / 2]) / 2, ms[done - 1]);
    free(ms);
    return 0;
}
