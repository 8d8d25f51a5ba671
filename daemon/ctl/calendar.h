/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/calendar.h — `etcd-backupctl calendar`: the next elapses of calendar
 * expressions, in the layout of systemd 252's `systemd-analyze calendar`.
 */

#include <stdbool.h>

/* Runs the sub-command. argv[0] is "calendar"; options are --iterations N,
 * --base-time TIME and --help. Prints to stdout (with json, an array of
 * {"expression", "normalized", "next": [RFC 3339, UTC]} or {"expression",
 * "error"}), errors to stderr. Returns
 * the exit code: 0 success (also for --help), 1 if an expression could not
 * be parsed or evaluated (the others are still printed), 2 usage error. */
int ctl_calendar_main(int argc, char **argv, bool json);
