/* SPDX-License-Identifier: MIT */
/*
 * etcd-backupctl.c — etcd-backupctl, the operator's tool: global options,
 * the sub-command table, each sub-command's --help, and exit codes
 * (0 ok, 1 failed, 2 usage, 69 unreachable, 78 configuration).
 */

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build-config.h"
#include "ctl/client.h"
#include "config/config.h"
#include "ctl/calendar.h"
#include "ctl/discover.h"
#include "ctl/fetch.h"
#include "ctl/json-print.h"
#include "ctl/offline.h"
#include "ctl/restore.h"
#include "backup/store.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/time.h"
#include "service/log.h"
#include "util/str.h"

#define CTL_TIMEOUT_DEFAULT_USEC (30 * USEC_PER_SEC)
#define CONTROL_SOCKET_DEFAULT "/run/etcd-backupd/control.sock"

typedef struct Ctl {
        const char *socket;     /* -s; NULL = from the config */
        const char *config;     /* -c */
        bool config_given;
        bool json;
        uint64_t timeout_usec;  /* --timeout: each wait on the control socket */
        char *socket_used;      /* the socket the last call() went to */
} Ctl;

typedef struct Command {
        const char *name;
        const char *synopsis;
        const char *summary;
        const char *details;    /* NULL: the command's own parser prints its --help */
        int (*run)(Ctl *ctl, int argc, char **argv);
} Command;

static int run_list(Ctl *ctl, int argc, char **argv);
static int run_status(Ctl *ctl, int argc, char **argv);
static int run_verify(Ctl *ctl, int argc, char **argv);
static int run_restore(Ctl *ctl, int argc, char **argv);
static int run_inspect(Ctl *ctl, int argc, char **argv);
static int run_get(Ctl *ctl, int argc, char **argv);
static int run_audit(Ctl *ctl, int argc, char **argv);
static int run_objects(Ctl *ctl, int argc, char **argv);
static int run_backup(Ctl *ctl, int argc, char **argv);
static int run_prune(Ctl *ctl, int argc, char **argv);
static int run_calendar(Ctl *ctl, int argc, char **argv);
static int run_discover(Ctl *ctl, int argc, char **argv);
static int run_fetch(Ctl *ctl, int argc, char **argv);

