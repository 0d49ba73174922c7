/* SPDX-License-Identifier: MIT */
/*
 * Tasks: spawn, the task tree, join, cancellation, cleanups, outcomes.
 * A task holds a stack only from its first run to its end; its struct goes
 * when it has ended and the last reference is gone.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static co__reason_t *reason_new(const char *text) {
        size_t n = strlen(text);
        co__reason_t *r = malloc(sizeof *r + n + 1);

        if (r) {
                r->refs = 1;
                memcpy(r->text, text, n + 1);
        }
        return r;
}

static co__reason_t *reason_ref(co__reason_t *r) {
        if (r)
                r->refs++;
        return r;
}

static void reason_unref(co__reason_t *r) {
        if (r && --r->refs == 0)
                free(r);
}

/* ---- the tree -------------------------------------------------------- */

static void tree_link(co_loop_t *l, co_task_t *parent, co_task_t *t) {
        co_task_t **first = parent ? &parent->first_child : &l->first_root;
        co_task_t **last = parent ? &parent->last_child : &l->last_root;

        t->parent = parent;
        t->prev_sibling = *last;
        t->next_sibling = NULL;
        if (*last)
                (*last)->next_sibling = t;
        else
                *first = t;
        *last = t;
}

static void tree_unlink(co_loop_t *l, co_task_t *t) {
        co_task_t *parent = t->parent;
        co_task_t **first = parent ? &parent->first_child : &l->first_root;
        co_task_t **last = parent ? &parent->last_child : &l->last_root;

        if (t->prev_sibling)
                t->prev_sibling->next_sibling = t->next_sibling;
        else
                *first = t->next_sibling;
        if (t->next_sibling)
                t->next_sibling->prev_sibling = t->prev_sibling;
        else
                *last = t->prev_sibling;
        t->prev_sibling = t->next_sibling = NULL;
}

/* Pre-order walk of t's subtree without recursion; returns the node after
 * `cur` in the walk of `top`, or NULL. */
static co_task_t *subtree_next(co_task_t *top, co_task_t *cur) {
        if (cur->first_child)
                return cur->first_child;
        while (cur != top) {
                if (cur->next_sibling)
                        return cur->next_sibling;
                cur = cur->parent;
        }
        return NULL;
}

/* ---- spawn and free --------------------------------------------------- */

static void task_free(co_task_t *t) {
        while (t->done_cbs) {
                co__done_cb_t *cb = t->done_cbs;

                t->done_cbs = cb->next;
                free(cb);
        }
        reason_unref(t->cancel_reason);
        free(t->error_message);
        free(t);
}

static int spawn(co_loop_t *l, co_task_t *parent, co_task_t **ret_task, const char *name,
                 co_task_fn_t fn, void *arg, const co_task_opts_t *opts) {
        size_t stack = opts && opts->stack_size ? opts->stack_size : CO_STACK_SIZE_DEFAULT;
        size_t name_len;
        co_task_t *t;

        if (!fn || !name)
                return -EINVAL;
        if (stack < 4096 || stack > ((size_t) 1 << 30))
                return -EINVAL;
        name_len = strnlen(name, CO__NAME_MAX);
        t = malloc(sizeof *t + name_len + 1);
        if (!t)
                return -ENOMEM;
        *t = (co_task_t) {
                .loop = l,
                .fn = fn,
                .arg = arg,
                .heap_index = SIZE_MAX,
                .grace = opts && opts->grace_usec ? opts->grace_usec : CO_GRACE_DEFAULT_USEC,
                .detached = opts && (opts->flags & CO_TASK_DETACHED),
                .refs = ret_task ? 2 : 1,
                .stack_size = stack,
        };
        memcpy(t->name, name, name_len);
        t->name[name_len] = '\0';
        tree_link(l, t->detached ? NULL : parent, t);
        l->n_tasks++;
        co__ready(l, t);
        /* A child of a cancelled task starts cancelled, so it never runs;
         * unless the parent spawns it from a shielded cleanup. */
        if (parent && !t->detached && parent->cancelled && co__task_cancel_applies(parent))
                co_task_cancel(t, parent->cancel_reason ? parent->cancel_reason->text : NULL);
        if (ret_task)
                *ret_task = t;
        return 0;
}

int co__task_start(co_task_t *t) {
        char *lo;
        int r;

        r = co__stacks_get(&t->loop->stacks, t->stack_size, &t->slot);
        if (r < 0)
                return r;
        /* The canary, if any, stays below the usable stack. */
        lo = t->slot.base + (t->slot.guard_size ? t->slot.guard_size : CO__CANARY_WORDS * sizeof(uint64_t));
        co__fiber_init(&t->fiber, lo, (size_t) (t->slot.base + t->slot.size - lo), co__task_entry, t);
        return 0;
}

