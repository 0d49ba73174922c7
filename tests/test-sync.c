/* SPDX-License-Identifier: MIT */
/* Lock, event, condition, semaphore: FIFO hand-over, cancellation and
 * deadlines of waiters, hand-overs racing cancellation. */
#include <errno.h>
#include <limits.h>

#include "test-util.h"

/* The order in which waiters got through. */
typedef struct trace {
        int ids[16];
        size_t n;
} trace_t;

static void trace_add(trace_t *t, int id) {
        assert_true(t->n < ELEMENTSOF(t->ids));
        t->ids[t->n++] = id;
}

static void assert_trace(const trace_t *t, const int *ids, size_t n) {
        assert_int_equal(t->n, n);
        for (size_t i = 0; i < n; i++)
                assert_int_equal(t->ids[i], ids[i]);
}

/* One waiting task: what it waits on, what its call returned. */
typedef struct waiter {
        int id;
        void *obj;
        co_usec_t deadline;
        trace_t *trace;
        bool keep;              /* do not release what was acquired */
        int r;                  /* the waiting call's result, NOT_YET before */
        bool held;              /* held the lock (or a permit) when it returned */
        int release_r;
} waiter_t;

static waiter_t waiter(int id, void *obj, co_usec_t deadline, trace_t *trace) {
        return (waiter_t) { .id = id, .obj = obj, .deadline = deadline, .trace = trace,
                            .r = NOT_YET, .release_r = NOT_YET };
}

/* Waiters 1 to n on obj, with no deadline: a test changes the odd one
 * before starting them. */
static void init_waiters(waiter_t *w, size_t n, void *obj, trace_t *trace) {
        for (size_t i = 0; i < n; i++)
                w[i] = waiter((int) i + 1, obj, CO_USEC_INFINITY, trace);
}

static co_task_t *spawn(co_task_fn_t fn, waiter_t *w) {
        return spawn_named("waiter", fn, w);
}

/* A task fn for each waiter, in order, each left blocked in its wait:
 * the order they queued in is the order of w. */
static void start_waiters(co_task_t **t, co_task_fn_t fn, waiter_t *w, size_t n) {
        for (size_t i = 0; i < n; i++)
                t[i] = spawn(fn, &w[i]);
        settle();
}

static co_lock_t *new_held_lock(void) {
        co_lock_t *lock = NULL;

        assert_int_equal(co_lock_new(&lock), 0);
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        return lock;
}

/* ---- lock ------------------------------------------------------------------ */

static int lock_waiter(void *arg) {
        waiter_t *w = arg;

        w->r = co_lock_acquire(w->obj, w->deadline);
        if (w->r < 0)
                return 0;
        w->held = co_lock_get_owner(w->obj) == co_task_current();
        if (w->trace)
                trace_add(w->trace, w->id);
        if (!w->keep)
                w->release_r = co_lock_release(w->obj);
        return 0;
}

static int lock_releaser(void *arg) {
        waiter_t *w = arg;

        w->release_r = co_lock_release(w->obj);
        return 0;
}

/* A lock the caller holds, with n lock_waiter tasks queued on it in
 * order. */
static co_lock_t *held_lock_with_waiters(co_task_t **t, waiter_t *w, size_t n, trace_t *trace) {
        co_lock_t *lock = new_held_lock();

        init_waiters(w, n, lock, trace);
        start_waiters(t, lock_waiter, w, n);
        return lock;
}

