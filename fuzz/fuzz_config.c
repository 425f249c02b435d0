/* fuzz_config.c: libFuzzer target for the config file parser (config_load_buffer, then
 * oauth_config_validate: the settings, then the clients' metadata checks). Covers the YAML layer, the
 * checked number and boolean conversions and every validator; the environment overlay is not fuzzed here
 * (it is table-driven and takes no untrusted input). */
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "oauth/client_check.h"

#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf err;
    struct config *cfg = NULL;
    if (config_load_buffer((const char *)data, size, &cfg, &err) != 0)
        return 0;
    (void)oauth_config_validate(cfg, &err);
    /* Validating twice must be harmless: main may re-validate after applying flags. */
    (void)oauth_config_validate(cfg, &err);
    config_free(cfg);
    return 0;
}
