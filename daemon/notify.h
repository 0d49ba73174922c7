/* SPDX-License-Identifier: MIT */
#pragma once

/* Talking to the service manager (sd_notify): readiness, reloads, status
 * and the watchdog. Without $NOTIFY_SOCKET every call is a no-op. */

#include <stdbool.h>

#include <cotask/cotask.h>

int notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload wants it). */
int notify_reloading(void);
int notify_stopping(void);
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The watchdog interval systemd asked for (0: none), for this process. */
co_usec_t notify_watchdog_usec(void);
/* A task body: WATCHDOG=1 every half interval, until cancelled. A loop
 * that stops running tasks stops the pings, and systemd steps in. */
int notify_watchdog_task(void *arg);
