/* SPDX-License-Identifier: MIT */
/* Async generators: the stream, its end and errors, close, cancellation of
 * the consumer, abandonment, the loop's shutdown of generators, ticker. */
#include <errno.h>

#include "test-util.h"

static inline void co_gen_unrefp(co_gen_t **g) {
        co_gen_unref(*g);
}
#define _cleanup_gen_ _cleanup_(co_gen_unrefp)

#define HOUR (3600 * CO_USEC_PER_SEC)

/* ---- a generator that records what happens to it ---------------------- */

typedef struct probe {
        /* set up by the test */
        int n_values;           /* values to yield; < 0: forever */
        int n_fast;             /* the first ones come without a sleep */
        co_usec_t between;      /* sleep between two values after those */
        co_usec_t start_delay;  /* sleep before the first one */
        int fail_at;            /* > 0: fail with -EIO instead of this value */
        co_usec_t cleanup_sleep;        /* how long CO_FINALLY awaits */
        /* seen */
        int started;
        int produced;
        int yield_result;
        int sleep_result;
        int finally_runs;
        int cleanup_result;
        co_usec_t cleanup_took;
        int defer_runs;
        int defer_result;
        int values[16];
} probe_t;

static void probe_defer(void *arg) {
        probe_t *p = arg;

        p->defer_runs++;
        /* A deferred cleanup that awaits: shielded, so it sleeps. */
        p->defer_result = co_sleep(msec(1));
}

static int probe_gen(co_gen_t *gen, void *arg) {
        probe_t *p = arg;
        int r = 0;

        p->started++;
        assert_int_equal(co_defer(probe_defer, p), 0);
        CO_TRY {
                if (p->start_delay) {
                        r = p->sleep_result = co_sleep(p->start_delay);
                        if (r < 0)
                                CO_LEAVE;
                }
                for (int i = 0; p->n_values < 0 || i < p->n_values; i++) {
                        if (i > 0 && i >= p->n_fast && p->between) {
                                r = p->sleep_result = co_sleep(p->between);
                                if (r < 0)
                                        CO_LEAVE;
                        }
                        if (p->fail_at > 0 && i == p->fail_at) {
                                co_task_set_error("probe gave up at %d", i);
                                r = -EIO;
                                CO_LEAVE;
                        }
                        p->values[i % 16] = 10 * i;
                        p->produced++;
                        r = p->yield_result = co_gen_yield(gen, &p->values[i % 16]);
                        if (r < 0)
                                CO_LEAVE;
                }
        } CO_FINALLY {
                co_usec_t start = co_now();

                p->finally_runs++;
                if (p->cleanup_sleep)
                        p->cleanup_result = co_sleep(p->cleanup_sleep);
                p->cleanup_took = co_now() - start;
        } CO_END_TRY;
        return r;
}

static void assert_cleaned_once(const probe_t *p) {
        assert_int_equal(p->finally_runs, 1);
        assert_int_equal(p->defer_runs, 1);
        assert_int_equal(p->defer_result, 0);
}

/* ---- the stream -------------------------------------------------------- */

static int values_in_order(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v = NULL;

        assert_int_equal(co_gen_new(&g, "counter", probe_gen, p), 0);
        assert_string_equal(co_gen_get_name(g), "counter");
        assert_ptr_equal(co_task_get_parent(co_gen_get_task(g)), co_task_current());
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 1);
        /* It does not run ahead: nothing until the first next. */
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(p->started, 0);
        assert_string_equal(co_task_get_wait(co_gen_get_task(g)), "generator not started");
        for (int i = 0; i < 5; i++) {
                assert_int_equal(co_gen_next(g, &v), 1);
                assert_int_equal(*(int *) v, 10 * i);
                /* Suspended at that yield until asked again. */
                assert_int_equal(p->produced, i + 1);
                assert_int_equal(co_task_yield(), 0);
                assert_int_equal(p->produced, i + 1);
                assert_string_equal(co_task_get_wait(co_gen_get_task(g)), "generator yield");
        }
        assert_int_equal(co_gen_next(g, &v), 0);
        /* The end comes once the generator has finished, cleanups included. */
        assert_true(co_gen_is_finished(g));
        assert_cleaned_once(p);
        assert_int_equal(p->sleep_result, 0);
        assert_int_equal(p->yield_result, 0);
        assert_int_equal(co_gen_next(g, &v), 0);
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 0);
        return 0;
}

static void test_gen_values_in_order(void **state) {
        probe_t p = { .n_values = 5, .between = msec(1) };

        assert_int_equal(run_main(values_in_order, &p).kind, CO_OUTCOME_RESULT);
        assert_int_equal(p.started, 1);
        assert_int_equal(p.produced, 5);
        assert_cleaned_once(&p);
}

static int empty_gen(co_gen_t *gen, void *arg) {
        (void) gen;
        return 0;
}

