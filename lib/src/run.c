/* SPDX-License-Identifier: MIT */
/*
 * co_run, the asyncio.run of cotask: run a main task, then take everything
 * else down in order, each step under the same shutdown deadline.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include "internal.h"

/* How often the tasks left after main are cancelled again: tasks that
 * spawn more while they wind down get those cancelled too. */
#define RECANCEL_USEC (100 * CO_USEC_PER_MSEC)

typedef struct run_state {
        co_loop_t *loop;
        co_task_t *main;
        unsigned sigints;
        bool forced;
} run_state_t;

static void on_main_done(co_task_t *t, void *userdata) {
        (void) t;
        co_loop_stop(((run_state_t *) userdata)->loop);
}

/* The first SIGINT cancels the main task (asyncio 3.11); the next one
 * stops waiting for anything. */
static void on_sigint(evutil_socket_t fd, short what, void *arg) {
        run_state_t *st = arg;

        (void) fd;
        (void) what;
        if (st->sigints++ == 0 && co_task_get_state(st->main) != CO_TASK_DONE) {
                co_log(CO_LOG_NOTICE, "SIGINT: cancelling the main task");
                co_task_cancel(st->main, "SIGINT");
                return;
        }
        co_log(CO_LOG_WARNING, "SIGINT again: no more waiting");
        st->forced = true;
        co_loop_stop(st->loop);
}

static int name_straggler(co_task_t *t, unsigned depth, void *userdata) {
        co_log_field_t f[] = { { "task", co_task_get_name(t) } };
        const char *wait = co_task_get_wait(t);

        (void) depth;
        (void) userdata;
        co_log_fields(CO_LOG_WARNING, f, 1, "task '%s' still running at the shutdown deadline (%s)",
                      co_task_get_name(t), wait ? wait : co_task_state_to_string(co_task_get_state(t)));
        return 0;
}

/* Cancels what is left until nothing is, or the deadline. */
static int wind_down(run_state_t *st, co_usec_t deadline) {
        co_loop_t *l = st->loop;

        while (l->n_tasks > 0 && !st->forced) {
                co_usec_t now = co_now(), until;
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                for (co_task_t *t = l->first_root; t; t = t->next_sibling)
                        co_task_cancel(t, "main task ended");
                until = deadline - now > RECANCEL_USEC ? now + RECANCEL_USEC : deadline;
                r = co_loop_run_until(l, until);
                if (r < 0 && r != -ETIMEDOUT)
                        return r;
        }
        return st->forced ? -EINTR : 0;
}

int co_run(co_task_fn_t main_fn, void *arg, const co_run_opts_t *opts, co_outcome_t *ret_outcome) {
        co_usec_t timeout = opts && opts->shutdown_timeout ? opts->shutdown_timeout : 5 * CO_USEC_PER_SEC;
        run_state_t st = { 0 };
        struct event *sigint = NULL;
        co_usec_t deadline;
        int r;

        r = co_loop_new(&st.loop);
        if (r < 0)
                return r;
        if (opts && opts->debug)
                (void) co_loop_set_debug(st.loop, true);
        r = co_loop_spawn(st.loop, &st.main, "main", main_fn, arg, NULL);
        if (r < 0)
                goto fail;
        r = co_task_add_done_callback(st.main, on_main_done, &st);
        if (r < 0)
                goto fail;
        if (!opts || !opts->no_signals) {
                sigint = evsignal_new(st.loop->base, SIGINT, on_sigint, &st);
                if (!sigint || event_add(sigint, NULL) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
        }

        r = co_loop_run(st.loop);
        if (r < 0)
                goto fail;
        deadline = co_deadline_after(timeout);
        r = wind_down(&st, deadline);
        if (r == 0)
                r = co_loop_shutdown_generators(st.loop, deadline);
        if (r == 0)
                r = co_loop_shutdown_default_pool(st.loop, deadline);
        if (st.loop->n_tasks > 0) {
                /* Past the deadline, or told to stop waiting: name what is
                 * left and leave it (and the loop) to the process's exit. */
                (void) co_loop_foreach_task(st.loop, name_straggler, NULL);
                co_log(CO_LOG_ERR, "run: %zu tasks still running, left behind", st.loop->n_tasks);
                if (ret_outcome)
                        (void) co_task_get_outcome(st.main, ret_outcome);
                if (ret_outcome)
                        ret_outcome->message = NULL;
                if (sigint)
                        event_free(sigint);
                return st.forced ? -EINTR : -ETIMEDOUT;
        }
        if (ret_outcome) {
                (void) co_task_get_outcome(st.main, ret_outcome);
                ret_outcome->message = NULL;    /* it dies with the task */
        }
        r = r == -ETIMEDOUT || r == -EINTR ? r : 0;
fail:
        if (sigint)
                event_free(sigint);
        co_task_unref(st.main);
        co_loop_free(st.loop);
        return r;
}