static void task_stop(co_task_t *t) {
        if (!t->slot.base)
                return;
        co__fiber_destroy(&t->fiber);
        co__stacks_put(&t->loop->stacks, &t->slot);
        t->slot.base = NULL;
}

int co_loop_spawn(co_loop_t *l, co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg,
                  const co_task_opts_t *opts) {
        if (!l)
                return -EINVAL;
        return spawn(l, NULL, ret_task, name, fn, arg, opts);
}

int co_spawn_with(co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg,
                  const co_task_opts_t *opts) {
        co_task_t *self = co__current();

        if (!self)
                return -EPERM;
        return spawn(self->loop, self, ret_task, name, fn, arg, opts);
}

int co_spawn(co_task_t **ret_task, const char *name, co_task_fn_t fn, void *arg) {
        return co_spawn_with(ret_task, name, fn, arg, NULL);
}

static void report_unretrieved(co_task_t *t) {
        co_log_field_t f[] = {
                { "task", t->name },
                { "error", strerror(-t->outcome_value) },
        };

        t->retrieved = true;
        co_log_fields(CO_LOG_ERR, f, 2, "task '%s' failed and nobody joined it: %s%s%s", t->name,
                      strerror(-t->outcome_value), t->error_message ? ": " : "",
                      t->error_message ? t->error_message : "");
}

co_task_t *co_task_ref(co_task_t *t) {
        if (t)
                t->refs++;
        return t;
}

co_task_t *co_task_unref(co_task_t *t) {
        if (!t)
                return NULL;
        if (--t->refs > 0)
                return NULL;
        if (t->outcome_kind == CO_OUTCOME_ERROR && !t->retrieved)
                report_unretrieved(t);
        task_free(t);
        return NULL;
}

/* ---- ending ----------------------------------------------------------- */

static void finish(co_task_t *t);

static void set_outcome(co_task_t *t, int r) {
        t->outcome_value = r;
        if (r >= 0)
                t->outcome_kind = CO_OUTCOME_RESULT;
        else if (r == -ECANCELED)
                t->outcome_kind = CO_OUTCOME_CANCELLED;
        else
                t->outcome_kind = CO_OUTCOME_ERROR;
}

/* The parent's end: cancel what is left of the children and wait for all
 * of them, whatever happens to the parent meanwhile. */
static void end_children(co_task_t *self) {
        co_shield_t unbounded;

        if (!self->first_child)
                return;
        for (co_task_t *c = self->first_child; c; c = c->next_sibling)
                co_task_cancel(c, "parent task ended");
        co_shield_begin(&unbounded, CO_USEC_INFINITY);
        while (self->first_child) {
                self->wait_kind = CO__WAIT_CHILDREN;
                (void) co__suspend(self, CO_USEC_INFINITY);
        }
        co_shield_end(&unbounded);
}

static void run_cleanups(co_task_t *self) {
        co_shield_t grace;

        if (!self->cleanups)
                return;
        co_shield_begin(&grace, co_task_grace_deadline());
        while (self->cleanups) {
                co__cleanup_t *c = self->cleanups;

                self->cleanups = c->next;
                c->fn(c->arg);
                free(c);
        }
        co_shield_end(&grace);
}

void co__task_entry(void *arg) {
        co_task_t *t = arg;

        co__fiber_started();
        co__reap_zombie(t->loop);
        t->started = true;
        set_outcome(t, t->fn(t->arg));
        end_children(t);
        run_cleanups(t);
        /* Done callbacks run on the loop, not in a task. */
        t->loop->current = NULL;
        finish(t);
        co__exit(t);
}

void co__task_end_unstarted(co_task_t *t, int r) {
        set_outcome(t, r);
        finish(t);
        co__task_release(t);
}

/* Drops the loop's hold on an ended task: its stack, then its reference.
 * Runs off the task's stack. */
void co__task_release(co_task_t *t) {
        task_stop(t);
        co_task_unref(t);
}

/* The task has ended: tell everyone who waits. Still on its stack. */
static void finish(co_task_t *t) {
        co_loop_t *l = t->loop;
        co_task_t *parent = t->parent;

        t->state = CO_TASK_DONE;
        l->n_tasks--;
        tree_unlink(l, t);
        if (parent && !parent->first_child && parent->wait_kind == CO__WAIT_CHILDREN)
                co__wake(parent, 0);
        t->joined_live = t->joiners != NULL;
        while (t->joiners) {
                co__waiter_t *w = t->joiners;

                t->joiners = w->next;
                co__wake(w->task, 0);
        }
        while (t->done_cbs) {
                co__done_cb_t *cb = t->done_cbs;

                t->done_cbs = cb->next;
                cb->fn(t, cb->userdata);
                free(cb);
        }
        /* Nobody waits and nobody holds it: nobody ever will see the error. */
        if (t->outcome_kind == CO_OUTCOME_ERROR && !t->joined_live && !t->retrieved && t->refs == 1)
                report_unretrieved(t);
}

