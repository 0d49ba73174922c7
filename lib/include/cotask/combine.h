/* SPDX-License-Identifier: MIT */
#ifndef COTASK_COMBINE_H
#define COTASK_COMBINE_H

/* Waiting on several tasks: gather, wait, wait_for, as_completed, shield,
 * and task groups. Included by <cotask/cotask.h>; do not include directly.
 * All of these are called from a task, on tasks of the same loop. */

#ifdef __cplusplus
extern "C" {
#endif

enum {
        /* Collect every error in the outcomes instead of cancelling the
         * other tasks at the first one (asyncio's return_exceptions). */
        CO_GATHER_RETURN_ERRORS = 1u << 0,
};

/* Waits for all n tasks and fills ret_outcomes[i] (may be NULL) in the
 * tasks' order. The first task to fail (error or cancellation) cancels
 * the others and gather returns its value once they have all ended; with
 * CO_GATHER_RETURN_ERRORS it returns 0 and the errors are in the outcomes.
 * If the caller is cancelled, so are the tasks: gather waits for their
 * ends (shielded) and returns -ECANCELED. */
CO_EXPORT int co_gather(co_task_t *const *tasks, size_t n, unsigned flags, co_outcome_t *ret_outcomes);

typedef enum co_wait_mode {
        CO_WAIT_FIRST_COMPLETED,
        CO_WAIT_FIRST_EXCEPTION,        /* first error or cancellation, else all */
        CO_WAIT_ALL_COMPLETED,
} co_wait_mode_t;

/* Waits until the mode is satisfied or the deadline passes, then reorders
 * tasks[] so that the done ones come first, in their original relative
 * order, and sets *ret_n_done: asyncio's (done, pending). Cancels nothing:
 * returns 0 (also on the deadline), or -ECANCELED if the caller is
 * cancelled. */
CO_EXPORT int co_wait(co_task_t **tasks, size_t n, co_wait_mode_t mode, co_usec_t deadline,
                      size_t *ret_n_done);

/* Joins the task until the deadline; if it passes, cancels the task,
 * waits for its cleanup to finish, and returns -ETIMEDOUT. If the caller
 * is cancelled meanwhile, the task is cancelled too and waited for, and
 * -ECANCELED is returned. */
CO_EXPORT int co_wait_for(co_task_t *task, co_usec_t deadline, co_outcome_t *ret_outcome);

/* asyncio.shield: detaches the task (its parent's cancellation no longer
 * reaches it) and joins it; a cancelled caller returns -ECANCELED while
 * the task goes on. */
CO_EXPORT int co_task_shield(co_task_t *task, co_usec_t deadline, co_outcome_t *ret_outcome);

/* Tasks in the order they finish:
 *
 *     co_as_completed_t *it;
 *     co_task_t *t;
 *     co_as_completed_new(&it, tasks, n, deadline);
 *     while ((r = co_as_completed_next(it, &t)) > 0)
 *             use(t);                // 0 when all are out; < 0 on errors
 *     co_as_completed_free(it);
 */
typedef struct co_as_completed co_as_completed_t;

CO_EXPORT int co_as_completed_new(co_as_completed_t **ret, co_task_t *const *tasks, size_t n,
                                  co_usec_t deadline);
/* 1 and the next finished task (borrowed from the caller's array), 0 when
 * every task has been returned, -ETIMEDOUT past the deadline, -ECANCELED. */
CO_EXPORT int co_as_completed_next(co_as_completed_t *it, co_task_t **ret_task);
CO_EXPORT co_as_completed_t *co_as_completed_free(co_as_completed_t *it);

/*
 * Task groups (Trio's nursery, asyncio's TaskGroup): children spawned into
 * a group are children of the calling task; co_group_wait waits for all of
 * them. A child that fails cancels its siblings; the group keeps every
 * failed child, first error first. Cancelling the owner cancels them all
 * (they are its children), and co_group_wait still waits for their ends.
 */
typedef struct co_group co_group_t;

CO_EXPORT int co_group_new(co_group_t **ret_group);
CO_EXPORT int co_group_spawn(co_group_t *group, co_task_t **ret_task, const char *name, co_task_fn_t fn,
                             void *arg);
/* Waits for every child. Returns 0; the first child error (its negative
 * errno); or -ECANCELED if the caller was cancelled. No spawns after it. */
CO_EXPORT int co_group_wait(co_group_t *group);
/* Failed children, in the order they failed (borrowed). */
CO_EXPORT size_t co_group_get_n_failed(const co_group_t *group);
CO_EXPORT co_task_t *co_group_get_failed(const co_group_t *group, size_t i);
/* Cancels any unfinished child (its owner still waits for it when it
 * ends) and frees. NULL-safe. */
CO_EXPORT co_group_t *co_group_free(co_group_t *group);

#ifdef __cplusplus
}
#endif

#endif
