/* SPDX-License-Identifier: MIT */
/* Tasks: spawn, join, outcomes, the task tree, cancellation, cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>

#include "stack.h"
#include "test-util.h"

/* ---- outcomes ---------------------------------------------------------- */

static int return_42(void *arg) {
        (void) arg;
        return 42;
}

static int fail_with_message(void *arg) {
        co_task_set_error("disk %s is on fire", (const char *) arg);
        return -EIO;
}

static int set_pointer_result(void *arg) {
        co_task_set_result(arg);
        return 0;
}

static int join_three(void *arg) {
        _cleanup_task_ co_task_t *a = NULL, *b = NULL, *c = NULL;
        co_outcome_t o;

        (void) arg;
        assert_int_equal(co_spawn(&a, "a", return_42, NULL), 0);
        assert_int_equal(co_spawn(&b, "b", fail_with_message, (void *) "sda"), 0);
        assert_int_equal(co_spawn(&c, "c", set_pointer_result, (void *) "Foo!"), 0);
        assert_string_equal(co_task_get_name(a), "a");
        assert_ptr_equal(co_task_get_parent(a), co_task_current());
        assert_int_equal(co_task_get_outcome(a, &o), -EBUSY);

        assert_int_equal(co_task_join(a, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 42);

        assert_int_equal(co_task_join(b, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(o.value, -EIO);
        assert_string_equal(o.message, "disk sda is on fire");

        assert_int_equal(co_task_join(c, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_string_equal(o.result, "Foo!");
        assert_int_equal(co_task_get_state(c), CO_TASK_DONE);
        return 7;
}

static void test_task_join_outcomes(void **state) {
        co_outcome_t o = run_main(join_three, NULL);

        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 7);
}

static int join_self(void *arg) {
        (void) arg;
        assert_int_equal(co_task_join(co_task_current(), NULL), -EDEADLK);
        return 0;
}

static void test_task_join_self_deadlock(void **state) {
        assert_int_equal(run_main(join_self, NULL).kind, CO_OUTCOME_RESULT);
}

static int sleep_long(void *arg) {
        int r = co_sleep(arg ? *(co_usec_t *) arg : 3600 * CO_USEC_PER_SEC);

        return r;
}

static int join_with_deadline(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;

        (void) arg;
        assert_int_equal(co_spawn(&t, "sleeper", sleep_long, NULL), 0);
        assert_int_equal(co_task_join_until(t, co_deadline_after(msec(10)), NULL), -ETIMEDOUT);
        assert_int_equal(co_task_get_state(t), CO_TASK_SUSPENDED);
        co_task_cancel(t, "enough");
        return 0;
}

static void test_task_join_timeout(void **state) {
        assert_int_equal(run_main(join_with_deadline, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- cancellation ------------------------------------------------------ */

static int must_not_run(void *arg) {
        *(int *) arg = 1;
        return 0;
}

static int cancel_before_start(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        int ran = 0;
        co_outcome_t o;

        (void) arg;
        assert_int_equal(co_spawn(&t, "never", must_not_run, &ran), 0);
        co_task_cancel(t, "changed my mind");
        co_task_cancel(t, "second reason is ignored");
        assert_true(co_task_is_cancelled(t));
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(ran, 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(o.value, -ECANCELED);
        assert_string_equal(o.message, "changed my mind");
        return 0;
}

static void test_task_cancel_before_start(void **state) {
        assert_int_equal(run_main(cancel_before_start, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct stubborn {
        int first, second, third, fourth;
        int pipe_fd;
} stubborn_t;

/* Ignores the first -ECANCELED; every later suspending call still fails. */
static int stubborn_task(void *arg) {
        stubborn_t *s = arg;
        co_usec_t before;

        s->first = co_sleep(3600 * CO_USEC_PER_SEC);
        before = co_now();
        s->second = co_sleep(3600 * CO_USEC_PER_SEC);
        s->third = co_task_yield();
        s->fourth = co_fd_wait(s->pipe_fd, CO_FD_READABLE, CO_USEC_INFINITY);
        assert_true(co_now() - before < CO_USEC_PER_SEC);
        return s->fourth;
}

static int cancel_is_level_triggered(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        stubborn_t s = { 0 };
        int p[2];
        co_outcome_t o;

        (void) arg;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        s.pipe_fd = p[0];
        assert_int_equal(co_spawn(&t, "stubborn", stubborn_task, &s), 0);
        assert_int_equal(co_sleep(msec(5)), 0);
        assert_int_equal(co_task_get_state(t), CO_TASK_SUSPENDED);
        assert_string_equal(co_task_get_wait(t), "sleep");
        co_task_cancel(t, "stop");
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(s.first, -ECANCELED);
        assert_int_equal(s.second, -ECANCELED);
        assert_int_equal(s.third, -ECANCELED);
        assert_int_equal(s.fourth, -ECANCELED);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_string_equal(o.message, "stop");
        close(p[0]);
        close(p[1]);
        return 0;
}

static void test_task_cancel_level_triggered(void **state) {
        assert_int_equal(run_main(cancel_is_level_triggered, NULL).kind, CO_OUTCOME_RESULT);
}

static int wait_fd_forever(void *arg) {
        return co_fd_wait(*(int *) arg, CO_FD_READABLE, CO_USEC_INFINITY);
}

static int cancel_during_fd_wait(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        int p[2];
        co_outcome_t o;

        (void) arg;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(co_spawn(&t, "reader", wait_fd_forever, &p[0]), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_task_get_state(t), CO_TASK_SUSPENDED);
        assert_non_null(strstr(co_task_get_wait(t), "readable"));
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_string_equal(o.message, "cancelled");
        close(p[0]);
        close(p[1]);
        return 0;
}

static void test_task_cancel_during_fd_wait(void **state) {
        assert_int_equal(run_main(cancel_during_fd_wait, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct joiner {
        co_task_t *target;
        int r;
} joiner_t;

static int join_target(void *arg) {
        joiner_t *j = arg;

        j->r = co_task_join(j->target, NULL);
        return j->r;
}

static int cancel_during_join(void *arg) {
        _cleanup_task_ co_task_t *sleeper = NULL, *waiter = NULL;
        co_usec_t nap = msec(30);
        joiner_t j = { 0 };
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        (void) arg;
        assert_int_equal(co_spawn_with(&sleeper, "sleeper", sleep_long, &nap, &detached), 0);
        j.target = sleeper;
        assert_int_equal(co_spawn(&waiter, "waiter", join_target, &j), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_string_equal(co_task_get_wait(waiter), "join 'sleeper'");
        co_task_cancel(waiter, "no more waiting");
        assert_int_equal(co_task_join(waiter, NULL), 0);
        assert_int_equal(j.r, -ECANCELED);
        /* Joining is not owning: the joined task goes on. */
        assert_false(co_task_is_cancelled(sleeper));
        assert_int_equal(co_task_get_state(sleeper), CO_TASK_SUSPENDED);
        assert_int_equal(co_task_join(sleeper, NULL), 0);
        return 0;
}

static void test_task_cancel_during_join(void **state) {
        assert_int_equal(run_main(cancel_during_join, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct tree {
        co_task_t *grandchild;
        int grandchild_result;
        int child_result;
} tree_t;

static int grandchild_body(void *arg) {
        tree_t *t = arg;

        t->grandchild_result = co_sleep(3600 * CO_USEC_PER_SEC);
        return t->grandchild_result;
}

static int child_body(void *arg) {
        tree_t *t = arg;

        assert_int_equal(co_spawn(&t->grandchild, "grandchild", grandchild_body, t), 0);
        t->child_result = co_sleep(3600 * CO_USEC_PER_SEC);
        return t->child_result;
}

static int cancel_reaches_grandchildren(void *arg) {
        _cleanup_task_ co_task_t *child = NULL;
        tree_t t = { 0 };
        co_outcome_t o;

        (void) arg;
        assert_int_equal(co_spawn(&child, "child", child_body, &t), 0);
        assert_int_equal(co_sleep(msec(2)), 0);
        assert_ptr_equal(co_task_get_parent(t.grandchild), child);
        co_task_cancel(child, "SIGTERM");
        assert_true(co_task_is_cancelled(t.grandchild));
        assert_string_equal(co_task_get_cancel_reason(t.grandchild), "SIGTERM");
        assert_int_equal(co_task_join(t.grandchild, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(co_task_join(child, NULL), 0);
        assert_int_equal(t.child_result, -ECANCELED);
        assert_int_equal(t.grandchild_result, -ECANCELED);
        co_task_unref(t.grandchild);
        return 0;
}

static void test_task_cancel_reaches_grandchildren(void **state) {
        assert_int_equal(run_main(cancel_reaches_grandchildren, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- try/finally and cleanups ----------------------------------------- */

typedef struct trail {
        int order[8];
        int n;
        int cleanup_sleep;
} trail_t;

static int nested(trail_t *tr, int depth) {
        int r;

        CO_TRY {
                r = depth < 3 ? nested(tr, depth + 1) : co_sleep(3600 * CO_USEC_PER_SEC);
                if (r < 0)
                        CO_LEAVE;
                tr->order[tr->n++] = 100; /* not reached */
        } CO_FINALLY {
                tr->order[tr->n++] = depth;
        } CO_END_TRY;
        return r;
}

static int nested_task(void *arg) {
        return nested(arg, 1);
}

static int cancel_at_depth_three(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        trail_t tr = { 0 };
        co_outcome_t o;

        (void) arg;
        assert_int_equal(co_spawn(&t, "nested", nested_task, &tr), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(tr.n, 3);
        assert_int_equal(tr.order[0], 3);
        assert_int_equal(tr.order[1], 2);
        assert_int_equal(tr.order[2], 1);
        return 0;
}

static void test_task_finally_depth_three(void **state) {
        assert_int_equal(run_main(cancel_at_depth_three, NULL).kind, CO_OUTCOME_RESULT);
}

/* Three deep in one function, errors passed outwards by hand. */
static int nested_inline(void *arg) {
        trail_t *tr = arg;
        int r = 0;

        CO_TRY {
                CO_TRY {
                        CO_TRY {
                                r = co_sleep(3600 * CO_USEC_PER_SEC);
                                if (r < 0)
                                        CO_LEAVE;
                        } CO_FINALLY {
                                tr->order[tr->n++] = 3;
                        } CO_END_TRY;
                        if (r < 0)
                                CO_LEAVE;
                        tr->order[tr->n++] = 100;
                } CO_FINALLY {
                        tr->order[tr->n++] = 2;
                } CO_END_TRY;
                if (r < 0)
                        CO_LEAVE;
        } CO_FINALLY {
                tr->order[tr->n++] = 1;
        } CO_END_TRY;
        /* The normal path runs every finally block too. */
        CO_TRY {
                tr->order[tr->n++] = 4;
        } CO_FINALLY {
                tr->order[tr->n++] = 5;
        } CO_END_TRY;
        return r;
}

static int cancel_inline_nesting(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        trail_t tr = { 0 };

        (void) arg;
        assert_int_equal(co_spawn(&t, "nested", nested_inline, &tr), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, NULL), 0);
        assert_int_equal(tr.n, 5);
        assert_int_equal(tr.order[0], 3);
        assert_int_equal(tr.order[1], 2);
        assert_int_equal(tr.order[2], 1);
        assert_int_equal(tr.order[3], 4);
        assert_int_equal(tr.order[4], 5);
        return 0;
}

static void test_task_finally_nested_inline(void **state) {
        assert_int_equal(run_main(cancel_inline_nesting, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct cleanup_await {
        co_usec_t cleanup_sleep;
        int cleanup_result;
        int cleanup_result_again;
        co_usec_t cleanup_took;
        bool done;
} cleanup_await_t;

static int awaiting_cleanup(void *arg) {
        cleanup_await_t *c = arg;
        int r;

        CO_TRY {
                r = co_sleep(3600 * CO_USEC_PER_SEC);
                if (r < 0)
                        CO_LEAVE;
        } CO_FINALLY {
                co_usec_t start = co_now();

                c->cleanup_result = co_sleep(c->cleanup_sleep);
                c->cleanup_result_again = co_sleep(msec(1));
                c->cleanup_took = co_now() - start;
                c->done = true;
        } CO_END_TRY;
        /* Out of the shield, the cancellation is back. */
        assert_int_equal(co_task_yield(), -ECANCELED);
        return r;
}

static int cleanup_under_cancel(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        cleanup_await_t *c = arg;
        co_task_opts_t opts = { .grace_usec = msec(200) };
        co_outcome_t o;

        assert_int_equal(co_spawn_with(&t, "polite", awaiting_cleanup, c, &opts), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, "shutdown");
        /* A second cancel while the cleanup awaits changes nothing. */
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, "shutdown again");
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_true(c->done);
        return 0;
}

static void test_task_cleanup_awaits_under_cancel(void **state) {
        cleanup_await_t c = { .cleanup_sleep = msec(20) };

        assert_int_equal(run_main(cleanup_under_cancel, &c).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.cleanup_result, 0);
        assert_int_equal(c.cleanup_result_again, 0);
        assert_true(c.cleanup_took >= msec(21));
}

static void test_task_cleanup_cut_by_deadline(void **state) {
        cleanup_await_t c = { .cleanup_sleep = 3600 * CO_USEC_PER_SEC };

        assert_int_equal(run_main(cleanup_under_cancel, &c).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.cleanup_result, -ETIMEDOUT);
        /* Past the deadline every wait fails at once. */
        assert_int_equal(c.cleanup_result_again, -ETIMEDOUT);
        assert_true(c.cleanup_took >= msec(200));
        assert_true(c.cleanup_took < 60 * CO_USEC_PER_SEC);
}

typedef struct defers {
        int order[4];
        int n;
        int slept;
} defers_t;

static void defer_a(void *arg) {
        defers_t *d = arg;

        d->order[d->n++] = 1;
}

static void defer_b(void *arg) {
        defers_t *d = arg;

        /* Cleanups run shielded: this sleep survives the cancellation. */
        d->slept = co_sleep(msec(2));
        d->order[d->n++] = 2;
}

static int deferring(void *arg) {
        assert_int_equal(co_defer(defer_a, arg), 0);
        assert_int_equal(co_defer(defer_b, arg), 0);
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static int cancel_deferring(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        defers_t *d = arg;

        assert_int_equal(co_spawn(&t, "deferring", deferring, d), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, NULL), 0);
        return 0;
}

static void test_task_defer_lifo_once(void **state) {
        defers_t d = { 0 };

        assert_int_equal(run_main(cancel_deferring, &d).kind, CO_OUTCOME_RESULT);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.order[0], 2);
        assert_int_equal(d.order[1], 1);
        assert_int_equal(d.slept, 0);
}

static int shielded_sleep(void *arg) {
        co_shield_t sh;
        int r;

        co_shield_begin(&sh, CO_USEC_INFINITY);
        r = co_sleep(msec(20));
        co_shield_end(&sh);
        *(int *) arg = r;
        return co_task_yield();
}

static int cancel_shielded(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;
        int inner = 1;
        co_outcome_t o;

        (void) arg;
        assert_int_equal(co_spawn(&t, "shielded", shielded_sleep, &inner), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(t, NULL);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(inner, 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        return 0;
}

static void test_task_shield_holds_off_cancel(void **state) {
        assert_int_equal(run_main(cancel_shielded, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- structure --------------------------------------------------------- */

typedef struct family {
        int child_result;
        bool child_cleaned;
        bool detached_done;
} family_t;

static void mark_cleaned(void *arg) {
        ((family_t *) arg)->child_cleaned = true;
}

static int lingering_child(void *arg) {
        family_t *f = arg;

        assert_int_equal(co_defer(mark_cleaned, f), 0);
        f->child_result = co_sleep(3600 * CO_USEC_PER_SEC);
        assert_string_equal(co_task_get_cancel_reason(co_task_current()), "parent task ended");
        return f->child_result;
}

static int detached_child(void *arg) {
        family_t *f = arg;

        assert_int_equal(co_sleep(msec(20)), 0);
        f->detached_done = true;
        return 0;
}

static int parent_returns_early(void *arg) {
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        assert_int_equal(co_spawn(NULL, "lingering", lingering_child, arg), 0);
        assert_int_equal(co_spawn_with(NULL, "detached", detached_child, arg, &detached), 0);
        assert_int_equal(co_task_yield(), 0);
        return 0;
}

static int watch_parent(void *arg) {
        family_t *f = arg;
        _cleanup_task_ co_task_t *p = NULL;
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        assert_int_equal(co_spawn_with(&p, "parent", parent_returns_early, f, &detached), 0);
        assert_int_equal(co_task_join(p, NULL), 0);
        /* The parent ended only after its child had: cancelled and cleaned. */
        assert_int_equal(f->child_result, -ECANCELED);
        assert_true(f->child_cleaned);
        assert_false(f->detached_done);
        return 0;
}

static void test_task_parent_waits_for_children(void **state) {
        family_t f = { 0 };

        assert_int_equal(run_main(watch_parent, &f).kind, CO_OUTCOME_RESULT);
        /* The detached one was not cancelled and ran to its end. */
        assert_true(f.detached_done);
}

typedef struct visit {
        char lines[8][96];
        int n;
} visit_t;

static int record_task(co_task_t *t, unsigned depth, void *userdata) {
        visit_t *v = userdata;
        const char *wait = co_task_get_wait(t);

        if (v->n < 8)
                snprintf(v->lines[v->n++], sizeof v->lines[0], "%u %s %s %s", depth, co_task_get_name(t),
                         co_task_state_to_string(co_task_get_state(t)), wait ? wait : "-");
        return 0;
}

static int sleeping_parent(void *arg) {
        assert_int_equal(co_spawn(NULL, "kid", sleep_long, NULL), 0);
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static int list_tasks(void *arg) {
        visit_t *v = arg;
        _cleanup_task_ co_task_t *p = NULL;

        assert_int_equal(co_spawn(&p, "sleepy", sleeping_parent, NULL), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_loop_foreach_task(co_loop_current(), record_task, v), 0);
        co_task_cancel(p, NULL);
        return 0;
}

static void test_task_foreach_lists_tree(void **state) {
        visit_t v = { 0 };

        assert_int_equal(run_main(list_tasks, &v).kind, CO_OUTCOME_RESULT);
        assert_int_equal(v.n, 3);
        assert_string_equal(v.lines[0], "0 main running -");
        assert_string_equal(v.lines[1], "1 sleepy suspended sleep");
        assert_string_equal(v.lines[2], "2 kid suspended sleep");
}

static void on_done(co_task_t *t, void *userdata) {
        co_outcome_t o;

        assert_int_equal(co_task_get_outcome(t, &o), 0);
        snprintf(userdata, 64, "got the result! %s", (const char *) o.result);
        /* Callbacks run on the loop, not in a task. */
        assert_null(co_task_current());
}

static int with_done_callback(void *arg) {
        _cleanup_task_ co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "foo", set_pointer_result, (void *) "Foo!"), 0);
        assert_int_equal(co_task_add_done_callback(t, on_done, arg), 0);
        assert_int_equal(co_task_join(t, NULL), 0);
        return 0;
}

static void test_task_done_callback(void **state) {
        char text[64] = "";

        assert_int_equal(run_main(with_done_callback, text).kind, CO_OUTCOME_RESULT);
        assert_string_equal(text, "got the result! Foo!");
}

/* ---- unretrieved errors ------------------------------------------------ */

static int fire_and_forget(void *arg) {
        logged_errors_t *c = arg;
        _cleanup_task_ co_task_t *joined = NULL;

        assert_int_equal(co_spawn(NULL, "forgotten", fail_with_message, (void *) "sdb"), 0);
        assert_int_equal(co_spawn(&joined, "joined", fail_with_message, (void *) "sdc"), 0);
        assert_int_equal(co_sleep(msec(1)), 0);
        /* Reported as it ended, not at some later free. */
        assert_int_equal(c->n, 1);
        assert_int_equal(co_task_join(joined, NULL), 0);
        return 0;
}

static void test_task_unretrieved_error_reported(void **state) {
        logged_errors_t c = { 0 };

        assert_int_equal(run_main_logging_to(log_errors_sink, &c, fire_and_forget, &c).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.n, 1);
        assert_string_equal(c.task, "forgotten");
        assert_non_null(strstr(c.message, "disk sdb is on fire"));
}

static int drop_failed_handle(void *arg) {
        co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "dropped", fail_with_message, (void *) "sdd"), 0);
        assert_int_equal(co_sleep(msec(1)), 0);
        /* Held but not joined: reported when the last reference goes. */
        assert_int_equal(((logged_errors_t *) arg)->n, 0);
        co_task_unref(t);
        assert_int_equal(((logged_errors_t *) arg)->n, 1);
        return 0;
}

static void test_task_unretrieved_error_on_unref(void **state) {
        logged_errors_t c = { 0 };

        assert_int_equal(run_main_logging_to(log_errors_sink, &c, drop_failed_handle, &c).kind, CO_OUTCOME_RESULT);
        assert_string_equal(c.task, "dropped");
}

/* ---- many -------------------------------------------------------------- */

#define MANY MANY_TASKS

typedef struct many {
        int cleaned;
} many_t;

static int parked_with_finally(void *arg) {
        many_t *m = arg;
        int r;

        CO_TRY {
                r = co_sleep(3600 * CO_USEC_PER_SEC);
        } CO_FINALLY {
                m->cleaned++;
        } CO_END_TRY;
        return r;
}

static int spawn_and_cancel_many(void *arg) {
        many_t *m = arg;
        co_task_t **tasks = calloc(MANY, sizeof *tasks);

        assert_non_null(tasks);
        for (int i = 0; i < MANY; i++)
                assert_int_equal(co_spawn(&tasks[i], "parked", parked_with_finally, m), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_loop_get_n_tasks(co_loop_current()), MANY + 1);
        for (int i = 0; i < MANY; i++)
                co_task_cancel(tasks[i], "bulk");
        for (int i = 0; i < MANY; i++) {
                co_outcome_t o;

                assert_int_equal(co_task_join(tasks[i], &o), 0);
                assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
                co_task_unref(tasks[i]);
        }
        free(tasks);
        return 0;
}

static void test_task_100k_spawned_and_cancelled_leave_nothing(void **state) {
        many_t m = { 0 };
        size_t maps_before = count_mappings();
        size_t heap_before = mallinfo2().uordblks;

        assert_int_equal(run_main(spawn_and_cancel_many, &m).kind, CO_OUTCOME_RESULT);
        assert_int_equal(m.cleaned, MANY);
        /* Everything the loop took is back: heap blocks and stack arenas
         * (under ASan, its leak checker and allocator speak for the heap). */
        assert_int_equal(co__stacks_n_arenas(), 0);
        if (mappings_are_ours()) {
                assert_int_equal(count_mappings(), maps_before);
                assert_true(mallinfo2().uordblks <= heap_before + 1024);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_task_join_outcomes),
                cmocka_unit_test(test_task_join_self_deadlock),
                cmocka_unit_test(test_task_join_timeout),
                cmocka_unit_test(test_task_cancel_before_start),
                cmocka_unit_test(test_task_cancel_level_triggered),
                cmocka_unit_test(test_task_cancel_during_fd_wait),
                cmocka_unit_test(test_task_cancel_during_join),
                cmocka_unit_test(test_task_cancel_reaches_grandchildren),
                cmocka_unit_test(test_task_finally_depth_three),
                cmocka_unit_test(test_task_finally_nested_inline),
                cmocka_unit_test(test_task_cleanup_awaits_under_cancel),
                cmocka_unit_test(test_task_cleanup_cut_by_deadline),
                cmocka_unit_test(test_task_defer_lifo_once),
                cmocka_unit_test(test_task_shield_holds_off_cancel),
                cmocka_unit_test(test_task_parent_waits_for_children),
                cmocka_unit_test(test_task_foreach_lists_tree),
                cmocka_unit_test(test_task_done_callback),
                cmocka_unit_test(test_task_unretrieved_error_reported),
                cmocka_unit_test(test_task_unretrieved_error_on_unref),
                cmocka_unit_test(test_task_100k_spawned_and_cancelled_leave_nothing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
