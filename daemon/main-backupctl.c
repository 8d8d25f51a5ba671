/* SPDX-License-Identifier: MIT */
/*
 * main-backupctl.c — etcd-backupctl, the operator's tool: global options,
 * the sub-command table, each sub-command's --help, and exit codes
 * (0 ok, 1 failed, 2 usage, 69 unreachable, 78 configuration).
 */

#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "config.h"
#include "ctl-calendar.h"
#include "store.h"
#include "util/parse.h"
#include "util/time.h"
#include "log.h"
#include "util/str.h"

typedef struct Ctl {
        const char *socket;     /* -s; NULL = from the config */
        const char *config;     /* -c */
        bool config_given;
        bool json;
} Ctl;

typedef struct Command {
        const char *name;
        const char *synopsis;
        const char *summary;
        const char *details;
        int (*run)(Ctl *ctl, int argc, char **argv);
} Command;

static int run_list(Ctl *ctl, int argc, char **argv);
static int run_calendar(Ctl *ctl, int argc, char **argv);

static const Command commands[] = {
        { "status", "status", "show the daemon's state, last result and next run",
          "Through the daemon's control socket.\n", NULL },
        { "list", "list", "list the backups in the backup directory",
          "Reads the backup directory named by the config (storage.directory).\n", run_list },
        { "backup", "backup", "take a backup now and wait for it",
          "Through the daemon's control socket; shows progress.\n", NULL },
        { "prune", "prune [--dry-run]", "apply the retention policy now",
          "  --dry-run   print what would be kept and deleted; delete nothing\n", NULL },
        { "restore", "restore NAME|latest|FILE [--dry-run] [--yes]",
          "restore etcd from a backup (stops kube-apiserver and etcd)",
          "Walks the whole runbook through the root-only restore socket.\n"
          "  --dry-run   print the plan; change nothing\n"
          "  --yes       do not ask for confirmation\n", NULL },
        { "verify", "verify NAME|FILE", "check a backup end to end (offline)",
          "Decrypts, decompresses, checks the SHA-256 trailer, the db structure and\n"
          "the sidecar checksums. No daemon needed.\n", NULL },
        { "inspect", "inspect NAME|FILE", "print hash, revision, totalKey, totalSize (offline)",
          "The same four figures as `etcdctl snapshot status`.\n", NULL },
        { "get", "get NAME|FILE KEY [--prefix]", "read keys out of a backup (offline)",
          "  --prefix    every key that starts with KEY\n", NULL },
        { "audit", "audit NAME|FILE", "report how Kubernetes Secrets are stored in a backup (offline)",
          "Counts Secrets per encryption provider and key name, and plaintext ones.\n", NULL },
        { "calendar", "calendar [--iterations N] [--base-time TIME] EXPR...",
          "print the next elapses of a calendar expression",
          "The layout and results of `systemd-analyze calendar`.\n", run_calendar },
};

static int load_config(Ctl *ctl, Config **ret) {
        ConfigDiags diags = {};
        int r;

        r = config_load(ctl->config, ret, &diags);
        if (r < 0) {
                config_diags_print(&diags, stderr);
                config_diags_done(&diags);
                return -EINVAL;
        }
        config_diags_done(&diags);
        return 0;
}

static struct json_object *sidecar_json(const StoreEntry *e) {
        _cleanup_free_ char *text = NULL;

        if (e->has_sidecar && sidecar_to_json(&e->sidecar, &text) >= 0)
                return json_tokener_parse(text);
        /* A backup without a (valid) sidecar: what its name says. */
        {
                struct json_object *o = json_object_new_object();
                char created[FORMAT_RFC3339_MAX], cluster[17];
                snprintf(cluster, sizeof cluster, "%016" PRIx64, e->parsed.cluster_id);
                json_object_object_add(o, "name", json_object_new_string(e->name));
                json_object_object_add(o, "created", json_object_new_string(
                        format_rfc3339(created, sizeof created, e->parsed.created_usec)));
                json_object_object_add(o, "cluster_id", json_object_new_string(cluster));
                json_object_object_add(o, "revision", json_object_new_int64(e->parsed.revision));
                json_object_object_add(o, "file_size", json_object_new_int64((int64_t) e->file_size));
                json_object_object_add(o, "compression", json_object_new_string(codec_to_string(e->parsed.compression)));
                json_object_object_add(o, "encrypted", json_object_new_boolean(e->parsed.encrypted));
                json_object_object_add(o, "sidecar", json_object_new_boolean(false));
                return o;
        }
}

