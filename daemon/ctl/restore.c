/* SPDX-License-Identifier: MIT */
/*
 * ctl/restore.c — `etcd-backupctl restore`: one conversation on one
 * connection of the restore socket. The request; the service answers with
 * its plan (for a dry run, as the result); the plan is printed, the operator
 * confirms (a terminal, or --yes) and the confirmation names the plan's
 * backup, so that what runs is what was shown — the service keeps the
 * verified db and the restore lock while it waits. Then each step object is
 * printed as it arrives. Human output on stdout, errors on stderr; --json
 * prints every object received as one line.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl/client.h"
#include "ctl/json-print.h"
#include "ctl/restore.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/parse.h"
#include "util/str.h"

static int conn_request(Client *c, const char *socket_path, const char *backup, bool dry_run) {
        struct json_object *req = json_object_new_object();
        int r;

        r = client_connect(c, socket_path);
        if (r == -EACCES || r == -EPERM) {
                json_object_put(req);
                fprintf(stderr, "etcd-backupctl restore: the restore socket %s refused this user: %s (%s)\n",
                        socket_path, strerror(-r), geteuid() == 0 ? "root was refused: a security policy, such as "
                        "SELinux or AppArmor, denies the connection" : "restore needs root");
                return EXIT_NOPERM;
        }
        if (r < 0) {
                json_object_put(req);
                fprintf(stderr, "etcd-backupctl restore: cannot reach the restore service at %s: %s "
                        "(is etcd-backupd-restore.socket running? restore needs root)\n", socket_path, strerror(-r));
                return EXIT_UNAVAILABLE;
        }
        if (!req)
                return EXIT_FAILURE;
        json_object_object_add(req, "method", json_object_new_string("Restore"));
        json_object_object_add(req, "backup", json_object_new_string(backup));
        json_object_object_add(req, "dry_run", json_object_new_boolean(dry_run));
        r = client_send(c, req);
        if (r < 0 && r != -EPIPE) {
                fprintf(stderr, "etcd-backupctl restore: cannot send to %s: %s\n", socket_path, strerror(-r));
                return EXIT_UNAVAILABLE;
        }
        /* -EPIPE: the service refused us and may have said why; read it. */
        return 0;
}

/* Answer the plan: confirm the restore of backup, or cancel it (NULL). */
static int answer_plan(Client *c, const char *backup) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "method", json_object_new_string(backup ? "Confirm" : "Cancel"));
        if (backup)
                json_object_object_add(o, "backup", json_object_new_string(backup));
        return client_send(c, o);
}

static void print_step(struct json_object *o) {
        const char *state = json_get_string(o, "state") ?: "?", *tag;

        if (streq(state, "running"))
                tag = "..";
        else if (streq(state, "done"))
                tag = "ok";
        else if (streq(state, "skipped"))
                tag = "--";
        else
                tag = "FAILED";
        printf("%6s  %s: %s\n", tag, json_get_string(o, "step") ?: "?", json_get_string(o, "message") ?: "");
        fflush(stdout);
}

