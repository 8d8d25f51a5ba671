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
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libconfig.h>
#include <openssl/evp.h>

#include "shipped-config.h"
#include "config/config.h"
#include "ctl/client.h"
#include "ctl/discover.h"
#include "ctl/json-print.h"
#include "restore/discover.h"
#include "restore/member.h"
#include "util/io.h"
#include "util/path.h"
#include "util/str.h"
#include "util/time.h"

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

/* A setting without a comment: "  key = "value";". */
static void put_setting(FILE *f, const char *key, const char *value) {
        fprintf(f, "  %s = ", key);
        put_string(f, value);
        fputs(";\n", f);
}

/* text in a comment line: a line break or another control character would end it, or hide what follows. */
static void put_comment_text(FILE *f, const char *text, char instead) {
        for (const char *c = text; *c; c++)
                fputc((unsigned char) *c < 0x20 || *c == 0x7f ? instead : *c, f);
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

/* A restore key from etcd's flag: the value found, under its source; when
 * etcd runs without the flag, etcd's own default (when it has a useful one);
 * else, and whenever etcd was not found on this node, the key commented out
 * with why: the restore then reads it from etcd as etcd runs at that time,
 * and nothing here pins a value etcd never had. */
static void put_etcd_setting(FILE *f, const Discovery *d, const char *key, const DiscoverValue *v, const char *flag,
                             const char *etcd_default) {
        if (v->value) {
                put_value(f, key, v, NULL, NULL);
                return;
        }
        if (d->etcd_source && etcd_default) {
                fprintf(f, "  # %s runs etcd without %s: etcd's default\n  %s = ", d->etcd_source, flag, key);
                put_string(f, etcd_default);
                fputs(";\n", f);
                return;
        }
        if (d->etcd_source)
                fprintf(f, "  # %s runs etcd without %s\n", d->etcd_source, flag);
        else
                fprintf(f, "  # etcd was not found on this node: %s unknown\n", flag);
        fprintf(f, "  # (the restore reads it from etcd as it runs then)\n  # %s = \"\";\n", key);
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
        _cleanup_free_ char *text = NULL, *default_cluster = NULL;
        size_t size = 0;
        FILE *f;

        /* etcd's, from its name and peer URLs as they are (or as etcd defaults them). */
        default_cluster = member_default_initial_cluster(d->name.value ?: "default",
                                                         d->initial_advertise_peer_urls.value ?:
                                                                 "http://localhost:2380");
        if (!default_cluster)
                return -ENOMEM;

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
        if (d->etcd_servers_overrides.value) {
                /* kube-apiserver's other etcds (kubeadm's events etcd, often): named, so that nobody takes these
                 * backups for all of the cluster's state. */
                fprintf(f, "  # %s: kube-apiserver keeps these resources in another\n"
                           "  # etcd, which these backups do not hold; back that etcd up on its own:\n  #   ",
                        d->etcd_servers_overrides.source);
                put_comment_text(f, d->etcd_servers_overrides.value, '?');
                fputc('\n', f);
        }
        put_value(f, "cacert", &d->cacert, "kube-apiserver has no --etcd-cafile: the system trust store", "");
        put_value(f, "cert", &d->cert, "kube-apiserver has no --etcd-certfile: no client certificate", "");
        put_value(f, "key", &d->key, "kube-apiserver has no --etcd-keyfile: no client key", "");
        fputs("  connect_timeout = \"5s\";\n"
              "  timeout = \"30min\";\n"
              "};\n\n", f);
        put_shipped_groups(f);
        if (d->encryption_config.value) {
                fputs("# kube-apiserver's EncryptionConfiguration: the Secrets of each backup are\n"
                      "# checked against its keys. The service reads it as a credential (the drop-in).\n"
                      "kubernetes: {\n", f);
                put_value(f, "encryption_config", &d->encryption_config, NULL, NULL);
                fputs("};\n\n", f);
        } else if (d->encryption_config_error) {
                fputs("# kube-apiserver's --encryption-provider-config cannot be used here:\n# ", f);
                put_comment_text(f, d->encryption_config_error, ' ');
                fputs("\n\n", f);
        }
        fputs("# How `etcd-backupctl restore` puts a backup back: etcd's own settings.\n"
              "restore: {\n", f);
        if (!d->etcd_source)
                /* kube-apiserver's etcd elsewhere (kubeadm's external etcd): no mode is true of this node. */
                fputs("  # etcd was not found on this node (an external etcd?): restore on the node that\n"
                      "  # runs it; here the restore looks for it when asked\n  mode = \"auto\";\n", f);
        else if (d->mode == RESTORE_MODE_STATIC_POD)
                fputs("  # etcd runs as a static pod\n  mode = \"static-pod\";\n", f);
        else
                fputs("  # etcd runs as a systemd unit\n  mode = \"systemd\";\n", f);
        /* The units where discover found etcd's or kube-apiserver's (systemd), the manifests dir where it found
         * kube-apiserver.yaml: beside the units, a mixed node. */
        if (d->etcd_unit) {
                put_setting(f, "etcd_unit", d->etcd_unit);
                put_setting(f, "apiserver_unit", d->apiserver_unit);
        }
        if (d->manifests_dir) {
                if (d->etcd_unit && d->etcd_source)
                        fputs("  # kube-apiserver.yaml is there: where apiserver_unit does not run, kube-apiserver and "
                              "the\n  # controllers are static pods (a mixed node)\n", f);
                put_setting(f, "manifests_dir", d->manifests_dir);
        }
        /* etcd's defaults as etcd has them; its data dir's ("NAME.etcd" below its working directory) is none a
         * restore could use. */
        put_etcd_setting(f, d, "data_dir", &d->data_dir, "--data-dir", NULL);
        put_etcd_setting(f, d, "name", &d->name, "--name", "default");
        put_etcd_setting(f, d, "initial_cluster", &d->initial_cluster, "--initial-cluster", default_cluster);
        /* Never pinned: unset, the restore derives a token from each backup, and so a new cluster ID that a member
         * still on the old data cannot join; etcd's own token, pinned, would keep the old cluster's. */
        fputs("  # initial_cluster_token: unset, derived from each backup, so that a member still on the\n"
              "  # old data cannot join the restored cluster (", f);
        if (d->initial_cluster_token.value) {
                fprintf(f, "%s: ", d->initial_cluster_token.source);
                put_comment_text(f, d->initial_cluster_token.value, '?');
        } else if (d->etcd_source)
                fprintf(f, "%s runs etcd without --initial-cluster-token", d->etcd_source);
        else
                fputs("etcd was not found on this node", f);
        fputs(")\n  # initial_cluster_token = \"\";\n", f);
        put_etcd_setting(f, d, "initial_advertise_peer_urls", &d->initial_advertise_peer_urls,
                         "--initial-advertise-peer-urls", "http://localhost:2380");
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
        const DiscoverValue *files[] = { &d->cert, &d->key, &d->cacert, &d->encryption_config };
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                for (size_t j = i + 1; j < ELEMENTSOF(files); j++)
                        if (files[i]->value && files[j]->value && !streq(files[i]->value, files[j]->value) &&
                            streq(base_name(files[i]->value), base_name(files[j]->value)))
                                return free_and_format(ret_error, "%s and %s have the same file name; a "
                                                       "credential needs its own name", files[i]->value,
                                                       files[j]->value), -ENOTUNIQ;
        /* A credential's name is printable ASCII without ':' (systemd's rule; nor '%', which systemd may take
         * for a specifier there), and a line of the unit file ends at a line break. */
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                const char *v = files[i]->value;

                for (const char *p = v; p && *p; p++)
                        if ((unsigned char) *p < 0x20 || *p == 0x7f ||
                            (p >= base_name(v) && ((unsigned char) *p > 0x7e || *p == ':' || *p == '%')))
                                return free_and_format(ret_error, "%s: %s cannot be handed to the service as a "
                                                       "credential: its file name must be printable ASCII "
                                                       "without ':' or '%%', its path without control characters",
                                                       files[i]->source, v), -EINVAL;
        }
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "# %s, from what this node runs (etcd-backupctl discover).\n"
                   "# The files of the configuration (etcd's client files, kube-apiserver's\n"
                   "# EncryptionConfiguration), handed to the service under their file names;\n"
                   "# the empty line drops the shipped kubeadm defaults.\n"
                   "[Service]\n"
                   "LoadCredential=\n", DROP_IN_PATH);
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                bool again = false;

                /* One file for two flags (a certificate and its key in one PEM file): handed over once. */
                for (size_t j = 0; j < i; j++)
                        again = again || (files[j]->value && files[i]->value &&
                                          streq(files[i]->value, files[j]->value));
                if (!files[i]->value || again)
                        continue;
                fprintf(f, "# %s\nLoadCredential=%s:", files[i]->source, base_name(files[i]->value));
                /* systemd expands specifiers in the path: "%%" is a '%'. */
                for (const char *p = files[i]->value; *p; p++) {
                        if (*p == '%')
                                fputc('%', f);
                        fputc(*p, f);
                }
                fputc('\n', f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

/* A file --write writes: its directory, reached from the root (--root, or
 * /) one component at a time and made (0755) where missing, without
 * following a symbolic link below --root (a user who may write in the
 * image being prepared could otherwise send root's writes anywhere); then
 * the file's text under a temporary name of its own in that directory
 * (O_EXCL: nothing planted there is reused), renamed into place once every
 * file is ready. */
typedef struct Target {
        char *shown;            /* root + path, for messages */
        char *path;             /* path, cut into its components */
        int dir_fd;
        const char *name;       /* in dir_fd, within path */
        char tmp[64];           /* the temporary name while it exists */
} Target;

static void target_done(Target *t) {
        if (t->tmp[0])
                (void) unlinkat(t->dir_fd, t->tmp, 0);
        t->dir_fd = safe_close(t->dir_fd);
        free(t->shown);
        free(t->path);
        *t = (Target) { .dir_fd = -EBADF };
}

static int target_open(Target *t, const char *root, const char *path, char **ret_error) {
        _cleanup_free_ char *walked = NULL;
        char *component, *slash;
        int fd, r;

        *t = (Target) { .dir_fd = -EBADF };
        t->shown = root ? path_join(root, path) : strdup(path);
        t->path = strdup(path);
        walked = strdup(root ? root : "/");
        if (!t->shown || !t->path || !walked)
                return -ENOMEM;
        /* --root itself is the operator's to choose, and made when missing. */
        if (root && (r = mkdir_p(root, 0755)) < 0)
                return asprintf(ret_error, "cannot create %s: %s", root, strerror(-r)), r;
        t->dir_fd = open(walked, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t->dir_fd < 0)
                return r = -errno, asprintf(ret_error, "cannot open %s: %m", walked), r;
        for (component = t->path; (slash = strchr(component, '/')); component = slash + 1) {
                _cleanup_free_ char *next_walked = NULL;

                if (slash == component)
                        continue;
                *slash = '\0';
                next_walked = path_join(walked, component);
                if (!next_walked)
                        return -ENOMEM;
                if (streq(component, ".") || streq(component, ".."))
                        return asprintf(ret_error, "%s: a path with . or .. in it is refused", t->shown), -EINVAL;
                fd = openat(t->dir_fd, component, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (root ? O_NOFOLLOW : 0));
                if (fd < 0 && errno == ENOENT) {
                        if (mkdirat(t->dir_fd, component, 0755) < 0 && errno != EEXIST)
                                return r = -errno, asprintf(ret_error, "cannot create %s: %m", next_walked), r;
                        (void) fsync(t->dir_fd);
                        fd = openat(t->dir_fd, component, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (root ? O_NOFOLLOW : 0));
                }
                if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && root) {
                        struct stat st;
                        int saved = errno;
                        if (fstatat(t->dir_fd, component, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode))
                                return asprintf(ret_error, "%s is a symbolic link; below --root %s none is followed",
                                                next_walked, root), -ELOOP;
                        errno = saved;
                }
                if (fd < 0)
                        return r = -errno, asprintf(ret_error, "cannot open %s: %m", next_walked), r;
                safe_close(t->dir_fd);
                t->dir_fd = fd;
                free(walked);
                walked = TAKE_PTR(next_walked);
        }
        t->name = component;
        return 0;
}

