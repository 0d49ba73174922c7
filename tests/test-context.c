/* SPDX-License-Identifier: MIT */
/* The raw context switch (whichever backend this build uses). */
#include <fenv.h>
#include <sys/mman.h>

#include "context.h"
#include "test-util.h"

#define STACK_SIZE (64 * 1024)

typedef struct pingpong {
        co__ctx_t main_ctx;
        co__ctx_t task_ctx;
        unsigned long count;
        int task_round;         /* fegetround() seen inside the task */
        int main_round;
#if defined(__x86_64__)
        uint16_t task_x87;
#endif
} pingpong_t;

static pingpong_t pp;

static void task_entry(void *arg) {
        pingpong_t *p = arg;

        /* The task switches its own floating-point control state... */
        fesetround(FE_UPWARD);
#if defined(__x86_64__)
        {
                uint16_t cw;

                __asm__ volatile("fnstcw %0" : "=m"(cw));
                cw = (uint16_t) ((cw & ~0x300u) | 0x000u); /* single precision */
                __asm__ volatile("fldcw %0" : : "m"(cw));
        }
#endif
        for (;;) {
                p->count++;
                co__ctx_switch(&p->task_ctx, &p->main_ctx);
                p->task_round = fegetround();
#if defined(__x86_64__)
                __asm__ volatile("fnstcw %0" : "=m"(p->task_x87));
#endif
        }
}

static void test_context_pingpong_keeps_fp_control(void **state) {
        void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        volatile double keep = 1.5;

        assert_true(stack != MAP_FAILED);
        fesetround(FE_TONEAREST);
        co__ctx_make(&pp.task_ctx, stack, STACK_SIZE, task_entry, &pp);
        for (int i = 0; i < 1000; i++) {
                co__ctx_switch(&pp.main_ctx, &pp.task_ctx);
#if defined(__x86_64__)
                /* ...and on x86-64, where MXCSR and the x87 control word
                 * are switched, it does not leak into ours, nor ours into
                 * its. (AAPCS64 makes FPCR thread-wide: not switched.) */
                pp.main_round = fegetround();
                assert_int_equal(pp.main_round, FE_TONEAREST);
                if (i > 0) {
                        assert_int_equal(pp.task_round, FE_UPWARD);
                        /* (valgrind does not model x87 precision control) */
                        if (!RUNNING_ON_VALGRIND)
                                assert_int_equal(pp.task_x87 & 0x300, 0x000);
                }
#endif
                keep *= 1.0;
        }
        assert_int_equal(pp.count, 1000);
        assert_true(keep == 1.5);
        munmap(stack, STACK_SIZE);
}

/* Values live in callee-saved registers across the switch. */
static long __attribute__((noinline)) sum_across_switches(int n) {
        long a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;

        for (int i = 0; i < n; i++) {
                co__ctx_switch(&pp.main_ctx, &pp.task_ctx);
                a += 1;
                b += a;
                c += b;
                d += c;
                e += d;
                f += e;
        }
        return a + b + c + d + e + f;
}

static long expected_sum(int n) {
        long a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;

        for (int i = 0; i < n; i++) {
                a += 1;
                b += a;
                c += b;
                d += c;
                e += d;
                f += e;
        }
        return a + b + c + d + e + f;
}

static void clobber_entry(void *arg) {
        for (;;) {
                /* Scribble over every register the compiler may use. */
                volatile long x[16];

                for (int i = 0; i < 16; i++)
                        x[i] = i * 0x1111;
                (void) x;
                co__ctx_switch(&pp.task_ctx, &pp.main_ctx);
        }
}

static void test_context_callee_saved_survive(void **state) {
        void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        assert_true(stack != MAP_FAILED);
        co__ctx_make(&pp.task_ctx, stack, STACK_SIZE, clobber_entry, NULL);
        assert_int_equal(sum_across_switches(100), expected_sum(100));
        munmap(stack, STACK_SIZE);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_context_pingpong_keeps_fp_control),
                cmocka_unit_test(test_context_callee_saved_survive),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
