/* fuzz_client_meta.c: libFuzzer target for the JSON client metadata of the admin API: a JSON object
 * (jansson, duplicate members refused) through client_meta_from_json_strict (members and their JSON types)
 * and client_check (the rules of client metadata), against a configuration with two APIs, two algorithms
 * and an admin listener, as admin/clients.c runs them. Also the metadata written back
 * (client_metadata_json), read again. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/config.h"
#include "oauth/client.h"
#include "oauth/client_check.h"

#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct config *cfg;

static const char config_yaml[] = "issuer: https://op.example.com\n"
                                  "keys: { algorithms: [RS256, ES256] }\n"
                                  "admin: { listen: \"127.0.0.1:4001\" }\n"
                                  "resources:\n"
                                  "  - identifier: urn:a\n"
                                  "    scopes: [read]\n"
                                  "  - identifier: https://api.example.com/\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf err;
    if (cfg == NULL && (config_load_buffer(config_yaml, strlen(config_yaml), &cfg, &err) != 0 ||
                        oauth_config_validate(cfg, &err) != 0))
        abort(); /* the target's own configuration: a bug of the target */
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return 0;
    }
    struct arena *a = arena_new(4096);
    struct client_meta m;
    struct client_problem p;
    struct client c;
    if (client_meta_from_json_strict(o, a, &m, &p) == 0) {
        client_meta_default_grants(&m);
        m.server_secret = true;
        if (m.client_id == NULL)
            m.client_id = "fuzz-client";
        if (client_check(cfg, &m, a, &c, &p) == 0) {
            char *meta = client_metadata_json(&c);
            json_t *again = meta != NULL ? json_loads(meta, 0, NULL) : NULL;
            struct client_meta m2;
            /* What the server stores reads back as valid metadata. */
            if (again == NULL || client_meta_from_json_strict(again, a, &m2, &p) != 0)
                abort();
            json_decref(again);
            free(meta);
        } else {
            char reason[512];
            client_problem_reason(&p, NULL, reason, sizeof(reason));
        }
    }
    arena_free(a);
    json_decref(o);
    return 0;
}
