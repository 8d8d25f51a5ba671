/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * macro.h — the small vocabulary every module shares: cleanup attributes,
 * ownership transfer (TAKE_PTR/TAKE_FD), array sizes and attribute shorthands.
 * Header-only; nothing here allocates or logs.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Move ownership out of a variable that has a cleanup handler. */
#define TAKE_PTR(p)                         \
        ({                                  \
                __typeof__(p) _ptr_ = (p);  \
                (p) = NULL;                 \
                _ptr_;                      \
        })

#define TAKE_FD(fd)                         \
        ({                                  \
                int _fd_ = (fd);            \
                (fd) = -EBADF;              \
                _fd_;                       \
        })

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Close fd if valid, preserving errno; returns -EBADF for assignment. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}

static inline void freep(void *p) {
        free(*(void **) p);
}

static inline void closep(int *fd) {
        safe_close(*fd);
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declare `static inline void namep(type **p)` calling func(*p) when non-NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}

/* errno as a negative value, never 0 (for paths where errno may be unset). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)
#define USEC_INFINITY UINT64_MAX

/* Exit codes of both programs (SPEC.md). */
#define EXIT_USAGE 2
#define EXIT_ROLLBACK_INCOMPLETE 3 /* a restore failed and its rollback did not complete: the node needs an operator */
#define EXIT_UNAVAILABLE 69     /* the daemon or etcd is unreachable */
#define EXIT_NOPERM 77          /* not root and not in the socket's group */
#define EXIT_LOCKED 75          /* another instance holds the backup directory or the socket */
#define EXIT_CONFIG 78          /* configuration error */
