#!/usr/bin/env python3
"""Per-thread CPU, run-queue wait and off-CPU time of a running process, from /proc.

Usage: thread-times.py PID [INTERVAL_S]
Samples /proc/PID/task/*/{comm,schedstat} every INTERVAL_S (default 0.2) until the process exits,
then prints, per thread name (threads of one pool summed): CPU seconds, seconds spent runnable
but waiting for a core (other processes' load shows up here, not as CPU), and the rest of the
thread's lifetime inside the window (blocked: locks, I/O, an empty queue). On a shared machine
this separates "our threads could not run" from "our threads had nothing to do".
"""
import os, re, sys, time, collections

def snap(pid):
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return None
    for tid in tids:
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            run, wait, _ = map(int, open(f"/proc/{pid}/task/{tid}/schedstat").read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        out[tid] = (comm, run, wait)
    return out

def main():
    pid = int(sys.argv[1]); step = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    first_seen = {}; last = {}; t0 = time.monotonic(); t_last = t0
    while True:
        s = snap(pid)
        if not s:
            break
        now = time.monotonic()
        for tid, v in s.items():
            first_seen.setdefault(tid, now)
            last[tid] = v
        t_last = now
        time.sleep(step)
    agg = collections.OrderedDict()
    for tid, (comm, run, wait) in last.items():
        pool = re.sub(r"-?\d+$", "-*", comm) if re.search(r"\d+$", comm) else comm
        life = t_last - first_seen[tid]
        a = agg.setdefault(pool, [0, 0.0, 0.0, 0.0])
        a[0] += 1; a[1] += run / 1e9; a[2] += wait / 1e9; a[3] += life
    print(f"window {t_last - t0:.2f} s (sampled every {step} s)")
    print(f"{'threads':<24}{'n':>3}{'cpu s':>9}{'runq s':>9}{'off-cpu s':>11}")
    for pool, (n, cpu, wait, life) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
        if cpu < 0.01:
            continue
        print(f"{pool:<24}{n:>3}{cpu:>9.2f}{wait:>9.2f}{max(0.0, life - cpu - wait):>11.2f}")

main()
