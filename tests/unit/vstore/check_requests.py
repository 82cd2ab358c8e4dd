"""Validates every request the Qdrant backend sent to the fake Qdrant of
test_qdrant.c against Qdrant's published schema (../shared/qdrant/openapi.json
through tests/integration/qdrant_schema.py).

    python3 tests/unit/vstore/check_requests.py REQUESTS.jsonl

Each line is {"method", "path" (with query), "body"}. Fails (exit 1) when a
path is not an operation of the schema, a body does not validate against the
operation's request schema, or one of the operations the backend must use was
never exercised."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import qdrant_schema  # noqa: E402

# Strict reading of serde's optional fields: `anyOf: [{$ref: X}, {nullable: true}]`
# means "X or null" (the shared validator reads the bare {nullable: true} branch
# as "anything", which lets any filter through). Requests are checked strictly.
_loose_check = qdrant_schema._check


def _strict_check(s, x, path, errs, depth):
    if isinstance(s, dict) and s.get("nullable") and not set(s) - {"nullable", "description", "default"}:
        if x is not None:
            errs.append("%s: expected null, got %s" % (path, qdrant_schema._short(x)))
        return
    _loose_check(s, x, path, errs, depth)


qdrant_schema._check = _strict_check

# the operations qdrant.c uses; the unit test must have exercised each one
EXPECTED = {
    ("get", "/collections/{collection_name}"),
    ("put", "/collections/{collection_name}"),
    ("put", "/collections/{collection_name}/index"),
    ("put", "/collections/{collection_name}/points"),
    ("post", "/collections/{collection_name}/points"),
    ("post", "/collections/{collection_name}/points/count"),
    ("post", "/collections/{collection_name}/points/delete"),
    ("post", "/collections/{collection_name}/points/query"),
}


def main():
    # the validator must be able to fail: known-bad bodies of the same operations
    bad = [("put", "/collections/{collection_name}", {"vectors": {"size": "384", "distance": "Cosine"}}),
           ("put", "/collections/{collection_name}", {"sparse_vectors": {"text": {"modifier": "IDF"}}}),
           ("post", "/collections/{collection_name}/points/count", {"filter": {"must": [{"key": 1}]}}),
           ("post", "/collections/{collection_name}/points/delete", {"filter": {"must": [{"has_id": [1.5]}]}}),
           ("post", "/collections/{collection_name}/points/query", {"limit": -1}),
           ("post", "/collections/{collection_name}/points/query", {"query": [0.5], "with_payload": 5}),
           ("put", "/collections/{collection_name}/index",
            {"field_name": "org_id", "field_schema": {"type": "keyword", "is_tenant": "yes"}})]
    for m, p, b in bad:
        if not qdrant_schema.validate_request(p, m, b):
            print(f"validator accepted a bad body for {m.upper()} {p}: {b}")
            return 1
    seen, errors, n = set(), 0, 0
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)
            method = r["method"].lower()
            path = r["path"].split("?")[0]
            tpl = qdrant_schema.match_path(path, method)
            n += 1
            if tpl is None:
                print(f"not an operation of the schema: {r['method']} {r['path']}")
                errors += 1
                continue
            seen.add((method, tpl))
            errs = qdrant_schema.validate_request(tpl, method, r["body"])
            if errs:
                errors += 1
                print(f"{r['method']} {r['path']}: {errs[:5]}\n  body: {json.dumps(r['body'])[:600]}")
    missing = EXPECTED - seen
    for m, p in sorted(missing):
        print(f"never exercised: {m.upper()} {p}")
    print(f"{n} requests checked against the schema, {len(seen)} operations, {errors} invalid")
    return 1 if errors or missing else 0


if __name__ == "__main__":
    sys.exit(main())
