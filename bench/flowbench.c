/* flowbench.c: load driver for Ostiary's browser flows (bench/run.sh scenarios flow_login, flow_consent,
 * flow_sso, flow_hybrid, refresh). No dependencies beyond libc: epoll, one keep-alive HTTP/1.1 connection
 * per virtual user (VU), each VU with its own cookie jar. It shares the server's 2 cores, so it is built to
 * be cheap: no TLS, no allocation per request, requests formatted with one snprintf. With -t N the VUs are
 * shared out between N processes (as wrk -t spreads its connections over threads), which start the measured
 * window together, at the moment the last of them has set its VUs up; the first process reports for all
 * (its progress lines on stderr count its own VUs only).
 *
 *   cc -O2 -o flowbench bench/flowbench.c
 *   ./flowbench -s flow_login -u http://127.0.0.1:4310 -c 4 -d 5 [-t 2] [-p SERVER_PID]
 *
 * Flows (every step's status, Location, cookies and body are checked; any deviation fails the flow):
 *   full     GET /auth?...&prompt=consent -> 303 /interaction/login?interaction=ID
 *            GET /interaction/login (parse hidden interaction, csrf) -> 200
 *            POST /interaction/login (interaction, csrf, username, password, action=login) -> 303 resume
 *            GET /interaction/resume?interaction=ID -> 303 /interaction/consent?interaction=ID
 *            GET /interaction/consent (parse csrf) -> 200
 *            POST /interaction/consent decision=allow -> 303 redirect_uri?code=..&state=..&iss=..
 *            POST /token authorization_code + code_verifier (client_secret_basic) -> 200 with access_token,
 *            id_token (its nonce checked) and refresh_token                                     = 7 requests
 *   consent  with a session: GET /auth?...&prompt=consent -> 303 consent page, GET it, POST allow -> code,
 *            POST /token (refresh_token required)                                                = 4 requests
 *   sso      with a session and remembered consent, no prompt: GET /auth -> 303 redirect_uri with the code
 *            at once, POST /token (access_token and id_token; no refresh_token: without prompt=consent
 *            offline_access is dropped under refresh_token_policy offline_consent)                = 2 requests
 *   hybrid   the sso flow with response_type=code id_token (OIDC Core §3.3): GET /auth -> 303 redirect_uri
 *            #code=..&id_token=..&state=..&iss=.. (the fragment; the ID token's nonce and c_hash checked,
 *            c_hash by value for RS256 and ES256, for its presence with EdDSA),
 *            POST /token as for sso                                                                = 2 requests
 *   refresh  POST /token grant_type=refresh_token with the VU's current refresh token -> 200 with a new
 *            access_token and a new (rotated) refresh_token, which the next request uses           = 1 request
 *
 * Scenarios (-s): flow_login = a full flow per iteration with an empty cookie jar (every flow logs in,
 * i.e. verifies an argon2id hash); flow_consent, flow_sso, flow_hybrid and refresh first run one full flow
 * per VU
 * (setup, not measured: it leaves a session, a remembered consent and a refresh token), then loop their
 * flow. After a failed flow such a VU runs a full flow again before resuming (counted as "resetups").
 *
 * The run lasts -d seconds from the end of the setup; flows still in flight then are dropped (neither ok
 * nor failed). Output: progress and a per-step latency table on stderr, then one line on stdout:
 *   RESULT {"requests":<flows>,"seconds":..,"rps":..,"ok_rps":..,"p50_ms":..,"p90_ms":..,"p99_ms":..,
 *           "max_ms":..,"ok":..,"errors":..,"http_requests":..,"http_rps":..,"driver_cpu_s":..,
 *           "server_cpu_s":..,"machine_cpu_s":..,"resetups":..,"reconnects":..,"fail_steps":{..},"sample":".."}
 * (the fields of bench/scenario.lua's RESULT where they apply; latencies are per whole flow, or per
 * refresh request; "sample" is the first failure and always the last field). CPU seconds are over the
 * measured window: driver_cpu_s this process and the others of -t, server_cpu_s the process of -p PID (null without -p),
 * machine_cpu_s every process of the machine (from /proc/stat), so that other jobs sharing the cores show. Exit status 0 when the
 * run happened (even with failures), 1 when setup failed, 2 on usage errors. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small utilities ------------------------------------------------------------------------------- */

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("flowbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static uint64_t rng_state;

static uint64_t rng(void) /* xorshift64*: plenty for state/nonce/verifier values of a benchmark */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static const char b64url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

/* Decodes base64url (no padding) into out (capacity cap); returns the length, or -1. */
static long b64url_decode(const char *in, size_t n, char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = memchr(b64url_chars, in[i], 64);
        if (p == NULL)
            return -1;
        acc = acc << 6 | (uint32_t)(p - b64url_chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    return (long)o;
}

static void b64_std(const char *in, char *out) /* standard base64 with padding, for the Basic header */
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    const uint8_t *s = (const uint8_t *)in;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        out[o++] = t[v >> 18 & 63];
        out[o++] = t[v >> 12 & 63];
        out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? t[v & 63] : '=';
    }
    out[o] = '\0';
}

/* Percent-encodes for application/x-www-form-urlencoded and query strings (unreserved kept). */
static size_t urlenc(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (o + 4 >= cap)
            break;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return o;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes in[0..n) into out (capacity cap, NUL-terminated); false if malformed or too long. */
static bool urldec(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap)
            return false;
        if (in[i] == '%') {
            int h = i + 2 < n ? hexval(in[i + 1]) : -1, l = i + 2 < n ? hexval(in[i + 2]) : -1;
            if (h < 0 || l < 0)
                return false;
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = in[i] == '+' ? ' ' : in[i];
        }
    }
    out[o] = '\0';
    return true;
}

/* The value of query parameter name in q (a&b=c...), percent-decoded into out; false if absent. */
static bool query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = q;
    while (*p) {
        const char *end = strchr(p, '&');
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=')
            return urldec(p + nl + 1, (size_t)(end - p) - nl - 1, out, cap);
        p = *end ? end + 1 : end;
    }
    return false;
}

/* ---- SHA-256 (FIPS 180-4), for the PKCE S256 challenge ---------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void sha256(const void *data, size_t n, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t left = n;
    for (; left >= 64; left -= 64, p += 64)
        sha256_block(h, p);
    uint8_t buf[128] = {0};
    memcpy(buf, p, left);
    buf[left] = 0x80;
    size_t total = left + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++)
        buf[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_block(h, buf);
    if (total == 128)
        sha256_block(h, buf + 64);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

/* ---- configuration ---------------------------------------------------------------------------------- */

enum scenario { SC_FLOW_LOGIN, SC_FLOW_CONSENT, SC_FLOW_SSO, SC_FLOW_HYBRID, SC_REFRESH };
static const char *const scenario_names[] = {"flow_login", "flow_consent", "flow_sso", "flow_hybrid", "refresh"};

