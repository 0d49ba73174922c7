/* SPDX-License-Identifier: MIT */
/*
 * The loop and its scheduler. libevent callbacks only mark tasks ready;
 * tasks run from here, in FIFO order, and a task that suspends hands the
 * CPU straight to the next ready task (no detour through the scheduler)
 * until the poll budget says it is time to look at timers and I/O again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "internal.h"
#include "pool.h"

__thread co_loop_t *co__loop_tls __attribute__((tls_model("initial-exec")));

static co_usec_t clock_usec(clockid_t id) {
        struct timespec ts;

        clock_gettime(id, &ts);
        return (co_usec_t) ts.tv_sec * CO_USEC_PER_SEC + (co_usec_t) ts.tv_nsec / 1000;
}

co_usec_t co_now(void) {
        return clock_usec(CLOCK_MONOTONIC);
}

co_usec_t co__now_coarse(void) {
        return clock_usec(CLOCK_MONOTONIC_COARSE);
}

co_usec_t co_deadline_after(co_usec_t usec) {
        co_usec_t now = co_now();

        return usec >= CO_USEC_INFINITY - now ? CO_USEC_INFINITY : now + usec;
}

/* ---- the timer heap ---------------------------------------------------
 * A binary min-heap of deadlines. Disarming (a wake-up before the deadline,
 * the common case) only clears the entry's task: no sifting, so cancelling
 * a hundred thousand sleepers touches no other task. Cleared entries are
 * dropped when their deadline passes, or all at once when they outnumber
 * the armed ones; until then the loop may wake early for one of them. */

static bool timer_before(const co__timer_t *a, const co__timer_t *b) {
        return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(co_loop_t *l, size_t i, co__timer_t e) {
        l->heap[i] = e;
        if (e.task)
                e.task->heap_index = i;
}

static void heap_up(co_loop_t *l, size_t i) {
        co__timer_t e = l->heap[i];

        while (i > 0) {
                size_t p = (i - 1) / 2;

                if (!timer_before(&e, &l->heap[p]))
                        break;
                heap_set(l, i, l->heap[p]);
                i = p;
        }
        heap_set(l, i, e);
}

static void heap_down(co_loop_t *l, size_t i) {
        co__timer_t e = l->heap[i];

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= l->heap_n)
                        break;
                if (c + 1 < l->heap_n && timer_before(&l->heap[c + 1], &l->heap[c]))
                        c++;
                if (!timer_before(&l->heap[c], &e))
                        break;
                heap_set(l, i, l->heap[c]);
                i = c;
        }
        heap_set(l, i, e);
}

static void heap_pop_root(co_loop_t *l) {
        if (!l->heap[0].task)
                l->heap_dead--;
        else
                l->heap[0].task->heap_index = SIZE_MAX;
        if (--l->heap_n > 0) {
                l->heap[0] = l->heap[l->heap_n];
                heap_down(l, 0);
        }
}

/* Drops every disarmed entry and rebuilds the heap in place. */
static void heap_compact(co_loop_t *l) {
        size_t n = 0;

        for (size_t i = 0; i < l->heap_n; i++)
                if (l->heap[i].task)
                        l->heap[n++] = l->heap[i];
        l->heap_n = n;
        l->heap_dead = 0;
        for (size_t i = n / 2; i-- > 0;)
                heap_down(l, i);
        for (size_t i = 0; i < n; i++)
                l->heap[i].task->heap_index = i;
}

static int heap_arm(co_loop_t *l, co_task_t *t, co_usec_t deadline) {
        if (l->heap_n == l->heap_cap) {
                size_t cap = l->heap_cap ? 2 * l->heap_cap : 64;
                co__timer_t *h = realloc(l->heap, cap * sizeof *h);

                if (!h)
                        return -ENOMEM;
                l->heap = h;
                l->heap_cap = cap;
        }
        l->heap[l->heap_n] = (co__timer_t) { .deadline = deadline, .seq = l->heap_seq++, .task = t };
        t->heap_index = l->heap_n++;
        heap_up(l, t->heap_index);
        return 0;
}

