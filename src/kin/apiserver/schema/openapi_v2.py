"""``/openapi/v2``: the Swagger 2.0 document kube-apiserver serves, built from the TypeDefs.

kubectl 1.32 still needs v2 in one place: a manifest whose kind is ``List`` (what
``kubectl get -o yaml`` writes for several objects). Its v3 field-validation check
declares ``v1 List`` unsupported, so under the default ``--validate=strict`` kubectl
validates the items itself, against the ``definitions`` of ``/openapi/v2`` (fetched
as gnostic protobuf only; see ``gnostic.py``). Without v2, ``apply -f list.yaml`` fails
with ``error validating data``. (For apply's strategic-merge-patch metadata, kubectl
1.32 reads v3; it did not fetch v2 for that when observed.)

Nothing here is v2-specific knowledge of the types: the ``definitions`` come from
``openapi.component_schemas`` in the Swagger 2.0 ``Dialect`` (``#/definitions/``
references; Quantity and IntOrString as kube's v2 strings), and the ``paths`` are the v3
path items of ``openapi_paths`` rewritten to Swagger 2.0's shape: query and path
parameters carry their type inline, a request body becomes a ``body`` parameter plus
``consumes``, and each response names one schema plus ``produces``. So the two documents
always describe the same operations (with the same ``fieldValidation`` parameter on
every PATCH, which kubectl's v2 verifier also looks for).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from kin.apiserver.discovery import KUBE_VERSION
from kin.apiserver.schema import catalog, gnostic
from kin.apiserver.schema.openapi import (
    V3,
    Dialect,
    Resource,
    component_schemas,
    referenced,
    served_resources,
)
from kin.apiserver.schema.openapi_paths import base_path, path_items

__all__ = [
    "PROTOBUF_CONTENT_TYPE",
    "V2",
    "openapi_v2_document",
    "openapi_v2_protobuf",
    "swagger_document",
]

PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""What kube answers to kubectl's ``...spec.v2@v1.0+protobuf`` Accept: Go's media-type
parser rejects the ``@`` form in a Content-Type (``mime: unexpected content after media
subtype``), so the reply must use this one."""
Json = dict[str, Any]
_DEFINITIONS = "#/definitions/"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
V2 = Dialect(
    _DEFINITIONS,
    {
        **V3.special,
        _QUANTITY: {"description": V3.special[_QUANTITY]["description"], "type": "string"},
        _INT_OR_STRING: {
            "description": V3.special[_INT_OR_STRING]["description"],
            "format": "int-or-string",
            "type": "string",
        },
    },
)
"""Swagger 2.0 has no ``oneOf``: kube publishes Quantity and IntOrString as strings."""


def openapi_v2_document() -> Json:
    """The ``/openapi/v2`` document for every resource kin serves (a fresh dict each call)."""
    return swagger_document(served_resources())


@cache
def openapi_v2_protobuf() -> bytes:
    """``openapi_v2_document()`` as gnostic's ``openapi_v2.Document``, encoded once."""
    return gnostic.encode_document(openapi_v2_document())


def swagger_document(resources: Iterable[Resource]) -> Json:
    """The Swagger 2.0 document of ``resources``; ``definitions`` hold every known type."""
    v3_paths: dict[str, dict[str, object]] = {}
    for res in sorted(resources, key=lambda r: (r.group, r.version, r.plural)):
        typedef = catalog.for_gvk(res.group, res.version, res.kind)
        if typedef is None:
            raise ValueError(f"no type for {res.kind} in {base_path(res.group, res.version)}")
        v3_paths.update(path_items(res, typedef.name))
    names = referenced(v3_paths, [t.name for t in catalog.all_types()])
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": {path: _path_item(v3_paths[path]) for path in sorted(v3_paths)},
        "definitions": component_schemas(names, V2),
    }


def _path_item(item: dict[str, object]) -> Json:
    out: Json = {}
    for key, value in item.items():
        if key == "parameters":
            assert isinstance(value, list)
            out[key] = [_parameter(p) for p in value]
        else:
            assert isinstance(value, dict)
            out[key] = _operation(value)
    return out


def _operation(op: Json) -> Json:
    """A v3 operation in Swagger 2.0 form: body parameter first, as kube orders them."""
    out = {k: v for k, v in op.items() if k not in ("parameters", "requestBody", "responses")}
    params = [_parameter(p) for p in op.get("parameters", ())]
    body = op.get("requestBody")
    if body:
        out["consumes"] = list(body["content"])
        params.insert(0, _body_parameter(body))
    if params:
        out["parameters"] = params
    responses: Json = op["responses"]
    out["produces"] = list(next(iter(responses.values())).get("content", {}))
    out["responses"] = {code: _response(r) for code, r in responses.items()}
    return out


def _parameter(param: Json) -> Json:
    """Swagger 2.0 puts a non-body parameter's type beside its name, not under ``schema``."""
    inline = {k: v for k, v in param.items() if k != "schema"}
    return {**inline, **param.get("schema", {})}


def _body_parameter(body: Json) -> Json:
    param: Json = {"name": "body", "in": "body"}
    if body.get("required"):
        param["required"] = True
    param["schema"] = _schema_of(body["content"])
    return param


def _response(response: Json) -> Json:
    out: Json = {"description": response["description"]}
    if response.get("content"):
        out["schema"] = _schema_of(response["content"])
    return out


def _schema_of(content: Json) -> Json:
    """The schema of the first media type (all of an operation's media share one schema)."""
    schema: Json = next(iter(content.values()))["schema"]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return {"$ref": _DEFINITIONS + ref.removeprefix(V3.refs)}
    return dict(schema)
