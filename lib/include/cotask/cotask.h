/* SPDX-License-Identifier: MIT */
#ifndef COTASK_COTASK_H
#define COTASK_COTASK_H

/*
 * libcotask: asyncio-style stackful coroutine tasks on a libevent loop.
 *
 * Conventions (as in systemd's sd-event): object then verb, out-parameters
 * named ret_*, errors as negative errno values, NULL only from allocators.
 * Every call that suspends the current task returns -ECANCELED once the task
 * has been cancelled, and keeps returning it until the task ends
 * (level-triggered cancellation), unless the task is inside a shield.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  define CO_EXPORT __attribute__((visibility("default")))
#  define CO_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define CO_EXPORT
#  define CO_PRINTF(a, b)
#endif

/* ---- time ------------------------------------------------------------ */

/* Microseconds on CLOCK_MONOTONIC. Deadlines are absolute. */
typedef uint64_t co_usec_t;
#define CO_USEC_INFINITY ((co_usec_t) UINT64_MAX)
#define CO_USEC_PER_MSEC ((co_usec_t) 1000ULL)
#define CO_USEC_PER_SEC  ((co_usec_t) 1000000ULL)

CO_EXPORT co_usec_t co_now(void);
/* now + usec, saturating at CO_USEC_INFINITY. */
CO_EXPORT co_usec_t co_deadline_after(co_usec_t usec);

/* ---- loop ------------------------------------------------------------ */

typedef struct co_loop co_loop_t;
typedef struct co_task co_task_t;

/* A loop owns one libevent event_base (precise timers) and runs on the
 * thread that created it. */
CO_EXPORT int co_loop_new(co_loop_t **ret_loop);
typedef struct co_loop_opts {
        /* Host the loop on the application's event_base: co_loop_run then
         * dispatches the application's own events beside the tasks. The
         * base stays the application's. (Its timer precision is its own:
         * cotask asks for EVENT_BASE_FLAG_PRECISE_TIMER on bases it makes.) */
        struct event_base *base;
        /* Or make a base with this libevent backend: "epoll", "poll",
         * "select" (-ENOTSUP if this libevent has not got it). */
        const char *backend;
} co_loop_opts_t;

CO_EXPORT int co_loop_new_with(co_loop_t **ret_loop, const co_loop_opts_t *opts);
CO_EXPORT const char *co_loop_get_backend(co_loop_t *loop);

/* Runs until no task is left alive (or co_loop_stop). Must not be called
 * from a task. Returns 0, or a negative errno from the event base. */
CO_EXPORT int co_loop_run(co_loop_t *loop);
/* Like co_loop_run, but returns -ETIMEDOUT at the absolute deadline if
 * tasks are still alive. */
CO_EXPORT int co_loop_run_until(co_loop_t *loop, co_usec_t deadline);
/* Makes co_loop_run return after the current scheduling round (at once
 * if called before it). */
CO_EXPORT void co_loop_stop(co_loop_t *loop);
/* Cancels and runs every remaining task to its end, then frees. NULL-safe;
 * returns NULL. */
CO_EXPORT co_loop_t *co_loop_free(co_loop_t *loop);
CO_EXPORT struct event_base *co_loop_get_event_base(co_loop_t *loop);
/* The loop of the calling thread's running task, or NULL outside a task. */
CO_EXPORT co_loop_t *co_loop_current(void);
/* Debug mode (asyncio's set_debug), off by default, or on for every loop
 * when $COTASK_DEBUG is set: warns, naming the task, when one runs longer
 * than the slow threshold (default 100 ms) without suspending, and when a
 * cancelled task is still running past its grace period. */
CO_EXPORT int co_loop_set_debug(co_loop_t *loop, bool enabled);
CO_EXPORT void co_loop_set_slow_threshold(co_loop_t *loop, co_usec_t usec);

/* Number of tasks spawned and not yet finished. */
CO_EXPORT size_t co_loop_get_n_tasks(co_loop_t *loop);
/* Gives back now the memory of the stacks of tasks that have ended (all
 * but a spare arena of each stack size), as the loop does by itself
 * whenever it is about to sleep: for a task that has just seen many tasks
 * end and knows the loop will stay busy for a while. From the loop's
 * thread. Returns 0, or -EINVAL for NULL. */
CO_EXPORT int co_loop_trim(co_loop_t *loop);

/* ---- tasks ----------------------------------------------------------- */

/* A task body returns >= 0 on success (its result value, unless
 * co_task_set_result() set a pointer result) or a negative errno. */
typedef int (*co_task_fn_t)(void *arg);

enum {
        /* Hang the task off the loop's root instead of the spawning task:
         * its parent's end neither cancels nor waits for it. */
        CO_TASK_DETACHED = 1u << 0,
};

