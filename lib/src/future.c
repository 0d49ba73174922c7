/* SPDX-License-Identifier: MIT */
/*
 * Futures. The outcome is written once, by whichever thread wins the
 * state change; everything that follows (waking waiters, done callbacks)
 * happens on the future's loop, posted there if the writer is elsewhere.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { PENDING, SETTING, DONE };

typedef struct future_cb {
        co_future_done_fn_t fn;
        void *userdata;
        struct future_cb *next;
} future_cb_t;

struct co_future {
        _Atomic unsigned refs;
        _Atomic int state;
        co_loop_t *loop;
        co_outcome_kind_t kind;
        int value;
        void *result;
        char *message;
        bool retrieved;
        bool completed;         /* waiters woken, callbacks run */
        co__waitq_t waiters;
        future_cb_t *callbacks;
        co__post_t post;
};

int co_future_new(co_loop_t *loop, co_future_t **ret_future) {
        co_future_t *f;

        if (!loop)
                loop = co_loop_current();
        if (!loop || !ret_future)
                return -EINVAL;
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        atomic_init(&f->refs, 1);
        atomic_init(&f->state, PENDING);
        f->loop = loop;
        *ret_future = f;
        return 0;
}

co_future_t *co_future_ref(co_future_t *f) {
        if (f)
                atomic_fetch_add(&f->refs, 1);
        return f;
}

co_future_t *co_future_unref(co_future_t *f) {
        if (!f || atomic_fetch_sub(&f->refs, 1) > 1)
                return NULL;
        if (atomic_load(&f->state) == DONE && f->kind == CO_OUTCOME_ERROR && !f->retrieved)
                co_log(CO_LOG_ERR, "future failed and nobody read it: %s%s%s", strerror(-f->value),
                       f->message ? ": " : "", f->message ? f->message : "");
        while (f->callbacks) {
                future_cb_t *cb = f->callbacks;

                f->callbacks = cb->next;
                free(cb);
        }
        free(f->message);
        free(f);
        return NULL;
}

/* On the loop: wake every waiter, run every callback. */
static void complete(void *arg) {
        co_future_t *f = arg;

        f->completed = true;
        co__waitq_wake_all(&f->waiters, 0);
        while (f->callbacks) {
                future_cb_t *cb = f->callbacks;

                f->callbacks = cb->next;
                cb->fn(f, cb->userdata);
                free(cb);
        }
        co_future_unref(f);
}

static int settle(co_future_t *f, co_outcome_kind_t kind, int value, void *result, char *message) {
        int expected = PENDING;

        if (!f) {
                free(message);
                return -EINVAL;
        }
        if (!atomic_compare_exchange_strong(&f->state, &expected, SETTING)) {
                free(message);
                return -EALREADY;
        }
        f->kind = kind;
        f->value = value;
        f->result = result;
        f->message = message;
        atomic_store_explicit(&f->state, DONE, memory_order_release);
        co_future_ref(f);
        if (co__loop_is_own_thread(f->loop)) {
                complete(f);
        } else {
                f->post = (co__post_t) { .fn = complete, .arg = f };
                co__loop_post(f->loop, &f->post);
        }
        return 0;
}

int co_future_set_result(co_future_t *f, int value, void *result) {
        if (value < 0)
                return -EINVAL;
        return settle(f, CO_OUTCOME_RESULT, value, result, NULL);
}

int co_future_set_error(co_future_t *f, int error, const char *fmt, ...) {
        char *msg = NULL;
        va_list ap;

        if (error >= 0 || error == -ECANCELED)
                return -EINVAL;
        if (fmt) {
                va_start(ap, fmt);
                if (vasprintf(&msg, fmt, ap) < 0)
                        msg = NULL;
                va_end(ap);
        }
        return settle(f, CO_OUTCOME_ERROR, error, NULL, msg);
}

int co_future_cancel(co_future_t *f, const char *reason) {
        return settle(f, CO_OUTCOME_CANCELLED, -ECANCELED, NULL, strdup(reason ? reason : "cancelled"));
}

bool co_future_is_done(const co_future_t *f) {
        return f && atomic_load_explicit(&((co_future_t *) f)->state, memory_order_acquire) == DONE;
}

int co_future_get_outcome(co_future_t *f, co_outcome_t *ret_outcome) {
        if (!f)
                return -EINVAL;
        if (!co_future_is_done(f))
                return -EBUSY;
        f->retrieved = true;
        if (ret_outcome)
                *ret_outcome = (co_outcome_t) {
                        .kind = f->kind,
                        .value = f->value,
                        .result = f->result,
                        .message = f->message,
                };
        return 0;
}

int co_future_wait(co_future_t *f, co_usec_t deadline, co_outcome_t *ret_outcome) {
        co__wnode_t node;
        int r;

        if (!f)
                return -EINVAL;
        /* Level-triggered: a cancelled caller stops here, done or not. */
        r = co__checkpoint(co_task_current());
        if (r < 0)
                return r;
        /* Done, and its waiters have been woken (or are about to be, by a
         * post that our waiting could only delay). */
        if (co_future_is_done(f))
                return co_future_get_outcome(f, ret_outcome);
        if (co_loop_current() != f->loop)
                return co_loop_current() ? -EXDEV : -EPERM;
        r = co__waitq_wait(&f->waiters, &node, "future", deadline);
        if (co_future_is_done(f))
                return co_future_get_outcome(f, ret_outcome);
        return r < 0 ? r : -EIO;
}

int co_future_add_done_callback(co_future_t *f, co_future_done_fn_t fn, void *userdata) {
        future_cb_t *cb, **tail;

        if (!f || !fn)
                return -EINVAL;
        if (f->completed) {
                fn(f, userdata);
                return 0;
        }
        cb = malloc(sizeof *cb);
        if (!cb)
                return -ENOMEM;
        *cb = (future_cb_t) { .fn = fn, .userdata = userdata };
        for (tail = &f->callbacks; *tail; tail = &(*tail)->next)
                ;
        *tail = cb;
        return 0;
}
