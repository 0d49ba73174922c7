#!/usr/bin/env bash
# Runs each test program in its own process under a time limit, so one hang
# or crash cannot take the suite down, and sums up cmocka's counts.
#   tests/run-tests.sh BUILD_DIR TEST_BINARY...
# With VALGRIND=1 each runs under valgrind's memcheck; any error fails it.
set -u
build=$1
shift
export COTASK_BUILD=$build
# TEST_WRAPPER runs every program of the build (e.g. qemu-aarch64).
wrap=()
if [ -n "${TEST_WRAPPER:-}" ]; then
        wrap=("$TEST_WRAPPER")
fi
if [ -n "${VALGRIND:-}" ]; then
        wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite)
fi
passed=0
failed=0
broken=()
for t in "$@"; do
        log=$(mktemp)
        timeout --kill-after=10 "${TEST_TIMEOUT:-240}" "${wrap[@]}" "$t" 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | tail -n 1)
        f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | tail -n 1)
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        if [ "$rc" != 0 ] && [ -z "$f" ]; then
                # Crashed or timed out before cmocka could count.
                failed=$((failed + 1))
                broken+=("$(basename "$t") (exit $rc)")
        fi
        rm -f "$log"
done
for b in "${broken[@]}"; do
        echo "broken: $b"
done
echo "check: $passed passed, $failed failed"
[ "$failed" = 0 ]
