"""qdrant_schema.py - validate JSON bodies against Qdrant's published OpenAPI schema.

Why: the Qdrant backend (request bodies it sends) and the Qdrant-compatible API
(response bodies it returns) must match Qdrant v1.19.0's REST schema exactly,
and no JSON-Schema library is among our dependencies. This is a small validator
for the subset of OpenAPI 3.0 that ../shared/qdrant/openapi.json uses: $ref,
type, properties, required, items, anyOf, oneOf, allOf, enum, nullable,
additionalProperties, format (uint*, int*, float, double, uuid, date-time),
minimum/maximum, minLength/maxLength, minItems/maxItems, uniqueItems.

OpenAPI 3.0's `nullable: true` means "or null"; a schema that is only
`{"nullable": true}` (Qdrant's way to write an optional anyOf branch) accepts
anything, exactly as the upstream README describes.

    from qdrant_schema import validate, validate_request, validate_response
    errs = validate("ScoredPoint", {"id": 1, "score": 0.5, "version": 0})
    errs = validate("#/components/schemas/CollectionInfo", body)
    errs = validate_response("/collections/{collection_name}", "get", 200, body)
    errs = validate_request("/collections/{collection_name}/points/query", "post", body)

Every function returns a list of error strings (empty = valid); each names the
JSON path of the offending value, e.g. "$.result.points[0].id: ...".

The schema file is found at $QDRANT_OPENAPI, else ../shared/qdrant/openapi.json
relative to the repository root's parent, else /work/shared/qdrant/openapi.json.
"""

import json
import os
import re

_DOC = None

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_INT_RANGES = {
    "uint": (0, 2**64 - 1), "uint64": (0, 2**64 - 1), "uint32": (0, 2**32 - 1),
    "uint16": (0, 2**16 - 1), "uint8": (0, 255),
    "int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1), "int": (-(2**63), 2**63 - 1),
}


def openapi_path():
    env = os.environ.get("QDRANT_OPENAPI")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    cand = os.path.join(os.path.dirname(repo), "shared", "qdrant", "openapi.json")
    if os.path.exists(cand):
        return cand
    return "/work/shared/qdrant/openapi.json"


def document():
    """The parsed openapi.json (loaded once)."""
    global _DOC
    if _DOC is None:
        with open(openapi_path(), encoding="utf-8") as f:
            _DOC = json.load(f)
    return _DOC


def _resolve(ref):
    if not ref.startswith("#/"):
        raise ValueError("only local $refs are supported: %r" % ref)
    node = document()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _schema_of(schema):
    if isinstance(schema, dict):
        return schema
    if schema.startswith("#/"):
        return _resolve(schema)
    return _resolve("#/components/schemas/" + schema)


def _type_ok(t, x):
    if t == "object":
        return isinstance(x, dict)
    if t == "array":
        return isinstance(x, list)
    if t == "string":
        return isinstance(x, str)
    if t == "boolean":
        return isinstance(x, bool)
    if t == "integer":
        return isinstance(x, int) and not isinstance(x, bool)
    if t == "number":
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    if t == "null":
        return x is None
    return True


def _short(x):
    s = json.dumps(x)
    return s if len(s) <= 80 else s[:77] + "..."


