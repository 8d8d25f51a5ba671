/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/restore.h — `etcd-backupctl restore NAME|latest|FILE [--dry-run]
 * [--yes] [--socket PATH]`: the client of the root-only restore socket. It
 * asks for a dry run first and prints the plan, asks for confirmation on a
 * terminal, then asks for the restore of exactly the backup the plan named
 * and prints each step as it happens.
 */

#include <stdbool.h>

#define CTL_RESTORE_DEFAULT_SOCKET "/run/etcd-backupd/restore.sock"

/* Run the restore sub-command. argv[0] is the sub-command's name; the rest
 * are its arguments and options (--dry-run, --yes/-y, --socket PATH,
 * --json, --help), parsed with getopt_long from optind 0. json is the
 * global --json (JSON lines on stdout: each step object, then the result).
 * config_path is accepted for symmetry with the other sub-commands and not
 * read: the restore service resolves names with its own configuration.
 * restore_socket is the socket to use when --socket is not given (NULL: the
 * default, CTL_RESTORE_DEFAULT_SOCKET). Returns the exit code: 0 when etcd
 * is healthy on the restored data and kube-apiserver is back (or the dry
 * run succeeded), 1 when the restore was refused or failed (and was rolled
 * back), 2 usage (also: no --yes while standard input is not a terminal),
 * 69 when the restore socket cannot be reached, 78 when the service's
 * configuration is not valid. */
int ctl_restore_main(int argc, char **argv, bool json, const char *config_path, const char *restore_socket);