static struct {
    enum scenario sc;
    char host[64];
    int port;
    char base[128];   /* http://host:port */
    char issuer[256]; /* expected iss, default base */
    int vus;
    int procs; /* -t: processes the VUs are shared out between */
    int duration;
    int server_pid; /* -p: report the server's CPU time over the measured window */
    int timeout_s;
    const char *client_id, *secret, *redirect_uri, *user, *password;
    char basic[1024];    /* "Basic ..." */
    char redirect_enc[512];
    char user_enc[256], password_enc[256];
    struct sockaddr_in addr;
} cfg;

/* ---- per-VU state ------------------------------------------------------------------------------------ */

enum flow { FLOW_FULL, FLOW_CONSENT, FLOW_SSO, FLOW_HYBRID, FLOW_REFRESH };
enum step { ST_AUTH, ST_LOGIN_PAGE, ST_LOGIN_POST, ST_RESUME, ST_CONSENT_PAGE, ST_CONSENT_POST, ST_TOKEN,
            ST_REFRESH, ST_N };
static const char *const step_names[ST_N] = {"auth", "login_page", "login_post", "resume",
                                             "consent_page", "consent_post", "token", "refresh"};

#define MAX_COOKIES 6
#define VAL_MAX 256
#define RBUF_MAX (1u << 20)

struct cookie {
    char name[48];
    char value[VAL_MAX];
};

struct vu {
    int idx;
    int fd;
    bool busy;         /* a request is outstanding */
    bool ready;        /* setup done (or not needed) */
    bool need_setup;   /* run a full (unmeasured) flow before the next measured one */
    bool pending;      /* start the next flow from the main loop (after a failure: no recursion) */
    int setup_failures;
    enum flow flow;    /* the flow in progress */
    bool measured;     /* the flow in progress counts */
    enum step step;
    uint64_t flow_t0, req_t0, deadline;
    /* browser state */
    struct cookie jar[MAX_COOKIES];
    int n_cookies;
    /* flow state */
    char verifier[64], challenge[64], state[32], nonce[32];
    char interaction[VAL_MAX], csrf[VAL_MAX], code[VAL_MAX], refresh[VAL_MAX];
    /* output */
    char wbuf[8192];
    size_t wlen, woff;
    /* input */
    char *rbuf;
    size_t rlen, rcap;
    size_t hdr_len; /* 0 until the header block is complete */
    long clen;      /* Content-Length, -1 if absent */
    bool chunked, conn_close;
    int status;
    char location[4096]; /* a hybrid response's fragment holds an ID token */
    char *body;
    size_t body_len;
};

static struct vu *vus;
static int epfd;

/* ---- results ----------------------------------------------------------------------------------------- */

static enum { PH_SETUP, PH_RUN, PH_DONE } phase;
static uint64_t run_t0, run_end;
static long long srv_ticks0 = -1, srv_ticks1 = -1;
static long long busy0 = -1, busy1 = -1; /* machine-wide busy ticks (/proc/stat) */
static uint32_t *lat_us;
static size_t n_lat, cap_lat;
static uint64_t n_ok, n_failed, n_http, n_resetups, n_reconnects;
static uint64_t fail_step[ST_N];
static uint64_t step_n[ST_N], step_us[ST_N]; /* per-step request latency (measured flows, every response) */
static char sample[400];

/* -t N: the processes' common state, in a shared mapping made before they fork. */
static struct shared {
    _Atomic int ready;    /* processes whose VUs are all set up */
    _Atomic int go;       /* set by the last of them, once t0 is written */
    _Atomic uint64_t t0;  /* the measured window's start (CLOCK_MONOTONIC is the same for every process) */
} *sh;
static pid_t *kids;       /* the first process's: the others, and the read ends of their result pipes */
static int *kid_fds;
static int nkids;

/* What each other process sends the first one at the end, followed by its n_lat latencies. */
struct part {
    uint64_t n_ok, n_failed, n_http, n_resetups, n_reconnects;
    uint64_t fail_step[ST_N], step_n[ST_N], step_us[ST_N];
    double cpu;
    uint64_t n_lat;
    char sample[400];
};

static void record_failure(struct vu *v, const char *fmt, ...)
{
    if (phase == PH_RUN) { /* failed re-setup flows count too */
        n_failed++;
        fail_step[v->step]++;
    }
    if (sample[0] == '\0' || phase == PH_SETUP) {
        char msg[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(sample, sizeof(sample), "%s%s: %s", phase == PH_SETUP ? "setup " : "", step_names[v->step], msg);
    }
}

/* ---- cookie jar ---------------------------------------------------------------------------------------- */

static void jar_set_cookie(struct vu *v, const char *h, size_t n)
{
    /* name=value[; attr...] */
    const char *semi = memchr(h, ';', n);
    size_t pair = semi ? (size_t)(semi - h) : n;
    const char *eq = memchr(h, '=', pair);
    if (eq == NULL)
        return;
    size_t nl = (size_t)(eq - h), vl = pair - nl - 1;
    while (nl > 0 && h[nl - 1] == ' ')
        nl--;
    if (nl == 0 || nl >= sizeof(v->jar[0].name) || vl >= VAL_MAX)
        return;
    bool del = vl == 0;
    for (const char *p = semi; p != NULL && p < h + n; p = memchr(p + 1, ';', (size_t)(h + n - p - 1))) {
        const char *a = p + 1;
        while (a < h + n && *a == ' ')
            a++;
        if ((size_t)(h + n - a) > 8 && strncasecmp(a, "Max-Age=", 8) == 0 && atol(a + 8) <= 0)
            del = true;
    }
    int i;
    for (i = 0; i < v->n_cookies; i++)
        if (strlen(v->jar[i].name) == nl && memcmp(v->jar[i].name, h, nl) == 0)
            break;
    if (del) {
        if (i < v->n_cookies)
            v->jar[i] = v->jar[--v->n_cookies];
        return;
    }
    if (i == v->n_cookies) {
        if (v->n_cookies == MAX_COOKIES)
            return;
        v->n_cookies++;
        memcpy(v->jar[i].name, h, nl);
        v->jar[i].name[nl] = '\0';
    }
    memcpy(v->jar[i].value, eq + 1, vl);
    v->jar[i].value[vl] = '\0';
}

static bool jar_has(const struct vu *v, const char *name)
{
    for (int i = 0; i < v->n_cookies; i++)
        if (strcmp(v->jar[i].name, name) == 0)
            return true;
    return false;
}

/* ---- connection and request ---------------------------------------------------------------------------- */

static void vu_close(struct vu *v)
{
    if (v->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, v->fd, NULL);
        close(v->fd);
        v->fd = -1;
    }
}

static bool vu_connect(struct vu *v)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Blocking connect to a local address: immediate. */
    if (connect(fd, (struct sockaddr *)&cfg.addr, sizeof(cfg.addr)) != 0) {
        close(fd);
        return false;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = v};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return false;
    }
    v->fd = fd;
    return true;
}

