/* SPDX-License-Identifier: MIT */
/*
 * bench-timers [TASKS [SECONDS]]: 10,000 tasks each sleeping 10 ms in a
 * loop for 2 s, 1M wake-ups per second asked for. Each sleeps until an
 * absolute deadline (the previous one + 10 ms, so lateness does not
 * accumulate), phases spread evenly over the period.
 *
 *   timers_wakeups   wake-ups per second achieved (over the time they
 *                    really took, which is longer if the loop falls behind)
 *   timers_late_mean mean lateness (wake-up time - deadline), µs
 *   timers_late_p99  99th percentile lateness, µs
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "cotask/cotask.h"

#define PERIOD_USEC (10 * CO_USEC_PER_MSEC)
#define BUCKETS 100000  /* 1 µs each, up to 100 ms */

typedef struct timers {
        size_t tasks;
        co_usec_t start;
        co_usec_t end;
        co_usec_t done;
        uint64_t wakeups;
        uint64_t late_sum;
        uint32_t *hist;
} timers_t;

typedef struct sleeper {
        timers_t *t;
        size_t index;
} sleeper_t;

static int sleeper(void *arg) {
        sleeper_t *s = arg;
        timers_t *t = s->t;
        co_usec_t deadline = t->start + PERIOD_USEC * s->index / t->tasks;

        for (;;) {
                co_usec_t now, late;
                int r;

                deadline += PERIOD_USEC;
                if (deadline > t->end)
                        return 0;
                r = co_sleep_until(deadline);
                if (r < 0)
                        return r;
                now = co_now();
                late = now > deadline ? now - deadline : 0;
                t->wakeups++;
                t->late_sum += late;
                t->hist[late < BUCKETS ? late : BUCKETS - 1]++;
        }
}

static int spawner(void *arg) {
        timers_t *t = arg;
        sleeper_t *s = calloc(t->tasks, sizeof *s);
        co_task_t **tasks = calloc(t->tasks, sizeof *tasks);
        int r = 0;

        if (!s || !tasks)
                return -ENOMEM;
        for (size_t i = 0; i < t->tasks && r >= 0; i++) {
                s[i] = (sleeper_t) { .t = t, .index = i };
                r = co_spawn(&tasks[i], "sleeper", sleeper, &s[i]);
        }
        if (r >= 0)
                r = co_gather(tasks, t->tasks, 0, NULL);
        /* Behind schedule, the last wake-ups come after the window. */
        t->done = co_now();
        for (size_t i = 0; i < t->tasks; i++)
                co_task_unref(tasks[i]);
        free(tasks);
        free(s);
        return r;
}

int main(int argc, char **argv) {
        timers_t t = { .tasks = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000 };
        double secs = argc > 2 ? strtod(argv[2], NULL) : 2.0;
        co_loop_t *loop = NULL;
        uint64_t p99_count, seen = 0;
        size_t p99 = 0;
        int r;

        t.hist = calloc(BUCKETS, sizeof *t.hist);
        if (!t.hist || !t.tasks)
                return 1;
        r = co_loop_new(&loop);
        /* Leave the spawning out of the window: start one period from now. */
        t.start = co_now() + 20 * CO_USEC_PER_MSEC;
        t.end = t.start + (co_usec_t) (secs * CO_USEC_PER_SEC);
        if (r >= 0)
                r = co_loop_spawn(loop, NULL, "spawner", spawner, &t, NULL);
        if (r >= 0)
                r = co_loop_run(loop);
        co_loop_free(loop);
        if (r < 0 || t.wakeups == 0) {
                fprintf(stderr, "bench-timers: failed (%d)\n", r);
                return 1;
        }
        p99_count = t.wakeups - t.wakeups / 100;
        for (p99 = 0; p99 < BUCKETS; p99++) {
                seen += t.hist[p99];
                if (seen >= p99_count)
                        break;
        }
        printf("name=timers_wakeups value=%.0f unit=Hz\n",
               (double) t.wakeups * CO_USEC_PER_SEC / (double) (t.done - t.start));
        printf("name=timers_late_mean value=%.1f unit=us\n", (double) t.late_sum / (double) t.wakeups);
        printf("name=timers_late_p99 value=%zu unit=us\n", p99);
        free(t.hist);
        return 0;
}
