/* SPDX-License-Identifier: MIT */
/*
 * fuzz-discover.c — libFuzzer target for `discover` and the systemd-unit
 * side of the manifest reader. The input is up to four parts, each ended by
 * a line "#--": kube-apiserver.yaml, etcd.yaml (an empty part: no such
 * file), then a unit's command line and its environment, one word or
 * KEY=VALUE per line. The two manifests are written into a directory made
 * for the run and read by discover_run() as on a node (systemd not asked);
 * the command line goes through member_from_command(), as an etcd.service's
 * would, and through manifest_from_argv() and the flag lookups with
 * kube-apiserver's names ('_' read as '-'). Checks: a refusal always
 * has a message, never a result; what is found is complete (https://
 * endpoints, every value with its source, node paths absolute); every flag
 * of a command line is found with its last value. The directory is under
 * $TMPDIR (else /tmp), removed at exit (not after a crash).
 */

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "restore/discover.h"
#include "restore/manifest.h"
#include "restore/member.h"
#include "util/io.h"
#include "util/str.h"
#include "fuzz.h"

#define PARTS 4

static char dir[4096];
static bool made = false;

static void remove_dir(void) {
        static const char *const files[] = { "kube-apiserver.yaml", "etcd.yaml" };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *p = path_join(dir, files[i]);

                if (p)
                        (void) unlink(p);
        }
        (void) rmdir(dir);
}

/* Write (or, for an empty part, remove) dir/name. */
static void put_file(const char *name, const uint8_t *data, size_t size) {
        _cleanup_free_ char *p = path_join(dir, name);
        int fd;

        require(p);
        (void) unlink(p);
        if (size == 0)
                return;
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        require(fd >= 0);
        require(loop_write(fd, data, size) >= 0);
        close(fd);
}

/* The lines of a part, NULL-terminated; NULL for none. */
static char **split_lines(const uint8_t *data, size_t size) {
        char **l = NULL;

        if (!data)
                return NULL;
        for (size_t start = 0, i = 0; i <= size; i++)
                if (i == size || data[i] == '\n') {
                        _cleanup_free_ char *line = strndup((const char *) data + start, i - start);

                        require(line);
                        if (i > start && strlen(line) == i - start)
                                require(strv_extend(&l, line) >= 0);
                        start = i + 1;
                }
        return l;
}

static void check_value(const DiscoverValue *v, bool path) {
        if (!v->value)
                return;
        require(v->source && v->source[0]);
        if (path)
                require(v->value[0] == '/');
}

static void check_discover(void) {
        const DiscoverOptions o = { .manifests_dir = dir, .no_bus = true };
        _cleanup_(discovery_freep) Discovery *d = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = discover_run(&o, &d, &error);
        if (r < 0) {
                require(!d && (r == -ENOMEM || (error && error[0])));
                return;
        }
        require(d && d->endpoints && d->etcd_servers.value && d->mode == RESTORE_MODE_STATIC_POD);
        for (char **e = d->endpoints; *e; e++)
                require(startswith(*e, "https://"));
        check_value(&d->etcd_servers, false);
        check_value(&d->cacert, true);
        check_value(&d->cert, true);
        check_value(&d->key, true);
        require(!d->cert.value == !d->key.value);
        check_value(&d->data_dir, true);
        check_value(&d->name, false);
        check_value(&d->initial_cluster, false);
        check_value(&d->initial_cluster_token, false);
        check_value(&d->initial_advertise_peer_urls, false);
}

static void check_command(char **argv, char **env) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_(member_done) EtcdMember member = {};
        _cleanup_free_ char *error = NULL;
        int r;

        if (!argv)
                return;
        r = member_from_command(argv, env, "etcd.service", &member, &error);
        if (r < 0)
                require(r == -ENOMEM || (error && error[0]));
        else
                require(member.data_dir.value && member.data_dir.value[0] == '/' && member.data_dir.source);

        r = manifest_from_argv("kube-apiserver.service", argv, &m);
        if (r < 0) {
                require(!m);
                return;
        }
        require(m && m->argc == strv_length(argv) && !m->argv[m->argc]);
        manifest_kubernetes_flag_names(m);
        for (size_t i = 0; i < m->n_flags; i++) {
                _cleanup_strv_free_ char **all = NULL;
                /* "--" and the name as it is: one that became "-data-dir" ("--_data_dir") is not --data-dir. */
                _cleanup_free_ char *flag = NULL;
                const char *value;

                require(asprintf(&flag, "--%s", m->flags[i].name) > 0);
                value = manifest_flag(m, flag, NULL);
                require(value && manifest_flag_all(m, flag, &all) >= 1);
                require(streq(value, all[strv_length(all) - 1]));
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char end[] = "#--\n";
        const uint8_t *part[PARTS] = {};
        size_t part_size[PARTS] = {}, n = 0, start = 0;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;

        if (!made) {
                const char *tmp = getenv("TMPDIR");

                snprintf(dir, sizeof dir, "%s/fuzz-discover.XXXXXX", tmp && *tmp ? tmp : "/tmp");
                require(mkdtemp(dir));
                atexit(remove_dir);
                made = true;
        }
        /* A part ends at a line "#--" (at the input's start, or after a newline). */
        for (size_t i = 0; i + sizeof end - 1 <= size && n < PARTS; i++)
                if ((i == 0 || data[i - 1] == '\n') && memcmp(data + i, end, sizeof end - 1) == 0) {
                        part[n] = data + start;
                        part_size[n++] = i - start;
                        start = i + sizeof end - 1;
                        i = start - 1;
                }
        if (n < PARTS) {
                part[n] = data + start;
                part_size[n++] = size - start;
        }

        put_file("kube-apiserver.yaml", part[0], part_size[0]);
        put_file("etcd.yaml", part[1], part_size[1]);
        check_discover();

        argv = split_lines(part[2], part_size[2]);
        env = split_lines(part[3], part_size[3]);
        check_command(argv, env);
        return 0;
}
