#!/usr/bin/env python3
"""Login flood and login timing measurements against a real `tollgate serve` (issue 7).

  scripts/login-flood.py flood  [--logins 300]   refresh p50/p99 before vs during N concurrent
                                                 unknown-name logins; peak server RSS
  scripts/login-flood.py timing [--rounds 200]   medians of unknown-user vs wrong-password logins

Starts the binary given by --binary (default: target/release/tollgate) on a fresh SQLite data
directory, with the default Argon2 parameters and throttling set out of reach
(login.max_failures huge), so that what is measured is the hashing bound itself. Standard
library only. A script, not a test: the numbers depend on the machine.

Known finding (2026-12-03, 2 CPUs): with glibc's default dynamic mmap threshold, freed 19 MiB
Argon2 blocks stayed cached in per-thread malloc arenas of the blocking pool, so peak RSS reached
707 MiB although only 2 hashes ran at once (69 MiB with MALLOC_MMAP_THRESHOLD_=131072; bound
102 MiB). Fixed in code: `Argon2Hasher::with_slots` keeps one Argon2 buffer per hashing permit,
allocated once and reused, so no block is freed per login. One run each, same machine, under
heavy load from other builds (load average ~12, so most logins met the 2 s queue timeout):
  before: idle 73.8 MiB, peak 346.0 MiB (21 logins hashed); refresh p50/p99 2.1/22.8 ms before,
          8.7/168.4 ms during the flood
  after:  idle 35.6 MiB, peak  66.5 MiB (42 logins hashed); refresh p50/p99 2.3/18.0 ms before,
          4.6/81.5 ms during the flood
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

USER, PASSWORD = "bench", "Bench-Password-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, body, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/api/oauth2/token", body=urllib.parse.urlencode(body),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def login(port, user, password):
    return post(port, {"grantType": "Password", "userName": user, "password": password})


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def start_server(binary, data, port, extra_env):
    env = dict(os.environ)
    env.update({
        "TOLLGATE__DATA_DIR": data,
        "TOLLGATE__SERVER__BIND": f"127.0.0.1:{port}",
        "TOLLGATE__LOGIN__MAX_FAILURES": "1000000000",
        "TOLLGATE__BOOTSTRAP__USER": USER,
        "TOLLGATE__BOOTSTRAP__PASSWORD": PASSWORD,
        "TOLLGATE_LOG": "error",
    })
    env.update(extra_env)
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            status, _ = login(port, USER, PASSWORD)
            if status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("server did not start")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def chained_refresh(port, token, stop, latencies, count=None):
    n = 0
    while not stop.is_set() and (count is None or n < count):
        t = time.perf_counter()
        status, body = post(port, {"grantType": "RefreshToken", "refreshToken": token})
        latencies.append((time.perf_counter() - t) * 1000)
        if status != 200:
            sys.exit(f"refresh failed: {status} {body[:200]}")
        token = json.loads(body)["refresh_token"]
        n += 1
    return token


def flood(args, port, proc):
    status, body = login(port, USER, PASSWORD)
    token = json.loads(body)["refresh_token"]
    before = []
    token = chained_refresh(port, token, threading.Event(), before, count=200)
    rss_idle = rss_kib(proc.pid)

    during, statuses, peak = [], [], [rss_idle]
    stop, barrier = threading.Event(), threading.Barrier(args.logins + 1)

    def one(i):
        barrier.wait()
        try:
            statuses.append(str(login(port, f"nobody-{i}", "wrong")[0]))
        except OSError as e:
            statuses.append(type(e).__name__)

    def sample():
        while not stop.is_set():
            peak.append(rss_kib(proc.pid))
            time.sleep(0.01)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(args.logins)]
    for t in threads:
        t.start()
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.perf_counter()
    barrier.wait()
    refresher = threading.Thread(target=chained_refresh, args=(port, token, stop, during))
    refresher.start()
    for t in threads:
        t.join()
    flood_secs = time.perf_counter() - started
    stop.set()
    refresher.join()
    sampler.join()
    counts = {s: statuses.count(s) for s in sorted(set(map(str, statuses)))}
    print(f"logins: {args.logins} concurrent unknown names in {flood_secs:.1f} s: {counts}")
    print(f"refresh before: n={len(before)} p50={pct(before, 50):.1f} ms "
          f"p99={pct(before, 99):.1f} ms max={max(before):.1f} ms")
    print(f"refresh during: n={len(during)} p50={pct(during, 50):.1f} ms "
          f"p99={pct(during, 99):.1f} ms max={max(during):.1f} ms")
    hwm = rss_kib(proc.pid, "VmHWM")
    print(f"server RSS: idle {rss_idle / 1024:.1f} MiB, peak sampled {max(peak) / 1024:.1f} MiB, "
          f"VmHWM {hwm / 1024:.1f} MiB; bound 64 MiB + {args.permits} x 19 MiB = "
          f"{64 + args.permits * 19} MiB")


def timing(args, port, proc):
    unknown, wrong = [], []
    for i in range(args.rounds):
        for name, bucket in ((f"nobody-{i}", unknown), (USER, wrong)):
            t = time.perf_counter()
            status, _ = login(port, name, "wrong-password")
            bucket.append((time.perf_counter() - t) * 1000)
            assert status == 400, status
    mu, mw = statistics.median(unknown), statistics.median(wrong)
    print(f"unknown user: median {mu:.2f} ms over {len(unknown)}; wrong password: median "
          f"{mw:.2f} ms over {len(wrong)}; ratio unknown/wrong = {mu / mw:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["flood", "timing"])
    ap.add_argument("--binary", default="target/release/tollgate")
    ap.add_argument("--logins", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--permits", type=int, default=os.cpu_count())
    args = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {"TOLLGATE__PASSWORD__MAX_CONCURRENT_HASHES": str(args.permits)}
        proc = start_server(args.binary, data, port, env)
        try:
            print(f"tollgate pid {proc.pid}, {args.permits} hashing permits, "
                  f"{os.cpu_count()} CPUs")
            (flood if args.mode == "flood" else timing)(args, port, proc)
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
