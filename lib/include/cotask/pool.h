/* SPDX-License-Identifier: MIT */
#ifndef COTASK_POOL_H
#define COTASK_POOL_H

/*
 * Thread pool for blocking calls (asyncio's run_in_executor, to_thread).
 * Included by <cotask/cotask.h>; do not include directly.
 *
 * A pool belongs to a loop. Its threads start when jobs need them, up to
 * max_threads, and then stay until the pool shuts down. A job's outcome
 * completes a future on the pool's loop, so the task awaiting it resumes
 * on its own loop thread. A task that stops waiting (cancelled, or a
 * deadline) does not stop the job: a running thread cannot be interrupted.
 * The job finishes on its thread and its late result goes to free_result.
 *
 * There is no wrap_future: a co_future_t may be completed from any thread
 * (co_future_set_result), which is what wrap_future is for in asyncio.
 */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct co_pool co_pool_t;

/* A blocking function, run on a pool thread. It returns >= 0 (the result
 * value) or a negative errno, and may store a pointer result in
 * *ret_result (NULL on entry). It runs outside any task: it must not call
 * suspending functions, but may complete futures (of any loop). */
typedef int (*co_blocking_fn_t)(void *arg, void **ret_result);

typedef struct co_pool_job_opts {
        /* Called once, when the job is over (it ran, or was dropped before
         * it started), on whichever thread that happens: a pool thread, or
         * the thread that shut the pool down. Lets arg outlive an awaiting
         * task that stopped waiting. */
        co_cleanup_fn_t free_arg;
        /* Called with a non-NULL pointer result that nobody can receive: the
         * awaiting task stopped waiting (or gave no ret_outcome), or the
         * future was done (cancelled) before the job ended. Runs on the
         * job's thread, or in the task if the result came as it left. */
        co_cleanup_fn_t free_result;
} co_pool_job_opts_t;

/* A pool for loop (NULL: the current task's loop) of at most max_threads
 * threads (0: the number of CPUs, at least 4). No thread starts before the
 * first job. */
CO_EXPORT int co_pool_new(co_pool_t **ret_pool, co_loop_t *loop, unsigned max_threads);

/* Threads the pool starts from now on run, for their whole life, on the
 * CPUs of the thread whose submit starts them but the one it is on at the
 * time (usually the loop's), if that leaves any: for a pool, typically of
 * one thread, whose jobs are meant to run beside the loop rather than take
 * turns with it. A new thread otherwise often starts on its creator's CPU:
 * in a VM an idle virtual CPU can look busy to the scheduler, which then
 * moves one of the two away only milliseconds later. Where CPU sets cannot
 * be set (a system call filter, as in cotaskd.service), threads start as
 * usual and the pool stops trying. Returns 0, or -EINVAL for NULL. */
CO_EXPORT int co_pool_set_avoid_submitter_cpu(co_pool_t *pool, bool avoid);

/* Shuts the pool down without waiting (as co_pool_shutdown with a
 * deadline already passed: queued jobs cancelled, a warning naming the jobs
 * still running), then drops the pool. Threads still running a job finish
 * it on their own; they touch neither the pool's loop nor freed memory when
 * they do. Free a pool before its loop, and never from one of its jobs.
 * NULL-safe; returns NULL. */
CO_EXPORT co_pool_t *co_pool_free(co_pool_t *pool);

/* Queues fn(arg) and returns at once. *ret_future (required; the caller
 * owns one reference) completes on the pool's loop with the job's outcome:
 * RESULT (value, pointer result), ERROR (negative errno, no message), or
 * CANCELLED (the job returned -ECANCELED, or the pool shut down before the
 * job ran or finished). Cancelling the future drops the job if it has not
 * started yet, and otherwise discards its result. The name (copied) labels
 * logs. Callable from any thread. Returns -ESHUTDOWN once the pool is
 * shutting down, -EAGAIN if no thread could be started at all. */
CO_EXPORT int co_pool_submit(co_pool_t *pool, const char *name, co_blocking_fn_t fn, void *arg,
                             co_future_t **ret_future);
CO_EXPORT int co_pool_submit_with(co_pool_t *pool, const char *name, co_blocking_fn_t fn, void *arg,
                                  const co_pool_job_opts_t *opts, co_future_t **ret_future);

/* From a task of the pool's loop (else -EXDEV; -EPERM outside a task):
 * runs fn(arg) on the pool and waits for it. Returns 0 with the job's
 * outcome in *ret_outcome (may be NULL; its message is a static string
 * or NULL), -ESHUTDOWN, or at once -ECANCELED (or a shield's -ETIMEDOUT)
 * when the caller is cancelled: the job is then dropped if it has not
 * started, else it runs on and its result goes to free_result. Either way
 * arg must stay valid until the job is over: with a task that may be
 * cancelled, give it on the heap with a free_arg. */
CO_EXPORT int co_pool_run(co_pool_t *pool, const char *name, co_blocking_fn_t fn, void *arg,
                          co_outcome_t *ret_outcome);
CO_EXPORT int co_pool_run_with(co_pool_t *pool, const char *name, co_blocking_fn_t fn, void *arg,
                               const co_pool_job_opts_t *opts, co_outcome_t *ret_outcome);

/* co_pool_run on the current loop's default pool, made on first use. */
CO_EXPORT int co_to_thread(const char *name, co_blocking_fn_t fn, void *arg, co_outcome_t *ret_outcome);
CO_EXPORT int co_to_thread_with(const char *name, co_blocking_fn_t fn, void *arg,
                                const co_pool_job_opts_t *opts, co_outcome_t *ret_outcome);

/*
 * Stops taking jobs (co_pool_submit returns -ESHUTDOWN from now on),
 * cancels the futures of jobs that have not started, and waits for the
 * running ones until the absolute deadline. Returns 0 when every job has
 * finished and every thread has exited. Past the deadline it logs a
 * warning whose field "jobs" names the jobs still running, cancels their
 * futures, lets their threads go, and returns -ETIMEDOUT; their results
 * go to free_result when they end.
 *
 * From a task of the pool's loop only that task waits: the loop runs on.
 * If it is cancelled meanwhile it returns -ECANCELED with the jobs still
 * running and still the pool's: call again, or co_pool_free. Anywhere
 * else (outside any task, or from another loop's task) it blocks the
 * calling thread, and with it that thread's loop. Never call it from a
 * job. Calling it again after it has returned 0 or -ETIMEDOUT returns 0.
 */
CO_EXPORT int co_pool_shutdown(co_pool_t *pool, co_usec_t deadline);

/* Threads started and not yet exited or let go. */
CO_EXPORT unsigned co_pool_get_n_threads(co_pool_t *pool);

/* The loop's default pool (co_to_thread's), made on first use, to submit
 * to it. The loop keeps the reference. */
CO_EXPORT int co_loop_get_default_pool(co_loop_t *loop, co_pool_t **ret_pool);
/* co_pool_shutdown of the loop's default pool; 0 if it has none. The
 * pool itself is freed by co_loop_free. */
CO_EXPORT int co_loop_shutdown_default_pool(co_loop_t *loop, co_usec_t deadline);

#ifdef __cplusplus
}
#endif

#endif
