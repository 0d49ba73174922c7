/* SPDX-License-Identifier: MIT */
/*
 * gather, wait, wait_for, as_completed, shield. Each registers a done
 * callback on the tasks it watches (it runs at once for a task already
 * done), waits on a wait queue that the callbacks kick, and takes its
 * callbacks back before returning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct watch {
        co__waitq_t q;
        co_task_t *const *tasks;
        size_t n;
        size_t n_done;
        co_task_t **order;      /* completion order, when asked for */
        size_t n_failed;
        co_task_t *first_failed;
} watch_t;

static bool failed(co_task_t *t) {
        co_outcome_t o;

        return co_task_get_outcome(t, &o) == 0 && o.kind != CO_OUTCOME_RESULT;
}

static void on_task_done(co_task_t *t, void *userdata) {
        watch_t *w = userdata;

        if (w->order)
                w->order[w->n_done] = t;
        w->n_done++;
        if (failed(t) && w->n_failed++ == 0)
                w->first_failed = t;
        co__waitq_wake_all(&w->q, 0);
}

static int watch_start(watch_t *w, co_task_t *const *tasks, size_t n) {
        co_loop_t *l = co_loop_current();

        if (!l)
                return -EPERM;
        w->tasks = tasks;
        w->n = n;
        for (size_t i = 0; i < n; i++) {
                int r;

                if (!tasks[i] || tasks[i]->loop != l)
                        r = -EINVAL;
                else
                        r = co_task_add_done_callback(tasks[i], on_task_done, w);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                (void) co_task_remove_done_callback(tasks[j], on_task_done, w);
                        return r;
                }
        }
        return 0;
}

static void watch_stop(watch_t *w) {
        for (size_t i = 0; i < w->n; i++)
                if (w->tasks[i]->state != CO_TASK_DONE)
                        (void) co_task_remove_done_callback(w->tasks[i], on_task_done, w);
}

/* Waits for the next completion; 0, -ETIMEDOUT or -ECANCELED. */
static int watch_wait(watch_t *w, co_usec_t deadline) {
        co__wnode_t node;
        size_t before = w->n_done;
        int r = co__waitq_wait(&w->q, &node, "tasks", deadline);

        return w->n_done > before ? 0 : r;
}

/* Cancels every unfinished task and waits, shielded, for all to end. */
static void cancel_and_drain(watch_t *w, const char *reason) {
        co_shield_t sh;

        for (size_t i = 0; i < w->n; i++)
                co_task_cancel(w->tasks[i], reason);
        co_shield_begin(&sh, CO_USEC_INFINITY);
        while (w->n_done < w->n)
                (void) watch_wait(w, CO_USEC_INFINITY);
        co_shield_end(&sh);
}

int co_gather(co_task_t *const *tasks, size_t n, unsigned flags, co_outcome_t *ret_outcomes) {
        watch_t w = { 0 };
        int r;

        r = watch_start(&w, tasks, n);
        if (r < 0)
                return r;
        while (w.n_done < n) {
                if (w.n_failed > 0 && !(flags & CO_GATHER_RETURN_ERRORS)) {
                        cancel_and_drain(&w, "gather: another task failed");
                        break;
                }
                r = watch_wait(&w, CO_USEC_INFINITY);
                if (r == -ECANCELED) {
                        cancel_and_drain(&w, "gather cancelled");
                        break;
                }
        }
        watch_stop(&w);
        for (size_t i = 0; ret_outcomes && i < n; i++)
                (void) co_task_get_outcome(tasks[i], &ret_outcomes[i]);
        if (r == -ECANCELED)
                return r;
        if (w.first_failed && !(flags & CO_GATHER_RETURN_ERRORS)) {
                co_outcome_t o;

                (void) co_task_get_outcome(w.first_failed, &o);
                return o.value;
        }
        return 0;
}