def _check(s, x, path, errs, depth):
    if depth > 200:
        errs.append("%s: schema nesting too deep" % path)
        return
    if "$ref" in s:
        _check(_resolve(s["$ref"]), x, path, errs, depth + 1)
        # OpenAPI 3.0 ignores siblings of $ref
        return
    if x is None and s.get("nullable"):
        return
    if "allOf" in s:
        for sub in s["allOf"]:
            _check(sub, x, path, errs, depth + 1)
    if "anyOf" in s:
        branch_errs = []
        for sub in s["anyOf"]:
            e = []
            _check(sub, x, path, e, depth + 1)
            if not e:
                break
            branch_errs.append(e)
        else:
            errs.append("%s: %s matches no anyOf branch (%s)" % (
                path, _short(x), " | ".join(e[0] for e in branch_errs if e)))
    if "oneOf" in s:
        ok = 0
        branch_errs = []
        for sub in s["oneOf"]:
            e = []
            _check(sub, x, path, e, depth + 1)
            if e:
                branch_errs.append(e)
            else:
                ok += 1
        if ok != 1:
            why = "no" if ok == 0 else "%d" % ok
            errs.append("%s: %s matches %s oneOf branches (%s)" % (
                path, _short(x), why, " | ".join(e[0] for e in branch_errs if e)))
    t = s.get("type")
    if t is not None and not _type_ok(t, x):
        if x is None and s.get("nullable"):
            return
        errs.append("%s: expected %s, got %s" % (path, t, _short(x)))
        return
    if "enum" in s and x not in s["enum"]:
        if not (x is None and s.get("nullable")):
            errs.append("%s: %s not in enum %s" % (path, _short(x), s["enum"]))
    fmt = s.get("format")
    if fmt in _INT_RANGES and isinstance(x, (int, float)) and not isinstance(x, bool):
        lo, hi = _INT_RANGES[fmt]
        if t == "integer" and not (lo <= x <= hi):
            errs.append("%s: %s out of range for format %s" % (path, x, fmt))
    if fmt == "uuid" and isinstance(x, str) and not _UUID.match(x):
        errs.append("%s: %s is not a uuid" % (path, _short(x)))
    if fmt == "date-time" and isinstance(x, str) and not _DATETIME.match(x):
        errs.append("%s: %s is not a date-time" % (path, _short(x)))
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        if "minimum" in s and x < s["minimum"]:
            errs.append("%s: %s < minimum %s" % (path, x, s["minimum"]))
        if "maximum" in s and x > s["maximum"]:
            errs.append("%s: %s > maximum %s" % (path, x, s["maximum"]))
    if isinstance(x, str):
        if "minLength" in s and len(x) < s["minLength"]:
            errs.append("%s: string shorter than %d" % (path, s["minLength"]))
        if "maxLength" in s and len(x) > s["maxLength"]:
            errs.append("%s: string longer than %d" % (path, s["maxLength"]))
    if isinstance(x, list):
        if "minItems" in s and len(x) < s["minItems"]:
            errs.append("%s: fewer than %d items" % (path, s["minItems"]))
        if "maxItems" in s and len(x) > s["maxItems"]:
            errs.append("%s: more than %d items" % (path, s["maxItems"]))
        if s.get("uniqueItems"):
            seen = set()
            for v in x:
                k = json.dumps(v, sort_keys=True)
                if k in seen:
                    errs.append("%s: duplicate item %s" % (path, _short(v)))
                    break
                seen.add(k)
        if "items" in s:
            for i, v in enumerate(x):
                _check(s["items"], v, "%s[%d]" % (path, i), errs, depth + 1)
    if isinstance(x, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in x:
                errs.append("%s: missing required property '%s'" % (path, k))
        addl = s.get("additionalProperties", True)
        for k, v in x.items():
            sub = "%s.%s" % (path, k)
            if k in props:
                _check(props[k], v, sub, errs, depth + 1)
            elif addl is False:
                errs.append("%s: unexpected property" % sub)
            elif isinstance(addl, dict):
                _check(addl, v, sub, errs, depth + 1)


def validate(schema_name_or_ref, instance):
    """Errors of instance against a schema: a component name ("ScoredPoint"), a
    $ref ("#/components/schemas/ScoredPoint") or a schema dict. [] = valid."""
    errs = []
    _check(_schema_of(schema_name_or_ref), instance, "$", errs, 0)
    return errs


def _operation(path, method):
    paths = document()["paths"]
    if path not in paths:
        raise KeyError("openapi.json has no path %r" % path)
    op = paths[path].get(method.lower())
    if op is None:
        raise KeyError("openapi.json has no %s %s" % (method.upper(), path))
    return op


def response_schema(path, method, status):
    """The documented schema of a response: exact status, then "4XX"/"5XX", then default."""
    responses = _operation(path, method)["responses"]
    for key in (str(status), "%dXX" % (status // 100), "default"):
        if key in responses:
            content = responses[key].get("content", {})
            for ctype in ("application/json", "text/plain"):
                if ctype in content:
                    return content[ctype].get("schema", {})
            return {}
    raise KeyError("%s %s documents no response %d" % (method.upper(), path, status))


def request_schema(path, method):
    body = _operation(path, method).get("requestBody")
    if not body:
        return None
    return body["content"]["application/json"]["schema"]


def validate_response(path, method, status, body):
    """Errors of a response body of `METHOD path` (path as written in openapi.json,
    e.g. "/collections/{collection_name}/points/query") with HTTP status."""
    try:
        s = response_schema(path, method, status)
    except KeyError as e:
        return [str(e)]
    return validate(s, body)


def validate_request(path, method, body):
    """Errors of a request body of `METHOD path`."""
    try:
        s = request_schema(path, method)
    except KeyError as e:
        return [str(e)]
    if s is None:
        return [] if body is None else ["%s %s takes no request body" % (method.upper(), path)]
    return validate(s, body)


def match_path(concrete_path, method):
    """The openapi.json path template that a concrete path (no query string)
    matches for method, or None: "/collections/a/points/7" → "/collections/{collection_name}/points/{id}"."""
    segs = concrete_path.rstrip("/").split("/") if concrete_path != "/" else [""]
    best = None
    for tpl, ops in document()["paths"].items():
        if method.lower() not in ops:
            continue
        tsegs = tpl.rstrip("/").split("/") if tpl != "/" else [""]
        if len(tsegs) != len(segs):
            continue
        literal = 0
        for a, b in zip(tsegs, segs):
            if a.startswith("{") and a.endswith("}"):
                continue
            if a != b:
                break
            literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, tpl)
    return best[1] if best else None


if __name__ == "__main__":
    # self-check: documented examples and obvious failures
    assert validate("ScoredPoint", {"id": 1, "score": 0.5, "version": 3}) == []
    assert validate("ScoredPoint", {"id": "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "score": 1, "version": 0}) == []
    assert validate("ScoredPoint", {"id": 1, "score": 0.5}) != []
    assert validate("ScoredPoint", {"id": -1, "score": 0.5, "version": 0}) != []
    assert validate("ScoredPoint", {"id": "nope", "score": 0.5, "version": 0}) != []
    assert validate("ErrorResponse", {"status": {"error": "x"}, "time": 0.1}) == []
    assert validate("Distance", "Cosine") == [] and validate("Distance", "cosine") != []
    assert match_path("/collections/a/points/7", "get") == "/collections/{collection_name}/points/{id}"
    assert match_path("/collections/a/points/query", "post") == "/collections/{collection_name}/points/query"
    print("qdrant_schema self-check ok")
