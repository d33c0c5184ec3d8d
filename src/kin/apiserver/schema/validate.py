"""Structural validation of request bodies against the built-in types, in kube-apiserver's words.

kube-apiserver decodes JSON into Go structs, and two kinds of problems come out of that:

* wrong JSON types are fatal whatever ``fieldValidation`` says (400 BadRequest,
  ``Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal
  string into Go struct field DeploymentSpec.spec.replicas of type int32``);
* unknown and duplicate fields are dropped silently (``Ignore``), returned as warnings
  (``Warn``) or rejected (``Strict``: ``... strict decoding error: unknown field
  "spec.containers[0].imagee"``). kubectl 1.32 asks for ``Strict`` on apply and create.

``check`` walks an object once and reports both, with paths in kube's notation (indices
for lists, Go's index-free dotted path in type errors). Free-form values (``fieldsV1``)
are not looked into, and ``null`` is accepted anywhere, as Go does. Semantic checks
(required fields, name syntax: 422 Invalid) are the registry's job, not this module's.

A member that fitted before (a controller's pods share one spec) is known by its compact
JSON and not walked again (``_remembered_fits``); a value holding duplicate keys has no
such JSON (orjson refuses the dict subclass that marks them) and is always walked.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field

import orjson

from kin.apiserver.remembered import LARGEST, Remembered
from kin.apiserver.schema import catalog
from kin.apiserver.schema.model import T, TypeDef

__all__ = [
    "Problems",
    "check",
    "decode_error",
    "loads",
    "strict_error",
    "type_errors",
    "unknown_fields",
]

# resource.ParseQuantity's grammar: a signed decimal, then one binary or decimal SI suffix
# or a decimal exponent; its error message quotes a looser expression, as it does here.
_QUANTITY = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


@dataclass
class Problems:
    """What decoding an object found: ``unknown`` (unknown and duplicate fields) and ``types``."""

    unknown: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)


class _Object(dict[str, object]):
    """A JSON object from ``loads`` that remembers the keys it saw twice."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A plain dict (cheap to copy) unless a key came twice."""
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    marked = _Object(obj)
    marked.duplicates = _repeated([key for key, _ in pairs])
    return marked


def _repeated(keys: list[str]) -> list[str]:
    """Each key as often as it came again after its first time."""
    seen: set[str] = set()
    again = []
    for key in keys:
        if key in seen:
            again.append(key)
        seen.add(key)
    return again


def loads(body: str | bytes) -> object:
    """``json.loads`` that keeps duplicate keys for ``check`` (the last value wins, as in Go)
    and refuses NaN and Infinity, which are not JSON (Go's decoder refuses them too).

    Most bodies take orjson and a proof that no key came twice: without a backslash every
    quote in the text delimits a string, so the member count is the number of quotes
    followed by a colon, and orjson's compact output of the result (strings written as they
    came) counts the same unless a duplicate fell out. Anything else (an escape, a
    duplicate, a number of 19 digits or more, an error to word) takes the standard
    library's path."""
    fast = _fast_loads(body)
    if fast is not _SLOW:
        return fast
    return json.loads(body, object_pairs_hook=_pairs, parse_constant=_not_json)


_SLOW = object()
_KEY_END = re.compile(rb'"[ \t\n\r]*:')
# One pass that makes the two questions below plain substring searches (a regex over
# the body costs more than orjson's whole decode): digits become 0, whitespace a space.
_SHAPES = bytes.maketrans(b"123456789\t\n\r", b"000000000   ")
_LONG_NUMBER = b"0" * 19  # orjson turns integers beyond 64 bits into floats


def _fast_loads(body: str | bytes) -> object:
    try:
        text = body.encode() if isinstance(body, str) else body
    except UnicodeEncodeError:  # a lone surrogate: the slow path words it
        return _SLOW
    shapes = text.translate(_SHAPES)
    if b"\\" in text or _LONG_NUMBER in shapes:
        return _SLOW
    members = text.count(b'":')
    if b'" ' in shapes:  # pretty-printed, perhaps "key" : value
        members = len(_KEY_END.findall(text))
    try:
        value = orjson.loads(text)
        kept = orjson.dumps(value).count(b'":')
    except (orjson.JSONDecodeError, TypeError):  # worded, or refused, by the slow path
        return _SLOW
    return value if kept == members else _SLOW


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not a JSON value")