static void flow_failed(struct vu *v);

static void want_write(struct vu *v, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = v};
    epoll_ctl(epfd, EPOLL_CTL_MOD, v->fd, &ev);
}

static void try_write(struct vu *v)
{
    while (v->woff < v->wlen) {
        ssize_t n = send(v->fd, v->wbuf + v->woff, v->wlen - v->woff, MSG_NOSIGNAL);
        if (n > 0) {
            v->woff += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            want_write(v, true);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        record_failure(v, "send: %s", strerror(errno));
        vu_close(v);
        flow_failed(v);
        return;
    }
}

/* Formats and sends one request. path starts with '/'; body NULL for GET. */
static void send_request(struct vu *v, enum step step, const char *method, const char *path, const char *body,
                         bool basic_auth, bool cookies)
{
    v->step = step;
    if (v->fd < 0) {
        if (!vu_connect(v)) {
            record_failure(v, "connect: %s", strerror(errno));
            flow_failed(v);
            return;
        }
        n_reconnects++;
    }
    char cookie_hdr[2 * (VAL_MAX + 64)];
    size_t ch = 0;
    cookie_hdr[0] = '\0';
    if (cookies && v->n_cookies > 0) {
        ch = (size_t)snprintf(cookie_hdr, sizeof(cookie_hdr), "Cookie: ");
        for (int i = 0; i < v->n_cookies && ch < sizeof(cookie_hdr); i++)
            ch += (size_t)snprintf(cookie_hdr + ch, sizeof(cookie_hdr) - ch, "%s%s=%s", i ? "; " : "",
                                   v->jar[i].name, v->jar[i].value);
        if (ch < sizeof(cookie_hdr))
            ch += (size_t)snprintf(cookie_hdr + ch, sizeof(cookie_hdr) - ch, "\r\n");
    }
    int n;
    if (body != NULL)
        n = snprintf(v->wbuf, sizeof(v->wbuf),
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%s"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, cfg.host, cfg.port, cookie_hdr, basic_auth ? "Authorization: " : "",
                     basic_auth ? cfg.basic : "", basic_auth ? "\r\n" : "", strlen(body), body);
    else
        n = snprintf(v->wbuf, sizeof(v->wbuf), "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", method, path, cfg.host,
                     cfg.port, cookie_hdr);
    if (n < 0 || (size_t)n >= sizeof(v->wbuf)) {
        record_failure(v, "request too long");
        flow_failed(v);
        return;
    }
    v->wlen = (size_t)n;
    v->woff = 0;
    v->rlen = 0;
    v->hdr_len = 0;
    v->clen = -1;
    v->chunked = v->conn_close = false;
    v->status = 0;
    v->location[0] = '\0';
    v->busy = true;
    v->req_t0 = now_us();
    v->deadline = v->req_t0 + (uint64_t)cfg.timeout_s * 1000000u;
    try_write(v);
}

/* ---- flows --------------------------------------------------------------------------------------------- */

static void flow_start(struct vu *v);

static void new_flow_values(struct vu *v)
{
    uint8_t raw[32], h[32];
    for (int i = 0; i < 4; i++) {
        uint64_t r = rng();
        memcpy(raw + 8 * i, &r, 8);
    }
    b64url_encode(raw, sizeof(raw), v->verifier); /* 43 characters (RFC 7636 §4.1) */
    sha256(v->verifier, strlen(v->verifier), h);
    b64url_encode(h, sizeof(h), v->challenge);
    snprintf(v->state, sizeof(v->state), "%016llx", (unsigned long long)rng());
    snprintf(v->nonce, sizeof(v->nonce), "%016llx", (unsigned long long)rng());
}

static void send_auth(struct vu *v, bool prompt_consent)
{
    char path[1024];
    snprintf(path, sizeof(path),
             "/auth?response_type=%s&client_id=%s&redirect_uri=%s&scope=openid%%20offline_access&state=%s"
             "&nonce=%s&code_challenge=%s&code_challenge_method=S256%s",
             v->flow == FLOW_HYBRID ? "code%20id_token" : "code", cfg.client_id, cfg.redirect_enc, v->state,
             v->nonce, v->challenge, prompt_consent ? "&prompt=consent" : "");
    send_request(v, ST_AUTH, "GET", path, NULL, false, true);
}

static void flow_start(struct vu *v)
{
    if (phase == PH_DONE)
        return;
    v->measured = phase == PH_RUN && !v->need_setup;
    if (v->need_setup) {
        v->flow = FLOW_FULL;
    } else {
        switch (cfg.sc) {
        case SC_FLOW_LOGIN: v->flow = FLOW_FULL; break;
        case SC_FLOW_CONSENT: v->flow = FLOW_CONSENT; break;
        case SC_FLOW_SSO: v->flow = FLOW_SSO; break;
        case SC_FLOW_HYBRID: v->flow = FLOW_HYBRID; break;
        case SC_REFRESH: v->flow = FLOW_REFRESH; break;
        }
    }
    v->flow_t0 = now_us();
    if (v->flow == FLOW_FULL)
        v->n_cookies = 0; /* a fresh browser */
    if (v->flow == FLOW_REFRESH) {
        char body[1024];
        snprintf(body, sizeof(body), "grant_type=refresh_token&refresh_token=%s", v->refresh);
        send_request(v, ST_REFRESH, "POST", "/token", body, true, false);
        return;
    }
    new_flow_values(v);
    send_auth(v, v->flow == FLOW_FULL || v->flow == FLOW_CONSENT);
}

static void all_ready_check(void);

static void flow_done(struct vu *v)
{
    uint64_t t = now_us();
    if (v->measured && phase == PH_RUN && t <= run_end) {
        n_ok++;
        if (n_lat == cap_lat) {
            cap_lat = cap_lat ? cap_lat * 2 : 65536;
            lat_us = realloc(lat_us, cap_lat * sizeof(*lat_us));
            if (lat_us == NULL)
                die("out of memory");
        }
        uint64_t d = t - v->flow_t0;
        lat_us[n_lat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    if (v->need_setup) {
        v->need_setup = false;
        if (phase == PH_RUN)
            n_resetups++;
    }
    if (phase == PH_SETUP) {
        v->ready = true;
        v->busy = false;
        all_ready_check();
        return;
    }
    flow_start(v);
}

/* Makes the sample printable and JSON-safe in place. */
static void sample_sanitize(void)
{
    for (char *p = sample; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 32 || (unsigned char)*p > 126)
            *p = ' ';
}

static void flow_failed(struct vu *v)
{
    v->busy = false;
    if (phase == PH_SETUP) {
        if (++v->setup_failures >= 3) {
            fprintf(stderr, "flowbench: setup failed 3 times for VU %d: %s\n", v->idx, sample);
            sample_sanitize();
            printf("RESULT {\"scenario\":\"%s\",\"requests\":0,\"ok_rps\":0,\"p50_ms\":0,\"p99_ms\":0,\"errors\":1,"
                   "\"sample\":\"%s\"}\n",
                   scenario_names[cfg.sc], sample);
            exit(1);
        }
        v->need_setup = true;
        vu_close(v);
        v->pending = true;
        return;
    }
    if (cfg.sc != SC_FLOW_LOGIN)
        v->need_setup = true; /* the session or the refresh token may be gone */
    /* A connection in an unknown state is not reused. */
    vu_close(v);
    v->pending = true;
}

/* Location of a 303, with the issuer's origin stripped, must start with path_prefix. Returns the
 * remainder after the prefix (e.g. the query), or NULL. */
static const char *location_local(struct vu *v, const char *path_prefix)
{
    const char *loc = v->location;
    size_t bl = strlen(cfg.base), il = strlen(cfg.issuer);
    if (strncmp(loc, cfg.base, bl) == 0)
        loc += bl;
    else if (strncmp(loc, cfg.issuer, il) == 0) /* -i: several instances behind one issuer */
        loc += il;
    size_t pl = strlen(path_prefix);
    return strncmp(loc, path_prefix, pl) == 0 ? loc + pl : NULL;
}

/* value="..." after name="<name>" in an HTML page. */
static bool html_hidden(const struct vu *v, const char *name, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "name=\"%s\" value=\"", name);
    const char *b = memmem(v->body, v->body_len, needle, strlen(needle));
    if (b == NULL)
        return false;
    b += strlen(needle);
    const char *e = memchr(b, '"', v->body_len - (size_t)(b - v->body));
    if (e == NULL || (size_t)(e - b) >= cap || e == b)
        return false;
    memcpy(out, b, (size_t)(e - b));
    out[e - b] = '\0';
    return true;
}

/* "key":"value" in a JSON body (our token responses: flat, values without escapes). */
static bool json_str(const struct vu *v, const char *key, char *out, size_t cap)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":\"", key);
    const char *b = memmem(v->body, v->body_len, needle, strlen(needle));
    if (b == NULL)
        return false;
    b += strlen(needle);
    const char *e = memchr(b, '"', v->body_len - (size_t)(b - v->body));
    if (e == NULL || e == b || (out != NULL && (size_t)(e - b) >= cap))
        return false;
    if (out != NULL) {
        memcpy(out, b, (size_t)(e - b));
        out[e - b] = '\0';
    }
    return true;
}

