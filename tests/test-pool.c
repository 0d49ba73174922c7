/* SPDX-License-Identifier: MIT */
/* The thread pool: outcomes, bounds, cancellation of the awaiting task,
 * shutdown (queued jobs, deadlines, stragglers), the default pool, and the
 * to-thread example. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <time.h>

#include "test-util.h"

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Polls (as a task) until *flag is set or 5 s have passed. */
static bool await_flag(atomic_int *flag, int value) {
        co_usec_t until = co_deadline_after(5 * CO_USEC_PER_SEC);

        while (atomic_load(flag) < value && co_now() < until)
                assert_int_equal(co_sleep(msec(1)), 0);
        return atomic_load(flag) >= value;
}

static char self_path[PATH_MAX];

/* ---- jobs -------------------------------------------------------------- */

static int job_result(void *arg, void **ret_result) {
        *ret_result = arg;
        return 7;
}

static int job_strdup(void *arg, void **ret_result) {
        *ret_result = strdup("unwanted");
        return *ret_result ? 0 : -ENOMEM;
}

static int job_error(void *arg, void **ret_result) {
        return -EIO;
}

static int job_cancelled(void *arg, void **ret_result) {
        return -ECANCELED;
}

static int job_thread(void *arg, void **ret_result) {
        *(pthread_t *) arg = pthread_self();
        return 0;
}

static int job_sleep(void *arg, void **ret_result) {
        sleep_ms(*(unsigned *) arg);
        return 5;
}

typedef struct sleeper {
        atomic_int started;
        unsigned ms;
} sleeper_t;

static int job_sleep_flag(void *arg, void **ret_result) {
        sleeper_t *s = arg;

        atomic_store(&s->started, 1);
        sleep_ms(s->ms);
        return 5;
}

/* A job that blocks reading a pipe until the test writes to it, then
 * returns a heap result. Its state is on the heap: the job may outlive the
 * task that awaited it. */
typedef struct blocker {
        int fd;
        atomic_int *started;
        atomic_int *freed_args;
        atomic_int *freed_results;
} blocker_t;

static int job_block(void *arg, void **ret_result) {
        blocker_t *b = arg;
        char c;

        atomic_fetch_add(b->started, 1);
        if (read(b->fd, &c, 1) != 1)
                return -EIO;
        *ret_result = strdup("late result");
        return *ret_result ? 1 : -ENOMEM;
}

static void free_blocker(void *arg) {
        blocker_t *b = arg;

        atomic_fetch_add(b->freed_args, 1);
        free(b);
}

typedef struct counters {
        atomic_int started;
        atomic_int freed_args;
        atomic_int freed_results;
} counters_t;

static counters_t *results_counters;

static void free_result(void *result) {
        atomic_fetch_add(&results_counters->freed_results, 1);
        free(result);
}

static blocker_t *blocker_new(int fd, counters_t *c) {
        blocker_t *b = malloc(sizeof *b);

        assert_non_null(b);
        *b = (blocker_t) { fd, &c->started, &c->freed_args, &c->freed_results };
        results_counters = c;
        return b;
}

static const co_pool_job_opts_t blocker_opts = { .free_arg = free_blocker, .free_result = free_result };

/* ---- results and errors ------------------------------------------------ */

