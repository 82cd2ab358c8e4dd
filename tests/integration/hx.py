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
    """A heimdex process on a free loopback port with a private data dir. With
    HX_IT_QDRANT=1 in the environment (ctest's *_qdrant runs) its vector store is
    Qdrant: a second heimdex serving the Qdrant-compatible API (QdrantCompat),
    started and stopped with it."""

    def __init__(self, binary, env=None, data_dir=None, qdrant=None):
        self.binary = binary
        if qdrant is None:
            qdrant = os.environ.get("HX_IT_QDRANT") == "1" and "QDRANT_URL" not in (env or {})
        self.qdrant = QdrantCompat(binary) if qdrant else None
        self.tmp = tempfile.mkdtemp(prefix="hx-it-")
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "HEIMDEX_ENV": "local", "DEV_JWT_SECRET": SECRET,
            "HEIMDEX_LISTEN": f"127.0.0.1:{self.port}", "HEIMDEX_DATA_DIR": self.data,
            "HEIMDEX_MOCK_STAGE_MS": "20,20,20", "OUTBOX_DISPATCH_INTERVAL_MS": "50",
            "HEIMDEX_RETRY_MIN_MS": "20", "HEIMDEX_RETRY_MAX_MS": "200", "HEIMDEX_LOG_LEVEL": "info",
        })
        if self.qdrant:
            self.env.update({"QDRANT_URL": self.qdrant.url, "QDRANT_API_KEY": QDRANT_KEY})
        self.env.update(env or {})
        self.proc = None
        self.base = f"http://127.0.0.1:{self.port}"

    def start(self):
        return self.start_cmd(["serve"])

    def start_cmd(self, argv):
        if self.qdrant and not self.qdrant.proc:
            self.qdrant.start()
        self.log = open(os.path.join(self.tmp, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary] + argv, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {self.proc.returncode}: {self.tail()}")
            if argv[0] == "worker":
                if b"server_started" in open(os.path.join(self.tmp, "server.log"), "rb").read():
                    return self
            else:
                try:
                    st, _ = self.req("GET", "/healthz")
                    if st == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"{argv[0]} did not start: " + self.tail())

    def sql(self, query, params=()):
        import sqlite3
        db = sqlite3.connect(os.path.join(self.data, "ledger.db"))
        try:
            return db.execute(query, params).fetchall()
        finally:
            db.close()

    def vectors(self, org=None):
        """`heimdex vectors` on this server's data dir (server stopped): the
        engine's integrity check and point counts (ids of org when given)."""
        argv = [self.binary, "vectors"] + (["--org", org] if org else [])
        r = subprocess.run(argv, env=self.env, capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"heimdex vectors failed: {r.stdout!r} {r.stderr!r}")
        return json.loads(r.stdout)

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
            if self.qdrant:
                self.qdrant.cleanup()

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


QDRANT_KEY = "it-qdrant-key"


class QdrantCompat(Server):
    """A heimdex serving only the Qdrant-compatible API (HEIMDEX_QDRANT_LISTEN,
    api key QDRANT_KEY) over its own engine: the Qdrant of another heimdex's
    QDRANT_URL in tests. qreq() talks Qdrant's REST API to it."""

    def __init__(self, binary):
        self.qport = free_port()
        super().__init__(binary, qdrant=False, env={"HEIMDEX_QDRANT_LISTEN": f"127.0.0.1:{self.qport}",
                                                    "HEIMDEX_QDRANT_API_KEY": QDRANT_KEY})
        self.url = f"http://127.0.0.1:{self.qport}"

    def start(self):
        return self.start_cmd(["serve", "--no-worker", "--no-dispatch"])

    def qreq(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.url + path, data=data, method=method,
                                   headers={"Content-Type": "application/json", "api-key": QDRANT_KEY})
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def points(self, filt, collection="embeddings"):
        """Every point matching filt (payloads, no vectors), by scrolling."""
        out, offset = [], None
        while True:
            body = {"filter": filt, "limit": 1000, "with_payload": True, "with_vector": False}
            if offset is not None:
                body["offset"] = offset
            st, r = self.qreq("POST", f"/collections/{collection}/points/scroll", body)
            if st == 404:
                return out
            if st != 200:
                raise RuntimeError(f"scroll failed: {st} {r}")
            out += r["result"]["points"]
            offset = r["result"].get("next_page_offset")
            if offset is None:
                return out


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


