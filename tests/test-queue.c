/* SPDX-License-Identifier: MIT */
/* Queues: FIFO order of items and of waiters, bounded and unbounded,
 * cancellation and deadlines of getters and putters, hand-overs racing
 * cancellation, shutdown in both modes, task_done and join. */
#include <errno.h>

#include "test-util.h"

/* Items are small integers, as pointers. */
#define ITEM(i) ((void *) (uintptr_t) (i))
#define ID(p) ((int) (uintptr_t) (p))

/* One getter or putter task. */
typedef struct op {
        co_queue_t *q;
        co_usec_t deadline;
        void *item;             /* to put, or got */
        int r;                  /* the call's result, NOT_YET before */
} op_t;

static op_t op(co_queue_t *q, void *item, co_usec_t deadline) {
        return (op_t) { .q = q, .item = item, .deadline = deadline, .r = NOT_YET };
}

static int getter(void *arg) {
        op_t *o = arg;

        o->r = co_queue_get(o->q, &o->item, o->deadline);
        return 0;
}

static int putter(void *arg) {
        op_t *o = arg;

        o->r = co_queue_put(o->q, o->item, o->deadline);
        return 0;
}

static int joiner(void *arg) {
        op_t *o = arg;

        o->r = co_queue_join(o->q, o->deadline);
        return 0;
}

static co_task_t *spawn(co_task_fn_t fn, op_t *o) {
        return spawn_named("op", fn, o);
}

static void assert_get(co_queue_t *q, int id) {
        void *item = ITEM(-1);

        assert_int_equal(co_queue_get(q, &item, CO_USEC_INFINITY), 0);
        assert_int_equal(ID(item), id);
}

/* Drop function: records what the queue dropped. */
typedef struct dropped {
        int ids[16];
        size_t n;
} dropped_t;

static void record_drop(void *item, void *userdata) {
        dropped_t *d = userdata;

        assert_true(d->n < ELEMENTSOF(d->ids));
        d->ids[d->n++] = ID(item);
}

/* ---- basics ----------------------------------------------------------------- */

static int bounded_basics(void *arg) {
        co_queue_t *q = NULL;
        void *item = ITEM(99);

        assert_int_equal(co_queue_new(NULL, 2), -EINVAL);
        assert_int_equal(co_queue_new(&q, 2), 0);
        assert_int_equal(co_queue_get_capacity(q), 2);
        assert_int_equal(co_queue_get_size(q), 0);
        assert_int_equal(co_queue_try_get(q, &item), -EAGAIN);
        assert_ptr_equal(item, ITEM(99));
        /* NULL is an item like any other. */
        assert_int_equal(co_queue_try_put(q, NULL), 0);
        assert_int_equal(co_queue_put(q, ITEM(1), CO_USEC_INFINITY), 0);
        assert_int_equal(co_queue_get_size(q), 2);
        assert_int_equal(co_queue_try_put(q, ITEM(2)), -EAGAIN);
        assert_int_equal(co_queue_put(q, ITEM(2), 0), -ETIMEDOUT);
        assert_int_equal(co_queue_put(q, ITEM(2), co_deadline_after(msec(2))), -ETIMEDOUT);
        assert_int_equal(co_queue_get_size(q), 2);
        assert_int_equal(co_queue_try_get(q, &item), 0);
        assert_null(item);
        /* A deadline that has passed does not stop what needs no wait. */
        assert_int_equal(co_queue_get(q, &item, 0), 0);
        assert_ptr_equal(item, ITEM(1));
        assert_int_equal(co_queue_get(q, &item, 0), -ETIMEDOUT);
        assert_int_equal(co_queue_get(q, &item, co_deadline_after(msec(2))), -ETIMEDOUT);
        /* Around the ring a few times. */
        for (int i = 0; i < 7; i++) {
                assert_int_equal(co_queue_try_put(q, ITEM(i)), 0);
                assert_int_equal(co_queue_try_put(q, ITEM(100 + i)), 0);
                assert_get(q, i);
                assert_get(q, 100 + i);
        }
        assert_int_equal(co_queue_get(q, NULL, 0), -EINVAL);
        assert_int_equal(co_queue_put(NULL, NULL, 0), -EINVAL);
        assert_int_equal(co_queue_get_size(NULL), 0);
        assert_null(co_queue_free(q));
        assert_null(co_queue_free(NULL));
        return 0;
}

