/* SPDX-License-Identifier: MIT */
/*
 * Supervision, Erlang/OTP style: restart = always | on-failure | never,
 * back-off doubling from restart_delay to restart_delay_max, and at most N
 * restarts within T (restart_intensity), past which the task is marked
 * failed or the daemon told to exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "supervisor.h"
#include "tasks/tasks.h"

struct supervisor {
        const conf_task_t *conf;
        sup_events_t events;
        co_task_t *task;        /* the supervisor's own task */
        sup_state_t state;
        unsigned restarts;
        co_usec_t *recent;      /* times of the last `burst` restarts, a ring */
        unsigned n_recent;
};

const char *sup_state_to_string(sup_state_t st) {
        switch (st) {
        case SUP_STARTING: return "starting";
        case SUP_RUNNING: return "running";
        case SUP_RESTARTING: return "restarting";
        case SUP_STOPPED: return "stopped";
        case SUP_FAILED: return "failed";
        }
        return "?";
}

static void set_state(supervisor_t *s, sup_state_t st) {
        s->state = st;
        if (s->events.changed)
                s->events.changed(s->events.userdata);
}

/* Whether one more restart now stays within the intensity limit. */
static bool within_intensity(supervisor_t *s, co_usec_t now) {
        const conf_intensity_t *in = &s->conf->restart_intensity;
        unsigned within = 0;

        for (unsigned i = 0; i < s->n_recent; i++)
                if (now - s->recent[i] < in->interval_usec)
                        within++;
        if (within >= in->burst)
                return false;
        if (in->burst > 0)
                s->recent[s->restarts % in->burst] = now;
        if (s->n_recent < in->burst)
                s->n_recent++;
        return true;
}

static int run_once(void *arg) {
        supervisor_t *s = arg;
        return s->conf->type->run(s->conf);
}

static void log_exit(const supervisor_t *s, const co_outcome_t *o) {
        char status[64];
        co_log_field_t f[] = {
                { "task", s->conf->name },
                DLOG_FIELD_MSGID(DLOG_MSGID_TASK_EXITED),
                { "status", status },
        };

        if (o->kind == CO_OUTCOME_RESULT)
                snprintf(status, sizeof status, "ok");
        else if (o->kind == CO_OUTCOME_CANCELLED)
                snprintf(status, sizeof status, "stopped");
        else
                snprintf(status, sizeof status, "%s", strerror(-o->value));
        bool why = o->kind == CO_OUTCOME_ERROR && o->message;

        co_log_fields(o->kind == CO_OUTCOME_ERROR ? CO_LOG_WARNING : CO_LOG_INFO, f, 3,
                      "task '%s' exited: %s%s%s", s->conf->name, status, why ? ": " : "", why ? o->message : "");
}