static int lock_basics(void *arg) {
        _cleanup_task_ co_task_t *other = NULL;
        co_lock_t *lock = NULL;
        waiter_t w;

        assert_int_equal(co_lock_new(NULL), -EINVAL);
        assert_int_equal(co_lock_new(&lock), 0);
        assert_false(co_lock_is_locked(lock));
        assert_null(co_lock_get_owner(lock));
        /* Releasing a lock nobody holds is an error, as in asyncio. */
        assert_int_equal(co_lock_release(lock), -EPERM);
        assert_int_equal(co_lock_try_acquire(lock), 0);
        assert_true(co_lock_is_locked(lock));
        assert_ptr_equal(co_lock_get_owner(lock), co_task_current());
        assert_int_equal(co_lock_try_acquire(lock), -EBUSY);
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), -EDEADLK);

        /* Another task may neither take it without waiting nor release it. */
        w = waiter(1, lock, co_now(), NULL);
        other = spawn(lock_waiter, &w);
        join_ok(other);
        assert_int_equal(w.r, -ETIMEDOUT);
        other = co_task_unref(other);
        w = waiter(1, lock, CO_USEC_INFINITY, NULL);
        other = spawn(lock_releaser, &w);
        join_ok(other);
        assert_int_equal(w.release_r, -EPERM);
        assert_ptr_equal(co_lock_get_owner(lock), co_task_current());

        assert_int_equal(co_lock_release(lock), 0);
        assert_false(co_lock_is_locked(lock));
        /* A deadline that has passed does not stop what needs no wait. */
        assert_int_equal(co_lock_acquire(lock, 0), 0);
        assert_int_equal(co_lock_release(lock), 0);

        assert_int_equal(co_lock_acquire(NULL, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(co_lock_release(NULL), -EINVAL);
        assert_false(co_lock_is_locked(NULL));
        assert_null(co_lock_free(lock));
        assert_null(co_lock_free(NULL));
        return 0;
}

static void test_sync_lock_basics(void **state) {
        co_lock_t *lock = NULL;

        assert_main_ok(lock_basics);
        /* Outside any task there is no owner to be. */
        assert_int_equal(co_lock_new(&lock), 0);
        assert_int_equal(co_lock_try_acquire(lock), -EPERM);
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), -EPERM);
        assert_int_equal(co_lock_release(lock), -EPERM);
        co_lock_free(lock);
}

static int lock_fifo(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        trace_t trace = { 0 };
        waiter_t w[3];
        co_lock_t *lock = held_lock_with_waiters(ts.t, w, 3, &trace);

        assert_waits_on(ts.t[0], "lock");
        assert_waits_on(ts.t[2], "lock");

        /* The lock goes straight to the first waiter: no barging. */
        assert_int_equal(co_lock_release(lock), 0);
        assert_ptr_equal(co_lock_get_owner(lock), ts.t[0]);
        assert_int_equal(co_lock_try_acquire(lock), -EBUSY);
        assert_int_equal(co_lock_acquire(lock, co_now()), -ETIMEDOUT);
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        join_ok(ts.t[2]);
        assert_trace(&trace, (int[]) { 1, 2, 3 }, 3);
        assert_true(w[0].held && w[1].held && w[2].held);
        assert_int_equal(w[2].release_r, 0);
        assert_false(co_lock_is_locked(lock));
        co_lock_free(lock);
        return 0;
}

static void test_sync_lock_fifo(void **state) {
        assert_main_ok(lock_fifo);
}

static int lock_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        trace_t trace = { 0 };
        waiter_t w[3];
        co_lock_t *lock = held_lock_with_waiters(ts.t, w, 3, &trace);

        /* A waiter cancelled and gone: the next one gets the lock. */
        co_task_cancel(ts.t[0], "test");
        join_ok(ts.t[0]);
        assert_int_equal(w[0].r, -ECANCELED);
        assert_ptr_equal(co_lock_get_owner(lock), co_task_current());
        /* A waiter cancelled but still on its way out (not run yet): it is
         * passed over, not handed a lock it would never release. */
        co_task_cancel(ts.t[1], "test");
        assert_int_equal(co_task_get_state(ts.t[1]), CO_TASK_READY);
        assert_int_equal(co_lock_release(lock), 0);
        assert_ptr_equal(co_lock_get_owner(lock), ts.t[2]);
        join_ok(ts.t[1]);
        join_ok(ts.t[2]);
        assert_int_equal(w[1].r, -ECANCELED);
        assert_false(w[1].held);
        assert_int_equal(w[2].r, 0);
        assert_trace(&trace, (int[]) { 3 }, 1);
        assert_false(co_lock_is_locked(lock));
        co_lock_free(lock);
        return 0;
}

static void test_sync_lock_cancelled_waiter_leaves_no_trace(void **state) {
        assert_main_ok(lock_cancel);
}

static int hold_and_sleep_until(void *arg) {
        waiter_t *w = arg;

        assert_int_equal(co_lock_acquire(w->obj, CO_USEC_INFINITY), 0);
        assert_int_equal(co_sleep_until(w->deadline), 0);
        w->release_r = co_lock_release(w->obj);
        return 0;
}