static const Command commands[] = {
        { "status", "status", "show the daemon's state, last result and next run",
          "Through the daemon's control socket.\n", run_status },
        { "list", "list", "list the backups in the backup directory",
          "Through the daemon's control socket; when the daemon cannot be reached,\n"
          "reads the backup directory named by the config (storage.directory).\n", run_list },
        { "backup", "backup", "take a backup now and wait for it",
          "Through the daemon's control socket; shows progress. A backup already\n"
          "running is joined instead of starting another.\n", run_backup },
        { "prune", "prune [--dry-run]", "apply the retention policy now",
          "  --dry-run   print what would be kept and deleted; delete nothing\n", run_prune },
        { "restore", "restore NAME|latest|FILE [--dry-run] [--yes] [--socket PATH]",
          "restore etcd from a backup (stops kube-apiserver and etcd)", NULL, run_restore },
        { "fetch", "fetch NAME|latest [--output DIR]", "bring a backup back from the S3 copy",
          "Downloads the backup and its sidecar from the configuration's upload\n"
          "group into DIR, for a node whose own backups are gone. `latest` is the\n"
          "newest backup there with a sidecar. The backup is checked against its\n"
          "sidecar's size and SHA-256 before it gets its name; a file already in\n"
          "DIR is never replaced. Prints the path, for `restore FILE`.\n"
          "  --output DIR      where to put it (default: the current directory)\n", run_fetch },
        { "verify", "verify NAME|FILE [--identity FILE]", "check a backup end to end (offline)", NULL,
          run_verify },
        { "inspect", "inspect NAME|FILE [--identity FILE]", "print hash, revision, totalKey, totalSize (offline)",
          NULL, run_inspect },
        { "get", "get NAME|FILE KEY [--prefix] [-o simple|json|yaml|manifest] [--encryption-config FILE] [--identity FILE]",
          "read keys out of a backup (offline)", NULL, run_get },
        { "objects", "objects NAME|FILE [--resource R] [--namespace NS] [--identity FILE]",
          "list the Kubernetes objects in a backup (offline)", NULL, run_objects },
        { "audit", "audit NAME|FILE [--encryption-config FILE] [--identity FILE]",
          "report how Kubernetes Secrets are stored in a backup (offline)", NULL, run_audit },
        { "calendar", "calendar [--iterations N] [--base-time TIME] EXPR...",
          "print the next elapses of a calendar expression", NULL, run_calendar },
        { "discover", "discover [--manifests-dir DIR] [--apiserver-unit NAME] [--etcd-unit NAME]\n"
          "       [--drop-in] [--write [--force] [--root DIR]]",
          "print the configuration for this node, found in kube-apiserver's and etcd's flags",
          "Reads kube-apiserver's --etcd-servers, --etcd-cafile, --etcd-certfile and\n"
          "--etcd-keyfile, and etcd's --data-dir, --name, --initial-cluster,\n"
          "--initial-cluster-token and --initial-advertise-peer-urls (or its ETCD_*\n"
          "variables), from the static-pod manifests kube-apiserver.yaml and etcd.yaml\n"
          "(paths mapped through the pods' hostPath volumes) and from the systemd\n"
          "units (ExecStart=, Environment=, EnvironmentFile=, drop-ins included).\n"
          "Prints a complete configuration; each value's comment says where it came\n"
          "from. Two sources that disagree, or a file that cannot be read, are errors.\n"
          "  --manifests-dir DIR   static-pod manifests (default /etc/kubernetes/manifests)\n"
          "  --apiserver-unit NAME kube-apiserver's unit (default kube-apiserver.service,\n"
          "                        read when installed)\n"
          "  --etcd-unit NAME      etcd's unit (default etcd.service, read when installed)\n"
          "  --drop-in             print the LoadCredential= drop-in for etcd-backupd.service\n"
          "  --write               install the configuration at the -c path and the drop-in\n"
          "                        at " "/etc/systemd/system/etcd-backupd.service.d/credentials.conf,\n"
          "                        checked as --check-config checks it, then print the\n"
          "                        commands that enable the service\n"
          "  --force               replace an existing configuration or drop-in\n"
          "  --root DIR            write below DIR (an image, as systemctl --root)\n"
          "Exit status: 1 when nothing usable was found (nothing is written), 78 when\n"
          "the configuration would not pass --check-config.\n", run_discover },
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


/* ---- the control socket client ---- */

/* The socket: -s, else control.socket from the config. A configuration that
 * does not exist or may not be read (an operator outside the daemon's group)
 * falls back to the default path; one that is broken is an error. */
static int socket_path(Ctl *ctl, char **ret) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigDiags diags = {};
        int r;

        if (ctl->socket)
                return (*ret = strdup(ctl->socket)) ? 0 : -ENOMEM;
        if (access(ctl->config, R_OK) < 0) {
                if (ctl->config_given)
                        fprintf(stderr, "etcd-backupctl: cannot read %s (%m); using the socket %s\n", ctl->config,
                                CONTROL_SOCKET_DEFAULT);
                return (*ret = strdup(CONTROL_SOCKET_DEFAULT)) ? 0 : -ENOMEM;
        }
        r = config_load(ctl->config, &c, &diags);
        if (r < 0) {
                config_diags_print(&diags, stderr);
                config_diags_done(&diags);
                return -EINVAL;
        }
        config_diags_done(&diags);
        return (*ret = strdup(c->control.socket)) ? 0 : -ENOMEM;
}

/* A failed exchange with the daemon: say which socket, and exit 69. */
static int unreachable(Ctl *ctl, int r) {
        char t[FORMAT_DURATION_MAX];
        if (r == -ETIMEDOUT)
                fprintf(stderr, "etcd-backupctl: etcd-backupd at %s did not answer within %s (--timeout)\n",
                        ctl->socket_used, format_duration(t, sizeof t, ctl->timeout_usec));
        else if (r == -EPIPE)
                fprintf(stderr, "etcd-backupctl: etcd-backupd at %s closed the connection\n", ctl->socket_used);
        else
                fprintf(stderr, "etcd-backupctl: etcd-backupd at %s: %s\n", ctl->socket_used, strerror(-r));
        return EXIT_UNAVAILABLE;
}