static void heap_disarm(co_loop_t *l, co_task_t *t) {
        l->heap[t->heap_index].task = NULL;
        t->heap_index = SIZE_MAX;
        l->heap_dead++;
        if (l->heap_dead == l->heap_n) {
                l->heap_n = l->heap_dead = 0;
        } else if (l->heap_dead > 1024 && l->heap_dead > 4 * (l->heap_n - l->heap_dead)) {
                heap_compact(l);
        }
}

/* ---- ready queue ------------------------------------------------------ */

void co__ready(co_loop_t *l, co_task_t *t) {
        t->state = CO_TASK_READY;
        t->ready_next = NULL;
        if (l->ready_tail)
                l->ready_tail->ready_next = t;
        else
                l->ready_head = t;
        l->ready_tail = t;
}

static co_task_t *ready_pop(co_loop_t *l) {
        co_task_t *t = l->ready_head;

        if (t) {
                l->ready_head = t->ready_next;
                if (!l->ready_head)
                        l->ready_tail = NULL;
        }
        return t;
}

void co__wake(co_task_t *t, int result) {
        if (t->state != CO_TASK_SUSPENDED)
                return;
        t->wake_result = result;
        co__ready(t->loop, t);
}

/* ---- switching ------------------------------------------------------- */

/* Cache lines fetched ahead from a suspended task's saved stack pointer:
 * a task parked in a sleep or a wait has 5 frames there (the switch,
 * switch_away, co__suspend, the waiting call, its caller), 350-500 bytes
 * up to the stack's top. Lines past the top are harmless: a prefetch
 * never faults. */
#define CO__PREFETCH_FRAME_LINES 8

static bool budget_left(co_loop_t *l) {
        if (++l->resumes >= CO__POLL_EVERY_RESUMES)
                return false;
        /* The coarse clock is cheap but not free: look every 16 resumes. */
        return (l->resumes & 15) != 0 || co__now_coarse() < l->poll_due;
}

/* With many tasks, each switch lands on a cold struct and a cold stack,
 * and a resumed task's returns, each waiting for its frame's line (the
 * return predictor knows nothing of a switched stack), pay those misses
 * one after another. Fetch ahead along the ready queue, so that the misses
 * overlap with running next: the frames of the task after next (its
 * struct was fetched one switch ago) and the struct of the one after it
 * (its pointer is in a struct already in cache). The first line of the
 * frames is loaded, not prefetched: every stack is a page of its own whose
 * translation is cold, and a prefetch that misses the TLB may be dropped
 * (it is on the AMD machines measured); the load walks the page tables and
 * the prefetches behind it then find the page. Not for the running task,
 * queued behind next by a yield: its saved stack pointer is stale, inside
 * the frames it has called since (AddressSanitizer objects to reading
 * their redzones: test_loop_yield_behind_one_ready_task), and its stack is
 * in cache anyway. The ucontext backend keeps no stack pointer: no
 * frames fetched there. */
static void prefetch_ahead(const co_loop_t *l, const co_task_t *next) {
        const co_task_t *a = next->ready_next;

        if (!a || a == l->current)
                return;
        if (a->ready_next)
                __builtin_prefetch(a->ready_next);
        if (a->started && a->fiber.ctx.sp) {
                const char *sp = a->fiber.ctx.sp;

                (void) *(const volatile char *) sp;
                for (int i = 1; i < CO__PREFETCH_FRAME_LINES; i++)
                        __builtin_prefetch(sp + 64 * i);
        }
}

static void switch_to_task(co_loop_t *l, co__fiber_t *from, co_task_t *next, bool exiting) {
        prefetch_ahead(l, next);
        if (CO__UNLIKELY(l->debug))
                l->resumed_at = co_now();
        l->current = next;
        next->state = CO_TASK_RUNNING;
        co__fiber_switch(from, &next->fiber, exiting);
}

/* The next ready task to hand the CPU to directly, or NULL for the
 * scheduler: when the poll budget is spent, or when the next task was
 * cancelled before it started (the scheduler ends it without a stack) or
 * no stack can be had for it. */