static void body_excerpt(const struct vu *v, char *out, size_t cap)
{
    size_t n = v->body_len < cap - 1 ? v->body_len : cap - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = (v->body[i] >= 32 && v->body[i] < 127) ? v->body[i] : ' ';
    out[n] = '\0';
}

#define FAIL(...)                                                                                                      \
    do {                                                                                                               \
        record_failure(v, __VA_ARGS__);                                                                                \
        flow_failed(v);                                                                                                \
        return;                                                                                                        \
    } while (0)

static void expect_redirect(struct vu *v, const char *what)
{
    char ex[120];
    body_excerpt(v, ex, sizeof(ex));
    record_failure(v, "expected 303 to %s, got HTTP %d location '%.200s' body '%s'", what, v->status, v->location,
                   ex);
    flow_failed(v);
}

static bool id_token_nonce_ok(const char *jwt, const char *nonce, const char *c_hash);

/* 303 to redirect_uri?code=..&state=..&iss=.. (a hybrid flow: #code=..&id_token=..&state=..&iss=..): checks
 * and keeps the code, and the hybrid response's ID token (nonce, c_hash of the code). */
static bool take_code(struct vu *v)
{
    size_t rl = strlen(cfg.redirect_uri);
    char sep = v->flow == FLOW_HYBRID ? '#' : '?';
    if (v->status != 303 || strncmp(v->location, cfg.redirect_uri, rl) != 0 || v->location[rl] != sep) {
        expect_redirect(v, "redirect_uri with a code");
        return false;
    }
    const char *q = v->location + rl + 1;
    char st[64], iss[256];
    if (!query_param(q, "code", v->code, sizeof(v->code)) || v->code[0] == '\0') {
        record_failure(v, "no code in '%.200s'", v->location);
        flow_failed(v);
        return false;
    }
    if (!query_param(q, "state", st, sizeof(st)) || strcmp(st, v->state) != 0) {
        record_failure(v, "state mismatch in '%.200s'", v->location);
        flow_failed(v);
        return false;
    }
    if (!query_param(q, "iss", iss, sizeof(iss)) || strcmp(iss, cfg.issuer) != 0) {
        record_failure(v, "iss missing or not '%s' in '%.200s'", cfg.issuer, v->location);
        flow_failed(v);
        return false;
    }
    if (v->flow == FLOW_HYBRID) {
        /* OIDC Core §3.3.2.11: c_hash is the left half of the SHA-256 of the code (RS256, ES256). */
        char idt[4096], c_hash[32];
        uint8_t h[32];
        sha256(v->code, strlen(v->code), h);
        b64url_encode(h, 16, c_hash);
        if (!query_param(q, "id_token", idt, sizeof(idt)) || !id_token_nonce_ok(idt, v->nonce, c_hash)) {
            record_failure(v, "no id_token with our nonce and the code's c_hash in '%.200s'", v->location);
            flow_failed(v);
            return false;
        }
    }
    return true;
}

static void send_token(struct vu *v)
{
    char body[2048], code_enc[3 * VAL_MAX];
    urlenc(v->code, code_enc, sizeof(code_enc));
    snprintf(body, sizeof(body), "grant_type=authorization_code&code=%s&redirect_uri=%s&code_verifier=%s", code_enc,
             cfg.redirect_enc, v->verifier);
    send_request(v, ST_TOKEN, "POST", "/token", body, true, false);
}

/* The id_token's payload carries our nonce (and c_hash, when not NULL)? c_hash is checked by value for the
 * SHA-256 algorithms (RS256, ES256); an EdDSA token's (SHA-512, which this driver does not carry) only for
 * its presence. */
static bool id_token_nonce_ok(const char *jwt, const char *nonce, const char *c_hash)
{
    const char *p1 = strchr(jwt, '.');
    const char *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    if (p2 == NULL)
        return false;
    char payload[4096], needle[64], header[512];
    long hn = b64url_decode(jwt, (size_t)(p1 - jwt), header, sizeof(header) - 1);
    if (hn <= 0)
        return false;
    header[hn] = '\0';
    if (c_hash != NULL && strstr(header, "\"EdDSA\"") != NULL)
        c_hash = "";
    long n = b64url_decode(p1 + 1, (size_t)(p2 - p1 - 1), payload, sizeof(payload) - 1);
    if (n <= 0)
        return false;
    payload[n] = '\0';
    snprintf(needle, sizeof(needle), "\"nonce\":\"%s\"", nonce);
    if (strstr(payload, needle) == NULL)
        return false;
    snprintf(needle, sizeof(needle), "\"c_hash\":\"%s%s", c_hash != NULL ? c_hash : "",
             c_hash != NULL && c_hash[0] != '\0' ? "\"" : "");
    return c_hash == NULL || strstr(payload, needle) != NULL;
}

