"""Load bench: wrk on loopback against an embedded `heimdex serve`.

Two phases of the same mixed traffic (bench/load/mix.lua), one after the other
on the same server: 'wrk' alone, then 'wrk + slowloris' where N extra
connections from another loopback address (127.0.0.2) each send one byte per
second and never finish their request. The table gives req/s, p50/p99,
socket errors, non-2xx, the statuses per route kind, the server's VmRSS
(sampled every second; first/last/max after warm-up), and what became of the
slow connections (accepted / refused at the per-IP limit / closed by the
server). The anchor is the first phase: the slowloris row is compared with it.

Memory against data: every 5 s the bench also reads the server's /metrics
(points stored, malloc heap in use and held free, SQLite's memory) and the
data dir's size, and prints the series next to VmRSS, so growth of the data
(points in the engine's memory) can be told from growth of anything else.
With --segments N the embeds cycle through N segments per wrk thread with new
text each time: every request is a real job, but the points stored stop
growing once each segment exists (a re-embedded segment replaces its point),
so after the warm-up VmRSS must be flat. Flat means: the least-squares slope
of VmRSS over the measured phases and over their last 30 s are both below
FLAT_MIB_PER_10S; the bench prints PASS or FAIL against it (and exits 1 on
FAIL). Without --segments the store keeps growing and the bench prints VmRSS
growth per point stored instead.

  bench/load/run.sh [--full] [--seconds 60] [--connections 64] [--slow 200] [--segments N] [--mix embed=1,job=4,vector=4,search=1]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "tests", "integration"))
import hx  # noqa: E402


FLAT_MIB_PER_10S = 1.0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dir_mib(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs) / 2**20


class Sampler(threading.Thread):
    """VmRSS every second; every 5 s also the server's memory gauges and the data dir's size."""

    def __init__(self, pid, srv):
        super().__init__(daemon=True)
        self.pid, self.srv, self.samples, self.stop = pid, srv, [], threading.Event()
        self.detail = []  # (second of the series, gauges, ledger MiB, vec MiB)

    def clear(self):
        self.samples, self.detail = [], []

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_kb(self.pid))
            if len(self.samples) % 5 == 1:
                try:
                    g = gauges(self.srv)
                    self.detail.append((len(self.samples) - 1, g, dir_mib(self.srv.data) - dir_mib(
                        os.path.join(self.srv.data, "vec")), dir_mib(os.path.join(self.srv.data, "vec"))))
                except OSError:
                    pass
            self.stop.wait(1.0)


def slope_mib_per_10s(kb):
    """Least-squares slope of 1 s samples (KiB), in MiB per 10 s."""
    n = len(kb)
    if n < 2:
        return 0.0
    mx, my = (n - 1) / 2, sum(kb) / n
    sxx = sum((i - mx) ** 2 for i in range(n))
    return sum((i - mx) * (y - my) for i, y in enumerate(kb)) / sxx * 10 / 1024


class Slowloris(threading.Thread):
    """n connections from src, each sending one header byte per second."""

    def __init__(self, port, n, src):
        super().__init__(daemon=True)
        self.port, self.n, self.src = port, n, src
        self.socks, self.refused, self.closed, self.stop = [], 0, 0, threading.Event()

    def run(self):
        for _ in range(self.n):
            s = socket.socket()
            try:
                s.bind((self.src, 0))
                s.connect(("127.0.0.1", self.port))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                self.socks.append(s)
            except OSError:
                self.refused += 1
                s.close()
        # MHD refuses past the per-IP limit by closing at accept: find those first
        time.sleep(0.5)
        self.socks = [s for s in self.socks if self.alive(s)]
        self.accepted = len(self.socks)
        self.refused += self.n - self.accepted - self.refused
        while not self.stop.wait(1.0):
            keep = []
            for s in self.socks:
                try:
                    s.sendall(b"a")
                    keep.append(s)
                except OSError:
                    self.closed += 1
                    s.close()
            self.socks = keep

    @staticmethod
    def alive(s):
        s.setblocking(False)
        try:
            data = s.recv(1)
            return data != b""  # b"" = closed by the server
        except BlockingIOError:
            return True
        except OSError:
            return False
        finally:
            s.setblocking(True)

    def finish(self):
        self.stop.set()
        self.join(5)
        open_now = len(self.socks)
        for s in self.socks:
            s.close()
        return open_now


GAUGES = ("heimdex_jobs_open", "heimdex_queue_depth", "heimdex_outbox_unsent", "heimdex_vector_count",
          "heimdex_sqlite_memory_bytes", 'heimdex_process_heap_bytes{state="in_use"}',
          'heimdex_process_heap_bytes{state="free"}')


def gauges(srv):
    """The gauges above from /metrics (a family without labels summed over its series)."""
    import urllib.request
    with urllib.request.urlopen(srv.base + "/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        for name in GAUGES:
            if line.startswith(name + " ") or ("{" not in name and line.startswith(name + "{")):
                out[name] = out.get(name, 0) + float(line.rsplit(" ", 1)[1])
    return out


def drain(srv, timeout=600):
    """Wait until no job is open; seconds it took."""
    t0 = time.time()
    while time.time() - t0 < timeout and gauges(srv).get("heimdex_jobs_open", 0) > 0:
        time.sleep(0.5)
    return time.time() - t0


def wrk(port, args, env, seconds, out):
    e = dict(os.environ, **env, LOAD_OUT=out)
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s", "--timeout", "10s",
           "-s", os.path.join(here, "mix.lua"), f"http://127.0.0.1:{port}"]
    r = subprocess.run(cmd, env=e, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(out):
        sys.exit(f"wrk failed ({r.returncode}): {r.stderr}{r.stdout}")
    with open(out) as f:
        return json.load(f)


def setup_ids(srv, token, n, path):
    """n completed /vectors/mock jobs: their job ids and point ids to read back."""
    jobs = []
    for i in range(n):
        st, j = srv.req("POST", "/vectors/mock", body={"asset_id": "load-seed", "segment_id": f"s{i}"}, token=token)
        if st != 200:
            sys.exit(f"seeding failed: {st} {j}")
        jobs.append(j["job_id"])
    for jid in jobs:
        srv.wait_job(jid, token, timeout=120)
    with open(path, "w") as f:
        for i, jid in enumerate(jobs):
            f.write(f"job {jid}\npoint {hx.point_id(hx.ORG, 'load-seed', f's{i}')}\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--seconds", type=int, default=int(os.environ.get("LOAD_SECONDS", "15")),
                   help="per phase (the issue's run: 60)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--slow", type=int, default=200, help="slowloris connections in the second phase")
    p.add_argument("--per-ip", type=int, default=100, help="HEIMDEX_HTTP_PER_IP_CONNECTIONS for the run")
    p.add_argument("--mix", default=os.environ.get("LOAD_MIX", "embed=1,job=4,vector=4,search=1"))
    p.add_argument("--seed-jobs", type=int, default=200)
    p.add_argument("--segments", type=int, default=0,
                   help="embeds cycle through this many segments per wrk thread (0: a new segment each time)")
    p.add_argument("--warmup", type=int, default=0,
                   help="seconds of ingest (embed only) before the measured phases: fills the SQLite page caches,"
                        " which otherwise grow with the data for the first ~150 MiB of it")
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="hx-load-")
    high = "1000000,1000000"
    srv = hx.Server(args.bin, env={
        "HEIMDEX_LOG_LEVEL": "warn", "HEIMDEX_HTTP_PER_IP_CONNECTIONS": str(args.per_ip),
        "HEIMDEX_RATE_LIMIT_EMBED": high, "HEIMDEX_RATE_LIMIT_SEARCH": high, "HEIMDEX_RATE_LIMIT_JOBS": high,
        "HEIMDEX_RATE_LIMIT_UPLOAD": high, "HEIMDEX_MOCK_STAGE_MS": "0,0,0"})
    srv.start()
    try:
        token = subprocess.run([args.bin, "token", "--org", hx.ORG, "--user", "load", "--minutes", "600"],
                               env=srv.env, capture_output=True, text=True, check=True).stdout.strip()
        ids = os.path.join(tmp, "ids.txt")
        setup_ids(srv, token, args.seed_jobs, ids)
        mix = args.mix
        st, _ = srv.req("POST", "/vectors/search", body={"query_text": "x", "limit": 1}, token=token)
        if st not in (200, 404, 405):
            raise SystemExit(f"POST /vectors/search answers {st} to the mix's request shape")
        if st in (404, 405):
            mix = ",".join(kv for kv in mix.split(",") if not kv.startswith("search="))
            print(f"POST /vectors/search answers {st}: left out of the mix", flush=True)
        env = {"LOAD_TOKEN": token, "LOAD_MIX": mix, "LOAD_IDS": ids, "LOAD_SEGMENTS": str(args.segments)}
        print(f"mix {mix}; {args.connections} connections, {args.threads} wrk threads, {args.seconds} s per phase;"
              f" embeds: {f'{args.segments} segments per wrk thread, new text each time' if args.segments else 'a new segment each time'};"
              f" server pid {srv.proc.pid}, HEIMDEX_HTTP_PER_IP_CONNECTIONS={args.per_ip}", flush=True)

        sampler = Sampler(srv.proc.pid, srv)
        sampler.start()
        if args.warmup:
            w = wrk(srv.port, args, dict(env, LOAD_MIX="embed=1"), args.warmup, os.path.join(tmp, "w.json"))
            drain(srv)
            print(f"warm-up: {w['requests']} embed requests in {args.warmup} s; VmRSS then"
                  f" {rss_kb(srv.proc.pid) / 1024:.1f} MiB", flush=True)
            sampler.clear()
        t_start = time.time()
        rows = []
        a = wrk(srv.port, args, env, args.seconds, os.path.join(tmp, "a.json"))
        backlog = [gauges(srv)]
        rows.append(("wrk", a, None))
        slow = Slowloris(srv.port, args.slow, "127.0.0.2")
        slow.start()
        time.sleep(1.5)
        b = wrk(srv.port, args, env, args.seconds, os.path.join(tmp, "b.json"))
        backlog.append(gauges(srv))
        st, _ = srv.req("GET", "/healthz")
        still_open = slow.finish()
        drained = drain(srv)
        rss_drained = rss_kb(srv.proc.pid)
        db_mib = dir_mib(srv.data)
        rows.append((f"wrk + {args.slow} slow", b, slow))
        sampler.stop.set()
        sampler.join()
        t_end = time.time()
        alive = srv.proc.poll() is None
    finally:
        rc = srv.stop()
        srv.cleanup()

    def rps(r):
        return r["requests"] / (r["duration_us"] / 1e6)

    print()
    print(f"{'phase':<18} {'req/s':>9} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8} {'sock err':>8} {'non-2xx':>8}  statuses")
    for name, r, _ in rows:
        non2xx = sum(v for k, v in r["statuses"].items() if not k.startswith("2"))
        errs = sum(r["errors"].values()) - r["errors"]["status"]
        print(f"{name:<18} {rps(r):>9.0f} {rps(r) / rps(rows[0][1]):>6.2f} {r['p50_us'] / 1000:>8.2f}"
              f" {r['p99_us'] / 1000:>8.2f} {errs:>8} {non2xx:>8}  {json.dumps(r['statuses'], sort_keys=True)}")
    print()
    print("requests sent per kind:", ", ".join(f"{n}: {json.dumps(r['sent'], sort_keys=True)}" for n, r, _ in rows))
    s = sampler.samples
    warm = max(1, min(5, len(s) // 5))
    after = s[warm:] or s
    print(f"VmRSS (MiB, 1 s samples, {len(s)} in {t_end - t_start:.0f} s, first {warm} s warm-up):"
          f" first {after[0] / 1024:.1f}, last {after[-1] / 1024:.1f}, max {max(after) / 1024:.1f},"
          f" last/first {after[-1] / after[0]:.3f}")
    print("VmRSS every 10 s (MiB): " + " ".join(f"{x / 1024:.0f}" for x in s[::10]))
    mib = 2 ** 20
    print("every 10 s: s, VmRSS, heap in use / free (malloc), SQLite, points, ledger, vec dir (MiB but points):")
    for sec, g, led, vec in sampler.detail[::2]:
        used, free = g.get(GAUGES[5], 0) / mib, g.get(GAUGES[6], 0) / mib
        print(f"  {sec:>4} {s[sec] / 1024:>7.1f} {used:>7.1f} / {free:>6.1f}"
              f" {g.get('heimdex_sqlite_memory_bytes', 0) / mib:>6.1f} {g.get('heimdex_vector_count', 0):>8.0f}"
              f" {led:>7.1f} {vec:>7.1f}")
    slope_all, slope_30 = slope_mib_per_10s(after), slope_mib_per_10s(after[-30:])
    d = sampler.detail
    pts = [g.get("heimdex_vector_count", 0) for sec, g, _led, _vec in d if sec >= warm] or [0]
    grown_pts = pts[-1] - pts[0]
    print(f"VmRSS growth after warm-up: {(after[-1] - after[0]) / 1024:+.1f} MiB; slope {slope_all:+.2f} MiB/10 s over"
          f" {len(after)} s, {slope_30:+.2f} MiB/10 s over the last {min(30, len(after))} s;"
          f" points stored {pts[0]:.0f} -> {pts[-1]:.0f} ({grown_pts:+.0f})"
          + (f", {(after[-1] - after[0]) / grown_pts:.2f} KiB of VmRSS per point added" if grown_pts > 0 else ""))
    if d:
        print(f"data stored after warm-up: ledger {d[0][2]:.0f} -> {d[-1][2]:.0f} MiB (every embed a job: history on disk,"
              f" cached up to the SQLite page-cache limits), vector log {d[0][3]:.0f} -> {d[-1][3]:.0f} MiB (compacted by"
              f" snapshots), embed requests {sum(r['sent'].get('embed', 0) for _, r, _ in rows)}")
    flat = None
    if args.segments:
        flat = slope_all < FLAT_MIB_PER_10S and slope_30 < FLAT_MIB_PER_10S
        print(f"flat after warm-up (slopes < {FLAT_MIB_PER_10S} MiB/10 s, the points stored fixed by --segments):"
              f" {'PASS' if flat else 'FAIL'}")
    else:
        print("flat after warm-up: not judged (the store grows: run with --segments N or --full)")
    print(f"job backlog at the end of each phase (open jobs, queue depth): "
          + ", ".join(f"{n}: {g.get('heimdex_jobs_open', 0):.0f}, {g.get('heimdex_queue_depth', 0):.0f}"
                      for (n, _, _), g in zip(rows, backlog))
          + f"; drained in {drained:.0f} s, VmRSS then {rss_drained / 1024:.1f} MiB; data dir {db_mib:.0f} MiB"
          " (SQLite page caches grow with it up to cache_size: 64 MiB per writer connection, 16 MiB per reader)")
    print(f"slow connections (from 127.0.0.2, one byte/s): {args.slow} opened, {slow.accepted} accepted,"
          f" {slow.refused} refused at the per-IP limit, {slow.closed} closed by the server, {still_open} still open"
          f" at the end; /healthz during them: {st}")
    print(f"server alive through the run: {alive}; clean exit: {rc == 0}")
    bad = any(sum(r["errors"].values()) - r["errors"]["status"] for _, r, _ in rows) or \
        any(k.startswith("5") for _, r, _ in rows for k in r["statuses"]) or not alive or rc != 0 or flat is False
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
