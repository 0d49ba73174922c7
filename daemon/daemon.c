/* SPDX-License-Identifier: MIT */
/*
 * The daemon's lifecycle. Signals, read from a signalfd by the loop, only
 * note themselves and wake the control task; everything else happens in
 * tasks. A reload
 * builds the whole new configuration first and touches nothing unless it
 * is valid; tasks whose sections did not change keep running, on the
 * configuration generation they were started from.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "conf.h"
#include "daemon.h"
#include "listen.h"
#include "notify.h"
#include "reload-state.h"
#include "supervisor.h"

rlim_t daemon_nofile_soft = RLIM_INFINITY;
static co_loop_t *volatile forced_exit_loop;

/* A loaded configuration, kept while a supervisor still runs from it. */
typedef struct generation {
        conf_t *conf;
        unsigned refs;
} generation_t;

typedef struct entry {
        supervisor_t *sup;
        generation_t *gen;
} entry_t;

typedef struct daemon {
        const daemon_opts_t *opts;
        co_loop_t *loop;
        generation_t *current;
        entry_t *entries;
        size_t n_entries;
        co_event_t *wake;
        int sigfd;                      /* signalfd of DAEMON_SIGNALS */
        struct event *sigev;
        unsigned terms;
        const char *term_name;
        bool hup, usr1, usr2, give_up;
        unsigned reloads;               /* generation in the reload state */
        int base_level;
        int exit_code;
} daemon_t;

static generation_t *gen_new(conf_t *c) {
        generation_t *g = calloc(1, sizeof *g);

        if (g)
                g->conf = c;
        return g;
}

static void gen_unref(generation_t *g) {
        if (g && --g->refs == 0) {
                conf_free(g->conf);
                free(g);
        }
}

/* ---- status and events ---------------------------------------------------- */

static void update_status(void *userdata);

static void on_changed(void *userdata) {
        daemon_t *d = userdata;

        update_status(d);
        co_event_set(d->wake);
}

static void update_status(void *userdata) {
        daemon_t *d = userdata;
        unsigned n[SUP_FAILED + 1] = { 0 };
        char extra[96] = "";

        for (size_t i = 0; i < d->n_entries; i++)
                n[sup_get_state(d->entries[i].sup)]++;
        if (n[SUP_FAILED] || n[SUP_STOPPED])
                snprintf(extra, sizeof extra, ", %u stopped, %u failed", n[SUP_STOPPED], n[SUP_FAILED]);
        (void) notify_status("%zu tasks: %u running, %u restarting%s", d->n_entries,
                             n[SUP_RUNNING] + n[SUP_STARTING], n[SUP_RESTARTING], extra);
}

static void on_give_up_exit(void *userdata) {
        daemon_t *d = userdata;

        d->give_up = true;
        co_event_set(d->wake);
}

static void on_sup_done(co_task_t *t, void *userdata) {
        (void) t;
        co_event_set(((daemon_t *) userdata)->wake);
}

static void on_signal(daemon_t *d, int sig) {
        switch (sig) {
        case SIGTERM:
        case SIGINT:
                d->terms++;
                d->term_name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
                break;
        case SIGHUP:
                d->hup = true;
                break;
        case SIGUSR1:
                d->usr1 = true;
                break;
        case SIGUSR2:
                d->usr2 = true;
                break;
        }
        co_event_set(d->wake);
}

/* The signals arrive as reads from a signalfd, not in handlers: no code
 * runs at an arbitrary point of a thread (ThreadSanitizer, for one, held
 * a handler's signal back while the loop slept in epoll_wait). */
static void on_signalfd(evutil_socket_t fd, short what, void *arg) {
        struct signalfd_siginfo si;

        (void) what;
        while (read(fd, &si, sizeof si) == (ssize_t) sizeof si)
                on_signal(arg, (int) si.ssi_signo);
}

static void log_msgid(co_log_level_t level, const char *msgid, const char *fmt, const char *arg) {
        co_log_field_t f[] = { DLOG_FIELD_MSGID(msgid) };

        co_log_fields(level, f, 1, fmt, arg);
}

