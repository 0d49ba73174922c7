/* SPDX-License-Identifier: MIT */
/*
 * Wait queues. A waiter links a node on its own stack and suspends; a
 * waker unlinks it before waking it, so a woken waiter owns whatever it was
 * woken for even if it is cancelled a moment later. A waiter that leaves
 * for any other reason (deadline, cancellation) unlinks itself, and a waker
 * passes over a waiter that was woken for such a reason but has not run
 * yet: either way nothing is lost and nothing is left behind.
 */
#include <errno.h>

#include "internal.h"

void co__waitq_link(co__waitq_t *q, co__wnode_t *n) {
        n->prev = q->tail;
        n->next = NULL;
        n->linked = true;
        if (q->tail)
                q->tail->next = n;
        else
                q->head = n;
        q->tail = n;
}

void co__waitq_unlink(co__waitq_t *q, co__wnode_t *n) {
        if (n->prev)
                n->prev->next = n->next;
        else
                q->head = n->next;
        if (n->next)
                n->next->prev = n->prev;
        else
                q->tail = n->prev;
        n->prev = n->next = NULL;
        n->linked = false;
}

int co__waitq_wait(co__waitq_t *q, co__wnode_t *node, const char *label, co_usec_t deadline) {
        co_task_t *self = co__current();
        int r;

        if (!self)
                return -EPERM;
        *node = (co__wnode_t) { .task = self };
        co__waitq_link(q, node);
        self->wait_kind = CO__WAIT_LABEL;
        self->wait_label = label;
        r = co__suspend(self, deadline);
        if (node->linked) {
                co__waitq_unlink(q, node);
                /* Not picked by a waker: whatever woke us is the answer. */
                return r < 0 ? r : -EINTR;
        }
        return r;
}

co__wnode_t *co__waitq_wake_one(co__waitq_t *q, int result) {
        co__wnode_t *n;

        /* A waiter already woken by its deadline or a cancellation is on its
         * way out: hand nothing to it. */
        while ((n = q->head)) {
                co__waitq_unlink(q, n);
                if (n->task->state == CO_TASK_SUSPENDED) {
                        co__wake(n->task, result);
                        return n;
                }
        }
        return NULL;
}

unsigned co__waitq_wake_all(co__waitq_t *q, int result) {
        unsigned n = 0;
        co__wnode_t *w;

        while ((w = q->head)) {
                co__waitq_unlink(q, w);
                if (w->task->state == CO_TASK_SUSPENDED)
                        co__wake(w->task, result);
                n++;
        }
        return n;
}