static int run_list(Ctl *ctl, int argc, char **argv) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(store_freep) Store *store = NULL;
        _cleanup_free_ char *error = NULL;
        StoreEntry *e = NULL;
        size_t n = 0;
        int r;

        if (argc > 1) {
                fprintf(stderr, "etcd-backupctl: list takes no arguments.\n");
                return EXIT_USAGE;
        }
        if (load_config(ctl, &c) < 0)
                return EXIT_CONFIG;
        r = store_open(c->storage.directory, false, &store, &error);
        if (r == -ENOENT && !ctl->json) {
                printf("No backups: %s does not exist yet.\n", c->storage.directory);
                return EXIT_SUCCESS;
        }
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: %s\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        r = store_list(store, &e, &n);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: cannot list %s: %s\n", c->storage.directory, strerror(-r));
                return EXIT_FAILURE;
        }
        if (ctl->json) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, sidecar_json(&e[i]));
                printf("%s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PRETTY |
                                                                     JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(a);
        } else if (n == 0)
                printf("No backups in %s.\n", c->storage.directory);
        else {
                size_t w = 4;
                for (size_t i = 0; i < n; i++)
                        w = MAX(w, strlen(e[i].name));
                printf("%-*s  %-20s  %10s  %10s  %-5s  %s\n", (int) w, "NAME", "CREATED", "REVISION", "SIZE",
                       "CODEC", "ENCRYPTED");
                for (size_t i = 0; i < n; i++) {
                        char created[FORMAT_RFC3339_MAX], size[FORMAT_BYTES_MAX];
                        printf("%-*s  %-20s  %10" PRId64 "  %10s  %-5s  %s%s\n", (int) w, e[i].name,
                               format_rfc3339(created, sizeof created, e[i].parsed.created_usec),
                               e[i].parsed.revision, format_bytes(size, sizeof size, e[i].file_size),
                               codec_to_string(e[i].parsed.compression), e[i].parsed.encrypted ? "yes" : "no",
                               e[i].has_sidecar ? "" : "  (no sidecar)");
                }
        }
        store_entries_free(e, n);
        return EXIT_SUCCESS;
}

static int run_calendar(Ctl *ctl, int argc, char **argv) {
        return ctl_calendar_main(argc, argv);
}

static void help(void) {
        printf("Usage: etcd-backupctl [-s SOCKET] [-c CONFIG] [--json] COMMAND [ARGS...]\n"
               "\n"
               "The operator's tool for etcd-backupd.\n"
               "\n"
               "Options:\n"
               "  -s, --socket=PATH   the daemon's control socket (default: from the config)\n"
               "  -c, --config=FILE   configuration file (default %s)\n"
               "      --json          machine-readable output\n"
               "      --version       print the version\n"
               "  -h, --help          show this help; COMMAND --help for a command\n"
               "\n"
               "Commands:\n", CONFIG_DEFAULT_PATH);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-10s %s\n", commands[i].name, commands[i].summary);
}

static void command_help(const Command *cmd) {
        printf("Usage: etcd-backupctl [-s SOCKET] [-c CONFIG] [--json] %s\n\n%s.\n\n%s",
               cmd->synopsis, cmd->summary, cmd->details);
}

static bool wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "--help") || streq(argv[i], "-h"))
                        return true;
        }
        return false;
}

int main(int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_VERSION };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, ARG_JSON },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        Ctl ctl = { .config = CONFIG_DEFAULT_PATH };
        const Command *cmd = NULL;
        int c;

        log_setup("etcd-backupctl", LOG_TARGET_STDERR);

        /* '+': stop at the command name; the command parses its own options. */
        while ((c = getopt_long(argc, argv, "+s:c:h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        ctl.socket = optarg;
                        break;
                case 'c':
                        ctl.config = optarg;
                        ctl.config_given = true;
                        break;
                case ARG_JSON:
                        ctl.json = true;
                        break;
                case ARG_VERSION:
                        printf("etcd-backupctl %s\n", PACKAGE_VERSION);
                        return EXIT_SUCCESS;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        fprintf(stderr, "Try 'etcd-backupctl --help'.\n");
                        return EXIT_USAGE;
                }
        if (optind >= argc) {
                fprintf(stderr, "etcd-backupctl: missing command. Try 'etcd-backupctl --help'.\n");
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (streq(commands[i].name, argv[optind]))
                        cmd = &commands[i];
        if (!cmd) {
                fprintf(stderr, "etcd-backupctl: unknown command '%s'. Try 'etcd-backupctl --help'.\n",
                        argv[optind]);
                return EXIT_USAGE;
        }
        argc -= optind;
        argv += optind;
        if (wants_help(argc, argv)) {
                command_help(cmd);
                return EXIT_SUCCESS;
        }
        if (!cmd->run) {
                fprintf(stderr, "etcd-backupctl: '%s' is not built yet.\n", cmd->name);
                return EXIT_FAILURE;
        }
        optind = 0; /* reset getopt for the command's own options */
        return cmd->run(&ctl, argc, argv);
}
