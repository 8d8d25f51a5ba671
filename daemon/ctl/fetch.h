/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * ctl/fetch.h — `etcd-backupctl fetch`: a backup and its sidecar back from
 * the S3 copy, for a node whose own are gone.
 */

#include <stdbool.h>

/* argv[0] is "fetch"; then NAME or "latest" (the newest backup there whose
 * sidecar is there too) and --output DIR (default: the current directory).
 * config_path's upload group says where the copy is. Prints the fetched
 * file's path on stdout. Returns the exit code: 0, 1 (not there, a
 * download or check that failed, a file of that name in DIR; nothing is
 * left in DIR then), 2 usage, 78 no valid configuration or no upload
 * group. */
int ctl_fetch_main(int argc, char **argv, bool json, const char *config_path);
