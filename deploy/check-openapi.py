#!/usr/bin/env python3
"""Checks deploy/openapi.json, the OpenAPI document Tenure serves at /openapi.json.

  - the document is valid OpenAPI (openapi-spec-validator, for the 3.0 or 3.1 its
    `openapi` field names);
  - a path item holds only HTTP methods (the Rust test
    `openapi_documents_exactly_the_served_routes` reads them as the routes);
  - every operation has an operationId, unique in the document, and documents at least
    one 4xx answer (except the open, parameterless routes listed in NO_CLIENT_ERRORS);
  - every request body and every 2xx JSON answer carries an example;
  - every example (a media type's, parameter's or header's `example`, and each
    `examples.*.value`) validates against its schema with the OpenAPI schema dialect
    of the document's version (openapi-schema-validator's OAS30/OAS31 validators, with
    their format checkers; `$ref`s resolve into the document).

Run with the deploy-tools virtualenv's python (deploy/check-deploy.sh installs it):
    target/deploy-tools/venv/bin/python deploy/check-openapi.py [deploy/openapi.json]
Prints one line per problem and a summary; exits non-zero on any problem.
"""

import json
import sys
from pathlib import Path

from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from jsonschema_path import SchemaPath
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Routes that never answer 4xx: open (no credential is asked for), without parameters
# or body. Anything else must document its client errors.
NO_CLIENT_ERRORS = {
    ("get", "/healthz"): "liveness, open",
    ("get", "/readyz"): "readiness, open (503 when not ready)",
    ("get", "/openapi.json"): "this document, open",
    ("get", "/dashboard"): "the dashboard page, open (it holds no data)",
}

# The base URI the document is registered under, so that a `$ref` such as
# `#/components/schemas/Grant` resolves into it from any schema in it.
DOCUMENT_URI = "urn:tenure:deploy:openapi.json"


