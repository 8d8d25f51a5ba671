/* SPDX-License-Identifier: MIT */
/*
 * discover.c — etcd's endpoints and client certificates from kube-apiserver's
 * flags, the restore settings from etcd's flags, on a static-pod node and on
 * a systemd node. Each source is read into a Manifest (a pod's manifest, or
 * a unit's ExecStart= command line with its environment expanded as
 * systemd expands it), then every setting is looked up in every source that
 * has it: one answer is taken, two different answers are an error naming
 * both. Files are checked for existence and readability here, so that a
 * wrong path is reported against the flag that named it.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "restore/discover.h"
#include "restore/manifest.h"
#include "restore/member.h"
#include "restore/units.h"
#include "util/path.h"
#include "util/str.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_SERVICE "org.freedesktop.systemd1.Service"

/* One place a program's command line was read from. */
typedef struct Source {
        char *label;    /* "kube-apiserver.yaml", "etcd.service" */
        Manifest *m;
        bool pod;       /* paths are in-pod paths, mapped through hostPath volumes */
        char **env;     /* KEY=VALUE, systemd units only */
} Source;

/* Each D-Bus call discover makes; systemd answers at once. */
#define DISCOVER_BUS_CALL_TIMEOUT_USEC (5 * USEC_PER_SEC)

static void source_done(Source *s) {
        free(s->label);
        manifest_free(s->m);
        strv_free(s->env);
        *s = (Source) {};
}

static void value_done(DiscoverValue *v) {
        free(v->value);
        free(v->source);
        *v = (DiscoverValue) {};
}

Discovery *discovery_free(Discovery *d) {
        if (!d)
                return NULL;
        strv_free(d->endpoints);
        value_done(&d->etcd_servers);
        value_done(&d->etcd_servers_overrides);
        value_done(&d->cacert);
        value_done(&d->cert);
        value_done(&d->key);
        free(d->etcd_source);
        free(d->manifests_dir);
        free(d->etcd_unit);
        free(d->apiserver_unit);
        value_done(&d->data_dir);
        value_done(&d->name);
        value_done(&d->initial_cluster);
        value_done(&d->initial_cluster_token);
        value_done(&d->initial_advertise_peer_urls);
        value_done(&d->encryption_config);
        free(d->encryption_config_error);
        free(d);
        return NULL;
}

/* ---- systemd units ----------------------------------------------------------------- */

/* The unit's first ExecStart= command line (expanded with its environment) and its Environment= and
 * EnvironmentFile= values, as systemd holds them after reading the unit and its drop-ins. Returns 0, or 1
 * when the unit is not loaded (not installed). */