static void test_queue_bounded_basics(void **state) {
        co_queue_t *q = NULL;
        void *item;

        assert_main_ok(bounded_basics);
        /* Outside any task, only what never waits. */
        assert_int_equal(co_queue_new(&q, 1), 0);
        assert_int_equal(co_queue_put(q, ITEM(1), CO_USEC_INFINITY), -EPERM);
        assert_int_equal(co_queue_try_put(q, ITEM(1)), 0);
        assert_int_equal(co_queue_get(q, &item, CO_USEC_INFINITY), -EPERM);
        assert_int_equal(co_queue_try_get(q, &item), 0);
        assert_ptr_equal(item, ITEM(1));
        assert_int_equal(co_queue_join(q, CO_USEC_INFINITY), -EPERM);
        co_queue_free(q);
}

static int unbounded(void *arg) {
        co_queue_t *q = NULL;
        int n = 1000, got = 0;

        assert_int_equal(co_queue_new(&q, 0), 0);
        assert_int_equal(co_queue_get_capacity(q), 0);
        /* Wrapped around before it grows: the order survives the move. */
        for (int i = 0; i < 10; i++)
                assert_int_equal(co_queue_try_put(q, ITEM(i)), 0);
        for (; got < 7; got++)
                assert_get(q, got);
        for (int i = 10; i < n; i++)
                assert_int_equal(co_queue_put(q, ITEM(i), 0), 0);
        assert_int_equal(co_queue_get_size(q), (size_t) (n - got));
        for (; got < n; got++)
                assert_get(q, got);
        assert_int_equal(co_queue_get_size(q), 0);
        co_queue_free(q);
        return 0;
}

static void test_queue_unbounded(void **state) {
        assert_main_ok(unbounded);
}

/* ---- waiters ------------------------------------------------------------------ */

static int getters_fifo(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t g[3];

        assert_int_equal(co_queue_new(&q, 1), 0);
        for (int i = 0; i < 3; i++) {
                g[i] = op(q, NULL, CO_USEC_INFINITY);
                ts.t[i] = spawn(getter, &g[i]);
        }
        settle();
        assert_waits_on(ts.t[0], "queue get");
        /* Each put goes straight to the longest-waiting getter. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(co_queue_put(q, ITEM(10 + i), 0), 0);
                assert_int_equal(co_queue_get_size(q), 0);
                assert_int_equal(co_task_get_state(ts.t[i]), CO_TASK_READY);
        }
        for (int i = 0; i < 3; i++) {
                join_ok(ts.t[i]);
                assert_int_equal(g[i].r, 0);
                assert_int_equal(ID(g[i].item), 10 + i);
        }
        co_queue_free(q);
        return 0;
}

static void test_queue_getters_fifo(void **state) {
        assert_main_ok(getters_fifo);
}

static int putters_fifo(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t p[3];

        assert_int_equal(co_queue_new(&q, 1), 0);
        assert_int_equal(co_queue_put(q, ITEM(0), 0), 0);
        for (int i = 0; i < 3; i++) {
                p[i] = op(q, ITEM(i + 1), CO_USEC_INFINITY);
                ts.t[i] = spawn(putter, &p[i]);
        }
        settle();
        assert_waits_on(ts.t[0], "queue put");
        /* A get moves the first blocked put in: the queue stays full, and
         * a newcomer cannot slip in ahead of the blocked puts. */
        assert_get(q, 0);
        assert_int_equal(co_queue_get_size(q), 1);
        assert_int_equal(co_queue_try_put(q, ITEM(9)), -EAGAIN);
        for (int i = 1; i <= 3; i++)
                assert_get(q, i);
        for (int i = 0; i < 3; i++) {
                join_ok(ts.t[i]);
                assert_int_equal(p[i].r, 0);
        }
        assert_int_equal(co_queue_get_size(q), 0);
        co_queue_free(q);
        return 0;
}

