/* SPDX-License-Identifier: MIT */
/*
 * Async generators. A generator is an ordinary task (a child of its
 * creator, so the task tree closes abandoned ones) whose body hands values
 * over through a one-slot mailbox, guarded by two wait queues: the
 * generator waits in `producer` to be asked, the consumer in `consumer` for
 * a value or the end. Closing is cancellation of the task, plus a wake-up
 * of the generator's own wait so that it also reaches a yield made from a
 * shield. The struct lives while a user holds it or the task runs; the
 * task's done callback is where the generator leaves the loop's registry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

typedef enum gen_state {
        GEN_NEW,        /* nobody asked yet: the body has not run */
        GEN_PRODUCING,  /* asked: the body runs towards its next yield */
        GEN_READY,      /* a value waits in the slot; the body is in co_gen_yield */
        GEN_IDLE,       /* the value was taken; the body is in co_gen_yield */
} gen_state_t;

struct co_gen {
        unsigned refs;          /* users', and ours while we wait */
        bool running;           /* the task has not ended: it uses the struct */
        bool closed;            /* co_gen_close, or the last reference went */
        bool swept;             /* visited by the current shutdown sweep */
        gen_state_t state;
        void *value;
        co_loop_t *loop;
        co_task_t *task;        /* our reference */
        co_task_t *in_next;     /* the consumer waiting in co_gen_next */
        co_gen_fn_t fn;
        void *arg;
        co__waitq_t producer;
        co__waitq_t consumer;
        co_gen_t *reg_prev;     /* the loop's registry of running generators;
                                 * the head's reg_prev is the tail */
        co_gen_t *reg_next;
        char next_label[];      /* "next 'name'": the consumer's wait */
};

/* ---- the registry ------------------------------------------------------
 * In creation order, so that a sweep closes a generator before the ones it
 * created itself (and may well close on its own). The head's reg_prev is
 * the tail: appending needs no field in the loop beyond first_gen. */

static void registry_link(co_gen_t *g) {
        co_gen_t *first = g->loop->first_gen;

        g->reg_next = NULL;
        if (!first) {
                g->reg_prev = g;
                g->loop->first_gen = g;
                return;
        }
        g->reg_prev = first->reg_prev;
        first->reg_prev->reg_next = g;
        first->reg_prev = g;
}

static void registry_unlink(co_gen_t *g) {
        co_gen_t **first = &g->loop->first_gen;

        if (g == *first) {
                *first = g->reg_next;
                if (*first)
                        (*first)->reg_prev = g->reg_prev;
        } else {
                g->reg_prev->reg_next = g->reg_next;
                if (g->reg_next)
                        g->reg_next->reg_prev = g->reg_prev;
                else
                        (*first)->reg_prev = g->reg_prev;
        }
        g->reg_prev = g->reg_next = NULL;
}

size_t co_loop_get_n_generators(co_loop_t *l) {
        size_t n = 0;

        for (co_gen_t *g = l ? l->first_gen : NULL; g; g = g->reg_next)
                n++;
        return n;
}

/* ---- life cycle -------------------------------------------------------- */

static void gen_free(co_gen_t *g) {
        /* An error nobody took from next or close is logged by the task. */
        co_task_unref(g->task);
        free(g);
}

/* Asks the generator to end; never waits. */
static void request_close(co_gen_t *g, const char *reason) {
        if (g->closed)
                return;
        g->closed = true;
        /* A value nobody took is dropped: a closed stream has ended. */
        if (g->state == GEN_READY)
                g->state = GEN_IDLE;
        g->value = NULL;
        co_task_cancel(g->task, reason);
        /* Cancellation does not reach a yield inside a shield: this does. */
        co__waitq_wake_all(&g->producer, -ECANCELED);
        co__waitq_wake_all(&g->consumer, 0);
}

/* The task has ended, its cleanups included. Runs on the loop, not in a
 * task. */
