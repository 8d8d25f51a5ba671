/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * control.h — the control socket: a Unix stream socket serving one JSON
 * object per line each way. This module owns the listener (inherited from
 * systemd as "control", or bound here), accepting, access control by peer
 * credentials (root and members of control.group), line framing with a
 * 64 KiB request limit, JSON parsing, and non-blocking buffered replies. It
 * trusts nothing it reads: malformed input gets an error object and the
 * connection stays usable; an oversized line or a client that stops reading
 * is disconnected. What a request means is decided by the owner's handler.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "format/jsonl.h"
#include "util/macro.h"

#define CONTROL_REQUEST_MAX_BYTES JSONL_REQUEST_MAX_BYTES
#define CONTROL_OUTPUT_MAX_BYTES (4 * 1024 * 1024)
/* Connections in all (at most a quarter of the file limit), per uid, and
 * the slots above them that only root may take. */
#define CONTROL_CONNECTIONS_MAX 256
#define CONTROL_CONNECTIONS_PER_UID 16
#define CONTROL_ROOT_RESERVE 8
/* A connection with no request in flight is closed after this long without a request or a byte of its answer
 * sent (taken by the socket: a slow reader of a big answer is not cut). */
#define CONTROL_IDLE_TIMEOUT_USEC (30 * USEC_PER_SEC)

typedef struct ControlServer ControlServer;
typedef struct ControlConnection ControlConnection;

/* A request: method is the "method" member; request the whole object
 * (borrowed for the call). The handler replies with control_send() now or
 * later (keeping a reference with control_connection_ref()). */
typedef void (*ControlRequestFn)(ControlConnection *c, const char *method, struct json_object *request,
                                 void *userdata);
/* The connection is going away; drop any reference the owner keeps. */
typedef void (*ControlCloseFn)(ControlConnection *c, void *userdata);

typedef struct ControlCallbacks {
        ControlRequestFn on_request;
        ControlCloseFn on_close;
        void *userdata;
        /* Denied access attempts are reported here (uid of the peer). */
        void (*on_denied)(uid_t uid, pid_t pid, void *userdata);
        /* accept() failed with err (out of descriptors or memory, or refused by the kernel's security
         * policy); the listener rests for a while instead of spinning on the connection still queued. */
        void (*on_paused)(int err, void *userdata);
} ControlCallbacks;

/* Set up the server on event: take the listener systemd passed with
 * FileDescriptorName=control, or bind path (stale socket removed, mode 0660,
 * parent directory 0755, group `group` if it exists). group "" = root only. */
int control_server_new(sd_event *event, const char *path, const char *group, const ControlCallbacks *cb,
                       ControlServer **ret, char **ret_error);
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

/* Change the group allowed in (after a reload), and close the connections of
 * those it no longer lets in (*ret_closed says how many; NULL: not done).
 * -ENOENT when group names no group: then only root is let in; another
 * -errno when the lookup failed: then nothing changed. */
int control_server_set_group(ControlServer *s, const char *group, unsigned *ret_closed);

/* Whether the socket file at path lets the group allowed in connect. The
 * daemon's own socket is given that group and mode 0660 (0600 without a
 * group) again, for a reload that changed control.group. systemd's socket
 * is systemd's (SocketGroup=, SocketMode=): 0 when its file lets the group
 * in, -EACCES with *ret_error saying why not, or -errno. */
int control_server_check_file(ControlServer *s, const char *path, char **ret_error);

/* What the last look-up of control.group found: 0 the group is in use (or
 * none was asked for), -ENOENT it names no group (root only), or the -errno
 * of a look-up that failed (NSS, LDAP: the group as it was before, at
 * start none). */
int control_server_group_result(const ControlServer *s);

/* True when the listener came from systemd. */
bool control_server_is_activated(const ControlServer *s);
/* The path the listening socket is bound to, in buf (-ENOENT: unnamed or abstract). */
int control_server_path(const ControlServer *s, char *buf, size_t size);

/* The cap on connections for everyone (root may have CONTROL_ROOT_RESERVE
 * more): CONTROL_CONNECTIONS_MAX or a quarter of the file limit. */
unsigned control_server_max_connections(const ControlServer *s);

/* Queue one JSON object as a line (takes ownership of o). Returns 0, or
 * -EPIPE if the connection is closed or was dropped for not reading. */
int control_send(ControlConnection *c, struct json_object *o);

/* {"error": code, "message": message}. */
int control_send_error(ControlConnection *c, const char *code, const char *message);

ControlConnection *control_connection_ref(ControlConnection *c);
ControlConnection *control_connection_unref(ControlConnection *c);
bool control_connection_is_open(const ControlConnection *c);
uid_t control_connection_uid(const ControlConnection *c);
