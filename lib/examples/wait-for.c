/* SPDX-License-Identifier: MIT */
/* Tutorial example 3: wait_for(foo(1), 5 s) where foo sleeps 10 s. */
#include "example.h"

static int foo(void *arg) {
        int r;

        printf("foo(%d) started\n", *(int *) arg);
        CO_TRY {
                r = co_sleep(seconds(10));
        } CO_FINALLY {
                printf("foo cleaned up\n");
        } CO_END_TRY;
        return r;
}

static int main_task(void *arg) {
        co_task_t *t = NULL;
        int one = 1, r;

        (void) arg;
        r = co_spawn(&t, "foo", foo, &one);
        if (r >= 0) {
                r = co_wait_for(t, co_deadline_after(seconds(5)), NULL);
                if (r == -ETIMEDOUT) {
                        printf("timeout!\n");
                        r = 0;
                }
        }
        co_task_unref(t);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
