/* config_env.c: OSTIARY_* environment overrides (config.h): one variable per setting, named OSTIARY_ + the
 * key path upper-cased with '.' -> '_'; any other OSTIARY_ variable is an error, OSTIARY_CONFIG aside. The
 * real environment is never read here: main passes it in. */
#include "core/config_schema.h"

#include <string.h>

#include "core/str.h"
#include "core/banned.h"

/* The variable main reads the config path from: allowed although it is not a setting. */
#define ENV_CONFIG_PATH "OSTIARY_CONFIG"
#define ENV_PREFIX "OSTIARY_"

int config_apply_env(struct config *cfg, char *const *envp, struct errbuf *err)
{
    const size_t plen = strlen(ENV_PREFIX);
    struct cfg_setting all[CFG_MAX_SETTINGS];
    char names[CFG_MAX_SETTINGS][96];
    size_t n = cfg_settings(all);
    for (size_t i = 0; i < n; i++)
        cfg_env_name(all[i].path, names[i]);
    for (char *const *e = envp; e != NULL && *e != NULL; e++) {
        const char *var = *e;
        if (strncmp(var, ENV_PREFIX, plen) != 0)
            continue;
        const char *eq = strchr(var, '=');
        if (eq == NULL)
            continue;
        size_t nlen = (size_t)(eq - var);
        if (nlen == strlen(ENV_CONFIG_PATH) && memcmp(var, ENV_CONFIG_PATH, nlen) == 0)
            continue;
        size_t k = 0;
        while (k < n && !(strlen(names[k]) == nlen && memcmp(names[k], var, nlen) == 0))
            k++;
        if (k == n) {
            /* A typo would otherwise silently leave the default in place. */
            char name[STR_SHOWN_SIZE];
            errbuf_set(err, "%.*s: unknown OSTIARY_ environment variable (not a configuration key)",
                       (int)(nlen < 64 ? nlen : 64), str_shown(var, name));
            return ERR_INVALID;
        }
        int rc = cfg_set_text(cfg, &all[k], eq + 1, names[k], err);
        if (rc != 0)
            return rc;
        /* The value is no longer the file's: its messages carry no file position. */
        cfg_position_forget(cfg, all[k].path);
    }
    return 0;
}
