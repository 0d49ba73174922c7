/* SPDX-License-Identifier: MIT */
/* The programs in lib/examples/, run for real, output checked line by line. */
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_examples_countdown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
