/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * config.h — the configuration file (libconfig syntax, SPEC.md) turned into
 * a plain validated struct: durations in usec, sizes in bytes, enums, owned
 * strings. Loading never stops at the first problem: every error and warning
 * is collected with its file and line so `--check-config` can print them all.
 * Unknown groups and keys are errors, so a typo never silently disables a
 * setting.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/calendar.h"
#include "format/codec-kind.h"
#include "format/retention.h"
#include "util/macro.h"
#include "build-config.h"

/* meson's sysconfdir: /etc for a package (prefix /usr), /usr/local/etc for a
 * developer's `meson install`. */
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/etcd-backupd/etcd-backupd.conf"
#define UPLOAD_REQUEST_TIMEOUT_DEFAULT_USEC (5 * USEC_PER_MINUTE)
#define UPLOAD_ABORT_INCOMPLETE_AFTER_DEFAULT_USEC USEC_PER_DAY

typedef enum RestoreMode {
        RESTORE_MODE_AUTO,
        RESTORE_MODE_SYSTEMD,
        RESTORE_MODE_STATIC_POD,
} RestoreMode;

typedef struct ConfigEtcd {
        char **endpoints;               /* "https://host:port", at least one */
        char *cacert, *cert, *key;      /* resolved paths; NULL = unset */
        char *discover;                 /* NULL, "auto" or a manifests directory: the four
                                         * above come from kube-apiserver's flags (discover.h) */
        int discover_line;              /* its line in the file, for what it finds wrong */
        uint64_t connect_timeout_usec;
        uint64_t timeout_usec;
} ConfigEtcd;

typedef struct ConfigSchedule {
        char *calendar;
        CalendarSpec *calendar_spec;
        uint64_t randomized_delay_usec;
        bool persistent;
        unsigned retry_attempts;
        uint64_t retry_backoff_usec;
} ConfigSchedule;

typedef struct ConfigStorage {
        char *directory;
        CodecKind compression;
        unsigned level;
        unsigned threads;               /* 0 = one per usable CPU (codec_usable_cpus()) */
        uint64_t min_free_bytes;
} ConfigStorage;

typedef struct ConfigEncryption {
        bool enabled;                   /* the group is present */
        char **recipients;              /* age1… public keys */
        char *identity_file;            /* resolved path; NULL = unset */
} ConfigEncryption;

typedef struct ConfigUpload {
        bool enabled;                   /* the group is present */
        char *url;                      /* ends with '/' */
        char *region;
        char *access_key_id;
        char *secret_access_key_file;   /* resolved path */
        uint64_t part_size_bytes;
        uint64_t request_timeout_usec;  /* each request's bound, plus its body's time at 64 KiB/s;
                                         * 0: UPLOAD_REQUEST_TIMEOUT_DEFAULT_USEC */
        uint64_t abort_incomplete_after_usec; /* a multipart upload under the prefix older than this is
                                               * aborted; 0: never */
        bool retention;
        bool allow_insecure_http;       /* an http:// url is accepted (encrypted backups only) */
} ConfigUpload;

typedef struct ConfigRestore {
        RestoreMode mode;
        char *data_dir;                 /* NULL = what etcd runs with (etcd.yaml); the rest of these too */
        char *manifests_dir;
        char *etcd_unit, *apiserver_unit;
        char *etcdutl;                  /* "" = etcdutl, else the named etcdctl/etcdutl */
        char *name;
        char *initial_cluster;
        char *initial_cluster_token;
        char *initial_advertise_peer_urls;
        uint64_t health_timeout_usec;
        uint64_t confirm_timeout_usec;  /* how long the plan waits for the operator's answer */
        char *apiserver_cacert;         /* NULL = kube-apiserver's --client-ca-file */
        bool restart_controllers;       /* restart kube-controller-manager and kube-scheduler afterwards */
} ConfigRestore;

typedef struct ConfigControl {
        char *socket;
        char *group;                    /* "" = root only */
        uint64_t backup_min_interval_usec;      /* between backups started by non-root callers */
} ConfigControl;

typedef struct ConfigKubernetes {
        /* kube-apiserver's EncryptionConfiguration: each backup's Secrets are
         * checked against it (resolved path; NULL = unset). */
        char *encryption_config;
} ConfigKubernetes;

typedef struct ConfigMetrics {
        char *textfile;                 /* NULL = off */
} ConfigMetrics;

typedef struct Config {
        char *path;
        char *text;                     /* the file's text as read: read again when the local zone changes */
        Zone *zone;                     /* the local zone ($TZ, /etc/localtime), read once when the
                                         * configuration is made (the daemon makes it again when
                                         * /etc/localtime changes): the schedule and retention use it */
        char *zone_warning;             /* why zone is UTC instead of the local zone's file, or NULL */
        char *localtime;                /* /etc/localtime when zone was read (zone_localtime_snapshot()) */
        size_t localtime_size;
        ConfigEtcd etcd;
        ConfigSchedule schedule;
        ConfigStorage storage;
        RetentionPolicy retention;
        ConfigEncryption encryption;
        ConfigUpload upload;
        ConfigRestore restore;
        ConfigControl control;
        ConfigMetrics metrics;
        ConfigKubernetes kubernetes;
} Config;

typedef enum ConfigSeverity {
        CONFIG_WARNING,
        CONFIG_ERROR,
} ConfigSeverity;

typedef struct ConfigDiag {
        ConfigSeverity severity;
        char *file;
        int line;                       /* 0 = no line (e.g. the file cannot be read) */
        char *message;
} ConfigDiag;

typedef struct ConfigDiags {
        ConfigDiag *items;
        size_t n;
        size_t n_errors;
} ConfigDiags;

/* A Config with every default of SPEC.md filled in. NULL on ENOMEM. */
Config *config_new_default(void);

Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* Load and validate path. Every problem is appended to diags (which the
 * caller initialises to {} and releases with config_diags_done()). Returns
 * 0 and a new Config when there was no error (warnings allowed), -EINVAL
 * when there were errors, -ENOMEM. Relative key and secret file names are
 * resolved in $CREDENTIALS_DIRECTORY when it is set, else beside the config
 * file. Files that do not exist are warnings here. */
int config_load(const char *path, Config **ret, ConfigDiags *diags);

/* Like config_load, on a buffer; `name` is used as the file name in
 * diagnostics and for relative names. Used by the fuzzer and tests, and by
 * the daemon to read its configuration's text again for a new local zone. */
int config_load_string(const char *text, const char *name, Config **ret, ConfigDiags *diags);

/* An etcd endpoint as etcd.endpoints takes it: "https://host:port" or
 * "https://[v6]:port". 0, or -EINVAL with *ret_reason (static) saying why. */
int config_check_endpoint(const char *url, const char **ret_reason);

/* Print every diagnostic as "FILE:LINE: message" (warnings as
 * "FILE:LINE: warning: message") to f. */
void config_diags_print(const ConfigDiags *diags, FILE *f);
void config_diags_done(ConfigDiags *diags);

const char *restore_mode_to_string(RestoreMode m);
