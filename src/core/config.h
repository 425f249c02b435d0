/* config.h: the server configuration. One YAML file, then OSTIARY_* environment variables, then
 * command-line flags, then validation. Owner: main (config_free). Every setting is declared once, in
 * config_keys.h, from which the members below, the YAML binding, the OSTIARY_* names and the key table of
 * docs/configuration.md are derived. The code, by job: config_schema.c (the declaration's tables, defaults,
 * release, file positions, the doc table), config_yaml.c (the file, through libyaml's events),
 * config_env.c (the environment), config_check.c (config_validate).
 *
 * Environment names: OSTIARY_ + the key path upper-cased with '.' -> '_' (OSTIARY_TOKENS_CODE_TTL); lists
 * are comma-separated. Booleans: true/false, yes/no, 1/0 (any case). Any other OSTIARY_* variable is an
 * error (a typo would otherwise be silently ignored), except OSTIARY_CONFIG, the config path read by main.
 * The lists of mappings (resources, clients, users) come from the file only.
 *
 * Every error names the key and the reason, and where the file has the value, its line and column:
 *   "<file>:<line>:<col>: <key path>: <reason>"  from config_load ("<line>:<col>: ..." from
 *       config_load_buffer), e.g. "ostiary.yaml:3:21: tokens.access_token_ttl: invalid unsigned integer
 *       'abc'", "ostiary.yaml:7:5: clients[1].secret: unknown key",
 *       "ostiary.yaml:1:9: YAML syntax error: did not find expected ',' or '}' (while parsing a flow
 *       mapping at 1:9)"; and from the checks after loading (config_validate, the client and user checks
 *       above core) for a value the file gave, e.g. "ostiary.yaml:12:9: clients[0].redirect_uris[1]: ...";
 *   "<key path>: <reason>"  from those checks for a value of a default, the environment or a flag;
 *   "OSTIARY_<NAME>: <reason>"  from config_apply_env.
 * Secrets (keys.secret, client secrets, user passwords and hashes) and database URLs are never echoed.
 * Files over 1 MiB, YAML anchors and aliases, and a second document are refused; so are unknown and
 * duplicate keys, scalars over 4096 bytes and lists over their cap. */
#ifndef OSTIARY_CONFIG_H
#define OSTIARY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config_keys.h"
#include "core/err.h"

struct ipnet;
struct strbuf;
struct config_positions;

/* clang-format off */
struct cfg_address { CONFIG_ADDRESS(CFG_MEMBER) };
struct cfg_resource { CONFIG_RESOURCE(CFG_MEMBER) };
struct cfg_client {
    CONFIG_CLIENT(CFG_MEMBER)
    bool require_pkce_set, require_pkce_value; /* derived from require_pkce by clients_check_config */
};
struct cfg_user { CONFIG_USER(CFG_MEMBER) };

#define CFG_SECTION_STRUCT(sec, ROWS) struct cfg_##sec { ROWS(CFG_MEMBER) };
CONFIG_SUBSECTIONS(CFG_SECTION_STRUCT)
CONFIG_SECTIONS(CFG_SECTION_STRUCT)
#undef CFG_SECTION_STRUCT
/* clang-format on */

struct config {
    CONFIG_TOP(CFG_MEMBER)
#define CFG_SECTION_MEMBER(sec, ROWS) struct cfg_##sec sec;
    CONFIG_SECTIONS(CFG_SECTION_MEMBER)
#undef CFG_SECTION_MEMBER
#define CFG_ENTRIES_MEMBER(name, type, ROWS, max)                                                            \
    struct type *name;                                                                                       \
    unsigned n_##name;
    CONFIG_ENTRIES(CFG_ENTRIES_MEMBER)
#undef CFG_ENTRIES_MEMBER

