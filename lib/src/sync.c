/* SPDX-License-Identifier: MIT */
/*
 * Lock, event, condition and semaphore, on wait queues.
 *
 * Fairness and cancellation safety come from one rule: whatever is released
 * goes straight to the first waiter the wait queue picks (it picks only
 * waiters still suspended, and unlinks them), and stays unclaimed only when
 * nobody waits. So a free lock or a positive semaphore never has a waiter
 * that could still take it, a newcomer cannot barge past the queue, and a
 * picked waiter owns what it was given before it even runs: its own
 * cancellation, arriving later, can no longer change its result.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "internal.h"

struct co_lock {
        co_task_t *owner;
        co__waitq_t waiters;
};

struct co_event {
        bool set;
        co__waitq_t waiters;
};

struct co_cond {
        co_lock_t *lock;
        bool own_lock;
        co__waitq_t waiters;
};

struct co_sem {
        unsigned value;
        unsigned bound;         /* UINT_MAX unless bounded */
        co__waitq_t waiters;
};

/* ---- lock ---------------------------------------------------------------- */

int co_lock_new(co_lock_t **ret_lock) {
        co_lock_t *lock;

        if (!ret_lock)
                return -EINVAL;
        lock = calloc(1, sizeof *lock);
        if (!lock)
                return -ENOMEM;
        *ret_lock = lock;
        return 0;
}

co_lock_t *co_lock_free(co_lock_t *lock) {
        if (lock) {
                co__waitq_wake_all(&lock->waiters, -EIDRM);
                free(lock);
        }
        return NULL;
}

int co_lock_acquire(co_lock_t *lock, co_usec_t deadline) {
        co_task_t *self = co__current();
        co__wnode_t node;
        int r;

        if (!lock)
                return -EINVAL;
        if (self && lock->owner == self)
                return -EDEADLK;
        r = co__may_wait(self);
        if (r < 0)
                return r;
        if (!lock->owner) {
                lock->owner = self;
                return 0;
        }
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        /* On 0 the releaser has already made us the owner. */
        return co__waitq_wait(&lock->waiters, &node, "lock", deadline);
}

int co_lock_try_acquire(co_lock_t *lock) {
        co_task_t *self = co__current();

        if (!lock)
                return -EINVAL;
        if (!self)
                return -EPERM;
        if (lock->owner)
                return -EBUSY;
        lock->owner = self;
        return 0;
}

/* Passes the lock on to the first waiter still waiting, or frees it. */
static void lock_hand_over(co_lock_t *lock) {
        co__wnode_t *n = co__waitq_wake_one(&lock->waiters, 0);

        lock->owner = n ? n->task : NULL;
}

int co_lock_release(co_lock_t *lock) {
        co_task_t *self = co__current();

        if (!lock)
                return -EINVAL;
        if (!self || lock->owner != self)
                return -EPERM;
        lock_hand_over(lock);
        return 0;
}

bool co_lock_is_locked(const co_lock_t *lock) {
        return lock && lock->owner;
}

co_task_t *co_lock_get_owner(const co_lock_t *lock) {
        return lock ? lock->owner : NULL;
}

/*
 * Takes the lock back for a condition waiter, whatever happens meanwhile:
 * the caller of co_cond_wait must hold the lock when it returns. The core
 * has no uninterruptible suspension, so the wait runs under a shield of its
 * own with the task's other scopes unhooked for its duration: neither the
 * task's cancellation, nor an enclosing scope's, nor the deadline of an
 * enclosing cleanup shield can end it. Fails only if the lock is freed.
 */
static int lock_reacquire(co_lock_t *lock, co_task_t *self) {
        co_scope_t shield, *outer;
        co__wnode_t node;
        int r;

        if (!lock->owner) {
                lock->owner = self;
                return 0;
        }
        co_scope_begin(&shield, CO_USEC_INFINITY, CO_SCOPE_SHIELD);
        outer = shield.outer;
        shield.outer = NULL;
        do
                r = co__waitq_wait(&lock->waiters, &node, "lock", CO_USEC_INFINITY);
        while (r < 0 && r != -EIDRM);
        shield.outer = outer;
        (void) co_scope_end(&shield);
        return r;
}

/* ---- event --------------------------------------------------------------- */

int co_event_new(co_event_t **ret_event) {
        co_event_t *e;

        if (!ret_event)
                return -EINVAL;
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        *ret_event = e;
        return 0;
}

co_event_t *co_event_free(co_event_t *e) {
        if (e) {
                co__waitq_wake_all(&e->waiters, -EIDRM);
                free(e);
        }
        return NULL;
}

void co_event_set(co_event_t *e) {
        if (!e)
                return;
        e->set = true;
        co__waitq_wake_all(&e->waiters, 0);
}

void co_event_clear(co_event_t *e) {
        if (e)
                e->set = false;
}

bool co_event_is_set(const co_event_t *e) {
        return e && e->set;
}