static int empty_stream(void *arg) {
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v = (void *) 1;

        assert_int_equal(co_gen_new(&g, "empty", empty_gen, NULL), 0);
        assert_int_equal(co_gen_next(g, &v), 0);
        assert_ptr_equal(v, (void *) 1);
        assert_int_equal(co_gen_next(g, NULL), 0);
        return 0;
}

static void test_gen_empty_stream(void **state) {
        assert_int_equal(run_main(empty_stream, NULL).kind, CO_OUTCOME_RESULT);
}

/* The errors logged, with the generator and wait fields of theirs. */
typedef struct captured {
        logged_errors_t err;
        char generator[4][64];
        int n_generator;
        char wait[64];
} captured_t;

static void capture_sink(const co_log_record_t *rec, void *userdata) {
        captured_t *c = userdata;

        if (!keep_logged_error(&c->err, rec))
                return;
        for (size_t i = 0; i < rec->n_fields; i++) {
                const co_log_field_t *f = &rec->fields[i];

                if (strcmp(f->key, "generator") == 0 && c->n_generator < 4)
                        snprintf(c->generator[c->n_generator++], sizeof c->generator[0], "%s", f->value);
                if (strcmp(f->key, "wait") == 0)
                        snprintf(c->wait, sizeof c->wait, "%s", f->value);
        }
}

static int error_reaches_next(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        co_outcome_t o;
        void *v;

        assert_int_equal(co_gen_new(&g, "failing", probe_gen, p), 0);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(*(int *) v, 0);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(*(int *) v, 10);
        assert_int_equal(co_gen_next(g, &v), -EIO);
        assert_cleaned_once(p);
        /* Every time, from next and from close alike. */
        assert_int_equal(co_gen_next(g, &v), -EIO);
        assert_int_equal(co_gen_close(g), -EIO);
        assert_int_equal(co_gen_close(g), -EIO);
        assert_int_equal(co_task_get_outcome(co_gen_get_task(g), &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_string_equal(o.message, "probe gave up at 2");
        return 0;
}

static void test_gen_error_reaches_next(void **state) {
        probe_t p = { .n_values = -1, .between = msec(1), .fail_at = 2 };
        captured_t c = { 0 };

        assert_int_equal(run_main_logging_to(capture_sink, &c, error_reaches_next, &p).kind, CO_OUTCOME_RESULT);
        /* Delivered, so not reported as lost. */
        assert_int_equal(c.err.n, 0);
        assert_int_equal(p.produced, 2);
}

/* An error nobody reads is not lost: it is logged when the last reference
 * goes, as for a task. */
typedef struct unread {
        probe_t probe;
        captured_t *captured;
} unread_t;

static int error_nobody_reads(void *arg) {
        unread_t *u = arg;
        co_gen_t *g = NULL;

        assert_int_equal(co_gen_new(&g, "unread", probe_gen, &u->probe), 0);
        assert_int_equal(co_gen_next(g, NULL), 1);
        /* The request stays when the wait times out ... */
        assert_int_equal(co_gen_next_until(g, co_deadline_after(msec(1)), NULL), -ETIMEDOUT);
        /* ... and the generator fails meanwhile. */
        assert_int_equal(co_sleep(msec(30)), 0);
        assert_true(co_gen_is_finished(g));
        assert_int_equal(u->captured->err.n, 0);
        co_gen_unref(g);
        assert_int_equal(u->captured->err.n, 1);
        return 0;
}

static void test_gen_unread_error_logged(void **state) {
        captured_t c = { 0 };
        unread_t u = { .probe = { .n_values = -1, .between = msec(10), .fail_at = 1 }, .captured = &c };

        assert_int_equal(run_main_logging_to(capture_sink, &c, error_nobody_reads, &u).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.err.n, 1);
        assert_string_equal(c.err.task, "unread");
        assert_non_null(strstr(c.err.message, "probe gave up at 1"));
}

/* A value asked for is not lost when the consumer stops waiting. */
static int request_survives_timeout(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v;

        assert_int_equal(co_gen_new(&g, "slow", probe_gen, p), 0);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(*(int *) v, 0);
        assert_int_equal(co_gen_next_until(g, co_deadline_after(msec(2)), &v), -ETIMEDOUT);
        assert_int_equal(co_sleep(msec(40)), 0);
        /* Produced while nobody waited: kept, handed over without waiting. */
        assert_int_equal(p->produced, 2);
        assert_int_equal(co_gen_next_until(g, co_now(), &v), 1);
        assert_int_equal(*(int *) v, 10);
        assert_int_equal(p->produced, 2);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(*(int *) v, 20);
        assert_int_equal(co_gen_close(g), 0);
        assert_cleaned_once(p);
        return 0;
}

static void test_gen_request_survives_timeout(void **state) {
        probe_t p = { .n_values = -1, .between = msec(20) };

        assert_int_equal(run_main(request_survives_timeout, &p).kind, CO_OUTCOME_RESULT);
}

/* Cancelling the generator's task (not closing it) is passed on to the
 * consumer as a cancellation, as awaiting a cancelled task would. */
static int generator_cancelled(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v;

        assert_int_equal(co_gen_new(&g, "cancelled", probe_gen, p), 0);
        assert_int_equal(co_gen_next(g, &v), 1);
        co_task_cancel(co_gen_get_task(g), "from elsewhere");
        assert_int_equal(co_gen_next(g, &v), -ECANCELED);
        assert_true(co_gen_is_finished(g));
        assert_int_equal(co_gen_next(g, &v), -ECANCELED);
        /* Closing it now is no error: it has ended. */
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_gen_next(g, &v), 0);
        assert_cleaned_once(p);
        return 0;
}

static void test_gen_generator_cancelled(void **state) {
        probe_t p = { .n_values = -1, .between = msec(1) };

        assert_int_equal(run_main(generator_cancelled, &p).kind, CO_OUTCOME_RESULT);
}

/* ---- close ------------------------------------------------------------- */

static int close_suspended(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v;

        assert_int_equal(co_gen_new(&g, "closable", probe_gen, p), 0);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(co_gen_next(g, &v), 1);
        assert_int_equal(*(int *) v, 10);
        assert_int_equal(p->finally_runs, 0);
        assert_int_equal(co_gen_close(g), 0);
        /* Returned once the generator had finished, awaiting cleanups too. */
        assert_true(co_gen_is_finished(g));
        assert_int_equal(p->yield_result, -ECANCELED);
        assert_cleaned_once(p);
        assert_int_equal(p->cleanup_result, 0);
        assert_true(p->cleanup_took >= msec(10));
        assert_string_equal(co_task_get_cancel_reason(co_gen_get_task(g)), "generator closed");
        /* Idempotent, and the stream has ended. */
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_gen_next(g, &v), 0);
        assert_cleaned_once(p);
        assert_int_equal(p->produced, 2);
        return 0;
}

