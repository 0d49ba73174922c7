/* SPDX-License-Identifier: MIT */
/* gather, wait, wait_for, as_completed, shield and task groups. */
#include <errno.h>

#include "test-util.h"

typedef struct job {
        unsigned ms;            /* sleep this long */
        int result;             /* then return this */
        bool cleaned;           /* the finally block ran */
        int slept;              /* what the sleep returned */
} job_t;

#define JOB(ms, result) { (ms), (result), false, 0 }

static int job_body(void *arg) {
        job_t *j = arg;
        int r;

        CO_TRY {
                r = j->slept = co_sleep(msec(j->ms));
                if (r < 0)
                        CO_LEAVE;
                r = j->result;
        } CO_FINALLY {
                j->cleaned = true;
        } CO_END_TRY;
        return r;
}

static void spawn_jobs(co_task_t **t, job_t *jobs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char name[16];

                snprintf(name, sizeof name, "job%zu", i);
                assert_int_equal(co_spawn(&t[i], name, job_body, &jobs[i]), 0);
        }
}

static void unref_all(co_task_t **t, size_t n) {
        for (size_t i = 0; i < n; i++)
                co_task_unref(t[i]);
}

static int gather_all(void *arg) {
        job_t jobs[3] = { JOB(6, 1), JOB(2, 2), JOB(4, 3) };
        co_task_t *t[3];
        co_outcome_t o[3];

        spawn_jobs(t, jobs, 3);
        assert_int_equal(co_gather(t, 3, 0, o), 0);
        /* Results in the tasks' order, not the completion order. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(o[i].kind, CO_OUTCOME_RESULT);
                assert_int_equal(o[i].value, i + 1);
        }
        unref_all(t, 3);
        return 0;
}

static void test_combine_gather_in_order(void **state) {
        assert_int_equal(run_main(gather_all, NULL).kind, CO_OUTCOME_RESULT);
}

static int gather_first_error(void *arg) {
        job_t jobs[3] = { JOB(1000, 1), JOB(2, -EIO), JOB(1000, 3) };
        co_task_t *t[3];
        co_outcome_t o[3];

        spawn_jobs(t, jobs, 3);
        assert_int_equal(co_gather(t, 3, 0, o), -EIO);
        /* The others were cancelled, and had ended (cleaned up) by then. */
        assert_int_equal(o[0].kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(o[1].kind, CO_OUTCOME_ERROR);
        assert_int_equal(o[2].kind, CO_OUTCOME_CANCELLED);
        assert_true(jobs[0].cleaned && jobs[2].cleaned);
        unref_all(t, 3);

        job_t more[3] = { JOB(3, 1), JOB(1, -EIO), JOB(2, -EPIPE) };
        spawn_jobs(t, more, 3);
        assert_int_equal(co_gather(t, 3, CO_GATHER_RETURN_ERRORS, o), 0);
        assert_int_equal(o[0].value, 1);
        assert_int_equal(o[1].value, -EIO);
        assert_int_equal(o[2].value, -EPIPE);
        unref_all(t, 3);
        return 0;
}

static void test_combine_gather_first_error_cancels_rest(void **state) {
        assert_int_equal(run_main(gather_first_error, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct gathering {
        job_t jobs[2];
        int r;
} gathering_t;

static int gather_in_task(void *arg) {
        gathering_t *g = arg;
        co_task_t *t[2];

        spawn_jobs(t, g->jobs, 2);
        g->r = co_gather(t, 2, 0, NULL);
        unref_all(t, 2);
        return g->r;
}

static int cancel_a_gather(void *arg) {
        spawn_and_cancel_after("gatherer", gather_in_task, arg, msec(2));
        return 0;
}

static void test_combine_cancel_gather_cancels_children(void **state) {
        gathering_t g = { .jobs = { JOB(1000, 1), JOB(1000, 2) } };

        assert_int_equal(run_main(cancel_a_gather, &g).kind, CO_OUTCOME_RESULT);
        assert_int_equal(g.r, -ECANCELED);
        assert_int_equal(g.jobs[0].slept, -ECANCELED);
        assert_int_equal(g.jobs[1].slept, -ECANCELED);
        assert_true(g.jobs[0].cleaned && g.jobs[1].cleaned);
}

static int wait_modes(void *arg) {
        job_t jobs[3] = { JOB(80, 1), JOB(2, 2), JOB(30, -EIO) };
        co_task_t *t[3], *order[3];
        size_t n_done = 9;

        spawn_jobs(t, jobs, 3);
        memcpy(order, t, sizeof t);
        assert_int_equal(co_wait(order, 3, CO_WAIT_FIRST_COMPLETED, CO_USEC_INFINITY, &n_done), 0);
        assert_int_equal(n_done, 1);
        assert_ptr_equal(order[0], t[1]);
        /* Nothing was cancelled. */
        assert_false(co_task_is_cancelled(t[0]));

        memcpy(order, t, sizeof t);
        assert_int_equal(co_wait(order, 3, CO_WAIT_FIRST_EXCEPTION, CO_USEC_INFINITY, &n_done), 0);
        assert_int_equal(n_done, 2);
        assert_ptr_equal(order[0], t[1]);
        assert_ptr_equal(order[1], t[2]);
        assert_ptr_equal(order[2], t[0]);

        /* A deadline: what is done by then, nothing cancelled. */
        memcpy(order, t, sizeof t);
        assert_int_equal(co_wait(order, 3, CO_WAIT_ALL_COMPLETED, co_deadline_after(msec(1)), &n_done), 0);
        assert_int_equal(n_done, 2);
        assert_int_equal(co_task_get_state(t[0]), CO_TASK_SUSPENDED);

        assert_int_equal(co_wait(order, 3, CO_WAIT_ALL_COMPLETED, CO_USEC_INFINITY, &n_done), 0);
        assert_int_equal(n_done, 3);
        unref_all(t, 3);
        return 0;
}

static void test_combine_wait_modes(void **state) {
        assert_int_equal(run_main(wait_modes, NULL).kind, CO_OUTCOME_RESULT);
}

static int wait_for_timeout(void *arg) {
        job_t slow = JOB(10000, 1), quick = JOB(1, 7);
        _cleanup_task_ co_task_t *a = NULL, *b = NULL;
        co_outcome_t o;

        assert_int_equal(co_spawn(&a, "slow", job_body, &slow), 0);
        assert_int_equal(co_wait_for(a, co_deadline_after(msec(5)), &o), -ETIMEDOUT);
        /* Cancelled, and its cleanup had run by the time wait_for returned. */
        assert_int_equal(co_task_get_state(a), CO_TASK_DONE);
        assert_true(slow.cleaned);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);

        assert_int_equal(co_spawn(&b, "quick", job_body, &quick), 0);
        assert_int_equal(co_wait_for(b, co_deadline_after(msec(500)), &o), 0);
        assert_int_equal(o.value, 7);
        return 0;
}

static void test_combine_wait_for_timeout(void **state) {
        assert_int_equal(run_main(wait_for_timeout, NULL).kind, CO_OUTCOME_RESULT);
}

/* A cleanup that takes a while: the caller of wait_for is cancelled while
 * wait_for waits for it; the cleanup still completes. */
typedef struct slow_cleanup {
        bool cleanup_done;
        int wait_for_result;
} slow_cleanup_t;

static int slow_to_clean(void *arg) {
        slow_cleanup_t *s = arg;
        int r;

        CO_TRY {
                r = co_sleep(3600 * CO_USEC_PER_SEC);
        } CO_FINALLY {
                if (co_sleep(msec(20)) == 0)
                        s->cleanup_done = true;
        } CO_END_TRY;
        return r;
}

static int wait_for_it(void *arg) {
        slow_cleanup_t *s = arg;
        _cleanup_task_ co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "slow-cleanup", slow_to_clean, s), 0);
        s->wait_for_result = co_wait_for(t, co_deadline_after(msec(2)), NULL);
        return 0;
}

static int cancel_during_wait_for_cleanup(void *arg) {
        /* Cancelled past wait_for's deadline, inside the 20 ms cleanup. */
        spawn_and_cancel_after("waiter", wait_for_it, arg, msec(8));
        return 0;
}

static void test_combine_cancel_during_wait_for_cleanup(void **state) {
        slow_cleanup_t s = { 0 };

        assert_int_equal(run_main(cancel_during_wait_for_cleanup, &s).kind, CO_OUTCOME_RESULT);
        assert_true(s.cleanup_done);
        assert_int_equal(s.wait_for_result, -ECANCELED);
}

static int as_completed_order(void *arg) {
        job_t jobs[3] = { JOB(60, 1), JOB(2, 2), JOB(25, 3) };
        co_task_t *t[3], *next;
        co_as_completed_t *it = NULL;
        int seen[3], n = 0, r;

        spawn_jobs(t, jobs, 3);
        assert_int_equal(co_as_completed_new(&it, t, 3, CO_USEC_INFINITY), 0);
        while ((r = co_as_completed_next(it, &next)) > 0) {
                co_outcome_t o;

                assert_int_equal(co_task_get_outcome(next, &o), 0);
                seen[n++] = o.value;
        }
        assert_int_equal(r, 0);
        assert_int_equal(n, 3);
        assert_int_equal(seen[0], 2);
        assert_int_equal(seen[1], 3);
        assert_int_equal(seen[2], 1);
        co_as_completed_free(it);

        /* With a deadline, and freed early: no callback is left behind. */
        job_t slow = JOB(1000, 1);
        co_task_t *s;

        spawn_jobs(&s, &slow, 1);
        assert_int_equal(co_as_completed_new(&it, &s, 1, co_deadline_after(msec(2))), 0);
        assert_int_equal(co_as_completed_next(it, &next), -ETIMEDOUT);
        co_as_completed_free(it);
        co_task_cancel(s, NULL);
        assert_int_equal(co_task_join(s, NULL), 0);
        unref_all(t, 3);
        co_task_unref(s);
        return 0;
}

static void test_combine_as_completed(void **state) {
        assert_int_equal(run_main(as_completed_order, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct shielding {
        job_t inner;
        co_task_t *inner_task;
        int r;
} shielding_t;

static int shield_outer(void *arg) {
        shielding_t *s = arg;

        assert_int_equal(co_spawn(&s->inner_task, "inner", job_body, &s->inner), 0);
        s->r = co_task_shield(s->inner_task, CO_USEC_INFINITY, NULL);
        return s->r;
}

static int cancel_shielded_outer(void *arg) {
        shielding_t *s = arg;
        co_outcome_t o;

        spawn_and_cancel_after("outer", shield_outer, s, msec(2));
        assert_int_equal(s->r, -ECANCELED);
        /* The inner task goes on, and finishes with its result. */
        assert_false(co_task_is_cancelled(s->inner_task));
        assert_int_equal(co_task_join(s->inner_task, &o), 0);
        assert_int_equal(o.value, 5);
        co_task_unref(s->inner_task);
        return 0;
}

static void test_combine_shield(void **state) {
        shielding_t s = { .inner = JOB(20, 5) };

        assert_int_equal(run_main(cancel_shielded_outer, &s).kind, CO_OUTCOME_RESULT);
}

static int group_failing(void *arg) {
        job_t jobs[4] = { JOB(1000, 1), JOB(3, -EIO), JOB(40, -EPIPE), JOB(1000, 4) };
        co_group_t *g = NULL;
        co_task_t *t[4];
        co_outcome_t o;

        assert_int_equal(co_group_new(&g), 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(co_group_spawn(g, &t[i], "member", job_body, &jobs[i]), 0);
        /* job 2 would fail at 40 ms, but job 1's failure at 3 ms cancels it. */
        assert_int_equal(co_group_wait(g), -EIO);
        assert_int_equal(co_group_get_n_failed(g), 1);
        assert_ptr_equal(co_group_get_failed(g, 0), t[1]);
        assert_int_equal(co_task_get_outcome(t[0], &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_true(jobs[0].cleaned && jobs[3].cleaned);
        assert_int_equal(co_group_spawn(g, NULL, "late", job_body, &jobs[0]), -ESHUTDOWN);
        unref_all(t, 4);
        co_group_free(g);

        /* Two failing in the same round (co_sleep(0) yields): both are
         * reported, first first. */
        job_t twins[2] = { JOB(0, -EIO), JOB(0, -EPIPE) };

        assert_int_equal(co_group_new(&g), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(co_group_spawn(g, NULL, "twin", job_body, &twins[i]), 0);
        assert_int_equal(co_group_wait(g), -EIO);
        assert_int_equal(co_group_get_n_failed(g), 2);
        co_group_free(g);
        return 0;
}

static void test_combine_group_failure_cancels_siblings(void **state) {
        assert_int_equal(run_main(group_failing, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct owner {
        job_t jobs[2];
        int r;
} owner_t;

static int group_owner(void *arg) {
        owner_t *ow = arg;
        co_group_t *g = NULL;

        assert_int_equal(co_group_new(&g), 0);
        for (int i = 0; i < 2; i++)
                assert_int_equal(co_group_spawn(g, NULL, "member", job_body, &ow->jobs[i]), 0);
        ow->r = co_group_wait(g);
        co_group_free(g);
        return ow->r;
}

static int cancel_group_owner(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "owner", group_owner, arg), 0);
        assert_int_equal(co_sleep(msec(2)), 0);
        co_task_cancel(t, "stop");
        assert_int_equal(co_task_join(t, NULL), 0);
        return 0;
}

static void test_combine_group_owner_cancelled(void **state) {
        owner_t ow = { .jobs = { JOB(1000, 1), JOB(1000, 2) } };

        assert_int_equal(run_main(cancel_group_owner, &ow).kind, CO_OUTCOME_RESULT);
        assert_int_equal(ow.r, -ECANCELED);
        assert_true(ow.jobs[0].cleaned && ow.jobs[1].cleaned);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_combine_gather_in_order),
                cmocka_unit_test(test_combine_gather_first_error_cancels_rest),
                cmocka_unit_test(test_combine_cancel_gather_cancels_children),
                cmocka_unit_test(test_combine_wait_modes),
                cmocka_unit_test(test_combine_wait_for_timeout),
                cmocka_unit_test(test_combine_cancel_during_wait_for_cleanup),
                cmocka_unit_test(test_combine_as_completed),
                cmocka_unit_test(test_combine_shield),
                cmocka_unit_test(test_combine_group_failure_cancels_siblings),
                cmocka_unit_test(test_combine_group_owner_cancelled),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