static void print_plan(struct json_object *plan) {
        struct json_object *steps, *s;
        char size[FORMAT_BYTES_MAX];

        printf("Restore plan\n");
        printf("  Backup:     %s\n", json_get_string(plan, "backup") ?: "?");
        printf("  Created:    %s\n", json_get_string(plan, "created") ?: "unknown");
        printf("  Revision:   %" PRId64, json_get_int(plan, "revision"));
        /* A compaction above the newest key: etcd answers at its revision. */
        if (json_get_int(plan, "expected_revision") > json_get_int(plan, "revision"))
                printf(" (etcd will answer at %" PRId64 "%s)", json_get_int(plan, "expected_revision"),
                       json_get_int(plan, "expected_revision") == json_get_int(plan, "compact_revision") ?
                       ", the db's compaction revision" : "");
        printf("\n");
        printf("  DB:         %s, SHA-256 %s\n", format_bytes(size, sizeof size, (uint64_t) json_get_int(plan, "db_size")),
               json_get_string(plan, "db_sha256") ?: "?");
        printf("  Data dir:   %s", json_get_string(plan, "data_dir") ?: "?");
        if (json_get_string(plan, "pre_restore_dir"))
                printf(" (the current one is kept as %s)\n", json_get_string(plan, "pre_restore_dir"));
        else
                printf(" (does not exist yet)\n");
        printf("  Mode:       %s (%s)\n", json_get_string(plan, "mode") ?: "?", json_get_string(plan, "mode_reason") ?: "");
        if (json_get_string(plan, "member_list") && *json_get_string(plan, "member_list"))
                printf("  Cluster:    %s\n", json_get_string(plan, "member_list"));
        if (json_object_object_get_ex(plan, "member", &steps) && json_object_is_type(steps, json_type_array)) {
                printf("  Member:\n");
                for (size_t i = 0; i < json_object_array_length(steps); i++) {
                        s = json_object_array_get_idx(steps, i);
                        printf("    %-28s %s  (%s)\n", json_get_string(s, "setting") ?: "?",
                               json_get_string(s, "value") ?: "?", json_get_string(s, "source") ?: "?");
                }
        }
        printf("  Steps:\n");
        if (json_object_object_get_ex(plan, "steps", &steps) && json_object_is_type(steps, json_type_array))
                for (size_t i = 0; i < json_object_array_length(steps); i++) {
                        s = json_object_array_get_idx(steps, i);
                        printf("    %zu. %s: %s\n", i + 1, json_get_string(s, "step") ?: "?", json_get_string(s, "action") ?: "");
                }
}

/* Print an error object; returns the exit code it means. */
static int print_error(struct json_object *o, bool json) {
        const char *code = json_get_string(o, "error") ?: "error";

        if (json)
                (void) json_print("restore", o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        fprintf(stderr, "etcd-backupctl restore: %s: %s\n", code, json_get_string(o, "message") ?: "");
        if (streq(code, "restore_failed"))
                fprintf(stderr, "etcd-backupctl restore: rolled back: %s and the control plane are as they were "
                        "before the restore%s%s.\n", json_get_string(o, "data_dir") ?: "the data dir",
                        json_get_string(o, "failed_restore_dir") ? "; the failed restore is kept as " : "",
                        json_get_string(o, "failed_restore_dir") ?: "");
        else if (streq(code, "rollback_failed"))
                fprintf(stderr, "etcd-backupctl restore: THE ROLLBACK IS INCOMPLETE: %s\n"
                        "etcd-backupctl restore: see journalctl -u 'etcd-backupd-restore@*'\n",
                        json_get_string(o, "rollback_error") ?: "");
        else if (streq(code, "refused"))
                fprintf(stderr, "etcd-backupctl restore: nothing was changed.\n");
        return streq(code, "config_error") ? EXIT_CONFIG : streq(code, "rollback_failed") ? EXIT_ROLLBACK_INCOMPLETE :
               streq(code, "access_denied") ? EXIT_NOPERM : EXIT_FAILURE;
}

/* Once the restore is confirmed, the service goes on without this client:
 * an operator who stops watching (Ctrl-C, a closed terminal) is told so, and
 * where to follow it, before the signal ends the client as it would have. */
static void on_leave(int sig) {
        static const char msg[] = "\netcd-backupctl restore: this client stops, the restore does not: it goes on "
                                  "in the restore service (a confirmed restore is not cancelled); follow it with "
                                  "journalctl -f -u 'etcd-backupd-restore@*'\n";
        int saved = errno;

        (void) !write(STDERR_FILENO, msg, sizeof msg - 1);
        (void) signal(sig, SIG_DFL);
        (void) raise(sig);
        errno = saved;
}

static void tell_when_leaving(void) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
        struct sigaction sa = { .sa_handler = on_leave };

        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                struct sigaction old;
                /* One ignored (nohup, a background job) stays ignored. */
                if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
                        (void) sigaction(sigs[i], &sa, NULL);
        }
}

/* Read step objects until the result, a plan awaiting confirmation, or an
 * error. *ret_result is the "result" member, or the whole plan message
 * ({"plan":{…},"confirm_timeout_ms":N}) (owned). */