static int lock_deadline(void *arg) {
        _cleanup_task_ co_task_t *h = NULL, *a = NULL, *b = NULL;
        co_usec_t d = co_deadline_after(msec(20));
        co_lock_t *lock;
        waiter_t wh, wa, wb;
        co_usec_t t0;

        /* Plain expiry. */
        lock = new_held_lock();
        wa = waiter(1, lock, co_deadline_after(msec(5)), NULL);
        t0 = co_now();
        a = spawn(lock_waiter, &wa);
        join_ok(a);
        assert_int_equal(wa.r, -ETIMEDOUT);
        assert_true(co_now() - t0 >= msec(5));
        assert_int_equal(co_lock_release(lock), 0);
        assert_false(co_lock_is_locked(lock));
        a = co_task_unref(a);

        /* The holder and waiter a wake at the same instant d, the holder
         * first: a has timed out but not run when the holder releases, so
         * the lock must go past it to b. */
        wh = waiter(0, lock, d, NULL);
        wa = waiter(1, lock, d, NULL);
        wb = waiter(2, lock, CO_USEC_INFINITY, NULL);
        h = spawn(hold_and_sleep_until, &wh);
        a = spawn(lock_waiter, &wa);
        b = spawn(lock_waiter, &wb);
        join_ok(h);
        join_ok(a);
        join_ok(b);
        assert_int_equal(wh.release_r, 0);
        assert_int_equal(wa.r, -ETIMEDOUT);
        assert_int_equal(wb.r, 0);
        assert_true(wb.held);
        assert_false(co_lock_is_locked(lock));
        co_lock_free(lock);
        return 0;
}

static void test_sync_lock_deadline(void **state) {
        assert_main_ok(lock_deadline);
}

static int lock_handover_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        waiter_t w[2];
        co_lock_t *lock = held_lock_with_waiters(ts.t, w, 2, NULL);

        /* Picked, then cancelled before it runs: the lock is still the
         * first waiter's. */
        assert_int_equal(co_lock_release(lock), 0);
        co_task_cancel(ts.t[0], "too late");
        assert_ptr_equal(co_lock_get_owner(lock), ts.t[0]);
        join_ok(ts.t[0]);
        assert_int_equal(w[0].r, 0);
        assert_true(w[0].held);
        /* Cancelled, it could still release, and the second was next. */
        assert_int_equal(w[0].release_r, 0);
        join_ok(ts.t[1]);
        assert_int_equal(w[1].r, 0);
        assert_false(co_lock_is_locked(lock));
        co_lock_free(lock);
        return 0;
}

static void test_sync_lock_handover_survives_cancel(void **state) {
        assert_main_ok(lock_handover_cancel);
}

/* ---- level-triggered cancellation, every primitive ------------------------- */

static bool always(void *userdata) {
        return true;
}

static int cancelled_calls(void *arg) {
        co_lock_t *lock = NULL;
        co_event_t *e = NULL;
        co_sem_t *s = NULL;
        co_cond_t *c = NULL;
        co_shield_t sh;

        assert_int_equal(co_lock_new(&lock), 0);
        assert_int_equal(co_event_new(&e), 0);
        assert_int_equal(co_sem_new(&s, 1), 0);
        assert_int_equal(co_cond_new(&c, NULL), 0);
        co_event_set(e);
        co_task_cancel(co_task_current(), "test");

        /* Each of these could succeed without waiting, and does not. */
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), -ECANCELED);
        assert_false(co_lock_is_locked(lock));
        assert_int_equal(co_event_wait(e, CO_USEC_INFINITY), -ECANCELED);
        assert_int_equal(co_sem_acquire(s, CO_USEC_INFINITY), -ECANCELED);
        assert_int_equal(co_sem_get_value(s), 1);
        /* The non-waiting calls go on working. */
        assert_int_equal(co_sem_try_acquire(s), 0);
        assert_int_equal(co_sem_release(s), 0);
        assert_int_equal(co_lock_try_acquire(co_cond_get_lock(c)), 0);
        assert_int_equal(co_cond_wait(c, CO_USEC_INFINITY), -ECANCELED);
        assert_int_equal(co_cond_wait_for(c, always, NULL, CO_USEC_INFINITY), -ECANCELED);
        /* ... and the lock was never let go of. */
        assert_ptr_equal(co_lock_get_owner(co_cond_get_lock(c)), co_task_current());
        assert_int_equal(co_lock_release(co_cond_get_lock(c)), 0);

        /* Inside a shield (a cleanup) they work. */
        co_shield_begin(&sh, co_deadline_after(CO_USEC_PER_SEC));
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        assert_int_equal(co_event_wait(e, CO_USEC_INFINITY), 0);
        assert_int_equal(co_sem_acquire(s, CO_USEC_INFINITY), 0);
        assert_int_equal(co_lock_release(lock), 0);
        co_shield_end(&sh);

        co_cond_free(c);
        co_sem_free(s);
        co_event_free(e);
        co_lock_free(lock);
        return 0;
}

