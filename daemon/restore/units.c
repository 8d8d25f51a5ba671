/* SPDX-License-Identifier: MIT */
/*
 * units.c — systemd units over D-Bus, the way the restore stops and starts
 * etcd and kube-apiserver when they are units. Waiting on a job is
 * done by polling the unit's ActiveState (and whether the job object still
 * exists) rather than by subscribing to JobRemoved: polling needs no signal
 * match, cannot miss a signal sent before the match was installed, and is
 * bounded by the same clock as every other wait of the restore.
 */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "format/envfile.h"
#include "restore/units.h"
#include "util/io.h"
#include "util/str.h"
#include "util/time.h"

#define SYSTEMD_DEST "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSTEMD_UNIT "org.freedesktop.systemd1.Unit"
#define SYSTEMD_JOB "org.freedesktop.systemd1.Job"
#define SYSTEMD_SERVICE "org.freedesktop.systemd1.Service"
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

int units_get_sub_state(sd_bus *bus, const char *unit, char **ret_sub_state, char **ret_error) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = unit_path(bus, unit, &path, ret_error);
        if (r < 0)
                return r;
        r = unit_property(bus, path, "SubState", ret_sub_state);
        if (r < 0)
                set_error(ret_error, "cannot read the state of %s: %s", unit, strerror(-r));
        return r;
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

/* How many of the unit's last journal lines an error carries, and how much of each. */
#define JOURNAL_TAIL_LINES 4
#define JOURNAL_LINE_MAX 240

/* The unit's journal lines since since_usec (CLOCK_REALTIME), its own and
 * systemd's about it, the last JOURNAL_TAIL_LINES of them, each quoted and
 * cut to JOURNAL_LINE_MAX bytes, joined with "; "; NULL when there are none
 * or the journal cannot be read (an error message is then just shorter). */
static char *journal_tail(const char *unit, uint64_t since_usec) {
        _cleanup_free_ char *own = NULL, *about = NULL, *out = NULL;
        char *lines[JOURNAL_TAIL_LINES] = {};
        sd_journal *j = NULL;
        int n = 0;

        if (asprintf(&own, "_SYSTEMD_UNIT=%s", unit) < 0 || asprintf(&about, "UNIT=%s", unit) < 0)
                return NULL;
        if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) < 0)
                return NULL;
        if (sd_journal_add_match(j, own, 0) >= 0 && sd_journal_add_disjunction(j) >= 0 &&
            sd_journal_add_match(j, about, 0) >= 0 && sd_journal_seek_tail(j) >= 0)
                while (n < JOURNAL_TAIL_LINES && sd_journal_previous(j) > 0) {
                        const void *data;
                        size_t size;
                        uint64_t t;

                        if (sd_journal_get_realtime_usec(j, &t) < 0 || t < since_usec)
                                break;
                        if (sd_journal_get_data(j, "MESSAGE", &data, &size) < 0 || size < 8)
                                continue;
                        size -= 8;
                        if (asprintf(&lines[n], "\"%.*s\"", (int) MIN(size, (size_t) JOURNAL_LINE_MAX),
                                     (const char *) data + 8) >= 0)
                                n++;
                }
        sd_journal_close(j);
        while (n > 0) {
                char *joined = NULL;
                n--;
                if (asprintf(&joined, "%s%s%s", out ? out : "", out ? "; " : "", lines[n]) >= 0) {
                        free(out);
                        out = joined;
                }
                free(lines[n]);
        }
        return TAKE_PTR(out);
}

/* What systemd knows about why unit is not up: its SubState, and for a
 * service its Result= (unless "success") and how its main process ended,
 * then its last journal lines since since_usec. Never NULL unless out of memory. */
