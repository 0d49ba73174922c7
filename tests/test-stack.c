/* SPDX-License-Identifier: MIT */
/* Task stacks: guards, overflow reports, sizes, pooling, mapping counts. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "stack.h"
#include "test-util.h"

static const char *self_exe;

/* ---- overflow, in a fresh process per guard mode ---------------------- */

static unsigned __attribute__((noinline)) recurse(unsigned depth, unsigned max) {
        volatile char frame[1024];

        /* Every byte: a canary is only seen if it is overwritten. */
        for (size_t i = 0; i < sizeof frame; i++)
                frame[i] = (char) depth;
        if (depth == max) {
                /* The canary is checked when the task switches away. */
                (void) co_task_yield();
                return frame[0];
        }
        return recurse(depth + 1, max) + frame[sizeof frame - 1];
}

static int deep(void *arg) {
        return (int) recurse(0, 1u << 20);
}

static int canary_deep(void *arg) {
        /* Just past the bottom: into the uncarved neighbour slot. */
        return (int) recurse(0, 24);
}

static int overflow_child(const char *mode) {
        co_loop_t *loop = NULL;
        co_task_opts_t opts = { .stack_size = 16 * 1024 };

        setenv("COTASK_STACK_GUARD", mode, 1);
        if (co_loop_new(&loop) < 0)
                return 2;
        if (co_loop_spawn(loop, NULL, "deep", strcmp(mode, "canary") == 0 ? canary_deep : deep, NULL, &opts) < 0)
                return 3;
        (void) co_loop_run(loop);
        return 4; /* not reached: the overflow aborts */
}

/* With mprotect guards, once a quarter of vm.max_map_count is spent on
 * them, new stacks get canaries instead, and that is logged once. */
typedef struct budget {
        int warnings;
        size_t spawned;
        size_t parked;
} budget_t;

static void count_canary_warnings(const co_log_record_t *rec, void *userdata) {
        if (rec->level == CO_LOG_WARNING && strstr(rec->message, "canary"))
                ((budget_t *) userdata)->warnings++;
}

static int park_until_cancelled(void *arg) {
        ((budget_t *) arg)->parked++;
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static int spawn_past_budget(void *arg) {
        budget_t *b = arg;

        for (; b->spawned < 20000; b->spawned++)
                if (co_spawn(NULL, "parked", park_until_cancelled, b) < 0)
                        return -ENOMEM;
        while (b->parked < b->spawned)
                (void) co_task_yield();
        /* Every child has parked: hand back to the test. */
        co_loop_stop(co_loop_current());
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static int budget_child(void) {
        budget_t b = { 0 };
        co_loop_t *loop = NULL;
        long max_maps = 0;
        size_t maps;
        FILE *f;

        setenv("COTASK_STACK_GUARD", "mprotect", 1);
        co_log_set_sink(count_canary_warnings, &b);
        f = fopen("/proc/sys/vm/max_map_count", "re");
        if (!f || fscanf(f, "%ld", &max_maps) != 1)
                return 2;
        fclose(f);
        if (co_loop_new(&loop) < 0 || co_loop_spawn(loop, NULL, "spawner", spawn_past_budget, &b, NULL) < 0)
                return 3;
        (void) co_loop_run(loop);
        maps = count_mappings();
        if (co__stacks_guard_mode() != CO__GUARD_CANARY)
                return 4;
        if (b.warnings != 1)
                return 5;
        if ((long) maps > max_maps / 4 + 1000)
                return 6;
        co_loop_free(loop);
        return 0;
}

static void test_stack_mprotect_budget_falls_back_to_canary(void **state) {
        int status;
        pid_t pid;

#if HAVE_TSAN
        skip(); /* 20k fibers: over ThreadSanitizer's limit of 8128 */
#endif
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                exec_program((char *[]) { (char *) self_exe, (char *) "--budget-child", NULL });
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void expect_overflow_report(const char *mode, const char *suffix) {
        _cleanup_close_ int rd = -1;
        char out[1024] = "", want[256];
        int p[2], status;
        ssize_t n, total = 0;
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDERR_FILENO);
                exec_program((char *[]) { (char *) self_exe, (char *) "--overflow-child",
                                                    (char *) mode, NULL });
                _exit(127);
        }
        close(p[1]);
        rd = p[0];
        while ((n = read(rd, out + total, sizeof out - 1 - (size_t) total)) > 0)
                total += n;
        out[total] = '\0';
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
        snprintf(want, sizeof want, "task 'deep' overflowed its ");
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "-byte stack"));
        if (suffix)
                assert_non_null(strstr(out, suffix));
        else
                assert_null(strstr(out, "canary"));
}

