/* SPDX-License-Identifier: MIT */
/*
 * ctl/discover.c — `etcd-backupctl discover`. The configuration it prints is
 * the shipped one's shape with the etcd and restore groups filled from what
 * the node runs, each value under a comment naming its source; the other
 * groups carry their defaults. The credentials drop-in hands each file the
 * configuration names to the service under its file name, which is how the
 * configuration finds it under systemd. --write checks the text with the
 * configuration loader before anything is written, writes each file to a
 * temporary name and renames it into place.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "shipped-config.h"
#include "config/config.h"
#include "ctl/discover.h"
#include "restore/discover.h"
#include "util/io.h"
#include "util/str.h"

#define DROP_IN_PATH "/etc/systemd/system/etcd-backupd.service.d/credentials.conf"

/* s as a libconfig string body: '"' and '\' escaped. */
static void put_string(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++) {
                if (*s == '"' || *s == '\\')
                        fputc('\\', f);
                fputc(*s, f);
        }
        fputc('"', f);
}

static void put_value(FILE *f, const char *key, const DiscoverValue *v, const char *missing_comment,
                      const char *fallback) {
        if (v->value)
                fprintf(f, "  # %s\n  %s = ", v->source, key);
        else
                fprintf(f, "  # %s\n  %s = ", missing_comment, key);
        put_string(f, v->value ? v->value : fallback);
        fputs(";\n", f);
}

/* The shipped configuration's text of every group but etcd and restore,
 * which discover fills itself: each with its comment (the paragraph right
 * above it), and the commented-out optional groups between them, so that
 * what is written carries the shipped defaults and their explanations.
 * Whatever comes before the first group (the file's own header) is left
 * out. */
static void put_shipped_groups(FILE *f) {
        const char *paragraph = NULL, *between = NULL;
        bool seen_group = false;

        for (const char *line = SHIPPED_CONFIG_TEXT; *line;) {
                const char *end = strchrnul(line, '\n'), *next = *end ? end + 1 : end, *until;
                size_t n = (size_t) (end - line);

                if (n == 0)
                        paragraph = NULL;
                else if (line[0] == '#') {
                        paragraph = paragraph ?: line;
                        between = between ?: line;
                } else if (line[0] != ' ' && n > 3 && memcmp(end - 3, ": {", 3) == 0 &&
                           (until = strstr(end, "\n};\n"))) {
                        const char *start = paragraph ?: line;

                        until += strlen("\n};\n");
                        /* The paragraphs between the last group and this one's own. */
                        if (seen_group && between && between < start)
                                fwrite(between, 1, (size_t) (start - between), f);
                        if (!startswith(line, "etcd: {") && !startswith(line, "restore: {")) {
                                fwrite(start, 1, (size_t) (until - start), f);
                                fputc('\n', f);
                        }
                        seen_group = true;
                        paragraph = between = NULL;
                        next = until;
                }
                line = next;
        }
}