static char *unit_failure_detail(sd_bus *bus, const char *unit, const char *path, uint64_t since_usec) {
        _cleanup_free_ char *sub = NULL, *result = NULL, *how = NULL, *tail = NULL;
        char *s = NULL;

        (void) unit_property(bus, path, "SubState", &sub);
        if (endswith(unit, ".service")) {
                _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
                int32_t code = 0, status = 0;

                if (sd_bus_get_property_string(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "Result", &error,
                                               &result) >= 0 && streq(result, "success"))
                        result = mfree(result);  /* what every unit says until something went wrong */
                if (sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "ExecMainCode", &error,
                                                'i', &code) >= 0 &&
                    sd_bus_get_property_trivial(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "ExecMainStatus", &error,
                                                'i', &status) >= 0) {
                        if (code == CLD_EXITED && asprintf(&how, ", main process exited with status %d", status) < 0)
                                how = NULL;
                        else if ((code == CLD_KILLED || code == CLD_DUMPED) &&
                                 asprintf(&how, ", main process killed by signal %s", sigabbrev_np(status) ?
                                          sigabbrev_np(status) : "?") < 0)
                                how = NULL;
                }
        }
        tail = journal_tail(unit, since_usec);
        if (asprintf(&s, "(%s%s%s%s%s; see journalctl -u %s%s%s)", sub ? "sub-state " : "", sub ? sub : "",
                     result ? (sub ? ", result " : "result ") : "", result ? result : "", how ? how : "", unit,
                     tail ? "; its last lines: " : "", tail ? tail : "") < 0)
                return NULL;
        return s;
}

/* One unit's job being waited for. */
typedef struct UnitJob {
        const char *unit;
        char *path;
        char *job;
        bool settled;
} UnitJob;

/* Whether j's job is gone and its unit has settled: "active" after a start (a unit restarting by its own
 * Restart= is waited through), "inactive" or "failed" after a stop. 1 settled, 0 not yet, or -errno with
 * *ret_error. Whether the job exists is read before the unit's state: once the job is gone, a state read
 * after that says how it went. Read the other way round, a state from before the job ended (a start's
 * earlier "failed", say) can be taken for the job's result. */
static int unit_job_settled(sd_bus *bus, UnitJob *j, bool start, uint64_t since, char **ret_error) {
        _cleanup_free_ char *active = NULL;
        int exists, r;

        exists = job_exists(bus, j->job);
        if (exists < 0) {
                set_error(ret_error, "cannot read the %s job of %s: %s", start ? "start" : "stop", j->unit,
                          strerror(-exists));
                return exists;
        }
        r = unit_property(bus, j->path, "ActiveState", &active);
        if (r < 0) {
                set_error(ret_error, "cannot read the state of %s: %s", j->unit, strerror(-r));
                return r;
        }
        if (exists)
                return 0;
        if (start ? streq(active, "active") : streq(active, "inactive") || streq(active, "failed"))
                return 1;
        if (start && !streq(active, "activating") && !streq(active, "reloading")) {
                _cleanup_free_ char *detail = unit_failure_detail(bus, j->unit, j->path, since);
                set_error(ret_error, "%s did not start: it is %s %s", j->unit, active, detail ? detail : "");
                return -EIO;
        }
        return 0;
}

/* Call StartUnit or StopUnit for each of units[n], all at once, and wait, at most timeout_usec, until
 * every job is gone and its unit has settled (unit_job_settled()). */
static int units_run_jobs(sd_bus *bus, const char *const *units, size_t n, bool start, uint64_t timeout_usec,
                          char **ret_error) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + timeout_usec, since = now_usec(CLOCK_REALTIME),
                 delay = POLL_FIRST_USEC;
        _cleanup_free_ char *later = NULL;
        UnitJob jobs[UNITS_JOBS_MAX] = {};
        char **err = ret_error;
        size_t left = n;
        int r = 0, k = 0;

        if (n > ELEMENTSOF(jobs))
                return -E2BIG;
        /* Every unit is asked even when one could not be (a start refused
         * for the first must not leave the second stopped), and the jobs
         * asked for are waited for. The first failure is the error; those
         * after it are not said. */
        for (size_t i = 0; i < n; i++) {
                jobs[i].unit = units[i];
                k = unit_path(bus, units[i], &jobs[i].path, err);
                if (k >= 0)
                        k = unit_job(bus, start ? "StartUnit" : "StopUnit", units[i], &jobs[i].job, err);
                if (k < 0) {
                        jobs[i].settled = true;         /* nothing to wait for */
                        left--;
                        r = r < 0 ? r : k;
                        err = &later;
                }
        }
        for (k = 0; left > 0;) {
                for (size_t i = 0; i < n && k >= 0; i++) {
                        if (jobs[i].settled)
                                continue;
                        k = unit_job_settled(bus, &jobs[i], start, since, err);
                        if (k > 0) {
                                jobs[i].settled = true;
                                left--;
                        }
                }
                if (k < 0 || left == 0)
                        break;
                if (now_usec(CLOCK_MONOTONIC) >= deadline) {
                        for (size_t i = 0; i < n; i++) {
                                _cleanup_free_ char *active = NULL, *detail = NULL;
                                if (jobs[i].settled)
                                        continue;
                                (void) unit_property(bus, jobs[i].path, "ActiveState", &active);
                                detail = unit_failure_detail(bus, jobs[i].unit, jobs[i].path, since);
                                if (active)
                                        set_error(err, "%s is still %s after the %s timeout (%" PRIu64 " s) %s",
                                                  jobs[i].unit, active, start ? "start" : "stop",
                                                  timeout_usec / USEC_PER_SEC, detail ? detail : "");
                                else
                                        set_error(err, "%s: its state cannot be read after the %s timeout "
                                                  "(%" PRIu64 " s) %s", jobs[i].unit, start ? "start" : "stop",
                                                  timeout_usec / USEC_PER_SEC, detail ? detail : "");
                                break;
                        }
                        k = -ETIMEDOUT;
                        break;
                }
                sleep_backoff(&delay, UNITS_POLL_USEC);
        }
        for (size_t i = 0; i < n; i++) {
                free(jobs[i].path);
                free(jobs[i].job);
        }
        return r < 0 ? r : k < 0 ? k : 0;
}