/* An error object from the daemon: print it and return the exit code (69
 * when the backup failed because etcd did not answer, else 1). */
static int reply_error(struct json_object *o) {
        const char *code;

        (void) client_make_terminal_safe(o);
        code = json_get_string(o, "error");
        if (!code)
                return 0;
        fprintf(stderr, "etcd-backupctl: %s: %s\n", code, json_get_string(o, "message") ? json_get_string(o, "message") : "");
        return streq(code, "etcd_unreachable") ? EXIT_UNAVAILABLE : streq(code, "access_denied") ? EXIT_NOPERM :
               EXIT_FAILURE;
}

/* The socket's file refused this user (the shipped unit's SocketMode=0660): said as such, with the group to join,
 * not as a daemon that does not run. */
static int refused_by_socket(const char *path, int r) {
        struct stat st;
        bool known = stat(path, &st) >= 0;
        const struct group *g = known && st.st_gid != 0 && (st.st_mode & 0060) ? getgrgid(st.st_gid) : NULL;

        if (geteuid() == 0)
                fprintf(stderr, "etcd-backupctl: the control socket %s refused root: %s (a security policy, such as "
                        "SELinux or AppArmor, denies the connection)\n", path, strerror(-r));
        else if (g)
                fprintf(stderr, "etcd-backupctl: the control socket %s refused this user: %s; only root and members "
                        "of its group (%s) may use it (usermod -aG %s USER, then log in again)\n", path, strerror(-r),
                        g->gr_name, g->gr_name);
        else
                fprintf(stderr, "etcd-backupctl: the control socket %s refused this user: %s; %s\n", path,
                        strerror(-r), known ? "only root may use it (its group has no access)" :
                        "only root and members of its group may use it");
        return EXIT_NOPERM;
}

/* Connect and send {"method": method, …extra}. Exit code on failure, else 0. */
static int call(Ctl *ctl, Client *cl, const char *method, struct json_object *extra, bool quiet_unreachable) {
        struct json_object *req;
        int r;

        ctl->socket_used = mfree(ctl->socket_used);
        r = socket_path(ctl, &ctl->socket_used);
        if (r < 0) {
                json_object_put(extra);
                return r == -EINVAL ? EXIT_CONFIG : EXIT_FAILURE;
        }
        cl->timeout_usec = ctl->timeout_usec;
        r = client_connect(cl, ctl->socket_used);
        if (r == -EACCES || r == -EPERM) {
                json_object_put(extra);
                return refused_by_socket(ctl->socket_used, r);
        }
        if (r < 0) {
                json_object_put(extra);
                if (quiet_unreachable)
                        return EXIT_UNAVAILABLE;
                if (r == -ETIMEDOUT)
                        return unreachable(ctl, r);
                fprintf(stderr, "etcd-backupctl: cannot reach etcd-backupd at %s: %s "
                        "(is etcd-backupd.socket or etcd-backupd running?)\n", ctl->socket_used, strerror(-r));
                return EXIT_UNAVAILABLE;
        }
        req = extra ? extra : json_object_new_object();
        json_object_object_add(req, "method", json_object_new_string(method));
        r = client_send(cl, req);
        if (r < 0) {
                /* The daemon may have refused us and said why before closing. */
                struct json_object *o = NULL;
                int e;
                if (client_recv(cl, &o) >= 0 && (e = reply_error(o))) {
                        json_object_put(o);
                        return e;
                }
                json_object_put(o);
                return unreachable(ctl, r);
        }
        return 0;
}

/* An answer of a shape the daemon does not send (another program on the
 * socket, another version): exit 1. Releases o. */
static int unexpected_answer(struct json_object *o) {
        json_object_put(o);
        fprintf(stderr, "etcd-backupctl: unexpected answer from etcd-backupd\n");
        return EXIT_FAILURE;
}

/* Whether o is an object whose key holds a value of type t. */
static bool json_has(struct json_object *o, const char *key, json_type t) {
        struct json_object *v;
        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v) &&
               json_object_is_type(v, t);
}

