/* SPDX-License-Identifier: MIT */
/*
 * The thread pool.
 *
 * One mutex guards everything the threads share with the rest: the queue,
 * the list of workers, the counters, and the future pointer of each job. A
 * thread completes its job's future with that mutex held, and a shutdown
 * that gives up on a running job takes the future away under the same
 * mutex: from then on the job's thread can reach neither the future nor the
 * loop, so the loop may be freed while the thread runs on.
 *
 * The pool is shared by its owner and its threads (one reference each): a
 * thread let go by a shutdown may outlive co_pool_free, and the last one out
 * frees the pool. A job is owned by the thread that took it off the queue,
 * or by whoever removed it from the queue.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "pool.h"

#define JOB_NAME_MAX 63
/* How long a thread out of work watches the queue before it sleeps. Waking
 * a sleeping thread costs a futex wake and, on an idle CPU (of a VM above
 * all), tens of µs; a task that queues its next job as soon as it has the
 * last one's outcome finds the thread still awake. */
#define SPIN_USEC 50
#define ELEMENTSOF_(a) (sizeof(a) / sizeof((a)[0]))

/* Cancellation reasons; co_pool_run hands out these static copies. */
static const char reason_shutdown[] = "thread pool shut down";
static const char reason_job[] = "job returned -ECANCELED";
static const char reason_left[] = "awaiting task left";

typedef struct job {
        struct job *next;               /* in the queue */
        co_blocking_fn_t fn;
        void *arg;
        co_cleanup_fn_t free_arg;
        co_cleanup_fn_t free_result;
        co_future_t *future;            /* NULL once a shutdown gave up on it */
        char name[];
} job_t;

typedef struct worker {
        pthread_t thread;
        co_pool_t *pool;
        job_t *job;                     /* running, or NULL */
        bool let_go;                    /* detached by a shutdown: frees itself */
        struct worker *next;
} worker_t;

struct co_pool {
        pthread_mutex_t lock;
        pthread_cond_t work;            /* a job was queued, or shutdown */
        pthread_cond_t drained;         /* no job runs any more (shutdown) */
        unsigned refs;                  /* the owner's, and one per live thread */
        co_loop_t *loop;
        unsigned max_threads;
        unsigned n_threads;             /* in workers */
        unsigned n_idle;                /* waiting for work */
        unsigned n_finishing;           /* cleaning up after a job, back soon */
        unsigned n_running;             /* workers with a job */
        size_t n_queued;
        job_t *head;
        job_t *tail;
        worker_t *workers;              /* threads not let go */
        co_future_t *drained_future;    /* what a shutdown from a task awaits */
        bool shutdown;
        bool avoid_submitter_cpu;       /* see co_pool_set_avoid_submitter_cpu */
        int placement_refused;          /* errno of a CPU set refused, to log unlocked */
        _Atomic size_t n_submitted;     /* ever: what spinning threads watch */
};

static unsigned default_max_threads(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        return n > 4 ? (unsigned) n : 4;
}

int co_pool_new(co_pool_t **ret_pool, co_loop_t *loop, unsigned max_threads) {
        pthread_condattr_t attr;
        co_pool_t *p;

        if (!loop)
                loop = co_loop_current();
        if (!loop || !ret_pool)
                return -EINVAL;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->refs = 1;
        p->loop = loop;
        p->max_threads = max_threads ? max_threads : default_max_threads();
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->work, NULL);
        /* Deadlines are CLOCK_MONOTONIC, like co_now(). */
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->drained, &attr);
        pthread_condattr_destroy(&attr);
        *ret_pool = p;
        return 0;
}