static int results_and_errors(void *arg) {
        co_pool_t *pool = NULL;
        co_outcome_t o;
        pthread_t th;

        assert_int_equal(co_pool_new(&pool, NULL, 2), 0);
        /* Threads start with the first job. */
        assert_int_equal(co_pool_get_n_threads(pool), 0);

        assert_int_equal(co_pool_run(pool, "result", job_result, (void *) "seven", &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 7);
        assert_string_equal(o.result, "seven");
        assert_null(o.message);
        assert_true(co_pool_get_n_threads(pool) >= 1);

        assert_int_equal(co_pool_run(pool, "error", job_error, NULL, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_ERROR);
        assert_int_equal(o.value, -EIO);
        assert_null(o.result);

        assert_int_equal(co_pool_run(pool, "cancelled", job_cancelled, NULL, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(o.value, -ECANCELED);
        assert_string_equal(o.message, "job returned -ECANCELED");

        /* The job runs on a pool thread, the task resumes on the loop's. */
        assert_int_equal(co_pool_run(pool, "thread", job_thread, &th, NULL), 0);
        assert_false(pthread_equal(th, pthread_self()));
        assert_int_equal(co_to_thread("to-thread", job_thread, &th, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_false(pthread_equal(th, pthread_self()));

        /* A pointer result nobody asked for goes to free_result. */
        {
                co_pool_job_opts_t opts = { .free_result = free_result };
                counters_t c = { 0 };

                results_counters = &c;
                assert_int_equal(co_pool_run_with(pool, "unwanted", job_strdup, NULL, &opts, NULL), 0);
                assert_int_equal(atomic_load(&c.freed_results), 1);
                results_counters = NULL;
        }

        assert_int_equal(co_pool_run(pool, "no fn", NULL, NULL, &o), -EINVAL);
        assert_int_equal(co_pool_run(NULL, "no pool", job_error, NULL, &o), -EINVAL);
        /* One job after the other: one thread does them all. */
        assert_int_equal(co_pool_get_n_threads(pool), 1);
        assert_int_equal(co_pool_shutdown(pool, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_int_equal(co_pool_get_n_threads(pool), 0);
        co_pool_free(pool);
        return 0;
}

static void test_pool_results_and_errors(void **state) {
        assert_int_equal(run_main(results_and_errors, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- bounded concurrency ------------------------------------------------- */

#define BOUND 3
#define BOUND_JOBS 12

typedef struct bound {
        atomic_int running;
        atomic_int max_running;
        atomic_int done;
} bound_t;

static int job_count(void *arg, void **ret_result) {
        bound_t *b = arg;
        int now = atomic_fetch_add(&b->running, 1) + 1;
        int max = atomic_load(&b->max_running);

        while (now > max && !atomic_compare_exchange_weak(&b->max_running, &max, now))
                ;
        sleep_ms(30);
        atomic_fetch_sub(&b->running, 1);
        atomic_fetch_add(&b->done, 1);
        return 0;
}

static int bounded(void *arg) {
        co_future_t *f[BOUND_JOBS];
        co_pool_t *pool = NULL;
        bound_t b = { 0 };

        assert_int_equal(co_pool_new(&pool, NULL, BOUND), 0);
        for (size_t i = 0; i < BOUND_JOBS; i++)
                assert_int_equal(co_pool_submit(pool, "count", job_count, &b, &f[i]), 0);
        for (size_t i = 0; i < BOUND_JOBS; i++) {
                co_outcome_t o;

                assert_int_equal(co_future_wait(f[i], CO_USEC_INFINITY, &o), 0);
                assert_int_equal(o.kind, CO_OUTCOME_RESULT);
                co_future_unref(f[i]);
        }
        assert_int_equal(atomic_load(&b.done), BOUND_JOBS);
        /* Never more than max_threads at once, and all of them used. */
        assert_int_equal(atomic_load(&b.max_running), BOUND);
        assert_int_equal(co_pool_get_n_threads(pool), BOUND);
        co_pool_free(pool);
        return 0;
}

static void test_pool_bounded_by_max_threads(void **state) {
        assert_int_equal(run_main(bounded, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- cancelling the awaiting task ------------------------------------------ */

typedef struct waiter {
        co_pool_t *pool;
        blocker_t *b;
        co_blocking_fn_t fn;
        int r;
} waiter_t;

static int wait_job(void *arg) {
        waiter_t *w = arg;

        w->r = co_pool_run_with(w->pool, "blocked", w->fn, w->b, &blocker_opts, NULL);
        return 0;
}

static atomic_int queued_job_ran;

static int job_must_not_run(void *arg, void **ret_result) {
        atomic_fetch_add(&queued_job_ran, 1);
        return 0;
}

static int cancel_awaiting(void *arg) {
        _cleanup_task_ co_task_t *running = NULL, *queued = NULL;
        _cleanup_close_ int rd = -1, wr = -1;
        counters_t c = { 0 };
        waiter_t wr_running = { 0 }, wr_queued = { 0 };
        co_pool_t *pool = NULL;
        co_usec_t t0, t1;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        rd = p[0];
        wr = p[1];
        /* One thread: the second job stays queued behind the first. */
        assert_int_equal(co_pool_new(&pool, NULL, 1), 0);
        wr_running = (waiter_t) { pool, blocker_new(rd, &c), job_block, 1 };
        wr_queued = (waiter_t) { pool, blocker_new(rd, &c), job_must_not_run, 1 };
        assert_int_equal(co_spawn(&running, "running", wait_job, &wr_running), 0);
        assert_int_equal(co_spawn(&queued, "queued", wait_job, &wr_queued), 0);
        assert_true(await_flag(&c.started, 1));
        assert_string_equal(co_task_get_wait(running), "future");

        /* -ECANCELED at once, although the job blocks on. */
        t0 = co_now();
        co_task_cancel(running, "impatient");
        co_task_cancel(queued, "impatient");
        assert_int_equal(co_task_join(running, NULL), 0);
        assert_int_equal(co_task_join(queued, NULL), 0);
        t1 = co_now();
        assert_int_equal(wr_running.r, -ECANCELED);
        assert_int_equal(wr_queued.r, -ECANCELED);
        assert_true(t1 - t0 < msec(500));
        assert_int_equal(atomic_load(&c.freed_results), 0);

        /* The job ends: its late result and its argument are freed on its
         * thread; the queued job is dropped without running. */
        assert_int_equal(write(wr, "x", 1), 1);
        assert_int_equal(co_pool_shutdown(pool, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_int_equal(atomic_load(&c.freed_results), 1);
        assert_int_equal(atomic_load(&c.freed_args), 2);
        assert_int_equal(atomic_load(&queued_job_ran), 0);
        co_pool_free(pool);
        return 0;
}

static void test_pool_cancel_awaiting_task(void **state) {
        assert_int_equal(run_main(cancel_awaiting, NULL).kind, CO_OUTCOME_RESULT);
}

static int cancelled_starts_nothing(void *arg) {
        co_pool_t *pool = NULL;

        assert_int_equal(co_pool_new(&pool, NULL, 1), 0);
        /* Level-triggered: a cancelled task does not even queue the job. */
        co_task_cancel(co_task_current(), "before");
        assert_int_equal(co_pool_run(pool, "never", job_must_not_run, NULL, NULL), -ECANCELED);
        assert_int_equal(co_to_thread("never", job_must_not_run, NULL, NULL), -ECANCELED);
        assert_int_equal(co_pool_get_n_threads(pool), 0);
        co_pool_free(pool);
        assert_int_equal(atomic_load(&queued_job_ran), 0);
        return -ECANCELED;
}

static void test_pool_cancelled_task_starts_no_job(void **state) {
        assert_int_equal(run_main(cancelled_starts_nothing, NULL).kind, CO_OUTCOME_CANCELLED);
}

/* Cancellations that race with the job's end: every result is freed exactly
 * once, by the task that got it or through free_result. */
#define RACE_ROUNDS 300

static atomic_int race_freed, race_ran;

static int job_alloc(void *arg, void **ret_result) {
        struct timespec ts = { .tv_nsec = (long) (uintptr_t) arg * 1000 };

        atomic_fetch_add(&race_ran, 1);
        nanosleep(&ts, NULL);
        *ret_result = malloc(16);
        return *ret_result ? 0 : -ENOMEM;
}

static void free_counted(void *result) {
        atomic_fetch_add(&race_freed, 1);
        free(result);
}

typedef struct racer {
        co_pool_t *pool;
        uintptr_t job_usec;
        int delivered;
} racer_t;

static int race_job(void *arg) {
        static const co_pool_job_opts_t opts = { .free_result = free_counted };
        racer_t *r = arg;
        co_outcome_t o;

        if (co_pool_run_with(r->pool, "race", job_alloc, (void *) r->job_usec, &opts, &o) == 0) {
                assert_int_equal(o.kind, CO_OUTCOME_RESULT);
                free(o.result);
                r->delivered++;
        }
        return 0;
}

static int cancel_races(void *arg) {
        racer_t r = { 0 };

        assert_int_equal(co_pool_new(&r.pool, NULL, 2), 0);
        for (int i = 0; i < RACE_ROUNDS; i++) {
                _cleanup_task_ co_task_t *t = NULL;

                r.job_usec = (uintptr_t) (i % 3) * 50;
                assert_int_equal(co_spawn(&t, "racer", race_job, &r), 0);
                /* Cancel before it runs, as it waits, or not at all. */
                for (int k = 0; k < i % 4; k++)
                        assert_int_equal(co_task_yield(), 0);
                if (i % 5 == 4)
                        assert_int_equal(co_sleep((co_usec_t) (i % 11) * 10), 0);
                if (i % 7 != 6)
                        co_task_cancel(t, "race");
                assert_int_equal(co_task_join(t, NULL), 0);
        }
        assert_int_equal(co_pool_shutdown(r.pool, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        co_pool_free(r.pool);
        /* Jobs dropped before they started made no result. */
        assert_int_equal(r.delivered + atomic_load(&race_freed), atomic_load(&race_ran));
        assert_true(atomic_load(&race_ran) <= RACE_ROUNDS);
        assert_true(r.delivered >= RACE_ROUNDS / 7);
        return 0;
}

static void test_pool_cancel_races_free_every_result(void **state) {
        assert_int_equal(run_main(cancel_races, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- submit and futures --------------------------------------------------- */

typedef struct callback_check {
        pthread_t loop_thread;
        int calls;
        bool on_loop_thread;
} callback_check_t;

static void on_done(co_future_t *f, void *userdata) {
        callback_check_t *c = userdata;

        c->calls++;
        c->on_loop_thread = pthread_equal(pthread_self(), c->loop_thread);
}

static int submit_and_wait(void *arg) {
        callback_check_t c = { .loop_thread = pthread_self() };
        unsigned ms = 20;
        co_pool_t *pool = NULL;
        co_future_t *f = NULL;
        co_outcome_t o;

        assert_int_equal(co_pool_new(&pool, NULL, 2), 0);
        assert_int_equal(co_pool_submit(pool, "sleep", job_sleep, &ms, NULL), -EINVAL);
        assert_int_equal(co_pool_submit(pool, "sleep", job_sleep, &ms, &f), 0);
        assert_int_equal(co_future_add_done_callback(f, on_done, &c), 0);
        assert_false(co_future_is_done(f));
        assert_int_equal(co_future_wait(f, CO_USEC_INFINITY, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 5);
        assert_int_equal(c.calls, 1);
        assert_true(c.on_loop_thread);
        co_future_unref(f);

        /* A deadline on the future leaves the job alone. */
        assert_int_equal(co_pool_submit(pool, "sleep", job_sleep, &ms, &f), 0);
        assert_int_equal(co_future_wait(f, co_deadline_after(msec(1)), &o), -ETIMEDOUT);
        assert_int_equal(co_future_wait(f, CO_USEC_INFINITY, &o), 0);
        assert_int_equal(o.value, 5);
        co_future_unref(f);
        co_pool_free(pool);
        return 0;
}

static void test_pool_submit_future(void **state) {
        assert_int_equal(run_main(submit_and_wait, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- shutdown ------------------------------------------------------------- */

typedef struct release {
        int fd;
        co_usec_t after;
        bool done;
} release_t;

static int releaser(void *arg) {
        release_t *r = arg;

        assert_int_equal(co_sleep(r->after), 0);
        assert_int_equal(write(r->fd, "x", 1), 1);
        r->done = true;
        return 0;
}

static int shutdown_queued(void *arg) {
        _cleanup_task_ co_task_t *rel = NULL;
        _cleanup_close_ int rd = -1, wr = -1;
        counters_t c = { 0 };
        co_future_t *f[3] = { NULL };
        co_pool_t *pool = NULL;
        release_t r;
        co_outcome_t o;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        rd = p[0];
        wr = p[1];
        assert_int_equal(co_pool_new(&pool, NULL, 1), 0);
        assert_int_equal(co_pool_submit_with(pool, "first", job_block, blocker_new(rd, &c), &blocker_opts, &f[0]), 0);
        assert_int_equal(co_pool_submit_with(pool, "second", job_must_not_run, blocker_new(rd, &c), &blocker_opts,
                                             &f[1]), 0);
        assert_int_equal(co_pool_submit_with(pool, "third", job_must_not_run, blocker_new(rd, &c), &blocker_opts,
                                             &f[2]), 0);
        assert_true(await_flag(&c.started, 1));

        /* The shutdown only suspends this task: the releaser runs, and the
         * running job can finish. */
        r = (release_t) { .fd = wr, .after = msec(20) };
        assert_int_equal(co_spawn(&rel, "releaser", releaser, &r), 0);
        assert_int_equal(co_pool_shutdown(pool, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_true(r.done);
        assert_int_equal(co_future_get_outcome(f[0], &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_string_equal(o.result, "late result");
        free(o.result);
        for (int i = 1; i < 3; i++) {
                assert_int_equal(co_future_get_outcome(f[i], &o), 0);
                assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
                assert_string_equal(o.message, "thread pool shut down");
        }
        assert_int_equal(atomic_load(&queued_job_ran), 0);
        assert_int_equal(atomic_load(&c.freed_args), 3);
        assert_int_equal(atomic_load(&c.freed_results), 0);
        assert_int_equal(co_pool_get_n_threads(pool), 0);

        /* Closed for good. */
        assert_int_equal(co_pool_submit(pool, "late", job_error, NULL, &f[1]), -ESHUTDOWN);
        assert_int_equal(co_pool_run(pool, "late", job_error, NULL, &o), -ESHUTDOWN);
        assert_int_equal(co_pool_shutdown(pool, co_now()), 0);
        for (int i = 0; i < 3; i++)
                co_future_unref(f[i]);
        co_pool_free(pool);
        return 0;
}

static void test_pool_shutdown_cancels_queued(void **state) {
        assert_int_equal(run_main(shutdown_queued, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct captured {
        int warnings;
        char message[256];
        char jobs[256];
} captured_t;

static void capture(const co_log_record_t *rec, void *userdata) {
        captured_t *c = userdata;

        if (rec->level != CO_LOG_WARNING)
                return;
        c->warnings++;
        snprintf(c->message, sizeof c->message, "%s", rec->message);
        for (size_t i = 0; i < rec->n_fields; i++)
                if (strcmp(rec->fields[i].key, "jobs") == 0)
                        snprintf(c->jobs, sizeof c->jobs, "%s", rec->fields[i].value);
}

typedef struct straggle {
        counters_t c;
        captured_t log;
} straggle_t;

static int shutdown_straggler(void *arg) {
        straggle_t *s = arg;
        _cleanup_close_ int rd = -1, wr = -1;
        co_future_t *slow = NULL, *quick = NULL;
        co_pool_t *pool = NULL;
        co_usec_t t0, t1;
        co_outcome_t o;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        rd = p[0];
        wr = p[1];
        assert_int_equal(co_pool_new(&pool, NULL, 2), 0);
        assert_int_equal(co_pool_submit_with(pool, "straggler", job_block, blocker_new(rd, &s->c), &blocker_opts,
                                             &slow), 0);
        assert_int_equal(co_pool_submit(pool, "quick", job_result, NULL, &quick), 0);
        assert_true(await_flag(&s->c.started, 1));
        assert_int_equal(co_future_wait(quick, CO_USEC_INFINITY, NULL), 0);

        co_log_set_sink(capture, &s->log);
        t0 = co_now();
        assert_int_equal(co_pool_shutdown(pool, co_deadline_after(msec(50))), -ETIMEDOUT);
        t1 = co_now();
        co_log_set_sink(NULL, NULL);
        assert_true(t1 - t0 >= msec(50));
        /* Named in the log, its future cancelled. */
        assert_int_equal(s->log.warnings, 1);
        assert_string_equal(s->log.jobs, "straggler");
        assert_non_null(strstr(s->log.message, "straggler"));
        assert_int_equal(co_future_get_outcome(slow, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_CANCELLED);
        assert_int_equal(co_pool_get_n_threads(pool), 0);
        co_future_unref(slow);
        co_future_unref(quick);
        co_pool_free(pool);

        /* The straggler ends after its pool is gone: it frees its own
         * things, and the pool with them. */
        assert_int_equal(write(wr, "x", 1), 1);
        assert_true(await_flag(&s->c.freed_args, 1));
        assert_int_equal(atomic_load(&s->c.freed_results), 1);
        return 0;
}

static void test_pool_shutdown_deadline_straggler(void **state) {
        straggle_t s = { 0 };

        assert_int_equal(run_main(shutdown_straggler, &s).kind, CO_OUTCOME_RESULT);
        /* Time for the thread to be gone before the leak checkers look. */
        sleep_ms(50);
}

/* Outside any task the shutdown blocks the calling thread: how the loop's
 * shutdown sequence calls it once the tasks are over. */
static void test_pool_shutdown_outside_task(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;
        sleeper_t sl = { .ms = 30 };
        co_pool_t *pool = NULL;
        co_future_t *f = NULL;
        co_usec_t t0;
        co_outcome_t o;

        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_pool_new(&pool, NULL, 1), -EINVAL);
        assert_int_equal(co_pool_new(&pool, loop, 1), 0);
        assert_int_equal(co_pool_run(pool, "no task", job_error, NULL, &o), -EPERM);
        assert_int_equal(co_to_thread("no task", job_error, NULL, &o), -EPERM);
        t0 = co_now();
        assert_int_equal(co_pool_submit(pool, "sleep", job_sleep_flag, &sl, &f), 0);
        /* Started: not cancelled as a queued job. */
        while (!atomic_load(&sl.started))
                sleep_ms(1);
        assert_int_equal(co_pool_shutdown(pool, co_deadline_after(5 * CO_USEC_PER_SEC)), 0);
        assert_true(co_now() - t0 >= msec(30));
        assert_int_equal(co_future_get_outcome(f, &o), 0);
        assert_int_equal(o.value, 5);
        co_future_unref(f);
        co_pool_free(pool);
        /* No default pool was made: nothing to do. */
        assert_int_equal(co_loop_shutdown_default_pool(loop, co_now()), 0);
}

typedef struct default_straggle {
        counters_t c;
        int fd;
        int r;
} default_straggle_t;

static int to_thread_blocked(void *arg) {
        default_straggle_t *d = arg;

        d->r = co_to_thread_with("stuck-in-default", job_block, blocker_new(d->fd, &d->c), &blocker_opts, NULL);
        return 0;
}

static int leave_a_straggler(void *arg) {
        default_straggle_t *d = arg;
        _cleanup_task_ co_task_t *t = NULL;

        assert_int_equal(co_spawn(&t, "waiter", to_thread_blocked, d), 0);
        assert_true(await_flag(&d->c.started, 1));
        co_task_cancel(t, "leaving");
        assert_int_equal(co_task_join(t, NULL), 0);
        assert_int_equal(d->r, -ECANCELED);
        return 0;
}

/* The run() sequence with a job that outlives the loop: shut the default
 * pool down with a deadline, free the loop, and only then let the job end. */
static void test_pool_default_pool_outlives_loop(void **state) {
        default_straggle_t d = { 0 };
        captured_t log = { 0 };
        co_loop_t *loop = NULL;
        co_task_t *t = NULL;
        int p[2];

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        d.fd = p[0];
        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_spawn(loop, &t, "main", leave_a_straggler, &d, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        co_task_unref(t);
        co_log_set_sink(capture, &log);
        assert_int_equal(co_loop_shutdown_default_pool(loop, co_deadline_after(msec(20))), -ETIMEDOUT);
        co_log_set_sink(NULL, NULL);
        assert_int_equal(log.warnings, 1);
        assert_string_equal(log.jobs, "stuck-in-default");
        co_loop_free(loop);

        assert_int_equal(write(p[1], "x", 1), 1);
        for (int i = 0; i < 5000 && atomic_load(&d.c.freed_args) < 1; i++)
                sleep_ms(1);
        assert_int_equal(atomic_load(&d.c.freed_args), 1);
        assert_int_equal(atomic_load(&d.c.freed_results), 1);
        sleep_ms(50);
        close(p[0]);
        close(p[1]);
}

/* ---- the loop runs on while jobs block -------------------------------------- */

typedef struct ticks {
        int n;
} ticks_t;

static int ticker(void *arg) {
        ticks_t *t = arg;

        for (;;) {
                if (co_sleep(msec(5)) < 0)
                        return 0;
                t->n++;
        }
}

static int ticks_while_blocked(void *arg) {
        _cleanup_task_ co_task_t *tk = NULL;
        unsigned ms = 100;
        ticks_t t = { 0 };
        co_outcome_t o;

        assert_int_equal(co_spawn(&tk, "ticker", ticker, &t), 0);
        assert_int_equal(co_to_thread("sleep", job_sleep, &ms, &o), 0);
        assert_int_equal(o.value, 5);
        /* About 20 ticks while the job slept; a blocked loop makes none. */
        assert_true(t.n >= 5);
        co_task_cancel(tk, NULL);
        assert_int_equal(co_task_join(tk, NULL), 0);
        return 0;
}

static void test_pool_loop_runs_while_jobs_block(void **state) {
        assert_int_equal(run_main(ticks_while_blocked, NULL).kind, CO_OUTCOME_RESULT);
}

/* ---- CPUs ------------------------------------------------------------------- */

static int job_own_cpus(void *arg, void **ret_result) {
        return sched_getaffinity(0, sizeof(cpu_set_t), arg) < 0 ? -errno : 0;
}

/* The CPU set of the pool's (first) thread, avoid_submitter_cpu as given. */
static void thread_cpus(bool avoid, cpu_set_t *ret_cpus) {
        co_pool_t *p = NULL;
        co_outcome_t o;

        assert_int_equal(co_pool_new(&p, NULL, 1), 0);
        assert_int_equal(co_pool_set_avoid_submitter_cpu(p, avoid), 0);
        assert_int_equal(co_pool_run(p, "cpus", job_own_cpus, ret_cpus, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(co_pool_shutdown(p, CO_USEC_INFINITY), 0);
        co_pool_free(p);
}

static int cpus_of_threads(void *arg) {
        cpu_set_t mine, one, got, both;
        int first = -1, held;

        assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
        /* By default a thread inherits its creator's set. */
        thread_cpus(false, &got);
        assert_true(CPU_EQUAL(&got, &mine));
        /* Avoiding: all of it but one, the one the loop thread was on. */
        thread_cpus(true, &got);
        CPU_AND(&both, &got, &mine);
        assert_true(CPU_EQUAL(&both, &got));
        assert_int_equal(CPU_COUNT(&got), CPU_COUNT(&mine) - 1);
        /* A loop thread held to one CPU: the thread shares it, rather than
         * not starting. */
        for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
                if (CPU_ISSET(c, &mine))
                        first = c;
        CPU_ZERO(&one);
        CPU_SET(first, &one);
        held = sched_setaffinity(0, sizeof one, &one);
        if (held == 0) {
                thread_cpus(true, &got);
                /* Given back before anything can fail. */
                assert_int_equal(sched_setaffinity(0, sizeof mine, &mine), 0);
                assert_true(CPU_EQUAL(&got, &one));
        }
        assert_int_equal(co_pool_set_avoid_submitter_cpu(NULL, true), -EINVAL);
        return 0;
}

static void test_pool_avoid_submitter_cpu(void **state) {
        cpu_set_t mine;

        if (sched_getaffinity(0, sizeof mine, &mine) < 0 || CPU_COUNT(&mine) < 2 || sched_getcpu() < 0)
                skip();
        assert_int_equal(run_main(cpus_of_threads, NULL).kind, CO_OUTCOME_RESULT);
}

/* Where CPU sets cannot be set (cotaskd.service's system call filter
 * makes sched_setaffinity fail with EPERM), the threads start all the
 * same, with the set they inherit. In a process of its own
 * ("--no-setaffinity-child") under such a filter. */
static int threads_start_anyway(void *arg) {
        cpu_set_t mine, got;

        assert_int_equal(sched_getaffinity(0, sizeof mine, &mine), 0);
        thread_cpus(true, &got);
        assert_true(CPU_EQUAL(&got, &mine));
        return 0;
}

static void count_refusals(const co_log_record_t *rec, void *userdata) {
        if (rec->level == CO_LOG_NOTICE && strstr(rec->message, "could not be set (Operation not permitted)"))
                (*(int *) userdata)++;
}

static void test_pool_avoid_submitter_cpu_where_cpus_cannot_be_set_child(void **state) {
        int refusals = 0;

        assert_int_equal(run_main_logging_to(count_refusals, &refusals, threads_start_anyway, NULL).kind,
                         CO_OUTCOME_RESULT);
        /* Said once, where the pool gave up placing its threads. */
        assert_int_equal(refusals, 1);
}

static int no_setaffinity_child(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pool_avoid_submitter_cpu_where_cpus_cannot_be_set_child),
        };
        struct sock_filter f[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_THIS_ARCH, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sched_setaffinity, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        cpu_set_t mine;

        if (sched_getaffinity(0, sizeof mine, &mine) < 0 || CPU_COUNT(&mine) < 2 || sched_getcpu() < 0 ||
            !seccomp_load(f, ELEMENTSOF(f)))
                return CHILD_SKIP;
        if (sched_setaffinity(0, sizeof mine, &mine) == 0) {
                fprintf(stderr, "sched_setaffinity still works under the filter here: skipped\n");
                return CHILD_SKIP;
        }
        return cmocka_run_group_tests_name("pool without sched_setaffinity", tests, NULL, NULL) == 0 ? 0 : 1;
}

static void test_pool_avoid_submitter_cpu_where_cpus_cannot_be_set(void **state) {
        run_self_child(self_path, "--no-setaffinity-child");
}

/* ---- the example ------------------------------------------------------------ */

static void test_pool_example_to_thread(void **state) {
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ char *out = run_example_full("to-thread", "40", &err);
        char *line, *save = NULL;
        int ticks_before = 0;

        /* Line by line; only the number of ticks depends on timing. */
        line = strtok_r(out, "\n", &save);
        assert_non_null(line);
        assert_string_equal(line, "started main");
        while ((line = strtok_r(NULL, "\n", &save)) && strcmp(line, "tick") == 0)
                ticks_before++;
        /* At least one tick while the read blocked a pool thread. */
        assert_true(ticks_before >= 1);
        assert_non_null(line);
        assert_string_equal(line, "read 100 bytes from /dev/urandom");
        while ((line = strtok_r(NULL, "\n", &save)) && strcmp(line, "tick") == 0)
                continue;
        assert_non_null(line);
        assert_string_equal(line, "sum of squares below 10^7: 333333283333335000000");
        /* A tick whose sleep ended just before main cancelled the ticker
         * still prints: the cancellation reaches its next sleep. */
        while ((line = strtok_r(NULL, "\n", &save)) && strcmp(line, "tick") == 0)
                continue;
        assert_non_null(line);
        assert_string_equal(line, "finished main");
        assert_null(strtok_r(NULL, "\n", &save));
        /* No warning about jobs left running. */
        assert_string_equal(err, "");
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pool_results_and_errors),
                cmocka_unit_test(test_pool_bounded_by_max_threads),
                cmocka_unit_test(test_pool_cancel_awaiting_task),
                cmocka_unit_test(test_pool_cancelled_task_starts_no_job),
                cmocka_unit_test(test_pool_cancel_races_free_every_result),
                cmocka_unit_test(test_pool_submit_future),
                cmocka_unit_test(test_pool_shutdown_cancels_queued),
                cmocka_unit_test(test_pool_shutdown_deadline_straggler),
                cmocka_unit_test(test_pool_shutdown_outside_task),
                cmocka_unit_test(test_pool_default_pool_outlives_loop),
                cmocka_unit_test(test_pool_loop_runs_while_jobs_block),
                cmocka_unit_test(test_pool_avoid_submitter_cpu),
                cmocka_unit_test(test_pool_avoid_submitter_cpu_where_cpus_cannot_be_set),
                cmocka_unit_test(test_pool_example_to_thread),
        };

        if (argc > 1 && strcmp(argv[1], "--no-setaffinity-child") == 0)
                return no_setaffinity_child();
        if (!realpath(argv[0], self_path))
                snprintf(self_path, sizeof self_path, "%s", argv[0]);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