static int format_config(const Discovery *d, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# etcd-backupd configuration, from what this node runs (etcd-backupctl discover).\n"
                   "# Check a change with: etcd-backupd --check-config -c FILE\n"
                   "\n"
                   "etcd: {\n"
                   "  # %s\n"
                   "  endpoints = [\n", d->etcd_servers.source);
        for (char **e = d->endpoints; *e; e++) {
                fputs("    ", f);
                put_string(f, *e);
                fputs(e[1] ? ",\n" : "\n", f);
        }
        fputs("  ];\n", f);
        put_value(f, "cacert", &d->cacert, "kube-apiserver has no --etcd-cafile: the system trust store", "");
        put_value(f, "cert", &d->cert, "kube-apiserver has no --etcd-certfile: no client certificate", "");
        put_value(f, "key", &d->key, "kube-apiserver has no --etcd-keyfile: no client key", "");
        fputs("  connect_timeout = \"5s\";\n"
              "  timeout = \"30min\";\n"
              "};\n\n", f);
        put_shipped_groups(f);
        fputs("# How `etcd-backupctl restore` puts a backup back: etcd's own settings.\n"
              "restore: {\n", f);
        if (d->mode == RESTORE_MODE_STATIC_POD) {
                fputs("  # etcd runs as a static pod\n  mode = \"static-pod\";\n  manifests_dir = ", f);
                put_string(f, d->manifests_dir);
        } else {
                fputs("  # etcd runs as a systemd unit\n  mode = \"systemd\";\n  etcd_unit = ", f);
                put_string(f, d->etcd_unit);
                fputs(";\n  apiserver_unit = ", f);
                put_string(f, d->apiserver_unit);
        }
        fputs(";\n", f);
        put_value(f, "data_dir", &d->data_dir, "etcd's --data-dir not found: the default", "/var/lib/etcd");
        put_value(f, "name", &d->name, "etcd's --name not found: etcd's default", "default");
        put_value(f, "initial_cluster", &d->initial_cluster, "etcd's --initial-cluster not found: etcd's default",
                  "default=https://127.0.0.1:2380");
        put_value(f, "initial_cluster_token", &d->initial_cluster_token,
                  "etcd's --initial-cluster-token not given: etcd's default", "etcd-cluster");
        put_value(f, "initial_advertise_peer_urls", &d->initial_advertise_peer_urls,
                  "etcd's --initial-advertise-peer-urls not found: the default", "https://127.0.0.1:2380");
        fputs("  etcdutl = \"\";\n"
              "  health_timeout = \"5min\";\n"
              "  confirm_timeout = \"5min\";\n"
              "};\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

static const char *base_name(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? slash + 1 : path;
}

/* The drop-in; -ENOTUNIQ (with a message) when two files share a file name. */
static int format_drop_in(const Discovery *d, char **ret, char **ret_error) {
        const DiscoverValue *files[] = { &d->cert, &d->key, &d->cacert };
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(files); j++)
                        if (files[i]->value && files[j]->value &&
                            streq(base_name(files[i]->value), base_name(files[j]->value)))
                                return free_and_format(ret_error, "%s and %s have the same file name; a "
                                                       "credential needs its own name", files[i]->value,
                                                       files[j]->value), -ENOTUNIQ;
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# %s, from what this node runs (etcd-backupctl discover).\n"
                   "# The etcd client files of the configuration, handed to the service\n"
                   "# under their file names; the empty line drops the shipped kubeadm defaults.\n"
                   "[Service]\n"
                   "LoadCredential=\n", DROP_IN_PATH);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i]->value)
                        fprintf(f, "# %s\nLoadCredential=%s:%s\n", files[i]->source, base_name(files[i]->value),
                                files[i]->value);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

/* Write text to path through a temporary file renamed into place (0644, parents made 0755). */
static int write_file(const char *path, const char *text) {
        _cleanup_free_ char *dir = strdup(path), *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *slash;
        int r;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                r = mkdir_p(dir, 0755);
                if (r < 0)
                        return r;
        }
        if (asprintf(&tmp, "%s.tmp-discover", path) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, text, strlen(text));
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return slash && slash != dir ? fsync_directory(dir) : 0;
}

/* Whether path holds the example configuration exactly as shipped (1), something else (0), or -errno. */
static int is_shipped_config(const char *path) {
        _cleanup_free_ char *text = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        unsigned int n = 0;
        size_t size = 0;
        int r;

        r = read_full_file(path, 1024 * 1024, &text, &size);
        if (r == -EFBIG)
                return 0;
        if (r < 0)
                return r;
        if (EVP_Digest(text, size, md, &n, EVP_sha256(), NULL) != 1)
                return -EIO;
        return streq(hexencode(md, n, hex), SHIPPED_CONFIG_SHA256);
}

/* The configuration checked as --check-config checks it (under the name it will have), before anything is
 * printed or written: EXIT_CONFIG with the loader's messages, or 0. */
static int check_config(const char *config_text, const char *name) {
        _cleanup_(config_freep) Config *c = NULL;
        ConfigDiags diags = {};
        int r;

        r = config_load_string(config_text, name, &c, &diags);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: discover: the configuration found would not pass --check-config:\n");
                config_diags_print(&diags, stderr);
        }
        config_diags_done(&diags);
        return r == -ENOMEM ? EXIT_FAILURE : r < 0 ? EXIT_CONFIG : 0;
}