#define TARGET_READ_MAX (1024 * 1024)

/* The target's text (NUL-terminated, *ret_len bytes) when it is a regular
 * file of at most TARGET_READ_MAX bytes: 1; another kind of file or a larger
 * one: 0 (*ret NULL); -errno. */
static int target_read(const Target *t, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        ssize_t k;

        *ret = NULL;
        fd = openat(t->dir_fd, t->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        text = malloc(TARGET_READ_MAX + 1);
        if (!text)
                return -ENOMEM;
        k = loop_read(fd, text, TARGET_READ_MAX + 1);
        if (k < 0)
                return (int) k;
        if (k > TARGET_READ_MAX)
                return 0;
        text[k] = '\0';
        *ret_len = (size_t) k;
        *ret = TAKE_PTR(text);
        return 1;
}

/* Whether the target holds the example configuration exactly as shipped
 * (1), something else (0), or -errno. */
static int target_is_shipped(const Target *t) {
        _cleanup_free_ char *text = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        unsigned int n = 0;
        size_t len = 0;
        int r;

        r = target_read(t, &text, &len);
        if (r <= 0)
                return r;
        if (EVP_Digest(text, len, md, &n, EVP_sha256(), NULL) != 1)
                return -EIO;
        return streq(hexencode(md, n, hex), SHIPPED_CONFIG_SHA256);
}

/* Whether the target holds text already: TARGET_HOLDS as a file discover
 * would have written it (ours, one link, 0644: the service's user reads
 * it); TARGET_HOLDS_TEXT with the same bytes but not so (a mode the service
 * cannot read, or one another user may still change: replaced without
 * --force, as nothing of it is lost); TARGET_DIFFERS. */
typedef enum { TARGET_DIFFERS, TARGET_HOLDS, TARGET_HOLDS_TEXT } TargetHolds;
static TargetHolds target_holds(const Target *t, const char *text) {
        _cleanup_free_ char *old = NULL;
        struct stat st;
        size_t len = 0;

        if (fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
            target_read(t, &old, &len) <= 0 || len != strlen(text) || memcmp(old, text, len) != 0)
                return TARGET_DIFFERS;
        return st.st_uid == geteuid() && (st.st_mode & 07777) == 0644 && st.st_nlink == 1 ? TARGET_HOLDS :
                                                                                         TARGET_HOLDS_TEXT;
}

/* The groups of the configuration text old other than etcd and restore (the
 * ones discover writes itself), at the start of a line as "name: {" or
 * "name = {", whose text (to the first "};" line) new does not hold as it
 * is, as a list "a, b" (caller frees; "" when none). NULL: no memory. */
static char *changed_groups(const char *old, const char *new) {
        char *list = strdup("");

        for (const char *line = old; list && *line;) {
                const char *end = strchrnul(line, '\n');
                size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-*");
                const char *after = line + n + strspn(line + n, " \t"), *close;

                if (n > 0 && (*after == ':' || *after == '=') && after[1 + strspn(after + 1, " \t")] == '{' &&
                    !(n == 4 && strncmp(line, "etcd", 4) == 0) && !(n == 7 && strncmp(line, "restore", 7) == 0)) {
                        _cleanup_free_ char *block = NULL;
                        close = strstr(line, "\n};");
                        block = close ? strndup(line, (size_t) (close - line) + 4) : NULL;
                        if (!block || !strstr(new, block)) {
                                char *grown = NULL;
                                if (asprintf(&grown, "%s%s%.*s", list, *list ? ", " : "", (int) n, line) < 0)
                                        grown = NULL;
                                free(list);
                                list = grown;
                        }
                }
                line = *end ? end + 1 : end;
        }
        return list;
}

/* Whether two settings hold the same value (groups, lists and arrays
 * element by element, in order). */
static bool setting_equal(const config_setting_t *a, const config_setting_t *b) {
        int type;

        if (!a || !b || (type = config_setting_type(a)) != config_setting_type(b))
                return false;
        switch (type) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return config_setting_get_int64(a) == config_setting_get_int64(b);
        case CONFIG_TYPE_FLOAT:
                return config_setting_get_float(a) == config_setting_get_float(b);
        case CONFIG_TYPE_BOOL:
                return config_setting_get_bool(a) == config_setting_get_bool(b);
        case CONFIG_TYPE_STRING:
                return streq(config_setting_get_string(a), config_setting_get_string(b));
        default:
                if (config_setting_length(a) != config_setting_length(b))
                        return false;
                for (int i = 0; i < config_setting_length(a); i++) {
                        const config_setting_t *x = config_setting_get_elem(a, (unsigned) i);
                        const config_setting_t *y = type == CONFIG_TYPE_GROUP ?
                                config_setting_get_member(b, config_setting_name(x)) :
                                config_setting_get_elem(b, (unsigned) i);
                        if (!setting_equal(x, y))
                                return false;
                }
                return true;
        }
}

