/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * zone-load.h — the edge where time zones come in: reading a zone's TZif
 * file from the zoneinfo directory ($TZDIR, else /usr/share/zoneinfo) and
 * finding the local zone ($TZ, else /etc/localtime), once per configuration
 * made, into a Zone that the pure code (format/zone.h) is then given; and a
 * snapshot of /etc/localtime to tell when it changed.
 */

#include "format/zone.h"

/* The zone named name ("Europe/Berlin"; zone_name_is_valid() syntax), read
 * from the zoneinfo directory; "UTC" is UTC even without a file. Returns 0
 * and *ret, -ENOENT (no such zone: a bad name, no such file, not a
 * regular file), -EBADMSG (not a usable TZif file), -ENOMEM. */
int zone_load(const char *name, Zone **ret);

/* The local zone as glibc finds it: $TZ unset (or naming /etc/localtime,
 * zone_local_is_localtime()) means /etc/localtime; empty
 * means UTC; ":NAME" or "NAME" a TZif file (relative names under the
 * zoneinfo directory); otherwise a POSIX TZ string ("CET-1CEST,…"). What
 * cannot be read or parsed is UTC, as in glibc. The zone is named by its
 * file's path below a zoneinfo directory ("Europe/Berlin", also for
 * /etc/localtime when it is a link there), else by TZ (ZONE_LOCALTIME_NAME
 * for an /etc/localtime that names no zone). Returns 0 and *ret, or
 * -ENOMEM. When a zone file is there but could not be used (leap seconds,
 * damaged), *ret_reason (may be NULL) says so, for a warning; else NULL. */
int zone_load_local(Zone **ret, char **ret_reason);

/* The name of a local zone /etc/localtime gives no name (a copy of a zone
 * file, a link outside a zoneinfo directory); never a zone's own name. */
#define ZONE_LOCALTIME_NAME "localtime"

/* Whether the local zone is /etc/localtime's: $TZ unset, or naming that
 * file (":/etc/localtime", which spares glibc a look at it per call). */
bool zone_local_is_localtime(void);

/* What /etc/localtime is now, to tell a change of it: the target of the
 * link (if it is one), a NUL, and the bytes it leads to (if any). Returns 0
 * and *ret of *ret_size bytes, or -ENOMEM. */
int zone_localtime_snapshot(char **ret, size_t *ret_size);

/* zone_load() as a ZoneLoader for the parsers that accept a zone name. */
extern const ZoneLoader zone_loader_system;
