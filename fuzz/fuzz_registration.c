/* fuzz_registration.c: libFuzzer target for dynamic client registration bodies (RFC 7591 §3.1, RFC 7592
 * §2.2), as oauth/registration.c reads them: a JSON object (jansson, duplicate members refused) through
 * client_meta_from_registration (members and their RFC types) and client_check_registration (the rules
 * of client metadata and the registration.* policy), against a configuration with an API, two algorithms
 * and a policy with host patterns and localhost. What a registration stores must read back as valid
 * metadata, and an accepted registration never has a scripting redirect URI. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
                                  "resources:\n"
                                  "  - identifier: https://api.example.com/\n"
                                  "    scopes: [read]\n"
                                  "registration:\n"
                                  "  enabled: true\n"
                                  "  allow_localhost: true\n"
                                  "  redirect_uri_schemes: [https, com.example.app]\n"
                                  "  redirect_uri_hosts: [rp.example.com, \"*.apps.example.com\"]\n"
                                  "  scopes: [openid, profile, read]\n"
                                  "  resources: [\"https://api.example.com/\"]\n"
                                  "  auth_methods: [client_secret_basic, none]\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf err;
    if (cfg == NULL && (config_load_buffer(config_yaml, strlen(config_yaml), &cfg, &err) != 0 ||
                        oauth_config_validate(cfg, &err) != 0))
        abort(); /* the target's own configuration: a bug of the target */
    json_t *o = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (o == NULL)
        return 0;
    struct arena *a = arena_new(4096);
    struct client_meta m;
    struct client_problem p;
    struct client c;
    int rc = client_meta_from_registration(o, a, &m, &p);
    if (rc == 0) {
        m.client_id = "fuzz-client";
        rc = client_check_registration(cfg, &m, a, &c, &p);
    }
    if (rc == 0) {
        for (size_t i = 0; i < c.n_redirect_uris; i++)
            if (strncasecmp(c.redirect_uris[i], "javascript:", 11) == 0 || strncasecmp(c.redirect_uris[i], "data:", 5) == 0)
                abort();
        if (!c.resources_listed || c.introspection_access != INTROSPECT_OWN)
            abort();
        char *meta = client_metadata_json(&c);
        json_t *again = meta != NULL ? json_loads(meta, 0, NULL) : NULL;
        struct client_meta m2;
        if (again == NULL || client_meta_from_json_strict(again, a, &m2, &p) != 0)
            abort();
        json_decref(again);
        free(meta);
    } else {
        char reason[512];
        client_problem_reason(&p, NULL, reason, sizeof(reason));
    }
    arena_free(a);
    json_decref(o);
    return 0;
}
