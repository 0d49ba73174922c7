/* SPDX-License-Identifier: MIT */
/*
 * Debug mode. What it costs (a clock read per switch, a sweep of all
 * tasks ten times a second) is paid only when it is on.
 */
#include <errno.h>
#include <stdio.h>

#include <event2/event.h>

#include "internal.h"

#define SWEEP_USEC (100 * CO_USEC_PER_MSEC)

void co__debug_slow_resume(co_loop_t *l, co_task_t *t) {
        co_usec_t ran = co_now() - l->resumed_at;
        char ms[32];
        co_log_field_t f[] = { { "task", t->name }, { "ran_ms", ms } };

        if (ran < l->slow_usec)
                return;
        snprintf(ms, sizeof ms, "%.3f", (double) ran / CO_USEC_PER_MSEC);
        co_log_fields(CO_LOG_WARNING, f, 2, "task '%s' ran %s ms without suspending", t->name, ms);
}

static int check_overdue(co_task_t *t, unsigned depth, void *userdata) {
        co_usec_t now = *(co_usec_t *) userdata;
        char s[32];
        co_log_field_t f[] = { { "task", t->name }, { "overdue_s", s } };

        (void) depth;
        if (!t->cancelled || t->overdue_reported || !t->started || !t->cancelled_at)
                return 0;
        if (now < t->cancelled_at + t->grace)
                return 0;
        t->overdue_reported = true;
        snprintf(s, sizeof s, "%.3f", (double) (now - t->cancelled_at) / CO_USEC_PER_SEC);
        co_log_fields(CO_LOG_WARNING, f, 2,
                      "task '%s' still running %s s after it was cancelled (grace %.3f s)", t->name, s,
                      (double) t->grace / CO_USEC_PER_SEC);
        return 0;
}

static void sweep(evutil_socket_t fd, short what, void *arg) {
        co_loop_t *l = arg;
        co_usec_t now = co_now();

        (void) fd;
        (void) what;
        (void) co_loop_foreach_task(l, check_overdue, &now);
}

int co_loop_set_debug(co_loop_t *l, bool enabled) {
        static const struct timeval every = { .tv_sec = 0, .tv_usec = SWEEP_USEC };

        if (!l)
                return -EINVAL;
        if (!l->slow_usec)
                l->slow_usec = 100 * CO_USEC_PER_MSEC;
        if (enabled && !l->debug_timer) {
                l->debug_timer = event_new(l->base, -1, EV_PERSIST, sweep, l);
                if (!l->debug_timer || event_add(l->debug_timer, &every) < 0)
                        return -ENOMEM;
        } else if (!enabled && l->debug_timer) {
                event_free(l->debug_timer);
                l->debug_timer = NULL;
        }
        l->debug = enabled;
        return 0;
}

void co_loop_set_slow_threshold(co_loop_t *l, co_usec_t usec) {
        if (l)
                l->slow_usec = usec;
}
