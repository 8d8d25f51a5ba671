/* SPDX-License-Identifier: MIT */
/*
 * control.c — the control socket server (see control.h).
 *
 * Each connection has an input buffer bounded by the request limit and an
 * output buffer bounded by CONTROL_OUTPUT_MAX_BYTES; nothing ever blocks:
 * a client that sends a line too long is told so and disconnected, one
 * that stops reading is disconnected when its output would exceed the
 * bound. Connections are reference-counted so the owner may keep one
 * (e.g. to stream progress) beyond the request that named it.
 *
 * Fairness and abuse: a wake-up handles at most one request of one
 * connection (the line is peeked and only it is taken from the socket, so
 * what follows stays in the kernel and epoll, level-triggered, comes back
 * after the others had their turn), and a connection with output pending is
 * not read. Connections are capped per uid and in all, below the file
 * limit; root has slots of its own above the cap. A connection with nothing
 * in flight is closed after CONTROL_IDLE_TIMEOUT_USEC without a request or a
 * byte of its answer sent. When accept() fails
 * (out of descriptors or memory, or denied) the listener is switched off
 * until a descriptor is freed (a connection closes) or a second has
 * passed, instead of spinning.
 */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "service/control.h"
#include "util/io.h"
#include "util/str.h"

#define ACCEPT_RETRY_USEC USEC_PER_SEC

struct ControlConnection {
        unsigned n_ref;
        ControlServer *server;
        ControlConnection *prev, *next;
        int fd;
        sd_event_source *io;
        sd_event_source *idle_timer;
        struct ucred cred;
        char *in;               /* the start of a line that came in pieces (NULL until needed) */
        size_t in_len;
        char *out;              /* out_len bytes to send from out + out_start */
        size_t out_start, out_len, out_alloc;
        bool closed;
        bool close_after_flush;
        bool read_eof;          /* the client shut down its side; answer what it asked */
        bool discarding;        /* dropping the rest of an oversized line */
};

struct ControlServer {
        sd_event *event;
        int fd;
        bool activated;
        sd_event_source *listen_io;
        sd_event_source *accept_retry;  /* the listener is off after EMFILE */
        bool has_group;
        int group_lookup;               /* control_server_set_group()'s last result */
        gid_t gid;
        dev_t dev;                      /* the socket file the daemon bound (not activated) */
        ino_t ino;
        ControlCallbacks cb;
        ControlConnection *connections;
        unsigned n_connections;
        unsigned max_connections;       /* for everyone; root has CONTROL_ROOT_RESERVE more */
        char *peek;                     /* CONTROL_REQUEST_MAX_BYTES + 1, shared */
};

static void connection_close(ControlConnection *c);
static int flush(ControlConnection *c);
static int update_events(ControlConnection *c);
static void arm_idle_timer(ControlConnection *c);

ControlConnection *control_connection_ref(ControlConnection *c) {
        if (c)
                c->n_ref++;
        return c;
}

ControlConnection *control_connection_unref(ControlConnection *c) {
        if (!c)
                return NULL;
        if (--c->n_ref == 1 && c->read_eof && !c->closed) {
                /* Only the server holds it now: nothing more will be sent. */
                c->close_after_flush = true;
                if (flush(c) < 0)
                        connection_close(c);
                return NULL;
        }
        if (c->n_ref > 0)
                return NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle_timer);
        safe_close(c->fd);
        free(c->in);
        free(c->out);
        free(c);
        return NULL;
}

bool control_connection_is_open(const ControlConnection *c) {
        return c && !c->closed;
}

uid_t control_connection_uid(const ControlConnection *c) {
        return c->cred.uid;
}

/* ---- output ---- */

static int update_events(ControlConnection *c) {
        /* Nothing is read while an answer waits to be taken. */
        uint32_t events = c->close_after_flush || c->read_eof || c->out_len > 0 ? 0 : EPOLLIN;
        if (c->out_len > 0)
                events |= EPOLLOUT;
        return sd_event_source_set_io_events(c->io, events);
}

/* What the client takes moves the start of the rest (no copy per send: a slow reader of a big answer takes it in
 * many pieces), and counts as activity for the idle timer: a big answer read at the client's pace is not cut. */