    /* Derived by config_validate(), not read from the file. */
    char *issuer_path;           /* path part of issuer without trailing '/', "" for none */
    char *listen_host;
    uint16_t listen_port;
    char *admin_listen_host;     /* admin.listen parsed; NULL when unset */
    uint16_t admin_listen_port;
    struct ipnet *trusted_proxy_nets; /* trusted_proxies parsed (core/ipnet.h), n_trusted_proxies long */
    /* The key-encryption secret resolved from keys.secret or keys.secret_file, set by the CLI before the
     * file's clients are applied (a client_secret_jwt client's secret is sealed with it); NULL until then.
     * Never echoed; wiped by config_free. */
    char *key_secret;
    /* Where the file had each value, by key path (config_position); NULL without a file. */
    struct config_positions *positions;
};

/* Loads `path` (NULL: defaults only), applies OSTIARY_* from envp (NULL: none), but does not validate.
 * On success *out is owned by the caller (config_free); on failure *out is untouched and err says why. */
int config_load(const char *path, char *const *envp, struct config **out, struct errbuf *err);
/* Parses a YAML document from memory (used by config_load and the fuzz target) over the documented
 * defaults; an empty document gives the defaults. Does not read the environment. Messages carry
 * "<line>:<col>: " without a file name. */
int config_load_buffer(const char *yaml, size_t len, struct config **out, struct errbuf *err);
/* Applies OSTIARY_* variables from envp ("NAME=value" strings, NULL-terminated) on top of cfg; a value
 * replaced this way loses its file position. On error cfg may be partly updated; the caller frees it. */
int config_apply_env(struct config *cfg, char *const *envp, struct errbuf *err);
/* Sets the setting at `path` ("listen", "keys.algorithms") from text, as the environment would (flags
 * override); it loses its file position. 0, or ERR_INVALID with err naming `where` (e.g. "--listen"). */
int config_set(struct config *cfg, const char *path, const char *value, const char *where,
               struct errbuf *err);
/* Checks every setting and resources[] and fills the derived fields. Also fills per-entry defaults of
 * resources[]: access_token_format (jwt), signing_alg (RS256 if in keys.algorithms, else the first one).
 * Strips trailing '/' from issuer. listen_host is unbracketed ("::1"); ":port" gives "0.0.0.0". Parses
 * trusted_proxies into trusted_proxy_nets. Idempotent: may be called again after more config_set_str()
 * calls. clients[] and users[] are checked by the layers that own their rules (oauth/client_check.h:
 * oauth_config_validate() runs everything). */
int config_validate(struct config *cfg, struct errbuf *err);
/* Replaces a string field with a heap copy of value (NULL clears it), freeing the old one. Works on any
 * char * field of struct config, including those of resources[], clients[] and users[]; it does not
 * forget a file position (config_set does, for settings). */
void config_set_str(char **field, const char *value);
/* Frees cfg and everything it points to (secrets are wiped first). NULL is a no-op. */
void config_free(struct config *cfg);

/* Reload: gives every setting flagged CFG_RESTART (config_keys.h) whose value in `next` differs from the
 * one in `running` its running value back in `next`, and appends their key paths to `changed`
 * (space-separated; never a value). Returns how many. Run config_validate (or oauth_config_validate) on
 * `next` again afterwards: derived fields follow the values. */
size_t config_keep_restart_settings(struct config *next, const struct config *running,
                                   struct strbuf *changed);

/* The line and column (from 1) of the value at `path` in the file ("clients[0].redirect_uris[1]"); inside
 * a list entry, of its nearest ancestor the file wrote when it lacks the key itself (a missing client_id:
 * the entry). False when the file did not give the value (a default, the environment, a flag). */
bool config_position(const struct config *cfg, const char *path, unsigned *line, unsigned *col);
/* Sets err to "<file>:<line>:<col>: <path>: <message>" (without a file name: "<line>:<col>: ...";
 * without a position: "<path>: <message>"). */
void config_error(const struct config *cfg, struct errbuf *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The key table of docs/configuration.md (| key | environment variable | default | accepted values |),
 * rows in declaration order, appended to out. */
void config_doc_table(struct strbuf *out);
/* Appends to out the field names of the list of mappings `list` ("resources", "clients", "users",
 * "users.address"), one per line; false for another name. */
bool config_entry_fields(const char *list, struct strbuf *out);

#endif
