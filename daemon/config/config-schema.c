/* SPDX-License-Identifier: MIT */
/*
 * config-schema.c — the configuration's schema: one table per group, each
 * key with its type, where it lands in Config and its range, and the keys
 * that parse themselves (endpoints, URLs, the calendar, compression,
 * recipients, the restore mode, the socket, optional paths, discovery).
 */

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "config/config-internal.h"
#include "config/zone-load.h"
#include "format/age.h"
#include "util/str.h"

/* ---- custom keys ---- */

/* "https://host:port" or "https://[v6]:port"; returns 0 if well-formed. */
/* 1 with a port, 0 without one (443 or 80 is meant), -EINVAL with *ret_reason. */
static int check_url(const char *url, bool allow_http, bool allow_path, const char **ret_reason) {
        const char *p, *host_end, *port = NULL;
        char *end;
        unsigned long portnum;

        if ((p = startswith(url, "https://")))
                ;
        else if (allow_http && (p = startswith(url, "http://")))
                ;
        else
                return *ret_reason = allow_http ? "expected an http:// or https:// URL"
                                                : "expected an https:// URL (TLS is required)", -EINVAL;
        if (*p == '[') {
                host_end = strchr(p, ']');
                if (!host_end || host_end == p + 1)
                        return *ret_reason = "bad IPv6 address", -EINVAL;
                host_end++;
        } else {
                host_end = p + strcspn(p, ":/?#");
                if (host_end == p)
                        return *ret_reason = "missing host", -EINVAL;
        }
        for (const char *h = p; h < host_end; h++)
                if (*h == '@' || *h == ' ')
                        return *ret_reason = "credentials or spaces in the host are not allowed", -EINVAL;
        if (*host_end == ':') {
                port = host_end + 1;
                errno = 0;
                portnum = strtoul(port, &end, 10);
                /* Digits only: strtoul() also takes blanks and a sign, which the URL's readers refuse. */
                if (!isdigit((unsigned char) *port) || end == port || errno || portnum == 0 || portnum > 65535 ||
                    (*end && *end != '/'))
                        return *ret_reason = "bad port (expected 1 to 65535)", -EINVAL;
                host_end = end;
        }
        if (*host_end && (!allow_path || *host_end != '/'))
                return *ret_reason = allow_path ? "unexpected characters after the host"
                                                : "expected scheme://host:port with no path", -EINVAL;
        if (strpbrk(url, "?#"))
                return *ret_reason = "query strings and fragments are not allowed", -EINVAL;
        return !!port;
}

int config_check_endpoint(const char *url, const char **ret_reason) {
        int r = check_url(url, false, false, ret_reason);
        return r < 0 ? r : 0;
}

