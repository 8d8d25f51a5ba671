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
#include "ctl/fetch.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/str.h"

/* The remote backup to fetch: its name, size, and its sidecar's size (0:
 * none listed). */
typedef struct Remote {
        const char *name;       /* points into the listing */
        uint64_t size;
        bool has_sidecar;
        uint64_t sidecar_size;
} Remote;

/* The listed size of <prefix><name>, or false when it is not listed. */
static bool listed(const S3Listing *l, const char *prefix, const char *name, uint64_t *ret_size) {
        size_t pl = strlen(prefix);

        for (size_t i = 0; i < l->n; i++)
                if (strncmp(l->objects[i].key, prefix, pl) == 0 && streq(l->objects[i].key + pl, name)) {
                        *ret_size = l->objects[i].size;
                        return true;
                }
        return false;
}

/* Finds what to fetch: the backup named what, or for "latest" the newest
 * backup (by the time in its name, then the revision) whose sidecar is
 * listed too. Returns 0, or -ENOENT with *ret_error. */
static int pick(const S3Listing *l, const char *prefix, const char *what, Remote *ret, char **ret_error) {
        _cleanup_free_ char *sidecar = NULL;
        StoreName best = {}, sn;
        size_t n_backups = 0;

        *ret = (Remote) {};
        for (size_t i = 0; i < l->n; i++) {
                const char *name = startswith(l->objects[i].key, prefix);
                uint64_t size;

                if (!name || store_name_parse(name, &sn) < 0)
                        continue;
                n_backups++;
                if (!streq(what, "latest")) {
                        if (streq(name, what))
                                *ret = (Remote) { .name = name, .size = l->objects[i].size };
                        continue;
                }
                sidecar = mfree(sidecar);
                if (asprintf(&sidecar, "%s%s", name, SIDECAR_SUFFIX) < 0)
                        return -ENOMEM;
                if (!listed(l, prefix, sidecar, &size))
                        continue;
                if (!ret->name || sn.created_usec > best.created_usec ||
                    (sn.created_usec == best.created_usec && sn.revision > best.revision)) {
                        *ret = (Remote) { .name = name, .size = l->objects[i].size };
                        best = sn;
                }
        }
        if (!ret->name) {
                if (streq(what, "latest"))
                        return free_and_format(ret_error, n_backups > 0 ? "none of the %zu backups there has a sidecar"
                                                                        : "no backup there", n_backups), -ENOENT;
                return free_and_format(ret_error, "no backup %s there (%zu backups)", what, n_backups), -ENOENT;
        }
        sidecar = mfree(sidecar);
        if (asprintf(&sidecar, "%s%s", ret->name, SIDECAR_SUFFIX) < 0)
                return -ENOMEM;
        ret->has_sidecar = listed(l, prefix, sidecar, &ret->sidecar_size);
        return 0;
}

/* An anonymous 0600 file in the directory dir_fd. */
static int tmpfile_in(int dir_fd, int *ret_fd) {
        int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

/* Gives the anonymous file fd the name name in dir_fd, after an fsync;
 * never replaces a file (-EEXIST). */
static int link_tmpfile(int fd, int dir_fd, const char *name) {
        char proc[64];

        if (fsync(fd) < 0)
                return -errno;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) < 0)
                return -errno;
        return 0;
}

/* Downloads the sidecar into an anonymous file in dir_fd (*ret_fd) and
 * parses it; it must be name's. */
