/* SPDX-License-Identifier: MIT */
#ifndef COTASK_FUTURE_H
#define COTASK_FUTURE_H

/* Futures: a result that will be set once, awaited by tasks. Included by
 * <cotask/cotask.h>; do not include directly. */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct co_future co_future_t;

/* A pending future on the loop (or, with loop NULL, the current task's
 * loop). Its waiters and done callbacks always run on that loop. */
CO_EXPORT int co_future_new(co_loop_t *loop, co_future_t **ret_future);
/* References are atomic: a future may be held by other threads. */
CO_EXPORT co_future_t *co_future_ref(co_future_t *f);
CO_EXPORT co_future_t *co_future_unref(co_future_t *f);

/* Completing a future is allowed once, from any thread; a second attempt
 * returns -EALREADY (asyncio's InvalidStateError) and changes nothing. */
CO_EXPORT int co_future_set_result(co_future_t *f, int value, void *result);
CO_EXPORT int co_future_set_error(co_future_t *f, int error, const char *fmt, ...) CO_PRINTF(3, 4);
CO_EXPORT int co_future_cancel(co_future_t *f, const char *reason);

CO_EXPORT bool co_future_is_done(const co_future_t *f);
/* 0 and the outcome once done, -EBUSY while pending. */
CO_EXPORT int co_future_get_outcome(co_future_t *f, co_outcome_t *ret_outcome);
/* Waits until done (0, outcome filled), the deadline (-ETIMEDOUT) or the
 * caller's cancellation (-ECANCELED, even if done; the future itself is
 * left alone). */
CO_EXPORT int co_future_wait(co_future_t *f, co_usec_t deadline, co_outcome_t *ret_outcome);

typedef void (*co_future_done_fn_t)(co_future_t *f, void *userdata);
/* Runs on the future's loop once it is done (at once if it is). */
CO_EXPORT int co_future_add_done_callback(co_future_t *f, co_future_done_fn_t fn, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
