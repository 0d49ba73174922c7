/* SPDX-License-Identifier: MIT */
/* Tutorial example 6: a done callback. */
#include "example.h"

static int foo(void *arg) {
        (void) arg;
        co_task_set_result((void *) "Foo!");
        return co_sleep(seconds(1));
}

static void got_result(co_task_t *t, void *userdata) {
        co_outcome_t o;

        (void) userdata;
        if (co_task_get_outcome(t, &o) == 0 && o.kind == CO_OUTCOME_RESULT)
                printf("got the result! %s\n", (const char *) o.result);
}

static int main_task(void *arg) {
        co_task_t *t = NULL;
        int r;

        (void) arg;
        r = co_spawn(&t, "foo", foo, NULL);
        if (r >= 0)
                r = co_task_add_done_callback(t, got_result, NULL);
        if (r >= 0)
                r = co_task_join(t, NULL);
        co_task_unref(t);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