/* A value handed over but not taken yet is dropped by close. */
static int close_drops_value(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v = NULL;

        assert_int_equal(co_gen_new(&g, "dropping", probe_gen, p), 0);
        assert_int_equal(co_gen_next_until(g, co_deadline_after(msec(1)), &v), -ETIMEDOUT);
        assert_int_equal(co_sleep(msec(20)), 0);
        assert_int_equal(p->produced, 1);
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_gen_next(g, &v), 0);
        assert_null(v);
        /* The yield that handed it over was told to stop. */
        assert_int_equal(p->yield_result, -ECANCELED);
        return 0;
}

static void test_gen_close_drops_untaken_value(void **state) {
        /* Its first value only comes after a while. */
        probe_t p = { .n_values = -1, .start_delay = msec(5) };

        assert_int_equal(run_main(close_drops_value, &p).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&p);
}

static void test_gen_close_suspended_runs_cleanup_once(void **state) {
        probe_t p = { .n_values = -1, .cleanup_sleep = msec(10) };

        assert_int_equal(run_main(close_suspended, &p).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&p);
}

static int close_unstarted(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *a = NULL, *b = NULL;

        /* Its task has not even run yet ... */
        assert_int_equal(co_gen_new(&a, "never-a", probe_gen, p), 0);
        assert_int_equal(co_gen_close(a), 0);
        /* ... or it waits for its first request. */
        assert_int_equal(co_gen_new(&b, "never-b", probe_gen, p), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_task_get_state(co_gen_get_task(b)), CO_TASK_SUSPENDED);
        assert_int_equal(co_gen_close(b), 0);
        assert_int_equal(co_gen_close(b), 0);
        assert_int_equal(co_gen_next(a, NULL), 0);
        assert_int_equal(co_gen_next(b, NULL), 0);
        assert_true(co_gen_is_finished(a));
        assert_true(co_gen_is_finished(b));
        return 0;
}

static void test_gen_close_before_first_next(void **state) {
        probe_t p = { .n_values = -1 };

        assert_int_equal(run_main(close_unstarted, &p).kind, CO_OUTCOME_RESULT);
        /* The body never ran, so neither did its cleanups. */
        assert_int_equal(p.started, 0);
        assert_int_equal(p.finally_runs, 0);
        assert_int_equal(p.defer_runs, 0);
}

/* A yield made from a shielded region is reached by close all the same. */
static int yield_in_shield(co_gen_t *gen, void *arg) {
        co_shield_t sh;
        int r;

        co_shield_begin(&sh, CO_USEC_INFINITY);
        r = co_gen_yield(gen, NULL);
        if (r == 0)
                r = co_gen_yield(gen, NULL);
        co_shield_end(&sh);
        *(int *) arg = r;
        return r;
}

static int close_shielded_yield(void *arg) {
        _cleanup_gen_ co_gen_t *g = NULL;

        assert_int_equal(co_gen_new(&g, "shielded", yield_in_shield, arg), 0);
        assert_int_equal(co_gen_next(g, NULL), 1);
        assert_int_equal(co_gen_close(g), 0);
        return 0;
}

