/* SPDX-License-Identifier: MIT */
/*
 * ctl/fetch.c — `etcd-backupctl fetch NAME|latest [--output DIR]`: brings a
 * backup and its sidecar back from the S3 copy (the configuration's upload
 * group) when the node's own are gone, ready for `restore FILE`. The backup
 * arrives in an anonymous file in DIR, is checked against the sidecar's
 * file_size and file_sha256, and only then gets its name, after its sidecar
 * (as a publish does); an existing file is never replaced. CLI output: this
 * file prints.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backup/inspect.h"
#include "backup/s3.h"
#include "backup/store.h"
#include "config/config.h"
#include "ctl/json-print.h"
#include "format/retention.h"
#include "ctl/fetch.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/str.h"
#include "util/time.h"

/* Sidecars fetched for "latest" before it gives up on the ones it cannot
 * take, and newer backups passed over named in the message. */
#define FETCH_SIDECARS_MAX 20         /* the message below says 20 */
#define FETCH_PASSED_OVER_NAMED 3

/* A remote backup: its name (pointing into the listing), size, parsed
 * name, and its sidecar's listed size when there is one. */
typedef struct Remote {
        const char *name;
        uint64_t size;
        StoreName parsed;
        bool has_sidecar;
        uint64_t sidecar_size;
} Remote;

#define FETCH_TMP_PREFIX ".etcd-backupctl-fetch-"

static int remote_compare(const void *a, const void *b) {
        const Remote *x = a, *y = b;
        return store_name_compare_newest_first(x->name, &x->parsed, y->name, &y->parsed);
}

static int key_compare(const void *a, const void *b) {
        const S3Object *x = a, *y = b;
        return strcmp(x->key, y->key);
}

/* The backups under prefix in the listing, newest first, each with its
 * sidecar's listed size (the listing is sorted here by key; a store's
 * order is not trusted). Returns 0, -ENOMEM. */
static int remotes_from_listing(S3Listing *l, const char *prefix, Remote **ret, size_t *ret_n) {
        _cleanup_free_ Remote *v = NULL;
        size_t n = 0;

        qsort(l->objects, l->n, sizeof *l->objects, key_compare);
        v = calloc(l->n + 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const char *name = startswith(l->objects[i].key, prefix);
                Remote *r = &v[n];

                if (!name || store_name_parse(name, &r->parsed) < 0)
                        continue;
                r->name = name;
                r->size = l->objects[i].size;
                /* "<name>.json" sorts after "<name>" and before any longer key. */
                for (size_t j = i + 1; j < l->n && startswith(l->objects[j].key, l->objects[i].key); j++)
                        if (streq(l->objects[j].key + strlen(l->objects[i].key), SIDECAR_SUFFIX)) {
                                r->has_sidecar = true;
                                r->sidecar_size = l->objects[j].size;
                                break;
                        }
                n++;
        }
        qsort(v, n, sizeof *v, remote_compare);
        *ret = TAKE_PTR(v);
        *ret_n = n;
        return 0;
}

/* Appends "NAME (why)" to the list of backups "latest" passed over. */
static int passed_over_add(char **list, size_t *count, const char *name, const char *why) {
        if (++*count > FETCH_PASSED_OVER_NAMED)
                return 0;
        (void) free_and_format(list, "%s%s%s (%s)", *list ?: "", *list ? "; " : "", name, why);
        return *list ? 0 : -ENOMEM;
}

/* Whether the absolute path is dir or below it. */
static bool path_is_below(const char *path, const char *dir) {
        const char *rest = startswith(path, dir);
        return rest && (*rest == '\0' || *rest == '/');
}

/* Holds back the signals that interrupt a fetch (SIGINT, SIGTERM, SIGHUP)
 * until interrupts_release(*ret_old). */
static void interrupts_hold(sigset_t *ret_old) {
        sigset_t hold;

        sigemptyset(&hold);
        sigaddset(&hold, SIGINT);
        sigaddset(&hold, SIGTERM);
        sigaddset(&hold, SIGHUP);
        (void) sigprocmask(SIG_BLOCK, &hold, ret_old);
}

