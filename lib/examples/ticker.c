/* SPDX-License-Identifier: MIT */
/*
 * Tutorial example 8: an async generator (PEP 525's ticker).
 *
 *     async def ticker(delay, to):
 *         for i in range(to):
 *             yield i
 *             await asyncio.sleep(delay)
 *
 * First `async for i in ticker(1, 5): print(i)`, then a second consumer of
 * ticker(1, 10) that is cancelled after 2.5 seconds: the cancellation
 * reaches the generator (a child of its consumer), whose cleanup runs once.
 *
 *     ticker [UNIT_MS]      (one "second" of the story; default 1000)
 *
 * prints: 0 / 1 / 2 / 3 / 4 / ticker(5): cleanup / consumer: 0 / consumer: 1 /
 *         consumer: 2 / cancelling the consumer / ticker(10): cleanup /
 *         cleanups of ticker(10): 1
 */
#include "example.h"

typedef struct ticker_args {
        co_usec_t delay;
        int to;
        int cleanups;
} ticker_args_t;

static int ticker(co_gen_t *gen, void *arg) {
        ticker_args_t *a = arg;
        int r = 0;

        CO_TRY {
                /* Sleeps between the values, not after the last one. */
                for (int i = 0; i < a->to; i++) {
                        if (i > 0) {
                                r = co_sleep(a->delay);
                                if (r < 0)
                                        CO_LEAVE;
                        }
                        /* Lends &i: valid until the consumer asks again. */
                        r = co_gen_yield(gen, &i);
                        if (r < 0)
                                CO_LEAVE;
                }
        } CO_FINALLY {
                /* Runs on every way out: the end, a close, a cancellation. */
                a->cleanups++;
                printf("ticker(%d): cleanup\n", a->to);
        } CO_END_TRY;
        return r;
}

static int consumer(void *arg) {
        co_gen_t *gen = NULL;
        void *value;
        int r;

        r = co_gen_new(&gen, "ticker", ticker, arg);
        if (r < 0)
                return r;
        CO_TRY {
                while ((r = co_gen_next(gen, &value)) > 0)
                        printf("consumer: %d\n", *(int *) value);
        } CO_FINALLY {
                /* Shielded here: waits for the ticker's own cleanup even
                 * though this task has been cancelled. */
                (void) co_gen_close(gen);
        } CO_END_TRY;
        co_gen_unref(gen);
        return r;
}

static int main_task(void *arg) {
        ticker_args_t first = { .delay = unit, .to = 5 }, second = { .delay = unit, .to = 10 };
        co_gen_t *gen = NULL;
        co_task_t *t = NULL;
        void *value;
        int r;

        (void) arg;
        /* async for i in ticker(1, 5): print(i) */
        r = co_gen_new(&gen, "ticker", ticker, &first);
        if (r < 0)
                return r;
        while ((r = co_gen_next(gen, &value)) > 0)
                printf("%d\n", *(int *) value);
        co_gen_unref(gen);
        if (r < 0)
                return r;

        /* A consumer cancelled half-way between two ticks. */
        r = co_spawn(&t, "consumer", consumer, &second);
        if (r < 0)
                return r;
        r = co_sleep(unit * 5 / 2);
        if (r < 0)
                goto fail;
        printf("cancelling the consumer\n");
        co_task_cancel(t, "enough ticks");
        r = co_task_join(t, NULL);
        if (r < 0)
                goto fail;
        printf("cleanups of ticker(%d): %d\n", second.to, second.cleanups);
fail:
        co_task_unref(t);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