static void test_gen_close_reaches_shielded_yield(void **state) {
        int r = 1;

        assert_int_equal(run_main(close_shielded_yield, &r).kind, CO_OUTCOME_RESULT);
        assert_int_equal(r, -ECANCELED);
}

/* close from another task while the consumer waits in next: the consumer
 * sees the end of the stream. */
typedef struct rival {
        co_gen_t *gen;
        int next_result;
} rival_t;

static int wait_in_next(void *arg) {
        rival_t *rv = arg;

        rv->next_result = co_gen_next(rv->gen, NULL);
        return 0;
}

static int close_under_consumer(void *arg) {
        probe_t *p = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        _cleanup_task_ co_task_t *t = NULL, *t2 = NULL;
        rival_t rv = { .next_result = 1 }, rv2 = { .next_result = 1 };

        assert_int_equal(co_gen_new(&g, "shared", probe_gen, p), 0);
        /* The first value comes at once, the second an hour later. */
        assert_int_equal(co_gen_next(g, NULL), 1);
        rv.gen = rv2.gen = g;
        assert_int_equal(co_spawn(&t, "consumer", wait_in_next, &rv), 0);
        assert_int_equal(co_sleep(msec(2)), 0);
        assert_string_equal(co_task_get_wait(t), "next 'shared'");
        /* One consumer at a time. */
        assert_int_equal(co_gen_next(g, NULL), -EBUSY);
        assert_int_equal(co_spawn(&t2, "second consumer", wait_in_next, &rv2), 0);
        assert_int_equal(co_task_join(t2, NULL), 0);
        assert_int_equal(rv2.next_result, -EBUSY);
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_task_join(t, NULL), 0);
        assert_int_equal(rv.next_result, 0);
        assert_int_equal(p->sleep_result, -ECANCELED);
        assert_cleaned_once(p);
        return 0;
}

static void test_gen_close_while_other_task_in_next(void **state) {
        probe_t p = { .n_values = -1, .between = HOUR };

        assert_int_equal(run_main(close_under_consumer, &p).kind, CO_OUTCOME_RESULT);
}

static int misuse(co_gen_t *gen, void *arg) {
        co_gen_t **self = arg;

        /* From the generator itself, next and close would never return. */
        assert_int_equal(co_gen_next(gen, NULL), -EDEADLK);
        assert_int_equal(co_gen_close(gen), -EDEADLK);
        *self = gen;
        return co_gen_yield(gen, NULL);
}

static int yield_elsewhere(void *arg) {
        return co_gen_yield(arg, NULL);
}

static int api_misuse(void *arg) {
        _cleanup_gen_ co_gen_t *g = NULL;
        _cleanup_task_ co_task_t *t = NULL;
        co_gen_t *seen = NULL;
        co_outcome_t o;

        assert_int_equal(co_gen_new(NULL, "x", misuse, &seen), -EINVAL);
        assert_int_equal(co_gen_new(&g, "x", NULL, &seen), -EINVAL);
        assert_int_equal(co_gen_new(&g, "misused", misuse, &seen), 0);
        assert_int_equal(co_gen_next(g, NULL), 1);
        assert_ptr_equal(seen, g);
        /* Only the generator's own task yields. */
        assert_int_equal(co_gen_yield(g, NULL), -EPERM);
        assert_int_equal(co_spawn(&t, "elsewhere", yield_elsewhere, g), 0);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(o.value, -EPERM);
        assert_int_equal(co_gen_next(NULL, NULL), -EINVAL);
        assert_int_equal(co_gen_close(NULL), -EINVAL);
        assert_null(co_gen_unref(NULL));
        return 0;
}

static void test_gen_api_misuse(void **state) {
        captured_t c = { 0 };

        assert_int_equal(co_gen_new((co_gen_t *[1]) { NULL }, "x", misuse, NULL), -EPERM);
        assert_int_equal(co_loop_shutdown_generators(NULL, CO_USEC_INFINITY), -EINVAL);
        assert_int_equal(run_main_logging_to(capture_sink, &c, api_misuse, NULL).kind, CO_OUTCOME_RESULT);
        assert_int_equal(c.err.n, 0);
}

/* ---- the consumer's cancellation and end ------------------------------- */

typedef struct consumer {
        probe_t *probe;
        int mode;               /* what to do on the way out, see below */
        int taken;
        int next_result;
        int close_result;
        int finally_runs_at_close;
        co_gen_t *kept;         /* mode KEEP: the handle, for the test */
} consumer_t;

enum {
        CONSUMER_UNREF,         /* just drop the handle */
        CONSUMER_CLOSE_SHIELDED,        /* co_gen_close from CO_FINALLY */
        CONSUMER_CLOSE_BARE,    /* co_gen_close outside any shield */
        CONSUMER_KEEP,          /* keep the handle: the task tree closes it */
        CONSUMER_RETURN_EARLY,  /* take two values and return, no close */
};