/* Default usable stack (bytes) when co_task_opts_t.stack_size is 0. */
#define CO_STACK_SIZE_DEFAULT ((size_t) 64 * 1024)
/* Default grace period of cleanups (CO_FINALLY, co_defer). */
#define CO_GRACE_DEFAULT_USEC (5 * CO_USEC_PER_SEC)

typedef struct co_task_opts {
        size_t stack_size;      /* usable bytes; 0 = CO_STACK_SIZE_DEFAULT */
        co_usec_t grace_usec;   /* 0 = CO_GRACE_DEFAULT_USEC */
        unsigned flags;         /* CO_TASK_* */
} co_task_opts_t;

typedef enum co_task_state {
        CO_TASK_READY,          /* queued to run (or not yet started) */
        CO_TASK_RUNNING,
        CO_TASK_SUSPENDED,      /* waiting; see co_task_get_wait() */
        CO_TASK_DONE,
} co_task_state_t;

typedef enum co_outcome_kind {
        CO_OUTCOME_RESULT,      /* body returned >= 0 */
        CO_OUTCOME_ERROR,       /* body returned a negative errno */
        CO_OUTCOME_CANCELLED,   /* body returned -ECANCELED, or never ran */
} co_outcome_kind_t;

typedef struct co_outcome {
        co_outcome_kind_t kind;
        int value;              /* RESULT: the return value; else negative errno */
        void *result;           /* RESULT: pointer set by co_task_set_result() */
        /* ERROR: message from co_task_set_error(), or NULL; CANCELLED: the
         * cancellation reason. Valid while the caller holds the task. */
        const char *message;
} co_outcome_t;

/* Spawns a task on the current task's loop. The name is copied. Unless
 * detached, the task is a child of the current task. When ret_task is
 * non-NULL the caller owns one reference (co_task_unref). */
CO_EXPORT int co_spawn(co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg);
CO_EXPORT int co_spawn_with(co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg,
                            const co_task_opts_t *opts);
/* Spawns a top-level task from outside any task (e.g. before co_loop_run). */
CO_EXPORT int co_loop_spawn(co_loop_t *loop, co_task_t **ret_task, const char *name,
                            co_task_fn_t fn, void *arg, const co_task_opts_t *opts);

CO_EXPORT co_task_t *co_task_ref(co_task_t *task);
/* Drops a reference; NULL-safe, returns NULL. A task keeps running when the
 * last user reference goes; its memory goes when it has also finished. */
CO_EXPORT co_task_t *co_task_unref(co_task_t *task);

/* Waits until the task is done and fills ret_outcome (may be NULL).
 * Returns 0, -ECANCELED if the caller is cancelled (even if the task is
 * done: use co_task_get_outcome, or a shield, in cleanup code; the task
 * itself is not cancelled by that), -EDEADLK when joining oneself or an
 * ancestor. */
CO_EXPORT int co_task_join(co_task_t *task, co_outcome_t *ret_outcome);
/* Like co_task_join but gives up at an absolute deadline with -ETIMEDOUT. */
CO_EXPORT int co_task_join_until(co_task_t *task, co_usec_t deadline, co_outcome_t *ret_outcome);
/* The outcome of a finished task without waiting: 0, or -EBUSY if not done. */
CO_EXPORT int co_task_get_outcome(co_task_t *task, co_outcome_t *ret_outcome);

/* Requests cancellation: idempotent; the first reason wins (copied; may be
 * NULL). Reaches every non-detached descendant. A task cancelled before it
 * first runs never runs its body. */
CO_EXPORT void co_task_cancel(co_task_t *task, const char *reason);
CO_EXPORT bool co_task_is_cancelled(const co_task_t *task);
CO_EXPORT const char *co_task_get_cancel_reason(const co_task_t *task);

CO_EXPORT co_task_t *co_task_current(void);
CO_EXPORT const char *co_task_get_name(const co_task_t *task);
CO_EXPORT co_task_state_t co_task_get_state(const co_task_t *task);
/* What a suspended task waits on ("sleep", "fd 5 readable", "join 'x'"),
 * or NULL. The text stays valid until the next call for a task of the same
 * loop. */
CO_EXPORT const char *co_task_get_wait(const co_task_t *task);
/* The usable stack size in bytes (the size asked for, until it runs). */
CO_EXPORT size_t co_task_get_stack_size(const co_task_t *task);
CO_EXPORT co_task_t *co_task_get_parent(const co_task_t *task);
CO_EXPORT const char *co_task_state_to_string(co_task_state_t state);
/* asyncio's repr: "<Task pending name='x' wait=sleep>", "<Task finished
 * name='x' result=42>", "<Task cancelled ...>", "<Task finished ...
 * error=...>". Returns the length it needed, like snprintf. */
CO_EXPORT int co_task_format(co_task_t *task, char *buf, size_t size);