static int read_unit(sd_bus *bus, const char *unit, Source *ret, char **ret_error) {
        _cleanup_free_ char *load = NULL, *active = NULL, *err = NULL;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_(manifest_freep) Manifest *m = NULL;
        int r;

        r = units_get_state(bus, unit, &load, &active, &err);
        if (r < 0)
                return free_and_format(ret_error, "%s", err ? err : strerror(-r)), r;
        if (!streq(load, "loaded"))
                return 1;
        r = units_get_exec(bus, unit, &argv, &env, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_format(ret_error, "%s", err ? err : strerror(-r)), r;
        r = manifest_from_argv(unit, argv, &m);
        if (r < 0)
                return r;
        *ret = (Source) { .m = TAKE_PTR(m), .env = TAKE_PTR(env), .label = strdup(unit) };
        return ret->label ? 0 : -ENOMEM;
}

/* ---- looking values up -------------------------------------------------------------- */

/* kube-apiserver's --etcd-servers and --etcd-servers-overrides are list
 * flags (pflag's StringSlice): given again, each adds to the list instead of
 * replacing it. The values joined with ',', or NULL when the flag is not
 * given. */
static int list_flag(const Manifest *m, const char *flag, char **ret) {
        _cleanup_strv_free_ char **all = NULL;
        _cleanup_free_ char *joined = NULL;
        size_t size = 0;
        FILE *f;
        int n;

        n = manifest_flag_all(m, flag, &all);
        if (n <= 0) {
                *ret = NULL;
                return n;
        }
        f = open_memstream(&joined, &size);
        if (!f)
                return -ENOMEM;
        for (char **v = all; *v; v++)
                fprintf(f, "%s%s", v == all ? "" : ",", *v);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(joined);
        return 0;
}

/* The value of flag in s (for etcd's unit also its ETCD_* variable when etcd_env), with where it came from. */
static int source_lookup(const Source *s, const char *flag, bool etcd_env, DiscoverValue *ret, char **ret_error) {
        _cleanup_free_ char *var = NULL, *list = NULL;
        char *const *env = !etcd_env ? NULL : s->pod ? manifest_env(s->m) : s->env;
        const char *v;
        int r;

        if (streq(flag, "--etcd-servers") || streq(flag, "--etcd-servers-overrides")) {
                const char *from;

                r = list_flag(s->m, flag, &list);
                v = list;
                from = r >= 0 ? manifest_flag_unresolved(s->m, flag, true) : NULL;
                if (from) {
                        r = -ENXIO;
                        var = strdup(from);
                }
        } else
                r = member_setting(s->m, env, flag, &v, NULL, &var);
        if (r < 0)
                return member_setting_error(s->m, etcd_env ? "etcd" : "kube-apiserver", flag, r, var, ret_error);
        if (!v)
                return 0;
        ret->value = strdup(v);
        if (asprintf(&ret->source, "%s: %s", s->label, var ? var : flag) < 0)
                ret->source = NULL;
        return ret->value && ret->source ? 1 : -ENOMEM;
}

/* A path flag's value as a path on this node: mapped through the pod's hostPath volumes. */
static int source_host_path(const Source *s, const char *flag, DiscoverValue *v, char **ret_error) {
        const ManifestMount *mount = NULL;
        char *host = NULL;
        int r;

        if (!v->value)
                return 0;
        /* A unit's relative path is relative to its WorkingDirectory=, which the configuration cannot follow. */
        if (!s->pod && v->value[0] != '/')
                return free_and_format(ret_error, "%s: %s is a relative path (%s, below the unit's "
                                       "WorkingDirectory=): make it absolute in the unit", s->label, v->value,
                                       v->source), -EINVAL;
        if (!s->pod)
                return 0;
        r = manifest_host_path(s->m, v->value, &host, &mount);
        switch (r) {
        case 0:
                free(v->value);
                v->value = host;
                return 0;
        case -EINVAL:
                return free_and_format(ret_error, "%s: %s=%s is not an absolute, clean path (no //, . or ..)",
                                       s->label, flag, v->value), r;
        case -ENOENT:
                return free_and_format(ret_error, "%s: %s=%s is on no hostPath volume of the pod", s->label, flag,
                                       v->value), r;
        case -ENXIO:
        case -EMEDIUMTYPE:
                return free_and_format(ret_error, "%s: %s=%s is on volume \"%s\", which is not a hostPath volume",
                                       s->label, flag, v->value, mount->name), r;
        default:
                return r;
        }
}

/* Look flag up in every source: one value, or -ENOTUNIQ naming the two that differ. Paths are mapped to the
 * node before they are compared. */
static int lookup(Source *sources, size_t n, const char *flag, bool etcd_env, bool path, DiscoverValue *ret,
                  char **ret_error) {
        DiscoverValue found = {};
        int r;

        for (size_t i = 0; i < n; i++) {
                DiscoverValue v = {};

                if (!sources[i].m)
                        continue;
                r = source_lookup(&sources[i], flag, etcd_env, &v, ret_error);
                if (r > 0 && path)
                        r = source_host_path(&sources[i], flag, &v, ret_error);
                if (r < 0) {
                        value_done(&v);
                        value_done(&found);
                        return r;
                }
                if (!v.value)
                        continue;
                if (found.value && !streq(found.value, v.value)) {
                        free_and_format(ret_error, "two sources disagree: %s is \"%s\", %s is \"%s\"", found.source,
                                        found.value, v.source, v.value);
                        value_done(&v);
                        value_done(&found);
                        return -ENOTUNIQ;
                }
                if (found.value)
                        value_done(&v);
                else
                        found = v;
        }
        *ret = found;
        return 0;
}

static int check_readable(const DiscoverValue *v, char **ret_error) {
        struct stat st;

        if (stat(v->value, &st) < 0)
                return free_and_format(ret_error, "%s: %s: %s", v->source, v->value, strerror(errno)), -errno;
        if (!S_ISREG(st.st_mode))
                return free_and_format(ret_error, "%s: %s is not a regular file", v->source, v->value), -EINVAL;
        if (access(v->value, R_OK) < 0)
                return free_and_format(ret_error, "%s: %s: %s", v->source, v->value, strerror(errno)), -errno;
        return 0;
}

static int split_endpoints(Discovery *d, char **ret_error) {
        _cleanup_free_ char *copy = strdup(d->etcd_servers.value);
        char *save = NULL;
        int r;

        if (!copy)
                return -ENOMEM;
        for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
                size_t n = strlen(u);

                if (!startswith(u, "https://"))
                        return free_and_format(ret_error, "%s: \"%s\" is not an https:// URL (etcd-backupd always "
                                               "verifies TLS)", d->etcd_servers.source, u), -EINVAL;
                /* etcd's clients take https://host:port/ as well. */
                if (n > strlen("https://") && u[n - 1] == '/')
                        u[n - 1] = '\0';
                r = strv_extend(&d->endpoints, u);
                if (r < 0)
                        return r;
        }
        if (!d->endpoints)
                return free_and_format(ret_error, "%s is empty", d->etcd_servers.source), -EINVAL;
        return 0;
}

