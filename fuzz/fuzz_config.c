/* fuzz_config.c: libFuzzer target for the config file parser (config_load_buffer, then config_validate
 * and the protocol-layer client checks, clients_config_check).
 * Covers the YAML/libcyaml layer, the checked number and boolean conversions and every validator; the
 * environment overlay is not fuzzed here (it is table-driven and takes no untrusted input). */
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "oauth/client.h"

#include "core/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf err;
    struct config *cfg = NULL;
    if (config_load_buffer((const char *)data, size, &cfg, &err) != 0)
        return 0;
    if (config_validate(cfg, &err) == 0)
        (void)clients_config_check(cfg, &err);
    /* Validating twice must be harmless: main may re-validate after applying flags. */
    (void)config_validate(cfg, &err);
    config_free(cfg);
    return 0;
}
