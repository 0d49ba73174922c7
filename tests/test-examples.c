/* SPDX-License-Identifier: MIT */
/* The programs in lib/examples/, run for real, output checked line by line. */
#include <fcntl.h>
#include <sys/wait.h>

#include "test-util.h"

/* Runs $COTASK_BUILD/examples/NAME with args; returns its stdout. */
static char *run_example(const char *name, const char *arg) {
        const char *build = getenv("COTASK_BUILD") ?: "build";
        char path[512], *out = malloc(65536);
        size_t total = 0;
        int p[2], status;
        ssize_t n;
        pid_t pid;

        assert_non_null(out);
        snprintf(path, sizeof path, "%s/examples/%s", build, name);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], STDOUT_FILENO);
                exec_program((char *[]) { path, (char *) arg, NULL });
                _exit(127);
        }
        close(p[1]);
        while ((n = read(p[0], out + total, 65535 - total)) > 0)
                total += (size_t) n;
        out[total] = '\0';
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        return out;
}

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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_countdown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
