/* SPDX-License-Identifier: MIT */
/*
 * member.c — what this node's etcd runs with, and the configuration as
 * overrides of it (member.h).
 */

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "restore/member.h"
#include "util/macro.h"
#include "util/str.h"

/* The settings read, by etcd's flag name and the field. */
static const struct {
        const char *flag;
        size_t offset;
} keys[] = {
        { "name", offsetof(EtcdMember, name) },
        { "data-dir", offsetof(EtcdMember, data_dir) },
        { "initial-advertise-peer-urls", offsetof(EtcdMember, initial_advertise_peer_urls) },
        { "initial-cluster", offsetof(EtcdMember, initial_cluster) },
        { "initial-cluster-token", offsetof(EtcdMember, initial_cluster_token) },
        { "listen-client-urls", offsetof(EtcdMember, listen_client_urls) },
        { "trusted-ca-file", offsetof(EtcdMember, trusted_ca_file) },
        { "cert-file", offsetof(EtcdMember, cert_file) },
        { "key-file", offsetof(EtcdMember, key_file) },
        { "wal-dir", offsetof(EtcdMember, wal_dir) },
};

/* "--data-dir" → "ETCD_DATA_DIR", etcd's variable for a flag. */
static char *etcd_env_name(const char *flag) {
        char *s;

        while (*flag == '-')
                flag++;
        if (asprintf(&s, "ETCD_%s", flag) < 0)
                return NULL;
        for (char *p = s; *p; p++)
                *p = *p == '-' ? '_' : (char) (*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
        return s;
}

int member_setting(const Manifest *m, char *const *env, const char *flag, const char **ret_value,
                   unsigned *ret_line, char **ret_var) {
        const char *v = manifest_flag(m, flag, ret_line), *from;
        _cleanup_free_ char *var = NULL;

        if (!v && env) {
                var = etcd_env_name(flag);
                if (!var)
                        return -ENOMEM;
                v = strv_env_get(env, var);
                /* etcd passes over an empty variable. */
                if (v && !*v)
                        v = NULL;
                if (!v && strv_contains(m->env_from, var)) {
                        if (ret_var)
                                *ret_var = TAKE_PTR(var);
                        return -ENXIO;
                }
                if (!v)
                        var = mfree(var);
        }
        /* A value from env is known (one that uses a valueFrom variable is not in env). */
        from = var ? NULL : manifest_flag_unresolved(m, flag, false);
        if (from) {
                if (ret_var) {
                        *ret_var = strdup(from);
                        if (!*ret_var)
                                return -ENOMEM;
                }
                return -ENXIO;
        }
        *ret_value = v;
        if (ret_var)
                *ret_var = TAKE_PTR(var);
        return 0;
}

int member_setting_error(const Manifest *m, const char *program, const char *flag, int r, const char *var,
                         char **ret_error) {
        while (*flag == '-')
                flag++;
        if (r == -ENXIO && !var)
                return -ENOMEM;
        if (r == -ENXIO)
                return free_and_format(ret_error, "%s: %s's --%s depends on env %s, which the pod sets by valueFrom "
                                       "(a field, a secret or a configMap), not read here; give it a value in the "
                                       "manifest", m->file, program, flag, var), -EBADMSG;
        return r;
}

int member_config_file(const Manifest *m, char *const *env, char **ret_error) {
        _cleanup_free_ char *var = NULL;
        const char *cf = NULL;
        int r;

        r = member_setting(m, env, "config-file", &cf, NULL, &var);
        if (r < 0)
                return member_setting_error(m, "etcd", "config-file", r, var, ret_error);
        if (cf && *cf)
                return free_and_format(ret_error, "%s: etcd reads its settings from the configuration file %s (%s), "
                                       "and then ignores its flags and ETCD_ variables; that file is not read here",
                                       m->file, cf, var ? var : "--config-file"), -EOPNOTSUPP;
        return 0;
}

static MemberValue *field(EtcdMember *m, size_t i) {
        return (MemberValue *) ((char *) m + keys[i].offset);
}

static void value_done(MemberValue *v) {
        v->value = mfree(v->value);
        v->source = mfree(v->source);
        v->from_etcd = false;
}

void member_done(EtcdMember *m) {
        if (!m)
                return;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                value_done(field(m, i));
        m->mount_inside = mfree(m->mount_inside);
}

int member_value_set(MemberValue *v, const char *value, bool from_etcd, const char *fmt, ...) {
        char *s = NULL, *copy;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        copy = strdup(value);
        if (!copy) {
                free(s);
                return -ENOMEM;
        }
        value_done(v);
        *v = (MemberValue) { .value = copy, .source = s, .from_etcd = from_etcd };
        return 0;
}

char *member_default_initial_cluster(const char *name, const char *peer_urls) {
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        FILE *f;

        if (streq(name, "default"))
                return strdup("default=http://localhost:2380");
        f = open_memstream(&out, &len);
        if (!f)
                return NULL;
        for (const char *p = peer_urls, *comma; *p; p = *comma ? comma + 1 : comma) {
                comma = strchrnul(p, ',');
                fprintf(f, "%s%s=%.*s", p == peer_urls ? "" : ",", name, (int) (comma - p), p);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(out);
}

/* etcd's defaults for what was not given. */
static int fill_defaults(EtcdMember *m) {
        int r = 0;

        if (!m->name.value)
                r = member_value_set(&m->name, "default", false, "etcd's default --name");
        if (r >= 0 && !m->initial_advertise_peer_urls.value)
                r = member_value_set(&m->initial_advertise_peer_urls, "http://localhost:2380", false,
                                     "etcd's default --initial-advertise-peer-urls");
        if (r >= 0 && !m->initial_cluster.value) {
                _cleanup_free_ char *c = member_default_initial_cluster(m->name.value,
                                                                        m->initial_advertise_peer_urls.value);
                if (!c)
                        return -ENOMEM;
                r = member_value_set(&m->initial_cluster, c, false, "etcd's default --initial-cluster (%s)",
                                     streq(m->name.value, "default") ? "with its default name" :
                                                                       "NAME=URL for each peer URL");
        }
        if (r >= 0 && !m->initial_cluster_token.value)
                r = member_value_set(&m->initial_cluster_token, "etcd-cluster", false,
                                     "etcd's default --initial-cluster-token");
        if (r >= 0 && !m->listen_client_urls.value)
                r = member_value_set(&m->listen_client_urls, "http://localhost:2379", false,
                                     "etcd's default --listen-client-urls");
        return r;
}

int member_from_manifest(const Manifest *man, EtcdMember *ret, char **ret_error) {
        _cleanup_(member_done) EtcdMember m = {};
        _cleanup_free_ char *host = NULL, *dd = NULL;
        const ManifestMount *mount = NULL, *inside;
        unsigned line = 0;
        int r;

        r = member_config_file(man, manifest_env(man), ret_error);
        if (r < 0)
                return r;
        /* The pod's env: ETCD_* as etcd reads them, a flag on the command winning over its variable. */
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *var = NULL;
                const char *v;

                r = member_setting(man, manifest_env(man), keys[i].flag, &v, &line, &var);
                if (r < 0)
                        return member_setting_error(man, "etcd", keys[i].flag, r, var, ret_error);
                if (!v)
                        continue;
                if (var)
                        r = member_value_set(field(&m, i), v, true, "%s: env %s", man->file, var);
                else
                        r = member_value_set(field(&m, i), v, true, "%s:%u: --%s", man->file, line, keys[i].flag);
                if (r < 0)
                        return r;
        }
        if (!m.data_dir.value || !*m.data_dir.value)
                return free_and_format(ret_error, "%s: the container's command has no --data-dir (program %s): "
                                       "not etcd's manifest, or etcd without flags", man->file,
                                       man->program ? man->program : "none"), -EBADMSG;
        /* "etcd.yaml:23: --data-dir=/var/lib/etcd", "etcd.yaml: env ETCD_DATA_DIR=/var/lib/etcd" */
        if (asprintf(&dd, "%s=%s", m.data_dir.source, m.data_dir.value) < 0)
                return -ENOMEM;
        r = manifest_host_path(man, m.data_dir.value, &host, &mount);
        if (r == -ENOMEM)
                return r;
        if (r == -EINVAL)
                return free_and_format(ret_error, "%s is not an absolute, clean path", dd), -EBADMSG;
        if (r == -ENOENT)
                return free_and_format(ret_error, "%s is on no volume of the pod: etcd's data would be inside the "
                                       "container", dd), -EBADMSG;
        if (r < 0)
                return free_and_format(ret_error, "%s is mounted from volume %s, which is not a hostPath volume of "
                                       "the pod", dd, mount && mount->name ? mount->name : "?"), -EBADMSG;
        inside = manifest_mount_inside(man, m.data_dir.value);
        if (inside && asprintf(&m.mount_inside, "%s: volume %s at %s", man->file,
                               inside->name ? inside->name : "?", inside->mount_path) < 0)
                return -ENOMEM;
        r = member_value_set(&m.data_dir, host, true, "%s, hostPath volume %s", dd,
                             mount && mount->name ? mount->name : "?");
        if (r >= 0)
                r = fill_defaults(&m);
        if (r < 0)
                return r;
        *ret = m;
        m = (EtcdMember) {};
        return 0;
}

int member_from_command(char *const *argv, char *const *env, const char *unit, EtcdMember *ret, char **ret_error) {
        _cleanup_(member_done) EtcdMember m = {};
        _cleanup_(manifest_freep) Manifest *man = NULL;
        int r;

        if (!argv || !argv[0])
                return free_and_format(ret_error, "%s: no ExecStart= command", unit), -EBADMSG;
        r = manifest_from_argv(unit, argv, &man);
        if (r == -E2BIG)
                return free_and_format(ret_error, "%s: ExecStart= has too many arguments", unit), -EBADMSG;
        if (r < 0)
                return r;
        r = member_config_file(man, env, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *var = NULL;
                const char *v;

                r = member_setting(man, env, keys[i].flag, &v, NULL, &var);
                if (r < 0)
                        return member_setting_error(man, "etcd", keys[i].flag, r, var, ret_error);
                if (!v)
                        continue;
                if (var)
                        r = member_value_set(field(&m, i), v, true, "%s: environment %s", unit, var);
                else
                        r = member_value_set(field(&m, i), v, true, "%s: ExecStart= --%s", unit, keys[i].flag);
                if (r < 0)
                        return r;
        }
        if (!m.data_dir.value || !*m.data_dir.value)
                return free_and_format(ret_error, "%s: etcd runs without a data dir (no --data-dir in ExecStart=, no "
                                       "ETCD_DATA_DIR in its environment): set one in the unit", unit), -EBADMSG;
        if (m.data_dir.value[0] != '/')
                return free_and_format(ret_error, "%s: the data dir %s is relative (%s): make it absolute in the unit",
                                       unit, m.data_dir.value, m.data_dir.source), -EBADMSG;
        r = fill_defaults(&m);
        if (r < 0)
                return r;
        *ret = m;
        m = (EtcdMember) {};
        return 0;
}

/* Paths equal once trailing slashes are dropped. */
static bool same_path(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);

        while (la > 1 && a[la - 1] == '/')
                la--;
        while (lb > 1 && b[lb - 1] == '/')
                lb--;
        return la == lb && strncmp(a, b, la) == 0;
}