static void test_sync_cancelled_caller_fails_at_once(void **state) {
        assert_main_ok(cancelled_calls);
}

/* ---- event ------------------------------------------------------------------ */

static int event_waiter(void *arg) {
        waiter_t *w = arg;

        w->r = co_event_wait(w->obj, w->deadline);
        if (w->r == 0 && w->trace)
                trace_add(w->trace, w->id);
        return 0;
}

static int event_wait_all(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        trace_t trace = { 0 };
        co_event_t *e = NULL;
        waiter_t w[3];

        assert_int_equal(co_event_new(&e), 0);
        assert_false(co_event_is_set(e));
        assert_int_equal(co_event_wait(e, co_deadline_after(msec(2))), -ETIMEDOUT);
        assert_int_equal(co_event_wait(e, 0), -ETIMEDOUT);

        init_waiters(w, 3, e, &trace);
        start_waiters(ts.t, event_waiter, w, 3);
        assert_waits_on(ts.t[1], "event");
        /* Cleared again before they run, they were woken all the same. */
        co_event_set(e);
        co_event_clear(e);
        assert_false(co_event_is_set(e));
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        join_ok(ts.t[2]);
        assert_trace(&trace, (int[]) { 1, 2, 3 }, 3);

        co_event_set(e);
        assert_true(co_event_is_set(e));
        assert_int_equal(co_event_wait(e, 0), 0);
        co_event_set(e);
        assert_true(co_event_is_set(e));
        co_event_free(e);
        return 0;
}

static void test_sync_event_wakes_all(void **state) {
        assert_main_ok(event_wait_all);
}

static void set_event(co_task_t *t, void *userdata) {
        co_event_set(userdata);
}

static int event_cancel_and_callback(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_event_t *e = NULL;
        waiter_t w[3];

        assert_int_equal(co_event_new(&e), 0);
        init_waiters(w, 3, e, NULL);
        w[1].deadline = co_deadline_after(msec(5));
        start_waiters(ts.t, event_waiter, w, 3);
        co_task_cancel(ts.t[0], "test");
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        assert_int_equal(w[0].r, -ECANCELED);
        assert_int_equal(w[1].r, -ETIMEDOUT);
        assert_false(co_event_is_set(e));
        assert_waits_on(ts.t[2], "event");

        /* Set from a callback on the loop, outside any task. */
        assert_int_equal(co_spawn(&ts.t[3], "setter", do_nothing, NULL), 0);
        assert_int_equal(co_task_add_done_callback(ts.t[3], set_event, e), 0);
        join_ok(ts.t[2]);
        assert_int_equal(w[2].r, 0);
        assert_true(co_event_is_set(e));
        co_event_free(e);
        return 0;
}

static void test_sync_event_cancel_deadline_callback(void **state) {
        assert_main_ok(event_cancel_and_callback);
}

/* ---- condition ----------------------------------------------------------------- */

typedef struct tokens {
        co_cond_t *cond;
        unsigned n;
} tokens_t;

static bool have_token(void *userdata) {
        return ((tokens_t *) userdata)->n > 0;
}

typedef struct consumer {
        waiter_t w;
        tokens_t *tokens;
} consumer_t;

static int consumer(void *arg) {
        consumer_t *c = arg;
        co_lock_t *lock = co_cond_get_lock(c->tokens->cond);

        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        c->w.r = co_cond_wait_for(c->tokens->cond, have_token, c->tokens, c->w.deadline);
        c->w.held = co_lock_get_owner(lock) == co_task_current();
        if (c->w.r == 0) {
                c->tokens->n--;
                trace_add(c->w.trace, c->w.id);
        }
        c->w.release_r = co_lock_release(lock);
        return 0;
}