int units_stop(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error) {
        return units_run_jobs(bus, &unit, 1, false, timeout_usec, ret_error);
}

int units_start(sd_bus *bus, const char *unit, uint64_t timeout_usec, char **ret_error) {
        return units_run_jobs(bus, &unit, 1, true, timeout_usec, ret_error);
}

int units_stop_all(sd_bus *bus, const char *const *units, size_t n, uint64_t timeout_usec, char **ret_error) {
        return units_run_jobs(bus, units, n, false, timeout_usec, ret_error);
}

int units_start_all(sd_bus *bus, const char *const *units, size_t n, uint64_t timeout_usec, char **ret_error) {
        return units_run_jobs(bus, units, n, true, timeout_usec, ret_error);
}

int units_read_env_file(const char *path, char ***env) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        r = read_regular_file(path, ENV_FILE_MAX_BYTES, &text, &size);
        if (r < 0)
                return r;
        return env_file_parse(text, size, env);
}

/* word with each ${NAME} replaced by NAME's value ("" when unset) and "$$" by "$", in one pass: a value is never
 * expanded again (A=x${A} stays as it is, as in systemd). A ':' before the '}' (a shell's ${NAME:-default}) is
 * syntax systemd does not take in ExecStart=: it keeps the text as it is, and so does this. */
