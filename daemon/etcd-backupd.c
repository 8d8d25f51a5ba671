/* SPDX-License-Identifier: MIT */
/*
 * etcd-backupd.c — etcd-backupd: parse argv, block signals, load the
 * configuration, then run one of --check-config, --once or the daemon, and
 * turn the outcome into the exit code of SPEC.md.
 */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "backup/store.h"
#include "build-config.h"
#include "config/config.h"
#include "restore/discover.h"
#include "service/job.h"
#include "service/log.h"
#include "service/manager.h"
#include "service/restore-service.h"
#include "util/parse.h"
#include "util/str.h"

static const char *arg_config = CONFIG_DEFAULT_PATH;
static bool arg_check_config = false;
static bool arg_once = false;
static bool arg_serve_restore = false;

static void help(void) {
        printf("Usage: etcd-backupd [OPTIONS]\n"
               "\n"
               "Takes scheduled, verified, compressed snapshots of etcd.\n"
               "\n"
               "  -c, --config=FILE   configuration file (default %s)\n"
               "      --check-config  load and validate the configuration, print every\n"
               "                      problem as FILE:LINE: message, exit 0 or 78\n"
               "      --once          take one backup now (retention included), print\n"
               "                      where it went, exit 0 or 1 (75: the backup directory\n"
               "                      is in use by another etcd-backupd)\n"
               "      --serve-restore run one restore for the connection on standard input\n"
               "                      (etcd-backupd-restore@.service, Accept=yes)\n"
               "  -v, --verbose       log debug messages\n"
               "      --version       print the version\n"
               "  -h, --help          show this help\n",
               CONFIG_DEFAULT_PATH);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_ONCE, ARG_SERVE_RESTORE, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "once", no_argument, NULL, ARG_ONCE },
                { "serve-restore", no_argument, NULL, ARG_SERVE_RESTORE },
                { "verbose", no_argument, NULL, 'v' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "c:vh", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case ARG_ONCE:
                        arg_once = true;
                        break;
                case ARG_SERVE_RESTORE:
                        arg_serve_restore = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_DEBUG);
                        break;
                case ARG_VERSION:
                        printf("etcd-backupd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        fprintf(stderr, "Try 'etcd-backupd --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "etcd-backupd: unexpected argument '%s'. Try 'etcd-backupd --help'.\n", argv[optind]);
                return -EINVAL;
        }
        if (arg_check_config + arg_once + arg_serve_restore > 1) {
                fprintf(stderr, "etcd-backupd: --check-config, --once and --serve-restore are mutually exclusive.\n");
                return -EINVAL;
        }
        return 1;
}

static int run_check_config(void) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigDiags diags = {};
        int r;

        r = config_load(arg_config, &c, &diags);
        config_diags_print(&diags, stdout);
        config_diags_done(&diags);
        if (r < 0)
                return EXIT_CONFIG;
        if (c->etcd.discover) {
                _cleanup_free_ char *summary = NULL, *error = NULL;

                r = discover_config(c, &summary, &error);
                if (r < 0) {
                        printf("%s:%d: etcd.discover: %s\n", arg_config, c->etcd.discover_line,
                               error ? error : strerror(-r));
                        return EXIT_CONFIG;
                }
                printf("%s\n", summary);
        }
        printf("%s: OK\n", arg_config);
        return EXIT_SUCCESS;
}

static int load_config(Config **ret) {
        ConfigDiags diags = {};
        int r;

        r = config_load(arg_config, ret, &diags);
        log_config_diags(&diags);
        config_diags_done(&diags);
        if (r >= 0 && (*ret)->etcd.discover) {
                _cleanup_free_ char *summary = NULL, *error = NULL;

                r = discover_config(*ret, &summary, &error);
                if (r < 0) {
                        log_error("%s:%d: etcd.discover: %s", arg_config, (*ret)->etcd.discover_line,
                                  error ? error : strerror(-r));
                        *ret = config_free(*ret);
                        return -EINVAL;
                }
                log_info("%s", summary);
        }
        return r;
}

static void on_progress(BackupPhase phase, uint64_t bytes, uint64_t total, void *userdata) {
        char b[FORMAT_BYTES_MAX];
        log_debug("%s: %s", backup_phase_to_string(phase), format_bytes(b, sizeof b, bytes));
}

/* Each kind of finding is logged one line each up to this many, then counted in one line: a directory with
 * thousands would flood the journal at every start. */
#define TIDY_LOGGED_MAX 20

static void log_more(int level, char **v, const char *what, const char *dir) {
        size_t n = strv_length(v);
        if (n > TIDY_LOGGED_MAX)
                log_full_errno(level, 0, "… and %zu more %s in %s", n - TIDY_LOGGED_MAX, what, dir);
}