# ---- production topology: private PostgreSQL and Redis on loopback ----

PG_BIN = "/usr/lib/postgresql/15/bin"


def _as_postgres(cmd, **kw):
    """Run a PostgreSQL server binary as the postgres user (initdb refuses root)."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


class PgServer:
    def __init__(self, opts=""):
        self.opts = opts  # extra "-c name=value ..." server settings
        self.dir = tempfile.mkdtemp(prefix="hx-pg-")
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        _as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/heimdex"

    def start(self):
        _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                      f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on {self.opts}", "start"])
        return self

    def createdb(self):
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c",
                        "CREATE DATABASE heimdex"], check=True, stdout=subprocess.DEVNULL)
        return self

    def stop(self, mode="fast"):
        try:
            _as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"])
        except subprocess.CalledProcessError:
            pass

    def cleanup(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, query, params=()):
        for p in params:
            query = query.replace("?", "'" + str(p).replace("'", "''") + "'", 1)
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "heimdex",
                              "-At", "-F", "|", "-c", query], check=True, capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            vals = []
            for v in line.split("|"):
                if v == "":
                    vals.append(None)
                elif v in ("t", "f"):
                    vals.append(1 if v == "t" else 0)
                elif v.lstrip("-").isdigit():
                    vals.append(int(v))
                else:
                    vals.append(v)
            rows.append(tuple(vals))
        return rows


class RedisServer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hx-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                                      "--save", "", "--appendonly", "yes", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """The production topology on one machine: PostgreSQL ledger, Redis queue,
    `apis` API processes (`serve --no-worker`, each with its dispatcher) and
    `workers` `heimdex worker` processes. Requests alternate between the APIs.
    The vector store all of them share is Qdrant: a heimdex serving the
    Qdrant-compatible API (self.qdrant). Offers the same methods the tests use
    on Server."""

    def __init__(self, binary, apis=2, workers=2, env=None, pg_opts=""):
        self.pg = PgServer(pg_opts).start().createdb()
        self.redis = RedisServer().start()
        self.qdrant = QdrantCompat(binary).start()
        self.tmp = tempfile.mkdtemp(prefix="hx-cluster-")
        self.data = os.path.join(self.tmp, "data")
        common = {"DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url, "HEIMDEX_QUEUE_VISIBILITY_MS": "3000",
                  "QDRANT_URL": self.qdrant.url, "QDRANT_API_KEY": QDRANT_KEY}
        common.update(env or {})
        subprocess.run([binary, "migrate"], env={**os.environ, "DEV_JWT_SECRET": SECRET, "HEIMDEX_DATA_DIR": self.data,
                                                 **common}, check=True, stdout=subprocess.DEVNULL)
        self.apis = [Server(binary, env=common, data_dir=self.data) for _ in range(apis)]
        self.workers = [Server(binary, env=common, data_dir=self.data) for _ in range(workers)]
        self._rr = 0

    def start(self):
        for w in self.workers:
            w.start_cmd(["worker"])
        for a in self.apis:
            a.start_cmd(["serve", "--no-worker"])
        return self

    @property
    def port(self):
        return self.apis[0].port

    def req(self, *a, **kw):
        self._rr += 1
        return self.apis[self._rr % len(self.apis)].req(*a, **kw)

    def wait_job(self, *a, **kw):
        return Server.wait_job(self, *a, **kw)

    def sql(self, query, params=()):
        return self.pg.sql(query, params)

    def stop(self):
        rcs = [p.stop() for p in self.apis + self.workers]
        return max(rc or 0 for rc in rcs)

    def cleanup(self):
        try:
            for p in self.apis + self.workers:
                p.cleanup()
        finally:
            self.redis.cleanup()
            self.pg.cleanup()
            self.qdrant.cleanup()
            shutil.rmtree(self.tmp, ignore_errors=True)