static int flush(ControlConnection *c) {
        bool sent = false;

        while (c->out_len > 0) {
                ssize_t k = send(c->fd, c->out + c->out_start, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno;
                }
                c->out_start += (size_t) k;
                c->out_len -= (size_t) k;
                sent = sent || k > 0;
        }
        if (c->out_len == 0)
                c->out_start = 0;
        if (sent && c->idle_timer)
                arm_idle_timer(c);
        if (c->out_len == 0 && c->close_after_flush)
                return -ECONNRESET;
        return update_events(c);
}

static int queue(ControlConnection *c, const char *data, size_t n) {
        if (c->closed)
                return -EPIPE;
        if (c->out_len + n > CONTROL_OUTPUT_MAX_BYTES) {
                /* The client does not read what it asked for. */
                connection_close(c);
                return -EPIPE;
        }
        if (c->out_start + c->out_len + n > c->out_alloc && c->out_start > 0) {
                memmove(c->out, c->out + c->out_start, c->out_len);
                c->out_start = 0;
        }
        if (c->out_len + n > c->out_alloc) {
                size_t na = MAX(c->out_alloc * 2, c->out_len + n);
                char *nb = realloc(c->out, na);
                if (!nb) {
                        connection_close(c);
                        return -ENOMEM;
                }
                c->out = nb;
                c->out_alloc = na;
        }
        memcpy(c->out + c->out_start + c->out_len, data, n);
        c->out_len += n;
        if (flush(c) < 0) {
                connection_close(c);
                return -EPIPE;
        }
        return 0;
}

int control_send(ControlConnection *c, struct json_object *o) {
        const char *text;
        int r;

        if (!o)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text) {
                json_object_put(o);
                return -ENOMEM;
        }
        if (strlen(text) >= CONTROL_OUTPUT_MAX_BYTES) {
                /* An answer the connection could never hold (List of thousands of backups): said, not dropped. */
                char msg[160];

                snprintf(msg, sizeof msg, "the answer is %zu bytes, more than the control socket's limit of %u",
                         strlen(text), (unsigned) CONTROL_OUTPUT_MAX_BYTES);
                json_object_put(o);
                return control_send_error(c, "too_large", msg);
        }
        r = queue(c, text, strlen(text));
        if (r >= 0)
                r = queue(c, "\n", 1);
        json_object_put(o);
        return r;
}

int control_send_error(ControlConnection *c, const char *code, const char *message) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "error", json_object_new_string(code));
        json_object_object_add(o, "message", json_object_new_string(message));
        return control_send(c, o);
}

/* ---- input ---- */

static void connection_close(ControlConnection *c) {
        ControlServer *s = c->server;

        if (c->closed)
                return;
        c->closed = true;
        c->io = sd_event_source_disable_unref(c->io);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        c->fd = safe_close(c->fd);
        if (s->accept_retry) {
                /* A descriptor is free again: accept again. */
                s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
                (void) sd_event_source_set_enabled(s->listen_io, SD_EVENT_ON);
        }
        if (c->prev)
                c->prev->next = c->next;
        else
                s->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_connections--;
        if (s->cb.on_close)
                s->cb.on_close(c, s->cb.userdata);
        control_connection_unref(c);
}

static void handle_line(ControlConnection *c, char *line, size_t n) {
        ControlServer *s = c->server;
        const char *method, *code, *message;
        struct json_object *o;

        if (n > 0 && line[n - 1] == '\r')
                line[--n] = '\0';
        if (n == 0)
                return;
        if (jsonl_parse_request(line, n, &o, &method, &code, &message) < 0) {
                control_send_error(c, code, message);
                return;
        }
        s->cb.on_request(c, method, o, s->cb.userdata);
        json_object_put(o);
}

static void arm_idle_timer(ControlConnection *c) {
        (void) sd_event_source_set_time_relative(c->idle_timer, CONTROL_IDLE_TIMEOUT_USEC);
        (void) sd_event_source_set_enabled(c->idle_timer, SD_EVENT_ONESHOT);
}

