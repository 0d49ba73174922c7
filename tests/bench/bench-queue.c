/* SPDX-License-Identifier: MIT */
/*
 * bench-queue [N]: the cost of handing an item from one task to another
 * through a co_queue_t. Two tasks ping-pong N round trips (default
 * 1,000,000) through two queues of capacity 1: ping puts to the first and
 * gets from the second, pong the other way round. One item = one put and
 * its get, two per round trip; prints ns per item. Every item must come
 * back as sent, in order. The Python peer does the same with two
 * asyncio.Queue(maxsize=1).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "cotask/cotask.h"

typedef struct pingpong {
        co_queue_t *there;
        co_queue_t *back;
        size_t n;               /* round trips */
        size_t bad;             /* items out of order, or failed calls */
} pingpong_t;

static int ping(void *arg) {
        pingpong_t *p = arg;
        void *item;

        for (size_t i = 0; i < p->n; i++) {
                if (co_queue_put(p->there, (void *) (uintptr_t) i, CO_USEC_INFINITY) < 0 ||
                    co_queue_get(p->back, &item, CO_USEC_INFINITY) < 0 || (uintptr_t) item != i)
                        p->bad++;
        }
        return 0;
}

static int pong(void *arg) {
        pingpong_t *p = arg;
        void *item;

        for (size_t i = 0; i < p->n; i++) {
                if (co_queue_get(p->there, &item, CO_USEC_INFINITY) < 0 || (uintptr_t) item != i ||
                    co_queue_put(p->back, item, CO_USEC_INFINITY) < 0)
                        p->bad++;
        }
        return 0;
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-queue: %s: %s\n", what, strerror(-r));
        exit(1);
}

int main(int argc, char **argv) {
        pingpong_t p = { .n = parse_count(argc, argv, 1000 * 1000, 1) };
        co_loop_t *loop = NULL;
        co_task_t *t[2] = {};
        co_task_fn_t fns[2] = { ping, pong };
        uint64_t t0, t1;
        int r;

        r = co_loop_new(&loop);
        if (r < 0)
                die("co_loop_new", r);
        if ((r = co_queue_new(&p.there, 1)) < 0 || (r = co_queue_new(&p.back, 1)) < 0)
                die("co_queue_new", r);
        for (int i = 0; i < 2; i++) {
                r = co_loop_spawn(loop, &t[i], i ? "pong" : "ping", fns[i], &p, NULL);
                if (r < 0)
                        die("co_loop_spawn", r);
        }
        t0 = now_ns();
        r = co_loop_run(loop);
        t1 = now_ns();
        if (r < 0)
                die("co_loop_run", r);
        for (int i = 0; i < 2; i++) {
                co_outcome_t o;

                if (co_task_get_outcome(t[i], &o) < 0 || o.kind != CO_OUTCOME_RESULT) {
                        fprintf(stderr, "bench-queue: task %d did not finish cleanly\n", i);
                        exit(1);
                }
                co_task_unref(t[i]);
        }
        if (p.bad || co_queue_get_size(p.there) || co_queue_get_size(p.back)) {
                fprintf(stderr, "bench-queue: %zu bad hand-overs, %zu + %zu items left\n", p.bad,
                        co_queue_get_size(p.there), co_queue_get_size(p.back));
                exit(1);
        }
        co_queue_free(p.there);
        co_queue_free(p.back);
        co_loop_free(loop);
        printf("name=queue value=%.2f unit=ns\n", (double) (t1 - t0) / (double) (2 * p.n));
        return 0;
}
