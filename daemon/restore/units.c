/* SPDX-License-Identifier: MIT */
/*
 * units.c — systemd units over D-Bus and static-pod manifests, the two ways
 * the restore stops and starts etcd and kube-apiserver. Waiting on a job is
 * done by polling the unit's ActiveState (and whether the job object still
 * exists) rather than by subscribing to JobRemoved: polling needs no signal
 * match, cannot miss a signal sent before the match was installed, and is
 * bounded by the same clock as every other wait of the restore.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "restore/units.h"
#include "util/io.h"
#include "util/str.h"
#include "util/time.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_JOB "org.freedesktop.systemd1.Job"
/* Each D-Bus call; systemd answers at once, jobs are waited for separately. */
#define BUS_CALL_TIMEOUT_USEC (25 * USEC_PER_SEC)

static void bus_error_freep(sd_bus_error *e) {
        sd_bus_error_free(e);
}

static void bus_message_unrefp(sd_bus_message **m) {
        sd_bus_message_unref(*m);
}

_printf_(2, 3) static void set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        if (!ret_error)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = s;
}

static const char *bus_reason(const sd_bus_error *e, int r) {
        return e && e->message ? e->message : strerror(r < 0 ? -r : r);
}

int units_bus_open(sd_bus **ret, char **ret_error) {
        sd_bus *bus = NULL;
        int r;

        r = sd_bus_open_system(&bus);
        if (r < 0) {
                set_error(ret_error, "cannot connect to the system bus: %s", strerror(-r));
                return r;
        }
        (void) sd_bus_set_method_call_timeout(bus, BUS_CALL_TIMEOUT_USEC);
        *ret = bus;
        return 0;
}

/* The unit's object path, loading the unit if needed (caller frees). */
static int unit_path(sd_bus *bus, const char *unit, char **ret, char **ret_error) {
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *path;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, "LoadUnit", &error, &reply,
                               "s", unit);
        if (r < 0) {
                set_error(ret_error, "cannot look up %s: %s", unit, bus_reason(&error, r));
                return r;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0) {
                set_error(ret_error, "cannot look up %s: bad reply from systemd", unit);
                return r;
        }
        *ret = strdup(path);
        return *ret ? 0 : -ENOMEM;
}

static int unit_property(sd_bus *bus, const char *path, const char *property, char **ret) {
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;

        return sd_bus_get_property_string(bus, SYSTEMD_DEST, path, SYSTEMD_UNIT, property, &error, ret);
}

int units_get_state(sd_bus *bus, const char *unit, char **ret_load_state, char **ret_active_state,
                    char **ret_error) {
        _cleanup_free_ char *path = NULL, *load = NULL, *active = NULL;
        int r;

        r = unit_path(bus, unit, &path, ret_error);
        if (r < 0)
                return r;
        r = unit_property(bus, path, "LoadState", &load);
        if (r >= 0)
                r = unit_property(bus, path, "ActiveState", &active);
        if (r < 0) {
                set_error(ret_error, "cannot read the state of %s: %s", unit, strerror(-r));
                return r;
        }
        *ret_load_state = TAKE_PTR(load);
        *ret_active_state = TAKE_PTR(active);
        return 0;
}

/* Whether the job object still exists (1), is gone (0), or -errno. */
static int job_exists(sd_bus *bus, const char *job) {
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state = NULL;
        int r;

        r = sd_bus_get_property_string(bus, SYSTEMD_DEST, job, SYSTEMD_JOB, "State", &error, &state);
        if (r >= 0)
                return 1;
        if (sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT) ||
            sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_METHOD) ||
            sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_INTERFACE) ||
            sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_PROPERTY))
                return 0;
        return r;
}

/* Call method ("StopUnit"/"StartUnit") and return the job's path. */
static int unit_job(sd_bus *bus, const char *method, const char *unit, char **ret_job, char **ret_error) {
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *job;
        int r;

        r = sd_bus_call_method(bus, SYSTEMD_DEST, SYSTEMD_PATH, SYSTEMD_MANAGER, method, &error, &reply, "ss",
                               unit, "replace");
        if (r < 0) {
                set_error(ret_error, "%s %s: %s", method, unit, bus_reason(&error, r));
                return r;
        }
        r = sd_bus_message_read(reply, "o", &job);
        if (r < 0) {
                set_error(ret_error, "%s %s: bad reply from systemd", method, unit);
                return r;
        }
        *ret_job = strdup(job);
        return *ret_job ? 0 : -ENOMEM;
}

/* Call StartUnit or StopUnit and wait, at most timeout_usec, until the job is gone and the unit has settled:
 * "active" after a start (a unit restarting by its own Restart= is waited through), "inactive" or "failed"
 * after a stop. Whether the job exists is read before the unit's state: once the job is gone, a state read
 * after that says how it went. Read the other way round, a state from before the job ended (a start's
 * earlier "failed", say) can be taken for the job's result. */
