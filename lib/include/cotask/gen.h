/* SPDX-License-Identifier: MIT */
#ifndef COTASK_GEN_H
#define COTASK_GEN_H

/* Async generators. Included by <cotask/cotask.h>; do not include directly. */

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An async generator (asyncio's `async def` with `yield`) is a task that
 * hands values to one consumer, one at a time, and may await between them:
 *
 *     static int ticker(co_gen_t *gen, void *arg) {
 *             for (int i = 0; i < 3; i++) {
 *                     int r = co_gen_yield(gen, &i);  // -ECANCELED once closed
 *                     if (r < 0)
 *                             return r;
 *                     r = co_sleep(CO_USEC_PER_SEC);
 *                     if (r < 0)
 *                             return r;
 *             }
 *             return 0;                               // end of the stream
 *     }
 *
 *     co_gen_new(&gen, "ticker", ticker, NULL);
 *     while ((r = co_gen_next(gen, &value)) > 0)
 *             use(*(int *) value);                    // r: 0 at the end, < 0 an error
 *     co_gen_close(gen);
 *     co_gen_unref(gen);
 *
 * The generator's task is a child of the task that created it, so the
 * creator's cancellation reaches it and the creator's end closes it (its
 * cleanups run) and waits for it: a generator is never leaked by a consumer
 * that returns or fails without closing it. It does not run ahead: its body
 * starts at the first co_gen_next and runs only while a value is asked for.
 *
 * Values are lent pointers: one stays valid until the consumer's following
 * co_gen_next or co_gen_close (the generator is suspended in co_gen_yield
 * until then, so a pointer into its stack frame is fine).
 *
 * Ownership: co_gen_new gives the caller a reference. The struct lives as
 * long as a reference or the generator's task does. Dropping the last
 * reference of an unfinished generator closes it without waiting (its
 * cleanups run on the loop; its creator's end waits for them).
 */
typedef struct co_gen co_gen_t;

/* A generator body. It returns like a task body: >= 0 ends the stream, a
 * negative errno is its error, which co_gen_next and co_gen_close return.
 * co_task_set_error() attaches a message (see co_gen_get_task). */
typedef int (*co_gen_fn_t)(co_gen_t *gen, void *arg);

/* From a task: a generator named name (copied) running fn(gen, arg) in a
 * child task of the caller. opts as for co_spawn_with (stack size, grace
 * period of its cleanups; CO_TASK_DETACHED hangs it off the loop's root, so
 * only co_gen_close, the last co_gen_unref or co_loop_shutdown_generators
 * ends it). -EPERM outside a task. */
CO_EXPORT int co_gen_new(co_gen_t **ret_gen, const char *name, co_gen_fn_t fn, void *arg);
CO_EXPORT int co_gen_new_with(co_gen_t **ret_gen, const char *name, co_gen_fn_t fn, void *arg,
                              const co_task_opts_t *opts);
CO_EXPORT co_gen_t *co_gen_ref(co_gen_t *gen);
/* NULL-safe; returns NULL. See "Ownership" above. */
CO_EXPORT co_gen_t *co_gen_unref(co_gen_t *gen);

/* In the generator body: hands value to the consumer and suspends until
 * the consumer asks for the next one; returns 0. Returns -ECANCELED, now
 * and from every later suspending call, once the generator is being closed
 * or cancelled: the body should return, and its CO_FINALLY blocks and
 * co_defer cleanups run (shielded, under its grace period; they may await).
 * -EPERM from any other task. */
CO_EXPORT int co_gen_yield(co_gen_t *gen, void *value);

/* In the consumer: starts or resumes the generator and waits for its next
 * value. Returns 1 and the value; 0 at the end of the stream (the body
 * returned >= 0, or the generator was closed), and after it; the
 * generator's negative error, and after it; -EBUSY while another task waits
 * in co_gen_next on it; -EDEADLK from the generator itself.
 *
 * If the consumer is cancelled, it returns -ECANCELED at once (a value the
 * generator already handed over is still returned first). The request it
 * made stays: a value yielded later is kept for the next call. The
 * generator itself is not cancelled by this call; but when the consumer is
 * its creator, the same cancellation reaches it as a child task: its
 * pending or next suspending call fails, its cleanups run once, and the
 * consumer's end waits for them. */
CO_EXPORT int co_gen_next(co_gen_t *gen, void **ret_value);
/* Gives up at the absolute deadline with -ETIMEDOUT; the request stays, so
 * the value is not lost: the next call returns it. */
CO_EXPORT int co_gen_next_until(co_gen_t *gen, co_usec_t deadline, void **ret_value);

/* asyncio's aclose: ends the generator and waits until it has finished.
 * Not started: its body never runs. Suspended in co_gen_yield (or awaiting
 * anything else): that call returns -ECANCELED, and so does every later
 * suspending call of the body, so that it unwinds through its cleanups.
 * A value handed over but not yet taken is dropped; a consumer waiting in
 * co_gen_next gets 0. Returns 0 when the generator ended normally or by the
 * close, or its error (every time: idempotent). Like co_task_join, a
 * cancelled caller gets -ECANCELED at once (the close goes on; call it from
 * CO_FINALLY or co_defer to wait for it), and a shield's deadline
 * -ETIMEDOUT. -EDEADLK from the generator or a task it started; -EPERM
 * outside a task unless the generator has already finished. */
CO_EXPORT int co_gen_close(co_gen_t *gen);

/* Whether the generator's task has ended (after its cleanups). */
CO_EXPORT bool co_gen_is_finished(const co_gen_t *gen);
/* The generator's task (borrowed: valid while gen is held): its name,
 * state and wait in listings, its outcome once finished. */
CO_EXPORT co_task_t *co_gen_get_task(const co_gen_t *gen);
CO_EXPORT const char *co_gen_get_name(const co_gen_t *gen);

/* Generators of the loop whose task has not ended yet. */
CO_EXPORT size_t co_loop_get_n_generators(co_loop_t *loop);

/*
 * asyncio's shutdown_asyncgens: closes every unfinished generator of the
 * loop, one at a time, inside a shield (the caller's cancellation does not
 * interrupt it) whose absolute deadline bounds the whole sweep. Returns 0,
 * or -ETIMEDOUT when some were still closing at the deadline: each of those
 * is named in an err-level log record (field "generator") and goes on
 * closing on the loop. A generator's error outcome is logged, not returned.
 *
 * From a task of the loop it works in place. From outside any task, with
 * the loop not running (e.g. after co_loop_run returned), it runs the loop
 * itself until the sweep is done: other ready tasks run meanwhile too, and
 * any left alive are still there afterwards. -EBUSY from a callback of the
 * running loop, -EXDEV from a task of another loop.
 */
CO_EXPORT int co_loop_shutdown_generators(co_loop_t *loop, co_usec_t deadline);

#ifdef __cplusplus
}
#endif

#endif