static int run_write(const char *config_text, const char *drop_in_text, const char *config_path,
                     const char *root, bool force) {
        _cleanup_free_ char *conf = NULL, *drop = NULL;
        int r;

        if (config_path[0] != '/') {
                fprintf(stderr, "etcd-backupctl: discover --write: -c %s is not an absolute path\n", config_path);
                return EXIT_USAGE;
        }
        conf = root ? path_join(root, config_path) : strdup(config_path);
        drop = root ? path_join(root, DROP_IN_PATH) : strdup(DROP_IN_PATH);
        if (!conf || !drop) {
                fprintf(stderr, "etcd-backupctl: out of memory\n");
                return EXIT_FAILURE;
        }
        if (!force)
                for (const char *p = conf; p; p = p == conf ? drop : NULL)
                        if (access(p, F_OK) >= 0 && (p != conf || is_shipped_config(p) <= 0)) {
                                fprintf(stderr, "etcd-backupctl: %s exists; --force replaces it\n", p);
                                return EXIT_FAILURE;
                        }
        r = write_file(conf, config_text);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: cannot write %s: %s\n", conf, strerror(-r));
                return EXIT_FAILURE;
        }
        r = write_file(drop, drop_in_text);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: cannot write %s: %s\n", drop, strerror(-r));
                return EXIT_FAILURE;
        }
        printf("Wrote %s\n  and %s.\n"
               "Enable the service with:\n", conf, drop);
        if (root)
                printf("  systemctl --root=%s enable etcd-backupd.socket etcd-backupd.service\n", root);
        else
                printf("  systemctl daemon-reload\n"
                       "  systemctl enable --now etcd-backupd.socket etcd-backupd.service\n");
        return EXIT_SUCCESS;
}

int ctl_discover_main(int argc, char **argv, const char *config_path) {
        enum { ARG_MANIFESTS = 0x100, ARG_API_UNIT, ARG_ETCD_UNIT, ARG_DROP_IN, ARG_WRITE, ARG_FORCE, ARG_ROOT };
        static const struct option options[] = {
                { "manifests-dir", required_argument, NULL, ARG_MANIFESTS },
                { "apiserver-unit", required_argument, NULL, ARG_API_UNIT },
                { "etcd-unit", required_argument, NULL, ARG_ETCD_UNIT },
                { "drop-in", no_argument, NULL, ARG_DROP_IN },
                { "write", no_argument, NULL, ARG_WRITE },
                { "force", no_argument, NULL, ARG_FORCE },
                { "root", required_argument, NULL, ARG_ROOT },
                {}
        };
        _cleanup_(discovery_freep) Discovery *d = NULL;
        _cleanup_free_ char *error = NULL, *config_text = NULL, *drop_in_text = NULL;
        DiscoverOptions o = {};
        bool drop_in = false, write = false, force = false;
        const char *root = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case ARG_MANIFESTS:
                        o.manifests_dir = optarg;
                        break;
                case ARG_API_UNIT:
                        o.apiserver_unit = optarg;
                        o.units_given = true;
                        break;
                case ARG_ETCD_UNIT:
                        o.etcd_unit = optarg;
                        o.units_given = true;
                        break;
                case ARG_DROP_IN:
                        drop_in = true;
                        break;
                case ARG_WRITE:
                        write = true;
                        break;
                case ARG_FORCE:
                        force = true;
                        break;
                case ARG_ROOT:
                        root = optarg;
                        break;
                default:
                        fprintf(stderr, "Try 'etcd-backupctl discover --help'.\n");
                        return EXIT_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "etcd-backupctl: discover takes no arguments.\n");
                return EXIT_USAGE;
        }
        if ((force || root) && !write) {
                fprintf(stderr, "etcd-backupctl: discover: --force and --root go with --write.\n");
                return EXIT_USAGE;
        }
        if (drop_in && write) {
                fprintf(stderr, "etcd-backupctl: discover: --write writes the drop-in too; --drop-in only prints it.\n");
                return EXIT_USAGE;
        }

        r = discover_run(&o, &d, &error);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: discover: %s\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        r = format_config(d, &config_text);
        if (r >= 0)
                r = format_drop_in(d, &drop_in_text, &error);
        if (r < 0) {
                fprintf(stderr, "etcd-backupctl: discover: %s\n", error ? error : strerror(-r));
                return EXIT_FAILURE;
        }
        r = check_config(config_text, config_path ? config_path : CONFIG_DEFAULT_PATH);
        if (r != 0)
                return r;
        if (write)
                return run_write(config_text, drop_in_text, config_path ? config_path : CONFIG_DEFAULT_PATH,
                                 root, force);
        fputs(drop_in ? drop_in_text : config_text, stdout);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