static void test_queue_putters_fifo(void **state) {
        assert_main_ok(putters_fifo);
}

static int cancelled_getters(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t g[4];

        assert_int_equal(co_queue_new(&q, 0), 0);
        g[0] = op(q, NULL, CO_USEC_INFINITY);
        g[1] = op(q, NULL, CO_USEC_INFINITY);
        g[2] = op(q, NULL, co_deadline_after(msec(5)));
        g[3] = op(q, NULL, CO_USEC_INFINITY);
        for (int i = 0; i < 4; i++)
                ts.t[i] = spawn(getter, &g[i]);
        settle();
        /* Gone (by cancellation, by deadline), and on its way out but not
         * yet run: none of them takes an item. */
        co_task_cancel(ts.t[0], "test");
        join_ok(ts.t[0]);
        join_ok(ts.t[2]);
        assert_int_equal(g[2].r, -ETIMEDOUT);
        co_task_cancel(ts.t[1], "test");
        assert_int_equal(co_queue_try_put(q, ITEM(7)), 0);
        assert_int_equal(co_task_get_state(ts.t[3]), CO_TASK_READY);
        assert_int_equal(co_queue_put(q, ITEM(8), 0), 0);
        join_ok(ts.t[1]);
        join_ok(ts.t[3]);
        assert_int_equal(g[0].r, -ECANCELED);
        assert_int_equal(g[1].r, -ECANCELED);
        assert_int_equal(g[3].r, 0);
        assert_int_equal(ID(g[3].item), 7);
        /* Nothing was swallowed: the second item is still there. */
        assert_int_equal(co_queue_get_size(q), 1);
        assert_get(q, 8);
        co_queue_free(q);
        return 0;
}

static void test_queue_cancelled_getter_swallows_nothing(void **state) {
        assert_main_ok(cancelled_getters);
}

static int cancelled_putters(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t p[4];

        assert_int_equal(co_queue_new(&q, 1), 0);
        assert_int_equal(co_queue_put(q, ITEM(0), 0), 0);
        p[0] = op(q, ITEM(1), CO_USEC_INFINITY);
        p[1] = op(q, ITEM(2), CO_USEC_INFINITY);
        p[2] = op(q, ITEM(3), co_deadline_after(msec(5)));
        p[3] = op(q, ITEM(4), CO_USEC_INFINITY);
        for (int i = 0; i < 4; i++)
                ts.t[i] = spawn(putter, &p[i]);
        settle();
        co_task_cancel(ts.t[0], "test");
        join_ok(ts.t[0]);
        join_ok(ts.t[2]);
        assert_int_equal(p[2].r, -ETIMEDOUT);
        co_task_cancel(ts.t[1], "test");
        /* Only the put still waiting fills the slot. */
        assert_get(q, 0);
        assert_int_equal(co_queue_get_size(q), 1);
        assert_get(q, 4);
        join_ok(ts.t[1]);
        join_ok(ts.t[3]);
        assert_int_equal(p[0].r, -ECANCELED);
        assert_int_equal(p[1].r, -ECANCELED);
        assert_int_equal(p[3].r, 0);
        assert_int_equal(co_queue_get_size(q), 0);
        co_queue_free(q);
        return 0;
}

static void test_queue_cancelled_putter_leaves_no_trace(void **state) {
        assert_main_ok(cancelled_putters);
}

static int handover_then_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t g, p;

        assert_int_equal(co_queue_new(&q, 1), 0);
        /* A getter handed an item, then cancelled before it runs: the
         * item is still its. */
        g = op(q, NULL, CO_USEC_INFINITY);
        ts.t[0] = spawn(getter, &g);
        settle();
        assert_int_equal(co_queue_put(q, ITEM(5), 0), 0);
        co_task_cancel(ts.t[0], "too late");
        join_ok(ts.t[0]);
        assert_int_equal(g.r, 0);
        assert_int_equal(ID(g.item), 5);
        assert_int_equal(co_queue_get_size(q), 0);

        /* A putter whose item was moved in, then cancelled: its put
         * happened, and the item is in the queue once. */
        assert_int_equal(co_queue_put(q, ITEM(6), 0), 0);
        p = op(q, ITEM(7), CO_USEC_INFINITY);
        ts.t[1] = spawn(putter, &p);
        settle();
        assert_get(q, 6);
        co_task_cancel(ts.t[1], "too late");
        join_ok(ts.t[1]);
        assert_int_equal(p.r, 0);
        assert_int_equal(co_queue_get_size(q), 1);
        assert_get(q, 7);
        assert_int_equal(co_queue_get_size(q), 0);
        co_queue_free(q);
        return 0;
}

