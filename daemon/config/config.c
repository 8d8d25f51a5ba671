/* SPDX-License-Identifier: MIT */
/*
 * config.c — libconfig → validated Config (see config.h).
 *
 * The schema is a set of tables, one per group, each key naming its type,
 * where it lands in Config and its range. One walker applies a table to a
 * group: it rejects keys the table does not know, checks each value's type
 * and range, and records every problem with the setting's file and line.
 * Checks that involve several keys run after the walk. The tables and the
 * keys with parsers of their own are in config-schema.c.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/config-internal.h"
#include "config/zone-load.h"
#include "util/io.h"
#include "util/parse.h"
#include "util/path.h"
#include "util/str.h"

#define CONFIG_FILE_MAX_BYTES (1024 * 1024)

/* ---- diagnostics ---- */

int config_diag_add(ConfigDiags *d, ConfigSeverity sev, const char *file, int line, const char *fmt, ...) {
        ConfigDiag *n;
        char *msg = NULL, *f = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        f = strdup(file ? file : "(config)");
        n = reallocarray(d->items, d->n + 1, sizeof *n);
        if (!msg || !f || !n) {
                free(msg);
                free(f);
                if (n)
                        d->items = n;
                return -ENOMEM;
        }
        d->items = n;
        d->items[d->n++] = (ConfigDiag) { .severity = sev, .file = f, .line = line, .message = msg };
        if (sev == CONFIG_ERROR)
                d->n_errors++;
        return 0;
}

const char *config_loader_file(Loader *l, const config_setting_t *s) {
        const char *f = s ? config_setting_source_file(s) : NULL;
        return f ? f : l->name;
}

int config_loader_line(const config_setting_t *s) {
        return s ? (int) config_setting_source_line(s) : 0;
}

void config_diags_print(const ConfigDiags *diags, FILE *f) {
        for (size_t i = 0; i < diags->n; i++) {
                const ConfigDiag *d = &diags->items[i];
                if (d->line > 0)
                        fprintf(f, "%s:%d: %s%s\n", d->file, d->line,
                                d->severity == CONFIG_WARNING ? "warning: " : "", d->message);
                else
                        fprintf(f, "%s: %s%s\n", d->file,
                                d->severity == CONFIG_WARNING ? "warning: " : "", d->message);
        }
}

void config_diags_done(ConfigDiags *diags) {
        for (size_t i = 0; i < diags->n; i++) {
                free(diags->items[i].file);
                free(diags->items[i].message);
        }
        free(diags->items);
        *diags = (ConfigDiags) {};
}

/* ---- defaults and freeing ---- */

const char *config_type_name(int type) {
        switch (type) {
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
                return "an integer";
        case CONFIG_TYPE_FLOAT:
                return "a floating-point number";
        case CONFIG_TYPE_STRING:
                return "a string";
        case CONFIG_TYPE_BOOL:
                return "a boolean";
        case CONFIG_TYPE_ARRAY:
                return "an array";
        case CONFIG_TYPE_LIST:
                return "a list";
        case CONFIG_TYPE_GROUP:
                return "a group";
        default:
                return "an unknown type";
        }
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->text);
        free(c->localtime);
        zone_free(c->zone);
        strv_free(c->etcd.endpoints);
        free(c->etcd.cacert);
        free(c->etcd.cert);
        free(c->etcd.key);
        free(c->etcd.discover);
        free(c->schedule.calendar);
        calendar_spec_free(c->schedule.calendar_spec);
        free(c->storage.directory);
        strv_free(c->encryption.recipients);
        free(c->encryption.identity_file);
        free(c->kubernetes.encryption_config);
        free(c->upload.url);
        free(c->upload.region);
        free(c->upload.access_key_id);
        free(c->upload.secret_access_key_file);
        free(c->restore.data_dir);
        free(c->restore.manifests_dir);
        free(c->restore.etcd_unit);
        free(c->restore.apiserver_unit);
        free(c->restore.etcdutl);
        free(c->restore.name);
        free(c->restore.initial_cluster);
        free(c->restore.initial_cluster_token);
        free(c->restore.initial_advertise_peer_urls);
        free(c->restore.apiserver_cacert);
        free(c->control.socket);
        free(c->control.group);
        free(c->metrics.textfile);
        free(c->zone_warning);
        free(c);
        return NULL;
}