static int stream(Client *c, bool json, bool show_steps, struct json_object **ret_result) {
        for (;;) {
                _cleanup_(json_object_putp) struct json_object *o = NULL;
                struct json_object *result;
                int r;

                r = client_recv(c, &o);
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl restore: %s\n", r == -EPIPE ?
                                "the restore service closed the connection without a result; see journalctl -u "
                                "'etcd-backupd-restore@*'" : strerror(-r));
                        return EXIT_FAILURE;
                }
                /* A plan is made safe to print by the caller, once it holds the backup to confirm as it came. */
                if (json_object_object_get_ex(o, "plan", &result) && json_object_is_type(result, json_type_object) &&
                    !json_get_string(o, "error")) {
                        *ret_result = json_object_get(o);
                        return 0;
                }
                if (!json && client_make_terminal_safe(o) < 0) {
                        fprintf(stderr, "etcd-backupctl restore: out of memory\n");
                        return EXIT_FAILURE;
                }
                if (json_get_string(o, "error"))
                        return print_error(o, json);
                if (json_object_object_get_ex(o, "result", &result) && json_object_is_type(result, json_type_object)) {
                        if (json && show_steps)
                                (void) json_print("restore", o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                        *ret_result = json_object_get(result);
                        return 0;
                }
                if (!json_get_string(o, "step"))
                        continue;       /* something newer than us: ignore it */
                if (json && show_steps)
                        (void) json_print("restore", o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                else if (!json && (show_steps || streq_ptr(json_get_string(o, "state"), "failed")))
                        print_step(o);
                fflush(stdout);
        }
}

static void help(void) {
        printf("Usage: etcd-backupctl restore NAME|latest|FILE [--dry-run] [--yes] [--socket PATH]\n"
               "\n"
               "Restore etcd from a backup through the root-only restore service: stop\n"
               "kube-apiserver and etcd, restore into a fresh data dir, swap it in (the old\n"
               "one is kept), start etcd, wait until it is healthy at the backup's revision\n"
               "(or the db's compaction revision when that is higher), start kube-apiserver.\n"
               "Any failure rolls everything back.\n"
               "\n"
               "  -n, --dry-run      print the plan; change nothing\n"
               "  -y, --yes          do not ask for confirmation (required when standard\n"
               "                     input is not a terminal)\n"
               "  -S, --socket=PATH  the restore socket (default %s)\n"
               "      --json         JSON lines: every step, then the result\n"
               "  -h, --help         show this help\n"
               "\n"
               "Exit status: 0 restored, 1 refused or rolled back, 2 usage, 3 the rollback\n"
               "did not complete, 69 no restore socket, 77 not root, 78 the service's\n"
               "configuration refused.\n", CTL_RESTORE_DEFAULT_SOCKET);
}

static bool confirm(int64_t timeout_ms) {
        char line[64];

        fprintf(stderr, "\nThis stops kube-apiserver and etcd and replaces etcd's data with the backup.\n"
                        "Type 'yes' within %" PRId64 " s to restore: ", timeout_ms / 1000);
        fflush(stderr);
        if (!fgets(line, sizeof line, stdin))
                return false;
        line[strcspn(line, "\r\n")] = '\0';
        return streq(line, "yes") || streq(line, "y");
}

