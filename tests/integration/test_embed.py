"""End-to-end embedding through the API: /vectors/embed with the tiny BERT
fixture (vectors checked against the PyTorch reference recorded by
tests/embed/make_fixture.py) and with the built-in lexical embedder; the
original's job key; model checks before any job; raw text not kept in the
ledger (the point's payload keeps it for search results); a batch of 1,000
segments with per-segment failures and progress reaching 100; GET /models."""
import hashlib
import json
import math
import os
import time

import hx
from hx import ORG, check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "embed")


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def model_version(d):
    """The version src/embed/version.c documents, computed independently."""
    names = ["config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
             "modules.json", "sentence_bert_config.json"]
    if os.path.exists(os.path.join(d, "modules.json")):
        for m in json.load(open(os.path.join(d, "modules.json"))):
            if m.get("path"):
                names += [m["path"] + "/config.json", m["path"] + "/model.safetensors"]
    h = hashlib.sha256()
    for n in names:
        p = os.path.join(d, n)
        if os.path.isfile(p):
            h.update((n + "\n" + hashlib.sha256(open(p, "rb").read()).hexdigest() + "\n").encode())
    return h.hexdigest()[:12]


def test_tiny_bert_matches_pytorch(binary):
    ref = json.load(open(os.path.join(MODELS, "tiny-bert", "reference.json")))
    s = hx.Server(binary, env={"HEIMDEX_MODELS_DIR": MODELS, "VECTOR_SIZE": "32",
                               "EMBEDDING_MODEL_NAME": "tiny-bert"}).start()
    try:
        tok = hx.make_token()
        st, models = s.req("GET", "/models", token=tok)
        names = {m["name"]: m for m in models["models"]}
        check(st == 200 and models["default"] == "tiny-bert" and names["tiny-bert"]["dim"] == 32
              and names["tiny-bert"]["default"] is True and names["tiny-bert"]["kind"] == "bert"
              and "lexical" in names, "GET /models", models)
        ver = model_version(os.path.join(MODELS, "tiny-bert"))
        check(names["tiny-bert"]["version"] == ver and names["lexical"]["version"] == "v1", "content hash version",
              names, ver)
        for i, case in enumerate(ref["embeddings"][:4]):
            st, r = s.req("POST", "/vectors/embed", {"asset_id": "ref", "segment_id": f"s{i}", "text": case["text"]}, tok)
            check(st == 200, "create", st, r)
            first_id = r["job_id"] if i == 0 else first_id
            job = s.wait_job(r["job_id"], tok)
            check(job["status"] == "completed", "completed", job)
            res = job["result"]
            check(res["model"] == "tiny-bert" and res["tokens"] == case["ntokens"]
                  and res["truncated_tokens"] == case["truncated"] and res["text_len"] == len(case["text"].encode()),
                  "result fields", res, case["ntokens"])
            check(res["model_ver"] == ver and res["point_id"] == hx.point_id(ORG, "ref", f"s{i}", "tiny-bert", ver),
                  "real model version in the result and point id", res, ver)
            st, p = s.req("GET", f"/vectors/{res['point_id']}", token=tok)
            got, want = p["vector"], unit(case["mean"])
            diff = max(abs(a - b) for a, b in zip(got, want))
            cos = sum(a * b for a, b in zip(got, want))
            check(len(got) == 32 and diff <= 1e-4 and cos >= 0.9999, "vector vs PyTorch", diff, cos)
            # the point keeps the segment text for search results (the ledger does not)
            check(p["payload"].get("text") == case["text"] and p["payload"]["model"] == "tiny-bert"
                  and p["payload"]["model_ver"] == ver, "payload", p["payload"])
        # no model_ver given: the job key keeps the original's "v1" (DESIGN: default/v1)
        key_payload = {"asset_id": "ref", "model": "default", "model_ver": "v1", "segment_id": "s0",
                       "text_hash": hashlib.sha256(ref["embeddings"][0]["text"].encode()).hexdigest()[:16]}
        first_key = s.sql("SELECT job_key FROM job WHERE id=?", (first_id,))[0][0]
        want_key = hashlib.sha256(("%s:dispatch_embed_text:%s" % (ORG, json.dumps(
            key_payload, sort_keys=True, separators=(",", ":")))).encode()).hexdigest()
        check(first_key == want_key, "job key default/v1", first_key, want_key)
        # a model_ver must be the installed one
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "ref", "segment_id": "v", "text": "hello", "model_ver": "v2"},
                      tok)
        check(st == 422 and ver in r["detail"] and "v2" in r["detail"], "wrong model_ver", st, r)
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "ref", "segment_id": "v", "text": "hello", "model_ver": ver},
                      tok)
        check(st == 200 and s.wait_job(r["job_id"], tok)["result"]["model_ver"] == ver, "right model_ver", st, r)
        # truncation by tokens, reported
        long_case = max(ref["embeddings"], key=lambda c: c["truncated"])
        check(long_case["truncated"] > 0, "fixture has a truncated case")
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "ref", "segment_id": "long", "text": long_case["text"]}, tok)
        job = s.wait_job(r["job_id"], tok)
        check(job["result"]["truncated_tokens"] == long_case["truncated"], "truncated count", job["result"])
    finally:
        s.cleanup()