/* A complete response arrived for v->step. */
static void on_response(struct vu *v)
{
    uint64_t t = now_us();
    if (phase == PH_RUN)
        n_http++;
    if (v->measured && phase == PH_RUN) {
        step_n[v->step]++;
        step_us[v->step] += t - v->req_t0;
    }
    v->busy = false;
    if (v->conn_close)
        vu_close(v);
    char body[4096], ex[160];
    const char *q;
    switch (v->step) {
    case ST_AUTH:
        if (v->flow == FLOW_FULL) {
            if (v->status != 303 || (q = location_local(v, "/interaction/login?interaction=")) == NULL)
                return expect_redirect(v, "/interaction/login");
            if (!urldec(q, strlen(q), v->interaction, sizeof(v->interaction)) || !jar_has(v, "ostiary_browser"))
                FAIL("bad interaction id or no ostiary_browser cookie");
            snprintf(body, sizeof(body), "/interaction/login?%s", strchr(v->location, '?') + 1);
            send_request(v, ST_LOGIN_PAGE, "GET", body, NULL, false, true);
        } else if (v->flow == FLOW_CONSENT) {
            if (v->status != 303 || (q = location_local(v, "/interaction/consent?interaction=")) == NULL)
                return expect_redirect(v, "/interaction/consent");
            if (!urldec(q, strlen(q), v->interaction, sizeof(v->interaction)))
                FAIL("bad interaction id");
            snprintf(body, sizeof(body), "/interaction/consent?%s", strchr(v->location, '?') + 1);
            send_request(v, ST_CONSENT_PAGE, "GET", body, NULL, false, true);
        } else {
            if (take_code(v))
                send_token(v);
        }
        return;
    case ST_LOGIN_PAGE: {
        char ia[VAL_MAX];
        body_excerpt(v, ex, sizeof(ex));
        if (v->status != 200)
            FAIL("HTTP %d '%s'", v->status, ex);
        if (!html_hidden(v, "interaction", ia, sizeof(ia)) || strcmp(ia, v->interaction) != 0)
            FAIL("no hidden interaction matching the redirect's");
        if (!html_hidden(v, "csrf", v->csrf, sizeof(v->csrf)))
            FAIL("no hidden csrf");
        char ia_enc[3 * VAL_MAX], csrf_enc[3 * VAL_MAX];
        urlenc(v->interaction, ia_enc, sizeof(ia_enc));
        urlenc(v->csrf, csrf_enc, sizeof(csrf_enc));
        snprintf(body, sizeof(body), "interaction=%s&csrf=%s&username=%s&password=%s&action=login", ia_enc, csrf_enc,
                 cfg.user_enc, cfg.password_enc);
        send_request(v, ST_LOGIN_POST, "POST", "/interaction/login", body, false, true);
        return;
    }
    case ST_LOGIN_POST:
        if (v->status != 303 || (q = location_local(v, "/interaction/resume?interaction=")) == NULL)
            return expect_redirect(v, "/interaction/resume");
        if (!jar_has(v, "ostiary_session"))
            FAIL("no ostiary_session cookie after login");
        snprintf(body, sizeof(body), "/interaction/resume?%s", strchr(v->location, '?') + 1);
        send_request(v, ST_RESUME, "GET", body, NULL, false, true);
        return;
    case ST_RESUME:
        if (v->status != 303 || location_local(v, "/interaction/consent?interaction=") == NULL)
            return expect_redirect(v, "/interaction/consent");
        snprintf(body, sizeof(body), "/interaction/consent?%s", strchr(v->location, '?') + 1);
        send_request(v, ST_CONSENT_PAGE, "GET", body, NULL, false, true);
        return;
    case ST_CONSENT_PAGE: {
        char ia[VAL_MAX];
        body_excerpt(v, ex, sizeof(ex));
        if (v->status != 200)
            FAIL("HTTP %d '%s'", v->status, ex);
        if (!html_hidden(v, "interaction", ia, sizeof(ia)) || strcmp(ia, v->interaction) != 0)
            FAIL("no hidden interaction matching the redirect's");
        if (!html_hidden(v, "csrf", v->csrf, sizeof(v->csrf)))
            FAIL("no hidden csrf");
        char ia_enc[3 * VAL_MAX], csrf_enc[3 * VAL_MAX];
        urlenc(v->interaction, ia_enc, sizeof(ia_enc));
        urlenc(v->csrf, csrf_enc, sizeof(csrf_enc));
        snprintf(body, sizeof(body), "interaction=%s&csrf=%s&decision=allow", ia_enc, csrf_enc);
        send_request(v, ST_CONSENT_POST, "POST", "/interaction/consent", body, false, true);
        return;
    }
    case ST_CONSENT_POST:
        if (take_code(v))
            send_token(v);
        return;
    case ST_TOKEN: {
        char idt[4096];
        body_excerpt(v, ex, sizeof(ex));
        if (v->status != 200)
            FAIL("HTTP %d '%s'", v->status, ex);
        if (!json_str(v, "access_token", NULL, 0) || !json_str(v, "token_type", NULL, 0))
            FAIL("no access_token: '%s'", ex);
        if (!json_str(v, "id_token", idt, sizeof(idt)))
            FAIL("no id_token: '%s'", ex);
        if (!id_token_nonce_ok(idt, v->nonce, NULL))
            FAIL("id_token without our nonce");
        if (v->flow == FLOW_FULL || v->flow == FLOW_CONSENT) {
            if (!json_str(v, "refresh_token", v->refresh, sizeof(v->refresh)))
                FAIL("no refresh_token: '%s'", ex);
        }
        flow_done(v);
        return;
    }
    case ST_REFRESH: {
        char rt[VAL_MAX];
        body_excerpt(v, ex, sizeof(ex));
        if (v->status != 200)
            FAIL("HTTP %d '%s'", v->status, ex);
        if (!json_str(v, "access_token", NULL, 0))
            FAIL("no access_token: '%s'", ex);
        if (!json_str(v, "refresh_token", rt, sizeof(rt)))
            FAIL("no refresh_token: '%s'", ex);
        if (strcmp(rt, v->refresh) == 0)
            FAIL("refresh_token not rotated");
        memcpy(v->refresh, rt, sizeof(rt));
        flow_done(v);
        return;
    }
    case ST_N:
        break;
    }
}

/* ---- response parsing ---------------------------------------------------------------------------------- */

