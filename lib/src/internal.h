/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cotask/cotask.h"
#include "fiber.h"
#include "stack.h"

#define CO__LIKELY(x) __builtin_expect(!!(x), 1)
#define CO__UNLIKELY(x) __builtin_expect(!!(x), 0)

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

/* Lives at the top of its own stack slot, name right after it: a parked
 * task costs one page of RSS. */
struct co_task {
        co__fiber_t fiber;
        co_loop_t *loop;
        co_task_fn_t fn;
        void *arg;

        /* The task tree: unfinished children, in spawn order. */
        co_task_t *parent;
        co_task_t *first_child;
        co_task_t *last_child;
        co_task_t *prev_sibling;
        co_task_t *next_sibling;

        co_task_t *ready_next;
        unsigned refs;
        co_task_state_t state;
        bool started;
        bool cancelled;
        bool detached;
        bool retrieved;         /* somebody read the outcome */
        bool joined_live;       /* a joiner was waiting when it ended */

        /* The current suspension. */
        co__wait_kind_t wait_kind;
        int wait_fd;
        unsigned wait_events;
        co_task_t *wait_task;
        int wake_result;
        co_usec_t deadline;
        uint64_t deadline_seq;  /* equal deadlines fire in arming order */
        size_t heap_index;      /* SIZE_MAX: not in the timer heap */
        co_shield_t *shield;

        co__reason_t *cancel_reason;
        co__waiter_t *joiners;
        co__cleanup_t *cleanups;
        co__done_cb_t *done_cbs;
        co_usec_t grace;

        co_outcome_kind_t outcome_kind;
        int outcome_value;
        void *result;
        char *error_message;

        co__slot_t slot;
        char wait_text[48];
        char name[];
};

struct co_loop {
        struct event_base *base;
        struct event *timer_event;
        co_usec_t timer_armed;          /* deadline timer_event is set for */
        co__fiber_t sched;
        co_task_t *current;
        co_task_t *ready_head;
        co_task_t *ready_tail;

        co_task_t **heap;               /* min-heap of suspended tasks by deadline */
        size_t heap_n;
        size_t heap_cap;
        uint64_t heap_seq;

        /* Top-level tasks (no parent), unfinished, in spawn order. */
        co_task_t *first_root;
        co_task_t *last_root;
        size_t n_tasks;
        size_t n_fd_waits;

        unsigned resumes;               /* since the last poll */
        co_usec_t poll_due;             /* coarse clock */
        co_task_t *zombie;              /* ended; reaped off its stack */
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
/* Switches away from a task that has ended, for good. */
_Noreturn void co__exit_to_scheduler(co_task_t *self);
co_usec_t co__now_coarse(void);

/* task.c */
void co__task_reap(co_task_t *t);
void co__task_end_unstarted(co_task_t *t);
void co__task_entry(void *arg);
co_usec_t co__task_shield_deadline(const co_task_t *t);

/* overflow.c */
void co__overflow_handler_install(void);
_Noreturn void co__overflow_abort(const co_task_t *t, const char *how);

static inline co_task_t *co__current(void) {
        co_loop_t *l = co__loop_tls;

        return l ? l->current : NULL;
}