/* Whether the comma-separated lists a and b hold the same items. */
static bool same_set(const char *a, const char *b) {
        for (int pass = 0; pass < 2; pass++) {
                const char *x = pass ? b : a, *y = pass ? a : b;
                for (const char *p = x; *p;) {
                        size_t n = strcspn(p, ",");
                        bool found = false;
                        for (const char *q = y; *q;) {
                                size_t k = strcspn(q, ",");
                                if (k == n && strncmp(p, q, n) == 0)
                                        found = true;
                                q += k + (q[k] == ',');
                        }
                        if (!found && n > 0)
                                return false;
                        p += n + (p[n] == ',');
                }
        }
        return true;
}

bool member_cluster_names(const char *initial_cluster, const char *name, const char *peer_urls) {
        _cleanup_free_ char *urls = NULL;
        size_t name_len = strlen(name), len = 0;

        urls = strdup("");
        if (!urls)
                return false;
        for (const char *p = initial_cluster; *p;) {
                size_t n = strcspn(p, ",");
                if (n > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
                        char *grown = realloc(urls, len + n + 2);
                        if (!grown)
                                return false;
                        urls = grown;
                        if (len > 0)
                                urls[len++] = ',';
                        memcpy(urls + len, p + name_len + 1, n - name_len - 1);
                        len += n - name_len - 1;
                        urls[len] = '\0';
                }
                p += n + (p[n] == ',');
        }
        return len > 0 && same_set(urls, peer_urls);
}

