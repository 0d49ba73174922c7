/* SPDX-License-Identifier: MIT */
/*
 * The seed example: two countdowns run concurrently while main sleeps.
 *
 *     countdown [UNIT_MS]      (one "second" of the story; default 1000)
 *
 * prints: task A 3 / task B 2 / Everything, everywhere, all at once /
 *         task A 2 / task B 1 / task A 1 / done! / done!
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cotask/cotask.h>

static co_usec_t unit = CO_USEC_PER_SEC;

typedef struct countdown {
        const char *name;
        int n;
} countdown_t;

static int countdown(void *arg) {
        countdown_t *c = arg;
        int r;

        for (int n = c->n; n > 0; n--) {
                printf("%s %d\n", c->name, n);
                r = co_sleep(unit);
                if (r < 0)
                        return r;
        }
        printf("done!\n");
        return 0;
}

static int main_task(void *arg) {
        countdown_t a = { "task A", 3 }, b = { "task B", 2 };
        co_task_t *ta = NULL, *tb = NULL;
        int r;

        (void) arg;
        r = co_spawn(&ta, a.name, countdown, &a);
        if (r < 0)
                goto fail;
        r = co_spawn(&tb, b.name, countdown, &b);
        if (r < 0)
                goto fail;
        r = co_sleep(unit);
        if (r < 0)
                goto fail;
        printf("Everything, everywhere, all at once\n");
        r = co_task_join(ta, NULL);
        if (r < 0)
                goto fail;
        r = co_task_join(tb, NULL);
fail:
        co_task_unref(ta);
        co_task_unref(tb);
        return r;
}

int main(int argc, char **argv) {
        co_loop_t *loop = NULL;
        co_task_t *t = NULL;
        co_outcome_t o;
        int r;

        if (argc > 1)
                unit = (co_usec_t) strtoul(argv[1], NULL, 10) * CO_USEC_PER_MSEC;
        setvbuf(stdout, NULL, _IOLBF, 0);
        r = co_loop_new(&loop);
        if (r < 0)
                goto fail;
        r = co_loop_spawn(loop, &t, "main", main_task, NULL, NULL);
        if (r < 0)
                goto fail;
        r = co_loop_run(loop);
        if (r < 0)
                goto fail;
        r = co_task_get_outcome(t, &o);
        if (r == 0 && o.kind != CO_OUTCOME_RESULT)
                r = o.value;
fail:
        co_task_unref(t);
        co_loop_free(loop);
        if (r < 0)
                fprintf(stderr, "countdown: %s\n", strerror(-r));
        return r < 0 ? 1 : 0;
}
