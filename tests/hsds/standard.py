"""Open Referral's HSDS 3.0 API reference and schemas, as shipped in the package, made usable
offline: the reference's ``$ref``s name raw.githubusercontent.com URLs, which a ``referencing``
registry maps to the shipped files (the three big compiled schemas are shipped gzipped)."""

from __future__ import annotations

import copy
import functools
import gzip
import json
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from directory.hsds import spec

REMOTE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
REFERENCE_URI = REMOTE + "openapi.json"  # where upstream keeps it (see standard/SOURCE.txt)
SCHEMAS = spec.STANDARD_PATH / "schema"


def reference() -> dict[str, Any]:
    return json.loads((spec.STANDARD_PATH / "openapi" / "openapi.json").read_text())


@functools.cache
def shipped_schema(name: str) -> dict[str, Any]:
    """A schema by its path under schema/ ("compiled/service.json", "taxonomy.json")."""
    path = SCHEMAS / name
    if path.is_file():
        return json.loads(path.read_text())
    return json.loads(gzip.decompress(path.with_name(path.name + ".gz").read_bytes()))


def strict(schema: Any) -> Any:
    """A copy that rejects unknown fields: every object schema allows only its properties."""
    schema = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def _retrieve_from(strict_schemas: bool):  # type: ignore[no-untyped-def]
    def retrieve(uri: str) -> Resource[Any]:
        if not uri.startswith(REMOTE):
            raise LookupError(f"{uri} is not a shipped HSDS schema")
        contents = shipped_schema(uri.removeprefix(REMOTE))
        return DRAFT202012.create_resource(strict(contents) if strict_schemas else contents)
    return retrieve


@functools.cache
def registry(strict_schemas: bool = True) -> Registry[Any]:
    """The reference itself and every shipped schema, by the URLs the reference uses."""
    return Registry(retrieve=_retrieve_from(strict_schemas)).with_resource(  # type: ignore[call-arg]
        REFERENCE_URI, DRAFT202012.create_resource(reference()))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@functools.cache
def response_validator(path: str, status: str = "200",
                       strict_schemas: bool = True) -> Draft202012Validator:
    """The reference's schema of a ``GET path`` answer (``path`` as the reference writes it,
    "/services/{id}"), its ``$ref``s resolved to the shipped files, formats checked."""
    pointer = _pointer("paths", path, "get", "responses", status, "content", "application/json",
                       "schema")
    return Draft202012Validator({"$ref": f"{REFERENCE_URI}#/{pointer}"},
                                registry=registry(strict_schemas),
                                format_checker=FormatChecker())


@functools.cache
def schema_validator(name: str) -> Draft202012Validator:
    """A shipped schema by its path under schema/ ("compiled/service.json"), strict."""
    return Draft202012Validator({"$ref": REMOTE + name}, registry=registry(),
                                format_checker=FormatChecker())


def errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [f"{list(error.absolute_path)}: {error.message}"[:300]
            for error in validator.iter_errors(document)]


def inlined(document: dict[str, Any]) -> dict[str, Any]:
    """The reference ``document`` with every remote ``$ref`` replaced by a local one to a copy
    of the shipped schema under components/schemas (for tools that take no registry)."""
    schemas = document["components"]["schemas"]

    def local(uri: str) -> str:
        name = "hsds_" + uri.removeprefix(REMOTE).removesuffix(".json").replace("/", "_")
        if name not in schemas:
            schemas[name] = {}
            schemas[name] = relink(copy.deepcopy(shipped_schema(uri.removeprefix(REMOTE))),
                                   uri)
        return f"#/components/schemas/{name}"

    def relink(node: Any, base: str) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                absolute = ref if ref.startswith("https://") else base.rsplit("/", 1)[0] + "/" + ref
                node["$ref"] = local(absolute)
            for key, value in node.items():
                if key != "$ref":
                    relink(value, base)
        elif isinstance(node, list):
            for value in node:
                relink(value, base)
        return node

    relink(document["paths"], REFERENCE_URI)
    return document
