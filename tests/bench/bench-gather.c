/* SPDX-License-Identifier: MIT */
/*
 * bench-gather [N]: spawn N (100,000) trivial tasks and gather them all,
 * ns per task (the Python peer: asyncio.gather over N coroutines).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"
#include "cotask/cotask.h"

typedef struct gathering {
        size_t n;
        uint64_t ns;
} gathering_t;

static int trivial(void *arg) {
        (void) arg;
        return 1;
}

static int gatherer(void *arg) {
        gathering_t *g = arg;
        co_task_t **t = calloc(g->n, sizeof *t);
        co_outcome_t *o = calloc(g->n, sizeof *o);
        uint64_t t0;
        int r = 0;

        if (!t || !o)
                return -ENOMEM;
        t0 = now_ns();
        for (size_t i = 0; i < g->n && r >= 0; i++)
                r = co_spawn(&t[i], "trivial", trivial, NULL);
        if (r >= 0)
                r = co_gather(t, g->n, 0, o);
        g->ns = now_ns() - t0;
        for (size_t i = 0; i < g->n; i++) {
                if (r >= 0 && o[i].value != 1)
                        r = -EIO;
                co_task_unref(t[i]);
        }
        free(t);
        free(o);
        return r;
}

int main(int argc, char **argv) {
        gathering_t g = { .n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000 };
        co_loop_t *loop = NULL;
        co_task_t *main_task = NULL;
        co_outcome_t o = { .value = -EIO };
        int r;

        r = co_loop_new(&loop);
        if (r >= 0)
                r = co_loop_spawn(loop, &main_task, "gatherer", gatherer, &g, NULL);
        if (r >= 0)
                r = co_loop_run(loop);
        if (r >= 0)
                r = co_task_get_outcome(main_task, &o);
        co_task_unref(main_task);
        co_loop_free(loop);
        if (r < 0 || o.value < 0 || g.n == 0) {
                fprintf(stderr, "bench-gather: failed\n");
                return 1;
        }
        printf("name=gather value=%.2f unit=ns\n", (double) g.ns / (double) g.n);
        return 0;
}