static co_task_t *next_direct(co_loop_t *l) {
        co_task_t *next = l->ready_head;

        if (!next || !budget_left(l))
                return NULL;
        if (!next->started && (next->cancelled || co__task_start(next) < 0))
                return NULL;
        return ready_pop(l);
}

/* Leaves the running task `self` (already queued or suspended). Returns
 * when self is resumed. */
static void switch_away(co_loop_t *l, co_task_t *self) {
        co_task_t *next;

        if (CO__UNLIKELY(!co__slot_intact(&self->slot)))
                co__overflow_abort(self, "its stack canary was overwritten");
        if (CO__UNLIKELY(l->debug))
                co__debug_slow_resume(l, self);

        if (l->ready_head == self && budget_left(l)) {
                ready_pop(l);
                self->state = CO_TASK_RUNNING;
                return;
        }
        next = next_direct(l);
        if (next) {
                switch_to_task(l, &self->fiber, next, false);
        } else {
                l->current = NULL;
                co__fiber_switch(&self->fiber, &l->sched, false);
        }
        co__reap_zombie(l);
}

_Noreturn void co__exit(co_task_t *self) {
        co_loop_t *l = self->loop;
        co_task_t *next;

        if (CO__UNLIKELY(!co__slot_intact(&self->slot)))
                co__overflow_abort(self, "its stack canary was overwritten");
        if (CO__UNLIKELY(l->debug))
                co__debug_slow_resume(l, self);
        l->zombie = self;
        next = next_direct(l);
        if (next) {
                switch_to_task(l, &self->fiber, next, true);
        } else {
                l->current = NULL;
                co__fiber_switch(&self->fiber, &l->sched, true);
        }
        abort();
}

int co__suspend(co_task_t *self, co_usec_t deadline) {
        co_loop_t *l = self->loop;
        co_usec_t scopes = CO_USEC_INFINITY, d;
        int r;

        /* The common case, no scope at all, stays cheap. */
        if (!self->scope) {
                if (self->cancelled)
                        return -ECANCELED;
        } else {
                r = co__scope_check(self, &scopes);
                if (r < 0)
                        return r;
        }
        d = scopes < deadline ? scopes : deadline;
        self->wake_result = 0;
        if (d != CO_USEC_INFINITY) {
                r = heap_arm(l, self, d);
                if (r < 0)
                        return r;
        }
        self->state = CO_TASK_SUSPENDED;
        switch_away(l, self);
        if (self->heap_index != SIZE_MAX)
                heap_disarm(l, self);
        self->wait_kind = CO__WAIT_NONE;
        r = self->wake_result;
        /* A scope's deadline rather than our own: the scope says what. */
        if (r == -ETIMEDOUT && d < deadline) {
                r = co__scope_check(self, &scopes);
                if (r == 0)
                        r = -ETIMEDOUT;
        }
        return r;
}

int co_task_yield(void) {
        co_task_t *self = co__current();
        int r = co__may_wait(self);

        if (r < 0)
                return r;
        co__ready(self->loop, self);
        switch_away(self->loop, self);
        return 0;
}

int co_sleep_until(co_usec_t deadline) {
        co_task_t *self = co__current();
        int r;

        if (!self)
                return -EPERM;
        self->wait_kind = CO__WAIT_SLEEP;
        r = co__suspend(self, deadline);
        /* Our own deadline passing is success; a shield's is not. */
        if (r == -ETIMEDOUT && co_now() >= deadline)
                return 0;
        return r;
}

int co_sleep(co_usec_t usec) {
        if (usec == 0)
                return co_task_yield();
        return co_sleep_until(co_deadline_after(usec));
}

/* ---- file descriptors ------------------------------------------------ */

typedef struct fd_wait {
        co_task_t *task;
        unsigned ready;
} fd_wait_t;