/* Whether key is absent or null in the object o, or holds an object. */
static bool json_has_object_or_null(struct json_object *o, const char *key) {
        return json_has(o, key, json_type_object) || json_has(o, key, json_type_null) ||
               !json_object_object_get_ex(o, key, NULL);
}

/* Whether o[key] is an array of strings. */
static bool json_has_strings(struct json_object *o, const char *key) {
        struct json_object *a;
        if (!json_has(o, key, json_type_array))
                return false;
        json_object_object_get_ex(o, key, &a);
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (!json_object_is_type(json_object_array_get_idx(a, i), json_type_string))
                        return false;
        return true;
}

/* An answer; printed for people, its strings are made safe for a terminal. */
static int recv_or_fail(Ctl *ctl, Client *cl, struct json_object **ret) {
        int r = client_recv(cl, ret);
        if (r == -EBADMSG || r == -EFBIG) {
                fprintf(stderr, "etcd-backupctl: unexpected answer from etcd-backupd (%s)\n",
                        r == -EBADMSG ? "not a JSON object" : "a line too long");
                return EXIT_FAILURE;
        }
        if (r >= 0 && !ctl->json)
                r = client_make_terminal_safe(*ret);
        return r < 0 ? unreachable(ctl, r) : 0;
}

/* A failure is said, and the exit status follows it (main()). */
static void print_json(const char *cmd, struct json_object *o) {
        (void) json_print(cmd, o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int no_args(int argc, char **argv) {
        if (argc > 1) {
                fprintf(stderr, "etcd-backupctl: %s takes no arguments.\n", argv[0]);
                return EXIT_USAGE;
        }
        return 0;
}

static int run_status(Ctl *ctl, int argc, char **argv) {
        _cleanup_(client_done) Client cl = CLIENT_INIT;
        struct json_object *o = NULL, *last, *progress, *upload;
        int r;

        if ((r = no_args(argc, argv)) || (r = call(ctl, &cl, "Status", NULL, false)) || (r = recv_or_fail(ctl, &cl, &o)))
                return r;
        if ((r = reply_error(o))) {
                json_object_put(o);
                return r;
        }
        if (!json_has(o, "state", json_type_string) || !json_has_object_or_null(o, "last") ||
            !json_has_object_or_null(o, "progress") || !json_has_object_or_null(o, "upload"))
                return unexpected_answer(o);
        if (json_object_object_get_ex(o, "last", &last) && last && !json_get_string(last, "error") &&
            (!json_get_string(last, "name") || !json_get_string(last, "created")))
                return unexpected_answer(o);
        if (ctl->json)
                print_json("status", o);
        else {
                char size[FORMAT_BYTES_MAX];
                printf("State:       %s\n", json_get_string(o, "state"));
                if (json_object_object_get_ex(o, "progress", &progress) && json_get_string(progress, "phase"))
                        printf("Progress:    %s, %" PRId64 "%%\n", json_get_string(progress, "phase"), json_get_int(progress, "percent"));
                if (!json_object_object_get_ex(o, "last", &last) || !last)
                        printf("Last backup: none\n");
                else if (json_get_string(last, "error"))
                        printf("Last backup: FAILED: %s\n", json_get_string(last, "error"));
                else
                        printf("Last backup: %s\n             created %s, revision %" PRId64 ", %s, ok\n",
                               json_get_string(last, "name"), json_get_string(last, "created"), json_get_int(last, "revision"),
                               format_bytes(size, sizeof size, (uint64_t) json_get_int(last, "file_size")));
                if (json_object_object_get_ex(o, "upload", &upload) && upload) {
                        if (json_get_string(upload, "error"))
                                printf("Upload:      FAILED: %s\n", json_get_string(upload, "error"));
                        else if (json_get_string(upload, "last_success"))
                                printf("Upload:      ok, last complete %s\n", json_get_string(upload, "last_success"));
                }
                printf("Next run:    %s\n", json_get_string(o, "next") ? json_get_string(o, "next") : "none (schedule.calendar never elapses again)");
                if (json_get_int(o, "failures_total") > 0)
                        printf("Failures:    %" PRId64 " since the daemon started\n", json_get_int(o, "failures_total"));
        }
        json_object_put(o);
        return EXIT_SUCCESS;
}

static void show_progress(Ctl *ctl, struct json_object *p, bool tty) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        int64_t pct = json_get_int(p, "percent");
        const char *phase = json_get_string(p, "phase");

        if (ctl->json || !phase)
                return;
        format_bytes(a, sizeof a, (uint64_t) json_get_int(p, "bytes"));
        format_bytes(b, sizeof b, (uint64_t) json_get_int(p, "total"));
        if (json_get_int(p, "total") <= 0) {
                /* Nothing to measure yet (connecting). */
                if (tty)
                        fprintf(stderr, "\r%-70s", phase);
                else
                        printf("%s\n", phase);
                fflush(stdout);
                return;
        }
        if (tty) {
                char bar[31];
                int fill = (int) (MIN(MAX(pct, 0), 100) * 30 / 100);
                memset(bar, '#', (size_t) fill);
                memset(bar + fill, '-', (size_t) (30 - fill));
                bar[30] = '\0';
                fprintf(stderr, "\r[%s] %3" PRId64 "%%  %-9s %s of %s   ", bar, pct, phase, a, b);
        } else
                printf("%s %" PRId64 "%% %s of %s\n", phase, pct, a, b);
        fflush(stdout);
}

static int run_backup(Ctl *ctl, int argc, char **argv) {
        _cleanup_(client_done) Client cl = CLIENT_INIT;
        bool tty = isatty(STDERR_FILENO);
        int r;

        if ((r = no_args(argc, argv)) || (r = call(ctl, &cl, "Backup", NULL, false)))
                return r;
        for (;;) {
                struct json_object *o = NULL, *p, *result;
                char size[FORMAT_BYTES_MAX];

                if ((r = recv_or_fail(ctl, &cl, &o)))
                        return r;
                if (json_object_object_get_ex(o, "progress", &p)) {
                        show_progress(ctl, p, tty);
                        json_object_put(o);
                        continue;
                }
                if (tty && !ctl->json)
                        fprintf(stderr, "\n");
                if ((r = reply_error(o))) {
                        json_object_put(o);
                        return r;
                }
                if (!json_object_object_get_ex(o, "result", &result) || !json_get_string(result, "name"))
                        return unexpected_answer(o);
                if (ctl->json)
                        print_json("backup", result);
                else
                        printf("Backup %s ok, rev %" PRId64 ", %s\n", json_get_string(o, "path") ? json_get_string(o, "path") : json_get_string(result, "name"),
                               json_get_int(result, "revision"), format_bytes(size, sizeof size, (uint64_t) json_get_int(result, "file_size")));
                json_object_put(o);
                return EXIT_SUCCESS;
        }
}

static int run_prune(Ctl *ctl, int argc, char **argv) {
        static const struct option options[] = { { "dry-run", no_argument, NULL, 'n' }, {} };
        _cleanup_(client_done) Client cl = CLIENT_INIT;
        struct json_object *o = NULL, *req, *keep, *del;
        bool dry_run = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "n", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        dry_run = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "etcd-backupctl: prune: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        req = json_object_new_object();
        json_object_object_add(req, "dry_run", json_object_new_boolean(dry_run));
        if ((r = call(ctl, &cl, "Prune", req, false)) || (r = recv_or_fail(ctl, &cl, &o)))
                return r;
        if ((r = reply_error(o))) {
                json_object_put(o);
                return r;
        }
        if (!json_has_strings(o, "keep") || !json_has_strings(o, "delete"))
                return unexpected_answer(o);
        if (ctl->json) {
                /* {"keep": [...], "delete": [...]} */
                json_object_object_del(o, "dry_run");
                print_json("prune", o);
        } else if (json_object_object_get_ex(o, "keep", &keep) && json_object_object_get_ex(o, "delete", &del)) {
                for (size_t i = 0; i < json_object_array_length(keep); i++)
                        printf("keep    %s\n", json_object_get_string(json_object_array_get_idx(keep, i)));
                for (size_t i = 0; i < json_object_array_length(del); i++)
                        printf("%s  %s\n", dry_run ? "delete" : "deleted", json_object_get_string(json_object_array_get_idx(del, i)));
                if (dry_run)
                        printf("(dry run: nothing was deleted)\n");
        }
        json_object_put(o);
        return EXIT_SUCCESS;
}

static void print_table(StoreEntry *e, size_t n) {
        size_t w = 4;
        for (size_t i = 0; i < n; i++)
                w = MAX(w, strlen(e[i].name));
        printf("%-*s  %-20s  %10s  %10s  %-5s  %s\n", (int) w, "NAME", "CREATED", "REVISION", "SIZE",
               "CODEC", "ENCRYPTED");
        for (size_t i = 0; i < n; i++) {
                char created[FORMAT_RFC3339_MAX], size[FORMAT_BYTES_MAX];
                printf("%-*s  %-20s  %10" PRId64 "  %10s  %-5s  %s%s%s%s\n", (int) w, e[i].name,
                       format_rfc3339(created, sizeof created, e[i].parsed.created_usec),
                       e[i].parsed.revision, format_bytes(size, sizeof size, e[i].file_size),
                       codec_to_string(e[i].parsed.compression), e[i].parsed.encrypted ? "yes" : "no",
                       e[i].has_sidecar ? "" : e[i].sidecar_problem ? "  (sidecar unusable: " : "  (no sidecar)",
                       e[i].sidecar_problem ? e[i].sidecar_problem : "", e[i].sidecar_problem ? ")" : "");
        }
}

/* List through the daemon: 0 done, -1 the directory is to be read instead (the daemon could not be reached,
 * or its listing is larger than its socket answers; said on stderr). */
static int list_through_daemon(Ctl *ctl, int *ret_exit) {
        _cleanup_(client_done) Client cl = CLIENT_INIT;
        struct json_object *o = NULL, *a;
        StoreEntry *e = NULL;
        size_t n = 0;
        int r;

        r = call(ctl, &cl, "List", NULL, true);
        if (r == EXIT_UNAVAILABLE) {
                /* The daemon is down: the directory itself is the truth. */
                if (!ctl->json)
                        fprintf(stderr, "etcd-backupctl: etcd-backupd is not reachable; reading the backup directory\n");
                return -1;
        }
        if (!r && !(r = recv_or_fail(ctl, &cl, &o)) && streq_ptr(json_get_string(o, "error"), "too_large")) {
                /* More backups than the socket's answer holds: the directory itself, as without a daemon. */
                if (!ctl->json)
                        fprintf(stderr, "etcd-backupctl: the daemon's listing is too large for its socket; reading the "
                                "backup directory\n");
                json_object_put(o);
                return -1;
        }
        if (r || (r = reply_error(o))) {
                json_object_put(o);
                *ret_exit = r;
                return 0;
        }
        if (!json_object_object_get_ex(o, "backups", &a) || !json_object_is_type(a, json_type_array)) {
                *ret_exit = unexpected_answer(o);
                return 0;
        }
        if (ctl->json)
                print_json("list", a);
        else {
                n = json_object_array_length(a);
                e = calloc(n ? n : 1, sizeof *e);
                for (size_t i = 0; e && i < n; i++) {
                        struct json_object *b = json_object_array_get_idx(a, i), *j;
                        e[i].name = strdup(json_get_string(b, "name") ? json_get_string(b, "name") : "?");
                        (void) store_name_parse(e[i].name, &e[i].parsed);
                        e[i].file_size = (uint64_t) json_get_int(b, "file_size");
                        e[i].has_sidecar = !json_object_object_get_ex(b, "sidecar", &j);
                        if (json_get_string(b, "sidecar_problem"))
                                e[i].sidecar_problem = strdup(json_get_string(b, "sidecar_problem"));
                }
                if (n == 0)
                        printf("No backups.\n");
                else if (e)
                        print_table(e, n);
                store_entries_free(e, n);
        }
        json_object_put(o);
        *ret_exit = EXIT_SUCCESS;
        return 0;
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
        if (list_through_daemon(ctl, &r) == 0)
                return r;
        if (load_config(ctl, &c) < 0)
                return EXIT_CONFIG;
        r = store_open(c->storage.directory, false, &store, &error);
        if (r == -ENOENT) {
                if (ctl->json)
                        printf("[]\n");
                else
                        printf("No backups: %s does not exist yet.\n", c->storage.directory);
                return EXIT_SUCCESS;
        }
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: %s\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        r = store_list(store, &e, &n);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: cannot list %s: %s\n", c->storage.directory, store_list_error(r));
                return EXIT_FAILURE;
        }
        if (ctl->json) {
                struct json_object *a = json_object_new_array();
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(a, store_entry_to_json(&e[i]));
                print_json("list", a);
                json_object_put(a);
        } else if (n == 0)
                printf("No backups in %s.\n", c->storage.directory);
        else
                print_table(e, n);
        store_entries_free(e, n);
        return EXIT_SUCCESS;
}

