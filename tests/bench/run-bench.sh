#!/bin/bash
# SPDX-License-Identifier: MIT
#
# run-bench.sh BUILD_DIR: runs the cotask benchmarks (BUILD_DIR/bench/*) and
# their Python asyncio/uvloop peers, interleaved round by round so that the
# noise of this shared machine falls on both sides alike. Prints the median
# of every measurement, then ratio lines, all as
#     name=<bench> value=<number> unit=<unit>
# on stdout, and a summary against the targets on stderr.
#
# The cotaskd benchmarks (echo, shutdown, ready, idle) run BUILD_DIR/cotaskd
# (bench-shutdown is a cotaskd of its own); echo's peers, a raw libevent
# server and a uvloop Protocol server (peer-echo.py), run under the same
# client in the same program, as does shutdown's floor (a raw epoll server).
#
# BENCH_QUICK=1: one round, every count divided by 10 (smoke tests; the
# figures are then too small to hold against the targets).
set -euo pipefail

if [[ $# -ne 1 ]]; then
        echo "usage: $0 BUILD_DIR" >&2
        exit 2
fi
bench=$1/bench
cotaskd=$1/cotaskd
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's interpreter: python3-uvloop is installed for it, not for
# whatever python3 comes first in PATH.
python=/usr/bin/python3
peer=$here/peer-asyncio.py
default_conf=$here/../../config/cotaskd.conf

if [[ ${BENCH_QUICK:-0} != 0 ]]; then
        quick=1 rounds=1 rounds_big=1 rounds_kit=1 rounds_daemon=1 div=10
        pyquick=(--quick)
        ready_runs=3 idle_ms=500
else
        quick=0 rounds=5 rounds_big=3 rounds_kit=3 rounds_daemon=3 div=1
        pyquick=()
        ready_runs=11 idle_ms=2000
fi
parked_small=100000
parked_big=1000000

for b in switch spawn parked cancel gather timers queue to-thread echo shutdown ready idle; do
        if [[ ! -x $bench/bench-$b ]]; then
                echo "run-bench: $bench/bench-$b is missing: run make first" >&2
                exit 1
        fi
done
if [[ ! -x $cotaskd ]]; then
        echo "run-bench: $cotaskd is missing: run make first" >&2
        exit 1
fi

impls=()
if [[ -x $python ]]; then
        impls+=(asyncio)
        if "$python" -c 'import uvloop' 2>/dev/null; then
                impls+=(uvloop)
        else
                echo "run-bench: warning: no uvloop for $python (apt-get install python3-uvloop): no uvloop peers" >&2
        fi
else
        echo "run-bench: warning: no $python: no Python peers" >&2
fi

results=$(mktemp)
trap 'rm -f "$results"' EXIT
line_re='^name=[A-Za-z0-9_]+ value=-?[0-9]+(\.[0-9]+)? unit=[A-Za-z%/]+$'

# Runs one program and keeps its result lines; any failure (a correctness
# assertion, a crash, a stray line on stdout) ends the whole run.
run() {
        local out line

        if ! out=$("$@"); then
                echo "run-bench: FAILED: $*" >&2
                exit 1
        fi
        while IFS= read -r line; do
                if [[ ! $line =~ $line_re ]]; then
                        echo "run-bench: unexpected output from $*: '$line'" >&2
                        exit 1
                fi
                printf '%s\n' "$line" >>"$results"
        done <<<"$out"
}

peers() {
        local impl

        for impl in "${impls[@]}"; do
                run "$python" "$peer" "$1" "$impl" "${pyquick[@]}" "${@:2}"
        done
}

start=$SECONDS
for ((round = 1; round <= rounds; round++)); do
        echo "run-bench: round $round/$rounds: switch, spawn, cancel, parked $((parked_small / div))" >&2
        run "$bench/bench-switch" $((10000000 / div))
        peers switch
        run "$bench/bench-spawn" $((1000000 / div))
        peers spawn
        run "$bench/bench-cancel" $((100000 / div))
        peers cancel
        run "$bench/bench-parked" $((parked_small / div))
        peers parked --tasks "$parked_small"
done
for ((round = 1; round <= rounds_big; round++)); do
        echo "run-bench: round $round/$rounds_big: parked $((parked_big / div))" >&2
        run "$bench/bench-parked" $((parked_big / div))
        # asyncio only: a million uvloop tasks add 20 s a round and differ
        # from asyncio in little but RSS, which the 100k round shows.
        if [[ ${#impls[@]} -gt 0 ]]; then
                run "$python" "$peer" parked asyncio "${pyquick[@]}" --tasks "$parked_big"
        fi
done

# The concurrency toolkit: fewer rounds, timers alone take 2 s a run.
for ((round = 1; round <= rounds_kit; round++)); do
        echo "run-bench: round $round/$rounds_kit: gather, timers, queue, to_thread" >&2
        run "$bench/bench-gather" $((100000 / div))
        peers gather
        run "$bench/bench-timers" $((10000 / div))
        peers timers
        run "$bench/bench-queue" $((1000000 / div))
        peers queue
        run "$bench/bench-to-thread" $((100000 / div))
        peers to_thread
done

# cotaskd: the real daemon (bench-shutdown: one of its own), 10k idle
# connections for shutdown, 11 starts for ready (their median per run).
echo_peer=()
if [[ " ${impls[*]} " == *" uvloop "* ]]; then
        echo_peer=(--python "$python" --peer "$here/peer-echo.py")
fi
for ((round = 1; round <= rounds_daemon; round++)); do
        echo "run-bench: round $round/$rounds_daemon: cotaskd echo, shutdown, ready, idle" >&2
        run "$bench/bench-echo" --cotaskd "$cotaskd" "${echo_peer[@]}" $((100000 / div))
        run "$bench/bench-shutdown" $((10000 / div)) $((100000 / div))
        run "$bench/bench-ready" "$cotaskd" "$default_conf" "$ready_runs"
        run "$bench/bench-idle" "$cotaskd" "$idle_ms"
done

# Median per name, in order of first appearance.
medians=$(awk '
{
        name = substr($1, 6); v = substr($2, 7) + 0
        if (!(name in count)) { order[++names] = name; unit[name] = substr($3, 6) }
        vals[name, ++count[name]] = v
}
END {
        for (i = 1; i <= names; i++) {
                name = order[i]; c = count[name]
                for (a = 1; a <= c; a++) s[a] = vals[name, a]
                for (a = 2; a <= c; a++) {
                        x = s[a]
                        for (b = a - 1; b >= 1 && s[b] > x; b--) s[b + 1] = s[b]
                        s[b + 1] = x
                }
                m = c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
                printf "name=%s value=%.2f unit=%s\n", name, m, unit[name]
        }
}' "$results")

# NAME LOWEST HIGHEST, over the rounds: the spread the summary shows.
spreads=$(awk '
{
        name = substr($1, 6); v = substr($2, 7) + 0
        if (!(name in lo) || v < lo[name]) lo[name] = v
        if (!(name in hi) || v > hi[name]) hi[name] = v
        count[name]++
}
END {
        for (name in lo)
                if (count[name] > 1)
                        printf "%s %.2f %.2f\n", name, lo[name], hi[name]
}' "$results")

# get NAME: the value of a median or ratio line; get_unit NAME: "value unit".
all=$medians
get() {
        awk -v n="name=$1" '$1 == n { print substr($2, 7) }' <<<"$all"
}
get_unit() {
        awk -v n="name=$1" '$1 == n { print substr($2, 7) " " substr($3, 6) }' <<<"$all"
}

# ratio NAME NUMERATOR DENOMINATOR: a ratio line from two medians.
ratio() {
        local a b

        a=$(get "$2")
        b=$(get "$3")
        if [[ -n $a && -n $b ]]; then
                awk -v n="$1" -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "name=%s value=%.2f unit=x\n", n, a / b }'
        fi
}

ratios=$(
        ratio uvloop_vs_switch switch_uvloop switch
        ratio asyncio_vs_switch switch_asyncio switch
        ratio uvloop_vs_spawn spawn_uvloop spawn
        ratio uvloop_vs_cancel cancel_uvloop cancel
        ratio uvloop_vs_gather gather_uvloop gather
        ratio uvloop_vs_queue queue_uvloop queue
        ratio uvloop_vs_to_thread to_thread_uvloop to_thread
        ratio echo_cpu_uvloop_vs_raw echo_cpu_uvloop echo_cpu_raw
)
printf '%s\n' "$medians"
if [[ -n $ratios ]]; then
        printf '%s\n' "$ratios"
fi

# ---- summary on stderr ----------------------------------------------------
all=$(printf '%s\n%s\n' "$medians" "$ratios")

# spread NAME: "(rounds LOWEST-HIGHEST)", or nothing for one round.
spread() {
        awk -v n="$1" '$1 == n { print "(rounds " $2 "-" $3 ")" }' <<<"$spreads"
}

# target LABEL NAME OP GOAL UNIT: one line of the summary, with the
# rounds' spread when the benchmark measured NAME more than once.
target() {
        local v spread

        v=$(get "$2")
        if [[ -z $v ]]; then
                printf '  %-40s %12s  %-14s %s\n' "$1" "-" "$3 $4 $5" "not measured" >&2
                return
        fi
        spread=$(spread "$2")
        awk -v label="$1" -v v="$v" -v op="$3" -v goal="$4" -v unit="$5" -v spread="$spread" 'BEGIN {
                ok = op == "<=" ? v <= goal + 0 : v >= goal + 0
                line = sprintf("  %-40s %12s  %-14s %-6s %s", label, v " " unit, op " " goal " " unit, ok ? "met" : "MISSED", spread)
                sub(/ +$/, "", line)
                print line
        }' >&2
}

big=$((parked_big / div))
small=$((parked_small / div))
{
        echo
        echo "cotask benchmarks: medians of $rounds rounds ($rounds_big for $big parked tasks, $rounds_daemon for cotaskd), $((SECONDS - start)) s"
        if [[ $quick == 1 ]]; then
                echo "  QUICK mode: counts / 10, one round; not comparable with the targets"
        fi
        printf '  %-40s %12s  %-14s %s\n' "measure" "median" "target" ""
} >&2
target "switch vs raw context switch" switch_vs_raw "<=" 3 x
target "uvloop switch / cotask switch" uvloop_vs_switch ">=" 50 x
target "spawn + join, per task" spawn "<=" 150 ns
target "RSS per parked task ($small)" "parked_rss_$small" "<=" 4608 B
target "RSS per parked task ($big)" "parked_rss_$big" "<=" 4608 B
target "create $big parked vs page floor" "parked_create_vs_floor_$big" "<=" 1.5 x
target "create $small parked vs page floor" "parked_create_vs_floor_$small" "<=" 1.5 x
max_map_count=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 65530)
target "mappings, $big parked (10% of max)" "parked_maps_$big" "<=" $((max_map_count / 10)) count
target "guard pages confirmed ($big parked)" "parked_guards_$big" ">=" 100 %
target "cancel + join $((100000 / div)) in try/finally" cancel "<=" 50 ms
target "timers: wake-ups per second (1M asked)" timers_wakeups ">=" 950000 Hz
target "timers: p99 lateness" timers_late_p99 "<=" 2000 us
target "echo: server CPU/msg vs raw libevent" echo_cpu_vs_raw "<=" 1.15 x
target "shutdown, $((10000 / div)) conns + $((100000 / div)) parked" shutdown "<=" 100 ms
target "ready: exec to READY=1 (default conf)" ready "<=" 20 ms
target "idle daemon: wake-ups per second" idle "<=" 0 Hz
{
        for n in "$small" "$big"; do
                v=$(get_unit "parked_pte_$n")
                [[ -n $v ]] && echo "  page tables per parked task ($n), not in RSS: $v"
        done
        v=$(get_unit echo_conn_rss)
        [[ -n $v ]] && echo "  daemon RSS per idle echo connection: $v"
        v=$(get_unit shutdown_floor)
        floor_spread=$(spread shutdown_floor)
        [[ -n $v ]] && echo "  shutdown floor (a raw epoll server closing the same connections, unmapping a page per parked task): $v${floor_spread:+ $floor_spread}; cotaskd $(get_unit shutdown_vs_floor)"
        echo "  peers (same run):"
        for name in switch spawn cancel "parked_rss_$small" "parked_create_$small" \
                    "parked_rss_$big" "parked_create_$big" gather timers_wakeups timers_late_mean \
                    timers_late_p99 queue to_thread; do
                line="    $(printf '%-24s' "$name") cotask $(get_unit "$name")"
                for impl in "${impls[@]}"; do
                        pname=${name/parked_rss_/parked_rss_${impl}_}
                        pname=${pname/parked_create_/parked_create_${impl}_}
                        [[ $pname == "$name" ]] && pname=${name}_$impl
                        v=$(get_unit "$pname")
                        [[ -n $v ]] && line+=", $impl $v"
                done
                echo "$line"
        done
        echo "  echo, 50 conns x 64 B (same client):"
        for name in echo echo_p50 echo_p99 echo_cpu; do
                line="    $(printf '%-24s' "$name") cotaskd $(get_unit "$name")"
                for impl in raw uvloop; do
                        v=$(get_unit "${name}_$impl")
                        [[ -n $v ]] && line+=", $impl $v"
                done
                echo "$line"
        done
} >&2