/* ---- supervisors ------------------------------------------------------------- */

static int start_task(daemon_t *d, generation_t *g, const conf_task_t *t) {
        sup_events_t ev = { .changed = on_changed, .give_up_exit = on_give_up_exit, .userdata = d };
        entry_t *e;
        int r;

        e = realloc(d->entries, (d->n_entries + 1) * sizeof *e);
        if (!e)
                return -ENOMEM;
        d->entries = e;
        e = &d->entries[d->n_entries];
        r = sup_start(t, &ev, &e->sup);
        if (r < 0)
                return r;
        r = co_task_add_done_callback(sup_get_task(e->sup), on_sup_done, d);
        if (r < 0) {
                (void) sup_stop(e->sup, "out of memory");
                sup_free(e->sup);
                return r;
        }
        e->gen = g;
        g->refs++;
        d->n_entries++;
        return 0;
}

static void remove_entry(daemon_t *d, size_t i, const char *reason) {
        entry_t e = d->entries[i];

        (void) sup_stop(e.sup, reason);
        sup_free(e.sup);
        gen_unref(e.gen);
        d->entries[i] = d->entries[--d->n_entries];
}

static int start_all(daemon_t *d, generation_t *g) {
        for (size_t i = 0; i < conf_n_tasks(g->conf); i++) {
                const conf_task_t *t = conf_task(g->conf, i);
                int r;

                if (!t->enabled)
                        continue;
                r = start_task(d, g, t);
                if (r < 0)
                        return r;
        }
        return 0;
}

static size_t n_starting(const daemon_t *d) {
        size_t n = 0;

        for (size_t i = 0; i < d->n_entries; i++)
                n += sup_get_state(d->entries[i].sup) == SUP_STARTING;
        return n;
}

/* Until every supervisor has spawned its task and the tasks have had
 * their first turn (a listener listens): what READY=1 promises. */
static void wait_started(daemon_t *d) {
        while (n_starting(d) > 0 && d->terms == 0) {
                (void) co_event_wait(d->wake, CO_USEC_INFINITY);
                co_event_clear(d->wake);
        }
        (void) co_task_yield();
}

/* ---- reload -------------------------------------------------------------------- */

static void apply_daemon_settings(daemon_t *d, const conf_daemon_t *ds) {
        if (d->opts->log_format < 0)
                (void) dlog_set_format((dlog_format_t) ds->log_format);
        if (d->opts->log_level < 0) {
                d->base_level = ds->log_level;
                dlog_set_max_level((co_log_level_t) ds->log_level);
        }
}

static void publish_reload_state(daemon_t *d, reload_state_t state) {
        int r;

        if (state == RELOAD_STATE_RELOADING)
                d->reloads++;
        r = reload_state_publish(d->reloads, state);
        if (r < 0)
                co_log(CO_LOG_WARNING, "cannot write the reload state: %s", strerror(-r));
}