/* Parses the header block v->rbuf[0..hdr_len). Returns false on a malformed response. */
static bool parse_headers(struct vu *v)
{
    const char *p = v->rbuf, *end = v->rbuf + v->hdr_len - 2; /* up to the final CRLF */
    if (v->hdr_len < 16 || strncmp(p, "HTTP/1.", 7) != 0)
        return false;
    v->status = atoi(p + 9);
    bool http10 = p[7] == '0';
    v->conn_close = http10;
    p = memchr(p, '\n', (size_t)(end - p));
    while (p != NULL && ++p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL) {
            size_t nl = (size_t)(colon - p);
            const char *val = colon + 1;
            while (val < eol && *val == ' ')
                val++;
            size_t vl = (size_t)(eol - val);
            if (nl == 14 && strncasecmp(p, "content-length", 14) == 0)
                v->clen = atol(val);
            else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0)
                v->chunked = vl >= 7 && strncasecmp(val, "chunked", 7) == 0;
            else if (nl == 10 && strncasecmp(p, "connection", 10) == 0)
                v->conn_close = vl >= 5 && strncasecmp(val, "close", 5) == 0;
            else if (nl == 8 && strncasecmp(p, "location", 8) == 0) {
                size_t n = vl < sizeof(v->location) - 1 ? vl : sizeof(v->location) - 1;
                memcpy(v->location, val, n);
                v->location[n] = '\0';
            } else if (nl == 10 && strncasecmp(p, "set-cookie", 10) == 0)
                jar_set_cookie(v, val, vl);
        }
        p = memchr(eol, '\n', (size_t)(end - eol) + 1);
    }
    return v->status >= 100;
}

/* Chunked body complete in rbuf[hdr_len..rlen)? Then decodes it in place and returns 1; 0 = need more;
 * -1 = malformed. */
static int dechunk(struct vu *v)
{
    char *p = v->rbuf + v->hdr_len, *end = v->rbuf + v->rlen;
    char *out = p;
    size_t total = 0;
    /* First pass: is it complete? */
    for (char *q = p;;) {
        char *eol = memmem(q, (size_t)(end - q), "\r\n", 2);
        if (eol == NULL)
            return 0;
        long sz = strtol(q, NULL, 16);
        if (sz < 0)
            return -1;
        q = eol + 2;
        if (sz == 0) {
            /* trailers end with an empty line */
            if (end - q < 2)
                return 0;
            if (memmem(q - 2, (size_t)(end - q + 2), "\r\n\r\n", 4) == NULL)
                return 0;
            break;
        }
        if (end - q < sz + 2)
            return 0;
        q += sz + 2;
    }
    for (char *q = p;;) {
        char *eol = memmem(q, (size_t)(end - q), "\r\n", 2);
        long sz = strtol(q, NULL, 16);
        q = eol + 2;
        if (sz == 0)
            break;
        memmove(out + total, q, (size_t)sz);
        total += (size_t)sz;
        q += sz + 2;
    }
    v->body = out;
    v->body_len = total;
    return 1;
}

static void on_readable(struct vu *v)
{
    for (;;) {
        if (v->rcap - v->rlen < 4096) {
            if (v->rcap >= RBUF_MAX) {
                record_failure(v, "response too large");
                vu_close(v);
                flow_failed(v);
                return;
            }
            v->rcap *= 2;
            v->rbuf = realloc(v->rbuf, v->rcap + 1);
            if (v->rbuf == NULL)
                die("out of memory");
        }
        ssize_t n = recv(v->fd, v->rbuf + v->rlen, v->rcap - v->rlen, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            if (v->busy) {
                record_failure(v, n == 0 ? "connection closed by the server" : "recv: %s", strerror(errno));
                vu_close(v);
                flow_failed(v);
            } else {
                vu_close(v); /* idle keep-alive connection closed: reconnect on the next request */
            }
            return;
        }
        if (!v->busy) { /* unexpected bytes on an idle connection: drop it, reconnect on the next request */
            vu_close(v);
            return;
        }
        v->rlen += (size_t)n;
        v->rbuf[v->rlen] = '\0';
        if (v->hdr_len == 0) {
            char *e = memmem(v->rbuf, v->rlen, "\r\n\r\n", 4);
            if (e == NULL)
                continue;
            v->hdr_len = (size_t)(e - v->rbuf) + 4;
            if (!parse_headers(v)) {
                record_failure(v, "malformed response");
                vu_close(v);
                flow_failed(v);
                return;
            }
        }
        if (v->chunked) {
            int rc = dechunk(v);
            if (rc == 0)
                continue;
            if (rc < 0) {
                record_failure(v, "malformed chunked body");
                vu_close(v);
                flow_failed(v);
                return;
            }
        } else {
            size_t want = v->clen >= 0 ? (size_t)v->clen : 0;
            if (v->clen < 0 && !(v->status == 204 || v->status == 304 || v->status < 200)) {
                record_failure(v, "response without Content-Length");
                vu_close(v);
                flow_failed(v);
                return;
            }
            if (v->rlen - v->hdr_len < want)
                continue;
            if (v->rlen - v->hdr_len > want) {
                record_failure(v, "extra bytes after the response");
                vu_close(v);
                flow_failed(v);
                return;
            }
            v->body = v->rbuf + v->hdr_len;
            v->body_len = want;
        }
        on_response(v);
        return;
    }
}

/* ---- main loop ------------------------------------------------------------------------------------------ */

/* utime + stime of the server process (-p PID) in clock ticks, or -1. */
static long long server_ticks(void)
{
    if (cfg.server_pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", cfg.server_pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* Busy (non-idle, non-iowait) ticks of the whole machine, from the first line of /proc/stat, or -1. */
static long long machine_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return -1;
    return (long long)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]); /* user nice system irq softirq steal */
}

/* With -t: waits until every process has set its VUs up (the first one also watches that none has died),
 * and returns the window's start, the same for all. */
static uint64_t start_together(void)
{
    if (atomic_fetch_add(&sh->ready, 1) + 1 == cfg.procs) {
        atomic_store(&sh->t0, now_us());
        atomic_store(&sh->go, 1);
    }
    uint64_t waited = now_us();
    while (!atomic_load(&sh->go)) {
        for (int k = 0; k < nkids; k++)
            if (waitpid(kids[k], NULL, WNOHANG) == kids[k])
                die("a driver process (-t) ended during setup");
        if (now_us() - waited > 130000000u)
            die("the other driver processes (-t) did not finish their setup within 130 s");
        usleep(200);
    }
    return atomic_load(&sh->t0);
}

static void all_ready_check(void)
{
    for (int i = 0; i < cfg.vus; i++)
        if (!vus[i].ready)
            return;
    phase = PH_RUN;
    run_t0 = sh != NULL ? start_together() : now_us();
    run_end = run_t0 + (uint64_t)cfg.duration * 1000000u;
    srv_ticks0 = server_ticks();
    busy0 = machine_busy_ticks();
    for (int i = 0; i < cfg.vus; i++)
        flow_start(&vus[i]);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(double p)
{
    if (n_lat == 0)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)n_lat);
    if (i >= n_lat)
        i = n_lat - 1;
    return lat_us[i] / 1000.0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(1);
        c += w;
        n -= (size_t)w;
    }
}