static void fd_ready(evutil_socket_t fd, short what, void *arg) {
        fd_wait_t *w = arg;

        (void) fd;
        w->ready = (what & EV_READ ? CO_FD_READABLE : 0u) | (what & EV_WRITE ? CO_FD_WRITABLE : 0u);
        co__wake(w->task, 0);
}

int co_fd_wait(int fd, unsigned events, co_usec_t deadline) {
        co_task_t *self = co__current();
        fd_wait_t w = { .task = self };
        struct event ev;
        short what = (short) ((events & CO_FD_READABLE ? EV_READ : 0) | (events & CO_FD_WRITABLE ? EV_WRITE : 0));
        int r;

        if (!self)
                return -EPERM;
        if (fd < 0 || what == 0)
                return -EINVAL;
        /* Before registering anything with libevent. */
        r = co__checkpoint(self);
        if (r < 0)
                return r;
        if (event_assign(&ev, self->loop->base, fd, what, fd_ready, &w) < 0 || event_add(&ev, NULL) < 0)
                return -EINVAL;
        self->loop->n_fd_waits++;
        self->wait_kind = CO__WAIT_FD;
        self->wait_fd = fd;
        self->wait_events = events;
        r = co__suspend(self, deadline);
        event_del(&ev);
        self->loop->n_fd_waits--;
        if (r < 0)
                return r;
        return (int) w.ready;
}

/* ---- posts from other threads ------------------------------------------ */

bool co__loop_is_own_thread(const co_loop_t *l) {
        return pthread_equal(l->thread, pthread_self());
}

void co__loop_post(co_loop_t *l, co__post_t *p) {
        bool was_empty;

        p->next = NULL;
        pthread_mutex_lock(&l->post_lock);
        was_empty = !l->post_head;
        if (l->post_tail)
                l->post_tail->next = p;
        else
                l->post_head = p;
        l->post_tail = p;
        atomic_store_explicit(&l->posted, true, memory_order_release);
        pthread_mutex_unlock(&l->post_lock);
        if (was_empty) {
                uint64_t one = 1;

                (void) !write(l->post_fd, &one, sizeof one);
        }
}

static void drain_posts(co_loop_t *l) {
        co__post_t *p;

        if (!atomic_exchange_explicit(&l->posted, false, memory_order_acquire))
                return;
        pthread_mutex_lock(&l->post_lock);
        p = l->post_head;
        l->post_head = l->post_tail = NULL;
        pthread_mutex_unlock(&l->post_lock);
        while (p) {
                co__post_t *next = p->next;

                p->fn(p->arg);
                p = next;
        }
}

static void post_ready(evutil_socket_t fd, short what, void *arg) {
        uint64_t n;

        (void) what;
        (void) !read(fd, &n, sizeof n);
        drain_posts(arg);
}

/* ---- the loop -------------------------------------------------------- */

static void timer_fired(evutil_socket_t fd, short what, void *arg) {
        co_loop_t *l = arg;

        (void) fd;
        (void) what;
        l->timer_armed = CO_USEC_INFINITY;
}

/* A base of our own, with precise timers and, if asked, one backend. */
static int base_new(const char *backend, struct event_base **ret) {
        struct event_config *cfg = event_config_new();
        const char **methods = event_get_supported_methods();
        bool known = !backend;
        int r = -ENOMEM;

        if (!cfg)
                return -ENOMEM;
        if (event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER) < 0)
                goto out;
        for (size_t i = 0; backend && methods && methods[i]; i++) {
                if (strcmp(methods[i], backend) == 0)
                        known = true;
                else if (event_config_avoid_method(cfg, methods[i]) < 0)
                        goto out;
        }
        r = -ENOTSUP;
        if (!known)
                goto out;
        *ret = event_base_new_with_config(cfg);
        r = *ret ? 0 : -ENOMEM;
out:
        event_config_free(cfg);
        return r;
}