/* Appends to *list, as ", etcd.timeout", the keys of group name in a that b
 * does not set the same (missing_only: that b does not set at all); *list
 * NULL when out of memory. */
static void append_keys(char **list, const config_t *a, const config_t *b, const char *name, bool missing_only) {
        const config_setting_t *ag = config_lookup(a, name), *bg = config_lookup(b, name);

        for (int i = 0; *list && ag && config_setting_is_group(ag) && i < config_setting_length(ag); i++) {
                const config_setting_t *s = config_setting_get_elem(ag, (unsigned) i),
                                       *t = bg ? config_setting_get_member(bg, config_setting_name(s)) : NULL;

                if (missing_only ? !t : !setting_equal(s, t))
                        (void) free_and_format(list, "%s%s%s.%s", *list, **list ? ", " : "", name,
                                               config_setting_name(s));
        }
}

/* The keys of the groups discover writes itself (etcd, restore) that old
 * sets and new does not set the same, as "etcd.timeout, restore.etcdutl",
 * and with added also those new sets and old does not (caller frees; ""
 * when none, or when old is not a configuration libconfig reads, or
 * @includes one). NULL: no memory. */
static char *changed_keys(const char *old, const char *new, bool added) {
        static const char *const groups[] = { "etcd", "restore" };
        config_t a, b;
        char *list = strdup("");

        /* libconfig would read an @include'd file itself (the loader refuses them). */
        if (!list || strstr(old, "@include"))
                return list;
        config_init(&a);
        config_init(&b);
        if (config_read_string(&a, old) == CONFIG_TRUE && config_read_string(&b, new) == CONFIG_TRUE)
                for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                        append_keys(&list, &a, &b, groups[g], false);
                        if (added)
                                append_keys(&list, &b, &a, groups[g], true);
                }
        config_destroy(&a);
        config_destroy(&b);
        return list;
}