def check(obj: object, typedef: TypeDef) -> Problems:
    """All unknown fields and type errors of ``obj`` read as ``typedef``, in document order."""
    if type(obj) is dict and _object_fits(obj, typedef):
        return Problems()  # the common case, found without building a path per value
    problems = Problems()
    if not isinstance(obj, dict):
        problems.types.append(
            f"json: cannot unmarshal {_json_kind(obj)} into Go value of type {_go_object(typedef)}"
        )
        return problems
    _walk_struct(problems, obj, typedef, "", "")
    return problems


def unknown_fields(obj: object, typedef: TypeDef) -> list[str]:
    """``unknown field "spec.containers[0].imagee"`` (and ``duplicate field``) messages."""
    return check(obj, typedef).unknown


def type_errors(obj: object, typedef: TypeDef) -> list[str]:
    """``json: cannot unmarshal ...`` messages; kube-apiserver reports the first."""
    return check(obj, typedef).types


def strict_error(kind: str, version: str, unknown: list[str]) -> str:
    """The message of the 400 that ``fieldValidation=Strict`` gives for unknown fields."""
    return decode_error(kind, version, "strict decoding error: " + ", ".join(unknown))


def decode_error(kind: str, version: str, detail: str) -> str:
    """kube-apiserver's wording for a body it cannot decode as ``kind``."""
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {detail}'


def _object_fits(obj: dict[str, object], typedef: TypeDef) -> bool:
    """``_struct_fits`` of a whole object, its members but metadata remembered by JSON."""
    fields = typedef.fields
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is None:
            return False
        if value is None:
            continue
        if key != "metadata" and type(value) is dict and value:
            if not _remembered_fits(value, spec.t):
                return False
        elif not _fits(value, spec.t):
            return False
    return True