static int on_idle_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        ControlConnection *c = userdata;

        if (c->n_ref > 1) {
                /* A request is in flight (a backup it waits for): not idle. */
                arm_idle_timer(c);
                return 0;
        }
        connection_close(c);
        return 0;
}

/* Takes at most one line from the socket (peeked first, so the rest stays
 * queued in the kernel) and handles it. */
static void read_one(ControlConnection *c) {
        ControlServer *s = c->server;
        size_t room = CONTROL_REQUEST_MAX_BYTES + 1 - c->in_len, take;
        char *nl;
        ssize_t k;

        k = recv(c->fd, s->peek, room, MSG_PEEK | MSG_DONTWAIT);
        if (k < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        connection_close(c);
                return;
        }
        if (k == 0) {
                /* EOF. Half a request is dropped; what was asked is still answered
                 * unless nobody (but the server) holds the connection. */
                c->read_eof = true;
                if (c->n_ref <= 2) {
                        c->close_after_flush = true;
                        if (flush(c) < 0)
                                connection_close(c);
                } else
                        (void) update_events(c);
                return;
        }
        nl = memchr(s->peek, '\n', (size_t) k);
        take = nl ? (size_t) (nl - s->peek) + 1 : (size_t) k;
        k = recv(c->fd, s->peek, take, MSG_DONTWAIT);
        if (k < 0 || (size_t) k != take) {
                /* Nobody else reads this socket: what was peeked is there. */
                connection_close(c);
                return;
        }
        if (c->discarding) {
                /* The rest of an oversized line: dropped up to its newline. */
                if (nl)
                        c->discarding = false;
                return;
        }
        if (!nl) {
                if (c->in_len + take > CONTROL_REQUEST_MAX_BYTES) {
                        control_send_error(c, "too_large", "requests are at most 64 KiB; the line was dropped");
                        c->in_len = 0;
                        c->discarding = true;
                        return;
                }
                if (!c->in && !(c->in = malloc(CONTROL_REQUEST_MAX_BYTES + 2))) {
                        connection_close(c);
                        return;
                }
                memcpy(c->in + c->in_len, s->peek, take);
                c->in_len += take;
                return;
        }
        arm_idle_timer(c);
        if (c->in_len > 0) {
                /* The line's start came earlier; a line within the limit fits. */
                if (c->in_len + take - 1 > CONTROL_REQUEST_MAX_BYTES) {
                        control_send_error(c, "too_large", "requests are at most 64 KiB; the line was dropped");
                        c->in_len = 0;
                        return;
                }
                memcpy(c->in + c->in_len, s->peek, take - 1);
                c->in[c->in_len + take - 1] = '\0';
                take = c->in_len + take - 1;
                c->in_len = 0;
                handle_line(c, c->in, take);
        } else {
                s->peek[take - 1] = '\0';
                handle_line(c, s->peek, take - 1);
        }
}

static int on_connection_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlConnection *c = control_connection_ref(userdata);

        if (revents & EPOLLOUT && flush(c) < 0)
                connection_close(c);
        if (!c->closed && c->read_eof && (revents & (EPOLLHUP | EPOLLERR)))
                /* Closed both ways after its end of file (a half-close shows no
                 * EPOLLHUP): nobody will read an answer, and epoll would report
                 * the hangup again on every turn of the loop. */
                connection_close(c);
        else if (!c->closed && !c->close_after_flush && c->out_len == 0 && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                read_one(c);
        else if (!c->closed && (revents & (EPOLLHUP | EPOLLERR)) && !(revents & EPOLLOUT))
                /* Gone while an answer waited: nobody will take it. */
                connection_close(c);
        control_connection_unref(c);
        return 0;
}

/* ---- access ---- */

static bool peer_in_group(int fd, gid_t gid) {
        _cleanup_free_ gid_t *groups = NULL;
        socklen_t len = 64 * sizeof(gid_t);

        for (int tries = 0; tries < 3; tries++) {
                gid_t *n = realloc(groups, len);
                if (!n)
                        return false;
                groups = n;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0) {
                        for (size_t i = 0; i < len / sizeof(gid_t); i++)
                                if (groups[i] == gid)
                                        return true;
                        return false;
                }
                if (errno != ERANGE)
                        return false;
        }
        return false;
}