static int consume(void *arg) {
        consumer_t *c = arg;
        co_gen_t *g = NULL;
        void *v;
        int r = 0;

        assert_int_equal(co_gen_new(&g, "produced", probe_gen, c->probe), 0);
        CO_TRY {
                while ((r = c->next_result = co_gen_next(g, &v)) > 0)
                        if (++c->taken == 2 && c->mode == CONSUMER_RETURN_EARLY)
                                break;
        } CO_FINALLY {
                if (c->mode == CONSUMER_CLOSE_SHIELDED) {
                        c->close_result = co_gen_close(g);
                        c->finally_runs_at_close = c->probe->finally_runs;
                }
        } CO_END_TRY;
        if (c->mode == CONSUMER_CLOSE_BARE) {
                c->close_result = co_gen_close(g);
                c->finally_runs_at_close = c->probe->finally_runs;
        }
        if (c->mode == CONSUMER_KEEP || c->mode == CONSUMER_RETURN_EARLY)
                c->kept = g;
        else
                co_gen_unref(g);
        return r;
}

static int cancel_consumer(void *arg) {
        consumer_t *c = arg;
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;

        assert_int_equal(co_spawn(&t, "consumer", consume, c), 0);
        assert_int_equal(co_sleep(msec(10)), 0);
        /* Two values taken; blocked in next while the generator sleeps. */
        assert_int_equal(c->taken, 2);
        assert_string_equal(co_task_get_wait(t), "next 'produced'");
        co_task_cancel(t, "consumer cancelled");
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(c->next_result, -ECANCELED);
        /* The consumer's end waited for the generator. */
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 0);
        assert_int_equal(c->probe->sleep_result, -ECANCELED);
        assert_cleaned_once(c->probe);
        return 0;
}

static void test_gen_consumer_cancelled_in_next(void **state) {
        /* Two values at once, then an hour's wait for the third. */
        probe_t p = { .n_values = -1, .n_fast = 2, .between = HOUR, .cleanup_sleep = msec(5) };
        consumer_t c = { .probe = &p, .mode = CONSUMER_UNREF };

        assert_int_equal(run_main(cancel_consumer, &c).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&p);
        assert_int_equal(p.cleanup_result, 0);
}

static void test_gen_closed_while_consumer_cancelled(void **state) {
        probe_t p = { .n_values = -1, .n_fast = 2, .between = HOUR, .cleanup_sleep = msec(10) };
        consumer_t c = { .probe = &p, .mode = CONSUMER_CLOSE_SHIELDED, .close_result = 1 };

        assert_int_equal(run_main(cancel_consumer, &c).kind, CO_OUTCOME_RESULT);
        /* From CO_FINALLY the close waited for the awaiting cleanup. */
        assert_int_equal(c.close_result, 0);
        assert_int_equal(c.finally_runs_at_close, 1);
        assert_int_equal(p.cleanup_result, 0);
        assert_true(p.cleanup_took >= msec(10));
        assert_cleaned_once(&p);
}

static void test_gen_close_in_cancelled_consumer_unshielded(void **state) {
        probe_t p = { .n_values = -1, .n_fast = 2, .between = HOUR, .cleanup_sleep = msec(10) };
        consumer_t c = { .probe = &p, .mode = CONSUMER_CLOSE_BARE, .close_result = 1 };

        assert_int_equal(run_main(cancel_consumer, &c).kind, CO_OUTCOME_RESULT);
        /* Level-triggered: it could not wait, but the close went on and the
         * consumer's end waited for it. */
        assert_int_equal(c.close_result, -ECANCELED);
        assert_int_equal(c.finally_runs_at_close, 0);
        assert_cleaned_once(&p);
}

static int consumer_returns(void *arg) {
        consumer_t *c = arg;
        _cleanup_task_ co_task_t *t = NULL;
        co_outcome_t o;

        assert_int_equal(co_spawn(&t, "consumer", consume, c), 0);
        assert_int_equal(co_task_join(t, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(c->taken, 2);
        assert_non_null(c->kept);
        assert_true(co_gen_is_finished(c->kept));
        assert_string_equal(co_task_get_cancel_reason(co_gen_get_task(c->kept)), "parent task ended");
        assert_int_equal(c->probe->yield_result, -ECANCELED);
        assert_cleaned_once(c->probe);
        assert_int_equal(co_gen_close(c->kept), 0);
        c->kept = co_gen_unref(c->kept);
        return 0;
}

static void test_gen_consumer_returns_without_close(void **state) {
        probe_t p = { .n_values = -1, .cleanup_sleep = msec(5) };
        consumer_t c = { .probe = &p, .mode = CONSUMER_RETURN_EARLY };

        assert_int_equal(run_main(consumer_returns, &c).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&p);
        assert_int_equal(p.cleanup_result, 0);
}

static int drop_mid_stream(void *arg) {
        probe_t *p = arg;
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };
        co_gen_t *g = NULL, *d = NULL;

        assert_int_equal(co_gen_new(&g, "dropped", probe_gen, &p[0]), 0);
        assert_int_equal(co_gen_new_with(&d, "dropped detached", probe_gen, &p[1], &detached), 0);
        assert_null(co_task_get_parent(co_gen_get_task(d)));
        assert_int_equal(co_gen_next(g, NULL), 1);
        assert_int_equal(co_gen_next(d, NULL), 1);
        /* Nobody can ask for values any more: closed, not leaked, without
         * the consumer waiting. */
        co_gen_unref(g);
        co_gen_unref(d);
        assert_int_equal(p[0].finally_runs, 0);
        assert_int_equal(co_sleep(msec(20)), 0);
        assert_cleaned_once(&p[0]);
        assert_cleaned_once(&p[1]);
        assert_int_equal(p[1].yield_result, -ECANCELED);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 0);
        return 0;
}

