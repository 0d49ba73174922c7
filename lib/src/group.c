/* SPDX-License-Identifier: MIT */
/*
 * Task groups. The children are the owner's children like any other; the
 * group adds the bookkeeping: who is still running, who failed, and the
 * rule that a failure cancels the rest.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct co_group {
        co_task_t **tasks;
        size_t n;
        size_t cap;
        size_t n_running;
        co_task_t **failed;
        size_t n_failed;
        bool closed;
        co__waitq_t q;
};

int co_group_new(co_group_t **ret_group) {
        co_group_t *g;

        if (!ret_group)
                return -EINVAL;
        g = calloc(1, sizeof *g);
        if (!g)
                return -ENOMEM;
        *ret_group = g;
        return 0;
}

static void cancel_running(co_group_t *g, const char *reason) {
        for (size_t i = 0; i < g->n; i++)
                co_task_cancel(g->tasks[i], reason);
}

static void on_child_done(co_task_t *t, void *userdata) {
        co_group_t *g = userdata;
        co_outcome_t o;

        g->n_running--;
        /* The group reads every outcome: no "nobody joined it" reports. */
        (void) co_task_get_outcome(t, &o);
        if (o.kind == CO_OUTCOME_ERROR) {
                g->failed[g->n_failed++] = t;
                if (g->n_failed == 1)
                        cancel_running(g, "task group: a sibling failed");
        }
        if (g->n_running == 0)
                co__waitq_wake_all(&g->q, 0);
}

int co_group_spawn(co_group_t *g, co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg) {
        co_task_t *t = NULL;
        int r;

        if (!g)
                return -EINVAL;
        if (g->closed)
                return -ESHUTDOWN;
        if (g->n == g->cap) {
                size_t cap = g->cap ? 2 * g->cap : 8;
                co_task_t **tasks = realloc(g->tasks, cap * sizeof *tasks);
                co_task_t **failed;

                if (!tasks)
                        return -ENOMEM;
                g->tasks = tasks;
                failed = realloc(g->failed, cap * sizeof *failed);
                if (!failed)
                        return -ENOMEM;
                g->failed = failed;
                g->cap = cap;
        }
        r = co_spawn(&t, name, fn, arg);
        if (r < 0)
                return r;
        r = co_task_add_done_callback(t, on_child_done, g);
        if (r < 0) {
                co_task_cancel(t, "task group: out of memory");
                co_task_unref(t);
                return r;
        }
        g->tasks[g->n++] = t;
        g->n_running++;
        /* A group that already failed cancels newcomers at once. */
        if (g->n_failed > 0)
                co_task_cancel(t, "task group: a sibling failed");
        if (ret_task)
                *ret_task = co_task_ref(t);
        return 0;
}

int co_group_wait(co_group_t *g) {
        co_shield_t sh;
        bool cancelled = false;
        co__wnode_t node;

        if (!g)
                return -EINVAL;
        g->closed = true;
        while (g->n_running > 0) {
                if (co__waitq_wait(&g->q, &node, "task group", CO_USEC_INFINITY) == -ECANCELED) {
                        cancelled = true;
                        break;
                }
        }
        if (cancelled) {
                /* Cancelled owner: the children are cancelled with it; wait
                 * for their ends all the same. */
                cancel_running(g, "task group cancelled");
                co_shield_begin(&sh, CO_USEC_INFINITY);
                while (g->n_running > 0)
                        (void) co__waitq_wait(&g->q, &node, "task group", CO_USEC_INFINITY);
                co_shield_end(&sh);
        }
        if (g->n_failed > 0) {
                co_outcome_t o;

                (void) co_task_get_outcome(g->failed[0], &o);
                return o.value;
        }
        return cancelled ? -ECANCELED : 0;
}

size_t co_group_get_n_failed(const co_group_t *g) {
        return g ? g->n_failed : 0;
}

co_task_t *co_group_get_failed(const co_group_t *g, size_t i) {
        return g && i < g->n_failed ? g->failed[i] : NULL;
}

co_group_t *co_group_free(co_group_t *g) {
        if (!g)
                return NULL;
        for (size_t i = 0; i < g->n; i++) {
                if (g->tasks[i]->state != CO_TASK_DONE) {
                        (void) co_task_remove_done_callback(g->tasks[i], on_child_done, g);
                        co_task_cancel(g->tasks[i], "task group freed");
                }
                co_task_unref(g->tasks[i]);
        }
        free(g->tasks);
        free(g->failed);
        free(g);
        return NULL;
}
