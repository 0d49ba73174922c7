/* SPDX-License-Identifier: MIT */
/* co_run: main's outcome, then the shutdown sequence and its deadline. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

#include "test-util.h"

static const char *self_exe;

typedef struct leftovers {
        bool detached_cleaned;
        bool grandchild_cancelled;
        bool generator_closed;
        bool job_done;
} leftovers_t;

static void mark(void *arg) {
        *(bool *) arg = true;
}

/* A detached task that, when cancelled, spawns another one on its way out:
 * run must cancel that one too. */
static int late_spawner_child(void *arg) {
        leftovers_t *l = arg;
        int r = co_sleep(3600 * CO_USEC_PER_SEC);

        l->grandchild_cancelled = r == -ECANCELED;
        return r;
}

static int late_spawner(void *arg) {
        leftovers_t *l = arg;
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        assert_int_equal(co_defer(mark, &l->detached_cleaned), 0);
        (void) co_sleep(3600 * CO_USEC_PER_SEC);
        /* From its cleanup-less end, detached: not cancelled with it. */
        return co_spawn_with(NULL, "late", late_spawner_child, l, &detached);
}

static int endless(co_gen_t *gen, void *arg) {
        leftovers_t *l = arg;
        int r = 0;

        CO_TRY {
                for (int i = 0; r >= 0; i++)
                        r = co_gen_yield(gen, &i);
        } CO_FINALLY {
                l->generator_closed = true;
        } CO_END_TRY;
        return r;
}

static int slow_job(void *arg, void **ret_result) {
        usleep(20 * 1000);
        *(bool *) arg = true;
        return 0;
}

static int main_leaving_things(void *arg) {
        leftovers_t *l = arg;
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };
        co_gen_t *gen = NULL;
        co_future_t *f = NULL;
        co_pool_t *pool = NULL;
        void *v;

        assert_int_equal(co_spawn_with(NULL, "spawner", late_spawner, l, &detached), 0);
        assert_int_equal(co_gen_new_with(&gen, "endless", endless, l, &detached), 0);
        assert_int_equal(co_gen_next(gen, &v), 1);
        co_gen_unref(gen);
        assert_int_equal(co_loop_get_default_pool(co_loop_current(), &pool), 0);
        assert_int_equal(co_pool_submit(pool, "slow", slow_job, &l->job_done, &f), 0);
        co_future_unref(f);
        return 7;
}

static void test_run_outcome_and_shutdown_sequence(void **state) {
        leftovers_t l = { 0 };
        co_run_opts_t opts = { .no_signals = true };
        co_outcome_t o;

        assert_int_equal(co_run(main_leaving_things, &l, &opts, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(o.value, 7);
        assert_true(l.detached_cleaned);
        assert_true(l.grandchild_cancelled);
        assert_true(l.generator_closed);
        assert_true(l.job_done);
}

/* ---- the deadline path, in a child process (stragglers are left to the
 * process's exit) ------------------------------------------------------ */

static int refuse(void *arg) {
        co_shield_t sh;

        co_shield_begin(&sh, CO_USEC_INFINITY);
        for (;;)
                (void) co_sleep(3600 * CO_USEC_PER_SEC);
        co_shield_end(&sh);
        return 0;
}

static int main_with_a_stubborn_task(void *arg) {
        co_task_opts_t detached = { .flags = CO_TASK_DETACHED };

        return co_spawn_with(NULL, "stubborn", refuse, NULL, &detached);
}

typedef struct stragglers {
        int named;
} stragglers_t;

static void count_stragglers(const co_log_record_t *rec, void *userdata) {
        if (rec->task && strcmp(rec->task, "stubborn") == 0 && strstr(rec->message, "shutdown deadline"))
                ((stragglers_t *) userdata)->named++;
}

static int deadline_child(void) {
        co_run_opts_t opts = { .no_signals = true, .shutdown_timeout = 50 * CO_USEC_PER_MSEC };
        stragglers_t s = { 0 };
        co_usec_t start = co_now();
        co_outcome_t o;
        int r;

        co_log_set_sink(count_stragglers, &s);
        r = co_run(main_with_a_stubborn_task, NULL, &opts, &o);
        if (r != -ETIMEDOUT)
                return 2;
        if (o.kind != CO_OUTCOME_RESULT || s.named != 1)
                return 3;
        if (co_now() - start < 50 * CO_USEC_PER_MSEC || co_now() - start > 5 * CO_USEC_PER_SEC)
                return 4;
        return 0;
}

/* Main refuses its cancellation too: the first SIGINT cancels it, the
 * second stops waiting. */
static int main_ignoring_sigint(void *arg) {
        (void) !write(*(int *) arg, "r", 1);
        return refuse(NULL);
}

static int sigint_child(int ready_fd) {
        co_outcome_t o;
        int r = co_run(main_ignoring_sigint, &ready_fd, NULL, &o);

        return r == -EINTR ? 0 : 5;
}

static int run_child(const char *mode, bool signal_twice) {
        int ready[2], status;
        char fd[16], c;
        pid_t pid;

        assert_int_equal(pipe(ready), 0);
        snprintf(fd, sizeof fd, "%d", ready[1]);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(ready[0]);
                exec_program((char *[]) { (char *) self_exe, (char *) mode, fd, NULL });
                _exit(127);
        }
        close(ready[1]);
        if (signal_twice) {
                assert_int_equal(read(ready[0], &c, 1), 1);
                usleep(20 * 1000);
                kill(pid, SIGINT);
                usleep(50 * 1000);
                kill(pid, SIGINT);
        }
        close(ready[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static void test_run_stragglers_named_at_deadline(void **state) {
        assert_int_equal(run_child("--deadline-child", false), 0);
}

static void test_run_second_sigint_stops_waiting(void **state) {
        assert_int_equal(run_child("--sigint-child", true), 0);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_run_outcome_and_shutdown_sequence),
                cmocka_unit_test(test_run_stragglers_named_at_deadline),
                cmocka_unit_test(test_run_second_sigint_stops_waiting),
        };

        self_exe = argv[0];
        if (argc == 3 && strcmp(argv[1], "--deadline-child") == 0)
                _exit(deadline_child());
        if (argc == 3 && strcmp(argv[1], "--sigint-child") == 0)
                _exit(sigint_child(atoi(argv[2])));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
