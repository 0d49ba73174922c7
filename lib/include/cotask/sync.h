/* SPDX-License-Identifier: MIT */
#ifndef COTASK_SYNC_H
#define COTASK_SYNC_H

/*
 * Synchronisation primitives: lock, event, condition, semaphore, queue, with
 * the semantics of asyncio's (Python 3.13). Included by <cotask/cotask.h>; do
 * not include directly.
 *
 * Loop thread only: a primitive is used by the tasks of one loop, and by
 * callbacks running on that loop's thread; it has no lock of its own, so
 * other threads must go through a future or a post to the loop.
 *
 * Every waiting call takes an absolute deadline (CO_USEC_INFINITY for none)
 * and returns 0, -ETIMEDOUT once it has passed, -ECANCELED when the calling
 * task is cancelled, or an error of its own. Cancellation is level-triggered:
 * a cancelled task gets -ECANCELED at once, even where the call could have
 * succeeded without waiting (inside a shield, the shield decides). A call
 * that can succeed at once does so even if its deadline has passed.
 *
 * Waiters are served first come, first served, and a hand-over is final:
 * when a release, a put or a get picks a waiter, the lock, permit or item is
 * the waiter's from that moment, and its call returns 0 even if the waiter
 * is cancelled before it runs again. A waiter that leaves by its deadline or
 * its cancellation leaves no trace: whatever it waited for goes to the next.
 *
 * Freeing a primitive that still has waiters wakes them with -EIDRM (they
 * do not touch it afterwards). Destructors are NULL-safe and return NULL.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- lock (asyncio.Lock) --------------------------------------------------- */

/* A mutual-exclusion lock owned by a task. Not recursive. A task that ends
 * while holding it leaves it locked: release it in a CO_FINALLY block or a
 * co_defer cleanup. */
typedef struct co_lock co_lock_t;

CO_EXPORT int co_lock_new(co_lock_t **ret_lock);
CO_EXPORT co_lock_t *co_lock_free(co_lock_t *lock);
/* From a task. -EDEADLK if the caller already holds it. */
CO_EXPORT int co_lock_acquire(co_lock_t *lock, co_usec_t deadline);
/* From a task (else -EPERM): 0, or -EBUSY if it is held (by anyone, the
 * caller too). */
CO_EXPORT int co_lock_try_acquire(co_lock_t *lock);
/* Hands the lock to the first waiter, if any. -EPERM unless the calling task
 * holds it. */
CO_EXPORT int co_lock_release(co_lock_t *lock);
CO_EXPORT bool co_lock_is_locked(const co_lock_t *lock);
/* The task holding the lock, or NULL. */
CO_EXPORT co_task_t *co_lock_get_owner(const co_lock_t *lock);

/* ---- event (asyncio.Event) ------------------------------------------------- */

/* A flag that tasks wait to see set. */
typedef struct co_event co_event_t;

CO_EXPORT int co_event_new(co_event_t **ret_event);
CO_EXPORT co_event_t *co_event_free(co_event_t *event);
/* Sets the flag and wakes every waiter: each returns 0 even if the flag is
 * cleared again before it runs. Callable from loop callbacks too. */
CO_EXPORT void co_event_set(co_event_t *event);
CO_EXPORT void co_event_clear(co_event_t *event);
CO_EXPORT bool co_event_is_set(const co_event_t *event);
/* Returns 0 once the flag is set (at once if it is). */
CO_EXPORT int co_event_wait(co_event_t *event, co_usec_t deadline);

/* ---- condition (asyncio.Condition) ------------------------------------------ */

/* A condition variable bound to a lock. */
typedef struct co_cond co_cond_t;

/* With lock NULL, the condition makes (and owns) a lock of its own. The
 * lock must outlive the condition. */
CO_EXPORT int co_cond_new(co_cond_t **ret_cond, co_lock_t *lock);
CO_EXPORT co_cond_t *co_cond_free(co_cond_t *cond);
CO_EXPORT co_lock_t *co_cond_get_lock(co_cond_t *cond);
/* The caller must hold the lock (else -EPERM). Releases it, waits to be
 * signalled, and takes it back before returning, whatever the result: the
 * re-acquiring is not interrupted by cancellation or deadlines (as in
 * asyncio, and pthread_cond_wait). Returns 0 when signalled, -ETIMEDOUT,
 * -ECANCELED (a cancelled caller returns at once, the lock kept throughout).
 * As with every condition variable, recheck the predicate after a wake-up,
 * or use co_cond_wait_for. */
CO_EXPORT int co_cond_wait(co_cond_t *cond, co_usec_t deadline);

