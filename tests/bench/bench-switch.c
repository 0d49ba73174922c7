/* SPDX-License-Identifier: MIT */
/*
 * bench-switch [N]: the cost of one task switch (N = 10,000,000 switches).
 *
 *   switch_raw     two bare contexts ping-ponging with co__ctx_switch: the
 *                  floor any scheduler on top of it can reach
 *   switch         two cotask tasks ping-ponging with co_task_yield()
 *   switch_vs_raw  their ratio, taken in one process so machine noise
 *                  hits both sides alike
 *
 * Both print ns per switch; the Python peers count the same way (two tasks,
 * N/2 sleep(0) each).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "context.h"
#include "bench.h"
#include "cotask/cotask.h"

#define RAW_STACK_SIZE ((size_t) 64 * 1024)

/* ---- raw contexts ------------------------------------------------------ */

/* Both contexts run the same loop, so every switch returns to the call site
 * it was made from: the return stack buffer predicts the ret in
 * co__ctx_switch, as it does for two tasks running the same scheduler code.
 * Two different loop functions would mispredict every ret and put the raw
 * floor above the cost of a whole task switch. */
typedef struct raw_player {
        co__ctx_t ctx;
        struct raw_player *peer;
        co__ctx_t *exit_to;     /* where to go when done, or NULL */
        size_t rounds;          /* switches to make */
        size_t made;
} raw_player_t;

static void raw_play(void *arg) {
        raw_player_t *p = arg;

        for (size_t i = 0; i < p->rounds; i++) {
                p->made++;
                co__ctx_switch(&p->ctx, &p->peer->ctx);
        }
        /* Only the first player is resumed after its last switch; a context
         * entry must never return. */
        if (p->exit_to)
                co__ctx_switch(&p->ctx, p->exit_to);
        abort();
}

static void *stack_new(void) {
        void *p = mmap(NULL, RAW_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

        if (p == MAP_FAILED) {
                perror("bench-switch: mmap");
                exit(1);
        }
        return p;
}

/* ns per switch; n switches (+2 to enter and leave, noise at this n). */
static double bench_raw(size_t n) {
        co__ctx_t main_ctx;
        raw_player_t ping = { .rounds = n / 2, .exit_to = &main_ctx };
        raw_player_t pong = { .rounds = n / 2 };
        void *ping_stack = stack_new(), *pong_stack = stack_new();
        uint64_t t0, t1;

        ping.peer = &pong;
        pong.peer = &ping;
        co__ctx_make(&ping.ctx, ping_stack, RAW_STACK_SIZE, raw_play, &ping);
        co__ctx_make(&pong.ctx, pong_stack, RAW_STACK_SIZE, raw_play, &pong);
        t0 = now_ns();
        co__ctx_switch(&main_ctx, &ping.ctx);
        t1 = now_ns();
        munmap(ping_stack, RAW_STACK_SIZE);
        munmap(pong_stack, RAW_STACK_SIZE);

        if (ping.made != n / 2 || pong.made != n / 2) {
                fprintf(stderr, "bench-switch: raw: %zu + %zu switches, want %zu each\n",
                        ping.made, pong.made, n / 2);
                exit(1);
        }
        return (double) (t1 - t0) / (double) (ping.made + pong.made);
}

/* ---- cotask tasks ----------------------------------------------------- */

typedef struct task_state {
        size_t half;            /* yields per task */
        int last;               /* id of the task that ran last */
        size_t out_of_turn;     /* FIFO scheduling must alternate strictly */
        size_t errors;
} task_state_t;

typedef struct pinger {
        task_state_t *s;
        int id;
} pinger_t;

static int pinger(void *arg) {
        pinger_t *p = arg;
        task_state_t *s = p->s;

        for (size_t i = 0; i < s->half; i++) {
                if (s->last == p->id)
                        s->out_of_turn++;
                s->last = p->id;
                if (co_task_yield() < 0)
                        s->errors++;
        }
        return 0;
}

static double bench_tasks(size_t n) {
        task_state_t s = { .half = n / 2, .last = -1 };
        pinger_t p[2] = { { &s, 0 }, { &s, 1 } };
        co_loop_t *loop = NULL;
        co_task_t *t[2] = {};
        uint64_t t0, t1;
        int r;

        r = co_loop_new(&loop);
        if (r < 0) {
                fprintf(stderr, "bench-switch: co_loop_new: %d\n", r);
                exit(1);
        }
        for (int i = 0; i < 2; i++) {
                r = co_loop_spawn(loop, &t[i], "pinger", pinger, &p[i], NULL);
                if (r < 0) {
                        fprintf(stderr, "bench-switch: co_loop_spawn: %d\n", r);
                        exit(1);
                }
        }
        t0 = now_ns();
        r = co_loop_run(loop);
        t1 = now_ns();
        if (r < 0) {
                fprintf(stderr, "bench-switch: co_loop_run: %d\n", r);
                exit(1);
        }
        for (int i = 0; i < 2; i++) {
                co_outcome_t o;

                if (co_task_get_outcome(t[i], &o) < 0 || o.kind != CO_OUTCOME_RESULT) {
                        fprintf(stderr, "bench-switch: pinger %d did not finish cleanly\n", i);
                        exit(1);
                }
                co_task_unref(t[i]);
        }
        co_loop_free(loop);

        if (s.out_of_turn || s.errors) {
                fprintf(stderr, "bench-switch: %zu yields out of turn, %zu failed\n",
                        s.out_of_turn, s.errors);
                exit(1);
        }
        return (double) (t1 - t0) / (double) (2 * s.half);
}

int main(int argc, char **argv) {
        size_t n = parse_count(argc, argv, 10 * 1000 * 1000, 2);
        double raw, tasks;

        raw = bench_raw(n);
        tasks = bench_tasks(n);
        report("switch_raw", raw, "ns");
        report("switch", tasks, "ns");
        report("switch_vs_raw", tasks / raw, "x");
        return 0;
}