static void pool_destroy(co_pool_t *p) {
        pthread_cond_destroy(&p->drained);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

/* A job that will not run (any more): drop what it holds. */
static void job_free(job_t *j) {
        co_future_unref(j->future);
        if (j->free_arg)
                j->free_arg(j->arg);
        free(j);
}

/* The outcome of fn, into the job's future. With the pool locked: see the
 * top of the file. Returns whether it went there. */
static bool job_settle(job_t *j, int r, void *result) {
        if (!j->future)
                return false;
        /* A pointer result only goes with a result value. */
        if (r == -ECANCELED)
                (void) co_future_cancel(j->future, reason_job);
        else if (r < 0)
                (void) co_future_set_error(j->future, r, NULL);
        else
                return co_future_set_result(j->future, r, result) == 0;
        return false;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
}

/* With the pool locked, which it drops meanwhile: watches for a new job
 * for a little while. Counts as finishing, so that a job queued meanwhile
 * neither starts a thread nor signals one. */
static void spin_for_work(co_pool_t *p) {
        size_t seen = atomic_load_explicit(&p->n_submitted, memory_order_relaxed);
        co_usec_t until;

        p->n_finishing++;
        pthread_mutex_unlock(&p->lock);
        until = co_now() + SPIN_USEC;
        while (atomic_load_explicit(&p->n_submitted, memory_order_relaxed) == seen && co_now() < until)
                cpu_relax();
        pthread_mutex_lock(&p->lock);
        p->n_finishing--;
}

static void *worker_main(void *arg) {
        worker_t *w = arg;
        co_pool_t *p = w->pool;
        bool last, let_go = false, spun = false;

        (void) pthread_setname_np(pthread_self(), "co-pool");
        pthread_mutex_lock(&p->lock);
        for (;;) {
                co_future_t *f;
                void *result = NULL;
                bool delivered;
                job_t *j;
                int r;

                j = p->head;
                if (!j) {
                        if (p->shutdown)
                                break;
                        if (!spun) {
                                spun = true;
                                spin_for_work(p);
                                continue;
                        }
                        p->n_idle++;
                        pthread_cond_wait(&p->work, &p->lock);
                        p->n_idle--;
                        continue;
                }
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                p->n_queued--;
                /* Cancelled before it started: it never runs. */
                if (co_future_is_done(j->future)) {
                        p->n_finishing++;
                        pthread_mutex_unlock(&p->lock);
                        job_free(j);
                        pthread_mutex_lock(&p->lock);
                        p->n_finishing--;
                        continue;
                }
                spun = false;
                w->job = j;
                p->n_running++;
                pthread_mutex_unlock(&p->lock);

                r = j->fn(j->arg, &result);

                pthread_mutex_lock(&p->lock);
                f = j->future;
                delivered = job_settle(j, r, result);
                j->future = NULL;
                w->job = NULL;
                let_go = w->let_go;
                /* Let go: no longer counted, nor in the list. */
                if (!let_go) {
                        p->n_finishing++;
                        if (--p->n_running == 0 && p->shutdown) {
                                pthread_cond_broadcast(&p->drained);
                                if (p->drained_future)
                                        (void) co_future_set_result(p->drained_future, 0, NULL);
                        }
                }
                pthread_mutex_unlock(&p->lock);

                /* The job is over. What is left runs before the thread can
                 * be joined, so a shutdown that returns 0 has seen
                 * arguments and undelivered results freed. */
                if (!delivered && result && j->free_result)
                        j->free_result(result);
                if (j->free_arg)
                        j->free_arg(j->arg);
                co_future_unref(f);
                free(j);

                pthread_mutex_lock(&p->lock);
                if (let_go)
                        break;
                p->n_finishing--;
        }
        /* Not let go: a shutdown joins this thread and frees w. */
        last = --p->refs == 0;
        pthread_mutex_unlock(&p->lock);
        if (let_go)
                free(w);
        if (last)
                pool_destroy(p);
        return NULL;
}

int co_pool_set_avoid_submitter_cpu(co_pool_t *p, bool avoid) {
        if (!p)
                return -EINVAL;
        pthread_mutex_lock(&p->lock);
        p->avoid_submitter_cpu = avoid;
        pthread_mutex_unlock(&p->lock);
        return 0;
}

/* Whether the new thread gets a CPU set of its own, in *ret_cpus: that of
 * the calling thread without the CPU it is on, if that leaves any. */
static bool away_cpus(const co_pool_t *p, cpu_set_t *ret_cpus) {
        int here;

        if (!p->avoid_submitter_cpu || (here = sched_getcpu()) < 0 || here >= CPU_SETSIZE ||
            sched_getaffinity(0, sizeof *ret_cpus, ret_cpus) < 0 || !CPU_ISSET(here, ret_cpus) ||
            CPU_COUNT(ret_cpus) < 2)
                return false;
        CPU_CLR(here, ret_cpus);
        return true;
}

/* With the pool locked. */
static int thread_start(co_pool_t *p, worker_t *w) {
        pthread_attr_t attr;
        cpu_set_t cpus;
        int r;

        if (!away_cpus(p, &cpus))
                return pthread_create(&w->thread, NULL, worker_main, w);
        r = pthread_attr_init(&attr);
        if (r != 0)
                return r;
        r = pthread_attr_setaffinity_np(&attr, sizeof cpus, &cpus);
        if (r == 0)
                r = pthread_create(&w->thread, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (r == 0 || r == EAGAIN)
                return r;
        /* A thread anywhere is better than none: setting the CPUs may be
         * forbidden (EPERM: cotaskd.service's system call filter denies
         * sched_setaffinity), or the set have changed under us (EINVAL).
         * No more tries for this pool. */
        p->avoid_submitter_cpu = false;
        p->placement_refused = r;
        return pthread_create(&w->thread, NULL, worker_main, w);
}

/* With the pool locked. */
static int spawn_locked(co_pool_t *p) {
        sigset_t all, old;
        worker_t *w;
        int r;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->pool = p;
        /* Signals are the loop thread's business: the threads inherit a
         * mask that blocks them all. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = thread_start(p, w);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0) {
                free(w);
                return -r;
        }
        w->next = p->workers;
        p->workers = w;
        p->n_threads++;
        p->refs++;
        return 0;
}

int co_pool_submit_with(co_pool_t *p, const char *name, co_blocking_fn_t fn, void *arg,
                        const co_pool_job_opts_t *opts, co_future_t **ret_future) {
        co_future_t *f = NULL;
        int r, refused;
        size_t len;
        job_t *j;

        if (!p || !fn || !ret_future)
                return -EINVAL;
        if (!name)
                name = "job";
        len = strnlen(name, JOB_NAME_MAX);
        j = malloc(sizeof *j + len + 1);
        if (!j)
                return -ENOMEM;
        r = co_future_new(p->loop, &f);
        if (r < 0) {
                free(j);
                return r;
        }
        *j = (job_t) {
                .fn = fn,
                .arg = arg,
                .free_arg = opts ? opts->free_arg : NULL,
                .free_result = opts ? opts->free_result : NULL,
                .future = co_future_ref(f),
        };
        memcpy(j->name, name, len);
        j->name[len] = '\0';

        pthread_mutex_lock(&p->lock);
        if (p->shutdown) {
                r = -ESHUTDOWN;
                goto fail;
        }
        /* A thread that is about to look at the queue again counts as
         * idle: a caller waiting for each job before the next (co_pool_run
         * in a loop) keeps to one thread. */
        if (p->n_idle + p->n_finishing <= p->n_queued && p->n_threads < p->max_threads) {
                r = spawn_locked(p);
                /* With threads left the job will run, later. */
                if (r < 0 && p->n_threads == 0)
                        goto fail;
        }
        if (p->tail)
                p->tail->next = j;
        else
                p->head = j;
        p->tail = j;
        p->n_queued++;
        atomic_fetch_add_explicit(&p->n_submitted, 1, memory_order_relaxed);
        if (p->n_idle > 0)
                pthread_cond_signal(&p->work);
        refused = p->placement_refused;
        p->placement_refused = 0;
        pthread_mutex_unlock(&p->lock);
        if (refused)
                co_log(CO_LOG_NOTICE, "pool: the CPUs of a new thread could not be set (%s): its threads run "
                       "anywhere", strerror(refused));
        *ret_future = f;
        return 0;
fail:
        pthread_mutex_unlock(&p->lock);
        co_future_unref(j->future);
        co_future_unref(f);
        free(j);
        return r;
}

int co_pool_submit(co_pool_t *p, const char *name, co_blocking_fn_t fn, void *arg, co_future_t **ret_future) {
        return co_pool_submit_with(p, name, fn, arg, NULL, ret_future);
}

/* The cancellation messages the pool gives have static copies, so that
 * co_pool_run's outcome does not point into the future it drops. */
static const char *static_reason(const char *m) {
        if (m && strcmp(m, reason_job) == 0)
                return reason_job;
        if (m && strcmp(m, reason_left) == 0)
                return reason_left;
        return reason_shutdown;
}

int co_pool_run_with(co_pool_t *p, const char *name, co_blocking_fn_t fn, void *arg,
                     const co_pool_job_opts_t *opts, co_outcome_t *ret_outcome) {
        co_task_t *self = co__current();
        co_usec_t ignored;
        co_future_t *f = NULL;
        co_outcome_t o;
        int r, c;

        if (!p || !fn)
                return -EINVAL;
        if (!self)
                return -EPERM;
        if (self->loop != p->loop)
                return -EXDEV;
        /* Cancellation is level-triggered: a cancelled task starts nothing. */
        r = co__scope_check(self, &ignored);
        if (r < 0)
                return r;
        r = co_pool_submit_with(p, name, fn, arg, opts, &f);
        if (r < 0)
                return r;
        r = co_future_wait(f, CO_USEC_INFINITY, &o);
        if (r < 0) {
                /* We leave; the job does not. Cancelling the future drops
                 * the job if it has not started, and has its thread discard
                 * the late result. Threads settle futures with the pool
                 * locked: holding it, the future is either still pending or
                 * settled for good. */
                pthread_mutex_lock(&p->lock);
                c = co_future_cancel(f, reason_left);
                pthread_mutex_unlock(&p->lock);
                /* Settled as we left: the result is ours to discard. */
                if (c == -EALREADY && co_future_get_outcome(f, &o) == 0 && o.kind == CO_OUTCOME_RESULT &&
                    o.result && opts && opts->free_result)
                        opts->free_result(o.result);
        } else if (ret_outcome) {
                if (o.kind == CO_OUTCOME_CANCELLED)
                        o.message = static_reason(o.message);
                else
                        o.message = NULL;
                *ret_outcome = o;
        } else if (o.kind == CO_OUTCOME_RESULT && o.result && opts && opts->free_result) {
                /* Nobody asked for it. */
                opts->free_result(o.result);
        }
        co_future_unref(f);
        return r;
}

int co_pool_run(co_pool_t *p, const char *name, co_blocking_fn_t fn, void *arg, co_outcome_t *ret_outcome) {
        return co_pool_run_with(p, name, fn, arg, NULL, ret_outcome);
}

int co_loop_get_default_pool(co_loop_t *l, co_pool_t **ret_pool) {
        int r;

        if (!l || !ret_pool)
                return -EINVAL;
        if (!l->default_pool) {
                r = co_pool_new(&l->default_pool, l, 0);
                if (r < 0)
                        return r;
        }
        *ret_pool = l->default_pool;
        return 0;
}

int co_to_thread_with(const char *name, co_blocking_fn_t fn, void *arg, const co_pool_job_opts_t *opts,
                      co_outcome_t *ret_outcome) {
        co_task_t *self = co__current();
        co_pool_t *p;
        int r;

        if (!self)
                return -EPERM;
        r = co_loop_get_default_pool(self->loop, &p);
        if (r < 0)
                return r;
        return co_pool_run_with(p, name, fn, arg, opts, ret_outcome);
}

int co_to_thread(const char *name, co_blocking_fn_t fn, void *arg, co_outcome_t *ret_outcome) {
        return co_to_thread_with(name, fn, arg, NULL, ret_outcome);
}

/* ---- shutdown ------------------------------------------------------------ */

/* No more jobs; the queued ones are cancelled. */
static void stop_taking(co_pool_t *p) {
        job_t *j;

        pthread_mutex_lock(&p->lock);
        p->shutdown = true;
        j = p->head;
        p->head = p->tail = NULL;
        p->n_queued = 0;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->lock);
        /* Outside the lock: cancelling runs done callbacks, which may well
         * call into the pool. */
        while (j) {
                job_t *next = j->next;

                (void) co_future_cancel(j->future, reason_shutdown);
                job_free(j);
                j = next;
        }
}

static int wait_running(co_pool_t *p, co_usec_t deadline) {
        co_task_t *self = co__current();
        co_future_t *f;
        int r = 0;

        /* From a task of the pool's loop: wait as a task, the loop runs on. */
        if (self && self->loop == p->loop) {
                pthread_mutex_lock(&p->lock);
                if (p->n_running == 0) {
                        pthread_mutex_unlock(&p->lock);
                        return 0;
                }
                if (!p->drained_future)
                        r = co_future_new(p->loop, &p->drained_future);
                f = co_future_ref(p->drained_future);
                pthread_mutex_unlock(&p->lock);
                if (r < 0)
                        return r;
                r = co_future_wait(f, deadline, NULL);
                co_future_unref(f);
                return r;
        }
        pthread_mutex_lock(&p->lock);
        while (p->n_running > 0 && r == 0) {
                if (deadline == CO_USEC_INFINITY) {
                        pthread_cond_wait(&p->drained, &p->lock);
                } else {
                        struct timespec ts = {
                                .tv_sec = (time_t) (deadline / CO_USEC_PER_SEC),
                                .tv_nsec = (long) (deadline % CO_USEC_PER_SEC) * 1000,
                        };

                        if (pthread_cond_timedwait(&p->drained, &p->lock, &ts) == ETIMEDOUT &&
                            p->n_running > 0)
                                r = -ETIMEDOUT;
                }
        }
        pthread_mutex_unlock(&p->lock);
        return r;
}

/* Lets go of every thread still running a job: it is detached, its job's
 * future cancelled, and it frees itself and its job when the job returns.
 * Logs which jobs they were; returns how many. */
static unsigned give_up(co_pool_t *p, const char *what) {
        char names[512] = "";
        size_t len = 0;
        unsigned n = 0;

        for (;;) {
                /* A few at a time: the futures are cancelled unlocked. */
                co_future_t *futures[16];
                size_t k = 0;

                pthread_mutex_lock(&p->lock);
                for (worker_t **pw = &p->workers; *pw && k < ELEMENTSOF_(futures);) {
                        worker_t *w = *pw;

                        if (!w->job) {
                                pw = &w->next;
                                continue;
                        }
                        if (len < sizeof names - 1) {
                                int m = snprintf(names + len, sizeof names - len, "%s%s", n ? "," : "",
                                                 w->job->name);

                                len = m < 0 ? len : len + (size_t) m;
                        }
                        futures[k++] = w->job->future;
                        w->job->future = NULL;
                        w->let_go = true;
                        (void) pthread_detach(w->thread);
                        *pw = w->next;
                        p->n_threads--;
                        p->n_running--;
                        n++;
                }
                pthread_mutex_unlock(&p->lock);
                if (k == 0)
                        break;
                for (size_t i = 0; i < k; i++) {
                        (void) co_future_cancel(futures[i], reason_shutdown);
                        co_future_unref(futures[i]);
                }
        }
        if (n > 0) {
                const co_log_field_t fields[] = { { "jobs", names } };

                if (len >= sizeof names - 1)
                        memcpy(names + sizeof names - 4, "...", 4);
                co_log_fields(CO_LOG_WARNING, fields, 1, "%s with %u job%s still running: %s", what, n,
                              n == 1 ? "" : "s", names);
        }
        return n;
}

/* Joins the threads that are not running a job: told to stop, they are
 * exiting. */
static void join_idle(co_pool_t *p) {
        worker_t *w, *keep = NULL, *done = NULL;

        pthread_mutex_lock(&p->lock);
        while ((w = p->workers)) {
                p->workers = w->next;
                if (w->job) {
                        w->next = keep;
                        keep = w;
                } else {
                        w->next = done;
                        done = w;
                        p->n_threads--;
                }
        }
        p->workers = keep;
        pthread_mutex_unlock(&p->lock);
        while ((w = done)) {
                done = w->next;
                (void) pthread_join(w->thread, NULL);
                free(w);
        }
}

int co_pool_shutdown(co_pool_t *p, co_usec_t deadline) {
        int r;

        if (!p)
                return -EINVAL;
        stop_taking(p);
        r = wait_running(p, deadline);
        if (r == -ETIMEDOUT)
                r = give_up(p, "thread pool shutdown timed out") > 0 ? -ETIMEDOUT : 0;
        else if (r < 0)
                return r;
        join_idle(p);
        return r;
}

co_pool_t *co_pool_free(co_pool_t *p) {
        co_future_t *f;
        bool last;

        if (!p)
                return NULL;
        stop_taking(p);
        (void) give_up(p, "thread pool freed");
        join_idle(p);
        pthread_mutex_lock(&p->lock);
        f = p->drained_future;
        p->drained_future = NULL;
        last = --p->refs == 0;
        pthread_mutex_unlock(&p->lock);
        co_future_unref(f);
        if (last)
                pool_destroy(p);
        return NULL;
}

unsigned co_pool_get_n_threads(co_pool_t *p) {
        unsigned n;

        if (!p)
                return 0;
        pthread_mutex_lock(&p->lock);
        n = p->n_threads;
        pthread_mutex_unlock(&p->lock);
        return n;
}

int co_loop_shutdown_default_pool(co_loop_t *l, co_usec_t deadline) {
        if (!l)
                return -EINVAL;
        return l->default_pool ? co_pool_shutdown(l->default_pool, deadline) : 0;
}

void co__pool_loop_free(co_loop_t *l) {
        l->default_pool = co_pool_free(l->default_pool);
}