typedef bool (*co_cond_predicate_fn_t)(void *userdata);
/* Waits until predicate(userdata) is true, evaluated with the lock held: 0,
 * or co_cond_wait's errors (the lock held on return in every case). */
CO_EXPORT int co_cond_wait_for(co_cond_t *cond, co_cond_predicate_fn_t predicate, void *userdata,
                               co_usec_t deadline);
/* Wakes up to n waiters, the longest waiting first; the caller must hold the
 * lock (else -EPERM). Returns how many were woken. */
CO_EXPORT int co_cond_signal(co_cond_t *cond, unsigned n);
/* Wakes every waiter; returns how many. */
CO_EXPORT int co_cond_broadcast(co_cond_t *cond);

/* ---- semaphore (asyncio.Semaphore, BoundedSemaphore) -------------------------- */

typedef struct co_sem co_sem_t;

CO_EXPORT int co_sem_new(co_sem_t **ret_sem, unsigned value);
/* A bounded semaphore: a release that would raise the value above the
 * initial one fails with -EOVERFLOW (asyncio's ValueError). */
CO_EXPORT int co_sem_new_bounded(co_sem_t **ret_sem, unsigned value);
CO_EXPORT co_sem_t *co_sem_free(co_sem_t *sem);
/* From a task: takes one permit, waiting while there is none. */
CO_EXPORT int co_sem_acquire(co_sem_t *sem, co_usec_t deadline);
/* 0, or -EAGAIN if no permit is free. */
CO_EXPORT int co_sem_try_acquire(co_sem_t *sem);
/* Gives one permit back, straight to the first waiter if there is one.
 * Callable from loop callbacks too. -EOVERFLOW past the bound (or UINT_MAX). */
CO_EXPORT int co_sem_release(co_sem_t *sem);
/* Free permits. */
CO_EXPORT unsigned co_sem_get_value(const co_sem_t *sem);

/* ---- queue (asyncio.Queue) ------------------------------------------------- */

/* A FIFO of void * items (NULL is a valid item). */
typedef struct co_queue co_queue_t;
/* Disposes of an item the queue drops (immediate shutdown, free). It runs
 * from inside the queue: it must not call the queue nor suspend. */
typedef void (*co_queue_drop_fn_t)(void *item, void *userdata);

/* capacity 0: unbounded. */
CO_EXPORT int co_queue_new(co_queue_t **ret_queue, size_t capacity);
CO_EXPORT int co_queue_set_drop(co_queue_t *queue, co_queue_drop_fn_t fn, void *userdata);
/* Items still queued go to the drop function, if any. */
CO_EXPORT co_queue_t *co_queue_free(co_queue_t *queue);
/* From a task: appends item, waiting while the queue is full. -ESHUTDOWN
 * once the queue is shut down (also for a put blocked by then: the item
 * stays the caller's). */
CO_EXPORT int co_queue_put(co_queue_t *queue, void *item, co_usec_t deadline);
/* 0, -EAGAIN if full, -ESHUTDOWN. Callable from loop callbacks too. */
CO_EXPORT int co_queue_try_put(co_queue_t *queue, void *item);
/* From a task: takes the oldest item, waiting while the queue is empty.
 * -ESHUTDOWN once the queue is shut down and empty. */
CO_EXPORT int co_queue_get(co_queue_t *queue, void **ret_item, co_usec_t deadline);
/* 0, -EAGAIN if empty, -ESHUTDOWN if shut down and empty. */
CO_EXPORT int co_queue_try_get(co_queue_t *queue, void **ret_item);
CO_EXPORT size_t co_queue_get_size(const co_queue_t *queue);
/* 0: unbounded. */
CO_EXPORT size_t co_queue_get_capacity(const co_queue_t *queue);
/* Python 3.13's Queue.shutdown: puts fail with -ESHUTDOWN from now on, and
 * blocked putters and getters are woken with it; gets drain what is left.
 * With immediate, what is left is dropped at once (to the drop function),
 * each dropped item counting as done for co_queue_join. Idempotent. */
CO_EXPORT int co_queue_shutdown(co_queue_t *queue, bool immediate);
CO_EXPORT bool co_queue_is_shutdown(const co_queue_t *queue);
/* Marks one item taken by a get as processed. -EINVAL if more calls than
 * items put (asyncio's ValueError). */
CO_EXPORT int co_queue_task_done(co_queue_t *queue);
/* From a task: waits until every item put has been marked done. */
CO_EXPORT int co_queue_join(co_queue_t *queue, co_usec_t deadline);

#ifdef __cplusplus
}
#endif

#endif