static void test_stack_overflow_madvise_guard(void **state) {
        /* qemu-user answers MADV_GUARD_INSTALL with success and installs
         * nothing: only a real kernel can show this one. */
        if (getenv("TEST_WRAPPER") && *getenv("TEST_WRAPPER"))
                skip();
        expect_overflow_report("madvise", NULL);
}

static void test_stack_overflow_mprotect_guard(void **state) {
        expect_overflow_report("mprotect", NULL);
}

static void test_stack_overflow_canary(void **state) {
        expect_overflow_report("canary", "(its stack canary was overwritten)");
}

/* ---- guards and sizes -------------------------------------------------- */

static bool kernel_at_least(int major, int minor) {
        struct utsname u;
        int ma = 0, mi = 0;

        assert_int_equal(uname(&u), 0);
        assert_true(sscanf(u.release, "%d.%d", &ma, &mi) == 2);
        return ma > major || (ma == major && mi >= minor);
}

static int nop(void *arg) {
        return 0;
}

static void test_stack_guard_mode_matches_kernel(void **state) {
        _cleanup_loop_ co_loop_t *loop = NULL;

        unsetenv("COTASK_STACK_GUARD");
        assert_int_equal(co_loop_new(&loop), 0);
        assert_int_equal(co_loop_spawn(loop, NULL, "nop", nop, NULL, NULL), 0);
        assert_int_equal(co_loop_run(loop), 0);
        /* MADV_GUARD_INSTALL arrived in Linux 6.13. */
        assert_int_equal(co__stacks_guard_mode(), kernel_at_least(6, 13) ? CO__GUARD_MADVISE : CO__GUARD_MPROTECT);
}

static int use_big_frame(void *arg) {
        char buf[200 * 1024];

        memset(buf, 1, sizeof buf);
        *(size_t *) arg = co_task_get_stack_size(co_task_current());
        return buf[sizeof buf - 1] + buf[0] - 2;
}

static int spawn_big(void *arg) {
        _cleanup_task_ co_task_t *big = NULL, *small = NULL;
        co_task_opts_t opts = { .stack_size = 256 * 1024 };
        co_outcome_t o;

        assert_int_equal(co_spawn_with(&big, "big", use_big_frame, arg, &opts), 0);
        assert_int_equal(co_task_join(big, &o), 0);
        assert_int_equal(o.kind, CO_OUTCOME_RESULT);
        assert_int_equal(co_spawn(&small, "small", nop, NULL), 0);
        assert_true(co_task_get_stack_size(small) >= CO_STACK_SIZE_DEFAULT);
        assert_true(co_task_get_stack_size(small) < CO_STACK_SIZE_DEFAULT + 8192);
        opts.stack_size = 100;
        assert_int_equal(co_spawn_with(NULL, "tiny", nop, NULL, &opts), -EINVAL);
        return 0;
}

static void test_stack_per_task_size(void **state) {
        size_t got = 0;

        assert_int_equal(run_main(spawn_big, &got).kind, CO_OUTCOME_RESULT);
        assert_true(got >= 256 * 1024);
}

static int where_is_my_stack(void *arg) {
        volatile char here;

        *(uintptr_t *) arg = (uintptr_t) &here;
        return 0;
}