static int cond_fifo(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_task_t **t = ts.t;
        tokens_t tokens = { 0 };
        trace_t trace = { 0 };
        consumer_t cs[3];
        co_lock_t *lock = NULL;

        assert_int_equal(co_lock_new(&lock), 0);
        assert_int_equal(co_cond_new(&tokens.cond, lock), 0);
        assert_ptr_equal(co_cond_get_lock(tokens.cond), lock);
        /* Wait and signal need the lock. */
        assert_int_equal(co_cond_wait(tokens.cond, CO_USEC_INFINITY), -EPERM);
        assert_int_equal(co_cond_signal(tokens.cond, 1), -EPERM);
        assert_int_equal(co_cond_broadcast(tokens.cond), -EPERM);

        for (int i = 0; i < 3; i++) {
                cs[i] = (consumer_t) { .w = waiter(i + 1, NULL, CO_USEC_INFINITY, &trace),
                                       .tokens = &tokens };
                assert_int_equal(co_spawn(&t[i], "consumer", consumer, &cs[i]), 0);
        }
        settle();
        assert_waits_on(t[0], "condition");
        assert_false(co_lock_is_locked(lock));

        /* One token, one signal, at a time: they come in the order they
         * started waiting. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
                tokens.n++;
                assert_int_equal(co_cond_signal(tokens.cond, 1), 1);
                assert_int_equal(co_lock_release(lock), 0);
                settle();
                assert_int_equal(trace.n, (size_t) i + 1);
        }
        for (int i = 0; i < 3; i++) {
                join_ok(t[i]);
                assert_int_equal(cs[i].w.r, 0);
                assert_true(cs[i].w.held);
                assert_int_equal(cs[i].w.release_r, 0);
        }
        assert_trace(&trace, (int[]) { 1, 2, 3 }, 3);

        /* Nobody waits: nobody is woken. */
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        assert_int_equal(co_cond_signal(tokens.cond, 5), 0);
        assert_int_equal(co_lock_release(lock), 0);
        co_cond_free(tokens.cond);
        co_lock_free(lock);
        return 0;
}

static void test_sync_cond_signal_fifo(void **state) {
        assert_main_ok(cond_fifo);
}

static int cond_waiter(void *arg) {
        waiter_t *w = arg;
        co_lock_t *lock = co_cond_get_lock(w->obj);

        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        w->r = co_cond_wait(w->obj, w->deadline);
        w->held = co_lock_get_owner(lock) == co_task_current();
        if (w->trace)
                trace_add(w->trace, w->id);
        w->release_r = co_lock_release(lock);
        return 0;
}

/* A condition with a lock of its own, and waiters 1 to n on it, not
 * started yet. */
static co_cond_t *new_cond_and_waiters(waiter_t *w, size_t n, trace_t *trace) {
        co_cond_t *cond = NULL;

        assert_int_equal(co_cond_new(&cond, NULL), 0);
        init_waiters(w, n, cond, trace);
        return cond;
}

static int cond_broadcast(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        co_task_t **t = ts.t;
        trace_t trace = { 0 };
        waiter_t w[3];
        co_cond_t *cond = new_cond_and_waiters(w, 3, &trace);

        assert_non_null(co_cond_get_lock(cond));
        start_waiters(t, cond_waiter, w, 3);
        assert_int_equal(co_lock_acquire(co_cond_get_lock(cond), CO_USEC_INFINITY), 0);
        assert_int_equal(co_cond_broadcast(cond), 3);
        assert_int_equal(co_cond_broadcast(cond), 0);
        /* Woken, each still needs the lock back. */
        settle();
        assert_waits_on(t[0], "lock");
        assert_int_equal(trace.n, 0);
        assert_int_equal(co_lock_release(co_cond_get_lock(cond)), 0);
        for (int i = 0; i < 3; i++) {
                join_ok(t[i]);
                assert_int_equal(w[i].r, 0);
                assert_true(w[i].held);
        }
        assert_trace(&trace, (int[]) { 1, 2, 3 }, 3);
        co_cond_free(cond);
        return 0;
}

static void test_sync_cond_broadcast(void **state) {
        assert_main_ok(cond_broadcast);
}

static int cond_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        waiter_t w[3];
        co_cond_t *cond = new_cond_and_waiters(w, 3, NULL);
        co_lock_t *lock = co_cond_get_lock(cond);

        w[2].deadline = co_deadline_after(msec(5));
        start_waiters(ts.t, cond_waiter, w, 3);

        /* Cancelled while we hold the lock: the first waiter wakes, but
         * does not return before it has the lock back. */
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        co_task_cancel(ts.t[0], "test");
        settle();
        assert_waits_on(ts.t[0], "lock");
        assert_int_equal(w[0].r, NOT_YET);
        /* The third's deadline passes while we still hold it: the same. */
        assert_int_equal(co_sleep(msec(10)), 0);
        assert_waits_on(ts.t[2], "lock");
        assert_int_equal(w[2].r, NOT_YET);
        /* The first is gone from the condition: the one signal reaches
         * the second. */
        assert_int_equal(co_cond_signal(cond, 1), 1);
        assert_int_equal(co_lock_release(lock), 0);
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        join_ok(ts.t[2]);
        assert_int_equal(w[0].r, -ECANCELED);
        assert_true(w[0].held);
        assert_int_equal(w[0].release_r, 0);
        assert_int_equal(w[1].r, 0);
        assert_true(w[1].held);
        assert_int_equal(w[2].r, -ETIMEDOUT);
        assert_true(w[2].held);
        assert_int_equal(w[2].release_r, 0);
        assert_false(co_lock_is_locked(lock));
        co_cond_free(cond);
        return 0;
}