/* From inside the running task: a pointer result for its outcome, and an
 * error message (formatted, copied) to go with a negative return value. */
CO_EXPORT void co_task_set_result(void *result);
CO_EXPORT void co_task_set_error(const char *fmt, ...) CO_PRINTF(1, 2);

typedef void (*co_task_done_fn_t)(co_task_t *task, void *userdata);
/* Called once when the task is done (at once if it already is). Runs on the
 * loop, not in a task: it must not suspend. */
CO_EXPORT int co_task_add_done_callback(co_task_t *task, co_task_done_fn_t fn, void *userdata);

/* Removes the first callback registered with fn and userdata: 0, or
 * -ENOENT (already run, or never added). */
CO_EXPORT int co_task_remove_done_callback(co_task_t *task, co_task_done_fn_t fn, void *userdata);
/* Moves a task out of its parent's tree to the loop's root: the parent's
 * cancellation and end no longer reach it (asyncio.shield's half). */
CO_EXPORT int co_task_detach(co_task_t *task);

typedef int (*co_task_visit_fn_t)(co_task_t *task, unsigned depth, void *userdata);
/* Visits every unfinished task of the loop, depth first, parents before
 * children. A negative return from fn stops the walk and is returned. */
CO_EXPORT int co_loop_foreach_task(co_loop_t *loop, co_task_visit_fn_t fn, void *userdata);

/* ---- run ------------------------------------------------------------- */

typedef struct co_run_opts {
        /* For everything after the main task: the tasks left, the async
         * generators, the thread pool. 0 = 5 s. */
        co_usec_t shutdown_timeout;
        bool no_signals;        /* leave SIGINT alone */
        bool debug;             /* co_loop_set_debug */
} co_run_opts_t;

/*
 * asyncio.run: runs main_fn as the main task of a new loop until it ends;
 * then cancels every task left and waits for them (cancelling again those
 * that spawn more), closes the unfinished async generators one at a time,
 * shuts the default thread pool down, and frees the loop; all of that
 * under one shutdown deadline. A SIGINT cancels the main task (reason
 * "SIGINT"); a second one stops waiting. Returns 0 with main's outcome
 * (message NULL: it died with the task); -ETIMEDOUT or, after a second
 * SIGINT, -EINTR if tasks were still running: they are named in the log
 * and left to the process's exit.
 */
CO_EXPORT int co_run(co_task_fn_t main_fn, void *arg, const co_run_opts_t *opts, co_outcome_t *ret_outcome);

/* ---- suspending calls (from a task) ---------------------------------- */

CO_EXPORT int co_sleep(co_usec_t usec);
CO_EXPORT int co_sleep_until(co_usec_t deadline);
/* Lets every other ready task run once. */
CO_EXPORT int co_task_yield(void);

enum {
        CO_FD_READABLE = 1u << 0,
        CO_FD_WRITABLE = 1u << 1,
};
/* Waits until fd is readable and/or writable or the absolute deadline
 * passes (-ETIMEDOUT). Returns the CO_FD_* bits that are ready. */
CO_EXPORT int co_fd_wait(int fd, unsigned events, co_usec_t deadline);

/* ---- cancel scopes and shields ------------------------------------------ */

/*
 * A cancel scope is a region of one task's code (Trio's CancelScope). It can
 * be cancelled, explicitly or by its absolute deadline; then every
 * suspending call inside it returns -ECANCELED until the code leaves it.
 * The scope that caused a cancellation is the one that catches it:
 * co_scope_end returns 0 ("move on after"), or -ETIMEDOUT for a CO_SCOPE_FAIL
 * scope cancelled by its deadline ("fail after"). A cancellation from
 * outside the scope (the task's, or an enclosing scope's) is not caught:
 * co_scope_end returns -ECANCELED and the unwinding goes on.
 *
 * A CO_SCOPE_SHIELD scope keeps every cancellation from outside it away
 * from the code inside, until its own deadline or co_scope_cancel.
 * Scopes live on the stack, nest, and must be ended in LIFO order.
 */
enum {
        CO_SCOPE_SHIELD = 1u << 0,
        CO_SCOPE_FAIL = 1u << 1,
};

typedef struct co_scope {
        co_usec_t deadline;
        unsigned flags;
        bool cancelled;         /* by co_scope_cancel or the deadline */
        bool caught;            /* ended having caught its own cancellation */
        struct co_scope *outer;
        co_task_t *task;
} co_scope_t;

CO_EXPORT void co_scope_begin(co_scope_t *scope, co_usec_t deadline, unsigned flags);
CO_EXPORT int co_scope_end(co_scope_t *scope);
/* Callable from any task of the loop, or a callback; idempotent. */
CO_EXPORT void co_scope_cancel(co_scope_t *scope);

