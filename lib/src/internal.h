/* SPDX-License-Identifier: MIT */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cotask/cotask.h"
#include "fiber.h"
#include "stack.h"

#define CO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CO__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* co_shield_begin's scopes: their deadline fails calls with -ETIMEDOUT
 * rather than cancelling. */
#define CO__SCOPE_GRACE (1u << 31)

/* Longer names are cut: they only label logs and listings. */
#define CO__NAME_MAX 127

/* The scheduler polls I/O and timers at least every this many resumes, or
 * this often, even when tasks are always ready. */
#define CO__POLL_EVERY_RESUMES 256u
#define CO__POLL_EVERY_USEC (2 * CO_USEC_PER_MSEC)

typedef enum co__wait_kind {
        CO__WAIT_NONE,
        CO__WAIT_SLEEP,
        CO__WAIT_FD,
        CO__WAIT_JOIN,
        CO__WAIT_CHILDREN,
        CO__WAIT_LABEL,         /* wait_label says what */
} co__wait_kind_t;

/* A cancellation reason, shared by every task of a cancelled subtree. */
typedef struct co__reason {
        unsigned refs;
        char text[];
} co__reason_t;

typedef struct co__waiter {
        co_task_t *task;
        struct co__waiter *next;
} co__waiter_t;

typedef struct co__cleanup {
        co_cleanup_fn_t fn;
        void *arg;
        struct co__cleanup *next;
} co__cleanup_t;

typedef struct co__done_cb {
        co_task_done_fn_t fn;
        void *userdata;
        struct co__done_cb *next;
} co__done_cb_t;

/* The task, allocated on its own; its stack is taken from the pool when it
 * first runs and given back as soon as it ends, so a stack freed by one
 * task is still in the cache when the next one starts on it. Fields used on
 * every switch come first. */
struct co_task {
        co__fiber_t fiber;
        co_loop_t *loop;
        co_task_t *ready_next;
        co_scope_t *scope;              /* innermost cancel scope or shield */
        co_task_state_t state;
        int wake_result;
        unsigned refs;
        bool started;
        bool cancelled;
        bool detached;
        bool retrieved;         /* somebody read the outcome */
        bool joined_live;       /* a joiner was waiting when it ended */
        bool overdue_reported;  /* debug: past its grace after cancellation */
        co__wait_kind_t wait_kind;
        co_task_fn_t fn;
        void *arg;
        size_t heap_index;      /* SIZE_MAX: no timer armed */
        co_usec_t grace;

        /* The task tree: unfinished children, in spawn order. */
        co_task_t *parent;
        co_task_t *first_child;
        co_task_t *last_child;
        co_task_t *prev_sibling;
        co_task_t *next_sibling;

        co_outcome_kind_t outcome_kind;
        int outcome_value;
        void *result;
        char *error_message;

        co__reason_t *cancel_reason;
        co_usec_t cancelled_at;         /* debug mode only */
        co__waiter_t *joiners;
        co__cleanup_t *cleanups;
        co__done_cb_t *done_cbs;

        /* What the current suspension waits on, for listings. */
        int wait_fd;
        unsigned wait_events;
        co_task_t *wait_task;
        const char *wait_label;

        co__slot_t slot;        /* base NULL while it has no stack */
        size_t stack_size;      /* usable bytes, asked for at spawn */
        char name[];
};

/* One armed deadline. Deadlines live in the heap array itself, so that
 * ordering it never touches the (scattered) tasks. */
typedef struct co__timer {
        co_usec_t deadline;
        uint64_t seq;           /* equal deadlines fire in arming order */
        co_task_t *task;        /* NULL: disarmed, waiting to be dropped */
} co__timer_t;

/* A task waiting in a wait queue; lives on the waiting task's stack. */
typedef struct co__wnode {
        co_task_t *task;
        struct co__wnode *prev;
        struct co__wnode *next;
        bool linked;
        void *value;            /* handed over by the waker, if it likes */
} co__wnode_t;

/* FIFO of waiting tasks: the building block of futures and of the
 * synchronisation primitives. Loop thread only. */
typedef struct co__waitq {
        co__wnode_t *head;
        co__wnode_t *tail;
} co__waitq_t;

/* A function to run on a loop's thread, handed over from any thread. */
typedef struct co__post {
        void (*fn)(void *arg);
        void *arg;
        struct co__post *next;
} co__post_t;

struct co_loop {
        struct event_base *base;
        bool shared_base;               /* the application's: not ours to free */
        struct event *timer_event;
        co_usec_t timer_armed;          /* deadline timer_event is set for */
        co__fiber_t sched;
        co_task_t *current;
        co_task_t *ready_head;
        co_task_t *ready_tail;

        co__timer_t *heap;              /* min-heap of armed deadlines */
        size_t heap_n;
        size_t heap_cap;
        size_t heap_dead;               /* disarmed entries still in it */
        uint64_t heap_seq;
        char wait_text[96];             /* co_task_get_wait's answer */

        /* Top-level tasks (no parent), unfinished, in spawn order. */
        co_task_t *first_root;
        co_task_t *last_root;
        size_t n_tasks;
        size_t n_fd_waits;