static void test_sync_cond_cancel_reacquires(void **state) {
        assert_main_ok(cond_cancel);
}

static int cond_signal_then_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        waiter_t w[3];
        co_cond_t *cond = new_cond_and_waiters(w, 3, NULL);
        co_lock_t *lock = co_cond_get_lock(cond);

        start_waiters(ts.t, cond_waiter, w, 3);

        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        /* Signalled, then cancelled before it runs: the signal was the
         * first waiter's and is not lost nor passed on (the second goes
         * on waiting). */
        assert_int_equal(co_cond_signal(cond, 1), 1);
        co_task_cancel(ts.t[0], "test");
        /* Cancelled and not yet run: the signal passes it over. */
        co_task_cancel(ts.t[1], "test");
        assert_int_equal(co_cond_signal(cond, 1), 1);
        assert_int_equal(co_task_get_state(ts.t[2]), CO_TASK_READY);
        assert_int_equal(co_lock_release(lock), 0);
        join_ok(ts.t[0]);
        join_ok(ts.t[1]);
        join_ok(ts.t[2]);
        assert_int_equal(w[0].r, 0);
        assert_true(w[0].held);
        assert_int_equal(w[1].r, -ECANCELED);
        assert_true(w[1].held);
        assert_int_equal(w[2].r, 0);
        assert_true(w[2].held);
        co_cond_free(cond);
        return 0;
}

static void test_sync_cond_signal_survives_cancel(void **state) {
        assert_main_ok(cond_signal_then_cancel);
}

/* In a cleanup whose grace deadline has passed, the wait ends; taking the
 * lock back does not. */
static int cond_in_cleanup(void *arg) {
        waiter_t *w = arg;
        co_lock_t *lock = co_cond_get_lock(w->obj);
        co_shield_t sh;

        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        co_shield_begin(&sh, co_deadline_after(msec(5)));
        w->r = co_cond_wait(w->obj, CO_USEC_INFINITY);
        w->held = co_lock_get_owner(lock) == co_task_current();
        co_shield_end(&sh);
        w->release_r = co_lock_release(lock);
        return 0;
}

static int cond_grace(void *arg) {
        _cleanup_task_ co_task_t *a = NULL;
        co_cond_t *cond = NULL;
        co_lock_t *lock;
        waiter_t wa;

        assert_int_equal(co_cond_new(&cond, NULL), 0);
        lock = co_cond_get_lock(cond);
        wa = waiter(1, cond, CO_USEC_INFINITY, NULL);
        a = spawn(cond_in_cleanup, &wa);
        settle();
        assert_waits_on(a, "condition");
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        co_task_cancel(a, "test");
        assert_int_equal(co_sleep(msec(20)), 0);
        assert_waits_on(a, "lock");
        assert_int_equal(wa.r, NOT_YET);
        assert_int_equal(co_lock_release(lock), 0);
        join_ok(a);
        assert_int_equal(wa.r, -ETIMEDOUT);
        assert_true(wa.held);
        assert_int_equal(wa.release_r, 0);
        co_cond_free(cond);
        return 0;
}

static void test_sync_cond_reacquire_past_grace_deadline(void **state) {
        assert_main_ok(cond_grace);
}

/* ---- semaphore ---------------------------------------------------------------- */

static int sem_waiter(void *arg) {
        waiter_t *w = arg;

        w->r = co_sem_acquire(w->obj, w->deadline);
        if (w->r < 0)
                return 0;
        w->held = true;
        if (w->trace)
                trace_add(w->trace, w->id);
        if (!w->keep)
                w->release_r = co_sem_release(w->obj);
        return 0;
}