int ctl_restore_main(int argc, char **argv, bool json, const char *config_path, const char *restore_socket) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "yes", no_argument, NULL, 'y' },
                { "socket", required_argument, NULL, 'S' },
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_(client_done) Client conn = CLIENT_INIT;
        _cleanup_(json_object_putp) struct json_object *answer = NULL, *result = NULL;
        _cleanup_free_ char *backup = NULL, *pinned = NULL;
        const char *socket_path = restore_socket ?: CTL_RESTORE_DEFAULT_SOCKET, *arg;
        struct json_object *plan = NULL;
        bool dry_run = false, yes = false;
        int c, r;

        optind = 0;
        while ((c = getopt_long(argc, argv, "nyS:h", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        dry_run = true;
                        break;
                case 'y':
                        yes = true;
                        break;
                case 'S':
                        socket_path = optarg;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                default:
                        return EXIT_USAGE;
                }
        if (argc - optind != 1) {
                fprintf(stderr, "etcd-backupctl restore: %s\nUsage: etcd-backupctl restore NAME|latest|FILE "
                        "[--dry-run] [--yes] [--socket PATH]\n",
                        argc - optind < 1 ? "missing backup argument" : "too many arguments");
                return EXIT_USAGE;
        }
        arg = argv[optind];
        if (!dry_run && !yes && !isatty(STDIN_FILENO)) {
                fprintf(stderr, "etcd-backupctl restore: standard input is not a terminal: refusing to restore "
                        "without --yes\n");
                return EXIT_USAGE;
        }
        if (strlen(arg) == 0 || strlen(arg) > PATH_MAX) {
                fprintf(stderr, "etcd-backupctl restore: bad backup argument\n");
                return EXIT_USAGE;
        }
        /* A file given relative to here: the service runs elsewhere. */
        if (!streq(arg, "latest") && (strchr(arg, '/') || access(arg, F_OK) >= 0)) {
                backup = realpath(arg, NULL);
                if (!backup) {
                        fprintf(stderr, "etcd-backupctl restore: %s: %s\n", arg, strerror(errno));
                        return EXIT_FAILURE;
                }
        } else if (!(backup = strdup(arg)))
                return EXIT_FAILURE;

        r = conn_request(&conn, socket_path, backup, dry_run);
        if (r)
                return r;
        r = stream(&conn, json, false, &answer);
        if (r)
                return r;
        /* A dry run's plan comes as its result; a restore's, to be confirmed. */
        if (!json_object_object_get_ex(answer, "plan", &plan) || !json_object_is_type(plan, json_type_object) ||
            !json_get_string(plan, "backup") ||
            (!dry_run && json_object_object_get_ex(answer, "dry_run", NULL))) {
                fprintf(stderr, "etcd-backupctl restore: unexpected answer from the restore service\n");
                return EXIT_FAILURE;
        }
        /* Confirmed as it came; printed made safe for a terminal. */
        pinned = strdup(json_get_string(plan, "backup"));
        if (!pinned || (!json && client_make_terminal_safe(answer) < 0)) {
                fprintf(stderr, "etcd-backupctl restore: out of memory\n");
                return EXIT_FAILURE;
        }
        if (json && dry_run) {
                r = json_print("restore", plan, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        if (!json)
                print_plan(plan);
        if (dry_run) {
                printf("\nDry run: nothing was changed. The backup was decompressed into an anonymous\n"
                       "temporary file next to the data dir, checked, and released.\n");
                return EXIT_SUCCESS;
        }
        if (json)
                (void) json_print("restore", answer, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!yes && !confirm(json_get_int(answer, "confirm_timeout_ms"))) {
                (void) answer_plan(&conn, NULL);
                fprintf(stderr, "etcd-backupctl restore: not confirmed; nothing was changed.\n");
                return EXIT_FAILURE;
        }
        if (!json)
                printf("\n");
        fflush(stdout);

        tell_when_leaving();
        r = answer_plan(&conn, pinned);
        if (r < 0 && r != -EPIPE) {
                fprintf(stderr, "etcd-backupctl restore: cannot send the confirmation to %s: %s\n", socket_path,
                        strerror(-r));
                return EXIT_FAILURE;
        }
        r = stream(&conn, json, true, &result);
        if (r)
                return r;
        if (!json) {
                printf("\nRestored %s: etcd is healthy at revision %" PRId64 "%s.\n", json_get_string(result, "backup") ?: "",
                       json_get_int(result, "etcd_revision"),
                       json_object_get_boolean(json_object_object_get(result, "apiserver_running")) ?
                       " and kube-apiserver is back" : "");
                if (json_get_string(result, "pre_restore_dir"))
                        printf("The old data dir is kept as %s.\n", json_get_string(result, "pre_restore_dir"));
        }
        return EXIT_SUCCESS;
}