static void reload(daemon_t *d) {
        conf_t *c = NULL;
        conf_errors_t *errs = NULL;
        generation_t *g;
        int r;

        (void) notify_reloading();
        publish_reload_state(d, RELOAD_STATE_RELOADING);
        log_msgid(CO_LOG_NOTICE, DLOG_MSGID_RELOADING, "reloading %s", d->opts->config_path);
        r = conf_load(d->opts->config_path, &c, &errs);
        if (r < 0) {
                for (size_t i = 0; i < conf_errors_count(errs); i++) {
                        const conf_error_t *e = conf_errors_get(errs, i);
                        char line[16];
                        co_log_field_t f[] = {
                                DLOG_FIELD_MSGID(DLOG_MSGID_RELOAD_FAILED), { "file", e->file }, { "line", line },
                        };

                        snprintf(line, sizeof line, "%u", e->line);
                        co_log_fields(CO_LOG_ERR, f, 3, "reload failed: %s:%u: %s", e->file, e->line, e->message);
                }
                if (conf_errors_count(errs) == 0)
                        log_msgid(CO_LOG_ERR, DLOG_MSGID_RELOAD_FAILED, "reload failed: %s", strerror(-r));
                conf_errors_free(errs);
                publish_reload_state(d, RELOAD_STATE_REJECTED);
                (void) notify_ready();
                return;
        }
        conf_errors_free(errs);
        g = gen_new(c);
        if (!g) {
                conf_free(c);
                log_msgid(CO_LOG_ERR, DLOG_MSGID_RELOAD_FAILED, "reload failed: %s", strerror(ENOMEM));
                publish_reload_state(d, RELOAD_STATE_REJECTED);
                (void) notify_ready();
                return;
        }
        g->refs = 1;
        /* Stop the removed and the changed; keep the unchanged. */
        for (size_t i = d->n_entries; i-- > 0;) {
                const conf_task_t *old = sup_get_conf(d->entries[i].sup);
                const conf_task_t *now = conf_task_by_name(c, old->name);

                if (!now || !now->enabled)
                        remove_entry(d, i, "removed from the configuration");
                else if (!conf_task_equal(old, now))
                        remove_entry(d, i, "its configuration changed");
        }
        /* Start the added and the changed. */
        for (size_t i = 0; i < conf_n_tasks(c); i++) {
                const conf_task_t *t = conf_task(c, i);
                bool running = false;

                for (size_t j = 0; j < d->n_entries && !running; j++)
                        running = strcmp(sup_get_conf(d->entries[j].sup)->name, t->name) == 0;
                if (t->enabled && !running && start_task(d, g, t) < 0)
                        co_log(CO_LOG_ERR, "reload: cannot start task '%s'", t->name);
        }
        apply_daemon_settings(d, conf_daemon(c));
        gen_unref(d->current);
        d->current = g;
        wait_started(d);
        update_status(d);
        co_log(CO_LOG_NOTICE, "reloaded: %zu tasks", d->n_entries);
        publish_reload_state(d, RELOAD_STATE_APPLIED);
        (void) notify_ready();
}

/* ---- SIGUSR1: the task tree ------------------------------------------------------ */

static int log_task(co_task_t *t, unsigned depth, void *userdata) {
        char indent[32], text[160];
        co_log_field_t f[] = { { "depth", indent } };

        (void) userdata;
        snprintf(indent, sizeof indent, "%u", depth);
        co_task_format(t, text, sizeof text);
        co_log_fields(CO_LOG_INFO, f, 1, "%*s%s", (int) (2 * depth), "", text);
        return 0;
}

static void dump_tree(daemon_t *d) {
        co_log(CO_LOG_INFO, "task tree:");
        (void) co_loop_foreach_task(d->loop, log_task, NULL);
        for (size_t i = 0; i < d->n_entries; i++) {
                const supervisor_t *s = d->entries[i].sup;
                co_log_field_t f[] = { { "task", sup_get_conf(s)->name } };

                co_log_fields(CO_LOG_INFO, f, 1, "supervised '%s': %s, %u restarts", sup_get_conf(s)->name,
                              sup_state_to_string(sup_get_state(s)), sup_get_restarts(s));
        }
}

/* ---- the control task ------------------------------------------------------------- */

static size_t n_alive(const daemon_t *d) {
        size_t n = 0;

        for (size_t i = 0; i < d->n_entries; i++)
                n += co_task_get_state(sup_get_task(d->entries[i].sup)) != CO_TASK_DONE;
        return n;
}

static int name_alive(co_task_t *t, unsigned depth, void *userdata) {
        const char *wait = co_task_get_wait(t);

        (void) depth;
        (void) userdata;
        co_log(CO_LOG_WARNING, "still alive: '%s' (%s)", co_task_get_name(t),
               wait ? wait : co_task_state_to_string(co_task_get_state(t)));
        return 0;
}