static int sem_basics(void *arg) {
        co_sem_t *s = NULL, *b = NULL;

        assert_int_equal(co_sem_new(NULL, 1), -EINVAL);
        assert_int_equal(co_sem_new(&s, 2), 0);
        assert_int_equal(co_sem_get_value(s), 2);
        assert_int_equal(co_sem_acquire(s, CO_USEC_INFINITY), 0);
        assert_int_equal(co_sem_try_acquire(s), 0);
        assert_int_equal(co_sem_get_value(s), 0);
        assert_int_equal(co_sem_try_acquire(s), -EAGAIN);
        assert_int_equal(co_sem_acquire(s, 0), -ETIMEDOUT);
        assert_int_equal(co_sem_acquire(s, co_deadline_after(msec(2))), -ETIMEDOUT);
        /* Unbounded: above the initial value is fine. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(co_sem_release(s), 0);
        assert_int_equal(co_sem_get_value(s), 3);
        co_sem_free(s);

        assert_int_equal(co_sem_new(&s, UINT_MAX), 0);
        assert_int_equal(co_sem_release(s), -EOVERFLOW);
        assert_int_equal(co_sem_get_value(s), UINT_MAX);
        co_sem_free(s);

        assert_int_equal(co_sem_new_bounded(&b, 2), 0);
        assert_int_equal(co_sem_release(b), -EOVERFLOW);
        assert_int_equal(co_sem_acquire(b, CO_USEC_INFINITY), 0);
        assert_int_equal(co_sem_release(b), 0);
        assert_int_equal(co_sem_release(b), -EOVERFLOW);
        assert_int_equal(co_sem_get_value(b), 2);
        co_sem_free(b);

        /* A bound of 0: every release is one too many. */
        assert_int_equal(co_sem_new_bounded(&b, 0), 0);
        assert_int_equal(co_sem_release(b), -EOVERFLOW);
        co_sem_free(b);

        assert_int_equal(co_sem_release(NULL), -EINVAL);
        assert_int_equal(co_sem_get_value(NULL), 0);
        assert_null(co_sem_free(NULL));
        return 0;
}

static void test_sync_sem_basics_and_bound(void **state) {
        assert_main_ok(sem_basics);
}

static void release_sem(co_task_t *t, void *userdata) {
        assert_int_equal(co_sem_release(userdata), 0);
}

static int sem_fifo_cancel(void *arg) {
        _cleanup_tasks_ tasks_t ts = { 0 };
        _cleanup_task_ co_task_t *d = NULL;
        co_task_t **t = ts.t;
        trace_t trace = { 0 };
        co_sem_t *s = NULL;
        waiter_t w[4];

        assert_int_equal(co_sem_new(&s, 0), 0);
        init_waiters(w, 4, s, &trace);
        for (int i = 0; i < 4; i++)
                w[i].keep = true;
        start_waiters(t, sem_waiter, w, 4);
        assert_waits_on(t[0], "semaphore");
        /* Cancelled and gone; cancelled and not yet run: both passed over. */
        co_task_cancel(t[0], "test");
        join_ok(t[0]);
        co_task_cancel(t[1], "test");
        assert_int_equal(co_sem_release(s), 0);
        assert_int_equal(co_task_get_state(t[2]), CO_TASK_READY);
        /* Straight to the waiter: no barging by a newcomer. */
        assert_int_equal(co_sem_get_value(s), 0);
        assert_int_equal(co_sem_try_acquire(s), -EAGAIN);
        join_ok(t[1]);
        join_ok(t[2]);
        assert_waits_on(t[3], "semaphore");
        /* Released from a loop callback, outside any task. */
        assert_int_equal(co_spawn(&d, "releaser", do_nothing, NULL), 0);
        assert_int_equal(co_task_add_done_callback(d, release_sem, s), 0);
        join_ok(t[3]);
        assert_int_equal(w[0].r, -ECANCELED);
        assert_int_equal(w[1].r, -ECANCELED);
        assert_int_equal(w[2].r, 0);
        assert_int_equal(w[3].r, 0);
        assert_trace(&trace, (int[]) { 3, 4 }, 2);
        assert_int_equal(co_sem_get_value(s), 0);
        assert_int_equal(co_sem_release(s), 0);
        assert_int_equal(co_sem_get_value(s), 1);
        co_sem_free(s);
        return 0;
}

static void test_sync_sem_fifo_and_cancelled_waiters(void **state) {
        assert_main_ok(sem_fifo_cancel);
}