static void gen_task_done(co_task_t *t, void *userdata) {
        co_gen_t *g = userdata;

        (void) t;
        g->running = false;
        registry_unlink(g);
        co__waitq_wake_all(&g->consumer, 0);
        if (g->refs == 0)
                gen_free(g);
}

/* The generator's task. The body only runs once somebody has asked. */
static int gen_task(void *arg) {
        co_gen_t *g = arg;
        co__wnode_t node;
        int r;

        while (g->state == GEN_NEW) {
                if (g->closed)
                        return -ECANCELED;
                r = co__waitq_wait(&g->producer, &node, "generator not started", CO_USEC_INFINITY);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        if (g->closed)
                return -ECANCELED;
        return g->fn(g, g->arg);
}

int co_gen_new_with(co_gen_t **ret_gen, const char *name, co_gen_fn_t fn, void *arg,
                    const co_task_opts_t *opts) {
        co_task_t *self = co__current();
        size_t n;
        co_gen_t *g;
        int r;

        if (!ret_gen || !name || !fn)
                return -EINVAL;
        if (!self)
                return -EPERM;
        n = strnlen(name, CO__NAME_MAX);
        g = calloc(1, sizeof *g + n + sizeof "next ''");
        if (!g)
                return -ENOMEM;
        g->refs = 1;
        g->running = true;
        g->state = GEN_NEW;
        g->loop = self->loop;
        g->fn = fn;
        g->arg = arg;
        snprintf(g->next_label, n + sizeof "next ''", "next '%.*s'", (int) n, name);
        r = co_spawn_with(&g->task, name, gen_task, g, opts);
        if (r < 0) {
                free(g);
                return r;
        }
        r = co_task_add_done_callback(g->task, gen_task_done, g);
        if (r < 0) {
                /* Cancelled before it first runs, it never sees g. */
                co_task_cancel(g->task, "generator setup failed");
                co_task_unref(g->task);
                free(g);
                return r;
        }
        registry_link(g);
        *ret_gen = g;
        return 0;
}

int co_gen_new(co_gen_t **ret_gen, const char *name, co_gen_fn_t fn, void *arg) {
        return co_gen_new_with(ret_gen, name, fn, arg, NULL);
}

co_gen_t *co_gen_ref(co_gen_t *g) {
        if (g)
                g->refs++;
        return g;
}

co_gen_t *co_gen_unref(co_gen_t *g) {
        if (!g || --g->refs > 0)
                return NULL;
        if (g->running)
                /* Nobody can ask for a value any more: let it unwind. The
                 * done callback frees it. */
                request_close(g, "generator abandoned");
        else
                gen_free(g);
        return NULL;
}

bool co_gen_is_finished(const co_gen_t *g) {
        return g && !g->running;
}

co_task_t *co_gen_get_task(const co_gen_t *g) {
        return g ? g->task : NULL;
}

const char *co_gen_get_name(const co_gen_t *g) {
        return g ? co_task_get_name(g->task) : NULL;
}

/* ---- the generator's side ---------------------------------------------- */

/* Waits in the producer queue until asked for a value. */
static int wait_asked(co_gen_t *g) {
        co__wnode_t node;
        int r;

        while (g->state != GEN_PRODUCING) {
                if (g->closed)
                        return -ECANCELED;
                r = co__waitq_wait(&g->producer, &node, "generator yield", CO_USEC_INFINITY);
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return g->closed ? -ECANCELED : 0;
}

int co_gen_yield(co_gen_t *g, void *value) {
        co_task_t *self = co__current();
        int r;

        if (!g)
                return -EINVAL;
        if (!self || self != g->task)
                return -EPERM;
        /* Not even from a shielded cleanup: a cancelled generator has
         * nobody left to hand values to. */
        if (g->closed || co_task_is_cancelled(self))
                return -ECANCELED;
        /* Normally it was asked, or it would not be running; but an earlier
         * yield may have been cut short (a cancel scope of the body's own)
         * with its value still in the slot or taken without a new request. */
        r = wait_asked(g);
        if (r < 0)
                return r;
        g->value = value;
        g->state = GEN_READY;
        co__waitq_wake_one(&g->consumer, 0);
        /* The value stays lent until the consumer asks again. */
        return wait_asked(g);
}

/* ---- the consumer's side ----------------------------------------------- */

/* What a finished (or closed) generator's stream says, every time. */
static int end_of_stream(co_gen_t *g) {
        co_outcome_t o;

        if (g->running || co_task_get_outcome(g->task, &o) < 0)
                return 0;       /* closed, still unwinding: the stream has ended */
        switch (o.kind) {
        case CO_OUTCOME_RESULT:
                return 0;
        case CO_OUTCOME_ERROR:
                return o.value;
        case CO_OUTCOME_CANCELLED:
                /* Closing is a normal end; a cancellation from elsewhere is
                 * passed on, as awaiting a cancelled task would. */
                return g->closed ? 0 : -ECANCELED;
        }
        return 0;
}

static int take(co_gen_t *g, void **ret_value) {
        if (ret_value)
                *ret_value = g->value;
        g->value = NULL;
        g->state = GEN_IDLE;
        return 1;
}

/* Whether the running task may suspend: 0, -ECANCELED or -ETIMEDOUT. */
static int may_suspend(co_task_t *self) {
        co_usec_t ignored;

        if (!self->scope)
                return self->cancelled ? -ECANCELED : 0;
        return co__scope_check(self, &ignored);
}

int co_gen_next_until(co_gen_t *g, co_usec_t deadline, void **ret_value) {
        co_task_t *self = co__current();
        co__wnode_t node;
        int r;

        if (!g)
                return -EINVAL;
        if (!self)
                return -EPERM;
        if (self->loop != g->loop)
                return -EXDEV;
        if (self == g->task)
                return -EDEADLK;
        if (g->in_next)
                return -EBUSY;
        if (g->closed)
                return end_of_stream(g);
        /* What is already there needs no waiting, as with a joined task. */
        if (g->state == GEN_READY)
                return take(g, ret_value);
        if (!g->running)
                return end_of_stream(g);
        r = may_suspend(self);
        if (r < 0)
                return r;

        co_gen_ref(g);
        g->in_next = self;
        if (g->state != GEN_PRODUCING) {
                g->state = GEN_PRODUCING;
                co__waitq_wake_one(&g->producer, 0);
        }
        for (;;) {
                if (g->closed) {
                        r = end_of_stream(g);
                        break;
                }
                if (g->state == GEN_READY) {
                        r = take(g, ret_value);
                        break;
                }
                if (!g->running) {
                        r = end_of_stream(g);
                        break;
                }
                r = co__waitq_wait(&g->consumer, &node, g->next_label, deadline);
                if (r < 0 && r != -EINTR)
                        break;
        }
        g->in_next = NULL;
        co_gen_unref(g);
        return r;
}

int co_gen_next(co_gen_t *g, void **ret_value) {
        return co_gen_next_until(g, CO_USEC_INFINITY, ret_value);
}

static int close_result(co_gen_t *g) {
        co_outcome_t o;

        if (co_task_get_outcome(g->task, &o) < 0)
                return -EIO;
        return o.kind == CO_OUTCOME_ERROR ? o.value : 0;
}

int co_gen_close(co_gen_t *g) {
        co_task_t *self = co__current();
        int r;

        if (!g)
                return -EINVAL;
        if (!g->running) {
                g->closed = true;
                return close_result(g);
        }
        if (!self)
                return -EPERM;
        if (self->loop != g->loop)
                return -EXDEV;
        /* Waiting for the generator from inside it would never end. */
        for (co_task_t *a = self; a; a = co_task_get_parent(a))
                if (a == g->task)
                        return -EDEADLK;

        co_gen_ref(g);
        request_close(g, "generator closed");
        r = co_task_join(g->task, NULL);
        if (r == 0)
                r = close_result(g);
        co_gen_unref(g);
        return r;
}

/* ---- shutdown ---------------------------------------------------------- */

static void log_stuck(co_gen_t *g) {
        const char *wait = co_task_get_wait(g->task);
        co_log_field_t f[] = {
                { "generator", co_task_get_name(g->task) },
                { "state", co_task_state_to_string(co_task_get_state(g->task)) },
                { "wait", wait ? wait : "-" },
        };

        co_log_fields(CO_LOG_ERR, f, N_FIELDS(f),
                      "generator '%s' did not finish closing by the shutdown deadline",
                      co_task_get_name(g->task));
}

static void log_failed(co_gen_t *g, int error) {
        co_outcome_t o = { 0 };
        co_log_field_t f[] = {
                { "generator", co_task_get_name(g->task) },
                { "error", strerror(-error) },
        };

        (void) co_task_get_outcome(g->task, &o);
        co_log_fields(CO_LOG_ERR, f, N_FIELDS(f), "generator '%s' failed while closing: %s%s%s",
                      co_task_get_name(g->task), strerror(-error), o.message ? ": " : "",
                      o.message ? o.message : "");
}

static co_gen_t *next_unswept(co_gen_t *g) {
        while (g && g->swept)
                g = g->reg_next;
        return g;
}

static int shutdown_in_task(co_loop_t *l, co_usec_t deadline) {
        co_shield_t shield;
        size_t stuck = 0;
        co_gen_t *g;

        for (g = l->first_gen; g; g = g->reg_next)
                g->swept = false;
        co_shield_begin(&shield, deadline);
        /* The registry changes under us: generators end while we wait (and
         * leave it), new ones may start (at its tail). Going on from a
         * generator still in it, or else from the head, finds every one
         * exactly once. */
        g = next_unswept(l->first_gen);
        while (g) {
                co_gen_t *next;
                int r;

                g->swept = true;
                co_gen_ref(g);
                r = co_gen_close(g);
                if (r == -ETIMEDOUT) {
                        log_stuck(g);
                        stuck++;
                } else if (r < 0) {
                        log_failed(g, r);
                }
                /* Still registered: its successor is valid now. */
                next = g->running ? g->reg_next : l->first_gen;
                co_gen_unref(g);
                g = next_unswept(next);
        }
        co_shield_end(&shield);
        return stuck > 0 ? -ETIMEDOUT : 0;
}

static int shutdown_task(void *arg) {
        /* The caller's variable: read before anything can suspend. */
        co_usec_t deadline = *(const co_usec_t *) arg;
        co_loop_t *l = co_loop_current();
        int r;

        r = shutdown_in_task(l, deadline);
        co_loop_stop(l);
        return r;
}

int co_loop_shutdown_generators(co_loop_t *l, co_usec_t deadline) {
        co_task_t *self = co__current(), *t = NULL;
        co_outcome_t o;
        int r;

        if (!l)
                return -EINVAL;
        if (self)
                return self->loop == l ? shutdown_in_task(l, deadline) : -EXDEV;
        if (!l->first_gen)
                return 0;
        if (l->running)
                return -EBUSY;
        r = co_loop_spawn(l, &t, "generator shutdown", shutdown_task, &deadline, NULL);
        if (r < 0)
                return r;
        /* It stops the loop when it is done; a stop somebody else asked for
         * earlier only ends a round early. */
        while (co_task_get_state(t) != CO_TASK_DONE) {
                r = co_loop_run(l);
                if (r < 0) {
                        /* Not started yet, it never will (and never reads
                         * our deadline); started, it has read it. */
                        co_task_cancel(t, "loop failed");
                        co_task_unref(t);
                        return r;
                }
        }
        r = co_task_get_outcome(t, &o);
        if (r == 0)
                r = o.kind == CO_OUTCOME_RESULT ? 0 : o.value;
        co_task_unref(t);
        return r;
}