static int read_manifest(const char *dir, const char *file, Source *ret, char **ret_error) {
        _cleanup_free_ char *path = path_join(dir, file);
        int r;

        if (!path)
                return -ENOMEM;
        if (access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        r = manifest_load(path, &ret->m, ret_error);
        if (r < 0)
                return r;
        ret->label = strdup(file);
        ret->pod = true;
        return ret->label ? 0 : -ENOMEM;
}

/* kube-apiserver's EncryptionConfiguration, which the service is handed as a credential: optional, so whatever
 * keeps it from being one is said in d->encryption_config_error and the rest is discovered all the same. A file
 * that is not there would keep the service from starting (systemd fails a unit whose LoadCredential= file is
 * missing); its name must be a credential's, and not the name of another file handed over. */
static int discover_encryption_config(Source *src, Discovery *d) {
        const DiscoverValue *others[] = { &d->cacert, &d->cert, &d->key };
        const DiscoverValue *e = &d->encryption_config;
        char **why = &d->encryption_config_error;
        const char *base;
        struct stat st;
        bool bad_name = false, refused;
        int r;

        r = lookup(src, 2, "--encryption-provider-config", false, true, &d->encryption_config, why);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !e->value)
                return 0;
        base = path_basename(e->value);
        for (const char *p = e->value; *p; p++)
                bad_name = bad_name || (unsigned char) *p < 0x20 || *p == 0x7f ||
                           (p >= base && ((unsigned char) *p > 0x7e || *p == ':' || *p == '%'));
        refused = true;
        if (stat(e->value, &st) < 0)
                free_and_format(why, "%s: %s: %s", e->source, e->value, strerror(errno));
        else if (!S_ISREG(st.st_mode))
                free_and_format(why, "%s: %s is not a regular file", e->source, e->value);
        else if (bad_name)
                free_and_format(why, "%s: %s cannot be handed to the service as a credential: its file name must be "
                                "printable ASCII without ':' or '%%', its path without control characters", e->source,
                                e->value);
        else {
                refused = false;
                for (size_t i = 0; i < ELEMENTSOF(others) && !refused; i++)
                        if (others[i]->value && !streq(others[i]->value, e->value) &&
                            streq(path_basename(others[i]->value), base)) {
                                free_and_format(why, "%s: %s has the file name of %s (%s); a credential needs its "
                                                "own name", e->source, e->value, others[i]->value, others[i]->source);
                                refused = true;
                        }
        }
        if (!refused)
                return 0;
        value_done(&d->encryption_config);
        return *why ? 0 : -ENOMEM;
}