/* ---- join ------------------------------------------------------------- */

static void fill_outcome(co_task_t *t, co_outcome_t *o) {
        t->retrieved = true;
        if (!o)
                return;
        *o = (co_outcome_t) {
                .kind = t->outcome_kind,
                .value = t->outcome_value,
                .result = t->outcome_kind == CO_OUTCOME_RESULT ? t->result : NULL,
        };
        if (t->outcome_kind == CO_OUTCOME_ERROR)
                o->message = t->error_message;
        else if (t->outcome_kind == CO_OUTCOME_CANCELLED)
                o->message = t->cancel_reason ? t->cancel_reason->text : NULL;
}

int co_task_get_outcome(co_task_t *t, co_outcome_t *ret_outcome) {
        if (!t)
                return -EINVAL;
        if (t->state != CO_TASK_DONE)
                return -EBUSY;
        fill_outcome(t, ret_outcome);
        return 0;
}

int co_task_join_until(co_task_t *t, co_usec_t deadline, co_outcome_t *ret_outcome) {
        co_task_t *self = co__current();
        co__waiter_t w;
        int r;

        if (!t)
                return -EINVAL;
        /* Level-triggered: a cancelled caller stops here, done or not. */
        r = co__checkpoint(self);
        if (r < 0)
                return r;
        if (t->state == CO_TASK_DONE)
                return co_task_get_outcome(t, ret_outcome);
        if (!self)
                return -EPERM;
        if (t->loop != self->loop)
                return -EXDEV;
        for (co_task_t *a = self; a; a = a->parent)
                if (a == t)
                        return -EDEADLK;

        w = (co__waiter_t) { .task = self, .next = t->joiners };
        t->joiners = &w;
        self->wait_kind = CO__WAIT_JOIN;
        self->wait_task = t;
        r = co__suspend(self, deadline);
        if (t->state == CO_TASK_DONE)
                return co_task_get_outcome(t, ret_outcome);
        for (co__waiter_t **p = &t->joiners; *p; p = &(*p)->next)
                if (*p == &w) {
                        *p = w.next;
                        break;
                }
        return r < 0 ? r : -EIO;
}

int co_task_join(co_task_t *t, co_outcome_t *ret_outcome) {
        return co_task_join_until(t, CO_USEC_INFINITY, ret_outcome);
}

/* ---- cancellation ----------------------------------------------------- */

/* Cancelling many tasks one by one with the same reason shares one copy. */
static co__reason_t *reason_get(co_loop_t *l, const char *text) {
        if (!l->last_reason || strcmp(l->last_reason->text, text) != 0) {
                co__reason_t *r = reason_new(text);

                if (!r)
                        return NULL;
                reason_unref(l->last_reason);
                l->last_reason = r;
        }
        return reason_ref(l->last_reason);
}

void co__reason_unref(co__reason_t *r) {
        reason_unref(r);
}

void co_task_cancel(co_task_t *t, const char *reason) {
        co__reason_t *why = NULL;

        if (!t || t->state == CO_TASK_DONE)
                return;
        for (co_task_t *c = t; c; c = subtree_next(t, c)) {
                if (c->cancelled)
                        continue;
                /* Out of memory for the reason: cancel without one. */
                if (!why)
                        why = reason_get(t->loop, reason ? reason : "cancelled");
                c->cancelled = true;
                c->cancel_reason = reason_ref(why);
                if (CO__UNLIKELY(c->loop->debug))
                        c->cancelled_at = co_now();
                if (c->state == CO_TASK_SUSPENDED && co__task_cancel_applies(c))
                        co__wake(c, -ECANCELED);
        }
        reason_unref(why);
}

bool co_task_is_cancelled(const co_task_t *t) {
        return t && t->cancelled;
}

const char *co_task_get_cancel_reason(const co_task_t *t) {
        return t && t->cancel_reason ? t->cancel_reason->text : NULL;
}

/* ---- cancel scopes and shields ------------------------------------------ */

bool co__task_cancel_applies(const co_task_t *t) {
        for (const co_scope_t *sc = t->scope; sc; sc = sc->outer)
                if (sc->flags & CO_SCOPE_SHIELD)
                        return false;
        return true;
}

