/* config_schema.h: the tables built from config_keys.h, shared by the files of the configuration
 * (config_schema.c, config_yaml.c, config_env.c, config_check.c); not for the rest of the program, which
 * reads struct config. */
#ifndef OSTIARY_CONFIG_SCHEMA_H
#define OSTIARY_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define CONFIG_MAX_FILE_BYTES (1024u * 1024u) /* refused before parsing */
#define CFG_MAX_STR 4096u                     /* longest accepted scalar, in bytes */
#define CFG_PATH_MAX 256u                     /* longest key path kept ("clients[4095].introspection_...") */

enum cfg_type {
    CFG_STR,
    CFG_U32,
    CFG_BOOL,
    CFG_BOOLSTR, /* a boolean kept as "true"/"false", NULL when absent */
    CFG_LIST,    /* of strings, with its count */
    CFG_ADDRESS, /* a mapping behind a pointer (struct cfg_address) */
    CFG_SECTION, /* a mapping of settings inside struct config */
    CFG_ENTRIES, /* a list of mappings, with its count */
};

struct cfg_map;

/* One key of a mapping. */
struct cfg_field {
    const char *name;
    enum cfg_type type;
    size_t off;        /* in the struct its mapping fills */
    size_t count_off;  /* CFG_LIST, CFG_ENTRIES: the count member */
    const char *def;   /* settings only: the default as text, NULL = unset */
    uint32_t min, max; /* CFG_U32: bounds; CFG_LIST, CFG_ENTRIES: the entry cap */
    unsigned flags;    /* enum cfg_key_flags */
    const char *doc;
    const struct cfg_map *(*sub)(void); /* CFG_SECTION, CFG_ADDRESS, CFG_ENTRIES: what is inside */
};

/* A mapping: its keys and the size of the struct it fills. */
struct cfg_map {
    const struct cfg_field *fields;
    size_t n;
    size_t size;
};

/* The top-level mapping of the file. */
const struct cfg_map *cfg_top_map(void);

/* A setting: a scalar or list of the top level or of a section (not the lists of mappings). */
struct cfg_setting {
    char path[64]; /* "keys.algorithms" */
    const struct cfg_field *f;
    size_t off;       /* in struct config */
    size_t count_off; /* CFG_LIST */
};
#define CFG_MAX_SETTINGS 96

/* Every setting, in declaration order, into out[0..CFG_MAX_SETTINGS); returns how many. */
size_t cfg_settings(struct cfg_setting *out);
/* Sets a setting from text (a default, an environment value, a flag): STR as is, U32 and BOOL through the
 * checked parsers, LIST comma-separated. `where` names the source in messages. 0, or ERR_INVALID. */
int cfg_set_text(struct config *cfg, const struct cfg_setting *s, const char *value, const char *where,
                 struct errbuf *err);

/* The configuration of the defaults alone. */
struct config *cfg_defaults(void);
/* "OSTIARY_" + path upper-cased, '.' -> '_', into out. */
void cfg_env_name(const char *path, char out[96]);

/* Every allocation failure aborts, as everywhere else: the input is size-capped. */
void *cfg_xcalloc(size_t n, size_t size);
char *cfg_xstrndup(const char *s, size_t n);
void cfg_free_list(char **list, unsigned n);

/* The file positions of a configuration. The loader records one per node; a setting replaced later
 * (environment, flag) forgets its own and those below it. */
void cfg_positions_init(struct config *cfg, const char *source);
void cfg_position_record(struct config *cfg, const char *path, unsigned line, unsigned col);
void cfg_position_forget(struct config *cfg, const char *path);

#define CFG_FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

#endif
