"""Shared helpers for the integration tests: start the real heimdex binary on a
free loopback port with a private data dir, mint tokens independently of the
server (hmac/hashlib from Python's standard library), make HTTP requests.
Only 127.0.0.1 is ever contacted."""
import argparse
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SECRET = "integration-test-secret"
ORG = "550e8400-e29b-41d4-a716-446655440000"
ORG2 = "6ba7b810-9dad-41d1-80b4-00c04fd430c8"


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    return p.parse_args()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def make_token(claims=None, secret=SECRET, alg="HS256", header=None, **kw):
    now = int(time.time())
    body = {"sub": "user-1", "org_id": ORG, "iat": now, "exp": now + 3600}
    if claims is not None:
        body = claims
    body.update(kw)
    hdr = header or {"alg": alg, "typ": "JWT"}
    signing = b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(body).encode())
    if alg == "none":
        return signing + "."
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64u(sig)


class Server:
    def __init__(self, binary, env=None, data_dir=None):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="hx-it-")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "HEIMDEX_ENV": "local", "DEV_JWT_SECRET": SECRET,
            "HEIMDEX_LISTEN": f"127.0.0.1:{self.port}", "HEIMDEX_DATA_DIR": self.data,
            "HEIMDEX_MOCK_STAGE_MS": "20,20,20", "OUTBOX_DISPATCH_INTERVAL_MS": "50",
            "HEIMDEX_RETRY_MIN_MS": "20", "HEIMDEX_RETRY_MAX_MS": "200", "HEIMDEX_LOG_LEVEL": "warn",
        })
        self.env.update(env or {})
        self.proc = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
            try:
                st, _ = self.req("GET", "/healthz")
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start: " + self.tail())

    def tail(self):
        try:
            with open(os.path.join(self.tmp, "server.log"), "rb") as f:
                return f.read()[-3000:].decode(errors="replace")
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
            return rc
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def req(self, method, path, body=None, token=None, headers=None, raw=None, timeout=30):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        r = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(r, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                return e.code, json.loads(payload)
            except ValueError:
                return e.code, payload

    def wait_job(self, job_id, token, timeout=60, terminal=("completed", "failed", "canceled")):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, j = self.req("GET", f"/jobs/{job_id}", token=token)
            assert st == 200, (st, j)
            if j["status"] in terminal:
                return j
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} not terminal after {timeout}s: {j}")


def point_id(org, asset, segment, model="mock", ver="v1"):
    h = hashlib.sha256(f"{org}:{asset}:{segment}:{model}:{ver}".encode()).hexdigest()[:32]
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def check(cond, what, *vals):
    if not cond:
        raise AssertionError(what + (": " + " | ".join(repr(v) for v in vals) if vals else ""))


class Runner:
    """Runs test functions, prints one line each and a closing 'N passed, N failed'."""

    def __init__(self):
        self.passed = self.failed = 0

    def run(self, fn, *a):
        t0 = time.time()
        try:
            fn(*a)
            self.passed += 1
            print(f"PASS {fn.__name__} ({time.time() - t0:.2f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure
            self.failed += 1
            import traceback
            traceback.print_exc()
            print(f"FAIL {fn.__name__}: {e}", flush=True)

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