int co__scope_check(co_task_t *t, co_usec_t *ret_deadline) {
        co_usec_t d = CO_USEC_INFINITY, now = 0;
        bool shielded = false;

        for (co_scope_t *sc = t->scope; sc; sc = sc->outer) {
                bool grace = sc->flags & CO__SCOPE_GRACE;

                /* Past a shield only the deadlines of enclosing cleanups
                 * still bind: nested shields keep the earliest. */
                if (shielded && !grace)
                        continue;
                if (!sc->cancelled && sc->deadline != CO_USEC_INFINITY) {
                        if (!now)
                                now = co_now();
                        if (now >= sc->deadline)
                                sc->cancelled = true;
                        else if (sc->deadline < d)
                                d = sc->deadline;
                }
                if (sc->cancelled)
                        return grace ? -ETIMEDOUT : -ECANCELED;
                if (sc->flags & CO_SCOPE_SHIELD)
                        shielded = true;
        }
        if (!shielded && t->cancelled)
                return -ECANCELED;
        *ret_deadline = d;
        return 0;
}

void co_scope_begin(co_scope_t *sc, co_usec_t deadline, unsigned flags) {
        co_task_t *self = co__current();

        *sc = (co_scope_t) { .deadline = deadline, .flags = flags, .task = self };
        if (self) {
                sc->outer = self->scope;
                self->scope = sc;
        }
}

int co_scope_end(co_scope_t *sc) {
        co_task_t *self = sc->task;
        co_usec_t ignored;

        if (!self)
                return 0;
        if (self->scope == sc)
                self->scope = sc->outer;
        /* A shield catches nothing: no need to look at the clock for it. */
        if (sc->flags & CO__SCOPE_GRACE)
                return 0;
        if (!sc->cancelled && sc->deadline != CO_USEC_INFINITY && co_now() >= sc->deadline)
                sc->cancelled = true;
        if (sc->cancelled) {
                sc->caught = true;
                return (sc->flags & CO_SCOPE_FAIL) && sc->deadline != CO_USEC_INFINITY &&
                       co_now() >= sc->deadline ? -ETIMEDOUT : 0;
        }
        /* Not ours to catch: a cancellation from outside goes on. */
        if (!self->scope ? self->cancelled : co__scope_check(self, &ignored) == -ECANCELED)
                return -ECANCELED;
        return 0;
}

void co_scope_cancel(co_scope_t *sc) {
        co_task_t *t = sc->task;

        if (sc->cancelled)
                return;
        sc->cancelled = true;
        if (!t || t->state != CO_TASK_SUSPENDED)
                return;
        /* A shield inside the scope keeps this away from the code in it. */
        for (co_scope_t *in = t->scope; in && in != sc; in = in->outer)
                if (in->flags & CO_SCOPE_SHIELD)
                        return;
        co__wake(t, -ECANCELED);
}

void co_shield_begin(co_shield_t *sh, co_usec_t deadline) {
        co_scope_begin(sh, deadline, CO_SCOPE_SHIELD | CO__SCOPE_GRACE);
}

void co_shield_end(co_shield_t *sh) {
        (void) co_scope_end(sh);
}

co_usec_t co_task_grace_deadline(void) {
        co_task_t *self = co__current();

        return co_deadline_after(self ? self->grace : CO_GRACE_DEFAULT_USEC);
}

int co_defer(co_cleanup_fn_t fn, void *arg) {
        co_task_t *self = co__current();
        co__cleanup_t *c;

        if (!self)
                return -EPERM;
        if (!fn)
                return -EINVAL;
        c = malloc(sizeof *c);
        if (!c)
                return -ENOMEM;
        *c = (co__cleanup_t) { .fn = fn, .arg = arg, .next = self->cleanups };
        self->cleanups = c;
        return 0;
}

/* ---- accessors -------------------------------------------------------- */

co_task_t *co_task_current(void) {
        return co__current();
}

const char *co_task_get_name(const co_task_t *t) {
        return t ? t->name : NULL;
}

co_task_state_t co_task_get_state(const co_task_t *t) {
        return t ? t->state : CO_TASK_DONE;
}

co_task_t *co_task_get_parent(const co_task_t *t) {
        return t ? t->parent : NULL;
}

size_t co_task_get_stack_size(const co_task_t *t) {
        if (!t)
                return 0;
        return t->slot.base ? t->fiber.stack_size : t->stack_size;
}

const char *co_task_state_to_string(co_task_state_t s) {
        switch (s) {
        case CO_TASK_READY: return "ready";
        case CO_TASK_RUNNING: return "running";
        case CO_TASK_SUSPENDED: return "suspended";
        case CO_TASK_DONE: return "done";
        }
        return "?";
}