static int unit_run_job(sd_bus *bus, const char *unit, bool start, uint64_t timeout_usec, char **ret_error) {
        _cleanup_free_ char *path = NULL, *job = NULL;
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec;
        int r;

        r = unit_path(bus, unit, &path, ret_error);
        if (r < 0)
                return r;
        r = unit_job(bus, start ? "StartUnit" : "StopUnit", unit, &job, ret_error);
        if (r < 0)
                return r;
        for (;;) {
                _cleanup_free_ char *active = NULL;
                int exists;

                exists = job_exists(bus, job);
                if (exists < 0) {
                        set_error(ret_error, "cannot read the %s job of %s: %s", start ? "start" : "stop", unit,
                                  strerror(-exists));
                        return exists;
                }
                r = unit_property(bus, path, "ActiveState", &active);
                if (r < 0) {
                        set_error(ret_error, "cannot read the state of %s: %s", unit, strerror(-r));
                        return r;
                }
                if (!exists) {
                        if (start ? streq(active, "active") : streq(active, "inactive") || streq(active, "failed"))
                                return 0;
                        if (start && !streq(active, "activating") && !streq(active, "reloading")) {
                                set_error(ret_error, "%s did not start: it is %s (see journalctl -u %s)", unit,
                                          active, unit);
                                return -EIO;
                        }
                }
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        set_error(ret_error, "%s is still %s after the %s timeout", unit, active,
                                  start ? "start" : "stop");
                        return -ETIMEDOUT;
                }
                sleep_usec(UNITS_POLL_USEC);
        }
}

int units_stop(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error) {
        return unit_run_job(bus, unit, false, timeout_usec, ret_error);
}

int units_start(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error) {
        return unit_run_job(bus, unit, true, timeout_usec, ret_error);
}

/* ---- static pods ---------------------------------------------------------------- */

int units_manifest_move(const char *from_dir, const char *to_dir, const char *file) {
        _cleanup_close_ int from_fd = -EBADF, to_fd = -EBADF;
        int r;

        if (strchr(file, '/') || streq(file, ".") || streq(file, ".."))
                return -EINVAL;
        from_fd = open(from_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (from_fd < 0)
                return -errno;
        to_fd = open(to_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (to_fd < 0)
                return -errno;
        if (renameat2(from_fd, file, to_fd, file, RENAME_NOREPLACE) < 0)
                return -errno;
        /* Durable before anyone relies on it: a crash must not resurrect the pod. */
        if (fsync(to_fd) < 0 || fsync(from_fd) < 0) {
                r = -errno;
                return r;
        }
        return 0;
}

/* The value of `flag=` in the manifest at path, up to a blank, quote, comma or bracket (YAML list items may be
 * quoted); *ret is NULL when the flag is not there. The first occurrence counts. */
static int manifest_flag(const char *path, const char *flag, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0, flag_len = strlen(flag);
        const char *p;
        int r;

        r = read_full_file(path, UNITS_MANIFEST_MAX_BYTES, &text, &size);
        if (r < 0)
                return r;
        for (p = text; (p = memmem(p, size - (size_t) (p - text), flag, flag_len)); p += flag_len) {
                size_t n;

                if (p[flag_len] != '=')
                        continue;
                p += flag_len + 1;
                n = strcspn(p, " \t\r\n\"',]#");
                *ret = strndup(p, n);
                return *ret ? 0 : -ENOMEM;
        }
        *ret = NULL;
        return 0;
}

int units_manifest_port(const char *path, const char *flag, uint16_t default_port, uint16_t *ret) {
        _cleanup_free_ char *value = NULL;
        uint32_t port = 0;
        size_t digits = 0;
        int r;

        r = manifest_flag(path, flag, &value);
        if (r < 0)
                return r;
        if (!value) {
                *ret = default_port;
                return 0;
        }
        for (const char *p = value; *p; p++, digits++) {
                if (*p < '0' || *p > '9' || digits >= 5)
                        return -EBADMSG;
                port = port * 10 + (uint32_t) (*p - '0');
        }
        if (digits == 0 || port == 0 || port > 65535)
                return -EBADMSG;
        *ret = (uint16_t) port;
        return 0;
}

int units_manifest_address(const char *path, const char *flag, char **ret) {
        _cleanup_free_ char *value = NULL;
        struct in6_addr a6;
        struct in_addr a4;
        int r;

        r = manifest_flag(path, flag, &value);
        if (r < 0)
                return r;
        if (!value || inet_pton(AF_INET, value, &a4) == 1) {
                if (!value || a4.s_addr == htonl(INADDR_ANY))
                        return (*ret = strdup("127.0.0.1")) ? 0 : -ENOMEM;
        } else if (inet_pton(AF_INET6, value, &a6) == 1) {
                if (IN6_IS_ADDR_UNSPECIFIED(&a6))
                        return (*ret = strdup("::1")) ? 0 : -ENOMEM;
        } else
                return -EBADMSG;
        *ret = TAKE_PTR(value);
        return 0;
}

int units_tcp_probe(const char *address, uint16_t port, uint64_t timeout_usec) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t sa_len, len = sizeof(int);
        _cleanup_close_ int fd = -EBADF;
        struct pollfd pfd;
        int err = 0, r;

        if (inet_pton(AF_INET, address, &sa.in.sin_addr) == 1) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(port);
                sa_len = sizeof sa.in;
        } else if (inet_pton(AF_INET6, address, &sa.in6.sin6_addr) == 1) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(port);
                sa_len = sizeof sa.in6;
        } else
                return -EINVAL;
        fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, &sa.sa, sa_len) >= 0)
                return 1;
        if (errno == ECONNREFUSED || errno == ECONNRESET)
                return 0;
        if (errno != EINPROGRESS)
                return -errno;
        pfd = (struct pollfd) { .fd = fd, .events = POLLOUT };
        r = poll(&pfd, 1, (int) MIN(timeout_usec / USEC_PER_MSEC, (uint64_t) 60000));
        if (r < 0)
                return -errno;
        if (r == 0)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                return -errno;
        return err == 0 ? 1 : 0;
}
