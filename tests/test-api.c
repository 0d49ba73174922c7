/* SPDX-License-Identifier: MIT */
/* The library's face: what the shared object exports, and that the public
 * header stays usable from C++ (C++20 has co_await, co_yield, co_return). */
#include "test-util.h"

static void test_api_exports_only_co_names(void **state) {
        const char *build = getenv("COTASK_BUILD") ?: "build";
        char cmd[512], sym[256];
        unsigned n = 0, foreign = 0;
        FILE *p;

        /* $NM / $OBJDUMP: the cross tools for a cross build. */
        snprintf(cmd, sizeof cmd, "%s -D --defined-only %s/libcotask.so | awk '{ print $3 }'",
                 getenv("NM") ?: "nm", build);
        p = popen(cmd, "re");
        assert_non_null(p);
        while (fscanf(p, "%255s", sym) == 1) {
                n++;
                if (strncmp(sym, "co_", 3) != 0) {
                        fprintf(stderr, "exported without the co_ prefix: %s\n", sym);
                        foreign++;
                }
                /* Internal names (co__) stay hidden. */
                if (strncmp(sym, "co__", 4) == 0)
                        foreign++;
        }
        assert_int_equal(pclose(p), 0);
        assert_true(n > 20);
        assert_int_equal(foreign, 0);
}

static void test_api_header_compiles_as_cxx20(void **state) {
        char cmd[512];

        snprintf(cmd, sizeof cmd,
                 "printf '#include <cotask/cotask.h>\\nint f() { int r = 0; CO_TRY { CO_LEAVE; } "
                 "CO_FINALLY { r = 1; } CO_END_TRY; return r; }\\n' | "
                 "g++ -std=c++20 -Wall -Wextra -Werror -Ilib/include -fsyntax-only -x c++ -");
        assert_int_equal(system(cmd), 0);
}

static void test_api_soname(void **state) {
        const char *build = getenv("COTASK_BUILD") ?: "build";
        char cmd[512];

        snprintf(cmd, sizeof cmd, "%s -p %s/libcotask.so | grep -q 'SONAME *libcotask.so.0$'",
                 getenv("OBJDUMP") ?: "objdump", build);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_api_exports_only_co_names),
                cmocka_unit_test(test_api_header_compiles_as_cxx20),
                cmocka_unit_test(test_api_soname),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
