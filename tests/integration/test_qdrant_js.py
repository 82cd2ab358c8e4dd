"""Qdrant's official JavaScript REST client (@qdrant/js-client-rest, from the
npm registry) against the Qdrant-compatible API of `heimdex serve`:
tests/qdrant_js/check.mjs creates a collection, indexes payload fields,
upserts (points list and batch), queries with a filter (scores checked against
a brute-force cosine in JS), fuses, scrolls, counts, retrieves, sets payload,
deletes by ids and by filter, and drops the collection; every call must succeed.
The client is installed with `npm ci` into tests/qdrant_js/node_modules
(gitignored) when missing; the test is skipped, saying so, only when npm or the
registry cannot be reached."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hx  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JS = os.path.join(ROOT, "tests", "qdrant_js")
NET_ERRORS = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "network")


def skip(why):
    print(f"SKIP test_qdrant_js: {why}")
    sys.exit(0)


def ensure_client():
    if os.path.exists(os.path.join(JS, "node_modules", "@qdrant", "js-client-rest", "package.json")):
        return
    if not shutil.which("node"):
        raise SystemExit("node is missing: scripts/install-deps.sh test installs nodejs")
    if not shutil.which("npm"):
        skip("npm is not installed (it comes with nodejs from NodeSource, or Debian's npm package)")
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=540)
    if r.returncode != 0:
        out = r.stdout + r.stderr
        if any(e in out for e in NET_ERRORS):
            skip("the npm registry is unreachable: " + out.strip().splitlines()[-1])
        raise SystemExit("npm ci failed:\n" + out)


def main():
    a = hx.args()
    ensure_client()
    port = hx.free_port()
    s = hx.Server(a.bin, env={"HEIMDEX_QDRANT_LISTEN": f"127.0.0.1:{port}", "HEIMDEX_QDRANT_API_KEY": "js-key"}).start()
    try:
        env = dict(os.environ, QDRANT_URL=f"http://127.0.0.1:{port}", QDRANT_API_KEY="js-key")
        r = subprocess.run(["node", "check.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=120)
        print(r.stdout + r.stderr)
        hx.check(r.returncode == 0, "check.mjs failed", r.returncode)
        # without the key the client's first call is refused
        env["QDRANT_API_KEY"] = ""
        r = subprocess.run(["node", "-e", "import('@qdrant/js-client-rest').then(async ({QdrantClient}) => {"
                            "const c = new QdrantClient({url: process.env.QDRANT_URL, checkCompatibility: false});"
                            "try { await c.getCollections(); process.exit(3); } catch (e) { process.exit(e.status === 401 ? 0 : 4); } })"],
                           cwd=JS, env=env, capture_output=True, text=True, timeout=60)
        hx.check(r.returncode == 0, "call without the api key must get 401", r.returncode, r.stderr)
    finally:
        rc = s.stop()
        tail = s.tail()
        s.cleanup()
    hx.check(rc == 0, "server exit code (a leak under ASan makes it non-zero)", rc, tail[-1500:])
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