        unsigned resumes;               /* since the last poll */
        co_usec_t poll_due;             /* coarse clock */
        co_task_t *zombie;              /* ended; released off its stack */

        /* Posts from other threads: a mutex-guarded list and an eventfd
         * that wakes the loop. */
        pthread_t thread;
        pthread_mutex_t post_lock;
        bool post_lock_ready;
        co__post_t *post_head;
        co__post_t *post_tail;
        _Atomic bool posted;
        int post_fd;
        struct event *post_event;
        co__reason_t *last_reason;

        /* Debug mode (co_loop_set_debug): slow resumes and cancelled tasks
         * that outlive their grace period are named in the log. */
        bool debug;
        co_usec_t slow_usec;
        co_usec_t resumed_at;
        struct event *debug_timer;

        co_pool_t *default_pool;        /* co_to_thread's, made on first use */
        co_gen_t *first_gen;            /* live async generators (gen.c) */
        bool stop;
        bool running;
        co__stacks_t stacks;
};

extern __thread co_loop_t *co__loop_tls __attribute__((tls_model("initial-exec")));

/* loop.c: the scheduler */
void co__ready(co_loop_t *l, co_task_t *t);
void co__wake(co_task_t *t, int result);
/* Suspends the running task until woken or the deadline (capped by its
 * shield's) passes (-ETIMEDOUT). Honours cancellation. */
int co__suspend(co_task_t *self, co_usec_t deadline);
/* Switches away from a task that has ended, for good; whoever runs next
 * releases it (co__reap_zombie). */
_Noreturn void co__exit(co_task_t *self);
co_usec_t co__now_coarse(void);

/* Runs p->fn(p->arg) on the loop's thread soon; callable from any
 * thread. p must stay valid until then. */
void co__loop_post(co_loop_t *l, co__post_t *p);
bool co__loop_is_own_thread(const co_loop_t *l);

/* waitq.c */
static inline bool co__waitq_empty(const co__waitq_t *q) {
        return !q->head;
}
/* Suspends the running task in q until a waker picks it (returns the
 * waker's result), the deadline passes (-ETIMEDOUT) or it is cancelled
 * (-ECANCELED). Whatever happens, it has left q when this returns. */
int co__waitq_wait(co__waitq_t *q, co__wnode_t *node, const char *label, co_usec_t deadline);
/* Takes the first waiter out of q and wakes it with result; returns its
 * node (to hand it a value) or NULL if q is empty. */
co__wnode_t *co__waitq_wake_one(co__waitq_t *q, int result);
/* Takes every waiter out of q, waking with result those not already woken
 * (by a deadline or a cancellation); returns how many left q. */
unsigned co__waitq_wake_all(co__waitq_t *q, int result);
/* For waits of their own kind (fds): a node, its task set, into q / out. */
void co__waitq_link(co__waitq_t *q, co__wnode_t *n);
void co__waitq_unlink(co__waitq_t *q, co__wnode_t *n);

/* task.c */
int co__task_start(co_task_t *t);
void co__task_release(co_task_t *t);
void co__reason_unref(co__reason_t *r);
void co__task_end_unstarted(co_task_t *t, int r);
void co__task_entry(void *arg);
/* 0 if t may suspend, with *ret_deadline the earliest deadline of its
 * scopes; else why not: -ECANCELED, or -ETIMEDOUT past a shield's
 * deadline. */
int co__scope_check(co_task_t *t, co_usec_t *ret_deadline);
/* What a suspending call that need not suspend still checks: 0, or why
 * the task must not go on (-ECANCELED, -ETIMEDOUT past a shield). */
static inline int co__checkpoint(co_task_t *t) {
        co_usec_t ignored;

        if (!t)
                return 0;
        if (!t->scope)
                return t->cancelled ? -ECANCELED : 0;
        return co__scope_check(t, &ignored);
}
/* The same for a call that may have to wait: -EPERM outside a task. */
static inline int co__may_wait(co_task_t *t) {
        return t ? co__checkpoint(t) : -EPERM;
}
/* A deadline already passed fails a call that would wait, without a trip
 * through the timer heap and the scheduler. */
static inline bool co__deadline_passed(co_usec_t deadline) {
        return deadline != CO_USEC_INFINITY && co_now() >= deadline;
}
/* Whether a cancellation of the task itself reaches its current code. */
bool co__task_cancel_applies(const co_task_t *t);

/* debug.c */
void co__debug_slow_resume(co_loop_t *l, co_task_t *t);

/* overflow.c */
void co__overflow_handler_install(void);
_Noreturn void co__overflow_abort(const co_task_t *t, const char *how);

/* Called wherever a context resumes: the task that ended just before
 * could not give its own stack back. */
static inline void co__reap_zombie(co_loop_t *l) {
        co_task_t *z = l->zombie;

        if (z) {
                l->zombie = NULL;
                co__task_release(z);
        }
}

static inline co_task_t *co__current(void) {
        co_loop_t *l = co__loop_tls;

        return l ? l->current : NULL;
}
