/* cmd_config.c: `ostiary config check`: validates a configuration the way `serve` does at start and on
 * SIGHUP (the same files, environment, flags and messages, file:line:col included), plus what the start
 * reads from disk besides the store: the key secret file, the TLS certificate and key, the page templates
 * of ui.dir. Starts nothing, opens no store, writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/banned.h"

static void usage(FILE *out)
{
    fputs("usage: ostiary config check [--config FILE] [--dev] [--listen HOST:PORT] [--issuer URL]\n"
          "                            [--storage DSN] [--workers N] [--log-level LEVEL]\n"
          "\n"
          "Checks the configuration (the file, OSTIARY_* variables and flags, as `ostiary serve` reads\n"
          "them) without starting: prints \"<file>: ok\" and exits 0, or prints the error serve would print\n"
          "at start and exits 1.\n",
          out);
}

int cmd_config(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        if (argc >= 2)
            fprintf(stderr, "ostiary: config: unknown subcommand '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    struct cli_globals g = {0};
    cli_parse_globals("config check", argc - 1, argv + 1, &g, NULL, NULL);
    struct config *cfg = NULL;
    struct errbuf err = {{0}};
    if (cli_config_read(&g, &cfg, &err) != 0 || cli_check_start_files(cfg, &err) != 0) {
        fprintf(stderr, "ostiary: %s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    const char *path = g.config_path != NULL ? g.config_path : getenv("OSTIARY_CONFIG");
    printf("%s: ok\n", path != NULL ? path : "configuration (defaults, environment, flags)");
    config_free(cfg);
    return 0;
}