static void test_queue_handover_survives_cancel(void **state) {
        assert_main_ok(handover_then_cancel);
}

static int cancelled_caller(void *arg) {
        co_queue_t *q = NULL;
        void *item = NULL;

        assert_int_equal(co_queue_new(&q, 2), 0);
        assert_int_equal(co_queue_put(q, ITEM(1), 0), 0);
        co_task_cancel(co_task_current(), "test");
        /* Level-triggered: no wait was needed, and still no. */
        assert_int_equal(co_queue_get(q, &item, CO_USEC_INFINITY), -ECANCELED);
        assert_null(item);
        assert_int_equal(co_queue_put(q, ITEM(2), CO_USEC_INFINITY), -ECANCELED);
        assert_int_equal(co_queue_get_size(q), 1);
        assert_int_equal(co_queue_join(q, CO_USEC_INFINITY), -ECANCELED);
        assert_int_equal(co_queue_try_get(q, &item), 0);
        assert_int_equal(co_queue_task_done(q), 0);
        assert_int_equal(co_queue_join(q, CO_USEC_INFINITY), -ECANCELED);
        co_queue_free(q);
        return 0;
}

static void test_queue_cancelled_caller_fails_at_once(void **state) {
        assert_main_ok(cancelled_caller);
}

/* ---- shutdown ------------------------------------------------------------------ */

static int shutdown_graceful(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL, *e = NULL;
        dropped_t dropped = { 0 };
        void *item = NULL;
        op_t p, g;

        assert_int_equal(co_queue_new(&q, 2), 0);
        assert_int_equal(co_queue_set_drop(q, record_drop, &dropped), 0);
        assert_int_equal(co_queue_put(q, ITEM(1), 0), 0);
        assert_int_equal(co_queue_put(q, ITEM(2), 0), 0);
        p = op(q, ITEM(3), CO_USEC_INFINITY);
        ts.t[0] = spawn(putter, &p);
        assert_int_equal(co_queue_new(&e, 0), 0);
        g = op(e, NULL, CO_USEC_INFINITY);
        ts.t[1] = spawn(getter, &g);
        settle();
        assert_waits_on(ts.t[0], "queue put");
        assert_waits_on(ts.t[1], "queue get");

        assert_false(co_queue_is_shutdown(q));
        assert_int_equal(co_queue_shutdown(q, false), 0);
        assert_int_equal(co_queue_shutdown(e, false), 0);
        assert_true(co_queue_is_shutdown(q));
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        /* The blocked put failed, its item still the putter's; the blocked
         * get on an empty queue failed. */
        assert_int_equal(p.r, -ESHUTDOWN);
        assert_int_equal(g.r, -ESHUTDOWN);
        /* At once, not at a deadline. */
        assert_int_equal(co_queue_put(q, ITEM(4), co_deadline_after(CO_USEC_PER_SEC)), -ESHUTDOWN);
        assert_int_equal(co_queue_try_put(q, ITEM(4)), -ESHUTDOWN);
        /* What was in is still there to get, then the end. */
        assert_int_equal(co_queue_get_size(q), 2);
        assert_get(q, 1);
        assert_int_equal(co_queue_try_get(q, &item), 0);
        assert_ptr_equal(item, ITEM(2));
        assert_int_equal(co_queue_get(q, &item, co_deadline_after(CO_USEC_PER_SEC)), -ESHUTDOWN);
        assert_int_equal(co_queue_try_get(q, &item), -ESHUTDOWN);
        assert_int_equal(dropped.n, 0);
        assert_int_equal(co_queue_shutdown(q, false), 0);
        co_queue_free(e);
        co_queue_free(q);
        return 0;
}