int discover_run(const DiscoverOptions *o, Discovery **ret, char **ret_error) {
        /* 0, 1: kube-apiserver (pod, unit); 2, 3: etcd (pod, unit). */
        Source src[4] = {};
        _cleanup_(discovery_freep) Discovery *d = NULL;
        const char *dir = o->manifests_dir ? o->manifests_dir : DISCOVER_MANIFESTS_DIR_DEFAULT;
        const char *api_unit = o->apiserver_unit ? o->apiserver_unit : "kube-apiserver.service";
        const char *etcd_unit = o->etcd_unit ? o->etcd_unit : "etcd.service";
        int r;

        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        r = read_manifest(dir, "kube-apiserver.yaml", &src[0], ret_error);
        if (r >= 0 && !o->client_only)
                r = read_manifest(dir, "etcd.yaml", &src[2], ret_error);
        if (r >= 0 && !o->no_bus) {
                sd_bus *bus = NULL;
                _cleanup_free_ char *err = NULL;

                if (units_bus_open(&bus, &err) >= 0) {
                        /* The daemon asks from its event loop (at start, on reload): a systemd that does not
                         * answer must not hold it near WatchdogSec=; the first call that times out ends it. */
                        (void) sd_bus_set_method_call_timeout(bus, DISCOVER_BUS_CALL_TIMEOUT_USEC);
                        r = read_unit(bus, api_unit, &src[1], ret_error);
                        if (r == 1 && o->apiserver_unit && o->units_given)
                                r = (free_and_format(ret_error, "%s is not installed", api_unit), -ENOENT);
                        if (r >= 0 && !o->client_only) {
                                r = read_unit(bus, etcd_unit, &src[3], ret_error);
                                if (r == 1 && o->etcd_unit && o->units_given)
                                        r = (free_and_format(ret_error, "%s is not installed", etcd_unit), -ENOENT);
                        }
                        sd_bus_flush_close_unref(bus);
                } else if (o->units_given)
                        r = (free_and_format(ret_error, "%s", err), -EHOSTDOWN);
        }
        if (r < 0)
                goto finish;
        manifest_kubernetes_flag_names(src[0].m);
        manifest_kubernetes_flag_names(src[1].m);

        r = lookup(src, 2, "--etcd-servers", false, false, &d->etcd_servers, ret_error);
        if (r >= 0)
                r = lookup(src, 2, "--etcd-servers-overrides", false, false, &d->etcd_servers_overrides, ret_error);
        if (r >= 0)
                r = lookup(src, 2, "--etcd-cafile", false, true, &d->cacert, ret_error);
        if (r >= 0)
                r = lookup(src, 2, "--etcd-certfile", false, true, &d->cert, ret_error);
        if (r >= 0)
                r = lookup(src, 2, "--etcd-keyfile", false, true, &d->key, ret_error);
        if (r < 0)
                goto finish;
        if (!d->etcd_servers.value) {
                if (src[0].m || src[1].m)
                        r = (free_and_format(ret_error, "%s has no --etcd-servers flag",
                                            src[0].m ? src[0].m->file : src[1].label), -ENOENT);
                else
                        r = (free_and_format(ret_error, "no kube-apiserver found: neither %s/kube-apiserver.yaml nor "
                                            "%s%s", dir, api_unit, o->no_bus ? " (systemd not asked)" : ""), -ENOENT);
                goto finish;
        }
        r = split_endpoints(d, ret_error);
        if (r < 0)
                goto finish;
        if (!d->cert.value != !d->key.value) {
                r = (free_and_format(ret_error, "%s is given without %s", d->cert.value ? d->cert.source : d->key.source,
                                    d->cert.value ? "--etcd-keyfile" : "--etcd-certfile"), -ENOENT);
                goto finish;
        }
        DiscoverValue *files[] = { &d->cacert, &d->cert, &d->key };
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (files[i]->value && (r = check_readable(files[i], ret_error)) < 0)
                        goto finish;
        r = discover_encryption_config(src, d);
        if (r < 0)
                goto finish;

        /* etcd's own flags: the restore settings (none to read when etcd reads a configuration file). */
        for (size_t i = 2; i < 4; i++)
                if (src[i].m && (r = member_config_file(src[i].m, src[i].pod ? manifest_env(src[i].m) : src[i].env,
                                                        ret_error)) < 0)
                        goto finish;
        r = lookup(src + 2, 2, "--data-dir", true, true, &d->data_dir, ret_error);
        if (r >= 0)
                r = lookup(src + 2, 2, "--name", true, false, &d->name, ret_error);
        if (r >= 0)
                r = lookup(src + 2, 2, "--initial-cluster", true, false, &d->initial_cluster, ret_error);
        if (r >= 0)
                r = lookup(src + 2, 2, "--initial-cluster-token", true, false, &d->initial_cluster_token, ret_error);
        if (r >= 0)
                r = lookup(src + 2, 2, "--initial-advertise-peer-urls", true, false,
                           &d->initial_advertise_peer_urls, ret_error);
        if (r < 0)
                goto finish;
        for (size_t i = 2; i < 4 && !d->etcd_source; i++)
                if (src[i].m && !(d->etcd_source = strdup(src[i].label))) {
                        r = -ENOMEM;
                        goto finish;
                }
        d->mode = src[2].m || (src[0].m && !src[3].m) ? RESTORE_MODE_STATIC_POD : RESTORE_MODE_SYSTEMD;
        /* etcd a unit beside a kube-apiserver.yaml (a mixed node): the restore looks there too. */
        if (d->mode == RESTORE_MODE_STATIC_POD || src[0].m)
                d->manifests_dir = strdup(dir);
        if (d->mode == RESTORE_MODE_SYSTEMD) {
                d->etcd_unit = strdup(etcd_unit);
                d->apiserver_unit = strdup(api_unit);
        }
        if ((!d->manifests_dir && (d->mode == RESTORE_MODE_STATIC_POD || src[0].m)) ||
            (d->mode == RESTORE_MODE_SYSTEMD && (!d->etcd_unit || !d->apiserver_unit)))
                r = -ENOMEM;
        else {
                *ret = TAKE_PTR(d);
                r = 0;
        }
finish:
        for (size_t i = 0; i < ELEMENTSOF(src); i++)
                source_done(&src[i]);
        return r;
}

