/* SPDX-License-Identifier: MIT */
/* Tutorial example 1: gather two countdowns, then sleep, then the line. */
#include "example.h"

static int main_task(void *arg) {
        countdown_t a = { "task A", 4 }, b = { "task B", 3 };
        co_task_t *t[2] = { NULL, NULL };
        int r;

        (void) arg;
        r = co_spawn(&t[0], a.name, countdown, &a);
        if (r >= 0)
                r = co_spawn(&t[1], b.name, countdown, &b);
        if (r >= 0)
                r = co_gather(t, 2, 0, NULL);
        if (r >= 0)
                r = co_sleep(seconds(1));
        if (r >= 0)
                printf("Everything, everywhere, all at once\n");
        co_task_unref(t[0]);
        co_task_unref(t[1]);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