Config *config_new_default(void) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        /* Before the zone: a change between the two is told by the next look. */
        if (zone_localtime_snapshot(&c->localtime, &c->localtime_size) < 0 ||
            zone_load_local(&c->zone, &c->zone_warning) < 0)
                return NULL;

        c->etcd = (ConfigEtcd) {
                .cacert = strdup("/etc/kubernetes/pki/etcd/ca.crt"),
                .cert = strdup("/etc/kubernetes/pki/etcd/healthcheck-client.crt"),
                .key = strdup("/etc/kubernetes/pki/etcd/healthcheck-client.key"),
                .connect_timeout_usec = 5 * USEC_PER_SEC,
                .timeout_usec = 30 * USEC_PER_MINUTE,
        };
        if (strv_extend(&c->etcd.endpoints, "https://127.0.0.1:2379") < 0)
                return NULL;
        c->schedule = (ConfigSchedule) {
                .calendar = strdup("*-*-* 03:30:00"),
                .persistent = true,
                .retry_attempts = 3,
                .retry_backoff_usec = 30 * USEC_PER_SEC,
        };
        if (!c->schedule.calendar ||
            calendar_spec_from_string(c->schedule.calendar, c->zone, &zone_loader_system,
                                      &c->schedule.calendar_spec) < 0)
                return NULL;
        c->storage = (ConfigStorage) {
                .directory = strdup("/var/lib/etcd-backupd"),
                .compression = CODEC_GZIP,
                .level = 3,
                .threads = 0,
                .min_free_bytes = UINT64_C(1) << 30,
        };
        c->retention = (RetentionPolicy) {
                .keep_last = 7, .keep_hourly = 0, .keep_daily = 7, .keep_weekly = 4, .keep_monthly = 6,
        };
        c->upload = (ConfigUpload) {
                .region = strdup("us-east-1"),
                .part_size_bytes = UINT64_C(64) << 20,
                .request_timeout_usec = UPLOAD_REQUEST_TIMEOUT_DEFAULT_USEC,
                .abort_incomplete_after_usec = UPLOAD_ABORT_INCOMPLETE_AFTER_DEFAULT_USEC,
                .retention = true,
        };
        c->restore = (ConfigRestore) {
                .mode = RESTORE_MODE_AUTO,
                .manifests_dir = strdup("/etc/kubernetes/manifests"),
                .etcd_unit = strdup("etcd.service"),
                .apiserver_unit = strdup("kube-apiserver.service"),
                .etcdutl = strdup(""),
                .health_timeout_usec = 5 * USEC_PER_MINUTE,
                .confirm_timeout_usec = 5 * USEC_PER_MINUTE,
                .restart_controllers = true,
        };
        c->control = (ConfigControl) {
                .socket = strdup("/run/etcd-backupd/control.sock"),
                .group = strdup("etcd-backup-ctl"),
                .backup_min_interval_usec = 5 * USEC_PER_MINUTE,
        };
        if (!c->etcd.cacert || !c->etcd.cert || !c->etcd.key || !c->storage.directory ||
            !c->upload.region || !c->restore.manifests_dir ||
            !c->restore.etcd_unit || !c->restore.apiserver_unit || !c->restore.etcdutl ||
            !c->control.socket || !c->control.group)
                return NULL;
        return TAKE_PTR(c);
}

const char *restore_mode_to_string(RestoreMode m) {
        switch (m) {
        case RESTORE_MODE_AUTO:
                return "auto";
        case RESTORE_MODE_SYSTEMD:
                return "systemd";
        case RESTORE_MODE_STATIC_POD:
                return "static-pod";
        }
        return "unknown";
}

/* ---- value readers ---- */

static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* Reads a string setting or records "expected a string". */
int config_get_string(Loader *l, config_setting_t *s, const char *what, const char **ret) {
        const char *v;

        if (config_setting_type(s) != CONFIG_TYPE_STRING)
                return error_at(l, s, "%s: expected %s, got %s", what, "a string",
                                config_type_name(config_setting_type(s))), -EINVAL;
        v = config_setting_get_string(s);
        if (!v || has_control_chars(v))
                return error_at(l, s, "%s: control characters are not allowed", what), -EINVAL;
        *ret = v;
        return 0;
}