static void test_queue_shutdown_graceful(void **state) {
        assert_main_ok(shutdown_graceful);
}

static int shutdown_immediate(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL, *e = NULL;
        dropped_t dropped = { 0 };
        void *item = NULL;
        op_t p, g, j;

        assert_int_equal(co_queue_new(&q, 3), 0);
        assert_int_equal(co_queue_set_drop(q, record_drop, &dropped), 0);
        for (int i = 1; i <= 3; i++)
                assert_int_equal(co_queue_put(q, ITEM(i), 0), 0);
        /* One taken and done, one taken and not yet done. */
        assert_get(q, 1);
        assert_int_equal(co_queue_task_done(q), 0);
        assert_get(q, 2);
        assert_int_equal(co_queue_put(q, ITEM(4), 0), 0);
        assert_int_equal(co_queue_put(q, ITEM(5), 0), 0);
        p = op(q, ITEM(6), CO_USEC_INFINITY);
        ts.t[0] = spawn(putter, &p);
        j = op(q, NULL, CO_USEC_INFINITY);
        ts.t[1] = spawn(joiner, &j);
        assert_int_equal(co_queue_new(&e, 1), 0);
        g = op(e, NULL, CO_USEC_INFINITY);
        ts.t[2] = spawn(getter, &g);
        settle();
        assert_waits_on(ts.t[0], "queue put");
        assert_waits_on(ts.t[1], "queue join");

        assert_int_equal(co_queue_shutdown(q, true), 0);
        assert_int_equal(co_queue_shutdown(e, true), 0);
        /* Dropped at once, in order; the blocked put's item is not. */
        assert_int_equal(dropped.n, 3);
        assert_int_equal(dropped.ids[0], 3);
        assert_int_equal(dropped.ids[1], 4);
        assert_int_equal(dropped.ids[2], 5);
        assert_int_equal(co_queue_get_size(q), 0);
        assert_int_equal(co_queue_get(q, &item, co_deadline_after(CO_USEC_PER_SEC)), -ESHUTDOWN);
        join_ok(ts.t[0]);
        join_ok(ts.t[2]);
        assert_int_equal(p.r, -ESHUTDOWN);
        assert_int_equal(g.r, -ESHUTDOWN);
        /* Item 2 is still being worked on: join waits for it alone. */
        settle();
        assert_waits_on(ts.t[1], "queue join");
        assert_int_equal(co_queue_task_done(q), 0);
        join_ok(ts.t[1]);
        assert_int_equal(j.r, 0);
        assert_int_equal(co_queue_task_done(q), -EINVAL);
        co_queue_free(e);
        co_queue_free(q);
        assert_int_equal(dropped.n, 3);
        return 0;
}

static void test_queue_shutdown_immediate(void **state) {
        assert_main_ok(shutdown_immediate);
}

/* ---- task_done and join --------------------------------------------------------- */

static int worker(void *arg) {
        co_queue_t *q = arg;
        void *item;

        while (co_queue_get(q, &item, CO_USEC_INFINITY) == 0) {
                assert_int_equal(co_sleep(msec(1)), 0);
                assert_int_equal(co_queue_task_done(q), 0);
        }
        return 0;
}

