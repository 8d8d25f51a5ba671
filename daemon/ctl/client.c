/* SPDX-License-Identifier: MIT */
/*
 * client.c — JSON-lines socket client (see client.h).
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/client.h"
#include "util/io.h"
#include "util/str.h"

void client_done(Client *c) {
        c->fd = safe_close(c->fd);
        c->buf = mfree(c->buf);
        c->len = c->alloc = 0;
}

int client_connect(Client *c, const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
                return -errno;
        if (c->timeout_usec > 0) {
                /* A Unix stream connect() waits for room in the listener's queue for
                 * as long as SO_SNDTIMEO allows; reads and writes likewise. */
                struct timeval tv = { .tv_sec = (time_t) (c->timeout_usec / 1000000),
                                      .tv_usec = (suseconds_t) (c->timeout_usec % 1000000) };
                if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
                    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0)
                        return -errno;
        }
        if (connect(c->fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return errno == EAGAIN && c->timeout_usec > 0 ? -ETIMEDOUT : -errno;
        return 0;
}

int client_send(Client *c, struct json_object *o) {
        _cleanup_free_ char *line = NULL;
        const char *text;
        int r;

        if (!o)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = text && asprintf(&line, "%s\n", text) >= 0 ? loop_write(c->fd, line, strlen(line)) : -ENOMEM;
        json_object_put(o);
        return r == -EAGAIN ? -ETIMEDOUT : r;
}

/* json-c's nesting limit (32) bounds the recursion. */
int client_make_terminal_safe(struct json_object *o) {
        int r = 0;

        switch (json_object_get_type(o)) {
        case json_type_string: {
                _cleanup_free_ char *s = strdup(json_object_get_string(o));
                if (!s)
                        return -ENOMEM;
                if (str_make_terminal_safe(s) && json_object_set_string(o, s) == 0)
                        return -ENOMEM;
                return 0;
        }
        case json_type_array:
                for (size_t i = 0; r >= 0 && i < json_object_array_length(o); i++)
                        r = client_make_terminal_safe(json_object_array_get_idx(o, i));
                return r;
        case json_type_object: {
                json_object_object_foreach(o, key, value) {
                        (void) key;
                        r = client_make_terminal_safe(value);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        default:
                return 0;
        }
}

int client_recv(Client *c, struct json_object **ret) {
        for (;;) {
                char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;
                ssize_t k;

                if (nl) {
                        size_t used = (size_t) (nl - c->buf) + 1;
                        struct json_object *o;

                        *nl = '\0';
                        o = json_tokener_parse(c->buf);
                        memmove(c->buf, c->buf + used, c->len - used);
                        c->len -= used;
                        if (!o || !json_object_is_type(o, json_type_object)) {
                                json_object_put(o);
                                return -EBADMSG;
                        }
                        *ret = o;
                        return 0;
                }
                if (c->alloc - c->len < 65536) {
                        size_t na = c->alloc ? c->alloc * 2 : 65536;
                        char *nb;
                        if (na > CLIENT_LINE_MAX_BYTES)
                                return -EFBIG;
                        nb = realloc(c->buf, na);
                        if (!nb)
                                return -ENOMEM;
                        c->buf = nb;
                        c->alloc = na;
                }
                k = read(c->fd, c->buf + c->len, c->alloc - c->len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                }
                if (k == 0)
                        return -EPIPE;
                c->len += (size_t) k;
        }
}

const char *json_get_string(struct json_object *o, const char *key) {
        struct json_object *j;
        if (!o || !json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_string))
                return NULL;
        return json_object_get_string(j);
}

int64_t json_get_int(struct json_object *o, const char *key) {
        struct json_object *j;
        if (!o || !json_object_object_get_ex(o, key, &j) || !json_object_is_type(j, json_type_int))
                return 0;
        return json_object_get_int64(j);
}
