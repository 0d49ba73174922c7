/* SPDX-License-Identifier: MIT */
#pragma once

/* What the examples share: a time unit ("one second" of the story), which
 * the tests shrink with the first argument (milliseconds per second). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cotask/cotask.h>

static co_usec_t unit = CO_USEC_PER_SEC;

static inline void example_init(int argc, char **argv) {
        if (argc > 1)
                unit = (co_usec_t) strtoul(argv[1], NULL, 10) * CO_USEC_PER_MSEC;
        setvbuf(stdout, NULL, _IOLBF, 0);
}

/* n "seconds" of the story, as a co_usec_t. */
static inline co_usec_t seconds(double n) {
        return (co_usec_t) (n * (double) unit);
}

/* The tutorials' countdown: "NAME n" each second down to 1, then "done!". */
typedef struct countdown {
        const char *name;
        int n;
} countdown_t;

static inline int countdown(void *arg) {
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

/* Runs main_fn on a fresh loop; exit status 0 if it returned >= 0. */
static inline int example_run(co_task_fn_t main_fn, void *arg) {
        co_loop_t *loop = NULL;
        co_task_t *t = NULL;
        co_outcome_t o = { .value = -EIO };
        int r;

        r = co_loop_new(&loop);
        if (r >= 0)
                r = co_loop_spawn(loop, &t, "main", main_fn, arg, NULL);
        if (r >= 0)
                r = co_loop_run(loop);
        if (r >= 0)
                r = co_task_get_outcome(t, &o);
        if (r >= 0)
                r = o.value;
        co_task_unref(t);
        co_loop_free(loop);
        if (r < 0)
                fprintf(stderr, "%s\n", strerror(-r));
        return r < 0 ? 1 : 0;
}
