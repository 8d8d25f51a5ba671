/* SPDX-License-Identifier: MIT */
/*
 * notify.c — sd_notify wrappers (see notify.h). The environment is kept
 * (unset_environment = 0) so every later message still reaches systemd.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "service/notify.h"
#include "util/str.h"
#include "util/time.h"

int notify_ready(void) {
        return sd_notify(0, "READY=1");
}

int notify_reloading(void) {
        return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec(CLOCK_MONOTONIC));
}

int notify_stopping(void) {
        return sd_notify(0, "STOPPING=1");
}

int notify_status(const char *format, ...) {
        static const char ellipsis[] = "…";
        char text[512];
        va_list ap;
        int n;

        va_start(ap, format);
        n = vsnprintf(text, sizeof text, format, ap);
        va_end(ap);
        /* Cut on a character's boundary: systemd drops a status that is not valid UTF-8, keeping the last one. */
        if (n >= (int) sizeof text)
                strcpy(text + utf8_prefix_len(text, sizeof text - sizeof ellipsis), ellipsis);
        /* The status is one line: a newline would start a new assignment. */
        for (char *p = text; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        return sd_notifyf(0, "STATUS=%s", text);
}