static int reuse(void *arg) {
        uintptr_t first = 0;

        for (int i = 0; i < 1000; i++) {
                uintptr_t at = 0;
                co_task_t *t = NULL;

                assert_int_equal(co_spawn(&t, "again", where_is_my_stack, &at), 0);
                assert_int_equal(co_task_join(t, NULL), 0);
                co_task_unref(t);
                if (!first)
                        first = at;
                /* The pool hands the same, still cached, stack back. */
                assert_true(at == first);
        }
        return 0;
}

static void test_stack_pool_reuses_slots(void **state) {
        assert_int_equal(run_main(reuse, NULL).kind, CO_OUTCOME_RESULT);
}

#define PARKED MANY_TASKS

typedef struct parked {
        size_t maps_parked;
} parked_t;

static int park(void *arg) {
        return co_sleep(3600 * CO_USEC_PER_SEC);
}

static int park_many(void *arg) {
        parked_t *p = arg;

        for (int i = 0; i < PARKED; i++)
                assert_int_equal(co_spawn(NULL, "parked", park, NULL), 0);
        assert_int_equal(co_task_yield(), 0);
        p->maps_parked = count_mappings();
        return 0; /* returning cancels and joins all the children */
}

static void test_stack_100k_parked_few_mappings(void **state) {
        parked_t p = { 0 };
        size_t before = count_mappings();

        assert_int_equal(run_main(park_many, &p).kind, CO_OUTCOME_RESULT);
        assert_int_equal(co__stacks_n_arenas(), 0);
        if (mappings_are_ours()) {
                /* Guarded stacks without a mapping each: far below 65530. */
                assert_true(p.maps_parked < before + 1000);
                assert_int_equal(count_mappings(), before);
        }
}

/* ---- giving idle arenas back -------------------------------------------- */

/* Enough default stacks for several arenas (about 240 slots each). */
#define TRIM_TASKS 2000
#define TRIM_LIVE_FROM 700
#define TRIM_LIVE_TO 1100

typedef struct trim {
        co_task_t *task[TRIM_TASKS];
        char *page[TRIM_TASKS];         /* a page of each task's stack */
        size_t parked;
        long arenas_full, arenas_trimmed;
        size_t ended_unmapped, live_unmapped;
} trim_t;

static char *page_of(const volatile void *p) {
        return (char *) ((uintptr_t) p & ~(uintptr_t) (sysconf(_SC_PAGESIZE) - 1));
}

static bool page_mapped(char *page) {
        unsigned char vec;

        return mincore(page, 1, &vec) == 0 || errno != ENOMEM;
}

static int park_noting_stack(void *arg) {
        volatile char here = 0;
        trim_t *t = arg;

        t->page[t->parked++] = page_of(&here);
        return co_sleep(3600 * CO_USEC_PER_SEC) + here;
}

static int end_all_but_a_middle_run(void *arg) {
        trim_t *t = arg;

        for (size_t i = 0; i < TRIM_TASKS; i++)
                assert_int_equal(co_spawn(&t->task[i], "parked", park_noting_stack, t), 0);
        while (t->parked < TRIM_TASKS)
                assert_int_equal(co_task_yield(), 0);
        t->arenas_full = co__stacks_n_arenas();
        for (size_t i = 0; i < TRIM_TASKS; i++)
                if (i < TRIM_LIVE_FROM || i >= TRIM_LIVE_TO) {
                        co_task_cancel(t->task[i], "test");
                        assert_int_equal(co_task_join(t->task[i], NULL), 0);
                }
        /* The loop gives idle arenas back when it is about to sleep. */
        assert_int_equal(co_sleep(CO_USEC_PER_MSEC), 0);
        t->arenas_trimmed = co__stacks_n_arenas();
        for (size_t i = 0; i < TRIM_TASKS; i++) {
                if (i < TRIM_LIVE_FROM || i >= TRIM_LIVE_TO)
                        t->ended_unmapped += !page_mapped(t->page[i]);
                else
                        t->live_unmapped += !page_mapped(t->page[i]);
        }
        /* The live ones run on their stacks to the end: a stack unmapped
         * under them would crash here. */
        for (size_t i = 0; i < TRIM_TASKS; i++)
                co_task_unref(t->task[i]);
        return 0;
}