static int run_restore(Ctl *ctl, int argc, char **argv) {
        /* -s names the control socket; the restore socket has its own --socket. */
        return ctl_restore_main(argc, argv, ctl->json, ctl->config, NULL);
}

static int run_verify(Ctl *ctl, int argc, char **argv) {
        return ctl_verify_main(argc, argv, ctl->json, ctl->config);
}

static int run_inspect(Ctl *ctl, int argc, char **argv) {
        return ctl_inspect_main(argc, argv, ctl->json, ctl->config);
}

static int run_get(Ctl *ctl, int argc, char **argv) {
        return ctl_get_main(argc, argv, ctl->json, ctl->config);
}

static int run_audit(Ctl *ctl, int argc, char **argv) {
        return ctl_audit_main(argc, argv, ctl->json, ctl->config);
}

static int run_objects(Ctl *ctl, int argc, char **argv) {
        return ctl_objects_main(argc, argv, ctl->json, ctl->config);
}

static int run_calendar(Ctl *ctl, int argc, char **argv) {
        return ctl_calendar_main(argc, argv, ctl->json);
}

static int run_discover(Ctl *ctl, int argc, char **argv) {
        return ctl_discover_main(argc, argv, ctl->config, ctl->json);
}

static int run_fetch(Ctl *ctl, int argc, char **argv) {
        return ctl_fetch_main(argc, argv, ctl->json, ctl->config);
}

