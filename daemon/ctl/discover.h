/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/discover.h — `etcd-backupctl discover`: finds etcd's endpoints and
 * client certificates in kube-apiserver's flags and the restore settings in
 * etcd's (restore/discover.h), prints a complete commented configuration or
 * the credentials drop-in, or writes both and says how to enable the
 * service.
 */

#include <stdbool.h>

/* argv[0] is "discover"; options --manifests-dir DIR, --apiserver-unit
 * NAME, --etcd-unit NAME, --drop-in, --write, --force, --root DIR.
 * config_path is where --write puts the configuration (below --root).
 * Returns the exit code: 0, 1 (nothing found, a bad source, a file that
 * exists without --force; nothing written), 2 usage, 78 the configuration
 * would not pass --check-config (nothing written). With json: an object
 * {"etcd", "restore" (each value {"value", "source"}), "config",
 * "drop_in"}, or after --write {"wrote": [the two paths]}. */
int ctl_discover_main(int argc, char **argv, const char *config_path, bool json);