int co_loop_new_with(co_loop_t **ret_loop, const co_loop_opts_t *opts) {
        co_loop_t *l;
        int r = -ENOMEM;

        if (!ret_loop || (opts && opts->base && opts->backend))
                return -EINVAL;
        l = calloc(1, sizeof *l);
        if (!l)
                return -ENOMEM;
        l->timer_armed = CO_USEC_INFINITY;
        l->post_fd = -1;
        if (opts && opts->base) {
                l->base = opts->base;
                l->shared_base = true;
        } else {
                r = base_new(opts ? opts->backend : NULL, &l->base);
                if (r < 0)
                        goto fail;
                r = -ENOMEM;
        }
        l->timer_event = evtimer_new(l->base, timer_fired, l);
        if (!l->timer_event)
                goto fail;
        l->thread = pthread_self();
        pthread_mutex_init(&l->post_lock, NULL);
        l->post_lock_ready = true;
        l->post_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (l->post_fd < 0)
                goto fail;
        l->post_event = event_new(l->base, l->post_fd, EV_READ | EV_PERSIST, post_ready, l);
        if (!l->post_event || event_add(l->post_event, NULL) < 0)
                goto fail;
        co__fiber_init_thread(&l->sched);
        co__overflow_handler_install();
        {
                const char *e = secure_getenv("COTASK_DEBUG");

                if (e && *e && strcmp(e, "0") != 0 && co_loop_set_debug(l, true) < 0)
                        goto fail;
        }
        *ret_loop = l;
        return 0;
fail:
        co_loop_free(l);
        return r;
}

int co_loop_new(co_loop_t **ret_loop) {
        return co_loop_new_with(ret_loop, NULL);
}

const char *co_loop_get_backend(co_loop_t *l) {
        return l ? event_base_get_method(l->base) : NULL;
}

struct event_base *co_loop_get_event_base(co_loop_t *l) {
        return l ? l->base : NULL;
}

co_loop_t *co_loop_current(void) {
        return co__current() ? co__loop_tls : NULL;
}

size_t co_loop_get_n_tasks(co_loop_t *l) {
        return l ? l->n_tasks : 0;
}

void co_loop_stop(co_loop_t *l) {
        if (l)
                l->stop = true;
}

static void expire_timers(co_loop_t *l) {
        co_usec_t now;

        if (l->heap_n == 0)
                return;
        now = co_now();
        while (l->heap_n > 0 && l->heap[0].deadline <= now) {
                co_task_t *t = l->heap[0].task;

                heap_pop_root(l);
                if (t)
                        co__wake(t, -ETIMEDOUT);
        }
}

static int poll_events(co_loop_t *l) {
        drain_posts(l);
        expire_timers(l);
        if (l->ready_head) {
                /* Without fd waits (and with a base of our own) there is
                 * nothing for a non-blocking poll to find: save the
                 * system call. EVLOOP_ONCE: one dispatch. EVLOOP_NONBLOCK
                 * alone dispatches again until one finds nothing, which
                 * a level-triggered event that stays ready (a co_fd_t
                 * whose woken reader has yet to run: it cannot before we
                 * return) never allows. */
                if ((l->n_fd_waits > 0 || l->shared_base) &&
                    event_base_loop(l->base, EVLOOP_NONBLOCK | EVLOOP_ONCE) < 0)
                        return -EIO;
                return 0;
        }
        if (l->heap_n > 0) {
                co_usec_t next = l->heap[0].deadline;

                if (next != l->timer_armed) {
                        co_usec_t now = co_now();
                        co_usec_t delta = next > now ? next - now : 0;
                        struct timeval tv = {
                                .tv_sec = (time_t) (delta / CO_USEC_PER_SEC),
                                .tv_usec = (suseconds_t) (delta % CO_USEC_PER_SEC),
                        };

                        if (evtimer_add(l->timer_event, &tv) < 0)
                                return -EIO;
                        l->timer_armed = next;
                }
        } else if (l->timer_armed != CO_USEC_INFINITY) {
                evtimer_del(l->timer_event);
                l->timer_armed = CO_USEC_INFINITY;
        }
        /* About to sleep: a good moment to give back idle stack arenas. */
        co__stacks_trim(&l->stacks);
        /* Sleeps in the kernel until something happens, even if nothing is
         * registered: tasks that wait on each other forever stay asleep. */
        if (event_base_loop(l->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) < 0)
                return -EIO;
        expire_timers(l);
        return 0;
}