static bool read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: flowbench -s flow_login|flow_consent|flow_sso|flow_hybrid|refresh [-u http://127.0.0.1:4310] [-c VUS]\n"
            "                 [-d SECONDS] [-T TIMEOUT_S] [-i ISSUER] [-C CLIENT_ID] [-S SECRET]\n"
            "                 [-r REDIRECT_URI] [-U USER] [-P PASSWORD] [-t PROCESSES] [-p SERVER_PID]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *base = "http://127.0.0.1:4310", *issuer = NULL, *scn = NULL;
    cfg.vus = 32;
    cfg.procs = 1;
    cfg.duration = 5;
    cfg.timeout_s = 15;
    cfg.client_id = "bench-rp";
    cfg.secret = "bench-secret";
    cfg.redirect_uri = "http://127.0.0.1:9/cb";
    cfg.user = "bench";
    cfg.password = "bench-password";
    int opt;
    while ((opt = getopt(argc, argv, "s:u:c:d:T:i:C:S:r:U:P:t:p:h")) != -1) {
        switch (opt) {
        case 's': scn = optarg; break;
        case 'u': base = optarg; break;
        case 'c': cfg.vus = atoi(optarg); break;
        case 't': cfg.procs = atoi(optarg); break;
        case 'd': cfg.duration = atoi(optarg); break;
        case 'T': cfg.timeout_s = atoi(optarg); break;
        case 'i': issuer = optarg; break;
        case 'C': cfg.client_id = optarg; break;
        case 'S': cfg.secret = optarg; break;
        case 'r': cfg.redirect_uri = optarg; break;
        case 'U': cfg.user = optarg; break;
        case 'P': cfg.password = optarg; break;
        case 'p': cfg.server_pid = atoi(optarg); break;
        default: usage();
        }
    }
    if (scn == NULL)
        usage();
    bool found = false;
    for (size_t i = 0; i < sizeof(scenario_names) / sizeof(scenario_names[0]); i++)
        if (strcmp(scn, scenario_names[i]) == 0) {
            cfg.sc = (enum scenario)i;
            found = true;
        }
    if (!found)
        die("unknown scenario '%s'", scn);
    if (cfg.vus < 1 || cfg.vus > 10000 || cfg.duration < 1 || cfg.timeout_s < 1)
        die("-c, -d and -T must be positive");
    if (cfg.procs < 1 || cfg.procs > 64 || cfg.procs > cfg.vus)
        die("-t must be between 1 and 64, and at most -c");
    if (strncmp(base, "http://", 7) != 0 || sscanf(base + 7, "%63[^:/]:%d", cfg.host, &cfg.port) != 2)
        die("-u must be http://HOST:PORT (an IPv4 address)");
    snprintf(cfg.base, sizeof(cfg.base), "http://%s:%d", cfg.host, cfg.port);
    snprintf(cfg.issuer, sizeof(cfg.issuer), "%s", issuer != NULL ? issuer : cfg.base);
    cfg.addr.sin_family = AF_INET;
    cfg.addr.sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, cfg.host, &cfg.addr.sin_addr) != 1)
        die("-u: '%s' is not an IPv4 address", cfg.host);
    char cred[512], enc_id[256], enc_secret[256], b64[700];
    urlenc(cfg.client_id, enc_id, sizeof(enc_id)); /* RFC 6749 §2.3.1: form-encode, then base64 */
    urlenc(cfg.secret, enc_secret, sizeof(enc_secret));
    snprintf(cred, sizeof(cred), "%s:%s", enc_id, enc_secret);
    b64_std(cred, b64);
    snprintf(cfg.basic, sizeof(cfg.basic), "Basic %s", b64);
    urlenc(cfg.redirect_uri, cfg.redirect_enc, sizeof(cfg.redirect_enc));
    urlenc(cfg.user, cfg.user_enc, sizeof(cfg.user_enc));
    urlenc(cfg.password, cfg.password_enc, sizeof(cfg.password_enc));
    signal(SIGPIPE, SIG_IGN);
    int all_vus = cfg.vus, result_fd = -1;
    if (cfg.procs > 1) {
        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        kids = calloc((size_t)cfg.procs, sizeof(*kids));
        kid_fds = calloc((size_t)cfg.procs, sizeof(*kid_fds));
        if (sh == MAP_FAILED || kids == NULL || kid_fds == NULL)
            die("out of memory");
        pid_t parent = getpid();
        int idx = 0;
        for (int k = 1; k < cfg.procs; k++) {
            int fds[2];
            if (pipe(fds) != 0)
                die("pipe: %s", strerror(errno));
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0)
                die("fork: %s", strerror(errno));
            if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive the first process */
                if (getppid() != parent)
                    _exit(1);
                close(fds[0]);
                for (int j = 0; j < nkids; j++)
                    close(kid_fds[j]);
                nkids = 0;
                result_fd = fds[1];
                idx = k;
                break;
            }
            close(fds[1]);
            kids[nkids] = pid;
            kid_fds[nkids++] = fds[0];
        }
        /* process idx runs its share of the VUs */
        cfg.vus = all_vus / cfg.procs + (idx < all_vus % cfg.procs);
    }
    if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state) || rng_state == 0)
        rng_state = now_us() | 1;

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
    vus = calloc((size_t)cfg.vus, sizeof(*vus));
    if (vus == NULL)
        die("out of memory");
    for (int i = 0; i < cfg.vus; i++) {
        struct vu *v = &vus[i];
        v->idx = i;
        v->fd = -1;
        v->rcap = 16384;
        v->rbuf = malloc(v->rcap + 1);
        if (v->rbuf == NULL)
            die("out of memory");
        if (!vu_connect(v))
            die("connect to %s: %s", cfg.base, strerror(errno));
    }
    bool needs_setup = cfg.sc != SC_FLOW_LOGIN;
    uint64_t setup_t0 = now_us();
    if (needs_setup) {
        phase = PH_SETUP;
        for (int i = 0; i < cfg.vus; i++) {
            vus[i].need_setup = true;
            flow_start(&vus[i]);
        }
    } else {
        for (int i = 0; i < cfg.vus; i++)
            vus[i].ready = true;
        all_ready_check();
    }
    double cpu0 = 0;
    bool cpu0_set = false;
    struct epoll_event evs[256];
    uint64_t next_progress = UINT64_MAX;
    while (phase != PH_DONE) {
        if (phase == PH_RUN && !cpu0_set) {
            cpu0 = cpu_seconds();
            cpu0_set = true;
            if (needs_setup && result_fd < 0)
                fprintf(stderr, "flowbench: setup of %d VUs took %.2f s\n", cfg.vus, (run_t0 - setup_t0) / 1e6);
        }
        int n = epoll_wait(epfd, evs, 256, 20);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            struct vu *v = evs[i].data.ptr;
            if (v->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT) {
                want_write(v, false);
                try_write(v);
                if (v->fd < 0)
                    continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(v);
        }
        uint64_t t = now_us();
        for (int i = 0; i < cfg.vus; i++) {
            struct vu *v = &vus[i];
            if (v->busy && t > v->deadline) {
                record_failure(v, "timeout after %d s", cfg.timeout_s);
                vu_close(v);
                flow_failed(v);
            }
            if (v->pending && phase != PH_DONE) {
                v->pending = false;
                flow_start(v);
            }
        }
        if (phase == PH_SETUP && t - setup_t0 > 120000000u) {
            fprintf(stderr, "flowbench: setup did not finish within 120 s: %s\n", sample);
            exit(1);
        }
        if (phase == PH_RUN && next_progress == UINT64_MAX)
            next_progress = run_t0 + 1000000u;
        if (phase == PH_RUN && t >= next_progress && t < run_end && result_fd < 0) {
            fprintf(stderr, "flowbench: %2.0f s  ok %llu  failed %llu\n", (t - run_t0) / 1e6,
                    (unsigned long long)n_ok, (unsigned long long)n_failed);
            next_progress += 1000000u;
        }
        if (phase == PH_RUN && t >= run_end) {
            phase = PH_DONE;
            srv_ticks1 = server_ticks();
            busy1 = machine_busy_ticks();
        }
    }
    double cpu = cpu_seconds() - cpu0;
    if (result_fd >= 0) { /* another process of -t: hand the results to the first one */
        struct part pt = {n_ok, n_failed, n_http, n_resetups, n_reconnects, {0}, {0}, {0}, cpu, n_lat, {0}};
        memcpy(pt.fail_step, fail_step, sizeof(fail_step));
        memcpy(pt.step_n, step_n, sizeof(step_n));
        memcpy(pt.step_us, step_us, sizeof(step_us));
        memcpy(pt.sample, sample, sizeof(sample));
        write_all(result_fd, &pt, sizeof(pt));
        write_all(result_fd, lat_us, n_lat * sizeof(*lat_us));
        _exit(0);
    }
    for (int k = 0; k < nkids; k++) { /* the first process: add the others' results to its own */
        struct part pt;
        if (!read_all(kid_fds[k], &pt, sizeof(pt)))
            die("a driver process (-t) sent no results");
        n_ok += pt.n_ok;
        n_failed += pt.n_failed;
        n_http += pt.n_http;
        n_resetups += pt.n_resetups;
        n_reconnects += pt.n_reconnects;
        for (int st = 0; st < ST_N; st++) {
            fail_step[st] += pt.fail_step[st];
            step_n[st] += pt.step_n[st];
            step_us[st] += pt.step_us[st];
        }
        cpu += pt.cpu;
        if (sample[0] == '\0')
            memcpy(sample, pt.sample, sizeof(sample));
        sample[sizeof(sample) - 1] = '\0';
        if (pt.n_lat > 0) {
            lat_us = realloc(lat_us, (n_lat + pt.n_lat) * sizeof(*lat_us));
            if (lat_us == NULL)
                die("out of memory");
            if (!read_all(kid_fds[k], lat_us + n_lat, pt.n_lat * sizeof(*lat_us)))
                die("a driver process (-t) sent incomplete results");
            n_lat += pt.n_lat;
        }
        close(kid_fds[k]);
        waitpid(kids[k], NULL, 0);
    }
    cfg.vus = all_vus;
    char srv_cpu[32] = "null";
    if (srv_ticks0 >= 0 && srv_ticks1 >= srv_ticks0)
        snprintf(srv_cpu, sizeof(srv_cpu), "%.2f", (double)(srv_ticks1 - srv_ticks0) / (double)sysconf(_SC_CLK_TCK));
    char all_cpu[32] = "null"; /* every process of the machine, ours included: the rest is other jobs */
    if (busy0 >= 0 && busy1 >= busy0)
        snprintf(all_cpu, sizeof(all_cpu), "%.2f", (double)(busy1 - busy0) / (double)sysconf(_SC_CLK_TCK));
    double secs = (run_end - run_t0) / 1e6;
    qsort(lat_us, n_lat, sizeof(*lat_us), cmp_u32);

    fprintf(stderr, "flowbench: %s, %d VUs, %d s: per-step latency of measured flows (every response)\n",
            scenario_names[cfg.sc], cfg.vus, cfg.duration);
    for (int s = 0; s < ST_N; s++)
        if (step_n[s] > 0 || fail_step[s] > 0)
            fprintf(stderr, "   %-13s n %8llu  avg %8.2f ms  failed %llu\n", step_names[s],
                    (unsigned long long)step_n[s], step_n[s] ? step_us[s] / 1000.0 / (double)step_n[s] : 0.0,
                    (unsigned long long)fail_step[s]);

    sample_sanitize();
    char fails[512];
    size_t fo = (size_t)snprintf(fails, sizeof(fails), "{");
    bool first = true;
    for (int s = 0; s < ST_N; s++)
        if (fail_step[s] > 0 && fo < sizeof(fails)) {
            fo += (size_t)snprintf(fails + fo, sizeof(fails) - fo, "%s\"%s\":%llu", first ? "" : ",", step_names[s],
                                   (unsigned long long)fail_step[s]);
            first = false;
        }
    if (fo < sizeof(fails))
        snprintf(fails + fo, sizeof(fails) - fo, "}");
    printf("RESULT {\"scenario\":\"%s\",\"vus\":%d,\"requests\":%llu,\"seconds\":%.3f,\"rps\":%.1f,\"ok_rps\":%.1f,"
           "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"ok\":%llu,\"errors\":%llu,"
           "\"http_requests\":%llu,\"http_rps\":%.1f,\"driver_cpu_s\":%.2f,\"server_cpu_s\":%s,\"machine_cpu_s\":%s,\"resetups\":%llu,\"reconnects\":%llu,"
           "\"fail_steps\":%s,\"sample\":\"%s\"}\n",
           scenario_names[cfg.sc], cfg.vus, (unsigned long long)(n_ok + n_failed), secs,
           (double)(n_ok + n_failed) / secs, (double)n_ok / secs, pct_ms(50), pct_ms(90), pct_ms(99),
           n_lat ? lat_us[n_lat - 1] / 1000.0 : 0.0, (unsigned long long)n_ok, (unsigned long long)n_failed,
           (unsigned long long)n_http, (double)n_http / secs, cpu, srv_cpu, all_cpu, (unsigned long long)n_resetups,
           (unsigned long long)n_reconnects, fails, sample);
    return 0;
}