static bool wait_satisfied(const watch_t *w, co_wait_mode_t mode) {
        switch (mode) {
        case CO_WAIT_FIRST_COMPLETED:
                return w->n_done > 0 || w->n == 0;
        case CO_WAIT_FIRST_EXCEPTION:
                return w->n_failed > 0 || w->n_done == w->n;
        case CO_WAIT_ALL_COMPLETED:
                break;
        }
        return w->n_done == w->n;
}

int co_wait(co_task_t **tasks, size_t n, co_wait_mode_t mode, co_usec_t deadline, size_t *ret_n_done) {
        watch_t w = { 0 };
        size_t k = 0;
        int r;

        /* (Tasks already done are counted at once by their callbacks.) */
        r = watch_start(&w, tasks, n);
        if (r < 0)
                return r;
        while (!wait_satisfied(&w, mode)) {
                r = watch_wait(&w, deadline);
                if (r < 0)
                        break;
        }
        watch_stop(&w);
        if (r == -ECANCELED)
                return r;
        /* Stable partition: done first. */
        {
                co_task_t **pending = malloc(n * sizeof *pending);
                size_t np = 0;

                if (!pending && n > 0)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (tasks[i]->state == CO_TASK_DONE)
                                tasks[k++] = tasks[i];
                        else
                                pending[np++] = tasks[i];
                }
                memcpy(tasks + k, pending, np * sizeof *pending);
                free(pending);
        }
        if (ret_n_done)
                *ret_n_done = k;
        return 0;
}

int co_wait_for(co_task_t *t, co_usec_t deadline, co_outcome_t *ret_outcome) {
        co_shield_t sh;
        int r;

        r = co_task_join_until(t, deadline, ret_outcome);
        if (r != -ETIMEDOUT && r != -ECANCELED)
                return r;
        co_task_cancel(t, r == -ETIMEDOUT ? "wait_for: timed out" : "wait_for cancelled");
        /* Its cleanup runs under its own grace deadline: wait for it even if
         * we are cancelled meanwhile. */
        co_shield_begin(&sh, CO_USEC_INFINITY);
        (void) co_task_join(t, ret_outcome);
        co_shield_end(&sh);
        if (co_task_current()->cancelled && co__task_cancel_applies(co_task_current()))
                return -ECANCELED;
        return r;
}

int co_task_shield(co_task_t *t, co_usec_t deadline, co_outcome_t *ret_outcome) {
        int r = co_task_detach(t);

        if (r < 0)
                return r;
        return co_task_join_until(t, deadline, ret_outcome);
}

struct co_as_completed {
        watch_t w;
        size_t n_returned;
        co_usec_t deadline;
};

int co_as_completed_new(co_as_completed_t **ret, co_task_t *const *tasks, size_t n, co_usec_t deadline) {
        co_as_completed_t *it;
        int r;

        if (!ret)
                return -EINVAL;
        it = calloc(1, sizeof *it);
        if (!it)
                return -ENOMEM;
        it->w.order = calloc(n ? n : 1, sizeof *it->w.order);
        it->deadline = deadline;
        if (!it->w.order) {
                free(it);
                return -ENOMEM;
        }
        r = watch_start(&it->w, tasks, n);
        if (r < 0) {
                free(it->w.order);
                free(it);
                return r;
        }
        /* (Tasks already done were put first, in the caller's order, by
         * their callbacks running at once.) */
        *ret = it;
        return 0;
}

int co_as_completed_next(co_as_completed_t *it, co_task_t **ret_task) {
        if (!it || !ret_task)
                return -EINVAL;
        while (it->n_returned == it->w.n_done) {
                int r;

                if (it->n_returned == it->w.n)
                        return 0;
                r = watch_wait(&it->w, it->deadline);
                if (r < 0)
                        return r;
        }
        *ret_task = it->w.order[it->n_returned++];
        return 1;
}

co_as_completed_t *co_as_completed_free(co_as_completed_t *it) {
        if (!it)
                return NULL;
        watch_stop(&it->w);
        free(it->w.order);
        free(it);
        return NULL;
}
