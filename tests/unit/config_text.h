/* config_text.h: configurations from YAML text for the unit tests of the configuration and of the checks
 * above it: load (config_load_buffer) and load-then-validate with a given validation, and a substring
 * test for messages. */
#ifndef OSTIARY_TEST_CONFIG_TEXT_H
#define OSTIARY_TEST_CONFIG_TEXT_H

#include <stdbool.h>
#include <string.h>

#include "core/config.h"

/* The configuration of yaml, or NULL with the message in err. */
static inline struct config *load(const char *yaml, struct errbuf *err)
{
    struct config *cfg = NULL;
    err->msg[0] = '\0';
    if (config_load_buffer(yaml, strlen(yaml), &cfg, err) != 0)
        return NULL;
    return cfg;
}

/* Loads and runs validate on it; returns what validate returned (-100 when loading failed) and leaves the
 * message in err. */
static inline int load_validate_with(const char *yaml, int (*validate)(struct config *, struct errbuf *),
                                     struct errbuf *err)
{
    struct config *cfg = load(yaml, err);
    if (cfg == NULL)
        return -100;
    int rc = validate(cfg, err);
    config_free(cfg);
    return rc;
}

static inline bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

#endif
