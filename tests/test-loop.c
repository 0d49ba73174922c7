/* SPDX-License-Identifier: MIT */
/* The loop and scheduler: FIFO order, fairness to I/O, idle sleep, fds. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "test-util.h"

typedef struct order {
        char log[64];
        int n;
} order_t;

static int appender(void *arg) {
        order_t *o = arg;
        const char *name = co_task_get_name(co_task_current());

        for (int i = 0; i < 3; i++) {
                o->log[o->n++] = name[0];
                assert_int_equal(co_task_yield(), 0);
        }
        return 0;
}

static int spawn_three(void *arg) {
        _cleanup_task_ co_task_t *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(co_spawn(&a, "a", appender, arg), 0);
        assert_int_equal(co_spawn(&b, "b", appender, arg), 0);
        assert_int_equal(co_spawn(&c, "c", appender, arg), 0);
        assert_int_equal(co_task_join(c, NULL), 0);
        return 0;
}

static void test_loop_fifo_round_robin(void **state) {
        order_t o = { 0 };

        assert_int_equal(run_main(spawn_three, &o).kind, CO_OUTCOME_RESULT);
        assert_string_equal(o.log, "abcabcabc");
}

/* A task that yields with one other task ready is queued right behind
 * it, with the stack pointer it saved at its previous switch: stale, and
 * inside the frames it has called since. The scheduler's fetch ahead
 * along the ready queue must leave that one alone (under AddressSanitizer
 * reading it is a stack-buffer-underflow: this test is for that build). */
static __attribute__((noinline)) void fill(char *buf, size_t size, int depth) {
        snprintf(buf, size, "%d", depth);
}

/* Frames of assorted sizes, so that one of them has a redzone where the
 * previous switch left the stack pointer. */
#define YIELD_WITH(n)                                                                  \
        static __attribute__((noinline)) int yield_with_##n(int depth) {                \
                char buf[n];                                                           \
                int r;                                                                 \
                                                                                       \
                fill(buf, sizeof buf, depth);                                          \
                r = co_task_yield();                                                   \
                return r < 0 ? r : atoi(buf) - depth;                                  \
        }
YIELD_WITH(8)
YIELD_WITH(24)
YIELD_WITH(40)
YIELD_WITH(72)
YIELD_WITH(136)
YIELD_WITH(264)

static int deep_yielder(void *arg) {
        int (*const yielders[])(int) = { yield_with_8,  yield_with_24,  yield_with_40,
                                         yield_with_72, yield_with_136, yield_with_264 };

        (void) arg;
        for (size_t i = 0; i < sizeof yielders / sizeof yielders[0]; i++)
                for (size_t j = 0; j < sizeof yielders / sizeof yielders[0]; j++) {
                        assert_int_equal(yielders[i]((int) j), 0);
                        assert_int_equal(yielders[j]((int) i), 0);
                        assert_int_equal(co_task_yield(), 0);
                }
        return 0;
}

static int plain_yielder(void *arg) {
        (void) arg;
        for (int i = 0; i < 200; i++)
                assert_int_equal(co_task_yield(), 0);
        return 0;
}

static int yield_pair(void *arg) {
        _cleanup_task_ co_task_t *a = NULL, *b = NULL;

        (void) arg;
        assert_int_equal(co_spawn(&a, "deep", deep_yielder, NULL), 0);
        assert_int_equal(co_spawn(&b, "plain", plain_yielder, NULL), 0);
        join_ok(a);
        join_ok(b);
        return 0;
}

static void test_loop_yield_behind_one_ready_task(void **state) {
        assert_int_equal(run_main(yield_pair, NULL).kind, CO_OUTCOME_RESULT);
}

typedef struct starve {
        bool stop;
        unsigned long spins_until_io;
        unsigned long spins_until_timer;
        unsigned long spins;
        int pipe[2];
} starve_t;

static int spinner(void *arg) {
        starve_t *s = arg;

        while (!s->stop) {
                s->spins++;
                assert_int_equal(co_task_yield(), 0);
        }
        return 0;
}

static int io_waiter(void *arg) {
        starve_t *s = arg;

        assert_int_equal(co_fd_wait(s->pipe[0], CO_FD_READABLE, CO_USEC_INFINITY), CO_FD_READABLE);
        s->spins_until_io = s->spins;
        return 0;
}