/* Before the first backup: what an interrupted publish left behind. */
static void tidy_storage(const Config *c) {
        _cleanup_strv_free_ char **removed = NULL, **unpaired = NULL, **unusable = NULL, **strays = NULL;
        _cleanup_free_ char *error = NULL;
        const char *dir = c->storage.directory;

        if (backup_tidy(c, &removed, &unpaired, &unusable, &strays, &error) < 0) {
                log_warning("%s", error ? error : "cannot tidy the backup directory");
                return;
        }
        for (size_t i = 0; removed && removed[i] && i < TIDY_LOGGED_MAX; i++)
                log_info("Removed %s/%s: %s", dir, removed[i],
                         tmpfile_name_is(removed[i], TMPFILE_PREFIX) ? "a temporary file of an interrupted backup"
                                                        : "a sidecar without its backup (an interrupted publish)");
        log_more(LOG_INFO, removed, "files removed (temporary files, sidecars without their backup)", dir);
        for (size_t i = 0; unpaired && unpaired[i] && i < TIDY_LOGGED_MAX; i++)
                log_warning("Backup %s/%s has no sidecar; it was not published by etcd-backupd, or its sidecar "
                            "was removed by hand", dir, unpaired[i]);
        log_more(LOG_WARNING, unpaired, "backups without a sidecar (etcd-backupctl list names them)", dir);
        for (size_t i = 0; unusable && unusable[i] && i < TIDY_LOGGED_MAX; i++)
                log_warning("Sidecar %s/%s; its backup is listed without it and retention does not delete it "
                            "until the sidecar is mended or removed", dir, unusable[i]);
        log_more(LOG_WARNING, unusable, "sidecars that cannot be taken (etcd-backupctl list marks their backups)", dir);
        for (size_t i = 0; strays && strays[i] && i < TIDY_LOGGED_MAX; i++)
                log_warning("%s/%s; left alone, remove it yourself", dir, strays[i]);
        log_more(LOG_WARNING, strays, "files left alone", dir);
}

/* The backup directory's lock, before anything touches the directory: the
 * descriptor, or -EWOULDBLOCK (another instance holds it) / -errno, logged. */
static int lock_storage(const Config *c) {
        _cleanup_free_ char *error = NULL;
        int r = store_lock_directory(c->storage.directory, &error);
        if (r < 0)
                log_error("%s", error ? error : strerror(-r));
        return r;
}

static int run_once(void) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(job_result_done) JobResult result = {};
        _cleanup_close_ int lock_fd = -EBADF;
        int r;

        if (load_config(&c) < 0)
                return EXIT_CONFIG;
        lock_fd = lock_storage(c);
        if (lock_fd < 0)
                return lock_fd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILURE;
        tidy_storage(c);
        r = job_run(c, on_progress, NULL, &result);
        job_log_result(&result, c);
        if (r < 0)
                return r == -EHOSTUNREACH ? EXIT_UNAVAILABLE : r == -ENOKEY ? EXIT_CONFIG : EXIT_FAILURE;
        printf("%s\n", result.path);
        /* The local backup is good and named above, but the off-site copy is
         * missing: a cron job or an upgrade hook must be able to tell. */
        return result.upload_error ? EXIT_FAILURE : EXIT_SUCCESS;
}

static int run_daemon(void) {
        _cleanup_(manager_freep) Manager *m = NULL;
        Config *c = NULL;
        int lock_fd, r;

        if (load_config(&c) < 0)
                return EXIT_CONFIG;
        lock_fd = lock_storage(c);
        if (lock_fd < 0) {
                config_free(c);
                return lock_fd == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILURE;
        }
        tidy_storage(c);
        r = manager_new(arg_config, c, lock_fd, &m);
        if (r < 0) {
                config_free(c);
                safe_close(lock_fd);
                return log_error_errno(r, "cannot set up: %m"), EXIT_FAILURE;
        }
        r = manager_start(m);
        if (r < 0)
                return r == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILURE;
        return manager_run(m);
}

int main(int argc, char **argv) {
        sigset_t mask;
        int r;

        log_setup("etcd-backupd", LOG_TARGET_AUTO);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_USAGE : EXIT_SUCCESS;

        if (arg_check_config) {
                log_setup("etcd-backupd", LOG_TARGET_STDERR);
                return run_check_config();
        }

        /* Signals are handled by the event loop; block them before any
         * thread starts (libcurl's resolver, the compressor) so that every
         * thread inherits the mask. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (!arg_once && !arg_serve_restore && sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "cannot block signals: %m"), EXIT_FAILURE;
        if (arg_serve_restore)
                /* Standard output is the client's socket: nothing else may be printed there. */
                r = restore_service_main(arg_config, STDIN_FILENO);
        else if (arg_once)
                r = run_once();
        else
                r = run_daemon();
        return r;
}