const char *co_task_get_wait(const co_task_t *t) {
        char *text;

        if (!t || t->state != CO_TASK_SUSPENDED)
                return NULL;
        switch (t->wait_kind) {
        case CO__WAIT_SLEEP:
                return "sleep";
        case CO__WAIT_CHILDREN:
                return "children";
        case CO__WAIT_FD:
                text = t->loop->wait_text;
                snprintf(text, sizeof t->loop->wait_text, "fd %d %s", t->wait_fd,
                         t->wait_events == (CO_FD_READABLE | CO_FD_WRITABLE) ? "readable|writable"
                         : t->wait_events & CO_FD_READABLE ? "readable" : "writable");
                return text;
        case CO__WAIT_JOIN:
                text = t->loop->wait_text;
                snprintf(text, sizeof t->loop->wait_text, "join '%s'", t->wait_task->name);
                return text;
        case CO__WAIT_LABEL:
                return t->wait_label;
        case CO__WAIT_NONE:
                break;
        }
        return NULL;
}

void co_task_set_result(void *result) {
        co_task_t *self = co__current();

        if (self)
                self->result = result;
}

void co_task_set_error(const char *fmt, ...) {
        co_task_t *self = co__current();
        va_list ap;
        char *s;

        if (!self)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(self->error_message);
        self->error_message = s;
}

int co_task_add_done_callback(co_task_t *t, co_task_done_fn_t fn, void *userdata) {
        co__done_cb_t *cb, **tail;

        if (!t || !fn)
                return -EINVAL;
        if (t->state == CO_TASK_DONE) {
                fn(t, userdata);
                return 0;
        }
        cb = malloc(sizeof *cb);
        if (!cb)
                return -ENOMEM;
        *cb = (co__done_cb_t) { .fn = fn, .userdata = userdata };
        for (tail = &t->done_cbs; *tail; tail = &(*tail)->next)
                ;
        *tail = cb;
        return 0;
}

int co_task_format(co_task_t *t, char *buf, size_t size) {
        int n;

        if (!t || !buf)
                return -EINVAL;
        switch (t->state == CO_TASK_DONE ? (int) t->outcome_kind : -1) {
        case -1:
                n = snprintf(buf, size, "<Task pending name='%s'%s%s>", t->name,
                             t->state == CO_TASK_SUSPENDED ? " wait=" : "",
                             t->state == CO_TASK_SUSPENDED ? co_task_get_wait(t) ?: "?" : "");
                break;
        case CO_OUTCOME_RESULT:
                if (t->result)
                        n = snprintf(buf, size, "<Task finished name='%s' result=%p>", t->name, t->result);
                else
                        n = snprintf(buf, size, "<Task finished name='%s' result=%d>", t->name, t->outcome_value);
                break;
        case CO_OUTCOME_CANCELLED:
                n = snprintf(buf, size, "<Task cancelled name='%s' reason='%s'>", t->name,
                             t->cancel_reason ? t->cancel_reason->text : "");
                break;
        default:
                n = snprintf(buf, size, "<Task finished name='%s' error=%s%s%s>", t->name,
                             strerror(-t->outcome_value), t->error_message ? ": " : "",
                             t->error_message ? t->error_message : "");
                break;
        }
        return n < 0 ? -EIO : n;
}

int co_task_remove_done_callback(co_task_t *t, co_task_done_fn_t fn, void *userdata) {
        if (!t || !fn)
                return -EINVAL;
        for (co__done_cb_t **p = &t->done_cbs; *p; p = &(*p)->next)
                if ((*p)->fn == fn && (*p)->userdata == userdata) {
                        co__done_cb_t *cb = *p;

                        *p = cb->next;
                        free(cb);
                        return 0;
                }
        return -ENOENT;
}

int co_task_detach(co_task_t *t) {
        if (!t)
                return -EINVAL;
        if (t->state == CO_TASK_DONE || t->detached)
                return 0;
        tree_unlink(t->loop, t);
        t->detached = true;
        tree_link(t->loop, NULL, t);
        return 0;
}

int co_loop_foreach_task(co_loop_t *l, co_task_visit_fn_t fn, void *userdata) {
        if (!l || !fn)
                return -EINVAL;
        for (co_task_t *root = l->first_root; root; root = root->next_sibling) {
                for (co_task_t *t = root; t; t = subtree_next(root, t)) {
                        unsigned depth = 0;
                        int r;

                        for (co_task_t *a = t; a != root; a = a->parent)
                                depth++;
                        r = fn(t, depth, userdata);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}
