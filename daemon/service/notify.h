/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * notify.h — the service manager protocol (sd_notify): readiness, status
 * text, reload and stop announcements. Without NOTIFY_SOCKET every call is a
 * no-op that returns 0.
 */

#include "util/macro.h"

int notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC=, as systemd ≥ 253 expects and 252 accepts. */
int notify_reloading(void);
int notify_stopping(void);
int notify_status(const char *format, ...) _printf_(1, 2);