static void shut_down(daemon_t *d) {
        co_usec_t deadline = co_deadline_after(conf_daemon(d->current->conf)->shutdown_timeout_usec);
        unsigned terms = d->terms;
        co_shield_t sh;

        (void) notify_stopping();
        log_msgid(CO_LOG_NOTICE, DLOG_MSGID_STOPPING, "stopping (%s)", d->term_name ? d->term_name : "exit");
        for (size_t i = 0; i < d->n_entries; i++) {
                sup_cancel(d->entries[i].sup, d->term_name ? d->term_name : "daemon stopping");
                /* Let this task's tree begin to unwind before the next one
                 * is walked: cancelling 100k tasks takes milliseconds, and
                 * the work a task hands to a thread as it stops (tcp-echo's
                 * closes) can start meanwhile. */
                (void) co_task_yield();
        }
        /* Our own cancellation must not cut this wait short: only a second
         * signal or the deadline do. */
        co_shield_begin(&sh, deadline);
        while (n_alive(d) > 0 && d->terms == terms) {
                int r = co_event_wait(d->wake, deadline);

                co_event_clear(d->wake);
                if (r == -ETIMEDOUT)
                        break;
        }
        co_shield_end(&sh);
        if (n_alive(d) > 0) {
                co_log(CO_LOG_ERR, "%s: %zu tasks still running", d->terms > terms ? "second signal" :
                       "shutdown_timeout passed", n_alive(d));
                (void) co_loop_foreach_task(d->loop, name_alive, NULL);
                d->exit_code = EXIT_FORCED;
                /* Leave them: the process is about to exit. */
                co_loop_stop(d->loop);
        }
}

static int control(void *arg) {
        daemon_t *d = arg;
        co_task_t *watchdog = NULL;
        int r;

        r = start_all(d, d->current);
        if (r < 0) {
                co_log(CO_LOG_ERR, "cannot start the tasks: %s", strerror(-r));
                d->exit_code = EXIT_CONFIG;
                shut_down(d);
                return r;
        }
        if (conf_daemon(d->current->conf)->watchdog == CONF_WATCHDOG_AUTO && notify_watchdog_usec() > 0)
                (void) co_spawn(&watchdog, "watchdog", notify_watchdog_task, NULL);
        wait_started(d);
        update_status(d);
        publish_reload_state(d, RELOAD_STATE_APPLIED);
        (void) notify_ready();
        {
                char n[16];
                co_log_field_t f[] = { DLOG_FIELD_MSGID(DLOG_MSGID_READY), { "tasks", n } };

                snprintf(n, sizeof n, "%zu", d->n_entries);
                co_log_fields(CO_LOG_NOTICE, f, 2, "ready: %zu tasks started", d->n_entries);
        }
        for (;;) {
                if (d->terms > 0)
                        break;
                if (d->give_up) {
                        d->exit_code = EXIT_GAVE_UP;
                        break;
                }
                if (d->hup) {
                        d->hup = false;
                        reload(d);
                }
                if (d->usr1) {
                        d->usr1 = false;
                        dump_tree(d);
                }
                if (d->usr2) {
                        d->usr2 = false;
                        dlog_set_max_level(co_log_get_max_level() == CO_LOG_DEBUG ? (co_log_level_t) d->base_level
                                                                                   : CO_LOG_DEBUG);
                        co_log(CO_LOG_NOTICE, "log level now %s", co_log_level_to_string(co_log_get_max_level()));
                }
                /* Signals set their flag and this event: look again after. */
                if (!d->terms && !d->give_up && !d->hup && !d->usr1 && !d->usr2) {
                        (void) co_event_wait(d->wake, CO_USEC_INFINITY);
                        co_event_clear(d->wake);
                }
        }
        shut_down(d);
        if (watchdog)
                co_task_cancel(watchdog, "stopping");
        co_task_unref(watchdog);
        return 0;
}

/* ---- start and end -------------------------------------------------------------------- */