static bool allowed(ControlServer *s, int fd, const struct ucred *cred) {
        if (cred->uid == 0)
                return true;
        if (!s->has_group)
                return false;
        return cred->gid == s->gid || peer_in_group(fd, s->gid);
}

static unsigned connections_of(ControlServer *s, uid_t uid) {
        unsigned n = 0;
        for (ControlConnection *c = s->connections; c; c = c->next)
                n += c->cred.uid == uid;
        return n;
}

/* NULL when cred may have another connection, else why not. */
static const char *over_cap(ControlServer *s, const struct ucred *cred) {
        if (cred->uid == 0)
                return s->n_connections >= s->max_connections + CONTROL_ROOT_RESERVE
                       ? "{\"error\":\"busy\",\"message\":\"too many connections to the control socket; try again later\"}\n"
                       : NULL;
        if (s->n_connections >= s->max_connections)
                return "{\"error\":\"busy\",\"message\":\"too many connections to the control socket; try again later\"}\n";
        if (connections_of(s, cred->uid) >= CONTROL_CONNECTIONS_PER_UID)
                return "{\"error\":\"busy\",\"message\":\"too many connections from this user (at most 16); close some\"}\n";
        return NULL;
}

static int on_accept_retry(sd_event_source *source, uint64_t usec, void *userdata) {
        ControlServer *s = userdata;
        s->accept_retry = sd_event_source_disable_unref(s->accept_retry);
        return sd_event_source_set_enabled(s->listen_io, SD_EVENT_ON);
}

/* accept() failed (no descriptor, no memory, or denied): stop listening
 * until a descriptor is freed (a connection closes) or a second has passed
 * (a backup worker ended); the connection stays queued, and the listener,
 * still readable, would otherwise spin on it. */
static void pause_accepting(ControlServer *s, int err) {
        if (s->accept_retry)
                return;
        if (sd_event_add_time_relative(s->event, &s->accept_retry, CLOCK_MONOTONIC, ACCEPT_RETRY_USEC, 0,
                                       on_accept_retry, s) < 0)
                return; /* keep listening: spinning beats deafness */
        (void) sd_event_source_set_enabled(s->listen_io, SD_EVENT_OFF);
        if (s->cb.on_paused)
                s->cb.on_paused(err, s->cb.userdata);
}

static int on_accept(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;

        /* A bounded batch: a flood of connections must not hold the loop. */
        for (unsigned i = 0; i < 64; i++) {
                static const char denied[] =
                        "{\"error\":\"access_denied\",\"message\":\"only root and members of the control group may use this socket\"}\n";
                struct ucred cred;
                socklen_t len = sizeof cred;
                ControlConnection *c;
                const char *busy;
                int cfd, r;

                cfd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno != EAGAIN) /* EWOULDBLOCK is EAGAIN on Linux */
                                pause_accepting(s, errno);
                        return 0;
                }
                if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                        safe_close(cfd);
                        continue;
                }
                if (!allowed(s, cfd, &cred)) {
                        (void) send(cfd, denied, sizeof denied - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                        safe_close(cfd);
                        if (s->cb.on_denied)
                                s->cb.on_denied(cred.uid, cred.pid, s->cb.userdata);
                        continue;
                }
                busy = over_cap(s, &cred);
                if (busy) {
                        (void) send(cfd, busy, strlen(busy), MSG_NOSIGNAL | MSG_DONTWAIT);
                        safe_close(cfd);
                        continue;
                }
                /* A byte sent out of band (MSG_OOB) is kept apart from the stream, where the peek in read_one()
                 * does not see it while epoll says the socket is readable: the loop would spin. Inline, it is
                 * part of the request like any other byte. */
                if (setsockopt(cfd, SOL_SOCKET, SO_OOBINLINE, &(int) { 1 }, sizeof(int)) < 0) {
                        safe_close(cfd);
                        continue;
                }
                c = calloc(1, sizeof *c);
                if (!c) {
                        safe_close(cfd);
                        continue;
                }
                c->n_ref = 1;
                c->server = s;
                c->fd = cfd;
                c->cred = cred;
                r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_connection_io, c);
                if (r >= 0)
                        r = sd_event_add_time_relative(s->event, &c->idle_timer, CLOCK_MONOTONIC,
                                                       CONTROL_IDLE_TIMEOUT_USEC, USEC_PER_SEC, on_idle_timer, c);
                if (r < 0) {
                        sd_event_source_disable_unref(c->io);
                        c->fd = safe_close(c->fd);
                        free(c);
                        continue;
                }
                c->next = s->connections;
                if (s->connections)
                        s->connections->prev = c;
                s->connections = c;
                s->n_connections++;
        }
        return 0;
}

