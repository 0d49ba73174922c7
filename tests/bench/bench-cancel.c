/* SPDX-License-Identifier: MIT */
/*
 * bench-cancel [N]: ms to cancel N parked tasks (default 100,000) and join
 * them all. Each task sleeps 3600 s inside CO_TRY and counts its
 * CO_FINALLY, so the time includes unwinding through a finally block, as
 * the Python peer's try/finally does; every finally must have run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cotask/cotask.h"

#define PARK_USEC (3600 * CO_USEC_PER_SEC)

typedef struct cancel_state {
        size_t n;
        co_task_t **tasks;
        size_t started;
        size_t finally_ran;
        size_t cancelled;       /* joins that saw CO_OUTCOME_CANCELLED */
        uint64_t elapsed_ns;
} cancel_state_t;

static int sleeper(void *arg) {
        cancel_state_t *s = arg;
        int r = 0;

        s->started++;
        CO_TRY {
                r = co_sleep(PARK_USEC);
        } CO_FINALLY {
                s->finally_ran++;
        } CO_END_TRY;
        return r;
}

static int canceller(void *arg) {
        cancel_state_t *s = arg;
        uint64_t t0;
        int r;

        for (size_t i = 0; i < s->n; i++) {
                r = co_spawn(&s->tasks[i], "sleeper", sleeper, s);
                if (r < 0) {
                        fprintf(stderr, "bench-cancel: spawning task %zu: %s\n", i, strerror(-r));
                        /* Returning cancels and reaps the ones spawned. */
                        for (size_t j = 0; j < i; j++)
                                co_task_unref(s->tasks[j]);
                        return r;
                }
        }
        while (s->started < s->n) {
                r = co_task_yield();
                if (r < 0)
                        return r;
        }

        t0 = now_ns();
        for (size_t i = 0; i < s->n; i++)
                co_task_cancel(s->tasks[i], "bench");
        for (size_t i = 0; i < s->n; i++) {
                co_outcome_t o;

                if (co_task_join(s->tasks[i], &o) == 0 && o.kind == CO_OUTCOME_CANCELLED)
                        s->cancelled++;
                co_task_unref(s->tasks[i]);
        }
        s->elapsed_ns = now_ns() - t0;
        return 0;
}

int main(int argc, char **argv) {
        cancel_state_t s = { .n = 100 * 1000 };
        co_loop_t *loop = NULL;
        int r;

        if (argc > 1) {
                char *end;

                s.n = strtoull(argv[1], &end, 10);
                if (*end || s.n == 0) {
                        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
                        return 2;
                }
        }
        s.tasks = calloc(s.n, sizeof *s.tasks);
        if (!s.tasks)
                return 1;

        r = co_loop_new(&loop);
        if (r >= 0)
                r = co_loop_spawn(loop, NULL, "canceller", canceller, &s, NULL);
        if (r >= 0)
                r = co_loop_run(loop);
        co_loop_free(loop);
        free(s.tasks);
        if (r < 0) {
                fprintf(stderr, "bench-cancel: loop failed: %s\n", strerror(-r));
                return 1;
        }
        if (s.started != s.n || s.finally_ran != s.n || s.cancelled != s.n) {
                fprintf(stderr, "bench-cancel: %zu started, %zu finally blocks ran, %zu joins saw "
                        "a cancellation; want %zu each\n", s.started, s.finally_ran, s.cancelled, s.n);
                return 1;
        }
        printf("name=cancel value=%.2f unit=ms\n", (double) s.elapsed_ns / 1e6);
        return 0;
}
