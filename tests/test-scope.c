/* SPDX-License-Identifier: MIT */
/* Cancel scopes: move on after, fail after, nesting, shields, who catches. */
#include <errno.h>

#include "test-util.h"

static co_usec_t forever(void) {
        return 3600 * CO_USEC_PER_SEC;
}

static int move_on_after(void *arg) {
        co_scope_t sc;
        co_usec_t start = co_now();

        co_scope_begin(&sc, co_deadline_after(msec(10)), 0);
        assert_int_equal(co_sleep(forever()), -ECANCELED);
        /* Level-triggered inside the scope. */
        assert_int_equal(co_task_yield(), -ECANCELED);
        assert_int_equal(co_scope_end(&sc), 0);
        assert_true(sc.caught);
        assert_true(co_now() - start >= msec(10));
        /* Outside, life goes on. */
        assert_int_equal(co_sleep(msec(1)), 0);

        co_scope_begin(&sc, co_deadline_after(msec(50)), 0);
        assert_int_equal(co_sleep(msec(1)), 0);
        assert_int_equal(co_scope_end(&sc), 0);
        assert_false(sc.caught);
        return 0;
}

static void test_scope_move_on_after(void **state) {
        assert_int_equal(run_main(move_on_after, NULL).kind, CO_OUTCOME_RESULT);
}

static int fail_after(void *arg) {
        co_scope_t sc;

        co_scope_begin(&sc, co_deadline_after(msec(5)), CO_SCOPE_FAIL);
        assert_int_equal(co_sleep(forever()), -ECANCELED);
        assert_int_equal(co_scope_end(&sc), -ETIMEDOUT);
        return 0;
}

static void test_scope_fail_after(void **state) {
        assert_int_equal(run_main(fail_after, NULL).kind, CO_OUTCOME_RESULT);
}

/* The inner deadline is later than the outer one: the outer scope fires,
 * the inner one does not catch it, the outer one does. */
static int nested_inner_later(void *arg) {
        co_scope_t outer, inner;

        co_scope_begin(&outer, co_deadline_after(msec(5)), 0);
        co_scope_begin(&inner, co_deadline_after(msec(500)), 0);
        assert_int_equal(co_sleep(forever()), -ECANCELED);
        assert_int_equal(co_scope_end(&inner), -ECANCELED);
        assert_false(inner.caught);
        assert_int_equal(co_scope_end(&outer), 0);
        assert_true(outer.caught);

        /* And the other way round: the inner one catches its own. */
        co_scope_begin(&outer, co_deadline_after(msec(500)), 0);
        co_scope_begin(&inner, co_deadline_after(msec(5)), CO_SCOPE_FAIL);
        assert_int_equal(co_sleep(forever()), -ECANCELED);
        assert_int_equal(co_scope_end(&inner), -ETIMEDOUT);
        assert_int_equal(co_sleep(msec(1)), 0);
        assert_int_equal(co_scope_end(&outer), 0);
        assert_false(outer.caught);
        return 0;
}

static void test_scope_nested_inner_deadline_later(void **state) {
        assert_int_equal(run_main(nested_inner_later, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct remote {
        co_scope_t *scope;
        int slept;
        int ended;
} remote_t;

static int sleeper_in_scope(void *arg) {
        remote_t *r = arg;
        co_scope_t sc;

        co_scope_begin(&sc, CO_USEC_INFINITY, 0);
        r->scope = &sc;
        r->slept = co_sleep(forever());
        r->scope = NULL;
        r->ended = co_scope_end(&sc);
        /* The task itself was not cancelled. */
        return co_sleep(msec(1));
}

static int cancel_from_elsewhere(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        remote_t r = { 0 };
        co_outcome_t o;

        assert_int_equal(co_spawn(&t, "scoped", sleeper_in_scope, &r), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_non_null(r.scope);
        co_scope_cancel(r.scope);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(r.slept, -ECANCELED);
        assert_int_equal(r.ended, 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        return 0;
}

static void test_scope_cancel_from_another_task(void **state) {
        assert_int_equal(run_main(cancel_from_elsewhere, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct shielded {
        int in_shield;
        int shield_end;
        int after;
} shielded_t;

static int shielded_scope(void *arg) {
        shielded_t *s = arg;
        co_scope_t outer, sh;

        co_scope_begin(&outer, co_deadline_after(msec(5)), 0);
        co_scope_begin(&sh, co_deadline_after(msec(40)), CO_SCOPE_SHIELD);
        /* Neither the outer deadline nor the task's cancellation gets in;
         * the shield's own deadline does. */
        s->in_shield = co_sleep(forever());
        s->shield_end = co_scope_end(&sh);
        s->after = co_sleep(msec(1));
        (void) co_scope_end(&outer);
        return 0;
}

static int cancel_shielded(void *arg) {
        shielded_t *s = arg;
        co_usec_t start = co_now();

        spawn_and_cancel_after("shielded", shielded_scope, s, msec(10));
        assert_true(co_now() - start >= msec(40));
        return 0;
}

static void test_scope_shield_keeps_outside_cancellation_out(void **state) {
        shielded_t s = { 0 };

        assert_int_equal(run_main(cancel_shielded, &s).kind, CO_OUTCOME_RESULT);
        assert_int_equal(s.in_shield, -ECANCELED);
        /* It caught its own deadline... */
        assert_int_equal(s.shield_end, 0);
        /* ...and outside it the task's cancellation is back. */
        assert_int_equal(s.after, -ECANCELED);
}

static int task_cancel_not_caught(void *arg) {
        co_scope_t sc;
        int *ended = arg;

        co_scope_begin(&sc, co_deadline_after(msec(500)), 0);
        (void) co_sleep(forever());
        *ended = co_scope_end(&sc);
        return *ended;
}

static int cancel_through_scope(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;

        assert_int_equal(co_spawn(&t, "through", task_cancel_not_caught, arg), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        return 0;
}

static void test_scope_task_cancel_passes_through(void **state) {
        int ended = 0;

        assert_int_equal(run_main(cancel_through_scope, &ended).kind, CO_OUTCOME_RESULT);
        assert_int_equal(ended, -ECANCELED);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scope_move_on_after),
                cmocka_unit_test(test_scope_fail_after),
                cmocka_unit_test(test_scope_nested_inner_deadline_later),
                cmocka_unit_test(test_scope_cancel_from_another_task),
                cmocka_unit_test(test_scope_shield_keeps_outside_cancellation_out),
                cmocka_unit_test(test_scope_task_cancel_passes_through),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