static int parse_string_array(Loader *l, config_setting_t *s, const char *what, char ***ret) {
        _cleanup_strv_free_ char **v = NULL;
        int type = config_setting_type(s), n;

        if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
                return error_at(l, s, "%s: expected an array of strings [\"…\", …], got %s", what,
                                config_type_name(type)), -EINVAL;
        n = config_setting_length(s);
        if (n == 0)
                return error_at(l, s, "%s: must not be empty", what), -EINVAL;
        for (int i = 0; i < n; i++) {
                config_setting_t *e = config_setting_get_elem(s, (unsigned) i);
                const char *str;
                if (!e || config_get_string(l, e, what, &str) < 0)
                        return -EINVAL;
                if (strv_extend(&v, str) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

static int parse_endpoints(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        _cleanup_strv_free_ char **v = NULL;
        int r;

        r = parse_string_array(l, s, "etcd.endpoints", &v);
        if (r < 0)
                return r;
        for (char **e = v; *e; e++) {
                const char *reason = NULL;
                r = check_url(*e, false, false, &reason);
                if (r < 0)
                        return error_at(l, s, "etcd.endpoints: \"%s\": %s", *e, reason), -EINVAL;
                /* https:// means 443 where etcd listens on 2379: said now, not as a connection error at 2 AM. */
                if (r == 0)
                        (void) warning_at(l, s, "etcd.endpoints: \"%s\" names no port, so 443 is used; etcd's client "
                                          "port is usually 2379 (write :443 if 443 is meant)", *e);
        }
        strv_free(c->etcd.endpoints);
        c->etcd.endpoints = TAKE_PTR(v);
        return 0;
}

/* The zone's next switch on or off daylight saving time within a year of
 * now (its tm_isdst, found by the day, then to the second), or 0. */
static time_t zone_next_switch(const Zone *z, time_t now) {
        struct tm tm;
        time_t lo, hi;
        int first;

        if (zone_localtime(z, now, &tm) < 0)
                return 0;
        first = tm.tm_isdst;
        for (int day = 1; day <= 366; day++) {
                hi = now + (time_t) day * 24 * 3600;
                if (zone_localtime(z, hi, &tm) < 0)
                        return 0;
                if (tm.tm_isdst == first)
                        continue;
                lo = hi - 24 * 3600;
                while (hi - lo > 1) {
                        time_t mid = lo + (hi - lo) / 2;

                        if (zone_localtime(z, mid, &tm) < 0)
                                return 0;
                        if (tm.tm_isdst == first)
                                lo = mid;
                        else
                                hi = mid;
                }
                return hi;
        }
        return 0;
}

/* Whether the schedule, followed elapse by elapse as the daemon does from
 * before the switch at sw, finds no elapse any more (as in systemd, for a
 * calendar that ends in the abbreviation of one half of the year). Each
 * walk is bounded; a calendar too frequent for all of them is not judged. */
static bool schedule_stops_at(const CalendarSpec *spec, const Zone *zone, time_t sw) {
        static const time_t before[] = { 26 * 3600, 3600, 60, 1 };

        /* Past the switch by more than a week: a weekly calendar may still
         * elapse once in the repeated hour, and only then find none. */
        for (size_t i = 0; i < ELEMENTSOF(before); i++) {
                uint64_t e = (uint64_t) (sw - before[i]) * USEC_PER_SEC;
                uint64_t end = (uint64_t) (sw + 8 * 24 * 3600) * USEC_PER_SEC;

                for (unsigned step = 0; step < 2000 && e < end; step++) {
                        int r = calendar_spec_next_usec(spec, zone, e, &e);
                        if (r == -ENOENT)
                                return true;
                        if (r < 0)
                                break;
                }
                if (e >= end)
                        return false;
        }
        return false;
}

/* The last elapse of a schedule that stops for good (schedule_stops_at),
 * followed elapse by elapse from now as the daemon does, or from a day
 * before the switch at sw for one too frequent to follow that far: 0 when
 * neither walk ends within its bound, or when there is no elapse at all. */
static uint64_t schedule_last_elapse(const CalendarSpec *spec, const Zone *zone, time_t now, time_t sw) {
        const time_t from[] = { now, sw - 26 * 3600 };

        for (size_t i = 0; i < ELEMENTSOF(from); i++) {
                uint64_t e, last = 0;

                if (i > 0 && from[i] <= now)
                        break;
                e = (uint64_t) from[i] * USEC_PER_SEC;
                for (unsigned step = 0; step < 4000; step++) {
                        int r = calendar_spec_next_usec(spec, zone, e, &e);
                        if (r == -ENOENT)
                                return last;
                        if (r < 0)
                                return 0;
                        last = e;
                }
        }
        return 0;
}

/* Whether the expression without its trailing abbreviation (abbr) would
 * never elapse either: then the abbreviation is not why (a date gone by). */
static bool never_without(const char *v, const char *abbr, const Zone *zone, time_t now) {
        _cleanup_(calendar_spec_freep) CalendarSpec *plain = NULL;
        _cleanup_free_ char *body = NULL;
        size_t n = strlen(v), a = strlen(abbr);
        uint64_t next;

        if (n <= a + 1)
                return false;
        body = strndup(v, n - a - 1);
        return body && calendar_spec_from_string(body, zone, &zone_loader_system, &plain) >= 0 &&
               calendar_spec_next_usec(plain, zone, (uint64_t) now * USEC_PER_SEC, &next) == -ENOENT;
}

/* The local zone's name for advice, when it is one a calendar can name:
 * not ZONE_LOCALTIME_NAME, a path or a TZ string with no zone file. */
static const char *zone_name_to_suggest(const Zone *z) {
        _cleanup_(zone_freep) Zone *loaded = NULL;
        const char *name = zone_name(z);

        /* "CET" would be read as the abbreviation again. */
        if (!name || !zone_name_is_valid(name) || streq(name, ZONE_LOCALTIME_NAME) ||
            streq_ptr(name, zone_abbreviation(z, 0)) || streq_ptr(name, zone_abbreviation(z, 1)) ||
            zone_load(name, &loaded) < 0)
                return NULL;
        return name;
}

/* A calendar that never elapses again is said: a date gone by, or one
 * ending in the local zone's abbreviation of the half of the year it does
 * not fall in ("02:00 JDT" in Asia/Tokyo). So is one ending in such an
 * abbreviation where the zone switches within a year: as in systemd, it
 * elapses only while that abbreviation is in effect; a daily one finds no
 * elapse at all from about when the other half begins, so the schedule
 * stops for good, and any such one started or reloaded in the other half
 * finds none. */
static void warn_calendar(Loader *l, config_setting_t *s, const char *v, const CalendarSpec *spec, const Zone *zone) {
        time_t now = time(NULL), sw;
        const char *abbr, *other, *suggest, *kind;
        _cleanup_free_ char *advice = NULL;
        bool never;
        uint64_t next;
        int isdst;

        never = calendar_spec_next_usec(spec, zone, (uint64_t) now * USEC_PER_SEC, &next) == -ENOENT;
        abbr = calendar_spec_local_abbreviation(spec, &isdst);
        if (!abbr || !zone || (never && never_without(v, abbr, zone, now))) {
                if (never)
                        (void) warning_at(l, s, "schedule.calendar: \"%s\" never elapses again (systemd-analyze "
                                          "calendar says \"Next elapse: never\"): no scheduled backup runs", v);
                return;
        }
        kind = isdst ? "daylight saving" : "standard";
        other = zone_abbreviation(zone, !isdst);
        if (!other || streq(other, abbr))
                other = isdst ? "standard time" : "daylight saving time";
        suggest = zone_name_to_suggest(zone);
        if (asprintf(&advice, "leave it out (local time all year) or name the zone (%s)",
                     suggest ?: "its name in /usr/share/zoneinfo") < 0)
                return;
        if (never) {
                (void) warning_at(l, s, "schedule.calendar: \"%s\" ends in %s, the local time zone's abbreviation "
                                  "for its %s time: as in systemd, it elapses only while %s is in effect, and from "
                                  "now it never does (\"Next elapse: never\"), so no scheduled backup runs; %s",
                                  v, abbr, kind, abbr, advice);
                return;
        }
        sw = zone_next_switch(zone, now);
        if (sw == 0)
                return;
        if (schedule_stops_at(spec, zone, sw)) {
                uint64_t last = schedule_last_elapse(spec, zone, now, sw);
                char when[64] = "", from[64] = "";
                struct tm tm;

                /* In the layout of systemd-analyze's "Next elapse:". */
                if (last > 0 && zone_localtime(zone, (time_t) (last / USEC_PER_SEC), &tm) >= 0)
                        strftime(when, sizeof when, "%a %Y-%m-%d %H:%M:%S %Z", &tm);
                if (zone_localtime(zone, sw, &tm) >= 0)
                        strftime(from, sizeof from, "%a %Y-%m-%d %H:%M:%S %Z", &tm);
                if (when[0] && from[0])
                        (void) warning_at(l, s, "schedule.calendar: \"%s\" ends in %s, the local time zone's "
                                          "abbreviation for its %s time: as in systemd, it elapses while %s is in "
                                          "effect; its last elapse is %s, and after it there is none at all (%s is "
                                          "in effect from %s), so scheduled backups stop then for good (until the "
                                          "daemon is restarted or reloaded while %s is in effect); %s",
                                          v, abbr, kind, abbr, when, other, from, abbr, advice);
                else
                        (void) warning_at(l, s, "schedule.calendar: \"%s\" ends in %s, the local time zone's "
                                          "abbreviation for its %s time: as in systemd, it elapses while %s is in "
                                          "effect and has no elapse at all from about when %s begins, so scheduled "
                                          "backups stop then for good (until the daemon is restarted or reloaded "
                                          "while %s is in effect); %s", v, abbr, kind, abbr, other, abbr, advice);
        }
        else if (calendar_spec_next_usec(spec, zone, (uint64_t) (sw + 2 * 24 * 3600) * USEC_PER_SEC, &next) == -ENOENT)
                (void) warning_at(l, s, "schedule.calendar: \"%s\" ends in %s, the local time zone's abbreviation "
                                  "for its %s time: as in systemd, it elapses only while %s is in effect, and a "
                                  "start or reload of the daemon while %s is in effect finds no elapse at all, so "
                                  "scheduled backups stop until it is started or reloaded while %s is in effect; %s",
                                  v, abbr, kind, abbr, other, abbr, advice);
}

static int parse_calendar(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        CalendarSpec *spec = NULL;
        const char *v;
        char *copy;
        int r;

        r = config_get_string(l, s, "schedule.calendar", &v);
        if (r < 0)
                return r;
        r = calendar_spec_from_string(v, c->zone, &zone_loader_system, &spec);
        if (r < 0)
                return error_at(l, s, "schedule.calendar: \"%s\" is not a valid calendar event (systemd.time(7), e.g. \"*-*-* 02:00:00\" or \"daily\")", v), -EINVAL;
        warn_calendar(l, s, v, spec, c->zone);
        copy = strdup(v);
        if (!copy) {
                calendar_spec_free(spec);
                return -ENOMEM;
        }
        free(c->schedule.calendar);
        calendar_spec_free(c->schedule.calendar_spec);
        c->schedule.calendar = copy;
        c->schedule.calendar_spec = spec;
        return 0;
}

static int parse_compression(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        const char *v;
        CodecKind kind;
        int r;

        r = config_get_string(l, s, "storage.compression", &v);
        if (r < 0)
                return r;
        if (codec_from_string(v, &kind) < 0)
                return error_at(l, s, "storage.compression: \"%s\" is not one of gzip, zstd, none", v), -EINVAL;
        c->storage.compression = kind;
        return 0;
}

/* Each an age public key in full (its Bech32 checksum too: a key mistyped fails here, not every backup), at most
 * as many as an age header holds. */
static int parse_recipients(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        _cleanup_strv_free_ char **v = NULL;
        int r;

        r = parse_string_array(l, s, "encryption.recipients", &v);
        if (r < 0)
                return r;
        if (strv_length(v) > AGE_STANZAS_MAX)
                return error_at(l, s, "encryption.recipients: %zu keys; an age file is made for %u at most",
                                strv_length(v), (unsigned) AGE_STANZAS_MAX), -EINVAL;
        for (char **e = v; *e; e++) {
                AgeRecipient rcp;
                char shown[128];

                if (age_recipient_parse(*e, &rcp) < 0)
                        return error_at(l, s, "encryption.recipients: \"%s\" is not an age X25519 public key (age1…: "
                                        "mistyped, or its checksum does not match)",
                                        str_printable(shown, sizeof shown, *e, strlen(*e))), -EINVAL;
        }
        strv_free(c->encryption.recipients);
        c->encryption.recipients = TAKE_PTR(v);
        return 0;
}

static int parse_upload_url(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        const char *v, *reason = NULL;
        char *n;
        int r;

        r = config_get_string(l, s, "upload.url", &v);
        if (r < 0)
                return r;
        if (check_url(v, true, true, &reason) < 0)
                return error_at(l, s, "upload.url: \"%s\": %s", v, reason), -EINVAL;
        const char *host = startswith(v, "https://") ?: startswith(v, "http://");
        const char *path = host ? strchr(host, '/') : NULL;
        if (!path || path[1] == '\0' || path[1] == '/')
                return error_at(l, s, "upload.url: \"%s\" names no bucket (expected https://host[:port]/bucket/"
                                "[prefix/])", v), -EINVAL;
        /* The URL names a bucket and an optional prefix; keys are appended to it. */
        if (asprintf(&n, "%s%s", v, endswith(v, "/") ? "" : "/") < 0)
                return -ENOMEM;
        free(c->upload.url);
        c->upload.url = n;
        return 0;
}

static int parse_restore_mode(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        const char *v;
        int r;

        r = config_get_string(l, s, "restore.mode", &v);
        if (r < 0)
                return r;
        if (streq(v, "auto"))
                c->restore.mode = RESTORE_MODE_AUTO;
        else if (streq(v, "systemd"))
                c->restore.mode = RESTORE_MODE_SYSTEMD;
        else if (streq(v, "static-pod"))
                c->restore.mode = RESTORE_MODE_STATIC_POD;
        else
                return error_at(l, s, "restore.mode: \"%s\" is not one of auto, systemd, static-pod", v), -EINVAL;
        return 0;
}

static int parse_socket(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        const char *v;
        int r;

        r = config_get_string(l, s, "control.socket", &v);
        if (r < 0)
                return r;
        if (v[0] != '/')
                return error_at(l, s, "control.socket: expected an absolute path, got \"%s\"", v), -EINVAL;
        if (strlen(v) >= sizeof(((struct sockaddr_un *) NULL)->sun_path))
                return error_at(l, s, "control.socket: path is longer than %zu bytes",
                                sizeof(((struct sockaddr_un *) NULL)->sun_path) - 1), -EINVAL;
        return free_and_strdup(&c->control.socket, v);
}

static int parse_optional_path(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        char **field = config_field_str(c, k);
        const char *v;
        int r;

        r = config_get_string(l, s, k->name, &v);
        if (r < 0)
                return r;
        if (*v && v[0] != '/')
                return error_at(l, s, "metrics.%s: expected \"\" or an absolute path, got \"%s\"", k->name, v), -EINVAL;
        return free_and_strdup(field, *v ? v : NULL);
}

/* ---- the schema ---- */

static int parse_discover(Loader *l, config_setting_t *s, const KeySpec *k, Config *c) {
        const char *v;
        int r;

        r = config_get_string(l, s, "etcd.discover", &v);
        if (r < 0)
                return r;
        if (!streq(v, "auto") && v[0] != '/')
                return error_at(l, s, "etcd.discover: expected \"auto\" or the absolute path of a manifests "
                                "directory, got \"%s\"", v), -EINVAL;
        c->etcd.discover_line = (int) config_setting_source_line(s);
        return free_and_strdup(&c->etcd.discover, v);
}

static const KeySpec etcd_keys[] = {
        { "endpoints", KEY_CUSTOM, 0, 0, 0, parse_endpoints },
        { "discover", KEY_CUSTOM, 0, 0, 0, parse_discover },
        { "cacert", KEY_FILE, FIELD(etcd.cacert) },
        { "cert", KEY_FILE, FIELD(etcd.cert) },
        { "key", KEY_FILE, FIELD(etcd.key) },
        { "connect_timeout", KEY_DURATION, FIELD(etcd.connect_timeout_usec), USEC_PER_MSEC * 100, USEC_PER_HOUR },
        { "timeout", KEY_DURATION, FIELD(etcd.timeout_usec), USEC_PER_SEC, 7 * USEC_PER_DAY },
        {}
};

static const KeySpec retry_keys[] = {
        { "attempts", KEY_UNSIGNED, FIELD(schedule.retry_attempts), 0, 100 },
        { "backoff", KEY_DURATION, FIELD(schedule.retry_backoff_usec), 0, USEC_PER_DAY },
        {}
};

static const KeySpec schedule_keys[] = {
        { "calendar", KEY_CUSTOM, 0, 0, 0, parse_calendar },
        { "randomized_delay", KEY_DURATION, FIELD(schedule.randomized_delay_usec), 0, 7 * USEC_PER_DAY },
        { "persistent", KEY_BOOL, FIELD(schedule.persistent) },
        { "retry", KEY_GROUP, 0, 0, 0, NULL, retry_keys },
        {}
};

static const KeySpec storage_keys[] = {
        { "directory", KEY_ABS_PATH, FIELD(storage.directory) },
        { "compression", KEY_CUSTOM, 0, 0, 0, parse_compression },
        /* Its range is the codec's (check_cross()), said with the codec. */
        { "level", KEY_UNSIGNED, FIELD(storage.level), 0, UINT_MAX },
        { "threads", KEY_UNSIGNED, FIELD(storage.threads), 0, 256 },
        { "min_free", KEY_SIZE, FIELD(storage.min_free_bytes), 0, UINT64_MAX },
        {}
};

static const KeySpec retention_keys[] = {
        { "keep_last", KEY_UNSIGNED, FIELD(retention.keep_last), 0, 100000 },
        { "keep_hourly", KEY_UNSIGNED, FIELD(retention.keep_hourly), 0, 100000 },
        { "keep_daily", KEY_UNSIGNED, FIELD(retention.keep_daily), 0, 100000 },
        { "keep_weekly", KEY_UNSIGNED, FIELD(retention.keep_weekly), 0, 100000 },
        { "keep_monthly", KEY_UNSIGNED, FIELD(retention.keep_monthly), 0, 100000 },
        { "keep_yearly", KEY_UNSIGNED, FIELD(retention.keep_yearly), 0, 100000 },
        {}
};

static const KeySpec encryption_keys[] = {
        { "recipients", KEY_CUSTOM, 0, 0, 0, parse_recipients },
        { "identity_file", KEY_FILE, FIELD(encryption.identity_file) },
        {}
};

static const KeySpec upload_keys[] = {
        { "url", KEY_CUSTOM, 0, 0, 0, parse_upload_url },
        { "region", KEY_NAME, FIELD(upload.region) },
        { "access_key_id", KEY_NAME, FIELD(upload.access_key_id) },
        { "secret_access_key_file", KEY_FILE, FIELD(upload.secret_access_key_file) },
        /* S3 multipart parts are 5 MiB to 5 GiB. */
        { "part_size", KEY_SIZE, FIELD(upload.part_size_bytes), UINT64_C(5) << 20, UINT64_C(5) << 30 },
        { "request_timeout", KEY_DURATION, FIELD(upload.request_timeout_usec), USEC_PER_SEC, USEC_PER_DAY },
        { "abort_incomplete_after", KEY_DURATION, FIELD(upload.abort_incomplete_after_usec), 0, 365 * USEC_PER_DAY },
        { "retention", KEY_BOOL, FIELD(upload.retention) },
        { "allow_insecure_http", KEY_BOOL, FIELD(upload.allow_insecure_http) },
        {}
};

static const KeySpec restore_keys[] = {
        { "mode", KEY_CUSTOM, 0, 0, 0, parse_restore_mode },
        { "data_dir", KEY_ABS_PATH, FIELD(restore.data_dir) },
        { "manifests_dir", KEY_ABS_PATH, FIELD(restore.manifests_dir) },
        { "etcd_unit", KEY_NAME, FIELD(restore.etcd_unit) },
        { "apiserver_unit", KEY_NAME, FIELD(restore.apiserver_unit) },
        { "etcdutl", KEY_STRING, FIELD(restore.etcdutl) },
        { "name", KEY_NAME, FIELD(restore.name) },
        { "initial_cluster", KEY_NAME, FIELD(restore.initial_cluster) },
        { "initial_cluster_token", KEY_NAME, FIELD(restore.initial_cluster_token) },
        { "initial_advertise_peer_urls", KEY_NAME, FIELD(restore.initial_advertise_peer_urls) },
        { "health_timeout", KEY_DURATION, FIELD(restore.health_timeout_usec), USEC_PER_SEC, USEC_PER_DAY },
        { "confirm_timeout", KEY_DURATION, FIELD(restore.confirm_timeout_usec), USEC_PER_SEC, USEC_PER_DAY },
        { "apiserver_cacert", KEY_ABS_PATH, FIELD(restore.apiserver_cacert) },
        { "restart_controllers", KEY_BOOL, FIELD(restore.restart_controllers) },
        {}
};

static const KeySpec control_keys[] = {
        { "socket", KEY_CUSTOM, 0, 0, 0, parse_socket },
        { "group", KEY_STRING, FIELD(control.group) },
        { "backup_min_interval", KEY_DURATION, FIELD(control.backup_min_interval_usec), 0, USEC_PER_DAY },
        {}
};

static const KeySpec metrics_keys[] = {
        { "textfile", KEY_CUSTOM, FIELD(metrics.textfile), 0, 0, parse_optional_path },
        {}
};

static const KeySpec kubernetes_keys[] = {
        { "encryption_config", KEY_FILE, FIELD(kubernetes.encryption_config) },
        {}
};

static const KeySpec root_keys[] = {
        { "etcd", KEY_GROUP, 0, 0, 0, NULL, etcd_keys },
        { "schedule", KEY_GROUP, 0, 0, 0, NULL, schedule_keys },
        { "storage", KEY_GROUP, 0, 0, 0, NULL, storage_keys },
        { "retention", KEY_GROUP, 0, 0, 0, NULL, retention_keys },
        { "encryption", KEY_GROUP, 0, 0, 0, NULL, encryption_keys },
        { "upload", KEY_GROUP, 0, 0, 0, NULL, upload_keys },
        { "restore", KEY_GROUP, 0, 0, 0, NULL, restore_keys },
        { "control", KEY_GROUP, 0, 0, 0, NULL, control_keys },
        { "metrics", KEY_GROUP, 0, 0, 0, NULL, metrics_keys },
        { "kubernetes", KEY_GROUP, 0, 0, 0, NULL, kubernetes_keys },
        {}
};

const KeySpec *config_schema_root(void) {
        return root_keys;
}
