"""The JWT attack list against AUTH_PROVIDER=supabase (RS256 / ES256 with a
JWKS): every forged, stale, malformed or claim-less token gets the precise
401/403 detail of DESIGN §1 and never a 5xx; a JWKS key rotation is picked up
through the rate-limited refetch on an unknown kid.

Keys are generated at run time with the openssl CLI and tokens are signed with
it (an implementation independent of the server's), the JWKS is served by a
python http.server on 127.0.0.1 (RS256) or read from a file (ES256)."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid

import hx
from hx import check

ISS = "https://project.supabase.test/auth/v1"
AUD = "authenticated"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def openssl(*argv, data=None):
    return subprocess.run(["openssl", *argv], input=data, capture_output=True, check=True).stdout


class Key:
    """A private key on disk and its public JWK."""

    def __init__(self, tmp, kind, kid):
        self.kind, self.kid = kind, kid
        self.path = tempfile.mkstemp(suffix=".pem", dir=tmp)[1]
        opt = "rsa_keygen_bits:2048" if kind == "RSA" else "ec_paramgen_curve:P-256"
        openssl("genpkey", "-algorithm", kind, "-pkeyopt", opt, "-out", self.path, "-outform", "PEM")
        self.pub_pem = openssl("pkey", "-in", self.path, "-pubout")
        if kind == "RSA":
            mod = openssl("rsa", "-in", self.path, "-noout", "-modulus").decode().strip().split("=", 1)[1]
            self.jwk = {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                        "n": b64u(bytes.fromhex(mod)), "e": b64u((65537).to_bytes(3, "big"))}
        else:
            der = openssl("pkey", "-in", self.path, "-pubout", "-outform", "DER")
            pt = der[-65:]  # SubjectPublicKeyInfo ends with the uncompressed point 04||x||y
            check(pt[0] == 4, "uncompressed EC point", pt[:1])
            self.jwk = {"kty": "EC", "kid": kid, "use": "sig", "crv": "P-256",
                        "x": b64u(pt[1:33]), "y": b64u(pt[33:65])}

    def sign(self, data):
        sig = openssl("dgst", "-sha256", "-sign", self.path, data=data)
        if self.kind == "RSA":
            return sig
        return der_to_raw(sig)


def der_to_raw(der):
    """ECDSA-Sig-Value DER (SEQUENCE of two INTEGERs) -> JWS r||s."""
    check(der[0] == 0x30, "DER sequence", der[:2])
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        check(der[i] == 0x02, "DER integer", der[i:i + 2])
        n = der[i + 1]
        out += int.from_bytes(der[i + 2:i + 2 + n], "big").to_bytes(32, "big")
        i += 2 + n
    return out


def claims(**kw):
    now = int(time.time())
    c = {"sub": "user-1", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 3600,
         "app_metadata": {"org_id": hx.ORG}, "role": "authenticated"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def token(key, body=None, header=None, alg=None, kid="default"):
    alg = alg or ("RS256" if key.kind == "RSA" else "ES256")
    hdr = header if header is not None else {"alg": alg, "typ": "JWT", "kid": key.kid if kid == "default" else kid}
    if kid is None and header is None:
        del hdr["kid"]
    signing = (b64u(json.dumps(hdr).encode()) + "." + b64u(json.dumps(body or claims()).encode())).encode()
    return signing.decode() + "." + b64u(key.sign(signing))


class Jwks(http.server.ThreadingHTTPServer):
    """Serves self.doc at /jwks.json and counts the fetches."""

    def __init__(self):
        self.doc, self.fetches = {"keys": []}, 0

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(h):  # noqa: N805
                self.fetches += 1
                body = json.dumps(self.doc).encode()
                h.send_response(200 if h.path == "/jwks.json" else 404)
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *a):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/jwks.json"


def expect(srv, tok, status, detail, what):
    st, j = srv.req("GET", f"/jobs/{uuid.uuid4()}", token=tok)
    check(st == status and isinstance(j, dict) and j.get("detail") == detail, what, st, j)


def accepted(srv, tok, what):
    # authentication passed: an unknown job of the caller's own org is a 404
    expect(srv, tok, 404, "Job not found", what)


def test_rs256_attacks(binary, tmp):
    k1, k2 = Key(tmp, "RSA", "k1"), Key(tmp, "RSA", "k2")
    evil = Key(tmp, "RSA", "k1")  # same kid, other key
    jw = Jwks()
    jw.doc = {"keys": [k1.jwk, {"kty": "oct", "k": "c2VjcmV0", "kid": "hs"}]}
    srv = hx.Server(binary, env={"AUTH_PROVIDER": "supabase", "SUPABASE_JWKS_URL": jw.url, "AUTH_ISSUER": ISS,
                                 "AUTH_AUDIENCE": AUD, "HEIMDEX_JWKS_REFETCH_SEC": "3", "HEIMDEX_ENV": "prod",
                                 "DEV_JWT_SECRET": ""})
    srv.start()
    started = time.time()  # the start-up fetch happened before this
    try:
        check(jw.fetches == 1, "one fetch at start", jw.fetches)
        accepted(srv, token(k1), "valid RS256")
        now = int(time.time())
        inv = "Invalid token: "
        bad_alg = inv + "The specified alg value is not allowed"
        # the algorithm is the configuration's, never the header's
        hdr_body = b64u(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode()) + "." + \
            b64u(json.dumps(claims()).encode())
        expect(srv, hdr_body + ".", 401, bad_alg, "alg none, empty signature")
        expect(srv, hdr_body + "." + b64u(b"x" * 256), 401, bad_alg, "alg none with a signature")
        for alg in ("HS256", "RS512", "PS256", "ES256", "rs256", "NONE"):
            signing = b64u(json.dumps({"alg": alg, "typ": "JWT", "kid": "k1"}).encode()) + "." + \
                b64u(json.dumps(claims()).encode())
            # HS256 signed with the public key's PEM bytes as the HMAC secret (the key-confusion attack)
            mac = hmac.new(k1.pub_pem, signing.encode(), hashlib.sha256).digest()
            expect(srv, signing + "." + b64u(mac), 401, bad_alg, f"alg {alg} with an HMAC of the public key")
        expect(srv, token(k1, header={"typ": "JWT", "kid": "k1"}), 401, bad_alg, "no alg")
        expect(srv, token(k1, header={"alg": ["RS256"], "kid": "k1"}), 401, bad_alg, "alg not a string")
        # wrong key, tampered payload, stripped or truncated signature
        sig_fail = inv + "Signature verification failed"
        expect(srv, token(evil), 401, sig_fail, "signed by another key with the same kid")
        good = token(k1)
        h, p, s = good.split(".")
        forged = b64u(json.dumps(claims(app_metadata={"org_id": hx.ORG2})).encode())
        expect(srv, f"{h}.{forged}.{s}", 401, sig_fail, "payload swapped under a valid signature")
        expect(srv, f"{h}.{p}.", 401, sig_fail, "signature stripped")
        expect(srv, f"{h}.{p}.{s[:-10]}", 401, sig_fail, "signature truncated")
        expect(srv, f"{h}.{p}.{s}{s}", 401, sig_fail, "signature doubled")
        expect(srv, f"{h}.{p}.{'A' * 5000}", 401, sig_fail, "huge signature")
        # unknown kid: one refetch, then no more than one per HEIMDEX_JWKS_REFETCH_SEC
        randoms = [token(k2, kid=f"random-{i}") for i in range(5)]  # signed before the clock starts
        time.sleep(max(0.0, started + 3.2 - time.time()))  # the start-up fetch counts against the interval
        f0 = jw.fetches
        t_fetch = time.time()
        expect(srv, token(k2), 401, inv + 'Unable to find a signing key that matches: "k2"', "unknown kid")
        check(jw.fetches == f0 + 1, "unknown kid refetches once", jw.fetches - f0)
        for i, t in enumerate(randoms):
            expect(srv, t, 401, inv + f'Unable to find a signing key that matches: "random-{i}"', "random kid")
        # at most one more fetch per started interval, however slow this machine is right now
        allowed = 1 + int((time.time() - t_fetch) // 3)
        check(jw.fetches - f0 <= allowed, "random kids refetch at most once per interval", jw.fetches - f0, allowed)
        expect(srv, token(k1, kid=7), 401, inv + "Key ID header parameter (kid) must be a string", "kid not a string")
        expect(srv, token(k1, kid="hs"), 401, inv + 'Unable to find a signing key that matches: "hs"',
               "kid of a symmetric JWK is not a key")
        # rotation: the provider publishes k2; a k2 token is accepted after the refetch interval
        jw.doc = {"keys": [k1.jwk, k2.jwk]}
        time.sleep(3.2)
        accepted(srv, token(k2), "rotated key after refetch")
        accepted(srv, token(k1), "old key still listed")
        # with two keys, a token without kid is ambiguous
        expect(srv, token(k1, kid=None), 401, inv + "Token header has no kid", "no kid with two keys")
        # dates (leeway 30 s by default)
        expect(srv, token(k1, claims(exp=now - 3600)), 401, "Token has expired", "expired")
        accepted(srv, token(k1, claims(exp=now - 5)), "expired 5 s ago, within the leeway")
        expect(srv, token(k1, claims(nbf=now + 3600)), 401, inv + "The token is not yet valid (nbf)", "nbf future")
        expect(srv, token(k1, claims(iat=now + 3600)), 401, inv + "The token is not yet valid (iat)", "iat future")
        accepted(srv, token(k1, claims(nbf=now + 5)), "nbf 5 s ahead, within the leeway")
        expect(srv, token(k1, claims(exp="tomorrow")), 401, inv + "Expiration Time claim (exp) must be an integer.",
               "exp not a number")
        # issuer and audience
        expect(srv, token(k1, claims(iss="https://evil.test/auth/v1")), 401,
               f"Invalid issuer claim (expected: {ISS})", "wrong iss")
        expect(srv, token(k1, claims(iss=None)), 401, f"Invalid issuer claim (expected: {ISS})", "no iss")
        expect(srv, token(k1, claims(aud="anon")), 401, f"Invalid audience claim (expected: {AUD})", "wrong aud")
        expect(srv, token(k1, claims(aud=None)), 401, f"Invalid audience claim (expected: {AUD})", "no aud")
        accepted(srv, token(k1, claims(aud=["other", AUD])), "aud list containing ours")
        # identity claims
        expect(srv, token(k1, claims(sub=None)), 401, "Missing sub claim in token", "no sub")
        expect(srv, token(k1, claims(sub="")), 401, "Missing sub claim in token", "empty sub")
        no_org = "Missing org_id claim in token (required for tenant isolation)"
        expect(srv, token(k1, claims(app_metadata=None)), 401, no_org, "no org")
        expect(srv, token(k1, claims(app_metadata={"org_id": None})), 401, no_org, "null org")
        not_uuid = inv + "org_id claim must be a UUID"
        for org in (12345, {"id": hx.ORG}, [hx.ORG], True, "acme", hx.ORG + "x", ""):
            expect(srv, token(k1, claims(app_metadata={"org_id": org})), 401, not_uuid, f"org {org!r}")
        # lookup order: app_metadata.org_id, then https://heimdex.io/org_id, then org_id
        mixed = token(k1, claims(app_metadata={"org_id": hx.ORG}, org_id=hx.ORG2,
                                 **{"https://heimdex.io/org_id": hx.ORG2}))
        st, j = srv.req("POST", "/jobs", body={"type": "mock_process"}, token=mixed)
        check(st == 200, "create with app_metadata org", st, j)
        job = j["job_id"] if "job_id" in j else j["id"]
        st, _ = srv.req("GET", f"/jobs/{job}", token=token(k1, claims(app_metadata=None, org_id=hx.ORG.upper())))
        check(st == 200, "same org through the top-level claim, other spelling", st)
        st, j = srv.req("GET", f"/jobs/{job}", token=token(k1, claims(app_metadata=None,
                                                                       **{"https://heimdex.io/org_id": hx.ORG2})))
        check(st == 403 and j == {"detail": "Access denied"}, "other org through the namespaced claim", st, j)
        # malformed compact serialisation
        expect(srv, "abc", 401, inv + "Not enough segments", "one segment")
        expect(srv, "a.b", 401, inv + "Not enough segments", "two segments")
        expect(srv, f"{h}.{p}.{s}.x", 401, inv + "Not enough segments", "four segments")
        expect(srv, "..", 401, inv + "Invalid header string: not valid JSON", "empty segments")
        expect(srv, f"*{h}.{p}.{s}", 401, inv + "Invalid header padding", "bad base64 header")
        expect(srv, f"{h}.{p}!.{s}", 401, inv + "Invalid payload padding", "bad base64 payload")
        expect(srv, f"{h}.{p}.{s}%", 401, inv + "Invalid crypto padding", "bad base64 signature")
        expect(srv, f"{b64u(b'[1,2]')}.{p}.{s}", 401, inv + "Invalid header string: must be a json object", "array hdr")
        expect(srv, f"{b64u(bytes(range(256)))}.{p}.{s}", 401, inv + "Invalid header string: not valid JSON",
               "binary header")
        t = token(k1, claims(x="y"))
        hh, _, _ = t.split(".")
        signing = (hh + "." + b64u(b"not json")).encode()
        expect(srv, signing.decode() + "." + b64u(k1.sign(signing)), 401,
               inv + "Invalid payload string: not valid JSON", "signed garbage payload")
        signing = (hh + "." + b64u(b'"a string"')).encode()
        expect(srv, signing.decode() + "." + b64u(k1.sign(signing)), 401,
               inv + "Invalid payload string: must be a json object", "signed non-object payload")
        # oversize: past our cap -> 401; past the HTTP layer's header memory -> a 4xx, never 5xx
        big = token(k1, claims(pad="x" * 17000))
        expect(srv, big, 401, inv + "Token is too large", "oversize token")
        try:
            st, _ = srv.req("GET", f"/jobs/{uuid.uuid4()}", token="a" * 200000)
            check(400 <= st < 500, "huge header is a 4xx", st)
        except ConnectionError:
            pass  # the server may close before reading it all: also not a 5xx
        accepted(srv, good, "still serving after the huge header")
        # scheme and header
        st, j = srv.req("GET", f"/jobs/{uuid.uuid4()}")
        check(st == 403 and j == {"detail": "Not authenticated"}, "no header", st, j)
        st, j = srv.req("GET", f"/jobs/{uuid.uuid4()}", headers={"Authorization": "Basic " + good})
        check(st == 403 and j == {"detail": "Invalid authentication credentials"}, "basic scheme", st, j)
        # dev tokens (HS256 with the dev default secret) mean nothing here
        dev = hx.make_token(secret="local-dev-secret")
        expect(srv, dev, 401, bad_alg, "dev token in supabase mode")
        check(srv.stop() == 0, "clean exit")
    finally:
        srv.cleanup()
        jw.shutdown()


def test_es256_file_jwks(binary, tmp):
    e1, e2 = Key(tmp, "EC", "e1"), Key(tmp, "EC", "e1")
    r1 = Key(tmp, "RSA", "r1")
    path = os.path.join(tmp, "jwks.json")
    with open(path, "w") as f:
        json.dump({"keys": [e1.jwk, r1.jwk]}, f)
    srv = hx.Server(binary, env={"AUTH_PROVIDER": "supabase", "SUPABASE_JWKS_URL": "file://" + path,
                                 "AUTH_ISSUER": ISS, "AUTH_JWT_ALG": "ES256"}).start()
    try:
        inv = "Invalid token: "
        accepted(srv, token(e1), "valid ES256")
        accepted(srv, token(e1, claims(aud="anything")), "no AUTH_AUDIENCE: aud not checked")
        expect(srv, token(r1), 401, inv + "The specified alg value is not allowed", "RS256 against ES256 config")
        expect(srv, token(e2), 401, inv + "Signature verification failed", "other EC key, same kid")
        h, p, s = token(e1).split(".")
        raw = base64.urlsafe_b64decode(s + "==")
        expect(srv, f"{h}.{p}.{b64u(raw[:63])}", 401, inv + "Signature verification failed", "short ES256 signature")
        expect(srv, f"{h}.{p}.{b64u(raw[32:] + raw[:32])}", 401, inv + "Signature verification failed", "r and s swapped")
        check(srv.stop() == 0, "clean exit")
    finally:
        srv.cleanup()


def test_supabase_config(binary, tmp):
    base = {"AUTH_PROVIDER": "supabase", "HEIMDEX_ENV": "prod", "AUTH_ISSUER": ISS,
            "SUPABASE_JWKS_URL": os.path.join(tmp, "jwks.json")}
    empty = os.path.join(tmp, "empty.json")
    with open(empty, "w") as f:
        f.write('{"keys":[{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}]}')
    cases = [
        ({"SUPABASE_JWKS_URL": ""}, "SUPABASE_JWKS_URL must be set when AUTH_PROVIDER=supabase"),
        ({"SUPABASE_JWKS_URL": "ftp://x"}, "SUPABASE_JWKS_URL=ftp://x is not an http(s):// or file:// URL or a path"),
        ({"AUTH_ISSUER": ""}, "AUTH_ISSUER must be set when AUTH_PROVIDER=supabase"),
        ({"AUTH_JWT_ALG": "HS256"}, "AUTH_JWT_ALG=HS256 is not one of RS256, ES256"),
        ({"AUTH_JWT_ALG": "none"}, "AUTH_JWT_ALG=none is not one of RS256, ES256"),
        ({"SUPABASE_JWKS_URL": os.path.join(tmp, "missing.json")}, "SUPABASE_JWKS_URL: cannot read JWKS file"),
        ({"SUPABASE_JWKS_URL": empty}, "SUPABASE_JWKS_URL: JWKS has no usable signing key"),
        ({"AUTH_PROVIDER": "dev", "HEIMDEX_ENV": "local", "AUTH_JWT_ALG": "RS256"}, "AUTH_JWT_ALG=RS256 is not HS256"),
    ]
    for env, msg in cases:
        e = dict(os.environ, HEIMDEX_LISTEN=f"127.0.0.1:{hx.free_port()}", HEIMDEX_DATA_DIR=tempfile.mkdtemp(dir=tmp),
                 DEV_JWT_SECRET="x")
        e.update(base)
        e.update(env)
        r = subprocess.run([binary, "serve"], env=e, capture_output=True, text=True, timeout=20)
        last = [line for line in r.stderr.splitlines() if line.strip()][-1:]
        check(r.returncode == 2 and last and msg in last[0], f"refused with a clear line: {env}", r.returncode, r.stderr)


if __name__ == "__main__":
    a = hx.args()
    tmp = tempfile.mkdtemp(prefix="hx-jwt-")
    r = hx.Runner()
    r.run(test_rs256_attacks, a.bin, tmp)
    r.run(test_es256_file_jwks, a.bin, tmp)
    r.run(test_supabase_config, a.bin, tmp)
    r.finish()
