"""GET /openapi.json is kept true: every route of src/api/routes.c is documented,
and real responses of every documented operation (success and error statuses)
validate against their documented schemas."""
import json
import os
import re
import urllib.request

import hx
from hx import ORG2, check
from openapi_check import Validator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_spec_matches_routes(s):
    st, spec = s.req("GET", "/openapi.json")
    check(st == 200 and spec["openapi"].startswith("3."), "served", st)
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        check(json.load(f) == spec, "the served document is docs/openapi.json")
    src = open(os.path.join(ROOT, "src", "api", "routes.c")).read()
    routes = set(re.findall(r'\{"(GET|POST|PUT|DELETE|PATCH)", "([^"]+)"', src))
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    check(routes == documented, "route table == documented operations", routes ^ documented)


def test_responses_validate(s):
    _, spec = s.req("GET", "/openapi.json")
    v = Validator(spec)
    # the validator itself can fail
    for bad in ({"job_id": 5}, {}, {"job_id": "x", "extra": 1}):
        try:
            v.validate(bad, {"$ref": "#/components/schemas/JobCreateResponse"})
            raise AssertionError(f"validator accepted {bad}")
        except ValueError:
            pass
    seen = set()
    tok, other = hx.make_token(), hx.make_token(org_id=ORG2)

    def call(method, path, template, body=None, token=None, raw=None, want=None):
        st, r = s.req(method, path, body, token, raw=raw)
        if want is not None:
            check(st == want, f"{method} {path} status", st, r)
        content = v.response_schema(template, method, st)
        if "application/json" in content:
            v.validate(r, content["application/json"]["schema"], f"{method} {template} {st}")
        seen.add((method, template, st))
        return r

    call("GET", "/healthz", "/healthz", want=200)
    call("GET", "/readyz", "/readyz", want=200)
    with urllib.request.urlopen(s.base + "/metrics") as r:
        check(r.status == 200 and r.headers["Content-Type"].startswith("text/plain"), "metrics")
        seen.add(("GET", "/metrics", 200))
    with urllib.request.urlopen(s.base + "/docs") as r:
        check(r.status == 200 and b"/openapi.json" in r.read(), "docs page")
        seen.add(("GET", "/docs", 200))
    seen.add(("GET", "/openapi.json", 200))
    r = call("POST", "/vectors/mock", "/vectors/mock", {"asset_id": "oa", "segment_id": "s0"}, tok, want=200)
    job = s.wait_job(r["job_id"], tok)
    call("GET", f"/jobs/{r['job_id']}", "/jobs/{job_id}", token=tok, want=200)
    call("GET", f"/jobs/{r['job_id']}", "/jobs/{job_id}", token=other, want=403)
    call("GET", "/jobs/00000000-0000-4000-8000-000000000000", "/jobs/{job_id}", token=tok, want=404)
    call("GET", "/jobs/nope", "/jobs/{job_id}", token=tok, want=422)
    call("GET", "/jobs/00000000-0000-4000-8000-000000000000", "/jobs/{job_id}", token="x.y.z", want=401)
    pid = job["result"]["point_id"]
    call("GET", f"/vectors/{pid}", "/vectors/{point_id}", token=tok, want=200)
    call("GET", f"/vectors/{pid}", "/vectors/{point_id}", token=other, want=404)
    call("GET", "/vectors/nope", "/vectors/{point_id}", token=tok, want=422)
    call("DELETE", f"/vectors/{pid}", "/vectors/{point_id}", token=tok, want=200)
    call("DELETE", f"/vectors/{pid}", "/vectors/{point_id}", token=tok, want=404)
    call("DELETE", "/vectors/nope", "/vectors/{point_id}", token=tok, want=422)
    call("POST", "/vectors/mock", "/vectors/mock", {"asset_id": ""}, tok, want=422)
    call("POST", "/vectors/mock", "/vectors/mock", {"asset_id": "a", "segment_id": "b"}, None, want=403)
    call("POST", "/vectors/mock", "/vectors/mock", None, tok, raw=b"x" * (2 << 20), want=413)
    call("POST", "/vectors/embed", "/vectors/embed", {"asset_id": "oa", "segment_id": "e", "text": "hello"}, tok, want=200)
    call("POST", "/vectors/embed", "/vectors/embed", {"asset_id": "oa", "segment_id": "e", "text": "x", "model": "nope"},
         tok, want=400)
    call("POST", "/vectors/embed", "/vectors/embed", {"asset_id": "oa", "segment_id": "e", "text": " "}, tok, want=422)
    call("POST", "/vectors/embed/batch", "/vectors/embed/batch",
         {"asset_id": "oa", "segments": [{"segment_id": "a", "text": "one"}]}, tok, want=200)
    call("POST", "/vectors/embed/batch", "/vectors/embed/batch", {"asset_id": "oa", "segments": []}, tok, want=422)
    call("GET", "/models", "/models", token=tok, want=200)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": "hello"}, tok, want=200)
    call("POST", "/vectors/search", "/vectors/search",
         {"query_text": "hello one", "mode": "hybrid", "explain": True, "with_vector": True, "mmr": {"lambda": 0.5}},
         tok, want=200)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": " \t"}, tok, want=400)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": "x", "model": "nope"}, tok, want=400)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": "x", "limit": 0}, tok, want=422)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": "x"}, None, want=403)
    call("POST", "/vectors/search", "/vectors/search", {"query_text": "x"}, "x.y.z", want=401)
    call("DELETE", "/vectors/asset/oa", "/vectors/asset/{asset_id}", token=tok, want=200)
    call("DELETE", "/vectors/asset/oa", "/vectors/asset/{asset_id}", token=None, want=403)
    call("DELETE", "/vectors/asset/oa", "/vectors/asset/{asset_id}", token="x.y.z", want=401)
    def up(raw, ctype, query="?asset_id=oa-doc", token=tok, want=None):
        st, r = s.req("POST", "/assets" + query, token=token, raw=raw, headers={"Content-Type": ctype})
        check(want is None or st == want, "POST /assets status", st, r)
        content = v.response_schema("/assets", "post", st)
        v.validate(r, content["application/json"]["schema"], f"POST /assets {st}")
        seen.add(("POST", "/assets", st))
        return r

    r = up(b"Hello document.\n\nSecond paragraph.", "text/plain", want=200)
    s.wait_job(r["job_id"], tok)
    call("GET", "/assets/oa-doc", "/assets/{asset_id}", token=tok, want=200)
    call("GET", "/assets/oa-doc", "/assets/{asset_id}", token=other, want=404)
    call("GET", "/assets/oa-doc", "/assets/{asset_id}", token="x.y.z", want=401)
    up(b"x", "image/png", want=415)
    up(b"", "text/plain", want=422)
    up(b"x", "text/plain", query="", want=422)
    up(b"x", "text/plain", token=None, want=403)
    up(b"x" * (10 * 1024 * 1024 + 1), "text/plain", want=413)
    call("POST", "/jobs", "/jobs", {}, tok, want=200)
    call("POST", "/jobs", "/jobs", {"type": "other"}, tok, want=422)
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    check(ops <= {(m, p) for m, p, _ in seen}, "every documented operation exercised", ops - {(m, p) for m, p, _ in seen})


def main():
    a = hx.args()
    run = hx.Runner()
    s = hx.Server(a.bin).start()
    try:
        run.run(test_spec_matches_routes, s)
        run.run(test_responses_validate, s)
    finally:
        s.cleanup()
    run.finish()


if __name__ == "__main__":
    main()
