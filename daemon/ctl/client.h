/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * client.h — the client side of the JSON-lines sockets (the daemon's control
 * socket, the restore socket): connect, send one object as a line, read
 * objects line by line with a bound on the line length, and read typed
 * members out of what came back. Blocking; for etcd-backupctl.
 */

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "util/macro.h"

#define CLIENT_LINE_MAX_BYTES (16u * 1024 * 1024)

typedef struct Client {
        int fd;
        char *buf;
        size_t len, alloc;
        uint64_t timeout_usec;  /* for connect, each send and each receive; 0 = none */
} Client;

#define CLIENT_INIT ((Client) { .fd = -EBADF })

/* Close and free; the Client may be reused after CLIENT_INIT. */
void client_done(Client *c);

/* Connect to the Unix stream socket at path. 0 or -errno; -ETIMEDOUT when
 * c->timeout_usec is set and the listener's queue stayed full that long. */
int client_connect(Client *c, const char *path);

/* Send o as one line; takes ownership of o. 0 or -errno (-EPIPE when the
 * other side already closed: it may have said why, so read before giving up;
 * -ETIMEDOUT when it took in nothing for c->timeout_usec). */
int client_send(Client *c, struct json_object *o);

/* The next object. -EPIPE when the other side closed, -EBADMSG for a line
 * that is not a JSON object, -EFBIG for one over CLIENT_LINE_MAX_BYTES,
 * -ETIMEDOUT when nothing arrived for c->timeout_usec. */
int client_recv(Client *c, struct json_object **ret);

/* Make every string in o safe to print on a terminal (str_make_terminal_safe()):
 * the daemon's answers quote text it did not write (file names, etcd's and
 * the store's messages). Only for what is printed for people: a string sent
 * back to the daemon (the restore's confirmation) must stay as it came.
 * 0 or -ENOMEM. */
int client_make_terminal_safe(struct json_object *o);

/* A string or integer member of o; NULL / 0 when absent or of another type. */
const char *json_get_string(struct json_object *o, const char *key);
int64_t json_get_int(struct json_object *o, const char *key);

static inline void json_object_putp(struct json_object **o) {
        json_object_put(*o);
}
