"""Encode a Swagger 2.0 document as gnostic's ``openapi_v2.Document`` protobuf message.

kubectl asks ``/openapi/v2`` with ``Accept: application/com.github.proto-openapi.spec.v2@
v1.0+protobuf`` and nothing else, then parses it strictly (``proto.NewOpenAPIData``): so
kin must speak gnostic's message, not JSON. The field numbers are those of
``openapiv2/OpenAPIv2.proto`` in google/gnostic. Rather than generated classes, each
message is a table from the JSON key to (field number, field encoder), walked in field
number order; a key with no field raises ``ValueError`` instead of vanishing silently.

Vendor extensions (``x-kubernetes-group-version-kind`` ...) are ``NamedAny{name, value:
Any{yaml}}``: readers ``yaml.Unmarshal`` the text. kin writes the value as JSON, which is
YAML too and leaves no room for YAML 1.1's implicit types (``on``, ``y``) to reinterpret a
string.

Only what the document built in ``openapi_v2.py`` uses is covered: schemas, paths,
operations, body, query and path parameters, and responses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["encode_document"]

FieldEncoder = Callable[[int, Any], bytes]
Table = dict[str, tuple[int, FieldEncoder]]

# -- wire format ---------------------------------------------------------------------------


def _varint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def _len(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): strings and embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _str(number: int, text: str) -> bytes:
    """A proto3 string: the empty string is the default and is not written."""
    return _len(number, text.encode()) if text else b""


def _strs(number: int, texts: list[str]) -> bytes:
    return b"".join(_len(number, text.encode()) for text in texts)


def _flag(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _msg(encode: Callable[[Any], bytes]) -> FieldEncoder:
    """A field holding one embedded message."""
    return lambda number, value: _len(number, encode(value))


def _each(encode: Callable[[Any], bytes]) -> FieldEncoder:
    """A repeated message field."""
    return lambda number, values: b"".join(_len(number, encode(v)) for v in values)


def _named(encode: Callable[[Any], bytes]) -> Callable[[Mapping[str, Any]], bytes]:
    """A JSON map as gnostic's ``repeated Named<X> additional_properties = 1``."""
    return lambda mapping: b"".join(
        _len(1, _str(1, name) + _len(2, encode(value))) for name, value in mapping.items()
    )


def _message(obj: Mapping[str, Any], fields: Table, vendor: int, what: str) -> bytes:
    """``obj`` through ``fields``; ``x-`` keys become NamedAny entries of field ``vendor``."""
    unknown = [key for key in obj if key not in fields and not key.startswith("x-")]
    if unknown:
        raise ValueError(f"gnostic {what} has no field for {unknown}")
    out = [encode(number, obj[key]) for key, (number, encode) in fields.items() if key in obj]
    out += [_len(vendor, _named_any(k, v)) for k, v in obj.items() if k.startswith("x-")]
    return b"".join(out)


def _named_any(name: str, value: object) -> bytes:
    """``NamedAny{name, value: Any{yaml}}``; JSON text is the YAML."""
    return _str(1, name) + _len(2, _str(2, json.dumps(value, separators=(",", ":"))))


# -- messages ------------------------------------------------------------------------------


def encode_document(doc: Mapping[str, Any]) -> bytes:
    """The bytes of ``openapi_v2.Document`` for a Swagger 2.0 document in JSON form."""
    return _message(doc, _DOCUMENT, 16, "Document")


def _info(info: Mapping[str, Any]) -> bytes:
    return _message(info, _INFO, 7, "Info")


def _paths(paths: Mapping[str, Any]) -> bytes:
    """``Paths{vendor_extension = 1, repeated NamedPathItem path = 2}``."""
    out = [_len(1, _named_any(k, v)) for k, v in paths.items() if k.startswith("x-")]
    out += [
        _len(2, _str(1, path) + _len(2, _message(item, _PATH_ITEM, 10, "PathItem")))
        for path, item in paths.items()
        if not path.startswith("x-")
    ]
    return b"".join(out)


def _operation(op: Mapping[str, Any]) -> bytes:
    return _message(op, _OPERATION, 13, "Operation")


def _parameters_item(param: Mapping[str, Any]) -> bytes:
    """``ParametersItem{Parameter parameter = 1 | JsonReference json_reference = 2}``."""
    if "$ref" in param:
        return _len(2, _str(1, param["$ref"]))
    if param.get("in") == "body":
        parameter = _len(1, _message(param, _BODY, 6, "BodyParameter"))
    else:
        parameter = _len(2, _non_body(param))
    return _len(1, parameter)


