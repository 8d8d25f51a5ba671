/* SPDX-License-Identifier: MIT */
/*
 * zone-load.c — reading time zones for the pure code (see zone-load.h):
 * the file is read once, whole and bounded, and decoded by
 * format/zone-tzif.c.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/zone-load.h"
#include "util/io.h"
#include "util/macro.h"

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

static int load_or_utc(int r, Zone **ret) {
        return r == -ENOMEM ? r : r < 0 ? zone_new_utc(ret) : 0;
}

int zone_load_local(Zone **ret) {
        const char *tz = getenv("TZ");
        int r;

        if (!ret)
                return -EINVAL;
        if (!tz)
                return load_or_utc(load_file(LOCALTIME_PATH, "localtime", ret), ret);
        if (!*tz)
                return zone_new_utc(ret);
        if (*tz == ':')
                tz++;
        if (*tz == '/')
                r = load_file(tz, tz, ret);
        else if (*tz)
                r = load_relative(tz, ret);
        else
                r = -ENOENT;
        if (r == -ENOENT || r == -EBADMSG || r == -EOPNOTSUPP)
                r = zone_from_rule(tz, ret);
        return load_or_utc(r, ret);
}

static int load_cb(const char *name, Zone **ret, void *userdata) {
        return zone_load(name, ret);
}

const ZoneLoader zone_loader_system = { .load = load_cb };
