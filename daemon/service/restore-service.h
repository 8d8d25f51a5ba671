/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * restore-service.h — `etcd-backupd --serve-restore`: one restore on one
 * connection of the root-only restore socket (etcd-backupd-restore.socket,
 * Accept=yes, the connection as standard input and output). It checks the
 * peer is root, reads one JSON request line, plans the restore, and either
 * answers with the plan (dry run) or sends the plan, waits for the
 * operator's confirmation on the same connection and carries it out,
 * streaming each step as a JSON object and ending with a result or an error
 * object. It logs the
 * restore's start, end and failure to the journal with their MESSAGE_IDs.
 */

/* Serve one restore request on the connected Unix stream socket fd (read
 * and written; not closed). config_path is the configuration to load (only
 * its restore, storage and etcd groups are used). The caller has set up
 * logging; SIGPIPE is ignored and SIGTERM, SIGINT and SIGHUP are blocked
 * here while the runbook runs, so that a restore once begun always ends
 * with its rollback rather than half-way. Returns the process exit code: 0
 * when the request succeeded (a dry run, or a restore with etcd healthy and
 * kube-apiserver back), 1 when it was refused, not confirmed or failed
 * (rolled back), 2 for a malformed request or answer, 78 when the configuration is not valid. */
int restore_service_main(const char *config_path, int fd);