/* ---- setup ---- */

/* The connections of those the group no longer lets in are closed: access is
 * checked when a client connects, and an open connection would keep it. */
static unsigned close_disallowed(ControlServer *s) {
        unsigned n = 0;

        for (ControlConnection *c = s->connections, *next; c; c = next) {
                next = c->next;
                if (!allowed(s, c->fd, &c->cred)) {
                        connection_close(c);
                        n++;
                }
        }
        return n;
}

int control_server_set_group(ControlServer *s, const char *group, unsigned *ret_closed) {
        struct group *g;
        int r = 0;

        if (ret_closed)
                *ret_closed = 0;
        if (group && *group) {
                errno = 0;
                g = getgrnam(group);
                /* Not found is NULL with errno 0 (or one of these); anything else is a lookup that failed
                 * (NSS, LDAP): the group is kept as it was, and nobody loses access for it. */
                if (!g && errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM) {
                        s->group_lookup = -errno;
                        return s->group_lookup;
                }
                if (g) {
                        s->gid = g->gr_gid;
                        s->has_group = true;
                } else {
                        s->has_group = false;
                        r = -ENOENT;
                }
        } else
                s->has_group = false;
        if (ret_closed)
                *ret_closed = close_disallowed(s);
        s->group_lookup = r;
        return r;
}

static mode_t file_mode(const ControlServer *s) {
        return s->has_group ? 0660 : 0600;
}

/* The daemon's own socket file: 0660 and control.group's, or 0600 without a
 * group. Changed through the inode the daemon bound, never by its path: a
 * user who may write the socket's directory could put a symbolic link or
 * another file there, and root's chmod and chown would follow it. */
/* Whether this process is in group gid (its own, or one of its supplementary groups). */
static bool in_group(gid_t gid) {
        gid_t groups[256];
        int n = getgroups(ELEMENTSOF(groups), groups);

        if (getegid() == gid)
                return true;
        for (int i = 0; i < n; i++)
                if (groups[i] == gid)
                        return true;
        return false;
}

static int set_file_mode(const ControlServer *s, const char *path, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        char proc[64];
        struct stat st;
        int r;

        fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return r = -errno, asprintf(ret_error, "cannot open the control socket %s: %m", path), r;
        if (!S_ISSOCK(st.st_mode) || st.st_dev != s->dev || st.st_ino != s->ino)
                return asprintf(ret_error, "%s is no longer the socket the daemon bound (%s put in its place?); its "
                                "mode and group are left as they are: remove it, let only root write its "
                                "directory, and restart etcd-backupd", path,
                                S_ISLNK(st.st_mode) ? "a symbolic link" : "another file"), -ESTALE;
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if ((st.st_mode & 07777) != file_mode(s) && chmod(proc, file_mode(s)) < 0)
                return r = -errno, asprintf(ret_error, "cannot chmod %s: %m", path), r;
        /* Root may give it any group; another user one it is a member of. */
        if (s->has_group && st.st_gid != s->gid && fchownat(fd, "", (uid_t) -1, s->gid, AT_EMPTY_PATH) < 0) {
                r = -errno;
                if (r == -EPERM && geteuid() != 0 && in_group(s->gid))
                        return asprintf(ret_error, "cannot give the control socket %s to control.group (gid %u): the "
                                        "change was denied although the daemon's user is in that group (a system "
                                        "call filter: the shipped unit's SystemCallFilter= denies it), so only root "
                                        "can use the socket; let etcd-backupd.socket make the socket", path,
                                        (unsigned) s->gid), r;
                if (r == -EPERM && geteuid() != 0)
                        return asprintf(ret_error, "cannot give the control socket %s to control.group (gid %u): the "
                                        "daemon runs as uid %u, which is not in that group, so only root can use the "
                                        "socket; add the daemon's user to the group (SupplementaryGroups=), or let "
                                        "etcd-backupd.socket make the socket", path, (unsigned) s->gid,
                                        (unsigned) geteuid()), r;
                return asprintf(ret_error, "cannot chown %s: %s", path, strerror(-r)), r;
        }
        return 0;
}

