/* SPDX-License-Identifier: MIT */
/* Futures: set once, awaited, cancelled waiters, other threads. */
#include <errno.h>
#include <pthread.h>

#include "test-util.h"

static int settle_once(void *arg) {
        co_future_t *f = NULL;
        co_outcome_t o;

        assert_int_equal(co_future_new(NULL, &f), 0);
        assert_false(co_future_is_done(f));
        assert_int_equal(co_future_get_outcome(f, &o), -EBUSY);
        assert_int_equal(co_future_set_result(f, 3, (void *) "three"), 0);
        /* Like asyncio's InvalidStateError: once is all. */
        assert_int_equal(co_future_set_result(f, 4, NULL), -EALREADY);
        assert_int_equal(co_future_set_error(f, -EIO, "late"), -EALREADY);
        assert_int_equal(co_future_cancel(f, NULL), -EALREADY);
        assert_true(co_future_is_done(f));
        assert_int_equal(co_future_wait(f, CO_USEC_INFINITY, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 3);
        assert_string_equal(o.result, "three");
        co_future_unref(f);

        assert_int_equal(co_future_new(NULL, &f), 0);
        assert_int_equal(co_future_set_error(f, -ECANCELED, NULL), -EINVAL);
        assert_int_equal(co_future_cancel(f, "no longer needed"), 0);
        assert_int_equal(co_future_get_outcome(f, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_string_equal(o.message, "no longer needed");
        co_future_unref(f);
        return 0;
}

static void test_future_settles_once(void **state) {
        assert_int_equal(run_main(settle_once, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct waiting {
        co_future_t *f;
        int r;
        co_outcome_t o;
} waiting_t;

static int wait_for_future(void *arg) {
        waiting_t *w = arg;

        w->r = co_future_wait(w->f, CO_USEC_INFINITY, &w->o);
        return 0;
}

static int waiters_and_cancel(void *arg) {
        _cleanup_task_ co_task_t *a = NULL, *b = NULL;
        waiting_t wa = { 0 }, wb = { 0 };
        co_future_t *f = NULL;

        assert_int_equal(co_future_new(NULL, &f), 0);
        wa.f = wb.f = f;
        assert_int_equal(co_spawn(&a, "a", wait_for_future, &wa), 0);
        assert_int_equal(co_spawn(&b, "b", wait_for_future, &wb), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_string_equal(co_task_get_wait(a), "future");
        /* A cancelled waiter leaves; the future and the other waiter stay. */
        co_task_cancel(a, NULL);
        assert_int_equal(co_task_join(a, NULL), 0);
        assert_int_equal(wa.r, -ECANCELED);
        assert_false(co_future_is_done(f));
        assert_int_equal(co_future_set_error(f, -EPIPE, "peer %s", "gone"), 0);
        assert_int_equal(co_task_join(b, NULL), 0);
        assert_int_equal(wb.r, 0);
        assert_int_equal(wb.o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(wb.o.value, -EPIPE);
        assert_string_equal(wb.o.message, "peer gone");
        /* A deadline on a done future does not matter. */
        assert_int_equal(co_future_wait(f, co_now(), NULL), 0);
        co_future_unref(f);
        return 0;
}

static void test_future_cancelled_waiter_leaves_no_trace(void **state) {
        assert_int_equal(run_main(waiters_and_cancel, NULL).kind, CO_OUTCOME_RESULT);
}

static int wait_with_deadline(void *arg) {
        co_future_t *f = NULL;

        assert_int_equal(co_future_new(NULL, &f), 0);
        assert_int_equal(co_future_wait(f, co_deadline_after(msec(5)), NULL), -ETIMEDOUT);
        assert_false(co_future_is_done(f));
        co_future_unref(f);
        return 0;
}

static void test_future_wait_deadline(void **state) {
        assert_int_equal(run_main(wait_with_deadline, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct cross {
        co_future_t *f;
        pthread_t loop_thread;
        bool callback_on_loop_thread;
        int callbacks;
} cross_t;

static void *set_from_thread(void *arg) {
        cross_t *c = arg;

        usleep(10 * 1000);
        assert_int_equal(co_future_set_result(c->f, 42, NULL), 0);
        co_future_unref(c->f);
        return NULL;
}

static void on_done(co_future_t *f, void *userdata) {
        cross_t *c = userdata;

        c->callbacks++;
        c->callback_on_loop_thread = pthread_equal(pthread_self(), c->loop_thread);
}

static int wait_for_thread(void *arg) {
        cross_t *c = arg;
        co_future_t *f = NULL;
        pthread_t th;
        co_outcome_t o;

        c->loop_thread = pthread_self();
        assert_int_equal(co_future_new(NULL, &f), 0);
        assert_int_equal(co_future_add_done_callback(f, on_done, c), 0);
        c->f = co_future_ref(f);
        assert_int_equal(pthread_create(&th, NULL, set_from_thread, c), 0);
        assert_int_equal(co_future_wait(f, CO_USEC_INFINITY, &o), 0);
        assert_int_equal(o.value, 42);
        assert_int_equal(pthread_join(th, NULL), 0);
        /* The callback ran on the loop, before or as the waiter woke. */
        assert_int_equal(c->callbacks, 1);
        co_future_unref(f);
        return 0;
}

static void test_future_set_from_another_thread(void **state) {
        cross_t c = { 0 };

        assert_int_equal(run_main(wait_for_thread, &c).kind, CO_OUTCOME_RESULT);
        assert_true(c.callback_on_loop_thread);
}

static void count_errors(const co_log_record_t *rec, void *userdata) {
        if (rec->level == CO_LOG_ERR && strstr(rec->message, "future failed"))
                (*(int *) userdata)++;
}

static int drop_failed_future(void *arg) {
        co_future_t *f = NULL;

        assert_int_equal(co_future_new(NULL, &f), 0);
        assert_int_equal(co_future_set_error(f, -EIO, NULL), 0);
        co_future_unref(f);
        return 0;
}

static void test_future_unread_error_logged(void **state) {
        int errors = 0;

        assert_int_equal(run_main_logging_to(count_errors, &errors, drop_failed_future, NULL).kind, CO_OUTCOME_RESULT);
        assert_int_equal(errors, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_future_settles_once),
                cmocka_unit_test(test_future_cancelled_waiter_leaves_no_trace),
                cmocka_unit_test(test_future_wait_deadline),
                cmocka_unit_test(test_future_set_from_another_thread),
                cmocka_unit_test(test_future_unread_error_logged),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
