"""Bad input gets a precise 4xx and never a crash: malformed JSON, wrong types,
missing/empty fields, invalid UTF-8, huge bodies, unknown routes and methods,
non-UUID ids. The server must still answer correctly afterwards."""
import socket

import hx
from hx import check


def detail_types(r):
    return [(d["type"], tuple(d["loc"])) for d in r["detail"]]


def test_bodies(s):
    tok = hx.make_token()
    cases = [
        (b"{", [("json_invalid", ("body", 1))]),
        (b"{\"asset_id\": \"a\", \"segment_id\": }", [("json_invalid", ("body", 33))]),
        (b"", [("missing", ("body",))]),
        (b"[1,2]", [("model_attributes_type", ("body",))]),
        (b"\"text\"", [("model_attributes_type", ("body",))]),
        (b"{}", [("missing", ("body", "asset_id")), ("missing", ("body", "segment_id"))]),
        (b"{\"asset_id\": 5, \"segment_id\": null}", [("string_type", ("body", "asset_id")),
                                                       ("string_type", ("body", "segment_id"))]),
        (b"{\"asset_id\": \"\", \"segment_id\": \"s\"}", [("string_too_short", ("body", "asset_id"))]),
        (b"{\"asset_id\": [\"a\"], \"segment_id\": {\"x\": 1}}", [("string_type", ("body", "asset_id")),
                                                               ("string_type", ("body", "segment_id"))]),
    ]
    for raw, want in cases:
        st, r = s.req("POST", "/vectors/mock", token=tok, raw=raw)
        check(st == 422, "422 for %r" % raw, st, r)
        got = detail_types(r)
        if want[0][0] == "json_invalid":
            check(got[0][0] == "json_invalid" and got[0][1][0] == "body", "json_invalid for %r" % raw, got)
        else:
            check(got == want, "errors for %r" % raw, got)
    st, r = s.req("POST", "/vectors/mock", token=tok, raw=b"{\"asset_id\": \"\xff\xfe\", \"segment_id\": \"s\"}")
    check(st == 422 and r["detail"][0]["type"] == "json_invalid", "invalid UTF-8", st, r)
    st, r = s.req("POST", "/vectors/mock", token=tok, raw=b"{\"asset_id\": \"a\\u0000b\", \"segment_id\": \"s\"}")
    check(st == 422, "NUL in string", st, r)


def test_sizes(s):
    tok = hx.make_token()
    big = b"{\"asset_id\": \"" + b"a" * (2 << 20) + b"\", \"segment_id\": \"s\"}"
    st, r = s.req("POST", "/vectors/mock", token=tok, raw=big)
    check(st == 413 and "too large" in r["detail"], "413", st, r)
    # chunked upload without Content-Length is capped too
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    head = (f"POST /vectors/mock HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
            "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n").encode()
    c.sendall(head)
    chunk = b"a" * 65536
    try:
        for _ in range(40):
            c.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        c.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server may close early after answering 413
    resp = c.recv(4096).decode(errors="replace")
    c.close()
    check(resp.startswith("HTTP/1.1 413"), "chunked 413", resp[:80])


def test_routes(s):
    tok = hx.make_token()
    st, r = s.req("GET", "/nope", token=tok)
    check(st == 404 and r == {"detail": "Not Found"}, "unknown route", st, r)
    st, r = s.req("PUT", "/vectors/mock", {"a": 1}, tok)
    check(st == 405 and r == {"detail": "Method Not Allowed"}, "wrong method", st, r)
    st, r = s.req("GET", "/jobs/not-a-uuid", token=tok)
    check(st == 422 and r["detail"][0]["type"] == "uuid_parsing" and r["detail"][0]["loc"] == ["path", "job_id"],
          "non-UUID job id", st, r)
    st, r = s.req("GET", "/jobs/%FF%FE", token=tok)
    check(st in (404, 422), "undecodable job id", st, r)
    st, r = s.req("GET", "/vectors/123", token=tok)
    check(st == 422 and r["detail"][0]["loc"] == ["path", "point_id"], "non-UUID point id", st, r)
    st, r = s.req("POST", "/jobs", token=tok, raw=b"{\"fail_at_stage\": 3}")
    check(st == 422 and r["detail"][0]["type"] == "string_type", "jobs wrong type", st, r)


def test_garbage_connections(s):
    for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"POST /jobs HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n"):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=2)
        try:
            c.sendall(junk)
            c.recv(1024)
        except OSError:
            pass
        c.close()
    st, r = s.req("GET", "/healthz")
    check(st == 200 and r["ok"] is True, "still healthy", st, r)


def main():
    a = hx.args()
    run = hx.Runner()
    s = hx.Server(a.bin).start()
    try:
        for t in (test_bodies, test_sizes, test_routes, test_garbage_connections):
            run.run(t, s)
    finally:
        s.cleanup()
    run.finish()


if __name__ == "__main__":
    main()
