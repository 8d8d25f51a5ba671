/* SPDX-License-Identifier: MIT */
/*
 * zone-load.c — reading time zones for the pure code (see zone-load.h):
 * the file is read once, whole and bounded, and decoded by
 * format/zone-tzif.c.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/zone-load.h"
#include "util/io.h"
#include "util/macro.h"
#include "util/str.h"

/* The largest TZif file in tzdata is a few kB. */
#define TZIF_FILE_MAX (1024 * 1024)
#define LOCALTIME_PATH "/etc/localtime"

static const char *zoneinfo_dir(void) {
        const char *d = secure_getenv("TZDIR");
        return d && *d ? d : "/usr/share/zoneinfo";
}

/* Reads and decodes the TZif file at path; the zone is named name. */
static int load_file(const char *path, const char *name, Zone **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        r = read_full_file(path, TZIF_FILE_MAX, &buf, &size);
        if (r < 0)
                return r == -ENOMEM ? r : -ENOENT;
        return zone_from_tzif((const uint8_t *) buf, size, name, ret);
}

static int load_relative(const char *name, Zone **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", zoneinfo_dir(), name) < 0)
                return -ENOMEM;
        return load_file(path, name, ret);
}

int zone_load(const char *name, Zone **ret) {
        int r;

        if (!ret)
                return -EINVAL;
        if (!zone_name_is_valid(name))
                return -ENOENT;
        r = load_relative(name, ret);
        if (r == -ENOENT && streq(name, "UTC"))
                return zone_new_utc(ret);
        return r;
}

/* UTC in place of a zone that could not be used. No zone file at all is
 * UTC as in glibc, silently; a file that is there but cannot be used
 * (leap seconds, damaged) is said, since the schedule would run hours off. */
static int load_or_utc(int r, int file_r, const char *what, Zone **ret, char **ret_reason) {
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                return 0;
        if (ret_reason && (file_r == -EOPNOTSUPP || file_r == -EBADMSG) &&
            asprintf(ret_reason, "the local time zone (%s) %s; the schedule and retention use UTC instead", what,
                     file_r == -EOPNOTSUPP ? "counts leap seconds (a right/ zone), which is not supported"
                                           : "is not a valid TZif file") < 0)
                return -ENOMEM;
        return zone_new_utc(ret);
}

/* The zone's name in a path to its file ("/usr/share/zoneinfo/Europe/Berlin",
 * "../usr/share/zoneinfo/posix/Europe/Berlin": "Europe/Berlin"), if it has
 * one. */
static const char *name_in_path(const char *path) {
        const char *p, *name = NULL;

        for (p = path; (p = strstr(p, "zoneinfo/")); p++)
                if (p == path || p[-1] == '/')
                        name = p + strlen("zoneinfo/");
        if (name && startswith(name, "posix/"))
                name += strlen("posix/");
        return name && zone_name_is_valid(name) && !streq(name, ZONE_LOCALTIME_NAME) ? name : NULL;
}

/* /etc/localtime, named as its link names it, else as the end of its chain
 * of links does (through /etc/alternatives, say); else ZONE_LOCALTIME_NAME. */
static int load_localtime(Zone **ret) {
        _cleanup_free_ char *resolved = NULL;
        char target[PATH_MAX];
        const char *name = NULL;
        ssize_t n;

        n = readlink(LOCALTIME_PATH, target, sizeof target - 1);
        if (n > 0) {
                target[n] = 0;
                name = name_in_path(target);
                if (!name && (resolved = realpath(LOCALTIME_PATH, NULL)))
                        name = name_in_path(resolved);
        }
        return load_file(LOCALTIME_PATH, name ?: ZONE_LOCALTIME_NAME, ret);
}

bool zone_local_is_localtime(void) {
        const char *tz = getenv("TZ");

        if (!tz)
                return true;
        if (*tz == ':')
                tz++;
        return streq(tz, LOCALTIME_PATH);
}

int zone_load_local(Zone **ret, char **ret_reason) {
        _cleanup_free_ char *what = NULL;
        const char *tz = getenv("TZ");
        int r, file_r;

        if (!ret)
                return -EINVAL;
        if (ret_reason)
                *ret_reason = NULL;
        if (zone_local_is_localtime()) {
                r = load_localtime(ret);
                return load_or_utc(r, r, LOCALTIME_PATH, ret, ret_reason);
        }
        if (!*tz)
                return zone_new_utc(ret);
        if (*tz == ':')
                tz++;
        if (*tz == '/')
                r = load_file(tz, name_in_path(tz) ?: tz, ret);
        else if (*tz)
                r = load_relative(tz, ret);
        else
                r = -ENOENT;
        file_r = r;
        if (r == -ENOENT || r == -EBADMSG || r == -EOPNOTSUPP)
                r = zone_from_rule(tz, ret);
        if (asprintf(&what, "TZ=%s", tz) < 0)
                return -ENOMEM;
        return load_or_utc(r, file_r, what, ret, ret_reason);
}

int zone_localtime_snapshot(char **ret, size_t *ret_size) {
        _cleanup_free_ char *data = NULL;
        char target[PATH_MAX];
        ssize_t n = readlink(LOCALTIME_PATH, target, sizeof target - 1);
        size_t size = 0, t = n > 0 ? (size_t) n : 0;
        char *buf;
        int r;

        r = read_full_file(LOCALTIME_PATH, TZIF_FILE_MAX, &data, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                size = 0;       /* missing or unreadable: told apart from what it was all the same */
        buf = malloc(t + 1 + size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, target, t);
        buf[t] = 0;
        if (size > 0)
                memcpy(buf + t + 1, data, size);
        *ret = buf;
        *ret_size = t + 1 + size;
        return 0;
}

static int load_cb(const char *name, Zone **ret, void *userdata) {
        return zone_load(name, ret);
}

const ZoneLoader zone_loader_system = { .load = load_cb };