static int load(daemon_t *d) {
        conf_errors_t *errs = NULL;
        conf_t *c = NULL;
        int r = conf_load(d->opts->config_path, &c, &errs);

        if (r < 0) {
                conf_errors_print(errs, stderr);
                if (conf_errors_count(errs) == 0)
                        fprintf(stderr, "%s: %s\n", d->opts->config_path, strerror(-r));
                conf_errors_free(errs);
                return r;
        }
        conf_errors_free(errs);
        d->current = gen_new(c);
        if (!d->current) {
                conf_free(c);
                return -ENOMEM;
        }
        d->current->refs = 1;
        return 0;
}

/* Every connection is a descriptor: take the whole hard limit (epoll has
 * no FD_SETSIZE). exec children get the soft limit we found back. */
static void raise_fd_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == rl.rlim_max)
                return;
        daemon_nofile_soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
}

/* Blocked in every thread from the start (the threads made later inherit
 * the mask; exec children unblock them), read from a signalfd. */
static void daemon_signals(sigset_t *ret_mask) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };

        sigemptyset(ret_mask);
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
                sigaddset(ret_mask, sigs[i]);
}

int daemon_run(const daemon_opts_t *opts) {
        daemon_t d = { .opts = opts, .exit_code = 0, .sigfd = -1 };
        const conf_daemon_t *ds;
        co_task_t *ctl = NULL;
        sigset_t mask;
        int r;

        signal(SIGPIPE, SIG_IGN);
        daemon_signals(&mask);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        raise_fd_limit();
        if (load(&d) < 0)
                return EXIT_CONFIG;
        ds = conf_daemon(d.current->conf);
        d.base_level = opts->log_level >= 0 ? opts->log_level : ds->log_level;
        r = dlog_open(opts->log_format >= 0 ? (dlog_format_t) opts->log_format : (dlog_format_t) ds->log_format,
                      (co_log_level_t) d.base_level, NULL);
        if (r < 0) {
                fprintf(stderr, "cannot set up logging: %s\n", strerror(-r));
                gen_unref(d.current);
                return EXIT_CONFIG;
        }
        log_msgid(CO_LOG_NOTICE, DLOG_MSGID_STARTED, "cotaskd started with %s", opts->config_path);
        r = listen_fds_init();
        if (r >= 0)
                r = co_loop_new(&d.loop);
        if (r >= 0)
                r = co_event_new(&d.wake);
        if (r >= 0) {
                d.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
                if (d.sigfd < 0)
                        r = -errno;
        }
        if (r >= 0) {
                d.sigev = event_new(co_loop_get_event_base(d.loop), d.sigfd, EV_READ | EV_PERSIST, on_signalfd, &d);
                if (!d.sigev || event_add(d.sigev, NULL) < 0)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = co_loop_spawn(d.loop, &ctl, "cotaskd", control, &d, NULL);
        if (r >= 0)
                r = co_loop_run(d.loop);
        if (r < 0) {
                co_log(CO_LOG_ERR, "start-up failed: %s", strerror(-r));
                d.exit_code = EXIT_CONFIG;
        }
        for (size_t i = 0; i < d.n_entries; i++) {
                sup_free(d.entries[i].sup);
                gen_unref(d.entries[i].gen);
        }
        free(d.entries);
        co_task_unref(ctl);
        /* The signals stay blocked: one from now on must not kill us
         * half-way through the exit. */
        if (d.sigev)
                event_free(d.sigev);
        if (d.sigfd >= 0)
                close(d.sigfd);
        co_event_free(d.wake);
        /* A forced exit leaves tasks that still run: their loop stays, kept
         * here so that it is known to be left on purpose (LeakSanitizer). */
        if (d.exit_code != EXIT_FORCED)
                co_loop_free(d.loop);
        else
                forced_exit_loop = d.loop;
        log_msgid(CO_LOG_NOTICE, DLOG_MSGID_STOPPED, "cotaskd stopped (exit %s)",
                  d.exit_code == 0 ? "0" : d.exit_code == EXIT_FORCED ? "3" : d.exit_code == EXIT_GAVE_UP ? "4" : "1");
        reload_state_clear();
        listen_fds_done();
        gen_unref(d.current);
        dlog_close();
        return d.exit_code;
}
