/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/offline.h — the offline sub-commands of etcd-backupctl: verify,
 * inspect, get and audit, on a backup NAME (looked up in the configured
 * storage directory) or any FILE path, plain or age-encrypted. No daemon
 * and no etcd needed.
 */

#include <stdbool.h>

/* Each runs one sub-command. argv[0] is the sub-command's name; the rest are
 * its arguments and options (--json, --help, --identity FILE, which may be
 * repeated, and --prefix for get), parsed with getopt_long from optind 0.
 * json is the global --json. config_path is the configuration file (NULL:
 * the default path), loaded only when an argument is a backup name rather
 * than a file, or when the backup is encrypted and no --identity was given
 * (then its encryption.identity_file is used; a default configuration that
 * does not exist is no error, just no identity). Identities are wiped once
 * the backup is read. Output goes to stdout, errors to stderr. Returns the
 * exit code: 0 success (also --help, and get when no key matches), 1 the
 * operation failed (unreadable or damaged backup, a failed check, no or no
 * matching age identity, an unreadable identity file), 2 usage error, 78
 * configuration error (only when the configuration was needed). */
int ctl_verify_main(int argc, char **argv, bool json, const char *config_path);
int ctl_inspect_main(int argc, char **argv, bool json, const char *config_path);
int ctl_get_main(int argc, char **argv, bool json, const char *config_path);
int ctl_audit_main(int argc, char **argv, bool json, const char *config_path);
int ctl_objects_main(int argc, char **argv, bool json, const char *config_path);
