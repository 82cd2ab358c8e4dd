"""Document upload end to end: POST /assets (multipart and raw bodies) of the
fixtures written by tests/fixtures/docs/gen.py (PDF, DOCX, SRT, HTML, text),
the jobs, GET /assets/{asset_id}, the chunk points found under the point ids
of DESIGN section 1 (computed here, independently) with their page numbers,
cue times and text; every tagged word of the text lands in some chunk; a
shorter re-upload leaves no stale chunk; bad inputs answer the precise 4xx or
end as a failed job with the extractor's message; uploads are deleted when the
job ends; `heimdex ingest` on a directory; the 1,000-page PDF."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid

import hx
from hx import ORG, ORG2, check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = "lexical"


def multipart(fields, file_name, data, ctype):
    b = "hxb" + uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return out, "multipart/form-data; boundary=" + b


def upload(s, tok, asset, path, ctype, form=False, want=200):
    data = open(path, "rb").read()
    if form:
        body, ct = multipart({"asset_id": asset}, os.path.basename(path), data, ctype)
        st, r = s.req("POST", "/assets", token=tok, raw=body, headers={"Content-Type": ct})
    else:
        st, r = s.req("POST", f"/assets?asset_id={asset}", token=tok, raw=data, headers={"Content-Type": ctype})
    check(st == want, f"upload {asset} status", st, r)
    return r


def point(s, tok, asset, idx):
    pid = hx.point_id(ORG, asset, "chunk-%04d" % idx, MODEL, "v1")
    return s.req("GET", f"/vectors/{pid}", token=tok)


def chunks_of(s, tok, asset, n):
    out = []
    for i in range(n):
        st, p = point(s, tok, asset, i)
        check(st == 200, f"{asset} chunk {i} found by its point id", st, p)
        out.append(p["payload"])
    return out


def ingest_ok(s, tok, asset, path, ctype, form=False):
    r = upload(s, tok, asset, path, ctype, form)
    job = s.wait_job(r["job_id"], tok, timeout=300)
    check(job["status"] == "completed" and job["progress"] == 100, f"{asset} completed", job)
    st, a = s.req("GET", f"/assets/{asset}", token=tok)
    check(st == 200 and a["status"] == "completed" and a["chunk_count"] == job["result"]["chunks"] and
          a["job_id"] == r["job_id"], "GET /assets", a, job)
    return job, a


def test_formats(s, fx, expect):
    tok = hx.make_token()
    # PDF (multipart): page numbers
    job, a = ingest_ok(s, tok, "pdf1", os.path.join(fx, "small.pdf"), "application/pdf", form=True)
    check(a["source_type"] == "pdf" and a["filename"] == "small.pdf" and job["result"]["pages"] == 3, "pdf asset", a, job)
    ch = chunks_of(s, tok, "pdf1", a["chunk_count"])
    for i, p in enumerate(ch):
        check(p["asset_id"] == "pdf1" and p["segment_id"] == "chunk-%04d" % i and p["chunk_index"] == i and
              p["org_id"] == ORG and p["model"] == MODEL and p["model_ver"] == "v1" and p["source_type"] == "pdf" and
              p["char_end"] > p["char_start"] >= 0 and p["page"] >= 1, "pdf payload", p)
    words = " ".join(p["text"] for p in ch).split()
    for page in expect["pdf"]["pages"]:
        for w in page:
            check(w in words, "pdf word in a chunk", w)
    # DOCX (raw body), tables and Korean/Japanese text
    job, a = ingest_ok(s, tok, "docx1", os.path.join(fx, "report.docx"),
                       "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    text = "\n".join(p["text"] for p in chunks_of(s, tok, "docx1", a["chunk_count"]))
    check(a["source_type"] == "docx" and "Seoul | 120 | 5%" in text and "日本語の段落です。" in text, "docx text", text)
    # SRT (raw): cue times
    job, a = ingest_ok(s, tok, "srt1", os.path.join(fx, "talk.srt"), "application/x-subrip")
    ch = chunks_of(s, tok, "srt1", a["chunk_count"])
    cues = expect["cues"]
    check(a["source_type"] == "srt" and ch[0]["start_ms"] == cues[0][0] and ch[-1]["end_ms"] == cues[-1][1] and
          "page" not in ch[0], "srt times", ch[0], ch[-1], cues)
    # HTML (multipart)
    job, a = ingest_ok(s, tok, "html1", os.path.join(fx, "page.html"), "text/html", form=True)
    text = "\n".join(p["text"] for p in chunks_of(s, tok, "html1", a["chunk_count"]))
    check(a["source_type"] == "html" and "First paragraph with bold text." in text and "script text" not in text,
          "html text", text)
    # the same file again under the same asset: the same job
    r = upload(s, tok, "html1", os.path.join(fx, "page.html"), "text/html", form=True)
    check(r["job_id"] == a["job_id"], "duplicate upload returns the existing job", r, a)
    # another org sees neither the asset nor its points
    other = hx.make_token(org_id=ORG2)
    st, r = s.req("GET", "/assets/html1", token=other)
    check(st == 404 and r["detail"] == "Asset not found", "other org's asset", st, r)


def test_text_coverage_and_replace(s, fx, expect):
    tok = hx.make_token()
    job, a = ingest_ok(s, tok, "en", os.path.join(fx, "en.txt"), "text/plain")
    n = a["chunk_count"]
    check(n >= 4, "several chunks at HEIMDEX_CHUNK_TOKENS=64", n)
    ch = chunks_of(s, tok, "en", n)
    tags = set(re.findall(r"w\d{4}", " ".join(p["text"] for p in ch)))
    want = set(re.findall(r"w\d{4}", " ".join(expect["en"]["paragraphs"])))
    check(tags == want, "every tagged word lands in a chunk", want - tags)
    for p in ch:
        check(len(p["text"].split()) <= 64, "chunk within the token budget", len(p["text"].split()))
    for x, y in zip(ch, ch[1:]):
        check(y["char_start"] < x["char_end"] and y["char_start"] > x["char_start"], "overlap and order", x, y)
    st, r = point(s, tok, "en", n)
    check(st == 404, "no chunk past the count", st, r)
    # a shorter version: two paragraphs
    short = os.path.join(fx, "en_short.txt")
    with open(short, "w") as f:
        f.write("\n\n".join(expect["en"]["paragraphs"][:2]) + "\n")
    job, a = ingest_ok(s, tok, "en", short, "text/plain")
    m = a["chunk_count"]
    check(0 < m < n and job["result"]["stale_chunks_deleted"] == n - m, "shorter version", m, n, job)
    chunks_of(s, tok, "en", m)
    for i in range(m, n):
        st, r = point(s, tok, "en", i)
        check(st == 404, f"stale chunk {i} removed", st, r)
    check(point(s, tok, "en", 0)[1]["payload"]["text"].split()[0] == expect["en"]["paragraphs"][0].split()[0],
          "chunk 0 is the new version")
    # back to the first file (A, B, A): new work, the asset holds A's chunks again
    first_job = a["job_id"]
    job, a = ingest_ok(s, tok, "en", os.path.join(fx, "en.txt"), "text/plain")
    check(a["chunk_count"] == n and a["job_id"] != first_job, "A, B, A re-indexes A", a)
    chunks_of(s, tok, "en", n)
    r = upload(s, tok, "en", os.path.join(fx, "en.txt"), "text/plain")
    check(r["job_id"] == a["job_id"] and r["status"] == "completed", "then the same file again is the same job", r, a)


def test_bad_inputs(s, fx):
    tok = hx.make_token()
    failures = {"encrypted.pdf": ("application/pdf", "PDF is encrypted"),
                "corrupt.pdf": ("application/pdf", "corrupt PDF"),
                "bomb.docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "zip bomb"),
                "trunc_utf16.txt": ("text/plain", "truncated UTF-16"),
                "bad.srt": ("application/x-subrip", "line 6")}
    jobs = {}
    for name, (ct, _) in failures.items():
        jobs[name] = upload(s, tok, "bad-" + name, os.path.join(fx, name), ct)["job_id"]
    for name, (ct, msg) in failures.items():
        job = s.wait_job(jobs[name], tok)
        check(job["status"] == "failed" and msg in (job["error"] or ""), f"{name} fails precisely", job)
        st, a = s.req("GET", "/assets/bad-" + name, token=tok)
        check(st == 200 and a["status"] == "failed" and a["error"] == job["error"] and a["chunk_count"] == 0,
              "failed asset", a)
    # a failed version is retried by uploading it again
    r = upload(s, tok, "bad-corrupt.pdf", os.path.join(fx, "corrupt.pdf"), "application/pdf")
    check(r["job_id"] != jobs["corrupt.pdf"], "re-upload of a failed version is a new job", r)
    s.wait_job(r["job_id"], tok)
    # refused at upload
    st, r = s.req("POST", "/assets?asset_id=e", token=tok, raw=b"", headers={"Content-Type": "text/plain"})
    check(st == 422 and "Empty file" in r["detail"], "empty file", st, r)
    body, ct = multipart({"asset_id": "e"}, "empty.txt", b"", "text/plain")
    st, r = s.req("POST", "/assets", token=tok, raw=body, headers={"Content-Type": ct})
    check(st == 422 and "Empty file" in r["detail"], "empty multipart file", st, r)
    en = open(os.path.join(fx, "en.txt"), "rb").read()
    st, r = s.req("POST", "/assets?asset_id=x", token=tok, raw=en, headers={"Content-Type": "image/png"})
    check(st == 415 and "image/png" in r["detail"], "unsupported Content-Type", st, r)
    st, r = s.req("POST", "/assets?asset_id=x", token=tok, raw=en, headers={"Content-Type": "application/pdf"})
    check(st == 415 and "declared type 'pdf' but the content is text" in r["detail"], "type contradicts content", st, r)
    body, ct = multipart({"asset_id": "x"}, "x.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "application/octet-stream")
    st, r = s.req("POST", "/assets", token=tok, raw=body, headers={"Content-Type": ct})
    check(st == 415 and "unknown binary" in r["detail"], "unknown binary content", st, r)
    big = b"word " * (600 * 1024 // 5 + 10)   # over HEIMDEX_MAX_UPLOAD_BYTES=600 KiB
    st, r = s.req("POST", "/assets?asset_id=big", token=tok, raw=big, headers={"Content-Type": "text/plain"})
    check(st == 413 and "HEIMDEX_MAX_UPLOAD_BYTES" in r["detail"], "over the limit (raw)", st, r)
    body, ct = multipart({"asset_id": "big"}, "big.txt", big, "text/plain")
    st, r = s.req("POST", "/assets", token=tok, raw=body, headers={"Content-Type": ct})
    check(st == 413, "over the limit (multipart)", st, r)
    st, r = s.req("POST", "/assets", token=tok, raw=en, headers={"Content-Type": "text/plain"})
    check(st == 422 and r["detail"][0]["loc"] == ["query", "asset_id"], "missing asset_id", st, r)
    body, ct = multipart({"asset_id": "x"}, "a.txt", en, "text/plain")
    st, r = s.req("POST", "/assets", token=tok, raw=body.replace(b'name="file"', b'name="other"'),
                  headers={"Content-Type": ct})
    check(st == 422 and r["detail"][0]["loc"] == ["body", "file"], "missing file part", st, r)
    st, r = s.req("POST", "/assets", token=tok, raw=b"--x\r\nnot a form", headers={"Content-Type": "multipart/form-data"})
    check(st == 400, "multipart without boundary", st, r)
    st, r = s.req("POST", "/assets?asset_id=x", raw=en, headers={"Content-Type": "text/plain"})
    check(st == 403 and r["detail"] == "Not authenticated", "no token", st, r)
    st, r = s.req("GET", "/assets/nope", token=tok)
    check(st == 404, "unknown asset", st, r)
    left = [f for f in os.listdir(os.path.join(s.data, "uploads"))]
    check(left == [], "uploads deleted once their jobs ended and nothing left of refused ones", left)


def test_ingest_cli(s, fx, binary):
    tok = hx.make_token()
    d = tempfile.mkdtemp(prefix="hx-ingest-")
    try:
        os.makedirs(os.path.join(d, "sub"))
        for f in ("small.pdf", "report.docx", "page.html"):
            shutil.copy(os.path.join(fx, f), d)
        shutil.copy(os.path.join(fx, "talk.vtt"), os.path.join(d, "sub"))
        p = subprocess.run([binary, "ingest", d, "--server", s.base, "--token", tok], capture_output=True, text=True,
                           timeout=300)
        check(p.returncode == 0 and "4 completed, 0 failed" in p.stdout, "ingest a directory", p.returncode, p.stdout,
              p.stderr)
        st, a = s.req("GET", "/assets/sub:talk.vtt", token=tok)
        check(st == 200 and a["status"] == "completed" and a["source_type"] == "vtt", "nested file's asset", st, a)
        shutil.copy(os.path.join(fx, "corrupt.pdf"), d)
        p = subprocess.run([binary, "ingest", d, "--server", s.base, "--token", tok], capture_output=True, text=True,
                           timeout=300)
        check(p.returncode == 1 and "1 failed" in p.stdout and "corrupt PDF" in p.stdout, "a failure is reported",
              p.returncode, p.stdout)
        p = subprocess.run([binary, "ingest", d, "--server", s.base, "--token", "bad.token.x"], capture_output=True,
                           text=True, timeout=60)
        check(p.returncode == 1 and "5 refused" in p.stdout, "refused uploads", p.returncode, p.stdout)
        p = subprocess.run([binary, "ingest", d, "--asset-id", "x", "--server", s.base, "--token", tok],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 2 and "exactly one file" in p.stderr, "--asset-id with a directory", p.returncode, p.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_big_pdf(s, fx, expect, binary):
    tok = hx.make_token()
    p = subprocess.run([binary, "ingest", os.path.join(fx, "big.pdf"), "--asset-id", "big", "--server", s.base,
                        "--token", tok], capture_output=True, text=True, timeout=600)
    check(p.returncode == 0, "ingest the 1,000-page PDF", p.stdout, p.stderr)
    st, a = s.req("GET", "/assets/big", token=tok)
    st, job = s.req("GET", f"/jobs/{a['job_id']}", token=tok)
    check(job["result"]["pages"] == expect["big_pdf"]["pages"] == 1000, "1,000 pages", job)
    ch = chunks_of(s, tok, "big", a["chunk_count"])
    last = 0
    for c in ch:
        m = re.search(r"p(\d+)l\d+\.", c["text"])
        first = re.match(r"Page (\d+) of", c["text"])
        # the chunk's page is the page its first line comes from
        if first:
            check(int(first.group(1)) == c["page"], "page of a chunk starting with a page heading", c)
        elif m:
            check(int(m.group(1)) in (c["page"], c["page"] + 1), "page of the chunk's first line", c)
        check(c["page"] >= last, "pages ascend", c["page"], last)
        last = c["page"]
    heads = {int(x) for c in ch for x in re.findall(r"Page (\d+) of the large", c["text"])}
    check(heads == set(range(1, 1001)), "every page's heading in some chunk", set(range(1, 1001)) - heads)
    check(last >= 999 and expect["big_pdf"]["last_line_token"] in ch[-1]["text"], "last page in the last chunk", last)


def test_tokens_of_the_model(binary, fx):
    """With a BERT model, chunks are cut by its own word pieces."""
    models = os.path.join(ROOT, "tests", "embed")
    s = hx.Server(binary, env={"HEIMDEX_MODELS_DIR": models, "VECTOR_SIZE": "32",
                               "EMBEDDING_MODEL_NAME": "tiny-bert"}).start()
    try:
        tok = hx.make_token()
        st, ms = s.req("GET", "/models", token=tok)
        tiny = [m for m in ms["models"] if m["name"] == "tiny-bert"][0]
        maxt, ver = tiny["max_tokens"], tiny["version"]
        r = upload(s, tok, "bert-en", os.path.join(fx, "en.txt"), "text/plain")
        job = s.wait_job(r["job_id"], tok, timeout=300)
        check(job["status"] == "completed" and job["result"]["model"] == "tiny-bert"
              and job["result"]["model_ver"] == ver != "v1", "bert job carries the model's version", job, ver)
        n = job["result"]["chunks"]
        for i in range(n):
            pid = hx.point_id(ORG, "bert-en", "chunk-%04d" % i, "tiny-bert", ver)
            st, p = s.req("GET", f"/vectors/{pid}", token=tok)
            check(st == 200 and 0 < p["payload"]["tokens"] <= maxt - 2 and p["payload"]["model_ver"] == ver,
                  "chunk fits the model", st, p, maxt)
    finally:
        s.cleanup()


def test_production_ledger(binary, fx, expect):
    """The asset record on PostgreSQL (migration 2), API and worker in separate processes sharing the data dir."""
    c = hx.Cluster(binary, apis=1, workers=1, env={"HEIMDEX_CHUNK_TOKENS": "64", "EMBEDDING_MODEL_NAME": MODEL}).start()
    try:
        tok = hx.make_token()
        job, a = ingest_ok(c, tok, "pg-en", os.path.join(fx, "en.txt"), "text/plain")
        n = a["chunk_count"]
        short = os.path.join(fx, "en_short_pg.txt")
        with open(short, "w") as f:
            f.write(expect["en"]["paragraphs"][0] + "\n")
        job, a = ingest_ok(c, tok, "pg-en", short, "text/plain")
        check(a["chunk_count"] < n and job["result"]["stale_chunks_deleted"] == n - a["chunk_count"] and
              a["source_type"] == "text", "pg: shorter version", a, job)
        r = upload(c, tok, "pg-bad", os.path.join(fx, "corrupt.pdf"), "application/pdf")
        job = c.wait_job(r["job_id"], tok)
        st, a = c.req("GET", "/assets/pg-bad", token=tok)
        check(job["status"] == "failed" and a["status"] == "failed" and "corrupt PDF" in a["error"], "pg: failed", a)
        st, r = c.req("GET", "/assets/pg-en", token=hx.make_token(org_id=ORG2))
        check(st == 404, "pg: other org", st, r)
    finally:
        c.cleanup()


def main():
    a = hx.args()
    run = hx.Runner()
    fx = tempfile.mkdtemp(prefix="hx-assets-fx-")
    try:
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tests", "fixtures", "docs", "gen.py"), fx], check=True,
                       stdout=subprocess.DEVNULL)
        expect = json.load(open(os.path.join(fx, "expect.json")))
        s = hx.Server(a.bin, env={"HEIMDEX_CHUNK_TOKENS": "64", "HEIMDEX_MAX_UPLOAD_BYTES": str(600 * 1024),
                                  "EMBEDDING_MODEL_NAME": MODEL}).start()
        try:
            run.run(test_formats, s, fx, expect)
            run.run(test_text_coverage_and_replace, s, fx, expect)
            run.run(test_bad_inputs, s, fx)
            run.run(test_ingest_cli, s, fx, a.bin)
        finally:
            s.cleanup()
        s = hx.Server(a.bin, env={"EMBEDDING_MODEL_NAME": MODEL}).start()
        try:
            run.run(test_big_pdf, s, fx, expect, a.bin)
        finally:
            s.cleanup()
        run.run(test_tokens_of_the_model, a.bin, fx)
        run.run(test_production_ledger, a.bin, fx, expect)
    finally:
        shutil.rmtree(fx, ignore_errors=True)
    run.finish()


if __name__ == "__main__":
    main()
