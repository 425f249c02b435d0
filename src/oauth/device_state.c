/* device_state.c: what the parts of the device grant share (device.h): the process's device state (the
 * polling pace, the user-code limiter, the lookup key of user codes) and reading a device code row.
 * The polling pace (RFC 8628 §3.5 slow_down) is kept in memory and shared by the worker threads, so that a
 * pending poll costs one store read and no write: a fixed table of PACE_SLOTS entries, open addressing over
 * a neighbourhood of PACE_PROBE slots from the slot the key names (the key is a SHA-256, so slots spread
 * evenly and nobody can aim at one). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/arena.h"
#include "core/str.h"
#include "http/http.h"
#include "oauth/device.h"
#include "oauth/user_code.h"
#include "session/limiter.h"
#include "core/banned.h"

#define PACE_SLOTS 16384u /* power of two; 16,384 live device codes before any entry is dropped */
#define PACE_PROBE 8u
#define PACE_KEY_LEN 16u   /* of the row key's 32 bytes: enough to tell live codes apart */
/* The longest interval kept: a device that kept ignoring slow_down cannot overflow it. */
#define PACE_MAX_INTERVAL_MS (3600 * 1000)

struct pace_slot {
    uint8_t key[PACE_KEY_LEN];
    int64_t last_ms;      /* the previous poll */
    int64_t exp;          /* the device code's expiry (Unix seconds); 0 = a free slot */
    uint32_t interval_ms; /* the code's current interval: the configured one plus its slow_downs */
};

struct device_pace {
    pthread_mutex_t mu;
    struct pace_slot slots[PACE_SLOTS];
};

struct device_pace *device_pace_new(void)
{
    struct device_pace *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void device_pace_free(struct device_pace *p)
{
    if (p == NULL)
        return;
    pthread_mutex_destroy(&p->mu);
    free(p);
}

bool device_pace_poll(struct device_pace *p, const uint8_t key[STORE_HASH_LEN], int64_t now_ms,
                      uint32_t interval_s, int64_t exp, int64_t now)
{
    uint64_t start;
    memcpy(&start, key, sizeof(start));
    uint32_t base_ms = interval_s * 1000u;
    pthread_mutex_lock(&p->mu);
    struct pace_slot *mine = NULL, *free_slot = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < PACE_PROBE && mine == NULL; i++) {
        struct pace_slot *s = &p->slots[(start + i) & (PACE_SLOTS - 1)];
        if (s->exp > now && memcmp(s->key, key, PACE_KEY_LEN) == 0)
            mine = s;
        else if (s->exp <= now && free_slot == NULL)
            free_slot = s;
        else if (s->exp > now && (oldest == NULL || s->last_ms < oldest->last_ms))
            oldest = s;
    }
    bool keeps_pace = true;
    if (mine == NULL) {
        /* The first poll this process sees of that code: it keeps the pace by definition. */
        mine = free_slot != NULL ? free_slot : oldest;
        memcpy(mine->key, key, PACE_KEY_LEN);
        mine->interval_ms = base_ms;
        mine->exp = exp;
    } else {
        /* Less 10 %: timers fire late or early by a little, and requests travel for varying times. */
        int64_t need = (int64_t)mine->interval_ms - (int64_t)mine->interval_ms / 10;
        if (now_ms - mine->last_ms < need) {
            keeps_pace = false;
            if (mine->interval_ms < PACE_MAX_INTERVAL_MS)
                mine->interval_ms += DEVICE_SLOW_DOWN_STEP_S * 1000u;
        }
    }
    mine->last_ms = now_ms;
    pthread_mutex_unlock(&p->mu);
    return keeps_pace;
}

int device_state_init(struct app *app)
{
    app->user_code_limiter = limiter_new(app->cfg->device.lockout_seconds);
    if (app->user_code_limiter == NULL)
        return -1;
    app->device_pace = device_pace_new();
    user_code_key(app->key_secret, app->user_code_key);
    return 0;
}

void device_state_release(struct app *app)
{
    limiter_free(app->user_code_limiter);
    device_pace_free(app->device_pace);
    app->user_code_limiter = NULL;
    app->device_pace = NULL;
    explicit_bzero(app->user_code_key, sizeof(app->user_code_key));
}

int device_row_get(struct http_req *req, const char *b64, struct store_token *out, struct errbuf *err)
{
    unsigned char *key;
    size_t n;
    if (b64 == NULL || b64url_decode(req->arena, b64, strlen(b64), &key, &n) != 0 || n != STORE_HASH_LEN)
        return ERR_NOTFOUND;
    int rc = store_token_get(req->worker->db, req->arena, key, out, err);
    if (rc == 0 && out->kind != STORE_TOKEN_DEVICE)
        return ERR_NOTFOUND;
    return rc;
}

bool device_row_pending(const struct store_token *row, int64_t now)
{
    return row->sub == NULL && row->revoked_at == 0 && row->consumed_at == 0 && row->exp > now;
}