int control_server_path(const ControlServer *s, char *buf, size_t size) {
        struct sockaddr_un sa = {};
        socklen_t len = sizeof sa;

        if (getsockname(s->fd, (struct sockaddr *) &sa, &len) < 0)
                return -errno;
        if (sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == '\0')
                return -ENOENT; /* unnamed or abstract */
        len -= offsetof(struct sockaddr_un, sun_path);
        if ((size_t) len >= size)
                return -ENAMETOOLONG;
        memcpy(buf, sa.sun_path, len);
        buf[len] = '\0';
        return 0;
}

int control_server_check_file(ControlServer *s, const char *path, char **ret_error) {
        char bound[sizeof ((struct sockaddr_un) {}).sun_path + 1];
        struct stat st;
        int r;

        if (!s->activated)
                return set_file_mode(s, path, ret_error);
        /* The file systemd bound, whatever control.socket says. */
        if (control_server_path(s, bound, sizeof bound) < 0 || bound[0] != '/')
                return 0;       /* abstract or unnamed: no file to look at */
        path = bound;
        if (stat(path, &st) < 0)
                return r = -errno, asprintf(ret_error, "cannot stat %s: %m", path), r;
        if (!s->has_group) {
                /* Connecting takes write permission. */
                if (st.st_mode & 0022)
                        return asprintf(ret_error, "only root may use the control socket (control.group is empty or "
                                        "names no group), but the socket %s from systemd is group %u, mode %04o: "
                                        "others can connect, and each is refused; set SocketMode=0600 in "
                                        "etcd-backupd.socket (systemctl edit etcd-backupd.socket) and restart it",
                                        path, (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777)), -EACCES;
                return 0;
        }
        if (st.st_gid != s->gid || (st.st_mode & 0060) != 0060)
                return asprintf(ret_error, "the socket %s from systemd is group %u, mode %04o: members of control.group "
                                "(gid %u) cannot connect; set SocketGroup= and SocketMode=0660 in "
                                "etcd-backupd.socket (systemctl edit etcd-backupd.socket) and restart it",
                                path, (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777), (unsigned) s->gid),
                       -EACCES;
        return 0;
}

static int take_activated(void) {
        char **names = NULL;
        int n, fd = -EBADF;

        n = sd_listen_fds_with_names(0, &names);
        for (int i = 0; i < n; i++) {
                int candidate = SD_LISTEN_FDS_START + i;
                if (fd < 0 && names && streq(names[i], "control") &&
                    sd_is_socket_unix(candidate, SOCK_STREAM, 1, NULL, 0) > 0)
                        fd = candidate;
        }
        strv_free(names);
        return fd;
}

/* Whether a process listens on the Unix socket at path: 1 it does (the
 * connection was taken or its queue is full), 0 nobody does
 * (ECONNREFUSED), or -errno when that cannot be told. */
static int socket_answers(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) >= 0 || errno == EAGAIN)
                return 1;
        return errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
}

