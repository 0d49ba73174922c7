/* SPDX-License-Identifier: MIT */
/* Tutorial example 1: gather two countdowns, then sleep, then the line. */
#include "example.h"

typedef struct countdown {
        const char *name;
        int n;
} countdown_t;

static int countdown(void *arg) {
        countdown_t *c = arg;
        int r;

        for (int n = c->n; n > 0; n--) {
                printf("%s %d\n", c->name, n);
                r = co_sleep(seconds(1));
                if (r < 0)
                        return r;
        }
        printf("done!\n");
        return 0;
}

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