/* The file the target holds, kept beside it under <name>.pre-discover-<ts>
 * (a hard link: the same bytes, owner and mode) before --force replaces it;
 * a name taken (a run in the same second) gets ".1", ".2", … after it. Its
 * name in *ret_kept (caller frees; the last one tried on failure). 0 or
 * -errno. */
static int target_keep(const Target *t, const char *ts, char **ret_kept) {
        for (unsigned i = 0;; i++) {
                _cleanup_free_ char *kept = NULL;
                int r = 0;

                if ((i == 0 ? asprintf(&kept, "%s.pre-discover-%s", t->name, ts)
                            : asprintf(&kept, "%s.pre-discover-%s.%u", t->name, ts, i)) < 0)
                        return -ENOMEM;
                if (linkat(t->dir_fd, t->name, t->dir_fd, kept, 0) < 0)
                        r = -errno;
                if (r == -EEXIST && i < 99)
                        continue;
                *ret_kept = TAKE_PTR(kept);
                return r;
        }
}

/* name, a file in the target's directory, as messages show it. */
static char *target_sibling(const Target *t, const char *name) {
        char *s = NULL;

        if (asprintf(&s, "%.*s%s", (int) (path_basename(t->shown) - t->shown), t->shown, name) < 0)
                return NULL;
        return s;
}