static int expand_word(const char *word, char *const *env, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        for (const char *p = word; *p;) {
                const char *close = p[0] == '$' && p[1] == '{' ? p + 2 + strcspn(p + 2, ":}") : NULL;

                if (p[0] == '$' && p[1] == '$') {
                        fputc('$', f);
                        p += 2;
                } else if (close && *close == ':') {
                        fwrite(p, 1, (size_t) (close + 1 - p), f);
                        p = close + 1;
                } else if (close && *close == '}') {
                        _cleanup_free_ char *name = strndup(p + 2, (size_t) (close - p - 2));
                        const char *v = name ? strv_env_get(env, name) : NULL;

                        if (!name) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        fputs(v ? v : "", f);
                        p = close + 1;
                } else
                        fputc(*p++, f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* value split into words as systemd splits a $NAME word's value: on blanks, quotes ('…', "…") and backslashes
 * taken away, an unbalanced quote ending at the value's end; each word appended to *out. */
static int append_split(const char *value, char ***out) {
        for (const char *p = value; *p;) {
                _cleanup_free_ char *word = NULL;
                size_t size = 0;
                char quote = 0;
                FILE *f;

                p += strspn(p, " \t\n\r");
                if (!*p)
                        break;
                f = open_memstream(&word, &size);
                if (!f)
                        return -ENOMEM;
                for (; *p && (quote || !strchr(" \t\n\r", *p)); p++) {
                        if (quote == '\'' && *p == '\'')
                                quote = 0;
                        else if (quote == '\'')
                                fputc(*p, f);
                        else if (*p == '\\' && p[1])
                                fputc(*++p, f);
                        else if (quote && *p == quote)
                                quote = 0;
                        else if (!quote && (*p == '\'' || *p == '"'))
                                quote = *p;
                        else
                                fputc(*p, f);
                }
                if (fclose(f) != 0)
                        return -ENOMEM;
                if (strv_consume(out, TAKE_PTR(word)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int units_expand_argv(char *const *argv, char *const *env, char ***ret) {
        _cleanup_strv_free_ char **out = NULL;
        int r;

        for (char *const *a = argv; a && *a; a++) {
                char *s = NULL;

                /* A word that is $NAME: NAME's value's words; a lone "$" names nothing and gives none. */
                if ((*a)[0] == '$' && (*a)[1] != '{' && (*a)[1] != '$') {
                        const char *v = (*a)[1] ? strv_env_get(env, *a + 1) : NULL;

                        r = append_split(v ? v : "", &out);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = expand_word(*a, env, &s);
                if (r >= 0)
                        r = strv_consume(&out, s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int units_get_exec(sd_bus *bus, const char *unit, char ***ret_argv, char ***ret_env, char **ret_error) {
        _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL, **expanded = NULL;
        _cleanup_free_ char *path = NULL;
        const char *file, *prog;
        int r, ignore;

        r = unit_path(bus, unit, &path, ret_error);
        if (r < 0)
                return r;
        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "ExecStart", &error, &reply,
                                "a(sasbttttuii)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sasbttttuii)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'r', "sasbttttuii");
        if (r > 0)
                r = sd_bus_message_read(reply, "s", &prog);
        if (r > 0)
                r = sd_bus_message_read_strv(reply, &argv);
        if (r < 0) {
                set_error(ret_error, "cannot read ExecStart= of %s: %s", unit, bus_reason(&error, r));
                return r;
        }
        if (!argv || !argv[0]) {
                set_error(ret_error, "%s has no ExecStart=", unit);
                return -ENOEXEC;
        }
        reply = sd_bus_message_unref(reply);
        r = sd_bus_get_property_strv(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "Environment", &error, &env);
        if (r < 0) {
                set_error(ret_error, "cannot read Environment= of %s: %s", unit, bus_reason(&error, r));
                return r;
        }
        r = sd_bus_get_property(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, "EnvironmentFiles", &error, &reply,
                                "a(sb)");
        if (r >= 0)
                r = sd_bus_message_enter_container(reply, 'a', "(sb)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sb)", &file, &ignore)) > 0) {
                int k = units_read_env_file(file, &env);
                if (k == -ENOMEM)
                        return k;
                if (k == -EBADMSG) {
                        set_error(ret_error, "%s: EnvironmentFile=%s contains a NUL byte", unit, file);
                        return k;
                }
                if (k == -EMEDIUMTYPE) {
                        set_error(ret_error, "EnvironmentFile=%s of %s is not a regular file", file, unit);
                        return k;
                }
                if (k < 0 && !(ignore && k == -ENOENT)) {
                        set_error(ret_error, "cannot read EnvironmentFile=%s of %s: %s", file, unit, strerror(-k));
                        return k;
                }
        }
        if (r < 0) {
                set_error(ret_error, "cannot read EnvironmentFiles of %s: %s", unit, bus_reason(&error, r));
                return r;
        }
        r = units_expand_argv(argv, env, &expanded);
        if (r < 0)
                return r;
        *ret_argv = TAKE_PTR(expanded);
        *ret_env = TAKE_PTR(env);
        return 0;
}

int units_get_binds(sd_bus *bus, const char *unit, char ***ret_pairs, char **ret_error) {
        static const char *const properties[] = { "BindPaths", "BindReadOnlyPaths" };
        _cleanup_strv_free_ char **pairs = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        r = unit_path(bus, unit, &path, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(properties); i++) {
                _cleanup_(bus_error_freep) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *source, *destination;
                uint64_t flags;
                int ignore;

                r = sd_bus_get_property(bus, SYSTEMD_DEST, path, SYSTEMD_SERVICE, properties[i], &error, &reply,
                                        "a(ssbt)");
                if (r >= 0)
                        r = sd_bus_message_enter_container(reply, 'a', "(ssbt)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(ssbt)", &source, &destination, &ignore,
                                                          &flags)) > 0) {
                        if (strv_extend(&pairs, source) < 0 || strv_extend(&pairs, destination) < 0)
                                return -ENOMEM;
                }
                if (r < 0) {
                        set_error(ret_error, "cannot read %s= of %s: %s", properties[i], unit, bus_reason(&error, r));
                        return r;
                }
        }
        *ret_pairs = TAKE_PTR(pairs);
        return 0;
}
