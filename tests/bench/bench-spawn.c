/* SPDX-License-Identifier: MIT */
/*
 * bench-spawn [N]: the whole life of a trivial task, ns per task: spawn it,
 * let it run (its body returns 0), join it, drop the reference. N tasks
 * (default 1,000,000) in batches of 10,000 from one main task, the shape
 * the Python peer uses (create_task a batch, then await each).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "cotask/cotask.h"

#define BATCH 10000u

typedef struct spawn_state {
        size_t total;
        size_t ran;             /* bodies that ran */
        size_t joined_ok;       /* joins that saw the body's result */
        uint64_t elapsed_ns;
        int error;
} spawn_state_t;

static int trivial(void *arg) {
        spawn_state_t *s = arg;

        s->ran++;
        return 0;
}

static int spawner(void *arg) {
        spawn_state_t *s = arg;
        co_task_t *batch[BATCH];
        uint64_t t0 = now_ns();

        for (size_t done = 0; done < s->total;) {
                size_t n = s->total - done < BATCH ? s->total - done : BATCH;

                for (size_t i = 0; i < n; i++) {
                        int r = co_spawn(&batch[i], "trivial", trivial, s);

                        if (r < 0) {
                                /* Join what was spawned, so nothing leaks. */
                                s->error = r;
                                n = i;
                                break;
                        }
                }
                for (size_t i = 0; i < n; i++) {
                        co_outcome_t o;

                        if (co_task_join(batch[i], &o) == 0 && o.kind == CO_OUTCOME_RESULT && o.value == 0)
                                s->joined_ok++;
                        co_task_unref(batch[i]);
                }
                if (s->error < 0)
                        return s->error;
                done += n;
        }
        s->elapsed_ns = now_ns() - t0;
        return 0;
}

int main(int argc, char **argv) {
        spawn_state_t s = { .total = 1000 * 1000 };
        co_loop_t *loop = NULL;
        co_task_opts_t opts = {
                /* Room for the batch of task pointers on the main task's stack. */
                .stack_size = 256 * 1024,
        };
        int r;

        if (argc > 1) {
                char *end;

                s.total = strtoull(argv[1], &end, 10);
                if (*end || s.total == 0) {
                        fprintf(stderr, "usage: %s [N > 0]\n", argv[0]);
                        return 2;
                }
        }

        r = co_loop_new(&loop);
        if (r >= 0)
                r = co_loop_spawn(loop, NULL, "spawner", spawner, &s, &opts);
        if (r >= 0)
                r = co_loop_run(loop);
        co_loop_free(loop);
        if (r < 0 || s.error < 0) {
                fprintf(stderr, "bench-spawn: failed: %d/%d\n", r, s.error);
                return 1;
        }
        if (s.ran != s.total || s.joined_ok != s.total) {
                fprintf(stderr, "bench-spawn: %zu tasks ran and %zu joins saw 0, want %zu\n",
                        s.ran, s.joined_ok, s.total);
                return 1;
        }
        report("spawn", (double) s.elapsed_ns / (double) s.total, "ns");
        return 0;
}
