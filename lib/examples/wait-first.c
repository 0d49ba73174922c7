/* SPDX-License-Identifier: MIT */
/* Tutorial example 2: wait(FIRST_COMPLETED) over three tasks that sleep a
 * random 0-4 s (seeded: the same draw every run). */
#include "example.h"

typedef struct sleeper {
        char name[16];
        double secs;
} sleeper_t;

static int sleepy(void *arg) {
        sleeper_t *s = arg;

        return co_sleep(seconds(s->secs));
}

static int main_task(void *arg) {
        sleeper_t s[3];
        co_task_t *t[3] = { NULL, NULL, NULL }, *order[3];
        size_t n_done = 0;
        int r = 0;

        (void) arg;
        srand(2024);
        for (int i = 0; i < 3 && r >= 0; i++) {
                snprintf(s[i].name, sizeof s[i].name, "task-%d", i + 1);
                s[i].secs = 4.0 * rand() / RAND_MAX;
                printf("%s sleeps %.2f s\n", s[i].name, s[i].secs);
                r = co_spawn(&t[i], s[i].name, sleepy, &s[i]);
        }
        if (r >= 0) {
                memcpy(order, t, sizeof order);
                r = co_wait(order, 3, CO_WAIT_FIRST_COMPLETED, CO_USEC_INFINITY, &n_done);
        }
        if (r >= 0) {
                for (size_t i = 0; i < n_done; i++)
                        printf("first finished: %s\n", co_task_get_name(order[i]));
                printf("pending:");
                for (size_t i = n_done; i < 3; i++)
                        printf(" %s", co_task_get_name(order[i]));
                printf("\n");
        }
        /* The pending ones are our children: returning cancels them. */
        for (int i = 0; i < 3; i++)
                co_task_unref(t[i]);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
