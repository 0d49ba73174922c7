#!/usr/bin/python3
"""Python asyncio / uvloop peer for the cotask benchmarks.

The C benchmarks call this script in the same run, so their numbers can be
compared against a well-known coroutine runtime measured on the same machine.
It runs one benchmark per process (so RSS numbers are clean) and prints only
lines of the form  name=<bench>_<impl> value=<number> unit=<unit>.

Usage: peer-asyncio.py {switch,spawn,parked,cancel,gather,timers,queue,to_thread}
                       {asyncio,uvloop}
                       [--quick] [--tasks N]
--quick divides every count by 10 (smoke tests); --tasks is for `parked`.
"""
import argparse
import asyncio
import gc
import os
import sys
from time import perf_counter_ns

PAGE = os.sysconf("SC_PAGE_SIZE")


def report(name, value, unit):
    print(f"name={name} value={value} unit={unit}", flush=True)


def check(cond, msg):
    if not cond:
        sys.exit(f"peer-asyncio: assertion failed: {msg}")  # stderr, exit 1


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


async def bench_switch(impl, div, _):
    iters = 500_000 // div  # per task; two tasks -> 2 * iters switches

    async def pinger():
        for _ in range(iters):
            await asyncio.sleep(0)

    t0 = perf_counter_ns()
    await asyncio.gather(pinger(), pinger())
    elapsed = perf_counter_ns() - t0
    report(f"switch_{impl}", round(elapsed / (2 * iters), 1), "ns")


async def bench_spawn(impl, div, _):
    total, batch_size = 1_000_000 // div, 10_000

    async def f():
        return 1

    done = 0
    t0 = perf_counter_ns()
    for _ in range(total // batch_size):
        batch = [asyncio.create_task(f()) for _ in range(batch_size)]
        for t in batch:
            done += await t
    elapsed = perf_counter_ns() - t0
    check(done == total, f"spawn: {done} != {total}")
    report(f"spawn_{impl}", round(elapsed / total, 1), "ns")


started = 0   # tasks that have reached their first await
finished = 0  # cancel: finally blocks that ran


async def sleeper():
    global started
    started += 1
    await asyncio.sleep(3600)


async def sleeper_finally():
    global started, finished
    started += 1
    try:
        await asyncio.sleep(3600)
    finally:
        finished += 1


async def park_all(n, body):
    """Create n tasks running body(); yield until every one is suspended."""
    tasks = [asyncio.create_task(body()) for _ in range(n)]
    while started < n:
        await asyncio.sleep(0)
    return tasks


async def bench_parked(impl, div, ntasks):
    n = ntasks // div
    rss0 = rss_bytes()
    t0 = perf_counter_ns()
    tasks = await park_all(n, sleeper)
    elapsed = perf_counter_ns() - t0
    rss1 = rss_bytes()
    report(f"parked_rss_{impl}_{n}", round((rss1 - rss0) / n, 1), "B")
    report(f"parked_create_{impl}_{n}", round(elapsed / 1e6, 1), "ms")
    gc.disable()  # untimed teardown: skip gen-2 scans of 1M live tasks
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def bench_cancel(impl, div, _):
    n = 100_000 // div
    tasks = await park_all(n, sleeper_finally)
    t0 = perf_counter_ns()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = perf_counter_ns() - t0
    check(finished == n, f"cancel: {finished} finally blocks ran, want {n}")
    report(f"cancel_{impl}", round(elapsed / 1e6, 1), "ms")


async def bench_gather(impl, div, _):
    n = 100_000 // div

    async def trivial():
        return 1

    t0 = perf_counter_ns()
    results = await asyncio.gather(*(trivial() for _ in range(n)))
    elapsed = perf_counter_ns() - t0
    check(sum(results) == n, "gather: a result is missing")
    report(f"gather_{impl}", round(elapsed / n, 1), "ns")


async def bench_timers(impl, div, _):
    """10k tasks each sleeping 10 ms in a loop for 2 s (1M wake-ups/s asked
    for), each until an absolute deadline, phases spread over the period."""
    n, secs, period = 10_000 // div, 2.0, 0.010
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.02
    end = start + secs
    late = []

    async def sleeper(i):
        deadline = start + period * i / n
        while True:
            deadline += period
            if deadline > end:
                return
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            late.append(max(0.0, loop.time() - deadline))

    await asyncio.gather(*(sleeper(i) for i in range(n)))
    took = loop.time() - start  # longer than secs when behind schedule
    check(late, "timers: no wake-up")
    late.sort()
    report(f"timers_wakeups_{impl}", round(len(late) / took), "Hz")
    report(f"timers_late_mean_{impl}", round(sum(late) / len(late) * 1e6, 1), "us")
    report(f"timers_late_p99_{impl}", round(late[len(late) * 99 // 100] * 1e6, 1), "us")


async def bench_queue(impl, div, _):
    """Two tasks ping-pong items through two asyncio.Queue(maxsize=1): ping
    puts to `there` and gets from `back`, pong the other way round. An item
    is one put and its get, two per round trip (as bench-queue.c counts)."""
    n = 1_000_000 // div  # round trips
    there, back = asyncio.Queue(maxsize=1), asyncio.Queue(maxsize=1)
    bad = 0

    async def ping():
        nonlocal bad
        for i in range(n):
            await there.put(i)
            if await back.get() != i:
                bad += 1

    async def pong():
        nonlocal bad
        for i in range(n):
            item = await there.get()
            if item != i:
                bad += 1
            await back.put(item)

    t0 = perf_counter_ns()
    await asyncio.gather(ping(), pong())
    elapsed = perf_counter_ns() - t0
    check(bad == 0 and there.empty() and back.empty(), f"queue: {bad} items out of order")
    report(f"queue_{impl}", round(elapsed / (2 * n), 1), "ns")


async def bench_to_thread(impl, div, _):
    n = 100_000 // div

    def f():
        return 1

    await asyncio.to_thread(f)  # creates the default executor and its first thread: untimed
    done = 0
    t0 = perf_counter_ns()
    for _ in range(n):
        done += await asyncio.to_thread(f)
    elapsed = perf_counter_ns() - t0
    check(done == n, f"to_thread: {done} != {n}")
    report(f"to_thread_{impl}", round(elapsed / n / 1000, 2), "us")


BENCHES = {"switch": bench_switch, "spawn": bench_spawn,
           "parked": bench_parked, "cancel": bench_cancel,
           "gather": bench_gather, "timers": bench_timers, "queue": bench_queue,
           "to_thread": bench_to_thread}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench", choices=BENCHES)
    ap.add_argument("impl", choices=["asyncio", "uvloop"])
    ap.add_argument("--quick", action="store_true", help="counts / 10")
    ap.add_argument("--tasks", type=int, default=100_000,
                    help="number of tasks for `parked` (default 100000)")
    args = ap.parse_args()

    if args.impl == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    div = 10 if args.quick else 1
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(BENCHES[args.bench](args.impl, div, args.tasks))


if __name__ == "__main__":
    main()
