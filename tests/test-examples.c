/* SPDX-License-Identifier: MIT */
/* The programs in lib/examples/, run for real, output checked line by line. */
#include <signal.h>

#include "test-util.h"

static void test_examples_countdown(void **state) {
        _cleanup_free_ char *out = run_example("countdown", "40");

        assert_string_equal(out,
                            "task A 3\n"
                            "task B 2\n"
                            "Everything, everywhere, all at once\n"
                            "task A 2\n"
                            "task B 1\n"
                            "task A 1\n"
                            "done!\n"
                            "done!\n");
}

static void test_examples_gather(void **state) {
        _cleanup_free_ char *out = run_example("gather", "40");

        assert_string_equal(out,
                            "task A 4\n"
                            "task B 3\n"
                            "task A 3\n"
                            "task B 2\n"
                            "task A 2\n"
                            "task B 1\n"
                            "task A 1\n"
                            "done!\n"
                            "done!\n"
                            "Everything, everywhere, all at once\n");
}

static void test_examples_wait_first_completed(void **state) {
        _cleanup_free_ char *out = run_example("wait-first", "40");

        /* The draw is seeded: the same every run. */
        assert_string_equal(out,
                            "task-1 sleeps 1.38 s\n"
                            "task-2 sleeps 2.20 s\n"
                            "task-3 sleeps 2.17 s\n"
                            "first finished: task-1\n"
                            "pending: task-2 task-3\n");
}

static void test_examples_wait_for(void **state) {
        _cleanup_free_ char *out = run_example("wait-for", "20");

        /* wait_for returns only once foo's cleanup has run. */
        assert_string_equal(out,
                            "foo(1) started\n"
                            "foo cleaned up\n"
                            "timeout!\n");
}

static void test_examples_as_completed(void **state) {
        _cleanup_free_ char *out = run_example("as-completed", "40");

        assert_string_equal(out,
                            "the quickest result was: b!\n"
                            "the next quickest result was: a!\n"
                            "the next quickest result was: c!\n");
}

static void test_examples_create_task(void **state) {
        _cleanup_free_ char *out = run_example("create-task", "40");

        assert_string_equal(out,
                            "<Task pending name='some_work'>\n"
                            "Hello World!\n"
                            "<Task finished name='some_work' result=42>\n");
}

static void test_examples_done_callback(void **state) {
        _cleanup_free_ char *out = run_example("done-callback", "20");

        assert_string_equal(out, "got the result! Foo!\n");
}

static void test_examples_unretrieved_error(void **state) {
        char *err = NULL;
        _cleanup_free_ char *out = run_example_full("unretrieved", "40", &err);

        assert_string_equal(out, "main carried on\n");
        /* Reported as the task finished, naming it; exactly once. */
        assert_non_null(strstr(err, "level=err task=doomed msg=\"task 'doomed' failed and nobody joined it: "
                                    "Input/output error: the disk is on fire\""));
        assert_null(strstr(strstr(err, "nobody joined") + 1, "nobody joined"));
        free(err);
}

static void test_examples_first_responder(void **state) {
        char *err = NULL;
        _cleanup_free_ char *out = run_example_full("first-responder", "20", &err);

        assert_string_equal(out,
                            "asking both services\n"
                            "first answer: fast\n"
                            "the other request was cancelled and cleaned up\n");
        /* Nothing reported as leaked or unretrieved. */
        assert_string_equal(err, "");
        free(err);
}

/* Tutorial example 9: a service interrupted by SIGINT. */
static void test_examples_service_sigint(void **state) {
        const char *build = getenv("COTASK_BUILD") ?: "build";
        char path[512], out[4096] = "", *line, *save = NULL;
        int p[2], status, woke = 0;
        size_t n = 0;
        ssize_t k;
        pid_t pid;

        snprintf(path, sizeof path, "%s/examples/service", build);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                exec_program((char *[]) { path, (char *) "40", NULL });
                _exit(127);
        }
        close(p[1]);
        /* Let it wake up a few times, then interrupt it. */
        while (!strstr(out, "woke up\nwoke up\n") && (k = read(p[0], out + n, sizeof out - 1 - n)) > 0)
                out[n += (size_t) k] = '\0';
        kill(pid, SIGINT);
        while ((k = read(p[0], out + n, sizeof out - 1 - n)) > 0)
                out[n += (size_t) k] = '\0';
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        for (line = strtok_r(out, "\n", &save); line && strcmp(line, "woke up") == 0; line = strtok_r(NULL, "\n", &save))
                woke++;
        assert_true(woke >= 2);
        assert_non_null(line);
        assert_string_equal(line, "Caught the cancel before throwing again");
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        assert_string_equal(line, "Starting shutting down");
        assert_null(strtok_r(NULL, "\n", &save));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_countdown),
                cmocka_unit_test(test_examples_gather),
                cmocka_unit_test(test_examples_wait_first_completed),
                cmocka_unit_test(test_examples_wait_for),
                cmocka_unit_test(test_examples_as_completed),
                cmocka_unit_test(test_examples_create_task),
                cmocka_unit_test(test_examples_done_callback),
                cmocka_unit_test(test_examples_unretrieved_error),
                cmocka_unit_test(test_examples_first_responder),
                cmocka_unit_test(test_examples_service_sigint),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