def test_lexical_and_contract(binary):
    s = hx.Server(binary).start()   # no models installed: the built-in lexical embedder
    try:
        tok = hx.make_token()
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "test", "segment_id": "s0", "text": "Hello world"}, tok)
        check(st == 200 and set(r) == {"job_id", "asset_id", "segment_id"}, "create", st, r)
        key = s.sql("SELECT job_key FROM job WHERE id=?", (r["job_id"],))[0][0]
        check(key == "42173d743f7c13000044933108d7acc462fb87fae51df1758bc357f49855433e", "golden job key", key)
        st, r2 = s.req("POST", "/vectors/embed", {"asset_id": "test", "segment_id": "s0", "text": "Hello world"}, tok)
        check(r2["job_id"] == r["job_id"], "idempotent")
        job = s.wait_job(r["job_id"], tok)
        check(job["status"] == "completed" and job["result"]["model"] == "lexical", "lexical", job)
        st, p = s.req("GET", f"/vectors/{job['result']['point_id']}", token=tok)
        check(st == 200 and len(p["vector"]) == 384 and abs(sum(x * x for x in p["vector"]) - 1) < 1e-4, "unit vector")
        # the model really selects the model; checks come before any job
        n0 = s.sql("SELECT count(*) FROM job")[0][0]
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "a", "segment_id": "b", "text": "x", "model": "nope"}, tok)
        check(st == 400 and r == {"detail": "Unknown model: nope"}, "unknown model", st, r)
        for body in ({"asset_id": "a", "segment_id": "b", "text": "   \n\t"}, {"asset_id": "a", "segment_id": "b"},
                     {"asset_id": "a", "segment_id": "b", "text": 5}, {"asset_id": "a", "segment_id": "", "text": "x"}):
            st, r = s.req("POST", "/vectors/embed", body, tok)
            check(st == 422, "422 for %r" % body, st, r)
        check(s.sql("SELECT count(*) FROM job")[0][0] == n0, "no job created by refused requests")
        # raw text is not kept once the job ended
        marker = "zebra-quartz-marker-7731"
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "pii", "segment_id": "s", "text": f"secret {marker}"}, tok)
        s.wait_job(r["job_id"], tok)
        for table, col in (("outbox", "payload"), ("job_event", "detail_json"), ("job", "result"),
                           ("job", "last_error_message")):
            n = s.sql(f"SELECT count(*) FROM {table} WHERE {col} LIKE ?", (f"%{marker}%",))[0][0]
            check(n == 0, f"no raw text in {table}.{col}", n)
    finally:
        s.cleanup()


def test_dimension_mismatch(binary):
    s = hx.Server(binary, env={"HEIMDEX_MODELS_DIR": MODELS}).start()  # VECTOR_SIZE 384, tiny-bert is 32-d
    try:
        tok = hx.make_token()
        st, r = s.req("POST", "/vectors/embed", {"asset_id": "a", "segment_id": "b", "text": "x", "model": "tiny-bert"}, tok)
        check(st == 422 and "32-dimensional" in r["detail"], "dimension mismatch", st, r)
    finally:
        s.cleanup()


def test_batch_1000(binary):
    s = hx.Server(binary, env={"HEIMDEX_MAX_BODY_BYTES": str(8 << 20)}).start()
    try:
        tok = hx.make_token()
        segs = [{"segment_id": f"seg-{i:04d}", "text": f"document {i} talks about topic {i % 17} and more"}
                for i in range(1000)]
        segs[500] = {"segment_id": "seg-0500", "text": "\u0007\u0008"}   # nothing left after cleaning
        st, r = s.req("POST", "/vectors/embed/batch", {"asset_id": "big", "segments": segs}, tok)
        check(st == 200 and r["segments"] == 1000, "create batch", st, r)
        seen_progress = set()
        deadline = time.time() + 300
        while True:
            st, j = s.req("GET", f"/jobs/{r['job_id']}", token=tok)
            seen_progress.add(j["progress"])
            if j["status"] in ("completed", "failed"):
                break
            check(time.time() < deadline, "batch finished in time", j)
            time.sleep(0.01)
        res = j["result"]
        check(j["status"] == "completed" and j["progress"] == 100, "completed at 100", j["status"], j["progress"])
        check(res["segments_total"] == 1000 and res["segments_embedded"] == 999 and res["segments_failed"] == 1
              and res["failed"][0]["segment_id"] == "seg-0500", "per-segment failure kept apart", res)
        for i in (0, 499, 999):
            pid = hx.point_id(ORG, "big", f"seg-{i:04d}", "lexical", "v1")
            check(s.req("GET", f"/vectors/{pid}", token=tok)[0] == 200, "segment stored", i)
        check(s.req("GET", f"/vectors/{hx.point_id(ORG, 'big', 'seg-0500', 'lexical', 'v1')}", token=tok)[0] == 404,
              "the failed segment has no point")
        st, r2 = s.req("POST", "/vectors/embed/batch", {"asset_id": "big", "segments": [{"segment_id": "x"}]}, tok)
        check(st == 422 and r2["detail"][0]["loc"] == ["body", "segments", 0, "text"], "item validation", st, r2)
        st, r2 = s.req("POST", "/vectors/embed/batch", {"asset_id": "big", "segments": []}, tok)
        check(st == 422, "empty batch", st, r2)
    finally:
        s.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    run.run(test_tiny_bert_matches_pytorch, a.bin)
    run.run(test_lexical_and_contract, a.bin)
    run.run(test_dimension_mismatch, a.bin)
    run.run(test_batch_1000, a.bin)
    run.finish()


if __name__ == "__main__":
    main()