static void test_stack_trim_frees_idle_arenas_around_live_ones(void **state) {
        trim_t *t = calloc(1, sizeof *t);

        assert_non_null(t);
        assert_int_equal(run_main(end_all_but_a_middle_run, t).kind, CO_OUTCOME_RESULT);
        assert_true(t->arenas_full >= 6);
        /* Of the idle arenas before and after the live run, one spare is kept. */
        assert_true(t->arenas_trimmed < t->arenas_full - 2);
        assert_true(t->ended_unmapped > 0);
        assert_int_equal(t->live_unmapped, 0);
        assert_int_equal(co__stacks_n_arenas(), 0);
        free(t);
}

/* A loop kept busy gives nothing back by itself; co_loop_trim does. */
#define BUSY_TASKS 4000

typedef struct busy {
        bool stop;
        long arenas_full, arenas_busy, arenas_trimmed;
} busy_t;

static int spin(void *arg) {
        const busy_t *b = arg;

        while (!b->stop)
                assert_int_equal(co_task_yield(), 0);
        return 0;
}

static int end_many_while_busy(void *arg) {
        co_task_t *spinner = NULL, **many = calloc(BUSY_TASKS, sizeof *many);
        busy_t *b = arg;

        assert_non_null(many);
        assert_int_equal(co_spawn(&spinner, "spinner", spin, b), 0);
        for (size_t i = 0; i < BUSY_TASKS; i++)
                assert_int_equal(co_spawn(&many[i], "parked", park, NULL), 0);
        assert_int_equal(co_task_yield(), 0);
        b->arenas_full = co__stacks_n_arenas();
        for (size_t i = 0; i < BUSY_TASKS; i++) {
                co_task_cancel(many[i], "test");
                assert_int_equal(co_task_join(many[i], NULL), 0);
                co_task_unref(many[i]);
        }
        /* The spinner kept a task ready all along: the loop never slept. */
        b->arenas_busy = co__stacks_n_arenas();
        assert_int_equal(co_loop_trim(co_loop_current()), 0);
        b->arenas_trimmed = co__stacks_n_arenas();
        b->stop = true;
        assert_int_equal(co_task_join(spinner, NULL), 0);
        co_task_unref(spinner);
        free(many);
        return 0;
}

static void test_stack_trim_while_busy(void **state) {
        busy_t b = { 0 };

        assert_int_equal(run_main(end_many_while_busy, &b).kind, CO_OUTCOME_RESULT);
        assert_true(b.arenas_full > 8);
        assert_int_equal(b.arenas_busy, b.arenas_full);
        /* The arena in use (main's, the spinner's) and one spare. */
        assert_true(b.arenas_trimmed <= 2);
        assert_int_equal(co_loop_trim(NULL), -EINVAL);
}

int main(int argc, char **argv) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stack_overflow_madvise_guard),
                cmocka_unit_test(test_stack_overflow_mprotect_guard),
                cmocka_unit_test(test_stack_overflow_canary),
                cmocka_unit_test(test_stack_mprotect_budget_falls_back_to_canary),
                cmocka_unit_test(test_stack_guard_mode_matches_kernel),
                cmocka_unit_test(test_stack_per_task_size),
                cmocka_unit_test(test_stack_pool_reuses_slots),
                cmocka_unit_test(test_stack_100k_parked_few_mappings),
                cmocka_unit_test(test_stack_trim_frees_idle_arenas_around_live_ones),
                cmocka_unit_test(test_stack_trim_while_busy),
        };

        self_exe = argv[0];
        if (argc == 3 && strcmp(argv[1], "--overflow-child") == 0)
                return overflow_child(argv[2]);
        if (argc == 2 && strcmp(argv[1], "--budget-child") == 0)
                return budget_child();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
