/* main.c: the `ostiary` command: serve | migrate | client | keys | user | consent | registration |
 * config. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "version.h"
#include "core/banned.h"

static void usage(FILE *out)
{
    fputs("usage: ostiary <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve     run the provider (--config FILE, --dev, --listen HOST:PORT, --issuer URL,\n"
          "            --storage DSN, --workers N, --log-level LEVEL)\n"
          "  migrate   apply pending store migrations (--create: start or adopt a store on purpose),\n"
          "            or copy a store into another (--from DSN --to DSN)\n"
          "  client    create | list | show | update | delete | rotate-secret  (ostiary client help)\n"
          "  keys      list | rotate                                            (ostiary keys help)\n"
          "  user      add | passwd | list | show | update | disable | delete   (ostiary user help)\n"
          "  consent   list | revoke                                            (ostiary consent help)\n"
          "  registration  token create: an initial access token for POST /reg   (ostiary registration help)\n"
          "  config    check: validate the configuration without starting       (ostiary config help)\n"
          "  version   print the version (also --version)\n"
          "\n"
          "Every command reads the same configuration: --config FILE (or OSTIARY_CONFIG), then OSTIARY_*\n"
          "environment variables, then flags. See docs/configuration.md.\n",
          out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "client") == 0)
        return cmd_client(argc - 1, argv + 1);
    if (strcmp(cmd, "keys") == 0)
        return cmd_keys(argc - 1, argv + 1);
    if (strcmp(cmd, "user") == 0)
        return cmd_user(argc - 1, argv + 1);
    if (strcmp(cmd, "consent") == 0)
        return cmd_consent(argc - 1, argv + 1);
    if (strcmp(cmd, "registration") == 0)
        return cmd_registration(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0)
        return cmd_config(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("ostiary %s\n", OSTIARY_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "ostiary: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