/* --timeout: a duration ("30s", "2min"; a bare number is seconds), above 0. */
static int parse_timeout(const char *s, uint64_t *ret) {
        uint64_t v;
        if (safe_atou64(s, &v) >= 0 && v <= UINT64_MAX / USEC_PER_SEC)
                v *= USEC_PER_SEC;
        else if (parse_duration(s, &v) < 0)
                v = 0;
        if (v == 0) {
                fprintf(stderr, "etcd-backupctl: invalid --timeout '%s': expected a duration such as 30s or 2min.\n", s);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static void help(void) {
        printf("Usage: etcd-backupctl [-s SOCKET] [-c CONFIG] [--json] [--timeout DURATION] COMMAND [ARGS...]\n"
               "\n"
               "The operator's tool for etcd-backupd.\n"
               "\n"
               "Options:\n"
               "  -s, --socket=PATH   the daemon's control socket (default: from the config)\n"
               "  -c, --config=FILE   configuration file (default %s)\n"
               "      --json          machine-readable output\n"
               "      --timeout=DURATION  how long to wait for the daemon at each step\n"
               "                      (connect, send, each answer; default 30s)\n"
               "Global options may also follow the command.\n"
               "      --version       print the version\n"
               "  -h, --help          show this help; COMMAND --help for a command\n"
               "\n"
               "Commands:\n", CONFIG_DEFAULT_PATH);
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                printf("  %-10s %s\n", commands[i].name, commands[i].summary);
}

static void command_help(const Command *cmd) {
        printf("Usage: etcd-backupctl [-s SOCKET] [-c CONFIG] [--json] [--timeout DURATION] %s\n\n%s.\n\n%s",
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

/* Global options after the command: -s, -c, --json and --timeout are taken
 * out of argv wherever they stand (up to "--"), unless the command has an
 * option of that long name itself (restore's --socket is the restore
 * socket). Returns 0, or EXIT_USAGE after saying why. */
static int take_global_options(Ctl *ctl, const Command *cmd, int *argc, char **argv) {
        bool own_socket = streq(cmd->name, "restore");
        int n = 1;

        for (int i = 1; i < *argc; i++) {
                const char *a = argv[i], *value = NULL;
                char which = 0;

                if (streq(a, "--")) {
                        while (i < *argc)
                                argv[n++] = argv[i++];
                        break;
                }
                if (streq(a, "--json")) {
                        ctl->json = true;
                        continue;
                }
                if (streq(a, "-s") || (!own_socket && streq(a, "--socket")))
                        which = 's';
                else if (streq(a, "-c") || streq(a, "--config"))
                        which = 'c';
                else if (streq(a, "--timeout"))
                        which = 't';
                else if (startswith(a, "-s") && a[2])
                        which = 's', value = a + 2;
                else if (!own_socket && startswith(a, "--socket="))
                        which = 's', value = a + strlen("--socket=");
                else if (startswith(a, "-c") && a[2])
                        which = 'c', value = a + 2;
                else if (startswith(a, "--config="))
                        which = 'c', value = a + strlen("--config=");
                else if (startswith(a, "--timeout="))
                        which = 't', value = a + strlen("--timeout=");
                if (!which) {
                        argv[n++] = argv[i];
                        continue;
                }
                if (!value) {
                        if (i + 1 >= *argc) {
                                fprintf(stderr, "etcd-backupctl: option %s needs a value.\n", a);
                                return EXIT_USAGE;
                        }
                        value = argv[++i];
                }
                if (which == 's')
                        ctl->socket = value;
                else if (which == 'c') {
                        ctl->config = value;
                        ctl->config_given = true;
                } else if (parse_timeout(value, &ctl->timeout_usec) < 0)
                        return EXIT_USAGE;
        }
        argv[n] = NULL;
        *argc = n;
        return 0;
}

int main(int argc, char **argv) {
        enum { ARG_JSON = 0x100, ARG_VERSION, ARG_TIMEOUT };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "config", required_argument, NULL, 'c' },
                { "json", no_argument, NULL, ARG_JSON },
                { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        Ctl ctl = { .config = CONFIG_DEFAULT_PATH, .timeout_usec = CTL_TIMEOUT_DEFAULT_USEC };
        const Command *cmd = NULL;
        int c, r;

        log_setup("etcd-backupctl", LOG_TARGET_STDERR);
        /* A daemon that closes on us is an error to report, not a reason to die. */
        signal(SIGPIPE, SIG_IGN);

        /* '+': stop at the command name; what follows is sorted out below. */
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
                case ARG_TIMEOUT:
                        if (parse_timeout(optarg, &ctl.timeout_usec) < 0)
                                return EXIT_USAGE;
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
                /* Whatever else the line holds: the command's own parser prints its help. */
                char *help_argv[] = { argv[0], (char *) "--help", NULL };

                if (cmd->details) {
                        command_help(cmd);
                        return EXIT_SUCCESS;
                }
                optind = 0;
                return cmd->run(&ctl, 2, help_argv);
        }
        r = take_global_options(&ctl, cmd, &argc, argv);
        if (r != 0)
                return r;
        /* The restore service reads the configuration its unit names, and is reached on the restore socket: a
         * -c or -s meant for it would be taken as obeyed while another configuration's backups were restored. */
        if (streq(cmd->name, "restore") && (ctl.config_given || ctl.socket)) {
                fprintf(stderr, "etcd-backupctl restore: %s\n", ctl.config_given ?
                        "-c does not apply: the restore service reads the configuration its unit names "
                        "(etcd-backupd-restore@.service's -c)" :
                        "-s/--socket before the command names the daemon's control socket, which restore does not "
                        "use; the restore socket is -S/--socket PATH after it");
                return EXIT_USAGE;
        }
        optind = 0; /* reset getopt for the command's own options */
        r = cmd->run(&ctl, argc, argv);
        free(ctl.socket_used);
        /* What could not be printed is a failure, whatever the command found: said where it happened
         * (json_print()), or here for the rest (a full disk, a closed pipe). */
        if (r == EXIT_SUCCESS && json_print_failed())
                r = EXIT_FAILURE;
        errno = 0;
        if (r == EXIT_SUCCESS && (fflush(stdout) != 0 || ferror(stdout))) {
                fprintf(stderr, "etcd-backupctl %s: cannot write to standard output: %s\n", cmd->name,
                        errno > 0 ? strerror(errno) : "a write failed");
                r = EXIT_FAILURE;
        }
        return r;
}