static void interrupts_release(const sigset_t *old) {
        (void) sigprocmask(SIG_SETMASK, old, NULL);
}

/* tmpfile_open() with the interrupts held back, so that no file is there
 * that the handler does not know of. */
static int open_tmp(int dir_fd, TmpFile *t) {
        sigset_t old;
        int r;

        interrupts_hold(&old);
        r = tmpfile_open(dir_fd, FETCH_TMP_PREFIX, t);
        interrupts_release(&old);
        return r;
}

/* Downloads the sidecar into a temporary file in dir_fd (*t) and parses
 * it; it must be name's, and give the size listed. -EBADMSG with
 * *ret_error when it cannot be taken, another -errno when the download
 * failed. */
static int fetch_sidecar_into(S3 *s, const Remote *rm, int dir_fd, const char *dir, TmpFile *t, Sidecar *ret,
                              char **ret_error) {
        _cleanup_free_ char *name = NULL;
        const char *why = NULL;
        int r;

        if (asprintf(&name, "%s%s", rm->name, SIDECAR_SUFFIX) < 0)
                return -ENOMEM;
        if (rm->sidecar_size > INSPECT_SIDECAR_MAX_BYTES)
                return free_and_format(ret_error, "its sidecar is %" PRIu64 " bytes there, more than a sidecar "
                                       "holds", rm->sidecar_size), -EBADMSG;
        r = open_tmp(dir_fd, t);
        if (r < 0)
                return free_and_format(ret_error, "cannot create a temporary file in %s: %s", dir, strerror(-r)), r;
        r = s3_get_file(s, name, rm->sidecar_size, t->fd, ret_error);
        if (r == -EFBIG)
                return -EBADMSG;        /* a sidecar longer than listed */
        if (r < 0)
                return r;
        if (lseek(t->fd, 0, SEEK_SET) < 0)
                return -errno;
        r = sidecar_read_fd(t->fd, ret, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "its sidecar is not valid: %s", why ? why : strerror(-r)),
                       -EBADMSG;
        if (!streq_ptr(ret->name, rm->name))
                return free_and_format(ret_error, "its sidecar is another backup's"), -EBADMSG;
        if (ret->file_size != rm->size)
                return free_and_format(ret_error, "it is %" PRIu64 " bytes there, its sidecar says %" PRIu64,
                                       rm->size, ret->file_size), -EBADMSG;
        return 0;
}

/* fetch_sidecar_into() *ret_tmp (registered for the signal handler), which
 * holds the sidecar on success and nothing on a failure. */
static int fetch_sidecar(S3 *s, const Remote *rm, int dir_fd, const char *dir, TmpFile *ret_tmp, Sidecar *ret,
                         char **ret_error) {
        int r = fetch_sidecar_into(s, rm, dir_fd, dir, ret_tmp, ret, ret_error);
        if (r < 0)
                tmpfile_done(ret_tmp);
        return r;
}

/* Hidden names of fetch's temporary files (another prefix than the
 * daemon's, whose tidy would remove a running fetch's in its directory). An
 * interrupted fetch (SIGINT, SIGTERM, SIGHUP) removes them as it goes. */
static TmpFile *volatile interrupt_cleanup[2];

static void on_interrupt(int sig) {
        for (size_t i = 0; i < ELEMENTSOF(interrupt_cleanup); i++) {
                TmpFile *t = interrupt_cleanup[i];
                if (t && t->fd >= 0 && t->name[0])
                        (void) unlinkat(t->dir_fd, t->name, 0);
        }
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Before a and b go out of scope. */
static void interrupt_forget(bool *armed) {
        if (*armed)
                interrupt_cleanup[0] = interrupt_cleanup[1] = NULL;
}

static void remove_on_interrupt(TmpFile *a, TmpFile *b) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
        struct sigaction sa = { .sa_handler = on_interrupt }, old;

        interrupt_cleanup[0] = a;
        interrupt_cleanup[1] = b;
        sigemptyset(&sa.sa_mask);
        /* One that is ignored (nohup, a background job) stays ignored. */
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                if (sigaction(sigs[i], NULL, &old) >= 0 && old.sa_handler != SIG_IGN)
                        (void) sigaction(sigs[i], &sa, NULL);
}

