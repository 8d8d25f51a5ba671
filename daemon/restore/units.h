/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * units.h — stopping and starting systemd units over D-Bus with sd-bus
 * (org.freedesktop.systemd1.Manager's LoadUnit, StopUnit and StartUnit with
 * mode "replace", then the unit's ActiveState polled until it settles,
 * bounded by a timeout): how the restore stops and starts etcd and
 * kube-apiserver on a node where they are systemd units. Blocking; no
 * logging: every failure comes back as a -errno and a message.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "util/macro.h"

/* How often, at most, unit states and endpoints are polled while waiting
 * (sleep_backoff() from POLL_FIRST_USEC up to this). */
#define UNITS_POLL_USEC (100 * USEC_PER_MSEC)

/* Connect to the system bus. Returns 0 and *ret (release with
 * sd_bus_flush_close_unref()), or a -errno with *ret_error (caller frees)
 * saying why systemd cannot be reached. */
int units_bus_open(sd_bus **ret, char **ret_error);

/* What systemd says about unit: its LoadState ("loaded", "not-found",
 * "masked", …) and ActiveState ("active", "inactive", "failed",
 * "activating", …). Loads the unit if systemd has not yet. Returns 0 with
 * both strings (caller frees), or a -errno with *ret_error (caller frees). */
int units_get_state(sd_bus *bus, const char *unit, char **ret_load_state, char **ret_active_state,
                    char **ret_error);

/* unit's SubState ("running", "auto-restart", …): *ret_sub_state (caller
 * frees), or a -errno with *ret_error (caller frees). */
int units_get_sub_state(sd_bus *bus, const char *unit, char **ret_sub_state, char **ret_error);

/* StopUnit(unit, "replace"), then wait until the unit is "inactive" or
 * "failed", at most timeout_usec. Returns 0, -ETIMEDOUT, or another -errno;
 * on failure *ret_error (caller frees) says why. */
int units_stop(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error);

/* StartUnit(unit, "replace"), then wait until the unit is "active" (0),
 * "failed" or back to "inactive" once its job is gone (-EIO), or
 * timeout_usec passed (-ETIMEDOUT). On failure *ret_error (caller frees)
 * says why. */
int units_start(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error);

/* units_stop() and units_start() of units[n] (at most UNITS_JOBS_MAX) at
 * once: every job is queued, then all are waited for together. */
#define UNITS_JOBS_MAX 4
int units_stop_all(sd_bus *bus, const char *const *units, size_t n, uint64_t timeout_usec, char **ret_error);
int units_start_all(sd_bus *bus, const char *const *units, size_t n, uint64_t timeout_usec, char **ret_error);

/* Append the assignments of the EnvironmentFile= at path to *env, parsed
 * as systemd parses it (format/envfile.h). Returns 0, -EBADMSG for a file
 * with a NUL byte, -EFBIG for one over ENV_FILE_MAX_BYTES, -ENOMEM, or an
 * open/read error. */
int units_read_env_file(const char *path, char ***env);

/* argv as systemd runs an ExecStart= of it: a word that is exactly $NAME
 * becomes the words of NAME's value (split on blanks, quotes and
 * backslashes taken away; a lone "$" gives none), ${NAME} anywhere NAME's
 * value, "$$" a "$", in one pass (a value is not expanded again); an unset
 * NAME is "". The service manager's own environment (DefaultEnvironment=)
 * is not in env. *ret (caller frees). */
int units_expand_argv(char *const *argv, char *const *env, char ***ret);

/* What unit runs: the first command of its ExecStart= (argv, program
 * first; ${NAME} and a word that is exactly $NAME expanded from the
 * environment as systemd expands them) and its environment as systemd resolved it — Environment=, then
 * each EnvironmentFile= read here (KEY=VALUE lines, '#' and ';' comments,
 * quotes removed; a file marked "-" may be missing), so a later assignment
 * wins as in systemd. *ret_argv and *ret_env are NULL-terminated (strv_free()).
 * Returns 0, or a -errno with *ret_error (caller frees): the unit cannot be
 * looked up, has no ExecStart=, or an EnvironmentFile= cannot be read. */
int units_get_exec(sd_bus *bus, const char *unit, char ***ret_argv, char ***ret_env, char **ret_error);

/* The directories unit binds into its mount namespace (BindPaths= and
 * BindReadOnlyPaths=): *ret_pairs (caller frees; NULL when there are none)
 * holds each source, then its destination. Returns 0, or a -errno with
 * *ret_error (caller frees). */
int units_get_binds(sd_bus *bus, const char *unit, char ***ret_pairs, char **ret_error);