/* A key or secret file. Under systemd, any configured file may be handed
 * over as a credential (LoadCredential=) under its own file name: when
 * $CREDENTIALS_DIRECTORY holds a file named like the configured one, that is
 * used. So the shipped configuration (kubeadm's root-only paths) works both
 * for root by hand and for the unprivileged service, whose unit loads those
 * files under their names. A relative name is a credential name; without
 * $CREDENTIALS_DIRECTORY it is relative to the config file's directory. */
static int resolve_file(Loader *l, const char *v, char **ret) {
        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        const char *base = strrchr(v, '/') ? strrchr(v, '/') + 1 : v;

        if (creds && *creds && *base) {
                _cleanup_free_ char *c = path_join(creds, base);
                if (!c)
                        return -ENOMEM;
                if (v[0] != '/' || access(c, F_OK) >= 0) {
                        *ret = TAKE_PTR(c);
                        return 0;
                }
        }
        if (v[0] == '/')
                *ret = strdup(v);
        else
                *ret = path_join(l->dir, v);
        return *ret ? 0 : -ENOMEM;
}

/* The secrets among the files: who must not have them, and what to do. */
static bool secret_file(const KeySpec *k, const char *path, mode_t *ret_bits, const char **ret_who,
                        const char **ret_fix) {
        if (k->offset == FIELD(encryption.identity_file)) {
                *ret_bits = path_secret_mode_bits(path);
                *ret_who = "group or others";
                *ret_fix = "it opens every backup and their copies in the store: make it root's alone "
                           "(chmod 600); etcd-backupctl refuses it without --insecure-key-file";
                return true;
        }
        if (k->offset == FIELD(kubernetes.encryption_config)) {
                *ret_bits = path_secret_mode_bits(path);
                *ret_who = "group or others";
                *ret_fix = "it holds kube-apiserver's encryption keys, and each backup's Secrets check refuses it so: "
                           "make it root's alone (chmod 600) and hand it to the service as a credential "
                           "(LoadCredential=, as etcd-backupctl discover --write does)";
                return true;
        }
        if (k->offset == FIELD(upload.secret_access_key_file) || k->offset == FIELD(etcd.key)) {
                *ret_bits = S_IRWXO;
                *ret_who = "others";
                *ret_fix = k->offset == FIELD(etcd.key) ? "chmod o-rwx it" :
                           "chmod o-rwx it (root's, readable by the daemon's group: 0640)";
                return true;
        }
        return false;
}

