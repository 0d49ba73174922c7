/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

/* sd_notify returns 0 when there is no socket to talk to: fine. */
static int send_state(const char *state) {
        int r = sd_notify(0, state);

        return r < 0 ? r : 0;
}

int notify_ready(void) {
        return send_state("READY=1");
}

int notify_reloading(void) {
        int r = sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long) co_now());

        return r < 0 ? r : 0;
}

int notify_stopping(void) {
        return send_state("STOPPING=1");
}

int notify_status(const char *fmt, ...) {
        char *text = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = sd_notifyf(0, "STATUS=%s", text);
        free(text);
        return r < 0 ? r : 0;
}

co_usec_t notify_watchdog_usec(void) {
        uint64_t usec = 0;

        return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

int notify_watchdog_task(void *arg) {
        co_usec_t every = notify_watchdog_usec() / 2;
        int r;

        (void) arg;
        if (every == 0)
                return 0;
        for (;;) {
                r = send_state("WATCHDOG=1");
                if (r < 0)
                        co_log(CO_LOG_WARNING, "watchdog ping failed: %s", strerror(-r));
                r = co_sleep(every);
                if (r < 0)
                        return r == -ECANCELED ? 0 : r;
        }
}