static bool target_exists(const Target *t) {
        struct stat st;

        return fstatat(t->dir_fd, t->name, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT;
}

/* The text in a new temporary file beside the target, 0644, synced. */
static int target_stage(Target *t, const char *text) {
        _cleanup_close_ int fd = -EBADF;
        uint64_t id;
        int r;

        if (getrandom(&id, sizeof id, 0) != sizeof id)
                return -errno;
        snprintf(t->tmp, sizeof t->tmp, ".%.32s.%016" PRIx64, t->name, id);
        fd = openat(t->dir_fd, t->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
                r = -errno;
                t->tmp[0] = '\0';
                return r;
        }
        r = loop_write(fd, text, strlen(text));
        if (r >= 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
                r = -errno;
        return r;
}

/* The staged file renamed into place (*ret_renamed), then its directory
 * synced. */
static int target_commit(Target *t, bool *ret_renamed) {
        *ret_renamed = false;
        if (renameat(t->dir_fd, t->tmp, t->dir_fd, t->name) < 0)
                return -errno;
        t->tmp[0] = '\0';
        *ret_renamed = true;
        return fsync(t->dir_fd) < 0 ? -errno : 0;
}

/* A replaced target put back as it was (its kept copy renamed back, or, when
 * there was none, the new file removed). */
static int target_undo(Target *t, char **kept) {
        if (*kept ? renameat(t->dir_fd, *kept, t->dir_fd, t->name) < 0 : unlinkat(t->dir_fd, t->name, 0) < 0)
                return -errno;
        *kept = mfree(*kept);
        return fsync(t->dir_fd) < 0 ? -errno : 0;
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

static void json_value(json_object *o, const char *key, const DiscoverValue *v) {
        json_object *j = json_object_new_object();

        if (!j)
                return;
        json_object_object_add(j, "value", v->value ? json_object_new_string(v->value) : NULL);
        json_object_object_add(j, "source", v->source ? json_object_new_string(v->source) : NULL);
        json_object_object_add(o, key, j);
}

/* discover --json: what was found, each value with its source, and the two
 * files' texts. */
static int print_json(const Discovery *d, const char *config_text, const char *drop_in_text) {
        json_object *o = json_object_new_object(), *etcd = json_object_new_object(),
                    *restore = json_object_new_object(), *eps = json_object_new_array();

        if (!o || !etcd || !restore || !eps) {
                json_object_put(o);
                json_object_put(etcd);
                json_object_put(restore);
                json_object_put(eps);
                fprintf(stderr, "etcd-backupctl: discover: out of memory\n");
                return EXIT_FAILURE;
        }
        for (char **e = d->endpoints; e && *e; e++)
                json_object_array_add(eps, json_object_new_string(*e));
        json_object_object_add(etcd, "endpoints", eps);
        json_value(etcd, "etcd_servers", &d->etcd_servers);
        if (d->etcd_servers_overrides.value)
                json_value(etcd, "etcd_servers_overrides", &d->etcd_servers_overrides);
        json_value(etcd, "cacert", &d->cacert);
        json_value(etcd, "cert", &d->cert);
        json_value(etcd, "key", &d->key);
        if (d->encryption_config.value || d->encryption_config_error) {
                struct json_object *k = json_object_new_object();

                if (k) {
                        if (d->encryption_config.value)
                                json_value(k, "encryption_config", &d->encryption_config);
                        else
                                json_object_object_add(k, "encryption_config_error",
                                                       json_object_new_string(d->encryption_config_error));
                        json_object_object_add(o, "kubernetes", k);
                }
        }
        json_object_object_add(restore, "mode", json_object_new_string(restore_mode_to_string(
                                       d->etcd_source ? d->mode : RESTORE_MODE_AUTO)));
        if (d->manifests_dir)
                json_object_object_add(restore, "manifests_dir", json_object_new_string(d->manifests_dir));
        if (d->etcd_unit)
                json_object_object_add(restore, "etcd_unit", json_object_new_string(d->etcd_unit));
        if (d->apiserver_unit)
                json_object_object_add(restore, "apiserver_unit", json_object_new_string(d->apiserver_unit));
        json_value(restore, "data_dir", &d->data_dir);
        json_value(restore, "name", &d->name);
        json_value(restore, "initial_cluster", &d->initial_cluster);
        json_value(restore, "initial_cluster_token", &d->initial_cluster_token);
        json_value(restore, "initial_advertise_peer_urls", &d->initial_advertise_peer_urls);
        json_object_object_add(o, "etcd", etcd);
        json_object_object_add(o, "restore", restore);
        json_object_object_add(o, "config", json_object_new_string(config_text));
        json_object_object_add(o, "drop_in", json_object_new_string(drop_in_text));
        (void) json_print("discover", o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        json_object_put(o);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Why discover --write stops at an existing file: with the configuration's
 * new text, what --force would change in it (keys of etcd and restore,
 * other groups), when libconfig reads the file. */
static void refuse_replace(const Target *t, const char *new) {
        _cleanup_free_ char *old = NULL, *keys = NULL, *groups = NULL;
        size_t len = 0;

        fprintf(stderr, "etcd-backupctl: %s exists; --force replaces it (keeping a copy beside it)", t->shown);
        if (new && target_read(t, &old, &len) > 0) {
                keys = changed_keys(old, new, true);
                groups = changed_groups(old, new);
        }
        if (keys && *keys)
                fprintf(stderr, ", setting %s as found on this node or shipped", keys);
        if (groups && *groups)
                fprintf(stderr, "%s the group%s %s as shipped", keys && *keys ? ", and" : ", setting",
                        strchr(groups, ',') ? "s" : "", groups);
        fputs("\n", stderr);
}

static int run_write(const char *config_text, const char *drop_in_text, const char *config_path,
                     const char *root, bool force, bool json) {
        Target targets[2] = { { .dir_fd = -EBADF }, { .dir_fd = -EBADF } };
        const char *paths[2] = { config_path, DROP_IN_PATH }, *texts[2] = { config_text, drop_in_text };
        char *kept[2] = {}, ts[FORMAT_COMPACT_MAX];
        _cleanup_free_ char *replaced_groups = NULL, *replaced_keys = NULL;
        bool unchanged[2] = {}, committed[2] = {}, shipped[2] = {};
        TargetHolds holds[2] = {};
        int r = EXIT_FAILURE;

        if (config_path[0] != '/') {
                fprintf(stderr, "etcd-backupctl: discover --write: -c %s is not an absolute path\n", config_path);
                return EXIT_USAGE;
        }
        format_compact_utc(ts, sizeof ts, now_usec(CLOCK_REALTIME));
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                _cleanup_free_ char *error = NULL;
                int k = target_open(&targets[i], root, paths[i], &error);

                if (k < 0) {
                        fprintf(stderr, "etcd-backupctl: discover --write: %s\n", error ? error : strerror(-k));
                        goto finish;
                }
                holds[i] = target_holds(&targets[i], texts[i]);
                unchanged[i] = holds[i] == TARGET_HOLDS;
                if (holds[i] == TARGET_DIFFERS && !force && target_exists(&targets[i]) &&
                    (i != 0 || target_is_shipped(&targets[i]) <= 0)) {
                        refuse_replace(&targets[i], i == 0 ? texts[i] : NULL);
                        goto finish;
                }
        }
        /* Both files ready before either is replaced: a failure leaves the old pair. */
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                int k = unchanged[i] ? 0 : target_stage(&targets[i], texts[i]);
                if (k < 0) {
                        fprintf(stderr, "etcd-backupctl: cannot write %s: %s\n", targets[i].shown, strerror(-k));
                        goto finish;
                }
        }
        /* What --force replaces is kept (the example as shipped, and the same text at another mode, only until
         * both files are in place: a failure puts it back from there). */
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                _cleanup_free_ char *old = NULL;
                size_t len = 0;
                int k;

                if (unchanged[i] || !target_exists(&targets[i]))
                        continue;
                shipped[i] = i == 0 && target_is_shipped(&targets[i]) > 0;
                k = target_keep(&targets[i], ts, &kept[i]);
                if (k < 0) {
                        _cleanup_free_ char *shown = kept[i] ? target_sibling(&targets[i], kept[i]) : NULL;
                        fprintf(stderr, "etcd-backupctl: cannot keep a copy of %s as %s before replacing it: %s\n",
                                targets[i].shown, shown ? shown : "?", strerror(-k));
                        kept[i] = mfree(kept[i]);
                        goto finish;
                }
                if (i == 0 && !shipped[i] && target_read(&targets[i], &old, &len) > 0 &&
                    (!(replaced_groups = changed_groups(old, texts[0])) ||
                     !(replaced_keys = changed_keys(old, texts[0], false)))) {
                        fprintf(stderr, "etcd-backupctl: discover: out of memory\n");
                        goto finish;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                int k = unchanged[i] ? 0 : target_commit(&targets[i], &committed[i]);
                if (k < 0) {
                        fprintf(stderr, "etcd-backupctl: cannot %s %s: %s\n", committed[i] ? "sync the directory of" :
                                "write", targets[i].shown, strerror(-k));
                        /* A failure leaves the old pair: what was replaced is put back. */
                        for (size_t j = 0; j <= i; j++) {
                                _cleanup_free_ char *shown = kept[j] ? target_sibling(&targets[j], kept[j]) : NULL;
                                if (!committed[j])
                                        continue;
                                k = target_undo(&targets[j], &kept[j]);
                                if (k < 0)
                                        fprintf(stderr, "etcd-backupctl: cannot put %s back as it was: %s%s%s\n",
                                                targets[j].shown, strerror(-k), kept[j] ? "; it is kept as " : "",
                                                kept[j] ? shown : "");
                                else
                                        fprintf(stderr, "etcd-backupctl: put %s back as it was\n", targets[j].shown);
                        }
                        goto finish;
                }
        }
        r = EXIT_SUCCESS;
        /* The copy of the example as shipped, or of the same text at another mode, was only for a failure. */
        for (size_t i = 0; i < ELEMENTSOF(targets); i++)
                if ((shipped[i] || holds[i] == TARGET_HOLDS_TEXT) && kept[i]) {
                        (void) unlinkat(targets[i].dir_fd, kept[i], 0);
                        kept[i] = mfree(kept[i]);
                }
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                _cleanup_free_ char *shown = NULL;

                if (!kept[i])
                        continue;
                shown = target_sibling(&targets[i], kept[i]);
                fprintf(stderr, "etcd-backupctl: kept the replaced %s as %s", targets[i].shown, shown ? shown : kept[i]);
                if (i == 0 && replaced_groups && *replaced_groups)
                        fprintf(stderr, "; what it set in %s is now the shipped defaults", replaced_groups);
                if (i == 0 && replaced_keys && *replaced_keys)
                        fprintf(stderr, "; its %s %s now as found on this node or shipped", replaced_keys,
                                strchr(replaced_keys, ',') ? "are" : "is");
                if (i == 0 && ((replaced_groups && *replaced_groups) || (replaced_keys && *replaced_keys)))
                        fputs(": copy back what should stay", stderr);
                fputs("\n", stderr);
        }
        if (json) {
                json_object *o = json_object_new_object(), *a = json_object_new_array(),
                            *u = json_object_new_array(), *kp = json_object_new_array();

                if (!o || !a || !u || !kp) {
                        json_object_put(o);
                        json_object_put(a);
                        json_object_put(u);
                        json_object_put(kp);
                        fprintf(stderr, "etcd-backupctl: discover: out of memory (the files are written)\n");
                        r = EXIT_FAILURE;
                        goto finish;
                }
                for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                        _cleanup_free_ char *k = kept[i] ? target_sibling(&targets[i], kept[i]) : NULL;
                        json_object_array_add(unchanged[i] ? u : a, json_object_new_string(targets[i].shown));
                        if (k)
                                json_object_array_add(kp, json_object_new_string(k));
                }
                json_object_object_add(o, "wrote", a);
                json_object_object_add(o, "unchanged", u);
                json_object_object_add(o, "kept", kp);
                if (json_print("discover", o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
                        r = EXIT_FAILURE;
                json_object_put(o);
                if (fflush(stdout) != 0)
                        r = EXIT_FAILURE;
                goto finish;
        }
        if (unchanged[0] && unchanged[1]) {
                printf("Unchanged: %s\n  and %s already hold this configuration.\n", targets[0].shown,
                       targets[1].shown);
                goto finish;
        }
        for (size_t i = 0; i < ELEMENTSOF(targets); i++)
                printf("%s %s\n", unchanged[i] ? "Unchanged:" : "Wrote", targets[i].shown);
        printf("Enable the service with:\n");
        if (root)
                printf("  systemctl --root=%s enable etcd-backupd.socket etcd-backupd.service\n", root);
        else
                printf("  systemctl daemon-reload\n"
                       "  systemctl enable --now etcd-backupd.socket etcd-backupd.service\n");
finish:
        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                /* Not replaced: no copy to keep. */
                if (kept[i] && !committed[i])
                        (void) unlinkat(targets[i].dir_fd, kept[i], 0);
                free(kept[i]);
                target_done(&targets[i]);
        }
        return r;
}

int ctl_discover_main(int argc, char **argv, const char *config_path, bool json) {
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
        _cleanup_free_ char *error = NULL, *config_text = NULL, *drop_in_text = NULL, *cwd = NULL,
                            *manifests_dir = NULL;
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

        /* The configuration names it as an absolute path, which the restore finds from anywhere. */
        if (o.manifests_dir && o.manifests_dir[0] != '/') {
                cwd = get_current_dir_name();
                if (!cwd) {
                        fprintf(stderr, "etcd-backupctl: discover: cannot make --manifests-dir %s absolute: %m\n",
                                o.manifests_dir);
                        return EXIT_FAILURE;
                }
                manifests_dir = path_join(cwd, o.manifests_dir);
                if (!manifests_dir) {
                        fprintf(stderr, "etcd-backupctl: discover: out of memory\n");
                        return EXIT_FAILURE;
                }
                o.manifests_dir = manifests_dir;
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
                                 root, force, json);
        if (json)
                return print_json(d, config_text, drop_in_text);
        fputs(drop_in ? drop_in_text : config_text, stdout);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
