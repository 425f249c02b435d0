/* common.c: what every subcommand shares: global flags, configuration loading, the key secret and the
 * store. The only place besides cmd_*.c allowed to print and to exit. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/arena.h"
#include "core/rand.h"
#include "core/str.h"
#include "http/server.h"
#include "oauth/client_check.h"
#include "ui/tmpl.h"
#include "core/banned.h"

extern char **environ;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ostiary: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

int cli_global_flag(struct cli_globals *g, int argc, char **argv, int *i, struct errbuf *err)
{
    const char *a = argv[*i];
    const char **slot = NULL;
    if (strcmp(a, "--dev") == 0) {
        g->dev = true;
        return 1;
    }
    if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0)
        slot = &g->config_path;
    else if (strcmp(a, "--listen") == 0)
        slot = &g->listen;
    else if (strcmp(a, "--issuer") == 0)
        slot = &g->issuer;
    else if (strcmp(a, "--storage") == 0)
        slot = &g->storage;
    else if (strcmp(a, "--workers") == 0)
        slot = &g->workers;
    else if (strcmp(a, "--log-level") == 0)
        slot = &g->log_level;
    if (slot == NULL)
        return 0;
    if (*i + 1 >= argc) {
        errbuf_set(err, "%s needs a value", a);
        return -1;
    }
    *slot = argv[++*i];
    return 1;
}

void cli_parse_globals(const char *cmd, int argc, char **argv, struct cli_globals *g, const char *flag,
                       bool *given)
{
    struct errbuf err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (flag != NULL && strcmp(argv[i], flag) == 0) {
            *given = true;
            continue;
        }
        int r = cli_global_flag(g, argc, argv, &i, &err);
        if (r < 0)
            die("%s", err.msg);
        if (r == 0)
            die("%s: unknown option '%s' (see ostiary help)", cmd, argv[i]);
    }
}

int cli_config_read(const struct cli_globals *g, struct config **out, struct errbuf *err)
{
    struct config *cfg = NULL;
    const char *path = g->config_path != NULL ? g->config_path : getenv("OSTIARY_CONFIG");
    struct errbuf e = {{0}};
    if (config_load(path, environ, &cfg, &e) != 0) {
        errbuf_set(err, "configuration: %s", e.msg);
        return ERR_INVALID;
    }
    if (g->workers != NULL) {
        int64_t n;
        if (str_to_i64(str_c(g->workers), &n) != 0 || n < 0 || n > 1024) {
            errbuf_set(err, "--workers: expected a number between 0 and 1024, got '%s'", g->workers);
            config_free(cfg);
            return ERR_INVALID;
        }
    }
    /* Flags override the file and the environment; their values lose any file position. */
    const struct {
        const char *value, *path, *flag;
    } flags[] = {
        {g->dev ? "true" : NULL, "dev", "--dev"},   {g->listen, "listen", "--listen"},
        {g->issuer, "issuer", "--issuer"},          {g->storage, "storage", "--storage"},
        {g->log_level, "log_level", "--log-level"}, {g->workers, "workers", "--workers"},
    };
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (flags[i].value != NULL &&
            config_set(cfg, flags[i].path, flags[i].value, flags[i].flag, err) != 0) {
            config_free(cfg);
            return ERR_INVALID;
        }
    }
    if (oauth_config_validate(cfg, &e) != 0) {
        errbuf_set(err, "configuration: %s", e.msg);
        config_free(cfg);
        return ERR_INVALID;
    }
    *out = cfg;
    return 0;
}

struct config *cli_load_config(const struct cli_globals *g)
{
    struct errbuf err = {{0}};
    struct config *cfg = NULL;
    if (cli_config_read(g, &cfg, &err) != 0)
        die("%s", err.msg);
    return cfg;
}

static char *read_secret_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    char *s = strdup(buf);
    explicit_bzero(buf, sizeof(buf));
    return s;
}

/* The directory of the SQLite file, or "." (also for a database server) — where dev mode keeps its
 * generated key secret. */
