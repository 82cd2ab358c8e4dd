"""A small validator for the subset of OpenAPI 3.0 schemas docs/openapi.json
uses: type, nullable, properties, required, additionalProperties, items, enum,
anyOf, minLength, minimum, maximum, $ref. Written here because the machine has
no JSON-Schema package; it raises ValueError with the path of the mismatch."""


class Validator:
    def __init__(self, spec):
        self.spec = spec

    def resolve(self, s):
        while "$ref" in s:
            node = self.spec
            for part in s["$ref"].lstrip("#/").split("/"):
                node = node[part]
            s = node
        return s

    def validate(self, v, s, path="$"):
        s = self.resolve(s)
        if v is None:
            if s.get("nullable") or not s or "anyOf" in s and any(self._ok(None, a) for a in s["anyOf"]):
                return
            raise ValueError(f"{path}: null not allowed")
        if "anyOf" in s:
            if not any(self._ok(v, a, path) for a in s["anyOf"]):
                raise ValueError(f"{path}: matches none of anyOf")
            return
        t = s.get("type")
        checks = {"object": dict, "array": list, "string": str, "boolean": bool}
        if t in checks and not isinstance(v, checks[t]):
            raise ValueError(f"{path}: expected {t}, got {type(v).__name__}")
        if t == "integer" and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(f"{path}: expected integer, got {v!r}")
        if t == "number" and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError(f"{path}: expected number, got {v!r}")
        if "enum" in s and v not in s["enum"]:
            raise ValueError(f"{path}: {v!r} not in {s['enum']}")
        if "minLength" in s and len(v) < s["minLength"]:
            raise ValueError(f"{path}: shorter than {s['minLength']}")
        if "minimum" in s and v < s["minimum"] or "maximum" in s and v > s["maximum"]:
            raise ValueError(f"{path}: {v} out of range")
        if t == "object":
            for r in s.get("required", []):
                if r not in v:
                    raise ValueError(f"{path}: missing required {r!r}")
            props = s.get("properties", {})
            extra = s.get("additionalProperties", True)
            for k, x in v.items():
                if k in props:
                    self.validate(x, props[k], f"{path}.{k}")
                elif extra is False:
                    raise ValueError(f"{path}: unexpected property {k!r}")
                elif isinstance(extra, dict):
                    self.validate(x, extra, f"{path}.{k}")
        if t == "array" and "items" in s:
            for i, x in enumerate(v):
                self.validate(x, s["items"], f"{path}[{i}]")

    def _ok(self, v, s, path="$"):
        try:
            self.validate(v, s, path)
            return True
        except ValueError:
            return False

    def response_schema(self, path, method, status):
        op = self.spec["paths"][path][method.lower()]
        r = op["responses"].get(str(status))
        if r is None:
            raise ValueError(f"{method} {path}: status {status} is not documented")
        content = r.get("content", {})
        return content
