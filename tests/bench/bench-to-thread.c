/* SPDX-License-Identifier: MIT */
/*
 * bench-to-thread [N]: the round trip of a trivial job through the loop's
 * default thread pool (N = 100,000 sequential round trips).
 *
 *   to_thread      one task awaits co_to_thread(f) N times in a row: job
 *                  and future made, queued, picked up by a pool thread,
 *                  completed back on the loop, the task resumed
 *
 * Prints µs per round trip; the Python peer awaits asyncio.to_thread(f) the
 * same way (one coroutine, N in a row).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "cotask/cotask.h"

static int trivial(void *arg, void **ret_result) {
        (void) arg;
        (void) ret_result;
        return 1;
}

typedef struct state {
        size_t n;
        size_t done;            /* sum of the results: must be n */
        size_t errors;
        uint64_t elapsed_ns;
} state_t;

static int round_trips(void *arg) {
        state_t *s = arg;
        co_outcome_t o;
        uint64_t t0;

        /* The first call makes the pool and starts its thread: untimed. */
        if (co_to_thread("warm-up", trivial, NULL, &o) < 0)
                s->errors++;
        t0 = now_ns();
        for (size_t i = 0; i < s->n; i++) {
                if (co_to_thread("trivial", trivial, NULL, &o) < 0 || o.kind != CO_OUTCOME_RESULT)
                        s->errors++;
                else
                        s->done += (size_t) o.value;
        }
        s->elapsed_ns = now_ns() - t0;
        return 0;
}

int main(int argc, char **argv) {
        state_t s = { .n = parse_count(argc, argv, 100 * 1000, 1) };
        co_loop_t *loop = NULL;
        co_task_t *t = NULL;
        co_outcome_t o;
        int r;

        r = co_loop_new(&loop);
        if (r < 0) {
                fprintf(stderr, "bench-to-thread: co_loop_new: %d\n", r);
                exit(1);
        }
        r = co_loop_spawn(loop, &t, "main", round_trips, &s, NULL);
        if (r < 0) {
                fprintf(stderr, "bench-to-thread: co_loop_spawn: %d\n", r);
                exit(1);
        }
        r = co_loop_run(loop);
        if (r < 0 || co_task_get_outcome(t, &o) < 0 || o.kind != CO_OUTCOME_RESULT) {
                fprintf(stderr, "bench-to-thread: the main task did not finish cleanly\n");
                exit(1);
        }
        co_task_unref(t);
        r = co_loop_shutdown_default_pool(loop, co_deadline_after(5 * CO_USEC_PER_SEC));
        co_loop_free(loop);
        if (r < 0 || s.errors || s.done != s.n) {
                fprintf(stderr, "bench-to-thread: %zu failed, %zu of %zu done, shutdown %d\n", s.errors,
                        s.done, s.n, r);
                exit(1);
        }
        report("to_thread", (double) s.elapsed_ns / 1000.0 / (double) s.n, "us");
        return 0;
}
