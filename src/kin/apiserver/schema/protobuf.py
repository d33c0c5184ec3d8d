"""Decode the protobuf request bodies that kubectl 1.32's generator commands send.

From 1.32, ``kubectl create deployment|namespace|configmap|secret|service|
serviceaccount|job|cronjob`` sends ``application/vnd.kubernetes.protobuf`` with no JSON
fallback, so the server must read it. The body is the magic ``k8s\\0`` and a
``runtime.Unknown``: field 1 TypeMeta (1 apiVersion, 2 kind), field 2 the object's own
encoding, 3 contentEncoding, 4 contentType.

Rather than generated classes, the decoder walks the same TypeDefs that describe JSON,
using each Field's protobuf number, so every built-in type decodes for free. The
result is what Go would produce by unmarshalling and then writing JSON: zero scalars of
plain ``omitempty`` fields are dropped (Go's generated code sends them anyway), Go
pointers keep an explicit zero (``replicas: 0``), a zero Time disappears, Quantity and
IntOrString become their JSON forms, Time is RFC 3339 and ``bytes`` are base64.
Unknown field numbers are skipped, as protobuf readers must. Anything malformed raises
``ProtobufError``, a ValueError the server answers with 400.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache

from kin.apiserver.schema import catalog
from kin.apiserver.schema.model import Field, T, TypeDef

__all__ = ["MAGIC", "ProtobufError", "decode", "decode_message"]

MAGIC = b"k8s\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Wire = tuple[int, int | bytes]  # (wire type, varint or raw bytes)


class ProtobufError(ValueError):
    """A protobuf body that cannot be decoded (the server answers 400 BadRequest)."""


def decode(body: bytes) -> dict[str, object]:
    """The JSON-shaped object in a ``k8s\\0`` + ``runtime.Unknown`` body."""
    if not body.startswith(MAGIC):
        raise ProtobufError("protobuf body does not start with the k8s\\x00 magic")
    envelope = _message_fields(body[len(MAGIC) :])
    type_meta = _message_fields(_bytes_of(envelope, 1))
    api_version = _bytes_of(type_meta, 1).decode("utf-8", "replace")
    kind = _bytes_of(type_meta, 2).decode("utf-8", "replace")
    if _bytes_of(envelope, 3):
        raise ProtobufError("compressed protobuf bodies are not supported")
    group, _, version = api_version.rpartition("/")
    typedef = catalog.for_gvk(group, version, kind)
    if typedef is None:
        raise ProtobufError(f"no protobuf decoding for kind {kind!r} in {api_version!r}")
    obj = decode_message(_bytes_of(envelope, 2), typedef)
    return {"apiVersion": api_version, "kind": kind, **obj}


def decode_message(data: bytes, typedef: TypeDef) -> dict[str, object]:
    """One message of type ``typedef`` as a JSON-shaped dict, in the type's field order."""
    out: dict[str, object] = {}
    embeds = dict(typedef.embeds)
    numbers = _numbers(typedef)
    for number, wire in _scan(data):
        if number in embeds:
            out.update(decode_message(_need_bytes(wire, typedef.name), embeds[number]))
        elif number in numbers:
            _store(out, numbers[number], wire, typedef.name)
    order = list(typedef.fields)
    return {name: out[name] for name in sorted(out, key=order.index)}


@cache
def _numbers(typedef: TypeDef) -> dict[int, Field]:
    """The type's own fields by number; fields of embedded types travel inside their embed."""
    inherited = {name for _, inner in typedef.embeds for name in inner.fields}
    return {f.proto: f for f in typedef.fields.values() if f.proto and f.name not in inherited}


def _store(out: dict[str, object], spec: Field, wire: Wire, where: str) -> None:
    t = spec.t
    if t.kind == "array":
        assert t.item is not None
        items = out.setdefault(spec.name, [])
        assert isinstance(items, list)
        items.extend(_repeated(wire, t.item, f"{where}.{spec.name}"))
    elif t.kind == "map":
        entries = out.setdefault(spec.name, {})
        assert isinstance(entries, dict) and t.item is not None
        key, value = _map_entry(_need_bytes(wire, where), t.item, f"{where}.{spec.name}")
        entries[key] = value
    else:
        value = _value(wire, t, f"{where}.{spec.name}")
        if value is not None and (spec.pointer or spec.required or not _is_zero(value)):
            out[spec.name] = value
        else:
            out.pop(spec.name, None)


def _is_zero(value: object) -> bool:
    return value in ("", 0) or value is False


def _repeated(wire: Wire, item: T, where: str) -> list[object]:
    if wire[0] == 2 and item.kind in ("integer", "boolean"):  # packed scalars
        return [_value((0, v), item, where) for v in _packed_varints(_need_bytes(wire, where))]
    return [_value(wire, item, where)]


def _map_entry(data: bytes, item: T, where: str) -> tuple[str, object]:
    key, value = "", None
    for number, wire in _scan(data):
        if number == 1:
            key = _string(wire, where)
        elif number == 2:
            value = _value(wire, item, where)
    if value is None:  # an entry without a value holds the zero value
        value = {"integer": 0, "boolean": False, "object": {}}.get(item.kind, "")
    return key, value