static int supervise(void *arg) {
        supervisor_t *s = arg;
        const conf_task_t *c = s->conf;
        co_usec_t delay = c->restart_delay_usec;
        /* Room for the task's own stop: exec waits stop_timeout, then kills. */
        co_task_opts_t opts = {
                .grace_usec = task_stop_usec(c) + 5 * CO_USEC_PER_SEC,
        };

        for (;;) {
                co_log_field_t started[] = { { "task", c->name }, DLOG_FIELD_MSGID(DLOG_MSGID_TASK_STARTED) };
                co_task_t *t = NULL;
                co_outcome_t o;
                co_usec_t began = co_now();
                bool failed;
                int r;

                r = co_spawn_with(&t, c->name, run_once, s, &opts);
                if (r < 0)
                        return r;
                set_state(s, SUP_RUNNING);
                co_log_fields(CO_LOG_INFO, started, 2, "task '%s' started (%s)", c->name,
                              c->type->name);
                r = co_task_join(t, &o);
                if (r < 0) {
                        co_shield_t sh;

                        /* We are being stopped: so is the task, our child.
                         * Wait for its cleanup (bounded by its grace) to
                         * log how it ended. */
                        co_task_cancel(t, co_task_get_cancel_reason(co_task_current()));
                        co_shield_begin(&sh, CO_USEC_INFINITY);
                        if (co_task_join(t, &o) == 0)
                                log_exit(s, &o);
                        co_shield_end(&sh);
                        co_task_unref(t);
                        set_state(s, SUP_STOPPED);
                        return r;
                }
                log_exit(s, &o);
                co_task_unref(t);
                failed = o.kind != CO_OUTCOME_RESULT;
                if (c->restart == CONF_RESTART_NEVER || (c->restart == CONF_RESTART_ON_FAILURE && !failed)) {
                        set_state(s, SUP_STOPPED);
                        return 0;
                }
                if (!within_intensity(s, co_now())) {
                        co_log_field_t f[] = { { "task", c->name }, DLOG_FIELD_MSGID(DLOG_MSGID_TASK_GAVE_UP) };

                        co_log_fields(CO_LOG_ERR, f, 2, "task '%s' restarted %u times within %.3f s: giving up",
                                      c->name, c->restart_intensity.burst,
                                      (double) c->restart_intensity.interval_usec / CO_USEC_PER_SEC);
                        set_state(s, SUP_FAILED);
                        if (c->on_give_up == CONF_GIVE_UP_EXIT && s->events.give_up_exit)
                                s->events.give_up_exit(s->events.userdata);
                        return -EDQUOT;
                }
                /* A run that lasted a while earns a fresh back-off. */
                if (co_now() - began > c->restart_intensity.interval_usec)
                        delay = c->restart_delay_usec;
                s->restarts++;
                {
                        char ms[32];
                        co_log_field_t f[] = {
                                { "task", c->name }, DLOG_FIELD_MSGID(DLOG_MSGID_TASK_RESTARTING), { "delay_ms", ms },
                        };

                        snprintf(ms, sizeof ms, "%llu", (unsigned long long) (delay / CO_USEC_PER_MSEC));
                        co_log_fields(CO_LOG_NOTICE, f, 3, "task '%s' restarting in %s ms", c->name, ms);
                }
                set_state(s, SUP_RESTARTING);
                r = co_sleep(delay);
                if (r < 0) {
                        set_state(s, SUP_STOPPED);
                        return r;
                }
                delay = delay * 2 > c->restart_delay_max_usec ? c->restart_delay_max_usec : delay * 2;
        }
}

int sup_start(const conf_task_t *conf, const sup_events_t *events, supervisor_t **ret) {
        supervisor_t *s;
        char name[160];
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->conf = conf;
        if (events)
                s->events = *events;
        s->recent = calloc(conf->restart_intensity.burst ? conf->restart_intensity.burst : 1, sizeof *s->recent);
        if (!s->recent) {
                free(s);
                return -ENOMEM;
        }
        snprintf(name, sizeof name, "supervisor:%s", conf->name);
        r = co_spawn(&s->task, name, supervise, s);
        if (r < 0) {
                free(s->recent);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void sup_cancel(supervisor_t *s, const char *reason) {
        if (s)
                co_task_cancel(s->task, reason);
}

int sup_stop(supervisor_t *s, const char *reason) {
        co_shield_t sh;
        int r;

        if (!s)
                return 0;
        co_task_cancel(s->task, reason);
        /* The task's own cleanup is bounded by its grace period. */
        co_shield_begin(&sh, CO_USEC_INFINITY);
        r = co_task_join(s->task, NULL);
        co_shield_end(&sh);
        return r;
}

supervisor_t *sup_free(supervisor_t *s) {
        if (!s)
                return NULL;
        co_task_unref(s->task);
        free(s->recent);
        free(s);
        return NULL;
}

const conf_task_t *sup_get_conf(const supervisor_t *s) {
        return s->conf;
}

sup_state_t sup_get_state(const supervisor_t *s) {
        return s->state;
}

unsigned sup_get_restarts(const supervisor_t *s) {
        return s->restarts;
}

co_task_t *sup_get_task(const supervisor_t *s) {
        return s->task;
}