static int join_all_done(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_queue_t *q = NULL;
        op_t j;

        assert_int_equal(co_queue_new(&q, 2), 0);
        /* Nothing put, nothing to wait for. */
        assert_int_equal(co_queue_join(q, 0), 0);
        assert_int_equal(co_queue_task_done(q), -EINVAL);
        for (int i = 0; i < 2; i++)
                assert_int_equal(co_queue_put(q, ITEM(i), 0), 0);
        assert_int_equal(co_queue_join(q, co_deadline_after(msec(2))), -ETIMEDOUT);
        assert_int_equal(co_queue_join(q, 0), -ETIMEDOUT);
        /* Taken is not done. */
        assert_get(q, 0);
        assert_get(q, 1);
        assert_int_equal(co_queue_join(q, 0), -ETIMEDOUT);
        assert_int_equal(co_queue_task_done(q), 0);
        assert_int_equal(co_queue_join(q, 0), -ETIMEDOUT);
        assert_int_equal(co_queue_task_done(q), 0);
        assert_int_equal(co_queue_join(q, 0), 0);
        assert_int_equal(co_queue_task_done(q), -EINVAL);

        /* Two workers, six items (some through blocked puts), one joiner
         * besides us. */
        assert_int_equal(co_spawn(&ts.t[0], "worker", worker, q), 0);
        assert_int_equal(co_spawn(&ts.t[1], "worker", worker, q), 0);
        j = op(q, NULL, CO_USEC_INFINITY);
        ts.t[2] = spawn(joiner, &j);
        for (int i = 0; i < 6; i++)
                assert_int_equal(co_queue_put(q, ITEM(i), CO_USEC_INFINITY), 0);
        assert_int_equal(j.r, NOT_YET);
        assert_int_equal(co_queue_join(q, CO_USEC_INFINITY), 0);
        assert_int_equal(co_queue_get_size(q), 0);
        join_ok(ts.t[2]);
        assert_int_equal(j.r, 0);
        assert_int_equal(co_queue_shutdown(q, false), 0);
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        co_queue_free(q);
        return 0;
}

static void test_queue_task_done_join(void **state) {
        assert_main_ok(join_all_done);
}

/* ---- callbacks and free ------------------------------------------------------------ */

static void put_from_callback(co_task_t *t, void *userdata) {
        assert_int_equal(co_queue_try_put(userdata, ITEM(42)), 0);
}

static int callback_and_free(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        dropped_t dropped = { 0 };
        co_queue_t *q = NULL;
        op_t g, p, j;

        assert_int_equal(co_queue_new(&q, 2), 0);
        g = op(q, NULL, CO_USEC_INFINITY);
        ts.t[0] = spawn(getter, &g);
        /* A put from a loop callback, outside any task, hands over too. */
        assert_int_equal(co_spawn(&ts.t[1], "putter", do_nothing, NULL), 0);
        assert_int_equal(co_task_add_done_callback(ts.t[1], put_from_callback, q), 0);
        join_ok(ts.t[0]);
        assert_int_equal(g.r, 0);
        assert_int_equal(ID(g.item), 42);

        /* Freed with items, a blocked putter and a joiner. */
        assert_int_equal(co_queue_set_drop(q, record_drop, &dropped), 0);
        assert_int_equal(co_queue_put(q, ITEM(1), 0), 0);
        assert_int_equal(co_queue_put(q, ITEM(2), 0), 0);
        p = op(q, ITEM(3), CO_USEC_INFINITY);
        ts.t[2] = spawn(putter, &p);
        j = op(q, NULL, CO_USEC_INFINITY);
        ts.t[3] = spawn(joiner, &j);
        settle();
        co_queue_free(q);
        join_ok(ts.t[2]);
        join_ok(ts.t[3]);
        assert_int_equal(p.r, -EIDRM);
        assert_int_equal(j.r, -EIDRM);
        assert_int_equal(dropped.n, 2);
        assert_int_equal(dropped.ids[0], 1);
        assert_int_equal(dropped.ids[1], 2);
        return 0;
}

static void test_queue_callback_put_and_free(void **state) {
        assert_main_ok(callback_and_free);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_queue_bounded_basics),
                cmocka_unit_test(test_queue_unbounded),
                cmocka_unit_test(test_queue_getters_fifo),
                cmocka_unit_test(test_queue_putters_fifo),
                cmocka_unit_test(test_queue_cancelled_getter_swallows_nothing),
                cmocka_unit_test(test_queue_cancelled_putter_leaves_no_trace),
                cmocka_unit_test(test_queue_handover_survives_cancel),
                cmocka_unit_test(test_queue_cancelled_caller_fails_at_once),
                cmocka_unit_test(test_queue_shutdown_graceful),
                cmocka_unit_test(test_queue_shutdown_immediate),
                cmocka_unit_test(test_queue_task_done_join),
                cmocka_unit_test(test_queue_callback_put_and_free),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
