/* SPDX-License-Identifier: MIT */
/* Tutorial example 4: results in the order they complete. */
#include "example.h"

typedef struct job {
        const char *answer;
        double secs;
} job_t;

static int answer_after(void *arg) {
        job_t *j = arg;
        int r = co_sleep(seconds(j->secs));

        co_task_set_result((void *) j->answer);
        return r;
}

static int main_task(void *arg) {
        job_t jobs[3] = { { "a!", 2 }, { "b!", 1 }, { "c!", 3 } };
        co_task_t *t[3] = { NULL, NULL, NULL }, *next;
        co_as_completed_t *it = NULL;
        bool first = true;
        int r = 0;

        (void) arg;
        for (int i = 0; i < 3 && r >= 0; i++)
                r = co_spawn(&t[i], jobs[i].answer, answer_after, &jobs[i]);
        if (r >= 0)
                r = co_as_completed_new(&it, t, 3, CO_USEC_INFINITY);
        while (r >= 0 && (r = co_as_completed_next(it, &next)) > 0) {
                co_outcome_t o;

                (void) co_task_get_outcome(next, &o);
                printf("the %s result was: %s\n", first ? "quickest" : "next quickest", (const char *) o.result);
                first = false;
        }
        co_as_completed_free(it);
        for (int i = 0; i < 3; i++)
                co_task_unref(t[i]);
        return r;
}

int main(int argc, char **argv) {
        example_init(argc, argv);
        return example_run(main_task, NULL);
}