int member_apply_config(EtcdMember *m, const ConfigRestore *c, const char *config_path, char **ret_error) {
        const struct {
                const char *key;
                const char *value;
                MemberValue *v;
        } o[] = {
                { "name", c->name, &m->name },
                { "data_dir", c->data_dir, &m->data_dir },
                { "initial_advertise_peer_urls", c->initial_advertise_peer_urls, &m->initial_advertise_peer_urls },
                { "initial_cluster_token", c->initial_cluster_token, &m->initial_cluster_token },
                { "initial_cluster", c->initial_cluster, &m->initial_cluster },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(o); i++) {
                MemberValue *v = o[i].v;
                bool agree;

                if (!o[i].value)
                        continue;
                /* The token is the restore's own choice: a restored cluster
                 * must not take the old one's identity. */
                if (!v->from_etcd || v == &m->initial_cluster_token) {
                        r = member_value_set(v, o[i].value, false, "restore.%s in %s", o[i].key, config_path);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq(o[i].key, "data_dir"))
                        agree = same_path(o[i].value, v->value);
                else if (streq(o[i].key, "initial_cluster"))
                        /* Checked against the name and peer URLs decided above. */
                        agree = member_cluster_names(o[i].value, m->name.value, m->initial_advertise_peer_urls.value);
                else if (streq(o[i].key, "initial_advertise_peer_urls"))
                        agree = same_set(o[i].value, v->value);
                else
                        agree = streq(o[i].value, v->value);
                if (!agree) {
                        if (streq(o[i].key, "initial_cluster"))
                                return free_and_format(ret_error, "restore.initial_cluster = \"%s\" (%s) does not give "
                                                       "this member %s=%s, as etcd runs with (%s, %s)", o[i].value,
                                                       config_path, m->name.value,
                                                       m->initial_advertise_peer_urls.value, m->name.source,
                                                       m->initial_advertise_peer_urls.source), -EBADMSG;
                        return free_and_format(ret_error, "restore.%s = \"%s\" (%s) disagrees with what etcd runs "
                                               "with: \"%s\" (%s); remove restore.%s or make them agree", o[i].key,
                                               o[i].value, config_path, v->value, v->source, o[i].key), -EBADMSG;
                }
                if (streq(o[i].key, "initial_cluster")) {
                        /* A fuller list for the restore of several members. */
                        r = member_value_set(v, o[i].value, false, "restore.initial_cluster in %s", config_path);
                        if (r < 0)
                                return r;
                }
        }
        /* Whatever the source, this member must be in the cluster it restores. */
        if (!member_cluster_names(m->initial_cluster.value, m->name.value, m->initial_advertise_peer_urls.value))
                return free_and_format(ret_error, "the initial cluster \"%s\" (%s) does not give this member %s=%s "
                                       "(%s, %s)", m->initial_cluster.value, m->initial_cluster.source,
                                       m->name.value, m->initial_advertise_peer_urls.value, m->name.source,
                                       m->initial_advertise_peer_urls.source), -EBADMSG;
        return 0;
}
