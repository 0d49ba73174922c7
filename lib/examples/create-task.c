/* SPDX-License-Identifier: MIT */
/* Tutorial example 5: a task, printed before and after it has finished. */
#include "example.h"

static int some_work(void *arg) {
        (void) arg;
        return co_sleep(seconds(1)) < 0 ? -ECANCELED : 42;
}

static int main_task(void *arg) {
        co_task_t *t = NULL;
        char text[128];
        int r;

        (void) arg;
        r = co_spawn(&t, "some_work", some_work, NULL);
        if (r < 0)
                return r;
        co_task_format(t, text, sizeof text);
        printf("%s\n", text);
        r = co_sleep(seconds(0.5));
        if (r >= 0)
                printf("Hello World!\n");
        if (r >= 0)
                r = co_sleep(seconds(1));
        if (r >= 0) {
                co_task_format(t, text, sizeof text);
                printf("%s\n", text);
        }
        co_task_unref(t);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
