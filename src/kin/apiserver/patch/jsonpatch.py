"""JSON patch (RFC 6902) over RFC 6901 pointers: ``kubectl patch --type=json``.

Operations run in order on a private copy, so a failing operation leaves nothing half
applied. Where RFC 6902 and evanphx/json-patch (what kube-apiserver runs) differ, kin
follows the server kubectl talks to: ``test`` against a missing member passes when the
expected value is null, and a missing ``value`` means null. Array indices follow the RFC
(no sign, no leading zeros; ``-`` appends and is valid only as an ``add`` target).

Errors are kube-apiserver's: a body that is not a list of operations is a 400 with Go's
decoding message; an operation that does not apply is a 422 whose message is the generic
"the server rejected our request ..." (the reason, such as ``testing value /a failed``,
stays in ``PatchError.detail``); more than 10,000 operations is a 413.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kin.apiserver.patch.merge import PatchError, go_kind, json_equal

__all__ = ["MAX_OPERATIONS", "json_patch", "parse_pointer"]

MAX_OPERATIONS = 10000
_INDEX = re.compile(r"0|[1-9][0-9]*")
_MISSING = object()


def json_patch(original: dict[str, Any], operations: object) -> dict[str, Any]:
    """Apply RFC 6902 ``operations`` to ``original`` (not modified) and return the result."""
    ops = _decode(operations)
    doc: Any = copy.deepcopy(original)
    for op in ops:
        doc = _apply(doc, op)
    if not isinstance(doc, dict):
        raise PatchError.rejected("the patched document is not an object")
    return doc


def _decode(operations: object) -> list[dict[str, Any]]:
    if not isinstance(operations, list):
        raise PatchError.bad_request(
            f"json: cannot unmarshal {go_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError.bad_request(
                f"json: cannot unmarshal {go_kind(op)} into Go value of type jsonpatch.Operation"
            )
    if len(operations) > MAX_OPERATIONS:
        message = (
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, "
            f"got {len(operations)}"
        )
        raise PatchError(413, "RequestEntityTooLarge", message)
    return operations


def parse_pointer(pointer: object) -> list[str]:
    """RFC 6901: ``""`` is the whole document, ``/a~1b/0`` is ``["a/b", "0"]``."""
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchError.rejected(f"invalid JSON pointer: {pointer!r}")
    if not pointer:
        return []
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _apply(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    path = op.get("path")
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op.get("value")))
    if kind == "remove":
        return _remove(doc, path)
    if kind == "replace":
        return _replace(doc, path, copy.deepcopy(op.get("value")))
    if kind in ("move", "copy"):
        return _move_or_copy(doc, kind, op.get("from"), path)
    if kind == "test":
        if not json_equal(_get(doc, path, "test", missing=None), op.get("value")):
            raise PatchError.rejected(f"testing value {path} failed")
        return doc
    raise PatchError.rejected(f"Unexpected kind: {kind}")


def _replace(doc: Any, path: object, value: Any) -> Any:
    _get(doc, path, "replace")
    if not parse_pointer(path):
        return value
    return _add(_remove(doc, path), path, value, replacing=True)


def _move_or_copy(doc: Any, kind: str, source: object, path: object) -> Any:
    value = _get(doc, source, kind)
    if kind == "copy":
        return _add(doc, path, copy.deepcopy(value))
    from_tokens, to_tokens = parse_pointer(source), parse_pointer(path)
    if to_tokens[: len(from_tokens)] == from_tokens and to_tokens != from_tokens:
        raise PatchError.rejected(f"move operation cannot move {source} into its own child")
    return _add(_remove(doc, source), path, value)


def _get(doc: Any, pointer: object, kind: str, missing: object = _MISSING) -> Any:
    tokens = parse_pointer(pointer)
    try:
        node = doc
        for token in tokens:
            node = node[_key(node, token)]
        return node
    except (KeyError, IndexError, TypeError, ValueError):
        if missing is not _MISSING:
            return missing
        raise _missing(kind, pointer) from None


def _parent(doc: Any, tokens: list[str], kind: str, pointer: object) -> Any:
    try:
        node = doc
        for token in tokens[:-1]:
            node = node[_key(node, token)]
    except (KeyError, IndexError, TypeError, ValueError):
        node = None
    if not isinstance(node, dict | list):
        raise _missing(kind, pointer)
    return node


def _missing(kind: str, pointer: object) -> PatchError:
    return PatchError.rejected(f"{kind} operation does not apply: doc is missing path: {pointer}")


def _key(node: Any, token: str) -> Any:
    """The dict key or list index ``token`` names in ``node`` (ValueError if none)."""
    if isinstance(node, dict):
        return token
    if isinstance(node, list) and _INDEX.fullmatch(token):
        return int(token)
    raise ValueError(token)


def _add(doc: Any, pointer: object, value: Any, replacing: bool = False) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    kind = "replace" if replacing else "add"
    parent, last = _parent(doc, tokens, kind, pointer), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif last == "-" and not replacing:
        parent.append(value)
    elif _INDEX.fullmatch(last) and int(last) <= len(parent):
        parent.insert(int(last), value)
    else:
        raise PatchError.rejected(f"Unable to access invalid index: {last}")
    return doc


def _remove(doc: Any, pointer: object) -> Any:
    tokens = parse_pointer(pointer)
    if not tokens:
        raise PatchError.rejected("remove operation does not apply: cannot remove the root")
    parent, last = _parent(doc, tokens, "remove", pointer), tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list) and _INDEX.fullmatch(last) and int(last) < len(parent):
        del parent[int(last)]
    else:
        raise PatchError.rejected(f"Unable to remove nonexistent key: {last}: missing value")
    return doc
