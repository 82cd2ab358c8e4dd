"""Bad configuration fails fast, with one clear line naming the variable, and
the CLI's usage errors exit 2."""
import os
import subprocess
import tempfile

import hx
from hx import check


def run(binary, env, *argv):
    e = dict(os.environ)
    e.update({"DEV_JWT_SECRET": "x", "HEIMDEX_ENV": "local", "HEIMDEX_LISTEN": f"127.0.0.1:{hx.free_port()}",
              "HEIMDEX_DATA_DIR": tempfile.mkdtemp(prefix="hx-cfg-")})
    e.update(env)
    for k, v in list(e.items()):
        if v is None:
            del e[k]
    return subprocess.run([binary, *argv], env=e, capture_output=True, text=True, timeout=20)


def test_bad_config(binary):
    cases = [
        ({"HEIMDEX_ENV": "prod"}, "AUTH_PROVIDER=dev is only allowed when HEIMDEX_ENV=local"),
        ({"HEIMDEX_ENV": "moon"}, "HEIMDEX_ENV=moon is not one of"),
        ({"DEV_JWT_SECRET": ""}, "DEV_JWT_SECRET must not be empty"),
        ({"VECTOR_SIZE": "abc"}, "VECTOR_SIZE=abc is not an integer"),
        ({"VECTOR_SIZE": "0"}, "VECTOR_SIZE=0 is out of range"),
        ({"HEIMDEX_LISTEN": "nowhere"}, "HEIMDEX_LISTEN=nowhere is not HOST:PORT"),
        ({"ENABLE_PG": "maybe"}, "ENABLE_PG=maybe is not a boolean"),
        ({"PROBE_TIMEOUT_MS": "soon"}, "PROBE_TIMEOUT_MS=soon is not an integer"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "REDIS_URL needs the PostgreSQL ledger"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL=http://x must start with redis://"),
        ({"HEIMDEX_MOCK_STAGE_MS": "1,2"}, "HEIMDEX_MOCK_STAGE_MS must be three"),
        ({"HEIMDEX_RATE_LIMIT_EMBED": "fast"}, "HEIMDEX_RATE_LIMIT_EMBED=fast is not RATE[,BURST]"),
        ({"EMBEDDING_MODEL_NAME": "no-such-model"}, "EMBEDDING_MODEL_NAME=no-such-model: Unknown model: no-such-model"),
        ({"AUTH_PROVIDER": "magic"}, "AUTH_PROVIDER=magic is not one of dev, supabase"),
        ({"HEIMDEX_RETRY_MIN_MS": "5000", "HEIMDEX_RETRY_MAX_MS": "10"}, "HEIMDEX_RETRY_MAX_MS=10 is below"),
    ]
    for env, msg in cases:
        r = run(binary, env, "serve")
        check(r.returncode == 2, "exit 2 for %r" % env, r.returncode, r.stderr)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        check(len(lines) == 1 and msg in lines[0], "one clear line for %r" % env, r.stderr)


def test_cli_usage(binary):
    r = run(binary, {}, "bogus")
    check(r.returncode == 2 and "unknown command" in r.stderr, "unknown command", r.returncode, r.stderr)
    r = run(binary, {}, "--help")
    check(r.returncode == 0 and "serve" in r.stdout and "token" in r.stdout, "help", r.stdout)
    r = run(binary, {}, "token", "--org", "o")
    check(r.returncode == 2 and "--user" in r.stderr, "token needs --user", r.stderr)
    r = run(binary, {}, "token", "--org", hx.ORG, "--user", "u", "--minutes", "0")
    check(r.returncode == 2, "bad minutes", r.stderr)
    r = run(binary, {"DEV_JWT_SECRET": "k"}, "token", "--org", hx.ORG, "--user", "u", "--role", "admin")
    check(r.returncode == 0, "token ok", r.stderr)
    import base64, json  # noqa: E401
    body = r.stdout.strip().split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    check(claims["sub"] == "u" and claims["org_id"] == hx.ORG and claims["role"] == "admin"
          and claims["exp"] - claims["iat"] == 3600, "claims", claims)
    tok = r.stdout.strip()
    import hmac, hashlib  # noqa: E401
    h, p, s = tok.split(".")
    want = hx.b64u(hmac.new(b"k", f"{h}.{p}".encode(), hashlib.sha256).digest())
    check(s == want, "HS256 signature", s, want)
    r = run(binary, {}, "version")
    check(r.returncode == 0 and r.stdout.startswith("heimdex "), "version", r.stdout)


def test_config_and_doctor(binary):
    r = run(binary, {"DEV_JWT_SECRET": "sup3r-secret", "DATABASE_URL": "postgresql://u:pw-123@127.0.0.1:1/x",
                     "REDIS_URL": "redis://:redispw@127.0.0.1:1/0"}, "config")
    check(r.returncode == 0, "config runs", r.stderr)
    import json
    cfg = json.loads(r.stdout)
    check("sup3r-secret" not in r.stdout and "pw-123" not in r.stdout and "redispw" not in r.stdout,
          "secrets masked", r.stdout)
    check(cfg["DEV_JWT_SECRET"] == "***" and cfg["DATABASE_URL"] == "postgresql://u:***@127.0.0.1:1/x"
          and cfg["ledger"] == "postgresql" and cfg["queue"] == "redis" and cfg["VECTOR_SIZE"] == 384, "values", cfg)
    r = run(binary, {}, "doctor")
    check(r.returncode == 0 and "data dir" in r.stdout and "FAIL" not in r.stdout, "doctor ok", r.stdout, r.stderr)
    r = run(binary, {"DATABASE_URL": f"postgresql://u@127.0.0.1:{hx.free_port()}/x"}, "doctor")
    check(r.returncode == 1 and "postgresql" in r.stdout and "FAIL" in r.stdout, "doctor finds a dead PostgreSQL",
          r.stdout)


def main():
    a = hx.args()
    run_ = hx.Runner()
    run_.run(test_bad_config, a.bin)
    run_.run(test_cli_usage, a.bin)
    run_.run(test_config_and_doctor, a.bin)
    run_.finish()


if __name__ == "__main__":
    main()
