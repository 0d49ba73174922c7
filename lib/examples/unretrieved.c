/* SPDX-License-Identifier: MIT */
/* Tutorial example 11: a task fails and nobody joins it: the error is
 * reported (on stderr, through the log) as it finishes, naming the task. */
#include "example.h"

static int fail_soon(void *arg) {
        (void) arg;
        co_sleep(seconds(0.1));
        co_task_set_error("the disk is on fire");
        return -EIO;
}

static int main_task(void *arg) {
        int r;

        (void) arg;
        /* Fire and forget: no handle kept. */
        r = co_spawn(NULL, "doomed", fail_soon, NULL);
        if (r >= 0)
                r = co_sleep(seconds(0.5));
        if (r >= 0)
                printf("main carried on\n");
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
