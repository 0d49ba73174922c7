/* SPDX-License-Identifier: MIT */
/*
 * The seed example: two countdowns run concurrently while main sleeps.
 *
 *     countdown [UNIT_MS]      (one "second" of the story; default 1000)
 *
 * prints: task A 3 / task B 2 / Everything, everywhere, all at once /
 *         task A 2 / task B 1 / task A 1 / done! / done!
 */
#include "example.h"

static int main_task(void *arg) {
        countdown_t a = { "task A", 3 }, b = { "task B", 2 };
        co_task_t *ta = NULL, *tb = NULL;
        int r;

        (void) arg;
        r = co_spawn(&ta, a.name, countdown, &a);
        if (r >= 0)
                r = co_spawn(&tb, b.name, countdown, &b);
        if (r >= 0)
                r = co_sleep(seconds(1));
        if (r >= 0) {
                printf("Everything, everywhere, all at once\n");
                r = co_task_join(ta, NULL);
        }
        if (r >= 0)
                r = co_task_join(tb, NULL);
        co_task_unref(ta);
        co_task_unref(tb);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