def _non_body(param: Mapping[str, Any]) -> bytes:
    """``NonBodyParameter``: the sub-schema's field number is where the parameter lives."""
    where = param.get("in")
    if where == "query":
        return _len(3, _message(param, _QUERY, 23, "QueryParameterSubSchema"))
    if where == "path":
        return _len(4, _message(param, _PATH, 22, "PathParameterSubSchema"))
    raise ValueError(f"gnostic encoding of {where!r} parameters is not supported")


def _responses(responses: Mapping[str, Any]) -> bytes:
    """``Responses{repeated NamedResponseValue response_code = 1}``; each a ``Response``."""
    return b"".join(
        _len(1, _str(1, code) + _len(2, _len(1, _message(r, _RESPONSE, 5, "Response"))))
        for code, r in responses.items()
    )


def _schema(schema: Mapping[str, Any]) -> bytes:
    return _message(schema, _SCHEMA, 31, "Schema")


def _additional(value: bool | Mapping[str, Any]) -> bytes:
    """``AdditionalPropertiesItem{Schema schema = 1 | bool boolean = 2}`` (a oneof: even
    ``false`` is written)."""
    if isinstance(value, bool):
        return _varint(2 << 3) + _varint(int(value))
    return _len(1, _schema(value))


def _type_item(value: str | list[str]) -> bytes:
    return _strs(1, [value] if isinstance(value, str) else value)


def _items(value: Mapping[str, Any] | list[Mapping[str, Any]]) -> bytes:
    return _each(_schema)(1, [value] if isinstance(value, Mapping) else value)


_DOCUMENT: Table = {
    "swagger": (1, _str),
    "info": (2, _msg(_info)),
    "host": (3, _str),
    "basePath": (4, _str),
    "schemes": (5, _strs),
    "consumes": (6, _strs),
    "produces": (7, _strs),
    "paths": (8, _msg(_paths)),
    "definitions": (9, _msg(_named(_schema))),
}
_INFO: Table = {"title": (1, _str), "version": (2, _str), "description": (3, _str)}
_PATH_ITEM: Table = {
    "$ref": (1, _str),
    "get": (2, _msg(_operation)),
    "put": (3, _msg(_operation)),
    "post": (4, _msg(_operation)),
    "delete": (5, _msg(_operation)),
    "options": (6, _msg(_operation)),
    "head": (7, _msg(_operation)),
    "patch": (8, _msg(_operation)),
    "parameters": (9, _each(_parameters_item)),
}
_OPERATION: Table = {
    "tags": (1, _strs),
    "summary": (2, _str),
    "description": (3, _str),
    "operationId": (5, _str),
    "produces": (6, _strs),
    "consumes": (7, _strs),
    "parameters": (8, _each(_parameters_item)),
    "responses": (9, _msg(_responses)),
    "schemes": (10, _strs),
    "deprecated": (11, _flag),
}
_BODY: Table = {
    "description": (1, _str),
    "name": (2, _str),
    "in": (3, _str),
    "required": (4, _flag),
    "schema": (5, _msg(_schema)),
}
_QUERY: Table = {
    "required": (1, _flag),
    "in": (2, _str),
    "description": (3, _str),
    "name": (4, _str),
    "allowEmptyValue": (5, _flag),
    "type": (6, _str),
    "format": (7, _str),
    "uniqueItems": (20, _flag),
}
_PATH: Table = {
    "required": (1, _flag),
    "in": (2, _str),
    "description": (3, _str),
    "name": (4, _str),
    "type": (5, _str),
    "format": (6, _str),
    "uniqueItems": (19, _flag),
}
_RESPONSE: Table = {"description": (1, _str), "schema": (2, _msg(lambda s: _len(1, _schema(s))))}
_SCHEMA: Table = {
    "$ref": (1, _str),
    "format": (2, _str),
    "title": (3, _str),
    "description": (4, _str),
    "uniqueItems": (16, _flag),
    "required": (19, _strs),
    "additionalProperties": (21, _msg(_additional)),
    "type": (22, _msg(_type_item)),
    "items": (23, _msg(_items)),
    "allOf": (24, _each(_schema)),
    "properties": (25, _msg(_named(_schema))),
    "readOnly": (27, _flag),
}