def pointer(*parts):
    """A JSON pointer to `parts` (RFC 6901 escaping)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def main():
    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("openapi.json"))
    problems = []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"   FAIL: {path}: {e}")
        return 1

    version = str(doc.get("openapi", ""))
    if version.startswith("3.0."):
        spec_validator, schema_validator, format_checker, specification = (
            OpenAPIV30SpecValidator, OAS30Validator, oas30_format_checker, DRAFT4)
    elif version.startswith("3.1."):
        spec_validator, schema_validator, format_checker, specification = (
            OpenAPIV31SpecValidator, OAS31Validator, oas31_format_checker, DRAFT202012)
    else:
        print(f"   FAIL: {path}: openapi is {version!r}, not 3.0.x or 3.1.x")
        return 1

    # 1. The document itself.
    spec_errors = list(spec_validator(SchemaPath.from_dict(doc)).iter_errors())
    for e in spec_errors:
        where = "/".join(str(p) for p in getattr(e, "absolute_path", []) or [])
        problems.append(f"OpenAPI {version}: {e.message}" + (f" (at /{where})" if where else ""))

    # 2. Path items, operations, operation ids and client errors.
    paths = doc.get("paths") or {}
    operations = []
    for p, item in paths.items():
        for key in item:
            if key not in METHODS:
                problems.append(f"{p}: {key!r} directly under the path (only HTTP methods belong there; "
                                "parameters go on the operations)")
        for method in METHODS:
            if method in item:
                operations.append((method, p, item[method]))
    seen_ids = {}
    with_4xx = 0
    for method, p, op in operations:
        label = f"{method.upper()} {p}"
        oid = op.get("operationId")
        if not oid:
            problems.append(f"{label}: no operationId")
        elif oid in seen_ids:
            problems.append(f"{label}: operationId {oid!r} is also {seen_ids[oid]}'s")
        else:
            seen_ids[oid] = label
        codes = [str(c) for c in (op.get("responses") or {})]
        has_4xx = any(c.startswith("4") for c in codes)
        with_4xx += has_4xx
        if not has_4xx and (method, p) not in NO_CLIENT_ERRORS:
            problems.append(f"{label}: documents no 4xx response")
        if has_4xx and (method, p) in NO_CLIENT_ERRORS:
            problems.append(f"{label}: documents 4xx answers but is listed in NO_CLIENT_ERRORS; remove it there")

    # 3. Examples, validated against their schemas.
    registry = Registry().with_resource(DOCUMENT_URI, Resource(contents=doc, specification=specification))

    def resolve(obj):
        """A component reference (`$ref` to #/components/...) followed."""
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj and seen < 16:
            ref = obj["$ref"]
            if not ref.startswith("#/"):
                return obj
            target = doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            obj = target
            seen += 1
        return obj

    checked = 0
    failed = 0

    def check(label, holder, location, require):
        """Validates the examples of `holder` (a media type, parameter or header object
        found at JSON pointer `location`) against its schema."""
        nonlocal checked, failed
        if "schema" not in holder:
            if "example" in holder or "examples" in holder:
                problems.append(f"{label}: an example without a schema")
            return
        samples = []
        if "example" in holder:
            samples.append(("example", holder["example"]))
        for name, ex in (holder.get("examples") or {}).items():
            ex = resolve(ex)
            if isinstance(ex, dict) and "value" in ex:
                samples.append((f"examples.{name}", ex["value"]))
        if require and not samples:
            problems.append(f"{label}: no example")
        validator = schema_validator(
            {"$ref": f"{DOCUMENT_URI}#{location}/schema"},
            registry=registry,
            format_checker=format_checker,
        )
        for name, value in samples:
            checked += 1
            errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
            if errors:
                failed += 1
                lines = [f"{label} {name} does not match its schema ({len(errors)} error(s)):"]
                for e in errors[:5]:
                    at = "/".join(str(x) for x in e.absolute_path)
                    lines.append(f"      at /{at}: {e.message}")
                if len(errors) > 5:
                    lines.append(f"      ... and {len(errors) - 5} more")
                problems.append("\n".join(lines))

    def is_json(media):
        return "json" in media.split(";")[0].lower()

    def parameters(label, params, location):
        for i, param in enumerate(params or []):
            if "$ref" in param:
                continue  # checked where it is defined, under components
            name = f"{param.get('in', '?')} parameter {param.get('name', i)}"
            check(f"{label} {name}", param, f"{location}/{i}", require=False)

    for method, p, op in operations:
        label = f"{method.upper()} {p}"
        at = pointer("paths", p, method)
        parameters(label, op.get("parameters"), at + "/parameters")
        body = op.get("requestBody")
        if body and "$ref" not in body:
            for media, mt in (body.get("content") or {}).items():
                check(f"{label} request {media}", mt, f"{at}/requestBody/content{pointer(media)}", require=True)
        for code, response in (op.get("responses") or {}).items():
            if "$ref" in response:
                continue
            code = str(code)
            rat = f"{at}/responses{pointer(code)}"
            for media, mt in (response.get("content") or {}).items():
                check(f"{label} {code} {media}", mt, f"{rat}/content{pointer(media)}",
                      require=code.startswith("2") and is_json(media))
            for name, header in (response.get("headers") or {}).items():
                if "$ref" not in header:
                    check(f"{label} {code} header {name}", header, f"{rat}/headers{pointer(name)}", require=False)
    for p, item in paths.items():
        parameters(p, item.get("parameters") if isinstance(item, dict) else None, pointer("paths", p) + "/parameters")
    components = doc.get("components") or {}
    for kind in ("parameters", "headers"):
        for name, obj in (components.get(kind) or {}).items():
            if "$ref" not in obj:
                check(f"components.{kind}.{name}", obj, pointer("components", kind, name), require=False)
    for kind in ("requestBodies", "responses"):
        for name, obj in (components.get(kind) or {}).items():
            for media, mt in (obj.get("content") or {}).items():
                check(f"components.{kind}.{name} {media}", mt,
                      pointer("components", kind, name, "content", media), require=kind == "requestBodies")

    for problem in problems:
        print(f"   FAIL: {problem}")
    exempt = ", ".join(f"{m.upper()} {p}" for m, p in NO_CLIENT_ERRORS if p in paths and m in paths[p]) or "none"
    print(f"   {path}: OpenAPI {version}, {len(spec_errors)} spec error(s); {len(operations)} operations, "
          f"{len(seen_ids)} unique operationIds; {with_4xx} document 4xx answers "
          f"(open, without any: {exempt}); {checked} examples validated, {failed} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