/*
 * A shield, the form cleanups use: cancellation does not interrupt
 * suspending calls inside it, but its absolute deadline does: once it has
 * passed they return -ETIMEDOUT at once. The earliest deadline of nested
 * shields binds.
 */
typedef co_scope_t co_shield_t;

CO_EXPORT void co_shield_begin(co_shield_t *shield, co_usec_t deadline);
CO_EXPORT void co_shield_end(co_shield_t *shield);

/* ---- deferred cleanups, try/finally -------------------------------------- */

typedef void (*co_cleanup_fn_t)(void *arg);
/* Registers a cleanup on the current task. Cleanups run in reverse order of
 * registration when the task's body has returned (after its children have
 * ended), each exactly once, inside a shield whose deadline is the task's
 * grace period from the start of its cleanup; so they may await. */
CO_EXPORT int co_defer(co_cleanup_fn_t fn, void *arg);

/*
 * try/finally for straight-line C:
 *
 *     int r;
 *     CO_TRY {
 *             r = co_sleep(CO_USEC_PER_SEC);
 *             if (r < 0)
 *                     CO_LEAVE;              // jump to the finally block
 *     } CO_FINALLY {
 *             close_politely(conn);          // may await: it is shielded
 *     } CO_END_TRY;
 *     return r;
 *
 * The finally block runs exactly once on every path out of the try block
 * that goes through its end or CO_LEAVE (do not `return` or `break` out of
 * the try block itself), inside a shield whose deadline is the task's grace
 * period. Blocks nest, in one function or across calls: CO_LEAVE reaches the
 * innermost finally; propagate an error outwards with `if (r < 0) CO_LEAVE;`
 * after CO_END_TRY, or by returning it.
 */
#define CO_TRY                                                          \
        {                                                               \
                __label__ co__finally_label;                            \
                {
#define CO_LEAVE goto co__finally_label
#define CO_FINALLY                                                      \
                }                                                       \
        co__finally_label: __attribute__((unused));                                           \
                co_shield_t co__finally_shield;                         \
                co_shield_begin(&co__finally_shield, co_task_grace_deadline()); \
                {
#define CO_END_TRY                                                      \
                }                                                       \
                co_shield_end(&co__finally_shield);                     \
        }

/* now + the current task's grace period. */
CO_EXPORT co_usec_t co_task_grace_deadline(void);

/* ---- logging --------------------------------------------------------- */

/* Levels are syslog priorities. */
typedef enum co_log_level {
        CO_LOG_ERR = 3,
        CO_LOG_WARNING = 4,
        CO_LOG_NOTICE = 5,
        CO_LOG_INFO = 6,
        CO_LOG_DEBUG = 7,
} co_log_level_t;

typedef struct co_log_field {
        const char *key;        /* lower-case identifier, e.g. "error" */
        const char *value;
} co_log_field_t;

typedef struct co_log_record {
        co_log_level_t level;
        const char *message;
        /* The task the record is about: a "task" field's value if given,
         * else the task that logged, or NULL. */
        const char *task;
        const char *file;
        unsigned line;
        const char *func;
        const co_log_field_t *fields;
        size_t n_fields;
        co_usec_t realtime;     /* CLOCK_REALTIME, microseconds */
} co_log_record_t;

typedef void (*co_log_sink_fn_t)(const co_log_record_t *record, void *userdata);

/* Replaces the process-wide sink (NULL: the default, logfmt on stderr). */
CO_EXPORT void co_log_set_sink(co_log_sink_fn_t fn, void *userdata);
/* Records above this level are dropped before formatting. Default INFO. */
CO_EXPORT void co_log_set_max_level(co_log_level_t level);
CO_EXPORT co_log_level_t co_log_get_max_level(void);
CO_EXPORT const char *co_log_level_to_string(co_log_level_t level);

CO_EXPORT void co_log_full(co_log_level_t level, const char *file, unsigned line, const char *func,
                           const co_log_field_t *fields, size_t n_fields, const char *fmt, ...)
        CO_PRINTF(7, 8);
CO_EXPORT void co_log_fullv(co_log_level_t level, const char *file, unsigned line, const char *func,
                            const co_log_field_t *fields, size_t n_fields, const char *fmt, va_list ap)
        CO_PRINTF(7, 0);

#define co_log(level, ...) co_log_full((level), __FILE__, __LINE__, __func__, NULL, 0, __VA_ARGS__)
#define co_log_fields(level, fields, n, ...) \
        co_log_full((level), __FILE__, __LINE__, __func__, (fields), (n), __VA_ARGS__)

#ifdef __cplusplus
}
#endif

#include <cotask/future.h>
#include <cotask/combine.h>
#include <cotask/io.h>
#include <cotask/sync.h>
#include <cotask/pool.h>
#include <cotask/gen.h>

#endif