static int bind_socket(const char *path, ControlServer *s, char **ret_error) {
        _cleanup_close_ int fd = -EBADF, file = -EBADF;
        _cleanup_free_ char *parent = strdup(path);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        char *slash;
        int r;

        if (!parent)
                return -ENOMEM;
        if (strlen(path) >= sizeof sa.sun_path)
                return asprintf(ret_error, "socket path %s is too long", path), -ENAMETOOLONG;
        slash = strrchr(parent, '/');
        if (slash && slash != parent) {
                *slash = '\0';
                r = mkdir_p(parent, 0755);
                if (r < 0)
                        return asprintf(ret_error, "cannot create %s: %s", parent, strerror(-r)), r;
        }
        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return asprintf(ret_error, "%s exists and is not a socket; not replacing it", path), -EEXIST;
                r = socket_answers(path);
                if (r > 0)
                        return asprintf(ret_error, "another process answers on %s; not replacing it", path), -EADDRINUSE;
                if (r < 0)
                        return asprintf(ret_error, "cannot tell whether %s is in use (%s); not replacing it", path,
                                        strerror(-r)), r;
                /* A socket left by an earlier run: nobody listens on it. */
                if (unlink(path) < 0)
                        return r = -errno, asprintf(ret_error, "cannot remove stale socket %s: %m", path), r;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return r = -errno, asprintf(ret_error, "cannot create socket: %m"), r;
        strcpy(sa.sun_path, path);
        {
                /* Made with its mode, never changed by path after (set_file_mode()). */
                mode_t old = umask(0777 & ~file_mode(s));
                r = bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0 ? -errno : 0;
                (void) umask(old);
        }
        if (r < 0)
                return asprintf(ret_error, "cannot bind %s: %s", path, strerror(-r)), r;
        /* The file just bound is a socket of ours; anything else was put there since. */
        file = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (file < 0 || fstat(file, &st) < 0)
                return r = -errno, asprintf(ret_error, "cannot open the socket %s just bound: %m", path), r;
        if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())
                return asprintf(ret_error, "%s was replaced right after it was bound; not using it", path), -ESTALE;
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        r = set_file_mode(s, path, ret_error);
        if (r == -EPERM && geteuid() != 0)
                *ret_error = mfree(*ret_error); /* not fatal: said by the check after the start */
        else if (r < 0)
                return r;
        if (listen(fd, SOMAXCONN) < 0)
                return r = -errno, asprintf(ret_error, "cannot listen on %s: %m", path), r;
        return TAKE_FD(fd);
}

int control_server_new(sd_event *event, const char *path, const char *group, const ControlCallbacks *cb,
                       ControlServer **ret, char **ret_error) {
        _cleanup_(control_server_freep) ControlServer *s = calloc(1, sizeof *s);
        int r;

        if (!s)
                return -ENOMEM;
        s->fd = -EBADF;
        s->event = sd_event_ref(event);
        s->cb = *cb;
        s->peek = malloc(CONTROL_REQUEST_MAX_BYTES + 1);
        if (!s->peek)
                return -ENOMEM;
        {
                /* Well under the file limit: the rest is for the loop, the journal
                 * and a backup worker's pipe. */
                struct rlimit rl;
                s->max_connections = CONTROL_CONNECTIONS_MAX;
                if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur != RLIM_INFINITY)
                        s->max_connections = (unsigned) MIN((rlim_t) CONTROL_CONNECTIONS_MAX, rl.rlim_cur / 4);
                s->max_connections = MAX(s->max_connections, 1u);
        }
        /* Without the group only root gets in; the owner checks
         * control_server_group_result() and says so. */
        (void) control_server_set_group(s, group, NULL);
        s->fd = take_activated();
        if (s->fd >= 0) {
                s->activated = true;
                (void) fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
        } else {
                s->fd = bind_socket(path, s, ret_error);
                if (s->fd < 0)
                        return s->fd;
        }
        r = sd_event_add_io(event, &s->listen_io, s->fd, EPOLLIN, on_accept, s);
        if (r >= 0)
                (void) sd_event_source_set_priority(s->listen_io, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int control_server_group_result(const ControlServer *s) {
        return s->group_lookup;
}

bool control_server_is_activated(const ControlServer *s) {
        return s->activated;
}

unsigned control_server_max_connections(const ControlServer *s) {
        return s->max_connections;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->connections)
                connection_close(s->connections);
        sd_event_source_disable_unref(s->listen_io);
        sd_event_source_disable_unref(s->accept_retry);
        free(s->peek);
        /* An inherited listener belongs to systemd: close our copy, never shut it down. */
        safe_close(s->fd);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}