static int timer_waiter(void *arg) {
        starve_t *s = arg;

        assert_int_equal(co_sleep(msec(5)), 0);
        s->spins_until_timer = s->spins;
        s->stop = true;
        return 0;
}

static int fairness(void *arg) {
        starve_t *s = arg;
        _cleanup_task_ co_task_t *io = NULL, *timer = NULL;

        assert_int_equal(pipe2(s->pipe, O_CLOEXEC), 0);
        assert_int_equal(co_spawn(&io, "io", io_waiter, s), 0);
        assert_int_equal(co_spawn(NULL, "spinner", spinner, s), 0);
        /* Let the reader park, then make its fd ready while the spinner
         * keeps the ready queue busy. */
        assert_int_equal(co_task_yield(), 0);
        assert_int_equal(write(s->pipe[1], "x", 1), 1);
        assert_int_equal(co_spawn(&timer, "timer", timer_waiter, s), 0);
        assert_int_equal(co_task_join(io, NULL), 0);
        assert_int_equal(co_task_join(timer, NULL), 0);
        close(s->pipe[0]);
        close(s->pipe[1]);
        return 0;
}

static void test_loop_io_and_timers_not_starved(void **state) {
        starve_t s = { 0 };

        assert_int_equal(run_main(fairness, &s).kind, CO_OUTCOME_RESULT);
        /* Polled within a budget of resumes even with a task always ready. */
        assert_true(s.spins_until_io < 2 * 256);
        assert_true(s.spins_until_timer > 0);
}

static int wait_pipe(void *arg) {
        int fd = *(int *) arg;
        char c;

        assert_int_equal(co_fd_wait(fd, CO_FD_READABLE, CO_USEC_INFINITY), CO_FD_READABLE);
        assert_int_equal(read(fd, &c, 1), 1);
        return 0;
}