static void test_gen_last_unref_closes(void **state) {
        probe_t p[2] = { { .n_values = -1, .cleanup_sleep = msec(2) }, { .n_values = -1 } };

        assert_int_equal(run_main(drop_mid_stream, p).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&p[0]);
        assert_cleaned_once(&p[1]);
}

/* A pipeline: a generator consuming another. Closing the outer one closes
 * the inner one, its child. */
static int doubler(co_gen_t *gen, void *arg) {
        probe_t *inner = arg;
        co_gen_t *src = NULL;
        void *v;
        int r, value;

        r = co_gen_new(&src, "source", probe_gen, inner);
        if (r < 0)
                return r;
        while ((r = co_gen_next(src, &v)) > 0) {
                value = 2 * *(int *) v;
                r = co_gen_yield(gen, &value);
                if (r < 0)
                        break;
        }
        co_gen_unref(src);
        return r;
}

static int pipeline(void *arg) {
        probe_t *inner = arg;
        _cleanup_gen_ co_gen_t *g = NULL;
        void *v;

        assert_int_equal(co_gen_new(&g, "doubler", doubler, inner), 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(co_gen_next(g, &v), 1);
                assert_int_equal(*(int *) v, 20 * i);
        }
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 2);
        assert_int_equal(co_gen_close(g), 0);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 0);
        assert_cleaned_once(inner);
        return 0;
}

static void test_gen_pipeline_close(void **state) {
        probe_t inner = { .n_values = -1, .between = msec(1), .cleanup_sleep = msec(2) };

        assert_int_equal(run_main(pipeline, &inner).kind, CO_OUTCOME_RESULT);
        assert_cleaned_once(&inner);
}

/* ---- shutdown of the loop's generators --------------------------------- */

#define N_SWEPT 3

typedef struct sweep {
        probe_t probes[N_SWEPT];
        co_gen_t *gens[N_SWEPT];
        int shutdown_result;
        co_usec_t deadline_after;
} sweep_t;

static int sweeper(void *arg) {
        sweep_t *s = arg;
        co_usec_t start = co_now();

        s->shutdown_result = co_loop_shutdown_generators(co_loop_current(), co_deadline_after(s->deadline_after));
        assert_true(co_now() - start < s->deadline_after);
        return 0;
}

static int shutdown_in_task(void *arg) {
        sweep_t *s = arg;
        _cleanup_task_ co_task_t *t = NULL;

        /* One never asked, one at a yield, one producing while nobody
         * waits (its consumer timed out). */
        for (int i = 0; i < N_SWEPT; i++) {
                char name[16];

                snprintf(name, sizeof name, "swept-%d", i);
                assert_int_equal(co_gen_new(&s->gens[i], name, probe_gen, &s->probes[i]), 0);
        }
        assert_int_equal(co_gen_next(s->gens[1], NULL), 1);
        assert_int_equal(co_gen_next(s->gens[2], NULL), 1);
        assert_int_equal(co_gen_next_until(s->gens[2], co_deadline_after(msec(1)), NULL), -ETIMEDOUT);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), N_SWEPT);
        /* The sweeper's cancellation does not cut the sweep short. */
        assert_int_equal(co_spawn(&t, "sweeper", sweeper, s), 0);
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), N_SWEPT);
        co_task_cancel(t, "shutting down");
        assert_int_equal(co_task_join(t, NULL), 0);
        assert_int_equal(co_loop_get_n_generators(co_loop_current()), 0);
        for (int i = 0; i < N_SWEPT; i++) {
                assert_true(co_gen_is_finished(s->gens[i]));
                assert_int_equal(co_gen_next(s->gens[i], NULL), 0);
                s->gens[i] = co_gen_unref(s->gens[i]);
        }
        return 0;
}