int discover_apply(const Discovery *d, Config *c) {
        char **endpoints = NULL;

        for (char **e = d->endpoints; e && *e; e++)
                if (strv_extend(&endpoints, *e) < 0) {
                        strv_free(endpoints);
                        return -ENOMEM;
                }
        strv_free(c->etcd.endpoints);
        c->etcd.endpoints = endpoints;
        if (free_and_strdup(&c->etcd.cacert, d->cacert.value) < 0 ||
            free_and_strdup(&c->etcd.cert, d->cert.value) < 0 || free_and_strdup(&c->etcd.key, d->key.value) < 0)
                return -ENOMEM;
        return 0;
}

static const char *or_none(const char *s) {
        return s ? s : "none";
}

/* A found file's credential, when the service was handed one under its file name. */
static int use_credential(char **path) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY"), *base;
        _cleanup_free_ char *c = NULL;

        if (!*path || !creds || !*creds)
                return 0;
        base = strrchr(*path, '/') ? strrchr(*path, '/') + 1 : *path;
        c = path_join(creds, base);
        if (!c)
                return -ENOMEM;
        if (access(c, F_OK) < 0)
                return 0;
        free(*path);
        *path = TAKE_PTR(c);
        return 0;
}

int discover_config(Config *c, char **ret_summary, char **ret_error) {
        _cleanup_(discovery_freep) Discovery *d = NULL;
        _cleanup_free_ char *endpoints = NULL;
        DiscoverOptions o = { .client_only = true };
        int r;

        *ret_summary = NULL;
        if (!c->etcd.discover)
                return 0;
        if (!streq(c->etcd.discover, "auto"))
                o.manifests_dir = c->etcd.discover;
        r = discover_run(&o, &d, ret_error);
        if (r < 0)
                return r;
        /* As etcd.endpoints would have them: a bad one said now, not at the first connection. */
        for (char **e = d->endpoints; *e; e++) {
                const char *reason = NULL;

                if (config_check_endpoint(*e, &reason) < 0)
                        return free_and_format(ret_error, "%s: \"%s\": %s", d->etcd_servers.source, *e, reason),
                               -EINVAL;
        }
        r = discover_apply(d, c);
        if (r >= 0)
                r = use_credential(&c->etcd.cacert);
        if (r >= 0)
                r = use_credential(&c->etcd.cert);
        if (r >= 0)
                r = use_credential(&c->etcd.key);
        if (r < 0)
                return r;
        for (char **e = d->endpoints; *e; e++)
                if (free_and_format(&endpoints, "%s%s%s", endpoints ? endpoints : "", endpoints ? "," : "", *e),
                    !endpoints)
                        return -ENOMEM;
        const DiscoverValue *other = &d->etcd_servers_overrides;
        if (asprintf(ret_summary, "etcd discovered: endpoints %s (%s), cacert %s (%s), cert %s (%s), key %s (%s)%s%s%s"
                     "%s%s", endpoints, d->etcd_servers.source, or_none(c->etcd.cacert), or_none(d->cacert.source),
                     or_none(c->etcd.cert), or_none(d->cert.source), or_none(c->etcd.key), or_none(d->key.source),
                     other->value ? "; kube-apiserver keeps resources in another etcd, not in these backups: " : "",
                     other->value ?: "", other->value ? " (" : "", other->source ?: "", other->value ? ")" : "") < 0) {
                *ret_summary = NULL;
                return -ENOMEM;
        }
        return 0;
}