static int sem_deadline_handover(void *arg) {
        _cleanup_task_ co_task_t *a = NULL, *b = NULL;
        co_sem_t *s = NULL;
        waiter_t wa, wb;

        assert_int_equal(co_sem_new_bounded(&s, 1), 0);
        assert_int_equal(co_sem_acquire(s, CO_USEC_INFINITY), 0);
        wa = waiter(1, s, co_deadline_after(msec(5)), NULL);
        a = spawn(sem_waiter, &wa);
        join_ok(a);
        assert_int_equal(wa.r, -ETIMEDOUT);
        a = co_task_unref(a);

        wa = waiter(1, s, CO_USEC_INFINITY, NULL);
        wb = waiter(2, s, CO_USEC_INFINITY, NULL);
        wb.keep = true;
        a = spawn(sem_waiter, &wa);
        b = spawn(sem_waiter, &wb);
        settle();
        /* Picked, then cancelled before it runs: the permit is still a's,
         * and goes back to b when a releases it. */
        assert_int_equal(co_sem_release(s), 0);
        co_task_cancel(a, "test");
        join_ok(a);
        assert_int_equal(wa.r, 0);
        assert_int_equal(wa.release_r, 0);
        join_ok(b);
        assert_int_equal(wb.r, 0);
        assert_int_equal(co_sem_get_value(s), 0);
        /* The bound still holds: one permit out, one back, no more. */
        assert_int_equal(co_sem_release(s), 0);
        assert_int_equal(co_sem_release(s), -EOVERFLOW);
        co_sem_free(s);
        return 0;
}

static void test_sync_sem_deadline_and_handover_survives_cancel(void **state) {
        assert_main_ok(sem_deadline_handover);
}

/* ---- freeing with waiters ----------------------------------------------------- */

static int free_with_waiters(void *arg) {
        _cleanup_task_ co_task_t *tl = NULL, *te = NULL, *ts = NULL, *tc = NULL;
        co_lock_t *lock = NULL, *cond_lock = NULL;
        co_event_t *e = NULL;
        co_sem_t *s = NULL;
        co_cond_t *c = NULL;
        waiter_t wl, we, ws, wc;

        assert_int_equal(co_lock_new(&lock), 0);
        assert_int_equal(co_lock_new(&cond_lock), 0);
        assert_int_equal(co_event_new(&e), 0);
        assert_int_equal(co_sem_new(&s, 0), 0);
        assert_int_equal(co_cond_new(&c, cond_lock), 0);
        assert_int_equal(co_lock_acquire(lock, CO_USEC_INFINITY), 0);
        wl = waiter(1, lock, CO_USEC_INFINITY, NULL);
        we = waiter(2, e, CO_USEC_INFINITY, NULL);
        ws = waiter(3, s, CO_USEC_INFINITY, NULL);
        wc = waiter(4, c, CO_USEC_INFINITY, NULL);
        tl = spawn(lock_waiter, &wl);
        te = spawn(event_waiter, &we);
        ts = spawn(sem_waiter, &ws);
        tc = spawn(cond_waiter, &wc);
        settle();
        co_lock_free(lock);
        co_event_free(e);
        co_sem_free(s);
        co_cond_free(c);
        join_ok(tl);
        join_ok(te);
        join_ok(ts);
        join_ok(tc);
        assert_int_equal(wl.r, -EIDRM);
        assert_int_equal(we.r, -EIDRM);
        assert_int_equal(ws.r, -EIDRM);
        /* The condition's lock lives on: it was taken back. */
        assert_int_equal(wc.r, -EIDRM);
        assert_true(wc.held);
        assert_false(co_lock_is_locked(cond_lock));
        co_lock_free(cond_lock);
        return 0;
}

static void test_sync_free_wakes_waiters(void **state) {
        assert_main_ok(free_with_waiters);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sync_lock_basics),
                cmocka_unit_test(test_sync_lock_fifo),
                cmocka_unit_test(test_sync_lock_cancelled_waiter_leaves_no_trace),
                cmocka_unit_test(test_sync_lock_deadline),
                cmocka_unit_test(test_sync_lock_handover_survives_cancel),
                cmocka_unit_test(test_sync_cancelled_caller_fails_at_once),
                cmocka_unit_test(test_sync_event_wakes_all),
                cmocka_unit_test(test_sync_event_cancel_deadline_callback),
                cmocka_unit_test(test_sync_cond_signal_fifo),
                cmocka_unit_test(test_sync_cond_broadcast),
                cmocka_unit_test(test_sync_cond_cancel_reacquires),
                cmocka_unit_test(test_sync_cond_signal_survives_cancel),
                cmocka_unit_test(test_sync_cond_reacquire_past_grace_deadline),
                cmocka_unit_test(test_sync_sem_basics_and_bound),
                cmocka_unit_test(test_sync_sem_fifo_and_cancelled_waiters),
                cmocka_unit_test(test_sync_sem_deadline_and_handover_survives_cancel),
                cmocka_unit_test(test_sync_free_wakes_waiters),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