static void test_gen_shutdown_closes_all(void **state) {
        sweep_t s = { .deadline_after = 10 * CO_USEC_PER_SEC };

        for (int i = 0; i < N_SWEPT; i++)
                s.probes[i] = (probe_t) { .n_values = -1, .between = HOUR, .cleanup_sleep = msec(3) };
        s.probes[2].between = msec(5);
        assert_int_equal(run_main(shutdown_in_task, &s).kind, CO_OUTCOME_RESULT);
        assert_int_equal(s.shutdown_result, 0);
        assert_int_equal(s.probes[0].started, 0);
        assert_int_equal(s.probes[0].finally_runs, 0);
        for (int i = 1; i < N_SWEPT; i++) {
                assert_cleaned_once(&s.probes[i]);
                /* One at a time, each given its time. */
                assert_int_equal(s.probes[i].cleanup_result, 0);
        }
}

typedef struct overrun {
        probe_t fine, stuck;
        co_usec_t grace;
        co_usec_t deadline_after;
        int shutdown_result;
        co_usec_t took;
        int stuck_close_result;
} overrun_t;

static int shutdown_overrun(void *arg) {
        overrun_t *o = arg;
        co_task_opts_t opts = { .grace_usec = o->grace };
        _cleanup_gen_ co_gen_t *fine = NULL, *stuck = NULL;
        co_usec_t start;

        assert_int_equal(co_gen_new(&fine, "fine", probe_gen, &o->fine), 0);
        assert_int_equal(co_gen_new_with(&stuck, "stuck", probe_gen, &o->stuck, &opts), 0);
        assert_int_equal(co_gen_next(fine, NULL), 1);
        assert_int_equal(co_gen_next(stuck, NULL), 1);
        start = co_now();
        o->shutdown_result = co_loop_shutdown_generators(co_loop_current(), co_deadline_after(o->deadline_after));
        o->took = co_now() - start;
        assert_true(co_gen_is_finished(fine));
        assert_cleaned_once(&o->fine);
        /* Stuck or not, its cleanup has begun: once. */
        assert_int_equal(o->stuck.finally_runs, 1);
        o->stuck_close_result = co_gen_close(stuck);
        assert_true(co_gen_is_finished(stuck));
        assert_cleaned_once(&o->stuck);
        return 0;
}

static void test_gen_shutdown_deadline_names_stuck(void **state) {
        /* The stuck one's cleanup wants an hour; its grace cuts it at
         * 300 ms; the sweep gives up at 30 ms and names it. */
        overrun_t o = {
                .fine = { .n_values = -1, .cleanup_sleep = msec(1) },
                .stuck = { .n_values = -1, .cleanup_sleep = HOUR },
                .grace = msec(300),
                .deadline_after = msec(30),
        };
        captured_t c = { 0 };

        assert_int_equal(run_main_logging_to(capture_sink, &c, shutdown_overrun, &o).kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.shutdown_result, -ETIMEDOUT);
        assert_true(o.took >= msec(30));
        assert_true(o.took < msec(300));
        assert_int_equal(c.err.n, 1);
        assert_int_equal(c.n_generator, 1);
        assert_string_equal(c.generator[0], "stuck");
        assert_string_equal(c.wait, "sleep");
        assert_non_null(strstr(c.err.message, "'stuck'"));
        /* Closed in the end, its cleanup cut by its own grace. */
        assert_int_equal(o.stuck_close_result, 0);
        assert_int_equal(o.stuck.cleanup_result, -ETIMEDOUT);
        assert_true(o.stuck.cleanup_took >= msec(300));
}

static void test_gen_shutdown_grace_cuts_cleanup(void **state) {
        /* A deadline beyond the grace: the cleanup is cut, the sweep ends. */
        overrun_t o = {
                .fine = { .n_values = -1 },
                .stuck = { .n_values = -1, .cleanup_sleep = HOUR },
                .grace = msec(20),
                .deadline_after = 30 * CO_USEC_PER_SEC,
        };
        captured_t c = { 0 };

        assert_int_equal(run_main_logging_to(capture_sink, &c, shutdown_overrun, &o).kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.shutdown_result, 0);
        assert_int_equal(c.err.n, 0);
        assert_true(o.took >= msec(20));
        assert_true(o.took < 10 * CO_USEC_PER_SEC);
        assert_int_equal(o.stuck.cleanup_result, -ETIMEDOUT);
}

static int failing_cleanup_gen(co_gen_t *gen, void *arg) {
        int r = co_gen_yield(gen, NULL);

        if (r == -ECANCELED) {
                co_task_set_error("could not flush");
                return -EPIPE;
        }
        return r;
}

static int shutdown_logs_errors(void *arg) {
        co_gen_t *g = NULL;

        assert_int_equal(co_gen_new(&g, "unflushed", failing_cleanup_gen, NULL), 0);
        assert_int_equal(co_gen_next(g, NULL), 1);
        *(int *) arg = co_loop_shutdown_generators(co_loop_current(), co_deadline_after(CO_USEC_PER_SEC));
        co_gen_unref(g);
        return 0;
}