int ctl_fetch_main(int argc, char **argv, bool json, const char *config_path) {
        enum { ARG_OUTPUT = 0x100 };
        static const struct option options[] = {
                { "output", required_argument, NULL, ARG_OUTPUT },
                { "json", no_argument, NULL, 'j' },
                {}
        };
        _cleanup_(config_diags_done) ConfigDiags diags = {};
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_(s3_listing_done) S3Listing listing = {};
        _cleanup_free_ Remote *remotes = NULL;
        _cleanup_free_ char *passed_over = NULL;
        size_t n_remotes = 0, n_passed_over = 0;
        unsigned n_sidecars = 0;
        Remote *rm = NULL;
        _cleanup_(sidecar_done) Sidecar sc = {};
        _cleanup_(s3_done) S3 s = {};
        _cleanup_free_ char *error = NULL, *sidecar_name = NULL, *out_path = NULL, *dir_abs = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        /* Before them, so that the handler forgets them once they are done. */
        _cleanup_(interrupt_forget) bool interrupt_armed = false;
        /* After dir_fd, so cleaned up before it: they remove their names in it. */
        _cleanup_(tmpfile_done) TmpFile tmp = TMPFILE_NULL, sidecar_tmp = TMPFILE_NULL;
        char hex[SHA256_HEX_MAX];
        const char *dir = ".", *what;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case ARG_OUTPUT:
                        dir = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (optind + 1 != argc) {
                fprintf(stderr, "etcd-backupctl fetch: expected one NAME or \"latest\" (etcd-backupctl fetch --help)\n");
                return EXIT_USAGE;
        }
        what = argv[optind];

        r = config_load(config_path, &c, &diags);
        if (r == -ENOMEM) {
                fprintf(stderr, "etcd-backupctl fetch: out of memory\n");
                return EXIT_FAILURE;
        }
        if (r < 0) {
                config_diags_print(&diags, stderr);
                fprintf(stderr, "etcd-backupctl fetch: configuration %s is not valid\n", config_path);
                return EXIT_CONFIG;
        }
        if (!c->upload.enabled) {
                fprintf(stderr, "etcd-backupctl fetch: %s has no upload group: there is no copy to fetch from\n",
                        config_path);
                return EXIT_CONFIG;
        }

        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot open the directory %s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE;
        }
        remove_on_interrupt(&tmp, &sidecar_tmp);
        interrupt_armed = true;
        dir_abs = realpath(dir, NULL);
        if (!dir_abs) {
                fprintf(stderr, "etcd-backupctl fetch: %s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE;
        }

        if (!streq(what, "latest") && store_name_parse(what, &(StoreName) {}) < 0) {
                fprintf(stderr, "etcd-backupctl fetch: \"%s\" is not a backup's name "
                        "(etcd-<cluster>-<time>-r<revision>.db…, as `list` shows them) nor \"latest\"\n", what);
                return EXIT_USAGE;
        }
        r = s3_init(&s, &c->upload, &error);
        if (r >= 0)
                r = s3_list(&s, &listing, &error);
        if (r >= 0)
                r = remotes_from_listing(&listing, s.prefix, &remotes, &n_remotes);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: %s: %s\n", c->upload.url, error ? error : strerror(-r));
                return EXIT_FAILURE;
        }

        /* NAME, or for "latest" the newest backup whose sidecar can be
         * taken, as a restore's "latest" is chosen locally. */
        for (size_t i = 0; i < n_remotes && !rm; i++) {
                Remote *cand = &remotes[i];

                if (!streq(what, "latest")) {
                        if (streq(cand->name, what))
                                rm = cand;
                        continue;
                }
                if (!cand->has_sidecar) {
                        if (passed_over_add(&passed_over, &n_passed_over, cand->name, "no sidecar") < 0)
                                goto oom;
                        continue;
                }
                if (++n_sidecars > FETCH_SIDECARS_MAX)
                        break;
                sidecar_done(&sc);
                error = mfree(error);
                tmpfile_done(&sidecar_tmp);
                r = fetch_sidecar(&s, cand, dir_fd, dir_abs, &sidecar_tmp, &sc, &error);
                if (r == -ENOMEM)
                        goto oom;
                if (r == -EBADMSG) {
                        _cleanup_free_ char *why = NULL;

                        if (asprintf(&why, "sidecar unusable: %s", error ?: "not valid") < 0 ||
                            passed_over_add(&passed_over, &n_passed_over, cand->name, why) < 0)
                                goto oom;
                        continue;
                }
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: %s; nothing fetched\n", error ? error : strerror(-r));
                        return EXIT_FAILURE;
                }
                rm = cand;
        }
        if (n_passed_over > FETCH_PASSED_OVER_NAMED) {
                (void) free_and_format(&passed_over, "%s; and %zu more", passed_over,
                                       n_passed_over - FETCH_PASSED_OVER_NAMED);
                if (!passed_over)
                        goto oom;
        }
        if (!rm) {
                if (!streq(what, "latest"))
                        fprintf(stderr, "etcd-backupctl fetch: no backup %s at %s (%zu backups there)\n", what,
                                c->upload.url, n_remotes);
                else
                        fprintf(stderr, "etcd-backupctl fetch: no backup with a usable sidecar at %s (%zu backups "
                                "there%s%s%s)\n", c->upload.url, n_remotes, passed_over ? "; passed over: " : "",
                                passed_over ?: "", n_sidecars > FETCH_SIDECARS_MAX ? "; gave up after 20 sidecars" : "");
                return EXIT_FAILURE;
        }
        /* As a restore's "latest": a name later than now (the clock set back since, or ahead then) may not be
         * the newest data. */
        if (streq(what, "latest") &&
            retention_is_future(rm->parsed.created_usec, now_usec(CLOCK_REALTIME), RETENTION_FUTURE_SLACK_USEC)) {
                char when[FORMAT_COMPACT_MAX], now[FORMAT_COMPACT_MAX];

                fprintf(stderr, "etcd-backupctl fetch: \"latest\" would be %s, which is named %s, later than now "
                        "(%s): the clock was set back since, or was ahead when it was taken, so the newest name may "
                        "not be the newest data. Name the backup to fetch; nothing fetched\n", rm->name,
                        format_compact_utc(when, sizeof when, rm->parsed.created_usec),
                        format_compact_utc(now, sizeof now, now_usec(CLOCK_REALTIME)));
                return EXIT_FAILURE;
        }
        if (passed_over)
                fprintf(stderr, "\"latest\" is the newest backup there with a usable sidecar; newer ones passed "
                        "over: %s\n", passed_over);
        if (asprintf(&sidecar_name, "%s%s", rm->name, SIDECAR_SUFFIX) < 0 ||
            asprintf(&out_path, "%s%s%s", dir_abs, endswith(dir_abs, "/") ? "" : "/", rm->name) < 0)
                goto oom;
        /* Nothing is fetched over a file that is there, nor beside a
         * sidecar that is not this one. */
        {
                const char *const names[] = { rm->name, sidecar_name };

                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (faccessat(dir_fd, names[i], F_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                                fprintf(stderr, "etcd-backupctl fetch: %s/%s is there already; nothing fetched\n",
                                        dir_abs, names[i]);
                                return EXIT_FAILURE;
                        }
        }
        if (rm->has_sidecar && sidecar_tmp.fd < 0) {
                r = fetch_sidecar(&s, rm, dir_fd, dir_abs, &sidecar_tmp, &sc, &error);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: %s: %s; nothing fetched\n", rm->name,
                                error ? error : strerror(-r));
                        return EXIT_FAILURE;
                }
        }

        r = open_tmp(dir_fd, &tmp);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot create a temporary file in %s: %s\n", dir_abs,
                        strerror(-r));
                return EXIT_FAILURE;
        }
        r = s3_get_file(&s, rm->name, rm->size, tmp.fd, &error);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: %s; nothing fetched\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        if (rm->has_sidecar) {
                r = s3_sha256_range(tmp.fd, 0, rm->size, hex);
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: cannot read back %s: %s\n", rm->name, strerror(-r));
                        return EXIT_FAILURE;
                }
                if (!streq(hex, sc.file_sha256)) {
                        fprintf(stderr, "etcd-backupctl fetch: %s arrived with SHA-256 %s, its sidecar says %s; "
                                "nothing fetched\n", rm->name, hex, sc.file_sha256);
                        return EXIT_FAILURE;
                }
        }
        /* The download made durable before anything gets its name. */
        if (fsync(tmp.fd) < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot write %s: %s; nothing fetched\n", out_path,
                        strerror(errno));
                return EXIT_FAILURE;
        }
        /* Both names or neither: an interrupt waits until the links are
         * done or undone. The sidecar first, as a publish does: never a
         * backup without it. */
        sigset_t old_mask;
        interrupts_hold(&old_mask);
        r = rm->has_sidecar ? tmpfile_link(&sidecar_tmp, sidecar_name) : 0;
        bool sidecar_failed = r < 0;
        if (r >= 0) {
                r = tmpfile_link(&tmp, rm->name);
                /* Their hidden names gone before the directory is synced:
                 * the restore refuses a backup with a second link. */
                if (r >= 0) {
                        tmpfile_done(&tmp);
                        tmpfile_done(&sidecar_tmp);
                }
                if (r >= 0 && fsync(dir_fd) < 0) {
                        r = -errno;
                        (void) unlinkat(dir_fd, rm->name, 0);
                }
                if (r < 0 && rm->has_sidecar)
                        (void) unlinkat(dir_fd, sidecar_name, 0);
        }
        interrupts_release(&old_mask);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot write %s%s: %s; nothing fetched\n", out_path,
                        sidecar_failed ? SIDECAR_SUFFIX : "", strerror(-r));
                return EXIT_FAILURE;
        }
        if (path_is_below(dir_abs, "/tmp") || path_is_below(dir_abs, "/var/tmp"))
                fprintf(stderr, "Note: the restore service runs with PrivateTmp=yes and cannot see %s; for "
                        "`etcd-backupctl restore`, fetch into another directory (such as /root)\n", dir_abs);

        if (json) {
                struct json_object *o = json_object_new_object();

                if (!o)
                        goto oom;
                json_object_object_add(o, "file", json_object_new_string(out_path));
                json_object_object_add(o, "size", json_object_new_int64((int64_t) rm->size));
                json_object_object_add(o, "sidecar", rm->has_sidecar ? sidecar_to_json_object(&sc) : NULL);
                r = json_print("fetch", o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
                json_object_put(o);
                if (r < 0)
                        return EXIT_FAILURE;
        } else {
                /* The path alone on stdout, for a script; the rest for the operator. */
                printf("%s\n", out_path);
                if (rm->has_sidecar)
                        fprintf(stderr, "Fetched %s from %s: %" PRIu64 " bytes, SHA-256 as its sidecar says; "
                                "restore it with `etcd-backupctl restore %s`\n", rm->name, c->upload.url, rm->size,
                                out_path);
                else
                        fprintf(stderr, "Fetched %s from %s: %" PRIu64 " bytes, with no sidecar there to check it "
                                "against; check it with `etcd-backupctl verify %s`\n", rm->name, c->upload.url,
                                rm->size, out_path);
        }
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
oom:
        fprintf(stderr, "etcd-backupctl fetch: out of memory\n");
        return EXIT_FAILURE;
}