int co_event_wait(co_event_t *e, co_usec_t deadline) {
        co__wnode_t node;
        int r;

        if (!e)
                return -EINVAL;
        r = co__may_wait(co__current());
        if (r < 0)
                return r;
        if (e->set)
                return 0;
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        return co__waitq_wait(&e->waiters, &node, "event", deadline);
}

/* ---- condition ------------------------------------------------------------ */

int co_cond_new(co_cond_t **ret_cond, co_lock_t *lock) {
        co_cond_t *c;
        int r;

        if (!ret_cond)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (lock) {
                c->lock = lock;
        } else {
                r = co_lock_new(&c->lock);
                if (r < 0) {
                        free(c);
                        return r;
                }
                c->own_lock = true;
        }
        *ret_cond = c;
        return 0;
}

co_cond_t *co_cond_free(co_cond_t *c) {
        if (c) {
                co__waitq_wake_all(&c->waiters, -EIDRM);
                if (c->own_lock)
                        co_lock_free(c->lock);
                free(c);
        }
        return NULL;
}

co_lock_t *co_cond_get_lock(co_cond_t *c) {
        return c ? c->lock : NULL;
}

int co_cond_wait(co_cond_t *c, co_usec_t deadline) {
        co_task_t *self = co__current();
        co_lock_t *lock;
        co__wnode_t node;
        int r, k;

        if (!c)
                return -EINVAL;
        if (!self || c->lock->owner != self)
                return -EPERM;
        r = co__may_wait(self);
        if (r < 0)
                return r;
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        /* Not c->lock after the wait: c may be gone (-EIDRM). */
        lock = c->lock;
        lock_hand_over(lock);
        r = co__waitq_wait(&c->waiters, &node, "condition", deadline);
        /* Signalled and then cancelled before running, r is still 0: the
         * signal was ours and is not lost. */
        k = lock_reacquire(lock, self);
        return k < 0 ? k : r;
}

int co_cond_wait_for(co_cond_t *c, co_cond_predicate_fn_t predicate, void *userdata,
                     co_usec_t deadline) {
        co_task_t *self = co__current();
        int r;

        if (!c || !predicate)
                return -EINVAL;
        if (!self || c->lock->owner != self)
                return -EPERM;
        r = co__may_wait(self);
        if (r < 0)
                return r;
        while (!predicate(userdata)) {
                r = co_cond_wait(c, deadline);
                if (r < 0)
                        return r;
        }
        return 0;
}

int co_cond_signal(co_cond_t *c, unsigned n) {
        co_task_t *self = co__current();
        unsigned woken = 0;

        if (!c)
                return -EINVAL;
        if (!self || c->lock->owner != self)
                return -EPERM;
        while (woken < n && woken < INT_MAX && co__waitq_wake_one(&c->waiters, 0))
                woken++;
        return (int) woken;
}

int co_cond_broadcast(co_cond_t *c) {
        return co_cond_signal(c, UINT_MAX);
}

/* ---- semaphore ------------------------------------------------------------ */

static int sem_new(co_sem_t **ret_sem, unsigned value, unsigned bound) {
        co_sem_t *s;

        if (!ret_sem)
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->value = value;
        s->bound = bound;
        *ret_sem = s;
        return 0;
}

int co_sem_new(co_sem_t **ret_sem, unsigned value) {
        return sem_new(ret_sem, value, UINT_MAX);
}

int co_sem_new_bounded(co_sem_t **ret_sem, unsigned value) {
        return sem_new(ret_sem, value, value);
}

co_sem_t *co_sem_free(co_sem_t *s) {
        if (s) {
                co__waitq_wake_all(&s->waiters, -EIDRM);
                free(s);
        }
        return NULL;
}

int co_sem_acquire(co_sem_t *s, co_usec_t deadline) {
        co__wnode_t node;
        int r;

        if (!s)
                return -EINVAL;
        r = co__may_wait(co__current());
        if (r < 0)
                return r;
        if (s->value > 0) {
                s->value--;
                return 0;
        }
        if (co__deadline_passed(deadline))
                return -ETIMEDOUT;
        /* On 0 the releaser has handed its permit to us directly. */
        return co__waitq_wait(&s->waiters, &node, "semaphore", deadline);
}

int co_sem_try_acquire(co_sem_t *s) {
        if (!s)
                return -EINVAL;
        if (s->value == 0)
                return -EAGAIN;
        s->value--;
        return 0;
}

int co_sem_release(co_sem_t *s) {
        if (!s)
                return -EINVAL;
        /* As asyncio's BoundedSemaphore, the bound is checked first. With
         * waiters the value is 0, so this only refuses a bound of 0. */
        if (s->value >= s->bound)
                return -EOVERFLOW;
        if (!co__waitq_wake_one(&s->waiters, 0))
                s->value++;
        return 0;
}

unsigned co_sem_get_value(const co_sem_t *s) {
        return s ? s->value : 0;
}