static void test_gen_shutdown_logs_close_errors(void **state) {
        captured_t c = { 0 };
        int r = 1;

        assert_int_equal(run_main_logging_to(capture_sink, &c, shutdown_logs_errors, &r).kind, CO_OUTCOME_RESULT);
        assert_int_equal(r, 0);
        /* Once, by the sweep that took it; not again as unretrieved. */
        assert_int_equal(c.err.n, 1);
        assert_string_equal(c.generator[0], "unflushed");
        assert_non_null(strstr(c.err.message, "could not flush"));
}

static int leave_generators_behind(void *arg) {
        sweep_t *s = arg;
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        for (int i = 0; i < N_SWEPT; i++)
                assert_int_equal(co_gen_new_with(&s->gens[i], "left", probe_gen, &s->probes[i], &detached), 0);
        assert_int_equal(co_gen_next(s->gens[0], NULL), 1);
        assert_int_equal(co_gen_next(s->gens[1], NULL), 1);
        /* They would keep the loop running for ever. */
        co_loop_stop(co_loop_current());
        return 0;
}

static void test_gen_shutdown_from_outside(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;
        _cleanup_task_ co_task_t *t = NULL;
        sweep_t s = { 0 };

        for (int i = 0; i < N_SWEPT; i++)
                s.probes[i] = (probe_t) { .n_values = -1, .between = HOUR, .cleanup_sleep = msec(2) };
        assert_int_equal(co_loop_new(&loop), 0);
        /* Nothing to do: nothing runs. */
        assert_int_equal(co_loop_shutdown_generators(loop, co_deadline_after(CO_USEC_PER_SEC)), 0);
        assert_int_equal(co_loop_spawn(loop, &t, "main", leave_generators_behind, &s, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        assert_int_equal(co_task_get_state(t), CO_TASK_DONE);
        assert_int_equal(co_loop_get_n_generators(loop), N_SWEPT);
        assert_int_equal(co_loop_get_n_tasks(loop), N_SWEPT);

        assert_int_equal(co_loop_shutdown_generators(loop, co_deadline_after(10 * CO_USEC_PER_SEC)), 0);
        assert_int_equal(co_loop_get_n_generators(loop), 0);
        assert_int_equal(co_loop_get_n_tasks(loop), 0);
        assert_cleaned_once(&s.probes[0]);
        assert_cleaned_once(&s.probes[1]);
        assert_int_equal(s.probes[2].started, 0);
        for (int i = 0; i < N_SWEPT; i++) {
                assert_true(co_gen_is_finished(s.gens[i]));
                /* Finished: close needs no task. */
                assert_int_equal(co_gen_close(s.gens[i]), 0);
                co_gen_unref(s.gens[i]);
        }
}

/* ---- the tutorial example ---------------------------------------------- */

static void test_gen_example_ticker(void **state) {
        _cleanup_free_ char *out = run_example("ticker", "60");

        assert_string_equal(out,
                            "0\n"
                            "1\n"
                            "2\n"
                            "3\n"
                            "4\n"
                            "ticker(5): cleanup\n"
                            "consumer: 0\n"
                            "consumer: 1\n"
                            "consumer: 2\n"
                            "cancelling the consumer\n"
                            "ticker(10): cleanup\n"
                            "cleanups of ticker(10): 1\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_gen_values_in_order),
                cmocka_unit_test(test_gen_empty_stream),
                cmocka_unit_test(test_gen_error_reaches_next),
                cmocka_unit_test(test_gen_unread_error_logged),
                cmocka_unit_test(test_gen_request_survives_timeout),
                cmocka_unit_test(test_gen_generator_cancelled),
                cmocka_unit_test(test_gen_close_suspended_runs_cleanup_once),
                cmocka_unit_test(test_gen_close_drops_untaken_value),
                cmocka_unit_test(test_gen_close_before_first_next),
                cmocka_unit_test(test_gen_close_reaches_shielded_yield),
                cmocka_unit_test(test_gen_close_while_other_task_in_next),
                cmocka_unit_test(test_gen_api_misuse),
                cmocka_unit_test(test_gen_consumer_cancelled_in_next),
                cmocka_unit_test(test_gen_closed_while_consumer_cancelled),
                cmocka_unit_test(test_gen_close_in_cancelled_consumer_unshielded),
                cmocka_unit_test(test_gen_consumer_returns_without_close),
                cmocka_unit_test(test_gen_last_unref_closes),
                cmocka_unit_test(test_gen_pipeline_close),
                cmocka_unit_test(test_gen_shutdown_closes_all),
                cmocka_unit_test(test_gen_shutdown_deadline_names_stuck),
                cmocka_unit_test(test_gen_shutdown_grace_cuts_cleanup),
                cmocka_unit_test(test_gen_shutdown_logs_close_errors),
                cmocka_unit_test(test_gen_shutdown_from_outside),
                cmocka_unit_test(test_gen_example_ticker),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