static char *dev_secret_path(const struct config *cfg)
{
    const char *dsn = cfg->storage;
    const char *p = strncmp(dsn, "sqlite:", 7) == 0 ? dsn + 7 : "";
    const char *slash = strrchr(p, '/');
    size_t dirlen = slash != NULL ? (size_t)(slash - p) : 0;
    size_t n = dirlen + 32;
    char *out = malloc(n);
    if (dirlen == 0)
        snprintf(out, n, "key-secret");
    else
        snprintf(out, n, "%.*s/key-secret", (int)dirlen, p);
    return out;
}

int cli_key_secret_read(const struct config *cfg, bool generate, char **out, struct errbuf *err)
{
    *out = NULL;
    if (cfg->keys.secret != NULL) {
        *out = strdup(cfg->keys.secret);
        return 0;
    }
    if (cfg->keys.secret_file != NULL) {
        char *s = read_secret_file(cfg->keys.secret_file);
        if (s == NULL) {
            errbuf_set(err, "keys.secret_file: cannot read '%s': %s", cfg->keys.secret_file, strerror(errno));
            return ERR_INVALID;
        }
        if (strlen(s) < 32) {
            explicit_bzero(s, strlen(s));
            free(s);
            errbuf_set(err, "keys.secret_file: the secret must be at least 32 characters "
                            "(openssl rand -base64 32)");
            return ERR_INVALID;
        }
        *out = s;
        return 0;
    }
    if (!cfg->dev) {
        errbuf_set(err, "keys.secret or keys.secret_file is required to encrypt signing keys at rest "
                        "(generate one with: openssl rand -base64 32), or run with --dev");
        return ERR_INVALID;
    }
    if (!generate)
        return 0;
    char *path = dev_secret_path(cfg);
    char *s = read_secret_file(path);
    if (s == NULL) {
        struct arena *a = arena_new(1024);
        const char *gen = rand_token(a, 32);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            errbuf_set(err, "dev mode: cannot create key secret file '%s': %s", path, strerror(errno));
            arena_free(a);
            free(path);
            return ERR_FAIL;
        }
        size_t len = strlen(gen);
        bool ok = write(fd, gen, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
        close(fd);
        if (!ok) {
            errbuf_set(err, "dev mode: cannot write '%s'", path);
            arena_free(a);
            free(path);
            return ERR_FAIL;
        }
        s = strdup(gen);
        arena_free(a);
    }
    free(path);
    *out = s;
    return 0;
}

char *cli_key_secret(const struct config *cfg)
{
    struct errbuf err = {{0}};
    char *s = NULL;
    if (cli_key_secret_read(cfg, true, &s, &err) != 0)
        die("%s", err.msg);
    return s;
}

int cli_check_start_files(const struct config *cfg, struct errbuf *err)
{
    char *secret = NULL;
    if (cli_key_secret_read(cfg, false, &secret, err) != 0)
        return ERR_INVALID;
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    struct errbuf e = {{0}};
    struct tmpl_set *pages = NULL;
    if (tmpl_set_load(cfg->ui.dir, &pages, &e) != 0) {
        errbuf_set(err, "ui.dir: %s", e.msg);
        return ERR_INVALID;
    }
    tmpl_set_free(pages);
    if (cfg->tls.cert_file != NULL && http_tls_check(cfg->tls.cert_file, cfg->tls.key_file, err) != 0)
        return ERR_INVALID;
    return 0;
}

void cli_ensure_parent_dir(const char *dsn)
{
    if (strncmp(dsn, "sqlite:", 7) != 0)
        return;
    const char *p = dsn + 7;
    const char *slash = strrchr(p, '/');
    if (slash == NULL || slash == p)
        return;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        die("storage: cannot create directory '%s': %s", dir, strerror(errno));
}

void cli_open_store(const struct config *cfg, struct store **st, struct store_conn **conn)
{
    struct errbuf err = {{0}};
    cli_ensure_parent_dir(cfg->storage);
    if (store_open(cfg->storage, st, &err) != 0)
        die("storage: %s", err.msg);
    int applied = 0;
    if (store_migrate(*st, &applied, &err) != 0)
        die("storage: migration failed: %s", err.msg);
    if (store_conn_open(*st, conn, &err) != 0)
        die("storage: %s", err.msg);
}