static void run_ready(co_loop_t *l) {
        co_task_t *t;

        l->resumes = 0;
        l->poll_due = co__now_coarse() + CO__POLL_EVERY_USEC;
        while ((t = ready_pop(l))) {
                if (!t->started) {
                        int r = t->cancelled ? -ECANCELED : co__task_start(t);

                        if (r < 0) {
                                co__task_end_unstarted(t, r);
                                continue;
                        }
                }
                switch_to_task(l, &l->sched, t, false);
                co__reap_zombie(l);
                if (l->stop || !budget_left(l))
                        break;
        }
}

static void run_deadline_passed(evutil_socket_t fd, short what, void *arg) {
        (void) fd;
        (void) what;
        *(bool *) arg = true;
}

int co_loop_trim(co_loop_t *l) {
        if (!l)
                return -EINVAL;
        co__stacks_trim(&l->stacks);
        return 0;
}

int co_loop_run_until(co_loop_t *l, co_usec_t deadline) {
        co_loop_t *outer = co__loop_tls;
        struct event *timer = NULL;
        bool passed = false;
        int r = 0;

        if (!l)
                return -EINVAL;
        if (l->running)
                return -EBUSY;
        if (deadline != CO_USEC_INFINITY) {
                co_usec_t now = co_now(), delta = deadline > now ? deadline - now : 0;
                struct timeval tv = {
                        .tv_sec = (time_t) (delta / CO_USEC_PER_SEC),
                        .tv_usec = (suseconds_t) (delta % CO_USEC_PER_SEC),
                };

                timer = evtimer_new(l->base, run_deadline_passed, &passed);
                if (!timer || evtimer_add(timer, &tv) < 0) {
                        if (timer)
                                event_free(timer);
                        return -ENOMEM;
                }
        }
        l->running = true;
        /* Written only when the loop moves to another thread: threads
         * completing futures read it meanwhile. */
        if (!pthread_equal(l->thread, pthread_self()))
                l->thread = pthread_self();
        co__loop_tls = l;
        while (!l->stop && !passed && l->n_tasks > 0) {
                if (l->ready_head)
                        run_ready(l);
                if (l->stop || l->n_tasks == 0)
                        break;
                r = poll_events(l);
                if (r < 0)
                        break;
        }
        co__loop_tls = outer;
        l->running = false;
        l->stop = false;
        if (timer)
                event_free(timer);
        if (l->n_tasks == 0)
                co__stacks_trim(&l->stacks);
        if (r == 0 && passed && l->n_tasks > 0)
                r = -ETIMEDOUT;
        return r;
}

int co_loop_run(co_loop_t *l) {
        return co_loop_run_until(l, CO_USEC_INFINITY);
}

co_loop_t *co_loop_free(co_loop_t *l) {
        if (!l)
                return NULL;
        if (l->n_tasks > 0 && !l->running) {
                for (co_task_t *t = l->first_root; t; t = t->next_sibling)
                        co_task_cancel(t, "loop freed");
                (void) co_loop_run(l);
        }
        if (l->n_tasks > 0)
                co_log(CO_LOG_ERR, "loop freed with %zu tasks still running", l->n_tasks);
        co__pool_loop_free(l);
        /* Completions other threads posted late still hold references. */
        if (l->post_lock_ready)
                drain_posts(l);
        if (l->timer_event)
                event_free(l->timer_event);
        if (l->debug_timer)
                event_free(l->debug_timer);
        if (l->post_event)
                event_free(l->post_event);
        if (l->post_fd >= 0)
                close(l->post_fd);
        if (l->post_lock_ready)
                pthread_mutex_destroy(&l->post_lock);
        if (l->base && !l->shared_base)
                event_base_free(l->base);
        free(l->heap);
        co__reason_unref(l->last_reason);
        co__stacks_release(&l->stacks);
        co__fiber_destroy(&l->sched);
        free(l);
        return NULL;
}