def _value(wire: Wire, t: T, where: str) -> object:
    """One wire value as JSON; None for a value JSON omits (a zero Time)."""
    kind = t.kind
    if kind in ("string", "integer", "boolean", "number", "bytes"):
        return _scalar(wire, t, where)
    data = _need_bytes(wire, where)
    if kind == "object":
        return decode_message(data, catalog.resolve(t))
    if kind == "quantity":
        return _string(_first(data, 1, (2, b"")), where)
    if kind == "intorstring":
        return _int_or_string(data, where)
    if kind in ("time", "microtime"):
        return _time(data, micro=kind == "microtime")
    if kind == "any":
        return _raw_json(_need_bytes(_first(data, 1, (2, b"null")), where), where)
    raise ProtobufError(f"{where}: cannot decode type {kind}")


def _scalar(wire: Wire, t: T, where: str) -> object:
    if t.kind == "string":
        return _string(wire, where)
    if t.kind == "bytes":
        return base64.b64encode(_need_bytes(wire, where)).decode("ascii")
    if t.kind == "number":
        if wire[0] != 1 or not isinstance(wire[1], bytes):
            raise ProtobufError(f"{where}: expected a 64-bit double, got wire type {wire[0]}")
        return struct.unpack("<d", wire[1])[0]
    number = _need_varint(wire, where)
    if t.kind == "boolean":
        return number != 0
    return _signed(number, 32 if t.format == "int32" else 64)


def _signed(number: int, bits: int) -> int:
    number &= (1 << 64) - 1
    if number >= 1 << 63:
        number -= 1 << 64
    if bits == 32:
        number = (number + (1 << 31)) % (1 << 32) - (1 << 31)
    return number


def _int_or_string(data: bytes, where: str) -> object:
    fields = _message_fields(data)
    if _varint_of(fields, 1) == 1:
        return _bytes_of(fields, 3).decode("utf-8", "replace")
    return _signed(_varint_of(fields, 2), 32)


def _time(data: bytes, *, micro: bool) -> str | None:
    if not data:
        return None  # Go's zero Time: JSON null, which we omit
    fields = _message_fields(data)
    seconds, nanos = _signed(_varint_of(fields, 1), 64), _varint_of(fields, 2)
    try:
        stamp = _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except OverflowError as exc:
        raise ProtobufError(f"timestamp out of range: {seconds}s") from exc
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{stamp.microsecond:06d}Z" if micro else "Z")


def _raw_json(data: bytes, where: str) -> object:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProtobufError(f"{where}: raw field is not JSON: {exc}") from exc


def _string(wire: Wire, where: str) -> str:
    try:
        return _need_bytes(wire, where).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"{where}: string is not UTF-8") from exc


def _need_bytes(wire: Wire, where: str) -> bytes:
    if wire[0] != 2 or not isinstance(wire[1], bytes):
        raise ProtobufError(f"{where}: expected a length-delimited field, got wire type {wire[0]}")
    return wire[1]


def _need_varint(wire: Wire, where: str) -> int:
    if wire[0] != 0 or not isinstance(wire[1], int):
        raise ProtobufError(f"{where}: expected a varint, got wire type {wire[0]}")
    return wire[1]


def _message_fields(data: bytes) -> dict[int, Wire]:
    """The last occurrence of each field of a small fixed message (envelope, Time...)."""
    return dict(_scan(data))


def _first(data: bytes, number: int, default: Wire) -> Wire:
    return _message_fields(data).get(number, default)


def _bytes_of(fields: dict[int, Wire], number: int) -> bytes:
    wire = fields.get(number, (2, b""))
    return _need_bytes(wire, f"field {number}")


def _varint_of(fields: dict[int, Wire], number: int) -> int:
    return _need_varint(fields.get(number, (0, 0)), f"field {number}")


def _scan(data: bytes) -> Iterator[tuple[int, Wire]]:
    """(field number, (wire type, value)) for each field of a message, in wire order."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("malformed protobuf: field number 0")
        value, pos = _wire_value(data, pos, wire_type)
        yield number, (wire_type, value)


def _wire_value(data: bytes, pos: int, wire_type: int) -> tuple[int | bytes, int]:
    if wire_type == 0:
        return _varint(data, pos)
    sizes = {1: 8, 5: 4}
    if wire_type == 2:
        size, pos = _varint(data, pos)
    elif wire_type in sizes:
        size = sizes[wire_type]
    else:
        raise ProtobufError(f"malformed protobuf: unsupported wire type {wire_type}")
    if pos + size > len(data):
        raise ProtobufError("malformed protobuf: field runs past the end of its message")
    return data[pos : pos + size], pos + size


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("malformed protobuf: truncated or overlong varint")
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return result, pos


def _packed_varints(data: bytes) -> Iterator[int]:
    pos = 0
    while pos < len(data):
        value, pos = _varint(data, pos)
        yield value
