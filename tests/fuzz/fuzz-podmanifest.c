/* SPDX-License-Identifier: MIT */
/*
 * fuzz-podmanifest.c — libFuzzer target for the static-pod manifest reader:
 * any bytes either parse into a pod or fail with a message; for a parsed pod
 * every flag is looked up, and every flag value that is a path is mapped to
 * the node, whose answer must be an absolute path; every env entry is
 * NAME=VALUE; etcd's settings are read from it (with its env) or refused
 * with a message.
 */

#include <stdint.h>
#include <stdlib.h>

#include "restore/manifest.h"
#include "restore/member.h"
#include <string.h>
#include "util/str.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(manifest_freep) Manifest *m = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        r = manifest_parse("fuzz.yaml", data, size, &m, &error);
        if (r < 0) {
                if (r != -ENOMEM && !error)
                        abort();
                return 0;
        }
        if (!m || (m->argv ? m->argv[m->argc] != NULL : m->argc != 0))
                abort();
        for (size_t i = 0; i < m->n_flags; i++) {
                _cleanup_strv_free_ char **all = NULL;
                _cleanup_free_ char *host = NULL;
                const char *value = manifest_flag(m, m->flags[i].name, NULL);

                if (!value || manifest_flag_all(m, m->flags[i].name, &all) < 1 ||
                    !streq(value, all[strv_length(all) - 1]))
                        abort();
                if (value[0] == '/' && manifest_host_path(m, value, &host, NULL) == 0 && host[0] != '/')
                        abort();
        }
        for (char **e = m->env; e && *e; e++)
                if (!strchr(*e, '=') || **e == '=')
                        abort();
        {
                _cleanup_(member_done) EtcdMember member = {};
                _cleanup_free_ char *member_error = NULL;

                r = member_from_manifest(m, &member, &member_error);
                if ((r < 0 && r != -ENOMEM && !member_error) || (r == 0 && member.data_dir.value[0] != '/'))
                        abort();
        }
        for (size_t i = 0; i < m->n_mounts; i++) {
                _cleanup_free_ char *host = NULL;

                if (manifest_host_path(m, m->mounts[i].mount_path, &host, NULL) == 0 && host[0] != '/')
                        abort();
        }
        return 0;
}