static int check_file_readable(Loader *l, config_setting_t *s, const KeySpec *k, const char *what,
                               const char *path) {
        const char *who, *fix;
        struct stat st;
        mode_t bits;

        if (stat(path, &st) < 0)
                return warning_at(l, s, "%s: %s: %s (backups fail until it exists)", what, path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return warning_at(l, s, "%s: %s is not a regular file", what, path);
        if (secret_file(k, path, &bits, &who, &fix) && (st.st_mode & bits))
                return warning_at(l, s, "%s: %s: %s may access it (mode %04o); %s", what, path, who,
                                  (unsigned) (st.st_mode & 07777), fix);
        return 0;
}

static int parse_key(Loader *l, config_setting_t *s, const KeySpec *k, Config *c, const char *what);

static int parse_group(Loader *l, config_setting_t *g, const KeySpec *keys, Config *c, const char *prefix) {
        int n;

        if (config_setting_type(g) != CONFIG_TYPE_GROUP)
                return error_at(l, g, "%s: expected a group { … }, got %s", prefix,
                                config_type_name(config_setting_type(g))), -EINVAL;
        n = config_setting_length(g);
        for (int i = 0; i < n; i++) {
                config_setting_t *s = config_setting_get_elem(g, (unsigned) i);
                const char *name = s ? config_setting_name(s) : NULL;
                const KeySpec *k = NULL;
                char what[128];

                if (!name)
                        continue;
                for (const KeySpec *j = keys; j->name; j++)
                        if (streq(j->name, name)) {
                                k = j;
                                break;
                        }
                snprintf(what, sizeof what, "%s%s%s", prefix, *prefix ? "." : "", name);
                if (!k) {
                        _cleanup_free_ char *known = NULL;
                        size_t len = 0;
                        for (const KeySpec *j = keys; j->name; j++)
                                len += strlen(j->name) + 2;
                        known = calloc(1, len + 1);
                        if (known)
                                for (const KeySpec *j = keys; j->name; j++) {
                                        if (*known)
                                                strcat(known, ", ");
                                        strcat(known, j->name);
                                }
                        (void) error_at(l, s, "unknown %s '%s'%s%s%s", *prefix ? "key" : "group", what,
                                        known ? " (known: " : "", known ? known : "", known ? ")" : "");
                        continue;
                }
                (void) parse_key(l, s, k, c, what);
        }
        return 0;
}

/* p past blanks, line breaks and comments (from # or // to the end of the line, and C comments). */
static const char *skip_blank(const char *p) {
        for (;;) {
                p += strspn(p, " \t\r\n");
                if (*p == '#' || (p[0] == '/' && p[1] == '/'))
                        p = strchrnul(p, '\n');
                else if (p[0] == '/' && p[1] == '*') {
                        const char *end = strstr(p + 2, "*/");
                        p = end ? end + 2 : p + strlen(p);
                } else
                        return p;
        }
}

/* The value of setting s as the file writes it ("99999999999999999999"):
 * the token after its name (on the line libconfig gives it) and '=' or ':',
 * past blanks, line breaks and comments. 1 with it in buf, 0 when it cannot
 * be found, -E2BIG when it is longer than buf. */
static int written_as(Loader *l, config_setting_t *s, char *buf, size_t size) {
        const char *name = config_setting_name(s), *p = l->text;
        size_t len = name ? strlen(name) : 0;
        int line = (int) config_setting_source_line(s);

        if (!p || !name || line <= 0 || size == 0)
                return 0;
        for (int i = 1; i < line && p; i++) {
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        for (const char *end = p ? strchrnul(p, '\n') : NULL; p && p < end; p++) {
                const char *q = p + len, *v;
                size_t n;

                /* Not within a comment or a string: a "keep_last = 1" commented out before the setting is not its
                 * value. */
                if (*p == '#' || (p[0] == '/' && p[1] == '/'))
                        break;
                if (p[0] == '/' && p[1] == '*') {
                        const char *close = strstr(p + 2, "*/");
                        if (!close || close >= end)
                                break;
                        p = close + 1;
                        continue;
                }
                if (*p == '"') {
                        for (p++; p < end && *p != '"'; p++)
                                if (*p == '\\' && p + 1 < end)
                                        p++;
                        continue;
                }
                if (strncmp(p, name, len) != 0 || (p > l->text && (isalnum((unsigned char) p[-1]) || p[-1] == '_')))
                        continue;
                q = skip_blank(q);
                if (*q != '=' && *q != ':')
                        continue;
                v = skip_blank(q + 1);
                n = strcspn(v, " \t\r\n;,}#/");
                if (n == 0)
                        return 0;
                if (n >= size)
                        return -E2BIG;
                memcpy(buf, v, n);
                buf[n] = 0;
                return 1;
        }
        return 0;
}

/* An integer setting's value; false when the file writes a number libconfig
 * did not keep whole (it cuts one too large for its type short:
 * 4294967297 would be 1), with the number as written in written. Read as
 * libconfig reads it: hexadecimal after 0x, else decimal (010 is ten). */
static bool integer_value(Loader *l, config_setting_t *s, long long *ret, char *written, size_t size) {
        long long ll = config_setting_get_int64(s), w;
        const char *digits;
        char *end;
        int r;

        *ret = ll;
        r = written_as(l, s, written, size);
        if (r == -E2BIG) {
                snprintf(written, size, "a number of %zu or more digits", size);
                return false;
        }
        if (r == 0) {
                snprintf(written, size, "%lld", ll);
                return true;
        }
        digits = written + (written[0] == '-' || written[0] == '+');
        errno = 0;
        w = strtoll(written, &end, digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ? 16 : 10);
        if (end == written || (*end && !streq(end, "L") && !streq(end, "LL")))
                return true;    /* not a plain integer: libconfig's reading stands */
        return errno != ERANGE && w == ll;
}

static int parse_key(Loader *l, config_setting_t *s, const KeySpec *k, Config *c, const char *what) {
        int type = config_setting_type(s);
        const char *v = NULL;
        uint64_t u;
        int r;

        switch (k->type) {
        case KEY_GROUP:
                return parse_group(l, s, k->sub, c, what);

        case KEY_CUSTOM:
                return k->parse(l, s, k, c);

        case KEY_BOOL:
                if (type != CONFIG_TYPE_BOOL)
                        return error_at(l, s, "%s: expected a boolean (true or false), got %s", what,
                                        config_type_name(type)), -EINVAL;
                *(bool *) ((char *) c + k->offset) = config_setting_get_bool(s);
                return 0;

        case KEY_UNSIGNED: {
                char written[32];
                long long ll;
                if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
                        return error_at(l, s, "%s: expected an integer, got %s", what, config_type_name(type)), -EINVAL;
                if (!integer_value(l, s, &ll, written, sizeof written) || ll < 0 || (uint64_t) ll < k->min ||
                    (uint64_t) ll > k->max)
                        return error_at(l, s, "%s: %s is out of range (expected %llu to %llu)", what, written,
                                        (unsigned long long) k->min, (unsigned long long) k->max), -ERANGE;
                *(unsigned *) ((char *) c + k->offset) = (unsigned) ll;
                return 0;
        }

        case KEY_SIZE:
        case KEY_DURATION: {
                bool is_size = k->type == KEY_SIZE;
                char buf_min[64], buf_max[64];

                if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64) {
                        char written[32];
                        long long ll;

                        if (!integer_value(l, s, &ll, written, sizeof written))
                                return error_at(l, s, "%s: %s is too large a number; write it with a unit (\"%s\")",
                                                what, written, is_size ? "64G" : "1d"), -ERANGE;
                        /* A bare number is bytes for a size; for a duration only 0 is unambiguous. */
                        if (ll < 0 || (!is_size && ll != 0))
                                return error_at(l, s, "%s: expected a duration string such as \"30s\", \"5min\", \"2h\" or \"1d\"", what), -EINVAL;
                        u = (uint64_t) ll;
                } else if (type == CONFIG_TYPE_STRING) {
                        v = config_setting_get_string(s);
                        r = is_size ? parse_size(v, &u) : parse_duration(v, &u);
                        if (r < 0)
                                return error_at(l, s, is_size
                                                ? "%s: invalid size \"%s\" (expected a number with an optional K, M or G suffix, e.g. \"64M\")"
                                                : "%s: invalid duration \"%s\" (expected e.g. \"30s\", \"5min\", \"2h\", \"1d\")",
                                                what, v), -EINVAL;
                } else
                        return error_at(l, s, "%s: expected a %s string, got %s", what,
                                        is_size ? "size" : "duration", config_type_name(type)), -EINVAL;
                if (u < k->min || u > k->max) {
                        if (is_size) {
                                format_bytes(buf_min, sizeof buf_min, k->min);
                                format_bytes(buf_max, sizeof buf_max, k->max);
                        } else {
                                format_duration(buf_min, sizeof buf_min, k->min);
                                format_duration(buf_max, sizeof buf_max, k->max);
                        }
                        return error_at(l, s, "%s: out of range (expected %s to %s)", what, buf_min, buf_max), -ERANGE;
                }
                *(uint64_t *) ((char *) c + k->offset) = u;
                return 0;
        }

        case KEY_STRING:
        case KEY_NAME:
        case KEY_ABS_PATH:
        case KEY_FILE: {
                char **field = config_field_str(c, k);
                char *n = NULL;

                r = config_get_string(l, s, what, &v);
                if (r < 0)
                        return r;
                if (k->type == KEY_NAME && !*v)
                        return error_at(l, s, "%s: must not be empty", what), -EINVAL;
                if (k->type == KEY_ABS_PATH && v[0] != '/')
                        return error_at(l, s, "%s: expected an absolute path, got \"%s\"", what, v), -EINVAL;
                if (k->type == KEY_FILE) {
                        if (!*v)
                                n = NULL; /* unset */
                        else if (resolve_file(l, v, &n) < 0)
                                return -ENOMEM;
                        if (n)
                                (void) check_file_readable(l, s, k, what, n);
                } else {
                        n = strdup(v);
                        if (!n)
                                return -ENOMEM;
                        /* "/etc/kubernetes/manifests/" is that directory: its name and its parent as for the
                         * path without the slash. */
                        for (size_t len = strlen(n); k->type == KEY_ABS_PATH && len > 1 && n[len - 1] == '/';)
                                n[--len] = '\0';
                }
                free(*field);
                *field = n;
                return 0;
        }
        }
        return -EINVAL;
}

/* ---- checks across keys ---- */

/* The setting at path, or the nearest enclosing group, or the root. */
static config_setting_t *lookup_near(Loader *l, const char *path) {
        char buf[128];
        config_setting_t *s;

        snprintf(buf, sizeof buf, "%s", path);
        for (;;) {
                char *dot;
                s = config_lookup(&l->cfg, buf);
                if (s)
                        return s;
                dot = strrchr(buf, '.');
                if (!dot)
                        return config_root_setting(&l->cfg);
                *dot = '\0';
        }
}

/* Plain HTTP carries the backups, and with them etcd's Secrets, readable
 * to anyone on the path, and the request signatures without protection
 * against replay. It is accepted only when asked for and only for
 * age-encrypted backups; even then it is worth a warning. */
static void check_insecure_http(Loader *l, Config *c) {
        config_setting_t *s = lookup_near(l, "upload.url");

        if (!c->upload.url || !startswith(c->upload.url, "http://"))
                return;
        if (!c->upload.allow_insecure_http)
                (void) error_at(l, s, "upload.url: \"%s\" is plain HTTP, which sends the backups (etcd's Secrets) "
                                "unprotected; use https://, or set upload.allow_insecure_http = true with encryption",
                                c->upload.url);
        else if (!c->encryption.enabled)
                (void) error_at(l, s, "upload.url: \"%s\" is plain HTTP and the backups are not encrypted; "
                                "upload.allow_insecure_http needs an encryption group", c->upload.url);
        else
                (void) warning_at(l, s, "upload.url: \"%s\" is plain HTTP: the encrypted backups, their sidecars "
                                  "and the object names travel unprotected", c->upload.url);
}

/* Whether the setting at path has a value, even one refused (and reported)
 * on its own, as a list that is empty: then "is required" would only add
 * noise. An empty string is no value (a file setting "" is unset). */
static bool given(Loader *l, const void *value, const char *path) {
        config_setting_t *s = value ? NULL : config_lookup(&l->cfg, path);
        const char *str;

        if (value)
                return true;
        if (!s)
                return false;
        if (config_setting_is_aggregate(s))
                return true;
        str = config_setting_get_string(s);
        return !str || *str;
}

static void check_cross(Loader *l, Config *c) {
        int lo, hi;

        if (codec_level_range(c->storage.compression, &lo, &hi) >= 0 &&
            c->storage.compression != CODEC_NONE && ((int) c->storage.level < lo || (int) c->storage.level > hi))
                (void) error_at(l, lookup_near(l, "storage.level"),
                                "storage.level: %u is out of range for %s (expected %d to %d)",
                                c->storage.level, codec_to_string(c->storage.compression), lo, hi);

        if (c->etcd.discover)
                for (const char *const *k = (const char *const[]) { "endpoints", "cacert", "cert", "key", NULL }; *k; k++) {
                        _cleanup_free_ char *path = NULL;
                        if (asprintf(&path, "etcd.%s", *k) < 0)
                                break;
                        if (config_lookup(&l->cfg, path))
                                (void) error_at(l, config_lookup(&l->cfg, path),
                                                "etcd.%s: not with etcd.discover, which finds it", *k);
                }

        if (given(l, c->etcd.cert, "etcd.cert") != given(l, c->etcd.key, "etcd.key"))
                (void) error_at(l, lookup_near(l, c->etcd.cert ? "etcd.key" : "etcd.cert"),
                                "etcd.cert and etcd.key must be set together");

        c->encryption.enabled = config_lookup(&l->cfg, "encryption") != NULL;
        if (c->encryption.enabled && !given(l, c->encryption.recipients, "encryption.recipients"))
                (void) error_at(l, lookup_near(l, "encryption.recipients"),
                                "encryption: recipients must list at least one age public key");

        c->upload.enabled = config_lookup(&l->cfg, "upload") != NULL;
        if (c->upload.enabled) {
                if (!given(l, c->upload.url, "upload.url"))
                        (void) error_at(l, lookup_near(l, "upload.url"), "upload: url is required");
                if (!given(l, c->upload.access_key_id, "upload.access_key_id"))
                        (void) error_at(l, lookup_near(l, "upload.access_key_id"), "upload: access_key_id is required");
                if (!given(l, c->upload.secret_access_key_file, "upload.secret_access_key_file"))
                        (void) error_at(l, lookup_near(l, "upload.secret_access_key_file"),
                                        "upload: secret_access_key_file is required");
                check_insecure_http(l, c);
        }
}

/* libconfig 1.5 opens @include'd files itself with no way to confine it;
 * the loader refuses the directive so a config never reads other files. */
static int find_include(const char *text) {
        int line = 1;
        for (const char *p = text; *p; p++) {
                const char *q = p;
                while (*q == ' ' || *q == '\t')
                        q++;
                if (startswith(q, "@include"))
                        return line;
                p = strchrnul(p, '\n');
                if (!*p)
                        break;
                line++;
        }
        return 0;
}

static int load(const char *text, size_t size, const char *name, Config **ret, ConfigDiags *diags) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *dir = NULL;
        Loader l = { .name = name, .text = text, .diags = diags };
        const char *slash;
        int line, r;

        if (strlen(text) != size)
                return config_diag_add(diags, CONFIG_ERROR, name, 0, "contains a NUL byte; not a text file"), -EINVAL;
        line = find_include(text);
        if (line > 0)
                return config_diag_add(diags, CONFIG_ERROR, name, line, "@include is not supported; keep the configuration in one file"), -EINVAL;

        slash = strrchr(name, '/');
        dir = slash ? strndup(name, (size_t) (slash - name)) : strdup(".");
        if (!dir)
                return -ENOMEM;
        if (!*dir && free_and_strdup(&dir, "/") < 0)
                return -ENOMEM;
        l.dir = dir;

        c = config_new_default();
        if (!c)
                return -ENOMEM;
        c->path = strdup(name);
        c->text = strndup(text, size);
        if (!c->path || !c->text)
                return -ENOMEM;
        if (c->zone_warning)
                config_diag_add(diags, CONFIG_WARNING, name, 0, "%s", c->zone_warning);

        config_init(&l.cfg);
        if (config_read_string(&l.cfg, text) != CONFIG_TRUE) {
                (void) config_diag_add(diags, CONFIG_ERROR, name, config_error_line(&l.cfg), "syntax error: %s",
                                       config_error_text(&l.cfg) ? config_error_text(&l.cfg) : "unknown");
                config_destroy(&l.cfg);
                return -EINVAL;
        }
        r = parse_group(&l, config_root_setting(&l.cfg), config_schema_root(), c, "");
        if (r >= 0)
                check_cross(&l, c);
        config_destroy(&l.cfg);
        if (r == -ENOMEM)
                return r;
        if (diags->n_errors > 0)
                return -EINVAL;
        *ret = TAKE_PTR(c);
        return 0;
}

int config_load_string(const char *text, const char *name, Config **ret, ConfigDiags *diags) {
        return load(text, strlen(text), name, ret, diags);
}

int config_load(const char *path, Config **ret, ConfigDiags *diags) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_full_file(path, CONFIG_FILE_MAX_BYTES, &text, &size);
        if (r == -EFBIG)
                return config_diag_add(diags, CONFIG_ERROR, path, 0, "larger than %d bytes; not a configuration file",
                                       CONFIG_FILE_MAX_BYTES), -EINVAL;
        if (r < 0)
                return config_diag_add(diags, CONFIG_ERROR, path, 0, "cannot read: %s", strerror(-r)), -EINVAL;
        return load(text, size, path, ret, diags);
}