def _remembered_fits(value: dict[str, object], t: T) -> bool:
    try:
        text = orjson.dumps(value, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:  # an _Object (duplicate keys) somewhere inside: never remembered
        return False
    if len(text) > LARGEST:
        return _fits(value, t)
    key = (t, text)
    if _FITTED.get(key):
        return True
    if not _fits(value, t):
        return False
    _FITTED.put(key, True)
    return True


_FITTED: Remembered[bool] = Remembered(128)  # at most 2 MiB of keys


def _struct_fits(obj: dict[str, object], typedef: TypeDef) -> bool:
    """Whether ``check`` would find nothing: a walk that stops at the first problem and
    names nothing (a dict with duplicate keys is an ``_Object``, so it does not fit)."""
    fields = typedef.fields
    for key, value in obj.items():
        spec = fields.get(key)
        if spec is None or (value is not None and not _fits(value, spec.t)):
            return False
    return True


def _fits(value: object, t: T) -> bool:
    kind = t.kind
    if kind == "string":
        return type(value) is str
    if kind == "object":
        return type(value) is dict and _struct_fits(value, catalog.resolve(t))
    if kind == "array":
        item = t.item
        assert item is not None
        return type(value) is list and all(v is None or _fits(v, item) for v in value)
    if kind == "map":
        item = t.item
        assert item is not None
        return type(value) is dict and all(v is None or _fits(v, item) for v in value.values())
    return kind == "any" or _scalar_error(value, t) == ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk_struct(
    problems: Problems, obj: dict[str, object], typedef: TypeDef, path: str, gopath: str
) -> None:
    struct = typedef.name.rsplit(".", 1)[1]
    for key in getattr(obj, "duplicates", ()):
        problems.unknown.append(f'duplicate field "{_join(path, key)}"')
    for key, value in obj.items():
        spec = typedef.fields.get(key)
        if spec is None:
            problems.unknown.append(f'unknown field "{_join(path, key)}"')
        else:
            where = (struct, _join(gopath, key))
            _walk_value(problems, value, spec.t, _join(path, key), where)


def _walk_value(problems: Problems, value: object, t: T, path: str, where: tuple[str, str]) -> None:
    if value is None or t.kind == "any":
        return
    if t.kind in ("object", "array", "map"):
        _walk_container(problems, value, t, path, where)
        return
    error = _scalar_error(value, t)
    if error == "type":
        error = _mismatch(_json_kind(value), t, where)
    elif error.startswith("number "):
        error = _mismatch(error, t, where)
    if error:
        problems.types.append(error)


def _walk_container(
    problems: Problems, value: object, t: T, path: str, where: tuple[str, str]
) -> None:
    expected = {"object": dict, "array": list, "map": dict}[t.kind]
    if not isinstance(value, expected):
        problems.types.append(_mismatch(_json_kind(value), t, where))
    elif t.kind == "object":
        assert isinstance(value, dict)
        _walk_struct(problems, value, catalog.resolve(t), path, where[1])
    elif isinstance(value, list):
        assert t.item is not None
        for index, item in enumerate(value):
            _walk_value(problems, item, t.item, f"{path}[{index}]", where)
    else:
        assert t.item is not None and isinstance(value, dict)
        for key, item in value.items():
            _walk_value(problems, item, t.item, f"{path}[{key}]", where)


def _scalar_error(value: object, t: T) -> str:
    """Empty if ``value`` fits ``t``; "type" for a plain mismatch; "number N" for an
    integer out of range or with a fraction; else the message a custom decoder gives."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if t.kind == "string":
        return "" if isinstance(value, str) else "type"
    if t.kind == "boolean":
        return "" if isinstance(value, bool) else "type"
    if t.kind == "number":
        return "" if number else "type"
    if t.kind == "integer":
        return _integer_error(value, t.format) if number else "type"
    return _special_error(value, t.kind, number)


def _integer_error(value: object, fmt: str) -> str:
    low, high = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
    if isinstance(value, int) and low <= value <= high:
        return ""
    return f"number {value}"


def _special_error(value: object, kind: str, number: bool) -> str:
    if kind == "quantity":
        ok = number or (isinstance(value, str) and _QUANTITY.fullmatch(value) is not None)
        return "" if ok else _QUANTITY_ERROR
    if kind == "intorstring":
        if isinstance(value, str) or (number and isinstance(value, int)):
            return ""
        found = f"number {value}" if number else _json_kind(value)
        return f"json: cannot unmarshal {found} into Go value of type int32"
    if kind in ("time", "microtime"):
        return _time_error(value)
    if kind == "bytes":
        return _bytes_error(value)
    return ""


def _time_error(value: object) -> str:
    if not isinstance(value, str):
        return f"json: cannot unmarshal {_json_kind(value)} into Go value of type string"
    if _RFC3339.fullmatch(value):
        return ""
    return (
        f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{value}" as "2006"'
    )


def _bytes_error(value: object) -> str:
    if not isinstance(value, str):
        return "type"
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        bad = next((i for i, c in enumerate(value) if not (c.isalnum() or c in "+/=")), len(value))
        return f"illegal base64 data at input byte {bad}"
    return ""


def _mismatch(found: str, t: T, where: tuple[str, str]) -> str:
    struct, gopath = where
    return (
        f"json: cannot unmarshal {found} into Go struct field "
        f"{struct}.{gopath} of type {_go_type(t)}"
    )


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_GO_SCALARS = {
    "string": "string",
    "number": "float64",
    "boolean": "bool",
    "quantity": "resource.Quantity",
    "intorstring": "intstr.IntOrString",
    "time": "v1.Time",
    "microtime": "v1.MicroTime",
    "bytes": "[]uint8",
    "any": "v1.FieldsV1",
}


def _go_type(t: T) -> str:
    if t.kind == "integer":
        return t.format or "int64"
    if t.kind == "array" and t.item is not None:
        return "[]" + _go_type(t.item)
    if t.kind == "map" and t.item is not None:
        return "map[string]" + _go_type(t.item)
    if t.kind == "object":
        return "v1." + t.ref.rsplit(".", 1)[1]
    return _GO_SCALARS.get(t.kind, t.kind)


def _go_object(typedef: TypeDef) -> str:
    return "v1." + typedef.name.rsplit(".", 1)[1]