static int fetch_sidecar(S3 *s, const Remote *rm, int dir_fd, int *ret_fd, Sidecar *ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *name = NULL;
        const char *why = NULL;
        int r;

        if (asprintf(&name, "%s%s", rm->name, SIDECAR_SUFFIX) < 0)
                return -ENOMEM;
        if (rm->sidecar_size > INSPECT_SIDECAR_MAX_BYTES)
                return free_and_format(ret_error, "the sidecar %s is %" PRIu64 " bytes, more than a sidecar holds",
                                       name, rm->sidecar_size), -EFBIG;
        r = tmpfile_in(dir_fd, &fd);
        if (r < 0)
                return free_and_format(ret_error, "cannot create a file for %s: %s", name, strerror(-r)), r;
        r = s3_get_file(s, name, rm->sidecar_size, fd, ret_error);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = sidecar_read_fd(fd, ret, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "the sidecar %s is not valid: %s", name, why ? why : strerror(-r)), r;
        if (!streq_ptr(ret->name, rm->name))
                return free_and_format(ret_error, "the sidecar %s is not %s's", name, rm->name), -EBADMSG;
        *ret_fd = TAKE_FD(fd);
        return 0;
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
        _cleanup_(sidecar_done) Sidecar sc = {};
        _cleanup_(s3_done) S3 s = {};
        _cleanup_free_ char *error = NULL, *sidecar_name = NULL, *out_path = NULL, *dir_abs = NULL;
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF, sidecar_fd = -EBADF;
        char hex[SHA256_HEX_MAX];
        const char *dir = ".", *what;
        Remote rm;
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
        dir_abs = realpath(dir, NULL);
        if (!dir_abs) {
                fprintf(stderr, "etcd-backupctl fetch: %s: %s\n", dir, strerror(errno));
                return EXIT_FAILURE;
        }

        r = s3_init(&s, &c->upload, &error);
        if (r >= 0)
                r = s3_list(&s, &listing, &error);
        if (r >= 0)
                r = pick(&listing, s.prefix, what, &rm, &error);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: %s: %s\n", c->upload.url, error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        if (asprintf(&sidecar_name, "%s%s", rm.name, SIDECAR_SUFFIX) < 0 ||
            asprintf(&out_path, "%s%s%s", dir_abs, endswith(dir_abs, "/") ? "" : "/", rm.name) < 0)
                goto oom;
        /* Nothing is fetched over a file that is there. */
        if (faccessat(dir_fd, rm.name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0 ||
            (rm.has_sidecar && faccessat(dir_fd, sidecar_name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0)) {
                fprintf(stderr, "etcd-backupctl fetch: %s/%s is there already; nothing fetched\n", dir_abs,
                        faccessat(dir_fd, rm.name, F_OK, AT_SYMLINK_NOFOLLOW) >= 0 ? rm.name : sidecar_name);
                return EXIT_FAILURE;
        }

        if (rm.has_sidecar) {
                r = fetch_sidecar(&s, &rm, dir_fd, &sidecar_fd, &sc, &error);
                if (r == -ENOMEM)
                        goto oom;
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: %s\n", error ? error : strerror(-r));
                        return EXIT_FAILURE;
                }
                if (sc.file_size != rm.size) {
                        fprintf(stderr, "etcd-backupctl fetch: %s is %" PRIu64 " bytes there, its sidecar says %" PRIu64
                                "; nothing fetched\n", rm.name, rm.size, sc.file_size);
                        return EXIT_FAILURE;
                }
        }

        r = tmpfile_in(dir_fd, &fd);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot create a file in %s: %s\n", dir_abs, strerror(-r));
                return EXIT_FAILURE;
        }
        r = s3_get_file(&s, rm.name, rm.size, fd, &error);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: %s; nothing fetched\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        if (rm.has_sidecar) {
                r = s3_sha256_range(fd, 0, rm.size, hex);
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: cannot read back %s: %s\n", rm.name, strerror(-r));
                        return EXIT_FAILURE;
                }
                if (!streq(hex, sc.file_sha256)) {
                        fprintf(stderr, "etcd-backupctl fetch: %s arrived with SHA-256 %s, its sidecar says %s; "
                                "nothing fetched\n", rm.name, hex, sc.file_sha256);
                        return EXIT_FAILURE;
                }
                /* The sidecar first, as a publish does: never a backup without it. */
                r = link_tmpfile(sidecar_fd, dir_fd, sidecar_name);
                if (r < 0) {
                        fprintf(stderr, "etcd-backupctl fetch: cannot write %s/%s: %s; nothing fetched\n", dir_abs,
                                sidecar_name, strerror(-r));
                        return EXIT_FAILURE;
                }
        }
        r = link_tmpfile(fd, dir_fd, rm.name);
        if (r >= 0 && fsync(dir_fd) < 0)
                r = -errno;
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl fetch: cannot write %s: %s\n", out_path, strerror(-r));
                if (rm.has_sidecar)
                        (void) unlinkat(dir_fd, sidecar_name, 0);
                return EXIT_FAILURE;
        }

        if (json) {
                struct json_object *o = json_object_new_object();

                if (!o)
                        goto oom;
                json_object_object_add(o, "file", json_object_new_string(out_path));
                json_object_object_add(o, "size", json_object_new_int64((int64_t) rm.size));
                json_object_object_add(o, "sidecar", rm.has_sidecar ? sidecar_to_json_object(&sc) : NULL);
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                /* The path alone on stdout, for a script; the rest for the operator. */
                printf("%s\n", out_path);
                if (rm.has_sidecar)
                        fprintf(stderr, "Fetched %s from %s: %" PRIu64 " bytes, SHA-256 as its sidecar says; "
                                "restore it with `etcd-backupctl restore %s`\n", rm.name, c->upload.url, rm.size,
                                out_path);
                else
                        fprintf(stderr, "Fetched %s from %s: %" PRIu64 " bytes, with no sidecar there to check it "
                                "against; check it with `etcd-backupctl verify %s`\n", rm.name, c->upload.url,
                                rm.size, out_path);
        }
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
oom:
        fprintf(stderr, "etcd-backupctl fetch: out of memory\n");
        return EXIT_FAILURE;
}