static long ctxt_switches(pid_t pid) {
        char path[64], line[256];
        long total = 0, v;
        FILE *f;

        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        assert_non_null(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
                    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
                        total += v;
        fclose(f);
        return total;
}

/* An idle loop (no ready task, no timer) sleeps in the kernel: a child
 * process runs one, and its context switches are counted for a second. */
static void test_loop_idle_has_zero_wakeups(void **state) {
        int p[2], ready[2], status;
        long before, after;
        pid_t pid;
        char c;

        if (RUNNING_ON_VALGRIND)
                skip(); /* valgrind's own scheduler wakes the process */

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                co_loop_t *loop = NULL;

                close(p[1]);
                if (co_loop_new(&loop) < 0 || co_loop_spawn(loop, NULL, "idle", wait_pipe, &p[0], NULL) < 0)
                        _exit(2);
                (void) !write(ready[1], "r", 1);
                _exit(co_loop_run(loop) == 0 ? 0 : 3);
        }
        close(p[0]);
        assert_int_equal(read(ready[0], &c, 1), 1);
        usleep(100 * 1000);
        before = ctxt_switches(pid);
        sleep(1);
        after = ctxt_switches(pid);
        assert_int_equal(write(p[1], "x", 1), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        assert_int_equal(after - before, 0);
        close(p[1]);
        close(ready[0]);
        close(ready[1]);
}

typedef struct fds {
        int p[2];
} fds_t;

static int fd_waits(void *arg) {
        fds_t *f = arg;
        co_usec_t start;

        /* An empty pipe is writable at once, and not readable. */
        assert_int_equal(co_fd_wait(f->p[1], CO_FD_WRITABLE, CO_USEC_INFINITY), CO_FD_WRITABLE);
        start = co_now();
        assert_int_equal(co_fd_wait(f->p[0], CO_FD_READABLE, co_deadline_after(msec(10))), -ETIMEDOUT);
        assert_true(co_now() - start >= msec(10));
        assert_int_equal(write(f->p[1], "x", 1), 1);
        assert_int_equal(co_fd_wait(f->p[0], CO_FD_READABLE | CO_FD_WRITABLE, CO_USEC_INFINITY), CO_FD_READABLE);
        assert_int_equal(co_fd_wait(-1, CO_FD_READABLE, CO_USEC_INFINITY), -EINVAL);
        return 0;
}

static void test_loop_fd_wait(void **state) {
        fds_t f;

        assert_int_equal(pipe2(f.p, O_CLOEXEC), 0);
        assert_int_equal(run_main(fd_waits, &f).kind, CO_OUTCOME_RESULT);
        close(f.p[0]);
        close(f.p[1]);
}

static int sleep_measured(void *arg) {
        co_usec_t start = co_now();

        assert_int_equal(co_sleep(msec(15)), 0);
        *(co_usec_t *) arg = co_now() - start;
        return 0;
}

static void test_loop_sleep_lasts_at_least(void **state) {
        co_usec_t took = 0;

        assert_int_equal(run_main(sleep_measured, &took).kind, CO_OUTCOME_RESULT);
        assert_true(took >= msec(15));
}

static void test_loop_uses_precise_timer(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;

        assert_int_equal(co_loop_new(&loop), 0);
        assert_true(event_base_get_features(co_loop_get_event_base(loop)) & EV_FEATURE_O1);
        /* libevent exposes the precise flag only through its behaviour; the
         * timer resolution itself is measured by the benchmarks. */
        assert_non_null(co_loop_get_event_base(loop));
}

static int not_in_a_task_calls(void) {
        assert_int_equal(co_sleep(1), -EPERM);
        assert_int_equal(co_task_yield(), -EPERM);
        assert_int_equal(co_spawn(NULL, "x", NULL, NULL), -EPERM);
        assert_null(co_task_current());
        assert_null(co_loop_current());
        return 0;
}

static void test_loop_calls_outside_a_task(void **state) {
        not_in_a_task_calls();
}

static int stop_then_sleep(void *arg) {
        int r;

        co_loop_stop(co_loop_current());
        r = co_sleep(3600 * CO_USEC_PER_SEC);

        *(int *) arg = r;
        return r;
}

static void test_loop_free_cancels_what_is_left(void **state) {
        co_loop_t *loop = NULL;
        int result = 0;

        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_spawn(loop, NULL, "forever", stop_then_sleep, &result, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        assert_int_equal(co_loop_get_n_tasks(loop), 1);
        loop = co_loop_free(loop);
        assert_null(loop);
        assert_int_equal(result, -ECANCELED);
}

typedef struct debug_log {
        int slow;
        int overdue;
        char task[32];
} debug_log_t;

static void debug_sink(const co_log_record_t *rec, void *userdata) {
        debug_log_t *d = userdata;

        if (rec->level != CO_LOG_WARNING)
                return;
        if (strstr(rec->message, "without suspending")) {
                d->slow++;
                snprintf(d->task, sizeof d->task, "%s", rec->fields[0].value);
        }
        if (strstr(rec->message, "after it was cancelled"))
                d->overdue++;
}

static int hog(void *arg) {
        co_usec_t until = co_now() + msec(30);

        while (co_now() < until)
                ;
        return co_task_yield();
}

static int overstay(void *arg) {
        co_shield_t sh;

        (void) co_sleep(3600 * CO_USEC_PER_SEC);
        /* Ignores its grace period on purpose. */
        co_shield_begin(&sh, CO_USEC_INFINITY);
        (void) co_sleep(msec(300));
        co_shield_end(&sh);
        return 0;
}

static int debug_main(void *arg) {
        _cleanup_task_ co_task_t *h = NULL, *o = NULL;
        co_task_opts_t opts = { .grace_usec = msec(50) };

        assert_int_equal(co_spawn(&h, "hog", hog, NULL), 0);
        assert_int_equal(co_task_join(h, NULL), 0);
        assert_int_equal(co_spawn_with(&o, "overstayer", overstay, NULL, &opts), 0);
        assert_int_equal(co_task_yield(), 0);
        co_task_cancel(o, NULL);
        assert_int_equal(co_task_join(o, NULL), 0);
        return 0;
}

static void test_loop_debug_mode_names_slow_and_overdue_tasks(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;
        debug_log_t d = { 0 };

        co_log_set_sink(debug_sink, &d);
        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_set_debug(loop, true), 0);
        co_loop_set_slow_threshold(loop, msec(20));
        assert_int_equal(co_loop_spawn(loop, NULL, "main", debug_main, NULL, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        co_log_set_sink(NULL, NULL);
        assert_true(d.slow >= 1);
        assert_string_equal(d.task, "hog");
        assert_int_equal(d.overdue, 1);
}

static void test_loop_debug_off_by_default(void **state) {
        debug_log_t d = { 0 };

        assert_int_equal(run_main_logging_to(debug_sink, &d, hog, NULL).kind, CO_OUTCOME_RESULT);
        assert_int_equal(d.slow, 0);
}

static int outlive(void *arg) {
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static void test_loop_run_until_deadline(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;
        co_usec_t start = co_now();

        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_spawn(loop, NULL, "outlive", outlive, NULL, NULL), 0);
        assert_int_equal(co_loop_run_until(loop, co_deadline_after(msec(10))), -ETIMEDOUT);
        assert_true(co_now() - start >= msec(10));
        assert_int_equal(co_loop_get_n_tasks(loop), 1);
}

static void app_tick(evutil_socket_t fd, short what, void *arg) {
        (*(int *) arg)++;
}

static int sleep_50ms(void *arg) {
        return co_sleep(msec(50));
}

/* An application's own event_base hosts the tasks beside its callbacks. */
static void test_loop_embedded_in_application_base(void **state) {
        struct event_base *base = event_base_new();
        co_loop_opts_t opts = { .base = base };
        struct timeval every = { .tv_sec = 0, .tv_usec = 5000 };
        struct event *tick;
        co_loop_t *loop = NULL;
        int ticks = 0;

        assert_non_null(base);
        tick = event_new(base, -1, EV_PERSIST, app_tick, &ticks);
        assert_int_equal(event_add(tick, &every), 0);
        assert_int_equal(co_loop_new_with(&loop, &opts), 0);
        assert_ptr_equal(co_loop_get_event_base(loop), base);
        assert_int_equal(co_loop_spawn(loop, NULL, "sleeper", sleep_50ms, NULL, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        assert_true(ticks >= 3);
        co_loop_free(loop);
        /* Still the application's, and still working. */
        assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
        event_free(tick);
        event_base_free(base);
}

static void test_loop_backends(void **state) {
        const char *backends[] = { "epoll", "poll", "select" };

        for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
                co_loop_opts_t opts = { .backend = backends[i] };
                fds_t f;
                co_loop_t *loop = NULL;
                _cleanup_task_ co_task_t *t = NULL;
                co_outcome_t o;

                assert_int_equal(co_loop_new_with(&loop, &opts), 0);
                assert_string_equal(co_loop_get_backend(loop), backends[i]);
                assert_int_equal(pipe2(f.p, O_CLOEXEC), 0);
                assert_int_equal(co_loop_spawn(loop, &t, "fds", fd_waits, &f, NULL), 0);
                assert_int_equal(co_loop_run(loop), 0);
                assert_int_equal(co_task_get_outcome(t, &o), 0);
                assert_int_equal(o.kind, CO_OUTCOME_RESULT);
                close(f.p[0]);
                close(f.p[1]);
                co_task_unref(t);
                t = NULL;
                co_loop_free(loop);
        }
        {
                co_loop_opts_t opts = { .backend = "kqueue" };
                co_loop_t *loop = NULL;

                assert_int_equal(co_loop_new_with(&loop, &opts), -ENOTSUP);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loop_fifo_round_robin),
                cmocka_unit_test(test_loop_yield_behind_one_ready_task),
                cmocka_unit_test(test_loop_io_and_timers_not_starved),
                cmocka_unit_test(test_loop_idle_has_zero_wakeups),
                cmocka_unit_test(test_loop_fd_wait),
                cmocka_unit_test(test_loop_sleep_lasts_at_least),
                cmocka_unit_test(test_loop_uses_precise_timer),
                cmocka_unit_test(test_loop_calls_outside_a_task),
                cmocka_unit_test(test_loop_free_cancels_what_is_left),
                cmocka_unit_test(test_loop_debug_mode_names_slow_and_overdue_tasks),
                cmocka_unit_test(test_loop_debug_off_by_default),
                cmocka_unit_test(test_loop_run_until_deadline),
                cmocka_unit_test(test_loop_embedded_in_application_base),
                cmocka_unit_test(test_loop_backends),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
