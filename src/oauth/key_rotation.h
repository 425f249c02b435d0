/* key_rotation.h: what signing-key rotation needs from the protocol layer: the longest lifetime of a
 * token a key signs (how long a retired key stays published), and the automatic rotation of a running
 * server (keys.rotation_period, docs/keys.md), which worker 0 runs every keys.reload_interval. The key
 * material and the rotation plan are jose's (keystore.c). */
#ifndef OSTIARY_OAUTH_KEY_ROTATION_H
#define OSTIARY_OAUTH_KEY_ROTATION_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct app;
struct arena;
struct config;
struct store_conn;

/* The longest lifetime of a token signed with a key (access and ID tokens; refresh tokens are opaque):
 * tokens.access_token_ttl, tokens.id_token_ttl, every resources[] and clients[] access_token_ttl of the
 * file, and every stored client's (clients registered with the CLI or the admin API carry their own).
 * One client listing. 0, or the store's error. */
int token_max_ttl(const struct config *cfg, struct store_conn *db, struct arena *a, int64_t *out,
                  struct errbuf *err);

/* Automatic rotation: when keys.rotation_period is set and a key is due (keystore_rotation_pending, one
 * key listing), rotates under the store's key lock (keystore_auto_rotate) and reloads app->keys, so the
 * new key is published at once. *rotated (optional) gets how many keys were created. 0, or the store's
 * error (the keys in use are unchanged). */
int keys_rotate_when_due(struct app *app, struct store_conn *db, int64_t now, size_t *rotated,
                         struct errbuf *err);

#endif
